# SPDX-License-Identifier: MIT
# The retention part of `make bench`: durable triggers/s while the pruner
# deletes a backlog of ended jobs, beside the same figure on the same
# store with retention off (keep = 0), the two taking turns over rounds.
# Each run starts from a copy of one store that holds BACKLOG ended jobs
# (each with its request and a chunk of output) that ended two days ago:
# with keep = 1d all of them are due at once, as after a kickd that was
# down, or a keep lowered by a reload.

import os
import shutil
import signal
import sqlite3
import statistics
import time
import urllib.request

import jobs

BACKLOG = int(os.environ.get("BENCH_RETENTION_BACKLOG", "100000"))
ROUNDS = int(os.environ.get("BENCH_RETENTION_ROUNDS", "5"))
TARGET = 0.10  # at most this much below the rate without retention
# The pruner's first pass comes a second after the start: the wrk run
# begins once it has deleted something.
FIRST_PASS = 5.0  # s at most to wait for it
RESERVE = 15.0  # s besides the rounds

CONFIG = """[server]
listen = 127.0.0.1:%(port)d
db = %(db)s
keep = %(keep)s

[route /trigger]
exec = /bin/true
mode = detach
"""

HEAD = (b"POST /trigger HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 3\r\n\r\n")
OUTPUT = b"Content-Type: text/plain\n\ndone\n"


def reserve(seconds):
    """Seconds this part needs with wrk runs of seconds each (a run also
    starts and stops a kickd, and waits about a second for the first
    pass)."""
    return RESERVE + ROUNDS * 2 * (seconds + 2)


def make_store(kickd, tmp, start_server, free_port, kickd_ok):
    """A store made by kickd (its schema), then filled beside it with
    BACKLOG ended jobs of /trigger; returns its path."""
    d = os.path.join(tmp, "retention-template")
    os.mkdir(d)
    db = os.path.join(d, "kick.db")
    port = free_port()
    conf = os.path.join(d, "kickd.conf")
    with open(conf, "w") as f:
        f.write(CONFIG % {"port": port, "db": db, "keep": "0"})
    p = start_server("kickd", [kickd, "-c", conf],
                     os.path.join(d, "kickd.log"), port, kickd_ok)
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(timeout=10)
    ended = int(time.time() * 1000) - 2 * 86400 * 1000
    con = sqlite3.connect(db)
    with con:
        con.executemany(
            "INSERT INTO jobs (id, route, state, attempt, exit_status,"
            " created_at, run_at, started_at, finished_at, output_size)"
            " VALUES (?, '/trigger', 2, 1, 0, ?, ?, ?, ?, ?)",
            ((i, ended - 5, ended - 5, ended - 3, ended + i // 100,
              len(OUTPUT))
             for i in range(1, BACKLOG + 1)))
        con.executemany("INSERT INTO requests VALUES (?, ?, 'a=1',"
                        " '127.0.0.1', 40000)",
                        ((i, HEAD) for i in range(1, BACKLOG + 1)))
        con.executemany("INSERT INTO job_output (job_id, size, data)"
                        " VALUES (?, ?, ?)",
                        ((i, len(OUTPUT), OUTPUT)
                         for i in range(1, BACKLOG + 1)))
        # job_counts learns of inserts from kickd, not from a trigger.
        con.execute("INSERT INTO job_counts VALUES ('/trigger', 2, ?)",
                    (BACKLOG,))
    con.close()
    return db


def pruned(port):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                  timeout=5).read().decode()
    for ln in text.splitlines():
        if ln.startswith("kick_jobs_pruned_total "):
            return int(float(ln.split()[1]))
    raise RuntimeError("no kick_jobs_pruned_total in /metrics")


def one_run(kickd, tmp, template, keep, name, h):
    """Triggers/s on a copy of template with keep; returns {"rate",
    "p99", "pruned" (during the wrk run), "left" (of the backlog)}."""
    d = os.path.join(tmp, name)
    os.mkdir(d)
    db = os.path.join(d, "kick.db")
    shutil.copy2(template, db)
    port = h["free_port"]()
    conf = os.path.join(d, "kickd.conf")
    with open(conf, "w") as f:
        f.write(CONFIG % {"port": port, "db": db, "keep": keep})
    p = h["start_server"]("kickd", [kickd, "-c", conf],
                          os.path.join(d, "kickd.log"), port, h["kickd_ok"])
    deadline = time.monotonic() + FIRST_PASS
    while keep != "0" and pruned(port) == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("retention deleted nothing in %.0f s"
                               % FIRST_PASS)
        time.sleep(0.05)
    before, ticks = pruned(port), jobs.cpu_ticks(p.pid)
    r = h["run_wrk"]("http://127.0.0.1:%d/trigger" % port, 1, h["conns"],
                     h["seconds"], h["lua"])
    ticks = jobs.cpu_ticks(p.pid) - ticks
    # kickd's CPU time (all its threads) per trigger: what retention adds
    # to it, apart from what other work on the host takes.
    r["cpu_us"] = ticks / os.sysconf("SC_CLK_TCK") * 1e6 / (
        r["rate"] * h["seconds"])
    r["pruned"] = pruned(port) - before
    r["left"] = BACKLOG - pruned(port)
    h["stop_servers"]()
    shutil.rmtree(d, ignore_errors=True)
    return r


def measure(kickd, tmp, h, errors):
    """ROUNDS rounds of a run without retention and one with it, in
    turns. h: the bench's helpers and settings (free_port, start_server,
    kickd_ok, run_wrk, stop_servers, conns, seconds, lua). Returns the
    cell, or None with the reason in errors."""
    try:
        template = make_store(kickd, tmp, h["start_server"], h["free_port"],
                              h["kickd_ok"])
        cell = {"off": [], "on": [], "ratios": []}
        for i in range(ROUNDS):
            # Which goes first alternates: a run can warm the page cache
            # for the next one.
            if i % 2 == 0:
                off = one_run(kickd, tmp, template, "0", "off%d" % i, h)
            on = one_run(kickd, tmp, template, "1d", "on%d" % i, h)
            if i % 2 == 1:
                off = one_run(kickd, tmp, template, "0", "off%d" % i, h)
            cell["off"].append(off)
            cell["on"].append(on)
            cell["ratios"].append(on["rate"] / off["rate"])
    except (RuntimeError, OSError, sqlite3.Error) as e:
        h["stop_servers"]()
        errors.append(("retention", str(e)))
        return None
    for k in ("off", "on"):
        cell[k + "_rate"] = statistics.median(r["rate"] for r in cell[k])
        cell[k + "_p99"] = statistics.median(r["p99"] for r in cell[k])
        cell[k + "_cpu"] = statistics.median(r["cpu_us"] for r in cell[k])
    cell["ratio"] = statistics.median(cell["ratios"])
    cell["pruned"] = statistics.median(r["pruned"] for r in cell["on"])
    cell["left"] = min(r["left"] for r in cell["on"])
    if cell["left"] <= 0:
        errors.append(("retention", "the backlog ran out during a run: "
                       "the figure is not of a deleting kickd"))
    return cell


def print_table(c, seconds):
    print()
    print("| retention | triggers/s | p99 | kickd CPU a trigger "
          "| jobs deleted during the run | target |")
    print("|---|---:|---:|---:|---:|---|")
    if c is None:
        print("| durable triggers/s, with and without retention | FAIL | "
              "| | | |")
        return
    print("| durable triggers/s, keep = 0 (nothing deleted), %d ended jobs "
          "kept | %.0f /s | %.2f ms | %.1f µs | 0 | |" %
          (BACKLOG, c["off_rate"], c["off_p99"], c["off_cpu"]))
    drop = 1 - c["ratio"]
    print("| durable triggers/s while retention deletes a backlog of %d "
          "ended jobs (keep = 1d, all due) | %.0f /s | %.2f ms | %.1f µs "
          "| %.0f (%.0f /s) | within %.0f %% of keep = 0: %+.1f %%, %s |" %
          (BACKLOG, c["on_rate"], c["on_p99"], c["on_cpu"], c["pruned"],
           c["pruned"] / seconds, 100 * TARGET, -100 * drop,
           "met" if drop <= TARGET else "MISSED"))


def print_method(c, seconds, conns):
    print("retention: BENCH_RETENTION_ROUNDS=%d rounds, in turns, of wrk "
          "-t1 -c%d -d%ds -s bench/trigger.lua on a copy of one store "
          "holding BENCH_RETENTION_BACKLOG=%d ended jobs of the same route "
          "(each with its request and output, ended 2 days before), kickd "
          "with keep = 0 and with keep = 1d, which first alternating; the "
          "wrk run starts once the "
          "pruner has deleted its first batch; medians, the change the "
          "median of the rounds' ratios%s" %
          (ROUNDS, conns, seconds, BACKLOG,
           "" if c is None else " (rounds: %s)" % ", ".join(
               "%+.1f %%" % (100 * (r - 1)) for r in c["ratios"])))
