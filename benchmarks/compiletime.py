"""How long ``compile_graph`` takes: chain graphs of 1k / 10k / 100k op nodes, and the moons demo's loss graph;
and where the time goes (``CompiledGraph.compile_times``: the graph and names, writing the code, Python's
``compile`` of it, running the module)."""

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


def seconds(build, samples: int) -> tuple[float, int, dict]:
    """Median seconds of ``compile_graph`` on the graph ``build()`` returns (built once), its node count, and the
    median run's time by phase (and the generated source's lines)."""
    root, inputs = build()
    runs = []
    for _ in range(samples):
        with no_gc():  # as the README advises for large graphs: the collector would rescan the graph
            start = time.perf_counter()
            f = compile_graph(root, inputs)
            runs.append((time.perf_counter() - start, {**f.compile_times, "lines": f.source.count("\n")}))
        del f
    median = statistics.median(t for t, _ in runs)
    return median, _count(root), min(runs, key=lambda run: abs(run[0] - median))[1]


def _count(root: Value) -> int:
    return len(topological_order(root))


def measure(sizes: list[int], samples: int) -> dict:
    """``{"chain": {nodes: seconds}, "moons": [seconds, nodes], "phases": {graph: {phase: seconds}}}``; the
    100k-node graph is compiled once."""
    chain, phases = {}, {}
    for n in sizes:
        s, count, phase = seconds(lambda n=n: _chain(n), 1 if n >= 100_000 else samples)
        chain[str(count)] = s
        phases[f"chain of {count:,} nodes"] = phase
    s, count, phase = seconds(_moons, samples)
    phases[f"moons demo graph, {count:,} nodes"] = phase
    return {"chain": chain, "moons": [s, count], "phases": phases}


def phases_line(phase: dict) -> str:
    """``graph 0.02 s, code 0.05 s, Python's compile 0.12 s, load 0.01 s; 17,435 lines``."""
    return (f"graph {phase['graph']:.3f} s, code {phase['code']:.3f} s, Python's compile {phase['compile']:.3f} s, "
            f"load {phase['load']:.3f} s; {phase['lines']:,} lines")
