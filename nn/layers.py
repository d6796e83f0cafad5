"""Neuron, Layer and MLP: each neuron is one ``linear`` node (w.x + b) followed by its activation."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from autograd import Value, node_constructor

from .module import Module

if TYPE_CHECKING:
    import torch

# The node autograd.linear() makes, without its per-operand conversion: a layer converts its inputs
# once per call, and the forward pass is the hot loop of training.
_linear = node_constructor("linear")

ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")
_ACTIVATION_FNS: dict[str, Callable[[Value], Value] | None] = {
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "relu": Value.relu,
    "linear": None,
}


def _activation(name: str) -> Callable[[Value], Value] | None:
    """The function applied to the linear node (None for "linear")."""
    if not isinstance(name, str) or name not in _ACTIVATION_FNS:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(map(repr, ACTIVATIONS))}")
    return _ACTIVATION_FNS[name]


def _size(what: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


def _inputs(xs: Sequence[Value | float], nin: int, who: str) -> list[Value]:
    """The inputs as Values (floats become constant leaves once per call)."""
    if len(xs) != nin:
        raise ValueError(f"{who} expects {nin} inputs, got {len(xs)}")
    return [x if type(x) is Value or isinstance(x, Value) else Value(x) for x in xs]


def _uniform(rng: random.Random, nin: int) -> float:
    """PyTorch's default init for a linear unit: U(-1/sqrt(nin), 1/sqrt(nin))."""
    bound = 1.0 / math.sqrt(nin)
    return rng.uniform(-bound, bound)


class Neuron(Module):
    """One neuron: ``activation(w . x + b)`` with ``nin`` weights ``w`` and a bias ``b``."""

    def __init__(self, nin: int, activation: str = "tanh", seed: int | None = None) -> None:
        self.nin = _size("nin", nin)
        self.activation = activation
        self._act = _activation(activation)
        rng = random.Random(seed)
        self.w = [Value(_uniform(rng, self.nin), label=f"w[{j}]") for j in range(self.nin)]
        self.b = Value(_uniform(rng, self.nin), label="b")

    def __call__(self, xs: Sequence[Value | float]) -> Value:
        net = _linear((*self.w, *_inputs(xs, self.nin, "Neuron"), self.b))
        return net if self._act is None else self._act(net)

    def _values(self) -> Iterator[Value]:
        yield from self.w
        yield self.b

    def architecture(self) -> dict:
        return {"type": "Neuron", "nin": self.nin, "activation": self.activation}

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons on the same inputs: ``W`` is ``nout`` rows of ``nin`` Values, ``b`` has ``nout``."""

    def __init__(self, nin: int, nout: int, activation: str = "tanh", seed: int | None = None) -> None:
        self.nin = _size("nin", nin)
        self.nout = _size("nout", nout)
        self.activation = activation
        self._act = _activation(activation)
        rng = random.Random(seed)
        self.W = [[Value(_uniform(rng, self.nin)) for _ in range(self.nin)] for _ in range(self.nout)]
        self.b = [Value(_uniform(rng, self.nin)) for _ in range(self.nout)]
        self.relabel(1)

    def relabel(self, index: int) -> None:
        """Label parameters as layer ``index`` (1-based, as in the seed's W[1]): ``W[1][0,1]``, ``b[1][0]``."""
        for i, row in enumerate(self.W):
            for j, w in enumerate(row):
                w.label = f"W[{index}][{i},{j}]"
        for i, b in enumerate(self.b):
            b.label = f"b[{index}][{i}]"

    def __call__(self, xs: Sequence[Value | float]) -> list[Value]:
        xs = _inputs(xs, self.nin, "Layer")
        act = self._act
        out = []
        for row, b in zip(self.W, self.b):  # a loop, not a comprehension (3.11 makes a function): 2-2-2 fwd -0.3 us
            net = _linear((*row, *xs, b))
            out.append(net if act is None else act(net))
        return out

    def _values(self) -> Iterator[Value]:
        for row in self.W:
            yield from row
        yield from self.b

    def architecture(self) -> dict:
        return {"type": "Layer", "nin": self.nin, "nout": self.nout, "activation": self.activation}

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r})"

    def to_torch(self) -> torch.nn.Sequential:
        """This layer as ``torch.nn.Sequential(Linear[, activation])``, float64, the same weights (nn.torch_bridge)."""
        from .torch_bridge import to_torch

        return to_torch(self)

    @classmethod
    def from_torch(cls, module: torch.nn.Module) -> Layer:
        """A Layer with the weights of a ``torch.nn.Linear`` or ``Sequential(Linear[, activation])``."""
        from .torch_bridge import layer_from_torch

        return layer_from_torch(module)


class MLP(Module):
    """Layers of sizes ``sizes`` on ``nin`` inputs; hidden layers use ``activation``, the last
    ``output_activation``. Calling it returns the list of the last layer's outputs."""

    def __init__(
        self,
        nin: int,
        sizes: Sequence[int],
        activation: str = "tanh",
        output_activation: str = "linear",
        seed: int | None = None,
    ) -> None:
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
            raise ValueError(f"sizes must be a non-empty list of positive integers, got {sizes!r}")
        self.nin = _size("nin", nin)
        self.sizes = [_size(f"sizes[{k}]", n) for k, n in enumerate(sizes)]
        _activation(activation)
        _activation(output_activation)
        self.activation = activation
        self.output_activation = output_activation
        rng = random.Random(seed)
        dims = [self.nin, *self.sizes]
        self.layers = []
        for k in range(len(self.sizes)):
            act = output_activation if k == len(self.sizes) - 1 else activation
            layer = Layer(dims[k], dims[k + 1], act, seed=rng.getrandbits(64))
            layer.relabel(k + 1)
            self.layers.append(layer)

    def __call__(self, xs: Sequence[Value | float]) -> list[Value]:
        for layer in self.layers:
            xs = layer(xs)
        return xs

    def _values(self) -> Iterator[Value]:
        for layer in self.layers:
            yield from layer._values()

    def architecture(self) -> dict:
        return {
            "type": "MLP",
            "nin": self.nin,
            "sizes": list(self.sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
        }

    def to_torch(self) -> torch.nn.Sequential:
        """This MLP as a ``torch.nn.Sequential`` of Linear and activation modules, float64, the same weights."""
        from .torch_bridge import to_torch

        return to_torch(self)

    @classmethod
    def from_torch(cls, module: torch.nn.Module) -> MLP:
        """An MLP with the weights of a ``torch.nn.Sequential`` of Linear and Tanh/Sigmoid/ReLU/Identity modules."""
        from .torch_bridge import mlp_from_torch

        return mlp_from_torch(module)

    def __repr__(self) -> str:
        return (
            f"MLP({self.nin}, {self.sizes}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r})"
        )
