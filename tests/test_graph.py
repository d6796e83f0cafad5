"""Graph: one walk of the graph, shared by every reader (explain, Backprop, pictures, compile)."""

from __future__ import annotations

import shutil

import pytest
from conftest import build_mazur

from autograd import Backprop, Graph, Value, backward, explain, sum_values, topological_order
from autograd.core import graph as graph_module


@pytest.fixture
def walks(monkeypatch):
    """How many full walks of a Value graph the code under test makes (graph._walk is the only one)."""
    monkeypatch.setattr(graph_module, "walks", 0)
    return lambda: graph_module.walks


def test_the_graph_holds_the_order_backward_uses_names_and_consumers():
    q = build_mazur()
    g = Graph(q["E_total"])
    assert g.order == topological_order(q["E_total"]) and len(g) == len(g.order) and g.root is q["E_total"]
    assert [v for v in backward(q["E_total"])] == [v for v in g.order if v.inputs]
    assert g.names[q["w5"]] == "w5" and q["out_h1"] in g and Value(1.0) not in g
    (w5_out_h1, w7_out_h1) = g.consumers[q["out_h1"]]  # w5 * out_h1 and w7 * out_h1
    assert {w5_out_h1.inputs, w7_out_h1.inputs} == {(q["w5"], q["out_h1"]), (q["w7"], q["out_h1"])}
    assert g.consumers[q["E_total"]] == []
    assert repr(g) == f"Graph(E_total: {len(g)} nodes)"


def test_a_node_used_twice_by_one_consumer_lists_it_once():
    a = Value(3.0, label="a")
    y = a * a
    g = Graph(y)
    assert g.consumers[a] == [y] and g.positions(y, a) == (0, 1)
    wide = sum_values([a, a, Value(1.0), a])
    assert Graph(wide).consumers[a] == [wide] and Graph(wide).positions(wide, a) == (0, 1, 3)


def test_node_kinds():
    w = Value(0.5, label="W[1][0,0]")
    x = Value(2.0, label="x")
    c = Value(3.0)
    h = w * x
    out = h + c
    g = Graph(out)
    assert [g.kind(v) for v in (out, h, w, x, c)] == ["output", "intermediate", "parameter", "input", "constant"]
    assert g.kind(w, params=[x]) == "input" and g.kind(x, params=[x]) == "parameter"
    assert Graph(out, params=[x]).kind(x) == "parameter"


def test_gradients_equal_backward_exactly_and_are_computed_once():
    q = build_mazur()
    g = Graph(q["E_total"])
    grads = g.gradients()
    q["E_total"].backward()
    assert all(grads[v] == v.grad for v in g.order)
    assert g.gradients() is grads


def test_stale_says_when_a_label_changed():
    x = Value(1.0, label="x")
    y = x.tanh()
    g = Graph(y)
    assert g.names[y] == "tanh#1" and not g.stale()
    y.label = "y"
    assert g.stale()


def test_explain_and_backprop_walk_once_from_a_value_and_not_at_all_from_a_graph(walks):
    q = build_mazur()
    explain(q["E_total"], q["w1"])
    assert walks() == 1
    Backprop(q["E_total"]).run()
    assert walks() == 2
    g = Graph(q["E_total"])
    assert walks() == 3
    for wrt in ("w1", "w5", "out_h1"):
        for collapse in (False, True):
            explain(g, q[wrt], collapse=collapse)
    bp = Backprop(g)
    bp.run()
    assert walks() == 3
    assert str(explain(g, q["w1"])) == str(explain(q["E_total"], q["w1"]))


def test_readers_do_not_walk_by_other_means(monkeypatch, tmp_path):
    """No reader calls value.topological_order behind the Graph's back (the Graph's own walk is allowed)."""
    import importlib

    import autograd.core.value
    from autograd.core import graph

    walk = autograd.core.value.topological_order

    def forbidden(*args, **kwargs):
        raise AssertionError("a reader walked the graph itself")

    for name in ("render", "explain", "stepping", "check", "explore", "higher", "torch_compare", "text",
                 "compile", "compile.codegen"):
        monkeypatch.setattr(importlib.import_module(f"autograd.{name}"), "topological_order", forbidden,
                            raising=False)
    monkeypatch.setattr(autograd.core.value, "topological_order", forbidden)
    monkeypatch.setattr(graph, "topological_order", walk)
    q = build_mazur()
    for name, reader in _readers(tmp_path).items():
        if name in ("render_steps", "explore") and shutil.which("dot") is None:
            continue  # they need dot; CI has it
        reader(q["E_total"], q)


def test_unlabeled_nodes_are_numbered_in_the_order_they_were_made():
    """b = x*2 is made before a = x*3, so it is mul#1 although y = a + b reaches a first; a number an op
    turns into a constant leaf is made just before that op."""
    x = Value(1.0, label="x")
    b = x * 2
    a = x * 3
    y = a + b
    names = Graph(y).names
    assert [names[v] for v in (b, a, y, b.inputs[1], a.inputs[1])] == ["mul#1", "mul#2", "add#1", "leaf#1", "leaf#2"]
    c = Value(5.0)  # made by hand before d's number: leaf#1 in a graph that holds both
    d = c + (x - 1.0)
    assert [Graph(d).names[v] for v in (c, d.inputs[1].inputs[1])] == ["leaf#1", "leaf#2"]


def test_the_2_2_2_networks_output_o1_has_the_first_numbers_of_its_loss_nodes():
    q = build_mazur()  # E_o1's nodes are made before E_o2's
    names = Graph(q["E_total"]).names
    square_o1 = q["E_o1"].inputs[0] if q["E_o1"].inputs[0].inputs else q["E_o1"].inputs[1]
    assert names[square_o1] == "pow_const#1" and names[square_o1.inputs[0]] == "sub#1"


def _readers(tmp_path):
    """Every reader of a graph, as a call on a root Value or a Graph of the 2-2-2 network."""
    import autograd

    return {
        "explain": lambda r, q: autograd.explain(r, q["w1"], collapse=True),
        "Backprop": lambda r, q: autograd.Backprop(r).run(),
        "to_dot": lambda r, q: autograd.to_dot(r, highlight="w1"),
        "to_dot frames": lambda r, q: autograd.Backprop(r).draw(),
        "check": lambda r, q: autograd.check(r, "w5", 0.0822),
        "check_all": lambda r, q: autograd.check_all(r, {"w5": 0.0822, "w1": "0.0004"}),
        "grad": lambda r, q: autograd.grad(r, [q["w1"], q["w5"]], create_graph=True),
        "compile_graph": lambda r, q: autograd.compile_graph(r, [q["w1"], q["w5"]]),
        "render_steps": lambda r, q: autograd.render_steps(r, tmp_path / "frames"),  # needs dot
        "explore": lambda r, q: autograd.explore(r),  # needs dot
    }


@pytest.mark.parametrize("reader", ["explain", "Backprop", "to_dot", "to_dot frames", "check", "check_all", "grad",
                                    "compile_graph", "render_steps", "explore"])
def test_every_reader_walks_a_value_once_and_a_graph_never(reader, walks, tmp_path, request):
    if reader in ("render_steps", "explore"):
        request.getfixturevalue("dot_program")
    readers = _readers(tmp_path)
    q = build_mazur()
    readers[reader](q["E_total"], q)
    assert walks() == 1
    g = Graph(q["E_total"])
    readers[reader](g, q)
    readers[reader](g, q)
    assert walks() == 2  # the Graph's own walk only


def test_the_core_imports_none_of_the_readers():
    """Dependencies point one way: autograd/core imports only itself and the standard library."""
    import ast
    import sys
    from pathlib import Path

    import autograd.core

    for path in Path(autograd.core.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = node.module or ""
                assert node.level <= 1, f"{path.name}: imports from outside autograd.core ({'.' * node.level}{target})"
                if node.level == 0:
                    assert target.split(".")[0] in sys.stdlib_module_names, f"{path.name}: imports {target}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in sys.stdlib_module_names, f"{path.name}: imports {alias.name}"


def test_no_module_imports_another_modules_private_names():
    """What one module of autograd takes from another is public there (no ``from .x import _y``)."""
    import ast
    from pathlib import Path

    import autograd

    for path in Path(autograd.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {', '.join(private)} from .{node.module}"
