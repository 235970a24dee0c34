// The bus key (--bus-key): workers that hold it are served over tcp://,
// workers without it (or with another) are refused by the router, and a
// tcp:// bus off loopback is refused without a key at start.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile, spawn } = require('node:child_process');
const { test, run, assert, sleep, until } = require('./lib/harness');
const { startServer, freePort, waitForPort, bin } = require('./lib/server');
const { connect, quiet } = require('./lib/client');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-busauth-'));

function keyFile(name, mode = 0o600, text = crypto.randomBytes(32).toString('hex') + '\n') {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  fs.chmodSync(f, mode);
  return f;
}

const key = keyFile('bus.key');
const other = keyFile('other.key');
let srv, busUrl;

async function identify(url, name, ms) {
  const ws = await connect(url);
  assert.equal((await ws.nextJSON()).type, 'init'); // the worker's own, before any bus
  ws.sendJSON({ command: 'identify', name });
  return { ws, answer: await ws.nextJSON(ms).catch(() => null) };
}

function runProg(prog, args) {
  return new Promise((resolve) => execFile(bin(prog), args, { timeout: 10000 },
    (e, so, se) => resolve({ code: e ? e.code : 0, se })));
}

// A lone worker under tcpserver, dialling our router with these options.
async function loneWorker(args) {
  const port = await freePort();
  const ts = spawn('tcpserver', ['-q', '127.0.0.1', String(port), bin('switchboard-worker'), '--router-url', busUrl, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  ts.log = '';
  ts.stderr.on('data', (d) => { ts.log += d; });
  await waitForPort(port);
  return { ts, url: `ws://127.0.0.1:${port}/wschat` };
}

test('workers with the key are served over tcp://127.0.0.1', async () => {
  const { ws, answer } = await identify(srv.url('/wschat'), 'keyed-a');
  assert.deepEqual(answer, { type: 'outcome', success: true, message: 'Identified successfully!', code: 300 });
  const b = await identify(srv.url('/wschat'), 'keyed-b');
  ws.sendJSON({ command: 'message', to: 'keyed-b', message: 'over an authenticated bus' });
  assert.equal((await b.ws.nextJSON()).message, 'over an authenticated bus');
  // and a worker started on its own with the key (read before its sandbox)
  const w = await loneWorker(['--bus-key', key]);
  try {
    const c = await identify(w.url, 'keyed-lone');
    assert.equal(c.answer && c.answer.code, 300, w.ts.log);
    c.ws.sendJSON({ command: 'message', to: 'keyed-b', message: 'from the lone one' });
    assert.equal((await b.ws.nextJSON()).message, 'from the lone one');
    c.ws.close();
  } finally { w.ts.kill(); }
  ws.close(); b.ws.close();
});

for (const [what, args] of [['without the key', []], ['with another key', () => ['--bus-key', other]]]) {
  test(`a worker ${what} is refused by the router`, async () => {
    const before = (srv.log.match(/no or wrong bus key/g) || []).length;
    const w = await loneWorker(typeof args === 'function' ? args() : args);
    try {
      const c = await identify(w.url, 'intruder', 1500);
      assert.equal(c.answer, null, 'no answer through the bus');
      await until(() => (srv.log.match(/no or wrong bus key/g) || []).length > before, 10000, 'the router\'s refusal');
      // the name was never registered: a keyed client takes it
      const d = await identify(srv.url('/wschat'), 'intruder');
      assert.equal(d.answer.code, 300);
      await quiet(c.ws, 300);
      c.ws.close(); d.ws.close();
    } finally { w.ts.kill(); }
  });
}

test('a tcp:// bus off loopback without --bus-key is refused at start, naming the option', async () => {
  const port = await freePort();
  const sup = await runProg('switchboard', ['--listen', `127.0.0.1:${port}`, '--state-dir', path.join(dir, 's1'),
    '--router-url', `tcp://0.0.0.0:${port + 1}`]);
  assert.equal(sup.code, 2, sup.se);
  assert.match(sup.se, /needs --bus-key FILE/);
  const r = await runProg('switchboard-router', ['--state-dir', path.join(dir, 's2'), '--listen', `tcp://0.0.0.0:${port + 1}`, '--tap', 'none']);
  assert.notEqual(r.code, 0);
  assert.match(r.se, /refusing to listen on tcp:\/\/0\.0\.0\.0:\d+ without --bus-key/);
});

test('a key file others can read, or not 32 bytes of hex, is refused at start', async () => {
  for (const [f, why] of [[keyFile('open.key', 0o644), /not readable by others/],
    [keyFile('short.key', 0o600, 'abcd\n'), /64 hex digits/], [path.join(dir, 'none.key'), /No such file/]]) {
    for (const prog of ['switchboard-worker', 'switchboard-router']) {
      const r = await runProg(prog, ['--bus-key', f, '--help']);
      assert.equal(r.code, 2, `${prog}: ${r.se}`);
      assert.match(r.se, why);
      assert.match(r.se, /--bus-key/);
    }
  }
});

run({
  before: async () => {
    busUrl = `tcp://127.0.0.1:${await freePort()}`;
    srv = await startServer({ args: ['--router-url', busUrl, '--bus-key', key] });
  },
  after: async () => {
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.log);
    fs.rmSync(dir, { recursive: true, force: true });
  },
});
