"""The 2-2-2 sigmoid network of Matt Mazur's worked example, built with ``nn``, every number beside the published one.

The source: Matt Mazur, "A Step by Step Backpropagation Example" (2015),
https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/ ; the network itself is
``nn.examples.mazur()``. Run ``python -m demos.mazur`` from the repository root: one forward pass, E_total,
the chain-rule factors, all eight gradients and the weights after one update, each checked against the
published hand derivation. ``--steps N`` keeps training for N updates in all and prints E_total every so
often (``--compiled``: with generated straight-line code instead of a new graph per step).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nn
from autograd import Backprop, Value, explain
from demos._cli import run
from nn.examples import (  # noqa: F401  (the set-up, read by the tests and benchmarks from here too)
    B1,
    B2,
    HIDDEN_W,
    INPUTS,
    LR,
    OUTPUT_W,
    PARAMETER_NAMES,
    TARGETS,
    WEIGHT_NAMES,
    mazur_forward,
    mazur_loss,
    mazur_model,
    mazur_parameters,
)

SOURCE = 'Matt Mazur, "A Step by Step Backpropagation Example" (mattmazur.com, 2015)'
# The published numbers of that page. They have 9 decimals: they match to within TOL.
TOL = 5e-10

PUBLISHED_FORWARD = {
    "net_h1": 0.377500000,
    "out_h1": 0.593269992,
    "out_h2": 0.596884378,
    "net_o1": 1.105905967,
    "out_o1": 0.751365070,
    "out_o2": 0.772928465,
    "E_o1": 0.274811083,
    "E_o2": 0.023560026,
    "E_total": 0.298371109,
}
# The factors of the two chain-rule paths the page multiplies out (w5: one path; w1: two paths that add).
PUBLISHED_FACTORS = {
    "dE_total/dout_o1": 0.741365070,
    "dout_o1/dnet_o1": 0.186815602,
    "dnet_o1/dw5": 0.593269992,
    "dE_o1/dnet_o1": 0.138498562,
    "dE_o2/dnet_o2": -0.038098237,
    "dE_o1/dout_h1": 0.055399425,
    "dE_o2/dout_h1": -0.019049118,
    "dE_total/dout_h1": 0.036350306,
    "dout_h1/dnet_h1": 0.241300709,
    "dnet_h1/dw1": 0.05,
}
PUBLISHED_GRADIENTS = {"dE_dw5": 0.082167041, "dE_dw1": 0.000438568}
PUBLISHED_UPDATED = {
    "w1_after": 0.149780716,
    "w2_after": 0.199561432,
    "w3_after": 0.249751144,
    "w4_after": 0.299502287,
    "w5_after": 0.358916480,
    "w6_after": 0.408666186,
    "w7_after": 0.511301270,
    "w8_after": 0.561370121,
}
# "After repeating this process 10,000 times, for example, the error plummets to 0.0000351085": the error of
# the forward pass of round 10,000, i.e. after 9,999 updates (10 decimals: it matches to within 5e-11).
PUBLISHED_AFTER_10000 = 0.0000351085
RENDER_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv")


def make_model() -> tuple[nn.MLP, dict[str, Value]]:
    """The 2-2-2 MLP with the worked example's weights; its parameters relabeled w1..w8, b1, b2."""
    return mazur_model()


def parameters_of(model: nn.MLP) -> dict[str, Value]:
    """``{"w1": ..., "w8": ..., "b1": ..., "b2": ...}`` read from the layers (W = [[w1, w2], [w3, w4]])."""
    return mazur_parameters(model)


def forward(model: nn.MLP) -> dict[str, Value]:
    """One forward pass and E_total = sum 1/2 (target - out)^2, with every quantity of the example labeled."""
    return mazur_forward(model)


def build() -> tuple[nn.MLP, list[Value], dict[str, Value]]:
    """The model, its trainable weights w1..w8 (biases excluded), and the labeled quantities of one forward pass."""
    model, params = make_model()
    return model, [params[name] for name in WEIGHT_NAMES], forward(model)


def local(node: Value, child: Value) -> float:
    """d node / d child, read from the node's local derivatives."""
    return sum(g for v, g in zip(node.inputs, node.local_grads) if v is child)


def factors(q: dict[str, Value]) -> dict[str, float]:
    """The page's chain-rule factors, read from the graph after backward()."""
    delta_o1, delta_o2 = q["net_o1"].grad, q["net_o2"].grad
    return {
        "dE_total/dout_o1": q["out_o1"].grad,
        "dout_o1/dnet_o1": local(q["out_o1"], q["net_o1"]),
        "dnet_o1/dw5": local(q["net_o1"], q["w5"]),
        "dE_o1/dnet_o1": delta_o1,
        "dE_o2/dnet_o2": delta_o2,
        "dE_o1/dout_h1": delta_o1 * local(q["net_o1"], q["out_h1"]),
        "dE_o2/dout_h1": delta_o2 * local(q["net_o2"], q["out_h1"]),
        "dE_total/dout_h1": q["out_h1"].grad,
        "dout_h1/dnet_h1": local(q["out_h1"], q["net_h1"]),
        "dnet_h1/dw1": local(q["net_h1"], q["w1"]),
    }


def e_total(model: nn.MLP) -> Value:
    """E_total of ``model`` on the example's inputs and targets, without labels (the training loss)."""
    return mazur_loss(model)


def train(
    model: nn.MLP, weights: list[Value], start: int, end: int, every: int, compiled: bool = False
) -> list[tuple[int, float]]:
    """Gradient descent on ``weights`` from ``start`` to ``end`` updates in all; ``(updates, E_total)``
    at ``start``, each multiple of ``every`` and ``end``. ``compiled=True`` runs generated code
    (``nn.compile_loss``) instead of building the graph each step: the same floats."""
    opt = nn.SGD(weights, lr=LR)
    step = nn.compile_loss(model, e_total) if compiled else None
    history = []
    for n in range(start, end + 1):
        opt.zero_grad()
        if step is not None:
            loss = step()
        else:
            value = e_total(model)
            value.backward()
            loss = value.data
        if n == start or n == end or n % every == 0:
            history.append((n, loss))
        if n == end:
            break
        opt.step()
    return history


class Table:
    """Rows of quantity / chainrule / published / check; remembers whether every check passed."""

    def __init__(self) -> None:
        self.ok = True
        print(f"  {'quantity':<22} {'chainrule':>16} {'published':>14}  check")

    def section(self, title: str) -> None:
        print(f"{title}")

    def row(self, name: str, got: float, want: float | None, tol: float = TOL, note: str = "") -> None:
        if want is None:
            print(f"  {name:<22} {got:16.12f} {'-':>14}")
            return
        good = abs(got - want) <= tol
        self.ok &= good
        print(f"  {name:<22} {got:16.12f} {want:14.9f}  {'✓' if good else '✗ MISMATCH'}{note}")


def walk_steps(root: Value, interactive: bool) -> None:
    """Print backward() one node at a time; interactively, Enter shows the next step and q quits."""
    bp = Backprop(root)
    total = len(bp.order)
    if interactive:
        print(f"stepping through backward() of {root.label}: {total} steps, one per non-leaf node"
              " (Enter: next, q: quit; Ctrl-D ends too)")
    try:
        for step in bp:
            print(step)
            if interactive and step.index < total and input("").strip().lower().startswith("q"):
                break
    except (EOFError, KeyboardInterrupt):  # Ctrl-D / Ctrl-C at the prompt: end the walk quietly
        print()
    finally:
        bp.reset()


def parameters(q: dict[str, Value]) -> list[Value]:
    """The model's parameters w1..w8, b1, b2 (drawn as parameters in pictures)."""
    return [q[name] for name in PARAMETER_NAMES]


def picture(q: dict[str, Value], path: str, highlight: str) -> str:
    """Write the graph after backward() to ``path`` (format from its suffix), ``highlight``'s paths in red."""
    from autograd.render import save

    save(q["E_total"], path, highlight=explain(q["E_total"], q[highlight], collapse=True), params=parameters(q))
    return f"\nwrote {path}: the 2-2-2 graph after backward, the paths of dE_total/d{highlight} highlighted"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demos.mazur",
        description=f"The 2-2-2 sigmoid network of {SOURCE} through nn, every number checked.",
    )
    parser.add_argument("--steps", type=int, default=0, metavar="N",
                        help="after the checked update, keep training to N updates in all and print E_total")
    parser.add_argument("--explain", metavar="NAME", action="append", default=[],
                        help="print dE_total/dNAME as the chain rule, path by path (e.g. w5, w1; repeatable)")
    parser.add_argument("--step", action="store_true",
                        help="walk the backward pass one node at a time (Enter: next, q: quit; no TTY: all steps)")
    parser.add_argument("--quiz", action="store_true",
                        help="step through backward() typing each labeled node's gradient; wrong answers are diagnosed")
    parser.add_argument("--render", metavar="FILE",
                        help="write the graph after backward to FILE (.svg, .png, .pdf, .dot); needs Graphviz's dot")
    parser.add_argument("--highlight", metavar="NAME", default="w1",
                        help="with --render: whose chain-rule paths to highlight (default w1)")
    parser.add_argument("--frames", metavar="DIR",
                        help="write one picture per backward step and an index.html that plays them to DIR")
    parser.add_argument("--explore", metavar="FILE.html",
                        help="write the explorer: one page to step, zoom, click and hover (needs Graphviz's dot)")
    parser.add_argument("--compiled", action="store_true",
                        help="with --steps: trace the loss once and train with generated code (autograd.compile_graph)")
    args = parser.parse_args(argv)
    if args.steps < 0:
        parser.error("--steps must be >= 0")
    if args.compiled and args.steps < 1:
        parser.error("--compiled trains with generated code: it does something only with --steps N (N >= 1)")
    if args.render and Path(args.render).suffix.lower() not in RENDER_SUFFIXES:
        parser.error(f"--render {args.render}: unknown picture format; use a file ending in "
                     f"{', '.join(RENDER_SUFFIXES)}")
    needs_dot = bool(args.frames) or (args.render and Path(args.render).suffix.lower() in (".svg", ".png", ".pdf"))
    if needs_dot and shutil.which("dot") is None:
        from autograd.render import INSTALL_HINT

        what = "--frames" if args.frames else f"--render {args.render}"
        parser.error(f"{what} needs Graphviz's dot program. {INSTALL_HINT} (--render FILE.dot needs nothing.)")
    for name in [*args.explain, args.highlight]:
        if name not in PARAMETER_NAMES:
            parser.error(f"unknown quantity {name!r}; choose one of {', '.join(PARAMETER_NAMES)}")
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")

    model, weights, q = build()
    print(f"The 2-2-2 sigmoid network of {SOURCE}:")
    print("i = (0.05, 0.10), targets (0.01, 0.99),")
    print(f"E_total = sum 1/2 (target - out)^2, one step of gradient descent with lr = {LR} on w1..w8 (biases fixed).")
    table = Table()
    table.section("forward pass")
    for name in ("net_h1", "net_h2", "out_h1", "out_h2", "net_o1", "net_o2", "out_o1", "out_o2", "E_o1", "E_o2"):
        table.row(name, q[name].data, PUBLISHED_FORWARD.get(name))
    table.row("E_total", q["E_total"].data, PUBLISHED_FORWARD["E_total"])

    if args.step:
        walk_steps(q["E_total"], interactive=sys.stdin.isatty() and sys.stdout.isatty())
        print()
    if args.quiz:
        bp = Backprop(q["E_total"])
        bp.quiz()
        bp.reset()
        print()
    q["E_total"].backward()
    # explanations and pictures show the graph after backward() and before the update; printed after the table
    after_table = [f"\nthe chain rule for dE_total/d{name}, in the reference's quantities (collapse=True):\n"
                   f"{explain(q['E_total'], q[name], collapse=True)}" for name in args.explain]
    if args.render:
        after_table.append(picture(q, args.render, args.highlight))
    if args.frames:
        from autograd import render_steps

        index = render_steps(q["E_total"], args.frames, params=parameters(q))
        after_table.append(f"wrote one picture per backward step and {index} (open it in a browser)")
    if args.explore:
        from autograd import explore

        page = explore(q["E_total"], params=parameters(q)).save(args.explore)
        after_table.append(f"wrote the explorer to {page} (open it in a browser; it needs no network)")
    table.section("chain-rule factors (w5: one path; w1: through o1 and o2, the two add)")
    for name, got in factors(q).items():
        table.row(name, got, PUBLISHED_FACTORS[name])

    table.section("gradients dE_total/dw (* = derived from the published update, (w - w_after) / lr)")
    grads = {name: q[name].grad for name in WEIGHT_NAMES}
    olds = {name: q[name].data for name in WEIGHT_NAMES}
    for name in WEIGHT_NAMES:
        key = f"dE_d{name}"
        if key in PUBLISHED_GRADIENTS:
            table.row(key, grads[name], PUBLISHED_GRADIENTS[key])
        else:
            derived = (olds[name] - PUBLISHED_UPDATED[f"{name}_after"]) / LR
            table.row(key, grads[name], derived, tol=TOL / LR, note=" *")

    nn.SGD(weights, lr=LR).step()
    table.section(f"after one update w -= {LR} * dE_total/dw (biases are not trained)")
    for name in WEIGHT_NAMES:
        table.row(f"{name}_after", q[name].data, PUBLISHED_UPDATED[f"{name}_after"])
    table.row("b1", q["b1"].data, B1, tol=0.0)
    table.row("b2", q["b2"].data, B2, tol=0.0)
    print(f"* published to 9 decimals after the update, so a derived gradient is good to {TOL / LR:g}")
    print("all values match the reference" if table.ok else "SOME VALUES DO NOT MATCH THE REFERENCE")
    for text in after_table:
        print(text)

    if args.steps >= 1:
        every = max(1, args.steps // 10)
        history = [(0, q["E_total"].data), *train(model, weights, 1, args.steps, every, args.compiled)]
        if args.steps >= 10000:  # the published figure is the error after 9,999 updates: keep that point too
            history = sorted({**dict(history), 9999: _error_after(9999, args.compiled)}.items())
        how = ("compiled: the loss traced once (nn.compile_loss), each update ran the generated code"
               if args.compiled else "a new graph and backward() per update")
        print(f"\ntraining on ({how}): E_total after each number of updates (lr = {LR})")
        print(f"  {'updates':>8}  {'E_total':>14}")
        for n, error in history:
            print(f"  {n:>8}  {error:14.10f}")
        outs = model(list(INPUTS))
        updates = f"{args.steps} update" + ("" if args.steps == 1 else "s")
        print(f"outputs after {updates}: out_o1 = {outs[0].data:.9f} (target {TARGETS[0]}), "
              f"out_o2 = {outs[1].data:.9f} (target {TARGETS[1]})")
        if args.steps >= 10000:
            table.ok &= print_published_10000(dict(history))
    return 0 if table.ok else 1


def _error_after(updates: int, compiled: bool) -> float:
    """E_total after ``updates`` updates from the published start (a fresh copy of the network)."""
    model, params = mazur_model()
    return train(model, [params[name] for name in WEIGHT_NAMES], 0, updates, updates, compiled)[-1][1]


def print_published_10000(history: dict[int, float]) -> bool:
    """The page's error after 10,000 rounds beside ours: it is the error of round 10,000's forward pass."""
    error = history[9999]
    good = abs(error - PUBLISHED_AFTER_10000) <= 5e-11
    print(f"published ({SOURCE}): after 10,000 rounds the error is {PUBLISHED_AFTER_10000:.10f}")
    mark = "✓" if good else "✗ MISMATCH"
    print(f"  computed: {error:.10f} in round 10,000's forward pass (after 9,999 updates)  {mark}")
    return good


if __name__ == "__main__":
    run(main)
