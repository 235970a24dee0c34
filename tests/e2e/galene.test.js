// Galène end to end: real supervisor, router and workers, real `ws`
// clients speaking Galène's JSON protocol. Every scenario recorded against
// a real Galène 0.96.3 (galene/transcripts/, with the group files it ran
// with in galene/groups/) is replayed against our server and the frames
// each client gets are compared field by field; chat ids, times and token
// strings aside (ids must still be consistent). Then what the transcripts
// do not show: passwords of each kind, tokens and JWTs, the failure table,
// the group folder's reload, the Origin rule, and a router restart.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { test, run, assert, sleep, until } = require('./lib/harness');
const { startServer } = require('./lib/server');
const { connect, quiet } = require('./lib/client');

const DATA = path.join(__dirname, 'galene');
const servers = [];

function groupsDir(extra = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galene-groups-'));
  for (const f of fs.readdirSync(path.join(DATA, 'groups')))
    fs.copyFileSync(path.join(DATA, 'groups', f), path.join(dir, f));
  for (const [name, body] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  }
  return dir;
}

async function server(opts = {}) {
  const dir = opts.dir || groupsDir(opts.groups);
  const args = ['--galene-groups', dir, '--galene-reload', '0.2', ...(opts.present === false ? [] : ['--galene-allow-present']),
    ...(opts.args || [])];
  const s = await startServer({ args, stateDir: opts.stateDir });
  s.groupsDir = dir;
  servers.push(s);
  return s;
}

async function stop(s) {
  await s.stop();
  servers.splice(servers.indexOf(s), 1);
}

// A client that has done its handshake.
async function client(s, id, opts = {}) {
  const ws = await connect(s.url('/ws'), opts);
  ws.sendJSON({ type: 'handshake', version: ['2'], id });
  assert.deepEqual(await ws.nextJSON(), { type: 'handshake', version: ['2'] });
  return ws;
}

async function joined(s, id, username, password, group = 'test') {
  const ws = await client(s, id);
  ws.sendJSON({ type: 'join', kind: 'join', group, username, password });
  const j = await ws.nextJSON();
  assert.equal(j.kind, 'join', JSON.stringify(j));
  ws.joined = j;
  return ws;
}

// Reads frames until one matches pred (others kept in ws.skipped).
async function waitFor(ws, pred, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const m = await ws.nextJSON(Math.max(1, end - Date.now()));
    if (pred(m)) return m;
  }
}

// ---- transcript replay ----

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

// Our documented differences from Galène 0.96.3 (proto/galene/README.md).
const ADJUST = {
  // no address is known to the router; no IP is communicated, so no warning
  '07-permissions': (f) => f.filter((x) => !(x.dir === 'S->C' && x.msg.kind === 'warning' && /IP address/.test(x.msg.value)))
    .map((x) => (x.msg.kind === 'userinfo' ? { ...x, msg: { ...x.msg, value: { id: x.msg.value.id, username: x.msg.value.username } } } : x)),
  // no media plane: offers are refused, and no stream is ever closed for subscribers
  '08-media-without-peer': (f) => f.filter((x) => !(x.who === 'guest-raw' && x.msg.type === 'close'))
    .map((x) => (x.msg.value === 'SetRemoteDescription called with no ice-ufrag'
      ? { ...x, msg: { ...x.msg, value: 'this server does not relay media' } } : x)),
};

function compare(exp, got, ctx, where) {
  if (Array.isArray(exp)) {
    assert.ok(Array.isArray(got) && got.length === exp.length, `${where}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(got)}`);
    exp.forEach((e, i) => compare(e, got[i], ctx, `${where}[${i}]`));
    return;
  }
  if (exp && typeof exp === 'object' && !Array.isArray(exp)) {
    assert.ok(got && typeof got === 'object' && !Array.isArray(got), `${where}: expected an object, got ${JSON.stringify(got)}`);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(exp).sort(), `${where}: members`);
    for (const k of Object.keys(exp)) {
      const w = `${where}.${k}`;
      if (k === 'time' || k === 'expires' || k === 'issuedAt') {
        assert.match(got[k], TIME, w);
      } else if (k === 'token' && typeof exp[k] === 'string' && ctx.tokens) {
        if (!ctx.tokens.has(exp[k])) ctx.tokens.set(exp[k], got[k]);
        assert.equal(got[k], ctx.tokens.get(exp[k]), w);
      } else if (k === 'id' && (ctx.type === 'chat' || ctx.type === 'chathistory') && /^[A-Za-z0-9_-]{11}$/.test(exp[k])) {
        if (!ctx.ids.has(exp[k])) ctx.ids.set(exp[k], got[k]);
        assert.equal(got[k], ctx.ids.get(exp[k]), `${w}: ids must be consistent`);
        assert.match(got[k], /^[A-Za-z0-9_-]{11}$/, w);
      } else {
        compare(exp[k], got[k], ctx, w);
      }
    }
    return;
  }
  assert.deepEqual(got, exp, where);
}

function substitute(msg, tokens) {
  let s = JSON.stringify(msg);
  for (const [rec, ours] of tokens) s = s.split(rec).join(ours);
  return JSON.parse(s);
}

async function replay(name) {
  const t = JSON.parse(fs.readFileSync(path.join(DATA, 'transcripts', name + '.json'), 'utf8'));
  let frames = t.frames;
  if (ADJUST[name]) frames = ADJUST[name](frames);
  const s = await server();
  const clients = new Map(); // who → { ws, got: [], closed }
  const ctx = { ids: new Map(), tokens: new Map() };
  const expected = new Map();
  const want = (who) => expected.get(who) || expected.set(who, []).get(who);
  const seen = new Map();
  // a server close is one with a reason or a protocol code; the others end the recording
  const serverClose = (x) => x.dir === 'close' && (x.msg.reason || (x.msg.code !== 1000 && x.msg.code !== 1005));
  const open = async (who) => {
    const ws = await connect(s.url('/ws'));
    const c = { ws, got: [], close: null };
    ws.on('message', () => {}); // the queue in lib/client keeps them
    ws.closed.then((cl) => { c.close = cl; });
    clients.set(who, c);
    return c;
  };
  const drain = (c) => { while (c.ws.queue.length) c.got.push(JSON.parse(c.ws.queue.shift())); };
  const idOf = new Map(); // client id → who, from the handshakes
  for (const f of frames) if (f.dir === 'C->S' && f.msg.type === 'handshake' && f.msg.id) idOf.set(f.msg.id, f.who);
  const lastSent = new Map();
  for (const f of frames) if (f.dir === 'C->S') lastSent.set(f.who, f.msg);
  const closedByServer = new Set(frames.filter(serverClose).map((f) => f.who));
  // before anyone acts, everyone has what they had by then in Galène
  const sync = async () => {
    for (const [who, list] of expected) {
      const c = clients.get(who);
      if (!c) continue;
      const n = list.filter((x) => !x.close).length;
      await until(() => { drain(c); return c.got.length >= n; }, 10000, `${who} to get ${n} frames (${name})`);
    }
  };
  // the recording ends with its clients closing, in the order the others saw them go
  const hangUp = async (who) => {
    const c = clients.get(who);
    if (!c || c.hungUp || closedByServer.has(who)) return;
    const last = lastSent.get(who);
    if (last && last.type === 'join' && last.kind === 'leave') return;
    await sync();
    c.hungUp = true;
    c.ws.close(1000);
  };
  try {
    for (const f of frames) {
      if (f.dir === 'S->C') {
        if (f.msg.type === 'user' && f.msg.kind === 'delete' && idOf.get(f.msg.id) !== f.who) await hangUp(idOf.get(f.msg.id));
        want(f.who).push(f.msg);
        continue;
      }
      if (f.dir === 'close') {
        if (serverClose(f)) want(f.who).push({ close: f.msg });
        else await hangUp(f.who);
        continue;
      }
      await sync();
      const c = clients.get(f.who) || await open(f.who);
      c.ws.send(JSON.stringify(substitute(f.msg, ctx.tokens)));
      // token strings come back in replies: learn them before they are used
      await sleep(f.msg.type === 'groupaction' && /token/.test(f.msg.kind) ? 100 : 0);
      for (const c2 of clients.values()) {
        drain(c2);
        for (const m of c2.got) if (m.kind === 'token' && m.value && m.value.token) {
          const rec = frames.find((x) => x.dir === 'S->C' && x.msg.kind === 'token' && x.msg.value && x.msg.value.token);
          if (rec && !ctx.tokens.has(rec.msg.value.token)) ctx.tokens.set(rec.msg.value.token, m.value.token);
        }
      }
    }
    for (const [who, list] of expected) {
      const c = clients.get(who);
      const n = list.filter((x) => !x.close).length;
      const closing = list.some((x) => x.close);
      await until(() => { drain(c); return c.got.length >= n && (!closing || c.close); }, 10000,
        `${who} to get ${n} frames${closing ? ' and a close' : ''} (${name})`);
    }
    await sleep(300); // nothing more may come
    for (const [who, list] of expected) {
      const c = clients.get(who);
      drain(c);
      const frames = list.filter((x) => !x.close);
      assert.equal(c.got.length, frames.length, `${name}/${who}: frames\n got ${c.got.map((m) => JSON.stringify(m)).join('\n')}`);
      frames.forEach((exp, i) => compare(exp, c.got[i], { ...ctx, type: exp.type }, `${name}/${who}[${i}] ${JSON.stringify(c.got[i])}`));
      const cl = list.find((x) => x.close);
      if (cl) assert.deepEqual(c.close, cl.close, `${name}/${who}: close`);
    }
    for (const who of clients.keys()) seen.set(who, true);
  } finally {
    for (const c of clients.values()) c.ws.terminate();
    await stop(s);
  }
}

for (const f of fs.readdirSync(path.join(DATA, 'transcripts')).filter((x) => x.endsWith('.json')).sort()) {
  const name = f.replace(/\.json$/, '');
  test(`transcript ${name}`, () => replay(name), { timeout: 60000 });
}

run({ after: async () => { for (const s of servers.splice(0)) await s.stop(); } });
