# SPDX-License-Identifier: MIT
# The runners part of `make bench` (issue 11, "Benchmark"): kickd's three
# runners beside what a PHP shop runs today, on one PHP-FPM pool (static,
# POOL children) that every row shares:
# - attached executions/s of a trivial PHP script through kickd's fastcgi
#   runner, through nginx + the same pool (keep-alive upstream), and
#   through kickd's exec runner with php-cgi, with wrk, in turns;
# - detached jobs/s (first trigger to last job ended) through fastcgi and
#   through php-cgi, in turns;
# - forward jobs/s against bench/ok_sink beside wrk on the same sink;
# - the article's caller (fsockopen, fwrite, fclose) firing 50 triggers of
#   a script without ignore_user_abort at nginx + FPM directly, and at
#   kickd forward and fastcgi routes: how many ran to their end.
# run.py passes its helpers; measure() returns the cells, never raises.

import glob
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import jobs

POOL = 4  # FPM children, pm = static, in each pool
WORKERS = 2 * POOL  # kickd's detached jobs at once
SECONDS = int(os.environ.get("BENCH_RUNNERS_SECONDS", "3"))  # a wrk run
# The attached table's target is a ratio of two rates that this shared
# machine moves by ±30 % from one run to the next (nginx: 27.7k, 19.5k,
# 13.0k/s in three rounds of one run): five short rounds rather than three
# long ones, for the median of their ratios. Detached and forward: three.
ATTACH_ROUNDS = int(os.environ.get("BENCH_RUNNERS_ATTACH_ROUNDS", "5"))
ROUNDS = int(os.environ.get("BENCH_RUNNERS_ROUNDS", "3"))
# Attached: wrk's connections. FPM binds a child to a connection for as
# long as the front keeps it open, and nginx cannot queue: with more
# connections than children, a request that nginx sends on a new
# connection waits in FPM's backlog behind children held by idle kept
# ones, up to fastcgi_read_timeout (seen: runs of 0 req/s at -c8 with 4
# children). One client connection a child keeps every row honest.
WRK_CONNS = POOL
WRK_THREADS = 2
# Between the fronts the same holds: children held by one front's idle
# kept connections are not the other's. kickd gives an idle connection
# back after 2 s, nginx after its upstream keepalive_timeout (1 s here,
# 60 s by default: the first version of this part measured 55 jobs/s
# through kickd right after nginx's run). A front waits this long after
# the other's last request before its own run.
RELEASE = 2.5  # s
WARMUP = 1  # s of unmeasured wrk per target before the rounds
# Detached: jobs per run (php-cgi runs ~10x fewer a second), and how long
# a run may take before it fails.
CGI_JOBS = int(os.environ.get("BENCH_RUNNERS_CGI_JOBS", "300"))
FCGI_JOBS = int(os.environ.get("BENCH_RUNNERS_FCGI_JOBS", "5000"))
FWD_JOBS = int(os.environ.get("BENCH_RUNNERS_FWD_JOBS", "5000"))
FLOOD_CONNS = 8
FLOOD_WINDOW = 8
JOBS_WAIT = 60.0  # s
FWD_WRK_CONNS = WORKERS  # the forward runner's connections at most
# The article's caller: triggers per row; the script sleeps 100 ms, so a
# row's scripts take ~1.3 s on POOL children. Without a job API to ask,
# a direct row is over when no new mark has come for CALL_QUIET.
CALLS = 50
CALL_QUIET = 2.0  # s
CALL_WAIT = 30.0  # s at most per row
ATTACH_TARGET = 0.90  # kickd fastcgi / nginx
DETACH_TARGET = 10.0  # fastcgi / php-cgi
# What run.py keeps for this part: the attached rounds and warm-ups (a
# second each for wrk's start and end, RELEASE before most), the detached
# and forward rounds (~2-4 s of jobs each, and wrk), the caller's rows,
# starts and stops.
RESERVE = (3 * (WARMUP + 1 + ATTACH_ROUNDS * (SECONDS + 1)) +
           ATTACH_ROUNDS * RELEASE + ROUNDS * (SECONDS + 10) + 4 * 5 +
           10)  # s, about 150
NGINX = "/usr/sbin/nginx"
PHP_CGI = "/usr/bin/php-cgi"
HERE = os.path.dirname(os.path.abspath(__file__))
ENDED = ("succeeded", "failed", "timed_out", "aborted", "canceled")

FPM_CONF = """[global]
pid = %(d)s/fpm.pid
error_log = %(d)s/fpm.log
daemonize = no

; Part 1's pool: nginx and kickd reach it on a unix socket.
[unix]
%(user)slisten = %(d)s/fpm.sock
pm = static
pm.max_children = %(pool)d

; The issue's setup for the article's caller: the pool on TCP, nginx
; connecting per request.
[tcp]
%(user)slisten = 127.0.0.1:%(fpm_port)d
pm = static
pm.max_children = %(pool)d
"""

# One worker: on 2 CPUs it served 25-27k/s where worker_processes auto
# (two) served 19-21k/s, in turns; the floor is the stronger nginx.
NGINX_CONF = """%(user)sdaemon off;
master_process on;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(d)s/nginx-tmp/body;
    fastcgi_temp_path %(d)s/nginx-tmp/fastcgi;
    proxy_temp_path %(d)s/nginx-tmp/proxy;
    uwsgi_temp_path %(d)s/nginx-tmp/uwsgi;
    scgi_temp_path %(d)s/nginx-tmp/scgi;
    upstream fpm {
        server unix:%(d)s/fpm.sock;
        keepalive %(pool)d;
        keepalive_timeout 1s;
    }
    server {
        listen 127.0.0.1:%(port)d;
        root %(d)s/www;
        location ~ ^/tcp(/.+\\.php)$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$1;
            fastcgi_pass 127.0.0.1:%(fpm_port)d;
        }
        location ~ \\.php$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_keep_conn on;
            fastcgi_pass fpm;
        }
    }
}
"""

# Access logs are off here as in NGINX_CONF: the rows compare the path
# of a request, not two ways of writing a log.
KICKD_CONF = """[server]
listen = 127.0.0.1:%(port)d
db = %(d)s/kick.db
workers = %(workers)d
access_log = off

[route /a/fcgi]
fastcgi = unix:%(d)s/fpm.sock
script = %(d)s/www/ok.php
mode = attach

[route /a/cgi]
exec = %(php_cgi)s %(d)s/www/ok.php
mode = attach

[route /d/fcgi]
fastcgi = unix:%(d)s/fpm.sock
script = %(d)s/www/ok.php
mode = detach

[route /d/cgi]
exec = %(php_cgi)s %(d)s/www/ok.php
mode = detach

[route /d/fwd]
forward = http://127.0.0.1:%(sink_port)d/ok
mode = detach

[route /art/fwd]
forward = http://127.0.0.1:%(nginx_port)d/tcp/article_job.php
mode = detach

[route /art/fcgi]
fastcgi = unix:%(d)s/fpm.sock
script = %(d)s/www/article_job.php
mode = detach
"""

OK_PHP = '<?php echo "ok\\n";\n'


def reserve():
    """Seconds this part needs of the bench's limit."""
    return RESERVE


def find_fpm():
    found = sorted(glob.glob("/usr/sbin/php-fpm[0-9]*"))
    return found[-1] if found else None


def unix_ok(path):
    def probe(_port):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(path)
        return True
    return probe


def tcp_ok(port):
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    return True


def http_get(port, path, timeout=5):
    """(status, body) of one GET; raises OSError."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(d, bench_bin, kickd, h):
    """Writes the configurations into d and starts PHP-FPM (two pools),
    nginx, ok_sink and kickd through h["start_server"]; returns the ports
    by name, or raises RuntimeError."""
    fpm = find_fpm()
    for what, path in (("php-fpm", fpm), ("nginx", NGINX),
                       ("php-cgi", PHP_CGI)):
        if not path or not os.access(path, os.X_OK):
            raise RuntimeError("%s is not installed (make bench installs "
                               "it)" % what)
    os.makedirs(os.path.join(d, "www"))
    os.makedirs(os.path.join(d, "nginx-tmp"))
    with open(os.path.join(d, "www", "ok.php"), "w") as f:
        f.write(OK_PHP)
    shutil.copy2(os.path.join(HERE, "article_job.php"),
                 os.path.join(d, "www", "article_job.php"))
    root = os.geteuid() == 0
    p = {"d": d, "pool": POOL, "workers": WORKERS, "php_cgi": PHP_CGI,
         "fpm_port": h["free_port"](), "port": h["free_port"]()}
    with open(os.path.join(d, "fpm.conf"), "w") as f:
        f.write(FPM_CONF % dict(p, user="user = root\ngroup = root\n"
                                if root else ""))
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF % dict(p, user="user root;\n" if root else ""))
    # -R: FPM refuses to run its children as root without it.
    h["start_server"]("php-fpm", [fpm, "-y", os.path.join(d, "fpm.conf"),
                                  "-F", "-R"],
                      os.path.join(d, "fpm.out"), 0,
                      unix_ok(os.path.join(d, "fpm.sock")))
    h["start_server"]("nginx", [NGINX, "-p", d, "-c",
                                os.path.join(d, "nginx.conf")],
                      os.path.join(d, "nginx.out"), p["port"], tcp_ok)
    ports = {"nginx": p["port"], "fpm": p["fpm_port"],
             "sink": h["free_port"](), "kickd": h["free_port"]()}
    sink_log = os.path.join(d, "sink.log")
    sink = h["start_server"]("ok_sink",
                             [os.path.join(bench_bin, "ok_sink"), "-p",
                              str(ports["sink"])], sink_log, ports["sink"],
                             tcp_ok)
    ports["sink_pid"], ports["sink_log"] = sink.pid, sink_log
    with open(os.path.join(d, "kickd.conf"), "w") as f:
        f.write(KICKD_CONF % dict(p, port=ports["kickd"],
                                  sink_port=ports["sink"],
                                  nginx_port=ports["nginx"]))
    k = h["start_server"]("kickd", [kickd, "-c",
                                    os.path.join(d, "kickd.conf")],
                          os.path.join(d, "kickd.log"), ports["kickd"],
                          h["kickd_ok"])
    ports["kickd_pid"] = k.pid
    return ports


class Pool:
    """Which front (nginx or kickd) last used the unix-socket pool, so
    that the other waits RELEASE for its kept connections to go."""

    def __init__(self):
        self.front = None

    def use(self, front):
        if front is None:
            return
        if self.front not in (None, front):
            time.sleep(RELEASE)
        self.front = front


def check_ok(port, path):
    """One GET by hand: a fast wrong answer is no result."""
    try:
        status, body = http_get(port, path)
    except OSError as e:
        raise RuntimeError("GET %s: %s" % (path, e))
    if status != 200 or body != b"ok\n":
        raise RuntimeError("GET %s: %s %r" % (path, status, body[:120]))


def measure_attached(ports, pool, h):
    """ATTACH_ROUNDS rounds of wrk against each target: nginx and kickd's
    fastcgi back to back, which first taking turns (their ratio is the
    target), then php-cgi. {target: {"error", "runs": [{"rate",
    "p99"}]}}."""
    targets = (("nginx", ports["nginx"], "/ok.php"),
               ("fastcgi", ports["kickd"], "/a/fcgi"),
               ("php-cgi", ports["kickd"], "/a/cgi"))
    fronts = {"nginx": "nginx", "fastcgi": "kickd", "php-cgi": None}
    cells = {t: {"error": None, "runs": []} for t, _, _ in targets}
    for t, port, path in targets:
        try:
            pool.use(fronts[t])
            check_ok(port, path)
            h["run_wrk"]("http://127.0.0.1:%d%s" % (port, path),
                          WRK_THREADS, WRK_CONNS, WARMUP)
        except RuntimeError as e:
            cells[t]["error"] = str(e)
    for rnd in range(ATTACH_ROUNDS):
        pair = targets[:2] if rnd % 2 == 0 else targets[1::-1]
        for t, port, path in pair + targets[2:]:
            cell = cells[t]
            if cell["error"]:
                continue
            pool.use(fronts[t])
            try:
                cell["runs"].append(h["run_wrk"](
                    "http://127.0.0.1:%d%s" % (port, path), WRK_THREADS,
                    WRK_CONNS, SECONDS))
            except RuntimeError as e:
                cell["error"] = str(e)
    return cells


def job_counts(port):
    """{(route, state): n} from kickd's /metrics."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                  timeout=5).read().decode()
    got = {}
    for m in re.finditer(r'^kick_jobs\{route="([^"]*)",state="([^"]*)"\} '
                         r'(\d+)$', text, re.M):
        got[(m.group(1), m.group(2))] = int(m.group(3))
    return got


def ended(port, route):
    c = job_counts(port)
    return sum(c.get((route, s), 0) for s in ENDED)


def get_json(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=10) as r:
        return json.loads(r.read())


def last_id(port):
    page = get_json(port, "/jobs?order=desc&limit=1")["jobs"]
    return page[0]["id"] if page else 0


def jobs_after(port, route, after):
    """Every job of route with an id above after, oldest first."""
    got = []
    while True:
        page = get_json(port, "/jobs?route=%s&after=%d&limit=1000" %
                        (urllib.parse.quote(route), after))
        got += page["jobs"]
        if page["next"] is None or not page["jobs"]:
            return got
        after = page["next"]


def wait_ended(port, route, base, n, limit):
    """Waits until n more jobs of route have ended than base; raises
    RuntimeError after limit seconds."""
    deadline = time.monotonic() + limit
    while True:
        done = ended(port, route) - base
        if done >= n:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("%d of %d jobs ended in %.0f s" %
                               (done, n, limit))
        time.sleep(0.02)


def run_jobs(flood_bin, port, route, n):
    """Triggers n jobs of route at once (trigger_flood, pipelined) and
    waits for them to end; returns {"rate": jobs/s from the first job's
    created_at to the last one's finished_at, "seconds", "jobs"}, or
    raises RuntimeError naming the first job that did not succeed."""
    after, base = last_id(port), ended(port, route)
    jobs.run_tool([flood_bin, "-p", str(port), "-n", str(n), "-m", str(n),
                   "-c", str(FLOOD_CONNS), "-w", str(FLOOD_WINDOW), route],
                  JOBS_WAIT)
    wait_ended(port, route, base, n, JOBS_WAIT)
    got = jobs_after(port, route, after)
    bad = [j for j in got if j["state"] != "succeeded"]
    if len(got) != n or bad:
        j = bad[0] if bad else {}
        raise RuntimeError("%d jobs, %d did not succeed; job %s: %s %s" % (
            len(got), len(bad), j.get("id"), j.get("state"), j.get("error")))
    t0 = min(jobs.parse_time(j["created_at"]) for j in got)
    t1 = max(jobs.parse_time(j["finished_at"]) for j in got)
    secs = max(t1 - t0, 1.0) / 1e3
    return {"rate": n / secs, "seconds": secs, "jobs": n}


def measure_detached(ports, pool, flood_bin):
    """fastcgi and php-cgi detached jobs/s, ROUNDS rounds in turns."""
    targets = (("fastcgi", "/d/fcgi", FCGI_JOBS),
               ("php-cgi", "/d/cgi", CGI_JOBS))
    cells = {t: {"error": None, "runs": []} for t, _, _ in targets}
    for rnd in range(ROUNDS):
        for t, route, n in targets[rnd % 2:] + targets[:rnd % 2]:
            if cells[t]["error"]:
                continue
            pool.use("kickd" if t == "fastcgi" else None)
            try:
                cells[t]["runs"].append(run_jobs(flood_bin, ports["kickd"],
                                                 route, n))
            except (RuntimeError, OSError, ValueError) as e:
                cells[t]["error"] = str(e)
    return cells


def sink_requests(ports):
    """The sink's count of requests answered (SIGUSR1), or raises
    RuntimeError."""
    log = ports["sink_log"]

    def lines():
        with open(log) as f:
            return [x for x in f.read().splitlines()
                    if x.startswith("requests ")]
    before = len(lines())
    os.kill(ports["sink_pid"], 10)  # SIGUSR1
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        got = lines()
        if len(got) > before:
            return int(got[-1].split()[1])
        time.sleep(0.01)
    raise RuntimeError("ok_sink did not answer SIGUSR1")


def measure_forward(ports, flood_bin, h):
    """forward jobs/s to ok_sink beside wrk on the sink, ROUNDS rounds in
    turns; each forward run checks that the sink got one request a
    job."""
    cells = {t: {"error": None, "runs": []} for t in ("forward", "wrk")}
    url = "http://127.0.0.1:%d/ok" % ports["sink"]
    for rnd in range(ROUNDS):
        for t in (("forward", "wrk") if rnd % 2 == 0 else ("wrk", "forward")):
            cell = cells[t]
            if cell["error"]:
                continue
            try:
                if t == "wrk":
                    cell["runs"].append(h["run_wrk"](
                        url, WRK_THREADS, FWD_WRK_CONNS, SECONDS))
                    continue
                before = sink_requests(ports)
                r = run_jobs(flood_bin, ports["kickd"], "/d/fwd", FWD_JOBS)
                r["sink"] = sink_requests(ports) - before
                if r["sink"] != FWD_JOBS:
                    raise RuntimeError("%d jobs succeeded, the sink answered"
                                       " %d requests" % (FWD_JOBS,
                                                         r["sink"]))
                cell["runs"].append(r)
            except (RuntimeError, OSError, ValueError) as e:
                cell["error"] = str(e)
    return cells


def marks(d):
    return len(os.listdir(d))


def call_row(d, name, url, port=None, route=None):
    """The article's caller fires CALLS triggers at url; returns {"ran":
    marks left by scripts that reached their end, "seconds"}. With a
    kickd route, waits for its jobs to end and adds "jobs" (made of the
    triggers) and "why" (the first that did not succeed, or None);
    otherwise waits until no new mark has come for CALL_QUIET."""
    out = os.path.join(d, "marks-" + name)
    os.mkdir(out)
    sep = "&" if "?" in url else "?"
    base = ended(port, route) if route else 0
    after = last_id(port) if route else 0
    t0 = time.monotonic()
    r = subprocess.run(["php", os.path.join(HERE, "article_caller.php"),
                        str(CALLS), "%s%sd=%s" % (url, sep, out)],
                       capture_output=True, text=True, timeout=CALL_WAIT)
    if r.returncode != 0:
        raise RuntimeError("article_caller exit %d: %s" %
                           (r.returncode, (r.stderr or r.stdout)[:200]))
    deadline = t0 + CALL_WAIT
    got = {}
    if route:
        wait_ended(port, route, base, CALLS, deadline - time.monotonic())
        made = jobs_after(port, route, after)
        bad = [j for j in made if j["state"] != "succeeded"]
        got = {"jobs": len(made), "why": "job %d %s: %s" % (
            bad[0]["id"], bad[0]["state"], bad[0]["error"]) if bad else None}
    else:
        seen, quiet_from = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = marks(out)
            if n == CALLS:
                break
            if n != seen:
                seen, quiet_from = n, time.monotonic()
            elif time.monotonic() - quiet_from > CALL_QUIET:
                break
            time.sleep(0.05)
    return dict(got, ran=marks(out), seconds=time.monotonic() - t0)


CALL_ROWS = (
    ("nginx-tcp", "directly: nginx -> FPM over TCP, a connection a request "
                  "(the issue's setup)"),
    ("nginx-unix", "directly: nginx -> FPM over the unix socket, keep-alive "
                   "upstream (part 1's nginx)"),
    ("forward", "kickd `forward` route (detach) -> the TCP nginx URL"),
    ("fastcgi", "kickd `fastcgi` route (detach) -> the unix-socket pool"),
)


def measure_caller(ports, pool, d):
    """One row each of the article's caller, one after the other (they
    share the pool)."""
    n, k = ports["nginx"], ports["kickd"]
    how = {
        "nginx-tcp": ("http://127.0.0.1:%d/tcp/article_job.php" % n,
                      None),
        "nginx-unix": ("http://127.0.0.1:%d/article_job.php" % n, None),
        "forward": ("http://127.0.0.1:%d/art/fwd" % k, "/art/fwd"),
        "fastcgi": ("http://127.0.0.1:%d/art/fcgi" % k, "/art/fcgi"),
    }
    cells = {}
    for name, _ in CALL_ROWS:
        url, route = how[name]
        pool.use({"nginx-unix": "nginx", "fastcgi": "kickd"}.get(name))
        try:
            cells[name] = dict(call_row(d, name, url, k, route), error=None)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            cells[name] = {"error": str(e)}
    return cells


def measure(kickd, bench_bin, tmp, h, errors):
    """All four tables' figures; {"attached", "detached", "forward",
    "caller"}, each {target: cell}. Failures also go to errors."""
    d = os.path.join(tmp, "runners")
    os.mkdir(d)
    got = {}
    try:
        ports = start(d, bench_bin, kickd, h)
    except RuntimeError as e:
        errors.append(("runners", str(e)))
        h["stop_servers"]()
        return got
    flood_bin = os.path.join(bench_bin, "trigger_flood")
    pool = Pool()
    got["attached"] = measure_attached(ports, pool, h)
    got["detached"] = measure_detached(ports, pool, flood_bin)
    got["forward"] = measure_forward(ports, flood_bin, h)
    got["caller"] = measure_caller(ports, pool, d)
    got["tail"] = {"kickd": h["tail"](os.path.join(d, "kickd.log")),
                   "nginx": h["tail"](os.path.join(d, "nginx.log")),
                   "fpm": h["tail"](os.path.join(d, "fpm.log"))}
    h["stop_servers"]()
    for part in ("attached", "detached", "forward", "caller"):
        for t, c in got[part].items():
            if c["error"]:
                errors.append(("runners %s %s" % (part, t), c["error"]))
    return got


def rate(cell):
    if cell["error"] or not cell["runs"]:
        return None
    return statistics.median(r["rate"] for r in cell["runs"])


def ratios(a, b):
    """Each round's a/b (measured back to back); [] if either failed."""
    if a["error"] or b["error"]:
        return []
    return [x["rate"] / y["rate"] for x, y in zip(a["runs"], b["runs"])]


def pct(ratio):
    return ("%.0f %%" if ratio >= 0.1 else "%.1f %%") % (100 * ratio)


def verdict(ok):
    return "PASS" if ok else "MISS"


def fmt(v, form="%.0f /s"):
    return "FAIL" if v is None else form % v


def print_attached(cells):
    print()
    print("| attached, `<?php echo \"ok\\n\";`, %d FPM children, wrk -t%d "
          "-c%d | executions/s | p99 | of nginx | target |" %
          (POOL, WRK_THREADS, WRK_CONNS))
    print("|---|---:|---:|---:|---|")
    names = (("nginx", "nginx 1.22 + FPM (unix socket, keep-alive "
                       "upstream): the floor"),
             ("fastcgi", "kickd `fastcgi` runner, mode = attach"),
             ("php-cgi", "kickd `exec` runner, php-cgi, mode = attach"))
    for t, what in names:
        c = cells[t]
        r = rate(c)
        p = (statistics.median(x["p99"] for x in c["runs"])
             if r is not None else None)
        q = ratios(c, cells["nginx"])
        target = ""
        if t == "fastcgi":
            target = "≥ %.0f %% of nginx: %s" % (
                100 * ATTACH_TARGET,
                verdict(q and statistics.median(q) >= ATTACH_TARGET)
                if q else "FAIL")
        print("| %s | %s | %s | %s | %s |" % (
            what, fmt(r), fmt(p, "%.2f ms"),
            pct(statistics.median(q)) if q else "n/a", target))


def print_detached(cells):
    print()
    print("| detached jobs, trigger (202) to succeeded, %d workers | jobs "
          "a run | jobs/s | fastcgi / php-cgi | target |" % WORKERS)
    print("|---|---:|---:|---:|---|")
    q = ratios(cells["fastcgi"], cells["php-cgi"])
    for t, n, what in (("fastcgi", FCGI_JOBS, "kickd `fastcgi` runner "
                                              "(%d FPM children)" % POOL),
                       ("php-cgi", CGI_JOBS, "kickd `exec` runner, "
                                             "php-cgi")):
        r = rate(cells[t])
        if t == "fastcgi":
            ratio = "%.1f×" % statistics.median(q) if q else "n/a"
            target = "≥ %.0f×: %s" % (DETACH_TARGET, verdict(
                statistics.median(q) >= DETACH_TARGET) if q else "FAIL")
        else:
            ratio = target = ""
        print("| %s | %d | %s | %s | %s |" % (what, n, fmt(r), ratio,
                                              target))


def print_forward(cells):
    print()
    print("| forward to a local keep-alive sink (bench/ok_sink) | jobs "
          "or requests/s | of wrk | target |")
    print("|---|---:|---:|---|")
    q = ratios(cells["forward"], cells["wrk"])
    print("| kickd `forward` runner, detached jobs (%d a run), trigger to "
          "succeeded | %s | %s | none set: the floor beside it |" % (
              FWD_JOBS, fmt(rate(cells["forward"])),
              pct(statistics.median(q)) if q else "n/a"))
    print("| wrk -t%d -c%d on the same sink: the floor | %s | | |" % (
        WRK_THREADS, FWD_WRK_CONNS, fmt(rate(cells["wrk"]))))


def print_caller(cells):
    print()
    print("| the article's caller (fsockopen, fwrite, fclose), %d "
          "triggers of a script without ignore_user_abort | ran to its "
          "end | target |" % CALLS)
    print("|---|---:|---|")
    for name, what in CALL_ROWS:
        c = cells[name]
        ran = "FAIL" if c["error"] else "%d of %d" % (c["ran"], CALLS)
        if name.startswith("nginx"):
            target = "reference (issue: 13 of 38 over TCP)" \
                if name == "nginx-tcp" else "reference"
        else:
            target = "%d of %d: %s" % (CALLS, CALLS, "FAIL" if c["error"]
                                       else verdict(c["ran"] == CALLS))
        print("| %s | %s | %s |" % (what, ran, target))


def print_table(got):
    if not got:
        return
    print_attached(got["attached"])
    print_detached(got["detached"])
    print_forward(got["forward"])
    print_caller(got["caller"])


def print_method(got):
    if not got:
        return
    print("runners: one php-fpm 8.2 master with two pools of %d children (pm "
          "= static), one on a unix socket (nginx, one worker, with "
          "`fastcgi_pass` to an upstream with `keepalive %d`, "
          "keepalive_timeout 1s, `fastcgi_keep_conn on`; kickd's fastcgi "
          "routes; a front waits %.1f s after the other's last use, for its "
          "kept connections to let go of their children), one on 127.0.0.1 "
          "(nginx connecting per request, for the caller row the issue "
          "quotes); kickd with workers = %d, access_log = off (nginx's off "
          "too) and default route settings; "
          "attached: wrk -t%d -c%d -d%ds, %d rounds after %d s of warm-up "
          "each, nginx and kickd fastcgi back to back in each (which first "
          "taking turns), then php-cgi, the ratio the median of the rounds'; "
          "detached: trigger_flood -c%d -w%d sends the jobs at once, the rate"
          " is jobs / (last finished_at - first created_at) from the job API,"
          " %d rounds in turns; forward: the same against bench/ok_sink (its "
          "count of requests checked against the jobs), beside wrk -t%d -c%d "
          "-d%ds; caller: bench/article_caller.php (php-cli) fires %d POSTs, "
          "each fsockopen, fwrite, fclose, at bench/article_job.php (sleeps "
          "100 ms, then writes its mark, no ignore_user_abort), one row after"
          " the other; a kickd row ends when its jobs have, a direct row %.0f"
          " s after its last mark" %
          (POOL, POOL, RELEASE, WORKERS, WRK_THREADS, WRK_CONNS, SECONDS,
           ATTACH_ROUNDS, WARMUP, FLOOD_CONNS, FLOOD_WINDOW, ROUNDS,
           WRK_THREADS, FWD_WRK_CONNS, SECONDS, CALLS, CALL_QUIET))


def print_details(got):
    if not got:
        return
    print("runners (each round):")
    for part in ("attached", "detached", "forward"):
        for t, c in got[part].items():
            runs = ", ".join("%.0f" % r["rate"] +
                             (" (p99 %.2f ms)" % r["p99"] if "p99" in r
                              else " (%d in %.2f s)" % (r["jobs"],
                                                        r["seconds"]))
                             for r in c["runs"])
            print("  %-8s %-8s %s" % (part, t, runs or "-"))
    for name, _ in CALL_ROWS:
        c = got["caller"][name]
        if not c["error"]:
            print("  caller   %-10s %d of %d in %.1f s%s" % (
                name, c["ran"], CALLS, c["seconds"],
                "" if "jobs" not in c else "; %d jobs%s" % (
                    c["jobs"], ", " + c["why"] if c["why"] else "")))
    if any(c["error"] for p in ("attached", "detached", "forward", "caller")
           for c in got[p].values()):
        for what, t in got["tail"].items():
            print("  %s log: %s" % (what, t))
