// A bare SP pair1 peer over ipc:// and a tiny MessagePack map encoder, to
// act as a rogue worker against the router, or as a fake router against a
// real worker.
'use strict';
const net = require('node:net');

const HANDSHAKE = Buffer.from([0, 0x53, 0x50, 0, 0, 0x11, 0, 0]);

// A MessagePack str whose bytes are given as they are (valid UTF-8 or not).
class RawStr { constructor(bytes) { this.bytes = Buffer.from(bytes); } }

function mpStr(b) {
  if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
  if (b.length < 256) return Buffer.concat([Buffer.from([0xd9, b.length]), b]);
  const h = Buffer.alloc(5); h[0] = 0xdb; h.writeUInt32BE(b.length, 1);
  return Buffer.concat([h, b]);
}

function mpValue(v) {
  if (Buffer.isBuffer(v)) {
    if (v.length < 256) return Buffer.concat([Buffer.from([0xc4, v.length]), v]);
    const h = Buffer.alloc(5); h[0] = 0xc6; h.writeUInt32BE(v.length, 1);
    return Buffer.concat([h, v]);
  }
  if (v instanceof RawStr) return mpStr(v.bytes);
  if (Array.isArray(v) && v.length < 16) return Buffer.concat([Buffer.from([0x90 | v.length]), ...v.map(mpValue)]);
  if (v === true || v === false) return Buffer.from([v ? 0xc3 : 0xc2]);
  if (typeof v === 'string') return mpStr(Buffer.from(v));
  if (Number.isInteger(v) && v >= 0 && v < 128) return Buffer.from([v]);
  if (Number.isInteger(v) && v >= 0 && v < 65536) { const b = Buffer.alloc(3); b[0] = 0xcd; b.writeUInt16BE(v, 1); return b; }
  if (Number.isInteger(v) && v >= 0) { const b = Buffer.alloc(9); b[0] = 0xcf; b.writeBigUInt64BE(BigInt(v), 1); return b; }
  throw new Error('unsupported value ' + v);
}

function mp(obj) {
  const parts = [Buffer.from([0x80 | Object.keys(obj).length])];
  for (const [k, v] of Object.entries(obj)) parts.push(mpValue(k), mpValue(v));
  return Buffer.concat(parts);
}

// One ipc:// pair1 frame: type 1, u64 length, hop count 1, payload.
function frame(payload) {
  const h = Buffer.alloc(13);
  h[0] = 1;
  h.writeBigUInt64BE(BigInt(payload.length + 4), 1);
  h.writeUInt32BE(1, 9);
  return Buffer.concat([h, payload]);
}

// Splits received bytes (after the peer's handshake) into frame payloads.
function reader(onPayload) {
  let buf = Buffer.alloc(0);
  let shook = false;
  return (d) => {
    buf = Buffer.concat([buf, d]);
    if (!shook) {
      if (buf.length < 8) return;
      buf = buf.subarray(8);
      shook = true;
    }
    while (buf.length >= 9) {
      const len = Number(buf.readBigUInt64BE(1));
      if (buf.length < 9 + len) return;
      onPayload(buf.subarray(13, 9 + len));
      buf = buf.subarray(9 + len);
    }
  };
}

// opts.read = false: never read what the router sends (a worker that does not read).
function spClient(sockPath, opts = {}) {
  return new Promise((resolve, reject) => {
    const received = [];
    const s = net.connect(sockPath, () => {
      s.write(HANDSHAKE);
      resolve({
        send(payload) { s.write(frame(payload)); },
        closed,
        received, // payloads from the router
        socket: s,
      });
    });
    const closed = new Promise((r) => s.on('close', r));
    if (opts.read === false) s.pause();
    else s.on('data', reader((p) => received.push(p))); // also sees the router's hang-up
    s.on('error', () => {});
    s.once('error', reject);
  });
}

// A fake router: listens on sockPath; onPeer gets { send, received, socket }
// for each worker that connects.
function spServer(sockPath, onPeer) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((s) => {
      const received = [];
      s.write(HANDSHAKE);
      s.on('data', reader((p) => received.push(p)));
      s.on('error', () => {});
      onPeer({ send(payload) { s.write(frame(payload)); }, received, socket: s });
    });
    srv.once('error', reject);
    srv.listen(sockPath, () => resolve(srv));
  });
}

module.exports = { spClient, spServer, mp, RawStr };
