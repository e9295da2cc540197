# SPDX-License-Identifier: MIT
# The dashboard part of `make bench` (issue 12): durable triggers/s with
# ten GET /events streams open beside the same figure with none, the two
# taking turns over rounds in the same run. Each run is a fresh kickd on
# a fresh store, so that neither finds the other's jobs. The streams are
# read all along by one thread of this process (a browser's EventSource
# reads what comes), and what they got is counted: every trigger is a job
# change, so the streams are busy for the whole run.

import os
import selectors
import shutil
import socket
import statistics
import threading
import time

import jobs

STREAMS = int(os.environ.get("BENCH_DASHBOARD_STREAMS", "10"))
# Five rounds: on a shared host one run in three can be 30 % off the
# next; the median of five ratios holds.
ROUNDS = int(os.environ.get("BENCH_DASHBOARD_ROUNDS", "5"))
TARGET = 0.05  # at most this much below the rate without streams
RESERVE = 10.0  # s besides the rounds

CONFIG = """[server]
listen = 127.0.0.1:%(port)d
db = %(db)s

[route /trigger]
exec = /bin/true
mode = detach
"""


def reserve(seconds):
    """Seconds this part needs with wrk runs of seconds each (a run also
    starts and stops a kickd)."""
    return RESERVE + ROUNDS * 2 * (seconds + 2)


class Streams:
    """n GET /events streams to port, read by a thread until stop():
    their bytes, and their events by name, counted."""

    def __init__(self, port, n):
        self.socks = []
        self.bytes = 0
        self.events = {}
        self.sel = selectors.DefaultSelector()
        self.done = threading.Event()
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Accept: text/event-stream\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                d = s.recv(4096)
                if not d:
                    raise RuntimeError("an /events stream closed at once")
                head += d
            if not head.startswith(b"HTTP/1.1 200 "):
                raise RuntimeError("GET /events: %r" % head[:60])
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.socks.append(s)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.done.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                try:
                    d = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not d:
                    self.sel.unregister(key.fileobj)
                    continue
                self.bytes += len(d)
                # Chunk framing aside, an event line is "event: NAME".
                for line in d.split(b"\n"):
                    if line.startswith(b"event: "):
                        name = line[7:].strip().decode(errors="replace")
                        self.events[name] = self.events.get(name, 0) + 1

    def stop(self):
        self.done.set()
        self.thread.join(timeout=5)
        for s in self.socks:
            s.close()


def one_run(kickd, tmp, streams, name, h):
    """Triggers/s with streams open; returns {"rate", "p99", "cpu_us"
    (kickd's CPU time a trigger, all threads), "bytes" and "events" (what
    the streams got, in all)}."""
    d = os.path.join(tmp, name)
    os.mkdir(d)
    port = h["free_port"]()
    conf = os.path.join(d, "kickd.conf")
    with open(conf, "w") as f:
        f.write(CONFIG % {"port": port, "db": os.path.join(d, "kick.db")})
    p = h["start_server"]("kickd", [kickd, "-c", conf],
                          os.path.join(d, "kickd.log"), port, h["kickd_ok"])
    s = Streams(port, streams) if streams else None
    try:
        ticks = jobs.cpu_ticks(p.pid)
        r = h["run_wrk"]("http://127.0.0.1:%d/trigger" % port, 1,
                         h["conns"], h["seconds"], h["lua"])
        ticks = jobs.cpu_ticks(p.pid) - ticks
        r["cpu_us"] = ticks / os.sysconf("SC_CLK_TCK") * 1e6 / (
            r["rate"] * h["seconds"])
        # The last window and counts reach the streams.
        time.sleep(1.2 if s else 0)
    finally:
        if s:
            s.stop()
        h["stop_servers"]()
    r["bytes"] = s.bytes if s else 0
    r["events"] = dict(s.events) if s else {}
    shutil.rmtree(d, ignore_errors=True)
    return r


def measure(kickd, tmp, h, errors):
    """ROUNDS rounds of a run without streams and one with STREAMS, in
    turns (which goes first alternates). h: the bench's helpers and
    settings (free_port, start_server, kickd_ok, run_wrk, stop_servers,
    conns, seconds, lua). Returns the cell, or None with the reason in
    errors."""
    cell = {"none": [], "streams": [], "ratios": []}
    try:
        for i in range(ROUNDS):
            if i % 2 == 0:
                none = one_run(kickd, tmp, 0, "none%d" % i, h)
            with_s = one_run(kickd, tmp, STREAMS, "streams%d" % i, h)
            if i % 2 == 1:
                none = one_run(kickd, tmp, 0, "none%d" % i, h)
            cell["none"].append(none)
            cell["streams"].append(with_s)
            cell["ratios"].append(with_s["rate"] / none["rate"])
    except (RuntimeError, OSError) as e:
        h["stop_servers"]()
        errors.append(("dashboard", str(e)))
        return None
    for k in ("none", "streams"):
        runs = cell[k]
        cell[k + "_rate"] = statistics.median(r["rate"] for r in runs)
        cell[k + "_p99"] = statistics.median(r["p99"] for r in runs)
        cell[k + "_cpu"] = statistics.median(r["cpu_us"] for r in runs)
    cell["ratio"] = statistics.median(cell["ratios"])
    # kickd's CPU time a trigger is steadier than the rate when other work
    # shares the host: the cost of the streams, apart from the noise.
    cell["cpu_ratio"] = statistics.median(
        s["cpu_us"] / n["cpu_us"] for s, n in zip(cell["streams"],
                                                 cell["none"]))
    got = cell["streams"]
    cell["bytes"] = statistics.median(r["bytes"] for r in got) / STREAMS
    names = sorted({n for r in got for n in r["events"]})
    cell["events"] = {n: statistics.median(r["events"].get(n, 0)
                                           for r in got) / STREAMS
                      for n in names}
    if not cell["events"].get("counts"):
        errors.append(("dashboard", "the streams got no counts event: "
                       "they were not live"))
    return cell


def print_table(c, seconds):
    print()
    print("| dashboard | triggers/s | p99 | kickd CPU a trigger "
          "| a stream got | target |")
    print("|---|---:|---:|---:|---:|---|")
    if c is None:
        print("| durable triggers/s, with and without %d /events streams "
              "| FAIL | | | | |" % STREAMS)
        return
    print("| durable triggers/s, no /events stream | %.0f /s | %.2f ms "
          "| %.1f µs | | |" % (c["none_rate"], c["none_p99"], c["none_cpu"]))
    drop = 1 - c["ratio"]
    ev = ", ".join("%.0f %s" % (n, k) for k, n in sorted(c["events"].items()))
    print("| durable triggers/s, %d /events streams open and read | %.0f /s "
          "| %.2f ms | %.1f µs | %.0f KB in %d s (%s) | within %.0f %% of no "
          "stream: %+.1f %%, %s (CPU a trigger %+.1f %%) |" %
          (STREAMS, c["streams_rate"], c["streams_p99"], c["streams_cpu"],
           c["bytes"] / 1000, seconds, ev, 100 * TARGET, -100 * drop,
           "PASS" if drop <= TARGET else "MISS",
           100 * (c["cpu_ratio"] - 1)))


def print_method(c, seconds, conns):
    print("dashboard: BENCH_DASHBOARD_ROUNDS=%d rounds, in turns, of wrk "
          "-t1 -c%d -d%ds -s bench/trigger.lua (Kick-Delay: no job runs; "
          "each trigger is one job change for the streams), each on a fresh "
          "kickd and store, with none and with BENCH_DASHBOARD_STREAMS=%d "
          "GET /events streams open and read by one thread; medians, the "
          "change the median of the rounds' ratios, and so the CPU's%s" %
          (ROUNDS, conns, seconds, STREAMS,
           "" if c is None else " (rounds: %s)" % ", ".join(
               "%+.1f %%" % (100 * (x - 1)) for x in c["ratios"])))
