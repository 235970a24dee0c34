// WSChat end to end: real supervisor, router and workers, real `ws` clients.
// Every rule of proto/wschat/README.md has a test here.
'use strict';
const { test, run, assert, until } = require('./lib/harness');
const { startServer, ASAN } = require('./lib/server');
const { connect, quiet } = require('./lib/client');

let srv;
const open = [];

async function client() {
  const ws = await connect(srv.url('/wschat'));
  open.push(ws);
  const init = await ws.nextJSON();
  assert.deepEqual(init, { type: 'init', message: 'Please identify to receive messages.' });
  return ws;
}

async function identified(name) {
  const ws = await client();
  ws.sendJSON({ command: 'identify', name });
  assert.deepEqual(await ws.nextJSON(), { type: 'outcome', success: true, message: 'Identified successfully!', code: 300 });
  return ws;
}

const outcome = (code, message) => ({ type: 'outcome', success: code === 300, message, code });

// Waits for the workers to exit too: an identified client's quit event
// reaches every other identified client, and a late one would land in the
// middle of the next test's expected answers.
async function closeAll(ms = 30000) {
  for (const ws of open.splice(0)) ws.terminate();
  await until(() => srv.workerPids().length === 0, ms, 'workers of the closed clients to exit');
}

test('init message is sent at once on open', async () => {
  await client();
  await closeAll();
});

test('identify succeeds with 300', async () => {
  await identified('alice');
  await closeAll();
});

test('identify with a taken name gets 305', async () => {
  await identified('taken');
  const b = await client();
  b.sendJSON({ command: 'identify', name: 'taken' });
  assert.deepEqual(await b.nextJSON(), outcome(305, 'Client with that name already exists!'));
  await closeAll();
});

test('missing command gets 400, even before identify', async () => {
  const a = await client();
  a.sendJSON({ name: 'x' });
  assert.deepEqual(await a.nextJSON(), outcome(400, "Missing 'command' field!"));
  await closeAll();
});

test('a JSON value that is not an object gets the missing-command 400', async () => {
  const a = await client();
  for (const v of ['[1,2]', '"identify"', '42', 'null']) {
    a.send(v);
    assert.deepEqual(await a.nextJSON(), outcome(400, "Missing 'command' field!"));
  }
  await closeAll();
});

test('identify without name gets 400 naming the field', async () => {
  const a = await client();
  a.sendJSON({ command: 'identify' });
  assert.deepEqual(await a.nextJSON(), outcome(400, "Missing 'name' field!"));
  await closeAll();
});

test('invalid names get 400 Invalid name (number, array, empty, over 64 bytes)', async () => {
  const a = await client();
  for (const name of [5, ['a'], '', 'x'.repeat(65), 'é'.repeat(33), null, { a: 1 }]) {
    a.sendJSON({ command: 'identify', name });
    assert.deepEqual(await a.nextJSON(), outcome(400, "Invalid 'name' field!"), JSON.stringify(name));
  }
  a.sendJSON({ command: 'identify', name: 'y'.repeat(64) });
  assert.deepEqual(await a.nextJSON(), outcome(300, 'Identified successfully!'));
  await closeAll();
});

test('commands before identify get outcome 10 and the socket stays open', async () => {
  const a = await client();
  for (const command of ['broadcast', 'message', 'bogus', 7]) {
    a.sendJSON({ command, message: 'm', to: 'x' });
    assert.deepEqual(await a.nextJSON(), outcome(10, 'Please identify yourself!'));
  }
  assert.equal(a.readyState, 1);
  await closeAll();
});

test('broadcast needs message (400), message needs message then to (400 each)', async () => {
  const a = await identified('fields');
  a.sendJSON({ command: 'broadcast' });
  assert.deepEqual(await a.nextJSON(), outcome(400, "Missing 'message' field!"));
  a.sendJSON({ command: 'message', to: 'fields' });
  assert.deepEqual(await a.nextJSON(), outcome(400, "Missing 'message' field!"));
  a.sendJSON({ command: 'message' });
  assert.deepEqual(await a.nextJSON(), outcome(400, "Missing 'message' field!"));
  a.sendJSON({ command: 'message', message: 1 });
  assert.deepEqual(await a.nextJSON(), outcome(400, "Missing 'to' field!"));
  await closeAll();
});

test('message to an unknown or unidentified client gets 404', async () => {
  const a = await identified('sender404');
  await client(); // connected but never identified
  for (const to of ['nobody', 5, ['x'], 'z'.repeat(100)]) {
    a.sendJSON({ command: 'message', to, message: 'hi' });
    assert.deepEqual(await a.nextJSON(), outcome(404, 'No client with that name is currently connected!'));
  }
  await closeAll();
});

test('message is delivered verbatim with from; no outcome on success', async () => {
  const a = await identified('m-a');
  const b = await identified('m-b');
  const payload = { nested: [1, 2.5, 'three', null, true, { x: 'é😀' }] };
  a.sendJSON({ command: 'message', to: 'm-b', message: payload, extra: 'dropped' });
  assert.deepEqual(await b.nextJSON(), { type: 'message', from: 'm-a', message: payload });
  await quiet(a);
  await closeAll();
});

test('message JSON is forwarded exactly as written (numbers, escapes, spacing)', async () => {
  const a = await identified('raw-a');
  const b = await identified('raw-b');
  a.send('{"command":"message","to":"raw-b","message":  [1.50e+3, "\\u00e9\\n", -0]  }');
  assert.equal(await b.next(), '{"type":"message","from":"raw-a","message":[1.50e+3, "\\u00e9\\n", -0]}');
  await closeAll();
});

test('a message to yourself is delivered', async () => {
  const a = await identified('self');
  a.sendJSON({ command: 'message', to: 'self', message: 'me' });
  assert.deepEqual(await a.nextJSON(), { type: 'message', from: 'self', message: 'me' });
  await closeAll();
});

test('broadcast reaches every identified client except the sender, not unidentified ones', async () => {
  const a = await identified('b-a');
  const b = await identified('b-b');
  const c = await identified('b-c');
  const anon = await client();
  a.sendJSON({ command: 'broadcast', message: { hello: 'all' } });
  for (const ws of [b, c]) assert.deepEqual(await ws.nextJSON(), { type: 'broadcast', from: 'b-a', message: { hello: 'all' } });
  await quiet(a);
  await quiet(anon, 100);
  await closeAll();
});

test('quit is sent to identified clients when an identified client leaves', async () => {
  const a = await identified('q-a');
  const b = await identified('q-b');
  const anon = await client();
  b.close();
  assert.deepEqual(await a.nextJSON(), { type: 'quit', who: 'q-b' });
  await quiet(anon, 100);
  // the name is free again
  const c = await client();
  c.sendJSON({ command: 'identify', name: 'q-b' });
  assert.deepEqual(await c.nextJSON(), outcome(300, 'Identified successfully!'));
  await closeAll();
});

test('an abrupt disconnect (TCP reset) also sends quit', async () => {
  const a = await identified('r-a');
  const b = await identified('r-b');
  b.terminate();
  assert.deepEqual(await a.nextJSON(), { type: 'quit', who: 'r-b' });
  await closeAll();
});

test('re-identify with the same name is idempotent (300 again, no quit)', async () => {
  const a = await identified('same');
  const b = await identified('watcher1');
  a.sendJSON({ command: 'identify', name: 'same' });
  assert.deepEqual(await a.nextJSON(), outcome(300, 'Identified successfully!'));
  await quiet(b);
  await closeAll();
});

test('re-identify with a new name releases the old one (others get quit)', async () => {
  const a = await identified('old-name');
  const b = await identified('watcher2');
  a.sendJSON({ command: 'identify', name: 'new-name' });
  assert.deepEqual(await a.nextJSON(), outcome(300, 'Identified successfully!'));
  assert.deepEqual(await b.nextJSON(), { type: 'quit', who: 'old-name' });
  b.sendJSON({ command: 'message', to: 'old-name', message: 1 });
  assert.deepEqual(await b.nextJSON(), outcome(404, 'No client with that name is currently connected!'));
  b.sendJSON({ command: 'message', to: 'new-name', message: 2 });
  assert.deepEqual(await a.nextJSON(), { type: 'message', from: 'watcher2', message: 2 });
  await closeAll();
});

test('names are compared exactly (case, escapes, unicode)', async () => {
  const a = await identified('Bob');
  const b = await client();
  b.sendJSON({ command: 'identify', name: 'bob' });
  assert.deepEqual(await b.nextJSON(), outcome(300, 'Identified successfully!'));
  const c = await client();
  c.send('{"command":"identify","name":"\\u0042ob"}'); // "Bob" written with an escape
  assert.deepEqual(await c.nextJSON(), outcome(305, 'Client with that name already exists!'));
  c.sendJSON({ command: 'identify', name: 'Bob\u0000' });
  assert.deepEqual(await c.nextJSON(), outcome(300, 'Identified successfully!'));
  a.sendJSON({ command: 'message', to: 'Bob\u0000', message: 'nul' });
  assert.deepEqual(await c.nextJSON(), { type: 'message', from: 'Bob', message: 'nul' });
  await closeAll();
});

test('malformed JSON gets 400 Malformed JSON! and the connection stays open', async () => {
  const a = await identified('malformed');
  for (const bad of ['not json', '{"command":', '{"command":"broadcast" "message":1}', '{"a":tru}', '[1,]', '{"a":01}', '']) {
    a.send(bad);
    assert.deepEqual(await a.nextJSON(), outcome(400, 'Malformed JSON!'), bad);
  }
  a.sendJSON({ command: 'message', to: 'malformed', message: 'still here' });
  assert.deepEqual(await a.nextJSON(), { type: 'message', from: 'malformed', message: 'still here' });
  await closeAll();
});

test('answers come back in the order the commands were sent', async () => {
  const a = await identified('order-a');
  a.sendJSON({ command: 'message', to: 'ghost', message: 1 });
  a.send('garbage');
  a.sendJSON({ command: 'broadcast' });
  a.sendJSON({ name: 1 });
  assert.equal((await a.nextJSON()).code, 404);
  assert.equal((await a.nextJSON()).message, 'Malformed JSON!');
  assert.equal((await a.nextJSON()).message, "Missing 'message' field!");
  assert.equal((await a.nextJSON()).message, "Missing 'command' field!");
  await closeAll();
});

test('unknown commands after identify are ignored', async () => {
  const a = await identified('ignorer');
  a.sendJSON({ command: 'dance', message: 1 });
  await quiet(a);
  await closeAll();
});

test('binary frames close the connection with 1003', async () => {
  const a = await identified('binary');
  const b = await identified('binwatch');
  a.send(Buffer.from([1, 2, 3]));
  const { code } = await a.closed;
  assert.equal(code, 1003);
  assert.deepEqual(await b.nextJSON(), { type: 'quit', who: 'binary' });
  await closeAll();
});

test('per-sender order is preserved for 2000 messages', async () => {
  const a = await identified('seq-a');
  const b = await identified('seq-b');
  const N = 2000;
  for (let i = 0; i < N; i++) a.sendJSON({ command: 'message', to: 'seq-b', message: i });
  for (let i = 0; i < N; i++) assert.equal((await b.nextJSON()).message, i);
  await closeAll();
}, { timeout: 60000 });

test('broadcast to 1000 identified clients reaches all of them', async () => {
  const N = ASAN ? 100 : 1000; // ASan workers are ~20x larger
  const clients = [];
  for (let i = 0; i < N; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 50); j++) batch.push(identified('fan' + j));
    clients.push(...await Promise.all(batch));
  }
  const sender = await identified('fan-sender');
  sender.sendJSON({ command: 'broadcast', message: 'to everyone' });
  const got = await Promise.all(clients.map((c) => c.nextJSON(30000)));
  for (const m of got) assert.deepEqual(m, { type: 'broadcast', from: 'fan-sender', message: 'to everyone' });
  assert.equal(got.length, N);
  await closeAll(60000);
}, { timeout: 180000 });

// ---- a fake worker on the bus, a fake router for a real worker ----

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { spClient, spServer, mp, RawStr } = require('./lib/sp');
const { bin, freePort, waitForPort } = require('./lib/server');

let fakeConn = 1000;

// A rogue bus peer that registers as a WSChat worker and identifies as name.
async function fakeWorker(name) {
  const c = await spClient(path.join(srv.stateDir, 'bus.ipc'));
  c.send(Buffer.concat([
    mp({ v: 1, p: 'core', op: 'hello', conn: fakeConn++, pid: 1, proto: 'wschat', credit: 2 }),
    mp({ v: 1, p: 'wschat', op: 'identify', name }),
  ]));
  return c;
}

// What a client must get instead of a forged value: nothing but the quit
// of the fake worker's name once the router has disconnected it.
async function expectOnlyQuit(ws, name) {
  assert.deepEqual(await ws.nextJSON(), { type: 'quit', who: name });
  await quiet(ws, 200);
}

test('the router disconnects a worker whose message value is not exactly one JSON value', async () => {
  const alice = await identified('alice');
  const values = ['1,"from":"alice"', '1}', '{"a":1', '', '1 2', '"a" , "b"', '[1]]', ' '];
  for (const [i, v] of values.entries()) {
    const name = 'mallory' + i;
    const f = await fakeWorker(name);
    const op = i % 2 ? { op: 'broadcast' } : { op: 'message', to: 'alice' };
    f.send(Buffer.concat([mp({ v: 1, p: 'wschat', ...op, m: Buffer.from(v) }),
      mp({ v: 1, p: 'wschat', op: 'broadcast', m: Buffer.from('"after the bad one"') })]));
    await expectOnlyQuit(alice, name); // without the check: the forged delivery
    await f.closed;
  }
  assert.match(srv.log, /wschat: worker pid 1 sent an invalid message value; disconnecting that worker/);
  // alice is still connected and served
  alice.sendJSON({ command: 'message', to: 'alice', message: 'still here' });
  assert.deepEqual(await alice.nextJSON(), { type: 'message', from: 'alice', message: 'still here' });
  await closeAll();
});

test('the router disconnects a worker that hands it invalid UTF-8 (value, name or reply)', async () => {
  const alice = await identified('utf8-alice');
  const bad = [[0x22, 0xff, 0x22], [0x22, 0xc0, 0xaf, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xe2, 0x82, 0x22]];
  for (const [i, bytes] of bad.entries()) {
    const name = 'utf8-mallory' + i;
    const f = await fakeWorker(name);
    const op = i % 2 ? { op: 'broadcast' } : { op: 'message', to: 'utf8-alice' };
    f.send(mp({ v: 1, p: 'wschat', ...op, m: Buffer.from(bytes) }));
    await expectOnlyQuit(alice, name); // without the check: the forged delivery
    await f.closed;
  }
  // a name that is not UTF-8 is never registered (nor sent to anybody as a quit)
  const f = await spClient(path.join(srv.stateDir, 'bus.ipc'));
  f.send(Buffer.concat([
    mp({ v: 1, p: 'core', op: 'hello', conn: fakeConn++, pid: 1, proto: 'wschat', credit: 2 }),
    mp({ v: 1, p: 'wschat', op: 'identify', name: new RawStr([0x6d, 0xff]) })]));
  await f.closed;
  // a reply that is not UTF-8 (or not JSON) is refused too, though it would only go back
  for (const d of [new RawStr([0x7b, 0xff, 0x7d]), 'not json']) {
    const g = await fakeWorker('utf8-replier');
    g.send(mp({ v: 1, p: 'wschat', op: 'reply', d }));
    await g.closed;
    await expectOnlyQuit(alice, 'utf8-replier');
  }
  alice.sendJSON({ command: 'message', to: 'utf8-alice', message: 'é still here' });
  assert.deepEqual(await alice.nextJSON(), { type: 'message', from: 'utf8-alice', message: 'é still here' });
  await closeAll();
});

test('a real worker never frames text from the router that is not UTF-8 (fake router)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fake-router-'));
  const sock = path.join(dir, 'bus.ipc');
  let peer = null;
  const router = await spServer(sock, (p) => { peer = p; });
  const port = await freePort();
  const ts = spawn('tcpserver', ['-q', '127.0.0.1', String(port), bin('switchboard-worker'), '--router-url', `ipc://${sock}`],
    { stdio: 'ignore' });
  try {
    await waitForPort(port);
    const ws = await connect(`ws://127.0.0.1:${port}/wschat`);
    ws.on('error', () => {});
    assert.equal((await ws.nextJSON()).type, 'init');
    await until(() => peer && peer.received.length > 0, 10000, 'the worker\'s hello');
    const text = (d) => mp({ v: 1, p: 'core', op: 'text', d });
    peer.send(Buffer.concat([
      text(new RawStr([0x22, 0xff, 0x22])),     // a str that is no UTF-8
      text(Buffer.from([0x22, 0xc3, 0x28, 0x22])), // a bin that is no UTF-8
      text(new RawStr([0xf0, 0x9f, 0x98])),     // a character cut short
      text('"fine"'),
    ]));
    assert.equal(await ws.next(), '"fine"');
    await quiet(ws, 200);
    // a close reason cut to 123 bytes is cut at a character boundary
    peer.send(mp({ v: 1, p: 'core', op: 'close', code: 4001, reason: 'é'.repeat(65) }));
    const { code, reason } = await ws.closed;
    assert.equal(code, 4001);
    assert.equal(reason, 'é'.repeat(61));
  } finally {
    ts.kill();
    router.close();
  }
});

test('a worker whose first bus connection dies before the router handshake says hello once on the next (fake router)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fake-router-'));
  const sock = path.join(dir, 'bus.ipc');
  const net = require('node:net');
  let conns = 0;
  let got = Buffer.alloc(0);
  const router = net.createServer((s) => {
    s.on('error', () => {});
    if (++conns === 1) {
      // the first connection hangs up before its SP handshake: the
      // worker's hello (and what it packed behind it) never went out
      setTimeout(() => s.destroy(), 300);
      return;
    }
    s.write(Buffer.from([0, 0x53, 0x50, 0, 0, 0x11, 0, 0]));
    s.on('data', (d) => { got = Buffer.concat([got, d]); });
  });
  await new Promise((r) => router.listen(sock, r));
  const port = await freePort();
  const ts = spawn('tcpserver', ['-q', '127.0.0.1', String(port), bin('switchboard-worker'), '--router-url', `ipc://${sock}`],
    { stdio: 'ignore' });
  const count = (what) => { let n = 0; for (let i = got.indexOf(what); i >= 0; i = got.indexOf(what, i + 1)) n++; return n; };
  const hello = Buffer.from([0xa5, ...Buffer.from('hello')]);
  try {
    await waitForPort(port);
    const ws = await connect(`ws://127.0.0.1:${port}/wschat`);
    ws.on('error', () => {});
    assert.equal((await ws.nextJSON()).type, 'init');
    ws.send(JSON.stringify({ command: 'identify', name: 'redial-alice' })); // packed while the first connection lives
    await until(() => conns >= 2 && got.indexOf('redial-alice') >= 0, 10000, 'the identify on the second connection');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(count(hello), 1, 'one hello on the new connection');
    assert.equal(count(Buffer.from('redial-alice')), 1);
    ws.close();
  } finally {
    ts.kill();
    router.close();
  }
});

run({
  before: async () => { srv = await startServer({ args: ['--max-connections', '2000', '--max-per-ip', '2000'] }); },
  after: async () => { await closeAll(); const r = await srv.stop(); assert.equal(r.code, 0, srv.log); },
});
