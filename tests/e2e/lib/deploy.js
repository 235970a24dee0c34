// Helpers for the deployment suites (deploy.test.js, s6.test.js): processes
// run by a super-server or init system, a NOTIFY_SOCKET of the test's own,
// and a WSChat pair whose delivery goes through the router.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { connect } = require('./client');
const { until } = require('./harness');

// A process whose output is kept (for failures) and whose exit is awaited.
function started(cmd, args, opts = {}) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  proc.log = '';
  const keep = (d) => { proc.log += d; if (proc.log.length > 1e6) proc.log = proc.log.slice(-5e5); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  proc.exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
  proc.stop = async (sig = 'SIGTERM') => {
    if (proc.exitCode !== null || proc.signalCode) return proc.exited;
    proc.kill(sig);
    const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
    const r = await proc.exited;
    clearTimeout(t);
    return r;
  };
  return proc;
}

// A unix datagram socket at file, as systemd's NOTIFY_SOCKET: node has no
// unix datagrams, so python3 (in DEB_TEST) binds it and prints each one.
async function notifySocket(file) {
  const py = 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\n'
    + 'print("bound",flush=True)\nwhile True:\n  print(repr(s.recv(4096).decode()),flush=True)\n';
  const p = started('python3', ['-c', py, file]);
  await until(() => p.log.includes('bound') || p.exitCode !== null, 20000, 'the notify socket');
  if (!p.log.includes('bound')) throw new Error(`python3 could not bind ${file}: ${p.log}`);
  p.datagrams = () => p.log.split('\n').slice(1).filter(Boolean);
  return p;
}

async function identified(url, name) {
  const ws = await connect(url);
  await ws.next();
  ws.sendJSON({ command: 'identify', name });
  const r = await ws.nextJSON();
  if (r.code !== 300) throw new Error(`identify ${name}: ${JSON.stringify(r)}`);
  return ws;
}

// Two identified WSChat clients: a message from a to b crosses the router.
async function chatPair(url, tag) {
  return [await identified(url, `${tag}-a`), await identified(url, `${tag}-b`)];
}

// Polls until a message from a reaches b (names come back after a router
// restart by re-registration); throws after ms.
async function delivers(a, b, tag, text, ms = 20000) {
  let got = null;
  await until(async () => {
    a.sendJSON({ command: 'message', to: `${tag}-b`, message: text });
    try { got = await b.nextJSON(500); } catch { got = null; }
    while (a.queue.length) a.queue.shift();
    return got && got.message === text;
  }, ms, `delivery of "${text}"`);
  if (a.readyState !== 1 || b.readyState !== 1) throw new Error('a client was dropped');
}

function pidsNamed(comm) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(path.join('/proc', d, 'comm'), 'utf8').trim() === comm) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

// The pids of comm whose command line mentions marker (a test's own dir).
function pidsOf(comm, marker) {
  return pidsNamed(comm).filter((pid) => {
    try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker); } catch { return false; }
  });
}

// A note for a part that does not apply here: not counted as a pass.
function skip(name, why) {
  console.log(`# skip - ${name}: ${why}`);
}

module.exports = { started, notifySocket, chatPair, delivers, pidsOf, skip };
