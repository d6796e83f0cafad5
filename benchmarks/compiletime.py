"""How long ``compile_graph`` takes: chain graphs of 1k / 10k / 100k op nodes, and the moons demo's loss graph."""

from __future__ import annotations

import statistics
import time

from autograd import Value, compile_graph, no_gc, topological_order
from demos import moons


def _chain(nodes: int) -> tuple[Value, list[Value]]:
    y0, c, d = Value(0.3, label="y0"), Value(0.9, label="c"), Value(0.1, label="d")
    y = y0
    with no_gc():
        for _ in range(max(1, nodes // 3)):
            y = (y * c + d).tanh()
    return y, [y0, c, d]


def _moons(points: int = 100) -> tuple[Value, list[Value]]:
    xs, ys = moons.make_moons(points, 0.1, seed=0)
    model = moons.build_model(seed=0)
    loss, _ = moons.loss_and_accuracy(model, xs, ys)
    return loss, model.parameters()


def seconds(build, samples: int) -> tuple[float, int]:
    """Median seconds of ``compile_graph`` on the graph ``build()`` returns (built once), and its node count."""
    root, inputs = build()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        f = compile_graph(root, inputs)
        times.append(time.perf_counter() - start)
        del f
    return statistics.median(times), _count(root)


def _count(root: Value) -> int:
    return len(topological_order(root))


def measure(sizes: list[int], samples: int) -> dict:
    """``{"chain": {nodes: seconds}, "moons": [seconds, nodes]}``; the 100k-node graph is compiled once."""
    chain = {}
    for n in sizes:
        s, count = seconds(lambda n=n: _chain(n), 1 if n >= 100_000 else samples)
        chain[str(count)] = s
    s, count = seconds(_moons, samples)
    return {"chain": chain, "moons": [s, count]}
