// Galène end to end, beyond the transcripts (galene.test.js has those):
// setstatus, permissions recomputed when a group file changes, member
// state and locks across a router restart (and members who left while it
// was down), the protocol's /metrics, and a plain GET of another
// protocol's WebSocket endpoint with --galene-static. Real supervisor,
// router and workers; real `ws` clients and Node's http client.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { test, run, assert, sleep, until } = require('./lib/harness');
const { connect, quiet } = require('./lib/client');

const { newId, servers: galeneServers, joined, waitFor } = require('./lib/galene');

const { server, stop, stopAll } = galeneServers({ prefix: 'sb-galene-more-' });

function get(port, p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('setstatus: merged into the member\'s own status, null deletes; others get user kind change; only on oneself', async () => {
  const s = await server();
  try {
    const aid = newId(), bid = newId();
    const a = await joined(s, aid, 'alice', 'alicepw');
    const b = await joined(s, bid, 'bob', 'bobpw');
    await waitFor(a, (m) => m.type === 'user' && m.id === bid);
    a.sendJSON({ type: 'useraction', kind: 'setstatus', dest: aid, value: { raisehand: true, mood: 'ok' } });
    const ch = await waitFor(b, (m) => m.type === 'user' && m.kind === 'change');
    assert.deepEqual([ch.id, ch.username, ch.status], [aid, 'alice', { raisehand: true, mood: 'ok' }]);
    assert.deepEqual((await waitFor(a, (m) => m.type === 'user' && m.kind === 'change')).status, { raisehand: true, mood: 'ok' });
    a.sendJSON({ type: 'useraction', kind: 'setstatus', dest: aid, value: { raisehand: null } });
    assert.deepEqual((await waitFor(b, (m) => m.type === 'user' && m.kind === 'change')).status, { mood: 'ok' });
    assert.deepEqual((await waitFor(a, (m) => m.type === 'user' && m.kind === 'change')).status, { mood: 'ok' });
    // a newcomer sees it in user add
    const c = await joined(s, newId(), 'carol', 'carolpw');
    assert.deepEqual((await waitFor(c, (m) => m.type === 'user' && m.id === aid)).status, { mood: 'ok' });
    await waitFor(a, (m) => m.type === 'user' && m.kind === 'add');
    // Galène's checks: dest must be oneself, value an object
    b.sendJSON({ type: 'useraction', kind: 'setstatus', dest: aid, value: { x: 1 } });
    assert.equal((await waitFor(b, (m) => m.type === 'usermessage')).value, 'not authorised');
    b.sendJSON({ type: 'useraction', kind: 'setstatus', value: { x: 1 } });
    assert.equal((await waitFor(b, (m) => m.type === 'usermessage')).value, 'not authorised');
    b.sendJSON({ type: 'useraction', kind: 'setstatus', dest: bid, value: 'up' });
    assert.equal((await waitFor(b, (m) => m.type === 'usermessage')).value, 'Bad value in setstatus');
    b.sendJSON({ type: 'useraction', kind: 'setstatus', dest: bid, value: { big: 'x'.repeat(70000) } });
    assert.equal((await waitFor(b, (m) => m.type === 'usermessage')).value, 'Bad value in setstatus');
    await quiet(a, 300); // none of the refused ones reached the group
    for (const w of [a, b, c]) w.terminate();
  } finally { await stop(s); }
});

test('group file changed: permissions recomputed (joined change, user change); a member no longer admitted is kicked', async () => {
  const s = await server({ groups: { 'perm.json': { users: { ann: { password: 'a', permissions: 'op' },
    ben: { password: 'b', permissions: 'message' }, cat: { password: 'c', permissions: 'message' } },
  'wildcard-user': { password: 'w', permissions: 'observe' } } } });
  try {
    const file = path.join(s.groupsDir, 'perm.json');
    const annId = newId(), benId = newId(), guestId = newId(), catId = newId();
    const ann = await joined(s, annId, 'ann', 'a', 'perm');
    const ben = await joined(s, benId, 'ben', 'b', 'perm');
    const cat = await joined(s, catId, 'cat', 'c', 'perm');
    const guest = await joined(s, guestId, 'visitor', 'w', 'perm');
    assert.deepEqual(ben.joined.permissions, ['message']);
    assert.equal(guest.joined.permissions, undefined);
    await waitFor(ann, (m) => m.type === 'user' && m.id === guestId);
    // ben becomes op, the wildcard may now chat, cat is removed
    fs.writeFileSync(file, JSON.stringify({ users: { ann: { password: 'a', permissions: 'op' },
      ben: { password: 'b', permissions: 'op' } }, 'wildcard-user': { password: 'w', permissions: 'message' } }));
    const bj = await waitFor(ben, (m) => m.type === 'joined');
    assert.equal(bj.kind, 'change');
    assert.deepEqual(bj.permissions, ['op', 'message', 'caption', 'token']);
    const gj = await waitFor(guest, (m) => m.type === 'joined');
    assert.deepEqual(gj.permissions, ['message']);
    assert.deepEqual((await waitFor(ann, (m) => m.type === 'user' && m.kind === 'change' && m.id === benId)).permissions, ['op', 'message', 'caption', 'token']);
    const k = await waitFor(cat, (m) => m.type === 'usermessage');
    assert.deepEqual([k.kind, k.value], ['kicked', 'you are no longer allowed in this group']);
    const cl = await cat.closed;
    assert.equal(cl.code, 1000);
    await waitFor(ann, (m) => m.type === 'user' && m.kind === 'delete' && m.id === catId);
    // the new permissions are in force: ben may now lock the group
    ben.sendJSON({ type: 'groupaction', kind: 'lock' });
    assert.equal((await waitFor(ann, (m) => m.type === 'joined')).status.locked, true);
    for (const w of [ann, ben, guest]) w.terminate();
  } finally { await stop(s); }
}, { timeout: 60000 });

test('--galene-static: a plain GET of another protocol\'s WebSocket endpoint still gets 426; Galène\'s files still served', async () => {
  const www = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galene-www-'));
  fs.chmodSync(www, 0o755);
  fs.writeFileSync(path.join(www, 'galene.js'), 'console.log(1);\n');
  const s = await server({ args: ['--galene-static', www] });
  try {
    const r = await get(s.port, '/wschat');
    assert.equal(r.status, 426, `GET /wschat: ${r.status} ${r.body}`);
    assert.equal((await get(s.port, '/ws')).status, 426);
    assert.equal((await get(s.port, '/galene.js')).status, 200);
    assert.equal((await get(s.port, '/nothing.js')).status, 404);
  } finally { await stop(s); }
});

test('router restart: status, data, permissions and the group lock come back; a member gone meanwhile is dropped (user delete)', async () => {
  const s = await server({ args: ['--galene-rejoin-grace', '3'] });
  try {
    const aid = newId(), bid = newId(), cid = newId();
    const a = await joined(s, aid, 'alice', 'alicepw');
    const b = await joined(s, bid, 'bob', 'bobpw');
    const c = await joined(s, cid, 'carol', 'carolpw');
    await waitFor(a, (m) => m.type === 'user' && m.id === cid);
    await waitFor(b, (m) => m.type === 'user' && m.id === cid);
    b.sendJSON({ type: 'useraction', kind: 'setstatus', dest: bid, value: { raisehand: true } });
    b.sendJSON({ type: 'useraction', kind: 'setdata', dest: bid, value: { topic: 'x' } });
    a.sendJSON({ type: 'useraction', kind: 'op', dest: cid }); // carol made op: her ticket says so
    a.sendJSON({ type: 'groupaction', kind: 'lock', value: 'closed for now' });
    await waitFor(c, (m) => m.type === 'joined' && m.status && m.status.locked);
    await waitFor(a, (m) => m.type === 'user' && m.kind === 'change' && m.id === bid && m.data);
    await sleep(400); // the store commits within its group-commit window
    const old = s.routerPid();
    process.kill(old, 'SIGSTOP'); // bob leaves while the router cannot see it
    b.terminate();
    await sleep(300);
    process.kill(old, 'SIGKILL');
    await until(() => s.routerPid() && s.routerPid() !== old, 20000, 'router restart');
    // alice and carol come back; bob's absence is told once the grace is over
    const del = await waitFor(a, (m) => m.type === 'user' && m.kind === 'delete', 30000);
    assert.deepEqual([del.id, del.username], [bid, 'bob']);
    assert.equal((await waitFor(c, (m) => m.type === 'user' && m.kind === 'delete', 10000)).id, bid);
    // the lock held: a newcomer without op is refused with the op's message
    const d = await connect(s.url('/ws'));
    d.sendJSON({ type: 'handshake', version: ['2'], id: newId() });
    await d.nextJSON();
    d.sendJSON({ type: 'join', kind: 'join', group: 'test', username: 'guest1', password: 'guest' });
    assert.equal((await d.nextJSON()).value, 'closed for now');
    d.terminate();
    // carol is still op (she may unlock); a newcomer then sees her status and permissions
    c.sendJSON({ type: 'groupaction', kind: 'unlock' });
    await waitFor(a, (m) => m.type === 'joined' && m.status && !m.status.locked);
    const b2id = newId();
    const b2 = await joined(s, b2id, 'bob', 'bobpw');
    const seen = new Map();
    while (seen.size < 3) { const m = await b2.nextJSON(); if (m.type === 'user') seen.set(m.id, m); }
    assert.ok(seen.get(cid).permissions.includes('op'), JSON.stringify(seen.get(cid)));
    assert.ok(!seen.has(bid), 'the old bob is gone');
    // alice's own data came back too: set before, shown now
    a.sendJSON({ type: 'useraction', kind: 'setstatus', dest: aid, value: { away: true } });
    assert.deepEqual((await waitFor(b2, (m) => m.type === 'user' && m.kind === 'change' && m.id === aid)).status, { away: true });
    for (const w of [a, c, b2]) w.terminate();
  } finally { await stop(s); }
}, { timeout: 90000 });

// The tickets the router sent a raw bus peer: the bytes after "t" (bin 8 or 16).
function tickets(received) {
  const out = [];
  for (const p of received) {
    for (let i = 0; i + 3 < p.length; i++) {
      if (p[i] !== 0xa1 || p[i + 1] !== 0x74) continue;
      if (p[i + 2] === 0xc4) out.push(p.subarray(i + 4, i + 4 + p[i + 3]));
      else if (p[i + 2] === 0xc5) out.push(p.subarray(i + 5, i + 5 + p.readUInt16BE(i + 3)));
    }
  }
  return out;
}

test('router restart: a worker\'s own older ticket is refused (no permissions from before a change); the latest is taken', async () => {
  const { spClient, mp } = require('./lib/sp');
  const s = await server();
  try {
    const bus = path.join(s.stateDir, 'bus.ipc');
    const hello = (conn, t) => [mp({ v: 1, p: 'core', op: 'hello', conn, pid: 1, proto: 'galene', credit: 2 }),
      mp({ v: 1, p: 'galene', op: 'hello', id: 'rogue', addr: '', ...(t ? { t } : {}) })];
    const f = await spClient(bus);
    f.send(Buffer.concat([...hello(4242),
      mp({ v: 1, p: 'galene', op: 'm', d: Buffer.from(JSON.stringify({ type: 'join', kind: 'join', group: 'test', username: 'alice', password: 'alicepw' })) })]));
    await until(() => tickets(f.received).length >= 1, 10000, 'the first ticket');
    const first = Buffer.from(tickets(f.received)[0]);
    const credit = mp({ v: 1, p: 'core', op: 'credit', n: 1 }); // a batch read: room for the next
    f.send(Buffer.concat([credit, mp({ v: 1, p: 'galene', op: 'm', d: Buffer.from(JSON.stringify({ type: 'useraction', kind: 'unop', dest: 'rogue' })) })]));
    await until(() => tickets(f.received).length >= 2, 10000, 'the second ticket');
    const latest = Buffer.from(tickets(f.received).at(-1));
    assert.ok(!first.equals(latest));
    await sleep(400); // the store commits within its group-commit window
    const old = s.routerPid();
    process.kill(old, 'SIGKILL');
    await until(() => s.routerPid() && s.routerPid() !== old, 20000, 'router restart');
    await until(() => fs.existsSync(bus), 10000, 'the bus');
    let g = null;
    await until(async () => { try { g = await spClient(bus); } catch { g = null; } return g; }, 10000, 'a bus peer');
    g.send(Buffer.concat(hello(4243, first)));
    await until(() => /galene: worker pid 1 sent a stale ticket/.test(s.log), 10000, 'the stale ticket refused');
    const h = await spClient(bus);
    h.send(Buffer.concat(hello(4244, latest)));
    await until(() => /galene: alice is back in test after a router restart/.test(s.log), 10000, 'the latest taken');
    // and it came back without op: it may not lock
    h.send(Buffer.concat([credit, mp({ v: 1, p: 'galene', op: 'm', d: Buffer.from(JSON.stringify({ type: 'groupaction', kind: 'lock' })) })]));
    await until(() => h.received.some((p) => p.includes('not authorised')), 10000, 'not authorised');
  } finally { await stop(s); }
}, { timeout: 90000 });

function samples(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(switchboard_galene_[a-z_]+(\{[^}]*\})?) (\d+)$/.exec(line);
    if (m) out[m[1]] = Number(m[3]);
  }
  return out;
}

test('/metrics: groups, members, joins by outcome and refusals by reason, chat routed and delivered, kicks', async () => {
  const s = await server();
  try {
    const base = samples((await get(s.port, '/metrics')).body);
    assert.equal(base.switchboard_galene_members, 0);
    assert.equal(base['switchboard_galene_joins_refused_total{reason="not_authorised"}'], 0);
    const aid = newId(), bid = newId();
    const a = await joined(s, aid, 'alice', 'alicepw');
    const b = await joined(s, bid, 'bob', 'bobpw');
    await waitFor(a, (m) => m.type === 'user' && m.id === bid);
    const bad = await connect(s.url('/ws'));
    bad.sendJSON({ type: 'handshake', version: ['2'], id: newId() });
    await bad.nextJSON();
    bad.sendJSON({ type: 'join', kind: 'join', group: 'test', username: 'alice', password: 'wrong' });
    assert.equal((await bad.nextJSON()).value, 'not authorised');
    bad.sendJSON({ type: 'join', kind: 'join', group: 'nosuch', username: 'x', password: 'y' });
    assert.equal((await bad.nextJSON()).value, 'group does not exist');
    a.sendJSON({ type: 'chat', value: 'to all' });          // two deliveries (echo)
    a.sendJSON({ type: 'chat', dest: bid, value: 'to bob' }); // one
    await waitFor(b, (m) => m.type === 'chat' && m.value === 'to bob');
    a.sendJSON({ type: 'useraction', kind: 'kick', dest: bid });
    await b.closed;
    await waitFor(a, (m) => m.type === 'user' && m.kind === 'delete');
    const m = samples((await get(s.port, '/metrics')).body);
    assert.equal(m.switchboard_galene_groups, 1);
    assert.equal(m.switchboard_galene_members, 1);
    assert.equal(m.switchboard_galene_joins_total, 2);
    assert.equal(m['switchboard_galene_joins_refused_total{reason="not_authorised"}'], 1);
    assert.equal(m['switchboard_galene_joins_refused_total{reason="no_group"}'], 1);
    assert.equal(m.switchboard_galene_chat_total, 2);
    assert.equal(m.switchboard_galene_chat_private_total, 1);
    assert.equal(m.switchboard_galene_deliveries_total, 3);
    assert.equal(m.switchboard_galene_kicks_total, 1);
    for (const w of [a, bad]) w.terminate();
  } finally { await stop(s); }
});

test('an upgrade from store version 1: a version 1 ticket is taken once within the grace, then replaced by a version 2 one', async () => {
  const { spClient, mp } = require('./lib/sp');
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galene-v1-'));
  let s = await server({ stateDir });
  await stop(s);
  // the store as the version before left it: galene at version 1, without the tables of version 2
  execFileSync('sqlite3', [path.join(stateDir, 'store.db'),
    "DROP TABLE galene_members; DROP TABLE galene_groups; UPDATE schema_versions SET version = 1 WHERE protocol = 'galene';"]);
  const key = fs.readFileSync(path.join(stateDir, 'galene.key'));
  const part = (b) => { const l = Buffer.alloc(2); l.writeUInt16LE(b.length); return Buffer.concat([l, b]); };
  const v1 = (id) => {
    const body = Buffer.concat([part(Buffer.from('test')), part(Buffer.from('alice')), part(Buffer.from(id)), part(Buffer.from([2]))]);
    return Buffer.concat([body, crypto.createHmac('sha512', key).update(body).digest().subarray(0, 32)]); // crypto_auth
  };
  const hello = (conn, id) => Buffer.concat([mp({ v: 1, p: 'core', op: 'hello', conn, pid: 1, proto: 'galene', credit: 8 }),
    mp({ v: 1, p: 'galene', op: 'hello', id, addr: '', t: v1(id) })]);
  s = await server({ stateDir, args: ['--galene-rejoin-grace', '4'] });
  try {
    await until(() => /store upgraded from version 1/.test(s.log), 10000, 'the upgrade noted');
    const bus = path.join(s.stateDir, 'bus.ipc');
    const f = await spClient(bus);
    f.send(hello(5151, 'old1'));
    await until(() => tickets(f.received).length >= 1, 10000, 'a version 2 ticket');
    assert.match(s.log, /alice is back in test after a router restart/);
    const b = await joined(s, newId(), 'bob', 'bobpw');
    const u = await waitFor(b, (m) => m.type === 'user' && m.id === 'old1');
    assert.deepEqual([u.username, u.permissions], ['alice', ['message']]);
    // after the grace a version 1 ticket is stale: its client must join again
    await sleep(4500);
    const g = await spClient(bus);
    g.send(hello(5152, 'old2'));
    await until(() => /sent a stale ticket/.test(s.log), 10000, 'the late one refused');
    b.terminate();
  } finally { await stop(s); }
}, { timeout: 60000 });

run({ after: stopAll });
