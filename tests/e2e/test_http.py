# SPDX-License-Identifier: MIT
# HTTP/1.1 framing of kickd: keep-alive, pipelining, Connection: close,
# HTTP/1.0, HEAD, Expect: 100-continue, chunked request bodies, /healthz.

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, Closed, build, chunked, expect, expect_eq,  # noqa
                     expect_error, run)


def parse_echo(body):
    head, _, data = body.partition(b"\n--\n")
    meta = dict(ln.split("=", 1) for ln in head.decode().splitlines())
    return meta, data


def test_healthz():
    with Kickd() as k:
        r = k.get("/healthz")
        expect_eq(r.status, 200, "status")
        expect_eq(r.body, b"ok\n", "body")
        expect(r.header("Content-Length") == "3", "Content-Length: %r", r)


def test_healthz_post_405_with_allow():
    with Kickd() as k:
        r = k.request("POST", "/healthz", body=b"x")
        expect_error(r, 405)
        allow = r.header("Allow")
        expect(allow is not None, "405 without Allow: %r", r)
        methods = [m.strip() for m in allow.split(",")]
        expect("GET" in methods, "Allow %r lacks GET", allow)
        expect("POST" not in methods, "Allow %r has POST", allow)
        k.healthy()


def test_keep_alive():
    with Kickd() as k, k.connect() as c:
        for i in range(5):
            c.send(build("GET", "/healthz"))
            r = c.response()
            expect_eq((r.status, r.body), (200, b"ok\n"), "healthz %d" % i)
            c.send(build("POST", "/echo?i=%d" % i, body=b"body%d" % i))
            r = c.response()
            expect_eq(r.status, 200, "echo %d" % i)
            meta, data = parse_echo(r.body)
            expect_eq(meta["query"], "i=%d" % i, "query")
            expect_eq(data, b"body%d" % i, "echo body")
        # A 404 is not a framing error: the connection stays usable.
        c.send(build("GET", "/no-such-route"))
        expect_error(c.response(), 404)
        c.send(build("GET", "/healthz"))
        expect_eq(c.response().status, 200, "after 404")
        expect(not c.is_closed(0.3), "connection closed while idle")


def test_pipelining():
    with Kickd() as k, k.connect() as c:
        reqs = [build("GET", "/healthz"),
                build("POST", "/echo?n=1", body=b"one"),
                build("GET", "/cl"),
                build("GET", "/no-such-route"),
                build("POST", "/echo?n=2", body=b"two" * 1000),
                build("HEAD", "/healthz"),
                build("GET", "/echo?n=3")]
        c.send(b"".join(reqs))
        r = c.response()
        expect_eq((r.status, r.body), (200, b"ok\n"), "1st")
        r = c.response()
        meta, data = parse_echo(r.body)
        expect_eq((r.status, meta["query"], data), (200, "n=1", b"one"),
                  "2nd")
        r = c.response()
        expect_eq((r.status, r.body), (200, b"hello\n"), "3rd")
        expect_eq(c.response().status, 404, "4th")
        r = c.response()
        meta, data = parse_echo(r.body)
        expect_eq((r.status, meta["query"], data), (200, "n=2", b"two" * 1000),
                  "5th")
        r = c.response(head=True)
        expect_eq(r.status, 200, "6th (HEAD)")
        r = c.response()
        meta, data = parse_echo(r.body)
        expect_eq((r.status, meta["query"], data), (200, "n=3", b""), "7th")
        expect(not c.is_closed(0.3), "connection closed after pipeline")


def test_pipelining_many():
    with Kickd() as k, k.connect(timeout=30) as c:
        reqs = []
        for i in range(100):
            if i % 3 == 0:
                reqs.append(build("POST", "/echo?i=%d" % i, body=b"b%d" % i))
            else:
                reqs.append(build("GET", "/healthz"))
        c.send(b"".join(reqs))
        for i in range(100):
            r = c.response()
            if i % 3 == 0:
                meta, data = parse_echo(r.body)
                expect_eq((meta["query"], data), ("i=%d" % i, b"b%d" % i),
                          "response %d" % i)
            else:
                expect_eq(r.body, b"ok\n", "response %d" % i)


def test_refused_body_is_not_a_request():
    # A body sent with a refused request must be skipped (or the connection
    # closed), never parsed as the next request.
    with Kickd() as k:
        inner = build("GET", "/echo?smuggled=1")
        for method, target, status in (("POST", "/no-such-route", 404),
                                       ("POST", "/healthz", 405)):
            with k.connect() as c:
                c.send(build(method, target, body=inner) +
                       build("GET", "/healthz"))
                expect_error(c.response(), status, target)
                try:
                    r = c.response()
                except Closed:
                    r = None  # closing instead of skipping is allowed
                if r is not None:
                    expect_eq((r.status, r.body), (200, b"ok\n"),
                              "response after the refused body")


def test_script_ignoring_body():
    # /cl never reads stdin: a large body must neither hang the request
    # nor leak into the next one.
    with Kickd() as k, k.connect(timeout=20) as c:
        c.send(build("POST", "/cl", body=b"z" * (2 << 20)) +
               build("GET", "/healthz"))
        r = c.response()
        expect_eq((r.status, r.body), (200, b"hello\n"), "/cl")
        try:
            r = c.response()
        except Closed:
            r = None  # closing instead of draining is allowed
        if r is not None:
            expect_eq((r.status, r.body), (200, b"ok\n"), "next request")
        k.healthy()


def test_pipelining_byte_by_byte():
    with Kickd() as k, k.connect() as c:
        data = build("GET", "/healthz") + build("POST", "/echo",
                                                  body=b"abc")
        for i in range(len(data)):
            c.send(data[i:i + 1])
        expect_eq(c.response().body, b"ok\n", "1st")
        meta, body = parse_echo(c.response().body)
        expect_eq(body, b"abc", "2nd")


def test_connection_close_honoured():
    with Kickd() as k:
        for target in ("/healthz", "/echo", "/cl"):
            with k.connect() as c:
                c.send(build("GET", target, ["Connection: close"]))
                r = c.response()
                expect_eq(r.status, 200, target)
                expect(r.has_token("Connection", "close"),
                       "%s: no Connection: close in %r", target, r)
                expect(c.is_closed(2.0), "%s: connection left open", target)


def test_http10_closes_by_default():
    with Kickd() as k:
        for target in ("/healthz", "/echo"):
            with k.connect() as c:
                c.send(build("GET", target, version="1.0"))
                r = c.response()
                expect_eq(r.status, 200, target)
                expect(r.header("Transfer-Encoding") is None,
                       "%s: chunked response to HTTP/1.0: %r", target, r)
                expect(c.is_closed(2.0), "%s: 1.0 connection left open",
                       target)
        # No Host is fine in HTTP/1.0.
        with k.connect() as c:
            c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
            expect_eq(c.response().status, 200, "1.0 without Host")


def test_http10_script_response_close_delimited():
    with Kickd() as k, k.connect() as c:
        c.send(build("POST", "/echo", body=b"x" * 5000, version="1.0"))
        r = c.response()
        expect_eq(r.status, 200, "status")
        expect(r.header("Transfer-Encoding") is None, "chunked to 1.0: %r", r)
        meta, data = parse_echo(r.body)
        expect_eq(data, b"x" * 5000, "body")


def test_http10_keep_alive():
    # A long response_hold_ms: "/echo ended in time" does not depend on
    # how busy the machine is.
    cfg = "[server]\nlisten = {listen}\ndb = {db}\nresponse_hold_ms = 500\n"
    with Kickd(config=cfg) as k, k.connect() as c:
        for i in range(3):
            c.send(build("GET", "/healthz", ["Connection: keep-alive"],
                         version="1.0"))
            r = c.response()
            expect_eq((r.status, r.body), (200, b"ok\n"), "request %d" % i)
            expect(r.has_token("Connection", "keep-alive"),
                   "1.0 keep-alive response lacks Connection: keep-alive: %r",
                   r)
        expect(not c.is_closed(0.3), "1.0 keep-alive connection closed")
        # A script without Content-Length that ends at once: kickd learns
        # the length (the held answer) and the connection stays.
        c.send(build("GET", "/echo", ["Connection: keep-alive"],
                     version="1.0"))
        r = c.response()
        expect_eq(r.status, 200, "short script")
        expect(r.header("Transfer-Encoding") is None, "chunked to 1.0")
        expect_eq(r.header("Content-Length"), str(len(r.body)),
                  "length of a script that ended at once")
        expect(r.has_token("Connection", "keep-alive"),
               "1.0 keep-alive lost after a short script: %r", r)
        expect(not c.is_closed(0.3), "closed after a short script")
        # One that streams (no length, still writing): close-delimited.
        c.send(build("GET", "/stream", ["Connection: keep-alive"],
                     version="1.0"))
        r = c.response()
        expect_eq((r.status, r.body), (200, b"first\nsecond\n"), "stream")
        expect(r.header("Transfer-Encoding") is None, "chunked to 1.0")
        expect(r.header("Content-Length") is None, "length of a stream")
        expect(c.is_closed(2.0), "close-delimited response left open")


def test_head():
    # After each HEAD response no body bytes follow, and the connection
    # serves the next request.
    with Kickd() as k, k.connect() as c:
        for target, length in (("/healthz", "3"), ("/cl", "6"),
                               ("/echo", None), ("/stream", None)):
            c.send(build("HEAD", target))
            try:
                r = c.response(head=True)
            except Closed:
                raise AssertionError("HEAD %s: connection closed instead "
                                     "of a response" % target)
            expect_eq(r.status, 200, "HEAD %s" % target)
            if length:
                expect_eq(r.header("Content-Length"), length,
                          "HEAD %s Content-Length" % target)
            c.send(build("GET", "/healthz"))
            try:
                r = c.response()
            except Closed:
                raise AssertionError("connection closed after HEAD %s "
                                     "instead of answering the next "
                                     "request" % target)
            expect_eq((r.status, r.body), (200, b"ok\n"),
                      "GET after HEAD %s" % target)


def test_expect_100_continue():
    with Kickd() as k, k.connect() as c:
        body = b"payload-" * 100
        c.send(build("POST", "/echo", ["Expect: 100-continue",
                                       "Content-Length: %d" % len(body)]))
        r = c.read_head()
        expect_eq((r.version, r.status), ("HTTP/1.1", 100), "interim")
        c.send(body)
        r = c.response()
        expect_eq(r.status, 200, "final")
        meta, data = parse_echo(r.body)
        expect_eq(data, body, "body")
        # Chunked with Expect too.
        c.send(build("POST", "/echo", ["Expect: 100-continue",
                                       "Transfer-Encoding: chunked"]))
        r = c.read_head()
        expect_eq(r.status, 100, "interim (chunked)")
        c.send(chunked(body, [7, 100]))
        meta, data = parse_echo(c.response().body)
        expect_eq(data, body, "chunked body")


def test_expect_100_final_status_instead():
    cfg = "[server]\nlisten = {listen}\ndb = {db}\nmax_body = 1000\n"
    with Kickd(config=cfg) as k:
        with k.connect() as c:
            c.send(build("POST", "/no-such-route", ["Expect: 100-continue",
                                                    "Content-Length: 10"]))
            r = c.read_head()
            expect_eq(r.status, 404, "unknown route with Expect")
        with k.connect() as c:
            c.send(build("POST", "/echo", ["Expect: 100-continue",
                                           "Content-Length: 1001"]))
            r = c.response()
            expect_error(r, 413, "too large with Expect")
        k.healthy()


def test_chunked_upload():
    with Kickd() as k, k.connect() as c:
        body = bytes(range(256)) * 40 + b"\r\n0\r\n\r\n tail"
        c.send(build("POST", "/echo", ["Transfer-Encoding: chunked"]) +
               chunked(body, [1, 2, 3, 4096, 5]))
        r = c.response()
        expect_eq(r.status, 200, "status")
        meta, data = parse_echo(r.body)
        expect_eq(meta["content_length"], str(len(body)), "CONTENT_LENGTH")
        expect(data == body, "decoded body differs (%d vs %d bytes)",
               len(data), len(body))
        # The connection goes on after a chunked body.
        c.send(build("GET", "/healthz"))
        expect_eq(c.response().status, 200, "after chunked")


def test_chunked_upload_to_stdin_until_eof():
    with Kickd() as k, k.connect() as c:
        body = os.urandom(300000)
        c.send(build("POST", "/stdin", ["Transfer-Encoding: chunked"]))
        # Sent in pieces with pauses: the body is streamed, not one read.
        enc = chunked(body, [65536] * 5)
        for i in range(0, len(enc), 50000):
            c.send(enc[i:i + 50000])
            time.sleep(0.02)
        r = c.response()
        expect_eq(r.status, 200, "status")
        expect_eq(r.body, b"%d %d\n" % (len(body), len(body)),
                  "bytes on stdin, CONTENT_LENGTH")
        with open(os.path.join(k.scripts, "stdin.data"), "rb") as f:
            expect(f.read() == body, "stdin data differs from body")


def test_chunked_extensions_and_trailers():
    # RFC 9112 section 7.1.1: unknown chunk extensions are ignored;
    # section 7.1.2: trailer fields may follow the last chunk.
    with Kickd() as k, k.connect() as c:
        c.send(build("POST", "/echo", ["Transfer-Encoding: chunked"]) +
               b"5;name=value\r\nhello\r\n6 ; x\r\n world\r\n"
               b"0\r\nX-Trailer: yes\r\n\r\n")
        r = c.response()
        expect_eq(r.status, 200, "status")
        meta, data = parse_echo(r.body)
        expect_eq(data, b"hello world", "body")
        c.send(build("GET", "/healthz"))
        expect_eq(c.response().status, 200, "after trailers")


def test_empty_bodies():
    with Kickd() as k, k.connect() as c:
        c.send(build("POST", "/echo", ["Content-Length: 0"]))
        meta, data = parse_echo(c.response().body)
        expect_eq((meta["content_length"], data), ("0", b""), "CL 0")
        c.send(build("POST", "/echo", ["Transfer-Encoding: chunked"]) +
               b"0\r\n\r\n")
        meta, data = parse_echo(c.response().body)
        expect_eq((meta["content_length"], data), ("0", b""), "chunked 0")


def test_long_target_under_limit():
    with Kickd() as k:
        q = "a=" + "x" * 7000
        r = k.get("/echo?" + q)
        expect_eq(r.status, 200, "7 KB target")
        meta, _ = parse_echo(r.body)
        expect_eq(meta["query"], q, "QUERY_STRING")


def test_64_header_fields_allowed():
    with Kickd() as k:
        hs = ["X-H%d: v" % i for i in range(63)]  # + Host = 64
        r = k.request("GET", "/healthz", hs)
        expect_eq(r.status, 200, "64 header fields")


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
