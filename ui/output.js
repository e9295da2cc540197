// SPDX-License-Identifier: MIT
// A job's output, read as a stream (GET /jobs/ID/output?follow=1, fetch
// and its ReadableStream) and appended as text while the job runs: the
// bytes are decoded as UTF-8 and never parsed as HTML.
import {unauthorized} from './api.js';
import {$, clear} from './dom.js';

let ctl = null;  // the AbortController of the stream being read

export function following() {
  return ctl !== null;
}

export function stopOutput() {
  if (ctl) ctl.abort();
  ctl = null;
  delete document.documentElement.dataset.following;
}

// Reads job id's output from its start into the page; onEnd() is called
// when the stream has ended by itself (the job ended, or the connection
// dropped), not when stopOutput() ended it.
export async function followOutput(id, onEnd) {
  stopOutput();
  const mine = new AbortController();
  ctl = mine;
  const pre = $('output');
  clear(pre);
  const text = document.createTextNode('');
  pre.append(text);
  const note = $('out-note');
  note.textContent = '(loading)';
  let r;
  try {
    r = await fetch('/jobs/' + id + '/output?follow=1', {
      signal: mine.signal, credentials: 'same-origin', cache: 'no-store'});
  } catch (e) {
    if (ctl === mine) {
      ctl = null;
      note.textContent = '(could not be read: kickd cannot be reached)';
    }
    return;
  }
  if (ctl !== mine) return;
  if (!r.ok) {
    ctl = null;
    note.textContent = '(could not be read: ' + r.status + ')';
    if (r.status === 401) unauthorized();
    return;
  }
  note.textContent = '(following)';
  document.documentElement.dataset.following = String(id);
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
    if (ctl !== mine) return;  // stopped: another job, or a retry
    note.textContent = '(stream broken)';
  }
  if (ctl !== mine) return;
  ctl = null;
  delete document.documentElement.dataset.following;
  if (note.textContent === '(following)') note.textContent = '(ended)';
  if (text.length === 0) note.textContent = '(none)';
  onEnd();
}

// Appends t, staying at the bottom if the reader was there.
function append(pre, node, t) {
  if (!t) return;
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  node.appendData(t);
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}
