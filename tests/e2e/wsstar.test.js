// WebSocketStar end to end: the real libp2p-websocket-star@0.10.2 transport
// (RSA, Ed25519 and secp256k1 peer ids) and socket.io-client@2 against the
// real supervisor, router and workers. Every rule of proto/wsstar/README.md
// has a test here; the error paths are driven with socket.io-client.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { test, run, assert, until, sleep } = require('./lib/harness');
const { startServer, ROOT } = require('./lib/server');
const { connect } = require('./lib/client');
const { RawWs, OP } = require('./lib/rawws');
const { launch } = require('./lib/chromium');

const WStar = require('libp2p-websocket-star');
const PeerId = require('peer-id');
const multiaddr = require('multiaddr');
const pull = require('pull-stream');
const io = require('socket.io-client');

let srv, loose, open; // the defaults; --wsstar-no-strict-multiaddr; --wsstar-no-crypto-challenge
const ids = {};
const cleanup = [];

const mkId = (keyType, bits) => new Promise((res, rej) => PeerId.create({ keyType, bits }, (e, id) => (e ? rej(e) : res(id))));
const sign = (id, data) => new Promise((res, rej) => id.privKey.sign(Buffer.from(data), (e, s) => (e ? rej(e) : res(s))));
const maOf = (s, id, tail = '/ws/p2p-websocket-star') => `/ip4/127.0.0.1/tcp/${s.port}${tail}/ipfs/${id.toB58String()}`;

// ---- socket.io-client helpers ----

function sio(s, nsp = '') {
  return new Promise((resolve, reject) => {
    const c = io(`http://127.0.0.1:${s.port}${nsp}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    cleanup.push(() => c.close());
    c.once('connect', () => resolve(c));
    c.once('connect_error', reject);
    c.once('error', (e) => { c.lastError = e; if (nsp) resolve(c); });
  });
}
const ask = (c, ...args) => new Promise((r) => c.emit(...args, (...a) => r(a)));
// An event whose ack must never come: a later ack on the same connection proves it.
async function noAck(c, ...args) {
  let got = null;
  c.emit(...args, (...a) => { got = a; });
  const [err] = await ask(c, 'ss-join', '/ip4/127.0.0.1/tcp/1/ws/p2p-websocket-star', '');
  assert.equal(typeof err, 'string'); // the probe was answered ...
  await sleep(100);
  assert.equal(got, null, `no ack for ${JSON.stringify(args)}`); // ... and the event before it was not
}
const nextEvent = (c, name, ms = 10000) => new Promise((res, rej) => {
  const t = setTimeout(() => rej(new Error(`no ${name} within ${ms} ms`)), ms);
  c.once(name, (...a) => { clearTimeout(t); res(a); });
});

// The two-step join with the challenge; resolves to the join ack.
async function join(c, id, ma) {
  const [err, nonce] = await ask(c, 'ss-join', ma, id.pubKey.bytes.toString('hex'));
  assert.equal(err, null);
  assert.match(nonce, /^[0-9a-f-]{72}$/);
  const sig = await sign(id, nonce);
  return ask(c, 'ss-join', ma, sig.toString('hex'));
}

// ---- libp2p-websocket-star helpers ----

// A transport listening on our server; collects discovered addresses.
async function peer(s, id) {
  const t = new WStar({ id });
  const ma = multiaddr(maOf(s, id));
  t.found = new Set();
  t.discovery.on('peer', (pi) => pi.multiaddrs.toArray().forEach((m) => t.found.add(String(m))));
  // every incoming connection echoes what it reads, prefixed
  t.received = [];
  t.listener = t.createListener((conn) => pull(conn, pull.map((b) => {
    t.received.push(b.toString());
    return Buffer.concat([Buffer.from('echo:'), b]);
  }), conn));
  await new Promise((r, j) => t.listener.listen(ma, (e) => (e ? j(e) : r())));
  t.ma = ma;
  cleanup.push(() => new Promise((r) => t.listener.close(r)));
  return t;
}

// Dials, writes the chunks, ends, and collects what comes back.
async function exchange(from, to, chunks) {
  const conn = await new Promise((r, j) => { const c = from.dial(to.ma, (e) => (e ? j(e) : r(c))); });
  const got = await new Promise((r, j) => pull(pull.values(chunks.map((x) => Buffer.from(x))), conn,
    pull.collect((e, v) => (e ? j(e) : r(v)))));
  return Buffer.concat(got).toString();
}

async function closeAll() {
  for (const f of cleanup.splice(0).reverse()) {
    try { await f(); } catch { /* already closed */ }
  }
  await until(() => [srv, loose, open].every((s) => s.workerPids().length === 0), 30000, 'workers to exit');
}

function metric(s, name) {
  try {
    const m = fs.readFileSync(path.join(s.stateDir, 'metrics.prom'), 'utf8').match(new RegExp(`^switchboard_wsstar_${name} (\\d+)$`, 'm'));
    return m ? Number(m[1]) : null;
  } catch { return null; }
}

// ---- the real client ----

test('libp2p peers with RSA, Ed25519 and secp256k1 ids join, discover each other, dial and exchange bytes both ways', async () => {
  const a = await peer(srv, ids.rsa), b = await peer(srv, ids.ed), c = await peer(srv, ids.secp);
  // A learnt B and C from their ws-peer events; C learnt A and B from its join ack
  await until(() => a.found.has(String(b.ma)) && a.found.has(String(c.ma)), 5000, 'A to discover B and C');
  await until(() => c.found.has(String(a.ma)) && c.found.has(String(b.ma)), 5000, 'C to discover A and B');
  assert.equal(await exchange(a, b, ['hello ', 'from A']), 'echo:hello echo:from A');
  assert.equal(await exchange(c, a, ['from C']), 'echo:from C');
  assert.equal(await exchange(b, c, [Buffer.alloc(200000, 'x').toString()]), 'echo:' + 'x'.repeat(200000));
  await closeAll();
}, { timeout: 60000 });

test('announcements repeat every interval, a copy per address, and stop when a peer leaves', async () => {
  const a = await peer(srv, ids.rsa);
  const c = await sio(srv);
  const maC = maOf(srv, ids.ed);
  const [err, , list] = await join(c, ids.ed, maC);
  assert.equal(err, null);
  assert.deepEqual(list, [String(a.ma)]);
  const seen = [];
  c.on('ws-peer', (m) => seen.push(m));
  await until(() => seen.length >= 2, 5000, 'two rounds of announcements');
  assert.ok(seen.every((m) => m === String(a.ma)), 'C is announced only the others: ' + seen);
  await new Promise((r) => a.listener.close(r));
  await sleep(2500);
  const before = seen.length;
  await sleep(2500);
  assert.equal(seen.length, before, 'no announcement of a peer that left');
  await closeAll();
}, { timeout: 60000 });

test('announcements of many servers\' addresses (more prefixes than a worker keeps apart) arrive whole', async () => {
  const c = await sio(open), d = await sio(open);
  const id = ids.ed.toB58String();
  const mine = [];
  for (let i = 0; i < 20; i++) { // 20 prefixes: each worker keeps 16 apart, the rest as whole addresses
    const ma = `/ip4/10.0.0.${i + 1}/tcp/${4000 + i}/ws/p2p-websocket-star/ipfs/${id}`;
    assert.equal((await ask(c, 'ss-join', ma, ''))[0], null);
    mine.push(ma);
  }
  const maD = maOf(open, ids.rsa);
  const seen = new Set();
  let toC = 0;
  d.on('ws-peer', (m) => seen.add(m));
  c.on('ws-peer', (m) => { if (m === maD) toC++; });
  assert.equal((await ask(d, 'ss-join', maD, ''))[0], null);
  await until(() => seen.size >= mine.length && toC >= mine.length, 30000, 'a round of announcements');
  assert.deepEqual([...seen].sort(), [...mine].sort());
  await closeAll();
}, { timeout: 60000 });

test('a reconnecting peer takes its address back and is dialable again', async () => {
  const a = await peer(srv, ids.rsa), b = await peer(srv, ids.ed);
  assert.equal(await exchange(a, b, ['one']), 'echo:one');
  const rejoined = nextEvent(b.listener.io, 'reconnect', 20000);
  b.listener.io.io.engine.close(); // the transport drops; socket.io-client reconnects and joins again
  await rejoined;
  await until(async () => {
    try { return (await exchange(a, b, ['two'])) === 'echo:two'; } catch { return false; }
  }, 15000, 'B back at its address');
  await closeAll();
}, { timeout: 60000 });

test('a newer connection takes an address over; the older one going does not remove it', async () => {
  const maB = maOf(srv, ids.ed), maA = maOf(srv, ids.rsa);
  const old = await sio(srv), fresh = await sio(srv), a = await sio(srv);
  assert.equal((await join(old, ids.ed, maB))[0], null);
  assert.equal((await join(fresh, ids.ed, maB))[0], null);
  assert.equal((await join(a, ids.rsa, maA))[0], null);
  // the old connection no longer holds it
  assert.deepEqual(await ask(old, 'ss-dial', maB, maA, 'o1'), ['Not authorized for this address']);
  const gone = until(() => srv.workerPids().length === 2, 10000, 'the old worker to exit');
  old.close();
  await gone;
  fresh.once('ss-incomming', (id, from, cb) => cb('fresh here'));
  assert.deepEqual(await ask(a, 'ss-dial', maA, maB, 'o2'), ['fresh here']);
  await closeAll();
});

// ---- Engine.IO / Socket.IO ----

test('open packet, then 40; ping answered with pong; other namespaces refused', async () => {
  const ws = await connect(`ws://127.0.0.1:${srv.port}/socket.io/?EIO=3&transport=websocket`);
  cleanup.push(() => ws.terminate());
  const open = JSON.parse((await ws.next()).slice(1));
  assert.equal(typeof open.sid, 'string');
  assert.equal(open.sid.length, 20);
  assert.deepEqual([open.upgrades, open.pingInterval, open.pingTimeout], [[], 25000, 20000]);
  assert.equal(await ws.next(), '40');
  ws.send('2probe');
  assert.equal(await ws.next(), '3probe');
  ws.send('2');
  assert.equal(await ws.next(), '3');
  ws.send('40/foo,');
  assert.equal(await ws.next(), '44/foo,"Invalid namespace"');
  const c = await sio(srv, '/other');
  assert.equal(c.lastError, 'Invalid namespace');
  // a malformed Socket.IO packet ends the connection
  ws.send('4x');
  assert.equal(await ws.next(), '41');
  assert.equal((await ws.closed).code, 1002);
  await closeAll();
});

test('long-polling and other Engine.IO versions get a clear 400', async () => {
  const get = (q) => new Promise((res, rej) => http.get(`http://127.0.0.1:${srv.port}/socket.io/?${q}`, (r) => {
    let body = '';
    r.on('data', (d) => { body += d; });
    r.on('end', () => res({ status: r.statusCode, body }));
  }).on('error', rej));
  assert.deepEqual(await get('EIO=3&transport=polling'), { status: 400, body: '{"code":0,"message":"Transport unknown"}' });
  await assert.rejects(connect(`ws://127.0.0.1:${srv.port}/socket.io/?EIO=3&transport=polling`), (e) => e.status === 400);
  await assert.rejects(connect(`ws://127.0.0.1:${srv.port}/socket.io/?EIO=4&transport=websocket`), (e) => e.status === 400);
  await closeAll();
});

test('41 from the client ends the connection and its registrations', async () => {
  const c = await sio(srv);
  const ma = maOf(srv, ids.ed);
  assert.equal((await join(c, ids.ed, ma))[0], null);
  c.close(); // sends 41
  const d = await sio(srv);
  await until(async () => (await ask(d, 'ss-dial', '/ip4/1.2.3.4/tcp/1/ws', ma, 'x'))[0] === 'Not authorized for this address', 5000);
  // a newcomer (a fresh connection each try: a challenge is per connection) is told of no one
  await until(async () => { const [, , l] = await join(await sio(srv), ids.rsa, maOf(srv, ids.rsa)); return l.length === 0; },
    5000, 'the closed peer to be gone');
  await closeAll();
});

// ---- join errors ----

test('ss-join errors: multiaddr strict and loose, missing key, wrong key, bad and wrong signatures', async () => {
  const c = await sio(srv);
  const wsOnly = maOf(srv, ids.ed, '/ws'); // no /p2p-websocket-star
  assert.deepEqual(await ask(c, 'ss-join', wsOnly, ''), ['Invalid multiaddr']);
  const l = await sio(loose);
  assert.deepEqual(await ask(l, 'ss-join', maOf(loose, ids.ed, '/ws'), ''), ['Crypto Challenge required but no Id provided']);
  const ma = maOf(srv, ids.ed);
  assert.deepEqual(await ask(c, 'ss-join', ma, ''), ['Crypto Challenge required but no Id provided']);
  assert.deepEqual(await ask(c, 'ss-join', ma, ids.rsa.pubKey.bytes.toString('hex')), ['Id is not matching']);
  assert.deepEqual(await ask(c, 'ss-join', ma, 'zz'), ['Id is not matching']);
  // per key type: a signature that cannot be read, one of another message
  for (const [name, id] of [['RSA', ids.rsa], ['Ed25519', ids.ed], ['secp256k1', ids.secp]]) {
    const m = maOf(srv, id);
    const [err, nonce] = await ask(c, 'ss-join', m, id.pubKey.bytes.toString('hex'));
    assert.equal(err, null, name);
    assert.deepEqual(await ask(c, 'ss-join', m, 'zz'), ['Crypto error'], name);
    if (name !== 'RSA') assert.deepEqual(await ask(c, 'ss-join', m, '00'), ['Crypto error'], name);
    const other = await sign(id, nonce + 'x');
    assert.deepEqual(await ask(c, 'ss-join', m, other.toString('hex')), ['Signature Invalid'], name);
    const right = await sign(id, nonce); // the challenge stays: the right one still passes
    assert.equal((await ask(c, 'ss-join', m, right.toString('hex')))[0], null, name);
  }
  await closeAll();
}, { timeout: 40000 });

test('--wsstar-no-crypto-challenge: a join registers at once; the real client refuses such a server', async () => {
  const c = await sio(open);
  const ma = maOf(open, ids.ed);
  assert.deepEqual(await ask(c, 'ss-join', ma, ''), [null, null, []]);
  const d = await sio(open);
  assert.deepEqual(await ask(d, 'ss-join', maOf(open, ids.rsa), 'anything'), [null, null, [ma]]);
  assert.deepEqual(await ask(d, 'ss-join', maOf(open, ids.rsa, '/ws'), ''), ['Invalid multiaddr']); // still strict
  const t = new WStar({ id: ids.secp });
  const l = t.createListener(() => {});
  l.on('error', () => {});
  await assert.rejects(new Promise((r, j) => l.listen(multiaddr(maOf(open, ids.secp)), (e) => (e ? j(e) : r()))),
    /crypto challenge disabled/);
  await closeAll();
});

test('events with arguments of the wrong types get no ack', async () => {
  const c = await sio(srv);
  await noAck(c, 'ss-join', 'hello', '');
  await noAck(c, 'ss-join', maOf(srv, ids.ed), 42);
  await noAck(c, 'ss-dial', maOf(srv, ids.ed), 'nope', 'id');
  await noAck(c, 'ss-dial', maOf(srv, ids.ed), maOf(srv, ids.rsa), 7);
  await closeAll();
});

test('an event named disconnect does not drop the registrations', async () => {
  const c = await sio(srv);
  const ma = maOf(srv, ids.ed);
  assert.equal((await join(c, ids.ed, ma))[0], null);
  c.io.engine.write('2["disconnect"]'); // socket.io-client will not emit a reserved name itself
  const d = await sio(srv);
  const [, , list] = await join(d, ids.rsa, maOf(srv, ids.rsa));
  assert.deepEqual(list, [ma]);
  await closeAll();
});

// ---- dials ----

async function pair() {
  const a = await sio(srv), b = await sio(srv);
  const maA = maOf(srv, ids.rsa), maB = maOf(srv, ids.ed);
  assert.equal((await join(a, ids.rsa, maA))[0], null);
  assert.equal((await join(b, ids.ed, maB))[0], null);
  return { a, b, maA, maB };
}

test('ss-dial errors: from an address not joined, to an unknown peer, a listener that refuses', async () => {
  const { a, b, maA, maB } = await pair();
  assert.deepEqual(await ask(a, 'ss-dial', maB, maA, 'd1'), ['Not authorized for this address']);
  assert.deepEqual(await ask(a, 'ss-dial', maA, maOf(srv, ids.secp), 'd2'), ['Peer not found']);
  b.once('ss-incomming', (id, from, cb) => { assert.deepEqual([id, from], ['d3', maA]); cb('I do not want it'); });
  assert.deepEqual(await ask(a, 'ss-dial', maA, maB, 'd3'), ['I do not want it']);
  await closeAll();
});

test('chunks before the reader accepts are queued, then relayed in order; ends pass both ways', async () => {
  const { a, b, maA, maB } = await pair();
  const S = 'socket.io-pull-stream.';
  const accepted = nextEvent(a, S + 'accept.d4.dialer');
  b.once('ss-incomming', (id, from, cb) => { b.pendingCb = cb; });
  const acked = ask(a, 'ss-dial', maA, maB, 'd4');
  await accepted;
  a.emit(S + 'queue.d4.dialer', Buffer.from('early 1'));
  a.emit(S + 'queue.d4.dialer', 'early 2'); // a text chunk arrives as bytes
  await until(() => b.pendingCb, 5000, 'ss-incomming');
  const got = [];
  b.on(S + 'queue.d4.dialer', (x) => got.push(Buffer.from(x).toString()));
  const ended = nextEvent(b, S + 'error.d4.dialer');
  a.emit(S + 'error.d4.dialer', true);
  await sleep(200);
  assert.deepEqual(got, [], 'nothing before the accept');
  b.emit(S + 'accept.d4.dialer');
  const listenerAccept = nextEvent(b, S + 'accept.d4.listener');
  b.pendingCb();
  assert.deepEqual(await acked, []);
  await listenerAccept;
  assert.deepEqual(await ended, [true]);
  assert.deepEqual(got, ['early 1', 'early 2']);
  a.emit(S + 'accept.d4.listener');
  const back = nextEvent(a, S + 'queue.d4.listener');
  b.emit(S + 'queue.d4.listener', Buffer.from([0, 1, 2, 255]));
  assert.deepEqual([...(await back)[0]], [0, 1, 2, 255]);
  const backEnd = nextEvent(a, S + 'error.d4.listener');
  b.emit(S + 'error.d4.listener', 'listener error text');
  assert.deepEqual(await backEnd, ['listener error text']);
  await closeAll();
});

test('a peer vanishing mid-stream ends the other side with error true', async () => {
  const { a, b, maA, maB } = await pair();
  const S = 'socket.io-pull-stream.';
  b.once('ss-incomming', (id, from, cb) => { b.emit(S + 'accept.d5.dialer'); cb(); });
  assert.deepEqual(await ask(a, 'ss-dial', maA, maB, 'd5'), []);
  a.emit(S + 'accept.d5.listener');
  const ended = nextEvent(a, S + 'error.d5.listener');
  b.close();
  assert.deepEqual(await ended, [true]);
  await closeAll();
});

test('chunks that reach a worker after its client left are dropped without a warning', async () => {
  // the reader is a raw client that ends the WebSocket but keeps TCP open: its
  // worker lingers (waiting for the FIN) while the router still relays to it
  const S = 'socket.io-pull-stream.';
  const from = open.log.length;
  const a = await sio(open);
  const maA = maOf(open, ids.rsa), maB = maOf(open, ids.ed);
  assert.equal((await ask(a, 'ss-join', maA, ''))[0], null);
  const b = await RawWs.connect(open.port, '/socket.io/?EIO=3&transport=websocket');
  cleanup.push(() => b.destroy());
  const text = async () => { // the next text packet, announcements aside
    for (;;) {
      const e = await b.next();
      if (e.opcode === OP.TEXT && !e.data.toString().startsWith('42["ws-peer"')) return e.data.toString();
    }
  };
  assert.equal((await text()).slice(0, 1), '0');
  assert.equal(await text(), '40');
  b.send(OP.TEXT, `420["ss-join",${JSON.stringify(maB)},""]`);
  assert.match(await text(), /^430\[null/);
  const acked = ask(a, 'ss-dial', maA, maB, 'dq');
  const inc = await text();
  assert.match(inc, /^42\d+\["ss-incomming","dq"/);
  b.send(OP.TEXT, `43${/^42(\d+)/.exec(inc)[1]}[]`);
  b.send(OP.TEXT, `42["${S}accept.dq.dialer"]`);
  assert.deepEqual(await acked, []);
  let over = false;
  const ended = nextEvent(a, S + 'error.dq.listener', 20000).then((v) => { over = true; return v; });
  a.emit(S + 'accept.dq.listener');
  const chunk = Buffer.alloc(4096, 0x63);
  a.emit(S + 'queue.dq.dialer', chunk);
  await b.waitFor(() => b.events.some((e) => e.opcode === OP.BINARY), 10000, 'the first chunk');
  b.sendClose(1000, '');
  for (let i = 0; i < 5000 && !over; i++) {
    a.emit(S + 'queue.dq.dialer', chunk);
    await sleep(1);
  }
  assert.deepEqual(await ended, [true]);
  const log = open.log.slice(from);
  assert.ok(!/envelope for protocol wsstar ignored/.test(log), log);
  await closeAll();
}, { timeout: 40000 });

test('past the relay bound the stream ends with an error to both peers, and is counted', async () => {
  const { a, b, maA, maB } = await pair();
  const S = 'socket.io-pull-stream.';
  const before = metric(srv, 'relay_overflows_total') || 0;
  b.once('ss-incomming', (id, from, cb) => cb()); // answers, but never accepts d6.dialer
  assert.deepEqual(await ask(a, 'ss-dial', maA, maB, 'd6'), []);
  const toB = nextEvent(b, S + 'error.d6.dialer'), toA = nextEvent(a, S + 'error.d6.listener');
  const chunk = Buffer.alloc(256 * 1024, 7);
  for (let i = 0; i < 5; i++) a.emit(S + 'queue.d6.dialer', chunk); // 1.25 MiB > 1 MiB per stream
  assert.deepEqual(await toB, ['relay limit exceeded']);
  assert.deepEqual(await toA, ['relay limit exceeded']);
  await until(() => metric(srv, 'relay_overflows_total') === before + 1, 5000, 'the overflow in metrics.prom');
  // the connections stay up: a new dial works
  b.once('ss-incomming', (id, from, cb) => cb('busy'));
  assert.deepEqual(await ask(a, 'ss-dial', maA, maB, 'd7'), ['busy']);
  await closeAll();
});

test('a reader that does not read: its dial ends at the router bound, both peers told', async () => {
  const { a, b, maA, maB } = await pair();
  const S = 'socket.io-pull-stream.';
  const before = metric(srv, 'relay_overflows_total') || 0;
  b.once('ss-incomming', (id, from, cb) => { b.emit(S + 'accept.d8.dialer'); cb(); });
  assert.deepEqual(await ask(a, 'ss-dial', maA, maB, 'd8'), []);
  const toA = nextEvent(a, S + 'error.d8.listener', 30000), toB = nextEvent(b, S + 'error.d8.dialer', 30000);
  const tcp = b.io.engine.transport.ws._socket;
  tcp.pause(); // B's client stops reading: its worker holds credit back, and the router's queue for it grows
  let over = false;
  toA.then(() => { over = true; });
  const chunk = Buffer.alloc(512 * 1024, 1);
  for (let i = 0; i < 400 && !over; i++) {
    a.emit(S + 'queue.d8.dialer', chunk);
    await sleep(10);
  }
  assert.deepEqual(await toA, ['relay limit exceeded']);
  tcp.resume();
  assert.deepEqual(await toB, ['relay limit exceeded']);
  await until(() => metric(srv, 'relay_overflows_total') === before + 1, 5000, 'the overflow in metrics.prom');
  assert.ok(b.connected, 'the slow reader is not closed as too slow');
  await closeAll();
}, { timeout: 60000 });

// ---- router restart ----

test('router restart: clients stay connected, peers and announcements come back', async () => {
  const a = await peer(srv, ids.rsa), b = await peer(srv, ids.ed);
  let dropped = 0;
  a.listener.io.on('disconnect', () => dropped++);
  b.listener.io.on('disconnect', () => dropped++);
  // a dial open across the restart: the router forgets it, and both peers are told
  const S = 'socket.io-pull-stream.';
  const x = await sio(srv), y = await sio(srv);
  const maX = maOf(srv, ids.secp, '/ws/p2p-websocket-star'), maY = `/ip4/127.0.0.1/tcp/${srv.port}/ws/p2p-websocket-star/ipfs/${ids.rsa2.toB58String()}`;
  assert.equal((await join(x, ids.secp, maX))[0], null);
  assert.equal((await join(y, ids.rsa2, maY))[0], null);
  y.once('ss-incomming', (id, from, cb) => cb());
  assert.deepEqual(await ask(x, 'ss-dial', maX, maY, 'r1'), []);
  const lostX = nextEvent(x, S + 'error.r1.listener'), lostY = nextEvent(y, S + 'error.r1.dialer');
  const old = srv.routerPid();
  process.kill(old, 'SIGKILL');
  await until(() => srv.routerPid() && srv.routerPid() !== old, 15000, 'router restart');
  assert.deepEqual(await lostX, ['relay lost']);
  assert.deepEqual(await lostY, ['relay lost']);
  x.close();
  y.close();
  // a newcomer sees both in its join ack once they have registered again
  let c;
  await until(async () => {
    c = await sio(srv); // a fresh connection each try: a challenge is per connection
    const [err, , list] = await join(c, ids.secp, maOf(srv, ids.secp));
    return !err && list.includes(String(a.ma)) && list.includes(String(b.ma));
  }, 15000, 'A and B registered again');
  const seen = new Set();
  c.on('ws-peer', (m) => seen.add(m));
  await until(() => seen.has(String(a.ma)) && seen.has(String(b.ma)), 5000, 'announcements of A and B');
  assert.equal(await exchange(a, b, ['after restart']), 'echo:after restart');
  assert.equal(dropped, 0, 'the clients stayed connected');
  await closeAll();
}, { timeout: 60000 });

// ---- headless Chromium ----

// The page's bundle (browserify, from node_modules: no network), made once
// and kept in build/ while the page and the lock file are unchanged.
function bundle() {
  const page = path.join(__dirname, 'browser/wsstar-page.js');
  const out = path.join(ROOT, 'build/e2e-cache/wsstar-page.bundle.js');
  const newest = Math.max(fs.statSync(page).mtimeMs, fs.statSync(path.join(__dirname, 'package-lock.json')).mtimeMs);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < newest) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    execFileSync(path.join(__dirname, 'node_modules/.bin/browserify'), [page, '-o', out + '.tmp'], { cwd: __dirname });
    fs.renameSync(out + '.tmp', out);
  }
  return out;
}

// A directory the workers (nobody) can read, with the page and its bundle.
function pageDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-wsstar-page-'));
  fs.chmodSync(dir, 0o755);
  fs.copyFileSync(bundle(), path.join(dir, 'bundle.js'));
  fs.writeFileSync(path.join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>wsstar</title><script src="bundle.js"></script>\n');
  for (const f of ['bundle.js', 'index.html']) fs.chmodSync(path.join(dir, f), 0o644);
  return dir;
}

test('libp2p-websocket-star in headless Chromium and a Node peer dial each other through the server', async () => {
  const dir = pageDir();
  const web = await startServer({ args: ['--static-dir', dir, '--wsstar-announce-interval', '1000'] });
  cleanup.push(() => web.stop(), () => fs.rmSync(dir, { recursive: true, force: true }));
  const node = await peer(web, ids.rsa);
  const browser = await launch();
  cleanup.push(() => browser.close());
  const page = await browser.open(`http://127.0.0.1:${web.port}/index.html?peer=${encodeURIComponent(String(node.ma))}`);
  const state = 'JSON.stringify(window.wsstarTest)';
  // the browser joined with the challenge (Ed25519 id, WebCrypto) and found us
  await page.waitFor('window.wsstarTest && (window.wsstarTest.error || window.wsstarTest.step === "done")', 40000,
    'the browser peer to dial us');
  const st = JSON.parse(await page.evaluate(state));
  assert.equal(st.error, null, st.error);
  assert.equal(st.reply, 'echo:hello from chromium');
  assert.ok(node.received.includes('hello from chromium'));
  // and the other way: we dial the browser
  await until(() => node.found.has(st.ma), 10000, 'us to discover the browser peer');
  assert.equal(await exchange(node, { ma: multiaddr(st.ma) }, ['hello from node']), 'browser echo:hello from node');
  await page.screenshot('wsstar-chromium');
  await closeAll();
}, { timeout: 90000 });

run({
  before: async () => {
    [ids.rsa, ids.ed, ids.secp, ids.rsa2] = await Promise.all([mkId('RSA', 2048), mkId('Ed25519', 256),
      mkId('secp256k1', 256), mkId('RSA', 1024)]);
    srv = await startServer({ args: ['--wsstar-announce-interval', '1000'] });
    loose = await startServer({ args: ['--wsstar-no-strict-multiaddr'] });
    open = await startServer({ args: ['--wsstar-no-crypto-challenge'] });
  },
  after: async () => {
    await closeAll().catch(() => {});
    await srv.stop();
    await loose.stop();
    await open.stop();
  },
});
