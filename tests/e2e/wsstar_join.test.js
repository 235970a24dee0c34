// WebSocketStar joins across a router that is not there yet: a worker whose
// first bus connection never got through (the router stopped, then killed
// and restarted by the supervisor) must deliver on its next connection what
// its client sent meanwhile, once, after one hello: every join is answered,
// every client stays connected and every address ends up registered.
'use strict';
const { test, run, assert, until, sleep } = require('./lib/harness');
const { startServer } = require('./lib/server');
const io = require('socket.io-client');

const N = 12;
let srv;
const cleanup = [];

function sio(s) {
  return new Promise((resolve, reject) => {
    const c = io(`http://127.0.0.1:${s.port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    cleanup.push(() => c.close());
    c.once('connect', () => resolve(c));
    c.once('connect_error', reject);
  });
}
const ask = (c, ...args) => new Promise((r) => c.emit(...args, (...a) => r(a)));
// valid peer ids for the multiaddrs (no challenge on this server)
const ID = ['QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN', 'QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  'QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb', 'QmZa1sAxajnQjVM8WjWXoMbmPd7NsWhfKsPkErzpm9wGkp',
  'QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt', 'QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ',
  'QmSoLnSGccFuZQJzRadHn95W2CrSFmZuTdDWP8HXaHca9z', 'QmSoLPppuBtQSGwKDZT2M73ULpjvfd3aZ6ha4oFGL1KrGM',
  'QmSoLueR4xBeUbY9WZ9xGUUxunbKWcrNFTDAadQJmocnWm', 'QmSoLMeWqB7YGVLJN3pNLQpmmEk35v6wYtsMGLzSr5QBU3',
  'QmSoLV4Bbm51jM9C4gDYZQ9Cy3U6aXMJDAbzgu2fzaDs64', 'QmSoLer265NRgSp2LA3dPaeykiS1J6DifTC88f5uVQKNAd'];
const maOf = (i) => `/ip4/127.0.0.1/tcp/${srv.port}/ws/p2p-websocket-star/ipfs/${ID[i]}`;

test('joins sent while the first bus connection waits on a stopped router are all answered once it is back', async () => {
  const router = srv.routerPid();
  process.kill(router, 'SIGSTOP');
  let stopped = true;
  try {
    // the workers' first bus connections wait in the stopped router's backlog
    const cs = await Promise.all(Array.from({ length: N }, () => sio(srv)));
    let closed = 0;
    cs.forEach((c) => c.on('disconnect', () => { closed++; }));
    await sleep(300);
    // packed before any of those connections is up
    const acks = cs.map((c, i) => ask(c, 'ss-join', maOf(i), ''));
    await sleep(300);
    // that first connection dies unanswered; the supervisor starts a new router
    process.kill(router, 'SIGKILL');
    stopped = false;
    await until(() => srv.routerPid() && srv.routerPid() !== router, 15000, 'router restart');
    const got = await Promise.race([Promise.all(acks), sleep(30000).then(() => null)]);
    assert.ok(got, `every join answered\n${srv.tail(30)}`);
    got.forEach(([err], i) => assert.equal(err, null, `join ${i}`));
    assert.equal(closed, 0, 'no client closed');
    // and all of them registered, exactly once each
    const probe = await sio(srv);
    const [err, , list] = await ask(probe, 'ss-join', `/ip4/127.0.0.1/tcp/${srv.port}/ws/p2p-websocket-star/ipfs/QmZMxNdpMkewiVZLMRxaNxUeZpDUb34pWjZ1kZvsd16Zic`, '');
    assert.equal(err, null);
    assert.deepEqual([...list].sort(), ID.slice(0, N).map((_, i) => maOf(i)).sort());
    assert.doesNotMatch(srv.log, /second hello/);
  } finally {
    if (stopped) process.kill(router, 'SIGCONT');
  }
}, { timeout: 60000 });

run({
  before: async () => { srv = await startServer({ args: ['--wsstar-no-crypto-challenge'] }); },
  after: async () => {
    cleanup.forEach((f) => { try { f(); } catch { /* gone */ } });
    await srv.stop();
  },
});
