// SPDX-License-Identifier: MIT
// A job's facts as kick shows them: its state with a symbol beside the
// name (never colour alone), times in the browser's zone with the exact
// UTC on hover, and durations as src/kick/cli_time.c writes them.
import {h} from './dom.js';

export const STATES = ['queued', 'running', 'succeeded', 'failed',
  'timed_out', 'aborted', 'canceled'];
export const ENDED = new Set(['succeeded', 'failed', 'timed_out',
  'aborted', 'canceled']);
const SYMBOL = {
  queued: '◌', running: '▶', succeeded: '✓', failed: '✗',
  timed_out: '◷', aborted: '⊘', canceled: '⊖', deleted: '⌫',
};

export function stateEl(state) {
  return h('span', {class: 'state s-' + state},
    h('span', {class: 'sym', 'aria-hidden': 'true',
      text: SYMBOL[state] || '?'}), ' ' + state);
}

// Made on first use, or by formats() once the first requests are out:
// making one costs a browser some milliseconds that those requests need
// not wait for.
let localFmt = null;
let hmFmt = null;

export function formats() {
  if (localFmt) return;
  localFmt = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  hmFmt = new Intl.DateTimeFormat(undefined, {
    hour: '2-digit', minute: '2-digit',
  });
}

export function hourMinute(t) {
  formats();
  return hmFmt.format(new Date(t));
}

// ms since the epoch of the job API's "2026-12-06T10:00:00.123Z", or -1.
export function utcMs(iso) {
  if (typeof iso !== 'string') return -1;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? -1 : t;
}

// A time in the browser's zone; the exact UTC as kickd gave it on hover.
export function timeEl(iso) {
  const t = utcMs(iso);
  if (t < 0) return document.createTextNode('-');
  formats();
  return h('time', {datetime: iso, title: iso + ' (UTC)'},
    localFmt.format(new Date(t)));
}

function pad2(n) {
  return n < 10 ? '0' + n : String(n);
}

function durationFormat(ms) {
  const d = Math.trunc;
  if (ms < 1000) return d(ms) + 'ms';
  if (ms < 60000) return d(ms / 1000) + '.' + d(ms % 1000 / 100) + 's';
  if (ms < 3600000) {
    return d(ms / 60000) + 'm' + pad2(d(ms % 60000 / 1000)) + 's';
  }
  return d(ms / 3600000) + 'h' + pad2(d(ms % 3600000 / 60000)) + 'm';
}

// The last run's duration, or the running one's so far; "-" if queued
// (kick's rule: a queued job's started_at is an earlier attempt's).
export function runDuration(j) {
  const start = utcMs(j.started_at);
  let end = utcMs(j.finished_at);
  if (start < 0 || !j.state || j.state === 'queued') return '-';
  if (end < start) end = Math.max(start, Date.now());
  return durationFormat(end - start);
}
