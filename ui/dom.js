// SPDX-License-Identifier: MIT
// Elements for the dashboard, built with createElement and textContent:
// nothing from kickd is ever parsed as HTML.

export const $ = (id) => document.getElementById(id);

const SVGNS = 'http://www.w3.org/2000/svg';

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

// An HTML element: props are attributes ("text" its textContent, "onX" a
// listener of X), kids are elements or strings (text nodes).
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  setProps(el, props);
  for (const k of kids) {
    if (k !== null && k !== undefined && k !== false) el.append(k);
  }
  return el;
}

// The same for an SVG element.
export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setProps(el, attrs);
  for (const k of kids) if (k !== null && k !== undefined) el.append(k);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}
