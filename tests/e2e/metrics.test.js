// Plain HTTP answered by the router, end to end with Node's http client:
// /metrics (Prometheus text, the protocols' counters, the --metrics-allow
// list, --trust-proxy's X-Forwarded-For), /healthz with the router up and
// down, keep-alive across router answers, and against a fake router (a raw
// SP peer): the router's headers passed on, --http-router-timeout's 504, a
// late answer ignored, a malformed answer's 502, a router that hangs up.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { test, run, assert, sleep, until } = require('./lib/harness');
const { startServer, bin } = require('./lib/server');
const { spServer, mp } = require('./lib/sp');
const { connect, WebSocket } = require('./lib/client');
const { upgradeRequest } = require('./lib/raw');
const { encodeFrame, OP } = require('./lib/rawws');
const net = require('node:net');

let srv;
const extra = [];

function get(port, p, headers = {}, agent = undefined, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, headers, agent, method }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(),
        socket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

// Every sample line of the Prometheus text format: name{labels} value.
function samples(text) {
  const out = {};
  for (const l of text.split('\n')) {
    if (l === '' || l.startsWith('# HELP ') || l.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+]+)$/.exec(l);
    assert.ok(m, `not a sample line: ${JSON.stringify(l)}`);
    out[m[1] + (m[2] || '')] = Number(m[3]);
  }
  return out;
}

test('/metrics: Prometheus text from the router, protocols\' counters included', async () => {
  const r = await get(srv.port, '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(r.headers['cache-control'], 'no-cache');
  const s = samples(r.body);
  const info = Object.keys(s).find((k) => k.startsWith('switchboard_build_info{'));
  assert.match(info, /^switchboard_build_info\{version="0\.1\.0",protocols="[a-z,]*\bwschat\b[a-z,]*",sqlite="3\.\d+\.\d+",libsodium="[0-9.]+"\}$/);
  assert.equal(s[info], 1);
  assert.ok('switchboard_workers' in s && 'switchboard_envelopes_in_total' in s);
  assert.ok('switchboard_messaging_recipients' in s, 'the messaging protocol\'s metrics op');
  // a live session shows in the router's gauge
  const c = await connect(srv.url('/wschat?room=m'));
  await until(async () => samples((await get(srv.port, '/metrics')).body).switchboard_workers >= 2, 10000,
    'the wschat worker in switchboard_workers');
  c.close();
});

test('/metrics and /healthz: keep-alive across router answers, HEAD without a body', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const a = await get(srv.port, '/healthz', {}, agent);
  const b = await get(srv.port, '/metrics', {}, agent);
  const c = await get(srv.port, '/healthz', {}, agent, 'HEAD');
  const d = await get(srv.port, '/no-such-thing', {}, agent);
  agent.destroy();
  assert.equal(a.status, 200);
  assert.equal(a.body, 'ok\n');
  assert.equal(b.status, 200);
  assert.ok(b.socket && c.socket && d.socket, 'one connection for all four');
  assert.equal(c.status, 200);
  assert.equal(c.headers['content-length'], '3');
  assert.equal(c.body, '');
  assert.equal(d.status, 404);
  const n = samples((await get(srv.port, '/metrics')).body).switchboard_http_router_requests_total;
  assert.ok(n >= 4, `router-answered requests counted: ${n}`);
});

test('a connection that asked the router for /healthz can still upgrade, and its session reaches the router', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  let data = Buffer.alloc(0);
  sock.on('data', (d) => { data = Buffer.concat([data, d]); });
  await new Promise((r) => sock.on('connect', r));
  sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' + upgradeRequest('/wschat'));
  await until(() => / 101 [^]*\r\n\r\n/.test(data.toString('latin1')), 5000, 'the 101');
  assert.match(data.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok\nHTTP\/1\.1 101 /);
  sock.write(encodeFrame({ opcode: OP.TEXT, payload: '{"command":"identify","name":"after-ask"}' }));
  // the outcome of identify comes from the router half: the session said its own hello
  await until(() => /"code":300/.test(data.toString('latin1')), 5000, 'identify answered by the router');
  sock.destroy();
});

test('--metrics-allow: 403 from outside the list; --trust-proxy X-Forwarded-For decides behind a proxy', async () => {
  const s = await startServer({ args: ['--metrics-allow', '10.0.0.0/8', '--trust-proxy', '127.0.0.1/32'] });
  extra.push(s);
  const no = await get(s.port, '/metrics');
  assert.equal(no.status, 403);
  assert.match(no.body, /not open/);
  const yes = await get(s.port, '/metrics', { 'X-Forwarded-For': '192.0.2.1, 10.1.2.3' });
  assert.equal(yes.status, 200);
  assert.match(yes.body, /switchboard_build_info/);
  const out = await get(s.port, '/metrics', { 'X-Forwarded-For': '10.1.2.3, 192.0.2.1' });
  assert.equal(out.status, 403, 'the last hop is the one our proxy saw');
  assert.equal((await get(s.port, '/healthz')).status, 200, '/healthz is open to all');
  // without --trust-proxy the header is anyone's to write
  const t = await startServer({ args: ['--metrics-allow', '10.0.0.0/8'] });
  extra.push(t);
  assert.equal((await get(t.port, '/metrics', { 'X-Forwarded-For': '10.1.2.3' })).status, 403);
  assert.equal((await get(srv.port, '/metrics', { 'X-Forwarded-For': '10.1.2.3' })).status, 200,
    'the default list: loopback');
});

test('a bad --metrics-allow is refused at start, with the option named', async () => {
  const p = spawn(bin('switchboard'), ['--metrics-allow', '10.0.0.0/33', '--listen', '127.0.0.1:1'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((r) => p.on('exit', r));
  assert.equal(code, 2);
  assert.match(err, /metrics-allow/);
});

test('/healthz: 200 with the router up, 503 (at once) while it is down, 200 when it is back', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-health-'));
  const url = `ipc://${dir}/bus.ipc`;
  const s = await startServer({ noRouter: true, args: ['--no-router', '--router-url', url] });
  extra.push(s);
  const down = await get(s.port, '/healthz');
  assert.equal(down.status, 503);
  assert.match(down.body, /not reachable/);
  assert.equal((await get(s.port, '/metrics')).status, 503);
  const router = spawn(bin('switchboard-router'), ['--state-dir', dir, '--listen', url, '--tap', 'none'],
    { stdio: 'ignore' });
  try {
    await until(() => fs.existsSync(`${dir}/bus.ipc`), 10000, 'the router\'s socket');
    await until(async () => (await get(s.port, '/healthz')).status === 200, 10000, '/healthz 200');
    // one keep-alive connection sees the router go and come back
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await get(s.port, '/healthz', {}, agent)).status, 200);
    router.kill('SIGKILL');
    await new Promise((r) => router.on('exit', r));
    fs.rmSync(`${dir}/bus.ipc`, { force: true });
    const t0 = Date.now();
    const gone = await get(s.port, '/healthz', {}, agent);
    assert.equal(gone.status, 503);
    assert.ok(Date.now() - t0 < 3000, `503 without waiting for the timeout (${Date.now() - t0} ms)`);
    agent.destroy();
  } finally {
    router.kill('SIGKILL');
  }
});

// ---- the series an operator watches, each caused by real traffic ----

// A connection from a chosen loopback address (127.0.0.0/8 is all on lo): one
// per-IP slot each. Resolves with the HTTP status of a refusal, or the open socket.
function wsFrom(port, local, p = '/wschat') {
  return new Promise((resolve) => {
    const c = new WebSocket(`ws://127.0.0.1:${port}${p}`, { localAddress: local, perMessageDeflate: false });
    c.on('open', () => resolve({ ws: c }));
    c.on('unexpected-response', (req, res) => { resolve({ status: res.statusCode }); req.destroy(); });
    c.on('error', (e) => resolve({ error: e }));
  });
}

const metricsOf = async (port) => samples((await get(port, '/metrics')).body);

test('refusals by HTTP status: the supervisor\'s 429 and 503 and a worker\'s 404, counted in /metrics', async () => {
  const s = await startServer({ args: ['--max-connections', '3', '--max-per-ip', '2'] });
  extra.push(s);
  // the supervisor's series come from its file, written within a second of start
  let zero;
  await until(async () => 'switchboard_http_refusals_total{status="429",by="supervisor"}' in (zero = await metricsOf(s.port)),
    10000, "the supervisor's series");
  assert.equal(zero['switchboard_http_refusals_total{status="429",by="supervisor"}'], 0);
  assert.equal(zero['switchboard_http_refusals_total{status="503",by="supervisor"}'], 0);
  await until(() => s.workerPids().length === 0, 10000, 'the /metrics worker gone');
  const held = [];
  for (const local of ['127.0.0.1', '127.0.0.1']) held.push((await wsFrom(s.port, local)).ws);
  assert.equal((await wsFrom(s.port, '127.0.0.1')).status, 429, 'a third from one address');
  const third = await wsFrom(s.port, '127.0.0.2');
  assert.ok(third.ws, `a third from another address: ${third.status || third.error}`);
  held.push(third.ws);
  assert.equal((await wsFrom(s.port, '127.0.0.3')).status, 503, 'a fourth in all');
  assert.equal((await wsFrom(s.port, '127.0.0.4')).status, 503);
  for (const c of held) c.close();
  await until(() => s.workerPids().length === 0, 10000, 'the held workers gone');
  assert.equal((await wsFrom(s.port, '127.0.0.1', '/no-such-endpoint')).status, 404);
  assert.equal((await get(s.port, '/nothing-here')).status, 404);
  await until(async () => {
    const m = await metricsOf(s.port);
    return m['switchboard_http_refusals_total{status="429",by="supervisor"}'] === 1 &&
      m['switchboard_http_refusals_total{status="503",by="supervisor"}'] === 2 &&
      m['switchboard_http_refusals_total{status="404",by="worker"}'] === 2;
  }, 10000, 'the counts (written by the supervisor at most once a second)');
  const m = await metricsOf(s.port);
  assert.ok(m.switchboard_accepted_total >= 8, `accepted: ${m.switchboard_accepted_total}`);
  // the live gauge follows within a second (the file is rewritten at most that often)
  const held1 = (await wsFrom(s.port, '127.0.0.5')).ws;
  await until(async () => (await metricsOf(s.port)).switchboard_live_connections >= 2, 10000,
    'a held connection and the /metrics request in the live gauge');
  held1.close();
});

test('connections by protocol, store size and row changes', async () => {
  const s = await startServer();
  extra.push(s);
  const chat = await connect(s.url('/wschat?room=p'));
  const a = await connect(s.url('/messaging?client_id=metrics-a'));
  const b = await connect(s.url('/messaging?client_id=metrics-b'));
  await until(async () => {
    const m = await metricsOf(s.port);
    return m['switchboard_connections{protocol="wschat"}'] === 1 && m['switchboard_connections{protocol="messaging"}'] === 2;
  }, 10000, 'the three sessions by protocol');
  const before = (await metricsOf(s.port)).switchboard_store_row_changes_total;
  a.sendJSON({ send: [{ id: 1, sid: 'metrics-a', rid: 'metrics-offline', text: 'kept for later' }] });
  await until(async () => (await metricsOf(s.port)).switchboard_store_row_changes_total > before, 10000,
    'the stored message counted');
  const m = await metricsOf(s.port);
  assert.ok(m['switchboard_store_bytes{file="db"}'] > 0, 'store.db has a size');
  assert.ok('switchboard_store_bytes{file="wal"}' in m);
  assert.ok(m['switchboard_connections{protocol="core"}'] >= 1, 'this request, asked of the router');
  chat.close(); a.close(); b.close();
  await until(async () => (await metricsOf(s.port))['switchboard_connections{protocol="messaging"}'] === 0, 10000,
    'the gauge down again');
});

test('router restarts: counted by the supervisor, seen in the new router\'s /metrics', async () => {
  const s = await startServer();
  extra.push(s);
  let first;
  await until(async () => 'switchboard_router_restarts_total' in (first = await metricsOf(s.port)), 10000,
    "the supervisor's series");
  assert.equal(first.switchboard_router_restarts_total, 0);
  const pid = s.routerPid();
  process.kill(pid, 'SIGKILL');
  await until(() => s.routerPid() && s.routerPid() !== pid, 10000, 'a new router');
  await until(async () => {
    const r = await get(s.port, '/metrics');
    return r.status === 200 && samples(r.body).switchboard_router_restarts_total === 1;
  }, 10000, 'the restart counted');
});

test('--metrics-file PATH: the textfile written there, atomically, and kept current', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-textfile-'));
  const file = path.join(dir, 'switchboard.prom');
  const s = await startServer({ args: ['--metrics-file', file] });
  extra.push(s);
  // the supervisor's file may come a moment after the router's first textfile
  await until(() => fs.existsSync(file) && /switchboard_http_refusals_total/.test(fs.readFileSync(file, 'utf8')),
    10000, 'the textfile, with the supervisor\'s series');
  const first = samples(fs.readFileSync(file, 'utf8'));
  assert.ok(Object.keys(first).some((k) => k.startsWith('switchboard_build_info{version="0.1.0",')));
  assert.equal(first['switchboard_http_refusals_total{status="503",by="supervisor"}'], 0, 'the supervisor\'s too');
  assert.ok(!fs.existsSync(path.join(s.stateDir, 'metrics.prom')), 'not in the state dir as well');
  const c = await connect(s.url('/wschat?room=f'));
  await until(() => samples(fs.readFileSync(file, 'utf8'))['switchboard_connections{protocol="wschat"}'] === 1,
    10000, 'the textfile rewritten with the new session');
  c.close();
  // never a half-written file: every read parses, and no temporary is left
  for (let i = 0; i < 30; i++) {
    samples(fs.readFileSync(file, 'utf8'));
    await sleep(50);
  }
  await s.stop();
  assert.deepEqual(fs.readdirSync(dir), ['switchboard.prom']);
  assert.ok(!fs.existsSync(path.join(s.stateDir, 'supervisor.prom')), 'the supervisor\'s file goes with it');
});

test('a supervisor.prom that is not the router\'s own supervisor\'s is not copied in', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-stale-'));
  fs.writeFileSync(path.join(dir, 'supervisor.prom'), '# pid 1\nswitchboard_left_over_total 7\n');
  const url = `ipc://${dir}/bus.ipc`;
  const router = spawn(bin('switchboard-router'), ['--state-dir', dir, '--listen', url, '--tap', 'none'],
    { stdio: 'ignore' });
  try {
    await until(() => fs.existsSync(`${dir}/bus.ipc`), 10000, 'the router\'s socket');
    const s = await startServer({ noRouter: true, args: ['--no-router', '--router-url', url] });
    extra.push(s);
    await until(async () => (await get(s.port, '/metrics')).status === 200, 10000, '/metrics');
    const m = await metricsOf(s.port);
    assert.ok(!('switchboard_left_over_total' in m), 'a file left by another process');
    assert.ok(!('switchboard_router_restarts_total' in m), 'this router has no supervisor of its own');
    assert.ok('switchboard_build_info' in Object.fromEntries(Object.keys(m).map((k) => [k.split('{')[0], 1])));
  } finally {
    router.kill('SIGKILL');
  }
});

// ---- against a fake router ----

// Just enough MessagePack to read a worker's envelopes.
function unpack(b) {
  let o = 0;
  const str = (n) => { const s = b.subarray(o, o + n).toString(); o += n; return s; };
  const bin = (n) => { const s = b.subarray(o, o + n); o += n; return s; };
  const map = (n) => { const m = {}; for (let i = 0; i < n; i++) { const k = one(); m[k] = one(); } return m; };
  const arr = (n) => Array.from({ length: n }, () => one());
  function one() {
    const t = b[o++];
    if (t < 0x80) return t;
    if (t >= 0x80 && t <= 0x8f) return map(t & 15);
    if (t >= 0x90 && t <= 0x9f) return arr(t & 15);
    if (t >= 0xa0 && t <= 0xbf) return str(t & 31);
    if (t >= 0xe0) return t - 256;
    switch (t) {
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return bin(b[o++]);
      case 0xc5: { const n = b.readUInt16BE(o); o += 2; return bin(n); }
      case 0xc6: { const n = b.readUInt32BE(o); o += 4; return bin(n); }
      case 0xcc: return b[o++];
      case 0xcd: { const v = b.readUInt16BE(o); o += 2; return v; }
      case 0xce: { const v = b.readUInt32BE(o); o += 4; return v; }
      case 0xcf: { const v = b.readBigUInt64BE(o); o += 8; return Number(v); }
      case 0xd3: { const v = b.readBigInt64BE(o); o += 8; return Number(v); }
      case 0xd9: return str(b[o++]);
      case 0xda: { const n = b.readUInt16BE(o); o += 2; return str(n); }
      case 0xde: { const n = b.readUInt16BE(o); o += 2; return map(n); }
      case 0xdc: { const n = b.readUInt16BE(o); o += 2; return arr(n); }
      default: throw new Error(`msgpack type ${t.toString(16)}`);
    }
  }
  const out = [];
  while (o < b.length) out.push(one());
  return out;
}

// A fake router at a fresh ipc:// path; answer(env, peer) is called with each http envelope.
async function fakeRouter(answer) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fake-'));
  const sock = `${dir}/bus.ipc`;
  const seen = [];
  const server = await spServer(sock, (peer) => {
    let n = 0;
    const poll = setInterval(() => {
      for (; n < peer.received.length; n++)
        for (const env of unpack(peer.received[n])) {
          seen.push(env);
          if (env.p === 'core' && env.op === 'http') answer(env, peer);
        }
    }, 5);
    peer.socket.on('close', () => clearInterval(poll));
  });
  return { url: `ipc://${sock}`, seen, close: () => server.close() };
}

function reply(peer, env, fields) {
  peer.send(mp({ v: 1, p: 'core', op: 'http-reply', id: env.id, ...fields }));
}

test('the router\'s answer as sent: status, type, headers (Cache-Control kept); the request as asked', async () => {
  const fake = await fakeRouter((env, peer) => reply(peer, env, {
    status: 308, type: 'text/html; charset=utf-8', headers: ['Location', '/there/', 'Cache-Control', 'max-age=60'],
    body: Buffer.from('<a href="/there/">moved</a>'),
  }));
  const s = await startServer({ noRouter: true, args: ['--no-router', '--router-url', fake.url,
    '--trust-proxy', '127.0.0.0/8'] });
  extra.push(s);
  try {
    const r = await get(s.port, '/healthz?x=1', { 'X-Forwarded-Proto': 'https', Host: 'example.test:8443' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, '/there/');
    assert.equal(r.headers['cache-control'], 'max-age=60');
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.body, '<a href="/there/">moved</a>');
    const hello = fake.seen.find((e) => e.op === 'hello');
    assert.equal(hello.proto, 'core', 'a plain-HTTP worker says hello as core');
    const q = fake.seen.find((e) => e.op === 'http');
    assert.deepEqual([q.to, q.path, q.query, q.host, q.tls, q.head, q.peer],
      ['core', '/healthz', 'x=1', 'example.test:8443', true, false, '127.0.0.1']);
  } finally { fake.close(); }
});

test('--http-router-timeout: 504 when the router does not answer; its late answer is ignored', async () => {
  const pending = [];
  const fake = await fakeRouter((env, peer) => pending.push(() => reply(peer, env, {
    status: 200, type: 'text/plain', headers: [], body: Buffer.from('late\n') })));
  const s = await startServer({ noRouter: true, args: ['--no-router', '--router-url', fake.url,
    '--http-router-timeout', '0.5'] });
  extra.push(s);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const t0 = Date.now();
    const r = await get(s.port, '/healthz', {}, agent);
    const took = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(took >= 450 && took < 5000, `504 after the timeout (${took} ms)`);
    pending.shift()(); // the first answer comes now, too late
    await sleep(100);
    const next = get(s.port, '/healthz', {}, agent);
    await until(() => pending.length === 1, 5000, 'the second request at the router');
    pending.shift()();
    const r2 = await next;
    assert.equal(r2.status, 200);
    assert.equal(r2.body, 'late\n', 'the second answer, not the first');
    assert.ok(r2.socket, 'the same connection');
    agent.destroy();
  } finally { fake.close(); }
});

test('a malformed answer is a 502; a router that hangs up mid-request a 503', async () => {
  let mode = 'bad';
  const fake = await fakeRouter((env, peer) => {
    if (mode === 'bad') reply(peer, env, { status: 200, type: 'text/plain', headers: ['Bad Name', 'x'], body: Buffer.from('x') });
    else peer.socket.destroy();
  });
  const s = await startServer({ noRouter: true, args: ['--no-router', '--router-url', fake.url] });
  extra.push(s);
  try {
    const r = await get(s.port, '/healthz');
    assert.equal(r.status, 502);
    mode = 'hangup';
    const t0 = Date.now();
    const h = await get(s.port, '/healthz');
    assert.equal(h.status, 503);
    assert.ok(Date.now() - t0 < 3000, 'at once, not after the timeout');
  } finally { fake.close(); }
});

run({
  before: async () => { srv = await startServer(); },
  after: async () => {
    for (const s of extra) await s.stop();
    if (srv) await srv.stop();
  },
});
