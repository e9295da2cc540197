# SPDX-License-Identifier: MIT
# The PHP caller (clients/php/Kick.php, issue 5 item 4) run by php-cli:
# its three trigger modes against the real kickd, values and cookies that
# arrive exactly (in a shell job and in php-cgi's $_POST/$_COOKIE), the
# bytes of the requests it builds, errors (refused, DNS, timeout, HTTP
# status, header injection), IPv6 and HTTPS against servers that are not
# kickd.
#
# scripts/phpc_call.php is the php-cli driver: it reads one JSON call on
# stdin and prints a JSON line. scripts/phpc_dump (shell) and
# scripts/phpc_parsed.php (php-cgi) are the jobs; they write what they got
# into the test's temp dir (JOB_DIR).

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, Skip, expect, expect_eq, run,  # noqa: E402
                     wait_whole_line, HERE, SCRIPTS, SLOW)

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
KICK_PHP = os.path.join(ROOT, "clients", "php", "Kick.php")
DRIVER = os.path.join(SCRIPTS, "phpc_call.php")
PHP = shutil.which("php")
PHP_CGI = shutil.which("php-cgi")

# Values that a naive encoder breaks: blanks, the form's own delimiters,
# "+" (a space in forms), "%", UTF-8, a would-be CRLF.
TRICKY = {
    "space": "a b  c",
    "amp": "x&y=z",
    "eq": "==",
    "plus": "1+1=2",
    "pct": "100% %41 %zz",
    "utf8": "h\u00e9llo w\u00f6rld \u2603",
    "crlf": "line1\r\nline2",
    "empty": "",
}
COOKIES = {"session": "a b+c/d=e;f", "lang": "fr \u00e9t\u00e9",
           "plain": "abc123"}


def config(extra=""):
    out = ["[server]", "listen = {listen}", "db = {db}", "",
           "[route /dump]", "exec = {scripts}/phpc_dump",
           "env = JOB_DIR={tmp}", "",
           "[route /auto]", "exec = {scripts}/phpc_dump",
           "env = JOB_DIR={tmp}", "mode = auto"]
    if PHP_CGI:
        out += ["", "[route /parsed.php]",
                "exec = {php} {scripts}/phpc_parsed.php",
                "env = JOB_DIR={tmp}"]
    return "\n".join(out) + "\n" + extra


def kickd(listen=None):
    return Kickd(config=config(), listen=listen)


def url(k, path):
    host = k.listen_host
    if ":" in host:
        host = "[%s]" % host
    return "http://%s:%d%s" % (host, k.port, path)


def php(call, timeout=30.0):
    """Runs the driver with call (a dict); returns its decoded answer."""
    if PHP is None:
        raise Skip("php-cli is not installed")
    env = dict(os.environ, KICK_PHP_CLIENT=KICK_PHP)
    p = subprocess.run([PHP, "-d", "display_errors=stderr", DRIVER],
                       input=json.dumps(call).encode(), capture_output=True,
                       timeout=timeout * SLOW, env=env)
    out = p.stdout.decode("utf-8", "replace").strip()
    err = p.stderr.decode("utf-8", "replace").strip()
    expect(p.returncode == 0 and out, "php driver failed (exit %d): %s %s",
           p.returncode, out, err)
    expect(err == "", "php printed warnings or notices: %s", err)
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError("php driver printed no JSON: %r" % out)


def ok(call, timeout=30.0):
    r = php(call, timeout)
    expect("ok" in r, "expected success, got %s", r)
    return r["ok"]


def error(call, cls, words=(), timeout=30.0):
    """Expects the call to throw cls whose message holds every word."""
    r = php(call, timeout)
    expect("error" in r, "expected %s, got success: %s", cls, r)
    expect_eq(r["error"], "Kick\\" + cls, "exception class (%s)"
              % r.get("message"))
    for w in words:
        expect(w.lower() in r["message"].lower(),
               "message %r does not mention %r", r["message"], w)
    return r


def get_json(k, target):
    r = k.get(target)
    expect(r.status == 200, "GET %s: %r", target, r)
    return json.loads(r.body)


def wait_file(path, timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    while not os.path.exists(path):
        expect(time.monotonic() < deadline, "%s did not appear in time",
               path)
        time.sleep(0.01)
    with open(path, "rb") as f:
        return f.read()


def wait_mark(path, timeout=10.0):
    """The number on the mark file a job writes with echo, once its line
    is whole."""
    return int(wait_whole_line(path, timeout))


def env_of(k, jid):
    text = wait_file(os.path.join(k.tmp, "phpc.%d.env" % jid)).decode()
    return dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)


def parse_request(raw):
    """Splits raw request bytes strictly: (request line, [(name, value)],
    body). Every line must end in CRLF and the head in an empty line."""
    expect(b"\r\n\r\n" in raw, "request head not ended by an empty line: "
           "%r", raw[:300])
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    for ln in lines:
        expect(b"\n" not in ln and b"\r" not in ln,
               "bare CR or LF in the head: %r", head)
        expect(not ln.startswith((b" ", b"\t")),
               "obsolete line folding (a line starts with a blank): %r", ln)
    fields = []
    for ln in lines[1:]:
        name, sep, value = ln.partition(b":")
        expect(sep and name and name == name.strip(),
               "malformed header line %r", ln)
        fields.append((name.decode().lower(), value.strip().decode()))
    return lines[0].decode(), fields, body


def field(fields, name, want_one=True):
    vals = [v for n, v in fields if n == name]
    if want_one:
        expect(len(vals) <= 1, "%s repeated: %r", name, vals)
        return vals[0] if vals else None
    return vals


class Sink:
    """A one-thread HTTP server that is not kickd: records each request's
    bytes and answers with `answer` (bytes; None: never answers), over
    TLS when given a certificate."""

    def __init__(self, answer=None, cert=None, family=socket.AF_INET,
                 host="127.0.0.1"):
        self.answer = answer
        self.requests = []
        self.errors = []
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*cert)
        self.held = []
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.serve(c)
            except (OSError, ssl.SSLError) as e:
                self.errors.append(str(e))
                c.close()

    def serve(self, c):
        c.settimeout(5.0)
        if self.ctx:
            c = self.ctx.wrap_socket(c, server_side=True)
        data = b""
        while True:
            if b"\r\n\r\n" in data:
                head, body = data.split(b"\r\n\r\n", 1)
                n = 0
                for ln in head.split(b"\r\n")[1:]:
                    if ln.lower().startswith(b"content-length:"):
                        n = int(ln.split(b":", 1)[1])
                if len(body) >= n:
                    break
            try:
                d = c.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            data += d
        self.requests.append(data)
        if self.answer is None:
            self.held.append(c)     # never answers, never closes
            return
        try:
            c.sendall(self.answer)
        finally:
            c.close()

    def close(self):
        self.stop = True
        self.sock.close()
        self.t.join(2.0)
        for c in self.held:
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


def answer_202(jid=5):
    body = b'{"id":%d,"state":"queued"}' % jid
    return (b"HTTP/1.1 202 Accepted\r\nLocation: /jobs/%d\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (jid, len(body), body))


def test_request_bytes():
    """The request head is valid HTTP/1.1 (CRLF, ended by an empty line),
    the body follows it with its length, values are RFC 3986 encoded,
    cookies are Cookie: a=1; b=2, no "?" without a query."""
    raw = base64.b64decode(ok({"build": True,
                               "url": "http://127.0.0.1:8123/run",
                               "request": {"form": TRICKY,
                                           "cookies": COOKIES,
                                           "query": {"q": "a b"},
                                           "headers": {"X-Kick": "1"}}}))
    line, fields, body = parse_request(raw)
    expect_eq(line, "POST /run?q=a%20b HTTP/1.1", "request line")
    expect_eq(fields[0], ("host", "127.0.0.1:8123"), "Host first, with port")
    expect_eq(field(fields, "content-type"),
              "application/x-www-form-urlencoded", "Content-Type")
    expect_eq(int(field(fields, "content-length")), len(body),
              "Content-Length")
    expect_eq(field(fields, "cookie"),
              "session=a%20b%2Bc%2Fd%3De%3Bf; lang=fr%20%C3%A9t%C3%A9; "
              "plain=abc123", "Cookie")
    expect_eq(field(fields, "x-kick"), "1", "custom header")
    expect_eq(field(fields, "connection"), "close", "Connection")
    from urllib.parse import quote
    want = "&".join("%s=%s" % (n, quote(v, safe="-._~"))
                    for n, v in TRICKY.items())
    expect_eq(body.decode(), want, "form body")
    # No query, no body, no cookies: still a complete head.
    raw = base64.b64decode(ok({"build": True,
                               "url": "http://example.com/run"}))
    expect_eq(raw, b"GET /run HTTP/1.1\r\nHost: example.com\r\n"
              b"User-Agent: kick-php/0.1\r\nPrefer: respond-async\r\n"
              b"Connection: close\r\n\r\n",
              "bodiless GET")
    # A POST without fields still frames its (empty) body.
    raw = base64.b64decode(ok({"build": True, "url": "http://h:81/",
                               "request": {"method": "POST"}}))
    line, fields, body = parse_request(raw)
    expect_eq((line, field(fields, "content-length"), body),
              ("POST / HTTP/1.1", "0", b""), "empty POST")
    # IPv6 host in brackets, https default port left out of Host.
    raw = base64.b64decode(ok({"build": True,
                               "url": "https://[::1]/x?y=1",
                               "request": {"json": {"a": "\u00e9"}}}))
    line, fields, body = parse_request(raw)
    expect_eq(line, "POST /x?y=1 HTTP/1.1", "json request line")
    expect_eq(field(fields, "host"), "[::1]", "IPv6 Host")
    expect_eq(field(fields, "content-type"), "application/json", "json type")
    expect_eq(json.loads(body), {"a": "\u00e9"}, "json body")


def test_bad_input_rejected():
    """Header injection, bad URLs and options fail before any I/O."""
    for req, words in [
        ({"headers": {"X-A": "v\r\nX-Evil: 1"}}, ["X-A", "CR"]),
        ({"headers": ["X-A: v\nX-Evil: 1"]}, ["CR"]),
        ({"headers": {"Bad Name": "v"}}, ["token"]),
        ({"headers": {"Content-Length": "5"}}, ["Content-Length"]),
        ({"cookies": {"a;b": "v"}}, ["cookie"]),
        ({"method": "GE T"}, ["method"]),
        ({"json": "{not json"}, ["JSON"]),
        ({"form": {"a": 1}, "json": {}}, ["one of"]),
        ({"bogus": 1}, ["bogus"]),
    ]:
        error({"url": "http://127.0.0.1:1/x", "request": req},
              "UsageException", words)
    for u, words in [("ftp://h/x", ["scheme"]), ("http:///x", ["malformed"]),
                     ("http://h/a b", ["blank"]),
                     ("http://[::zz]/", ["IPv6"]),
                     ("http://h:70000/", ["malformed"]),
                     ("127.0.0.1:8080/x", ["malformed"])]:
        error({"url": u}, "UsageException", words)
    error({"url": "http://127.0.0.1:1/", "mode": "later"}, "UsageException",
          ["mode"])


def test_sent_mode_runs_job():
    """sent: the request is written and the connection closed without
    reading; kickd still stores and runs the job."""
    with kickd() as k:
        r = ok({"url": url(k, "/dump?tag=sent1"), "mode": "sent",
                "request": {"form": {"a": "1"}}})
        expect_eq((r["status"], r["job_id"]), (None, None), "sent result")
        jid = wait_mark(os.path.join(k.tmp, "phpc.mark.sent1"))
        expect_eq(wait_file(os.path.join(k.tmp, "phpc.%d.body" % jid)),
                  b"a=1", "body of the sent trigger")
        expect_eq(env_of(k, jid)["method"], "POST", "method")


def test_accepted_mode_returns_job_id():
    """accepted: the 202's status and job id; the job exists."""
    with kickd() as k:
        r = ok({"url": url(k, "/dump?tag=acc"), "mode": "accepted"})
        expect_eq(r["status"], 202, "status")
        expect_eq(r["state"], "queued", "state in the 202")
        jid = r["job_id"]
        expect(type(jid) is int and jid > 0, "job id %r", jid)
        expect_eq(r["headers"]["location"], ["/jobs/%d" % jid], "Location")
        j = get_json(k, "/jobs/%d" % jid)
        expect_eq((j["id"], j["route"]), (jid, "/dump"), "GET /jobs/ID")
        expect_eq(wait_mark(os.path.join(k.tmp, "phpc.mark.acc")), jid,
                  "the job ran")
        # The same key twice: kickd's duplicate answer is understood.
        h = {"headers": {"Idempotency-Key": "phpc-1"}}
        a = ok({"url": url(k, "/dump"), "request": h})
        b = ok({"url": url(k, "/dump"), "request": h})
        expect_eq((b["status"], b["job_id"], b["duplicate"]),
                  (200, a["job_id"], True), "idempotent repeat")
        # A route in auto mode detaches: the client asks respond-async.
        r = ok({"url": url(k, "/auto?tag=auto")})
        expect_eq(r["status"], 202, "auto route status")
        expect_eq(r["headers"].get("preference-applied"), ["respond-async"],
                  "Preference-Applied")
        expect_eq(wait_mark(os.path.join(k.tmp, "phpc.mark.auto")),
                  r["job_id"], "the auto job ran")
        # The job API through the client.
        j = ok({"job": "wait", "server": url(k, ""), "id": jid})
        expect_eq(j["state"], "succeeded", "waitJob")


def test_finished_mode_returns_job():
    """finished: returns once the job has ended, with its exit status."""
    with kickd() as k:
        t0 = time.monotonic()
        r = ok({"url": url(k, "/dump?exit=0"), "mode": "finished",
                "options": {"poll_wait": 5}})
        expect_eq((r["status"], r["state"], r["exit_status"]),
                  (202, "succeeded", 0), "finished result")
        expect_eq(r["job"]["id"], r["job_id"], "job object")
        expect_eq(r["job"]["route"], "/dump", "job route")
        j = get_json(k, "/jobs/%d" % r["job_id"])
        expect_eq(j["state"], "succeeded", "kickd's view")
        r = ok({"url": url(k, "/dump?exit=3"), "mode": "finished"})
        expect_eq((r["state"], r["exit_status"]), ("failed", 3),
                  "a failing job")
        expect(time.monotonic() - t0 < 20 * SLOW, "finished mode was slow")
        # max_wait bounds the wait with a clear error.
        r = php({"url": url(k, "/dump"), "mode": "finished",
                 "request": {"headers": {"Kick-Delay": "60"}},
                 "options": {"max_wait": 1}})
        expect_eq(r.get("error"), "Kick\\TimeoutException", "max_wait")
        expect("still queued" in r["message"], "message %r", r["message"])


def test_fields_and_cookies_arrive_exactly():
    """A shell job sees the exact bytes: the RFC 3986 form body, the
    Cookie field, the query, custom headers; a JSON body too."""
    with kickd() as k:
        r = ok({"url": url(k, "/dump?tag=raw"), "mode": "finished",
                "request": {"form": TRICKY, "cookies": COOKIES,
                            "query": {"k": "v w"},
                            "headers": {"X-Kick": "yes"}}})
        jid = r["job_id"]
        env = env_of(k, jid)
        body = wait_file(os.path.join(k.tmp, "phpc.%d.body" % jid))
        from urllib.parse import parse_qsl, unquote
        got = dict(parse_qsl(body.decode(), keep_blank_values=True,
                             strict_parsing=True))
        expect_eq(got, TRICKY, "decoded form body")
        expect("+" not in body.decode().replace("%2B", ""),
               "a space encoded as + in %r", body)
        expect_eq(env["ctype"], "application/x-www-form-urlencoded",
                  "CONTENT_TYPE")
        expect_eq(int(env["clen"]), len(body), "CONTENT_LENGTH")
        expect_eq(env["query"], "tag=raw&k=v%20w", "QUERY_STRING")
        expect_eq(env["x_kick"], "yes", "custom header")
        expect_eq(env["host"], "127.0.0.1:%d" % k.port, "Host")
        cookies = dict(p.split("=", 1) for p in env["cookie"].split("; "))
        expect_eq({n: unquote(v) for n, v in cookies.items()}, COOKIES,
                  "decoded cookies")
        r = ok({"url": url(k, "/dump"), "mode": "finished",
                "request": {"json": {"a": [1, "\u00e9 &"]}}})
        env = env_of(k, r["job_id"])
        body = wait_file(os.path.join(k.tmp, "phpc.%d.body" % r["job_id"]))
        expect_eq(env["ctype"], "application/json", "JSON CONTENT_TYPE")
        expect_eq(json.loads(body), {"a": [1, "\u00e9 &"]}, "JSON body")


def test_php_sees_post_and_cookies():
    """php-cgi fills $_POST, $_GET and $_COOKIE with the exact values."""
    if PHP_CGI is None:
        raise Skip("php-cgi is not installed")
    with kickd() as k:
        r = ok({"url": url(k, "/parsed.php?g=%C3%A9+x"), "mode": "finished",
                "request": {"form": TRICKY, "cookies": COOKIES,
                            "query": {"q": "1+1 & 2"}}})
        expect_eq(r["state"], "succeeded", "php job state")
        got = json.loads(wait_file(os.path.join(
            k.tmp, "phpc.%d.json" % r["job_id"])))
        expect_eq(got["method"], "POST", "method")
        expect_eq(got["post"], TRICKY, "$_POST")
        expect_eq(got["cookie"], COOKIES, "$_COOKIE")
        expect_eq(got["get"], {"g": "\u00e9 x", "q": "1+1 & 2"}, "$_GET")


def test_errors_are_clear():
    """Refused, unknown host, a server that never answers, an HTTP error
    status: each its own exception with a message that names it."""
    port = None
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    error({"url": "http://127.0.0.1:%d/x" % port}, "ConnectException",
          ["refused", "127.0.0.1:%d" % port])
    error({"url": "http://127.0.0.1:%d/x" % port, "mode": "sent"},
          "ConnectException", ["refused"])
    error({"url": "http://kick-no-such-host.invalid/x"}, "DnsException",
          ["resolve", "kick-no-such-host.invalid"])
    with Sink(answer=None) as sink:
        t0 = time.monotonic()
        error({"url": "http://127.0.0.1:%d/x" % sink.port,
               "options": {"timeout": 1}}, "TimeoutException",
              ["no answer", "1.0 s"])
        took = time.monotonic() - t0
        expect(took < 8 * SLOW, "timeout of 1 s took %.1f s", took)
    with kickd() as k:
        r = error({"url": url(k, "/nothing-here")}, "HttpException",
                  ["answered 404 Not Found: no such route"])
        expect("404 Not Found: 404" not in r["message"],
               "status repeated in %r", r["message"])
        expect_eq(r["status"], 404, "HTTP status of the exception")
        # A job API error is JSON: its reason is the message's.
        r = error({"job": "get", "server": url(k, ""), "id": 999999},
                  "HttpException", ["answered 404 Not Found: no such job"])
        expect("{" not in r["message"], "JSON in the message %r",
               r["message"])
    with Sink(answer=b"SSH-2.0-OpenSSH\r\n\r\n") as sink:
        error({"url": "http://127.0.0.1:%d/x" % sink.port},
              "ProtocolException", ["status line"])


def test_other_server_chunked():
    """Against a server that is not kickd: a chunked 200 is read, with no
    job id; the request arrived intact."""
    body = b"4\r\nabcd\r\n0\r\n\r\n"
    ans = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + body)
    with Sink(answer=ans) as sink:
        r = ok({"url": "http://127.0.0.1:%d/hook" % sink.port,
                "request": {"form": {"a": "b c"}}})
        expect_eq((r["status"], r["job_id"]), (200, None), "result")
        expect_eq(base64.b64decode(r["body"]), b"abcd", "chunked body")
        line, fields, rbody = parse_request(sink.requests[0])
        expect_eq((line, rbody), ("POST /hook HTTP/1.1", b"a=b%20c"),
                  "request seen by the server")
        # finished mode on a server without a job API: the answer is the
        # end of the work; no job.
        r = ok({"url": "http://127.0.0.1:%d/hook" % sink.port,
                "mode": "finished"})
        expect_eq((r["status"], r["job"]), (200, None), "finished, no job")


def make_cert(d):
    crt, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,"
                        "IP:127.0.0.1", "-keyout", key, "-out", crt],
                       capture_output=True, timeout=60)
    expect(p.returncode == 0, "openssl failed: %s", p.stderr[-300:])
    return crt, key


def test_https():
    """https: a self-signed server fails verification with a clear TLS
    error, works with its certificate as ca_file, and with verify off."""
    if shutil.which("openssl") is None:
        raise Skip("openssl is not installed")
    d = tempfile.mkdtemp(prefix="kick-phpc-tls-")
    try:
        crt, key = make_cert(d)
        with Sink(answer=answer_202(42), cert=(crt, key)) as sink:
            for host in ("127.0.0.1", "localhost"):
                u = "https://%s:%d/t" % (host, sink.port)
                error({"url": u}, "ConnectException", ["TLS", "certif"])
                r = ok({"url": u, "options": {"ca_file": crt},
                        "request": {"form": {"x": "1"}}})
                expect_eq((r["status"], r["job_id"]), (202, 42),
                          "https with ca_file (%s)" % host)
                r = ok({"url": u, "options": {"verify": False},
                        "mode": "sent"})
            line, fields, body = parse_request(sink.requests[0])
            expect_eq((line, body), ("POST /t HTTP/1.1", b"x=1"),
                      "request over TLS")
            expect_eq(field(fields, "host"), "127.0.0.1:%d" % sink.port,
                      "Host over TLS")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def test_ipv6():
    """kickd on [::1]: each mode reaches it through the bracketed URL."""
    if not ipv6_loopback():
        raise Skip("no IPv6 loopback here")
    with kickd(listen="::1") as k:
        u = url(k, "/dump?tag=v6")
        expect(u.startswith("http://[::1]:"), "url %r", u)
        r = ok({"url": u, "mode": "finished"})
        expect_eq(r["state"], "succeeded", "job over IPv6")
        expect_eq(env_of(k, r["job_id"])["host"], "[::1]:%d" % k.port,
                  "Host over IPv6")
        ok({"url": url(k, "/dump?tag=v6sent"), "mode": "sent"})
        wait_mark(os.path.join(k.tmp, "phpc.mark.v6sent"))


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
