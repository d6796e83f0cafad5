"""The folded view of a graph: the graph among the nodes a reader names.

A folded edge ``child -> parent`` between two kept nodes carries the total derivative of ``child`` wrt
``parent`` through nodes that are not kept, and the real chains it sums over, so that the labeled quantities
of a hand derivation remain. Numbers and chains only: the formula texts are the readers' (``autograd.text``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .value import Value

if TYPE_CHECKING:
    from .graph import Graph

MAX_CHAINS = 64  # a folded edge lists its chains only up to this many (and counts them up to one more)
MAX_CHAIN_NODES = 512  # ... and only while they hold at most this many nodes in all (long chains stay cheap)

Collapse = bool | Iterable[Value | str]


@dataclass(frozen=True, slots=True)
class FoldedEdge:
    """d child / d parent through folded (non-kept) nodes only."""

    child: Value  # consumer side (numerator)
    parent: Value  # input side (denominator)
    value: float  # total derivative of child wrt parent through folded nodes only
    chains: tuple[tuple[Value, ...], ...]  # each real node chain child ... parent; () if too many to list
    count: int = 1  # number of chains, counted up to MAX_CHAINS + 1 (which stands for more)
    depth: int = 2  # nodes on the longest chain

    @property
    def folded(self) -> bool:
        """True when the edge passes through at least one folded node."""
        return not self.chains or any(len(c) > 2 for c in self.chains)


def collapse_key(collapse: Collapse) -> object:
    """A hashable form of a ``collapse`` setting (the key of a view in caches)."""
    if collapse is True or collapse is False or collapse is None:
        return bool(collapse)
    return frozenset(collapse)


def kept_nodes(graph: Graph, collapse: Collapse = True) -> set[Value]:
    """The nodes that stay visible: ``True`` keeps the root, labeled nodes and leaves; an iterable of Values or
    labels keeps those plus the root and labeled leaves; ``False`` keeps every node."""
    root, order = graph.root, graph.order
    if collapse is False or collapse is None:
        return set(order)
    if collapse is True:
        return {v for v in order if v is root or v.label is not None or v._a is None}
    wanted = list(collapse)
    labels = {x for x in wanted if isinstance(x, str)}
    values = {x for x in wanted if isinstance(x, Value)}
    present = {v.label for v in order if v.label is not None}
    missing = sorted(labels - present)
    if missing:
        top = repr(root.label) if root.label is not None else repr(root)
        raise ValueError(f"collapse: no node labeled {', '.join(map(repr, missing))} in the graph of {top}")
    return {
        v for v in order
        if v is root or v in values or v.label in labels or (v._a is None and v.label is not None)
    }


def fold(graph: Graph, kept: Collection[Value], within: Collection[Value] | None = None) -> list[FoldedEdge]:
    """Folded edges among ``kept`` (children in backward order, parents in input order).

    ``within``: only the edges whose parent is in it, through nodes in it (explain passes the nodes that reach
    its ``wrt``, so that its cost follows the part of the graph it shows). A wide node's inputs are indexed
    once (``Graph.positions``), and chain counts stay small numbers (capped), so a fold is linear in the
    nodes it visits.
    """
    g = graph
    order, pos = g.order, g.index
    edges: list[FoldedEdge] = []
    cap = MAX_CHAINS + 1
    for k in reversed(order):
        if k not in kept or k._a is None or (within is not None and k not in within):
            continue
        ins = k.inputs
        if all(c in kept for c in ins):  # nothing folded: one real edge per input
            for p in _distinct(ins):
                if within is None or p in within:
                    edges.append(FoldedEdge(k, p, _direct(g, k, p), ((k, p),)))
            continue
        region = _region(k, kept, within)  # k and what it reaches without passing a kept node
        region.sort(key=pos.__getitem__, reverse=True)
        deriv: dict[Value, float] = {k: 1.0}
        count: dict[Value, int] = {k: 1}
        depth: dict[Value, int] = {k: 1}  # nodes on the longest chain k ... v
        consumers: dict[Value, list[Value]] = {}
        targets: list[Value] = []
        for v in region:
            if v is not k and v in kept:
                targets.append(v)
                continue
            for c, local in zip(v.inputs, v.local_grads):
                if within is None or c in within:
                    deriv[c] = deriv.get(c, 0.0) + local * deriv[v]
            for c in _distinct(v.inputs):
                if within is None or c in within:
                    n = count.get(c, 0) + count[v]
                    count[c] = n if n < cap else cap
                    depth[c] = max(depth.get(c, 0), depth[v] + 1)
                    consumers.setdefault(c, []).append(v)
        first = {p: i for i, p in enumerate(_distinct(ins))}
        targets.sort(key=lambda p: (first.get(p, len(first)), -pos[p]))
        for p in targets:
            n, d = count[p], depth[p]
            if n > MAX_CHAINS or n * d > MAX_CHAIN_NODES:
                chains: tuple[tuple[Value, ...], ...] = ()
            else:
                chains = _chains(k, p, consumers)
            edges.append(FoldedEdge(k, p, deriv[p], chains, n, d))
    return edges


def _chains(k: Value, p: Value, consumers: dict[Value, list[Value]]) -> tuple[tuple[Value, ...], ...]:
    """Every real chain k ... p, walking up from p (each walk ends at k)."""
    done: list[tuple[Value, ...]] = []
    stack: list[tuple[Value, tuple | None]] = [(p, None)]  # (head, linked list of the nodes below it)
    while stack:
        head, below = stack.pop()
        if head is k:
            chain = [head]
            while below is not None:
                v, below = below
                chain.append(v)
            done.append(tuple(chain))
            continue
        for u in reversed(consumers[head]):
            stack.append((u, (head, below)))
    return tuple(done)


def _distinct(ins: tuple[Value, ...]) -> Iterable[Value]:
    """The inputs without repeats, in order."""
    if len(ins) == 2 and ins[0] is ins[1]:
        return ins[:1]
    return dict.fromkeys(ins) if len(ins) > 2 else ins


def _region(k: Value, kept: Collection[Value], within: Collection[Value] | None) -> list[Value]:
    """``k`` and every node it reaches without passing a kept node (kept ones are included, not entered)."""
    seen = {k}
    stack = [k]
    while stack:
        v = stack.pop()
        if v is not k and v in kept:
            continue
        for c in v.inputs:
            if c not in seen and (within is None or c in within):
                seen.add(c)
                stack.append(c)
    return list(seen)


def _direct(g: Graph, k: Value, p: Value) -> float:
    """The derivative of ``k`` wrt its input ``p``, summed over p's positions."""
    local = k.local_grads
    value = 0.0
    for i in g.positions(k, p):
        value += local[i]
    return value
