"""define_op: a user's op is an ordinary row of the table, and every feature handles it as a built-in."""

from __future__ import annotations

import inspect
import math
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
from autograd import OPS, Backprop, Value, backward, compile_graph, define_op, explain, gradcheck, to_dot


def define_user_ops() -> None:
    """This file's user-defined ops: unary, binary and n-ary (defined when the tests run, not at collection,
    so that other test files' lists of the table's ops hold the built-in rows only)."""
    global mysin, hypot, vmax, mean
    mysin = define_op("user_sin", forward="math.sin(x)", local="math.cos(x)", formula="cos(x)", method="user_sin")
    hypot = define_op("user_hypot", forward="math.hypot(x, y)", local=("x / out", "y / out"),
                      formula=("x/out", "y/out"),
                      checks=(("x != 0.0 or y != 0.0", ZeroDivisionError, "hypot(0, 0) has no derivative"),))
    vmax = define_op("user_max", arity="n", forward="max(xs)", local="1.0 if x == out else 0.0",
                     formula="1 if x = out else 0", method="user_max")
    mean = define_op("user_mean", arity="n", forward="math.fsum(xs) / len(xs)", local="1.0 / len(xs)",
                     formula="1/n")


@pytest.fixture(autouse=True, scope="module")
def user_ops():
    define_user_ops()


def test_defining_the_same_op_again_gives_the_same_function():
    """A notebook cell run twice: an identical definition is accepted, a different one refused."""
    again = define_op("user_sin", forward="math.sin(x)", local="math.cos(x)", formula="cos(x)", method="user_sin")
    assert again is mysin
    with pytest.raises(ValueError, match="already defined differently"):
        define_op("user_sin", forward="math.sin(x)", local="-math.cos(x)", formula="cos(x)", method="user_sin")


def net(a: Value, b: Value, c: Value) -> Value:
    """A graph through all four user ops and some built-ins."""
    s = a.user_sin() * b
    h = hypot(s, c)
    m = vmax(h, a * 2.0, b - c)
    return mean([m, h, a]) + m.tanh()


POINT = [0.7, -1.3, 2.1]


def test_the_function_and_the_method_apply_the_op():
    x = Value(0.5, label="x")
    for y in (mysin(x), x.user_sin()):
        assert (y.op, y.data, y.local_grads, y.inputs) == ("user_sin", math.sin(0.5), (math.cos(0.5),), (x,))
    assert mysin(0.5).data == math.sin(0.5)  # a number becomes a constant leaf
    h = hypot(3.0, x)
    assert h.data == math.hypot(3.0, 0.5) and h.local_grads == (3.0 / h.data, 0.5 / h.data)
    m = vmax(x, 2.0, -1.0)
    assert (m.data, m.local_grads) == (2.0, (0.0, 1.0, 0.0))
    assert vmax([x, 2.0, -1.0]).data == 2.0  # one iterable, as sum_values takes
    assert x.user_max(3.0).data == 3.0
    assert mean([1.0, 2.0, 6.0]).local_grads == (1 / 3, 1 / 3, 1 / 3)  # reads n = len(xs)


def test_backward_matches_central_differences():
    assert gradcheck(net, POINT)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-3, max_value=3).filter(lambda v: abs(v) > 0.05), min_size=3, max_size=3))
def test_random_points_of_a_graph_of_user_ops_pass_gradcheck(xs):
    assert gradcheck(net, xs, rtol=1e-4, atol=1e-6)


def test_backprop_steps_end_where_backward_does():
    leaves = [Value(x, label=name) for x, name in zip(POINT, "abc")]
    out = net(*leaves)
    out.backward()
    expected = [v.grad for v in leaves]
    for v in leaves:
        v.grad = 0.0
    bp = Backprop(out)
    bp.run()
    assert [v.grad for v in leaves] == expected
    assert any(s.node.op == "user_max" for s in bp.steps)


def test_explain_and_the_picture_show_the_ops():
    a, b, c = (Value(x, label=name) for x, name in zip(POINT, "abc"))
    out = net(a, b, c)
    out.backward()
    e = explain(out, a)
    assert e.total == pytest.approx(a.grad, rel=1e-12)
    dot = to_dot(out, collapse=False)
    assert "user_max" in dot and "user_hypot" in dot and "user_sin" in dot


def test_compile_graph_inlines_user_ops_bit_identically():
    a, b, c = (Value(x, label=name) for x, name in zip(POINT, "abc"))
    out = net(a, b, c)
    backward(out)
    f = compile_graph(out, inputs=[a, b, c])
    loss, grads = f(POINT)
    assert loss == out.data
    assert grads == [a.grad, b.grad, c.grad]


def test_an_nary_op_whose_derivative_is_a_conditional_compiles_right():
    """Pinned: compile emitted ``d_a = 1.0 if a == max_1 else 0.0 * d_max_1`` (gradient 1 instead of 5)."""
    a = Value(3.0, label="a")
    m = vmax(a, 1.0)
    y = m * 5.0
    y.backward()
    assert a.grad == 5.0
    _, grads = compile_graph(y, inputs=[a])([3.0])
    assert grads == [5.0]


def test_op_fn_of_an_op_named_like_a_builtin_does_not_call_itself():
    """Pinned: ``Op.fn`` was ``def max(xs): out = max(xs)``, an infinite recursion."""
    out, local = OPS["user_max"].fn([1.0, 4.0, 2.0])
    assert (out, local) == (4.0, (0.0, 1.0, 0.0))


def test_domain_checks_of_a_user_op_name_the_op_and_operands():
    with pytest.raises(ZeroDivisionError, match=r"user_hypot: hypot\(0, 0\) has no derivative, got 0.0 \(label 'p'\)"):
        hypot(Value(0.0, label="p"), 0.0)


def test_a_user_op_whose_derivative_overflows_says_so():
    recip = define_op("user_recip", forward="1.0 / x", local="-1.0 / (x * x)", formula="-1/x^2")
    with pytest.raises(OverflowError, match="user_recip: its derivative overflows a float"):
        recip(Value(1e-200))


# -- the table holds everything about an op --------------------------------------------------------
def test_method_names_come_from_the_table():
    for op in OPS.values():
        for name in (op.method, op.reflected):
            if name is not None:
                assert getattr(Value, name).__name__ == name


def test_every_generated_function_shows_its_source():
    for fn in (Value.__mul__, Value.__rsub__, Value.tanh, Value.__pow__, Value.user_max, mysin, vmax):
        source = inspect.getsource(fn)
        assert source.startswith("def ") and "out = " in source or "MAKE[" in source
    assert "out = x * y" in inspect.getsource(Value.__mul__)
    assert "math.sin(x)" in inspect.getsource(autograd.core.construct.MAKE["user_sin"])


def test_a_traceback_through_an_op_shows_the_source_line():
    class Boom(float):
        def __mul__(self, other):
            raise RuntimeError("boom")

    v = Value(2.0)
    v.data = Boom(2.0)
    try:
        v * 3.0
    except RuntimeError as e:
        text = "".join(traceback.format_exception(e))
    assert 'File "<chainrule: Value.__mul__>"' in text
    assert "out = x * y" in text  # the line itself, not a bare <string>
    assert "in __mul__" in text


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="2bad", forward="x", local="1.0", formula="1"), "identifier"),
    (dict(name="add", forward="x", local="1.0", formula="1"), "already defined differently"),
    (dict(name="user_bad1", forward="x +", local="1.0", formula="1"), "not a Python expression"),
    (dict(name="user_bad2", forward="x + z", local="1.0", formula="1"), "reads 'z'"),
    (dict(name="user_bad3", forward="x.real", local="1.0", formula="1"), "math.<function>"),
    (dict(name="user_bad4", forward="x", local=("1.0", "1.0"), formula="1", arity=1), "needs 1 local"),
    (dict(name="user_bad5", forward="x", local="1.0", formula="1", method="tanh"), "already has an attribute"),
    (dict(name="user_bad6", forward="x", local="1.0", formula="1", arity=3), "arity"),
])
def test_a_wrong_definition_is_a_value_error_naming_the_part(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=message):
        define_op(name, **kwargs)
    assert name == "add" or name not in OPS  # a refused definition leaves no row behind


def test_a_show_expression_reads_an_nary_node_in_its_operands_names():
    """``show`` is an expression in the operands, as ``forward`` is: ``sum(xs) / len(xs)`` reads (a + b + c) / 3."""
    avg = define_op("user_avg", arity="n", forward="math.fsum(xs) / len(xs)", local="1.0 / len(xs)",
                    formula="1/n", show="sum(xs) / len(xs)")
    a, b, c = Value(1.0, label="a"), Value(2.0, label="b"), Value(6.0, label="c")
    y = avg(a, b * c, c)
    y.label = "y"
    assert str(Backprop(y).step()).startswith("Step 1/2  y = (a + mul#1 + c) / 3   dy/dy = 1")
    assert 'tooltip="(a + b * c + c) / 3"' in to_dot(y)  # the folded picture writes b * c out


def test_the_built_in_nary_ops_read_as_their_rows_say():
    a, b, c = Value(1.0, label="a"), Value(2.0, label="b"), Value(3.0, label="c")
    for v, text in [(autograd.sum_values([a, b, c]), "a + b + c"), (autograd.logsumexp([a, b]), "logsumexp(a, b)"),
                    (autograd.linear([a, b], [c, a], b), "a * c + b * a + b")]:
        assert str(Backprop(v).step()).startswith(f"Step 1/1  {v.op}#1 = {text}   ")


def test_no_reader_special_cases_an_op_by_name():
    """Outside the op table, no module compares a node's op with an op's name: every op is read from its row."""
    import ast
    from pathlib import Path

    names = set(OPS)
    for path in Path(autograd.__file__).parent.rglob("*.py"):
        if path.name == "ops.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(isinstance(a, ast.Attribute) and a.attr in ("op", "name")
                                                     for a in ast.walk(node)):
                texts = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                assert not names & set(texts), f"{path.name}:{node.lineno} compares an op with an op's name"
