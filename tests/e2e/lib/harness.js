// A small sequential test harness: prints "ok - name" / "not ok - name" per
// test and a summary; the top-level runner counts these lines.
'use strict';
const assert = require('node:assert/strict');

const tests = [];
let only = process.env.SB_ONLY ? new RegExp(process.env.SB_ONLY) : null;

function test(name, fn, opts = {}) {
  tests.push({ name, fn, timeout: opts.timeout || 20000 });
}

function withTimeout(p, ms, name) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${name}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function run(hooks = {}) {
  let passed = 0, failed = 0;
  const file = require('node:path').basename(process.argv[1]);
  try {
    if (hooks.before) await hooks.before();
  } catch (e) {
    console.log(`not ok - ${file}: setup failed\n  # ${String(e && e.stack || e).split('\n').join('\n  # ')}`);
    failed++;
  }
  if (!failed) {
    for (const t of tests) {
      if (only && !only.test(t.name)) continue;
      try {
        await withTimeout(Promise.resolve().then(() => t.fn()), t.timeout, t.name);
        console.log(`ok - ${t.name}`);
        passed++;
      } catch (e) {
        console.log(`not ok - ${t.name}\n  # ${String(e && e.stack || e).split('\n').slice(0, 60).join('\n  # ')}`);
        failed++;
        // SB_HOLD_ON_FAIL keeps the processes alive for a post-mortem
        if (process.env.SB_HOLD_ON_FAIL) { console.log('# holding'); await sleep(3600e3); }
      }
    }
  }
  try {
    if (hooks.after) await hooks.after();
  } catch (e) {
    console.log(`not ok - ${file}: teardown failed: ${e}`);
    failed++;
  }
  console.log(`# ${file}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls cond() until true or timeout; for waits on other processes.
async function until(cond, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await sleep(20);
  }
}

module.exports = { test, run, assert, sleep, until };
