"""Worked examples with published numbers, importable wherever chainrule is installed.

``mazur()`` is the 2-2-2 sigmoid network of Matt Mazur's "A Step by Step Backpropagation Example"
(https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/): inputs 0.05, 0.10, targets
0.01, 0.99, hidden W = [[0.15, 0.20], [0.25, 0.30]], output W = [[0.40, 0.45], [0.50, 0.55]], one bias per
layer (0.35, 0.60, not trained), E_total = sum 1/2 (target - out)^2 (0.298371109), learning rate 0.5.
"""

from __future__ import annotations

from autograd import Value

from .layers import MLP
from .losses import mse_loss

INPUTS = (0.05, 0.10)  # i1, i2
TARGETS = (0.01, 0.99)  # targets of o1, o2
HIDDEN_W = ((0.15, 0.20), (0.25, 0.30))  # [[w1, w2], [w3, w4]]: rows = neurons h1, h2
OUTPUT_W = ((0.40, 0.45), (0.50, 0.55))  # [[w5, w6], [w7, w8]]: rows = neurons o1, o2
B1, B2 = 0.35, 0.60  # one bias per layer, shared by its two neurons, not trained
LR = 0.5
WEIGHT_NAMES = tuple(f"w{k}" for k in range(1, 9))
PARAMETER_NAMES = (*WEIGHT_NAMES, "b1", "b2")


def mazur() -> dict[str, Value]:
    """The 2-2-2 network after one forward pass: every quantity of the worked example by its label
    (``E_total``, ``E_o1``, ``out_o1``, ``net_o1``, ..., ``w1`` ... ``w8``, ``b1``, ``b2``, ``i1``, ``target_o1``)."""
    return mazur_forward(mazur_model()[0])


def mazur_model() -> tuple[MLP, dict[str, Value]]:
    """The 2-2-2 MLP with the worked example's weights, and its parameters by name (w1..w8, b1, b2)."""
    model = MLP(2, [2, 2], activation="sigmoid", output_activation="sigmoid", seed=0)
    hidden, output = model.layers
    for layer, weights, bias, first in ((hidden, HIDDEN_W, B1, 1), (output, OUTPUT_W, B2, 5)):
        for i, row in enumerate(weights):
            for j, w in enumerate(row):
                layer.W[i][j].data = w
                layer.W[i][j].label = f"w{first + 2 * i + j}"
        shared = layer.b[0]
        shared.data, shared.label = bias, "b1" if layer is hidden else "b2"
        layer.b = [shared] * layer.nout  # one bias per layer, as in the worked example
    return model, mazur_parameters(model)


def mazur_parameters(model: MLP) -> dict[str, Value]:
    """``{"w1": ..., "w8": ..., "b1": ..., "b2": ...}`` read from the layers (W = [[w1, w2], [w3, w4]])."""
    hidden, output = model.layers
    weights = [w for layer in (hidden, output) for row in layer.W for w in row]
    params = dict(zip(WEIGHT_NAMES, weights))
    params["b1"], params["b2"] = hidden.b[0], output.b[0]
    return params


def mazur_forward(model: MLP) -> dict[str, Value]:
    """One forward pass and E_total = sum 1/2 (target - out)^2, with every quantity labeled as in the example."""
    q = mazur_parameters(model)
    xs = [Value(x, label=f"i{k + 1}") for k, x in enumerate(INPUTS)]
    targets = [Value(t, label=f"target_o{k + 1}") for k, t in enumerate(TARGETS)]
    hidden, output = model.layers
    outs_h = hidden(xs)
    outs_o = output(outs_h)
    e_total = mse_loss(outs_o, targets, reduction="half_sum")  # a sum node over E_o1, E_o2
    nodes = [*xs, *targets]
    for k in (1, 2):
        for layer_name, out in (("h", outs_h[k - 1]), ("o", outs_o[k - 1])):
            out.label = f"out_{layer_name}{k}"
            out.inputs[0].label = f"net_{layer_name}{k}"
            nodes += [out.inputs[0], out]
        e_total.inputs[k - 1].label = f"E_o{k}"
        nodes.append(e_total.inputs[k - 1])
    e_total.label = "E_total"
    q.update((v.label, v) for v in [*nodes, e_total])
    return q


def mazur_loss(model: MLP) -> Value:
    """E_total of ``model`` on the example's inputs and targets, without labels (the training loss)."""
    return mse_loss(model(list(INPUTS)), list(TARGETS), reduction="half_sum")
