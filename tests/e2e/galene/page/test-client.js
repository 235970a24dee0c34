// The test page's client: Galène's protocol as its sheet describes it.
// GET .status (relative to /group/<name>/) for the endpoint, handshake
// version "2", join with the username and password of the page's query,
// then show every chat message and send what the form says.
'use strict';
const params = new URLSearchParams(location.search);
const username = params.get('username') || 'guest';
const password = params.get('password') || '';
const id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
const $ = (x) => document.getElementById(x);
let ws = null;
let joined = false;

function state(text) { $('state').textContent = text; }

function show(m) {
  const li = document.createElement('li');
  li.textContent = `${m.username || '(anonymous)'}: ${m.value}`;
  if (m.source === id) li.className = 'me';
  $('chat').appendChild(li);
}

function send(o) { ws.send(JSON.stringify(o)); }

function chat(value) {
  send({ type: 'chat', source: id, username, dest: '', kind: '', value });
}
window.chat = chat;

function onMessage(e) {
  const m = JSON.parse(e.data);
  if (m.type === 'handshake') {
    send({ type: 'join', kind: 'join', group: window.groupStatus.name, username, password });
  } else if (m.type === 'ping') {
    send({ type: 'pong' });
  } else if (m.type === 'joined' && m.kind === 'join') {
    joined = true;
    state(`joined as ${m.username} with ${(m.permissions || []).join(',')}`);
  } else if (m.type === 'joined' && m.kind === 'fail') {
    state(`join failed: ${m.value}`);
  } else if (m.type === 'chat' || m.type === 'chathistory') {
    show(m);
  }
}

async function start() {
  const r = await fetch('.status');
  window.groupStatus = await r.json();
  $('group').textContent = window.groupStatus.displayName || window.groupStatus.name;
  state(`connecting to ${window.groupStatus.endpoint}`);
  ws = new WebSocket(window.groupStatus.endpoint);
  ws.onopen = () => send({ type: 'handshake', version: ['2'], id });
  ws.onmessage = onMessage;
  ws.onclose = (e) => state(`closed ${e.code} ${e.reason}`);
}

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (joined && $('text').value) chat($('text').value);
  $('text').value = '';
});

start().catch((e) => state(`error: ${e}`));
