// SPDX-License-Identifier: MIT
// One job (#/jobs/ID): every field of its JSON with the names and values
// kick status prints (src/kick/cmd_status.c), its error, its output
// followed while it runs (output.js), and the Cancel, Retry and Delete
// buttons its state allows, each saying what kickd answered; no buttons
// in read-only mode.
import {api, describe, reloadDelay} from './api.js';
import {$, clear, h} from './dom.js';
import {followOutput, following, stopOutput} from './output.js';
import {ENDED, runDuration, stateEl, timeEl} from './show.js';

// kick status's lines, in its order; then any other field of the JSON.
const FIELDS = ['id', 'route', 'state', 'attempt', 'earlier_attempts',
  'exit_status', 'signal', 'progress', 'progress_message',
  'connection_status', 'interruptions', 'error', 'response', 'output_size',
  'created_at', 'run_at', 'started_at', 'finished_at', 'duration'];
const TIMES = new Set(['created_at', 'run_at', 'started_at',
  'finished_at']);
const CONN_STATUS = ['NORMAL', 'ABORTED', 'TIMEOUT', 'ABORTED|TIMEOUT'];
const SIGNALS = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL',
  11: 'SIGSEGV', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM',
};
const ACTIONS = [
  {key: 'cancel', label: 'Cancel', when: (s) => !ENDED.has(s),
    method: 'DELETE', path: '?only=cancel', doing: 'Canceling'},
  {key: 'retry', label: 'Retry', when: (s) => ENDED.has(s),
    method: 'POST', path: '/retry', doing: 'Retrying'},
  {key: 'delete', label: 'Delete', when: (s) => ENDED.has(s),
    method: 'DELETE', path: '?only=delete', doing: 'Deleting'},
];
const REFRESH_MS = 400;  // the job read again after its changes, at most
const RUNNING_MS = 2000; // a running job's fields (progress, output_size)

let jobId = null;        // the job shown, or null
let job = null;          // its JSON, once read
let deleted = false;
let mode = null;         // "on" | "read-only" once /stats has said
let seq = 0;
let timer = null;
let loadedAt = 0;
let refollow = null;

// Shows job id (again, if it is shown: nothing changes).
export function showJob(id) {
  if (jobId === id) return;
  hideJob();
  jobId = id;
  job = null;
  deleted = false;
  $('job-h').textContent = 'Job ' + id;
  document.title = 'kick: job ' + id;
  clear($('fields'));
  clear($('output'));
  $('act-msg').textContent = '';
  $('job-error').hidden = true;
  drawActions();
  $('job-h').focus();
  loadJob().then(() => {
    if (jobId === id && job) follow(id);
  });
}

// Leaves the job: its output is no longer read.
export function hideJob() {
  stopOutput();
  clearTimeout(refollow);
  jobId = null;
  job = null;
}

export function setMode(m) {
  mode = m;
  drawActions();
}

// Reads the job again, at most every ms.
export function scheduleJob(ms) {
  if (timer !== null || jobId === null) return;
  timer = setTimeout(() => {
    timer = null;
    loadJob();
  }, reloadDelay(loadedAt, ms));
}

// A job's change from the stream.
export function jobJobEvent(ev) {
  if (ev.id === jobId) scheduleJob(ev.state === 'deleted' ? 0 : REFRESH_MS);
}

// Once a second: a running job's duration, and its fields now and then.
export function tickJob() {
  if (!job || job.state !== 'running') return;
  const v = $('fields').querySelector('[data-field="duration"]');
  if (v) v.textContent = runDuration(job);
  if (Date.now() - loadedAt >= RUNNING_MS) scheduleJob(0);
}

function follow(id) {
  followOutput(id, async () => {
    // The stream ends with the job; if it has not (a dropped
    // connection), follow again from the start in a moment.
    await loadJob();
    if (jobId === id && job && !ENDED.has(job.state) && !deleted) {
      refollow = setTimeout(() => {
        if (jobId === id && !following()) follow(id);
      }, 1000);
    }
  });
}

async function loadJob() {
  const id = jobId;
  if (id === null || deleted) return;
  const mine = ++seq;
  loadedAt = Date.now();
  let r;
  try {
    r = await api('GET', '/jobs/' + id);
  } catch (e) {
    if (mine !== seq || jobId !== id) return;
    if (e.status === 404) {
      deleted = true;
      drawGone(id);
    } else if (e.status !== 401) {
      $('act-msg').textContent = 'Could not load job ' + id + ': ' +
        describe(e);
    }
    return;
  }
  if (mine !== seq || jobId !== id) return;
  const old = job;
  job = r.data;
  drawJob();
  // A job that runs again (a retry, here or elsewhere) has output to
  // follow again once the earlier stream has ended.
  if (old && ENDED.has(old.state) && !ENDED.has(job.state) && !following()) {
    follow(id);
  }
}

function drawGone(id) {
  stopOutput();
  job = null;
  $('job-h').textContent = 'Job ' + id + ' (deleted)';
  clear($('fields'));
  $('fields').append(h('div', null, h('dt', {text: 'state'}),
    h('dd', null, stateEl('deleted'))));
  $('job-error').hidden = true;
  $('out-note').textContent = '';
  drawActions();
  if (!$('act-msg').textContent) {
    $('act-msg').textContent = 'There is no job ' + id +
      ' (deleted, or never was).';
  }
}

// A field's value as kick status prints it ("-" for none).
function fieldValue(j, name) {
  if (name === 'state') return stateEl(j.state);
  if (name === 'attempt') {
    return (j.attempt || 0) + '/' + (j.max_attempts || 0);
  }
  if (name === 'response') {
    const resp = j.response;
    if (!resp || typeof resp !== 'object') return '-';
    return (resp.status || 0) + ' ' +
      (typeof resp.content_type === 'string' ? resp.content_type : '-');
  }
  if (name === 'duration') return runDuration(j);
  if (TIMES.has(name)) return timeEl(j[name]);
  const v = j[name];
  if (typeof v === 'number' || typeof v === 'string') return String(v);
  if (v === null || v === undefined) return '-';
  return JSON.stringify(v);
}

// What a number means, beside it.
function fieldHint(j, name) {
  const v = j[name];
  if (typeof v !== 'number') return null;
  if (name === 'connection_status' && CONN_STATUS[v]) {
    return h('span', {class: 'hint', text: CONN_STATUS[v]});
  }
  if (name === 'signal' && SIGNALS[v]) {
    return h('span', {class: 'hint', text: SIGNALS[v]});
  }
  if (name === 'progress') {
    return h('progress', {max: 100, value: Math.max(0, Math.min(100, v)),
      'aria-label': 'progress ' + v + ' %'});
  }
  return null;
}

function drawJob() {
  const j = job;
  $('job-h').textContent = 'Job ' + j.id + ' ';
  $('job-h').append(stateEl(j.state));
  document.title = 'kick: job ' + j.id + ' (' + j.state + ')';
  const dl = $('fields');
  clear(dl);
  const names = FIELDS.concat(Object.keys(j).filter((k) =>
    FIELDS.indexOf(k) < 0 && k !== 'max_attempts'));
  for (const name of names) {
    const hint = fieldHint(j, name);
    dl.append(h('div', {class: 'f-' + name}, h('dt', {text: name}),
      h('dd', null, h('span', {class: 'v', 'data-field': name},
        fieldValue(j, name)), hint ? ' ' : null, hint)));
  }
  const err = $('job-error');
  err.hidden = !j.error;
  err.textContent = j.error ? 'error: ' + j.error : '';
  drawActions();
}

// The buttons the job's state allows; none in read-only mode, and none
// until /stats has said which mode this is.
function drawActions() {
  const box = $('actions');
  if (box.childNodes.length === 0) {
    for (const a of ACTIONS) {
      box.append(h('button', {type: 'button', 'data-action': a.key,
        class: 'act act-' + a.key, text: a.label, hidden: true,
        onclick: () => act(a)}));
    }
  }
  const allowed = mode === 'on' && job !== null && !deleted;
  for (const b of box.querySelectorAll('button')) {
    const a = ACTIONS.find((x) => x.key === b.dataset.action);
    const show = allowed && a.when(job.state);
    if (!show && document.activeElement === b) $('act-msg').focus();
    b.hidden = !show;
  }
  box.hidden = !allowed;
}

async function act(a) {
  const id = jobId;
  const msg = $('act-msg');
  const buttons = $('actions').querySelectorAll('button');
  for (const b of buttons) b.disabled = true;
  msg.textContent = a.doing + ' job ' + id + '…';
  try {
    const r = await api(a.method, '/jobs/' + id + a.path,
      a.method === 'POST' ? '' : undefined);
    msg.textContent = actionText(a.key, id, r);
    if (a.key === 'delete') {
      deleted = true;
      drawGone(id);
    } else {
      if (a.key === 'retry') follow(id);
      scheduleJob(0);
    }
  } catch (e) {
    msg.textContent = a.label + ' refused: ' + describe(e);
    scheduleJob(0);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

function actionText(kind, id, r) {
  const code = (r.status + ' ' + (r.statusText || '')).trim();
  const state = r.data && r.data.state;
  if (kind === 'cancel' && r.status === 202) {
    return 'Cancel sent (' + code + '): job ' + id +
      ' was running and is being ended; it will show aborted.';
  }
  if (kind === 'cancel') {
    return 'Canceled (' + code + '): job ' + id + ' was queued' +
      (state ? ' and is now ' + state : '') + '.';
  }
  if (kind === 'retry') {
    return 'Retried (' + code + '): job ' + id + ' is ' +
      (state || 'queued') + ' again.';
  }
  return 'Deleted (' + code + '): job ' + id + ' and its output are gone.';
}

export function initJob() {
  $('act-msg').setAttribute('tabindex', '-1');
}
