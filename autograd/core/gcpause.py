"""``no_gc()``: pause Python's automatic cyclic garbage collection while a large graph is built.

A graph of Values holds no reference cycles (reference counting frees it), yet each full collection
rescans every live node, so without a pause the time per node grows with the graph. ``no_gc`` is a
context manager and a decorator::

    with no_gc():
        loss = build_a_big_graph()
    loss.backward()

It pauses by setting the collector's first threshold to 0 (``gc.set_threshold``: "zero disables
collection"), not with ``gc.disable()``: ``gc.isenabled()``, ``gc.disable()`` and ``gc.enable()`` stay
the caller's, and ``gc.collect()`` still works inside the block. When the last pause ends, the objects
allocated meanwhile are put in the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``, skipped when
something is frozen already): otherwise the first collection after the pause, a young one, would scan the
whole graph at once. A graph holds no cycles, so reference counting still frees it the moment it is dropped.

Threads: the pause is process-wide (the collector is). Pauses nest and overlap across threads under one
lock: the outermost pause to begin saves the thresholds, and the last one to end puts them back, unless
someone else changed them meanwhile (then theirs are kept). While any thread is inside ``no_gc``, no
thread's allocations start a collection.

Interrupts: an exception or Ctrl-C inside the block ends the pause. In the main thread SIGINT is held
back while the shared state changes; a Ctrl-C that lands on the very first instructions of ``__exit__``,
before that, leaves a pause whose ``no_gc`` object is gone: the next ``no_gc`` or ``pause_depth()`` ends it.
"""

from __future__ import annotations

import functools
import gc
import signal
import threading
import weakref
from collections.abc import Callable
from typing import TypeVar, overload

F = TypeVar("F", bound=Callable)

_lock = threading.Lock()
_pauses: list[weakref.ref] = []  # one entry per pause begun and not yet ended, in every thread: its object
_saved: tuple[int, ...] = ()  # the thresholds when the outermost pause began
_paused: tuple[int, ...] = ()  # the thresholds no_gc set; restored only if they are still these
_MASK = hasattr(signal, "pthread_sigmask")


def _held(change: Callable[[], None]) -> None:
    """``change()`` with SIGINT held back (main thread, POSIX): a Ctrl-C meanwhile is raised after it."""
    if not _MASK or threading.current_thread() is not threading.main_thread():
        change()
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        change()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def pause_depth() -> int:
    """How many ``no_gc`` pauses are active now, in all threads (0: the collector runs as configured)."""
    with _lock:
        _prune()
        return len(_pauses)


def _prune() -> None:
    """End the pauses whose object is gone (a Ctrl-C landed before its ``__exit__`` could run); lock held."""
    if any(ref() is None for ref in _pauses):
        _pauses[:] = [ref for ref in _pauses if ref() is not None]
        if not _pauses:
            _restore()


def _restore() -> None:
    if gc.get_threshold() == _paused:
        gc.set_threshold(*_saved)
    if gc.get_freeze_count() == 0:  # unfreeze would also release what someone else froze: then leave it
        gc.freeze()  # everything allocated during the pause goes to the oldest generation, unscanned,
        gc.unfreeze()  # so the first collection after the pause does not rescan the whole graph


class _NoGC:
    """What ``no_gc()`` returns: a context manager (re-entrant) that is also a decorator."""

    __slots__ = ("__weakref__",)

    def _begin(self) -> None:
        global _saved, _paused
        with _lock:
            _prune()
            if not _pauses:
                _saved = gc.get_threshold()
                _paused = (0, *_saved[1:])
                gc.set_threshold(*_paused)
            _pauses.append(weakref.ref(self))

    def _end(self) -> None:
        with _lock:
            ref = weakref.ref(self)
            if ref in _pauses:
                _pauses.remove(ref)
                if not _pauses:
                    _restore()
            _prune()

    def __enter__(self) -> _NoGC:
        try:
            _held(self._begin)
        except BaseException:  # a Ctrl-C held back is raised as the mask lifts, after the pause began
            _held(self._end)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        _held(self._end)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def paused(*args, **kwargs):
            with _NoGC():
                return fn(*args, **kwargs)

        return paused  # type: ignore[return-value]

    def __repr__(self) -> str:
        return "no_gc()"


@overload
def no_gc() -> _NoGC: ...
@overload
def no_gc(fn: F) -> F: ...


def no_gc(fn: Callable | None = None):
    """Pause automatic garbage collection: ``with no_gc(): ...``, ``@no_gc`` or ``@no_gc()``."""
    return _NoGC() if fn is None else _NoGC()(fn)
