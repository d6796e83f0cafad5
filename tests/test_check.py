"""autograd.check: hand-computed gradients of the 2-2-2 network, right and wrong, and what the diagnosis says."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TOL

import nn
from autograd import Backprop, Value, Verdict, check, check_all, define_op, explain
from autograd.core import ops

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # demos is not an installed package; import it from the checkout
    sys.path.insert(0, str(REPO))

from demos import mazur, softmax  # noqa: E402


@pytest.fixture
def q():
    """The reference's 2-2-2 network, every quantity labeled (targets too); no backward() run."""
    return mazur.build()[2]


def hand(q) -> dict[str, float]:
    """The hand derivation's numbers, from the forward values only."""
    v = {name: node.data for name, node in q.items()}
    dE_dout_o1 = v["out_o1"] - v["target_o1"]
    dE_dout_o2 = v["out_o2"] - v["target_o2"]
    dout_o1_dnet_o1 = v["out_o1"] * (1 - v["out_o1"])
    dout_o2_dnet_o2 = v["out_o2"] * (1 - v["out_o2"])
    dout_h1_dnet_h1 = v["out_h1"] * (1 - v["out_h1"])
    dE_o1_dout_h1 = dE_dout_o1 * dout_o1_dnet_o1 * v["w5"]
    dE_o2_dout_h1 = dE_dout_o2 * dout_o2_dnet_o2 * v["w7"]
    return dict(
        v, dE_dout_o1=dE_dout_o1, dout_o1_dnet_o1=dout_o1_dnet_o1, dout_h1_dnet_h1=dout_h1_dnet_h1,
        delta_o2=dE_dout_o2 * dout_o2_dnet_o2, dE_o1_dout_h1=dE_o1_dout_h1, dE_o2_dout_h1=dE_o2_dout_h1,
        dE_dw5=dE_dout_o1 * dout_o1_dnet_o1 * v["out_h1"],
        dE_dw1=(dE_o1_dout_h1 + dE_o2_dout_h1) * dout_h1_dnet_h1 * v["i1"],
    )


# -- right claims ----------------------------------------------------------------------------------
def test_the_published_dE_dw5_is_correct(q):
    verdict = check(q["E_total"], "w5", 0.082167041)
    assert verdict.ok and verdict.kind == "correct"
    assert verdict.value == pytest.approx(0.082167041, abs=TOL)
    assert verdict.claimed == 0.082167041
    assert "correct" in str(verdict)


def test_a_rounded_claim_is_correct_within_rtol_and_not_beyond(q):
    assert check(q["E_total"], q["w5"], 0.0822).ok
    assert not check(q["E_total"], q["w5"], 0.0822, rtol=1e-5).ok


def test_the_w5_formula_is_correct_factor_by_factor(q):
    verdict = check(q["E_total"], "w5", "(out_o1 - target_o1) * out_o1 * (1 - out_o1) * out_h1")
    assert verdict.ok and verdict.formula is not None
    assert verdict.claimed == pytest.approx(0.082167041, abs=TOL)
    comparison = "\n".join(verdict.comparison)
    assert "(out_o1 - target_o1) = 0.741365070: dE_total/dout_o1 ✓" in comparison
    assert "out_o1 * (1 - out_o1) = 0.186815602: dout_o1/dnet_o1 ✓" in comparison
    assert "out_h1 = 0.593269992: dnet_o1/dw5 ✓" in comparison


def test_the_w1_formula_with_both_paths_is_correct(q):
    claim = ("((out_o1 - target_o1) * out_o1 * (1 - out_o1) * w5 + (out_o2 - target_o2) * out_o2 * (1 - out_o2) * w7)"
             " * out_h1 * (1 - out_h1) * i1")
    verdict = check(q["E_total"], "w1", claim)
    assert verdict.ok
    assert verdict.claimed == pytest.approx(0.000438568, abs=TOL)


def test_check_leaves_every_gradient_as_it_was(q):
    check(q["E_total"], "w1", 0.000668396)
    assert all(node.grad == 0.0 for node in q.values())


# -- each mistake made deliberately ---------------------------------------------------------------
def test_w5_without_the_sigmoids_derivative_is_a_missing_factor(q):
    h = hand(q)
    verdict = check(q["E_total"], "w5", h["dE_dout_o1"] * h["out_h1"])
    assert not verdict.ok and verdict.kind == "missing_factor"
    assert "dout_o1/dnet_o1" in verdict.detail and "0.186815602" in verdict.detail
    assert "out_o1 * (1 - out_o1)" in verdict.detail and "sigmoid" in verdict.detail


def test_the_w5_formula_without_the_sigmoids_derivative_says_which_factor_is_missing(q):
    verdict = check(q["E_total"], "w5", "(out_o1 - target_o1) * out_h1")
    assert verdict.kind == "missing_factor"
    assert "missing: dout_o1/dnet_o1 = 0.186815602" in verdict.comparison
    assert "out_h1 = 0.593269992: dnet_o1/dw5 ✓" in verdict.comparison


def test_w1_through_o1_only_is_missing_the_path_through_o2(q):
    h = hand(q)
    path_through_o1 = h["dE_o1_dout_h1"] * h["dout_h1_dnet_h1"] * h["i1"]
    verdict = check(q["E_total"], "w1", path_through_o1)
    assert verdict.kind == "missing_paths"
    assert "you counted the path from E_o1 through net_o1 only" in verdict.detail
    assert "out_h1 also receives dE_o2/dout_h1 = -0.019049118 from E_o2 through net_o2" in verdict.detail
    assert "dE_total/dout_h1 = dE_o1/dout_h1 + dE_o2/dout_h1 = 0.036350306" in verdict.detail


def test_the_wrong_sign(q):
    verdict = check(q["E_total"], "w5", -hand(q)["dE_dw5"])
    assert verdict.kind == "sign" and "sign" in verdict.detail


def test_twice_the_gradient_is_a_scale_mistake(q):
    verdict = check(q["E_total"], "w1", 2 * hand(q)["dE_dw1"])
    assert verdict.kind == "scale" and "twice dE_total/dw1" in verdict.detail
    assert check(q["E_total"], "w1", 0.5 * hand(q)["dE_dw1"]).kind == "scale"


def test_the_sigmoids_derivative_taken_at_the_wrong_node(q):
    h = hand(q)
    verdict = check(q["E_total"], "w5", h["dE_dout_o1"] * h["dout_h1_dnet_h1"] * h["out_h1"])
    assert verdict.kind == "wrong_factor"
    assert "dout_h1/dnet_h1 = 0.241300709" in verdict.detail
    assert "out_h1 instead of out_o1" in verdict.detail and "dout_o1/dnet_o1" in verdict.detail


def test_the_nodes_value_instead_of_its_derivative(q):
    h = hand(q)
    verdict = check(q["E_total"], "w5", h["dE_dout_o1"] * h["out_o1"] * h["out_h1"])
    assert verdict.kind == "wrong_factor"
    assert "out_o1 = 0.751365070, the node's value instead of its derivative" in verdict.detail


def test_the_wrong_input_of_net_o1(q):
    h = hand(q)
    verdict = check(q["E_total"], "w5", h["dE_dout_o1"] * h["dout_o1_dnet_o1"] * h["out_h2"])
    assert verdict.kind == "wrong_factor" and "dnet_o1/dw6" in verdict.detail


def test_the_sigmoids_derivative_twice_is_an_extra_factor(q):
    h = hand(q)
    verdict = check(q["E_total"], "w5", h["dE_dw5"] * h["dout_o1_dnet_o1"])
    assert verdict.kind == "extra_factor" and "dout_o1/dnet_o1" in verdict.detail and "twice" in verdict.detail


def test_a_path_through_net_o2_that_w5_does_not_have(q):
    h = hand(q)
    verdict = check(q["E_total"], "w5", h["dE_dw5"] + h["delta_o2"] * h["out_h1"])
    assert verdict.kind == "extra_paths"
    assert "through net_o2" in verdict.detail and "w5 does not reach net_o2" in verdict.detail


def test_no_mistake_fits_and_the_right_derivation_is_shown(q):
    verdict = check(q["E_total"], "w5", 0.5)
    assert verdict.kind == "unknown" and not verdict.ok
    assert "tried:" in str(verdict) and "missing factor" in verdict.tried
    assert ("dE_total/dw5 = dE_total/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5 = "
            "0.741365070 * 0.186815602 * 0.593269992 = 0.082167041") in str(verdict)


def test_x_times_x_counted_once_is_a_missing_path():
    x = Value(3.0, label="x")
    y = x * x
    y.label = "y"
    verdict = check(y, x, "x")
    assert verdict.kind == "missing_paths"
    assert "y = x * x uses x 2 times" in verdict.detail and "dy/dx = x + x = 6" in verdict.detail


def test_the_bare_value_network_gets_the_same_diagnosis(mazur):
    h = hand(mazur | {"target_o1": _Const(0.01), "target_o2": _Const(0.99)})
    verdict = check(mazur["E_total"], mazur["w1"], h["dE_o1_dout_h1"] * h["dout_h1_dnet_h1"] * h["i1"])
    assert verdict.kind == "missing_paths" and "out_h1 also receives dE_o2/dout_h1" in verdict.detail


class _Const:
    def __init__(self, data: float) -> None:
        self.data = data


# -- softmax + cross-entropy -----------------------------------------------------------------------
def test_claiming_the_softmax_forgets_the_subtract_1():
    z, a, loss = softmax.forward()
    a2 = a[1].data
    dL_dz2 = check(loss, "z2", "a2 - 1")
    assert dL_dz2.ok and dL_dz2.value == pytest.approx(-0.755271529, abs=TOL)
    verdict = check(loss, "z2", a2)
    assert verdict.kind == "missing_paths"
    assert "z2 -> sub#1 -> a2" in verdict.detail and "logsumexp" in verdict.detail
    assert "adds -1.000000000 to dL/dz2" in verdict.detail
    assert check(loss, "z1", a[0].data).ok  # i != j: the softmax itself


# -- formulas are parsed, never run --------------------------------------------------------------
@pytest.fixture
def nothing_runs(monkeypatch):
    """eval and exec replaced by a tripwire: a claim that reached either would be recorded."""
    ran: list[str] = []
    monkeypatch.setattr(builtins, "eval", lambda *a, **k: ran.append("eval"))
    monkeypatch.setattr(builtins, "exec", lambda *a, **k: ran.append("exec"))
    return ran


@pytest.mark.parametrize("claim, named", [
    ("__import__('os').system('touch {sentinel}')", "calling __import__('os').system"),
    ("__import__('os')", "calling __import__"),
    ("out_o1.__class__", "attribute access"),
    ("(lambda: 1)()", "a lambda"),
    ("[w1][0]", "a subscript"),
    ("w1[0]", "a subscript"),
    ("open('{sentinel}', 'w')", "calling open"),
    ("[x for x in ()]", "a comprehension"),
    ("1 if w1 else 2", "if/else"),
    ("w1 < w2", "a comparison"),
    ("'w1'", "the constant 'w1'"),
])
def test_formulas_that_try_code_are_refused_without_running(q, tmp_path, nothing_runs, claim, named):
    sentinel = tmp_path / "ran"
    with pytest.raises(ValueError) as info:
        check(q["E_total"], "w5", claim.format(sentinel=sentinel))
    assert named in str(info.value) and "out_o1" in str(info.value)  # the labels are listed
    assert not sentinel.exists() and nothing_runs == []


def test_an_unknown_label_is_refused_with_the_graphs_labels(q):
    with pytest.raises(ValueError, match="unknown name 'out_o3'") as info:
        check(q["E_total"], "w5", "out_o3 * out_h1")
    assert "net_o1, net_o2, out_h1" in str(info.value)
    with pytest.raises(ValueError, match="no node labeled 'w9'.*w8"):
        check(q["E_total"], "w9", 0.1)


def test_a_formula_outside_an_ops_domain_is_a_clear_error(q):
    with pytest.raises(ValueError, match="log: input must be > 0"):
        check(q["E_total"], "w5", "log(w1 - w1)")
    with pytest.raises(ValueError, match="division by zero"):
        check(q["E_total"], "w5", "w1 / (w2 - w2)")


def test_formulas_call_the_op_tables_functions(q):
    assert check(q["E_total"], "w5", "(out_o1 - target_o1) * sigmoid(net_o1) * (1 - sigmoid(net_o1)) * out_h1").ok
    with pytest.raises(ValueError, match="calling __add__"):
        check(q["E_total"], "w5", "__add__(w1, w2)")


@pytest.fixture
def cube():
    """A user op from define_op, taken out of the table afterwards (other files walk the built-in rows)."""
    fn = define_op("check_test_cube", forward="x * x * x", local="3.0 * x * x", formula="3 x^2")
    yield fn
    ops.OPS.pop("check_test_cube", None)


def test_a_user_op_is_checked_and_callable_in_formulas(cube):
    x, w = Value(0.5, label="x"), Value(2.0, label="w")
    y = cube(x)
    y.label = "y"
    out = y * w
    out.label = "out"
    assert check(out, "x", "3 * x ** 2 * w").ok
    assert check(out, "w", "check_test_cube(x)").ok
    verdict = check(out, "x", "w")
    assert verdict.kind == "missing_factor"
    assert "dy/dx = 3 * x^2 = 0.75, the check_test_cube's derivative" in verdict.detail


def test_labels_that_are_not_python_names_work_in_formulas():
    model = nn.MLP(2, [1], activation="linear", seed=0)
    y = model([0.5, -1.0])[0]
    w = model.layers[0].W[0][0]
    assert w.label == "W[1][0,0]"
    verdict = check(y, w, "0.5")
    assert verdict.ok
    assert check(y, w, f"{w.label} * 0 + 0.5").ok


# -- several at once, notebooks, big graphs ------------------------------------------------------
def test_check_all_prints_a_table(q):
    report = check_all(q["E_total"], {"w5": 0.0822, "w1": 0.000668396, q["w2"]: "1"})
    assert [v.kind for v in report] == ["correct", "missing_paths", "unknown"]
    assert not report.ok and len(report) == 3 and isinstance(report[0], Verdict)
    assert repr(report) == str(report)  # at the prompt, check_all(...) shows the table
    text = str(report).splitlines()
    assert text[0].split() == ["gradient", "claimed", "engine", "verdict"]
    assert text[2].split() == ["dE_total/dw5", "0.0822", "0.082167041", "✓", "correct"]
    assert text[3].split() == ["dE_total/dw1", "0.000668396", "0.000438568", "✗", "missing_paths"]
    assert "out_h1 also receives" in str(report)
    assert "| dE\\_total/dw1 | 0.000668396 | 0.000438568 | ✗ | missing_paths |" in report._repr_markdown_()


def test_a_verdict_shows_in_a_notebook_and_has_a_short_repr(q):
    verdict = check(q["E_total"], "w5", 0.5)
    assert repr(verdict) == "Verdict(ok=False, kind='unknown', value=0.082167041, claimed=0.5)"
    md = verdict._repr_markdown_()
    assert md.startswith("**✗ dE\\_total/dw5") and "```" in md


def test_a_20_layer_mlp_is_checked_in_bounded_time():
    model = nn.MLP(2, [4] * 20 + [1], seed=3)
    out = model([0.5, -0.25])[0]
    w = model.layers[0].W[0][0]
    e = explain(out, w)
    assert e.grouped
    assert check(out, w, e.total).ok
    assert check(out, w, -e.total).kind == "sign"
    verdict = check(out, w, 123.0)
    assert verdict.kind == "unknown"
    assert f"(more than {e.max_paths} paths: tried per node and edge, not per path)" in verdict.tried


# -- quiz ------------------------------------------------------------------------------------------
def labeled_steps(q) -> list[str]:
    """The labeled nodes the quiz asks for: each labeled step's node (the root aside), and each labeled leaf
    after the push that makes its gradient final (a leaf is not a step)."""
    bp = Backprop(q["E_total"])
    names = []
    for step in bp:
        if step.node is not q["E_total"] and step.node.label is not None:
            names.append(step.node.label)
        names += [t.input.label for t in step.terms if t.final and not t.input.inputs and t.input.label is not None]
    bp.reset()
    return names


def test_the_quiz_with_every_answer_right(q):
    q["E_total"].backward()
    right = {name: node.grad for name, node in q.items()}
    for node in q.values():
        node.grad = 0.0
    lines: list[str] = []
    result = Backprop(q["E_total"]).quiz(answers=[repr(right[name]) for name in labeled_steps(q)], output=lines.append)
    assert result.finished and result.correct == result.asked == len(labeled_steps(q))
    assert q["w5"].grad == right["w5"] and q["w1"].grad == right["w1"]  # the pass was taken as backward() does
    assert lines[-1].startswith("done:")


def test_the_quiz_diagnoses_a_wrong_answer_and_shows_the_right_step(q):
    names = labeled_steps(q)
    assert names[:4] == ["E_o1", "target_o1", "out_o1", "net_o1"]
    lines: list[str] = []
    result = Backprop(q["E_total"]).quiz(answers=["1", "", "out_o1 - target_o1", "0.741365070"],
                                         output=lines.append)
    text = "\n".join(lines)
    assert [v.ok if v else None for _, _, v in result.answers] == [True, None, True, False]
    assert result.answers[3][2].kind == "missing_factor"
    assert "dout_o1/dnet_o1" in text and "the right step:" in text
    assert "Step 6/15  net_o1 = w5 * out_h1 + w6 * out_h2 + b2   dE_total/dnet_o1 = 0.138498562" in text
    assert not result.finished and "stopped" in lines[-1]  # the answers ran out: stopped quietly


def test_the_quiz_asks_again_after_a_formula_it_cannot_read_and_quits_on_q(q):
    lines: list[str] = []
    result = Backprop(q["E_total"]).quiz(answers=["w1.__class__", "1", "q"], output=lines.append)
    assert result.asked == 1 and result.correct == 1 and not result.finished
    assert any("attribute access" in line for line in lines)


def test_the_quiz_stops_quietly_on_end_of_input(q):
    def no_more(prompt: str) -> str:
        raise EOFError

    lines: list[str] = []
    result = Backprop(q["E_total"]).quiz(input=no_more, output=lines.append)
    assert result.asked == 0 and "stopped" in lines[-1]


def test_demo_quiz_reads_answers_from_stdin():
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-m", "demos.mazur", "--quiz"], cwd=REPO, input="1\n\n0.5\n",
                          capture_output=True, text=True, encoding="utf-8", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "quiz: the backward pass of E_total" in proc.stdout
    assert "✓ dE_total/dE_o1 = 1" in proc.stdout and "stopped: 1/2 correct" in proc.stdout
    assert "all values match the reference" in proc.stdout  # the quiz left the gradients as they were


def test_the_readme_example_runs_as_written(capsys):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Checking a hand derivation"):]
    snippet = section[section.index("```python\n") + 10:section.index("```\n", section.index("```python\n") + 10)]
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    out = capsys.readouterr().out
    assert "dE_total/dw1 = 0.000438568, not 0.000668396: missing paths" in out
    assert "out_h1 also receives dE_o2/dout_h1 = -0.019049118 from E_o2 through net_o2" in out
    assert "False missing_factor" in out


def test_a_tiny_gradient_with_the_wrong_sign_is_not_correct():
    x = Value(0.5, label="x")
    y = x * 1e-20
    y.label = "y"
    assert check(y, x, 1e-20).ok
    assert check(y, x, -1e-20).kind == "sign"
    z = x * 0.0
    z.label = "z"
    assert check(z, x, 0.0).ok and check(z, x, 1e-13).ok and not check(z, x, 0.1).ok


def test_a_formula_too_deep_or_too_large_is_a_value_error(q):
    with pytest.raises(ValueError, match="nested too deeply"):
        check(q["E_total"], "w5", "-" * 50_000 + "w5")
    with pytest.raises(ValueError, match="finite"):
        check(q["E_total"], "w5", "10.0 ** 400")
    with pytest.raises(ValueError, match="no real value"):
        check(q["E_total"], "w5", "(-8) ** (1/3)")


# -- the formula evaluator computes what the engine computes ---------------------------------------
def _expressions():
    from hypothesis import strategies as st

    leaves = st.sampled_from(["a", "b", "c"]).map(lambda name: (name, lambda v, name=name: v[name]))
    numbers = st.sampled_from([0.5, 2.0, 3.0]).map(lambda x: (repr(x), lambda v, x=x: Value(x)))

    def grow(inner):
        pair = st.tuples(inner, inner)
        return st.one_of(
            pair.map(lambda p: (f"({p[0][0]} + {p[1][0]})", lambda v, p=p: p[0][1](v) + p[1][1](v))),
            pair.map(lambda p: (f"({p[0][0]} - {p[1][0]})", lambda v, p=p: p[0][1](v) - p[1][1](v))),
            pair.map(lambda p: (f"{p[0][0]} * {p[1][0]}", lambda v, p=p: p[0][1](v) * p[1][1](v))),
            pair.map(lambda p: (f"{p[0][0]} / (1 + sigmoid({p[1][0]}))",
                                lambda v, p=p: p[0][1](v) / (1 + p[1][1](v).sigmoid()))),
            inner.map(lambda e: (f"-({e[0]})", lambda v, e=e: -e[1](v))),
            inner.map(lambda e: (f"tanh({e[0]})", lambda v, e=e: e[1](v).tanh())),
            inner.map(lambda e: (f"exp(tanh({e[0]}))", lambda v, e=e: e[1](v).tanh().exp())),
            inner.map(lambda e: (f"({e[0]}) ** 2", lambda v, e=e: e[1](v) ** 2)),
        )

    return st.recursive(st.one_of(leaves, numbers), grow, max_leaves=8)


def test_a_formula_evaluates_to_what_the_engine_computes():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from autograd.check import Formula

    data = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False)

    @settings(max_examples=60, deadline=None)
    @given(_expressions(), data, data, data)
    def run(expression, a, b, c):
        text, build = expression
        leaves = {"a": Value(a, label="a"), "b": Value(b, label="b"), "c": Value(c, label="c")}
        out = build(leaves) + leaves["a"] * 0 + leaves["b"] * 0 + leaves["c"] * 0  # every label in the graph
        assert Formula(text, {"a": a, "b": b, "c": c}).value() == pytest.approx(build(leaves).data, rel=1e-12)
        dout_da = explain(out, leaves["a"]).total
        assert check(out, leaves["a"], dout_da).ok
        if dout_da != 0.0:
            assert check(out, leaves["a"], -dout_da).kind == "sign"

    run()
