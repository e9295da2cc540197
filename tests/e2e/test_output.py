# SPDX-License-Identifier: MIT
# A job's live output (issue 10, item 1): a running detached job's output
# reaches the store while it runs; GET /jobs/ID/output?follow=1 streams it
# as it comes and ends with the job (across a retry, from the queue, for a
# slow or vanished client); a job's CGI header block is its response, not
# output; output without one is kept whole; kick logs [-f].
#
# Scripts (scripts/out_*) write their output in known shapes; out_pieces
# keeps a copy of each of its streams in the test's temp dir, and writes
# stdout bytes 0x00-0x7f and stderr bytes 0x80-0xff so that the
# interleaved output can be taken apart again.

import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Conn, Kickd, build, expect, expect_eq,  # noqa: E402
                     kick_bin, rss, run, SAN, SLOW)
from test_jobs import (config, get_job, json_body, kickd,  # noqa: E402
                       release, trigger, wait_job, FINAL, PATH_ENV)

KICK = kick_bin()
MiB = 1 << 20
HIGH = bytes(range(128, 256))
LOW = bytes(range(128))
# kickd's memory may grow this much while a follower does not read (the
# sanitized build keeps freed blocks in a quarantine).
RSS_GROWTH = (128 if SAN else 64) * MiB
# What out_flood writes for that test: more than an unbounded queue for
# the follower could hide under the bound.
FLOOD_MB = 192 if SAN else 128


class Follow:
    """GET /jobs/ID/output?follow=1 on a connection of its own, read one
    chunk at a time; data holds what arrived."""

    def __init__(self, k, jid, rcvbuf=None):
        self.conn = Conn(k.listen_host, k.port, rcvbuf=rcvbuf)
        self.conn.send(build("GET", "/jobs/%d/output?follow=1" % jid))
        self.data = bytearray()
        self.ended = False
        self.head = None

    def read_head(self, timeout=5.0):
        r = self.conn.read_head(timeout * SLOW)
        expect_eq(r.status, 200, "follow status (%r)" % r)
        expect_eq(r.header("Content-Type"), "application/octet-stream",
                  "follow Content-Type")
        expect_eq(r.header("Transfer-Encoding"), "chunked",
                  "follow Transfer-Encoding")
        expect(r.header("Content-Length") is None,
               "follow has a Content-Length: %r", r)
        self.head = r
        return r

    def chunk(self, timeout=5.0):
        """The next chunk's bytes, or None for the last chunk."""
        if self.head is None:
            self.read_head(timeout)
        deadline = time.monotonic() + timeout * SLOW
        line = self.conn.read_line(deadline)
        n = int(line.split(b";", 1)[0].strip(), 16)
        if n == 0:
            while self.conn.read_line(deadline) != b"":
                pass
            self.ended = True
            return None
        d = self.conn.read_exact(n, deadline)
        expect_eq(self.conn.read_exact(2, deadline), b"\r\n",
                  "chunk's CRLF")
        self.data += d
        return d

    def until(self, pred, timeout=10.0, what="follow"):
        """Reads chunks until pred(data) holds; fails if the stream ends
        first or timeout (scaled) passes."""
        deadline = time.monotonic() + timeout * SLOW
        while not pred(bytes(self.data)):
            left = (deadline - time.monotonic()) / SLOW
            expect(left > 0, "%s: not there in %.1f s; have %d bytes "
                   "ending %r", what, timeout * SLOW, len(self.data),
                   bytes(self.data[-80:]))
            expect(self.chunk(left) is not None, "%s: the stream ended "
                   "early, after %d bytes ending %r", what, len(self.data),
                   bytes(self.data[-80:]))

    def to_end(self, timeout=15.0):
        """Reads to the last chunk; returns every byte of the stream."""
        deadline = time.monotonic() + timeout * SLOW
        while not self.ended:
            left = (deadline - time.monotonic()) / SLOW
            expect(left > 0, "follow did not end in %.1f s; have %d bytes "
                   "ending %r", timeout * SLOW, len(self.data),
                   bytes(self.data[-80:]))
            self.chunk(left)
        return bytes(self.data)

    def close(self):
        self.conn.close()


def output(k, jid):
    r = k.get("/jobs/%d/output" % jid)
    expect_eq(r.status, 200, "GET /jobs/%d/output status" % jid)
    return r.body


def copies(k, jid):
    """What scripts/out_pieces wrote to stdout and to stderr."""
    out = []
    for s in ("out", "err"):
        with open(os.path.join(k.tmp, "copy.%s.%d" % (s, jid)), "rb") as f:
            out.append(f.read())
    return out


def expect_streams(data, k, jid, what):
    """data is out_pieces' stdout and stderr interleaved: taken apart by
    their alphabets, each equals the script's copy, byte for byte."""
    out, err = copies(k, jid)
    expect(len(out) > 1000 and len(err) > 1000, "%s: the script wrote "
           "only %d and %d bytes", what, len(out), len(err))
    got_out, got_err = data.translate(None, HIGH), data.translate(None, LOW)
    for name, got, want in (("stdout", got_out, out),
                            ("stderr", got_err, err)):
        if got != want:
            i = next((i for i in range(min(len(got), len(want)))
                      if got[i] != want[i]), min(len(got), len(want)))
            raise AssertionError("%s: %s differs from what the script wrote"
                                 " (%d bytes, %d expected) from byte %d: "
                                 "%r vs %r" % (what, name, len(got),
                                               len(want), i,
                                               got[i:i + 40], want[i:i + 40]))
    expect_eq(len(data), len(out) + len(err), "%s: length" % what)


def kick(k, *args, timeout=20.0):
    p = subprocess.run([KICK, "--server", "http://127.0.0.1:%d" % k.port] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout * SLOW)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def grows_to(want, sample, timeout, pause, what):
    """Samples (sample()) until they are want, each a prefix of it; fails
    after timeout (scaled)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        got = sample()
        if got == want:
            return
        expect(want.startswith(got), "%s: %r is no prefix of %r", what,
               got, want)
        expect(time.monotonic() < deadline, "%s: not %r within %.1f s: %r",
               what, want, timeout * SLOW, got)
        time.sleep(pause)


def read_until(p, want, timeout=5.0):
    """Reads kick logs -f's stdout (process p) until it has printed want,
    each read a prefix of it; returns what it printed."""
    got = b""
    deadline = time.monotonic() + timeout * SLOW
    while got != want:
        expect(want.startswith(got), "kick logs -f printed %r", got)
        left = deadline - time.monotonic()
        expect(left > 0, "kick logs -f: %r in time", got)
        r, _, _ = select.select([p.stdout], [], [], left)
        if r:
            d = os.read(p.stdout.fileno(), 4096)
            expect(d != b"", "kick logs -f ended early: %r", got)
            got += d
    return got


# 1. Output reaches the store while the job runs.

def test_output_while_running():
    with kickd([("/lines", "out_lines", "")]) as k:
        a = trigger(k, "/lines?lines=3")
        wait_job(k, a, "running", 5.0)
        want = b"line 1\nline 2\nline 3\n"
        grows_to(want, lambda: output(k, a), 2.0, 0.02, "GET output while "
                 "running")
        j = get_job(k, a)
        expect_eq((j["state"], j["output_size"]), ("running", len(want)),
                  "the job while its lines are out (state, output_size)")
        release(k, a)
        j = wait_job(k, a)
        expect_eq((j["state"], j["error"], j["output_size"]),
                  ("succeeded", None, len(want) + 6),
                  "at its end (state, error, output_size)")
        expect_eq(j["response"], {"status": 200,
                                  "content_type": "text/plain"}, "response")
        expect_eq(output(k, a), want + b"after\n", "output at the end")


# 2. Following: every byte in order, ending with the job.

def test_follow_every_byte():
    routes = [("/p", "out_pieces", "")]
    with kickd(routes, "output_cap = 4M") as k:
        a = trigger(k, "/p?bytes=300000")
        f = Follow(k, a)
        f.read_head()
        # The stream is live: its first bytes come while the job runs.
        f.until(lambda d: len(d) > 0, 5.0, "the first bytes")
        expect_eq(get_job(k, a)["state"], "running",
                  "the job when the first bytes came")
        data = f.to_end(30.0)
        j = get_job(k, a)
        expect(j["state"] in FINAL, "the stream ended before the job: %r",
               j)
        expect_eq((j["state"], j["error"], j["output_size"]),
                  ("succeeded", None, len(data)),
                  "the job (state, error, output_size = bytes followed)")
        expect_eq(j["response"], {"status": 200, "content_type":
                                  "application/octet-stream"}, "response")
        # The connection goes on after the last chunk.
        f.conn.send(build("GET", "/healthz"))
        r = f.conn.response()
        expect_eq((r.status, r.body), (200, b"ok\n"),
                  "GET /healthz after the stream, same connection")
        expect(data == output(k, a), "followed bytes (%d) differ from the "
               "stored output (%d)", len(data), len(output(k, a)))
        expect_streams(data, k, a, "followed output")
        f.close()


def test_follow_past_the_cap():
    """A follower that keeps up gets every byte live, more than the store
    keeps; a request pipelined behind the follow is answered after it."""
    with kickd([("/p", "out_pieces", "")], "output_cap = 64K") as k:
        a = trigger(k, "/p?bytes=300000")
        f = Follow(k, a)
        f.conn.send(build("GET", "/healthz"))
        data = f.to_end(30.0)
        j = get_job(k, a)
        expect_eq((j["state"], j["output_size"]), ("succeeded", len(data)),
                  "the job (state, output_size = bytes followed)")
        expect_streams(data, k, a, "followed past the cap")
        kept = output(k, a)
        expect_eq((len(kept), kept), (65536, data[-65536:]),
                  "the stored output: the newest 64 KiB")
        r = f.conn.response()
        expect_eq((r.status, r.body), (200, b"ok\n"),
                  "the request pipelined behind the follow")
        f.close()


def test_follow_from_queue():
    routes = [("/hold", "out_lines", ""), ("/p", "out_pieces", "")]
    with kickd(routes, "workers = 1\noutput_cap = 4M") as k:
        a = trigger(k, "/hold?lines=1")
        wait_job(k, a, "running", 5.0)
        b = trigger(k, "/p?bytes=200000")
        f = Follow(k, b)
        f.read_head()
        expect_eq(get_job(k, b)["state"], "queued",
                  "the followed job behind the holding one")
        release(k, a)
        data = f.to_end(30.0)
        j = get_job(k, b)
        expect_eq((j["state"], j["output_size"]), ("succeeded", len(data)),
                  "the job at the stream's end (state, output_size)")
        expect_eq(data, output(k, b), "followed bytes vs the stored output")
        expect_streams(data, k, b, "followed from the queue")
        f.close()


def test_follow_across_retry():
    routes = [("/p", "out_pieces", "retries = 1")]
    with kickd(routes, "output_cap = 4M") as k:
        a = trigger(k, "/p?bytes=60000&fail1=1")
        f = Follow(k, a)
        f.until(lambda d: b"end 1\n" in d.translate(None, HIGH), 15.0,
                "attempt 1's last line")
        # Between the runs the job waits for its retry (0.5 s at least);
        # the stream goes on to the second run's bytes.
        j = wait_job(k, a, ("queued",) + FINAL, 5.0)
        expect_eq((j["state"], j["attempt"]), ("queued", 1),
                  "after attempt 1 (state, attempt)")
        data = f.to_end(30.0)
        j = get_job(k, a)
        expect_eq((j["state"], j["attempt"], j["output_size"]),
                  ("succeeded", 2, len(data)), "at the stream's end (state, "
                  "attempt, output_size)")
        text = data.translate(None, HIGH)
        for line in (b"attempt 1\n", b"end 1\n", b"attempt 2\n",
                     b"end 2\n"):
            expect(line in text, "followed output lacks %r", line)
        expect(text.index(b"end 1\n") < text.index(b"attempt 2\n"),
               "the runs' output out of order")
        expect_eq(data, output(k, a), "followed bytes vs the stored output")
        expect_streams(data, k, a, "followed across a retry")
        f.close()


# 3. Follow of an ended job, of no job, bad values, HEAD.

def test_follow_ended_and_errors():
    with kickd([("/p", "out_pieces", "")]) as k:
        a = trigger(k, "/p?bytes=20000")
        wait_job(k, a)
        whole = output(k, a)
        expect(len(whole) > 20000, "stored output of %d bytes", len(whole))
        t0 = time.monotonic()
        f = Follow(k, a)
        data = f.to_end(2.0)
        expect_eq(data, whole, "follow of an ended job")
        expect(time.monotonic() - t0 < 1.0 * SLOW, "follow of an ended job "
               "took %.3f s", time.monotonic() - t0)
        f.close()
        # HTTP/1.0 has no chunks: the stream ends with the connection.
        with k.connect() as c:
            c.send(build("GET", "/jobs/%d/output?follow=1" % a,
                         version="1.0"))
            r = c.response()
            expect_eq((r.status, r.chunked, r.body), (200, False, whole),
                      "HTTP/1.0 follow (status, chunked, body)")
            expect(c.is_closed(1.0 * SLOW), "HTTP/1.0 follow: not closed")
        # follow=0 is the plain GET.
        r = k.get("/jobs/%d/output?follow=0" % a)
        expect_eq((r.status, r.body, r.chunked), (200, whole, False),
                  "follow=0 (status, body, chunked)")
        for q in ("follow=2", "follow=", "follow=yes", "follow=10"):
            r = k.get("/jobs/%d/output?%s" % (a, q))
            expect_eq((r.status, json_body(r, q)),
                      (400, {"error": "follow must be 0 or 1"}), q)
        r = k.get("/jobs/999999/output?follow=1")
        expect_eq(r.status, 404, "follow of no job")
        expect_eq(json_body(r, "follow of no job"), {"error": "no such job"},
                  "404 body")
        # HEAD: the head a GET would have, no body; the connection goes on.
        with k.connect() as c:
            c.send(build("HEAD", "/jobs/%d/output?follow=1" % a))
            r = c.response(head=True)
            expect_eq((r.status, r.header("Content-Type"),
                       r.header("Transfer-Encoding")),
                      (200, "application/octet-stream", "chunked"),
                      "HEAD (status, Content-Type, Transfer-Encoding)")
            c.send(build("GET", "/healthz"))
            r = c.response()
            expect_eq((r.status, r.body), (200, b"ok\n"),
                      "GET /healthz after the HEAD, same connection")
        r = k.request("HEAD", "/jobs/999999/output?follow=1")
        expect_eq((r.status, r.body), (404, b""), "HEAD of no job")
        # HEAD of a running job's follow: the head at once, too.
        b = trigger(k, "/p?bytes=300000")
        r = k.request("HEAD", "/jobs/%d/output?follow=1" % b)
        expect_eq(r.status, 200, "HEAD of a running job's follow")
        wait_job(k, b, timeout=30.0)


# 4. A follower that stops reading, and one that leaves.

def test_slow_follower_bounded():
    # Under ASan every freed read buffer would wait in a quarantine of
    # 256 MiB: a smaller one keeps the bound about kickd's own memory.
    env = dict(PATH_ENV)
    if SAN:
        env["ASAN_OPTIONS"] = os.environ.get(
            "ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0") + \
            ":quarantine_size_mb=16"
    with Kickd(config=config([("/flood", "out_flood", "")]), env=env) as k:
        a = trigger(k, "/flood?mb=%d" % FLOOD_MB)
        f = Follow(k, a, rcvbuf=4096)
        # The follower has the first line (so that it follows the run
        # from its start), then reads nothing more while the job writes;
        # kickd answers others meanwhile and the job ends on its own.
        f.until(lambda d: d == b"start\n", 5.0, "the first line")
        k.healthy("at the start")
        base = rss(k.proc.pid)
        release(k, a)
        peak, served = base, 0
        deadline = time.monotonic() + 60.0 * SLOW
        while True:
            peak = max(peak, rss(k.proc.pid))
            k.healthy("while a follower does not read")
            served += 1
            j = get_job(k, a)
            if j["state"] in FINAL:
                break
            expect(time.monotonic() < deadline, "the flood job did not "
                   "end in %.0f s beside a stalled follower: %r",
                   60.0 * SLOW, j)
            time.sleep(0.05)
        peak = max(peak, rss(k.proc.pid))
        total = len(b"start\n") + FLOOD_MB * MiB + len(b"\nend %d\n" % a)
        expect_eq((j["state"], j["output_size"]), ("succeeded", total),
                  "the job (state, output_size)")
        expect(peak - base < RSS_GROWTH, "kickd's VmRSS grew by %.1f MiB "
               "(%.1f to %.1f) with a stalled follower of %d MiB of output",
               (peak - base) / MiB, base / MiB, peak / MiB, FLOOD_MB)
        expect(served >= 2, "only %d requests answered meanwhile", served)
        # Reading again, it gets the end: whatever was skipped, the stream
        # ends cleanly with the job's last bytes.
        data = f.to_end(60.0)
        kept = output(k, a)
        expect(data.startswith(b"start\n" + b"x" * 65536),
               "the stream's start: %r", data[:40])
        expect(data.endswith(b"x\nend %d\n" % a), "the stream's end: %r",
               data[-40:])
        tail = min(len(kept), 256 * 1024)
        expect(data[-tail:] == kept[-tail:], "the stream's last %d bytes "
               "are not the job's", tail)
        expect(len(data) <= total, "followed %d bytes of %d", len(data),
               total)
        f.close()


def test_client_leaves_mid_follow():
    with kickd([("/p", "out_pieces", "")], "output_cap = 4M") as k:
        a = trigger(k, "/p?bytes=300000")
        f1, f2, f3 = Follow(k, a), Follow(k, a), Follow(k, a)
        for f in (f1, f2, f3):
            f.until(lambda d: len(d) > 0, 5.0, "the first bytes")
        expect_eq(get_job(k, a)["state"], "running", "the job when the "
                  "followers leave")
        # One closes, one resets the connection; the third stays.
        f1.close()
        f2.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
        f2.close()
        k.healthy("after two followers left")
        data = f3.to_end(30.0)
        j = get_job(k, a)
        expect_eq((j["state"], j["exit_status"], j["output_size"]),
                  ("succeeded", 0, len(data)), "the job (state, "
                  "exit_status, output_size)")
        expect_streams(data, k, a, "the follower that stayed")
        expect_eq(output(k, a), data, "stored output")
        k.healthy("after the job")
        f3.close()


def test_quiet_job_outlives_idle_timeout():
    """A follower that has read everything waits on a quiet job for longer
    than idle_timeout: nothing is owed to it, and it is not idle."""
    with kickd([("/lines", "out_lines", "")], "idle_timeout = 1") as k:
        a = trigger(k, "/lines?lines=2")
        f = Follow(k, a)
        f.until(lambda d: d == b"line 1\nline 2\n", 5.0, "the lines")
        # Nothing to wait for: the job writes nothing until released.
        time.sleep(2.5)
        release(k, a)
        expect_eq(f.to_end(10.0), b"line 1\nline 2\nafter\n",
                  "the stream across 2.5 s of a quiet job")
        f.close()


def test_follow_ends_on_cancel():
    """A running job canceled (DELETE) ends aborted; so does its stream."""
    with kickd([("/lines", "out_lines", "")]) as k:
        a = trigger(k, "/lines?lines=2")
        f = Follow(k, a)
        f.until(lambda d: d == b"line 1\nline 2\n", 5.0, "the lines")
        r = k.request("DELETE", "/jobs/%d" % a)
        expect(r.status in (200, 202), "DELETE of the running job: %r", r)
        data = f.to_end(10.0)
        j = get_job(k, a)
        expect_eq((j["state"], data), ("aborted", b"line 1\nline 2\n"),
                  "at the stream's end (state, bytes followed)")
        f.close()


# 5. The CGI header block is the response; output without one is whole.

def test_php_job_response():
    if not shutil.which("php-cgi"):
        raise AssertionError("php-cgi is not installed")
    cfg = config([]) + ("\n[route /st.php]\nexec = {php} "
                        "{scripts}/out_status.php\n")
    with Kickd(config=cfg, env=PATH_ENV) as k:
        body = b"a,b\n1,2\nStatus: not a header\n"
        for how, status in (("code", 201), ("header", 202)):
            a = trigger(k, "/st.php?how=" + how)
            f = Follow(k, a)
            data = f.to_end(15.0)
            f.close()
            j = wait_job(k, a)
            expect_eq((j["state"], j["error"], j["output_size"]),
                      ("succeeded", None, len(body)),
                      "php job how=%s (state, error, output_size)" % how)
            expect_eq(j["response"],
                      {"status": status,
                       "content_type": "text/csv; charset=utf-8"},
                      "php job how=%s response" % how)
            expect_eq(output(k, a), body, "php job how=%s output" % how)
            expect_eq(data, body, "php job how=%s followed" % how)


def test_no_header_block():
    with kickd([("/nh", "out_nohead", "")]) as k:
        whole = b"no header here\nto stderr\nlast line\n"
        a = trigger(k, "/nh?exit=0")
        j = wait_job(k, a)
        expect_eq((j["state"], j["exit_status"], j["response"],
                   j["output_size"]), ("succeeded", 0, None, len(whole)),
                  "exit 0 without a header block (state, exit_status, "
                  "response, output_size)")
        err = j["error"] or ""
        expect(err.startswith("no CGI header block (") and
               err.endswith("): output kept whole"), "error %r", err)
        expect_eq(output(k, a), whole, "output kept whole")
        b = trigger(k, "/nh?exit=3")
        j = wait_job(k, b)
        expect_eq((j["state"], j["exit_status"], j["response"]),
                  ("failed", 3, None), "exit 3 without a header block")
        expect_eq(j["error"], "exit status 3; " + err, "error of exit 3")
        expect_eq(output(k, b), whole, "output of exit 3")


def test_header_block_in_pieces():
    """The header block's end in the same write as the body's first bytes,
    stderr before the block, a block too large: followed and stored alike
    (a follower started first sees no header bytes)."""
    routes = [("/sh", "out_slowhead", ""), ("/ef", "out_errfirst", "")]
    with kickd(routes) as k:
        big = trigger(k, "/sh?big=1")
        for target, body, resp in (
                ("/sh", b"body1body2\n",
                 {"status": 201, "content_type": "text/plain"}),
                ("/ef", b"warning first\nbody 1\nwarning second\nbody 2\n",
                 {"status": 200, "content_type": "text/plain"})):
            a = trigger(k, target)
            f = Follow(k, a)
            data = f.to_end(10.0)
            f.close()
            j = wait_job(k, a)
            expect_eq((data, j["response"], j["error"], j["output_size"]),
                      (body, resp, None, len(body)), "%s (followed, "
                      "response, error, output_size)" % target)
            expect_eq(output(k, a), body, "%s stored output" % target)
        # 500 fields: no header block; all of it is output, the held
        # bytes too, followed as stored.
        f = Follow(k, big)
        data = f.to_end(10.0)
        f.close()
        j = wait_job(k, big)
        expect_eq((j["state"], j["response"], j["error"]),
                  ("succeeded", None, "no CGI header block (too many header "
                   "fields): output kept whole"), "a block of 500 fields")
        expect(data.startswith(b"Content-Type: text/plain\nX-Filler-000: ")
               and data.endswith(b"Status: 201 Made\n\nbody1body2\n") and
               data.count(b"X-Filler-") == 500, "followed: %r...%r",
               data[:60], data[-40:])
        expect_eq((len(data), output(k, big)), (j["output_size"], data),
                  "a block of 500 fields (output_size, stored output)")


# 6. kick logs and kick logs -f.

def test_kick_logs():
    with kickd([("/lines", "out_lines", "")]) as k:
        a = trigger(k, "/lines?lines=2")
        wait_job(k, a, "running", 5.0)
        want = b"line 1\nline 2\n"
        def logs():
            rc, out, err = kick(k, "logs", str(a))
            expect_eq((rc, err), (0, ""), "kick logs of a running job "
                      "(exit status, stderr)")
            return out
        grows_to(want, logs, 3.0, 0.05, "kick logs of a running job")
        p = subprocess.Popen([KICK, "--server", "http://127.0.0.1:%d"
                              % k.port, "logs", "-f", str(a)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            got = read_until(p, want)
            expect(p.poll() is None, "kick logs -f exited while the job "
                   "runs")
            release(k, a)
            rest, err = p.communicate(timeout=10.0 * SLOW)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        expect_eq((p.returncode, got + rest, err.decode()),
                  (0, want + b"after\n", ""),
                  "kick logs -f (exit status, stdout, stderr)")
        expect_eq(get_job(k, a)["state"], "succeeded", "the job")
        rc, out, err = kick(k, "logs", str(a))
        expect_eq((rc, out), (0, want + b"after\n"), "kick logs at the end")
        rc, out, err = kick(k, "logs", "-f", str(a))
        expect_eq((rc, out), (0, want + b"after\n"),
                  "kick logs -f of an ended job")
        for args in (("logs", "999999"), ("logs", "-f", "999999")):
            rc, out, err = kick(k, *args)
            expect_eq((rc, out), (1, b""), "kick %s (exit status, stdout)"
                      % " ".join(args))
            expect(err.startswith("kick logs: ") and "404" in err and
                   "no such job" in err and err.count("\n") == 1,
                   "kick %s: message %r", " ".join(args), err)


def test_kick_logs_f_server_gone():
    """kickd killed mid-follow: kick logs -f fails (the stream had no
    end), after printing what came."""
    with kickd([("/lines", "out_lines", "")]) as k:
        a = trigger(k, "/lines?lines=2")
        p = subprocess.Popen([KICK, "--server", "http://127.0.0.1:%d"
                              % k.port, "logs", "-f", str(a)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            got = read_until(p, b"line 1\nline 2\n")
            scripts = k.children()
            k.proc.kill()
            k.proc.wait()
            k.stop(check=False)
            for pid in scripts:  # the orphaned script, waiting
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            rest, err = p.communicate(timeout=10.0 * SLOW)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = err.decode("utf-8", "replace")
        expect(p.returncode not in (0, None), "kick logs -f exited %r when "
               "kickd died mid-stream", p.returncode)
        expect_eq(rest, b"", "kick logs -f printed more")
        expect(err.startswith("kick logs: ") and err.count("\n") == 1,
               "kick logs -f: message %r", err)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
