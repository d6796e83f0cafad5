"""Timing harness: engines alternate within one process, medians of repetitions, agreement checks."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# What one timed run returns: the loss, the gradients (in a fixed order), and anything that must stay
# alive until the clock has stopped (the graph: freeing it is not part of forward + backward).
Outcome = tuple[float, list[float], object]
TOLERANCE = 1e-9  # engines agree when |a - b| <= TOLERANCE * max(1, |a|, |b|) for the loss and every gradient


@dataclass
class Case:
    """One engine's implementation of a workload: ``prepare()`` (untimed) returns the run to time."""

    engine: str
    prepare: Callable[[], Callable[[], Outcome]]
    note: str = ""
    setup_seconds: float | None = None  # one-off cost reported beside the timing (compile time)


@dataclass
class Workload:
    """A named piece of work, timed in ``unit``: seconds are multiplied by ``scale`` (e.g. 1e6 / nodes)."""

    name: str
    title: str
    unit: str
    scale: float
    cases: list[Case]
    notes: list[str] = field(default_factory=list)


@dataclass
class Timing:
    engine: str
    samples: list[float]  # in the workload's unit
    setup_seconds: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


class Disagreement(Exception):
    """Two engines computed different losses or gradients for the same workload."""


def without_gc(prepare: Callable[[], Callable[[], Outcome]]) -> Callable[[], Callable[[], Outcome]]:
    """The same case with the cyclic garbage collector off while it runs (to show what collection costs)."""

    def prepared():
        run = prepare()

        def run_without_gc():
            was = gc.isenabled()
            gc.disable()
            try:
                return run()
            finally:
                if was:
                    gc.enable()

        return run_without_gc

    return prepared


def with_no_gc(prepare: Callable[[], Callable[[], Outcome]]) -> Callable[[], Callable[[], Outcome]]:
    """The same case run inside ``autograd.no_gc()``, the opt-in pause for building large graphs."""
    from autograd import no_gc

    def prepared():
        run = prepare()

        def run_paused():
            with no_gc():
                return run()

        return run_paused

    return prepared


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def check(workload: Workload) -> dict[str, float]:
    """Run every case once and compare its loss and gradients with the first case's; returns the losses."""
    reference: tuple[str, float, list[float]] | None = None
    losses = {}
    for case in workload.cases:
        loss, grads, _graph = case.prepare()()
        losses[case.engine] = loss
        if reference is None:
            reference = (case.engine, loss, grads)
            continue
        name, ref_loss, ref_grads = reference
        if not close(loss, ref_loss):
            raise Disagreement(f"{workload.name}: loss {case.engine} {loss!r} != {name} {ref_loss!r}")
        if len(grads) != len(ref_grads):
            raise Disagreement(f"{workload.name}: {case.engine} gave {len(grads)} gradients, {name} {len(ref_grads)}")
        for i, (g, r) in enumerate(zip(grads, ref_grads)):
            if not close(g, r):
                raise Disagreement(f"{workload.name}: gradient {i}: {case.engine} {g!r} != {name} {r!r}")
    return losses


def time_once(case: Case) -> float:
    """Seconds of one run of ``case``; leftover garbage is collected first, outside the clock."""
    run = case.prepare()
    gc.collect()
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    del result
    gc.collect()
    return seconds


def measure(workload: Workload, repeats: int) -> list[Timing]:
    """Time every case ``repeats`` times, engines alternating (A B C A B C ...)."""
    timings = [Timing(c.engine, [], c.setup_seconds) for c in workload.cases]
    for _ in range(repeats):
        for case, timing in zip(workload.cases, timings):
            timing.samples.append(time_once(case) * workload.scale)
    return timings


def ratio(ours: float | None, other: float | None, less: str = "faster", more: str = "slower") -> str:
    """``ours / other`` and how many times faster or slower that is."""
    if ours is None or other is None or ours <= 0 or other <= 0 or math.isnan(ours) or math.isnan(other):
        return "-"
    r = ours / other
    return f"{r:.3g} ({1 / r:.3g}x {less})" if r < 1 else f"{r:.3g} ({r:.3g}x {more})"
