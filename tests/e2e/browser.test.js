// A real browser against the real processes: headless Chromium from Debian
// loads a page from --static-dir and talks WebSocket to /echo and /wschat
// through the supervisor, a worker each and the router.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');
const { test, run } = require('./lib/harness');
const { startServer } = require('./lib/server');
const { launch } = require('./lib/chromium');

const PAGE = `<!doctype html>
<meta charset="utf-8"><title>switchboard browser test</title>
<pre id="log"></pre>
<script>
const log = (t) => { document.getElementById('log').textContent += t + '\\n'; };
window.echo = (text) => new Promise((resolve, reject) => {
  const ws = new WebSocket('ws://' + location.host + '/echo');
  ws.onopen = () => ws.send(text);
  ws.onmessage = (e) => { log('echo: ' + e.data); ws.close(1000); resolve(e.data); };
  ws.onerror = () => reject(new Error('WebSocket error'));
});
window.closeCode = (p) => new Promise((resolve) => {
  const ws = new WebSocket('ws://' + location.host + p);
  ws.onclose = (e) => resolve(e.code);
});
</script>`;

let srv, browser, page, www;

test('Chromium loads a page from --static-dir and echoes through /echo', async () => {
  www = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-browser-'));
  fs.chmodSync(www, 0o755); // the workers run as an unprivileged user
  fs.writeFileSync(path.join(www, 'index.html'), PAGE);
  srv = await startServer({ args: ['--static-dir', www] });
  browser = await launch();
  page = await browser.open(`http://127.0.0.1:${srv.port}/index.html`);
  assert.equal(await page.evaluate('document.title'), 'switchboard browser test');
  const text = 'grüße from a browser ' + 'x'.repeat(70000); // more than one TCP segment, UTF-8
  assert.equal(await page.evaluate(`echo(${JSON.stringify(text)})`), text);
  await page.waitFor('document.getElementById("log").textContent.startsWith("echo: grüße")', 10000, 'the echo shown');
  await page.screenshot('browser-echo');
}, { timeout: 90000 });

test('Chromium sees the close code of a path with no endpoint (the 404 as 1006)', async () => {
  // A refused upgrade is an HTTP error: a browser reports 1006, never 1000.
  assert.equal(await page.evaluate('closeCode("/no-such-endpoint")'), 1006);
}, { timeout: 30000 });

run({
  async after() {
    if (browser) await browser.close();
    if (srv) await srv.stop();
    if (www) fs.rmSync(www, { recursive: true, force: true });
  },
});
