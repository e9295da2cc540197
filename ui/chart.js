// SPDX-License-Identifier: MIT
// The last hour's chart, drawn as SVG: triggers accepted, jobs succeeded
// and jobs failed a minute (lines told apart by dashes as well as
// colour), the queue depth below, each minute's numbers on hover, and
// the same numbers as a table for who cannot see the chart.
import {$, clear, h, s} from './dom.js';
import {hourMinute} from './show.js';

const SERIES = [
  {key: 'accepted', label: 'triggers accepted'},
  {key: 'succeeded', label: 'jobs succeeded'},
  {key: 'failed', label: 'jobs failed'},
];
const LEFT = 40;       // px for the ticks
const RIGHT = 8;
const RATE_H = 130;    // px of the rates' plot
const QUEUE_TOP = RATE_H + 34;
const QUEUE_H = 48;    // px of the queue's plot
const HEIGHT = QUEUE_TOP + QUEUE_H + 22;

let shown = null;      // the minutes drawn last, for a redraw

// The smallest of 1, 2, 5 × 10^n at or above v (at least 1).
function niceMax(v) {
  if (v <= 1) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtTick(v) {
  return v >= 10000 ? Math.round(v / 1000) + 'k' : String(Math.round(v));
}

function minuteText(m) {
  return hourMinute(m.t) + ': ' + (m.accepted || 0) + ' accepted, ' +
    (m.succeeded || 0) + ' succeeded, ' + (m.failed || 0) +
    ' failed, queue ' + (m.queue || 0);
}

// The scales of a chart width px wide for minutes.
function scales(minutes, width) {
  const n = minutes.length;
  const plotW = width - LEFT - RIGHT;
  let top = 0;
  let qTop = 0;
  for (const m of minutes) {
    for (const sr of SERIES) top = Math.max(top, m[sr.key] || 0);
    qTop = Math.max(qTop, m.queue || 0);
  }
  top = Math.max(2, niceMax(top));
  qTop = niceMax(qTop);
  return {n: n, width: width, plotW: plotW, top: top, qTop: qTop,
    x: (i) => LEFT + (n <= 1 ? plotW : i * plotW / (n - 1)),
    yRate: (v) => RATE_H - (v / top) * (RATE_H - 8),
    yQueue: (v) => QUEUE_TOP + QUEUE_H - (v / qTop) * QUEUE_H};
}

function grid(svg, k) {
  const line = (y) => svg.append(s('line', {class: 'grid', x1: LEFT,
    x2: k.width - RIGHT, y1: y, y2: y}));
  const tick = (y, text) => svg.append(s('text', {class: 'tick',
    x: LEFT - 4, y: y, 'text-anchor': 'end'}, text));
  for (const v of [k.top, k.top / 2, 0]) {
    line(k.yRate(v));
    tick(k.yRate(v) + 4, fmtTick(v));
  }
  svg.append(s('text', {class: 'axis', x: LEFT, y: QUEUE_TOP - 6},
    'queue depth'));
  line(k.yQueue(0));
  tick(k.yQueue(k.qTop) + 8, fmtTick(k.qTop));
  tick(k.yQueue(0), '0');
}

function series(svg, minutes, k) {
  const last = k.n - 1;
  // The queue's depth, an area under its line.
  let d = 'M' + k.x(0) + ' ' + k.yQueue(0);
  minutes.forEach((m, i) => {
    d += 'L' + k.x(i).toFixed(1) + ' ' + k.yQueue(m.queue || 0).toFixed(1);
  });
  d += 'L' + k.x(last) + ' ' + k.yQueue(0) + 'Z';
  svg.append(s('path', {class: 'queue', d: d}));
  for (const sr of SERIES) {
    const pts = minutes.map((m, i) => k.x(i).toFixed(1) + ' ' +
      k.yRate(m[sr.key] || 0).toFixed(1));
    svg.append(s('path', {class: 'line l-' + sr.key,
      d: 'M' + pts.join('L')}));
  }
  // Times in the browser's zone, every 15 minutes or further apart on a
  // narrow screen.
  const step = [15, 20, 30, 60].find((n) => k.plotW * n / 60 >= 100) || 60;
  minutes.forEach((m, i) => {
    if ((last - i) % step !== 0) return;
    const anchor = i === 0 ? 'start' : (i === last ? 'end' : 'middle');
    svg.append(s('text', {class: 'tick', x: k.x(i), y: HEIGHT - 6,
      'text-anchor': anchor}, hourMinute(m.t)));
  });
  // A band a minute, its numbers on hover.
  const band = k.plotW / Math.max(1, last);
  minutes.forEach((m, i) => {
    svg.append(s('rect', {class: 'hit', x: k.x(i) - band / 2, y: 0,
      width: band, height: HEIGHT - 20}, s('title', null, minuteText(m))));
  });
}

function legend(totals) {
  const ul = h('ul', {class: 'legend'});
  SERIES.forEach((sr, i) => {
    ul.append(h('li', null,
      s('svg', {width: 28, height: 10, 'aria-hidden': 'true'},
        s('line', {class: 'line l-' + sr.key, x1: 1, x2: 27, y1: 5,
          y2: 5})),
      ' ' + sr.label + ' ', h('strong', {text: String(totals[i])})));
  });
  ul.append(h('li', null,
    s('svg', {width: 28, height: 10, 'aria-hidden': 'true'},
      s('rect', {class: 'queue', x: 1, y: 1, width: 26, height: 8})),
    ' queue depth'));
  return ul;
}

// Draws /stats' minutes (oldest first) at the width the page has.
export function drawChart(minutes) {
  const box = $('chart');
  const k = scales(minutes, Math.max(280, Math.floor(box.clientWidth || 600)));
  const totals = SERIES.map((sr) =>
    minutes.reduce((a, m) => a + (m[sr.key] || 0), 0));
  const svg = s('svg', {class: 'plot', width: k.width, height: HEIGHT,
    viewBox: '0 0 ' + k.width + ' ' + HEIGHT, role: 'img',
    'aria-label': 'Last hour: ' + SERIES.map((sr, i) => totals[i] + ' ' +
      sr.label).join(', ') + '; queue depth now ' +
      (k.n ? minutes[k.n - 1].queue || 0 : 0) + '.'});
  grid(svg, k);
  if (k.n > 0) series(svg, minutes, k);
  clear(box);
  box.append(legend(totals), svg);
  shown = minutes;
  if ($('chart-table').closest('details').open) drawTable();
}

function drawTable() {
  const box = $('chart-table');
  clear(box);
  const body = h('tbody');
  for (const m of (shown || []).slice().reverse()) {
    const iso = new Date(m.t).toISOString();
    body.append(h('tr', null,
      h('th', {scope: 'row'}, h('time', {datetime: iso,
        title: iso + ' (UTC)', text: hourMinute(m.t)})),
      h('td', {class: 'num', text: String(m.accepted || 0)}),
      h('td', {class: 'num', text: String(m.succeeded || 0)}),
      h('td', {class: 'num', text: String(m.failed || 0)}),
      h('td', {class: 'num', text: String(m.queue || 0)})));
  }
  const col = (text, cls) => h('th', {scope: 'col', class: cls, text: text});
  box.append(h('table', null, h('thead', null, h('tr', null,
    col('minute'), col('accepted', 'num'), col('succeeded', 'num'),
    col('failed', 'num'), col('queue', 'num'))), body));
}

// Draws the table when it is opened, and the chart again for a new width.
export function initChart() {
  const details = $('chart-table').closest('details');
  details.addEventListener('toggle', () => {
    if (details.open) drawTable();
  });
  let timer = null;
  window.addEventListener('resize', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (shown) drawChart(shown);
    }, 150);
  });
}
