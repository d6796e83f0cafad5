"""The bridge to PyTorch: a Layer or MLP as a float64 ``torch.nn.Sequential`` of Linear and activation modules,
and back. Row i of a chainrule ``W`` is row i of torch's ``weight`` (neuron i of the layer); biases are copied too.

PyTorch is imported only when one of these functions is called. Values shared between parameters
(``demos.mazur``'s one bias per layer) become separate entries of the torch tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autograd.torch_compare import import_torch

from .layers import MLP, Layer

if TYPE_CHECKING:
    import torch

# chainrule activation name <-> torch module class name ("linear": no module, or Identity).
_TORCH_ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "ReLU"}
_FROM_TORCH = {**{cls: name for name, cls in _TORCH_ACTIVATIONS.items()}, "Identity": "linear"}


def to_torch(module: Layer | MLP) -> torch.nn.Sequential:
    """``module`` as a ``torch.nn.Sequential`` (float64): Linear, then the activation unless it is "linear"."""
    torch = import_torch(f"{type(module).__name__}.to_torch")
    layers = module.layers if isinstance(module, MLP) else [module]
    parts = []
    for layer in layers:
        linear = torch.nn.utils.skip_init(torch.nn.Linear, layer.nin, layer.nout, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[w.data for w in row] for row in layer.W], dtype=torch.float64))
            linear.bias.copy_(torch.tensor([b.data for b in layer.b], dtype=torch.float64))
        parts.append(linear)
        if layer.activation in _TORCH_ACTIVATIONS:
            parts.append(getattr(torch.nn, _TORCH_ACTIVATIONS[layer.activation])())
    return torch.nn.Sequential(*parts)


def mlp_from_torch(module: torch.nn.Module) -> MLP:
    """An MLP with the weights of a ``torch.nn.Sequential`` of Linear layers, each followed by at most one of
    Tanh, Sigmoid, ReLU or Identity; the hidden layers must share one activation. Else ValueError."""
    layers = _layers(module, "MLP.from_torch")
    hidden = {act for _, _, act in layers[:-1]}
    if len(hidden) > 1:
        first = layers[0][2]
        name, _, act = next(entry for entry in layers[:-1] if entry[2] != first)
        raise ValueError(f"MLP.from_torch: layer {name!r} has activation {act!r} but the first has {first!r}: "
                         "an MLP's hidden layers share one activation")
    output = layers[-1][2]
    nin = layers[0][1].in_features
    model = MLP(nin, [linear.out_features for _, linear, _ in layers], activation=hidden.pop() if hidden else output,
                output_activation=output, seed=0)
    for layer, (_, linear, _) in zip(model.layers, layers):
        _copy_weights(layer, linear)
    return model


def layer_from_torch(module: torch.nn.Module) -> Layer:
    """A Layer from a ``torch.nn.Linear`` or a Sequential of one Linear and at most one activation module."""
    torch = import_torch("Layer.from_torch")
    if isinstance(module, torch.nn.Linear):
        module = torch.nn.Sequential(module)
    layers = _layers(module, "Layer.from_torch")
    if len(layers) != 1:
        raise ValueError(f"Layer.from_torch: expected one Linear layer, got {len(layers)}; use MLP.from_torch")
    _, linear, act = layers[0]
    layer = Layer(linear.in_features, linear.out_features, act, seed=0)
    _copy_weights(layer, linear)
    return layer


def _layers(module: torch.nn.Module, who: str) -> list[tuple[str, torch.nn.Linear, str]]:
    """``(name, Linear, activation name)`` for each Linear of the Sequential ``module``; ValueError naming the
    first module that does not fit."""
    torch = import_torch(who)
    if not isinstance(module, torch.nn.Sequential):
        raise ValueError(f"{who}: expected a torch.nn.Sequential of Linear and activation modules, "
                         f"got {type(module).__name__}")
    layers: list[tuple[str, torch.nn.Linear, str]] = []
    activated = False  # whether the last Linear has its activation module already
    for name, child in module.named_children():
        kind = type(child).__name__
        where = f"{who}: layer {name!r} ({child})"
        if type(child) is torch.nn.Linear:
            if child.bias is None:
                raise ValueError(f"{where} has no bias; chainrule's layers always have one")
            if layers and layers[-1][1].out_features != child.in_features:
                raise ValueError(f"{where} takes {child.in_features} inputs but the layer before gives "
                                 f"{layers[-1][1].out_features}")
            if not (bool(torch.isfinite(child.weight).all()) and bool(torch.isfinite(child.bias).all())):
                raise ValueError(f"{where} has a weight that is not finite")
            layers.append((name, child, "linear"))
            activated = False
        elif kind in _FROM_TORCH and type(child) is getattr(torch.nn, kind):
            if not layers:
                raise ValueError(f"{where} comes before any Linear layer")
            if activated:
                raise ValueError(f"{where} follows another activation; a Linear layer takes at most one")
            layers[-1] = (*layers[-1][:2], _FROM_TORCH[kind])
            activated = True
        else:
            raise ValueError(f"{where}: chainrule can represent only Linear, Tanh, Sigmoid, ReLU and Identity")
    if not layers:
        raise ValueError(f"{who}: the Sequential has no Linear layer")
    return layers


def _copy_weights(layer: Layer, linear: torch.nn.Linear) -> None:
    """Set ``layer``'s W and b from ``linear`` (converted to float64, which is exact from float32 and float16)."""
    weight = linear.weight.detach().double().tolist()
    bias = linear.bias.detach().double().tolist()
    for row, values in zip(layer.W, weight):
        for w, x in zip(row, values):
            w.data = x
    for b, x in zip(layer.b, bias):
        b.data = x
