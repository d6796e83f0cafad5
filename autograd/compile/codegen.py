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
from typing import NamedTuple

from .. import ops
from ..names import node_names
from ..value import Value, topological_order
from . import expressions, runtime
from .expressions import OUT, TERMS
from .naming import Namer, identifier
from .parts import Writer

_HOLE = re.compile(r"\{\{|\}\}|\{(\d+)\}")
FINITE_TERMS = 40  # values summed per line of the bulk inf / nan test
CHECK = "_check_forward(inputs, constants)"  # raises the dynamic engine's error for the first bad op
ONE, MINUS_ONE, BARE, PRODUCT = range(4)  # a term of a gradient: + g, - g, + name * g, + (expression) * g


class Kind(NamedTuple):
    """The code of every node of one op with one number of operands and one parameter value."""

    forward: tuple[str, ...]  # lines; hole {k} is the name refs[k] reads
    refs: tuple[int, ...]  # an operand's position, or OUT
    terms: tuple[tuple[int, str, tuple[int, ...]], ...]  # per operand: ONE / MINUS_ONE / BARE / PRODUCT, format, refs
    checked: tuple[int, ...]  # the operands the inf / nan test sums (the op can turn an inf into a finite number)
    checked_locals: tuple[tuple[str, tuple[int, ...]], ...]  # local derivatives it sums (the op's may overflow)


class Graph:
    """Names and generated code of one traced graph."""

    def __init__(self, root: Value, inputs: list[Value], aux: list[Value]) -> None:
        self.root, self.inputs, self.aux = root, inputs, aux
        self.order = topological_order(root)
        self.forward_order = _with_aux(self.order, aux)
        self.ins = {v: v.inputs for v in self.forward_order}  # (read once: a property on Value)
        self.nodes = [v for v in self.forward_order if self.ins[v]]
        input_set = set(inputs)
        self.constants = [v for v in self.forward_order if not self.ins[v] and v not in input_set]
        namer = Namer()
        readable = node_names(self.forward_order)
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

    def _kind(self, v: Value) -> Kind:
        param = v.param
        key = (v.op, len(self.ins[v]), None if param is None else repr(param))  # repr: -0.0 and 0.0 stay apart
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = _kind(ops.OPS[v.op], key[1], key[2])
        return kind

    # -- forward: domain checks and one line per op; inf / nan is looked for in bulk -----------
    def _forward(self, w: Writer) -> None:
        """The op lines, and every ``FINITE_TERMS`` values an ``if not -INF < a + b + ... < INF`` test.

        An op that ``propagates`` gives inf or nan whenever an operand is inf or nan, and every node leads
        to the output (or an aux value); so the output, the aux values and the operands of the other
        ops (which can turn inf into a finite number) cover every node.  As the engine, the test also
        covers the local derivatives that can overflow (1/x near 0, ...).
        """
        name, ins, kind_of = self.name, self.ins, self._kind
        seen: set[str] = set()
        texts: list[str] = []
        reads: list[str] = []
        w.emit(["# forward: one line per op; an inf or nan anywhere shows in the sums tested"], ())
        for v in self.nodes:
            if w.full():
                _test(w, texts, reads)
                w.new_part()
            kind = kind_of(v)
            out = name[v]
            operands = [name[c] for c in ins[v]]
            names = [out if r == OUT else operands[r] for r in kind.refs]
            w.emit([line.format(*names) for line in kind.forward], operands, out)
            for k in kind.checked:
                n = operands[k]
                if n not in seen:
                    seen.add(n)
                    texts.append(n)
                    reads.append(n)
            for fmt, refs in kind.checked_locals:
                used = [out if r == OUT else operands[r] for r in refs]
                texts.append(fmt.format(*used))
                reads += used
            if len(texts) >= FINITE_TERMS:
                _test(w, texts, reads)
        graph = set(self.forward_order)
        for v in [self.root, *self.aux, *(v for v in self.inputs if v not in graph)]:
            n = name[v]
            if n not in seen:
                seen.add(n)
                texts.append(n)
                reads.append(n)
        _test(w, texts, reads)

    # -- backward: the gradient of each node as the sum of its terms, in the engine's order ----------
    def _backward(self, w: Writer) -> None:
        """``d_x = t1 + t2 + ...`` with a term ``local * d_user`` per edge, in the order ``backward()`` adds them.

        The engine visits nodes in reversed topological order and adds each edge's term to the operand's
        grad; here the terms wait until the operand's gradient is needed (or the function ends) and are
        then written as one sum, left to right: the same additions in the same order.
        """
        if self.root not in self.needs:
            return
        needs, ins, name, grad, kind_of = self.needs, self.ins, self.name, self.grad, self._kind
        pending: dict[Value, tuple[list[str], list[str]]] = {}  # node -> its terms (with their sign), names read
        started: set[Value] = {self.root}  # gradients already holding a partial sum
        d_root = grad[self.root]
        w.emit([f"# backward: d_x is d {name[self.root]} / d x; each a sum of local * d_user over x's users",
                f"{d_root} = 1.0"], (), d_root)
        for v in reversed(self.order):
            vin = ins[v]
            if not vin or v not in needs:
                continue
            if w.full():
                for c in list(pending):
                    self._sum(w, c, pending.pop(c), started)
                w.new_part()
            g = self._finish(w, v, pending, started)
            kind = kind_of(v)
            out = name[v]
            for i, c in enumerate(vin):
                if c not in needs:
                    continue
                how, fmt, refs = kind.terms[i]
                p = pending.get(c)
                if p is None:
                    p = pending[c] = ([], [])
                texts, reads = p
                if how == ONE:
                    texts.append("+ " + g)
                elif how == MINUS_ONE:
                    texts.append("- " + g)
                elif how == BARE:
                    n = out if refs[0] == OUT else name[vin[refs[0]]]
                    texts.append("+ " + n + " * " + g)
                    reads.append(n)
                else:
                    used = [out if r == OUT else name[vin[r]] for r in refs]
                    texts.append("+ " + fmt.format(*used) + " * " + g)
                    reads += used
                reads.append(g)
        for v in self.inputs:
            if v in pending:
                self._sum(w, v, pending.pop(v), started)

    def _finish(self, w: Writer, v: Value, pending: dict, started: set[Value]) -> str:
        """Write the sum of ``v``'s pending terms; return the name of its gradient."""
        p = pending.pop(v, None)
        if p is not None:
            texts = p[0]
            if len(texts) == 1 and v not in started and texts[0][0] == "+" and " " not in texts[0][2:]:
                self.grad[v] = texts[0][2:]  # one user, local 1.0: d v is d user itself, no line
            else:
                self._sum(w, v, p, started)
        return self.grad[v]

    def _sum(self, w: Writer, v: Value, p: tuple[list[str], list[str]], started: set[Value]) -> None:
        """``d = t1 + ... + t64``, then ``d = d + t65 + ...``: left to right, as ``d += t`` one by one."""
        texts, reads = p
        var = self.grad[v]
        if v in started:
            reads.append(var)
            lines = []
        else:
            started.add(v)
            first = texts[0]
            lines = [f"{var} = {first[2:] if first[0] == '+' else '-' + first[2:]} {' '.join(texts[1:TERMS])}"
                     .rstrip()]
            texts = texts[TERMS:]
        for start in range(0, len(texts), TERMS):
            lines.append(f"{var} = {var} {' '.join(texts[start:start + TERMS])}")
        w.emit(lines, reads, var)

    def _return(self, w: Writer) -> None:
        # + 0.0 turns a -0.0 into 0.0, as the engine's sums starting from 0.0 do
        reads = [self.name[self.root]]
        grads = []
        for v in self.inputs:
            if v in self.grad:
                grads.append(f"{self.grad[v]} + 0.0")
                reads.append(self.grad[v])
            else:
                grads.append("0.0")
        parts_ = [reads[0], f"[{', '.join(grads)}]"]
        if self.aux:
            names = [self.name[a] for a in self.aux]
            parts_.append(f"[{', '.join(names)}]")
            reads += names
        w.emit([f"return {', '.join(parts_)}"], reads)

    # -- the module ------------------------------------------------------------------------------
    def pieces(self, chunk: int) -> list[str]:
        """The generated module as top-level pieces (each compiles on its own); their concatenation is the source."""
        root = self.name[self.root]
        ni, nc = len(self.input_names), len(self.constant_names)
        w = Writer(chunk, self.input_names + self.constant_names)
        self._forward(w)
        self._backward(w)
        self._return(w)
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
        lines = runtime.replay_data(runtime.construction_order([self.root, *self.aux]), position)
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
        return [head, *code, "\n".join(lines) + "\n"]

    def source(self, chunk: int) -> str:
        return "".join(self.pieces(chunk))


def _test(w: Writer, texts: list[str], reads: list[str]) -> None:
    """The bulk inf / nan test of the values in ``texts`` (emptied), FINITE_TERMS a line."""
    for start in range(0, len(texts), FINITE_TERMS):
        w.emit([f"if not -INF < {' + '.join(texts[start:start + FINITE_TERMS])} < INF: {CHECK}"], reads)
    texts.clear()
    reads.clear()


@functools.cache
def _kind(op: ops.Op, count: int, key: str | None) -> Kind:
    """The code of an ``op`` node with ``count`` operands; ``key`` is the constant parameter's repr."""
    lines, refs = _forward_fmt(op, count, key)
    n = None if key is None else expressions.literal(float(key))
    terms = []
    checked_locals = []
    for t in expressions.local_templates(op, count):
        fmt = t.fmt.replace("{n}", n) if n is not None else t.fmt
        if t.constant == "1.0":
            terms.append((ONE, "", ()))
        elif t.constant == "-1.0":
            terms.append((MINUS_ONE, "", ()))
        elif fmt == "{0}":
            terms.append((BARE, "", t.refs))
        else:
            terms.append((PRODUCT, f"({fmt})" if t.loose else fmt, t.refs))
        if not op.finite_local and t.constant is None:
            checked_locals.append((f"({fmt})", t.refs))
    checked = () if op.propagates else tuple(range(count))
    return Kind(lines, refs, tuple(terms), checked, tuple(checked_locals))


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


def _with_aux(order: list[Value], aux: list[Value]) -> list[Value]:
    """``order`` followed by the nodes only the ``aux`` Values need (still inputs before users)."""
    seen = set(order)
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
    rows, row, width = [], [], 0
    for name in names:
        if row and width + len(name) > 96:
            rows.append(", ".join(row) + ",")
            row, width = [], 0
        row.append(name)
        width += len(name) + 2
    rows.append(", ".join(row) + ("," if len(names) == 1 else ""))
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
