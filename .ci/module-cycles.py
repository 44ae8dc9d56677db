#!/usr/bin/env python3
"""Fails when modules of one crate import each other in a cycle (a -> b -> ... -> a).

Reads every crate's src/: a file's top-level module is its first path part under src/
(lib.rs and main.rs are the root and are left out); `crate::x` anywhere, and `super::x` in a
top-level file, are edges to module x. Prints each crate's edges with -v.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
REF = re.compile(r"\bcrate::(\w+)")
SUPER = re.compile(r"\bsuper::(\w+)")
GROUP = re.compile(r"\b(?:crate|super)::\{([^}]*)\}")


def crate_dirs():
    yield ROOT / "src"
    yield from sorted(p / "src" for p in (ROOT / "crates").iterdir() if (p / "src").is_dir())


def edges_of(src):
    files = [p for p in src.rglob("*.rs")]
    modules = {p.relative_to(src).parts[0].removesuffix(".rs") for p in files}
    modules -= {"lib", "main"}
    edges = {m: set() for m in modules}
    for path in files:
        parts = path.relative_to(src).parts
        mod = parts[0].removesuffix(".rs")
        if mod not in modules:
            continue
        # Drop comments, so doc links to other modules are not imports.
        text = "\n".join(line.split("//")[0] for line in path.read_text().splitlines())
        names = set(REF.findall(text))
        for group in GROUP.findall(text):
            names |= {n.strip().split("::")[0] for n in group.split(",")}
        top_level = len(parts) == 1 or (len(parts) == 2 and parts[1] == "mod.rs")
        if top_level and len(parts) == 1:
            names |= set(SUPER.findall(text))
        edges[mod] |= {n for n in names if n in modules and n != mod}
    return edges


def cycle(edges):
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


failed = False
for src in crate_dirs():
    edges = edges_of(src)
    name = src.parent.relative_to(ROOT) if src.parent != ROOT else "jcdiag"
    if "-v" in sys.argv:
        for mod in sorted(edges):
            print(f"{name}: {mod} -> {', '.join(sorted(edges[mod])) or '-'}")
    found = cycle(edges)
    if found:
        failed = True
        print(f"module cycle in {name}: {' -> '.join(found)}")
    else:
        print(f"{name}: {len(edges)} modules, no import cycle")
sys.exit(1 if failed else 0)
