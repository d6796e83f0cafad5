"""no_gc(): automatic collection is paused inside, and the collector is exactly as before afterwards."""

from __future__ import annotations

import gc
import signal
import sys
import threading

import pytest

from autograd import Value, no_gc
from autograd.core.gcpause import pause_depth


@pytest.fixture(autouse=True)
def collector_as_found():
    """Every test starts and ends with the collector on and Python's default thresholds."""
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.enable()
    yield thresholds
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


def collections_while(work) -> int:
    """How many automatic collections start while ``work()`` runs."""
    starts = []

    def count(phase, info):
        if phase == "start":
            starts.append(info["generation"])

    gc.callbacks.append(count)
    try:
        work()
    finally:
        gc.callbacks.remove(count)
    return len(starts)


def make_cycles(n: int = 20_000) -> None:
    for _ in range(n):
        a = []
        a.append(a)  # a container the collector tracks: allocations count towards a collection


def test_no_collection_runs_inside_and_collection_resumes_after(collector_as_found):
    assert collections_while(make_cycles) > 0
    with no_gc():
        assert collections_while(make_cycles) == 0
        assert gc.isenabled()  # the enabled flag stays the caller's
        assert gc.collect() >= 0  # an explicit collection still runs
    assert gc.get_threshold() == collector_as_found
    assert collections_while(make_cycles) > 0


def test_a_big_graph_built_inside_gives_the_same_gradients():
    def chain(n):
        y0, c = Value(0.3), Value(0.9)
        y = y0
        for _ in range(n):
            y = (y * c + 0.1).tanh()
        y.backward()
        return y.data, y0.grad, c.grad

    with no_gc():
        inside = chain(5_000)
    assert inside == chain(5_000)


def test_nested_pauses_restore_only_when_the_outermost_ends(collector_as_found):
    with no_gc():
        with no_gc():
            assert pause_depth() == 2
        assert pause_depth() == 1
        assert gc.get_threshold()[0] == 0  # the inner end left the outer pause in place
    assert pause_depth() == 0
    assert gc.get_threshold() == collector_as_found


def test_an_exception_inside_restores_the_collector(collector_as_found):
    with pytest.raises(ZeroDivisionError):
        with no_gc():
            raise ZeroDivisionError
    assert gc.get_threshold() == collector_as_found and pause_depth() == 0


def test_a_disabled_collector_stays_disabled_and_custom_thresholds_are_kept():
    gc.set_threshold(1234, 11, 12)
    gc.disable()
    with no_gc():
        pass
    assert not gc.isenabled() and gc.get_threshold() == (1234, 11, 12)
    gc.enable()
    with no_gc():
        gc.set_threshold(50, 5, 5)  # changed by someone during the pause: theirs is kept
    assert gc.get_threshold() == (50, 5, 5)


def test_decorator_with_and_without_parentheses(collector_as_found):
    @no_gc
    def bare(x):
        """Doubles x."""
        assert gc.get_threshold()[0] == 0
        return 2 * x

    @no_gc()
    def called():
        return pause_depth()

    assert bare(21) == 42 and bare.__name__ == "bare" and bare.__doc__ == "Doubles x."
    assert called() == 1
    assert called() == 1  # one decorator object, entered again
    assert gc.get_threshold() == collector_as_found


def test_recursion_through_a_decorated_function_nests():
    @no_gc
    def depth(k):
        return pause_depth() if k == 0 else depth(k - 1)

    assert depth(5) == 6
    assert pause_depth() == 0


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer (POSIX)")
def test_ctrl_c_inside_the_block_restores_the_collector(collector_as_found):
    with pytest.raises(KeyboardInterrupt):
        with no_gc():
            signal.raise_signal(signal.SIGINT)
            make_cycles(10)
    assert gc.get_threshold() == collector_as_found and pause_depth() == 0


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer (POSIX)")
def test_ctrl_c_at_any_instant_of_entering_nesting_or_leaving_leaves_no_pause(collector_as_found):
    def loop():
        while True:
            with no_gc():
                with no_gc():
                    pass

    interrupted = 0
    for k in range(200):
        old = signal.signal(signal.SIGALRM, lambda *_: signal.raise_signal(signal.SIGINT))  # a real Ctrl-C
        signal.setitimer(signal.ITIMER_REAL, 1e-4 + k * 7e-6)
        try:
            loop()
        except KeyboardInterrupt:
            interrupted += 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        assert pause_depth() == 0, f"timer {k}: a pause was left behind"
        assert gc.get_threshold() == collector_as_found, f"timer {k}"
    assert interrupted == 200


def test_ctrl_c_held_back_while_the_pause_begins_is_raised_and_the_pause_ends(collector_as_found, monkeypatch):
    """A Ctrl-C while the shared state changes is raised as the mask lifts, still inside __enter__."""
    import autograd.core.gcpause as gcpause

    if threading.current_thread() is not threading.main_thread() or not gcpause._MASK:
        pytest.skip("SIGINT is held back only in the main thread on POSIX")
    real_begin = gcpause._NoGC._begin

    def begin_then_signal(self):
        real_begin(self)
        signal.raise_signal(signal.SIGINT)  # held back until the mask is lifted
        assert pause_depth() == 1  # not raised here

    monkeypatch.setattr(gcpause._NoGC, "_begin", begin_then_signal)
    body = []
    with pytest.raises(KeyboardInterrupt):
        with no_gc():
            body.append(1)
    assert body == [] and pause_depth() == 0 and gc.get_threshold() == collector_as_found


def test_threads_overlap_and_the_last_to_end_restores(collector_as_found):
    """A enters, B enters, A ends (still paused for B), B ends (restored); another thread's disable() is kept."""
    a_in, b_in, a_out, b_may_end = threading.Event(), threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with no_gc():
            a_in.set()
            b_in.wait(5)
        seen["after A"] = gc.get_threshold()[0]
        a_out.set()

    def b():
        a_in.wait(5)
        with no_gc():
            b_in.set()
            b_may_end.wait(5)
        seen["after B"] = gc.get_threshold()

    def other():
        a_out.wait(5)
        gc.disable()  # a third thread turns the collector off while B's pause runs
        b_may_end.set()

    threads = [threading.Thread(target=t) for t in (a, b, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen["after A"] == 0  # B still holds the pause
    assert seen["after B"] == collector_as_found
    assert not gc.isenabled()  # the other thread's gc.disable() is respected
    assert pause_depth() == 0


def test_many_threads_pausing_at_once_leave_the_collector_as_found(collector_as_found):
    def work():
        for _ in range(2_000):
            with no_gc():
                pass

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, inside enter and exit
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        sys.setswitchinterval(old)
    assert pause_depth() == 0 and gc.get_threshold() == collector_as_found


def test_a_pause_whose_object_is_gone_is_ended_by_the_next_call(collector_as_found):
    """What a Ctrl-C on the first instruction of __exit__ leaves behind: an entered no_gc that is dropped."""
    pause = no_gc()
    pause.__enter__()
    del pause
    assert gc.get_threshold()[0] == 0
    assert pause_depth() == 0
    assert gc.get_threshold() == collector_as_found


def test_what_the_pause_allocated_goes_to_the_oldest_generation_and_a_freeze_is_kept():
    with no_gc():
        made = [[] for _ in range(1000)]
    assert gc.get_count()[0] < 100  # the young generation does not hold the pause's objects
    assert any(x is made[0] for x in gc.get_objects(generation=2))
    assert gc.get_freeze_count() == 0
    kept = [[]]
    gc.freeze()
    try:
        with no_gc():
            pass
        assert gc.get_freeze_count() > 0
        assert not any(x is kept for x in gc.get_objects())  # still frozen: someone else's freeze is left alone
    finally:
        gc.unfreeze()
