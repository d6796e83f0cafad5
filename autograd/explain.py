"""Why a gradient has its value: the chain-rule paths from ``output`` to ``wrt``, factor by factor.

``explain(E_total, w5)`` lists every path as a product of factors ``d child / d parent``; the
gradient is the sum of the path products.  When there are more than ``max_paths`` paths it
shows the grouped (delta) form instead: per node, the sum over its consumers (backward itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .core.fold import Collapse, FoldedEdge, collapse_key, fold
from .core.graph import Graph, as_graph
from .core.value import Value
from .text import FoldedTexts, format_number, is_one, markdown_code, markdown_text, tex_name, tex_number


@dataclass(frozen=True, slots=True)
class Factor:
    """One factor of a path: d child / d parent, its value and (read on first use) its formula text."""

    child: Value
    parent: Value
    value: float
    chain: tuple[Value, ...]  # real nodes child ... parent; len 2 when not folded; (child, parent) if several
    chains: tuple[tuple[Value, ...], ...] = ()  # every real chain summed over (() if too many to list)
    edge: FoldedEdge | None = field(default=None, repr=False, compare=False)  # the edge whose formula this is
    texts: FoldedTexts | None = field(default=None, repr=False, compare=False)

    @property
    def formula(self) -> str:
        """d child / d parent written in the graph's names (``w5``, ``out_o1 * (1 - out_o1)``)."""
        return self.texts.formula(self.edge) if self.texts is not None else format_number(self.value)


@dataclass
class Path:
    """One chain-rule path from output to wrt: its factors (output side first) and their product."""

    factors: list[Factor]
    product: float


@dataclass(frozen=True, slots=True)
class Share:
    """What one consumer contributes to a node's gradient: d output/d consumer * d consumer/d node."""

    consumer: Value
    factor: Factor  # d consumer / d node
    upstream: float  # d output / d consumer
    value: float  # upstream * factor.value
    top: Value | None  # when set, the share equals d top / d node (the reference's dE_o1/dout_h1)


@dataclass(slots=True)
class Group:
    """d output / d node as the sum of its consumers' shares (one line of the delta form)."""

    node: Value
    grad: float
    shares: list[Share]


@dataclass
class Explanation:
    """The paths (or the grouped form) behind d output / d wrt; ``total`` equals backward()'s ``wrt.grad``."""

    output: Value
    wrt: Value
    paths: list[Path]
    total: float
    grouped: bool  # True when the grouped form replaced the paths (more than max_paths)
    groups: list[Group]  # every node between output and wrt, output side first
    count: int  # number of paths, counted exactly up to max_paths (max_paths + 1 stands for more)
    max_paths: int = 64
    precision: int = 9
    names: dict[Value, str] = field(default_factory=dict, repr=False)
    graph: Graph | None = field(default=None, repr=False, compare=False)

    # -- text ---------------------------------------------------------------------------------
    def __repr__(self) -> str:
        how = f"more than {self.max_paths} paths, grouped form" if self.grouped else (
            f"{self.count} path" + ("" if self.count == 1 else "s"))
        return f"Explanation({self._d(self.output, self.wrt)} = {self._n(self.total)}, {how})"

    def _n(self, x: float) -> str:
        return format_number(x, self.precision)

    def _d(self, a: Value, b: Value) -> str:
        return f"d{self.names[a]}/d{self.names[b]}"

    def _share_name(self, s: Share, node: Value, many: bool = False,
                    d: Callable[[Value, Value], str] | None = None, times: str = " * ") -> str:
        """The share as derivatives, written by ``d`` (default ``dA/dB``) and joined by ``times``."""
        d = d or self._d
        if s.top is not None:
            return d(s.top, node)
        if s.consumer is self.output:
            chain = s.factor.chain
            if not many:
                return d(s.consumer, node)
            via = f" (via {self.names[chain[1]]})" if len(chain) > 2 else " (direct)"
            return d(s.consumer, node) + via
        return f"{d(self.output, s.consumer)}{times}{d(s.consumer, node)}"

    def _share_value(self, s: Share) -> str:
        if s.top is not None or s.consumer is self.output:
            return self._n(s.value)
        return f"{self._n(s.upstream)} * {self._n(s.factor.value)}"

    def _group_line(self, g: Group) -> str:
        names = " + ".join(self._share_name(s, g.node, len(g.shares) > 1) for s in g.shares)
        if len(g.shares) == 1 and g.shares[0].consumer is self.output:
            return f"{self._d(self.output, g.node)} = {self._n(g.grad)}"
        if len(g.shares) == 1:
            return f"{self._d(self.output, g.node)} = {names} = {self._share_value(g.shares[0])} = {self._n(g.grad)}"
        values = " + ".join(self._n(s.value) for s in g.shares)
        return f"{self._d(self.output, g.node)} = {names} = {values} = {self._n(g.grad)}"

    def merges(self) -> list[Group]:
        """The groups of nodes where paths meet (more than one consumer): the delta form's sums."""
        return [g for g in self.groups if len(g.shares) > 1]

    def factors(self) -> list[Factor]:
        """Every distinct factor of the paths, in order of first use."""
        return list({(f.child, f.parent): f for p in self.paths for f in p.factors}.values())

    def _formula(self, f: Factor) -> str:
        """The factor's formula, written in the graph's names."""
        return f.formula

    def _path_line(self, p: Path) -> str:
        if not p.factors:
            return "1"
        if len(p.factors) == 1:
            return f"{self._d(p.factors[0].child, p.factors[0].parent)} = {self._n(p.product)}"
        names = " * ".join(self._d(f.child, f.parent) for f in p.factors)
        values = " * ".join(self._n(f.value) for f in p.factors)
        return f"{names} = {values} = {self._n(p.product)}"

    def __str__(self) -> str:
        head = self._d(self.output, self.wrt)
        if self.grouped:
            lines = [
                f"{head}: more than max_paths={self.max_paths} paths; grouped form instead"
                f" (the backward pass over the {len(self.groups) + 1} nodes between {self.names[self.wrt]}"
                f" and {self.names[self.output]}):"
            ]
            lines += [f"  {self._group_line(g)}" for g in self.groups]
            lines.append(f"{head} = {self._n(self.total)}")
            return "\n".join(lines)
        if len(self.paths) == 1 and len(self.paths[0].factors) < 2:
            lines = [f"{head} = {self._n(self.total)}"]
        elif len(self.paths) == 1:
            lines = [f"{head} = {self._path_line(self.paths[0])}"]
        else:
            lines = [f"{head} = sum over {len(self.paths)} paths:"]
            lines += [f"  path {i}: {self._path_line(p)}" for i, p in enumerate(self.paths, 1)]
            lines.append(f"  {head} = {' + '.join(self._n(p.product) for p in self.paths)} = {self._n(self.total)}")
            merges = self.merges()
            if merges:
                lines.append("grouped (delta) form, where the paths meet:")
                lines += [f"  {self._group_line(g)}" for g in merges]
        factors = self.factors()
        if len(factors) == 1 and self._formula(factors[0]) == self._n(factors[0].value):
            factors = []  # the one line above says it all
        if factors:
            lines.append("factors:")
            for f in factors:
                formula, value = self._formula(f), self._n(f.value)
                lines.append(f"  {self._d(f.child, f.parent)} = {'' if formula == value else formula + ' = '}{value}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The explanation as Markdown (tables of paths and factors; labels with ``|`` or line breaks escaped)."""
        md = markdown_text
        head = f"**{md(self._d(self.output, self.wrt))} = {self._n(self.total)}**"
        out = [head, ""]
        if self.grouped:
            out.append(f"More than max_paths={self.max_paths} paths: grouped form, node by node.")
            out += ["", "| node | sum over consumers | value |", "|---|---|---|"]
            for g in self.groups:
                terms = " + ".join(self._share_name(s, g.node) for s in g.shares)
                out.append(f"| {markdown_code(self.names[g.node])} | {md(terms)} | {self._n(g.grad)} |")
            return "\n".join(out)
        out += ["| path | factors | product |", "|---|---|---|"]
        for i, p in enumerate(self.paths, 1):
            factors = " × ".join(f"{self._d(f.child, f.parent)} ({self._n(f.value)})" for f in p.factors) or "1"
            out.append(f"| {i} | {md(factors)} | {self._n(p.product)} |")
        merges = self.merges()
        if len(self.paths) > 1 and merges:
            out += ["", "Grouped (delta) form, where the paths meet:", ""]
            out += [f"- {md(self._group_line(g))}" for g in merges]
        factors = self.factors()
        if factors:
            out += ["", "| factor | formula | value |", "|---|---|---|"]
            out += [f"| {md(self._d(f.child, f.parent))} | {markdown_code(f.formula)} | {self._n(f.value)} |"
                    for f in factors]
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_latex_(self) -> str:
        return "$$" + self.to_latex() + "$$"

    def to_latex(self) -> str:
        """The explanation as a LaTeX ``aligned`` block (use inside ``$$ ... $$`` or ``\\[ ... \\]``)."""
        frac = lambda a, b: rf"\frac{{\partial {tex_name(self.names[a])}}}{{\partial {tex_name(self.names[b])}}}"  # noqa: E731
        num = lambda x: tex_number(self._n(x))  # noqa: E731
        rows = []
        head = frac(self.output, self.wrt)
        if self.grouped:
            for g in self.groups:
                terms = " + ".join(self._share_name(s, g.node, d=frac, times=r" \cdot ") for s in g.shares)
                if len(g.shares) == 1 and g.shares[0].consumer is self.output:
                    terms = num(g.grad)
                else:
                    terms += f" = {num(g.grad)}"
                rows.append(f"{frac(self.output, g.node)} &= {terms}")
            rows.append(f"{head} &= {num(self.total)}")
        else:
            products = [r" \cdot ".join(frac(f.child, f.parent) for f in p.factors) or "1" for p in self.paths]
            values = [r" \cdot ".join(num(f.value) for f in p.factors) or "1" for p in self.paths]
            if len(self.paths) > 1 or len(self.paths[0].factors) > 1:
                rows.append(f"{head} &= " + " + ".join(products))
            if len(self.paths) == 1:
                if len(self.paths[0].factors) > 1:
                    rows.append(f"&= {values[0]}")
            else:
                rows.append("&= " + " + ".join(f"({v})" for v in values))
                rows.append("&= " + " + ".join(num(p.product) for p in self.paths))
            rows.append(f"{'' if rows else head + ' '}&= {num(self.total)}")
            for g in self.merges() if len(self.paths) > 1 else []:
                terms = " + ".join(self._share_name(s, g.node, d=frac, times=r" \cdot ") for s in g.shares)
                values = " + ".join(num(s.value) for s in g.shares)
                rows.append(f"{frac(self.output, g.node)} &= {terms} = {values} = {num(g.grad)}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


# -- building ---------------------------------------------------------------------------------
def explain(output: Value | Graph, wrt: Value, *, collapse: Collapse = False, max_paths: int = 64,
            precision: int = 9) -> Explanation:
    """The chain-rule paths from ``output`` (a Value or a Graph) to ``wrt`` (or the grouped form above ``max_paths``).

    ``collapse=True`` folds unlabeled nodes and merges pure-sum factors of exactly 1 (``dE_total/dE_o1``)
    into their neighbour, giving the hand derivation's factors; ``collapse=[labels or Values]`` keeps
    just those quantities (plus output, wrt and labeled leaves).
    """
    g = as_graph(output, "explain")
    output, names = g.root, g.names
    if wrt not in g:
        who = wrt.label if isinstance(wrt, Value) and wrt.label is not None else repr(wrt)
        top = names[output]
        raise ValueError(f"explain: {who} is not in the graph of {top} ({top} does not depend on it)")
    kept = g.kept(collapse)
    if wrt in kept:  # the view's own texts, shared by every explanation of this graph and setting
        key = ("folded texts", collapse_key(collapse))
        texts = g.cache.get(key)
        if texts is None:
            texts = g.cache[key] = FoldedTexts(g, kept)
    else:  # wrt is kept too: its expression stops at its name
        kept = kept | {wrt}
        texts = FoldedTexts(g, kept)
    # the folded view between the root and wrt only: its cost follows the part of the graph shown
    reach = g.reaching(wrt)
    by_child: dict[Value, list[FoldedEdge]] = {}
    for e in fold(g, kept, reach if len(reach) < len(g.order) else None):
        by_child.setdefault(e.child, []).append(e)

    # nodes between wrt and output (those that reach wrt), and the number of paths from each to wrt,
    # counted exactly up to max_paths only (so the numbers stay small on any graph)
    cap = max_paths + 1
    between = _in_order(g, reach)
    grad = g.gradients(between)
    paths_from: dict[Value, int] = {}
    for v in between:
        if v is wrt:
            paths_from[v] = 1
        elif v in kept:
            n = 0
            for e in by_child.get(v, ()):
                n += paths_from.get(e.parent, 0)
            if n:
                paths_from[v] = min(n, cap)
    count = paths_from[output]
    relevant = [v for v in reversed(between) if v in paths_from]  # output first
    edges = {v: [e for e in by_child.get(v, ()) if e.parent in paths_from] for v in relevant if v is not wrt}
    up: dict[Value, list[FoldedEdge]] = {v: [] for v in relevant}
    for es in edges.values():
        for e in es:
            up[e.parent].append(e)

    grouped = count > max_paths
    paths = [] if grouped else _paths(output, wrt, edges, collapse is True, texts)
    groups = []
    for v in relevant[1:]:
        shares = []
        for e in up[v]:
            top = None if grouped or len(up[v]) == 1 else _top(e, grad, edges, up, output)
            shares.append(Share(e.child, _factor(e, texts), grad[e.child], grad[e.child] * e.value, top))
        groups.append(Group(v, grad[v], shares))
    return Explanation(output, wrt, paths, grad[wrt], grouped, groups, count, max_paths, precision, names, g)


def _in_order(g: Graph, nodes: set[Value]) -> list[Value]:
    """``nodes`` in the graph's topological order (sorted when they are few, filtered when they are many)."""
    if len(nodes) * 8 < len(g.order):
        return sorted(nodes, key=g.index.__getitem__)
    return [v for v in g.order if v in nodes]


def _factor(e: FoldedEdge, texts: FoldedTexts) -> Factor:
    chain = e.chains[0] if len(e.chains) == 1 else (e.child, e.parent)
    return Factor(e.child, e.parent, e.value, chain, e.chains, e, texts)


def _paths(output: Value, wrt: Value, edges: dict[Value, list[FoldedEdge]], merge_sums: bool,
           texts: FoldedTexts) -> list[Path]:
    """Every path output -> wrt (the caller checked there are few), output side first."""
    paths = []
    stack: list[tuple[Value, tuple | None]] = [(output, None)]  # (node, linked list of the factors so far)
    while stack:
        v, link = stack.pop()
        if v is wrt:
            factors: list[Factor] = []
            while link is not None:
                factor, link = link
                factors.append(factor)
            factors.reverse()
            if merge_sums:
                factors = _merge_sums(factors)
            product = 1.0
            for f in factors:
                product *= f.value
            paths.append(Path(factors, product))
            continue
        for e in reversed(edges[v]):
            stack.append((e.parent, (_factor(e, texts), link)))
    return paths


def _is_pure_sum(f: Factor) -> bool:
    """A factor of exactly 1 made only of sum terms (``E_total = E_o1 + E_o2``: dE_total/dE_o1)."""
    if len(f.chains) != 1 or f.value != 1.0:
        return False
    chain = f.chains[0]
    for u, c in zip(chain, chain[1:]):
        if any(not is_one(u, i) for i, x in enumerate(u.inputs) if x is c):
            return False
        if sum(x is c for x in u.inputs) != 1:
            return False
    return True


def _merge_sums(factors: list[Factor]) -> list[Factor]:
    """Fold each pure-sum factor into the next one (the previous one at the end of a path)."""
    out: list[Factor] = []
    pending: Factor | None = None
    for i, f in enumerate(factors):
        if pending is not None:
            f, pending = _join(pending, f), None
        if i < len(factors) - 1 and _is_pure_sum(f):
            pending = f
        else:
            out.append(f)
    if len(out) > 1 and _is_pure_sum(out[-1]):
        out[-2:] = [_join(out[-2], out[-1])]
    return out


def _join(a: Factor, b: Factor) -> Factor:
    """a * b as one factor, where one of them is exactly 1 (so the value is the other's, exactly)."""
    one, other = (a, b) if _is_pure_sum(a) else (b, a)
    chains = tuple(x + y[1:] for x in a.chains for y in b.chains)
    chain = chains[0] if len(chains) == 1 else (a.child, b.parent)
    return Factor(a.child, b.parent, other.value * one.value, chain, chains, other.edge, other.texts)


def _top(e: FoldedEdge, grad: dict[Value, float], edges: dict, up: dict, output: Value) -> Value | None:
    """The node S with d output/d S == 1 whose only route to ``e.parent`` is through ``e`` (so the
    share is d S / d parent), climbing single-consumer nodes from ``e.child``; None if there is none."""
    c, n = e.child, e.parent
    if any(_reaches(f.parent, n, edges) for f in edges[c] if f.parent is not n):
        return None
    top, cur = None, c
    while True:
        if cur is not output and grad[cur] == 1.0:
            top = cur
        consumers = {f.child for f in up[cur]}
        if len(consumers) != 1:
            break
        (nxt,) = consumers
        if nxt is output or {f.parent for f in edges[nxt]} != {cur}:
            break
        cur = nxt
    return top


def _reaches(a: Value, b: Value, edges: dict[Value, list[FoldedEdge]]) -> bool:
    """True when ``b`` is ``a`` or below it, along ``edges`` (the folded edges between output and wrt)."""
    seen = {a}
    stack = [a]
    while stack:
        v = stack.pop()
        if v is b:
            return True
        for e in edges.get(v, ()):
            if e.parent not in seen:
                seen.add(e.parent)
                stack.append(e.parent)
    return False
