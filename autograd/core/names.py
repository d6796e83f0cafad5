"""Readable names for nodes: the label, else ``op#k`` (``leaf#k`` for unlabeled leaves); Markdown-safe text."""

from __future__ import annotations

from collections.abc import Iterable

from .value import Value


def node_names(nodes: Iterable[Value]) -> dict[Value, str]:
    """Name every node: its label, else ``op#k`` (``leaf#k``), numbered per op in the order the nodes were made.

    A number an op turned into a constant leaf (``x * 2``) counts as made just before that op, in operand order.
    """
    names: dict[Value, str] = {}
    made: dict[Value, tuple[int, int, int]] = {}  # unlabeled node -> when it was made
    for v in nodes:
        if v in names:
            continue
        names[v] = str(v.label) if v.label is not None else ""
        for k, x in enumerate(v.inputs):  # a converted number (_seq 0): placed by its first consumer
            if x._seq == 0 and (x not in made or made[x] > (v._seq, 0, k)):
                made[x] = (v._seq, 0, k)
    for v, name in names.items():
        if not name and v.label is None and (v._seq or v not in made):
            made[v] = (v._seq, 1, 0)
    counts: dict[str, int] = {}
    for v in sorted(made, key=made.__getitem__):
        if v.label is None:
            kind = v.op or "leaf"
            counts[kind] = counts.get(kind, 0) + 1
            names[v] = f"{kind}#{counts[kind]}"
    return names


# Markdown: a table cell ends at "|" and a line at any line break (str.splitlines' set): written as escapes
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
