// The worker template (worker/template.c, worker/supervisor_template.c):
// workers forked from it are separate processes with their own ids and
// randomness, sandboxed like spawned ones; a crash of one hurts nobody else;
// the template killed is restarted while every client is still served; and
// --no-worker-template spawns every worker as before.
'use strict';
const fs = require('node:fs');
const { test: htest, run, assert, until } = require('./lib/harness');
const test = (name, fn, opts = {}) => htest(name, fn, { timeout: 60000, ...opts });
const { startServer, ASAN, childPids } = require('./lib/server');
const { connect } = require('./lib/client');
const { RawSalty, nonceOf, hex, nacl, msgpack } = require('./lib/saltyraw');

function status(pid, field) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field + ':'));
  return line && line.split(/\s+/)[1];
}
const ppid = (pid) => Number(status(pid, 'PPid'));

// A client on /echo, open and echoing, with the pid of the worker it got.
async function echoClient(srv, tag) {
  const before = new Set(srv.workerPids());
  const ws = await connect(srv.url('/echo'));
  ws.send(tag);
  assert.equal(await ws.next(10000), tag);
  let pid;
  await until(() => (pid = srv.workerPids().find((p) => !before.has(p))), 10000, 'the new worker');
  return { ws, pid };
}

async function echoes(ws, tag) {
  ws.send(tag);
  assert.equal(await ws.next(10000), tag);
}

test('workers are children of the template, each its own process with its own id', async () => {
  const srv = await startServer();
  try {
    const tpl = srv.templatePid();
    assert.ok(tpl, 'a template runs');
    const a = await echoClient(srv, 'a');
    const b = await echoClient(srv, 'b');
    assert.notEqual(a.pid, b.pid);
    assert.equal(ppid(a.pid), tpl);
    assert.equal(ppid(b.pid), tpl);
    assert.ok(!srv.workerPids().includes(tpl), 'the template serves no client');
    // each logged its own connection id
    await until(() => (srv.log.match(/info: connect conn=[0-9a-f]{16}/g) || []).length >= 2, 10000, 'connect lines');
    const ids = [...srv.log.matchAll(/\[(\d+)\]: info: connect conn=([0-9a-f]{16})/g)];
    const idOf = (pid) => ids.find((m) => Number(m[1]) === pid)[2];
    assert.notEqual(idOf(a.pid), idOf(b.pid));
    a.ws.close();
    b.ws.close();
  } finally { await srv.stop(); }
});

// GLIBC_TUNABLES as a process was started with (worker/supervisor_setup.c sets it
// for its children). glibc cuts the string in place with NULs as it parses it at
// start-up, so /proc/PID/environ shows each tunable after the first as an entry
// of its own: those are joined back.
function tunables(pid) {
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const i = env.findIndex((e) => e.startsWith('GLIBC_TUNABLES='));
  if (i < 0) return null;
  const parts = [env[i].slice('GLIBC_TUNABLES='.length)];
  for (let j = i + 1; j < env.length && env[j].startsWith('glibc.'); j++) parts.push(env[j]);
  return parts.join(':');
}

test('the router, the template and its workers start without glibc rseq; an operator\'s own rseq tunable is kept', async () => {
  let srv = await startServer({ env: { GLIBC_TUNABLES: 'glibc.malloc.check=0' } });
  try {
    const a = await echoClient(srv, 'a');
    for (const [what, pid] of [['router', srv.routerPid()], ['template', srv.templatePid()], ['worker', a.pid]])
      assert.equal(tunables(pid), 'glibc.malloc.check=0:glibc.pthread.rseq=0', what);
    a.ws.close();
  } finally { await srv.stop(); }
  srv = await startServer({ env: { GLIBC_TUNABLES: 'glibc.pthread.rseq=1' } });
  try {
    assert.equal(tunables(srv.routerPid()), 'glibc.pthread.rseq=1');
    assert.equal(tunables(srv.templatePid()), 'glibc.pthread.rseq=1');
  } finally { await srv.stop(); }
});

test('forked workers draw fresh randomness: SaltyRTC cookies and session keys differ', async () => {
  const srv = await startServer();
  try {
    const key = nacl.box.keyPair().publicKey;
    const hellos = [];
    for (let i = 0; i < 3; i++) {
      const c = new RawSalty(`ws://127.0.0.1:${srv.port}`, key);
      await c.opened;
      const p = await c.packet();
      const m = msgpack.decode(p.subarray(24));
      assert.equal(m.type, 'server-hello');
      hellos.push({ cookie: hex(nonceOf(p).cookie), key: hex(m.key), csn: nonceOf(p).csn });
      c.ws.close();
    }
    assert.equal(new Set(hellos.map((h) => h.cookie)).size, 3, JSON.stringify(hellos));
    assert.equal(new Set(hellos.map((h) => h.key)).size, 3, JSON.stringify(hellos));
    assert.equal(new Set(hellos.map((h) => h.csn)).size, 3, JSON.stringify(hellos));
  } finally { await srv.stop(); }
});

if (!ASAN) { // ASan builds run workers without the filter
  test('a forked worker is sandboxed: seccomp filter, no new privileges, no new process', async () => {
    const srv = await startServer();
    try {
      const a = await echoClient(srv, 'sandboxed');
      assert.equal(ppid(a.pid), srv.templatePid());
      assert.equal(status(a.pid, 'Seccomp'), '2');
      assert.equal(status(a.pid, 'NoNewPrivs'), '1');
      const nproc = fs.readFileSync(`/proc/${a.pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max processes'));
      assert.deepEqual(nproc.slice(26).trim().split(/\s+/).slice(0, 2), ['0', '0']);
      // the template loaded its filter once, before forking (worker/sandbox_layers.c);
      // the upgraded worker inherited it and loaded none of its own
      assert.equal(status(srv.templatePid(), 'Seccomp'), '2');
      assert.equal(status(srv.templatePid(), 'Seccomp_filters'), '1');
      assert.equal(status(a.pid, 'Seccomp_filters'), '1');
      // a few descriptors, hard limit too: the filter lets it make epolls
      const nofile = fs.readFileSync(`/proc/${a.pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
      assert.deepEqual(nofile.slice(26).trim().split(/\s+/).slice(0, 2), ['64', '64']);
      // the template forks on: it is not held to RLIMIT_NPROC
      await echoes((await echoClient(srv, 'next')).ws, 'again');
      a.ws.close();
    } finally { await srv.stop(); }
  });

  test('--no-sandbox: neither the template nor its workers load a filter', async () => {
    const srv = await startServer({ args: ['--no-sandbox'] });
    try {
      const a = await echoClient(srv, 'free');
      assert.equal(ppid(a.pid), srv.templatePid());
      assert.equal(status(srv.templatePid(), 'Seccomp'), '0');
      assert.equal(status(a.pid, 'Seccomp'), '0');
      a.ws.close();
    } finally { await srv.stop(); }
  });
}

test('a worker that crashes hurts neither the template nor the other clients', async () => {
  const srv = await startServer();
  try {
    const tpl = srv.templatePid();
    const a = await echoClient(srv, 'a');
    const b = await echoClient(srv, 'b');
    // (ASan catches SIGSEGV and exits instead: there a SIGKILL stands for the crash)
    const [sig, nr] = ASAN ? ['SIGKILL', 9] : ['SIGSEGV', 11];
    process.kill(a.pid, sig);
    await until(() => srv.log.includes(`worker ${a.pid} killed by signal ${nr}`), 10000, 'the crash to be logged');
    await echoes(b.ws, 'b still');
    assert.equal(srv.templatePid(), tpl, 'the same template');
    const c = await echoClient(srv, 'c');
    assert.equal(ppid(c.pid), tpl);
    b.ws.close();
    c.ws.close();
    await until(() => srv.workerPids().length === 0, 15000, 'every worker gone');
  } finally { await srv.stop(); }
});

test('the template killed: its clients go on, new ones are served, it is restarted', async () => {
  const srv = await startServer();
  try {
    const tpl = srv.templatePid();
    const a = await echoClient(srv, 'a');
    process.kill(tpl, 'SIGKILL');
    await until(() => srv.log.includes('worker template exited (signal 9'), 10000, 'the supervisor to notice');
    // a's worker is an orphan now, reparented to the supervisor, and serves on
    await echoes(a.ws, 'a after');
    await until(() => ppid(a.pid) === srv.proc.pid, 10000, 'a\'s worker to be the supervisor\'s');
    // new clients are served, by spawned workers or the new template's
    const b = await echoClient(srv, 'b');
    let tpl2;
    await until(() => (tpl2 = srv.templatePid()) && tpl2 !== tpl, 15000, 'a new template');
    const c = await echoClient(srv, 'c');
    assert.equal(ppid(c.pid), tpl2);
    // the orphan's end is still counted and reaped
    a.ws.close();
    await until(() => !srv.workerPids().includes(a.pid), 10000, 'a\'s worker to exit');
    b.ws.close();
    c.ws.close();
    await until(() => srv.workerPids().length === 0, 15000, 'every worker gone');
    assert.ok(!/worker template exited.*status/.test(srv.log));
  } finally { await srv.stop(); }
});

test('a burst of new connections waits for the template instead of being spawned', async () => {
  const srv = await startServer();
  try {
    const tpl = srv.templatePid();
    // the template held still for a moment while they come: more requests
    // than its socket's buffer holds (and than the 256 once kept in flight)
    const n = 300;
    process.kill(tpl, 'SIGSTOP');
    const opening = Array.from({ length: n }, () => connect(srv.url('/echo')));
    await new Promise((r) => setTimeout(r, 500));
    process.kill(tpl, 'SIGCONT');
    const clients = await Promise.all(opening);
    await Promise.all(clients.map((ws, i) => echoes(ws, `burst ${i}`)));
    let pids;
    await until(() => (pids = srv.workerPids()).length === n, 15000, 'every worker');
    assert.deepEqual(pids.filter((p) => ppid(p) !== tpl), [], 'workers the supervisor spawned');
    for (const ws of clients) ws.close();
    await until(() => srv.workerPids().length === 0, 30000, 'every worker gone');
  } finally { await srv.stop(); }
}, { timeout: 90000 });

test('a template that stops answering: new clients are spawned a second later; the one it holds is served when it goes on', async () => {
  const srv = await startServer();
  try {
    const tpl = srv.templatePid();
    process.kill(tpl, 'SIGSTOP');
    const held = connect(srv.url('/echo')); // sent to the stopped template: it waits
    await new Promise((r) => setTimeout(r, 2500)); // past TEMPLATE_STALL_MS (1 s), with room for a busy machine
    const b = await echoClient(srv, 'spawned');
    assert.equal(ppid(b.pid), srv.proc.pid, 'spawned by the supervisor');
    process.kill(tpl, 'SIGCONT');
    const a = await held;
    await echoes(a, 'held');
    a.close();
    b.ws.close();
    await until(() => srv.workerPids().length === 0, 15000, 'every worker gone');
  } finally {
    try { process.kill(srv.templatePid(), 'SIGCONT'); } catch { /* gone */ }
    await srv.stop();
  }
});

test('--no-worker-template: every worker is spawned by the supervisor', async () => {
  const srv = await startServer({ args: ['--no-worker-template'] });
  try {
    assert.equal(srv.templatePid(), null);
    const a = await echoClient(srv, 'a');
    assert.equal(ppid(a.pid), srv.proc.pid);
    assert.ok(childPids(srv.proc.pid).includes(a.pid));
    a.ws.close();
  } finally { await srv.stop(); }
});

test('--max-connections counts forked workers: the next client gets 503', async () => {
  const srv = await startServer({ args: ['--max-connections', '2'] });
  try {
    const a = await echoClient(srv, 'a');
    const b = await echoClient(srv, 'b');
    const net = require('node:net');
    const reply = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /echo HTTP/1.1\r\nHost: x\r\n\r\n'));
      let d = '';
      s.on('data', (x) => { d += x; });
      s.on('close', () => resolve(d));
      s.on('error', () => resolve(d));
    });
    assert.match(reply, /^HTTP\/1.1 503/);
    a.ws.close();
    b.ws.close();
    await until(() => srv.workerPids().length === 0, 15000, 'every worker gone');
    const c = await echoClient(srv, 'c');
    c.ws.close();
  } finally { await srv.stop(); }
});

run();
