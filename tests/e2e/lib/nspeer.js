// A client that runs inside a network namespace (ip netns exec NS node
// nspeer.js), driven by the test over stdin/stdout: one JSON command a line
// in, {id, ok, value | error} a line out. It holds real `ws` clients and
// raw TCP probes there, where the test's own process cannot reach.
'use strict';
const net = require('node:net');
const http = require('node:http');
const readline = require('node:readline');
const { connect } = require('./client');

const sockets = new Map();

// Connects from a chosen local address and reports what came back before the
// peer closed (or ms passed, or want bytes came): an SP listener sends its
// 8-byte handshake at once.
function dial({ host, port, local, ms = 3000, want = Infinity }) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress: local });
    let bytes = 0, connected = false;
    const done = (closed) => { clearTimeout(t); s.destroy(); resolve({ connected, bytes, closed }); };
    const t = setTimeout(() => done(false), ms);
    s.on('connect', () => { connected = true; });
    s.on('data', (d) => { bytes += d.length; if (bytes >= want) done(false); });
    s.on('close', () => done(true));
    s.on('error', () => {});
  });
}

function get({ url }) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

const ops = {
  async open({ name, url }) { sockets.set(name, await connect(url)); return true; },
  send({ name, msg }) { sockets.get(name).sendJSON(msg); return true; },
  async recv({ name, ms = 10000 }) {
    try { return await sockets.get(name).nextJSON(ms); } catch { return null; }
  },
  close({ name }) { sockets.get(name).close(); sockets.delete(name); return true; },
  dial,
  get,
};

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const { id, op, args } = JSON.parse(line);
  try {
    const value = await ops[op](args || {});
    process.stdout.write(JSON.stringify({ id, ok: true, value }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ id, ok: false, error: String(e && e.message || e) }) + '\n');
  }
}).on('close', () => process.exit(0));
