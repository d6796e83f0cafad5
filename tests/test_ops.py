"""Every op: its value and each local derivative against its formula, and central differences."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import OPS, Value, apply, gradcheck, linear, logsumexp, sum_values
from autograd.core.ops import namespace, operand_expression
from autograd.text import term_formula

sig = lambda x: 1.0 / (1.0 + math.exp(-x))

# op name -> (build from Values, inputs, expected value, expected local derivatives)
CASES = {
    "add": (lambda x, y: x + y, [1.5, -2.0], -0.5, (1.0, 1.0)),
    "sub": (lambda x, y: x - y, [1.5, -2.0], 3.5, (1.0, -1.0)),
    "mul": (lambda x, y: x * y, [1.5, -2.0], -3.0, (-2.0, 1.5)),
    "div": (lambda x, y: x / y, [1.5, -2.0], -0.75, (-0.5, -1.5 / 4.0)),
    "neg": (lambda x: -x, [1.5], -1.5, (-1.0,)),
    "pow": (lambda x, y: x**y, [1.5, 2.5], 1.5**2.5, (2.5 * 1.5**1.5, 1.5**2.5 * math.log(1.5))),
    "pow_const": (lambda x: x**3, [-1.5], -3.375, (3 * 2.25,)),
    "rpow_const": (lambda x: 2**x, [1.5], 2**1.5, (2**1.5 * math.log(2),)),
    "scale": (lambda x: apply("scale", [x], 0.5), [1.5], 0.75, (0.5,)),
    "exp": (lambda x: x.exp(), [0.7], math.exp(0.7), (math.exp(0.7),)),
    "log": (lambda x: x.log(), [0.7], math.log(0.7), (1 / 0.7,)),
    "sqrt": (lambda x: x.sqrt(), [0.7], math.sqrt(0.7), (0.5 / math.sqrt(0.7),)),
    "tanh": (lambda x: x.tanh(), [0.7], math.tanh(0.7), (1 - math.tanh(0.7) ** 2,)),
    "sigmoid": (lambda x: x.sigmoid(), [0.7], sig(0.7), (sig(0.7) * (1 - sig(0.7)),)),
    "relu": (lambda x: x.relu(), [0.7], 0.7, (1.0,)),
    "softplus": (lambda x: x.softplus(), [0.7], math.log1p(math.exp(0.7)), (sig(0.7),)),
    "abs": (lambda x: abs(x), [-0.7], 0.7, (-1.0,)),
    "sin": (lambda x: x.sin(), [0.7], math.sin(0.7), (math.cos(0.7),)),
    "cos": (lambda x: x.cos(), [0.7], math.cos(0.7), (-math.sin(0.7),)),
    "sum": (lambda x, y, z: sum_values([x, y, z]), [1.0, 2.0, 4.0], 7.0, (1.0, 1.0, 1.0)),
    "linear": (lambda w1, w2, x1, x2, b: linear([w1, w2], [x1, x2], b), [0.4, 0.45, 0.593, 0.597, 0.6],
               0.4 * 0.593 + 0.45 * 0.597 + 0.6, (0.593, 0.597, 0.4, 0.45, 1.0)),
    "logsumexp": (lambda x, y: logsumexp([x, y]), [1.0, 2.0], math.log(math.e + math.e**2),
                  (math.e / (math.e + math.e**2), math.e**2 / (math.e + math.e**2))),
}


BUILT_IN = set(CASES)


def test_every_op_in_the_table_has_a_case():
    import subprocess
    import sys

    fresh = subprocess.run([sys.executable, "-c", "import autograd; print(' '.join(sorted(autograd.OPS)))"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert set(fresh) == BUILT_IN  # as imported, before any test defines an op of its own


@pytest.mark.parametrize("name", sorted(CASES))
def test_value_and_local_derivatives(name):
    build, xs, value, local = CASES[name]
    leaves = [Value(x) for x in xs]
    out = build(*leaves)
    assert out.op == name
    assert out.data == pytest.approx(value, rel=1e-12)
    assert out.local_grads == pytest.approx(local, rel=1e-12)
    assert len(out.inputs) == len(out.local_grads)
    names = {v: f"v{k}" for k, v in enumerate((out, *out.inputs))}
    assert all(term_formula(out, i, names) for i in range(len(out.inputs)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_constructors_give_the_same_floats_as_op_fn(name):
    build, xs, _, _ = CASES[name]
    out = build(*[Value(x) for x in xs])
    op = OPS[name]
    operands = [v.data for v in out.inputs]
    args = ([operands] if op.arity == 0 else operands) + ([out.param] if op.param else [])
    assert op.fn(*args) == (out.data, out.local_grads)


@pytest.mark.parametrize("name", sorted(CASES))
def test_central_differences(name):
    build, xs, _, _ = CASES[name]
    assert gradcheck(build, xs)


@pytest.mark.parametrize("name", [name for name in sorted(BUILT_IN) if OPS[name].arity == 0])
def test_an_nary_ops_per_operand_derivative_agrees_with_its_tuple(name):
    build, xs, _, _ = CASES[name]
    out = build(*[Value(x) for x in xs])
    data = [v.data for v in out.inputs]
    for i, x in enumerate(data):
        env = {"x": x, "i": i, "xs": data, "out": out.data}
        assert eval(OPS[name].local[0], namespace(), env) == out.local_grads[i], f"{name}: operand {i}"
        specialized = operand_expression(OPS[name], i, len(xs))
        assert eval(specialized, namespace(), env) == out.local_grads[i], f"{name}: {specialized}"


@pytest.mark.parametrize("name", [name for name in sorted(BUILT_IN) if OPS[name].propagates])
def test_an_op_that_propagates_turns_every_inf_and_nan_operand_into_inf_or_nan(name):
    op = OPS[name]
    _, xs, _, _ = CASES[name]
    for bad in (math.inf, -math.inf, math.nan):
        for i in range(len(xs)):
            operands = [*xs[:i], bad, *xs[i + 1:]]
            env = {"xs": operands} if op.arity == 0 else dict(zip("xy", operands))
            try:
                out = eval(op.forward, namespace(), env)  # the bare forward, without the engine's checks
            except ValueError:  # math.log(-inf), math.sqrt(-inf): an error, not a finite number
                continue
            assert not math.isfinite(out), f"{name}({operands}) = {out}"


def test_formula_text_reads_like_the_derivation():
    assert OPS["tanh"].formula == ("1 - tanh(x)^2",)
    assert OPS["mul"].formula == ("y", "x")
    # linear(w1, w2, x1, x2, b): d/dw1 = x1 (operand 2), d/dx2 = w2 (operand 1), d/db = 1, read at the node
    w1, w2, x1, x2, b = (Value(float(k), label=n) for k, n in enumerate(("w1", "w2", "x1", "x2", "b"), 1))
    net = linear([w1, w2], [x1, x2], b)
    names = {v: v.label or "net" for v in (net, w1, w2, x1, x2, b)}
    assert [term_formula(net, i, names) for i in range(5)] == ["x1", "x2", "w1", "w2", "1"]


def test_reflected_and_mixed_int_float_forms():
    x = Value(3.0)
    cases = [(2 + x, 5.0), (x + 2, 5.0), (2 - x, -1.0), (x - 2.5, 0.5), (2 * x, 6.0), (x * 2, 6.0),
             (6 / x, 2.0), (x / 2, 1.5), (x**2, 9.0), (2**x, 8.0), (x**Value(2), 9.0), (-x, -3.0)]
    for out, expected in cases:
        assert isinstance(out, Value)
        assert out.data == expected
    assert (6 / x).local_grads[1] == pytest.approx(-6 / 9)
    assert (2 - x).local_grads == (1.0, -1.0)


def test_relu_at_exactly_zero_has_local_derivative_zero():
    assert Value(0.0).relu().local_grads == (0.0,)
    assert Value(-1.0).relu().local_grads == (0.0,)


def test_sigmoid_and_tanh_are_stable_at_1e4():
    for x, expected in [(1e4, 1.0), (-1e4, 0.0)]:
        s = Value(x).sigmoid()
        assert s.data == pytest.approx(expected, abs=1e-300)
        assert math.isfinite(s.local_grads[0])
        t = Value(x).tanh()
        assert abs(t.data) == 1.0 and math.isfinite(t.local_grads[0])


# -- Hypothesis: random expressions over all ops pass gradcheck --------------------------------------
# Each unary op keeps its operand inside its domain (as MiniTorch's tests do): log/sqrt get x^2 + 0.5, etc.
UNARY = [
    lambda a: -a,
    lambda a: (a * 0.5).exp(),
    lambda a: (a * a + 0.5).log(),
    lambda a: (a * a + 0.5).sqrt(),
    lambda a: a.tanh(),
    lambda a: a.sigmoid(),
    lambda a: a.softplus(),
    lambda a: (a * a + 0.5) ** 1.5,
    lambda a: a**2,
    lambda a: 1.5 ** a.tanh(),
    lambda a: (a + 5.0).relu(),
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: (a * a + 0.5) ** b.tanh(),
    lambda a, b: sum_values([a, b, a]),
    lambda a, b: linear([a, b], [b, 0.5], a),
    lambda a, b: logsumexp([a, b, a * b]),
]


@st.composite
def expressions(draw):
    """A random program over three inputs: each step applies an op to earlier results."""
    steps = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)),
                          min_size=1, max_size=8))

    def fn(*xs):
        vals = list(xs)
        for unary, k, i, j in steps:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            vals.append(UNARY[k % len(UNARY)](a) if unary else BINARY[k % len(BINARY)](a, b))
        # squash so results stay of moderate size, and keep all intermediate values in the output
        return sum_values([v.tanh() for v in vals[len(xs):]])

    return fn


@settings(max_examples=150, deadline=None)
@given(expressions(), st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_random_expressions_pass_gradcheck(fn, xs):
    assert gradcheck(fn, xs, eps=1e-6, atol=1e-5, rtol=1e-3)
