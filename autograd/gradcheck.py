"""Compare backward() with central differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .core.value import Number, Value


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message holds a table per input."""


def gradcheck(
    fn: Callable[..., Value],
    inputs: Sequence[Value | Number],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Return True if ``fn(*inputs)``'s gradients match central differences, else raise."""
    leaves = [Value(v.data if isinstance(v, Value) else v, label=f"x{i}") for i, v in enumerate(inputs)]
    xs = [leaf.data for leaf in leaves]
    out = fn(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: fn must return a Value, got {type(out).__name__}")
    out.backward()
    rows, bad = [], False
    for i, leaf in enumerate(leaves):
        numeric = (_eval(fn, xs, i, eps) - _eval(fn, xs, i, -eps)) / (2 * eps)
        ok = abs(leaf.grad - numeric) <= atol + rtol * abs(numeric)
        bad |= not ok
        rows.append(f"{i:>5}  {xs[i]:>14.6g}  {leaf.grad:>16.9g}  {numeric:>16.9g}  {'ok' if ok else 'MISMATCH'}")
    if bad:
        head = f"{'input':>5}  {'value':>14}  {'analytic':>16}  {'numeric':>16}"
        table = "\n".join([head, *rows])
        raise GradcheckError(f"gradcheck failed (atol={atol:g}, rtol={rtol:g}):\n{table}")
    return True


def _eval(fn: Callable[..., Value], xs: list[float], i: int, step: float) -> float:
    moved = list(xs)
    moved[i] += step
    return fn(*[Value(x) for x in moved]).data
