# SPDX-License-Identifier: MIT
# DELETE /jobs/ID on a running job (PRODUCT.md "Connection state"): ABORTED
# at once, the job ended as for a client abort (php-cgi: its output closed,
# so that its next write fails and its shutdown functions run; other
# programs: SIGTERM to the group), and whatever ignore_user_abort says,
# SIGTERM after kill_grace and SIGKILL after another. The job ends
# `aborted`, its shutdown commands see status 1, and what the script wrote
# until then is kept. Every route here is detached and kill_grace is 2 s.

import json
import os
import shutil
import sys
import time
from urllib.parse import urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, expect, expect_eq, kick_bin,  # noqa: E402
                     path_env_with, run, SLOW)
from test_jobs import read_lines  # noqa: E402

GRACE = 2.0  # s, kill_grace of the config below
# How long after the DELETE a job may take to end: the grace period and a
# second (PRODUCT.md's bound), the second scaled for sanitized builds.
LATE = GRACE + 1.0 * SLOW
FINAL = ("succeeded", "failed", "timed_out", "aborted", "canceled")


def config():
    routes = (("/p_loop", "{php} {scripts}/pcs_loop.php", ""),
              ("/p_sleep", "{php} {scripts}/pcs_sleep.php", ""),
              ("/s_tick", "{scripts}/job_tick", "ignore_user_abort = on"),
              ("/s_trap", "{scripts}/job_tick",
               "ignore_user_abort = on\nenv = JOB_TRAP=1"))
    out = ["[server]", "listen = {listen}", "db = {db}", "kill_grace = %d"
           % GRACE]
    for path, exe, extra in routes:
        out += ["", "[route %s]" % path, "exec = " + exe,
                "env = JOB_DIR={tmp}",
                "on_shutdown = {scripts}/cs_record {tmp}/shut.%s %s"
                % (path[1:], path[1:])]
        out += extra.splitlines()
    return "\n".join(out) + "\n"


def kickd():
    if not shutil.which("php-cgi"):
        raise AssertionError("php-cgi is not installed")
    return Kickd(config=config(), env=path_env_with(kick_bin()))


def trigger(k, target):
    r = k.request("POST", target, [("Content-Length", "0")])
    expect_eq(r.status, 202, "trigger %s: %r" % (target, r))
    return json.loads(r.body)["id"]


def get_job(k, jid):
    r = k.get("/jobs/%d" % jid)
    expect_eq(r.status, 200, "GET /jobs/%d: %r" % (jid, r))
    return json.loads(r.body)


def wait_job(k, jid, states, timeout):
    """Polls until the job is in one of states; returns (job, when)."""
    deadline = time.monotonic() + timeout
    while True:
        j = get_job(k, jid)
        if j["state"] in states:
            return j, time.monotonic()
        if time.monotonic() >= deadline:
            raise AssertionError("job %d not %s after %.1f s: %r"
                                 % (jid, "/".join(states), timeout, j))
        time.sleep(0.02)


def cancel(k, jid):
    """DELETE /jobs/ID on a running job; returns when it was sent."""
    t0 = time.monotonic()
    r = k.request("DELETE", "/jobs/%d" % jid)
    expect_eq(r.status, 202, "DELETE of running job %d: %r" % (jid, r))
    expect_eq(json.loads(r.body)["connection_status"], 1,
              "connection_status in the DELETE answer")
    return t0


def output(k, jid):
    r = k.get("/jobs/%d/output" % jid)
    expect_eq(r.status, 200, "GET /jobs/%d/output: %r" % (jid, r))
    return r.body.decode("latin-1")


def wait_lines(path, n, timeout=5.0):
    deadline = time.monotonic() + timeout * SLOW
    while len(read_lines(path)) < n:
        expect(time.monotonic() < deadline, "%s: fewer than %d lines in "
               "time: %r", path, n, read_lines(path))
        time.sleep(0.01)
    return read_lines(path)


def shutdown_record(k, route):
    """What the route's on_shutdown (scripts/cs_record) saw, as a dict."""
    line = wait_lines(os.path.join(k.tmp, "shut." + route), 1)[0]
    return dict(p.partition("=")[::2] for p in line.split()[1:])


def expect_ended(k, jid, t0, sig, what, at_least=0.0, late=LATE):
    """The job ends `aborted` with connection_status 1 within late seconds
    of t0 (and not before at_least); its process ended by sig (None: an
    exit of status 0). Returns the job."""
    j, t1 = wait_job(k, jid, FINAL, late + 2.0)
    took = t1 - t0
    expect_eq((j["state"], j["connection_status"]), ("aborted", 1),
              what + ": (state, connection_status)")
    expect(took <= late, "%s: ended %.2f s after the DELETE, kill_grace is "
           "%g s", what, took, GRACE)
    expect(took >= at_least, "%s: ended %.2f s after the DELETE, before "
           "%.1f s", what, took, at_least)
    if sig is None:
        expect_eq((j["exit_status"], j["signal"]), (0, None),
                  what + ": (exit_status, signal)")
    else:
        expect_eq(j["signal"], sig, what + ": signal")
    return j


def test_cancel_php_writing():
    """php-cgi writing a line every 0.2 s, unbuffered: its next write
    fails, PHP stops as if by exit and its shutdown function sees 1; the
    lines written before the DELETE are kept."""
    with kickd() as k:
        f = os.path.join(k.tmp, "loop.out")
        jid = trigger(k, "/p_loop?" + urlencode(
            {"f": f, "n": 200, "us": 200000}))
        before = [ln for ln in wait_lines(f, 4) if ln.startswith("step=")]
        t0 = cancel(k, jid)
        expect_ended(k, jid, t0, None, "php-cgi writing every 0.2 s")
        lines = wait_lines(f, len(before) + 1)
        expect("status=1" in lines, "PHP's shutdown function did not see "
               "connection_status() 1: %r", lines[-3:])
        expect("end" not in lines, "PHP ran to its end")
        rec = shutdown_record(k, "p_loop")
        expect_eq((rec["status"], rec["exit"], rec["job"]),
                  ("1", "0", str(jid)), "on_shutdown of the canceled job "
                  "(KICK_CONNECTION_STATUS, KICK_EXIT_STATUS, KICK_JOB_ID)")
        kept = output(k, jid).count("x" * 99 + "\n")
        steps = len([ln for ln in lines if ln.startswith("step=")])
        expect(len(before) <= kept <= steps, "output kept: %d lines; %d were "
               "written before the DELETE, %d in all", kept, len(before),
               steps)


def test_cancel_php_silent_and_buffered():
    """php-cgi that never reaches a write: a silent sleep, and the issue's
    script (echo and flush() every second, held in PHP's 4096-byte output
    buffer). Both are ended by SIGTERM when kill_grace has passed."""
    with kickd() as k:
        f_sleep = os.path.join(k.tmp, "sleep.out")
        f_buf = os.path.join(k.tmp, "buf.out")
        silent = trigger(k, "/p_sleep?" + urlencode({"f": f_sleep, "s": 30}))
        buf = trigger(k, "/p_loop?" + urlencode(
            {"f": f_buf, "n": 100, "us": 1000000, "buf": 1}))
        wait_lines(f_buf, 2)
        wait_job(k, silent, ("running",), 5.0 * SLOW)
        t0 = cancel(k, silent)
        cancel(k, buf)
        for jid, what in ((silent, "silent php-cgi"),
                          (buf, "php-cgi with buffered output")):
            expect_ended(k, jid, t0, 15, what, at_least=GRACE - 0.2)
        expect("end" not in read_lines(f_sleep), "the silent script ran to "
               "its end")
        rec = shutdown_record(k, "p_sleep")
        expect_eq((rec["status"], rec["signal"]), ("1", "15"),
                  "on_shutdown of the silent job (KICK_CONNECTION_STATUS, "
                  "KICK_SIGNAL)")


def test_cancel_shell_ignoring_aborts():
    """A shell job on a route with ignore_user_abort = on runs on after the
    DELETE (it sees status 1), then gets SIGTERM when kill_grace has
    passed; everything it wrote until then is kept. One that also ignores
    SIGTERM gets SIGKILL after another kill_grace."""
    with kickd() as k:
        tick = trigger(k, "/s_tick")
        trap = trigger(k, "/s_trap")
        ticks = os.path.join(k.tmp, "ticks.%d" % tick)
        wait_lines(ticks, 3)
        wait_lines(os.path.join(k.tmp, "ticks.%d" % trap), 3)
        t0 = cancel(k, tick)
        cancel(k, trap)
        time.sleep(1.0)
        j = get_job(k, tick)
        expect_eq((j["state"], j["connection_status"]), ("running", 1),
                  "a job ignoring aborts 1 s after its cancel (state, "
                  "connection_status as it is now)")
        expect_ended(k, tick, t0, 15, "shell job ignoring aborts",
                     at_least=GRACE - 0.2)
        rec = shutdown_record(k, "s_tick")
        expect_eq((rec["status"], rec["signal"]), ("1", "15"),
                  "on_shutdown (KICK_CONNECTION_STATUS, KICK_SIGNAL)")
        written = read_lines(ticks)
        got = [ln for ln in output(k, tick).splitlines()]
        want = ["tick %d" % i for i in range(len(got))]
        expect(got == want and len(got) >= len(written) >= 10,
               "output kept: %d ticks written (%d needed: 2 s of them after "
               "the DELETE), output %r", len(written), 10, got[-3:])
        # The one ignoring SIGTERM too: SIGKILL at 2 x kill_grace.
        expect_ended(k, trap, t0, 9, "shell job ignoring SIGTERM",
                     at_least=2 * GRACE - 0.2, late=LATE + GRACE)
        k.check_zombies()


def test_cancel_counted():
    """kick_aborts_total{cause="cancel"} counts canceled running jobs."""
    with kickd() as k:
        jid = trigger(k, "/s_tick")
        wait_lines(os.path.join(k.tmp, "ticks.%d" % jid), 1)
        t0 = cancel(k, jid)
        expect_ended(k, jid, t0, 15, "shell job", at_least=GRACE - 0.2)
        body = k.get("/metrics").body.decode()
        expect('kick_aborts_total{cause="cancel"} 1\n' in body and
               'kick_aborts_total{cause="hangup"} 0\n' in body,
               "kick_aborts_total after one cancel: %r",
               [ln for ln in body.splitlines() if "aborts" in ln])


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
