"""Does chainrule's time per node grow with the graph? ``python -m benchmarks.growth REPEATS STEPS...``.

Run in a fresh process that imports only ``autograd``, as a chainrule user runs it: the chain
``y = tanh(y*c + d)`` at each number of STEPS, forward + backward, with the garbage collector as
it is at start (on) and, for comparison, off. Prints JSON: microseconds per op node (medians).
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from autograd import Value


def per_node(n: int, gc_on: bool) -> float:
    """Microseconds per op node of one ``n``-step chain, forward + backward (freeing it not timed)."""
    y0, c, d = Value(0.3), Value(0.9), Value(0.1)
    gc.collect()
    if not gc_on:
        gc.disable()
    try:
        start = time.perf_counter()
        y = y0
        for _ in range(n):
            y = (y * c + d).tanh()
        y.backward()
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    del y
    return seconds * 1e6 / (3 * n)


def measure(repeats: int, sizes: list[int]) -> dict:
    out: dict = {}
    for label, gc_on in (("gc_on", True), ("gc_off", False)):
        out[label] = {
            str(n): statistics.median(per_node(n, gc_on) for _ in range(max(1, repeats * 3000 // n)))
            for n in sizes
        }
    return out


def in_subprocess(repeats: int, sizes: list[int]) -> dict:
    """``measure`` in a fresh interpreter (no torch, no micrograd loaded)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "benchmarks.growth", str(repeats), *map(str, sizes)],
                          cwd=root, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), [int(a) for a in sys.argv[2:]])))
