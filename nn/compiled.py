"""compile_loss: a model's loss on a data set as generated straight-line code (autograd.compile_graph)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

from autograd import Value
from autograd.compile import CompiledGraph, compile_graph

from .module import Module


class CompiledLoss:
    """``loss = step()``: forward and backward at the model's current parameters, no Values built.

    Each call adds the gradients to ``p.grad`` of every parameter (as ``loss.backward()`` does), so
    an optimizer's ``zero_grad()`` / ``step()`` work unchanged.  ``step.loss`` holds the last loss,
    ``step.outputs`` the values of the extra outputs ``loss_fn`` returned; ``step.update(*data)`` swaps
    the data set (same shapes), ``step.graph`` is the CompiledGraph and ``step.source`` its code.
    """

    def __init__(self, model: Module, loss_fn: Callable[..., object], *data: object) -> None:
        self.params = model.parameters()
        leaves: list[Value] = []
        self._shape = [_leaves(d, f"data{k}", leaves) for k, d in enumerate(data)]
        remaining = iter(leaves)
        wrapped = [_rebuild(shape, remaining) for shape in self._shape]
        result = loss_fn(model, *wrapped)
        loss, extra = (result[0], result[1]) if isinstance(result, tuple) else (result, None)
        if not isinstance(loss, Value):
            raise TypeError(f"compile_loss: loss_fn must return a Value or (Value, outputs), got {type(loss).__name__}")
        self._single = isinstance(extra, Value)
        aux = [extra] if self._single else list(extra or ())
        self.graph: CompiledGraph = compile_graph(loss, self.params, aux=aux)
        self.source = self.graph.source
        position = {leaf: i for i, leaf in enumerate(self.graph.constant_leaves)}
        self._slots = [position.get(leaf) for leaf in leaves]  # None: a datum the loss does not use
        self._has_aux = bool(aux)
        self.outputs: float | list[float] | None = None
        self.loss: float | None = None

    def __call__(self) -> float:
        """The loss at the current parameters; adds d loss / d p to each ``p.grad``."""
        params = self.params
        result = self.graph([p.data for p in params])
        for p, g in zip(params, result[1]):
            p.grad += g
        if self._has_aux:
            self.outputs = result[2][0] if self._single else result[2]
        self.loss = result[0]
        return result[0]

    def update(self, *data: object) -> None:
        """Use new data of the same shapes as the data given at compile time."""
        if len(data) != len(self._shape):
            raise ValueError(f"update: expected {len(self._shape)} data arguments, got {len(data)}")
        flat: list[float] = []
        for k, (shape, d) in enumerate(zip(self._shape, data)):
            _flatten(d, shape, f"data{k}", flat)
        constants = self.graph.constants
        for slot, x in zip(self._slots, flat):
            if slot is not None:
                constants[slot] = x


def compile_loss(model: Module, loss_fn: Callable[..., object], *data: object) -> CompiledLoss:
    """Compile ``loss_fn(model, *data)`` once: ``model``'s parameters are the inputs, ``data`` constants.

    ``data`` are numbers or (nested) lists of numbers; ``loss_fn`` receives them as Value leaves of
    the same shapes and returns the loss Value, or ``(loss, outputs)`` with a Value or list of Values
    whose values each call leaves in ``.outputs``.  Python branches on ``.data`` inside ``loss_fn``
    are frozen at this call.
    """
    return CompiledLoss(model, loss_fn, *data)


# -- data as leaves: a "shape" is None for a number, or a list of shapes --------------------------

def _leaves(d: object, where: str, out: list[Value]) -> object:
    """Append a leaf per number of ``d`` to ``out``; return ``d``'s shape."""
    if isinstance(d, numbers.Real) and not isinstance(d, bool):
        out.append(Value(d, label=where))
        return None
    if isinstance(d, Sequence) and not isinstance(d, (str, bytes)):
        return [_leaves(x, f"{where}[{i}]", out) for i, x in enumerate(d)]
    raise TypeError(f"compile_loss: data must be numbers or lists of numbers, got {type(d).__name__} at {where}")


def _rebuild(shape: object, leaves: object) -> object:
    return next(leaves) if shape is None else [_rebuild(s, leaves) for s in shape]


def _flatten(d: object, shape: object, where: str, out: list[float]) -> None:
    if shape is None:
        if isinstance(d, bool) or not isinstance(d, numbers.Real):
            raise TypeError(f"update: {where} must be a number, got {type(d).__name__}")
        x = float(d)
        if not math.isfinite(x):
            raise ValueError(f"update: {where} must be finite, got {d!r}")
        out.append(x)
        return
    if not isinstance(d, Sequence) or isinstance(d, (str, bytes)) or len(d) != len(shape):
        raise ValueError(f"update: {where} must be a list of {len(shape)} like the compiled data")
    for i, (x, s) in enumerate(zip(d, shape)):
        _flatten(x, s, f"{where}[{i}]", out)
