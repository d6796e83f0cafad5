"""Readable names for nodes: the label, else ``op#k`` (``leaf#k`` for unlabeled leaves)."""

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
