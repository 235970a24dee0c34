// Reference server for tests/bench/run.sh: a minimal Node `ws` server with
// /echo, a /wschat relay (init, identify, direct message) and /messaging
// (store-and-forward as proto/messaging/README.md describes it, kept in memory: a Map
// per recipient, nothing written to disk), written the way a small Node relay
// usually is. Usage: node node-relay.js PORT [MESSAGING_MAX_QUEUE]
// SIGUSR2 runs a full GC (when started with --expose-gc), for memory figures.
// Plain `GET /store-stats` answers `<client_id> <count>` lines, like
// `switchboard-router --store-stats`.
'use strict';
const http = require('node:http');
const { WebSocketServer } = require('ws');

const server = http.createServer((req, res) => {
  if (req.url !== '/store-stats') { res.writeHead(404); return res.end(); }
  const lines = [...queues].filter(([, q]) => q.size).map(([rid, q]) => `${rid} ${q.size}\n`).sort();
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(lines.join(''));
});
const echo = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const chat = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const messaging = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const byName = new Map();

server.on('upgrade', (req, socket, head) => {
  const wss = req.url === '/echo' ? echo : req.url === '/wschat' ? chat :
    req.url.startsWith('/messaging?') || req.url === '/messaging' ? messaging : null;
  if (!wss) return socket.destroy();
  if (wss === messaging) {
    const id = new URLSearchParams(req.url.slice(11)).get('client_id');
    if (!validClientId(id)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nbad client_id\n');
      return;
    }
    req.clientId = id;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

echo.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));

const outcome = (ws, code, message) => ws.send(JSON.stringify({ type: 'outcome', success: code === 300, message, code }));

chat.on('connection', (ws) => {
  let name = null;
  ws.send(JSON.stringify({ type: 'init', message: 'Please identify to receive messages.' }));
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(data); } catch { return outcome(ws, 400, 'Malformed JSON!'); }
    if (m === null || typeof m !== 'object' || !('command' in m)) return outcome(ws, 400, "Missing 'command' field!");
    if (m.command === 'identify') {
      if (typeof m.name !== 'string' || !m.name) return outcome(ws, 400, "Invalid 'name' field!");
      if (byName.has(m.name) && byName.get(m.name) !== ws) return outcome(ws, 305, 'Client with that name already exists!');
      if (name) byName.delete(name);
      name = m.name;
      byName.set(name, ws);
      return outcome(ws, 300, 'Identified successfully!');
    }
    if (!name) return outcome(ws, 10, 'Please identify yourself!');
    if (m.command === 'message') {
      if (!('message' in m)) return outcome(ws, 400, "Missing 'message' field!");
      if (!('to' in m)) return outcome(ws, 400, "Missing 'to' field!");
      const to = byName.get(m.to);
      if (!to) return outcome(ws, 404, 'No client with that name is currently connected!');
      to.send(JSON.stringify({ type: 'message', from: name, message: m.message }));
    }
  });
  ws.on('close', () => { if (name && byName.get(name) === ws) byName.delete(name); });
});

// ---- /messaging: in memory. queues: client_id → Map(key → message JSON text),
// insertion-ordered, so the backlog comes out in arrival order.
const MAX_QUEUE = Number(process.argv[3] || 10000), MAX_SIZE = 65536, FRAME_MAX = 500;
const queues = new Map();
const online = new Map(); // client_id → ws (the newest connection)
const isId = (v) => typeof v === 'string' || typeof v === 'number';
const keyOf = (id) => (typeof id === 'string' ? 's' : 'n') + id;
function validClientId(id) {
  return typeof id === 'string' && id.length > 0 && Buffer.byteLength(id) <= 128 && id !== '0' &&
    id.trim() !== '' && !/[\x00-\x1f\x7f]/.test(id);
}

messaging.on('connection', (ws, req) => {
  const me = req.clientId;
  const old = online.get(me);
  if (old) old.close(4000, 'superseded by a newer connection');
  online.set(me, ws);
  const q = queues.get(me);
  if (q && q.size) {
    let batch = [];
    for (const text of q.values()) {
      batch.push(text);
      if (batch.length === FRAME_MAX) { ws.send('{"messages":[' + batch.join(',') + ']}'); batch = []; }
    }
    if (batch.length) ws.send('{"messages":[' + batch.join(',') + ']}');
  }
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'messaging accepts text frames only');
    let f;
    try { f = JSON.parse(data); } catch { return ws.close(1007, 'malformed JSON'); }
    if (f === null || typeof f !== 'object') return;
    if (Array.isArray(f.send)) {
      for (const m of f.send) {
        if (m === null || typeof m !== 'object' || !isId(m.id) || !isId(m.sid) || !isId(m.rid)) continue;
        const rid = String(m.rid);
        if (!validClientId(rid)) continue;
        const text = JSON.stringify(m);
        if (Buffer.byteLength(text) > MAX_SIZE) continue;
        let rq = queues.get(rid);
        if (!rq) queues.set(rid, rq = new Map());
        const key = keyOf(m.id);
        if (rq.has(key) || rq.size >= MAX_QUEUE) continue;
        rq.set(key, text);
        const to = online.get(rid);
        if (to) to.send('{"messages":[' + text + ']}');
      }
    }
    if (Array.isArray(f.read)) {
      const mq = queues.get(me);
      for (const r of f.read) if (mq && r !== null && typeof r === 'object' && isId(r.id)) mq.delete(keyOf(r.id));
    }
  });
  ws.on('close', () => { if (online.get(me) === ws) online.delete(me); });
});

if (global.gc) process.on('SIGUSR2', () => global.gc());
process.on('SIGTERM', () => process.exit(0));
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));
