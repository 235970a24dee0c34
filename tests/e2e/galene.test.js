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
const { connect, quiet } = require('./lib/client');

const { DATA, newId, servers: galeneServers, client, joined, waitFor } = require('./lib/galene');

const { server, stop, stopAll } = galeneServers({ present: true });

// ---- transcript replay ----

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

// Our documented differences from Galène 0.96.3 (proto/galene/README.md).
const ADJUST = {
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
      if (k === 'address') {
        assert.match(got[k], /^127\.0\.0\.1:\d+$/, w);
      } else if (k === 'time' || k === 'expires' || k === 'issuedAt') {
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
      // the recording hung its clients up near-simultaneously: one may see another go first
      const hungUp = (m) => m.type === 'user' && m.kind === 'delete' && clients.get(idOf.get(m.id))?.hungUp;
      for (let i = c.got.length - 1; i >= 0 && c.got.length > frames.length; i--)
        if (hungUp(c.got[i]) && !frames.some((e) => e.type === 'user' && e.kind === 'delete' && e.id === c.got[i].id)) c.got.splice(i, 1);
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

// ---- beyond the transcripts ----

const BOB_PBKDF2 = JSON.parse(fs.readFileSync(path.join(DATA, 'groups', 'test.json'), 'utf8')).users.bob.password;
const CAROL_BCRYPT = JSON.parse(fs.readFileSync(path.join(DATA, 'groups', 'test.json'), 'utf8')).users.carol.password;

async function joinReply(s, msg, id = newId()) {
  const ws = await client(s, id);
  const t0 = Date.now();
  ws.sendJSON({ type: 'join', kind: 'join', ...msg });
  const j = await ws.nextJSON();
  j.ms = Date.now() - t0;
  ws.terminate();
  return j;
}

test('passwords: plain, pbkdf2, bcrypt and wildcard; a listed user never falls through; "not authorised" waits ~200 ms', async () => {
  const s = await server({ groups: { 'pw.json': { users: { p: { password: 'pp', permissions: 'message' },
    k: { password: BOB_PBKDF2, permissions: 'message' }, b: { password: CAROL_BCRYPT, permissions: 'op' },
    x: { password: { type: 'plain', key: 'xx' }, permissions: 'observe' } },
  'wildcard-user': { password: { type: 'wildcard' }, permissions: 'message' } } } });
  try {
    for (const [u, pw, perms] of [['p', 'pp', ['message']], ['k', 'bobpw', ['message']], ['b', 'carolpw', ['op', 'present', 'message', 'caption', 'token']],
      ['x', 'xx', undefined], ['anyone', '', ['message']], ['anyone', 'whatever', ['message']]]) {
      const j = await joinReply(s, { group: 'pw', username: u, password: pw });
      assert.equal(j.kind, 'join', `${u}: ${JSON.stringify(j)}`);
      assert.deepEqual(j.permissions, perms, u);
    }
    for (const [u, pw] of [['p', 'nope'], ['k', 'nope'], ['b', 'nope'], ['x', 'pp'], ['p', '']]) {
      const j = await joinReply(s, { group: 'pw', username: u, password: pw });
      assert.deepEqual({ ...j, ms: undefined }, { type: 'joined', kind: 'fail', username: '', group: 'pw', value: 'not authorised', ms: undefined }, u);
      assert.ok(j.ms >= 180, `${u}: the refusal came after ${j.ms} ms`);
    }
  } finally { await stop(s); }
}, { timeout: 60000 });

test('bcrypt checks run off the router loop: chat flows while slow checks are pending', async () => {
  // cost 13 (password "secret"): about two seconds a check on the test VM
  const slow = { type: 'bcrypt', key: '$2b$13$GWdvA5Dr5XFz463ECGQn8.hUYqIxTST.bXuQu4rDOn3ToXBuYdszG' };
  const s = await server({ groups: { 'slow.json': { users: { a: { password: 'a', permissions: 'op' }, z: { password: slow } },
    'wildcard-user': { password: 'w', permissions: 'message' } } } });
  try {
    const a = await joined(s, newId(), 'a', 'a', 'slow');
    const w = await joined(s, newId(), 'w1', 'w', 'slow');
    await waitFor(a, (m) => m.type === 'user' && m.username === 'w1');
    const slowOnes = [];
    for (let i = 0; i < 2; i++) {
      const c = await client(s, newId());
      c.sendJSON({ type: 'join', kind: 'join', group: 'slow', username: 'z', password: 'x' });
      slowOnes.push(c);
    }
    await sleep(50);
    const t0 = Date.now();
    a.sendJSON({ type: 'chat', value: 'still here' });
    const m = await waitFor(w, (x) => x.type === 'chat');
    const ms = Date.now() - t0;
    assert.equal(m.value, 'still here');
    const fails = await Promise.all(slowOnes.map((c) => c.nextJSON(30000)));
    const elapsed = Date.now() - t0;
    for (const f of fails) assert.equal(f.value, 'not authorised');
    assert.ok(ms < 600 && ms < elapsed / 3, `chat took ${ms} ms while the checks took ${elapsed} ms`);
    for (const c of [a, w, ...slowOnes]) c.terminate();
  } finally { await stop(s); }
}, { timeout: 90000 });

test('failure table: not open yet, closed, no operators, broken file, redirect, illegal names, unknown group', async () => {
  const s = await server({ groups: {
    'future.json': { 'not-before': '2200-01-01T00:00:00Z', 'wildcard-user': { password: { type: 'wildcard' }, permissions: 'message' } },
    'past.json': { expires: '2000-01-01T00:00:00Z', 'wildcard-user': { password: { type: 'wildcard' }, permissions: 'message' } },
    'kick.json': { autokick: true, users: { op: { password: 'op', permissions: 'op' } }, 'wildcard-user': { password: { type: 'wildcard' }, permissions: 'message' } },
    'broken.json': '{"public": "true"}',
    'moved.json': { redirect: 'https://elsewhere.example/group/moved/' },
  } });
  try {
    const f = async (group, username, value) => {
      const j = await joinReply(s, { group, username, password: 'x' });
      assert.deepEqual(j.kind, 'fail', JSON.stringify(j));
      assert.equal(j.value, value, group);
      return j;
    };
    assert.equal((await f('future', 'u', 'this group is not open yet')).username, 'u');
    await f('past', 'u', 'this group is closed');
    await f('kick', 'u', 'there are no operators in this group');
    await f('broken', 'u', 'internal server error');
    await f('nothere', 'u', 'group does not exist');
    await f('.hidden', 'u', 'illegal group name');
    await f('a//b', 'u', 'illegal group name');
    await f('test/sub', 'u', 'group does not exist'); // test has no auto-subgroups
    assert.match(s.log, /broken\.json: public/);
    const r = await joinReply(s, { group: 'moved', username: 'u', password: 'x' });
    assert.deepEqual({ ...r, ms: undefined }, { type: 'joined', kind: 'redirect', username: 'u', group: 'moved', value: 'https://elsewhere.example/group/moved/', ms: undefined });
    // ops are exempt from the window
    const op = await joinReply(s, { group: 'kick', username: 'op', password: 'op' });
    assert.equal(op.kind, 'join');
  } finally { await stop(s); }
}, { timeout: 60000 });

test('autokick: when the last op leaves, everyone is kicked', async () => {
  const s = await server({ groups: { 'kick.json': { autokick: true, users: { op: { password: 'op', permissions: 'op' } },
    'wildcard-user': { password: { type: 'wildcard' }, permissions: 'message' } } } });
  try {
    const op = await joined(s, newId(), 'op', 'op', 'kick');
    const u = await joined(s, newId(), 'u', '', 'kick');
    await waitFor(op, (m) => m.type === 'user' && m.username === 'u');
    op.close();
    const e = await waitFor(u, (m) => m.type === 'usermessage');
    assert.equal(e.value, 'there are no operators in this group');
    assert.deepEqual(await u.closed, { code: 1000, reason: 'there are no operators in this group' });
  } finally { await stop(s); }
});

test('protocol errors: unknown join kind (1002), leaving a group not joined (1000), chat before join, empty ids, bad request (1011)', async () => {
  const s = await server();
  try {
    let c = await client(s, newId());
    c.sendJSON({ type: 'join', kind: 'frob', group: 'test' });
    assert.equal((await c.nextJSON()).value, 'unknown kind');
    assert.deepEqual(await c.closed, { code: 1002, reason: 'unknown kind' });
    c = await client(s, newId());
    c.sendJSON({ type: 'join', kind: 'leave', group: 'test' });
    assert.equal((await c.nextJSON()).value, 'you are not joined');
    assert.deepEqual(await c.closed, { code: 1000, reason: 'you are not joined' });
    const id = newId();
    c = await client(s, id);
    c.sendJSON({ type: 'chat', value: 'hi' });
    assert.deepEqual(await c.nextJSON(), { type: 'usermessage', kind: 'error', dest: id, privileged: true, value: 'join a group first' });
    c.terminate();
    c = await joined(s, newId(), 'alice', 'alicepw');
    c.sendJSON({ type: 'offer', label: 'camera', sdp: '' });
    assert.equal((await waitFor(c, (m) => m.type === 'usermessage')).value, 'empty id');
    assert.deepEqual(await c.closed, { code: 1002, reason: 'empty id' });
    c = await joined(s, newId(), 'alice', 'alicepw');
    c.sendJSON({ type: 'request', request: 'video' });
    assert.deepEqual(await c.closed, { code: 1011, reason: '' });
    c = await client(s, newId());
    c.send('{"type": "chat", "value": ');
    assert.equal((await c.closed).code, 1002);
    c = await client(s, newId());
    c.sendJSON({ type: 'chat', noecho: 'yes' });
    assert.equal((await c.closed).code, 1002);
  } finally { await stop(s); }
}, { timeout: 60000 });

test('present is withheld without --galene-allow-present; offers are refused', async () => {
  const s = await server({ present: false });
  try {
    const id = newId();
    const b = await joined(s, id, 'bob', 'bobpw');
    assert.deepEqual(b.joined.permissions, ['message']);
    const a = await joined(s, newId(), 'alice', 'alicepw');
    assert.deepEqual(a.joined.permissions, ['op', 'message', 'caption', 'token']);
    b.sendJSON({ type: 'offer', id: 'up', label: 'camera', sdp: 'v=0\r\n' });
    assert.deepEqual(await waitFor(b, (m) => m.type === 'abort'), { type: 'abort', id: 'up' });
    assert.deepEqual(await b.nextJSON(), { type: 'usermessage', kind: 'error', dest: id, privileged: true, value: 'not authorised' });
    a.terminate(); b.terminate();
  } finally { await stop(s); }
});

function jwt(alg, key, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
  let sig;
  if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
  else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else sig = crypto.sign('sha256', Buffer.from(input), key);
  return `${input}.${sig.toString('base64url')}`;
}

test('JWT tokens: HS256, ES256, RS256 from authKeys; sub imposes the username; bad ones are "not authorised"', async () => {
  const hs = crypto.randomBytes(32);
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = [{ kty: 'oct', alg: 'HS256', k: hs.toString('base64url') },
    { ...ec.publicKey.export({ format: 'jwk' }), alg: 'ES256' }, { ...rsa.publicKey.export({ format: 'jwk' }), alg: 'RS256' }];
  const s = await server({ groups: { 'jwt.json': { authKeys: keys, users: { taken: { password: 'x' } } } } });
  try {
    const aud = `http://127.0.0.1:${s.port}/group/jwt/`;
    const exp = Math.floor(Date.now() / 1000) + 600;
    for (const [alg, key] of [['HS256', hs], ['ES256', ec.privateKey], ['RS256', rsa.privateKey]]) {
      const j = await joinReply(s, { group: 'jwt', token: jwt(alg, key, { sub: 'jo-' + alg, aud, exp, permissions: ['message'] }) });
      assert.equal(j.kind, 'join', `${alg}: ${JSON.stringify(j)}`);
      assert.equal(j.username, 'jo-' + alg);
      assert.deepEqual(j.permissions, ['message']);
    }
    const bad = [jwt('HS256', crypto.randomBytes(32), { sub: 'x', aud, exp }), jwt('HS256', hs, { sub: 'x', aud, exp: exp - 1200 }),
      jwt('HS256', hs, { sub: 'x', aud: `http://127.0.0.1:${s.port}/group/other/`, exp })];
    for (const t of bad) assert.equal((await joinReply(s, { group: 'jwt', token: t })).value, 'not authorised');
    const nosub = jwt('HS256', hs, { aud, exp, permissions: ['message'] });
    let j = await joinReply(s, { group: 'jwt', token: nosub });
    assert.deepEqual([j.error, j.value], ['need-username', 'not authorised: username required']);
    j = await joinReply(s, { group: 'jwt', token: nosub, username: 'taken' });
    assert.deepEqual([j.error, j.value], ['duplicate-username', 'not authorised: this username is taken']);
    j = await joinReply(s, { group: 'jwt', token: nosub, username: 'free' });
    assert.deepEqual([j.kind, j.username], ['join', 'free']);
  } finally { await stop(s); }
}, { timeout: 60000 });

test('stateful tokens: an invitation imposes its username; tokens survive a restart in tokens.jsonl', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galene-state-'));
  let s = await server({ stateDir });
  try {
    const a = await joined(s, newId(), 'alice', 'alicepw');
    a.sendJSON({ type: 'groupaction', kind: 'maketoken', value: { group: 'test', username: 'guestname', expires: 600000, permissions: ['message'] } });
    const tok = (await waitFor(a, (m) => m.kind === 'token')).value;
    assert.equal(tok.username, 'guestname');
    a.sendJSON({ type: 'groupaction', kind: 'maketoken', value: { group: 'test', username: 'bob', expires: 600000, permissions: ['message'] } });
    assert.equal((await waitFor(a, (m) => m.kind === 'token')).error, 'error');
    a.sendJSON({ type: 'groupaction', kind: 'maketoken', value: { group: 'test', expires: 600000, permissions: ['admin'] } });
    assert.equal((await waitFor(a, (m) => m.kind === 'token')).error, 'not-authorised');
    a.terminate();
    const dir = s.groupsDir;
    await stop(s);
    assert.match(fs.readFileSync(path.join(stateDir, 'tokens.jsonl'), 'utf8'), new RegExp(tok.token));
    s = await server({ stateDir, dir });
    const j = await joinReply(s, { group: 'test', token: tok.token, username: 'ignored' });
    assert.deepEqual([j.kind, j.username, j.permissions], ['join', 'guestname', ['message']]);
  } finally { await stop(s); }
}, { timeout: 60000 });

test('group files are reloaded: members get joined kind change; a new file can be joined', async () => {
  const s = await server();
  try {
    const a = await joined(s, newId(), 'alice', 'alicepw');
    const file = path.join(s.groupsDir, 'test.json');
    const g = JSON.parse(fs.readFileSync(file, 'utf8'));
    g.displayName = 'Renamed';
    fs.writeFileSync(file, JSON.stringify(g));
    const ch = await waitFor(a, (m) => m.type === 'joined');
    assert.equal(ch.kind, 'change');
    assert.equal(ch.status.displayName, 'Renamed');
    assert.equal((await joinReply(s, { group: 'fresh', username: 'u', password: 'p' })).value, 'group does not exist');
    fs.mkdirSync(path.join(s.groupsDir, 'sub'));
    fs.writeFileSync(path.join(s.groupsDir, 'sub', 'fresh.json'), JSON.stringify({ 'wildcard-user': { password: 'p', permissions: 'message' } }));
    fs.writeFileSync(path.join(s.groupsDir, 'sub', '.skipped.json'), JSON.stringify({ 'wildcard-user': { password: 'p' } }));
    await until(async () => (await joinReply(s, { group: 'sub/fresh', username: 'u', password: 'p' })).kind === 'join', 10000, 'the new file');
    assert.equal((await joinReply(s, { group: 'sub/.skipped', username: 'u', password: 'p' })).value, 'illegal group name');
    a.terminate();
  } finally { await stop(s); }
}, { timeout: 60000 });

test('router restart: members stay connected and in their group; history comes back from the store', async () => {
  const s = await server();
  try {
    const aid = newId(), bid = newId();
    const a = await joined(s, aid, 'alice', 'alicepw');
    const b = await joined(s, bid, 'bob', 'bobpw');
    await waitFor(a, (m) => m.type === 'user' && m.id === bid);
    a.sendJSON({ type: 'chat', value: 'before the crash' });
    await waitFor(b, (m) => m.type === 'chat');
    await sleep(300); // the store commits within its group-commit window
    const old = s.routerPid();
    process.kill(old, 'SIGKILL');
    await until(() => s.routerPid() && s.routerPid() !== old, 20000, 'router restart');
    // both re-join from their tickets: chat flows between them again
    await until(async () => {
      a.sendJSON({ type: 'chat', value: 'after' });
      await sleep(200);
      return b.queue.some((m) => JSON.parse(m).value === 'after');
    }, 30000, 'chat after the restart').catch((e) => { throw new Error(`${e.message}\n${s.tail()}`); });
    assert.equal(a.readyState, 1);
    assert.equal(b.readyState, 1);
    const c = await joined(s, newId(), 'carol', 'carolpw');
    const hist = [];
    for (;;) { const m = await c.nextJSON(); if (m.type !== 'chathistory') break; hist.push(m.value); }
    assert.equal(hist[0], 'before the crash');
    // the newcomer sees both members
    await waitFor(c, (m) => m.type === 'user' && m.id === bid);
    for (const w of [a, b, c]) w.terminate();
  } finally { await stop(s); }
}, { timeout: 90000 });

test('Origin: none or the same host accepted, another refused with 403 and logged; --allow-origin admits it', async () => {
  const s = await server({ args: ['--allow-origin', 'https://good.example'] });
  try {
    const host = `127.0.0.1:${s.port}`;
    (await connect(s.url('/ws'))).terminate();
    (await connect(s.url('/ws'), { ws: { origin: `http://${host}` } })).terminate();
    (await connect(s.url('/ws'), { ws: { origin: 'https://good.example' } })).terminate();
    await assert.rejects(connect(s.url('/ws'), { ws: { origin: 'https://evil.example' } }), (e) => e.status === 403);
    await until(() => /refused .*origin=https:\/\/evil\.example/.test(s.log), 5000, 'the log line');
  } finally { await stop(s); }
});

test('keep-alive: JSON ping answered with pong; no handshake within 15 s closes with 1002', async () => {
  const s = await server();
  try {
    const c = await client(s, newId());
    c.sendJSON({ type: 'ping' });
    assert.deepEqual(await c.nextJSON(), { type: 'pong' });
    c.sendJSON({ type: 'handshake', version: ['2'], id: 'another' }); // answered again, the id kept
    assert.deepEqual(await c.nextJSON(), { type: 'handshake', version: ['2'] });
    c.sendJSON({ type: 'chat', value: 'x' });
    assert.equal((await c.nextJSON()).value, 'join a group first');
    c.terminate();
    const t0 = Date.now();
    const q = await connect(s.url('/ws'));
    const cl = await q.closed;
    assert.equal(cl.code, 1002);
    assert.ok(Date.now() - t0 >= 14000, `closed after ${Date.now() - t0} ms`);
  } finally { await stop(s); }
}, { timeout: 40000 });

test('usermessage filetransfer is relayed to its peer; clearchat of one user', async () => {
  const s = await server();
  try {
    const aid = newId(), bid = newId();
    const a = await joined(s, aid, 'alice', 'alicepw');
    const b = await joined(s, bid, 'bob', 'bobpw');
    await waitFor(a, (m) => m.type === 'user' && m.id === bid);
    const value = { type: 'invite', id: 'ft1', name: 'f.txt', size: 3, mimetype: 'text/plain' };
    b.sendJSON({ type: 'usermessage', kind: 'filetransfer', source: bid, dest: aid, username: 'bob', value });
    const m = await waitFor(a, (x) => x.type === 'usermessage');
    assert.deepEqual({ ...m, time: undefined }, { type: 'usermessage', kind: 'filetransfer', source: bid, dest: aid, username: 'bob', value, time: undefined });
    b.sendJSON({ type: 'chat', value: 'from bob' });
    a.sendJSON({ type: 'chat', value: 'from alice' });
    await waitFor(b, (x) => x.type === 'chat' && x.value === 'from alice');
    // bob's line comes through his own worker: in the history before the clear
    await waitFor(a, (x) => x.type === 'chat' && x.value === 'from bob');
    a.sendJSON({ type: 'groupaction', kind: 'clearchat', value: { userId: bid } });
    assert.deepEqual(await waitFor(b, (x) => x.kind === 'clearchat'), { type: 'usermessage', kind: 'clearchat', privileged: true, value: { userId: bid } });
    const c = await joined(s, newId(), 'carol', 'carolpw');
    const h = await c.nextJSON();
    assert.deepEqual([h.type, h.value], ['chathistory', 'from alice']);
    assert.equal((await c.nextJSON()).type, 'user');
    for (const w of [a, b, c]) w.terminate();
  } finally { await stop(s); }
});

test('setdata: merged, null deletes, more than 64 KiB of data refused', async () => {
  const s = await server();
  try {
    const id = newId();
    const a = await joined(s, id, 'alice', 'alicepw');
    await waitFor(a, (m) => m.type === 'user');
    a.sendJSON({ type: 'useraction', kind: 'setdata', dest: id, value: { raisehand: true, x: 1 } });
    assert.deepEqual((await waitFor(a, (m) => m.kind === 'change')).data, { raisehand: true, x: 1 });
    a.sendJSON({ type: 'useraction', kind: 'setdata', dest: id, value: { raisehand: null } });
    assert.deepEqual((await waitFor(a, (m) => m.kind === 'change')).data, { x: 1 });
    a.sendJSON({ type: 'useraction', kind: 'setdata', dest: id, value: { big: 'x'.repeat(70000) } });
    assert.equal((await waitFor(a, (m) => m.type === 'usermessage')).value, 'Bad value in setdata');
    a.sendJSON({ type: 'groupaction', kind: 'setdata', value: { topic: 't' } });
    assert.deepEqual((await waitFor(a, (m) => m.type === 'joined')).data, { topic: 't' });
    a.terminate();
  } finally { await stop(s); }
});

test('history: bounded by --galene-max-history and by max-history-age', async () => {
  const s = await server({ args: ['--galene-max-history', '3'], groups: { 'short.json': { 'max-history-age': 2,
    'wildcard-user': { password: 'w', permissions: 'message' } } } });
  try {
    const a = await joined(s, newId(), 'alice', 'alicepw');
    for (let i = 0; i < 5; i++) a.sendJSON({ type: 'chat', value: `m${i}` });
    await waitFor(a, (m) => m.value === 'm4');
    const history = async (group, user, pw) => {
      const c = await joined(s, newId(), user, pw, group);
      const h = [];
      for (;;) { const m = await c.nextJSON(); if (m.type !== 'chathistory') break; h.push(m.value); }
      c.terminate();
      return h;
    };
    assert.deepEqual(await history('test', 'bob', 'bobpw'), ['m2', 'm3', 'm4']);
    const w = await joined(s, newId(), 'w', 'w', 'short');
    w.sendJSON({ type: 'chat', value: 'soon gone' });
    await waitFor(w, (m) => m.type === 'chat');
    assert.deepEqual(await history('short', 'x', 'w'), ['soon gone']);
    await sleep(2500);
    assert.deepEqual(await history('short', 'y', 'w'), []);
    for (const c of [a, w]) c.terminate();
  } finally { await stop(s); }
});

test('a forged re-join ticket is refused: a rogue bus peer cannot place itself in a group', async () => {
  const { spClient, mp } = require('./lib/sp');
  const s = await server();
  try {
    const aid = newId();
    const a = await joined(s, aid, 'alice', 'alicepw');
    await waitFor(a, (m) => m.type === 'user');
    const part = (b) => { const l = Buffer.alloc(2); l.writeUInt16LE(b.length); return Buffer.concat([l, b]); };
    const body = Buffer.concat([part(Buffer.from('test')), part(Buffer.from('mallory')), part(Buffer.from('rogue')), part(Buffer.from([0]))]);
    const forged = Buffer.concat([body, crypto.randomBytes(32)]);
    const f = await spClient(path.join(s.stateDir, 'bus.ipc'));
    f.send(Buffer.concat([
      mp({ v: 1, p: 'core', op: 'hello', conn: 4242, pid: 1, proto: 'galene', credit: 2 }),
      mp({ v: 1, p: 'galene', op: 'hello', id: 'rogue', addr: '', t: forged }),
      mp({ v: 1, p: 'galene', op: 'm', d: Buffer.from(JSON.stringify({ type: 'chat', value: 'forged' })) }),
    ]));
    await until(() => /galene: worker pid 1 sent a ticket we did not sign/.test(s.log), 10000, 'the log line');
    await quiet(a, 300); // no chat from the rogue peer, no user add
    a.terminate();
  } finally { await stop(s); }
});

test('a chat as decoded fields from a worker: relayed as the router stamps it; a bad field drops the worker', async () => {
  const { spClient, mp } = require('./lib/sp');
  const s = await server();
  try {
    const aid = newId();
    const a = await joined(s, aid, 'alice', 'alicepw');
    const f = await spClient(path.join(s.stateDir, 'bus.ipc'));
    f.send(Buffer.concat([
      mp({ v: 1, p: 'core', op: 'hello', conn: 4343, pid: 2, proto: 'galene', credit: 64 }),
      mp({ v: 1, p: 'galene', op: 'hello', id: 'fields', addr: '' }),
      mp({ v: 1, p: 'galene', op: 'm', d: Buffer.from(JSON.stringify({ type: 'join', kind: 'join', group: 'test', username: 'bob', password: 'bobpw' })) }),
    ]));
    await waitFor(a, (m) => m.type === 'user' && m.kind === 'add' && m.id === 'fields');
    // a worker from before op c sends the client's text: still taken
    f.send(mp({ v: 1, p: 'galene', op: 'm', d: Buffer.from(JSON.stringify({ type: 'chat', dest: aid, value: 'as text' })) }));
    const t = await waitFor(a, (m) => m.type === 'chat');
    assert.deepEqual([t.source, t.username, t.value], ['fields', 'bob', 'as text']);
    f.send(mp({ v: 1, p: 'galene', op: 'c', u: false, dest: aid, value: Buffer.from('"hi \\u00e9 \\"x\\""'), noecho: true }));
    const c = await waitFor(a, (m) => m.type === 'chat');
    assert.deepEqual([c.source, c.dest, c.username, c.value, c.noecho], ['fields', aid, 'bob', 'hi é "x"', true]);
    assert.match(c.time, TIME);
    f.send(mp({ v: 1, p: 'galene', op: 'c', u: true, kind: 'x', dest: aid, value: Buffer.from('{"a":[1,2]}') }));
    const u = await waitFor(a, (m) => m.type === 'usermessage');
    assert.deepEqual([u.kind, u.source, u.value], ['x', 'fields', { a: [1, 2] }]);
    // value must be one JSON value: text that would add members to the frame drops the worker
    f.send(mp({ v: 1, p: 'galene', op: 'c', u: false, dest: aid, value: Buffer.from('"a","privileged":true') }));
    await until(() => /sent a chat envelope with a bad field/.test(s.log), 10000, 'the log line');
    const gone = await waitFor(a, (m) => m.type === 'user' && m.kind === 'delete' || m.type === 'chat');
    assert.deepEqual([gone.type, gone.id], ['user', 'fields']);
    a.terminate();
  } finally { await stop(s); }
});

test('messages sent while a join is checked (bcrypt, off the loop) are handled after it, in order', async () => {
  const s = await server();
  try {
    const aid = newId(), cid = newId();
    const a = await joined(s, aid, 'alice', 'alicepw');
    const c = await client(s, cid);
    c.sendJSON({ type: 'join', kind: 'join', group: 'test', username: 'carol', password: 'carolpw' });
    c.sendJSON({ type: 'chat', source: cid, dest: aid, value: 'first' });
    c.sendJSON({ type: 'usermessage', kind: 'x', dest: aid, value: { n: 2 } });
    c.sendJSON({ type: 'chat', source: cid, value: 'third', noecho: true });
    assert.equal((await c.nextJSON()).kind, 'join');
    const got = [];
    while (got.length < 3) {
      const m = await a.nextJSON();
      if (m.type === 'chat' || m.type === 'usermessage') got.push(m);
    }
    assert.deepEqual(got.map((m) => [m.type, m.source, m.username, m.dest, m.value]),
      [['chat', cid, 'carol', aid, 'first'], ['usermessage', cid, 'carol', aid, { n: 2 }], ['chat', cid, 'carol', undefined, 'third']]);
    assert.equal(got[2].noecho, true);
    a.terminate();
    c.terminate();
  } finally { await stop(s); }
});

run({ after: stopAll });
