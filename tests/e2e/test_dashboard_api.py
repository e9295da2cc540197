# SPDX-License-Identifier: MIT
# The dashboard's server side (issue 12, docs/dashboard.md): the page and
# its files built into kickd (headers, ETag and 304, CSP), dashboard = on,
# off and read-only with the loopback default and its start-up line,
# GET /stats (per-minute counts, counts by state and route), GET /events
# (a job's states, the counts, coalescing under a burst, a slow reader
# kept within bounds), and access: the token, the login cookie, the CSRF
# rule and the read-only refusals. The page itself is tested in Chromium
# by its own module.

import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Conn, Kickd, build, expect,  # noqa: E402
                     expect_eq, rss, run, SAN, SLOW)
from test_jobs import (PATH_ENV, config, get_job, json_body,  # noqa: E402
                       trigger, wait_job, FINAL)

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
TOKEN = "s3cret-token"
SESSION = hmac.new(TOKEN.encode(), b"kick-dashboard-session",
                   hashlib.sha256).hexdigest()
BEARER = ("Authorization", "Bearer " + TOKEN)
COOKIE = ("Cookie", "theme=dark; kick_session=" + SESSION)
MARK = ("X-Kick-Request", "1")
CSRF = "cross-site request refused: X-Kick-Request missing"
READ_ONLY = "the dashboard is read-only"
STATES = ("queued", "running", "succeeded", "failed", "timed_out",
          "aborted", "canceled")
# How long an event may take to reach a stream (issue 12: within 2 s).
EVENT_WAIT = 2.0


def dash(routes=(), server="", **kw):
    """A kickd with the test's routes (job_work scripts, detached) and
    [server] lines; the scripts directory's routes run attached."""
    routes = list(routes) or [("/ok", "job_work", "")]
    return Kickd(config=config(routes, server), env=PATH_ENV, **kw)


def error_of(r, status, what):
    """The reason of a JSON error answer with status."""
    expect(r.status == status, "%s: expected %d, got %r", what, status, r)
    j = json_body(r, what)
    expect(isinstance(j, dict) and isinstance(j.get("error"), str),
           "%s: not {\"error\": ...}: %r", what, r.body)
    return j["error"]


class Events:
    """GET /events on a connection of its own; the chunked body is decoded
    as it comes and split into events: events holds (name, data) with data
    parsed as JSON, comments the comment lines."""

    def __init__(self, k, headers=(), rcvbuf=None, read_head=True):
        self.conn = Conn(k.listen_host, k.port, rcvbuf=rcvbuf)
        self.conn.send(build("GET", "/events", headers))
        self.pending = b""
        self.events = []
        self.comments = []
        self.body_bytes = 0
        self.ended = False
        self.head = None
        if read_head:
            self.read_head()

    def read_head(self, timeout=5.0):
        r = self.conn.read_head(timeout * SLOW)
        expect_eq(r.status, 200, "GET /events status (%r)" % r)
        expect_eq(r.header("Content-Type"), "text/event-stream",
                  "/events Content-Type")
        expect_eq(r.header("Cache-Control"), "no-store",
                  "/events Cache-Control")
        expect_eq(r.header("Transfer-Encoding"), "chunked",
                  "/events Transfer-Encoding")
        self.head = r
        return r

    def _chunk(self, deadline):
        size = int(self.conn.read_line(deadline).split(b";")[0], 16)
        if size == 0:
            self.conn.read_line(deadline)
            self.ended = True
            return
        data = self.conn.read_exact(size, deadline)
        expect_eq(self.conn.read_exact(2, deadline), b"\r\n", "chunk end")
        self.body_bytes += size
        self.pending += data
        while b"\n\n" in self.pending:
            block, self.pending = self.pending.split(b"\n\n", 1)
            name, data = None, None
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                else:
                    raise AssertionError("bad event line %r" % line)
            if name is not None:
                expect(data is not None, "event %s without data", name)
                self.events.append((name, data))

    def until(self, pred, timeout, what):
        """Reads until pred(self) is true; fails after timeout (scaled)."""
        deadline = time.monotonic() + timeout * SLOW
        while not pred(self):
            if self.ended:
                raise AssertionError("the stream ended before %s" % what)
            try:
                self._chunk(deadline)
            except TimeoutError:
                raise AssertionError("no %s within %.1f s; events: %r" % (
                    what, timeout * SLOW, self.events[-8:]))

    def jobs(self, jid=None):
        return [d for n, d in self.events
                if n == "job" and (jid is None or d["id"] == jid)]

    def named(self, name):
        return [d for n, d in self.events if n == name]

    def close(self):
        self.conn.close()


def stats(k, headers=()):
    r = k.get("/stats", headers)
    expect(r.status == 200, "GET /stats: %r", r)
    expect_eq(r.header("Cache-Control"), "no-store", "/stats Cache-Control")
    return json_body(r, "GET /stats")


def log_line(k, pattern, timeout=2.0):
    """Waits for a line of kickd's log matching pattern (a regex)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        m = re.search(pattern, k.stderr_text(), re.M)
        if m:
            return m
        expect(time.monotonic() < deadline, "kickd never logged %r:%s",
               pattern, k.stderr_tail())
        time.sleep(0.02)


def check_asset(r, ctype, what):
    expect(r.status == 200, "%s: %r", what, r)
    expect_eq(r.header("Content-Type"), ctype, what + " Content-Type")
    expect_eq(r.header("Cache-Control"), "no-cache", what + " Cache-Control")
    expect_eq(r.header("X-Content-Type-Options"), "nosniff",
              what + " X-Content-Type-Options")
    expect(re.fullmatch(r'"[0-9a-f]{32}"', r.header("ETag") or ""),
           "%s: ETag %r", what, r.header("ETag"))


def test_page_and_files():
    """GET / and the page's files: built in (the bytes of ui/), with
    their types, no-cache and an ETag honoured with 304, nosniff, and the
    CSP on the page; HEAD; other methods and files refused."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "..", "ui")
    with dash() as k:
        log_line(k, r"dashboard: on at http://127\.0\.0\.1:%d/ \(loopback\)$"
                 % k.port)
        r = k.get("/")
        check_asset(r, "text/html; charset=utf-8", "GET /")
        expect_eq(r.header("Content-Security-Policy"), CSP, "GET / CSP")
        with open(os.path.join(root, "index.html"), "rb") as f:
            expect_eq(r.body, f.read(), "GET / body")
        etag = r.header("ETag")
        for name, ctype in (("app.js", "application/javascript; "
                             "charset=utf-8"),
                            ("app.css", "text/css; charset=utf-8"),
                            ("index.html", "text/html; charset=utf-8")):
            a = k.get("/_kick/ui/" + name)
            check_asset(a, ctype, name)
            with open(os.path.join(root, name), "rb") as f:
                expect_eq(a.body, f.read(), name + " body")
        # Revalidation: the same ETag (also weak, also in a list) is 304
        # without a body; another is the file again.
        for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
            r = k.get("/", [("If-None-Match", inm)])
            expect_eq(r.status, 304, "If-None-Match %s" % inm)
            expect_eq(r.header("ETag"), etag, "304 ETag")
            expect_eq(r.header("Cache-Control"), "no-cache", "304 "
                      "Cache-Control")
            expect(r.header("Content-Length") is None,
                   "a 304 with a Content-Length: %r", r)
        r = k.get("/", [("If-None-Match", '"0000"')])
        expect_eq(r.status, 200, "another ETag")
        r = k.request("HEAD", "/")
        expect_eq((r.status, r.header("ETag")), (200, etag), "HEAD /")
        # Keep-alive goes on after a 304 (no body was announced).
        with k.connect() as c:
            c.send(build("GET", "/", [("If-None-Match", etag)]) +
                   build("GET", "/healthz"))
            expect_eq(c.response().status, 304, "pipelined 304")
            expect_eq(c.response().body, b"ok\n", "after the 304")
        error_of(k.request("POST", "/", [("Content-Length", "0")]), 405,
                 "POST /")
        error_of(k.get("/_kick/ui/nope.js"), 404, "an unknown file")
        error_of(k.get("/_kick/ui/../kick.db"), 404, "a path out of ui/")
        r = k.request("GET", "/", body=b"x")
        expect_eq(r.status, 400, "GET / with a body")


def test_off_and_beyond_loopback():
    """dashboard = off: the page, its files, /stats, /events and the login
    are 404, and kickd says so. Listening beyond loopback the default is
    off (said at start); --dashboard on stands over it."""
    paths = ("/", "/_kick/ui/app.js", "/stats", "/events")
    with dash(server="dashboard = off") as k:
        log_line(k, r"dashboard: off \(dashboard = off\)$")
        for p in paths:
            error_of(k.get(p), 404, "GET %s when off" % p)
        error_of(k.request("POST", "/_kick/login", body=b"token=x"), 404,
                 "login when off")
        k.healthy("when off")
    with dash(server="token = %s" % TOKEN, listen="0.0.0.0") as k:
        log_line(k, r"dashboard: off \(listening beyond loopback; set "
                 r"dashboard = on to serve it\)$")
        error_of(k.get("/"), 404, "GET / beyond loopback")
        # The cookie is no token while there is no dashboard.
        r = k.get("/jobs", [COOKIE])
        expect_eq(r.status, 401, "the cookie when off")
        expect_eq(k.get("/jobs", [BEARER]).status, 200, "the bearer")
    with dash(server="token = %s" % TOKEN, listen="0.0.0.0",
              args=["--dashboard", "read-only"]) as k:
        log_line(k, r"dashboard: read-only at http://0\.0\.0\.0:%d/$"
                 % k.port)
        check_asset(k.get("/"), "text/html; charset=utf-8", "GET /")


def test_stats():
    """GET /stats: 60 minutes oldest first ending with this one; triggers
    accepted and jobs succeeded and failed counted in their minute (a
    retry by hand and a cancel are neither); counts by state and route
    with every state and every configured route; the queue depth."""
    routes = [("/ok", "job_work", ""), ("/bad", "job_work", ""),
              ("/later", "job_work", "")]
    with dash(routes) as k:
        ok = [trigger(k, "/ok") for _ in range(3)]
        bad = [trigger(k, "/bad?exit=3") for _ in range(2)]
        later = trigger(k, "/later", [("Kick-Delay", "600")])
        gone = trigger(k, "/later", [("Kick-Delay", "600")])
        for jid in ok + bad:
            wait_job(k, jid)
        r = k.request("DELETE", "/jobs/%d?only=cancel" % gone)
        expect_eq(r.status, 200, "cancel")
        expect_eq(k.request("POST", "/jobs/%d/retry" % ok[0],
                            [("Content-Length", "0")]).status, 202, "retry")
        wait_job(k, ok[0])
        deadline = time.monotonic() + 3.0 * SLOW
        while True:
            s = stats(k)
            if s["by_state"]["succeeded"] == 3 and \
                    s["by_state"]["canceled"] == 1:
                break
            expect(time.monotonic() < deadline, "counts not current: %r",
                   {key: s[key] for key in ("by_state", "queue_depth")})
            time.sleep(0.1)
        now = time.time() * 1000
        expect(abs(s["now"] - now) < 5000, "now %r, the clock %r",
               s["now"], now)
        m = s["minutes"]
        expect_eq(len(m), 60, "minutes")
        for a, b in zip(m, m[1:]):
            expect_eq(b["t"] - a["t"], 60000, "minutes apart")
        expect(m[-1]["t"] <= s["now"] < m[-1]["t"] + 60000,
               "the last minute %r does not hold now %r", m[-1]["t"],
               s["now"])
        total = {key: sum(x[key] for x in m)
                 for key in ("accepted", "succeeded", "failed")}
        expect_eq(total, {"accepted": 7, "succeeded": 4, "failed": 2},
                  "the minutes' counts")
        expect_eq(m[-1]["queue"], 1, "the queue now")
        expect_eq(s["queue_depth"], 1, "queue_depth")
        want = dict.fromkeys(STATES, 0)
        want.update(succeeded=3, failed=2, queued=1, canceled=1)
        expect_eq(s["by_state"], want, "by_state")
        for route, n in (("/ok", {"succeeded": 3}), ("/bad", {"failed": 2}),
                         ("/later", {"queued": 1, "canceled": 1})):
            w = dict.fromkeys(STATES, 0)
            w.update(n)
            expect_eq(s["by_route"].get(route), w, "by_route %s" % route)
        # The scripts directory's routes are there too, with no jobs.
        expect_eq(s["by_route"].get("/echo"), dict.fromkeys(STATES, 0),
                  "a route without jobs")
        expect_eq(s["dashboard"], "on", "dashboard")
        error_of(k.request("POST", "/stats", [("Content-Length", "0")]),
                 405, "POST /stats")
        expect_eq(get_job(k, later)["state"], "queued", "the delayed job")


def test_events_job_states():
    """A stream: ": ok" at once, the counts, then each state of a job
    (queued, running, succeeded) within 2 s of the change, and the counts
    again when they changed; a deleted job, a canceled one; a HEAD."""
    with dash([("/ok", "job_work", "")]) as k:
        ev = Events(k)
        ev.until(lambda e: "ok" in e.comments, 1.0, "': ok'")
        ev.until(lambda e: e.named("counts"), 2.0, "the first counts")
        first = ev.named("counts")[0]
        expect_eq(set(first), {"by_state", "by_route", "queue_depth"},
                  "counts keys")
        t0 = time.monotonic()
        jid = trigger(k, "/ok?sleep=0.5", [("Kick-Delay", "0.5")])
        for state in ("queued", "running", "succeeded"):
            ev.until(lambda e: any(d["state"] == state
                                   for d in e.jobs(jid)),
                     EVENT_WAIT + 1.0, "job %d %s" % (jid, state))
        took = time.monotonic() - t0
        expect(took < (1.0 + 2 * EVENT_WAIT) * SLOW,
               "queued to succeeded took %.2f s", took)
        states = [d["state"] for d in ev.jobs(jid)]
        expect_eq(states, ["queued", "running", "succeeded"], "the states")
        for d in ev.jobs(jid):
            expect_eq((d["route"], type(d["attempt"])), ("/ok", int),
                      "event fields %r" % d)
        expect_eq([d["attempt"] for d in ev.jobs(jid)], [0, 1, 1],
                  "attempts")
        ev.until(lambda e: e.named("counts")[-1]["by_state"]["succeeded"]
                 == 1, EVENT_WAIT, "counts with the job succeeded")
        expect_eq(ev.named("counts")[-1]["by_route"]["/ok"]["succeeded"], 1,
                  "counts by route")
        n = len(ev.named("counts"))
        r = k.request("DELETE", "/jobs/%d?only=delete" % jid)
        expect_eq(r.status, 204, "delete")
        ev.until(lambda e: any(d["state"] == "deleted"
                               for d in e.jobs(jid)),
                 EVENT_WAIT, "job %d deleted" % jid)
        expect_eq(ev.jobs(jid)[-1]["route"], "/ok", "a deleted job's route")
        ev.until(lambda e: len(e.named("counts")) > n, EVENT_WAIT,
                 "counts after the delete")
        # A queued job canceled: its event names its route.
        later = trigger(k, "/ok", [("Kick-Delay", "600")])
        expect_eq(k.request("DELETE", "/jobs/%d?only=cancel" % later).status,
                  200, "cancel")
        ev.until(lambda e: any(d["state"] == "canceled"
                               for d in e.jobs(later)),
                 EVENT_WAIT, "job %d canceled" % later)
        expect_eq(ev.jobs(later)[-1], {"id": later, "route": "/ok",
                                       "state": "canceled", "attempt": 0},
                  "the canceled event")
        expect(all(name in ("job", "counts") for name, _ in ev.events),
               "other events: %r", ev.events)
        ev.close()
        r = k.request("HEAD", "/events")
        expect_eq((r.status, r.header("Content-Type")),
                  (200, "text/event-stream"), "HEAD /events")
        error_of(k.request("POST", "/events", [("Content-Length", "0")]),
                 405, "POST /events")


def burst(k, conns, n, target, headers=()):
    """conns connections, each sending n triggers of target pipelined, all
    sent before any answer is read; returns the job ids."""
    req = build("POST", target, list(headers) + [("Content-Length", "0")])
    cs = [k.connect(timeout=20.0 * SLOW) for _ in range(conns)]
    ids = []
    try:
        for c in cs:
            c.send(req * n)
        for c in cs:
            for _ in range(n):
                r = c.response()
                expect_eq(r.status, 202, "pipelined trigger")
                ids.append(json.loads(r.body)["id"])
    finally:
        for c in cs:
            c.close()
    return ids


def test_events_burst_coalesced():
    """1,000 triggers in a burst: the stream gets far fewer events than
    changes (a resync for a window of more than 200 jobs), stays small,
    and then counts that hold all of them."""
    with dash([("/later", "job_work", "")]) as k:
        ev = Events(k)
        ev.until(lambda e: e.named("counts"), 2.0, "the first counts")
        before = ev.body_bytes
        ids = burst(k, 4, 250, "/later", [("Kick-Delay", "600")])
        ev.until(lambda e: e.named("counts")[-1]["queue_depth"] == 1000,
                 3.0, "counts with 1000 queued")
        jobs, resyncs = len(ev.jobs()), len(ev.named("resync"))
        size = ev.body_bytes - before
        expect(resyncs >= 1, "no resync for 1000 jobs in a burst (%d job "
               "events)", jobs)
        expect(jobs < 1000, "%d job events for 1000 changes", jobs)
        # 1000 events would be about 65 KB.
        expect(size < 40000, "the stream took %d bytes for the burst "
               "(%d job events, %d resyncs)", size, jobs, resyncs)
        expect(all(d["id"] in ids for d in ev.jobs()), "unknown ids")
        ev.close()


def feed(k, target, windows, per_window):
    """Triggers of target (Kick-Delay: they never run) in rounds of
    per_window, one round per event window and a bit, so that each
    window's events are sent as events, not a resync; returns the triggers
    sent and kickd's peak VmRSS meanwhile."""
    req = build("POST", target, [("Kick-Delay", "600"),
                                 ("Content-Length", "0")])
    peak = 0
    with k.connect(timeout=20.0 * SLOW) as c:
        for _ in range(windows):
            t = time.monotonic()
            c.send(req * per_window)
            for _ in range(per_window):
                expect_eq(c.response().status, 202, "trigger")
            peak = max(peak, rss(k.proc.pid))
            time.sleep(max(0.0, 0.13 - (time.monotonic() - t)))
    return windows * per_window, peak


def test_events_slow_reader_bounded():
    """A stream whose client reads nothing while events keep coming (each
    window just under the resync bound, with the longest routes a scripts
    directory allows): kickd's memory stays within the connection's bound
    (it grows by a fraction of what the stream was given), and when the
    client reads again it gets a resync, having missed events rather than
    getting all of them late."""
    name = "slow_" + "r" * 240
    # The sanitized build keeps freed blocks in a quarantine, which would
    # count as growth: a small one.
    k = Kickd(scripts=True, args=["--mode", "detach"],
              env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:"
                                   "quarantine_size_mb=1"})
    os.symlink(os.path.join(k.scripts, "job_work"),
               os.path.join(k.scripts, name))
    with k:
        # The store's cache and the heap reach their size first.
        feed(k, "/" + name, 15, 180)
        ev = Events(k, rcvbuf=4096)
        ev.until(lambda e: "ok" in e.comments, 1.0, "': ok'")
        base = rss(k.proc.pid)
        sent, peak = feed(k, "/" + name, 30, 180)
        k.healthy("beside a stalled stream")
        peak = max(peak, rss(k.proc.pid))
        fed = sent * (len(name) + 80)
        # ASan's allocator keeps freed blocks of each size class for
        # itself: 1.8 MiB more with a stream that reads everything.
        limit = fed // 2 + (3 << 20 if SAN else 0)
        expect(peak - base < limit, "kickd's VmRSS grew by %.2f MiB "
               "(%.1f to %.1f) beside a stream that read nothing of %.2f "
               "MiB of events", (peak - base) / 2**20, base / 2**20,
               peak / 2**20, fed / 2**20)
        # Reading again, with room: a 4 KiB window reads at the pace of
        # delayed acknowledgements.
        ev.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        ev.until(lambda e: e.named("resync"), 10.0, "a resync")
        got = len(ev.jobs())
        expect(got < sent, "all %d events arrived late", sent)
        ev.close()


def login(k, body, ctype="application/x-www-form-urlencoded"):
    return k.request("POST", "/_kick/login", [("Content-Type", ctype)],
                     body)


def test_token_cookie_csrf():
    """With a token: the page is open, the data is not; the login checks
    the token and sets an HttpOnly, SameSite=Strict cookie (the token's
    HMAC, not the token), which then stands for the token for /jobs,
    /stats and /events; a change authenticated by the cookie needs
    X-Kick-Request, one with the bearer does not; logout clears it."""
    with dash([("/ok", "job_work", "")], "token = %s" % TOKEN) as k:
        check_asset(k.get("/"), "text/html; charset=utf-8", "GET / open")
        check_asset(k.get("/_kick/ui/app.js"),
                    "application/javascript; charset=utf-8", "app.js open")
        for p in ("/jobs", "/stats", "/events", "/metrics"):
            r = k.get(p)
            expect_eq((r.status, r.header("WWW-Authenticate")),
                      (401, "Bearer"), "GET %s without the token" % p)
        expect_eq(error_of(login(k, b"token=nope"), 401, "wrong login"),
                  "wrong token", "wrong login")
        error_of(login(k, b"nothing=here"), 400, "a login without a token")
        error_of(login(k, b"{\"token\": 5}", "application/json"), 400,
                 "a JSON login without a string")
        r = k.request("POST", "/_kick/login", body=b"token=" + b"x" * 5000)
        expect_eq(r.status, 413, "a login body too large")
        error_of(k.get("/_kick/login"), 405, "GET /_kick/login")
        for body, ctype in ((b"token=" + TOKEN.encode(),
                             "application/x-www-form-urlencoded"),
                            (json.dumps({"token": TOKEN}).encode(),
                             "application/json")):
            r = login(k, body, ctype)
            expect_eq(r.status, 204, "login (%s)" % ctype)
            cookie = r.header("Set-Cookie")
            parts = [p.strip() for p in cookie.split(";")]
            expect_eq(parts[0], "kick_session=" + SESSION, "the cookie")
            expect_eq(set(parts[1:]), {"HttpOnly", "SameSite=Strict",
                                       "Path=/"}, "cookie attributes")
            expect(TOKEN not in cookie, "the token is in the cookie")
        r = k.get("/jobs", [COOKIE])
        expect_eq(r.status, 200, "GET /jobs with the cookie")
        expect_eq(stats(k, [COOKIE])["dashboard"], "on", "/stats")
        ev = Events(k, [COOKIE])
        ev.until(lambda e: "ok" in e.comments, 1.0, "': ok' with the cookie")
        bad = ("Cookie", "kick_session=" + "0" * 64)
        expect_eq(k.get("/jobs", [bad]).status, 401, "a wrong cookie")
        expect_eq(k.get("/jobs", [("Cookie", "kick_session=" + TOKEN)])
                  .status, 401, "the token as the cookie")

        a = trigger(k, "/ok", [BEARER])
        b = trigger(k, "/ok", [BEARER])
        wait_job_auth(k, a)
        wait_job_auth(k, b)
        ev.until(lambda e: any(d["state"] == "succeeded"
                               for d in e.jobs(b)), EVENT_WAIT,
                 "job %d succeeded (cookie stream)" % b)
        r = k.request("DELETE", "/jobs/%d?only=delete" % a, [COOKIE])
        expect_eq(error_of(r, 403, "cookie DELETE without the header"),
                  CSRF, "CSRF reason")
        r = k.request("POST", "/jobs/%d/retry" % a,
                      [COOKIE, ("Content-Length", "0")])
        expect_eq(error_of(r, 403, "cookie retry without the header"),
                  CSRF, "CSRF reason")
        expect_eq(get_job_auth(k, a)["state"], "succeeded",
                  "the job after refusals")
        r = k.request("POST", "/jobs/%d/retry" % a,
                      [COOKIE, MARK, ("Content-Length", "0")])
        expect_eq(r.status, 202, "cookie retry with the header")
        wait_job_auth(k, a)
        r = k.request("DELETE", "/jobs/%d?only=delete" % a, [COOKIE, MARK])
        expect_eq(r.status, 204, "cookie DELETE with the header")
        r = k.request("DELETE", "/jobs/%d?only=delete" % b, [BEARER])
        expect_eq(r.status, 204, "bearer DELETE without the header")
        # A cross-site form carries neither the header nor, in today's
        # browsers, the cookie: 401 or 403, never done.
        r = k.request("POST", "/jobs/%d/retry" % a,
                      [("Origin", "http://evil.example"),
                       ("Content-Type", "application/x-www-form-urlencoded"),
                       ("Content-Length", "0")])
        expect_eq(r.status, 401, "a cross-site form without the cookie")
        r = k.request("POST", "/_kick/logout", [("Content-Length", "0")])
        expect_eq(r.status, 204, "logout")
        expect(r.header("Set-Cookie", "").startswith("kick_session=;") and
               "Max-Age=0" in r.header("Set-Cookie"), "logout's cookie %r",
               r.header("Set-Cookie"))
        ev.close()


def get_job_auth(k, jid):
    r = k.get("/jobs/%d" % jid, [BEARER])
    expect(r.status == 200, "GET /jobs/%d: %r", jid, r)
    return json_body(r, "GET /jobs/%d" % jid)


def wait_job_auth(k, jid, timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        j = get_job_auth(k, jid)
        if j["state"] in FINAL:
            return j
        expect(time.monotonic() < deadline, "job %d: %r", jid, j)
        time.sleep(0.02)


def test_read_only():
    """read-only: /stats says so; changes sent with X-Kick-Request or the
    cookie are refused 403, the operator's bearer token without the header
    still works. Without a token, the page's header is refused and a
    change from another site's page (Origin) needs it."""
    with dash([("/ok", "job_work", "")],
              "token = %s\ndashboard = read-only" % TOKEN) as k:
        log_line(k, r"dashboard: read-only at http://127\.0\.0\.1:%d/$"
                 % k.port)
        expect_eq(stats(k, [BEARER])["dashboard"], "read-only", "/stats")
        a = trigger(k, "/ok", [BEARER])
        wait_job_auth(k, a)
        for headers in ([COOKIE, MARK], [BEARER, MARK]):
            r = k.request("DELETE", "/jobs/%d" % a, headers)
            expect_eq(error_of(r, 403, "read-only DELETE"), READ_ONLY,
                      "read-only reason")
            r = k.request("POST", "/jobs/%d/retry" % a,
                          headers + [("Content-Length", "0")])
            expect_eq(error_of(r, 403, "read-only retry"), READ_ONLY,
                      "read-only reason")
        expect_eq(k.get("/jobs/%d" % a, [COOKIE]).status, 200,
                  "reading with the cookie")
        r = k.request("POST", "/jobs/%d/retry" % a,
                      [BEARER, ("Content-Length", "0")])
        expect_eq(r.status, 202, "the operator's retry")
        wait_job_auth(k, a)
        r = k.request("DELETE", "/jobs/%d" % a, [BEARER])
        expect_eq(r.status, 204, "the operator's delete")
    with dash([("/ok", "job_work", "")], "dashboard = read-only") as k:
        a = trigger(k, "/ok")
        wait_job(k, a)
        r = k.request("DELETE", "/jobs/%d" % a, [MARK])
        expect_eq(error_of(r, 403, "read-only without a token"), READ_ONLY,
                  "reason")
        r = k.request("DELETE", "/jobs/%d" % a,
                      [("Origin", "http://evil.example")])
        expect_eq(error_of(r, 403, "a cross-site change"), CSRF, "reason")
        r = k.request("DELETE", "/jobs/%d" % a,
                      [("Origin", "http://127.0.0.1")])
        expect_eq(r.status, 204, "a change from the page's own origin")


def test_streams_end_at_stop_and_off():
    """An open stream ends (its last chunk) when a reload turns the
    dashboard off, and when kickd stops, which then does not wait for
    it."""
    with dash(server="dashboard = on") as k:
        conf = os.path.join(k.tmp, "kickd.conf")
        ev = Events(k)
        ev.until(lambda e: "ok" in e.comments, 1.0, "': ok'")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("dashboard = on", "dashboard = off"))
        k.send_signal(signal.SIGHUP)
        ev.until(lambda e: e.ended, 3.0, "the end of the stream")
        log_line(k, r"dashboard: off \(dashboard = off\)$")
        error_of(k.get("/events"), 404, "/events after the reload")
        ev.close()
        with open(conf, "w") as f:
            f.write(text)
        k.send_signal(signal.SIGHUP)
        log_line(k, r"dashboard: on at (.|\n)*dashboard: on at ")
        ev = Events(k)
        ev.until(lambda e: "ok" in e.comments, 1.0, "': ok' again")
        t0 = time.monotonic()
        k.send_signal(signal.SIGTERM)
        ev.until(lambda e: e.ended, 3.0, "the end of the stream at stop")
        ev.close()  # the client leaves: kickd lingers no more
        k.proc.wait(timeout=5 * SLOW)
        took = time.monotonic() - t0
        expect(took < 1.0 * SLOW, "kickd took %.1f s to stop beside a "
               "stream", took)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
