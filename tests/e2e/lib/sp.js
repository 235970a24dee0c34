// A bare SP pair1 peer over ipc:// and a tiny MessagePack map encoder, to
// act as a rogue worker against the router.
'use strict';
const net = require('node:net');

function mpValue(v) {
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from([0xc4, v.length]), v]);
  if (typeof v === 'string') {
    const b = Buffer.from(v);
    return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
  }
  if (Number.isInteger(v) && v >= 0 && v < 128) return Buffer.from([v]);
  if (Number.isInteger(v) && v >= 0) { const b = Buffer.alloc(9); b[0] = 0xcf; b.writeBigUInt64BE(BigInt(v), 1); return b; }
  throw new Error('unsupported value ' + v);
}

function mp(obj) {
  const parts = [Buffer.from([0x80 | Object.keys(obj).length])];
  for (const [k, v] of Object.entries(obj)) parts.push(mpValue(k), mpValue(v));
  return Buffer.concat(parts);
}

// opts.read = false: never read what the router sends (a worker that does not read).
function spClient(sockPath, opts = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(sockPath, () => {
      s.write(Buffer.from([0, 0x53, 0x50, 0, 0, 0x11, 0, 0]));
      resolve({
        send(payload) {
          const h = Buffer.alloc(13);
          h[0] = 1;
          h.writeBigUInt64BE(BigInt(payload.length + 4), 1);
          h.writeUInt32BE(1, 9);
          s.write(Buffer.concat([h, payload]));
        },
        closed,
        socket: s,
      });
    });
    const closed = new Promise((r) => s.on('close', r));
    if (opts.read === false) s.pause();
    else s.resume(); // read (and drop) so the router's hang-up is seen
    s.on('error', () => {});
    s.once('error', reject);
  });
}

module.exports = { spClient, mp };
