#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# kick's test runner: unit binaries, end-to-end modules (plain and under
# ASan+UBSan) and fuzz corpus replay, each with a timeout. Prints
# "PASS name (0.2s)" / "FAIL name: log" per test and ends with exactly
# "N passed, N failed"; exits 1 if anything failed or nothing ran.

import argparse
import concurrent.futures
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNIT_TIMEOUT = 120
E2E_TIMEOUT = 300
FUZZ_TIMEOUT = 300
E2E_PARALLEL = 2
LINE = re.compile(r"^(PASS|FAIL|SKIP) (\S+)(.*)$")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name, secs, note=""):
        self.passed += 1
        print("PASS %s (%.1fs)%s" % (name, secs, note), flush=True)

    def fail(self, name, log):
        self.failed += 1
        print("FAIL %s: %s" % (name, log.rstrip()), flush=True)

    def relay(self, line):
        """Relays an already formatted line of a child, counting it."""
        if line.startswith("PASS "):
            self.passed += 1
        elif line.startswith("FAIL "):
            self.failed += 1
        print(line, flush=True)


def tail(text, n=20):
    lines = text.rstrip().splitlines()
    if not lines:
        return "(no output)"
    return "\n    ".join([""] + lines[-n:])


def run_proc(cmd, timeout, env=None, cwd=ROOT):
    """Runs cmd in its own process group; returns (rc or None on timeout,
    output, seconds). On timeout the whole group is killed."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=env, cwd=cwd, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        rc = None
    # Anything the child left in its group (a kickd, a script) goes too.
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return rc, out.decode("utf-8", "replace"), time.monotonic() - t0


def executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def section_unit(build, t):
    srcs = sorted(glob.glob(os.path.join(ROOT, "tests/unit/test_*.c")))
    bins = sorted(b for b in glob.glob(os.path.join(build,
                                                    "tests/unit/test_*"))
                  if executable(b) and not os.path.splitext(b)[1])
    names = {os.path.basename(b) for b in bins}
    for s in srcs:
        n = os.path.splitext(os.path.basename(s))[0]
        if n not in names:
            t.fail("unit/" + n, "%s is not built" % os.path.join(
                build, "tests/unit", n))
    for b in bins:
        name = "unit/" + os.path.basename(b)
        rc, out, secs = run_proc([b], UNIT_TIMEOUT)
        if rc is None:
            t.fail(name, "timed out after %d s%s" % (UNIT_TIMEOUT, tail(out)))
        elif rc != 0:
            t.fail(name, "exit status %d%s" % (rc, tail(out)))
        else:
            t.ok(name, secs)


PG_CLUSTER = os.path.join(ROOT, "tests/unit/pg_cluster.sh")


def section_unit_pg(build, t):
    """The store suite on PostgreSQL: a throwaway cluster (data and socket
    in a temp dir, no TCP) started for it and stopped after. Never
    skipped: without PostgreSQL it fails."""
    name = "unit/test_store_pg"
    b = os.path.join(build, "tests/unit/test_store")
    if not executable(b):
        t.fail(name, "%s is not built" % b)
        return
    d = tempfile.mkdtemp(prefix="kick-pg.")
    os.rmdir(d)  # pg_cluster.sh makes it, owned by the cluster's user
    # The socket lives in d alone, so the port only names its file.
    port = str(56000 + os.getpid() % 4000)
    t0 = time.monotonic()
    try:
        rc, out, _ = run_proc(["sh", PG_CLUSTER, "start", d, port], 120)
        uri = out.strip().splitlines()[-1] if out.strip() else ""
        if rc != 0 or not uri.startswith("postgresql://"):
            t.fail(name, "cannot start PostgreSQL (%s): %s" % (
                "timed out" if rc is None else "exit status %d" % rc,
                tail(out + _pg_log(d))))
            return
        env = dict(os.environ)
        env["KICK_TEST_DB"] = uri
        rc, out, _ = run_proc([b], UNIT_TIMEOUT, env=env)
        secs = time.monotonic() - t0
        if rc is None:
            t.fail(name, "timed out after %d s%s" % (UNIT_TIMEOUT, tail(out)))
        elif rc != 0:
            t.fail(name, "exit status %d%s" % (rc, tail(out, 40)))
        else:
            t.ok(name, secs)
    finally:
        run_proc(["sh", PG_CLUSTER, "stop", d], 60)


def _pg_log(d):
    for f in ("initdb.log", "pg.log"):
        try:
            with open(os.path.join(d, f)) as fh:
                return "\n" + fh.read()
        except OSError:
            pass
    return ""


def e2e_modules():
    return sorted(glob.glob(os.path.join(ROOT, "tests/e2e/test_*.py")))


def run_module(path, kickd, san):
    env = dict(os.environ)
    env["KICKD"] = os.path.abspath(kickd)
    env.pop("KICK_SAN", None)
    if san:
        env["KICK_SAN"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return run_proc([sys.executable, path], E2E_TIMEOUT, env=env)


def section_e2e(kickd, t, prefix):
    mods = e2e_modules()
    if not mods:
        t.fail(prefix + "e2e", "no tests/e2e/test_*.py found")
        return
    san = prefix == "san:"
    with concurrent.futures.ThreadPoolExecutor(E2E_PARALLEL) as ex:
        futs = [(m, ex.submit(run_module, m, kickd, san)) for m in mods]
        for path, fut in futs:
            mod = os.path.splitext(os.path.basename(path))[0]
            rc, out, secs = fut.result()
            report_module(t, prefix + mod, rc, out, secs)


def report_module(t, mod, rc, out, secs):
    """Relays a module's PASS/FAIL/SKIP lines (and the indented detail
    lines after them) with the module's name in front of each test name."""
    seen = 0
    failed_here = 0
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            seen += 1
            if m.group(1) == "FAIL":
                failed_here += 1
            t.relay("%s %s.%s%s" % (m.group(1), mod, m.group(2),
                                    m.group(3)))
        elif line.startswith("    "):
            print(line, flush=True)
    if rc is None:
        t.fail(mod, "timed out after %d s%s" % (E2E_TIMEOUT, tail(out)))
    elif seen == 0:
        t.fail(mod, "printed no test results (exit status %s)%s"
               % (rc, tail(out)))
    elif rc != 0 and failed_here == 0:
        t.fail(mod, "exit status %d%s" % (rc, tail(out)))


def section_fuzz(build, t):
    # Every fuzz/X/ with a target source or a corpus is a target.
    targets = sorted({os.path.basename(os.path.dirname(p)) for p in
                      glob.glob(os.path.join(ROOT, "fuzz/*/fuzz_*.c")) +
                      glob.glob(os.path.join(ROOT, "fuzz/*/corpus"))})
    bins = sorted(b for b in glob.glob(os.path.join(build, "fuzz/fuzz_*"))
                  if executable(b))
    built = {os.path.basename(b)[len("fuzz_"):] for b in bins}
    for x in targets:
        if x not in built:
            t.fail("fuzz/" + x, "%s is not built" % os.path.join(
                build, "fuzz", "fuzz_" + x))
    for b in bins:
        x = os.path.basename(b)[len("fuzz_"):]
        name = "fuzz/" + x
        corpus = os.path.join(ROOT, "fuzz", x, "corpus")
        files = [f for f in glob.glob(os.path.join(corpus, "*"))
                 if os.path.isfile(f)]
        if not files:
            t.fail(name, "corpus %s is empty or missing" % corpus)
            continue
        # -runs=0 with a directory makes libFuzzer execute every input of
        # the corpus once and stop without mutating anything.
        # Crash inputs go to a temp dir, not into the source tree.
        art = tempfile.mkdtemp(prefix="kick-fuzz-%s-" % x)
        rc, out, secs = run_proc([b, "-runs=0", "-artifact_prefix=%s/" % art,
                                  corpus], FUZZ_TIMEOUT)
        if not os.listdir(art):
            os.rmdir(art)
        if rc is None:
            t.fail(name, "timed out after %d s%s" % (FUZZ_TIMEOUT, tail(out)))
        elif rc != 0:
            t.fail(name, "exit status %d%s" % (rc, tail(out)))
        else:
            t.ok(name, secs, " [%d inputs]" % len(files))


def section_layout(build, t):
    # The house's layout rules (tests/layout.py): no call-back cycle
    # between kickd's modules, no function over its length.
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import layout
    start = time.monotonic()
    problems = layout.check(build)
    if problems:
        t.fail("layout", "\n    ".join([""] + problems))
    else:
        t.ok("layout", time.monotonic() - start, "")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build dir (build)")
    ap.add_argument("--san", help="sanitizer build dir (build/san)")
    ap.add_argument("--only", choices=("unit", "unit-pg", "e2e", "san",
                                       "fuzz", "layout"))
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    if a.only:
        sections = [a.only]
    elif a.san:
        sections = ["layout", "unit", "e2e", "san", "fuzz"]
    else:
        sections = ["layout", "unit", "e2e", "fuzz"]
    if "san" in sections and not a.san:
        ap.error("--only san needs --san DIR")
    t = Tally()
    for sec in sections:
        if sec == "unit":
            section_unit(build, t)
            section_unit_pg(build, t)
        elif sec == "unit-pg":
            section_unit_pg(build, t)
        elif sec == "e2e":
            section_e2e(os.path.join(build, "kickd"), t, "")
        elif sec == "san":
            section_e2e(os.path.join(os.path.abspath(a.san), "kickd"), t,
                        "san:")
        elif sec == "fuzz":
            section_fuzz(build, t)
        elif sec == "layout":
            section_layout(build, t)
    print("%d passed, %d failed" % (t.passed, t.failed), flush=True)
    return 1 if t.failed or t.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
