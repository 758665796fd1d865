// The viewer's page for one stream, /watch/{stream}. A free stream just plays. A paid one waits for
// #connect: the wallet (EIP-1193) signs one SignerGrant for a key made here, the broadcaster opens a
// session (POST /v1/watch/{stream}/sessions), and from then on the page polls the session every
// POLL_MS and signs, with that key, each ticket the session says is due, after checking it is the
// ticket the offer promised; hls.js sends the session id on every request. Tips and subscriptions
// are the wallet's own transactions. Numbers go into [data-field] elements as app.js writes them
// (data-value exact, text human). window.peerflowWatch is for the browser tests.
import * as eth from './eth.js';

const POLL_MS = 1000;
const RECEIPT_POLL_MS = 1000;
const RECEIPT_TIMEOUT_MS = 180000;
const PLAYER_RESTART_MS = 3000;
const MAX_ERRORS = 50;
const MESSAGE_MAX_BYTES = 280;
const VIEWER_HEADER = 'X-Peerflow-Viewer';
// The longest the page lets a grant authorize its key (rounds) and wait to be relayed (seconds),
// whatever the offer suggests.
const MAX_GRANT_ROUNDS = 1000;
const MAX_DEADLINE_SECS = 3600;

const stream = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop());
const streamApi = `/v1/watch/${encodeURIComponent(stream)}`;

const state = {
  offer: null,
  funder: null,
  hotKey: null, // { secretKey, address }: signs the tickets, authorized by the funder's grant
  session: null,
  view: null, // the latest SessionView
  ticketsSigned: 0,
  lastSenderNonce: -1n,
  paying: true,
  fetchedSeqs: new Set(),
  fetchedMs: 0, // media the player received in this session: the most the page pays for, plus credit
  last402Code: null,
  tip: null,
  subscribe: null,
  errors: [],
  hls: null,
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(`${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  const reply = await fetch(path, {
    method,
    cache: 'no-store',
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await reply.json().catch(() => null);
  if (!reply.ok) throw new ApiError(reply.status, json?.error?.code ?? `http_${reply.status}`, json?.error?.message ?? reply.statusText);
  return json;
}

// ---- Showing ----

function put(field, value, text = value) {
  for (const el of document.querySelectorAll(`[data-field="${field}"]`)) {
    el.dataset.value = value === null || value === undefined ? '' : String(value);
    el.textContent = text === null || text === undefined ? '–' : String(text);
  }
}

function show(field, message) {
  for (const el of document.querySelectorAll(`[data-field="${field}"]`)) {
    el.hidden = !message;
    el.textContent = message || '';
  }
}

const tokens = (wei) => (wei === null || wei === undefined ? [null, null] : [wei, `${eth.formatUnits(wei)} tokens`]);
const duration = (s) => (s >= 86400 ? `${+(s / 86400).toFixed(1)} days` : s >= 3600 ? `${+(s / 3600).toFixed(1)} h` : `${s} s`);
const seconds = (ms) => (ms === null || ms === undefined ? [null, null] : [ms, `${(ms / 1000).toFixed(1)} s`]);

function report(message) {
  if (state.errors[state.errors.length - 1] !== message) state.errors.push(message);
  if (state.errors.length > MAX_ERRORS) state.errors.shift();
  show('error', message);
}

function renderOffer() {
  const o = state.offer;
  put('stream', o.stream);
  put('paid', o.paid, o.paid ? 'paid' : 'free');
  put('price-per-minute', o.pricePerMinute, o.paid ? `${eth.formatUnits(o.pricePerMinute)} tokens per minute` : 'free to watch');
  put('recipient', o.recipient);
  put('chain-id', o.chainId);
  put('ms-per-ticket', ...seconds(o.msPerTicket));
  put('min-deposit', ...tokens(o.minDeposit));
  put('subscription-price', ...tokens(o.subscriptionPrice));
  put('subscription-period', o.subscriptionPeriodSecs, duration(o.subscriptionPeriodSecs));
  const v = o.viewer;
  put('deposit', ...tokens(v && v.deposit));
  const until = v && v.subscribedUntil > Date.now() / 1000 ? v.subscribedUntil : null;
  put('subscribed-until', until, until && new Date(until * 1000).toLocaleString());
  document.getElementById('how').hidden = !o.paid;
  document.getElementById('connect').textContent = o.paid ? 'Connect wallet and watch' : 'Connect wallet (tips, subscription)';
}

function renderPayment() {
  const v = state.view;
  put('funder', state.funder);
  put('signer', state.hotKey && state.hotKey.address);
  put('paid-ms', ...seconds(v && v.paidMs));
  put('consumed-ms', ...seconds(v && v.consumedMs));
  put('due-ms', ...seconds(v && v.dueMs));
  put('credit-ms', ...seconds(v && v.creditMs));
  put('tickets-signed', state.ticketsSigned);
  put('tickets-accepted', v && v.ticketsAccepted);
  let payment = 'not connected';
  if (v) payment = v.state === 'cut_off' ? 'cut off' : v.subscriber ? 'subscriber' : state.paying ? 'paying' : 'not paying';
  else if (state.offer && !state.offer.paid) payment = 'free stream';
  put('payment', payment);
  show('last-402', state.last402Code && `last refused segment: ${state.last402Code}`);
  const status = (s) => s && `${s.status}${s.tx ? ` (${s.tx})` : ''}`;
  show('tip-status', status(state.tip));
  show('subscribe-status', status(state.subscribe));
}

// ---- The offer and the wallet ----

async function loadOffer() {
  const query = state.funder ? `?viewer=${state.funder}` : '';
  state.offer = await call('GET', `${streamApi}/offer${query}`);
  renderOffer();
  return state.offer;
}

async function wallet(method, params = []) {
  if (!window.ethereum) throw new Error('no Ethereum wallet in this browser');
  return window.ethereum.request({ method, params });
}

/** The wallet's account, on the offer's chain; reloads the offer with the viewer's figures. */
async function connectWallet() {
  if (state.funder) return state.funder;
  const accounts = await wallet('eth_requestAccounts');
  if (!accounts || !accounts.length) throw new Error('the wallet shared no account');
  const chainId = Number(BigInt(await wallet('eth_chainId')));
  if (chainId !== state.offer.chainId) throw new Error(`the wallet is on chain ${chainId}, the stream is paid on chain ${state.offer.chainId}`);
  state.funder = eth.normalizeAddress(accounts[0]);
  await loadOffer();
  renderPayment();
  return state.funder;
}

// ---- The session: one grant, then tickets ----

async function openSession() {
  const funder = await connectWallet();
  const o = state.offer;
  state.hotKey = eth.newKey();
  state.lastSenderNonce = -1n; // a new key's nonces start again
  // The page's own bounds on what the wallet is asked to sign, whatever the offer suggests.
  const grant = eth.signerGrantTypedData({
    chainId: o.chainId,
    broker: o.broker,
    funder,
    signer: state.hotKey.address,
    recipient: o.recipient,
    maxSpend: o.grantMaxSpend,
    untilRound: BigInt(o.round) + BigInt(Math.min(o.grantRounds, MAX_GRANT_ROUNDS)),
    nonce: o.viewer.grantNonce,
    deadline: Math.floor(Date.now() / 1000) + Math.min(o.deadlineSecs, MAX_DEADLINE_SECS),
  });
  const signature = eth.canonicalV(await wallet('eth_signTypedData_v4', [funder, JSON.stringify(grant)]));
  // The wallet hashed the same typed data: a mismatch here is a bug in one of the two.
  const recovered = eth.recoverAddress(eth.hashTypedData(grant), signature);
  if (recovered !== funder) report(`the wallet's grant signature recovers to ${recovered}, not ${funder}`);
  const view = await call('POST', `${streamApi}/sessions`, { funder, signer: state.hotKey.address, ...grant.message, signature });
  state.session = view.session;
  onView(view);
  attachPlayer();
  schedulePoll(0);
}

function onView(view) {
  state.view = view;
  renderPayment();
}

/** Why the page refuses to sign the ticket `view` asks for, or null when it is the promised one. */
function ticketProblem(view) {
  const t = view.ticket;
  const o = state.offer;
  const same = (a, b) => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
  if (!same(t.recipient, o.recipient)) return `the ticket pays ${t.recipient}, not the streamer ${o.recipient}`;
  if (!same(t.sender, state.funder)) return `the ticket draws on ${t.sender}, not this wallet ${state.funder}`;
  if (!same(t.signer, state.hotKey.address)) return `the ticket names signer ${t.signer}, not this page's key`;
  if (BigInt(t.faceValue) !== BigInt(o.faceValue) || BigInt(t.winProb) !== BigInt(o.winProb)) return 'the ticket is not worth what the offer said';
  if (view.msPerTicket !== o.msPerTicket) return `a ticket now buys ${view.msPerTicket} ms, the offer said ${o.msPerTicket} ms`;
  if (BigInt(t.senderNonce) <= state.lastSenderNonce) return `ticket nonce ${t.senderNonce} was already used`;
  // The server counts what it served; the player counts what arrived, and pays for no more.
  if ((state.ticketsSigned + 1) * o.msPerTicket > state.fetchedMs) return `asked for ticket ${state.ticketsSigned + 1} (${(state.ticketsSigned + 1) * o.msPerTicket} ms), the player received ${Math.round(state.fetchedMs)} ms`;
  return null;
}

/** Signs and sends the due tickets one by one, each on the view the previous one returned. */
async function payDue() {
  const v0 = state.view;
  if (v0 && state.paying && v0.dueMs >= v0.msPerTicket && !v0.ticket && !v0.subscriber
      && BigInt(v0.grantLeft) < BigInt(state.offer.faceValue) && !state.regranting) {
    // The grant's cap is spent: a new key, and one more signature from the wallet.
    state.regranting = true;
    try {
      await openSession();
    } catch (e) {
      report(`a new grant: ${e.message}`);
    } finally {
      state.regranting = false;
    }
    return;
  }
  for (let v = state.view; v && state.paying && v.dueMs >= v.msPerTicket && v.ticket; v = state.view) {
    const problem = ticketProblem(v);
    if (problem) return report(`not paying: ${problem}`);
    const ticket = v.ticket;
    const digest = eth.hashTypedData(eth.ticketTypedData(state.offer, ticket));
    const signature = eth.signDigest(digest, state.hotKey.secretKey);
    state.lastSenderNonce = BigInt(ticket.senderNonce);
    state.ticketsSigned += 1;
    try {
      onView(await call('POST', `/v1/watch/sessions/${state.session}/tickets`, {
        recipientRandHash: ticket.recipientRandHash,
        senderNonce: ticket.senderNonce,
        signature,
      }));
    } catch (e) {
      // nothing_due / already_paid: the session moved on; the next poll shows where it is.
      if (!(e instanceof ApiError && e.status === 409)) report(`ticket ${ticket.senderNonce}: ${e.message}`);
      return;
    }
  }
}

let pollTimer = null;
let polling = false;

function schedulePoll(delay) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, delay);
}

async function poll() {
  if (polling || !state.session) return;
  polling = true;
  try {
    onView(await call('GET', `/v1/watch/sessions/${state.session}`));
    await payDue();
  } catch (e) {
    report(`session: ${e.message}`);
  } finally {
    polling = false;
    schedulePoll(POLL_MS);
  }
}

// ---- The player ----

/** A refused segment (402): note why, and look at the session now rather than at the next poll. */
function segmentRefused(xhr) {
  let code = 'payment';
  try {
    const body = typeof xhr.response === 'string' ? xhr.response : new TextDecoder().decode(xhr.response);
    code = JSON.parse(body).error.code;
  } catch {
    // Not the API's JSON error: keep the generic name.
  }
  state.last402Code = code;
  renderPayment();
  if (state.session) schedulePoll(0);
}

function attachPlayer() {
  if (state.hls) return;
  const video = document.querySelector('video');
  const playlist = `/live/${encodeURIComponent(stream)}/index.m3u8`;
  if (!(window.Hls && Hls.isSupported())) {
    // Native HLS sends no session header: it can play free streams only.
    if (!state.offer.paid && video.canPlayType('application/vnd.apple.mpegurl')) video.src = playlist;
    else show('player-error', 'this browser cannot play HLS (no Media Source Extensions)');
    return;
  }
  const policy = Hls.DefaultConfig.fragLoadPolicy.default;
  const hls = new Hls({
    liveSyncDurationCount: 2,
    xhrSetup(xhr, url) {
      xhr.open('GET', url, true);
      if (state.session) xhr.setRequestHeader(VIEWER_HEADER, state.session);
      xhr.addEventListener('load', () => { if (xhr.status === 402) segmentRefused(xhr); });
    },
    // A segment refused for payment comes once the ticket is in: keep asking, never give up.
    fragLoadPolicy: {
      default: {
        ...policy,
        errorRetry: { ...policy.errorRetry, maxRetryDelayMs: 4000, shouldRetry: (config, count, timeout, response, retry) => retry || (response && response.code === 402) },
      },
    },
  });
  hls.on(Hls.Events.FRAG_LOADED, (_, data) => {
    // Once per sequence number, as the broadcaster charges (a rendition switch reloads one).
    if (data.frag.type === 'main' && !state.fetchedSeqs.has(data.frag.sn)) {
      state.fetchedSeqs.add(data.frag.sn);
      state.fetchedMs += Math.round(data.frag.duration * 1000);
    }
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (!data.fatal) return;
    show('player-error', `player: ${data.type} ${data.details}; restarting`);
    hls.destroy();
    state.hls = null;
    setTimeout(attachPlayer, PLAYER_RESTART_MS);
  });
  hls.on(Hls.Events.FRAG_BUFFERED, () => show('player-error', null));
  hls.loadSource(playlist);
  hls.attachMedia(video);
  state.hls = hls;
}

// ---- Tips and subscriptions: the wallet's transactions ----

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Sends a transaction from the wallet and waits until it is mined; throws unless it succeeded. */
async function transact(from, to, data, onHash) {
  const hash = await wallet('eth_sendTransaction', [{ from, to, data }]);
  onHash(hash);
  const deadline = Date.now() + RECEIPT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const receipt = await wallet('eth_getTransactionReceipt', [hash]);
    if (receipt) {
      if (receipt.status !== '0x1') throw new Error(`transaction ${hash} reverted`);
      return receipt;
    }
    await sleep(RECEIPT_POLL_MS);
  }
  throw new Error(`transaction ${hash} not mined within ${RECEIPT_TIMEOUT_MS / 1000} s`);
}

/** approve(support, amount), then the support call itself; progress in state[name]. */
async function pay(name, amount, calldata, button) {
  const progress = { tx: null, approveTx: null, status: 'approving' };
  state[name] = progress;
  button.disabled = true;
  renderPayment();
  try {
    const from = await connectWallet();
    const o = state.offer;
    await transact(from, o.token, eth.encodeCall('approve(address,uint256)', [o.support, amount]), (h) => { progress.approveTx = h; renderPayment(); });
    progress.status = 'sending';
    await transact(from, o.support, calldata(o), (h) => { progress.tx = h; renderPayment(); });
    progress.status = 'success';
  } catch (e) {
    progress.status = /reverted/.test(e.message) ? 'reverted' : 'failed';
    report(`${name}: ${e.message}`);
  } finally {
    button.disabled = false;
    renderPayment();
  }
}

/** A form the page refuses to send: state[name] says so, state.errors why. */
function invalid(name, message) {
  state[name] = { tx: null, approveTx: null, status: 'invalid' };
  report(`${name}: ${message}`);
  renderPayment();
}

function sendTip(event) {
  event.preventDefault();
  let amount;
  try {
    amount = eth.parseUnits(document.getElementById('tip-amount').value);
    if (amount === 0n) throw new Error('a tip is more than 0');
  } catch (e) {
    return invalid('tip', e.message);
  }
  const message = document.getElementById('tip-message').value;
  if (new TextEncoder().encode(message).length > MESSAGE_MAX_BYTES) return invalid('tip', `the message is over ${MESSAGE_MAX_BYTES} bytes`);
  pay('tip', amount, (o) => eth.encodeCall('tip(address,uint256,string)', [o.recipient, amount, message]), document.getElementById('tip-send'));
}

async function subscribe(event) {
  event.preventDefault();
  const periods = Number(document.getElementById('subscribe-periods').value);
  if (!Number.isInteger(periods) || periods < 1) return invalid('subscribe', 'periods is a whole number from 1');
  const price = BigInt(state.offer.subscriptionPrice);
  // maxPricePerPeriod is the price offered: the subscription fails rather than cost more.
  await pay('subscribe', price * BigInt(periods), (o) => eth.encodeCall('subscribe(address,uint256,uint256)', [o.recipient, periods, price]), document.getElementById('subscribe'));
  if (state.subscribe.status === 'success') {
    await loadOffer().catch((e) => report(`offer: ${e.message}`));
    if (state.session) schedulePoll(0);
  }
}

// ---- Start ----

async function connect() {
  const button = document.getElementById('connect');
  button.disabled = true;
  try {
    if (state.offer.paid && !state.session) await openSession();
    else await connectWallet();
    button.hidden = true;
  } catch (e) {
    report(`connect: ${e.message}`);
    button.disabled = false;
  }
}

window.peerflowWatch = {
  state() {
    const v = state.view;
    return {
      stream,
      paid: state.offer ? state.offer.paid : null,
      funder: state.funder,
      signer: state.hotKey ? state.hotKey.address : null,
      session: state.session,
      ticketsSigned: state.ticketsSigned,
      paidMs: v ? v.paidMs : null,
      consumedMs: v ? v.consumedMs : null,
      dueMs: v ? v.dueMs : null,
      cutOff: v ? v.state === 'cut_off' : false,
      subscriber: v ? v.subscriber : false,
      paying: state.paying,
      fetchedMs: state.fetchedMs,
      last402Code: state.last402Code,
      tip: state.tip && { ...state.tip },
      subscribe: state.subscribe && { ...state.subscribe },
      errors: [...state.errors],
    };
  },
  stopPaying() {
    state.paying = false;
    renderPayment();
  },
  resumePaying() {
    state.paying = true;
    renderPayment();
    schedulePoll(0);
  },
};

async function start() {
  document.getElementById('connect').addEventListener('click', connect);
  document.getElementById('tip').addEventListener('submit', sendTip);
  document.getElementById('subscription').addEventListener('submit', subscribe);
  put('stream', stream);
  try {
    await loadOffer();
  } catch (e) {
    report(`offer: ${e.message}`);
    document.getElementById('connect').disabled = true;
    return;
  }
  renderPayment();
  if (!state.offer.paid) attachPlayer();
  document.body.dataset.ready = '1';
}

start();
