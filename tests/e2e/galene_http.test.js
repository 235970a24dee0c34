// Galène's HTTP surface end to end, with Node's http client against the
// real server: /group/<name>/ (galene.html from --galene-static, the 308s
// and 404 of Galène's groupHandler), .status (location and endpoint as the
// request came, X-Forwarded-Proto only from a --trust-proxy),
// /public-groups.json (public groups only, sorted, live counts), and the
// static files with Galène's caching headers. What real Galène answers is
// in its spec sheet (§1) and its webserver: 308 Permanent Redirect to
// /group/<clean name>/, 404 "<p>Not found</p>", Cache-Control max-age=1800
// (a day under /fonts/, /scripts/, /css/), no-cache for the JSON, and the
// same Content-Security-Policy on pages and files.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { test, run, assert, until } = require('./lib/harness');
const { startServer } = require('./lib/server');
const { connect } = require('./lib/client');

const CSP = "connect-src ws: wss: 'self'; img-src data: 'self'; media-src blob: 'self'; default-src 'self'";
let srv, groups, www;

function get(p, headers = {}, method = 'GET', agent = undefined, port = srv.port) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, headers, method, agent }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(),
        reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

function setup() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galhttp-'));
  fs.chmodSync(root, 0o755); // the workers' user reads the static files
  groups = path.join(root, 'groups');
  www = path.join(root, 'static');
  fs.mkdirSync(groups);
  for (const f of fs.readdirSync(path.join(__dirname, 'galene', 'groups')))
    fs.copyFileSync(path.join(__dirname, 'galene', 'groups', f), path.join(groups, f));
  fs.writeFileSync(path.join(groups, 'moved.json'), JSON.stringify({ redirect: 'https://elsewhere.example/group/x/' }));
  fs.writeFileSync(path.join(groups, 'zeta.json'), JSON.stringify({ public: true, displayName: 'Zeta',
    'wildcard-user': { password: { type: 'wildcard' }, permissions: 'message' } }));
  fs.mkdirSync(path.join(groups, 'sub'));
  fs.writeFileSync(path.join(groups, 'sub', 'room one.json'), JSON.stringify({ public: true }));
  fs.writeFileSync(path.join(groups, '.hidden.json'), JSON.stringify({ public: true }));
  for (const d of ['css', 'scripts', 'fonts']) fs.mkdirSync(path.join(www, d), { recursive: true });
  fs.writeFileSync(path.join(www, 'galene.html'), '<!DOCTYPE html><title>group page</title>\n');
  fs.writeFileSync(path.join(www, 'index.html'), '<!DOCTYPE html><title>landing</title>\n');
  fs.writeFileSync(path.join(www, 'galene.js'), 'console.log(1);\n');
  fs.writeFileSync(path.join(www, 'css', 'galene.css'), 'body{}\n');
  fs.writeFileSync(path.join(www, 'scripts', 'toastify.js'), '//\n');
  fs.writeFileSync(path.join(www, 'fonts', 'a.woff2'), 'x');
}

test('/group/<name>/: galene.html with Galène\'s headers; ETag and 304 through the router; HEAD', async () => {
  const r = await get('/group/test/');
  assert.equal(r.status, 200);
  assert.equal(r.body, '<!DOCTYPE html><title>group page</title>\n');
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(r.headers['cache-control'], 'max-age=1800');
  assert.equal(r.headers['content-security-policy'], CSP);
  assert.match(r.headers.etag, /^"[0-9a-f.-]+"$/);
  const again = await get('/group/test/', { 'If-None-Match': r.headers.etag });
  assert.equal(again.status, 304);
  assert.equal(again.body, '');
  const h = await get('/group/test/', {}, 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.headers['content-length'], String(r.body.length));
  assert.equal(h.body, '');
  assert.equal((await get('/group/auto/anything/')).status, 200, 'an auto-subgroup exists');
  assert.equal((await get('/group/sub/room%20one/')).status, 200, 'a subgroup by folder, name escaped');
});

test('/group/<name>: 308 to the clean name with its slash; 308 to redirect; 404 as Galène\'s', async () => {
  for (const [from, to] of [['/group/test', '/group/test/'], ['/group//test/', '/group/test/'],
    ['/group/test/./', '/group/test/'], ['/group/x/../test/', '/group/test/'], ['/group/sub/room one', '/group/sub/room%20one/']]) {
    const r = await get(from.replace(' ', '%20'));
    assert.equal(r.status, 308, from);
    assert.equal(r.headers.location, to, from);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.body, `<a href="${to}">Permanent Redirect</a>.\n\n`);
  }
  const m = await get('/group/moved/');
  assert.equal(m.status, 308);
  assert.equal(m.headers.location, 'https://elsewhere.example/group/x/');
  for (const p of ['/group/nope/', '/group/', '/group/.hidden/', '/group/../etc/', '/group/%2e%2e/etc/', '/group/small/x/']) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.equal(r.body, '<p>Not found</p>\n', p);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  }
  assert.equal((await get('/group/test%00/')).status, 400, 'a NUL in the path');
});

test('.status: the fields of sheet §1, location and endpoint from Host', async () => {
  const r = await get('/group/test/.status', { Host: 'chat.example:8443' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.deepEqual(JSON.parse(r.body), {
    name: 'test', location: 'http://chat.example:8443/group/test/', endpoint: 'ws://chat.example:8443/ws',
    displayName: 'Protocol test group', description: 'Group used by the research driver', clientCount: 0,
  });
  // not public: no locked, no clientCount; an auto-subgroup: no description either
  assert.deepEqual(JSON.parse((await get('/group/small/.status')).body),
    { name: 'small', location: `http://127.0.0.1:${srv.port}/group/small/`, endpoint: `ws://127.0.0.1:${srv.port}/ws` });
  assert.deepEqual(JSON.parse((await get('/group/auto/x/.status')).body).name, 'auto/x');
  assert.equal(JSON.parse((await get('/group/moved/.status')).body).redirect, 'https://elsewhere.example/group/x/');
  const j = await get('/group/test/.status.json');
  assert.equal(j.status, 308);
  assert.equal(j.headers.location, '/group/test/.status');
  assert.equal((await get('/group/nope/.status')).status, 404);
  assert.equal((await get('/group/.hidden/.status')).status, 404);
  // X-Forwarded-Proto is anyone's to write without --trust-proxy
  assert.match(JSON.parse((await get('/group/test/.status', { 'X-Forwarded-Proto': 'https' })).body).endpoint, /^ws:\/\//);
});

test('.status behind a --trust-proxy: wss:// and https:// when it says X-Forwarded-Proto https', async () => {
  const s = await startServer({ args: ['--galene-groups', groups, '--galene-static', www, '--trust-proxy', '127.0.0.1'] });
  try {
    const tls = JSON.parse((await get('/group/test/.status', { 'X-Forwarded-Proto': 'https', Host: 'chat.example' },
      'GET', undefined, s.port)).body);
    assert.equal(tls.endpoint, 'wss://chat.example/ws');
    assert.equal(tls.location, 'https://chat.example/group/test/');
    const plain = JSON.parse((await get('/group/test/.status', { 'X-Forwarded-Proto': 'http', Host: 'chat.example' },
      'GET', undefined, s.port)).body);
    assert.equal(plain.endpoint, 'ws://chat.example/ws');
  } finally { await s.stop(); }
});

test('/public-groups.json: public groups only, sorted, with live counts; a new file is seen', async () => {
  const r = await get('/public-groups.json');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['cache-control'], 'no-cache');
  const list = JSON.parse(r.body);
  assert.deepEqual(list.map((g) => g.name), ['sub/room one', 'test', 'zeta']);
  assert.deepEqual(list[2], { name: 'zeta', displayName: 'Zeta', clientCount: 0 });
  assert.ok(list.every((g) => !('location' in g) && !('endpoint' in g)));
  // a member joins over /ws: the count is the router's live one
  const ws = await connect(srv.url('/ws'));
  ws.sendJSON({ type: 'handshake', version: ['2'], id: 'c0ffee' });
  await ws.nextJSON();
  ws.sendJSON({ type: 'join', kind: 'join', group: 'zeta', username: 'u', password: 'any' });
  assert.equal((await ws.nextJSON()).kind, 'join');
  await until(async () => JSON.parse((await get('/public-groups.json')).body).find((g) => g.name === 'zeta').clientCount === 1,
    10000, 'clientCount 1');
  ws.close();
  fs.writeFileSync(path.join(groups, 'alpha.json'), JSON.stringify({ public: true }));
  await until(async () => JSON.parse((await get('/public-groups.json')).body)[0].name === 'alpha', 10000, 'alpha listed');
  assert.equal((await get('/group/alpha/.status')).status, 200);
});

test('static files of --galene-static: types, Galène\'s caching, keep-alive with router answers between', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const seq = [['/', 'text/html; charset=utf-8', 'max-age=1800'], ['/galene.js', 'text/javascript; charset=utf-8', 'max-age=1800'],
    ['/group/test/.status', 'application/json', 'no-cache'], ['/css/galene.css', 'text/css; charset=utf-8', 'max-age=86400'],
    ['/scripts/toastify.js', 'text/javascript; charset=utf-8', 'max-age=86400'], ['/group/test/', 'text/html; charset=utf-8', 'max-age=1800'],
    ['/fonts/a.woff2', null, 'max-age=86400']];
  let reused = 0;
  for (const [p, type, cache] of seq) {
    const r = await get(p, {}, 'GET', agent);
    assert.equal(r.status, 200, p);
    if (type) assert.equal(r.headers['content-type'], type, p);
    assert.equal(r.headers['cache-control'], cache, p);
    if (r.reused) reused++;
  }
  agent.destroy();
  assert.ok(reused >= 5, `one connection carried them (${reused} reused)`);
  assert.equal((await get('/missing.js')).status, 404);
  assert.equal((await get('/../etc/passwd')).status, 404);
  assert.equal((await get('/ws')).status, 426, 'the WebSocket endpoint stays one');
});

run({
  before: async () => {
    setup();
    srv = await startServer({ args: ['--galene-groups', groups, '--galene-static', www, '--galene-reload', '0.2'] });
  },
  after: async () => { if (srv) await srv.stop(); },
});
