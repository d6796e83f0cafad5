"""Rendering: the DOT of the 2-2-2 network holds the hand derivation's numbers; pictures, frames, errors."""

from __future__ import annotations

import html
import json
import re
import subprocess

import pytest
from conftest import TOL, build_mazur

from autograd import Value, draw, linear, render_steps, to_dot
from autograd.render import DotNotFoundError, backprop_dot, save
from autograd.text import edge_formula, term_formula

HOSTILE = 'a"b{c}|<d>\\e\nf ü ∂'
PRECISE = 12  # significant digits shown, so numbers parsed back from the DOT match to TOL


@pytest.fixture
def graphviz_lib():
    return pytest.importorskip("graphviz", reason="the graphviz Python package is not installed (chainrule[viz])")


@pytest.fixture
def net() -> dict[str, Value]:
    v = build_mazur()
    v["E_total"].backward()
    return v


# -- reading DOT back --------------------------------------------------------------------------------
NODE = re.compile(r"^\t(v\d+) \[(.*)\]$", re.M)
OP = re.compile(r"^\t(o\d+) \[(.*)\]$", re.M)
EDGE = re.compile(r"^\t([vo]\d+) -> ([vo]\d+)(?::p\d+:[nsew])?(?: \[(.*)\])?$", re.M)


def cell(text: str) -> str:
    return html.unescape(text.replace("\\\\", "\\").replace("<BR/>", "\n"))


def nodes(src: str) -> dict[str, dict]:
    """Value nodes by name: their id, data, grad and attribute text."""
    out = {}
    for node_id, attrs in NODE.findall(src):
        name = cell(re.search(r"<B>(.*?)</B>", attrs, re.S).group(1))
        data = re.search(r"<TD[^>]*>data (\S+?)</TD>", attrs)
        grad = re.search(r"<TD[^>]*>grad (\S+?)</TD>", attrs)
        out[name] = {"id": node_id, "attrs": attrs, "data": data and float(data.group(1)),
                     "grad": grad and float(grad.group(1))}
    return out


def edges(src: str) -> dict[tuple[str, str], list[str]]:
    """Input edges by (input name, consumer name): their attribute texts (value -> op -> value)."""
    name = {n["id"]: k for k, n in nodes(src).items()}
    op_of = {a: name[b] for a, b, _ in EDGE.findall(src) if a.startswith("o")}
    out: dict[tuple[str, str], list[str]] = {}
    for a, b, attrs in EDGE.findall(src):
        if b.startswith("o"):
            out.setdefault((name[a], op_of[b]), []).append(attrs)
    return out


def derivative(attrs: str) -> str:
    """What an edge says (its tooltip; the op node's cell where the edge ends shows the same):
    ``dchild/dparent = formula = value``."""
    return re.search(r'tooltip="(.*?)"(?:,|$)', attrs).group(1)


def local(attrs: str) -> float:
    """The local derivative an edge shows (the number after the formula)."""
    return float(derivative(attrs).rsplit(" = ", 1)[-1])


def op_text(attrs: str) -> str:
    """The op (or folded expression) an op node shows."""
    return re.search(r'tooltip="(.*?)"(?:,|$)', attrs).group(1)


def lit(attrs: str) -> bool:
    return 'color="#d62728"' in attrs


# -- the 2-2-2 network ---------------------------------------------------------------------------------
@pytest.mark.parametrize("collapse", [True, False])
def test_every_labeled_value_shows_its_data_and_grad(net, collapse):
    shown = nodes(to_dot(net["E_total"], collapse=collapse, precision=PRECISE))
    for name, v in net.items():
        assert abs(shown[name]["data"] - v.data) < TOL, name
        assert abs(shown[name]["grad"] - v.grad) < TOL, name
    # the published numbers of the hand derivation
    assert abs(shown["E_total"]["data"] - 0.298371109) < TOL
    assert abs(shown["out_h1"]["data"] - 0.593269992) < TOL
    assert abs(shown["w5"]["grad"] - 0.082167041) < TOL  # dE_total/dw5
    assert abs(shown["w1"]["grad"] - 0.000438568) < TOL  # dE_total/dw1
    assert abs(shown["out_h1"]["grad"] - 0.036350306) < TOL  # dE_total/dout_h1
    assert abs(shown["net_o1"]["grad"] - 0.138498562) < TOL  # delta of o1
    assert abs(shown["net_o2"]["grad"] - -0.038098237) < TOL  # delta of o2


def test_default_precision_shows_four_significant_digits(net):
    w1 = nodes(to_dot(net["E_total"]))["w1"]["attrs"]
    assert "data 0.15<" in w1 and "grad 0.0004386<" in w1


def test_folded_edges_carry_the_local_derivatives_of_the_derivation(net):
    e = edges(to_dot(net["E_total"], precision=PRECISE))
    dE_total_dE_o1 = local(e["E_o1", "E_total"][0])
    dE_o1_dout_o1 = local(e["out_o1", "E_o1"][0])
    dout_o1_dnet_o1 = local(e["net_o1", "out_o1"][0])
    dnet_o1_dw5 = local(e["w5", "net_o1"][0])
    dnet_o1_dout_h1 = local(e["out_h1", "net_o1"][0])
    dnet_o2_dout_h1 = local(e["out_h1", "net_o2"][0])
    dout_h1_dnet_h1 = local(e["net_h1", "out_h1"][0])
    dnet_h1_dw1 = local(e["w1", "net_h1"][0])
    assert dE_total_dE_o1 == 1.0
    assert abs(dE_o1_dout_o1 - 0.741365070) < TOL  # out_o1 - target_o1
    assert abs(dout_o1_dnet_o1 - 0.186815602) < TOL
    assert abs(dnet_o1_dw5 - 0.593269992) < TOL  # out_h1
    assert dnet_o1_dout_h1 == 0.40 and dnet_o2_dout_h1 == 0.50  # the old w5 and w7
    assert abs(dout_h1_dnet_h1 - 0.241300709) < TOL
    assert dnet_h1_dw1 == 0.05  # i1
    assert "out_h1 = 0.5933" in to_dot(net["E_total"])  # the formula, filled in with the operand's name


def test_uncollapsed_edges_hold_each_ops_local_derivative(net):
    root = net["E_total"]
    src = to_dot(root, collapse=False, precision=PRECISE)
    e = edges(src)
    dout_o1_dnet_o1 = local(e["net_o1", "out_o1"][0])
    assert abs(dout_o1_dnet_o1 - 0.186815602) < TOL
    # every real edge of the graph is drawn once, with its local derivative
    shown = sorted(local(a) for attrs in e.values() for a in attrs)
    real = sorted(g for v in _order(root) for g in v.local_grads)
    assert len(shown) == len(real)
    assert all(abs(a - b) < TOL for a, b in zip(shown, real))


def test_a_reused_input_gets_one_edge_per_operand_with_its_own_term():
    a = Value(3.0, label="a")
    y = a * a
    y.label = "y"
    names = _names(y)
    dy_da_each = edges(to_dot(y, collapse=False))["a", "y"]  # y = x * y with x = y = a: d/dx = y, d/dy = x
    assert [derivative(e) for e in dy_da_each] == [f"dy/da = {term_formula(y, i, names)} = 3" for i in (0, 1)]
    assert [derivative(e) for e in edges(to_dot(y))["a", "y"]] == [f"dy/da = {edge_formula(y, a, names)} = 6"]
    src = to_dot(y, collapse=False)  # each edge ends at its own cell of the op node, which says the same
    assert re.findall(r"-> o1:(p\d):w", src) == ["p0", "p1"]
    for j in (0, 1):
        assert re.search(rf'<TD PORT="p{j}"[^>]*>dy/da = {re.escape(term_formula(y, j, names))} = 3</TD>', src)


def test_op_nodes_are_separate_and_show_the_op_name(net):
    root = net["E_total"]
    src = to_dot(root, collapse=False)
    ops = [op_text(attrs).split("\\n")[0] for _, attrs in OP.findall(src)]
    assert sorted(ops) == sorted(v.op for v in _order(root) if v.inputs)
    assert "<B>pow_const<BR/>n = 2</B>" in src  # an op with a constant shows it
    names = _names(root)
    square = next(v for v in _order(root) if v.op == "pow_const" and names[v] == "pow_const#1")
    assert names[square.inputs[0]] == "sub#1"  # o1's loss nodes were made first, so they are numbered first
    dsquare_dsub = f"dpow_const#1/dsub#1 = {term_formula(square, 0, names)} = "
    assert dsquare_dsub in src  # d (0.01 - out_o1)^2 / d (0.01 - out_o1), written in
    assert "2 * sub#1 = -1.483" in src  # sub#1 is 0.01 - out_o1 (o1's, -0.7414)


def test_folded_op_nodes_show_the_expression_of_named_quantities(net):
    ops = {op_text(attrs) for _, attrs in OP.findall(to_dot(net["E_total"]))}
    assert {"w1 * i1 + w2 * i2 + b1", "sigmoid", "0.5 * (0.01 - out_o1)^2", "add"} <= ops
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    r = (a - (b - a * b)) / (a / b) ** 2.0 + (-(a + b)).exp() + 2.0 ** (a - b)
    assert "(a - (b - a * b)) / (a / b)^2 + exp(-(a + b)) + 2^(a - b)" in to_dot(r)
    minus_a = -a
    s = linear([a + b], [-minus_a], b) * (b - a)  # operands of linear and of neg keep their parentheses
    assert "((a + b) * -(-a) + b) * (b - a)" in to_dot(s)
    kept = nodes(to_dot(net["E_total"], collapse=["out_h1", net["out_o1"]]))  # keep only these (and leaves)
    assert {"out_h1", "out_o1", "E_total", "w1", "i1"} <= set(kept) and "net_h1" not in kept


def test_node_kinds_are_visually_distinct(net):
    params = [net[f"w{k}"] for k in range(1, 9)]
    shown = nodes(to_dot(net["E_total"], params=params))
    fill = {name: re.search(r'fillcolor="(#\w+)"', n["attrs"]).group(1) for name, n in shown.items()}
    kinds = {"output": fill["E_total"], "parameter": fill["w1"], "input": fill["i1"],
             "intermediate": fill["net_h1"], "constant": fill["leaf#1"]}
    assert len(set(kinds.values())) == 5
    assert fill["w8"] == kinds["parameter"] and fill["b2"] == kinds["input"] and fill["out_o2"] == kinds["intermediate"]
    assert 'peripheries="2"' in shown["w1"]["attrs"] and "dashed" in shown["leaf#1"]["attrs"]


def test_nn_parameters_are_recognized_by_their_labels():
    w, x, b = Value(0.5, label="W[1][0,0]"), Value(2.0, label="x"), Value(0.1, label="b[1][0]")
    shown = nodes(to_dot(w * x + b))
    assert 'peripheries="2"' in shown["W[1][0,0]"]["attrs"] and 'peripheries="2"' in shown["b[1][0]"]["attrs"]
    assert "peripheries" not in shown["x"]["attrs"]


def test_highlight_of_the_w1_explanation_colors_exactly_its_two_paths(net):
    from autograd.explain import explain

    root, w1 = net["E_total"], net["w1"]
    why = explain(root, w1)
    assert len(why.paths) == 2
    on_paths = {(parent, child) for p in why.paths for f in p.factors
                for chain in (f.chains or (f.chain,)) for child, parent in zip(chain, chain[1:])}
    names = _names(root)
    expected = {(names[a], names[b]) for a, b in on_paths}
    e = edges(to_dot(root, collapse=False, highlight=why))
    assert {k for k, attrs in e.items() if any(map(lit, attrs))} == expected
    shown = nodes(to_dot(root, collapse=False, highlight=why))
    assert {k for k, n in shown.items() if lit(n["attrs"])} == {n for pair in expected for n in pair}


def test_highlight_in_the_collapsed_picture_shows_the_two_paths_between_named_quantities(net):
    from autograd.explain import explain

    root = net["E_total"]
    both = {("w1", "net_h1"), ("net_h1", "out_h1"), ("E_o1", "E_total"), ("E_o2", "E_total")}
    path_o1 = {("out_h1", "net_o1"), ("net_o1", "out_o1"), ("out_o1", "E_o1")}
    path_o2 = {("out_h1", "net_o2"), ("net_o2", "out_o2"), ("out_o2", "E_o2")}
    for highlight in (explain(root, net["w1"]), net["w1"], "w1", [net["w1"]]):
        e = edges(to_dot(root, highlight=highlight))
        assert {k for k, attrs in e.items() if any(map(lit, attrs))} == both | path_o1 | path_o2
    e = edges(to_dot(root, highlight=explain(net["E_o1"], net["w1"])))  # one of the two paths only
    assert {k for k, attrs in e.items() if any(map(lit, attrs))} == {("w1", "net_h1"), ("net_h1", "out_h1")} | path_o1
    with pytest.raises(ValueError, match="no node named 'w9'"):
        to_dot(root, highlight="w9")


def test_options_turn_parts_off(net):
    src = to_dot(net["E_total"], show_data=False, show_grad=False, show_local=False, rankdir="TB", title="2-2-2")
    assert "data " not in src and "grad " not in src and "label=<" in src
    assert "rankdir=TB" in src and "2-2-2" in src
    assert not any("label" in a for attrs in edges(src).values() for a in attrs)
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(net["E_total"], rankdir="sideways")
    with pytest.raises(TypeError, match="show_gradient"):
        to_dot(net["E_total"], show_gradient=True)


def test_max_nodes_raises_a_clear_error():
    x = Value(0.5, label="x")
    y = x
    for _ in range(600):
        y = y.tanh()
    with pytest.raises(ValueError, match=r"601 nodes, more than max_nodes=500.*collapse=True"):
        to_dot(y, collapse=False)
    assert len(nodes(to_dot(y))) == 2  # folded: x and the output
    with pytest.raises(ValueError, match="max_nodes=1"):
        to_dot(y, max_nodes=1)


def test_deep_graphs_need_no_recursion():
    x, w = Value(0.5, label="x"), Value(0.9, label="w")
    y = x
    for _ in range(3000):
        y = (y * w).tanh()
    y.label = "y"
    assert len(nodes(to_dot(y, collapse=False, max_nodes=10_000))) == 6002
    assert set(nodes(to_dot(y))) == {"x", "w", "y"}


def test_hostile_labels_escape_in_the_dot_source():
    src = to_dot(Value(1.0, label=HOSTILE) * Value(2.0, label="\\\\ ]; } & &amp; <BR/> \t"))
    shown = nodes(src)
    assert HOSTILE in shown and "\\\\ ]; } & &amp; <BR/> \\x09" in shown


# Labels that broke rendering (issue 11): each must render, or show escaped, in DOT, SVG and pages.
ODD_LABELS = {
    "empty": ("", "''"),
    "NUL byte": ("a\x00b", "a\\x00b"),
    "lone surrogate": ("x\ud800y", "x\\ud800y"),
    "escape sequence": ("\x1b[31mred", "\\x1b[31mred"),
    "bidi override": ("abc\u202edef", "abc\\u202edef"),
    "noncharacter": ("z\uffff", "z\\uffff"),
    "script": ("</script><script>alert(1)</script>", "</script><script>alert(1)</script>"),
    "cdata end": ("]]><x/>", "]]><x/>"),
}


def test_visible_escapes_what_a_reader_cannot_see_or_a_file_cannot_hold():
    from autograd.render import visible

    for label, shown in ODD_LABELS.values():
        assert visible(label) == shown
        shown.encode("utf-8")  # every shown text can be written to a file
    assert visible("ü ∂ 🙂\nline 2") == "ü ∂ 🙂\nline 2"  # printable text and line breaks stay


@pytest.mark.parametrize("kind", ODD_LABELS)
def test_odd_labels_show_escaped_in_the_dot_source(kind):
    label, shown = ODD_LABELS[kind]
    src = to_dot(Value(1.0, label=label) * Value(2.0, label="k"))
    src.encode("utf-8")
    assert shown in nodes(src)
    assert "\x00" not in src and "\ud800" not in src
    unquoted = re.sub(r'tooltip="(?:[^"\\]|\\.)*"', "", src)  # a quoted tooltip holds text as it is
    assert "<script>" not in unquoted and "</script>" not in unquoted


def test_inputs_are_drawn_in_order(net, dot_program):
    """w1 above w2 and i1 above i2 left to right; w1 left of w2 and i1 left of i2 top to bottom."""
    for rankdir, axis in (("LR", 1), ("TB", 0)):
        svg = subprocess.run([dot_program, "-Tsvg"], input=to_dot(net["E_total"], rankdir=rankdir).encode(),
                             capture_output=True, check=True).stdout.decode()
        where = {}
        for node_id, text in re.findall(r'<g id="(v\d+)" class="node">(.*?)</text>', svg, re.S):
            x, y = re.search(r'<text[^>]* x="([-\d.]+)" y="([-\d.]+)"', text).groups()
            where[node_id] = (float(x), float(y))
        pos = {name: where[n["id"]][axis] for name, n in nodes(to_dot(net["E_total"], rankdir=rankdir)).items()}
        assert pos["w1"] < pos["w2"] < pos["w3"] < pos["w4"], rankdir  # SVG y grows downwards
        assert pos["i1"] < pos["i2"], rankdir
        assert pos["w5"] < pos["w8"], rankdir


def test_the_legend_names_every_node_kind_and_the_default_size_fits_a_notebook_cell(net, dot_program):
    plain = to_dot(net["E_total"])
    src = to_dot(net["E_total"], legend=True)
    for kind in ("output", "input", "parameter (double border)", "constant (dashed)", "intermediate"):
        assert kind in src and kind not in plain
    svg = subprocess.run([dot_program, "-Tsvg"], input=src.encode(), capture_output=True, check=True).stdout
    width, height = (float(x) for x in re.search(rb'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())
    assert width <= 720 and height <= 720  # size="10,10": at most 960 px wide at 96 dpi
    big = to_dot(net["E_total"], size=None)
    assert "graph [size=" not in big


def test_parameters_of_bare_value_graphs_are_recognized_by_their_labels(net):
    shown = nodes(to_dot(net["E_total"]))  # w1..w8, b1, b2 look like parameters; i1, targets like inputs
    for name in ("w1", "w8", "b1", "b2"):
        assert 'peripheries="2"' in shown[name]["attrs"], name
    for name in ("i1", "i2"):
        assert "peripheries" not in shown[name]["attrs"], name
    explicit = nodes(to_dot(net["E_total"], params=[net["w1"]]))  # params= decides when given
    assert 'peripheries="2"' in explicit["w1"]["attrs"] and "peripheries" not in explicit["w2"]["attrs"]


# -- through Graphviz's dot --------------------------------------------------------------------------------
def test_hostile_labels_render(dot_program):
    odd = "\\\\ ]; } & &amp; <BR/> \"quoted\""
    root = (Value(1.0, label=HOSTILE) * Value(2.0, label=odd)).tanh()
    root.label = "∂L/∂x ü"
    root.backward()
    done = subprocess.run([dot_program, "-Tsvg"], input=to_dot(root).encode(), capture_output=True)
    assert done.returncode == 0 and done.stderr == b""
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", done.stdout.decode())]
    assert 'a"b{c}|<d>\\e' in texts and "f ü ∂" in texts  # the newline starts a second line
    assert odd in texts and "∂L/∂x ü" in texts


@pytest.mark.parametrize("kind", ODD_LABELS)
def test_odd_labels_render_through_dot_as_well_formed_svg(kind, dot_program):
    import xml.etree.ElementTree as ET

    label, shown = ODD_LABELS[kind]
    root = (Value(1.0, label=label) * Value(2.0, label="k")).tanh()
    root.label = label
    root.backward()
    done = subprocess.run([dot_program, "-Tsvg"], input=to_dot(root, collapse=False).encode("utf-8"),
                          capture_output=True)
    assert done.returncode == 0 and done.stderr == b""
    tree = ET.fromstring(done.stdout)  # well-formed XML: no control character, no surrogate
    texts = ["".join(t.itertext()) for t in tree.iter("{http://www.w3.org/2000/svg}text")]
    assert texts.count(shown) >= 2  # the leaf and the output, shown escaped
    assert not [e for e in tree.iter() if e.tag.endswith("script")]  # markup in a label stays text


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_save_picks_the_format_from_the_suffix(net, tmp_path, dot_program, suffix, magic):
    path = save(net["E_total"], tmp_path / f"mazur{suffix}", highlight="w1")
    assert path.read_bytes().startswith(magic)


def test_save_dot_needs_no_graphviz(net, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    path = save(net["E_total"], tmp_path / "mazur.gv")
    assert path.read_text(encoding="utf-8") == to_dot(net["E_total"])
    with pytest.raises(ValueError, match="unknown file suffix '.jpeg'"):
        save(net["E_total"], tmp_path / "mazur.jpeg")


def test_draw_is_a_digraph_that_renders_svg_and_png(net, dot_program, graphviz_lib, tmp_path):
    g = draw(net["E_total"], highlight="w5")
    assert isinstance(g, graphviz_lib.Digraph)
    assert g.pipe(format="svg").startswith(b"<?xml") and g.pipe(format="png").startswith(b"\x89PNG")
    assert "<svg" in g._repr_mimebundle_()["image/svg+xml"]  # what Jupyter shows inline
    out = g.render(tmp_path / "mazur", format="svg")
    assert out.endswith(".svg") and "w5" in open(out, encoding="utf-8").read()
    assert g.source.split("\n", 1)[1] == to_dot(net["E_total"], highlight="w5").split("\n", 1)[1]


def test_missing_dot_names_the_program_and_how_to_install_it(net, tmp_path, monkeypatch, graphviz_lib):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    g = draw(net["E_total"])
    calls = [lambda: save(net["E_total"], tmp_path / "m.svg"), lambda: g.pipe(format="svg"),
             lambda: g.render(tmp_path / "m"), lambda: render_steps(net["E_total"], tmp_path / "frames")]
    for call in calls:
        with pytest.raises(DotNotFoundError) as err:
            call()
        message = str(err.value)
        assert "`dot`" in message and "apt-get install graphviz" in message
        assert "brew install graphviz" in message and "conda install -c conda-forge graphviz" in message


# -- stepping frames ------------------------------------------------------------------------------------------
def received(src: str) -> dict[str, tuple[float, float]]:
    """Value boxes that show ``grad before → after`` (the last step pushed to them)."""
    out = {}
    for name, n in nodes(src).items():
        m = re.search(r"<TD[^>]*>grad (\S+) → (\S+)</TD>", n["attrs"])
        if m:
            out[name] = (float(m.group(1)), float(m.group(2)))
    return out


def test_backprop_frame_shows_final_current_and_unreached_nodes(net, graphviz_lib):
    from autograd.stepping import Backprop

    root = net["E_total"]
    bp = Backprop(root)
    first = nodes(backprop_dot(bp))
    assert "#b7e1b0" in first["E_total"]["attrs"] and first["E_total"]["grad"] == 1.0  # final, seeded
    assert first["w1"]["grad"] == 0.0 and "#888888" in first["w1"]["attrs"]  # not reached (stale grad hidden)
    assert "before backward step 1/" in backprop_dot(bp)
    while not bp.steps or bp.steps[-1].node is not net["out_h1"]:
        bp.step()
    src = backprop_dot(bp, precision=PRECISE)
    shown, e = nodes(src), edges(src)
    dE_dout_h1 = 0.036350306  # both consumers had pushed: final, and now pushed on
    assert "#fdae61" in shown["out_h1"]["attrs"] and "#b7e1b0" in shown["net_o1"]["attrs"]  # current, final
    assert abs(shown["out_h1"]["grad"] - dE_dout_h1) < TOL
    assert "#888888" in shown["w1"]["attrs"]
    flow = e["net_h1", "out_h1"][0]  # where out_h1's gradient flows: local x grad = contribution
    assert 'color="#e6550d"' in flow
    before, after = received(src)["net_h1"]  # the receiving box is updated in the same picture
    assert before == 0.0 and abs(after - dE_dout_h1 * 0.241300709) < TOL
    assert abs(float(re.search(r"× \S+ = ([-\d.e]+)</FONT>", src).group(1)) - after) < TOL
    assert bp.draw().source.split("\n", 1)[1] == backprop_dot(bp).split("\n", 1)[1]


def test_every_frame_shows_what_its_step_text_says(net):
    from autograd.stepping import Backprop

    root = net["E_total"]
    bp = Backprop(root)
    for step in bp:
        src = backprop_dot(bp, precision=PRECISE)
        shown, got = nodes(src), received(src)
        names = _names(root)
        assert f"backward step {step.index}/{step.total}: {names[step.node]}" in src
        assert "#fdae61" in shown[names[step.node]]["attrs"]  # the step's node is the current one
        assert {names[t.input] for t in step.terms} == set(got)
        for t in step.terms:  # the text's "grad before -> after" is the box's
            assert got[names[t.input]] == pytest.approx((t.before, t.after), abs=1e-11)
            assert re.search(rf"{re.escape(names[t.input])} .*grad \S+ -> \S+", str(step))
    bp.reset()


def test_render_steps_writes_one_frame_per_step_and_a_self_contained_player(net, tmp_path, dot_program):
    from autograd.stepping import Backprop

    root = net["E_total"]
    grads = {v: v.grad for v in _order(root)}
    index = render_steps(root, tmp_path)
    assert all(v.grad == g for v, g in grads.items())  # gradients left as they were
    page = index.read_text(encoding="utf-8")
    steps = list(Backprop(root))
    frames = sorted(p.name for p in tmp_path.glob("step_*.svg"))
    assert len(frames) == len(steps) == len([v for v in _order(root) if v.inputs])  # a step per non-leaf node
    script = re.search(r"<script>(.*)</script>", page, re.S).group(1)
    assert json.loads(re.search(r"const frames = (.*);", script).group(1)) == frames
    assert json.loads(re.search(r"const texts = (.*);", script).group(1)) == [str(s) for s in steps]
    assert all(f'href="{f}"' in page for f in frames)
    assert not re.search(r"https?:|//[\w.]+\.\w|src=\"(?!step_)", page)  # no network access
    assert all((tmp_path / f).read_bytes().startswith(b"<?xml") for f in frames)
    sizes = {re.search(rb'<svg width="(\S+)" height="(\S+)"', (tmp_path / f).read_bytes()).groups() for f in frames}
    assert len(sizes) == 1  # every frame the same size: the player does not jump


def test_consecutive_frames_have_the_same_layout(net, dot_program, tmp_path):
    render_steps(net["E_total"], tmp_path, size=None)
    layouts = set()
    for f in sorted(tmp_path.glob("step_*.svg")):
        svg = f.read_text(encoding="utf-8")
        layouts.add(tuple(re.findall(r'<g id="([vo]\d+)" class="node">.*?(?:points|d)="([^"]*)"', svg, re.S)))
    assert len(layouts) == 1 and len(next(iter(layouts))) > 40  # every node in the same place in every frame


def _order(root: Value) -> list[Value]:
    from autograd import topological_order

    return topological_order(root)


def _names(root: Value) -> dict[Value, str]:
    from autograd.core.names import node_names

    return node_names(_order(root))


def test_the_player_escapes_labels_that_look_like_markup(tmp_path, dot_program):
    x = Value(0.5, label="</script><script>alert(1)</script>")
    y = (x * x).tanh()
    y.label = "<b>&amp;"
    page = render_steps(y, tmp_path, format="png").read_text(encoding="utf-8")
    assert page.count("</script>") == 1 and page.count("<script>") == 1
    assert "<title>Backpropagation through &lt;b&gt;&amp;amp;</title>" in page
    assert len(list(tmp_path.glob("step_*.png"))) == 2  # tanh and mul: a leaf is not a step
