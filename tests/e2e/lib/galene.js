// Galène set-ups the e2e suites share: a groups folder made from the
// recorded group files (galene/groups/) plus a test's own, servers started
// on it and stopped at the end, and clients that have done the handshake,
// joined, or waited for a frame.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { assert } = require('./harness');
const { startServer } = require('./server');
const { connect } = require('./client');

const DATA = path.join(__dirname, '..', 'galene');

let idn = 0;
const newId = () => crypto.randomBytes(16).toString('hex') + (idn++);

// The recorded group files, then extra ({ 'sub/name.json': body }) over them.
function groupsDir(extra = {}, prefix = 'sb-galene-groups-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const f of fs.readdirSync(path.join(DATA, 'groups')))
    fs.copyFileSync(path.join(DATA, 'groups', f), path.join(dir, f));
  for (const [name, body] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  }
  return dir;
}

// Servers on a groups folder (reloaded every 0.2 s), remembered so that
// stopAll() stops those a failed test left. defaults.present: pass
// --galene-allow-present unless a test says present: false.
function servers(defaults = {}) {
  const live = [];
  async function server(opts = {}) {
    const o = { ...defaults, ...opts };
    const dir = o.dir || groupsDir(o.groups, o.prefix);
    const args = ['--galene-groups', dir, '--galene-reload', '0.2', ...(o.present ? ['--galene-allow-present'] : []),
      ...(o.args || [])];
    const s = await startServer({ args, stateDir: o.stateDir });
    s.groupsDir = dir;
    live.push(s);
    return s;
  }
  async function stop(s) {
    await s.stop();
    live.splice(live.indexOf(s), 1);
  }
  async function stopAll() { for (const s of live.splice(0)) await s.stop(); }
  return { server, stop, stopAll };
}

// A client that has done its handshake.
async function client(s, id, opts = {}) {
  const ws = await connect(s.url('/ws'), opts);
  ws.sendJSON({ type: 'handshake', version: ['2'], id });
  assert.deepEqual(await ws.nextJSON(), { type: 'handshake', version: ['2'] });
  return ws;
}

// A client joined to group (its joined frame in ws.joined).
async function joined(s, id, username, password, group = 'test') {
  const ws = await client(s, id);
  ws.sendJSON({ type: 'join', kind: 'join', group, username, password });
  const j = await ws.nextJSON();
  assert.equal(j.kind, 'join', JSON.stringify(j));
  ws.joined = j;
  return ws;
}

// Reads frames until one matches pred (within ms); returns it.
async function waitFor(ws, pred, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const m = await ws.nextJSON(Math.max(1, end - Date.now()));
    if (pred(m)) return m;
  }
}

module.exports = { DATA, newId, groupsDir, servers, client, joined, waitFor };
