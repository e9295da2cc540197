# SPDX-License-Identifier: MIT
# CGI/1.1 execution: meta-variables, a clean environment, process groups,
# the body on stdin, streamed responses with backpressure, the script's
# Status/Location/headers, and 502 for bad CGI output or a failed start.

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, Conn, build, expect, expect_eq,  # noqa: E402
                     expect_error, run, write_script, SCRIPTS, SLOW)

# Everything a script may see (RFC 3875 section 4.1 and PRODUCT.md);
# HTTP_* and a route's env come on top.
ALLOWED = {
    "REQUEST_METHOD", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
    "SCRIPT_NAME", "PATH_INFO", "SERVER_NAME", "SERVER_PORT",
    "SERVER_PROTOCOL", "GATEWAY_INTERFACE", "SERVER_SOFTWARE",
    "REMOTE_ADDR", "REMOTE_PORT", "REDIRECT_STATUS", "SCRIPT_FILENAME",
    "KICK_JOB_ID", "KICK_CONTROL", "KICK_ATTEMPT", "PATH",
    # Other meta-variables of RFC 3875 and common servers: request data,
    # not kickd's environment, so they may be there.
    "REQUEST_URI", "PATH_TRANSLATED", "DOCUMENT_ROOT", "SERVER_ADDR",
    "AUTH_TYPE", "REMOTE_USER", "REMOTE_HOST", "REMOTE_IDENT",
}


def env_of(r):
    expect_eq(r.status, 200, "env status")
    out = {}
    for ln in r.body.decode("utf-8", "replace").splitlines():
        k, _, v = ln.partition("=")
        expect(k not in out, "variable %s twice in the environment", k)
        out[k] = v
    return out


def seq_bytes(n):
    out, i, size = [], 1, 0
    while size < n:
        s = b"%d\n" % i
        out.append(s)
        size += len(s)
        i += 1
    return b"".join(out)[:n]


def test_meta_variables():
    with Kickd() as k, k.connect() as c:
        c.send(build("POST", "/env/a/b%20c?x=1&y=%C3%A9+z",
                     ["X-Custom-Thing: hello", "Cookie: a=1; b=2",
                      "Content-Type: text/plain; charset=utf-8"],
                     body=b"12345"))
        e = env_of(c.response())
        local = c.sock.getsockname()
        want = {
            "REQUEST_METHOD": "POST",
            "QUERY_STRING": "x=1&y=%C3%A9+z",
            "CONTENT_TYPE": "text/plain; charset=utf-8",
            "CONTENT_LENGTH": "5",
            "SCRIPT_NAME": "/env",
            "SERVER_PORT": str(k.port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": str(local[1]),
            "REDIRECT_STATUS": "200",
            "HTTP_X_CUSTOM_THING": "hello",
            "HTTP_COOKIE": "a=1; b=2",
            "HTTP_HOST": "127.0.0.1",
            "SCRIPT_FILENAME": os.path.join(k.scripts, "env"),
        }
        for name, value in want.items():
            expect_eq(e.get(name), value, name)
        # RFC 3875 section 4.1.5: PATH_INFO is decoded.
        expect_eq(e.get("PATH_INFO"), "/a/b c", "PATH_INFO")
        # KICK_CONTROL is checked by the connection-state tests.
        for name in ("SERVER_NAME", "SERVER_SOFTWARE", "KICK_JOB_ID",
                     "KICK_ATTEMPT", "PATH"):
            expect(e.get(name), "%s missing or empty: %r", name, e)
        expect(e["KICK_ATTEMPT"].isdigit(), "KICK_ATTEMPT %r",
               e["KICK_ATTEMPT"])
        # Content headers travel as CONTENT_*, not HTTP_CONTENT_*
        # (RFC 3875 section 4.1.18).
        expect("HTTP_CONTENT_LENGTH" not in e, "HTTP_CONTENT_LENGTH set")
        expect("HTTP_CONTENT_TYPE" not in e, "HTTP_CONTENT_TYPE set")
        # A second request gets its own job id.
        c.send(build("GET", "/env"))
        e2 = env_of(c.response())
        expect(e2["KICK_JOB_ID"] != e["KICK_JOB_ID"], "same KICK_JOB_ID")
        # RFC 3875 section 4.1.7: QUERY_STRING is set, empty, without a
        # query; no body means no CONTENT_LENGTH.
        expect_eq(e2.get("QUERY_STRING"), "", "empty QUERY_STRING")
        expect_eq(e2.get("REQUEST_METHOD"), "GET", "REQUEST_METHOD")
        expect(e2.get("PATH_INFO", "") == "", "PATH_INFO %r", e2.get(
            "PATH_INFO"))


def test_environment_does_not_leak():
    leak = {"SECRET_LEAK": "1", "HOME": "/leak-home", "LD_PRELOAD": "",
            "PHPRC": "/leak", "KICK_TEST_LEAK": "yes"}
    with Kickd(env=leak) as k:
        e = env_of(k.get("/env", ["X-Forwarded-For: 10.0.0.1"]))
        extra = sorted(n for n in e if n not in ALLOWED and
                       not n.startswith("HTTP_"))
        expect(not extra, "variables a script must not see: %s",
               ", ".join("%s=%s" % (n, e[n]) for n in extra))
        expect("SECRET_LEAK" not in e, "SECRET_LEAK leaked")
        expect_eq(e.get("HTTP_X_FORWARDED_FOR"), "10.0.0.1",
                  "HTTP_X_FORWARDED_FOR")


def test_route_env_and_exec_words():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\n\n"
           "[route /wrapped]\nexec = /bin/sh -e {scripts}/env\n"
           "mode = attach\nenv = APP_ENV=production\n")
    with Kickd(config=cfg, env={"SECRET_LEAK": "1"}) as k:
        r = k.get("/wrapped/more?q=1")
        e = env_of(r)
        expect_eq(e.get("APP_ENV"), "production", "route env")
        expect_eq(e.get("SCRIPT_FILENAME"), os.path.join(k.scripts, "env"),
                  "SCRIPT_FILENAME (last word of exec)")
        expect_eq(e.get("SCRIPT_NAME"), "/wrapped", "SCRIPT_NAME")
        expect_eq(e.get("PATH_INFO"), "/more", "PATH_INFO")
        expect("SECRET_LEAK" not in e, "SECRET_LEAK leaked")
        extra = sorted(n for n in e if n not in ALLOWED and
                       n != "APP_ENV" and not n.startswith("HTTP_"))
        expect(not extra, "unexpected variables: %s", extra)


# The requests whose environments are compared attached and detached:
# (method, target, headers, body, HTTP version); each is also sent on one
# keep-alive connection in both modes.
SAME_ENV_REQUESTS = [
    ("GET", "/app/x", [], b"", "1.1"),
    ("GET", "/app/", [], b"", "1.1"),
    ("GET", "/plain", [], b"", "1.1"),
    ("POST", "/plain/a%20b/c%2Fd?q=%C3%A9+z&x=1&e=%26",
     ["X-Custom-Thing: hello", "Cookie: a=1", "Cookie: b=2",
      "Accept: text/html", "Accept: */*",
      "Content-Type: application/x-www-form-urlencoded"], b"k=v&w=%20", "1.1"),
    ("POST", "/plain/", ["Transfer-Encoding: chunked"],
     b"5\r\nhello\r\n0\r\n\r\n", "1.1"),
    ("POST", "/plain", ["Content-Length: 0"], b"", "1.1"),
    ("PUT", "/app/deep/er?", ["Connection: keep-alive", "X-Empty:"], b"abc",
     "1.0"),
]


def env_dump_of(k, path):
    """The environment the envdump script wrote (then removed), sorted."""
    deadline = time.monotonic() + 10 * SLOW
    while not os.path.exists(path):
        expect(time.monotonic() < deadline, "%s did not appear", path)
        time.sleep(0.01)
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return sorted(v for v in data.split(b"\0") if v)


def test_attached_and_detached_get_the_same_environment():
    # One request built once (cgi_request.c): the same request run
    # attached and then, after a reload makes its route detached, as a
    # job gets the same environment byte for byte but for KICK_*. Both
    # runs go over one connection, so REMOTE_PORT matches too (a job keeps
    # the address and port of the connection that triggered it).
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\n\n"
           "[route /app/]\nexec = {tmp}/envdump\nmode = %s\n"
           "env = DUMP={tmp}/dump\n\n"
           "[route /plain]\nexec = {tmp}/envdump\nmode = %s\n"
           "env = DUMP={tmp}/dump\n")
    with Kickd(config=cfg % ("attach", "attach"), scripts=None) as k:
        write_script(os.path.join(k.tmp, "envdump"),
                     "#!/bin/sh\ncat > /dev/null\n"
                     "cat /proc/$$/environ > \"$DUMP.$$\"\n"
                     "mv \"$DUMP.$$\" \"$DUMP\"\n"
                     "printf 'Content-Type: text/plain\\n\\nok\\n'\n")
        dump = os.path.join(k.tmp, "dump")
        attached = []
        with k.connect(timeout=10) as c:
            for method, target, headers, body, version in SAME_ENV_REQUESTS:
                c.send(build(method, target, headers, body, version,
                             host=version != "1.0"))
                r = c.response()
                expect_eq((r.status, r.body), (200, b"ok\n"),
                          "attached %s %s" % (method, target))
                attached.append(env_dump_of(k, dump))
            with open(os.path.join(k.tmp, "kickd.conf"), "w") as f:
                f.write(cfg.format(listen="%s:%d" % (k.listen_host, k.port),
                                   db=k.db, tmp=k.tmp) % ("detach", "detach"))
            k.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5 * SLOW
            while "reloaded" not in k.stderr_text():
                expect(time.monotonic() < deadline, "no reload logged")
                time.sleep(0.02)
            for i, (method, target, headers, body, version) in enumerate(
                    SAME_ENV_REQUESTS):
                what = "%s %s HTTP/%s" % (method, target, version)
                c.send(build(method, target, headers, body, version,
                             host=version != "1.0"))
                r = c.response()
                expect_eq(r.status, 202, "detached " + what)
                detached = env_dump_of(k, dump)
                a = [v for v in attached[i] if not v.startswith(b"KICK_")]
                d = [v for v in detached if not v.startswith(b"KICK_")]
                expect(d == a, "the environment of %s: attached only %r, "
                       "detached only %r", what,
                       sorted(set(a) - set(d)), sorted(set(d) - set(a)))
                for env in (attached[i], detached):
                    names = [v.split(b"=")[0] for v in env]
                    for name in (b"KICK_JOB_ID", b"KICK_ATTEMPT",
                                 b"KICK_CONTROL"):
                        expect(name in names, "%s lacks %s", what, name)
        # RFC 3875 section 4.1.5 and 4.1.13: PATH_INFO starts with "/",
        # and SCRIPT_NAME + PATH_INFO is the decoded path, also for a
        # route that ends in "/".
        for i, (script, info) in enumerate([
                (b"/app", b"/x"), (b"/app", b"/"), (b"/plain", None),
                (b"/plain", b"/a b/c/d"), (b"/plain", b"/"),
                (b"/plain", None), (b"/app", b"/deep/er")]):
            env = dict(v.split(b"=", 1) for v in attached[i])
            expect_eq(env.get(b"SCRIPT_NAME"), script, "SCRIPT_NAME %d" % i)
            expect_eq(env.get(b"PATH_INFO"), info, "PATH_INFO %d" % i)
        env = [dict(v.split(b"=", 1) for v in e) for e in attached]
        expect_eq(env[3].get(b"QUERY_STRING"), b"q=%C3%A9+z&x=1&e=%26",
                  "QUERY_STRING")
        expect_eq(env[3].get(b"HTTP_COOKIE"), b"a=1; b=2", "HTTP_COOKIE")
        expect_eq(env[3].get(b"HTTP_ACCEPT"), b"text/html, */*",
                  "HTTP_ACCEPT")
        expect_eq(env[4].get(b"CONTENT_LENGTH"), b"5", "chunked length")
        # Content-Length: 0 is a body, empty (RFC 3875 section 4.1.2);
        # no framing at all is none.
        expect_eq(env[5].get(b"CONTENT_LENGTH"), b"0", "Content-Length: 0")
        expect_eq(env[2].get(b"CONTENT_LENGTH"), None, "no body")
        expect_eq(env[6].get(b"SERVER_PROTOCOL"), b"HTTP/1.0", "HTTP/1.0")
        expect_eq(env[6].get(b"SERVER_NAME"), b"127.0.0.1",
                  "SERVER_NAME without Host")


def procstate(r):
    """The /procstate script's report: {key: value}, fds {n: target}."""
    expect_eq(r.status, 200, "procstate status")
    v, fds = {}, {}
    for ln in r.body.decode().splitlines():
        if ln.startswith("fd "):
            _, n, target = ln.split(" ", 2)
            fds[int(n)] = target
        elif ln.startswith("Sig"):
            k, _, val = ln.partition(":")
            v[k] = val.strip()
        else:
            k, _, val = ln.partition("=")
            v[k] = val
    return v, fds


def test_script_starts_clean():
    # Whatever kickd was started with (stdin closed, an inherited fd) and
    # whatever it holds (sockets, the store, signal handlers, SIGCHLD
    # blocked, SIGPIPE ignored), a script starts with its stdio only,
    # default signals, an empty mask, in its own directory.
    inherited = os.open("/dev/zero", os.O_RDONLY)
    try:
        with Kickd(pass_fds=(inherited,), close_std=(0,)) as k:
            for body in (b"", b"x=1"):
                r = k.request("POST" if body else "GET", "/procstate",
                              body=body)
                v, fds = procstate(r)
                expect_eq(v.get("SigBlk"), "0000000000000000", "signal mask")
                # 32 and 33 are glibc's own (SIGCANCEL, SIGSETXID): its
                # posix_spawn leaves them ignored in a child, and a parent
                # started by one (make) may hand them on.
                ignored = int(v.get("SigIgn", "f"), 16) & ~(3 << 31)
                expect_eq(ignored, 0, "ignored signals (%s)" % v.get("SigIgn"))
                expect_eq(v.get("cwd"), k.scripts, "working directory")
                want0 = "/dev/null" if not body else "pipe:"
                expect(v.get("stdin", "").startswith(want0),
                       "stdin %r, want %s", v.get("stdin"), want0)
                expect(fds.get(1, "").startswith("pipe:"), "stdout: %r", fds)
                extra = {n: t for n, t in fds.items() if n > 2 and
                         not t.startswith("/proc/")}
                expect(not extra, "fds a script must not have: %r", extra)
            k.healthy("after procstate")
    finally:
        os.close(inherited)


def test_exec_of_a_file_without_interpreter_line_is_502():
    # Like posix_spawnp (and unlike execvp), an executable text file
    # without "#!" is not handed to /bin/sh.
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\n\n"
           "[route /noshebang]\nexec = {tmp}/noshebang\nmode = attach\n\n"
           "[route /bypath]\nexec = procstate\nmode = attach\n")
    path = "/nonexistent:%s:%s" % (SCRIPTS, os.environ.get("PATH", "/bin"))
    with Kickd(config=cfg, env={"PATH": path}) as k:
        write_script(os.path.join(k.tmp, "noshebang"),
                     "printf 'Content-Type: text/plain\\n\\nran\\n'\n")
        r = k.get("/noshebang")
        expect_error(r, 502, "no #! line")
        expect("Exec format error" in k.stderr_text(),
               "the reason is not logged: %r", k.stderr_text()[-300:])
        # A bare program name is looked up in kickd's PATH.
        v, _ = procstate(k.get("/bypath"))
        expect_eq(v.get("SigBlk"), "0000000000000000", "found in PATH")
        k.healthy("after exec failures")


def test_own_process_group():
    with Kickd() as k:
        kickd_pgid = os.getpgid(k.proc.pid)
        r = k.get("/pgid")
        expect_eq(r.status, 200, "status")
        v = dict(ln.split("=") for ln in r.body.decode().split())
        expect_eq(v["pgid"], v["pid"], "script's pgid (own group)")
        expect(int(v["pgid"]) != kickd_pgid, "script in kickd's group")


def test_body_on_stdin():
    with Kickd() as k:
        body = os.urandom(200000)
        r = k.request("PUT", "/stdin", ["Content-Type: x/y"], body=body)
        expect_eq(r.body, b"%d %d\n" % (len(body), len(body)),
                  "stdin count and CONTENT_LENGTH")
        with open(os.path.join(k.scripts, "stdin.data"), "rb") as f:
            expect(f.read() == body, "stdin differs")


def test_post_without_length_has_an_empty_body():
    """RFC 9112 section 6.3: no Content-Length and no Transfer-Encoding is
    a body of length zero, for POST and PUT too (curl -X POST URL): the
    script runs with an empty stdin, and the connection goes on."""
    with Kickd() as k:
        with k.connect() as c:
            for method in ("POST", "PUT", "PATCH"):
                c.send(("%s /stdin HTTP/1.1\r\nHost: t\r\n\r\n"
                        % method).encode())
                r = c.response()
                expect_eq((r.status, r.body), (200, b"0 unset\n"),
                          "%s without a length" % method)
            c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            expect_eq(c.response().status, 200, "the next request")


def test_response_streamed_as_written():
    with Kickd() as k, k.connect() as c:
        t0 = time.monotonic()
        c.send(build("GET", "/stream"))
        r = c.read_head()
        expect_eq(r.status, 200, "status")
        expect(r.has_token("Transfer-Encoding", "chunked"),
               "no length given, so chunked: %r", r)
        deadline = t0 + 0.8 * SLOW
        while b"first" not in c.buf and time.monotonic() < deadline:
            try:
                c._fill(deadline)
            except TimeoutError:
                break
        dt = time.monotonic() - t0
        expect(b"first" in c.buf, "first line not streamed within %.1f s "
               "(have %r)", dt, c.buf)
        expect(b"second" not in c.buf, "second line already there")
        c.buf = r.raw_head + b"\r\n\r\n" + c.buf
        r = c.response()
        expect_eq(r.body, b"first\nsecond\n", "body")


def test_short_answer_gets_a_length():
    # Without a Content-Length of its own, a script that ends within
    # response_hold_ms is answered in one piece with one; a longer answer,
    # or one still being written when the hold ends, streams chunked.
    cfg = "[server]\nlisten = {listen}\ndb = {db}\nresponse_hold_ms = 500\n"
    with Kickd(config=cfg) as k, k.connect() as c:
        c.send(build("GET", "/echo?x=1"))
        r = c.response()
        expect_eq(r.status, 200, "echo")
        expect(r.header("Transfer-Encoding") is None, "held answer chunked")
        expect_eq(r.header("Content-Length"), str(len(r.body)), "length")
        expect(b"query=x=1\n" in r.body, "body: %r", r.body)
        c.send(build("GET", "/big?n=100000"))
        r = c.response()
        expect(r.has_token("Transfer-Encoding", "chunked"),
               "100000 bytes were held: %r", r)
        expect_eq(len(r.body), 100000, "big body")
        t0 = time.monotonic()
        c.send(build("GET", "/stream"))
        r = c.read_head()
        while b"first" not in c.buf:
            c._fill(t0 + 0.9)
        dt = time.monotonic() - t0
        expect(dt >= 0.45, "the head came before the hold ended: %.3f s", dt)
        expect(b"second" not in c.buf, "the stream waited for its end")
        expect(r.has_token("Transfer-Encoding", "chunked"), "stream: %r", r)
        c.buf = r.raw_head + b"\r\n\r\n" + c.buf
        r = c.response()
        expect_eq(r.body, b"first\nsecond\n", "stream body")
    cfg = "[server]\nlisten = {listen}\ndb = {db}\nresponse_hold_ms = 0\n"
    with Kickd(config=cfg) as k:
        r = k.request("GET", "/echo")
        expect_eq(r.status, 200, "echo, no hold")
        expect(r.has_token("Transfer-Encoding", "chunked"),
               "response_hold_ms = 0 still held: %r", r)


def test_script_content_length_and_headers():
    with Kickd() as k:
        r = k.get("/cl")
        expect_eq(r.status, 200, "status")
        expect_eq(r.header("Content-Length"), "6", "Content-Length")
        expect(r.header("Transfer-Encoding") is None, "chunked despite "
               "Content-Length: %r", r)
        expect_eq(r.body, b"hello\n", "body")
        expect_eq(r.header("X-Custom"), "yes", "X-Custom")
        expect_eq(sorted(r.header_all("Set-Cookie")), ["a=1", "b=2"],
                  "Set-Cookie")


def test_script_length_cannot_split_responses():
    # A script that writes more than its Content-Length must not inject a
    # second response; one that writes less must not leave the client
    # waiting on a connection reused for the next request.
    with Kickd() as k:
        with k.connect() as c:
            c.send(build("GET", "/cllong") + build("GET", "/healthz"))
            r = c.response()
            expect_eq((r.status, r.body), (200, b"HT"), "/cllong")
            r = c.response()
            expect_eq((r.status, r.body), (200, b"ok\n"), "next response")
        with k.connect() as c:
            c.send(build("GET", "/clshort") + build("GET", "/healthz"))
            r = c.read_head()
            expect_eq(r.status, 200, "/clshort")
            rest = c.read_to_close()
            expect_eq(rest, b"short", "bytes after the /clshort head")


def test_status_header():
    with Kickd() as k:
        r = k.get("/status404")
        expect_eq((r.status, r.reason), (404, "Nope"), "status")
        expect_eq(r.body, b"not here\n", "body")
        expect(r.header("Status") is None, "Status header passed on")


def test_location_redirect():
    with Kickd() as k:
        r = k.get("/redirect")
        expect_eq(r.status, 302, "status")
        expect_eq(r.header("Location"), "http://example.com/elsewhere",
                  "Location")


def test_bad_cgi_output_502():
    with Kickd() as k, k.connect() as c:
        for name in ("garbage", "empty", "nohead"):
            c.send(build("GET", "/" + name))
            r = c.response()
            expect_error(r, 502, name)
            if r.has_token("Connection", "close"):
                c.close()
                c = k.connect()
        k.healthy()
        c.close()
        log = k.stderr_text()
        expect("garbage" in log or "502" in log or "header" in log.lower(),
               "502 not logged: %r", log[-500:])


def test_exec_failure_502():
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\n\n"
           "[route /missing]\nexec = {tmp}/does-not-exist\nmode = attach\n\n"
           "[route /notexec]\nexec = {tmp}/plain.txt\nmode = attach\n\n"
           "[route /removed]\nexec = {tmp}/gone.sh\nmode = attach\n")
    with Kickd(config=cfg) as k:
        write_script(os.path.join(k.tmp, "plain.txt"), "hello\n", 0o644)
        for target in ("/missing", "/notexec", "/missing/x?y=1"):
            r = k.request("POST", target, body=b"data")
            expect_error(r, 502, target)
            k.healthy("after " + target)


def test_one_mib_response_read_slowly():
    n = 1 << 20
    with Kickd() as k:
        c = Conn("127.0.0.1", k.port, timeout=30, rcvbuf=8192)
        with c:
            c.send(build("GET", "/big?n=%d" % n))
            time.sleep(1.0)
            # Read in small bites with pauses at first.
            for _ in range(20):
                c._fill(time.monotonic() + 10, 1024)
                time.sleep(0.02)
            r = c.response(timeout=30)
            expect_eq(r.status, 200, "status")
            expect_eq(len(r.body), n, "length")
            expect(r.body == seq_bytes(n), "content differs")


def test_backpressure_paces_the_script():
    # 16 MiB is far more than the socket buffers and kickd's write queue
    # can hold: while the client reads nothing, the script must block.
    n = 16 << 20
    with Kickd() as k:
        done = os.path.join(k.scripts, "big.done")
        c = Conn("127.0.0.1", k.port, timeout=60, rcvbuf=4096)
        with c:
            c.send(build("GET", "/big?n=%d" % n))
            time.sleep(2.5)
            expect(not os.path.exists(done),
                   "script wrote 16 MiB while the client read nothing: "
                   "kickd buffers without bound")
            r = c.response(timeout=60)
            expect_eq(len(r.body), n, "length")
            expect(r.body == seq_bytes(n), "content differs")
        t0 = time.monotonic()
        while not os.path.exists(done) and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        expect(os.path.exists(done), "script did not finish")


def test_no_zombies_after_many_scripts():
    with Kickd() as k:
        for i in range(30):
            k.get("/cl")
            k.get("/empty")
        time.sleep(0.3)
        k.check_zombies()
        left = [p for p in k.children()]
        expect(not left, "children still there after all requests: %s", left)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
