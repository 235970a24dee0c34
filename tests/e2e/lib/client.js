// Helpers around the real `ws` client: a socket with a message queue.
'use strict';
const WebSocket = require('ws');

// Opens a WebSocket and queues every message so tests can await them in order.
function connect(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols, { perMessageDeflate: false, ...opts.ws });
    ws.queue = [];
    ws.waiters = [];
    ws.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => {
      const m = isBinary ? data : data.toString();
      const w = ws.waiters.shift();
      if (w) w(m); else ws.queue.push(m);
    });
    ws.next = (ms = 10000) => {
      if (ws.queue.length) return Promise.resolve(ws.queue.shift());
      return new Promise((res, rej) => {
        const waiter = (m) => { clearTimeout(t); res(m); };
        // a waiter that timed out must not swallow a later message
        const t = setTimeout(() => {
          ws.waiters.splice(ws.waiters.indexOf(waiter), 1);
          rej(new Error('no message within ' + ms + ' ms'));
        }, ms);
        ws.waiters.push(waiter);
      });
    };
    ws.nextJSON = async (ms) => JSON.parse(await ws.next(ms));
    ws.sendJSON = (o) => ws.send(JSON.stringify(o));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const e = new Error(`HTTP ${res.statusCode}`);
        e.status = res.statusCode;
        e.body = body;
        e.headers = res.headers;
        reject(e);
      });
    });
  });
}

// Asserts that no message arrives within ms.
async function quiet(ws, ms = 300) {
  await new Promise((r) => setTimeout(r, ms));
  if (ws.queue.length) throw new Error('unexpected message: ' + ws.queue[0]);
}

module.exports = { connect, quiet, WebSocket };
