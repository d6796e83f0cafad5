"""Newton's method for the seed's logistic regression, with chainrule's Hessian, beside gradient descent.

Run ``python -m demos.newton``. The data and the loss are those of ``demos.logistic`` (mean cross-entropy
of a = sigmoid(w.x + b) on 60 seeded points). Newton's step solves H d = g, where g and H come from
``autograd.grad`` and ``autograd.hessian`` (the gradient graph differentiated again); each Hessian is
checked against the closed form (1/m) X^T S X, S = diag(a (1 - a)), to 1e-12.
"""

from __future__ import annotations

import argparse
import math
import sys

from autograd import Value, grad, hessian
from demos.logistic import Point, make_blobs, mean_loss

TOL = 1e-12  # Hessian: engine against the closed form
GRAD_TOL = 1e-8  # converged when every |d loss / d parameter| is below this


def loss_grad(theta: list[float], xs: list[Point], ys: list[int], second: bool) -> tuple:
    """Loss, gradient and (when ``second``) Hessian at theta = (w1, w2, b), all from the engine."""
    params = [Value(theta[0], label="w1"), Value(theta[1], label="w2"), Value(theta[2], label="b")]
    loss = mean_loss(params[:2], params[2], xs, ys, "cross-entropy")
    g = list(grad(loss, params))
    return loss.data, g, hessian(loss, params) if second else None


def closed_form_hessian(theta: list[float], xs: list[Point]) -> list[list[float]]:
    """(1/m) X^T S X with rows (x1, x2, 1) and S = diag(a (1 - a))."""
    m = len(xs)
    H = [[0.0] * 3 for _ in range(3)]
    for x in xs:
        row = (x[0], x[1], 1.0)
        z = theta[0] * x[0] + theta[1] * x[1] + theta[2]
        a = 1.0 / (1.0 + math.exp(-z))
        for i in range(3):
            for j in range(3):
                H[i][j] += a * (1.0 - a) * row[i] * row[j] / m
    return H


def solve(A: list[list[float]], b: list[float]) -> list[float]:
    """x with A x = b (Gaussian elimination with partial pivoting)."""
    n = len(b)
    M = [list(A[i]) + [b[i]] for i in range(n)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[p] = M[p], M[c]
        for r in range(c + 1, n):
            f = M[r][c] / M[c][c]
            for k in range(c, n + 1):
                M[r][k] -= f * M[c][k]
    x = [0.0] * n
    for r in reversed(range(n)):
        x[r] = (M[r][n] - sum(M[r][k] * x[k] for k in range(r + 1, n))) / M[r][r]
    return x


def newton(xs: list[Point], ys: list[int], max_iter: int = 50) -> tuple[list[tuple], float]:
    """Rows (iteration, loss, max |grad|, theta) until converged; and the largest Hessian error seen."""
    theta = [0.0, 0.0, 0.0]
    rows, worst = [], 0.0
    for it in range(max_iter + 1):
        loss, g, H = loss_grad(theta, xs, ys, second=True)
        closed = closed_form_hessian(theta, xs)
        worst = max(worst, max(abs(H[i][j] - closed[i][j]) for i in range(3) for j in range(3)))
        rows.append((it, loss, max(abs(v) for v in g), list(theta)))
        if rows[-1][2] < GRAD_TOL:
            break
        step = solve(H, g)
        theta = [t - d for t, d in zip(theta, step)]
    return rows, worst


def gradient_descent(xs: list[Point], ys: list[int], lr: float, max_iter: int) -> list[tuple]:
    """Rows (iteration, loss, max |grad|, theta) of plain gradient descent until converged or max_iter."""
    theta = [0.0, 0.0, 0.0]
    rows = []
    for it in range(max_iter + 1):
        loss, g, _ = loss_grad(theta, xs, ys, second=False)
        rows.append((it, loss, max(abs(v) for v in g), list(theta)))
        if rows[-1][2] < GRAD_TOL:
            break
        theta = [t - lr * d for t, d in zip(theta, g)]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=2.0, help="gradient descent's learning rate (default 2)")
    parser.add_argument("--max-iter", type=int, default=5000, help="gradient descent's iteration cap")
    parser.add_argument("--all", action="store_true", help="print every iteration (default: a selection)")
    args = parser.parse_args(argv)
    xs, ys = make_blobs()
    print(f"Logistic regression a = sigmoid(w1 x1 + w2 x2 + b) on {len(xs)} seeded points (demos.logistic),")
    print(f"mean cross-entropy, from w = (0, 0), b = 0; converged when every |dL/dtheta| < {GRAD_TOL:g}")
    print()
    nt, worst = newton(xs, ys)
    gd = gradient_descent(xs, ys, args.lr, args.max_iter)
    ok = worst <= TOL and nt[-1][2] < GRAD_TOL
    print("Newton: theta <- theta - H^-1 g, H = autograd.hessian(loss, [w1, w2, b])")
    print(f"  max |H - (1/m) X^T S X| over all iterations = {worst:.3e}  {'✓' if worst <= TOL else 'MISMATCH'}"
          f" (tolerance {TOL:g})")
    print(f"Gradient descent: theta <- theta - {args.lr:g} g")
    print()
    print(f"{'iteration':>9} | {'Newton loss':>18} {'max|g|':>9} | {'GD loss':>18} {'max|g|':>9}")
    marks = {10, 20, 50, 100, 200, 500, 1000, 2000, len(gd) - 1}
    shown = range(max(len(nt), len(gd))) if args.all else sorted({*range(len(nt) + 3), *marks})
    for it in shown:
        if it >= len(gd) and it >= len(nt):
            continue
        left = f"{nt[it][1]:18.15f} {nt[it][2]:9.2e}" if it < len(nt) else f"{'':18} {'':9}"
        right = f"{gd[it][1]:18.15f} {gd[it][2]:9.2e}" if it < len(gd) else ""
        print(f"{it:9d} | {left} | {right}")
    gd_done = gd[-1][2] < GRAD_TOL
    print()
    print(f"Newton converged in {len(nt) - 1} iterations: loss {nt[-1][1]:.15f}")
    if gd_done:
        print(f"gradient descent converged in {len(gd) - 1} iterations: loss {gd[-1][1]:.15f}")
    else:
        print(f"gradient descent did not converge in {args.max_iter} iterations: loss {gd[-1][1]:.15f}")
    w1, w2, b = nt[-1][3]
    print(f"fit: w = ({w1:.6f}, {w2:.6f}), b = {b:.6f}")
    if gd_done:
        gap = max(abs(p - q) for p, q in zip(nt[-1][3], gd[-1][3]))
        print(f"max |theta_Newton - theta_GD| = {gap:.2e}")
        ok &= abs(nt[-1][1] - gd[-1][1]) < 1e-12
    print()
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
