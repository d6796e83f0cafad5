"""Draw a computation graph with Graphviz: value nodes, op nodes, local derivatives on the edges.

``to_dot`` needs nothing but this package; ``draw`` needs the ``graphviz`` Python package; turning a
graph into SVG/PNG/PDF (``save``, ``render_steps``, ``draw(...).render()``) needs Graphviz's ``dot`` program.

Node kinds: the output (bold red border), inputs (blue leaves), parameters (amber leaves with a double
border), constants (unlabeled leaves, dashed), intermediate values (white). A leaf is a parameter when it
is in ``params=``, or, when ``params`` is not given, when its label looks like nn's (``W[1][0,1]``,
``b[1][0]``, a Neuron's ``w[0]``) or a hand derivation's (``w1``, ``b2``, ``w``, ``bias``). Each op node has
one cell per input edge, ``d out / d input`` written out, where that edge ends.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import math
import subprocess
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.fold import FoldedEdge
from .core.graph import Graph, as_graph
from .core.value import Value
from .text import FoldedTexts, edge_formula, fill, number_text, operand_text, show, term_formula, visible

if TYPE_CHECKING:  # never imported at run time: graphviz is optional
    import graphviz

INSTALL_HINT = (
    "Rendering needs Graphviz's `dot` program, which was not found on PATH. Install Graphviz: "
    "Debian/Ubuntu `sudo apt-get install graphviz`, macOS `brew install graphviz`, "
    "conda `conda install -c conda-forge graphviz`. (to_dot() works without it.)"
)
FORMATS = ("svg", "png", "pdf")
# nn's labels (W[1][0,1], b[1][0], a Neuron's w[0]) and a hand derivation's (w1, w_2, b1, W, bias, theta)
_FONT = "Helvetica"
_DQ = '"'
_HIGHLIGHT = "#d62728"
_FLOW = "#e6550d"  # the edges the current node's gradient flows along
KINDS = {  # kind -> node attributes; the border tells the kind also when a frame fills nodes by state
    "output": {"fillcolor": "#f8cbad", "penwidth": "3", "color": "#a33b20"},
    "input": {"fillcolor": "#dbe9f6", "color": "#2b6cb0", "penwidth": "1.5"},
    "parameter": {"fillcolor": "#fde9b6", "peripheries": "2", "style": "filled", "color": "#a67c00"},
    "constant": {"fillcolor": "#eeeeee", "style": "rounded,filled,dashed", "color": "#888888"},
    "intermediate": {"fillcolor": "#ffffff"},
}
KIND_NOTES = {"output": "output (thick border)", "input": "input", "parameter": "parameter (double border)",
               "constant": "constant (dashed)", "intermediate": "intermediate"}
STATES = {  # backprop state -> fill color
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
    legend: bool = False  # a key to the node kinds under the picture
    size: str | None = "10,10"  # graphviz size (inches): the largest picture, scaled down to fit a notebook cell


@dataclasses.dataclass(frozen=True)
class _Frame:
    """A backprop state to draw: each node's state and grad, the last step's pushes."""

    state: dict[Value, str]
    grads: dict[Value, float]
    received: dict[Value, tuple[float, float]]  # input of the last step's node -> its grad before, after
    title: str


# -- public API ---------------------------------------------------------------------------------------


def to_dot(root: Value | Graph, **options: Any) -> str:
    """DOT source of the graph of ``root`` (a Value or a Graph; needs no Graphviz); options as in ``draw``."""
    return dot_source(dot_lines(as_graph(root, "to_dot"), drawing_options(options)))


def draw(root: Value | Graph, **options: Any) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of ``root``'s graph (a Value or a Graph); shows inline in Jupyter,
    ``.render()``/``.pipe()`` as usual.

    Options: ``rankdir`` ("LR" or "TB"), ``show_data``, ``show_grad``, ``show_local`` (local derivative on
    each edge), ``precision`` (significant digits), ``highlight`` (Values, labels or an ``Explanation``: its
    paths drawn in red), ``max_nodes`` (500), ``collapse`` (fold unlabeled nodes, default True), ``params``
    (leaves drawn as parameters), ``title``.
    """
    return _digraph(dot_lines(as_graph(root, "draw"), drawing_options(options)))


def save(root: Value | Graph, path: str | Path, **options: Any) -> Path:
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
    return _digraph(_frame_lines(bp, drawing_options(options, collapse=False)))


def backprop_dot(bp: Any, **options: Any) -> str:
    """DOT source of a ``Backprop`` stepper's state after its last step (see ``backprop_frame``)."""
    return dot_source(_frame_lines(bp, drawing_options(options, collapse=False)))


def render_steps(root: Value | Graph, directory: str | Path, format: str = "svg", grad: float = 1.0,
                 **options: Any) -> Path:
    """Step backward through ``root``'s graph: one picture per step plus an ``index.html`` that plays them.

    Frame k shows the state after step k: its node (current), the edges its gradient flows along and each
    receiving node's grad before -> after; the text under it is the step written out. Every frame has the
    same layout and size. Every gradient is left as it was. Returns the index.html path.
    """
    from .stepping import Backprop

    if format not in ("svg", "png"):
        raise ValueError(f"render_steps: format must be 'svg' or 'png', got {format!r}")
    opts = drawing_options(options, collapse=False)
    g = as_graph(root, "render_steps")
    check_size(g, opts)  # before any step or folder
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bp = Backprop(g, grad)
    total = len(bp.order)
    frames, texts = [], []
    try:
        for _ in range(total):
            step = bp.step()
            frames.append(backprop_frame(bp))
            texts.append(visible(str(step)))
    finally:
        bp.reset()
    reserve = frame_widths(g, frames, opts)
    files = []
    for k, frame in enumerate(frames):
        source = dot_source(_frame_lines(bp, opts, frame, reserve))
        name = f"step_{k + 1:0{len(str(total))}d}.{format}"
        (directory / name).write_bytes(pipe(source, format))
        files.append(name)
    title = f"Backpropagation through {visible(bp.names[g.root])}"
    index = directory / "index.html"
    index.write_text(_player_html(files, texts, title), encoding="utf-8")
    return index


def frame_widths(g: Graph, frames: list[_Frame], opts: _Options) -> dict[Any, int]:
    """The longest text each varying row takes over ``frames`` (characters), so that every frame's layout is
    the same: a node's grad row, each op cell (its push line), the title."""
    p = opts.precision
    reserve: dict[Any, int] = {"title": max((len(f.title) for f in frames), default=0)}
    for v in g.order:
        texts = [f"grad {short_number(f.grads.get(v, 0.0), p)}" for f in frames]
        texts += [f"grad {short_number(a, p)} → {short_number(b, p)}"
                  for f in frames for a, b in [f.received.get(v, (0, 0))]]
        reserve[v] = max(map(len, texts), default=0)
        if v.inputs:
            pushes = [len(f"× {short_number(f.grads.get(v, 0.0), p)} = {short_number(local * f.grads.get(v, 0.0), p)}")
                      for f in frames if f.state[v] == "current" for local in v.local_grads]
            for j in range(len(v.inputs)):
                reserve[v, j] = max(pushes, default=0)
    return reserve


# -- building the graph -----------------------------------------------------------------------------


def drawing_options(options: dict[str, Any], **defaults: Any) -> _Options:
    """The drawing options ``options`` (``draw``'s keywords) over ``defaults``; unknown or wrong ones raise."""
    known = _Options.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unknown drawing option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    opts = _Options(**{**defaults, **options})
    if opts.rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR' or 'TB' (or 'RL', 'BT'), got {opts.rankdir!r}")
    return opts


def dot_lines(g: Graph, opts: _Options, frame: _Frame | None = None,
           reserve: dict[Any, int] | None = None) -> list[str]:
    """DOT statements for the graph ``g``; ``frame`` draws a backprop state, ``reserve`` gives varying rows
    (keys: a Value for its grad row, ``(Value, j)`` for its op's cell j) a least width in characters."""
    grad = (lambda v: v.grad) if frame is None else (lambda v: frame.grads.get(v, 0.0))
    reserve = reserve or {}
    check_size(g, opts)
    order = g.order
    shown = shown_names(g)
    memo: dict = {}  # operand expressions, each written once for the whole picture
    if opts.collapse is not False:
        kept = g.kept(opts.collapse)
        nodes = [v for v in order if v in kept]
        texts = FoldedTexts(g, kept)

        def operand(x: Value) -> tuple[str, int]:
            return operand_text(x, shown) if x in kept or not x.inputs else _expression(x, kept, shown, memo)

        # one real edge: the op's formula with the operands filled in (when short); a folded one keeps its own
        edges = [(e, texts.formula(e) if e.folded else edge_formula(
                    e.child, e.parent, shown, operand, _MAX_FORMULA, g.positions(e.child, e.parent)))
                 for e in g.folded(opts.collapse)]
    else:  # one edge per operand position, each with its own term of the formula
        kept = g.nodes
        nodes = order
        edges = [(FoldedEdge(v, x, local, ((v, x),)), term_formula(v, i, shown, limit=_MAX_FORMULA))
                 for v in order for i, (x, local) in enumerate(zip(v.inputs, v.local_grads))]
    lit_nodes, lit_edges = _highlighted(g, opts.highlight)
    ids = {v: f"v{i}" for i, v in enumerate(nodes)}
    p = opts.precision
    lines = [
        f"graph [rankdir={opts.rankdir}, ordering=in, fontname={_FONT}, nodesep=0.2, ranksep=0.3]",
        f"node [fontname={_FONT}, fontsize=11, shape=box, style=\"rounded,filled\", color=\"#555555\"]",
        f"edge [fontname={_FONT}, fontsize=9, color=\"#777777\", arrowsize=0.6]",
    ]
    if opts.size:
        lines.append(f"graph [size={_quote(opts.size)}]")
    caption = _caption(visible(opts.title) if opts.title else "", frame is not None, opts.legend,
                       reserve.get("title", 0))
    if caption:
        lines.append(f"graph [label={caption}, labelloc={'t' if frame is not None else 'b'}, fontsize=14]")
    params = None if opts.params is None else set(opts.params)
    for v in nodes:
        attrs = dict(KINDS[g.kind(v, params)])
        rows = [f"<B>{_text(shown[v])}</B>"]
        if opts.show_data:
            rows.append(f"data {short_number(v.data, p)}")
        widths = [0] * len(rows)
        if opts.show_grad:
            received = frame.received.get(v) if frame is not None else None
            if received is not None:
                rows.append(f"grad {short_number(received[0], p)} → {short_number(received[1], p)}")
            else:
                rows.append(f"grad {short_number(grad(v), p)}")
            widths.append(_width(reserve.get(v, 0)))
        if frame is not None:
            attrs["fillcolor"] = STATES[frame.state[v]]
            if frame.state[v] == "current":
                attrs["penwidth"] = "3"
            elif frame.state[v] == "not reached":
                attrs["fontcolor"] = "#888888"
        if v in lit_nodes:
            attrs.update(color=_HIGHLIGHT, penwidth="3")
        attrs["id"] = ids[v]
        attrs["tooltip"] = _quote(f"{shown[v]}: data={v.data!r}, grad={grad(v)!r}")
        attrs["label"] = _table(rows, widths)
        lines.append(f"{ids[v]} [{_attrs(attrs)}]")
    incoming: dict[Value, list[tuple[FoldedEdge, str]]] = {}
    for e, formula in edges:
        incoming.setdefault(e.child, []).append((e, formula))
    side = {"LR": "w", "RL": "e", "TB": "n", "BT": "s"}[opts.rankdir]
    for v in nodes:
        if v not in incoming:
            continue
        i = ids[v][1:]
        op_id = f"o{i}"
        op_text = _expression(v, kept, shown, memo)[0] if any(e.folded for e, _ in incoming[v]) else _op_label(v)
        lit_op = any(_lit(e, lit_edges) for e, _ in incoming[v]) and v in lit_nodes
        flows = frame is not None and frame.state[v] == "current"
        cells = []
        for j, (e, formula) in enumerate(incoming[v]):
            number = short_number(e.value, p)
            formula = _shorten(formula, 48)
            said = number if formula in ("", number) else f"{formula} = {number}"
            text = f"d{shown[v]}/d{shown[e.parent]} = {said}"
            cell = {"text": text, "lit": _lit(e, lit_edges), "push": None, "width": reserve.get((v, j), 0)}
            if flows:
                g = grad(v)
                cell["push"] = f"× {short_number(g, p)} = {short_number(e.value * g, p)}"
            cells.append(cell)
        op_attrs = {"id": op_id, "tooltip": _quote(op_text)}
        if opts.show_local:
            op_attrs.update(shape="plain", style="", label=_op_table(op_text, cells, side))
        else:
            op_attrs.update(label=_html(op_text), shape="ellipse", fillcolor="#f2f2f2", fontsize="10",
                            margin="0.03,0.02", height="0.3")
        lines.append(f"{op_id} [{_attrs(op_attrs)}]")
        out_attrs = {"id": f"r{i}"}
        if lit_op:
            out_attrs.update(color=_HIGHLIGHT, penwidth="3")
        if flows:
            out_attrs.update(color=_FLOW, penwidth="3")
        lines.append(f"{op_id} -> {ids[v]} [{_attrs(out_attrs)}]")
        for j, ((e, _), cell) in enumerate(zip(incoming[v], cells)):
            attrs = {"id": f"e{i}_{j}", "tooltip": _quote(cell["text"])}
            if cell["push"]:
                attrs.update(color=_FLOW, penwidth="3")
            if cell["lit"]:
                attrs.update(color=_HIGHLIGHT, penwidth="3")
            head = f"{op_id}:p{j}:{side}" if opts.show_local else op_id
            lines.append(f"{ids[e.parent]} -> {head} [{_attrs(attrs)}]")
    return lines


def shown_names(g: Graph) -> dict[Value, str]:
    """The graph's names as a reader sees them (``visible``), made once per graph."""
    shown = g.cache.get("visible names")
    if shown is None:
        shown = g.cache["visible names"] = {v: visible(n) for v, n in g.names.items()}
    return shown


def check_size(g: Graph, opts: _Options) -> None:
    """A ValueError when the picture of ``g`` under ``opts`` would hold more than ``opts.max_nodes`` nodes."""
    n = len(g) if opts.collapse is False else len(g.kept(opts.collapse))
    if n > opts.max_nodes:
        hint = "draw a subgraph (an intermediate Value as root)"
        if opts.collapse is False:
            hint += ", pass collapse=True"
        raise ValueError(
            f"the graph has {n} nodes, more than max_nodes={opts.max_nodes}; {hint}, or raise max_nodes"
        )


def _highlighted(g: Graph, highlight: Any) -> tuple[set[Value], set[tuple[Value, Value]]]:
    """Nodes and (consumer, input) edges on the paths to highlight.

    A Value or a label: every path from the root to it. An ``Explanation``: its paths, i.e. every path
    from its output to its wrt (also when it shows the grouped form).
    """
    if highlight is None:
        return set(), set()
    if isinstance(highlight, (Value, str)) or hasattr(highlight, "paths"):
        highlight = [highlight]
    nodes: set[Value] = set()
    edges: set[tuple[Value, Value]] = set()
    for h in highlight:
        if hasattr(h, "paths"):
            if h.output not in g or h.wrt not in g:
                raise ValueError("highlight: the explanation's output or wrt is not in this graph")
            pairs = [(h.output, h.wrt)]
        elif isinstance(h, Value):
            pairs = [(g.root, h)]
        else:
            pairs = [(g.root, v) for v in g.order if g.names[v] == h]
            if not pairs:
                raise ValueError(f"highlight: no node named {h!r} in the graph")
        for top, target in pairs:
            n, e = g.between(top, target)
            nodes |= n
            edges |= e
    return nodes, edges


def _lit(e: FoldedEdge, lit_edges: set[tuple[Value, Value]]) -> bool:
    return any(all(pair in lit_edges for pair in zip(c, c[1:])) for c in e.chains)


def _op_label(v: Value) -> str:
    return v.op if v.param is None else f"{v.op}\nn = {number_text(v.param)}"


_MAX_EXPR = 60  # an op node's folded expression is cut here
_MAX_FORMULA = 40  # an edge's formula term longer than this keeps the op table's operand names


def _expression(v: Value, kept: set[Value], names: dict[Value, str], memo: dict) -> tuple[str, int]:
    """The folded expression of ``v`` over unkept nodes, e.g. ``w1 * i1 + w2 * i2 + b1`` (shortened), and its
    precedence; ``memo`` keeps the unkept nodes' texts for the whole picture."""
    def atom(u: Value) -> bool:
        return not u.inputs or u in kept

    def fit(u: Value, t: tuple[str, int]) -> tuple[str, int]:
        return _shorten(t[0]), t[1]

    if v in kept:  # written out itself, while inside other expressions it reads as its name
        return fit(v, show(v, [fill(c, names, atom, fit, memo) for c in v.inputs]))
    return fill(v, names, atom, fit, memo)


def _shorten(s: str, limit: int = _MAX_EXPR) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


# -- backprop frames --------------------------------------------------------------------------------


def backprop_frame(bp: Any) -> _Frame:
    """The stepper's state after its last step: that step's node is current, its inputs show grad before -> after.

    Final: the node's gradient is complete (processed, or every consumer has pushed); accumulating: some
    consumers have pushed; not reached: none has. Before the first step the root holds the seed.
    """
    order = bp.nodes  # every node; bp.order: the steps (the non-leaf nodes)
    steps = bp.order
    consumers = bp.graph.consumers
    k = bp.position
    last = bp.steps[-1] if k and bp.steps else None
    current = last.node if last is not None else None
    done = set(steps[:k])
    state = {}
    for v in order:
        got = sum(c in done for c in consumers[v])
        if v is current:
            state[v] = "current"
        elif v in done or v is bp.root or (got and got == len(consumers[v])):
            state[v] = "final"
        elif got:
            state[v] = "accumulating"
        else:
            state[v] = "not reached"
    # before the first step the stepper has not zeroed the gradients yet: show the start of the pass
    grads = {v: v.grad for v in order} if k else {bp.root: float(getattr(bp, "grad", 1.0))}
    received = {} if last is None else {t.input: (t.before, t.after) for t in last.terms}
    if last is None:
        title = f"before backward step 1/{len(steps)} (next: {bp.names[steps[0]]})" if steps else "nothing to do"
    else:
        title = f"backward step {k}/{len(steps)}: {bp.names[current]}"
    return _Frame(state, grads, received, title)


def _frame_lines(bp: Any, opts: _Options, frame: _Frame | None = None,
                 reserve: dict[Any, int] | None = None) -> list[str]:
    frame = frame or backprop_frame(bp)
    if opts.title is None:
        opts = dataclasses.replace(opts, title=frame.title)
    return dot_lines(bp.graph, opts, frame, reserve)


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


def dot_source(lines: Iterable[str]) -> str:
    """The DOT document of the statements ``lines`` (``dot_lines``)."""
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


def short_number(x: float, p: int) -> str:
    """``x`` with ``p`` significant digits, as the pictures show it."""
    return f"{x:.{p}g}"


def _text(s: str) -> str:
    """Escape text for an HTML-like DOT label: ``visible``, entities, doubled backslashes, line breaks."""
    s = html.escape(visible(s), quote=True).replace("\\", "\\\\")
    return s.replace("\n", "<BR/>")


def _html(s: str) -> str:
    return f"<{_text(s)}>"


def _width(chars: int, points: float = 11) -> int:
    """Points that surely hold ``chars`` characters (digits, letters, arrows) of the ``points`` font (0 for none)."""
    return math.ceil(chars * points * 0.72) + 8 if chars else 0


def _caption(title: str, states: bool, kinds: bool, width: int = 0) -> str:
    """The graph's caption: the title, then a key to the backprop states and/or the node kinds."""
    if not (title or states or kinds):
        return ""
    rows = []
    n = max(len(STATES) if states else 0, len(KINDS) if kinds else 0, 1)
    if title:
        td = f'<TD COLSPAN="{n}"' + (f' WIDTH="{_width(width, 16)}"' if width else "") + ">"
        rows.append(f"<TR>{td}<B>{_text(title)}</B></TD></TR>")
    if states:
        rows.append("<TR>" + "".join(f'<TD BGCOLOR="{color}" BORDER="1">{state}</TD>'
                                     for state, color in STATES.items()) + "</TR>")
    if kinds:
        cells = [f'<TD BGCOLOR="{a["fillcolor"]}" COLOR="{a.get("color", "#555555")}"'
                 f' BORDER="{2 if "penwidth" in a else 1}">{KIND_NOTES[kind]}</TD>' for kind, a in KINDS.items()]
        rows.append("<TR>" + "".join(cells) + "</TR>")
    return f'<<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="3">{"".join(rows)}</TABLE>>'


def _table(rows: list[str], widths: list[int] | None = None) -> str:
    """A node label: one row per line; ``widths[i]`` (points) fixes row i's least width."""
    widths = widths or [0] * len(rows)
    cells = "".join(f'<TR><TD{f" WIDTH={_DQ}{w}{_DQ}" if w else ""}>{row}</TD></TR>' for row, w in zip(rows, widths))
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _wrap_text(text: str, width: int) -> list[str]:
    """``text`` in lines of about ``width`` characters, broken at spaces (after ``d../d.. =`` first)."""
    if len(text) <= width:
        return [text]
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width and not (len(lines) == 1 and lines[0].endswith(" =")):
            lines[-1] += " " + word
        elif lines and len(lines[-1]) < width // 3:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _op_table(op_text: str, cells: list[dict], side: str) -> str:
    """An op node: the op, and one cell per input edge (its port) with d out / d input; the edge ends at it."""
    wrap = 26 if side in "we" else 16

    def td(j: int, c: dict) -> str:
        text = "<BR ALIGN=\"LEFT\"/>".join(_text(line) for line in _wrap_text(c["text"], wrap))
        if c["lit"]:
            text = f'<FONT COLOR="{_HIGHLIGHT}">{text}</FONT>'
        if c["push"]:
            text += f'<BR/><FONT COLOR="#a63603">{_text(c["push"])}</FONT>'
        elif c["width"]:  # a frame: the push line's room, so that every frame has the same layout
            text += "<BR/> "
        bg = ' BGCOLOR="#fee6ce"' if c["push"] else ""
        width = f' WIDTH="{_width(c["width"], 9)}"' if c["width"] else ""
        sides = "T" if side in "we" else "L"
        return f'<TD PORT="p{j}" BORDER="1" SIDES="{sides}" COLOR="#bbbbbb" BALIGN="LEFT"{bg}{width}>{text}</TD>'

    head = f"<B>{_text(op_text)}</B>"
    attrs = ('BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" STYLE="rounded" COLOR="#888888"'
             ' BGCOLOR="#f4f4f4"')
    font = '<FONT POINT-SIZE="9">'
    if side in "we":  # left to right: cells stacked, edges enter from the side
        body = f"<TR><TD>{head}</TD></TR>" + "".join(f"<TR>{td(j, c)}</TR>" for j, c in enumerate(cells))
    else:  # top to bottom: cells side by side, edges enter from above (below for BT), the op on the other side
        top = "".join(td(j, c) for j, c in enumerate(cells))
        head_row = f'<TR><TD COLSPAN="{len(cells)}">{head}</TD></TR>'
        body = f"<TR>{top}</TR>{head_row}" if side == "n" else f"{head_row}<TR>{top}</TR>"
    return f"<{font}<TABLE {attrs}>{body}</TABLE></FONT>>"


def _quote(s: str) -> str:
    """A double-quoted DOT string (escString attributes such as tooltip)."""
    s = str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{s}"'


def _attrs(attrs: dict[str, str]) -> str:
    """``k=v`` pairs; labels (``<...>``) and quoted strings pass through, other values get quoted."""
    return ", ".join(f"{k}={v if v.startswith(('<', _DQ)) else _quote(v)}" for k, v in attrs.items())
