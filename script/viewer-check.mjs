#!/usr/bin/env node
// Watches one stream's viewer page (/watch/{stream}) with several viewers at once, each in its own
// headless Chromium context (Debian's /usr/bin/chromium driven by playwright-core, as
// script/browser-check.mjs does) with a test wallet injected as window.ethereum, and prints what
// each viewer saw and paid as one JSON object on stdout. Used by the Rust tests of paid streams;
// install the browser with `source script/lib.sh; ensure_node_toolchain; ensure_browser`.
//
//   node script/viewer-check.mjs --url http://HOST/watch/STREAM --rpc http://RPC --viewer KEYHEX
//       [--viewer KEYHEX]... --watch-ms N [options]
//     --viewer KEYHEX          a viewer's secp256k1 key (its wallet account); repeatable, in order
//     --watch-ms N             how long every viewer watches, from when its session is open
//     --stop-paying I:MS       viewer I (from 0) calls peerflowWatch.stopPaying() MS after it
//                              started watching (repeatable)
//     --resume-paying I:MS     viewer I calls peerflowWatch.resumePaying() MS after it started
//                              watching (repeatable)
//     --tip I:WEI:MESSAGE      viewer I tips WEI with MESSAGE through the page's tip form once it
//                              starts watching (repeatable; the message may contain ':')
//     --subscribe I:PERIODS    viewer I subscribes for PERIODS through the page's button
//     --timeout MS             limit for navigation, #connect and each transaction (default 60000)
//
// The wallet, per viewer, answers the page's EIP-1193 requests in Node, independently of the page's
// own crypto: eth_requestAccounts / eth_accounts give the key's address; eth_signTypedData_v4 is
// `cast wallet sign --data`; eth_sendTransaction is `cast mktx` (the nonce from the RPC's pending
// count) sent with eth_sendRawTransaction; everything else (eth_chainId, eth_getTransactionReceipt,
// eth_call …) goes to --rpc as JSON-RPC.
//
// Output: {"viewers": [{address, state: peerflowWatch.state() at the end, playedSeconds, stalledSince,
// samples: [[ms, currentTime]...], tip: {tx, status} | null, subscribe: {tx, status} | null,
// wallet: [{method, error}], console: [{type, text}], pageErrors: [...]}]}. Times (ms) count from
// the start of that viewer's watching; samples are SAMPLE_MS apart. playedSeconds adds up
// currentTime's advances between samples, leaving out jumps (a seek to the live edge); stalledSince
// is the time of the last such advance when the video then played nothing for STALL_MS or more up
// to the end (0 if it never played), else null. Exit status 0 when every viewer's run was collected;
// 1 (with {"error": ...} on stdout) when the browser or a page failed; 2 on bad arguments.

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, execFile } from 'node:child_process';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
// The flags this machine's closed network needs (no background connections to Google's hosts),
// as root (no sandbox) and without a GPU; the same as browser-check.mjs.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];
const SAMPLE_MS = 500;
const STALL_MS = 1500;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function usage(message) {
  process.stderr.write(`viewer-check: ${message}\nusage: node script/viewer-check.mjs --url URL --rpc URL --viewer KEYHEX [--viewer KEYHEX]... --watch-ms N [--stop-paying I:MS]... [--resume-paying I:MS]... [--tip I:WEI:MESSAGE]... [--subscribe I:PERIODS]... [--timeout MS]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { url: null, rpc: null, keys: [], watchMs: null, stopPaying: [], resumePaying: [], tips: [], subscribes: [], timeout: 60000 };
  const number = (flag, v) => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isInteger(n) || n < 0) usage(`${flag} takes a whole number, not ${v}`);
    return n;
  };
  // "I:REST" with I a viewer index; REST split at its first `parts - 1` colons.
  const indexed = (flag, v, parts) => {
    if (v === undefined) usage(`${flag} takes INDEX:…`);
    const fields = v.split(':');
    if (fields.length < parts) usage(`${flag} takes ${parts} ':'-separated fields, not ${v}`);
    return [number(flag, fields[0]), ...fields.slice(1, parts - 1), fields.slice(parts - 1).join(':')];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? usage(`${a} takes a value`);
    switch (a) {
      case '--url': opts.url = next(); break;
      case '--rpc': opts.rpc = next(); break;
      case '--viewer': {
        const key = next().replace(/^0x/, '');
        if (!/^[0-9a-fA-F]{64}$/.test(key)) usage('--viewer takes a 32-byte hex key');
        opts.keys.push(`0x${key}`);
        break;
      }
      case '--watch-ms': opts.watchMs = number(a, argv[++i]); break;
      case '--stop-paying': {
        const [index, ms] = indexed(a, argv[++i], 2);
        opts.stopPaying.push({ index, ms: number(a, ms) });
        break;
      }
      case '--resume-paying': {
        const [index, ms] = indexed(a, argv[++i], 2);
        opts.resumePaying.push({ index, ms: number(a, ms) });
        break;
      }
      case '--tip': {
        const [index, wei, message] = indexed(a, argv[++i], 3);
        if (!/^\d+$/.test(wei)) usage(`--tip amount is wei as a decimal integer, not ${wei}`);
        opts.tips.push({ index, wei: BigInt(wei), message });
        break;
      }
      case '--subscribe': {
        const [index, periods] = indexed(a, argv[++i], 2);
        opts.subscribes.push({ index, periods: number(a, periods) });
        break;
      }
      case '--timeout': opts.timeout = number(a, argv[++i]); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!opts.url) usage('--url is required');
  if (!opts.rpc) usage('--rpc is required');
  if (!opts.keys.length) usage('at least one --viewer is required');
  if (opts.watchMs === null) usage('--watch-ms is required');
  for (const { index } of [...opts.stopPaying, ...opts.resumePaying, ...opts.tips, ...opts.subscribes]) {
    if (index >= opts.keys.length) usage(`viewer ${index} does not exist (${opts.keys.length} --viewer given)`);
  }
  return opts;
}

// ---- The test wallet, in Node ----

// The real binary: node_modules/.bin/cast is npm's launcher, which exits 0 even when cast fails.
function castBinary() {
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
  const real = join(ROOT, `node_modules/@foundry-rs/cast-linux-${arch}/bin/cast`);
  return existsSync(real) ? real : 'cast';
}
const CAST = castBinary();

function cast(args) {
  return new Promise((resolve, reject) => {
    execFile(CAST, args, { timeout: 60000 }, (error, stdout, stderr) => {
      // The key is an argument: never repeat the command line in an error.
      if (error) reject(new Error(`cast ${args[0]} ${args[1] ?? ''} failed: ${(stderr || error.message).trim()}`));
      else resolve(stdout.trim());
    });
  });
}

let rpcId = 0;
async function rpc(url, method, params) {
  const reply = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
  });
  const body = await reply.json();
  return body.error ? { error: { code: body.error.code, message: body.error.message, data: body.error.data } } : { result: body.result };
}

// One EIP-1193 request from viewer's page: {result} or {error: {code, message}}.
async function walletRequest(opts, viewer, method, params) {
  const refuse = (code, message) => ({ error: { code, message } });
  const mine = (address) => typeof address === 'string' && address.toLowerCase() === viewer.address.toLowerCase();
  switch (method) {
    case 'eth_requestAccounts':
    case 'eth_accounts':
      return { result: [viewer.address] };
    case 'eth_signTypedData_v4': {
      const [address, data] = params;
      if (!mine(address)) return refuse(4100, `not this wallet's account: ${address}`);
      const json = typeof data === 'string' ? data : JSON.stringify(data);
      const signature = await cast(['wallet', 'sign', '--private-key', viewer.key, '--data', json]);
      if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new Error(`cast wallet sign printed ${signature}`);
      return { result: signature };
    }
    case 'eth_sendTransaction': {
      const [tx] = params;
      if (!tx || !mine(tx.from)) return refuse(4100, `not this wallet's account: ${tx && tx.from}`);
      if (!tx.to) return refuse(4200, 'the test wallet does not deploy contracts');
      // One transaction at a time per viewer, each with the next nonce the node knows of.
      const previous = viewer.sending;
      let done;
      viewer.sending = new Promise((r) => { done = r; });
      await previous;
      try {
        const nonce = await rpc(opts.rpc, 'eth_getTransactionCount', [viewer.address, 'pending']);
        if (nonce.error) return nonce;
        const args = ['mktx', '--private-key', viewer.key, '--rpc-url', opts.rpc, '--nonce', String(BigInt(nonce.result))];
        if (tx.value) args.push('--value', BigInt(tx.value).toString());
        if (tx.gas) args.push('--gas-limit', BigInt(tx.gas).toString());
        args.push(tx.to, tx.data || tx.input || '0x');
        const raw = await cast(args);
        return await rpc(opts.rpc, 'eth_sendRawTransaction', [raw]);
      } finally {
        done();
      }
    }
    case 'eth_sign':
    case 'personal_sign':
    case 'eth_signTransaction':
      return refuse(4200, `the test wallet does not support ${method}`);
    default:
      return rpc(opts.rpc, method, params);
  }
}

// In every page of a viewer's context, before the page's scripts: the EIP-1193 provider.
const WALLET_SCRIPT = `
window.ethereum = {
  isPeerflowTestWallet: true,
  async request({ method, params }) {
    const reply = await window.__peerflowWallet(method, params === undefined ? [] : params);
    if (reply.error) {
      const error = new Error(reply.error.message);
      error.code = reply.error.code;
      error.data = reply.error.data;
      throw error;
    }
    return reply.result;
  },
  on() {},
  removeListener() {},
};`;

// ---- One viewer ----

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function formatTokens(wei) {
  const unit = 10n ** 18n;
  const frac = (wei % unit).toString().padStart(18, '0').replace(/0+$/, '');
  return frac ? `${wei / unit}.${frac}` : `${wei / unit}`;
}

const pageState = (page) => page.evaluate(() => window.peerflowWatch.state());

/** Waits until the page's state satisfies `done` (a function of the state), up to `timeout`. */
async function until(page, done, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const s = await pageState(page);
    if (done(s) || Date.now() > deadline) return s;
    await sleep(250);
  }
}

/** Fills the form, presses its button and waits for the transactions; {tx, status} or null. */
async function support(page, name, fill, button, timeout) {
  await fill();
  await page.click(button);
  const s = await until(page, (s) => s[name] && !['approving', 'sending'].includes(s[name].status), 2 * timeout);
  return s[name] ? { tx: s[name].tx, status: s[name].status } : { tx: null, status: 'not sent' };
}

function summarize(samples) {
  let played = 0;
  let lastAdvance = null;
  for (let i = 1; i < samples.length; i++) {
    const [ms0, t0] = samples[i - 1];
    const [ms1, t1] = samples[i];
    const advance = t1 - t0;
    // Playback, not a seek: no faster than the wall clock, give or take the sampling jitter.
    if (advance > 0.01 && advance <= ((ms1 - ms0) / 1000) * 1.5 + 0.25) {
      played += advance;
      lastAdvance = ms1;
    }
  }
  const end = samples.length ? samples[samples.length - 1][0] : 0;
  const still = lastAdvance ?? 0;
  return { playedSeconds: Math.round(played * 1000) / 1000, stalledSince: end - still >= STALL_MS ? still : null };
}

async function watch(browser, opts, index) {
  const viewer = { key: opts.keys[index], address: null, sending: Promise.resolve() };
  viewer.address = await cast(['wallet', 'address', '--private-key', viewer.key]);
  const report = { address: viewer.address, state: null, playedSeconds: 0, stalledSince: null, samples: [], tip: null, subscribe: null, wallet: [], console: [], pageErrors: [] };
  const context = await browser.newContext();
  try {
    await context.exposeBinding('__peerflowWallet', async (_source, method, params) => {
      const entry = { method, error: null };
      report.wallet.push(entry);
      try {
        const reply = await walletRequest(opts, viewer, method, params);
        if (reply.error) entry.error = reply.error.message;
        return reply;
      } catch (e) {
        entry.error = e.message;
        return { error: { code: -32603, message: e.message } };
      }
    });
    await context.addInitScript(WALLET_SCRIPT);
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') report.console.push({ type: m.type(), text: m.text() }); });
    page.on('pageerror', (e) => report.pageErrors.push(String(e)));
    await page.goto(opts.url, { timeout: opts.timeout, waitUntil: 'load' });
    await page.waitForFunction(() => window.peerflowWatch, null, { timeout: opts.timeout });
    const offered = await until(page, (s) => s.paid !== null || s.errors.length > 0, opts.timeout);
    if (offered.paid) {
      await page.click('#connect', { timeout: opts.timeout });
      await until(page, (s) => s.session || s.errors.length > 0, opts.timeout);
    }

    const start = Date.now();
    const at = (list, call) => list
      .filter((s) => s.index === index)
      .map((s) => setTimeout(() => page.evaluate(call).catch(() => {}), s.ms));
    const timers = [
      ...at(opts.stopPaying, () => window.peerflowWatch.stopPaying()),
      ...at(opts.resumePaying, () => window.peerflowWatch.resumePaying()),
    ];
    // One wallet transaction at a time, as a person would: the tips, then the subscriptions.
    let actions = Promise.resolve();
    for (const t of opts.tips.filter((t) => t.index === index)) {
      actions = actions.then(() => support(page, 'tip', async () => {
        await page.fill('#tip-amount', formatTokens(t.wei));
        await page.fill('#tip-message', t.message);
      }, '#tip-send', opts.timeout)).then((r) => { report.tip = r; });
    }
    for (const s of opts.subscribes.filter((s) => s.index === index)) {
      actions = actions.then(() => support(page, 'subscribe', () => page.fill('#subscribe-periods', String(s.periods)), '#subscribe', opts.timeout))
        .then((r) => { report.subscribe = r; });
    }
    while (Date.now() - start < opts.watchMs) {
      const time = await page.evaluate(() => { const v = document.querySelector('video'); return v ? v.currentTime : null; });
      report.samples.push([Date.now() - start, time]);
      await sleep(Math.min(SAMPLE_MS, Math.max(0, opts.watchMs - (Date.now() - start))));
    }
    timers.forEach(clearTimeout);
    await actions;
    Object.assign(report, summarize(report.samples));
    report.state = await pageState(page);
  } finally {
    await context.close().catch(() => {});
  }
  return report;
}

// ---- Chromium, as browser-check.mjs starts it ----

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
  let viewers;
  try {
    viewers = await Promise.all(opts.keys.map((_, index) => watch(browser, opts, index)));
  } finally {
    await closeChromium(browser, chrome);
    rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify({ viewers }) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e && e.message ? e.message : e) }) + '\n');
  process.stderr.write(`viewer-check: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
