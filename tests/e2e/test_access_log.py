# SPDX-License-Identifier: MIT
# The access log (issue 10 item 7): one line per request in the Combined
# Log Format plus the time taken and the job, for attached runs, the job
# API, triggers, kickd's own answers and errors, with the status and body
# bytes really sent; a client that leaves before its answer is 499;
# access_log = off writes none; a file gets them, and SIGHUP opens it
# again after logrotate has moved it.

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, build, expect, expect_eq, run,  # noqa: E402
                     write_script, SLOW)

# README, "The access log".
LINE = re.compile(
    r'^(?P<addr>\S+) - - \[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d '
    r'\+0000)\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)" (?P<secs>\d+\.\d{3}) '
    r'job=(?P<job>\d+|-)$')


def lines_of(text):
    return [m.groupdict() for m in map(LINE.match, text.splitlines()) if m]


def wait_lines(read, n, what):
    """Polls read() until it holds n access lines (kickd writes them at
    the end of its loop turn); returns them."""
    deadline = time.monotonic() + 5 * SLOW
    while True:
        got = lines_of(read())
        if len(got) >= n:
            return got
        expect(time.monotonic() < deadline, "%s: %d access lines, want "
               "%d: %r", what, len(got), n, read()[-600:])
        time.sleep(0.02)


def one_line(k, request, what, read=None):
    """Sends raw request bytes on a new connection, reads the answer, and
    returns (answer, the access line it made)."""
    read = read or k.stderr_text
    before = len(lines_of(read()))
    with k.connect() as c:
        c.send(request)
        r = c.response(head=request.startswith(b"HEAD"))
    got = wait_lines(read, before + 1, what)
    expect_eq(len(got), before + 1, what + ": lines")
    return r, got[-1]


CFG = ("[server]\nlisten = {listen}\ndb = {db}\n%s\n"
       "[route /echo]\nexec = {scripts}/echo\nmode = attach\n\n"
       "[route /slow]\nexec = {scripts}/sleep1\nmode = attach\n\n"
       "[route /ctl]\nexec = {tmp}/ctlshow\nmode = attach\n\n"
       "[route /job]\nexec = {scripts}/echo\n")


def kickd(server=""):
    k = Kickd(config=CFG % server, scripts=True)
    # Prints its KICK_CONTROL (which holds its run's secret), then calls
    # kick ctl with it.
    write_script(os.path.join(k.tmp, "ctlshow"),
                 "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                 "echo \"$KICK_CONTROL\"\nkick ctl status\n")
    return k


def test_a_line_per_request():
    with kickd() as k:
        # An attached run: its status, the body's bytes, the headers.
        r, ln = one_line(k, build("POST", "/echo/p?q=%22x%22", [
            "Referer: http://example.com/a\"b", "User-Agent: tester/1.0"],
            body=b"hello"), "attached")
        expect_eq(r.status, 200, "attached status")
        expect_eq(ln["addr"], "127.0.0.1", "address")
        expect_eq(ln["request"], "POST /echo/p?q=%22x%22 HTTP/1.1",
                  "request line")
        expect_eq((int(ln["status"]), int(ln["bytes"])),
                  (200, len(r.body)), "status and bytes")
        # A quote cannot end a field early (nginx's \xHH).
        expect_eq(ln["referer"], "http://example.com/a\\x22b", "Referer")
        expect_eq(ln["agent"], "tester/1.0", "User-Agent")
        expect_eq(ln["job"], "-", "no job for an attached run")
        gm = time.strftime("%d/%b/%Y", time.gmtime())
        expect(ln["time"].startswith(gm), "time %r, today is %s",
               ln["time"], gm)
        # A trigger: 202 and the job's id.
        r, ln = one_line(k, build("POST", "/job", body=b"x=1"), "trigger")
        expect_eq(r.status, 202, "trigger status")
        jid = int(r.header("Location").rsplit("/", 1)[1])
        expect_eq((ln["status"], ln["job"], int(ln["bytes"])),
                  ("202", str(jid), len(r.body)), "trigger line")
        expect_eq(ln["agent"], "-", "no User-Agent")
        # The job API, a 404, HEAD, HTTP/1.0.
        r, ln = one_line(k, build("GET", "/jobs/%d" % jid), "API GET")
        expect_eq((ln["request"], int(ln["status"]), int(ln["bytes"])),
                  ("GET /jobs/%d HTTP/1.1" % jid, 200, len(r.body)),
                  "API line")
        r, ln = one_line(k, build("GET", "/nothing/here"), "404")
        expect_eq((int(ln["status"]), int(ln["bytes"])), (404, len(r.body)),
                  "404 line")
        r, ln = one_line(k, build("HEAD", "/healthz", version="1.0"),
                         "HEAD")
        expect_eq((ln["request"], ln["status"], ln["bytes"]),
                  ("HEAD /healthz HTTP/1.0", "200", "0"), "HEAD line")
        # Bytes that make no request still get their 400.
        r, ln = one_line(k, b"NOT A REQUEST\r\n\r\n", "malformed")
        expect_eq((r.status, ln["request"], ln["status"]),
                  (400, "-", "400"), "malformed line")
        # A script's kick ctl call is logged, its run's secret is not.
        before = len(lines_of(k.stderr_text()))
        r = k.get("/ctl")
        control, status = r.body.decode().split()
        expect_eq(status, "0", "kick ctl status")
        secret = control.rsplit(".", 1)[1]
        expect(len(secret) >= 16, "KICK_CONTROL %r", control)
        ctl = [ln for ln in wait_lines(k.stderr_text, before + 2, "ctl")
               if "/_kick/run/" in ln["request"]]
        expect_eq(len(ctl), 1, "kick ctl's line")
        expect(re.match(r"^\S+ /_kick/run/\w+\.-/status HTTP/1\.1$",
                        ctl[0]["request"]), "ctl line %r", ctl[0])
        expect(secret not in k.stderr_text(), "the run's secret is logged")
        # A client that leaves before its answer: 499, nothing sent,
        # logged when it leaves, not when the script ends.
        before = len(lines_of(k.stderr_text()))
        with k.connect() as c:
            c.send(build("GET", "/slow"))
            time.sleep(0.2)
        got = wait_lines(k.stderr_text, before + 1, "hang-up")
        expect_eq((got[-1]["request"], got[-1]["status"], got[-1]["bytes"]),
                  ("GET /slow HTTP/1.1", "499", "0"), "hang-up line")
        expect(float(got[-1]["secs"]) < 0.9, "hang-up logged at %s s",
               got[-1]["secs"])


def test_keep_alive_and_pipelined_lines_in_order():
    # Three pipelined requests on one connection: three lines, in order,
    # each with its own status and bytes.
    with kickd() as k:
        before = len(lines_of(k.stderr_text()))
        with k.connect() as c:
            c.send(build("GET", "/echo?n=1") + build("GET", "/missing") +
                   build("GET", "/healthz"))
            rs = [c.response() for _ in range(3)]
        got = wait_lines(k.stderr_text, before + 3, "pipelined")[before:]
        expect_eq([(ln["request"].split()[1], int(ln["status"]),
                    int(ln["bytes"])) for ln in got],
                  [("/echo?n=1", 200, len(rs[0].body)),
                   ("/missing", 404, len(rs[1].body)),
                   ("/healthz", 200, 3)], "pipelined lines")


def test_bytes_are_those_sent():
    # A script's body is counted as it went out: cut to its own
    # Content-Length, short of it (the connection then closes), streamed
    # chunked; the framing is not counted.
    with Kickd() as k:
        r, ln = one_line(k, build("GET", "/cllong"), "too long")
        expect_eq((r.body, ln["status"], ln["bytes"]), (b"HT", "200", "2"),
                  "a body cut to its Content-Length")
        r, ln = one_line(k, build("GET", "/big?n=300000"), "streamed")
        expect_eq((len(r.body), ln["status"], ln["bytes"]),
                  (300000, "200", "300000"), "a streamed body")
        before = len(lines_of(k.stderr_text()))
        with k.connect() as c:
            c.send(build("GET", "/clshort"))
            data = c.read_to_close()
        expect(data.endswith(b"\r\n\r\nshort"), "cut-short answer %r",
               data[-40:])
        ln = wait_lines(k.stderr_text, before + 1, "short")[-1]
        expect_eq((ln["request"], ln["status"], ln["bytes"]),
                  ("GET /clshort HTTP/1.1", "200", "5"),
                  "a body short of its Content-Length")


def test_access_log_off_writes_none():
    with kickd("access_log = off") as k:
        for target in ("/echo", "/nothing", "/healthz"):
            k.get(target)
        r = k.request("POST", "/job", body=b"a=1")
        expect_eq(r.status, 202, "trigger")
        k.healthy()
        time.sleep(0.2)
        expect_eq(lines_of(k.stderr_text()), [], "access lines with off")


def test_access_log_file_and_reopen_on_sighup():
    with kickd("access_log = {tmp}/access.log") as k:
        path = os.path.join(k.tmp, "access.log")

        def read():
            try:
                with open(path) as f:
                    return f.read()
            except FileNotFoundError:
                return ""
        _, ln = one_line(k, build("GET", "/echo?f=1"), "file", read)
        expect_eq(ln["request"], "GET /echo?f=1 HTTP/1.1", "file line")
        expect_eq(lines_of(k.stderr_text()), [], "lines on stderr too")
        expect_eq(os.stat(path).st_mode & 0o777, 0o640, "file mode")
        # logrotate: the file is moved, kickd is told, a new one starts.
        os.rename(path, path + ".1")
        k.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5 * SLOW
        while not os.path.exists(path):
            expect(time.monotonic() < deadline, "no new file after SIGHUP")
            time.sleep(0.02)
        _, ln = one_line(k, build("GET", "/echo?f=2"), "new file", read)
        expect_eq(ln["request"], "GET /echo?f=2 HTTP/1.1", "new file line")
        with open(path + ".1") as f:
            old = lines_of(f.read())
        expect_eq([ln["request"] for ln in old],
                  ["GET /echo?f=1 HTTP/1.1"], "the moved file's lines")
        # A reload that changes the setting: the log follows it.
        with open(os.path.join(k.tmp, "kickd.conf")) as f:
            conf = f.read()
        with open(os.path.join(k.tmp, "kickd.conf"), "w") as f:
            f.write(conf.replace("access_log = " + path, "access_log = off"))
        k.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5 * SLOW
        while "access_log changed" not in k.stderr_text():
            expect(time.monotonic() < deadline, "no reload logged")
            time.sleep(0.02)
        k.get("/echo?f=3")
        k.healthy()
        time.sleep(0.2)
        expect_eq(len(lines_of(read())), 1, "lines after access_log = off")


def test_unwritable_access_log_stops_start():
    k = kickd("access_log = /nonexistent/dir/access.log")
    try:
        k.start()
    except AssertionError as e:
        expect("access_log /nonexistent/dir/access.log" in str(e),
               "the reason: %s", e)
        expect_eq(k.proc.returncode, 1, "exit status")
    else:
        k.stop()
        raise AssertionError("kickd started with an unwritable access_log")


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
