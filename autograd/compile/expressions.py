"""The op table's expressions as code templates: operands, ``out`` and ``n`` become holes to fill with names.

A template is a ``str.format`` string whose holes ``{0}, {1}, ...`` stand for the names it reads, in
``refs`` (an operand's position, or ``OUT`` for the op's result); ``n`` is filled in by the caller.
An n-ary op's derivative with respect to one operand is specialized for that operand's position and the
number of operands (``i`` and ``len(xs)`` become numbers, ``xs[k]`` an operand's name).
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Callable
from typing import NamedTuple

from ..core import ops

OUT = -1  # in Template.refs: the op's result
TERMS = 64  # terms per line of a long sum (CPython's compiler recurses into a chain of +)
_HOLE = re.compile(r"__(\d+|out|n)__")


class Template(NamedTuple):
    fmt: str  # holes {0}, {1}, ... for the names in refs; {n} for the constant parameter
    refs: tuple[int, ...]  # what each hole reads: an operand position, or OUT
    loose: bool  # ``fmt * g`` would bind wrongly without parentheses around fmt
    constant: str | None  # the expression when it is a number ("1.0", "-1.0")


def literal(x: float) -> str:
    """A float as source text that reads back as the same float inside any expression."""
    text = repr(float(x))
    return f"({text})" if text.startswith("-") else text


class _Holes(ast.NodeTransformer):
    """Operand names, ``xs[k]``, ``xs``, ``out`` and ``n`` replaced by hole markers ``__<what>__``."""

    def __init__(self, names: dict[str, int], count: int) -> None:
        self.names, self.count = names, count

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.names:
            return ast.Name(f"__{self.names[node.id]}__", ast.Load())
        if node.id in ("out", "n"):
            return ast.Name(f"__{node.id}__", ast.Load())
        if node.id == "xs":
            return ast.Tuple([ast.Name(f"__{k}__", ast.Load()) for k in range(self.count)], ast.Load())
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if (isinstance(node.value, ast.Name) and node.value.id == "xs" and isinstance(node.slice, ast.Constant)
                and type(node.slice.value) is int and -self.count <= node.slice.value < self.count):
            return ast.Name(f"__{node.slice.value % self.count}__", ast.Load())
        return self.generic_visit(node)


def _loose(node: ast.expr) -> bool:
    return isinstance(node, (ast.IfExp, ast.BoolOp, ast.Compare, ast.Lambda, ast.NamedExpr)) or (
        isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub))) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not))


@functools.cache
def template(expr: str, count: int, index: int | None = None) -> Template:
    """``expr`` over ``count`` operands as a Template: ``x`` (and ``y``) are operands 0 (and 1), or, for an
    n-ary op's per-operand derivative, ``x`` is operand ``index``; ``xs`` is the tuple of all operands."""
    names = {"x": 0, "y": 1} if index is None else {"x": index}
    tree = _Holes(names, count).visit(ast.parse(expr, mode="eval"))
    text = ast.unparse(ast.fix_missing_locations(tree)).replace("{", "{{").replace("}", "}}")
    refs: dict[int, int] = {}  # operand (or OUT) -> its hole

    def hole(m: re.Match) -> str:
        what = m.group(1)
        if what == "n":
            return "{n}"
        ref = OUT if what == "out" else int(what)
        return "{" + str(refs.setdefault(ref, len(refs))) + "}"

    fmt = _HOLE.sub(hole, text)
    body = tree.body
    number = isinstance(body.operand if isinstance(body, ast.UnaryOp) else body, ast.Constant)
    return Template(fmt, tuple(refs), _loose(body), fmt if number and not refs else None)


@functools.cache
def local_template(op: ops.Op, index: int, count: int) -> Template:
    """d out / d operand ``index`` of an ``op`` node with ``count`` operands."""
    if op.arity:
        return template(op.local[index], count)
    return local_templates(op, count)[index]


@functools.cache
def local_templates(op: ops.Op, count: int) -> tuple[Template, ...]:
    """d out / d each operand of an ``op`` node with ``count`` operands.

    An n-ary op's ``local_all`` (what the engine evaluates) is traced on symbols when it is plain
    arithmetic (``linear``: operands and 1.0), in one pass; otherwise each operand's ``local`` is specialized.
    """
    if op.arity:
        return tuple(template(e, count) for e in op.local)
    env = ops.namespace()
    env["xs"] = [_Symbol(("name", k)) for k in range(count)]
    env["out"] = _Symbol(("name", OUT))
    try:
        result = eval(op.local_all, env)
        trees = [_lift(x) for x in result]
    except Exception:  # noqa: BLE001 - not arithmetic on the operands (math.exp, a comparison): one at a time
        trees = None
    if trees is None or len(trees) != count:
        return tuple(template(ops.operand_expression(op, i, count), count, i) for i in range(count))
    return tuple(_tree_template(tree) for tree in trees)


def _tree_template(tree: tuple) -> Template:
    """A traced expression as a Template."""
    if tree[0] == "neg" and tree[1][0] == "const":
        tree = ("const", -tree[1][1])
    refs: dict[int, int] = {}

    def hole(ref: int) -> str:
        return "{" + str(refs.setdefault(ref, len(refs))) + "}"

    fmt = _text(tree, 0, hole)
    constant = repr(float(tree[1])) if tree[0] == "const" else None
    return Template(fmt, tuple(refs), tree[0] in ("+", "-"), constant)


# -- conditions that depend only on the constant parameter are decided at compile time --------------
def _fold(node: ast.expr, env: dict) -> ast.expr:
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


def condition(cond: str, n: float | None) -> str | None:
    """The check's condition with n known; None when it always holds."""
    return _condition(cond, None if n is None else repr(n))


@functools.cache
def _condition(cond: str, key: str | None) -> str | None:
    env = {"__builtins__": {}, "int": int, "math": math, "n": None if key is None else float(key)}
    folded = _fold(ast.parse(cond, mode="eval").body, env)
    if isinstance(folded, ast.Constant) and folded.value:
        return None
    return ast.unparse(folded)


# -- an n-ary forward written out: the op's own arithmetic, traced on symbols -------------------------
class _Untraceable(TypeError):
    pass


class _Symbol:
    """An operand or partial result while a forward expression runs on symbols: records +, -, *, /."""

    __slots__ = ("tree",)

    def __init__(self, tree: tuple) -> None:
        self.tree = tree

    def _bin(self, op: str, left: object, right: object) -> _Symbol:
        return _Symbol((op, _lift(left), _lift(right)))

    def __add__(self, o): return self._bin("+", self, o)
    def __radd__(self, o): return self._bin("+", o, self)
    def __sub__(self, o): return self._bin("-", self, o)
    def __rsub__(self, o): return self._bin("-", o, self)
    def __mul__(self, o): return self._bin("*", self, o)
    def __rmul__(self, o): return self._bin("*", o, self)
    def __truediv__(self, o): return self._bin("/", self, o)
    def __rtruediv__(self, o): return self._bin("/", o, self)
    def __neg__(self): return _Symbol(("neg", self.tree))

    def _refuse(self, *args):
        raise _Untraceable("not straight arithmetic")

    __bool__ = __float__ = __int__ = __index__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __pow__ = __rpow__ = __abs__ = __round__ = _refuse
    __hash__ = None


def _lift(x: object) -> tuple:
    if isinstance(x, _Symbol):
        return x.tree
    if type(x) in (int, float):
        return ("const", x)
    raise _Untraceable(type(x).__name__)


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "name": 4, "const": 4}


def _text(tree: tuple, need: int = 0, hole: Callable[[int], str] | None = None) -> str:
    """Source for ``tree``, parenthesized where the operator binds less tightly than ``need``; ``hole(k)`` is
    the text of operand ``k`` (default ``{k}``)."""
    kind = tree[0]
    if kind == "name":
        return hole(tree[1]) if hole else "{" + str(tree[1]) + "}"
    if kind == "const":
        return literal(tree[1]) if isinstance(tree[1], float) else repr(tree[1]) if tree[1] >= 0 else f"({tree[1]!r})"
    if kind == "neg":
        text = "-" + _text(tree[1], 3, hole)
    else:
        p = _PRECEDENCE[kind]
        # a right operand of the same level gets ( )
        text = f"{_text(tree[1], p, hole)} {kind} {_text(tree[2], p + 1, hole)}"
    return f"({text})" if _PRECEDENCE[kind] < need else text


@functools.cache
def forward_lines(op: ops.Op, count: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Lines computing an n-ary ``op``'s result from ``count`` operands, and what their holes read.

    When the forward is plain arithmetic on the operands (``_linear``), it is written out, the same
    operations in the same order; otherwise it is the table's expression, called on a tuple.
    """
    env = ops.namespace()
    env["xs"] = [_Symbol(("name", k)) for k in range(count)]
    try:
        tree = _lift(eval(op.forward, env))
    except Exception:  # noqa: BLE001 - anything but arithmetic (fsum, max, a comparison): not written out
        t = template(op.forward, count)
        return (f"{{{len(t.refs)}}} = {t.fmt}",), (*t.refs, OUT)
    out = "{" + str(count) + "}"
    terms = []
    while tree[0] in ("+", "-"):  # the left spine of a long sum, split over lines
        terms.append((tree[0], tree[2]))
        tree = tree[1]
    terms.append(("", tree))
    terms.reverse()
    lines = []
    for start in range(0, len(terms), TERMS):
        parts = [] if start == 0 else [out]
        for sign, t in terms[start:start + TERMS]:
            parts.append(f"{sign} {_text(t, 2)}" if parts else _text(t, 1))
        lines.append(f"{out} = {' '.join(parts)}")
    return tuple(lines), (*range(count), OUT)
