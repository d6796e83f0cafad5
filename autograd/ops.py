"""The op table: every op's forward, local derivatives and their formulas, defined once.

Each entry gives Python expressions in the operand names ``x``, ``y`` (``n`` for a
constant parameter, ``out`` for the result).  The engine's node constructors inline
them (``evaluation_lines``); explain, rendering and code generation read the same
strings.  N-ary ops (``sum``, ``linear``, ``logsumexp``) take the list ``xs`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
exec(HELPERS_SOURCE, _HELPERS)


class DomainError(Exception):
    """A failed domain check or overflow in ``evaluation_lines``; the engine re-raises ``kind`` naming the operands."""

    def __init__(self, kind: type[Exception], reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Op:
    """One op: forward expression, local-derivative expressions and formula text per input."""

    name: str
    arity: int  # 1 or 2 operands; 0 means n-ary (operands in the list xs)
    forward: str  # Python expression of the result
    local: tuple[str, ...]  # Python expression of d out / d operand, one per operand
    formula: tuple[str, ...]  # the same derivatives as a reader writes them
    show: str  # how the op reads in a derivation, e.g. "{x} * {y}"
    checks: tuple[tuple[str, type, str], ...] = ()  # (must hold before forward, error, reason)
    param: bool = False  # True when the op has a constant parameter n (x ** 2.0, 2.0 ** x)
    propagates: bool = False  # an inf or nan operand always gives an inf or nan result (x + y, but not tanh x)
    operand_local: str = ""  # n-ary ops: d out / d one operand x, in x, out and (linear) y, the operand x multiplies

    @cached_property
    def fn(self) -> Callable:
        """The op on floats, without a node: ``fn(x[, y][, n])`` or ``fn(xs)`` -> ``(out, local_grads)``.

        A failed domain check or an overflow raises DomainError.
        """
        return _compile(self)


def _compile(op: Op) -> Callable:
    """Build ``fn(operands) -> (out, local_grads)`` from the op's expressions."""
    args = {0: "xs", 1: "x", 2: "x, y"}[op.arity] + (", n" if op.param else "")
    lines = [f"def {op.name}({args}):", *("    " + line for line in evaluation_lines(op)), "    return out, local"]
    ns = namespace()
    exec("\n".join(lines), ns)
    return ns[op.name]


def evaluation_lines(op: Op, names: Sequence[str] | None = None) -> list[str]:
    """Source lines computing ``out`` and ``local`` (the local-derivative tuple) from the operands.

    Operands are ``x``, ``y`` (``n`` for the parameter) or the list ``xs``; a failed domain check or an
    overflow raises DomainError.  With ``names`` (1- and 2-operand ops), each local derivative is
    assigned to its own name instead of a tuple.  The engine's node constructors use these same lines.
    """
    lines = [f"if not ({cond}): raise DomainError({kind.__name__}, {reason!r})" for cond, kind, reason in op.checks]
    lines.append(f"out = {op.forward}")
    lines.append(f"if not -INF < out < INF: raise DomainError(OverflowError, {OVERFLOW!r})")
    if not op.arity:
        return [*lines, f"local = {op.local[0]}"]
    given = names
    names = names or tuple(f"l{i}" for i in range(op.arity))
    lines += [f"{name} = {expr}" for name, expr in zip(names, op.local)]
    if op.checks:  # an op with a domain has derivatives that blow up at its edge (1/x near 0): check them too
        lines += [f"if not -INF < {name} < INF: raise DomainError(OverflowError, {DERIVATIVE_OVERFLOW!r})"
                  for name in names]
    if not given:
        lines.append(f"local = ({', '.join(names)},)")
    return lines


def namespace() -> dict:
    """A fresh namespace where ``evaluation_lines`` run: the helpers, ``math``, DomainError and INF."""
    return dict(_HELPERS, DomainError=DomainError, INF=INF)


def _op(*args, **kwargs) -> Op:
    op = Op(*args, **kwargs)
    OPS[op.name] = op
    return op


OPS: dict[str, Op] = {}

ADD = _op("add", 2, "x + y", ("1.0", "1.0"), ("1", "1"), "{x} + {y}", propagates=True)
SUB = _op("sub", 2, "x - y", ("1.0", "-1.0"), ("1", "-1"), "{x} - {y}", propagates=True)
MUL = _op("mul", 2, "x * y", ("y", "x"), ("y", "x"), "{x} * {y}", propagates=True)
DIV = _op(
    "div", 2, "x / y", ("1.0 / y", "-out / y"), ("1/y", "-x/y^2"), "{x} / {y}",
    checks=(("y != 0.0", ZeroDivisionError, "division by zero"),),
)
NEG = _op("neg", 1, "-x", ("-1.0",), ("-1",), "-{x}", propagates=True)
POW = _op(
    "pow", 2, "x ** y", ("y * x ** (y - 1.0)", "out * math.log(x)"),
    ("y * x^(y-1)", "x^y * ln(x)"), "{x}^{y}",
    checks=(("x > 0.0", ValueError, "base must be > 0 when the exponent is a Value"),),
)
POWC = _op(
    "pow_const", 1, "x ** n", ("n * x ** (n - 1.0)",), ("n * x^(n-1)",), "{x}^{n}",
    checks=(
        ("x != 0.0 or n >= 1.0 or n == 0.0", ZeroDivisionError, "0 to a power below 1 has no derivative"),
        ("x >= 0.0 or n == int(n)", ValueError, "a negative base needs an integer exponent"),
    ),
    param=True,
)
RPOWC = _op(
    "rpow_const", 1, "n ** x", ("out * math.log(n)",), ("n^x * ln(n)",), "{n}^{x}",
    checks=(("n > 0.0", ValueError, "base must be > 0 for a Value exponent"),),
    param=True,
)
EXP = _op("exp", 1, "math.exp(x) if x < 709.8 else INF", ("out",), ("exp(x)",), "exp({x})")
LOG = _op(
    "log", 1, "math.log(x)", ("1.0 / x",), ("1/x",), "ln({x})",
    checks=(("x > 0.0", ValueError, "input must be > 0"),), propagates=True,
)
SQRT = _op(
    "sqrt", 1, "math.sqrt(x)", ("0.5 / out",), ("1 / (2 sqrt(x))",), "sqrt({x})",
    checks=(
        ("x >= 0.0", ValueError, "input must be >= 0"),
        ("x != 0.0", ZeroDivisionError, "derivative 1/(2 sqrt(x)) is infinite at 0"),
    ),
    propagates=True,
)
TANH = _op("tanh", 1, "math.tanh(x)", ("1.0 - out * out",), ("1 - tanh(x)^2",), "tanh({x})")
SIGMOID = _op(
    "sigmoid", 1, "_sigmoid(x)", ("out * (1.0 - out)",), ("sigmoid(x) (1 - sigmoid(x))",),
    "sigmoid({x})",
)
RELU = _op("relu", 1, "x if x > 0.0 else 0.0", ("1.0 if x > 0.0 else 0.0",), ("1 if x > 0 else 0",), "relu({x})")
SOFTPLUS = _op("softplus", 1, "_softplus(x)", ("_sigmoid(x)",), ("sigmoid(x)",), "softplus({x})")
# n-ary ops: operands in xs; `local` is one expression building the whole tuple,
# `formula` holds one entry per operand kind (see formula_text).
SUM = _op("sum", 0, "math.fsum(xs)", ("(1.0,) * len(xs)",), ("1",), "{xs}", propagates=True, operand_local="1.0")
LINEAR = _op(  # operands w_1..w_n, x_1..x_n, b: the partner of w_i is x_i and the other way round
    "linear", 0,
    "_linear(xs)",
    ("(*xs[len(xs) // 2:-1], *xs[:len(xs) // 2], 1.0)",),
    ("x_i", "w_i", "1"), "{w}.{x} + {b}", propagates=True, operand_local="y",
)
LOGSUMEXP = _op(
    "logsumexp", 0, "_logsumexp(xs)", ("tuple([math.exp(v - out) for v in xs])",),
    ("exp(x_i - logsumexp(x))",), "logsumexp({xs})", operand_local="math.exp(x - out)",
)


def formula_text(op: Op, index: int, arity: int) -> str:
    """The formula of d out / d operand ``index`` for a node with ``arity`` operands."""
    if op.arity:
        return op.formula[index]
    if op is LINEAR:
        partner = linear_partner(index, arity)
        if partner is None:
            return "1"
        return f"x_{index + 1}" if partner > index else f"w_{partner + 1}"
    return op.formula[0]


def linear_partner(index: int, arity: int) -> int | None:
    """The operand that operand ``index`` of a linear node multiplies (w_i and x_i); None for the bias."""
    n = (arity - 1) // 2
    if index == arity - 1:
        return None
    return index + n if index < n else index - n


def operand_local(op: Op, index: int, arity: int) -> tuple[str, int | None]:
    """d out / d operand ``index`` of an n-ary node: an expression in ``x`` (that operand), ``out`` and ``y``,
    the operand at the index returned with it (linear's partner of x; None when there is none)."""
    if op is LINEAR:
        partner = linear_partner(index, arity)
        return ("1.0", None) if partner is None else (op.operand_local, partner)
    return op.operand_local, None
