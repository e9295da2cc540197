# SPDX-License-Identifier: MIT
# The follow part of `make bench` (issue 10, "Live output"): the time from
# a detached job writing a line to GET /jobs/ID/output?follow=1 handing it
# to a client, beside the floor of the same script's lines read through a
# plain pipe (`script | reader`), and through `kick logs -f` (libkick,
# then a pipe). bench/follow_tick.py writes a line "I NS" every 20 ms, NS
# its CLOCK_REALTIME just before the write; the reader takes the clock as
# each read returns. The three take turns over rounds.

import os
import re
import select
import socket
import statistics
import subprocess
import time

import jobs

TICK = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "follow_tick.py")
LINES = int(os.environ.get("BENCH_FOLLOW_LINES", "200"))  # per target
ROUNDS = 2  # each target's lines are split over this many runs
RESERVE = 25.0  # s it needs of what the bench's limit leaves (~16 s)
RUN_WAIT = 10.0  # s for one run's lines beyond their own 20 ms each
TARGETS = (("follow", "kickd ?follow=1 (raw socket)"),
           ("kick", "kickd via `kick logs -f` (libkick, then a pipe)"),
           ("pipe", "floor: the script's stdout read through a pipe"))
LINE = re.compile(rb"^(\d+) (\d+)$")

CONFIG = """[server]
listen = 127.0.0.1:%(port)d
db = %(db)s

[route /tick]
exec = %(tick)s
mode = detach
"""


class Lines:
    """Splits what a reader gets into the script's lines; delays (ms) of
    each "I NS" line from NS to when the read that completed it
    returned."""

    def __init__(self):
        self.buf = b""
        self.delays = []

    def feed(self, data, now_ns):
        self.buf += data
        *whole, self.buf = self.buf.split(b"\n")
        for ln in whole:
            m = LINE.match(ln)
            if m:
                self.delays.append((now_ns - int(m.group(2))) / 1e6)


class Dechunk:
    """The payload of an HTTP/1.1 chunked body, fed as it arrives."""

    def __init__(self):
        self.buf = b""
        self.left = 0  # bytes of the current chunk still to come, + CRLF
        self.done = False

    def feed(self, data):
        self.buf += data
        out = []
        while self.buf and not self.done:
            if self.left > 2:
                take = self.buf[:self.left - 2]
                out.append(take)
                self.buf = self.buf[len(take):]
                self.left -= len(take)
            elif self.left > 0:
                if len(self.buf) < self.left:
                    break
                self.buf = self.buf[self.left:]
                self.left = 0
            else:
                if b"\r\n" not in self.buf:
                    break
                line, self.buf = self.buf.split(b"\r\n", 1)
                n = int(line.split(b";")[0], 16)
                self.left = n + 2
                if n == 0:
                    self.done = True
        return b"".join(out)


def trigger(port, n):
    """POSTs /tick?n; the job's id."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /tick?%d HTTP/1.1\r\nHost: b\r\nContent-Length: 0"
                  b"\r\nConnection: close\r\n\r\n" % n)
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    m = re.search(rb'"id":(\d+)', data)
    if not data.startswith(b"HTTP/1.1 202") or not m:
        raise RuntimeError("trigger: %r" % data[:120])
    return int(m.group(1))


def run_follow(port, n):
    jid = trigger(port, n)
    lines, chunks = Lines(), Dechunk()
    deadline = time.monotonic() + n * 0.02 + RUN_WAIT
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /jobs/%d/output?follow=1 HTTP/1.1\r\nHost: b\r\n"
                  b"\r\n" % jid)
        head = b""
        while b"\r\n\r\n" not in head:
            d = s.recv(65536)
            if not d:
                raise RuntimeError("follow: closed in the head: %r" % head)
            head += d
        head, rest = head.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("follow: %r" % head[:120])
        lines.feed(chunks.feed(rest), time.time_ns())
        while not chunks.done:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = s.recv(65536)
            except socket.timeout:
                raise RuntimeError("follow: %d of %d lines in time"
                                   % (len(lines.delays), n))
            now = time.time_ns()
            if not d:
                raise RuntimeError("follow: closed before the last chunk")
            lines.feed(chunks.feed(d), now)
    return lines.delays


def read_pipe(p, n, what):
    lines = Lines()
    deadline = time.monotonic() + n * 0.02 + RUN_WAIT
    fd = p.stdout.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [],
                                    max(0.0, deadline - time.monotonic()))
        if not ready:
            p.kill()
            p.wait()
            raise RuntimeError("%s: %d of %d lines in time"
                               % (what, len(lines.delays), n))
        d = os.read(fd, 65536)
        now = time.time_ns()
        if not d:
            break
        lines.feed(d, now)
    rc = p.wait()
    if rc != 0:
        raise RuntimeError("%s: exit status %d" % (what, rc))
    return lines.delays


def run_kick(kick, port, n):
    jid = trigger(port, n)
    p = subprocess.Popen([kick, "--server", "http://127.0.0.1:%d" % port,
                          "logs", "-f", str(jid)], stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    return read_pipe(p, n, "kick logs -f")


def run_pipe(n):
    p = subprocess.Popen([TICK], stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL,
                         env=dict(os.environ, QUERY_STRING=str(n)))
    return read_pipe(p, n, "follow_tick.py | reader")


def measure(kickd, kick, tmp, start_server, kickd_ok, free_port):
    """Runs the rounds against a kickd of its own; {target: cell}, each
    cell {"error": None or why, "ms": [delays], "runs": [medians]}."""
    cells = {t: {"error": None, "ms": [], "runs": []} for t, _ in TARGETS}
    d = os.path.join(tmp, "follow")
    os.mkdir(d)
    port = free_port()
    conf = os.path.join(d, "kickd.conf")
    with open(conf, "w") as f:
        f.write(CONFIG % {"port": port, "db": os.path.join(d, "kick.db"),
                          "tick": TICK})
    try:
        start_server("kickd", [kickd, "-c", conf],
                     os.path.join(d, "kickd.log"), port, kickd_ok)
    except RuntimeError as e:
        for c in cells.values():
            c["error"] = str(e)
        return cells
    n = max(1, LINES // ROUNDS)
    order = [t for t, _ in TARGETS]
    for rnd in range(ROUNDS):
        for t in order[rnd % 3:] + order[:rnd % 3]:
            cell = cells[t]
            if cell["error"]:
                continue
            try:
                if t == "follow":
                    ms = run_follow(port, n)
                elif t == "kick":
                    ms = run_kick(kick, port, n)
                else:
                    ms = run_pipe(n)
                if len(ms) != n:
                    raise RuntimeError("%d of %d lines" % (len(ms), n))
            except (OSError, RuntimeError) as e:
                cell["error"] = str(e)
                continue
            cell["ms"] += ms
            cell["runs"].append(statistics.median(ms))
    return cells


def print_table(cells):
    print()
    print("| a line written to it read by | lines | median | p99 | max |")
    print("|---|---:|---:|---:|---:|")
    for t, what in TARGETS:
        c = cells[t]
        if c["ms"] and not c["error"]:
            print("| %s | %d | %.3f ms | %.3f ms | %.3f ms |" % (
                what, len(c["ms"]), statistics.median(c["ms"]),
                jobs.p99(c["ms"]), max(c["ms"])))
        else:
            print("| %s | 0 | FAIL | | |" % what)


def print_method():
    print("follow: bench/follow_tick.py writes a line every 20 ms with its "
          "CLOCK_REALTIME just before write(2); the reader takes the clock "
          "as each read returns; BENCH_FOLLOW_LINES=%d lines per target in "
          "%d runs, the targets in turns; ?follow=1 from a raw socket "
          "opened right after the 202, `kick logs -f` read through a pipe, "
          "the floor the script's stdout read through a pipe" %
          (LINES, ROUNDS))


def print_details(cells):
    print("follow (median of each run, ms):")
    for t, _ in TARGETS:
        c = cells[t]
        print("  %-7s %s" % (t, ", ".join("%.3f" % m for m in c["runs"])
                             or "-"))


def errors_of(cells):
    return [("follow %s" % t, c["error"]) for t, c in cells.items()
            if c["error"]]
