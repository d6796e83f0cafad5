"""Node constructors generated from the op table: one function per entry point of an op, its lines inlined.

For each op there is ``make(ins)`` (a tuple of Values in, a node out), the function ``define_op`` returns,
and the Value methods it names (``a * b``, ``2 * a``, ``a.tanh()``). Each inlines the op's forward and
local-derivative lines (``ops.evaluation_lines``): no call into ``Op.fn``, no intermediate tuple, one object
allocated per node, the same floats as ``Op.fn``. Their source is registered with linecache, so that
``inspect.getsource(Value.__mul__)`` and tracebacks show it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence

from . import ops
from .ops import DomainError, Op
from .value import MANY, Number, ParamValue, Value, next_seq, to_float

_new = object.__new__  # a node without running __init__: the constructors set every slot themselves
MAKE: dict[str, Callable] = {}  # op name -> make(ins[, n])
FUNCTIONS: dict[str, Callable] = {}  # op name -> the function define_op returned
SPECS: dict[str, tuple[Callable, int, bool]] = {}  # op name -> (make, arity, has a parameter), for apply

_OPERANDS = {0: "xs = [v.data for v in ins]", 1: "x = a.data", 2: "x = a.data\ny = b.data"}
_NODE = """node = _new({cls})
node.data = out
node.grad = 0.0
node.label = None
node.op = {name!r}
node._seq = _next_seq()
"""
_STORE = {
    1: "node._a = a\nnode._b = None\nnode._la = la",
    2: "node._a = a\nnode._b = b\nnode._la = la\nnode._lb = lb",
    0: """if len(ins) > 2:
    node._a = ins
    node._b = MANY
    node._la = local
elif len(ins) == 2:
    node._a, node._b = ins
    node._la, node._lb = local
else:
    node._a = ins[0]
    node._b = None
    node._la = local[0]""",
}


def _generate(op: Op, name: str, args: str, prologue: str, ins: str, what: str) -> Callable:
    """One constructor of ``op``'s nodes: ``def name(args)``, binding the operands ``a``/``b`` (or the tuple
    ``ins``) and ``n`` in ``prologue``; ``ins`` is the source of the operand tuple an error names."""
    param = "n" if op.param else "None"
    body = [
        *prologue.splitlines(),
        *_OPERANDS[op.arity].splitlines(),
        "try:",
        *("    " + line for line in ops.evaluation_lines(op, ("la", "lb")[: op.arity])),
        "except (DomainError, ArithmeticError, ValueError) as e:",
        f"    raise _failed(OP, {ins}, {param}, e) from None",
        *_NODE.format(cls="ParamValue" if op.param else "Value", name=op.name).splitlines(),
        *_STORE[op.arity].splitlines(),
        *(["node._param = n"] if op.param else []),
        "return node",
    ]
    doc = f'"""The ``{op.name}`` node: {_shown(op)}."""'
    source = f"def {name}({args}):\n    {doc}\n" + "".join(f"    {line}\n" for line in body)
    ns = ops.namespace()
    ns.update(OP=op, Value=Value, ParamValue=ParamValue, _new=_new, _failed=_failed, _operand=_operand,
              _param=_param, MANY=MANY, MAKE=MAKE, _next_seq=next_seq)
    return ops.define_function(source, name, ns, what)


def _shown(op: Op) -> str:
    return op.show.replace("{", "").replace("}", "")


def _install(op: Op) -> Callable:
    """Generate ``op``'s constructor, its Value methods and the function that applies it; return that function."""
    for attr in (op.method, op.reflected):
        if attr is not None and hasattr(Value, attr) and attr not in _OBJECT_SLOTS:
            raise ValueError(f"define_op {op.name}: Value already has an attribute {attr!r}")
    unpack = {0: "", 1: "a, = ins", 2: "a, b = ins"}[op.arity]
    MAKE[op.name] = _generate(op, "make", "ins, n" if op.param else "ins", unpack, "ins", f"make {op.name}")
    SPECS[op.name] = (MAKE[op.name], op.arity, op.param)
    function = _apply_function(op)
    FUNCTIONS[op.name] = function
    if op.method is not None:
        setattr(Value, op.method, _method(op))
    if op.reflected is not None:
        coerce = "a = _operand(a, OP, 1)"
        if op.identity is not None:  # sum([...]) starts from the int 0: 0 + v is v, with no constant leaf
            coerce = f"if type(a) is int and a == {op.identity!r}:\n    return b\n" + coerce
        setattr(Value, op.reflected, _generate(op, op.reflected, "b, a", coerce, "(a, b)", f"Value.{op.reflected}"))
    return function


_OBJECT_SLOTS = frozenset(dir(object)) - set(Value.__dict__)  # inherited from object: an op may define them


def _method(op: Op) -> Callable:
    """The Value method of ``op``: ``a.method()``, ``a.method(b)`` / ``a op b``, or ``a.method(n)``."""
    what = f"Value.{op.method}"
    if op.param:
        prologue = "if type(n) is not float or n - n != 0.0:\n"
        if op.value_param is not None:
            prologue += f"    if isinstance(n, Value):\n        return MAKE[{op.value_param!r}]((a, n))\n"
        prologue += "    n = _param(n, OP)"
        return _generate(op, op.method, "a, n", prologue, "(a,)", what)
    if op.arity == 1:
        return _generate(op, op.method, "a", "", "(a,)", what)
    if op.arity == 2:
        return _generate(op, op.method, "a, b", "if type(b) is not Value:\n    b = _operand(b, OP, 2)", "(a, b)",
                         what)
    return _generate(op, op.method, "a, *rest", "ins = (a, *[_operand(v, OP, k + 2) for k, v in enumerate(rest)])",
                     "ins", what)


def _apply_function(op: Op) -> Callable:
    """``f(x)``, ``f(x, y)``, ``f(x, n)`` or ``f(*xs)`` / ``f(iterable)``: the op on Values and numbers."""
    if op.arity == 0:
        args, body = "*xs", (f"if len(xs) == 1 and not isinstance(xs[0], (Value, numbers.Real)):\n"
                             f"    xs = tuple(xs[0])\n"
                             f"if not xs:\n"
                             f"    raise ValueError({op.name + ': needs at least one operand'!r})\n"
                             f"return MAKE[{op.name!r}](tuple([_operand(v, OP, k + 1) for k, v in enumerate(xs)]))")
    elif op.param:
        args, body = "x, n", f"return MAKE[{op.name!r}]((_operand(x, OP, 1),), _param(n, OP))"
    elif op.arity == 1:
        args, body = "x", f"return MAKE[{op.name!r}]((_operand(x, OP, 1),))"
    else:
        args, body = "x, y", f"return MAKE[{op.name!r}]((_operand(x, OP, 1), _operand(y, OP, 2)))"
    source = (f"def {op.name}_({args}):\n    \"\"\"Apply ``{op.name}``: {_shown(op)}.\"\"\"\n"
              + "".join(f"    {line}\n" for line in body.splitlines()))
    ns = {"MAKE": MAKE, "OP": op, "_operand": _operand, "_param": _param, "Value": Value, "numbers": numbers}
    return ops.define_function(source, op.name, ns, f"apply {op.name}")


# -- operands and errors -------------------------------------------------------------------------------
def _operand(x: object, op: Op, position: int) -> Value:
    """A Value as it is, a number as a new constant leaf; anything else a TypeError naming the op and operand."""
    if isinstance(x, Value):
        return x
    if type(x) is float and x - x == 0.0:
        leaf = _new(Value)
        leaf.data = x
        leaf.grad = 0.0
        leaf.label = None
        leaf.op = ""
        leaf._a = None
        leaf._seq = next_seq()
        return leaf
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{op.name}: operand {position} must be a Value or a real number, got {type(x).__name__}")
    return Value(to_float(x, f"{op.name}: operand {position}"))


def _param(n: object, op: Op) -> float:
    if type(n) is float and n - n == 0.0:  # a finite float as it is, without building the message (saves 0.1 us)
        return n
    if type(n) is int:  # x ** 2: the common case, without building the message
        try:
            return float(n)
        except OverflowError:
            pass
    return to_float(n, f"{op.name}: the constant parameter")


def _failed(op: Op, inputs: Sequence[Value], param: float | None, e: Exception) -> Exception:
    """The error to raise when ``op`` failed with ``e`` on ``inputs``."""
    for k, v in enumerate(inputs, 1):  # a nan or inf operand (set by hand, or by a step on an infinite gradient)
        if not (isinstance(v.data, float) and math.isfinite(v.data)):
            return ValueError(f"{op.name}: operand {k}{_label(v)} is not a finite number: {v.data!r}")
    if isinstance(e, DomainError):
        return _error(op, inputs, param, e.kind, e.reason)
    if isinstance(e, OverflowError):
        return _error(op, inputs, param, OverflowError, ops.OVERFLOW)
    return _error(op, inputs, param, type(e), str(e))


def _error(op: Op, inputs: Sequence[Value], param: float | None, kind: type, reason: str) -> Exception:
    """``kind("<op>: <reason>, got <operands with their labels>[, n=<param>]")``."""
    got = ", ".join(f"{v.data!r}{_label(v)}" for v in inputs)
    if param is not None:
        got += f", n={param!r}"
    return kind(f"{op.name}: {reason}, got {got}")


def _label(v: Value) -> str:
    return f" (label {v.label!r})" if v.label is not None else ""


# -- the public entry points -----------------------------------------------------------------------------
def node_constructor(op_name: str) -> Callable[[tuple[Value, ...]], Value]:
    """The function that makes an ``op_name`` node from a tuple of Values (no conversion of numbers).

    For callers that hold Values already and make many nodes (``nn``'s layers): ``apply`` without its checks.
    """
    op = ops.OPS[op_name]
    if op.param:
        raise ValueError(f"node_constructor: {op_name} has a constant parameter; use the operator (x ** n, n ** x)")
    return MAKE[op_name]


def apply(op_name: str, inputs: Iterable[Value | Number], param: Number | None = None) -> Value:
    """Apply the op ``op_name`` to ``inputs`` (and its constant parameter, for an op that has one)."""
    spec = SPECS.get(op_name)
    if spec is None:
        raise ValueError(f"apply: no op named {op_name!r}; the table has {', '.join(sorted(ops.OPS))}")
    make, arity, has_param = spec
    values = tuple(inputs)
    for v in values:
        if not isinstance(v, Value):  # numbers become constant leaves; anything else is named with its position
            op = ops.OPS[op_name]
            values = tuple([_operand(v, op, k) for k, v in enumerate(values, 1)])
            break
    if not values:
        raise ValueError(f"{op_name}: needs at least one input")
    if arity and len(values) != arity:
        raise ValueError(f"{op_name}: takes {arity} operand(s), got {len(values)}")
    if has_param:
        if param is None:
            raise ValueError(f"{op_name}: needs its constant parameter")
        return make(values, _param(param, ops.OPS[op_name]))
    return make(values)


def sum_values(values: Iterable[Value | Number]) -> Value:
    """One ``sum`` node over all ``values`` (local derivative 1 for each)."""
    return apply("sum", values)


def linear(weights: Sequence[Value | Number], xs: Sequence[Value | Number], bias: Value | Number) -> Value:
    """One ``linear`` node ``w . x + b``: the net input of a neuron."""
    if len(weights) != len(xs):
        raise ValueError(f"linear: {len(weights)} weights but {len(xs)} inputs")
    return apply("linear", [*weights, *xs, bias])


def logsumexp(values: Sequence[Value | Number]) -> Value:
    """One stable ``logsumexp`` node: ``log(sum(exp(x_i)))``, local derivatives softmax(x)."""
    return apply("logsumexp", values)


for _op in ops.OPS.values():
    _install(_op)
ops._INSTALL[:] = [_install, FUNCTIONS.__getitem__]
