"""compare_with_torch: torch (float64) as a second opinion on a function's value and every input's gradient."""

from __future__ import annotations

import math

import pytest

import autograd
from autograd import Value, compare_with_torch, linear, logsumexp, sum_values

# Each function runs unchanged on Values and on torch tensors: the op methods share PyTorch's names.
STANDARD = {
    "exp": (lambda a: a.exp(), [0.7]),
    "log": (lambda a: a.log(), [2.5]),
    "tanh": (lambda a: a.tanh(), [-0.4]),
    "sigmoid": (lambda a: a.sigmoid(), [1.3]),
    "relu_positive": (lambda a: a.relu() * 3, [0.8]),
    "relu_negative": (lambda a: a.relu() + a, [-0.8]),
    "sqrt": (lambda a: a.sqrt(), [3.0]),
    "add_sub": (lambda a, b: a + b - 2.0 - (1.5 - a) + (3 + b), [0.3, -1.1]),
    "mul_div": (lambda a, b: a * b / 2.0 + 3.0 / b - a / b * 4, [0.3, -1.1]),
    "neg": (lambda a: -a * a, [1.7]),
    "pow": (lambda a, b: a ** 3 + a ** -0.5 + a ** b + 2 ** b, [1.4, 0.6]),
    "sin_cos_abs": (lambda a: a.sin() * a.cos() + abs(a) * 3, [-0.9]),
    "chain": (lambda x, w, b: ((x * w + b).tanh().exp() + (x * x + 1).log() * (w * w + 0.5).sqrt()).sigmoid(),
              [0.5, -1.5, 0.25]),
}


@pytest.mark.parametrize("name", list(STANDARD))
def test_standard_ops_agree_with_torch(torch, name):
    fn, inputs = STANDARD[name]
    c = compare_with_torch(fn, inputs)
    assert c.ok, str(c)
    assert len(c.gradients) == len(inputs)
    assert all(p.ok for p in c.gradients)
    assert c.first_difference is None and str(c).startswith("chainrule and torch agree")


def test_the_pairs_hold_both_numbers(torch):
    c = compare_with_torch(lambda x, y: x * y + y.exp(), [2.0, 0.5])
    e = math.exp(0.5)
    assert c.value.chainrule == pytest.approx(1.0 + e) and c.value.torch == pytest.approx(1.0 + e)
    df_dx, df_dy = c.gradients
    assert (df_dx.name, df_dx.chainrule, df_dx.torch) == ("df/dx", 0.5, 0.5)
    assert df_dy.name == "df/dy" and df_dy.torch == pytest.approx(2.0 + e, abs=1e-15)


def test_inputs_are_named_by_their_labels_and_left_untouched(torch):
    w = Value(-0.3, label="w5")
    c = compare_with_torch(lambda a, b: a * b, [w, 4.0])
    assert [p.name for p in c.gradients] == ["df/dw5", "df/db"]
    assert w.grad == 0.0  # fresh leaves were used


def test_an_unused_input_has_gradient_zero_in_both(torch):
    c = compare_with_torch(lambda a, b: a.exp(), [0.1, 0.2])
    assert c.ok and c.gradients[1].chainrule == 0.0 and c.gradients[1].torch == 0.0


def test_nary_ops_against_a_torch_function(torch):
    def fn(a, b, c):
        return sum_values([a, b, c]) * linear([a, b], [c, 2.0], 0.5) + logsumexp([a, b, c])

    def torch_fn(a, b, c):
        return (a + b + c) * (a * c + b * 2.0 + 0.5) + torch.logsumexp(torch.stack([a, b, c]), 0)

    assert compare_with_torch(fn, [0.2, -0.7, 1.1], torch_fn=torch_fn).ok


def plant_local_derivative(node: Value, local: float) -> None:
    """Overwrite a one-input node's stored local derivative: a planted bug for compare_with_torch to find."""
    try:
        node.local_grads = (local,)
    except AttributeError:  # an engine that stores it in a slot without a setter
        node._la = local


def wrong_tanh_derivative(a, b):
    """tanh(a * b) + exp(b), with tanh's local derivative overwritten by a wrong number."""
    t = (a * b).tanh()
    plant_local_derivative(t, 0.5)  # the true one is 1 - tanh(a*b)^2
    return t + b.exp()


def test_a_wrong_local_derivative_is_not_ok_and_the_table_says_where(torch):
    c = compare_with_torch(wrong_tanh_derivative, [0.3, 1.7])
    assert not c.ok and not c
    assert c.value.ok  # only the backward pass is wrong
    dE_da, dE_db = c.gradients
    assert not dE_da.ok and not dE_db.ok
    d = c.first_difference
    assert (d.node, d.expression, d.quantity, d.chainrule) == ("tanh#1", "tanh(mul#1)", "d/dmul#1", 0.5)
    assert d.torch == pytest.approx(1 - math.tanh(0.51) ** 2, abs=1e-15)
    text = str(c)
    assert text.startswith("chainrule and torch DIFFER")
    assert "gradient differs for: df/da, df/db" in text
    assert "first op that differs from torch: tanh#1 = tanh(mul#1) at mul#1 = 0.51" in text
    assert "DIFFERS" in text.splitlines()[3] and "DIFFERS" in text.splitlines()[4]


def test_the_first_op_whose_value_differs_is_named_not_the_ones_after_it(torch):
    def fn(a, b):
        e = a.exp()
        e.label = "e"
        e.data += 1e-6  # a wrong forward value; everything after it is computed from it correctly
        return (e * b).tanh()

    c = compare_with_torch(fn, [0.4, 0.9], torch_fn=lambda a, b: (a.exp() * b).tanh())
    assert not c.ok and not c.value.ok
    assert len(c.differences) == 1
    assert (c.first_difference.node, c.first_difference.quantity) == ("e", "value")


def test_different_functions_are_reported_as_such(torch):
    c = compare_with_torch(lambda x: x.exp(), [0.3], torch_fn=lambda x: x.exp() * 1.0000001)
    assert not c.ok and c.first_difference is None
    assert "fn and torch_fn compute different things" in str(c)


def test_an_op_torch_has_no_method_for_is_listed_and_torch_ops_replays_it(torch):
    softplus = torch.nn.functional.softplus
    assert compare_with_torch(lambda x: x.softplus() * 2, [0.3], torch_fn=lambda x: softplus(x) * 2).ok

    def broken(x):
        s = x.softplus()
        plant_local_derivative(s, 1.0)
        return s * 2

    c = compare_with_torch(broken, [0.3], torch_fn=lambda x: softplus(x) * 2)
    assert not c.ok and c.first_difference is None and c.unchecked == ("softplus",)
    assert "not replayed in torch" in str(c) and "softplus" in str(c)
    c = compare_with_torch(broken, [0.3], torch_fn=lambda x: softplus(x) * 2, torch_ops={"softplus": softplus})
    assert c.first_difference.node == "softplus#1" and c.unchecked == ()


def test_tolerances_are_the_callers(torch):
    loose = compare_with_torch(lambda x: x.exp(), [0.3], torch_fn=lambda x: x.exp() * (1 + 1e-8), rtol=1e-6)
    assert loose.ok
    assert not compare_with_torch(lambda x: x.exp(), [0.3], torch_fn=lambda x: x.exp() * (1 + 1e-8)).ok


def test_a_function_torch_cannot_run_asks_for_torch_fn(torch):
    with pytest.raises(TypeError, match="fn does not run on torch tensors.*torch_fn"):
        compare_with_torch(lambda x: x.softplus(), [0.3])


def test_fn_must_return_a_value(torch):
    with pytest.raises(TypeError, match="fn must return a Value"):
        compare_with_torch(lambda x: 1.0, [0.3])


def test_a_domain_error_is_chainrules_not_a_silent_nan(torch):
    with pytest.raises(ValueError, match="log: input must be > 0"):
        compare_with_torch(lambda x: x.log(), [-1.0])


def test_exported_from_autograd():
    assert autograd.compare_with_torch is compare_with_torch and "Comparison" in autograd.__all__
