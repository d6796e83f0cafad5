"""Module: the parameter bookkeeping every network piece shares (names, grads, state, files)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

from autograd import Value


class Module:
    """Base class. A module's parameters are the Values among its public attributes, in assignment order,
    also inside Modules and (nested) lists of them: ``self.W[1][0]`` is named ``W.1.0``."""

    def _named(self) -> Iterator[tuple[str, Value]]:
        for attr, obj in vars(self).items():
            if not attr.startswith("_"):
                yield from _walk(attr, obj)

    def _values(self) -> Iterator[Value]:
        """The Values of ``_named()`` without their names (modules override it for speed)."""
        for _, p in self._named():
            yield p

    def architecture(self) -> dict:
        """What a saved file must match to be loaded into this module (type and sizes)."""
        return {"type": type(self).__name__}

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, Value)`` for every parameter, in a stable order; a shared Value is listed once."""
        seen: set[Value] = set()
        out = []
        for name, p in self._named():
            if p not in seen:
                seen.add(p)
                out.append((name, p))
        return out

    def parameters(self) -> list[Value]:
        """Every parameter Value, in the order of ``named_parameters()``; a shared Value is listed once."""
        seen: set[Value] = set()
        return [p for p in self._values() if not (p in seen or seen.add(p))]

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0.0."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict[str, float]:
        """Parameter values as plain floats, keyed by ``named_parameters()`` names."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Set every parameter from ``state``; on any problem raise ValueError and change nothing."""
        values = checked_state(self, state)
        for name, p in self.named_parameters():
            p.data = values[name]

    def save(self, path: str) -> None:
        """Write architecture and parameters to ``path`` as JSON (floats round-trip exactly)."""
        from .serialization import save

        save(self, path)

    def load(self, path: str) -> None:
        """Read parameters written by ``save``; a bad or mismatched file raises ValueError, module unchanged."""
        from .serialization import load

        load(self, path)


def _walk(prefix: str, obj: object) -> Iterator[tuple[str, Value]]:
    if isinstance(obj, Value):
        yield prefix, obj
    elif isinstance(obj, Module):
        for name, p in obj._named():
            yield f"{prefix}.{name}", p
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from _walk(f"{prefix}.{i}", item)


def checked_state(module: Module, state: object) -> dict[str, float]:
    """``state`` as ``{name: finite float}`` with exactly the module's names, else ValueError."""
    if not isinstance(state, dict):
        raise ValueError(f"state must be a dict of parameter name -> number, got {type(state).__name__}")
    names = [name for name, _ in module.named_parameters()]
    known = set(names)
    missing = [n for n in names if n not in state]
    extra = sorted(str(k) for k in state if k not in known)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_some(missing)}")
        if extra:
            parts.append(f"unexpected {_some(extra)}")
        raise ValueError(f"parameters do not match this {type(module).__name__}: " + "; ".join(parts))
    values = {}
    for name in names:
        x = state[name]
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise ValueError(f"parameter {name!r} must be a number, got {type(x).__name__} {x!r}")
        try:
            f = float(x)
        except OverflowError:
            f = math.inf
        if not math.isfinite(f):
            raise ValueError(f"parameter {name!r} must be finite, got {x!r}")
        values[name] = f
    return values


def _some(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
