// Headless Chromium (Debian's) against the real server, through Galène's
// HTTP surface and protocol: a test page of our own (galene/page/, no
// Galène files) served at /group/test/ as --galene-static's galene.html
// finds the WebSocket from .status, joins with version "2" and chats; a
// Node client in the same group chats back. What the page shows is
// asserted, and a screenshot kept in build/test-logs/galene-chat.png.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test, run, assert } = require('./lib/harness');
const { startServer } = require('./lib/server');
const { connect } = require('./lib/client');
const { launch } = require('./lib/chromium');

let srv, browser, page, root;

function setup() {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galbrowser-'));
  fs.chmodSync(root, 0o755); // the workers' user reads the page
  const www = path.join(root, 'static'), groups = path.join(root, 'groups');
  fs.mkdirSync(www);
  fs.mkdirSync(groups);
  for (const f of fs.readdirSync(path.join(__dirname, 'galene', 'page')))
    fs.copyFileSync(path.join(__dirname, 'galene', 'page', f), path.join(www, f));
  fs.copyFileSync(path.join(__dirname, 'galene', 'groups', 'test.json'), path.join(groups, 'test.json'));
  return { www, groups };
}

async function nodeMember(username, password) {
  const ws = await connect(srv.url('/ws'));
  ws.sendJSON({ type: 'handshake', version: ['2'], id: 'node-' + username });
  assert.equal((await ws.nextJSON()).type, 'handshake');
  ws.sendJSON({ type: 'join', kind: 'join', group: 'test', username, password });
  for (;;) {
    const m = await ws.nextJSON();
    if (m.type === 'joined') { assert.equal(m.kind, 'join', JSON.stringify(m)); return ws; }
  }
}

// The next chat message the Node member gets.
async function nextChat(ws) {
  for (;;) {
    const m = await ws.nextJSON(15000);
    if (m.type === 'chat') return m;
  }
}

test('Chromium loads /group/test/ (our page, its CSS and script under Galène\'s CSP) and reads .status', async () => {
  browser = await launch();
  page = await browser.open(`http://127.0.0.1:${srv.port}/group/test/?username=alice&password=alicepw`);
  assert.equal(await page.evaluate('document.title'), 'switchboard Galène test page');
  await page.waitFor('window.groupStatus', 15000, '.status fetched');
  const st = await page.evaluate('window.groupStatus');
  assert.equal(st.name, 'test');
  assert.equal(st.endpoint, `ws://127.0.0.1:${srv.port}/ws`);
  assert.equal(await page.evaluate('document.getElementById("group").textContent'), 'Protocol test group');
  // the stylesheet came from --galene-static and applied
  assert.equal(await page.evaluate('getComputedStyle(document.getElementById("state")).color'), 'rgb(85, 85, 85)');
}, { timeout: 90000 });

test('the page joins over Galène\'s protocol and chats with a Node member both ways', async () => {
  await page.waitFor('document.getElementById("state").textContent.startsWith("joined as alice")', 20000, 'joined');
  const bob = await nodeMember('bob', 'bobpw');
  bob.sendJSON({ type: 'chat', source: 'node-bob', username: 'bob', dest: '', kind: '', value: 'hello from node' });
  await page.waitFor('[...document.querySelectorAll("#chat li")].some((li) => li.textContent === "bob: hello from node")',
    15000, 'bob\'s line on the page');
  // typed into the page's form, as a person would
  await page.evaluate(`document.getElementById("text").value = "hello from chromium";
    document.getElementById("form").requestSubmit(); true`);
  let m = await nextChat(bob);
  while (m.value === 'hello from node') m = await nextChat(bob); // bob's own, echoed
  assert.equal(m.value, 'hello from chromium');
  assert.equal(m.username, 'alice');
  assert.ok(m.id && m.time, 'server-stamped');
  await page.waitFor('document.querySelector("#chat li.me")?.textContent === "alice: hello from chromium"', 15000,
    'the page\'s own line, echoed by the server');
  const lines = await page.evaluate('[...document.querySelectorAll("#chat li")].map((li) => li.textContent)');
  assert.deepEqual(lines, ['bob: hello from node', 'alice: hello from chromium']);
  const file = await page.screenshot('galene-chat');
  assert.ok(fs.statSync(file).size > 1000, 'a screenshot in the test logs');
  bob.close();
}, { timeout: 60000 });

run({
  async before() {
    const { www, groups } = setup();
    srv = await startServer({ args: ['--galene-groups', groups, '--galene-static', www] });
  },
  async after() {
    if (browser) await browser.close();
    if (srv) await srv.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  },
});
