// Reference server for tests/bench/run.sh: a minimal Node `ws` server with
// /echo and a /wschat relay (init, identify, direct message), written the way
// a small Node relay usually is. Usage: node node-relay.js PORT
// SIGUSR2 runs a full GC (when started with --expose-gc), for memory figures.
'use strict';
const http = require('node:http');
const { WebSocketServer } = require('ws');

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const echo = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const chat = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const byName = new Map();

server.on('upgrade', (req, socket, head) => {
  const wss = req.url === '/echo' ? echo : req.url === '/wschat' ? chat : null;
  if (!wss) return socket.destroy();
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

if (global.gc) process.on('SIGUSR2', () => global.gc());
process.on('SIGTERM', () => process.exit(0));
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));
