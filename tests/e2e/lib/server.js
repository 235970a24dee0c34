// Starts the real switchboard (supervisor + router + workers) for a test
// file, on a free port with its own state directory.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../../..');
const BUILD = path.resolve(ROOT, process.env.SB_BUILD || 'build');
const ASAN = /asan/.test(BUILD);

function bin(name) { return path.join(BUILD, name); }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// Resolves once a TCP connection to port succeeds.
async function waitForPort(port, host = '127.0.0.1', ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, host, () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listening on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

// Waits until process pid listens on TCP port, read from the kernel's table
// of pid's own network namespace: unlike a probe connection, this starts no
// worker that could still hold a --max-per-ip slot when the test begins.
async function waitForListen(pid, port, ms = 15000) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const listening = () => ['tcp', 'tcp6'].some((t) => {
    try {
      return fs.readFileSync(`/proc/${pid}/net/${t}`, 'utf8').split('\n')
        .some((l) => { const f = l.trim().split(/\s+/); return f[1] && f[1].endsWith(hex.trim()) && f[3] === '0A'; });
    } catch { return false; }
  });
  const end = Date.now() + ms;
  while (!listening()) {
    if (Date.now() > end) throw new Error(`nothing listening on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function childPids(pid) {
  // the kernel's list (one small file, not a scan of /proc as pgrep does:
  // much faster on a loaded machine); pgrep where it is missing
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
      .trim().split(/\s+/).filter(Boolean).map(Number));
  } catch (e) {
    if (!fs.existsSync(`/proc/${pid}`)) return [];
  }
  try {
    return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch { return []; }
}

function procName(pid) {
  try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return null; }
}

class Server {
  constructor(opts) {
    this.opts = opts;
    this.log = '';
  }

  async start() {
    this.port = this.opts.port || await freePort();
    this.stateDir = this.opts.stateDir || fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-'));
    // every test client comes from 127.0.0.1: no --max-per-ip unless a test sets one
    const perIp = (this.opts.args || []).includes('--max-per-ip') ? [] : ['--max-per-ip', '0'];
    const args = ['--listen', `127.0.0.1:${this.port}`, '--state-dir', this.stateDir, ...perIp,
      ...(this.opts.args || []),
      // SB_SERVER_ARGS adds options to every server, e.g. "--log-level debug"
      ...(process.env.SB_SERVER_ARGS ? process.env.SB_SERVER_ARGS.split(' ') : [])];
    const exe = this.opts.binDir ? path.join(this.opts.binDir, 'switchboard') : bin('switchboard');
    const env = this.opts.env ? { ...process.env, ...this.opts.env } : process.env;
    this.proc = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({ code, sig })));
    // SB_LOG_DIR keeps each server's whole log in a file, for post-mortems
    const file = process.env.SB_LOG_DIR
      ? fs.createWriteStream(path.join(process.env.SB_LOG_DIR, `server-${this.port}.log`)) : null;
    const keep = (d) => {
      if (file) file.write(d);
      this.log += d;
      if (this.log.length > 1e6) this.log = this.log.slice(-5e5);
    };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    try {
      await waitForListen(this.proc.pid, this.port);
      if (!this.opts.noRouter) await this.waitForRouter(); // --no-router: one runs elsewhere, or none
    } catch (e) {
      this.proc.kill('SIGKILL');
      throw new Error(`${e.message}\n${this.log}`);
    }
    return this;
  }

  url(p) { return `ws://127.0.0.1:${this.port}${p}`; }

  routerPid() {
    return childPids(this.proc.pid).find((p) => procName(p) === 'switchboard-rou') || null;
  }

  // The supervisor's worker template (switchboard-worker --template, named
  // switchboard-tpl), or null.
  templatePid() {
    return childPids(this.proc.pid).find((p) => procName(p) === 'switchboard-tpl') || null;
  }

  // The workers serving clients: the supervisor's (spawned, or the template's
  // orphans) and the template's children; never the template itself.
  workerPids() {
    const kids = childPids(this.proc.pid);
    const forked = kids.filter((p) => procName(p) === 'switchboard-tpl').flatMap((t) => childPids(t));
    return kids.concat(forked).filter((p) => procName(p) === 'switchboard-wor');
  }

  async waitForRouter(ms = 15000) {
    const url = (this.opts.args || []).includes('--router-url') ? null : path.join(this.stateDir, 'bus.ipc');
    const end = Date.now() + ms;
    while (!(this.routerPid() && (!url || fs.existsSync(url)))) {
      if (Date.now() > end) throw new Error('router did not come up');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // Shows the server's log when a test fails (call from catch blocks).
  tail(n = 40) { return this.log.split('\n').slice(-n).join('\n'); }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return this.exited;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15000);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}

async function startServer(opts = {}) {
  return new Server(opts).start();
}

module.exports = { startServer, freePort, waitForPort, bin, BUILD, ROOT, ASAN, childPids, procName };
