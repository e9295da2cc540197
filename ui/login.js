// SPDX-License-Identifier: MIT
// The token form: shown when kickd answers 401, it sends the token once
// (POST /_kick/login) and kickd answers with an HttpOnly session cookie,
// so that the page never keeps the token; Log out ends the session.
import {$} from './dom.js';

let onIn = () => {};
let onOut = () => {};

// Whether this browser logged in with the form: then it may log out.
function remember(yes) {
  try {
    if (yes) localStorage.setItem('kick.login', '1');
    else localStorage.removeItem('kick.login');
  } catch (e) {
    // Storage may be off: the button then shows after a login only.
  }
  $('logout').hidden = !yes;
}

export function showLogout() {
  let yes = false;
  try {
    yes = localStorage.getItem('kick.login') === '1';
  } catch (e) {
    yes = false;
  }
  $('logout').hidden = !yes;
}

export function showLogin() {
  $('login').hidden = false;
  $('logout').hidden = true;
  $('token').focus();
}

async function submit(ev) {
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
  $('login').hidden = true;
  remember(true);
  onIn();
}

async function logout() {
  try {
    await fetch('/_kick/logout', {method: 'POST',
      credentials: 'same-origin', headers: {'X-Kick-Request': '1'}});
  } catch (e) {
    // Without kickd the cookie stays; what follows shows it.
  }
  remember(false);
  onOut();
}

// loggedIn(): the token was taken; loggedOut(): the session is over.
export function initLogin(loggedIn, loggedOut) {
  onIn = loggedIn;
  onOut = loggedOut;
  $('login-form').addEventListener('submit', submit);
  $('logout').addEventListener('click', logout);
}
