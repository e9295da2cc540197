# SPDX-License-Identifier: MIT
# The dashboard in a browser, for its tests (test_dashboard.py,
# test_dashboard_access.py): a kickd with the routes they use, the job
# API in a few calls, the page read through its DOM, and main(), which
# starts one headless Chromium (webdriver.py) for a module's tests. Never
# skipped: without chromium a module fails and says what to install.

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, expect, run, write_script,  # noqa: E402
                     SAN, SLOW)
import webdriver  # noqa: E402

FINAL = ("succeeded", "failed", "timed_out", "aborted", "canceled")
# "Within 2 s without reloading" (issue 12); the sanitized kickd is slower.
LIVE = 2.0 * (1.5 if SAN else 1.0)


class _Browser:
    """The module's browser, made by main(): B.get(...) and the like work
    in tests that imported B before it was made."""

    browser = None

    def __getattr__(self, name):
        return getattr(_Browser.browser, name)


B = _Browser()

CONFIG = """[server]
listen = {listen}
db = {db}
workers = 4
%(server)s

[route /ok]
exec = {tmp}/dash_ok
env = JOB_DIR={tmp}

[route /tick]
exec = {tmp}/dash_tick
env = JOB_DIR={tmp}

[route /fail]
exec = {tmp}/dash_fail
env = JOB_DIR={tmp}

[route /xss]
exec = {tmp}/dash_xss
"""

SCRIPTS = {
    "dash_ok": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "ok $KICK_JOB_ID"
""",
    # A line every 50 ms for up to a minute.
    "dash_tick": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
i=0
while [ $i -lt 1200 ]; do
    i=$((i + 1))
    echo "tick $i"
    sleep 0.05
done
""",
    # Fails its first run (exit status 3), succeeds the next.
    "dash_fail": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
f="$JOB_DIR/ran.$KICK_JOB_ID"
if [ -e "$f" ]; then echo "second run: ok"; exit 0; fi
: > "$f"
echo "first run: failing"
exit 3
""",
    "dash_xss": """#!/bin/sh
printf 'Content-Type: text/html\\r\\n\\r\\n'
echo '<script>window.kickXss = 1; alert(1)</script>'
echo '<img src=x onerror="window.kickXss = 2; alert(2)">'
echo '<b>not bold</b> &amp; &lt;'
""",
}


class Dash(Kickd):
    """A kickd with the dashboard's test routes. On the way out the
    browser leaves its page (closing its streams) and running jobs are
    canceled, so that kickd stops at once."""

    def __init__(self, server="", bearer=()):
        super().__init__(scripts=None, config=CONFIG % {"server": server})
        self.bearer = list(bearer)
        for name, text in SCRIPTS.items():
            write_script(os.path.join(self.tmp, name), text)

    def __exit__(self, et, ev, tb):
        try:
            B.get("about:blank")
            _, page, _ = api(self, "GET", "/jobs?state=running",
                             self.bearer)
            for j in (page or {}).get("jobs", []):
                api(self, "DELETE", "/jobs/%d" % j["id"], self.bearer)
        except Exception:
            pass  # kickd's own stop says what is wrong
        return super().__exit__(et, ev, tb)


def dash(server="", bearer=()):
    return Dash(server, bearer)


def url(k, hash_=""):
    return "http://127.0.0.1:%d/%s" % (k.port, hash_)


def api(k, method, target, headers=(), body=b""):
    """(status, JSON or None, Response) of one job API request."""
    headers = list(headers)
    if method == "POST" and not body:
        headers.append(("Content-Length", "0"))
    r = k.request(method, target, headers, body)
    data = None
    if r.body and "json" in (r.header("Content-Type") or ""):
        data = json.loads(r.body)
    return r.status, data, r


def trigger(k, route, headers=()):
    status, j, r = api(k, "POST", route, headers)
    expect(status == 202, "trigger %s: %r", route, r)
    return j["id"]


def wait_job(k, jid, states=FINAL, headers=(), timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        status, j, r = api(k, "GET", "/jobs/%d" % jid, headers)
        expect(status == 200, "GET /jobs/%d: %r", jid, r)
        if j["state"] in states:
            return j
        expect(time.monotonic() < deadline, "job %d not %s in time: %r",
               jid, "/".join(states), j)
        time.sleep(0.02)


# What the page shows, read through the DOM.

def load(k, hash_=""):
    """Opens the page at hash_ and waits until it has drawn its list (or
    its job) and the live stream is up."""
    B.get(url(k, hash_))
    B.wait("return document.documentElement.dataset.live === 'events'",
           timeout=5 * SLOW, what="the page's /events stream open")
    if hash_.startswith("#/jobs/"):
        job_state()
    else:
        B.wait("return document.documentElement.dataset.drawn",
               timeout=5 * SLOW, what="the first list drawn")


def row_ids():
    return B.js("return Array.from(document.querySelectorAll('#rows tr'))"
                ".map(tr => Number(tr.dataset.id))")


def rows():
    """The list as kick ls has it: [{id, route, state, attempt, created,
    duration, error}] (created: the <time>'s UTC datetime)."""
    return B.js("""
        return Array.from(document.querySelectorAll('#rows tr')).map(tr => {
          const c = tr.cells;
          const t = c[4].querySelector('time');
          return {id: c[0].textContent.trim(), route: c[1].textContent,
            state: c[2].querySelector('.state').lastChild.textContent
              .trim(),
            symbol: c[2].querySelector('.sym').textContent,
            attempt: c[3].textContent,
            created: t ? t.getAttribute('datetime') : c[4].textContent,
            duration: c[5].textContent, error: c[6].textContent};
        })""")


def job_state(timeout=5.0):
    """The open job's state as its field says (waited for)."""
    return B.wait("const v = document.querySelector("
                  "'#fields [data-field=state]'); return v && "
                  "v.textContent.replace(/^\\W+/, '').trim()",
                  timeout=timeout * SLOW, what="the job's fields drawn")


def wait_state(state, timeout=5.0):
    B.wait("const v = document.querySelector('#fields [data-field=state]');"
           "return v && v.textContent.trim().endsWith(arguments[0])", state,
           timeout=timeout * SLOW, what="the job shown %s" % state)


def fields():
    """The open job's fields: {name: value as shown}; a time's value is
    its UTC datetime, a state's its name (without its symbol)."""
    return B.js("""
        const out = {};
        for (const d of document.querySelectorAll('#fields > div')) {
          const v = d.querySelector('.v').cloneNode(true);
          const t = v.querySelector('time');
          for (const sym of v.querySelectorAll('.sym')) sym.remove();
          out[d.querySelector('dt').textContent] = t
            ? t.getAttribute('datetime') : v.textContent.trim();
        }
        return out;""")


def buttons():
    """The labels of the job's visible buttons."""
    return B.js("return Array.from(document.querySelectorAll("
                "'#job button')).filter(b => b.offsetParent !== null)"
                ".map(b => b.textContent)")


def output():
    return B.js("return document.getElementById('output').textContent")


def click_action(label):
    el = B.find("#actions button[data-action=%s]" % label.lower())
    B.click(el)


def act_msg(contains, timeout=5.0):
    return B.wait("const t = document.getElementById('act-msg')"
                  ".textContent; return t.includes(arguments[0]) && t",
                  contains, timeout=timeout * SLOW,
                  what="status line saying %r" % contains)


def console_errors():
    """SEVERE console entries (a CSP violation is one), kickd's own
    answers the tests asked for aside."""
    return [e["message"] for e in B.console()
            if e.get("level") == "SEVERE" and
            "the server responded with a status of 4" not in e["message"]]


# The tests.

def main(ns):
    """Starts the browser and runs the module's tests (ns: its
    globals()); returns the exit status."""
    why = webdriver.missing()
    if why:
        print("FAIL browser: %s" % why, flush=True)
        return 1
    try:
        _Browser.browser = webdriver.Browser(width=1280, height=900)
    except Exception as e:
        print("FAIL browser: headless chromium did not start: %s" % e,
              flush=True)
        return 1
    try:
        return 1 if run(ns) else 0
    finally:
        _Browser.browser.quit()
