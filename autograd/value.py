"""Value: a scalar that records the op that made it and its local derivatives."""

from __future__ import annotations

import gc
import math
import numbers
from collections.abc import Iterable, Sequence

from . import ops
from .ops import DomainError, Op

Number = int | float


class Value:
    """A scalar node: ``data``, ``grad``, the producing ``op``, its ``inputs`` and ``local_grads``.

    Comparisons (``<``, ``<=``, ``>``, ``>=``) compare ``data`` and are not differentiable;
    ``==`` and ``hash`` are identity-based, so Values work as dict keys.
    """

    __slots__ = ("data", "grad", "label", "op", "inputs", "local_grads")

    def __init__(self, data: Number, label: str | None = None) -> None:
        self.data = _to_float(data)
        self.grad = 0.0
        self.label = label
        self.op = ""
        self.inputs: tuple[Value, ...] = ()
        self.local_grads: tuple[float, ...] = ()

    # -- arithmetic -------------------------------------------------------------------
    def __add__(self, other: Value | Number) -> Value:
        return _apply(ops.ADD, (self, _value(other)))

    def __radd__(self, other: Number) -> Value:
        return _apply(ops.ADD, (_value(other), self))

    def __sub__(self, other: Value | Number) -> Value:
        return _apply(ops.SUB, (self, _value(other)))

    def __rsub__(self, other: Number) -> Value:
        return _apply(ops.SUB, (_value(other), self))

    def __mul__(self, other: Value | Number) -> Value:
        return _apply(ops.MUL, (self, _value(other)))

    def __rmul__(self, other: Number) -> Value:
        return _apply(ops.MUL, (_value(other), self))

    def __truediv__(self, other: Value | Number) -> Value:
        return _apply(ops.DIV, (self, _value(other)))

    def __rtruediv__(self, other: Number) -> Value:
        return _apply(ops.DIV, (_value(other), self))

    def __neg__(self) -> Value:
        return _apply(ops.NEG, (self,))

    def __pow__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return _apply(ops.POW, (self, other))
        return _apply(ops.POWC, (self,), _to_float(other))

    def __rpow__(self, other: Number) -> Value:
        return _apply(ops.RPOWC, (self,), _to_float(other))

    # -- comparisons on data (not differentiable) ----------------------------------------
    def __lt__(self, other: Value | Number) -> bool:
        return self.data < _data(other)

    def __le__(self, other: Value | Number) -> bool:
        return self.data <= _data(other)

    def __gt__(self, other: Value | Number) -> bool:
        return self.data > _data(other)

    def __ge__(self, other: Value | Number) -> bool:
        return self.data >= _data(other)

    # -- functions --------------------------------------------------------------------
    def exp(self) -> Value:
        return _apply(ops.EXP, (self,))

    def log(self) -> Value:
        return _apply(ops.LOG, (self,))

    def sqrt(self) -> Value:
        return _apply(ops.SQRT, (self,))

    def tanh(self) -> Value:
        return _apply(ops.TANH, (self,))

    def sigmoid(self) -> Value:
        return _apply(ops.SIGMOID, (self,))

    def relu(self) -> Value:
        return _apply(ops.RELU, (self,))

    def softplus(self) -> Value:
        return _apply(ops.SOFTPLUS, (self,))

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
    if type(x) is float:
        if x - x == 0.0:
            return x
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
    return Value(x)


def _data(x: Value | Number) -> float:
    return x.data if isinstance(x, Value) else _to_float(x)


def _describe(v: Value) -> str:
    label = f" (label {v.label!r})" if v.label is not None else ""
    return f"{v.data!r}{label}"


def _apply(op: Op, inputs: tuple[Value, ...], param: float | None = None) -> Value:
    """Run ``op`` on ``inputs`` and return the new node; a failed op changes nothing."""
    try:
        if op.arity == 2:
            out, local = op.fn(inputs[0].data, inputs[1].data)
        elif op.arity == 1:
            out, local = op.fn(inputs[0].data) if param is None else op.fn(inputs[0].data, param)
        else:
            out, local = op.fn([v.data for v in inputs])
    except DomainError as e:
        raise _error(op, inputs, param, e.kind, e.reason) from None
    except (ArithmeticError, ValueError) as e:
        if isinstance(e, OverflowError):
            raise _error(op, inputs, param, OverflowError, "result overflows a float") from None
        raise _error(op, inputs, param, type(e), str(e)) from None
    node = Value.__new__(Value if param is None else _ParamValue)
    node.data = out
    node.grad = 0.0
    node.label = None
    node.op = op.name
    node.inputs = inputs
    node.local_grads = local
    if param is not None:
        node._param = param
    return node


def _error(op: Op, inputs: Sequence[Value], param: float | None, kind: type, reason: str) -> Exception:
    got = ", ".join(_describe(v) for v in inputs)
    if param is not None:
        got += f", n={param!r}"
    return kind(f"{op.name}: {reason}, got {got}")


def apply(op_name: str, inputs: Sequence[Value | Number]) -> Value:
    """Apply the n-ary op ``op_name`` (``sum``, ``linear``, ``logsumexp``) to ``inputs``."""
    op = ops.OPS[op_name]
    values = tuple(_value(v) for v in inputs)
    if not values:
        raise ValueError(f"{op_name}: needs at least one input")
    return _apply(op, values)


def sum_values(values: Iterable[Value | Number]) -> Value:
    """One ``sum`` node over all ``values`` (local derivative 1 for each)."""
    return apply("sum", list(values))


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
    push = stack.append
    while stack:
        v = stack.pop()
        if v is None:
            order.append(stack.pop())
        elif v not in seen:
            seen.add(v)
            push(v)
            push(None)
            for child in v.inputs:
                if child not in seen:
                    push(child)
    return order


def backward(root: Value, grad: Number = 1.0) -> list[Value]:
    """Backpropagate ``grad`` from ``root``; returns the topological order it used."""
    grad = _to_float(grad)
    order = topological_order(root)
    gc_was_on = gc.isenabled()
    gc.disable()  # the pass allocates only floats; pausing skips needless full collections
    try:
        kept = [(v, v.grad) for v in order if not v.inputs and v.grad]
        for v in order:
            v.grad = 0.0
        root.grad = grad
        for v in reversed(order):
            g = v.grad
            for child, local in zip(v.inputs, v.local_grads):
                child.grad += local * g
        for v, old in kept:
            v.grad = old + v.grad
    finally:
        if gc_was_on:
            gc.enable()
    return order
