// SaltyRTC figures, beside WSChat's direct path in the same run (Node load
// generator, so the client side costs too; compare ratios, not absolutes):
//   handshakes/s   initiator + responder pairs to server-auth, CONC at a time
//   relay msgs/s   PAIRS pairs, each side keeping WINDOW messages in flight
//   relay MB/s     the same with 64 KiB messages
// Usage: node tests/bench/saltyrtc.js   (SB_BUILD=build; BENCH_SECS=5, BENCH_PAIRS=50)
'use strict';
const WS = require('../e2e/node_modules/ws');
const { startServer } = require('../e2e/lib/server');
const { RawSalty } = require('../e2e/lib/saltyraw');

const SECS = Number(process.env.BENCH_SECS || 5);
const PAIRS = Number(process.env.BENCH_PAIRS || 50);
const WINDOW = Number(process.env.BENCH_WINDOW || 16);

async function saltyPair(base) {
  const ini = new RawSalty(base, null);
  await ini.handshake('initiator');
  const r = new RawSalty(base, ini.keys.publicKey);
  await r.handshake('responder');
  await ini.serverMessage(); // new-responder
  return [ini, r];
}

async function handshakes(base, n, conc) {
  const t0 = process.hrtime.bigint();
  let done = 0;
  const worker = async () => {
    while (done < n) {
      done++;
      const [a, b] = await saltyPair(base);
      a.close();
      b.close();
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

// Closed loop over pairs of (send(i), onMessage) ends: counts deliveries for SECS.
async function relayLoop(pairs, size) {
  let count = 0, running = true;
  for (const [a, b] of pairs) {
    for (const [from, to] of [[a, b], [b, a]]) {
      to.onmsg = () => { count++; if (running) from.sendOne(); };
      for (let i = 0; i < WINDOW; i++) from.sendOne();
    }
  }
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  const c0 = count, t0 = Date.now();
  await new Promise((r) => setTimeout(r, SECS * 1000));
  const rate = (count - c0) / ((Date.now() - t0) / 1000);
  running = false;
  await new Promise((r) => setTimeout(r, 500));
  return { msgs: rate, mb: (rate * size) / 1e6 };
}

async function saltyRelay(base, size) {
  const pairs = [];
  for (let i = 0; i < PAIRS; i++) pairs.push(await saltyPair(base));
  const body = Buffer.alloc(size - 24, 0x61);
  for (const [ini, r] of pairs) {
    ini.sendOne = () => ini.relay(r.src, body);
    r.sendOne = () => r.relay(1, body);
    for (const c of [ini, r]) c.ws.removeAllListeners('message'), c.ws.on('message', () => c.onmsg());
  }
  const res = await relayLoop(pairs, size);
  for (const [a, b] of pairs) { a.close(); b.close(); }
  return res;
}

function wschatClient(port, name) {
  return new Promise((resolve, reject) => {
    const ws = new WS(`ws://127.0.0.1:${port}/wschat`);
    let n = 0;
    ws.on('message', () => { if (++n === 2) resolve(ws); }); // init, then the identify outcome
    ws.on('open', () => ws.send(JSON.stringify({ command: 'identify', name })));
    ws.on('error', reject);
  });
}

async function wschatRelay(port, size) {
  const pairs = [];
  for (let i = 0; i < PAIRS; i++) pairs.push([await wschatClient(port, `a${i}`), await wschatClient(port, `b${i}`)]);
  const payload = 'a'.repeat(Math.max(1, size - 60));
  for (const [i, [a, b]] of pairs.entries()) {
    a.sendOne = () => a.send(`{"command":"message","to":"b${i}","message":"${payload}"}`);
    b.sendOne = () => b.send(`{"command":"message","to":"a${i}","message":"${payload}"}`);
    for (const c of [a, b]) c.on('message', () => c.onmsg());
  }
  const res = await relayLoop(pairs, size);
  for (const [a, b] of pairs) { a.terminate(); b.terminate(); }
  return res;
}

// PSS of the workers of n idle authenticated pairs, in KB per connection.
async function idlePss(srv, base, n) {
  const fs = require('node:fs');
  const pairs = [];
  for (let i = 0; i < n; i++) pairs.push(await saltyPair(base));
  await new Promise((r) => setTimeout(r, 500));
  let kb = 0;
  const pids = srv.workerPids();
  for (const pid of pids) {
    const m = /Pss:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    kb += m ? Number(m[1]) : 0;
  }
  for (const [a, b] of pairs) { a.close(); b.close(); }
  return kb / pids.length;
}

(async () => {
  const srv = await startServer({ args: ['--max-per-ip', '0', '--max-connections', '10000'] });
  const base = `ws://127.0.0.1:${srv.port}`;
  try {
    const pss = await idlePss(srv, base, 10);
    const hs = await handshakes(base, 300, 10);
    const s256 = await saltyRelay(base, 256);
    const w256 = await wschatRelay(srv.port, 256);
    const s64k = await saltyRelay(base, 65536);
    const w64k = await wschatRelay(srv.port, 65536);
    const f = (x) => x.toFixed(0);
    console.log('| figure | SaltyRTC | WSChat direct | ratio |\n|---|---|---|---|');
    console.log(`| idle PSS per authenticated connection (worker) | ${f(pss)} KB | - | - |`);
    console.log(`| handshakes/s (initiator+responder to server-auth) | ${f(hs)} | - | - |`);
    console.log(`| relayed msgs/s, 256 B, ${PAIRS} pairs | ${f(s256.msgs)} | ${f(w256.msgs)} | ${(s256.msgs / w256.msgs).toFixed(2)} |`);
    console.log(`| relayed MB/s, 64 KiB, ${PAIRS} pairs | ${s64k.mb.toFixed(1)} | ${w64k.mb.toFixed(1)} | ${(s64k.mb / w64k.mb).toFixed(2)} |`);
  } finally {
    await srv.stop();
  }
})();
