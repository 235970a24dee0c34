// Options from tables (common/core_options.c, proto/<name>/options.c): the
// three programs list them grouped by owner, refuse unknown and foreign
// options by name with exit 2, and the supervisor passes its children's on.
'use strict';
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { test, run, assert, until } = require('./lib/harness');
const { startServer, bin } = require('./lib/server');
const { connect } = require('./lib/client');

const PROGS = ['switchboard', 'switchboard-worker', 'switchboard-router'];
const MESSAGING = ['messaging-max-size', 'messaging-max-queue', 'messaging-max-per-sender',
  'messaging-max-recipients', 'messaging-max-store'];

function runProg(prog, args) {
  const r = spawnSync(bin(prog), args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

test('--help of each program lists the core options, then Messaging\'s under "messaging"', () => {
  for (const prog of PROGS) {
    const r = runProg(prog, ['--help']);
    assert.equal(r.code, 0, `${prog}: ${r.err}`);
    const core = r.out.indexOf('\ncore:\n'), msg = r.out.indexOf('\nmessaging:\n');
    assert.ok(core >= 0 && msg > core, `${prog} --help groups: ${r.out}`);
    const section = r.out.slice(msg);
    for (const name of MESSAGING) {
      assert.match(section, new RegExp(`\\n  --${name} `), `${prog} lists --${name} under messaging`);
      assert.ok(r.out.indexOf(`--${name} `) > msg, `${prog}: --${name} only in the messaging group`);
    }
    assert.match(r.out.slice(core, msg), /--log-level LEVEL/, `${prog}: --log-level under core`);
  }
});

test('an unknown option is an error naming it, exit 2, in each program', () => {
  for (const prog of PROGS) {
    for (const args of [['--frobnicate'], ['--frobnicate=3'], ['--messaging-max-cheese', '1']]) {
      const r = runProg(prog, args);
      assert.equal(r.code, 2, `${prog} ${args}: ${r.err}`);
      const name = args[0].replace(/=.*/, '');
      assert.match(r.err, new RegExp(`unknown option ${name}\\b`), `${prog} ${args}: ${r.err}`);
    }
  }
});

test('the worker refuses a router-only option by name, exit 2; the router a worker-only one', () => {
  for (const [prog, args, owner] of [['switchboard-worker', ['--messaging-max-queue', '5'], 'switchboard-router'],
    ['switchboard-worker', ['--store-stats'], 'switchboard-router'],
    ['switchboard-router', ['--max-message', '1000'], 'switchboard-worker'],
    ['switchboard-router', ['--max-connections', '3'], 'supervisor']]) {
    const r = runProg(prog, args);
    assert.equal(r.code, 2, `${prog} ${args}: ${r.err}`);
    assert.match(r.err, new RegExp(`${args[0]}.*is an option of .*${owner}`), `${prog} ${args}: ${r.err}`);
  }
});

test('--bus-fd is the supervisor\'s to set for its workers: given to it, exit 2 naming it', () => {
  const r = runProg('switchboard', ['--bus-fd', '4']);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--bus-fd is set by the supervisor/);
});

test('the supervisor checks a router option\'s value at start (exit 2, naming it)', () => {
  const dir = fs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'sb-opts-'));
  for (const args of [['--messaging-max-queue', 'many'], ['--messaging-max-size', '0'], ['--worker-queue', '-1']]) {
    const r = runProg('switchboard', [...args, '--state-dir', dir]);
    assert.equal(r.code, 2, `${args}: ${r.err}`);
    assert.match(r.err, new RegExp(`${args[0]} ${args[1]}: wants`), `${args}: ${r.err}`);
  }
});

test('router options given to the supervisor reach the router, and only the router', async () => {
  const s = await startServer({ args: ['--messaging-max-queue', '7', '--messaging-max-size=300', '--no-sandbox'] });
  try {
    let pid = null;
    await until(async () => (pid = s.routerPid()) !== null, 10000, 'the router');
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const at = argv.indexOf('--messaging-max-queue');
    assert.ok(at > 0 && argv[at + 1] === '7', `router argv: ${argv.join(' ')}`);
    assert.ok(argv.includes('--messaging-max-size') && argv.includes('300'), `router argv: ${argv.join(' ')}`);
    assert.ok(!argv.includes('--no-sandbox'), 'a worker option is not passed to the router');
    // (that the router acts on them, through the supervisor: messaging.test.js,
    // --messaging-max-size and --messaging-max-queue)
    const ws = await connect(s.url('/echo'));
    let w = [];
    await until(async () => (w = s.workerPids()).length >= 1, 10000, 'a worker');
    const wargv = fs.readFileSync(`/proc/${w[0]}/cmdline`, 'utf8').split('\0');
    assert.ok(wargv.includes('--no-sandbox') && !wargv.includes('--messaging-max-queue'), `worker argv: ${wargv.join(' ')}`);
    ws.close();
  } finally { await s.stop(); }
});

run();
