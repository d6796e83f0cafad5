"""Folding chains of unlabeled nodes: the graph among the quantities a reader names.

A folded edge ``child -> parent`` carries the total derivative of ``child`` wrt ``parent``
through nodes that are not kept, so the labeled quantities of a hand derivation remain.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from .core.graph import Graph, as_graph
from .core.value import Value
from .text import (  # noqa: F401  (number_text, operand_text, term_formula: imported from here by render)
    ATOM,
    edge_formula,
    edge_tree,
    expression,
    fill,
    format_number,
    number_text,
    operand_text,
    product_formula,
    term_formula,
)

MAX_CHAINS = 64  # a folded edge lists its chains only up to this many
MAX_CHAIN_NODES = 512  # ... and only while they hold at most this many nodes in all (long chains stay cheap)
MAX_TEXT = 60  # an unlabeled node reads as its expression up to this length, else as its name

Collapse = bool | Iterable[Value | str]


@dataclass(frozen=True)
class FoldedEdge:
    """d child / d parent through folded (non-kept) nodes only."""

    child: Value  # consumer side (numerator)
    parent: Value  # input side (denominator)
    value: float  # total derivative of child wrt parent through folded nodes only
    formula: str  # readable text of the derivative (the op formula for a single real edge)
    chains: tuple[tuple[Value, ...], ...]  # each real node chain child ... parent; () if too many to list

    @property
    def folded(self) -> bool:
        """True when the edge passes through at least one folded node."""
        return not self.chains or any(len(c) > 2 for c in self.chains)


def kept_nodes(root: Value | Graph, collapse: Collapse = True, order: list[Value] | None = None) -> set[Value]:
    """The nodes that stay visible: see ``folded_edges`` (``order``: the topological order, if known)."""
    if isinstance(root, Graph):
        root, order = root.root, root.order
    elif order is None:
        order = Graph(root).order
    if collapse is False or collapse is None:
        return set(order)
    if collapse is True:
        return {v for v in order if v is root or v.label is not None or not v.inputs}
    wanted = list(collapse)
    labels = {x for x in wanted if isinstance(x, str)}
    values = {x for x in wanted if isinstance(x, Value)}
    present = {v.label for v in order if v.label is not None}
    missing = sorted(labels - present)
    if missing:
        raise ValueError(f"collapse: no node labeled {', '.join(map(repr, missing))} in the graph of {_name(root)}")
    return {
        v for v in order
        if v is root or v in values or v.label in labels or (not v.inputs and v.label is not None)
    }


def folded_edges(root: Value | Graph, collapse: Collapse = True) -> list[FoldedEdge]:
    """The graph among kept nodes.

    ``collapse=True`` keeps the root, labeled nodes and leaves; an iterable of Values or
    labels keeps those plus the root and labeled leaves; ``False`` keeps every node.
    """
    return as_graph(root, "folded_edges").folded(collapse)


def fold(graph: Graph | Value, kept: Collection[Value], max_chains: int = MAX_CHAINS,
         order: list[Value] | None = None) -> list[FoldedEdge]:
    """Folded edges among ``kept`` (children in backward order, parents in input order).

    ``graph`` is a Graph, or a root Value (``order``: its topological order when the caller has it already).
    A wide node's inputs are indexed once (``Graph.positions``), not rescanned per distinct input.
    """
    g = graph if isinstance(graph, Graph) else Graph._of(graph, order)
    order, pos, names = g.order, g.index, g.names
    texts: dict[Value, tuple[str, int]] = {}
    edges: list[FoldedEdge] = []
    for k in reversed(order):
        if k not in kept or k._a is None:
            continue
        ins = k.inputs
        if all(c in kept for c in ins):  # nothing folded: one real edge per input
            for p in _distinct(ins):
                value, formula = _direct(k, p, names, g)
                edges.append(FoldedEdge(k, p, value, formula, ((k, p),)))
            continue
        region = _region(k, kept)  # k and what it reaches without passing a kept node
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
                deriv[c] = deriv.get(c, 0.0) + local * deriv[v]
            for c in _distinct(v.inputs):
                count[c] = count.get(c, 0) + count[v]
                depth[c] = max(depth.get(c, 0), depth[v] + 1)
                consumers.setdefault(c, []).append(v)
        first = {p: i for i, p in enumerate(_distinct(ins))}
        targets.sort(key=lambda p: (first.get(p, len(first)), -pos[p]))
        for p in targets:
            if count[p] > max_chains or count[p] * depth[p] > MAX_CHAIN_NODES:
                chains: tuple[tuple[Value, ...], ...] = ()
                if count[p] == 1:
                    formula = f"product of the {depth[p] - 1} local derivatives along the chain"
                else:
                    formula = f"sum over {count[p]} chains"
            else:
                chains = _chains(k, p, consumers)
                if chains == ((k, p),):
                    formula = _direct(k, p, names, g)[1]
                else:
                    formula = " + ".join(_chain_formula(c, kept, names, texts, g) for c in chains)
            edges.append(FoldedEdge(k, p, deriv[p], formula, chains))
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


def _region(k: Value, kept: Collection[Value]) -> list[Value]:
    """``k`` and every node it reaches without passing a kept node (kept ones are included, not entered)."""
    seen = {k}
    stack = [k]
    while stack:
        v = stack.pop()
        if v is not k and v in kept:
            continue
        for c in v.inputs:
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return list(seen)


def _direct(k: Value, p: Value, names: dict[Value, str], g: Graph) -> tuple[float, str]:
    """The derivative of ``k`` wrt its input ``p`` summed over p's positions, and its formula."""
    positions = g.positions(k, p)
    local = k.local_grads
    value = 0.0
    for i in positions:
        value += local[i]
    return value, edge_formula(k, p, names, positions=positions)


def _text(v: Value, kept: Collection[Value], names: dict[Value, str], memo: dict) -> tuple[str, int]:
    """``v`` as an expression of kept nodes and constants (its name when that grows long)."""
    return fill(v, names, lambda u: u in kept or u.label is not None or not u.inputs,
                lambda u, text: text if len(text[0]) <= MAX_TEXT else (names[u], ATOM), memo)


def _chain_formula(chain: tuple[Value, ...], kept: Collection[Value], names: dict[Value, str], memo: dict,
                   g: Graph) -> str:
    def operand(x: Value) -> tuple[str, int]:
        return _text(x, kept, names, memo)

    return product_formula([edge_tree(u, c, names, operand, positions=g.positions(u, c))
                            for u, c in zip(chain, chain[1:])])


def _name(v: Value) -> str:
    return repr(v.label) if v.label is not None else repr(v)
