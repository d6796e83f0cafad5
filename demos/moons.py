"""Train MLP(2, [16, 16, 1]) on a seeded two-moons set, as micrograd's demo does.

Run ``python -m demos.moons [--save model.json] [--compiled]``. Max-margin (SVM) loss plus L2, full-batch
SGD with a learning rate decaying from 1.0 to 0.1; pure Python, no downloads.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence

import nn
from autograd import Value, sum_values
from demos._cli import run

Point = list[float]
SIZES = [16, 16, 1]
ALPHA = 1e-4  # L2 strength, as in micrograd's demo


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[list[Point], list[int]]:
    """Two interleaving half circles (``sklearn.datasets.make_moons``'s shape), shuffled; labels -1 / +1."""
    rng = random.Random(seed)
    n_out = n // 2
    n_in = n - n_out
    points = []
    for k in range(n_out):  # upper moon, label -1
        t = math.pi * k / max(n_out - 1, 1)
        points.append(([math.cos(t), math.sin(t)], -1))
    for k in range(n_in):  # lower moon, label +1
        t = math.pi * k / max(n_in - 1, 1)
        points.append(([1.0 - math.cos(t), 0.5 - math.sin(t)], 1))
    rng.shuffle(points)
    xs = [[x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)] for (x, y), _ in points]
    ys = [label for _, label in points]
    return xs, ys


def build_model(seed: int = 0) -> nn.MLP:
    """MLP(2, [16, 16, 1]): two ReLU hidden layers of 16 and a linear output, the score."""
    return nn.MLP(2, SIZES, activation="relu", output_activation="linear", seed=seed)


def scored_loss(
    model: nn.MLP, xs: Sequence[Point], ys: Sequence[int], alpha: float = ALPHA
) -> tuple[Value, list[Value]]:
    """Mean max-margin loss relu(1 - y score) plus ``alpha`` * sum p^2, and the scores."""
    scores = [model(x)[0] for x in xs]
    margins = [(1.0 - y * s).relu() for y, s in zip(ys, scores)]
    data_loss = sum_values(margins) / len(margins)
    reg_loss = alpha * sum_values(p * p for p in model.parameters())
    return data_loss + reg_loss, scores


def accuracy(scores: Sequence[float], ys: Sequence[int]) -> float:
    """The fraction of points whose score has the sign of their label."""
    return sum((s > 0.0) == (y > 0) for y, s in zip(ys, scores)) / len(ys)


def loss_and_accuracy(
    model: nn.MLP, xs: Sequence[Point], ys: Sequence[int], alpha: float = ALPHA
) -> tuple[Value, float]:
    """The loss Value of ``scored_loss`` and the fraction classified right."""
    loss, scores = scored_loss(model, xs, ys, alpha)
    return loss, accuracy([s.data for s in scores], ys)


def progress(done: int, total: int, width: int = 20) -> str:
    filled = width * done // total
    return "[" + "#" * filled + "." * (width - filled) + "]"


def train(
    model: nn.MLP, xs: Sequence[Point], ys: Sequence[int], epochs: int, quiet: bool = False,
    compiled: bool = False,
) -> tuple[float, float]:
    """Full-batch SGD, lr = 1.0 - 0.9 * epoch / epochs; prints one progress line per epoch. Returns (loss, acc).

    ``compiled=True`` traces the loss graph once (``nn.compile_loss``) and runs the generated code each epoch.
    """
    opt = nn.SGD(model.parameters(), lr=1.0)
    if compiled:
        step = nn.compile_loss(model, scored_loss, xs, ys)
        if not quiet:
            print(f"compiled the loss graph once in {step.graph.compile_seconds:.2f} s")
    for epoch in range(epochs):
        opt.zero_grad()
        if compiled:
            loss, acc = step(), accuracy(step.outputs, ys)
        else:
            value, acc = loss_and_accuracy(model, xs, ys)
            value.backward()
            loss = value.data
        opt.lr = 1.0 - 0.9 * epoch / epochs
        opt.step()
        if not quiet:
            print(f"epoch {epoch + 1:3d}/{epochs} {progress(epoch + 1, epochs)} "
                  f"loss {loss:.4f}  accuracy {acc:6.1%}  lr {opt.lr:.3f}", flush=True)
    loss, acc = loss_and_accuracy(model, xs, ys)
    return loss.data, acc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demos.moons", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of points (default 100)")
    parser.add_argument("--noise", type=float, default=0.1, help="Gaussian noise of the points (default 0.1)")
    parser.add_argument("--epochs", type=int, default=100, help="full-batch SGD steps (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the initial weights")
    parser.add_argument("--save", metavar="PATH", help="write the trained model to PATH as JSON")
    parser.add_argument("--quiet", action="store_true", help="print only the final lines")
    parser.add_argument("--compiled", action="store_true",
                        help="trace the loss graph once and train with the generated code (autograd.compile_graph)")
    args = parser.parse_args(argv)
    if args.n < 2 or args.epochs < 1:
        parser.error("--n must be >= 2 and --epochs >= 1")

    xs, ys = make_moons(args.n, args.noise, args.seed)
    model = build_model(args.seed)
    print(f"two moons: {args.n} points, noise {args.noise}, seed {args.seed}; "
          f"{model!r} with {len(model.parameters())} parameters")
    print(f"loss: mean max(0, 1 - y * score) + {ALPHA:g} * sum p^2; SGD, lr 1.0 decaying to 0.1")
    loss, acc = train(model, xs, ys, args.epochs, quiet=args.quiet, compiled=args.compiled)
    print(f"final loss: {loss:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved the model to {args.save}")
    if args.compiled:
        print("trained with compiled code: the loss graph traced once (nn.compile_loss), generated Python per epoch")
    print(f"final accuracy: {100.0 * acc:.1f}%")
    return 0


if __name__ == "__main__":
    run(main)
