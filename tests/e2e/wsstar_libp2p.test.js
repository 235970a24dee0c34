// WebSocketStar under the whole libp2p stack of its era: two libp2p@0.25
// nodes (secio, mplex) whose only transport is libp2p-websocket-star@0.10.2
// on our server. Node A handles /sb-echo/1.0.0, node B dials it with
// dialProtocol and gets its bytes back over that protocol stream (secio
// encrypted, mplex multiplexed, inside a relayed dial); then the other way.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { test, run, assert, until } = require('./lib/harness');
const { startServer } = require('./lib/server');

const Libp2p = require('libp2p');
const WStar = require('libp2p-websocket-star');
const Mplex = require('libp2p-mplex');
const SECIO = require('libp2p-secio');
const PeerId = require('peer-id');
const PeerInfo = require('peer-info');
const pull = require('pull-stream');

const PROTO = '/sb-echo/1.0.0';
let srv;
const nodes = [];

function metric(name) {
  try {
    const m = fs.readFileSync(path.join(srv.stateDir, 'metrics.prom'), 'utf8').match(new RegExp(`^switchboard_wsstar_${name} (\\d+)$`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}
const mkId = (keyType, bits) => new Promise((res, rej) => PeerId.create({ keyType, bits }, (e, id) => (e ? rej(e) : res(id))));
const cb = (f) => new Promise((res, rej) => f((e, v) => (e ? rej(e) : res(v))));

// A started node listening on our server; its echo handler prefixes who answered.
async function node(name, id) {
  const info = new PeerInfo(id);
  info.multiaddrs.add(`/ip4/127.0.0.1/tcp/${srv.port}/ws/p2p-websocket-star/ipfs/${id.toB58String()}`);
  const ws = new WStar({ id });
  const n = new Libp2p({
    peerInfo: info,
    modules: { transport: [ws], streamMuxer: [Mplex], connEncryption: [SECIO], peerDiscovery: [ws.discovery] },
    config: { peerDiscovery: { autoDial: false }, relay: { enabled: false } },
  });
  n.handle(PROTO, (protocol, conn) => pull(conn, pull.map((b) => Buffer.concat([Buffer.from(`${name}:`), b])), conn));
  await cb((k) => n.start(k));
  nodes.push(n);
  return n;
}

// Sends chunks over a fresh /sb-echo/1.0.0 stream from one node to the other; resolves to all it read back.
async function echo(from, to, chunks) {
  const conn = await cb((k) => from.dialProtocol(to.peerInfo, PROTO, k));
  const got = await cb((k) => pull(pull.values(chunks.map((c) => Buffer.from(c))), conn, pull.collect(k)));
  return Buffer.concat(got).toString();
}

test('two libp2p nodes over websocket-star: /sb-echo/1.0.0 both ways with dialProtocol', async () => {
  const [ida, idb] = await Promise.all([mkId('Ed25519', 256), mkId('RSA', 2048)]);
  const a = await node('A', ida);
  const b = await node('B', idb);
  // B to A, then A to B (a second stream on the same muxed connection, opened by the other side)
  assert.equal(await echo(b, a, ['hello ', 'from B']), 'A:hello A:from B');
  assert.equal(await echo(a, b, ['and back ', 'from A']), 'B:and back B:from A');
  // bytes that are not text, in one larger chunk, arrive unchanged
  const blob = Buffer.alloc(100000);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 131) & 255;
  const conn = await cb((k) => b.dialProtocol(a.peerInfo, PROTO, k));
  const got = Buffer.concat(await cb((k) => pull(pull.values([blob]), conn, pull.collect(k))));
  // the handler prefixes each chunk it reads and the stack may split the blob: strip every
  // prefix ("A:" never occurs in the blob: consecutive bytes differ by 131, not 0x3a - 0x41)
  assert.ok(got.slice(0, 2).toString() === 'A:', 'answered by A');
  const stripped = Buffer.from(got.toString('latin1').split('A:').join(''), 'latin1');
  assert.equal(stripped.length, blob.length);
  assert.ok(Buffer.compare(stripped, blob) === 0, 'the blob came back unchanged');
  // and all of it went through our relay (websocket-star is the nodes' only transport)
  await until(() => metric('relay_bytes_total') >= 2 * blob.length, 10000, 'the relay metrics to count the blob');
});

run({
  before: async () => { srv = await startServer({ args: ['--wsstar-announce-interval', '1000'] }); },
  after: async () => {
    for (const n of nodes) await cb((k) => n.stop(k)).catch(() => {});
    await srv.stop();
  },
});
