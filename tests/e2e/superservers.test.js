// The worker under real super-servers: Debian's openbsd-inetd and xinetd
// (fd 2 is the client's socket there) and systemd-socket-activate --inetd
// (the Accept=yes shape), each running the example from contrib/ with only
// the port, the paths and the user changed. A router runs apart, as in
// those layouts; the workers log to a syslog socket the test reads.
// Each mode: a 404 is a clean HTTP response (curl), a WebSocket client
// works, and a router restart under a connected client sends it no log text
// and does not drop it.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFile } = require('node:child_process');
const { test, run, assert, until, sleep } = require('./lib/harness');
const { bin, freePort, waitForPort, ROOT } = require('./lib/server');
const { connect } = require('./lib/client');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-super-'));
const busUrl = `ipc://${dir}/bus.ipc`;
const logSock = path.join(dir, 'log.sock');
const procs = [];

// openbsd-inetd conflicts with xinetd in Debian: make test-deps unpacks it
// under build/deps when the installed super-server is xinetd.
function findProgram(name, extra) {
  for (const d of [...(process.env.PATH || '').split(':'), '/usr/sbin', '/sbin', ...extra]) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name} not found (make test-deps installs it)`);
}

function start(cmd, args, opts = {}) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  p.out = '';
  p.stdout.on('data', (d) => { p.out += d; });
  p.stderr.on('data', (d) => { p.out += d; });
  p.exited = new Promise((r) => p.on('exit', r));
  procs.push(p);
  return p;
}

async function stop(p) {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

// A syslog daemon for the test: every datagram on log.sock, one per line.
const syslog = start('python3', ['-u', '-c', `
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
print("ready", flush=True)
while True:
    d = s.recv(65536)
    sys.stdout.write(d.decode("utf-8", "replace").rstrip("\\n") + "\\n")
    sys.stdout.flush()
`, logSock]);

let router;
function startRouter() {
  router = start(bin('switchboard-router'), ['--state-dir', dir, '--tap', 'none']);
  return until(() => fs.existsSync(path.join(dir, 'bus.ipc')) && /bus listening/.test(router.out), 15000, 'the router');
}

async function restartRouter() {
  const old = router;
  old.kill('SIGKILL');
  await old.exited;
  fs.rmSync(path.join(dir, 'bus.ipc'), { force: true });
  await startRouter();
}

const workerArgs = `--router-url ${busUrl} --log-socket ${logSock}`;

// The contrib examples, made to run here.
function inetdConf(port) {
  const line = fs.readFileSync(path.join(ROOT, 'contrib/inetd.conf'), 'utf8').split('\n').find((l) => /^\d/.test(l));
  assert.ok(line, 'contrib/inetd.conf has a service line');
  return line.replace(/^8080 /, `127.0.0.1:${port} `).replace(' switchboard /', ' root /')
    .replace('/usr/local/bin/switchboard-worker', bin('switchboard-worker'))
    .replace(/--router-url \S+/, workerArgs) + '\n';
}

function xinetdConf(port) {
  const conf = fs.readFileSync(path.join(ROOT, 'contrib/xinetd/switchboard'), 'utf8');
  assert.match(conf, /port\s*= 8080/);
  return 'defaults\n{\n}\n' + conf.replace(/port(\s*)= 8080/, `port$1= ${port}\n\tbind = 127.0.0.1`)
    .replace(/user(\s*)= switchboard/, 'user$1= root')
    .replace('/usr/local/bin/switchboard-worker', bin('switchboard-worker'))
    .replace(/server_args(\s*)= .*/, `server_args$1= ${workerArgs}`);
}

const modes = {
  'openbsd-inetd': async (port) => {
    const conf = path.join(dir, 'inetd.conf');
    fs.writeFileSync(conf, inetdConf(port));
    const inetd = findProgram('inetd', [path.join(ROOT, 'build/deps/openbsd-inetd/usr/sbin')]);
    return start(inetd, ['-i', '-R', '100000', conf]);
  },
  xinetd: async (port) => {
    const conf = path.join(dir, 'xinetd.conf');
    fs.writeFileSync(conf, xinetdConf(port));
    return start(findProgram('xinetd', []), ['-dontfork', '-f', conf, '-pidfile', path.join(dir, 'xinetd.pid'),
      '-filelog', path.join(dir, 'xinetd.log')]);
  },
  // stderr here is the test's own pipe, not the socket: the worker keeps it
  'systemd-socket-activate --inetd': async (port) => start(findProgram('systemd-socket-activate', []),
    ['-l', `127.0.0.1:${port}`, '--inetd', '-a', bin('switchboard-worker'), ...workerArgs.split(' ')]),
};

function curl(url, extra = []) {
  return new Promise((resolve) => execFile('curl', ['-sS', '-i', '--max-time', '10', ...extra, url],
    (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout, err: stderr })));
}

async function identify(url, name) {
  const ws = await connect(url);
  ws.errors = [];
  ws.on('error', (e) => ws.errors.push(e));
  assert.equal(JSON.parse(await ws.next()).type, 'init');
  ws.sendJSON({ command: 'identify', name });
  assert.equal((await ws.nextJSON()).code, 300);
  return ws;
}

// Delivery from a to b works (after a restart, once both are registered again).
async function delivers(a, b, bName, text) {
  await until(async () => {
    a.sendJSON({ command: 'message', to: bName, message: text });
    let got = null;
    try { got = await b.nextJSON(500); } catch { got = null; }
    a.queue.length = 0;
    b.queue.length = 0;
    return got && got.message === text;
  }, 30000, `delivery of ${text}`);
}

for (const [mode, launch] of Object.entries(modes)) {
  test(`${mode}: a 404 is a clean HTTP response, a client survives a router restart, logs stay off the socket`, async () => {
    const port = await freePort();
    const server = await launch(port);
    try {
      await waitForPort(port);
      const r = await curl(`http://127.0.0.1:${port}/nope`);
      assert.equal(r.code, 0, `curl: ${r.err}\n${server.out}`);
      assert.match(r.out, /^HTTP\/1\.1 404 /, r.out);
      assert.doesNotMatch(r.out, /switchboard-worker|info:|refused/);
      // an upgrade to a path nobody serves: the refusal is logged, and the client sees only the 404
      const u = await curl(`http://127.0.0.1:${port}/nope-ws`, ['-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket',
        '-H', 'Sec-WebSocket-Version: 13', '-H', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']);
      assert.equal(u.code, 0, `curl: ${u.err}`);
      assert.match(u.out, /^HTTP\/1\.1 404 /, u.out);
      const e = await connect(`ws://127.0.0.1:${port}/nope-ws`).then(() => null, (err) => err);
      assert.equal(e && e.status, 404, String(e));
      assert.doesNotMatch(e.body, /switchboard-worker|info:/);
      const tag = `${mode.replace(/\W/g, '')}${Date.now()}`;
      const a = await identify(`ws://127.0.0.1:${port}/wschat`, `a${tag}`);
      const b = await identify(`ws://127.0.0.1:${port}/wschat`, `b${tag}`);
      let closed = null;
      for (const ws of [a, b]) ws.on('close', (code) => { closed = closed || code; });
      await delivers(a, b, `b${tag}`, 'before');
      await restartRouter();
      await delivers(a, b, `b${tag}`, 'after the restart');
      // the workers noticed the restart: their lines went to syslog, not to the clients
      const sink = mode === 'systemd-socket-activate --inetd' ? server : syslog;
      await until(() => /switchboard-worker\[\d+\]: warn: bus to .* lost/.test(sink.out), 10000, 'the line in the log');
      assert.equal(closed, null, 'a client was dropped');
      assert.deepEqual([...a.errors, ...b.errors], []);
      a.close(); b.close();
      await Promise.all([a.closed, b.closed]);
    } catch (e) {
      throw new Error(`${e.stack}\n--- ${mode}:\n${server.out.slice(-3000)}\n--- syslog:\n${syslog.out.slice(-3000)}`);
    } finally { await stop(server); }
  }, { timeout: 90000 });
}

test('under inetd the worker\'s syslog lines are parsable: connect, refusal and close with connection id, peer and path', async () => {
  const lines = syslog.out.split('\n').filter((l) => /switchboard-worker/.test(l));
  const parse = (l) => {
    const m = /^<(\d+)>switchboard-worker\[(\d+)\]: (\w+): (\w+)((?: \w+=(?:"(?:[^"\\]|\\.)*"|\S+))*)$/.exec(l);
    assert.ok(m, `not a line: ${l}`);
    const f = {};
    for (const kv of m[5].matchAll(/ (\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) f[kv[1]] = kv[2].replace(/^"|"$/g, '');
    return { pri: Number(m[1]), level: m[3], event: m[4], f };
  };
  const events = lines.filter((l) => / info: (connect|close|refused) /.test(l)).map(parse);
  const connects = events.filter((e) => e.event === 'connect');
  assert.ok(connects.length >= 4, lines.join('\n'));
  for (const e of connects) {
    assert.equal(e.pri, 3 * 8 + 6); // daemon.info
    assert.match(e.f.conn, /^[0-9a-f]{16}$/);
    assert.match(e.f.peer, /^127\.0\.0\.1:\d+$/);
    assert.equal(e.f.path, '/wschat');
    assert.ok(events.some((c) => c.event === 'close' && c.f.conn === e.f.conn && c.f.path === '/wschat' && c.f.peer === e.f.peer),
      `no close line for ${e.f.conn}`);
  }
  const refused = events.find((e) => e.event === 'refused');
  assert.ok(refused, lines.join('\n'));
  assert.equal(refused.f.status, '404');
  assert.equal(refused.f.path, '/nope');
  assert.match(refused.f.peer, /^127\.0\.0\.1:\d+$/);
  const ws404 = events.find((e) => e.event === 'refused' && e.f.path === '/nope-ws');
  assert.ok(ws404, lines.join('\n'));
  assert.equal(ws404.f.status, '404');
  assert.equal(ws404.f.reason, 'no WebSocket endpoint at this path');
});

// The inetd shape without a super-server: fds 0, 1 and 2 are the client's
// socket. A bad option in the inetd line must reach the operator (syslog)
// and never the client.
test('under inetd a worker\'s option error goes to syslog, and nothing to the client', async () => {
  const net = require('node:net');
  const listener = net.createServer();
  await new Promise((r) => listener.listen(0, '127.0.0.1', r));
  const client = net.connect(listener.address().port, '127.0.0.1');
  const got = [];
  client.on('data', (d) => got.push(d));
  const ended = new Promise((r) => client.on('close', r));
  const conn = await new Promise((r) => listener.once('connection', r));
  const w = spawn(bin('switchboard-worker'), ['--log-socket', logSock, '--no-such-option'], { stdio: [conn, conn, conn] });
  const code = await new Promise((r) => w.on('exit', r));
  conn.destroy();
  listener.close();
  await ended;
  assert.equal(code, 2);
  await until(() => /<27>switchboard-worker\[\d+\]: error: unknown option --no-such-option/.test(syslog.out), 10000,
    `the line in syslog: ${syslog.out.slice(-500)}`);
  assert.equal(Buffer.concat(got).toString(), '', 'the client got nothing');
});

run({
  before: async () => {
    await until(() => /ready/.test(syslog.out), 10000, 'the syslog socket');
    await startRouter();
  },
  after: async () => {
    for (const p of procs.reverse()) await stop(p);
    fs.rmSync(dir, { recursive: true, force: true });
  },
});
