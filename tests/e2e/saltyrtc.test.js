// SaltyRTC signalling end to end: the real @saltyrtc/client (and its
// relayed-data task) through our server, and every error path of
// proto/saltyrtc/README.md with a raw client of our own (lib/saltyraw.js).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { test: htest, run, assert, sleep, until } = require('./lib/harness');
// loaded CI machines and ASan: a minute per test unless it says otherwise; a
// test that overran would otherwise go on closing the next test's clients
const test = (name, fn, opts = {}) => htest(name, fn, { timeout: 60000, ...opts });
const { startServer } = require('./lib/server');
const { load, WsTask, once, tls, publicKeyOfSecretHex } = require('./lib/salty');
const { RawSalty, nonceOf, hex, nacl, msgpack } = require('./lib/saltyraw');
const { RawWs } = require('./lib/rawws');

let srv; // the main server: a key made in its state dir
let tsrv; // one with 2 s handshake and pong timeouts
const open = [];
const base = () => `ws://127.0.0.1:${srv.port}`;
const serverKeyHex = () => publicKeyOfSecretHex(fs.readFileSync(path.join(srv.stateDir, 'saltyrtc.key'), 'utf8'));

function raw(pathKey, opts = {}) {
  const c = new RawSalty(opts.base || base(), pathKey, opts);
  open.push(c);
  return c;
}

async function closeAll() {
  for (const c of open.splice(0)) c.close();
  await until(() => srv.workerPids().length === 0 && tsrv.workerPids().length === 0, 60000,
    'workers of closed clients to exit');
}
const short = () => ({ base: `ws://127.0.0.1:${tsrv.port}` });

// An initiator and n responders, all authenticated.
async function onPath(n = 1, opts = {}) {
  const ini = raw(null, opts);
  await ini.handshake('initiator');
  const rs = [];
  for (let i = 0; i < n; i++) {
    const r = raw(ini.keys.publicKey, opts);
    await r.handshake('responder');
    const { m } = await ini.serverMessage();
    assert.deepEqual(m, { type: 'new-responder', id: r.src });
    rs.push(r);
  }
  return { ini, rs };
}

// ---------- the real client ----------

async function pair(opts = {}) {
  const { client: S } = await load();
  const ik = new S.KeyStore(), rk = new S.KeyStore();
  const ti = opts.task ? opts.task() : new WsTask(), tr = opts.task ? opts.task() : new WsTask();
  const port = opts.port || srv.port;
  let bi = new S.SaltyRTCBuilder().connectTo('localhost', port).withKeyStore(ik).usingTasks([ti]);
  let br = new S.SaltyRTCBuilder().connectTo('localhost', port).withKeyStore(rk).usingTasks([tr]);
  if (opts.serverKey) { bi = bi.withServerKey(opts.serverKey); br = br.withServerKey(opts.serverKey); }
  const ini = bi.asInitiator();
  const res = br.initiatorInfo(ik.publicKeyBytes, ini.authTokenBytes).asResponder();
  const a = once(ini, 'state-change:task'), b = once(res, 'state-change:task');
  ini.connect();
  res.connect();
  await Promise.all([a, b]);
  return { ini, res, ti, tr };
}

async function hundredEachWay(p) {
  for (let i = 0; i < 100; i++) { p.ti.send({ n: i, from: 'i' }); p.tr.send({ n: i, from: 'r' }); }
  await p.ti.waitCount(100);
  await p.tr.waitCount(100);
  assert.deepEqual(p.tr.received.map((m) => m.n), [...Array(100).keys()]);
  assert.deepEqual(p.ti.received.map((m) => m.n), [...Array(100).keys()]);
  assert.ok(p.tr.received.every((m) => m.from === 'i') && p.ti.received.every((m) => m.from === 'r'));
}

test('npm client: handshake, 100 task messages each way, initiator closes first', async () => {
  const p = await pair();
  await hundredEachWay(p);
  const gone = once(p.res, 'peer-disconnected');
  p.ini.disconnect();
  assert.equal(await gone, 1);
  p.res.disconnect();
  await closeAll();
});

test('npm client with the server key pinned: 100 each way, responder closes first', async () => {
  const p = await pair({ serverKey: serverKeyHex() });
  await hundredEachWay(p);
  const gone = once(p.ini, 'peer-disconnected');
  p.res.disconnect();
  assert.ok((await gone) >= 2);
  p.ini.disconnect();
  await closeAll();
});

test('npm client refuses a server whose signed_keys do not match its pinned key', async () => {
  const { client: S } = await load();
  const wrong = hex(nacl.box.keyPair().publicKey);
  const ini = new S.SaltyRTCBuilder().connectTo('localhost', srv.port).withKeyStore(new S.KeyStore())
    .withServerKey(wrong).usingTasks([new WsTask()]).asInitiator();
  const failed = new Promise((resolve) => ini.on(['connection-error', 'connection-closed', 'state-change:closed'], resolve));
  ini.connect();
  await failed;
  assert.notEqual(ini.state, 'task');
  ini.disconnect();
  await closeAll();
});

test('npm client with the relayed-data task (the server is task-agnostic)', async () => {
  const { RelayedDataTask } = await load();
  const p = await pair({ task: () => new RelayedDataTask(false) });
  const got = { i: [], r: [] };
  p.ti.on('data', (ev) => got.i.push(ev.data));
  p.tr.on('data', (ev) => got.r.push(ev.data));
  for (let i = 0; i < 20; i++) { p.ti.sendMessage({ i, s: 'x'.repeat(i * 50) }); p.tr.sendMessage([i, 'r']); }
  await until(() => got.i.length === 20 && got.r.length === 20, 20000, 'relayed data both ways');
  assert.deepEqual(got.r.map((d) => d.i), [...Array(20).keys()]);
  assert.deepEqual(got.i.map((d) => d[0]), [...Array(20).keys()]);
  p.ini.disconnect();
  p.res.disconnect();
  await closeAll();
});

test('wss:// through stunnel (contrib/tls/stunnel.conf) with a self-signed certificate', async () => {
  const { execFileSync, spawn } = require('node:child_process');
  const { freePort, waitForPort, ROOT } = require('./lib/server');
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sb-tls-'));
  const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const port = await freePort();
  const conf = fs.readFileSync(path.join(ROOT, 'contrib/tls/stunnel.conf'), 'utf8')
    .replace(/^accept = .*$/m, `accept = 127.0.0.1:${port}`)
    .replace(/^connect = .*$/m, `connect = 127.0.0.1:${srv.port}`)
    .replace(/^cert = .*$/m, `cert = ${cert}`)
    .replace(/^key = .*$/m, `key = ${key}`);
  fs.writeFileSync(path.join(dir, 'stunnel.conf'), conf);
  const st = spawn('stunnel4', [path.join(dir, 'stunnel.conf')], { stdio: 'ignore' });
  try {
    await waitForPort(port);
    tls.on = true;
    tls.ca = fs.readFileSync(cert);
    const p = await pair({ port, serverKey: serverKeyHex() });
    await hundredEachWay(p);
    p.ini.disconnect();
    p.res.disconnect();
    // and the certificate is checked: without the CA the client does not get through
    tls.ca = null;
    const { client: S } = await load();
    const c = new S.SaltyRTCBuilder().connectTo('localhost', port).withKeyStore(new S.KeyStore())
      .usingTasks([new WsTask()]).asInitiator();
    const failed = new Promise((resolve) => c.on(['connection-error', 'connection-closed'], resolve));
    c.connect();
    await failed;
    assert.notEqual(c.state, 'task');
    c.disconnect();
  } finally {
    tls.on = false;
    tls.ca = null;
    st.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await closeAll();
});

// ---------- the endpoint ----------

test('a path that is not 64 hex digits: upgrade, then close 3001', async () => {
  for (const p of ['/abc', '/' + 'g'.repeat(64), '/' + 'a'.repeat(63), '/' + 'a'.repeat(64) + '?x=1']) {
    const c = raw(null, { path: p });
    await c.opened;
    assert.equal(c.ws.protocol, 'v1.saltyrtc.org');
    assert.equal(await c.closedWith(), 3001, p);
  }
  const upper = raw(null, { path: '/' + hex(nacl.box.keyPair().publicKey).toUpperCase() });
  await upper.hello(); // either case is a key
  await closeAll();
});

test('no shared subprotocol: upgrade without the header, then close 1002', async () => {
  // raw: `ws` itself gives up on a 101 without the subprotocol it asked for
  const c = await RawWs.connect(srv.port, '/' + hex(nacl.box.keyPair().publicKey));
  assert.equal(c.headers['sec-websocket-protocol'], undefined);
  const r = await c.waitForClose();
  assert.equal(r.close && r.close.code, 1002);
  c.destroy();
  await closeAll();
});

test('server-hello: plain, src and dst 0, a 32-byte key, 81 bytes', async () => {
  const c = raw();
  await c.opened;
  const p = await c.packet();
  assert.equal(p.length, 81);
  const n = nonceOf(p);
  assert.equal(n.src, 0);
  assert.equal(n.dst, 0);
  assert.ok(n.csn < 2 ** 32);
  const m = msgpack.decode(p.subarray(24));
  assert.equal(m.type, 'server-hello');
  assert.equal(m.key.length, 32);
  await closeAll();
});

test('a text frame and a packet of 24 bytes are closed with 3001', async () => {
  const a = raw();
  await a.hello();
  a.ws.send('hello');
  assert.equal(await a.closedWith(), 3001);
  const b = raw();
  await b.hello();
  b.sendRaw(Buffer.alloc(24));
  assert.equal(await b.closedWith(), 3001);
  await closeAll();
});

test('server-auth: initiator gets address 1 and responders, a responder initiator_connected', async () => {
  const ini = raw();
  const m = await ini.handshake('initiator');
  assert.equal(ini.src, 1);
  assert.deepEqual(m.responders, []);
  assert.ok(ini.server.cookie.equals(Buffer.from(m.your_cookie)) === false);
  assert.ok(ini.cookie.equals(m.your_cookie));
  const r = raw(ini.keys.publicKey);
  const rm = await r.handshake('responder');
  assert.equal(r.src, 2);
  assert.equal(rm.initiator_connected, true);
  assert.equal(rm.signed_keys.length, 80);
  await closeAll();
});

test('signed_keys opens with the pinned key over the server-auth nonce', async () => {
  const c = raw();
  await c.hello();
  c.sendBoxed(c.authMessage());
  const p = await c.packet();
  const plain = nacl.box.open(p.subarray(24), p.subarray(0, 24), c.serverKey, c.keys.secretKey);
  const m = msgpack.decode(Buffer.from(plain));
  const sk = nacl.box.open(m.signed_keys, p.subarray(0, 24), Buffer.from(serverKeyHex(), 'hex'), c.keys.secretKey);
  assert.ok(sk, 'signed_keys opens');
  assert.ok(Buffer.from(sk).equals(Buffer.concat([c.serverKey, Buffer.from(c.keys.publicKey)])));
  await closeAll();
});

test('responder ids: the lowest free slot, not len(responders)+2', async () => {
  const { ini, rs } = await onPath(2);
  assert.deepEqual(rs.map((r) => r.src), [2, 3]);
  rs[0].close();
  assert.deepEqual((await ini.serverMessage()).m, { type: 'disconnected', id: 2 });
  const r3 = raw(ini.keys.publicKey);
  await r3.handshake('responder');
  assert.equal(r3.src, 2);
  assert.deepEqual((await ini.serverMessage()).m, { type: 'new-responder', id: 2 });
  // 3 is still the other responder's: a relay to it arrives there
  ini.relay(3, Buffer.from('for three'));
  assert.equal((await rs[1].packet()).subarray(24).toString(), 'for three');
  await closeAll();
});

test('a late initiator: responders get new-initiator before its server-auth; it sees them', async () => {
  const key = nacl.box.keyPair();
  const r = raw(key.publicKey);
  const m = await r.handshake('responder');
  assert.equal(m.initiator_connected, false);
  const ini = raw(null, { keys: key });
  const im = await ini.handshake('initiator');
  assert.deepEqual(im.responders, [2]);
  assert.deepEqual((await r.serverMessage()).m, { type: 'new-initiator' });
  await closeAll();
});

test('relay: whole packets untouched, CSNs unchecked (decreasing, repeated, 2^48-1)', async () => {
  const { ini, rs: [r] } = await onPath(1);
  const sent = [];
  for (const csn of [7, 7, 3, 2 ** 48 - 1, 0]) sent.push(Buffer.concat([ini.relay(2, Buffer.from('x' + csn), { csn })]));
  for (const s of sent) {
    const p = await r.packet();
    assert.ok(p.subarray(0, 24).equals(s), 'nonce untouched');
  }
  const n = r.relay(1, Buffer.from([1, 2, 3]));
  const p = await ini.packet();
  assert.ok(p.equals(Buffer.concat([n, Buffer.from([1, 2, 3])])),
    `got ${p.toString('hex')} (${JSON.stringify(nonceOf(p))}) for ${n.toString('hex')}010203`);
  await closeAll();
});

test('3 x 64 KiB relayed then close: all three delivered, then disconnected', async () => {
  const { ini, rs: [r] } = await onPath(1);
  const big = [1, 2, 3].map((i) => Buffer.alloc(65536, i));
  for (const b of big) r.relay(1, b);
  r.ws.close(1000);
  for (const b of big) assert.ok((await ini.packet()).subarray(24).equals(b));
  assert.deepEqual((await ini.serverMessage()).m, { type: 'disconnected', id: 2 });
  await closeAll();
});

test('a responder\'s relay right after its server-auth comes after new-responder', async () => {
  const ini = raw();
  await ini.handshake('initiator');
  const r = raw(ini.keys.publicKey);
  await r.handshake('responder');
  r.relay(1, Buffer.from('first'));
  assert.deepEqual((await ini.serverMessage()).m, { type: 'new-responder', id: 2 });
  assert.equal((await ini.packet()).subarray(24).toString(), 'first');
  await closeAll();
});

test('unknown destination → send-error with the 8-byte id', async () => {
  const { ini } = await onPath(0);
  const n = ini.relay(0x42, Buffer.from('nobody'));
  const { m } = await ini.serverMessage();
  assert.equal(m.type, 'send-error');
  assert.ok(Buffer.from(m.id).equals(n.subarray(16, 24)));
  // a responder whose initiator is not there: the same
  const r = raw(nacl.box.keyPair().publicKey);
  await r.handshake('responder');
  const rn = r.relay(1, Buffer.from('no initiator'));
  const e = (await r.serverMessage()).m;
  assert.equal(e.type, 'send-error');
  assert.ok(Buffer.from(e.id).equals(rn.subarray(16, 24)));
  await closeAll();
});

test('a destination that does not read: relays past its queue bound get send-error, none lost', async () => {
  const { ini, rs: [r] } = await onPath(1);
  r.ws._socket.pause();
  const body = Buffer.alloc(65536, 7);
  const ids = [];
  for (let i = 0; i < 160; i++) ids.push(ini.relay(2, body).subarray(16, 24).toString('hex'));
  const errors = new Set();
  await ini.waitFor(() => { while (ini.events.length) {
    const p = ini.events.shift().d;
    const m = msgpack.decode(Buffer.from(nacl.box.open(p.subarray(24), p.subarray(0, 24), ini.serverKey, ini.keys.secretKey)));
    if (m.type === 'send-error') errors.add(Buffer.from(m.id).toString('hex'));
  } return errors.size > 0; }, 30000, 'send-errors');
  await sleep(500);
  r.ws._socket.resume();
  const got = new Set();
  await r.waitFor(() => { while (r.events.length) got.add(r.events.shift().d.subarray(16, 24).toString('hex'));
    while (ini.events.length) {
      const p = ini.events.shift().d;
      const m = msgpack.decode(Buffer.from(nacl.box.open(p.subarray(24), p.subarray(0, 24), ini.serverKey, ini.keys.secretKey)));
      if (m.type === 'send-error') errors.add(Buffer.from(m.id).toString('hex'));
    }
    return got.size + errors.size === ids.length; }, 60000, 'every relay delivered or refused');
  for (const id of ids) assert.ok(got.has(id) !== errors.has(id), 'each one exactly once: delivered or send-error');
  assert.equal(r.closeCode, null);
  await closeAll();
});

// ---------- nonce rules ----------

test('bad source or destination addresses close with 3001', async () => {
  const cases = [
    async () => { const c = raw(); await c.hello(); c.sendPlain({ type: 'client-hello', key: Buffer.alloc(32, 1) }, { src: 1 }); return c; },
    async () => { const c = raw(); await c.hello(); c.relay(1, Buffer.from('x')); return c; }, // before auth
    async () => { const { ini } = await onPath(0); ini.relay(1, Buffer.from('self')); return ini; },
    async () => { const { ini } = await onPath(0); ini.relay(2, Buffer.from('x'), { src: 3 }); return ini; },
    async () => { const { rs: [r] } = await onPath(1); r.relay(3, Buffer.from('to a responder')); return r; },
    async () => { const { rs: [r] } = await onPath(1); r.relay(2, Buffer.from('to itself')); return r; },
  ];
  for (const [i, make] of cases.entries()) {
    const c = await make();
    assert.equal(await c.closedWith(), 3001, `case ${i}`);
    await closeAll();
  }
});

test('cookie: our own cookie, or a changed one, closes with 3001', async () => {
  const a = raw();
  await a.hello();
  a.sendPlain({ type: 'client-hello', key: Buffer.from(a.keys.publicKey) }, { cookie: a.server.cookie });
  assert.equal(await a.closedWith(), 3001);
  const b = raw();
  await b.hello();
  b.sendPlain({ type: 'client-hello', key: Buffer.from(b.keys.publicKey) });
  b.sendBoxed(b.authMessage(), { cookie: Buffer.alloc(16, 9) });
  assert.equal(await b.closedWith(), 3001);
  await closeAll();
});

test('CSN: a jump, a repeat or a first overflow closes with 3001; 2^32-1 → 2^32 is accepted', async () => {
  const bad = [
    (c) => { c.sendPlain({ type: 'client-hello', key: Buffer.from(c.keys.publicKey) }); c.sendBoxed(c.authMessage(), { csn: c.csn + 1 }); },
    (c) => { c.sendPlain({ type: 'client-hello', key: Buffer.from(c.keys.publicKey) }, { csn: 10 }); c.sendBoxed(c.authMessage(), { csn: 10 }); },
    (c) => { c.sendPlain({ type: 'client-hello', key: Buffer.from(c.keys.publicKey) }, { csn: 2 ** 32 }); },
  ];
  for (const f of bad) {
    const c = raw(nacl.box.keyPair().publicKey);
    await c.hello();
    f(c);
    assert.equal(await c.closedWith(), 3001);
  }
  const ok = raw(nacl.box.keyPair().publicKey, { csn: 2 ** 32 - 1 });
  const m = await ok.handshake('responder');
  assert.equal(m.type, 'server-auth');
  await closeAll();
});

// ---------- messages out of place ----------

test('wrong message for the state closes with 3001', async () => {
  const cases = [
    (c) => c.sendPlain(c.authMessage()), // client-auth unencrypted
    (c) => c.sendPlain({ type: 'client-hello', key: 'not bin' }),
    (c) => c.sendPlain({ type: 'client-hello', key: Buffer.alloc(5) }),
    (c) => c.sendPlain({ type: 'server-hello', key: Buffer.alloc(32) }),
    (c) => { c.sendPlain({ type: 'client-hello', key: Buffer.from(c.keys.publicKey) }); c.sendPlain({ type: 'client-hello', key: Buffer.from(c.keys.publicKey) }); },
    (c) => { c.sendPlain({ type: 'client-hello', key: Buffer.from(c.keys.publicKey) }); c.sendBoxed({ type: 'drop-responder', id: 2 }); },
    (c) => c.sendBoxed({ ...c.authMessage(), your_cookie: Buffer.alloc(16) }, { key: c.serverKey }), // initiator, wrong cookie
    (c) => c.sendBoxed({ ...c.authMessage(), subprotocols: ['v0.saltyrtc.org'] }),
    (c) => c.sendBoxed({ ...c.authMessage(), ping_interval: -1 }),
    (c) => c.sendBoxed({ ...c.authMessage(), your_key: Buffer.alloc(31) }),
    (c) => c.sendRaw(Buffer.concat([c.nonce(0), Buffer.from([0xc1, 0x00])])),
  ];
  for (const [i, f] of cases.entries()) {
    const c = raw();
    await c.hello();
    f(c);
    assert.equal(await c.closedWith(), 3001, `case ${i}`);
  }
  // after the handshake: a second client-auth, and drop-responder from a responder
  const { ini, rs: [r] } = await onPath(1);
  ini.sendBoxed(ini.authMessage());
  assert.equal(await ini.closedWith(), 3001);
  r.sendBoxed({ type: 'drop-responder', id: 2 });
  assert.equal(await r.closedWith(), 3001);
  await closeAll();
});

test('your_key not among the server\'s keys → 3007; the right one → server-auth', async () => {
  const c = raw();
  await c.hello();
  c.sendBoxed(c.authMessage({ your_key: Buffer.from(nacl.box.keyPair().publicKey) }));
  assert.equal(await c.closedWith(), 3007);
  const d = raw();
  const m = await d.handshake('initiator', { your_key: Buffer.from(serverKeyHex(), 'hex') });
  assert.equal(m.signed_keys.length, 80);
  await closeAll();
});

// ---------- drop-responder ----------

test('drop-responder: each valid reason closes the responder with it, no reason with 3004, no disconnected', async () => {
  for (const reason of [3001, 3002, 3004, 3005, undefined]) {
    const { ini, rs: [r] } = await onPath(1);
    ini.relay(2, Buffer.from('before the drop'));
    ini.sendBoxed(reason === undefined ? { type: 'drop-responder', id: 2 } : { type: 'drop-responder', id: 2, reason });
    assert.equal((await r.packet()).subarray(24).toString(), 'before the drop');
    assert.equal(await r.closedWith(), reason || 3004);
    // no disconnected for it: the next thing the initiator gets is this send-error
    const n = ini.relay(2, Buffer.from('after'));
    const { m } = await ini.serverMessage();
    assert.equal(m.type, 'send-error');
    assert.ok(Buffer.from(m.id).equals(n.subarray(16, 24)));
    await closeAll();
  }
}, { timeout: 90000 });

test('drop-responder: an invalid reason or id closes the initiator with 3001; an absent responder is ignored', async () => {
  for (const msg of [{ reason: 3000 }, { reason: 1001 }, { reason: 'x' }, { id: 1 }, { id: 256 }]) {
    const { ini, rs: [r] } = await onPath(1);
    ini.sendBoxed({ type: 'drop-responder', id: 2, ...msg });
    assert.equal(await ini.closedWith(), 3001, JSON.stringify(msg));
    assert.deepEqual((await r.serverMessage()).m, { type: 'disconnected', id: 1 });
    await closeAll();
  }
  const { ini } = await onPath(0);
  ini.sendBoxed({ type: 'drop-responder', id: 9 });
  const n = ini.relay(9, Buffer.from('x'));
  const { m } = await ini.serverMessage();
  assert.equal(m.type, 'send-error'); // still connected, still served
  assert.ok(Buffer.from(m.id).equals(n.subarray(16, 24)));
  await closeAll();
}, { timeout: 90000 });

// ---------- path limits ----------

test('initiator replaced: the old one is closed with 3004, responders get new-initiator, no disconnected', async () => {
  const { ini, rs: [r] } = await onPath(1);
  const ini2 = raw(null, { keys: ini.keys });
  const m = await ini2.handshake('initiator');
  assert.deepEqual(m.responders, [2]);
  assert.equal(await ini.closedWith(), 3004);
  assert.deepEqual((await r.serverMessage()).m, { type: 'new-initiator' });
  r.relay(1, Buffer.from('to the new one'));
  assert.equal((await ini2.packet()).subarray(24).toString(), 'to the new one');
  await closeAll();
});

test('254 responders fill a path; the 255th is closed with 3000', async () => {
  const ini = raw();
  await ini.handshake('initiator');
  const batch = 16;
  const all = [];
  for (let i = 0; i < 254; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(254, i + batch); j++) group.push(raw(ini.keys.publicKey));
    await Promise.all(group.map((r) => r.handshake('responder')));
    all.push(...group);
  }
  assert.deepEqual(all.map((r) => r.src).sort((a, b) => a - b), [...Array(254).keys()].map((i) => i + 2));
  const extra = raw(ini.keys.publicKey);
  await extra.hello();
  extra.sendPlain({ type: 'client-hello', key: Buffer.from(extra.keys.publicKey) });
  extra.sendBoxed(extra.authMessage());
  assert.equal(await extra.closedWith(), 3000);
  await closeAll();
}, { timeout: 240000 });

// ---------- timeouts and the router ----------

test('a missing pong closes with 3008 (ping_interval 1)', async () => {
  const c = raw(null, { ...short(), autoPong: false });
  let pinged = false;
  c.ws.on('ping', () => { pinged = true; });
  await c.handshake('initiator', { ping_interval: 1 });
  assert.equal(await c.closedWith(10000), 3008);
  assert.ok(pinged);
  await closeAll();
});

test('pongs keep a client with ping_interval 1 connected', async () => {
  const c = raw(null, short());
  let pings = 0;
  c.ws.on('ping', () => { pings++; });
  await c.handshake('initiator', { ping_interval: 1 });
  await until(() => pings >= 3, 10000, 'three pings');
  assert.equal(c.closeCode, null);
  await closeAll();
});

test('a handshake not completed in time closes with 3008', async () => {
  const c = raw(null, short());
  await c.hello();
  assert.equal(await c.closedWith(10000), 3008);
  const d = raw(nacl.box.keyPair().publicKey, short());
  await d.hello();
  d.sendPlain({ type: 'client-hello', key: Buffer.from(d.keys.publicKey) });
  assert.equal(await d.closedWith(10000), 3008);
  await closeAll();
});

test('router restart mid-session: clients stay connected, the path comes back', async () => {
  const { ini, rs: [r] } = await onPath(1);
  const old = srv.routerPid();
  process.kill(old, 'SIGKILL');
  await until(() => srv.routerPid() && srv.routerPid() !== old, 20000, 'a new router');
  // relays go through once the workers have re-registered
  await until(async () => {
    ini.relay(2, Buffer.from('after restart'));
    const p = await ini.packet(3000).catch(() => null);
    if (p && p.length > 24 && nonceOf(p).src === 2) return true;
    if (p && nonceOf(p).src === 0) return false; // a send-error: not back yet
    const q = await r.packet(3000).catch(() => null);
    return q && q.subarray(24).toString() === 'after restart';
  }, 30000, 'relays after the restart');
  assert.equal(ini.closeCode, null);
  assert.equal(r.closeCode, null);
  // and the path is whole again: a new responder gets the next free id
  const r2 = raw(ini.keys.publicKey);
  await r2.handshake('responder');
  assert.equal(r2.src, 3);
  await closeAll();
}, { timeout: 60000 });

// ---------- keys and options ----------

const { execFileSync: runSync, spawnSync } = require('node:child_process');
const { bin } = require('./lib/server');

function keygen(file) {
  return runSync(bin('switchboard-router'), ['--saltyrtc-keygen', file]).toString().trim();
}

test('switchboard-router --saltyrtc-keygen writes a 0600 key and prints its public key; never over a file', async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sb-keys-'));
  const f = path.join(dir, 'a.key');
  const pk = keygen(f);
  assert.match(pk, /^[0-9a-f]{64}$/);
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
  assert.match(fs.readFileSync(f, 'utf8'), /^[0-9a-f]{64}\n$/);
  assert.equal(publicKeyOfSecretHex(fs.readFileSync(f, 'utf8')), pk);
  const again = spawnSync(bin('switchboard-router'), ['--saltyrtc-keygen', f]);
  assert.notEqual(again.status, 0);
  // the file named once (it was "--saltyrtc-keygen F: F: File exists")
  assert.match(again.stderr.toString(), /^switchboard-router: --saltyrtc-keygen \S*\/a\.key: File exists$/m);
  assert.equal(publicKeyOfSecretHex(fs.readFileSync(f, 'utf8')), pk, 'the old key is still there');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--saltyrtc-key: a missing, malformed or duplicate key file stops the start, naming the file', async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sb-keys-'));
  const good = path.join(dir, 'good.key'), bad = path.join(dir, 'bad.key'), copy = path.join(dir, 'copy.key');
  keygen(good);
  fs.copyFileSync(good, copy);
  fs.writeFileSync(bad, 'abc\n');
  const none = path.join(dir, 'none.key');
  const cases = [
    [['--saltyrtc-key', none], none, 'No such file or directory'],
    [['--saltyrtc-key', bad], bad, 'not a key file (one line of 64 hex digits of the secret key)'],
    [['--saltyrtc-key', good, '--saltyrtc-key', copy], copy, 'the same key is given twice'],
  ];
  for (const [args, file, why] of cases) {
    const r = spawnSync(bin('switchboard'), ['--listen', '127.0.0.1:0', '--state-dir', dir, ...args], { timeout: 10000 });
    assert.equal(r.status, 2, args.join(' '));
    // the file named once, after the option (it was "--saltyrtc-key F: F: ...")
    const line = r.stderr.toString().split('\n').find((l) => l.includes('--saltyrtc-key'));
    assert.equal(line, `switchboard: --saltyrtc-key ${file}: ${why}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('two --saltyrtc-key files: the first is primary, your_key picks the other; keyless: no signed_keys, 3007', async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sb-keys-'));
  const a = path.join(dir, 'a.key'), b = path.join(dir, 'b.key');
  const pa = Buffer.from(keygen(a), 'hex'), pb = Buffer.from(keygen(b), 'hex');
  const two = await startServer({ args: ['--saltyrtc-key', a, '--saltyrtc-key', b] });
  const keyless = await startServer({ args: ['--saltyrtc-keyless'] });
  const signedBy = async (port, extra) => {
    const c = new RawSalty(`ws://127.0.0.1:${port}`, null);
    await c.hello();
    c.sendBoxed(c.authMessage(extra));
    const p = await c.packet();
    const m = msgpack.decode(Buffer.from(nacl.box.open(p.subarray(24), p.subarray(0, 24), c.serverKey, c.keys.secretKey)));
    c.close();
    if (!m.signed_keys) return null;
    for (const [name, k] of [['a', pa], ['b', pb]])
      if (nacl.box.open(m.signed_keys, p.subarray(0, 24), k, c.keys.secretKey)) return name;
    return '?';
  };
  try {
    assert.equal(await signedBy(two.port, {}), 'a');
    assert.equal(await signedBy(two.port, { your_key: pb }), 'b');
    assert.equal(await signedBy(two.port, { your_key: pa }), 'a');
    assert.equal(await signedBy(keyless.port, {}), null);
    const c = new RawSalty(`ws://127.0.0.1:${keyless.port}`, null);
    await c.hello();
    c.sendBoxed(c.authMessage({ your_key: pa }));
    assert.equal(await c.closedWith(), 3007);
    assert.ok(!fs.existsSync(path.join(keyless.stateDir, 'saltyrtc.key')));
    assert.match(two.log, new RegExp(`server public key ${pa.toString('hex')} \\(primary\\)`));
  } finally {
    await two.stop();
    await keyless.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the default key: made in the state dir on first run (0600), its public key logged', async () => {
  const pk = serverKeyHex();
  assert.match(srv.log, new RegExp(`server public key ${pk} \\(primary\\)`));
  assert.equal(fs.statSync(path.join(srv.stateDir, 'saltyrtc.key')).mode & 0o777, 0o600);
});

// Last: no real worker broke the router's rules in all of the above (a
// worker re-sending its auth at its first registration did, under load).
test('the router never disconnected one of our workers', async () => {
  for (const [name, s] of [['main', srv], ['timeouts', tsrv]])
    assert.doesNotMatch(s.log, /saltyrtc: worker .*disconnecting that worker/, name);
});

run({
  before: async () => {
    srv = await startServer();
    tsrv = await startServer({ args: ['--saltyrtc-handshake-timeout', '2', '--saltyrtc-pong-timeout', '2'] });
  },
  after: async () => {
    for (const c of open) c.close();
    if (srv) await srv.stop();
    if (tsrv) await tsrv.stop();
  },
});
