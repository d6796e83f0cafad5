"""Every row of the op table, built-in or user-defined, through every feature: backward, Backprop, explain,
to_dot, gradcheck and compile_graph; and random graphs mixing user-defined unary, binary and n-ary ops."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd import OPS, Backprop, Value, apply, compile_graph, define_op, explain, gradcheck, to_dot

# Points inside every op's domain (positive, away from kinks): operands for unary, binary and n-ary rows.
POINT = [0.7, 1.3, 0.45, 1.9, 0.6]
USER = {
    "suite_cube": dict(forward="x * x * x", local="3.0 * x * x", formula="3 x^2"),
    "suite_atan2": dict(forward="math.atan2(x, y)", local=("y / (x * x + y * y)", "-x / (x * x + y * y)"),
                        formula=("y/(x^2+y^2)", "-x/(x^2+y^2)"),
                        checks=(("x != 0.0 or y != 0.0", ZeroDivisionError, "atan2(0, 0) has no derivative"),)),
    "suite_rms": dict(arity="n", forward="math.sqrt(math.fsum([v * v for v in xs]) / len(xs))",
                      local="x / (len(xs) * out)", formula="x / (n out)",
                      checks=(("any(v != 0.0 for v in xs)", ZeroDivisionError, "rms of zeros has no derivative"),)),
    "suite_softmax0": dict(arity="n", forward="math.exp(xs[0] - _logsumexp(xs))",
                           local="out * ((1.0 if i == 0 else 0.0) - math.exp(x - _logsumexp(xs)))",
                           formula="out (delta_i0 - softmax_i)"),
}


@pytest.fixture(scope="module", autouse=True)
def user_rows():
    for name, spec in USER.items():
        define_op(name, **spec)


BUILT_IN = sorted(n for n in OPS if not n.startswith("suite_"))


def build(name: str, leaves: list[Value]) -> Value:
    """The op on (functions of) the leaves, then a tail so that its result is an intermediate node."""
    op = OPS[name]
    arity = op.arity or 5
    operands = [leaves[i] * 1.0 + 0.25 * i for i in range(arity)]
    node = apply(name, operands, 1.5 if op.param else None)
    return node * 1.5 + leaves[0]


@pytest.mark.parametrize("name", BUILT_IN + sorted(USER))
def test_the_row_goes_through_every_feature(name):
    xs = POINT
    leaves = [Value(x, label=f"p{k}") for k, x in enumerate(xs)]
    out = build(name, leaves)
    assert OPS[name].name in {v.op for v in _nodes(out)}

    out.backward()
    grads = [v.grad for v in leaves]
    assert gradcheck(lambda *vs: build(name, list(vs)), xs, rtol=1e-5, atol=1e-7)

    for v in leaves:
        v.grad = 0.0
    Backprop(out).run()
    assert [v.grad for v in leaves] == grads

    e = explain(out, leaves[0])
    assert e.total == pytest.approx(grads[0], rel=1e-12, abs=1e-300)
    assert name in to_dot(out, collapse=False)

    loss, compiled = compile_graph(out, inputs=leaves)(xs)
    assert (loss, compiled) == (out.data, grads)  # inlined from the same row: the same floats


def _nodes(root: Value) -> list[Value]:
    from autograd import topological_order

    return topological_order(root)


# -- random graphs with user-defined ops ------------------------------------------------------------------
CHOICES = BUILT_IN + sorted(USER)
PROGRAM = st.lists(st.tuples(st.sampled_from(CHOICES), st.lists(st.integers(0, 40), min_size=5, max_size=5)),
                   min_size=1, max_size=8)


def run(program, leaves: list[Value]) -> Value:
    nodes = list(leaves)
    for name, picks in program:
        op = OPS[name]
        operands = [nodes[-1 - p % len(nodes)] for p in picks[:op.arity or 3]]
        try:
            nodes.append(apply(name, operands, 1.5 if op.param else None))
        except (ValueError, ZeroDivisionError, OverflowError):
            assume(False)  # outside the op's domain: a clear error, never a nan
    return nodes[-1]


@settings(max_examples=150, deadline=None)
@given(PROGRAM, st.lists(st.floats(0.2, 2.0), min_size=3, max_size=3))
def test_random_graphs_agree_across_backward_backprop_explain_and_compile(program, xs):
    leaves = [Value(x, label=f"p{k}") for k, x in enumerate(xs)]
    out = run(program, leaves)
    assume(out.inputs)
    out.backward()
    grads = [v.grad for v in leaves]
    assert all(math.isfinite(g) for g in grads)
    for v in leaves:
        v.grad = 0.0
    Backprop(out).run()
    assert [v.grad for v in leaves] == grads
    reached = [k for k, v in enumerate(leaves) if v in set(_nodes(out))]
    assert explain(out, leaves[reached[0]]).total == pytest.approx(grads[reached[0]], rel=1e-9, abs=1e-12)
    assert compile_graph(out, inputs=leaves)(xs) == (out.data, grads)
