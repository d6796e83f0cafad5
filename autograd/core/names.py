"""Readable names for nodes: the label, else ``op#k`` (``leaf#k`` for unlabeled leaves), in construction order."""

from __future__ import annotations

import operator
from collections.abc import Iterable

from .value import Value


def node_names(nodes: Iterable[Value]) -> dict[Value, str]:
    """Name every node: its label, else ``op#k`` (``leaf#k``), numbered per op in the order the nodes were made."""
    names: dict[Value, str] = {}
    unlabeled: list[Value] = []
    for v in nodes:
        if v.label is not None:
            names[v] = str(v.label)
        elif v not in names:
            names[v] = ""
            unlabeled.append(v)
    unlabeled.sort(key=_MADE)
    counts: dict[str, int] = {}
    for v in unlabeled:
        kind = v.op or "leaf"
        counts[kind] = k = counts.get(kind, 0) + 1
        names[v] = f"{kind}#{k}"
    return names


_MADE = operator.attrgetter("_seq")
