"""Neural-network modules, losses and optimizers built from autograd Values."""

from .compiled import CompiledLoss, compile_loss
from .layers import ACTIVATIONS, MLP, Layer, Neuron
from .losses import (
    REDUCTIONS,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    mse_loss,
    softmax,
    squared_errors,
)
from .module import Module
from .optim import SGD, Adam, Optimizer

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "REDUCTIONS",
    "SGD",
    "Adam",
    "CompiledLoss",
    "Layer",
    "Module",
    "Neuron",
    "Optimizer",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "compile_loss",
    "cross_entropy",
    "log_softmax",
    "mse_loss",
    "softmax",
    "squared_errors",
]
