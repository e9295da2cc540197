# SPDX-License-Identifier: MIT
# The kick CLI (issue 5 item 2) end to end: its trigger modes against the
# real kickd (the job id, --no-wait, --wait with the job's output and exit
# status), values that must arrive exactly, --batch of 1,000 triggers and
# a batch with a bad line, status/cancel/wait/ls; against servers that are
# not kickd (plain HTTP, HTTPS with a self-signed certificate made here,
# --cacert and -k, IPv4 and IPv6); and its errors: refused, timed out,
# malformed URL, unknown host, usage, each with its documented exit status
# (docs/kick.1, EXIT STATUS) and a message that names the problem.
#
# scripts/cli_job is the detached job: it writes what it got into the
# test's temp dir (JOB_DIR) as cli.ID.env and cli.ID.body.

import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import parse_qsl, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, Skip, expect, expect_eq, kick_bin,  # noqa: E402
                     run, wait_whole_line, write_script, SLOW)

# docs/kick.1, EXIT STATUS.
EXIT_OK, EXIT_HTTP, EXIT_USAGE, EXIT_NOTSCRIPT = 0, 1, 2, 3
EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_DNS, EXIT_URL = 4, 5, 6, 7
EXIT_JOB_FAILED = 8

KICK = kick_bin()

# Values a naive encoder breaks: blanks, the form's own delimiters, "+"
# (a space in forms), "%", UTF-8, CR LF, a "=" inside the value.
TRICKY = [
    ("space", "a b  c"),
    ("amp", "x&y=z"),
    ("eq", "=="),
    ("plus", "1+1=2"),
    ("pct", "100% %41 %zz"),
    ("utf8", "h\u00e9llo w\u00f6rld \u2603"),
    ("crlf", "line1\r\nline2"),
    ("semi", "a;b,c"),
    ("empty", ""),
    ("we ird&name", "v"),
]
COOKIES = [("session", "a b+c/d=e;f"), ("lang", "fr \u00e9t\u00e9"),
           ("plain", "abc123")]


def kick(*args, env=None, timeout=30.0, server=None, stdin=None):
    """Runs kick with args (stdin: bytes for its standard input, else
    none); returns (exit status, stdout, stderr, seconds). KICK_SERVER is
    taken out of the environment unless server is given."""
    e = dict(os.environ)
    e.pop("KICK_SERVER", None)
    if server:
        e["KICK_SERVER"] = server
    e.update(env or {})
    t0 = time.monotonic()
    try:
        p = subprocess.run([KICK] + list(args), capture_output=True,
                           **({"input": stdin} if stdin is not None else
                              {"stdin": subprocess.DEVNULL}), env=e,
                           timeout=timeout * SLOW)
    except subprocess.TimeoutExpired as ex:
        raise AssertionError("kick %s did not end within %.0f s; stderr %r"
                             % (" ".join(args), timeout * SLOW,
                                (ex.stderr or b"")[-300:]))
    took = time.monotonic() - t0
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), took)


def kick_ok(*args, **kw):
    rc, out, err, _ = kick(*args, **kw)
    expect(rc == 0, "kick %s: exit %d, stdout %r, stderr %r",
           " ".join(args), rc, out[-300:], err[-300:])
    return out


def kick_fails(code, words, *args, **kw):
    """Expects kick to exit with code and stderr to name every word (case
    does not matter) on one line that starts with "kick"."""
    rc, out, err, took = kick(*args, **kw)
    expect(rc == code, "kick %s: expected exit %d, got %d; stdout %r, "
           "stderr %r", " ".join(args), code, rc, out[-300:], err[-300:])
    expect(err.startswith(("kick", "usage: kick")),
           "kick %s: stderr does not start with 'kick': %r",
           " ".join(args), err[-300:])
    for w in words:
        expect(w.lower() in err.lower(), "kick %s: message %r does not "
               "name %r", " ".join(args), err.strip(), w)
    return out, err, took


def config(routes, server=""):
    """kickd config text: [server], then each (path, extra lines) as a
    detached route running cli_job with JOB_DIR = the test's temp dir."""
    out = ["[server]", "listen = {listen}", "db = {db}"]
    out += [ln.strip() for ln in server.splitlines() if ln.strip()]
    for path, extra in routes:
        out += ["", "[route %s]" % path, "exec = {scripts}/cli_job",
                "env = JOB_DIR={tmp}"]
        out += [ln.strip() for ln in extra.splitlines() if ln.strip()]
    return "\n".join(out) + "\n"


def kickd(routes=(("/c", ""),), server="", listen=None):
    return Kickd(config=config(routes, server), listen=listen)


def base(k):
    host = k.listen_host
    if ":" in host:
        host = "[%s]" % host
    return "http://%s:%d" % (host, k.port)


def get_json(k, target):
    r = k.get(target)
    expect(r.status == 200, "GET %s: %r", target, r)
    return json.loads(r.body)


wait_file = wait_whole_line


def env_of(k, jid):
    text = wait_file(os.path.join(k.tmp, "cli.%d.env" % jid)).decode()
    return dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)


def body_of(k, jid):
    """The job's stdin; cli_job writes it before its env file."""
    env_of(k, jid)
    with open(os.path.join(k.tmp, "cli.%d.body" % jid), "rb") as f:
        return f.read()


def wait_state(k, jid, states, timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        j = get_json(k, "/jobs/%d" % jid)
        if j["state"] in states:
            return j
        expect(time.monotonic() < deadline, "job %d not %s in time: %r",
               jid, "/".join(states), j)
        time.sleep(0.02)


def job_id(out, what):
    line = out.strip()
    expect(line.isdigit() and "\n" not in line,
           "%s: kick did not print one job id: %r", what, out)
    return int(line)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


# Servers that are not kickd.

class Handler(http.server.BaseHTTPRequestHandler):
    """/ok: 200 "hello"; /missing: 404 with its own reason; /error: 503.
    Every request is recorded on the server."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (OSError, ssl.SSLError) as e:
            self.server.errors.append(str(e))
            self.close_connection = True

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.server.requests.append(
            (self.command, self.path, dict(self.headers.items()), body))
        path = self.path.split("?", 1)[0]
        if path == "/ok":
            status, reason, text = 200, "OK", b"hello from elsewhere\n"
        elif path == "/missing":
            status, reason, text = 404, "No Such Hook", b"not here\n"
        else:
            status, reason, text = 503, "Busy Right Now", b"later\n"
        self.send_response(status, reason)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = do_PUT = answer


class Server(http.server.ThreadingHTTPServer):
    """A plain HTTP (or, given a certificate, HTTPS) server in a thread,
    on host (IPv4 or IPv6) and a free port."""

    daemon_threads = True

    def __init__(self, host="127.0.0.1", cert=None):
        self.address_family = socket.AF_INET6 if ":" in host \
            else socket.AF_INET
        self.requests = []
        self.errors = []
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*cert)
        super().__init__((host, 0), Handler)
        self.port = self.server_address[1]
        self.host = host
        self.t = threading.Thread(target=self.serve_forever,
                                  kwargs={"poll_interval": 0.05},
                                  daemon=True)
        self.t.start()

    def finish_request(self, request, client_address):
        # The TLS handshake in the request's own thread, so that a client
        # that gives up on the certificate does not stall the others.
        if self.ctx:
            request.settimeout(5.0)
            try:
                request = self.ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as e:
                self.errors.append(str(e))
                return
        request.settimeout(5.0)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        self.errors.append(repr(sys.exc_info()[1]))

    def url(self, path, scheme=None):
        scheme = scheme or ("https" if self.ctx else "http")
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.shutdown()
        self.server_close()
        self.t.join(2.0)
        return False


class Silent:
    """Accepts connections, reads what comes, never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.data = []
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.held.append(c)
            threading.Thread(target=self.drain, args=(c,),
                             daemon=True).start()

    def drain(self, c):
        buf = b""
        c.settimeout(0.2)
        while not self.stop:
            try:
                d = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            buf += d
        self.data.append(buf)

    def received(self, timeout=5.0):
        """The bytes of connections that have ended, after waiting up to
        timeout for the first one to end."""
        deadline = time.monotonic() + timeout * SLOW
        while not self.data and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.data)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop = True
        self.sock.close()
        self.t.join(2.0)
        for c in self.held:
            c.close()
        return False


def make_cert(d):
    """A self-signed certificate for localhost, 127.0.0.1 and ::1."""
    if shutil.which("openssl") is None:
        raise AssertionError("the openssl command is not installed "
                             "(.ci/deps installs it)")
    crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,"
                        "DNS:localhost", "-keyout", key, "-out", crt],
                       capture_output=True, timeout=60)
    expect(p.returncode == 0, "openssl failed: %s", p.stderr[-300:])
    return crt, key


# 1. Trigger modes against kickd.

def test_default_prints_job_id():
    """Default (accepted): the job id on stdout, exit 0, the job exists
    and runs."""
    with kickd() as k:
        rc, out, err, _ = kick(base(k) + "/c?tag=acc")
        expect_eq((rc, err), (0, ""), "exit status and stderr")
        jid = job_id(out, "default mode")
        j = get_json(k, "/jobs/%d" % jid)
        expect_eq((j["id"], j["route"]), (jid, "/c"), "GET /jobs/ID")
        expect_eq(int(wait_file(os.path.join(k.tmp, "cli.mark.acc"))), jid,
                  "the job ran")
        expect_eq(env_of(k, jid)["method"], "GET", "a bodiless trigger's "
                  "method")
        expect_eq(wait_state(k, jid, ("succeeded", "failed"))["state"],
                  "succeeded", "the job's end")
        # Two triggers, two jobs.
        a = job_id(kick_ok(base(k) + "/c", "-d", "a=1"), "second")
        b = job_id(kick_ok(base(k) + "/c", "-d", "a=2"), "third")
        expect(len({jid, a, b}) == 3, "job ids not distinct: %r",
               (jid, a, b))


def test_no_wait_returns_at_once():
    """--no-wait: returns once the request is written, prints nothing, and
    kickd still stores and runs the job to its end."""
    with kickd() as k:
        rc, out, err, took = kick("--no-wait",
                                  base(k) + "/c?tag=nw&sleep=1&done=nw",
                                  "-d", "x=y z")
        expect_eq((rc, out, err), (0, "", ""), "--no-wait result")
        expect(took < 1.0 * SLOW, "--no-wait took %.2f s (the job sleeps "
               "1 s)", took)
        jid = int(wait_file(os.path.join(k.tmp, "cli.mark.nw")))
        expect(not os.path.exists(os.path.join(k.tmp, "cli.done.nw")),
               "the job had ended before kick returned")
        expect_eq(int(wait_file(os.path.join(k.tmp, "cli.done.nw"))), jid,
                  "the job ran to its end")
        expect_eq(body_of(k, jid),
                  b"x=y+z", "body of the --no-wait trigger")
        expect_eq(wait_state(k, jid, ("succeeded", "failed"))["state"],
                  "succeeded", "state")
    # It reads nothing: a server that never answers does not hold it.
    with Silent() as s:
        rc, out, err, took = kick("--no-wait", "--timeout", "5",
                                  "http://127.0.0.1:%d/hook" % s.port,
                                  "-d", "a=1")
        expect_eq((rc, out, err), (0, "", ""), "--no-wait to a silent "
                  "server")
        expect(took < 2.0 * SLOW, "--no-wait waited %.1f s for an answer",
               took)
        got = s.received()
        expect(got and got[0].startswith(b"POST /hook HTTP/1.1\r\n") and
               got[0].endswith(b"\r\n\r\na=1"),
               "the silent server got %r", got)


def test_wait_output_and_exit_status():
    """--wait: prints the job's output and exits with its exit status; so
    does kick wait ID."""
    with kickd() as k:
        rc, out, err, _ = kick("--wait", base(k) + "/c?sleep=0.3")
        expect_eq((rc, err), (0, ""), "--wait of a job exiting 0")
        expect("cli-out:" in out and "cli-end:" in out,
               "--wait output lacks the job's lines: %r", out)
        jid = int(out.split("cli-out:", 1)[1].split()[0])
        expect("cli-end:%d" % jid in out, "output of another job? %r", out)
        expect_eq(get_json(k, "/jobs/%d" % jid)["state"], "succeeded",
                  "state after --wait")
        rc, out, err, _ = kick("--wait", base(k) + "/c?exit=3")
        expect_eq(rc, 3, "--wait of a job exiting 3 (stderr %r)" % err)
        expect("cli-end:" in out, "--wait output lacks the job's lines: %r",
               out)
        jid = int(out.split("cli-out:", 1)[1].split()[0])
        j = get_json(k, "/jobs/%d" % jid)
        expect_eq((j["state"], j["exit_status"]), ("failed", 3), "the job")
        # kick wait ID on a job that is still running.
        jid = job_id(kick_ok(base(k) + "/c?exit=5&sleep=0.5"), "trigger")
        rc, out, err, _ = kick("wait", str(jid), server=base(k))
        expect_eq(rc, 5, "kick wait of a job exiting 5 (stderr %r)" % err)
        expect("cli-end:%d" % jid in out, "kick wait output: %r", out)
        # Over --server instead of KICK_SERVER, on an ended job.
        rc, out, err, _ = kick("wait", "--server", base(k), str(jid))
        expect_eq(rc, 5, "kick wait --server (stderr %r)" % err)


def test_values_arrive_exactly():
    """Form fields, query values, cookies and a header with tricky values
    reach a shell job exactly; a JSON body too."""
    with kickd() as k:
        args = ["--wait", base(k) + "/c?tag=raw&z=%2F"]
        for n, v in TRICKY:
            args += ["-d", "%s=%s" % (n, v)]
        args += ["-q", "k=v w+x&y", "-q", "u=\u00e9=1"]
        for n, v in COOKIES:
            args += ["-b", "%s=%s" % (n, v)]
        args += ["-H", "X-Kick:  a;b, \"c\"  d  "]
        out = kick_ok(*args)
        jid = int(wait_file(os.path.join(k.tmp, "cli.mark.raw")))
        expect("cli-end:%d" % jid in out, "--wait output %r", out)
        env = env_of(k, jid)
        body = body_of(k, jid).decode()
        expect_eq(env["method"], "POST", "method with -d")
        expect_eq(env["ctype"], "application/x-www-form-urlencoded",
                  "CONTENT_TYPE")
        expect_eq(int(env["clen"]), len(body.encode()), "CONTENT_LENGTH")
        expect(all(c.isalnum() or c in "%&=+-._~*" for c in body),
               "a value left unencoded in the body %r", body)
        expect_eq(parse_qsl(body, keep_blank_values=True,
                            strict_parsing=True), TRICKY, "decoded form")
        q = env["query"]
        expect(q.startswith("tag=raw&z=%2F&"), "the URL's own query kept "
               "as it was: %r", q)
        expect_eq(parse_qsl(q, keep_blank_values=True,
                            strict_parsing=True)[2:],
                  [("k", "v w+x&y"), ("u", "\u00e9=1")], "decoded -q")
        pairs = [p.split("=", 1) for p in env["cookie"].split("; ")]
        expect_eq([(n, unquote(v)) for n, v in pairs], COOKIES,
                  "decoded cookies (Cookie: %r)" % env["cookie"])
        expect(all(" " not in v and ";" not in v for _, v in pairs),
               "a cookie value left unencoded: %r", env["cookie"])
        expect_eq(env["x_kick"], 'a;b, "c"  d', "header value (blanks "
                  "around it are not part of it)")
        # A JSON body arrives byte for byte, with its type.
        doc = '{"a": [1, "\u00e9 &"], "b": "x=y&z"}'
        out = kick_ok("--wait", base(k) + "/c?tag=json", "--json", doc)
        jid = int(wait_file(os.path.join(k.tmp, "cli.mark.json")))
        env = env_of(k, jid)
        expect_eq((env["method"], env["ctype"]),
                  ("POST", "application/json"), "JSON method and type")
        expect_eq(body_of(k, jid),
                  doc.encode(), "JSON body")
        # -X, and a bearer token.
        out = kick_ok(base(k) + "/c?tag=put", "-X", "PUT", "-d", "a=b",
                      "--token", "s3cret")
        jid = int(wait_file(os.path.join(k.tmp, "cli.mark.put")))
        env = env_of(k, jid)
        expect_eq((env["method"], env["auth"]), ("PUT", "Bearer s3cret"),
                  "-X PUT --token")


def test_data_from_files():
    """-d @FILE and -d @- send the bytes of a file or of stdin as they are,
    with CR and LF dropped (curl's -d); --data-binary keeps every byte;
    the items join with '&' in their order; a file that cannot be read is
    a usage error naming it, and nothing is sent."""
    with kickd() as k:
        form = os.path.join(k.tmp, "form.txt")
        with open(form, "wb") as f:
            f.write(b"a=1%202&b=x\r\n&c=3\n")
        blob = bytes(range(256)) + b"\r\n\0end\n"
        binf = os.path.join(k.tmp, "blob.bin")
        with open(binf, "wb") as f:
            f.write(blob)
        cases = [
            ("file", ["-d", "@" + form, "-d", "z=a b"],
             b"a=1%202&b=x&c=3&z=a+b", None),
            ("stdin", ["-d", "@-"], b"s=1&t=2", b"s=1\n&t=2\r\n"),
            ("bin", ["--data-binary", "@" + binf], blob, None),
            ("binin", ["--data-binary", "@-", "--data-binary", "x y"],
             b"q\r\n\0&x y", b"q\r\n\0"),
            ("empty", ["-d", "@/dev/null"], b"", None),
        ]
        for tag, args, want, stdin in cases:
            kick_ok(base(k) + "/c?tag=" + tag, *args, stdin=stdin)
            jid = int(wait_file(os.path.join(k.tmp, "cli.mark." + tag)))
            env = env_of(k, jid)
            expect_eq(body_of(k, jid), want, "the body of " + tag)
            expect_eq((env["method"], env["ctype"], env["clen"]),
                      ("POST", "application/x-www-form-urlencoded",
                       str(len(want))), "method, type, length of " + tag)
        # A Content-Type of one's own goes with --data-binary.
        kick_ok(base(k) + "/c?tag=typed", "--data-binary", "@" + binf,
                "-H", "Content-Type: application/octet-stream")
        jid = int(wait_file(os.path.join(k.tmp, "cli.mark.typed")))
        expect_eq(env_of(k, jid)["ctype"], "application/octet-stream",
                  "--data-binary with -H Content-Type")
        missing = os.path.join(k.tmp, "no-such-file")
        # A job may still be ending (its script wrote its mark and has
        # yet to exit): the listing compared below is taken once every
        # job has ended.
        for j in get_json(k, "/jobs")["jobs"]:
            wait_state(k, j["id"], ("succeeded",))
        before = get_json(k, "/jobs")["jobs"]
        for flag in ("-d", "--data-binary"):
            kick_fails(EXIT_USAGE, [flag, missing, "no such file"],
                       base(k) + "/c", flag, "@" + missing)
        kick_fails(EXIT_USAGE, ["-d", k.tmp, "directory"], base(k) + "/c",
                   "-d", "@" + k.tmp)
        expect_eq(get_json(k, "/jobs")["jobs"], before,
                  "jobs after the failed reads")


def test_batch_of_1000():
    """--batch with 1,000 lines: all accepted, the summary says so, exit 0,
    and kickd holds 1,000 jobs. Not a terminal: no progress bar."""
    with kickd(routes=(("/c", ""), ("/d", ""))) as k:
        path = os.path.join(k.tmp, "batch.txt")
        with open(path, "w") as f:
            f.write("# 1,000 triggers, delayed so that none runs\n\n")
            for i in range(1000):
                f.write("%s%s/%s?n=%d\n" % ("POST " if i % 2 else "",
                                            base(k), "cd"[i % 3 == 0], i))
        t0 = time.monotonic()
        rc, out, err, took = kick("--batch", path, "--parallel", "8",
                                  "-H", "Kick-Delay: 3600", timeout=120)
        expect_eq((rc, err), (0, ""), "--batch exit status and stderr "
                  "(stdout %r)" % out)
        lines = out.splitlines()
        expect(len(lines) == 1 and lines[0].startswith(
            "1000 triggered, 1000 accepted, 0 failed"),
            "summary line: %r", out)
        ids = []
        after = 0
        while True:
            d = get_json(k, "/jobs?limit=1000" +
                         ("&after=%d" % after if after else ""))
            ids += [(j["id"], j["route"], j["state"]) for j in d["jobs"]]
            if not d.get("next"):
                break
            after = d["next"]
        expect_eq(len(ids), 1000, "jobs in kickd (%.1f s)" %
                  (time.monotonic() - t0))
        expect_eq(len({i for i, _, _ in ids}), 1000, "distinct job ids")
        routes = sorted(r for _, r, _ in ids)
        expect_eq((routes.count("/d"), routes.count("/c")), (334, 666),
                  "jobs per route")
        expect_eq({s for _, _, s in ids}, {"queued"}, "states (delayed)")


def test_batch_with_a_bad_line():
    """A malformed URL in the file: exit 7 naming FILE:LINE, nothing sent.
    A line that gets a 404: the others accepted, exit 1, the summary and
    the failing line named."""
    with kickd() as k:
        path = os.path.join(k.tmp, "bad.txt")
        with open(path, "w") as f:
            f.write("%s/c\nhttp://[::zz]/c\n%s/c\n" % (base(k), base(k)))
        rc, out, err, _ = kick("--batch", path)
        expect_eq(rc, EXIT_URL, "a malformed line (stderr %r)" % err)
        expect("%s:2:" % path in err and "malformed" in err,
               "message %r", err)
        expect_eq(get_json(k, "/jobs")["jobs"], [], "jobs after a batch "
                  "refused before sending")
        with open(path, "w") as f:
            for i in range(10):
                f.write("%s/%s?n=%d\n" % (base(k), "nope" if i == 6 else "c",
                                          i))
        rc, out, err, _ = kick("--batch", path, "--parallel", "3")
        expect_eq(rc, EXIT_HTTP, "a line that failed (stdout %r, stderr "
                  "%r)" % (out, err))
        expect(out.startswith("10 triggered, 9 accepted, 1 failed"),
               "summary %r", out)
        expect("%s:7:" % path in err and "404" in err, "the failing line "
               "is not named: %r", err)
        expect_eq(len(get_json(k, "/jobs")["jobs"]), 9, "jobs stored")
        # Lines that are not [METHOD] URL: a usage error.
        with open(path, "w") as f:
            f.write("%s/c extra words\n" % base(k))
        kick_fails(EXIT_USAGE, ["%s:1:" % path], "--batch", path)
        kick_fails(EXIT_USAGE, ["no-such-file"], "--batch",
                   os.path.join(k.tmp, "no-such-file"))


def test_status_cancel_ls():
    """kick status, cancel (a queued job behind a concurrency-1 route, and
    the running one), ls and ls --state."""
    with kickd(routes=(("/one", "concurrency = 1"),)) as k:
        srv = base(k)
        a = job_id(kick_ok(srv + "/one?hold=1&tag=a"), "a")
        wait_file(os.path.join(k.tmp, "cli.mark.a"))
        b = job_id(kick_ok(srv + "/one?tag=b"), "b")
        time.sleep(0.2)
        out = kick_ok("status", str(b), server=srv)
        fields = dict(ln.split(": ", 1) for ln in out.splitlines())
        expect_eq((fields.get("id"), fields.get("route"),
                   fields.get("state")), (str(b), "/one", "queued"),
                  "kick status of the queued job (%r)" % out)
        out = kick_ok("status", "--server", srv, str(a))
        expect("state: running" in out and "error: -" in out,
               "status of the running job: %r", out)
        # ls: both, newest first, one line each under a header.
        out = kick_ok("ls", server=srv)
        rows = [ln.split() for ln in out.splitlines()[1:]]
        expect_eq([(int(r[0]), r[2], r[1]) for r in rows],
                  [(b, "queued", "/one"), (a, "running", "/one")], "kick ls")
        # Global options before the verb, as after it.
        for args in (("--server", srv, "ls"), ("--timeout", "5", "--server",
                                                srv, "ls", "--limit", "5"),
                     ("-k", "--server", srv, "status", str(a))):
            out = kick_ok(*args)
            expect(str(a) in out, "kick %s: %r", " ".join(args), out)
        # Cancel the queued job: it never runs.
        out = kick_ok("cancel", str(b), server=srv)
        expect_eq(out.split(), [str(b), "canceled"], "kick cancel output")
        expect_eq(get_json(k, "/jobs/%d" % b)["state"], "canceled",
                  "kickd's view of b")
        out = kick_ok("status", str(b), server=srv)
        expect("state: canceled" in out, "status after cancel: %r", out)
        fields = dict(ln.split(": ", 1) for ln in out.splitlines())
        expect_eq((fields.get("error"), fields.get("interruptions")),
                  ("canceled", "0"), "kick status says why (%r)" % out)
        kick_fails(EXIT_HTTP, ["409"], "cancel", str(b), server=srv)
        kick_fails(EXIT_JOB_FAILED, ["canceled"], "wait", str(b),
                   server=srv)
        # ls --state.
        out = kick_ok("ls", "--state", "canceled", server=srv)
        expect_eq([ln.split()[0:3:2] for ln in out.splitlines()[1:]],
                  [[str(b), "canceled"]], "ls --state canceled")
        out = kick_ok("ls", "--state", "running", server=srv)
        expect_eq([ln.split()[0:3:2] for ln in out.splitlines()[1:]],
                  [[str(a), "running"]], "ls --state running")
        expect_eq(len(kick_ok("ls", "--state", "succeeded",
                              server=srv).splitlines()), 1,
                  "ls --state succeeded: the header alone")
        rc, out, err, _ = kick("ls", "--limit", "1", server=srv)
        expect_eq((rc, len(out.splitlines())), (0, 2), "ls --limit 1")
        expect("--before %d" % b in err, "ls --limit 1 says nothing of the "
               "rest: %r", err)
        # Cancel the running job: it is ended.
        out = kick_ok("cancel", str(a), server=srv)
        expect_eq(out, "%d running (being ended)\n" % a,
                  "cancel of a running job")
        j = wait_state(k, a, ("canceled", "aborted", "failed", "succeeded"))
        expect_eq((j["state"], j["signal"]), ("aborted", 15),
                  "the running job after cancel (state, signal)")
        rc, out, err, _ = kick("wait", str(a), server=srv)
        expect_eq(rc, 128 + 15, "kick wait of a job ended by SIGTERM "
                  "(stderr %r)" % err)
        expect("signal 15" in err, "kick wait: %r", err)
        expect("cli-out:%d" % a in out, "kick wait output: %r", out)
        expect(not os.path.exists(os.path.join(k.tmp, "cli.mark.b")),
               "the canceled queued job ran")
        # Unknown job, and a server that is not there.
        kick_fails(EXIT_HTTP, ["404"], "status", "999999", server=srv)
        # A bad or extra ID is named.
        kick_fails(EXIT_USAGE, ["'x'"], "status", "x", server=srv)
        kick_fails(EXIT_USAGE, ["'2'", "one too many"], "status", "1", "2",
                   server=srv)
        kick_fails(EXIT_UNREACHABLE, ["refused"], "ls", "--server",
                   "http://127.0.0.1:%d" % free_port())


LS_HEADER = ["ID", "ROUTE", "STATE", "ATTEMPT", "CREATED", "DURATION",
             "ERROR"]
DURATION_RE = re.compile(r"^(\d+ms|\d+\.\ds|\d+m\d\ds|\d+h\d\dm)$")


def ls_rows(out):
    """kick ls's table: checks its header and that every cell starts under
    its column's name; returns each row as a dict of the header's names."""
    lines = out.splitlines()
    expect(lines and lines[0].split() == LS_HEADER, "kick ls header: %r",
           lines[:1])
    starts = [lines[0].index(h) for h in LS_HEADER]
    rows = []
    for ln in lines[1:]:
        cells = [ln[starts[i]:starts[i + 1]].strip() if i + 1 < len(starts)
                 else ln[starts[i]:].strip() for i in range(len(starts))]
        expect(all(cells) and ln[starts[1] - 1] == " ",
               "kick ls row not under its header: %r / %r", lines[0], ln)
        rows.append(dict(zip(LS_HEADER, cells)))
    return rows


def test_ls_status_retry():
    """kick ls: the newest first, a table with a header, --route, --state,
    --limit, --before, --json, the error cut to COLUMNS; kick status:
    every field; kick retry: a failed job runs again; errors named."""
    cfg = config([("/c", ""), ("/d", "retries = 1"),
                  ("/t", "time_limit = 1")])
    cfg += "\n[route /p]\nexec = {scripts}/prog\n"
    k = Kickd(config=cfg)
    write_script(os.path.join(k.scripts, "prog"),
                 "#!/bin/sh\nkick ctl progress 40 'step 2 of 5'\n"
                 "printf 'Content-Type: text/plain\\n\\nprog\\n'\n"
                 "sleep 0.2\n")
    with k:
        srv = base(k)
        a = job_id(kick_ok(srv + "/c"), "a")
        b = job_id(kick_ok(srv + "/d?exit=3"), "b")
        t = job_id(kick_ok(srv + "/t?sleep=5"), "t")
        p = job_id(kick_ok(srv + "/p"), "p")
        js = {x: wait_state(k, x, ("succeeded", "failed", "timed_out"))
              for x in (a, b, t, p)}
        expect_eq([js[x]["state"] for x in (a, b, t, p)],
                  ["succeeded", "failed", "timed_out", "succeeded"],
                  "the four jobs")
        rows = ls_rows(kick_ok("ls", server=srv))
        expect_eq([int(r["ID"]) for r in rows], [p, t, b, a],
                  "kick ls: newest first")
        for r in rows:
            j = js[int(r["ID"])]
            expect_eq((r["ROUTE"], r["STATE"], r["ATTEMPT"], r["CREATED"],
                       r["ERROR"]),
                      (j["route"], j["state"], "%d/%d" % (
                          j["attempt"], j["max_attempts"]),
                       j["created_at"][:19] + "Z", j["error"] or "-"),
                      "kick ls row of job %d" % j["id"])
            expect(DURATION_RE.match(r["DURATION"]),
                   "kick ls duration %r", r["DURATION"])
        took = [r["DURATION"] for r in rows if int(r["ID"]) == t][0]
        expect(re.match(r"^[12]\.\ds$", took), "duration of a job ended by "
               "a 1 s time limit: %r", took)
        # The error column is cut to fit the screen.
        err_t = js[t]["error"]
        expect(len(err_t) > 20, "a long error to cut: %r", err_t)
        out = kick_ok("ls", env={"COLUMNS": "40"}, server=srv)
        line = [ln for ln in out.splitlines() if ln.startswith(str(t) + " ")]
        expect(line and line[0].endswith(err_t[:17] + "..."),
               "COLUMNS=40: error not cut to 20: %r", line)
        # Filters and paging.
        rows = ls_rows(kick_ok("ls", "--route", "/d", server=srv))
        expect_eq([int(r["ID"]) for r in rows], [b], "ls --route /d")
        rows = ls_rows(kick_ok("ls", "--state", "succeeded", server=srv))
        expect_eq([int(r["ID"]) for r in rows], [p, a], "ls --state")
        rc, out, err, _ = kick("ls", "--limit", "2", server=srv)
        expect_eq(([int(r["ID"]) for r in ls_rows(out)], rc), ([p, t], 0),
                  "ls --limit 2")
        expect("--before %d" % t in err, "ls --limit 2: %r", err)
        rows = ls_rows(kick_ok("ls", "--limit", "2", "--before", str(t),
                               server=srv))
        expect_eq([int(r["ID"]) for r in rows], [b, a], "ls --before")
        # --json: the page as kickd gives it.
        d = json.loads(kick_ok("ls", "--json", "--route", "/c", server=srv))
        expect_eq(d, get_json(k, "/jobs?order=desc&route=/c"), "ls --json")
        d = json.loads(kick_ok("ls", "--json", server=srv))
        expect_eq(([j["id"] for j in d["jobs"]], d["next"]),
                  ([p, t, b, a], None), "ls --json ids")
        # kick status: every field of the job.
        out = kick_ok("status", str(p), server=srv)
        f = dict(ln.split(": ", 1) for ln in out.splitlines())
        j = get_json(k, "/jobs/%d" % p)
        expect_eq({x: f.get(x) for x in (
            "id", "route", "state", "attempt", "earlier_attempts",
            "exit_status", "signal", "progress", "progress_message",
            "error", "created_at", "run_at", "started_at", "finished_at")},
            {"id": str(p), "route": "/p", "state": "succeeded",
             "attempt": "1/1", "earlier_attempts": "0", "exit_status": "0",
             "signal": "-", "progress": "40",
             "progress_message": "step 2 of 5", "error": "-",
             "created_at": j["created_at"], "run_at": j["run_at"],
             "started_at": j["started_at"],
             "finished_at": j["finished_at"]}, "kick status fields")
        expect("response" in f and "output_size" in f and
               DURATION_RE.match(f.get("duration", "")),
               "kick status: response, output_size, duration: %r", out)
        expect_eq(json.loads(kick_ok("status", str(p), "--json",
                                     server=srv)),
                  get_json(k, "/jobs/%d" % p), "kick status --json")
        out = kick_ok("status", str(t), server=srv)
        f = dict(ln.split(": ", 1) for ln in out.splitlines())
        expect_eq((f.get("state"), f.get("error"), f.get("connection_status")),
                  ("timed_out", err_t, "2"), "kick status of a timed-out job")
        # kick retry: b runs again, twice, and keeps its earlier attempts.
        expect_eq(kick_ok("retry", str(b), server=srv), "%d queued\n" % b,
                  "kick retry output")
        j = wait_state(k, b, ("failed",), timeout=10.0)
        deadline = time.monotonic() + 10 * SLOW
        while j["earlier_attempts"] != 2 or j["state"] != "failed":
            expect(time.monotonic() < deadline, "retried job: %r", j)
            time.sleep(0.05)
            j = get_json(k, "/jobs/%d" % b)
        out = kick_ok("status", str(b), server=srv)
        f = dict(ln.split(": ", 1) for ln in out.splitlines())
        expect_eq((f.get("state"), f.get("attempt"),
                   f.get("earlier_attempts"), f.get("error")),
                  ("failed", "2/2", "2", "exit status 3"),
                  "kick status after kick retry")
        q = job_id(kick_ok(srv + "/c", "-H", "Kick-Delay: 60"), "q")
        row = ls_rows(kick_ok("ls", "--limit", "1", server=srv))[0]
        expect_eq((int(row["ID"]), row["STATE"], row["ATTEMPT"],
                   row["DURATION"], row["ERROR"]), (q, "queued", "0/1", "-",
                                                    "-"),
                  "kick ls row of a job not started")
        kick_fails(EXIT_HTTP, ["409", "queued"], "retry", str(q),
                   server=srv)
        kick_fails(EXIT_HTTP, ["404", "no such job"], "retry", "999999",
                   server=srv)
        kick_fails(EXIT_HTTP, ["400", "state must be"], "ls", "--state",
                   "bogus", server=srv)


# 2. Servers that are not kickd.

def check_plain_server(s, what):
    rc, out, err, _ = kick(s.url("/ok"), "-d", "a=b c")
    expect_eq((rc, out, err), (0, "HTTP 200 OK\n", ""), what + " /ok")
    m, path, headers, body = s.requests[-1]
    expect_eq((m, path, body), ("POST", "/ok", b"a=b+c"),
              what + ": the request the server saw")
    kick_fails(EXIT_HTTP, ["404", "No Such Hook"], s.url("/missing"))
    kick_fails(EXIT_HTTP, ["503", "Busy Right Now"], s.url("/busy"))
    # --wait against a server with no job API: its answer is the run.
    rc, out, err, _ = kick("--wait", s.url("/ok"))
    expect_eq((rc, out), (0, "hello from elsewhere\n"), what + " --wait")
    n = len(s.requests)
    expect_eq(kick("--no-wait", s.url("/ok?x=1"))[:3], (0, "", ""),
              what + " --no-wait")
    deadline = time.monotonic() + 5 * SLOW
    while len(s.requests) == n and time.monotonic() < deadline:
        time.sleep(0.01)
    expect_eq(s.requests[-1][:2], ("GET", "/ok?x=1"),
              what + " --no-wait request")
    # --no-wait closes without reading: the server's answer may meet a
    # closed socket; nothing else may go wrong.
    errors = [e for e in s.errors if "Broken pipe" not in e and
              "reset by peer" not in e]
    expect_eq(errors, [], what + ": server errors")


def test_plain_http_server():
    """A python http.server: 200 prints "HTTP 200 OK" and exits 0; a 404
    and a 503 exit 1 naming the status and the server's reason."""
    with Server() as s:
        check_plain_server(s, "IPv4")


def test_https_self_signed():
    """HTTPS with a self-signed certificate: refused without --cacert (a
    TLS message, exit 5), accepted with --cacert, and with -k."""
    d = tempfile.mkdtemp(prefix="kick-cli-tls-")
    try:
        crt, key = make_cert(d)
        with Server(cert=(crt, key)) as s:
            for host in ("127.0.0.1", "localhost"):
                u = "https://%s:%d/ok" % (host, s.port)
                out, err, _ = kick_fails(EXIT_UNREACHABLE, ["certificate"],
                                         u)
                expect("tls" in err.lower() or "ssl" in err.lower(),
                       "%s without --cacert: no TLS in %r", host, err)
                expect_eq(kick(u, "--cacert", crt)[:3],
                          (0, "HTTP 200 OK\n", ""), host + " --cacert")
                expect_eq(kick(u, "-k")[:3], (0, "HTTP 200 OK\n", ""),
                          host + " -k")
                expect_eq(kick(u, "--insecure", "--wait")[:3],
                          (0, "hello from elsewhere\n", ""),
                          host + " --insecure --wait")
            kick_fails(EXIT_HTTP, ["404", "No Such Hook"],
                       s.url("/missing"), "--cacert", crt)
            # A CA file that is not there is not silently ignored.
            rc, out, err, _ = kick(s.url("/ok"), "--cacert",
                                   os.path.join(d, "absent.pem"))
            expect(rc != 0 and err.startswith("kick") and
                   "absent.pem" in err,
                   "--cacert of a missing file: exit %d, %r", rc, err)
            # Plain HTTP to the TLS port fails; it does not hang.
            rc, out, err, took = kick(s.url("/ok", "http"), "--timeout", "3")
            expect(rc != 0, "http:// to an https server succeeded: %r", out)
            expect(took < 5 * SLOW, "http:// to https took %.1f s", took)
            expect_eq([r[1] for r in s.requests if r[1] != "/missing"],
                      ["/ok"] * 6, "requests that reached the server")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_ipv6():
    """Over [::1]: a plain server, an HTTPS one with --cacert, and kickd."""
    if not ipv6_loopback():
        raise Skip("cannot bind ::1 here: the IPv6 cases did not run")
    with Server(host="::1") as s:
        check_plain_server(s, "IPv6")
        expect_eq(s.requests[0][2].get("Host"), "[::1]:%d" % s.port,
                  "Host over IPv6")
    d = tempfile.mkdtemp(prefix="kick-cli-tls6-")
    try:
        crt, key = make_cert(d)
        with Server(host="::1", cert=(crt, key)) as s:
            u = s.url("/ok")
            expect(u.startswith("https://[::1]:"), "url %r", u)
            kick_fails(EXIT_UNREACHABLE, ["certificate"], u)
            expect_eq(kick(u, "--cacert", crt)[:3], (0, "HTTP 200 OK\n", ""),
                      "IPv6 --cacert")
            expect_eq(kick(u, "-k")[:3], (0, "HTTP 200 OK\n", ""), "IPv6 -k")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    with kickd(listen="::1") as k:
        jid = job_id(kick_ok(base(k) + "/c?tag=v6"), "kickd over IPv6")
        expect_eq(int(wait_file(os.path.join(k.tmp, "cli.mark.v6"))), jid,
                  "the IPv6 job ran")
        out = kick_ok("ls", server=base(k))
        expect(out.splitlines()[1].split()[:1] == [str(jid)],
               "ls over IPv6: %r", out)


# 3. Errors.

def test_connection_refused():
    port = free_port()
    kick_fails(EXIT_UNREACHABLE, ["refused", str(port)],
               "http://127.0.0.1:%d/x" % port)
    kick_fails(EXIT_UNREACHABLE, ["refused"], "--no-wait",
               "http://127.0.0.1:%d/x" % port)
    kick_fails(EXIT_UNREACHABLE, ["refused"], "--wait",
               "http://127.0.0.1:%d/x" % port)


def test_timeout_no_answer():
    """A server that accepts and never answers, --timeout 1: exit 5 within
    about 2 s, the message says it timed out."""
    with Silent() as s:
        out, err, took = kick_fails(EXIT_UNREACHABLE, ["timed out"],
                                    "--timeout", "1",
                                    "http://127.0.0.1:%d/x" % s.port)
        expect(took < 2.0 * SLOW, "--timeout 1 took %.2f s", took)
        expect(took >= 0.9, "--timeout 1 gave up after %.2f s", took)
        expect_eq(out, "", "stdout")
        out, err, took = kick_fails(EXIT_UNREACHABLE, ["timed out"],
                                    "--timeout", "0.5", "--wait",
                                    "http://127.0.0.1:%d/x" % s.port)
        expect(took < 1.5 * SLOW, "--timeout 0.5 took %.2f s", took)


def test_malformed_url():
    for u in ("http://exa mple/", "http:/x", "ftp://h/x", "http://h:70000/",
              "http://[::zz]/", "http://", "127.0.0.1:8080/x"):
        kick_fails(EXIT_URL, ["malformed", u], u)
    # ...and as a --server.
    kick_fails(EXIT_URL, ["malformed"], "ls", "--server", "nota url")


def test_unknown_host():
    """A name that does not resolve: exit 6, the message names the host.
    .invalid never resolves (RFC 6761) unless this machine's resolver
    lies; that case is reported, not passed."""
    host = "nonexistent.invalid"
    p = subprocess.run(["getent", "hosts", host], capture_output=True,
                       timeout=30)
    if p.returncode == 0:
        raise Skip("this machine's resolver answers %s (%s): the DNS error "
                   "cannot be tested here" % (host, p.stdout.decode().strip()))
    kick_fails(EXIT_DNS, [host, "resolve"],
               "http://%s/" % host, timeout=60)
    kick_fails(EXIT_DNS, [host], "--no-wait", "http://%s:8080/x" % host,
               timeout=60)


def test_usage_errors():
    """Usage errors exit 2 with a message; --help and --version exit 0."""
    for args, words in [
        ((), ["usage"]),
        (("--bogus", "http://127.0.0.1:1/"), ["--bogus"]),
        (("-d", "novalue", "http://127.0.0.1:1/"), ["NAME=VALUE"]),
        (("-b", "novalue", "http://127.0.0.1:1/"), ["NAME=VALUE"]),
        (("-H", "NoColon", "http://127.0.0.1:1/"), ["Name: value"]),
        (("-H", "X-A: v\r\nX-Evil: 1", "http://127.0.0.1:1/"), ["-H"]),
        (("--timeout", "x", "http://127.0.0.1:1/"), ["--timeout"]),
        (("--timeout", "-1", "http://127.0.0.1:1/"), ["--timeout"]),
        (("--connect-timeout", "0", "http://127.0.0.1:1/"),
         ["--connect-timeout"]),
        (("--parallel", "0", "--batch", "-"), ["--parallel"]),
        (("http://127.0.0.1:1/", "http://127.0.0.1:2/"), ["one URL"]),
        (("-X",), ["-X"]),
        (("-X", "GE T", "http://127.0.0.1:1/"), []),
        (("--json", "{not json", "http://127.0.0.1:1/"), ["--json"]),
        (("frob",), ["frob"]),
        (("status",), ["status"]),
        (("status", "abc"), ["abc"]),
        (("cancel", "1", "2"), ["cancel"]),
        (("wait",), ["wait"]),
        (("ls", "extra"), ["extra"]),
        (("ls", "--limit", "0"), ["--limit"]),
        (("ls", "--before", "x"), ["--before"]),
        (("ls", "--route"), ["--route"]),
        (("retry",), ["retry"]),
        (("retry", "abc"), ["abc"]),
    ]:
        kick_fails(EXIT_USAGE, words, *args)
    for args in (("--help",), ("-h",), ("status", "--help")):
        rc, out, err, _ = kick(*args)
        expect_eq((rc, err), (0, ""), "kick %s" % " ".join(args))
        expect(out.startswith("usage: kick"), "kick %s: %r", " ".join(args),
               out[:80])
    rc, out, err, _ = kick("--version")
    expect(rc == 0 and out.startswith("kick "), "--version: %d %r", rc, out)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
