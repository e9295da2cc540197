# SPDX-License-Identifier: MIT
# Who may do what on the dashboard (issue 12, "Access"; docs/dashboard.md)
# in Debian's headless Chromium against a real kickd: read-only shows no
# button and kickd refuses the page's changes; with a token the page asks
# for it once and works with the session cookie after it, a new token
# brings the form back, and kickd refuses a cross-site form post and a
# cookie without X-Kick-Request. One browser serves the module
# (dashpage.py).

import http.server
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import expect, expect_eq, SLOW  # noqa: E402
from dashpage import (B, LIVE, act_msg, api, buttons,  # noqa: E402
                      click_action, dash, load, main, row_ids, trigger, url,
                      wait_job, wait_state)
from webdriver import ENTER  # noqa: E402

TOKEN = "s3cret-dash"


def test_read_only():
    with dash("dashboard = read-only") as k:
        done = trigger(k, "/fail")
        wait_job(k, done)
        running = trigger(k, "/tick")
        wait_job(k, running, ("running",))
        load(k, "#/jobs/%d" % running)
        wait_state("running")
        expect(not B.js("return document.getElementById('mode').hidden"),
               "read-only not said")
        expect_eq(buttons(), [], "buttons of a running job, read-only")
        B.get(url(k, "#/jobs/%d" % done))
        wait_state("failed")
        time.sleep(0.2)
        expect_eq(buttons(), [], "buttons of an ended job, read-only")
        expect(not B.js("return Array.from(document.querySelectorAll("
                        "'button')).some(b => /Cancel|Retry|Delete/.test("
                        "b.textContent) && b.offsetParent !== null)"),
               "an action button shown")
        # The API refuses a change from the page...
        got = B.js_async("const done = arguments[arguments.length - 1];"
                         "fetch('/jobs/' + arguments[0] + '/retry', "
                         "{method: 'POST', headers: {'X-Kick-Request': '1'}})"
                         ".then(r => r.text().then(t => done([r.status, t])))",
                         done)
        expect_eq(got[0], 403, "a retry from the page")
        expect("read-only" in got[1], "403 reason: %r", got[1])
        status, body, r = api(k, "DELETE", "/jobs/%d?only=cancel" % running,
                              [("X-Kick-Request", "1")])
        expect_eq(status, 403, "a cancel with X-Kick-Request")
        expect_eq(body, {"error": "the dashboard is read-only"}, "403 body")
        # ... while an operator's own request (no dashboard header) works.
        status, body, r = api(k, "DELETE", "/jobs/%d?only=cancel" % running)
        expect_eq(status, 202, "the operator's cancel")
        wait_job(k, running)


class EvilSite:
    """Another origin's page that posts a form to kickd, as a cross-site
    attacker's would."""

    def __init__(self, action):
        page = ("<!doctype html><form method=post action='%s'>"
                "</form><script>"
                "document.forms[0].submit()</script>" % action).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 2  # s: an idle connection the browser opened ahead

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                   Handler)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d/" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def login_form_shown():
    B.wait("return !document.getElementById('login').hidden && "
           "document.getElementById('app').hidden && "
           "document.activeElement.id === 'token'", timeout=3 * SLOW,
           what="the token form shown and focused")


def log_in(token):
    B.js("document.getElementById('token').value = ''")
    B.keys(B.find("#token"), token + ENTER)


def test_token_login():
    bearer = [("Authorization", "Bearer " + TOKEN)]
    with dash("token = %s" % TOKEN, bearer) as k:
        failed = trigger(k, "/fail", bearer)
        wait_job(k, failed, headers=bearer)
        B.get(url(k))
        login_form_shown()
        log_in("wrong")
        B.wait("return document.getElementById('login-msg').textContent"
               ".includes('401')", what="the wrong token refused")
        log_in(TOKEN)
        B.wait("return document.documentElement.dataset.drawn && "
               "document.documentElement.dataset.live === 'events'",
               timeout=5 * SLOW, what="the list after the token")
        expect_eq(row_ids(), [failed], "jobs listed after login")
        expect("kick_session" not in B.js("return document.cookie"),
               "the session cookie is readable by scripts")
        # Live updates and changes work with the cookie alone.
        jid = trigger(k, "/ok", bearer)
        B.wait("return document.querySelector('#rows tr[data-id=\"' + "
               "arguments[0] + '\"]')", jid, timeout=LIVE,
               what="a new job listed")
        B.get(url(k, "#/jobs/%d" % failed))
        wait_state("failed")
        click_action("Retry")
        act_msg("Retried")
        wait_state("succeeded")

        # A 401 anywhere brings the form back: kickd's token changed (by
        # SIGHUP), the page left open goes to a job.
        conf = os.path.join(k.tmp, "kickd.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("token = " + TOKEN, "token = next-one"))
        k.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5 * SLOW
        while api(k, "GET", "/stats", bearer)[0] != 401:
            expect(time.monotonic() < deadline, "the token did not change")
            time.sleep(0.05)
        bearer = [("Authorization", "Bearer next-one")]
        k.bearer = bearer
        B.js("location.hash = '#/jobs/%d'" % jid)
        login_form_shown()
        log_in("next-one")
        wait_state("succeeded")

        # A cross-origin form post carries the cookie (the same site:
        # another port of 127.0.0.1) but not X-Kick-Request: refused,
        # and nothing changes.
        evil = EvilSite("http://127.0.0.1:%d/jobs/%d/retry" % (k.port, jid))
        try:
            B.get(evil.url)
            B.wait("return location.port === arguments[0] && "
                   "document.readyState === 'complete'", str(k.port),
                   what="the form posted to kickd")
            body = B.js("return document.body.textContent")
        finally:
            evil.close()
        expect("X-Kick-Request" in body, "cross-site post answer: %r", body)
        expect_eq(wait_job(k, jid, headers=bearer)["earlier_attempts"], 0,
                  "the job retried by the cross-site post")
        # The same by hand: the cookie without the header is refused.
        status, _, r = api(k, "POST", "/_kick/login",
                           [("Content-Type",
                             "application/x-www-form-urlencoded")],
                           "token=next-one")
        expect(status in (200, 204), "login: %r", r)
        cookie = (r.header("Set-Cookie") or "").split(";")[0]
        expect(cookie.startswith("kick_session="), "cookie %r", cookie)
        status, body, r = api(k, "POST", "/jobs/%d/retry" % jid,
                              [("Cookie", cookie)])
        expect_eq(status, 403, "a cookie-authenticated retry without "
                  "X-Kick-Request")
        status, body, r = api(k, "POST", "/jobs/%d/retry" % jid,
                              [("Cookie", cookie), ("X-Kick-Request", "1")])
        expect_eq(status, 202, "the same with X-Kick-Request")

        # Log out: the form, also after a reload.
        B.get(url(k))
        B.wait("return document.documentElement.dataset.drawn",
               timeout=5 * SLOW, what="the list, logged in by the cookie")
        B.click(B.find("#logout"))
        login_form_shown()
        B.get(url(k))
        login_form_shown()


if __name__ == "__main__":
    sys.exit(main(globals()))
