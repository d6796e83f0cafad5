"""Ctrl-C while stepping: a Backprop step (and reset) happens completely or not at all, at any instant.

Real signals: a timer interrupts a long stepping pass hundreds of times (bursts of interrupts land in the
cleanup of the one before), and a trace interrupts a short step at every bytecode. After resuming, every
gradient equals a clean backward() on an identical graph.
"""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

import pytest
from interrupts import HAS_TIMER, call_with_opcode_interrupt, run_with_timer_interrupts, timer_delays

import autograd
from autograd import Backprop, Value, stepping, sum_values, topological_order

needs_timer = pytest.mark.skipif(not HAS_TIMER, reason="signal.setitimer is POSIX only")
ENGINE = [str(p) for p in Path(autograd.__file__).parent.glob("*.py")]  # interrupts land in engine code


def build(n: int, seed: int = 0) -> tuple[Value, list[Value]]:
    """A seeded random graph of about 2.2 * n nodes (reused nodes, a * a, n-ary sums) with stale grads."""
    rng = random.Random(seed)
    nodes = [Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(100)]
    for _ in range(n):
        a = nodes[-1 - rng.randrange(min(60, len(nodes)))]
        b = nodes[rng.randrange(len(nodes))]
        kind = rng.randrange(5)
        if kind == 0:
            v = (a * b + 0.5).tanh()
        elif kind == 1:
            v = (a * a - b).sigmoid()
        elif kind == 2:
            v = sum_values([a, b, a, nodes[rng.randrange(len(nodes))]]).tanh()
        elif kind == 3:
            v = (a + b * 0.3).tanh()
        else:
            v = (a.exp() * b).tanh()
        nodes.append(v)
    root = sum_values(nodes[-200:]) * 0.5
    order = topological_order(root)
    for v in order:  # leaves accumulate onto these; intermediates must overwrite them
        v.grad = rng.uniform(-2, 2) if rng.random() < 0.5 else 0.0
    return root, order


def grads(order: list[Value]) -> list[float]:
    return [v.grad for v in order]


def step_record(bp: Backprop) -> list[tuple]:
    """The steps taken, as numbers and node positions: equal records mean no step was lost or doubled."""
    at = {v: i for i, v in enumerate(bp.nodes)}
    return [(s.index, at[s.node], s.grad, [(at[t.input], t.local, t.contribution, t.before, t.after, t.final)
                                          for t in s.terms]) for s in bp.steps]


def step_until(bp: Backprop, position: int) -> None:
    """Resumable: step (37 at a time) until ``position`` steps are taken."""
    while bp.position < position:
        bp.step(min(37, position - bp.position))


@needs_timer
def test_stepping_a_20k_node_graph_under_hundreds_of_timer_interrupts_gives_the_grads_of_backward():
    root, order = build(9600)
    assert len(order) > 20_000
    bp = Backprop(root, grad=1.5)
    hits = 0
    for segment in range(1, 11):  # ten stretches of the pass, so that interrupts land all along it
        work = partial(step_until, bp, len(bp.order) * segment // 10)
        hits += run_with_timer_interrupts(work, timer_delays(15, 2e-5, 5e-3, seed=segment), burst=3, files=ENGINE)[1]
    assert bp.done and hits > 100  # the pass really was cut, many times, at many different instants

    clean_root, clean_order = build(9600)
    clean = Backprop(clean_root, grad=1.5)
    clean.run()
    assert step_record(bp) == step_record(clean)
    assert grads(order) == grads(clean_order)
    backward_root, backward_order = build(9600)
    backward_root.backward(1.5)
    assert grads(order) == grads(backward_order)


@needs_timer
def test_reset_under_timer_interrupts_restores_every_grad_and_stepping_starts_over():
    root, order = build(400, seed=2)
    before = grads(order)
    bp = Backprop(root)
    hits = 0
    for delay in timer_delays(80, 1e-6, 2e-4, seed=2):
        bp.step()  # reset restores every node's grad, however far the pass went
        hits += run_with_timer_interrupts(bp.reset, [delay], burst=3, files=ENGINE)[1]
        assert grads(order) == before and bp.position == 0 and bp.steps == []
    assert hits > 10
    run_with_timer_interrupts(bp.run, timer_delays(30, 1e-5, 1e-3, seed=3), burst=2, files=ENGINE)
    backward_root, backward_order = build(400, seed=2)
    backward_root.backward()
    assert grads(order) == grads(backward_order)


def small() -> tuple[Value, list[Value]]:
    """a*a, a node reused by two consumers, and leaves with grads from an earlier pass."""
    a, b, c = Value(1.5, label="a"), Value(-0.5, label="b"), Value(2.0, label="c")
    h = (a * a + b).tanh()
    y = h * c + sum_values([h, a, b])
    order = topological_order(y)
    a.grad, b.grad, h.grad = 3.0, -1.0, 7.0
    return y, order


def state(bp: Backprop, order: list[Value]) -> tuple:
    return grads(order), bp.position, step_record(bp)


def test_an_interrupt_at_every_instant_of_a_step_leaves_it_taken_or_not_taken():
    n = len(Backprop(small()[0]).order)
    for taken in (0, 1, n // 2, n - 1):  # the first step zeroes the graph; the last gives leaves their old grads
        ref_root, ref_order = small()
        ref = Backprop(ref_root)
        ref.step(taken)
        not_taken = state(ref, ref_order)
        ref.step()
        done = state(ref, ref_order)
        k, interrupted = 0, True
        while interrupted:
            k += 1
            root, order = small()
            bp = Backprop(root)
            bp.step(taken)
            interrupted = call_with_opcode_interrupt(bp.step, k, [stepping.__file__])
            assert state(bp, order) in (not_taken, done), f"step {taken + 1} cut at bytecode {k} is half done"
            bp.run()  # resuming never pushes twice
            clean_root, clean_order = small()
            clean_root.backward()
            assert grads(order) == grads(clean_order)
        assert k > 50


def test_an_interrupt_at_every_instant_of_reset_leaves_it_done_or_not_done():
    root, order = small()
    before = grads(order)
    k, interrupted = 0, True
    while interrupted:
        k += 1
        root, order = small()
        bp = Backprop(root)
        bp.step(3)
        stepped = state(bp, order)
        interrupted = call_with_opcode_interrupt(bp.reset, k, [stepping.__file__])
        assert state(bp, order) in (stepped, (before, 0, [])), f"reset cut at bytecode {k} is half done"
    assert k > 5


def test_resuming_after_an_interrupted_push_does_not_push_twice():
    a = Value(2.0, label="a")
    y = a * 2.0 + a * 2.0  # a.grad 4.0: two pushes of 2.0 reach a
    k, interrupted = 0, True
    while interrupted:
        k += 1
        a.grad = 0.0
        bp = Backprop(y)
        interrupted = call_with_opcode_interrupt(partial(bp.step, len(bp.order)), k, [stepping.__file__])
        bp.run()
        assert a.grad == 4.0, f"interrupted at bytecode {k}"
