"""compare_with_torch: a function's value and gradients from chainrule and from PyTorch (float64), side by side.

When they differ, chainrule's graph is replayed op by op in torch (each node's op on its own operands'
values) to find the first op whose value or local derivative torch computes differently.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

from .core import ops
from .core.graph import Graph
from .core.value import Number, Value
from .text import expression, operand_text

INSTALL_HINT = "pip install 'chainrule[torch]' (from a checkout: pip install -e '.[torch]')"


def import_torch(feature: str) -> ModuleType:
    """``import torch``, or an ImportError saying that ``feature`` needs the ``torch`` extra."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(f"{feature} needs PyTorch, which is not installed: {INSTALL_HINT}") from e
    return torch


@dataclass(frozen=True)
class Pair:
    """One quantity as chainrule and torch computed it; ``ok`` when they agree within the tolerances."""

    name: str
    chainrule: float
    torch: float
    ok: bool


@dataclass(frozen=True)
class OpDifference:
    """A node of chainrule's graph whose value or local derivative torch computes differently on the same operands."""

    node: str  # the node's name (label, else op#k)
    expression: str  # how it reads from its operands, e.g. "tanh(a)"
    quantity: str  # "value" or "d/d<operand>"
    chainrule: float
    torch: float
    operands: tuple[tuple[str, float], ...]  # (name, value) of each operand, as both computed from


@dataclass(frozen=True)
class Comparison:
    """The result of ``compare_with_torch``: ``ok``, the value and per-input gradient pairs, and where they part."""

    ok: bool
    value: Pair
    gradients: tuple[Pair, ...]
    differences: tuple[OpDifference, ...]  # replayed nodes that differ, in topological order (only when not ok)
    unchecked: tuple[str, ...]  # ops of the graph that torch could not replay (only when not ok)
    rtol: float
    atol: float

    @property
    def first_difference(self) -> OpDifference | None:
        """The first node, inputs before users, whose value or local derivative differs from torch's."""
        return self.differences[0] if self.differences else None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        status = "agree" if self.ok else "DIFFER"
        lines = [f"chainrule and torch {status} (rtol={self.rtol:g}, atol={self.atol:g})"]
        rows = [self.value, *self.gradients]
        width = max(len(p.name) for p in rows)
        lines.append(f"{'':<{width}}  {'chainrule':>24}  {'torch':>24}")
        for p in rows:
            mark = "ok" if p.ok else "DIFFERS"
            lines.append(f"{p.name:<{width}}  {p.chainrule!r:>24}  {p.torch!r:>24}  {mark}")
        if not self.ok:
            lines.extend(self._diagnosis())
        return "\n".join(lines)

    def _diagnosis(self) -> list[str]:
        bad = [p.name for p in self.gradients if not p.ok]
        lines = []
        if bad:
            lines.append("gradient differs for: " + ", ".join(bad))
        d = self.first_difference
        if d is not None:
            at = ", ".join(f"{name} = {x!r}" for name, x in d.operands)
            lines.append(f"first op that differs from torch: {d.node} = {d.expression} at {at}")
            lines.append(f"  {d.quantity}: chainrule {d.chainrule!r}, torch {d.torch!r}")
            if len(self.differences) > 1:
                lines.append(f"({len(self.differences) - 1} more node(s) differ after it)")
        if self.unchecked:
            lines.append("not replayed in torch (no Tensor method of that name; pass torch_ops={op: fn}): "
                         + ", ".join(self.unchecked))
        if d is None:
            lines.append("every replayed op agrees with torch on its own operands"
                         + (": look at the ops not replayed" if self.unchecked
                            else ": fn and torch_fn compute different things"))
        return lines


def compare_with_torch(
    fn: Callable[..., Value],
    inputs: Sequence[Value | Number],
    *,
    torch_fn: Callable | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    torch_ops: Mapping[str, Callable] | None = None,
) -> Comparison:
    """Run ``fn`` on Values and ``torch_fn`` (default ``fn``) on float64 tensors; compare value and gradients.

    ``inputs`` are numbers or Values (their data and label); fresh leaves are made, so no gradient of yours
    changes. Inputs are named by their labels, else ``fn``'s parameter names. ``torch_ops`` maps an op name
    (one of your ``define_op`` ops) to its torch function on tensors, for the op-by-op replay.
    """
    torch = import_torch("compare_with_torch")
    names = _input_names(fn, inputs)
    leaves = [Value(x.data if isinstance(x, Value) else x, label=name) for x, name in zip(inputs, names)]
    out = fn(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"compare_with_torch: fn must return a Value, got {type(out).__name__}")
    out.backward()

    tensors = [torch.tensor(leaf.data, dtype=torch.float64, requires_grad=True) for leaf in leaves]
    try:
        t_out = (torch_fn or fn)(*tensors)
    except AttributeError as e:
        if torch_fn is not None:
            raise
        raise TypeError(f"compare_with_torch: fn does not run on torch tensors ({e}); "
                        "pass torch_fn= written with torch's functions") from e
    if not isinstance(t_out, torch.Tensor) or t_out.numel() != 1:
        raise TypeError(f"compare_with_torch: torch_fn must return a one-element tensor, got {t_out!r}")
    t_grads = [None] * len(tensors)
    if t_out.requires_grad:
        t_grads = torch.autograd.grad(t_out.reshape(()), tensors, allow_unused=True)

    close = _closeness(rtol, atol)
    out_name = out.label or "f"
    value = Pair(out_name, out.data, float(t_out.item()), close(out.data, float(t_out.item())))
    gradients = []
    for leaf, g in zip(leaves, t_grads):
        tg = 0.0 if g is None else float(g.item())
        gradients.append(Pair(f"d{out_name}/d{leaf.label}", leaf.grad, tg, close(leaf.grad, tg)))
    ok = value.ok and all(p.ok for p in gradients)
    differences: tuple[OpDifference, ...] = ()
    unchecked: tuple[str, ...] = ()
    if not ok:
        differences, unchecked = _replay(torch, out, close, dict(torch_ops or {}))
    return Comparison(ok, value, tuple(gradients), differences, unchecked, rtol, atol)


def _input_names(fn: Callable, inputs: Sequence[Value | Number]) -> list[str]:
    """A label per input: the Value's own label, else fn's positional parameter name, else ``x<i>``."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = []
    for i, x in enumerate(inputs):
        if isinstance(x, Value) and x.label is not None:
            names.append(str(x.label))
        else:
            names.append(params[i] if i < len(params) else f"x{i}")
    return names


def _closeness(rtol: float, atol: float) -> Callable[[float, float], bool]:
    def close(a: float, b: float) -> bool:
        if math.isnan(a) or math.isnan(b):
            return False
        return a == b or abs(a - b) <= atol + rtol * max(abs(a), abs(b))

    return close


def _replay(torch: ModuleType, root: Value, close: Callable[[float, float], bool],
            torch_ops: dict[str, Callable]) -> tuple[tuple[OpDifference, ...], tuple[str, ...]]:
    """Each node's op applied by torch to float64 copies of its operands' values, against the node's data and
    local derivatives; the op names torch cannot apply (n-ary ops, ops without a same-named Tensor method)."""
    g = Graph(root)
    names = g.names
    differences, unchecked = [], {}
    for v in g.order:
        if not v.op:
            continue
        args = [torch.tensor(c.data, dtype=torch.float64, requires_grad=True) for c in v.inputs]
        result = _apply_in_torch(torch, ops.OPS[v.op], v, args, torch_ops)
        if result is None:
            unchecked[v.op] = None
            continue
        t_out, t_local = result
        found = []
        if not close(v.data, t_out):
            found.append(("value", v.data, t_out))
        for c, mine, theirs in zip(v.inputs, v.local_grads, t_local):
            if not close(mine, theirs):
                found.append((f"d/d{operand_text(c, names)[0]}", mine, theirs))
        if found:
            text = expression(v, names)
            operands = tuple((operand_text(c, names)[0], c.data) for c in v.inputs if c.label is not None or c.inputs)
            differences += [OpDifference(names[v], text, q, a, b, operands) for q, a, b in found]
    return tuple(differences), tuple(unchecked)


def _apply_in_torch(torch: ModuleType, op: ops.Op, v: Value, args: list,
                    torch_ops: dict[str, Callable]) -> tuple[float, list[float]] | None:
    """``(value, local derivatives)`` of ``v``'s op computed by torch, or None when torch cannot apply it."""
    extra = [v.param] if op.param else []
    if op.name in torch_ops:
        f = torch_ops[op.name]
    elif op.arity:  # the op's Value method, called on a tensor: the methods share PyTorch's names
        method = getattr(op, "method", None) or op.name
        if not hasattr(args[0], method):
            return None
        f = getattr(type(args[0]), method)
    else:
        return None
    try:
        t_out = f(*args, *extra)
        grads = torch.autograd.grad(t_out, args, allow_unused=True) if t_out.requires_grad else [None] * len(args)
        return float(t_out.item()), [0.0 if g is None else float(g.item()) for g in grads]
    except Exception:  # noqa: BLE001  an op torch refuses on these operands is reported as not replayed
        return None
