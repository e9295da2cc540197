// SPDX-License-Identifier: MIT
// The list of jobs: a page of the newest (GET /jobs?order=desc), with the
// columns and values of kick ls, filtered by state and route, paged, its
// rows updated in place so that focus stays where it was. The first list
// drawn sets performance.mark('kick-list-drawn') (bench/dashboard_page.py).
import {api, describe, reloadDelay} from './api.js';
import {$, clear, h} from './dom.js';
import {jobHash, listHash} from './hash.js';
import {STATES, runDuration, stateEl, timeEl} from './show.js';

const PAGE = 50;         // jobs a page, as kick ls
const REFRESH_MS = 400;  // the list read again after changes, at most

let query = {state: '', route: '', before: ''};
let rows = new Map();    // job id -> {tr, link, cells, job, shown}
let routes = [];         // the routes kickd counts, for the filter
let seq = 0;             // of the last request; older answers are dropped
let timer = null;
let loadedAt = 0;
let active = false;
let drawn = false;

// Shows the page q ({state, route, before}); focuses the row of job
// fromJob (the one Back came from) if it is there.
export function showList(q, fromJob) {
  active = true;
  const changed = q.state !== query.state || q.route !== query.route ||
    q.before !== query.before;
  query = {state: q.state, route: q.route, before: q.before};
  $('f-state').value = STATES.indexOf(q.state) >= 0 ? q.state : '';
  drawRouteOptions();
  if (changed) {
    // Another page: the rows shown belong to the old one.
    clear($('rows'));
    rows = new Map();
    $('empty').hidden = true;
  }
  const row = rows.get(fromJob);
  if (row) row.link.focus();
  loadList();
}

export function hideList() {
  active = false;
}

// Forgets the page shown (a new start, after a login).
export function resetList() {
  query = {state: '', route: '', before: ''};
  seq++;
}

// The address of the list shown, for a way back to it.
export function listAddress() {
  return listHash(query);
}

export function setRoutes(names) {
  routes = names;
  drawRouteOptions();
}

// Reads the list again, at most every ms.
export function scheduleList(ms) {
  if (timer !== null || !active) return;
  timer = setTimeout(() => {
    timer = null;
    loadList();
  }, reloadDelay(loadedAt, ms));
}

// A job's change from the stream: its row at once, the list soon.
export function listJobEvent(ev) {
  if (!active) return;
  const row = rows.get(ev.id);
  if (row && ev.state === 'deleted') {
    row.tr.remove();
    rows.delete(ev.id);
  } else if (row) {
    row.job = Object.assign({}, row.job, {state: ev.state,
      attempt: typeof ev.attempt === 'number' ? ev.attempt
        : row.job.attempt});
    fillRow(row);
  }
  scheduleList(REFRESH_MS);
}

// Once a second: a running job's duration.
export function tickList() {
  if (!active) return;
  for (const row of rows.values()) {
    if (row.job.state === 'running') fillRow(row);
  }
}

async function loadList() {
  const mine = ++seq;
  const p = new URLSearchParams({order: 'desc', limit: String(PAGE)});
  if (query.state) p.set('state', query.state);
  if (query.route) p.set('route', query.route);
  if (query.before) p.set('before', query.before);
  loadedAt = Date.now();
  let r;
  try {
    r = await api('GET', '/jobs?' + p.toString());
  } catch (e) {
    if (mine === seq && e.status !== 401) {
      $('list-note').textContent = 'could not load the jobs: ' + describe(e);
    }
    return;
  }
  if (mine !== seq || !active) return;
  $('list-note').textContent = '';
  drawList(r.data || {});
}

function drawList(page) {
  const jobs = Array.isArray(page.jobs) ? page.jobs : [];
  const tbody = $('rows');
  const keep = new Map();
  let prev = null;
  for (const j of jobs) {
    let row = rows.get(j.id);
    if (row) {
      row.job = j;
      fillRow(row);
    } else {
      row = makeRow(j);
    }
    keep.set(j.id, row);
    // Rows already in place stay put, so that focus stays on them.
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (row.tr !== want) tbody.insertBefore(row.tr, want);
    prev = row.tr;
  }
  for (const [id, row] of rows) if (!keep.has(id)) row.tr.remove();
  rows = keep;
  $('empty').hidden = jobs.length > 0;
  drawPager(page);
  if (!drawn) {
    drawn = true;
    performance.mark('kick-list-drawn');
    document.documentElement.dataset.drawn =
      String(Math.round(performance.now()));
  }
}

function makeRow(j) {
  const link = h('a', {href: jobHash(j.id), text: String(j.id)});
  const cells = {
    route: h('td', {'data-label': 'ROUTE', class: 'route'}),
    state: h('td', {'data-label': 'STATE'}),
    attempt: h('td', {'data-label': 'ATTEMPT', class: 'num'}),
    created: h('td', {'data-label': 'CREATED'}),
    duration: h('td', {'data-label': 'DURATION', class: 'num'}),
    error: h('td', {'data-label': 'ERROR', class: 'err'}),
  };
  const tr = h('tr', {'data-id': j.id},
    h('td', {'data-label': 'ID', class: 'id'}, link),
    cells.route, cells.state, cells.attempt, cells.created,
    cells.duration, cells.error);
  const row = {tr: tr, link: link, cells: cells, job: j, shown: {}};
  fillRow(row);
  return row;
}

// Writes only the cells whose value changed (as kick ls prints them).
function fillRow(row) {
  const j = row.job;
  const put = (name, key, fill) => {
    if (row.shown[name] === key) return;
    row.shown[name] = key;
    clear(row.cells[name]);
    fill(row.cells[name]);
  };
  row.tr.className = 's-' + j.state;
  put('route', j.route, (td) => { td.textContent = j.route || '-'; });
  put('state', j.state, (td) => td.append(stateEl(j.state)));
  const attempt = (j.attempt || 0) + '/' + (j.max_attempts || 0);
  put('attempt', attempt, (td) => { td.textContent = attempt; });
  put('created', j.created_at, (td) => td.append(timeEl(j.created_at)));
  const took = runDuration(j);
  put('duration', took, (td) => { td.textContent = took; });
  const err = j.error || '-';
  put('error', err, (td) => {
    td.textContent = err;
    if (j.error) td.title = j.error;
    else td.removeAttribute('title');
  });
}

function drawRouteOptions() {
  const sel = $('f-route');
  const names = routes.slice();
  if (query.route && names.indexOf(query.route) < 0) names.push(query.route);
  const have = Array.from(sel.options).slice(1).map((o) => o.value);
  if (have.join('\n') !== names.join('\n')) {
    while (sel.options.length > 1) sel.remove(1);
    for (const n of names) sel.append(h('option', {value: n, text: n}));
  }
  sel.value = query.route;
}

function drawPager(page) {
  const older = $('p-older');
  older.hidden = typeof page.next !== 'number';
  if (!older.hidden) {
    older.href = listHash({state: query.state, route: query.route,
      before: String(page.next)});
  }
  const first = $('p-first');
  first.hidden = !query.before;
  first.href = listHash({state: query.state, route: query.route});
  $('p-newer').hidden = !query.before;
  $('f-clear').hidden = !query.state && !query.route && !query.before;
}

// The page above this one: the PAGE ids above its first, then shown
// newest first as any page.
async function newerPage() {
  const trs = $('rows').rows;
  const first = trs.length ? Number(trs[0].dataset.id)
    : Number(query.before) - 1;
  const p = new URLSearchParams({order: 'asc', limit: String(PAGE),
    after: String(first)});
  if (query.state) p.set('state', query.state);
  if (query.route) p.set('route', query.route);
  let r;
  try {
    r = await api('GET', '/jobs?' + p.toString());
  } catch (e) {
    $('list-note').textContent = 'could not page: ' + describe(e);
    return;
  }
  const jobs = (r.data && r.data.jobs) || [];
  const base = {state: query.state, route: query.route};
  if (jobs.length >= PAGE) base.before = String(jobs[jobs.length - 1].id + 1);
  location.hash = listHash(base);
}

// The filters, the pager and a click anywhere on a row (keyboard users
// have its link).
export function initList() {
  for (const state of STATES) {
    $('f-state').append(h('option', {value: state, text: state}));
  }
  $('filters').addEventListener('change', () => {
    location.hash = listHash({state: $('f-state').value,
      route: $('f-route').value});
  });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('p-newer').addEventListener('click', newerPage);
  $('rows').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr');
    if (!tr || ev.target.closest('a') ||
        String(window.getSelection()).length > 0) return;
    location.hash = jobHash(tr.dataset.id);
  });
}
