// The configuration file (--config FILE, common/config.c): the shipped
// example is the tables' own, --check-config says ok or file:line: reason,
// the file's options reach the supervisor, the workers and the router, and
// flags override them.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { test, run, assert, until } = require('./lib/harness');
const { startServer, bin, ROOT } = require('./lib/server');
const { connect } = require('./lib/client');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-config-'));

function runProg(prog, args) {
  const r = spawnSync(bin(prog), args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

function file(name, text) {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

test('contrib/switchboard.conf is what the option tables generate (switchboard --help-config)', () => {
  const r = runProg('switchboard', ['--help-config']);
  assert.equal(r.code, 0, r.err);
  const shipped = fs.readFileSync(path.join(ROOT, 'contrib/switchboard.conf'), 'utf8');
  assert.equal(shipped, r.out, 'contrib/switchboard.conf is stale: regenerate it with "make config-example"');
  for (const name of ['listen', 'max-message', 'worker-queue', 'messaging-max-queue', 'log-level'])
    assert.match(r.out, new RegExp(`\\n#${name} `), `the example has ${name}`);
});

test('--check-config: the shipped example, and every option set in it, pass (exit 0)', () => {
  let r = runProg('switchboard', ['--config', path.join(ROOT, 'contrib/switchboard.conf'), '--check-config']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /switchboard\.conf: ok/);
  // every option with a default, set to it: the example's values are valid values
  const text = fs.readFileSync(path.join(ROOT, 'contrib/switchboard.conf'), 'utf8')
    // (placeholders such as FILE or ADDR[/BITS] are names, not values: left commented)
    .split('\n').map((l) => (/^#[a-z][a-z0-9-]* /.test(l) && !/ [A-Z][A-Z:[\]/]*$/.test(l) ? l.slice(1) : l)).join('\n');
  r = runProg('switchboard', ['--config', file('all.conf', text), '--check-config']);
  assert.equal(r.code, 0, r.err);
});

test('--check-config: a bad line is refused with the file, the line and the reason (exit 2)', () => {
  const cases = [
    ['# fine\nmax-message 1x\n', /bad1\.conf:2: max-message 1x: wants a byte count/],
    ['frobnicate 3\n', /bad2\.conf:1: frobnicate: unknown option/],
    ['\n\n--listen 1.2.3.4:5\n', /bad3\.conf:3: .*without the leading --/],
    ['no-router maybe\n', /bad4\.conf:1: no-router maybe: a flag takes yes or no/],
    ['worker-queue 99999999999\n', /bad5\.conf:1: worker-queue .*from 0 to/],
    [`state-dir ${'x'.repeat(5000)}\n`, /bad6\.conf:1: a line longer than 4096 bytes/],
  ];
  cases.forEach(([text, want], i) => {
    const f = file(`bad${i + 1}.conf`, text);
    const r = runProg('switchboard', ['--config', f, '--check-config']);
    assert.equal(r.code, 2, `${text}: ${r.out}${r.err}`);
    assert.match(r.err, want);
  });
  const r = runProg('switchboard', ['--config', path.join(tmp, 'missing.conf'), '--check-config']);
  assert.equal(r.code, 2);
  assert.match(r.err, /cannot read .*missing\.conf/);
  // a bad file stops the server too, before it listens
  const s = runProg('switchboard', ['--config', path.join(tmp, 'bad1.conf'), '--listen', '127.0.0.1:1']);
  assert.equal(s.code, 2);
});

test('options from the file take effect in the supervisor, the workers and the router', async () => {
  const f = file('live.conf', 'max-message = 100\ntap none\nmax-connections 2\n');
  const srv = await startServer({ args: ['--config', f] });
  try {
    const ws = await connect(srv.url('/echo'));
    ws.send('x'.repeat(200));
    assert.equal((await ws.closed).code, 1009, 'max-message 100 from the file reached the worker');
    assert.ok(!fs.existsSync(path.join(srv.stateDir, 'tap.ipc')), 'tap none from the file reached the router');
    assert.match(srv.log, /bus listening on/);
    // the router gets the file's options as flags, and no file of its own to read again
    const argv = fs.readFileSync(`/proc/${srv.routerPid()}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.join(' ').includes('--config none --tap none'), argv.join(' '));
    await until(() => srv.workerPids().length === 0, 15000, 'the closed client\'s worker to exit');
    const a = await connect(srv.url('/echo')), b = await connect(srv.url('/echo'));
    await assert.rejects(connect(srv.url('/echo')), (e) => e.status === 503, 'max-connections 2 from the file');
    a.close();
    b.close();
  } catch (e) {
    throw new Error(`${e.stack}\n${srv.tail()}`);
  } finally {
    await srv.stop();
  }
});

test('flags override the file', async () => {
  const f = file('over.conf', 'max-message 100\nmax-connections 1\n');
  const srv = await startServer({ args: ['--config', f, '--max-message', '1000', '--max-connections', '10'] });
  try {
    const ws = await connect(srv.url('/echo'));
    ws.send('y'.repeat(200));
    assert.equal(await ws.next(), 'y'.repeat(200), '--max-message 1000 overrides the file\'s 100');
    const b = await connect(srv.url('/echo'));
    b.close();
    ws.close();
  } finally {
    await srv.stop();
  }
});

test('the router and the worker read their own options from a shared file and skip the others\'', () => {
  const f = file('shared.conf', 'listen 127.0.0.1:1\nmax-connections 3\nmessaging-max-queue 0x\n');
  let r = runProg('switchboard-router', ['--config', f, '--store-stats']);
  assert.equal(r.code, 2, 'the router checks its own options from the file');
  assert.match(r.err, /shared\.conf:3: messaging-max-queue 0x/);
  const dir = fs.mkdtempSync(path.join(tmp, 'state-'));
  const g = file('shared2.conf', `listen 127.0.0.1:1\nmax-connections 3\nstate-dir ${dir}\nmax-message 5\n`);
  r = runProg('switchboard-router', ['--config', g, '--store-stats']);
  // the supervisor's and the worker's options are skipped; state-dir is taken (no store there yet)
  assert.notEqual(r.code, 2, r.err);
  assert.ok(r.err.includes(dir), `the router took state-dir from the file: ${r.err}`);
  r = runProg('switchboard-worker', ['--config', g, '--help']);
  assert.equal(r.code, 0);
});

run({ after: () => fs.rmSync(tmp, { recursive: true, force: true }) });
