// Privilege separation, end to end: who the router and the workers run as,
// who may open the bus and the tap, and what a process running as the
// workers' user can reach. Real processes; the checks as another user run a
// real node process under that uid. The seccomp sandbox itself: a worker
// made to call a forbidden system call (injected with ptrace, as an exploit
// would make it) dies alone, and --sandbox-log logs the call instead.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');
const { test, run, assert, until } = require('./lib/harness');
const { startServer, bin, ASAN } = require('./lib/server');
const { connect } = require('./lib/client');

const ROOT = process.getuid() === 0;
const idOf = (flag, name) => Number(execFileSync('id', [flag, name]).toString());

function status(pid) { return fs.readFileSync(`/proc/${pid}/status`, 'utf8'); }
// real, effective, saved and filesystem ids, all four
function ids(pid, field) { return /^\S+:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status(pid).split('\n').find((l) => l.startsWith(`${field}:`))).slice(1).map(Number); }
function groups(pid) { return (/^Groups:[ \t]*(.*)$/m.exec(status(pid))[1] || '').trim().split(/\s+/).filter(Boolean).map(Number); }

// Runs a node snippet as exactly the identity of process pid (uid, gid and
// supplementary groups, through util-linux's setpriv) and returns its output.
function runAs(pid, code, arg) {
  const g = groups(pid);
  const r = spawnSync('setpriv', [`--reuid=${ids(pid, 'Uid')[0]}`, `--regid=${ids(pid, 'Gid')[0]}`,
    g.length ? `--groups=${g.join(',')}` : '--clear-groups', process.execPath, '-e', code, arg],
  { encoding: 'utf8', timeout: 10000 });
  return (r.stdout || '').trim() || `failed: ${r.stderr}`;
}

// What a process with pid's identity gets when it connects to a unix socket.
function connectAs(pid, file) {
  return runAs(pid, "const c = require('net').connect(process.argv[1]);" +
    "c.on('connect', () => { console.log('connected'); c.destroy(); });" +
    "c.on('error', (e) => console.log(e.code));", file);
}

function readAs(pid, file) {
  return runAs(pid, "try { require('fs').readFileSync(process.argv[1]); console.log('read'); }" +
    "catch (e) { console.log(e.code); }", file);
}

function mode(file) { return fs.statSync(file).mode & 0o777; }

// A client on /wschat, so that a worker is alive to inspect.
async function live(server, name = `u${Date.now()}${Math.random()}`) {
  const ws = await connect(server.url('/wschat'));
  await ws.next();
  ws.sendJSON({ command: 'identify', name });
  assert.equal((await ws.nextJSON()).code, 300);
  return ws;
}

// Binaries any user may run, wherever the checkout lives.
function binCopies() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bin-'));
  fs.chmodSync(dir, 0o755);
  for (const p of ['switchboard', 'switchboard-worker', 'switchboard-router']) {
    fs.copyFileSync(bin(p), path.join(dir, p));
    fs.chmodSync(path.join(dir, p), 0o755);
  }
  return dir;
}

if (ROOT) {
  const nobody = idOf('-u', 'nobody'), nogroup = idOf('-g', 'nobody');
  const daemon = idOf('-u', 'daemon'), daemonGroup = idOf('-g', 'daemon');

  test('started as root: workers run as nobody, never root; the router as root', async () => {
    const s = await startServer();
    try {
      const ws = await live(s);
      const workers = s.workerPids();
      assert.equal(workers.length, 1);
      assert.deepEqual(ids(workers[0], 'Uid'), [nobody, nobody, nobody, nobody]);
      assert.deepEqual(ids(workers[0], 'Gid'), [nogroup, nogroup, nogroup, nogroup]);
      assert.deepEqual(groups(workers[0]), []);
      assert.equal(ids(s.routerPid(), 'Uid')[0], 0);
      ws.close();
    } finally { await s.stop(); }
  });

  test('started as root: bus.ipc is 0660 for the router\'s group, the tap 0600, the store 0600', async () => {
    const s = await startServer();
    try {
      const bus = path.join(s.stateDir, 'bus.ipc'), tap = path.join(s.stateDir, 'tap.ipc');
      assert.equal(mode(bus), 0o660);
      assert.equal(fs.statSync(bus).uid, 0);
      assert.equal(fs.statSync(bus).gid, 0);
      assert.equal(mode(tap), 0o600);
      assert.equal(fs.statSync(tap).uid, 0);
      assert.equal(mode(path.join(s.stateDir, 'store.db')), 0o600);
      assert.equal(mode(s.stateDir), 0o750);
    } finally { await s.stop(); }
  });

  test('a process with a worker\'s uid and groups cannot connect to the tap or the bus, nor read the store', async () => {
    const s = await startServer();
    try {
      const ws = await live(s);
      const [worker] = s.workerPids();
      assert.equal(connectAs(s.routerPid(), path.join(s.stateDir, 'tap.ipc')), 'connected'); // the probe works
      assert.equal(connectAs(worker, path.join(s.stateDir, 'tap.ipc')), 'EACCES');
      assert.equal(connectAs(worker, path.join(s.stateDir, 'bus.ipc')), 'EACCES');
      assert.equal(readAs(worker, path.join(s.stateDir, 'store.db')), 'EACCES');
      ws.close();
    } finally { await s.stop(); }
  });

  test('--user daemon: the router as daemon, workers as nobody; sockets follow; a router restart', async () => {
    const dir = binCopies();
    const s = await startServer({ binDir: dir, args: ['--user', 'daemon'] });
    try {
      const a = await live(s), bName = `b${Date.now()}`, b = await live(s, bName);
      assert.equal(ids(s.routerPid(), 'Uid')[0], daemon);
      for (const pid of s.workerPids()) {
        assert.deepEqual(ids(pid, 'Uid'), [nobody, nobody, nobody, nobody]);
        assert.deepEqual(groups(pid), []);
      }
      const bus = path.join(s.stateDir, 'bus.ipc'), tap = path.join(s.stateDir, 'tap.ipc');
      assert.deepEqual([fs.statSync(bus).uid, fs.statSync(bus).gid, mode(bus)], [daemon, daemonGroup, 0o660]);
      assert.deepEqual([fs.statSync(tap).uid, mode(tap)], [daemon, 0o600]);
      assert.equal(connectAs(s.workerPids()[0], tap), 'EACCES');
      assert.equal(connectAs(s.workerPids()[0], bus), 'EACCES');
      // the router comes back as daemon; the supervisor dials it again for the workers
      const old = s.routerPid();
      process.kill(old, 'SIGKILL');
      await until(() => s.routerPid() && s.routerPid() !== old, 15000);
      assert.equal(ids(s.routerPid(), 'Uid')[0], daemon);
      // names come back by re-registration: poll until delivery works
      await until(async () => {
        a.sendJSON({ command: 'message', to: bName, message: 'after restart' });
        let got = null;
        try { got = await b.nextJSON(500); } catch { got = null; }
        while (a.queue.length) a.queue.shift();
        return got && got.message === 'after restart';
      }, 20000, 'delivery after restart');
      a.close(); b.close();
    } finally {
      await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, { timeout: 60000 });

  test('a workers\' user that is root or the router\'s user is refused at start', async () => {
    for (const args of [['--worker-user', 'root'], ['--user', 'nobody', '--worker-user', 'nobody']]) {
      const r = spawnSync(bin('switchboard'), ['--listen', '127.0.0.1:0', '--state-dir',
        fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-')), ...args], { encoding: 'utf8', timeout: 10000 });
      assert.equal(r.status, 1, `${args}: ${r.stderr}`);
      assert.match(r.stderr, /root|router's/);
    }
  });
} else {
  test('started as another user: the workers keep that uid', async () => {
    const s = await startServer();
    try {
      const ws = await live(s);
      for (const pid of s.workerPids()) assert.equal(ids(pid, 'Uid')[0], process.getuid());
      assert.equal(mode(path.join(s.stateDir, 'tap.ipc')), 0o600);
      ws.close();
    } finally { await s.stop(); }
  });
}

// getppid: a call the worker's filter does not allow.
const GETPPID = { x64: 110 }[process.arch]; // the injector is x86_64 only
// more calls outside a forked worker's filter (worker/sandbox_layers.c):
// openat2 is in it only with a directory of files (--static-dir)
const NR = { socket: 41, execve: 59, open: 2, openat2: 437 };
// Makes worker pid run system call nr, as an exploit in it would
// (tests/e2e/lib/inject_syscall.c, built here on first use); its output
// says "result N" or "killed by signal N".
let injector = null;
function injectSyscall(pid, nr) {
  if (!injector) {
    injector = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-inject-')), 'inject_syscall');
    execFileSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', '-o', injector, path.join(__dirname, 'lib', 'inject_syscall.c')]);
  }
  return new Promise((resolve) => require('node:child_process').execFile(injector, [String(pid), String(nr)],
    { timeout: 30000 }, (err, stdout, stderr) => resolve(`${stdout}${stderr}`)));
}

function limit(pid, name) {
  const line = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith(name));
  return line.slice(26).trim().split(/\s+/).slice(0, 2);
}

// The worker a new client gets: the one that was not there before it.
async function liveWithPid(server, name) {
  const before = new Set(server.workerPids());
  const ws = await live(server, name);
  const pid = server.workerPids().find((p) => !before.has(p));
  assert.ok(pid, 'the new worker');
  return { ws, pid };
}

if (!ASAN && GETPPID) { // ASan builds run workers without the filter
  test('sandboxed workers have RLIMIT_NPROC and RLIMIT_FSIZE 0', async () => {
    const s = await startServer();
    try {
      const { ws, pid } = await liveWithPid(s, `lim${Date.now()}`);
      assert.deepEqual(limit(pid, 'Max processes'), ['0', '0']);
      assert.deepEqual(limit(pid, 'Max file size'), ['0', '0']);
      ws.close();
    } finally { await s.stop(); }
  });

  test('a forbidden system call kills its worker with SIGSYS; the other clients do not notice', async () => {
    const s = await startServer();
    try {
      const t = Date.now();
      const a = await live(s, `a${t}`), b = await live(s, `b${t}`);
      const { ws: victim, pid } = await liveWithPid(s, `v${t}`);
      let othersClosed = null;
      for (const ws of [a, b]) ws.on('close', (code) => { othersClosed = othersClosed || code; });
      const out = await injectSyscall(pid, GETPPID);
      assert.equal((await victim.closed).code, 1006, out);
      await until(() => new RegExp(`worker ${pid} killed by signal 31`).test(s.log), 10000, 'the supervisor\'s line');
      // the others: still connected, still served; they are told the victim left
      a.sendJSON({ command: 'message', to: `b${t}`, message: 'still here' });
      for (let m = await b.nextJSON(); m.message !== 'still here'; m = await b.nextJSON());
      assert.equal(othersClosed, null);
      assert.ok(s.workerPids().length >= 2);
      a.close(); b.close();
    } finally { await s.stop(); }
  }, { timeout: 60000 });

  // A forked worker loads no filter at its upgrade: the template's is its only
  // one, and what it refuses stays refused after the upgrade.
  test('a forked, upgraded worker has one filter, the template\'s; socket, execve, open, openat2 kill it', async () => {
    const s = await startServer();
    try {
      const other = await live(s, `o${Date.now()}`);
      for (const [name, nr] of Object.entries(NR)) {
        const { ws, pid } = await liveWithPid(s, `${name}${Date.now()}`);
        assert.equal(Number(/^PPid:\s+(\d+)/m.exec(status(pid))[1]), s.templatePid(), 'forked by the template');
        assert.match(status(pid), /^Seccomp_filters:\s+1$/m);
        const out = await injectSyscall(pid, nr);
        assert.match(out, /^killed by signal 31$/m, `${name}: ${out}`);
        assert.equal((await ws.closed).code, 1006, name);
      }
      other.sendJSON({ command: 'message', to: 'nobody', message: 'still served' });
      for (let m = await other.nextJSON(); m.code !== 404; m = await other.nextJSON()); // the router's answer
      other.close();
    } finally { await s.stop(); }
  }, { timeout: 60000 });

  test('--static-dir: the files serve from forked workers, and openat2 is allowed in one (not open)', async () => {
    const www = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-www-'));
    fs.chmodSync(www, 0o755); // the workers' user reads it
    fs.writeFileSync(path.join(www, 'hello.txt'), 'hello from the files\n', { mode: 0o644 });
    const s = await startServer({ args: ['--static-dir', www] });
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/hello.txt`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'hello from the files\n');
      const { ws, pid } = await liveWithPid(s, `f${Date.now()}`);
      assert.equal(Number(/^PPid:\s+(\d+)/m.exec(status(pid))[1]), s.templatePid(), 'forked by the template');
      assert.match(status(pid), /^Seccomp_filters:\s+1$/m);
      const out = await injectSyscall(pid, NR.openat2); // epoll_wait's arguments: it fails, it does not kill
      assert.match(out, /^result -\d+$/m, out);
      ws.sendJSON({ command: 'message', to: 'nobody', message: 'alive' });
      for (let m = await ws.nextJSON(); m.code !== 404; m = await ws.nextJSON()); // the worker serves on
      const killedBy = await injectSyscall(pid, NR.open);
      assert.match(killedBy, /^killed by signal 31$/m, killedBy);
      const again = await fetch(`http://127.0.0.1:${s.port}/hello.txt`);
      assert.equal(await again.text(), 'hello from the files\n');
    } finally { await s.stop(); fs.rmSync(www, { recursive: true, force: true }); }
  }, { timeout: 60000 });

  test('--sandbox-log: the forbidden call is logged by name and fails with ENOSYS; the worker serves on', async () => {
    const s = await startServer({ args: ['--sandbox-log'] });
    try {
      const t = Date.now();
      const a = await live(s, `a${t}`);
      const { ws: v, pid } = await liveWithPid(s, `v${t}`);
      const out = await injectSyscall(pid, GETPPID);
      assert.match(out, /^result -38$/m, out); // -ENOSYS, as the line says
      await until(() => /warn: sandbox: system call getppid \(\d+\) is not allowed: it fails with ENOSYS/.test(s.log),
        10000, 'the log line');
      assert.ok(s.workerPids().includes(pid));
      v.sendJSON({ command: 'message', to: `a${t}`, message: 'alive' });
      for (let m = await a.nextJSON(); m.message !== 'alive'; m = await a.nextJSON());
      a.close(); v.close();
    } finally { await s.stop(); }
  }, { timeout: 60000 });
}

run();
