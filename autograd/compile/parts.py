"""Long generated code split into functions ``_part_k(S, ...)`` that share values through the list ``S``.

CPython compiles one huge function slowly, so statements go into parts of about ``chunk`` lines. The
``Writer`` takes statements in order with the names each reads and writes; a value a part reads but an
earlier part wrote is loaded from its slot in ``S`` at the top of the reading part and stored there at
the end of the writing one (the inputs and constants are preset in ``S[0], S[1], ...``). Slots are given
so that the values one part passes to another sit side by side: they move as slices, ``a, b, c = S[7:10]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class Writer:
    """Statements into parts: ``emit(lines, reads, writes)``; ``new_part()`` starts the next function once
    ``size`` (lines in the current part) reaches ``chunk``."""

    def __init__(self, chunk: int, preset: Sequence[str]) -> None:
        self.chunk = chunk
        self.preset = list(preset)
        self.parts: list[list[str]] = [[]]
        self.size = 0  # lines in the current part
        self.reads: list[str] = []  # the names the current part reads (any order; a name may repeat)
        self._writes: list[str] = []
        self.writer: dict[str, int] = dict.fromkeys(self.preset, -1)  # name -> the earlier part that last wrote it
        self.slot: dict[str, int] = {name: i for i, name in enumerate(self.preset)}
        self.loads: list[list[str]] = []
        self.stores: list[dict[str, None]] = [{}]

    def emit(self, lines: Sequence[str], reads: Iterable[str], writes: Iterable[str] = ()) -> None:
        """Append ``lines``, which read ``reads`` and assign ``writes``."""
        self.parts[-1].extend(lines)
        self.size += len(lines)
        self.reads.extend(reads)
        self._writes.extend(writes)

    def new_part(self) -> None:
        self._close()
        self.parts.append([])
        self.stores.append({})
        self.size = 0

    def _close(self) -> None:
        """The loads of the part just written, and the stores of the parts they come from."""
        k = len(self.loads)
        writer, slot, stores = self.writer, self.slot, self.stores
        loads = [name for name in dict.fromkeys(self.reads) if name in writer]
        new: dict[int, list[str]] = {}
        for name in loads:
            if name not in slot:
                new.setdefault(writer[name], []).append(name)
        for part in sorted(new):  # the values one part passes on get adjacent slots
            for name in new[part]:
                slot[name] = len(slot)
        for name in loads:
            part = writer[name]
            if part >= 0:
                stores[part].setdefault(name)
        self.loads.append(loads)
        writer.update(dict.fromkeys(self._writes, k))
        self.reads, self._writes = [], []

    def functions(self, params: str = "S") -> list[str]:
        """The source of each part's function, ``_part_1(S)``, ``_part_2(S)``, ..."""
        if len(self.loads) < len(self.parts):
            self._close()
        out = []
        for k, body in enumerate(self.parts):
            lines = [f"def _part_{k + 1}({params}):"]
            lines += _moves(self.loads[k], self.slot, "{names} = S[{at}]")
            lines += body
            lines += _moves(list(self.stores[k]), self.slot, "S[{at}] = {names}")
            out.append("\n    ".join(lines) + "\n\n\n")
        return out

    @property
    def extra(self) -> int:
        """Slots beyond the preset names."""
        return len(self.slot) - len(self.preset)


def _moves(names: list[str], slot: dict[str, int], form: str) -> list[str]:
    """``names`` to or from their slots: a run of adjacent slots as one slice, 16 names a line."""
    lines = []
    ordered = sorted(names, key=slot.__getitem__)
    i = 0
    while i < len(ordered):
        j = i + 1
        while j < len(ordered) and j - i < 16 and slot[ordered[j]] == slot[ordered[j - 1]] + 1:
            j += 1
        at = slot[ordered[i]]
        if j - i == 1:
            lines.append(form.format(names=ordered[i], at=at))
        else:
            lines.append(form.format(names=", ".join(ordered[i:j]), at=f"{at}:{at + j - i}"))
        i = j
    return lines
