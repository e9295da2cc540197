// SPDX-License-Identifier: MIT
// Live updates: GET /events (EventSource) while it is up; while it is
// down, a visible note and polling every POLL_MS, and the stream tried
// again after RETRY_FIRST_MS, doubling up to RETRY_MAX_MS. What an event
// means is for the handlers given to startLive.
import {$} from './dom.js';

const POLL_MS = 1500;
const RETRY_FIRST_MS = 3000;
const RETRY_MAX_MS = 30000;

let on = null;           // the handlers, while live
let es = null;
let retry = RETRY_FIRST_MS;
let retryTimer = null;
let pollTimer = null;

// The note at the top of the page (kind: events, polling, connecting,
// login), also as <html data-live> for tests.
export function setLiveNote(kind, text) {
  const el = $('live');
  el.textContent = text;
  el.className = 'live ' + kind;
  document.documentElement.dataset.live = kind;
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    return null;
  }
}

// Starts live updates. handlers: job(event), counts(counts), resync(),
// poll() (each POLL_MS while polling), open(wasPolling) (the stream is
// up: what changed meanwhile is to be read).
export function startLive(handlers) {
  stopLive();
  on = handlers;
  setLiveNote('connecting', 'Connecting…');
  connect();
}

export function stopLive() {
  on = null;
  if (es) es.close();
  es = null;
  clearTimeout(retryTimer);
  retryTimer = null;
  clearInterval(pollTimer);
  pollTimer = null;
}

function connect() {
  retryTimer = null;
  if (!on) return;
  if (typeof window.EventSource !== 'function') {
    startPolling('this browser has no EventSource');
    return;
  }
  const mine = new EventSource('/events');
  es = mine;
  const when = (name, fn) => mine.addEventListener(name, (ev) => {
    if (es === mine && on) fn(ev);
  });
  when('open', () => {
    const wasPolling = pollTimer !== null;
    retry = RETRY_FIRST_MS;
    clearInterval(pollTimer);
    pollTimer = null;
    setLiveNote('events', 'Live');
    on.open(wasPolling);
  });
  when('job', (ev) => {
    const j = parse(ev.data);
    if (j && typeof j.id === 'number') on.job(j);
  });
  when('counts', (ev) => {
    const c = parse(ev.data);
    if (c) on.counts(c);
  });
  when('resync', () => on.resync());
  when('error', () => {
    mine.close();
    es = null;
    startPolling('the live stream is down');
    retryTimer = setTimeout(connect, retry);
    retry = Math.min(retry * 2, RETRY_MAX_MS);
  });
}

function startPolling(why) {
  setLiveNote('polling', 'Polling every ' + POLL_MS / 1000 + ' s: ' + why);
  if (pollTimer !== null) return;
  pollTimer = setInterval(() => {
    if (on) on.poll();
  }, POLL_MS);
  on.poll();
}
