# SPDX-License-Identifier: MIT
# Bad requests: each gets the right status from a hand-written request,
# never reaches a script, and kickd still answers /healthz after each.
# Request smuggling attempts, timeouts of slow clients, size limits.

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, Closed, build, expect, expect_eq,  # noqa: E402
                     expect_error, run, SLOW)

H = b"Host: 127.0.0.1\r\n"

# Framing errors: the answer, then the connection is closed.
FRAMING = [
    # Malformed request lines.
    (400, "double space", b"GET  /mark HTTP/1.1\r\n" + H + b"\r\n"),
    (400, "extra word", b"GET /mark HTTP/1.1 x\r\n" + H + b"\r\n"),
    (400, "no version", b"GET /mark\r\n" + H + b"\r\n"),
    (400, "bad version", b"GET /mark HTTQ/1.1\r\n" + H + b"\r\n"),
    (400, "bad version digits", b"GET /mark HTTP/1.x\r\n" + H + b"\r\n"),
    (400, "control bytes", b"G\x01T /mark HTTP/1.1\r\n" + H + b"\r\n"),
    (400, "space in target", b"GET /ma rk HTTP/1.1\r\n" + H + b"\r\n"),
    # Headers.
    (400, "missing Host", b"GET /mark HTTP/1.1\r\n\r\n"),
    (400, "two Host", b"GET /mark HTTP/1.1\r\n" + H + H + b"\r\n"),
    (400, "two Host, different", b"GET /mark HTTP/1.1\r\n" + H +
     b"Host: other\r\n\r\n"),
    (400, "space before colon", b"GET /mark HTTP/1.1\r\nHost : x\r\n\r\n"),
    (400, "tab before colon", b"GET /mark HTTP/1.1\r\n" + H +
     b"X-A\t: 1\r\n\r\n"),
    (400, "obs-fold space", b"GET /mark HTTP/1.1\r\n" + H +
     b"X-A: 1\r\n 2\r\n\r\n"),
    (400, "obs-fold tab", b"GET /mark HTTP/1.1\r\n" + H +
     b"X-A: 1\r\n\t2\r\n\r\n"),
    (400, "header without colon", b"GET /mark HTTP/1.1\r\n" + H +
     b"NoColon\r\n\r\n"),
    (400, "empty header name", b"GET /mark HTTP/1.1\r\n" + H +
     b": v\r\n\r\n"),
    # Lengths.
    (400, "CL and TE", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n"),
    (400, "TE and CL", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
     b"0\r\n\r\n"),
    (400, "two CL, equal", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
    (400, "two CL, different", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"),
    (400, "CL list", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: 3, 3\r\n\r\nabc"),
    (400, "CL 12a", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: 12a\r\n\r\n" + b"x" * 12),
    (400, "CL -1", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: -1\r\n\r\n"),
    (400, "CL empty", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: \r\n\r\n"),
    ((400, 413), "CL overflow", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: 99999999999999999999999999\r\n\r\n"),
    (400, "chunk size zz", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    (400, "chunk size -1", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n"),
    (400, "chunk size overflow", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\n"
     b"10000000000000000000005\r\nhello\r\n0\r\n\r\n"),
    (400, "chunk size empty", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n"),
    (400, "chunk data longer than size", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"),
    # 413 (max_body = 1000 here), 414, 431, 501, 505.
    (413, "CL over max_body", b"POST /mark HTTP/1.1\r\n" + H +
     b"Content-Length: 1001\r\n\r\n" + b"x" * 1001),
    (413, "chunked over max_body", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\n" +
     (b"100\r\n" + b"y" * 256 + b"\r\n") * 4 + b"1\r\nz\r\n0\r\n\r\n"),
    (414, "target 9000 bytes", b"GET /mark?" + b"q" * 9000 +
     b" HTTP/1.1\r\n" + H + b"\r\n"),
    (431, "header block 20 KB", b"GET /mark HTTP/1.1\r\n" + H +
     b"".join(b"X-Big-%d: %s\r\n" % (i, b"v" * 1000) for i in range(20)) +
     b"\r\n"),
    (431, "one 17 KB header", b"GET /mark HTTP/1.1\r\n" + H +
     b"X-Big: " + b"v" * 17000 + b"\r\n\r\n"),
    (431, "65 header fields", b"GET /mark HTTP/1.1\r\n" + H +
     b"".join(b"X-H%d: v\r\n" % i for i in range(64)) + b"\r\n"),
    (431, "100 header fields", b"GET /mark HTTP/1.1\r\n" + H +
     b"".join(b"X-H%d: v\r\n" % i for i in range(99)) + b"\r\n"),
    (501, "TE gzip", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: gzip\r\n\r\nabc"),
    (501, "TE gzip, chunked", b"POST /mark HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    (505, "HTTP/2.0", b"GET /mark HTTP/2.0\r\n" + H + b"\r\n"),
    (505, "HTTP/3.1", b"GET /mark HTTP/3.1\r\n" + H + b"\r\n"),
]

# Well-framed requests that are refused: the status is all we require.
REFUSED = [
    (404, "unknown route", b"GET /nope HTTP/1.1\r\n" + H + b"\r\n"),
    (404, "non-executable file", b"GET /notes.txt HTTP/1.1\r\n" + H +
     b"\r\n"),
    ((400, 404), "dot-dot", b"GET /../mark HTTP/1.1\r\n" + H + b"\r\n"),
    ((400, 404), "encoded slash", b"GET /%2e%2e%2fmark HTTP/1.1\r\n" + H +
     b"\r\n"),
    (405, "TRACE", b"TRACE /mark HTTP/1.1\r\n" + H + b"\r\n"),
    (405, "CONNECT", b"CONNECT /mark HTTP/1.1\r\n" + H + b"\r\n"),
    (405, "POST /healthz", b"POST /healthz HTTP/1.1\r\n" + H +
     b"Content-Length: 1\r\n\r\nx"),
    (501, "method BREW", b"BREW /mark HTTP/1.1\r\n" + H + b"\r\n"),
]

LIMITS = "[server]\nlisten = {listen}\ndb = {db}\nmax_body = 1000\n"


def mark_log(k):
    p = os.path.join(k.scripts, "mark.log")
    if not os.path.exists(p):
        return ""
    with open(p) as f:
        return f.read()


def send_bad(k, raw):
    c = k.connect()
    try:
        c.send(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass  # kickd may answer and close before all was sent
    return c


def check_cases(k, cases, framing):
    errors = []
    for status, what, raw in cases:
        try:
            with send_bad(k, raw) as c:
                try:
                    r = c.response()
                except Closed as e:
                    raise AssertionError("closed without a response (%s)"
                                         % e)
                expect_error(r, status, what)
                if framing:
                    expect(r.has_token("Connection", "close"),
                           "no Connection: close: %r", r)
                    expect(c.is_closed(2.0 * SLOW),
                           "connection left open after the error")
            k.healthy("after " + what)
        except (AssertionError, TimeoutError, OSError) as e:
            errors.append("%s: %s" % (what, e))
            if not k.alive():
                errors.append("kickd died")
                break
    expect(not errors, "%d of %d cases wrong:\n%s", len(errors), len(cases),
           "\n".join(errors))
    expect_eq(mark_log(k), "", "requests that reached the script")


def test_framing_errors_close():
    with Kickd(config=LIMITS) as k:
        check_cases(k, FRAMING, True)


def test_invalid_host_value_400():
    # RFC 9112 section 3.2: "A server MUST respond with a 400 (Bad Request)
    # status code to any HTTP/1.1 request message that lacks a Host header
    # field and to any request message that contains more than one Host
    # header field line or a Host header field with an invalid field value."
    with Kickd() as k:
        check_cases(k, [
            (400, "Host with a space",
             b"GET /mark HTTP/1.1\r\nHost: a b\r\n\r\n"),
            (400, "Host with open bracket",
             b"GET /mark HTTP/1.1\r\nHost: [::1\r\n\r\n"),
        ], False)


def test_refused_requests():
    with Kickd(config=LIMITS) as k:
        check_cases(k, REFUSED, False)
        # The route works: the errors above were not a broken route.
        r = k.get("/mark")
        expect_eq((r.status, r.body), (200, b"marked\n"), "GET /mark")
        expect_eq(mark_log(k), "GET /mark\n", "mark.log")


def test_body_at_max_body_accepted():
    with Kickd(config=LIMITS) as k:
        r = k.request("POST", "/echo", body=b"b" * 1000)
        expect_eq(r.status, 200, "CL = max_body")
        expect(r.body.endswith(b"\n--\n" + b"b" * 1000), "body: %r",
               r.body[-50:])


def test_smuggling_cl_te_not_split():
    # A front end using CL would see one request; one using TE, two. kickd
    # must see neither: 400, then close, and the hidden request never runs.
    with Kickd() as k, k.connect() as c:
        hidden = b"GET /mark HTTP/1.1\r\n" + H + b"\r\n"
        body = b"0\r\n\r\n" + hidden
        c.send(b"POST /echo HTTP/1.1\r\n" + H +
               b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
               % len(body) + body)
        r = c.response()
        expect_error(r, 400, "CL+TE")
        expect(c.is_closed(2.0 * SLOW), "connection left open")
        time.sleep(0.2)
        expect_eq(mark_log(k), "", "smuggled request ran")
        k.healthy()


def test_smuggling_te_variants():
    # Obfuscated Transfer-Encoding values must not be taken as chunked
    # while a Content-Length decides elsewhere.
    with Kickd() as k:
        for te in (b"Transfer-Encoding: xchunked", b"Transfer-Encoding : "
                   b"chunked", b"Transfer-Encoding: chunked, chunked",
                   b"Transfer-Encoding:\x0bchunked"):
            with k.connect() as c:
                c.send(b"POST /mark HTTP/1.1\r\n" + H + te +
                       b"\r\n\r\n0\r\n\r\n")
                r = c.response()
                expect(r.status in (400, 501), "%r: got %r", te, r)
                expect(c.is_closed(2.0 * SLOW), "%r: left open", te)
            k.healthy("after %r" % te)
        expect_eq(mark_log(k), "", "requests that reached the script")


def test_header_timeout_408():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nheader_timeout = 1\n"
           "body_timeout = 1\nidle_timeout = 30\n")
    with Kickd(config=cfg) as k:
        for what, part in (("request line", b"GET /mark HT"),
                           ("headers", b"GET /mark HTTP/1.1\r\n" + H +
                            b"X-A: 1\r\n")):
            with k.connect(timeout=6 * SLOW) as c:
                t0 = time.monotonic()
                c.send(part)
                r = c.response()
                dt = time.monotonic() - t0
                expect_error(r, 408, what)
                expect(0.8 <= dt <= 4 * SLOW, "%s: 408 after %.1f s", what,
                       dt)
                expect(c.is_closed(2.0), "%s: left open after 408", what)
            k.healthy("after 408")
        # Dribbling bytes does not extend the header timeout.
        with k.connect(timeout=6 * SLOW) as c:
            t0 = time.monotonic()
            got = None
            for b in b"GET /mark HTTP/1.1\r\nX-Slow: " + b"a" * 40:
                if select.select([c.sock], [], [], 0)[0]:
                    break  # the answer is there: stop sending
                try:
                    c.send(bytes([b]))
                except OSError:
                    break
                time.sleep(0.1)
                if time.monotonic() - t0 > 3.5 * SLOW:
                    break
            try:
                got = c.response(timeout=2)
            except (Closed, TimeoutError):
                pass
            dt = time.monotonic() - t0
            expect(got is not None and got.status == 408,
                   "dribbled headers: got %r after %.1f s", got, dt)
        expect_eq(mark_log(k), "", "requests that reached the script")


def test_body_timeout_408():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nheader_timeout = 1\n"
           "body_timeout = 1\n")
    with Kickd(config=cfg) as k:
        for what, req in (
                ("content-length", b"POST /stdin HTTP/1.1\r\n" + H +
                 b"Content-Length: 10\r\n\r\nabcde"),
                ("chunked", b"POST /stdin HTTP/1.1\r\n" + H +
                 b"Transfer-Encoding: chunked\r\n\r\n5\r\nabc")):
            with k.connect(timeout=6 * SLOW) as c:
                t0 = time.monotonic()
                c.send(req)
                r = c.response()
                dt = time.monotonic() - t0
                expect_error(r, 408, what)
                expect(0.8 <= dt <= 4 * SLOW, "%s: 408 after %.1f s", what,
                       dt)
                expect(c.is_closed(2.0), "%s: left open after 408", what)
            k.healthy("after body 408")


def test_idle_timeout_closes():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nheader_timeout = 5\n"
           "idle_timeout = 1\n")
    with Kickd(config=cfg) as k, k.connect(timeout=6 * SLOW) as c:
        c.send(build("GET", "/healthz"))
        expect_eq(c.response().status, 200, "first")
        t0 = time.monotonic()
        c.sock.settimeout(4 * SLOW)
        try:
            rest = c.sock.recv(4096)
            while rest and rest.startswith(b"HTTP/1.1 408"):
                rest = c.sock.recv(4096)  # a 408 may come first; then EOF
        except ConnectionResetError:
            rest = b""
        except socket.timeout:
            rest = None
        dt = time.monotonic() - t0
        expect(rest is not None, "idle connection still open after %.1f s",
               dt)
        expect(0.8 <= dt <= 3.5 * SLOW, "idle close after %.1f s", dt)


def test_slow_client_does_not_delay_others():
    with Kickd() as k:
        slow_head = k.connect(timeout=20)
        slow_head.send(b"GET /healthz HTTP/1.1\r\nHo")
        slow_body = k.connect(timeout=20)
        slow_body.send(b"POST /echo HTTP/1.1\r\n" + H +
                       b"Content-Length: 10\r\n\r\nabc")
        slow_read = k.connect(timeout=20, )
        slow_read.send(build("GET", "/big?n=%d" % (8 << 20)))
        worst = 0.0
        for i in range(20):
            t0 = time.monotonic()
            k.healthy()
            r = k.request("POST", "/echo", body=b"fast%d" % i)
            expect(r.body.endswith(b"--\nfast%d" % i), "echo %d: %r", i, r)
            worst = max(worst, time.monotonic() - t0)
        expect(worst < 1.0 * SLOW, "a request took %.2f s beside slow "
               "clients", worst)
        # The slow ones still complete when they go on.
        slow_head.send(b"st: x\r\n\r\n")
        expect_eq(slow_head.response().status, 200, "slow headers")
        slow_body.send(b"defghij")
        r = slow_body.response()
        expect(r.body.endswith(b"--\nabcdefghij"), "slow body: %r", r)
        r = slow_read.response(timeout=20)
        expect_eq(len(r.body), 8 << 20, "slow reader length")
        for c in (slow_head, slow_body, slow_read):
            c.close()


def test_garbage_and_abrupt_closes():
    with Kickd() as k:
        inputs = [b"\x00" * 100, b"\xff\xfe" * 500, b"\r\n" * 5000,
                  os.urandom(4096), b"GET / HTTP/1.1\r\n" + H,
                  b"POST /echo HTTP/1.1\r\n" + H +
                  b"Content-Length: 100\r\n\r\nabc",
                  b"POST /sleep1 HTTP/1.1\r\n" + H +
                  b"Content-Length: 0\r\n\r\n",
                  b"GET /big?n=1000000 HTTP/1.1\r\n" + H + b"\r\n"]
        for raw in inputs:
            c = k.connect()
            try:
                c.send(raw)
            except OSError:
                pass
            c.close()  # without reading anything
            k.healthy("after %r" % raw[:30])
        # A reset instead of a close.
        c = k.connect()
        c.send(b"GET /stream HTTP/1.1\r\n" + H + b"\r\n")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        k.healthy("after reset")
        time.sleep(1.5 * SLOW)  # let /sleep1 and /stream end
        k.healthy()


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
