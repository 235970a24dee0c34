// The supervisor's own defences, end to end: the per-address cap
// (--max-per-ip), the rest its accept loop takes when out of descriptors,
// and its option parsing.
'use strict';
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const { test, run, assert, sleep, until } = require('./lib/harness');
const { startServer, bin, ASAN } = require('./lib/server');
const { connect } = require('./lib/client');
const { exchange, status, upgradeRequest } = require('./lib/raw');

// A slowloris connection: half a request, then silence.
function halfOpen(port, localAddress = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
      s.write('GET /echo HTTP/1.1\r\nHost: x\r\n');
      resolve(s);
    });
    s.on('error', reject);
  });
}

// Sends a whole upgrade request from localAddress; the HTTP status answered.
function statusFrom(port, localAddress, ms = 5000) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => s.write(upgradeRequest('/echo')));
    const t = setTimeout(() => { s.destroy(); resolve(status(Buffer.concat(chunks))); }, ms);
    s.on('data', (d) => {
      chunks.push(d);
      if (/\r\n\r\n/.test(Buffer.concat(chunks).toString('latin1'))) { clearTimeout(t); s.destroy(); resolve(status(Buffer.concat(chunks))); }
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
    s.on('close', () => { clearTimeout(t); resolve(status(Buffer.concat(chunks))); });
  });
}

test('--max-per-ip: half-open requests from one address cannot fill the server', async () => {
  const s = await startServer({ args: ['--max-per-ip', '4', '--max-connections', '64'] });
  const held = [];
  try {
    for (let i = 0; i < 4; i++) held.push(await halfOpen(s.port));
    await until(() => s.workerPids().length === 4, 10000, 'four workers');
    // the fifth from the same address is refused at once, by the supervisor
    const { data, closed } = await exchange(s.port, upgradeRequest('/echo'));
    assert.equal(status(data), 429, data.toString());
    assert.match(data.toString(), /Retry-After: 5/);
    assert.ok(closed);
    assert.match(s.log, /127\.0\.0\.1 is at --max-per-ip 4: refusing with 429/);
    // a flood of refusals is summarised in the log, not one line each
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) assert.equal(status((await exchange(s.port, upgradeRequest('/echo'))).data), 429);
    const lines = (s.log.match(/refusing with 429/g) || []).length;
    assert.ok(lines <= 2 + (Date.now() - t0) / 1000, `${lines} log lines for 31 refusals`);
    // loopback is capped like any address, but every address on its own
    assert.equal(await statusFrom(s.port, '127.0.0.2'), 101);
    // a slot freed is a slot again
    held.shift().destroy();
    await until(async () => await statusFrom(s.port, '127.0.0.1') === 101, 10000, 'a free slot for 127.0.0.1');
  } finally {
    for (const h of held) h.destroy();
    await s.stop();
  }
});

test('--max-per-ip: the default caps one address at 256 (usage says so)', async () => {
  const out = await new Promise((resolve) => execFile(bin('switchboard'), ['--help'], (e, so) => resolve(so)));
  assert.match(out, /--max-per-ip N .*0: no cap.*\(default 256\)/);
  const bad = await new Promise((resolve) => execFile(bin('switchboard'), ['--max-per-ip', 'lots'], (e, so, se) => resolve({ code: e && e.code, se })));
  assert.equal(bad.code, 2);
  assert.match(bad.se, /--max-per-ip lots: wants a whole number/);
});

test('an unknown option is an error naming it, exit 2', async () => {
  for (const [args, named] of [[['--bogus'], /unknown option --bogus/], [['--max-connections'], /--max-connections needs a value/],
    [['--listen', '127.0.0.1:1', '--nope=1'], /unknown option --nope/]]) {
    const r = await new Promise((resolve) => execFile(bin('switchboard'), args, (e, so, se) => resolve({ code: e && e.code, sig: e && e.signal, se })));
    assert.equal(r.sig, null, `killed by ${r.sig}: ${r.se}`);
    assert.equal(r.code, 2, r.se);
    assert.match(r.se, named);
  }
  // formerly getopt_long leaves the option index unset for '?': valgrind sees a read of it
  if (ASAN || !fs.existsSync('/usr/bin/valgrind')) return;
  const vg = await new Promise((resolve) => execFile('valgrind', ['-q', '--error-exitcode=9', bin('switchboard'), '--bogus'],
    (e, so, se) => resolve({ code: e && e.code, se })));
  assert.equal(vg.code, 2, vg.se);
});

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

// Only the soft limit: raising a hard one needs CAP_SYS_RESOURCE.
function prlimit(pid, n) {
  return new Promise((resolve, reject) => execFile('prlimit', ['--pid', String(pid), `--nofile=${n}:`],
    (e, so, se) => (e ? reject(new Error(se || e.message)) : resolve())));
}

// Runs switchboard to its end; its status, output and log.
function runToEnd(args, ms = 20000) {
  return new Promise((resolve) => {
    const p = execFile(bin('switchboard'), args, { timeout: ms }, (e, so, se) =>
      resolve({ code: e ? e.code : 0, sig: e && e.signal, so, se }));
    p.stdin && p.stdin.end();
  });
}

test('a router that ends (--store-stats) or refuses its options at start stops the supervisor, not a restart loop', async () => {
  const dir = fs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'sb-sup-'));
  try {
    const first = await startServer({ stateDir: dir }); // makes the store
    await first.stop();
    const port = await require('./lib/server').freePort();
    const stats = await runToEnd(['--listen', `127.0.0.1:${port}`, '--state-dir', dir, '--store-stats']);
    assert.equal(stats.sig, null, `killed by ${stats.sig} (looping?): ${stats.se}`);
    assert.equal(stats.code, 0, stats.se);
    assert.match(stats.so, /\[messaging\]/);
    assert.equal((stats.se.match(/router started/g) || []).length, 1, stats.se);
    // a store the router cannot open (exit 1 at start): the supervisor stops with 1
    const broken = require('node:path').join(dir, 'broken');
    fs.mkdirSync(require('node:path').join(broken, 'store.db'), { recursive: true });
    const bad = await runToEnd(['--listen', `127.0.0.1:${port}`, '--state-dir', broken]);
    assert.equal(bad.sig, null, `killed by ${bad.sig} (looping?): ${bad.se}`);
    assert.equal(bad.code, 1, bad.se);
    assert.match(bad.se, /store/);
    assert.match(bad.se, /router refused to start \(status 1, see above\): stopping/);
    assert.equal((bad.se.match(/router started/g) || []).length, 1, bad.se);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, { timeout: 60000 });

test('a router that does not stop on SIGTERM is killed when the supervisor stops, not left running', async () => {
  const srv = await startServer();
  const pid = srv.routerPid();
  assert.ok(pid, 'a router runs');
  process.kill(pid, 'SIGSTOP'); // as a router stuck in a loop: SIGTERM stays pending
  await srv.stop();
  const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
  assert.ok(!alive(), `router ${pid} outlived the supervisor`);
  assert.match(srv.log, /router \(pid \d+\) did not stop within 3 s of SIGTERM; killing it/);
}, { timeout: 60000 });

test('out of descriptors, the supervisor rests its listener instead of spinning, then serves again', async () => {
  const s = await startServer();
  const pid = s.proc.pid;
  let ws = null;
  try {
    // the lowest free descriptor as the limit: the next accept fails with EMFILE
    const lowestFree = () => {
      const fds = new Set(fs.readdirSync(`/proc/${pid}/fd`).map(Number));
      let low = 0;
      while (fds.has(low)) low++;
      return low;
    };
    // a descriptor the supervisor had open for a moment would leave a hole under the limit: set it again
    for (let low = lowestFree(), again = -1; low !== again; again = low, low = lowestFree()) await prlimit(pid, low);
    const waiting = connect(s.url('/echo'));
    waiting.catch(() => {});
    await until(() => /accept: Too many open files/.test(s.log), 10000, 'the EMFILE warning');
    const t0 = cpuTicks(pid);
    await sleep(2000);
    const used = cpuTicks(pid) - t0; // clock ticks, 100 a second
    // spinning costs a whole core (~200 ticks here); resting ten times a second, almost nothing
    assert.ok(used < 20, `supervisor used ${used} ticks in 2 s while out of descriptors`);
    assert.equal((s.log.match(/accept: Too many open files/g) || []).length, 1, 'one warning per episode');
    await prlimit(pid, 1024);
    ws = await waiting; // the connection that waited in the backlog is served
    ws.send('still here');
    assert.equal(await ws.next(), 'still here');
  } finally {
    if (ws) ws.close();
    await s.stop();
  }
}, { timeout: 30000 });

run();
