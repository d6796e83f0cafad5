"""Real Ctrl-C at many instants, for tests of interrupt safety.

Both helpers deliver KeyboardInterrupt through a real signal handler, at the next instant the interpreter
checks for signals (as Ctrl-C does), and always cancel their timer / trace and restore the previous signal
handler and trace function, so nothing leaks into other tests. They need the main thread.

- ``run_with_timer_interrupts(fn, delays, burst=1, gap=5e-5, files=None)``: a real-time timer (SIGALRM)
  interrupts ``fn()`` after each delay in turn, then ``burst - 1`` more times ``gap`` seconds apart (so later interrupts
  land while ``fn`` is handling the first one: its ``except``/``finally`` cleanup). After each interrupt
  ``fn()`` is called again; once the delays are used up it runs to the end undisturbed. ``fn`` must be
  *resumable*: calling it again continues the work, and is harmless once the work is done. Returns
  ``(fn's last result, interrupts that came out of fn)``. A timer tick is skipped (the next one, ``gap``
  later, tries again) while this helper's own code or a garbage-collector callback runs, or, if ``files``
  is given, while code from any other file runs: pass the files of the code under test (e.g. every
  ``autograd/*.py``) so that no interrupt is swallowed by a test library's gc callback or finalizer.
  Needs ``signal.setitimer`` (POSIX): ``HAS_TIMER``.
  ``timer_delays(n, low, high, seed)`` makes ``n`` reproducible delays in seconds.

      from interrupts import run_with_timer_interrupts, timer_delays   # tests/ is on sys.path, as for conftest

      engine = [str(p) for p in Path(autograd.__file__).parent.glob("*.py")]

      def work():
          while not bp.done:
              bp.step(50)

      _, hits = run_with_timer_interrupts(work, timer_delays(200, 1e-4, 2e-3, seed=0), burst=2, files=engine)
      assert hits > 20   # the pass really was interrupted, many times
      # ... then compare the state with a clean run on an identical graph

- ``call_with_opcode_interrupt(fn, k, files)``: calls ``fn()`` once, raising SIGINT when the ``k``-th bytecode
  (from 1) of code whose file is in ``files`` executes. Returns True if a KeyboardInterrupt came out of ``fn``,
  False if ``fn`` completed first. Loop ``k = 1, 2, ...`` until it returns False to interrupt a short call at
  every instant of those files (Python stops tracing at the interrupt, so this is one interrupt per call).
"""

from __future__ import annotations

import gc
import random
import signal
import sys
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

HAS_TIMER = hasattr(signal, "setitimer")


def timer_delays(n: int, low: float, high: float, seed: int = 0) -> list[float]:
    """``n`` delays in seconds, log-uniform between ``low`` and ``high``, reproducible from ``seed``."""
    rng = random.Random(seed)
    return [low * (high / low) ** rng.random() for _ in range(n)]


def run_with_timer_interrupts(
    fn: Callable[[], T],
    delays: Iterable[float],
    burst: int = 1,
    gap: float = 5e-5,
    files: Iterable[str] | None = None,
) -> tuple[T, int]:
    """Call the resumable ``fn()`` under a timer sending Ctrl-C after each delay; return (result, interrupts)."""
    state = {"left": 0, "in_gc": False}
    skip = {run_with_timer_interrupts.__code__.co_filename}
    wanted = None if files is None else set(files)

    def handler(signum, frame):
        # An interrupt raised in a gc callback or a finalizer (some test libraries install them) would be
        # swallowed as "unraisable"; a skipped tick simply waits for the next one, ``gap`` later.
        if state["left"] <= 0 or state["in_gc"] or frame is None:
            return
        where = frame.f_code.co_filename
        if where in skip or (wanted is not None and where not in wanted):
            return
        state["left"] -= 1
        if state["left"] == 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
        raise KeyboardInterrupt

    def gc_start(phase, info):
        if phase == "start":
            state["in_gc"] = True

    def gc_stop(phase, info):
        if phase == "stop":
            state["in_gc"] = False

    hits = 0
    old = signal.signal(signal.SIGALRM, handler)
    gc.callbacks.insert(0, gc_start)
    gc.callbacks.append(gc_stop)
    try:
        for delay in delays:
            state["left"] = burst
            signal.setitimer(signal.ITIMER_REAL, delay, gap)
            try:
                fn()
            except KeyboardInterrupt:
                hits += 1
            state["left"] = 0
            signal.setitimer(signal.ITIMER_REAL, 0)
        return fn(), hits
    finally:
        state["left"] = 0
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        gc.callbacks.remove(gc_start)
        gc.callbacks.remove(gc_stop)


def call_with_opcode_interrupt(fn: Callable[[], object], k: int, files: Iterable[str]) -> bool:
    """Call ``fn()``, sending Ctrl-C at its ``k``-th bytecode in ``files``; True if it was interrupted."""
    wanted = set(files)
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "opcode":
            count += 1
            if count == k:
                signal.raise_signal(signal.SIGINT)
        return local

    def tracer(frame, event, arg):
        if frame.f_code.co_filename not in wanted:
            return None
        frame.f_trace_opcodes = True
        return local

    old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_trace = sys.gettrace()
    try:
        sys.settrace(tracer)
        try:
            fn()
        finally:
            sys.settrace(old_trace)
    except KeyboardInterrupt:
        return True
    finally:
        sys.settrace(old_trace)
        signal.signal(signal.SIGINT, old_handler)
    return False
