// A raw WebSocket client over a plain `net` socket, for conformance tests
// that must send crafted (masked, fragmented, chopped, invalid) frames and
// see exactly which frames the server sends back and who closes TCP.
'use strict';
const crypto = require('node:crypto');
const net = require('node:net');

const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function toBuf(p) {
  if (p === undefined || p === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(p)) return p;
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  return Buffer.from(p);
}

// Encodes one frame. Client frames are masked unless mask === false.
// opts: { opcode, payload, fin = true, rsv = 0 (0..7), mask = true, maskKey }
function encodeFrame(opts) {
  const payload = toBuf(opts.payload);
  const fin = opts.fin === undefined ? true : !!opts.fin;
  const rsv = opts.rsv || 0;
  const masked = opts.mask !== false;
  const n = payload.length;
  let hdr;
  if (n < 126) {
    hdr = Buffer.alloc(2);
    hdr[1] = n;
  } else if (n <= 0xffff) {
    hdr = Buffer.alloc(4);
    hdr[1] = 126;
    hdr.writeUInt16BE(n, 2);
  } else {
    hdr = Buffer.alloc(10);
    hdr[1] = 127;
    hdr.writeBigUInt64BE(BigInt(n), 2);
  }
  hdr[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opts.opcode & 0x0f);
  if (!masked) return Buffer.concat([hdr, payload]);
  hdr[1] |= 0x80;
  const key = opts.maskKey ? toBuf(opts.maskKey) : crypto.randomBytes(4);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([hdr, key, body]);
}

// Payload of a close frame: code (omitted when null/undefined) + reason bytes.
function closePayload(code, reason) {
  if (code === undefined || code === null) return Buffer.alloc(0);
  const c = Buffer.alloc(2);
  c.writeUInt16BE(code, 0);
  return Buffer.concat([c, toBuf(reason)]);
}

// Incremental frame parser: push(chunk) returns the complete frames
// ({fin, rsv, opcode, masked, payload}) found so far.
class FrameParser {
  constructor() { this.buf = Buffer.alloc(0); }

  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      const masked = !!(b[1] & 0x80);
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('absurd frame length ' + big);
        len = Number(big);
        off = 10;
      }
      let key = null;
      if (masked) {
        if (b.length < off + 4) break;
        key = b.subarray(off, off + 4);
        off += 4;
      }
      if (b.length < off + len) break;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      frames.push({
        fin: !!(b[0] & 0x80),
        rsv: (b[0] >> 4) & 7,
        opcode: b[0] & 0x0f,
        masked,
        payload,
      });
      this.buf = b.subarray(off + len);
    }
    return frames;
  }
}

// One connection. Everything the server sends is recorded in order:
//   this.frames  every raw frame
//   this.events  {type: 'message', opcode, data} (reassembled), {type: 'ping'|'pong', data},
//                {type: 'close', code, reason, payload}
// plus how TCP ended (this.tcp: {by: 'server'|'client', reset, error}).
class RawWs {
  constructor(sock) {
    this.sock = sock;
    this.parser = new FrameParser();
    this.frames = [];
    this.events = [];
    this.read = 0; // index into events for next()
    this.closeFrame = null; // first close event
    this.afterClose = []; // frames the server sent after its close frame
    this.protocolErrors = []; // malformed things the server sent
    this.frag = null; // message being reassembled
    this.tcp = null;
    this.destroyedByUs = false;
    this.waiters = new Set();
    this.ended = new Promise((resolve) => { this._resolveEnded = resolve; });
  }

  static connect(port, path = '/echo', opts = {}) {
    const host = opts.host || '127.0.0.1';
    const timeout = opts.timeout || 10000;
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host, noDelay: true });
      const key = crypto.randomBytes(16).toString('base64');
      let head = Buffer.alloc(0);
      let done = false;
      const timer = setTimeout(() => fail(new Error(`handshake timed out after ${timeout} ms`)), timeout);
      const fail = (e) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 16384) fail(new Error('handshake response too long'));
          return;
        }
        const text = head.subarray(0, end).toString('latin1');
        const rest = head.subarray(end + 4);
        const lines = text.split('\r\n');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]);
        const headers = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        if (!status || status[1] !== '101') return fail(new Error('handshake failed: ' + lines[0]));
        const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
        if (headers['sec-websocket-accept'] !== accept) {
          return fail(new Error('bad Sec-WebSocket-Accept: ' + headers['sec-websocket-accept']));
        }
        done = true;
        clearTimeout(timer);
        sock.removeListener('data', onData);
        sock.removeListener('error', fail);
        sock.removeListener('close', onEarlyClose);
        const ws = new RawWs(sock);
        ws.headers = headers;
        ws._attach();
        if (rest.length) ws._onData(rest);
        resolve(ws);
      };
      const onEarlyClose = () => fail(new Error('connection closed during handshake'));
      sock.on('data', onData);
      sock.on('error', fail);
      sock.on('close', onEarlyClose);
      sock.once('connect', () => {
        sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\n' + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
    });
  }

  _attach() {
    let error = null;
    let gotEnd = false;
    this.sock.on('data', (d) => this._onData(d));
    this.sock.on('end', () => { gotEnd = true; });
    this.sock.on('error', (e) => { error = e; });
    this.sock.on('close', () => {
      const reset = !!(error && /ECONNRESET|EPIPE/.test(error.code || ''));
      this.tcp = {
        by: this.destroyedByUs && !gotEnd && !reset ? 'client' : 'server',
        fin: gotEnd,
        reset,
        error: error ? String(error.code || error.message) : null,
      };
      this._notify();
      this._resolveEnded(this.tcp);
    });
  }

  _onData(d) {
    let frames;
    try {
      frames = this.parser.push(d);
    } catch (e) {
      this.protocolErrors.push(String(e.message));
      return;
    }
    for (const f of frames) this._onFrame(f);
    this._notify();
  }

  _onFrame(f) {
    this.frames.push(f);
    if (this.closeFrame) {
      this.afterClose.push(f);
      return;
    }
    if (f.masked) this.protocolErrors.push('server frame is masked');
    if (f.rsv) this.protocolErrors.push(`server frame has RSV=${f.rsv}`);
    if (f.opcode >= 8) {
      if (!f.fin) this.protocolErrors.push('fragmented control frame from server');
      if (f.opcode === OP.CLOSE) {
        const p = f.payload;
        const ev = { type: 'close', code: p.length >= 2 ? p.readUInt16BE(0) : null,
          reason: p.length > 2 ? p.subarray(2).toString('utf8') : '', payload: p };
        this.closeFrame = ev;
        this.events.push(ev);
      } else if (f.opcode === OP.PING || f.opcode === OP.PONG) {
        this.events.push({ type: f.opcode === OP.PING ? 'ping' : 'pong', data: f.payload });
      } else {
        this.protocolErrors.push('server sent reserved opcode ' + f.opcode);
      }
      return;
    }
    if (f.opcode === OP.CONT) {
      if (!this.frag) { this.protocolErrors.push('server sent continuation without a message'); return; }
      this.frag.parts.push(f.payload);
    } else if (f.opcode === OP.TEXT || f.opcode === OP.BINARY) {
      if (this.frag) this.protocolErrors.push('server started a message inside a fragmented one');
      this.frag = { opcode: f.opcode, parts: [f.payload] };
    } else {
      this.protocolErrors.push('server sent reserved opcode ' + f.opcode);
      return;
    }
    if (f.fin) {
      this.events.push({ type: 'message', opcode: this.frag.opcode, data: Buffer.concat(this.frag.parts) });
      this.frag = null;
    }
  }

  _notify() { for (const w of [...this.waiters]) w(); }

  // Resolves when cond() is true (checked on every frame and on TCP close);
  // rejects after ms.
  waitFor(cond, ms, what) {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`waited ${ms} ms for ${what}; got ${this.describe()}`));
      }, ms);
      this.waiters.add(check);
    });
  }

  // Next event (message/ping/pong/close) not yet returned by next().
  async next(ms = 10000) {
    await this.waitFor(() => this.read < this.events.length || this.tcp, ms, 'an event');
    if (this.read < this.events.length) return this.events[this.read++];
    throw new Error('connection closed while waiting for an event; got ' + this.describe());
  }

  // Waits until the server sent a close frame (or TCP ended); returns it or null.
  async waitForCloseFrame(ms = 10000) {
    await this.waitFor(() => this.closeFrame || this.tcp, ms, 'a close frame');
    return this.closeFrame;
  }

  // Waits for the server's close frame and for TCP to end, without closing
  // our side first. Returns { close, events (not yet read by next(), before
  // the close frame), afterClose, tcp, protocolErrors }.
  async waitForClose(ms = 10000) {
    try {
      await this.waitFor(() => this.tcp, ms, 'the server to close TCP');
    } catch (e) {
      // Report what we saw rather than just a timeout.
      const r = this._result();
      r.tcp = { by: 'nobody (timeout)', fin: false, reset: false, error: null };
      this.destroy();
      return r;
    }
    return this._result();
  }

  _result() {
    const unread = this.events.slice(this.read).filter((e) => e.type !== 'close');
    return {
      close: this.closeFrame,
      events: unread,
      afterClose: this.afterClose,
      tcp: this.tcp,
      protocolErrors: this.protocolErrors,
    };
  }

  // Writes raw bytes; resolves when handed to the kernel. Writing to a socket
  // the server already closed is not an error here (tests look at the result).
  write(buf) {
    return new Promise((resolve) => {
      if (this.sock.destroyed || !this.sock.writable) return resolve(false);
      this.sock.write(buf, (err) => resolve(!err));
    });
  }

  // Writes bytes in pieces of `size`, pausing `delay` ms between them, the
  // way Autobahn's "chopped" cases do.
  async writeChopped(buf, size, delay = 1) {
    for (let i = 0; i < buf.length; i += size) {
      await this.write(buf.subarray(i, i + size));
      if (delay && i + size < buf.length) await sleep(delay);
    }
  }

  frame(opts) { return encodeFrame(opts); }

  sendFrame(opts) { return this.write(encodeFrame(opts)); }

  send(opcode, payload, extra = {}) { return this.sendFrame({ opcode, payload, ...extra }); }

  sendClose(code, reason) { return this.sendFrame({ opcode: OP.CLOSE, payload: closePayload(code, reason) }); }

  destroy() {
    this.destroyedByUs = true;
    this.sock.destroy();
  }

  describe() {
    const ev = this.events.map((e) => {
      if (e.type === 'close') return `close(${e.code === null ? 'none' : e.code}${e.reason ? ' ' + JSON.stringify(e.reason) : ''})`;
      const d = e.data;
      const shown = d.length > 40 ? `${d.length} bytes` : `0x${d.toString('hex')}`;
      return e.type === 'message' ? `${e.opcode === 1 ? 'text' : 'binary'}(${shown})` : `${e.type}(${shown})`;
    });
    const tcp = this.tcp ? `tcp closed by ${this.tcp.by}${this.tcp.reset ? ' (reset)' : ''}` : 'tcp open';
    return `[${ev.join(', ')}] ${tcp}` + (this.protocolErrors.length ? ` errors: ${this.protocolErrors.join('; ')}` : '');
  }
}

module.exports = { RawWs, FrameParser, encodeFrame, closePayload, OP, sleep };
