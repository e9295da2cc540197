// SPDX-License-Identifier: MIT
// kickd's dashboard (docs/dashboard.md): the page's start and its
// wiring. The address says what is shown (hash.js: the list, list.js, or
// one job, job.js); /stats gives the counts (counts.js), the chart
// (chart.js) and the mode; live.js keeps them current from /events or by
// polling; a 401 from kickd brings the token form (login.js). No
// framework and no build step: ES modules, loaded as they are.
import {api, describe, onUnauthorized} from './api.js';
import {drawChart, initChart} from './chart.js';
import {drawCounts} from './counts.js';
import {$} from './dom.js';
import {parseHash} from './hash.js';
import {hideJob, initJob, jobJobEvent, scheduleJob, setMode, showJob,
  tickJob} from './job.js';
import {hideList, initList, listAddress, listJobEvent, resetList,
  scheduleList, setRoutes, showList, tickList} from './list.js';
import {setLiveNote, startLive, stopLive} from './live.js';
import {initLogin, showLogin, showLogout} from './login.js';
import {stopOutput} from './output.js';
import {formats} from './show.js';

const STATS_MS = 10000;  // the chart read again this often
const REFRESH_MS = 400;  // what the stream missed, read soon after it opens

let view = null;         // "list" | "job" | null (the form, or not yet)
let jobShown = null;     // the job's id in the "job" view
let loginShown = false;
let mode = null;

function onHash() {
  if (loginShown) return;
  const r = parseHash();
  const from = view === 'job' ? jobShown : null;
  $('overview').hidden = r.view !== 'list';
  $('list').hidden = r.view !== 'list';
  $('job').hidden = r.view !== 'job';
  if (r.view === 'job') {
    hideList();
    view = 'job';
    jobShown = r.id;
    $('back').href = listAddress();
    showJob(r.id);
  } else {
    hideJob();
    view = 'list';
    jobShown = null;
    document.title = 'kick: jobs';
    showList(r, from);
  }
}

function scheduleView(ms) {
  if (view === 'list') scheduleList(ms);
  else if (view === 'job') scheduleJob(ms);
}

async function loadStats() {
  if (loginShown) return;
  let r;
  try {
    r = await api('GET', '/stats');
  } catch (e) {
    if (e.status !== 401) $('queue-depth').title = describe(e);
    return;
  }
  const d = r.data || {};
  const m = d.dashboard === 'read-only' ? 'read-only' : 'on';
  if (m !== mode) {
    mode = m;
    $('mode').hidden = m !== 'read-only';
    document.documentElement.dataset.mode = m;
    setMode(m);
  }
  setRoutes(drawCounts(d));
  if (Array.isArray(d.minutes)) drawChart(d.minutes);
}

const live = {
  job: (ev) => {
    if (view === 'list') listJobEvent(ev);
    else if (view === 'job') jobJobEvent(ev);
  },
  counts: (c) => setRoutes(drawCounts(c)),
  resync: () => {
    scheduleView(0);
    loadStats();
  },
  poll: () => {
    loadStats();
    scheduleView(0);
  },
  open: (wasPolling) => {
    scheduleView(wasPolling ? 0 : REFRESH_MS);
    if (wasPolling) loadStats();
  },
};

function needLogin() {
  if (loginShown) return;
  loginShown = true;
  stopLive();
  hideJob();
  hideList();
  view = null;
  jobShown = null;
  $('app').hidden = true;
  setLiveNote('login', 'Token needed');
  showLogin();
}

function start() {
  loginShown = false;
  $('app').hidden = false;
  showLogout();
  view = null;
  jobShown = null;
  hideJob();
  resetList();
  onHash();
  loadStats();
  startLive(live);
  formats();
}

function init() {
  onUnauthorized(needLogin);
  initList();
  initJob();
  initChart();
  initLogin(start, () => {
    // Without the cookie the next request answers 401 and the form comes
    // back (unless kickd asks no token after all).
    stopLive();
    start();
  });
  window.addEventListener('hashchange', onHash);
  // Leaving the page closes its streams (a page kept in the back-forward
  // cache would hold its connections, of which a browser has six a
  // host); coming back from that cache opens them again.
  window.addEventListener('pagehide', () => {
    stopLive();
    stopOutput();
  });
  window.addEventListener('pageshow', (ev) => {
    if (ev.persisted && !loginShown) start();
  });
  setInterval(() => {
    tickList();
    tickJob();
  }, 1000);
  setInterval(loadStats, STATS_MS);
  start();
}

init();
