"""The engines compared with chainrule, each optional: micrograd 0.1.0 and PyTorch 0-d tensors.

micrograd 0.1.0 has no tanh, exp or sigmoid; the workloads that need them use ``mg_tanh`` and
``mg_sigmoid`` below, fused ops written exactly in the style of micrograd's own ``relu`` (one node,
one closure), which is also how its later versions add tanh.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator

try:
    from micrograd import engine as micrograd_engine
    from micrograd import nn as micrograd_nn
except ImportError:  # the optional extra "bench" is not installed
    micrograd_engine = micrograd_nn = None

try:
    import torch
except ImportError:
    torch = None

MISSING = {
    "micrograd": None if micrograd_engine else "micrograd is not installed (pip install -e '.[bench]')",
    "torch": None if torch else "torch is not installed (pip install torch): PyTorch columns skipped",
}


def mg_tanh(v):
    """tanh as one micrograd node (micrograd's own closure style)."""
    t = math.tanh(v.data)
    out = micrograd_engine.Value(t, (v,), "tanh")

    def _backward():
        v.grad += (1 - t * t) * out.grad

    out._backward = _backward
    return out


def mg_sigmoid(v):
    """The logistic sigmoid as one micrograd node (micrograd's own closure style)."""
    x = v.data
    s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
    out = micrograd_engine.Value(s, (v,), "sigmoid")

    def _backward():
        v.grad += s * (1 - s) * out.grad

    out._backward = _backward
    return out


@contextlib.contextmanager
def deep_recursion(limit: int) -> Iterator[None]:
    """micrograd's backward recurses once per node of depth: lift Python's limit while it runs."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def tensor(x: float, grad: bool = True):
    """A float64 0-d tensor."""
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)
