"""Optimizers: SGD (with optional momentum) and Adam, updating Value.data from Value.grad."""

from __future__ import annotations

import math
from collections.abc import Iterable

from autograd import Value


def _params(params: Iterable[Value], who: str) -> list[Value]:
    ps = list(params)
    for p in ps:
        if not isinstance(p, Value):
            raise ValueError(f"{who}: params must be Values, got {type(p).__name__}")
    return ps


def _positive(who: str, name: str, x: float) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (0.0 < x < math.inf):
        raise ValueError(f"{who}: {name} must be a positive finite number, got {x!r}")
    return float(x)


def _fraction(who: str, name: str, x: float) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (0.0 <= x < 1.0):
        raise ValueError(f"{who}: {name} must be in [0, 1), got {x!r}")
    return float(x)


class Optimizer:
    """Holds the parameter list; ``zero_grad()`` clears their grads."""

    def __init__(self, params: Iterable[Value]) -> None:
        self.params = _params(params, type(self).__name__)

    def zero_grad(self) -> None:
        """Set ``grad`` of every parameter to 0.0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Gradient descent ``p -= lr * grad``; with momentum, ``v = momentum * v + grad; p -= lr * v``."""

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params)
        self.lr = _positive("SGD", "lr", lr)
        self.momentum = _fraction("SGD", "momentum", momentum)
        self.velocity = [0.0] * len(self.params)

    def step(self) -> None:
        """Move every parameter against its gradient."""
        lr, mu = self.lr, self.momentum
        if mu == 0.0:
            for p in self.params:
                p.data -= lr * p.grad
            return
        vel = self.velocity
        for i, p in enumerate(self.params):
            vel[i] = mu * vel[i] + p.grad
            p.data -= lr * vel[i]


class Adam(Optimizer):
    """Adam (Kingma & Ba): per-parameter steps from bias-corrected running means of grad and grad^2."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params)
        self.lr = _positive("Adam", "lr", lr)
        self.betas = (_fraction("Adam", "betas[0]", betas[0]), _fraction("Adam", "betas[1]", betas[1]))
        self.eps = _positive("Adam", "eps", eps)
        self.t = 0
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def step(self) -> None:
        """One Adam update of every parameter."""
        b1, b2 = self.betas
        self.t += 1
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        for i, p in enumerate(self.params):
            g = p.grad
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g
            p.data -= self.lr * (self.m[i] / c1) / (math.sqrt(self.v[i] / c2) + self.eps)
