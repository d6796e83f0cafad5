"""Per-node workloads: a long chain ``y = tanh(y*c + d)`` and a sum of products, timed and weighed per op node."""

from __future__ import annotations

import gc
import math
import subprocess
import sys
import tracemalloc
from pathlib import Path

from autograd import Value

from . import engines
from .engines import mg_tanh, tensor, torch
from .engines import micrograd_engine as mg
from .harness import Case, Outcome, Workload, with_no_gc, without_gc

C, D, Y0 = 0.9, 0.1, 0.3  # chain constants: y_0 = Y0, y_k = tanh(c y_{k-1} + d); grads of y_0, c, d


def chain_floats(n: int) -> Outcome:
    """Hand-written forward and hand-derived backward on floats."""
    c, d = C, D
    ys = [Y0]
    y = Y0
    for _ in range(n):
        y = math.tanh(y * c + d)
        ys.append(y)
    g = 1.0
    gc_ = gd = 0.0
    for k in range(n, 0, -1):
        t = ys[k]
        g_net = g * (1.0 - t * t)
        gc_ += g_net * ys[k - 1]
        gd += g_net
        g = g_net * c
    return y, [g, gc_, gd], ys


def chain_cases(n: int) -> list[Case]:
    def floats():
        return lambda: chain_floats(n)

    def ours():
        y0, c, d = Value(Y0), Value(C), Value(D)

        def run():
            y = y0
            for _ in range(n):
                y = (y * c + d).tanh()
            y.backward()
            return y.data, [y0.grad, c.grad, d.grad], y

        return run

    def micrograd():
        y0, c, d = mg.Value(Y0), mg.Value(C), mg.Value(D)

        def run():
            y = y0
            for _ in range(n):
                y = mg_tanh(y * c + d)
            with engines.deep_recursion(3 * n + 1000):
                y.backward()
            return y.data, [y0.grad, c.grad, d.grad], y

        return run

    def pytorch():
        y0, c, d = tensor(Y0), tensor(C), tensor(D)

        def run():
            y = y0
            for _ in range(n):
                y = torch.tanh(y * c + d)
            y.backward()
            return y.item(), [y0.grad.item(), c.grad.item(), d.grad.item()], y

        return run

    cases = [Case("floats", floats), *_ours(ours)]
    if mg:
        cases += [Case("micrograd", micrograd), Case("micrograd, GC off", without_gc(micrograd))]
    if torch:
        cases.append(Case("torch", pytorch))
    return cases


def _ours(prepare) -> list[Case]:
    """chainrule three ways: the collector as users leave it, inside ``no_gc()``, and off."""
    return [Case("chainrule", prepare), Case("chainrule, no_gc()", with_no_gc(prepare)),
            Case("chainrule, GC off", without_gc(prepare))]


def chain(n: int) -> Workload:
    return Workload(
        f"chain_{_k(3 * n)}", f"chain y = tanh(y*c + d), {n:,} steps ({3 * n:,} nodes), fwd+bwd", "us/node",
        1e6 / (3 * n), chain_cases(n),
        ["micrograd's chain uses a fused tanh node in micrograd's closure style (0.1.0 has no tanh)"],
    )


def sum_cases(n: int) -> list[Case]:
    xs0 = [math.sin(i) for i in range(n)]
    ws0 = [math.cos(i) for i in range(n)]

    def floats():
        def run():
            s = 0.0
            for x, w in zip(xs0, ws0):
                s += x * w
            return s, [*ws0, *xs0], None  # d s / d x_i = w_i, d s / d w_i = x_i

        return run

    def generic(make, data, grad, deep=False):
        def prepare():
            xs, ws = [make(x) for x in xs0], [make(w) for w in ws0]

            def run():
                s = sum(x * w for x, w in zip(xs, ws))
                if deep:
                    with engines.deep_recursion(2 * n + 1000):
                        s.backward()
                else:
                    s.backward()
                return data(s), [grad(x) for x in xs] + [grad(w) for w in ws], s

            return run

        return prepare

    ours = generic(Value, lambda s: s.data, lambda v: v.grad)
    cases = [Case("floats", floats), *_ours(ours)]
    if mg:
        micrograd = generic(mg.Value, lambda s: s.data, lambda v: v.grad, deep=True)
        cases += [Case("micrograd", micrograd), Case("micrograd, GC off", without_gc(micrograd))]
    if torch:
        cases.append(Case("torch", generic(tensor, lambda s: s.item(), lambda v: v.grad.item())))
    return cases


def _k(nodes: int) -> str:
    return f"{round(nodes / 1000)}k"


def sum_of_products(n: int) -> Workload:
    return Workload(
        f"sum_{_k(2 * n)}", f"sum of {n:,} products ({2 * n:,} nodes, Python's sum), fwd+bwd", "us/node",
        1e6 / (2 * n), sum_cases(n),
        ["op nodes = n products + n additions for every engine (the same expression)"],
    )


# -- memory ---------------------------------------------------------------------------------------------
def _rss() -> int:
    """Resident memory in bytes (Linux), for PyTorch whose tensors tracemalloc does not see."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return 0


def _forward_chains(n: int) -> dict:
    """Per engine, a function building the ``n``-step chain's forward pass and returning what holds it."""

    def floats():
        ys, y = [Y0], Y0
        for _ in range(n):
            y = math.tanh(y * C + D)
            ys.append(y)
        return ys

    def generic(make, tanh):
        def build():
            y, c, d = make(Y0), make(C), make(D)
            for _ in range(n):
                y = tanh(y * c + d)
            return y

        return build

    builders = {"floats": floats, "chainrule": generic(Value, Value.tanh)}
    if mg:
        builders["micrograd"] = generic(mg.Value, mg_tanh)
    if torch:
        builders["torch"] = generic(tensor, torch.tanh)
    return builders


def torch_rss_per_node(n: int) -> float:
    """Growth of resident memory per op node while PyTorch builds the ``n``-step chain (run in a fresh process)."""
    _forward_chains(100)["torch"]()  # warm up: the first tensor ops set up PyTorch's own pools
    before = _rss()
    graph = _forward_chains(n)["torch"]()
    grown = _rss() - before
    del graph
    return grown / (3 * n)


def memory_per_node(n: int) -> dict[str, tuple[float, str]]:
    """Bytes per op node of an ``n``-step chain's graph after the forward pass: (bytes, how measured).

    Python engines are weighed with tracemalloc; PyTorch's tensors live outside Python's allocator,
    so its figure is the growth of resident memory (coarse).
    """
    results = {}
    for engine, build in _forward_chains(n).items():
        gc.collect()
        if engine == "torch":  # in a fresh process: here, memory freed by earlier runs would be reused
            code = f"from benchmarks import pernode; print(pernode.torch_rss_per_node({n}))"
            done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                                  capture_output=True, text=True, check=True)
            results[engine] = (float(done.stdout), "RSS")
            continue
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        graph = build()
        results[engine] = ((tracemalloc.get_traced_memory()[0] - before) / (3 * n), "tracemalloc")
        tracemalloc.stop()
        del graph
        gc.collect()
    return results
