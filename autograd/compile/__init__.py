"""Compile a traced graph into straight-line Python: one line per op forward, one sum per gradient backward.

``compile_graph(loss, inputs=[w1, w2])`` returns a callable ``f`` with ``f(values) -> (loss, grads)``
that builds no Values; ``f.source`` is the generated module (it imports only ``math``). The code is
written from the op table's expressions, in the engine's order, so results are the same floats as
``backward()``, and errors are the engine's errors (see ``runtime``). Repeated blocks of a graph (a model
applied to each data point) are written once, as a loop over the blocks.

The parts: ``naming`` (labels as identifiers), ``expressions`` (the table's expressions as templates),
``codegen`` (the code of one graph and the module), ``rolling`` (repeated blocks), ``parts`` (long code
split into functions), ``runtime`` (the generated slow path that replays the engine's checks).

Limits: the graph is traced once, so Python control flow on ``.data`` in the code that built it
(``if x.data > 0: ...``) is frozen at trace time, as with JAX's tracing; ops such as ``relu`` branch
inside the op and stay correct for every input.
"""

from __future__ import annotations

import inspect
import itertools
import linecache
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import CodeType

from ..core.graph import Graph, as_graph
from ..core.value import Value, to_float
from .codegen import Program

CHUNK = 5000  # generated lines per function; larger graphs are split into parts sharing a list S


class CompiledGraph:
    """A traced graph as generated Python: ``f(values) -> (loss, grads)``, grads in input order.

    ``f.constants`` holds the values of every other leaf (``f.constant_leaves`` / ``f.constant_names``);
    change them with ``f.update(...)``.  ``f.source`` is a self-contained module defining
    ``forward_backward(inputs, constants)``; ``f.forward_backward`` is that function.  The source is
    registered with linecache under ``f.filename``, so tracebacks and ``inspect`` show the generated lines.
    ``f.compile_seconds`` is what compiling took, ``f.compile_times`` the same by phase: ``graph`` (tracing,
    names), ``code`` (writing the source), ``compile`` (Python's compile of it) and ``load`` (running it).
    """

    def __init__(self, source: str | Sequence[str], inputs: list[Value], input_names: list[str],
                 constant_leaves: list[Value], constant_names: list[str], aux: list[Value]) -> None:
        pieces = [source] if isinstance(source, str) else list(source)
        self.source = "".join(pieces)
        self.inputs = inputs
        self.input_names = input_names
        self.constant_leaves = constant_leaves
        self.constant_names = constant_names
        self.constants = [v.data for v in constant_leaves]
        self.aux = aux
        self.filename = f"<chainrule: compiled graph #{next(_COUNT)}>"
        namespace: dict = {}
        line = 0
        compiling = 0.0
        start = time.perf_counter()
        for piece in pieces:  # compiled one by one: CPython compiles several small modules faster than one big
            before = time.perf_counter()
            code = _shifted(compile(piece, self.filename, "exec"), line)
            compiling += time.perf_counter() - before
            exec(code, namespace)
            line += piece.count("\n")
        self.forward_backward: Callable = namespace["forward_backward"]
        linecache.cache[self.filename] = (len(self.source), None, self.source.splitlines(True), self.filename)
        weakref.finalize(self.forward_backward, linecache.cache.pop, self.filename, None)  # the code, not the lines
        self.compile_times = {"compile": compiling, "load": time.perf_counter() - start - compiling}
        self.compile_seconds = 0.0  # set by compile_graph: tracing, code generation and exec

    def __call__(self, values: Sequence[float]) -> tuple:
        """``(loss, grads)`` at input ``values`` (``(loss, grads, aux)`` when compiled with ``aux``)."""
        return self.forward_backward(values, self.constants)

    def update(self, constants: Mapping[Value | str, float] | Sequence[float]) -> None:
        """Set constant leaves: a mapping keyed by leaf, label or name, or a full list in order."""
        if not isinstance(constants, Mapping):
            new = [to_float(x, "update: a constant") for x in constants]
            if len(new) != len(self.constants):
                raise ValueError(f"update: expected {len(self.constants)} constants, got {len(new)}")
            self.constants[:] = new
            return
        index: dict = {}
        for i, (leaf, name) in enumerate(zip(self.constant_leaves, self.constant_names)):
            index.setdefault(leaf, i)
            if leaf.label is not None:
                index.setdefault(leaf.label, i)
            index.setdefault(name, i)
        changes = []
        for key, x in constants.items():
            if key not in index:
                raise KeyError(f"update: {key!r} is not a constant leaf of this graph")
            changes.append((index[key], to_float(x, "update: a constant")))
        for i, x in changes:
            self.constants[i] = x

    def __repr__(self) -> str:
        return (f"CompiledGraph(inputs={len(self.inputs)}, constants={len(self.constants)}, "
                f"lines={self.source.count(chr(10))})")


_COUNT = itertools.count(1)


def _shifted(code: CodeType, lines: int) -> CodeType:
    """``code`` (and the functions it defines) as if its source started ``lines`` lines further down."""
    if not lines:
        return code
    consts = tuple(_shifted(c, lines) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)


def compile_graph(
    output: Value | Graph | Callable[..., Value],
    inputs: Sequence[Value | float],
    aux: Iterable[Value] = (),
    chunk: int = CHUNK,
) -> CompiledGraph:
    """Generate forward and backward code for ``output`` with respect to the leaves ``inputs``.

    ``output`` is a Value (the graph is traced from it), a Graph, or a function, called once on ``inputs``
    (numbers become leaves labeled by the function's parameter names).  Leaves not in ``inputs``
    are constants.  The values of the nodes in ``aux`` are returned third.
    """
    start = time.perf_counter()
    if not isinstance(output, Value | Graph):
        if not callable(output):
            raise TypeError(f"compile_graph: output must be a Value, a Graph or a function, got "
                            f"{type(output).__name__}")
        output, inputs = _trace(output, inputs)
    inputs = list(inputs)
    _check_inputs(inputs)
    aux = list(aux)
    for a in aux:
        if not isinstance(a, Value):
            raise TypeError(f"compile_graph: aux must hold Values, got {type(a).__name__}")
    program = Program(as_graph(output, "compile_graph"), inputs, aux)
    named = time.perf_counter()
    pieces = program.pieces(max(int(chunk), 10))
    written = time.perf_counter()
    f = CompiledGraph(pieces, inputs, program.input_names, program.constants, program.constant_names, aux)
    f.compile_seconds = time.perf_counter() - start
    f.compile_times = {"graph": named - start, "code": written - named, **f.compile_times}
    return f


def _trace(fn: Callable[..., Value], example: Sequence[Value | float]) -> tuple[Value, list[Value]]:
    """Call ``fn`` once on leaves made from ``example``; return its output and those leaves."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = params + [f"x{i}" for i in range(len(params), len(example))]
    leaves = [x if isinstance(x, Value) else Value(x, label=name) for x, name in zip(example, names)]
    out = fn(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"compile_graph: the function must return a Value, got {type(out).__name__}")
    return out, leaves


def _check_inputs(inputs: list) -> None:
    seen: set[Value] = set()
    for v in inputs:
        if not isinstance(v, Value):
            raise TypeError(f"compile_graph: inputs must be Values, got {type(v).__name__}")
        if v.inputs:
            raise ValueError(f"compile_graph: inputs must be leaves, got a {v.op!r} node ({v!r})")
        if v in seen:
            raise ValueError(f"compile_graph: input listed twice ({v!r})")
        seen.add(v)
