"""explain(): the chain-rule paths behind a gradient, factor by factor, against the reference numbers."""

from __future__ import annotations

import math
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TOL, build_mazur
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import Graph, Value, explain, topological_order
from autograd.text import FoldedTexts

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # demos is not an installed package; import it from the checkout
    sys.path.insert(0, str(REPO))

from demos import mazur as mazur_demo  # noqa: E402

W5_LINE = ("dE_total/dw5 = dE_total/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5"
           " = 0.741365070 * 0.186815602 * 0.593269992 = 0.082167041")
DELTA_LINE = "dE_total/dout_h1 = dE_o1/dout_h1 + dE_o2/dout_h1 = 0.055399425 + -0.019049118"


def names_of(factors):
    return [f"d{f.child.label}/d{f.parent.label}" for f in factors]


def nn_mazur():
    return mazur_demo.build()[2]


# -- the reference's w5 and w1 ------------------------------------------------------------------
@pytest.mark.parametrize("build", [build_mazur, nn_mazur], ids=["values", "nn"])
@pytest.mark.parametrize("collapse", [True, ["out_o1", "net_o1", "out_h1", "net_h1"]], ids=["labeled", "listed"])
def test_w5_is_the_references_three_factors(build, collapse):
    q = build()
    e = explain(q["E_total"], q["w5"], collapse=collapse)
    (path,) = e.paths
    assert names_of(path.factors) == ["dE_total/dout_o1", "dout_o1/dnet_o1", "dnet_o1/dw5"]
    dE_total_dout_o1, dout_o1_dnet_o1, dnet_o1_dw5 = (f.value for f in path.factors)
    assert dE_total_dout_o1 == pytest.approx(0.741365070, abs=TOL)
    assert dout_o1_dnet_o1 == pytest.approx(0.186815602, abs=TOL)
    assert dnet_o1_dw5 == pytest.approx(0.593269992, abs=TOL)
    assert path.product == pytest.approx(0.082167041, abs=TOL)
    assert e.total == pytest.approx(0.082167041, abs=TOL) and not e.grouped and e.count == 1
    assert W5_LINE in str(e).splitlines()


def test_w5_without_collapse_shows_every_real_node():
    q = build_mazur()
    e = explain(q["E_total"], q["w5"])
    (path,) = e.paths
    assert len(path.factors) == 8
    assert path.factors[0].child is q["E_total"] and path.factors[0].parent is q["E_o1"]
    assert [f.parent.op for f in path.factors[1:4]] == ["pow_const", "sub", "sigmoid"]  # the (t - o)^2 pieces
    assert all(len(f.chain) == 2 for f in path.factors)
    assert path.product == pytest.approx(0.082167041, abs=TOL)
    text = str(e)
    assert "dE_total/dE_o1 * dE_o1/dpow_const#" in text and text.splitlines()[0].endswith("= 0.082167041")


def test_collapsed_factor_lists_the_chain_it_folds():
    q = build_mazur()
    first = explain(q["E_total"], q["w5"], collapse=True).paths[0].factors[0]
    assert first.chain[0] is q["E_total"] and first.chain[1] is q["E_o1"] and first.chain[-1] is q["out_o1"]
    assert [v.op for v in first.chain[2:4]] == ["pow_const", "sub"]
    assert first.formula == "-(0.01 - out_o1)"  # 0.5 * 2 * (0.01 - out_o1) * -1, folded


@pytest.mark.parametrize("build", [build_mazur, nn_mazur], ids=["values", "nn"])
@pytest.mark.parametrize("collapse", [True, False])
def test_w1_has_two_paths_and_the_delta_form(build, collapse):
    q = build()
    q["E_total"].backward()
    e = explain(q["E_total"], q["w1"], collapse=collapse)
    assert len(e.paths) == 2 and e.count == 2 and not e.grouped
    through_o1, through_o2 = e.paths
    assert q["out_o1"] in {f.parent for f in through_o1.factors}
    assert q["out_o2"] in {f.parent for f in through_o2.factors}
    assert through_o1.product + through_o2.product == pytest.approx(0.000438568, abs=TOL)
    assert e.total == q["w1"].grad
    (meet,) = e.merges()
    dE_o1_dout_h1, dE_o2_dout_h1 = (s.value for s in meet.shares)
    assert meet.node is q["out_h1"] and meet.grad == pytest.approx(0.036350306, abs=TOL)
    assert dE_o1_dout_h1 == pytest.approx(0.055399425, abs=TOL)
    assert dE_o2_dout_h1 == pytest.approx(-0.0190491183, abs=TOL)
    assert [s.top for s in meet.shares] == [q["E_o1"], q["E_o2"]]
    assert DELTA_LINE in str(e)


def test_w1_factors_match_the_reference():
    q = build_mazur()
    through_o1, _ = explain(q["E_total"], q["w1"], collapse=True).paths
    assert names_of(through_o1.factors) == [
        "dE_total/dout_o1", "dout_o1/dnet_o1", "dnet_o1/dout_h1", "dout_h1/dnet_h1", "dnet_h1/dw1"]
    dnet_o1_dout_h1, dout_h1_dnet_h1, dnet_h1_dw1 = (f.value for f in through_o1.factors[2:])
    assert dnet_o1_dout_h1 == 0.40  # w5, the old weight
    assert dout_h1_dnet_h1 == pytest.approx(0.241300709, abs=TOL)
    assert dnet_h1_dw1 == 0.05  # i1
    delta_o1 = through_o1.factors[0].value * through_o1.factors[1].value
    assert delta_o1 == pytest.approx(0.138498562, abs=TOL)


def test_explain_leaves_grads_alone():
    q = build_mazur()
    before = [v.grad for v in topological_order(q["E_total"])]
    explain(q["E_total"], q["w1"], collapse=True)
    assert [v.grad for v in topological_order(q["E_total"])] == before


# -- edge cases ---------------------------------------------------------------------------------
def test_wrt_outside_the_graph_is_an_error():
    q = build_mazur()
    stranger = Value(1.0, label="stranger")
    with pytest.raises(ValueError, match="stranger is not in the graph of E_total"):
        explain(q["E_total"], stranger)


def test_unknown_label_to_keep_is_an_error():
    q = build_mazur()
    with pytest.raises(ValueError, match="no node labeled 'out_o3'"):
        explain(q["E_total"], q["w5"], collapse=["out_o3"])


def test_a_dead_relu_shows_its_zero_factor():
    x = Value(-2.0, label="x")
    h = (x * 3.0).relu()
    h.label = "h"
    y = h * 5.0
    y.label = "y"
    e = explain(y, x)
    (path,) = e.paths
    assert [f.value for f in path.factors] == [5.0, 0.0, 3.0] and path.product == 0.0 and e.total == 0.0
    assert "dy/dh * dh/dmul#1 * dmul#1/dx = 5 * 0 * 3 = 0" in str(e)
    assert "dh/dmul#1 = 1 if mul#1 > 0 else 0 = 0" in str(e)  # the operand's name, not the op table's x
    (folded,) = explain(y, x, collapse=True).paths
    assert [f.value for f in folded.factors] == [5.0, 0.0]  # dh/dx = 0 * 3 through the folded mul


def test_output_wrt_itself_is_one():
    q = build_mazur()
    e = explain(q["E_total"], q["E_total"])
    assert e.total == 1.0 and len(e.paths) == 1 and e.paths[0].factors == [] and e.paths[0].product == 1.0


def test_a_reused_node_is_one_factor_with_both_terms():
    a = Value(3.0, label="a")
    y = a * a
    y.label = "y"
    (path,) = explain(y, a).paths
    (factor,) = path.factors
    assert factor.value == 6.0 and factor.formula == "a + a"  # one term per position, in a's name


def ladder(layers):
    """Each layer adds two routes: 2**layers paths from the output to x."""
    x = Value(0.3, label="x")
    a = x
    for _ in range(layers):
        a = a.tanh() + a * 0.5
    a.label = "out"
    return a, x


def test_path_count_decides_between_paths_and_grouped_form():
    out, x = ladder(6)
    e = explain(out, x, max_paths=64)
    assert not e.grouped and len(e.paths) == e.count == 64
    assert math.fsum(p.product for p in e.paths) == pytest.approx(e.total, rel=1e-12)
    out, x = ladder(7)
    e = explain(out, x, max_paths=64)
    assert e.grouped and e.paths == [] and e.count == 65  # counted up to max_paths only: 65 stands for "more"
    assert "more than max_paths=64 paths; grouped form" in str(e)
    assert explain(out, x, max_paths=200).count == 128  # exact up to max_paths


def test_path_explosion_uses_the_grouped_form_without_enumerating():
    out, x = ladder(200)
    out.backward()
    e = explain(out, x)
    assert e.grouped and e.count == 65 and e.total == x.grad  # 2**200 paths, never counted exactly
    for g in e.groups:  # each line of the grouped form adds up
        assert math.fsum(s.value for s in g.shares) == pytest.approx(g.grad, rel=1e-9, abs=1e-300)
    assert e.groups[-1].node is x


def test_a_twenty_layer_mlp_explains_in_grouped_form():
    rng = random.Random(0)
    xs = [Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(4)]
    h = xs
    for _ in range(20):
        h = [sum((Value(rng.uniform(-1, 1)) * v for v in h), Value(0.0)).tanh() for _ in range(4)]
    out = sum(h, Value(0.0))
    out.label = "out"
    out.backward()
    for collapse in (False, True):
        e = explain(out, xs[0], collapse=collapse)
        assert e.total == xs[0].grad
    assert explain(out, xs[0]).grouped and explain(out, xs[0]).count == 65  # 4**20 paths: more than max_paths


def test_a_long_chain_explains_without_recursion():
    x = Value(0.5, label="x")
    y = x
    for _ in range(5000):
        y = (y * 1.0).tanh()
    y.label = "y"
    y.backward()
    e = explain(y, x)
    assert len(e.paths) == 1 and len(e.paths[0].factors) == 10000 and e.total == x.grad
    (factor,) = explain(y, x, collapse=True).paths[0].factors
    assert factor.value == pytest.approx(x.grad, rel=1e-12) and factor.chains == ()


# -- random graphs --------------------------------------------------------------------------------
UNARY = ("tanh", "sigmoid", "exp_small", "neg", "square", "softplus", "relu")
BINARY = ("add", "sub", "mul")


def random_graph(seed: int, size: int):
    """A random DAG over 3 leaves where nodes are reused several times."""
    rng = random.Random(seed)
    leaves = [Value(rng.uniform(-1.5, 1.5), label=f"x{i}") for i in range(3)]
    nodes = list(leaves)
    for _ in range(size):
        if rng.random() < 0.4:
            v = rng.choice(nodes)
            kind = rng.choice(UNARY)
            new = {"tanh": v.tanh, "sigmoid": v.sigmoid, "neg": v.__neg__, "softplus": v.softplus, "relu": v.relu,
                   "exp_small": lambda v=v: (v.tanh()).exp(), "square": lambda v=v: v * v}[kind]()
        else:
            a, b = rng.choice(nodes), rng.choice(nodes)
            new = {"add": a + b, "sub": a - b, "mul": a * b}[rng.choice(BINARY)]
        if rng.random() < 0.3:
            new.label = f"n{len(nodes)}"
        nodes.append(new)
    out = nodes[-1] + nodes[-2] * nodes[-3]
    out.label = "out"
    return out, leaves


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.integers(1, 25), collapse=st.booleans())
def test_random_graphs_total_equals_backward(seed, size, collapse):
    out, leaves = random_graph(seed, size)
    out.backward()
    for x in leaves:
        if x not in set(topological_order(out)):
            with pytest.raises(ValueError):
                explain(out, x)
            continue
        e = explain(out, x, collapse=collapse)
        assert e.total == pytest.approx(x.grad, rel=1e-12, abs=0.0)
        assert str(e).startswith(f"dout/d{x.label}") and braces_balanced(e.to_latex()) and e.to_markdown()
        if e.grouped:
            assert e.count > 64 and e.paths == []
        else:  # the path products add up to the gradient, to rounding on the scale of the real paths
            products = [p.product for p in e.paths]
            assert len(products) == e.count
            assert abs(math.fsum(products) - x.grad) <= 1e-12 * abs_gradient(out, x)


def abs_gradient(out, x):
    """The sum over every real path of |product of local derivatives|: the scale of rounding errors."""
    grad = {out: 1.0}
    for v in reversed(topological_order(out)):
        for child, local in zip(v.inputs, v.local_grads):
            grad[child] = grad.get(child, 0.0) + abs(local) * grad.get(v, 0.0)
    return grad[x]


# -- output formats -------------------------------------------------------------------------------
def braces_balanced(text: str) -> bool:
    depth = 0
    for token in re.findall(r"\\[{}]|[{}]", text):
        if token in ("\\{", "\\}"):
            continue
        depth += 1 if token == "{" else -1
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("wrt", ["w5", "w1"])
def test_to_latex_is_well_formed_math(wrt, tmp_path):
    q = build_mazur()
    tex = explain(q["E_total"], q[wrt], collapse=True).to_latex()
    assert tex.startswith("\\begin{aligned}\n") and tex.endswith("\n\\end{aligned}")
    assert braces_balanced(tex)
    assert tex.count("\\begin{") == tex.count("\\end{") == 1
    assert "\\frac{\\partial \\mathrm{E}_{\\mathrm{total}}}{\\partial \\mathrm{out}_{\\mathrm{o1}}}" in tex
    assert "0.741365070" in tex and "#" not in tex.replace("\\#", "")
    if wrt == "w1":
        assert "0.055399425 + (-0.019049118)" in tex
    if shutil.which("pdflatex"):  # compile for real where LaTeX is installed
        doc = tmp_path / "e.tex"
        doc.write_text("\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n$$" + tex
                       + "$$\n\\end{document}\n")
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", doc.name], cwd=tmp_path, capture_output=True)
        assert run.returncode == 0, run.stdout[-2000:]


def test_latex_writes_a_direct_share_as_the_text_does():
    x = Value(0.5, label="x")
    n = x.tanh()
    n.label = "n"
    o = x + n
    o.label = "o"
    e = explain(o, x)
    assert "do/dx = do/dx (direct) + dn/dx = 1 + " in str(e)
    do_dx = r"\frac{\partial \mathrm{o}}{\partial \mathrm{x}}"
    dn_dx = r"\frac{\partial \mathrm{n}}{\partial \mathrm{x}}"
    assert f"{do_dx} &= {do_dx} + {dn_dx} = 1 + " in e.to_latex()  # not d o/d o * d o/d x


def test_grouped_latex_is_well_formed():
    out, x = ladder(8)
    tex = explain(out, x).to_latex()
    assert braces_balanced(tex) and "mul\\#" in tex


def test_to_markdown_has_the_path_and_factor_tables():
    q = build_mazur()
    md = explain(q["E_total"], q["w1"], collapse=True).to_markdown()
    assert md.startswith("**dE_total/dw1 = 0.000438568**")
    assert "| path | factors | product |" in md and "| factor | formula | value |" in md
    assert "| dout_h1/dnet_h1 | `out_h1 * (1 - out_h1)` | 0.241300709 |" in md
    assert f"- {DELTA_LINE}" in md


# -- folding, as the renderer uses it -----------------------------------------------------------------
def test_kept_nodes():
    q = build_mazur()
    g = Graph(q["E_total"])
    labeled = g.kept(True)
    assert set(q.values()) <= labeled and all(v.label is not None or not v.inputs for v in labeled)
    listed = g.kept(["out_o1", q["net_o1"]])
    assert {v.label for v in listed} == {"E_total", "out_o1", "net_o1", "w1", "w2", "w3", "w4", "w5", "w6", "w7",
                                         "w8", "i1", "i2", "b1", "b2"}
    assert g.kept(False) == set(topological_order(q["E_total"]))


def test_folded_edges_sum_over_folded_nodes():
    q = build_mazur()
    g = Graph(q["E_total"])
    texts = FoldedTexts(g, g.kept(True))
    edges = {(e.child.label, e.parent.label): e for e in g.folded()}
    dnet_o1_dw5 = edges["net_o1", "w5"]
    assert dnet_o1_dw5.value == q["out_h1"].data and texts.formula(dnet_o1_dw5) == "out_h1"
    assert len(dnet_o1_dw5.chains) == 1 and len(dnet_o1_dw5.chains[0]) == 4  # net_o1, add, mul, w5
    sigmoid_edge = edges["out_o1", "net_o1"]
    assert sigmoid_edge.chains == ((q["out_o1"], q["net_o1"]),)
    assert texts.formula(sigmoid_edge) == "out_o1 * (1 - out_o1)"
    assert ("E_total", "out_o1") not in edges  # E_o1 is labeled: kept
    edges = {(e.child.label, e.parent.label): e for e in g.folded(["out_o1", "net_o1"])}
    assert edges["E_total", "out_o1"].value == pytest.approx(0.741365070, abs=TOL)


def test_a_20_layer_mlp_explains_in_the_grouped_form():
    import nn

    model = nn.MLP(2, [4] * 20 + [1], seed=3)
    out = model([0.5, -0.25])[0]
    out.backward()
    w = model.layers[0].W[0][0]
    e = explain(out, w)
    assert e.grouped and "grouped form" in str(e)
    assert e.total == w.grad
