#!/usr/bin/env python3
"""Fails when modules inside a crate import each other in a cycle, or a Rust file under
services/ is longer than 600 lines.

A module's imports are the `crate::…`, `super::…` and child-module paths its file names
(in `use` lines or in expressions), resolved to the longest module path they start with; a
parent declaring `mod child;` is not an import, and neither is a path through the crate root
(which only declares modules and re-exports). Run from the repository root.
"""
import os
import re
import sys

MAX_LINES = 600


def module_of(src_root, path):
    rel = os.path.relpath(path, src_root)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def code_lines(text):
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)


def crate_graph(src_root):
    files = {}
    for dirpath, _, names in os.walk(src_root):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(dirpath, name)
                files[module_of(src_root, path)] = path
    modules = set(files)
    graph = {m: set() for m in modules}

    def resolve(parts):
        for n in range(len(parts), -1, -1):
            if tuple(parts[:n]) in modules:
                return tuple(parts[:n])
        return None

    for module, path in files.items():
        text = open(path, encoding="utf-8").read()
        children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M))
        parent = module[:-1] if module else ()
        for line in code_lines(text):
            if re.match(r"\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*;", line):
                continue
            for m in re.finditer(r"\b(crate|super|self)((?:::\w+)+)", line):
                head, rest = m.group(1), m.group(2).split("::")[1:]
                if head == "crate":
                    base = []
                elif head == "super":
                    base = list(parent)
                    while rest and rest[0] == "super":
                        base, rest = base[:-1], rest[1:]
                else:
                    base = list(module)
                target = resolve(base + rest)
                # The crate root only declares modules and re-exports their items (`crate::ApiError`
                # is `error`'s), so a path through it is not an import of the root.
                if target == ():
                    continue
                if target is not None and target != module and target[: len(module)] != module:
                    graph[module].add(target)
            # A child module named without a prefix (`store::load`, `use store::{…}`).
            for child in children:
                if re.search(rf"(?<![:\w]){child}::", line):
                    graph[module].add(module + (child,))
    return graph


def cycles(graph):
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(scc)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    failed = False
    roots = []
    for top in ("services", "shared"):
        for name in sorted(os.listdir(top)):
            src = os.path.join(top, name, "src")
            if os.path.isdir(src):
                roots.append(src)
    for src in roots:
        for scc in cycles(crate_graph(src)):
            failed = True
            names = ", ".join("::".join(("crate",) + m) for m in sorted(scc))
            print(f"{src}: modules import each other: {names}")
    for dirpath, _, names in os.walk("services"):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(dirpath, name)
                n = sum(1 for _ in open(path, encoding="utf-8"))
                if n > MAX_LINES:
                    failed = True
                    print(f"{path}: {n} lines (at most {MAX_LINES})")
    if failed:
        sys.exit(1)
    print(f"modules: no import cycles in {len(roots)} crates; no file in services/ over {MAX_LINES} lines")


if __name__ == "__main__":
    main()
