"""Draw a computation graph with Graphviz: value nodes, op nodes, local derivatives on the edges.

``to_dot`` needs nothing but this package; ``draw`` needs the ``graphviz`` Python package; turning a
graph into SVG/PNG/PDF (``save``, ``render_steps``, ``draw(...).render()``) needs Graphviz's ``dot`` program.

Node kinds: the output (bold red border), inputs (blue leaves), parameters (amber leaves with a double
border), constants (unlabeled leaves, dashed), intermediate values (white). A leaf is a parameter when it
is in ``params=``, or, when ``params`` is not given, when its label looks like nn's (``W[1][0,1]``,
``b[1][0]``, a Neuron's ``w[0]``).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import re
import subprocess
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .collapse import FoldedEdge, edge_formula, fill, fold, kept_nodes, number_text, operand_text, term_formula
from .names import node_names
from .value import Value, topological_order

if TYPE_CHECKING:  # never imported at run time: graphviz is optional
    import graphviz

INSTALL_HINT = (
    "Rendering needs Graphviz's `dot` program, which was not found on PATH. Install Graphviz: "
    "Debian/Ubuntu `sudo apt-get install graphviz`, macOS `brew install graphviz`, "
    "conda `conda install -c conda-forge graphviz`. (to_dot() works without it.)"
)
FORMATS = ("svg", "png", "pdf")
_NN_PARAM = re.compile(r"(^|[.\s_])[Wwb]\[")  # nn's labels: W[1][0,1], b[1][0]; a Neuron's w[0]
_FONT = "Helvetica"
_DQ = '"'
_HIGHLIGHT = "#d62728"
_FLOW = "#e6550d"  # the edges the current node's gradient flows along
_KINDS = {  # kind -> node attributes
    "output": {"fillcolor": "#f8cbad", "penwidth": "3", "color": "#a33b20"},
    "input": {"fillcolor": "#dbe9f6"},
    "parameter": {"fillcolor": "#fde9b6", "peripheries": "2", "style": "filled"},
    "constant": {"fillcolor": "#eeeeee", "style": "rounded,filled,dashed"},
    "intermediate": {"fillcolor": "#ffffff"},
}
_STATES = {  # backprop state -> fill color
    "final": "#b7e1b0",
    "current": "#fdae61",
    "accumulating": "#fff2a8",
    "not reached": "#ffffff",
}


class DotNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is missing; the message says how to install it."""

    def __init__(self, message: str = INSTALL_HINT) -> None:
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class _Options:
    rankdir: str = "LR"
    show_data: bool = True
    show_grad: bool = True
    show_local: bool = True
    precision: int = 4
    highlight: Any = None
    max_nodes: int = 500
    collapse: Any = True  # True, False, or Values/labels to keep (see autograd.collapse)
    params: Collection[Value] | None = None
    title: str | None = None


# -- public API ---------------------------------------------------------------------------------------


def to_dot(root: Value, **options: Any) -> str:
    """DOT source of the graph of ``root`` (needs no Graphviz); options as in ``draw``."""
    return _dot(_lines(root, _options(options)))


def draw(root: Value, **options: Any) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of ``root``'s graph; shows inline in Jupyter, ``.render()``/``.pipe()`` as usual.

    Options: ``rankdir`` ("LR" or "TB"), ``show_data``, ``show_grad``, ``show_local`` (local derivative on
    each edge), ``precision`` (significant digits), ``highlight`` (Values, labels or an ``Explanation``: its
    paths drawn in red), ``max_nodes`` (500), ``collapse`` (fold unlabeled nodes, default True), ``params``
    (leaves drawn as parameters), ``title``.
    """
    return _digraph(_lines(root, _options(options)))


def save(root: Value, path: str | Path, **options: Any) -> Path:
    """Write the picture of ``root``'s graph to ``path``; the suffix picks the format (.svg .png .pdf .dot .gv)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    source = to_dot(root, **options)
    if fmt in ("dot", "gv"):
        path.write_text(source, encoding="utf-8")
    elif fmt in FORMATS:
        path.write_bytes(pipe(source, fmt))
    else:
        raise ValueError(f"save: unknown file suffix {path.suffix!r}; use one of .svg .png .pdf .dot .gv")
    return path


def pipe(source: str, format: str = "svg") -> bytes:
    """Run ``dot`` on DOT ``source`` and return the rendered bytes; raises DotNotFoundError without it."""
    try:
        done = subprocess.run(["dot", f"-T{format}"], input=source.encode("utf-8"), capture_output=True)
    except FileNotFoundError:
        raise DotNotFoundError() from None
    if done.returncode != 0:
        raise RuntimeError(f"dot failed (exit {done.returncode}): {done.stderr.decode(errors='replace')}")
    return done.stdout


def draw_backprop(bp: Any, **options: Any) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of a ``Backprop`` stepper's current state (what ``Backprop.draw`` shows)."""
    return _digraph(_backprop_lines(bp, _options(options, collapse=False)))


def backprop_dot(bp: Any, **options: Any) -> str:
    """DOT source of a ``Backprop`` stepper's current state: final, current, accumulating, not reached."""
    return _dot(_backprop_lines(bp, _options(options, collapse=False)))


def render_steps(root: Value, directory: str | Path, format: str = "svg", grad: float = 1.0, **options: Any) -> Path:
    """Step backward through ``root``'s graph: one picture per step plus an ``index.html`` that plays them.

    Frame k shows the state before step k: its current node and the edges its gradient flows along; the
    text under it is the step written out. Every gradient is left as it was. Returns the index.html path.
    """
    from .trace import Backprop

    if format not in ("svg", "png"):
        raise ValueError(f"render_steps: format must be 'svg' or 'png', got {format!r}")
    opts = _options(options, collapse=False)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bp = Backprop(root, grad)
    total = len(bp.order)
    files, texts = [], []
    try:
        for k in range(total):
            source = _dot(_backprop_lines(bp, opts))
            step = bp.step()
            name = f"step_{k + 1:0{len(str(total))}d}.{format}"
            (directory / name).write_bytes(pipe(source, format))
            files.append(name)
            texts.append(str(step))
    finally:
        bp.reset()
    title = f"Backpropagation through {bp.names[root]}"
    index = directory / "index.html"
    index.write_text(_player_html(files, texts, title), encoding="utf-8")
    return index


# -- building the graph -----------------------------------------------------------------------------


def _options(options: dict[str, Any], **defaults: Any) -> _Options:
    known = _Options.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unknown drawing option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    opts = _Options(**{**defaults, **options})
    if opts.rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR' or 'TB' (or 'RL', 'BT'), got {opts.rankdir!r}")
    return opts


def _lines(root: Value, opts: _Options, state: dict[Value, str] | None = None,
           flowing: set[tuple[Value, Value]] | None = None,
           grads: dict[Value, float] | None = None) -> list[str]:
    """DOT statements for ``root``'s graph; ``state``/``flowing``/``grads`` draw a backprop frame."""
    grad = (lambda v: v.grad) if grads is None else (lambda v: grads.get(v, 0.0))
    order = topological_order(root)
    names = node_names(order)
    if opts.collapse is not False:
        kept = kept_nodes(root, opts.collapse, order)
        nodes = [v for v in order if v in kept]
        _check_size(len(nodes), opts)

        def operand(x: Value) -> tuple[str, int]:
            return operand_text(x, names) if x in kept or not x.inputs else _expression(x, kept, names)

        # one real edge: the op's formula with the operands filled in (when short); a folded one keeps its own
        edges = [e if e.folded else dataclasses.replace(e, formula=edge_formula(e.child, e.parent, names, operand,
                                                                                _MAX_FORMULA))
                 for e in fold(root, kept, order=order)]
    else:  # one edge per operand position, each with its own term of the formula
        kept = set(order)
        nodes = order
        _check_size(len(nodes), opts)
        edges = [FoldedEdge(v, x, local, term_formula(v, i, names, limit=_MAX_FORMULA), ((v, x),))
                 for v in order for i, (x, local) in enumerate(zip(v.inputs, v.local_grads))]
    lit_nodes, lit_edges = _highlighted(root, order, names, opts.highlight)
    ids = {v: f"v{i}" for i, v in enumerate(nodes)}
    p = opts.precision
    lines = [
        f"graph [rankdir={opts.rankdir}, fontname={_FONT}, nodesep=0.25, ranksep=0.35]",
        f"node [fontname={_FONT}, fontsize=11, shape=box, style=\"rounded,filled\", color=\"#555555\"]",
        f"edge [fontname={_FONT}, fontsize=9, color=\"#777777\", arrowsize=0.6]",
    ]
    if opts.title or state is not None:
        lines.append(f"graph [label={_title(opts.title or '', state is not None)}, labelloc=t, fontsize=14]")
    params = None if opts.params is None else set(opts.params)
    for v in nodes:
        attrs = dict(_KINDS[_kind(v, root, params)])
        rows = [f"<B>{_text(names[v])}</B>"]
        if opts.show_data:
            rows.append(f"data {_num(v.data, p)}")
        if opts.show_grad:
            rows.append(f"grad {_num(grad(v), p)}")
        if state is not None:
            attrs["fillcolor"] = _STATES[state[v]]
            if state[v] == "current":
                attrs["penwidth"] = "3"
            elif state[v] == "not reached":
                attrs["fontcolor"] = "#888888"
        if v in lit_nodes:
            attrs.update(color=_HIGHLIGHT, penwidth="3")
        attrs["tooltip"] = _quote(f"{names[v]}: data={v.data!r}, grad={grad(v)!r}")
        attrs["label"] = _table(rows, 100 if state is not None else 0)  # frames: one width, one layout
        lines.append(f"{ids[v]} [{_attrs(attrs)}]")
    incoming: dict[Value, list[FoldedEdge]] = {}
    for e in edges:
        incoming.setdefault(e.child, []).append(e)
    for v in nodes:
        if v not in incoming:
            continue
        op_id = f"o{ids[v][1:]}"
        op_text = _expression(v, kept, names)[0] if any(e.folded for e in incoming[v]) else _op_label(v)
        lit_op = any(_lit(e, lit_edges) for e in incoming[v]) and v in lit_nodes
        op_attrs = {"label": _html(op_text), "shape": "ellipse", "fillcolor": "#f2f2f2", "fontsize": "10",
                    "margin": "0.03,0.02", "height": "0.3", "tooltip": _quote(op_text)}
        lines.append(f"{op_id} [{_attrs(op_attrs)}]")
        out_attrs = {"color": _HIGHLIGHT, "penwidth": "3"} if lit_op else {}
        if flowing and any((v, e.parent) in flowing for e in incoming[v]):
            out_attrs = {"color": _FLOW, "penwidth": "3"}
        lines.append(f"{op_id} -> {ids[v]}" + (f" [{_attrs(out_attrs)}]" if out_attrs else ""))
        for e in incoming[v]:
            attrs = {}
            label = []
            if opts.show_local:
                number = _num(e.value, p)
                formula = _shorten(e.formula, 48)
                label.append(number if formula in ("", number) else f"{_text(formula)} = {number}")
            if flowing is not None and (e.child, e.parent) in flowing:
                g = grad(e.child)
                label.append(f"× {_num(g, p)} = {_num(e.value * g, p)}")
                attrs.update(color=_FLOW, penwidth="3", fontcolor="#a63603")
            if _lit(e, lit_edges):
                attrs.update(color=_HIGHLIGHT, penwidth="3", fontcolor=_HIGHLIGHT)
            if label:
                attrs["label"] = "<" + "<BR/>".join(label) + ">"
            lines.append(f"{ids[e.parent]} -> {op_id}" + (f" [{_attrs(attrs)}]" if attrs else ""))
    return lines


def _check_size(n: int, opts: _Options) -> None:
    if n > opts.max_nodes:
        hint = "draw a subgraph (an intermediate Value as root)"
        if opts.collapse is False:
            hint += ", pass collapse=True"
        raise ValueError(
            f"the graph has {n} nodes, more than max_nodes={opts.max_nodes}; {hint}, or raise max_nodes"
        )


def _kind(v: Value, root: Value, params: set[Value] | None) -> str:
    if v is root:
        return "output"
    if v.inputs:
        return "intermediate"
    if params is not None:
        if v in params:
            return "parameter"
    elif v.label is not None and _NN_PARAM.search(str(v.label)):
        return "parameter"
    return "input" if v.label is not None else "constant"


def _highlighted(root: Value, order: list[Value], names: dict[Value, str],
                 highlight: Any) -> tuple[set[Value], set[tuple[Value, Value]]]:
    """Nodes and (consumer, input) edges on the paths to highlight.

    A Value or a label: every path from ``root`` to it. An ``Explanation``: its paths, i.e. every path
    from its output to its wrt (also when it shows the grouped form).
    """
    if highlight is None:
        return set(), set()
    if isinstance(highlight, (Value, str)) or hasattr(highlight, "paths"):
        highlight = [highlight]
    nodes: set[Value] = set()
    edges: set[tuple[Value, Value]] = set()
    where = set(order)
    for h in highlight:
        if hasattr(h, "paths"):
            if h.output not in where or h.wrt not in where:
                raise ValueError("highlight: the explanation's output or wrt is not in this graph")
            pairs = [(h.output, h.wrt)]
        elif isinstance(h, Value):
            pairs = [(root, h)]
        else:
            pairs = [(root, v) for v in order if names[v] == h]
            if not pairs:
                raise ValueError(f"highlight: no node named {h!r} in the graph")
        for top, target in pairs:
            n, e = _between(top, target, order)
            nodes |= n
            edges |= e
    return nodes, edges


def _between(top: Value, target: Value, order: list[Value]) -> tuple[set[Value], set[tuple[Value, Value]]]:
    """Nodes and edges on every path from ``top`` down to ``target`` (``order``: inputs first)."""
    below = {top}  # nodes ``top`` depends on
    for v in reversed(order):
        if v in below:
            below.update(v.inputs)
    reaches: set[Value] = set()  # nodes that depend on ``target``
    for v in order:
        if v is target or any(x in reaches for x in v.inputs):
            reaches.add(v)
    nodes = below & reaches
    return nodes, {(v, x) for v in nodes for x in v.inputs if x in nodes}


def _lit(e: FoldedEdge, lit_edges: set[tuple[Value, Value]]) -> bool:
    return any(all(pair in lit_edges for pair in zip(c, c[1:])) for c in e.chains)


def _op_label(v: Value) -> str:
    return v.op if v.param is None else f"{v.op}\nn = {number_text(v.param)}"


_MAX_EXPR = 60  # an op node's folded expression is cut here
_MAX_FORMULA = 40  # an edge's formula term longer than this keeps the op table's operand names


def _expression(root: Value, kept: set[Value], names: dict[Value, str]) -> tuple[str, int]:
    """The folded expression of ``root`` over unkept nodes, e.g. ``w1 * i1 + w2 * i2 + b1`` (shortened),
    and its precedence."""
    return fill(root, names, lambda v: not v.inputs or (v is not root and v in kept),
                lambda v, t: (_shorten(t[0]), t[1]))


def _shorten(s: str, limit: int = _MAX_EXPR) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


# -- backprop frames --------------------------------------------------------------------------------


def _backprop_lines(bp: Any, opts: _Options) -> list[str]:
    """Color each node by its gradient's state at the stepper's position; mark the current node's edges."""
    order = list(getattr(bp, "nodes", bp.order))  # every node; bp.order: the steps (non-leaf nodes)
    steps = list(bp.order)
    done = set(steps[: bp.position])
    current = steps[bp.position] if bp.position < len(steps) else None
    consumers: dict[Value, set[Value]] = {}
    for v in order:
        for x in v.inputs:
            consumers.setdefault(x, set()).add(v)
    state = {}
    for v in order:
        got = consumers.get(v, set()) & done
        if v is current:
            state[v] = "current"
        elif v in done or (got and got == consumers[v]) or (v is bp.root and current is None):
            state[v] = "final"
        elif got:
            state[v] = "accumulating"
        else:
            state[v] = "not reached"
    # before the first step the stepper has not zeroed the gradients yet: show the start of the pass
    grads = {v: v.grad for v in order} if bp.position else {bp.root: float(getattr(bp, "grad", 1.0))}
    flowing = {(current, x) for x in current.inputs} if current is not None else set()
    if opts.title is None:
        where = f"next: {bp.names[current]}" if current is not None else "done"
        step = min(bp.position + 1, len(steps))
        opts = dataclasses.replace(opts, title=f"backward step {step}/{len(steps)} ({where})")
    return _lines(bp.root, opts, state, flowing, grads)


_PLAYER = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { font-family: sans-serif; margin: 1em; }
#bar button { font-size: 1em; margin-right: .3em; }
#frame { display: block; max-width: 100%; margin: 1em 0; border: 1px solid #ddd; }
#text { font-size: 1em; background: #f7f7f7; padding: .6em; white-space: pre-wrap; }
</style></head>
<body>
<h1>__TITLE__</h1>
<div id="bar"><button id="prev">&#9664; previous</button><button id="play">&#9654; play</button>
<button id="next">next &#9654;</button><span id="count"></span></div>
<img id="frame" alt="backpropagation step">
<pre id="text"></pre>
<noscript><ol>__LINKS__</ol></noscript>
<script>
const frames = __FRAMES__;
const texts = __TEXTS__;
let k = 0, timer = null;
const $ = (id) => document.getElementById(id);
function show(i) {
  k = Math.max(0, Math.min(frames.length - 1, i));
  $("frame").src = frames[k];
  $("text").textContent = texts[k];
  $("count").textContent = " step " + (k + 1) + " / " + frames.length;
}
function stop() { clearInterval(timer); timer = null; $("play").innerHTML = "&#9654; play"; }
function play() {
  if (timer) { stop(); return; }
  if (k === frames.length - 1) show(0);
  $("play").innerHTML = "&#10074;&#10074; pause";
  timer = setInterval(() => { if (k === frames.length - 1) stop(); else show(k + 1); }, 1200);
}
$("prev").onclick = () => { stop(); show(k - 1); };
$("next").onclick = () => { stop(); show(k + 1); };
$("play").onclick = play;
document.addEventListener("keydown", (e) => {
  if (e.key === "ArrowLeft") { stop(); show(k - 1); }
  else if (e.key === "ArrowRight") { stop(); show(k + 1); }
  else if (e.key === " ") { e.preventDefault(); play(); }
});
show(0);
</script>
</body></html>
"""


def _player_html(files: list[str], texts: list[str], title: str) -> str:
    """A self-contained page stepping through ``files`` with buttons and arrow keys."""
    def js(obj: object) -> str:
        return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c")  # nothing the HTML parser sees

    links = "".join(f'<li><a href="{html.escape(f)}">{html.escape(f)}</a></li>' for f in files)
    return (_PLAYER.replace("__TITLE__", html.escape(title)).replace("__LINKS__", links)
            .replace("__FRAMES__", js(files)).replace("__TEXTS__", js(texts)))


# -- DOT text and graphviz ----------------------------------------------------------------------------


def _dot(lines: Iterable[str]) -> str:
    return "digraph chainrule {\n" + "".join(f"\t{line}\n" for line in lines) + "}\n"


def _digraph(lines: list[str]) -> graphviz.Digraph:
    return _digraph_class()(name="chainrule", body=[f"\t{line}\n" for line in lines])


@functools.cache
def _digraph_class() -> type:
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "draw() needs the graphviz Python package: pip install 'chainrule[viz]' (or pip install graphviz); "
            "to_dot() and save() work without it"
        ) from None

    class Digraph(graphviz.Digraph):
        """A ``graphviz.Digraph`` whose ``render``/``pipe`` say how to install a missing ``dot``."""

        def render(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise DotNotFoundError() from None

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise DotNotFoundError() from None

    Digraph.__module__ = __name__
    return Digraph


def _num(x: float, p: int) -> str:
    return f"{x:.{p}g}"


def _text(s: str) -> str:
    """Escape text for an HTML-like DOT label: entities, doubled backslashes, line breaks, control chars."""
    s = html.escape(str(s), quote=True).replace("\\", "\\\\")
    s = re.sub(r"[\x00-\x09\x0b-\x1f\x7f]", lambda m: f"\\\\x{ord(m.group()):02x}", s)
    return s.replace("\r\n", "\n").replace("\n", "<BR/>")


def _html(s: str) -> str:
    return f"<{_text(s)}>"


def _title(title: str, legend: bool) -> str:
    """The graph's caption; for a backprop frame with a key to the state colors."""
    head = f"<TR><TD COLSPAN=\"{len(_STATES)}\"><B>{_text(title)}</B></TD></TR>" if title else ""
    if not legend:
        return _html(title)
    key = "".join(f'<TD BGCOLOR="{color}" BORDER="1">{state}</TD>' for state, color in _STATES.items())
    return f'<<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="3">{head}<TR>{key}</TR></TABLE>>'


def _table(rows: list[str], width: int = 0) -> str:
    """A node label: one row per line; ``width`` (points) fixes the least width."""
    td = f'<TD WIDTH="{width}">' if width else "<TD>"
    cells = "".join(f"<TR>{td}{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _quote(s: str) -> str:
    """A double-quoted DOT string (escString attributes such as tooltip)."""
    s = str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{s}"'


def _attrs(attrs: dict[str, str]) -> str:
    """``k=v`` pairs; labels (``<...>``) and quoted strings pass through, other values get quoted."""
    return ", ".join(f"{k}={v if v.startswith(('<', _DQ)) else _quote(v)}" for k, v in attrs.items())
