"""backward() under real interrupts: a timer delivers KeyboardInterrupt at many instants, repeatedly, so that
some land during the clean-up of an earlier one; no later result may change."""

from __future__ import annotations

import signal
import sys

import pytest

import autograd.core.value as engine
from autograd import Value, sum_values

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer (POSIX)")

N = 20_000  # products of two leaves each: 40k leaves (a long undo) and about 60k nodes


def build(seed_grads: bool) -> tuple[Value, list[Value]]:
    """A wide graph with many leaves; with ``seed_grads`` every other leaf starts with a nonzero grad."""
    leaves = [Value(1.0 + (k % 7) * 0.125) for k in range(2 * N)]
    if seed_grads:
        for k in range(0, 2 * N, 2):
            leaves[k].grad = 0.5 * k
    terms = [(leaves[2 * k] * leaves[2 * k + 1]).tanh() for k in range(N)]
    return sum_values(terms) * 0.001, leaves


def interrupted(call, first: float, every: float) -> bool:
    """Run ``call`` with SIGALRM acting as Ctrl-C after ``first`` seconds and then every ``every`` seconds;
    True if it was interrupted. The timer is stopped, and a signal still on its way absorbed, before returning."""
    old = signal.signal(signal.SIGALRM, signal.default_int_handler)
    hit = False
    try:
        signal.setitimer(signal.ITIMER_REAL, first, every)
        call()
    except KeyboardInterrupt:
        hit = True
    finally:
        while True:  # a late signal may land here too: retry until the timer is off and a no-op handler set
            try:
                signal.setitimer(signal.ITIMER_REAL, 0.0)
                signal.signal(signal.SIGALRM, lambda *_: None)
                break
            except KeyboardInterrupt:
                hit = True
        signal.signal(signal.SIGALRM, old)
    return hit


@pytest.mark.slow
def test_no_interrupt_at_any_instant_changes_what_backward_computes():
    reference, ref_leaves = build(seed_grads=True)
    reference.backward()
    expected = [v.grad for v in ref_leaves]

    out, leaves = build(seed_grads=True)
    before = [v.grad for v in leaves]
    hits = 0
    for k in range(60):
        first = 2e-4 * (1.35 ** (k % 20))  # from 0.2 ms to beyond a whole pass
        if not interrupted(out.backward, first, 5e-5 if k % 2 else 0.0):  # half the runs: a Ctrl-C every 50 us
            break
        hits += 1
        engine._finish_interrupted()  # what the next call would do first (a no-op unless one escaped)
        now = [v.grad for v in leaves]
        if now == expected:  # the signal came just after the pass had completed: a whole pass, nothing less
            break
        assert now == before, f"run {k}: an interrupted backward left part of a pass in the leaves"
    assert hits >= 10, "the timer should have interrupted many passes"
    if [v.grad for v in leaves] == before:
        out.backward()
    assert [v.grad for v in leaves] == expected  # one complete pass, as if no interrupt had happened
    assert engine._PASSES == []


@pytest.mark.slow
def test_after_many_interrupts_the_next_passes_are_exact():
    """The marks an interrupted pass leaves behind are plain zeros to later passes: nothing is skipped."""
    out, leaves = build(seed_grads=False)
    for k in range(30):
        interrupted(out.backward, 1e-4 * (1.3 ** k), 3e-5)
    engine._finish_interrupted()
    for v in leaves:
        v.grad = 0.0
    out.backward()
    out.backward()
    reference, ref_leaves = build(seed_grads=False)
    reference.backward()
    reference.backward()
    assert [v.grad for v in leaves] == [v.grad for v in ref_leaves]


def test_an_undo_that_an_interrupt_escaped_is_finished_by_the_next_call():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    y = a * b
    a.grad = 1.5
    leaves, olds = [a], [1.5]
    a.grad = 99.0  # as if a pass had written and its undo were cut short
    engine._PASSES.append((engine.get_ident(), leaves, olds))
    y.backward()
    assert (a.grad, b.grad) == (1.5 + 3.0, 2.0)
    assert engine._PASSES == []


def test_backward_leaves_the_garbage_collector_alone():
    import gc

    gc.disable()
    try:
        Value(2.0).tanh().backward()
        assert not gc.isenabled()
    finally:
        gc.enable()
    Value(2.0).tanh().backward()
    assert gc.isenabled()


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="POSIX timers")
