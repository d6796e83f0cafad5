"""The explorer page, read in Python: one self-contained file, the data of every step, escaped labels."""

from __future__ import annotations

import html.parser
import json
import os
import re

import pytest
from conftest import build_mazur

from autograd import Backprop, Graph, Value, explain, explore, topological_order
from autograd.render import visible
from autograd.text import format_number

HOSTILE = {
    "script": "</script><script>alert(1)</script>",
    "img": '<img src=x onerror="alert(2)">',
    "comment": "<!-- -->",
    "empty": "",
    "NUL": "a\x00b",
    "surrogate": "x\ud800y",
    "quote": "'\"&amp;",
}


@pytest.fixture
def net() -> dict[str, Value]:
    v = build_mazur()
    v["E_total"].backward()
    return v


def data_of(page: str) -> dict:
    """The page's data, as the script reads it."""
    return json.loads(re.search(r"<script>const DATA = (.*?);</script>", page, re.S).group(1))


class Tags(html.parser.HTMLParser):
    """Every start tag an HTML parser sees, and the text of each script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self.inside = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.inside = tag == "script"

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.scripts.append(data)


def tags(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    return parser


def test_the_page_is_one_self_contained_file(net, tmp_path, dot_program):
    path = explore(net["E_total"]).save(tmp_path / "net.html")
    assert [p.name for p in tmp_path.iterdir()] == ["net.html"]  # nothing else written, no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's 0600
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    seen = tags(page)
    assert seen.tags.count("script") == 2 and "link" not in seen.tags and "img" not in seen.tags
    assert "iframe" not in seen.tags
    # no address anywhere but the SVG namespaces (names, never fetched)
    rest = re.sub(r'xmlns(?::xlink)?=\\"http://www\.w3\.org/[\w/.]+\\"', "", page)
    assert not re.search(r"https?:|//[\w-]+\.[\w.]+/|url\(|@import|src=|href=", rest)
    data = data_of(page)
    assert set(data["svg"]) == {"LR", "TB"} and all(s.startswith("<svg") for s in data["svg"].values())
    assert "rankdir=TB" not in data["svg"]["LR"]


def test_the_steps_are_backprop_s_steps_and_gradients_stay(net, dot_program):
    root = net["E_total"]
    order = topological_order(root)
    grads = [v.grad for v in order]
    data = data_of(explore(root).page)
    assert [v.grad for v in order] == grads  # gradients left exactly as they were
    names = {n["key"]: i for i, n in enumerate(data["nodes"])}
    for v in order:
        v.grad = 0.0
    bp = Backprop(root)
    assert len(data["steps"]) == len(bp.order)  # a step per non-leaf node
    assert data["start"].startswith(f"Before step 1/{len(bp.order)}: ")  # the same count as the header
    for shown, step in zip(data["steps"], bp):
        assert data["nodes"][shown["node"]]["key"] == bp.names[step.node]
        assert shown["text"] == visible(str(step))  # the step text under the picture
        assert shown["grad"] == step.grad
        pushed = {bp.names[t.input]: t.after for t in step.terms}
        assert {data["nodes"][r[0]]["key"]: r[2] for r in shown["received"]} == pushed
    dE_dw5 = [r[2] for s in data["steps"] for r in s["received"] if r[0] == names["w5"]][-1]  # a leaf: its last push
    assert abs(dE_dw5 - 0.082167041) < 5e-10


def test_every_value_node_has_its_explanation_and_final_gradient(net, dot_program):
    root = net["E_total"]
    data = data_of(explore(root).page)
    for n, v in zip(data["nodes"], topological_order(root)):  # net holds one backward() pass: what the page shows
        assert n["grad"] == v.grad and n["gradText"] == format_number(v.grad)
    for i, v in enumerate(topological_order(root)):
        assert data["explanations"][i] == visible(str(explain(root, v, collapse=True)))
    w1 = [n["key"] for n in data["nodes"]].index("w1")
    assert "sum over 2 paths" in data["explanations"][w1] and "0.000438568" in data["explanations"][w1]


def test_edges_carry_their_local_derivative_in_the_graph_s_names(dot_program):
    from demos import mazur

    _, _, q = mazur.build()  # nn's graph: net_o1 is one linear node over w5, w6, out_h1, out_h2, b2
    data = data_of(explore(q["E_total"]).page)
    keys = [n["key"] for n in data["nodes"]]
    net_o1 = keys.index("net_o1")
    w5 = [f"e{net_o1}_{j}" for j, x in enumerate(data["nodes"][net_o1]["inputs"]) if keys[x] == "w5"]
    assert [data["edges"][e]["text"] for e in w5] == ["dnet_o1/dw5 = out_h1 = 0.5933"]
    assert all(f'id="{e}"' in data["svg"]["LR"] and f'id="{e}"' in data["svg"]["TB"] for e in data["edges"])


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_labels_cannot_inject_markup(kind, dot_program):
    label = HOSTILE[kind]
    x = Value(0.5, label=label)
    y = (x * x).tanh()
    y.label = label + "!"
    page = explore(y, title=label).page
    page.encode("utf-8")  # a lone surrogate would fail here
    seen = tags(page)
    assert seen.tags.count("script") == 2 and "img" not in seen.tags
    assert seen.scripts[0].startswith("const DATA = ") and len(seen.scripts) == 2
    data = data_of(page)  # the data parse back to the labels as shown
    assert {n["name"] for n in data["nodes"]} >= {visible(label), visible(label + "!")}
    assert data["title"] == visible(label)
    for svg in data["svg"].values():
        assert "<script" not in svg and "<img" not in svg


def test_the_notebook_view_is_an_isolated_iframe(net, dot_program):
    first, second = explore(net["E_total"]), explore(net["E_total"], rankdir="TB")
    for e in (first, second):
        shown = e._repr_html_()
        seen = tags(shown)
        assert seen.tags == ["iframe"]  # the page lives in the srcdoc attribute, escaped
        assert 'sandbox="allow-scripts"' in shown and "<script" not in shown
        srcdoc = html.unescape(re.search(r'srcdoc="(.*?)"', shown, re.S).group(1))
        assert srcdoc == e.page


def test_a_graph_above_max_nodes_is_refused_clearly():
    x = Value(0.5, label="x")
    y = x
    for _ in range(30):
        y = y.tanh()
    with pytest.raises(ValueError, match="31 nodes, more than max_nodes=20"):
        explore(y, max_nodes=20)


def test_demo_writes_the_2_2_2_page(tmp_path, dot_program, capsys):
    from demos import mazur

    out = tmp_path / "net.html"
    assert mazur.main(["--explore", str(out)]) == 0
    data = data_of(out.read_text(encoding="utf-8"))
    keys = [n["key"] for n in data["nodes"]]
    assert {"w1", "w8", "i1", "E_total"} <= set(keys)
    assert data["nodes"][keys.index("w1")]["kind"] == "parameter"
    assert str(out) in capsys.readouterr().out


def test_a_400_node_mlp_explores_with_one_graph_and_one_fold_per_node(dot_program, monkeypatch):
    """Every node's explanation comes from one Graph: its walk, gradients and texts are made once, and each
    explanation folds only the part of the graph between the root and its node (the page used to refold the
    whole graph per node: minutes for a 155-node MLP)."""
    import importlib

    import nn
    from autograd.core import fold as fold_module
    from autograd.core import graph as graph_module

    model = nn.MLP(4, [16, 16, 1], seed=1)
    loss = (model([0.5, -0.2, 0.1, 0.3])[0] - 1.0) ** 2
    order = topological_order(loss)
    visited = []
    real_fold = fold_module.fold

    def counted(graph, kept, within=None):
        visited.append(len(graph) if within is None else len(within))
        return real_fold(graph, kept, within)

    monkeypatch.setattr(importlib.import_module("autograd.explain"), "fold", counted)
    monkeypatch.setattr(graph_module, "walks", 0)
    data = data_of(explore(loss, max_nodes=1000).page)
    assert graph_module.walks == 1 and len(order) > 400
    g = Graph(loss)
    assert visited == [len(g.reaching(v)) for v in order]  # one fold per node, of the nodes between it and the root
    assert all(text is not None for text in data["explanations"])
    w = model.layers[0].W[0][0]
    assert data["explanations"][order.index(w)] == visible(str(explain(loss, w, collapse=True)))
