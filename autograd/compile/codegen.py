"""The generated module of one traced graph: forward one line per op, backward one line per edge.

The code is written from the op table's expressions (``expressions``), in the engine's order, so its
results are the same floats as ``backward()``; ``runtime`` supplies the slow path that raises the
engine's errors, and ``parts`` splits long code into functions.
"""

from __future__ import annotations

import functools
import re

from ..core import ops
from ..core.names import node_names
from ..core.value import Value, topological_order
from . import expressions, parts, runtime
from .expressions import OUT, Template
from .naming import Namer, identifier
from .parts import Stmt

_HOLE = re.compile(r"\{\{|\}\}|\{(\d+)\}")
FINITE_TERMS = 40  # values summed per line of the bulk inf / nan test


class Graph:
    """Names and generated statements of one traced graph."""

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
        for v in [*inputs, *self.forward_order]:
            if v not in self.name:
                self.name[v] = namer.take(identifier(str(readable[v]), v.op or "leaf"))
        self.input_names = [self.name[v] for v in inputs]
        self.constant_names = [self.name[v] for v in self.constants]
        needs = set(input_set)
        for v in self.nodes:
            if any(c in needs for c in self.ins[v]):
                needs.add(v)
        self.needs = needs
        self.grad = {v: namer.take("d_" + self.name[v]) for v in self.order if v in needs}
        self._locals: dict[tuple, tuple[Template, str]] = {}  # per graph: the table may change between compiles
        self._forwards: dict[tuple, tuple[tuple[str, ...], tuple[int, ...]]] = {}

    def _names(self, v: Value, refs: tuple[int, ...]) -> list[str]:
        """The variables a template's holes read at node ``v``."""
        name, ins = self.name, self.ins[v]
        return [name[v] if r == OUT else name[ins[r]] for r in refs]

    def _local(self, v: Value, i: int) -> tuple[Template, list[str], str]:
        """d v / d (operand i) as a template, the names its holes read, and its fmt with ``n`` filled in."""
        ins = self.ins[v]
        key = (v.op, i, len(ins), _key(v.param))
        found = self._locals.get(key)
        if found is None:
            found = self._locals[key] = _local_fmt(ops.OPS[v.op], i, len(ins), key[3])
        t, fmt = found
        name = self.name
        return t, [name[v] if r == OUT else name[ins[r]] for r in t.refs], fmt

    # -- forward: domain checks and one line per op; inf / nan is looked for in bulk -----------
    def _forward(self, v: Value) -> Stmt:
        key = (v.op, len(self.ins[v]), _key(v.param))
        found = self._forwards.get(key)
        if found is None:
            found = self._forwards[key] = _forward_fmt(ops.OPS[v.op], key[1], key[2])
        lines, refs = found
        return Stmt(lines, tuple(self._names(v, refs)), (self.name[v],))

    def _finite_checks(self, check: str) -> list[Stmt]:
        """``if not -INF < a + b + ... < INF: check`` over enough values to see an inf or nan anywhere.

        An op that ``propagates`` gives inf or nan whenever an operand is inf or nan, and every node leads
        to the output (or an aux value); so the output, the aux values and the operands of the other
        ops (which can turn inf into a finite number) cover every node.
        """
        graph = set(self.forward_order)
        names: dict[str, None] = {}
        for v in [self.root, *self.aux, *(v for v in self.inputs if v not in graph)]:
            names.setdefault(self.name[v])
        for v in self.nodes:
            if not ops.OPS[v.op].propagates:
                for c in self.ins[v]:
                    names.setdefault(self.name[c])
        terms: list[tuple[str, list[str]]] = [("{0}", [name]) for name in names]
        for v in self.nodes:  # as the engine, look at the local derivatives that can overflow (1/x near 0, ...)
            if not ops.OPS[v.op].finite_local:
                for i in range(len(self.ins[v])):
                    _, used, fmt = self._local(v, i)
                    terms.append((f"({fmt})", used))
        stmts = []
        check = check.replace("{", "{{").replace("}", "}}")
        for start in range(0, len(terms), FINITE_TERMS):
            texts, used = [], []
            for fmt, names_ in terms[start:start + FINITE_TERMS]:
                texts.append(_shift(fmt, len(used)))
                used += names_
            stmts.append(Stmt((f"if not -INF < {' + '.join(texts)} < INF: {check}",), tuple(used), ()))
        return stmts

    # -- backward: one line per edge ---------------------------------------------------------
    def _backward(self) -> list[Stmt]:
        """``d_x += local * d_out`` per edge, in the engine's order (reversed topological order)."""
        if self.root not in self.needs:
            return []
        needs, grad = self.needs, self.grad
        edges: dict[Value, int] = {}
        for v in self.order:
            if v in needs:
                for c in self.ins[v]:
                    if c in needs:
                        edges[c] = edges.get(c, 0) + 1
        d_root = grad[self.root]
        stmts = [Stmt(("{0} = 1.0",), (d_root,), (d_root,))]
        started = {self.root}
        for v in reversed(self.order):
            ins = self.ins[v]
            if v not in needs or not ins:
                continue
            g = grad[v]
            for i, c in enumerate(ins):
                if c not in needs:
                    continue
                t, used, fmt = self._local(v, i)
                first = c not in started
                if first:
                    started.add(c)
                if first and t.constant == "1.0" and edges[c] == 1 and self.ins[c]:
                    grad[c] = g  # d c is d v itself: no line, later lines use d v's name
                    continue
                d = grad[c]
                m = len(used)
                if t.constant == "1.0":
                    line = f"{{{m}}} {'=' if first else '+='} {{{m + 1}}}"
                elif t.constant == "-1.0":
                    line = f"{{{m}}} = -{{{m + 1}}}" if first else f"{{{m}}} -= {{{m + 1}}}"
                else:
                    term = f"({fmt})" if t.loose else fmt
                    line = f"{{{m}}} {'=' if first else '+='} {term} * {{{m + 1}}}"
                stmts.append(Stmt((line,), (*used, d, g), (d,)))
        return stmts

    def _return(self) -> Stmt:
        # + 0.0 turns a -0.0 into 0.0, as the engine's sums starting from 0.0 do
        names = [self.name[self.root]]
        grads = []
        for v in self.inputs:
            if v in self.grad:
                grads.append(f"{{{len(names)}}} + 0.0")
                names.append(self.grad[v])
            else:
                grads.append("0.0")
        parts_ = ["{0}", f"[{', '.join(grads)}]"]
        if self.aux:
            parts_.append(f"[{', '.join(f'{{{len(names) + k}}}' for k in range(len(self.aux)))}]")
            names += [self.name[a] for a in self.aux]
        return Stmt((f"return {', '.join(parts_)}",), tuple(names), ())

    # -- the module ------------------------------------------------------------------------------
    def source(self, chunk: int) -> str:
        root = self.name[self.root]
        ni, nc = len(self.input_names), len(self.constant_names)
        forward = [self._forward(v) for v in self.nodes]
        backward = self._backward()
        ret = self._return()
        single = sum(len(s.lines) for s in forward) + len(backward) + len(forward) // 40 <= chunk
        check = "_check_forward(inputs, constants)" if single else f"_check_forward(S[:{ni}], S[{ni}:{ni + nc}])"
        forward += self._finite_checks(check)
        head = [
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
        ]
        doc = '"""Loss and d loss / d input for each input: forward one line per op, backward one per edge."""'
        catch = ["except (ArithmeticError, ValueError, TypeError):",
                 "    _check_forward(inputs, constants)  # raises the dynamic engine's error for the first bad op",
                 "    raise"]
        if single:
            body = [doc, *_unpack(self.input_names, "inputs"), *_unpack(self.constant_names, "constants"), "try:"]
            body.append("    # forward: one line per op; an inf or nan anywhere shows in the sum tested at the end")
            body += ["    " + line for s in forward for line in s.render()]
            if backward:
                body.append(f"    # backward: d_x is d {root} / d x; one line per edge, in reverse topological order")
                body += ["    " + line for s in backward for line in s.render()]
            body += catch + ret.render()
            lines = head + ["", "def forward_backward(inputs, constants):", *("    " + b for b in body)]
        else:
            functions, extra = parts.split([*forward, *backward, ret], chunk, self.input_names + self.constant_names)
            lines = head + [line for function in functions for line in function]
            lines += [
                "def forward_backward(inputs, constants):",
                "    " + doc,
                "    S = [*inputs, *constants]",
                f"    if len(inputs) != {ni} or len(S) != {ni + nc}:",
                f"        raise ValueError('expected {ni} inputs and {nc} constants, got '"
                " + str(len(inputs)) + ' and ' + str(len(constants)))",
                f"    S += [0.0] * {extra}",
                "    try:",
                *(f"        _part_{k + 1}(S)" for k in range(len(functions) - 1)),
                f"        return _part_{len(functions)}(S)",
                *("    " + c for c in catch),
            ]
        position = {v: i for i, v in enumerate([*self.inputs, *self.constants])}
        lines += runtime.replay_data(runtime.construction_order([self.root, *self.aux]), position)
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
        return "\n".join(lines) + "\n"


def _key(param: float | None) -> str | None:
    """The parameter as a cache key: its repr, so that -0.0 and 0.0 stay apart."""
    return None if param is None else repr(param)


@functools.cache
def _local_fmt(op: ops.Op, i: int, count: int, key: str | None) -> tuple[Template, str]:
    t = expressions.local_template(op, i, count)
    return t, t.fmt.replace("{n}", expressions.literal(float(key))) if "{n}" in t.fmt else t.fmt


@functools.cache
def _forward_fmt(op: ops.Op, count: int, key: str | None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The forward lines of an ``op`` node with ``count`` operands (domain checks, then the result), and what
    their holes read; ``key`` is the constant parameter's repr."""
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
