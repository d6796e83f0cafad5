"""Folding chains of unlabeled nodes: the graph among the quantities a reader names.

A folded edge ``child -> parent`` carries the total derivative of ``child`` wrt ``parent``
through nodes that are not kept, so the labeled quantities of a hand derivation remain.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from . import ops
from .names import node_names
from .value import Value, dependencies, topological_order

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


def kept_nodes(root: Value, collapse: Collapse = True, order: list[Value] | None = None) -> set[Value]:
    """The nodes that stay visible: see ``folded_edges`` (``order``: ``topological_order(root)`` if known)."""
    order = topological_order(root) if order is None else order
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


def folded_edges(root: Value, collapse: Collapse = True) -> list[FoldedEdge]:
    """The graph among kept nodes.

    ``collapse=True`` keeps the root, labeled nodes and leaves; an iterable of Values or
    labels keeps those plus the root and labeled leaves; ``False`` keeps every node.
    """
    return fold(root, kept_nodes(root, collapse))


def fold(root: Value, kept: Collection[Value], max_chains: int = MAX_CHAINS,
         order: list[Value] | None = None) -> list[FoldedEdge]:
    """Folded edges among ``kept`` (children in backward order, parents in input order).

    ``order`` is ``topological_order(root)`` when the caller has it already.
    """
    order = topological_order(root) if order is None else order
    pos = {v: i for i, v in enumerate(order)}
    names = node_names(order)
    texts: dict[Value, tuple[str, int]] = {}
    edges: list[FoldedEdge] = []
    for k in reversed(order):
        if k not in kept or not k.inputs:
            continue
        if all(c in kept for c in k.inputs):  # nothing folded: one real edge per input
            for p in dict.fromkeys(k.inputs):
                value, formula = _direct(k, p)
                edges.append(FoldedEdge(k, p, value, formula, ((k, p),)))
            continue
        region = list(dependencies(k, kept.__contains__))  # k and what it reaches without passing a kept node
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
            for c in dict.fromkeys(v.inputs):
                count[c] = count.get(c, 0) + count[v]
                depth[c] = max(depth.get(c, 0), depth[v] + 1)
                consumers.setdefault(c, []).append(v)
        first = {p: i for i, p in enumerate(dict.fromkeys(k.inputs))}
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
                    formula = _direct(k, p)[1]
                else:
                    formula = " + ".join(_chain_formula(c, kept, names, texts) for c in chains)
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


def _direct(k: Value, p: Value) -> tuple[float, str]:
    """The derivative of ``k`` wrt its input ``p`` summed over p's positions, and its formula."""
    op = ops.OPS[k.op]
    value, parts = 0.0, []
    for i, (c, local) in enumerate(zip(k.inputs, k.local_grads)):
        if c is p:
            value += local
            parts.append(ops.formula_text(op, i, len(k.inputs)))
    return value, " + ".join(parts)


# -- readable text ------------------------------------------------------------------------------
ATOM, POWER, PRODUCT, SUM = 4, 3, 2, 1  # precedence of a text: how tightly it binds
_PREC = {"add": SUM, "sub": SUM, "sum": SUM, "linear": SUM, "mul": PRODUCT, "div": PRODUCT, "neg": PRODUCT,
         "pow": POWER, "pow_const": POWER, "rpow_const": POWER}


def format_number(x: float, precision: int = 9) -> str:
    """``x`` for reading: exact short numbers as they are (``1``, ``0.05``); else ``precision`` decimals
    when 1e-4 <= |x| < 1 (``0.082167041``, as the hand derivation prints), ``precision`` significant digits otherwise.
    """
    if not math.isfinite(x):
        return repr(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    short = repr(x)
    if "e" not in short and len(short.lstrip("-0.").replace(".", "")) <= precision:
        return short
    if 1e-4 <= abs(x) < 1:
        return f"{x:.{precision}f}"
    return f"{x:.{precision}g}"


def number_text(x: float) -> str:
    """A constant as a reader writes it: ``2``, ``0.5``, ``0.01``."""
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else f"{x:.6g}"


def expression(v: Value, names: dict[Value, str]) -> str:
    """How ``v`` reads from its inputs' names, e.g. ``0.5 * pow_const#1`` or ``E_o1 + E_o2``."""
    if not v.inputs:
        return names[v]
    return _show(v, [operand_text(c, names) for c in v.inputs])[0]


def operand_text(v: Value, names: dict[Value, str]) -> tuple[str, int]:
    """How an operand reads, and its precedence: its name, or its number for an unlabeled leaf."""
    if v.label is None and not v.inputs:
        return number_text(v.data), ATOM if v.data >= 0 else PRODUCT
    return names[v], ATOM


def _text(v: Value, kept: Collection[Value], names: dict[Value, str], memo: dict) -> tuple[str, int]:
    """``v`` as an expression of kept nodes and constants (its name when that grows long)."""
    return fill(v, names, lambda u: u in kept or u.label is not None or not u.inputs,
                lambda u, text: text if len(text[0]) <= MAX_TEXT else (names[u], ATOM), memo)


def fill(v: Value, names: dict[Value, str], is_atom: Callable[[Value], bool],
         fit: Callable[[Value, tuple[str, int]], tuple[str, int]], memo: dict | None = None) -> tuple[str, int]:
    """``v`` written out down to the nodes ``is_atom`` picks (a name, or the number of a constant) and its
    precedence; ``fit(node, text)`` bounds each node's text. Iterative; ``memo`` keeps texts across calls.
    """
    memo = {} if memo is None else memo
    stack = [v]
    while stack:
        u = stack[-1]
        if u in memo:
            stack.pop()
        elif is_atom(u):
            memo[u] = operand_text(u, names)
            stack.pop()
        else:
            missing = [c for c in u.inputs if c not in memo]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            memo[u] = fit(u, _show(u, [memo[c] for c in u.inputs]))
    return memo[v]


def _wrap(text: tuple[str, int], need: int) -> str:
    return text[0] if text[1] >= need else f"({text[0]})"


def _show(v: Value, args: list[tuple[str, int]]) -> tuple[str, int]:
    """Fill the op's display template with operand texts, adding parentheses where needed."""
    op = ops.OPS[v.op]
    prec = _PREC.get(v.op, ATOM)
    if v.op == "sum":
        return " + ".join(_wrap(a, SUM) for a in args), prec
    if v.op == "linear":
        n = len(args) // 2
        terms = [f"{_wrap(w, POWER)}*{_wrap(x, POWER)}" for w, x in zip(args[:n], args[n:-1])]
        return " + ".join([*terms, _wrap(args[-1], SUM)]), prec
    if op.arity == 0:
        return op.show.replace("{xs}", ", ".join(a[0] for a in args)), prec
    need = {"add": (SUM, SUM), "sub": (SUM, PRODUCT), "mul": (PRODUCT, PRODUCT), "div": (PRODUCT, POWER),
            "neg": (POWER,), "pow": (ATOM, ATOM), "pow_const": (ATOM,), "rpow_const": (ATOM,)}.get(v.op, (0, 0))
    fill = {"x": _wrap(args[0], need[0])}
    if op.arity == 2:
        fill["y"] = _wrap(args[1], need[1])
    if op.param:
        fill["n"] = number_text(v.param)
    return op.show.format(**fill), prec


def edge_formula(child: Value, parent: Value, names: dict[Value, str],
                 operand: Callable[[Value], tuple[str, int]] | None = None, limit: int | None = None) -> str:
    """d child / d parent for one real edge with the operands written in, e.g. ``sigmoid(net_o1) (1 - ...)``;
    the sum of ``term_formula`` over the positions of ``parent`` among ``child``'s inputs.
    """
    return " + ".join(term_formula(child, i, names, operand, limit)
                      for i, x in enumerate(child.inputs) if x is parent)


def term_formula(child: Value, i: int, names: dict[Value, str],
                 operand: Callable[[Value], tuple[str, int]] | None = None, limit: int | None = None) -> str:
    """d child / d (input ``i``) with the operands written in; ``operand(x)`` gives an operand's text and
    precedence (default ``operand_text``: its name or number); longer than ``limit``, the op table's text.
    """
    operand = operand or functools.partial(operand_text, names=names)
    op = ops.OPS[child.op]
    arity = len(child.inputs)
    formula = generic = ops.formula_text(op, i, arity)
    if child.op == "linear":
        n = (arity - 1) // 2
        partner = None if i == arity - 1 else (i + n if i < n else i - n)
        text = "1" if partner is None else _wrap(operand(child.inputs[partner]), POWER)
    elif child.op == "logsumexp":
        text = f"exp({operand(child.inputs[i])[0]} - {names[child]})"
    elif op.arity == 0:
        text = formula
    else:
        subs = {"x": operand(child.inputs[0]), "out": (names[child], ATOM)}
        if op.arity == 2:
            subs["y"] = operand(child.inputs[1])
        if op.param:
            formula = formula.replace("^(n-1)", "" if child.param == 2.0 else f"^{number_text(child.param - 1.0)}")
            subs["n"] = (number_text(child.param), ATOM)
        text = re.sub(r"\b(x|y|n|out)\b", lambda m: _wrap(subs[m.group(1)], POWER), formula)
    return generic if limit is not None and len(text) > limit else text


def _chain_formula(chain: tuple[Value, ...], kept: Collection[Value], names: dict[Value, str], memo: dict) -> str:
    def operand(x: Value) -> tuple[str, int]:
        return _text(x, kept, names, memo)

    factors = [edge_formula(u, c, names, operand) for u, c in zip(chain, chain[1:])]
    factors = [f for f in factors if f != "1"] or ["1"]
    if len(factors) == 1:
        return factors[0]
    return " * ".join(f"({f})" if _is_sum(f) else f for f in factors)


def _is_sum(text: str) -> bool:
    """True when ``text`` has a ``+`` or ``-`` outside parentheses (a leading sign aside)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch in "+-" and i > 0 and text[i - 1] == " ":
            return True
    return False


def _name(v: Value) -> str:
    return repr(v.label) if v.label is not None else repr(v)
