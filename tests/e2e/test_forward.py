# SPDX-License-Identifier: MIT
# The forward runner (PRODUCT.md "Where a route's work runs", issue 11
# item 3): a route's work is an HTTP request to an existing URL. Against
# an upstream this test starts (a small HTTP/1.1 server in a thread that
# records what arrives, on which connection, and when each connection is
# closed): what is sent, what succeeds, retries and Retry-After, a hang-up
# or a cancel closing the upstream connection, a refused connection, the
# time limit, and connections kept and reused.

import json
import os
import select
import socket
import sys
import threading
import time
from email.utils import formatdate
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, build, expect, expect_eq,  # noqa: E402
                     free_port, rss, run, SAN, SCRIPTS, SLOW)
from test_cgi import procstate  # noqa: E402

TOKEN = "fwd-secret"
AUTH = ("Authorization", "Bearer " + TOKEN)
FINAL = ("succeeded", "failed", "timed_out", "aborted", "canceled")
# How soon after a hang-up or a cancel the upstream must see its
# connection closed (scaled for sanitized builds).
CLOSE_BOUND = 0.1 * SLOW
HOLD_MAX = 10.0  # s an upstream waits for its caller at most


def pattern(n):
    """n bytes that show where a byte went missing or came twice."""
    return b"".join(b"%09d\n" % i for i in range(0, n, 10))[:n]


class Upstream:
    """An HTTP/1.1 server on 127.0.0.1 with a thread per connection. Each
    request is recorded (time, connection, method, target, headers, body)
    and answered by its path: /echo..., /created, /status/NNN?ra=V (with
    Retry-After: V), /hold (no answer: waits for the caller to close) and
    /stream (a chunk every 20 ms until the caller closes). Connections
    are kept alive."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Condition()
        self.requests = []
        self.closed = {}  # connection number: when the caller closed it
        self.conns = 0
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stopping = True
        self.sock.close()
        return False

    def _accept(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
                cid = self.conns
            threading.Thread(target=self._serve, args=(cid, s),
                             daemon=True).start()

    def _note_closed(self, cid):
        with self.lock:
            self.closed.setdefault(cid, time.monotonic())
            self.lock.notify_all()

    @staticmethod
    def _peer_gone(s, timeout):
        """Waits up to timeout for the caller to close (EOF or reset)."""
        r, _, _ = select.select([s], [], [], timeout)
        if not r:
            return False
        try:
            return s.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _read_request(self, s, buf):
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return None, buf
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [tuple(x.strip() for x in ln.split(":", 1))
                   for ln in lines[1:]]
        n = int(dict((k.lower(), v) for k, v in headers)
                .get("content-length", "0"))
        while len(buf) < n:
            d = s.recv(65536)
            if not d:
                return None, buf
            buf += d
        req = {"t": time.monotonic(), "method": method, "target": target,
               "headers": headers, "body": buf[:n]}
        return req, buf[n:]

    def _serve(self, cid, s):
        buf = b""
        try:
            while not self.stopping:
                req, buf = self._read_request(s, buf)
                if req is None:
                    break
                req["conn"] = cid
                with self.lock:
                    self.requests.append(req)
                    self.lock.notify_all()
                if not self._answer(s, req):
                    break
        except OSError:
            pass
        self._note_closed(cid)
        s.close()

    def _answer(self, s, req):
        """Answers req; False when the connection is over."""
        u = urlsplit(req["target"])
        q = parse_qs(u.query)
        if u.path.startswith("/hold"):
            self._peer_gone(s, HOLD_MAX)
            return False
        if u.path.startswith("/stream"):
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            deadline = time.monotonic() + HOLD_MAX
            while time.monotonic() < deadline:
                if self._peer_gone(s, 0.02):
                    return False
                s.sendall(b"5\r\ntick\n\r\n")
            return False
        if u.path == "/cut":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                      b"only this\n")
            return False
        status, ctype, extra = 200, "text/plain", []
        body = b"hello from upstream\n"
        if u.path.startswith("/echo"):
            extra = ["Connection: keep-alive, X-Hop", "X-Hop: dropped",
                     "Keep-Alive: timeout=5", "X-Upstream: yes"]
        elif u.path == "/big":
            body = pattern(int(q["n"][0]))
        elif u.path == "/created":
            status, ctype, body = 201, "application/json", b'{"made":1}'
        elif u.path.startswith("/status/"):
            status = int(u.path.split("/")[2])
            body = b"status %d\n" % status
            if "ra" in q:
                extra = ["Retry-After: " + q["ra"][0]]
        head = ["HTTP/1.1 %d X" % status, "Content-Type: " + ctype,
                "Content-Length: %d" % len(body)] + extra
        if req["method"] == "HEAD":
            body = b""
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return True

    def wait(self, pred, n=1, timeout=5.0):
        """Waits until n recorded requests satisfy pred; returns them."""
        deadline = time.monotonic() + timeout * SLOW
        with self.lock:
            while True:
                got = [r for r in self.requests if pred(r)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                expect(left > 0, "upstream: %d of %d requests arrived: %r",
                       len(got), n, [r["target"] for r in self.requests])
                self.lock.wait(left)

    def wait_closed(self, cid, timeout=5.0):
        """When the caller closed connection cid."""
        deadline = time.monotonic() + timeout * SLOW
        with self.lock:
            while cid not in self.closed:
                left = deadline - time.monotonic()
                expect(left > 0, "upstream connection %d was not closed",
                       cid)
                self.lock.wait(left)
            return self.closed[cid]


def config(up, dead):
    """Routes to the upstream (port up) and to a port nobody listens on
    (dead); formatted here, then by the harness ({listen}, {db})."""
    url = "http://127.0.0.1:%d/" % up
    routes = [("/d", url, "retries = 1"),
              ("/d0", url, ""),
              ("/dt", url, "time_limit = 1"),
              ("/a", url, "mode = attach"),
              ("/ah", url, "mode = attach\nabort = hangup"),
              ("/ai", url, "mode = attach\nignore_user_abort = on\n"
               "time_limit = 1"),
              ("/refused", "http://127.0.0.1:%d/x" % dead, "mode = attach"),
              ("/refused_d", "http://127.0.0.1:%d/x" % dead, "")]
    out = ["[server]", "listen = {listen}", "db = {db}",
           "token = " + TOKEN]
    for path, fwd, extra in routes:
        out += ["", "[route %s]" % path, "forward = " + fwd]
        out += extra.splitlines()
    out += ["", "[route /procstate]",
            "exec = " + os.path.join(SCRIPTS, "procstate"), "mode = attach"]
    return "\n".join(out) + "\n"


def setup():
    up = Upstream()
    return up, Kickd(scripts=None, config=config(up.port, free_port()))


def request(k, method, target, headers=(), body=b""):
    return k.request(method, target, [AUTH] + list(headers), body)


def trigger(k, target, body=b"", headers=()):
    r = request(k, "POST", target, headers, body)
    expect_eq(r.status, 202, "trigger %s: %r" % (target, r))
    return json.loads(r.body)["id"]


def wait_job(k, jid, timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        r = request(k, "GET", "/jobs/%d?wait=2" % jid)
        expect_eq(r.status, 200, "GET /jobs/%d: %r" % (jid, r))
        j = json.loads(r.body)
        if j["state"] in FINAL:
            return j
        expect(time.monotonic() < deadline, "job %d did not end: %r", jid,
               j)


def output(k, jid):
    r = request(k, "GET", "/jobs/%d/output" % jid)
    expect_eq(r.status, 200, "GET /jobs/%d/output: %r" % (jid, r))
    return r.body


def field(req, name):
    """A recorded request's field values named name."""
    return [v for k, v in req["headers"] if k.lower() == name.lower()]


def test_request_sent():
    """Method, body, end-to-end fields, PATH_INFO and query arrive, with
    X-Forwarded-*, X-Kick-Job-Id and X-Kick-Attempt; hop-by-hop fields,
    Expect and kickd's token do not. The answer comes back without the
    upstream's hop-by-hop fields."""
    up, kd = setup()
    with up, kd as k:
        body = b"a=1&b=" + b"x" * 5000
        r = request(k, "PUT", "/a/echo/p%20q?y=1&z=%2F", [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Custom", "kept"), ("Cookie", "c=1"),
            ("Connection", "keep-alive, X-Private"), ("X-Private", "no"),
            ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
            ("Proxy-Authorization", "Basic eA=="),
            ("X-Forwarded-For", "10.0.0.1"), ("X-Kick-Attempt", "9"),
            ("Expect", "100-continue")], body)
        expect_eq(r.status, 200, "attached answer: %r" % r)
        expect_eq(r.body, b"hello from upstream\n", "answer body")
        expect_eq(r.header("X-Upstream"), "yes", "upstream field")
        for name in ("X-Hop", "Keep-Alive"):
            expect(r.header(name) is None, "answer has %s: %r", name, r)
        req = up.wait(lambda q: q["target"].startswith("/echo"))[0]
        expect_eq(req["method"], "PUT", "method")
        expect_eq(req["target"], "/echo/p%20q?y=1&z=%2F", "target")
        expect_eq(req["body"], body, "body")
        expect_eq(field(req, "Content-Length"), [str(len(body))],
                  "Content-Length")
        for name, want in (("X-Custom", ["kept"]), ("Cookie", ["c=1"]),
                           ("Content-Type",
                            ["application/x-www-form-urlencoded"]),
                           ("X-Forwarded-For", ["10.0.0.1, 127.0.0.1"]),
                           ("X-Forwarded-Proto", ["http"]),
                           ("X-Kick-Attempt", ["1"]),
                           ("Host", ["127.0.0.1:%d" % up.port])):
            expect_eq(field(req, name), want, name)
        expect(len(field(req, "X-Kick-Job-Id")) == 1 and
               field(req, "X-Kick-Job-Id")[0].startswith("a"),
               "attached run's X-Kick-Job-Id: %r", req["headers"])
        for name in ("Connection", "X-Private", "Keep-Alive", "TE",
                     "Proxy-Authorization", "Authorization", "Expect",
                     "Transfer-Encoding", "Accept"):
            expect_eq(field(req, name), [], name + " sent upstream")
        # A detached job sends its own id.
        jid = trigger(k, "/d0/echo")
        j = wait_job(k, jid)
        expect_eq(j["state"], "succeeded", "job: %r" % j)
        req = up.wait(lambda q: field(q, "X-Kick-Job-Id") == [str(jid)])[0]
        expect_eq(req["method"], "POST", "job's method")


def test_success_response_and_output():
    """A 2xx answer is success: the job's response is the upstream's
    status and content type, its output the upstream's body."""
    up, kd = setup()
    with up, kd as k:
        jid = trigger(k, "/d/created")
        j = wait_job(k, jid)
        expect_eq(j["state"], "succeeded", "job: %r" % j)
        expect_eq(j["response"], {"status": 201,
                                  "content_type": "application/json"},
                  "response")
        expect_eq(output(k, jid), b'{"made":1}', "output")


def test_cut_short_and_head():
    """An answer cut short by the upstream is a failed attempt, and an
    attached client sees it end early; HEAD is sent as HEAD."""
    up, kd = setup()
    with up, kd as k:
        jid = trigger(k, "/d0/cut")
        j = wait_job(k, jid)
        expect_eq(j["state"], "failed", "job: %r" % j)
        expect("90 bytes remaining" in j["error"], "error: %r", j)
        expect_eq(output(k, jid), b"only this\n", "output kept")
        c = k.connect()
        c.send(build("GET", "/a/cut", [AUTH]))
        head = c.read_head()
        expect_eq((head.status, head.header("Content-Length")), (200, "100"),
                  "attached head: %r" % head)
        expect_eq(c.read_to_close(), b"only this\n", "attached body")
        c.close()
        r = k.request("HEAD", "/a/echo/h", [AUTH])
        expect_eq((r.status, r.body), (200, b""), "HEAD: %r" % r)
        req = up.wait(lambda q: q["target"] == "/echo/h")[0]
        expect_eq((req["method"], req["body"]), ("HEAD", b""), "HEAD sent")


def test_500_retried_then_failed():
    """A 500 is a failed attempt: retried (retries = 1), then the job
    fails with an error naming the status."""
    up, kd = setup()
    with up, kd as k:
        jid = trigger(k, "/d/status/500")
        j = wait_job(k, jid)
        expect_eq(j["state"], "failed", "job: %r" % j)
        expect_eq(j["attempt"], 2, "attempts")
        expect("upstream answered 500" in j["error"], "error: %r", j)
        expect_eq(j["response"]["status"], 500, "response status")
        reqs = up.wait(lambda q: q["target"] == "/status/500", 2)
        expect_eq([field(q, "X-Kick-Attempt") for q in reqs],
                  [["1"], ["2"]], "X-Kick-Attempt of the two attempts")


def test_retry_after():
    """429 with Retry-After: 1 makes the next attempt wait at least a
    second; 503 with an HTTP-date three seconds ahead, at least two (more
    than the backoff's longest first wait, 1.5 s)."""
    up, kd = setup()
    with up, kd as k:
        a = trigger(k, "/d/status/429?ra=1")
        date = formatdate(time.time() + 3, usegmt=True)
        b = trigger(k, "/d/status/503?ra=" + date.replace(" ", "%20")
                    .replace(",", "%2C"))
        for jid, path, least in ((a, "/status/429", 1.0),
                                 (b, "/status/503", 2.0)):
            j = wait_job(k, jid)
            expect_eq((j["state"], j["attempt"]), ("failed", 2),
                      "job %d: %r" % (jid, j))
            reqs = up.wait(lambda q: q["target"].startswith(path), 2)
            gap = reqs[1]["t"] - reqs[0]["t"]
            expect(gap >= least, "%s: second attempt %.2f s after the "
                   "first, Retry-After asked for %.0f", path, gap, least)


def test_large_bodies():
    """A large body goes up whole, through the run's queue; a large answer
    comes down whole to a client that does not read for a while, and
    meanwhile kickd holds no more than a few of its megabytes (the
    transfer pauses)."""
    up, kd = setup()
    with up, kd as k:
        body = pattern(4 << 20)
        r = request(k, "POST", "/a/echo/up", [], body)
        expect_eq(r.status, 200, "upload: %r" % r)
        req = up.wait(lambda q: q["target"] == "/echo/up")[0]
        expect(req["body"] == body, "upstream got %d bytes, not the %d "
               "sent", len(req["body"]), len(body))
        n = 16 << 20
        c = k.connect(timeout=10.0)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        base = rss(k.proc.pid)
        c.send(build("GET", "/a/big?n=%d" % n, [AUTH]))
        time.sleep(0.5)
        grown = rss(k.proc.pid) - base
        if not SAN:  # ASan keeps freed memory in quarantine
            expect(grown < 6 << 20, "kickd grew %d bytes while its client "
                   "did not read", grown)
        r = c.response()
        c.close()
        expect_eq(r.status, 200, "download: %r" % r)
        expect(r.body == pattern(n), "client got %d bytes, not the %d "
               "sent", len(r.body), n)


def close_bound(up, cid, t0, what):
    t1 = up.wait_closed(cid)
    expect(t1 - t0 <= CLOSE_BOUND, "%s: upstream connection closed %.0f "
           "ms after, bound %.0f ms", what, (t1 - t0) * 1000,
           CLOSE_BOUND * 1000)


def test_hangup_closes_upstream():
    """A hang-up of an attached client closes the upstream connection:
    at the upstream's next output (abort = write), or at once (abort =
    hangup); with ignore_user_abort the request runs on."""
    up, kd = setup()
    with up, kd as k:
        c = k.connect()
        c.send(build("GET", "/a/stream", [AUTH]))
        head = c.read_head()
        expect_eq(head.status, 200, "streamed answer: %r" % head)
        c.read_line(time.monotonic() + 2)
        cid = up.wait(lambda q: q["target"] == "/stream")[0]["conn"]
        t0 = time.monotonic()
        c.close()
        close_bound(up, cid, t0, "abort = write, upstream writing")

        c = k.connect()
        c.send(build("GET", "/ah/hold", [AUTH]))
        cid = up.wait(lambda q: q["target"] == "/hold")[0]["conn"]
        t0 = time.monotonic()
        c.close()
        close_bound(up, cid, t0, "abort = hangup, upstream silent")

        # ignore_user_abort: the request runs on, to its time limit.
        c = k.connect()
        c.send(build("GET", "/ai/stream", [AUTH]))
        expect_eq(c.read_head().status, 200, "ignore_user_abort")
        req = up.wait(lambda q: q["target"] == "/stream", 2)[1]
        c.close()
        t1 = up.wait_closed(req["conn"])
        expect(t1 - req["t"] >= 0.9, "ignore_user_abort: upstream closed "
               "%.2f s after the request, time limit 1 s", t1 - req["t"])


def test_scripts_hold_no_upstream_socket():
    """A script started while an upstream connection is open does not
    inherit it (it would hold the connection open after kickd closed
    it), nor any other socket of libcurl's."""
    up, kd = setup()
    with up, kd as k:
        c = k.connect()
        c.send(build("GET", "/ah/hold", [AUTH]))
        cid = up.wait(lambda q: q["target"] == "/hold")[0]["conn"]
        _, fds = procstate(request(k, "GET", "/procstate"))
        extra = {n: t for n, t in fds.items() if n > 2 and
                 not t.startswith("/proc/")}
        expect(not extra, "fds a script must not have: %r", extra)
        t0 = time.monotonic()
        c.close()
        close_bound(up, cid, t0, "abort = hangup")


def test_cancel_closes_upstream():
    """DELETE /jobs/ID of a running job closes its upstream connection;
    the job ends aborted."""
    up, kd = setup()
    with up, kd as k:
        jid = trigger(k, "/d0/hold")
        cid = up.wait(lambda q: q["target"] == "/hold")[0]["conn"]
        t0 = time.monotonic()
        r = request(k, "DELETE", "/jobs/%d" % jid)
        expect_eq(r.status, 202, "DELETE: %r" % r)
        close_bound(up, cid, t0, "cancel")
        j = wait_job(k, jid)
        expect_eq((j["state"], j["connection_status"]), ("aborted", 1),
                  "canceled job: %r" % j)


def test_refused():
    """An upstream that refuses: 502 with the reason for an attached
    client, a failed job with the connection error for a detached one. (A
    URL libcurl would refuse, such as a port out of range, stops kickd at
    start: test_cfg.)"""
    up, kd = setup()
    with up, kd as k:
        r = request(k, "GET", "/refused")
        expect_eq(r.status, 502, "attached: %r" % r)
        expect(b"could not connect to 127.0.0.1:" in r.body and
               b"Connection refused" in r.body, "502 reason: %r", r.body)
        jid = trigger(k, "/refused_d")
        j = wait_job(k, jid)
        expect_eq(j["state"], "failed", "job: %r" % j)
        expect("could not connect to 127.0.0.1:" in j["error"] and
               "Connection refused" in j["error"], "error: %r", j)


def test_time_limit():
    """The route's time limit ends a slow upstream: the job is timed_out
    and the upstream connection closed."""
    up, kd = setup()
    with up, kd as k:
        jid = trigger(k, "/dt/hold")
        req = up.wait(lambda q: q["target"] == "/hold")[0]
        j = wait_job(k, jid)
        expect_eq((j["state"], j["connection_status"]), ("timed_out", 2),
                  "job: %r" % j)
        t1 = up.wait_closed(req["conn"])
        expect(0.9 <= t1 - req["t"] <= 1.0 + 0.5 * SLOW, "upstream closed "
               "%.2f s after the request, time limit 1 s", t1 - req["t"])


def test_keep_alive_reuse():
    """20 jobs one after another share the upstream connection."""
    up, kd = setup()
    with up, kd as k:
        for _ in range(20):
            j = wait_job(k, trigger(k, "/d0/echo/ka"))
            expect_eq(j["state"], "succeeded", "job: %r" % j)
        reqs = up.wait(lambda q: q["target"] == "/echo/ka", 20)
        conns = {q["conn"] for q in reqs}
        expect(len(conns) <= 2, "20 jobs used %d connections", len(conns))


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
