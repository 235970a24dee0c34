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
const { test, run, assert, sleep, until } = require('./lib/harness');
const { startServer } = require('./lib/server');
const { connect, quiet } = require('./lib/client');

const DATA = path.join(__dirname, 'galene');
const servers = [];
let idn = 0;
const newId = () => crypto.randomBytes(16).toString('hex') + (idn++);

function groupsDir(extra = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galene-more-'));
  for (const f of fs.readdirSync(path.join(DATA, 'groups')))
    fs.copyFileSync(path.join(DATA, 'groups', f), path.join(dir, f));
  for (const [name, body] of Object.entries(extra))
    fs.writeFileSync(path.join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  return dir;
}

async function server(opts = {}) {
  const dir = groupsDir(opts.groups);
  const args = ['--galene-groups', dir, '--galene-reload', '0.2', ...(opts.args || [])];
  const s = await startServer({ args });
  s.groupsDir = dir;
  servers.push(s);
  return s;
}

async function stop(s) {
  await s.stop();
  servers.splice(servers.indexOf(s), 1);
}

async function joined(s, id, username, password, group = 'test') {
  const ws = await connect(s.url('/ws'));
  ws.sendJSON({ type: 'handshake', version: ['2'], id });
  assert.deepEqual(await ws.nextJSON(), { type: 'handshake', version: ['2'] });
  ws.sendJSON({ type: 'join', kind: 'join', group, username, password });
  const j = await ws.nextJSON();
  assert.equal(j.kind, 'join', JSON.stringify(j));
  ws.joined = j;
  return ws;
}

async function waitFor(ws, pred, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const m = await ws.nextJSON(Math.max(1, end - Date.now()));
    if (pred(m)) return m;
  }
}

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

run({ after: async () => { for (const s of servers.splice(0)) await s.stop(); } });
