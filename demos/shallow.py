"""The seed's shallow network in matrix form, checked against the scalar engine run sample by sample.

Run ``python -m demos.shallow`` (needs numpy: ``pip install chainrule[test]``). n_x = 2 inputs,
4 tanh hidden units, 1 sigmoid output, m samples stacked as the columns of X, cross-entropy
averaged over m. W[i] has one row per neuron of layer i, like ``nn.Layer.W``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time

import nn
from demos._cli import run

try:
    import numpy as np
except ImportError:  # checked in main()
    np = None

TOL = 1e-12


def make_planar(m: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The 'planar flower': two classes of m/2 points on the petals of r = 4 sin(4t); X (2, m), Y (1, m)."""
    rng = random.Random(seed)
    half = m // 2
    cols, labels = [], []
    for j in range(2):
        for k in range(half):
            t = (j + k / (half - 1)) * 3.12 + rng.gauss(0.0, 0.2)
            r = 4.0 * math.sin(4.0 * t) + rng.gauss(0.0, 0.2)
            cols.append((r * math.sin(t), r * math.cos(t)))
            labels.append(float(j))
    return np.array(cols).T, np.array([labels])


def build_model(seed: int = 1) -> nn.MLP:
    """The scalar network: 2 -> 4 tanh -> 1 sigmoid."""
    return nn.MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=seed)


def params_of(model: nn.MLP) -> dict[str, np.ndarray]:
    """The model's parameters as the matrices W[1] (4, 2), b[1] (4, 1), W[2] (1, 4), b[2] (1, 1)."""
    out = {}
    for i, layer in enumerate(model.layers, start=1):
        out[f"W{i}"] = np.array([[w.data for w in row] for row in layer.W])
        out[f"b{i}"] = np.array([[b.data] for b in layer.b])
    return out


def set_params(model: nn.MLP, params: dict[str, np.ndarray]) -> None:
    """Copy the matrices back into the model's Values."""
    for i, layer in enumerate(model.layers, start=1):
        for row, values in zip(layer.W, params[f"W{i}"]):
            for w, x in zip(row, values):
                w.data = float(x)
        for b, x in zip(layer.b, params[f"b{i}"][:, 0]):
            b.data = float(x)


def forward_matrix(params: dict[str, np.ndarray], X: np.ndarray) -> dict[str, np.ndarray]:
    """Z[1] = W[1] X + b[1], A[1] = tanh(Z[1]), Z[2] = W[2] A[1] + b[2], A[2] = sigmoid(Z[2])."""
    Z1 = params["W1"] @ X + params["b1"]
    A1 = np.tanh(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    A2 = 1.0 / (1.0 + np.exp(-Z2))
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def grads_matrix(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """Cost and gradients by the matrix formulas of the reference, section 4."""
    m = X.shape[1]
    c = forward_matrix(params, X)
    A1, A2 = c["A1"], c["A2"]
    cost = float(-np.mean(Y * np.log(A2) + (1.0 - Y) * np.log(1.0 - A2)))
    dZ2 = A2 - Y
    dW2 = dZ2 @ A1.T / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = (params["W2"].T @ dZ2) * (1.0 - A1**2)
    dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return cost, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def grads_scalar(model: nn.MLP, X: np.ndarray, Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """Cost and gradients from the scalar engine: a loop over samples, each loss backpropagated with weight 1/m."""
    m = X.shape[1]
    model.zero_grad()
    cost = 0.0
    for x, y in zip(X.T.tolist(), Y[0].tolist()):
        loss = nn.binary_cross_entropy(model(x)[0], y)
        loss.backward(1.0 / m)  # parameters are leaves: their grads add up over the samples
        cost += loss.data / m
    grads = {}
    for i, layer in enumerate(model.layers, start=1):
        grads[f"W{i}"] = np.array([[w.grad for w in row] for row in layer.W])
        grads[f"b{i}"] = np.array([[b.grad] for b in layer.b])
    return cost, grads


def max_difference(model: nn.MLP, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    """The largest |scalar - matrix| over the cost and every gradient entry."""
    set_params(model, params)
    cost_s, g_s = grads_scalar(model, X, Y)
    cost_m, g_m = grads_matrix(params, X, Y)
    return max(abs(cost_s - cost_m), *(float(np.max(np.abs(g_s[k] - g_m[k]))) for k in g_m))


def accuracy(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    return float(np.mean((forward_matrix(params, X)["A2"] > 0.5) == (Y > 0.5)))


def best_time(fn, repeats: int, rounds: int = 3) -> float:
    """Seconds per call of ``fn``: the best of ``rounds`` rounds of ``repeats`` calls."""
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demos.shallow", description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=400, help="number of samples (default 400)")
    parser.add_argument("--iterations", type=int, default=2000, help="gradient-descent steps (default 2000)")
    parser.add_argument("--lr", type=float, default=1.2, help="learning rate (default 1.2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the initial weights")
    args = parser.parse_args(argv)
    if np is None:
        print("demos.shallow needs numpy: pip install numpy (or chainrule[test])", file=sys.stderr)
        return 2

    X, Y = make_planar(args.m, args.seed)
    model = build_model(args.seed + 1)
    params = params_of(model)
    c = forward_matrix(params, X)
    print(f"Shallow network 2 -> 4 tanh -> 1 sigmoid on the planar flower data set (m = {args.m}, seed {args.seed})")
    print()
    print("1. Shapes: samples are columns; W[i] has a row per neuron of layer i, a column per neuron of layer i-1")
    shapes = [("X", X), ("Y", Y), ("W[1]", params["W1"]), ("b[1]", params["b1"]), ("Z[1]", c["Z1"]),
              ("A[1]", c["A1"]), ("W[2]", params["W2"]), ("b[2]", params["b2"]), ("Z[2]", c["Z2"]), ("A[2]", c["A2"])]
    for name, arr in shapes:
        print(f"   {name:<5} {str(arr.shape):>9}")
    print()

    print("2. Gradients: scalar engine (loop over samples) vs the matrix formulas")
    print("   dZ[2] = A[2] - Y, dW[2] = dZ[2] A[1]^T / m, db[2] = sum(dZ[2]) / m,")
    print("   dZ[1] = W[2]^T dZ[2] * (1 - A[1]^2), dW[1] = dZ[1] X^T / m, db[1] = sum(dZ[1]) / m")
    _, g_s = grads_scalar(model, X, Y)
    _, g_m = grads_matrix(params, X, Y)
    for k in ("W2", "b2"):
        print(f"   d{k} scalar engine: {np.array2string(g_s[k].ravel(), precision=12)}")
        print(f"   d{k} matrix form:   {np.array2string(g_m[k].ravel(), precision=12)}")
    diffs = ", ".join(f"d{k} {float(np.max(np.abs(g_s[k] - g_m[k]))):.1e}" for k in ("W1", "b1", "W2", "b2"))
    print(f"   max |scalar - matrix| per gradient: {diffs}")
    print()

    print(f"3. Training by gradient descent in matrix form (lr {args.lr}), re-checking the scalar engine on the way")
    checkpoints = {0, args.iterations // 2, args.iterations}
    worst = 0.0
    for it in range(args.iterations + 1):
        if it in checkpoints:
            diff = max_difference(model, params, X, Y)
            worst = max(worst, diff)
            cost, _ = grads_matrix(params, X, Y)
            print(f"   iteration {it:5d}: cost {cost:.6f}, accuracy {accuracy(params, X, Y):6.1%}, "
                  f"max |scalar - matrix| = {diff:.2e}")
        if it < args.iterations:
            _, grads = grads_matrix(params, X, Y)
            for k in params:
                params[k] -= args.lr * grads[k]
    ok = worst < TOL
    print(f"   max difference over all checks: {worst:.3e} {'<' if ok else '>='} {TOL:g}  {'✓' if ok else '✗'}")
    print()

    print("4. Time of one gradient computation (best of 3)")
    set_params(model, params)
    scalar_s = best_time(lambda: grads_scalar(model, X, Y), repeats=1)
    matrix_s = best_time(lambda: grads_matrix(params, X, Y), repeats=100)
    print(f"   per-sample loop with Values: {scalar_s * 1e3:9.3f} ms")
    print(f"   matrix form with NumPy:      {matrix_s * 1e3:9.3f} ms  ({scalar_s / matrix_s:.0f} times faster)")
    print()
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    run(main)
