"""compare_with_torch on the user's own ops (autograd.define_op): torch as the second opinion on a new derivative."""

from __future__ import annotations

import math

import pytest

from autograd import OPS, Value, compare_with_torch, define_op

# This file's ops: a sine with the right derivative, one with a wrong one (-cos x: a sign slip), a binary op.
USER_OPS = {
    "torch_test_sin": dict(forward="math.sin(x)", local="math.cos(x)", formula="cos(x)", method="mysin"),
    "torch_test_bad_sin": dict(forward="math.sin(x)", local="-math.cos(x)", formula="-cos(x)", method="badsin"),
    "torch_test_hypot": dict(forward="math.hypot(x, y)", local=("x / out", "y / out"), formula=("x/out", "y/out"),
                             method="hypot",
                             checks=(("x != 0.0 or y != 0.0", ZeroDivisionError, "hypot(0, 0) has no derivative"),)),
}


@pytest.fixture(autouse=True, scope="module")
def user_ops():
    """Define the ops when these tests run (not at collection), and take them out of the table afterwards, so
    that other files' walks over the table see the built-in rows only (the wrong sine above all)."""
    for name, definition in USER_OPS.items():
        define_op(name, **definition)
    yield
    for name, definition in USER_OPS.items():
        OPS.pop(name, None)
        if hasattr(Value, definition["method"]):
            delattr(Value, definition["method"])


def test_a_user_op_with_the_right_derivative_agrees_with_torch(torch):
    c = compare_with_torch(lambda a: a.mysin() * 2, [0.5], torch_fn=lambda a: torch.sin(a) * 2)
    assert c.ok, str(c)
    (df_da,) = c.gradients
    assert df_da.chainrule == pytest.approx(2 * math.cos(0.5), rel=1e-15)


def test_a_user_op_with_a_wrong_derivative_is_not_ok(torch):
    c = compare_with_torch(lambda a: a.badsin() * 2, [0.5], torch_fn=lambda a: torch.sin(a) * 2)
    assert not c.ok
    assert c.value.ok and not c.gradients[0].ok  # the forward is right, the derivative is not
    assert c.gradients[0].chainrule == pytest.approx(-c.gradients[0].torch, rel=1e-15)
    assert c.unchecked == ("torch_test_bad_sin",)  # no Tensor.badsin: torch cannot replay it on its own
    assert "gradient differs for: df/da" in str(c) and "torch_test_bad_sin" in str(c)


def test_torch_ops_lets_the_replay_name_the_wrong_op(torch):
    def fn(a, b):
        return (a * b).badsin() + b.exp()

    c = compare_with_torch(fn, [0.5, 1.5], torch_fn=lambda a, b: torch.sin(a * b) + b.exp(),
                           torch_ops={"torch_test_bad_sin": torch.sin})
    d = c.first_difference
    assert (d.node, d.expression, d.quantity) == ("torch_test_bad_sin#1", "torch_test_bad_sin(mul#1)", "d/dmul#1")
    assert (d.chainrule, d.torch) == (pytest.approx(-math.cos(0.75)), pytest.approx(math.cos(0.75)))
    assert len(c.differences) == 1 and c.unchecked == ()
    assert "first op that differs from torch: torch_test_bad_sin#1" in str(c)


def test_a_binary_user_op_and_a_method_torch_shares(torch):
    c = compare_with_torch(lambda x, y: x.hypot(y) * x.mysin(), [0.3, -0.4],
                           torch_fn=lambda x, y: torch.hypot(x, y) * torch.sin(x))
    assert c.ok, str(c)
