"""Save and load a module's parameters as JSON: exact floats, checked architecture, never pickle."""

from __future__ import annotations

import json
import os

from .module import Module, checked_state

FORMAT = "chainrule"
VERSION = 1


def to_json(module: Module) -> str:
    """The file text: ``{"format", "version", "architecture", "parameters"}``."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": module.architecture(),
        "parameters": module.state_dict(),
    }
    try:
        return json.dumps(doc, indent=1, allow_nan=False) + "\n"
    except ValueError:
        raise ValueError("cannot save: a parameter is NaN or infinite") from None


def save(module: Module, path: str) -> None:
    """Write ``module`` to ``path`` (via a temporary file, so a failed write leaves no half file)."""
    text = to_json(module)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def load(module: Module, path: str) -> None:
    """Set ``module``'s parameters from the file at ``path``; ValueError (module unchanged) if it does not fit."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"not UTF-8 text ({e})") from None
        values = from_json(module, text)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    for name, p in module.named_parameters():
        p.data = values[name]


def from_json(module: Module, text: str) -> dict[str, float]:
    """Parse and check file text against ``module``; returns ``{name: float}`` or raises ValueError."""
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object at the top level, got {type(doc).__name__}")
    for key in ("format", "version", "architecture", "parameters"):
        if key not in doc:
            raise ValueError(f"missing key {key!r} (a chainrule file has format, version, architecture, parameters)")
    if doc["format"] != FORMAT:
        raise ValueError(f"format is {doc['format']!r}, expected {FORMAT!r}")
    if doc["version"] != VERSION or isinstance(doc["version"], bool):
        raise ValueError(f"unsupported version {doc['version']!r}, this chainrule reads version {VERSION}")
    expected = module.architecture()
    if doc["architecture"] != expected:
        raise ValueError(f"file is for architecture {doc['architecture']!r}, but this module is {expected!r}")
    return checked_state(module, doc["parameters"])


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-finite number {token} is not allowed")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    doc = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"duplicate key {key!r}")
        doc[key] = value
    return doc
