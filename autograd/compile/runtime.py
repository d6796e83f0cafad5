"""The slow path of a generated module: replay the forward pass op by op, as the engine runs it, for its error.

The fast path checks domains per op but looks for inf / nan once, in bulk; when anything is off,
``_check_forward`` replays the graph (``GRAPH``: one op per row, in the order the nodes were made) with the
engine's own lines for each op (``ops.evaluation_lines``) and raises the engine's error for the first op that
fails.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence

from ..core import ops
from ..core.value import Value

CHECK_SOURCE = '''

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


def construction_order(ins: Mapping[Value, Sequence[Value]]) -> list[Value]:
    """The op nodes of ``ins`` (every node of the graph -> its operands) in the order they were made: the order
    in which the engine, building the graph again from other inputs, would meet an op that fails."""
    return sorted((v for v, operands in ins.items() if operands), key=_MADE)


_MADE = operator.attrgetter("_seq")


def check_function(op: ops.Op) -> list[str]:
    """``_check_<op>(xs, n)``: the engine's own lines for the op (checks, forward, overflow, locals)."""
    lines = [f"def _check_{op.name}(xs, n):"]
    if op.arity:
        lines.append(f"    {'x, y' if op.arity == 2 else 'x,'} = xs")
    lines += ["    " + line for line in ops.evaluation_lines(op)]
    lines.append("    return out")
    return lines


def replay_data(order: Sequence[Value], position: dict[Value, int],
                ins: Mapping[Value, Sequence[Value]]) -> list[str]:
    """The check functions of the ops used, and ``GRAPH`` and ``LABELS``, the strings ``_check_forward`` reads.

    ``order`` lists the op nodes in construction order; ``position`` numbers every leaf (inputs, then
    constants) and is extended here with the op nodes. ``ins``: every node -> its operands.
    """
    text = {v: str(i) for v, i in position.items()}
    labels = [f"{i}\t{_one_line(repr(v.label))}" for v, i in position.items() if v.label is not None]
    at = text.__getitem__
    with_param = {name for name, op in ops.OPS.items() if op.param}
    rows = []
    k = len(position)
    for v in order:
        op = v.op
        row = op + " " + " ".join(map(at, ins[v]))
        rows.append(row + f" n={v.param!r}" if op in with_param else row)
        text[v] = str(k)
        if v.label is not None:
            labels.append(f"{k}\t{_one_line(repr(v.label))}")
        position[v] = k
        k += 1
    used = sorted({v.op for v in order})
    lines = ["", ""]
    for name in used:
        lines += [*check_function(ops.OPS[name]), "", ""]
    lines.append(f"_CHECKS = {{{', '.join(f'{n!r}: _check_{n}' for n in used)}}}")
    lines.append("# The graph for _check_forward: one op per row with the positions of its operands in")
    lines.append("# [*inputs, *constants, *results so far]; and the operands' labels (position, tab, label).")
    lines.append(f"GRAPH = {ascii(chr(10).join(rows))}")
    lines.append(f"LABELS = {ascii(chr(10).join(labels))}")
    return lines


def _one_line(text: str) -> str:
    return text.replace("\n", "\\n").replace("\t", "\\t")
