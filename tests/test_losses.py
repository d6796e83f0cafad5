"""Losses: the reference's softmax numbers, softmax - onehot gradients, stability, BCE forms, gradcheck, errors."""

from __future__ import annotations

import math
import random

import pytest
from conftest import TOL
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from autograd import Value, gradcheck, topological_order

# Reference, section 2: scores [2, 3, 4], the correct class is the second.
PUBLISHED_SOFTMAX = (0.090030573, 0.244728471, 0.665240956)
PUBLISHED_DL_DZ = (0.090030573, -0.755271529, 0.665240956)


def leaves(xs):
    return [Value(x, label=f"z{i + 1}") for i, x in enumerate(xs)]


def softmax_by_hand(xs):
    m = max(xs)
    es = [math.exp(x - m) for x in xs]
    return [e / sum(es) for e in es]


# -- mean squared error --------------------------------------------------------------------------


def test_mse_reductions():
    pred, target = [Value(0.5), Value(2.0), Value(-1.0)], [1.0, 1.0, 1.0]
    squares = [0.25, 1.0, 4.0]
    assert nn.mse_loss(pred, target).data == pytest.approx(sum(squares) / 3, abs=1e-15)
    assert nn.mse_loss(pred, target, reduction="sum").data == pytest.approx(sum(squares), abs=1e-15)
    assert nn.mse_loss(pred, target, reduction="half_sum").data == pytest.approx(sum(squares) / 2, abs=1e-15)


def test_half_sum_is_a_sum_over_per_output_terms_with_gradient_out_minus_target():
    out_o1, out_o2 = Value(0.751365070, label="out_o1"), Value(0.772928465, label="out_o2")
    e_total = nn.mse_loss([out_o1, out_o2], [0.01, 0.99], reduction="half_sum")
    assert e_total.op == "sum" and len(e_total.inputs) == 2
    e_o1, e_o2 = e_total.inputs
    assert e_o1.data == pytest.approx(0.5 * (0.01 - 0.751365070) ** 2, abs=1e-15)
    assert e_o2.data == pytest.approx(0.5 * (0.99 - 0.772928465) ** 2, abs=1e-15)
    e_total.backward()
    dE_total_dout_o1 = out_o1.grad
    assert dE_total_dout_o1 == pytest.approx(0.741365070, abs=TOL)  # out_o1 - target_o1, reference section 1


def test_mse_gradient_flows_to_value_targets():
    p, t = Value(2.0), Value(0.5)
    nn.mse_loss([p], [t], reduction="sum").backward()
    assert p.grad == pytest.approx(3.0) and t.grad == pytest.approx(-3.0)


def test_squared_errors_scale():
    terms = nn.squared_errors([Value(3.0, label="p")], [1.0], scale=0.5)
    (e,) = terms
    assert e.data == 2.0 and e.op == "scale" and e.param == 0.5  # the 1/2 is the node's parameter
    assert all(x.inputs or x.label is not None or x.data == 1.0 for x in topological_order(e))  # no 0.5 leaf
    e.backward()
    assert e.local_grads == (0.5,) and e.inputs[0].op == "pow_const"


# -- softmax and cross-entropy -------------------------------------------------------------------


def test_softmax_reference_numbers():
    a = nn.softmax([2.0, 3.0, 4.0])
    for got, want in zip(a, PUBLISHED_SOFTMAX):
        assert got.data == pytest.approx(want, abs=TOL)
    assert math.fsum(v.data for v in a) == pytest.approx(1.0, abs=1e-15)


def test_cross_entropy_gradient_is_softmax_minus_one_hot_reference():
    z = leaves([2.0, 3.0, 4.0])
    loss = nn.cross_entropy(z, 1)
    assert loss.data == pytest.approx(-math.log(PUBLISHED_SOFTMAX[1]), abs=1e-8)
    loss.backward()
    dL_dz = [v.grad for v in z]
    for got, want in zip(dL_dz, PUBLISHED_DL_DZ):
        assert got == pytest.approx(want, abs=TOL)


def test_cross_entropy_is_minus_log_of_softmax_and_one_logsumexp_node():
    z = leaves([0.3, -1.2, 2.5, 0.0])
    loss = nn.cross_entropy(z, 2)
    assert loss.op == "sub" and loss.inputs[0].op == "logsumexp" and loss.inputs[1] is z[2]
    assert loss.data == pytest.approx(-math.log(softmax_by_hand([0.3, -1.2, 2.5, 0.0])[2]), abs=1e-14)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=-30, max_value=30, allow_nan=False), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=7),
)
def test_cross_entropy_gradient_is_softmax_minus_one_hot_for_any_logits(xs, t):
    t = t % len(xs)
    z = leaves(xs)
    nn.cross_entropy(z, t).backward()
    probs = softmax_by_hand(xs)
    for i, v in enumerate(z):
        assert v.grad == pytest.approx(probs[i] - (1.0 if i == t else 0.0), abs=1e-12)


def test_cross_entropy_gradient_random_logits_seeded():
    rng = random.Random(0)
    for _ in range(50):
        n = rng.randint(2, 6)
        xs = [rng.uniform(-5, 5) for _ in range(n)]
        t = rng.randrange(n)
        z = leaves(xs)
        nn.cross_entropy(z, t).backward()
        probs = softmax_by_hand(xs)
        assert [v.grad for v in z] == pytest.approx([p - (i == t) for i, p in enumerate(probs)], abs=1e-12)


def test_extreme_logits_give_finite_loss_and_gradients():
    for t in range(3):
        z = leaves([1e4, 0.0, -1e4])
        loss = nn.cross_entropy(z, t)
        assert math.isfinite(loss.data)
        assert loss.data == pytest.approx([0.0, 1e4, 2e4][t])
        loss.backward()
        assert all(math.isfinite(v.grad) for v in z)
        assert [v.grad for v in z] == pytest.approx([1.0 - (t == 0), -(t == 1), -(t == 2)], abs=1e-12)
    lsm = nn.log_softmax([1e4, 0.0, -1e4])
    assert [v.data for v in lsm] == [0.0, -1e4, -2e4]
    sm = nn.softmax([1e4, 0.0, -1e4])
    assert [v.data for v in sm] == [1.0, 0.0, 0.0]


def test_log_softmax_agrees_with_log_of_softmax():
    rng = random.Random(1)
    for _ in range(30):
        xs = [rng.uniform(-20, 20) for _ in range(rng.randint(1, 6))]
        lsm = nn.log_softmax(xs)
        sm = nn.softmax(xs)
        for a, b in zip(lsm, sm):
            if b.data > 0.0:
                assert a.data == pytest.approx(math.log(b.data), abs=1e-12)


def test_softmax_of_one_logit_is_one():
    assert nn.softmax([5.0])[0].data == 1.0
    assert nn.cross_entropy([5.0], 0).data == 0.0


# -- binary cross-entropy ------------------------------------------------------------------------


@pytest.mark.parametrize("z", [-6.0, -1.5, -0.1, 0.0, 0.7, 3.0, 8.0])
@pytest.mark.parametrize("y", [0.0, 0.25, 1.0])
def test_bce_and_bce_with_logits_agree_in_value_and_gradient(z, y):
    z1, z2 = Value(z), Value(z)
    a = nn.binary_cross_entropy(z1.sigmoid(), y)
    b = nn.binary_cross_entropy_with_logits(z2, y)
    assert a.data == pytest.approx(b.data, rel=1e-9, abs=1e-12)
    a.backward()
    b.backward()
    sigmoid = 1.0 / (1.0 + math.exp(-z))
    dL_dz = sigmoid - y  # the cross-entropy's gradient wrt z (reference section 3)
    assert z1.grad == pytest.approx(dL_dz, abs=1e-12)
    assert z2.grad == pytest.approx(dL_dz, abs=1e-12)


def test_bce_with_logits_is_stable_for_huge_logits():
    for z, y, want in [(1e4, 0.0, 1e4), (-1e4, 1.0, 1e4), (1e4, 1.0, 0.0), (-1e4, 0.0, 0.0)]:
        v = Value(z)
        loss = nn.binary_cross_entropy_with_logits(v, y)
        assert loss.data == pytest.approx(want)
        loss.backward()
        assert v.grad == pytest.approx((1.0 if z > 0 else 0.0) - y)


def test_bce_at_a_certain_correct_prediction_is_zero():
    for p, y in [(1.0, 1.0), (0.0, 0.0)]:
        prob = Value(p)
        loss = nn.binary_cross_entropy(prob, y)
        assert loss.data == 0.0
        loss.backward()
        assert math.isfinite(prob.grad)


@pytest.mark.parametrize("p, y", [(0.0, 1.0), (1.0, 0.0), (0.0, 0.5), (1.0, 0.3)])
def test_bce_with_an_infinite_loss_raises_and_points_to_the_logits_form(p, y):
    with pytest.raises(ValueError, match="infinite loss; use binary_cross_entropy_with_logits"):
        nn.binary_cross_entropy(Value(p), y)


def test_bce_value_target_is_a_constant():
    prob, y = Value(0.8), Value(1.0)
    nn.binary_cross_entropy(prob, y).backward()
    assert prob.grad == pytest.approx(-1 / 0.8) and y.grad == 0.0


# -- gradcheck on every loss ---------------------------------------------------------------------


@pytest.mark.parametrize("name, fn, xs", [
    ("mse mean", lambda a, b, c: nn.mse_loss([a, b, c], [0.1, -0.4, 2.0]), [0.3, 0.2, -1.0]),
    ("mse sum", lambda a, b: nn.mse_loss([a, b], [1.0, 0.0], reduction="sum"), [0.3, -2.0]),
    ("mse half_sum", lambda a, b: nn.mse_loss([a, b], [0.01, 0.99], reduction="half_sum"), [0.75, 0.77]),
    ("cross_entropy", lambda a, b, c: nn.cross_entropy([a, b, c], 1), [2.0, 3.0, 4.0]),
    ("log_softmax", lambda a, b, c: nn.log_softmax([a, b, c])[0], [0.5, -1.0, 3.0]),
    ("softmax", lambda a, b, c: nn.softmax([a, b, c])[2], [0.5, -1.0, 3.0]),
    ("bce", lambda p: nn.binary_cross_entropy(p, 0.3), [0.6]),
    ("bce y=1", lambda p: nn.binary_cross_entropy(p, 1.0), [0.2]),
    ("bce of sigmoid", lambda z: nn.binary_cross_entropy(z.sigmoid(), 0.0), [1.3]),
    ("bce with logits", lambda z: nn.binary_cross_entropy_with_logits(z, 0.7), [-2.5]),
])
def test_gradcheck_passes_on_every_loss(name, fn, xs):
    assert gradcheck(fn, xs)


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("call, match", [
    (lambda: nn.mse_loss([1.0, 2.0], [1.0]), "pred has 2 values but target has 1"),
    (lambda: nn.mse_loss([1.0], [1.0], reduction="avg"),
     "unknown reduction 'avg'; allowed: 'mean', 'sum', 'half_sum'"),
    (lambda: nn.mse_loss([], []), "pred is empty"),
    (lambda: nn.mse_loss(Value(1.0), [1.0]), "pred must be a list"),
    (lambda: nn.cross_entropy([1.0, 2.0], 2), r"target_index must be in 0\.\.1, got 2"),
    (lambda: nn.cross_entropy([1.0, 2.0], -1), r"target_index must be in 0\.\.1, got -1"),
    (lambda: nn.cross_entropy([1.0, 2.0], 1.0), "target_index must be an integer"),
    (lambda: nn.cross_entropy([], 0), "logits is empty"),
    (lambda: nn.softmax([]), "logits is empty"),
    (lambda: nn.binary_cross_entropy(Value(1.2), 1.0), r"prob must be a number in \[0, 1\], got 1.2"),
    (lambda: nn.binary_cross_entropy(-0.1, 1.0), r"prob must be a number in \[0, 1\], got -0.1"),
    (lambda: nn.binary_cross_entropy(0.5, 2.0), r"target must be a number in \[0, 1\], got 2.0"),
    (lambda: nn.binary_cross_entropy_with_logits(0.5, -1.0), r"target must be a number in \[0, 1\], got -1.0"),
    (lambda: nn.binary_cross_entropy_with_logits(0.5, float("nan")), r"target must be a number in \[0, 1\]"),
])
def test_bad_input_raises_naming_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()
