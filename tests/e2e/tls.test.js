// TLS in front of switchboard: the shipped contrib/tls examples for nginx and
// haproxy, run with this test's ports and a self-signed certificate it makes,
// carry wss:// clients (the `ws` npm client with the certificate as its CA)
// end to end: /echo, a WSChat exchange, the landing page over https://, and a
// browser-like Origin that must pass the Host check behind the proxy.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { test, run, assert, until } = require('./lib/harness');
const { startServer, freePort, waitForPort, ROOT } = require('./lib/server');
const { connect } = require('./lib/client');

let srv, dir, ca;
const fronts = [];

function makeCertificate() {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  ca = fs.readFileSync(path.join(dir, 'cert.pem'));
  // haproxy wants the certificate and its key in one file
  fs.writeFileSync(path.join(dir, 'both.pem'), Buffer.concat([ca, fs.readFileSync(path.join(dir, 'key.pem'))]));
}

// The shipped example with this run's ports and files put in.
function example(name, edits) {
  let text = fs.readFileSync(path.join(ROOT, 'contrib', 'tls', name), 'utf8');
  for (const [from, to] of edits) {
    assert.ok(text.includes(from), `contrib/tls/${name} still has ${from}`);
    text = text.split(from).join(to);
  }
  return text;
}

async function startFront(name, cmd, args, port) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const front = { name, proc, port, log: () => log };
  fronts.push(front);
  await waitForPort(port, '127.0.0.1', 15000).catch((e) => { throw new Error(`${name} did not listen: ${e.message}\n${log}`); });
  return front;
}

async function nginx() {
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const server = example('nginx.conf', [
    ['listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`],
    ['/etc/switchboard/tls/cert.pem', path.join(dir, 'cert.pem')],
    ['/etc/switchboard/tls/key.pem', path.join(dir, 'key.pem')],
    ['127.0.0.1:8080', `127.0.0.1:${srv.port}`],
  ]);
  fs.writeFileSync(conf, `daemon off; pid ${dir}/nginx.pid; error_log stderr warn; worker_processes 1;
events { worker_connections 256; }
http { access_log off; client_body_temp_path ${dir}/nb; proxy_temp_path ${dir}/np;
  fastcgi_temp_path ${dir}/nf; uwsgi_temp_path ${dir}/nu; scgi_temp_path ${dir}/ns;
${server}
}
`);
  return startFront('nginx', '/usr/sbin/nginx', ['-p', dir, '-c', conf], port);
}

async function haproxy() {
  const port = await freePort();
  const conf = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(conf, example('haproxy.cfg', [
    ['bind 0.0.0.0:8443', `bind 127.0.0.1:${port}`],
    ['/etc/switchboard/tls/cert.pem', path.join(dir, 'both.pem')],
    ['127.0.0.1:8080', `127.0.0.1:${srv.port}`],
  ]));
  return startFront('haproxy', '/usr/sbin/haproxy', ['-f', conf, '-db'], port);
}

function httpsGet(port, p) {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: p, ca, servername: 'localhost' }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

async function exercise(front) {
  const url = `wss://localhost:${front.port}`;
  const tls = { ws: { ca, lookup: (h, o, cb) => (o && o.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) } };
  // /echo, with a message larger than one TLS record
  const e = await connect(`${url}/echo`, tls);
  const big = 'y'.repeat(100000);
  e.send(big);
  assert.equal(await e.next(), big);
  e.close();
  // WSChat: two clients through the proxy, a direct message
  const a = await connect(`${url}/wschat`, tls);
  const b = await connect(`${url}/wschat`, tls);
  for (const [c, n] of [[a, 'tls-a'], [b, 'tls-b']]) {
    await c.nextJSON(); // init
    c.sendJSON({ command: 'identify', name: n });
    assert.equal((await c.nextJSON()).code, 300);
  }
  a.sendJSON({ command: 'message', to: 'tls-b', message: 'over TLS' });
  assert.deepEqual(await b.nextJSON(), { type: 'message', from: 'tls-a', message: 'over TLS' });
  a.close();
  b.close();
  // a browser's Origin for the proxy's own name passes the Host check
  const o = await connect(`${url}/echo`, { ws: { ...tls.ws, origin: `https://localhost:${front.port}` } });
  o.send('from a page');
  assert.equal(await o.next(), 'from a page');
  o.close();
  // the landing page over https://
  const page = await httpsGet(front.port, '/');
  assert.equal(page.status, 200, `${front.name}: ${page.body}`);
  assert.match(page.body, /<title>switchboard<\/title>/);
}

test('nginx (contrib/tls/nginx.conf) carries wss:// and https:// to switchboard', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-tls-'));
  makeCertificate();
  srv = await startServer();
  const front = await nginx();
  await exercise(front);
}, { timeout: 60000 });

test('haproxy (contrib/tls/haproxy.cfg) carries wss:// and https:// to switchboard', async () => {
  const front = await haproxy();
  await exercise(front);
}, { timeout: 60000 });

test('a connected wss:// client through nginx survives a router restart', async () => {
  const front = fronts.find((f) => f.name === 'nginx');
  const tls = { ws: { ca, lookup: (h, o, cb) => (o && o.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) } };
  const c = await connect(`wss://localhost:${front.port}/wschat`, tls);
  await c.nextJSON();
  const before = srv.routerPid();
  process.kill(before, 'SIGKILL');
  await until(() => srv.routerPid() && srv.routerPid() !== before, 15000, 'a new router');
  c.sendJSON({ command: 'identify', name: 'after-restart' });
  assert.equal((await c.nextJSON(15000)).code, 300);
  c.close();
}, { timeout: 60000 });

run({
  async after() {
    for (const f of fronts) f.proc.kill('SIGTERM');
    if (srv) await srv.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  },
});
