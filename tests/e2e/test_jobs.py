# SPDX-License-Identifier: MIT
# Detached jobs and the job API (PRODUCT.md "Detached jobs and the job
# API", issue 4): a trigger is stored and answered 202 at once, a worker
# pool runs it like an attached script, and /jobs shows its state, output
# and progress; retries, Kick-Delay, Idempotency-Key, cancel, wait,
# concurrency limits, the fire-and-forget caller, paging, errors, metrics.
#
# Scripts (scripts/job_*) write what they saw into files in the test's
# temp dir (JOB_DIR); tests poll for them. Scripts find `kick` through
# PATH, which kickd passes on: the build dir comes first in kickd's PATH.

import json
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, build, chunked, expect, expect_eq,  # noqa: E402
                     expect_error, kick_bin, path_env_with, run, SLOW)

KICK = kick_bin()
PATH_ENV = path_env_with(KICK)

FINAL = ("succeeded", "failed", "timed_out", "aborted", "canceled")
STATES = ("queued", "running") + FINAL
JOB_KEYS = ("id", "route", "state", "connection_status", "attempt",
            "max_attempts", "interruptions", "exit_status", "signal",
            "error", "progress", "progress_message", "created_at", "run_at",
            "started_at", "finished_at")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def config(routes, server=""):
    """kickd config text: [server] with extra lines, then each
    (path, script, extra lines) as a route (detached unless the extra lines
    say otherwise) whose script gets JOB_DIR = the test's temp dir."""
    out = ["[server]", "listen = {listen}", "db = {db}"]
    out += [ln.strip() for ln in server.splitlines() if ln.strip()]
    for path, script, extra in routes:
        out += ["", "[route %s]" % path, "exec = {scripts}/%s" % script,
                "env = JOB_DIR={tmp}"]
        out += [ln.strip() for ln in extra.splitlines() if ln.strip()]
    return "\n".join(out) + "\n"


def kickd(routes, server=""):
    return Kickd(config=config(routes, server), env=PATH_ENV)


def parse_time(s):
    """RFC 3339 UTC "2026-11-25T09:30:00.123Z" to seconds since the
    epoch."""
    import calendar
    main, _, frac = s[:-1].partition(".")
    t = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return t + (float("0." + frac) if frac else 0.0)


def check_job(j, what="job"):
    """Checks the fields and types of a job object; returns it."""
    expect(isinstance(j, dict), "%s: not a JSON object: %r", what, j)
    missing = [k for k in JOB_KEYS if k not in j]
    expect(not missing, "%s: fields missing %r in %r", what, missing, j)
    expect(type(j["id"]) is int and j["id"] > 0, "%s: bad id %r", what,
           j["id"])
    expect(j["state"] in STATES, "%s: bad state %r", what, j["state"])
    expect(j["connection_status"] in (0, 1, 2, 3),
           "%s: bad connection_status %r", what, j["connection_status"])
    for k in ("attempt", "max_attempts", "interruptions"):
        expect(type(j[k]) is int and j[k] >= 0, "%s: bad %s %r", what, k,
               j[k])
    # Every job that did not succeed says why, in one line.
    if j["state"] in FINAL and j["state"] != "succeeded":
        expect(isinstance(j["error"], str) and j["error"] and
               "\n" not in j["error"], "%s: %s without an error line: %r",
               what, j["state"], j)
    # A succeeded job's error can only say that its output had no CGI
    # header block.
    if j["state"] == "succeeded":
        expect(j["error"] is None or
               j["error"].startswith("no CGI header block ("),
               "%s: succeeded with an error: %r", what, j)
    for k in ("exit_status", "signal", "progress"):
        expect(j[k] is None or type(j[k]) is int, "%s: bad %s %r", what, k,
               j[k])
    expect(j["progress_message"] is None or
           isinstance(j["progress_message"], str),
           "%s: bad progress_message %r", what, j["progress_message"])
    for k in ("created_at", "run_at", "started_at", "finished_at"):
        v = j[k]
        expect(v is None or (isinstance(v, str) and TIME_RE.match(v)),
               "%s: %s is not an RFC 3339 UTC time or null: %r", what, k, v)
    expect(j["created_at"] is not None, "%s: created_at is null", what)
    if j["state"] in FINAL:
        expect(j["finished_at"] is not None,
               "%s: %s but finished_at is null: %r", what, j["state"], j)
    if j["state"] == "running":
        expect(j["started_at"] is not None,
               "%s: running but started_at is null: %r", what, j)
    return j


def json_body(r, what):
    ct = r.header("Content-Type", "")
    expect(ct.split(";")[0].strip().lower() == "application/json",
           "%s: Content-Type %r: %r", what, ct, r)
    try:
        return json.loads(r.body)
    except ValueError as e:
        raise AssertionError("%s: body is not JSON (%s): %r"
                             % (what, e, r.body[:300]))


def with_length(method, headers, body):
    """headers plus Content-Length: 0 for a POST without a body (a POST
    without framing has an empty body too; the tests say so explicitly)."""
    headers = list(headers)
    if method == "POST" and not body and not any(
            h[0].lower() in ("content-length", "transfer-encoding")
            for h in headers):
        headers.append(("Content-Length", "0"))
    return headers


def trigger(k, target, headers=(), body=b"", method="POST", status=202):
    """Sends a trigger; checks a 202 (or status) answer; returns the job
    id (and for 202 checks the exact body and Location)."""
    r = k.request(method, target, with_length(method, headers, body), body)
    expect(r.status == status, "trigger %s %s: expected %d, got %r",
           method, target, status, r)
    if status not in (200, 202):
        return r
    j = json_body(r, "trigger %s" % target)
    expect(isinstance(j, dict) and type(j.get("id")) is int,
           "trigger %s: no integer id in %r", target, r.body)
    want = {"id": j["id"], "state": "queued"} if status == 202 else \
        {"id": j["id"], "duplicate": True}
    expect_eq(j, want, "trigger %s body" % target)
    expect_eq(r.header("Location"), "/jobs/%d" % j["id"],
              "trigger %s Location" % target)
    return j["id"]


def get_job(k, jid, query=""):
    r = k.get("/jobs/%d%s" % (jid, query))
    expect(r.status == 200, "GET /jobs/%d%s: %r", jid, query, r)
    j = check_job(json_body(r, "GET /jobs/%d" % jid), "job %d" % jid)
    expect_eq(j["id"], jid, "GET /jobs/%d id" % jid)
    return j


def wait_job(k, jid, states=FINAL, timeout=10.0):
    """Polls GET /jobs/ID until its state is one of states; returns it."""
    if isinstance(states, str):
        states = (states,)
    deadline = time.monotonic() + timeout * SLOW
    while True:
        j = get_job(k, jid)
        if j["state"] in states:
            return j
        if time.monotonic() >= deadline:
            raise AssertionError("job %d did not reach %s in %.1f s: %r"
                                 % (jid, "/".join(states), timeout * SLOW, j))
        time.sleep(0.02)


def wait_file(path, timeout=5.0, what=None):
    """Polls until path exists; returns its text."""
    deadline = time.monotonic() + timeout * SLOW
    while not os.path.exists(path):
        if time.monotonic() >= deadline:
            raise AssertionError("%s: %s did not appear in time"
                                 % (what or "wait", path))
        time.sleep(0.005)
    with open(path) as f:
        return f.read()


def wait_line(path, timeout=5.0):
    """Polls until path holds a complete first line; returns it."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if "\n" in text:
            return text.split("\n", 1)[0]
        if time.monotonic() >= deadline:
            raise AssertionError("%s: no complete line in time: %r"
                                 % (path, text))
        time.sleep(0.005)


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def env_of(k, jid, timeout=5.0):
    """What scripts/job_work recorded of its environment, as a dict."""
    text = wait_file(os.path.join(k.tmp, "env.%d" % jid), timeout,
                     "job %d start" % jid)
    return dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)


def release(k, jid):
    with open(os.path.join(k.tmp, "release.%d" % jid), "w"):
        pass


def runs_of(k, jid):
    return [ln for ln in read_lines(os.path.join(k.tmp, "runs"))
            if ln.split()[0] == str(jid)]


def list_jobs(k, query):
    r = k.get("/jobs?" + query)
    expect(r.status == 200, "GET /jobs?%s: %r", query, r)
    d = json_body(r, "GET /jobs?" + query)
    expect(isinstance(d, dict) and isinstance(d.get("jobs"), list) and
           "next" in d, "GET /jobs?%s: not {jobs, next}: %r", query,
           r.body[:300])
    for j in d["jobs"]:
        check_job(j, "listed job")
    expect(d["next"] is None or type(d["next"]) is int,
           "GET /jobs?%s: bad next %r", query, d["next"])
    return d


def max_overlap(spans):
    """The largest number of (start, end) intervals open at one time."""
    ev = [(s, 1) for s, e in spans] + [(e, -1) for s, e in spans]
    # An end at the same instant as a start closes first.
    ev.sort(key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def spans_of(k, route):
    out = {}
    for ln in read_lines(os.path.join(k.tmp, "spans")):
        name, jid, s, e = ln.split()
        if name == route:
            out[int(jid)] = (float(s), float(e))
    return out


# 1. A trigger is answered 202 at once while a 5 s script runs; the job's
# states and output through the API.

def test_accept_while_running():
    routes = [("/slow", "job_work", "")]
    with kickd(routes) as k:
        t0 = time.monotonic()
        a = trigger(k, "/slow?sleep=5")
        dt = time.monotonic() - t0
        expect(dt < 0.5 * SLOW, "202 took %.3f s", dt)
        env_of(k, a)
        j = wait_job(k, a, "running", 2.0)
        expect_eq(j["route"], "/slow", "route")
        # A second trigger while the 5 s script runs: 202 at once too.
        t0 = time.monotonic()
        b = trigger(k, "/slow?sleep=0", body=b"x=1")
        dt = time.monotonic() - t0
        expect(dt < 0.5 * SLOW, "second 202 took %.3f s", dt)
        expect(b > a, "ids do not grow: %d then %d", a, b)
        expect_eq(wait_job(k, b, timeout=5.0)["state"], "succeeded",
                  "the short job beside the running one")
        expect_eq(get_job(k, a)["state"], "running", "the 5 s job")
        j = wait_job(k, a, timeout=8.0)
        expect_eq((j["state"], j["exit_status"], j["signal"]),
                  ("succeeded", 0, None), "5 s job at its end")
        took = parse_time(j["finished_at"]) - parse_time(j["started_at"])
        expect(4.8 <= took < 5.0 + 2.0 * SLOW,
               "started_at to finished_at %.3f s for a 5 s script", took)


def test_states_env_and_output():
    routes = [("/one", "job_work", "concurrency = 1")]
    with kickd(routes) as k:
        a = trigger(k, "/one?hold=1")
        env_of(k, a)
        body = b"name=value&x=%C3%A9"
        b = trigger(k, "/one?hold=1&k=v", [("X-Test", "hello there"),
                    ("Content-Type", "application/x-www-form-urlencoded")],
                    body)
        # b waits behind a on a route that runs one job at a time.
        j = get_job(k, b)
        expect_eq((j["state"], j["route"], j["started_at"],
                   j["finished_at"], j["exit_status"], j["signal"],
                   j["connection_status"], j["max_attempts"]),
                  ("queued", "/one", None, None, None, None, 0, 1),
                  "queued job (state, route, started_at, finished_at, "
                  "exit_status, signal, connection_status, max_attempts)")
        time.sleep(0.3)
        expect_eq(get_job(k, b)["state"], "queued", "b while a runs")
        release(k, a)
        env = env_of(k, b)
        j = get_job(k, b)
        expect_eq((j["state"], j["attempt"]), ("running", 1),
                  "b once started (state, attempt)")
        # The job runs like an attached script, from the stored request.
        want = {"method": "POST", "query": "hold=1&k=v", "script": "/one",
                "ctype": "application/x-www-form-urlencoded",
                "clen": str(len(body)), "x_test": "hello there",
                "job": str(b), "attempt": "1", "control": "set",
                "redirect": "200", "protocol": "HTTP/1.1"}
        got = {key: env.get(key) for key in want}
        expect_eq(got, want, "the job's CGI environment")
        with open(os.path.join(k.tmp, "body.%d" % b), "rb") as f:
            expect_eq(f.read(), body, "the job's stdin")
        release(k, b)
        j = wait_job(k, b)
        expect_eq((j["state"], j["exit_status"], j["signal"],
                   j["connection_status"], j["attempt"]),
                  ("succeeded", 0, None, 0, 1),
                  "b at its end (state, exit_status, signal, "
                  "connection_status, attempt)")
        c, s, f = (parse_time(j[x]) for x in
                   ("created_at", "started_at", "finished_at"))
        expect(c <= s <= f, "times out of order: %r", j)
        expect(abs(c - time.time()) < 60, "created_at is not now: %r", j)
        r = k.get("/jobs/%d/output" % b)
        expect_eq(r.status, 200, "GET output status")
        out = r.body
        # The CGI header block is the response, not output; stderr is.
        expect_eq(j["response"], {"status": 200,
                                  "content_type": "text/plain"},
                  "b's response")
        expect(b"Content-Type" not in out, "the header is output: %r", out)
        expect(j["error"] is None, "b's error: %r" % j["error"])
        for part in (b"out:%d" % b, b"err:%d" % b, b"done:%d" % b):
            expect(part in out, "output lacks %r: %r", part, out)
        expect(out.index(b"out:%d" % b) < out.index(b"done:%d" % b),
               "output out of order: %r", out)
        expect_eq(len(runs_of(k, b)), 1, "runs of b")


def test_exit_status_and_time_limit():
    routes = [("/w", "job_work", ""),
              ("/tl", "job_work", "time_limit = 1\nretries = 1"),
              ("/sig", "job_retry", ""), ("/noexec", "no_interpreter", "")]
    with kickd(routes) as k:
        a = trigger(k, "/w?exit=3")
        j = wait_job(k, a)
        expect_eq((j["state"], j["exit_status"], j["signal"], j["attempt"],
                   j["max_attempts"]), ("failed", 3, None, 1, 1),
                  "exit 3 without retries (state, exit_status, signal, "
                  "attempt, max_attempts)")
        expect_eq(j["error"], "exit status 3", "error of an exit 3")
        b = trigger(k, "/sig?ok=99&sig=1")
        j = wait_job(k, b)
        expect_eq((j["state"], j["exit_status"], j["signal"]),
                  ("failed", None, 10), "killed by SIGUSR1 (state, "
                  "exit_status, signal)")
        expect_eq(j["error"], "killed by signal 10", "error of a signal")
        t = trigger(k, "/tl?sleep=10")
        j = wait_job(k, t, timeout=6.0)
        expect_eq((j["state"], j["connection_status"], j["attempt"],
                   j["max_attempts"]), ("timed_out", 2, 1, 2),
                  "over its time limit (state, connection_status, attempt, "
                  "max_attempts): a timeout is not retried")
        expect_eq(j["error"], "time limit 1 s passed", "error of a timeout")
        took = parse_time(j["finished_at"]) - parse_time(j["started_at"])
        expect(0.9 <= took < 1.0 + 3.0 * SLOW,
               "time_limit 1 ended the job after %.3f s", took)
        # A script that cannot start (its interpreter is missing) is the
        # job's failure, and says so.
        n = trigger(k, "/noexec")
        j = wait_job(k, n)
        expect_eq((j["state"], j["exit_status"], j["error"]),
                  ("failed", None, "could not start: exec: No such file or "
                   "directory"), "a script that cannot start")
        time.sleep(1.6 * SLOW)
        expect_eq(get_job(k, t)["state"], "timed_out",
                  "timed-out job later (no retry)")
        expect_eq(len(runs_of(k, t)), 1, "runs of the timed-out job")


def test_default_time_limits():
    """A detached job whose route sets no time_limit has none (it runs
    past the 30 s of an attached script); kickd --time-limit sets one for
    the --scripts routes."""
    with kickd([("/long", "job_work", "")]) as k:
        a = trigger(k, "/long?sleep=31")
        j = wait_job(k, a, timeout=40.0)
        expect_eq((j["state"], j["error"]), ("succeeded", None),
                  "a 31 s job on a route without time_limit")
    with Kickd(args=["--mode", "detach", "--time-limit", "1"],
               env=PATH_ENV) as k:
        b = trigger(k, "/job_work?sleep=5")
        j = wait_job(k, b, timeout=6.0)
        expect_eq((j["state"], j["error"]), ("timed_out",
                  "time limit 1 s passed"), "a --scripts job with "
                  "--time-limit 1")


def test_output_cap_keeps_newest():
    routes = [("/big", "job_big", "")]
    with kickd(routes, "output_cap = 4096") as k:
        a = trigger(k, "/big?2000")
        j = wait_job(k, a)
        expect_eq(j["state"], "succeeded", "state")
        r = k.get("/jobs/%d/output" % a)
        expect_eq(r.status, 200, "GET output status")
        out = r.body
        expect_eq(j["output_size"], len(b"".join(
            b"line %d\n" % i for i in range(1, 2001))) + len(b"last\n"),
            "output_size: every byte written")
        expect(0 < len(out) <= 4096, "kept %d bytes with output_cap 4096",
               len(out))
        expect(len(out) >= 4096 - 20, "kept only %d of 4096 bytes",
               len(out))
        expect(out.endswith(b"last\n") or out.endswith(b"line 2000\n"),
               "the newest bytes are not kept: ...%r", out[-60:])
        expect(b"line 2000\n" in out and b"line 1\n" not in out,
               "kept bytes are not the newest: %r...", out[:60])


# 2. Retries with backoff; failure once attempts are used up.

def test_retries_then_success():
    routes = [("/r", "job_retry", "retries = 2")]
    with kickd(routes) as k:
        a = trigger(k, "/r?ok=3")
        path = os.path.join(k.tmp, "attempts")
        deadline = time.monotonic() + 5.0 * SLOW
        while not read_lines(path):
            expect(time.monotonic() < deadline, "attempt 1 never ran")
            time.sleep(0.005)
        # Between attempts the job is queued again, attempt 1 recorded.
        j = wait_job(k, a, ("queued",) + FINAL, 2.0)
        expect_eq((j["state"], j["attempt"], j["max_attempts"]),
                  ("queued", 1, 3), "during the backoff after attempt 1 "
                  "(state, attempt, max_attempts)")
        expect(parse_time(j["run_at"]) > parse_time(j["created_at"]),
               "run_at not moved by the backoff: %r", j)
        j = wait_job(k, a, timeout=10.0)
        expect_eq((j["state"], j["attempt"], j["max_attempts"],
                   j["exit_status"]), ("succeeded", 3, 3, 0),
                  "at the end (state, attempt, max_attempts, exit_status)")
        lines = [ln.split() for ln in read_lines(path)]
        expect_eq([x[1] for x in lines], ["1", "2", "3"],
                  "KICK_ATTEMPT of the runs")
        t = [float(x[2]) for x in lines]
        # Backoff 1 s x 2^(attempt-1), jitter x [0.5, 1.5).
        g1, g2 = t[1] - t[0], t[2] - t[1]
        expect(0.5 <= g1 < 1.5 + 1.0 * SLOW, "backoff after attempt 1: "
               "%.3f s (want 0.5..1.5)", g1)
        expect(1.0 <= g2 < 3.0 + 1.0 * SLOW, "backoff after attempt 2: "
               "%.3f s (want 1..3)", g2)
        r = k.get("/jobs/%d/output" % a)
        expect(b"attempt 3" in r.body, "output lacks the last attempt: %r",
               r.body)


def test_failure_after_attempts():
    routes = [("/f", "job_retry", "retries = 1")]
    with kickd(routes) as k:
        a = trigger(k, "/f?ok=99")
        j = wait_job(k, a, timeout=8.0)
        expect_eq((j["state"], j["attempt"], j["max_attempts"],
                   j["exit_status"], j["signal"]),
                  ("failed", 2, 2, 7, None), "after its attempts "
                  "(state, attempt, max_attempts, exit_status, signal)")
        time.sleep(2.0 * SLOW)
        lines = [ln.split()[1] for ln in
                 read_lines(os.path.join(k.tmp, "attempts"))]
        expect_eq(lines, ["1", "2"], "attempts run")
        expect_eq(get_job(k, a)["state"], "failed", "state later")


# 3. Kick-Delay.

def test_delay():
    routes = [("/d", "job_work", "")]
    with kickd(routes) as k:
        a = trigger(k, "/d", [("Kick-Delay", "1.5")])
        j = get_job(k, a)
        expect_eq(j["state"], "queued", "delayed job at first")
        ra = parse_time(j["run_at"]) - parse_time(j["created_at"])
        expect(1.4 <= ra <= 1.6, "run_at - created_at = %.3f s for "
               "Kick-Delay 1.5", ra)
        time.sleep(1.0)
        expect_eq(get_job(k, a)["state"], "queued", "after 1 s")
        j = wait_job(k, a, timeout=4.0)
        expect_eq(j["state"], "succeeded", "delayed job")
        d = parse_time(j["started_at"]) - parse_time(j["created_at"])
        expect(1.5 <= d < 1.5 + 1.0 * SLOW,
               "started_at - created_at = %.3f s for Kick-Delay 1.5", d)
        b = trigger(k, "/d", [("Kick-Delay", "0")])
        expect_eq(wait_job(k, b, timeout=3.0)["state"], "succeeded",
                  "Kick-Delay 0")
        c = trigger(k, "/d", [("Kick-Delay", "1")])
        j = wait_job(k, c, timeout=4.0)
        d = parse_time(j["started_at"]) - parse_time(j["created_at"])
        expect(d >= 1.0, "Kick-Delay 1 started after %.3f s", d)
        for bad in ("-1", "abc", "1.2.3", "nan", "inf", "0x10", "1e3",
                    "", "1,5", "+-1"):
            r = k.request("POST", "/d", [("Kick-Delay", bad),
                                           ("Content-Length", "0")])
            expect_error(r, 400, "Kick-Delay %r" % bad)


# 4. Idempotency-Key.

def test_idempotency():
    routes = [("/a", "job_work", ""), ("/b", "job_work", "")]
    with kickd(routes) as k:
        key = ("Idempotency-Key", "order-1234")
        a = trigger(k, "/a", [key])
        a2 = trigger(k, "/a", [key], status=200)
        expect_eq(a2, a, "same key, same route")
        expect_eq(wait_job(k, a)["state"], "succeeded", "job")
        a3 = trigger(k, "/a?other=1", [key], status=200)
        expect_eq(a3, a, "same key, same route, after the job ended")
        b = trigger(k, "/b", [key])
        expect(b != a, "same key on another route gave the same job")
        c = trigger(k, "/a", [("Idempotency-Key", "order-1235")])
        expect(c not in (a, b), "another key gave an existing job")
        for jid in (b, c):
            expect_eq(wait_job(k, jid)["state"], "succeeded", "job")
        time.sleep(0.3)
        expect_eq(len(runs_of(k, a)), 1, "runs of the keyed job")
        long_key = "k" * 255
        d = trigger(k, "/a", [("Idempotency-Key", long_key)])
        expect_eq(trigger(k, "/a", [("Idempotency-Key", long_key)],
                          status=200), d, "255-character key again")
        for bad in ("k" * 256, "", "has space", "caf\xc3\xa9"):
            r = k.request("POST", "/a", [("Idempotency-Key", bad),
                                           ("Content-Length", "0")])
            expect_error(r, 400, "Idempotency-Key %r" % bad[:20])


# 5. Cancel a queued and a running job.

def test_cancel_queued():
    routes = [("/q", "job_work", "concurrency = 1")]
    with kickd(routes) as k:
        a = trigger(k, "/q?hold=1")
        env_of(k, a)
        b = trigger(k, "/q")
        c = trigger(k, "/q")
        r = k.request("DELETE", "/jobs/%d" % b)
        expect_eq(r.status, 200, "DELETE of a queued job: %r" % r)
        j = check_job(json_body(r, "DELETE"), "DELETE answer")
        expect_eq((j["id"], j["state"]), (b, "canceled"), "DELETE answer")
        j = get_job(k, b)
        expect_eq(j["state"], "canceled", "canceled job")
        expect(j["finished_at"] is not None, "canceled without finished_at")
        r = k.request("DELETE", "/jobs/%d?only=cancel" % b)
        expect_eq(r.status, 409, "cancel of a canceled job: %r" % r)
        release(k, a)
        expect_eq(wait_job(k, c)["state"], "succeeded", "job after it")
        expect_eq(wait_job(k, a)["state"], "succeeded", "job before it")
        expect_eq(runs_of(k, b), [], "runs of the canceled job")
        expect_eq(get_job(k, b)["state"], "canceled", "canceled job later")
        r = k.request("DELETE", "/jobs/%d?only=cancel" % a)
        expect_eq(r.status, 409, "cancel of a succeeded job: %r" % r)


def recorder(name):
    return "on_shutdown = {scripts}/cs_record {tmp}/%s job" % name


def shutdown_record(k, name, timeout=5.0):
    line = wait_file(os.path.join(k.tmp, name), timeout,
                     "shutdown command")
    deadline = time.monotonic() + 2.0
    while not line.endswith("\n") and time.monotonic() < deadline:
        time.sleep(0.01)
        line = wait_file(os.path.join(k.tmp, name))
    d = {}
    for part in line.split()[1:]:
        key, _, val = part.partition("=")
        d[key] = val
    return d


def proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_cancel_running():
    routes = [("/h", "job_hang", recorder("shut") + "\nretries = 2"),
              ("/hi", "job_hang", recorder("shut_i") +
               "\nignore_user_abort = on")]
    with kickd(routes) as k:
        a = trigger(k, "/h")
        pid = int(wait_line(os.path.join(k.tmp, "pid.%d" % a)))
        wait_job(k, a, "running", 2.0)
        r = k.request("DELETE", "/jobs/%d" % a)
        expect_eq(r.status, 202, "DELETE of a running job: %r" % r)
        j = check_job(json_body(r, "DELETE"), "DELETE answer")
        expect_eq((j["id"], j["connection_status"]), (a, 1),
                  "DELETE answer (id, connection_status)")
        rec = shutdown_record(k, "shut")
        expect_eq((rec.get("status"), rec.get("job"), rec.get("signal")),
                  ("1", str(a), "15"), "shutdown command of the aborted job "
                  "(KICK_CONNECTION_STATUS, KICK_JOB_ID, KICK_SIGNAL)")
        j = wait_job(k, a, timeout=5.0)
        expect_eq((j["state"], j["connection_status"]), ("aborted", 1),
                  "aborted job (state, connection_status)")
        deadline = time.monotonic() + 3.0 * SLOW
        while proc_alive(pid):
            expect(time.monotonic() < deadline, "script %d still runs", pid)
            time.sleep(0.01)
        expect(not os.path.exists(os.path.join(k.tmp, "finished.%d" % a)),
               "the aborted script ran to its end")
        r = k.request("DELETE", "/jobs/%d?only=cancel" % a)
        expect_eq(r.status, 409, "cancel of an aborted job: %r" % r)
        # An abort is not retried, though the route has retries left.
        time.sleep(1.6)
        j = get_job(k, a)
        expect_eq((j["state"], j["attempt"], j["max_attempts"]),
                  ("aborted", 1, 3), "aborted job later (state, attempt, "
                  "max_attempts)")

        # ignore_user_abort on: the script sees status 1 and finishes.
        b = trigger(k, "/hi?ignore=1")
        wait_file(os.path.join(k.tmp, "pid.%d" % b))
        wait_job(k, b, "running", 2.0)
        r = k.request("DELETE", "/jobs/%d" % b)
        expect_eq(r.status, 202, "DELETE of a job ignoring aborts: %r" % r)
        seen = wait_line(os.path.join(k.tmp, "seen.%d" % b))
        expect_eq(seen, "seen=1", "kick ctl status in the script")
        rec = shutdown_record(k, "shut_i")
        expect_eq((rec.get("status"), rec.get("exit"), rec.get("job")),
                  ("1", "0", str(b)), "shutdown command of the job ignoring "
                  "the abort (KICK_CONNECTION_STATUS, KICK_EXIT_STATUS, "
                  "KICK_JOB_ID)")
        j = wait_job(k, b, timeout=5.0)
        expect_eq((j["state"], j["connection_status"], j["exit_status"]),
                  ("aborted", 1, 0), "job that ignored the abort (state, "
                  "connection_status, exit_status)")


# 6. Long poll: GET /jobs/ID?wait=SECONDS.

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_wait():
    routes = [("/w", "job_work", "")]
    with kickd(routes) as k:
        a = trigger(k, "/w?sleep=1")
        t0 = time.monotonic()
        j = get_job(k, a, "?wait=20")
        dt = time.monotonic() - t0
        expect_eq(j["state"], "succeeded", "state after wait")
        expect(0.8 <= dt < 1.0 + 1.0 * SLOW,
               "wait=20 on a 1 s job answered after %.3f s", dt)
        # On an ended job: at once.
        t0 = time.monotonic()
        expect_eq(get_job(k, a, "?wait=20")["state"], "succeeded",
                  "wait on an ended job")
        expect(time.monotonic() - t0 < 0.5 * SLOW, "wait on an ended job "
               "took %.3f s", time.monotonic() - t0)

        b = trigger(k, "/w?hold=1")
        env_of(k, b)
        cpu0 = cpu_seconds(k.proc.pid)
        t0 = time.monotonic()
        # Other requests are served while a wait is pending.
        out = {}

        def waiter():
            try:
                out["job"] = get_job(k, b, "?wait=2")
            except BaseException as e:
                out["err"] = e
        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.3)
        k.healthy("during a wait")
        th.join(10.0 * SLOW)
        dt = time.monotonic() - t0
        expect("err" not in out, "wait=2: %r", out.get("err"))
        expect_eq(out["job"]["state"], "running", "state when wait=2 ran out")
        expect(1.9 <= dt < 2.0 + 1.0 * SLOW,
               "wait=2 on a running job answered after %.3f s", dt)
        cpu = cpu_seconds(k.proc.pid) - cpu0
        expect(cpu < 0.5 * SLOW, "kickd used %.2f s of CPU during a 2 s "
               "wait (busy loop?)", cpu)
        t0 = time.monotonic()
        expect_eq(get_job(k, b, "?wait=0")["state"], "running", "wait=0")
        expect(time.monotonic() - t0 < 0.5 * SLOW, "wait=0 took %.3f s",
               time.monotonic() - t0)
        # The wait ends when the job does, not when the time runs out.
        threading.Timer(0.5, release, (k, b)).start()
        t0 = time.monotonic()
        j = get_job(k, b, "?wait=30")
        dt = time.monotonic() - t0
        expect_eq(j["state"], "succeeded", "state after release")
        expect(dt < 0.5 + 1.0 * SLOW, "wait=30 answered %.3f s after "
               "a release 0.5 s in", dt)
        for bad in ("-1", "abc"):
            r = k.get("/jobs/%d?wait=%s" % (a, bad))
            expect_eq(r.status, 400, "wait=%s status: %r" % (bad, r))
        # Over the maximum: refused, or capped (the job has ended anyway).
        r = k.get("/jobs/%d?wait=301" % a)
        expect(r.status in (200, 400), "wait=301: %r", r)


# A pipelined GET ?wait= behind an answered GET, its client reset while it
# waits: the answer of the first must not let the close forget the second
# (it then answered on a freed connection: ASan's heap-use-after-free).
def test_pipelined_wait_client_reset():
    import struct
    with kickd([("/w", "job_work", "")]) as k:
        a = trigger(k, "/w", [("Kick-Delay", "3600")])
        s = socket.create_connection(("127.0.0.1", k.port), timeout=5 * SLOW)
        s.sendall(build("GET", "/jobs/%d" % a) +
                  build("GET", "/jobs/%d?wait=1" % a))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            expect(chunk, "closed before the first answer")
            data += chunk
        expect(data.startswith(b"HTTP/1.1 200"), "first answer: %r", data)
        time.sleep(0.2 * SLOW)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
        # The wait runs out with nobody to answer; kickd serves on.
        time.sleep(1.5 * SLOW)
        k.healthy("after the waiting client's reset")
        expect_eq(get_job(k, a)["state"], "queued", "the job")


# 7. Concurrency: per route, and the global worker pool.

def test_route_concurrency():
    routes = [("/c2", "job_span", "concurrency = 2"),
              ("/c1", "job_span", "concurrency = 1")]
    with kickd(routes) as k:
        ids2 = [trigger(k, "/c2") for _ in range(10)]
        ids1 = [trigger(k, "/c1?sleep=0.1") for _ in range(5)]
        for jid in ids2 + ids1:
            expect_eq(wait_job(k, jid, timeout=15.0)["state"], "succeeded",
                      "job %d" % jid)
        s2 = spans_of(k, "/c2")
        expect_eq(sorted(s2), sorted(ids2), "jobs of /c2 that ran")
        m = max_overlap(list(s2.values()))
        expect_eq(m, 2, "most /c2 jobs running at once (concurrency = 2)")
        s1 = spans_of(k, "/c1")
        expect_eq(max_overlap(list(s1.values())), 1,
                  "most /c1 jobs running at once (concurrency = 1)")
        # FIFO per route: with one at a time they run in id order.
        order = sorted(s1, key=lambda jid: s1[jid][0])
        expect_eq(order, sorted(ids1), "start order on /c1 (FIFO)")
        # The two routes shared the pool at the same time.
        both = max_overlap(list(s2.values()) + list(s1.values()))
        expect_eq(both, 3, "jobs of both routes running at once")


def test_claimed_ahead():
    # Short jobs are claimed ahead of a free worker (JOB_AHEAD_RUN_MS, two
    # a worker): with workers = 1 and a long job running, the next two
    # short ones wait claimed ("running" in the store) and the third
    # queued; one canceled meanwhile never runs; one left when kickd
    # stops goes back to the queue, and runs once after the restart.
    routes = [("/fast", "job_span", ""), ("/slow", "job_span", "")]
    with kickd(routes, "workers = 1") as k:
        for jid in [trigger(k, "/fast?sleep=0") for _ in range(5)]:
            expect_eq(wait_job(k, jid)["state"], "succeeded",
                      "warm-up job %d" % jid)
        slow = trigger(k, "/slow?sleep=2")
        wait_job(k, slow, "running")
        a, b, c = (trigger(k, "/fast?sleep=0") for _ in range(3))
        expect_eq(wait_job(k, b, "running", timeout=1.0)["state"],
                  "running", "the second short job, claimed ahead")
        expect_eq(get_job(k, a)["state"], "running",
                  "the first short job, claimed ahead")
        expect_eq(get_job(k, c)["state"], "queued",
                  "the third short job (two ahead a worker)")
        r = k.request("DELETE", "/jobs/%d" % a)
        expect_eq(r.status, 202, "DELETE of a job claimed ahead")
        j = wait_job(k, a, timeout=2.0)
        expect_eq((j["state"], j["error"]),
                  ("canceled", "canceled before it started"),
                  "the canceled job claimed ahead")
        expect_eq(get_job(k, slow)["state"], "running",
                  "the long job while the others wait")
        k.proc.send_signal(signal.SIGTERM)
        expect_eq(k.proc.wait(10.0 * SLOW), 0, "kickd's exit status")
        k.log.close()
        k.start()
        for jid in (slow, b, c):
            expect_eq(wait_job(k, jid)["state"], "succeeded", "job %d" % jid)
        fast = spans_of(k, "/fast")
        expect(a not in fast, "the canceled job ran: %r", fast.get(a))
        expect(b in fast and c in fast, "jobs %d and %d ran: %r", b, c,
               sorted(fast))
        expect_eq(len(spans_of(k, "/slow")), 1, "runs of the long job")
        lines = read_lines(os.path.join(k.tmp, "spans"))
        expect_eq(len(lines), len(set(lines)), "a job ran twice")
        every = list(fast.values()) + list(spans_of(k, "/slow").values())
        expect_eq(max_overlap(every), 1, "jobs running at once (workers = 1)")


def test_concurrency_backlog_idle():
    # A route at its concurrency with a backlog of due jobs, and a
    # delayed job's timer firing meanwhile: kickd waits for the running
    # job's end, it does not look for due jobs again and again (the
    # earliest queued run_at, already past, once armed the timer at 0).
    routes = [("/c1", "job_span", "concurrency = 1"),
              ("/later", "job_span", "")]
    with kickd(routes) as k:
        ids = [trigger(k, "/c1?sleep=1.5") for _ in range(3)]
        later = trigger(k, "/later", [("Kick-Delay", "0.2")])
        expect_eq(wait_job(k, later, timeout=10.0)["state"], "succeeded",
                  "the delayed job")
        cpu0 = cpu_seconds(k.proc.pid)
        time.sleep(1.0)
        cpu = cpu_seconds(k.proc.pid) - cpu0
        expect(cpu < 0.3 * SLOW, "kickd used %.2f s of CPU in 1 s while "
               "a concurrency = 1 route's backlog waited (busy loop?)", cpu)
        for jid in ids:
            expect_eq(wait_job(k, jid, timeout=15.0)["state"], "succeeded",
                      "job %d" % jid)
        expect_eq(max_overlap(list(spans_of(k, "/c1").values())), 1,
                  "most /c1 jobs running at once")


def test_global_workers():
    routes = [("/g1", "job_span", ""), ("/g2", "job_span", "concurrency = 0"),
              ("/g3", "job_span", "concurrency = 5")]
    with kickd(routes, "workers = 3") as k:
        ids = []
        for n in range(5):
            for r in ("/g1", "/g2", "/g3"):
                ids.append(trigger(k, r))
        for jid in ids:
            expect_eq(wait_job(k, jid, timeout=15.0)["state"], "succeeded",
                      "job %d" % jid)
        spans = []
        for r in ("/g1", "/g2", "/g3"):
            s = spans_of(k, r)
            expect_eq(len(s), 5, "jobs of %s that ran" % r)
            spans += list(s.values())
        expect_eq(max_overlap(spans), 3, "most jobs running at once "
                  "(workers = 3)")


def test_trigger_without_length():
    """A trigger without Content-Length or Transfer-Encoding has an empty
    body (RFC 9112 section 6.3): 202, and its job runs with none."""
    with kickd([("/w", "job_work", "")]) as k:
        with k.connect() as c:
            c.send(b"POST /w HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.response()
        expect_eq(r.status, 202, "trigger without a length: %r" % r)
        jid = json_body(r, "trigger")["id"]
        env = env_of(k, jid)
        expect_eq((env["method"], env["clen"]), ("POST", "unset"),
                  "the job's method and CONTENT_LENGTH")
        expect_eq(wait_job(k, jid)["state"], "succeeded", "the job")


# 8. The article's caller: write a complete POST, close, never read.

def test_fire_and_forget():
    routes = [("/fire", "job_work", "")]
    with kickd(routes) as k:
        n = 20
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", k.port), timeout=5)
            if i % 2:
                req = build("POST", "/fire?tag=f%d" % i,
                            [("Transfer-Encoding", "chunked"),
                             ("Content-Type", "text/plain")],
                            host=True) + chunked(b"body %d" % i, [3, 2])
            else:
                req = build("POST", "/fire?tag=f%d" % i,
                            [("Content-Type", "text/plain")],
                            b"body %d" % i)
            s.sendall(req)
            s.close()
        deadline = time.monotonic() + 10.0 * SLOW
        for i in range(n):
            path = os.path.join(k.tmp, "mark.f%d" % i)
            while not os.path.exists(path):
                expect(time.monotonic() < deadline,
                       "fire-and-forget trigger %d never ran (marks: %r)",
                       i, sorted(x for x in os.listdir(k.tmp)
                                 if x.startswith("mark.")))
                time.sleep(0.01)
            jid = int(wait_line(path))
            j = wait_job(k, jid)
            expect_eq(j["state"], "succeeded", "fire-and-forget job")
            with open(os.path.join(k.tmp, "body.%d" % jid), "rb") as f:
                expect_eq(f.read(), b"body %d" % i, "job %d's body" % jid)
        d = list_jobs(k, "route=/fire&limit=100")
        expect_eq(len(d["jobs"]), n, "jobs of /fire")
        k.healthy("after the fire-and-forget callers")


# 9. Listing and paging.

def test_list_paging():
    routes = [("/a", "job_work", ""), ("/b", "job_work", ""),
              ("/q", "job_work", "")]
    with kickd(routes) as k:
        ia = [trigger(k, "/a") for _ in range(5)]
        ib = [trigger(k, "/b") for _ in range(2)]
        iq = trigger(k, "/q", [("Kick-Delay", "60")])
        for jid in ia + ib:
            wait_job(k, jid)
        d = list_jobs(k, "")
        expect_eq([j["id"] for j in d["jobs"]], sorted(ia + ib + [iq]),
                  "GET /jobs ids")
        expect_eq(d["next"], None, "GET /jobs next")
        seen, after = [], None
        for page in range(4):
            q = "route=/a&limit=2" + ("&after=%d" % after if after else "")
            d = list_jobs(k, q)
            ids = [j["id"] for j in d["jobs"]]
            expect(all(j["route"] == "/a" for j in d["jobs"]),
                   "route filter: %r", d["jobs"])
            expect(ids == sorted(ids), "page not ascending: %r", ids)
            expect(len(ids) <= 2, "limit=2 gave %d jobs", len(ids))
            seen += ids
            if d["next"] is None:
                break
            expect_eq(d["next"], ids[-1], "next of a full page")
            after = d["next"]
        expect_eq(seen, ia, "ids of /a paged by 2")
        expect_eq(page, 2, "last page index (pages of 2, 2, 1)")
        d = list_jobs(k, "route=%2Fb&state=succeeded")
        expect_eq([j["id"] for j in d["jobs"]], ib, "route=%2Fb succeeded")
        d = list_jobs(k, "state=queued")
        expect_eq([j["id"] for j in d["jobs"]], [iq], "state=queued")
        expect_eq(list_jobs(k, "state=failed")["jobs"], [], "state=failed")
        d = list_jobs(k, "after=%d&limit=1000" % ia[2])
        expect_eq([j["id"] for j in d["jobs"]],
                  [x for x in sorted(ia + ib + [iq]) if x > ia[2]],
                  "after=%d" % ia[2])
        expect_eq(list_jobs(k, "route=/none")["jobs"], [], "route=/none")
        # The default page is 50 jobs.
        more = [trigger(k, "/q", [("Kick-Delay", "60")]) for _ in range(50)]
        every = sorted(ia + ib + [iq] + more)
        d = list_jobs(k, "")
        expect_eq([j["id"] for j in d["jobs"]], every[:50],
                  "GET /jobs without a limit")
        expect_eq(d["next"], every[49], "next of the first default page")
        d = list_jobs(k, "after=%d" % d["next"])
        expect_eq(([j["id"] for j in d["jobs"]], d["next"]),
                  (every[50:], None), "the second default page")
        for bad in ("state=bogus", "limit=0", "limit=1001", "limit=abc",
                    "limit=-1"):
            r = k.get("/jobs?" + bad)
            expect_eq(r.status, 400, "GET /jobs?%s: %r" % (bad, r))


# 10. Errors of the API.

def test_api_errors():
    routes = [("/a", "job_work", "")]
    with kickd(routes) as k:
        a = trigger(k, "/a")
        wait_job(k, a)
        for method, target, status in (
                ("GET", "/jobs/999999", 404),
                ("GET", "/jobs/999999/output", 404),
                ("DELETE", "/jobs/999999", 404),
                ("GET", "/jobs/999999?wait=1", 404),
                ("DELETE", "/jobs/%d?only=cancel" % a, 409)):
            r = k.request(method, target, with_length(method, (), b""))
            expect_eq(r.status, status, "%s %s: %r" % (method, target, r))
        for target in ("/jobs/abc", "/jobs/0", "/jobs/-1", "/jobs/1x"):
            r = k.get(target)
            expect(r.status in (400, 404), "GET %s: %r", target, r)
        r = k.request("POST", "/jobs/%d" % a, [("Content-Length", "0")])
        expect(r.status in (404, 405), "POST /jobs/ID: %r", r)
        expect_eq(get_job(k, a)["state"], "succeeded", "job after errors")
        r = k.get("/healthz")
        expect_eq(r.status, 200, "GET /healthz")


def json_error(r, status, what):
    """A job API error: status, application/json, {"error": "reason"};
    returns the reason."""
    expect(r.status == status, "%s: expected %d, got %r", what, status, r)
    d = json_body(r, what)
    expect(isinstance(d, dict) and list(d) == ["error"] and
           isinstance(d["error"], str) and d["error"] and
           "\n" not in d["error"], "%s: not {\"error\": reason}: %r",
           what, r.body)
    return d["error"]


def test_api_json_errors():
    """Every error of the job API is JSON with the right status: bad id,
    unknown job, bad query parameter, wrong method (405 with Allow)."""
    with kickd([("/a", "job_work", "")]) as k:
        a = trigger(k, "/a")
        wait_job(k, a)
        for target in ("/jobs/abc", "/jobs/0", "/jobs/-1", "/jobs/1x",
                       "/jobs/abc/output", "/jobs/abc/retry"):
            why = json_error(k.get(target), 400, "GET " + target)
            expect("id" in why, "GET %s: reason %r names no id", target, why)
        for method, target in (("GET", "/jobs/999999"),
                               ("GET", "/jobs/999999/output"),
                               ("GET", "/jobs/999999?wait=1"),
                               ("DELETE", "/jobs/999999"),
                               ("POST", "/jobs/999999/retry")):
            r = k.request(method, target, with_length(method, (), b""))
            expect_eq(json_error(r, 404, "%s %s" % (method, target)),
                      "no such job", "%s %s reason" % (method, target))
        json_error(k.get("/jobs/%d/nothing" % a), 404, "GET /jobs/ID/nothing")
        for query, word in (("state=bogus", "state"), ("limit=0", "limit"),
                            ("limit=abc", "limit"), ("after=x", "after"),
                            ("before=-1", "before"), ("order=up", "order"),
                            ("created_after=yesterday", "created_after"),
                            ("created_before=2026-13-01T00:00:00Z",
                             "created_before"),
                            ("colour=red", "colour"),
                            ("stat=failed", "stat")):
            why = json_error(k.get("/jobs?" + query), 400, "GET /jobs?" + query)
            expect(word in why, "GET /jobs?%s: reason %r does not name %r",
                   query, why, word)
        json_error(k.get("/jobs/%d?wait=999" % a), 400, "wait=999")
        for method, target, allow in (
                ("POST", "/jobs", "GET, HEAD"),
                ("DELETE", "/jobs", "GET, HEAD"),
                ("POST", "/jobs/%d" % a, "GET, HEAD, DELETE"),
                ("PUT", "/jobs/%d/output" % a, "GET, HEAD"),
                ("GET", "/jobs/%d/retry" % a, "POST"),
                ("DELETE", "/jobs/%d/retry" % a, "POST")):
            r = k.request(method, target, with_length(method, (), b""))
            json_error(r, 405, "%s %s" % (method, target))
            expect_eq(r.header("Allow"), allow, "%s %s Allow" % (method,
                                                               target))
        # Triggers keep kickd's text answers.
        r = k.request("POST", "/a", [("Kick-Delay", "x"),
                                     ("Content-Length", "0")])
        expect_error(r, 400, "bad Kick-Delay")
        expect_eq(get_job(k, a)["state"], "succeeded", "job after errors")


def test_retry():
    """POST /jobs/ID/retry: a failing job runs again, the same id, with a
    fresh set of attempts; its JSON keeps the earlier ones; its output
    grows; 409 while queued or running or once its route is gone; 404
    for none."""
    routes = [("/r", "job_work", "retries = 1"), ("/h", "job_work", ""),
              ("/gone", "job_work", "")]
    with kickd(routes) as k:
        a = trigger(k, "/r?exit=3")
        j = wait_job(k, a, timeout=10.0)
        expect_eq((j["state"], j["attempt"], j["max_attempts"],
                   j["earlier_attempts"], j["error"]),
                  ("failed", 2, 2, 0, "exit status 3"), "before the retry")
        r = k.request("POST", "/jobs/%d/retry" % a, [("Content-Length", "0")])
        expect_eq(r.status, 202, "retry of a failed job: %r" % r)
        expect_eq(json_body(r, "retry"), {"id": a, "state": "queued"},
                  "retry body")
        expect_eq(r.header("Location"), "/jobs/%d" % a, "retry Location")
        # It runs again, twice (its route's retries), and fails again.
        j = wait_job(k, a, timeout=10.0)
        expect_eq((j["id"], j["state"], j["attempt"], j["max_attempts"],
                   j["earlier_attempts"], j["exit_status"], j["error"]),
                  (a, "failed", 2, 2, 2, 3, "exit status 3"),
                  "after the retry (id, state, attempt, max_attempts, "
                  "earlier_attempts, exit_status, error)")
        expect_eq([ln.split()[1] for ln in runs_of(k, a)],
                  ["1", "2", "1", "2"], "KICK_ATTEMPT of the four runs")
        expect(parse_time(j["started_at"]) > parse_time(j["created_at"]),
               "started_at of the last run: %r", j)
        out = k.get("/jobs/%d/output" % a).body
        expect_eq(out.count(b"done:%d" % a), 4, "output of the four runs "
                  "kept (%r)" % out[-200:])
        # Queued (delayed) and running jobs: 409, unchanged.
        q = trigger(k, "/h", [("Kick-Delay", "60")])
        h = trigger(k, "/h?hold=1")
        env_of(k, h)
        for jid, state in ((q, "queued"), (h, "running")):
            r = k.request("POST", "/jobs/%d/retry" % jid,
                          [("Content-Length", "0")])
            why = json_error(r, 409, "retry of a %s job" % state)
            expect(state in why, "409 reason %r does not say %s", why,
                   state)
            expect_eq(get_job(k, jid)["state"], state, "after its retry")
        release(k, h)
        expect_eq(wait_job(k, h)["earlier_attempts"], 0, "running job's "
                  "earlier_attempts")
        r = k.request("POST", "/jobs/999999/retry", [("Content-Length", "0")])
        json_error(r, 404, "retry of no job")
        # A canceled job is ended too: it runs.
        r = k.request("DELETE", "/jobs/%d" % q)
        expect_eq(r.status, 200, "cancel of the delayed job")
        r = k.request("POST", "/jobs/%d/retry" % q, [("Content-Length", "0")])
        expect_eq(r.status, 202, "retry of a canceled job: %r" % r)
        j = wait_job(k, q, "succeeded")
        expect_eq((j["attempt"], j["earlier_attempts"], j["error"]),
                  (1, 0, None), "canceled job after its retry")
        # A retry whose client hangs up at once is carried out all the
        # same, as a fire-and-forget trigger is.
        with k.connect() as c:
            c.send(build("POST", "/jobs/%d/retry" % q,
                         [("Content-Length", "0")]))
        deadline = time.monotonic() + 5 * SLOW
        while len(runs_of(k, q)) < 2:
            expect(time.monotonic() < deadline, "the retry of a client "
                   "that hung up did not run: %r", get_job(k, q))
            time.sleep(0.02)
        j = wait_job(k, q, "succeeded")
        expect_eq((j["attempt"], j["earlier_attempts"]), (1, 1),
                  "after the retry of a client that hung up")
        # Once its route is no longer configured: 409, and it stays.
        g = trigger(k, "/gone")
        wait_job(k, g, "succeeded")
        conf = os.path.join(k.tmp, "kickd.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.split("[route /gone]")[0])
        k.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5 * SLOW
        while k.request("POST", "/gone", [("Content-Length", "0")]).status \
                != 404:
            expect(time.monotonic() < deadline, "SIGHUP did not drop /gone")
            time.sleep(0.05)
        r = k.request("POST", "/jobs/%d/retry" % g, [("Content-Length", "0")])
        why = json_error(r, 409, "retry of a job whose route is gone")
        expect("/gone" in why and "configured" in why,
               "409 reason %r does not name the route", why)
        expect_eq(get_job(k, g)["state"], "succeeded", "the job left as it "
                  "was")


def test_list_order():
    """order=desc lists newest first; next pages with before=, as it
    pages with after= in order=asc (the default)."""
    routes = [("/a", "job_work", ""), ("/b", "job_work", "")]
    with kickd(routes) as k:
        ids = [trigger(k, "/a" if i % 3 else "/b", [("Kick-Delay", "60")])
               for i in range(7)]
        d = list_jobs(k, "order=desc")
        expect_eq(([j["id"] for j in d["jobs"]], d["next"]),
                  (ids[::-1], None), "order=desc")
        expect_eq([j["id"] for j in list_jobs(k, "order=asc")["jobs"]], ids,
                  "order=asc")
        expect_eq([j["id"] for j in list_jobs(k, "")["jobs"]], ids,
                  "the default order")
        seen, before = [], None
        for _ in range(5):
            d = list_jobs(k, "order=desc&limit=3" +
                          ("&before=%d" % before if before else ""))
            got = [j["id"] for j in d["jobs"]]
            seen += got
            if d["next"] is None:
                break
            expect_eq(d["next"], got[-1], "next of a full page (desc)")
            before = d["next"]
        expect_eq(seen, ids[::-1], "desc pages of 3")
        b = [x for i, x in enumerate(ids) if i % 3 == 0]
        d = list_jobs(k, "order=desc&route=/b")
        expect_eq([j["id"] for j in d["jobs"]], b[::-1], "desc, route=/b")
        d = list_jobs(k, "order=desc&state=queued&limit=2&before=%d"
                      % ids[4])
        expect_eq([j["id"] for j in d["jobs"]], [ids[3], ids[2]],
                  "desc, state, before, limit")
        d = list_jobs(k, "order=desc&after=%d&before=%d" % (ids[1], ids[5]))
        expect_eq([j["id"] for j in d["jobs"]], [ids[4], ids[3], ids[2]],
                  "desc between after and before")


def rfc3339_plus1(t):
    """Seconds since the epoch as RFC 3339 with ms in +01:00."""
    ms = int(round(t * 1000))
    tm = time.gmtime(ms // 1000 + 3600)
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + ".%03d+01:00" % (
        ms % 1000)


def test_list_created():
    """created_after= (at or after) and created_before= (before), as RFC
    3339 (Z, an offset, a fraction) or epoch ms; bad values 400."""
    with kickd([("/a", "job_work", "")]) as k:
        ids = []
        for i in range(4):
            ids.append(trigger(k, "/a", [("Kick-Delay", "60")]))
            time.sleep(0.05)
        created = [parse_time(get_job(k, x)["created_at"]) for x in ids]
        expect(all(created[i] < created[i + 1] for i in range(3)),
               "created_at does not grow: %r", created)
        t1, t3 = created[1], created[3]
        ms1, ms3 = int(round(t1 * 1000)), int(round(t3 * 1000))
        z1 = get_job(k, ids[1])["created_at"]
        for label, after, before in (
                ("epoch ms", str(ms1), str(ms3)),
                ("RFC 3339 Z", z1, get_job(k, ids[3])["created_at"]),
                ("RFC 3339 +01:00", rfc3339_plus1(t1).replace("+", "%2B"),
                 rfc3339_plus1(t3).replace("+", "%2B")),
                ("RFC 3339, a bare +", rfc3339_plus1(t1),
                 rfc3339_plus1(t3))):
            q = "created_after=%s&created_before=%s" % (after, before)
            d = list_jobs(k, q)
            expect_eq([j["id"] for j in d["jobs"]], ids[1:3], label)
            d = list_jobs(k, q + "&order=desc")
            expect_eq([j["id"] for j in d["jobs"]], ids[2:0:-1],
                      label + ", desc")
        expect_eq([j["id"] for j in
                   list_jobs(k, "created_after=%d" % ms1)["jobs"]], ids[1:],
                  "created_after alone")
        expect_eq([j["id"] for j in
                   list_jobs(k, "created_after=%d" % (ms1 + 1))["jobs"]],
                  ids[2:], "created_after one ms later")
        expect_eq([j["id"] for j in
                   list_jobs(k, "created_before=%d" % ms1)["jobs"]], ids[:1],
                  "created_before alone")
        expect_eq([j["id"] for j in list_jobs(
            k, "created_before=2000-01-01T00:00:00Z")["jobs"]], [],
            "created_before 2000")
        expect_eq([j["id"] for j in list_jobs(
            k, "created_after=2999-01-01T00:00:00Z")["jobs"]], [],
            "created_after 2999")
        for bad in ("created_after=", "created_after=abc",
                    "created_after=-5", "created_before=0",
                    "created_after=2026-02-30T00:00:00Z",
                    "created_after=2026-12-06T10:00:00",
                    "created_before=2026-12-06T25:00:00Z",
                    "created_before=2026-12-06T10:00:00%2B1:00",
                    "created_after=99999999999999999"):
            name = bad.split("=")[0]
            why = json_error(k.get("/jobs?" + bad), 400, "GET /jobs?" + bad)
            expect(name in why, "%s: reason %r does not name %s", bad, why,
                   name)


# 11. /metrics, /healthz.

def metrics(k):
    r = k.get("/metrics")
    expect_eq(r.status, 200, "GET /metrics status")
    ct = r.header("Content-Type", "")
    expect(ct.startswith("text/plain"), "metrics Content-Type %r", ct)
    samples, types = [], {}
    for ln in r.body.decode().splitlines():
        if ln.startswith("# TYPE "):
            _, _, name, kind = ln.split(None, 3)
            types[name] = kind
            continue
        if not ln or ln.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', ln)
        expect(m, "bad metrics line %r", ln)
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                 m.group(3) or ""))
        samples.append((m.group(1), labels, float(m.group(4))))
    return samples, types


def sample(samples, name, **labels):
    for n, lab, v in samples:
        if n == name and all(lab.get(a) == b for a, b in labels.items()):
            return v
    return None


def test_metrics():
    routes = [("/m", "job_work", ""), ("/mf", "job_work", "")]
    with kickd(routes) as k:
        k.healthy()
        a = [trigger(k, "/m") for _ in range(3)]
        f = trigger(k, "/mf?exit=1")
        q = trigger(k, "/m", [("Kick-Delay", "60")])
        for jid in a + [f]:
            wait_job(k, jid)
        s, types = metrics(k)
        expect_eq(sample(s, "kick_jobs", route="/m", state="succeeded"), 3.0,
                  'kick_jobs{route="/m",state="succeeded"}')
        expect_eq(sample(s, "kick_jobs", route="/m", state="queued"), 1.0,
                  'kick_jobs{route="/m",state="queued"}')
        expect_eq(sample(s, "kick_jobs", route="/mf", state="failed"), 1.0,
                  'kick_jobs{route="/mf",state="failed"}')
        expect_eq(sample(s, "kick_queue_depth"), 1.0, "kick_queue_depth")
        for h in ("kick_accept_seconds", "kick_run_seconds"):
            expect_eq(types.get(h), "histogram", "# TYPE of " + h)
            cnt = sample(s, h + "_count")
            inf = sample(s, h + "_bucket", le="+Inf")
            expect(cnt is not None and sample(s, h + "_sum") is not None,
                   "%s_count/_sum missing", h)
            expect_eq(inf, cnt, h + '_bucket{le="+Inf"} vs _count')
            buckets = sorted((float(lab["le"]), v) for n, lab, v in s
                             if n == h + "_bucket")
            expect(len(buckets) >= 2, "%s has %d buckets", h, len(buckets))
            expect(all(buckets[i][1] <= buckets[i + 1][1]
                       for i in range(len(buckets) - 1)),
                   "%s buckets not cumulative: %r", h, buckets)
        expect(sample(s, "kick_accept_seconds_count") >= 5,
               "kick_accept_seconds_count %r < 5 triggers",
               sample(s, "kick_accept_seconds_count"))
        expect(sample(s, "kick_run_seconds_count") >= 4,
               "kick_run_seconds_count %r < 4 runs",
               sample(s, "kick_run_seconds_count"))
        r = k.request("DELETE", "/jobs/%d" % q)
        expect_eq(r.status, 200, "cancel")
        s, _ = metrics(k)
        expect_eq(sample(s, "kick_queue_depth"), 0.0,
                  "kick_queue_depth after the cancel")
        expect_eq(sample(s, "kick_jobs", route="/m", state="canceled"), 1.0,
                  'kick_jobs{route="/m",state="canceled"}')


# 12. Progress through kick ctl.

def test_progress():
    routes = [("/p", "job_progress", "")]
    with kickd(routes) as k:
        a = trigger(k, "/p")
        rec = wait_line(os.path.join(k.tmp, "progress.%d" % a))
        first, bad = rec.split()[:2]
        expect_eq(first, "first=0", "kick ctl progress 42 exit status")
        expect(bad != "bad=0", "kick ctl progress 101 exited 0")
        j = get_job(k, a)
        expect_eq((j["state"], j["progress"], j["progress_message"]),
                  ("running", 42, "half way there"),
                  "while running (state, progress, progress_message)")
        release(k, a)
        j = wait_job(k, a)
        expect_eq((j["state"], j["progress"], j["progress_message"]),
                  ("succeeded", 100, "done"),
                  "at the end (state, progress, progress_message)")
        lines = read_lines(os.path.join(k.tmp, "progress.%d" % a))
        expect_eq(lines[-1], "last=0", "kick ctl progress 100 status")
        b = trigger(k, "/p", [("Kick-Delay", "60")])
        j = get_job(k, b)
        expect_eq((j["progress"], j["progress_message"]), (None, None),
                  "a job that never reported progress")


# 13. Modes: attach, auto with Prefer: respond-async, --mode.

def test_modes():
    routes = [("/att", "job_work", "mode = attach"),
              ("/auto", "job_work", "mode = auto"),
              ("/det", "job_work", "mode = detach")]
    with kickd(routes) as k:
        r = k.request("POST", "/att", body=b"x")
        expect_eq(r.status, 200, "attach: status")
        expect(b"out:" in r.body, "attach: body %r", r.body)
        r = k.request("POST", "/auto", body=b"x")
        expect_eq(r.status, 200, "auto without Prefer: status")
        expect(b"out:" in r.body, "auto without Prefer: body %r", r.body)
        expect_eq(r.header("Preference-Applied"), None,
                  "auto without Prefer: Preference-Applied")
        for prefer in ("respond-async", "respond-async, wait=10",
                       "wait=5, Respond-Async"):
            r = k.request("POST", "/auto", [("Prefer", prefer)], b"x")
            expect_eq(r.status, 202, "auto with Prefer: %s" % prefer)
            expect(r.has_token("Preference-Applied", "respond-async"),
                   "auto with Prefer %r: Preference-Applied: %r", prefer,
                   r.header("Preference-Applied"))
            jid = json_body(r, "auto 202")["id"]
            expect_eq(wait_job(k, jid)["state"], "succeeded", "auto job")
        r = k.request("POST", "/auto", [("Prefer", "return=minimal")], b"x")
        expect_eq(r.status, 200, "auto with another preference")
        trigger(k, "/det")
    for mode, prefer, want in (("detach", None, 202), ("auto", None, 200),
                               ("auto", "respond-async", 202),
                               ("attach", "respond-async", 200)):
        with Kickd(args=["--mode", mode], env=PATH_ENV) as k:
            hdr = [("Prefer", prefer)] if prefer else []
            r = k.request("POST", "/job_work?tag=m", hdr, b"x")
            expect_eq(r.status, want, "--mode %s, Prefer %s" % (mode, prefer))
            if want == 202:
                jid = json_body(r, "--scripts 202")["id"]
                expect_eq(wait_job(k, jid)["state"], "succeeded",
                          "--scripts job")
                expect(os.path.exists(os.path.join(k.scripts, "mark.m")),
                       "--scripts job left no mark")


# 14. A store that cannot write answers 503, never 202.

FULL_WRAPPER = """import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
n = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (n, resource.RLIM_INFINITY))
os.execv(sys.argv[2], sys.argv[2:])
"""


class FullDiskKickd(Kickd):
    """kickd whose files cannot grow past a limit (RLIMIT_FSIZE, SIGXFSZ
    ignored): writes past it fail with EFBIG, as on a full disk."""

    limit = 512 * 1024

    def _command(self, port):
        family, cmd = Kickd._command(self, port)
        w = os.path.join(self.tmp, "fsize.py")
        with open(w, "w") as f:
            f.write(FULL_WRAPPER)
        return family, [sys.executable, w, str(self.limit)] + cmd


def test_store_error_503():
    routes = [("/d", "job_work", "")]
    k = FullDiskKickd(config=config(routes), env=PATH_ENV)
    with k:
        body = b"b" * 32768
        got, ids = [], []
        for i in range(60):
            r = k.request("POST", "/d", [("Kick-Delay", "3600")], body)
            got.append(r.status)
            expect(r.status in (202, 503), "trigger %d on a full disk: %r",
                   i, r)
            if r.status == 202:
                ids.append(json_body(r, "202")["id"])
                continue
            # The client may try again soon.
            expect_eq(r.header("Retry-After"), "1", "503's Retry-After")
            if len([s for s in got if s == 503]) >= 5:
                break
        expect(503 in got, "no 503 after %d triggers of 32 KiB with files "
               "limited to 512 KiB: %r", len(got), got)
        k.healthy("after store errors")
        # Every 202 is a stored job.
        for jid in ids:
            expect_eq(get_job(k, jid)["state"], "queued", "accepted job")
        # Room again on the disk: triggers are accepted again.
        import resource
        inf = resource.RLIM_INFINITY
        resource.prlimit(k.proc.pid, resource.RLIMIT_FSIZE, (inf, inf))
        r = k.request("POST", "/d", [("Kick-Delay", "3600")], body)
        expect_eq(r.status, 202, "trigger once the disk has room again")
        jid = json_body(r, "202")["id"]
        expect_eq(get_job(k, jid)["state"], "queued", "job stored after "
                  "the disk had room again")


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
