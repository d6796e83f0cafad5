"""Checking a hand-computed gradient: is it right, and if not, which chain-rule step went wrong.

``check(E_total, "w1", 0.000668396)`` compares the claim with the engine and, when they differ, tries
the classic mistakes on the explanation's chain rule (a path left out, a factor dropped, added or taken
at the wrong node, the sign, a factor 2) until one gives the claimed number.  Formula claims are parsed
with ``ast`` against a whitelist and evaluated on floats; nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING

from .core import ops
from .core.graph import Graph, as_graph
from .core.value import Value
from .explain import Explanation, Factor, Group, Share, explain
from .text import edge_formula, expression, format_number

if TYPE_CHECKING:
    from .stepping import Backprop, Step

KINDS = ("correct", "missing_paths", "extra_paths", "missing_factor", "extra_factor", "wrong_factor", "sign",
         "scale", "unknown")
MAX_EDGES = 400  # edges of the chain rule tried one by one (each level); beyond, the rest is not tried
MAX_SAME_OP = 32  # other nodes of the same op tried as "the derivative at the wrong node", per edge
MAX_SUBSET_SHARES = 8  # a merge with more consumers tries single shares left out or kept, not every subset
MAX_SUBSET_PATHS = 10  # explanations with at most this many paths also try every subset of paths
MAX_EXTRA = 64  # distinct factor values tried as an extra factor on every path
MAX_VARIANTS = 20_000  # mistaken totals tried per level of the explanation, at most
MAX_FINE_NODES = 5_000  # larger graphs are not tried node by node (explain(collapse=False) costs too much there)


# -- formulas ----------------------------------------------------------------------------------
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def _functions() -> dict[str, ops.Op]:
    """The callable names: every op of the table by its name, its Value method and its display name (ln)."""
    table: dict[str, ops.Op] = {}
    for op in ops.OPS.values():
        names = [op.name, getattr(op, "method", None)]
        shown = re.fullmatch(r"(\w+)\(\{x\}\)", op.show or "")
        names.append(shown.group(1) if shown else None)
        for name in names:
            if name and name.isidentifier() and not name.startswith("_"):  # not the operators' __add__
                table.setdefault(name, op)
    return table


class Formula:
    """A claim like ``"(out_o1 - target_o1) * out_o1 * (1 - out_o1) * out_h1"``, checked against a whitelist."""

    def __init__(self, text: str, labels: Mapping[str, float]) -> None:
        self.text = text
        self.labels = labels
        self.functions = _functions()
        source, self._aliases = _quote_labels(text, labels)
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as e:
            raise ValueError(f"check: cannot read the formula {text!r}: {e.msg}") from None
        except (RecursionError, MemoryError):
            raise ValueError(f"check: the formula {text!r} is nested too deeply") from None
        self.tree = tree.body
        self._validate()

    def _name(self, node: ast.Name) -> str:
        return self._aliases.get(node.id, node.id)

    def _refuse(self, what: str) -> ValueError:
        return ValueError(f"check: {what} is not allowed in a formula ({self.text!r}); use numbers, + - * / **,"
                          f" parentheses, calls to {', '.join(sorted(self.functions))} and the graph's labels:"
                          f" {self._label_list()}")

    def _label_list(self) -> str:
        return ", ".join(sorted(self.labels)) or "(none)"

    def _validate(self) -> None:
        stack: list[ast.AST] = [self.tree]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Constant):
                if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                    raise self._refuse(f"the constant {node.value!r}")
            elif isinstance(node, ast.Name):
                if self._name(node) not in self.labels:
                    what = " (a function: call it)" if node.id in self.functions else ""
                    raise ValueError(f"check: unknown name {self._name(node)!r}{what} in the formula {self.text!r}:"
                                     f" not a label of the graph; its labels: {self._label_list()}")
            elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
                stack += [node.left, node.right]
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
                stack.append(node.operand)
            elif isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
                    if isinstance(node.func, (ast.Name, ast.Attribute)):
                        raise self._refuse(f"calling {ast.unparse(node.func)}")
                    raise self._refuse(f"calling {_describe(node.func)}")
                if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                    raise self._refuse(f"keyword or * arguments in {node.func.id}(...)")
                stack += node.args
            else:
                raise self._refuse(_describe(node))

    def value(self, node: ast.AST | None = None) -> float:
        """The formula (or one of its subtrees) on the graph's values, with plain floats."""
        try:
            return self._eval(self.tree if node is None else node)
        except RecursionError:
            raise ValueError(f"check: the formula {self.text!r} is nested too deeply") from None

    def _eval(self, node: ast.AST) -> float:
        if isinstance(node, ast.Constant):
            return self._finite(float(node.value), node)
        if isinstance(node, ast.Name):
            return self.labels[self._name(node)]
        if isinstance(node, ast.UnaryOp):
            x = self._eval(node.operand)
            return -x if isinstance(node.op, ast.USub) else x
        if isinstance(node, ast.BinOp):
            x, y = self._eval(node.left), self._eval(node.right)
            try:
                if isinstance(node.op, ast.Add):
                    out = x + y
                elif isinstance(node.op, ast.Sub):
                    out = x - y
                elif isinstance(node.op, ast.Mult):
                    out = x * y
                elif isinstance(node.op, ast.Div):
                    out = x / y
                else:
                    out = x ** y
            except ZeroDivisionError:
                raise ValueError(f"check: division by zero in {self.text_of(node)} ({x!r}, {y!r})") from None
            except OverflowError:
                raise ValueError(f"check: {self.text_of(node)} is not finite: it overflows a float ({x!r},"
                                 f" {y!r})") from None
            if isinstance(out, complex):
                raise ValueError(f"check: {self.text_of(node)} has no real value ({x!r} ** {y!r})")
            return self._finite(out, node)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        op = self.functions[node.func.id]
        args = [self._eval(a) for a in node.args]
        want = (op.arity or None, op.param)
        if want[0] is not None and len(args) != want[0] + want[1]:
            raise ValueError(f"check: {node.func.id} takes {want[0] + want[1]} argument(s), got {len(args)} in"
                             f" {self.text_of(node)}")
        if not args:
            raise ValueError(f"check: {node.func.id} needs arguments in {self.text_of(node)}")
        try:
            out = op.fn(args)[0] if not op.arity else op.fn(*args)[0]
        except ops.DomainError as e:
            raise ValueError(f"check: {op.name}: {e.reason}, got {', '.join(map(repr, args))} in"
                             f" {self.text_of(node)}") from None
        except (ZeroDivisionError, OverflowError, ValueError) as e:
            raise ValueError(f"check: {op.name}: {e} in {self.text_of(node)}") from None
        return self._finite(out, node)

    def _finite(self, x: float, node: ast.AST) -> float:
        if not math.isfinite(x):
            raise ValueError(f"check: {self.text_of(node)} is not finite ({x!r})")
        return x

    def text_of(self, node: ast.AST) -> str:
        """A subtree as the user wrote it (labels restored)."""
        text = ast.unparse(node)
        for alias, label in self._aliases.items():
            text = text.replace(alias, label)
        return text


def _describe(node: ast.AST) -> str:
    what = {ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "a lambda",
            ast.Compare: "a comparison", ast.BoolOp: "and/or", ast.IfExp: "if/else", ast.NamedExpr: ":=",
            ast.JoinedStr: "an f-string", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
            ast.Set: "a set", ast.ListComp: "a comprehension", ast.GeneratorExp: "a generator",
            ast.Starred: "*", ast.Await: "await", ast.Yield: "yield"}.get(type(node))
    if what is None and isinstance(node, (ast.BinOp, ast.UnaryOp)):
        what = f"the operator {type(node.op).__name__}"
    return f"{what or type(node).__name__} ({ast.unparse(node)!r})"


def _quote_labels(text: str, labels: Iterable[str]) -> tuple[str, dict[str, str]]:
    """Labels that are not Python names (``W[1][0,1]``) replaced by fresh names, so that they parse as names."""
    aliases: dict[str, str] = {}
    odd = sorted((s for s in labels if not s.isidentifier() and s in text), key=len, reverse=True)
    for k, label in enumerate(odd):
        alias = f"_label{k}_"
        while alias in text:
            alias = "_" + alias
        text = text.replace(label, alias)
        aliases[alias] = label
    return text, aliases


# -- the verdict -------------------------------------------------------------------------------
@dataclass
class Verdict:
    """The result of ``check``: ``ok``, the engine's ``value``, the ``claimed`` number, ``kind`` and ``detail``."""

    ok: bool
    value: float
    claimed: float
    kind: str
    detail: str
    output: str = ""  # name of the output
    wrt: str = ""  # name of the node
    formula: str | None = None  # the claim's text when it was a formula
    comparison: list[str] = field(default_factory=list)  # a formula compared factor by factor
    alternatives: list[str] = field(default_factory=list)  # other mistakes that give the same number
    tried: str = ""  # what the diagnosis tried
    derivation: str = field(default="", repr=False)  # the right derivation (explain's text)
    rtol: float = 1e-3

    def __repr__(self) -> str:
        return (f"Verdict(ok={self.ok}, kind={self.kind!r}, value={format_number(self.value)},"
                f" claimed={format_number(self.claimed)})")

    @property
    def head(self) -> str:
        """``dE_total/dw1``."""
        return f"d{self.output}/d{self.wrt}"

    def _lines(self) -> tuple[str, list[str], list[str]]:
        claim = format_number(self.claimed)
        if self.formula is not None:
            claim = f"{self.formula} = {claim}"
        if self.ok:
            title = f"{self.head} = {format_number(self.value)}: your {claim} is correct"
        else:
            title = f"{self.head} = {format_number(self.value)}, not {claim}: {self.kind.replace('_', ' ')}"
        notes = [self.detail]
        notes += [f"(the same number also comes from: {a})" for a in self.alternatives]
        if self.tried and self.kind == "unknown":
            notes.append(f"tried: {self.tried}")
        return title, notes, self.comparison

    def __str__(self) -> str:
        title, notes, comparison = self._lines()
        lines = [title, *(f"  {n}" for n in notes)]
        if comparison:
            lines.append("  your formula, factor by factor:")
            lines += [f"    {c}" for c in comparison]
        if not self.ok and self.derivation:
            lines.append("  the right derivation:")
            lines += [f"    {line}" for line in self.derivation.splitlines()]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        title, notes, comparison = self._lines()
        mark = "✓" if self.ok else "✗"
        out = [f"**{mark} {_md(title)}**", "", *(f"- {_md(n)}" for n in notes)]
        if comparison:
            out += ["", "Your formula, factor by factor:", "", *(f"- {_md(c)}" for c in comparison)]
        if not self.ok and self.derivation:
            out += ["", "The right derivation:", "", "```", self.derivation, "```"]
        return "\n".join(out)


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


# -- check ---------------------------------------------------------------------------------------
def check(output: Value | Graph, wrt: Value | str, claimed: float | str, *, rtol: float = 1e-3) -> Verdict:
    """Compare a hand-computed d output / d wrt (a number, or a formula in the graph's labels) with the
    engine (``output``: a Value or a Graph); when they differ, say which chain-rule step gives the claimed
    number. Gradients are not touched."""
    g = as_graph(output, "check")
    return _check(g, _node(g, wrt), claimed, rtol)


def _check(g: Graph, wrt: Value, claimed: float | str, rtol: float) -> Verdict:
    output, order = g.root, g.order
    if wrt not in g:
        top = output.label if output.label is not None else "the output"
        who = wrt.label if wrt.label is not None else repr(wrt)
        raise ValueError(f"check: {who} is not in the graph of {top} ({top} does not depend on it)")
    formula = None
    if isinstance(claimed, str) and _is_number(claimed.strip()):
        claimed = float(claimed)
    if isinstance(claimed, str):
        formula = Formula(claimed, _labels(order))
        number = formula.value()
    elif isinstance(claimed, bool) or not isinstance(claimed, (int, float)):
        raise TypeError(f"check: the claim must be a number or a formula string, got {type(claimed).__name__}")
    else:
        number = float(claimed)
        if not math.isfinite(number):
            raise ValueError(f"check: the claim must be finite, got {claimed!r}")
    if not rtol >= 0.0:
        raise ValueError(f"check: rtol must be >= 0, got {rtol!r}")
    levels = [explain(g, wrt, collapse=True)]
    e = levels[0]
    verdict = Verdict(False, e.total, number, "unknown", "", e.names[output], e.names[wrt],
                      formula.text if formula else None, rtol=rtol, derivation=str(e))
    if formula is not None:
        try:
            verdict.comparison = _compare(formula, e, rtol)
        except (RecursionError, ValueError):  # a formula too deep to print back, or a part outside a domain
            verdict.comparison = []
    if _close(number, e.total, rtol):
        verdict.ok, verdict.kind = True, "correct"
        verdict.detail = f"it agrees with the engine's {format_number(e.total)} within rtol={rtol:g}."
        return verdict
    folded = any(len(s.factor.chain) > 2 or len(s.factor.chains) != 1 for g in e.groups for s in g.shares)
    fine = folded and len(order) <= MAX_FINE_NODES  # folded factors hold chains: try every node's derivative too
    if fine:
        levels.append(explain(g, wrt, collapse=False, max_paths=levels[0].max_paths))
    upstream = g.gradients()
    same_op: dict[str, list[Value]] = {}
    for v in order:
        if v.op and len(same_op.setdefault(v.op, [])) < MAX_SAME_OP:
            same_op[v.op].append(v)
    found: list[tuple[int, int, int, str, Callable[[], str]]] = []  # (level, kind's rank, order, kind, text)
    tried: list[str] = []
    for level, ex in enumerate(levels):
        variants = _Variants(ex, upstream, same_op, level)
        for priority, (kind, value, describe) in enumerate(variants):
            if _close(number, value, rtol) and not _close(value, ex.total, rtol):
                found.append((level, _PRIORITY[kind], priority, kind, describe))
        tried.append(variants.summary())
    if folded and not fine:
        tried.append(f"not node by node (the graph has {len(order)} nodes, more than {MAX_FINE_NODES})")
    verdict.tried = "; ".join(tried)
    if not found:
        verdict.detail = (f"none of the usual mistakes gives {format_number(number)} (the engine has"
                          f" {format_number(e.total)}); compare your steps with the derivation below.")
        return verdict
    found.sort(key=lambda t: t[:3])
    verdict.kind = found[0][3]
    verdict.detail = found[0][4]()
    seen = {verdict.detail}
    for *_, kind, describe in found[1:]:
        text = describe()
        if kind != verdict.kind and text not in seen and len(verdict.alternatives) < 2:
            seen.add(text)
            verdict.alternatives.append(f"{kind}: {text}")
    return verdict


_PRIORITY = {"sign": 0, "missing_paths": 1, "scale": 2, "missing_factor": 3, "wrong_factor": 4, "extra_factor": 5,
             "extra_paths": 6}


def _close(a: float, b: float, rtol: float) -> bool:
    """Within ``rtol`` of each other; next to an exact 0, within 1e-12 (a hand sum that cancels leaves dust)."""
    if a == 0.0 or b == 0.0:
        return abs(a - b) <= 1e-12
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def _labels(order: Sequence[Value]) -> dict[str, float]:
    """label -> value for the graph's labeled nodes; a label on nodes of different values is left out."""
    labels: dict[str, float] = {}
    clash: set[str] = set()
    for v in order:
        if v.label is None:
            continue
        name = str(v.label)
        if name in labels and labels[name] != v.data:
            clash.add(name)
        labels.setdefault(name, v.data)
    for name in clash:
        del labels[name]
    return labels


def _node(g: Graph, wrt: Value | str) -> Value:
    if isinstance(wrt, Value):
        return wrt
    if not isinstance(wrt, str):
        raise TypeError(f"check: wrt must be a Value or a label, got {type(wrt).__name__}")
    hits = list(dict.fromkeys(v for v in g.order if v.label == wrt))
    if len(hits) == 1:
        return hits[0]
    top = g.root.label if g.root.label is not None else "the output"
    if hits:
        raise ValueError(f"check: {len(hits)} nodes are labeled {wrt!r} in the graph of {top}; pass the Value")
    labels = sorted({str(v.label) for v in g.order if v.label is not None})
    raise ValueError(f"check: no node labeled {wrt!r} in the graph of {top}; its labels: {', '.join(labels)}")


# -- the mistakes tried --------------------------------------------------------------------------
@dataclass
class _Edge:
    share: Share
    node: Value  # the input side (the share's node)

    @property
    def factor(self) -> Factor:
        return self.share.factor


class _Variants:
    """The mistaken totals one mistake on explanation ``ex`` gives, with a description for each."""

    def __init__(self, ex: Explanation, upstream: dict[Value, float], same_op: dict[str, list[Value]],
                 level: int) -> None:
        self.ex, self.upstream, self.same_op, self.level = ex, upstream, same_op, level
        self.n = ex.names
        self.total = ex.total
        self.down = {ex.wrt: 1.0}  # d node / d wrt along the explanation's edges
        for g in reversed(ex.groups):
            for s in g.shares:
                self.down[s.consumer] = self.down.get(s.consumer, 0.0) + s.factor.value * self.down[g.node]
        edges = [_Edge(s, g.node) for g in ex.groups for s in g.shares]
        self.edge_count = len(edges)
        self.edges = edges[:MAX_EDGES]
        self.counts: dict[str, int] = {}

    def summary(self) -> str:
        kept = "" if self.edge_count <= MAX_EDGES else f" (the first {MAX_EDGES} of {self.edge_count} edges)"
        if sum(self.counts.values()) >= MAX_VARIANTS:
            kept += f" (stopped at {MAX_VARIANTS} variants)"
        what = "the hand derivation's factors" if self.level == 0 else "every node's local derivative"
        if self.ex.grouped:
            kept += f" (more than {self.ex.max_paths} paths: tried per node and edge, not per path)"
        counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in self.counts.items())
        return f"on {what}{kept}: {counts}"

    def __iter__(self) -> Iterator[tuple[str, float, Callable[[], str]]]:
        for n, item in enumerate(self._all(), 1):
            self.counts[item[0]] = self.counts.get(item[0], 0) + 1
            yield item
            if n >= MAX_VARIANTS:
                return

    # -- text helpers
    def d(self, a: Value, b: Value) -> str:
        return f"d{self.n[a]}/d{self.n[b]}"

    def num(self, x: float) -> str:
        return format_number(x)

    def name(self, v: Value) -> str:
        """A node's name; an unlabeled one also with what it computes (``sub#2 = z2 - logsumexp#1``)."""
        if v.label is None and v.inputs:
            return f"{self.n[v]} = {expression(v, self.n)}"
        return self.n[v]

    def factor_text(self, f: Factor) -> str:
        """``dout_o1/dnet_o1 = sigmoid(net_o1) (1 - sigmoid(net_o1)) = out_o1 * (1 - out_o1) = 0.186815602``."""
        parts = [self.d(f.child, f.parent)]
        formula = f.formula
        if len(f.chain) == 2 and len(f.chains) == 1:
            filled = edge_formula(f.child, f.parent, self.n)
            formula = filled if _is_number(f.formula) or filled != f.formula else f.formula
            by_value = _in_values(f.child, f.parent, self.n)
            if by_value and by_value not in (formula, f.formula):
                formula = f"{formula} = {by_value}"
        if formula and formula != self.num(f.value):
            parts.append(formula)
        parts.append(self.num(f.value))
        text = " = ".join(parts)
        op = ops.OPS.get(f.child.op)
        if len(f.chain) == 2 and op is not None and op.arity == 1:
            text += f", the {op.name}'s derivative"
        return text

    def share_text(self, s: Share, node: Value) -> str:
        """``dE_o2/dout_h1 = -0.019049118`` (or ``dE_total/dnet_o2 * dnet_o2/dout_h1 = ...``)."""
        if s.top is not None:
            return f"{self.d(s.top, node)} = {self.num(s.value)}"
        if s.consumer is self.ex.output:
            return f"{self.d(s.consumer, node)} = {self.num(s.value)}"
        return (f"{self.d(self.ex.output, s.consumer)} * {self.d(s.consumer, node)} = {self.num(s.upstream)} *"
                f" {self.num(s.factor.value)} = {self.num(s.value)}")

    def where(self, e: _Edge) -> str:
        count = sum(1 for p in self.ex.paths if any(f.child is e.factor.child and f.parent is e.factor.parent
                                                     for f in p.factors))
        if self.ex.grouped or not self.ex.paths:
            return f"on every path through {self.n[e.factor.child]}"
        if count == len(self.ex.paths):
            return "on every path" if count > 1 else "on the path"
        return f"on the path{'s' if count > 1 else ''} through {self.n[e.factor.child]}"

    # -- the variants, most common mistakes first
    def _all(self) -> Iterator[tuple[str, float, Callable[[], str]]]:
        total, head = self.total, self.d(self.ex.output, self.ex.wrt)
        yield "sign", -total, lambda: (
            f"you have the sign wrong: {head} = {self.num(total)}. Check the factors with a minus sign"
            f"{self._negatives() or ' (a common slip: target - out where the derivative has out - target)'}.")
        yield "scale", 2.0 * total, lambda: (
            f"you have twice {head}: a factor 2 too many (differentiating 1/2 (target - out)^2 keeps no 2;"
            f" or a sum where the loss is a half-sum or a mean).")
        yield "scale", 0.5 * total, lambda: (
            f"you have half of {head}: a factor 1/2 too many (the derivative of x^2 is 2x; or a half-sum or"
            f" mean where the loss is a sum).")
        yield from self._missing_paths()
        for e in self.edges:
            yield from self._factor_mistakes(e)
        for e in self.edges:
            yield from self._wrong_nodes(e)
        yield from self._extra_factors()
        yield from self._extra_paths()
        yield from self._path_subsets()

    def _negatives(self) -> str:
        fs = [f for f in (self.ex.factors() or [e.factor for e in self.edges]) if f.value < 0][:3]
        return ": " + "; ".join(self.factor_text(f) for f in fs) if fs else ""

    def contribution(self, e: _Edge) -> float:
        return e.share.upstream * e.factor.value * self.down[e.node]

    def with_factor(self, e: _Edge, value: float) -> float:
        return self.total + e.share.upstream * (value - e.factor.value) * self.down[e.node]

    def _missing_paths(self) -> Iterator[tuple[str, float, Callable[[], str]]]:
        for g in self.ex.groups:
            k = len(g.shares)
            if k < 2:
                continue
            sizes = range(1, k) if k <= MAX_SUBSET_SHARES else (1, k - 1)
            for size in sizes:
                for left_out in combinations(range(k), size):
                    kept = [s for i, s in enumerate(g.shares) if i not in left_out]
                    missing = [g.shares[i] for i in left_out]
                    value = sum(s.value for s in kept) * self.down[g.node]
                    yield "missing_paths", value, self._describe_missing(g, kept, missing)
        for e in self.edges:  # one node using its input several times (x * x): one term per use
            f = e.factor
            if len(f.chain) != 2 or len(f.chains) != 1:
                continue
            uses = [loc for x, loc in zip(f.child.inputs, f.child.local_grads) if x is f.parent]
            n = len(uses)
            if 1 < n <= MAX_SUBSET_SHARES:
                for size in range(1, n):
                    for kept in combinations(range(len(uses)), size):
                        inside = sum(uses[i] for i in kept)
                        yield "missing_paths", self.with_factor(e, inside), lambda e=e, n=n, k=size: (
                            f"{self.n[e.factor.child]} = {expression(e.factor.child, self.n)} uses"
                            f" {self.n[e.factor.parent]} {n} times, and each use adds a term:"
                            f" {self.factor_text(e.factor)}; you counted {k} of them.")
        for e in self.edges:  # the real chains summed inside one folded factor
            chains = e.factor.chains
            if 1 < len(chains) <= MAX_SUBSET_SHARES:
                values = [_chain_value(c) for c in chains]
                for size in range(1, len(chains)):
                    for left_out in combinations(range(len(chains)), size):
                        inside = sum(v for i, v in enumerate(values) if i not in left_out)
                        yield ("missing_paths", self.with_factor(e, inside),
                               self._describe_chains(e, chains, values, left_out))

    def _describe_missing(self, g: Group, kept: list[Share], missing: list[Share]) -> Callable[[], str]:
        def text() -> str:
            node = self.n[g.node]
            through = " and ".join(self._via(s) for s in kept)
            also = "; ".join(f"{self.share_text(s, g.node)} {self._via(s)}" for s in missing)
            parts = " + ".join(self.d(s.top, g.node) if s.top is not None else
                               f"{self.d(self.ex.output, s.consumer)} * {self.d(s.consumer, g.node)}"
                               for s in g.shares)
            return (f"you counted the path{'s' if len(kept) > 1 else ''} {through} only; {node} also"
                    f" receives {also}. All of them add up: {self.d(self.ex.output, g.node)} = {parts}"
                    f" = {self.num(g.grad)}.")
        return text

    def _via(self, s: Share) -> str:
        """``from E_o2 through net_o2``: where a share comes from."""
        through = f"through {self.name(s.consumer)}"
        return through if s.top is None else f"from {self.n[s.top]} {through}"

    def _describe_chains(self, e: _Edge, chains, values, left_out) -> Callable[[], str]:
        def text() -> str:
            f = e.factor
            route = lambda c: " -> ".join(self.n[v] for v in reversed(c))  # noqa: E731
            kept = [i for i in range(len(chains)) if i not in left_out]
            counted = "; ".join(f"{route(chains[i])} ({self.num(values[i])})" for i in kept)
            missing = "; ".join(f"{route(chains[i])}, giving {self.num(values[i])}" for i in left_out)
            lost = sum(values[i] for i in left_out) * e.share.upstream * self.down[e.node]
            inner = dict.fromkeys(v for i in range(len(chains)) for v in chains[i][1:-1] if v.label is None)
            where = f" (where {', '.join(self.name(v) for v in inner)})" if inner else ""
            return (f"{self.d(f.child, f.parent)} = {self.num(f.value)} sums {len(chains)} routes from"
                    f" {self.n[f.parent]} to {self.n[f.child]}; you counted only {counted}. Missing: {missing},"
                    f" which adds {self.num(lost)} to {self.d(self.ex.output, self.ex.wrt)}{where}.")
        return text

    def _factor_mistakes(self, e: _Edge) -> Iterator[tuple[str, float, Callable[[], str]]]:
        f = e.factor
        whole = f.child is self.ex.output and f.parent is self.ex.wrt  # leaving it out leaves nothing
        if f.value != 1.0 and not whole:
            yield "missing_factor", self.with_factor(e, 1.0), lambda: (
                f"you left out {self.factor_text(f)} ({self.where(e)}).")
            yield "extra_factor", self.with_factor(e, f.value * f.value), lambda: (
                f"you multiplied by {self.factor_text(f)} twice ({self.where(e)}).")
        for v in dict.fromkeys((f.child, f.parent)):
            if v.data != f.value:
                yield "wrong_factor", self.with_factor(e, v.data), lambda v=v: (
                    f"you used {self.n[v]} = {self.num(v.data)}, the node's value instead of its derivative,"
                    f" in place of {self.factor_text(f)} ({self.where(e)}).")

    def _wrong_nodes(self, e: _Edge) -> Iterator[tuple[str, float, Callable[[], str]]]:
        f = e.factor
        if len(f.chain) != 2 or len(f.chains) != 1:
            return
        child, parent = f.child, f.parent
        positions = [i for i, x in enumerate(child.inputs) if x is parent]
        for j, other in enumerate(child.inputs):  # d child / d another input of the same node
            if j in positions or other in child.inputs[:j]:
                continue
            value = sum(loc for x, loc in zip(child.inputs, child.local_grads) if x is other)
            if value != f.value:
                yield "wrong_factor", self.with_factor(e, value), lambda other=other, value=value: (
                    f"you used {self.d(child, other)} = {self.num(value)}, the derivative with respect to the"
                    f" wrong input ({self._short(other)} instead of {self.n[parent]}), in place of"
                    f" {self.factor_text(f)}.")
        for u in self.same_op.get(child.op, ()):  # the same derivative taken at another node of the op
            if u is child or len(u.inputs) != len(child.inputs):
                continue
            value = sum(u.local_grads[i] for i in positions)
            if value == f.value:
                continue
            at = u.inputs[positions[0]]
            yield "wrong_factor", self.with_factor(e, value), lambda u=u, at=at, value=value: (
                f"you used d{self._short(u)}/d{self._short(at)} = {self.num(value)}, the same derivative taken"
                f" at the wrong node ({self._short(u)} instead of {self.n[child]}), in place of"
                f" {self.factor_text(f)}.")

    def _short(self, v: Value) -> str:
        """The name of a node that may lie outside the explanation (then its label, or its number)."""
        if v in self.n:
            return self.n[v]
        return str(v.label) if v.label is not None else format_number(v.data) if not v.inputs else v.op

    def _extra_factors(self) -> Iterator[tuple[str, float, Callable[[], str]]]:
        distinct: dict[float, Factor] = {}
        for e in self.edges:
            if e.factor.value not in (0.0, 1.0, -1.0) and len(distinct) < MAX_EXTRA:
                distinct.setdefault(e.factor.value, e.factor)
        for value, f in distinct.items():
            yield "extra_factor", self.total * value, lambda f=f: (
                f"your result has an extra factor {self.factor_text(f)}: it belongs to"
                f" {self.d(f.child, f.parent)}, not to {self.d(self.ex.output, self.ex.wrt)} as a whole.")

    def _extra_paths(self) -> Iterator[tuple[str, float, Callable[[], str]]]:
        for g in self.ex.groups:
            if len(g.shares) < 2:
                continue
            for s in g.shares:
                yield "extra_paths", self.total + s.value * self.down[g.node], lambda g=g, s=s: (
                    f"you counted the share {self.share_text(s, g.node)} {self._via(s)} twice; each"
                    f" path adds once: {self.d(self.ex.output, g.node)} = {self.num(g.grad)}.")
        relevant = set(self.down)
        for e in self.edges:  # a path through a sibling node that does not depend on wrt
            child = e.factor.child
            for c in self.same_op.get(child.op, ()):
                if c is child or c in relevant or not self.upstream.get(c) or not _related(c, child):
                    continue
                extra = self.upstream[c] * e.factor.value * self.down[e.node]
                yield "extra_paths", self.total + extra, lambda c=c, e=e, extra=extra: (
                    f"you also counted a path through {self.name(c)} (adding {self.num(extra)}), but"
                    f" {self.n[self.ex.wrt]} does not reach {self.n[c]}: {self.n[e.node]} feeds"
                    f" {self.n[e.factor.child]} only.")

    def _path_subsets(self) -> Iterator[tuple[str, float, Callable[[], str]]]:
        paths = self.ex.paths
        if self.ex.grouped or not 2 < len(paths) <= MAX_SUBSET_PATHS:
            return  # two paths: the merge above says it already
        for size in range(1, len(paths)):
            for kept in combinations(range(len(paths)), size):
                value = sum(paths[i].product for i in kept)
                yield "missing_paths", value, lambda kept=kept: self._describe_paths(kept)

    def _describe_paths(self, kept: tuple[int, ...]) -> str:
        paths = self.ex.paths
        nodes = [{f.child for f in p.factors} for p in paths]
        inside = set().union(*(nodes[i] for i in kept))
        missing = [i for i in range(len(paths)) if i not in kept]
        def through(i: int, other: set[Value]) -> str:
            own = [self.n[v] for v in (f.child for f in paths[i].factors) if v not in other]
            return f"path {i + 1}" + (f" (through {', '.join(own)})" if own else "")
        outside = set().union(*(nodes[i] for i in missing))
        counted = ", ".join(through(i, outside) for i in kept)
        lost = "; ".join(f"{through(i, inside)} = {self.num(paths[i].product)}" for i in missing)
        return f"you counted {counted} only; missing: {lost}."


def _related(a: Value, b: Value) -> bool:
    """True when ``a`` and ``b`` share an input that is not a bare constant (net_o1 and net_o2: out_h1)."""
    mine = {x for x in b.inputs if x.inputs or x.label is not None}
    return any(x in mine for x in a.inputs)


def _chain_value(chain: tuple[Value, ...]) -> float:
    value = 1.0
    for u, c in zip(chain, chain[1:]):
        value *= sum(loc for x, loc in zip(u.inputs, u.local_grads) if x is c)
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _in_values(child: Value, parent: Value, names: dict[Value, str]) -> str:
    """The local derivative in terms of the node's own value when the op writes it so (``out_o1 * (1 - out_o1)``)."""
    op = ops.OPS.get(child.op)
    if op is None or op.arity != 1 or op.param:
        return ""
    expr = op.local[0]
    if not re.search(r"\bout\b", expr) or re.search(r"\b[xy]\b", expr) or re.fullmatch(r"\s*out\s*", expr):
        return ""
    text = re.sub(r"\bout\b", names[child], expr)
    return re.sub(r"\b(\d+)\.0\b", r"\1", text)


# -- a formula, factor by factor -----------------------------------------------------------------
def _terms(node: ast.AST, sign: float = 1.0) -> list[tuple[float, ast.AST]]:
    stack, out = [(sign, node)], []
    while stack:
        s, n = stack.pop()
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub)):
            stack.append((s if isinstance(n.op, ast.Add) else -s, n.right))
            stack.append((s, n.left))
        else:
            out.append((s, n))
    return out


def _factors(node: ast.AST) -> list[tuple[ast.AST, bool]]:
    """The top-level factors of a product, in order, with True for a divisor."""
    out: list[tuple[ast.AST, bool]] = []
    stack: list[tuple[ast.AST, bool]] = [(node, False)]
    while stack:
        n, inverse = stack.pop()
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div)):
            stack.append((n.right, inverse != isinstance(n.op, ast.Div)))
            stack.append((n.left, inverse))
        else:
            out.append((n, inverse))
    return out


def _compare(formula: Formula, ex: Explanation, rtol: float) -> list[str]:
    """Each term of the claim against a path, each factor (or run of factors) against a chain-rule factor."""
    num = format_number
    d = lambda a, b: f"d{ex.names[a]}/d{ex.names[b]}"  # noqa: E731
    known: list[tuple[str, float]] = []
    for f in ex.factors():
        known.append((d(f.child, f.parent), f.value))
    for g in ex.groups:
        known.append((d(ex.output, g.node), g.grad))
        for s in g.shares:
            if s.top is not None:
                known.append((d(s.top, g.node), s.value))
    terms = _terms(formula.tree)
    lines: list[str] = []
    used: set[str] = set()
    if len(terms) > 1 and not ex.grouped and len(ex.paths) > 1:
        for k, (sign, t) in enumerate(terms, 1):
            v = sign * formula.value(t)
            hit = next((i for i, p in enumerate(ex.paths, 1) if _close(v, p.product, rtol)), None)
            text = ("-" if sign < 0 else "") + formula.text_of(t)
            where = f"path {hit}" if hit is not None else "no path of the derivation"
            lines.append(f"term {k}: {text} = {num(v)}: {where}")
            if hit is not None:
                used.add(f"path {hit}")
        lines += [f"no term for path {i} = {num(p.product)}" for i, p in enumerate(ex.paths, 1)
                  if f"path {i}" not in used and len(ex.paths) > 1]
        return lines
    if len(terms) > 1:
        return lines
    pieces = _factors(terms[0][1])
    values = [formula.value(n) for n, _ in pieces]
    values = [1.0 / v if inv and v != 0.0 else v for v, (_, inv) in zip(values, pieces)]
    if terms[0][0] < 0:
        values[0] = -values[0]
    factors = [(d(f.child, f.parent), f.value) for f in ex.factors() if f.value != 1.0]
    i, matched, coarse = 0, set(), False
    while i < len(pieces):
        runs = range(i + 1, len(pieces) + 1)
        hit = next(((j, name) for j in runs for name, v in factors
                    if _close(math.prod(values[i:j]), v, rtol)), None)  # the shortest run that is a factor
        if hit is None:
            hit = next(((j, f"-{name} ✗ (the sign)") for j in runs for name, v in factors
                        if _close(-math.prod(values[i:j]), v, rtol)), None)
        if hit is None and len(pieces) > 1:  # else the longest one that is a gradient on the way (a delta)
            hit = next(((j, name) for j in reversed(runs) if j - i < len(pieces) for name, v in known
                        if v != 1.0 and _close(math.prod(values[i:j]), v, rtol)), None)
            coarse |= hit is not None
        j, name = hit if hit is not None else (i + 1, None)
        text = " * ".join(("1/" if inv else "") + _paren(formula.text_of(n), n) for n, inv in pieces[i:j])
        mark = "" if name is None or name.endswith(")") else " ✓"
        lines.append(f"{text} = {num(math.prod(values[i:j]))}: {name or 'matches no chain-rule factor'}{mark}")
        if name:
            matched.add(name.split(" ")[0].lstrip("-"))
        i = j
    if not ex.grouped and len(ex.paths) == 1 and not coarse:
        lines += [f"missing: {d(f.child, f.parent)} = {num(f.value)}" for f in ex.paths[0].factors
                  if d(f.child, f.parent) not in matched and f.value != 1.0]
    return lines


def _paren(text: str, node: ast.AST) -> str:
    return f"({text})" if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)) else text


# -- several at once -----------------------------------------------------------------------------
@dataclass
class Report:
    """The verdicts of ``check_all``; ``str()`` (and the repr) is a table, then the diagnosis of each wrong claim."""

    verdicts: list[Verdict]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    def __iter__(self) -> Iterator[Verdict]:
        return iter(self.verdicts)

    def __len__(self) -> int:
        return len(self.verdicts)

    def __getitem__(self, i: int) -> Verdict:
        return self.verdicts[i]

    def __repr__(self) -> str:  # the table, so that check_all(...) at the prompt shows it
        return str(self)

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        return [(v.head, format_number(v.claimed), format_number(v.value), "✓" if v.ok else "✗", v.kind)
                for v in self.verdicts]

    def __str__(self) -> str:
        head = ("gradient", "claimed", "engine", "", "verdict")
        rows = [head, *self._rows()]
        widths = [max(len(r[k]) for r in rows) for k in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        for v in self.verdicts:
            if not v.ok:
                lines += ["", f"{v.head}: {v.detail}"]
                lines += [f"  (also: {a})" for a in v.alternatives]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        out = ["| gradient | claimed | engine | | verdict |", "|---|---|---|---|---|"]
        out += [f"| {_md(r[0])} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |" for r in self._rows()]
        out += [f"\n- **{_md(v.head)}**: {_md(v.detail)}" for v in self.verdicts if not v.ok]
        return "\n".join(out)


def check_all(output: Value | Graph, claims: Mapping[Value | str, float | str], *, rtol: float = 1e-3) -> Report:
    """``check`` for each ``wrt: claim`` of ``claims`` (one Graph for them all); the report's ``str()`` is a table."""
    g = as_graph(output, "check_all")
    return Report([_check(g, _node(g, wrt), claim, rtol) for wrt, claim in claims.items()])


# -- quiz ------------------------------------------------------------------------------------------
@dataclass
class QuizResult:
    """What the quiz asked and what came back: ``(node name, answer, verdict or None when skipped)``."""

    answers: list[tuple[str, str, Verdict | None]] = field(default_factory=list)
    finished: bool = False  # every step was taken

    @property
    def correct(self) -> int:
        """How many answers were right."""
        return sum(1 for _, _, v in self.answers if v is not None and v.ok)

    @property
    def asked(self) -> int:
        """How many answers were checked (shown steps not counted)."""
        return sum(1 for _, _, v in self.answers if v is not None)

    def __str__(self) -> str:
        shown = len(self.answers) - self.asked
        end = (f", {shown} shown" if shown else "") + ("" if self.finished else "; stopped early")
        return f"{self.correct}/{self.asked} correct{end}"

    __repr__ = __str__


def quiz(backprop: Backprop, answers: Sequence[str | float] | None = None, *,
         input: Callable[[str], str] = input, output: Callable[[str], object] = print,
         every: bool = False, rtol: float = 1e-3) -> QuizResult:
    """Step ``backprop`` asking, at each labeled node (``every=True``: each node), for d root / d node; a wrong
    answer gets its diagnosis and the right step. ``answers`` replaces ``input``; empty: show it, q: quit."""
    root = backprop.root
    feed = iter(answers) if answers is not None else None
    result = QuizResult()

    def ask(prompt: str) -> str:
        if feed is None:
            return input(prompt)
        try:
            answer = str(next(feed))
        except StopIteration:
            raise EOFError from None
        output(f"{prompt}{answer}")
        return answer

    top = backprop.names[root]
    output(f"quiz: the backward pass of {top}, {len(backprop.order)} steps. Type d{top}/dNODE as a number or a"
           f" formula in the labels (Enter: show it, q: quit).")
    if backprop.grad != 1.0:
        output(f"(the pass starts from grad {format_number(backprop.grad)}; the quiz asks for d{top}/dNODE itself)")
    def pose(v: Value, index: int, taken: Step | None = None) -> Step | None:
        """Ask for d root / d v, then take the step (or show ``taken``, a leaf's last push); None: quit."""
        name = backprop.names[v]
        while True:
            answer = ask(f"step {index}/{len(backprop.order)}: d{top}/d{name} = ").strip()
            if answer.lower() in ("q", "quit", "exit"):
                output(f"stopped: {result}")
                return None
            if not answer:
                verdict = None
                break
            try:
                verdict = _check(backprop.graph, v, answer, rtol)
            except ValueError as e:
                output(f"  {e}")
                continue
            break
        result.answers.append((name, answer, verdict))
        step = taken or backprop.step()
        if verdict is None:
            output(str(step))
        elif verdict.ok:
            output(f"  ✓ d{top}/d{name} = {format_number(verdict.value)}")
        else:
            output(f"  ✗ {verdict.kind.replace('_', ' ')}: {verdict.detail}")
            if verdict.kind == "unknown":
                output("\n".join(f"  {line}" for line in verdict.derivation.splitlines()))
            output("  the right step:")
            output("\n".join(f"  {line}" for line in str(step).splitlines()))
        return step

    try:
        while not backprop.done:
            v = backprop.current
            if v is root or (not every and v.label is None):
                step = backprop.step()
            else:
                step = pose(v, backprop.position + 1)
                if step is None:
                    return result
            for t in step.terms:  # a leaf is not a step: ask for it where its last push made it final
                if t.final and not t.input.inputs and (every or t.input.label is not None):
                    if pose(t.input, backprop.position, step) is None:
                        return result
    except (EOFError, KeyboardInterrupt):
        output("")
        output(f"stopped: {result}")
        return result
    result.finished = True
    output(f"done: {result}")
    return result
