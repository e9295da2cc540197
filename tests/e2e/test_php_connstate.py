# SPDX-License-Identifier: MIT
# Real php-cgi under kickd when the client hangs up or the time limit passes
# (issue 3, item 6): PHP's own ignore_user_abort(), connection_status(),
# set_time_limit() and register_shutdown_function() must behave as under
# Apache or PHP-FPM. The PHP scripts (scripts/pcs_*.php) write what their
# shutdown function sees into a file named in the query string; the route's
# on_shutdown command writes kickd's view (KICK_CONNECTION_STATUS, exit
# status) into another. Facts and design: docs/php-connection-state.md.

import os
import shutil
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SHUTDOWN_SH, SLOW, Kickd, build,  # noqa: E402
                     expect, expect_eq, fire_and_forget, group_members,
                     kick_bin, open_request, path_env_with, read, read_some,
                     run, shutdown_view, target, value, wait_line,
                     write_script)

# `kick ctl` for the scripts: next to kickd, else the plain build's.
ENV = path_env_with(kick_bin())

def php_kickd(routes, server=""):
    """A Kickd whose config has the given routes, each a tuple (name,
    script, extra route lines); every route is attached, runs php-cgi on
    scripts/SCRIPT and has on_shutdown writing to TMP/NAME.sd."""
    php = shutil.which("php-cgi")
    if not php:
        raise AssertionError("php-cgi is not installed")
    cfg = "[server]\nlisten = {listen}\ndb = {db}\n" + server + "\n"
    for name, script, extra in routes:
        cfg += ("[route /%s]\nexec = {php} {scripts}/%s\nmode = attach\n"
                "on_shutdown = {tmp}/sd.sh {tmp}/%s.sd\n%s\n"
                % (name, script, name, extra))
    k = Kickd(config=cfg, env=ENV)
    write_script(os.path.join(k.tmp, "sd.sh"), SHUTDOWN_SH)
    return k


def steps(lines):
    """The (index, connection_status) of each step line of pcs_loop.php."""
    out = []
    for ln in lines:
        if ln.startswith("step="):
            a, b = ln.split()
            out.append((int(a[5:]), int(b[3:])))
    return out


def hang_up(s, how):
    """close: FIN; reset: RST (SO_LINGER 0); half: shutdown(SHUT_WR)
    while still reading (the socket is returned, to be closed later)."""
    if how == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    if how == "half":
        s.shutdown(socket.SHUT_WR)
        return s
    s.close()
    return None


def test_abort_stops_php():
    """No ignore_user_abort, output unbuffered: PHP's next write after the
    hang-up fails, PHP stops as if by exit and its shutdown function sees
    1. For a close, a reset and a half-close."""
    with php_kickd([("loop", "pcs_loop.php", "")]) as k:
        for how in ("close", "reset", "half"):
            tgt, out = target(k, "loop", how, n=50, us=100000)
            sd = os.path.join(k.tmp, "loop.sd")
            if os.path.exists(sd):
                os.unlink(sd)
            s = open_request(k, tgt)
            got = read_some(s, 500)  # head and a few 100-byte lines
            expect(got.startswith(b"HTTP/1.1 200 "), "%s: response %r", how,
                   got[:100])
            before = steps(read(out).splitlines())
            expect(before and all(cs == 0 for _, cs in before),
                   "%s: steps before the hang-up %r", how, before)
            t0 = time.monotonic()
            left = hang_up(s, how)
            if left is not None:
                # kickd takes the half-close for a hang-up: it closes too.
                left.settimeout(2.0 * SLOW)
                try:
                    while left.recv(65536):
                        pass
                except ConnectionResetError:
                    pass
                left.close()
            lines = wait_line(out, "status=", 2.0)
            took = time.monotonic() - t0
            expect_eq(value(lines, "status"), "1",
                      how + ": connection_status() in the shutdown function")
            expect("end" not in lines, "%s: PHP ran to its end: %r", how,
                   lines[-4:])
            st = steps(lines)
            # A step is 0.1 s: PHP stops at its first write after the
            # hang-up, not at its end 5 s later.
            expect(st[-1][0] < before[-1][0] + 4 + int(3 * SLOW),
                   "%s: PHP went on after the hang-up: %d steps before, "
                   "%d in all", how, before[-1][0], st[-1][0])
            expect(all(cs == 0 for _, cs in st),
                   "%s: a step after the abort ran: %r", how, st[-3:])
            expect(took < 2.0 * SLOW, "%s: shutdown after %.2f s", how, took)
            v = shutdown_view(k, "loop")
            expect_eq((v["cs"], v["exit"], v["sig"]), ("1", "0", ""),
                      how + ": on_shutdown's cs/exit/sig")
            k.healthy("after " + how)


def test_ignore_user_abort_runs_to_end():
    """ignore_user_abort(true): PHP's writes after the hang-up fail
    silently, connection_status() turns 1, the script runs to its end and
    its shutdown function sees 1."""
    with php_kickd([("loop", "pcs_loop.php", "")]) as k:
        tgt, out = target(k, "loop", "ign", n=20, us=100000, ign=1)
        s = open_request(k, tgt)
        read_some(s, 400)
        t0 = time.monotonic()
        s.close()
        lines = wait_line(out, "status=", 5.0)
        took = time.monotonic() - t0
        expect("end" in lines, "PHP did not run to its end: %r", lines[-4:])
        expect_eq(value(lines, "status"), "1",
                  "connection_status() in the shutdown function")
        st = steps(lines)
        expect_eq([i for i, _ in st], list(range(20)), "steps")
        expect_eq(st[-1][1], 1, "connection_status() at the last step")
        expect(st[0][1] == 0, "status 1 before the hang-up: %r", st[:3])
        expect(took > 1.0, "ended %.2f s after the hang-up, before its "
               "2 s of work", took)
        v = shutdown_view(k, "loop")
        expect_eq((v["cs"], v["exit"]), ("1", "0"), "on_shutdown's cs/exit")


def test_time_limit_is_php_timeout():
    """time_limit = 1 and a script sleeping 10 s: SIGPROF interrupts the
    sleep as PHP's own timeout, PHP answers 500 (nothing was sent), its
    shutdown function sees 2, exit status 255; after set_time_limit(0)
    too (kickd's limit is wall-clock, PHP's is not)."""
    with php_kickd([("sleep", "pcs_sleep.php", "time_limit = 1\n")]) as k:
        for name, q in (("plain", {}), ("stl0", {"stl": 0})):
            sd = os.path.join(k.tmp, "sleep.sd")
            if os.path.exists(sd):
                os.unlink(sd)
            tgt, out = target(k, "sleep", name, s=10, **q)
            t0 = time.monotonic()
            with k.connect(timeout=10.0 * SLOW) as c:
                c.send(build("GET", tgt))
                r = c.response()
            took = time.monotonic() - t0
            expect_eq(r.status, 500, name + ": status answered by PHP")
            expect(0.9 < took < 1.0 + 1.5 * SLOW,
                   "%s: answered after %.2f s, time limit 1 s", name, took)
            lines = wait_line(out, "status=", 2.0)
            expect_eq(value(lines, "status"), "2",
                      name + ": connection_status() in the shutdown function")
            expect_eq(value(lines, "kick"), "2", name + ": kick ctl status")
            expect("end" not in lines, "%s: the sleep was not interrupted",
                   name)
            v = shutdown_view(k, "sleep")
            expect_eq((v["cs"], v["exit"], v["sig"]), ("2", "255", ""),
                      name + ": on_shutdown's cs/exit/sig")
        log = k.stderr_text()
        expect("Maximum execution time of 30 seconds exceeded" in log and
               "Maximum execution time of 0 seconds exceeded" in log,
               "PHP's timeout messages not in kickd's log")


def test_abort_ignored_then_time_limit():
    """ignore_user_abort(true), hang-up, writes go on, then time_limit 1
    passes: PHP's shutdown function sees 3, the script ends at ~1 s."""
    with php_kickd([("loop", "pcs_loop.php", "time_limit = 1\n")]) as k:
        tgt, out = target(k, "loop", "both", n=40, us=100000, ign=1)
        t0 = time.monotonic()
        s = open_request(k, tgt)
        read_some(s, 300)
        s.close()
        lines = wait_line(out, "status=", 3.0)
        took = time.monotonic() - t0
        expect_eq(value(lines, "status"), "3",
                  "connection_status() in the shutdown function")
        expect("end" not in lines, "PHP ran to its end: %r", lines[-3:])
        st = steps(lines)
        expect(st[-1][1] == 1, "connection_status() at the last step %r",
               st[-3:])
        expect(took < 1.0 + 1.5 * SLOW, "ended after %.2f s (limit 1 s, "
               "work 4 s)", took)
        v = shutdown_view(k, "loop")
        expect_eq((v["cs"], v["exit"]), ("3", "255"), "on_shutdown's cs/exit")


def test_silent_script_never_notices():
    """A script that sleeps without output: PHP cannot notice the hang-up
    (as under Apache), so it runs to its end and its connection_status()
    stays 0; kickd knew at once: `kick ctl status` and the route's
    on_shutdown command see 1."""
    with php_kickd([("sleep", "pcs_sleep.php", "time_limit = 0\n")]) as k:
        tgt, out = target(k, "sleep", "silent", s=2)
        s = open_request(k, tgt)
        time.sleep(0.3)
        s.close()
        lines = wait_line(out, "status=", 4.0)
        expect("end" in lines, "PHP did not run to its end: %r", lines)
        expect_eq(value(lines, "status"), "0",
                  "connection_status() in the shutdown function")
        expect_eq(value(lines, "kick"), "1", "kick ctl status (kickd's view)")
        v = shutdown_view(k, "sleep")
        expect_eq((v["cs"], v["exit"]), ("1", "0"), "on_shutdown's cs/exit")


def test_output_buffer_hides_abort():
    """Output that stays in PHP's 4096-byte output buffer (Debian's
    php.ini; flush() does not empty it) never reaches the pipe, so PHP does
    not notice the hang-up: 20 lines of 100 bytes, status 0 at the end."""
    with php_kickd([("loop", "pcs_loop.php", "")]) as k:
        tgt, out = target(k, "loop", "buf", n=20, us=50000, buf=1)
        s = open_request(k, tgt)
        time.sleep(0.3)
        s.close()
        lines = wait_line(out, "status=", 4.0)
        expect("end" in lines, "PHP did not run to its end: %r", lines[-3:])
        expect_eq(value(lines, "status"), "0",
                  "connection_status() in the shutdown function")
        expect(all(cs == 0 for _, cs in steps(lines)),
               "PHP noticed the abort: %r", lines)
        v = shutdown_view(k, "loop")
        expect_eq((v["cs"], v["exit"]), ("1", "0"), "on_shutdown's cs/exit")


def forgotten_loop_runs_to_end(k, tag):
    """pcs_loop.php, its caller gone at once, runs its 15 steps to the
    end; its shutdown function and on_shutdown see status 1."""
    tgt, out = target(k, "loop", tag, n=15, us=100000)
    fire_and_forget(k, tgt)
    lines = wait_line(out, "status=", 5.0)
    expect("end" in lines, "PHP did not run to its end: %r", lines[-3:])
    expect_eq(value(lines, "status"), "1",
              "connection_status() in the shutdown function")
    v = shutdown_view(k, "loop")
    expect_eq((v["cs"], v["exit"]), ("1", "0"), "on_shutdown's cs/exit")


def test_fire_and_forget():
    """ignore_user_abort(true) and set_time_limit(0) in the script, the
    caller gone before the first byte: PHP does its 2 s of work to the
    end; its shutdown function sees 1 (its writes failed)."""
    with php_kickd([("forget", "pcs_forget.php", "")]) as k:
        tgt, out = target(k, "forget", "forget", s=2)
        t0 = time.monotonic()
        fire_and_forget(k, tgt)
        lines = wait_line(out, "status=", 6.0)
        took = time.monotonic() - t0
        expect_eq(lines[0], "done", "the script's work")
        expect_eq(value(lines, "status"), "1",
                  "connection_status() in the shutdown function")
        expect(took >= 2.0, "done after %.2f s, before its 2 s of work",
               took)
        v = shutdown_view(k, "forget")
        expect_eq((v["cs"], v["exit"]), ("1", "0"), "on_shutdown's cs/exit")


def test_fire_and_forget_route_ignore_user_abort():
    """The route's ignore_user_abort = on reaches php-cgi as PHP's own
    setting: a script that does not call ignore_user_abort() runs to its
    end after the fire-and-forget caller left."""
    with php_kickd([("loop", "pcs_loop.php", "ignore_user_abort = on\n")]) \
            as k:
        forgotten_loop_runs_to_end(k, "route")


def test_abort_hangup_ends_php_at_once():
    """abort = hangup on a php-cgi route: kickd does not wait for PHP's
    next write. A silent script is ended at once by SIGTERM to its group
    (so its shutdown functions do not run: PHP dies of SIGTERM); the
    route's on_shutdown sees 1 and the signal. With the route's
    ignore_user_abort = on, kickd only closes the output and PHP runs on,
    as with abort = write."""
    with php_kickd([("sleep", "pcs_sleep.php", "abort = hangup\n"),
                    ("loop", "pcs_loop.php",
                     "abort = hangup\nignore_user_abort = on\n")]) as k:
        tgt, out = target(k, "sleep", "hangup", s=5)
        s = open_request(k, tgt)
        time.sleep(0.3)
        t0 = time.monotonic()
        s.close()
        v = shutdown_view(k, "sleep", timeout=3.0)
        took = time.monotonic() - t0
        expect_eq((v["cs"], v["exit"], v["sig"]), ("1", "", "15"),
                  "on_shutdown's cs/exit/sig")
        expect(took < 1.0 * SLOW, "ended %.2f s after the hang-up, want at "
               "once", took)
        time.sleep(0.3)
        expect_eq(read(out), "", "PHP's shutdown function ran, or the "
                  "script went on")

        forgotten_loop_runs_to_end(k, "ignored")


def test_second_sigprof_ends_long_shutdown_function():
    """The client hangs up, then time_limit 1 passes while PHP sleeps; its
    shutdown function (status 2: PHP never wrote, so never noticed the
    abort) then sleeps 10 s: the second SIGPROF, kill_grace (1 s) later,
    ends it as PHP's timeout again (exit status 255)."""
    with php_kickd([("sleep", "pcs_sleep.php", "time_limit = 1\n")],
                   server="kill_grace = 1\n") as k:
        tgt, out = target(k, "sleep", "sd", s=10, sd=10)
        t0 = time.monotonic()
        s = open_request(k, tgt)
        time.sleep(0.3)
        s.close()
        lines = wait_line(out, "status=", 2.0)
        expect_eq(value(lines, "status"), "2",
                  "connection_status() in the shutdown function")
        expect_eq(value(lines, "kick"), "3", "kick ctl status (kickd's view)")
        v = shutdown_view(k, "sleep", 4.0)
        took = time.monotonic() - t0
        expect_eq((v["cs"], v["exit"], v["sig"]), ("3", "255", ""),
                  "on_shutdown's cs/exit/sig")
        expect("sd-end" not in read(out).splitlines(),
               "the shutdown function ran to its end")
        expect(1.9 < took < 2.0 + 1.5 * SLOW,
               "php-cgi ended after %.2f s (limit 1 s + kill_grace 1 s)",
               took)


def test_sigkill_backstop():
    """php_mode = on for a program that ignores SIGPROF (a shell script
    standing in for a php-cgi that cannot take its timeout), client gone:
    two SIGPROFs kill_grace apart do nothing, SIGKILL to the whole group
    after another kill_grace ends it and its child; status 3, KICK_SIGNAL
    9."""
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nkill_grace = 1\n\n"
           "[route /stubborn]\nexec = {tmp}/stubborn\nmode = attach\n"
           "php_mode = on\ntime_limit = 1\n"
           "on_shutdown = {tmp}/sd.sh {tmp}/stubborn.sd\n")
    k = Kickd(config=cfg, env=ENV)
    write_script(os.path.join(k.tmp, "sd.sh"), SHUTDOWN_SH)
    pidfile = os.path.join(k.tmp, "stubborn.pid")
    write_script(os.path.join(k.tmp, "stubborn"),
                 "#!/bin/sh\ntrap '' PROF\necho $$ > %s\n"
                 "printf 'Content-Type: text/plain\\r\\n\\r\\nstarted\\n'\n"
                 "sleep 30\n" % pidfile)
    with k:
        t0 = time.monotonic()
        s = open_request(k, "/stubborn")
        got = read_some(s, 1)
        while b"started" not in got:
            got += read_some(s, 1)
        s.close()
        v = shutdown_view(k, "stubborn", 5.0)
        took = time.monotonic() - t0
        expect_eq((v["cs"], v["exit"], v["sig"]), ("3", "", "9"),
                  "on_shutdown's cs/exit/sig")
        expect(2.9 < took < 3.0 + 1.5 * SLOW,
               "killed after %.2f s (limit 1 s + 2 x kill_grace 1 s)", took)
        pgid = int(read(pidfile))
        left = group_members(pgid)
        expect(not left, "processes of the script's group left: %r", left)


def test_timed_out_php_leaves_no_child():
    """time_limit = 1, kill_grace = 1, php-cgi blocked in exec("sleep 30"):
    PHP's second SIGPROF ends php-cgi, and kickd kills what is left of its
    process group (the sleep) when it exits: nothing runs on."""
    with php_kickd([("exec", "pcs_exec.php", "time_limit = 1\n")],
                   server="kill_grace = 1\n") as k:
        tgt, out = target(k, "exec", "exec", s=30)
        with k.connect(timeout=10.0 * SLOW) as c:
            c.send(build("GET", tgt))
            try:
                c.response()
            except Exception:
                pass
        v = shutdown_view(k, "exec", 5.0)
        expect_eq(v["cs"], "2", "on_shutdown's connection status")
        pgid = int(read(out).split()[0])
        deadline = time.monotonic() + 2.0
        left = group_members(pgid)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = group_members(pgid)
        expect(not left, "processes of php-cgi's group left: %r", left)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
