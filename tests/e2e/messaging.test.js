// Messaging (store-and-forward) end to end: real supervisor, router and
// workers, real `ws` clients. Every rule of proto/messaging/README.md (and the
// decisions taken with it) has a test here, named after the rule.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFile, execFileSync, spawn } = require('node:child_process');
const harness = require('./lib/harness');
const { run, assert, sleep, until } = harness;
const { startServer, bin, ASAN } = require('./lib/server');
const { connect, quiet, WebSocket } = require('./lib/client');
const { exchange, status, upgradeRequest } = require('./lib/raw');

// Waits below stay well under a test's time limit, so a failure says what
// was missing instead of "timed out".
const test = (name, fn, opts = {}) => harness.test(name, fn, { timeout: 45000, ...opts });

let srv;
const open = [];
let uniq = 0;

// A client_id nobody else in this run uses (every server has a fresh store,
// but the main server's store is shared by all tests of this file).
const uid = (p) => `${p}-${++uniq}`;
const mpath = (cid) => '/messaging?client_id=' + encodeURIComponent(cid);

// Connects as cid. Frames are taken from the client's queue by drain():
// ws.frames (raw text and parsed), ws.msgs (the messages, in order received),
// ws.syncs (ids of our own sync markers, kept out of ws.msgs).
async function mconnect(server, cid) {
  const ws = await connect(server.url(mpath(cid)));
  ws.cid = cid;
  ws.frames = [];
  ws.msgs = [];
  ws.syncs = [];
  ws.errors = [];
  open.push(ws);
  return ws;
}

function drain(ws) {
  while (ws.queue.length) {
    const raw = ws.queue.shift();
    assert.equal(typeof raw, 'string', `${ws.cid}: the server sent a binary frame`);
    const f = JSON.parse(raw);
    assert.ok(f && typeof f === 'object' && !Array.isArray(f), `${ws.cid}: frame is not an object: ${raw.slice(0, 200)}`);
    if (Object.keys(f).length === 1 && Array.isArray(f.errors)) { // what the server did not store
      assert.ok(f.errors.length > 0, `${ws.cid}: empty errors: ${raw.slice(0, 200)}`);
      for (const e of f.errors) {
        assert.deepEqual(Object.keys(e), ['id', 'rid', 'error'], `${ws.cid}: errors entry ${JSON.stringify(e)}`);
        assert.equal(typeof e.error, 'string');
        ws.errors.push(e);
      }
      continue;
    }
    assert.deepEqual(Object.keys(f), ['messages'], `${ws.cid}: frame has other sections than messages: ${raw.slice(0, 200)}`);
    assert.ok(Array.isArray(f.messages) && f.messages.length > 0, `${ws.cid}: empty or non-array messages: ${raw.slice(0, 200)}`);
    ws.frames.push({ raw, n: f.messages.length });
    for (const m of f.messages) {
      if (m && m._sync) ws.syncs.push(m.id);
      else ws.msgs.push(m);
    }
  }
  return ws.msgs;
}

// Waits until ws has received at least n messages (sync markers not counted).
async function receive(ws, n, ms = 15000) {
  try {
    await until(() => drain(ws).length >= n, ms, `${ws.cid}: ${n} messages`);
  } catch (e) {
    throw new Error(`${e.message}; got ${ws.msgs.length}: ${JSON.stringify(ws.msgs).slice(0, 600)}`);
  }
  return ws.msgs;
}

// Waits ms, then returns everything received (for "nothing more arrives").
async function settle(ws, ms = 400) {
  await sleep(ms);
  return drain(ws);
}

// Round trip through the router: the worker forwards a connection's frames
// in order and the router handles one worker's envelopes in order, so once
// a marker sent by ws comes back (to ws itself, or to the connected client
// `via`), everything ws sent before it has been taken (and stored) by the
// router. The marker is then marked read by whoever got it.
let syncN = 0;
async function sync(ws, msOrVia = 20000, ms = 20000) {
  const via = typeof msOrVia === 'object' ? msOrVia : ws;
  if (typeof msOrVia === 'number') ms = msOrVia;
  const id = `sync-${++syncN}`;
  ws.sendJSON({ send: [{ id, sid: ws.cid, rid: via.cid, _sync: true }] });
  await until(() => { drain(via); return via.syncs.includes(id); }, ms, `${via.cid}: sync marker ${id} from ${ws.cid}`);
  via.sendJSON({ read: [{ id }] });
}

const ids = (msgs) => msgs.map((m) => m.id);

// The close a connection got, or an error if it is still open after ms.
function closeOf(ws, ms = 15000) {
  let t;
  return Promise.race([ws.closed, new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`${ws.cid}: still open after ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(t));
}

function closeAll() {
  for (const ws of open.splice(0)) ws.terminate();
}

// Warnings in the server log that report messages skipped over a limit:
// one line per client frame, "messaging: N messages from ID skipped ...".
const skippedLines = (server) => server.log.split('\n')
  .filter((l) => /: warn: /.test(l) && /messaging: \d+ messages from .* skipped/.test(l));
const skippedLogged = (server) => skippedLines(server)
  .reduce((n, l) => n + Number(/messaging: (\d+) messages/.exec(l)[1]), 0);

// The router rewrites STATE/metrics.prom every second; the sheet wants
// skipped messages counted there. Sum of the counters whose name or labels
// mention skipping (names are the implementation's; Prometheus text format).
function skippedMetric(server) {
  let text = '';
  try { text = fs.readFileSync(path.join(server.stateDir, 'metrics.prom'), 'utf8'); } catch { return -1; }
  let sum = 0;
  for (const l of text.split('\n')) {
    const m = /^(\S*skip\S*|\S+\{[^}]*skip[^}]*\})\s+(\d+(?:\.\d+)?)\s*$/i.exec(l);
    if (m) sum += Number(m[2]);
  }
  return sum;
}

async function expectSkipped(server, n) {
  await until(() => skippedLogged(server) >= n, 10000, `${n} messages in "warn: messaging: N messages ... skipped" log lines`)
    .catch((e) => { throw new Error(`${e.message}\n${server.tail()}`); });
  let got = null;
  await until(() => (got = skippedMetric(server)) >= n, 10000, `${n} skipped messages counted in metrics.prom`)
    .catch((e) => { throw new Error(`${e.message} (counted ${got})`); });
}

// --store-stats prints a "[protocol]" line, then that protocol's lines, per
// protocol with a store: sections maps each name to its lines.
function parseSections(stdout) {
  const sections = {};
  let cur = null;
  for (const l of stdout.split('\n').filter(Boolean)) {
    const h = /^\[([a-z0-9_-]+)\]$/.exec(l);
    if (h) { assert.ok(!(h[1] in sections), `section [${h[1]}] twice: ${stdout}`); cur = sections[h[1]] = []; continue; }
    assert.ok(cur, `a line before the first [section]: ${JSON.stringify(l)}`);
    cur.push(l);
  }
  return sections;
}

function storeStats(stateDir) {
  return new Promise((resolve) => {
    execFile(bin('switchboard-router'), ['--state-dir', stateDir, '--store-stats'], { timeout: 20000 },
      (err, stdout, stderr) => {
        const r = { code: err ? (err.code ?? err.signal) : 0, stdout, stderr, sections: {} };
        if (r.code === 0) {
          r.sections = parseSections(stdout);
          r.messaging = (r.sections.messaging || []).map((l) => l + '\n').join('');
        }
        resolve(r);
      });
  });
}

// The start of a sanitizer report in the server log, else its tail.
function crashExcerpt(server) {
  const lines = server.log.split('\n');
  const i = lines.findIndex((l) => /ERROR: \w+Sanitizer|runtime error:/.test(l));
  return i < 0 ? server.tail(30) : lines.slice(Math.max(0, i - 1), i + 24).join('\n');
}

function parseHttp(data) {
  const s = data.toString('utf8');
  const i = s.indexOf('\r\n\r\n');
  const head = i < 0 ? s : s.slice(0, i);
  const headers = {};
  for (const line of head.split('\r\n').slice(1)) {
    const j = line.indexOf(':');
    if (j > 0) headers[line.slice(0, j).trim().toLowerCase()] = line.slice(j + 1).trim();
  }
  return { status: status(data), headers, body: i < 0 ? '' : s.slice(i + 4) };
}

// ---- endpoint and identity ----

test('GET /messaging?client_id=ID upgrades (101) and serves the protocol', async () => {
  const { data } = await exchange(srv.port, upgradeRequest(mpath(uid('up'))), 1000);
  assert.equal(status(data), 101, data.toString());
  const a = await mconnect(srv, uid('self'));
  a.sendJSON({ send: [{ id: 1, sid: a.cid, rid: a.cid, text: 'to myself' }] });
  assert.deepEqual(await receive(a, 1), [{ id: 1, sid: a.cid, rid: a.cid, text: 'to myself' }]);
  closeAll();
});

test('other paths are not this protocol: 404', async () => {
  const paths = ['/messaging/?client_id=7', '/messaging/x?client_id=7', '/messagingx?client_id=7',
    '/messaing?client_id=7', '/Messaging?client_id=7', '/?client_id=7'];
  const res = await Promise.all(paths.map((p) => exchange(srv.port, upgradeRequest(p), 3000)));
  res.forEach(({ data }, i) => assert.equal(status(data), 404, paths[i]));
});

test('client_id missing, empty, 0, whitespace only, over 128 bytes or with control characters: 401 with a one-line text/plain reason', async () => {
  const q = [null, '', 'client_id', 'client_id=', 'other=5', 'clientid=5', 'client_id=0', 'client_id=%30',
    'client_id=%20', 'client_id=%20%20%20', 'client_id=%09', 'client_id=%20%0A%20',
    'client_id=' + 'a'.repeat(129), 'client_id=' + '%C3%A9'.repeat(65),
    'client_id=a%00b', 'client_id=a%0Ab', 'client_id=a%0Db', 'client_id=a%1Fb', 'client_id=a%7Fb', 'client_id=%1B'];
  const paths = q.map((s) => (s === null ? '/messaging' : '/messaging?' + s));
  // 20 workers at once, under ASan on a loaded machine: allow them time
  const res = await Promise.all(paths.map((p) => exchange(srv.port, upgradeRequest(p), 15000)));
  res.forEach(({ data }, i) => {
    const r = parseHttp(data);
    assert.equal(r.status, 401, `${paths[i]}: ${data.length ? data.toString().slice(0, 300) : 'no HTTP response at all (did the worker crash?)\n' + crashExcerpt(srv)}`);
    assert.match(r.headers['content-type'] || '', /^text\/plain\b/i, `${paths[i]}: content-type`);
    const body = r.body.replace(/\r?\n$/, '');
    assert.ok(body.length > 0 && !/[\r\n]/.test(body), `${paths[i]}: body is not one line: ${JSON.stringify(r.body)}`);
    if (r.headers['content-length'] !== undefined) assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body), paths[i]);
  });
  // the real client sees an HTTP refusal
  const err = await connect(srv.url('/messaging?client_id=0')).then(() => null, (e) => e);
  assert.ok(err, 'connect with client_id=0 must fail');
  assert.equal(err.status, 401);
});

test('client_id of exactly 128 bytes is accepted (ASCII and UTF-8)', async () => {
  const ascii = 'b'.repeat(127) + String(++uniq % 10);
  const utf8 = 'é'.repeat(64); // 128 bytes
  assert.equal(Buffer.byteLength(utf8), 128);
  for (const cid of [ascii, utf8]) {
    const a = await mconnect(srv, cid);
    a.sendJSON({ send: [{ id: 'long', sid: cid, rid: cid }] });
    assert.deepEqual(ids(await receive(a, 1)), ['long']);
    a.sendJSON({ read: [{ id: 'long' }] });
    await sync(a);
  }
  closeAll();
});

test('client_id is percent-decoded and is the text a rid must equal (spaces, UTF-8, escapes)', async () => {
  const cid = uid('é x/&=?+');
  const a = await connect(srv.url('/messaging?client_id=' + encodeURIComponent(cid)));
  Object.assign(a, { cid, frames: [], msgs: [], syncs: [], errors: [] });
  open.push(a);
  // a plain id with a character needlessly percent-encoded, other parameters around it
  const bcid = uid('abc');
  const b = await connect(srv.url('/messaging?x=1&client_id=%61' + encodeURIComponent(bcid.slice(1)) + '&y=2'));
  Object.assign(b, { cid: bcid, frames: [], msgs: [], syncs: [], errors: [] });
  open.push(b);
  const s = await mconnect(srv, uid('pd-sender'));
  // rids written with JSON escapes are the same text
  const ridEsc = JSON.stringify(cid).replace(/é/g, '\\u00e9');
  const sid = JSON.stringify(s.cid);
  s.send(`{"send":[{"id":1,"sid":${sid},"rid":${ridEsc}},{"id":2,"sid":${sid},"rid":${JSON.stringify(bcid)}},{"id":3,"sid":${sid},"rid":"\\u0061${bcid.slice(1)}"}]}`);
  assert.deepEqual(ids(await receive(a, 1)), [1]);
  assert.deepEqual(ids(await receive(b, 2)), [2, 3]);
  assert.equal(a.msgs[0].rid, cid);
  // not addressed to an encoded form
  s.sendJSON({ send: [{ id: 4, sid: s.cid, rid: encodeURIComponent(cid) }, { id: 5, sid: s.cid, rid: cid }] });
  assert.deepEqual(ids(await receive(a, 2)), [1, 5]);
  closeAll();
});

test('rid as number or as string addresses the same client: 31 and "31" go to client_id=31', async () => {
  const n = 31000 + (++uniq);
  const r = await mconnect(srv, String(n));
  const sn = 21000 + (++uniq); // a sender whose client_id is a number's text may give sid as a number
  const s = await mconnect(srv, String(sn));
  s.sendJSON({ send: [{ id: 'as-number', sid: sn, rid: n }, { id: 'as-string', sid: sn, rid: String(n) }] });
  const got = await receive(r, 2);
  assert.deepEqual(got, [{ id: 'as-number', sid: sn, rid: n }, { id: 'as-string', sid: sn, rid: String(n) }]);
  // offline: both are stored for the same client
  const n2 = 32000 + (++uniq);
  s.sendJSON({ send: [{ id: 1, sid: String(sn), rid: n2 }, { id: 2, sid: sn, rid: String(n2) }] });
  await sync(s);
  const r2 = await mconnect(srv, String(n2));
  assert.deepEqual(ids(await receive(r2, 2)), [1, 2]);
  closeAll();
});

test('several connections with one client_id: the newest wins, the older is closed 4000 "superseded by a newer connection"', async () => {
  const cid = uid('dup');
  const s = await mconnect(srv, uid('dup-sender'));
  // "newest" is the newest to register with the router: make the order certain
  const a1 = await mconnect(srv, cid);
  await sync(a1);
  const a2 = await mconnect(srv, cid);
  const c1 = await closeOf(a1);
  assert.equal(c1.code, 4000);
  assert.equal(c1.reason, 'superseded by a newer connection');
  assert.equal(a2.readyState, WebSocket.OPEN);
  // from then on everything for the id goes to the newest (the older
  // worker's exit must not unregister the newer one)
  await sleep(300);
  s.sendJSON({ send: [{ id: 'after-supersede', sid: s.cid, rid: cid }] });
  assert.deepEqual(ids(await receive(a2, 1)), ['after-supersede']);
  await sync(a2);
  // a third connection supersedes the second and gets the unread backlog
  const a3 = await mconnect(srv, cid);
  const c2 = await closeOf(a2);
  assert.equal(c2.code, 4000);
  assert.equal(c2.reason, 'superseded by a newer connection');
  assert.deepEqual(ids(await receive(a3, 1)), ['after-supersede']);
  s.sendJSON({ send: [{ id: 'to-newest', sid: s.cid, rid: cid }] });
  assert.deepEqual(ids(await receive(a3, 2)), ['after-supersede', 'to-newest']);
  assert.equal(a3.readyState, WebSocket.OPEN);
  closeAll();
});

// ---- frames ----

test('binary frame: close 1003', async () => {
  const a = await mconnect(srv, uid('bin'));
  a.send(Buffer.from('{"send":[]}'));
  assert.equal((await closeOf(a)).code, 1003);
  closeAll();
});

test('malformed JSON: close 1007', async () => {
  const bad = ['not json', '{"send":', '{"send":[}', '{"send":[{"id":1,}]}', '{"a":tru}', '{"a":01}', '', '{} x', '{"a":1}{"b":2}'];
  const clients = await Promise.all(bad.map(() => mconnect(srv, uid('mal'))));
  clients.forEach((ws, i) => ws.send(bad[i]));
  const closes = await Promise.all(clients.map((ws) => closeOf(ws)));
  closes.forEach((c, i) => assert.equal(c.code, 1007, JSON.stringify(bad[i])));
  closeAll();
});

test('a top-level value that is not an object is ignored and the connection stays open', async () => {
  const a = await mconnect(srv, uid('top'));
  const m = (id) => ({ id, sid: a.cid, rid: a.cid });
  for (const v of ['[1,2]', '"send"', '42', 'null', 'true', '[]', JSON.stringify([{ send: [m('in-array')] }])]) a.send(v);
  a.send(`  \n{"send":[${JSON.stringify(m('after'))}]}\t `); // whitespace around an object is fine
  // per-connection order: had anything before been processed, it would come first
  assert.deepEqual(ids(await receive(a, 1)), ['after']);
  assert.deepEqual(ids(await settle(a)), ['after']);
  assert.equal(a.readyState, WebSocket.OPEN);
  closeAll();
});

test('unknown sections are ignored, and so are send and read that are not arrays', async () => {
  const a = await mconnect(srv, uid('sect'));
  const m = (id) => ({ id, sid: a.cid, rid: a.cid });
  a.sendJSON({ send: [m('kept')] });
  assert.deepEqual(ids(await receive(a, 1)), ['kept']);
  a.sendJSON({ send: m('obj') });
  a.sendJSON({ send: 'x', read: 5 });
  a.sendJSON({ send: null, read: null });
  a.sendJSON({ read: { id: 'kept' } }); // not an array: must not delete
  a.sendJSON({ read: 'kept' });
  a.sendJSON({ messages: [m('messages-section')], bogus: [m('bogus')], SEND: [m('upper')] });
  a.sendJSON({ bogus: 1, send: [m('with-unknown')] });
  assert.deepEqual(ids(await receive(a, 2)), ['kept', 'with-unknown']);
  assert.equal(a.readyState, WebSocket.OPEN);
  await sync(a);
  // "kept" is still stored
  const b = await mconnect(srv, a.cid);
  assert.deepEqual(ids(await receive(b, 2)), ['kept', 'with-unknown']);
  assert.deepEqual(ids(await settle(b)), ['kept', 'with-unknown']);
  closeAll();
});

// ---- send ----

test('send: a message lacking id, sid or rid, or with one of another type, is skipped; the rest of the array is processed', async () => {
  const r = await mconnect(srv, uid('val'));
  const s = await mconnect(srv, uid('val-sender'));
  const ok = (id) => ({ id, sid: s.cid, rid: r.cid });
  const bad = [5, 'str', null, true, [], [ok('in-nested-array')],
    { sid: 's', rid: r.cid }, { id: 'no-sid', rid: r.cid }, { id: 'no-rid', sid: 's' }, {}];
  for (const f of ['id', 'sid', 'rid']) {
    for (const v of [null, true, false, {}, [], ['x'], { a: 1 }]) {
      const m = ok(`bad-${f}`);
      m[f] = v;
      if (f === 'id') m.tag = 'bad-id';
      bad.push(m);
    }
  }
  const arr = [ok('first')];
  bad.forEach((b, i) => { arr.push(b); if (i % 7 === 0) arr.push(ok(`mid-${i}`)); });
  arr.push({ id: 77, sid: s.cid, rid: r.cid }, ok('last'));
  s.sendJSON({ send: arr });
  const want = arr.filter((m) => m && typeof m === 'object' && !Array.isArray(m)
    && ['id', 'sid', 'rid'].every((f) => typeof m[f] === 'string' || typeof m[f] === 'number'));
  assert.equal(want.length, 2 + 1 + Math.ceil(bad.length / 7));
  assert.deepEqual(await receive(r, want.length), want);
  await sync(s);
  assert.deepEqual(await settle(r), want);
  // each skipped one is reported to the sender, with its id and rid when they are strings or numbers
  drain(s);
  assert.equal(s.errors.length, bad.length, JSON.stringify(s.errors).slice(0, 800));
  const err = (id) => s.errors.find((e) => e.id === id);
  assert.match(err('no-sid').error, /sid/);
  assert.equal(err('no-sid').rid, r.cid);
  assert.match(err('no-rid').error, /rid/);
  assert.equal(err('no-rid').rid, null);
  assert.equal(s.errors.filter((e) => e.id === null).length, 8 + 7, 'entries without a usable id');
  // nothing invalid was stored either
  const r2 = await mconnect(srv, r.cid);
  assert.deepEqual(await receive(r2, want.length), want);
  assert.deepEqual(await settle(r2), want);
  closeAll();
});

test('send: every field is forwarded untouched, numbers stay numbers', async () => {
  const r = await mconnect(srv, uid('fields'));
  const sn = 22000 + (++uniq);
  const s = await mconnect(srv, String(sn));
  const m = {
    id: 11, rid: r.cid, sid: sn, text: 'hello', url: 'https://web.com/pic.png',
    n: 1.5, neg: -42, zero: 0, exp: 1e-7, t: true, f: false, nul: null,
    arr: [1, '2', null, true, { a: { b: [] } }], obj: { x: { y: 'z' }, e: {} },
    s: 'é😀\n\t"\\ \u0000\u001f', empty: '',
  };
  s.sendJSON({ send: [m] });
  assert.deepEqual(await receive(r, 1), [m]);
  // written by hand: precision beyond a double and escapes survive
  s.send(`{"send":[{"id":"raw","sid":"${sn}","rid":${JSON.stringify(r.cid)},"big":12345678901234567890123,"u":"\\u00e9\\ud83d\\ude00"}]}`);
  await receive(r, 2);
  const raw = r.frames[r.frames.length - 1].raw;
  assert.match(raw, /"big":\s*12345678901234567890123\b/, 'a big integer keeps its digits: ' + raw);
  assert.equal(r.msgs[1].u, 'é😀');
  // the stored copies are the same
  await sync(s);
  const r2 = await mconnect(srv, r.cid);
  const back = await receive(r2, 2);
  assert.deepEqual(back[0], m);
  assert.match(r2.frames.map((f) => f.raw).join('\n'), /"big":\s*12345678901234567890123\b/);
  closeAll();
});

test('send: one frame can carry messages to several recipients', async () => {
  const a = await mconnect(srv, uid('multi-a'));
  const b = await mconnect(srv, uid('multi-b'));
  const s = await mconnect(srv, uid('multi-sender'));
  const off = uid('multi-offline');
  s.sendJSON({ send: [
    { id: 11, rid: a.cid, sid: s.cid, text: 'hello' },
    { id: 12, rid: b.cid, sid: s.cid, url: 'https://web.com/pic.png' },
    { id: 13, rid: off, sid: s.cid },
    { id: 14, rid: s.cid, sid: s.cid },
  ] });
  assert.deepEqual(await receive(a, 1), [{ id: 11, rid: a.cid, sid: s.cid, text: 'hello' }]);
  assert.deepEqual(await receive(b, 1), [{ id: 12, rid: b.cid, sid: s.cid, url: 'https://web.com/pic.png' }]);
  assert.deepEqual(ids(await receive(s, 1)), [14]);
  const o = await mconnect(srv, off);
  assert.deepEqual(ids(await receive(o, 1)), [13]);
  closeAll();
});

test('sid must be the sender\'s own client_id: others are not stored and are reported in errors', async () => {
  const r = await mconnect(srv, uid('sid'));
  const s = await mconnect(srv, uid('sid-sender'));
  const n = 23000 + (++uniq);
  const num = await mconnect(srv, String(n));
  s.sendJSON({ send: [{ id: 1, sid: 'someone-else', rid: r.cid }, { id: 2, sid: 12345, rid: r.cid },
    { id: 3, sid: r.cid, rid: r.cid }, { id: 4, sid: s.cid, rid: r.cid }] });
  // the worker is not trusted either: a second sid the recipient would read instead is refused
  s.send(`{"send":[{"id":5,"sid":${JSON.stringify(s.cid)},"rid":${JSON.stringify(r.cid)},"sid":"${r.cid}"},`
    + `{"id":6,"s\\u0069d":${JSON.stringify(s.cid)},"rid":${JSON.stringify(r.cid)},"sid":"x"}]}`);
  num.sendJSON({ send: [{ id: 7, sid: n, rid: r.cid }, { id: 8, sid: String(n), rid: r.cid }] });
  await sync(s, r);
  await sync(num, r);
  const got = (await settle(r)).map((m) => [m.id, m.sid]).sort((x, y) => x[0] - y[0]);
  assert.deepEqual(got, [[4, s.cid], [7, n], [8, String(n)]]);
  drain(s);
  assert.deepEqual(s.errors, [
    { id: 1, rid: r.cid, error: "sid is not the sender's client_id" },
    { id: 2, rid: r.cid, error: "sid is not the sender's client_id" },
    { id: 3, rid: r.cid, error: "sid is not the sender's client_id" },
    { id: 5, rid: r.cid, error: 'id, sid or rid given twice' },
    { id: 6, rid: r.cid, error: 'id, sid or rid given twice' },
  ]);
  const r2 = await mconnect(srv, r.cid);
  assert.deepEqual(ids(await receive(r2, 3)).sort(), [4, 7, 8]);
  assert.deepEqual(ids(await settle(r2)).sort(), [4, 7, 8]);
  closeAll();
});

test('send: an id is any JSON string or number: a 4000-byte string id (within the size limit) is stored, deduplicated and read', async () => {
  const r = await mconnect(srv, uid('longid'));
  const s = await mconnect(srv, uid('longid-sender'));
  await sync(r);
  const longId = 'i'.repeat(4000);
  const longNum = '1' + '0'.repeat(300); // a number of 301 digits
  const sid = JSON.stringify(s.cid);
  s.send(`{"send":[{"id":${JSON.stringify(longId)},"sid":${sid},"rid":${JSON.stringify(r.cid)},"v":1},`
    + `{"id":${longNum},"sid":${sid},"rid":${JSON.stringify(r.cid)},"v":2},`
    + `{"id":${JSON.stringify(longId)},"sid":${sid},"rid":${JSON.stringify(r.cid)},"v":3}]}`);
  await receive(r, 2, 8000).catch(async (e) => {
    await sync(s);
    throw new Error(`${e.message}; received v = ${JSON.stringify(r.msgs.map((m) => m.v))}`);
  });
  assert.deepEqual(r.msgs.map((m) => m.v), [1, 2]);
  r.sendJSON({ read: [{ id: longId }] });
  await sync(r);
  const r2 = await mconnect(srv, r.cid);
  assert.deepEqual((await receive(r2, 1)).map((m) => m.v), [2]);
  assert.deepEqual((await settle(r2)).map((m) => m.v), [2]);
  closeAll();
});

test('send: valid JSON is not malformed however it nests: a message nested 300 levels deep is stored and forwarded untouched', async () => {
  const r = await mconnect(srv, uid('deep'));
  const s = await mconnect(srv, uid('deep-sender'));
  await sync(r);
  const D = 300;
  const deep = '['.repeat(D) + '"core"' + ']'.repeat(D);
  const sid = JSON.stringify(s.cid);
  s.send(`{"send":[{"id":1,"sid":${sid},"rid":${JSON.stringify(r.cid)},"deep":${deep}},{"id":2,"sid":${sid},"rid":${JSON.stringify(r.cid)}}]}`);
  let v = JSON.parse(JSON.stringify((await receive(r, 2, 8000).catch(async (e) => {
    await sleep(300);
    const c = s.readyState === WebSocket.OPEN ? 'the sender is still open' : `the sender was closed ${JSON.stringify(await closeOf(s))}`;
    throw new Error(`${e.message}; ${c}`);
  }))[0].deep));
  for (let i = 0; i < D; i++) { assert.ok(Array.isArray(v) && v.length === 1, `level ${i}`); v = v[0]; }
  assert.equal(v, 'core');
  assert.equal(s.readyState, WebSocket.OPEN);
  closeAll();
});

// ---- read ----

test('read deletes the named message addressed to the reader; ids compare with their type (1 ≠ "1"); unknown ids are ignored', async () => {
  const cid = uid('read');
  const s = await mconnect(srv, uid('read-sender'));
  s.sendJSON({ send: [1, '1', 2, 'x', '2'].map((id) => ({ id, sid: s.cid, rid: cid })) });
  await sync(s);
  const r = await mconnect(srv, cid);
  assert.deepEqual(ids(await receive(r, 5)), [1, '1', 2, 'x', '2']);
  r.sendJSON({ read: [{ id: 1 }, { id: 'x' }, { id: 999 }, { id: 'nope' }, {}, 5, null, { id: null }, { id: [2] }, { id: { '2': 2 } }, { id: '02' }] });
  await sync(r);
  const r2 = await mconnect(srv, cid);
  assert.deepEqual(ids(await receive(r2, 3)), ['1', 2, '2']);
  assert.deepEqual(ids(await settle(r2)), ['1', 2, '2']);
  r2.sendJSON({ read: [{ id: '1' }, { id: 2 }, { id: '2' }] });
  await sync(r2);
  const r3 = await mconnect(srv, cid);
  assert.deepEqual(ids(await settle(r3, 600)), []);
  closeAll();
});

test('read cannot delete messages addressed to someone else (not even their sender)', async () => {
  const bob = uid('bob');
  const s = await mconnect(srv, uid('rd-sender'));
  const carol = await mconnect(srv, uid('carol'));
  s.sendJSON({ send: [{ id: 'm1', sid: s.cid, rid: bob }, { id: 'm1', sid: s.cid, rid: carol.cid }, { id: 'm2', sid: s.cid, rid: bob }] });
  assert.deepEqual(ids(await receive(carol, 1)), ['m1']);
  // the sender and another user try to delete bob's mail
  s.sendJSON({ read: [{ id: 'm1' }, { id: 'm2' }] });
  carol.sendJSON({ read: [{ id: 'm1' }, { id: 'm2' }] });
  await sync(s);
  await sync(carol);
  const b = await mconnect(srv, bob);
  assert.deepEqual(ids(await receive(b, 2)), ['m1', 'm2']);
  assert.deepEqual(ids(await settle(b)), ['m1', 'm2']);
  // carol's own m1 is gone
  const c2 = await mconnect(srv, carol.cid);
  assert.deepEqual(ids(await settle(c2, 600)), []);
  closeAll();
});

test('numeric ids compare by their JSON text: 10, 1e1 and 10.0 are three messages', async () => {
  const cid = uid('numtext');
  const s = await mconnect(srv, uid('numtext-sender'));
  const rid = JSON.stringify(cid);
  const sid = JSON.stringify(s.cid);
  s.send(`{"send":[{"id":10,"sid":${sid},"rid":${rid},"tag":"a"},{"id":1e1,"sid":${sid},"rid":${rid},"tag":"b"},{"id":10.0,"sid":${sid},"rid":${rid},"tag":"c"},{"id":10,"sid":${sid},"rid":${rid},"tag":"dup"}]}`);
  await sync(s);
  const r = await mconnect(srv, cid);
  assert.deepEqual((await receive(r, 3)).map((m) => m.tag), ['a', 'b', 'c']);
  r.send('{"read":[{"id":10}]}');
  await sync(r);
  const r2 = await mconnect(srv, cid);
  assert.deepEqual((await receive(r2, 2)).map((m) => m.tag), ['b', 'c']);
  assert.deepEqual((await settle(r2)).map((m) => m.tag), ['b', 'c']);
  closeAll();
});

// ---- server messages ----

test('on connect with nothing stored nothing is sent', async () => {
  const a = await mconnect(srv, uid('empty'));
  await quiet(a, 800);
  closeAll();
});

test('live delivery: one message per frame, {"messages":[m]}', async () => {
  const r = await mconnect(srv, uid('live'));
  const s = await mconnect(srv, uid('live-sender'));
  await sync(r); // r is registered
  const sent = [1, 2, 3, 4].map((i) => ({ id: i, sid: s.cid, rid: r.cid, i }));
  s.sendJSON({ send: sent });
  await receive(r, 4);
  await settle(r, 200);
  assert.deepEqual(r.msgs, sent);
  for (const f of r.frames) assert.equal(f.n, 1, 'live frame with several messages: ' + f.raw);
  closeAll();
});

test('an offline recipient gets its unread messages on connect, in arrival order', async () => {
  const cid = uid('offline');
  const s1 = await mconnect(srv, uid('off-s1'));
  const s2 = await mconnect(srv, uid('off-s2'));
  const order = [];
  for (let i = 0; i < 6; i++) {
    const ws = i % 2 ? s2 : s1;
    ws.sendJSON({ send: [{ id: i, sid: ws.cid, rid: cid }] });
    order.push(i);
    await sync(ws); // makes the arrival order known
  }
  const r = await mconnect(srv, cid);
  assert.deepEqual(ids(await receive(r, 6)), order);
  assert.deepEqual(ids(await settle(r)), order);
  closeAll();
});

test('a message stays stored until read: it comes again on every new connection, also after live delivery', async () => {
  const r = await mconnect(srv, uid('again'));
  const s = await mconnect(srv, uid('again-sender'));
  s.sendJSON({ send: [{ id: 'a', sid: s.cid, rid: r.cid }, { id: 'b', sid: s.cid, rid: r.cid }] });
  assert.deepEqual(ids(await receive(r, 2)), ['a', 'b']);
  for (let k = 0; k < 3; k++) {
    const again = await mconnect(srv, r.cid);
    assert.deepEqual(ids(await receive(again, 2)), ['a', 'b'], `connection ${k + 2}`);
  }
  const last = await mconnect(srv, r.cid);
  await receive(last, 2);
  last.sendJSON({ read: [{ id: 'a' }] });
  await sync(last);
  const after = await mconnect(srv, r.cid);
  assert.deepEqual(ids(await receive(after, 1)), ['b']);
  assert.deepEqual(ids(await settle(after)), ['b']);
  closeAll();
});

test('a backlog of 1200 messages arrives in frames of at most 500 messages, in arrival order', async () => {
  const N = 1200;
  const cid = uid('backlog');
  // two senders: one may store at most --messaging-max-per-sender (1000) for one recipient
  const senders = [await mconnect(srv, uid('backlog-sender')), await mconnect(srv, uid('backlog-sender'))];
  for (let i = 0; i < N; i += 100) {
    const s = senders[i < N / 2 ? 0 : 1];
    const batch = [];
    for (let j = i; j < i + 100; j++) batch.push({ id: j, sid: s.cid, rid: cid, body: `message ${j}` });
    s.sendJSON({ send: batch });
    if (i + 100 === N / 2 || i + 100 === N) await sync(s); // arrival order: all of the first, then the second
  }
  const r = await mconnect(srv, cid);
  await receive(r, N, 30000);
  await settle(r, 500);
  assert.equal(r.msgs.length, N, 'no more than the backlog');
  assert.deepEqual(ids(r.msgs), [...Array(N).keys()]);
  for (const f of r.frames) assert.ok(f.n <= 500, `a frame of ${f.n} messages`);
  assert.ok(r.frames.length >= 3, `${r.frames.length} frames`);
  closeAll();
}, { timeout: 60000 });

test('a backlog bigger than the router\'s queue for one worker (80 messages of 60 KB) arrives whole; the client is not "too slow"', async () => {
  const N = 80;
  const cid = uid('bigbacklog');
  const s = await mconnect(srv, uid('bigbacklog-sender'));
  const pad = 'p'.repeat(60000);
  for (let i = 0; i < N; i += 10) {
    s.sendJSON({ send: Array.from({ length: 10 }, (_, j) => ({ id: i + j, sid: s.cid, rid: cid, pad })) });
  }
  await sync(s, 60000);
  const r = await mconnect(srv, cid);
  await receive(r, N, 30000);
  assert.deepEqual(ids(r.msgs), [...Array(N).keys()]);
  assert.ok(r.msgs.every((m) => m.pad === pad));
  assert.equal(r.readyState, WebSocket.OPEN);
  // live delivery goes on after the backlog
  s.sendJSON({ send: [{ id: 'after', sid: s.cid, rid: cid }] });
  assert.deepEqual(ids(await receive(r, N + 1)).slice(N), ['after']);
  closeAll();
}, { timeout: 90000 });

// ---- storage ----

test('the store key is (rid, sid, id): a second send with an existing (rid, sid, id) is ignored; another sender\'s same id is another message', async () => {
  const r = await mconnect(srv, uid('dedup'));
  const other = uid('dedup-other');
  const s = await mconnect(srv, uid('dedup-s'));
  const t = await mconnect(srv, uid('dedup-t'));
  await sync(r);
  s.sendJSON({ send: [{ id: 5, sid: s.cid, rid: r.cid, v: 1 }] });
  s.sendJSON({ send: [{ id: 5, sid: s.cid, rid: r.cid, v: 2 }, { id: 5, sid: s.cid, rid: other, v: 3 }, { id: '5', sid: s.cid, rid: r.cid, v: 4 }] });
  s.sendJSON({ send: [{ id: 6, sid: s.cid, rid: r.cid, v: 5 }] });
  await receive(r, 3);
  assert.deepEqual(r.msgs.map((m) => m.v), [1, 4, 5]);
  // t cannot pre-empt s's ids (they were "duplicates" when the key was (rid, id))
  t.sendJSON({ send: [{ id: 5, sid: t.cid, rid: r.cid, v: 6 }, { id: 6, sid: t.cid, rid: r.cid, v: 7 }, { id: 7, sid: t.cid, rid: r.cid, v: 8 }] });
  t.sendJSON({ send: [{ id: 5, sid: t.cid, rid: r.cid, v: 9 }] });
  await receive(r, 6);
  await sync(s);
  await sync(t);
  assert.deepEqual((await settle(r)).map((m) => m.v), [1, 4, 5, 6, 7, 8]);
  const r2 = await mconnect(srv, r.cid);
  await receive(r2, 6);
  assert.deepEqual((await settle(r2)).map((m) => m.v), [1, 4, 5, 6, 7, 8]);
  // a read with a sid deletes only that sender's message; without, every sender's with that id
  r2.sendJSON({ read: [{ id: 5, sid: t.cid }] });
  await sync(r2);
  const r3 = await mconnect(srv, r.cid);
  await receive(r3, 5);
  assert.deepEqual((await settle(r3)).map((m) => m.v), [1, 4, 5, 7, 8]);
  r3.sendJSON({ read: [{ id: 6 }] });
  await sync(r3);
  const r4 = await mconnect(srv, r.cid);
  await receive(r4, 3);
  assert.deepEqual((await settle(r4)).map((m) => m.v), [1, 4, 8]);
  assert.deepEqual(s.errors.concat(t.errors), [], 'duplicates are no errors');
  const o = await mconnect(srv, other);
  assert.deepEqual((await receive(o, 1)).map((m) => m.v), [3]);
  closeAll();
});

test('after a message is read its (rid, id) is free: the same id can be sent again', async () => {
  const r = await mconnect(srv, uid('reuse'));
  const s = await mconnect(srv, uid('reuse-sender'));
  s.sendJSON({ send: [{ id: 1, sid: s.cid, rid: r.cid, v: 'first' }] });
  await receive(r, 1);
  r.sendJSON({ read: [{ id: 1 }] });
  await sync(r);
  s.sendJSON({ send: [{ id: 1, sid: s.cid, rid: r.cid, v: 'second' }] });
  assert.deepEqual((await receive(r, 2)).map((m) => m.v), ['first', 'second']);
  closeAll();
});

test('order: per (sender, recipient) in send order, live and in the backlog; the backlog is in arrival order', async () => {
  const N = ASAN ? 300 : 1000;
  const r = await mconnect(srv, uid('order'));
  const s1 = await mconnect(srv, uid('order-s1'));
  const s2 = await mconnect(srv, uid('order-s2'));
  await sync(r);
  for (let i = 0; i < N; i++) {
    s1.sendJSON({ send: [{ id: `a${i}`, sid: s1.cid, rid: r.cid, i }] });
    s2.sendJSON({ send: [{ id: `b${i}`, sid: s2.cid, rid: r.cid, i }] });
    if (i % 100 === 99) await sleep(5);
  }
  await receive(r, 2 * N, 60000);
  for (const sid of [s1.cid, s2.cid]) {
    const seq = r.msgs.filter((m) => m.sid === sid).map((m) => m.i);
    assert.deepEqual(seq, [...Array(N).keys()], `live order from ${sid}`);
  }
  const live = ids(r.msgs);
  const r2 = await mconnect(srv, r.cid);
  await receive(r2, 2 * N, 60000);
  assert.deepEqual(ids(r2.msgs), live, 'the backlog comes in the order the messages arrived (= live order)');
  closeAll();
}, { timeout: 120000 });

// ---- limits ----

// A message whose JSON text is exactly `bytes` bytes long.
function sized(bytes, base, ch = 'x') {
  const m = { ...base, pad: '' };
  const rest = bytes - Buffer.byteLength(JSON.stringify(m));
  m.pad = ch.repeat(Math.floor(rest / Buffer.byteLength(ch))) + 'x'.repeat(rest % Buffer.byteLength(ch));
  assert.equal(Buffer.byteLength(JSON.stringify(m)), bytes);
  return m;
}

test('--messaging-max-size: a message over the limit is skipped (not stored, not delivered) and logged; the others still work', async () => {
  const s2 = await startServer({ args: ['--messaging-max-size', '1000'] });
  try {
    const r = await mconnect(s2, 'size-r');
    const s = await mconnect(s2, 'size-s');
    await sync(r);
    const base = (id) => ({ id, sid: 'size-s', rid: 'size-r' });
    const at = sized(1000, base('at-limit'));
    const over = sized(1001, base('over'));
    const overUtf8 = sized(1001, base('over-utf8'), 'é'); // fewer characters, more bytes
    assert.ok(JSON.stringify(overUtf8).length < 1000);
    s.sendJSON({ send: [base('small-1'), over, at, overUtf8, base('small-2')] });
    assert.deepEqual(ids(await receive(r, 3)), ['small-1', 'at-limit', 'small-2']);
    await sync(s);
    assert.deepEqual(ids(await settle(r)), ['small-1', 'at-limit', 'small-2']);
    await expectSkipped(s2, 2);
    // and reported to the sender, by id and rid
    assert.deepEqual(await errorsOf(s, 2), ['over', 'over-utf8'].map((id) => ({ id, rid: 'size-r', error: 'message too large' })));
    // not stored either
    const r2 = await mconnect(s2, 'size-r');
    assert.deepEqual(ids(await receive(r2, 3)), ['small-1', 'at-limit', 'small-2']);
    assert.deepEqual(ids(await settle(r2)), ['small-1', 'at-limit', 'small-2']);
    // the sender is still served
    s.sendJSON({ send: [base('later')] });
    assert.deepEqual(ids(await receive(r2, 4)), ['small-1', 'at-limit', 'small-2', 'later']);
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 60000 });

test('the default message size limit is 65536 bytes of JSON text', async () => {
  const s2 = await startServer();
  try {
    const r = await mconnect(s2, 'dsize-r');
    const s = await mconnect(s2, 'dsize-s');
    await sync(r);
    const base = (id) => ({ id, sid: 'dsize-s', rid: 'dsize-r' });
    s.sendJSON({ send: [sized(65537, base('over')), sized(65536, base('at-limit')), base('small')] });
    assert.deepEqual(ids(await receive(r, 2)), ['at-limit', 'small']);
    await sync(s);
    assert.deepEqual(ids(await settle(r)), ['at-limit', 'small']);
    await expectSkipped(s2, 1);
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 60000 });

test('--messaging-max-queue: messages beyond the per-recipient limit are skipped and logged; reading frees room', async () => {
  const s2 = await startServer({ args: ['--messaging-max-queue', '5'] });
  try {
    const s = await mconnect(s2, 'queue-s');
    const m = (id, rid = 'queue-r') => ({ id, sid: 'queue-s', rid });
    s.sendJSON({ send: [1, 2, 3, 4, 5, 6, 7].map((i) => m(i)) });
    s.sendJSON({ send: [m(8), m(1, 'queue-other')] });
    await sync(s);
    await expectSkipped(s2, 3);
    const r = await mconnect(s2, 'queue-r');
    assert.deepEqual(ids(await receive(r, 5)), [1, 2, 3, 4, 5]);
    assert.deepEqual(ids(await settle(r)), [1, 2, 3, 4, 5]);
    // another recipient is not affected
    const o = await mconnect(s2, 'queue-other');
    assert.deepEqual(ids(await receive(o, 1)), [1]);
    // online but full: not delivered either
    s.sendJSON({ send: [m(9)] });
    await sync(s);
    assert.deepEqual(ids(await settle(r)), [1, 2, 3, 4, 5]);
    // reading one makes room for one (r's queue is full: sync through o)
    r.sendJSON({ read: [{ id: 1 }] });
    await sync(r, o);
    s.sendJSON({ send: [m(10), m(11)] });
    assert.deepEqual(ids(await receive(r, 6)), [1, 2, 3, 4, 5, 10]);
    await sync(s);
    assert.deepEqual(ids(await settle(r)), [1, 2, 3, 4, 5, 10]);
    await expectSkipped(s2, 5); // 6, 7, 8, 9, 11
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 60000 });

test('the default per-recipient limit is 10000 stored messages', async () => {
  const LIMIT = 10000;
  // one sender may fill at most --messaging-max-per-sender of a queue: raised here
  const s2 = await startServer({ args: ['--messaging-max-per-sender', '20000'] });
  try {
    const s = await mconnect(s2, 'dq-s');
    for (let i = 0; i < LIMIT + 2; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(LIMIT + 2, i + 1000); j++) batch.push({ id: j, sid: 'dq-s', rid: 'dq-r' });
      s.sendJSON({ send: batch });
    }
    await sync(s, 60000);
    await expectSkipped(s2, 1);
    const r = await mconnect(s2, 'dq-r');
    await receive(r, LIMIT, 60000);
    await settle(r, 500);
    assert.equal(r.msgs.length, LIMIT);
    assert.deepEqual(ids(r.msgs), [...Array(LIMIT).keys()]);
    for (const f of r.frames) assert.ok(f.n <= 500, `a frame of ${f.n} messages`);
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 120000 });

// ---- durability ----

test('durable: the store is store.db under the state dir and survives a stop and start', async () => {
  const s1 = await startServer();
  let s2 = null;
  try {
    const s = await mconnect(s1, 'dur-s');
    s.sendJSON({ send: [1, 2, 3].map((i) => ({ id: i, sid: 'dur-s', rid: 'dur-off', n: i })) });
    s.sendJSON({ send: [{ id: 'read-me', sid: 'dur-s', rid: 'dur-on' }, { id: 'keep-me', sid: 'dur-s', rid: 'dur-on' }] });
    await sync(s);
    const on = await mconnect(s1, 'dur-on');
    await receive(on, 2);
    on.sendJSON({ read: [{ id: 'read-me' }] });
    await sync(on);
    assert.ok(fs.existsSync(path.join(s1.stateDir, 'store.db')), 'store.db in ' + s1.stateDir + ': ' + fs.readdirSync(s1.stateDir));
    assert.ok(!fs.existsSync(path.join(s1.stateDir, 'messaging.db')), 'no messaging.db');
    closeAll();
    const r = await s1.stop();
    assert.equal(r.code, 0, s1.tail());
    s2 = await startServer({ stateDir: s1.stateDir });
    const off = await mconnect(s2, 'dur-off');
    assert.deepEqual(await receive(off, 3), [1, 2, 3].map((i) => ({ id: i, sid: 'dur-s', rid: 'dur-off', n: i })));
    const on2 = await mconnect(s2, 'dur-on');
    assert.deepEqual(ids(await receive(on2, 1)), ['keep-me']);
    assert.deepEqual(ids(await settle(on2)), ['keep-me']);
    closeAll();
  } finally { closeAll(); await s1.stop(); if (s2) await s2.stop(); }
}, { timeout: 60000 });

async function killRouter(server) {
  const old = server.routerPid();
  assert.ok(old, 'a router runs');
  process.kill(old, 'SIGKILL');
  return old;
}

test('durable: a message the router took before a SIGKILL survives; connected clients stay connected and keep receiving', async () => {
  const s2 = await startServer();
  try {
    const r = await mconnect(s2, 'crash-r');
    const s = await mconnect(s2, 'crash-s');
    s.sendJSON({ send: [{ id: 1, sid: 'crash-s', rid: 'crash-off' }, { id: 2, sid: 'crash-s', rid: 'crash-r' }] });
    await sync(s); // the router has taken both
    assert.deepEqual(ids(await receive(r, 1)), [2]);
    await sleep(100); // well over the 10 ms the sheet allows
    const old = await killRouter(s2);
    await until(() => s2.routerPid() && s2.routerPid() !== old, 20000, 'router restart');
    // the clients were not closed; after re-registration messages flow again
    s.sendJSON({ send: [{ id: 3, sid: 'crash-s', rid: 'crash-r' }] });
    await until(() => drain(r).some((m) => m.id === 3), 30000, 'delivery after the restart')
      .catch((e) => { throw new Error(`${e.message}\n${s2.tail()}`); });
    assert.equal(r.readyState, WebSocket.OPEN);
    assert.equal(s.readyState, WebSocket.OPEN);
    const off = await mconnect(s2, 'crash-off');
    assert.deepEqual(ids(await receive(off, 1)), [1]);
    const r2 = await mconnect(s2, 'crash-r');
    assert.deepEqual(ids(await receive(r2, 2)), [2, 3]);
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 90000 });

// When did the router take each message? The tap shows its "send" envelope;
// the moment the line reaches us is an upper bound on that.
function tapTimes(server) {
  const seen = new Map(); // message id -> ms
  const tap = spawn('nngcat', ['--sub', '--dial', `ipc://${server.stateDir}/tap.ipc`, '--subscribe', '', '--quoted']);
  let rest = '';
  tap.stdout.on('data', (d) => {
    const now = Date.now();
    const lines = (rest + d).split('\n');
    rest = lines.pop();
    for (const l of lines) {
      const m = /\\"op\\"=>\\"send\\".*\\"key\\"=>\\"s(m\d+)\\"/.exec(l);
      if (m && !seen.has(m[1])) seen.set(m[1], now);
      seen.lines = (seen.lines || 0) + 1;
    }
  });
  seen.stop = () => tap.kill();
  return seen;
}

// The store commits at most 10 ms after a message arrives; the margin allows
// for the loop finishing its turn on a loaded machine (and for ASan).
const TAKEN_MARGIN = ASAN ? 100 : 50;

test(`durability under load: a router SIGKILL mid-stream loses no message the router took more than ${TAKEN_MARGIN} ms before the kill (timed by the tap)`, async () => {
  const N = ASAN ? 600 : 2000;
  const K = 4;
  const s2 = await startServer();
  const taken = tapTimes(s2);
  try {
    // nngcat reads the tap once a line comes through: connect until one does
    await until(async () => {
      const probe = await mconnect(s2, uid('tap-probe'));
      probe.close();
      await sleep(50);
      return taken.lines > 0;
    }, 15000, 'the tap to show a line');
    const R = await mconnect(s2, 'r');
    const senders = [];
    for (let k = 0; k < K; k++) senders.push(await mconnect(s2, 's' + k));
    const sent = new Map(); // id -> { rid, t, phase }
    let seq = 0;
    const sendOne = (phase) => {
      const i = seq++;
      const ws = senders[i % K];
      const rid = Math.floor(i / K) % 2 ? 'o' : 'r';
      const id = `m${i}`;
      const t = Date.now();
      sent.set(id, { rid, t, phase });
      ws.sendJSON({ send: [{ id, sid: ws.cid, rid, i, t }] });
    };
    // a steady stream: count messages spread over ms
    const stream = async (count, ms, phase) => {
      const start = Date.now();
      let done = 0;
      while (done < count) {
        const due = Math.min(count, Math.ceil(count * (Date.now() - start + 10) / ms));
        while (done < due) { sendOne(phase); done++; }
        await sleep(10);
      }
    };
    await sleep(200);
    await stream(N / 2, 1000, 'before');
    const killAt = Date.now();
    const old = await killRouter(s2);
    await stream(N / 4, 500, 'down');
    await until(() => s2.routerPid() && s2.routerPid() !== old, 20000, 'router restart');
    const backAt = Date.now();
    await stream(N / 4, 500, 'after');
    // every sender's earlier messages have been taken once its marker comes back
    await Promise.all(senders.map((ws) => sync(ws, 60000)))
      .catch((e) => { throw new Error(`${e.message}\n${s2.tail()}`); });
    drain(R);
    assert.equal(R.readyState, WebSocket.OPEN, 'R was closed during the test');
    for (const ws of senders) assert.equal(ws.readyState, WebSocket.OPEN, `${ws.cid} was closed during the test`);

    // must survive: taken by the router more than TAKEN_MARGIN ms before
    // the kill (by the tap), or sent more than 500 ms before it (in case
    // the tap dropped a line), or sent once the new router was running
    // (workers hold them until they have registered again)
    const early = (id, v) => (taken.has(id) && taken.get(id) < killAt - TAKEN_MARGIN) || v.t < killAt - 500;
    const must = (rid) => [...sent].filter(([id, v]) => v.rid === rid && (early(id, v) || v.t > backAt)).map(([id]) => id);
    const count = (rid, phase) => [...sent.values()].filter((v) => v.rid === rid && v.phase === phase).length;
    const report = (rid, got, missing) => {
      const early = missing.filter((id) => sent.get(id).t < killAt - 500);
      const tapped = [...sent].filter(([id, v]) => v.rid === rid && taken.has(id) && taken.get(id) < killAt - TAKEN_MARGIN
        && v.t >= killAt - 500).length;
      const late = missing.filter((id) => sent.get(id).t > backAt);
      const lostOther = [...sent].filter(([id, v]) => v.rid === rid && !got.has(id) && !missing.includes(id))
        .map(([, v]) => v.t - killAt);
      return `to ${rid}: sent ${count(rid, 'before')} before the kill (${[...sent.values()].filter((v) => v.rid === rid && v.t < killAt - 500).length} of them > 500 ms before), `
        + `${count(rid, 'down')} while the router was down, ${count(rid, 'after')} after it was back (${backAt - killAt} ms after the kill); `
        + `must survive ${must(rid).length} (${tapped} of them by the tap alone: taken > ${TAKEN_MARGIN} ms before the kill); `
        + `received ${got.size}; missing ${missing.length} `
        + `(${early.length} sent > 500 ms before the kill${early.length ? ': ' + early.slice(0, 10).join(' ') : ''}; `
        + `${late.length} sent after the restart${late.length ? ': ' + late.slice(0, 10).join(' ') : ''}); `
        + `not asserted: ${lostOther.length} sent near or during the outage not received`
        + `${lostOther.length ? ' (sent at ' + lostOther.slice(0, 20).join(', ') + ' ms from the kill)' : ''}`;
    };

    // R: what it got live, plus everything unread again on a reconnect
    const liveR = new Set(ids(R.msgs));
    const R2 = await mconnect(s2, 'r');
    const c = await closeOf(R);
    assert.equal(c.code, 4000, 'the reconnect supersedes R');
    const gotR = () => new Set([...liveR, ...ids(drain(R2))]);
    await until(() => must('r').every((id) => gotR().has(id) && R2.msgs.some((m) => m.id === id)), 30000).catch(() => {});
    const missingR = must('r').filter((id) => !gotR().has(id));
    console.log('# ' + report('r', gotR(), missingR));
    assert.equal(missingR.length, 0, report('r', gotR(), missingR));
    // R read nothing, so the reconnect's backlog alone must hold them all (the store kept them)
    const storedR = new Set(ids(R2.msgs));
    const missingStoredR = must('r').filter((id) => !storedR.has(id));
    console.log(`# r's reconnect backlog: ${storedR.size} messages, ${missingStoredR.length} must-survive missing`);
    assert.equal(missingStoredR.length, 0, 'in the backlog of the reconnect: ' + report('r', storedR, missingStoredR));
    // O: a fresh connection gets its stored backlog
    const O = await mconnect(s2, 'o');
    const gotO = () => new Set(ids(drain(O)));
    await until(() => must('o').every((id) => gotO().has(id)), 30000).catch(() => {});
    const missingO = must('o').filter((id) => !gotO().has(id));
    console.log('# ' + report('o', gotO(), missingO));
    assert.equal(missingO.length, 0, report('o', gotO(), missingO));
    // sanity: the backlogs hold only messages that were sent, each once, in frames of <= 500
    await settle(R2, 300);
    await settle(O, 300);
    for (const ws of [R2, O]) {
      const seen = ids(ws.msgs);
      assert.equal(new Set(seen).size, seen.length, `${ws.cid}: a message came twice in one backlog`);
      for (const id of seen) assert.equal(sent.get(id) && sent.get(id).rid, ws.cid, `${ws.cid}: unexpected ${id}`);
      for (const f of ws.frames) assert.ok(f.n <= 500);
      // per-sender order in the backlog
      for (const sc of senders.map((x) => x.cid)) {
        const is = ws.msgs.filter((m) => m.sid === sc).map((m) => m.i);
        assert.deepEqual(is, [...is].sort((a, b) => a - b), `${ws.cid}: order from ${sc}`);
      }
    }
    closeAll();
  } finally { taken.stop(); closeAll(); await s2.stop(); }
}, { timeout: 120000 });

test('switchboard-router --store-stats prints a [messaging] section of "<client_id> <count>" per recipient and exits 0, while the server runs', async () => {
  const s2 = await startServer();
  try {
    const s = await mconnect(s2, 'st-s');
    s.sendJSON({ send: [
      { id: 1, sid: 'st-s', rid: 'st-a' }, { id: 2, sid: 'st-s', rid: 'st-a' }, { id: 3, sid: 'st-s', rid: 'st-a' },
      { id: 1, sid: 'st-s', rid: 'st-b' }, { id: 1, sid: 'st-s', rid: 'st-c' }, { id: 2, sid: 'st-s', rid: 'st-c' },
      { id: 1, sid: 'st-s', rid: 42 },
    ] });
    const c = await mconnect(s2, 'st-c');
    await receive(c, 2);
    c.sendJSON({ read: [{ id: 1 }, { id: 2 }] });
    let last = null;
    const parse = (out) => Object.fromEntries(out.split('\n').filter(Boolean).map((l) => {
      const m = /^(\S+) (\d+)$/.exec(l);
      assert.ok(m, 'a line that is not "<client_id> <count>": ' + JSON.stringify(l));
      return [m[1], Number(m[2])];
    }));
    await until(async () => {
      last = await storeStats(s2.stateDir);
      if (last.code !== 0) throw new Error(`--store-stats exited with ${last.code}: ${last.stderr.slice(0, 1500)}`);
      assert.ok(last.sections.messaging, 'a [messaging] section: ' + last.stdout);
      const st = parse(last.messaging);
      return st['st-a'] === 3 && st['st-b'] === 1 && st['42'] === 1 && !st['st-c'];
    }, 20000, 'store stats').catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(last)}`); });
    assert.equal(last.code, 0);
    assert.match(last.stdout, /^\[messaging\]\n/);
    const st = parse(last.messaging);
    // nothing else is stored (st-c read everything: no line, or a 0)
    assert.deepEqual(Object.keys(st).filter((k) => st[k] > 0).sort(), ['42', 'st-a', 'st-b']);
    // the server still works
    s.sendJSON({ send: [{ id: 4, sid: 'st-s', rid: 'st-c' }] });
    assert.deepEqual(ids(await receive(c, 3)), [1, 2, 4]);
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 60000 });

// ---- isolation ----

test('isolation: garbage from one client (malformed JSON, 100000 invalid elements, binary) does not affect other clients or the store', async () => {
  const v = await mconnect(srv, uid('iso-v'));
  const wcid = uid('iso-w');
  const s = await mconnect(srv, uid('iso-s'));
  // stored for an offline recipient beforehand
  s.sendJSON({ send: [1, 2, 3].map((i) => ({ id: i, sid: s.cid, rid: wcid })) });
  await sync(s);

  const junk = ['{}', '0', 'null', '[]', '"x"', '{"id":1}', 'true', '{"rid":1}'];
  const big = (n, gen) => { const a = new Array(n); for (let i = 0; i < n; i++) a[i] = gen(i); return a.join(','); };
  const sendJunk = `{"send":[${big(100000, (i) => junk[i % junk.length])}]}`;
  const readJunk = `{"read":[${big(100000, (i) => (i % 2 ? `{"id":${i}}` : junk[i % junk.length]))}]}`;
  assert.ok(sendJunk.length < 1 << 20 && readJunk.length < 1 << 20, 'under --max-message');

  const g1 = await mconnect(srv, uid('iso-g1'));
  const g2 = await mconnect(srv, uid('iso-g2'));
  const g3 = await mconnect(srv, uid('iso-g3'));
  let i = 0;
  const chat = () => s.sendJSON({ send: [{ id: `c${i++}`, sid: s.cid, rid: v.cid }] });
  chat();
  g2.send(sendJunk);
  chat();
  g2.send(readJunk);
  g1.send('{"send":[{"id":1,"sid":1,"rid":"' + v.cid + '"},');
  g3.send(Buffer.alloc(100000, 0xff));
  chat();
  g2.send(sendJunk);
  g2.send(readJunk);
  // g2's frames were valid JSON: it stays open and is still served, in order
  g2.sendJSON({ send: [{ id: 'from-g2', sid: g2.cid, rid: v.cid }] });
  chat();
  assert.equal((await closeOf(g1)).code, 1007);
  assert.equal((await closeOf(g3)).code, 1003);
  await receive(v, 5, 30000);
  assert.deepEqual(ids(v.msgs.filter((m) => m.sid === s.cid)), ['c0', 'c1', 'c2', 'c3']);
  assert.ok(ids(v.msgs).includes('from-g2'));
  assert.equal(g2.readyState, WebSocket.OPEN);
  // the store is intact: exactly what was stored for w, nothing of the junk
  await sync(g2, 60000);
  const w = await mconnect(srv, wcid);
  assert.deepEqual(ids(await receive(w, 3)), [1, 2, 3]);
  assert.deepEqual(ids(await settle(w)), [1, 2, 3]);
  // and new traffic still flows
  const n = ids(v.msgs).length;
  chat();
  await receive(v, n + 1);
  assert.equal(v.readyState, WebSocket.OPEN);
  closeAll();
}, { timeout: 90000 });

// ---- hardening (issue 6) ----

// A rogue worker on the bus (tests/e2e/lib/sp.js): registers for messaging,
// keeps what the router sends it.
let fakeConn = 0x7e000000;
async function fakeWorker(server) {
  const { spClient, mp } = require('./lib/sp');
  const c = await spClient(path.join(server.stateDir, 'bus.ipc'));
  c.got = Buffer.alloc(0);
  c.socket.on('data', (d) => { c.got = Buffer.concat([c.got, d]); });
  c.env = (o) => c.send(mp({ v: 1, p: 'messaging', ...o }));
  c.send(mp({ v: 1, p: 'core', op: 'hello', conn: ++fakeConn, pid: 1, proto: 'messaging', credit: 8 }));
  return c;
}

// Waits until ws has been told of at least n messages not stored.
async function errorsOf(ws, n, ms = 15000) {
  await until(() => drain(ws) && ws.errors.length >= n, ms, `${ws.cid}: ${n} errors entries`)
    .catch((e) => { throw new Error(`${e.message}; got ${JSON.stringify(ws.errors).slice(0, 600)}`); });
  return ws.errors;
}

function routerCrash(server) {
  return /ERROR: AddressSanitizer|runtime error:/.test(server.log) ? crashExcerpt(server) : null;
}

test('one client_id per connection: a worker attaching as A then B is closed 4001 and A is no longer its (no use after free, no misdelivery)', async () => {
  const pid = srv.routerPid();
  const A = uid('uaf-a'), B = uid('uaf-b');
  const f = await fakeWorker(srv);
  f.env({ op: 'attach', client: A });
  f.env({ op: 'attach', client: B });
  const told = await until(() => f.got.includes('client_id cannot change on a connection'), 5000).then(() => true, () => false);
  f.socket.destroy();
  await f.closed;
  await sleep(200); // the router has reaped the worker
  const s = await mconnect(srv, uid('uaf-s'));
  const bystander = await mconnect(srv, uid('uaf-bystander'));
  for (let i = 0; i < 20; i++) s.sendJSON({ send: [{ id: i, sid: s.cid, rid: i % 2 ? A : B }] });
  const crashed = (e) => { throw new Error(`${e.message}\n${routerCrash(srv) || srv.tail()}`); };
  await sync(s).catch(crashed);
  await sync(bystander).catch(crashed);
  assert.equal(routerCrash(srv), null, routerCrash(srv));
  assert.equal(srv.routerPid(), pid, 'the router did not restart');
  assert.deepEqual(ids(await settle(bystander, 200)), [], 'nothing for anyone else');
  assert.ok(told, 'the router told the fake worker to close its client');
  assert.ok(f.got.includes(Buffer.from([0xcd, 0x0f, 0xa1])), 'close code 4001');
  const a = await mconnect(srv, A);
  const b = await mconnect(srv, B);
  assert.deepEqual(ids(await receive(a, 10)), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  assert.deepEqual(ids(await receive(b, 10)), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  // attaching again with the same id is no change: still served
  const g = await fakeWorker(srv);
  const C = uid('uaf-c');
  g.env({ op: 'attach', client: C });
  g.env({ op: 'attach', client: C });
  s.sendJSON({ send: [{ id: 'to-c', sid: s.cid, rid: C }] });
  await until(() => g.got.includes('to-c'), 10000, 'delivery to the re-attached worker');
  assert.ok(!g.got.includes('cannot change'));
  g.socket.destroy();
  closeAll();
});

test('the router checks what a worker hands it: invalid UTF-8, not one JSON value, a spoofed sid are not stored and are reported', async () => {
  const S = uid('fw-s'), R = uid('fw-r');
  const f = await fakeWorker(srv);
  f.env({ op: 'attach', client: S });
  const m = (body) => Buffer.from(body, 'latin1');
  const send = (body, id = 'x') => f.env({ op: 'send', rid: R, key: Buffer.from('s' + id), m: m(body) });
  send(`{"id":"bad-utf8","sid":"${S}","rid":"${R}","t":"\xff\xfe"}`);
  send(`{"id":"ok-1","sid":"${S}","rid":"${R}"}`);
  send(`1,"from":"alice"`);
  send(`{"id":"spoof","sid":"alice","rid":"${R}"}`);
  send(`{"id":"twice","sid":"${S}","rid":"${R}","sid":"alice"}`);
  send(`{"id":"trailing","sid":"${S}","rid":"${R}"} {"a":1}`);
  send(`["id","sid","rid"]`);
  send(`{"id":"ok-2","sid":"${S}","rid":"${R}"}`);
  f.env({ op: 'end' });
  for (const e of ['message is not valid UTF-8', 'message is not one JSON value', "sid is not the sender's client_id",
    'id, sid or rid given twice', 'message is not an object']) {
    await until(() => f.got.includes(e), 10000, `errors entry "${e}" to the fake worker`);
  }
  assert.ok(f.got.includes('{"id":"spoof","rid":"' + R + '","error":"sid is not the sender\'s client_id"}'));
  f.socket.destroy();
  const r = await mconnect(srv, R);
  assert.deepEqual(ids(await receive(r, 2)), ['ok-1', 'ok-2']);
  assert.deepEqual(ids(await settle(r)), ['ok-1', 'ok-2']);
  assert.equal(r.readyState, WebSocket.OPEN, 'the recipient was not closed 1007');
  closeAll();
});

test('limits per sender: --messaging-max-per-sender per recipient, --messaging-max-recipients, --messaging-max-store; each refusal is an errors entry', async () => {
  const s2 = await startServer({ args: ['--messaging-max-per-sender', '3', '--messaging-max-recipients', '2',
    '--messaging-max-store', '2000', '--messaging-max-queue', '5'] });
  try {
    const mallory = await mconnect(s2, 'mallory');
    const alice = await mconnect(s2, 'alice');
    const m = (ws, id, rid, extra = {}) => ({ id, sid: ws.cid, rid, ...extra });
    // mallory cannot fill carol's queue, nor take alice's ids
    // (no sync markers here: they would be messages counted by the limits;
    // a frame's errors come once the router has handled all of it)
    mallory.sendJSON({ send: [1, 2, 3, 4, 5].map((i) => m(mallory, i, 'carol')) });
    assert.deepEqual(await errorsOf(mallory, 2), [4, 5].map((id) => ({ id, rid: 'carol', error: "sender's quota for this recipient is full" })));
    // carol's queue (5) is full now: alice's third is refused as such
    alice.sendJSON({ send: [1, 2, 3].map((i) => m(alice, i, 'carol')) });
    assert.deepEqual(await errorsOf(alice, 1), [{ id: 3, rid: 'carol', error: "recipient's queue is full" }]);
    // recipients per sender: carol, dave; erin is one too many (sync markers go to mallory herself)
    mallory.sendJSON({ send: [m(mallory, 1, 'dave'), m(mallory, 1, 'erin')] });
    assert.deepEqual((await errorsOf(mallory, 3)).slice(2), [{ id: 1, rid: 'erin', error: 'sender has too many recipients' }]);
    // the store's size: 2000 bytes of message text in all
    const pad = 'p'.repeat(1000);
    alice.sendJSON({ send: [m(alice, 'big-1', 'frank', { pad }), m(alice, 'big-2', 'frank', { pad }), m(alice, 'big-3', 'frank', { pad })] });
    assert.deepEqual((await errorsOf(alice, 3)).slice(1).map((e) => [e.id, e.error]), [['big-2', 'store is full'], ['big-3', 'store is full']]);
    const carol = await mconnect(s2, 'carol');
    assert.deepEqual((await receive(carol, 5)).map((x) => [x.sid, x.id]),
      [['mallory', 1], ['mallory', 2], ['mallory', 3], ['alice', 1], ['alice', 2]]);
    await expectSkipped(s2, 6);
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 60000 });

test('refused messages are summarised: one log line per client frame, not one per message', async () => {
  const s2 = await startServer({ args: ['--messaging-max-queue', '1'] });
  try {
    const s = await mconnect(s2, 'loud-s');
    const N = 2000;
    for (let k = 0; k < 3; k++) s.sendJSON({ send: Array.from({ length: N }, (_, i) => ({ id: `${k}-${i}`, sid: 'loud-s', rid: 'loud-r' })) });
    await until(() => { drain(s); return s.errors.length >= 3 * N - 1; }, 30000, 'errors for all but the first');
    await expectSkipped(s2, 3 * N - 1);
    const lines = skippedLines(s2).length;
    assert.ok(lines <= 3 * 4, `${lines} log lines for ${3 * N - 1} refusals in 3 frames`);
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 60000 });

test('a store written by the previous schema (rid, id keys) is migrated: messages kept in order, invalid UTF-8 dropped, reads and limits work', async () => {
  const os = require('node:os');
  const { execFileSync } = require('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-v1-'));
  const row = (rid, key, body) => `INSERT INTO messages (rid, key, body) VALUES ('${rid}', CAST('${key}' AS BLOB), CAST('${body}' AS BLOB));`;
  // the schema-1 SQL as the router wrote it, and rows as it stored them (one with invalid UTF-8, one with a sid that is no client_id)
  execFileSync('sqlite3', [path.join(dir, 'messaging.db')], { input: `PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS messages (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  rid TEXT NOT NULL,  key BLOB NOT NULL,  body BLOB NOT NULL,  UNIQUE (rid, key));
CREATE INDEX IF NOT EXISTS messages_by_rid ON messages (rid, seq);
PRAGMA user_version = 1;
${row('old-r', 'n1', '{"id":1,"sid":"old-s","rid":"old-r","t":"first"}')}
${row('old-r', 'sx', '{"id":"x","sid":21,"rid":"old-r"}')}
INSERT INTO messages (rid, key, body) VALUES ('old-r', CAST('n2' AS BLOB), X'7B226964223A322C22736964223A226F6C642D73222C22726964223A226F6C642D72222C2274223A22FF227D');
${row('old-r', 'n3', '{"id":3,"sid":"","rid":"old-r"}')}
${row('old-r', 'n4', '{"id":4,"sid":"old-s","rid":"old-r","t":"last"}')}
${row('old-q', 'n1', '{"id":1,"sid":"old-s","rid":"old-q"}')}
` });
  const s2 = await startServer({ stateDir: dir });
  try {
    await until(() => /store migrated/.test(s2.log), 10000, 'the migration log line');
    assert.match(s2.log, /5 messages kept, 1 invalid ones dropped/);
    const r = await mconnect(s2, 'old-r');
    assert.deepEqual(ids(await receive(r, 4)), [1, 'x', 3, 4]);
    assert.deepEqual(ids(await settle(r)), [1, 'x', 3, 4]);
    r.sendJSON({ read: [{ id: 1 }, { id: 'x' }] });
    await sync(r);
    const s = await mconnect(s2, 'old-s');
    s.sendJSON({ send: [{ id: 1, sid: 'old-s', rid: 'old-r', t: 'new' }] });
    await sync(s, r);
    const r2 = await mconnect(s2, 'old-r');
    assert.deepEqual((await receive(r2, 3)).map((m) => [m.id, m.t]), [[3, undefined], [4, 'last'], [1, 'new']]);
    // the router commits in batches: the last read may reach the file a moment later
    let st;
    await until(async () => { st = await storeStats(dir); return st.code === 0 && st.messaging === 'old-q 1\nold-r 3\n'; },
      10000, 'the reads committed').catch(() => {});
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.messaging, 'old-q 1\nold-r 3\n');
    closeAll();
  } finally { closeAll(); await s2.stop(); }
  // and it opens again as it is
  const s3 = await startServer({ stateDir: dir });
  try {
    const q = await mconnect(s3, 'old-q');
    assert.deepEqual(ids(await receive(q, 1)), [1]);
    assert.ok(!/store migrated/.test(s3.log));
    closeAll();
  } finally { closeAll(); await s3.stop(); }
}, { timeout: 60000 });

// A messaging.db as the router before the shared store left it when killed:
// schema 2 (rid, sid, key), PRAGMA user_version 2, no schema_versions table,
// and the last transactions still in its WAL (SQLite writes the WAL back into
// the database only at a checkpoint or a clean close).
async function killedSchema2Store(dir) {
  const row = (rid, sid, key, body) => `INSERT INTO messages (rid, sid, key, body) VALUES ('${rid}', '${sid}', CAST('${key}' AS BLOB), CAST('${body}' AS BLOB));`;
  const sql = `PRAGMA journal_mode = WAL;
PRAGMA wal_autocheckpoint = 0;
CREATE TABLE IF NOT EXISTS messages (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  rid TEXT NOT NULL,  sid TEXT NOT NULL,  key BLOB NOT NULL,  body BLOB NOT NULL,  UNIQUE (rid, key, sid));
CREATE INDEX IF NOT EXISTS messages_by_rid ON messages (rid, seq);
PRAGMA user_version = 2;
${row('v2-r', 'v2-s', 'n1', '{"id":1,"sid":"v2-s","rid":"v2-r","t":"a"}')}
${row('v2-r', 'v2-t', 'n1', '{"id":1,"sid":"v2-t","rid":"v2-r","t":"b"}')}
${row('v2-q', 'v2-s', 'sx', '{"id":"x","sid":"v2-s","rid":"v2-q"}')}
.print ready
`;
  const p = spawn('sqlite3', [path.join(dir, 'messaging.db')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stdin.write(sql); // stdin stays open: the CLI waits, its transactions in the WAL
  await until(() => /ready/.test(out), 10000, 'the sqlite3 CLI to write the rows');
  assert.ok(fs.statSync(path.join(dir, 'messaging.db-wal')).size > 0, 'the rows are in the WAL');
  const gone = new Promise((resolve) => p.on('exit', resolve));
  p.kill('SIGKILL');
  await gone;
  assert.ok(fs.statSync(path.join(dir, 'messaging.db-wal')).size > 0, 'the WAL outlives the writer');
}

const sqlite = (file, sql) => execFileSync('sqlite3', [file, sql], { encoding: 'utf8' }).trim();

test('a messaging.db of schema 2 left by a killed router becomes store.db: WAL kept, schema_versions written, no migration of the tables', async () => {
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-v2-'));
  await killedSchema2Store(dir);
  const before = await storeStats(dir); // an old file not taken over yet reads too
  assert.equal(before.code, 0, before.stderr);
  assert.equal(before.messaging, 'v2-q 1\nv2-r 2\n');
  const s2 = await startServer({ stateDir: dir });
  try {
    const r = await mconnect(s2, 'v2-r');
    assert.deepEqual((await receive(r, 2)).map((m) => m.t), ['a', 'b']);
    assert.deepEqual(ids(await settle(r)), [1, 1]);
    assert.ok(/messaging\.db is now .*store\.db/.test(s2.log), s2.tail());
    assert.ok(!/store migrated/.test(s2.log), 'schema 2 needs no migration');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('messaging.db')), []);
    // read by the sid: only v2-s's message 1 goes
    r.sendJSON({ read: [{ id: 1, sid: 'v2-s' }] });
    await sync(r);
    let st = null;
    await until(async () => (st = await storeStats(dir)).messaging === 'v2-q 1\nv2-r 1\n', 20000, 'the read in --store-stats')
      .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(st)}`); });
    closeAll();
  } finally { closeAll(); await s2.stop(); }
  const db = path.join(dir, 'store.db');
  assert.equal(sqlite(db, "SELECT protocol, version FROM schema_versions WHERE protocol = 'messaging'"), 'messaging|2');
  assert.equal(sqlite(db, 'PRAGMA user_version'), '3');
  assert.equal(sqlite(db, "SELECT group_concat(sid, ',') FROM messages WHERE rid = 'v2-r'"), 'v2-t');
}, { timeout: 60000 });

test('a store whose messaging tables are newer than this router is refused, with the versions in the log', async () => {
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-v9-'));
  const s1 = await startServer({ stateDir: dir });
  await s1.stop();
  const db = path.join(dir, 'store.db');
  sqlite(db, "UPDATE schema_versions SET version = 9 WHERE protocol = 'messaging'");
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(bin('switchboard-router'), ['--state-dir', dir], { encoding: 'utf8', timeout: 20000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /messaging tables at version 9, newer than this router's \(2\)/);
  assert.equal(sqlite(db, "SELECT version FROM schema_versions WHERE protocol = 'messaging'"), '9');
}, { timeout: 60000 });

function metric(server, event) {
  let text = '';
  try { text = fs.readFileSync(path.join(server.stateDir, 'metrics.prom'), 'utf8'); } catch { return -1; }
  const m = new RegExp(`switchboard_messaging_total\\{event="${event}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : -1;
}

test('a failed commit (file size limit on the router) is logged, counted, reported to the senders, and the queue counts are reloaded', async () => {
  const s2 = await startServer({ args: ['--messaging-max-queue', '4'] });
  try {
    const s = await mconnect(s2, 'cf-s');
    const m = (id) => ({ id, sid: 'cf-s', rid: 'cf-off' });
    s.sendJSON({ send: [m(1), m(2)] });
    await sync(s);
    await sleep(100); // committed
    const pid = s2.routerPid();
    execFileSync('prlimit', ['--pid', String(pid), '--fsize=1:']);
    s.sendJSON({ send: [m(3), m(4)] });
    await until(() => { drain(s); return s.errors.length >= 2; }, 15000, 'errors for the lost messages')
      .catch((e) => { throw new Error(`${e.message}\n${s2.tail()}`); });
    assert.deepEqual(s.errors.slice(0, 2), [3, 4].map((id) => ({ id, rid: 'cf-off', error: 'store write failed' })));
    assert.match(s2.log, /failed commit lost 2 stored messages/);
    execFileSync('prlimit', ['--pid', String(pid), '--fsize=unlimited:']);
    // the counts came from the database again: 2 stored, room for 2 more
    s.errorsBefore = s.errors.length;
    s.sendJSON({ send: [m(5), m(6), m(7)] });
    await sync(s);
    await errorsOf(s, s.errorsBefore + 1);
    assert.deepEqual(s.errors.slice(s.errorsBefore), [{ id: 7, rid: 'cf-off', error: "recipient's queue is full" }]);
    const off = await mconnect(s2, 'cf-off');
    assert.deepEqual(ids(await receive(off, 4)), [1, 2, 5, 6]);
    assert.deepEqual(ids(await settle(off)), [1, 2, 5, 6]);
    await until(() => metric(s2, 'lost_failed_commit') >= 2, 10000, 'lost messages in metrics.prom');
    assert.match(s2.log, /store: (a commit failed|SQLite rolled the open transaction back)/);
    const failed = /^switchboard_store_failed_commits_total (\d+)$/m.exec(fs.readFileSync(path.join(s2.stateDir, 'metrics.prom'), 'utf8'));
    assert.ok(failed && Number(failed[1]) >= 1, 'switchboard_store_failed_commits_total counts it');
    assert.equal(s2.routerPid(), pid, 'the router kept running');
    closeAll();
  } finally { closeAll(); await s2.stop(); }
}, { timeout: 60000 });

test('the worker frames only valid text from the router: invalid UTF-8 or not one JSON value never reaches the client', async () => {
  const net = require('node:net');
  const os = require('node:os');
  const { mp } = require('./lib/sp');
  const { freePort, waitForPort } = require('./lib/server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-fr-'));
  const sock = path.join(dir, 'fake-router.ipc');
  const conns = [];
  // a fake router: the SP handshake, then whatever we send
  const fake = net.createServer((c) => {
    c.got = Buffer.alloc(0);
    c.on('data', (d) => { c.got = Buffer.concat([c.got, d]); });
    c.on('error', () => {});
    c.write(Buffer.from([0, 0x53, 0x50, 0, 0, 0x11, 0, 0]));
    conns.push(c);
  });
  await new Promise((r) => fake.listen(sock, r));
  const port = await freePort();
  const ts = spawn('tcpserver', ['-q', '127.0.0.1', String(port), bin('switchboard-worker'), '--router-url', 'ipc://' + sock],
    { stdio: 'ignore' });
  try {
    await waitForPort(port);
    const ws = await connect(`ws://127.0.0.1:${port}/messaging?client_id=wfr`);
    let c = null;
    await until(() => (c = conns.find((x) => x.got.includes('attach') && x.got.includes('wfr'))), 10000, 'the worker attached');
    const out = (d) => {
      const payload = mp({ v: 1, p: 'messaging', op: 'out', d: Buffer.from(d, 'latin1') });
      const h = Buffer.alloc(13);
      h[0] = 1;
      h.writeBigUInt64BE(BigInt(payload.length + 4), 1);
      h.writeUInt32BE(1, 9);
      c.write(Buffer.concat([h, payload]));
    };
    out('{"messages":[{"id":"bad","t":"\xff"}]}');
    out('{"messages":[{"id":"x"}]},"from":"alice"');
    out('{"messages":[{"id":"ok"}]}');
    await until(() => ws.queue.length >= 1, 10000, 'the valid frame');
    await sleep(300);
    assert.deepEqual(ws.queue, ['{"messages":[{"id":"ok"}]}']);
    assert.equal(ws.readyState, WebSocket.OPEN, 'not closed 1007');
    ws.close();
  } finally { ts.kill(); fake.close(); for (const c of conns) c.destroy(); }
});

run({
  before: async () => { srv = await startServer(); },
  after: async () => { closeAll(); const r = await srv.stop(); assert.equal(r.code, 0, srv.tail()); },
});
