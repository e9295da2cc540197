# SPDX-License-Identifier: MIT
# The chaos part of `make bench`: a short run of tests/chaos/chaos.py
# (rounds of load from 8 clients with kickd killed by SIGKILL at a random
# moment and restarted), whose summary is shown beside the figures: 202s
# answered, lost, overlaps, jobs run again after an interruption, and the
# time from kickd's restart to the jobs it recovered running again.

import json
import os
import subprocess
import sys

CHAOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                     "tests", "chaos", "chaos.py")
ROUNDS = int(os.environ.get("BENCH_CHAOS_ROUNDS", "5"))
RESERVE = 40.0  # s it needs of what the bench's limit leaves


def measure(kickd, errors):
    """Runs the chaos rounds against the kickd binary; their summary (a
    dict), or None with the reason in errors."""
    env = dict(os.environ, KICKD=kickd)
    try:
        p = subprocess.run([sys.executable, CHAOS, "--rounds", str(ROUNDS),
                            "--signal", "KILL", "--json"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=RESERVE * 3)
    except subprocess.TimeoutExpired:
        errors.append(("chaos", "did not end within %.0f s" % (RESERVE * 3)))
        return None
    out = p.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        summary = json.loads(out[-1])
    except (IndexError, ValueError):
        errors.append(("chaos", "no summary: %s" % " / ".join(out[-5:])))
        return None
    if p.returncode != 0:
        errors.append(("chaos", "; ".join(summary["problems"])[:300]))
    return summary


def print_table(s):
    print()
    print("| kill and restart (tests/chaos, SIGKILL) | figure | target |")
    print("|---|---:|---|")
    if s is None:
        print("| chaos rounds | FAIL | |")
        return
    print("| rounds, 202s answered | %d, %d | |" % (s["rounds"],
                                                  s["accepted"]))
    print("| 202s lost | %s | 0 |" % s["lost"])
    print("| two runs of one job at once | %s | 0 |" % s["overlaps"])
    print("| jobs run again after an interruption (interruptions) | %s (%s) "
          "| no retry used |" % (s["rerun_after_interruption"],
                                 s["interruptions"]))
    rec = s["recovery_ms_median"]
    print("| restart to recovered jobs running, median (max) | %s | |" % (
        "%.1f ms (%.1f ms)" % (rec, s["recovery_ms_max"]) if rec is not None
        else "n/a"))


def print_method(s):
    print("kill and restart: BENCH_CHAOS_ROUNDS=%d rounds of "
          "tests/chaos/chaos.py (8 clients, ~40 triggers/s on 3 detached "
          "routes, SIGKILL at a random moment of each round, restart at "
          "once; restart to running: from the new kickd's exec until every "
          "job that was running at the kill has started again)%s"
          % (ROUNDS, "" if s is None else ", seed %d" % s["seed"]))
