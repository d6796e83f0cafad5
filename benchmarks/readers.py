"""How each reader's time grows with the graph: every reader on a chain, a branching ladder and a wide sum.

Each graph is built at a small and a large size (a tenth apart); a reader is linear when its time per node
stays the same. Readers run inside ``no_gc()``, as the README advises for graphs this large, so that the
cyclic collector's rescans of the growing heap do not hide the readers' own growth.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from autograd import Backprop, Graph, Value, check, compile_graph, explain, grad, no_gc, sum_values, to_dot


def chain(n: int) -> tuple[Value, Value]:
    """``n`` unary ops (sin and tanh in turn) on one leaf: one path, a million factors at 1M."""
    x = Value(0.5, label="x")
    y = x
    for k in range(n):
        y = y.tanh() if k % 2 else y.sin()
    return y, x


def ladder(n: int) -> tuple[Value, Value]:
    """About ``n`` nodes, each feeding two later ones: a Fibonacci number of paths (the grouped form)."""
    a = Value(0.5, label="a")
    x, y = a, Value(0.25, label="b")
    for _ in range(n // 3):
        x, y = y, (x + y) * 0.5
    return y, a


def wide(n: int) -> tuple[Value, Value]:
    """One sum of ``n`` labeled inputs."""
    xs = [Value(float(i % 7), label=f"x{i}") for i in range(n)]
    return sum_values(xs), xs[n // 2]


Reader = Callable[[Value, Value], object]  # a reader's call on the root (it walks the graph itself)
READERS: list[tuple[str, Callable[[int], tuple[Value, Value]], Reader]] = [
    ("explain, one path (str)", chain, lambda g, x: str(explain(g, x))),
    ("explain collapse=True (str)", chain, lambda g, x: str(explain(g, x, collapse=True))),
    ("Backprop, every step", chain, lambda g, x: Backprop(g).run()),
    ("to_dot", chain, lambda g, x: to_dot(g)),
    ("to_dot collapse=False", chain, lambda g, x: to_dot(g, collapse=False, max_nodes=10**8)),
    ("check", chain, lambda g, x: check(g, x, 0.5)),
    ("grad", chain, lambda g, x: grad(g, [x])),
    ("grad create_graph=True", chain, lambda g, x: grad(g, [x], create_graph=True)),
    ("compile_graph", chain, lambda g, x: compile_graph(g, [x])),
    ("explain, grouped (str)", ladder, lambda g, x: str(explain(g, x))),
    ("explain of one input of a sum (str)", wide, lambda g, x: str(explain(g, x))),
    ("to_dot of a sum", wide, lambda g, x: to_dot(g, max_nodes=10**8)),
    ("Backprop step of a sum (str)", wide, lambda g, x: str(Backprop(g).step())),
]


def measure(sizes: tuple[int, int], samples: int = 1, only: set[str] | None = None) -> list[dict]:
    """Per reader: microseconds per node at each size, the least of ``samples`` runs (graphs built once per
    size and kind), and the growth from the small size to the large."""
    rows = []
    graphs: dict = {}
    for name, build, reader in READERS:
        if only and name not in only:
            continue
        us = []
        for n in sizes:
            with no_gc():
                if (build, n) not in graphs:
                    graphs.clear()  # one size of one kind at a time: the large graphs hold gigabytes
                    root, x = build(n)
                    graphs[build, n] = (root, x, len(Graph(root)))
                root, x, nodes = graphs[build, n]
                best = float("inf")
                for _ in range(samples):
                    start = time.perf_counter()
                    reader(root, x)
                    best = min(best, time.perf_counter() - start)
                us.append(best * 1e6 / nodes)
        rows.append({"reader": name, "graph": build.__name__, "us_per_node": dict(zip(map(str, sizes), us)),
                     "growth": us[-1] / us[0]})
    return rows
