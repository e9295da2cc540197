# SPDX-License-Identifier: MIT
# The client part of `make bench` (issue 5, "Benchmark"): the cost of one
# sent-mode trigger through libkick beside the raw floor and the original
# article's PHP fsockopen() loop, all against bench/sink; and the triggers/s
# of `kick --batch` against kickd. run.py starts the servers and calls
# these; each returns a cell, {"error": None or why, ...figures}, and never
# raises.

import os
import re
import signal
import statistics
import subprocess
import time

import jobs

# Triggers per program and round (each program sends 100 more, untimed,
# first); rounds, each running the three programs back to back in an order
# that turns, within SENT_BUDGET.
TRIGGERS = int(os.environ.get("BENCH_TRIGGERS", "10000"))
SENT_ROUNDS = 5
SENT_BUDGET = 25.0  # s
WARMUP = 100  # the programs' untimed triggers
SENT_TARGET = 1.5  # libkick / raw floor, at most
# The sink's count of whole requests must reach the programs' within this
# long after the program exits (it may still be reading the last ones).
SINK_WAIT = 2.0  # s
# kick --batch: lines per file, --parallel, rounds on one kickd.
BATCH_LINES = 5000
BATCH_PARALLEL = 16
BATCH_ROUNDS = 3
BATCH_BUDGET = 12.0  # s
# What run.py keeps out of the exec rounds for these parts.
SENT_RESERVE = SENT_BUDGET + 3  # s
BATCH_RESERVE = BATCH_BUDGET + 3  # s
PROGRAMS = ("libkick", "raw", "php")


def sink_stats(pid, log):
    """Asks the sink (SIGUSR1) for its counts; returns (connections,
    whole requests), or raises RuntimeError."""
    def lines():
        try:
            with open(log) as f:
                return [x for x in f.read().splitlines()
                        if x.startswith("connections ")]
        except OSError:
            return []
    before = len(lines())
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        raise RuntimeError("the sink has exited")
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        got = lines()
        if len(got) > before:
            m = re.match(r"connections (\d+) complete (\d+)", got[-1])
            if m:
                return int(m.group(1)), int(m.group(2))
        time.sleep(0.01)
    raise RuntimeError("the sink did not report its counts")


def run_program(name, argv, pid, log):
    """Runs one trigger program against the sink; returns its us/trigger
    once the sink has counted every one of its requests whole, or raises
    RuntimeError."""
    _, whole0 = sink_stats(pid, log)
    out = jobs.run_tool(argv, 60)
    m = re.search(r"us/trigger ([\d.]+)", out)
    if not m:
        raise RuntimeError("no figure in %s output: %r" % (name, out[:200]))
    want = whole0 + TRIGGERS + WARMUP
    deadline = time.monotonic() + SINK_WAIT
    while True:
        conns, whole = sink_stats(pid, log)
        if whole >= want:
            return float(m.group(1))
        if time.monotonic() > deadline:
            raise RuntimeError("the sink got %d whole requests of %d "
                               "(%d connections in all)" %
                               (whole - whole0, want - whole0, conns))
        time.sleep(0.05)


def measure_sent(bench_bin, php, port, pid, log):
    """SENT_ROUNDS rounds of the three programs against the sink on port
    (process pid, writing its counts to log). Returns {program: {"runs":
    [us/trigger...], "error"}}."""
    url = "http://127.0.0.1:%d/trigger" % port
    here = os.path.dirname(os.path.abspath(__file__))
    argv = {
        "libkick": [os.path.join(bench_bin, "trigger_libkick"), "-n",
                    str(TRIGGERS), url],
        "raw": [os.path.join(bench_bin, "trigger_raw"), "-n", str(TRIGGERS),
                "-p", str(port), "/trigger"],
        "php": [php, os.path.join(here, "trigger_php.php"), str(TRIGGERS),
                url] if php else None,
    }
    cells = {p: {"runs": [], "error": None} for p in PROGRAMS}
    if not php:
        cells["php"]["error"] = "php (php-cli) is not installed"
    end = time.monotonic() + SENT_BUDGET
    for rnd in range(SENT_ROUNDS):
        if time.monotonic() > end:
            break
        order = PROGRAMS[rnd % 3:] + PROGRAMS[:rnd % 3]
        for p in order:
            if cells[p]["error"]:
                continue
            try:
                cells[p]["runs"].append(run_program(p, argv[p], pid, log))
            except RuntimeError as e:
                cells[p]["error"] = str(e)
    for p in PROGRAMS:
        if not cells[p]["runs"] and not cells[p]["error"]:
            cells[p]["error"] = "out of time"
    return cells


def measure_batch(kick, port, path, tmp):
    """BATCH_ROUNDS runs of kick --batch with BATCH_LINES POSTs of a=1 to
    path, each with jobs.DELAY_HEADER (kickd commits every job; none
    runs). Returns {"runs": [triggers/s...], "error"}."""
    cell = {"runs": [], "error": None}
    batch = os.path.join(tmp, "batch.txt")
    with open(batch, "w") as f:
        for _ in range(BATCH_LINES):
            f.write("POST http://127.0.0.1:%d%s\n" % (port, path))
    argv = [kick, "--batch", batch, "--parallel", str(BATCH_PARALLEL),
            "-d", "a=1", "-H", "%s: %s" % jobs.DELAY_HEADER]
    end = time.monotonic() + BATCH_BUDGET
    try:
        for _ in range(BATCH_ROUNDS):
            left = end - time.monotonic()
            if left < 1:
                break
            out = jobs.run_tool(argv, left)
            m = re.search(r"(\d+) triggered, (\d+) accepted, (\d+) failed "
                          r"in ([\d.]+) s \((\d+)/s\)", out)
            if not m:
                raise RuntimeError("no summary in kick output: %r" %
                                   out[:200])
            if int(m.group(2)) != BATCH_LINES:
                raise RuntimeError("kick: %s" % out.strip()[:200])
            cell["runs"].append(float(m.group(5)))
    except RuntimeError as e:
        cell["error"] = str(e)
    if not cell["runs"] and not cell["error"]:
        cell["error"] = "out of time"
    return cell


def median_of(cell):
    if not cell or cell["error"] or not cell["runs"]:
        return None
    return statistics.median(cell["runs"])


def median_ratio(sent, num, den):
    """The median over rounds of num/den, each pair from one round."""
    a, b = sent.get(num), sent.get(den)
    if not a or not b or a["error"] or b["error"]:
        return None
    ratios = [x / y for x, y in zip(a["runs"], b["runs"]) if y > 0]
    return statistics.median(ratios) if ratios else None


def met(ok):
    return "met" if ok else "MISSED"


def print_table(parts, sent, batch, php_version):
    """The fourth table: the figures of the parts measured ("client",
    "batch") and their targets."""
    print()
    print("| client | figure | target |")
    print("|---|---:|---|")
    if "client" in parts:
        for p, what in (
                ("libkick", "libkick kick_trigger(KICK_SENT)"),
                ("raw", "raw floor: socket, connect, write, close"),
                ("php", "%s fsockopen, fwrite, fclose" % php_version)):
            us = median_of(sent.get(p))
            fig = "%.1f µs" % us if us is not None else (
                "FAIL" if sent.get(p) else "n/a")
            print("| sent mode, per trigger: %s | %s | |" % (what, fig))
        r = median_ratio(sent, "libkick", "raw")
        print("| sent mode, libkick / raw floor | %s | ≤ %g×%s |" % (
            "%.2f×" % r if r else "n/a", SENT_TARGET,
            ": " + met(r <= SENT_TARGET) if r else ""))
        r = median_ratio(sent, "libkick", "php")
        print("| sent mode, libkick / PHP | %s | < 1× (faster than PHP)%s |"
              % ("%.2f×" % r if r else "n/a",
                 ": " + met(r < 1) if r else ""))
    if "batch" in parts:
        rate = median_of(batch)
        fig = "%.0f /s" % rate if rate is not None else (
            "FAIL" if batch else "n/a")
        print("| kick --batch triggers/s: %d lines, --parallel %d, kickd "
              "202 after commit | %s | |" % (BATCH_LINES, BATCH_PARALLEL,
                                            fig))


def print_method(parts):
    """How the fourth table's figures were taken."""
    if "client" in parts:
        print("client: each program sends %d untimed triggers, then %d "
              "timed, each a new connection to bench/sink (one epoll "
              "thread; it checks that every request arrived whole); up to "
              "%d rounds in turning order, medians; a ratio is the median "
              "of each round's pair" % (WARMUP, TRIGGERS, SENT_ROUNDS))
    if "batch" in parts:
        print("batch: kick --batch FILE --parallel %d -d a=1 -H '%s: %s' "
              "(every job committed, none runs), %d POST lines per run, "
              "%d runs on one kickd, median of the summaries' rates" %
              (BATCH_PARALLEL, jobs.DELAY_HEADER[0], jobs.DELAY_HEADER[1],
               BATCH_LINES, BATCH_ROUNDS))


def print_details(parts, sent, batch):
    """The rounds behind the fourth table."""
    if "client" in parts:
        print("sent mode rounds (µs/trigger):")
        for p in PROGRAMS:
            c = sent.get(p)
            runs = ", ".join("%.1f" % x for x in c["runs"]) if c else ""
            print("  %-7s %s" % (p, runs or "-"))
    if "batch" in parts:
        runs = ", ".join("%.0f" % x for x in batch["runs"]) if batch else ""
        print("kick --batch rounds (triggers/s): %s" % (runs or "-"))
