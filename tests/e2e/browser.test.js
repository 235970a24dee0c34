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

let srv, browser, page, www, landing;

test('Chromium loads a page from --static-dir and echoes through /echo', async () => {
  www = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-browser-'));
  fs.chmodSync(www, 0o755); // the workers run as an unprivileged user
  fs.writeFileSync(path.join(www, 'echo.html'), PAGE);
  srv = await startServer({ args: ['--static-dir', www] });
  browser = await launch();
  page = await browser.open(`http://127.0.0.1:${srv.port}/echo.html`);
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

test('the landing page at / lists the endpoints, and its WSChat room works between two browser tabs', async () => {
  const a = await browser.open(`http://127.0.0.1:${srv.port}/`);
  const b = await browser.open(`http://127.0.0.1:${srv.port}/`);
  assert.equal(await a.evaluate('document.title'), 'switchboard');
  const endpoints = await a.evaluate('[...document.querySelectorAll("table code")].map((c) => c.textContent)');
  for (const e of ['/echo', '/wschat', '/messaging?client_id=ID']) assert.ok(endpoints.includes(e), `${e} listed: ${endpoints}`);
  const join = async (p, name) => {
    await p.evaluate(`document.getElementById('chat-name').value = ${JSON.stringify(name)}; document.getElementById('chat-join').click()`);
    await p.waitFor(`document.getElementById('chat-status').textContent === 'joined as ${name}'`, 10000, `${name} joined`);
  };
  await join(a, 'ann');
  await join(b, 'ben');
  await a.evaluate(`document.getElementById('chat-text').value = 'hello from ann'; document.getElementById('chat-send').click()`);
  for (const p of [a, b])
    await p.waitFor(`document.getElementById('chat-log').textContent.includes('ann: hello from ann')`, 10000, 'the broadcast shown');
  // the same name twice is refused, and the page says so
  await b.evaluate(`document.getElementById('chat-name').value = 'ann'; document.getElementById('chat-join').click()`);
  await b.waitFor(`document.getElementById('chat-log').textContent.includes('! Client with that name already exists!')`, 10000, 'the refusal shown');
  await a.waitFor(`document.getElementById('chat-log').textContent.includes('ben left')`, 10000, 'ben\'s old connection leaving');
  await a.screenshot('landing-wschat');
  await b.close();
  landing = a;
}, { timeout: 60000 });

test('the landing page\'s Messaging inbox delivers, marks read, and nothing comes again', async () => {
  const p = landing;
  await p.evaluate(`document.getElementById('msg-from').value = 'ida'; document.getElementById('msg-to').value = 'ole';
    document.getElementById('msg-connect').click()`);
  await p.waitFor(`document.getElementById('msg-status').textContent === 'connected as ida and ole'`, 10000, 'both connected');
  for (const t of ['first note', 'second note'])
    await p.evaluate(`document.getElementById('msg-text').value = ${JSON.stringify(t)}; document.getElementById('msg-send').click()`);
  await p.waitFor(`document.getElementById('msg-log').textContent === 'ida: first note\\nida: second note\\n'`, 10000, 'both notes in the inbox');
  await p.screenshot('landing-messaging');
  // read by the page: a new connection of ole's gets nothing stored
  const { connect } = require('./lib/client');
  await new Promise((r) => setTimeout(r, 500));
  const ole = await connect(`ws://127.0.0.1:${srv.port}/messaging?client_id=ole`);
  const got = await ole.next(1500).catch(() => null);
  assert.equal(got, null, `stored again: ${got}`);
  ole.close();
}, { timeout: 60000 });

run({
  async after() {
    if (browser) await browser.close();
    if (srv) await srv.stop();
    if (www) fs.rmSync(www, { recursive: true, force: true });
  },
});
