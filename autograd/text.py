"""Text for readers: numbers, node expressions and derivative formulas written in the graph's own names.

A derivative formula comes from the op table (``formula``, else the ``local`` expression), is parsed with
``ast``, has its placeholders (``x``, ``y``, ``n``, ``out``, ``i``, ``xs``) replaced by the operands' texts
and is printed back with as few parentheses as its precedence needs, constants folded
(``0.5 * 2 * (target_o1 - out_o1) * -1`` reads ``-(target_o1 - out_o1)``).
"""

from __future__ import annotations

import ast
import functools
import io
import keyword
import math
import re
import tokenize
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from .core import ops
from .core.fold import MAX_CHAINS, FoldedEdge
from .core.value import Value

if TYPE_CHECKING:
    from .core.graph import Graph

ATOM, POWER, PRODUCT, SUM, COMPARE, CONDITION = 4, 3, 2, 1, 0, -1  # how tightly a text binds

Text = tuple[str, int]  # a text and its precedence
Operand = Callable[[Value], Text]


# -- numbers ----------------------------------------------------------------------------------------
def format_number(x: float, precision: int = 9) -> str:
    """``x`` for reading: exact short numbers as they are (``1``, ``0.05``); else ``precision`` decimals
    when 1e-4 <= |x| < 1 (``0.082167041``, as the hand derivation prints), ``precision`` significant digits otherwise.
    """
    exact = _exact(x, precision)
    if exact is not None:
        return exact
    if 1e-4 <= abs(x) < 1:
        return f"{x:.{precision}f}"
    return f"{x:.{precision}g}"


def number_text(x: float) -> str:
    """A constant as a reader writes it: ``2``, ``0.5``, ``1.0000001`` (exact up to 9 significant digits, else 6)."""
    exact = _exact(x, 9)
    return exact if exact is not None else f"{x:.6g}"


def _exact(x: float, digits: int) -> str | None:
    """``x`` written exactly when that takes at most ``digits`` significant digits (inf and nan as they are)."""
    if not math.isfinite(x):
        return repr(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    short = repr(x)
    if "e" not in short and len(short.lstrip("-0.").replace(".", "")) <= digits:
        return short
    return None


# -- node expressions -------------------------------------------------------------------------------
def operand_text(v: Value, names: dict[Value, str]) -> Text:
    """How an operand reads, and its precedence: its name, or its number for an unlabeled leaf."""
    if v.label is None and not v.inputs:
        return number_text(v.data), ATOM if v.data >= 0 else PRODUCT
    return names[v], ATOM


def expression(v: Value, names: dict[Value, str]) -> str:
    """How ``v`` reads from its inputs' names, e.g. ``0.5 * pow_const#1`` or ``E_o1 + E_o2``."""
    if not v.inputs:
        return names[v]
    return show(v, [operand_text(c, names) for c in v.inputs])[0]


def fill(v: Value, names: dict[Value, str], is_atom: Callable[[Value], bool],
         fit: Callable[[Value, Text], Text], memo: dict | None = None) -> Text:
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
            memo[u] = fit(u, show(u, [memo[c] for c in u.inputs]))
    return memo[v]


def wrap(text: Text, need: int) -> str:
    """The text, in parentheses when it binds less tightly than ``need``."""
    return text[0] if text[1] >= need else f"({text[0]})"


def show(v: Value, args: Sequence[Text]) -> Text:
    """The node as its op's display template reads, filled with the operand texts ``args``."""
    tree = show_tree(v, args)
    if tree is not None:
        return _print(tree)
    op = ops.OPS[v.op]  # a template that is not an expression (|{x}|): fill it as text
    fills = {"x": args[0][0], "y": args[1][0] if op.arity == 2 else "", "n": number_text(v.param or 0.0),
             "xs": ", ".join(a[0] for a in args)}
    return op.show.format(**fills), ATOM


def show_tree(v: Value, args: Sequence[Text]) -> object | None:
    """``show`` as an expression tree (None for a template that is not an expression)."""
    op = ops.OPS[v.op]
    template = _show_tree(op.show)
    if template is None:
        return None
    env: dict[str, object] = {"xs": [_atom(a) for a in args]} if op.arity == 0 else {"x": _atom(args[0])}
    if op.arity == 2:
        env["y"] = _atom(args[1])
    if op.param:
        env["n"] = float(v.param)
    try:
        tree = _evaluate(template, env, fold=False)
        _print(tree)
        return tree
    except (ValueError, TypeError, KeyError, IndexError, _Placeholder):
        return None


@functools.cache
def _show_tree(template: str) -> ast.expr | None:
    try:
        return _parse(template.replace("{", "").replace("}", ""))
    except (SyntaxError, ValueError, tokenize.TokenError):
        return None


# -- derivative formulas ----------------------------------------------------------------------------
def term_formula(child: Value, i: int, names: dict[Value, str], operand: Operand | None = None,
                 limit: int | None = None) -> str:
    """d child / d (input ``i``) with the operands written in (``w5``, ``out_o1 * (1 - out_o1)``);
    ``operand(x)`` gives an operand's text and precedence (default ``operand_text``: its name or number).
    Longer than ``limit``, the operands are written by their names instead.
    """
    text = _print(term_tree(child, i, names, operand))[0]
    if limit is not None and len(text) > limit and operand is not None:
        text = _print(term_tree(child, i, names))[0]
    return text


def edge_formula(child: Value, parent: Value, names: dict[Value, str], operand: Operand | None = None,
                 limit: int | None = None, positions: Sequence[int] | None = None) -> str:
    """d child / d parent for one real edge, the sum of ``term_formula`` over the positions of ``parent``
    (``positions``: where it stands among ``child``'s inputs, if known: ``Graph.positions``)."""
    text = _print(edge_tree(child, parent, names, operand, positions))[0]
    if limit is not None and len(text) > limit and operand is not None:
        text = _print(edge_tree(child, parent, names, positions=positions))[0]
    return text


def product_formula(factors: Sequence[object]) -> str:
    """The product of derivative trees (``edge_tree``), simplified: the formula of a folded chain.

    The same as multiplying them one by one with ``_mul``, but each factor is flattened once (a long chain
    costs its length, not its square).
    """
    coef, rest = 1.0, []
    for f in factors:
        coef = _factors(f, rest, coef)
        if coef == 0.0:
            rest.clear()
        elif len(rest) == 1 and rest[0][0] == "/" and _number(rest[0][1]):  # what _mul does: 2 * (1 / y) is 2 / y
            single = _div(coef * rest[0][1], rest[0][2])
            rest.clear()
            coef = _factors(single, rest, 1.0)
    return _print(_product(coef, rest))[0]


def is_one(child: Value, i: int) -> bool:
    """True when d child / d (input ``i``) is the number 1 whatever the operands are (a sum's term)."""
    tree = term_tree(child, i, _ANY_NAME, lambda x: ("?", ATOM))
    return _number(tree) and tree == 1


class _AnyName(dict):
    def __missing__(self, key: object) -> str:
        return "?"


_ANY_NAME = _AnyName()


def edge_tree(child: Value, parent: Value, names: dict[Value, str], operand: Operand | None = None,
              positions: Sequence[int] | None = None) -> object:
    """``edge_formula`` as an expression tree (for ``product_formula``)."""
    if positions is None:
        positions = [i for i, x in enumerate(child.inputs) if x is parent]
    total: object = 0.0
    for i in positions:
        total = _add(total, term_tree(child, i, names, operand))
    return total


def term_tree(child: Value, i: int, names: dict[Value, str], operand: Operand | None = None) -> object:
    """``term_formula`` as an expression tree."""
    op = ops.OPS[child.op]
    make = (lambda x: _leaf(x, names)) if operand is None else (lambda x: _atom(operand(x)))
    env: dict[str, object] = {"out": ("atom", names[child], ATOM)}
    if op.arity:  # one or two operands: both texts (a formula reads them)
        ins = child.inputs
        env["x"] = make(ins[0])
        if op.arity == 2:
            env["y"] = make(ins[1])
    else:  # n operands, each made when the formula reads it
        texts = Operands(child.inputs, make)
        env.update(x=texts[i], i=i, xs=texts)
    if op.param:
        env["n"] = float(child.param)
    own = _show_tree(op.show) if child.label is not None and op.arity else None
    sources = _sources(op, i)
    for source in sources:
        try:
            tree = _parse(source)
            value = _evaluate(tree, env, own)
            if isinstance(value, list):  # an n-ary op's tuple of every operand's derivative
                value = value[i]
            _print(value)
            return value
        except (SyntaxError, ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, OverflowError,
                tokenize.TokenError, _Placeholder):
            continue
    return ("atom", sources[0], SUM)


def _sources(op: ops.Op, i: int) -> list[str]:
    """What to read d out / d operand ``i`` from: the reader's formula, then the engine's expression (an n-ary
    op's read with ``i`` and ``len(xs)`` as they are at the node)."""
    k = i if op.arity else 0
    return [op.formula[k], op.local[k]]


class Operands:
    """A node's operand texts as trees, each made on first use: a wide node's formula reads one or two."""

    __slots__ = ("inputs", "make", "made")

    def __init__(self, inputs: Sequence[Value], make: Callable[[Value], object]) -> None:
        self.inputs, self.make, self.made = inputs, make, {}

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, k: int | slice) -> object:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self.inputs)))]
        k = range(len(self.inputs))[k]  # a negative index counts from the end; out of range: IndexError
        if k not in self.made:
            self.made[k] = self.make(self.inputs[k])
        return self.made[k]

    def __iter__(self):
        return (self[k] for k in range(len(self.inputs)))


def _leaf(x: Value, names: dict[Value, str]) -> object:
    if x.label is None and not x.inputs:
        return float(x.data)
    return ("atom", names[x], ATOM)


def _atom(text: Text) -> object:
    """An operand text as a tree: a number stays a number (so that constants fold)."""
    try:
        value = float(text[0])
    except ValueError:
        return ("atom", text[0], text[1])
    return value if math.isfinite(value) else ("atom", text[0], text[1])


# -- folded edges -----------------------------------------------------------------------------------
MAX_TEXT = 60  # an unlabeled node reads as its expression up to this length, else as its name


class FoldedTexts:
    """The formula of each edge of one folded view (``Graph.folded``), in the graph's names; every operand's
    text is made once and shared by the edges that read it."""

    def __init__(self, graph: Graph, kept: Collection[Value]) -> None:
        self.graph, self.kept, self.names = graph, kept, graph.names
        self._memo: dict[Value, Text] = {}
        self._formulas: dict[tuple[Value, Value], str] = {}  # one folded edge per (child, parent) in a view

    def formula(self, e: FoldedEdge) -> str:
        """``e``'s formula: the op's own for a real edge, a product per chain (summed) for a folded one."""
        key = (e.child, e.parent)
        text = self._formulas.get(key)
        if text is None:
            text = self._formulas[key] = self._formula(e)
        return text

    def _formula(self, e: FoldedEdge) -> str:
        k, p, g = e.child, e.parent, self.graph
        if not e.chains:
            if e.count == 1:
                return f"product of the {e.depth - 1} local derivatives along the chain"
            more = "more than " if e.count > MAX_CHAINS else ""
            return f"sum over {more}{min(e.count, MAX_CHAINS)} chains"
        if e.chains == ((k, p),):
            return edge_formula(k, p, self.names, positions=g.positions(k, p))
        return " + ".join(product_formula([edge_tree(u, c, self.names, self._operand, positions=g.positions(u, c))
                                           for u, c in zip(chain, chain[1:])]) for chain in e.chains)

    def _operand(self, x: Value) -> Text:
        """``x`` as an expression of kept nodes and constants (its name when that grows long)."""
        names, kept = self.names, self.kept
        return fill(x, names, lambda u: u in kept or u.label is not None or u._a is None,
                    lambda u, text: text if len(text[0]) <= MAX_TEXT else (names[u], ATOM), self._memo)


# -- parsing ----------------------------------------------------------------------------------------
class _Placeholder(Exception):
    """A formula names something other than the operands (``x_i``, ``w_i``): read the next source."""


@functools.cache
def _parse(source: str) -> ast.expr:
    """A formula as a Python expression tree: ``^`` is a power, ``2 sqrt(x)`` and ``f(x) (1 - f(x))`` products."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT)]
    out: list[str] = []
    prev = None
    for t in tokens:
        text = "**" if t.string == "^" else t.string
        if prev is not None and _ends_operand(prev) and _starts_operand(t) and not (
                prev.type == tokenize.NAME and t.string == "("):
            out.append("*")
        out.append(text)
        prev = t
    return ast.parse(" ".join(out), mode="eval").body


def _ends_operand(t: tokenize.TokenInfo) -> bool:
    return (t.type == tokenize.NAME and not keyword.iskeyword(t.string)) or t.type == tokenize.NUMBER or t.string == ")"


def _starts_operand(t: tokenize.TokenInfo) -> bool:
    return (t.type == tokenize.NAME and not keyword.iskeyword(t.string)) or t.type == tokenize.NUMBER or t.string == "("


_FUNCTIONS = {"log": "ln", "_sigmoid": "sigmoid", "_softplus": "softplus"}
_CMP = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}


def _evaluate(node: ast.expr, env: dict[str, object], own: ast.expr | None = None, fold: bool = True) -> object:
    """``node`` with ``env``'s values put in and constants folded: a number, a list or a tree.

    ``own`` (the op's display template): a part of the formula equal to it reads as ``out``; ``fold=False``
    keeps every operation as written (a node's own expression: ``x * 1`` stays).
    Trees: ``("atom", text, prec)``, ``(op, a, b)`` for ``+ - * / ^``, ``("neg", a)``, ``("call", name, args)``,
    ``("cmp", a, op, b)``, ``("if", body, test, orelse)``.
    """
    if own is not None and isinstance(node, (ast.Call, ast.BinOp)) and ast.dump(node) == ast.dump(own):
        return env["out"]

    def ev(n: ast.expr) -> object:
        return _evaluate(n, env, own, fold)

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ValueError(f"not a number: {node.value!r}")
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise _Placeholder(node.id)
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        value = ev(node.operand)
        if isinstance(node.op, ast.USub):
            return _neg(value) if fold or type(value) is int else ("neg", value)
        if isinstance(node.op, ast.UAdd):
            return value
        if isinstance(node.op, ast.Not) and _is_number(value):
            return not value
        raise ValueError("unsupported unary operator")
    if isinstance(node, ast.BinOp):
        a, b = ev(node.left), ev(node.right)
        if isinstance(node.op, ast.Mult) and (isinstance(a, list | Operands) or isinstance(b, list | Operands)):
            items, times = (a, b) if isinstance(a, list | Operands) else (b, a)
            return list(items) * int(times)
        if isinstance(node.op, ast.Add) and isinstance(a, list) and isinstance(b, list):
            return a + b
        if isinstance(node.op, ast.FloorDiv) and _is_number(a) and _is_number(b):
            return a // b
        if isinstance(node.op, ast.Mod) and _is_number(a) and _is_number(b):
            return a % b
        kind = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}.get(type(node.op))
        if kind is None:
            raise ValueError("unsupported operator")
        if fold or (type(a) is int and type(b) is int):  # index arithmetic (len(xs) // 2 + i) always folds
            return _MAKERS[kind](a, b)
        return (kind, a, b)
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _CMP:
            raise ValueError("unsupported comparison")
        a, b = ev(node.left), ev(node.comparators[0])
        sign = _CMP[type(node.ops[0])]
        if _is_number(a) and _is_number(b):
            return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b, "==": a == b, "!=": a != b}[sign]
        return ("cmp", a, sign, b)
    if isinstance(node, ast.BoolOp):
        values = [ev(v) for v in node.values]
        if not all(_is_number(v) for v in values):
            raise ValueError("a symbolic 'and' / 'or'")
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.IfExp):
        test = ev(node.test)
        if _is_number(test):
            return ev(node.body) if test else ev(node.orelse)
        return ("if", ev(node.body), test, ev(node.orelse))
    if isinstance(node, (ast.Tuple, ast.List)):
        items: list[object] = []
        for e in node.elts:
            if isinstance(e, ast.Starred):
                items.extend(_as_list(ev(e.value)))
            else:
                items.append(ev(e))
        return items
    if isinstance(node, ast.Subscript):
        seq = _as_list(ev(node.value))
        if isinstance(node.slice, ast.Slice):
            bounds = [None if s is None else _index(ev(s)) for s in (node.slice.lower, node.slice.upper,
                                                                       node.slice.step)]
            return seq[slice(*bounds)]
        return seq[_index(ev(node.slice))]
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        (gen,) = node.generators
        if gen.ifs or not isinstance(gen.target, ast.Name):
            raise ValueError("unsupported comprehension")
        return [_evaluate(node.elt, {**env, gen.target.id: item}, own, fold) for item in _as_list(ev(gen.iter))]
    if isinstance(node, ast.Call):
        name = _function_name(node.func)
        args = [ev(a) for a in node.args]
        if name in ("tuple", "list") and len(args) == 1:
            return _as_list(args[0])
        if name == "len" and len(args) == 1:
            return len(_as_list(args[0]))
        if name in ("float", "int") and len(args) == 1 and _is_number(args[0]):
            return float(args[0]) if name == "float" else int(args[0])
        if name == "float" and len(args) == 1:
            return args[0]
        if name in ("abs", "max", "min") and args and all(_is_number(a) for a in args):
            return {"abs": abs, "max": max, "min": min}[name](*args)
        if name == "range" and len(args) == 1:
            return list(range(_index(args[0])))
        if name == "sum" and len(args) == 1:  # an operand list added up, kept flat: a + b + c
            items = list(_as_list(args[0]))
            if fold:
                constant = math.fsum(a for a in items if _number(a))
                items = [a for a in items if not _number(a)] + ([constant] if constant or not items else [])
            if not items:
                return 0.0
            return items[0] if len(items) == 1 else ("sum", items)
        spread = [x for a in args for x in (a if isinstance(a, list | Operands) else [a])]  # f(xs): f(a, b, c)
        return ("call", _FUNCTIONS.get(name, name.lstrip("_")), tuple(spread))
    raise ValueError(f"unsupported expression {type(node).__name__}")


def _function_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "math":
        return func.attr
    raise ValueError("unsupported function")


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float))


def _as_list(x: object) -> list | Operands:
    if not isinstance(x, list | Operands):
        raise TypeError("not a sequence")
    return x


def _index(x: object) -> int:
    if not _is_number(x) or x != int(x):
        raise TypeError("not an index")
    return int(x)


# -- simplifying constructors -----------------------------------------------------------------------
def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _factors(x: object, into: list, coef: float) -> float:
    """Collect the factors of a product into ``into``; return the numeric coefficient times ``coef``."""
    stack = [x]
    while stack:
        t = stack.pop()
        if _number(t):
            coef *= t
        elif isinstance(t, tuple) and t[0] == "neg":
            coef = -coef
            stack.append(t[1])
        elif isinstance(t, tuple) and t[0] == "*":
            stack.append(t[2])
            stack.append(t[1])
        else:
            into.append(t)
    return coef


def _mul(a: object, b: object) -> object:
    if _number(a) and _number(b):
        return a * b
    rest: list = []
    return _product(_factors(b, rest, _factors(a, rest, 1.0)), rest)


def _product(coef: float, rest: list) -> object:
    """``coef`` times the factors ``rest``, as a tree."""
    if coef == 0.0 or not rest:
        return float(coef)
    product = rest[0]
    for f in rest[1:]:
        product = ("*", product, f)
    if len(rest) == 1 and product[0] == "/" and _number(product[1]):  # 2 * (1 / y) reads 2 / y
        return _div(coef * product[1], product[2])
    if coef == 1.0:
        return product
    if coef == -1.0:
        return ("neg", product)
    return ("*", float(coef), product)


def _neg(a: object) -> object:
    if isinstance(a, tuple) and a[0] == "-":
        return ("neg", a)  # -(t - o), as the hand derivation writes it
    return _mul(-1.0, a)


def _add(a: object, b: object) -> object:
    if _number(a) and _number(b):
        return a + b
    if _number(a) and a == 0:
        return b
    if _number(b) and b == 0:
        return a
    if _number(b) and b < 0:
        return ("-", a, -b)
    if isinstance(b, tuple) and b[0] == "neg":
        return _sub(a, b[1])
    if isinstance(a, tuple) and a[0] == "neg":
        return _sub(b, a[1])
    return ("+", a, b)


def _sub(a: object, b: object) -> object:
    if _number(a) and _number(b):
        return a - b
    if _number(b) and b == 0:
        return a
    if _number(a) and a == 0:
        return _neg(b)
    if _number(b) and b < 0:
        return ("+", a, -b)
    if isinstance(b, tuple) and b[0] == "neg":
        return _add(a, b[1])
    return ("-", a, b)


def _div(a: object, b: object) -> object:
    if _number(a) and _number(b) and b != 0:
        return a / b
    if _number(b) and b == 1:
        return a
    if _number(a) and a == 0:
        return 0.0
    return ("/", a, b)


def _pow(a: object, b: object) -> object:
    if _number(b) and b == 1:
        return a
    if _number(b) and b == 0:
        return 1.0
    if _number(a) and _number(b):
        try:
            value = a ** b
        except (OverflowError, ZeroDivisionError):
            value = None
        if isinstance(value, (int, float)) and math.isfinite(value):
            return value
    return ("^", a, b)


_MAKERS = {"+": _add, "-": _sub, "*": _mul, "/": _div, "^": _pow}


# -- printing ---------------------------------------------------------------------------------------
_SPINES = {"+": ("+", "-"), "-": ("+", "-"), "*": ("*", "/"), "/": ("*", "/")}  # left-associative families
def _spine(t: tuple) -> tuple[object, list[tuple[str, object]]]:
    """``a + b - c`` (a left-deep tree of one precedence family) as ``a`` and ``[("+", b), ("-", c)]``, walked
    without recursion, so that a sum or product of any length prints."""
    family = _SPINES[t[0]]
    rights = []
    while isinstance(t, tuple) and t[0] in family:
        rights.append((t[0], t[2]))
        t = t[1]
    rights.reverse()
    return t, rights


_NEEDS = {"+": (SUM, SUM, SUM), "-": (SUM, SUM, PRODUCT), "*": (PRODUCT, PRODUCT, PRODUCT),
          "/": (PRODUCT, PRODUCT, POWER), "^": (POWER, ATOM, ATOM)}  # op: (own precedence, left, right)


def _print(t: object) -> Text:
    """A tree as text with the parentheses its precedence needs."""
    if isinstance(t, bool):
        return ("1" if t else "0"), ATOM
    if _number(t):
        return number_text(float(t)), ATOM if t >= 0 else PRODUCT
    if isinstance(t, list):
        raise TypeError("a list is not a formula")
    kind = t[0]
    if kind == "atom":
        return t[1], t[2]
    if kind in _SPINES:  # a + b - c * ...: walk the left spine without recursion (long sums and products)
        family = _SPINES[kind]
        left = t[1]
        if not (isinstance(left, tuple) and left[0] in family):  # one operator, the common case
            prec, need_left, need_right = _NEEDS[kind]
            return f"{wrap(_print(left), need_left)} {kind} {wrap(_print(t[2]), need_right)}", prec
        t, rights = _spine(t)
        prec = _NEEDS[kind][0]
        parts = [wrap(_print(t), prec)]
        for op, right in rights:
            parts.append(f" {op} {wrap(_print(right), _NEEDS[op][2])}")
        return "".join(parts), prec
    if kind == "^":
        return f"{wrap(_print(t[1]), ATOM)}^{wrap(_print(t[2]), ATOM)}", POWER
    if kind == "sum":  # the operand list of sum(xs), flat
        return " + ".join(wrap(_print(a), SUM) for a in t[1]), SUM
    if kind == "neg":  # -(a * b) reads -a * b; -(a - b) keeps its parentheses
        inner = t[1]
        need = PRODUCT if isinstance(inner, tuple) and inner[0] in ("*", "/") else POWER
        return "-" + wrap(_print(inner), need), PRODUCT
    if kind == "call":
        return f"{t[1]}({', '.join(_print(a)[0] for a in t[2])})", ATOM
    if kind == "cmp":
        return f"{wrap(_print(t[1]), SUM)} {t[2]} {wrap(_print(t[3]), SUM)}", COMPARE
    if kind == "if":
        return (f"{wrap(_print(t[1]), SUM)} if {wrap(_print(t[2]), COMPARE)} else {wrap(_print(t[3]), CONDITION)}",
                CONDITION)
    raise TypeError(f"not a formula: {t!r}")


# -- what any reader and any file can show ----------------------------------------------------------
_UNSEEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def visible(s: object) -> str:
    """``s`` as a reader can see it and any file can hold it: control and bidi characters, lone surrogates
    and noncharacters written as ``\\xNN``/``\\uNNNN``; an empty text as ``''``. Newlines stay."""
    s = str(s)
    if not s:
        return "''"

    def escape(m: re.Match) -> str:
        c = ord(m.group())
        return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"

    return _UNSEEN.sub(escape, s.replace("\r\n", "\n"))



# -- Markdown ---------------------------------------------------------------------------------------
# a table cell ends at "|" and a line at any line break (str.splitlines' set): written as escapes
_MD = {ord("|"): "\\|", **{ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}}


def markdown_text(text: str) -> str:
    """``text`` on one line of a Markdown table: ``|`` escaped, line breaks written as ``\\n``, ``\\u2028``..."""
    return text.translate(_MD)


def markdown_code(text: str) -> str:
    """``text`` as a Markdown code span inside a table (fenced by more backticks than it holds)."""
    text = markdown_text(text)
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# -- LaTeX ------------------------------------------------------------------------------------------
_TEX_ESCAPES = {"\\": r"\backslash{}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\sim{}", "^": r"\hat{}"}


def tex_text(s: str) -> str:
    """Plain text with LaTeX's special characters escaped."""
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in s)


def tex_name(name: str) -> str:
    """A node name in math: ``E_total`` -> ``\\mathrm{E}_{\\mathrm{total}}``."""
    head, sep, tail = name.partition("_")
    if sep and head and tail and "#" not in name:  # pow_const#1 is a name, not pow with a subscript
        return rf"\mathrm{{{tex_text(head)}}}_{{\mathrm{{{tex_text(tail)}}}}}"
    return rf"\mathrm{{{tex_text(name)}}}"


def term_tex(child: Value, i: int, names: dict[Value, str]) -> str:
    """``term_formula`` as LaTeX math: ``\\mathrm{out}_{\\mathrm{o1}} \\cdot \\left(1 - ...\\right)``."""
    return tex_tree(term_tree(child, i, names))[0]


def expression_tex(v: Value, names: dict[Value, str]) -> str:
    """``expression`` as LaTeX math (a template that is not an expression: its text, escaped)."""
    if not v.inputs:
        return tex_name(names[v])
    tree = show_tree(v, [operand_text(c, names) for c in v.inputs])
    return tex_tree(tree)[0] if tree is not None else rf"\text{{{tex_text(expression(v, names))}}}"


_TEX_CALLS = {"ln": r"\ln", "exp": r"\exp", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh", "sqrt": None}


def tex_tree(t: object) -> Text:
    """A formula tree (``term_tree``, ``show_tree``) as LaTeX math, parenthesized as ``_print`` does."""
    def wrapped(sub: object, need: int) -> str:
        text, prec = tex_tree(sub)
        return text if prec >= need else rf"\left({text}\right)"

    if isinstance(t, bool):
        return ("1" if t else "0"), ATOM
    if _number(t):
        return tex_number(number_text(float(t))), ATOM
    kind = t[0]
    if kind == "atom":
        return (tex_name(t[1]) if t[2] == ATOM else rf"\text{{{tex_text(t[1])}}}"), t[2]
    if kind in _SPINES:
        t, rights = _spine(t)
        prec = _NEEDS[kind][0]
        if kind == "/" and len(rights) == 1:
            return rf"\frac{{{tex_tree(t)[0]}}}{{{tex_tree(rights[0][1])[0]}}}", PRODUCT
        parts = [wrapped(t, prec)]
        for op, right in rights:
            sign = {"*": r" \cdot ", "/": " / "}.get(op, f" {op} ")
            parts.append(sign + wrapped(right, _NEEDS[op][2]))
        return "".join(parts), prec
    if kind == "^":
        return f"{{{wrapped(t[1], ATOM)}}}^{{{tex_tree(t[2])[0]}}}", POWER
    if kind == "sum":
        return " + ".join(wrapped(a, SUM) for a in t[1]), SUM
    if kind == "neg":
        inner = t[1]
        need = PRODUCT if isinstance(inner, tuple) and inner[0] in ("*", "/") else POWER
        return "-" + wrapped(inner, need), PRODUCT
    if kind == "call":
        args = ", ".join(tex_tree(a)[0] for a in t[2])
        if t[1] == "sqrt":
            return rf"\sqrt{{{args}}}", ATOM
        name = _TEX_CALLS.get(t[1]) or rf"\operatorname{{{tex_text(t[1])}}}"
        return rf"{name}\left({args}\right)", ATOM
    if kind == "cmp":
        sign = {">=": r"\geq", "<=": r"\leq", "!=": r"\neq", "==": "="}.get(t[2], t[2])
        return f"{wrapped(t[1], SUM)} {sign} {wrapped(t[3], SUM)}", COMPARE
    if kind == "if":
        return (rf"\begin{{cases}} {tex_tree(t[1])[0]} & \text{{if }} {tex_tree(t[2])[0]} \\ "
                rf"{tex_tree(t[3])[0]} & \text{{otherwise}} \end{{cases}}"), ATOM
    raise TypeError(f"not a formula: {t!r}")


def tex_number(text: str) -> str:
    """A printed number in math: ``1.5e-07`` -> ``1.5 \\times 10^{-7}``, negatives in parentheses."""
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return f"({text})" if text.startswith("-") else text
