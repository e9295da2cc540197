# SPDX-License-Identifier: MIT
# The PostgreSQL part of `make bench` (issue 13, "Benchmark"), on one
# throwaway PostgreSQL 15 cluster on this machine, durable (fsync and
# synchronous_commit on), in one run:
# - durable triggers/s of 1, 2 and 3 kickd nodes on one database, 64
#   keep-alive connections spread over them (wrk, bench/trigger.lua);
# - jobs completed/s of a `forward` route to bench/ok_sink with 1, 2 and
#   3 nodes: a backlog queued with Kick-Delay so that it falls due at
#   once, then drained (first start to last end, from the job API);
# - commit-to-start latency (202 read to bench/start_probe's first
#   instruction) with 1 and 3 nodes;
# - beside them, in a database of their own in the same cluster,
#   graphile-worker 0.18 (npm, run by the system's Node.js): jobs added/s
#   by graphile_worker.add_job from 64 connections (pgbench), and no-op
#   jobs completed/s by one worker with kickd's workers as concurrency;
# - the SQLite figures of one node, for the reader who wonders when to
#   switch;
# - the CPUs used by PostgreSQL's processes, the kickd nodes and the rest
#   during each phase (/proc), to say where the limit is.
# The 1-node figures and graphile-worker's take turns over ROUNDS rounds
# (medians); 2 and 3 nodes and SQLite run once. run.py passes its
# helpers; measure() returns the cells and never raises.

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

import jobs
import runners

PG_BIN = "/usr/lib/postgresql/15/bin"
GW_VERSION = "0.18.0"
HERE = os.path.dirname(os.path.abspath(__file__))
CONNS = 64  # keep-alive connections of the trigger runs, in all
NODES = tuple(int(n) for n in
              os.environ.get("BENCH_PG_NODES", "1,2,3").split(","))
WORKERS = 8  # kickd's default; graphile-worker's concurrency too
SECONDS = int(os.environ.get("BENCH_PG_SECONDS", "5"))  # a trigger run
ROUNDS = int(os.environ.get("BENCH_PG_ROUNDS", "3"))  # 1 node beside gw
JOBS = int(os.environ.get("BENCH_PG_JOBS", "10000"))  # a drain's backlog
JOBS_WAIT = 60.0  # s for a backlog to drain
FLOOD_WINDOW = 8  # pipelined triggers a connection while queueing
START_RUNS = int(os.environ.get("BENCH_PG_START_RUNS", "200"))
START_BUDGET = 8.0  # s a latency figure may take
CPU_SAMPLE = 0.25  # s
# The machine counts as full when its CPUs are this busy (the samples'
# edges and the clients' bursts keep a full machine a little below 100 %).
FULL = 0.85
# What run.py keeps for this part: a cluster, npm's cache, ROUNDS of the
# 1-node pair (triggers, then a backlog queued and drained, each), 2 and
# 3 nodes, SQLite, the latencies.
RESERVE = 60 + ROUNDS * (2 * SECONDS + 20) + 2 * (SECONDS + 15) + 25

# The cluster is tuned for a benchmark and durable: fsync,
# synchronous_commit and full_page_writes stay on (the 202 goes out after
# PostgreSQL's durable commit); the WAL may grow so that no checkpoint
# falls in the run.
PG_SETTINGS = ("-c listen_addresses='' -c fsync=on -c synchronous_commit=on "
               "-c full_page_writes=on -c shared_buffers=256MB "
               "-c max_connections=200 -c max_wal_size=8GB "
               "-c checkpoint_timeout=30min")

KICKD_CONF = """[server]
listen = 127.0.0.1:%(port)d
db = %(db)s
workers = %(workers)d
access_log = off

[route /trigger]
exec = /bin/true
mode = detach

[route /fwd]
forward = http://127.0.0.1:%(sink)d/ok
mode = detach

[route /start]
exec = %(probe)s
mode = detach
"""

ADD_SQL = "SELECT graphile_worker.add_job('noop', '{}'::json);\n"


class Cluster:
    """A PostgreSQL 15 cluster in a directory of its own, its socket there,
    no TCP; as root, run as the postgres user (initdb refuses root)."""

    def __init__(self, port):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="kick-bench-pg-")
        self.pid = None
        self.as_user = []
        if os.getuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")

    def run(self, argv, timeout=60):
        r = subprocess.run(self.as_user + argv, capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("%s exit %d: %s" % (
                os.path.basename(argv[0]), r.returncode,
                (r.stderr or r.stdout).strip()[-300:]))
        return r.stdout

    def start(self):
        data = os.path.join(self.dir, "data")
        self.run([os.path.join(PG_BIN, "initdb"), "-D", data, "-U", "kick",
                  "--auth=trust", "-N"])
        self.run([os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-l",
                  os.path.join(self.dir, "pg.log"), "-w", "-o",
                  "-k %s -p %d %s" % (self.dir, self.port, PG_SETTINGS),
                  "start"])
        with open(os.path.join(data, "postmaster.pid")) as f:
            self.pid = int(f.readline())

    def stop(self):
        if self.pid is not None:
            try:
                self.run([os.path.join(PG_BIN, "pg_ctl"), "-D",
                          os.path.join(self.dir, "data"), "-m", "fast",
                          "-w", "stop"])
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            self.pid = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def uri(self, db="postgres", schema=None):
        u = "postgresql:///%s?host=%s&port=%d&user=kick" % (db, self.dir,
                                                           self.port)
        if schema:
            u += "&options=-csearch_path%%3D%s" % schema
        return u

    def psql(self, sql, db="postgres"):
        r = subprocess.run(["psql", "-qtAX", "-v", "ON_ERROR_STOP=1",
                            self.uri(db), "-c", sql], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr.strip()[:300])
        return r.stdout.strip()


def stat_of(pid):
    """(ppid, utime + stime ticks) of a process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return int(v[1]), int(v[11]) + int(v[12])
    except (OSError, IndexError, ValueError):
        return None


class Cpu:
    """Samples, every CPU_SAMPLE s until stopped, the machine's busy time
    and the CPU time of every process of the groups: "postgres" (the
    postmaster and its children: backends, WAL writer, checkpointer,
    autovacuum), "kickd" and "graphile" (the pids added). A process that
    has ended keeps its last count, so that a phase's backends count
    after their connection closed."""

    def __init__(self, postmaster):
        self.pm = postmaster
        self.pids = {"kickd": set(), "graphile": set()}
        self.seen = {}  # pid -> (group, ticks)
        self.samples = []  # (monotonic s, busy ticks, {group: ticks})
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def add(self, group, pid):
        with self.lock:
            self.pids[group].add(pid)

    def sample(self):
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return
        busy = sum(v) - v[3] - v[4]
        with self.lock:
            named = {p: g for g, ps in self.pids.items() for p in ps}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            group = named.get(pid)
            if group is None and pid != self.pm:
                st = stat_of(pid)
                if st is None or st[0] != self.pm:
                    continue
                group = "postgres"
            elif group is None:
                group = "postgres"
            st = stat_of(pid)
            if st is not None:
                self.seen[pid] = (group, st[1])
        totals = {"postgres": 0, "kickd": 0, "graphile": 0}
        for group, ticks in self.seen.values():
            totals[group] += ticks
        self.samples.append((time.monotonic(), busy, totals))

    def loop(self):
        while not self.stop_flag.is_set():
            self.sample()
            self.stop_flag.wait(CPU_SAMPLE)

    def stop(self):
        self.stop_flag.set()
        self.thread.join()

    def span(self, t0, t1):
        """CPUs used from t0 to t1 (monotonic s), between the last sample
        at or before t0 and the first at or after t1: {"busy", "postgres",
        "kickd", "graphile", "other"}, or None."""
        before = [x for x in self.samples if x[0] <= t0]
        after = [x for x in self.samples if x[0] >= t1]
        if not before or not after:
            return None
        a, b = before[-1], after[0]
        secs = b[0] - a[0]
        if secs <= 0:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        got = {g: (b[2][g] - a[2][g]) / hz / secs for g in a[2]}
        got["busy"] = (b[1] - a[1]) / hz / secs
        got["other"] = max(0.0, got["busy"] - got["postgres"] -
                           got["kickd"] - got["graphile"])
        return got

    def wait_past(self, t):
        """Waits until a sample after t exists (for span)."""
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            if self.samples and self.samples[-1][0] >= t:
                return
            time.sleep(0.05)


def split(total, n):
    """total connections (or jobs) over n nodes, as evenly as can be."""
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def metrics(port):
    return urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                  timeout=5).read().decode()


def runs_of(port):
    """Jobs this node ran (kick_run_seconds_count, its own count)."""
    m = re.search(r"^kick_run_seconds_count (\d+)", metrics(port), re.M)
    return int(m.group(1)) if m else 0


class Bench:
    def __init__(self, kickd, bench_bin, tmp, h, errors):
        self.kickd, self.bin, self.h, self.errors = kickd, bench_bin, h, errors
        self.tmp = os.path.join(tmp, "pg")
        os.mkdir(self.tmp)
        self.cluster = None
        self.cpu = None
        self.nodes = []  # (Popen, port) of the kickd nodes running
        self.sink = None
        self.n_dirs = 0

    # -- servers --------------------------------------------------------

    def start_nodes(self, n, db):
        """n kickd nodes on db (a URI or a SQLite path)."""
        self.stop_nodes()
        for _ in range(n):
            self.n_dirs += 1
            d = os.path.join(self.tmp, "node%d" % self.n_dirs)
            os.mkdir(d)
            port = self.h["free_port"]()
            conf = os.path.join(d, "kickd.conf")
            with open(conf, "w") as f:
                f.write(KICKD_CONF % {
                    "port": port, "db": db, "workers": WORKERS,
                    "sink": self.sink_port,
                    "probe": os.path.join(self.bin, "start_probe")})
            p = self.h["start_server"]("kickd", [self.kickd, "-c", conf],
                                       os.path.join(d, "kickd.log"), port,
                                       self.h["kickd_ok"])
            self.nodes.append((p, port))
            self.cpu.add("kickd", p.pid)
        return [port for _, port in self.nodes]

    def stop_nodes(self):
        for p, _ in self.nodes:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.nodes = []

    def pg_db(self, schema):
        self.cluster.psql("CREATE SCHEMA %s" % schema)
        return self.cluster.uri(schema=schema)

    def sqlite_db(self, name):
        return os.path.join(self.tmp, name + ".db")

    # -- kickd ------------------------------------------------------------

    def triggers(self, ports):
        """Durable triggers/s of the nodes on ports, CONNS connections
        spread over them, one wrk each, all at once: {"rate" (the sum),
        "p99" (the worst), "cpu"}."""
        out, errs = [None] * len(ports), []
        lua = os.path.join(HERE, "trigger.lua")

        def one(i, port, conns):
            try:
                out[i] = self.h["run_wrk"]("http://127.0.0.1:%d/trigger" %
                                           port, 1, conns, SECONDS, lua)
            except RuntimeError as e:
                errs.append("node %d: %s" % (i + 1, e))
        threads = [threading.Thread(target=one, args=(i, port, c))
                   for i, (port, c) in
                   enumerate(zip(ports, split(CONNS, len(ports))))]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t1 = time.monotonic()
        if errs:
            raise RuntimeError(errs[0])
        self.cpu.wait_past(t1)
        return {"rate": sum(r["rate"] for r in out),
                "p99": max(r["p99"] for r in out),
                "each": [r["rate"] for r in out],
                "cpu": self.cpu.span(t0 + 1, t1 - 0.5)}

    def drain(self, ports, trigger_rate):
        """Queues JOBS jobs of /fwd over the nodes (trigger_flood, each
        node its share) with a Kick-Delay that makes them fall due after
        the last is queued, then waits for them all to end. Jobs/s from
        the first job's start to the last one's end (job API); the sink
        must have had one request a job."""
        # Queued at least half as fast as the trigger run went, plus a
        # second: the first jobs fall due after the last is queued.
        delay = min(20.0, JOBS / max(500.0, trigger_rate / 2) + 1.0)
        after = runners.last_id(ports[0])
        sink0 = runners.sink_requests(self.sink_ports)
        runs0 = [runs_of(p) for p in ports]
        floods = []
        t_queue = time.monotonic()
        for port, n, c in zip(ports, split(JOBS, len(ports)),
                              split(CONNS, len(ports))):
            argv = [os.path.join(self.bin, "trigger_flood"), "-p", str(port),
                    "-n", str(n), "-m", str(n), "-c", str(min(c, n)),
                    "-w", str(FLOOD_WINDOW), "-H", "Kick-Delay: %.3f" % delay,
                    "/fwd"]
            floods.append(subprocess.Popen(argv, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True))
        for f in floods:
            out, err = f.communicate(timeout=JOBS_WAIT)
            if f.returncode != 0:
                raise RuntimeError("trigger_flood exit %d: %s" % (
                    f.returncode, (err or out).strip()[:200]))
        queued = time.monotonic() - t_queue
        early = runners.sink_requests(self.sink_ports) - sink0
        deadline = time.monotonic() + delay + JOBS_WAIT
        while True:
            done = runners.ended(ports[0], "/fwd")
            if done >= JOBS:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("%d of %d jobs ended %.0f s after they "
                                   "fell due" % (done, JOBS, JOBS_WAIT))
            time.sleep(0.05)
        got = runners.jobs_after(ports[0], "/fwd", after)
        bad = [j for j in got if j["state"] != "succeeded"]
        if len(got) != JOBS or bad:
            j = bad[0] if bad else {}
            raise RuntimeError("%d jobs, %d did not succeed; job %s: %s %s" %
                               (len(got), len(bad), j.get("id"),
                                j.get("state"), j.get("error")))
        sink = runners.sink_requests(self.sink_ports) - sink0
        if sink != JOBS:
            raise RuntimeError("%d jobs succeeded, the sink answered %d "
                               "requests" % (JOBS, sink))
        t0 = min(jobs.parse_time(j["started_at"]) for j in got)
        t1 = max(jobs.parse_time(j["finished_at"]) for j in got)
        secs = max(t1 - t0, 1.0) / 1e3
        # The drain's span on the monotonic clock, for the CPU figures.
        off = time.time() - time.monotonic()
        m0, m1 = t0 / 1e3 - off, t1 / 1e3 - off
        self.cpu.wait_past(m1)
        return {"rate": JOBS / secs, "seconds": secs, "queued": queued,
                "delay": delay, "early": early,
                "each": [runs_of(p) - r for p, r in zip(ports, runs0)],
                "cpu": self.cpu.span(m0, m1) if m1 - m0 > 1 else None}

    def start_latency(self, port):
        outdir = os.path.join(self.tmp, "start%d" % self.n_dirs)
        os.mkdir(outdir)
        cell = jobs.measure_start(port, "/start", outdir, START_RUNS,
                                  START_BUDGET)
        if cell["error"]:
            raise RuntimeError(cell["error"])
        return cell

    # -- graphile-worker --------------------------------------------------

    def npm_install(self):
        """graphile-worker GW_VERSION into build/npm (kept between runs);
        returns its node_modules."""
        cache = os.path.join(os.path.dirname(self.bin), "npm")
        mods = os.path.join(cache, "node_modules")
        pkg = os.path.join(mods, "graphile-worker", "package.json")
        try:
            with open(pkg) as f:
                if json.load(f)["version"] == GW_VERSION:
                    return mods
        except (OSError, ValueError, KeyError):
            pass
        if not shutil.which("node") or not shutil.which("npm"):
            raise RuntimeError("node or npm is not installed")
        os.makedirs(cache, exist_ok=True)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                            "--loglevel=error", "--prefix", cache,
                            "graphile-worker@%s" % GW_VERSION],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError("npm install graphile-worker@%s: %s" % (
                GW_VERSION, (r.stderr or r.stdout).strip()[-300:]))
        return mods

    def gw_setup(self):
        self.mods = self.npm_install()
        self.cluster.psql("CREATE DATABASE graphile")
        self.gw_uri = self.cluster.uri("graphile")
        r = subprocess.run(["node", os.path.join(self.mods, "graphile-worker",
                                                 "dist", "cli.js"),
                            "-c", self.gw_uri, "--schema-only"],
                           capture_output=True, text=True, timeout=60,
                           cwd=self.tmp)
        if r.returncode != 0:
            raise RuntimeError("graphile-worker --schema-only: %s" %
                               (r.stderr or r.stdout).strip()[-300:])
        self.add_sql = os.path.join(self.tmp, "add_job.sql")
        with open(self.add_sql, "w") as f:
            f.write(ADD_SQL)
        self.node_version = subprocess.run(
            ["node", "--version"], capture_output=True, text=True,
            timeout=10).stdout.strip()

    def gw_queued(self):
        return int(self.cluster.psql(
            "SELECT count(*) FROM graphile_worker._private_jobs",
            "graphile"))

    def gw_add(self):
        """add_job/s from CONNS connections (pgbench, one thread, like
        wrk -t1 beside it)."""
        argv = ["pgbench", "-n", "-M", "prepared", "-c", str(CONNS), "-j",
                "1", "-T", str(SECONDS), "-f", self.add_sql, self.gw_uri]
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=SECONDS + 30)
        t1 = time.monotonic()
        if p.returncode != 0:
            raise RuntimeError("pgbench exit %d: %s" % (
                p.returncode, (err or out).strip()[-200:]))
        m = re.search(r"tps = ([\d.]+) \(without initial", out)
        failed = re.search(r"number of failed transactions: (\d+)", out)
        lat = re.search(r"latency average = ([\d.]+) ms", out)
        if not m or (failed and int(failed.group(1))):
            raise RuntimeError("pgbench: %s" % out.strip()[-200:])
        self.cpu.wait_past(t1)
        return {"rate": float(m.group(1)),
                "latency": float(lat.group(1)) if lat else None,
                "cpu": self.cpu.span(t0 + 1, t1 - 0.5)}

    def gw_drain(self):
        """One graphile-worker (concurrency WORKERS) drains a backlog of
        JOBS no-op jobs added beforehand in one statement: jobs/s from the
        first task's start to the last one's end."""
        self.cluster.psql("DELETE FROM graphile_worker._private_jobs; "
                          "SELECT count(graphile_worker.add_job('noop', "
                          "'{}'::json)) FROM generate_series(1, %d)" % JOBS,
                          "graphile")
        env = dict(os.environ, NODE_PATH=self.mods)
        argv = ["node", os.path.join(HERE, "graphile_noop.js"), self.gw_uri,
                str(WORKERS), str(JOBS), str(int(JOBS_WAIT))]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env,
                             cwd=self.tmp)
        self.cpu.add("graphile", p.pid)
        out, err = p.communicate(timeout=JOBS_WAIT + 30)
        if p.returncode != 0:
            raise RuntimeError("graphile_noop.js exit %d: %s" % (
                p.returncode, (err or out).strip()[-300:]))
        m = re.search(r"jobs (\d+) first (\d+) last (\d+)", out)
        if not m:
            raise RuntimeError("graphile_noop.js: %r" % out[:200])
        left = self.gw_queued()
        if left:
            raise RuntimeError("%d jobs left in graphile_worker's queue" %
                               left)
        t0, t1 = int(m.group(2)), int(m.group(3))
        secs = max(t1 - t0, 1) / 1e3
        off = time.time() - time.monotonic()
        m0, m1 = t0 / 1e3 - off, t1 / 1e3 - off
        self.cpu.wait_past(m1)
        return {"rate": JOBS / secs, "seconds": secs,
                "cpu": self.cpu.span(m0, m1) if m1 - m0 > 1 else None}


def cell():
    return {"error": None, "runs": []}


def attempt(c, fn, *args):
    """Runs fn into cell c unless it has failed before."""
    if c["error"]:
        return None
    try:
        r = fn(*args)
        c["runs"].append(r)
        return r
    except (RuntimeError, OSError, ValueError, KeyError,
            subprocess.TimeoutExpired) as e:
        c["error"] = "%s: %s" % (type(e).__name__, e)
        return None


def measure(kickd, bench_bin, tmp, h, errors):
    """Every figure of the part: {"trig": {key: cell}, "jobs": {...},
    "start": {...}, "info": {...}}; key is 1, 2, 3 (PostgreSQL nodes),
    "gw" or "sqlite". None when the cluster did not start."""
    b = Bench(kickd, bench_bin, tmp, h, errors)
    keys = [1, 2, 3, "gw", "sqlite"]  # the table's columns, run or not
    got = {"trig": {k: cell() for k in keys},
           "jobs": {k: cell() for k in keys},
           "start": {k: cell() for k in (1, 3, "sqlite")},
           "info": {}}
    try:
        b.cluster = Cluster(h["free_port"]())
        b.cluster.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        errors.append(("pg: PostgreSQL cluster", str(e)))
        if b.cluster:
            b.cluster.stop()
        return None
    got["info"]["pg"] = b.cluster.psql("SHOW server_version")
    b.cpu = Cpu(b.cluster.pid)
    try:
        sink_log = os.path.join(b.tmp, "sink.log")
        b.sink_port = h["free_port"]()
        sink = h["start_server"]("ok_sink",
                                 [os.path.join(bench_bin, "ok_sink"), "-p",
                                  str(b.sink_port)], sink_log, b.sink_port,
                                 runners.tcp_ok)
        b.sink_ports = {"sink_pid": sink.pid, "sink_log": sink_log}
        try:
            b.gw_setup()
            got["info"]["node"] = b.node_version
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            got["trig"]["gw"]["error"] = got["jobs"]["gw"]["error"] = str(e)
        run_all(b, got)
    except RuntimeError as e:
        errors.append(("pg", str(e)))
    finally:
        b.stop_nodes()
        h["stop_servers"]()
        b.cpu.stop()
        b.cluster.stop()
    for part in ("trig", "jobs", "start"):
        for k, c in got[part].items():
            if c["error"]:
                errors.append(("pg %s %s" % (part, label(k)), c["error"]))
    return got


def run_all(b, got):
    trig, drained, start = got["trig"], got["jobs"], got["start"]
    schemas = iter("k%d" % i for i in range(1, 100))

    def kick(n, db, key, latency=False):
        try:
            ports = b.start_nodes(n, db)
        except RuntimeError as e:
            trig[key]["error"] = trig[key]["error"] or str(e)
            return
        r = attempt(trig[key], b.triggers, ports)
        b.stop_nodes()
        rate = r["rate"] if r else 1000.0
        try:
            ports = b.start_nodes(n, db if key == "sqlite"
                                  else b.pg_db(next(schemas)))
        except RuntimeError as e:
            drained[key]["error"] = drained[key]["error"] or str(e)
            return
        attempt(drained[key], b.drain, ports, rate)
        if latency:
            attempt(start[key], b.start_latency, ports[0])
        b.stop_nodes()

    # The 1-node figures and graphile-worker's take turns, which first
    # alternating.
    for rnd in range(ROUNDS):
        order = ("kick", "gw") if rnd % 2 == 0 else ("gw", "kick")
        for who in order:
            if who == "kick":
                kick(1, b.pg_db(next(schemas)), 1, latency=rnd == 0)
                continue
            attempt(trig["gw"], b.gw_add)
            attempt(drained["gw"], b.gw_drain)
    for n in NODES[1:]:
        kick(n, b.pg_db(next(schemas)), n, latency=n == 3)
    os.mkdir(os.path.join(b.tmp, "sqlite"))
    kick(1, b.sqlite_db("sqlite/t"), "sqlite", latency=True)
    # The SQLite drain on its own store: kick() gave it the same path, so
    # its trigger run's delayed jobs were there too (as on PostgreSQL's
    # 1-node schema they are not): harmless, they are on another route.


def label(k):
    return {"gw": "graphile-worker", "sqlite": "SQLite"}.get(
        k, "%s node%s" % (k, "" if k == 1 else "s"))


def med(c, key="rate"):
    if c is None or c["error"] or not c["runs"]:
        return None
    return statistics.median(r[key] for r in c["runs"])


def cpu_med(c):
    """The median run's CPU figures."""
    if c is None or c["error"] or not c["runs"]:
        return None
    runs = sorted(c["runs"], key=lambda r: r["rate"])
    return runs[len(runs) // 2].get("cpu")


def fmt(c, unit="/s"):
    v = med(c)
    if v is None:
        return "FAIL" if c and c["error"] else "n/a"
    return "%.0f %s" % (v, unit)


def fmt_cpu(cpu):
    if not cpu:
        return "n/a"
    return "%.2f" % cpu["postgres"]


def fmt_start(c):
    if c is None or c["error"] or not c["runs"]:
        return "FAIL" if c and c["error"] else "n/a"
    ms = c["runs"][0]["client"]
    return "%.2f / %.2f ms" % (statistics.median(ms), jobs.p99(ms))


def print_table(got):
    print()
    if got is None:
        print("| PostgreSQL | FAIL |")
        return
    t, j, s = got["trig"], got["jobs"], got["start"]
    print("| PostgreSQL %s, one cluster, fsync + synchronous_commit on "
          "| 1 node | 2 nodes | 3 nodes | graphile-worker %s | SQLite, "
          "1 node |" % (got["info"].get("pg", "15"), GW_VERSION))
    print("|---|---:|---:|---:|---:|---:|")
    print("| durable triggers/s, %d keep-alive conns over the nodes "
          "(graphile-worker: add_job from %d connections) | %s | %s | %s "
          "| %s | %s |" % ((CONNS, CONNS) +
                           tuple(fmt(t[k]) for k in (1, 2, 3, "gw",
                                                     "sqlite"))))
    print("| jobs completed/s, a backlog of %d (kickd: `forward` to "
          "bench/ok_sink; graphile-worker: no-op task), %d workers a node "
          "| %s | %s | %s | %s | %s |" % ((JOBS, WORKERS) +
                                          tuple(fmt(j[k]) for k in
                                                (1, 2, 3, "gw", "sqlite"))))
    print("| commit to start, free worker (202 read → script's first "
          "instruction), median / p99 | %s | | %s | | %s |" %
          tuple(fmt_start(s[k]) for k in (1, 3, "sqlite")))
    print("| PostgreSQL's CPUs (of %d) during the triggers | %s | %s | %s "
          "| %s | |" % ((os.cpu_count(),) +
                        tuple(fmt_cpu(cpu_med(t[k]))
                              for k in (1, 2, 3, "gw"))))
    print("| PostgreSQL's CPUs (of %d) during the jobs | %s | %s | %s "
          "| %s | |" % ((os.cpu_count(),) +
                        tuple(fmt_cpu(cpu_med(j[k]))
                              for k in (1, 2, 3, "gw"))))
    print()
    for what, part in (("triggers/s", t), ("jobs/s", j)):
        k, g = med(part[1]), med(part["gw"])
        if k is None or g is None:
            print("target: kickd's %s at 1 node ≥ graphile-worker's: "
                  "n/a" % what)
            continue
        print("target: kickd's %s at 1 node ≥ graphile-worker's: %.0f "
              "vs %.0f (%.2f×), %s" % (what, k, g, k / g,
                                       "PASS" if k >= g else "FAIL"))
    print(scaling_line(j))


def scaling_line(j):
    """More nodes, more jobs/s until the database's CPU is the limit: a
    step that adds a node must gain more than 5 %, unless the machine's
    CPUs were full with the added node. Then where the limit is: the
    CPUs PostgreSQL spent a job, and the rate at which it alone would
    fill this machine."""
    rates = [med(j[n]) for n in NODES]
    cpus = [cpu_med(j[n]) for n in NODES]
    if None in rates:
        return ("target: more nodes give more jobs/s until the database's "
                "CPU is the limit: n/a")
    ok, notes = True, []
    ncpu = os.cpu_count()
    for i in range(1, len(NODES)):
        gain = rates[i] / rates[i - 1] - 1
        c = cpus[i]
        full = c is not None and c["busy"] >= FULL * ncpu
        step = "%d→%d nodes %+.0f %%" % (NODES[i - 1], NODES[i], 100 * gain)
        if gain > 0.05:
            notes.append(step)
        elif full:
            notes.append("%s (the %d CPUs full: %.2f busy)" % (step, ncpu,
                                                             c["busy"]))
        else:
            ok = False
            notes.append("%s with CPU to spare (%.2f of %d busy)" % (
                step, c["busy"] if c else 0, ncpu))
    line = ("target: more nodes give more jobs/s until the database's CPU "
            "is the limit: %s, %s" % ("; ".join(notes),
                                     "PASS" if ok else "FAIL"))
    per = ["%d node%s %.0f µs (%.2f CPUs, machine %.2f busy)" % (
        n, "" if n == 1 else "s", 1e6 * c["postgres"] / r, c["postgres"],
        c["busy"]) for n, r, c in zip(NODES, rates, cpus) if c]
    if per:
        least = min(c["postgres"] / r for r, c in zip(rates, cpus) if c)
        g, gc = med(j["gw"]), cpu_med(j["gw"])
        peer = ("" if not g or not gc else
                " (graphile-worker's: %.0f µs)" % (1e6 * gc["postgres"] / g))
        line += ("\nthe limit here: PostgreSQL's CPU a job: %s%s; with all "
                 "%d CPUs to itself it would be the limit at about %.0f "
                 "jobs/s; on this one machine the nodes, the sink and the "
                 "clients share its %d CPUs with it, and they are the limit "
                 "first once the machine is full" % (
                     "; ".join(per), peer, ncpu, ncpu / least, ncpu))
    return line


def print_method(got):
    info = got["info"] if got else {}
    print("pg: one PostgreSQL %s cluster in a temp dir (initdb, pg_ctl; unix "
          "socket; %s), each kickd phase on a fresh schema of its own "
          "(options=-csearch_path), graphile-worker %s in its own database "
          "run by Node.js %s; kickd nodes with workers = %d, access_log "
          "off; triggers: one wrk -t1 a node (%d connections in all, "
          "split), -d%ds -s bench/trigger.lua (Kick-Delay far ahead: no "
          "job runs), the rates summed; graphile-worker: pgbench -n -M "
          "prepared -c%d -j1 -T%d of \"%s\"; jobs: BENCH_PG_JOBS=%d "
          "queued by trigger_flood (-w%d, each node its share) with a "
          "Kick-Delay past the queueing, drained, the rate from the first "
          "started_at to the last finished_at (job API), every job "
          "succeeded and the sink answered exactly one request a job; "
          "graphile-worker: the same number added in one statement, one "
          "worker (concurrency %d, pollInterval 1 s, no batching: the "
          "defaults) drains them, the first task's start to the last one's "
          "end; commit to start: %d jobs of bench/start_probe one at a "
          "time, triggered at the first node; 1 node and graphile-worker "
          "take turns over BENCH_PG_ROUNDS=%d rounds (medians), 2 and 3 "
          "nodes and SQLite once; CPUs from /proc every %.2f s: "
          "PostgreSQL's (the postmaster and every child), the kickd "
          "nodes', graphile-worker's, the rest (clients, the sink)" %
          (info.get("pg", "15"), PG_SETTINGS.replace("-c ", "").replace(
              " ", ", "), GW_VERSION, info.get("node", "?"), WORKERS, CONNS,
           SECONDS, CONNS, SECONDS, ADD_SQL.strip(), JOBS, FLOOD_WINDOW,
           WORKERS, START_RUNS, ROUNDS, CPU_SAMPLE))


def fmt_cpu_full(c):
    if not c:
        return "CPUs n/a"
    return ("CPUs: busy %.2f, PostgreSQL %.2f, kickd %.2f, graphile-worker "
            "%.2f, rest %.2f" % (c["busy"], c["postgres"], c["kickd"],
                                 c["graphile"], c["other"]))


def print_details(got):
    if got is None:
        return
    for part, what in (("trig", "triggers/s"), ("jobs", "jobs/s")):
        for k, c in got[part].items():
            for r in c["runs"]:
                extra = ""
                if "each" in r and part == "trig":
                    extra = " (each node %s)" % ", ".join(
                        "%.0f" % x for x in r["each"])
                elif "each" in r:
                    extra = (" (%.2f s; queued in %.2f s, Kick-Delay %.1f s, "
                             "%d ran early; jobs each node ran: %s)" % (
                                 r["seconds"], r["queued"], r["delay"],
                                 r["early"],
                                 ", ".join(str(x) for x in r["each"])))
                elif "seconds" in r:
                    extra = " (%.2f s)" % r["seconds"]
                elif r.get("latency") is not None:
                    extra = " (latency average %.2f ms)" % r["latency"]
                print("pg %s %s: %.0f%s; %s" % (
                    what, label(k), r["rate"], extra,
                    fmt_cpu_full(r.get("cpu"))))
    for k, c in got["start"].items():
        for r in c["runs"]:
            print("pg commit to start %s: client min %.2f max %.2f ms; "
                  "started_at - created_at median %.0f ms" % (
                      label(k), min(r["client"]), max(r["client"]),
                      statistics.median(r["api"])))
