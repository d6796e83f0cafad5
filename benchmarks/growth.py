"""Does chainrule's time per node grow with the graph? ``python -m benchmarks.growth SAMPLES STEPS...``.

Run in a fresh process that imports only ``autograd``, as a chainrule user runs it: the chain
``y = tanh(y*c + d)`` at each number of STEPS, forward + backward, in three modes: the collector as at
start (on), inside ``autograd.no_gc()``, and off (``gc.disable()``). Sizes and modes are interleaved
(every sample visits every size, the modes in a rotating order); at least 5 samples per size and mode.
Prints JSON: medians of microseconds per op node, wall clock and the collector's own time (summed from
``gc.callbacks``, steadier on a noisy machine).
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from autograd import Value, no_gc

MODES = ("gc_on", "no_gc", "gc_off")
MIN_NODES = 60_000  # a sample of a small size repeats the chain until it has built this many nodes
_gc_seconds = [0.0, 0.0]  # [total, start of the collection running now]


def _collector_clock(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_seconds[1] = time.perf_counter()
    else:
        _gc_seconds[0] += time.perf_counter() - _gc_seconds[1]


def _chain(n: int) -> Value:
    y0, c, d = Value(0.3), Value(0.9), Value(0.1)
    y = y0
    for _ in range(n):
        y = (y * c + d).tanh()
    y.backward()
    return y


def per_node(n: int, mode: str) -> tuple[float, float]:
    """Microseconds per op node of ``n``-step chains, forward + backward (freeing them not timed): wall, collector."""
    repeats = max(1, MIN_NODES // (3 * n))
    kept = []
    gc.collect()
    _gc_seconds[0] = 0.0
    start = time.perf_counter()
    if mode == "no_gc":
        with no_gc():
            for _ in range(repeats):
                kept.append(_chain(n))
    elif mode == "gc_off":
        gc.disable()
        try:
            for _ in range(repeats):
                kept.append(_chain(n))
        finally:
            gc.enable()
    else:
        for _ in range(repeats):
            kept.append(_chain(n))
    seconds = time.perf_counter() - start
    collector = _gc_seconds[0]
    del kept
    nodes = 3 * n * repeats
    return seconds * 1e6 / nodes, collector * 1e6 / nodes


def measure(samples: int, sizes: list[int]) -> dict:
    wall: dict = {m: {str(n): [] for n in sizes} for m in MODES}
    collector: dict = {m: {str(n): [] for n in sizes} for m in MODES}
    gc.callbacks.append(_collector_clock)
    try:
        for s in range(max(5, samples)):
            for k, n in enumerate(sizes):
                shift = (s + k) % len(MODES)
                for mode in MODES[shift:] + MODES[:shift]:
                    us, gc_us = per_node(n, mode)
                    wall[mode][str(n)].append(us)
                    collector[mode][str(n)].append(gc_us)
    finally:
        gc.callbacks.remove(_collector_clock)
    med = {m: {n: statistics.median(xs) for n, xs in by.items()} for m, by in wall.items()}
    gc_med = {m: {n: statistics.median(xs) for n, xs in by.items()} for m, by in collector.items()}
    return {"wall": med, "collector": gc_med, "samples": max(5, samples)}


def in_subprocess(samples: int, sizes: list[int]) -> dict:
    """``measure`` in a fresh interpreter (no torch, no micrograd loaded)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "benchmarks.growth", str(samples), *map(str, sizes)],
                          cwd=root, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), [int(a) for a in sys.argv[2:]])))
