# SPDX-License-Identifier: MIT
# Retention (issue 10): ended jobs and their output are deleted once they
# are older than their route's keep ([server] keep, a route's own keep),
# queued and running jobs stay; DELETE /jobs/ID deletes an ended job (204)
# and `kick rm ID...` does it from the command line; and the SQLite file
# stops growing when jobs are triggered, run and deleted in a loop.

import os
import signal
import socket
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, build, expect, expect_eq,  # noqa: E402
                     run, SLOW)
from test_jobs import (PATH_ENV, config, get_job, json_body,  # noqa: E402
                       json_error, kickd, metrics, parse_time, sample, trigger,
                       wait_job)
from test_cli import EXIT_HTTP, EXIT_USAGE, kick_fails, kick_ok  # noqa


def gone(k, jid):
    """True once GET /jobs/ID answers 404 (the job was deleted)."""
    r = k.get("/jobs/%d" % jid)
    expect(r.status in (200, 404), "GET /jobs/%d: %r", jid, r)
    return r.status == 404


def wait_gone(k, ids, timeout):
    """Polls until every job of ids is deleted; returns the time (epoch
    seconds) at which the last was seen gone."""
    deadline = time.monotonic() + timeout * SLOW
    left = set(ids)
    while left:
        left = {j for j in left if not gone(k, j)}
        expect(not left or time.monotonic() < deadline,
               "jobs %r not deleted within %.0f s", sorted(left),
               timeout * SLOW)
        time.sleep(0.05)
    return time.time()


def db_rows(k, sql, args=()):
    """One value from kickd's SQLite file, read beside it (WAL mode lets
    a reader in while kickd writes)."""
    db = sqlite3.connect("file:%s?mode=ro" % k.db, uri=True, timeout=5)
    try:
        return db.execute(sql, args).fetchone()[0]
    finally:
        db.close()


def test_keep_deletes_ended_jobs_only():
    """keep = 2s: each ended job (succeeded, failed, canceled) goes with
    its request and output no sooner than 2 s after it ended; a running
    and a queued job stay."""
    routes = [("/a", "job_work", ""), ("/h", "job_hang", "")]
    with kickd(routes, "keep = 2s") as k:
        h = trigger(k, "/h")
        wait_job(k, h, "running", 5.0)
        q = trigger(k, "/a", [("Kick-Delay", "3600")])
        c = trigger(k, "/a", [("Kick-Delay", "3600")])
        r = k.request("DELETE", "/jobs/%d?only=cancel" % c)
        expect_eq(r.status, 200, "cancel of a queued job: %r" % r)
        ended = [trigger(k, "/a"), trigger(k, "/a?exit=3"), c]
        jobs = {j: wait_job(k, j) for j in ended}
        expect_eq(sorted(j["state"] for j in jobs.values()),
                  ["canceled", "failed", "succeeded"], "ended states")
        # Younger than the keep: all there, with their output.
        for j in ended:
            expect(not gone(k, j), "job %d deleted before its keep", j)
        expect(k.get("/jobs/%d/output" % ended[0]).body != b"",
               "no output kept for job %d", ended[0])
        expect(db_rows(k, "SELECT count(*) FROM job_output WHERE job_id"
                          " IN (?, ?)", ended[:2]) > 0,
               "no output rows before the keep")
        seen_gone = wait_gone(k, ended, 15.0)
        last_end = max(parse_time(j["finished_at"]) for j in jobs.values())
        expect(seen_gone >= last_end + 2.0 - 0.05,
               "deleted %.2f s after the last end, keep is 2 s",
               seen_gone - last_end)
        for j in ended:
            r = k.get("/jobs/%d/output" % j)
            json_error(r, 404, "output of deleted job %d" % j)
        marks = ",".join("?" * len(ended))
        for table, col in (("requests", "job_id"), ("job_output", "job_id"),
                           ("jobs", "id")):
            expect_eq(db_rows(k, "SELECT count(*) FROM %s WHERE %s IN (%s)"
                                 % (table, col, marks), ended), 0,
                      "%s rows of the deleted jobs" % table)
        expect_eq(get_job(k, h)["state"], "running", "running job")
        expect_eq(get_job(k, q)["state"], "queued", "queued job")
        samples, _ = metrics(k)
        expect_eq(sample(samples, "kick_jobs_pruned_total"), 3,
                  "kick_jobs_pruned_total")
        for state in ("succeeded", "failed", "canceled"):
            expect_eq(sample(samples, "kick_jobs", route="/a", state=state),
                      None, "kick_jobs of /a %s" % state)
        expect_eq(sample(samples, "kick_jobs", route="/a", state="queued"),
                  1, "kick_jobs of /a queued")
        # One line at the first deletion, then at most one a minute.
        expect_eq(k.stderr_text().count("retention: deleted "), 1,
                  "log lines of the deletions")
        k.request("DELETE", "/jobs/%d" % h)
        wait_job(k, h)


def test_route_keep_and_reload():
    """A route's keep stands over the [server] one (0: for ever); the
    [server] keep, lowered by SIGHUP, applies to jobs that ended before,
    also of a --scripts route."""
    routes = [("/short", "job_work", "keep = 1s"), ("/long", "job_work", "")]
    k = Kickd(config=config(routes, "keep = 0"), env=PATH_ENV,
              args=["--mode", "detach"])
    with k:
        short, long_, script = (trigger(k, "/short"), trigger(k, "/long"),
                                trigger(k, "/job_work"))
        for j in (short, long_, script):
            wait_job(k, j)
        wait_gone(k, [short], 10.0)
        time.sleep(2.5)  # passes of the pruner with keep 0: nothing goes
        for j in (long_, script):
            expect_eq(get_job(k, j)["state"], "succeeded", "job %d kept" % j)
        conf = os.path.join(k.tmp, "kickd.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("keep = 0", "keep = 1s", 1))
        k.send_signal(signal.SIGHUP)
        wait_gone(k, [long_, script], 70.0)
        expect("[server] keep changed: applied" in k.stderr_text(),
               "reload did not apply keep: %s", k.stderr_tail())


def test_delete_api():
    """DELETE /jobs/ID: an ended job is deleted (204, no body, no
    Content-Length), then 404; ?only=cancel never deletes, ?only=delete
    never cancels; a bad only is 400."""
    routes = [("/a", "job_work", ""), ("/h", "job_hang", "")]
    with kickd(routes, "keep = 0") as k:
        a = trigger(k, "/a")
        wait_job(k, a)
        r = k.request("DELETE", "/jobs/%d?only=cancel" % a)
        expect_eq(r.status, 409, "only=cancel of an ended job: %r" % r)
        expect_eq(json_body(r, "409")["state"], "succeeded", "409 body")
        with k.connect() as c:
            c.send(build("DELETE", "/jobs/%d" % a))
            r = c.response()
            expect_eq((r.status, r.header("Content-Length"),
                       r.header("Content-Type")), (204, None, None),
                      "DELETE of an ended job (status, length, type)")
            # Nothing follows the head: the next answer on the
            # connection is the GET's.
            c.send(build("GET", "/jobs/%d" % a))
            json_error(c.response(), 404, "GET of a deleted job")
        json_error(k.request("DELETE", "/jobs/%d" % a), 404,
                     "second DELETE")
        json_error(k.get("/jobs/%d/output" % a), 404, "deleted output")
        h = trigger(k, "/h")
        wait_job(k, h, "running", 5.0)
        r = k.request("DELETE", "/jobs/%d?only=delete" % h)
        expect_eq(r.status, 409, "only=delete of a running job: %r" % r)
        expect_eq(json_body(r, "409")["state"], "running", "409 body")
        expect_eq(get_job(k, h)["state"], "running", "after only=delete")
        q = trigger(k, "/a", [("Kick-Delay", "3600")])
        r = k.request("DELETE", "/jobs/%d?only=delete" % q)
        expect_eq(r.status, 409, "only=delete of a queued job: %r" % r)
        for bad in ("only=", "only=all", "only=Cancel"):
            json_error(k.request("DELETE", "/jobs/%d?%s" % (q, bad)), 400,
                         "DELETE ?%s" % bad)
        expect_eq(get_job(k, q)["state"], "queued", "after bad DELETEs")
        # Without only: queued is canceled (200), then deleted (204).
        expect_eq(k.request("DELETE", "/jobs/%d" % q).status, 200,
                  "DELETE of a queued job")
        expect_eq(k.request("DELETE", "/jobs/%d" % q).status, 204,
                  "DELETE of the canceled job")
        expect_eq(k.request("DELETE", "/jobs/%d" % h).status, 202,
                  "DELETE of a running job")
        wait_job(k, h)
        expect_eq(k.request("DELETE", "/jobs/%d?only=delete" % h).status,
                  204, "only=delete of the aborted job")
        expect(gone(k, h), "aborted job not deleted")


def test_kick_rm():
    """kick rm ID...: deletes ended jobs ("ID deleted"), and refuses a
    running or unknown one with the reason and exit 1, going on with the
    others; kick cancel of an ended job leaves it."""
    routes = [("/a", "job_work", ""), ("/h", "job_hang", "")]
    with kickd(routes, "keep = 0") as k:
        srv = "http://127.0.0.1:%d" % k.port
        a, b = trigger(k, "/a"), trigger(k, "/a")
        h = trigger(k, "/h")
        for j in (a, b):
            wait_job(k, j)
        wait_job(k, h, "running", 5.0)
        kick_fails(EXIT_HTTP, ["409"], "cancel", str(a), server=srv)
        expect_eq(get_job(k, a)["state"], "succeeded", "after kick cancel")
        out = kick_ok("rm", str(a), server=srv)
        expect_eq(out, "%d deleted\n" % a, "kick rm output")
        expect(gone(k, a), "kick rm left job %d" % a)
        out, err, _ = kick_fails(EXIT_HTTP, ["404", "no such job"], "rm",
                                 str(a), server=srv)
        out, err, _ = kick_fails(EXIT_HTTP, ["409", "running",
                                             "cancel it first"],
                                 "rm", str(h), str(b), server=srv)
        expect_eq(out, "%d deleted\n" % b, "kick rm of the ended one")
        expect(gone(k, b), "kick rm left job %d" % b)
        expect_eq(get_job(k, h)["state"], "running", "after kick rm")
        kick_fails(EXIT_USAGE, ["which job"], "rm", server=srv)
        kick_fails(EXIT_USAGE, ["job IDs", "x1"], "rm", "1", "x1",
                   server=srv)
        k.request("DELETE", "/jobs/%d" % h)
        wait_job(k, h)


def trigger_many(k, route, n, delay, batch=500):
    """n triggers of route due in delay seconds, pipelined on one
    connection, batch at a time; checks that each was answered 202."""
    req = (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
           b"Kick-Delay: %d\r\n\r\n" % (route.encode(), delay))
    s = socket.create_connection(("127.0.0.1", k.port), timeout=10 * SLOW)
    try:
        done = 0
        while done < n:
            m = min(batch, n - done)
            s.sendall(req * m)
            buf = b""
            while buf.count(b"}\n") < m:
                d = s.recv(65536)
                expect(d, "kickd closed the connection after %d triggers",
                       done)
                buf += d
            expect_eq(buf.count(b"HTTP/1.1 202 "), m, "202s in a batch")
            done += m
    finally:
        s.close()


def wait_pruned(k, total, timeout):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        samples, _ = metrics(k)
        if sample(samples, "kick_jobs_pruned_total") == total:
            return
        expect(time.monotonic() < deadline, "pruned %r of %d in %.0f s",
               sample(samples, "kick_jobs_pruned_total"), total,
               timeout * SLOW)
        time.sleep(0.1)


def db_size(k):
    """The database's size in bytes, what the file is once SQLite has
    checkpointed its WAL into it (freed pages included: only a vacuum
    gives them back)."""
    return db_rows(k, "SELECT page_count * page_size FROM"
                      " pragma_page_count, pragma_page_size")


def test_db_file_levels_off():
    """20,000 jobs of a trivial program, triggered, run and deleted (keep
    1 s) in 4 rounds of 5,000: the database grows in the first round,
    then by a step of 0-15 % of that in a later round (reused pages leave
    the B-trees less full: measured +13 % in round 2, or +6 % in round 3,
    then nothing), never again by much; its file stays within that size,
    and its WAL within SQLite's checkpoint bound. Each round's jobs are
    due 4 s after their trigger, so that all 5,000 are stored at once in
    every round (the same high-water mark), then run: with 2 s, a machine
    busy with other work once took longer to trigger them, so round 1's
    first jobs ran and went before its last came, and round 2 looked
    like growth. Without retention
    each round would add as much as the first: 4 times its size in all,
    where the bound here is 1.3 times."""
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nkeep = 1s\n"
           "[route /t]\nexec = /bin/true\n")
    rounds, per = 4, 5000
    with Kickd(scripts=None, config=cfg) as k:
        sizes = []
        for i in range(rounds):
            trigger_many(k, "/t", per, int(4 * SLOW))
            wait_pruned(k, per * (i + 1), 60.0)
            sizes.append((db_size(k), os.path.getsize(k.db),
                          os.path.getsize(k.db + "-wal")))
        first = sizes[0][0]
        expect(first >= 300 * 1024, "5,000 jobs took only %d bytes: %r",
               first, sizes)
        for i in range(1, rounds):
            expect(sizes[i][0] <= sizes[i - 1][0] + first // 4,
                   "the database grew in round %d by more than a quarter "
                   "of the first round's size (database, file, WAL): %r",
                   i + 1, sizes)
        expect(sizes[-1][0] <= first * 13 // 10,
               "the database grew over the rounds: %r", sizes)
        for db, size, wal in sizes:
            expect(size <= sizes[-1][0], "file larger than the database: "
                   "%r", sizes)
            expect(wal <= 8 * 1024 * 1024, "WAL of %d bytes: %r", wal,
                   sizes)
        samples, _ = metrics(k)
        expect_eq(sample(samples, "kick_jobs", route="/t",
                         state="succeeded"), None, "jobs left")


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
