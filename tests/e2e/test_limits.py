# SPDX-License-Identifier: MIT
# Limits that protect kickd from its clients: a connection that never reads
# its answers cannot make kickd queue them without bound (kickd stops
# reading it), body_timeout is the gap between two reads of a body, the
# control endpoint needs no bearer token, and at max_connections idle
# connections make room for new ones while refusals are logged sparingly.

import os
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, build, expect, expect_eq,  # noqa: E402
                     expect_error, kick_bin, path_env_with, rss, run,
                     write_script, SAN, SLOW)

H = b"Host: 127.0.0.1\r\n"
MiB = 1 << 20
# kickd's resident memory while one client floods it. The plain build must
# stay under 64 MiB (it peaks at 4 MiB); the sanitized one carries shadow
# memory and a quarantine of freed blocks (it peaks near 40 MiB), so its
# bound is larger, and still far below what an unbounded queue reaches
# (1.3 to 1.7 GiB for 200 MB of requests).
RSS_LIMIT = (128 if SAN else 64) * MiB
FLOOD = 200 * 1000 * 1000  # bytes of requests a flood tries to send
STALL = 3.0 * SLOW         # s without progress: the sender is blocked


def flood(k, unit, total=FLOOD, deadline=60.0):
    """Sends copies of unit (pipelined requests) on a new connection that
    never reads, without blocking, until total bytes are sent, the sending
    blocks for STALL seconds, or deadline passes. Samples kickd's VmRSS
    all along. Returns (socket, bytes sent, peak RSS, stalled)."""
    blob = unit * max(1, 65536 // len(unit))
    s = socket.create_connection((k.listen_host, k.port))
    s.setblocking(False)
    sent, view, peak = 0, memoryview(blob), 0
    t0 = last = time.monotonic()
    while sent < total and time.monotonic() - t0 < deadline * SLOW:
        _, w, _ = select.select([], [s], [], 0.1)
        if w:
            try:
                n = s.send(view[sent % len(blob):])
            except BlockingIOError:
                n = 0
            if n:
                sent += n
                last = time.monotonic()
        peak = max(peak, rss(k.proc.pid))
        if time.monotonic() - last > STALL:
            break
    return s, sent, peak, time.monotonic() - last > STALL


def check_flood(k, unit, what):
    s, sent, peak, stalled = flood(k, unit)
    try:
        expect(stalled, "%s: kickd read all %d MB of requests from a client "
               "that reads nothing (peak RSS %d MiB)", what, sent // 10**6,
               peak // MiB)
        expect(peak < RSS_LIMIT, "%s: kickd's RSS reached %d MiB (limit %d "
               "MiB) after %d MB of requests", what, peak // MiB,
               RSS_LIMIT // MiB, sent // 10**6)
        # The stuck connection holds nobody else up.
        k.healthy("while a connection is stuck (%s)" % what)
        r = k.get("/nope")
        expect_error(r, 404, what + ": another client")
        # Still bounded a while later, and the sender is still blocked.
        for _ in range(5):
            time.sleep(0.2)
            peak = max(peak, rss(k.proc.pid))
        expect(peak < RSS_LIMIT, "%s: RSS %d MiB later", what, peak // MiB)
        _, w, _ = select.select([], [s], [], 0)
        if w:
            try:
                n = s.send(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n")
            except BlockingIOError:
                n = 0
            expect(n == 0, "%s: kickd read again though nothing was read "
                   "from it", what)
    finally:
        s.close()
    k.healthy("after the stuck connection closed (%s)" % what)


# 1. Pipelined requests whose answers are never read.

def test_pipelined_healthz_never_read_memory_bounded():
    with Kickd() as k:
        check_flood(k, b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n",
                    "GET /healthz")


def test_pipelined_errors_never_read_memory_bounded():
    unit = (b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n" +
            b"GET /nope HTTP/1.1\r\n" + H + b"\r\n" +
            b"GET /nope/either HTTP/1.1\r\n" + H + b"\r\n" +
            b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n")
    with Kickd() as k:
        check_flood(k, unit, "healthz, 404 and 405")


def test_token_401_never_read_memory_bounded():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\ntoken = sesame\n")
    with Kickd(config=cfg, scripts=None) as k:
        s, sent, peak, stalled = flood(
            k, b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n")
        s.close()
        expect(stalled, "401s: kickd read all %d MB", sent // 10**6)
        expect(peak < RSS_LIMIT, "401s: RSS %d MiB", peak // MiB)


def parse_answers(data, pos, want):
    """Parses kickd's answers (each with a Content-Length) from data at
    pos; want lists (is_head, status, body) in order. Returns the new pos
    and how many of want were matched; raises on a mismatch."""
    done = 0
    while done < len(want):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = bytes(data[pos:end])
        m = re.search(rb"\r\nContent-Length: (\d+)\r", head + b"\r")
        expect(m is not None, "answer %d has no Content-Length: %r", done,
               head)
        is_head, status, body = want[done]
        blen = 0 if is_head else int(m.group(1))
        if len(data) < end + 4 + blen:
            break
        got = int(head[9:12])
        got_body = bytes(data[end + 4:end + 4 + blen])
        expect(got == status and got_body.startswith(body),
               "answer %d: expected %d %r, got %r %r", done, status, body,
               head[:40], got_body[:60])
        pos = end + 4 + blen
        done += 1
    return pos, done


KINDS = [
    (b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n", (False, 200, b"ok\n")),
    (b"GET /nope HTTP/1.1\r\n" + H + b"\r\n", (False, 404, b"404 ")),
    (b"HEAD /healthz HTTP/1.1\r\n" + H + b"\r\n", (True, 200, b"")),
    (b"DELETE /healthz HTTP/1.1\r\n" + H + b"\r\n", (False, 405, b"405 ")),
    (b"GET /nope/%zz HTTP/1.1\r\n" + H + b"\r\n", (False, 400, b"400 ")),
]


def cut_after(sent):
    """The requests of KINDS, repeated, that the first sent bytes begin:
    (bytes up to the end of the last one begun, their expected answers)."""
    unit = b"".join(q for q, _ in KINDS)
    whole, part = divmod(sent, len(unit))
    want = [a for _, a in KINDS] * whole
    end = 0
    for q, a in KINDS:
        if end >= part:
            break
        end += len(q)
        want.append(a)
    return unit * whole + unit[:end], want


def test_paused_connection_answers_all_in_order():
    # The client sends until it is blocked (kickd has stopped reading and
    # the kernel's buffers are full), with a small send buffer of its own.
    unit = b"".join(q for q, _ in KINDS)
    stream = unit * (64 * MiB // len(unit))
    with Kickd() as k:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        s.connect((k.listen_host, k.port))
        s.setblocking(False)
        sent, last, stalled = 0, time.monotonic(), False
        while sent < len(stream):
            _, w, _ = select.select([], [s], [], 0.1)
            if w:
                try:
                    sent += s.send(stream[sent:sent + 65536])
                    last = time.monotonic()
                except BlockingIOError:
                    pass
            if time.monotonic() - last > 1.5 * SLOW:
                stalled = True
                break
        expect(stalled, "kickd read %d MB of requests without their "
               "answers being read", sent // 10**6)
        # The request cut short is completed, and a last one shows that
        # the connection still works at the end.
        reqs, want = cut_after(sent)
        reqs += b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
        want.append((False, 200, b"ok\n"))
        # Now read: kickd takes up the requests it held back, in order.
        data, pos, done = bytearray(), 0, 0
        deadline = time.monotonic() + 60 * SLOW
        while done < len(want):
            expect(time.monotonic() < deadline, "only %d of %d answers "
                   "after 60 s (%d bytes sent of %d)", done, len(want),
                   sent, len(reqs))
            wl = [s] if sent < len(reqs) else []
            r, w, _ = select.select([s], wl, [], 1.0)
            if w:
                try:
                    sent += s.send(reqs[sent:sent + 65536])
                except BlockingIOError:
                    pass
            if r:
                d = s.recv(1 << 20)
                expect(d, "connection closed after %d of %d answers",
                       done, len(want))
                data += d
                pos, n = parse_answers(data, pos, want[done:])
                done += n
                if pos > 1 << 20:
                    del data[:pos]
                    pos = 0
        expect_eq(bytes(data[pos:]), b"", "bytes after the last answer")
        expect(len(want) > 10000, "only %d requests were held", len(want))
        s.close()


def test_unread_answers_close_after_idle_timeout():
    # The flood sees a stall before kickd gives up on the client.
    wait = int(STALL) + 4
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nidle_timeout = %d\n"
           % wait)
    with Kickd(config=cfg, scripts=None) as k:
        s, sent, peak, stalled = flood(
            k, b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n")
        expect(stalled, "kickd read all %d MB", sent // 10**6)
        # kickd gives up on the client idle_timeout after its last
        # progress; reading then finds the end, not an endless stream.
        deadline = time.monotonic() + (wait + 5) * SLOW
        line = "answers not read for %d s, closed" % wait
        while line not in k.stderr_text():
            expect(time.monotonic() < deadline, "no log line %r", line)
            time.sleep(0.1)
        s.setblocking(True)
        s.settimeout(10 * SLOW)
        got = 0
        try:
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise AssertionError("connection still open after %d bytes "
                                 "of answers" % got)
        s.close()
        k.healthy("after the stuck connection was closed")


# 2. body_timeout is the longest gap between two reads of a body.

def test_body_timeout_is_the_gap_between_reads():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nheader_timeout = 10\n"
           "body_timeout = 2\n")
    body = b"12345678"
    with Kickd(config=cfg) as k:
        for what, head, parts in (
                ("content-length", b"POST /stdin HTTP/1.1\r\n" + H +
                 b"Content-Length: 8\r\n\r\n", [bytes([b]) for b in body]),
                ("chunked", b"POST /stdin HTTP/1.1\r\n" + H +
                 b"Transfer-Encoding: chunked\r\n\r\n",
                 [b"1\r\n%c\r\n" % b for b in body] + [b"0\r\n\r\n"])):
            with k.connect(timeout=10 * SLOW) as c:
                t0 = time.monotonic()
                c.send(head)
                for p in parts:
                    time.sleep(0.5)
                    c.send(p)
                r = c.response()
                dt = time.monotonic() - t0
                expect_eq((r.status, r.body), (200, b"8 8\n"),
                          what + ": slow but steady body")
                expect(dt > 2.0, "%s: the body took only %.1f s", what, dt)
        # A body that stops for longer than body_timeout gets 408.
        with k.connect(timeout=10 * SLOW) as c:
            c.send(b"POST /stdin HTTP/1.1\r\n" + H +
                   b"Content-Length: 8\r\n\r\n")
            for p in (b"1", b"2"):
                time.sleep(0.5)
                c.send(p)
            t1 = time.monotonic()
            r = c.response()
            expect_error(r, 408, "a body that stopped")
            expect(time.monotonic() - t1 >= 1.5, "408 only %.1f s after "
                   "the last byte", time.monotonic() - t1)
        k.healthy("after the body timeouts")


SLOW_READER = """#!/bin/sh
sleep 3
n=$(wc -c)
printf 'Content-Type: text/plain\\n\\n%s\\n' "$n"
"""


def test_body_timeout_not_counted_while_script_stdin_full():
    # kickd stops reading the client while the script's stdin is full: the
    # client is not slow, and no gap is counted.
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nbody_timeout = 1\n\n"
           "[route /slow]\nexec = {tmp}/slow_reader\nmode = attach\n")
    body = b"x" * (4 * MiB)
    with Kickd(config=cfg, scripts=None) as k:
        write_script(os.path.join(k.tmp, "slow_reader"), SLOW_READER)
        with k.connect(timeout=20 * SLOW) as c:
            c.send(build("POST", "/slow", body=body))
            r = c.response()
            expect_eq((r.status, r.body), (200, b"%d\n" % len(body)),
                      "a body the script reads 3 s late")


# 3. kick ctl inside a job when kickd has a token.

CTL_SCRIPT = """#!/bin/sh
out=$(kick ctl status 2>&1)
rc=$?
printf 'Content-Type: text/plain\\n\\nstatus=%s rc=%s\\n' "$out" "$rc"
"""


def test_kick_ctl_with_token():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\ntoken = sesame\n\n"
           "[route /a]\nexec = {tmp}/ctl_status\nmode = attach\n\n"
           "[route /d]\nexec = {tmp}/ctl_status\nmode = detach\n")
    auth = [("Authorization", "Bearer sesame")]
    with Kickd(config=cfg, scripts=None,
               env=path_env_with(kick_bin())) as k:
        write_script(os.path.join(k.tmp, "ctl_status"), CTL_SCRIPT)
        # The token is enforced (so what follows is about kick ctl).
        expect_error(k.get("/a"), 401, "without the token")
        r = k.get("/a", auth)
        expect_eq((r.status, r.body), (200, b"status=0 rc=0\n"),
                  "kick ctl status in an attached script")
        r = k.request("POST", "/d", auth, body=b"x=1")
        expect_eq(r.status, 202, "trigger: %r" % r)
        jid = r.header("Location").rsplit("/", 1)[1]
        r = k.get("/jobs/%s?wait=%d" % (jid, int(20 * SLOW)), auth)
        expect(b'"succeeded"' in r.body, "job: %r" % r.body)
        r = k.get("/jobs/%s/output" % jid, auth)
        # A job's header block is its response, not output (issue 10).
        expect(r.status == 200 and r.body == b"status=0 rc=0\n",
               "kick ctl status in a detached job: %r", r.body)
        # The control endpoint answers by its run's secret, not the token.
        r = k.get("/_kick/run/a1.00000000000000000000000000000000/status")
        expect_eq(r.status, 403, "control request with a wrong secret")


# 4. max_connections.

def log_count(k, pattern, want):
    """Waits (at most 5 s) until the log lines matching pattern, whose
    first group is a count, add up to want; returns (total, lines)."""
    deadline = time.monotonic() + 5 * SLOW
    while True:
        lines = [ln for ln in k.stderr_text().splitlines()
                 if re.search(pattern, ln)]
        total = sum(int(re.search(pattern, ln).group(1)) for ln in lines)
        if total >= want or time.monotonic() > deadline:
            return total, lines
        time.sleep(0.1)


def healthz_on(c, what):
    c.send(build("GET", "/healthz"))
    r = c.response()
    expect_eq((r.status, r.body), (200, b"ok\n"), what)


def test_max_connections_closes_longest_idle():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nmax_connections = 3\n"
           "idle_timeout = 60\n")
    with Kickd(config=cfg, scripts=None) as k:
        k.healthy()
        conns = []
        try:
            for i in range(3):
                c = k.connect()
                conns.append(c)
                healthz_on(c, "idle connection %d" % i)
                time.sleep(0.05)
            # A fourth client is served; the longest idle one is closed.
            c4 = k.connect()
            conns.append(c4)
            healthz_on(c4, "new connection at max_connections")
            expect(conns[0].is_closed(3 * SLOW),
                   "the longest idle connection is still open")
            healthz_on(conns[2], "third connection, kept")
            # Now the second is the longest idle.
            c5 = k.connect()
            conns.append(c5)
            healthz_on(c5, "fifth connection")
            expect(conns[1].is_closed(3 * SLOW),
                   "the second connection is still open")
            for c in conns[2:]:
                healthz_on(c, "a connection kept open")
        finally:
            for c in conns:
                c.close()
        closed, lines = log_count(k, r"make room: (\d+)", 2)
        expect_eq(closed, 2, "idle connections closed, in the log %r"
                  % lines)


def test_max_connections_refuses_when_busy():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nmax_connections = 2\n"
           "header_timeout = 60\nidle_timeout = 60\n")
    with Kickd(config=cfg, scripts=None) as k:
        k.healthy()
        busy = [k.connect(), k.connect()]
        try:
            for c in busy:
                c.send(b"GET /healthz HTTP/1.1\r\n")  # half a request
            time.sleep(0.5 * SLOW)  # kickd has read it
            refused = 20
            for i in range(refused):
                with k.connect() as c:
                    try:
                        c.send(build("GET", "/healthz"))
                        d = c.sock.recv(4096)
                    except (ConnectionResetError, BrokenPipeError):
                        d = b""
                    expect_eq(d, b"", "refused connection %d" % i)
            # The busy connections were not harmed.
            for i, c in enumerate(busy):
                c.send(H + b"\r\n")
                r = c.response()
                expect_eq((r.status, r.body), (200, b"ok\n"),
                          "busy connection %d" % i)
            # Both are idle now: a new client is served.
            k.healthy("once the busy connections are idle")
        finally:
            for c in busy:
                c.close()
        # One line at once, then at most one a second, with the counts.
        total, lines = log_count(k, r"new connections refused: (\d+)",
                                 refused)
        expect_eq(total, refused, "refusals counted in the log %r" % lines)
        expect(len(lines) < refused / 2, "%d log lines for %d refusals",
               len(lines), refused)
        stamps = [time.mktime(time.strptime(ln[:19], "%Y-%m-%dT%H:%M:%S")) +
                  float(ln[19:23]) for ln in lines]
        for a, b in zip(stamps, stamps[1:]):
            expect(b - a >= 0.9, "two refusal lines %.2f s apart: %r",
                   b - a, lines)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
