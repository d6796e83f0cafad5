"""Readable names for nodes: the label, else ``op#k`` (``leaf#k`` for unlabeled leaves), in construction order."""

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
