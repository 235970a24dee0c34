// Log lines, parsed: the text and JSON formats, the fields of connect,
// close and refusal lines, escaping of what clients choose, and the
// timestamp (present by default, left out under journald and s6-log).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { test, run, assert, until } = require('./lib/harness');
const { startServer, bin, freePort, waitForPort } = require('./lib/server');
const { connect } = require('./lib/client');
const { exchange, status, upgradeRequest } = require('./lib/raw');

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
const TEXT = /^(?:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) )?(switchboard(?:-worker|-router)?)\[(\d+)\]: (error|warn|info|debug): (.*)$/;

// key=value fields of a text line (values in quotes may hold escaped quotes)
function fields(rest) {
  const f = {};
  for (const m of rest.matchAll(/ (\w+)=("(?:[^"\\]|\\.)*"|\S+)/g))
    f[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, '$1') : m[2];
  return f;
}

async function echoOnce(srv, extra = {}) {
  const ws = await connect(srv.url('/echo'), extra);
  ws.send('hi');
  assert.equal(await ws.next(), 'hi');
  ws.close(1000);
  await ws.closed;
}

test('text: every line is "TIME prog[pid]: level: message", and a connection logs connect and close with conn, peer and path', async () => {
  const srv = await startServer();
  try {
    await echoOnce(srv);
    await until(() => / info: close /.test(srv.log), 10000, 'the close line');
    const lines = srv.log.split('\n').filter(Boolean);
    for (const l of lines) {
      assert.match(l, TEXT, l);
      assert.match(l, STAMP, l);
      assert.ok(Math.abs(Date.parse(TEXT.exec(l)[1]) - Date.now()) < 600000, l);
    }
    const connectLine = lines.find((l) => / info: connect /.test(l));
    const c = fields(TEXT.exec(connectLine)[5]);
    assert.match(c.conn, /^[0-9a-f]{16}$/);
    assert.match(c.peer, /^127\.0\.0\.1:\d+$/);
    assert.equal(c.path, '/echo');
    assert.equal(c.protocol, 'echo');
    const closeLine = lines.find((l) => / info: close /.test(l) && l.includes(`conn=${c.conn}`));
    const e = fields(TEXT.exec(closeLine)[5]);
    assert.equal(e.peer, c.peer);
    assert.equal(e.path, '/echo');
    assert.equal(e.code, '1000');
    assert.match(e.duration_ms, /^\d+$/);
  } finally { await srv.stop(); }
});

test('text: a refused origin is logged with the origin, escaped so that the line stays one line', async () => {
  const srv = await startServer();
  try {
    const origin = 'https://e"vil\\ x.example';
    const { data } = await exchange(srv.port, upgradeRequest('/echo', { Origin: origin }));
    assert.equal(status(data), 403);
    await until(() => / info: refused .*status=403/.test(srv.log), 10000, 'the refusal');
    const line = srv.log.split('\n').find((l) => / info: refused .*status=403/.test(l));
    assert.match(line, TEXT);
    const f = fields(TEXT.exec(line)[5]);
    assert.deepEqual([f.status, f.reason, f.path, f.origin], ['403', 'origin not allowed', '/echo', origin]);
    assert.match(f.peer, /^127\.0\.0\.1:\d+$/);
  } finally { await srv.stop(); }
});

test('json: every line is one object with time, prog, pid, level, msg and the event\'s fields', async () => {
  const srv = await startServer({ args: ['--log-format', 'json'] });
  try {
    await echoOnce(srv);
    // bytes past ASCII and a control character in an origin: still valid JSON
    const origin = Buffer.concat([Buffer.from('https://\u00fc'), Buffer.from([0xff, 0x01]), Buffer.from('"x')]);
    const req = Buffer.concat([Buffer.from('GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: '),
    origin, Buffer.from('\r\n\r\n')]);
    const { data } = await exchange(srv.port, req);
    assert.match(String(status(data)), /^(400|403)$/);
    await until(() => /"msg":"close"/.test(srv.log) && /"msg":"refused"/.test(srv.log), 10000, 'the lines');
    const objs = srv.log.split('\n').filter(Boolean).map((l) => {
      try { return JSON.parse(l); } catch (e) { throw new Error(`not JSON: ${l}`); }
    });
    for (const o of objs) {
      assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(o.prog, /^switchboard(-worker|-router)?$/);
      assert.equal(typeof o.pid, 'number');
      assert.match(o.level, /^(error|warn|info|debug)$/);
      assert.equal(typeof o.msg, 'string');
    }
    const c = objs.find((o) => o.msg === 'connect');
    assert.equal(c.path, '/echo');
    assert.match(c.peer, /^127\.0\.0\.1:\d+$/);
    assert.match(c.conn, /^[0-9a-f]{16}$/);
    const cl = objs.find((o) => o.msg === 'close' && o.conn === c.conn);
    assert.equal(cl.code, '1000');
    const r = objs.find((o) => o.msg === 'refused');
    assert.ok(r.status === '403' || r.status === '400', JSON.stringify(r));
    if (r.status === '403') assert.equal(r.origin, 'https://\u00c3\u00bc\u00ff\u0001"x'); // each byte as U+00NN
    assert.ok(objs.some((o) => o.prog === 'switchboard' && /listening on/.test(o.msg)));
  } finally { await srv.stop(); }
});

// journald names its stream in JOURNAL_STREAM ("dev:ino" of fd 2); a file stands in for it here
test('under journald (JOURNAL_STREAM names fd 2) lines carry no timestamp, the workers\' and router\'s too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-journal-'));
  const file = path.join(dir, 'journal');
  const fd = fs.openSync(file, 'a');
  const st = fs.fstatSync(fd);
  const port = await freePort();
  const p = spawn(bin('switchboard'), ['--listen', `127.0.0.1:${port}`, '--state-dir', dir, '--max-per-ip', '0'],
    { stdio: ['ignore', fd, fd], env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
  fs.closeSync(fd);
  try {
    await waitForPort(port);
    await until(() => /bus listening/.test(fs.readFileSync(file, 'utf8')), 15000, 'the router');
    const ws = await connect(`ws://127.0.0.1:${port}/echo`);
    ws.close();
    await ws.closed;
    await until(() => / info: close /.test(fs.readFileSync(file, 'utf8')), 10000, 'the close line');
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    for (const l of lines) assert.match(l, /^switchboard(-worker|-router)?\[\d+\]: \w+: /, l);
    assert.ok(lines.some((l) => /^switchboard-worker/.test(l)) && lines.some((l) => /^switchboard-router/.test(l)));
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.on('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('under s6-supervise with s6-log lines carry no timestamp', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-s6-'));
  const scan = path.join(dir, 'scan'), svc = path.join(scan, 'sb'), logdir = path.join(dir, 'logs');
  const port = await freePort();
  fs.mkdirSync(path.join(svc, 'log'), { recursive: true });
  fs.mkdirSync(logdir);
  fs.writeFileSync(path.join(svc, 'run'), `#!/bin/sh\nexec 2>&1\nexec ${bin('switchboard')} --listen 127.0.0.1:${port} ` +
    `--state-dir ${dir}/state --max-per-ip 0\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(svc, 'log', 'run'), `#!/bin/sh\nexec s6-log -b n2 ${logdir}\n`, { mode: 0o755 });
  const p = spawn('s6-svscan', [scan], { stdio: 'ignore' });
  const current = () => { try { return fs.readFileSync(path.join(logdir, 'current'), 'utf8'); } catch { return ''; } };
  try {
    await waitForPort(port);
    await until(() => /bus listening/.test(current()), 15000, 'the router');
    const ws = await connect(`ws://127.0.0.1:${port}/echo`);
    ws.close();
    await ws.closed;
    await until(() => / info: close /.test(current()), 10000, 'the close line');
    const lines = current().split('\n').filter(Boolean);
    for (const l of lines) assert.match(l, /^switchboard(-worker|-router)?\[\d+\]: \w+: /, l);
  } finally {
    try { execFileSync('s6-svscanctl', ['-t', scan]); } catch { p.kill('SIGTERM'); }
    const t = setTimeout(() => p.kill('SIGKILL'), 10000);
    await new Promise((r) => (p.exitCode !== null ? r() : p.on('exit', r)));
    clearTimeout(t);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, { timeout: 40000 });

test('--log-to none writes nothing; a bad --log-to or --log-format is a usage error', async () => {
  const srv = await startServer({ args: ['--log-to', 'none'] });
  try {
    await echoOnce(srv);
  } finally { await srv.stop(); }
  assert.equal(srv.log, '');
  for (const args of [['--log-to', 'file'], ['--log-format', 'xml']]) {
    let r;
    try { execFileSync(bin('switchboard-worker'), args, { stdio: 'pipe' }); } catch (e) { r = e; }
    assert.equal(r && r.status, 2, String(args));
    assert.match(r.stderr.toString(), new RegExp(`--${args[0].slice(2)}`));
  }
});

// ---- the client's address from a front end (--proxy-protocol) ----

const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

test('--proxy-protocol: v1 and v2 headers (as haproxy and stunnel send) give the client\'s address to the log lines; no header is closed unanswered', async () => {
  const srv = await startServer({ args: ['--proxy-protocol'] });
  try {
    let r = await exchange(srv.port, `PROXY TCP4 203.0.113.7 127.0.0.1 4242 ${srv.port}\r\n${upgradeRequest('/echo')}`, 1000);
    assert.equal(status(r.data), 101);
    const v2 = Buffer.concat([V2_SIG, Buffer.from([0x21, 0x21, 0, 36]),
      Buffer.from('20010db8000000000000000000000009', 'hex'), Buffer.alloc(15), Buffer.from([1]),
      Buffer.from([0x1f, 0x41, 0x1f, 0x90]), Buffer.from(upgradeRequest('/echo'))]);
    r = await exchange(srv.port, v2, 1000);
    assert.equal(status(r.data), 101);
    await until(() => (srv.log.match(/ info: connect /g) || []).length >= 2, 10000, 'the connect lines');
    const lines = srv.log.split('\n').filter((l) => / info: connect /.test(l)).map((l) => fields(TEXT.exec(l)[5]));
    assert.equal(lines[0].peer, '203.0.113.7:4242');
    assert.match(lines[0].proxy, /^127\.0\.0\.1:\d+$/);
    assert.equal(lines[1].peer, '[2001:db8::9]:8001');
    // a connection without the header (or with a broken one) gets nothing and is closed
    for (const bad of [upgradeRequest('/echo'), 'PROXY TCP4 1.2.3.4 1.2.3.4 99999 1\r\n\r\n']) {
      r = await exchange(srv.port, bad, 5000);
      assert.ok(r.closed, bad);
      assert.equal(r.data.length, 0, r.data.toString());
    }
    await until(() => /refused .*reason="no valid PROXY protocol header/.test(srv.log), 10000, 'the refusal line');
  } finally { await srv.stop(); }
});

test('--trust-proxy: X-Forwarded-For from a trusted front end gives the client\'s address; from anyone else it is ignored', async () => {
  const xff = { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9' }; // the client wrote the first one
  const trusting = await startServer({ args: ['--trust-proxy', '127.0.0.0/8'] });
  const other = await startServer({ args: ['--trust-proxy', '192.0.2.0/24'] });
  try {
    for (const s of [trusting, other]) {
      assert.equal(status((await exchange(s.port, upgradeRequest('/echo', xff), 1000)).data), 101);
      await until(() => / info: connect /.test(s.log), 10000, 'the connect line');
    }
    const line = (s) => fields(TEXT.exec(s.log.split('\n').find((l) => / info: connect /.test(l)))[5]);
    assert.equal(line(trusting).peer, '203.0.113.9');
    assert.match(line(trusting).proxy, /^127\.0\.0\.1:\d+$/);
    assert.match(line(other).peer, /^127\.0\.0\.1:\d+$/);
    assert.equal(line(other).proxy, undefined);
  } finally { await trusting.stop(); await other.stop(); }
  const r = require('node:child_process').spawnSync(bin('switchboard'), ['--trust-proxy', '10.0.0.0/99'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--trust-proxy/);
});

test('without --proxy-protocol a PROXY line from a client is not believed: 400', async () => {
  const srv = await startServer();
  try {
    const r = await exchange(srv.port, `PROXY TCP4 203.0.113.7 127.0.0.1 4242 80\r\n${upgradeRequest('/echo')}`);
    assert.equal(status(r.data), 400);
    assert.doesNotMatch(srv.log, /203\.0\.113\.7/);
  } finally { await srv.stop(); }
});

run();
