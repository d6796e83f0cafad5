"""Losses built from op-table nodes; the classification losses use the stable logsumexp and softplus ops."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from autograd import Value, apply, logsumexp, node_constructor

Scalar = Value | float
REDUCTIONS = ("mean", "sum", "half_sum")
_sum = node_constructor("sum")  # the sum node of terms made here (Values already): apply's checks skipped, -0.25 us


def _sequence(xs: Sequence[Scalar], who: str, what: str) -> Sequence[Scalar]:
    """``xs``, checked to be a non-empty sequence (of Values or numbers)."""
    if type(xs) is not list and (isinstance(xs, (Value, str, bytes)) or not isinstance(xs, Sequence)):
        raise ValueError(f"{who}: {what} must be a list of Values or floats, got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"{who}: {what} is empty")
    return xs


def _values(xs: Sequence[Scalar], who: str, what: str) -> list[Value]:
    """``xs`` as Values: numbers become constant leaves."""
    return [x if type(x) is Value or isinstance(x, Value) else Value(x) for x in _sequence(xs, who, what)]


def _unit(x: Scalar, who: str, what: str) -> float:
    """The data of ``x``, checked to lie in [0, 1]."""
    v = x.data if isinstance(x, Value) else x
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= v <= 1.0:
        raise ValueError(f"{who}: {what} must be a number in [0, 1], got {v!r}")
    return float(v)


def squared_errors(pred: Sequence[Scalar], target: Sequence[Scalar], scale: float = 1.0) -> list[Value]:
    """One node ``scale * (t_i - p_i)^2`` per output (``scale`` 0.5 gives the reference's E_o1, E_o2); the
    factor is the constant parameter of a ``scale`` node, not a constant leaf with a gradient of its own."""
    ps = _values(pred, "mse_loss", "pred")
    ts = _sequence(target, "mse_loss", "target")  # a number becomes a constant leaf in ``t - p``
    if len(ps) != len(ts):
        raise ValueError(f"mse_loss: pred has {len(ps)} values but target has {len(ts)}")
    if scale == 1.0:
        return [(t - p) ** 2 for p, t in zip(ps, ts)]
    return [apply("scale", [(t - p) ** 2], scale) for p, t in zip(ps, ts)]


def mse_loss(pred: Sequence[Scalar], target: Sequence[Scalar], reduction: str = "mean") -> Value:
    """Squared error: ``"mean"`` of (t - p)^2, their ``"sum"``, or ``"half_sum"`` = sum 1/2 (t - p)^2.

    The result is a ``sum`` node (divided by n for ``"mean"``) whose inputs are the per-output terms.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"mse_loss: unknown reduction {reduction!r}; allowed: {', '.join(map(repr, REDUCTIONS))}")
    terms = squared_errors(pred, target, 0.5 if reduction == "half_sum" else 1.0)
    total = _sum(tuple(terms))
    return total / len(terms) if reduction == "mean" else total


def log_softmax(logits: Sequence[Scalar]) -> list[Value]:
    """``z_i - logsumexp(z)`` for each logit: stable for large logits."""
    zs = _values(logits, "log_softmax", "logits")
    lse = logsumexp(zs)
    return [z - lse for z in zs]


def softmax(logits: Sequence[Scalar]) -> list[Value]:
    """``exp(log_softmax(z)_i)``: probabilities that sum to 1, stable for large logits."""
    return [v.exp() for v in log_softmax(logits)]


def cross_entropy(logits: Sequence[Scalar], target_index: int) -> Value:
    """``-ln softmax(z)[t]`` computed as ``logsumexp(z) - z[t]``; d loss / d z_i = softmax_i - onehot_i."""
    zs = _values(logits, "cross_entropy", "logits")
    if isinstance(target_index, bool) or not isinstance(target_index, numbers.Integral):
        raise ValueError(f"cross_entropy: target_index must be an integer, got {target_index!r}")
    if not 0 <= target_index < len(zs):
        raise ValueError(f"cross_entropy: target_index must be in 0..{len(zs) - 1}, got {target_index!r}")
    return logsumexp(zs) - zs[int(target_index)]


def binary_cross_entropy(prob: Scalar, target: Scalar) -> Value:
    """``-(y ln p + (1 - y) ln(1 - p))`` for a probability p in [0, 1] and a constant target y in [0, 1].

    A term whose weight y or 1 - y is 0 is left out, so p = 1 with y = 1 gives 0; a p that makes the
    loss infinite (p = 0 with y > 0, p = 1 with y < 1) raises ValueError: use the with-logits form.
    """
    y = _unit(target, "binary_cross_entropy", "target")
    p_data = _unit(prob, "binary_cross_entropy", "prob")
    if (p_data == 0.0 and y > 0.0) or (p_data == 1.0 and y < 1.0):
        raise ValueError(
            f"binary_cross_entropy: prob {p_data!r} with target {y!r} gives an infinite loss; "
            "use binary_cross_entropy_with_logits for saturated predictions"
        )
    p = prob if isinstance(prob, Value) else Value(prob)
    if y == 1.0:
        return -p.log()
    if y == 0.0:
        return -(1.0 - p).log()
    return -(y * p.log() + (1.0 - y) * (1.0 - p).log())


def binary_cross_entropy_with_logits(logit: Scalar, target: Scalar) -> Value:
    """BCE of ``sigmoid(z)`` computed stably as ``softplus(z) - y z``; d loss / d z = sigmoid(z) - y."""
    y = _unit(target, "binary_cross_entropy_with_logits", "target")
    z = logit if isinstance(logit, Value) else Value(logit)
    return z.softplus() - y * z
