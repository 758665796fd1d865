#!/usr/bin/env node
// Opens a page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core from
// node_modules) and prints what was asked for as one JSON object on stdout. Used by the Rust tests
// of the agents' web pages (agents/peerflow/tests/web.rs); install the browser with
// `source script/lib.sh; ensure_node_toolchain; ensure_browser`.
//
//   node script/browser-check.mjs URL [options]
//     --wait-for SELECTOR  wait until an element matches SELECTOR before collecting anything
//     --fields             every element with a data-field attribute: its field, its value
//                          (data-value if set, else its text) and the data-* attributes of it
//                          and its ancestors (the nearest wins), e.g. {"stream": "cam1"}
//     --videos MS          for each <video>: wait until it plays, then read currentTime twice,
//                          MS milliseconds apart
//     --play-timeout MS    how long each video may take to start playing (default 30000)
//     --eval EXPR          a JavaScript expression evaluated in the page (repeatable); its
//                          JSON-serializable result goes under "eval"
//     --timeout MS         navigation and --wait-for limit (default 30000)
//
// Output: {"url", "title", "fields": [{field, value, text, data}], "videos": [{index, data,
// currentTime: [t0, t1], paused, readyState, error}], "eval": [...], "console": [{type, text}],
// "pageErrors": [...], "failedRequests": [{url, failure}]}. Exit status 0 when everything asked
// for was collected; 1 (with {"error": ...} on stdout) when the browser, the page or a wait failed;
// 2 on bad arguments.

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
// The flags this machine's closed network needs (no background connections to Google's hosts),
// as root (no sandbox) and without a GPU.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function usage(message) {
  process.stderr.write(`browser-check: ${message}\nusage: node script/browser-check.mjs URL [--wait-for SEL] [--fields] [--videos MS] [--play-timeout MS] [--eval EXPR]... [--timeout MS]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { url: null, waitFor: null, fields: false, videos: null, playTimeout: 30000, eval: [], timeout: 30000 };
  const number = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) usage(`${flag} takes a number of milliseconds, not ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--wait-for': opts.waitFor = argv[++i] ?? usage('--wait-for takes a selector'); break;
      case '--fields': opts.fields = true; break;
      case '--videos': opts.videos = number(a, argv[++i]); break;
      case '--play-timeout': opts.playTimeout = number(a, argv[++i]); break;
      case '--eval': opts.eval.push(argv[++i] ?? usage('--eval takes an expression')); break;
      case '--timeout': opts.timeout = number(a, argv[++i]); break;
      default:
        if (a.startsWith('-')) usage(`unknown option ${a}`);
        if (opts.url) usage(`one URL only (got ${opts.url} and ${a})`);
        opts.url = a;
    }
  }
  if (!opts.url) usage('a URL is required');
  return opts;
}

// In the page: every [data-field] with its value and the data-* of it and its ancestors.
function collectFields() {
  return [...document.querySelectorAll('[data-field]')].map((el) => {
    const data = {};
    for (let node = el; node && node.dataset; node = node.parentElement) {
      for (const [k, v] of Object.entries(node.dataset)) if (!(k in data)) data[k] = v;
    }
    delete data.field;
    delete data.value;
    const text = el.textContent.trim();
    return { field: el.dataset.field, value: el.dataset.value ?? text, text, data };
  });
}

async function sampleVideos(page, interval, playTimeout) {
  const count = await page.locator('video').count();
  const videos = [];
  for (let index = 0; index < count; index++) {
    const video = page.locator('video').nth(index);
    // Playing: some media decoded and the clock running.
    await video.evaluate(
      (v, timeout) => new Promise((resolve, reject) => {
        const started = () => v.currentTime > 0 && !v.paused && v.readyState >= 2;
        if (started()) return resolve();
        const timer = setTimeout(() => reject(new Error(`video ${v.dataset.stream ?? ''} did not start playing within ${timeout} ms (readyState ${v.readyState}, paused ${v.paused}, error ${v.error && v.error.message})`)), timeout);
        v.addEventListener('timeupdate', function check() {
          if (started()) { clearTimeout(timer); v.removeEventListener('timeupdate', check); resolve(); }
        });
      }),
      playTimeout,
    );
    videos.push({ index, video });
  }
  const read = (video) => video.evaluate((v) => v.currentTime);
  const first = await Promise.all(videos.map(({ video }) => read(video)));
  await new Promise((r) => setTimeout(r, interval));
  const out = [];
  for (const [i, { index, video }] of videos.entries()) {
    const state = await video.evaluate((v) => ({
      data: { ...v.dataset },
      currentTime: v.currentTime,
      paused: v.paused,
      readyState: v.readyState,
      error: v.error ? { code: v.error.code, message: v.error.message } : null,
    }));
    out.push({ index, data: state.data, currentTime: [first[i], state.currentTime], paused: state.paused, readyState: state.readyState, error: state.error });
  }
  return out;
}

// Chromium prints `DevTools listening on ws://…` on stderr once its port is open.
function devtoolsEndpoint(chrome, timeout) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not open its DevTools port within ${timeout} ms: ${seen.slice(-2000)}`)), timeout);
    chrome.stderr.setEncoding('utf8');
    chrome.stderr.on('data', (chunk) => {
      seen += chunk;
      const m = seen.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    chrome.on('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`chromium exited (${code ?? signal}) before opening its DevTools port: ${seen.slice(-2000)}`)); });
    chrome.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

// Asks Chromium to quit (so it ends its own helper processes), killing it if it does not within 5 s.
async function closeChromium(browser, chrome) {
  const exited = new Promise((r) => (chrome.exitCode !== null || chrome.signalCode !== null ? r() : chrome.once('exit', r)));
  try {
    const cdp = await browser.newBrowserCDPSession();
    await cdp.send('Browser.close');
  } catch {
    // Already gone, or not answering: the kill below ends it.
  }
  const timer = setTimeout(() => chrome.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run \`source script/lib.sh; ensure_browser\``);
  }
  const profile = mkdtempSync(join(tmpdir(), 'peerflow-chromium-'));
  const report = { url: opts.url, console: [], pageErrors: [], failedRequests: [] };
  // Chromium is started here, not by Playwright, so that it gets exactly FLAGS, its fresh profile
  // and a DevTools port, none of Playwright's default switches; Playwright attaches over CDP.
  const chrome = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let browser;
  try {
    browser = await chromium.connectOverCDP(await devtoolsEndpoint(chrome, opts.timeout), { timeout: opts.timeout });
  } catch (e) {
    chrome.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  try {
    const context = browser.contexts()[0] ?? (await browser.newContext());
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') report.console.push({ type: m.type(), text: m.text() }); });
    page.on('pageerror', (e) => report.pageErrors.push(String(e)));
    page.on('requestfailed', (r) => report.failedRequests.push({ url: r.url(), failure: r.failure()?.errorText ?? null }));
    const response = await page.goto(opts.url, { timeout: opts.timeout, waitUntil: 'load' });
    report.status = response ? response.status() : null;
    if (opts.waitFor) await page.waitForSelector(opts.waitFor, { timeout: opts.timeout, state: 'attached' });
    if (opts.videos !== null) report.videos = await sampleVideos(page, opts.videos, opts.playTimeout);
    if (opts.fields) report.fields = await page.evaluate(collectFields);
    if (opts.eval.length) {
      report.eval = [];
      for (const expr of opts.eval) report.eval.push(await page.evaluate(expr));
    }
    report.title = await page.title();
  } finally {
    await closeChromium(browser, chrome);
    rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e && e.message ? e.message : e) }) + '\n');
  process.stderr.write(`browser-check: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
