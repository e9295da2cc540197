#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Chaos rounds (issue 9): load from 8 clients on detached routes (retries
# = 0 and retries = 2, one of them one job at a time), kickd stopped at a
# random moment by SIGKILL (or SIGTERM with --signal TERM) and started
# again on the same database, N times. At the end every trigger answered
# 202 has run to its end, no two runs of one job overlapped (each run
# holds an exclusive flock of its job's file while it works), no job
# failed because of an interruption, and the store passes PRAGMA
# integrity_check.
#
#   tests/chaos/chaos.py [--rounds 30] [--signal KILL|TERM] [--seed N]
#
# Prints one summary line (rounds, 202s answered, lost, overlaps, runs
# again after an interruption, restart to recovered jobs running) and
# exits 1 if any promise broke. KICKD=path picks the server binary.

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import (Closed, Kickd, SLOW, path_env_with,  # noqa: E402
                     kick_bin)

CLIENTS = 8
SERVER = """[server]
listen = {listen}
db = {db}
workers = 8
stop_grace = 1
kill_grace = 1
max_interruptions = 1000
"""
# Runs of a job are told apart by KICK_ATTEMPT; a run that finds its job's
# lock taken records an overlap. max_interruptions is high so that a job
# running at many of the kills is never failed for it (its own test is
# in tests/e2e/test_crash.py).
ROUTES = [("/r0", "retries = 0"), ("/r2", "retries = 2"),
          ("/one", "retries = 0\nconcurrency = 1")]


def config():
    out = [SERVER]
    for path, extra in ROUTES:
        out += ["[route %s]" % path, "exec = {scripts}/job_flock",
                "env = JOB_DIR={tmp}"] + extra.splitlines() + [""]
    return "\n".join(out)


def lines(path):
    try:
        with open(path) as f:
            return [ln.split() for ln in f if ln.strip()]
    except FileNotFoundError:
        return []


class Load:
    """CLIENTS threads sending triggers over keep-alive connections until
    stopped; every 202 answered is kept."""

    def __init__(self, k, rng):
        self.k = k
        self.rng = random.Random(rng.random())
        self.accepted = []
        self.other = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(i,))
                        for i in range(CLIENTS)]

    def client(self, n):
        rng = random.Random(self.rng.random() + n)
        c = None
        while not self.stop.is_set():
            path = rng.choice(ROUTES)[0]
            # Most jobs are short; one in twenty outlasts stop_grace.
            if rng.random() < 0.05:
                target = "%s?sleep=1.5" % path
            else:
                target = "%s?sleep=0.%02d" % (path, rng.randint(1, 10))
            try:
                if c is None:
                    c = self.k.connect(timeout=5.0)
                c.send(("POST %s HTTP/1.1\r\nHost: chaos\r\n"
                        "Content-Length: 0\r\n\r\n" % target).encode())
                r = c.response(timeout=5.0)
            except (OSError, Closed, AssertionError, ValueError):
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.01)
                continue
            with self.lock:
                if r.status == 202:
                    self.accepted.append(json.loads(r.body)["id"])
                else:
                    self.other[r.status] = self.other.get(r.status, 0) + 1
            if r.header("Connection", "").lower() == "close":
                c.close()
                c = None
            # Paced: about 40 triggers/s from all clients, within what
            # the workers run, so that each round's jobs end.
            time.sleep(rng.uniform(0.0, 0.4))
        if c is not None:
            c.close()

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join()


def running_jobs(k):
    r = k.get("/jobs?state=running&limit=1000")
    return [j["id"] for j in json.loads(r.body)["jobs"]]


def starts_of(k, ids):
    """The last attempt that started, of each job of ids."""
    last = {}
    for jid, n in lines(os.path.join(k.tmp, "starts")):
        if int(jid) in ids:
            last[int(jid)] = max(last.get(int(jid), 0), int(n))
    return last


def recovered_running(k, ids, before, since, timeout):
    """Seconds from since until each job of ids has started again (a start
    line with a higher attempt than before), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        later = {}
        for jid, n in lines(os.path.join(k.tmp, "starts")):
            j = int(jid)
            if j in ids and int(n) > before.get(j, 0):
                later[j] = True
        if len(later) == len(ids):
            return time.monotonic() - since
        time.sleep(0.002)
    return None


def wait_all_final(k, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = 0
        for state in ("queued", "running"):
            r = k.get("/jobs?state=%s&limit=1" % state)
            busy += len(json.loads(r.body)["jobs"])
        if busy == 0:
            return True
        time.sleep(0.1)
    return False


def all_jobs(k):
    jobs, after = [], 0
    while True:
        r = k.get("/jobs?limit=1000&after=%d" % after)
        d = json.loads(r.body)
        jobs += d["jobs"]
        if d["next"] is None:
            return jobs
        after = d["next"]


def one_round(k, rng, sig, stats):
    load = Load(k, rng)
    load.start()
    time.sleep(rng.uniform(0.3, 1.2))
    ids = running_jobs(k)
    k.proc.send_signal(sig)
    try:
        k.proc.wait(timeout=15.0 * SLOW)
    except Exception:
        k.proc.kill()
        k.proc.wait()
        stats["problems"].append("kickd did not exit after %s" % sig.name)
    load.join()
    ended = {int(j) for j, _ in lines(os.path.join(k.tmp, "ends"))}
    before = starts_of(k, ids)
    stats["accepted"] += load.accepted
    for s, n in load.other.items():
        stats["other"][s] = stats["other"].get(s, 0) + n
    k.log.close()
    t0 = time.monotonic()
    k.start()
    # The jobs that were running at the kill, and had started and not
    # ended, run again: how long from the restart until they all run.
    left = {i for i in ids if i in before and i not in ended}
    if sig == signal.SIGKILL and left:
        took = recovered_running(k, left, before, t0, 10.0 * SLOW)
        if took is None:
            stats["problems"].append("jobs %r did not run again within "
                                     "10 s of the restart" % sorted(left))
        else:
            stats["recovery"].append(took)


def check(k, stats):
    problems = stats["problems"]
    if not wait_all_final(k, 120.0 * SLOW):
        problems.append("jobs still queued or running after 120 s")
    jobs = {j["id"]: j for j in all_jobs(k)}
    accepted = stats["accepted"]
    lost = [i for i in accepted if i not in jobs]
    ends = {int(jid) for jid, _ in lines(os.path.join(k.tmp, "ends"))}
    not_run = [i for i in accepted if i not in ends]
    overlaps = lines(os.path.join(k.tmp, "overlaps"))
    bad = [j for j in jobs.values() if j["state"] != "succeeded"]
    again = [j for j in jobs.values() if j["interruptions"] > 0]
    if lost:
        problems.append("%d accepted jobs are not in the store: %r"
                        % (len(lost), lost[:10]))
    if not_run:
        problems.append("%d accepted jobs never ran to their end: %r"
                        % (len(not_run), not_run[:10]))
    if overlaps:
        problems.append("%d runs overlapped another run of their job: %r"
                        % (len(overlaps), overlaps[:10]))
    if bad:
        problems.append("%d jobs did not succeed: %r"
                        % (len(bad), [(j["id"], j["state"], j["error"])
                                      for j in bad[:10]]))
    stats.update(lost=len(lost), overlaps=len(overlaps), again=len(again),
                 interruptions=sum(j["interruptions"] for j in again),
                 jobs=len(jobs))
    k.stop()
    db = sqlite3.connect(k.db)
    ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    if ok != "ok":
        problems.append("integrity_check: %s" % ok)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--signal", choices=("KILL", "TERM"), default="KILL")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", action="store_true",
                    help="print the summary as JSON too")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    sig = signal.SIGKILL if a.signal == "KILL" else signal.SIGTERM
    stats = {"accepted": [], "other": {}, "problems": [], "recovery": []}
    env = path_env_with(kick_bin())
    t0 = time.monotonic()
    k = Kickd(config=config(), env=env)
    k.start()
    try:
        for _ in range(a.rounds):
            one_round(k, rng, sig, stats)
        check(k, stats)
    finally:
        if k.proc.poll() is None:
            k.proc.kill()
            k.proc.wait()
    rec = median(stats["recovery"])
    summary = {
        "signal": a.signal, "seed": seed, "rounds": a.rounds,
        "accepted": len(stats["accepted"]), "lost": stats.get("lost"),
        "overlaps": stats.get("overlaps"), "jobs": stats.get("jobs"),
        "rerun_after_interruption": stats.get("again"),
        "interruptions": stats.get("interruptions"),
        "recovery_ms_median": round(rec * 1000, 1) if rec else None,
        "recovery_ms_max": round(max(stats["recovery"]) * 1000, 1)
        if stats["recovery"] else None,
        "recovery_ms": [round(x * 1000, 1) for x in stats["recovery"]],
        "other_answers": stats["other"], "seconds": round(
            time.monotonic() - t0, 1),
        "problems": stats["problems"],
    }
    print("chaos SIG%s: %d rounds, %d 202s answered, lost %s, overlaps %s, "
          "%s jobs run again after %s interruptions, restart to recovered "
          "jobs running %s ms (median) %s ms (max), seed %d, %.0f s"
          % (a.signal, a.rounds, summary["accepted"], summary["lost"],
             summary["overlaps"], summary["rerun_after_interruption"],
             summary["interruptions"], summary["recovery_ms_median"],
             summary["recovery_ms_max"], seed, summary["seconds"]))
    for p in stats["problems"]:
        print("  problem: " + p)
    if a.json:
        print(json.dumps(summary))
    if stats["problems"]:
        print("  kickd log: " + k.log_path)
        return 1
    import shutil
    shutil.rmtree(k.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
