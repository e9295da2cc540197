#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The benchmark behind `make bench`: executions/s of a tiny CGI program
# through kickd, the posix_spawn floor and adnanh/webhook, side by side and
# interleaved so that they share the machine's conditions, then GET /healthz
# with 64 keep-alive connections; before them, the time from a client's
# hang-up to SIGTERM reaching the script (on an abort = hangup route, and
# on an abort = write route with a script that writes every millisecond),
# and to real php-cgi noticing it;
# then detached jobs (jobs.py): durable triggers/s beside beanstalkd, the
# enqueue rate across a million queued jobs, commit-to-start latency; then
# the client (client.py): a sent-mode trigger through libkick beside the
# raw floor and PHP's fsockopen loop, and kick --batch triggers/s; then
# a job's line to a ?follow=1 client beside a pipe (follow.py); then the
# kill-and-restart rounds (chaos.py); then kickd's fastcgi, exec (php-cgi)
# and forward runners beside nginx + PHP-FPM, wrk and the article's PHP
# caller (runners.py); then 1, 2 and 3 kickd nodes on one PostgreSQL
# beside graphile-worker and SQLite (pg.py); last, the dashboard's load
# time in headless Chromium with 100,000 jobs in the store (dashboard_page.py). Prints a
# markdown table per part.

import argparse
import atexit
import datetime
import http.client
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import chaos
import client
import dashboard_page
import follow
import jobs
import dashboard
import pg
import retention
import runners

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# The whole run stays under six minutes, whatever the settings, and the
# runners part's two more (below).
LIMIT = float(os.environ.get("BENCH_LIMIT", "430"))  # s
# Hang-ups per abort probe, and the most time both probes may take together
# out of LIMIT; the throughput rounds get what is left.
ABORT_RUNS = int(os.environ.get("BENCH_ABORT_RUNS", "200"))
ABORT_BUDGET = 40.0  # s
ABORT_WAIT = 2.0  # s for the script's sign after a hang-up
ABORT_MAX_FAILED = 3  # failed hang-ups before a probe gives up
ABORT_TARGET = 5.0  # ms, the median of hang-up to SIGTERM (issue 3)
# The C probe's routes: abort = hangup ends it at once, abort = write at
# its next write (it writes every millisecond with the argument "write").
ABORT_ROUTES = """[route /abort_probe]
exec = {probe}
mode = attach
abort = hangup

[route /abort_probe_write]
exec = {probe} write
mode = attach
abort = write
"""
# The client hangs up at a random moment up to this long after "ready", so
# that the hang-up falls anywhere in the PHP probe's 1 ms write cycle rather
# than always just after a write.
ABORT_JITTER = 0.005  # s
# Detached jobs: seconds of each durable-trigger run (kickd, beanstalkd)
# and rounds of the two in turn,
# triggers sent to a fresh kickd for the enqueue figure, and one-at-a-time
# jobs for the start latency. The exec rounds leave JOBS_RESERVE seconds
# for these; the enqueue gets whatever time is left, at most
# ENQUEUE_LIMIT, and fails rather than run past it.
ACCEPT_SECONDS = int(os.environ.get("BENCH_ACCEPT_SECONDS", "5"))
ACCEPT_ROUNDS = int(os.environ.get("BENCH_ACCEPT_ROUNDS", "3"))
ENQUEUE_JOBS = int(os.environ.get("BENCH_ENQUEUE_JOBS", "1000000"))
ENQUEUE_LIMIT = 180.0  # s
START_RUNS = int(os.environ.get("BENCH_START_RUNS", "200"))
START_BUDGET = 15.0  # s
JOBS_RESERVE = (2 * ACCEPT_ROUNDS * (ACCEPT_SECONDS + 0.5) + START_BUDGET +
                75.0)  # s
# BENCH_ONLY=PART[,PART...] runs some parts alone: abort (the hang-ups),
# exec (tiny CGI executions/s and /healthz), accept (durable triggers/s and
# beanstalkd), enqueue, start, client (sent-mode triggers to a sink), batch
# (kick --batch against kickd), chaos (kill and restart rounds), retention
# (durable triggers/s while a backlog of ended jobs is deleted, and
# without), follow (a job's line to a ?follow=1 client, beside a pipe),
# runners (fastcgi, php-cgi and forward beside nginx + PHP-FPM and wrk),
# dashboard (durable triggers/s with ten /events streams open, and none),
# dashboard_page (the dashboard's load time with 100,000 jobs), pg (1, 2
# and 3 kickd nodes on one PostgreSQL beside graphile-worker and SQLite).
PARTS = ("abort", "exec", "accept", "enqueue", "start", "client", "batch",
         "chaos", "retention", "follow", "runners", "dashboard",
         "dashboard_page", "pg")
ONLY = set(p for p in os.environ.get("BENCH_ONLY", "").split(",") if p)
if not ONLY:
    ONLY = set(PARTS)
# The runners part brings its own time rather than take the others'.
if "runners" in ONLY and "BENCH_LIMIT" not in os.environ:
    LIMIT += runners.reserve()
# So does the dashboard's page load.
if "dashboard_page" in ONLY and "BENCH_LIMIT" not in os.environ:
    LIMIT += dashboard_page.RESERVE
# And the PostgreSQL part.
if "pg" in ONLY and "BENCH_LIMIT" not in os.environ:
    LIMIT += pg.RESERVE
CONCS = (1, 16)
HEALTHZ_CONNS = 64
WEBHOOK = "/usr/bin/webhook"
BEANSTALKD = "/usr/bin/beanstalkd"
START = time.monotonic()

servers = []  # Popen objects to stop at exit, whatever happens.


def stop_servers():
    for p in servers:
        if p.poll() is not None:
            continue
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    servers.clear()


def on_signal(sig, frame):
    stop_servers()
    sys.exit(128 + sig)


def time_left():
    return LIMIT - (time.monotonic() - START)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5):
    """Returns (status, body) of one GET, or raises OSError."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def start_server(name, argv, log_path, port, probe):
    """Starts a server in its own process group and waits until probe(port)
    is true. Returns the Popen, or raises RuntimeError with the log's tail."""
    log = open(log_path, "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    servers.append(p)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if p.poll() is not None:
            break
        try:
            if probe(port):
                return p
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("%s did not start (exit %s): %s" %
                       (name, p.poll(), tail(log_path)))


def kickd_ok(port):
    return http_get(port, "/healthz") == (200, b"ok\n")


def beanstalkd_ok(port):
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    return True


def tail(path, n=5):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return " | ".join(lines[-n:]) or "(no output)"
    except OSError:
        return "(no log)"


def to_ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4,
                           "h": 3.6e6}[unit]


def run_wrk(url, threads, conns, seconds=SECONDS, script=None):
    """Runs wrk, with a Lua script if given; returns {"rate", "p99"} or
    raises RuntimeError on any non-2xx answer, socket error or missing
    figure."""
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
            "--latency", "--timeout", "5s"]
    if script:
        argv += ["-s", script]
    argv.append(url)
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=seconds + 20)
    except subprocess.TimeoutExpired:
        raise RuntimeError("wrk hung")
    out = r.stdout
    if r.returncode != 0:
        raise RuntimeError("wrk exit %d: %s" %
                           (r.returncode, (r.stderr or out).strip()[:200]))
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if m and int(m.group(1)) > 0:
        raise RuntimeError("%s non-2xx answers" % m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m and any(int(x) for x in m.groups()):
        raise RuntimeError("socket errors: connect %s, read %s, write %s, "
                           "timeout %s" % m.groups())
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M)
    reqs = re.search(r"(\d+) requests in", out)
    if not rate or not p99 or not reqs or int(reqs.group(1)) == 0:
        raise RuntimeError("no figures in wrk output: %s" % out[:200])
    return {"rate": float(rate.group(1)), "p99": to_ms(*p99.groups())}


def abort_once(port, route, out):
    """One hang-up: GET route?f=out, read until the script's "ready", close
    the connection and wait for the script to write the wall-clock time at
    which it got the news to out. Returns the delay in ms, or raises
    RuntimeError."""
    req = "GET %s?f=%s HTTP/1.1\r\nHost: bench\r\n\r\n" % (route, out)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as e:
        raise RuntimeError("connect: %s" % e)
    try:
        s.sendall(req.encode())
        got = b""
        while b"ready\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("closed before \"ready\": %r" % got[:120])
            got += chunk
            # Any answer but 200 is no run to hang up on.
            if b"\r\n" in got and b" 200 " not in got.split(b"\r\n")[0]:
                raise RuntimeError("answer %r" % got[:120])
    except OSError as e:
        s.close()
        raise RuntimeError("before the hang-up: %s" % e)
    except RuntimeError:
        s.close()
        raise
    time.sleep(random.uniform(0, ABORT_JITTER))
    # time.time_ns() is CLOCK_REALTIME, the clock the probes write.
    t0 = time.time_ns()
    s.close()
    deadline = time.monotonic() + ABORT_WAIT
    while True:
        try:
            with open(out) as f:
                t1 = int(f.read())
            break
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise RuntimeError("no sign of the script %.0f s after the "
                                   "hang-up" % ABORT_WAIT)
            time.sleep(0.0005)
        except ValueError:
            raise RuntimeError("%s holds no number" % out)
    os.unlink(out)
    return (t1 - t0) / 1e6


def measure_abort(port, route, outdir, budget):
    """ABORT_RUNS hang-ups against route, after one unmeasured warm-up, for
    at most budget seconds. Returns {"ms": [...], "failed": n, "error":
    first failure or None}."""
    cell = {"ms": [], "failed": 0, "error": None}
    end = time.monotonic() + budget
    for i in range(ABORT_RUNS + 1):
        if time.monotonic() > end:
            if len(cell["ms"]) < ABORT_RUNS:
                cell["error"] = cell["error"] or (
                    "out of time after %d runs" % len(cell["ms"]))
            break
        try:
            ms = abort_once(port, route, os.path.join(outdir, str(i)))
        except RuntimeError as e:
            cell["failed"] += 1
            cell["error"] = cell["error"] or str(e)
            if i == 0 or cell["failed"] >= ABORT_MAX_FAILED:
                break
            continue
        if i > 0:
            cell["ms"].append(ms)
    return cell


def p99(values):
    """The 99th percentile by nearest rank: at most 1 % of the values lie
    above it."""
    v = sorted(values)
    return v[max(0, math.ceil(0.99 * len(v)) - 1)]


def run_floor(floor, prog, conc):
    argv = [floor, "-c", str(conc), "-d", str(SECONDS), prog]
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=SECONDS + 20)
    except subprocess.TimeoutExpired:
        raise RuntimeError("spawn_floor hung")
    if r.returncode != 0:
        raise RuntimeError("spawn_floor exit %d: %s" %
                           (r.returncode, (r.stdout + r.stderr).strip()))
    m = re.search(r"executions/s ([\d.]+)", r.stdout)
    if not m:
        raise RuntimeError("no figure in spawn_floor output")
    return {"rate": float(m.group(1)), "p99": None}


def wrk_threads(conns):
    return 1 if conns == 1 else 2


def machine_line():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0))
    now = datetime.datetime.now(datetime.timezone.utc)
    return "machine: %d CPU, %s, Linux %s, %s" % (
        nproc, model, platform.release(), now.strftime("%Y-%m-%d %H:%M UTC"))


def cpu_busy(seconds=1.0):
    """Share of all CPUs busy over a short sample, from /proc/stat: what
    other work would take from the measurements."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, IndexError, ValueError):
        return None
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def fmt_rate(results, key):
    """The median of a cell's rounds, or its failure."""
    cell = results.get(key)
    if cell is None:
        return "n/a"
    if cell["error"]:
        return "FAIL"
    return "%.0f" % statistics.median(r["rate"] for r in cell["runs"])


def fmt_ratio(results, num, den):
    """The median over rounds of num/den, each round's pair measured back to
    back, so that a disturbance hits both sides of a ratio alike."""
    a, b = results.get(num), results.get(den)
    if not a or not b or a["error"] or b["error"]:
        return "n/a"
    ratios = [x["rate"] / y["rate"] for x, y in zip(a["runs"], b["runs"])
              if y["rate"] > 0]
    if not ratios:
        return "n/a"
    return "%.0f %%" % (100 * statistics.median(ratios))


# Detached routes on a kickd of their own: /trigger's jobs are all sent
# with Kick-Delay far ahead, so its program never runs; /start runs the
# probe at once.
JOBS_CONFIG = """[server]
listen = 127.0.0.1:%(port)d
db = %(db)s

[route /trigger]
exec = /bin/true
mode = detach

[route /start]
exec = %(probe)s
mode = detach
"""


def start_jobs_kickd(kickd, tmp, name, start_probe):
    """Starts a kickd with JOBS_CONFIG and a fresh store in tmp/name;
    returns (Popen, port) or raises RuntimeError."""
    d = os.path.join(tmp, name)
    os.mkdir(d)
    port = free_port()
    conf = os.path.join(d, "kickd.conf")
    with open(conf, "w") as f:
        f.write(JOBS_CONFIG % {"port": port, "probe": start_probe,
                               "db": os.path.join(d, "kick.db")})
    p = start_server("kickd", [kickd, "-c", conf],
                     os.path.join(d, "kickd.log"), port, kickd_ok)
    return p, port


def measure_accept(kickd_port, lua, tmp, put_bin, errors):
    """Durable triggers/s of the kickd on kickd_port beside beanstalkd's
    fsynced puts/s, in ACCEPT_ROUNDS rounds that take turns (the disk's
    sync speed drifts over minutes on a shared host, so that each round's
    pair sees the same disk). Returns the two cells: each with the median
    rate and its runs; kickd's also with the median of the rounds'
    ratios."""
    accept = {"error": None, "runs": [], "ratios": []}
    peer = {"error": None, "runs": []}
    if not os.access(BEANSTALKD, os.X_OK):
        peer["error"] = "%s not installed" % BEANSTALKD
        errors.append(("beanstalkd", peer["error"]))
    else:
        d = os.path.join(tmp, "beanstalkd")
        os.mkdir(d)
        bport = free_port()
        try:
            # -f 0: fsync(2) after every write to the binlog (beanstalkd(1)).
            start_server("beanstalkd", [BEANSTALKD, "-l", "127.0.0.1", "-p",
                                        str(bport), "-b", d, "-f", "0"],
                         os.path.join(tmp, "beanstalkd.log"), bport,
                         beanstalkd_ok)
        except RuntimeError as e:
            peer["error"] = str(e)
            errors.append(("beanstalkd", str(e)))
    for _ in range(ACCEPT_ROUNDS):
        try:
            # One wrk thread: on 2 CPUs a second one only takes CPU from
            # kickd (beanstalkd's feeder is one process too).
            k = run_wrk("http://127.0.0.1:%d/trigger" % kickd_port, 1,
                        jobs.ACCEPT_CONNS, ACCEPT_SECONDS, lua)
        except RuntimeError as e:
            accept["error"] = str(e)
            errors.append(("kickd triggers/s", str(e)))
            break
        accept["runs"].append(k)
        if peer["error"]:
            continue
        b = jobs.measure_beanstalk(put_bin, bport, ACCEPT_SECONDS)
        if b["error"]:
            peer["error"] = b["error"]
            errors.append(("beanstalkd puts/s", b["error"]))
            continue
        peer["runs"].append(b["rate"])
        accept["ratios"].append(k["rate"] / b["rate"])
    if accept["runs"] and not accept["error"]:
        accept["rate"] = statistics.median(r["rate"] for r in accept["runs"])
        accept["p99"] = statistics.median(r["p99"] for r in accept["runs"])
    elif not accept["error"]:
        accept["error"] = "no rounds"
    if peer["runs"] and not peer["error"]:
        peer["rate"] = statistics.median(peer["runs"])
    if accept["ratios"] and not peer["error"]:
        accept["ratio"] = statistics.median(accept["ratios"])
    return accept, peer


def measure_jobs(kickd, tmp, start_probe, put_bin, flood_bin, errors):
    """The detached-job parts that ONLY names, once the other servers have
    stopped: the start latency, then triggers/s on the same kickd and on
    beanstalkd, then the enqueue on a fresh kickd with whatever time is
    left. Returns jobs.py's cells by name (None: not measured) and appends
    failures to errors."""
    got = dict.fromkeys(("start", "accept", "beanstalk", "flood"))
    if not ONLY & {"accept", "enqueue", "start"} or \
            not os.access(kickd, os.X_OK):
        return got
    lua = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "trigger.lua")
    if ONLY & {"accept", "start"}:
        try:
            _, port = start_jobs_kickd(kickd, tmp, "jobs", start_probe)
        except RuntimeError as e:
            errors.append(("kickd (jobs)", str(e)))
            port = None
        if port and "start" in ONLY:
            outdir = os.path.join(tmp, "start")
            os.mkdir(outdir)
            got["start"] = jobs.measure_start(port, "/start", outdir,
                                              START_RUNS, START_BUDGET)
            if got["start"]["error"]:
                errors.append(("commit to start", got["start"]["error"]))
        if port and "accept" in ONLY:
            got["accept"], got["beanstalk"] = measure_accept(
                port, lua, tmp, put_bin, errors)
        stop_servers()
    if "enqueue" in ONLY:
        limit = min(ENQUEUE_LIMIT, time_left() - 5)
        if limit < 20:
            errors.append(("enqueue", "skipped: out of time"))
            return got
        try:
            p, port = start_jobs_kickd(kickd, tmp, "enqueue", start_probe)
            got["flood"] = jobs.measure_flood(flood_bin, port, "/trigger",
                                              ENQUEUE_JOBS, limit, p.pid)
            if got["flood"]["error"]:
                errors.append(("enqueue", got["flood"]["error"]))
        except RuntimeError as e:
            errors.append(("kickd (enqueue)", str(e)))
        stop_servers()
    return got


def sink_ok(port):
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    return True


def php_version(php):
    try:
        r = subprocess.run([php, "-r", "echo PHP_VERSION;"],
                           capture_output=True, text=True, timeout=10)
        return "php-cli %s" % r.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "php-cli"


def measure_client(bench_bin, kick, kickd, tmp, start_probe, errors):
    """The client parts that ONLY names, each on a server of its own:
    sent-mode triggers against bench/sink, then kick --batch against a
    kickd with JOBS_CONFIG. Returns (sent cells, batch cell), None where
    not measured, and appends failures to errors."""
    sent = batch = None
    if "client" in ONLY:
        port = free_port()
        log = os.path.join(tmp, "sink.log")
        try:
            p = start_server("sink", [os.path.join(bench_bin, "sink"), "-p",
                                      str(port)], log, port, sink_ok)
            sent = client.measure_sent(bench_bin, shutil.which("php"), port,
                                       p.pid, log)
            for name, cell in sent.items():
                if cell["error"]:
                    errors.append(("sent mode %s" % name, cell["error"]))
        except RuntimeError as e:
            errors.append(("sink", str(e)))
        stop_servers()
    if "batch" not in ONLY:
        return sent, batch
    if not os.access(kick, os.X_OK):
        errors.append(("kick --batch", "%s not built; run `make`" % kick))
        return sent, batch
    try:
        _, port = start_jobs_kickd(kickd, tmp, "batch", start_probe)
        batch = client.measure_batch(kick, port, "/trigger", tmp)
        if batch["error"]:
            errors.append(("kick --batch", batch["error"]))
    except RuntimeError as e:
        errors.append(("kickd (batch)", str(e)))
    stop_servers()
    return sent, batch


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    args = ap.parse_args()

    atexit.register(stop_servers)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    kickd = os.path.abspath(os.path.join(args.build, "kickd"))
    floor = os.path.abspath(os.path.join(args.build, "bench", "spawn_floor"))
    tiny = os.path.abspath(os.path.join(args.build, "bench", "tiny_cgi"))
    probe = os.path.abspath(os.path.join(args.build, "bench", "abort_probe"))
    bench_bin = os.path.abspath(os.path.join(args.build, "bench"))
    put_bin = os.path.join(bench_bin, "beanstalk_put")
    flood_bin = os.path.join(bench_bin, "trigger_flood")
    start_probe = os.path.join(bench_bin, "start_probe")
    kick = os.path.abspath(os.path.join(args.build, "kick"))
    if not ONLY <= set(PARTS):
        sys.exit("bench: BENCH_ONLY is a comma-separated list of %s, or "
                 "unset" % ", ".join(PARTS))
    clients = tuple(os.path.join(bench_bin, p) for p in
                    ("sink", "trigger_raw", "trigger_libkick"))
    for path in (floor, tiny, probe, put_bin, flood_bin, start_probe,
                 os.path.join(bench_bin, "ok_sink")) + clients:
        if not os.access(path, os.X_OK):
            sys.exit("bench: %s is missing; run `make bench`" % path)

    # Fewer rounds rather than a run past the limit.
    per_round = len(CONCS) * 3 * (SECONDS + 1)
    reserve = ((ABORT_BUDGET if "abort" in ONLY else 0) +
               (JOBS_RESERVE if ONLY & {"accept", "enqueue", "start"}
                else 0) +
               (client.SENT_RESERVE if "client" in ONLY else 0) +
               (client.BATCH_RESERVE if "batch" in ONLY else 0) +
               (dashboard.reserve(ACCEPT_SECONDS) if "dashboard" in ONLY
                else 0) +
               (retention.reserve(ACCEPT_SECONDS) if "retention" in ONLY
                else 0) +
               (runners.reserve() if "runners" in ONLY else 0) +
               (pg.RESERVE if "pg" in ONLY else 0))
    rounds = max(1, min(ROUNDS, int((LIMIT - SECONDS - 20 - reserve)
                                    // per_round)))

    busy = cpu_busy()
    tmp = tempfile.mkdtemp(prefix="kick-bench-")
    atexit.register(shutil.rmtree, tmp, True)
    scripts = os.path.join(tmp, "scripts")
    os.mkdir(scripts)
    shutil.copy2(tiny, os.path.join(scripts, "tiny_cgi"))
    shutil.copy2(probe, os.path.join(scripts, "abort_probe"))
    php_cgi = shutil.which("php-cgi")
    if php_cgi:
        shutil.copy2(os.path.join(os.path.dirname(__file__),
                                  "abort_probe.php"),
                     os.path.join(scripts, "abort_probe.php"))
    outdir = os.path.join(tmp, "abort")
    os.mkdir(outdir)
    hooks = os.path.join(tmp, "hooks.json")
    with open(os.path.join(os.path.dirname(__file__), "hooks.json.in")) as f:
        template = f.read()
    with open(hooks, "w") as f:
        f.write(template.replace("@TINY_CGI@", tiny))

    errors = []   # (what, reason), printed under the table
    results = {}  # (target, conc) -> {"runs": [...], "error": str|None}
    urls = {}     # target -> URL, for targets that started

    def webhook_ok(port):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True

    # The scripts run attached: the tiny CGI answers, the probe hangs up.
    # The C probe has two routes of its own, one for each abort rule.
    conf = os.path.join(tmp, "kickd.conf")
    with open(conf, "w") as f:
        f.write(ABORT_ROUTES.format(probe=os.path.join(scripts,
                                                       "abort_probe")))
    if not os.access(kickd, os.X_OK):
        errors.append(("kickd", "%s not built" % kickd))
    elif ONLY & {"abort", "exec"}:
        port = free_port()
        try:
            start_server("kickd", [kickd, "-c", conf,
                                   "--listen", "127.0.0.1:%d" % port,
                                   "--scripts", scripts, "--mode", "attach",
                                   "--db", os.path.join(tmp, "kick.db")],
                         os.path.join(tmp, "kickd.log"), port, kickd_ok)
            urls["kickd"] = (port, "/tiny_cgi")
        except RuntimeError as e:
            errors.append(("kickd", str(e)))
    if "exec" not in ONLY:
        pass
    elif os.access(WEBHOOK, os.X_OK):
        port = free_port()
        try:
            start_server("webhook", [WEBHOOK, "-hooks", hooks, "-ip",
                                     "127.0.0.1", "-port", str(port)],
                         os.path.join(tmp, "webhook.log"), port, webhook_ok)
            urls["webhook"] = (port, "/hooks/tiny")
        except RuntimeError as e:
            errors.append(("webhook", str(e)))
    else:
        errors.append(("webhook", "%s not installed" % WEBHOOK))

    # One request each by hand first: a fast wrong answer is no result.
    for target, (port, path) in list(urls.items()):
        try:
            status, body = http_get(port, path)
        except OSError as e:
            status, body = None, str(e).encode()
        if status != 200 or b"ok\n" not in body:
            errors.append((target, "GET %s: %s %r" % (path, status,
                                                      body[:80])))
            del urls[target]
    if "kickd" in urls:
        try:
            status, body = http_get(urls["kickd"][0], "/tiny_cgi")
            if body != b"ok\n":
                errors.append(("kickd", "GET /tiny_cgi body %r" % body[:80]))
        except OSError as e:
            errors.append(("kickd", "GET /tiny_cgi: %s" % e))

    def measure(target, conc):
        cell = results.setdefault((target, conc),
                                  {"runs": [], "error": None})
        if cell["error"]:
            return
        if time_left() < SECONDS + 10:
            cell["error"] = "skipped: out of time"
            return
        try:
            if target == "floor":
                r = run_floor(floor, tiny, conc)
            else:
                port, path = urls[target]
                r = run_wrk("http://127.0.0.1:%d%s" % (port, path),
                            wrk_threads(conc), conc)
            cell["runs"].append(r)
        except RuntimeError as e:
            cell["error"] = str(e)
        except KeyError:
            cell["error"] = "not running"

    # The hang-ups first, on a quiet kickd, in the time kept for them.
    aborts = {}  # probe -> measure_abort()'s cell
    probes = [("sigterm", "/abort_probe"), ("write", "/abort_probe_write")]
    if php_cgi:
        probes.append(("php", "/abort_probe.php"))
    else:
        errors.append(("abort php-cgi", "php-cgi is not installed"))
    for name, route in probes:
        if "kickd" not in urls or "abort" not in ONLY:
            break
        aborts[name] = measure_abort(urls["kickd"][0], route, outdir,
                                     ABORT_BUDGET / len(probes))
        if aborts[name]["error"]:
            errors.append(("abort %s" % route, "%d failed: %s" % (
                aborts[name]["failed"], aborts[name]["error"])))

    # Each round runs every target at every concurrency back to back, in an
    # order that turns each round so that none always goes first.
    targets = ["floor", "kickd", "webhook"]
    if "exec" not in ONLY:
        rounds = 0
    for rnd in range(rounds):
        order = targets[rnd % 3:] + targets[:rnd % 3]
        for conc in CONCS:
            for target in order:
                measure(target, conc)
    measure_healthz = ("kickd" in urls and time_left() >= SECONDS + 10 and
                       "exec" in ONLY)
    healthz = None
    if measure_healthz:
        try:
            healthz = run_wrk("http://127.0.0.1:%d/healthz" % urls["kickd"][0],
                              2, HEALTHZ_CONNS)
        except RuntimeError as e:
            errors.append(("kickd /healthz", str(e)))
    stop_servers()
    sent, batch = measure_client(bench_bin, kick, kickd, tmp, start_probe,
                                 errors)
    detached = measure_jobs(kickd, tmp, start_probe, put_bin, flood_bin,
                            errors)
    kept = None
    helpers = {
        "free_port": free_port, "start_server": start_server,
        "kickd_ok": kickd_ok, "run_wrk": run_wrk,
        "stop_servers": stop_servers, "conns": jobs.ACCEPT_CONNS,
        "seconds": ACCEPT_SECONDS,
        "lua": os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "trigger.lua")}
    streams = None
    if "dashboard" in ONLY:
        streams = dashboard.measure(kickd, tmp, helpers, errors)
    if "retention" in ONLY:
        kept = retention.measure(kickd, tmp, helpers, errors)
    ran = None
    if "runners" in ONLY:
        ran = runners.measure(kickd, bench_bin, tmp, {
            "free_port": free_port, "start_server": start_server,
            "kickd_ok": kickd_ok, "run_wrk": run_wrk,
            "stop_servers": stop_servers, "tail": tail}, errors)
    cluster = None
    if "pg" in ONLY:
        cluster = pg.measure(kickd, bench_bin, tmp, {
            "free_port": free_port, "start_server": start_server,
            "kickd_ok": kickd_ok, "run_wrk": run_wrk,
            "stop_servers": stop_servers}, errors)
    # The chaos rounds take the time the other parts' reserves leave
    # (those are generous), never an exec round.
    crash = None
    if "chaos" in ONLY and time_left() < chaos.RESERVE:
        errors.append(("chaos", "skipped: out of time"))
    elif "chaos" in ONLY:
        crash = chaos.measure(kickd, errors)
    # So does the follow part, after them.
    live = None
    if "follow" in ONLY and time_left() < follow.RESERVE:
        errors.append(("follow", "skipped: out of time"))
    elif "follow" in ONLY:
        live = follow.measure(kickd, kick, tmp, start_server, kickd_ok,
                              free_port)
        errors += follow.errors_of(live)
        stop_servers()
    # The dashboard's page load, last.
    page = None
    if "dashboard_page" in ONLY and time_left() < dashboard_page.RESERVE:
        errors.append(("dashboard_page", "skipped: out of time"))
    elif "dashboard_page" in ONLY:
        page = dashboard_page.measure(kickd, tmp, start_server, kickd_ok,
                                      free_port)
        errors += dashboard_page.errors_of(page)
        stop_servers()
    busy_after = cpu_busy()

    for (target, conc), cell in sorted(results.items()):
        if cell["error"]:
            errors.append(("%s c=%d" % (target, conc), cell["error"]))

    if "exec" in ONLY:
        print()
        print("| what | concurrency | kickd | spawn floor | webhook "
              "| kickd/floor % |")
        print("|---|---:|---:|---:|---:|---:|")
        for conc in CONCS:
            k = fmt_rate(results, ("kickd", conc))
            f = fmt_rate(results, ("floor", conc))
            w = fmt_rate(results, ("webhook", conc))
            pct = fmt_ratio(results, ("kickd", conc), ("floor", conc))
            print("| tiny CGI, executions/s | %d | %s | %s | %s | %s |" %
                  (conc, k, f, w, pct))
        if healthz:
            h = "%.0f req/s, p99 %.2f ms" % (healthz["rate"], healthz["p99"])
        else:
            h = "FAIL" if measure_healthz else "n/a"
        print("| GET /healthz, keep-alive | %d | %s | | | |" %
              (HEALTHZ_CONNS, h))
    if ONLY & {"accept", "enqueue", "start"}:
        jobs.print_table(ONLY, detached["accept"], detached["beanstalk"],
                         detached["flood"], detached["start"],
                         ACCEPT_SECONDS, ACCEPT_ROUNDS)
    if "abort" in ONLY:
        print()
        print("| client hang-up to | runs | median | p99 | target |")
        print("|---|---:|---:|---:|---|")
    for name, what in (
            ("sigterm", "SIGTERM reaching the script, abort = hangup "
                        "(C probe)"),
            ("write", "SIGTERM reaching the script, abort = write "
                      "(C probe writes every 1 ms)"),
            ("php", "php-cgi noticing: shutdown function runs "
                    "(script writes every 1 ms)")):
        cell = aborts.get(name)
        ms = cell["ms"] if cell else []
        if ms:
            med = statistics.median(ms)
            figs = "%d | %.2f ms | %.2f ms" % (len(ms), med, p99(ms))
        else:
            med = None
            figs = "0 | %s | " % ("FAIL" if cell else "n/a")
        if name != "sigterm":
            target = "reference"
        elif med is None:
            target = "median < %g ms" % ABORT_TARGET
        else:
            target = "median < %g ms: %s" % (
                ABORT_TARGET, "met" if med < ABORT_TARGET else "MISSED")
        if "abort" in ONLY:
            print("| %s | %s | %s |" % (what, figs, target))
    if ONLY & {"client", "batch"}:
        client.print_table(ONLY, sent, batch,
                           php_version(shutil.which("php") or "php"))
    if "chaos" in ONLY:
        chaos.print_table(crash)
    if live:
        follow.print_table(live)
    if "retention" in ONLY:
        retention.print_table(kept, ACCEPT_SECONDS)
    if "dashboard" in ONLY:
        dashboard.print_table(streams, ACCEPT_SECONDS)
    if ran:
        runners.print_table(ran)
    if "pg" in ONLY:
        pg.print_table(cluster)
    if page:
        dashboard_page.print_table(page)
    print()
    print(machine_line())
    for when, b in (("before", busy), ("after", busy_after)):
        if b is not None and b > 0.10:
            print("WARNING: the machine was %.0f %% busy %s the run; other "
                  "work skews these figures" % (100 * b, when))
    if ONLY & {"abort", "exec"}:
        print("command: make bench (BENCH_SECONDS=%d, %d round%s, medians; "
              "wrk -t1 -c1 / -t2 -c16 / -t2 -c64 --latency; "
              "BENCH_ABORT_RUNS=%d hang-ups per probe, each a new connection "
              "closed 0-%g ms after \"ready\" arrived, timed from close(2) "
              "to the script's CLOCK_REALTIME)" %
              (SECONDS, rounds, "" if rounds == 1 else "s", ABORT_RUNS,
               ABORT_JITTER * 1e3))
    if ONLY & {"accept", "enqueue", "start"}:
        print("detached jobs: each trigger a POST of \"a=1\" with "
              "Kick-Delay: %s (due in ~28 h: no job starts, none competes "
              "for the CPU; kickd still commits it, WAL, and fdatasyncs the "
              "WAL before its 202); triggers/s: wrk -t1 -c%d -d%ds -s "
              "bench/trigger.lua; beanstalkd -b DIR -f 0 (fsync per put) fed "
              "by beanstalk_put -c%d -w%d (pipelined \"put 0 0 60 3\"); "
              "the two take turns, BENCH_ACCEPT_ROUNDS=%d rounds, medians, "
              "the ratio the median of each round's; "
              "enqueue: trigger_flood -c%d -w%d (pipelined), "
              "BENCH_ENQUEUE_JOBS=%d on a fresh store; start: "
              "BENCH_START_RUNS=%d jobs of bench/start_probe one at a time, "
              "each after the previous ended, with 8 workers idle (a job that "
              "finds a worker free starts as its 202 leaves, so it can start "
              "before the client has read the 202: a negative time)" %
              (jobs.DELAY_HEADER[1], jobs.ACCEPT_CONNS, ACCEPT_SECONDS,
               jobs.BEANSTALK_CONNS, jobs.BEANSTALK_WINDOW, ACCEPT_ROUNDS,
               jobs.FLOOD_CONNS,
               jobs.FLOOD_WINDOW, ENQUEUE_JOBS, START_RUNS))
    client.print_method(ONLY)
    if "chaos" in ONLY:
        chaos.print_method(crash)
    if live:
        follow.print_method()
    if "retention" in ONLY:
        retention.print_method(kept, ACCEPT_SECONDS, jobs.ACCEPT_CONNS)
    if "dashboard" in ONLY:
        dashboard.print_method(streams, ACCEPT_SECONDS, jobs.ACCEPT_CONNS)
    if ran:
        runners.print_method(ran)
    if "pg" in ONLY:
        pg.print_method(cluster)
    if page:
        dashboard_page.print_method()
    print()
    if "abort" in ONLY:
        print("hang-ups (ms):")
    for name, cell in aborts.items():
        ms = cell["ms"]
        print("  %-7s %s" % (name, "min %.2f, max %.2f, %d failed" % (
            min(ms), max(ms), cell["failed"]) if ms else "-"))
    if "exec" in ONLY:
        print("rounds (executions/s; wrk p99):")
    for (target, conc), cell in sorted(results.items()):
        runs = ", ".join("%.0f" % r["rate"] +
                         ("" if r["p99"] is None else
                          " (p99 %.2f ms)" % r["p99"]) for r in cell["runs"])
        print("  %-7s c=%-2d %s" % (target, conc, runs or "-"))
    jobs.print_details(detached["accept"], detached["beanstalk"],
                       detached["flood"], detached["start"])
    client.print_details(ONLY, sent or {}, batch)
    if live:
        follow.print_details(live)
    if ran:
        runners.print_details(ran)
    if "pg" in ONLY:
        pg.print_details(cluster)
    if page:
        dashboard_page.print_details(page)
    for what, why in errors:
        print("FAILED %s: %s" % (what, why))
    print("bench took %.0f s" % (time.monotonic() - START))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
