"""Errors that name the problem, and a student's natural moves at the prompt, each answered as expected."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from autograd import Value, backward


# -- x ** 0, and which part overflows -----------------------------------------------------------------
@pytest.mark.parametrize("x", [0.0, 5e-324, -2.0, 3.0])
def test_x_to_the_power_0_is_1_with_derivative_0(x):
    y = Value(x) ** 0
    assert (y.data, y.local_grads) == (1.0, (0.0,))  # as in PyTorch


def test_an_overflowing_derivative_is_not_called_an_overflowing_result():
    with pytest.raises(OverflowError, match="pow: its derivative overflows a float, got 5e-324, 5e-324"):
        Value(5e-324) ** Value(5e-324)
    with pytest.raises(OverflowError, match="exp: result overflows a float"):
        Value(1000.0).exp()


# -- numbers too large for a float --------------------------------------------------------------------
@pytest.mark.parametrize("build", [
    lambda: Value(10**400),
    lambda: Value(1.0) + 10**400,
    lambda: Value(Fraction(10**400)),
    lambda: Value(-(10**5000)),  # more digits than Python turns into a string
])
def test_a_number_beyond_a_float_is_a_value_error_naming_its_magnitude(build):
    with pytest.raises(ValueError, match=r"must fit in a float \(magnitude below 1.8e308\), got an? \w+ of about 1e"):
        build()


# -- the op and the operand in every message ----------------------------------------------------------
@pytest.mark.parametrize("build, message", [
    (lambda v: v + None, "add: operand 2 must be a Value or a real number, got NoneType"),
    (lambda v: None - v, "sub"),
    (lambda v: v * "2", "mul: operand 2 must be a Value or a real number, got str"),
    (lambda v: "2" * v, "mul: operand 1 must be a Value or a real number, got str"),
    (lambda v: v / True, "div: operand 2 must be a Value or a real number, got bool"),
    (lambda v: v ** "2", "pow_const: the constant parameter must be a real number"),
])
def test_a_wrong_operand_names_the_op_and_its_position(build, message):
    with pytest.raises(TypeError) as info:
        build(Value(1.0))
    assert message in str(info.value)


def test_backward_speaks_of_the_gradient():
    with pytest.raises(TypeError, match="backward: the gradient must be a real number .*got bool"):
        Value(1.0).backward(True)
    with pytest.raises(ValueError, match="backward: the gradient must be finite"):
        backward(Value(1.0), math.inf)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_parameter_that_became_non_finite_is_named(bad):
    w = Value(0.5, label="w")
    w.data = bad  # e.g. after an optimizer step on an infinite gradient
    with pytest.raises(ValueError, match=rf"mul: operand 1 \(label 'w'\) is not a finite number: {bad!r}"):
        w * 2.0
    with pytest.raises(ValueError, match=r"log: operand 1 \(label 'w'\) is not a finite number"):
        w.log()


# -- leaving the graph, truth, repr, sum ---------------------------------------------------------------
@pytest.mark.parametrize("leave, what", [
    (float, "float()"), (int, "int()"), (round, "round()"), (math.exp, "float()"), (math.sqrt, "float()"),
    (complex, "complex()"),
])
def test_python_functions_that_would_leave_the_graph_say_what_to_use(leave, what):
    with pytest.raises(TypeError) as info:
        leave(Value(2.0))
    assert str(info.value).startswith(what) and "v.data" in str(info.value) and "v.exp()" in str(info.value)


def test_bool_is_data_not_zero_as_in_pytorch():
    assert bool(Value(2.0)) and bool(Value(-1e-300)) and not bool(Value(0.0))


def test_abs_sin_cos_are_ops_with_their_derivatives():
    x = Value(-0.5, label="x")
    assert abs(x).op == "abs" and abs(x).local_grads == (-1.0,)
    assert abs(Value(0.0)).local_grads == (0.0,)  # 0 at 0, as PyTorch
    assert x.sin().local_grads == (math.cos(-0.5),)
    assert x.cos().local_grads == (-math.sin(-0.5),)


def test_repr_survives_data_that_is_not_a_number():
    v = Value(1.0, label="v")
    v.data = "abc"
    assert repr(v) == "Value(data='abc', grad=0, label='v')"


def test_sum_of_values_adds_no_hidden_zero_leaf():
    a, b, c = Value(1.0, label="a"), Value(2.0, label="b"), Value(3.0, label="c")
    s = sum([a, b, c])
    assert s.data == 6.0
    assert s.inputs[1] is c and s.inputs[0].inputs == (a, b)  # (a + b) + c: no constant 0 anywhere
    assert sum([a]) is a
    assert (0.0 + a).inputs[0].data == 0.0  # only the int 0 that sum() starts from is dropped
