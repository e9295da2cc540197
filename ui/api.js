// SPDX-License-Identifier: MIT
// kickd's JSON API as the page uses it: one request, its JSON, and its
// error as an HttpError; a 401 anywhere is handed to whoever asked
// (onUnauthorized), which brings the token form back.

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;  // 0: kickd could not be reached
  }
}

let unauthorizedCb = () => {};

export function onUnauthorized(cb) {
  unauthorizedCb = cb;
}

// Tells that a request got 401 (for requests made without api()).
export function unauthorized() {
  unauthorizedCb();
}

export function describe(e) {
  return e.status ? e.status + ' ' + e.message : e.message;
}

// One request; resolves to {status, statusText, data (JSON or null)} or
// rejects with an HttpError. Changes carry the header a cross-site form
// cannot send (docs/dashboard.md, CSRF).
export async function api(method, path, body) {
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
    unauthorizedCb();
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

// When a reload asked after a change should run: at least ms after the
// last one (at), and seldom while the tab is hidden.
export function reloadDelay(at, ms) {
  const gap = document.hidden ? 5000 : ms;
  return Math.max(0, at + gap - Date.now());
}
