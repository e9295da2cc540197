# SPDX-License-Identifier: MIT
# kickd as a process: command line, config errors, signals (SIGHUP reload,
# SIGTERM/SIGINT stop), IPv6 listening, and many scripts at once.

import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, Conn, Skip, build, expect, expect_eq,  # noqa
                     free_port, run, write_script, KICKD, SCRIPTS, SLOW)


def kickd_cli(args, env=None, cwd=None, timeout=10):
    p = subprocess.run([KICKD] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout * SLOW, env=env,
                       cwd=cwd)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def test_help_and_version():
    rc, out, err = kickd_cli(["-h"])
    expect_eq(rc, 0, "kickd -h exit status")
    expect("--scripts" in out and "--listen" in out,
           "usage lacks options: %r", out + err)
    rc, out, err = kickd_cli(["-V"])
    expect_eq(rc, 0, "kickd -V exit status")
    expect(any(ch.isdigit() for ch in out), "no version in %r", out)
    rc, out, err = kickd_cli(["--no-such-option"])
    expect(rc != 0, "unknown option accepted")
    expect(err.strip(), "unknown option: nothing on stderr")


CONFIG_ERRORS = [
    ("unknown key", "[server]\nlisten = 127.0.0.1:1\nbogus = 1\n", 3),
    ("unknown section", "[server]\nlisten = 127.0.0.1:1\n\n[weird]\n"
     "x = 1\n", (4, 5)),
    ("bad number", "[server]\nworkers = many\n", 2),
    ("negative number", "[server]\nheader_timeout = -5\n", 2),
    ("bad listen", "[server]\nlisten = nowhere\n", 2),
    ("bad mode", "[server]\n\n[route /a]\nexec = /bin/true\nmode = sometimes"
     "\n", 5),
    ("unterminated quote", "[route /a]\nexec = /bin/echo 'oops\n", 2),
    ("route without exec", "[server]\n[route /a]\nmode = attach\n"
     "[route /b]\nexec = /bin/true\n", 2),
    ("route path without slash", "[route a]\nexec = /bin/true\n", 1),
    ("bad ignore_user_abort", "[route /a]\nexec = /bin/true\n"
     "ignore_user_abort = perhaps\n", 3),
    ("not INI", "[server\nlisten = 127.0.0.1:1\n", 1),
]


def test_config_errors_exit_2_with_line():
    tmp = os.path.abspath(os.environ.get("TMPDIR", "/tmp"))
    errors = []
    for what, text, line in CONFIG_ERRORS:
        path = os.path.join(tmp, "kick-bad-%d.conf" % os.getpid())
        with open(path, "w") as f:
            f.write(text)
        try:
            rc, out, err = kickd_cli(["-c", path], timeout=5)
        except subprocess.TimeoutExpired:
            errors.append("%s: kickd started with a bad config" % what)
            continue
        finally:
            os.unlink(path)
        if rc != 2:
            errors.append("%s: exit status %d (want 2), stderr %r"
                          % (what, rc, err))
        elif not any("%s:%d:" % (path, n) in err for n in
                     (line if isinstance(line, tuple) else (line,))):
            errors.append("%s: stderr lacks %s:%s: reason: %r"
                          % (what, path, line, err))
    expect(not errors, "\n".join(errors))


def test_check_config_with_t():
    """kickd -t (nginx's -t): the configuration is read and checked, and
    kickd exits, 0 with a line saying so, or 2 with FILE:LINE: reason;
    nothing is listened on or created."""
    import tempfile
    tmp = tempfile.mkdtemp(prefix="kick-t-")
    good = os.path.join(tmp, "good.conf")
    bad = os.path.join(tmp, "bad.conf")
    db = os.path.join(tmp, "kick.db")
    with open(good, "w") as f:
        f.write("[server]\nlisten = localhost:1\ndb = %s\n\n"
                "[route /a]\nexec = /bin/true\n" % db)
    with open(bad, "w") as f:
        f.write("[server]\nwokers = 3\n")
    rc, out, err = kickd_cli(["-t", "-c", good], timeout=5)
    expect_eq(rc, 0, "kickd -t of a good config (stderr %r)" % err)
    expect("configuration ok, 1 routes" in err, "kickd -t said %r", err)
    expect(not os.path.exists(db), "kickd -t created the database")
    rc, out, err = kickd_cli(["--test", "-c", bad], timeout=5)
    expect_eq(rc, 2, "kickd -t of a bad config")
    expect("%s:2: unknown key 'wokers' in [server]" % bad in err,
           "kickd -t said %r", err)
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)


def test_skipped_scripts_and_hidden_routes_logged():
    """At start kickd says which files of --scripts are no route, and
    why, and which routes its own paths hide."""
    import tempfile
    import shutil
    d = tempfile.mkdtemp(prefix="kick-scripts-")
    for name, mode in (("jobs", 0o755), ("metrics", 0o755), ("ok", 0o755),
                       ("notes.txt", 0o644), (".swp", 0o644)):
        with open(os.path.join(d, name), "w") as f:
            f.write("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n")
        os.chmod(os.path.join(d, name), mode)
    conf = ("[server]\nlisten = {listen}\ndb = {db}\n\n"
            "[route /_kick/run/x]\nexec = /bin/true\n"
            "[route /_kick/x]\nexec = /bin/true\n")
    try:
        with Kickd(scripts=d, config=conf) as k:
            expect_eq(k.get("/ok").status, 200, "the one script route")
            log = k.stderr_text()
            for want in ("scripts %s: notes.txt is no route: not executable"
                         % d,
                         "scripts %s: .swp is no route: a hidden file" % d,
                         "route /jobs is hidden by kickd's own /jobs",
                         "route /metrics is hidden by kickd's own /metrics",
                         "route /_kick/run/x is hidden by kickd's own "
                         "/_kick/run/"):
                expect(want in log, "kickd's log lacks %r:\n%s", want, log)
            # /_kick/x is no control path: its route is served.
            expect("/_kick/x is hidden" not in log, "/_kick/x was reported")
            expect_eq(k.get("/_kick/x").status, 202, "the /_kick/x route")
            expect("/ok is hidden" not in log and "ok is no route" not in log,
                   "a good script was reported: %s", log)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_config_missing_file():
    rc, out, err = kickd_cli(["-c", "/nonexistent/kickd.conf"])
    expect_eq(rc, 2, "exit status")
    expect("/nonexistent/kickd.conf" in err, "file not named: %r", err)


def test_full_product_config_accepted():
    # Every key of PRODUCT.md's example is accepted (behaviour later).
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\nworkers = 8\n"
           "token = change-me\n\n"
           "[route /report]\nexec = /bin/sh {scripts}/env\nmode = detach\n"
           "time_limit = 30\nignore_user_abort = off\n"
           "on_shutdown = /bin/true\nenv = APP_ENV=production\n"
           "concurrency = 2\nretries = 3\n")
    with Kickd(config=cfg) as k:
        expect(k.alive(), "kickd not running")


def test_sighup_reloads_routes():
    with Kickd() as k:
        c = k.connect(timeout=10)
        c.send(build("GET", "/healthz"))
        expect_eq(c.response().status, 200, "before")
        expect_eq(k.get("/added").status, 404, "/added before reload")
        # A request running across the reload.
        busy = k.connect(timeout=10)
        busy.send(build("GET", "/sleep1"))
        time.sleep(0.2)
        write_script(os.path.join(k.scripts, "added"),
                     "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n"
                     "added\\n'\n")
        os.unlink(os.path.join(k.scripts, "cl"))
        k.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 3 * SLOW
        r = None
        while time.monotonic() < deadline:
            r = k.get("/added")
            if r.status == 200:
                break
            time.sleep(0.1)
        expect_eq((r.status, r.body), (200, b"added\n"), "/added after HUP")
        expect_eq(k.get("/cl").status, 404, "removed route after reload")
        expect_eq(k.get("/echo").status, 200, "old route after reload")
        r = busy.response()
        expect_eq((r.status, r.body), (200, b"slept\n"),
                  "request across the reload")
        # The connection opened before the reload still works.
        c.send(build("GET", "/added"))
        expect_eq(c.response().body, b"added\n", "old connection")
        c.send(build("GET", "/healthz"))
        expect_eq(c.response().status, 200, "old connection, healthz")
        c.close()
        busy.close()
        expect(k.alive(), "kickd died on SIGHUP")


def test_sighup_with_config_reload():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\n\n"
           "[route /one]\nexec = %s/cl\nmode = attach\n" % SCRIPTS)
    with Kickd(config=cfg, scripts=None) as k:
        expect_eq(k.get("/one").status, 200, "/one")
        conf = os.path.join(k.tmp, "kickd.conf")
        with open(conf, "a") as f:
            f.write("\n[route /two]\nexec = /bin/sh -c 'exit 1' x\n"
                    "mode = attach\n")
        k.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 3 * SLOW
        while time.monotonic() < deadline and k.get("/two").status == 404:
            time.sleep(0.1)
        expect(k.get("/two").status != 404, "/two not added by reload")
        # A broken config on reload keeps the old routes and kickd running.
        with open(conf, "a") as f:
            f.write("\n[route /three]\nbogus_key = 1\n")
        k.send_signal(signal.SIGHUP)
        time.sleep(0.5 * SLOW)
        expect(k.alive(), "kickd exited on a bad config at reload")
        expect_eq(k.get("/one").status, 200, "/one after bad reload")



def test_sighup_applies_server_settings():
    """SIGHUP applies the [server] settings a running kickd can take (a
    new token is required at once) and names those that take a restart
    (listen: kickd stays where it was)."""
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\ntoken = first\n\n"
           "[route /one]\nexec = %s/cl\nmode = attach\n" % SCRIPTS)
    with Kickd(config=cfg, scripts=None) as k:
        old = ["Authorization: Bearer first"]
        new = ["Authorization: Bearer second"]
        expect_eq(k.get("/one", old).status, 200, "/one with the token")
        conf = os.path.join(k.tmp, "kickd.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("token = first", "token = second")
                    .replace("listen = 127.0.0.1:%d" % k.port,
                             "listen = 127.0.0.1:%d" % free_port()))
        k.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 3 * SLOW
        while time.monotonic() < deadline and "reloaded" not in \
                k.stderr_text():
            time.sleep(0.05)
        expect_eq(k.get("/one", new).status, 200, "/one with the new token")
        expect_eq(k.get("/one", old).status, 401, "/one with the old token")
        log = k.stderr_text()
        expect("reload: [server] token changed: applied" in log,
               "the log does not name the token: %s", log)
        expect("reload: [server] listen changed: it takes a restart" in log,
               "the log does not name listen: %s", log)
        expect("workers changed" not in log, "an unchanged setting was "
               "named: %s", log)


def test_ipv6_listen():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
    except OSError as e:
        raise Skip("cannot bind [::1] on this machine (%s): IPv6 listening "
                   "NOT tested" % e)
    with Kickd(listen="::1") as k:
        r = k.get("/healthz")
        expect_eq((r.status, r.body), (200, b"ok\n"), "healthz over ::1")
        r = k.get("/env")
        env = dict(ln.split("=", 1) for ln in r.body.decode().splitlines()
                   if "=" in ln)
        expect_eq(env.get("REMOTE_ADDR"), "::1", "REMOTE_ADDR")
        expect_eq(env.get("SERVER_PORT"), str(k.port), "SERVER_PORT")
        try:
            socket.create_connection(("127.0.0.1", k.port), timeout=1).close()
            v4 = True
        except OSError:
            v4 = False
        expect(not v4, "listening on 127.0.0.1 too when told [::1]")


def test_host_name_listen():
    """--listen localhost:PORT (and listen = in a config) resolves the name
    at start: kickd listens on 127.0.0.1, and scripts reach it there."""
    with Kickd(listen="localhost") as k:
        r = k.get("/healthz")
        expect_eq((r.status, r.body), (200, b"ok\n"), "healthz via localhost")
        socket.create_connection(("127.0.0.1", k.port), timeout=1).close()
        r = k.get("/env")
        env = dict(ln.split("=", 1) for ln in r.body.decode().splitlines()
                   if "=" in ln)
        expect(env.get("KICK_CONTROL", "").startswith(
            "http://127.0.0.1:%d/_kick/run/" % k.port),
            "KICK_CONTROL %r", env.get("KICK_CONTROL"))
    conf = "[server]\nlisten = localhost:{port}\ndb = {db}\n"
    with Kickd(config=conf) as k:
        r = k.get("/healthz")
        expect_eq(r.status, 200, "healthz with listen = localhost:PORT")


def test_sigterm_exits_0_and_finishes_running_request():
    with Kickd() as k:
        busy = k.connect(timeout=10)
        busy.send(build("GET", "/sleep1"))
        time.sleep(0.3)
        k.send_signal(signal.SIGTERM)
        # New connections are refused soon after.
        deadline = time.monotonic() + 2 * SLOW
        refused = False
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", k.port),
                                         timeout=0.5).close()
            except OSError:
                refused = True
                break
            time.sleep(0.05)
        expect(refused, "still accepting connections after SIGTERM")
        r = busy.response()
        expect_eq((r.status, r.body), (200, b"slept\n"),
                  "running request across SIGTERM")
        busy.close()
        k.stop()  # waits: exit status 0, no sanitizer report


def test_sigint_exits_0():
    with Kickd() as k:
        expect_eq(k.get("/healthz").status, 200, "healthz")
        k.stop(signal.SIGINT)


def test_sigterm_with_idle_connections():
    # Idle keep-alive connections and connections that never sent
    # anything hold no work: SIGTERM closes them and kickd exits at once.
    with Kickd() as k:
        conns = [k.connect() for _ in range(10)]
        for c in conns[:5]:
            c.send(build("GET", "/healthz"))
            c.response()
        t0 = time.monotonic()
        k.send_signal(signal.SIGTERM)
        k.proc.wait(timeout=10)
        dt = time.monotonic() - t0
        expect(dt < 2.0 * SLOW, "exit took %.1f s with idle connections", dt)
        for c in conns:
            expect(c.is_closed(1.0), "idle connection left open")
            c.close()


def test_sigterm_with_half_sent_request():
    # A client that has not finished its request headers holds no running
    # request: it must not keep kickd from exiting within 10 s.
    with Kickd() as k:
        c = k.connect()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.5)
        t0 = time.monotonic()
        k.send_signal(signal.SIGTERM)
        try:
            k.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        dt = time.monotonic() - t0
        expect(not k.alive() and dt < 9.5, "kickd still running %.1f s "
               "after SIGTERM, held by one half-sent request", dt)
        c.close()


def test_fifty_concurrent_sleeping_scripts():
    with Kickd() as k:
        results = [None] * 50
        ready = threading.Barrier(51)

        def one(i):
            try:
                c = Conn("127.0.0.1", k.port, timeout=30)
                with c:
                    ready.wait(10)
                    c.send(build("GET", "/sleep1?i=%d" % i))
                    r = c.response(timeout=30)
                    results[i] = (r.status, r.body)
            except Exception as e:  # reported below
                results[i] = repr(e)

        threads = [threading.Thread(target=one, args=(i,))
                   for i in range(50)]
        for t in threads:
            t.start()
        ready.wait(10)
        t0 = time.monotonic()
        for t in threads:
            t.join(60)
        dt = time.monotonic() - t0
        bad = [(i, r) for i, r in enumerate(results)
               if r != (200, b"slept\n")]
        expect(not bad, "%d requests failed: %r", len(bad), bad[:5])
        expect(dt < 10, "50 one-second scripts took %.1f s", dt)
        print("    50 x sleep 1 in %.2f s" % dt, flush=True)


def test_port_in_use_fails_clearly():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        rc, out, err = kickd_cli(["--listen", "127.0.0.1:%d" % port,
                                  "--scripts", SCRIPTS,
                                  "--db", "/tmp/kick-e2e-%d.db" % port],
                                 timeout=5)
    except subprocess.TimeoutExpired:
        raise AssertionError("kickd ran although the port is taken")
    finally:
        s.close()
        for ext in ("", "-wal", "-shm", "-lock"):
            try:
                os.unlink("/tmp/kick-e2e-%d.db%s" % (port, ext))
            except OSError:
                pass
    expect(rc != 0, "exit status 0 on a taken port")
    expect("in use" in err.lower(), "no 'in use' reason: %r", err)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
