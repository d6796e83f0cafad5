"""Stepping through backward(): one node at a time, each push to an input written out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .core.graph import Graph, as_graph
from .core.value import Number, Value, to_float
from .text import (
    expression,
    expression_tex,
    format_number,
    markdown_code,
    markdown_text,
    term_formula,
    term_tex,
    tex_name,
    tex_number,
)

if TYPE_CHECKING:
    import graphviz

    from .check import QuizResult


@dataclass(frozen=True)
class Term:
    """One push of a step: ``input.grad += local * grad``."""

    input: Value
    local: float  # d node / d input
    contribution: float  # local * the node's gradient
    before: float  # input.grad before the push
    after: float  # input.grad after the push
    node: Value | None = field(default=None, repr=False, compare=False)  # the node that pushes
    position: int = field(default=0, repr=False, compare=False)  # input's position among node.inputs
    names: dict[Value, str] = field(default_factory=dict, repr=False, compare=False)
    final: bool = field(default=False, compare=False)  # the input's last push: its gradient is final

    def __repr__(self) -> str:
        name = self.names.get(self.input) or self.input.label or "?"
        return f"Term({name} += {format_number(self.contribution)}, grad -> {format_number(self.after)})"

    @property
    def formula(self) -> str:
        """The local derivative written in the graph's names (``w5``, ``out_o1 * (1 - out_o1)``)."""
        if self.node is None:
            return format_number(self.local)
        return term_formula(self.node, self.position, self.names)


@dataclass(frozen=True)
class Step:
    """One node of the backward pass: its gradient is final; it pushes a term to each input."""

    index: int  # 1-based
    total: int  # number of steps of the whole pass
    node: Value
    grad: float  # d root / d node, final
    terms: list[Term]
    precision: int = 9
    names: dict[Value, str] = field(default_factory=dict, repr=False, compare=False)
    root: Value | None = field(default=None, repr=False, compare=False)

    def _name(self, v: Value) -> str:
        return self.names.get(v) or (v.label if v.label is not None else "?")

    def __repr__(self) -> str:
        top = self._name(self.root) if self.root is not None else "root"
        pushes = f"{len(self.terms)} push" + ("" if len(self.terms) == 1 else "es")
        return (f"Step({self.index}/{self.total} {self._name(self.node)}: d{top}/d{self._name(self.node)}"
                f" = {format_number(self.grad, self.precision)}, {pushes})")

    def __str__(self) -> str:
        f = lambda x: format_number(x, self.precision)  # noqa: E731
        node, top = self._name(self.node), self._name(self.root) if self.root is not None else "root"
        if self.node.inputs:
            what = f"{node} = {expression(self.node, self.names)}"
        else:
            what = f"{node} (leaf, data {f(self.node.data)})"
        lines = [f"Step {self.index}/{self.total}  {what}   d{top}/d{node} = {f(self.grad)}"]
        width = max((len(self._name(t.input)) for t in self.terms), default=0)
        for t in self.terms:
            name = self._name(t.input)
            lines.append(
                f"  {name:<{width}} += {f(t.local)} (d{node}/d{name} = {t.formula}) x {f(self.grad)}"
                f" = {f(t.contribution)}   grad {f(t.before)} -> {f(t.after)}"
                + (" (final)" if t.final and not t.input.inputs else "")
            )
        if not self.terms:
            lines.append("  (a leaf: nothing to push)")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return "```\n" + str(self) + "\n```"

    def to_latex(self) -> str:
        """The step as a LaTeX ``aligned`` block: the node, its gradient, and each push with its formula."""
        f = lambda x: tex_number(format_number(x, self.precision))  # noqa: E731
        names = self.names
        node, top = self.node, self.root if self.root is not None else self.node
        d = lambda a, b: rf"\frac{{\partial {tex_name(names[a])}}}{{\partial {tex_name(names[b])}}}"  # noqa: E731
        what = (f"{tex_name(names[node])} = {expression_tex(node, names)}" if node.inputs
                else rf"{tex_name(names[node])}\ \text{{(leaf, data {format_number(node.data, self.precision)})}}")
        rows = [rf"&\text{{Step {self.index}/{self.total}:}}\quad {what}, \quad {d(top, node)} = {f(self.grad)}"]
        for t in self.terms:
            formula = term_tex(node, t.position, names)
            local = f(t.local)
            said = local if formula == local else f"{formula} = {local}"
            rows.append(rf"\mathrm{{grad}}\left({tex_name(names[t.input])}\right) &\mathrel{{+}}= {d(node, t.input)}"
                        rf" \cdot {d(top, node)} = {said} \cdot {f(self.grad)} = {f(t.contribution)}"
                        rf" \quad \left({f(t.before)} \to {f(t.after)}\right)")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self) -> str:
        return "$$" + self.to_latex() + "$$"


class Backprop:
    """``root.backward(grad)`` taken one node at a time; after ``run()`` every grad equals backward()'s.

    A step is a node that pushes to its inputs: every non-leaf node, in backward order (a leaf's gradient
    is final at the push marked ``final``). As in backward(), the first step zeroes the graph's grads; a
    leaf's grad from an earlier pass is added back after the last step (so while stepping, grads show this
    pass alone).
    """

    def __init__(self, root: Value | Graph, grad: Number = 1.0, precision: int = 9) -> None:
        self.graph = as_graph(root, "Backprop")
        self.root = self.graph.root
        self.grad = to_float(grad, "Backprop: the gradient")
        self.precision = precision
        self.nodes: list[Value] = list(reversed(self.graph.order))  # every node, in backward order
        self.order: list[Value] = [v for v in self.nodes if v._a is not None] or [self.root]  # the steps
        self.names = self.graph.names
        self._last: dict[Value, Value] = {}  # input -> the step that pushes to it last
        for v in self.order:
            for x in v.inputs:
                self._last[x] = v
        self.position = 0
        self.steps: list[Step] = []
        self._saved: list[tuple[Value, float]] | None = None  # every grad before the first step
        self._kept: list[tuple[Value, float]] = []  # nonzero leaf grads, added back at the end (as backward does)
        self._pending: tuple | None = None  # a committed change not yet fully applied (see _commit)

    @property
    def current(self) -> Value | None:
        """The node the next step processes, or None when done."""
        return self.order[self.position] if self.position < len(self.order) else None

    @property
    def done(self) -> bool:
        return self.position >= len(self.order)

    def step(self, n: int = 1) -> Step | None:
        """Take up to ``n`` steps; return the last one (None if there was nothing left to do).

        Each step is atomic: interrupted (Ctrl-C) at any instant, it has happened completely or not at all.
        """
        self._finish()
        last = None
        for _ in range(n):
            if self.done:
                break
            last = self._take()
        return last

    def _take(self) -> Step:
        # Everything is computed first, as absolute grads; _commit then makes the step happen as one unit.
        saved, kept = self._saved, self._kept
        writes: list[tuple[Value, float]] = []
        new: dict[Value, float] = {}  # grads as they will be after this step, where they change
        zeroed = saved is None
        if zeroed:  # the first step zeroes the graph (as backward() does) and seeds the root
            saved = [(v, v.grad) for v in self.nodes]
            kept = [(v, v.grad) for v in self.nodes if not v.inputs and v.grad]
            writes = [(v, 0.0) for v in self.nodes]
            writes.append((self.root, self.grad))
            new[self.root] = self.grad
        v = self.order[self.position]
        g = new[v] if v in new else v.grad
        terms = []
        inputs = v.inputs
        last = {x: i for i, x in enumerate(inputs)}  # each input's last position here
        for i, (child, local) in enumerate(zip(inputs, v.local_grads)):
            before = new[child] if child in new else (0.0 if zeroed else child.grad)
            new[child] = after = before + local * g
            writes.append((child, after))
            final = last[child] == i and self._last.get(child) is v
            terms.append(Term(child, local, local * g, before, after, v, i, self.names, final))
        position = self.position + 1
        if position == len(self.order):  # leaves accumulate: their grads from before come back
            for leaf, old in kept:
                writes.append((leaf, old + (new[leaf] if leaf in new else (0.0 if zeroed else leaf.grad))))
        step = Step(position, len(self.order), v, g, terms, self.precision, self.names, self.root)
        self._commit((writes, position, step, saved, kept))
        return step

    def _commit(self, change: tuple) -> None:
        # Storing the change is the one instant a step happens; applying it only writes absolute values, so an
        # interrupted apply is simply applied again (here, or by the next step() or reset()).
        self._pending = change
        try:
            self._finish()
        except BaseException:
            while self._pending is not None:
                try:
                    self._finish()
                except KeyboardInterrupt:
                    pass
            raise

    def _finish(self) -> None:
        """Apply the committed change, if any (idempotent)."""
        change = self._pending
        if change is None:
            return
        writes, position, step, saved, kept = change
        for v, g in writes:
            v.grad = g
        self._saved, self._kept = saved, kept
        del self.steps[position - (step is not None):]
        if step is not None:
            self.steps.append(step)
        self.position = position
        self._pending = None

    def run(self) -> None:
        """Take every remaining step."""
        while not self.done:
            self.step()

    def reset(self) -> None:
        """Undo the steps: every gradient back to what it was before the first step (atomic, as a step is)."""
        self._finish()
        self._commit((list(self._saved or ()), 0, None, None, []))

    def __iter__(self) -> Iterator[Step]:
        while not self.done:
            yield self.step()

    def __repr__(self) -> str:
        now = self.current
        nxt = f", next {self.names[now]}" if now is not None else ", done"
        return f"Backprop({self.names[self.root]}: {self.position}/{len(self.order)} steps{nxt})"

    def _repr_markdown_(self) -> str:
        f = lambda x: format_number(x, self.precision)  # noqa: E731
        head = f"**{markdown_text(repr(self))}**\n\n"
        if not self.steps:
            return head + "No steps taken yet."
        rows = ["| step | node | gradient | pushes |", "|---|---|---|---|"]
        for s in self.steps:
            pushes = "; ".join(f"{self.names[t.input]} += {f(t.contribution)}" for t in s.terms) or "(leaf)"
            rows.append(f"| {s.index} | {markdown_code(self.names[s.node])} | {f(s.grad)} | {markdown_text(pushes)} |")
        return head + "\n".join(rows)

    def to_latex(self) -> str:
        """The steps taken so far as a LaTeX ``aligned`` block: each node's gradient and what it pushed."""
        f = lambda x: tex_number(format_number(x, self.precision))  # noqa: E731
        top = tex_name(self.names[self.root])
        rows = [rf"&\text{{{len(self.steps)} of {len(self.order)} steps taken}}"]
        for s in self.steps:
            pushes = ",\\ ".join(rf"{tex_name(self.names[t.input])} \mathrel{{+}}= {f(t.contribution)}"
                                   for t in s.terms)
            rows.append(rf"\frac{{\partial {top}}}{{\partial {tex_name(self.names[s.node])}}} &= {f(s.grad)}"
                        rf" \quad \text{{pushes }} {pushes}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self) -> str:
        return "$$" + self.to_latex() + "$$"

    def quiz(self, answers: Sequence[str | float] | None = None, **options) -> QuizResult:
        """Step through the pass asking for each labeled node's gradient; see ``autograd.check.quiz``."""
        from .check import quiz

        return quiz(self, answers, **options)

    def draw(self, **options) -> graphviz.Digraph:
        """Render the graph with the steps taken so far (needs graphviz): a ``graphviz.Digraph``."""
        from .render import draw_backprop

        return draw_backprop(self, **options)
