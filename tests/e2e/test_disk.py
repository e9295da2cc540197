# SPDX-License-Identifier: MIT
# A full disk (issue 9): the store lives on a small tmpfs that the test
# mounts (tests run as root). While it is full, triggers get 503, never a
# 202 that is then lost; jobs that end meanwhile are recorded once space
# returns, in order; nothing is left running; service resumes.

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import expect, expect_eq, run, Kickd, SLOW  # noqa: E402
from test_jobs import (config, env_of, get_job, read_lines,  # noqa: E402
                       release, trigger, wait_job, FINAL, PATH_ENV)


class SmallDisk:
    """A tmpfs of size bytes mounted at path for the length of a with."""

    def __init__(self, path, size):
        self.path = path
        self.size = size

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%d,mode=0755" % self.size, "tmpfs", self.path],
                       check=True)
        return self

    def __exit__(self, *a):
        subprocess.run(["umount", "-l", self.path], check=False)

    def fill(self):
        """Writes a filler file until the disk is full; returns its path."""
        path = os.path.join(self.path, "filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            # Big writes, then small ones for what is left of the last
            # blocks.
            for size in (65536, 4096, 512):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        return path


def post(k, target):
    """One trigger on its own connection: (status, job id or None)."""
    with k.connect(timeout=10.0) as c:
        c.send(("POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                "Connection: close\r\n\r\nx=1" % target).encode())
        r = c.response(timeout=10.0)
    if r.status == 202:
        import json
        return r.status, json.loads(r.body)["id"]
    return r.status, None


def test_full_disk():
    routes = [("/d", "job_work", "")]
    k = Kickd(config=config(routes), env=PATH_ENV)
    disk = SmallDisk(os.path.join(k.tmp, "disk"), 8 << 20)
    with disk:
        k.db = os.path.join(disk.path, "kick.db")
        with k:
            held = [trigger(k, "/d?hold=1") for _ in range(3)]
            for jid in held:
                env_of(k, jid)
            filler = disk.fill()
            # Triggers go on until the store says it is full: each one is
            # answered 202 (stored) or 503 (not), never anything else.
            accepted, refused = [], 0
            deadline = time.monotonic() + 30.0 * SLOW
            while refused < 5:
                expect(time.monotonic() < deadline, "no 503 within 30 s on "
                       "a full disk (%d accepted)", len(accepted))
                status, jid = post(k, "/d")
                expect(status in (202, 503), "trigger on a full disk: %d",
                       status)
                if jid is not None:
                    accepted.append(jid)
                else:
                    refused += 1
            # Jobs that end now cannot be recorded: they are kept.
            for jid in held:
                release(k, jid)
            deadline = time.monotonic() + 10.0 * SLOW
            while "recording its end failed" not in k.stderr_text():
                expect(time.monotonic() < deadline, "no job end failed to "
                       "be recorded on a full disk; log: %s",
                       k.stderr_tail())
                time.sleep(0.05)
            for jid in held:
                j = get_job(k, jid)
                expect(j["state"] in ("running", "succeeded"),
                       "job %d while its end waits: %r", jid, j)
            # Space returns: the kept ends are recorded, every accepted
            # job runs, and new triggers are served.
            os.unlink(filler)
            for jid in held + accepted:
                j = wait_job(k, jid, FINAL, 20.0)
                expect_eq(j["state"], "succeeded", "job %d after the disk "
                          "had room again" % jid)
            runs = {int(ln.split()[0])
                    for ln in read_lines(os.path.join(k.tmp, "runs"))}
            expect_eq(sorted(set(held + accepted) - runs), [],
                      "jobs answered 202 that never ran")
            status, jid = post(k, "/d")
            expect_eq(status, 202, "a trigger once the disk has room")
            expect_eq(wait_job(k, jid, FINAL, 10.0)["state"], "succeeded",
                      "the job triggered after the disk had room")
            r = k.get("/jobs?state=running")
            expect(b'"jobs":[]' in r.body.replace(b" ", b""),
                   "jobs left running: %r", r.body[:300])
            print("full_disk: %d accepted and %d refused while full"
                  % (len(accepted), refused))


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
