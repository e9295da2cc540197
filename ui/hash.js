// SPDX-License-Identifier: MIT
// The page's address: #/?state=S&route=R&before=ID is a page of the
// list (so that a view can be linked and Back undoes a filter), and
// #/jobs/ID is one job.

// {view: "job", id} or {view: "list", state, route, before}.
export function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const m = /^\/jobs\/(\d+)$/.exec(hash);
  if (m) return {view: 'job', id: Number(m[1])};
  const i = hash.indexOf('?');
  const q = new URLSearchParams(i < 0 ? '' : hash.slice(i + 1));
  return {view: 'list', state: q.get('state') || '',
    route: q.get('route') || '', before: q.get('before') || ''};
}

// The address of a list: q's state, route and before, those set.
export function listHash(q) {
  const p = new URLSearchParams();
  for (const k of ['state', 'route', 'before']) if (q[k]) p.set(k, q[k]);
  const t = p.toString();
  return '#/' + (t ? '?' + t : '');
}

export function jobHash(id) {
  return '#/jobs/' + id;
}
