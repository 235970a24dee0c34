// WebSocketStar's Engine.IO ping timeout: the open packet advertises
// pingInterval and pingTimeout (the reference's 25000 and 20000 by default,
// --wsstar-ping-interval and --wsstar-ping-timeout to change them), a client
// that sends nothing for pingInterval + pingTimeout is closed, one that pings
// (or sends anything) is kept. Short values here so the test takes seconds.
'use strict';
const { test, run, assert, sleep } = require('./lib/harness');
const { startServer } = require('./lib/server');
const { connect } = require('./lib/client');
const io = require('socket.io-client');

const INTERVAL = 600;
const TIMEOUT = 900;
let short, dflt;
const cleanup = [];

async function eio(s) {
  const ws = await connect(`ws://127.0.0.1:${s.port}/socket.io/?EIO=3&transport=websocket`);
  cleanup.push(() => ws.terminate());
  const open = JSON.parse((await ws.next()).slice(1));
  assert.equal(await ws.next(), '40');
  ws.openedAt = Date.now();
  return { ws, open };
}

test('the open packet advertises the reference values by default', async () => {
  const { open } = await eio(dflt);
  assert.deepEqual([open.pingInterval, open.pingTimeout], [25000, 20000]);
});

test('the open packet advertises --wsstar-ping-interval and --wsstar-ping-timeout', async () => {
  const { open } = await eio(short);
  assert.deepEqual([open.pingInterval, open.pingTimeout], [INTERVAL, TIMEOUT]);
});

test('a client that stops pinging is closed after pingInterval + pingTimeout, not before', async () => {
  const { ws } = await eio(short);
  ws.send('2');
  assert.equal(await ws.next(), '3');
  const lastPing = Date.now();
  const { code, reason } = await ws.closed;
  const silent = Date.now() - lastPing;
  assert.equal(code, 1000);
  assert.equal(reason, 'ping timeout');
  // the timer runs from the last packet received (the ping), not from the open
  assert.ok(silent >= INTERVAL + TIMEOUT - 50, `closed after ${silent} ms of silence`);
  assert.ok(silent < INTERVAL + TIMEOUT + 3000, `closed only after ${silent} ms of silence`);
});

test('a client that keeps pinging stays open well past pingInterval + pingTimeout', async () => {
  const { ws } = await eio(short);
  let closed = false;
  ws.closed.then(() => { closed = true; });
  const end = Date.now() + 3 * (INTERVAL + TIMEOUT);
  let n = 0;
  while (Date.now() < end) {
    ws.send(`2${n}`);
    assert.equal(await ws.next(), `3${n}`);
    n++;
    await sleep(INTERVAL);
  }
  assert.equal(closed, false);
  ws.terminate();
});

test('socket.io-client@2 follows the advertised interval and stays connected', async () => {
  const c = io(`http://127.0.0.1:${short.port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
  cleanup.push(() => c.close());
  await new Promise((res, rej) => { c.once('connect', res); c.once('connect_error', rej); });
  let pongs = 0;
  let gone = null;
  c.on('pong', () => { pongs++; });
  c.on('disconnect', (why) => { gone = why; });
  await sleep(3 * (INTERVAL + TIMEOUT));
  assert.equal(gone, null);
  assert.ok(pongs >= 2, `${pongs} pongs`);
  c.close();
});

run({
  before: async () => {
    short = await startServer({ args: ['--wsstar-ping-interval', String(INTERVAL), '--wsstar-ping-timeout', String(TIMEOUT)] });
    dflt = await startServer({});
  },
  after: async () => {
    cleanup.forEach((f) => { try { f(); } catch { /* gone already */ } });
    await short.stop();
    await dflt.stop();
  },
});
