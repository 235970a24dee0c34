// s6 (contrib/s6): s6-svscan on a scan directory of the test's own brings
// up the supervisor service and the router + tcpserver pair, each with its
// s6-log service; s6-svwait -U returns on their readiness (notification-fd,
// --ready-fd); the run scripts make and chown the state dirs; WebSocket
// clients get through both layouts, and through "s6-svc -r" of the router
// under connected clients. The run scripts are the shipped ones with
// /usr/local/bin pointing at the build under test.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { test, run, assert, until } = require('./lib/harness');
const { BUILD, ROOT, freePort, waitForPort } = require('./lib/server');
const { started, chatPair, delivers, pidsOf } = require('./lib/deploy');

// readable by the users the services drop to
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-s6-'));
fs.chmodSync(tmp, 0o755);
const scan = path.join(tmp, 'scan');
const ROOTUSER = process.getuid() === 0;
let svscan, ports;

function sh(cmd, args, ms = 30000) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: ms });
  return { code: r.status, out: String(r.stdout || ''), err: String(r.stderr || '') };
}

// contrib/s6/<name> into the scan dir, /usr/local/bin/ being BUILD, with a
// conf for the service and one for its logger
function service(name, conf) {
  const from = path.join(ROOT, 'contrib/s6', name), to = path.join(scan, name);
  fs.cpSync(from, to, { recursive: true });
  for (const f of ['run', 'log/run']) {
    const p = path.join(to, f);
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replaceAll('/usr/local/bin/', `${BUILD}/`));
    fs.chmodSync(p, 0o755);
  }
  fs.writeFileSync(path.join(to, 'conf'), conf);
  fs.writeFileSync(path.join(to, 'log/conf'), `LOG_DIR=${tmp}/log-${name}\n`);
}

const logs = () => ['switchboard', 'switchboard-router', 'switchboard-tcpserver'].map((n) => {
  try { return `${n}:\n${fs.readFileSync(path.join(tmp, `log-${n}`, 'current'), 'utf8').slice(-2500)}`; } catch { return ''; }
}).join('\n');

async function setUp() {
  ports = [await freePort(), await freePort()];
  fs.mkdirSync(scan);
  service('switchboard', `LISTEN=127.0.0.1:${ports[0]}\nSTATE_DIR=${tmp}/state-sup\n`
    + `ROUTER_USER=${ROOTUSER ? 'daemon' : ''}\n`);
  const user = ROOTUSER ? 'nobody' : os.userInfo().username;
  service('switchboard-router', `STATE_DIR=${tmp}/state-alone\nRUN_AS=${user}\n`);
  service('switchboard-tcpserver', `HOST=127.0.0.1\nPORT=${ports[1]}\nMAX=100\nSTATE_DIR=${tmp}/state-alone\nRUN_AS=${user}\n`);
  svscan = started('s6-svscan', [scan]);
}

test('s6-svscan brings the services up and s6-svwait -U returns on their readiness', async () => {
  // s6-svwait reads the status file each s6-supervise makes when it starts
  await until(() => ['switchboard', 'switchboard-router'].every((n) => fs.existsSync(path.join(scan, n, 'supervise/status'))),
    15000, 's6-supervise for each service');
  const r = sh('s6-svwait', ['-U', '-t', '30000', path.join(scan, 'switchboard'), path.join(scan, 'switchboard-router')], 40000);
  assert.equal(r.code, 0, `s6-svwait -U: ${r.err}\n${logs()}`);
  // ready means serving: the supervisor accepts, the router's bus is there
  await waitForPort(ports[0], '127.0.0.1', 2000);
  assert.ok(fs.existsSync(path.join(tmp, 'state-alone/bus.ipc')), 'bus.ipc exists once the router is up');
  assert.ok(fs.existsSync(path.join(tmp, 'state-sup/bus.ipc')), 'the supervisor is ready once its router is');
  const st = sh('s6-svstat', [path.join(scan, 'switchboard')]);
  assert.match(st.out, /^up .*ready/, st.out);
  // the run scripts made the state dirs, owned by the router's user, 0750
  const alone = fs.statSync(path.join(tmp, 'state-alone'));
  assert.equal(alone.mode & 0o777, 0o750);
  if (ROOTUSER) {
    assert.equal(alone.uid, 65534, 'the router\'s state dir is nobody\'s');
    assert.equal(fs.statSync(path.join(tmp, 'state-sup')).uid, 1, 'the supervisor\'s router user (daemon) owns its dir');
  }
  // each service logs through its s6-log, with timestamps
  await until(() => /^\d{4}-\d\d-\d\d[T ]\S+ +switchboard\[\d+\]: info: listening on 127\.0\.0\.1:/m.test(logs()), 10000,
    'the supervisor\'s log line in log/current');
  assert.match(logs(), /switchboard-router\[\d+\]: info: bus listening on ipc:\/\//);
}, { timeout: 60000 });

test('a WebSocket client through the supervisor service', async () => {
  const [a, b] = await chatPair(`ws://127.0.0.1:${ports[0]}/wschat`, 's6-sup');
  await delivers(a, b, 's6-sup', 'through s6');
  a.close();
  b.close();
});

test('through tcpserver to the router service; s6-svc -r restarts the router under connected clients', async () => {
  const url = `ws://127.0.0.1:${ports[1]}/wschat`;
  await waitForPort(ports[1]);
  const [a, b] = await chatPair(url, 's6-tcp');
  try {
    await delivers(a, b, 's6-tcp', 'before');
    const marker = `${tmp}/state-alone`;
    const [old] = pidsOf('switchboard-rou', marker);
    assert.ok(old, 'the router runs');
    assert.equal(sh('s6-svc', ['-r', path.join(scan, 'switchboard-router')]).code, 0);
    await until(() => { const p = pidsOf('switchboard-rou', marker); return p.length && p[0] !== old; }, 20000, 'a new router');
    const r = sh('s6-svwait', ['-U', '-t', '20000', path.join(scan, 'switchboard-router')], 30000);
    assert.equal(r.code, 0, r.err);
    await delivers(a, b, 's6-tcp', 'after s6-svc -r');
    // the workers' log lines are in the tcpserver service's log, not in a client's connection
    assert.match(logs(), /switchboard-tcpserver:[^]*switchboard-worker\[\d+\]/);
  } catch (e) {
    throw new Error(`${e.stack}\n${logs()}`);
  } finally {
    a.close();
    b.close();
  }
}, { timeout: 60000 });

async function tearDown() {
  if (!svscan) return;
  sh('s6-svscanctl', ['-t', scan]);
  const t = setTimeout(() => svscan.kill('SIGKILL'), 20000);
  await svscan.exited;
  clearTimeout(t);
  // nothing of ours may outlive the test
  await until(() => ['switchboard', 'switchboard-rou', 'switchboard-wor', 'tcpserver', 's6-log']
    .every((c) => pidsOf(c, tmp).length === 0), 20000, 'the services to stop').catch(() => {
    for (const c of ['switchboard', 'switchboard-rou', 'switchboard-wor', 'tcpserver', 's6-log'])
      for (const p of pidsOf(c, tmp)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  });
  fs.rmSync(tmp, { recursive: true, force: true });
}

run({ before: setUp, after: tearDown });
