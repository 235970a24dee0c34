// A raw SaltyRTC client of our own (tweetnacl + msgpack-lite over `ws`),
// for the error paths of tests/e2e/saltyrtc.test.js: it builds every nonce
// and message by hand, so a test can break any rule on purpose.
'use strict';
const WS = require('ws');
const nacl = require('tweetnacl');
const msgpack = require('msgpack-lite');

const SUB = 'v1.saltyrtc.org';
const hex = (b) => Buffer.from(b).toString('hex');

function nonceOf(p) {
  const b = Buffer.from(p);
  return { cookie: b.subarray(0, 16), src: b[16], dst: b[17], csn: b.readUIntBE(18, 6), id: b.subarray(16, 24) };
}

class RawSalty {
  // url: the server's ws:// base; key: the initiator's public key (path)
  constructor(base, pathKey, opts = {}) {
    this.keys = opts.keys || nacl.box.keyPair();
    this.cookie = Buffer.from(nacl.randomBytes(16));
    this.csn = opts.csn !== undefined ? opts.csn : 1000;
    this.peerCsn = 5000; /* relays: the server does not check these */
    this.src = 0;
    this.events = [];
    this.waiters = [];
    this.closeCode = null;
    const path = opts.path !== undefined ? opts.path : '/' + hex(pathKey || this.keys.publicKey);
    this.ws = new WS(base + path, opts.protocols || [SUB], { autoPong: opts.autoPong !== false });
    this.ws.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.on('open', resolve);
      this.ws.on('error', reject);
    });
    this.ws.on('message', (d, isBinary) => { this.events.push({ d, isBinary }); this.notify(); });
    this.closed = new Promise((resolve) => this.ws.on('close', (code) => { this.closeCode = code; this.notify(); resolve(code); }));
    this.ws.on('error', () => {});
  }

  notify() { for (const w of this.waiters.splice(0)) w(); }

  async waitFor(cond, ms, what) {
    const end = Date.now() + ms;
    for (;;) {
      const v = cond();
      if (v) return v;
      if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what} (close code ${this.closeCode})`);
      await new Promise((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
  }

  // The next packet from the server (or the peer): raw Buffer.
  async packet(ms = 10000) {
    await this.waitFor(() => this.events.length > 0 || this.closeCode !== null, ms, 'a packet');
    if (!this.events.length) throw new Error(`closed with ${this.closeCode} instead of a packet`);
    return this.events.shift().d;
  }

  async closedWith(ms = 10000) {
    await this.waitFor(() => this.closeCode !== null, ms, 'the close');
    return this.closeCode;
  }

  nonce(dst, over = {}) {
    const b = Buffer.alloc(24);
    (over.cookie || this.cookie).copy(b, 0);
    b[16] = over.src !== undefined ? over.src : this.src;
    b[17] = dst;
    const csn = over.csn !== undefined ? over.csn : this.csn++;
    b.writeUIntBE(csn, 18, 6);
    return b;
  }

  sendRaw(buf) { this.ws.send(buf); }
  sendPlain(obj, over = {}) { this.ws.send(Buffer.concat([this.nonce(0, over), msgpack.encode(obj)])); }
  boxFor(obj, nonce, key) {
    return Buffer.from(nacl.box(msgpack.encode(obj), nonce, key || this.serverKey, this.keys.secretKey));
  }
  sendBoxed(obj, over = {}) {
    const n = this.nonce(0, over);
    this.ws.send(Buffer.concat([n, this.boxFor(obj, n, over.key)]));
  }

  async hello() {
    await this.opened;
    const p = await this.packet();
    const n = nonceOf(p);
    const m = msgpack.decode(p.subarray(24));
    if (m.type !== 'server-hello') throw new Error(`expected server-hello, got ${m.type}`);
    this.server = { cookie: n.cookie, csn: n.csn };
    this.serverKey = m.key;
    return m;
  }

  // A boxed message from the server, decrypted and decoded: {nonce, m}.
  async serverMessage(ms) {
    const p = await this.packet(ms);
    const n = nonceOf(p);
    const plain = nacl.box.open(p.subarray(24), p.subarray(0, 24), this.serverKey, this.keys.secretKey);
    if (!plain) throw new Error('a server message that does not open');
    return { nonce: n, m: msgpack.decode(Buffer.from(plain)) };
  }

  authMessage(extra = {}) {
    return { type: 'client-auth', your_cookie: this.server.cookie, subprotocols: [SUB], ping_interval: 0, ...extra };
  }

  // Whole handshake as the initiator (path = own key) or a responder.
  async handshake(role, extra = {}) {
    await this.hello();
    if (role === 'responder') this.sendPlain({ type: 'client-hello', key: Buffer.from(this.keys.publicKey) });
    this.sendBoxed(this.authMessage(extra));
    const { nonce, m } = await this.serverMessage();
    if (m.type !== 'server-auth') throw new Error(`expected server-auth, got ${m.type}`);
    this.src = nonce.dst;
    this.auth = m;
    return m;
  }

  // A relay packet to a peer: arbitrary bytes after a nonce of ours.
  relay(dst, body, over = {}) {
    const n = this.nonce(dst, { csn: this.peerCsn++, ...over });
    this.ws.send(Buffer.concat([n, body]));
    return n;
  }

  close() { try { this.ws.terminate(); } catch { /* gone */ } }
}

module.exports = { RawSalty, nonceOf, hex, SUB, nacl, msgpack };
