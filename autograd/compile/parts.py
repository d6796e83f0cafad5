"""Long generated code split into functions ``_part_k(S)`` that share values through the list ``S``.

CPython compiles one huge function slowly and its locals badly, so statements are cut into parts of
about ``chunk`` lines. A value used in several parts lives in ``S[slot]``; inside one part it is a local
when that part uses it ``LOCAL_USES`` times or more (loaded at the top, stored at the end), else it is
written ``S[slot]`` in place.
"""

from __future__ import annotations

from typing import NamedTuple

LOCAL_USES = 3


class Stmt(NamedTuple):
    """Generated lines as format strings: hole ``{k}`` is ``names[k]``; ``writes`` are the names assigned."""

    lines: tuple[str, ...]
    names: tuple[str, ...]
    writes: tuple[str, ...]

    def render(self, where: dict[str, str] | None = None) -> list[str]:
        names = self.names if not where else [where.get(n, n) for n in self.names]
        return [line.format(*names) for line in self.lines]


def split(stmts: list[Stmt], chunk: int, preset: list[str]) -> tuple[list[list[str]], int]:
    """Each part's function lines, and how many slots S needs beyond the ``preset`` names in S[0], S[1], ..."""
    parts: list[list[Stmt]] = [[]]
    size = 0
    for s in stmts:
        if size >= chunk:
            parts.append([])
            size = 0
        parts[-1].append(s)
        size += len(s.lines)
    slot = {name: i for i, name in enumerate(preset)}
    home: dict[str, int] = {}
    uses: list[dict[str, int]] = []
    for k, part in enumerate(parts):
        count: dict[str, int] = {}
        for s in part:
            for name in s.names:
                count[name] = count.get(name, 0) + 1
                if home.setdefault(name, k) != k and name not in slot:
                    slot[name] = len(slot)
        uses.append(count)
    functions = []
    for k, part in enumerate(parts):
        written = {name for s in part for name in s.writes}
        where, loads, stores = {}, [], []
        for name, n in uses[k].items():
            if name not in slot:
                continue
            cell = f"S[{slot[name]}]"
            if n < LOCAL_USES:
                where[name] = cell
                continue
            if home[name] != k or slot[name] < len(preset):
                loads.append(f"    {name} = {cell}")
            if name in written:
                stores.append(f"    {cell} = {name}")
        body = ["    " + line for s in part for line in s.render(where)]
        functions.append([f"def _part_{k + 1}(S):", *loads, *body, *stores, "", ""])
    return functions, len(slot) - len(preset)
