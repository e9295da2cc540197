# SPDX-License-Identifier: MIT
# Crash and restart (PRODUCT.md "Detached jobs and the job API", issue 4):
# every trigger answered 202 runs to completion even when kickd is killed
# with SIGKILL at a random moment and restarted on the same database, and
# no job runs more often than its attempts allow; a job running at the
# kill is retried or marked; SIGTERM lets running jobs finish within
# stop_grace and leaves queued jobs queued.
#
# KICK_SEED=N repeats a run of the 2,000-trigger test exactly.

import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Closed, Conn, build, expect, expect_eq,  # noqa: E402
                     free_port, run, Kickd, KICKD, SLOW)
from test_jobs import (env_of, get_job, json_body, kickd,  # noqa: E402
                       list_jobs, read_lines, release, runs_of, trigger,
                       wait_line, wait_job, FINAL)


def restart(k, sig=signal.SIGKILL, timeout=10.0):
    """Stops kickd with sig (SIGKILL by default; None: a signal was already
    sent), waits for it to exit and starts it again on the same database
    and config. Returns the exit status and the seconds it took to exit."""
    t0 = time.monotonic()
    if sig is not None:
        k.proc.send_signal(sig)
    try:
        rc = k.proc.wait(timeout=timeout * SLOW)
    except Exception:
        k.proc.kill()
        k.proc.wait()
        name = signal.Signals(sig).name if sig else "the stop signal"
        raise AssertionError("kickd did not exit within %.0f s of %s"
                             % (timeout * SLOW, name))
    took = time.monotonic() - t0
    k.log.close()
    k.start()
    return rc, took


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# 1. SIGTERM: running jobs get stop_grace, queued jobs stay queued.

def test_sigterm_drain():
    routes = [("/s", "job_work", "concurrency = 1")]
    with kickd(routes, "stop_grace = 4") as k:
        a = trigger(k, "/s?sleep=1.5")
        env_of(k, a)
        b = trigger(k, "/s")
        c = trigger(k, "/s", [("Kick-Delay", "0.5")])
        t0 = time.monotonic()
        k.proc.send_signal(signal.SIGTERM)
        # New triggers are not accepted once SIGTERM is in.
        time.sleep(0.3)
        try:
            r = k.request("POST", "/s", [("Content-Length", "0")],
                          timeout=2.0)
            expect(r.status != 202, "a trigger got 202 during the drain: "
                   "%r", r)
        except (OSError, Closed, TimeoutError):
            pass
        rc = k.proc.wait(10.0 * SLOW)
        took = time.monotonic() - t0
        expect_eq(rc, 0, "kickd's exit status after SIGTERM")
        expect(took < 4.0 * SLOW, "kickd took %.1f s to drain a job of "
               "1.5 s", took)
        expect_eq(runs_of(k, b) + runs_of(k, c), [],
                  "runs of queued jobs during the drain")
        k.log.close()
        k.start()
        j = get_job(k, a)
        expect_eq((j["state"], j["attempt"]), ("succeeded", 1),
                  "the job running at SIGTERM (state, attempt)")
        for jid in (b, c):
            j = wait_job(k, jid, timeout=5.0)
            expect_eq((j["state"], j["attempt"]), ("succeeded", 1),
                      "queued job %d after the restart" % jid)
            expect_eq(len(runs_of(k, jid)), 1, "runs of job %d" % jid)


def test_sigterm_grace_runs_out():
    routes = [("/g", "job_work", "")]
    with kickd(routes, "stop_grace = 1") as k:
        a = trigger(k, "/g?hold=1")
        pid = int(env_of(k, a)["pid"])
        rc, took = restart(k, signal.SIGTERM)
        expect_eq(rc, 0, "kickd's exit status after SIGTERM")
        expect(took < 1.0 + 3.0 * SLOW, "kickd took %.1f s to exit with "
               "stop_grace = 1 and a job that would not end", took)
        expect(not proc_alive(pid), "the job's script outlived kickd")
        # The job was ended by kickd, not by itself: it runs again, with
        # no retry used, and ends once released.
        release(k, a)
        j = wait_job(k, a, timeout=10.0)
        expect_eq((j["state"], j["attempt"], j["interruptions"]),
                  ("succeeded", 2, 1), "job ended by a stop past "
                  "stop_grace, after the restart")


# 2. A job running at a SIGKILL: its script dies with kickd, and the job
#    runs again without using up a retry, up to max_interruptions.

def wait_gone(pid, timeout, what):
    deadline = time.monotonic() + timeout * SLOW
    while proc_alive(pid):
        expect(time.monotonic() < deadline, "%s (pid %d) still alive %.1f s "
               "after kickd died", what, pid, timeout * SLOW)
        time.sleep(0.01)


def test_kill_running_job():
    routes = [("/k0", "job_work", ""), ("/k1", "job_work", "retries = 1")]
    with kickd(routes) as k:
        a = trigger(k, "/k0?hold=1")
        b = trigger(k, "/k1?hold=1")
        pids = [int(env_of(k, a)["pid"]), int(env_of(k, b)["pid"])]
        wait_job(k, a, "running", 2.0)
        wait_job(k, b, "running", 2.0)
        k.proc.kill()
        k.proc.wait()
        # Nothing of kickd's goes on unsupervised.
        for pid in pids:
            wait_gone(pid, 2.0, "a script of the killed kickd")
        k.log.close()
        k.start()
        for jid in (a, b):
            deadline = time.monotonic() + 5.0 * SLOW
            while "%d 2" % jid not in runs_of(k, jid):
                expect(time.monotonic() < deadline, "job %d was not run "
                       "again after the restart: runs %r, job %r", jid,
                       runs_of(k, jid), get_job(k, jid))
                time.sleep(0.01)
            j = get_job(k, jid)
            expect_eq((j["state"], j["attempt"], j["interruptions"]),
                      ("running", 2, 1), "job %d after the restart (state, "
                      "attempt, interruptions)" % jid)
            expect_eq(j["error"], "interrupted: kickd died (1 of 5)",
                      "job %d's error while it runs again" % jid)
            release(k, jid)
        for jid, most in ((a, 1), (b, 2)):
            j = wait_job(k, jid, timeout=5.0)
            expect_eq((j["state"], j["attempt"], j["max_attempts"],
                       j["interruptions"], j["error"]),
                      ("succeeded", 2, most, 1, None),
                      "job %d at its end (state, attempt, max_attempts, "
                      "interruptions, error)" % jid)


def test_interruptions_run_out():
    routes = [("/i", "job_work", "")]
    with kickd(routes, "max_interruptions = 2") as k:
        a = trigger(k, "/i?hold=1")
        for n in (1, 2):
            deadline = time.monotonic() + 5.0 * SLOW
            while "%d %d" % (a, n) not in runs_of(k, a):
                expect(time.monotonic() < deadline, "run %d of job %d did "
                       "not start: %r", n, a, get_job(k, a))
                time.sleep(0.01)
            restart(k)
        j = wait_job(k, a, FINAL, 5.0)
        expect_eq((j["state"], j["interruptions"], j["error"]),
                  ("failed", 2, "interrupted: kickd died (2 of 2)"),
                  "a job interrupted max_interruptions times")
        expect_eq(len(runs_of(k, a)), 2, "runs of the job")


# A script's children stay in its process group: the leader dies with
# kickd, a child that outlives it is ended by the next kickd before the job
# runs again (identified by the group's leader start time, so that a pid
# reused meanwhile is never hit).
def test_restart_ends_leftover_children():
    routes = [("/bg", "job_bg", "")]
    with kickd(routes) as k:
        a = trigger(k, "/bg")
        bg = int(wait_line(os.path.join(k.tmp, "bg.%d.1" % a), 5.0))
        expect(proc_alive(bg), "the background child did not start")
        k.proc.kill()
        k.proc.wait()
        time.sleep(0.2)
        expect(proc_alive(bg), "the script's child died with kickd: the "
               "test proves nothing")
        k.log.close()
        k.start()
        text = wait_line(os.path.join(k.tmp, "bg.%d.2" % a), 5.0)
        expect(not proc_alive(bg), "the first run's child outlived the "
               "restart")
        seen = read_lines(os.path.join(k.tmp, "seen.%d" % a))
        expect_eq(seen, ["gone"], "what the second run saw of the first "
                  "run's child")
        expect(int(text) != bg, "the second run reused the child's pid?")
        for p in (int(text),):
            kill_pid(p)
        j = wait_job(k, a, timeout=5.0)
        expect_eq((j["state"], j["attempt"], j["interruptions"]),
                  ("succeeded", 2, 1), "the job at its end")


# A run is over when its script exits: what it left in its process group
# is ended then, so that a retry (by backoff or by hand) never meets the
# earlier run's work, and a succeeded job leaves nothing running.
def test_job_end_ends_leftover_children():
    routes = [("/leave", "job_leave", "retries = 1")]
    with kickd(routes) as k:
        a = trigger(k, "/leave")
        j = wait_job(k, a, timeout=5.0)
        expect_eq(j["state"], "succeeded", "a job that left a child")
        left = int(wait_line(os.path.join(k.tmp, "left.%d.1" % a), 5.0))
        deadline = time.monotonic() + 2.0 * SLOW
        while proc_alive(left) and time.monotonic() < deadline:
            time.sleep(0.02)
        expect(not proc_alive(left), "the child a succeeded job's script "
               "left is still running")
        expect("ended 1 process its script left behind" in k.stderr_text(),
               "no log line for the ended child")
        # A failing first run leaves a child; the retry does not meet it.
        b = trigger(k, "/leave?fail=1")
        j = wait_job(k, b, timeout=10.0)
        expect_eq((j["state"], j["attempt"]), ("succeeded", 2),
                  "the job after its retry")
        expect_eq(read_lines(os.path.join(k.tmp, "seen.%d.2" % b)),
                  ["gone"], "what the retry saw of the first run's child")
        # ... nor do the runs of a retry by hand.
        r = k.request("POST", "/jobs/%d/retry" % b)
        expect_eq(r.status, 202, "POST retry: %r" % r)
        j = wait_job(k, b, timeout=10.0)
        expect_eq((j["state"], j["attempt"], j["earlier_attempts"]),
                  ("succeeded", 2, 2), "the job after a retry by hand")
        for n in (3, 4):
            expect_eq(read_lines(os.path.join(k.tmp, "seen.%d.%d" % (b, n))),
                      ["gone"], "what run %d saw of run %d's child"
                      % (n, n - 1))
        # Nothing of any run is left.
        for n in (1, 2, 3, 4):
            pid = int(wait_line(os.path.join(k.tmp, "left.%d.%d" % (b, n)),
                                1.0))
            expect(not proc_alive(pid) or time.sleep(0.5 * SLOW) or
                   not proc_alive(pid), "run %d's child is running" % n)


# The same when the crash came before the commit that records who runs
# the job (made so here by clearing the owner while kickd is down): the
# run's processes are found by the store's id in their KICK_CONTROL.
def test_restart_finds_an_unrecorded_owner():
    import sqlite3
    routes = [("/bg", "job_bg", "")]
    with kickd(routes) as k:
        a = trigger(k, "/bg")
        bg = int(wait_line(os.path.join(k.tmp, "bg.%d.1" % a), 5.0))
        k.proc.kill()
        k.proc.wait()
        db = sqlite3.connect(k.db)
        with db:
            # (The kill may have come before that commit by itself.)
            db.execute("UPDATE jobs SET owner = NULL, owner_pgid = 0,"
                       " owner_start = 0, owner_boot = NULL")
        db.close()
        expect(proc_alive(bg), "the script's child died with kickd")
        k.log.close()
        k.start()
        wait_line(os.path.join(k.tmp, "bg.%d.2" % a), 5.0)
        expect_eq(read_lines(os.path.join(k.tmp, "seen.%d" % a)), ["gone"],
                  "what the second run saw of the first run's child")
        expect("found its process group" in k.stderr_text(),
               "kickd's log does not say how it found the run")
        j = wait_job(k, a, timeout=5.0)
        expect_eq((j["state"], j["attempt"]), ("succeeded", 2),
                  "the job at its end")


# A spawn that fails for kickd's own reasons (no free descriptors) is an
# interruption: the job runs again a moment later, no retry used.
def test_spawn_without_descriptors():
    import resource
    routes = [("/fd", "job_work", "")]
    with kickd(routes) as k:
        pid = k.proc.pid
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        with k.connect(timeout=5.0) as c:
            # Accepted (an answer came) before the descriptors are counted.
            c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            expect_eq(c.response(timeout=5.0).status, 200, "healthz")
            used = len(os.listdir("/proc/%d/fd" % pid))
            # Room for what is open now, not for a script's pipes.
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (used, old[1]))
            c.send(b"POST /fd HTTP/1.1\r\nHost: t\r\nContent-Length: 0"
                   b"\r\n\r\n")
            r = c.response(timeout=5.0)
            expect_eq(r.status, 202, "trigger at the descriptor limit")
            jid = json_body(r, "trigger")["id"]
            deadline = time.monotonic() + 5.0 * SLOW
            while get_job_fd(k, c, jid)["interruptions"] == 0:
                expect(time.monotonic() < deadline, "the spawn did not "
                       "fail: %r", get_job_fd(k, c, jid))
                time.sleep(0.05)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        j = wait_job(k, jid, FINAL, 10.0)
        expect_eq((j["state"], j["attempt"], j["interruptions"],
                   j["max_attempts"]), ("succeeded", 2, 1, 1),
                  "the job once descriptors are free again")
        expect("Too many open files" in k.stderr_text(),
               "kickd's log does not say why the spawn failed")


def get_job_fd(k, c, jid):
    """GET /jobs/ID on the open connection c (kickd may have no
    descriptor for a new one)."""
    c.send(b"GET /jobs/%d HTTP/1.1\r\nHost: t\r\n\r\n" % jid)
    return json_body(c.response(timeout=5.0), "GET /jobs/%d" % jid)


# The issue-9 crash test: a route that runs one job at a time, without
# retries, whose script holds an exclusive flock of its own job's file
# while it works (in a child, which outlives a shell killed with kickd).
# kickd is killed three times while jobs run; no run ever finds the lock
# taken, every job ends succeeded, and each ran to its end at least once.
def test_kill_never_overlaps():
    routes = [("/f", "job_flock", "concurrency = 1")]
    rng = random.Random(int(os.environ.get("KICK_SEED", "0")) or None)
    with kickd(routes) as k:
        ids = [trigger(k, "/f?sleep=0.%d" % rng.randint(1, 3))
               for _ in range(24)]
        for _ in range(3):
            deadline = time.monotonic() + 5.0 * SLOW
            while not any(get_job(k, i)["state"] == "running" for i in ids):
                expect(time.monotonic() < deadline, "no job runs")
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 0.3))
            restart(k)
        for i in ids:
            j = wait_job(k, i, FINAL, 30.0)
            expect_eq((j["state"], j["error"]), ("succeeded", None),
                      "job %d at its end: %r" % (i, j))
        overlaps = read_lines(os.path.join(k.tmp, "overlaps"))
        expect_eq(overlaps, [], "runs that found their job's lock taken")
        ends = {int(ln.split()[0])
                for ln in read_lines(os.path.join(k.tmp, "ends"))}
        expect_eq(sorted(set(ids) - ends), [], "jobs whose script never "
                  "ran to its end")
        again = sum(1 for i in ids if get_job(k, i)["interruptions"] > 0)
        expect(again > 0, "no job was running at any of the kills: the "
               "test proves nothing")


# 3. 2,000 triggers from 8 clients, SIGKILL at a random moment, restart.

N = 2000
CLIENTS = 8


class Load:
    def __init__(self, k, seed):
        self.k = k
        self.rng = random.Random(seed)
        self.kill_after = self.rng.randint(int(0.2 * N), int(0.8 * N))
        self.lock = threading.Lock()
        self.accepted = {}       # trigger index -> job id
        self.statuses = {}       # status -> count
        self.errors_before = []  # connection errors before the kill
        self.errors_after = 0
        self.problems = []
        self.killed = threading.Event()
        self.restarted = threading.Event()
        self.port = k.port
        self.kill_info = None

    def client(self, c):
        conn = None
        for i in range(c, N, CLIENTS):
            req = build("POST", "/count?n=%d" % i,
                        [("Idempotency-Key", "crash-%d" % i),
                         ("Content-Type", "text/plain")], b"trigger %d" % i)
            tries = 0
            while True:
                tries += 1
                if tries > 50:
                    with self.lock:
                        self.problems.append("trigger %d: gave up" % i)
                    break
                try:
                    if conn is None:
                        conn = Conn("127.0.0.1", self.port, 10.0 * SLOW)
                    conn.send(req)
                    r = conn.response()
                except (OSError, Closed, TimeoutError) as e:
                    if conn is not None:
                        conn.close()
                    conn = None
                    if not self.killed.is_set():
                        with self.lock:
                            self.errors_before.append("trigger %d: %s: %s"
                                                      % (i, type(e).__name__,
                                                         e))
                        time.sleep(0.05)
                    else:
                        with self.lock:
                            self.errors_after += 1
                        if not self.restarted.wait(60.0 * SLOW):
                            return
                    continue
                with self.lock:
                    self.statuses[r.status] = self.statuses.get(r.status,
                                                                0) + 1
                if r.header("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                if r.status in (200, 202):
                    try:
                        jid = json_body(r, "trigger")["id"]
                    except Exception as e:
                        with self.lock:
                            self.problems.append("trigger %d: %s" % (i, e))
                        break
                    with self.lock:
                        self.accepted[i] = jid
                    break
                if r.status == 503:
                    time.sleep(0.05)
                    continue
                with self.lock:
                    self.problems.append("trigger %d: %r" % (i, r))
                break
        if conn is not None:
            conn.close()

    def killer(self):
        while True:
            with self.lock:
                n = len(self.accepted)
            if n >= self.kill_after:
                break
            if all(not t.is_alive() for t in self.threads):
                break
            time.sleep(0.0005)
        self.killed.set()
        self.k.proc.kill()
        self.k.proc.wait()
        with self.lock:
            self.kill_info = len(self.accepted)
        self.k.log.close()
        try:
            self.k.start()
        finally:
            self.port = self.k.port
            self.restarted.set()

    def run(self):
        self.threads = [threading.Thread(target=self.client, args=(c,))
                        for c in range(CLIENTS)]
        for t in self.threads:
            t.start()
        kt = threading.Thread(target=self.killer)
        kt.start()
        for t in self.threads:
            t.join(120.0 * SLOW)
        kt.join(30.0 * SLOW)


def all_jobs(k):
    out, after = [], 0
    while True:
        d = list_jobs(k, "limit=1000&after=%d" % after)
        out += d["jobs"]
        if d["next"] is None:
            return out
        after = d["next"]


def test_crash_2000():
    seed = int(os.environ.get("KICK_SEED", random.randrange(1 << 30)))
    routes = [("/count", "job_count", "retries = 2")]
    t0 = time.monotonic()
    with kickd(routes) as k:
        load = Load(k, seed)
        load.run()
        what = "seed %d, kill after %d accepted" % (seed, load.kill_after)
        expect(load.killed.is_set() and load.restarted.is_set(),
               "%s: kickd was not killed and restarted", what)
        expect(not load.problems, "%s: %d trigger problems: %s", what,
               len(load.problems), "; ".join(load.problems[:5]))
        expect(not load.errors_before, "%s: %d connection errors before the "
               "kill: %s", what, len(load.errors_before),
               "; ".join(load.errors_before[:5]))
        expect_eq(len(load.accepted), N, "%s: triggers accepted" % what)
        # Let the queue drain: nothing queued or running, twice in a row.
        deadline = time.monotonic() + 40.0 * SLOW
        quiet = 0
        while quiet < 2:
            busy = [j for s in ("queued", "running")
                    for j in list_jobs(k, "state=%s&limit=5" % s)["jobs"]]
            quiet = 0 if busy else quiet + 1
            expect(time.monotonic() < deadline, "%s: jobs still queued or "
                   "running: %r", what, busy[:3])
            time.sleep(0.2)
        jobs = {j["id"]: j for j in all_jobs(k)}
        counts = {}
        for ln in read_lines(os.path.join(k.tmp, "counts")):
            jid, attempt = ln.split()
            counts[int(jid)] = counts.get(int(jid), 0) + 1
        ids = set(load.accepted.values())
        expect_eq(len(ids), N, "%s: distinct job ids of the %d idempotency "
                  "keys" % (what, N))
        expect_eq(len(jobs), N, "%s: jobs in the store" % what)
        lost = sorted(ids - set(counts))
        expect(not lost, "%s: %d accepted jobs never ran, e.g. %r (as "
               "stored: %r)", what, len(lost), lost[:5],
               [jobs.get(x) for x in lost[:2]])
        unknown = sorted(ids - set(jobs))
        expect(not unknown, "%s: accepted ids not in the store: %r", what,
               unknown[:5])
        over = {x: n for x, n in counts.items() if n > 3}
        expect(not over, "%s: jobs run more than 3 times: %r", what, over)
        not_ok = [j for j in jobs.values() if j["state"] != "succeeded"]
        expect(not not_ok, "%s: %d jobs did not succeed, e.g. %r", what,
               len(not_ok), not_ok[:2])
        # Every run is an attempt the store recorded: a job that ran again
        # after the restart shows attempt >= its runs.
        unrecorded = {x: (n, jobs[x]["attempt"]) for x, n in counts.items()
                      if x in jobs and n > jobs[x]["attempt"]}
        expect(not unrecorded, "%s: jobs that ran more often than their "
               "recorded attempts (runs, attempt): %r", what,
               dict(list(unrecorded.items())[:5]))
        bad_max = [j for j in jobs.values() if j["max_attempts"] != 3]
        expect(not bad_max, "max_attempts with retries = 2: %r", bad_max[:2])
        again = sum(1 for j in jobs.values() if j["attempt"] >= 2)
        twice = sum(1 for n in counts.values() if n >= 2)
        print("    crash_2000: %s; %d accepted before the kill, %d "
              "connection errors after it; %d jobs with attempt >= 2, %d "
              "run more than once; %.1f s"
              % (what, load.kill_info, load.errors_after, again, twice,
                 time.monotonic() - t0), flush=True)


def test_second_kickd_on_the_same_store():
    """Two kickd on one SQLite file would run the same jobs: the second
    cannot open the store (the first holds it exclusively) and exits 1
    with the reason, while the first keeps serving."""
    with Kickd(args=["--mode", "detach"]) as k:
        r = k.request("POST", "/echo", body=b"a=1")
        expect_eq(r.status, 202, "a trigger on the first kickd")
        port = free_port()
        t0 = time.monotonic()
        p = subprocess.run([KICKD, "--listen", "127.0.0.1:%d" % port,
                            "--scripts", k.scripts, "--db", k.db],
                           capture_output=True, text=True, timeout=30)
        expect_eq(p.returncode, 1, "the second kickd's exit status")
        expect("database is locked" in p.stderr,
               "the second kickd's reason: %r", p.stderr[-300:])
        expect(time.monotonic() - t0 < 15, "the second kickd gave up late")
        expect_eq(k.get("/healthz").status, 200, "the first still serves")


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
