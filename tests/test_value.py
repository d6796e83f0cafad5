"""Value: construction, graph bookkeeping, backward semantics and errors."""

from __future__ import annotations

import math

import pytest

from autograd import GradcheckError, Value, gradcheck, topological_order


def test_the_readme_tour():
    x = Value(2.0, label="x")
    w = Value(-3.0, label="w")
    y = (x * w).tanh()
    y.backward()
    dy_dxw = 1 - math.tanh(-6.0) ** 2
    assert y.grad == 1.0
    assert y.inputs[0].grad == dy_dxw  # the intermediate x*w has a gradient too
    assert x.grad == pytest.approx(dy_dxw * -3.0, rel=1e-15)
    assert w.grad == pytest.approx(dy_dxw * 2.0, rel=1e-15)


@pytest.mark.parametrize("bad", [True, "1.0", None, 1j, [1.0], (1.0,), {"a": 1}])
def test_non_numeric_data_is_a_type_error_naming_the_type(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_data_is_a_value_error(bad):
    with pytest.raises(ValueError, match="finite"):
        Value(bad)


def test_data_becomes_float_and_attributes_start_empty():
    v = Value(3)
    assert type(v.data) is float and v.data == 3.0
    assert (v.grad, v.label, v.op, v.inputs, v.local_grads) == (0.0, None, "", (), ())
    v.label = "named later"
    v.data = 4.0
    assert (v * 1).data == 4.0


def test_values_are_slotted():
    with pytest.raises(AttributeError):
        Value(1.0).anything = 1


def test_inputs_are_ordered_and_keep_duplicates():
    a = Value(3.0)
    sq = a * a
    assert sq.inputs == (a, a)
    assert sq.local_grads == (3.0, 3.0)
    b = Value(2.0)
    assert (b - a).inputs == (b, a)


def test_comparisons_use_data_and_equality_is_identity():
    a, b = Value(1.0), Value(1.0)
    assert a < 2 and a <= b and b >= a and not a > b and 2 > a
    assert a != b and a == a
    assert {a: 1, b: 2}[b] == 2 and len({a, b, a}) == 2


def test_repr_is_readable():
    out = Value(0.75136507, label="out_o1")
    out.grad = 0.74136507
    assert repr(out) == "Value(data=0.7514, grad=0.7414, label='out_o1')"
    s = Value(0.0).sigmoid()
    assert repr(s) == "Value(data=0.5, grad=0, op='sigmoid')"


# -- graph shapes -----------------------------------------------------------------------------------
def test_a_node_used_twice_through_a_sum():
    a = Value(1.0)
    b = a + a
    c = b + b
    c.backward()
    assert (a.grad, b.grad, c.grad) == (4.0, 2.0, 1.0)


def test_a_times_a():
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0


def test_diamond():
    x = Value(2.0)
    left, right = x * 3.0, x.exp()
    out = left * right
    out.backward()
    assert x.grad == pytest.approx(3 * math.exp(2) + 6 * math.exp(2), rel=1e-15)


def test_a_node_with_three_consumers():
    x = Value(0.5)
    out = x.tanh() + x * x + x.exp()
    out.backward()
    assert x.grad == pytest.approx((1 - math.tanh(0.5) ** 2) + 1.0 + math.exp(0.5), rel=1e-15)


def test_topological_order_puts_inputs_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    order = topological_order(d)
    assert order[-1] is d and len(order) == 4
    position = {v: i for i, v in enumerate(order)}
    for v in order:
        assert all(position[i] < position[v] for i in v.inputs)


# -- backward semantics -----------------------------------------------------------------------------
def test_repeated_backward_accumulates_leaves_exactly_and_never_drifts():
    a = Value(1.5)
    mid = a * a + a * 0.3
    out = mid.tanh()
    out.backward()
    first = a.grad
    mid_grad = mid.grad
    out.backward()
    assert a.grad == 2 * first  # exactly twice: the pass's total is added to the old gradient at the end
    assert mid.grad == mid_grad and out.grad == 1.0  # intermediates hold the latest pass, no 1, 3, 7 drift
    out.backward()
    assert mid.grad == mid_grad


class _Interrupt:
    """A local derivative whose product raises KeyboardInterrupt, as Ctrl-C in the middle of backward() would."""

    def __mul__(self, other):
        raise KeyboardInterrupt


def test_an_interrupted_backward_leaves_no_mark_and_restores_the_leaves():
    import autograd.core.value as engine

    a, b = Value(0.5, label="a"), Value(-1.25, label="b")
    out = ((a * b).tanh() + a).sigmoid()
    out.backward()
    expected = [a.grad, b.grad]
    a.grad, b.grad = 0.125, 0.0
    mid = out.inputs[0]
    saved = mid._la
    mid._la = _Interrupt()  # out = sigmoid(mid): the first product of the pass
    with pytest.raises(KeyboardInterrupt):
        out.backward()
    mid._la = saved
    assert engine._PASSES == []  # nothing left to undo
    assert (a.grad, b.grad) == (0.125, 0.0)  # the leaves keep their grads from before the call
    a.grad = 0.0
    out.backward()
    assert [a.grad, b.grad] == expected  # the graph still backpropagates exactly as before


def test_micrograd_drift_case():
    a = Value(1.0)
    b = a + a
    grads = []
    for _ in range(3):
        b.backward()
        grads.append((a.grad, b.grad))
    assert grads == [(2.0, 1.0), (4.0, 1.0), (6.0, 1.0)]


def test_backward_with_a_seed_gradient_and_on_a_leaf():
    x = Value(2.0)
    y = x * 3.0
    y.backward(0.5)
    assert (y.grad, x.grad) == (0.5, 1.5)
    leaf = Value(1.0)
    leaf.backward()
    leaf.backward()
    assert leaf.grad == 2.0


def test_zero_grad_clears_every_reachable_node():
    x = Value(2.0)
    y = (x * x).exp()
    y.backward()
    y.zero_grad()
    assert all(v.grad == 0.0 for v in topological_order(y))


def test_a_million_node_chain():
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0
    assert len(topological_order(y)) == 2_000_001


# -- errors, not NaN --------------------------------------------------------------------------------
BAD = [
    (lambda p: p.log(), 0.0, ValueError, "log: input must be > 0, got 0.0 (label 'p')"),
    (lambda p: p.log(), -1.0, ValueError, "log"),
    (lambda p: p.sqrt(), -4.0, ValueError, "sqrt: input must be >= 0"),
    (lambda p: p / 0, 1.0, ZeroDivisionError, "div: division by zero, got 1.0 (label 'p'), 0.0"),
    (lambda p: 1 / p, 0.0, ZeroDivisionError, "div"),
    (lambda p: p**-1, 0.0, ZeroDivisionError, "pow_const"),
    (lambda p: p**0.5, -2.0, ValueError, "pow_const: a negative base needs an integer exponent"),
    (lambda p: p ** Value(2.0), -2.0, ValueError, "pow: base must be > 0"),
    (lambda p: (-2.0) ** p, 0.5, ValueError, "rpow_const"),
    (lambda p: p.exp(), 1000.0, OverflowError, "exp: result overflows a float, got 1000.0 (label 'p')"),
    (lambda p: p * 1e300, 1e300, OverflowError, "mul"),
    (lambda p: p ** Value(400.0), 10.0, OverflowError, "pow"),
    (lambda p: p.log(), 5e-324, OverflowError, "log: its derivative overflows a float, got 5e-324 (label 'p')"),
]


@pytest.mark.parametrize("build, x, error, message", BAD)
def test_domain_errors_name_the_op_the_operands_and_their_labels(build, x, error, message):
    p = Value(x, label="p")
    with pytest.raises(error) as info:
        build(p)
    assert str(info.value).startswith(message.split(",")[0])
    assert message in str(info.value)
    assert "'p'" in str(info.value)


def test_a_failed_op_changes_nothing():
    p = Value(0.0, label="p")
    q = p * 2.0
    q.backward()
    before = (p.data, p.grad, q.data, q.grad, q.inputs, q.local_grads)
    with pytest.raises(ValueError):
        q.log()
    assert (p.data, p.grad, q.data, q.grad, q.inputs, q.local_grads) == before


def test_gradcheck_reports_a_table_on_mismatch():
    wrong = lambda a, b: Value(a.data * b.data) + a  # product taken outside the graph: its gradient is lost
    with pytest.raises(GradcheckError) as info:
        gradcheck(wrong, [2.0, 3.0])
    text = str(info.value)
    assert "analytic" in text and "numeric" in text and "MISMATCH" in text
    assert gradcheck(lambda a, b: a * b + a, [2.0, 3.0]) is True


@pytest.mark.parametrize("bad", ["1.5", True, None])
def test_gradcheck_rejects_non_numeric_inputs_like_value_does(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        gradcheck(lambda a: a * a, [bad])



def test_node_constructor_makes_the_node_apply_makes_without_converting():
    from autograd import apply, node_constructor

    ws, xs, b = [Value(0.4), Value(0.45)], [Value(0.593), Value(0.597)], Value(0.6)
    made = node_constructor("linear")((*ws, *xs, b))
    applied = apply("linear", [*ws, *xs, b])
    assert (made.op, made.data, made.inputs, made.local_grads) == (
        applied.op, applied.data, applied.inputs, applied.local_grads)
    with pytest.raises(ValueError, match="pow_const has a constant parameter"):
        node_constructor("pow_const")
    with pytest.raises(KeyError):
        node_constructor("no_such_op")
