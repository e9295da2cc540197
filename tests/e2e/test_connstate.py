# SPDX-License-Identifier: MIT
# Connection state for shell scripts (PRODUCT.md "Connection state" and
# "kick ctl"): a client that hangs up ends the script unless it ignores
# user aborts, at once (abort = hangup) or at its next write (abort =
# write, PHP's rule), the wall-clock time limit, shutdown commands with
# KICK_CONNECTION_STATUS and KICK_EXIT_STATUS/KICK_SIGNAL, the grace period
# before SIGKILL, half-closes, and `kick ctl` with its control endpoint.
#
# Shutdown commands (scripts/cs_record) append a line to a file in the
# test's temp dir; tests poll for it. Scripts find `kick` through PATH,
# which kickd passes on: the build dir comes first in kickd's PATH.

import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, Closed, build, expect, expect_eq,  # noqa: E402
                     expect_error, free_port, kick_bin, path_env_with,
                     run, SLOW)

KICK = kick_bin()
PATH_ENV = path_env_with(KICK)


def config(routes, server=""):
    """kickd config text: [server] with extra lines, then each
    (path, script, extra lines) as an attached route whose script gets
    CS_DIR = the test's temp dir."""
    out = ["[server]", "listen = {listen}", "db = {db}"]
    out += [ln for ln in server.splitlines() if ln.strip()]
    for path, script, extra in routes:
        out += ["", "[route %s]" % path, "exec = {scripts}/%s" % script,
                "mode = attach", "env = CS_DIR={tmp}"]
        out += [ln.strip() for ln in extra.splitlines() if ln.strip()]
    return "\n".join(out) + "\n"


def recorder(name, tag):
    """An on_shutdown line that records into TMP/name with tag."""
    return "on_shutdown = {scripts}/cs_record {tmp}/%s %s" % (name, tag)


def kickd(routes, server=""):
    return Kickd(config=config(routes, server), env=PATH_ENV)


def wait_file(path, timeout=None, lines=1, what=None):
    """Polls until path holds at least `lines` complete lines; returns
    them. Fails after timeout (5 s, scaled)."""
    deadline = time.monotonic() + (timeout or 5.0 * SLOW)
    while True:
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if text.endswith("\n") and len(text.splitlines()) >= lines:
            return text.splitlines()
        if time.monotonic() >= deadline:
            raise AssertionError("%s: %s did not get %d line(s) in time; "
                                 "has %r" % (what or "wait", path, lines,
                                             text))
        time.sleep(0.003)


def record(k, name, lines=1, timeout=None):
    """The shutdown record(s) in TMP/name: a list of dicts with tag,
    status, exit, signal, script, job."""
    out = []
    for ln in wait_file(os.path.join(k.tmp, name), timeout, lines,
                        "shutdown record"):
        tag, _, rest = ln.partition(" status=")
        d = {"tag": tag}
        # The tag may hold spaces; the fields after it do not.
        for part in ("status=" + rest).split(" "):
            key, _, val = part.partition("=")
            d[key] = val
        out.append(d)
    return out


def expect_record(rec, status, exit=None, sig=None, what="shutdown"):
    expect_eq(rec["status"], str(status), what + " KICK_CONNECTION_STATUS")
    if exit is not None:
        expect_eq((rec["exit"], rec["signal"]), (str(exit), "unset"),
                  what + " (KICK_EXIT_STATUS, KICK_SIGNAL)")
    if sig is not None:
        expect_eq((rec["exit"], rec["signal"]), ("unset", str(sig)),
                  what + " (KICK_EXIT_STATUS, KICK_SIGNAL)")


def read_pid(k, name="pid"):
    return int(wait_file(os.path.join(k.tmp, name), what=name)[0])


def proc_stat(pid):
    """(state, ppid, pgrp) of pid, or None if there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = st.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])


def lingers(st, k):
    """A process still counts unless it is a zombie of another parent than
    kickd: an orphan that died waits for pid 1 to reap it, which is not
    kickd's business (and slow in some containers)."""
    return st is not None and (st[0] != "Z" or st[1] == k.proc.pid)


def group_members(k, pgid):
    """Processes of group pgid that still count (see lingers)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[2] == pgid and lingers(st, k):
                out.append((int(d), st))
    return out


def expect_gone(k, pid, what, timeout=None):
    deadline = time.monotonic() + (timeout or 2.0 * SLOW)
    while lingers(proc_stat(pid), k):
        if time.monotonic() >= deadline:
            raise AssertionError("%s (pid %d) still exists: %r"
                                 % (what, pid, proc_stat(pid)))
        time.sleep(0.01)


def expect_group_gone(k, pgid, what, timeout=None):
    deadline = time.monotonic() + (timeout or 2.0 * SLOW)
    while group_members(k, pgid):
        if time.monotonic() >= deadline:
            raise AssertionError("%s: processes of group %d left: %r"
                                 % (what, pgid, group_members(k, pgid)))
        time.sleep(0.01)


def exists(k, name):
    return os.path.exists(os.path.join(k.tmp, name))


def hang_up(c, reset=False):
    """Closes the client side: FIN, or RST with reset."""
    if reset:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
    c.close()


def start(k, target, method="GET", body=b""):
    """Opens a connection and sends a complete request."""
    c = k.connect()
    c.send(build(method, target, body=body))
    return c


def read_until(c, needle, timeout=None):
    """Reads a streamed response's head and then body bytes until needle
    shows up; returns (response head, body so far)."""
    deadline = time.monotonic() + (timeout or 5.0 * SLOW)
    r = c.read_head(deadline - time.monotonic())
    body = b""
    while needle not in body:
        if r.header("Transfer-Encoding", "").lower() == "chunked":
            n = int(c.read_line(deadline).split(b";")[0], 16)
            if n == 0:
                raise AssertionError("response ended before %r: %r"
                                     % (needle, body))
            body += c.read_exact(n, deadline)
            expect_eq(c.read_exact(2, deadline), b"\r\n", "chunk end")
        else:
            c._fill(deadline)
            body += c.buf
            c.buf = b""
    return r, body


def kick_ctl(args, env_extra=None, timeout=10):
    """Runs `kick ctl ARGS` outside any script."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KICK")}
    env.update(env_extra or {})
    return subprocess.run([KICK, "ctl"] + list(args), env=env,
                          capture_output=True, text=True, timeout=timeout)


# 1. A client that hangs up ends a script that does not ignore it: with
# abort = hangup at once, though the script is silent.

def test_abort_terminates_script():
    routes = [("/t_sleep", "cs_sleep",
               "abort = hangup\n" + recorder("shut", "sleep"))]
    with kickd(routes) as k:
        for n, reset in enumerate((False, True)):
            for name in ("pid", "shut"):
                if exists(k, name):
                    os.unlink(os.path.join(k.tmp, name))
            c = start(k, "/t_sleep")
            pid = read_pid(k)
            hang_up(c, reset)
            how = "reset" if reset else "close"
            rec = record(k, "shut")[0]
            expect_record(rec, 1, sig=signal.SIGTERM.value,
                          what="after client " + how)
            expect_eq(rec["script"], "/t_sleep", "SCRIPT_NAME of shutdown")
            expect_gone(k, pid, "script after client " + how)
            expect_group_gone(k, pid, "script's group after client " + how)
            expect(not exists(k, "finished"), "script ran to its end")
        k.healthy("after aborts")


# 2. kick ctl ignore-user-abort on: runs to its end, output discarded.

def test_ignore_user_abort_runs_to_end():
    routes = [("/t_ignore", "cs_ignore", recorder("shut", "ignore"))]
    with kickd(routes) as k:
        c = start(k, "/t_ignore")
        pid = read_pid(k)
        wait_file(os.path.join(k.tmp, "ready"), what="ready")
        hang_up(c)
        t0 = time.monotonic()
        rec = record(k, "shut", timeout=10 * SLOW)[0]
        expect(time.monotonic() - t0 > 0.5,
               "shutdown ran %.2fs after the hang-up; the script sleeps 1 s",
               time.monotonic() - t0)
        expect_record(rec, 1, exit=0, what="ignored abort")
        expect_eq(wait_file(os.path.join(k.tmp, "prev"))[0], "0 off",
                  "kick ctl ignore-user-abort on: exit status and previous "
                  "value")
        expect_eq(wait_file(os.path.join(k.tmp, "wrote"))[0], "head=0",
                  "writes after the abort (300 kB) did not fail")
        wait_file(os.path.join(k.tmp, "finished"), what="finished marker")
        expect_gone(k, pid, "script")
        k.healthy("after an ignored abort")


# 3. The time limit: 504 before any output, restarted by set-time-limit,
# the connection closed after a head.

def test_time_limit():
    routes = [("/t_limit", "cs_sleep",
               "time_limit = 1\n" + recorder("shut", "limit")),
              ("/t_extend", "cs_extend",
               "time_limit = 1\n" + recorder("shut2", "extend")),
              ("/t_headlimit", "cs_headsleep",
               "time_limit = 1\n" + recorder("shut3", "head"))]
    with kickd(routes) as k:
        t0 = time.monotonic()
        with start(k, "/t_limit") as c:
            pid = read_pid(k)
            r = c.response(timeout=10 * SLOW)
            took = time.monotonic() - t0
            expect_error(r, 504, "time limit before output")
            expect(0.9 <= took <= 1.0 + 1.5 * SLOW,
                   "504 after %.2fs with time_limit = 1", took)
        rec = record(k, "shut")[0]
        expect_record(rec, 2, sig=signal.SIGTERM.value, what="time limit")
        expect_gone(k, pid, "script after its time limit")
        expect(not exists(k, "finished"), "script ran to its end")

        # kick ctl set-time-limit 3 at 0.8 s: ended at about 3.8 s.
        t0 = time.monotonic()
        with start(k, "/t_extend") as c:
            r = c.response(timeout=10 * SLOW)
            took = time.monotonic() - t0
        expect_eq(wait_file(os.path.join(k.tmp, "extended"))[0], "0",
                  "kick ctl set-time-limit 3 exit status")
        expect_error(r, 504, "extended time limit")
        expect(3.3 <= took <= 3.8 + 1.2 * SLOW,
               "set-time-limit 3 at 0.8 s: answered after %.2fs, want "
               "about 3.8 s", took)
        expect_record(record(k, "shut2")[0], 2, sig=signal.SIGTERM.value,
                      what="extended time limit")
        expect(not exists(k, "finished"), "extended script ran to its end")

        # Head already sent: the connection is closed, the body unfinished.
        os.unlink(os.path.join(k.tmp, "pid"))
        t0 = time.monotonic()
        with start(k, "/t_headlimit") as c:
            r = c.read_head()
            expect_eq(r.status, 200, "status before the time limit")
            rest = c.read_to_close(10 * SLOW)
            took = time.monotonic() - t0
            expect(b"started" in rest, "body before the limit: %r", rest)
            expect(not rest.endswith(b"0\r\n\r\n") and b"finished" not in
                   rest, "a timed-out response looks complete: %r", rest)
            expect(0.9 <= took <= 1.0 + 1.5 * SLOW,
                   "connection closed after %.2fs with time_limit = 1", took)
        expect_record(record(k, "shut3")[0], 2, sig=signal.SIGTERM.value,
                      what="time limit after the head")
        k.healthy("after time limits")


def test_set_time_limit_zero():
    routes = [("/t_nolimit", "cs_nolimit",
               "time_limit = 1\n" + recorder("shut", "nolimit"))]
    with kickd(routes) as k:
        r = k.request("GET", "/t_nolimit", timeout=10 * SLOW)
        expect_eq((r.status, r.body), (200, b"no limit: 0\n"),
                  "kick ctl set-time-limit 0 under time_limit = 1")
        expect_record(record(k, "shut")[0], 0, exit=0, what="no limit")


# 4. ignore_user_abort on, client gone, then the time limit: status 3.

def test_abort_then_time_limit():
    routes = [("/t_both", "cs_ignore_sleep",
               "time_limit = 2\n" + recorder("shut", "both"))]
    with kickd(routes) as k:
        t0 = time.monotonic()
        c = start(k, "/t_both")
        pid = read_pid(k)
        wait_file(os.path.join(k.tmp, "ready"), what="ready")
        hang_up(c)
        rec = record(k, "shut", timeout=10 * SLOW)[0]
        took = time.monotonic() - t0
        expect(took >= 1.8, "ended %.2fs after the request: the abort was "
               "not ignored until the time limit of 2 s", took)
        expect_record(rec, 3, sig=signal.SIGTERM.value,
                      what="abort + time limit")
        expect_gone(k, pid, "script")
        expect(not exists(k, "finished"), "script ran to its end")


# 5. A script that ignores SIGTERM: SIGKILL after kill_grace, its whole
# group gone, no zombie.

def test_sigterm_ignored_killed_after_grace():
    routes = [("/t_trap", "cs_trapterm",
               "abort = hangup\n" + recorder("shut", "trap"))]
    with kickd(routes, "kill_grace = 1") as k:
        c = start(k, "/t_trap")
        pid = read_pid(k)
        bg = int(wait_file(os.path.join(k.tmp, "bgpid"))[0])
        expect_eq(proc_stat(bg)[2], pid, "background child's group")
        hang_up(c)
        t0 = time.monotonic()
        rec = record(k, "shut", timeout=10 * SLOW)[0]
        took = time.monotonic() - t0
        expect_record(rec, 1, sig=signal.SIGKILL.value,
                      what="SIGTERM ignored")
        expect(0.8 <= took <= 1.0 + 1.5 * SLOW,
               "killed %.2fs after the hang-up with kill_grace = 1", took)
        expect_gone(k, pid, "script")
        expect_gone(k, bg, "script's background child")
        expect_group_gone(k, pid, "script's group")
        k.check_zombies()
        k.healthy("after SIGKILL")


# 6. The fire-and-forget caller of the original PHP article: connect,
# write a complete request, close without reading.

def test_fire_and_forget():
    routes = [("/t_fire", "cs_fire",
               "ignore_user_abort = on\n" + recorder("shut", "fire"))]
    with kickd(routes) as k:
        s = socket.create_connection(("127.0.0.1", k.port), timeout=5)
        s.sendall(build("POST", "/t_fire", ["Content-Type: "
                        "application/x-www-form-urlencoded"], body=b"a=1"))
        s.close()
        rec = record(k, "shut", timeout=10 * SLOW)[0]
        expect_eq(wait_file(os.path.join(k.tmp, "finished"))[0],
                  "finished body=a=1", "fire-and-forget script's marker")
        expect_record(rec, 1, exit=0, what="fire-and-forget")
        k.healthy("after fire-and-forget")


# 7. Half-close: shutdown(SHUT_WR) after a complete request counts as a
# hang-up (the documented decision, as nginx does).

def test_half_close_is_abort():
    routes = [("/t_sleep", "cs_sleep",
               "abort = hangup\n" + recorder("shut", "half"))]
    with kickd(routes) as k:
        with start(k, "/t_sleep") as c:
            pid = read_pid(k)
            c.sock.shutdown(socket.SHUT_WR)
            rec = record(k, "shut")[0]
            expect_record(rec, 1, sig=signal.SIGTERM.value, what="half-close")
            expect_gone(k, pid, "script after a half-close")
            # kickd closes its side too; no complete response came.
            rest = c.read_to_close(5 * SLOW)
            expect(c.eof, "connection still open after the abort")
            expect(b"finished" not in rest, "response after abort: %r", rest)


# 8. kick ctl status, and the control endpoint refusing other runs.

def test_ctl_without_kick_on_path():
    """kickd started with a PATH that has no kick: a script's kick ctl
    still works, through the kick beside kickd, which kickd puts last on
    the scripts' PATH."""
    with Kickd(env={"PATH": "/usr/bin:/bin"}) as k:
        r = k.get("/ctl_status")
        expect_eq((r.status, r.body), (200, b"0\nrc=0\n"),
                  "kick ctl status with no kick on kickd's PATH")
        r = k.get("/env")
        env = dict(ln.split("=", 1) for ln in r.body.decode().splitlines()
                   if "=" in ln)
        here = os.path.dirname(os.path.realpath(k.proc.args[0]))
        expect_eq(env.get("PATH"), "/usr/bin:/bin:" + here,
                  "the scripts' PATH")


def test_ctl_status_and_forgery():
    routes = [("/t_wait", "cs_wait", "")]
    with kickd(routes) as k:
        ca, cb = start(k, "/t_wait"), start(k, "/t_wait")
        try:
            ra, body_a = read_until(ca, b"control=")
            while not body_a.endswith(b"\n"):
                body_a += _more(ca)
            rb, body_b = read_until(cb, b"control=")
            while not body_b.endswith(b"\n"):
                body_b += _more(cb)
            expect_eq(ra.status, 200, "status")
            for body in (body_a, body_b):
                expect(b"status=0 rc=0\n" in body,
                       "kick ctl status inside a normal run: %r", body)
            url_a = _control(body_a, k)
            url_b = _control(body_b, k)
            key_a = url_a.rsplit("/", 1)[1]
            key_b = url_b.rsplit("/", 1)[1]
            id_a, sec_a = key_a.split(".")
            id_b, sec_b = key_b.split(".")
            expect(id_a != id_b and sec_a != sec_b, "two runs share %r %r",
                   key_a, key_b)
            base = "/_kick/run/"
            # The right key works (so the refusals below are about keys).
            r = k.get(base + key_a + "/status")
            expect_eq((r.status, r.body), (200, b"0\n"), "own status")
            # One hex digit of the secret changed.
            last = sec_a[-1]
            forged = sec_a[:-1] + ("0" if last != "0" else "1")
            expect(all(ch in "0123456789abcdefABCDEF" for ch in sec_a),
                   "secret is not hex: %r", sec_a)
            r = k.get(base + id_a + "." + forged + "/status")
            expect_eq(r.status, 403, "forged secret, GET status")
            r = k.request("POST", base + id_a + "." + forged +
                          "/ignore-user-abort", body=b"on")
            expect_eq(r.status, 403, "forged secret, POST ignore-user-abort")
            # Another run's id with this run's secret, and the reverse.
            for key in (id_b + "." + sec_a, id_a + "." + sec_b):
                r = k.get(base + key + "/status")
                expect_eq(r.status, 403, "mixed key %s" % key)
            # kick ctl with a forged KICK_CONTROL: exit 4.
            p = kick_ctl(["ignore-user-abort", "on"],
                         {"KICK_CONTROL": url_a[:-len(sec_a)] + forged})
            expect_eq(p.returncode, 4, "kick ctl with a forged secret: "
                      "exit status (stderr %r)" % p.stderr)
            expect(p.stderr.strip(), "kick ctl refused without a message")
            # Nothing forged took effect: ignore_user_abort is still off.
            r = k.request("POST", base + key_a + "/ignore-user-abort",
                          body=b"off")
            expect_eq((r.status, r.body), (200, b"off\n"),
                      "ignore-user-abort after forged attempts")
        finally:
            with open(os.path.join(k.tmp, "release"), "w"):
                pass
        for c, body in ((ca, body_a), (cb, body_b)):
            rest = b""
            while b"released\n" not in body + rest:
                rest += _more(c)
            c.close()
        # A run that has ended (its process reaped, its shutdown commands
        # done) has no control endpoint any more; until then it is still
        # the same run.
        deadline = time.monotonic() + 3.0 * SLOW
        r = k.get(base + key_a + "/status")
        while r.status != 403 and time.monotonic() < deadline:
            time.sleep(0.05)
            r = k.get(base + key_a + "/status")
        expect_eq(r.status, 403, "ended run's key")

        # Outside a script: exit 3 and a message.
        p = kick_ctl(["status"])
        expect_eq(p.returncode, 3, "kick ctl outside a script: exit status")
        expect("not inside a kick script" in p.stderr,
               "kick ctl outside a script: stderr %r", p.stderr)
        expect_eq(p.stdout, "", "kick ctl outside a script: stdout")
        # Usage errors: exit 2, usage on stderr.
        for args in (["set-time-limit", "abc"], ["bogus"], [],
                     ["ignore-user-abort", "maybe"], ["status", "x"],
                     ["on-shutdown"], ["set-time-limit"]):
            p = kick_ctl(args, {"KICK_CONTROL": url_a})
            expect_eq(p.returncode, 2, "kick ctl %s: exit status" % args)
            expect("usage" in p.stderr, "kick ctl %s: stderr %r", args,
                   p.stderr)
        # kickd unreachable: exit 5.
        dead = "http://127.0.0.1:%d/_kick/run/%s" % (free_port(), key_a)
        p = kick_ctl(["status"], {"KICK_CONTROL": dead})
        expect_eq(p.returncode, 5, "kick ctl, kickd unreachable: exit "
                  "status (stderr %r)" % p.stderr)


def _more(c, timeout=None):
    """Next piece of a chunked body (a chunk's data)."""
    deadline = time.monotonic() + (timeout or 5.0 * SLOW)
    n = int(c.read_line(deadline).split(b";")[0], 16)
    if n == 0:
        raise Closed("response ended; have %r" % c.buf[:200])
    d = c.read_exact(n, deadline)
    expect_eq(c.read_exact(2, deadline), b"\r\n", "chunk end")
    return d


def _control(body, k):
    for ln in body.decode().splitlines():
        if ln.startswith("control="):
            url = ln[len("control="):]
            want = "http://127.0.0.1:%d/_kick/run/" % k.port
            expect(url.startswith(want), "KICK_CONTROL %r, want %s...",
                   url, want)
            return url
    raise AssertionError("no control= line in %r" % body)


# 9. Shutdown commands after a normal end, in order registered.

def test_shutdown_order_normal_end():
    routes = [("/t_reg", "cs_register", recorder("order", "config")),
              ("/t_reg7", "cs_register",
               "env = CS_EXIT=7\n" + recorder("order", "config"))]
    with kickd(routes) as k:
        r = k.get("/t_reg")
        expect_eq((r.status, r.body), (200, b"registered\n"), "response")
        recs = record(k, "order", lines=3)
        expect_eq([x["tag"] for x in recs],
                  ["config", "first", "second, spaced  tag"],
                  "shutdown commands' order (and arguments)")
        for x in recs:
            expect_record(x, 0, exit=0, what="normal end, " + x["tag"])
            expect_eq(x["script"], "/t_reg", "SCRIPT_NAME of " + x["tag"])
        expect(len(set(x["job"] for x in recs)) == 1 and
               recs[0]["job"] not in ("", "unset"),
               "KICK_JOB_ID of shutdown commands: %r", recs)
        # Their stdout goes to kickd's stderr.
        deadline = time.monotonic() + 2 * SLOW
        while "cs_record ran: second, spaced  tag" not in k.stderr_text():
            expect(time.monotonic() < deadline,
                   "shutdown command's stdout not in kickd's stderr")
            time.sleep(0.01)

        r = k.get("/t_reg7")
        expect_eq(r.status, 200, "status of a script exiting 7")
        recs = record(k, "order", lines=6)[3:]
        expect_eq([x["tag"] for x in recs],
                  ["config", "first", "second, spaced  tag"], "order")
        for x in recs:
            expect_record(x, 0, exit=7, what="exit 7, " + x["tag"])


# 10. A shutdown command that hangs is ended; kickd keeps serving.

def test_shutdown_command_bounded():
    routes = [("/t_reg", "cs_register",
               "on_shutdown = {scripts}/cs_hangshut {tmp}/hangpid")]
    with kickd(routes, "shutdown_timeout = 1\nkill_grace = 1") as k:
        r = k.get("/t_reg")
        expect_eq((r.status, r.body), (200, b"registered\n"), "response")
        hang = int(wait_file(os.path.join(k.tmp, "hangpid"))[0])
        t0 = time.monotonic()
        k.healthy("while a shutdown command hangs")
        r = k.get("/pgid")
        expect_eq(r.status, 200, "another script while a shutdown command "
                  "hangs")
        # The registered commands run after the hanging one is ended:
        # SIGTERM at 1 s is ignored, SIGKILL at 2 s.
        recs = record(k, "order", lines=2, timeout=10 * SLOW)
        took = time.monotonic() - t0
        expect_eq([x["tag"] for x in recs], ["first", "second, spaced  tag"],
                  "commands after the hanging one")
        expect(1.6 <= took <= 2.0 + 2.0 * SLOW,
               "next shutdown command %.2fs after the hanging one started; "
               "want about 2 s (shutdown_timeout 1 + kill_grace 1)", took)
        expect_gone(k, hang, "hanging shutdown command")
        k.check_zombies()
        k.healthy("after the hanging shutdown command")
    # Leaving the with block stops kickd with SIGTERM and checks exit 0.


# 11. The abort is noticed at once, with no write by the script.

def test_abort_noticed_fast():
    routes = [("/t_sleep", "cs_sleep",
               "abort = hangup\n" + recorder("shut", "fast"))]
    with kickd(routes) as k:
        worst = 0.0
        for _ in range(3):
            for name in ("pid", "shut"):
                if exists(k, name):
                    os.unlink(os.path.join(k.tmp, name))
            c = start(k, "/t_sleep")
            pid = read_pid(k)
            time.sleep(0.05)  # the script is asleep, silent
            t0 = time.monotonic()
            hang_up(c)
            rec = record(k, "shut")[0]
            worst = max(worst, time.monotonic() - t0)
            expect_record(rec, 1, sig=signal.SIGTERM.value, what="fast")
            expect_gone(k, pid, "script")
        expect(worst < 1.0 * SLOW, "abort to shutdown command took %.3fs",
               worst)


# 12. Turning ignore_user_abort off after the abort ends the script at
# once with abort = hangup, at its next write (2 s later) with abort =
# write; kick ctl status shows the abort to a silent script that ignores
# it, at once.

def test_ignore_off_after_abort():
    for rule, ends in (("hangup", "at once"), ("write", "at the write")):
        routes = [("/t_unignore", "cs_unignore",
                   "abort = %s\n" % rule + recorder("shut", "unignore"))]
        with kickd(routes) as k:
            c = start(k, "/t_unignore")
            pid = read_pid(k)
            wait_file(os.path.join(k.tmp, "ready"), what="ready")
            hang_up(c)
            expect_eq(wait_file(os.path.join(k.tmp, "seen"))[0], "seen=1",
                      "kick ctl status after the hang-up (abort = %s)" % rule)
            t0 = time.monotonic()
            rec = record(k, "shut", timeout=10 * SLOW)[0]
            took = time.monotonic() - t0
            expect_record(rec, 1, sig=signal.SIGTERM.value,
                          what="ignore-user-abort off after the abort, "
                          "abort = " + rule)
            if rule == "hangup":
                expect(took < 1.5, "abort = hangup: ended %.2fs after "
                       "ignore-user-abort off, want at once", took)
            else:
                expect(took >= 1.9, "abort = write: ended %.2fs after "
                       "ignore-user-abort off, before its next write (2 s "
                       "later)", took)
                expect(took < 2.0 + 1.5 * SLOW, "abort = write: ended "
                       "%.2fs after ignore-user-abort off, want at its "
                       "write 2 s later", took)
            expect_gone(k, pid, "script")
            expect(not exists(k, "finished"), "script ran to its end")


# 13. The article's caller: connect, write a complete request, close, read
# nothing, against a script whose first command is `kick ctl
# ignore-user-abort on`. With abort = write (the default) it always wins,
# as ignore_user_abort(true) does in PHP: 20 callers at once, 20 scripts
# run to their end. With abort = hangup the hang-up ends it at once: made
# certain by a script that waits 0.5 s before kick ctl.

def forget_callers(k, route, n):
    """n fire-and-forget callers at once: route?I for I in 0..n-1."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", k.port), timeout=5)
        s.sendall(build("GET", "%s?%d" % (route, i)))
        socks.append(s)
    for s in socks:
        s.close()


def aborts_total(k):
    """kick_aborts_total by cause, from GET /metrics."""
    r = k.get("/metrics")
    expect_eq(r.status, 200, "GET /metrics")
    out = {}
    for ln in r.body.decode().splitlines():
        if ln.startswith("kick_aborts_total{cause="):
            cause = ln.split('"')[1]
            out[cause] = float(ln.rsplit(" ", 1)[1])
    expect(set(out) == {"hangup", "cancel"},
           "kick_aborts_total causes in /metrics: %r", out)
    return out


def test_fire_and_forget_write_rule():
    n = 20
    routes = [("/t_forget", "cs_forget", recorder("shut", "forget")),
              ("/t_late", "cs_forget_late",
               "abort = write\n" + recorder("shut_late", "late"))]
    with kickd(routes) as k:
        expect_eq(aborts_total(k), {"hangup": 0, "cancel": 0},
                  "kick_aborts_total before any hang-up")
        forget_callers(k, "/t_forget", n)
        forget_callers(k, "/t_late", 5)
        recs = record(k, "shut", lines=n, timeout=15 * SLOW)
        for rec in recs:
            expect_record(rec, 1, exit=0, what="fire-and-forget, abort = "
                          "write (%d of %d ended)" % (len(recs), n))
        ends = [x for x in range(n) if exists(k, "end.%d" % x)]
        expect_eq(len(ends), n, "scripts that reached their end out of %d "
                  "(missing %r)" % (n, sorted(set(range(n)) - set(ends))))
        for i in range(n):
            expect_eq(wait_file(os.path.join(k.tmp, "end.%d" % i))[0],
                      "end status=1", "kick ctl status at the end of run %d"
                      % i)
        for rec in record(k, "shut_late", lines=5, timeout=10 * SLOW):
            expect_record(rec, 1, exit=0, what="kick ctl 0.5 s after the "
                          "hang-up, abort = write")
        expect_eq(aborts_total(k), {"hangup": n + 5, "cancel": 0},
                  "kick_aborts_total after %d hang-ups" % (n + 5))
        k.healthy("after fire-and-forget callers")


def test_fire_and_forget_hangup_rule():
    n = 20
    routes = [("/t_late", "cs_forget_late",
               "abort = hangup\n" + recorder("shut", "late"))]
    with kickd(routes) as k:
        forget_callers(k, "/t_late", n)
        recs = record(k, "shut", lines=n, timeout=10 * SLOW)
        # Ended by SIGTERM, not after kick ctl turned ignore_user_abort on.
        for rec in recs:
            expect_record(rec, 1, sig=signal.SIGTERM.value,
                          what="fire-and-forget, abort = hangup")
        # They would have ended 1.5 s after their start.
        time.sleep(1.5)
        ends = [x for x in range(n) if exists(k, "end.%d" % x)]
        expect_eq(ends, [], "abort = hangup: scripts that reached their end")


# 14. abort = write (the default): a script that does not ignore aborts
# and writes every 0.1 s is ended at its next write after the hang-up; one
# that writes every 1.5 s lives on until that write. abort = hangup ends
# the slow one at once.

def test_write_rule_ends_at_next_write():
    routes = [("/t_tick", "cs_tick",
               "env = CS_TICK=0.1\n" + recorder("shut", "tick")),
              ("/t_slow", "cs_tick",
               "env = CS_TICK=1.5\n" + recorder("shut_slow", "slow")),
              ("/t_slow_hangup", "cs_tick", "abort = hangup\n"
               "env = CS_TICK=1.5\n" + recorder("shut_hangup", "hangup"))]
    with kickd(routes) as k:
        c = start(k, "/t_tick")
        pid = read_pid(k)
        read_until(c, b"tick 2\n")
        t0 = time.monotonic()
        hang_up(c)
        rec = record(k, "shut")[0]
        took = time.monotonic() - t0
        expect_record(rec, 1, sig=signal.SIGTERM.value,
                      what="writing every 0.1 s, after a hang-up")
        expect(took < 1.0 * SLOW, "ended %.2fs after the hang-up; it "
               "writes every 0.1 s", took)
        expect_gone(k, pid, "script writing every 0.1 s")

        for route, name in (("/t_slow", "shut_slow"),
                            ("/t_slow_hangup", "shut_hangup")):
            os.unlink(os.path.join(k.tmp, "pid"))
            c = start(k, route)
            pid = read_pid(k)
            read_until(c, b"tick 0\n")
            t0 = time.monotonic()
            hang_up(c)
            if route == "/t_slow":
                time.sleep(0.8)
                expect(not exists(k, name), "abort = write: ended before its "
                       "next write")
                expect(lingers(proc_stat(pid), k), "abort = write: the "
                       "script is gone before its next write")
            rec = record(k, name, timeout=5 * SLOW)[0]
            took = time.monotonic() - t0
            expect_record(rec, 1, sig=signal.SIGTERM.value, what=route)
            if route == "/t_slow":
                expect(1.0 <= took <= 1.5 + 1.0 * SLOW, "abort = write: "
                       "ended %.2fs after the hang-up, want at its write "
                       "1.5 s after the last", took)
            else:
                expect(took < 1.2, "abort = hangup: ended %.2fs after "
                       "the hang-up, want at once, not at the write 1.5 s "
                       "after the last", took)
            expect_gone(k, pid, "script of " + route)
        k.healthy("after the write rule")


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
