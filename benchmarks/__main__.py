"""``python -m benchmarks [--quick] [--check] [--json PATH]``: chainrule against floats, micrograd and PyTorch."""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time

from . import engines, growth, harness, networks, pernode
from .harness import Disagreement, Timing, Workload

COLUMNS = ["floats", "chainrule", "chainrule, GC off", "chainrule compiled", "micrograd", "micrograd, GC off", "torch"]
# (chain steps, products, demo points, 2-2-2 iterations, memory steps, growth sizes, repeats)
SIZES = {
    "full": dict(chain=100_000, sum=100_000, points=100, iterations=10_000, memory=30_000,
                 growth=(1_000, 100_000, 300_000), repeats=5),
    "quick": dict(chain=10_000, sum=10_000, points=50, iterations=1_000, memory=10_000,
                  growth=(1_000, 100_000, 300_000), repeats=3),
    "check": dict(chain=2_000, sum=2_000, points=20, iterations=50, memory=1_000,
                  growth=(1_000, 10_000), repeats=1),
}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {"python": platform.python_version()}
    if engines.torch:
        versions["torch"] = engines.torch.__version__
    if engines.micrograd_engine:
        try:
            from importlib.metadata import version

            versions["micrograd"] = version("micrograd")
        except Exception:  # noqa: BLE001 - the version is informative only
            versions["micrograd"] = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform(), **versions}


def workloads(sizes: dict) -> list[Workload]:
    return [
        pernode.chain(sizes["chain"]),
        pernode.sum_of_products(sizes["sum"]),
        networks.demo_step(sizes["points"]),
        networks.network_222(sizes["iterations"]),
    ]


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if x < 1000 else f"{x:,.0f}"


RATIO_TO = ("micrograd", "torch", "floats")  # the "ours/..." columns


def ratios(ours: float | None, by: dict[str, float], less: str = "faster", more: str = "slower") -> list[str]:
    """The "ours/..." cells: ``ours`` against each engine of ``RATIO_TO`` in ``by``."""
    return [harness.ratio(ours, by.get(c), less, more) for c in RATIO_TO]


def table(results: list[tuple[Workload, list[Timing]]], memory: dict, memory_steps: int) -> str:
    present = [c for c in COLUMNS if any(t.engine == c for _, ts in results for t in ts) or c in memory]
    head = ["workload", "unit", *present, *(f"ours/{c}" for c in RATIO_TO)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w, timings in results:
        by = {t.engine: t.median for t in timings}
        cells = [w.title, w.unit, *(fmt(by.get(c)) for c in present), *ratios(by.get("chainrule"), by)]
        lines.append("| " + " | ".join(cells) + " |")
        if "chainrule compiled" in by:
            cells = [f"(compiled) {w.name}", w.unit, *([""] * len(present)), *ratios(by["chainrule compiled"], by)]
            lines.append("| " + " | ".join(cells) + " |")
    cells = [f"memory per op node (chain graph after forward, {memory_steps:,} steps)", "bytes",
             *(f"{memory[c][0]:.0f}" + (" (RSS)" if memory[c][1] == "RSS" else "") if c in memory else "-"
               for c in present)]
    size = {engine: size for engine, (size, _how) in memory.items()}
    cells += ratios(size.get("chainrule"), size, "less", "more")
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time chainrule against hand-written floats, micrograd and PyTorch on the same workloads, "
                    "after checking that they agree.")
    parser.add_argument("--quick", action="store_true", help="smaller workloads, fewer repetitions (about 30 s)")
    parser.add_argument("--check", action="store_true",
                        help="verify that the engines agree, one repetition; exit 1 on disagreement")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    parser.add_argument("--freeze", action="store_true",
                        help="gc.freeze() the objects of the imported modules (torch's) before timing")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="run only these parts (chain, sum, demo_step, network_222, memory, growth); repeatable")
    args = parser.parse_args(argv)
    sizes = SIZES["check" if args.check else "quick" if args.quick else "full"]
    started = time.perf_counter()

    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    for why in engines.MISSING.values():
        if why:
            print(f"note: {why}")
    print(f"garbage collector: {'on' if gc.isenabled() else 'off'} (as at start); engines alternate, "
          f"{sizes['repeats']} repetition(s), medians")
    if args.freeze:
        # The imported modules' objects (torch's alone are ~150,000) belong to no engine under test, yet every
        # full collection during any engine's run rescans them: a process using one engine has no such heap.
        gc.collect()
        gc.freeze()
        print(f"gc.freeze(): {gc.get_freeze_count():,} objects of the imported modules are left out of collections; "
              "everything the workloads create is collected as usual")

    results = []
    for w in workloads(sizes):
        if args.only and w.name not in args.only:
            continue
        try:
            losses = harness.check(w)
        except Disagreement as e:
            print(f"DISAGREEMENT: {e}", file=sys.stderr)
            return 1
        engines_ok = ", ".join(losses)
        print(f"\n{w.title}: {engines_ok} agree (loss {next(iter(losses.values())):.12g}, tolerance "
              f"{harness.TOLERANCE:g})", flush=True)
        for note in w.notes:
            print(f"  note: {note}")
        timings = harness.measure(w, sizes["repeats"])
        for t in timings:
            setup = f"  (compile {t.setup_seconds * 1e3:.1f} ms, once)" if t.setup_seconds is not None else ""
            print(f"  {t.engine:<20} {fmt(t.median):>10} {w.unit}{setup}", flush=True)
        results.append((w, timings))

    memory_steps = sizes["memory"]
    memory = {} if args.only and "memory" not in args.only else pernode.memory_per_node(memory_steps)
    for engine, (size, how) in memory.items():
        print(f"  memory {engine:<20} {size:8.0f} B per op node ({how})")

    grown = {}
    if not args.only or "growth" in args.only:
        steps = sizes["growth"]
        grown = growth.in_subprocess(sizes["repeats"], list(steps))
        print("\nchainrule per op node in a fresh process (autograd only, as its users run it), chain at "
              + ", ".join(f"{n:,}" for n in steps) + " steps:")
        for label, key in (("GC on (as users run it)", "gc_on"), ("GC off", "gc_off")):
            us = [grown[key][str(n)] for n in steps]
            print(f"  {label:<24} " + " -> ".join(f"{u:.3g} us" for u in us) + f"  ({us[-1] / us[0]:.2f}x)")

    print("\n" + table(results, memory, memory_steps))
    print(f"\n(ratios: time of chainrule / time of the other engine; {time.perf_counter() - started:.0f} s in all)")

    if args.json:
        data = {
            "machine": info,
            "mode": "check" if args.check else "quick" if args.quick else "full",
            "workloads": [
                {"name": w.name, "title": w.title, "unit": w.unit, "notes": w.notes,
                 "engines": {t.engine: {"median": t.median, "samples": t.samples, "setup_seconds": t.setup_seconds}
                             for t in ts}}
                for w, ts in results
            ],
            "memory_bytes_per_node": {k: {"bytes": v[0], "method": v[1]} for k, v in memory.items()},
            "growth_us_per_node": grown,
        }
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
