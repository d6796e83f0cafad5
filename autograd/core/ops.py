"""The op table: every op's forward, local derivatives and formula text, defined once with ``define_op``.

An op is written as Python expressions in its operands: ``x``, ``y`` (``n`` for a constant parameter,
``out`` for the result); an n-ary op reads the list ``xs``, and its local derivative is the one with respect
to the operand ``x`` at index ``i``. The engine's node constructors inline these expressions
(``construct.py``); stepping, explain, pictures, compile and higher-order gradients read the same rows.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

INF = math.inf
OVERFLOW = "result overflows a float"  # the reason given when an op's result overflows
DERIVATIVE_OVERFLOW = "its derivative overflows a float"  # ... and when its local derivative does

# Helpers the expressions may call; code generation copies this source verbatim.
HELPERS_SOURCE = '''
def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _linear(xs):
    n = len(xs) // 2
    s = 0.0
    for i in range(n):
        s += xs[i] * xs[n + i]
    return s + xs[-1]


def _logsumexp(xs):
    m = max(xs)
    return m + math.log(math.fsum([math.exp(v - m) for v in xs]))
'''

_HELPERS: dict = {"math": math}
exec(compile(HELPERS_SOURCE, "<chainrule helpers>", "exec"), _HELPERS)
_HELPER_NAMES = frozenset(k for k in _HELPERS if k.startswith("_") and not k.startswith("__"))
_BUILTINS = frozenset({"abs", "max", "min", "len", "float", "int", "range", "enumerate", "zip", "sum", "tuple",
                       "list", "round", "pow", "any", "all", "sorted", "reversed"})


class DomainError(Exception):
    """A failed domain check or overflow in ``evaluation_lines``; the engine re-raises ``kind`` naming the operands."""

    def __init__(self, kind: type[Exception], reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Op:
    """One row of the op table: forward expression, local-derivative expressions and formula text."""

    name: str
    arity: int  # 1 or 2 operands; 0 means n-ary (operands in the list xs)
    forward: str  # Python expression of the result
    local: tuple[str, ...]  # d out / d operand: one per operand; n-ary: one, in x, i, xs and out
    formula: tuple[str, ...]  # the same derivatives as a reader writes them, aligned with local
    show: str  # how a node reads: an expression in the operands, e.g. "{x} * {y}", "sum(xs)" (braces optional)
    checks: tuple[tuple[str, type, str], ...] = ()  # (must hold before forward, error, reason)
    param: bool = False  # True when the op has a constant parameter n (x ** 2.0, 2.0 ** x)
    propagates: bool = False  # an inf or nan operand always gives an inf or nan result (x + y, but not tanh x)
    method: str | None = None  # the Value method that applies the op, e.g. "__mul__" or "tanh"
    reflected: str | None = None  # for a binary operator: the reflected method, e.g. "__rmul__"
    value_param: str | None = None  # for an op with a parameter: the op to use when the parameter is a Value
    local_all: str = ""  # n-ary: the tuple of every operand's local derivative at once (a faster form of local)
    finite_local: bool = False  # the local derivatives are finite whenever operands and result are
    identity: int | None = None  # for a binary operator: the int i for which ``i op v`` is v itself (0 for +)
    doc: str = field(default="", compare=False)

    @cached_property
    def fn(self) -> Callable:
        """The op on floats, without a node: ``fn(x[, y][, n])`` or ``fn(xs)`` -> ``(out, local_grads)``.

        A failed domain check or an overflow raises DomainError.
        """
        args = {0: "xs", 1: "x", 2: "x, y"}[self.arity] + (", n" if self.param else "")
        lines = [f"def evaluate({args}):", *("    " + line for line in evaluation_lines(self)), "    return out, local"]
        return define_function("\n".join(lines) + "\n", f"evaluate_{self.name}", namespace(), f"the op {self.name}")


OPS: dict[str, Op] = {}
_INSTALL: list[Callable] = []  # set by construct.py: [build an op's constructors and methods, its function by name]


def define_op(
    name: str,
    *,
    forward: str,
    local: str | Sequence[str],
    formula: str | Sequence[str],
    show: str | None = None,
    checks: Sequence[tuple[str, type[Exception], str]] = (),
    method: str | None = None,
    reflected: str | None = None,
    arity: int | str | None = None,
    param: bool = False,
    propagates: bool = False,
    value_param: str | None = None,
    local_all: str | None = None,
    finite_local: bool | None = None,
    identity: int | None = None,
) -> Callable:
    """Add an op to the table and return the function that applies it to Values and numbers.

    ``forward`` and each of ``local`` are Python expressions in ``x``, ``y`` (``n`` with ``param=True``) and,
    for ``local``, ``out``; with ``arity="n"`` they read the list ``xs``, and ``local`` is d out / d the operand
    ``x`` at index ``i``. ``formula`` is each local derivative as a reader writes it. ``checks`` are
    ``(condition, error type, reason)`` that must hold before the forward runs. ``show`` is how a node reads, an
    expression in the same operands (``"{x} * {y}"``, ``"sum(xs)"``; text that is no expression, such as
    ``"|{x}|"``, is filled in as it stands; default ``name(x)``). ``method`` (and ``reflected``
    for a binary operator) install the op on Value.
    """
    op = _make_op(name, forward, local, formula, show, checks, method, reflected, arity, param, propagates,
                  value_param, local_all, finite_local, identity)
    if name in OPS:  # a notebook cell run again: the same definition gives the same function
        if OPS[name] == op and _INSTALL:
            return _INSTALL[1](name)
        raise ValueError(f"define_op: an op named {name!r} is already defined differently")
    function = _INSTALL[0](op) if _INSTALL else None  # the built-in rows are installed once Value exists
    OPS[name] = op
    return function


def _make_op(name, forward, local, formula, show, checks, method, reflected, arity, param, propagates,
             value_param, local_all, finite_local, identity) -> Op:
    """Check a definition and build its Op; every mistake is a ValueError naming the op and the part."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"define_op: the name must be an identifier, got {name!r}")
    local = (local,) if isinstance(local, str) else tuple(local)
    formula = (formula,) if isinstance(formula, str) else tuple(formula)
    if arity in ("n", 0):
        arity = 0
    elif arity is None:
        arity = len(local)
    if arity not in (0, 1, 2):
        raise ValueError(f"define_op {name}: arity must be 1, 2 or 'n', got {arity!r}")
    want = 1 if arity == 0 else arity
    if len(local) != want or len(formula) != want:
        raise ValueError(f"define_op {name}: needs {want} local derivative(s) and formula(s), "
                         f"got {len(local)} and {len(formula)}")
    if arity == 0 and param:
        raise ValueError(f"define_op {name}: an n-ary op cannot have a constant parameter")
    operands = {0: {"xs"}, 1: {"x"}, 2: {"x", "y"}}[arity] | ({"n"} if param else set())
    _check_expression(name, "forward", forward, operands)
    for expr in local:
        _check_expression(name, "local", expr, operands | {"out"} | ({"x", "i"} if arity == 0 else set()))
    for cond, kind, reason in checks:
        _check_expression(name, "check", cond, operands)
        if not (isinstance(kind, type) and issubclass(kind, Exception)) or not isinstance(reason, str):
            raise ValueError(f"define_op {name}: a check is (condition, exception type, reason)")
    for attr in (method, reflected):
        if attr is not None and (not isinstance(attr, str) or not attr.isidentifier()):
            raise ValueError(f"define_op {name}: a method name must be an identifier, got {attr!r}")
    if reflected is not None and arity != 2:
        raise ValueError(f"define_op {name}: only a binary op has a reflected method")
    if show is None:
        show = f"{name}({', '.join({0: ['xs'], 1: ['{x}'], 2: ['{x}', '{y}']}[arity])})"
    if not local_all and arity == 0:
        local_all = f"tuple([{local[0]} for i, x in enumerate(xs)])"
    elif arity == 0:
        _check_expression(name, "local_all", local_all, {"xs", "out"})
    if finite_local is None:  # a constant or a bare operand is finite already; anything else is checked
        finite_local = all(_is_name_or_number(e) for e in local)
    return Op(name, arity, forward, local, formula, show, tuple(checks), param, propagates, method, reflected,
              value_param, local_all or "", finite_local, identity)


def _check_expression(op: str, part: str, expr: object, allowed: set[str]) -> None:
    if not isinstance(expr, str):
        raise ValueError(f"define_op {op}: {part} must be a Python expression as a string, got {type(expr).__name__}")
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"define_op {op}: {part} {expr!r} is not a Python expression ({e.msg})") from None
    bound = {t.id for node in ast.walk(tree) if isinstance(node, ast.comprehension)
             for t in ast.walk(node.target) if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in allowed | bound | _BUILTINS | _HELPER_NAMES | {"math", "INF"}:
            raise ValueError(f"define_op {op}: {part} {expr!r} reads {node.id!r}; it may read "
                             f"{', '.join(sorted(allowed))}, math and the builtins {', '.join(sorted(_BUILTINS))}")
        if isinstance(node, ast.Attribute) and not (isinstance(node.value, ast.Name) and node.value.id == "math"
                                                    and hasattr(math, node.attr)):
            raise ValueError(f"define_op {op}: {part} {expr!r}: only math.<function> attributes may be used")


def _is_name_or_number(expr: str) -> bool:
    node = ast.parse(expr, mode="eval").body
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Name | ast.Constant)


# -- evaluation -------------------------------------------------------------------------------------
def evaluation_lines(op: Op, names: Sequence[str] | None = None) -> list[str]:
    """Source lines computing ``out`` and ``local`` (the local-derivative tuple) from the operands.

    Operands are ``x``, ``y`` (``n`` for the parameter) or the list ``xs``; a failed domain check or an
    overflow of the result or of a local derivative raises DomainError. With ``names`` (1- and 2-operand
    ops), each local derivative is assigned to its own name instead of a tuple. The engine's node
    constructors use these same lines.
    """
    lines = [f"if not ({cond}): raise DomainError({kind.__name__}, {reason!r})" for cond, kind, reason in op.checks]
    lines.append(f"out = {op.forward}")
    lines.append(f"if not -INF < out < INF: raise DomainError(OverflowError, {OVERFLOW!r})")
    given = names
    names = ("local",) if not op.arity else (names or tuple(f"l{i}" for i in range(op.arity)))
    exprs = (op.local_all,) if not op.arity else op.local
    if op.finite_local:
        lines += [f"{name} = {expr}" for name, expr in zip(names, exprs)]
    else:  # an op with a domain has derivatives that blow up at its edge (1/x near 0): check them too
        lines.append("try:")
        lines += [f"    {name} = {expr}" for name, expr in zip(names, exprs)]
        lines.append(f"except ArithmeticError: raise DomainError(OverflowError, {DERIVATIVE_OVERFLOW!r})")
        if op.arity:
            lines += [f"if not -INF < {name} < INF: raise DomainError(OverflowError, {DERIVATIVE_OVERFLOW!r})"
                      for name in names]
        else:
            lines.append("for _l in local:")
            lines.append(f"    if not -INF < _l < INF: raise DomainError(OverflowError, {DERIVATIVE_OVERFLOW!r})")
    if op.arity and not given:
        lines.append(f"local = ({', '.join(names)},)")
    return lines


def namespace() -> dict:
    """A fresh namespace where ``evaluation_lines`` run: the helpers, ``math``, DomainError and INF."""
    return dict(_HELPERS, DomainError=DomainError, INF=INF)


_SOURCES: dict[str, int] = {}  # how many functions of each kind were generated (their file names count up)


def define_function(source: str, name: str, ns: dict, what: str) -> Callable:
    """Run generated ``source`` (one ``def``) in ``ns`` and return the function, named ``name``.

    The source is registered with linecache under a file name of its own, so that ``inspect.getsource``
    and tracebacks show it; the ``def`` in the source may use any name (it never shadows a global the
    body reads, such as ``max``).
    """
    import linecache

    count = _SOURCES[what] = _SOURCES.get(what, 0) + 1
    filename = f"<chainrule: {what}>" if count == 1 else f"<chainrule: {what} #{count}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    local: dict = {}
    exec(code, ns, local)
    (fn,) = local.values()
    fn.__code__ = fn.__code__.replace(co_name=name, co_qualname=name)
    fn.__name__ = fn.__qualname__ = name
    return fn


# -- the text and expressions readers take --------------------------------------------------------
def operand_expression(op: Op, index: int, arity: int) -> str:
    """d out / d operand ``index`` of a node with ``arity`` operands, as an expression in ``x``, ``y``, ``n``,
    ``out`` and, for an n-ary op, ``xs[k]`` (``i`` and ``len(xs)`` substituted, constant parts folded)."""
    if op.arity:
        return op.local[index]
    return specialize(op.local[0], index, arity)


def specialize(expr: str, index: int, arity: int) -> str:
    """``expr`` with ``i`` = ``index`` and ``len(xs)`` = ``arity``, constant arithmetic and conditions folded."""
    tree = ast.parse(expr, mode="eval")
    return ast.unparse(_Fold(index, arity).visit(tree).body)


class _Fold(ast.NodeTransformer):
    """Substitute ``i`` and ``len(xs)`` and fold what becomes constant (``xs[4 // 2]`` -> ``xs[2]``)."""

    def __init__(self, index: int, arity: int) -> None:
        self.index, self.arity = index, arity

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Constant(self.index) if node.id == "i" else node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if (isinstance(node.func, ast.Name) and node.func.id == "len" and len(node.args) == 1
                and isinstance(node.args[0], ast.Name) and node.args[0].id == "xs"):
            return ast.Constant(self.arity)
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        if isinstance(node, ast.IfExp) and isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        if isinstance(node, ast.BinOp | ast.UnaryOp | ast.Compare | ast.BoolOp) and all(
                isinstance(c, ast.Constant) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)):
            try:
                tree = ast.fix_missing_locations(ast.Expression(node))
                return ast.Constant(eval(compile(tree, "<fold>", "eval"), {"__builtins__": {}}))
            except ArithmeticError:
                return node
        return node


# -- the built-in ops ---------------------------------------------------------------------------------
define_op("add", forward="x + y", local=("1.0", "1.0"), formula=("1", "1"), show="{x} + {y}", propagates=True,
          method="__add__", reflected="__radd__", identity=0)
define_op("sub", forward="x - y", local=("1.0", "-1.0"), formula=("1", "-1"), show="{x} - {y}", propagates=True,
          method="__sub__", reflected="__rsub__")
define_op("mul", forward="x * y", local=("y", "x"), formula=("y", "x"), show="{x} * {y}", propagates=True,
          method="__mul__", reflected="__rmul__")
define_op("div", forward="x / y", local=("1.0 / y", "-out / y"), formula=("1/y", "-x/y^2"), show="{x} / {y}",
          checks=(("y != 0.0", ZeroDivisionError, "division by zero"),),
          method="__truediv__", reflected="__rtruediv__")
define_op("neg", forward="-x", local="-1.0", formula="-1", show="-{x}", propagates=True, method="__neg__",
          arity=1)
define_op("pow", forward="x ** y", local=("y * x ** (y - 1.0)", "out * math.log(x)"),
          formula=("y * x^(y-1)", "x^y * ln(x)"), show="{x}^{y}",
          checks=(("x > 0.0", ValueError, "base must be > 0 when the exponent is a Value"),))
define_op("pow_const", forward="x ** n", local="n * x ** (n - 1.0) if n != 0.0 else 0.0",
          formula="n * x^(n-1)", show="{x}^{n}", arity=1, param=True, method="__pow__", value_param="pow",
          checks=(
              ("x != 0.0 or n >= 1.0 or n == 0.0", ZeroDivisionError, "0 to a power below 1 has no derivative"),
              ("x >= 0.0 or n == int(n)", ValueError, "a negative base needs an integer exponent"),
          ))
define_op("rpow_const", forward="n ** x", local="out * math.log(n)", formula="n^x * ln(n)", show="{n}^{x}",
          arity=1, param=True, method="__rpow__",
          checks=(("n > 0.0", ValueError, "base must be > 0 for a Value exponent"),))
# a constant factor that belongs to its node (the 1/2 of a squared error): no constant leaf with a gradient
define_op("scale", forward="n * x", local="n", formula="n", show="{n} * {x}", arity=1, param=True)
define_op("exp", forward="math.exp(x) if x < 709.8 else INF", local="out", formula="exp(x)", show="exp({x})",
          arity=1, method="exp")
define_op("log", forward="math.log(x)", local="1.0 / x", formula="1/x", show="ln({x})", arity=1, method="log",
          checks=(("x > 0.0", ValueError, "input must be > 0"),), propagates=True)
define_op("sqrt", forward="math.sqrt(x)", local="0.5 / out", formula="1 / (2 sqrt(x))", show="sqrt({x})",
          arity=1, method="sqrt", propagates=True,
          checks=(
              ("x >= 0.0", ValueError, "input must be >= 0"),
              ("x != 0.0", ZeroDivisionError, "derivative 1/(2 sqrt(x)) is infinite at 0"),
          ))
define_op("tanh", forward="math.tanh(x)", local="1.0 - out * out", formula="1 - tanh(x)^2", show="tanh({x})",
          arity=1, method="tanh", finite_local=True)
define_op("sigmoid", forward="_sigmoid(x)", local="out * (1.0 - out)", formula="sigmoid(x) (1 - sigmoid(x))",
          show="sigmoid({x})", arity=1, method="sigmoid", finite_local=True)
define_op("relu", forward="x if x > 0.0 else 0.0", local="1.0 if x > 0.0 else 0.0", formula="1 if x > 0 else 0",
          show="relu({x})", arity=1, method="relu", finite_local=True)
define_op("softplus", forward="_softplus(x)", local="_sigmoid(x)", formula="sigmoid(x)", show="softplus({x})",
          arity=1, method="softplus", finite_local=True)
define_op("abs", forward="abs(x)", local="1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)",
          formula="sign(x)", show="|{x}|", arity=1, method="__abs__", propagates=True, finite_local=True)
define_op("sin", forward="math.sin(x)", local="math.cos(x)", formula="cos(x)", show="sin({x})", arity=1,
          method="sin", finite_local=True)
define_op("cos", forward="math.cos(x)", local="-math.sin(x)", formula="-sin(x)", show="cos({x})", arity=1,
          method="cos", finite_local=True)
define_op("sum", forward="math.fsum(xs)", local="1.0", formula="1", show="sum(xs)", arity="n", propagates=True,
          local_all="(1.0,) * len(xs)")
# operands w_1..w_n, x_1..x_n, b: d out / d w_i is x_i, d out / d x_i is w_i, d out / d b is 1
define_op("linear", forward="_linear(xs)",
          local="xs[i + len(xs) // 2] if i < len(xs) // 2 else (xs[i - len(xs) // 2] if i < len(xs) - 1 else 1.0)",
          formula="xs[i + len(xs) // 2] if i < len(xs) // 2 else (xs[i - len(xs) // 2] if i < len(xs) - 1 else 1)",
          show="sum([xs[i] * xs[len(xs) // 2 + i] for i in range(len(xs) // 2)]) + xs[-1]",
          arity="n", propagates=True, finite_local=True,
          local_all="(*xs[len(xs) // 2:-1], *xs[:len(xs) // 2], 1.0)")
define_op("logsumexp", forward="_logsumexp(xs)", local="math.exp(x - out)", formula="exp(x - out)",
          show="logsumexp(xs)", arity="n", finite_local=True, local_all="tuple([math.exp(v - out) for v in xs])")

assert set(dir(builtins)) >= _BUILTINS
