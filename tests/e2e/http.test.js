// Plain HTTP end to end: --static-dir files (status, Content-Type/Length,
// ETag/If-None-Match, HEAD), keep-alive and its cap, Connection: close, path
// traversal over a raw socket (clients normalise `..`), a large file to a
// slow reader, the set-up hook running before the sandbox, and WebSocket
// endpoints next to it all.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { test, run, assert, sleep, until } = require('./lib/harness');
const { startServer, ASAN } = require('./lib/server');
const { connect } = require('./lib/client');
const { exchange, status, upgradeRequest } = require('./lib/raw');

const BIG = 24 << 20; // the large file: far over what a worker may hold
let srv, root, www, bigHash;

// Parses every complete response in data; HEAD and 304 have no body.
function parseResponses(data, methods) {
  const out = [];
  let off = 0;
  for (const m of methods) {
    const end = data.indexOf('\r\n\r\n', off, 'latin1');
    if (end < 0) break;
    const head = data.subarray(off, end).toString('latin1').split('\r\n');
    const st = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0])[1]);
    const headers = {};
    for (const l of head.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = m === 'HEAD' || st === 304 ? 0 : Number(headers['content-length'] || 0);
    if (data.length < end + 4 + len) break;
    out.push({ status: st, headers, body: data.subarray(end + 4, end + 4 + len) });
    off = end + 4 + len;
  }
  return { responses: out, rest: data.subarray(off) };
}

function get(p, extra = '', method = 'GET') {
  return `${method} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;
}

// Sends requests on one connection and waits for the server to close it (or ms).
async function onOne(reqs, ms = 8000) {
  const r = await exchange(srv.port, reqs.map((x) => x.raw || get(x.path, x.extra, x.method)).join(''), ms);
  return { ...parseResponses(r.data, reqs.map((x) => x.method || 'GET')), closed: r.closed };
}

test('GET a file: 200 with Content-Type, Content-Length and ETag', async () => {
  const { responses: [r] } = await onOne([{ path: '/sub/style.css', extra: 'Connection: close\r\n' }]);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/css; charset=utf-8');
  assert.equal(r.headers['content-length'], String('body{}\n'.length));
  assert.match(r.headers.etag, /^"[0-9a-f.-]+"$/);
  assert.equal(r.body.toString(), 'body{}\n');
  const { responses: [i] } = await onOne([{ path: '/', extra: 'Connection: close\r\n' }]);
  assert.equal(i.status, 200);
  assert.equal(i.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(i.body.toString(), '<h1>hello</h1>\n');
});

test('If-None-Match with the ETag: 304 without a body; another tag: 200', async () => {
  const { responses: [a] } = await onOne([{ path: '/index.html', extra: 'Connection: close\r\n' }]);
  const tag = a.headers.etag;
  const { responses, closed } = await onOne([
    { path: '/index.html', extra: `If-None-Match: ${tag}\r\n` },
    { path: '/index.html', extra: `If-None-Match: "x", W/${tag}\r\n` },
    { path: '/index.html', extra: 'If-None-Match: "other"\r\nConnection: close\r\n' },
  ]);
  assert.deepEqual(responses.map((r) => r.status), [304, 304, 200]);
  assert.equal(responses[0].headers.etag, tag);
  assert.equal(responses[2].body.toString(), '<h1>hello</h1>\n');
  assert.ok(closed);
});

test('HEAD: the GET headers without a body', async () => {
  const { responses, rest } = await onOne([
    { path: '/index.html', method: 'HEAD' },
    { path: '/sub/style.css', extra: 'Connection: close\r\n' },
  ]);
  assert.equal(responses.length, 2);
  assert.equal(responses[0].status, 200);
  assert.equal(responses[0].headers['content-length'], '15');
  // the second response starts right after the first head: no body came between
  assert.equal(responses[1].body.toString(), 'body{}\n');
  assert.equal(rest.length, 0);
});

test('keep-alive: several requests one after another on one connection', async () => {
  const s = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  let data = Buffer.alloc(0);
  s.on('data', (d) => { data = Buffer.concat([data, d]); });
  for (let i = 1; i <= 3; i++) {
    s.write(get('/index.html'));
    await until(() => parseResponses(data, Array(i).fill('GET')).responses.length === i, 5000, `answer ${i}`);
  }
  const { responses } = parseResponses(data, ['GET', 'GET', 'GET']);
  assert.deepEqual(responses.map((r) => [r.status, r.headers.connection]), Array(3).fill([200, 'keep-alive']));
  assert.ok(!s.destroyed);
  s.destroy();
});

test('at most 8 requests per connection, the 8th says Connection: close', async () => {
  const reqs = Array.from({ length: 10 }, () => ({ path: '/index.html' }));
  const { responses, closed, rest } = await onOne(reqs);
  assert.equal(responses.length, 8);
  assert.deepEqual(responses.map((r) => r.headers.connection), [...Array(7).fill('keep-alive'), 'close']);
  assert.equal(rest.length, 0);
  assert.ok(closed);
});

test('Connection: close and HTTP/1.0 end the connection after one answer', async () => {
  const a = await onOne([{ path: '/index.html', extra: 'Connection: close\r\n' }, { path: '/index.html' }]);
  assert.equal(a.responses.length, 1);
  assert.equal(a.responses[0].headers.connection, 'close');
  assert.ok(a.closed);
  const b = await onOne([{ raw: 'GET /index.html HTTP/1.0\r\n\r\n' }, { path: '/index.html' }]);
  assert.equal(b.responses.length, 1);
  assert.ok(b.closed);
});

test('path traversal: .., %2e%2e, symlinks out, absolute, hidden: 404; NUL: 400', async () => {
  const paths404 = ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/%2E%2E/%2e%2e/secret.txt',
    '/sub/../../secret.txt', '/%2fetc%2fpasswd', '//etc/passwd', '/out.txt', '/outdir/secret.txt',
    '/.hidden', '/sub/..%2f..%2fsecret.txt', '/nothing-here'];
  for (const p of paths404) {
    const { responses: [r] } = await onOne([{ path: p, extra: 'Connection: close\r\n' }]);
    assert.equal(r && r.status, 404, p);
    assert.ok(!r.body.toString().includes('top secret'), p);
  }
  for (const p of ['/index.html%00', '/sub%00/style.css', '/%zz']) {
    const r = await onOne([{ path: p }, { path: '/index.html' }]);
    assert.equal(r.responses.length, 1, p);
    assert.equal(r.responses[0].status, 400, p);
    assert.ok(r.closed, p);
  }
  // a symlink that stays inside the directory is served
  const { responses: [ok] } = await onOne([{ path: '/inside.html', extra: 'Connection: close\r\n' }]);
  assert.equal(ok.status, 200);
});

test('request limits stay: 431 for a big head, 408 for a slow request, a body on GET is 400', async () => {
  const big = await exchange(srv.port, get('/index.html', `X-Big: ${'a'.repeat(9000)}\r\n`));
  assert.equal(status(big.data), 431);
  const slow = await exchange(srv.port, 'GET /index.html HTTP/1.1\r\n', 15000);
  assert.equal(status(slow.data), 408);
  const body = await onOne([{ path: '/index.html', extra: 'Content-Length: 5\r\n', raw: null }]);
  assert.equal(body.responses[0].status, 400);
  assert.ok(body.closed);
});

test('an idle keep-alive connection is closed after the handshake timeout, without a 408', async () => {
  const t0 = Date.now();
  const r = await onOne([{ path: '/index.html' }], 15000);
  assert.equal(r.responses.length, 1);
  assert.ok(r.closed);
  assert.equal(r.rest.length, 0);
  assert.ok(Date.now() - t0 >= 1500);
});

test('WebSocket endpoints: plain GET is 426, upgrade on a file or unknown path is 404', async () => {
  const a = await onOne([{ path: '/echo' }]);
  assert.equal(a.responses[0].status, 426);
  for (const p of ['/index.html', '/nothing']) {
    const b = await exchange(srv.port, upgradeRequest(p));
    assert.equal(status(b.data), 404, p);
  }
});

test('the set-up hook ran before the sandbox: the sandboxed /echo worker holds the directory', async () => {
  const ws = await connect(srv.url('/echo'));
  ws.send('hi');
  assert.equal(String(await ws.next()), 'hi');
  await until(() => srv.workerPids().length === 1, 10000, 'one worker');
  const [pid] = srv.workerPids();
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  if (!ASAN) assert.match(st, /^Seccomp:\s+2$/m); // the filter allows no open(); openat2, called RESOLVE_BENEATH
  const fds = fs.readdirSync(`/proc/${pid}/fd`).map((f) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${f}`); } catch { return ''; } });
  assert.ok(fds.includes(www), `no fd on ${www} in ${fds}`);
  ws.close();
});

test('a large file reaches a slow reader intact; the worker never holds much of it', async () => {
  // the worker of the test before may still be on its way out
  await until(() => srv.workerPids().length === 0, 10000, 'no worker left from the test before');
  const s = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.pause();
  await until(() => srv.workerPids().length === 1, 10000, 'the worker');
  const [pid] = srv.workerPids();
  const rss = () => { try { return Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024; } catch { return 0; } };
  await sleep(200);
  const base = rss(); // before the request: what the worker needs for itself
  assert.ok(base > 0, "the worker's RSS")
  s.write(get('/big.bin', 'Connection: close\r\n'));
  await sleep(300); // the socket buffers fill; the worker waits
  const chunks = [];
  let got = 0, peak = base;
  const done = new Promise((resolve) => s.on('close', resolve));
  s.on('data', (d) => {
    chunks.push(d);
    got += d.length;
    peak = Math.max(peak, rss());
    s.pause(); // a slow reader: a little at a time
    setTimeout(() => s.resume(), 2);
  });
  const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 20);
  s.resume();
  await done;
  clearInterval(sampler);
  const data = Buffer.concat(chunks);
  const end = data.indexOf('\r\n\r\n');
  assert.match(data.subarray(0, end).toString(), new RegExp(`Content-Length: ${BIG}\r\n`));
  const body = data.subarray(end + 4);
  assert.equal(body.length, BIG);
  assert.equal(crypto.createHash('sha256').update(body).digest('hex'), bigHash);
  console.log(`# worker RSS ${base} before, peak ${peak}`);
  // the file is 24 MiB; the worker grew by a few chunks at most
  assert.ok(peak - base < 4 << 20, `worker RSS grew by ${peak - base} bytes (from ${base})`);
}, { timeout: 60000 });

// A client may half-close right after its request (shutdown(SHUT_WR), or
// a request and FIN in one segment): it still reads its whole answer.
test('a client that half-closes after its request gets the whole large file', async () => {
  await until(() => srv.workerPids().length === 0, 10000, 'no worker left from the tests before');
  const s = net.connect({ port: srv.port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => s.once('connect', r));
  await until(() => srv.workerPids().length === 1, 10000, 'the worker');
  const [pid] = srv.workerPids();
  const chunks = [];
  s.on('data', (d) => chunks.push(d));
  const done = new Promise((resolve) => s.on('close', resolve));
  // the worker is stopped while the request and our FIN arrive, so that it
  // wakes to both in one event
  process.kill(pid, 'SIGSTOP');
  s.end(get('/big.bin'));
  await sleep(200);
  process.kill(pid, 'SIGCONT');
  await done;
  const data = Buffer.concat(chunks);
  const end = data.indexOf('\r\n\r\n');
  assert.ok(end > 0, `an answer (${data.length} bytes)`);
  assert.match(data.subarray(0, end).toString(), new RegExp(`Content-Length: ${BIG}\r\n`));
  const body = data.subarray(end + 4);
  assert.equal(body.length, BIG);
  assert.equal(crypto.createHash('sha256').update(body).digest('hex'), bigHash);
}, { timeout: 60000 });

test('a client that takes none of its file for the handshake timeout is dropped', async () => {
  // the worker of the test before may still be on its way out
  await until(() => srv.workerPids().length === 0, 10000, 'no worker left from the test before');
  const s = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.pause(); // never reads: the socket buffers fill and stay full
  await until(() => srv.workerPids().length === 1, 10000, 'the worker');
  const [pid] = srv.workerPids();
  s.write(get('/big.bin'));
  const t0 = Date.now();
  await until(() => !fs.existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')),
    20000, 'the worker to give up');
  assert.ok(Date.now() - t0 >= 1500, 'not before the timeout');
  assert.match(srv.log, /took none of its file/);
  s.destroy();
}, { timeout: 30000 });

test('a --static-dir the worker cannot open: the worker says so and closes', async () => {
  const bad = await startServer({ args: ['--static-dir', path.join(root, 'missing')] });
  try {
    // closed or reset (the request is never read): no answer either way
    const r = await exchange(bad.port, get('/index.html'), 10000).catch((e) => ({ closed: true, data: Buffer.alloc(0), e }));
    assert.ok(r.closed);
    assert.equal(r.data.length, 0);
    await until(() => /--static-dir .*missing: No such file/.test(bad.log), 10000, 'the error in the log');
  } finally {
    await bad.stop();
  }
});

test('WebSocket endpoints still work next to the files', async () => {
  const ws = await connect(srv.url('/wschat'));
  await ws.next();
  ws.close();
  const e = await connect(srv.url('/echo'));
  e.send(Buffer.from([1, 2, 3]));
  assert.deepEqual([...(await e.next())], [1, 2, 3]);
  e.close();
});

test('the landing page: GET / without --static-dir is the page, HEAD its headers, --no-landing a 404', async () => {
  const plain = await startServer();
  const off = await startServer({ args: ['--no-landing'] });
  try {
    const r = await exchange(plain.port, get('/', 'Connection: close\r\n') , 5000);
    const { responses } = parseResponses(r.data, ['GET']);
    assert.match(r.data.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(responses[0].headers['content-type'], 'text/html; charset=utf-8');
    assert.match(responses[0].body.toString(), /<title>switchboard<\/title>/);
    assert.match(responses[0].body.toString(), /\/messaging\?client_id=ID/);
    const h = parseResponses((await exchange(plain.port, get('/', 'Connection: close\r\n', 'HEAD'), 5000)).data, ['HEAD']);
    assert.equal(h.responses[0].status, 200);
    assert.equal(h.responses[0].headers['content-length'], String(responses[0].body.length));
    assert.equal(h.rest.length, 0, 'no body after HEAD');
    // only / is the page
    assert.equal(status((await exchange(plain.port, get('/other', 'Connection: close\r\n'), 5000)).data), 404);
    assert.equal(status((await exchange(off.port, get('/', 'Connection: close\r\n'), 5000)).data), 404);
  } finally {
    await plain.stop();
    await off.stop();
  }
});

test('the landing page gives way to an index.html in --static-dir', async () => {
  const { responses } = await onOne([{ path: '/', extra: 'Connection: close\r\n' }]);
  assert.equal(responses[0].status, 200);
  assert.equal(responses[0].body.toString(), fs.readFileSync(path.join(www, 'index.html'), 'utf8'));
});

run({
  before: async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-http-'));
    www = path.join(root, 'www');
    fs.mkdirSync(path.join(www, 'sub'), { recursive: true });
    fs.mkdirSync(path.join(root, 'outside'));
    fs.writeFileSync(path.join(www, 'index.html'), '<h1>hello</h1>\n');
    fs.writeFileSync(path.join(www, 'sub', 'style.css'), 'body{}\n');
    fs.writeFileSync(path.join(www, '.hidden'), 'hidden\n');
    fs.writeFileSync(path.join(root, 'secret.txt'), 'top secret\n');
    fs.writeFileSync(path.join(root, 'outside', 'secret.txt'), 'top secret\n');
    fs.symlinkSync(path.join(root, 'secret.txt'), path.join(www, 'out.txt'));
    fs.symlinkSync('../outside', path.join(www, 'outdir'));
    fs.symlinkSync('index.html', path.join(www, 'inside.html'));
    const big = crypto.randomBytes(BIG);
    bigHash = crypto.createHash('sha256').update(big).digest('hex');
    fs.writeFileSync(path.join(www, 'big.bin'), big);
    // the workers run as an unprivileged user: everything readable, so only
    // the worker's own checks keep the secret out
    for (const d of [root, www, path.join(www, 'sub'), path.join(root, 'outside')]) fs.chmodSync(d, 0o755);
    srv = await startServer({ args: ['--static-dir', www, '--handshake-timeout', '2'] });
  },
  after: async () => {
    if (srv) await srv.stop();
    fs.rmSync(root, { recursive: true, force: true });
  },
});
