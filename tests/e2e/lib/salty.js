// The real @saltyrtc/client (ES modules) under Node, with `ws` as its
// WebSocket, for tests/e2e/saltyrtc.test.js. The client hard-codes wss://;
// without TLS the WebSocket shim below dials ws:// instead (the client is
// unchanged), with TLS it verifies the server against the test's CA.
'use strict';
const path = require('node:path');
const WS = require('ws');
const nacl = require('tweetnacl');

const DIST = path.join(__dirname, '../node_modules/@saltyrtc');
let mods = null;
const tls = { on: false, ca: null };

class ShimSocket extends WS {
  constructor(url, protocols) {
    const u = tls.on ? url : url.replace(/^wss:/, 'ws:');
    super(u, protocols, tls.on ? { ca: tls.ca } : {});
  }
}

async function load() {
  if (mods) return mods;
  globalThis.WebSocket = ShimSocket;
  // the browser globals the client uses: window.crypto (Node has webcrypto)
  if (!globalThis.window) globalThis.window = { crypto: globalThis.crypto };
  require('node:module').register('./salty-loader.mjs', require('node:url').pathToFileURL(__filename));
  const client = await import(path.join(DIST, 'client/dist/saltyrtc-client.es2015.js'));
  globalThis.saltyrtcClient = client; // the relayed-data task finds the client here
  const rd = await import(path.join(DIST, 'task-relayed-data/dist/saltyrtc-task-relayed-data.es2015.js'));
  mods = { client, RelayedDataTask: rd.RelayedDataTask };
  return mods;
}

// The WebSocket task (v0.websocket.tasks.saltyrtc.org): task messages are
// maps with a type other than application/close; ours use type "msg".
class WsTask {
  constructor() { this.signaling = null; this.received = []; this.waiters = []; }
  init(signaling) { this.signaling = signaling; }
  onPeerHandshakeDone() {}
  onTaskMessage(m) { this.received.push(m); for (const w of this.waiters.splice(0)) w(); }
  sendSignalingMessage() { throw new Error('no handover'); }
  getName() { return 'v0.websocket.tasks.saltyrtc.org'; }
  getSupportedMessageTypes() { return ['msg']; }
  getData() { return null; }
  close() {}
  send(obj) { this.signaling.sendTaskMessage({ type: 'msg', ...obj }); }
  async waitCount(n, ms = 20000) {
    const end = Date.now() + ms;
    while (this.received.length < n) {
      if (Date.now() > end) throw new Error(`got ${this.received.length} of ${n} task messages`);
      await new Promise((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
  }
}

// Resolves with the event's data once `type` is emitted (or rejects on close/error first).
function once(client, type, ms = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} in ${ms} ms`)), ms);
    client.once(type, (ev) => { clearTimeout(timer); resolve(ev.data); });
  });
}

function publicKeyOfSecretHex(hex) {
  return Buffer.from(nacl.box.keyPair.fromSecretKey(Buffer.from(hex.trim(), 'hex')).publicKey).toString('hex');
}

module.exports = { load, WsTask, once, tls, publicKeyOfSecretHex, nacl };
