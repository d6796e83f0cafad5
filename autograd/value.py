"""Value: a scalar that records the op that made it and its local derivatives; ``backward`` applies the chain rule.

Building a very large graph slows down as Python's cyclic garbage collector rescans every live node
during a full collection: the time per node grows with the graph (about 2.3x from 1,000 to 300,000 chain
steps on Python 3.11); ``gc.disable()`` around building such a graph removes that cost, and is the caller's
choice. ``backward()`` pauses the collector itself while it runs.
"""

# Performance notes (measured with ``python -m benchmarks``): each op's node constructor is generated
# from the op table with the forward and local-derivative expressions inlined; a node is a single
# object (no tuples, no closures, no reference cycles), so a graph is freed by reference counting the
# moment it is dropped and adds one object per node to the cyclic garbage collector's work.

from __future__ import annotations

import gc
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from . import ops
from .ops import DomainError, Op

Number = int | float

_new = object.__new__  # a node without running __init__: the constructors set every slot themselves
_MANY = type("_Many", (), {"__repr__": lambda self: "_MANY"})()  # marks a node with 3 or more inputs
_ZERO = float("0")  # a 0.0 object of its own: a node's grad while backward() runs, and its visited mark
_MAKE: dict[str, Callable] = {}  # op name -> make(inputs[, n]), for apply, node_constructor, _apply (filled at the end)


class Value:
    """A scalar node: ``data``, ``grad``, the producing ``op``, its ``inputs`` and ``local_grads``.

    Comparisons (``<``, ``<=``, ``>``, ``>=``) compare ``data`` and are not differentiable;
    ``==`` and ``hash`` are identity-based, so Values work as dict keys.

    ``inputs`` and ``local_grads`` read (and set) as tuples; a node stores them in place, without
    tuple objects, so that it is one object for the garbage collector (see ``_a`` below).
    """

    # Storage of inputs / local_grads by number of inputs:  0 (a leaf): _a is None;
    # 1: _a, _la and _b is None;  2: _a, _b, _la, _lb;  3 or more: _b is _MANY, _a and _la the tuples.
    __slots__ = ("data", "grad", "label", "op", "_a", "_b", "_la", "_lb")

    def __init__(self, data: Number, label: str | None = None) -> None:
        self.data = _to_float(data)
        self.grad = 0.0
        self.label = label
        self.op = ""
        self._a = None

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The operands of the op that made this node, in order, duplicates kept (``()`` for a leaf)."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        if b is None:
            return (a,)
        return a if b is _MANY else (a, b)

    @inputs.setter
    def inputs(self, inputs: Sequence[Value]) -> None:
        inputs = tuple(inputs)
        if not inputs:
            self._a = None
        elif len(inputs) == 1:
            self._a, self._b = inputs[0], None
        elif len(inputs) == 2:
            self._a, self._b = inputs
        else:
            self._a, self._b = inputs, _MANY

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d self / d input for each of ``inputs``, aligned with it (``()`` for a leaf)."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        if b is None:
            return (self._la,)
        return self._la if b is _MANY else (self._la, self._lb)

    @local_grads.setter
    def local_grads(self, local: Sequence[float]) -> None:
        local = tuple(local)
        if len(local) == 1:
            self._la = local[0]
        elif len(local) == 2:
            self._la, self._lb = local
        elif local:
            self._la = local

    # -- arithmetic and functions ---------------------------------------------------------
    # The operators and exp/log/... are generated from the op table (see _install_methods below):
    # each inlines its op's forward and local-derivative expressions. These stubs are their signatures.
    if TYPE_CHECKING:

        def __add__(self, other: Value | Number) -> Value: ...
        def __radd__(self, other: Number) -> Value: ...
        def __sub__(self, other: Value | Number) -> Value: ...
        def __rsub__(self, other: Number) -> Value: ...
        def __mul__(self, other: Value | Number) -> Value: ...
        def __rmul__(self, other: Number) -> Value: ...
        def __truediv__(self, other: Value | Number) -> Value: ...
        def __rtruediv__(self, other: Number) -> Value: ...
        def __neg__(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def relu(self) -> Value: ...
        def softplus(self) -> Value: ...

        def __pow__(self, other: Value | Number) -> Value: ...  # pow, or pow_const for a number
        def __rpow__(self, other: Number) -> Value: ...  # rpow_const

    # -- comparisons on data (not differentiable) ----------------------------------------
    def __lt__(self, other: Value | Number) -> bool:
        return self.data < _data(other)

    def __le__(self, other: Value | Number) -> bool:
        return self.data <= _data(other)

    def __gt__(self, other: Value | Number) -> bool:
        return self.data > _data(other)

    def __ge__(self, other: Value | Number) -> bool:
        return self.data >= _data(other)

    # -- gradients --------------------------------------------------------------------
    def backward(self, grad: Number = 1.0) -> None:
        """Fill ``.grad`` of every node this one depends on, by the chain rule.

        Leaves accumulate across calls (as in PyTorch); every other node holds the
        gradient of this pass only.
        """
        backward(self, grad)

    def zero_grad(self) -> None:
        """Set ``grad`` to 0.0 on this node and every node it depends on."""
        for v in topological_order(self):
            v.grad = 0.0

    @property
    def param(self) -> float | None:
        """The constant parameter of a ``pow_const`` / ``rpow_const`` node, else None."""
        return None

    def __repr__(self) -> str:
        text = f"Value(data={self.data:.4g}, grad={self.grad:.4g}"
        if self.op:
            text += f", op={self.op!r}"
        if self.label is not None:
            text += f", label={self.label!r}"
        return text + ")"


class _ParamValue(Value):
    """A node of an op with a constant parameter (``x ** 2.0``, ``2.0 ** x``)."""

    __slots__ = ("_param",)

    @property
    def param(self) -> float | None:
        return self._param


def _to_float(x: object) -> float:
    """``x`` as a finite float; TypeError for a non-number (or bool), ValueError for inf / nan."""
    if type(x) is float:
        if x - x == 0.0:
            return x
    elif type(x) is int:  # before the slower abstract check below; float() raises OverflowError past 1e308
        return float(x)
    elif isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"Value data must be a real number (int or float), got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"Value data must be finite, got {x!r}")
    return x


def _value(x: Value | Number) -> Value:
    """A Value as it is, a number as a new constant leaf."""
    if isinstance(x, Value):
        return x
    if type(x) is not float or x - x != 0.0:  # the fast path below is Value(x) for a finite float
        return Value(x)
    leaf = _new(Value)
    leaf.data = x
    leaf.grad = 0.0
    leaf.label = None
    leaf.op = ""
    leaf._a = None
    return leaf


def _data(x: Value | Number) -> float:
    """The float a comparison reads: ``x.data``, or the number itself."""
    return x.data if isinstance(x, Value) else _to_float(x)


def _apply(op: Op, inputs: tuple[Value, ...], param: float | None = None) -> Value:
    """Run ``op`` on ``inputs`` and return the new node; a failed op changes nothing."""
    if param is None:
        return _MAKE[op.name](inputs)
    return _MAKE[op.name](inputs, param)


# -- node constructors generated from the op table ------------------------------------------------
# For each op, one function per entry point (``_apply``, ``a * b``, ``2 * a``, ``a.tanh()``) with the
# op's forward and local-derivative lines (ops.evaluation_lines) inlined: no call into op.fn, no
# intermediate tuple, one object allocated per node. The results are the same floats as op.fn gives.
_OPERANDS = {0: "xs = [v.data for v in ins]", 1: "x = a.data", 2: "x = a.data\ny = b.data"}
_NODE = """node = _new({cls})
node.data = out
node.grad = 0.0
node.label = None
node.op = {name!r}
"""
_STORE = {
    1: "node._a = a\nnode._b = None\nnode._la = la",
    2: "node._a = a\nnode._b = b\nnode._la = la\nnode._lb = lb",
    0: """if len(ins) > 2:
    node._a = ins
    node._b = _MANY
    node._la = local
elif len(ins) == 2:
    node._a, node._b = ins
    node._la, node._lb = local
else:
    node._a = ins[0]
    node._b = None
    node._la = local[0]""",
}


def _generate(op: Op, header: str, prologue: str, ins: str) -> Callable:
    """One constructor of ``op``'s nodes, named and called as ``header`` says.

    ``prologue`` binds the operands ``a``/``b`` (or the tuple ``ins``) and ``n`` for an op with a parameter;
    ``ins`` is the source of the operand tuple an error names.
    """
    param = "n" if op.param else "None"
    body = [
        *prologue.splitlines(),
        *_OPERANDS[op.arity].splitlines(),
        "try:",
        *("    " + line for line in ops.evaluation_lines(op, ("la", "lb")[: op.arity])),
        "except (DomainError, ArithmeticError, ValueError) as e:",
        f"    raise _failed(OP, {ins}, {param}, e) from None",
        *_NODE.format(cls="_ParamValue" if op.param else "Value", name=op.name).splitlines(),
        *_STORE[op.arity].splitlines(),
        *(["node._param = n"] if op.param else []),
        "return node",
    ]
    source = header + "\n" + "\n".join("    " + line for line in body)
    ns = ops.namespace()
    ns.update(OP=op, Value=Value, _ParamValue=_ParamValue, _new=_new, _failed=_failed, _value=_value, _MANY=_MANY,
              _MAKE=_MAKE, _to_float=_to_float)
    exec(source, ns)
    fn = ns[header[4 : header.index("(")]]
    fn.__doc__ = f"The ``{op.name}`` node: {op.show.format(x='x', y='y', n='n', xs='xs', w='w', b='b')}."
    return fn


def _failed(op: Op, inputs: Sequence[Value], param: float | None, e: Exception) -> Exception:
    """The error to raise when ``op`` failed with ``e`` on ``inputs``."""
    if isinstance(e, DomainError):
        return _error(op, inputs, param, e.kind, e.reason)
    if isinstance(e, OverflowError):
        return _error(op, inputs, param, OverflowError, ops.OVERFLOW)
    return _error(op, inputs, param, type(e), str(e))


def _error(op: Op, inputs: Sequence[Value], param: float | None, kind: type, reason: str) -> Exception:
    """``kind("<op>: <reason>, got <operands with their labels>[, n=<param>]")``."""
    got = ", ".join(_describe(v) for v in inputs)
    if param is not None:
        got += f", n={param!r}"
    return kind(f"{op.name}: {reason}, got {got}")


def _describe(v: Value) -> str:
    label = f" (label {v.label!r})" if v.label is not None else ""
    return f"{v.data!r}{label}"


def _maker(op: Op) -> Callable:
    """``make(inputs[, n]) -> node``, the constructor kept in ``_MAKE``."""
    unpack = {0: "", 1: "a, = ins", 2: "a, b = ins"}[op.arity]
    return _generate(op, "def make(ins, n):" if op.param else "def make(ins):", unpack, "ins")


_BINARY_METHODS = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__"}
_UNARY_METHODS = {"neg": "__neg__", "exp": "exp", "log": "log", "sqrt": "sqrt", "tanh": "tanh",
                  "sigmoid": "sigmoid", "relu": "relu", "softplus": "softplus"}
_COERCE_B = "if type(b) is not Value:\n    b = _value(b)"


def _install_methods() -> None:
    """Attach the generated operators and functions to Value."""
    for name, method in _BINARY_METHODS.items():
        op = ops.OPS[name]
        setattr(Value, method, _generate(op, f"def {method}(a, b):", _COERCE_B, "(a, b)"))
        reflected = "__r" + method[2:]
        setattr(Value, reflected, _generate(op, f"def {reflected}(b, a):", "a = _value(a)", "(a, b)"))
    for name, method in _UNARY_METHODS.items():
        setattr(Value, method, _generate(ops.OPS[name], f"def {method}(a):", "", "(a,)"))
    pow_value = ("if type(n) is not float:\n    if isinstance(n, Value):\n        return _MAKE['pow']((a, n))\n"
                 "    n = _to_float(n)\nelif n - n != 0.0:\n    n = _to_float(n)")
    Value.__pow__ = _generate(ops.POWC, "def __pow__(a, n):", pow_value, "(a,)")
    Value.__rpow__ = _generate(ops.RPOWC, "def __rpow__(a, n):", "n = _to_float(n)", "(a,)")


def node_constructor(op_name: str) -> Callable[[tuple[Value, ...]], Value]:
    """The function that makes an ``op_name`` node from a tuple of Values (no conversion of numbers).

    For callers that hold Values already and make many nodes (``nn``'s layers): ``apply`` without its checks.
    """
    op = ops.OPS[op_name]
    if op.param:
        raise ValueError(f"node_constructor: {op_name} has a constant parameter; use the operator (x ** n, n ** x)")
    return _MAKE[op_name]


def apply(op_name: str, inputs: Iterable[Value | Number]) -> Value:
    """Apply the n-ary op ``op_name`` (``sum``, ``linear``, ``logsumexp``) to ``inputs``."""
    make = _MAKE[op_name]
    values = tuple([v if type(v) is Value else _value(v) for v in inputs])
    if not values:
        raise ValueError(f"{op_name}: needs at least one input")
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


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, inputs before the nodes that use them (iterative)."""
    order: list[Value] = []
    seen: set[Value] = set()
    stack: list[Value | None] = [root]
    push, pop, emit, mark = stack.append, stack.pop, order.append, seen.add
    while stack:  # depth-first post-order, the last input explored first
        v = pop()
        if v is None:  # everything pushed after v is done
            emit(pop())
        elif v not in seen:
            mark(v)
            a = v._a
            if a is None:  # a leaf: emitted at once, as pushing it with a marker would do
                emit(v)
                continue
            push(v)
            push(None)
            b = v._b
            if b is None:
                if a not in seen:
                    push(a)
            elif b is _MANY:
                for child in a:
                    if child not in seen:
                        push(child)
            else:
                if a not in seen:
                    push(a)
                if b not in seen:
                    push(b)
    return order


def dependencies(root: Value, stop: Callable[[Value], bool] | None = None) -> set[Value]:
    """``root`` and every node it depends on; the walk does not go below a node other than root where ``stop`` holds."""
    seen = {root}
    stack = [root]
    while stack:
        v = stack.pop()
        if stop is not None and v is not root and stop(v):
            continue
        for c in v.inputs:
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return seen


def _reset_order(root: Value, order: list[Value], kept: list[tuple[Value, float]]) -> None:
    """Fill ``order`` with the non-leaf nodes of ``topological_order(root)``, in its order, and ``kept`` with
    the leaves whose grad was not 0 and that grad.

    Sets every grad to ``_ZERO``, a 0.0 of its own that also marks the node as visited: a reached node
    costs no hash-table lookup and no second pass to reset. Leaves are taken aside when met, not pushed:
    a leaf propagates nothing, so where it stands in the order does not matter. On an interruption the
    caller removes the marks (``_unmark``).
    """
    if root._a is None:
        if root.grad:
            kept.append((root, root.grad))
        root.grad = _ZERO
        return
    stack: list[Value | None] = [root]
    push, pop, emit, keep = stack.append, stack.pop, order.append, kept.append
    while stack:
        v = pop()
        if v is None:
            emit(pop())
            continue
        if v.grad is _ZERO:
            continue
        push(v)
        push(None)
        v.grad = _ZERO
        a = v._a
        b = v._b
        if b is _MANY:
            for child in a:
                g = child.grad
                if g is not _ZERO:
                    if child._a is not None:
                        push(child)
                    else:
                        child.grad = _ZERO
                        if g:
                            keep((child, g))
            continue
        g = a.grad  # one or two inputs: the same steps, written out
        if g is not _ZERO:
            if a._a is not None:
                push(a)
            else:
                a.grad = _ZERO
                if g:
                    keep((a, g))
        if b is not None:
            g = b.grad
            if g is not _ZERO:
                if b._a is not None:
                    push(b)
                else:
                    b.grad = _ZERO
                    if g:
                        keep((b, g))


def _unmark(root: Value, kept: list[tuple[Value, float]]) -> None:
    """Undo an interrupted backward(): no ``_ZERO`` mark stays behind, and the leaves get their old grads."""
    for v in topological_order(root):
        if v.grad is _ZERO:
            v.grad = 0.0
    for v, g in kept:
        v.grad = g


def backward(root: Value, grad: Number = 1.0) -> list[Value]:
    """Backpropagate ``grad`` from ``root``; returns the non-leaf nodes in the order (inputs first) it used.

    The cyclic garbage collector is paused for the duration of the call (and restored as it was):
    the pass only allocates floats and the bookkeeping lists. While the call runs, the grads of the
    graph's nodes serve as its visited marks, so two threads must not run backward() at once on
    graphs that share nodes.
    """
    if type(grad) is not float or grad - grad != 0.0:  # not a finite float: convert or raise
        grad = _to_float(grad)
    gc_was_on = gc.isenabled()
    gc.disable()
    order: list[Value] = []
    kept: list[tuple[Value, float]] = []
    try:
        _reset_order(root, order, kept)
        root.grad = grad
        for v in reversed(order):  # for each input: input.grad += local * v.grad, in input order
            g = v.grad
            b = v._b
            if b is None:
                v._a.grad += v._la * g
            elif b is _MANY:
                for child, local in zip(v._a, v._la):
                    child.grad += local * g
            else:
                v._a.grad += v._la * g
                b.grad += v._lb * g
        for v, old in kept:
            v.grad = old + v.grad
    except BaseException:
        _unmark(root, kept)
        raise
    finally:
        if gc_was_on:
            gc.enable()
    return order


_MAKE.update((name, _maker(op)) for name, op in ops.OPS.items())
_install_methods()
