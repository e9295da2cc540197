# SPDX-License-Identifier: MIT
"""The house's layout rules (README.md, "Layout"), checked on the built
objects and the sources:

- no call-back cycle between kickd's modules: the functions and data an
  object uses (nm) say which module it calls; a module split in files
  (http/conn*.c, store/sqlite/, store/pg/) counts as one;
- no function longer than LIMIT lines, but for the hand-written parsers
  and flat option tables named in LONG_OK.

Run by tests/run.py (section "layout"); standalone:
python3 tests/layout.py build."""

import collections
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 90  # "about 80": a few lines of slack for a closing error path

# Parsers of outside input and flat tables of options, long by nature.
LONG_OK = {
    "http_parse_request", "http_chunked_parse", "cgi_response_parse",
    "cfg_split_words", "parse_authority", "cfg_set", "args_parse", "parse",
}


def module_of(obj):
    """The module an object belongs to: its file, or its family."""
    name = os.path.splitext(os.path.basename(obj))[0]
    if name.startswith("conn"):
        return "http/conn*"
    if name.startswith("store_sqlite"):
        return "store/sqlite"
    if name.startswith("store_pg"):
        return "store/pg"
    return name


def symbols(obj):
    """(defined, used) global symbols of an object."""
    out = subprocess.run(["nm", obj], capture_output=True, text=True,
                         check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBR":
            defined.add(parts[2])
    return defined, used


def cycles(build):
    """Groups of kickd modules that call each other, directly or round
    about (strongly connected components of more than one module)."""
    objs = glob.glob(os.path.join(build, "src/kickd/**/*.o"), recursive=True)
    if not objs:
        return None
    owner, uses = {}, {}
    for o in objs:
        d, u = symbols(o)
        for s in d:
            owner[s] = module_of(o)
        uses.setdefault(module_of(o), set()).update(u)
    edges = collections.defaultdict(set)
    for m, used in uses.items():
        for s in used:
            t = owner.get(s)
            if t and t != m:
                edges[m].add(t)
    # Tarjan's algorithm, iterative enough for a few dozen modules.
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(uses):
        if v not in index:
            visit(v)
    return found


def long_functions():
    """(lines, file:line, name) of functions over LIMIT lines: a body is
    from the line with the name to the closing brace in column 0."""
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, "src/**/*.c"),
                                 recursive=True)):
        with open(path) as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            if lines[i] == "{" and i > 0:
                j = i - 1
                while j > 0 and "(" not in lines[j]:
                    j -= 1
                head = lines[j].split("(")[0].split()
                name = head[-1].lstrip("*") if head else "?"
                k = i + 1
                while k < len(lines) and lines[k] != "}":
                    k += 1
                n = k - j + 1
                if n > LIMIT and name not in LONG_OK:
                    found.append((n, "%s:%d" % (os.path.relpath(path, ROOT),
                                                j + 1), name))
                i = k
            i += 1
    return found


def check(build):
    """A list of problems, empty when the layout keeps its rules."""
    problems = []
    groups = cycles(build)
    if groups is None:
        problems.append("no objects under %s/src/kickd" % build)
    for g in groups or ():
        problems.append("modules call each other: " + " <-> ".join(g))
    for n, where, name in long_functions():
        problems.append("%s: %s is %d lines (at most %d)" %
                        (where, name, n, LIMIT))
    return problems


if __name__ == "__main__":
    found = check(sys.argv[1] if len(sys.argv) > 1 else "build")
    for p in found:
        print(p)
    sys.exit(1 if found else 0)
