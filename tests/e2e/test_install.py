# SPDX-License-Identifier: MIT
# make install (issue 10): into a prefix, the binaries, libkick (static,
# shared with its soname), its header, pkg-config file and man pages; a
# program built against the installed libkick through pkg-config runs; a
# staged install (DESTDIR) writes the prefix, not the stage, into
# libkick.pc and kickd.service; the systemd unit and the example
# kickd.conf. (`make check` builds `all` first, so `make` itself is
# proven there.)

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import expect, expect_eq, run  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROGRAM = r"""
#include <kick.h>
#include <stdio.h>

int
main(void)
{
    int err = 0;
    struct kick_client *c = kick_client_new(NULL, &err);

    if (c == NULL)
        return 1;
    printf("%s\n", kick_strerror(KICK_ECONNECT));
    kick_client_free(c);
    return 0;
}
"""


def make_install(prefix, destdir=""):
    env = dict(os.environ)
    # A make of its own, not a part of the one that runs the tests.
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    p = subprocess.run(["make", "-C", ROOT, "install", "PREFIX=" + prefix,
                        "DESTDIR=" + destdir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=240)
    out = p.stdout.decode("utf-8", "replace")
    expect(p.returncode == 0, "make install failed (%d): %s", p.returncode,
           out[-1500:])


def installed(root, prefix):
    base = root + prefix
    for rel in ("bin/kickd", "bin/kick", "lib/libkick.a", "lib/libkick.so.0",
                "lib/libkick.so", "lib/pkgconfig/libkick.pc",
                "include/kick.h", "share/man/man8/kickd.8",
                "share/man/man1/kick.1", "share/man/man3/libkick.3",
                "lib/systemd/system/kickd.service",
                "share/doc/kick/kickd.conf"):
        expect(os.path.exists(os.path.join(base, rel)), "not installed: %s",
               rel)


def test_install_and_build_against_it():
    tmp = tempfile.mkdtemp(prefix="kick-install-")
    try:
        prefix = os.path.join(tmp, "prefix")
        make_install(prefix)
        installed("", prefix)
        src = os.path.join(tmp, "prog.c")
        with open(src, "w") as f:
            f.write(PROGRAM)
        env = dict(os.environ,
                   PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                                "libkick"], env=env, check=True,
                               stdout=subprocess.PIPE).stdout.decode().split()
        expect("-L%s/lib" % prefix in flags, "pkg-config flags %r", flags)
        prog = os.path.join(tmp, "prog")
        subprocess.run(["cc", "-o", prog, src] + flags, check=True, env=env)
        p = subprocess.run([prog], stdout=subprocess.PIPE, env=dict(
            os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib")))
        expect_eq(p.returncode, 0, "the program's exit status")
        expect(p.stdout.strip() != b"", "kick_strerror printed nothing")
        # It runs with the installed shared library, by its soname.
        ldd = subprocess.run(["ldd", prog], stdout=subprocess.PIPE, env=dict(
            os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib")))
        expect(b"libkick.so.0 => " + prefix.encode() in ldd.stdout,
               "the program does not use the installed libkick: %r",
               ldd.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def unit_keys(text):
    """{(section, key): [values]} of a systemd unit."""
    keys, section = {}, None
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln or ln.startswith(("#", ";")):
            continue
        if ln.startswith("["):
            section = ln.strip("[]")
            continue
        k, _, v = ln.partition("=")
        keys.setdefault((section, k.strip()), []).append(v.strip())
    return keys


def test_service_unit_and_example_conf():
    """make install puts kickd.service (its prefix filled in) and the
    example kickd.conf in place; the unit has the hardening and the
    stop timing it claims and passes systemd-analyze verify; the example
    passes kickd -t as it is and with its route uncommented."""
    tmp = tempfile.mkdtemp(prefix="kick-unit-")
    try:
        prefix = os.path.join(tmp, "prefix")
        make_install(prefix)
        unit = os.path.join(prefix, "lib/systemd/system/kickd.service")
        with open(unit) as f:
            text = f.read()
        expect("@PREFIX@" not in text, "the prefix is not filled in")
        keys = unit_keys(text)
        svc = {k: v[-1] for (sect, k), v in keys.items() if sect == "Service"}
        kickd = os.path.join(prefix, "bin/kickd")
        for k, want in [
                ("ExecStart", kickd + " -c /etc/kick/kickd.conf"),
                ("ExecReload", "/bin/kill -HUP $MAINPID"),
                ("StateDirectory", "kick"), ("WorkingDirectory",
                                             "/var/lib/kick"),
                ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                ("KillMode", "mixed"), ("Restart", "on-failure"),
                ("DynamicUser", "yes")]:
            expect_eq(svc.get(k), want, "kickd.service " + k)
        # Longer than kickd's own stop: stop_grace + kill_grace (README).
        expect(int(svc["TimeoutStopSec"]) > 10 + 5, "TimeoutStopSec %s",
               svc["TimeoutStopSec"])
        expect_eq(keys.get(("Install", "WantedBy")), ["multi-user.target"],
                  "WantedBy")
        # systemd's own check (Debian's systemd package; without it the
        # keys above are all that is checked).
        if shutil.which("systemd-analyze"):
            p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                unit], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            out = p.stdout.decode("utf-8", "replace").strip()
            expect(p.returncode == 0 and out == "",
                   "systemd-analyze verify: %d %s", p.returncode, out)
        conf = os.path.join(prefix, "share/doc/kick/kickd.conf")
        with open(os.path.join(ROOT, "dist", "kickd.conf")) as f:
            example = f.read()
        with open(conf) as f:
            expect_eq(f.read(), example, "installed kickd.conf")
        route = os.path.join(tmp, "route.conf")
        with open(route, "w") as f:
            f.write(re.sub(r"(?m)^;(\[|[a-z_]+ = )", r"\1", example))
        for path, routes in ((conf, 0), (route, 1)):
            p = subprocess.run([kickd, "-t", "-c", path],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            out = p.stdout.decode("utf-8", "replace")
            expect(p.returncode == 0 and "configuration ok, %d routes"
                   % routes in out, "kickd -t -c %s: %d %s", path,
                   p.returncode, out)
        expect("db /var/lib/kick/kick.db" in out, "the example's db: %s",
               out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_staged_install():
    tmp = tempfile.mkdtemp(prefix="kick-stage-")
    try:
        make_install("/opt/kick", tmp)
        installed(tmp, "/opt/kick")
        with open(os.path.join(tmp, "opt/kick/lib/pkgconfig/libkick.pc")) as f:
            pc = f.read()
        expect("prefix=/opt/kick\n" in pc, "libkick.pc: %r", pc[:200])
        with open(os.path.join(
                tmp, "opt/kick/lib/systemd/system/kickd.service")) as f:
            unit = unit_keys(f.read())
        expect_eq(unit[("Service", "ExecStart")],
                  ["/opt/kick/bin/kickd -c /etc/kick/kickd.conf"],
                  "ExecStart of a staged install")
        expect_eq(os.readlink(os.path.join(tmp, "opt/kick/lib/libkick.so")),
                  "libkick.so.0", "the libkick.so link")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
