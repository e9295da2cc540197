# SPDX-License-Identifier: MIT
# End-to-end harness: starts the built kickd on a free loopback port in a
# fresh temp dir, talks raw HTTP/1.1 over sockets (every read has a
# timeout), and runs a module's test_* functions printing PASS/FAIL lines.

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "scripts")
KICKD = os.path.abspath(os.environ.get(
    "KICKD", os.path.join(HERE, "..", "..", "build", "kickd")))
ROOT_BUILD = os.path.abspath(os.path.join(HERE, "..", "..", "build"))
SAN = os.environ.get("KICK_SAN") == "1"
# Sanitized builds are slower; every wait scales with this.
SLOW = 3.0 if SAN else 1.0
READ_TIMEOUT = 5.0 * SLOW
SAN_MARKERS = (b"ERROR: AddressSanitizer", b"runtime error:",
               b"LeakSanitizer", b"ERROR: UndefinedBehaviorSanitizer")


class Skip(Exception):
    """Raised by a test that cannot run here; printed as SKIP, never PASS."""


class Closed(Exception):
    """The peer closed the connection before a full response arrived."""


def kick_bin():
    """build/kick beside the kickd under test, else the plain build's."""
    for d in (os.path.dirname(KICKD), ROOT_BUILD):
        p = os.path.join(d, "kick")
        if os.access(p, os.X_OK):
            return p
    raise AssertionError("kick binary not found beside %s or in %s"
                         % (KICKD, ROOT_BUILD))


def path_env_with(prog):
    """{"PATH": ...} with prog's directory first, for scripts that call it
    by name."""
    return {"PATH": os.path.dirname(prog) + ":" +
            os.environ.get("PATH", "/usr/bin:/bin")}


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def write_script(path, text, mode=0o755):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def proc_stats():
    """(pid, fields) of every process now, fields being /proc/PID/stat's
    after the command: state, ppid, pgrp, ..."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield int(d), fields


def group_members(pgid):
    """The live (not zombie) processes of process group pgid."""
    return [pid for pid, f in proc_stats()
            if int(f[2]) == pgid and f[0] != "Z"]


class Kickd:
    """One kickd process in its own temp dir.

    scripts: True copies tests/e2e/scripts into TMP/scripts and passes
    --scripts; a string is used as the dir as is; None passes nothing.
    config: INI text, formatted with {port}, {listen}, {tmp}, {db},
    {scripts}, {php}; given, kickd runs with -c TMP/kickd.conf and the
    listen address comes from the file.
    """

    def __init__(self, scripts=True, config=None, env=None, listen=None,
                 args=(), pass_fds=(), close_std=()):
        self.tmp = tempfile.mkdtemp(prefix="kick-e2e-")
        self.db = os.path.join(self.tmp, "kick.db")
        if scripts is True:
            self.scripts = os.path.join(self.tmp, "scripts")
            shutil.copytree(SCRIPTS, self.scripts)
        else:
            self.scripts = scripts
        self.config = config
        self.extra_env = env or {}
        self.listen_host = listen or "127.0.0.1"
        self.args = list(args)
        # Fds kickd inherits, and which of 0, 1 and 2 it starts without.
        self.pass_fds = tuple(pass_fds)
        self.close_std = tuple(close_std)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.tmp, "kickd.stderr")
        self.stopped = False
        self.stop_sent = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        # The test failed: stop kickd anyway and show what it logged.
        try:
            self.stop(check=False)
        except Exception:
            pass
        if isinstance(ev, Exception) and hasattr(ev, "add_note"):
            extra = self.san_problems()
            ev.add_note("kickd stderr (%s):%s%s" % (
                self.log_path, self.stderr_tail(12),
                ("\n    " + "; ".join(extra)) if extra else ""))
        return False

    def host_for_connect(self):
        return self.listen_host

    def _command(self, port):
        family = socket.AF_INET6 if ":" in self.listen_host else socket.AF_INET
        if ":" in self.listen_host:
            listen = "[%s]:%d" % (self.listen_host, port)
        else:
            listen = "%s:%d" % (self.listen_host, port)
        cmd = [KICKD]
        if self.config is not None:
            conf = os.path.join(self.tmp, "kickd.conf")
            with open(conf, "w") as f:
                f.write(self.config.format(
                    port=port, listen=listen, tmp=self.tmp, db=self.db,
                    scripts=self.scripts or "", php=shutil.which("php-cgi")))
            cmd += ["-c", conf]
        else:
            cmd += ["--listen", listen, "--db", self.db]
        if self.scripts:
            cmd += ["--scripts", self.scripts]
            # The scripts directory's routes run attached unless a test
            # asks for another mode (kickd's own default is detach).
            if not any(a == "--mode" for a in self.args):
                cmd += ["--mode", "attach"]
        return family, cmd + self.args

    def start(self):
        if not os.access(KICKD, os.X_OK):
            raise AssertionError("kickd binary not found: %s" % KICKD)
        env = dict(os.environ)
        if SAN:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(self.extra_env)
        last = ""
        for attempt in range(5):
            family = socket.AF_INET6 if ":" in self.listen_host \
                else socket.AF_INET
            port = free_port(family, self.listen_host)
            family, cmd = self._command(port)
            self.log = open(self.log_path, "ab")
            closed = self.close_std
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                stderr=self.log, env=env, cwd=self.tmp,
                pass_fds=self.pass_fds,
                preexec_fn=(lambda: [os.close(fd) for fd in closed])
                if closed else None)
            self.port = port
            deadline = time.monotonic() + 5.0 * SLOW
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    c = socket.create_connection((self.listen_host, port),
                                                 timeout=1.0)
                    c.close()
                    return self
                except OSError:
                    time.sleep(0.02)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("kickd did not accept connections "
                                     "within 5 s; stderr: " + self.stderr_tail())
            last = self.stderr_text()
            if "in use" not in last.lower():
                raise AssertionError("kickd exited at start with status %d; "
                                     "stderr: %s" % (self.proc.returncode,
                                                     self.stderr_tail()))
        raise AssertionError("kickd could not bind a port: " + last[-500:])

    def stderr_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, n=15):
        lines = self.stderr_text().rstrip().splitlines()
        return "\n    ".join([""] + lines[-n:]) if lines else "(empty)"

    def zombies(self):
        """Zombie children of kickd (pids), from /proc."""
        return [pid for pid, f in proc_stats()
                if int(f[1]) == self.proc.pid and f[0] == "Z"]

    def children(self):
        return [pid for pid, f in proc_stats() if int(f[1]) == self.proc.pid]

    def check_zombies(self):
        deadline = time.monotonic() + 2.0 * SLOW
        z = self.zombies()
        while z and time.monotonic() < deadline:
            time.sleep(0.05)
            z = self.zombies()
        if z:
            raise AssertionError("kickd left zombie children: %s" % z)

    def send_signal(self, sig):
        if sig in (signal.SIGTERM, signal.SIGINT):
            self.stop_sent = sig
        self.proc.send_signal(sig)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, check=True):
        """Stops kickd with sig; fails unless it exits 0 within 10 s, left
        no zombie, and (under KICK_SAN=1) printed no sanitizer report."""
        if self.stopped:
            return
        self.stopped = True
        problems = []
        if self.stop_sent:
            sig = self.stop_sent
            check_z = False
        else:
            check_z = check
        if self.proc.poll() is not None and not self.stop_sent:
            problems.append("kickd had already exited with status %d"
                            % self.proc.returncode)
        else:
            if check_z:
                try:
                    self.check_zombies()
                except AssertionError as e:
                    problems.append(str(e))
            if not self.stop_sent:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("kickd did not exit within 10 s of %s"
                                % signal.Signals(sig).name)
            else:
                if self.proc.returncode != 0:
                    problems.append("kickd exited with status %d after %s"
                                    % (self.proc.returncode,
                                       signal.Signals(sig).name))
        self.log.close()
        problems += self.san_problems()
        if problems and check:
            raise AssertionError("; ".join(problems) + "; stderr:"
                                 + self.stderr_tail(25))

    def san_problems(self):
        if not SAN:
            return []
        text = self.stderr_text().encode()
        return ["sanitizer report: " + m.decode() for m in SAN_MARKERS
                if m in text]

    def connect(self, timeout=None):
        return Conn(self.listen_host, self.port, timeout)

    def request(self, method, target, headers=(), body=b"", version="1.1",
                timeout=None):
        """One request on a fresh connection; returns the Response."""
        with self.connect(timeout) as c:
            c.send(build(method, target, headers, body, version))
            return c.response(head=(method == "HEAD"))

    def get(self, target, headers=()):
        return self.request("GET", target, headers)

    def healthy(self, note=""):
        """Asserts GET /healthz answers 200 "ok\\n" on a new connection."""
        r = self.get("/healthz")
        if r.status != 200 or r.body != b"ok\n":
            raise AssertionError("GET /healthz failed %s: %d %r"
                                 % (note, r.status, r.body[:100]))

PHP_FPM = "/usr/sbin/php-fpm8.2"


class PhpFpm:
    """One php-fpm (Debian's php8.2-fpm, its php.ini) in a temp dir of its
    own: a unix socket there (or with tcp, 127.0.0.1 on a free port), a
    static pool of `children` workers, its error log there. A context
    manager; start() and stop() can be called again (the same address),
    kill() ends it at once with its workers, as a crash would. `address`
    is what a kickd route's fastcgi = takes.

    pool: extra lines for the pool's section (pm.status_path = ...)."""

    def __init__(self, children=2, pool="", tcp=False):
        if not os.access(PHP_FPM, os.X_OK):
            raise AssertionError("%s is not installed (php8.2-fpm)"
                                 % PHP_FPM)
        self.tmp = tempfile.mkdtemp(prefix="kick-fpm-")
        self.sock = os.path.join(self.tmp, "fpm.sock")
        self.address = "unix:" + self.sock
        self.port = None
        if tcp:
            self.port = free_port()
            self.address = "127.0.0.1:%d" % self.port
        self.conf = os.path.join(self.tmp, "php-fpm.conf")
        self.error_log = os.path.join(self.tmp, "error.log")
        self.children = children
        with open(self.conf, "w") as f:
            f.write("[global]\nerror_log = %s\ndaemonize = no\n"
                    "pid = %s/fpm.pid\n\n[kick]\nlisten = %s\n"
                    "pm = static\npm.max_children = %d\n%s\n"
                    % (self.error_log, self.tmp,
                       self.address if tcp else self.sock, children, pool))
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        self.stop()
        if et is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif isinstance(ev, Exception) and hasattr(ev, "add_note"):
            ev.add_note("php-fpm error log (%s):%s" % (
                self.error_log, self.log_tail()))
        return False

    def log_tail(self, n=10):
        try:
            with open(self.error_log) as f:
                lines = f.read().rstrip().splitlines()
        except OSError:
            return " (none)"
        return "\n    ".join([""] + lines[-n:])

    def start(self):
        """Starts php-fpm in the foreground (-F; -R when run as root: the
        workers then run as root too) and waits until its socket takes
        connections."""
        cmd = [PHP_FPM, "-y", self.conf, "-F"]
        if os.geteuid() == 0:
            cmd.append("-R")
        log = open(os.path.join(self.tmp, "stdout.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 5.0 * SLOW
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("php-fpm exited at start (%d):%s"
                                     % (self.proc.returncode,
                                        self.log_tail()))
            try:
                if self.port:
                    c = socket.create_connection(("127.0.0.1", self.port))
                else:
                    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    c.connect(self.sock)
                c.close()
                return self
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise AssertionError("php-fpm did not listen within 5 s:%s"
                             % self.log_tail())

    def workers(self):
        """The pids of the pool's workers (children of the master)."""
        return [pid for pid, f in proc_stats() if int(f[1]) == self.proc.pid]

    def stop(self):
        """SIGTERM: php-fpm ends its workers at once (SIGTERM) and
        removes its socket; SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        """SIGKILL to the workers and the master: the pool dies with its
        requests, as in a crash; its socket file stays behind, refusing."""
        if self.proc is None or self.proc.poll() is not None:
            return
        # The master first, so that it starts no worker in place of one
        # killed.
        workers = self.workers()
        self.proc.kill()
        self.proc.wait()
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


PG_BIN = "/usr/lib/postgresql/15/bin"


class PgCluster:
    """A throwaway PostgreSQL 15 cluster in a temp dir of its own (as
    tests/unit/pg_cluster.sh, but the postmaster is this process's child,
    so that the test runner's kill of the group ends it too): its socket
    in that dir and TCP on 127.0.0.1, both on a free port; fsync off;
    user `kick` trusted. initdb refuses root: as root, it and the server
    run as the postgres user. A context manager; stop() (a fast shutdown:
    sessions are ended) and start() can be called again, on the same
    port."""

    def __init__(self):
        for prog in ("initdb", "postgres", "psql"):
            if not os.access(os.path.join(PG_BIN, prog), os.X_OK):
                raise AssertionError("%s/%s is not installed (postgresql)"
                                     % (PG_BIN, prog))
        self.tmp = tempfile.mkdtemp(prefix="kick-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, "pg.log")
        self.port = free_port()
        self.user = {}
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("postgres")
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
            self.user = {"user": pw.pw_uid, "group": pw.pw_gid,
                         "extra_groups": []}
        self.proc = None
        self.started = False
        r = subprocess.run([os.path.join(PG_BIN, "initdb"), "-D", self.data,
                            "-U", "kick", "--auth=trust", "-N"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=60, **self.user)
        if r.returncode != 0:
            raise AssertionError("initdb failed (%d): %s" % (
                r.returncode, r.stdout.decode("utf-8", "replace")[-800:]))

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        self.close()
        return False

    def uri(self, dbname="postgres"):
        """The URI of dbname over the unix socket."""
        return "postgresql:///%s?host=%s&port=%d&user=kick" % (
            dbname, self.tmp, self.port)

    def tcp_uri(self, dbname, port=None):
        """The URI of dbname over TCP on 127.0.0.1 (port: a proxy's)."""
        return "postgresql://kick@127.0.0.1:%d/%s" % (port or self.port,
                                                       dbname)

    def start(self):
        """Starts the postmaster and waits until it answers a query. At
        the first start, a port taken meanwhile makes it try another."""
        for attempt in range(5):
            try:
                return self._start()
            except AssertionError:
                if self.started or attempt == 4 or \
                        "could not bind" not in self.log_tail(5):
                    raise
                self.port = free_port()

    def _start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(PG_BIN, "postgres"), "-D", self.data,
             "-k", self.tmp, "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200",
             # A lock waited for longer than deadlock_timeout (1 s) is
             # logged, with who holds it: a failed test's note shows it.
             "-c", "log_lock_waits=on"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, **self.user)
        log.close()
        deadline = time.monotonic() + 30.0
        while True:
            expect(self.proc.poll() is None, "postgres exited at start "
                   "(%s):%s", self.proc.returncode, self.log_tail())
            r = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q",
                                "-U", "kick", "-h", self.tmp,
                                "-p", str(self.port)],
                               stdin=subprocess.DEVNULL)
            if r.returncode == 0:
                self.started = True
                return self
            expect(time.monotonic() < deadline, "postgres did not accept "
                   "connections within 30 s:%s", self.log_tail())
            time.sleep(0.05)

    def stop(self, sig=signal.SIGINT):
        """Stops the server: SIGINT is a fast shutdown (sessions ended,
        transactions rolled back), SIGQUIT an immediate one; SIGKILL after
        30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log_tail(self, n=10):
        try:
            with open(self.log_path) as f:
                lines = f.read().rstrip().splitlines()
        except OSError:
            return " (none)"
        return "\n    ".join([""] + lines[-n:])

    def sql(self, query, dbname="postgres"):
        """Runs query with psql; returns its rows, each a list of
        columns (unaligned, tuples only)."""
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-A", "-t",
                            "-q", "-v", "ON_ERROR_STOP=1", "-F", "\t",
                            "-h", self.tmp, "-p", str(self.port), "-U",
                            "kick", "-d", dbname, "-c", query],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=60)
        if r.returncode != 0:
            raise AssertionError("psql %r failed (%d): %s" % (
                query, r.returncode, r.stderr.decode("utf-8", "replace")))
        out = r.stdout.decode("utf-8", "replace")
        return [ln.split("\t") for ln in out.splitlines() if ln]

    def new_db(self, name):
        """Creates database name (empty: kickd makes its schema)."""
        self.sql("CREATE DATABASE %s" % name)
        return name


def build(method, target, headers=(), body=b"", version="1.1", host=True):
    """Builds raw request bytes. headers: list of (name, value) or raw
    lines. Adds Host (HTTP/1.1) and Content-Length (when body is given and
    no framing header was) unless present."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["%s %s HTTP/%s" % (method, target, version)]
    names = set()
    for h in headers:
        if isinstance(h, (tuple, list)):
            names.add(h[0].lower())
            lines.append("%s: %s" % (h[0], h[1]))
        else:
            names.add(h.split(":", 1)[0].strip().lower())
            lines.append(h)
    if host and version == "1.1" and "host" not in names:
        lines.insert(1, "Host: 127.0.0.1")
    if body and "content-length" not in names and \
            "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def chunked(body, sizes):
    """Encodes body as chunks of the given sizes (the rest in one chunk)."""
    if isinstance(body, str):
        body = body.encode()
    out, i = [], 0
    for n in sizes:
        if i >= len(body):
            break
        part = body[i:i + n]
        out.append(b"%x\r\n%s\r\n" % (len(part), part))
        i += n
    if i < len(body):
        out.append(b"%x\r\n%s\r\n" % (len(body) - i, body[i:]))
    out.append(b"0\r\n\r\n")
    return b"".join(out)


class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []
        self.body = b""
        self.raw_head = b""
        self.chunked = False

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def has_token(self, name, token):
        for v in self.header_all(name):
            if token.lower() in [t.strip().lower() for t in v.split(",")]:
                return True
        return False

    def __repr__(self):
        return "<%s %s %s %r body=%d bytes %r>" % (
            self.version, self.status, self.reason, self.headers,
            len(self.body), self.body[:120])


class Conn:
    """A client connection with its own read buffer (for pipelining)."""

    def __init__(self, host, port, timeout=None, rcvbuf=None):
        self.timeout = timeout or READ_TIMEOUT
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(self.timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline, size=65536):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("read timed out; have %r" % self.buf[:200])
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(size)
        except socket.timeout:
            raise TimeoutError("read timed out; have %r" % self.buf[:200])
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            raise Closed("connection closed; have %r" % self.buf[:200])
        self.buf += d

    def read_line(self, deadline):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("line too long")
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def read_head(self, timeout=None):
        """Reads a status line and headers (a 1xx too). Returns Response."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("response head too long")
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        r = Response()
        r.raw_head = head
        lines = head.split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or \
                not parts[1].isdigit() or len(parts[1]) != 3:
            raise AssertionError("bad status line %r" % lines[0])
        r.version = parts[0]
        r.status = int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        for ln in lines[1:]:
            if b":" not in ln or ln[:1] in (b" ", b"\t"):
                raise AssertionError("bad response header line %r" % ln)
            k, v = ln.split(b":", 1)
            if k != k.strip():
                raise AssertionError("whitespace in header name %r" % ln)
            r.headers.append((k.decode("latin-1"),
                              v.strip().decode("latin-1")))
        return r

    def response(self, head=False, timeout=None, expect_100=False):
        """Reads one full response (skipping a 100 Continue unless
        expect_100 asks to return it). head: the request was HEAD."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            r = self.read_head(deadline - time.monotonic())
            if 100 <= r.status < 200 and r.status != 101:
                if expect_100:
                    return r
                continue
            break
        if head or r.status in (204, 304):
            return r
        te = r.header("Transfer-Encoding")
        cl = r.header_all("Content-Length")
        if te is not None:
            if te.lower() != "chunked":
                raise AssertionError("response Transfer-Encoding %r" % te)
            if cl:
                raise AssertionError("response has both CL and TE: %r" % r)
            r.chunked = True
            body = []
            while True:
                line = self.read_line(deadline)
                size = line.split(b";", 1)[0].strip()
                n = int(size, 16)
                if n == 0:
                    while self.read_line(deadline) != b"":
                        pass
                    break
                body.append(self.read_exact(n, deadline))
                if self.read_exact(2, deadline) != b"\r\n":
                    raise AssertionError("chunk not followed by CRLF")
            r.body = b"".join(body)
        elif cl:
            if len(cl) != 1 or not cl[0].isdigit():
                raise AssertionError("bad response Content-Length %r" % cl)
            r.body = self.read_exact(int(cl[0]), deadline)
        else:
            r.body = self.read_to_close(deadline - time.monotonic())
        return r

    def read_to_close(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while True:
                self._fill(deadline)
        except Closed:
            pass
        d, self.buf = self.buf, b""
        return d

    def is_closed(self, timeout=1.0):
        """True if the peer closes (EOF or reset) within timeout with no
        more data; raises if data arrives instead."""
        if self.buf:
            raise AssertionError("unexpected data after response: %r"
                                 % self.buf[:200])
        if self.eof:
            return True
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(4096)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if d:
            raise AssertionError("unexpected data after response: %r"
                                 % d[:200])
        self.eof = True
        return True


def rss(pid):
    """A process's resident memory in bytes (VmRSS of /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def wait_whole_line(path, timeout=10.0):
    """Polls until path holds whole lines (a script writing with echo
    has it from the moment the shell opens it, empty); returns its bytes.
    Fails after timeout (scaled)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data.endswith(b"\n"):
            return data
        expect(time.monotonic() < deadline, "%s: no complete line in time "
               "(%r)", path, data)
        time.sleep(0.01)


def expect(cond, msg, *args):
    if not cond:
        raise AssertionError(msg % args if args else msg)


def expect_eq(got, want, what="value"):
    if got != want:
        raise AssertionError("%s: expected %r, got %r" % (what, want, got))


def expect_error(r, status, what=""):
    """An error response of kickd: the status (or one of a tuple of them),
    text/plain, a Content-Length, and a body starting with the status."""
    ok = status if isinstance(status, tuple) else (status,)
    expect(r.status in ok, "%s: expected %s, got %r", what or "status",
           "/".join(map(str, ok)), r)
    ct = r.header("Content-Type", "")
    expect(ct.split(";")[0].strip().lower() == "text/plain",
           "%s: error Content-Type %r", what, ct)
    expect(r.header("Content-Length") is not None,
           "%s: error response has no Content-Length: %r", what, r)
    expect(r.body.startswith(str(r.status).encode()),
           "%s: error body does not start with %d: %r", what, r.status,
           r.body)


# Helpers of the PHP connection-state tests (test_php_connstate.py for
# php-cgi, test_fastcgi.py for PHP-FPM): the scripts/pcs_*.php scripts
# write what they did and what their shutdown function saw into the file
# named by their f= parameter; a route's on_shutdown command (SHUTDOWN_SH)
# writes kickd's view into TMP/NAME.sd.

# The route's on_shutdown command: kickd's view of the run, one line.
SHUTDOWN_SH = """#!/bin/sh
echo "cs=$KICK_CONNECTION_STATUS exit=$KICK_EXIT_STATUS sig=$KICK_SIGNAL" \\
    >> "$1"
"""


def target(k, route, name, **q):
    """route?f=TMP/NAME.php.out&...; returns (target, out file)."""
    out = os.path.join(k.tmp, name + ".php.out")
    q = dict(q, f=out)
    return "/%s?%s" % (route, urlencode(q)), out


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_line(path, prefix, timeout):
    """Polls path until a line starts with prefix; returns the file's
    lines. Fails after timeout seconds (scaled for sanitized builds)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        lines = read(path).splitlines()
        if any(ln.startswith(prefix) for ln in lines):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError("no %r line in %s within %.1f s; have %r"
                                 % (prefix, os.path.basename(path),
                                    timeout * SLOW, lines[-6:]))
        time.sleep(0.02)


def value(lines, key):
    for ln in lines:
        if ln.startswith(key + "="):
            return ln[len(key) + 1:]
    raise AssertionError("no %s= line in %r" % (key, lines[-6:]))


def shutdown_view(k, name, timeout=3.0):
    """kickd's view from the route's on_shutdown command."""
    path = os.path.join(k.tmp, name + ".sd")
    line = wait_line(path, "cs=", timeout)
    expect_eq(len(line), 1, "on_shutdown ran once")
    return dict(w.split("=", 1) for w in line[0].split())


def open_request(k, tgt):
    """Connects and sends a GET; returns the socket (timeouts on)."""
    s = socket.create_connection((k.host_for_connect(), k.port),
                                 timeout=5.0 * SLOW)
    s.sendall(build("GET", tgt))
    return s


def read_some(s, nbytes, timeout=5.0):
    """Reads until nbytes have arrived; returns them."""
    got = b""
    deadline = time.monotonic() + timeout * SLOW
    while len(got) < nbytes:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        d = s.recv(65536)
        expect(d, "connection closed after %d bytes: %r", len(got), got[:200])
        got += d
    return got


def fire_and_forget(k, tgt):
    """The original article's caller: connect, write a complete request,
    close without reading."""
    s = socket.create_connection((k.host_for_connect(), k.port),
                                 timeout=5.0 * SLOW)
    s.sendall(build("GET", tgt))
    s.close()


def run(ns):
    """Runs every test_* function of module namespace ns in order of
    definition, each with a 120 s alarm, printing PASS/FAIL/SKIP lines."""
    tests = [(n, f) for n, f in ns.items()
             if n.startswith("test_") and callable(f)]
    only = sys.argv[1:]

    def on_alarm(signum, frame):
        raise TimeoutError("test took longer than %d s" % (120 * SLOW))

    signal.signal(signal.SIGALRM, on_alarm)
    failed = 0
    for name, fn in tests:
        short = name[5:]
        if only and short not in only and name not in only:
            continue
        t0 = time.monotonic()
        signal.alarm(int(120 * SLOW))
        try:
            fn()
        except Skip as e:
            signal.alarm(0)
            print("SKIP %s: %s" % (short, e), flush=True)
            continue
        except BaseException as e:
            signal.alarm(0)
            failed += 1
            msg = "%s: %s" % (type(e).__name__, e)
            for note in getattr(e, "__notes__", []):
                msg += "\n" + note
            msg = msg.replace("\n", "\n    ")
            tb = traceback.extract_tb(e.__traceback__)
            where = ["%s:%d" % (os.path.basename(f.filename), f.lineno)
                     for f in tb if f.filename.startswith(HERE)]
            print("FAIL %s: %s\n    at %s" % (short, msg, " < ".join(
                reversed(where[-4:]))), flush=True)
            if isinstance(e, KeyboardInterrupt):
                raise
            continue
        signal.alarm(0)
        print("PASS %s (%.1fs)" % (short, time.monotonic() - t0), flush=True)
    return failed
