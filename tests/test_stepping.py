"""Backprop: backward() one node at a time, each push written out like the hand derivation."""

from __future__ import annotations

import pytest
from conftest import TOL, build_mazur

from autograd import Backprop, Value, topological_order
from autograd.stepping import format_number


def grads(nodes):
    return [v.grad for v in nodes]


def test_run_gives_exactly_the_grads_of_backward():
    stepped, reference = build_mazur(), build_mazur()
    Backprop(stepped["E_total"]).run()
    reference["E_total"].backward()
    for name in reference:
        assert stepped[name].grad == reference[name].grad, name
    every_stepped = topological_order(stepped["E_total"])
    every_reference = topological_order(reference["E_total"])
    assert grads(every_stepped) == grads(every_reference)


def test_run_with_a_seed_gradient_and_accumulating_leaves_matches_backward():
    stepped, reference = build_mazur(), build_mazur()
    for q in (stepped, reference):
        q["w5"].grad = 0.25  # leaves accumulate across passes, as in backward()
    Backprop(stepped["E_total"], grad=2.0).run()
    reference["E_total"].backward(2.0)
    assert all(stepped[name].grad == reference[name].grad for name in reference)
    assert stepped["w5"].grad == pytest.approx(0.25 + 2 * 0.082167041, abs=2 * TOL)


def test_nothing_changes_before_the_first_step():
    q = build_mazur()
    q["w1"].grad = 7.0
    bp = Backprop(q["E_total"])
    assert q["w1"].grad == 7.0 and q["E_total"].grad == 0.0
    assert bp.position == 0 and bp.steps == [] and bp.current is q["E_total"] and not bp.done


def test_order_is_backward_order_and_step_counts():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    every = list(reversed(topological_order(q["E_total"])))
    assert bp.nodes == every and bp.order == [v for v in every if v.inputs]  # a step per non-leaf node
    first = bp.step()
    assert first.index == 1 and first.total == len(bp.order) and first.node is q["E_total"]
    last = bp.step(3)
    assert last.index == 4 and len(bp.steps) == 4 and bp.position == 4 and bp.current is bp.order[4]
    bp.run()
    assert bp.done and bp.current is None and len(bp.steps) == len(bp.order)
    assert [s.index for s in bp.steps] == list(range(1, len(bp.order) + 1))
    assert bp.step() is None


def test_iterating_yields_the_steps_as_they_are_taken():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    bp.step(2)
    rest = list(bp)
    assert [s.index for s in rest] == list(range(3, len(bp.order) + 1))
    assert bp.steps[2:] == rest and bp.done


def test_a_step_records_the_final_gradient_and_each_push():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    while bp.current is not q["out_o1"]:
        bp.step()
    dE_total_dout_o1 = 0.741365070
    step = bp.step()
    assert step.node is q["out_o1"] and step.grad == pytest.approx(dE_total_dout_o1, abs=TOL)
    (term,) = step.terms
    assert term.input is q["net_o1"]
    assert term.local == pytest.approx(0.186815602, abs=TOL)  # dout_o1/dnet_o1
    assert term.formula == "out_o1 * (1 - out_o1)"  # the reference's out_o1(1 - out_o1)
    assert term.contribution == pytest.approx(0.138498562, abs=TOL)  # delta of o1
    assert term.before == 0.0 and term.after == term.contribution == q["net_o1"].grad


def test_pushes_to_a_reused_node_accumulate_before_and_after():
    a = Value(3.0, label="a")
    y = a * a
    y.label = "y"
    step = Backprop(y).step()
    first, second = step.terms
    assert first.input is second.input is a
    assert (first.before, first.after) == (0.0, 3.0)
    assert (second.before, second.after) == (3.0, 6.0)


def test_reset_restores_every_gradient():
    q = build_mazur()
    q["w5"].grad, q["E_o1"].grad = 0.5, -2.0
    nodes = topological_order(q["E_total"])
    before = grads(nodes)
    bp = Backprop(q["E_total"])
    bp.step(5)
    assert grads(nodes) != before
    bp.reset()
    assert grads(nodes) == before and bp.position == 0 and bp.steps == [] and not bp.done
    bp.run()
    bp.reset()
    assert grads(nodes) == before


def test_str_of_a_step_reads_like_the_hand_derivation():
    q = build_mazur()
    text = str(Backprop(q["E_total"]).step())
    lines = text.splitlines()
    assert lines[0].startswith("Step 1/")
    assert "E_total = E_o1 + E_o2" in lines[0] and "dE_total/dE_total = 1" in lines[0]
    assert lines[1].split()[:5] == ["E_o1", "+=", "1", "(dE_total/dE_o1", "="]
    assert any("E_o2" in line for line in lines[2:])


def test_str_names_unlabeled_nodes_and_prints_nine_digits():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    bp.run()
    step = next(s for s in bp.steps if s.node is q["out_o1"])
    text = str(step)
    assert "out_o1 = sigmoid(net_o1)" in text
    assert ("net_o1 += 0.186815602 (dout_o1/dnet_o1 = out_o1 * (1 - out_o1)) x 0.741365070"
            " = 0.138498562") in text
    e_o1 = next(s for s in bp.steps if s.node is q["E_o1"])
    assert "E_o1 = 0.5 * pow_const#" in str(e_o1)

    coarse_q = build_mazur()
    coarse = Backprop(coarse_q["E_total"], precision=5)
    coarse.run()
    step = next(s for s in coarse.steps if s.node is coarse_q["out_o1"])
    assert "0.74137" in str(step) and "0.741365070" not in str(step)


def test_format_number():
    assert format_number(1.0) == "1" and format_number(-1.0) == "-1" and format_number(0.0) == "0"
    assert format_number(0.05) == "0.05"  # exact short numbers as they are
    assert format_number(0.7413650695523157) == "0.741365070"  # |x| < 1: nine decimals, as the reference prints
    assert format_number(0.08216704056423078) == "0.082167041"
    assert format_number(-0.0190491182582781) == "-0.019049118"
    assert format_number(-1.4827301391046314) == "-1.48273014"  # |x| >= 1: nine significant digits
    assert format_number(1.2345678912345e-07) == "1.23456789e-07"  # tiny values keep their digits
    assert format_number(0.7413650695523157, 4) == "0.7414"


def test_markdown_display():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    assert "No steps" in bp._repr_markdown_()
    bp.step(2)
    md = bp._repr_markdown_()
    assert "| 1 | `E_total` | 1 | E_o1 += 1; E_o2 += 1 |" in md and "| 2 | `E_o1` |" in md


def test_a_long_chain_steps_without_recursion():
    x = Value(0.5, label="x")
    y = x
    for _ in range(5000):
        y = y * 1.0
    bp = Backprop(y)
    bp.run()
    assert x.grad == 1.0 and len(bp.steps) == len(bp.order)


def test_draw_returns_a_graphviz_digraph_of_the_current_state():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    bp.step(3)
    dot = bp.draw().source
    assert dot.startswith("digraph") and "E_total" in dot


def test_leaves_are_not_steps_and_their_last_push_says_final():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    bp.run()
    assert all(s.node.inputs for s in bp.steps)
    w5_pushes = [t for s in bp.steps for t in s.terms if t.input is q["w5"]]
    (push,) = w5_pushes
    assert push.final and push.after == pytest.approx(0.082167041, abs=TOL)
    assert str(next(s for s in bp.steps if push in s.terms)).count("(final)") == 1  # w5's, not out_h1's


def test_a_leaf_root_is_one_step():
    x = Value(2.0, label="x")
    bp = Backprop(x)
    bp.run()
    assert len(bp.steps) == 1 and x.grad == 1.0 and "nothing to push" in str(bp.steps[0])


def test_reprs_are_one_short_line():
    q = build_mazur()
    bp = Backprop(q["E_total"])
    step = bp.step()
    assert repr(step) == f"Step(1/{len(bp.order)} E_total: dE_total/dE_total = 1, 2 pushes)"
    assert repr(bp) == f"Backprop(E_total: 1/{len(bp.order)} steps, next {bp.names[bp.current]})"
    assert repr(step.terms[0]) == "Term(E_o1 += 1, grad -> 1)"


def _balanced(tex: str) -> bool:
    depth = 0
    for ch in tex.replace("\\{", "").replace("\\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and tex.count("\\left(") == tex.count("\\right)")


def test_a_step_and_the_stepper_show_as_math_in_jupyter():
    """net_o1's step as the blackboard writes it: grad(w5) += dnet_o1/dw5 * dE_total/dnet_o1 = out_h1 * ..."""
    from nn.examples import mazur

    q = mazur()
    bp = Backprop(q["E_total"])
    step = next(s for s in bp if s.node is q["net_o1"])
    tex = step._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}") and tex.endswith("\\end{aligned}$$") and _balanced(tex)
    assert (r"\text{Step 6/15:}\quad \mathrm{net}_{\mathrm{o1}} = \mathrm{w5} \cdot \mathrm{out}_{\mathrm{h1}}"
            r" + \mathrm{w6} \cdot \mathrm{out}_{\mathrm{h2}} + \mathrm{b2}") in tex
    w5 = (r"\mathrm{grad}\left(\mathrm{w5}\right) &\mathrel{+}= \frac{\partial \mathrm{net}_{\mathrm{o1}}}"
          r"{\partial \mathrm{w5}} \cdot \frac{\partial \mathrm{E}_{\mathrm{total}}}"
          r"{\partial \mathrm{net}_{\mathrm{o1}}}"
          r" = \mathrm{out}_{\mathrm{h1}} = 0.593269992 \cdot 0.138498562 = 0.082167041")
    assert w5 in tex
    whole = bp._repr_latex_()
    assert _balanced(whole) and whole.count(r"\frac{\partial \mathrm{E}_{\mathrm{total}}}") == len(bp.steps)
    assert r"\text{6 of 15 steps taken}" in whole
    assert repr(step).startswith("Step(6/15 net_o1") and "\n" not in repr(bp)
