"""The generated module of one traced graph: forward one line per op, backward one sum per gradient.

The code is written from the op table's expressions (``expressions``), in the engine's order, so its
results are the same floats as ``backward()``: the gradient of a node is written as the sum of its terms
``local * d_user``, in the order ``backward()`` adds them (``d = t1 + t2 + ...`` is ``((t1 + t2) + ...)``).
``runtime`` supplies the slow path that raises the engine's errors, and ``parts`` splits long code into
functions.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ..core import ops
from ..core.graph import Graph
from ..core.names import node_names
from ..core.value import Value, topological_order
from . import expressions, rolling, runtime
from .expressions import OUT, TERMS
from .naming import Namer, identifier
from .parts import Writer

_HOLE = re.compile(r"\{\{|\}\}|\{(\d+)\}")
_FIELD = re.compile(r"0\[\d+\]")
FINITE_TERMS = 40  # values summed per line of the bulk inf / nan test
ROLL_NODES = 1000  # smaller graphs are written out in full: repeated blocks are not looked for
CHECK = "_check_forward(inputs, constants)"  # raises the dynamic engine's error for the first bad op


class Kind(NamedTuple):
    """The code of every node of one op with one number of operands and one parameter value.

    Each part is written from the list ``names``: the operands' names, then the node's own; a term also
    takes ``g``, the name of the node's gradient. (Formats made functions once: ``str.format`` would parse
    the format again for every node.)
    """

    forward: Callable[[list[str]], list[str]]  # the lines of the forward: domain checks, the result
    terms: tuple[Callable[[list[str], str], str], ...]  # per operand, its term: "+ local * g" (or "+ g", "- g")
    term_reads: tuple[int, ...]  # the names any term reads, besides the gradient
    checked: tuple[int, ...]  # the operands the inf / nan test sums (the op can turn an inf into a finite number)
    checked_locals: tuple[tuple[Callable[[list[str]], str], tuple[int, ...]], ...]  # local derivatives it sums


class Program:
    """Names and generated code of one traced graph (the core's ``Graph`` gives its order and names)."""

    def __init__(self, graph: Graph, inputs: list[Value], aux: list[Value]) -> None:
        root = graph.root
        self.root, self.inputs, self.aux = root, inputs, aux
        self.order = graph.order
        self.forward_order = _with_aux(self.order, aux, graph.nodes)
        self.ins = {v: v.inputs for v in self.forward_order}  # (read once: a property on Value)
        self.nodes = [v for v in self.forward_order if self.ins[v]]  # the ops: those under root first, then aux's
        self.root_nodes = sum(1 for v in self.order if self.ins[v])
        input_set = set(inputs)
        self.constants = [v for v in self.forward_order if not self.ins[v] and v not in input_set]
        namer = Namer()
        extra = len(self.forward_order) > len(self.order)  # aux nodes the root does not need: named with the rest
        readable = node_names(self.forward_order) if extra else dict(graph.names)
        for i, v in enumerate(inputs):
            readable.setdefault(v, v.label if v.label is not None else f"input#{i + 1}")
        self.name: dict[Value, str] = {}
        take = namer.take
        for v in [*inputs, *self.forward_order]:
            if v not in self.name:
                self.name[v] = take(identifier(str(readable[v]), v.op or "leaf"))
        self.input_names = [self.name[v] for v in inputs]
        self.constant_names = [self.name[v] for v in self.constants]
        needs = set(input_set)
        ins = self.ins
        for v in self.nodes:
            for c in ins[v]:
                if c in needs:
                    needs.add(v)
                    break
        self.needs = needs
        # identifier() never starts a name with "d_": "d_" + a distinct name is a distinct name
        self.grad = {v: "d_" + self.name[v] for v in self.order if v in needs}
        self._kinds: dict[tuple, Kind] = {}  # per graph: the table may change between compiles
        self.kinds = [self._kind(v) for v in self.nodes]
        self.runs: list[rolling.Run] = []
        self._input_grads: list[str | None] = []

    def _kind(self, v: Value) -> Kind:
        param = v.param
        key = (v.op, len(self.ins[v]), None if param is None else repr(param))  # repr: -0.0 and 0.0 stay apart
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = _kind(ops.OPS[v.op], key[1], key[2])
        return kind

    # -- forward: domain checks and one line per op; inf / nan is looked for in bulk -----------
    def _forward(self, w: Writer) -> list[list[str] | None]:
        """The op lines (for a run of repeated blocks, one call of its loop) and the inf / nan tests; returns
        each node's names (its operands', then its own) for the backward (None in a run).

        An op that ``propagates`` gives inf or nan whenever an operand is inf or nan, and every node leads
        to the output (or an aux value); so the output, the aux values and the operands of the other
        ops (which can turn inf into a finite number) cover every node.  As the engine, the test also
        covers the local derivatives that can overflow (1/x near 0, ...).
        """
        name, ins, nodes, kinds, chunk = self.name, self.ins, self.nodes, self.kinds, w.chunk
        checks = _Checks()
        done: list[list[str] | None] = [None] * len(nodes)
        starts = {run.start: k for k, run in enumerate(self.runs)}
        w.emit(["# forward: one line per op; an inf or nan anywhere shows in the sums tested"], ())
        i = 0
        while i < len(nodes):
            if w.size >= chunk:
                checks.test(w)
                w.new_part()
            k = starts.get(i)
            if k is not None:
                run = self.runs[k]
                self._run_call(w, k, run)
                i += run.length * run.count
                continue
            v = nodes[i]
            names = [name[c] for c in ins[v]]
            names.append(name[v])
            done[i] = names
            checks.node(w, kinds[i], names)
            i += 1
        graph = set(self.forward_order)
        for v in [self.root, *self.aux, *(v for v in self.inputs if v not in graph)]:
            checks.add(name[v])
        checks.test(w)
        return done

    # -- backward: the gradient of each node as the sum of its terms, in the engine's order ----------
    def _backward(self, w: Writer, done: list[list[str] | None]) -> None:
        """``d_x = t1 + t2 + ...`` with a term ``local * d_user`` per edge, in the order ``backward()`` adds them.

        The engine visits nodes in reversed topological order and adds each edge's term to the operand's
        grad; here the terms wait until the operand's gradient is needed (or the part ends) and are then
        written as one sum, left to right: the same additions in the same order.  ``done`` is what
        ``_forward`` returned.
        """
        self._input_grads = [None] * len(self.inputs)
        if self.root not in self.needs:
            return
        needs, ins, nodes, kinds, chunk = self.needs, self.ins, self.nodes, self.kinds, w.chunk
        grad = dict(self.grad)
        pending: dict[Value, list[str]] = {}  # node -> the terms of its gradient so far, each with its sign
        started: set[Value] = {self.root}  # gradients already holding a partial sum
        d_root = grad[self.root]
        w.emit([f"# backward: d_x is d {self.name[self.root]} / d x; each a sum of local * d_user over x's "
                "users", f"{d_root} = 1.0"], (), (d_root,))
        ends = {run.start + run.length * run.count - 1: k for k, run in enumerate(self.runs)}
        i = self.root_nodes - 1  # the nodes only aux values need have no gradient
        while i >= 0:
            if w.size >= chunk:
                for c in list(pending):
                    _sum(w, grad[c], pending.pop(c), c in started)
                    started.add(c)
                w.new_part()
            k = ends.get(i)
            if k is not None:
                run = self.runs[k]
                self._run_grad_call(w, k, run, grad, pending, started)
                i = run.start - 1
                continue
            v = nodes[i]
            if v in needs:
                _node_backward(w, v, kinds[i], done[i], ins[v], needs, grad, pending, started)
            i -= 1
        for v in self.inputs:
            if v in pending:
                _sum(w, grad[v], pending.pop(v), v in started)
                started.add(v)
        self._input_grads = [grad[v] if v in started else None for v in self.inputs]

    # -- runs of repeated blocks: one loop each ------------------------------------------------------
    def _run_call(self, w: Writer, k: int, run: rolling.Run) -> None:
        """``_T1 = _run_1(inputs, constants, (each block's varying leaves, ...), (shared leaves))``, then each
        output of every block, taken from the rows of values it returns."""
        name, nodes = self.name, self.nodes
        rows = [[name[column[b]] for column in run.columns] for b in range(run.count)]
        shared = [name[v] for v in run.shared]
        first = nodes[run.start:run.start + run.length]
        lines = [f"# {run.count} blocks of {run.length} ops like the first ({name[first[0]]} .. {name[first[-1]]}): "
                 f"_run_{k + 1} runs its code on each block's leaves",
                 f"_T{k + 1} = _run_{k + 1}(inputs, constants, ("]
        lines += [f"    {_tuple(row)}," for row in rows]
        lines += _wrapped("), ", shared, ")")
        writes = [f"_T{k + 1}"]
        for r in run.outputs:
            outs = [name[nodes[run.start + b * run.length + r]] for b in range(run.count)]
            lines += _wrapped("", outs, f" = [_t[{r}] for _t in _T{k + 1}]")
            writes += outs
        w.emit(lines, [n for row in rows for n in row] + shared, writes)

    def _run_grad_call(self, w: Writer, k: int, run: rolling.Run, grad: dict[Value, str],
                       pending: dict[Value, list[str]], started: set[Value]) -> None:
        """``(d_w1, ...) = _run_1_grad(_T1, (each block's output gradients, ...), (d_w1, ...), (w1, ...))``."""
        needs, nodes, name = self.needs, self.nodes, self.name
        learned = [v for v in run.shared if v in needs]
        if not learned:
            return
        given = []
        for b in range(run.count - 1, -1, -1):  # last block first, as the loop goes
            row = []
            for r in run.outputs:
                v = nodes[run.start + b * run.length + r]
                if v in needs:
                    row.append(_finish(w, v, grad, pending, started) or "0.0")
            given.append(row)
        into = []
        for v in learned:
            if v in pending:
                _sum(w, grad[v], pending.pop(v), v in started)
                started.add(v)
            into.append(grad[v] if v in started else "0.0")
        shared = [name[v] for v in run.shared]
        d_learned = [grad[v] for v in learned]
        lines = [f"# the backward of the {run.count} blocks of _run_{k + 1}, last first, from their outputs' gradients"]
        lines += _wrapped("", d_learned, f" = _run_{k + 1}_grad(_T{k + 1}, (")
        lines += [f"    {_tuple(row)}," for row in given if row]
        lines += _wrapped("), ", into, ",")
        lines += _wrapped("    ", shared, ")")
        reads = [f"_T{k + 1}", *(n for row in given for n in row), *into, *shared]
        w.emit(lines, [n for n in reads if n != "0.0"], d_learned)
        started.update(learned)

    def _run_functions(self, k: int, run: rolling.Run) -> list[str]:
        """``_run_k``: the forward of every block, the first block's code in a loop over the varying leaves;
        ``_run_k_grad``: their backward, last block first, adding to the shared leaves' gradients as it goes."""
        name, ins, needs, kinds = self.name, self.ins, self.needs, self.kinds
        block = self.nodes[run.start:run.start + run.length]
        first = [name[v] for v in block]
        namer = Namer()
        namer.used.update(first)
        namer.used.update(name[v] for v in run.shared)
        columns = [namer.take(name[column[0]]) for column in run.columns]  # a loop variable per column
        names_of = []
        for r, v in enumerate(block):
            operands = [columns[run.varying[(r, t)]] if (r, t) in run.varying else name[c]
                        for t, c in enumerate(ins[v])]
            names_of.append((operands, [*operands, first[r]]))
        shared = [name[v] for v in run.shared]
        what = f"{run.count} blocks of {run.length} ops like the first ({first[0]} .. {first[-1]})"
        body = Writer(10**9, [])
        checks = _Checks()
        for r, (_, names) in enumerate(names_of):
            checks.node(body, kinds[run.start + r], names)
        checks.test(body)
        saved = first + columns
        lines = [f"def _run_{k + 1}(inputs, constants, _X, _shared):",
                 f'"""The forward of {what}: the first block\'s code, once per block."""',
                 *_wrapped("", shared, " = _shared"),
                 "_T = []",
                 f"for {_tuple(columns)} in _X:" if columns else "for _ in _X:",
                 *("    " + line for line in body.parts[0]),
                 *("    " + line for line in _wrapped("_T.append(", saved, ")")),
                 "return _T"]
        out = ["\n    ".join(lines) + "\n\n\n"]
        learned = [v for v in run.shared if v in needs]
        if not learned:
            return out
        grad = {v: "d_" + first[r] for r, v in enumerate(block) if v in needs}
        grad.update((v, "d_" + name[v]) for v in learned)
        given = [block[r] for r in run.outputs if block[r] in needs]
        started = set(given) | set(learned)
        pending: dict[Value, list[str]] = {}
        body = Writer(10**9, [])
        for r in range(run.length - 1, -1, -1):
            v = block[r]
            if v in needs:
                _node_backward(body, v, kinds[run.start + r], names_of[r][1], ins[v], needs, grad, pending, started)
        for v in learned:
            if v in pending:
                _sum(body, grad[v], pending.pop(v), True)
        d_learned = [grad[v] for v in learned]
        if given:
            head = _wrapped("for ", saved, ", " + _tuple([grad[v] for v in given]) + " in zip(reversed(_T), _G):")
        else:
            head = _wrapped("for ", saved, " in reversed(_T):")
        lines = [f"def _run_{k + 1}_grad(_T, _G, _d, _shared):",
                 f'"""The backward of {what}, last block first; _G: the gradients of their outputs."""',
                 *_wrapped("", shared, " = _shared"),
                 *_wrapped("", d_learned, " = _d"),
                 *head,
                 *("    " + line for line in body.parts[0]),
                 *_wrapped("return ", d_learned, "")]
        out.append("\n    ".join(lines) + "\n\n\n")
        return out

    def _return(self, w: Writer) -> None:
        # + 0.0 turns a -0.0 into 0.0, as the engine's sums starting from 0.0 do
        reads = [self.name[self.root]]
        grads = []
        for d in self._input_grads:
            if d is not None:
                grads.append(f"{d} + 0.0")
                reads.append(d)
            else:
                grads.append("0.0")
        parts_ = [reads[0], f"[{', '.join(grads)}]"]
        if self.aux:
            names = [self.name[a] for a in self.aux]
            parts_.append(f"[{', '.join(names)}]")
            reads += names
        w.emit([f"return {', '.join(parts_)}"], reads)

    # -- the module ------------------------------------------------------------------------------
    def pieces(self, chunk: int, roll: bool = True) -> list[str]:
        """The generated module as top-level pieces (each compiles on its own); their concatenation is the source.

        With ``roll``, runs of repeated blocks (the same ops on other leaves) become loops."""
        root = self.name[self.root]
        ni, nc = len(self.input_names), len(self.constant_names)
        w = Writer(chunk, self.input_names + self.constant_names)
        if roll and len(self.nodes) >= ROLL_NODES:
            self.runs = rolling.find(self.nodes, self.ins, self.kinds, self.needs, self.root_nodes - 1,
                                     {self.root, *self.aux}, chunk // 4)
        self._backward(w, self._forward(w))
        self._return(w)
        loops = [f for k, run in enumerate(self.runs) for f in self._run_functions(k, run)]
        head = "\n".join([
            f'"""Forward and backward of {root}, generated by chainrule\'s autograd.compile_graph.',
            "",
            "forward_backward(inputs, constants) -> (loss, grads); grads are in the order of inputs.",
            f"inputs ({ni}): {_some(self.input_names)}",
            f"constants ({nc}): {_some(self.constant_names)}",
            '"""',
            "",
            "import math",
            "",
            "INF = math.inf",
            f"OVERFLOW = {ops.OVERFLOW!r}",
            ops.HELPERS_SOURCE.rstrip(),
            "",
            "",
        ]) + "\n"
        doc = '"""Loss and d loss / d input for each input: forward one line per op, backward one sum per gradient."""'
        catch = ["except (ArithmeticError, ValueError, TypeError):",
                 f"    {CHECK}  # raises the dynamic engine's error for the first bad op",
                 "    raise"]
        if len(w.parts) == 1:
            body = [doc, *_unpack(self.input_names, "inputs"), *_unpack(self.constant_names, "constants"), "try:",
                    "    " + "\n        ".join(w.parts[0]), *catch]
            code = ["def forward_backward(inputs, constants):\n    " + "\n    ".join(body) + "\n"]
        else:
            code = w.functions("S, inputs, constants")
            n = len(code)
            code.append("\n    ".join([
                "def forward_backward(inputs, constants):",
                doc,
                "S = [*inputs, *constants]",
                f"if len(inputs) != {ni} or len(S) != {ni + nc}:",
                f"    raise ValueError('expected {ni} inputs and {nc} constants, got '"
                " + str(len(inputs)) + ' and ' + str(len(constants)))",
                f"S += [0.0] * {w.extra}",
                "try:",
                *(f"    _part_{k + 1}(S, inputs, constants)" for k in range(n - 1)),
                f"    return _part_{n}(S, inputs, constants)",
                *catch,
            ]) + "\n")
        position = {v: i for i, v in enumerate([*self.inputs, *self.constants])}
        lines = runtime.replay_data(runtime.construction_order(self.ins), position, self.ins)
        lines += runtime.CHECK_SOURCE.rstrip().split("\n")
        lines += ["", "", "# The values at compile time, so that this file runs on its own: python FILE.py",
                  *_listing("INPUT_NAMES", [repr(n) for n in self.input_names]),
                  *_listing("INPUTS", [repr(v.data) for v in self.inputs]),
                  *_listing("CONSTANTS", [repr(v.data) for v in self.constants]),
                  "", "", 'if __name__ == "__main__":',
                  "    loss, grads = forward_backward(INPUTS, CONSTANTS)",
                  f"    print({root!r} + ' =', repr(loss))",
                  "    for name, grad in zip(INPUT_NAMES, grads):",
                  f"        print('d {root} / d ' + name + ' =', repr(grad))"]
        return [head, *loops, *code, "\n".join(lines) + "\n"]

    def source(self, chunk: int, roll: bool = True) -> str:
        return "".join(self.pieces(chunk, roll))


class _Checks:
    """The bulk inf / nan test: the values to sum, written FINITE_TERMS a line as they come."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.texts: list[str] = []
        self.reads: list[str] = []

    def add(self, name: str) -> None:
        if name not in self.seen:
            self.seen.add(name)
            self.texts.append(name)
            self.reads.append(name)

    def node(self, w: Writer, kind: Kind, names: list[str]) -> None:
        """The forward lines of one node (``names``: its operands', then its own), and what the test sums of it."""
        w.emit(kind.forward(names), names, names[-1:])
        for k in kind.checked:
            self.add(names[k])
        for text, used in kind.checked_locals:
            self.texts.append(text(names))
            self.reads += [names[k] for k in used]
        if len(self.texts) >= FINITE_TERMS:
            self.test(w)

    def test(self, w: Writer) -> None:
        """``if not -INF < a + b + ... < INF: _check_forward(...)`` for the values so far."""
        texts = self.texts
        for start in range(0, len(texts), FINITE_TERMS):
            w.emit([f"if not -INF < {' + '.join(texts[start:start + FINITE_TERMS])} < INF: {CHECK}"], self.reads)
        self.texts, self.reads = [], []


def _node_backward(w: Writer, v: Value, kind: Kind, names: list[str], operands: tuple[Value, ...], needs: set[Value],
                   grad: dict[Value, str], pending: dict[Value, list[str]], started: set[Value]) -> None:
    """Write ``v``'s gradient (the sum of its pending terms) and add its term to each operand's."""
    terms = pending.pop(v, None)
    if terms is None:
        g = grad[v]
    elif len(terms) == 1 and v not in started and terms[0][0] == "+" and " " not in terms[0][2:]:
        g = grad[v] = terms[0][2:]  # one user, local 1.0: d v is d user itself, no line
    else:
        g = grad[v]
        _sum(w, g, terms, v in started)
        started.add(v)
    reads = w.reads
    reads.append(g)
    reads += [names[k] for k in kind.term_reads]
    for c, term in zip(operands, kind.terms):
        if c in needs:
            p = pending.get(c)
            if p is None:
                pending[c] = [term(names, g)]
            else:
                p.append(term(names, g))


def _finish(w: Writer, v: Value, grad: dict[Value, str], pending: dict[Value, list[str]],
            started: set[Value]) -> str | None:
    """Write the sum of ``v``'s pending terms; the name of its gradient (None: it has no term)."""
    terms = pending.pop(v, None)
    if terms is None:
        return grad[v] if v in started else None
    if len(terms) == 1 and v not in started and terms[0][0] == "+" and " " not in terms[0][2:]:
        grad[v] = terms[0][2:]  # as in _node_backward
        return grad[v]
    _sum(w, grad[v], terms, v in started)
    started.add(v)
    return grad[v]


def _sum(w: Writer, var: str, texts: list[str], started: bool) -> None:
    """``d = t1 + ... + t64``, then ``d = d + t65 + ...``: left to right, as ``d += t`` one by one."""
    if len(texts) == 1 and not started:  # the most common sum
        first = texts[0]
        w.emit((var + " = " + (first[2:] if first[0] == "+" else "-" + first[2:]),), (), (var,))
        return
    if started:
        lines = []
        reads: tuple[str, ...] = (var,)
    else:
        first = texts[0][2:] if texts[0][0] == "+" else "-" + texts[0][2:]
        lines = [f"{var} = {first} {' '.join(texts[1:TERMS])}".rstrip()]
        texts = texts[TERMS:]
        reads = ()
    for start in range(0, len(texts), TERMS):
        lines.append(f"{var} = {var} {' '.join(texts[start:start + TERMS])}")
    w.emit(lines, reads, (var,))


def _tuple(names: Sequence[str]) -> str:
    """``(a, b)``, ``(a,)`` or ``()``."""
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _wrapped(before: str, names: Sequence[str], after: str) -> list[str]:
    """``before(a, b, c, ...)after`` over lines of about 100 characters (continuation lines indented)."""
    rows = _rows(names, len(before) + 1, 4, 100)
    if len(rows) == 1:
        return [f"{before}({rows[0]}){after}"]
    return [f"{before}({rows[0]}", *("    " + r for r in rows[1:-1]), f"    {rows[-1]}){after}"]


def _rows(names: Sequence[str], width: int, indent: int, limit: int) -> list[str]:
    """``names`` joined by ", " into rows of about ``limit`` characters, the first row from column ``width``,
    the others from ``indent``; a lone name keeps its comma (a one-element tuple)."""
    rows: list[str] = []
    row: list[str] = []
    for n in names:
        if row and width + len(n) > limit:
            rows.append(", ".join(row) + ",")
            row, width = [], indent
        row.append(n)
        width += len(n) + 2
    rows.append(", ".join(row) + ("," if len(names) == 1 else ""))
    return rows


@functools.cache
def _kind(op: ops.Op, count: int, key: str | None) -> Kind:
    """The code of an ``op`` node with ``count`` operands; ``key`` is the constant parameter's repr."""
    lines, refs = _forward_fmt(op, count, key)
    forward = _function([_indexed(line, refs, count) for line in lines], "n")
    n = None if key is None else expressions.literal(float(key))
    terms = []
    reads: dict[int, None] = {}
    checked_locals = []
    for t in expressions.local_templates(op, count):
        fmt = t.fmt.replace("{n}", n) if n is not None else t.fmt
        if t.constant == "1.0":
            terms.append(_function("+ {1}", "n, g"))
        elif t.constant == "-1.0":
            terms.append(_function("- {1}", "n, g"))
        else:
            local = _indexed(f"({fmt})" if t.loose else fmt, t.refs, count)
            terms.append(_function(f"+ {local} * {{1}}", "n, g"))
            reads.update(dict.fromkeys(count if r == OUT else r for r in t.refs))
            if not op.finite_local:
                checked_locals.append((_function(_indexed(f"({fmt})", t.refs, count), "n"),
                                       tuple(count if r == OUT else r for r in t.refs)))
    checked = () if op.propagates else tuple(range(count))
    return Kind(forward, tuple(terms), tuple(reads), checked, tuple(checked_locals))


def _function(fmt: str | list[str], params: str) -> Callable:
    """``fmt`` (fields ``{0[k]}``: ``n[k]``, ``{1}``: ``g``) as ``lambda params: text``; a list of formats gives
    a list of texts. A long format (an n-ary node with many operands) stays a format."""
    fmts = fmt if isinstance(fmt, list) else [fmt]
    if sum(f.count("{") for f in fmts) > 200:
        if isinstance(fmt, list):
            return lambda *args: [f.format(*args) for f in fmts]
        return fmt.format
    texts = [_text(f) for f in fmts]
    body = f"[{', '.join(texts)}]" if isinstance(fmt, list) else texts[0]
    return eval(f"lambda {params}: {body}")  # the formats are the op table's, made into templates


def _text(fmt: str) -> str:
    """The expression that builds ``fmt``'s text: its literal parts (as reprs) and fields, joined by ``+``."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(fmt):
        if literal:
            parts.append(repr(literal))
        if field is not None:
            if field == "1":
                parts.append("g")
            elif _FIELD.fullmatch(field):
                parts.append("n" + field[1:])
            else:
                raise ValueError(f"compile: a field {field!r} in a code format")
    return " + ".join(parts) or "''"


def _indexed(fmt: str, refs: Sequence[int], count: int) -> str:
    """``fmt`` with hole {j} (reading refs[j]) written {0[k]}: operand k of ``names``, or k = count, the node."""
    return _HOLE.sub(lambda m: m.group() if m.group(1) is None else
                     "{0[" + str(count if refs[int(m.group(1))] == OUT else refs[int(m.group(1))]) + "]}", fmt)


def _forward_fmt(op: ops.Op, count: int, key: str | None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The forward lines of an ``op`` node with ``count`` operands (domain checks, then the result), and what
    their holes read."""
    param = None if key is None else float(key)
    n = expressions.literal(param) if op.param else None
    lines: list[str] = []
    refs: list[int] = []
    for cond, kind, reason in op.checks:
        test = expressions.condition(cond, param)
        if test is not None:
            t = expressions.template(test, count)
            message = repr(reason).replace("{", "{{").replace("}", "}}")
            lines.append(_shift(f"if not ({t.fmt}): raise {kind.__name__}({message})", len(refs), n))
            refs += t.refs
    if op.arity:
        t = expressions.template(op.forward, count)
        fwd, more = (f"{{{len(t.refs)}}} = {t.fmt}",), (*t.refs, OUT)
    else:
        fwd, more = expressions.forward_lines(op, count)
    lines += [_shift(line, len(refs), n) for line in fwd]
    refs += more
    return tuple(lines), tuple(refs)


def _shift(fmt: str, by: int, n: str | None = None) -> str:
    """``fmt`` with holes {k} renumbered {k + by} (and ``{n}`` filled in)."""
    if n is not None:
        fmt = fmt.replace("{n}", n)
    if not by:
        return fmt
    return _HOLE.sub(lambda m: m.group() if m.group(1) is None else f"{{{int(m.group(1)) + by}}}", fmt)


def _with_aux(order: list[Value], aux: list[Value], nodes: set[Value]) -> list[Value]:
    """``order`` followed by the nodes only the ``aux`` Values need (still inputs before users)."""
    if all(a in nodes for a in aux):
        return order
    seen = set(nodes)
    full = list(order)
    for a in aux:
        for v in topological_order(a):
            if v not in seen:
                seen.add(v)
                full.append(v)
    return full


def _unpack(names: list[str], source: str) -> list[str]:
    """``a, b, c = source``, wrapped over lines of about 100 characters."""
    if not names:
        return []
    rows = _rows(names, 0, 0, 96)
    if len(rows) == 1:
        return [f"{rows[0]} = {source}"]
    return ["(" + rows[0], *(" " + r for r in rows[1:-1]), " " + rows[-1] + f") = {source}"]


def _listing(name: str, items: list[str]) -> list[str]:
    """``name = [a, b, ...]`` with eight items a line."""
    rows = [", ".join(items[i:i + 8]) for i in range(0, len(items), 8)]
    if len(rows) <= 1:
        return [f"{name} = [{''.join(rows)}]"]
    return [f"{name} = [", *(f"    {row}," for row in rows), "]"]


def _some(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
