// The broadcaster page: polls /v1/status every REFRESH_MS, keeps one card per stream (its
// <video> played by hls.js survives refreshes) and writes every number into the element with
// its data-field attribute; data-value holds the exact value (wei as a decimal string, ms as a
// number), the text its human form. document.body.dataset.ready counts successful renders.
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
