"""Long generated code split into functions ``_part_k(S)`` that share values through the list ``S``.

CPython compiles one huge function slowly, so statements go into parts of about ``chunk`` lines. The
``Writer`` takes statements in order with the names each reads and writes; a value a part reads but an
earlier part wrote is loaded from its slot ``S[k]`` at the top of the reading part and stored there at
the end of the writing one (the inputs and constants are preset in ``S[0], S[1], ...``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class Writer:
    """Statements into parts: ``emit(lines, reads, write)``; ``new_part()`` starts the next function."""

    def __init__(self, chunk: int, preset: Sequence[str]) -> None:
        self.chunk = chunk
        self.preset = list(preset)
        self.parts: list[list[str]] = [[]]
        self.size = 0  # lines in the current part
        self.writer: dict[str, int] = dict.fromkeys(self.preset, -1)  # name -> the part that last wrote it
        self.slot: dict[str, int] = {name: i for i, name in enumerate(self.preset)}
        self.loads: list[list[str]] = [[]]
        self.stores: list[dict[str, None]] = [{}]
        self.local: set[str] = set()  # the names the current part holds

    def emit(self, lines: Sequence[str], reads: Iterable[str], write: str | None = None) -> None:
        """Append ``lines``, which read ``reads`` and assign ``write``."""
        local = self.local
        for name in reads:
            if name not in local:
                self._load(name)
        self.parts[-1].extend(lines)
        self.size += len(lines)
        if write is not None:
            self.writer[write] = len(self.parts) - 1
            local.add(write)

    def _load(self, name: str) -> None:
        self.local.add(name)
        self.loads[-1].append(name)
        part = self.writer[name]
        if part >= 0:
            self.stores[part].setdefault(name)
            self.slot.setdefault(name, len(self.slot))

    def full(self) -> bool:
        return self.size >= self.chunk

    def new_part(self) -> None:
        self.parts.append([])
        self.loads.append([])
        self.stores.append({})
        self.local = set()
        self.size = 0

    def functions(self, params: str = "S") -> list[str]:
        """The source of each part's function, ``_part_1(S)``, ``_part_2(S)``, ..."""
        out = []
        slot = self.slot
        for k, body in enumerate(self.parts):
            lines = [f"def _part_{k + 1}({params}):"]
            lines += [f"{name} = S[{slot[name]}]" for name in self.loads[k]]
            lines += body
            lines += [f"S[{slot[name]}] = {name}" for name in self.stores[k]]
            out.append("\n    ".join(lines) + "\n\n\n")
        return out

    @property
    def extra(self) -> int:
        """Slots beyond the preset names."""
        return len(self.slot) - len(self.preset)
