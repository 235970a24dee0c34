// Deploying (README "Deploying"): make install into a DESTDIR and what it
// installs (man pages that render cleanly, sysusers.d and tmpfiles.d entries
// that systemd's own tools apply), make uninstall; the systemd units as
// installed pass systemd-analyze verify and score within the hardening
// budget; systemd-socket-activate in both modes (Accept=no: the supervisor
// takes LISTEN_FDS; Accept=yes: one worker per connection, the router on
// its own) carries WebSocket clients through a router restart; readiness
// reaches a NOTIFY_SOCKET of the test's own.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { test, run, assert, until } = require('./lib/harness');
const { bin, BUILD, ROOT, freePort, waitForPort } = require('./lib/server');
const { started, notifySocket, chatPair, delivers, pidsOf, skip } = require('./lib/deploy');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-deploy-'));
fs.chmodSync(tmp, 0o755); // for the users the servers drop to
const PLAIN = BUILD === path.join(ROOT, 'build');
const PROGS = ['switchboard', 'switchboard-worker', 'switchboard-router'];
const UNITS = fs.readdirSync(path.join(ROOT, 'contrib/systemd')).sort();

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000, ...opts });
  return { code: r.status, out: String(r.stdout || ''), err: String(r.stderr || '') };
}

function make(...args) {
  // not the jobserver or variables of a make that runs this suite (make test)
  const env = { ...process.env };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete env[k];
  const r = sh('make', ['-s', '-C', ROOT, ...args], { env });
  assert.equal(r.code, 0, `make ${args.join(' ')}: ${r.out}${r.err}`);
  return r;
}

function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f); else out.push(path.relative(dir, f));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.sort();
}

// ---- make install / uninstall ----

const dest = path.join(tmp, 'dest');
const installTests = PLAIN ? test : (name) => skip(name, 'installs the plain build (make install); not an ASan matter');

installTests('make install DESTDIR=... installs the programs, man pages, units, sysusers.d, tmpfiles.d and examples', () => {
  make('install', `DESTDIR=${dest}`);
  const got = files(dest);
  const want = [
    ...PROGS.map((p) => `usr/local/bin/${p}`),
    ...(fs.existsSync(bin('switchboard-salty')) ? ['usr/local/bin/switchboard-salty'] : []),
    ...fs.readdirSync(path.join(ROOT, 'man')).map((m) => `usr/local/share/man/man1/${m.replace(/\.in$/, '')}`),
    ...UNITS.map((u) => `usr/local/lib/systemd/system/${u}`),
    'usr/local/lib/sysusers.d/switchboard.conf', 'usr/local/lib/tmpfiles.d/switchboard.conf',
    'usr/local/share/doc/switchboard/switchboard.conf', 'usr/local/share/doc/switchboard/inetd.conf',
    ...files(path.join(ROOT, 'contrib/s6')).map((f) => `usr/local/share/doc/switchboard/s6/${f}`),
  ].sort();
  assert.deepEqual(got, want);
  for (const p of PROGS) {
    const st = fs.statSync(path.join(dest, 'usr/local/bin', p));
    assert.equal(st.mode & 0o777, 0o755, `${p} is 0755`);
    assert.equal(sh(path.join(dest, 'usr/local/bin', p), ['--version']).code, 0, `${p} runs from the install`);
  }
  const unit = fs.readFileSync(path.join(dest, 'usr/local/lib/systemd/system/switchboard.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/local\/bin\/switchboard /m, 'DESTDIR is not in the installed paths');
  // the s6 run scripts stay executable
  for (const f of files(path.join(dest, 'usr/local/share/doc/switchboard/s6')).filter((f) => /(^|\/)(run|finish)$/.test(f)))
    assert.ok(fs.statSync(path.join(dest, 'usr/local/share/doc/switchboard/s6', f)).mode & 0o100, `${f} executable`);
});

installTests('the sysusers.d and tmpfiles.d entries make the users and the state directory (systemd-sysusers, systemd-tmpfiles --root)', () => {
  const root = path.join(tmp, 'root');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  let r = sh('systemd-sysusers', [`--root=${root}`, path.join(dest, 'usr/local/lib/sysusers.d/switchboard.conf')]);
  assert.equal(r.code, 0, r.err);
  const passwd = fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8');
  const uid = Number(/^switchboard:x:(\d+):/m.exec(passwd)[1]);
  assert.match(passwd, /^switchboard-worker:x:\d+:/m);
  r = sh('systemd-tmpfiles', [`--root=${root}`, '--create', path.join(dest, 'usr/local/lib/tmpfiles.d/switchboard.conf')]);
  assert.equal(r.code, 0, r.err);
  const st = fs.statSync(path.join(root, 'var/lib/switchboard'));
  assert.equal(st.uid, uid, 'the state dir is the router user\'s');
  assert.equal(st.mode & 0o777, 0o750);
});

installTests('each man page renders with man -l without a warning, and lists every option of its program', () => {
  for (const m of fs.readdirSync(path.join(dest, 'usr/local/share/man/man1'))) {
    const page = path.join(dest, 'usr/local/share/man/man1', m);
    const r = sh('man', ['--warnings', '-l', page], { env: { ...process.env, MANWIDTH: '100', LC_ALL: 'C.UTF-8' } });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '', `${m}: warnings`);
    assert.match(r.out, /^NAME$/m);
    const prog = m.replace(/\.1$/, '');
    if (!PROGS.includes(prog)) continue;
    assert.match(r.out, /^OPTIONS$/m, `${m} has its options`);
    // every option --help shows as this program's (unmarked) is in its page
    const help = sh(bin(prog), ['--help']).out;
    const own = help.split('\n').filter((l) => /^  --/.test(l) && !/\]$/.test(l)).map((l) => l.trim().split(/[ ,]/)[0]);
    assert.ok(own.length > 5, `${prog} --help lists options`);
    for (const o of own) assert.ok(r.out.includes(o), `${m} documents ${o}`);
  }
});

installTests('make uninstall DESTDIR=... leaves no file behind', () => {
  make('uninstall', `DESTDIR=${dest}`);
  assert.deepEqual(files(dest), []);
});

// ---- the units as installed ----

const prefix = path.join(tmp, 'prefix');

installTests('systemd-analyze verify passes every unit as installed (PREFIX=..., binaries and man pages there)', () => {
  make('install', `PREFIX=${prefix}`);
  const dir = path.join(prefix, 'lib/systemd/system');
  const env = { ...process.env, MANPATH: path.join(prefix, 'share/man') };
  const r = sh('systemd-analyze', ['verify', ...UNITS.map((u) => path.join(dir, u))], { cwd: dir, env });
  assert.equal(r.code, 0, r.out + r.err);
  assert.equal(r.err.trim(), '', r.err);
  const unit = fs.readFileSync(path.join(dir, 'switchboard.service'), 'utf8');
  assert.ok(unit.includes(`ExecStart=${prefix}/bin/switchboard `), 'units name the installed binaries');
  // and a unit whose binary is missing does not pass: the check is real
  fs.writeFileSync(path.join(tmp, 'broken.service'), unit.replace(`${prefix}/bin/switchboard `, '/nonexistent/switchboard '));
  assert.notEqual(sh('systemd-analyze', ['verify', '--man=no', path.join(tmp, 'broken.service')]).code, 0);
});

const BUDGET = { 'switchboard-worker@.service': 4.0, 'switchboard.service': 5.0, 'switchboard-router.service': 5.0 };
installTests('systemd-analyze security --offline=yes: worker unit <= 4.0, supervisor and router <= 5.0', () => {
  const dir = path.join(prefix, 'lib/systemd/system');
  const scores = {};
  for (const [u, max] of Object.entries(BUDGET)) {
    const r = sh('systemd-analyze', ['security', '--offline=yes', path.join(dir, u)], { cwd: dir });
    const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.out + r.err);
    assert.ok(m, `${u}: ${r.out}${r.err}`);
    scores[u] = Number(m[1]);
    assert.ok(scores[u] <= max, `${u} exposure ${scores[u]} > ${max}`);
  }
  console.log(`# exposure: ${JSON.stringify(scores)}`);
  for (const u of ['switchboard.service', 'switchboard-router.service']) {
    const text = fs.readFileSync(path.join(dir, u), 'utf8');
    assert.match(text, /^LimitNOFILE=65536$/m, `${u} raises LimitNOFILE`);
  }
  const sock = fs.readFileSync(path.join(dir, 'switchboard-worker.socket'), 'utf8');
  assert.match(sock, /^MaxConnections=10000$/m);
  assert.match(sock, /^TriggerLimitBurst=10000$/m);
  assert.match(fs.readFileSync(path.join(dir, 'switchboard.service'), 'utf8'), /^TasksMax=16384$/m);
});

// The supervisor unit's CapabilityBoundingSet is all it needs: run it with
// only those (setpriv), as root, with the router as another user.
const capTest = process.getuid() === 0 ? test : (name) => skip(name, 'needs root');
capTest('switchboard serves and stops with only the capabilities its unit leaves it (setpriv --bounding-set)', async () => {
  const unit = fs.readFileSync(path.join(ROOT, 'contrib/systemd/switchboard.service'), 'utf8');
  const caps = /^CapabilityBoundingSet=(.*)$/m.exec(unit)[1].trim().split(/\s+/)
    .map((c) => '+' + c.replace(/^CAP_/, '').toLowerCase());
  const port = await freePort();
  const base = fs.mkdtempSync(path.join(tmp, 'caps-'));
  fs.chmodSync(base, 0o755);
  const state = path.join(base, 'state');
  const sup = started('setpriv', ['--bounding-set', ['-all', ...caps].join(','), '--inh-caps=-all', '--no-new-privs',
    bin('switchboard'), '--listen', `127.0.0.1:${port}`, '--state-dir', state, '--user', 'daemon', '--max-per-ip', '0']);
  try {
    await until(() => /router ready/.test(sup.log), 20000, 'the router');
    const [a, b] = await chatPair(`ws://127.0.0.1:${port}/wschat`, 'caps');
    await delivers(a, b, 'caps', 'with the unit\'s capabilities');
    assert.equal(fs.statSync(state).uid, 1, 'the state dir is the router user\'s (CAP_CHOWN)');
    assert.equal(fs.statSync(state).mode & 0o777, 0o750, 'and 0750 (CAP_FOWNER)');
    assert.doesNotMatch(sup.log, /error|not permitted|denied/i, 'nothing refused');
    // SIGTERM: the workers (another uid: CAP_KILL) close their clients with 1001
    const t0 = Date.now();
    sup.kill('SIGTERM');
    assert.equal((await a.closed).code, 1001);
    assert.ok(Date.now() - t0 < 5000, 'closed at once, not at the stop deadline');
    assert.equal((await sup.exited).code, 0);
  } catch (e) {
    throw new Error(`${e.stack}\n${sup.log.slice(-3000)}`);
  } finally {
    await sup.stop();
    // a supervisor that could not stop them leaves its children: not ours to keep
    for (const c of ['switchboard-rou', 'switchboard-wor'])
      for (const p of pidsOf(c, base)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
}, { timeout: 60000 });

// ---- systemd-socket-activate ----

async function routerRestartKeepsClients(url, tag, restart) {
  const [a, b] = await chatPair(url, tag);
  await delivers(a, b, tag, 'before');
  await restart();
  await delivers(a, b, tag, 'after the router restart');
  a.close();
  b.close();
}

test('systemd-socket-activate, Accept=no: the supervisor takes LISTEN_FDS, says so, is ready, and clients survive a router restart', async () => {
  const port = await freePort();
  const state = fs.mkdtempSync(path.join(tmp, 'state-'));
  const notify = await notifySocket(path.join(tmp, 'notify-no'));
  // its program gets only the environment -E names
  const ssa = started('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, '-E', `NOTIFY_SOCKET=${path.join(tmp, 'notify-no')}`,
    ...(process.env.ASAN_OPTIONS ? ['-E', `ASAN_OPTIONS=${process.env.ASAN_OPTIONS}`] : []),
    bin('switchboard'), '--state-dir', state, '--max-per-ip', '0', '--listen', '127.0.0.1:1']);
  try {
    // systemd-socket-activate starts its program on the first connection
    await waitForPort(port);
    await until(() => notify.datagrams().some((d) => d.includes('READY=1')), 20000, 'READY=1 from the supervisor');
    assert.match(ssa.log, new RegExp(`listening on 127\\.0\\.0\\.1:${port} \\(socket from systemd, LISTEN_FDS\\)`));
    assert.match(ssa.log, /--listen ignored: took 1 sockets from LISTEN_FDS/);
    await until(() => /tap on ipc:\/\//.test(ssa.log), 15000, 'the router to log its tap');
    const url = `ws://127.0.0.1:${port}/wschat`;
    await routerRestartKeepsClients(url, 'sa-no', async () => {
      const [old] = pidsOf('switchboard-rou', state);
      process.kill(old, 'SIGKILL');
      await until(() => { const p = pidsOf('switchboard-rou', state); return p.length && p[0] !== old; }, 15000, 'router restart');
    });
  } catch (e) {
    throw new Error(`${e.stack}\n${ssa.log.slice(-4000)}`);
  } finally {
    await ssa.stop();
    await notify.stop('SIGKILL');
  }
}, { timeout: 60000 });

test('systemd-socket-activate --inetd (Accept=yes): a worker per connection, the router alone and ready, clients survive its restart', async () => {
  const port = await freePort();
  const state = fs.mkdtempSync(path.join(tmp, 'state-'));
  const nfile = path.join(tmp, 'notify-yes');
  const notify = await notifySocket(nfile);
  const routerArgs = ['--state-dir', state];
  let router = started(bin('switchboard-router'), routerArgs, { env: { ...process.env, NOTIFY_SOCKET: nfile } });
  const ssa = started('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, '--inetd', '-a',
    ...(process.env.ASAN_OPTIONS ? ['-E', `ASAN_OPTIONS=${process.env.ASAN_OPTIONS}`] : []), bin('switchboard-worker'),
    '--router-url', `ipc://${state}/bus.ipc`]);
  try {
    await until(() => notify.datagrams().some((d) => d.includes('READY=1')), 20000, 'READY=1 from the router');
    assert.match(router.log, new RegExp(`bus listening on ipc://${state}/bus\\.ipc`));
    assert.match(router.log, new RegExp(`tap on ipc://${state}/tap\\.ipc`));
    assert.ok(fs.existsSync(path.join(state, 'bus.ipc')), 'the router listens when it says it is ready');
    await waitForPort(port);
    await routerRestartKeepsClients(`ws://127.0.0.1:${port}/wschat`, 'sa-yes', async () => {
      await router.stop();
      router = started(bin('switchboard-router'), routerArgs);
      await until(() => /bus listening/.test(router.log), 15000, 'the router back');
    });
  } catch (e) {
    throw new Error(`${e.stack}\nROUTER:\n${router.log.slice(-3000)}\nSSA:\n${ssa.log.slice(-3000)}`);
  } finally {
    await ssa.stop();
    await router.stop();
    await notify.stop('SIGKILL');
  }
}, { timeout: 60000 });

test('readiness: READY=1 only once the supervisor serves; --ready-fd gets one newline and is not inherited', async () => {
  const port = await freePort();
  const state = fs.mkdtempSync(path.join(tmp, 'state-'));
  const nfile = path.join(tmp, 'notify-ready');
  const notify = await notifySocket(nfile);
  // fd 3 is a pipe to us: the supervisor writes "\n" and closes it
  const sup = started(bin('switchboard'), ['--listen', `127.0.0.1:${port}`, '--state-dir', state, '--ready-fd', '3'],
    { env: { ...process.env, NOTIFY_SOCKET: nfile }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let ready = '';
  sup.stdio[3].on('data', (d) => { ready += d; });
  const closed = new Promise((r) => sup.stdio[3].on('end', r));
  try {
    // the pipe ends only when no process holds it: had the router (started
    // before the supervisor is ready) inherited fd 3, this would not return
    await closed;
    assert.equal(ready, '\n', 'one newline on --ready-fd, then closed');
    await until(() => notify.datagrams().length > 0, 10000, 'READY=1');
    assert.deepEqual(notify.datagrams(), ["'READY=1\\n'"]);
    // by then it accepts, and its router listens
    assert.ok(fs.existsSync(path.join(state, 'bus.ipc')), 'the router\'s bus is up when the supervisor is ready');
    assert.match(sup.log, /router ready \(pid \d+\)[^]*ready: told NOTIFY_SOCKET/);
    await waitForPort(port, '127.0.0.1', 2000);
    const [router] = pidsOf('switchboard-rou', state);
    assert.ok(router, 'the router runs');
    const env = fs.readFileSync(`/proc/${router}/environ`, 'utf8');
    assert.ok(!env.includes('NOTIFY_SOCKET='), 'the router does not inherit NOTIFY_SOCKET from the supervisor');
    const r = sh(bin('switchboard'), ['--ready-fd', '77', '--listen', '127.0.0.1:1', '--state-dir', state]);
    assert.equal(r.code, 2, 'a --ready-fd that is not open is refused');
    assert.match(r.err, /--ready-fd 77/);
  } catch (e) {
    throw new Error(`${e.stack}\n${sup.log.slice(-3000)}`);
  } finally {
    await sup.stop();
    await notify.stop('SIGKILL');
  }
});

run({ after: () => fs.rmSync(tmp, { recursive: true, force: true }) });
