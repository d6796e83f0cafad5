"""Golden outputs of every reader for five graphs; ``python tests/golden/make.py`` rewrites the files.

tests/test_golden.py compares the readers' outputs with these files. Regenerate them only for a
deliberate change of the texts (and review the diff before committing).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent)]  # the repository (autograd) and tests (conftest)

from conftest import build_mazur  # noqa: E402

from autograd import Backprop, Value, explain, sum_values, to_dot  # noqa: E402


def mazur() -> tuple[Value, list[Value]]:
    q = build_mazur()
    return q["E_total"], [q["w1"], q["w5"], q["out_h1"], q["i1"]]


def diamond() -> tuple[Value, list[Value]]:
    x = Value(0.5, label="x")
    u, v = x.tanh(), x * 3.0
    u.label = "u"
    y = u * v + x.exp()
    y.label = "y"
    return y, [x, u]


def square() -> tuple[Value, list[Value]]:
    a = Value(3.0, label="a")
    y = a * a
    y.label = "y"
    return y, [a]


def softmax_cross_entropy() -> tuple[Value, list[Value]]:
    z = [Value(s, label=f"z{i + 1}") for i, s in enumerate((2.0, 3.0, 4.0))]
    e = [zi.exp() for zi in z]
    total = sum_values(e)
    a = [ei / total for ei in e]
    for i, ai in enumerate(a):
        ai.label = f"a{i + 1}"
    loss = -a[1].log()
    loss.label = "L"
    return loss, [z[0], z[1]]


def mlp20() -> tuple[Value, list[Value]]:
    rng = random.Random(0)
    xs = [Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(2)]
    h = xs
    for layer in range(20):
        h = [sum_values([Value(rng.uniform(-1, 1), label=f"w{layer}_{j}{k}") * v for k, v in enumerate(h)]).tanh()
             for j in range(2)]
    out = sum_values(h)
    out.label = "out"
    return out, [xs[0]]


CASES: dict[str, Callable[[], tuple[Value, list[Value]]]] = {
    "mazur": mazur, "diamond": diamond, "square": square, "softmax": softmax_cross_entropy, "mlp20": mlp20,
}


def outputs(case: str) -> dict[str, str]:
    """Section title -> the reader's text, for one case (each built on a fresh graph)."""
    out: dict[str, str] = {}
    root, wrts = CASES[case]()
    root.backward()
    for wrt in wrts:
        for collapse in (False, True):
            e = explain(root, wrt, collapse=collapse)
            name = f"explain {wrt.label} collapse={collapse}"
            out[name] = str(e)
            out[name + " markdown"] = e.to_markdown()
            out[name + " latex"] = e.to_latex()
    out["to_dot collapse=True"] = to_dot(root, max_nodes=5000)
    out["to_dot collapse=False"] = to_dot(root, collapse=False, max_nodes=5000)
    out["to_dot highlight"] = to_dot(root, highlight=wrts[0], max_nodes=5000)
    root, _ = CASES[case]()
    bp = Backprop(root)
    bp.run()
    out["Backprop steps"] = "\n".join(str(s) for s in bp.steps)
    out["Backprop markdown"] = bp._repr_markdown_()
    return out


def render(sections: dict[str, str]) -> str:
    return "".join(f"=== {title} ===\n{text}\n" for title, text in sections.items())


def path(case: str) -> Path:
    return HERE / f"{case}.txt"


if __name__ == "__main__":
    for case in CASES:
        path(case).write_text(render(outputs(case)), encoding="utf-8")
        print(f"wrote {path(case)}")
