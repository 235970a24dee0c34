// The page of the headless-Chromium WebSocketStar test (wsstar.test.js
// bundles it with browserify, no network): a libp2p-websocket-star@0.10.2
// peer with an Ed25519 id, served with the page by switchboard itself
// (--static-dir), so the rendezvous is the page's own origin. It listens
// (echoing what it reads, prefixed), waits to discover the Node peer named
// in ?peer=, dials it and exchanges bytes. Progress and results are in
// window.wsstarTest for the test to read; the Node side checks its half.
'use strict';
const WStar = require('libp2p-websocket-star');
const PeerId = require('peer-id');
const multiaddr = require('multiaddr');
const pull = require('pull-stream');

const state = window.wsstarTest = { step: 'start', error: null, ma: null, reply: null };
// what the screenshot shows
const show = () => { if (document.body) document.body.textContent = JSON.stringify(state, null, 1); };
setInterval(show, 200);
const want = new URLSearchParams(location.search).get('peer');

function createId() {
  return new Promise((resolve, reject) => PeerId.create({ keyType: 'Ed25519', bits: 256 }, (e, id) => (e ? reject(e) : resolve(id))));
}

async function main() {
  const id = await createId();
  const t = new WStar({ id });
  const ma = multiaddr(`/ip4/127.0.0.1/tcp/${location.port}/ws/p2p-websocket-star/ipfs/${id.toB58String()}`);
  const found = new Set();
  t.discovery.on('peer', (pi) => pi.multiaddrs.toArray().forEach((m) => found.add(String(m))));
  const listener = t.createListener((conn) =>
    pull(conn, pull.map((b) => Buffer.concat([Buffer.from('browser echo:'), b])), conn));
  state.step = 'listening';
  await new Promise((resolve, reject) => listener.listen(ma, (e) => (e ? reject(e) : resolve())));
  state.ma = String(ma);
  state.step = 'joined';
  while (!found.has(want)) await new Promise((r) => setTimeout(r, 50));
  state.step = 'discovered';
  const conn = await new Promise((resolve, reject) => {
    const c = t.dial(multiaddr(want), (e) => (e ? reject(e) : resolve(c)));
  });
  const got = await new Promise((resolve, reject) =>
    pull(pull.values([Buffer.from('hello from chromium')]), conn, pull.collect((e, v) => (e ? reject(e) : resolve(v)))));
  state.reply = Buffer.concat(got).toString();
  state.step = 'done';
}

main().catch((e) => { state.error = String((e && e.stack) || e); });
