// Resource limits of the bus and the router (issue 6, points 8, 10, 12, 15):
// bursts never make a bus message over the limit, the router's memory stays
// within --worker-queue and --router-memory, logs cannot stall the router,
// and options that cannot work are refused at start.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { test, run, assert, until } = require('./lib/harness');
const { startServer, bin, ASAN } = require('./lib/server');
const { connect } = require('./lib/client');
const { spClient, mp } = require('./lib/sp');

const servers = [];
async function server(args) {
  const s = await startServer({ args });
  servers.push(s);
  return s;
}

function metric(srv, name) {
  let text = '';
  try { text = fs.readFileSync(path.join(srv.stateDir, 'metrics.prom'), 'utf8'); } catch { return -1; }
  const m = new RegExp(`^switchboard_${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : -1;
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

function hwmKiB(pid) {
  const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

async function wschat(srv, name) {
  const ws = await connect(srv.url('/wschat'), { ws: { maxPayload: 64 << 20 } });
  await ws.nextJSON(); // init
  ws.sendJSON({ command: 'identify', name });
  assert.equal((await ws.nextJSON()).code, 300);
  return ws;
}

// ---- point 8: bursts ----

// The router reads the burst as fast as the sender's worker sends it; a
// receiver whose queue (its pipe's output included) passes --worker-queue on
// the way is closed as too slow, which is the specified outcome. What must
// not happen: a bus message over the limit, a reconnect loop, a lost burst.
test('20 x 1 MB WSChat broadcasts in one burst are routed, with no bus reconnect loop', async () => {
  const srv = await server(['--max-message', '1048576', '--worker-queue', '8388608']);
  const rx = await wschat(srv, 'rx');
  const tx = await wschat(srv, 'tx');
  const body = JSON.stringify({ command: 'broadcast', message: 'x'.repeat(1048576 - 64) });
  assert.ok(body.length <= 1048576);
  const n = 20;
  for (let i = 0; i < n; i++) tx.send(body); // one burst: the worker reads it in as few turns as it can
  tx.sendJSON({ command: 'message', to: 'tx', message: 'after the burst' });
  // comes back only once the router has routed all 20 (one sender's order is kept)
  // (rx closed as too slow on the way, the specified outcome, is told to tx first)
  let back;
  do back = await tx.nextJSON(90000).catch((e) => { throw new Error(`${e.message}\n${srv.tail()}`); });
  while (back.type === 'quit');
  assert.equal(back.message, 'after the burst', JSON.stringify(back).slice(0, 300));
  let got = 0, closed = null;
  rx.closed.then((c) => { closed = c; });
  while (got < n && !closed) {
    const m = await Promise.race([rx.next(60000), rx.closed.then(() => null)])
      .catch((e) => { throw new Error(`${e.message} after ${got}\n${srv.tail()}`); });
    if (m === null) break;
    const j = JSON.parse(m);
    assert.equal(j.type, 'broadcast');
    assert.equal(j.from, 'tx');
    assert.equal(j.message.length, 1048576 - 64);
    got++;
  }
  console.log(`# the receiver got ${got} of ${n}${closed ? `, then close ${closed.code} ${closed.reason}` : ''}`);
  if (got < n) assert.equal((await rx.closed).code, 1008, 'a receiver that missed some was closed as too slow');
  assert.doesNotMatch(srv.log, /bus to .* lost/, `a worker lost its bus\n${srv.tail()}`);
  assert.doesNotMatch(srv.log, /frame over the limit|malformed frame/);
  await until(() => metric(srv, 'bus_refused_frames_total') === 0, 5000, 'metrics written');
  rx.terminate();
  tx.terminate();
  await srv.stop();
}, { timeout: 120000 });

test('a bulk Messaging frame burst reaches the router without a reconnect loop', async () => {
  const srv = await server(['--max-message', '1048576']);
  const tx = await connect(srv.url('/messaging?client_id=bulk-tx'), { ws: { maxPayload: 64 << 20 } });
  // many tiny entries per frame: their envelopes are about three times the JSON
  // (reads of unknown ids: the router does a little work for each, stores nothing)
  const ids = [];
  for (let i = 0; ids.length < 69000; i++) ids.push({ id: 1000000 + i });
  const frame = JSON.stringify({ read: ids });
  assert.ok(frame.length < 1048576, `frame of ${frame.length}`);
  const frames = 6;
  for (let i = 0; i < frames; i++) tx.send(frame);
  await until(() => metric(srv, 'envelopes_in_total') >= frames * ids.length, 60000,
    'every read envelope at the router');
  assert.doesNotMatch(srv.log, /bus to .* lost/);
  assert.doesNotMatch(srv.log, /frame over the limit|malformed frame/);
  tx.terminate();
  await srv.stop();
}, { timeout: 90000 });

// A raw bus peer that keeps everything the router sends it.
function rawPeer(sock) {
  return new Promise((resolve, reject) => {
    const s = require('node:net').connect(sock, () => {
      s.write(Buffer.from([0, 0x53, 0x50, 0, 0, 0x11, 0, 0]));
      resolve(s);
    });
    s.got = Buffer.alloc(0);
    s.on('data', (d) => { s.got = Buffer.concat([s.got, d]); });
    s.on('error', () => {});
    s.gone = new Promise((r) => s.on('close', r));
    s.once('error', reject);
  });
}

function frame(payload, announced) {
  const h = Buffer.alloc(13);
  h[0] = 1;
  h.writeBigUInt64BE(BigInt(announced ?? payload.length + 4), 1);
  h.writeUInt32BE(1, 9);
  return Buffer.concat([h, payload]);
}

test('a bus message over the limit is refused as an error: the worker is told to close its client (1009)', async () => {
  const srv = await server([]);
  const s = await rawPeer(path.join(srv.stateDir, 'bus.ipc'));
  s.write(frame(mp({ v: 1, p: 'core', op: 'hello', conn: 31337, pid: 1, proto: 'wschat', credit: 2 })));
  await sleep(200);
  s.write(frame(Buffer.alloc(16), 8 * MB + 4 + 1)); // announces one byte over the limit
  await s.gone;
  const text = s.got.toString('latin1');
  assert.match(text, /close/);
  assert.match(text, /message too big for the bus/);
  assert.ok(s.got.includes(Buffer.from([0xcd, 0x03, 0xf1])), 'code 1009');
  await until(() => metric(srv, 'bus_refused_frames_total') === 1, 5000, 'the refusal counted');
  await srv.stop();
});

// ---- point 10: router memory ----

const MB = 1048576;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Broadcasts n messages of about 1 MB from ws, then waits until a message to
// itself comes back: by then the router has routed every broadcast.
async function burst(ws, n, ms = 60000) {
  const body = JSON.stringify({ command: 'broadcast', message: 'y'.repeat(MB - 64) });
  for (let i = 0; i < n; i++) ws.send(body);
  ws.sendJSON({ command: 'message', to: ws.name, message: 'burst done' });
  for (;;) {
    const m = JSON.parse(await ws.next(ms));
    if (m.type === 'message' && m.message === 'burst done') return;
  }
}

// A fake worker on the bus, WSChat user name on connection conn, that gives
// all the credit it may, all the time, and never reads its pipe. sink.gone
// once the router hung up on it; sink.stop() ends it.
async function fakeSink(srv, conn, name) {
  const fake = await spClient(path.join(srv.stateDir, 'bus.ipc'), { read: false });
  fake.send(Buffer.concat([
    mp({ v: 1, p: 'core', op: 'hello', conn, pid: 1, proto: 'wschat', credit: 2 }),
    mp({ v: 1, p: 'wschat', op: 'identify', name })]));
  const sink = { gone: false };
  fake.closed.then(() => { sink.gone = true; });
  const credit = setInterval(() => { if (!sink.gone) fake.send(mp({ v: 1, p: 'core', op: 'credit', n: 2 })); }, 5);
  sink.stop = () => { clearInterval(credit); fake.socket.destroy(); };
  return sink;
}

test('a fake worker that grants credit and never reads is dropped; router RSS stays bounded', async () => {
  const srv = await server(['--max-message', String(MB)]);
  const pid = srv.routerPid();
  const sink = await fakeSink(srv, 4242, 'sink');
  try {
    const tx = await wschat(srv, 'tx');
    tx.name = 'tx';
    const rss0 = rssKiB(pid);
    await burst(tx, 60);
    const grew = (hwmKiB(pid) - rss0) / 1024;
    console.log(`# router RSS ${rss0} KiB before, peak grew by ${grew.toFixed(1)} MB over 60 MB of broadcasts`);
    if (!ASAN) assert.ok(grew < 40, `router grew by ${grew} MB`);
    await until(() => metric(srv, 'bus_dropped_total') >= 1, 30000, 'the fake worker dropped');
    await until(() => sink.gone, 10000, 'the fake worker hung up on');
    tx.terminate();
  } finally { sink.stop(); }
  await srv.stop();
}, { timeout: 120000 });

// A worker told to close as too slow must still read its pipe to the end.
// One that never reads is dropped after 10 s even when what it was sent
// (the close, here) went whole into its socket's buffer, so that nothing
// waits in the router's own output: the bytes it has not read count.
test('a fake worker told to close, all it was sent in its socket, that never reads is dropped', async () => {
  const srv = await server(['--worker-queue', '65536']);
  const sink = await fakeSink(srv, 4243, 'sink2'); // conn 4243: 0x1093 in the log
  try {
    const tx = await wschat(srv, 'tx');
    tx.sendJSON({ command: 'broadcast', message: 'z'.repeat(100000) }); // over the fake's queue limit at once
    await until(() => /worker pid 1 conn 0000000000001093 is too slow/.test(srv.log), 30000, 'the fake worker told to close');
    await until(() => metric(srv, 'bus_dropped_total') >= 1, 30000, 'the fake worker dropped');
    await until(() => sink.gone, 10000, 'the fake worker hung up on');
    assert.match(srv.log, /bus pipe \d+: \d+ bytes unread for 10 s; dropping that worker/);
    tx.terminate();
  } finally { sink.stop(); }
  await srv.stop();
}, { timeout: 120000 });

test('many slow readers and broadcasts stay under --router-memory (largest queues closed first)', async () => {
  const budget = 6 * MB;
  const srv = await server(['--max-message', String(MB), '--worker-queue', String(2 * MB),
    '--router-memory', String(budget), '--client-backlog', '65536']);
  const pid = srv.routerPid();
  const slow = [];
  for (let i = 0; i < 6; i++) {
    const ws = await wschat(srv, `slow${i}`);
    ws._socket.pause(); // reads nothing more
    slow.push(ws);
  }
  const tx = await wschat(srv, 'tx');
  tx.name = 'tx';
  const rss0 = rssKiB(pid);
  await burst(tx, 16);
  const grew = (hwmKiB(pid) - rss0) / 1024;
  console.log(`# router RSS ${rss0} KiB before, peak grew by ${grew.toFixed(1)} MB (budget ${budget / MB} MB)`);
  if (!ASAN) assert.ok(grew < budget / MB + 30, `router grew by ${grew} MB`);
  await until(() => metric(srv, 'router_memory_closed_total') >= 1, 10000, 'clients closed for router memory');
  assert.match(srv.log, /router memory over 6291456 bytes; closing the client/);
  for (const ws of slow) ws.terminate();
  tx.terminate();
  await srv.stop();
}, { timeout: 120000 });

test('an 8 MiB envelope of tiny map entries is refused without the router unpacking it', async () => {
  const srv = await server([]);
  const pid = srv.routerPid();
  const head = mp({ v: 1, p: 'core', op: 'hello', conn: 99, pid: 1, proto: 'wschat', credit: 2 });
  const pairs = Math.floor((8 * MB - head.length - 8) / 2);
  const env = Buffer.alloc(5 + (head.length - 1) + 2 * pairs, 1); // pairs of fixints 1 → 1
  env[0] = 0xdf;
  env.writeUInt32BE(pairs + 7, 1);
  head.copy(env, 5, 1); // the fields of the hello, after its own map header
  const rss0 = rssKiB(pid);
  const fake = await spClient(path.join(srv.stateDir, 'bus.ipc'));
  fake.send(env);
  await fake.closed;
  const grew = (hwmKiB(pid) - rss0) / 1024;
  console.log(`# router RSS ${rss0} KiB before, peak grew by ${grew.toFixed(1)} MB for a ${(env.length / MB).toFixed(2)} MiB map`);
  assert.ok(grew < (ASAN ? 120 : 40), `router grew by ${grew} MB`);
  assert.match(srv.log, /malformed envelope/);
  const a = await wschat(srv, 'after-map');
  a.sendJSON({ command: 'message', to: 'after-map', message: 'still routing' });
  assert.equal((await a.nextJSON()).message, 'still routing');
  a.terminate();
  await srv.stop();
}, { timeout: 60000 });

// ---- point 12: logs ----

test('a router whose stderr is a pipe nobody reads keeps routing', async () => {
  const { freePort, waitForPort } = require('./lib/server');
  const { execFileSync } = require('node:child_process');
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sb-limits-'));
  const fifo = path.join(dir, 'stderr.fifo');
  execFileSync('mkfifo', [fifo]);
  const sink = fs.openSync(fifo, 'r+'); // both ends held here; nothing ever reads
  const port = await freePort();
  const proc = spawn(bin('switchboard'), ['--listen', `127.0.0.1:${port}`, '--state-dir', dir,
    '--log-level', 'debug'], { stdio: ['ignore', 'ignore', sink] });
  const exited = new Promise((r) => proc.on('exit', r));
  try {
    await waitForPort(port);
    await until(() => fs.existsSync(path.join(dir, 'bus.ipc')), 15000, 'the router up');
    const srv = { url: (p) => `ws://127.0.0.1:${port}${p}` };
    const a = await wschat(srv, 'log-a');
    const b = await wschat(srv, 'log-b');
    // 3000 bus peers that come and go: a debug line or two each, far more
    // than the 64 KiB the pipe holds
    execFileSync('python3', ['-c', `
import socket, sys
for i in range(3000):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.send(bytes([0, 0x53, 0x50, 0, 0, 0x11, 0, 0]))
    s.close()
`, path.join(dir, 'bus.ipc')]);
    for (let i = 0; i < 5; i++) {
      a.sendJSON({ command: 'message', to: 'log-b', message: `still routing ${i}` });
      assert.equal((await b.nextJSON(10000)).message, `still routing ${i}`);
    }
    a.terminate();
    b.terminate();
  } finally {
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
    await exited;
    clearTimeout(t);
    fs.closeSync(sink);
  }
}, { timeout: 60000 });

// ---- point 15: options over the bus limit ----

test('options that would make bus messages over 8 MiB are refused at start', () => {
  const cases = [
    ['switchboard-router', ['--worker-queue', '8388609']],
    ['switchboard-router', ['--messaging-max-size', '4161537']],
    ['switchboard-worker', ['--max-message', '8388608']],
    ['switchboard', ['--max-message', '8388000']],
    ['switchboard', ['--worker-queue', '9000000']],
    ['switchboard', ['--messaging-max-size', '5000000']],
  ];
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sb-limits-'));
  for (const [prog, args] of cases) {
    // a program that wrongly starts must not leave sockets behind: its own state dir
    const r = spawnSync(bin(prog), [...args, ...(prog === 'switchboard-worker' ? [] : ['--state-dir', dir])], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
    assert.equal(r.status, 2, `${prog} ${args.join(' ')}: exit ${r.status} ${r.stderr}`);
    assert.match(r.stderr.toString(), /8 MiB bus limit/, `${prog} ${args.join(' ')}`);
  }
});

run({ after: async () => { for (const s of servers) await s.stop(); } });
