// Raw TCP helpers for what the `ws` client will not do: malformed requests,
// reading exact HTTP responses, silent peers.
'use strict';
const net = require('node:net');

// Sends raw bytes, resolves with everything the server sent until it closed
// (or until ms passed).
function exchange(port, bytes, ms = 5000, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(port, host, () => { if (bytes !== null) s.write(bytes); });
    const t = setTimeout(() => { s.destroy(); resolve({ data: Buffer.concat(chunks), closed: false }); }, ms);
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => { clearTimeout(t); if (chunks.length) resolve({ data: Buffer.concat(chunks), closed: true }); else reject(e); });
    s.on('close', () => { clearTimeout(t); resolve({ data: Buffer.concat(chunks), closed: true }); });
  });
}

function status(data) {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(data.toString('latin1'));
  return m ? Number(m[1]) : null;
}

function upgradeRequest(path, extra = {}, host = '127.0.0.1') {
  const h = {
    Host: host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
  let req = `GET ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) if (v !== undefined) req += `${k}: ${v}\r\n`;
  return req + '\r\n';
}

module.exports = { exchange, status, upgradeRequest };
