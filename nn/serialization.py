"""Save and load a module's parameters as JSON: exact floats, checked architecture, never pickle."""

from __future__ import annotations

import json
import os
import re
import reprlib
import secrets
import stat

from .module import Module, checked_state

FORMAT = "chainrule"
VERSION = 1
MAX_DEPTH = 100  # arrays/objects nested deeper than this are rejected before parsing
MAX_INT_DIGITS = 4300  # longer integer tokens are rejected (Python's own int-from-text limit)
SIZE_SLACK = 1 << 20  # bytes every file may have beyond 16 times this module's needs (see size_limit)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80


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
    """Write ``module`` to ``path`` atomically: readers see the old file or the new one, never a mix.

    The text goes to a new uniquely named file in the same folder, is flushed to disk and renamed over
    ``path``; on any failure (Ctrl-C included) that file is removed and ``path`` is untouched. An existing
    file keeps its permission bits (a new one gets open()'s, per umask); a symlink's target is updated.
    """
    data = to_json(module).encode("utf-8")
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = None
    try:
        while True:
            tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
                break
            except FileExistsError:
                tmp = None
        with open(fd, "wb") as f:
            if mode is not None:
                os.chmod(f.fileno() if os.chmod in os.supports_fd else tmp, mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    """Flush the rename to disk too (POSIX; elsewhere the rename is as durable as the OS makes it)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def size_limit(module: Module) -> int:
    """The largest file ``load`` reads for ``module``: 1 MiB plus 16 times a generous size of its own file."""
    need = len(json.dumps(module.architecture())) + 100
    need += sum(len(json.dumps(name)) + 32 for name, _ in module.named_parameters())
    return SIZE_SLACK + 16 * need


def load(module: Module, path: str) -> None:
    """Set ``module``'s parameters from the file at ``path``; ValueError (module unchanged) if it does not fit."""
    limit = size_limit(module)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        raw = f.read(limit + 1) if size <= limit else b""
    try:
        if size > limit or len(raw) > limit:
            raise ValueError(
                f"file is {max(size, len(raw))} bytes, more than the {limit} bytes a file for this "
                f"{type(module).__name__} may have"
            )
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
    _check_depth(text)
    try:
        doc = json.loads(
            text, parse_constant=_reject_constant, parse_int=_parse_int, object_pairs_hook=_no_duplicates
        )
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object at the top level, got {type(doc).__name__}")
    for key in ("format", "version", "architecture", "parameters"):
        if key not in doc:
            raise ValueError(f"missing key {key!r} (a chainrule file has format, version, architecture, parameters)")
    if doc["format"] != FORMAT:
        raise ValueError(f"format is {_short.repr(doc['format'])}, expected {FORMAT!r}")
    if doc["version"] != VERSION or isinstance(doc["version"], bool):
        raise ValueError(f"unsupported version {_short.repr(doc['version'])}, this chainrule reads version {VERSION}")
    expected = module.architecture()
    if doc["architecture"] != expected:
        found = _short.repr(doc["architecture"])
        raise ValueError(f"file is for architecture {found}, but this module is {expected!r}")
    return checked_state(module, doc["parameters"])


def _check_depth(text: str) -> None:
    """ValueError if arrays/objects nest deeper than MAX_DEPTH (checked on the text, without recursion)."""
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"arrays and objects nested more than {MAX_DEPTH} levels deep")
        else:
            depth -= 1


def _parse_int(token: str) -> int:
    digits = len(token.lstrip("-"))
    if digits <= MAX_INT_DIGITS:
        try:
            return int(token)
        except ValueError:  # the interpreter's int-from-text limit was set lower than ours
            pass
    raise ValueError(f"an integer of {digits} digits is too long (at most {MAX_INT_DIGITS})")


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-finite number {token} is not allowed")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    doc = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"duplicate key {_short.repr(key)}")
        doc[key] = value
    return doc
