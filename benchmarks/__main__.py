"""``python -m benchmarks [--quick] [--check] [--json PATH]``: chainrule against floats, micrograd and PyTorch."""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time

from . import compiletime, engines, growth, harness, networks, pernode, readers
from .harness import Disagreement, Timing, Workload

COLUMNS = ["floats", "chainrule", "chainrule, no_gc()", "chainrule, GC off", "chainrule compiled", "micrograd",
           "micrograd, GC off", "torch"]
# chain steps and products (each at two graph sizes), demo points, 2-2-2 iterations, memory steps,
# growth sizes (chain steps, in a fresh process), compile sizes (op nodes), repeats
SIZES = {
    "full": dict(chain=(33_334, 100_000), sum=(50_000, 150_000), points=100, iterations=10_000, memory=30_000,
                 growth=(1_000, 100_000, 300_000), compile=(1_000, 10_000, 100_000), readers=(100_000, 1_000_000),
                 repeats=5),
    "quick": dict(chain=(3_334, 10_000), sum=(5_000, 15_000), points=50, iterations=1_000, memory=10_000,
                  growth=(1_000, 30_000, 100_000), compile=(1_000, 10_000), readers=(10_000, 100_000), repeats=3),
    "check": dict(chain=(700,), sum=(1_000,), points=20, iterations=50, memory=1_000,
                  growth=(300, 3_000), compile=(300, 3_000), readers=(300, 3_000), repeats=1),
}
# The targets of the performance issue, checked by ``--check`` on a full run.
TARGETS = dict(per_node_vs_micrograd=10.0, per_node_vs_torch=10.0, growth=1.5, compile_us_per_node=30.0,
               compile_moons_seconds=0.25, compile_100k_seconds=3.0, network_vs_micrograd=5.0, reader_growth=1.5)


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
        *(pernode.chain(n) for n in sizes["chain"]),
        *(pernode.sum_of_products(n) for n in sizes["sum"]),
        networks.demo_step(sizes["points"]),
        networks.network_222(sizes["iterations"]),
    ]


def selected(name: str, only: list[str] | None) -> bool:
    """``--only chain`` selects every chain size (chain_100k, chain_300k)."""
    return not only or any(name == o or name.startswith(o + "_") for o in only)


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
        for engine, tag in (("chainrule, no_gc()", "no_gc()"), ("chainrule compiled", "compiled")):
            if engine in by:
                cells = [f"({tag}) {w.name}", w.unit, *([""] * len(present)), *ratios(by[engine], by)]
                lines.append("| " + " | ".join(cells) + " |")
    cells = [f"memory per op node (chain graph after forward, {memory_steps:,} steps)", "bytes",
             *(f"{memory[c][0]:.0f}" + (" (RSS)" if memory[c][1] == "RSS" else "") if c in memory else "-"
               for c in present)]
    size = {engine: size for engine, (size, _how) in memory.items()}
    cells += ratios(size.get("chainrule"), size, "less", "more")
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: list[tuple[Workload, list[Timing]]], grown: dict, compiled: dict,
            read: list[dict] = ()) -> list[tuple[str, bool]]:
    """Each target of the performance issue that this run measured: (what, met)."""
    out = []
    t = TARGETS
    for w, timings in results:
        by = {x.engine: x.median for x in timings}
        ours = by.get("chainrule, no_gc()")
        if ours:
            for other, need in (("micrograd", t["per_node_vs_micrograd"]), ("torch", t["per_node_vs_torch"])):
                if by.get(other):
                    r = by[other] / ours
                    out.append((f"{w.name} with no_gc(): {r:.1f}x faster than {other} (>= {need:g}x)", r >= need))
        if w.name == "network_222" and by.get("micrograd") and by.get("chainrule"):
            r = by["micrograd"] / by["chainrule"]
            need = t["network_vs_micrograd"]
            out.append((f"2-2-2 network through nn: {r:.1f}x faster than micrograd (>= {need:g}x)", r >= need))
    if grown:
        us = grown["wall"]["no_gc"]
        sizes = sorted(us, key=int)
        r = us[sizes[-1]] / us[sizes[0]]
        out.append((f"growth with no_gc(), {int(sizes[0]):,} -> {int(sizes[-1]):,} chain steps: {r:.2f}x "
                    f"(<= {t['growth']:g}x)", r <= t["growth"]))
    if compiled:
        for nodes, seconds in compiled["chain"].items():
            us, need = seconds * 1e6 / int(nodes), t["compile_us_per_node"]
            out.append((f"compile, chain of {int(nodes):,} nodes: {us:.0f} us per node (<= {need:g})", us <= need))
            if int(nodes) >= 100_000:
                need = t["compile_100k_seconds"]
                out.append((f"compile, chain of {int(nodes):,} nodes: {seconds:.2f} s (<= {need:g} s)",
                            seconds <= need))
        seconds, nodes = compiled["moons"]
        out.append((f"compile, the moons demo's graph ({nodes:,} nodes): {seconds:.2f} s "
                    f"(<= {t['compile_moons_seconds']:g} s)", seconds <= t["compile_moons_seconds"]))
    for r in read:
        small, large = (int(n) for n in r["us_per_node"])
        out.append((f"{r['reader']} on a {r['graph']}, {small:,} -> {large:,} nodes: {r['growth']:.2f}x per node "
                    f"(<= {t['reader_growth']:g}x)", r["growth"] <= t["reader_growth"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time chainrule against hand-written floats, micrograd and PyTorch on the same workloads, "
                    "after checking that they agree.")
    parser.add_argument("--quick", action="store_true", help="smaller workloads, fewer repetitions (about 30 s)")
    parser.add_argument("--check", action="store_true",
                        help="verify that the engines agree (exit 1 on disagreement) and, on a full run, the "
                             "performance targets (exit 2 if one is missed); --quick --check: agreement only, small")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    parser.add_argument("--freeze", action="store_true",
                        help="gc.freeze() the objects of the imported modules (torch's) before timing")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="run only these parts (chain, sum, demo_step, network_222, memory, growth, compile, "
                             "readers); "
                             "repeatable")
    args = parser.parse_args(argv)
    mode = "check" if args.check and args.quick else "quick" if args.quick else "full"
    sizes = SIZES[mode]
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
        if not selected(w.name, args.only):
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
    if selected("growth", args.only):
        steps = sizes["growth"]
        grown = growth.in_subprocess(sizes["repeats"], list(steps))
        print("\nchainrule per op node in a fresh process (autograd only, as its users run it), chain at "
              + ", ".join(f"{n:,}" for n in steps) + f" steps, medians of {grown['samples']} interleaved samples; "
              "wall clock, and in brackets the collector's own time (gc.callbacks):")
        for label, key in (("GC on (as users run it)", "gc_on"), ("inside no_gc()", "no_gc"), ("GC off", "gc_off")):
            us = [grown["wall"][key][str(n)] for n in steps]
            gc_us = [grown["collector"][key][str(n)] for n in steps]
            print(f"  {label:<24} " + " -> ".join(f"{u:.3g} us [{g:.2g}]" for u, g in zip(us, gc_us))
                  + f"  ({us[-1] / us[0]:.2f}x)")

    compiled, phases = {}, {}
    if selected("compile", args.only):
        compiled = compiletime.measure(list(sizes["compile"]), sizes["repeats"])
        phases = compiled.pop("phases")
        print("\ncompile_graph time, inside no_gc() (graph built once; the 100k-node graph compiled once, others "
              "medians):")
        for nodes, seconds in compiled["chain"].items():
            print(f"  chain of {int(nodes):>7,} nodes  {seconds:8.3f} s  {seconds * 1e6 / int(nodes):6.1f} us per node")
        seconds, nodes = compiled["moons"]
        print(f"  moons demo graph, {nodes:,} nodes  {seconds:.3f} s  {seconds * 1e6 / nodes:.1f} us per node")
        print("  by phase (the median run): the graph and names, writing the code, Python's compile, loading:")
        for what, phase in phases.items():
            print(f"    {what}: {compiletime.phases_line(phase)}")

    read = []
    if selected("readers", args.only):
        small, large = sizes["readers"]
        samples = min(sizes["repeats"], 3 if large < 1_000_000 else 2)
        print(f"\nreaders, each on a graph of {small:,} and {large:,} nodes (inside no_gc()), microseconds per node "
              f"(the least of {samples} runs):")
        read = readers.measure((small, large), samples)
        for r in read:
            a, b = r["us_per_node"].values()
            print(f"  {r['reader']:<38} {r['graph']:<7} {a:8.2f} -> {b:8.2f}  ({r['growth']:.2f}x)", flush=True)

    print("\n" + table(results, memory, memory_steps))
    print(f"\n(ratios: time of chainrule / time of the other engine; {time.perf_counter() - started:.0f} s in all)")
    met = targets(results, grown, compiled, read)
    if met:
        checked = mode == "full"
        print("\ntargets" + ("" if checked else " (small sizes: shown, not checked)") + ":")
        for what, ok in met:
            print(f"  {'met ' if ok else 'MISS'}  {what}")

    if args.json:
        data = {
            "machine": info,
            "mode": mode,
            "workloads": [
                {"name": w.name, "title": w.title, "unit": w.unit, "notes": w.notes,
                 "engines": {t.engine: {"median": t.median, "samples": t.samples, "setup_seconds": t.setup_seconds}
                             for t in ts}}
                for w, ts in results
            ],
            "memory_bytes_per_node": {k: {"bytes": v[0], "method": v[1]} for k, v in memory.items()},
            "growth_us_per_node": grown,
            "compile_seconds": compiled,
            "readers_us_per_node": read,
            "compile_phases_seconds": phases,
            "targets": [{"what": what, "met": ok} for what, ok in met],
        }
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2)
        print(f"wrote {args.json}")
    if args.check and mode == "full" and not all(ok for _, ok in met):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
