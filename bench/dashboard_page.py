# SPDX-License-Identifier: MIT
# The dashboard_page part of `make bench` (issue 12, "Benchmark"): the
# dashboard's load time in Debian's headless Chromium with 100,000 jobs in
# the store, from navigation start to the mark the page sets when it has
# drawn its first list (performance.mark('kick-list-drawn') in
# ui/app.js). The store is made by kickd (its schema) and filled beside it
# with ended jobs of five routes; the page is loaded again and again, each
# time a whole navigation from about:blank (the assets revalidated by
# ETag, as a browser does with Cache-Control: no-cache).

import os
import signal
import sqlite3
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "e2e"))
import webdriver  # noqa: E402

JOBS = int(os.environ.get("BENCH_PAGE_JOBS", "100000"))
LOADS = int(os.environ.get("BENCH_PAGE_LOADS", "20"))
TARGET = 300.0  # ms, navigation start to the first list drawn (median)
RESERVE = 40.0  # s this part needs of what the bench's limit leaves
ROUTES = ("/report", "/mail", "/resize", "/import", "/export")

CONFIG = """[server]
listen = 127.0.0.1:%(port)d
db = %(db)s
keep = 0
dashboard = on
%(routes)s"""

HEAD = (b"POST /report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 3\r\n\r\n")

# What the page's own timings say of one load (ms since navigation start).
PROBE = """
const m = performance.getEntriesByName('kick-list-drawn');
if (!m.length) return null;
const nav = performance.getEntriesByType('navigation')[0];
const res = (p) => performance.getEntriesByType('resource')
  .filter((r) => new URL(r.name).pathname === p)[0];
const jobs = performance.getEntriesByType('resource')
  .filter((r) => new URL(r.name).pathname === '/jobs')[0];
const stats = res('/stats');
return {drawn: m[0].startTime, html: nav.responseEnd,
  dcl: nav.domContentLoadedEventEnd,
  jobs: jobs ? jobs.duration : null, stats: stats ? stats.duration : null,
  rows: document.querySelectorAll('#rows tr').length};
"""


def routes_conf():
    return "".join("\n[route %s]\nexec = /bin/true\nmode = detach\n" % r
                   for r in ROUTES)


def make_store(kickd, d, start_server, kickd_ok, free_port):
    """A store made by kickd, then filled beside it with JOBS ended jobs
    (each with its request): 90 % succeeded, 8 % failed, 2 % canceled,
    created over the last day."""
    db = os.path.join(d, "kick.db")
    port = free_port()
    conf = os.path.join(d, "kickd.conf")
    with open(conf, "w") as f:
        f.write(CONFIG % {"port": port, "db": db, "routes": routes_conf()})
    p = start_server("kickd", [kickd, "-c", conf],
                     os.path.join(d, "kickd-make.log"), port, kickd_ok)
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(timeout=10)
    now = int(time.time() * 1000)
    first = now - 86400 * 1000
    step = 86400 * 1000 // JOBS
    counts = {}

    def rows():
        for i in range(1, JOBS + 1):
            route = ROUTES[i % len(ROUTES)]
            k = i % 50
            state, exit_status, error = (
                (3, 1, "exit status 1") if k < 4 else
                (6, -1, "canceled") if k == 4 else (2, 0, None))
            counts[(route, state)] = counts.get((route, state), 0) + 1
            created = first + i * step
            started = 0 if state == 6 else created + 2
            yield (i, route, state, 0 if state == 6 else 1, exit_status,
                   created, created, started, created + 40, error,
                   0 if state == 6 else 7)

    con = sqlite3.connect(db)
    with con:
        con.executemany(
            "INSERT INTO jobs (id, route, state, attempt, exit_status,"
            " created_at, run_at, started_at, finished_at, error,"
            " output_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
        con.executemany("INSERT INTO requests VALUES (?, ?, 'a=1',"
                        " '127.0.0.1', 40000)",
                        ((i, HEAD) for i in range(1, JOBS + 1)))
        # job_counts learns of inserts from kickd, not from a trigger.
        con.executemany("INSERT INTO job_counts VALUES (?, ?, ?)",
                        ((r, s, n) for (r, s), n in counts.items()))
    con.close()
    return conf, port


def measure(kickd, tmp, start_server, kickd_ok, free_port):
    """Loads the page LOADS times after a first (cold) load; returns
    {"error", "cold", "loads": [PROBE's dicts], "fill_s"}."""
    cell = {"error": None, "cold": None, "loads": [], "fill_s": None}
    why = webdriver.missing()
    if why:
        cell["error"] = why
        return cell
    d = os.path.join(tmp, "dashboard_page")
    os.mkdir(d)
    browser = None
    try:
        t0 = time.monotonic()
        conf, port = make_store(kickd, d, start_server, kickd_ok, free_port)
        cell["fill_s"] = time.monotonic() - t0
        start_server("kickd", [kickd, "-c", conf],
                     os.path.join(d, "kickd.log"), port, kickd_ok)
        browser = webdriver.Browser(width=1280, height=900)
        url = "http://127.0.0.1:%d/" % port
        for i in range(LOADS + 1):
            browser.get("about:blank")
            browser.get(url)
            v = browser.wait("return (function () {%s})()" % PROBE,
                             timeout=10, what="the first list drawn")
            if v["rows"] != 50:
                raise RuntimeError("the page drew %d rows, not 50"
                                   % v["rows"])
            if i == 0:
                cell["cold"] = v
            else:
                cell["loads"].append(v)
    except (OSError, RuntimeError, AssertionError,
            webdriver.WebDriverError) as e:
        cell["error"] = str(e)
    finally:
        if browser:
            browser.quit()
    return cell


def _med(cell, key):
    vals = [v[key] for v in cell["loads"] if v.get(key) is not None]
    return statistics.median(vals) if vals else None


def print_table(cell):
    print()
    print("| dashboard page, %d jobs in the store | median | max | first "
          "(cold) load | target |" % JOBS)
    print("|---|---:|---:|---:|---|")
    if cell["error"] or not cell["loads"]:
        print("| navigation start to the first list drawn | FAIL | | | "
              "< %.0f ms |" % TARGET)
        return
    med = _med(cell, "drawn")
    worst = max(v["drawn"] for v in cell["loads"])
    print("| navigation start to the first list drawn (50 newest jobs) | "
          "%.1f ms | %.1f ms | %.1f ms | < %.0f ms: %s |" % (
              med, worst, cell["cold"]["drawn"], TARGET,
              "PASS" if med < TARGET else "MISS"))
    for key, what in (("html", "the page's HTML received"),
                      ("dcl", "DOMContentLoaded (app.js run)"),
                      ("jobs", "GET /jobs?order=desc&limit=50, request to "
                               "last byte"),
                      ("stats", "GET /stats, request to last byte")):
        m = _med(cell, key)
        c = cell["cold"].get(key)
        print("| %s | %s | | %s | |" % (
            what, "-" if m is None else "%.1f ms" % m,
            "-" if c is None else "%.1f ms" % c))


def print_method():
    print("dashboard_page: a store of BENCH_PAGE_JOBS=%d ended jobs over %d "
          "routes (made by kickd, filled with sqlite3), kickd serving it; "
          "/usr/bin/chromium --headless=new through chromedriver, 1280x900; "
          "a first load on a fresh profile, then BENCH_PAGE_LOADS=%d loads, "
          "each navigating from about:blank; the figure is the page's "
          "performance.mark('kick-list-drawn') (set when the first list is "
          "in the DOM), ms since navigation start" %
          (JOBS, len(ROUTES), LOADS))


def print_details(cell):
    if cell["loads"]:
        print("dashboard_page (first list drawn, ms): %s; store filled in "
              "%.1f s" % (", ".join("%.0f" % v["drawn"]
                                    for v in cell["loads"]),
                          cell["fill_s"] or 0))


def errors_of(cell):
    """A failed run; a missed target is a figure, not a failure."""
    return [("dashboard_page", cell["error"])] if cell["error"] else []
