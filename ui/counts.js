// SPDX-License-Identifier: MIT
// The counts: jobs by state (each a link to the list of that state), the
// queue depth, and jobs by route (each route a link to its list), from
// GET /stats and the stream's "counts" events.
import {$, clear, h} from './dom.js';
import {listHash} from './hash.js';
import {STATES, stateEl} from './show.js';

// Draws c ({by_state, by_route, queue_depth}); returns the routes' names,
// sorted.
export function drawCounts(c) {
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
  return drawRoutes(c.by_route || {});
}

function drawRoutes(byRoute) {
  const names = Object.keys(byRoute).sort();
  const box = $('by-route');
  clear(box);
  if (names.length === 0) {
    box.append(h('p', {class: 'empty', text: 'No jobs yet.'}));
    return names;
  }
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
      tr.append(h('td', {class: 'num', text: String(counts[state] || 0)}));
    }
    tr.append(h('td', {class: 'num', text: String(total)}));
    body.append(tr);
  }
  box.append(h('table', {class: 'routes-table'}, h('thead', null, head),
    body));
  return names;
}
