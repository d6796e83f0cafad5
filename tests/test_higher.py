"""Higher-order gradients: grad without side effects, gradient graphs built from the op table, Hessians."""

from __future__ import annotations

import dataclasses
import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TOL, WEIGHTS, build_mazur
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd import OPS, Value, apply, compile_graph, define_op, explain, grad, hessian, topological_order

H = 1e-5  # step of the central differences


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def central_hessian(build, xs: list[float], h: float = H) -> list[list[float]]:
    """Column j: (grad at x + h e_j - grad at x - h e_j) / 2h, from first derivatives only."""
    cols = []
    for j in range(len(xs)):
        up, down = list(xs), list(xs)
        up[j] += h
        down[j] -= h
        g_up = _first(build, up)
        g_down = _first(build, down)
        cols.append([(a - b) / (2 * h) for a, b in zip(g_up, g_down)])
    return [[cols[j][i] for j in range(len(xs))] for i in range(len(xs))]


def _first(build, xs: list[float]) -> tuple[float, ...]:
    leaves = [Value(x) for x in xs]
    return grad(build(leaves), leaves)


def assert_close(got: float, want: float, rel: float = 1e-5, abs_: float = 1e-7) -> None:
    assert abs(got - want) <= abs_ + rel * abs(want), (got, want)


# -- first order: floats, no side effects -----------------------------------------------------------
def test_grad_equals_backward_exactly_on_the_2_2_2_network(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    dE_dw = grad(mazur["E_total"], weights)
    mazur["E_total"].backward()
    assert dE_dw == tuple(w.grad for w in weights)
    assert abs(dE_dw[0] - 0.000438568) <= TOL  # published dE_total/dw1


def test_grad_of_an_intermediate_is_its_backward_gradient(mazur):
    (dE_dout_h1,) = grad(mazur["E_total"], mazur["out_h1"])
    mazur["E_total"].backward()
    assert dE_dout_h1 == mazur["out_h1"].grad


def test_grad_returns_a_tuple_and_zero_for_an_input_the_output_does_not_use():
    x, z = Value(2.0, label="x"), Value(5.0, label="z")
    y = x * x
    assert grad(y, x) == (4.0,)
    assert grad(y, [x, z]) == (4.0, 0.0)
    (dy_dz,) = grad(y, z, create_graph=True)
    assert isinstance(dy_dz, Value) and dy_dz.data == 0.0 and dy_dz.label == "d(mul#1)/d(z)"


def snapshot(root: Value) -> list[tuple[Value, float, object]]:
    return [(v, v.grad, v.label) for v in topological_order(root)]


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_changes_no_grad_and_no_label_anywhere(mazur, create_graph):
    E_total = mazur["E_total"]
    rng = random.Random(3)
    for v in topological_order(E_total):  # every node, intermediates too, holds a distinct gradient
        v.grad = rng.uniform(-1.0, 1.0)
    before = snapshot(E_total)
    weights = [mazur[name] for name in WEIGHTS]
    grad(E_total, weights, create_graph=create_graph)
    hessian(E_total, weights[:2])
    assert snapshot(E_total) == before


def test_grad_rejects_what_is_not_a_value():
    with pytest.raises(TypeError, match="output must be a Value"):
        grad(1.0, [Value(1.0)])
    with pytest.raises(TypeError, match="inputs must be Values"):
        grad(Value(1.0), [1.0])


# -- the gradient as a graph -------------------------------------------------------------------------
def test_sigmoid_second_derivative_is_s_1_minus_s_1_minus_2s_and_explain_shows_it():
    x = Value(0.7, label="x")
    y = x.sigmoid()
    y.label = "y"
    (dy_dx,) = grad(y, x, create_graph=True)
    s = sigmoid(0.7)
    assert dy_dx.label == "d(y)/d(x)"
    assert dy_dx.data == pytest.approx(s * (1 - s), rel=1e-15)
    (d2y_dx2,) = grad(dy_dx, x)
    assert d2y_dx2 == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-14)
    e = explain(dy_dx, x)
    assert e.total == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-14)
    text = str(e)
    assert "dd(y)/d(x)/dy" in text and "dy/dx = y * (1 - y)" in text  # in the graph's names (text.py)
    # the two paths: d/dy of y (1 - y) is (1 - y) directly, and y * d(1 - y)/dy = -y through the sum
    assert sorted(p.product for p in e.paths) == pytest.approx(sorted([(1 - s) * s * (1 - s), -s * s * (1 - s)]))


def test_gradient_graph_labels_come_from_the_original_nodes(mazur):
    (dE_dw1,) = grad(mazur["E_total"], mazur["w1"], create_graph=True)
    assert dE_dw1.label == "d(E_total)/d(w1)"
    labels = {v.label for v in topological_order(dE_dw1)}
    assert {"d(E_total)/d(out_h1)", "d(E_total)/d(net_h1)", "d(out_h1)/d(net_h1)", "d(E_total)/d(out_o1)"} <= labels
    e = explain(dE_dw1, mazur["w5"], collapse=True)
    assert "dnet_o1/dw5 = out_h1" in str(e)


def test_a_gradient_that_is_a_node_of_the_graph_is_that_node_unrelabeled():
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    (dxy_dx,) = grad(x * y, x, create_graph=True)
    assert dxy_dx is y and y.label == "y"


def test_the_gradient_graph_is_built_of_ordinary_ops_and_backward_works_on_it(mazur):
    (dE_dw1,) = grad(mazur["E_total"], mazur["w1"], create_graph=True)
    assert {v.op for v in topological_order(dE_dw1)} <= set(OPS) | {""}
    weights = [mazur[name] for name in WEIGHTS]
    dE_dw1.backward()
    assert tuple(w.grad for w in weights) == grad(dE_dw1, weights)


def test_third_derivatives_of_tanh_sigmoid_exp_log_at_points():
    closed = {
        "tanh": (lambda v: v.tanh(), lambda x: (1 - math.tanh(x) ** 2) * (6 * math.tanh(x) ** 2 - 2)),
        "sigmoid": (lambda v: v.sigmoid(),
                    lambda x: sigmoid(x) * (1 - sigmoid(x)) * (1 - 6 * sigmoid(x) + 6 * sigmoid(x) ** 2)),
        "exp": (lambda v: v.exp(), math.exp),
        "log": (lambda v: v.log(), lambda x: 2.0 / x**3),
    }
    for name, (f, d3) in closed.items():
        for x0 in (0.3, 0.9, 1.7, 2.5):
            x = Value(x0, label="x")
            (d1,) = grad(f(x), x, create_graph=True)
            (d2,) = grad(d1, x, create_graph=True)
            (d3_engine,) = grad(d2, x)
            assert d3_engine == pytest.approx(d3(x0), rel=1e-12, abs=1e-15), (name, x0)


def test_fourth_derivative_of_exp_through_nested_graphs():
    x = Value(0.4, label="x")
    g = x.exp()
    for _ in range(4):
        (g,) = grad(g, x, create_graph=True)
    assert g.data == pytest.approx(math.exp(0.4), rel=1e-15)


# op name -> operand values inside every op's domain (n for ops with a parameter)
POSITIVE = [0.7, 1.3, 0.4, 0.9, 1.1]


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_second_derivatives_against_central_differences(name):
    op = OPS[name]
    arity = op.arity or 5  # n-ary: 5 operands (linear: w1 w2 x1 x2 b)
    n = 1.5 if op.param else None

    def build(leaves):  # the op on (a nonlinear function of) its operands, so that cross terms appear
        operands = tuple(leaves[i] * leaves[(i + 1) % arity] + 0.5 for i in range(arity))
        return apply(op.name, operands, n)

    xs = POSITIVE[:arity]
    leaves = [Value(x) for x in xs]
    analytic = hessian(build(leaves), leaves)
    numeric = central_hessian(build, xs)
    for i in range(arity):
        for j in range(arity):
            assert_close(analytic[i][j], numeric[i][j])


def test_hessian_is_symmetric_and_both_orders_of_differentiation_agree(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    Hm = hessian(mazur["E_total"], weights)
    first = grad(mazur["E_total"], weights, create_graph=True)
    for i in range(8):
        for j in range(8):
            assert Hm[i][j] == Hm[j][i]
            d_ij = grad(first[i], weights[j])[0]
            d_ji = grad(first[j], weights[i])[0]
            assert abs(d_ij - d_ji) <= 1e-17 + 1e-13 * abs(d_ij)


def mazur_with(weights: dict[str, float]) -> dict[str, Value]:
    """The 2-2-2 network of conftest at other weights (same graph)."""
    nodes = build_mazur()
    v = {name: Value(x, label=name) for name, x in weights.items()}
    i1, i2, b1, b2 = nodes["i1"], nodes["i2"], nodes["b1"], nodes["b2"]
    out_h1 = (v["w1"] * i1 + v["w2"] * i2 + b1).sigmoid()
    out_h2 = (v["w3"] * i1 + v["w4"] * i2 + b1).sigmoid()
    out_o1 = (v["w5"] * out_h1 + v["w6"] * out_h2 + b2).sigmoid()
    out_o2 = (v["w7"] * out_h1 + v["w8"] * out_h2 + b2).sigmoid()
    v["E_total"] = 0.5 * (0.01 - out_o1) ** 2 + 0.5 * (0.99 - out_o2) ** 2
    return v


def test_dE_dw1_as_a_graph_differentiates_to_the_hessian_row_of_w1(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    (dE_dw1,) = grad(mazur["E_total"], mazur["w1"], create_graph=True)
    assert abs(dE_dw1.data - 0.000438568) <= TOL  # the published first derivative
    row = grad(dE_dw1, weights)
    assert row == pytest.approx(hessian(mazur["E_total"], weights)[0], rel=1e-13, abs=1e-18)
    for j, name in enumerate(WEIGHTS):  # d/dw_j of dE_total/dw1 by central differences of first derivatives
        up, down = dict(WEIGHTS), dict(WEIGHTS)
        up[name] += H
        down[name] -= H
        g_up, g_down = (grad(n["E_total"], n["w1"])[0] for n in (mazur_with(up), mazur_with(down)))
        assert_close(row[j], (g_up - g_down) / (2 * H), rel=1e-6, abs_=1e-11)
    assert abs(row[4]) > 1e-3  # d2E/dw1dw5 is not trivially zero


def test_compiled_gradient_graph_gives_the_same_floats_as_the_dynamic_graph(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    (dE_dw1,) = grad(mazur["E_total"], mazur["w1"], create_graph=True)
    f = compile_graph(dE_dw1, inputs=weights)
    value, grads = f([w.data for w in weights])
    assert value == dE_dw1.data
    assert list(grads) == list(grad(dE_dw1, weights))
    moved = {name: x + 0.1 * k for k, (name, x) in enumerate(WEIGHTS.items())}
    other = mazur_with(moved)
    (dE_dw1_moved,) = grad(other["E_total"], other["w1"], create_graph=True)
    value, grads = f(list(moved.values()))
    assert value == dE_dw1_moved.data
    assert list(grads) == list(grad(dE_dw1_moved, [other[name] for name in WEIGHTS]))


def test_a_deep_chain_differentiates_twice_without_recursion():
    x = Value(0.3, label="x")
    y = x
    for _ in range(20_000):  # far deeper than Python's recursion limit
        y = y * 0.999 + 0.001
    (dy_dx,) = grad(y, x, create_graph=True)
    assert dy_dx.data == pytest.approx(0.999**20_000, rel=1e-9)
    assert grad(dy_dx, x) == (0.0,)  # y is affine in x


def test_relu_second_derivative_is_zero_almost_everywhere():
    for x0 in (-1.0, 0.5):
        x = Value(x0, label="x")
        (d1,) = grad((x * 3.0).relu(), x, create_graph=True)
        assert d1.data == (3.0 if x0 > 0 else 0.0)
        assert grad(d1, x) == (0.0,)


def test_domain_checks_apply_in_the_gradient_graph():
    x = Value(0.0, label="x")
    y = x**1.5  # fine at 0, and so is its derivative 1.5 x^0.5 as a float
    assert grad(y, x) == (0.0,)
    with pytest.raises(ZeroDivisionError, match=r"pow_const: 0 to a power below 1 .*label 'x'.*create_graph=True"):
        grad(y, x, create_graph=True)  # but d/dx of x^0.5 is infinite at 0


def test_a_derivative_that_calls_a_function_no_op_provides_names_the_op_and_the_function(monkeypatch):
    tanh = OPS["tanh"]
    monkeypatch.setitem(OPS, "tanh", dataclasses.replace(tanh, local=("math.cosh(x)",)))
    x = Value(0.3, label="x")
    message = r"derivative of tanh \(math.cosh\(x\)\) calls math.cosh.*define an op for math.cosh"
    with pytest.raises(TypeError, match=message):
        grad(x.tanh(), x, create_graph=True)
    assert grad(x.tanh(), x) == (1 - math.tanh(0.3) ** 2,)  # first order does not need it


# -- Hypothesis: random graphs of every op -----------------------------------------------------------
PARAMS = [0.5, 1.5, 2.0, 3.0, -1.0]
STEPS = st.lists(
    st.tuples(st.sampled_from(sorted(OPS)), st.lists(st.integers(0, 50), min_size=5, max_size=5),
              st.sampled_from(PARAMS)),
    min_size=1, max_size=6,
)
DOMAIN = (ValueError, ZeroDivisionError, OverflowError)


def build_program(steps, leaves: list[Value], fixes: list[str] | None = None) -> tuple[list[Value], list[str]]:
    """Apply each step's op to earlier nodes; an operand outside the op's domain is replaced by v*v + 0.5
    ("fix") or the step is dropped ("skip"). ``fixes`` replays the decisions of an earlier build."""
    nodes = list(leaves)
    made: list[str] = []
    for k, (name, picks, n) in enumerate(steps):
        op = OPS[name]
        arity = op.arity or 3
        operands = tuple(nodes[-1 - p % len(nodes)] for p in picks[:arity])
        param = n if op.param else None
        decision = fixes[k] if fixes is not None else None
        if decision in (None, "ok"):
            try:
                nodes.append(apply(op.name, operands, param))
                made.append("ok")
                continue
            except DOMAIN:
                if decision == "ok":
                    raise
        if decision in (None, "fix"):
            try:
                nodes.append(apply(op.name, tuple(v * v + 0.5 for v in operands), param))
                made.append("fix")
                continue
            except DOMAIN:
                if decision == "fix":
                    raise
        made.append("skip")
    return nodes, made


def piecewise_locals(nodes: list[Value]) -> list[tuple[float, ...]]:
    """The local derivatives of every node whose op's derivative is piecewise (has a conditional)."""
    return [v.local_grads for v in nodes if v.op and any(" if " in e for e in OPS[v.op].local)]


def near_a_domain_edge(nodes: list[Value]) -> bool:
    """An operand within 0.05 of 0 at an op with a domain (log, sqrt, div, pow): central differences of
    width h fail there (ln of a tiny base), so such points are left to the fixed-point tests."""
    return any(OPS[v.op].checks and any(abs(c.data) < 0.05 for c in v.inputs) for v in nodes if v.op)


@settings(max_examples=150, deadline=None)
@given(STEPS, st.lists(st.floats(-1.5, 1.5), min_size=2, max_size=3))
def test_random_graphs_second_derivatives_match_central_differences(steps, xs):
    leaves = [Value(x) for x in xs]
    nodes, fixes = build_program(steps, leaves)
    out = nodes[-1]
    assume(out.op and all(abs(v.data) < 1e4 for v in nodes))
    assume(not near_a_domain_edge(nodes))
    first = grad(out, leaves)
    assume(all(abs(g) < 1e4 for g in first))
    analytic = hessian(out, leaves)
    kinks = piecewise_locals(nodes)
    cols = []
    for j in range(len(xs)):
        moved = []
        for sign in (1.0, -1.0):
            shifted = list(xs)
            shifted[j] += sign * H
            other = [Value(x) for x in shifted]
            try:
                nodes_j, _ = build_program(steps, other, fixes)
            except DOMAIN:
                assume(False)
            assume(piecewise_locals(nodes_j) == kinks)  # no kink of relu & co. between x - h and x + h
            moved.append(grad(nodes_j[-1], other))
        cols.append([(a - b) / (2 * H) for a, b in zip(*moved)])
    scale = 1.0 + max(abs(g) for g in first)
    for i in range(len(xs)):
        for j in range(len(xs)):
            assert abs(analytic[i][j] - cols[j][i]) <= 1e-4 * scale + 1e-4 * abs(cols[j][i]), (i, j)
            assert analytic[i][j] == analytic[j][i]


@settings(max_examples=60, deadline=None)
@given(STEPS, st.lists(st.floats(-1.5, 1.5), min_size=2, max_size=3))
def test_random_graphs_gradient_graph_value_equals_the_float_gradient(steps, xs):
    leaves = [Value(x) for x in xs]
    nodes, _ = build_program(steps, leaves)
    out = nodes[-1]
    # Huge local derivatives make the float sum ill-conditioned (1.8e132 + 1 - 1.8e132 is 0 in one order of
    # additions and 1 in another): the two orders cannot be compared to 1e-12 there.
    assume(all(abs(local) < 1e6 for v in nodes for local in v.local_grads))
    floats = grad(out, leaves)
    try:
        values = grad(out, leaves, create_graph=True)
    except DOMAIN:  # the gradient graph's own domain checks (x^0.5 at 0): honest, and rare
        return
    # the graph adds three or more shares with one fsum, the float pass one by one: a total that cancels to
    # about 0 (logsumexp(x, x, x) - x) agrees to the size of the shares, not relatively
    scale = 1.0 + max(abs(g) for g in grad(out, nodes))
    for f, v in zip(floats, values):
        assert v.data == pytest.approx(f, rel=1e-12, abs=1e-13 * scale)


# -- demos.newton ------------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parent.parent


def test_newton_demo_converges_in_few_iterations_with_the_closed_form_hessian():
    proc = subprocess.run([sys.executable, "-m", "demos.newton"], cwd=REPO, capture_output=True, text=True,
                          encoding="utf-8", env=dict(os.environ, PYTHONIOENCODING="utf-8"), timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    error = float(re.search(r"max \|H - \(1/m\) X\^T S X\| over all iterations = (\S+)", out).group(1))
    assert error <= 1e-12
    newton_its = int(re.search(r"Newton converged in (\d+) iterations", out).group(1))
    gd_its = int(re.search(r"gradient descent converged in (\d+) iterations", out).group(1))
    assert newton_its <= 10 and gd_its > 10 * newton_its
    rows = re.findall(r"^\s*(\d+) \|\s+(\d\.\d+) +(\S+) \|", out, re.MULTILINE)  # iterations with a Newton loss
    assert [int(r[0]) for r in rows] == list(range(newton_its + 1))
    losses = [float(r[1]) for r in rows]
    assert all(a > b for a, b in zip(losses, losses[1:]))  # Newton's loss falls at every step
    assert "all checks passed" in out


def test_newton_demo_hessian_is_the_closed_form_away_from_the_optimum():
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from demos import newton

    xs, ys = newton.make_blobs(20, seed=4)
    theta = [0.7, -1.2, 0.3]
    _, g, Hm = newton.loss_grad(theta, xs, ys, second=True)
    closed = newton.closed_form_hessian(theta, xs)
    assert max(abs(Hm[i][j] - closed[i][j]) for i in range(3) for j in range(3)) <= 1e-12
    a = [sigmoid(theta[0] * x[0] + theta[1] * x[1] + theta[2]) for x in xs]
    dL_db = sum(ai - y for ai, y in zip(a, ys)) / len(xs)  # the gradient's closed form X^T (a - y) / m
    assert abs(g[2] - dL_db) <= 1e-15


# -- user-defined ops (autograd.define_op) -----------------------------------------------------------
@pytest.fixture
def user_ops():
    """Ops defined by a test are removed after it, so that other tests see the standard table."""
    before = set(OPS)
    yield
    for name in set(OPS) - before:
        OPS.pop(name)


def test_user_defined_sinh_and_cosh_differentiate_to_any_order(user_ops):
    sinh = define_op("higher_sinh", forward="math.sinh(x)", local="math.cosh(x)", formula="cosh(x)")
    define_op("higher_cosh", forward="math.cosh(x)", local="math.sinh(x)", formula="sinh(x)")
    x = Value(0.8, label="x")
    g = sinh(x)
    for order in range(1, 5):  # d^k sinh = cosh, sinh, cosh, sinh
        (g,) = grad(g, x, create_graph=True)
        assert g.op == ("higher_cosh" if order % 2 else "higher_sinh")
        assert g.data == pytest.approx(math.cosh(0.8) if order % 2 else math.sinh(0.8), rel=1e-15)
    y = Value(-0.4, label="y")
    Hm = hessian(sinh(x * y), [x, y])  # d2/dx dy sinh(xy) = cosh(xy) + xy sinh(xy)
    assert Hm[0][1] == pytest.approx(math.cosh(-0.32) - 0.32 * math.sinh(-0.32), rel=1e-14)
    assert Hm[0][0] == pytest.approx(0.16 * math.sinh(-0.32), rel=1e-14)


def test_a_user_op_works_twice_once_the_function_its_derivative_calls_is_an_op(user_ops):
    # d/dx [x erf(x) + exp(-x^2)/sqrt(pi)] = erf(x): differentiating that again needs an op for math.erf
    ierf = define_op("higher_ierf", forward="x * math.erf(x) + math.exp(-x * x) / math.sqrt(math.pi)",
                     local="math.erf(x)", formula="erf(x)")
    x = Value(0.6, label="x")
    assert grad(ierf(x), x) == (math.erf(0.6),)
    message = r"derivative of higher_ierf .* calls math.erf .* define an op for math.erf"
    with pytest.raises(TypeError, match=message):
        grad(ierf(x), x, create_graph=True)
    define_op("higher_erf", forward="math.erf(x)", local="2.0 / math.sqrt(math.pi) * math.exp(-x * x)",
              formula="2/sqrt(pi) exp(-x^2)")
    (d1,) = grad(ierf(x), x, create_graph=True)
    (d2,) = grad(d1, x, create_graph=True)
    (d3,) = grad(d2, x)
    assert d1.op == "higher_erf"
    assert d2.data == pytest.approx(2.0 / math.sqrt(math.pi) * math.exp(-0.36), rel=1e-15)
    assert d3 == pytest.approx(-4.0 * 0.6 / math.sqrt(math.pi) * math.exp(-0.36), rel=1e-14)


def test_a_user_defined_nary_op_hessian_against_its_closed_form_and_central_differences(user_ops):
    prod = define_op("higher_prod", arity="n", forward="math.prod(xs)", local="math.prod(xs[:i] + xs[i + 1:])",
                     formula="prod of the others")
    xs = [0.7, -1.3, 2.1, 0.4]
    leaves = [Value(x, label=f"x{i + 1}") for i, x in enumerate(xs)]
    out = prod(leaves)
    Hm = hessian(out, leaves)
    for i in range(4):
        for j in range(4):  # d2/dx_i dx_j prod = the product of the other two (0 on the diagonal)
            want = 0.0 if i == j else math.prod(x for k, x in enumerate(xs) if k not in (i, j))
            assert Hm[i][j] == pytest.approx(want, rel=1e-14, abs=1e-300)
    numeric = central_hessian(lambda vs: prod(vs) * prod(vs).sigmoid(), xs)
    analytic = hessian(prod(leaves) * prod(leaves).sigmoid(), leaves)
    for i in range(4):
        for j in range(4):
            assert_close(analytic[i][j], numeric[i][j])


# -- the README section ------------------------------------------------------------------------------
def readme_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("## Higher-order gradients")
    return text[start:text.index("\n## ", start + 1)]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block, in order."""
    blocks, lang, body = [], None, []
    for line in text.splitlines():
        if lang is None and line.startswith("```"):
            lang, body = line[3:].strip(), []
        elif lang is not None and line.strip() == "```":
            blocks.append((lang, "\n".join(body) + "\n"))
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def test_readme_section_snippets_run_and_print_what_it_shows():
    blocks = fenced_blocks(readme_section())
    code = "\n".join(body for lang, body in blocks if lang == "python")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, encoding="utf-8",
                          env=dict(os.environ, PYTHONIOENCODING="utf-8"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    shown = [body for lang, body in blocks if not lang]
    assert shown and all(body in proc.stdout for body in shown), proc.stdout


def test_a_gradient_graph_steps_and_draws_like_any_graph():
    from autograd import Backprop, to_dot

    x = Value(0.7, label="x")
    y = x.sigmoid()
    y.label = "y"
    (dy_dx,) = grad(y, x, create_graph=True)
    Backprop(dy_dx).run()
    stepped = x.grad
    x.grad = 0.0
    dy_dx.backward()
    assert stepped == x.grad == grad(dy_dx, x)[0]
    assert "d(y)/d(x)" in to_dot(dy_dx)
