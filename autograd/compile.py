"""Compile a traced graph into straight-line Python: one line per op forward, one per edge backward.

``compile_graph(loss, inputs=[w1, w2])`` returns a callable ``f`` with ``f(values) -> (loss, grads)``
that builds no Values; ``f.source`` is the generated module (it imports only ``math``).  The code is
written from the op table's expressions, in the engine's order, so results are the same floats as
``backward()``.  The fast path checks domains per op but looks for inf / nan once, in bulk; when
anything is off, ``_check_forward`` replays the forward pass with the engine's own lines for each op
(``ops.evaluation_lines``) and raises the engine's error.  Graphs over CHUNK lines are split into
functions ``_part_k(S)`` that share values through the list ``S``.

Limits: the graph is traced once, so Python control flow on ``.data`` in the code that built it
(``if x.data > 0: ...``) is frozen at trace time, as with JAX's tracing; ops such as ``relu`` branch
inside the op and stay correct for every input.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import keyword
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from . import ops
from .names import node_names
from .value import Value, _to_float, topological_order

CHUNK = 5000  # generated lines per function; larger graphs are split into parts sharing a list S
_TERMS = 64  # terms per line of a long sum (CPython's compiler recurses into a chain of +)
_LOCAL_USES = 3  # in a part, a value shared with other parts is a local if used this often, else S[slot]
_RESERVED = {"math", "INF", "OVERFLOW", "inputs", "constants", "forward_backward", "S", "e"} | set(dir(builtins))
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_SLOTTED = re.compile(r"'[^'\n]*'|(?<![\w.])[A-Za-z_]\w*")  # names, skipping the quoted messages
# The slow path of the generated module: replays the forward pass op by op, as the engine runs it.
_CHECK_SOURCE = '''

class DomainError(Exception):
    """An op's domain check failed: ``kind`` is the error to raise, ``reason`` says why."""

    def __init__(self, kind, reason):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _fail(kind, reason, op, operands, labels, n=None):
    """The dynamic engine's error: the op, why, and each operand with its label."""
    got = ", ".join(repr(v) + ("" if label is None else " (label " + label + ")") for v, label in zip(operands, labels))
    if n is not None:
        got += ", n=" + repr(n)
    return kind(op + ": " + reason + ", got " + got)


def _check_forward(inputs, constants):
    """Replay the forward pass op by op with the engine's checks; raise its error for the first bad op."""
    for kind, given in (("input", inputs), ("constant", constants)):
        for i, x in enumerate(given):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise TypeError(kind + " " + str(i) + " must be a real number (int or float), got " + type(x).__name__)
            if not -INF < x < INF:
                raise ValueError(kind + " " + str(i) + " must be finite, got " + repr(x))
    labels = dict((int(i), label) for i, label in (row.split("\\t") for row in LABELS.split("\\n") if row))
    values = [float(x) for x in (*inputs, *constants)]
    for row in GRAPH.split("\\n"):
        op, *args = row.split(" ")
        n = float(args.pop()[2:]) if args and args[-1].startswith("n=") else None
        xs = [values[int(a)] for a in args]
        try:
            out = _CHECKS[op](xs, n)
        except DomainError as error:
            kind, reason = error.kind, error.reason
        except (ArithmeticError, ValueError) as error:
            kind, reason = (OverflowError, OVERFLOW) if isinstance(error, OverflowError) else (type(error), str(error))
        else:
            values.append(out)
            continue
        raise _fail(kind, reason, op, xs, [labels.get(int(a)) for a in args], n) from None
'''


class _Stmt(NamedTuple):
    lines: list[str]
    reads: tuple[str, ...]
    writes: tuple[str, ...]


class CompiledGraph:
    """A traced graph as generated Python: ``f(values) -> (loss, grads)``, grads in input order.

    ``f.constants`` holds the values of every other leaf (``f.constant_leaves`` / ``f.constant_names``);
    change them with ``f.update(...)``.  ``f.source`` is a self-contained module defining
    ``forward_backward(inputs, constants)``; ``f.forward_backward`` is that function.
    """

    def __init__(self, source: str, inputs: list[Value], input_names: list[str],
                 constant_leaves: list[Value], constant_names: list[str], aux: list[Value]) -> None:
        self.source = source
        self.inputs = inputs
        self.input_names = input_names
        self.constant_leaves = constant_leaves
        self.constant_names = constant_names
        self.constants = [v.data for v in constant_leaves]
        self.aux = aux
        namespace: dict = {}
        exec(compile(source, "<compiled graph>", "exec"), namespace)
        self.forward_backward: Callable = namespace["forward_backward"]
        self.compile_seconds = 0.0  # set by compile_graph: tracing, code generation and exec

    def __call__(self, values: Sequence[float]) -> tuple:
        """``(loss, grads)`` at input ``values`` (``(loss, grads, aux)`` when compiled with ``aux``)."""
        return self.forward_backward(values, self.constants)

    def update(self, constants: Mapping[Value | str, float] | Sequence[float]) -> None:
        """Set constant leaves: a mapping keyed by leaf, label or name, or a full list in order."""
        if not isinstance(constants, Mapping):
            new = [_to_float(x) for x in constants]
            if len(new) != len(self.constants):
                raise ValueError(f"update: expected {len(self.constants)} constants, got {len(new)}")
            self.constants[:] = new
            return
        index: dict = {}
        for i, (leaf, name) in enumerate(zip(self.constant_leaves, self.constant_names)):
            index.setdefault(leaf, i)
            if leaf.label is not None:
                index.setdefault(leaf.label, i)
            index.setdefault(name, i)
        changes = []
        for key, x in constants.items():
            if key not in index:
                raise KeyError(f"update: {key!r} is not a constant leaf of this graph")
            changes.append((index[key], _to_float(x)))
        for i, x in changes:
            self.constants[i] = x

    def __repr__(self) -> str:
        return (f"CompiledGraph(inputs={len(self.inputs)}, constants={len(self.constants)}, "
                f"lines={self.source.count(chr(10))})")


def compile_graph(
    output: Value | Callable[..., Value],
    inputs: Sequence[Value | float],
    aux: Iterable[Value] = (),
    chunk: int = CHUNK,
) -> CompiledGraph:
    """Generate forward and backward code for ``output`` with respect to the leaves ``inputs``.

    ``output`` is a Value (the graph is traced from it) or a function, called once on ``inputs``
    (numbers become leaves labeled by the function's parameter names).  Leaves not in ``inputs``
    are constants.  The values of the nodes in ``aux`` are returned third.
    """
    start = time.perf_counter()
    if not isinstance(output, Value):
        if not callable(output):
            raise TypeError(f"compile_graph: output must be a Value or a function, got {type(output).__name__}")
        output, inputs = _trace(output, inputs)
    inputs = list(inputs)
    _check_inputs(inputs)
    aux = list(aux)
    for a in aux:
        if not isinstance(a, Value):
            raise TypeError(f"compile_graph: aux must hold Values, got {type(a).__name__}")
    graph = _Graph(output, inputs, aux)
    source = graph.source(max(int(chunk), 10))
    f = CompiledGraph(source, inputs, graph.input_names, graph.constants, graph.constant_names, aux)
    f.compile_seconds = time.perf_counter() - start
    return f


def _trace(fn: Callable[..., Value], example: Sequence[Value | float]) -> tuple[Value, list[Value]]:
    """Call ``fn`` once on leaves made from ``example``; return its output and those leaves."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = params + [f"x{i}" for i in range(len(params), len(example))]
    leaves = [x if isinstance(x, Value) else Value(x, label=name) for x, name in zip(example, names)]
    out = fn(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"compile_graph: the function must return a Value, got {type(out).__name__}")
    return out, leaves


def _check_inputs(inputs: list) -> None:
    seen: set[Value] = set()
    for v in inputs:
        if not isinstance(v, Value):
            raise TypeError(f"compile_graph: inputs must be Values, got {type(v).__name__}")
        if v.inputs:
            raise ValueError(f"compile_graph: inputs must be leaves, got a {v.op!r} node ({v!r})")
        if v in seen:
            raise ValueError(f"compile_graph: input listed twice ({v!r})")
        seen.add(v)


# -- names ----------------------------------------------------------------------------------

def _identifier(text: str, fallback: str) -> str:
    """``text`` as a safe identifier: ASCII letters, digits and ``_``; never a keyword or builtin."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or fallback
    if name[0].isdigit() or name.startswith("d_") or keyword.iskeyword(name) or name in _RESERVED:
        name = "v_" + name
    return name


class _Namer:
    """Hands out distinct identifiers, adding ``_2``, ``_3``... on a clash."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name


# -- table expressions -----------------------------------------------------------------------

@functools.cache
def _template(expr: str) -> tuple[str, tuple[str, ...]]:
    """A table expression as a format string over its operand names, and the names it uses."""
    used: list[str] = []

    def hole(m: re.Match) -> str:
        word = m.group()
        if word in ("x", "y", "n", "out", "xs"):
            used.append(word)
            return "{" + word + "}"
        return word

    fmt = _NAME.sub(hole, expr.replace("{", "{{").replace("}", "}}"))
    return fmt, tuple(dict.fromkeys(used))


def _subst(expr: str, env: dict[str, str], reads: list[str] | None = None) -> str:
    """The expression with its operand names replaced by variables (``n`` by a literal)."""
    fmt, used = _template(expr)
    if reads is not None:
        reads += [env[w] for w in used if w != "n"]
    return fmt.format(**env)


def _literal(x: float) -> str:
    text = repr(float(x))
    return f"({text})" if text.startswith("-") else text


def _fold(node: ast.expr, env: dict) -> ast.expr:
    """Decide now the parts of a check that depend only on the constant n."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if not names & {"x", "y", "out", "xs"}:
        return ast.Constant(bool(eval(compile(ast.Expression(node), "<check>", "eval"), env)))
    if isinstance(node, ast.BoolOp):
        stop = isinstance(node.op, ast.Or)  # an always-true term decides an `or`, an always-false one an `and`
        kept = []
        for value in (_fold(v, env) for v in node.values):
            if isinstance(value, ast.Constant):
                if bool(value.value) == stop:
                    return ast.Constant(stop)
                continue
            kept.append(value)
        if not kept:
            return ast.Constant(not stop)
        return kept[0] if len(kept) == 1 else ast.BoolOp(node.op, kept)
    return node


@functools.cache
def _condition(cond: str, n: float | None) -> str | None:
    """The check's condition with n known; None when it always holds."""
    env = {"__builtins__": {}, "int": int, "math": math, "n": n}
    folded = _fold(ast.parse(cond, mode="eval").body, env)
    if isinstance(folded, ast.Constant) and folded.value:
        return None
    return ast.unparse(folded)


@functools.cache
def _loose(expr: str) -> bool:
    """True if ``expr * g`` would bind wrongly without parentheses around ``expr``."""
    node = ast.parse(expr, mode="eval").body
    return isinstance(node, (ast.IfExp, ast.BoolOp, ast.Compare, ast.Lambda, ast.NamedExpr)) or (
        isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)))


def _check_function(op: ops.Op) -> list[str]:
    """``_check_<op>(xs, n)``: the engine's own lines for the op (checks, forward, overflow, locals)."""
    lines = [f"def _check_{op.name}(xs, n):"]
    if op.arity:
        lines.append(f"    {'x, y' if op.arity == 2 else 'x,'} = xs")
    lines += ["    " + line for line in ops.evaluation_lines(op)]
    lines.append("    return out")
    return lines


# -- the generator ----------------------------------------------------------------------------

class _Graph:
    """Names and generated statements of one traced graph."""

    def __init__(self, root: Value, inputs: list[Value], aux: list[Value]) -> None:
        self.root, self.inputs, self.aux = root, inputs, aux
        self.order = topological_order(root)
        self.forward_order = _with_aux(self.order, aux)
        self.ins = {v: v.inputs for v in self.forward_order}  # (read once: a property on Value)
        self.nodes = [v for v in self.forward_order if self.ins[v]]
        input_set = set(inputs)
        self.constants = [v for v in self.forward_order if not self.ins[v] and v not in input_set]
        namer = _Namer()
        readable = node_names(self.forward_order)
        for i, v in enumerate(inputs):
            readable.setdefault(v, v.label if v.label is not None else f"input#{i + 1}")
        self.name: dict[Value, str] = {}
        for v in [*inputs, *self.forward_order]:
            if v not in self.name:
                self.name[v] = namer.take(_identifier(str(readable[v]), v.op or "leaf"))
        self.input_names = [self.name[v] for v in inputs]
        self.constant_names = [self.name[v] for v in self.constants]
        needs = set(input_set)
        for v in self.nodes:
            if any(c in needs for c in self.ins[v]):
                needs.add(v)
        self.needs = needs
        self.grad = {v: namer.take("d_" + self.name[v]) for v in self.order if v in needs}
        self.env = {v: self._env(v) for v in self.nodes}

    def _env(self, v: Value) -> dict[str, str]:
        """What the table's operand names stand for at node ``v``; ``args`` lists the operands' names."""
        op = ops.OPS[v.op]
        args = [self.name[c] for c in self.ins[v]]
        env = {"out": self.name[v], "args": args}
        if op.arity == 0:
            env["xs"] = _tuple(args)
        else:
            env.update(zip(("x", "y"), args))
        if op.param:
            env["n"] = _literal(v.param)
        return env

    # -- forward: domain checks and one line per op; inf / nan is looked for in bulk -----------
    def _forward(self, v: Value) -> _Stmt:
        op, env, out = ops.OPS[v.op], self.env[v], self.name[v]
        args = env["args"]
        lines = []
        for cond, kind, reason in op.checks:
            test = _condition(cond, v.param)
            if test is not None:
                lines.append(f"if not ({_subst(test, env)}): raise {kind.__name__}({reason!r})")
        if op.name == "linear":  # the table's _linear written out: the same additions from 0.0, in order
            k = len(args) // 2
            terms = ["0.0", *(f"{args[i]} * {args[k + i]}" for i in range(k)), args[-1]]
            for i in range(0, len(terms), _TERMS):  # long sums continue on the next line, in the same order
                lines.append(f"{out} = {' + '.join(terms[i:i + _TERMS] if i == 0 else [out, *terms[i:i + _TERMS]])}")
        else:
            lines.append(f"{out} = {_subst(op.forward, env)}")
        return _Stmt(lines, tuple(args), (out,))

    def _finite_checks(self, check: str) -> list[_Stmt]:
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
        terms = [(name, (name,)) for name in names]
        for v in self.nodes:  # an op with a domain (1/x, log x, ...) also checks its local derivatives, as the engine
            if ops.OPS[v.op].checks:
                for i in range(len(self.ins[v])):
                    reads: list[str] = []
                    terms.append((f"({self._local(v, i, reads)})", tuple(reads)))
        stmts = []
        for i in range(0, len(terms), 40):
            group = terms[i:i + 40]
            reads = tuple(dict.fromkeys(name for _, used in group for name in used))
            stmts.append(_Stmt([f"if not -INF < {' + '.join(t for t, _ in group)} < INF: {check}"], reads, ()))
        return stmts

    # -- backward: one line per edge ---------------------------------------------------------
    def _local(self, v: Value, i: int, reads: list[str]) -> str:
        """The expression of d v / d (operand i), as the table computes it."""
        op, env = ops.OPS[v.op], self.env[v]
        if op.arity:
            return _subst(op.local[i], env, reads)
        args = env["args"]
        expr, partner = ops.operand_local(op, i, len(args))
        local_env = {"x": args[i], "out": env["out"], "xs": f"[{', '.join(args)}]"}  # xs: a derivative reading them all
        if partner is not None:
            local_env["y"] = args[partner]
        return _subst(expr, local_env, reads)

    def _backward(self) -> list[_Stmt]:
        """``d_x += local * d_out`` per edge, in the engine's order (reversed topological order)."""
        if self.root not in self.needs:
            return []
        edges: dict[Value, int] = {}
        for v in self.order:
            if v in self.needs:
                for c in self.ins[v]:
                    if c in self.needs:
                        edges[c] = edges.get(c, 0) + 1
        d_root = self.grad[self.root]
        stmts = [_Stmt([f"{d_root} = 1.0"], (), (d_root,))]
        started = {self.root}
        for v in reversed(self.order):
            if v not in self.needs or not self.ins[v]:
                continue
            g = self.grad[v]
            for i, c in enumerate(self.ins[v]):
                if c not in self.needs:
                    continue
                reads = [g]
                local = self._local(v, i, reads)
                first = c not in started
                started.add(c)
                if first and local == "1.0" and edges[c] == 1 and self.ins[c]:
                    self.grad[c] = g  # d c is d v itself: no line, later lines use d v's name
                    continue
                d = self.grad[c]
                if not first:
                    reads.append(d)
                if local == "1.0":
                    line = f"{d} {'=' if first else '+='} {g}"
                elif local == "-1.0":
                    line = f"{d} = -{g}" if first else f"{d} -= {g}"
                else:
                    loose = _loose(local)  # the substituted expression: an n-ary op's conditional too
                    term = f"({local}) * {g}" if loose else f"{local} * {g}"
                    line = f"{d} {'=' if first else '+='} {term}"
                stmts.append(_Stmt([line], tuple(reads), (d,)))
        return stmts

    def _return(self) -> _Stmt:
        # + 0.0 turns a -0.0 into 0.0, as the engine's sums starting from 0.0 do
        grads = [f"{self.grad[v]} + 0.0" if v in self.grad else "0.0" for v in self.inputs]
        reads = [self.name[self.root]] + [self.grad[v] for v in self.inputs if v in self.grad]
        parts = [self.name[self.root], f"[{', '.join(grads)}]"]
        if self.aux:
            parts.append(f"[{', '.join(self.name[a] for a in self.aux)}]")
            reads += [self.name[a] for a in self.aux]
        return _Stmt([f"return {', '.join(parts)}"], tuple(reads), ())

    # -- the slow path's data: the graph and the labels, as strings read only on an error -------
    def _replay_data(self) -> list[str]:
        position = {v: i for i, v in enumerate([*self.inputs, *self.constants, *self.nodes])}
        rows = []
        for v in self.nodes:
            row = " ".join([v.op, *(str(position[c]) for c in self.ins[v])])
            rows.append(row + f" n={v.param!r}" if ops.OPS[v.op].param else row)
        labels = [f"{i}\t{_one_line(repr(v.label))}" for v, i in position.items() if v.label is not None]
        used = sorted({v.op for v in self.nodes})
        lines = ["", ""]
        for name in used:
            lines += [*_check_function(ops.OPS[name]), "", ""]
        lines.append(f"_CHECKS = {{{', '.join(f'{n!r}: _check_{n}' for n in used)}}}")
        lines.append("# The graph for _check_forward: one op per row with the positions of its operands in")
        lines.append("# [*inputs, *constants, *results so far]; and the operands' labels (position, tab, label).")
        lines.append(f"GRAPH = {ascii(chr(10).join(rows))}")
        lines.append(f"LABELS = {ascii(chr(10).join(labels))}")
        return lines

    # -- the module ------------------------------------------------------------------------------
    def source(self, chunk: int) -> str:
        root = self.name[self.root]
        ni, nc = len(self.input_names), len(self.constant_names)
        forward = [self._forward(v) for v in self.nodes]
        backward = self._backward()
        ret = self._return()
        single = sum(len(s.lines) for s in [*forward, *backward]) + len(forward) // 40 <= chunk
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
            body += ["    " + line for s in forward for line in s.lines]
            if backward:
                body.append(f"    # backward: d_x is d {root} / d x; one line per edge, in reverse topological order")
                body += ["    " + line for s in backward for line in s.lines]
            body += catch + ret.lines
            lines = head + ["", "def forward_backward(inputs, constants):", *("    " + b for b in body)]
        else:
            parts = _parts([*forward, *backward, ret], chunk, self.input_names + self.constant_names)
            lines = head + [line for part in parts[:-1] for line in part]
            lines += [
                "def forward_backward(inputs, constants):",
                "    " + doc,
                "    S = [*inputs, *constants]",
                f"    if len(inputs) != {ni} or len(S) != {ni + nc}:",
                f"        raise ValueError('expected {ni} inputs and {nc} constants, got '"
                " + str(len(inputs)) + ' and ' + str(len(constants)))",
                f"    S += [0.0] * {parts[-1][0]}",
                "    try:",
                *(f"        _part_{k + 1}(S)" for k in range(len(parts) - 2)),
                f"        return _part_{len(parts) - 1}(S)",
                *("    " + c for c in catch),
            ]
        lines += self._replay_data()
        lines += _CHECK_SOURCE.rstrip().split("\n")
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


def _parts(stmts: list[_Stmt], chunk: int, preset: list[str]) -> list[list]:
    """Split ``stmts`` into functions ``_part_k(S)``; a value used in several lives in ``S[slot]``.

    Inside a function such a value is a local when it is used _LOCAL_USES times or more (loaded at
    the top, stored at the end), else it is written ``S[slot]`` in place.  ``preset`` names already sit in
    S[0], S[1], ...  Returns each function's lines, then ``[number of further slots S needs]``.
    """
    parts: list[list[_Stmt]] = [[]]
    size = 0
    for s in stmts:
        if size >= chunk:
            parts.append([])
            size = 0
        parts[-1].append(s)
        size += len(s.lines)
    slot = {name: i for i, name in enumerate(preset)}
    home: dict[str, int] = {}
    uses: list[dict[str, int]] = []
    for k, part in enumerate(parts):
        count: dict[str, int] = {}
        for s in part:
            for name in (*s.reads, *s.writes):
                count[name] = count.get(name, 0) + 1
                if home.setdefault(name, k) != k and name not in slot:
                    slot[name] = len(slot)
        uses.append(count)
    out: list[list] = []
    for k, part in enumerate(parts):
        written = {name for s in part for name in s.writes}
        where, loads, stores = {}, [], []
        for name, n in uses[k].items():
            if name not in slot:
                continue
            cell = f"S[{slot[name]}]"
            if n < _LOCAL_USES:
                where[name] = cell
                continue
            if home[name] != k or slot[name] < len(preset):
                loads.append(f"    {name} = {cell}")
            if name in written:
                stores.append(f"    {cell} = {name}")

        def place(m: re.Match, where: dict = where) -> str:
            word = m.group()
            return where.get(word, word)  # a quoted message stays as it is: no key starts with a quote

        body = "\n".join("    " + line for s in part for line in s.lines)
        out.append([f"def _part_{k + 1}(S):", *loads, _SLOTTED.sub(place, body) if where else body, *stores, "", ""])
    out.append([len(slot) - len(preset)])
    return out


def _one_line(text: str) -> str:
    return text.replace("\n", "\\n").replace("\t", "\\t")


def _tuple(items: list[str]) -> str:
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"


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
