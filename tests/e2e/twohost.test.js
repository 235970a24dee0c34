// The router on another host (issue 11, point 15): two network namespaces
// made here, joined by a veth pair with private addresses, the router in one
// ("router host", 10.231.0.1) and the supervisor with its workers in the
// other ("worker host", 10.231.0.2, and 10.231.0.3 as an address outside
// --allow-from). Real `ws` clients on the worker host (tests/e2e/lib/nspeer.js,
// run there with ip netns exec) carry WSChat messages over the tcp:// bus;
// a peer outside --allow-from and a supervisor with the wrong bus key are
// refused; the router restarts under connected clients. The namespaces are
// removed afterwards, on failure too. Skipped only where network namespaces
// cannot be made (not root, or no permission to unshare the network).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, execFileSync, spawnSync } = require('node:child_process');
const { test, run, assert, until } = require('./lib/harness');
const { bin } = require('./lib/server');

const tag = `sb${process.pid}`;
const NS_R = `${tag}r`, NS_W = `${tag}w`;
const ROUTER = '10.231.0.1', WORKERS = '10.231.0.2', OUTSIDER = '10.231.0.3';
const BUS_PORT = 7070;
const BUS = `tcp://${ROUTER}:${BUS_PORT}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-twohost-'));
const procs = [];
let made = false, peer, router;

function ip(...args) { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }); }

function removeNamespaces() {
  for (const p of procs) if (p.exitCode === null && !p.signalCode) p.kill('SIGKILL');
  for (const ns of [NS_R, NS_W]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}
process.on('exit', () => { if (made) removeNamespaces(); });

// Why namespaces cannot work here, or null when they can.
function cannot() {
  if (process.getuid() !== 0) return 'needs root (ip netns add)';
  const r = spawnSync('ip', ['netns', 'add', `${tag}probe`], { encoding: 'utf8' });
  if (r.error) return `no ip command: ${r.error.message}`;
  if (r.status !== 0) return `ip netns add fails here: ${r.stderr.trim()}`;
  // exec into it remounts /sys, which some containers forbid even then
  const e = spawnSync('ip', ['netns', 'exec', `${tag}probe`, process.execPath, '-e', '0'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', `${tag}probe`]);
  if (e.status !== 0) return `ip netns exec fails here: ${(e.stderr || '').trim()}`;
  return null;
}

function makeNamespaces() {
  ip('netns', 'add', NS_R);
  made = true;
  ip('netns', 'add', NS_W);
  // the pair is made inside the router's namespace, one end moved: no name in ours
  ip('-n', NS_R, 'link', 'add', 'sb0', 'type', 'veth', 'peer', 'name', 'sb1', 'netns', NS_W);
  ip('-n', NS_R, 'addr', 'add', `${ROUTER}/24`, 'dev', 'sb0');
  ip('-n', NS_W, 'addr', 'add', `${WORKERS}/24`, 'dev', 'sb1');
  ip('-n', NS_W, 'addr', 'add', `${OUTSIDER}/24`, 'dev', 'sb1'); // secondary: not the source of dials
  for (const [ns, dev] of [[NS_R, 'sb0'], [NS_W, 'sb1']]) {
    ip('-n', ns, 'link', 'set', dev, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
}

function keyFile(name) {
  const f = path.join(dir, name);
  fs.writeFileSync(f, crypto.randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  return f;
}

// A program of ours inside namespace ns, its output kept in .log.
function inNs(ns, prog, args) {
  const p = spawn('ip', ['netns', 'exec', ns, bin(prog), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.log = '';
  const keep = (d) => { p.log += d; };
  p.stdout.on('data', keep);
  p.stderr.on('data', keep);
  p.exited = new Promise((r) => p.on('exit', (code, sig) => r({ code, sig })));
  procs.push(p);
  return p;
}

async function stop(p) {
  if (p.exitCode === null && !p.signalCode) p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 10000);
  await p.exited;
  clearTimeout(t);
}

// The driver of nspeer.js on the worker host: call(op, args) → its answer.
function startPeer() {
  const p = spawn('ip', ['netns', 'exec', NS_W, process.execPath, path.join(__dirname, 'lib/nspeer.js')],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  procs.push(p);
  const waiting = new Map();
  let next = 1;
  readline.createInterface({ input: p.stdout }).on('line', (l) => {
    const m = JSON.parse(l);
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.value); else w.reject(new Error(m.error));
  });
  p.call = (op, args) => new Promise((resolve, reject) => {
    const id = next++;
    waiting.set(id, { resolve, reject });
    p.stdin.write(JSON.stringify({ id, op, args }) + '\n');
  });
  return p;
}

const key = keyFile('bus.key');

function startRouter(extra = []) {
  return inNs(NS_R, 'switchboard-router', ['--state-dir', path.join(dir, 'router'), '--listen', BUS,
    '--tap', 'none', '--bus-key', key, '--allow-from', `${WORKERS}/32`, ...extra]);
}

function startSupervisor(port, keyPath) {
  return inNs(NS_W, 'switchboard', ['--no-router', '--router-url', BUS, '--bus-key', keyPath,
    '--listen', `127.0.0.1:${port}`, '--state-dir', path.join(dir, `workers-${port}`), '--max-per-ip', '0']);
}

async function healthy(port) {
  const r = await peer.call('get', { url: `http://127.0.0.1:${port}/healthz` }).catch(() => null);
  return r && r.status === 200;
}

async function identify(name, url = 'ws://127.0.0.1:8080/wschat', ms = 10000) {
  await peer.call('open', { name, url });
  assert.equal((await peer.call('recv', { name })).type, 'init');
  await peer.call('send', { name, msg: { command: 'identify', name } });
  return peer.call('recv', { name, ms });
}

const why = cannot();
const netTest = why ? (name) => console.log(`# skip - ${name}: ${why}`) : test;
let sup;

netTest('WSChat between two clients on the worker host, through the router on the other', async () => {
  const a = await identify('alice');
  assert.equal(a.code, 300, sup.log + router.log);
  assert.equal((await identify('bob')).code, 300);
  await peer.call('send', { name: 'alice', msg: { command: 'message', to: 'bob', message: 'across the veth' } });
  const got = await peer.call('recv', { name: 'bob' });
  assert.equal(got.message, 'across the veth');
  await peer.call('send', { name: 'bob', msg: { command: 'message', to: 'alice', message: 'and back' } });
  assert.equal((await peer.call('recv', { name: 'alice' })).message, 'and back');
  assert.match(router.log, /tcp:\/\/ bus workers allowed from 10\.231\.0\.2\/32/);
});

netTest('a peer from an address outside --allow-from is refused at once, with its address logged', async () => {
  // from the allowed address the router answers with its SP handshake...
  const yes = await peer.call('dial', { host: ROUTER, port: BUS_PORT, local: WORKERS, ms: 10000, want: 8 });
  assert.ok(yes.connected && yes.bytes >= 8, JSON.stringify(yes));
  // ...from the other it closes without a byte
  const no = await peer.call('dial', { host: ROUTER, port: BUS_PORT, local: OUTSIDER, ms: 5000 });
  assert.deepEqual(no, { connected: true, bytes: 0, closed: true });
  await until(() => /refusing bus peer 10\.231\.0\.3: not in --allow-from/.test(router.log), 5000, router.log);
  assert.doesNotMatch(router.log, /refusing bus peer 10\.231\.0\.2/);
  const m = await peer.call('get', { url: 'http://127.0.0.1:8080/metrics' });
  assert.match(m.body, /^switchboard_bus_refused_address_total 1$/m);
});

netTest('the bus key holds over tcp://: a supervisor with another key gets no service', async () => {
  const other = startSupervisor(8081, keyFile('other.key'));
  await until(async () => (await peer.call('dial', { host: '127.0.0.1', port: 8081, ms: 300 })).connected, 10000,
    'the second supervisor');
  const before = (router.log.match(/no or wrong bus key/g) || []).length;
  const r = await identify('mallory', 'ws://127.0.0.1:8081/wschat', 1500);
  assert.equal(r, null, 'no answer through the bus');
  await until(() => (router.log.match(/no or wrong bus key/g) || []).length > before, 10000, 'the refusal');
  await peer.call('close', { name: 'mallory' });
  await stop(other);
});

netTest('clients on the worker host survive a router restart on the other', async () => {
  await stop(router);
  router = startRouter();
  await until(() => /bus listening on/.test(router.log), 10000, 'the router again');
  // the workers redial with backoff and register again; then messages flow
  await until(async () => {
    await peer.call('send', { name: 'alice', msg: { command: 'message', to: 'bob', message: 'after' } });
    const m = await peer.call('recv', { name: 'bob', ms: 500 });
    return m && m.message === 'after';
  }, 15000, 'a message after the restart');
});

netTest('off loopback without --allow-from the router refuses to start, naming the option', async () => {
  const p = inNs(NS_R, 'switchboard-router', ['--state-dir', path.join(dir, 'r2'), '--listen',
    `tcp://${ROUTER}:7071`, '--tap', 'none', '--bus-key', key]);
  const { code } = await p.exited;
  assert.equal(code, 2);
  assert.match(p.log, /tcp:\/\/10\.231\.0\.1:7071 is not a loopback address: .*--allow-from CIDR/);
});

run({
  before: async () => {
    if (why) return;
    makeNamespaces();
    router = startRouter();
    await until(() => /bus listening on/.test(router.log), 10000, 'the router');
    peer = startPeer();
    sup = startSupervisor(8080, key);
    await until(() => healthy(8080), 15000, `/healthz through the tcp:// bus\n${router.log}`);
  },
  after: async () => {
    if (!made) return fs.rmSync(dir, { recursive: true, force: true });
    if (peer) peer.stdin.end();
    for (const p of procs) await stop(p);
    removeNamespaces();
    made = false;
    const left = execFileSync('ip', ['netns', 'list']).toString();
    assert.ok(!left.includes(tag), `namespaces left: ${left}`);
    fs.rmSync(dir, { recursive: true, force: true });
  },
});
