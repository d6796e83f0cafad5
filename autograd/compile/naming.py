"""Names in the generated code: each node's label made a safe, distinct Python identifier."""

from __future__ import annotations

import builtins
import keyword
import re

# Names the generated module defines or reads itself: a label never becomes one of them.
RESERVED = {"math", "INF", "OVERFLOW", "inputs", "constants", "forward_backward", "S", "e"} | set(dir(builtins))
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def identifier(text: str, fallback: str) -> str:
    """``text`` as a safe identifier: ASCII letters, digits and ``_``; never a keyword or builtin."""
    if text.isascii() and text.isidentifier():  # the common cases, without the regex
        name = text.strip("_") or fallback
    elif text.count("#") == 1 and text.isascii() and text.replace("#", "_").isidentifier():
        name = text.replace("#", "_").strip("_") or fallback
    else:
        name = _UNSAFE.sub("_", text).strip("_") or fallback
    if name[0].isdigit() or name.startswith("d_") or keyword.iskeyword(name) or name in RESERVED:
        name = "v_" + name
    return name


class Namer:
    """Hands out distinct identifiers, adding ``_2``, ``_3``... on a clash."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name
