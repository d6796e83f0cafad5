"""Readable names for nodes: the label, else ``op#k`` (``leaf#k`` for unlabeled leaves); Markdown-safe text."""

from __future__ import annotations

from collections.abc import Iterable

from .value import Value


def node_names(nodes: Iterable[Value]) -> dict[Value, str]:
    """Name every node; unlabeled ones are numbered per op in the order given (1-based)."""
    names: dict[Value, str] = {}
    counts: dict[str, int] = {}
    for v in nodes:
        if v in names:
            continue
        if v.label is not None:
            names[v] = str(v.label)
        else:
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
