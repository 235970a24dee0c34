// Headless Chromium (Debian's package) driven over the DevTools protocol
// with the `ws` client: no extra npm package. A test opens pages, evaluates
// expressions in them, waits for what the page shows and keeps screenshots
// in the test logs.
//
//   const { launch } = require('./lib/chromium');
//   const browser = await launch();
//   const page = await browser.open('http://127.0.0.1:PORT/');
//   await page.waitFor('document.querySelector("#ok") !== null', 10000);
//   const text = await page.evaluate('document.body.innerText');
//   await page.screenshot('name');          // build/test-logs/name.png
//   await browser.close();
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');

const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
const LOG_DIR = path.join(__dirname, '..', '..', '..', 'build', 'test-logs');

// One DevTools connection: numbered requests, answers by id, events by name.
class Cdp {
  constructor(ws) {
    this.ws = ws;
    this.next = 1;
    this.pending = new Map();
    this.listeners = [];
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.id && this.pending.has(m.id)) {
        const { resolve, reject, method } = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m.result);
      } else if (m.method) {
        for (const l of this.listeners) l(m);
      }
    });
    ws.on('close', () => {
      for (const { reject, method } of this.pending.values()) reject(new Error(`${method}: DevTools connection closed`));
      this.pending.clear();
    });
  }

  send(method, params = {}, sessionId) {
    const id = this.next++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify(msg));
    });
  }

  on(fn) { this.listeners.push(fn); }
}

class Page {
  constructor(cdp, sessionId, targetId) {
    this.cdp = cdp;
    this.sessionId = sessionId;
    this.targetId = targetId;
    this.console = []; // the page's console lines and uncaught exceptions, for failure messages
    cdp.on((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === 'Runtime.consoleAPICalled')
        this.console.push(`${m.params.type}: ${m.params.args.map((a) => a.value ?? a.description ?? '').join(' ')}`);
      else if (m.method === 'Runtime.exceptionThrown')
        this.console.push(`exception: ${m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text}`);
    });
  }

  send(method, params) { return this.cdp.send(method, params, this.sessionId); }

  async navigate(url, ms = 15000) {
    const loaded = new Promise((resolve) => this.cdp.on((m) => {
      if (m.sessionId === this.sessionId && m.method === 'Page.loadEventFired') resolve();
    }));
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`navigating to ${url}: ${r.errorText}`);
    await Promise.race([loaded, new Promise((_, rej) => setTimeout(() => rej(new Error(`${url} did not load in ${ms} ms`)), ms))]);
  }

  // The value of a JavaScript expression in the page (promises awaited).
  async evaluate(expression) {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails)
      throw new Error(`in the page: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
    return r.result.value;
  }

  // Polls until the expression is truthy; fails with the page's console.
  async waitFor(expression, ms = 15000, what = expression) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await this.evaluate(expression).catch(() => undefined);
      if (v) return v;
      if (Date.now() > end)
        throw new Error(`waited ${ms} ms for ${what}; page console:\n${this.console.join('\n') || '(empty)'}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // A PNG of the page in build/test-logs/<name>.png; returns its path.
  async screenshot(name) {
    // the whole page, not only the first screenful
    const m = await this.send('Page.getLayoutMetrics');
    const size = m.cssContentSize || m.contentSize;
    const r = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: Math.min(Math.ceil(size.width), 1600), height: Math.min(Math.ceil(size.height), 4000), scale: 1 } });
    fs.mkdirSync(LOG_DIR, { recursive: true });
    const file = path.join(LOG_DIR, `${name}.png`);
    fs.writeFileSync(file, Buffer.from(r.data, 'base64'));
    return file;
  }

  close() { return this.cdp.send('Target.closeTarget', { targetId: this.targetId }); }
}

// Starts Chromium on a DevTools port it picks itself (read from its stderr).
async function launch({ args = [], ms = 30000 } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (make test-deps installs Debian's chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  const proc = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
    '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1', `--user-data-dir=${profile}`,
    ...args, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Chromium gave no DevTools address in ${ms} ms:\n${stderr}`)), ms);
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`Chromium exited with ${code}:\n${stderr}`)); });
  });
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const cdp = new Cdp(ws);
  const pages = [];
  return {
    proc,
    async open(pageUrl) {
      const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
      const page = new Page(cdp, sessionId, targetId);
      pages.push(page);
      await page.send('Page.enable');
      await page.send('Runtime.enable');
      if (pageUrl) await page.navigate(pageUrl);
      return page;
    },
    async close() {
      ws.close();
      proc.kill('SIGTERM');
      await new Promise((r) => { if (proc.exitCode !== null) r(); else { proc.once('exit', r); setTimeout(() => { proc.kill('SIGKILL'); r(); }, 5000); } });
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

module.exports = { launch };
