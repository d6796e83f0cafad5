"""Softmax with cross-entropy on the scores [2, 3, 4]: the engine redoes the seed's hand derivation.

Run ``python -m demos.softmax``. Every number is read from the graph after ``backward()``;
the closed forms (a_j (1 - a_j), -a_j a_i, a_i - y_i) are printed only to check them.
"""

from __future__ import annotations

import sys

import nn
from autograd import Value
from demos._cli import run

SCORES = (2.0, 3.0, 4.0)
CORRECT = 1  # the correct class is the second one
TOL = 5e-10  # the published numbers have 9 decimals
# From the seed notes (the project's starting material, a Chinese-language tutorial on backpropagation in a
# shallow network): softmax of the scores [2, 3, 4] with the second class correct, and dL/dz_i = a_i - y_i.
# Their numbers, restated here: a = [0.090030573, 0.244728471, 0.665240956], dL/dz = [0.0900, -0.7553, 0.6652].
REFERENCE_PROBS = (0.090030573, 0.244728471, 0.665240956)
REFERENCE_GRAD = (0.090030573, -0.755271529, 0.665240956)
SEED_GRAD_TEXT = "[0.0903, -0.7553, 0.665]"  # how the seed prints the gradient


def forward(scores: tuple[float, ...] = SCORES, correct: int = CORRECT) -> tuple[list[Value], list[Value], Value]:
    """Scores z, probabilities a = softmax(z) and the loss L = -ln(a_correct), all labeled."""
    z = [Value(s, label=f"z{i + 1}") for i, s in enumerate(scores)]
    a = nn.softmax(z)
    for i, ai in enumerate(a):
        ai.label = f"a{i + 1}"
    loss = -a[correct].log()
    loss.label = "L"
    return z, a, loss


def grads_of(out: Value, leaves: list[Value]) -> list[float]:
    """d out / d leaf for each leaf, by one backward pass from ``out`` (leaf grads zeroed first)."""
    for leaf in leaves:
        leaf.grad = 0.0
    out.backward()
    return [leaf.grad for leaf in leaves]


def mark(ok: bool) -> str:
    return "✓" if ok else "✗ MISMATCH"


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    ok = True

    def check(name: str, got: float, want: float, what: str) -> None:
        nonlocal ok
        good = abs(got - want) <= TOL
        ok &= good
        print(f"   {name:<18} = {got:13.9f}   {what:>21} {want:13.9f}  {mark(good)}")

    z, a, loss = forward()
    n, j = len(z), CORRECT
    probs = [ai.data for ai in a]
    print(f"Softmax with cross-entropy: scores z = {list(SCORES)}, the correct class is the second (j = {j + 1})")
    print()
    print("1. Forward: a_i = exp(z_i) / sum_k exp(z_k),  L = -ln(a_j)")
    for i in range(n):
        check(f"a{i + 1}", probs[i], REFERENCE_PROBS[i], "reference")
    print(f"   {'sum of a':<18} = {sum(probs):13.9f}")
    print(f"   {'L = -ln(a2)':<18} = {loss.data:13.9f}")
    print()

    print("2. Backward from L (engine): dL/dz_i, expected a_i - y_i")
    dL_dz = grads_of(loss, z)
    for i in range(n):
        check(f"dL/dz{i + 1}", dL_dz[i], REFERENCE_GRAD[i], "reference")
    rounded = ", ".join(f"{g:.4f}" for g in dL_dz)
    print(f"   to 4 decimals: [{rounded}]")
    print(f"   The seed prints {SEED_GRAD_TEXT}: its 0.0903 is a slip; e^2 / (e^2 + e^3 + e^4) = {probs[0]:.4f},")
    print("   so the first entry is 0.0900 (the other entries agree once rounded).")
    print()

    # dL/da_j from the graph: L = neg(log(a_j)), so it is the product of the two nodes' local derivatives.
    log_node = loss.inputs[0]
    local_neg, local_log = loss.local_grads[0], log_node.local_grads[0]
    dL_da = a[j].grad  # left on the intermediate node by the backward pass from L
    print(f"3. The chain through a{j + 1}: L = -ln(a{j + 1}), so dL/dz_i = dL/da{j + 1} * da{j + 1}/dz_i")
    print(f"   local derivatives on the graph: neg node {local_neg:g}, log node 1/a{j + 1} = {local_log:.9f}")
    check(f"dL/da{j + 1}", dL_da, local_neg * local_log, "(-1) * (1/a2) =")
    check(f"dL/da{j + 1}", dL_da, -1.0 / probs[j], "-1/a2 =")
    print()

    print(f"   Backward from a{j + 1} (engine) gives da{j + 1}/dz_i:")
    da_dz = grads_of(a[j], z)
    for i in range(n):
        aj, ai = probs[j], probs[i]
        product = dL_da * da_dz[i]
        chain = f"dL/da{j + 1} * da{j + 1}/dz{i + 1}"
        if i == j:
            print(f"   case i = j = {i + 1}: da_j/dz_j = a_j (1 - a_j), times -1/a_j gives a_j - 1")
            check(f"da{j + 1}/dz{i + 1}", da_dz[i], aj * (1.0 - aj), f"a{j + 1}(1 - a{j + 1}) =")
            check(chain, product, aj - 1.0, f"a{j + 1} - 1 =")
        else:
            print(f"   case i = {i + 1} != j: da_j/dz_i = -a_j a_i, times -1/a_j gives a_i")
            check(f"da{j + 1}/dz{i + 1}", da_dz[i], -aj * ai, f"-a{j + 1} a{i + 1} =")
            check(chain, product, ai, f"a{i + 1} =")
        check(chain, product, dL_dz[i], f"engine dL/dz{i + 1} =")
    print()
    print("So the gradient is the softmax itself with 1 subtracted at the correct class:")
    print("one forward pass, then 'subtract 1' is all the backward pass needs.")
    print()
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    run(main)
