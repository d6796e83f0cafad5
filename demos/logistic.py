"""Logistic regression: why it is fit with cross-entropy and not least squares.

Run ``python -m demos.logistic``. The prediction is a = sigmoid(w.x + b). Both losses,
cross-entropy -[y ln a + (1 - y) ln(1 - a)] and squared error 1/2 (a - y)^2, are built
from Values; every gradient printed comes from ``backward()``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import nn
from autograd import Value, linear, sum_values
from demos._cli import run

Point = tuple[float, float]
LOSSES = ("cross-entropy", "squared error")


def make_blobs(n: int = 60, seed: int = 0) -> tuple[list[Point], list[int]]:
    """Two seeded Gaussian clouds in 2-D: label 1 around (1, 0.5), label 0 around (-1, -0.5)."""
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        y = i % 2
        cx, cy = (1.0, 0.5) if y else (-1.0, -0.5)
        xs.append((cx + rng.gauss(0.0, 1.0), cy + rng.gauss(0.0, 1.0)))
        ys.append(y)
    return xs, ys


def sample_loss(z: Value, y: int, kind: str) -> Value:
    """The loss of one sample with logit ``z``: cross-entropy or squared error of a = sigmoid(z)."""
    if kind == "cross-entropy":
        return nn.binary_cross_entropy_with_logits(z, float(y))
    return 0.5 * (z.sigmoid() - float(y)) ** 2


def mean_loss(w: Sequence[Value], b: Value, xs: list[Point], ys: list[int], kind: str) -> Value:
    """The loss averaged over the data set."""
    return sum_values(sample_loss(linear(w, x, b), y, kind) for x, y in zip(xs, ys)) / len(xs)


def accuracy(w: Sequence[float], b: float, xs: list[Point], ys: list[int]) -> float:
    hits = sum((w[0] * x[0] + w[1] * x[1] + b > 0.0) == (y == 1) for x, y in zip(xs, ys))
    return hits / len(xs)


def dloss_dz(z: float, y: int, kind: str) -> tuple[float, float]:
    """The prediction a and d loss / d z from the engine, for one sample with logit ``z``."""
    zv = Value(z, label="z")
    sample_loss(zv, y, kind).backward()
    return 1.0 / (1.0 + math.exp(-z)), zv.grad


def along_line(t: float, direction: Point, xs: list[Point], ys: list[int], kind: str) -> tuple[float, float]:
    """Loss and d loss / d t at w = t * direction, b = 0 (the gradient from the engine)."""
    tv = Value(t, label="t")
    w = [tv * direction[0], tv * direction[1]]
    loss = mean_loss(w, Value(0.0), xs, ys, kind)
    loss.backward()
    return loss.data, tv.grad


def line_scan(
    ts: Sequence[float], direction: Point, xs: list[Point], ys: list[int], kind: str, h: float = 1e-4
) -> list[tuple[float, float, float, float]]:
    """Rows (t, loss, dloss/dt, d2loss/dt2); the second derivative is a central difference of engine gradients."""
    rows = []
    for t in ts:
        loss, grad = along_line(t, direction, xs, ys, kind)
        second = (along_line(t + h, direction, xs, ys, kind)[1] - along_line(t - h, direction, xs, ys, kind)[1]) / (
            2 * h
        )
        rows.append((t, loss, grad, second))
    return rows


def sign_changes(rows: list[tuple[float, float, float, float]]) -> list[tuple[float, float]]:
    """The intervals (t_left, t_right) where the second derivative changes sign."""
    return [(r0[0], r1[0]) for r0, r1 in zip(rows, rows[1:]) if (r0[3] > 0.0) != (r1[3] > 0.0)]


def fit(
    xs: list[Point], ys: list[int], kind: str, w0: Point, lr: float, steps: int, every: int
) -> list[tuple[int, float, float, list[float], float]]:
    """Plain gradient descent on ``kind``; rows (step, loss, accuracy, w, b) every ``every`` steps."""
    w = [Value(w0[0], label="w1"), Value(w0[1], label="w2")]
    b = Value(0.0, label="b")
    opt = nn.SGD([*w, b], lr=lr)
    rows = []
    for step in range(steps + 1):
        opt.zero_grad()
        loss = mean_loss(w, b, xs, ys, kind)
        if step % every == 0:
            rows.append((step, loss.data, accuracy([v.data for v in w], b.data, xs, ys), [v.data for v in w], b.data))
        if step < steps:
            loss.backward()
            opt.step()
    return rows


def main(argv: list[str] | None = None) -> int:
    ok = True
    xs, ys = make_blobs()
    print(f"Logistic regression a = sigmoid(w.x + b) on {len(xs)} seeded 2-D points (two Gaussian clouds)")
    print()

    print("1. One sample with y = 1, from confidently wrong (z << 0) to right (z > 0): d loss / d z from the engine")
    print(f"   {'z':>5} {'a':>10} {'CE grad':>11} {'a - y':>11} {'SE grad':>12} {'(a-y)a(1-a)':>12}")
    for z in (-10.0, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0):
        a, g_ce = dloss_dz(z, 1, "cross-entropy")
        _, g_se = dloss_dz(z, 1, "squared error")
        ok &= abs(g_ce - (a - 1.0)) < 1e-12 and abs(g_se - (a - 1.0) * a * (1.0 - a)) < 1e-12
        print(f"   {z:5.1f} {a:10.6f} {g_ce:11.6f} {a - 1.0:11.6f} {g_se:12.3e} {(a - 1.0) * a * (1.0 - a):12.3e}")
    a, g_ce = dloss_dz(-10.0, 1, "cross-entropy")
    _, g_se = dloss_dz(-10.0, 1, "squared error")
    print(f"   At z = -10 the prediction is confidently wrong: cross-entropy still pushes with {g_ce:.4f},")
    print(f"   squared error with only {g_se:.2e}: the factor a(1 - a) of the sigmoid kills its gradient.")
    print()

    # A line through w = 0 along the direction that separates the clouds; t < 0 makes every prediction wrong.
    direction = (1.0 / math.sqrt(1.25), 0.5 / math.sqrt(1.25))
    ts = [float(t) for t in range(-8, 9)]
    scans = {kind: line_scan(ts, direction, xs, ys, kind) for kind in LOSSES}
    print(f"2. Both losses along the line w = t * ({direction[0]:.3f}, {direction[1]:.3f}), b = 0")
    print("   (dL/dt from the engine; d2L/dt2 is a central difference of two engine gradients)")
    print(f"   {'t':>5} | {'CE':>8} {'dCE/dt':>9} {'d2CE/dt2':>9} | {'SE':>8} {'dSE/dt':>10} {'d2SE/dt2':>10}")
    for ce, se in zip(scans["cross-entropy"], scans["squared error"]):
        print(f"   {ce[0]:5.1f} | {ce[1]:8.4f} {ce[2]:9.4f} {ce[3]:9.4f} | {se[1]:8.4f} {se[2]:10.2e} {se[3]:10.2e}")
    ce_convex = all(r[3] > 0.0 for r in scans["cross-entropy"])
    se_changes = sign_changes(scans["squared error"])
    ok &= ce_convex and bool(se_changes)
    print(f"   cross-entropy: d2L/dt2 > 0 at every t: {'yes, convex along the line' if ce_convex else 'NO'}")
    where = ", ".join(f"between t = {t0:g} and {t1:g}" for t0, t1 in se_changes)
    print(f"   squared error: d2L/dt2 changes sign {where or 'nowhere (unexpected)'}: non-convex")
    flat = scans["squared error"][0]
    steep = scans["cross-entropy"][0]
    print(f"   at t = {flat[0]:g} (confidently wrong) dSE/dt = {flat[2]:.2e} but dCE/dt = {steep[2]:.4f}")
    print()

    w0, lr, steps = (-3.0, -1.5), 0.5, 200
    print(f"3. Gradient descent from the confidently wrong start w = {w0}, b = 0 (lr {lr}, {steps} steps)")
    print(f"   {'step':>5} | {'CE loss':>8} {'acc':>6} | {'SE loss':>8} {'acc':>6}")
    fits = {kind: fit(xs, ys, kind, w0, lr, steps, every=20) for kind in LOSSES}
    for ce, se in zip(fits["cross-entropy"], fits["squared error"]):
        print(f"   {ce[0]:5d} | {ce[1]:8.4f} {ce[2]:6.1%} | {se[1]:8.4f} {se[2]:6.1%}")
    for kind in LOSSES:
        _, loss, acc, w, b = fits[kind][-1]
        print(f"   {kind:<13} fit: w = ({w[0]:.3f}, {w[1]:.3f}), b = {b:.3f}, loss {loss:.4f}, accuracy {acc:.1%}")
    print("   Cross-entropy leaves the wrong start at once; squared error crawls while the predictions are")
    print("   confidently wrong, because its gradient (a - y) a (1 - a) is almost zero there.")
    print()
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    run(main)
