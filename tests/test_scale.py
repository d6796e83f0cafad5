"""Readers on wide, deep and branching graphs: linear work, no recursion, no huge numbers, escaped text.

The times these take are measured by ``python -m benchmarks --only readers``; here the work is counted (how
many operand texts a reader makes), so a quadratic reader fails however fast the machine is.
"""

from __future__ import annotations

import re
import sys
import tracemalloc

import pytest

from autograd import Backprop, Graph, Value, explain, no_gc, sum_values, to_dot
from autograd import text as text_module
from benchmarks.readers import chain, ladder


@pytest.fixture
def made(monkeypatch):
    """How many operand texts the readers make (text._leaf and text._atom, one per operand read)."""
    count = [0]
    leaf, atom = text_module._leaf, text_module._atom

    def counted_leaf(*args):
        count[0] += 1
        return leaf(*args)

    def counted_atom(*args):
        count[0] += 1
        return atom(*args)

    monkeypatch.setattr(text_module, "_leaf", counted_leaf)
    monkeypatch.setattr(text_module, "_atom", counted_atom)
    return lambda: count[0]


def wide_sum(n: int, labeled: bool = True) -> tuple[Value, list[Value]]:
    xs = [Value(float(i % 7) - 3.0, label=f"x{i}" if labeled else None) for i in range(n)]
    s = sum_values(xs)
    s.label = "s"
    return s, xs


@pytest.mark.parametrize("reader", ["explain", "to_dot", "to_dot collapse=False", "Backprop step"])
def test_a_wide_node_costs_each_reader_a_few_texts_per_input(reader, made):
    """A sum of n inputs: every reader reads each operand's text a bounded number of times (it used to be n
    times each: quadratic)."""
    n = 3000
    s, xs = wide_sum(n)
    s2 = sum_values([x * 2.0 for x in xs])  # unlabeled inputs: the picture writes them out
    calls = {
        "explain": lambda: str(explain(s, xs[7])) + str(explain(s, xs[7], collapse=True)),
        "to_dot": lambda: to_dot(s, max_nodes=n + 1) + to_dot(s2, max_nodes=3 * n + 1),
        "to_dot collapse=False": lambda: to_dot(s, max_nodes=n + 1, collapse=False),
        "Backprop step": lambda: str(Backprop(s).step()),
    }
    out = calls[reader]()
    assert made() <= 12 * n, f"{reader} made {made()} operand texts for {n} inputs"
    assert out


def test_a_sum_of_100k_inputs_explains_and_draws():
    n = 100_000
    with no_gc():
        s, xs = wide_sum(n)
    g = Graph(s)
    e = explain(g, xs[n // 2])
    assert str(e) == "ds/dx50000 = 1" and e.total == 1.0
    dot = to_dot(g, max_nodes=n + 1)
    assert dot.count(" -> o") == n  # an edge from each input into the sum's op
    assert "ds/dx99999 = 1" in dot
    step = str(Backprop(g).step())
    assert step.count("\n") == n and "x99999 += 1 (ds/dx99999 = 1) x 1 = 1" in step


def test_counts_beyond_max_paths_say_more_and_print_without_a_10_to_the_4300_number():
    """A ladder of 15,000 diamonds has 2**15000 (about 10**4515) paths: counted up to max_paths only."""
    x = Value(0.5, label="x")
    y = x
    with no_gc():
        for _ in range(15_000):
            y = (y * 0.5 + y * 0.5).tanh()
    e = explain(y, x)
    assert e.grouped and e.count == 65 and e.max_paths == 64
    text = str(e)
    assert "more than max_paths=64 paths; grouped form" in text.splitlines()[0]
    assert repr(e).endswith("more than 64 paths, grouped form)")
    assert e.to_markdown().count("\n") > 15_000 and e.to_latex().count("\\\\") > 15_000
    folded = explain(y, x, collapse=True)  # one folded edge over every chain: its count is capped too
    assert "sum over more than 64 chains" in str(folded)


HOSTILE = "a|b\nc\u2028d\re"


def test_markdown_tables_escape_bars_and_line_breaks_in_labels():
    a = Value(2.0, label=HOSTILE)
    b = Value(3.0, label="b")
    y = a * b + a
    y.label = "y|out"
    md = explain(y, a).to_markdown()
    for table in md.split("\n\n"):
        rows = [line for line in table.splitlines() if line.startswith("|")]
        bars = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(bars) <= 1, f"a label's | or line break broke a table: {rows}"
    assert "a\\|b\\nc\\u2028d\\re" in md and "\u2028" not in md and "\r" not in md
    bp = Backprop(y)
    bp.run()
    rows = bp._repr_markdown_().splitlines()
    assert all("\n" not in r and "\u2028" not in r for r in rows)
    assert any("a\\|b\\nc\\u2028d\\re" in r for r in rows)


def _peak_per_node(n: int) -> float:
    with no_gc():
        root, a = ladder(n)
    tracemalloc.start()
    try:
        g = Graph(root)
        e = explain(g, a)
        assert e.grouped
        return tracemalloc.get_traced_memory()[1] / len(g)
    finally:
        tracemalloc.stop()


def test_a_grouped_explanation_takes_memory_in_proportion_to_the_graph():
    small, large = _peak_per_node(10_000), _peak_per_node(80_000)
    assert large <= 1.3 * small, f"{small:.0f} B per node at 10k nodes, {large:.0f} B at 80k"


@pytest.mark.slow
def test_a_million_node_branching_graph_explains_in_the_grouped_form():
    with no_gc():
        root, a = ladder(1_000_000)
    g = Graph(root)
    assert len(g) >= 1_000_000
    e = explain(g, a)
    assert e.grouped and e.count == 65 and len(e.groups) == sum(1 for v in g.order if v.inputs)  # a, every op but g's
    root.backward()
    assert e.total == a.grad
    lines = str(e).splitlines()
    assert lines[0].startswith("dmul#") and lines[-1] == f"{lines[-1].split(' = ')[0]} = {e._n(a.grad)}"


@pytest.mark.slow
def test_a_million_node_chain_goes_through_every_reader():
    """explain, Backprop, the picture's DOT, check, grad and compile_graph on a chain of a million ops (inside
    no_gc(), as the README advises for graphs this large; the times are the benchmark's: --only readers)."""
    from autograd import check, compile_graph, grad

    n = 1_000_000
    with no_gc():
        y, x = chain(n)  # sin, tanh, sin, ...
        y.label = "y"
        g = Graph(y)
        assert sys.getrecursionlimit() < n
        y.backward()
        e = explain(g, x)
        assert len(e.paths) == 1 and len(e.paths[0].factors) == n and e.total == x.grad
        text = str(e)
        assert text.startswith("dy/dx = dy/dsin#500000 * dsin#500000/dtanh#499999 * ")
        assert text.endswith("\n  dsin#1/dx = cos(x) = 0.877582562")
        del text
        assert explain(g, x, collapse=True).total == x.grad
        bp = Backprop(g)
        bp.run()
        assert len(bp.steps) == n and x.grad == 2 * e.total  # a leaf accumulates: backward(), then the steps
        del bp
        assert to_dot(g).count(" -> o") == 1  # folded: x -> y, through the million nodes
        assert to_dot(g, collapse=False, max_nodes=n + 1).count(" -> o") == n
        assert check(g, x, e.total).ok
        assert grad(g, [x]) == (e.total,)
        assert compile_graph(g, [x])([0.5])[1] == [e.total]
