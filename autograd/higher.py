"""Gradients as values: ``grad`` without touching ``.grad``, and with ``create_graph=True`` as a graph of its own.

``grad(y, x)`` is one reverse pass with its own table of adjoints. With ``create_graph=True`` every
local derivative is the op table's expression (``ops.OPS[op].local``) evaluated on the node's Values
instead of floats, so the gradient is built of ordinary ops and can be differentiated again
(``hessian``), explained, drawn and compiled. The functions an expression calls (``math.exp``,
``_sigmoid``, ...) act on Values through the op whose forward is that function, read from the table.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence

from .core import ops
from .core.construct import apply
from .core.graph import Graph, as_graph
from .core.value import Value

Adjoint = float | Value


class _Missing(Exception):
    """An expression called ``name`` on a Value and no op of the table computes it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def grad(output: Value | Graph, inputs: Value | Sequence[Value], create_graph: bool = False) -> tuple:
    """d output / d each of ``inputs`` (a tuple, also for one input); no ``.grad`` changes.

    ``output`` is a Value or a Graph. Floats by default; with ``create_graph=True`` Values whose graph is
    made of ordinary ops.
    """
    if not isinstance(output, Value | Graph):
        raise TypeError(f"grad: output must be a Value or a Graph, got {type(output).__name__}")
    g = as_graph(output, "grad")
    output, order = g.root, g.order
    inputs = (inputs,) if isinstance(inputs, Value) else tuple(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs must be Values, got {type(x).__name__}")
    needed = _needed(order, inputs)
    if create_graph:
        return _graph_grad(output, inputs, order, needed, g.names)
    adjoint: dict[Value, float] = {output: 1.0}
    for v in reversed(order):  # backward()'s order of operations, so the same floats
        if v not in needed:
            continue
        g = adjoint.get(v, 0.0)
        for child, local in zip(v.inputs, v.local_grads):
            if child in needed:
                adjoint[child] = adjoint.get(child, 0.0) + local * g
    return tuple(adjoint.get(x, 0.0) for x in inputs)


def hessian(output: Value, inputs: Value | Sequence[Value]) -> list[list[float]]:
    """The matrix of second derivatives d2 output / d x_i d x_j (symmetric: the mean of both orders)."""
    inputs = (inputs,) if isinstance(inputs, Value) else tuple(inputs)
    rows = [list(grad(g, inputs)) for g in grad(output, inputs, create_graph=True)]
    n = len(inputs)
    for i in range(n):
        for j in range(i + 1, n):
            rows[i][j] = rows[j][i] = (rows[i][j] + rows[j][i]) / 2.0
    return rows


def _needed(order: list[Value], inputs: tuple[Value, ...]) -> set[Value]:
    """The nodes of ``order`` that are inputs or depend on one: the only ones a gradient flows through."""
    needed = set(inputs)
    for v in order:
        if v not in needed and any(c in needed for c in v.inputs):
            needed.add(v)
    return needed


# -- create_graph=True ----------------------------------------------------------------------------
def _graph_grad(output: Value, inputs: tuple[Value, ...], order: list[Value], needed: set[Value],
                names: dict[Value, str]) -> tuple:
    """The reverse pass on Values. Labels: ``d(out)/d(v)`` on the new adjoint of each labeled node v and
    ``d(u)/d(v)`` on a new local derivative between labeled nodes; the results are named after the inputs."""
    original = set(order)
    top = names[output]
    ns = _namespace()
    parts: dict[Value, list[Adjoint]] = {output: [1.0]}
    adjoint: dict[Value, Adjoint] = {}
    wanted = set(inputs)
    for v in reversed(order):
        if v not in needed:
            continue
        g = _total(parts.pop(v, []))
        if isinstance(g, Value) and g not in original and v.label is not None and v is not output:
            g.label = f"d({top})/d({names[v]})"
        if v in wanted:
            adjoint[v] = g
        if v.op == "" or g == 0.0:
            continue
        ins = v.inputs
        for k, local in _locals(v, ins, needed, ns):
            child = ins[k]
            if isinstance(local, Value) and local not in original and local.label is None \
                    and v.label is not None and child.label is not None:
                local.label = f"d({names[v]})/d({names[child]})"
            parts.setdefault(child, []).append(_product(g, local))
    results = []
    named: set[Value] = set()
    for x in inputs:
        g = adjoint.get(x, 0.0)
        label = f"d({top})/d({names.get(x) or _name(x)})"
        if not isinstance(g, Value):
            g = Value(g, label=label)
        elif g not in original and g not in named:
            g.label = label
        named.add(g)
        results.append(g)
    return tuple(results)


def _name(v: Value) -> str:
    return str(v.label) if v.label is not None else (v.op or "leaf")


def _product(g: Adjoint, local: Adjoint) -> Adjoint:
    """upstream * local, without the factors that are exactly 1 or -1."""
    if type(g) is float and g == 1.0:
        return local
    if type(local) is float:
        if local == 1.0:
            return g
        if local == -1.0:
            return -g
    return g * local


def _total(parts: list[Adjoint]) -> Adjoint:
    """The sum of a node's shares: a float when all are floats, else a Value (one ``sum`` for three or more)."""
    if all(type(p) is float for p in parts):
        total = 0.0
        for p in parts:
            total += p
        return total
    parts = [p for p in parts if not (type(p) is float and p == 0.0)]
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0] + parts[1]
    return apply("sum", parts)


def _locals(v: Value, ins: tuple[Value, ...], needed: set[Value], ns: dict) -> list[tuple[int, Adjoint]]:
    """(index, d v / d input as a Value or float) for each input of ``v`` a gradient flows to."""
    op = ops.OPS[v.op]
    ns["out"], ns["n"] = v, v.param
    found = []
    if op.arity:
        ns["x"] = ins[0]
        ns["y"] = ins[1] if op.arity == 2 else None
        for k, child in enumerate(ins):
            if child in needed:
                found.append((k, _evaluate(op, k, op.local[k], ns)))
        return found
    ns["xs"] = list(ins)
    for k, child in enumerate(ins):
        if child in needed:
            ns["x"], ns["i"] = child, k
            found.append((k, _evaluate(op, k, op.local[0], ns)))
    return found


def _evaluate(op: ops.Op, k: int, expr: str, ns: dict) -> Adjoint:
    """``expr`` (d out / d operand k of an ``op`` node) evaluated on the Values bound in ``ns``."""
    try:
        local = eval(_code(expr), ns)
    except _Missing as e:
        raise TypeError(
            f"grad(create_graph=True): the derivative of {op.name} ({expr}) calls {e.name} on a Value, and no op "
            f"of the table computes {e.name}; to differentiate {op.name} twice, define an op for {e.name} "
            f"(autograd.define_op with forward={e.name}(x))"
        ) from None
    except (ArithmeticError, ValueError) as e:  # a domain check of an op in the gradient graph
        raise type(e)(f"{e} (in d {op.name} / d operand {k} = {expr}, create_graph=True)") from None
    if isinstance(local, bool):
        return float(local)
    if isinstance(local, int):
        return float(local)
    return local


_CODE: dict[str, object] = {}


def _code(expr: str) -> object:
    code = _CODE.get(expr)
    if code is None:
        code = _CODE[expr] = compile(expr, "<local derivative>", "eval")
    return code


# -- functions on Values, from the table ------------------------------------------------------------
_PROVIDERS: dict[tuple, dict[str, str]] = {}


def providers() -> dict[str, str]:
    """Function name (``math.exp``, ``_sigmoid``, ``math.fsum``) -> the op whose forward is that function of
    its operand (``x``, or the list ``xs`` for an n-ary op); the first such op in the table wins."""
    key = tuple((name, op.forward, op.arity, op.param) for name, op in ops.OPS.items())
    found = _PROVIDERS.get(key)
    if found is None:
        found = {}
        for op in ops.OPS.values():
            fn = _forward_function(op)
            if fn is not None and fn not in found:
                found[fn] = op.name
        _PROVIDERS.clear()
        _PROVIDERS[key] = found
    return found


def _forward_function(op: ops.Op) -> str | None:
    """``f`` when the op's forward is ``f(x)`` (``f(xs)`` for n-ary), alone or as a branch of a guard;
    ``f`` is ``math.<name>``, a helper ``_name`` or a builtin such as ``abs``."""
    if op.param or op.arity == 2:
        return None
    operand = "xs" if op.arity == 0 else "x"
    body = ast.parse(op.forward, mode="eval").body
    branches = [body.body, body.orelse] if isinstance(body, ast.IfExp) else [body]
    for node in branches:
        if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords \
                and isinstance(node.args[0], ast.Name) and node.args[0].id == operand:
            func = node.func
            if isinstance(func, ast.Name) or (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                                              and func.value.id == "math"):
                return ast.unparse(func)
    return None


def _has_value(args: tuple) -> bool:
    for a in args:
        if isinstance(a, Value) or (isinstance(a, (list, tuple)) and any(isinstance(b, Value) for b in a)):
            return True
    return False


def _on_values(name: str, fn: Callable) -> Callable:
    """``fn`` on floats; on a Value (or a list holding one) the op that provides ``name``, else _Missing."""

    def call(*args):
        if not _has_value(args):
            return fn(*args)
        op = providers().get(name)
        if op is None or len(args) != 1:
            raise _Missing(name)
        arg = args[0]
        return apply(op, list(arg) if isinstance(arg, (list, tuple)) else [arg])

    call.__name__ = name
    return call


class _Math:
    """``math`` for the expressions: its functions also act on Values (see ``_on_values``)."""

    def __getattr__(self, attr: str) -> object:
        real = getattr(math, attr)
        found = _on_values(f"math.{attr}", real) if callable(real) else real
        setattr(self, attr, found)  # found by ordinary lookup from now on
        return found


_MATH = _Math()


def _float(x):
    if isinstance(x, Value):
        raise _Missing("float")
    return float(x)


def _namespace() -> dict:
    """Where local-derivative expressions run on Values: ``math``, the helpers, ``abs`` and ``float`` lifted
    (``max``, ``min`` and ``len`` work on Values as they are: comparisons read data)."""
    ns = {}
    for key, item in ops.namespace().items():
        if key.startswith("_") and not key.startswith("__") and callable(item):
            ns[key] = _on_values(key, item)
    ns.update(math=_MATH, INF=ops.INF, abs=_on_values("abs", abs), float=_float)
    return ns
