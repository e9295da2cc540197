# SPDX-License-Identifier: MIT
# Several kickd nodes on one PostgreSQL queue (issue 13, docs/postgresql.md
# "Rules"): every job runs exactly once across three nodes, a route's
# concurrency holds across them, a node killed or cut off from the database
# has its jobs finished elsewhere and never two copies at once, the
# database stopped under load costs no 202, and the job API answers for a
# job running on another node.
#
# One throwaway PostgreSQL 15 cluster (harness.PgCluster) serves the
# module, a database of its own for each test. Scripts are written by the
# tests into a directory all nodes share (JOB_DIR); each node's routes get
# NODE=n0, n1, ... in their environment. Nothing here is skipped: no
# PostgreSQL or no kickd is a failure.

import os
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Closed, Kickd, PgCluster, build,  # noqa: E402
                     expect, expect_eq, run, write_script, SLOW)
from test_dashboard_api import Events  # noqa: E402
from test_jobs import FINAL, get_job, json_body, trigger  # noqa: E402

CLUSTER = None
DB_SEQ = [0]


def cluster():
    """The module's cluster, started at its first use."""
    global CLUSTER
    if CLUSTER is None:
        CLUSTER = PgCluster().start()
    return CLUSTER


def new_db():
    DB_SEQ[0] += 1
    return cluster().new_db("t%d" % DB_SEQ[0])


# Scripts. Each appends whole lines of at most a few dozen bytes with >>
# (O_APPEND: lines of concurrent runs never mix).

HEAD = "printf 'Content-Type: text/plain\\n\\nok\\n'\n"

# Records one run: "ID ATTEMPT NODE".
ONCE_SH = ("#!/bin/sh\n"
           "echo \"$KICK_JOB_ID $KICK_ATTEMPT $NODE\" >> \"$JOB_DIR/runs\"\n"
           + HEAD)

# concurrency = 1 across nodes: the run takes an exclusive flock on one
# shared file without waiting; if another run holds it, that is an overlap.
SERIAL_SH = """#!/bin/sh
exec 9>"$JOB_DIR/serial.lock"
if ! flock -n 9; then
    echo "$KICK_JOB_ID $KICK_ATTEMPT $NODE" >> "$JOB_DIR/overlaps"
    exit 1
fi
sleep 0.05
echo "$KICK_JOB_ID $KICK_ATTEMPT $NODE" >> "$JOB_DIR/runs"
""" + HEAD

# One copy of a job at a time: the run takes an exclusive flock on
# lock.ID without waiting (held by its sleeping children too, as real work
# would, until the last of them is gone); a run that cannot is an overlap.
# It records "start ID ATTEMPT NODE PID T", then holds while
# JOB_DIR/hold.NODE exists (30 s at most), and records "end ..." or, on
# SIGTERM, "term ..." (T: seconds since the epoch). kickd ends a run by
# closing its pipes, then SIGTERM: the shell's report of its child killed
# ("Terminated", on stderr) then raises SIGPIPE, which records "term" too.
# A run killed with SIGKILL records nothing more; the lock shows when it
# was gone.
COPY_SH = """#!/bin/sh
d=$JOB_DIR id=$KICK_JOB_ID
exec 9>"$d/lock.$id"
if ! flock -n 9; then
    echo "overlap $id $KICK_ATTEMPT $NODE $$ $(date +%s.%N)" >> "$d/spans"
    exit 1
fi
trap 'echo "term $id $KICK_ATTEMPT $NODE $$ $(date +%s.%N)" >> "$d/spans";
      exit 143' TERM PIPE
echo "start $id $KICK_ATTEMPT $NODE $$ $(date +%s.%N)" >> "$d/spans"
n=0
while [ -e "$d/hold.$NODE" ] && [ $n -lt 600 ]; do
    sleep 0.05
    n=$((n + 1))
done
sleep 0.1
echo "end $id $KICK_ATTEMPT $NODE $$ $(date +%s.%N)" >> "$d/spans"
""" + HEAD

# Holds while JOB_DIR/release.ID does not exist (30 s at most); records
# "ID NODE" in JOB_DIR/where on start.
HOLD_SH = """#!/bin/sh
d=$JOB_DIR id=$KICK_JOB_ID
echo "$id $NODE" >> "$d/where"
n=0
while [ ! -e "$d/release.$id" ] && [ $n -lt 600 ]; do
    sleep 0.05
    n=$((n + 1))
done
""" + HEAD


class Nodes:
    """n kickd nodes on one database, each with its own config, port and
    temp dir; routes shared, but a route given as (path, script, extra,
    {indexes}) only on those nodes. A context manager that stops them
    all."""

    def __init__(self, n, routes, server="", node_uri=None):
        self.work = tempfile.mkdtemp(prefix="kick-pgn-")
        self.dbname = new_db()
        self.routes = routes
        self.nodes = []
        self.killed = set()
        self.accepted = {}
        for name, text in (("once", ONCE_SH), ("serial", SERIAL_SH),
                           ("copy", COPY_SH), ("hold", HOLD_SH)):
            write_script(os.path.join(self.work, name), text)
        for i in range(n):
            uri = node_uri(i, self.dbname) if node_uri else \
                cluster().uri(self.dbname)
            self.nodes.append(Kickd(scripts=None, config=self.config(
                i, uri, server)))

    def config(self, i, uri, server):
        # A stop ends what still runs after 2 s (a test that failed may
        # leave jobs holding).
        out = ["[server]", "listen = {listen}", "db = " + uri,
               "stop_grace = 2"]
        out += [ln.strip() for ln in server.splitlines() if ln.strip()]
        for route in self.routes:
            path, script, extra = route[:3]
            if len(route) > 3 and i not in route[3]:
                continue
            out += ["", "[route %s]" % path,
                    "exec = %s/%s" % (self.work, script),
                    "env = JOB_DIR=" + self.work, "env = NODE=n%d" % i]
            out += [ln.strip() for ln in extra.splitlines() if ln.strip()]
        # The harness formats the text: braces of ours are literal.
        return "\n".join(out).replace("{", "{{").replace(
            "}", "}}").replace("{{listen}}", "{listen}") + "\n"

    def __enter__(self):
        try:
            for k in self.nodes:
                k.start()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def __exit__(self, et, ev, tb):
        self.stop(check=et is None)
        if et is None:
            shutil.rmtree(self.work, ignore_errors=True)
            for k in self.nodes:
                shutil.rmtree(k.tmp, ignore_errors=True)
        elif isinstance(ev, Exception) and hasattr(ev, "add_note"):
            for i, k in enumerate(self.nodes):
                ev.add_note("node n%d stderr (%s):%s" % (
                    i, k.log_path, k.stderr_tail(8)))
            ev.add_note("postgres log:" + cluster().log_tail(16))
        return False

    def kill(self, i):
        """SIGKILL to node i; it stays dead."""
        k = self.nodes[i]
        k.proc.kill()
        k.proc.wait()
        self.killed.add(i)

    def stop(self, check=True):
        for i in range(len(self.nodes)):
            self.rm("hold.n%d" % i)
        problems = []
        for i, k in enumerate(self.nodes):
            if k.proc is None:
                continue
            try:
                k.stop(check=check and i not in self.killed)
            except AssertionError as e:
                problems.append("n%d: %s" % (i, e))
        if problems:
            raise AssertionError("; ".join(problems))

    def path(self, name):
        return os.path.join(self.work, name)

    def lines(self, name):
        try:
            with open(self.path(name)) as f:
                return [ln.split() for ln in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def touch(self, name):
        with open(self.path(name), "w"):
            pass

    def rm(self, name):
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            pass

    def states(self, ids=None):
        """{id: state} of the database's jobs (of ids if given)."""
        names = ("queued", "running", "succeeded", "failed", "timed_out",
                 "aborted", "canceled")
        q = "SELECT id, state FROM jobs"
        rows = cluster().sql(q, self.dbname)
        out = {int(r[0]): names[int(r[1])] for r in rows}
        if ids is not None:
            out = {i: out.get(i) for i in ids}
        return out

    def sessions(self):
        """The database's sessions that are not idle, for a failure's
        message."""
        return cluster().sql(
            "SELECT pid, state, wait_event_type || ':' || wait_event, "
            "round(extract(epoch FROM now() - xact_start)::numeric, 1), "
            "pg_blocking_pids(pid), left(query, 60) FROM pg_stat_activity "
            "WHERE datname = '%s' AND state <> 'idle' AND pid <> "
            "pg_backend_pid()" % self.dbname)

    def wait_ended(self, ids, timeout, what):
        """Polls the database until every job of ids is in a final state;
        returns {id: state}."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            st = self.states(ids)
            left = [i for i, s in st.items() if s not in FINAL]
            if not left:
                return st
            expect(time.monotonic() < deadline, "%s: %d of %d jobs not "
                   "ended after %.0f s, e.g. (id, state, node that "
                   "accepted it) %r; the database's sessions not idle "
                   "(pid, state, wait, s in transaction, blocked by, "
                   "query): %r", what, len(left), len(ids),
                   timeout * SLOW, [(i, st[i], "n%s" % self.accepted.get(i))
                                    for i in sorted(left)[:5]],
                   self.sessions())
            time.sleep(0.1)


def post(c, target):
    """A trigger on keep-alive connection c; returns (status, id or None)."""
    c.send(build("POST", target, [("Content-Length", "0")]))
    r = c.response()
    if r.status == 202:
        j = json_body(r, "trigger " + target)
        return 202, j["id"]
    return r.status, None


def fire(ns, target, total, clients):
    """total triggers of target from `clients` threads, each with one
    keep-alive connection to every node, taking turns over them. Returns
    the ids answered 202 (nodes.accepted: {id: index of the node that
    answered}); fails on any other answer."""
    ids, errors = [], []
    accepted = {}
    lock = threading.Lock()
    per = [total // clients + (1 if i < total % clients else 0)
           for i in range(clients)]

    def client(i):
        conns = [k.connect() for k in ns.nodes]
        try:
            for n in range(per[i]):
                to = (i + n) % len(conns)
                st, jid = post(conns[to], target)
                if st != 202:
                    raise AssertionError("trigger answered %d" % st)
                with lock:
                    ids.append(jid)
                    accepted[jid] = to
        except Exception as e:
            with lock:
                errors.append("client %d: %s" % (i, e))
        finally:
            for c in conns:
                c.close()

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120 * SLOW)
    expect(not errors, "triggers failed: %s", errors[:3])
    expect_eq(len(ids), total, "triggers answered 202")
    expect_eq(len(set(ids)), total, "distinct job ids")
    ns.accepted.update(accepted)
    return ids


# 1. Three nodes, 3,000 triggers spread over them: every job runs exactly
#    once, and every node runs some.

def test_three_nodes_run_each_job_once():
    routes = [("/once", "once", "")]
    with Nodes(3, routes, "workers = 8") as ns:
        t0 = time.monotonic()
        ids = fire(ns, "/once", 3000, 6)
        st = ns.wait_ended(ids, 30, "3,000 jobs")
        took = time.monotonic() - t0
        bad = [(i, s) for i, s in st.items() if s != "succeeded"]
        expect(not bad, "jobs not succeeded: %d, e.g. %r", len(bad),
               bad[:5])
        # Every job has ended: no run can come after this.
        runs = ns.lines("runs")
        seen = {}
        for jid, attempt, node in runs:
            seen.setdefault(int(jid), []).append((attempt, node))
        twice = {j: r for j, r in seen.items() if len(r) > 1}
        expect(not twice, "%d jobs ran more than once, e.g. %r",
               len(twice), sorted(twice.items())[:5])
        expect_eq(sorted(seen), sorted(ids), "the jobs that ran")
        per_node = {}
        for jid, attempt, node in runs:
            per_node[node] = per_node.get(node, 0) + 1
            expect_eq(attempt, "1", "attempt of job %s" % jid)
        expect_eq(sorted(per_node), ["n0", "n1", "n2"],
                  "nodes that ran jobs (runs per node: %r)" % per_node)
        print("    3,000 jobs on 3 nodes in %.1f s, runs per node %r"
              % (took, per_node), flush=True)



# 1b. An Idempotency-Key holds across nodes: the same key sent to all
#     three at once makes one job, whose id every answer names, and which
#     runs once.

def test_idempotency_key_across_nodes():
    routes = [("/once", "once", "")]
    with Nodes(3, routes, "workers = 8") as ns:
        keys = ["key-%d" % n for n in range(40)]
        answers, errors = {}, []
        lock = threading.Lock()
        go = threading.Barrier(3)

        def client(i):
            conn = ns.nodes[i].connect()
            try:
                go.wait(10)
                for key in keys:
                    conn.send(build("POST", "/once", [
                        ("Content-Length", "0"), ("Idempotency-Key", key)]))
                    r = conn.response()
                    j = json_body(r, "trigger with key %s" % key)
                    with lock:
                        answers.setdefault(key, []).append(
                            (i, r.status, j["id"]))
            except Exception as e:
                with lock:
                    errors.append("node n%d: %r" % (i, e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * SLOW)
        expect(not errors, "triggers failed: %s", errors[:3])
        ids = []
        for key in keys:
            got = answers.get(key, [])
            expect_eq(len(got), 3, "answers to key %s" % key)
            expect_eq(len({jid for _, _, jid in got}), 1,
                      "job ids for key %s: %r" % (key, got))
            expect_eq(sorted(st for _, st, _ in got), [200, 200, 202],
                      "statuses for key %s (one 202, two repeats): %r"
                      % (key, got))
            ids.append(got[0][2])
        st = ns.wait_ended(ids, 20, "the keyed jobs")
        expect_eq(set(st.values()), {"succeeded"}, "the keyed jobs' ends")
        expect_eq(len(ns.states()), len(keys), "jobs in the database")
        runs = [int(jid) for jid, _, _ in ns.lines("runs")]
        expect_eq(sorted(runs), sorted(ids), "runs (each job once)")

# 2. A route with concurrency = 1 never runs two jobs at once across the
#    nodes.

def test_concurrency_one_across_nodes():
    routes = [("/serial", "serial", "concurrency = 1")]
    with Nodes(3, routes, "workers = 4") as ns:
        ids = fire(ns, "/serial", 40, 4)
        st = ns.wait_ended(ids, 20, "40 jobs of a concurrency = 1 route")
        expect_eq(ns.lines("overlaps"), [], "runs that found another "
                  "running (id, attempt, node)")
        bad = [(i, s) for i, s in st.items() if s != "succeeded"]
        expect(not bad, "jobs not succeeded: %r", bad[:5])
        runs = ns.lines("runs")
        expect_eq(sorted(int(r[0]) for r in runs), sorted(ids),
                  "the runs of the route's jobs")


def spans(ns):
    """{(id, attempt): {"start": (node, pid, t), "end"/"term": ...}} and
    the overlap lines."""
    out, overlaps = {}, []
    for kind, jid, attempt, node, pid, t in ns.lines("spans"):
        if kind == "overlap":
            overlaps.append((jid, attempt, node))
            continue
        out.setdefault((int(jid), int(attempt)), {})[kind] = (
            node, int(pid), float(t))
    return out, overlaps


def check_one_copy(ns, ids):
    """No run found another copy of its job running (the lock), and for
    every job, each attempt started after the one before had ended (its
    end or term line; an attempt killed by SIGKILL has none, and the lock
    is then the proof). Returns spans()."""
    sp, overlaps = spans(ns)
    expect_eq(overlaps, [], "runs that found their job running elsewhere "
              "(id, attempt, node)")
    for jid in ids:
        atts = sorted(a for j, a in sp if j == jid)
        for a, b in zip(atts, atts[1:]):
            prev, nxt = sp[(jid, a)], sp[(jid, b)]
            end = prev.get("end") or prev.get("term")
            expect("start" in nxt, "job %d attempt %d has no start: %r",
                   jid, b, nxt)
            if end:
                expect(end[2] <= nxt["start"][2], "job %d: attempt %d "
                       "started at %.3f on %s before attempt %d ended at "
                       "%.3f on %s", jid, b, nxt["start"][2],
                       nxt["start"][0], a, end[2], end[0])
    return sp


def running_everywhere(ns, ids, per_node, timeout):
    """Waits until every job of ids has started (attempt 1) with per_node
    of them on each node; returns {node: [id, ...]}."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        sp, _ = spans(ns)
        where = {}
        for (jid, a), ev in sp.items():
            if a == 1 and "start" in ev:
                where.setdefault(ev["start"][0], []).append(jid)
        if sum(len(v) for v in where.values()) == len(ids):
            break
        expect(time.monotonic() < deadline, "jobs did not all start in "
               "%.0f s: %r", timeout * SLOW, where)
        time.sleep(0.05)
    expect_eq(sorted(len(v) for v in where.values()),
              [per_node] * len(ns.nodes), "running jobs per node (%r)"
              % where)
    return where


LEASE = ("lease = 4\nlease_renew = 1\npoll = 1\nkill_grace = 1\n"
         "workers = 2")


# 3. SIGKILL of a node while it runs jobs: the others take them over once
#    their leases expire and run them to the end; never two copies at once.

def test_sigkill_node_jobs_finish_elsewhere():
    routes = [("/copy", "copy", "")]
    with Nodes(3, routes, LEASE) as ns:
        for i in range(3):
            ns.touch("hold.n%d" % i)
        ids = fire(ns, "/copy", 6, 3)
        where = running_everywhere(ns, ids, 2, 10)
        victim = 0
        mine = where["n%d" % victim]
        others = [i for i in ids if i not in mine]
        # The others' jobs end; the victim's hold on.
        ns.rm("hold.n1")
        ns.rm("hold.n2")
        ns.wait_ended(others, 10, "the jobs of the nodes left alive")
        t_kill = time.monotonic()
        ns.kill(victim)
        # The killed node's scripts go on (nothing of kickd is left to end
        # them) until a node that takes the job over ends them.
        st = ns.wait_ended(mine, 4 + 6, "the killed node's jobs")
        took = time.monotonic() - t_kill
        expect_eq(set(st.values()), {"succeeded"}, "the killed node's "
                  "jobs at their end (%r)" % st)
        sp = check_one_copy(ns, ids)
        for jid in mine:
            last = max(a for j, a in sp if j == jid)
            expect(last >= 2, "job %d was not run again: %r", jid,
                   {a: sp[(j, a)] for j, a in sp if j == jid})
            node = sp[(jid, last)]["start"][0]
            expect(node != "n%d" % victim, "job %d ran again on the "
                   "killed node", jid)
            j = get_job(ns.nodes[1], jid)
            expect_eq((j["state"], j["interruptions"]), ("succeeded", 1),
                      "job %d after the take-over (state, interruptions)"
                      % jid)
        print("    the killed node's 2 jobs ended elsewhere %.1f s after "
              "the kill (lease 4 s)" % took, flush=True)


class Proxy:
    """A TCP proxy on 127.0.0.1 to 127.0.0.1:upstream, in threads. cut()
    stops forwarding bytes both ways (and accepting) without closing
    anything, as a network that drops packets would; restore() forwards
    again. stop() closes everything."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.done = threading.Event()
        self.socks = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.done.is_set():
            if not self.open.wait(0.1):
                continue
            try:
                a, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.upstream),
                                             timeout=5)
            except OSError:
                a.close()
                continue
            self.socks += [a, b]
            for src, dst in ((a, b), (b, a)):
                t = threading.Thread(target=self._pump, args=(src, dst),
                                     daemon=True)
                self.threads.append(t)
                t.start()

    def _pump(self, src, dst):
        src.settimeout(0.1)
        while not self.done.is_set():
            # Cut: read nothing more, and hold what was read.
            if not self.open.wait(0.1):
                continue
            try:
                d = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                d = b""
            while not self.open.wait(0.1):
                if self.done.is_set():
                    return
            try:
                if not d:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(d)
            except OSError:
                return

    def cut(self):
        self.open.clear()

    def restore(self):
        self.open.set()

    def stop(self):
        self.done.set()
        self.open.set()
        for s in self.socks + [self.lsock]:
            try:
                s.close()
            except OSError:
                pass


def lease_untils(ns, ids):
    rows = cluster().sql("SELECT id, lease_until FROM jobs WHERE id IN (%s)"
                         % ",".join(map(str, ids)), ns.dbname)
    return {int(r[0]): int(r[1]) / 1000.0 for r in rows if r[1]}


# 4. A node cut off from the database but alive (a proxy between them
#    stops forwarding): it ends its jobs itself before their leases can
#    expire, the others take them over, never two copies at once; it
#    serves again once the proxy forwards again.

def check_cut_off(ns, mine, ids, t_cut):
    """While n0 is cut off: its jobs end elsewhere, its own runs of them
    ended by it (SIGTERM) before their leases in the database ran out."""
    # No byte passes now: the database holds the last lease n0 renewed
    # (a renewal in flight at the cut only makes it later).
    time.sleep(0.2)
    leases = lease_untils(ns, mine)
    expect_eq(sorted(leases), sorted(mine), "jobs of n0 with a lease")
    st = ns.wait_ended(mine, 4 + 8, "the cut-off node's jobs")
    expect_eq(set(st.values()), {"succeeded"}, "the cut-off node's jobs "
              "at their end (%r)" % st)
    # Cut for longer than a lease in any case.
    cut_for = time.time() - t_cut
    if cut_for < 5:
        time.sleep(5 - cut_for)
    sp = check_one_copy(ns, ids)
    for jid in mine:
        first = sp[(jid, 1)]
        expect("term" in first, "job %d's run on the cut-off node was not "
               "ended by it (SIGTERM): %r", jid, first)
        expect(t_cut < first["term"][2] < leases[jid], "job %d: n0 ended "
               "its run at %.3f, the cut at %.3f, the lease ran out at "
               "%.3f", jid, first["term"][2], t_cut, leases[jid])
        margin = leases[jid] - first["term"][2]
        last = max(a for j, a in sp if j == jid)
        expect(last >= 2 and sp[(jid, last)]["start"][0] != "n0",
               "job %d did not finish elsewhere: %r", jid,
               {a: sp[(j, a)] for j, a in sp if j == jid})
    print("    the cut-off node ended its runs %.1f s after the cut, %.1f s "
          "before their leases ran out (lease 4 s)" % (
              first["term"][2] - t_cut, margin), flush=True)


def test_cut_off_node_ends_its_jobs():
    routes = [("/copy", "copy", "")]
    c = cluster()
    proxy = Proxy(c.port)
    try:
        # Node n0 reaches the database only through the proxy.
        with Nodes(3, routes, LEASE, lambda i, db: c.tcp_uri(
                db, proxy.port) if i == 0 else c.uri(db)) as ns:
            for i in range(3):
                ns.touch("hold.n%d" % i)
            ids = fire(ns, "/copy", 6, 3)
            where = running_everywhere(ns, ids, 2, 10)
            mine = where["n0"]
            ns.rm("hold.n1")
            ns.rm("hold.n2")
            ns.wait_ended([i for i in ids if i not in mine], 10,
                          "the jobs of the connected nodes")
            proxy.cut()
            t_cut = time.time()
            try:
                check_cut_off(ns, mine, ids, t_cut)
            finally:
                proxy.restore()
            # n0 is alive and serves from the database again.
            expect(ns.nodes[0].alive(), "the cut-off node died")
            ns.rm("hold.n0")
            deadline = time.monotonic() + 15 * SLOW
            while True:
                with ns.nodes[0].connect() as conn:
                    st, jid = post(conn, "/copy")
                if st == 202:
                    break
                expect(st == 503 and time.monotonic() < deadline,
                       "n0 after the proxy forwards again: %d", st)
                time.sleep(0.2)
            ns.wait_ended([jid], 10, "a job triggered on n0 afterwards")
    finally:
        proxy.stop()


# 5. PostgreSQL stopped for 5 s under load from 8 clients and started
#    again: triggers are answered 503 meanwhile, every 202 is kept and its
#    job ends, once.

def test_database_stopped_under_load():
    routes = [("/once", "once", "")]
    c = cluster()
    with Nodes(2, routes, "lease = 15\nlease_renew = 1\npoll = 1") as ns:
        ids, statuses, errors = [], {}, []
        lock = threading.Lock()
        stop = threading.Event()

        def client(i):
            k = ns.nodes[i % 2]
            conn = None
            try:
                while not stop.is_set():
                    if conn is None:
                        conn = k.connect()
                    try:
                        st, jid = post(conn, "/once")
                    except (Closed, ConnectionError):
                        conn.close()
                        conn = None
                        continue
                    with lock:
                        statuses[st] = statuses.get(st, 0) + 1
                        if st == 202:
                            ids.append(jid)
                    if st != 202:
                        time.sleep(0.01)
            except Exception as e:
                with lock:
                    errors.append("client %d: %r" % (i, e))
            finally:
                if conn:
                    conn.close()

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(8)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)
            with lock:
                before = len(ids)
            c.stop()
            t_stop = time.monotonic()
            time.sleep(5.0 - (time.monotonic() - t_stop))
            with lock:
                during = dict(statuses)
            c.start()
            time.sleep(3.0)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            if c.proc.poll() is not None:
                c.start()
        expect(not errors, "clients failed: %s", errors[:3])
        expect(before > 0, "no 202 before the database stopped")
        expect(during.get(503, 0) > 0, "no 503 while the database was "
               "stopped: %r", during)
        expect_eq(sorted(statuses), [202, 503], "statuses answered (%r)"
                  % statuses)
        st = ns.wait_ended(ids, 20, "jobs answered 202")
        missing = [i for i, s in st.items() if s is None]
        expect(not missing, "%d jobs answered 202 are not in the store, "
               "e.g. %r", len(missing), missing[:5])
        bad = [(i, s) for i, s in st.items() if s != "succeeded"]
        expect(not bad, "jobs not succeeded: %d, e.g. %r", len(bad),
               bad[:5])
        counts = {}
        for jid, attempt, node in ns.lines("runs"):
            counts[int(jid)] = counts.get(int(jid), 0) + 1
        twice = sorted(j for j, n in counts.items() if n > 1)
        expect(not twice, "%d jobs ran more than once, e.g. %r",
               len(twice), twice[:5])
        for k in ns.nodes:
            k.healthy("after the database came back")
        print("    %d triggers answered %r" % (sum(statuses.values()),
                                              statuses), flush=True)


# 6. The job API: on one node, a trigger runs and succeeds; on two,
#    GET /jobs/ID?wait= on the node that does not run the job answers when
#    it ends, and DELETE /jobs/ID there ends it on the node that runs it.

def where_runs(ns, jid, timeout=5.0):
    """The index of the node that started job jid (HOLD_SH's line)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        for ln in ns.lines("where"):
            if int(ln[0]) == jid:
                return int(ln[1][1:])
        expect(time.monotonic() < deadline, "job %d did not start", jid)
        time.sleep(0.02)


def test_route_on_some_nodes():
    # Nodes share the queue, not necessarily every route (a configuration
    # rolled out node by node): a node without a route leaves its jobs to
    # the nodes that have it, rather than claiming and failing them.
    routes = [("/once", "once", ""), ("/only0", "once", "", {0})]
    with Nodes(2, routes, "poll = 1") as ns:
        c1 = ns.nodes[1].connect()
        expect_eq(post(c1, "/only0")[0], 404, "a trigger of /only0 on the "
                  "node without it")
        c0 = ns.nodes[0].connect()
        ids = []
        for _ in range(30):
            st, jid = post(c0, "/only0")
            expect_eq(st, 202, "a trigger of /only0 on node 0")
            ids.append(jid)
        ids += fire(ns, "/once", 30, 2)
        st = ns.wait_ended(ids, 20, "jobs of /only0 and /once")
        bad = [(i, s) for i, s in st.items() if s != "succeeded"]
        expect(not bad, "jobs not succeeded: %r", bad[:5])
        runs = {int(r[0]): r[2] for r in ns.lines("runs")}
        expect_eq(sorted(runs), sorted(ids), "the jobs that ran")
        elsewhere = [i for i in ids[:30] if runs.get(i) != "n0"]
        expect_eq(elsewhere, [], "jobs of /only0 run on another node")
        expect(any(runs[i] == "n1" for i in ids[30:]), "node 1 ran none of "
               "the /once jobs: %r", [runs[i] for i in ids[30:]])


def test_dashboard_sees_other_nodes():
    # A node's dashboard stream learns that jobs changed on another node
    # (its notices): a resync within a tick, so that the page reads its
    # view again, and counts with the other node's job in them.
    routes = [("/only1", "once", "", {1})]
    with Nodes(2, routes) as ns:
        ev = Events(ns.nodes[0])
        ev.until(lambda e: e.named("counts"), 3.0, "the first counts")
        expect_eq(ev.named("resync"), [], "resyncs before any job")
        st, jid = post(ns.nodes[1].connect(), "/only1")
        expect_eq(st, 202, "a trigger on node 1")
        ns.wait_ended([jid], 10, "the job on node 1")
        ev.until(lambda e: e.named("resync"), 3.0, "a resync on node 0")
        ev.until(lambda e: e.named("counts")[-1]["by_state"]["succeeded"]
                 == 1, 3.0, "node 0's counts with node 1's job succeeded")
        expect_eq(ev.jobs(), [], "job events on node 0 for a job it "
                  "neither accepted nor ran")
        ev.close()


def test_notice_wakes_other_node():
    """A trigger that its node has no free worker for starts on another
    node at once, woken by the commit's NOTIFY: with poll = 60 s, it
    could not be the poll."""
    with Nodes(2, [("/hold", "hold", "")], "workers = 1\npoll = 60") as ns:
        first = trigger(ns.nodes[0], "/hold")
        busy = where_runs(ns, first)
        t0 = time.monotonic()
        second = trigger(ns.nodes[busy], "/hold")
        expect_eq(where_runs(ns, second, 5.0), 1 - busy,
                  "the node that started the second job")
        took = time.monotonic() - t0
        expect(took < 2.0 * SLOW, "the other node started it %.2f s after "
               "its trigger", took)
        for jid in (first, second):
            ns.touch("release.%d" % jid)
        ns.wait_ended([first, second], 10, "the held jobs")
        print("    the other node started the job %.0f ms after its "
              "trigger" % (took * 1000), flush=True)


def test_single_node_basics():
    with Nodes(1, [("/once", "once", "")]) as ns:
        k = ns.nodes[0]
        jid = trigger(k, "/once")
        deadline = time.monotonic() + 10 * SLOW
        while True:
            j = get_job(k, jid)
            if j["state"] in FINAL:
                break
            expect(time.monotonic() < deadline, "job %d did not end: %r",
                   jid, j)
            time.sleep(0.02)
        expect_eq((j["state"], j["attempt"], j["exit_status"]),
                  ("succeeded", 1, 0), "the job (state, attempt, "
                  "exit_status)")
        r = k.get("/jobs/%d/output" % jid)
        expect_eq((r.status, r.body), (200, b"ok\n"), "the job's output")
        expect_eq(ns.lines("runs"), [[str(jid), "1", "n0"]], "its runs")


def test_wait_on_other_node():
    with Nodes(2, [("/hold", "hold", "")], "poll = 5") as ns:
        jid = trigger(ns.nodes[0], "/hold")
        other = ns.nodes[1 - where_runs(ns, jid)]
        got = {}

        def waiter():
            r = other.request("GET", "/jobs/%d?wait=20" % jid,
                              timeout=30 * SLOW)
            got["t"] = time.monotonic()
            got["r"] = r

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.5)
        expect("r" not in got, "?wait=20 answered before the job ended: "
               "%r", got.get("r"))
        t_release = time.monotonic()
        ns.touch("release.%d" % jid)
        t.join(30 * SLOW)
        expect("r" in got, "?wait=20 on the other node did not answer")
        expect_eq(got["r"].status, 200, "?wait= status")
        j = json_body(got["r"], "?wait= on the other node")
        expect_eq(j["state"], "succeeded", "the job ?wait= answered with")
        late = got["t"] - t_release
        expect(late < 2.0 * SLOW, "?wait= on the other node answered "
               "%.1f s after the job's release (poll = 5 s)", late)


def test_delete_on_other_node():
    with Nodes(2, [("/hold", "hold", "")], "poll = 5") as ns:
        jid = trigger(ns.nodes[0], "/hold")
        other = ns.nodes[1 - where_runs(ns, jid)]
        r = other.request("DELETE", "/jobs/%d" % jid)
        expect_eq(r.status, 202, "DELETE of a job running on the other "
                  "node (%r)" % r)
        deadline = time.monotonic() + 5 * SLOW
        while True:
            j = get_job(other, jid)
            if j["state"] in FINAL:
                break
            expect(time.monotonic() < deadline, "the canceled job did not "
                   "end within 5 s: %r", j)
            time.sleep(0.02)
        expect_eq(j["state"], "aborted", "the canceled job's state")
        expect(not os.path.exists(ns.path("release.%d" % jid)),
               "the job was released")


if __name__ == "__main__":
    try:
        failed = run(globals())
    finally:
        if CLUSTER is not None:
            CLUSTER.close()
    sys.exit(1 if failed else 0)
