#!/usr/bin/env python3
"""Checks the include layering of the source tree (docs/architecture.md).

Two rules, from the #include "<component>/<folder>/..." lines of every .h/.cc file:

1. Components point one way: geo includes neither dispatch-server nor vehicle-agent nor
   dispatchctl; vehicle-agent does not include dispatch-server or dispatchctl; dispatch-server does
   not include vehicle-agent or dispatchctl.
2. Inside dispatch-server (and vehicle-agent, geo, should they grow sub-folders) the graph of
   folders (dispatch-server/<folder>/...) has no cycle. Files directly in the component folder
   (main.cc) are the top and are not part of the graph.

    check_folder_graph.py --root /path/to/citwatch   # exit 0 clean, 1 with every violation named
    check_folder_graph.py --self-test                # the checker on synthetic trees
    check_folder_graph.py --root . --print-graph     # the folder graph, bottom layer first

Output names a cycle as "dispatch-server: folder cycle alerts -> monitor -> alerts" with, for
each edge, one file and line that makes it.
"""

import argparse
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
SOURCE_SUFFIXES = (".h", ".cc", ".hpp", ".cpp", ".inc")
COMPONENTS = ("geo", "vehicle-agent", "dispatch-server")
# component -> components it must never include.
FORBIDDEN = {
    "geo": ("dispatch-server", "vehicle-agent", "dispatchctl"),
    "vehicle-agent": ("dispatch-server", "dispatchctl"),
    "dispatch-server": ("vehicle-agent", "dispatchctl"),
}


def source_files(root, component):
    base = os.path.join(root, component)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(SOURCE_SUFFIXES):
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, root).replace(os.sep, "/")


def includes(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield lineno, m.group(1)


def folder_graph(root, component):
    """{folder: {folder it includes: "file:line" of the first such include}}."""
    graph = {}
    for rel in source_files(root, component):
        parts = rel.split("/")
        if len(parts) < 3:  # component/main.cc: the top, not a folder of the graph
            continue
        src = parts[1]
        graph.setdefault(src, {})
        for lineno, inc in includes(root, rel):
            ip = inc.split("/")
            if len(ip) >= 3 and ip[0] == component and ip[1] != src:
                graph[src].setdefault(ip[1], f"{rel}:{lineno}")
                graph.setdefault(ip[1], {})
    return graph


def find_cycles(graph):
    """One cycle per strongly connected component with more than one folder (Tarjan): (a list of
    folders whose last element equals its first, every folder of the component)."""
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def strongconnect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                strongconnect(w)
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
                sccs.append(set(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strongconnect(v)

    cycles = []
    for scc in sccs:
        # Shortest cycle through the alphabetically first folder of the component (BFS).
        start = min(scc)
        prev = {start: None}
        queue = [start]
        found = None
        while queue and found is None:
            v = queue.pop(0)
            for w in sorted(graph[v]):
                if w not in scc:
                    continue
                if w == start:
                    found = v
                    break
                if w not in prev:
                    prev[w] = v
                    queue.append(w)
        path = [start]
        v = found
        while v is not None and v != start:
            path.append(v)
            v = prev[v]
        path = [start] + list(reversed(path[1:])) + [start]
        cycles.append((path, sorted(scc)))
    return cycles


def layers(graph):
    """Folders bottom-up: each layer includes only folders of the layers before it."""
    remaining = {k: set(v) for k, v in graph.items()}
    out = []
    while remaining:
        ready = sorted(k for k, deps in remaining.items() if not deps & remaining.keys())
        if not ready:
            break
        out.append(ready)
        for k in ready:
            del remaining[k]
    return out


def check(root, print_graph=False, out=sys.stdout):
    problems = []
    for component in COMPONENTS:
        if not os.path.isdir(os.path.join(root, component)):
            continue
        for rel in source_files(root, component):
            for lineno, inc in includes(root, rel):
                top = inc.split("/")[0]
                if top in FORBIDDEN.get(component, ()):
                    problems.append(f"{rel}:{lineno}: {component} must not include {top}: "
                                    f'"{inc}"')
        graph = folder_graph(root, component)
        for cycle, members in find_cycles(graph):
            edges = [f"  {a} -> {b}: {graph[a][b]}" for a, b in zip(cycle, cycle[1:])]
            problems.append(f"{component}: folder cycle " + " -> ".join(cycle) + "\n" +
                            "\n".join(edges) + "\n  (folders on a cycle with each other: " +
                            ", ".join(members) + ")")
        if print_graph and graph:
            print(f"{component} (bottom layer first):", file=out)
            for i, layer in enumerate(layers(graph)):
                print(f"  {i}: " + "  ".join(
                    f"{f}->{{{','.join(sorted(graph[f]))}}}" if graph[f] else f
                    for f in layer), file=out)
    for p in problems:
        print(p, file=out)
    if not problems:
        print("layering ok: no folder cycle, no forbidden include", file=out)
    return 0 if not problems else 1


def self_test():
    """The checker on synthetic trees: a cycle and a forbidden include are found and named, a
    layered tree passes."""
    import io

    def tree(files):
        d = tempfile.TemporaryDirectory()
        for rel, text in files.items():
            path = os.path.join(d.name, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return d

    failures = []

    def expect(name, files, want_rc, want_text=()):
        with tree(files) as root:
            buf = io.StringIO()
            rc = check(root, out=buf)
            text = buf.getvalue()
        if rc != want_rc or any(t not in text for t in want_text):
            failures.append(f"{name}: rc={rc} (want {want_rc}), output:\n{text}")

    layered = {
        "dispatch-server/common/clock.h": "#include <chrono>\n",
        "dispatch-server/alerts/alert.h": '#include "dispatch-server/common/clock.h"\n',
        "dispatch-server/monitor/monitor.h": '#include "dispatch-server/alerts/alert.h"\n'
                                             '#include "dispatch-server/common/clock.h"\n',
        "dispatch-server/main.cc": '#include "dispatch-server/monitor/monitor.h"\n',
        "geo/corridor.h": "#include <vector>\n",
    }
    expect("layered tree passes", layered, 0, ["layering ok"])

    two_cycle = dict(layered)
    two_cycle["dispatch-server/alerts/alert.h"] = '#include "dispatch-server/monitor/clock.h"\n'
    expect("alerts <-> monitor is a cycle", two_cycle, 1,
           ["dispatch-server: folder cycle alerts -> monitor -> alerts",
            "alerts -> monitor: dispatch-server/alerts/alert.h:1"])

    three_cycle = dict(layered)
    three_cycle["dispatch-server/common/clock.h"] = '  # include "dispatch-server/monitor/m.h"\n'
    expect("common -> monitor -> alerts -> common is a cycle", three_cycle, 1,
           ["folder cycle alerts -> common -> monitor -> alerts"])

    main_is_top = dict(layered)
    main_is_top["dispatch-server/monitor/x.cc"] = "#include \"dispatch-server/main.h\"\n"
    expect("files directly in the component are not a folder", main_is_top, 0)

    upward = dict(layered)
    upward["geo/route.cc"] = '#include "dispatch-server/common/clock.h"\n'
    expect("geo must not include dispatch-server", upward, 1,
           ["geo/route.cc:1: geo must not include dispatch-server"])

    agent_cycle = dict(layered)
    agent_cycle["vehicle-agent/uplink/u.h"] = '#include "vehicle-agent/journal/j.h"\n'
    agent_cycle["vehicle-agent/journal/j.h"] = '#include "vehicle-agent/uplink/u.h"\n'
    expect("vehicle-agent folders are checked too", agent_cycle, 1,
           ["vehicle-agent: folder cycle journal -> uplink -> journal"])

    for f in failures:
        print("SELF-TEST FAILED: " + f)
    if not failures:
        print("self-test ok: cycles and forbidden includes are detected and named")
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", help="source tree to check")
    p.add_argument("--self-test", action="store_true", help="run the checker on synthetic trees")
    p.add_argument("--print-graph", action="store_true", help="print the folder layers")
    args = p.parse_args()
    if args.self_test:
        return self_test()
    if not args.root:
        p.error("--root or --self-test")
    return check(args.root, print_graph=args.print_graph)


if __name__ == "__main__":
    sys.exit(main())
