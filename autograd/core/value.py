"""Value: a scalar that records the op that made it and its local derivatives; ``backward`` applies the chain rule.

The ops themselves (``+``, ``*``, ``exp``, ...) are rows of the op table (``ops.py``); ``construct.py``
turns each row into the node constructor and the methods attached to Value.
"""

from __future__ import annotations

import itertools
import math
import numbers
from threading import get_ident

Number = int | float

MANY = type("Many", (), {"__repr__": lambda self: "MANY"})()  # marks a node with 3 or more inputs
_zero = float  # _zero() makes a new 0.0 object each call
_PASSES: list[tuple[int, list, list]] = []  # (thread, leaves, their old grads) of each backward() under way
next_seq = itertools.count(1).__next__  # every node's construction number (readable names count in this order)


class Value:
    """A scalar node: ``data``, ``grad``, the producing ``op``, its ``inputs`` and ``local_grads``.

    Comparisons (``<``, ``<=``, ``>``, ``>=``) compare ``data`` and are not differentiable;
    ``==`` and ``hash`` are identity-based, so Values work as dict keys.
    """

    # Storage of inputs / local_grads by number of inputs, without tuple objects (one object per node):
    # 0 (a leaf): _a is None;  1: _a, _la and _b is None;  2: _a, _b, _la, _lb;  3 or more: _b is MANY,
    # _a and _la the tuples. _seq numbers nodes in the order they were made.
    __slots__ = ("data", "grad", "label", "op", "_a", "_b", "_la", "_lb", "_seq")

    def __init__(self, data: Number, label: str | None = None) -> None:
        self.data = to_float(data)
        self.grad = 0.0
        self.label = label
        self.op = ""
        self._a = None
        self._seq = next_seq()

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The operands of the op that made this node, in order, duplicates kept (``()`` for a leaf)."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        if b is None:
            return (a,)
        return a if b is MANY else (a, b)

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d self / d input for each of ``inputs``, aligned with it (``()`` for a leaf)."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        if b is None:
            return (self._la,)
        return self._la if b is MANY else (self._la, self._lb)

    @property
    def param(self) -> float | None:
        """The constant parameter of an op that has one (``x ** 2.0``, ``2.0 ** x``), else None."""
        return None

    # -- comparisons on data (not differentiable) ----------------------------------------
    def __lt__(self, other: Value | Number) -> bool:
        return self.data < _data(other)

    def __le__(self, other: Value | Number) -> bool:
        return self.data <= _data(other)

    def __gt__(self, other: Value | Number) -> bool:
        return self.data > _data(other)

    def __ge__(self, other: Value | Number) -> bool:
        return self.data >= _data(other)

    def __bool__(self) -> bool:
        """``data != 0``, as PyTorch's one-element tensors (not differentiable)."""
        return self.data != 0.0

    # Leaving the graph silently is refused: float(v), int(v), round(v) and math.exp(v) raise.
    def __float__(self) -> float:
        raise TypeError(_LEAVES_GRAPH.format(what="float()"))

    def __int__(self) -> int:
        raise TypeError(_LEAVES_GRAPH.format(what="int()"))

    def __index__(self) -> int:
        raise TypeError(_LEAVES_GRAPH.format(what="an integer index"))

    def __round__(self, ndigits: int | None = None) -> float:
        raise TypeError(_LEAVES_GRAPH.format(what="round()"))

    def __complex__(self) -> complex:
        raise TypeError(_LEAVES_GRAPH.format(what="complex()"))

    # -- gradients --------------------------------------------------------------------
    def backward(self, grad: Number = 1.0) -> None:
        """Fill ``.grad`` of every node this one depends on, by the chain rule.

        Leaves accumulate across calls (as in PyTorch); every other node holds the gradient of this pass only.
        """
        backward(self, grad)

    def zero_grad(self) -> None:
        """Set ``grad`` to 0.0 on this node and every node it depends on."""
        _finish_interrupted()
        for v in topological_order(self):
            v.grad = 0.0

    def __repr__(self) -> str:
        text = f"Value(data={_short(self.data)}, grad={_short(self.grad)}"
        if self.op:
            text += f", op={self.op!r}"
        if self.label is not None:
            text += f", label={self.label!r}"
        return text + ")"


_LEAVES_GRAPH = ("{what} of a Value would leave the graph: use v.data for its number, or stay in the graph "
                 "with the Value's methods (v.exp(), v.log(), v.tanh(), ...)")


class ParamValue(Value):
    """A node of an op with a constant parameter (``x ** 2.0``, ``2.0 ** x``)."""

    __slots__ = ("_param",)

    @property
    def param(self) -> float | None:
        return self._param


def _short(x: object) -> str:
    """A number for ``repr``: 4 significant digits; anything else (a user may assign any object) as its repr."""
    try:
        return f"{x:.4g}"
    except (TypeError, ValueError):
        return repr(x)


def to_float(x: object, what: str = "Value data") -> float:
    """``x`` as a finite float: TypeError for a non-number (or bool), ValueError for inf, nan or a magnitude
    beyond a float's. ``what`` names the number in the message."""
    if type(x) is float:
        if x - x == 0.0:
            return x
    elif type(x) is int:  # before the slower abstract check below
        try:
            return float(x)
        except OverflowError:
            raise ValueError(f"{what} must fit in a float (magnitude below 1.8e308), got {_magnitude(x)}") from None
    elif isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number (int or float), got {type(x).__name__}")
    try:
        x = float(x)
    except OverflowError:
        raise ValueError(f"{what} must fit in a float (magnitude below 1.8e308), got {_magnitude(x)}") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x!r}")
    return x


def _magnitude(x: numbers.Real) -> str:
    """How large a number too large for a float is, without writing it out in full."""
    if isinstance(x, numbers.Rational):
        digits = (abs(x.numerator).bit_length() - x.denominator.bit_length()) * math.log10(2)
        return f"a {type(x).__name__} of about 1e{int(digits)}"
    return f"a {type(x).__name__} too large for a float"


def _data(x: Value | Number) -> float:
    """The float a comparison reads: ``x.data``, or the number itself."""
    return x.data if isinstance(x, Value) else to_float(x, "a compared number")


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
            elif b is MANY:
                for child in a:
                    if child not in seen:
                        push(child)
            else:
                if a not in seen:
                    push(a)
                if b not in seen:
                    push(b)
    return order


def _reset_order(root: Value, mark: float, order: list[Value], leaves: list[Value], olds: list[float]) -> None:
    """Fill ``order`` with the non-leaf nodes of ``topological_order(root)``, in its order, and ``leaves`` /
    ``olds`` with the leaves reached and their grads before the pass.

    Sets every grad to ``mark``, a 0.0 of this pass's own that also marks the node as visited: a reached node
    costs no hash-table lookup and no second pass to reset. A mark left by an interrupted pass is a plain 0.0
    to every later pass. Leaves are taken aside when met: a leaf propagates nothing, so where it stands in
    the order does not matter.
    """
    if root._a is None:
        leaves.append(root)
        olds.append(root.grad)
        root.grad = mark
        return
    stack: list[Value | None] = [root]
    # stack.append(v), not an alias push(v): 3.11 specializes the method call (2-2-2 graph 4.2 -> 3.9 us)
    while stack:
        v = stack.pop()
        if v is None:
            order.append(stack.pop())
            continue
        if v.grad is mark:
            continue
        stack.append(v)
        stack.append(None)
        v.grad = mark
        a = v._a
        b = v._b
        if b is MANY:
            for child in a:
                g = child.grad
                if g is not mark:
                    if child._a is not None:
                        stack.append(child)
                    else:
                        leaves.append(child)
                        olds.append(g)
                        child.grad = mark
            continue
        g = a.grad  # one or two inputs: the same steps, written out (a measured 13% of a chain's backward)
        if g is not mark:
            if a._a is not None:
                stack.append(a)
            else:
                leaves.append(a)
                olds.append(g)
                a.grad = mark
        if b is not None:
            g = b.grad
            if g is not mark:
                if b._a is not None:
                    stack.append(b)
                else:
                    leaves.append(b)
                    olds.append(g)
                    b.grad = mark


def _undo(leaves: list[Value], olds: list[float]) -> None:
    """Give the leaves of an interrupted pass their grads from before it (an interrupt of the undo is retried).

    A leaf's old grad is recorded before its grad changes: a leaf listed without one (the pass was cut between
    the two) still has its old grad.
    """
    while True:
        try:
            for i in range(len(olds)):
                leaves[i].grad = olds[i]
            return
        except KeyboardInterrupt:
            continue


def _finish_interrupted() -> None:
    """Undo every pass of this thread that an interrupt left registered (one escaped even its undo)."""
    me = get_ident()
    for entry in [e for e in _PASSES if e[0] == me]:
        _undo(entry[1], entry[2])
        _PASSES.remove(entry)


def backward(root: Value, grad: Number = 1.0) -> list[Value]:
    """Backpropagate ``grad`` from ``root``; returns the non-leaf nodes in the order (inputs first) it used.

    An interrupted call (Ctrl-C, at any instant) gives every leaf back its grad from before the call (should an
    interrupt escape even that undo, the next backward() or zero_grad() in the thread completes it). While a
    call runs, the grads of its graph serve as its visited marks: two threads must not run backward() at once
    on graphs that share nodes. The pass allocates no object the cyclic collector tracks, and leaves the
    collector alone.
    """
    if type(grad) is not float or grad - grad != 0.0:  # not a finite float: convert or raise
        grad = to_float(grad, "backward: the gradient")
    if _PASSES:
        _finish_interrupted()
    mark = _zero()  # a new 0.0 object, this pass's own visited mark (a literal 0.0 would be one shared object)
    order: list[Value] = []
    leaves: list[Value] = []
    olds: list[float] = []
    entry = (get_ident(), leaves, olds)
    _PASSES.append(entry)  # registered before anything changes: whatever happens next can be undone
    try:
        _reset_order(root, mark, order, leaves, olds)
        root.grad = grad
        for v in reversed(order):  # for each input: input.grad += local * v.grad, in input order
            g = v.grad
            b = v._b
            if b is None:
                v._a.grad += v._la * g
            elif b is MANY:
                ins = v._a
                local = v._la
                for i in range(len(ins)):
                    ins[i].grad += local[i] * g
            else:
                v._a.grad += v._la * g
                b.grad += v._lb * g
        for leaf, old in zip(leaves, olds):  # cut short here, the undo still puts back every old grad
            leaf.grad = old + leaf.grad
        _PASSES.remove(entry)
    except BaseException:
        _undo(leaves, olds)
        _PASSES.remove(entry)
        raise
    return order
