// SPDX-License-Identifier: MIT
// kickd's dashboard (docs/dashboard.md): counts, the last hour's chart and
// the newest jobs, kept live by GET /events (polling the JSON API while
// the stream is down), and one job with its live output and its Cancel,
// Retry and Delete buttons. No framework and no build step; every text
// from kickd reaches the page through textContent, never as HTML.
'use strict';

(function () {
  const STATES = ['queued', 'running', 'succeeded', 'failed', 'timed_out',
    'aborted', 'canceled'];
  const ENDED = new Set(['succeeded', 'failed', 'timed_out', 'aborted',
    'canceled']);
  // A state is told by its name and a symbol; colour only adds to them.
  const SYMBOL = {
    queued: '◌', running: '▶', succeeded: '✓', failed: '✗',
    timed_out: '◷', aborted: '⊘', canceled: '⊖', deleted: '⌫',
  };
  const CONN_STATUS = ['NORMAL', 'ABORTED', 'TIMEOUT', 'ABORTED|TIMEOUT'];
  const SIGNALS = {
    1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL',
    11: 'SIGSEGV', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM',
  };
  // kick status prints these, in this order (src/kick/cmd_status.c);
  // the page shows the same names and values, then any other field.
  const FIELDS = ['id', 'route', 'state', 'attempt', 'earlier_attempts',
    'exit_status', 'signal', 'progress', 'progress_message',
    'connection_status', 'interruptions', 'error', 'response', 'output_size',
    'created_at', 'run_at', 'started_at', 'finished_at', 'duration'];
  const TIMES = new Set(['created_at', 'run_at', 'started_at',
    'finished_at']);
  const PAGE = 50;            // jobs a page, as kick ls
  const POLL_MS = 1500;       // polling while the stream is down
  const STATS_MS = 10000;     // the chart's refresh while the stream is up
  const REFRESH_MS = 400;     // a list or job reloaded after events, at most
  const HIDDEN_MS = 5000;     // the same while the tab is hidden
  const RUNNING_MS = 2000;    // a running job's fields reloaded this often
  const RETRY_FIRST_MS = 3000;
  const RETRY_MAX_MS = 30000; // a new stream tried after a drop, backing off

  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;

  const st = {
    mode: null,          // "on" | "read-only" once /stats said so
    view: null,          // "list" | "job"
    query: {state: '', route: '', before: ''},
    listHash: '#/',
    rows: new Map(),     // job id -> {tr, job, cells}
    page: null,
    listSeq: 0,
    listTimer: null,
    listAt: 0,
    jobId: null,
    job: null,
    jobSeq: 0,
    jobTimer: null,
    jobAt: 0,
    deleted: false,
    follow: null,        // AbortController of the output stream
    followTimer: null,
    es: null,
    esRetry: RETRY_FIRST_MS,
    esTimer: null,
    pollTimer: null,
    statsTimer: null,
    routes: [],
    stats: null,
    drawn: false,
    login: false,
    started: false,
  };

  // --- DOM helpers: elements are built, never parsed from strings ------

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    setProps(el, props);
    for (const k of kids) {
      if (k !== null && k !== undefined && k !== false) el.append(k);
    }
    return el;
  }

  function setProps(el, props) {
    if (!props) return;
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }

  const SVGNS = 'http://www.w3.org/2000/svg';

  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    setProps(el, attrs);
    for (const k of kids) if (k !== null && k !== undefined) el.append(k);
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function stateEl(state) {
    return h('span', {class: 'state s-' + state},
      h('span', {class: 'sym', 'aria-hidden': 'true',
        text: SYMBOL[state] || '?'}), ' ' + state);
  }

  // --- times and durations, as kick shows them (src/kick/cli_time.c) ----

  // Made on first use (or once the first requests are out): making one
  // costs a browser some milliseconds that the page's first requests need
  // not wait for.
  let localFmt = null;
  let hmFmt = null;

  function formats() {
    if (localFmt) return;
    localFmt = new Intl.DateTimeFormat(undefined, {
      year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    hmFmt = new Intl.DateTimeFormat(undefined, {
      hour: '2-digit', minute: '2-digit',
    });
  }

  function localTime(t) {
    formats();
    return localFmt.format(new Date(t));
  }

  function hourMinute(t) {
    formats();
    return hmFmt.format(new Date(t));
  }

  // ms since the epoch of the job API's "2026-12-06T10:00:00.123Z", or -1.
  function utcMs(iso) {
    if (typeof iso !== 'string') return -1;
    const t = Date.parse(iso);
    return Number.isNaN(t) ? -1 : t;
  }

  // A time in the browser's zone; the exact UTC as kickd gave it on hover.
  function timeEl(iso) {
    const t = utcMs(iso);
    if (t < 0) return document.createTextNode('-');
    return h('time', {datetime: iso, title: iso + ' (UTC)'}, localTime(t));
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
  function runDuration(j) {
    const start = utcMs(j.started_at);
    let end = utcMs(j.finished_at);
    if (start < 0 || !j.state || j.state === 'queued') return '-';
    if (end < start) end = Math.max(start, Date.now());
    return durationFormat(end - start);
  }

  // --- the JSON API -------------------------------------------------------

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function describe(e) {
    return e.status ? e.status + ' ' + e.message : e.message;
  }

  // One request; rejects with an HttpError (status 0 when kickd cannot be
  // reached). A 401 brings the token form back. Changes carry the header
  // a cross-site form cannot send (docs/dashboard.md, CSRF).
  async function api(method, path, body) {
    const opts = {method: method, headers: {}, credentials: 'same-origin',
      cache: 'no-store'};
    if (method !== 'GET') opts.headers['X-Kick-Request'] = '1';
    if (body !== undefined) {
      opts.body = body;
      opts.headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    let r;
    try {
      r = await fetch(path, opts);
    } catch (e) {
      throw new HttpError(0, 'kickd cannot be reached');
    }
    if (r.status === 401) {
      needLogin();
      throw new HttpError(401, 'the token is needed');
    }
    const text = r.status === 204 ? '' : await r.text();
    let data = null;
    if (text && /json/.test(r.headers.get('Content-Type') || '')) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (!r.ok) {
      const why = (data && data.error) || text.trim() || r.statusText;
      throw new HttpError(r.status, why);
    }
    return {status: r.status, statusText: r.statusText, data: data};
  }

  // --- the hash: #/?state=&route=&before= lists, #/jobs/ID is one job ---

  function parseHash() {
    const hash = location.hash.replace(/^#/, '') || '/';
    const m = /^\/jobs\/(\d+)$/.exec(hash);
    if (m) return {view: 'job', id: Number(m[1])};
    const i = hash.indexOf('?');
    const q = new URLSearchParams(i < 0 ? '' : hash.slice(i + 1));
    return {view: 'list', state: q.get('state') || '',
      route: q.get('route') || '', before: q.get('before') || ''};
  }

  function listHash(q) {
    const p = new URLSearchParams();
    for (const k of ['state', 'route', 'before']) if (q[k]) p.set(k, q[k]);
    const t = p.toString();
    return '#/' + (t ? '?' + t : '');
  }

  function onHash() {
    if (st.login) return;
    const r = parseHash();
    const from = st.view === 'job' ? st.jobId : null;
    if (r.view === 'job') showJob(r.id);
    else showList(r, from);
  }

  // --- live updates: /events, or polling while it is down ----------------

  function setLive(kind, text) {
    const el = $('live');
    el.textContent = text;
    el.className = 'live ' + kind;
    root.dataset.live = kind;
  }

  function connectEvents() {
    clearTimeout(st.esTimer);
    st.esTimer = null;
    if (st.login) return;
    if (typeof window.EventSource !== 'function') {
      startPolling('this browser has no EventSource');
      return;
    }
    const es = new EventSource('/events');
    st.es = es;
    es.addEventListener('open', () => {
      if (st.es !== es) return;
      const wasPolling = st.pollTimer !== null;
      st.esRetry = RETRY_FIRST_MS;
      stopPolling();
      setLive('events', 'Live');
      st.statsTimer = setInterval(loadStats, STATS_MS);
      // What changed while the stream was not there.
      scheduleView(wasPolling ? 0 : REFRESH_MS);
      if (wasPolling) loadStats();
    });
    es.addEventListener('job', (ev) => onJobEvent(parse(ev.data)));
    es.addEventListener('counts', (ev) => {
      const c = parse(ev.data);
      if (c) drawCounts(c);
    });
    es.addEventListener('resync', () => {
      scheduleView(0);
      loadStats();
    });
    es.addEventListener('error', () => {
      if (st.es !== es) return;
      es.close();
      st.es = null;
      clearInterval(st.statsTimer);
      st.statsTimer = null;
      if (st.login) return;
      startPolling('the live stream is down');
      st.esTimer = setTimeout(connectEvents, st.esRetry);
      st.esRetry = Math.min(st.esRetry * 2, RETRY_MAX_MS);
    });
  }

  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function stopEvents() {
    if (st.es) st.es.close();
    st.es = null;
    clearTimeout(st.esTimer);
    st.esTimer = null;
    clearInterval(st.statsTimer);
    st.statsTimer = null;
  }

  function startPolling(why) {
    setLive('polling', 'Polling every ' + POLL_MS / 1000 + ' s: ' + why);
    if (st.pollTimer !== null) return;
    st.pollTimer = setInterval(pollOnce, POLL_MS);
    pollOnce();
  }

  function stopPolling() {
    clearInterval(st.pollTimer);
    st.pollTimer = null;
  }

  function pollOnce() {
    if (st.login) return;
    loadStats();
    scheduleView(0);
  }

  function onJobEvent(ev) {
    if (!ev || typeof ev.id !== 'number') return;
    if (st.view === 'list') {
      const row = st.rows.get(ev.id);
      if (row && ev.state === 'deleted') {
        row.tr.remove();
        st.rows.delete(ev.id);
      } else if (row) {
        row.job = Object.assign({}, row.job, {state: ev.state,
          attempt: typeof ev.attempt === 'number' ? ev.attempt
            : row.job.attempt});
        fillRow(row);
      }
      scheduleList(REFRESH_MS);
    } else if (st.view === 'job' && ev.id === st.jobId) {
      scheduleJob(ev.state === 'deleted' ? 0 : REFRESH_MS);
    }
  }

  function scheduleView(ms) {
    if (st.view === 'list') scheduleList(ms);
    else if (st.view === 'job') scheduleJob(ms);
  }

  function wait(at, ms) {
    const gap = document.hidden ? HIDDEN_MS : ms;
    return Math.max(0, at + gap - Date.now());
  }

  function scheduleList(ms) {
    if (st.listTimer !== null) return;
    st.listTimer = setTimeout(() => {
      st.listTimer = null;
      loadList();
    }, wait(st.listAt, ms));
  }

  function scheduleJob(ms) {
    if (st.jobTimer !== null) return;
    st.jobTimer = setTimeout(() => {
      st.jobTimer = null;
      loadJob();
    }, wait(st.jobAt, ms));
  }

  // --- counts and the chart (GET /stats, event: counts) -----------------

  async function loadStats() {
    let r;
    try {
      r = await api('GET', '/stats');
    } catch (e) {
      if (e.status !== 401) $('queue-depth').title = describe(e);
      return;
    }
    const d = r.data || {};
    st.stats = d;
    const mode = d.dashboard === 'read-only' ? 'read-only' : 'on';
    if (mode !== st.mode) {
      st.mode = mode;
      $('mode').hidden = mode !== 'read-only';
      root.dataset.mode = mode;
      if (st.view === 'job') drawActions();
    }
    drawCounts(d);
    if (Array.isArray(d.minutes)) drawChart(d.minutes);
  }

  function drawCounts(c) {
    const byState = c.by_state || {};
    const dl = $('by-state');
    clear(dl);
    for (const state of STATES) {
      const n = byState[state] || 0;
      dl.append(h('div', {class: 'count s-' + state},
        h('dt', null, h('a', {href: listHash({state: state})},
          stateEl(state))),
        h('dd', {'data-state': state, text: String(n)})));
    }
    if (typeof c.queue_depth === 'number') {
      $('queue-depth').textContent = String(c.queue_depth);
    }
    drawRoutes(c.by_route || {});
  }

  function drawRoutes(byRoute) {
    const names = Object.keys(byRoute).sort();
    const box = $('by-route');
    clear(box);
    if (names.length === 0) {
      box.append(h('p', {class: 'empty', text: 'No jobs yet.'}));
    } else {
      // A column for each state some route has jobs in.
      const used = STATES.filter((state) =>
        names.some((n) => (byRoute[n] || {})[state] > 0));
      const head = h('tr', null, h('th', {scope: 'col', text: 'ROUTE'}));
      for (const state of used) {
        head.append(h('th', {scope: 'col', class: 'num'}, stateEl(state)));
      }
      head.append(h('th', {scope: 'col', class: 'num', text: 'total'}));
      const body = h('tbody');
      for (const name of names) {
        const counts = byRoute[name] || {};
        const tr = h('tr', null, h('th', {scope: 'row'},
          h('a', {href: listHash({route: name}), text: name})));
        let total = 0;
        for (const state of STATES) total += counts[state] || 0;
        for (const state of used) {
          const n = counts[state] || 0;
          tr.append(h('td', {class: 'num', text: String(n)}));
        }
        tr.append(h('td', {class: 'num', text: String(total)}));
        body.append(tr);
      }
      box.append(h('table', {class: 'routes-table'}, h('thead', null, head),
        body));
    }
    st.routes = names;
    drawRouteOptions();
  }

  function drawRouteOptions() {
    const sel = $('f-route');
    const names = st.routes.slice();
    if (st.query.route && names.indexOf(st.query.route) < 0) {
      names.push(st.query.route);
    }
    const have = Array.from(sel.options).slice(1).map((o) => o.value);
    if (have.join('\n') !== names.join('\n')) {
      while (sel.options.length > 1) sel.remove(1);
      for (const n of names) sel.append(h('option', {value: n, text: n}));
    }
    sel.value = st.query.route;
  }

  const SERIES = [
    {key: 'accepted', label: 'triggers accepted'},
    {key: 'succeeded', label: 'jobs succeeded'},
    {key: 'failed', label: 'jobs failed'},
  ];

  // The largest of 1, 2, 5 × 10^n at or above v (at least 1).
  function niceMax(v) {
    if (v <= 1) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function drawChart(minutes) {
    const box = $('chart');
    const width = Math.max(280, Math.floor(box.clientWidth || 600));
    const left = 40;
    const right = 8;
    const rateH = 130;
    const queueTop = rateH + 34;
    const queueH = 48;
    const height = queueTop + queueH + 22;
    const n = minutes.length;
    const plotW = width - left - right;
    const x = (i) => left + (n <= 1 ? plotW : i * plotW / (n - 1));
    let top = 0;
    let qTop = 0;
    for (const m of minutes) {
      for (const sr of SERIES) top = Math.max(top, m[sr.key] || 0);
      qTop = Math.max(qTop, m.queue || 0);
    }
    top = Math.max(2, niceMax(top));
    qTop = niceMax(qTop);
    const yRate = (v) => 8 + rateH - 8 - (v / top) * (rateH - 8);
    const yQueue = (v) => queueTop + queueH - (v / qTop) * queueH;
    const totals = SERIES.map((sr) =>
      minutes.reduce((a, m) => a + (m[sr.key] || 0), 0));
    const svg = s('svg', {class: 'plot', width: width, height: height,
      viewBox: '0 0 ' + width + ' ' + height, role: 'img',
      'aria-label': 'Last hour: ' + SERIES.map((sr, i) => totals[i] + ' ' +
        sr.label).join(', ') + '; queue depth now ' +
        (n ? minutes[n - 1].queue || 0 : 0) + '.'});
    // Axes and grid: the rates' top and middle, the queue's top.
    for (const [v, y] of [[top, yRate(top)], [top / 2, yRate(top / 2)],
      [0, yRate(0)]]) {
      svg.append(s('line', {class: 'grid', x1: left, x2: width - right,
        y1: y, y2: y}));
      svg.append(s('text', {class: 'tick', x: left - 4, y: y + 4,
        'text-anchor': 'end'}, fmtTick(v)));
    }
    svg.append(s('text', {class: 'axis', x: left, y: queueTop - 6},
      'queue depth'));
    svg.append(s('line', {class: 'grid', x1: left, x2: width - right,
      y1: yQueue(0), y2: yQueue(0)}));
    svg.append(s('text', {class: 'tick', x: left - 4, y: yQueue(qTop) + 8,
      'text-anchor': 'end'}, fmtTick(qTop)));
    svg.append(s('text', {class: 'tick', x: left - 4, y: yQueue(0),
      'text-anchor': 'end'}, '0'));
    if (n > 0) {
      // The queue's depth, an area under its line.
      let d = 'M' + x(0) + ' ' + yQueue(0);
      minutes.forEach((m, i) => {
        d += 'L' + x(i).toFixed(1) + ' ' + yQueue(m.queue || 0).toFixed(1);
      });
      d += 'L' + x(n - 1) + ' ' + yQueue(0) + 'Z';
      svg.append(s('path', {class: 'queue', d: d}));
      // One line per series, told apart by dashes as well as colour.
      SERIES.forEach((sr) => {
        const pts = minutes.map((m, i) => x(i).toFixed(1) + ' ' +
          yRate(m[sr.key] || 0).toFixed(1));
        svg.append(s('path', {class: 'line l-' + sr.key,
          d: 'M' + pts.join('L')}));
      });
      // Time labels in the browser's zone, every 15 minutes or further
      // apart on a narrow screen.
      const step = [15, 20, 30, 60].find((k) => plotW * k / 60 >= 80) || 60;
      minutes.forEach((m, i) => {
        if ((n - 1 - i) % step !== 0) return;
        svg.append(s('text', {class: 'tick', x: x(i), y: height - 6,
          'text-anchor': i === 0 ? 'start' : (i === n - 1 ? 'end' : 'middle')},
        hourMinute(m.t)));
      });
      // A band a minute, its numbers on hover.
      const band = plotW / Math.max(1, n - 1);
      minutes.forEach((m, i) => {
        svg.append(s('rect', {class: 'hit', x: x(i) - band / 2, y: 0,
          width: band, height: height - 20},
        s('title', null, minuteText(m))));
      });
    }
    const legend = h('ul', {class: 'legend'});
    SERIES.forEach((sr, i) => {
      legend.append(h('li', null,
        s('svg', {width: 28, height: 10, 'aria-hidden': 'true'},
          s('line', {class: 'line l-' + sr.key, x1: 1, x2: 27, y1: 5,
            y2: 5})),
        ' ' + sr.label + ' ', h('strong', {text: String(totals[i])})));
    });
    legend.append(h('li', null,
      s('svg', {width: 28, height: 10, 'aria-hidden': 'true'},
        s('rect', {class: 'queue', x: 1, y: 1, width: 26, height: 8})),
      ' queue depth'));
    clear(box);
    box.append(legend, svg);
    st.minutes = minutes;
    if ($('chart-table').closest('details').open) drawChartTable();
  }

  function fmtTick(v) {
    return v >= 10000 ? Math.round(v / 1000) + 'k' : String(Math.round(v));
  }

  function minuteText(m) {
    return hourMinute(m.t) + ': ' + (m.accepted || 0) +
      ' accepted, ' + (m.succeeded || 0) + ' succeeded, ' +
      (m.failed || 0) + ' failed, queue ' + (m.queue || 0);
  }

  function drawChartTable() {
    const box = $('chart-table');
    clear(box);
    const body = h('tbody');
    for (const m of (st.minutes || []).slice().reverse()) {
      body.append(h('tr', null,
        h('th', {scope: 'row'}, h('time', {
          datetime: new Date(m.t).toISOString(),
          title: new Date(m.t).toISOString() + ' (UTC)',
          text: hourMinute(m.t)})),
        h('td', {class: 'num', text: String(m.accepted || 0)}),
        h('td', {class: 'num', text: String(m.succeeded || 0)}),
        h('td', {class: 'num', text: String(m.failed || 0)}),
        h('td', {class: 'num', text: String(m.queue || 0)})));
    }
    box.append(h('table', null, h('thead', null, h('tr', null,
      h('th', {scope: 'col', text: 'minute'}),
      h('th', {scope: 'col', class: 'num', text: 'accepted'}),
      h('th', {scope: 'col', class: 'num', text: 'succeeded'}),
      h('th', {scope: 'col', class: 'num', text: 'failed'}),
      h('th', {scope: 'col', class: 'num', text: 'queue'}))), body));
  }

  // --- the list of jobs ---------------------------------------------------

  function showList(q, fromJob) {
    stopFollow();
    st.view = 'list';
    st.jobId = null;
    st.job = null;
    const changed = q.state !== st.query.state ||
      q.route !== st.query.route || q.before !== st.query.before;
    st.query = {state: q.state, route: q.route, before: q.before};
    st.listHash = listHash(st.query);
    $('f-state').value = STATES.indexOf(q.state) >= 0 ? q.state : '';
    drawRouteOptions();
    $('overview').hidden = false;
    $('list').hidden = false;
    $('job').hidden = true;
    document.title = 'kick: jobs';
    if (changed) {
      // Another page: the rows shown belong to the old one.
      clear($('rows'));
      st.rows = new Map();
      $('empty').hidden = true;
    }
    if (fromJob !== null) {
      const row = st.rows.get(fromJob);
      if (row) row.link.focus();
    }
    loadList();
  }

  async function loadList() {
    const seq = ++st.listSeq;
    const q = st.query;
    const p = new URLSearchParams({order: 'desc', limit: String(PAGE)});
    if (q.state) p.set('state', q.state);
    if (q.route) p.set('route', q.route);
    if (q.before) p.set('before', q.before);
    st.listAt = Date.now();
    let r;
    try {
      r = await api('GET', '/jobs?' + p.toString());
    } catch (e) {
      if (seq === st.listSeq && e.status !== 401) {
        $('list-note').textContent = 'could not load the jobs: ' +
          describe(e);
      }
      return;
    }
    if (seq !== st.listSeq || st.view !== 'list') return;
    $('list-note').textContent = '';
    drawList(r.data || {});
  }

  function drawList(page) {
    const jobs = Array.isArray(page.jobs) ? page.jobs : [];
    const tbody = $('rows');
    const keep = new Map();
    let prev = null;
    for (const j of jobs) {
      let row = st.rows.get(j.id);
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
    for (const [id, row] of st.rows) if (!keep.has(id)) row.tr.remove();
    st.rows = keep;
    st.page = page;
    $('empty').hidden = jobs.length > 0;
    drawPager(page, jobs);
    if (!st.drawn) {
      st.drawn = true;
      performance.mark('kick-list-drawn');
      root.dataset.drawn = String(Math.round(performance.now()));
    }
  }

  function makeRow(j) {
    const link = h('a', {href: '#/jobs/' + j.id, text: String(j.id)});
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
    const c = row.cells;
    const put = (name, key, fill) => {
      if (row.shown[name] === key) return;
      row.shown[name] = key;
      clear(c[name]);
      fill(c[name]);
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

  function drawPager(page, jobs) {
    const q = st.query;
    const older = $('p-older');
    older.hidden = !(typeof page.next === 'number');
    if (!older.hidden) {
      older.href = listHash({state: q.state, route: q.route,
        before: String(page.next)});
    }
    const first = $('p-first');
    first.hidden = !q.before;
    first.href = listHash({state: q.state, route: q.route});
    $('p-newer').hidden = !q.before;
    $('f-clear').hidden = !q.state && !q.route && !q.before;
  }

  // The page above this one: the PAGE ids above its first, then shown
  // newest first as any page.
  async function newerPage() {
    const q = st.query;
    const rows = $('rows').rows;
    const first = rows.length ? Number(rows[0].dataset.id)
      : Number(q.before) - 1;
    const p = new URLSearchParams({order: 'asc', limit: String(PAGE),
      after: String(first)});
    if (q.state) p.set('state', q.state);
    if (q.route) p.set('route', q.route);
    let r;
    try {
      r = await api('GET', '/jobs?' + p.toString());
    } catch (e) {
      $('list-note').textContent = 'could not page: ' + describe(e);
      return;
    }
    const jobs = (r.data && r.data.jobs) || [];
    const base = {state: q.state, route: q.route};
    if (jobs.length >= PAGE) {
      base.before = String(jobs[jobs.length - 1].id + 1);
    }
    location.hash = listHash(base);
  }

  function onFilter() {
    location.hash = listHash({state: $('f-state').value,
      route: $('f-route').value});
  }

  // --- one job --------------------------------------------------------------

  function showJob(id) {
    const same = st.view === 'job' && st.jobId === id;
    st.view = 'job';
    $('overview').hidden = true;
    $('list').hidden = true;
    $('job').hidden = false;
    $('back').href = st.listHash;
    if (same) return;
    st.jobId = id;
    st.job = null;
    st.deleted = false;
    $('job-h').textContent = 'Job ' + id;
    document.title = 'kick: job ' + id;
    clear($('fields'));
    $('act-msg').textContent = '';
    $('job-error').hidden = true;
    drawActions();
    $('job-h').focus();
    loadJob().then(() => {
      if (st.jobId === id && st.job) startFollow(id);
    });
  }

  async function loadJob() {
    const id = st.jobId;
    if (id === null || st.deleted) return;
    const seq = ++st.jobSeq;
    st.jobAt = Date.now();
    let r;
    try {
      r = await api('GET', '/jobs/' + id);
    } catch (e) {
      if (seq !== st.jobSeq || st.jobId !== id) return;
      if (e.status === 404) {
        st.job = null;
        st.deleted = true;
        drawJobGone(id);
      } else if (e.status !== 401) {
        $('act-msg').textContent = 'Could not load job ' + id + ': ' +
          describe(e);
      }
      return;
    }
    if (seq !== st.jobSeq || st.jobId !== id) return;
    const old = st.job;
    st.job = r.data;
    drawJob();
    // A job that runs again (a retry, by us or elsewhere) has output to
    // follow again once the earlier stream has ended.
    if (old && ENDED.has(old.state) && !ENDED.has(st.job.state) &&
        st.follow === null) {
      startFollow(id);
    }
  }

  function drawJobGone(id) {
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

  function fieldHint(j, name) {
    const v = j[name];
    if (name === 'connection_status' && typeof v === 'number') {
      return CONN_STATUS[v] || null;
    }
    if (name === 'signal' && typeof v === 'number') return SIGNALS[v] || null;
    if (name === 'progress' && typeof v === 'number') {
      return h('progress', {max: 100, value: Math.max(0, Math.min(100, v)),
        'aria-label': 'progress ' + v + ' %'});
    }
    return null;
  }

  function drawJob() {
    const j = st.job;
    $('job-h').textContent = 'Job ' + j.id + ' ';
    $('job-h').append(stateEl(j.state));
    document.title = 'kick: job ' + j.id + ' (' + j.state + ')';
    const dl = $('fields');
    clear(dl);
    const names = FIELDS.concat(Object.keys(j).filter((k) =>
      FIELDS.indexOf(k) < 0 && k !== 'max_attempts'));
    for (const name of names) {
      const hint = fieldHint(j, name);
      dl.append(h('div', {class: 'f-' + name},
        h('dt', {text: name}),
        h('dd', null, h('span', {class: 'v', 'data-field': name},
          fieldValue(j, name)), hint ? ' ' : null,
        hint ? (typeof hint === 'string'
          ? h('span', {class: 'hint', text: hint}) : hint) : null)));
    }
    const err = $('job-error');
    err.hidden = !j.error;
    err.textContent = j.error ? 'error: ' + j.error : '';
    drawActions();
  }

  const ACTIONS = [
    {key: 'cancel', label: 'Cancel', when: (s) => !ENDED.has(s)},
    {key: 'retry', label: 'Retry', when: (s) => ENDED.has(s)},
    {key: 'delete', label: 'Delete', when: (s) => ENDED.has(s)},
  ];

  // The buttons the job's state allows; none in read-only mode, none until
  // /stats has said which mode this is.
  function drawActions() {
    const box = $('actions');
    if (box.childNodes.length === 0) {
      for (const a of ACTIONS) {
        box.append(h('button', {type: 'button', 'data-action': a.key,
          class: 'act act-' + a.key, text: a.label, hidden: true,
          onclick: () => act(a.key)}));
      }
    }
    const j = st.job;
    const allowed = st.mode === 'on' && j && !st.deleted;
    for (const b of box.querySelectorAll('button')) {
      const a = ACTIONS.find((x) => x.key === b.dataset.action);
      const show = Boolean(allowed && a.when(j.state));
      if (!show && document.activeElement === b) $('act-msg').focus();
      b.hidden = !show;
    }
    box.hidden = !allowed;
  }

  async function act(kind) {
    const id = st.jobId;
    const msg = $('act-msg');
    const buttons = $('actions').querySelectorAll('button');
    const req = {
      cancel: ['DELETE', '/jobs/' + id + '?only=cancel', 'Canceling'],
      retry: ['POST', '/jobs/' + id + '/retry', 'Retrying'],
      delete: ['DELETE', '/jobs/' + id + '?only=delete', 'Deleting'],
    }[kind];
    for (const b of buttons) b.disabled = true;
    msg.textContent = req[2] + ' job ' + id + '…';
    try {
      const r = await api(req[0], req[1], kind === 'retry' ? '' : undefined);
      msg.textContent = actionText(kind, id, r);
      if (kind === 'delete') {
        st.deleted = true;
        stopFollow();
        drawJobGone(id);
      } else {
        if (kind === 'retry') startFollow(id);
        scheduleJob(0);
      }
    } catch (e) {
      msg.textContent = {cancel: 'Cancel', retry: 'Retry',
        delete: 'Delete'}[kind] + ' refused: ' + describe(e);
      scheduleJob(0);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  function actionText(kind, id, r) {
    const code = r.status + ' ' + (r.statusText || '');
    const state = r.data && r.data.state;
    if (kind === 'cancel') {
      return r.status === 202
        ? 'Cancel sent (' + code.trim() + '): job ' + id +
          ' was running and is being ended; it will show aborted.'
        : 'Canceled (' + code.trim() + '): job ' + id + ' was queued' +
          (state ? ' and is now ' + state : '') + '.';
    }
    if (kind === 'retry') {
      return 'Retried (' + code.trim() + '): job ' + id + ' is ' +
        (state || 'queued') + ' again.';
    }
    return 'Deleted (' + code.trim() + '): job ' + id +
      ' and its output are gone.';
  }

  // --- a job's output, followed while it runs ------------------------------

  function stopFollow() {
    clearTimeout(st.followTimer);
    st.followTimer = null;
    if (st.follow) st.follow.abort();
    st.follow = null;
  }

  async function startFollow(id) {
    stopFollow();
    const ctl = new AbortController();
    st.follow = ctl;
    const pre = $('output');
    clear(pre);
    const text = document.createTextNode('');
    pre.append(text);
    const note = $('out-note');
    note.textContent = '(loading)';
    let r;
    try {
      r = await fetch('/jobs/' + id + '/output?follow=1', {
        signal: ctl.signal, credentials: 'same-origin', cache: 'no-store'});
    } catch (e) {
      if (st.follow === ctl) {
        st.follow = null;
        note.textContent = '(could not be read: kickd cannot be reached)';
      }
      return;
    }
    if (st.follow !== ctl) return;
    if (r.status === 401) {
      st.follow = null;
      needLogin();
      return;
    }
    if (!r.ok) {
      st.follow = null;
      note.textContent = '(could not be read: ' + r.status + ')';
      return;
    }
    note.textContent = '(following)';
    root.dataset.following = String(id);
    const dec = new TextDecoder();
    const reader = r.body.getReader();
    try {
      for (;;) {
        const part = await reader.read();
        if (part.done) break;
        append(pre, text, dec.decode(part.value, {stream: true}));
      }
      append(pre, text, dec.decode());
    } catch (e) {
      if (st.follow !== ctl) return; // aborted: another job, or a retry
      note.textContent = '(stream broken)';
    }
    if (st.follow !== ctl) return;
    st.follow = null;
    delete root.dataset.following;
    if (note.textContent === '(following)') note.textContent = '(ended)';
    if (text.length === 0) note.textContent = '(none)';
    // The stream ends with the job; if it has not (a dropped connection),
    // follow again from the start in a moment.
    await loadJob();
    if (st.jobId === id && st.job && !ENDED.has(st.job.state) &&
        !st.deleted) {
      st.followTimer = setTimeout(() => {
        if (st.jobId === id && st.follow === null) startFollow(id);
      }, 1000);
    }
  }

  // Appends text, staying at the bottom if the reader was there.
  function append(pre, node, t) {
    if (!t) return;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    node.appendData(t);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  // --- the token ---------------------------------------------------------

  function needLogin() {
    if (st.login) return;
    st.login = true;
    stopEvents();
    stopPolling();
    stopFollow();
    $('app').hidden = true;
    $('login').hidden = false;
    $('logout').hidden = true;
    setLive('login', 'Token needed');
    $('token').focus();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const msg = $('login-msg');
    const input = $('token');
    msg.textContent = 'Checking…';
    let r;
    try {
      r = await fetch('/_kick/login', {method: 'POST',
        credentials: 'same-origin', cache: 'no-store',
        headers: {'Content-Type': 'application/x-www-form-urlencoded',
          'X-Kick-Request': '1'},
        body: new URLSearchParams({token: input.value}).toString()});
    } catch (e) {
      msg.textContent = 'kickd cannot be reached.';
      return;
    }
    if (r.status === 401) {
      msg.textContent = 'That token is not the one kickd has (401).';
      input.select();
      return;
    }
    if (!r.ok) {
      msg.textContent = 'Login refused: ' + r.status + ' ' + r.statusText;
      return;
    }
    input.value = '';
    msg.textContent = '';
    st.login = false;
    $('login').hidden = true;
    remember(true);
    start();
  }

  async function onLogout() {
    try {
      await fetch('/_kick/logout', {method: 'POST',
        credentials: 'same-origin', headers: {'X-Kick-Request': '1'}});
    } catch (e) {
      // Without kickd the cookie stays; what follows shows it.
    }
    remember(false);
    // Without the cookie the next request answers 401 and the form
    // comes back (unless kickd asks no token after all).
    stopEvents();
    stopPolling();
    stopFollow();
    start();
  }

  // Whether this browser logged in with the form: then it may log out.
  function remember(on) {
    try {
      if (on) localStorage.setItem('kick.login', '1');
      else localStorage.removeItem('kick.login');
    } catch (e) {
      // Storage may be off; the button then shows after a login only.
    }
    $('logout').hidden = !on;
  }

  function remembered() {
    try {
      return localStorage.getItem('kick.login') === '1';
    } catch (e) {
      return false;
    }
  }

  // --- start -------------------------------------------------------------

  function tick() {
    if (st.view === 'list') {
      for (const row of st.rows.values()) {
        if (row.job.state === 'running') fillRow(row);
      }
    } else if (st.view === 'job' && st.job && st.job.state === 'running') {
      const v = $('fields').querySelector('[data-field="duration"]');
      if (v) v.textContent = runDuration(st.job);
      // Progress and output_size change without a change of state.
      if (Date.now() - st.jobAt >= RUNNING_MS) scheduleJob(0);
    }
  }

  function start() {
    $('app').hidden = false;
    $('logout').hidden = !remembered();
    setLive('connecting', 'Connecting…');
    st.view = null;
    st.query = {state: '', route: '', before: ''};
    st.listSeq++;
    onHash();
    loadStats();
    connectEvents();
    formats();
  }

  function init() {
    for (const state of STATES) {
      $('f-state').append(h('option', {value: state, text: state}));
    }
    $('filters').addEventListener('change', onFilter);
    $('filters').addEventListener('submit', (ev) => ev.preventDefault());
    $('p-newer').addEventListener('click', newerPage);
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    $('act-msg').setAttribute('tabindex', '-1');
    // A click anywhere on a row opens it; keyboard users have its link.
    $('rows').addEventListener('click', (ev) => {
      const tr = ev.target.closest('tr');
      if (!tr || ev.target.closest('a') ||
          String(window.getSelection()).length > 0) return;
      location.hash = '#/jobs/' + tr.dataset.id;
    });
    const chartBox = $('chart-table').closest('details');
    chartBox.addEventListener('toggle', () => {
      if (chartBox.open) drawChartTable();
    });
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (st.minutes) drawChart(st.minutes);
      }, 150);
    });
    window.addEventListener('hashchange', onHash);
    // Leaving the page closes its streams (a page kept in the back-forward
    // cache would hold its connections, of which a browser has six a
    // host); coming back from that cache opens them again.
    window.addEventListener('pagehide', () => {
      stopEvents();
      stopPolling();
      stopFollow();
    });
    window.addEventListener('pageshow', (ev) => {
      if (ev.persisted && !st.login) start();
    });
    setInterval(tick, 1000);
    start();
  }

  init();
}());
