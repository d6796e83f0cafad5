"""The explorer: one self-contained HTML page to step through backprop on the graph and ask any node why.

``explore(root).save("net.html")`` writes a single file (the graph laid out by Graphviz's ``dot`` as SVG, both
directions; the data as JSON; the script inline) that works from ``file://`` with no network. Everything it
shows is computed here, at save time: the ``Backprop`` state after every step (as the pushes of each step,
so the page stays linear in the graph's size) and ``explain(root, node)`` for every value node.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.graph import Graph, as_graph
from .core.value import Value
from .explain import explain
from .render import (
    KIND_NOTES,
    KINDS,
    STATES,
    check_size,
    dot_lines,
    dot_source,
    drawing_options,
    pipe,
    short_number,
    shown_names,
)
from .stepping import Backprop
from .text import format_number, term_formula, visible

MAX_EXPLAINED_CHARS = 2_000_000  # explanation text one page holds in all; later nodes point to explain()
_PAGE = Path(__file__).with_name("explore_page.html")


@dataclass(frozen=True)
class Explorer:
    """A saved-or-shown explorer page for one graph: ``save(path)``, or display it in Jupyter."""

    root: Value
    page: str  # the whole HTML document

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (one self-contained HTML file; atomic: a temporary file, then rename)."""
        path = Path(path)
        try:
            mode = path.stat().st_mode & 0o777  # an existing page keeps its permission bits
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.chmod(tmp, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.page)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def _repr_html_(self) -> str:
        # an iframe of its own: two explorers in one notebook share no ids, styles or window.chainrule
        return (f'<iframe srcdoc="{html.escape(self.page, quote=True)}" sandbox="allow-scripts" '
                'style="width: 100%; height: 680px; border: 1px solid #ddd" title="chainrule explorer"></iframe>')


def explore(root: Value | Graph, *, grad: float = 1.0, rankdir: str = "LR", precision: int = 4,
            max_nodes: int = 500, max_paths: int = 64, collapse: Any = True, params: Any = None,
            title: str | None = None) -> Explorer:
    """The explorer page of ``root``'s graph (a Value or a Graph; every node drawn; needs Graphviz's ``dot``).

    ``grad`` seeds the pass; ``rankdir`` is the layout shown first (both are in the page); ``precision``
    the digits on the picture; ``max_nodes`` bounds the graph (as for ``draw``); ``max_paths`` and
    ``collapse`` go to ``explain`` for the side panel (``collapse=True``: the hand derivation's quantities);
    ``params`` and ``title`` as for ``draw``. Gradients are left as they were.
    """
    g = as_graph(root, "explore")
    opts = {d: drawing_options({"rankdir": d, "precision": precision, "max_nodes": max_nodes, "params": params},
                        collapse=False, size=None) for d in ("LR", "TB")}
    if rankdir not in opts:
        drawing_options({"rankdir": rankdir})  # the same error as draw's for a wrong rankdir
    check_size(g, opts["LR"])  # before any work
    order, names, index = g.order, g.names, g.index
    shown = [shown_names(g)[v] for v in order]
    seen: dict[str, int] = {}
    for s in shown:
        seen[s] = seen.get(s, 0) + 1
    keys = [s if seen[s] == 1 else f"{s} (v{i})" for i, s in enumerate(shown)]
    steps, start, final = _steps(g, grad, precision)
    reserve = _reserve(order, steps, precision)
    svgs = {d: _svg(g, opts[d], reserve) for d in ("LR", "TB")}
    param_set = None if params is None else set(params)
    nodes = []
    for i, v in enumerate(order):
        nodes.append({"id": f"v{i}", "key": keys[i], "name": shown[i], "kind": g.kind(v, param_set),
                      "data": v.data, "dataText": short_number(v.data, precision),
                      "grad": final[i], "gradText": format_number(final[i]),
                      "inputs": [index[x] for x in v.inputs], "op": v.op})
    edges = {}
    for i, v in enumerate(order):
        for j, (x, local) in enumerate(zip(v.inputs, v.local_grads)):
            formula = visible(term_formula(v, j, names))
            value = short_number(local, precision)
            said = value if formula == value else f"{formula} = {value}"
            edges[f"e{i}_{j}"] = {"text": f"d{shown[i]}/d{shown[index[x]]} = {said}", "value": local}
    data = {
        "title": visible(title if title is not None else f"Backpropagation through {names[g.root]}"),
        "root": index[g.root], "seed": float(grad), "seedText": short_number(float(grad), precision),
        "layout": rankdir if rankdir in ("LR", "TB") else "LR", "svg": svgs, "nodes": nodes, "edges": edges,
        "steps": steps, "start": start, "explanations": _explanations(g, collapse, max_paths),
        "states": STATES, "kinds": [{"kind": k, "note": KIND_NOTES[k], **a} for k, a in KINDS.items()],
    }
    page = _PAGE.read_text(encoding="utf-8")
    page = page.replace("__TITLE__", html.escape(data["title"])).replace("__DATA__", _js(data))
    return Explorer(g.root, page)


def _steps(g: Graph, grad: float, precision: int) -> tuple[list[dict], str, list[float]]:
    """Every step of the pass as its pushes (this pass alone: grads start at 0), and every node's gradient at the
    end of it, in ``g.order``; all grads restored after."""
    order, index = g.order, g.index
    saved = [(v, v.grad) for v in order]
    steps = []
    try:
        for v in order:
            v.grad = 0.0
        bp = Backprop(g, grad)
        start = visible(f"Before step 1/{len(bp.order)}: d{bp.names[g.root]}/d{bp.names[g.root]} = "
                        f"{short_number(bp.grad, precision)} (the seed); every other gradient is 0.")
        for step in bp:
            received: dict[int, list] = {}
            for t in step.terms:
                i = index[t.input]
                if i in received:
                    received[i][2], received[i][4] = t.after, short_number(t.after, precision)
                else:
                    received[i] = [i, t.before, t.after, short_number(t.before, precision),
                                   short_number(t.after, precision)]
            n = index[step.node]
            steps.append({"node": n, "grad": step.grad, "text": visible(str(step)),
                          "edges": [f"e{n}_{j}" for j in range(len(step.node.inputs))],
                          "received": list(received.values())})
        final = [v.grad for v in order]
    finally:
        for v, old in saved:
            v.grad = old
    return steps, start, final


def _reserve(order: list[Value], steps: list[dict], precision: int) -> dict[Any, int]:
    """Room (characters) for each node's longest grad row over the steps, so the picture never overflows."""
    longest = [len("grad 0")] * len(order)
    for s in steps:
        for i, _, _, before, after in s["received"]:
            longest[i] = max(longest[i], len(f"grad {before} → {after}"))
    return {v: longest[i] for i, v in enumerate(order)}


def _svg(g: Graph, opts: Any, reserve: dict[Any, int]) -> str:
    """The picture as inline SVG: no XML prolog, DOCTYPE, titles or native tooltips (the page has its own)."""
    svg = pipe(dot_source(dot_lines(g, opts, reserve=reserve)), "svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = re.sub(r"<title>[^<]*</title>\n?", "", svg)
    return re.sub(r' xlink:title="[^"]*"', "", svg)


def _explanations(g: Graph, collapse: Any, max_paths: int) -> list[str | None]:
    """``str(explain(g, node))`` per node, until the page holds MAX_EXPLAINED_CHARS of them (then None).

    One Graph serves them all: its walk, gradients and folded view's texts are made once.
    """
    out: list[str | None] = []
    total = 0
    for v in g.order:
        if total > MAX_EXPLAINED_CHARS:
            out.append(None)
            continue
        text = visible(str(explain(g, v, collapse=collapse, max_paths=max_paths)))
        total += len(text)
        out.append(text)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _js(obj: object) -> str:
    """``obj`` as a JavaScript literal that no HTML parser can end early (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))  # NaN/Infinity: valid JavaScript
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
