# SPDX-License-Identifier: MIT
# The fastcgi runner against a real Debian php-fpm (issue 11, item 2): a
# pool of its own per test (harness.PhpFpm), routes with fastcgi = and
# script =. What PHP sees of its request, attached and detached; PHP's
# connection state when the client hangs up, the fire-and-forget caller,
# a time limit and a cancel (compare docs/php-connection-state.md); a pool
# that dies mid-run or refuses; connections kept and reused; a body in
# many STDIN records. The PHP scripts are scripts/fcgi_*.php and the
# pcs_*.php of test_php_connstate.py.

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import quote, urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (KICKD, SCRIPTS, SHUTDOWN_SH, SLOW, Conn,  # noqa: E402
                     Kickd, PhpFpm, build, chunked, expect, expect_eq,
                     fire_and_forget, free_port,
                     kick_bin,
                     open_request, read, read_some, run, shutdown_view,
                     target, value, wait_line, write_script)

def fpm_kickd(fpm, routes, server="", address=None):
    """A Kickd whose config has the given routes, each (name, script,
    extra lines): fastcgi to fpm (or address) with script =
    TMP/scripts/SCRIPT, and on_shutdown writing kickd's view to
    TMP/NAME.sd."""
    addr = address or fpm.address
    cfg = "[server]\nlisten = {listen}\ndb = {db}\n" + server + "\n"
    for name, script, extra in routes:
        mode = "" if "mode =" in extra else "mode = attach\n"
        cfg += ("[route /%s]\nfastcgi = %s\nscript = {scripts}/%s\n"
                "on_shutdown = {tmp}/sd.sh {tmp}/%s.sd\n%s%s\n"
                % (name, addr, script, name, mode, extra))
    k = Kickd(config=cfg)
    write_script(os.path.join(k.tmp, "sd.sh"), SHUTDOWN_SH)
    return k


def php_json(k, method, tgt, headers=(), body=b""):
    r = k.request(method, tgt, headers, body)
    expect_eq(r.status, 200, "%s %s status (body %r)" % (method, tgt,
                                                         r.body[:300]))
    return json.loads(r.body)


def trigger(k, tgt, body=b""):
    r = k.request("POST", tgt, [("Content-Length", str(len(body)))], body)
    expect_eq(r.status, 202, "trigger %s (%r)" % (tgt, r.body[:200]))
    return json.loads(r.body)["id"]


def wait_job(k, jid, states, timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        r = k.get("/jobs/%d" % jid)
        j = json.loads(r.body)
        if j["state"] in states:
            return j
        expect(time.monotonic() < deadline, "job %d not %s in time: %r",
               jid, "/".join(states), j)
        time.sleep(0.02)


def test_request_reaches_php():
    """GET, POST and cookies reach $_GET, $_POST and $_COOKIE; the CGI
    variables (SCRIPT_NAME, PATH_INFO, ...) are those php-cgi gets for the
    same request through an exec route."""
    with PhpFpm() as fpm, fpm_kickd(fpm, [("fenv", "fcgi_env.php", "")]) as k:
        q = {"a": "1 2", "amp": "x&y=z", "utf8": "h\u00e9"}
        form = urlencode({"p": "a+b c", "e": "\u20ac"})
        hs = [("Content-Type", "application/x-www-form-urlencoded"),
              ("Cookie", "sid=abc; name=%s" % quote("J\u00f6 & co")),
              ("X-Test", "yes")]
        got = php_json(k, "POST", "/fenv/more/path?" + urlencode(q), hs,
                       form.encode())
        expect_eq(got["get"], q, "$_GET")
        expect_eq(got["post"], {"p": "a+b c", "e": "\u20ac"}, "$_POST")
        expect_eq(got["cookie"], {"sid": "abc", "name": "J\u00f6 & co"},
                  "$_COOKIE")
        srv = got["server"]
        expect_eq((srv["SCRIPT_NAME"], srv["PATH_INFO"]),
                  ("/fenv", "/more/path"), "SCRIPT_NAME, PATH_INFO")
        expect_eq(srv["SCRIPT_FILENAME"],
                  os.path.join(k.scripts, "fcgi_env.php"), "SCRIPT_FILENAME")
        # The same request to php-cgi (the --scripts route of the file):
        # every CGI variable the same but the route's own name.
        cgi = php_json(k, "POST", "/fcgi_env.php/more/path?" +
                       urlencode(q), hs, form.encode())
        for key, v in cgi["server"].items():
            if key not in ("SCRIPT_NAME", "KICK_JOB_ID"):
                expect_eq(srv[key], v, "%s as php-cgi has it" % key)
        expect_eq(cgi["server"]["SCRIPT_NAME"], "/fcgi_env.php",
                  "php-cgi's SCRIPT_NAME")
        expect_eq(srv["KICK_JOB_ID"][:1], "a", "an attached run's id")


def test_detached_job():
    """A detached job: succeeds, keeps the response's status and content
    type apart and the output (stdout and the FCGI_STDERR message); PHP
    sees KICK_JOB_ID and KICK_ATTEMPT."""
    with PhpFpm() as fpm, fpm_kickd(fpm, [("job", "fcgi_job.php",
                                          "mode = detach")]) as k:
        jid = trigger(k, "/job")
        j = wait_job(k, jid, ("succeeded", "failed"))
        expect_eq((j["state"], j["exit_status"], j["error"]),
                  ("succeeded", 0, None), "state, exit status, error")
        expect_eq(j["response"], {"status": 201,
                                  "content_type": "application/x-kick-test"},
                  "response")
        out = k.get("/jobs/%d/output" % jid).body.decode()
        expect_eq(out, "job %d attempt 1\nPHP message: a message to stderr\n"
                  "finished\n" % jid, "output")
        v = shutdown_view(k, "job")
        expect_eq((v["cs"], v["exit"]), ("0", "0"),
                  "on_shutdown's view: FCGI_END_REQUEST's app status")


def test_tcp():
    """A pool on TCP, by its address and by a name (resolved when a
    connection is opened); a port nobody listens on is refused, 503."""
    with PhpFpm(tcp=True) as fpm:
        for addr in (fpm.address, "localhost:%d" % fpm.port):
            with fpm_kickd(fpm, [("fenv", "fcgi_env.php", ""),
                                 ("job", "fcgi_job.php", "mode = detach")],
                           address=addr) as k:
                got = php_json(k, "GET", "/fenv?x=1")
                expect_eq(got["get"], {"x": "1"}, addr + ": $_GET")
                j = wait_job(k, trigger(k, "/job"), ("succeeded", "failed"))
                expect_eq(j["state"], "succeeded", addr + ": job")
        with fpm_kickd(fpm, [("fenv", "fcgi_env.php", "")],
                       address="127.0.0.1:%d" % free_port()) as k:
            r = k.get("/fenv")
            expect_eq(r.status, 503, "a port nobody listens on")
            expect("connection refused" in r.body.decode(), "%r", r.body)


def test_kick_ctl():
    """kick ctl from a PHP-FPM script, once it has put KICK_CONTROL (a
    FastCGI param) into its environment: progress reaches the job, status
    answers."""
    with PhpFpm() as fpm, \
            fpm_kickd(fpm, [("ctl", "fcgi_ctl.php",
                             "mode = detach\nenv = KICK_BIN=%s"
                             % kick_bin())]) as k:
        jid = trigger(k, "/ctl")
        j = wait_job(k, jid, ("succeeded", "failed"))
        expect_eq((j["state"], j["progress"], j["progress_message"]),
                  ("succeeded", 50, "halfway"), "state and progress")
        expect_eq(k.get("/jobs/%d/output" % jid).body,
                  b"before=param\nstatus=0\n", "output")


def test_php_value_per_request():
    """PHP_VALUE carries what a route sets (ignore_user_abort = on, a
    time_limit) to each of its requests; a route that sets neither sends
    no PHP_VALUE, so the pool's own php.ini applies (PHP-FPM keeps a
    request's PHP_VALUE in its worker for the next request, a web
    server's included: kickd must not change a shared pool's settings
    unasked)."""
    with PhpFpm(children=1) as fpm, \
            fpm_kickd(fpm, [("a", "fcgi_env.php",
                             "ignore_user_abort = on\ntime_limit = 7"),
                            ("b", "fcgi_env.php", "")]) as k:
        pids = set()
        # b first, on a fresh worker: php.ini's values (Debian's FPM
        # php.ini: max_execution_time = 30).
        for route, want in (("b", ("0", "30")), ("a", ("1", "7")),
                            ("a", ("1", "7"))):
            got = php_json(k, "GET", "/" + route)
            ini = got["ini"]
            expect_eq((ini["ignore_user_abort"], ini["max_execution_time"]),
                      want, "/%s's ini" % route)
            pids.add(got["pid"])
        expect_eq(len(pids), 1, "one worker served them all")


def test_body_in_many_records():
    """Bodies over 64 KiB reach PHP intact (STDIN split into records),
    attached (as they come, or gathered from chunks: then written with
    the head, more than the socket takes at once) and in a job."""
    body = os.urandom(200000)
    with PhpFpm() as fpm, \
            fpm_kickd(fpm, [("fenv", "fcgi_env.php", ""),
                            ("envjob", "fcgi_env.php", "mode = detach")]) \
            as k:
        got = php_json(k, "POST", "/fenv",
                       [("Content-Type", "application/octet-stream")], body)
        expect_eq((got["body_len"], got["body_md5"]),
                  (len(body), hashlib.md5(body).hexdigest()), "attached body")
        big = body * 5
        got = php_json(k, "POST", "/fenv",
                       [("Transfer-Encoding", "chunked"),
                        ("Content-Type", "application/octet-stream")],
                       chunked(big, [70000]))
        expect_eq((got["body_len"], got["body_md5"]),
                  (len(big), hashlib.md5(big).hexdigest()),
                  "attached chunked body")
        jid = trigger(k, "/envjob", body[:150000])
        j = wait_job(k, jid, ("succeeded", "failed"))
        expect_eq(j["state"], "succeeded", "job")
        got = json.loads(k.get("/jobs/%d/output" % jid).body)
        expect_eq((got["body_len"], got["body_md5"]),
                  (150000, hashlib.md5(body[:150000]).hexdigest()),
                  "job's body")
        expect_eq(got["server"]["KICK_JOB_ID"], str(jid), "KICK_JOB_ID")


def hang_up_after(k, tgt, nbytes):
    """Sends a GET, reads nbytes of the answer, closes."""
    s = open_request(k, tgt)
    got = read_some(s, nbytes)
    s.close()
    return got


def test_hang_up():
    """The client leaves while PHP writes (compare php-cgi's rows of
    docs/php-connection-state.md): kickd closes the connection to the
    pool, PHP's next write fails. Without ignore_user_abort PHP stops at
    once, its shutdown function sees 1; with the route's
    ignore_user_abort = on, or PHP's own ignore_user_abort(true), it runs
    to its end and sees 1. abort = hangup closes at once too (it cannot
    kill a worker). The route's on_shutdown runs when kickd has closed the
    connection: cs=1, no exit status (-1)."""
    with PhpFpm(children=4) as fpm, \
            fpm_kickd(fpm, [("loop", "pcs_loop.php", ""),
                            ("ign", "pcs_loop.php",
                             "ignore_user_abort = on"),
                            ("now", "pcs_loop.php", "abort = hangup")]) as k:
        for route in ("loop", "now"):
            tgt, out = target(k, route, route, n=50, us=50000)
            got = hang_up_after(k, tgt, 500)
            expect(got.startswith(b"HTTP/1.1 200 "), "response %r",
                   got[:100])
            t0 = time.monotonic()
            lines = wait_line(out, "status=", 2.0)
            expect_eq(value(lines, "status"), "1",
                      route + ": connection_status() in the shutdown "
                      "function")
            expect("end" not in lines, "%s: PHP ran to its end", route)
            expect(time.monotonic() - t0 < 1.0 * SLOW,
                   "%s: PHP stopped late", route)
            v = shutdown_view(k, route)
            expect_eq((v["cs"], v["exit"]), ("1", "-1"),
                      route + ": on_shutdown's view")
        outs = []
        for route, q in (("ign", {}), ("loop", {"ign": 1})):
            tgt, out = target(k, route, route + "2", n=12, us=50000, **q)
            hang_up_after(k, tgt, 500)
            outs.append(out)
        # kickd closed the connection: the route's on_shutdown runs now,
        # while PHP goes on.
        v = shutdown_view(k, "ign")
        expect_eq((v["cs"], v["exit"]), ("1", "-1"), "ign: on_shutdown")
        expect("end" not in read(outs[0]).splitlines(),
               "on_shutdown waited for PHP's end")
        for out in outs:
            lines = wait_line(out, "status=", 3.0)
            expect("end" in lines, "%s: PHP did not run to its end: %r",
                   out, lines[-3:])
            expect_eq(value(lines, "status"), "1",
                      "connection_status() after ignoring the abort")
            expect_eq([ln.split()[0] for ln in lines
                       if ln.startswith("step=")][-1], "step=11", "steps")


def test_fire_and_forget_20_of_20():
    """pcs_forget.php (ignore_user_abort(true) at its top) behind callers
    that close at once: all 20 run to their end, their shutdown functions
    see 1 (their first write failed). kickd closes the connection to the
    pool only once the whole request is written to it."""
    with PhpFpm(children=4) as fpm, \
            fpm_kickd(fpm, [("forget", "pcs_forget.php", "")]) as k:
        outs = []
        for i in range(20):
            tgt, out = target(k, "forget", "forget%d" % i, s=0.2)
            fire_and_forget(k, tgt)
            outs.append(out)
        done = 0
        for out in outs:
            lines = wait_line(out, "status=", 8.0)
            done += lines[0] == "done"
            expect_eq(value(lines, "status"), "1",
                      "connection_status() in the shutdown function")
        expect_eq(done, 20, "scripts that ran to their end")


def test_time_limit_and_cancel():
    """A time limit on a fastcgi job: kickd closes the connection at the
    wall-clock limit (no SIGPROF reaches an FPM worker); PHP stops at its
    next write and its shutdown function sees 1, not 2; the job ends
    timed_out. A silent script notices nothing and runs to its end
    (status 0). A cancel closes the connection as a hang-up does: the job
    ends aborted, PHP sees 1 at its next write."""
    with PhpFpm(children=4) as fpm, \
            fpm_kickd(fpm, [("loop", "pcs_loop.php",
                             "mode = detach\ntime_limit = 1"),
                            ("sleep", "pcs_sleep.php",
                             "mode = detach\ntime_limit = 1"),
                            ("cancel", "pcs_loop.php", "mode = detach")]) \
            as k:
        tgt, loop_out = target(k, "loop", "loop", n=100, us=50000)
        t0 = time.monotonic()
        loop_id = trigger(k, tgt)
        tgt, sleep_out = target(k, "sleep", "sleep", s=2)
        sleep_id = trigger(k, tgt)
        tgt, cancel_out = target(k, "cancel", "cancel", n=100, us=50000)
        cancel_id = trigger(k, tgt)
        wait_line(cancel_out, "step=", 3.0)
        r = k.request("DELETE", "/jobs/%d" % cancel_id)
        expect(r.status in (200, 202, 204), "DELETE: %r", r)
        j = wait_job(k, loop_id, ("timed_out", "failed", "succeeded"))
        took = time.monotonic() - t0
        expect_eq((j["state"], j["connection_status"]), ("timed_out", 2),
                  "the looping job (kickd's view)")
        expect(0.9 < took < 1.0 + 1.5 * SLOW, "timed out after %.2f s",
               took)
        lines = wait_line(loop_out, "status=", 2.0)
        expect_eq(value(lines, "status"), "1",
                  "connection_status() at a time limit under FPM")
        expect("end" not in lines, "PHP ran to its end after the limit")
        j = wait_job(k, sleep_id, ("timed_out", "failed", "succeeded"))
        expect_eq(j["state"], "timed_out", "the sleeping job")
        lines = wait_line(sleep_out, "status=", 3.0)
        expect("end" in lines and value(lines, "status") == "0",
               "a silent script runs to its end unaware: %r", lines)
        j = wait_job(k, cancel_id, ("aborted", "failed", "succeeded"))
        expect_eq(j["state"], "aborted", "the canceled job")
        lines = wait_line(cancel_out, "status=", 2.0)
        expect_eq(value(lines, "status"), "1", "status after a cancel")
        expect("end" not in lines, "PHP ran to its end after a cancel")


def test_pool_dies_mid_run():
    """php-fpm killed while a job runs: the attempt fails with a reason
    (the pool closed the connection) and is retried; with the pool started
    again a retry succeeds. (retries = 3: the first retry comes 0.5-1.5 s
    after the failure, and a busy machine may take longer to start
    php-fpm again, so that retry may meet a pool that refuses.)"""
    with PhpFpm() as fpm, \
            fpm_kickd(fpm, [("job", "fcgi_job.php",
                             "mode = detach\nretries = 3")]) as k:
        mark = os.path.join(k.tmp, "attempts")
        jid = trigger(k, "/job?" + urlencode({"f": mark, "s": 30}))
        wait_line(mark, "attempt 1", 5.0)
        fpm.kill()
        fpm.start()
        j = wait_job(k, jid, ("succeeded", "failed"), 20.0)
        n = j["attempt"]
        expect_eq(j["state"], "succeeded", "state (attempt %d)" % n)
        expect(n >= 2, "attempt %d", n)
        # Attempts that met a refusing pool never reached PHP.
        expect_eq(read(mark), "attempt 1\nattempt %d\n" % n, "attempts")
        log = k.stderr_text()
        expect("job %d: queued: pool closed the connection" % jid in log,
               "the first attempt's error not logged:%s",
               "\n".join(ln for ln in log.splitlines()
                         if "GET /jobs" not in ln)[-2000:])
        out = k.get("/jobs/%d/output" % jid).body.decode()
        expect(out.endswith("job %d attempt %d\nPHP message: a message to "
                            "stderr\nfinished\n" % (jid, n)), "output %r",
               out)


def test_pool_refuses():
    """No pool at the address (no socket; a socket nobody listens on):
    attached 503 with the reason; detached, the job fails with an error
    that names it."""
    with PhpFpm() as fpm:
        dead = os.path.join(fpm.tmp, "dead.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(dead)
        s.close()  # the file stays: connect() is refused
        for path, why in ((os.path.join(fpm.tmp, "none.sock"),
                           "no such file or directory"),
                          (dead, "connection refused")):
            addr = "unix:" + path
            with fpm_kickd(fpm, [("fenv", "fcgi_env.php", ""),
                                 ("job", "fcgi_env.php", "mode = detach")],
                           address=addr) as k:
                r = k.get("/fenv")
                expect_eq(r.status, 503, "attached status (%r)" % r.body)
                want = "could not connect to %s: %s" % (addr, why)
                expect(want in r.body.decode(), "%r not in %r", want,
                       r.body)
                jid = trigger(k, "/job")
                j = wait_job(k, jid, ("failed", "succeeded"))
                expect_eq((j["state"], j["error"]), ("failed", want),
                          "job's state and error")


class CountingProxy:
    """A unix socket in front of php-fpm's: counts the connections it
    accepts and relays records both ways. drop: on the first connection
    that carries that many requests, the last one's FCGI_BEGIN_REQUEST
    is not relayed: the connection is closed instead, as a pool that had
    closed a kept connection just when kickd sent on it. pieces: for each
    request, the reads it took from its FCGI_BEGIN_REQUEST to its empty
    STDIN record (1: it came in one write)."""

    def __init__(self, target, path, drop=0):
        self.target = target
        self.path = path
        self.drop = drop
        self.dropped = False
        self.accepted = 0
        self.open = 0
        self.pieces = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(self.target)
            with self.lock:
                self.accepted += 1
                self.open += 1
            done = threading.Event()
            for a, b, up_way in ((c, up, True), (up, c, False)):
                threading.Thread(target=self.relay, args=(a, b, up_way, done),
                                 daemon=True).start()

    def records(self, a, b):
        """Relays whole records from kickd to the pool, counting
        requests; returns when the connection ends or is dropped."""
        buf, begun, reads, first = b"", 0, 0, 0
        while True:
            d = a.recv(65536)
            if not d:
                return
            buf += d
            reads += 1
            while len(buf) >= 8:
                n = 8 + (buf[4] << 8 | buf[5]) + buf[6]
                if len(buf) < n:
                    break
                begun += buf[1] == 1
                if buf[1] == 1:
                    first = reads
                if buf[1] == 5 and n == 8:
                    with self.lock:
                        self.pieces.append(reads - first + 1)
                with self.lock:
                    drop = self.drop and begun == self.drop and \
                        not self.dropped
                    self.dropped |= bool(drop)
                if drop:
                    return
                b.sendall(buf[:n])
                buf = buf[n:]

    def relay(self, a, b, up_way, done):
        try:
            if up_way:
                self.records(a, b)
            else:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if not done.is_set():
            done.set()
            with self.lock:
                self.open -= 1

    def close(self):
        self.sock.close()


def test_connections_reused():
    """30 requests one after another (attached and detached) take one
    connection to the pool, kept between them; kickd gives it back when
    it has been idle for 2 s."""
    with PhpFpm() as fpm:
        proxy = CountingProxy(fpm.sock, os.path.join(fpm.tmp, "proxy.sock"))
        try:
            with fpm_kickd(fpm, [("fenv", "fcgi_env.php", ""),
                                 ("job", "fcgi_env.php", "mode = detach")],
                           address="unix:" + proxy.path) as k:
                pids = set()
                for i in range(20):
                    pids.add(php_json(k, "GET", "/fenv?i=%d" % i)["pid"])
                for i in range(10):
                    j = wait_job(k, trigger(k, "/job?i=%d" % i),
                                 ("succeeded", "failed"))
                    expect_eq(j["state"], "succeeded", "job %d" % i)
                expect_eq(proxy.accepted, 1, "connections to the pool")
                expect_eq(len(pids), 1, "workers that served them")
                deadline = time.monotonic() + 4.0 * SLOW
                while proxy.open and time.monotonic() < deadline:
                    time.sleep(0.05)
                expect_eq(proxy.open, 0, "connections open after 2 s idle")
                php_json(k, "GET", "/fenv")
                expect_eq(proxy.accepted, 2, "connections after the idle "
                          "one was given back")
        finally:
            proxy.close()


def test_kept_connection_closed_by_pool():
    """A kept connection that the pool closes just as kickd sends its next
    request on it (before any answer): the request is sent again, once,
    on a new connection, and answered."""
    with PhpFpm() as fpm:
        proxy = CountingProxy(fpm.sock, os.path.join(fpm.tmp, "proxy.sock"),
                              drop=2)
        try:
            with fpm_kickd(fpm, [("fenv", "fcgi_env.php", "")],
                           address="unix:" + proxy.path) as k:
                body = b"x" * 30000
                for i in range(3):
                    got = php_json(k, "POST", "/fenv?i=%d" % i,
                                   [("Content-Type", "a/b")], body)
                    expect_eq((got["get"], got["body_len"]),
                              ({"i": str(i)}, len(body)), "request %d" % i)
                expect(proxy.dropped, "the proxy dropped no request")
                expect_eq(proxy.accepted, 2, "connections to the pool")
                expect("had closed a kept connection" in k.stderr_text(),
                       "the retry is not logged")
        finally:
            proxy.close()


def whole_request(k, how, i, body):
    """Sends request i of a kind that kickd writes to the pool whole: get
    (no body), chunked (a body kickd gathers), job (a job's body); checks
    what PHP saw of it."""
    want = b"" if how == "get" else body
    if how == "job":
        jid = trigger(k, "/job?i=%d" % i, body)
        j = wait_job(k, jid, ("succeeded", "failed"))
        expect_eq(j["state"], "succeeded", "job %d" % i)
        got = json.loads(k.get("/jobs/%d/output" % jid).body)
    elif how == "chunked":
        got = php_json(k, "POST", "/fenv?i=%d" % i,
                       [("Transfer-Encoding", "chunked"),
                        ("Content-Type", "a/b")], chunked(body, [1000]))
    else:
        got = php_json(k, "GET", "/fenv?i=%d" % i)
    expect_eq((got["get"], got["body_len"], got["body_md5"]),
              ({"i": str(i)}, len(want), hashlib.md5(want).hexdigest()),
              "%s %d: what PHP saw" % (how, i))


def test_request_in_one_write():
    """A request whose whole body is known when it starts (none, a
    gathered chunked one, a job's) reaches the pool in one write, from
    FCGI_BEGIN_REQUEST to its empty STDIN record; all of them on one kept
    connection."""
    body = os.urandom(3000)
    with PhpFpm() as fpm:
        proxy = CountingProxy(fpm.sock, os.path.join(fpm.tmp, "proxy.sock"))
        try:
            with fpm_kickd(fpm, [("fenv", "fcgi_env.php", ""),
                                 ("job", "fcgi_env.php", "mode = detach")],
                           address="unix:" + proxy.path) as k:
                for i in range(3):
                    for how in ("get", "chunked", "job"):
                        whole_request(k, how, i, body)
                expect_eq(proxy.pieces, [1] * 9, "reads each request took")
                expect_eq(proxy.accepted, 1, "connections to the pool")
        finally:
            proxy.close()


def test_whole_request_sent_again():
    """A request written whole on a kept connection that the pool closes
    just then is sent again, whole, on a new one: without a body, with a
    gathered chunked one, a job's (bodies below FCGI_REPLAY_MAX)."""
    body = os.urandom(30000)
    with PhpFpm() as fpm:
        for how in ("get", "chunked", "job"):
            proxy = CountingProxy(fpm.sock, os.path.join(
                fpm.tmp, "proxy-%s.sock" % how), drop=2)
            try:
                with fpm_kickd(fpm, [("fenv", "fcgi_env.php", ""),
                                     ("job", "fcgi_env.php",
                                      "mode = detach")],
                               address="unix:" + proxy.path) as k:
                    for i in range(3):
                        whole_request(k, how, i, body)
                    expect(proxy.dropped, "%s: no request dropped", how)
                    expect_eq(proxy.accepted, 2,
                              how + ": connections to the pool")
                    expect("had closed a kept connection" in
                           k.stderr_text(), how + ": the retry is not logged")
            finally:
                proxy.close()


def test_slow_client_kept_connection():
    """An answer a client reads slowly (kickd stops reading the pool while
    the client's queue is full, and starts again) arrives whole, and the
    connection to the pool is kept for the next request."""
    pad = 8 * 1024 * 1024
    with PhpFpm() as fpm:
        proxy = CountingProxy(fpm.sock, os.path.join(fpm.tmp, "proxy.sock"))
        try:
            with fpm_kickd(fpm, [("fenv", "fcgi_env.php", "")],
                           address="unix:" + proxy.path) as k:
                with Conn(k.listen_host, k.port, 10.0 * SLOW,
                          rcvbuf=4096) as c:
                    c.send(build("GET", "/fenv?pad=%d" % pad))
                    time.sleep(0.5 * SLOW)
                    r = c.response()
                expect_eq(r.status, 200, "status")
                expect_eq(len(json.loads(r.body)["pad"]), pad, "answer")
                php_json(k, "GET", "/fenv")
                expect_eq(proxy.accepted, 1, "connections to the pool")
        finally:
            proxy.close()


def test_concurrency_caps_connections():
    """A route's concurrency caps its connections to the pool: with
    concurrency = 1, four requests at once take one connection, the
    others waiting their turn for it. Without a cap, more requests at
    once than the pool has workers all finish in a few rounds: no kept
    connection holds a worker while a request waits for one."""
    with PhpFpm(children=2) as fpm:
        proxy = CountingProxy(fpm.sock, os.path.join(fpm.tmp, "proxy.sock"))
        try:
            with fpm_kickd(fpm, [("one", "fcgi_env.php", "concurrency = 1"),
                                 ("any", "fcgi_env.php", "")],
                           address="unix:" + proxy.path) as k:
                for route, n, most in (("one", 4, 1), ("any", 6, 6)):
                    before = proxy.accepted
                    results = []
                    t0 = time.monotonic()
                    ts = [threading.Thread(target=lambda: results.append(
                        php_json(k, "GET", "/%s?us=200000" % route)))
                        for _ in range(n)]
                    for t in ts:
                        t.start()
                    for t in ts:
                        t.join()
                    took = time.monotonic() - t0
                    expect_eq(len(results), n, route + ": answers")
                    expect(proxy.accepted - before <= most,
                           "%s: %d connections", route,
                           proxy.accepted - before)
                    expect(took < 1.5 * SLOW, "%s: %d requests of 0.2 s on "
                           "2 workers took %.2f s", route, n, took)
        finally:
            proxy.close()


class FakePool:
    """A FastCGI server of the test's own on a unix socket: reads each
    request to the end of its STDIN, then answers as its QUERY_STRING
    says: overloaded (FCGI_OVERLOADED), badversion (a record of version
    2), app3 (a good answer with app status 3), s500 (Status: 500)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    @staticmethod
    def record(t, content, version=1):
        pad = -len(content) % 8
        return (bytes([version, t, 0, 1, len(content) >> 8,
                       len(content) & 255, pad, 0]) + content + b"\0" * pad)

    @staticmethod
    def params(data):
        out, i = {}, 0
        while i < len(data):
            lens = []
            for _ in range(2):
                if data[i] < 128:
                    lens.append(data[i])
                    i += 1
                else:
                    lens.append(int.from_bytes(data[i:i + 4], "big")
                                & 0x7fffffff)
                    i += 4
            out[data[i:i + lens[0]].decode()] = \
                data[i + lens[0]:i + lens[0] + lens[1]].decode()
            i += lens[0] + lens[1]
        return out

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.conn, args=(c,), daemon=True).start()

    def conn(self, c):
        buf, params = b"", b""
        with c:
            while True:
                while len(buf) < 8 or len(buf) < 8 + (buf[4] << 8 | buf[5]) \
                        + buf[6]:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                n = buf[4] << 8 | buf[5]
                t, content = buf[1], buf[8:8 + n]
                buf = buf[8 + n + buf[6]:]
                if t == 4:
                    params += content
                if t == 5 and n == 0:
                    c.sendall(self.answer(self.params(params)["QUERY_STRING"]))
                    params = b""

    def answer(self, how):
        head = b"Content-Type: text/plain\r\n\r\nhi\n"
        end = {"overloaded": (0, 2), "app3": (3, 0)}.get(how, (0, 0))
        out = b""
        if how == "badversion":
            return self.record(6, head, version=2)
        if how == "app3":
            out = self.record(6, head)
        if how == "s500":
            out = self.record(6, b"Status: 500 Oops\r\n" + head)
        return out + self.record(3, end[0].to_bytes(4, "big") +
                                 bytes([end[1], 0, 0, 0]))

    def close(self):
        self.sock.close()


def test_pool_answers():
    """What a pool answers decides the outcome: FCGI_OVERLOADED is 503,
    a record of another version 502, each with its reason; app status 3
    and a CGI status 500 are failed jobs with the reason and the app
    status as exit status."""
    with PhpFpm() as fpm:
        fake = FakePool(os.path.join(fpm.tmp, "fake.sock"))
        try:
            with fpm_kickd(fpm, [("a", "fcgi_env.php", ""),
                                 ("j", "fcgi_env.php", "mode = detach")],
                           address="unix:" + os.path.join(fpm.tmp,
                                                          "fake.sock")) as k:
                for how, status, why in (
                        ("overloaded", 503, "pool overloaded "
                         "(FCGI_OVERLOADED)"),
                        ("badversion", 502, "bad FastCGI record: not "
                         "FastCGI version 1")):
                    r = k.get("/a?" + how)
                    expect_eq(r.status, status, how + " (%r)" % r.body)
                    expect(why in r.body.decode(), "%s: %r", how, r.body)
                    j = wait_job(k, trigger(k, "/j?" + how),
                                 ("failed", "succeeded"))
                    expect_eq((j["state"], j["error"]), ("failed", why),
                              how + ": job")
                for how, exit_status, why in (("app3", 3, "app status 3"),
                                              ("s500", 0,
                                               "FastCGI answered 500")):
                    j = wait_job(k, trigger(k, "/j?" + how),
                                 ("failed", "succeeded"))
                    expect_eq((j["state"], j["exit_status"], j["error"]),
                              ("failed", exit_status, why), how + ": job")
                r = k.get("/a?s500")
                expect_eq((r.status, r.body), (500, b"hi\n"), "s500 attached")
        finally:
            fake.close()


def test_scripts_dir_through_pool():
    """kickd --scripts DIR --fastcgi ADDR: the directory's NAME.php go to
    the pool (one PHP-FPM worker answers them all, no php-cgi starts),
    its executables still run as programs, and -t names the bad
    address."""
    with PhpFpm(children=1) as fpm, Kickd(args=["--fastcgi",
                                               fpm.address]) as k:
        pids = set()
        for i in range(3):
            got = php_json(k, "GET", "/fcgi_env.php/x?i=%d" % i)
            expect_eq(got["get"], {"i": str(i)}, "$_GET through the pool")
            expect_eq(got["server"]["SCRIPT_FILENAME"],
                      os.path.join(k.scripts, "fcgi_env.php"),
                      "SCRIPT_FILENAME")
            expect_eq(got["server"]["PATH_INFO"], "/x", "PATH_INFO")
            pids.add(got["pid"])
        expect_eq(len(pids), 1, "PHP processes that answered (one FPM "
                  "worker, not a php-cgi each)")
        r = k.get("/echo?a=1")
        expect_eq(r.status, 200, "an executable of the directory")
    p = subprocess.run([KICKD, "--scripts", SCRIPTS, "--fastcgi",
                        "/no/unix/prefix.sock", "-t"],
                       capture_output=True, text=True, timeout=10)
    expect_eq(p.returncode, 2, "exit status of a bad --fastcgi")
    expect("--fastcgi: not unix:/ABSOLUTE/PATH or HOST:PORT: "
           "'/no/unix/prefix.sock'" in p.stderr, "message: %r", p.stderr)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
