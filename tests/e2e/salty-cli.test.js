// switchboard-salty (the C SaltyRTC WebSocket-task client) end to end through
// our real server: two C clients with each other (messages both ways, both
// close orders, a pinned server key, a wrong token, a wrong pinned key),
// the C client against the npm @saltyrtc/client in both roles, and wss://
// through stunnel with a certificate the test makes.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { test, run, assert, until } = require('./lib/harness');
const { startServer, bin, freePort, waitForPort } = require('./lib/server');
const { load, WsTask, once, publicKeyOfSecretHex } = require('./lib/salty');

let srv;
const procs = [];
const base = () => `ws://127.0.0.1:${srv.port}`;
const serverKeyHex = () => publicKeyOfSecretHex(fs.readFileSync(path.join(srv.stateDir, 'saltyrtc.key'), 'utf8'));

// One switchboard-salty process: its stderr, its stdout lines, its exit.
class Cli {
  constructor(args) {
    this.err = '';
    this.out = '';
    this.p = spawn(bin('switchboard-salty'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.p.stderr.on('data', (d) => { this.err += d; });
    this.p.stdout.on('data', (d) => { this.out += d; });
    this.p.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => this.p.on('exit', (code, sig) => resolve(code === null ? sig : code)));
    procs.push(this);
  }
  async stderr(re, ms = 15000) {
    await until(() => re.test(this.err), ms, `${re} on stderr; got:\n${this.err}`);
    return this.err.match(re);
  }
  async keyToken() {
    const [, key] = await this.stderr(/^key ([0-9a-f]{64})$/m);
    const [, token] = await this.stderr(/^token ([0-9a-f]{64})$/m);
    return { key, token };
  }
  lines() { return this.out.split('\n').filter(Boolean).map((l) => JSON.parse(l)); }
  async waitLines(n, ms = 20000) {
    await until(() => this.lines().length >= n, ms, `${n} lines on stdout; got ${this.lines().length}; stderr:\n${this.err}`);
    return this.lines();
  }
  send(obj) { this.p.stdin.write(JSON.stringify(obj) + '\n'); }
  end() { this.p.stdin.end(); }
  async exit(ms = 15000) {
    let timer;
    const t = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`no exit in ${ms} ms; stderr:\n${this.err}`)), ms); });
    try { return await Promise.race([this.exited, t]); } finally { clearTimeout(timer); }
  }
  kill() { if (this.p.exitCode === null && !this.p.signalCode) this.p.kill('SIGKILL'); }
}

async function cleanup() {
  for (const c of procs.splice(0)) c.kill();
  await until(() => srv.workerPids().length === 0, 30000, 'workers of closed clients to exit');
}

// A C initiator and a C responder, paired.
async function cPair(url = base(), extra = []) {
  const ini = new Cli(['initiator', url, ...extra]);
  const { key, token } = await ini.keyToken();
  const res = new Cli(['responder', url, '--initiator-key', key, '--token', token, ...extra]);
  await ini.stderr(/paired with responder 0x02/);
  await res.stderr(/paired with initiator 0x01/);
  return { ini, res, key, token };
}

async function hundredEachWay(a, b) {
  for (let i = 0; i < 100; i++) {
    a.send({ type: 'msg', n: i, from: 'a', bytes: { $bin: Buffer.from([i, 255]).toString('base64') } });
    b.send({ type: 'msg', n: i, from: 'b', f: i + 0.5, neg: -i });
  }
  const la = await a.waitLines(100), lb = await b.waitLines(100);
  assert.deepEqual(lb.map((m) => m.n), [...Array(100).keys()]);
  assert.deepEqual(la.map((m) => m.n), [...Array(100).keys()]);
  assert.ok(lb.every((m, i) => m.type === 'msg' && m.from === 'a' && m.bytes.$bin === Buffer.from([i, 255]).toString('base64')));
  assert.ok(la.every((m, i) => m.from === 'b' && m.f === i + 0.5 && m.neg === -i));
}

test('C with C: pinned server key, 100 messages each way, initiator closes first', async () => {
  const { ini, res } = await cPair(base(), ['--server-key', serverKeyHex()]);
  await hundredEachWay(ini, res);
  ini.end();
  assert.equal(await ini.exit(), 0);
  assert.equal(await res.exit(), 0, res.err);
  assert.match(res.err, /the peer closed the session \(1001/);
  await cleanup();
});

test('C with C: responder closes first; bad or over-long stdin lines are refused and the session goes on', async () => {
  const { ini, res } = await cPair();
  res.p.stdin.write('not json\n{"type":"close"}\n[1,2]\n{"no":"type"}\n');
  res.p.stdin.write(`{"type":"msg","big":"${'x'.repeat(1.1 * 2 ** 20)}"}\n`);
  res.send({ type: 'msg', n: 1 });
  const got = await ini.waitLines(1);
  assert.deepEqual(got, [{ type: 'msg', n: 1 }]);
  await res.stderr(/stdin line 4 not sent/);
  assert.match(res.err, /stdin line 5 not sent: over 1048576 bytes/);
  assert.match(res.err, /stdin line 1 not sent: not valid JSON/);
  assert.match(res.err, /stdin line 2 not sent: types "application" and "close" are reserved/);
  res.end();
  assert.equal(await res.exit(), 0);
  assert.equal(await ini.exit(), 0, ini.err);
  assert.match(ini.err, /the peer closed the session \(1001/);
  await cleanup();
});

test('C with C: a wrong token gets the responder dropped (3005, exit 5)', async () => {
  const ini = new Cli(['initiator', base()]);
  const { key } = await ini.keyToken();
  const res = new Cli(['responder', base(), '--initiator-key', key, '--token', 'ab'.repeat(32)]);
  assert.equal(await res.exit(), 5, res.err);
  assert.match(res.err, /closed the connection with 3005/);
  assert.match(res.err, /wrong token/);
  await ini.stderr(/dropped responder 0x02 \(3005\): could not decrypt the token/);
  assert.equal(ini.p.exitCode, null, 'the initiator waits on for the right responder');
  await cleanup();
});

test('C: a wrong pinned server key is refused (3007, exit 4); so is a bad key option', async () => {
  const ini = new Cli(['initiator', base(), '--server-key', 'cd'.repeat(32)]);
  assert.equal(await ini.exit(), 4, ini.err);
  assert.match(ini.err, /3007/);
  const bad = new Cli(['initiator', base(), '--server-key', 'xyz']);
  assert.equal(await bad.exit(), 1);
  assert.match(bad.err, /--server-key wants 64 hex/);
  await cleanup();
});

test('C: --wait gives up when no peer comes (exit 9); --key FILE is the path', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-salty-'));
  const kf = path.join(dir, 'k');
  const kg = new Cli(['keygen', kf]);
  assert.equal(await kg.exit(), 0);
  const [, pub] = kg.err.match(/^key ([0-9a-f]{64})$/m);
  assert.equal((fs.statSync(kf).mode & 0o777), 0o600);
  const ini = new Cli(['initiator', base(), '--key', kf, '--wait', '1']);
  const { key } = await ini.keyToken();
  assert.equal(key, pub);
  assert.equal(await ini.exit(), 9, ini.err);
  assert.match(ini.err, /not paired within 1 s/);
  await cleanup();
});

test('C: --ping-interval 1: the server pings, we answer (pong timeout 2 s), still paired later', async () => {
  const ini = new Cli(['initiator', base(), '--ping-interval', '1']);
  const { key, token } = await ini.keyToken();
  await ini.stderr(/server handshake done/);
  await new Promise((r) => setTimeout(r, 4500)); // past the 2 s pong timeout several pings over
  assert.equal(ini.p.exitCode, null, ini.err);
  const res = new Cli(['responder', base(), '--initiator-key', key, '--token', token, '--ping-interval', '1']);
  await ini.stderr(/paired with responder/);
  res.send({ type: 'msg', after: 'pings' });
  assert.deepEqual(await ini.waitLines(1), [{ type: 'msg', after: 'pings' }]);
  res.end();
  assert.equal(await res.exit(), 0);
  assert.equal(await ini.exit(), 0);
  await cleanup();
});

test('C: an initiator replaced by another with its key is told so (3004, exit 3)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-salty-'));
  const kf = path.join(dir, 'k');
  assert.equal(await new Cli(['keygen', kf]).exit(), 0);
  const a = new Cli(['initiator', base(), '--key', kf]);
  await a.stderr(/server handshake done/);
  const b = new Cli(['initiator', base(), '--key', kf]);
  assert.equal(await a.exit(), 3, a.err);
  assert.match(a.err, /closed the connection with 3004 \(replaced: another initiator with our key came\)/);
  await b.stderr(/server handshake done/);
  await cleanup();
});

// ---------- against the npm client ----------

async function npmClient(role, opts) {
  const { client: S } = await load();
  const ks = new S.KeyStore();
  const task = new WsTask();
  let b = new S.SaltyRTCBuilder().connectTo('localhost', srv.port).withKeyStore(ks).usingTasks([task]);
  if (opts.serverKey) b = b.withServerKey(opts.serverKey);
  const c = role === 'initiator' ? b.asInitiator() : b.initiatorInfo(opts.key, opts.token).asResponder();
  return { c, task, ks };
}

test('C initiator with npm responder: messages both ways, npm disconnects first (C exit 6)', async () => {
  const ini = new Cli(['initiator', base(), '--server-key', serverKeyHex()]);
  const { key, token } = await ini.keyToken();
  const r = await npmClient('responder', { key, token, serverKey: serverKeyHex() });
  const ready = once(r.c, 'state-change:task');
  r.c.connect();
  await ready;
  await ini.stderr(/paired with responder/);
  for (let i = 0; i < 100; i++) { ini.send({ type: 'msg', n: i }); r.task.send({ n: i, s: 'npm' }); }
  await r.task.waitCount(100);
  const got = await ini.waitLines(100);
  assert.deepEqual(r.task.received.map((m) => m.n), [...Array(100).keys()]);
  assert.deepEqual(got.map((m) => m.n), [...Array(100).keys()]);
  assert.ok(got.every((m) => m.type === 'msg' && m.s === 'npm'));
  r.c.disconnect(); // the npm client sends no close: the server's disconnected tells us
  assert.equal(await ini.exit(), 6, ini.err);
  assert.match(ini.err, /peer lost: the peer disconnected/);
  await cleanup();
});

test('C initiator with npm responder: C closes first, the npm client gets close 1001', async () => {
  const ini = new Cli(['initiator', base()]);
  const { key, token } = await ini.keyToken();
  const r = await npmClient('responder', { key, token });
  const ready = once(r.c, 'state-change:task');
  r.c.connect();
  await ready;
  await ini.stderr(/paired with responder/);
  const closed = new Promise((resolve) => { r.task.close = resolve; });
  ini.send({ type: 'msg', last: true });
  ini.end();
  assert.equal(await closed, 1001);
  assert.deepEqual(r.task.received, [{ type: 'msg', last: true }]);
  assert.equal(await ini.exit(), 0, ini.err);
  await cleanup();
});

test('npm initiator with C responder: messages both ways, both close orders', async () => {
  for (const cFirst of [true, false]) {
    const i = await npmClient('initiator', { serverKey: serverKeyHex() });
    const ready = once(i.c, 'state-change:task');
    i.c.connect();
    const res = new Cli(['responder', base(), '--initiator-key', i.ks.publicKeyHex, '--token', i.c.authTokenHex,
      '--server-key', serverKeyHex()]);
    await ready;
    await res.stderr(/paired with initiator 0x01/);
    for (let n = 0; n < 100; n++) { res.send({ type: 'msg', n }); i.task.send({ n }); }
    await i.task.waitCount(100);
    assert.deepEqual(i.task.received.map((m) => m.n), [...Array(100).keys()]);
    assert.deepEqual((await res.waitLines(100)).map((m) => m.n), [...Array(100).keys()]);
    if (cFirst) {
      const closed = new Promise((resolve) => { i.task.close = resolve; });
      res.end();
      assert.equal(await closed, 1001);
      assert.equal(await res.exit(), 0, res.err);
    } else {
      i.c.disconnect();
      assert.equal(await res.exit(), 6, res.err);
      assert.match(res.err, /peer lost/);
    }
    await cleanup();
  }
}, { timeout: 40000 });

// ---------- wss:// ----------

// stunnel in front of the server with a self-signed certificate for 127.0.0.1.
async function tlsFront(dir) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'stunnel.conf'), [
    'foreground = yes', `pid = `, 'debug = 3',
    '[wss]', `accept = 127.0.0.1:${port}`, `connect = 127.0.0.1:${srv.port}`,
    `cert = ${path.join(dir, 'cert.pem')}`, `key = ${path.join(dir, 'key.pem')}`, ''].join('\n'));
  const p = spawn('stunnel4', [path.join(dir, 'stunnel.conf')], { stdio: 'ignore' });
  await waitForPort(port);
  return { p, port, ca: path.join(dir, 'cert.pem') };
}

test('C with C over wss:// (stunnel): verified against --ca; refused without it (exit 2)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-salty-tls-'));
  const front = await tlsFront(dir);
  try {
    const url = `wss://127.0.0.1:${front.port}`;
    const untrusted = new Cli(['initiator', url]);
    assert.equal(await untrusted.exit(), 2);
    assert.match(untrusted.err, /certificate of 127\.0\.0\.1 not accepted/);
    const { ini, res } = await cPair(url, ['--ca', front.ca]);
    ini.send({ type: 'msg', over: 'tls' });
    assert.deepEqual(await res.waitLines(1), [{ type: 'msg', over: 'tls' }]);
    res.send({ type: 'msg', back: 1 });
    assert.deepEqual(await ini.waitLines(1), [{ type: 'msg', back: 1 }]);
    ini.end();
    assert.equal(await ini.exit(), 0);
    assert.equal(await res.exit(), 0);
  } finally {
    front.p.kill();
  }
  await cleanup();
});

run({
  before: async () => { srv = await startServer({ args: ['--saltyrtc-pong-timeout', '2'] }); },
  after: async () => { for (const c of procs) c.kill(); if (srv) await srv.stop(); },
});
