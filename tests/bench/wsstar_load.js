// Load client of tests/bench/proto-wsstar.sh: the same WebSocketStar
// client work against switchboard and against the reference rendezvous
// (libp2p-websocket-star-rendezvous), printing key=value figures.
//
//   node wsstar_load.js relay PORT SECS
//     two socket.io-client@2 peers join with the crypto challenge (Ed25519);
//     dial latency (ss-dial to the first relayed byte at the listener, over
//     fresh dials), echo round trip (32-byte chunk dialer -> listener -> back,
//     one at a time) and relay MB/s through one dial (64 KiB chunks, the
//     listener grants credit back so no more than 768 KiB is in flight: under
//     every relay bound, the same for both servers).
//   node wsstar_load.js peers PORT N READYFILE
//     N peers on raw WebSockets (a minimal client: Engine.IO by hand) join
//     with the challenge, ping every 20 s from the start (a server busy with
//     announcements may take longer than its ping timeout to answer a join),
//     and count what arrives after the join (the announcements) by frame
//     headers only; "ready" goes to READYFILE. SIGUSR1 starts the count;
//     SIGTERM prints the events and bytes received since and this process's CPU.
'use strict';
const net = require('node:net');
const fs = require('node:fs');
const io = require('socket.io-client');
const PeerId = require('peer-id');

const mkId = () => new Promise((res, rej) => PeerId.create({ keyType: 'Ed25519', bits: 256 }, (e, id) => (e ? rej(e) : res(id))));
const sign = (id, data) => new Promise((res, rej) => id.privKey.sign(Buffer.from(data), (e, s) => (e ? rej(e) : res(s))));
const maOf = (port, id) => `/ip4/127.0.0.1/tcp/${port}/ws/p2p-websocket-star/ipfs/${id.toB58String()}`;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const cpuS = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const SP = 'socket.io-pull-stream.';
const HZ = 100; // USER_HZ: /proc/PID/stat's clock ticks
// CPU seconds of the server (WSSTAR_SERVER_PID) and its children, from /proc
function serverCpu() {
  const top = process.env.WSSTAR_SERVER_PID;
  if (!top) return 0;
  let kids = [];
  try { kids = fs.readFileSync(`/proc/${top}/task/${top}/children`, 'utf8').split(' ').filter(Boolean); } catch { /* none */ }
  return [top, ...kids].reduce((t, p) => {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      return t + (Number(f[11]) + Number(f[12])) / HZ;
    } catch { return t; }
  }, 0);
}
const dbg = (...a) => { if (process.env.WSSTAR_DEBUG) console.error('wsstar_load:', ...a); };

// ---- relay: two socket.io-client peers ----

function sio(port) {
  return new Promise((resolve, reject) => {
    const c = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    c.once('connect', () => resolve(c));
    c.once('connect_error', reject);
  });
}
const ask = (c, ...args) => new Promise((r) => c.emit(...args, (...a) => r(a)));

async function join(c, id, ma) {
  const [err, nonce] = await ask(c, 'ss-join', ma, id.pubKey.bytes.toString('hex'));
  if (err) throw new Error(`join: ${err}`);
  const [err2] = await ask(c, 'ss-join', ma, (await sign(id, nonce)).toString('hex'));
  if (err2) throw new Error(`join: ${err2}`);
}

// One dial from a to b; b's side runs onChunk for each chunk the dialer writes.
// Resolves when both directions may carry data, with the two write functions.
function dial(a, b, maA, maB, did, onDialerChunk, onListenerChunk) {
  return new Promise((resolve, reject) => {
    let aReady = false;
    let bReady = false;
    const done = () => aReady && bReady && resolve({
      toB: (buf) => a.emit(`${SP}queue.${did}.dialer`, buf),
      toA: (buf) => b.emit(`${SP}queue.${did}.listener`, buf),
      end: () => { a.emit(`${SP}error.${did}.dialer`, true); b.emit(`${SP}error.${did}.listener`, true); },
    });
    b.on(`${SP}queue.${did}.dialer`, onDialerChunk);
    a.on(`${SP}queue.${did}.listener`, onListenerChunk);
    a.once(`${SP}accept.${did}.dialer`, () => { aReady = true; done(); });
    // the dialer reads the listener's direction once its dial is answered (as the real client)
    a.emit('ss-dial', maA, maB, did, (err) => {
      if (err) return reject(new Error(`dial: ${err}`));
      a.emit(`${SP}accept.${did}.listener`);
      bReady = true;
      done();
    });
  });
}

async function relay(port, secs) {
  const [ida, idb] = await Promise.all([mkId(), mkId()]);
  const [a, b] = await Promise.all([sio(port), sio(port)]);
  const maA = maOf(port, ida);
  const maB = maOf(port, idb);
  await join(a, ida, maA);
  await join(b, idb, maB);
  dbg('joined');
  // the listener accepts every dial and reads what the dialer writes
  b.on('ss-incomming', (did, from, cb) => { cb(); b.emit(`${SP}accept.${did}.dialer`); });
  const out = {};
  const cpu0 = cpuS();

  // dial latency: ss-dial to the first byte the listener reads
  const dials = [];
  for (let i = 0; i < 40; i++) {
    const did = `lat${i}`;
    const t0 = now();
    const first = new Promise((r) => b.once(`${SP}queue.${did}.dialer`, () => r(now() - t0)));
    a.once(`${SP}accept.${did}.dialer`, () => a.emit(`${SP}queue.${did}.dialer`, Buffer.from('x')));
    a.emit('ss-dial', maA, maB, did, () => {});
    dials.push(await first);
    a.emit(`${SP}error.${did}.dialer`, true);
    b.emit(`${SP}error.${did}.listener`, true);
  }
  out.dial_ms_p50 = pct(dials, 0.5).toFixed(2);
  out.dial_ms_p90 = pct(dials, 0.9).toFixed(2);
  dbg('dials', out.dial_ms_p50);

  // echo round trip: the listener writes back each chunk it reads
  let echoed = null;
  const e = await dial(a, b, maA, maB, 'echo', (buf) => e.toA(buf), () => echoed && echoed());
  const rtts = [];
  const chunk = Buffer.alloc(32, 0x61);
  const tEnd = Date.now() + Math.min(secs, 5) * 1000;
  for (let i = 0; i < 3000 && Date.now() < tEnd; i++) {
    const t0 = now();
    await new Promise((r) => { echoed = r; e.toB(chunk); });
    if (i >= 20) rtts.push(now() - t0); // the first ones warm up
  }
  e.end();
  out.rtt_ms_p50 = pct(rtts, 0.5).toFixed(3);
  out.rtt_ms_p99 = pct(rtts, 0.99).toFixed(3);
  out.rtt_n = rtts.length;
  dbg('echo', out.rtt_ms_p50);

  // relay MB/s: 64 KiB chunks, at most WINDOW in flight, credit every 256 KiB read
  const SIZE = Number(process.env.WSSTAR_CHUNK || 65536);
  const WINDOW = Number(process.env.WSSTAR_WINDOW || 768 * 1024);
  const CREDIT = WINDOW / 3;
  const big = Buffer.alloc(SIZE, 0x62);
  let read = 0;
  let sinceCredit = 0;
  let granted = WINDOW;
  let sent = 0;
  let wake = null;
  const r = await dial(a, b, maA, maB, 'bulk', (buf) => {
    read += buf.length;
    sinceCredit += buf.length;
    if (sinceCredit >= CREDIT) { r.toA(Buffer.from(String(sinceCredit))); sinceCredit = 0; }
  }, (buf) => { granted += Number(buf.toString()); if (wake) { const w = wake; wake = null; w(); } });
  const t0 = now();
  const srv0 = serverCpu();
  const cli0 = cpuS();
  const stop = t0 + secs * 1000;
  while (now() < stop) {
    while (sent + SIZE <= granted) { r.toB(big); sent += SIZE; }
    await new Promise((res) => { wake = res; });
  }
  const elapsed = (now() - t0) / 1000;
  out.relay_mbs = (read / elapsed / 1e6).toFixed(1);
  // CPU per MB relayed: what the wall-clock rate hides on a busy machine
  out.server_cpu_ms_per_mb = ((serverCpu() - srv0) * 1000 / (read / 1e6)).toFixed(2);
  out.client_cpu_ms_per_mb = ((cpuS() - cli0) * 1000 / (read / 1e6)).toFixed(2);
  r.end();
  out.client_cpu_s = (cpuS() - cpu0).toFixed(2);
  out.client_wall_s = ((now() - t0) / 1000 + 0).toFixed(1);
  a.close();
  b.close();
  console.log(Object.entries(out).map(([k, v]) => `${k}=${v}`).join(' '));
}

// ---- peers: N raw WebSocket clients ----

function frame(text) { // one masked text frame (mask key 0: the bytes go as they are)
  const p = Buffer.from(text);
  const n = p.length;
  const h = n < 126 ? Buffer.from([0x81, 0x80 | n, 0, 0, 0, 0])
    : Buffer.from([0x81, 0x80 | 126, n >> 8, n & 255, 0, 0, 0, 0]);
  return Buffer.concat([h, p]);
}

// Opens one raw peer and joins; resolves once joined. Afterwards it discards all input.
function rawPeer(port, id, stats) {
  return new Promise((resolve, reject) => {
    const ma = maOf(port, id);
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let joined = false;
    s.on('error', reject);
    s.on('close', () => { if (!joined) reject(new Error(`peer closed before its join (${stats.joined} joined)`)); });
    s.on('connect', () => s.write(`GET /socket.io/?EIO=3&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`
      + 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
      + 'Sec-WebSocket-Version: 13\r\n\r\n'));
    const onText = async (t) => {
      if (t === '40') s.write(frame(`420["ss-join",${JSON.stringify(ma)},"${id.pubKey.bytes.toString('hex')}"]`));
      else if (t.startsWith('430')) {
        const [err, nonce] = JSON.parse(t.slice(3));
        if (err) return reject(new Error(`join: ${err}`));
        s.write(frame(`421["ss-join",${JSON.stringify(ma)},"${(await sign(id, nonce)).toString('hex')}"]`));
      } else if (t.startsWith('431')) {
        const [err] = JSON.parse(t.slice(3));
        if (err) return reject(new Error(`join: ${err}`));
        joined = true;
        stats.joined++;
        resolve(s);
      }
    };
    s.on('data', (d) => {
      stats.bytes += d.length;
      if (joined) return countFrames(s, d, stats); // the announcements: counted, not parsed
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        if (!/^HTTP\/1.1 101/.test(buf.slice(0, i).toString())) return reject(new Error(buf.slice(0, i).toString()));
        upgraded = true;
        s.pinger = setInterval(() => s.write(frame('2')), 20000);
        buf = buf.slice(i + 4);
      }
      while (buf.length >= 2 && !joined) {
        let len = buf[1] & 127;
        let off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf.length < off + len) return;
        const op = buf[0] & 15;
        const p = buf.slice(off, off + len);
        buf = buf.slice(off + len);
        if (op === 1) onText(p.toString());
      }
      if (joined && buf.length) countFrames(s, buf, stats); // what came behind the join's answer
    });
  });
}

// Counts the server's frames in d by their headers alone: stats.events for
// Socket.IO packets (text starting with '4'), the rest (pongs) not. A frame's
// head may be split across reads: s.head keeps its start, s.skip what is left
// of a payload.
function countFrames(s, d, stats) {
  let i = 0;
  while (i < d.length) {
    if (s.skip) {
      const k = Math.min(s.skip, d.length - i);
      s.skip -= k;
      i += k;
      continue;
    }
    const h = s.head ? Buffer.concat([s.head, d.slice(i, i + 10)]) : d.slice(i, i + 10);
    const had = s.head ? s.head.length : 0;
    let len = h.length >= 2 ? h[1] & 127 : -1;
    let hl = 2;
    if (len === 126) { hl = 4; len = h.length >= 4 ? h.readUInt16BE(2) : -1; }
    else if (len === 127) { hl = 10; len = h.length >= 10 ? Number(h.readBigUInt64BE(2)) : -1; }
    if (len < 0 || h.length < hl + (len > 0 ? 1 : 0)) { // the head (and the payload's first byte) is not all here yet
      s.head = h;
      return;
    }
    s.head = null;
    if ((h[0] & 15) === 1 && len > 0 && h[hl] === 0x34) stats.events++;
    i += hl - had;
    s.skip = len;
  }
}

async function peers(port, n, readyFile) {
  const stats = { bytes: 0, events: 0, joined: 0 };
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(await mkId());
  const socks = [];
  // join in batches: both servers take a burst of n handshakes
  for (let i = 0; i < n; i += 50) socks.push(...await Promise.all(ids.slice(i, i + 50).map((id) => rawPeer(port, id, stats))));
  let cpu0 = cpuS();
  let b0 = stats.bytes;
  let e0 = stats.events;
  process.on('SIGUSR1', () => { cpu0 = cpuS(); b0 = stats.bytes; e0 = stats.events; });
  process.on('SIGTERM', () => {
    console.log(`peers=${socks.length} events_rx=${stats.events - e0} bytes_rx=${stats.bytes - b0} `
      + `client_cpu_s=${(cpuS() - cpu0).toFixed(2)} closed=${stats.closed || 0}`);
    process.exit(0);
  });
  fs.writeFileSync(readyFile, `ready ${socks.length}\n`);
  socks.forEach((s) => s.on('close', () => { stats.closed = (stats.closed || 0) + 1; }));
}

const [mode, port, a3, a4] = process.argv.slice(2);
const fail = (e) => { console.error(`wsstar_load: ${e.stack || e}`); process.exit(1); };
if (mode === 'relay') relay(Number(port), Number(a3 || 5)).catch(fail);
else if (mode === 'peers') peers(Number(port), Number(a3), a4).catch(fail);
else fail(new Error('usage: wsstar_load.js relay PORT SECS | peers PORT N READYFILE'));
