# SPDX-License-Identifier: MIT
# The quick part of tests/chaos (issue 9): three rounds of load with
# kickd killed by SIGKILL at a random moment and restarted, and three with
# SIGTERM. `make chaos` runs thirty of each.

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import expect, run  # noqa: E402

CHAOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                     "chaos", "chaos.py")


def chaos(sig):
    p = subprocess.run([sys.executable, CHAOS, "--rounds", "3", "--signal",
                        sig], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=240)
    out = p.stdout.decode("utf-8", "replace")
    expect(p.returncode == 0 and "lost 0, overlaps 0" in out,
           "chaos with SIG%s failed (exit %d):\n%s", sig, p.returncode, out)
    print(out.strip().splitlines()[0])


def test_chaos_kill():
    chaos("KILL")


def test_chaos_term():
    chaos("TERM")


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
