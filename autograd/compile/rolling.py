"""Repeated blocks of a graph, to be written once as a loop: the moons loss is 100 copies of one point's ops.

A run is ``count`` consecutive blocks of ``length`` nodes in topological order that are the same code: at each
position the same op, operand count and parameter, the same operands inside the block, and leaves outside
it. A leaf every block reads (a weight) is ``shared``; the others (a data point) differ from block to block
and are passed to the loop. Blocks read no other block's nodes and no node outside the run, and their
varying leaves need no gradient, so each block's backward only adds to its own nodes' gradients and to the
shared leaves' ones: a loop over the blocks in reverse adds the same terms in the same order as backward().
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from ..core.value import Value

MIN_TERMS = 24  # operands per block below which a loop is not worth it (its run time per block is fixed)
MIN_SAVED = 400  # operands written out once instead of count times, below which rolling is not worth it


class Run(NamedTuple):
    """``count`` blocks of ``length`` nodes from ``start`` in the graph's node list."""

    start: int
    length: int
    count: int
    shared: tuple[Value, ...]  # the leaves every block reads, in order of first use
    varying: dict[tuple[int, int], int]  # (node in block, operand) of a leaf that differs between blocks -> column
    columns: tuple[tuple[Value, ...], ...]  # per column, its leaf in each block (slots reading the same leaves)
    outputs: tuple[int, ...]  # the nodes in the block read after the run (or returned)


def find(nodes: Sequence[Value], ins: Mapping[Value, tuple[Value, ...]], kinds: Sequence[object],
         needs: set[Value], end: int, kept: set[Value], max_length: int) -> list[Run]:
    """The runs among ``nodes[:end]`` (``kinds[i]`` is the code kind of ``nodes[i]``; ``kept`` are nodes
    read from outside the graph's nodes, root and aux), in order, none overlapping."""
    pos = {v: i for i, v in enumerate(nodes)}
    where = pos.get
    kinds_ = [id(k) for k in kinds[:end]]
    tokens: list[int] = []
    ids: dict[tuple, int] = {}
    token = ids.setdefault
    for i, v in enumerate(nodes[:end]):
        row: list[object] = [kinds_[i], v in needs]
        for c in ins[v]:
            j = where(c)
            row.append((-2 if c in needs else -1) if j is None else i - j)
        tokens.append(token(tuple(row), len(ids)))
    last_user: list[int] = []  # the last node that reads each node, filled when a run needs it

    def users() -> list[int]:
        if not last_user:
            last_user.extend([-1] * len(nodes))
            for i, v in enumerate(nodes):
                for c in ins[v]:
                    j = where(c)
                    if j is not None:
                        last_user[j] = i
        return last_user

    stretches = _periodic(tokens, max_length)
    runs = []
    for a, b, length in stretches:
        run = _run(nodes, ins, needs, pos, users, kept, a, b, length)
        if run is not None:
            runs.append(run)
    return runs


def _periodic(tokens: list[int], max_length: int) -> list[tuple[int, int, int]]:
    """Stretches where the tokens repeat with a period: ``(start, end, period)``, the largest first, none
    overlapping. A period shows as a token that recurs at a constant distance."""
    n = len(tokens)
    where: dict[int, list[int]] = {}
    for i, t in enumerate(tokens):
        where.setdefault(t, []).append(i)
    found: list[tuple[int, int, int]] = []
    tried: set[tuple[int, int]] = set()
    for places in [p for p in where.values() if len(p) >= 3]:
        k = 0
        while k + 1 < len(places):
            gap = places[k + 1] - places[k]
            m = k + 1
            while m + 1 < len(places) and places[m + 1] - places[m] == gap:
                m += 1
            if gap <= max_length and m - k >= 2:  # three blocks at least: a lone pair is most often chance
                a = places[k]  # back to where the period starts (less than a period back: the stretch is maximal)
                while a > 0 and tokens[a - 1] == tokens[a - 1 + gap]:
                    a -= 1
                if (a, gap) not in tried:
                    tried.add((a, gap))
                    b = a
                    while b + gap < n and tokens[b] == tokens[b + gap]:
                        b += 1
                    if b - a >= gap:  # two periods at least
                        found.append((a, b + gap, gap))
            k = m
    found.sort(key=lambda f: (f[0] - f[1], f[0]))
    taken: list[tuple[int, int, int]] = []
    for a, b, gap in found:
        if all(b <= s or e <= a for s, e, _ in taken):
            taken.append((a, b, gap))
    return sorted(taken)


def _aligned(nodes: Sequence[Value], ins: Mapping[Value, tuple[Value, ...]], pos: dict[Value, int],
             a: int, b: int, length: int) -> int | None:
    """The first ``start`` from ``a`` such that no node in ``nodes[start:start + length]`` reads a node before
    ``start`` (a sliding minimum of the earliest node each one reads); None if there is none before ``b``."""
    earliest = [min((pos[c] for c in ins[nodes[j]] if c in pos), default=j) for j in range(a, b)]
    window: deque[int] = deque()  # indices into earliest, their values increasing
    for j in range(len(earliest)):
        while window and earliest[window[-1]] >= earliest[j]:
            window.pop()
        window.append(j)
        start = j - length + 1
        if start < 0:
            continue
        if window[0] < start:
            window.popleft()
        if earliest[window[0]] >= a + start:
            return a + start
    return None


def _run(nodes: Sequence[Value], ins: Mapping[Value, tuple[Value, ...]], needs: set[Value], pos: dict[Value, int],
         users: Callable[[], list[int]], kept: set[Value], a: int, b: int, length: int) -> Run | None:
    """The run of blocks of ``length`` nodes in ``nodes[a:b]`` (where the tokens repeat with that period), aligned
    so that a block reads no other block's nodes; None when there is none or it is not worth a loop."""
    start = _aligned(nodes, ins, pos, a, min(b, a + 2 * length), length)
    if start is None:
        return None
    count = (b - start) // length
    first = nodes[start:start + length]
    terms = sum(len(ins[v]) for v in first)
    if count < 3 or terms < MIN_TERMS or (count - 1) * terms < MIN_SAVED:
        return None
    # leaf operands: shared (the same leaf in every block) or varying
    slots = [(r, t) for r, v in enumerate(first) for t, c in enumerate(ins[v]) if c not in pos]
    values = [ins[first[r]][t] for r, t in slots]
    varying: dict[tuple[int, int], None] = {}
    for k in range(1, count):
        block = nodes[start + k * length:start + (k + 1) * length]
        for slot, value in zip(slots, values):
            if ins[block[slot[0]]][slot[1]] is not value:
                varying.setdefault(slot)
    shared = {value: None for slot, value in zip(slots, values) if slot not in varying}
    for k in range(count):
        block = nodes[start + k * length:start + (k + 1) * length]
        for r, t in varying:
            c = ins[block[r]][t]
            if c in needs or c in shared:
                return None  # a varying leaf with a gradient, or one some block shares: no loop adds it in order
    columns: dict[tuple[Value, ...], int] = {}
    column = {}
    for r, t in varying:
        leaves = tuple(ins[nodes[start + k * length + r]][t] for k in range(count))
        column[(r, t)] = columns.setdefault(leaves, len(columns))
    last_user = users()
    outputs = []
    for r in range(length):
        for k in range(count):
            i = start + k * length + r
            if last_user[i] >= start + (k + 1) * length or nodes[i] in kept:
                outputs.append(r)
                break
    return Run(start, length, count, tuple(shared), column, tuple(columns), tuple(outputs))
