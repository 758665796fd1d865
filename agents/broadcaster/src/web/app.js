// The broadcaster page: polls /v1/status every REFRESH_MS, keeps one card per stream (its
// <video> played by hls.js survives refreshes) and writes every number into the element with
// its data-field attribute; data-value holds the exact value (wei as a decimal string, ms as a
// number), the text its human form. document.body.dataset.ready counts successful renders. The
// Viewers section polls /v1/watch/status the same way, and stays hidden when it 404s (no paywall).
'use strict';

const REFRESH_MS = 2000;
const players = new Map(); // stream id -> { card, video, hls }

// The node-wide fields live outside the stream cards.
const nodeRoots = () => [document.querySelector('header'), document.getElementById('node'),
  document.querySelector('main > h2'), document.querySelector('footer')];

function put(roots, field, value, text = value) {
  for (const root of roots) {
    for (const el of root.querySelectorAll(`[data-field="${field}"]`)) {
      if (el.closest('.stream') !== (root.closest ? root.closest('.stream') : null)) continue;
      el.dataset.value = value === null || value === undefined ? '' : String(value);
      el.textContent = text === null || text === undefined ? '–' : String(text);
    }
  }
}

const tokens = (w) => (w ? [w.wei, `${w.human} tokens`] : [null, null]);
const ms = (v) => (v === null || v === undefined ? [null, null] : [v, `${Math.round(v)} ms`]);

function showError(roots, field, message) {
  for (const root of roots) {
    for (const el of root.querySelectorAll(`[data-field="${field}"]`)) {
      el.hidden = !message;
      el.textContent = message || '';
    }
  }
}

function renderNode(status) {
  const roots = nodeRoots();
  const b = status.broadcaster;
  put(roots, 'address', b.address);
  put(roots, 'chain-id', b.chainId);
  put(roots, 'ticket-broker', b.ticketBroker);
  const chain = status.chain;
  put(roots, 'block', chain ? chain.block : null);
  put(roots, 'deposit', ...tokens(chain && chain.deposit));
  put(roots, 'reserve', ...tokens(chain && chain.reserve));
  put(roots, 'tickets-won', chain ? chain.ticketsWon : null);
  put(roots, 'paid', ...tokens(chain && chain.paid));
  showError(roots, 'chain-error', status.chainError && `${status.chainError.code}: ${status.chainError.message}`);
  const t = status.totals;
  put(roots, 'segments-in', t.segmentsIn);
  put(roots, 'segments-out', t.segmentsOut);
  put(roots, 'tickets-sent', t.ticketsSent);
  put(roots, 'face-value-sent', ...tokens(t.faceValueSent));
  put(roots, 'expected-value', ...tokens(t.expectedValue));
  put(roots, 'renditions-checked', t.renditionsChecked);
  put(roots, 'renditions-sampled', t.renditionsSampled);
  put(roots, 'faults', t.faults);
  put(roots, 'stream-count', status.streams.length);
}

function attach(video, playlist, card) {
  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ liveSyncDurationCount: 2 });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) showError([card], 'player-error', `player: ${data.type} ${data.details}`);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
    hls.loadSource(playlist);
    hls.attachMedia(video);
    return hls;
  }
  if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = playlist;
    return null;
  }
  showError([card], 'player-error', 'this browser cannot play HLS (no Media Source Extensions)');
  return null;
}

function cardFor(stream) {
  let entry = players.get(stream.id);
  if (!entry) {
    const card = document.getElementById('stream-template').content.firstElementChild.cloneNode(true);
    card.dataset.stream = stream.id;
    const video = card.querySelector('video');
    video.dataset.stream = stream.id;
    document.getElementById('streams').append(card);
    entry = { card, video, hls: null };
    players.set(stream.id, entry);
  }
  if (!entry.hls && !entry.video.src && stream.playlist) entry.hls = attach(entry.video, stream.playlist, entry.card);
  return entry;
}

function list(ul, items, make) {
  ul.replaceChildren(...items.map((item) => {
    const li = document.createElement('li');
    make(li, item);
    return li;
  }));
}

function renderStream(stream) {
  const { card } = cardFor(stream);
  const roots = [card];
  put(roots, 'stream-id', stream.id);
  put(roots, 'state', stream.ended ? 'ended' : stream.published ? 'live' : 'not published');
  card.querySelector('[data-field="state"]').classList.toggle('ended', stream.ended || !stream.published);
  put(roots, 'segments-in', stream.segmentsIn);
  put(roots, 'segments-out', stream.segmentsOut);
  put(roots, 'latest-seq', stream.latestSeq);
  list(card.querySelector('.renditions'), stream.renditions, (li, r) => {
    li.dataset.rendition = r.name;
    li.innerHTML = `<span data-field="rendition"></span> <span data-field="resolution"></span>,
      <span data-field="rendition-segments"></span> segments, <a></a>`;
    put([li], 'rendition', r.name);
    put([li], 'resolution', `${r.width}x${r.height}`);
    put([li], 'rendition-segments', r.segmentsOut);
    const a = li.querySelector('a');
    a.href = r.playlist;
    a.textContent = `${r.name}.m3u8`;
  });
  const o = stream.orchestrator;
  put(roots, 'orchestrator', o && o.address);
  put(roots, 'orchestrator-url', o && o.url);
  put(roots, 'orchestrator-seq', o && o.seq);
  const l = stream.latencyMs;
  put(roots, 'latency-last-ms', ...ms(l && l.last));
  put(roots, 'latency-mean-ms', ...ms(l && l.mean));
  put(roots, 'latency-count', l ? l.count : 0);
  const v = stream.verification;
  put(roots, 'renditions-checked', v.renditionsChecked);
  put(roots, 'renditions-sampled', v.renditionsSampled);
  put(roots, 'faults', v.faults.reduce((n, f) => n + f.count, 0));
  list(card.querySelector('.faults'), v.faults, (li, f) => {
    li.dataset.fault = f.name;
    li.dataset.code = f.code;
    li.innerHTML = '<span></span>: <span data-field="fault-count"></span>';
    li.firstChild.textContent = `${f.name} (code ${f.code})`;
    put([li], 'fault-count', f.count);
  });
  const m = stream.money;
  put(roots, 'tickets-sent', m.ticketsSent);
  put(roots, 'face-value-sent', ...tokens(m.faceValueSent));
  put(roots, 'expected-value', ...tokens(m.expectedValue));
}

// Wei as tokens of 18 decimals, e.g. "1.5 tokens".
function formatWei(wei) {
  const v = BigInt(wei);
  const unit = 10n ** 18n;
  const frac = (v % unit).toString().padStart(18, '0').replace(/0+$/, '');
  return `${v / unit}${frac ? `.${frac}` : ''} tokens`;
}

const wei = (w) => (w === null || w === undefined ? [null, null] : [w, formatWei(w)]);
const seconds = (ms) => [ms / 1000, `${(ms / 1000).toFixed(1)} s`];

function renderViewers(status) {
  const section = document.getElementById('viewers');
  const roots = [section];
  const t = status.totals;
  put(roots, 'viewers', t.viewers);
  put(roots, 'paid-seconds', ...seconds(t.paidMs));
  put(roots, 'tickets-received', t.ticketsReceived);
  put(roots, 'viewer-tickets-won', t.ticketsWon);
  put(roots, 'tickets-redeemed', t.ticketsRedeemed);
  put(roots, 'received-wei', ...wei(t.receivedWei));
  put(roots, 'redeemed-wei', ...wei(t.redeemedWei));
  list(section.querySelector('.sessions'), status.viewers, (li, v) => {
    li.dataset.viewer = v.viewer;
    li.innerHTML = `<code data-field="viewer-funder"></code> on <span data-field="viewer-stream"></span>:
      <span data-field="viewer-paid-seconds"></span> paid, <span data-field="viewer-tickets"></span> tickets,
      <span data-field="viewer-state"></span>`;
    put([li], 'viewer-funder', v.funder);
    put([li], 'viewer-stream', v.stream);
    put([li], 'viewer-paid-seconds', ...seconds(v.paidMs));
    put([li], 'viewer-tickets', v.ticketsAccepted);
    put([li], 'viewer-state', v.state, v.subscriber ? `${v.state}, subscriber` : v.state);
  });
  put(roots, 'tips-count', status.tips.length, `${status.tips.length} tips`);
  put(roots, 'tips-wei', ...wei(status.tipsWei));
  list(section.querySelector('.tips'), status.tips, (li, tip) => {
    li.dataset.tip = tip.tx;
    li.innerHTML = '<span data-field="tip-amount"></span> from <code data-field="tip-from"></code>: <q data-field="tip-message"></q>';
    put([li], 'tip-amount', ...wei(tip.amount));
    put([li], 'tip-from', tip.from);
    put([li], 'tip-message', tip.message); // textContent: a viewer's message is never markup
  });
  put(roots, 'subscribers', status.subscribers.length);
  put(roots, 'subscriptions-wei', ...wei(status.subscriptionsWei));
  list(section.querySelector('.subscribers'), status.subscribers, (li, s) => {
    li.dataset.subscriber = s.subscriber;
    li.innerHTML = '<code data-field="subscriber"></code> until <span data-field="subscriber-until"></span>, paid <span data-field="subscriber-paid"></span>';
    put([li], 'subscriber', s.subscriber);
    put([li], 'subscriber-until', s.until, new Date(s.until * 1000).toLocaleString());
    put([li], 'subscriber-paid', ...wei(s.paid));
  });
  section.hidden = false;
}

async function refreshViewers() {
  const section = document.getElementById('viewers');
  try {
    const reply = await fetch('/v1/watch/status', { cache: 'no-store' });
    if (reply.status === 404) {
      section.hidden = true; // no paywall on this broadcaster: nothing to show, nothing to poll
      return;
    }
    const body = await reply.json();
    if (!reply.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : reply.statusText);
    renderViewers(body);
    showError([section], 'viewers-error', null);
  } catch (e) {
    showError([section], 'viewers-error', `viewers unavailable: ${e.message}`);
  }
  setTimeout(refreshViewers, REFRESH_MS);
}

// The open proposals (GET /v1/governance); the section stays hidden without a governor.
async function refreshGovernance() {
  const section = document.getElementById('governance');
  try {
    const reply = await fetch('/v1/governance', { cache: 'no-store' });
    if (!reply.ok) throw new Error(reply.statusText);
    const g = await reply.json();
    section.hidden = !g.governor;
    list(section.querySelector('.proposals'), g.proposals, (li, p) => {
      li.dataset.proposal = p.id;
      li.innerHTML = `<strong data-field="proposal-state"></strong> <q data-field="proposal-description"></q>
        <span class="muted">(<span data-field="proposal-calls"></span>)</span>: for <span data-field="proposal-for"></span>,
        against <span data-field="proposal-against"></span>, abstain <span data-field="proposal-abstain"></span>;
        vote ends at block <span data-field="proposal-deadline"></span> <code class="muted" data-field="proposal-id"></code>`;
      put([li], 'proposal-state', p.state);
      put([li], 'proposal-description', p.description); // textContent: a proposer's words are never markup
      put([li], 'proposal-calls', p.calls.map((c) => c.summary).join('; '));
      put([li], 'proposal-for', ...wei(p.tally.for));
      put([li], 'proposal-against', ...wei(p.tally.against));
      put([li], 'proposal-abstain', ...wei(p.tally.abstain));
      put([li], 'proposal-deadline', p.deadline);
      put([li], 'proposal-id', p.id);
    });
    showError([section], 'governance-error', g.error ? `last read failed: ${g.error}` : null);
  } catch (e) {
    showError([section], 'governance-error', `proposals unavailable: ${e.message}`);
  }
  setTimeout(refreshGovernance, 10000);
}

async function refresh() {
  try {
    const reply = await fetch('/v1/status', { cache: 'no-store' });
    const body = await reply.json();
    if (!reply.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : reply.statusText);
    renderNode(body);
    for (const stream of body.streams) renderStream(stream);
    document.getElementById('no-streams').hidden = body.streams.length > 0;
    showError(nodeRoots(), 'error', null);
    put(nodeRoots(), 'updated', Date.now(), new Date().toLocaleTimeString());
    document.body.dataset.ready = String(Number(document.body.dataset.ready || 0) + 1);
  } catch (e) {
    showError(nodeRoots(), 'error', `status unavailable: ${e.message}`);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
refreshViewers();
refreshGovernance();
