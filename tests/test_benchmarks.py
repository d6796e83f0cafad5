"""The benchmark suite runs and its engines agree (no timing is asserted)."""

from __future__ import annotations

import functools
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import harness, readers

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("chain y = tanh", "sum of", "micrograd's demo step", "the 2-2-2 network")


def test_quick_check_runs_and_every_workload_agrees_across_engines(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--check", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    agree = [line for line in done.stdout.splitlines() if " agree (loss " in line]
    assert [any(line.startswith(w) for line in agree) for w in WORKLOADS] == [True] * len(WORKLOADS)
    expected = ["floats", "chainrule"]
    if importlib.util.find_spec("micrograd"):
        expected.append("micrograd")
    if importlib.util.find_spec("torch"):
        expected.append("torch")
    for line in agree:
        engines = line.split(": ", 1)[1]
        assert all(name in engines for name in expected), line
    results = json.loads(out.read_text())
    assert [w["name"].split("_")[0] for w in results["workloads"]] == ["chain", "sum", "demo", "network"]
    for w in results["workloads"][:2]:  # the per-node workloads: the collector on, inside no_gc(), off
        assert {"chainrule", "chainrule, no_gc()", "chainrule, GC off"} <= set(w["engines"])
    assert all(w["engines"]["chainrule"]["median"] > 0 for w in results["workloads"])
    assert results["memory_bytes_per_node"]["chainrule"]["bytes"] > 0
    growth = results["growth_us_per_node"]
    assert set(growth["wall"]) == set(growth["collector"]) == {"gc_on", "no_gc", "gc_off"} and growth["samples"] >= 5
    assert growth["collector"]["gc_off"] == {size: 0.0 for size in growth["wall"]["gc_off"]}  # no collection ran
    assert set(results["compile_seconds"]) == {"chain", "moons"}
    read = results["readers_us_per_node"]
    assert {r["reader"] for r in read} == {name for name, _, _ in readers.READERS}
    assert all(len(r["us_per_node"]) == 2 and r["growth"] > 0 for r in read)
    assert results["targets"] and all(set(t) == {"what", "met"} for t in results["targets"])
    assert "| workload | unit | floats | chainrule |" in done.stdout


def _workload(grads_b):
    def case(grads):
        return harness.Case(str(grads), lambda: lambda: (1.0, list(grads), None))

    return harness.Workload("w", "w", "s", 1.0, [case([0.5, 2.0]), case(grads_b)])


def test_check_accepts_rounding_and_names_the_first_disagreeing_gradient():
    assert harness.check(_workload([0.5, 2.0 + 1e-12])) == {"[0.5, 2.0]": 1.0, "[0.5, 2.000000000001]": 1.0}
    with pytest.raises(harness.Disagreement, match=r"gradient 1: \[0.5, 2.001\] 2.001 != \[0.5, 2.0\] 2.0"):
        harness.check(_workload([0.5, 2.001]))


def test_a_disagreement_makes_the_suite_exit_nonzero(monkeypatch, capsys):
    from benchmarks import __main__ as suite

    monkeypatch.setattr(suite, "workloads", lambda sizes: [_workload([0.5, 3.0])])
    assert suite.main(["--check", "--only", "w"]) == 1
    assert "DISAGREEMENT: w: gradient 1" in capsys.readouterr().err


# -- the engine's fast paths keep the documented semantics bit for bit ------------------------------------------
def _reference_backward(root, grad=1.0):
    """backward() as the preamble states it, on the public attributes only."""
    from autograd import topological_order

    order = topological_order(root)
    kept = [(v, v.grad) for v in order if not v.inputs and v.grad]
    for v in order:
        v.grad = 0.0
    root.grad = grad
    for v in reversed(order):
        for child, local in zip(v.inputs, v.local_grads):
            child.grad += local * v.grad
    for v, old in kept:
        v.grad = old + v.grad
    return order


def _pick(rng, nodes):
    return rng.choice(nodes[-6:] if rng.random() < 0.7 else nodes)  # shared inputs and duplicates


def test_fast_backward_gives_the_reference_order_and_gradients_bit_for_bit():
    from autograd import Value, backward, linear, sum_values

    rng = random.Random(6)
    for trial in range(500):
        nodes = [Value(rng.uniform(0.5, 1.5)) for _ in range(rng.randint(1, 5))]
        for leaf in nodes:
            leaf.grad = rng.choice([0.0, rng.uniform(-1.0, 1.0)])  # leaves accumulate across calls
        for _ in range(rng.randint(0, 25)):
            pick = functools.partial(_pick, rng, nodes)
            kind = rng.randrange(7)
            if kind == 0:
                nodes.append(pick() * pick())
            elif kind == 1:
                nodes.append(pick() + pick())
            elif kind == 2:
                nodes.append(pick().tanh())
            elif kind == 3:
                nodes.append(0.5 * pick() ** 2)
            elif kind == 4:
                nodes.append(sum_values([pick() for _ in range(rng.randint(1, 5))]))
            elif kind == 5:
                m = rng.randint(1, 3)
                nodes.append(linear([pick() for _ in range(m)], [pick() for _ in range(m)], pick()))
            else:
                nodes.append(pick().sigmoid())
        root = nodes[-1]
        start = [v.grad for v in nodes]
        expected_order = _reference_backward(root, 0.75)
        expected = [v.grad for v in nodes]
        for v, g in zip(nodes, start):
            v.grad = g
        interior = [v for v in expected_order if v.inputs]
        assert backward(root, 0.75) == interior, f"trial {trial}: order"
        assert [v.grad for v in nodes] == expected, f"trial {trial}: gradients"
