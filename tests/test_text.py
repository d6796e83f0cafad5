"""Derivation texts in the graph's own names: every formula a reader sees, string by string."""

from __future__ import annotations

import re

import pytest
from conftest import build_mazur
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from autograd import Backprop, Value, explain, sum_values, to_dot, topological_order
from autograd.core.names import node_names
from autograd.text import (
    _evaluate,
    _mul,
    _parse,
    _print,
    edge_formula,
    expression,
    format_number,
    product_formula,
    term_formula,
)

PLACEHOLDER = re.compile(r"(?<![\w#])(x|y|n|out|xs|x_\d+|w_\d+|x_i|w_i)(?![\w#\[])")


def simplified(formula: str) -> str:
    """A formula in the operand names a, b, t, o, x, y, w, printed back simplified."""
    env = {name: ("atom", name, 4) for name in ("a", "b", "t", "o", "x", "y", "w")}
    return _print(_evaluate(_parse(formula), env))[0]


# -- the printer ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("formula", "reads"), [
    ("0.5 * 2 * (t - o) * -1", "-(t - o)"),  # the 1/2 of a squared error times its 2, and d(t - o)/do
    ("(1 - tanh((x * w))^2) * w", "(1 - tanh(x * w)^2) * w"),
    ("1 * x * 1", "x"),
    ("x * -1", "-x"),
    ("-(1/y)", "-1 / y"),
    ("-(a * b)", "-a * b"),
    ("x^(2 - 1)", "x"),
    ("x^0", "1"),
    ("2 sqrt(x)", "2 * sqrt(x)"),  # a formula's juxtaposition is a product
    ("sigmoid(x) (1 - sigmoid(x))", "sigmoid(x) * (1 - sigmoid(x))"),
    ("a - -b", "a + b"),
    ("x - (y - a)", "x - (y - a)"),
    ("(a + b) + x", "a + b + x"),
    ("(-x)^2", "(-x)^2"),
    ("1 if x > 0 else 0", "1 if x > 0 else 0"),
    ("1 if 2 > 0 else 0", "1"),
])
def test_formulas_print_simplified(formula, reads):
    assert simplified(formula) == reads


def test_format_number_lives_in_text():
    assert format_number(0.7413650695523157) == "0.741365070" and format_number(0.05) == "0.05"


# -- a * a: one push per position, each in a's name --------------------------------------------------
def test_a_times_a_steps_say_dy_da_equals_a_for_each_push():
    a = Value(3.0, label="a")
    y = a * a
    y.label = "y"
    step = Backprop(y).step()
    assert [t.formula for t in step.terms] == ["a", "a"]
    lines = str(step).splitlines()
    assert lines[1] == "  a += 3 (dy/da = a) x 1 = 3   grad 0 -> 3"
    assert lines[2] == "  a += 3 (dy/da = a) x 1 = 3   grad 3 -> 6 (final)"  # a leaf: its last push
    assert str(explain(y, a)) == "dy/da = 6\nfactors:\n  dy/da = a + a = 6"


# -- a diamond: x feeds p = tanh(x) and q = 3 x, o = p q ---------------------------------------------
def diamond():
    x = Value(0.5, label="x")
    p = x.tanh()
    q = x * 3.0
    o = p * q
    p.label, q.label, o.label = "p", "q", "o"
    return x, o


def test_a_diamond_explains_in_its_names():
    x, o = diamond()
    text = str(explain(o, x))
    assert text.splitlines()[0] == "do/dx = sum over 2 paths:"
    assert "  path 1: do/dp * dp/dx = 1.5 * 0.786447733 = 1.1796716" in text
    assert "  do/dx = do/dp * dp/dx + do/dq * dq/dx = 1.1796716 + 1.38635147 = 2.56602307" in text
    factors = text.split("factors:\n")[1].splitlines()
    assert factors == ["  do/dp = q = 1.5", "  dp/dx = 1 - p^2 = 0.786447733", "  do/dq = p = 0.462117157",
                       "  dq/dx = 3"]


def test_unlabeled_nodes_read_as_their_expressions_when_folded():
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = (x * w).tanh()
    y.label = "y"
    (factor,) = explain(y, x, collapse=True).paths[0].factors
    assert factor.formula == "(1 - y^2) * w"
    z = (x * w).tanh()  # unlabeled: the tanh is written out
    (factor,) = explain(z, x, collapse=True).paths[0].factors
    assert factor.formula == "(1 - tanh(x * w)^2) * w"


# -- softmax and cross-entropy -------------------------------------------------------------------------
def test_softmax_cross_entropy_explains_in_its_names():
    z = [Value(s, label=f"z{i + 1}") for i, s in enumerate((2.0, 3.0, 4.0))]
    a = nn.softmax(z)
    for i, ai in enumerate(a):
        ai.label = f"a{i + 1}"
    loss = -a[1].log()
    loss.label = "L"
    text = str(explain(loss, z[0], collapse=True))
    assert text.splitlines()[0] == "dL/dz1 = dL/da2 * da2/dz1 = -4.08616127 * -0.022033045 = 0.090030573"
    assert "  dL/da2 = -1 / a2 = -4.08616127" in text
    assert "  da2/dz1 = -a2 * exp(z1 - logsumexp#1) = -0.022033045" in text


# -- the 2-2-2 network ---------------------------------------------------------------------------------
def test_mazur_factors_read_like_the_reference():
    q = build_mazur()
    text = str(explain(q["E_total"], q["w1"], collapse=True))
    factors = text.split("factors:\n")[1].splitlines()
    assert factors[:5] == [
        "  dE_total/dout_o1 = -(0.01 - out_o1) = 0.741365070",
        "  dout_o1/dnet_o1 = out_o1 * (1 - out_o1) = 0.186815602",
        "  dnet_o1/dout_h1 = w5 = 0.4",
        "  dout_h1/dnet_h1 = out_h1 * (1 - out_h1) = 0.241300709",
        "  dnet_h1/dw1 = i1 = 0.05",
    ]


def test_mazur_steps_write_each_push_in_its_names():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    bp.run()
    out_o1 = next(s for s in bp.steps if s.node is q["out_o1"])
    assert "(dout_o1/dnet_o1 = out_o1 * (1 - out_o1))" in str(out_o1)
    w5_out_h1 = next(s for s in bp.steps if s.node.inputs == (q["w5"], q["out_h1"]))
    assert [t.formula for t in w5_out_h1.terms] == ["out_h1", "w5"]  # dnet_o1/dw5 = out_h1, d/dout_h1 = w5
    for step in bp.steps:
        for t in step.terms:
            assert not PLACEHOLDER.search(t.formula), (str(step), t.formula)


def test_every_formula_of_every_op_uses_the_operand_names():
    u, v = Value(0.7, label="u"), Value(1.3, label="v")
    z = [Value(s, label=f"z{i}") for i, s in enumerate((0.5, -1.0, 2.0))]
    import autograd

    nodes = [u + v, u - v, u * v, u / v, -u, u ** v, u ** 3, 2 ** u, u.exp(), u.log(), u.sqrt(), u.tanh(),
             u.sigmoid(), u.relu(), u.softplus(), autograd.sum_values(z), autograd.linear(z[:1], z[1:2], z[2]),
             autograd.logsumexp(z)]
    for node in nodes:
        names = node_names(topological_order(node))
        for i in range(len(node.inputs)):
            formula = term_formula(node, i, names)
            assert not PLACEHOLDER.search(formula), (node.op, i, formula)
        expression(node, names)
    lin = autograd.linear(z[:1], z[1:2], z[2])
    names = node_names(topological_order(lin))
    assert [term_formula(lin, i, names) for i in range(3)] == ["z1", "z0", "1"]
    square = u * u
    assert edge_formula(square, u, node_names(topological_order(square))) == "u + u"


def test_mazur_picture_edges_use_the_graph_names():
    q = build_mazur()
    q["E_total"].backward()
    for collapse in (True, False):
        dot = to_dot(q["E_total"], collapse=collapse)
        labels = re.findall(r'-> \w+:p\d+:\w \[id="\w+", tooltip="(.*?)"', dot)  # dchild/dinput = formula = value
        assert labels
        for label in labels:
            formula = label.split(" = ", 1)[1].rsplit(" = ", 1)[0]
            assert not PLACEHOLDER.search(formula), label
    assert 'tooltip="dnet_o1/dout_h1 = w5 = 0.4"' in to_dot(q["E_total"])


# -- the REPL and notebooks ---------------------------------------------------------------------------
def test_an_explanation_reprs_as_one_line_and_shows_as_math_in_jupyter():
    q = build_mazur()
    e = explain(q["E_total"], q["w1"], collapse=True)
    assert repr(e) == "Explanation(dE_total/dw1 = 0.000438568, 2 paths)"
    assert str(e).startswith("dE_total/dw1 = sum over 2 paths:")
    latex = e._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and latex.endswith("\\end{aligned}$$")
    assert e._repr_markdown_().startswith("**dE_total/dw1 = 0.000438568**")
    x = Value(0.3, label="x")
    out = x
    for _ in range(7):
        out = out.tanh() + out * 0.5
    out.label = "out"
    grouped = explain(out, x)
    assert repr(grouped) == f"Explanation(dout/dx = {format_number(grouped.total)}, more than 64 paths, grouped form)"
    assert grouped._repr_latex_().startswith("$$\\begin{aligned}") and "grouped form" in grouped._repr_markdown_()


def test_the_half_of_a_squared_error_belongs_to_its_node():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from demos import mazur

    q = mazur.build()[2]
    q["E_total"].backward()
    e_o1 = q["E_o1"]
    assert e_o1.op == "scale" and e_o1.param == 0.5 and e_o1.inputs[0].op == "pow_const"
    for collapse in (True, False):
        dot = to_dot(q["E_total"], collapse=collapse)
        assert "leaf#" not in dot
    bp = Backprop(q["E_total"])
    bp.run()
    assert len(bp.steps) == 15 and all(s.node.inputs for s in bp.steps)
    assert "E_o1 = 0.5 * pow_const#" in str(bp.steps[1])
    factor = explain(q["E_total"], q["w5"], collapse=True).paths[0].factors[0]
    assert factor.formula == "-(target_o1 - out_o1)"


_LEAVES = st.one_of(st.sampled_from([("atom", "a", 4), ("atom", "b", 4), ("atom", "c", 4)]),
                    st.sampled_from([0.0, 1.0, -1.0, 2.0, 0.5, -3.0]))
_TREES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.tuples(st.sampled_from(["+", "-", "*", "/"]), inner, inner), st.tuples(st.just("neg"), inner)), max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TREES, max_size=8))
def test_a_chains_product_reads_as_multiplying_its_factors_one_by_one(factors):
    """product_formula flattens each factor once; the text is the one _mul gives factor after factor."""
    total = 1.0
    for f in factors:
        total = _mul(total, f)
    assert product_formula(factors) == _print(total)[0]


def test_long_sums_and_products_print_without_recursion():
    terms = [("atom", f"x{i}", 4) for i in range(5000)]
    assert product_formula(terms) == " * ".join(f"x{i}" for i in range(5000))
    x = [Value(float(i), label=f"x{i}") for i in range(5000)]
    s = sum_values(x)
    assert expression(s, {v: v.label or "s" for v in (s, *x)}) == " + ".join(f"x{i}" for i in range(5000))


def test_a_constant_reads_as_it_is_up_to_nine_digits():
    """x * 1.0000001 is not x * 1: the formula shows the constant, not a rounding of it."""
    x = Value(2.0, label="x")
    y = x * 1.0000001
    y.label = "y"
    assert str(explain(y, x)) == "dy/dx = 1.0000001"
    assert "dy/dx = 1.0000001" in to_dot(y) and expression(y, {y: "y", x: "x"}) == "x * 1.0000001"
    assert expression(x * (1 / 3), {x: "x"}).endswith("* 0.333333")  # longer: six digits
