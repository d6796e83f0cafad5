"""compile_graph: generated straight-line code gives the engine's floats and the engine's errors."""

from __future__ import annotations

import ast
import math
import random
import re
import subprocess
import sys

import pytest
from conftest import TOL, build_mazur
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import nn
from autograd import OPS, Value, apply, compile_graph, define_op, linear, sum_values, topological_order

WEIGHTS = [f"w{k}" for k in range(1, 9)]


def same(a: float, b: float) -> bool:
    """Bit-for-bit equal floats (0.0 and -0.0 differ; nan equals nan)."""
    if a != a or b != b:
        return a != a and b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def rebuild(root: Value, values: dict[Value, float]) -> tuple[Value, dict[Value, Value]]:
    """The engine's own graph of ``root``'s ops on new leaf values, built as its code would build it again: in
    construction order (the numbers the engine gave the nodes as they were made)."""
    new: dict[Value, Value] = {}
    for v in sorted(topological_order(root), key=lambda v: v._seq):
        if v.inputs:
            node = apply(v.op, tuple(new[c] for c in v.inputs), v.param)
        else:
            node = Value(values.get(v, v.data))
        node.label = v.label
        new[v] = node
    return new[root], new


def run_source(f, values):
    """Execute f.source in a fresh namespace, as a user pasting it into a file would."""
    namespace: dict = {}
    exec(f.source, namespace)
    return namespace["forward_backward"](values, list(f.constants))


# -- the 2-2-2 network of the reference ------------------------------------------------------------

def test_mazur_compiled_gives_the_published_gradients_bit_for_bit(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    f = compile_graph(mazur["E_total"], inputs=weights)
    E_total, grads = f([w.data for w in weights])
    dE = dict(zip(WEIGHTS, grads))
    assert abs(E_total - 0.298371109) <= TOL
    assert abs(dE["w5"] - 0.082167041) <= TOL
    assert abs(dE["w1"] - 0.000438568) <= TOL
    mazur["E_total"].backward()
    assert same(E_total, mazur["E_total"].data)
    assert all(same(dE[name], mazur[name].grad) for name in WEIGHTS)


def test_mazur_source_reads_like_the_hand_derivation(mazur):
    f = compile_graph(mazur["E_total"], inputs=[mazur[name] for name in WEIGHTS])
    assert "out_h1 = _sigmoid(net_h1)" in f.source
    assert "d_net_o1 = out_o1 * (1.0 - out_o1) * d_out_o1" in f.source  # dout_o1/dnet_o1 from the table
    assert "d_w5 = out_h1 * d_net_o1" in f.source  # dE/dw5 = out_h1 * delta_o1
    assert "d_out_h1 = w5 * d_net_o1 + w7 * d_net_o2" in f.source  # out_h1 feeds o1 and o2: the two paths add
    assert f.input_names == WEIGHTS
    assert {"i1", "i2", "b1", "b2"} <= set(f.constant_names)


def test_training_steps_match_the_engine_step_by_step(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    f = compile_graph(mazur["E_total"], inputs=weights)
    values = [w.data for w in weights]
    for _ in range(50):
        E_total, grads = f(values)
        fresh, new = rebuild(mazur["E_total"], dict(zip(weights, values)))
        fresh.backward()
        assert same(E_total, fresh.data)
        assert all(same(g, new[w].grad) for g, w in zip(grads, weights))
        values = [w - 0.5 * g for w, g in zip(values, grads)]


def test_one_update_gives_the_published_weights(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    f = compile_graph(mazur["E_total"], inputs=weights)
    _, grads = f([w.data for w in weights])
    w5_after = weights[4].data - 0.5 * grads[4]
    w1_after = weights[0].data - 0.5 * grads[0]
    assert abs(w5_after - 0.358916480) <= TOL
    assert abs(w1_after - 0.149780716) <= TOL


def test_source_runs_on_its_own_and_imports_only_math(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    f = compile_graph(mazur["E_total"], inputs=weights)
    values = [0.1 * k for k in range(1, 9)]
    loss, grads = run_source(f, values)
    expected_loss, expected_grads = f(values)
    assert same(loss, expected_loss) and all(same(a, b) for a, b in zip(grads, expected_grads))
    tree = ast.parse(f.source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [alias.name for n in imports for alias in n.names] == ["math"]


def test_source_pasted_into_a_file_runs(mazur, tmp_path):
    weights = [mazur[name] for name in WEIGHTS]
    f = compile_graph(mazur["E_total"], inputs=weights)
    path = tmp_path / "e_total.py"
    path.write_text(f.source, encoding="utf-8")
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True)
    E_total, grads = f([w.data for w in weights])
    assert f"E_total = {E_total!r}" in run.stdout
    assert f"d E_total / d w5 = {grads[4]!r}" in run.stdout


def test_chunked_source_matches(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    f = compile_graph(mazur["E_total"], inputs=weights, chunk=10)
    assert "def _part_3(S, inputs, constants):" in f.source
    mazur["E_total"].backward()
    loss, grads = f([w.data for w in weights])
    assert same(loss, mazur["E_total"].data)
    assert all(same(g, w.grad) for g, w in zip(grads, weights))
    loss2, grads2 = run_source(f, [w.data for w in weights])
    assert same(loss2, loss) and all(same(a, b) for a, b in zip(grads2, grads))
    with pytest.raises(ValueError, match="expected 8 inputs"):
        f([1.0])


# -- constants, inputs, functions -------------------------------------------------------------------

def test_update_changes_a_data_sample(mazur):
    weights = [mazur[name] for name in WEIGHTS]
    f = compile_graph(mazur["E_total"], inputs=weights)
    f.update({"i1": 0.3, mazur["i2"]: -0.2})
    loss, grads = f([w.data for w in weights])
    fresh = build_mazur()
    fresh["i1"].data, fresh["i2"].data = 0.3, -0.2
    root, new = rebuild(fresh["E_total"], {})
    root.backward()
    labeled = {v.label: v for v in new.values()}
    assert same(loss, root.data)
    assert all(same(g, labeled[name].grad) for g, name in zip(grads, WEIGHTS))
    f.update(list(f.constants))
    with pytest.raises(KeyError):
        f.update({"w1": 1.0})  # an input, not a constant
    with pytest.raises(ValueError, match="expected 8 constants"):
        f.update([1.0])
    with pytest.raises(ValueError, match="finite"):
        f.update({"i1": math.inf})


def test_compile_a_function_once_from_example_inputs():
    def loss(a, b):
        return (a * b + a.exp()).log()

    f = compile_graph(loss, [1.5, -0.5])
    assert f.input_names == ["a", "b"]
    a, b = Value(0.7), Value(2.0)
    out = loss(a, b)
    out.backward()
    value, (da, db) = f([0.7, 2.0])
    assert same(value, out.data) and same(da, a.grad) and same(db, b.grad)


def test_inputs_must_be_distinct_leaves():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    with pytest.raises(ValueError, match="leaves"):
        compile_graph(c * a, [c])
    with pytest.raises(ValueError, match="twice"):
        compile_graph(c, [a, a])
    with pytest.raises(TypeError, match="Values"):
        compile_graph(c, [1.0])


def test_an_input_outside_the_graph_gets_zero_and_aux_values_are_returned():
    a, b, unused = Value(3.0, label="a"), Value(4.0, label="b"), Value(1.0, label="unused")
    hyp = (a * a + b * b).sqrt()
    ratio = a / b
    f = compile_graph(hyp, [a, b, unused], aux=[ratio, hyp])
    loss, grads, aux = f([3.0, 4.0, 1.0])
    hyp.backward()
    assert loss == 5.0 and grads == [a.grad, b.grad, 0.0]  # d hyp / d a = a / hyp = 0.6
    assert abs(grads[0] - 0.6) < 1e-15 and abs(grads[1] - 0.8) < 1e-15
    assert aux == [0.75, 5.0]


def test_control_flow_on_data_is_frozen_but_relu_is_an_op():
    def branchy(x):
        return x * 2.0 if x.data > 0 else x * 3.0  # the branch is chosen once, at trace time

    f = compile_graph(branchy, [1.0])
    assert f([-1.0]) == (-2.0, [2.0])  # frozen: the dynamic engine would give -3.0
    g = compile_graph(lambda x: x.relu(), [1.0])
    assert g([-1.0]) == (0.0, [0.0])  # relu branches inside the op: correct for every input


# -- errors ---------------------------------------------------------------------------------------

def engine_error(build, values):
    with pytest.raises((ArithmeticError, ValueError)) as info:
        build(*[Value(x, label=name) for name, x in values])
    return info.type, str(info.value)


@pytest.mark.parametrize("build, good, bad", [
    (lambda x: (x * 2.0).log(), 1.0, -1.0),
    (lambda x: 1.0 / x, 1.0, 0.0),
    (lambda x: x.sqrt(), 4.0, 0.0),
    (lambda x: x.exp() * 2.0, 1.0, 800.0),
    (lambda x: (x - 3.0) ** 0.5, 4.0, 2.0),
    (lambda x: x ** x, 2.0, -2.0),
    (lambda x: (x * 1e200) * 1e100, 1.0, 1e10),
    (lambda x: x ** 3.0, 1.0, 1e200),
    (lambda x: sum_values([x * 1e308, 1e308]), -1.0, 1.0),
    (lambda x: x.log(), 1.0, 5e-324),  # log is finite there, its derivative 1/x is not
    (lambda x: 1.0 / (x * 1e-200), 1e100, 1e-10),  # d/d(divisor) = -out/y overflows while d/dx stays finite
])
def test_domain_errors_are_the_engines(build, good, bad):
    x = Value(good, label="x")
    f = compile_graph(build(x), [x])
    kind, message = engine_error(build, [("x", bad)])
    with pytest.raises(kind) as info:
        f([bad])
    assert str(info.value) == message
    assert message.split(":")[0] in OPS


def test_non_finite_inputs_are_refused():
    x = Value(1.0)
    f = compile_graph(x.tanh(), [x])  # tanh(inf) would be a finite 1.0
    with pytest.raises(ValueError, match="finite"):
        f([math.inf])
    with pytest.raises(ValueError, match="finite"):
        f([math.nan])


def test_a_sum_that_overflows_only_in_the_bulk_test_still_returns():
    a, b = Value(1e308, label="a"), Value(1e308, label="b")
    out = a.tanh() + b.tanh()  # a and b are summed into the inf/nan test: that sum overflows
    f = compile_graph(out, [a, b])
    assert f([1e308, 1e308]) == (2.0, [0.0, 0.0])


# -- hostile labels ---------------------------------------------------------------------------------

HOSTILE = [
    "'); import os; os.system('echo pwned') #",
    "\n    raise SystemExit('pwned')\n",
    "__import__('os').system('echo pwned')",
    "def", "class", "None", "lambda", "import",
    "math", "INF", "S", "inputs", "constants", "forward_backward", "_sigmoid", "_fail", "print", "e",
    "d_w1", "w1", "w1", "1st", "", "   ", "λ→∞ ü", "\"\"\"", "{x}", "\\", "\t\x00\r",
    "x" * 300,
]


def test_hostile_labels_cannot_change_the_code():
    leaves = [Value(0.1 * (k + 1), label=label) for k, label in enumerate(HOSTILE)]
    terms = []
    for k, v in enumerate(leaves):
        inner = v * leaves[k - 1] + 1.0
        inner.label = HOSTILE[k]
        terms.append(inner.log())
    out = sum_values(terms)
    out.label = "\nimport os"
    f = compile_graph(out, leaves)
    values = [v.data for v in leaves]
    out.backward()
    loss, grads = f(values)
    assert same(loss, out.data) and all(same(g, v.grad) for g, v in zip(grads, leaves))
    loss2, grads2 = run_source(f, values)
    assert same(loss2, loss) and grads2 == grads
    for label in HOSTILE + ["\nimport os"]:
        if len(label.strip()) > 3 and not label.isidentifier():  # never pasted as is: code, quotes, newlines
            assert label not in f.source
    names = {n.id for n in ast.walk(ast.parse(f.source)) if isinstance(n, ast.Name)}
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names)
    assert not names & {"os", "system", "__import__", "eval", "exec", "open", "input"}
    assert len(set(f.input_names)) == len(leaves)
    # the error message names the original label, exactly as the engine does
    bad = [-100.0] + values[1:]
    kind, message = None, None
    try:
        rebuild(out, dict(zip(leaves, bad)))
    except (ArithmeticError, ValueError) as e:
        kind, message = type(e), str(e)
    assert kind is ValueError and any(f"(label {label!r})" in message for label in HOSTILE)
    with pytest.raises(kind) as info:
        f(bad)
    assert str(info.value) == message


# -- nn: the moons MLP ------------------------------------------------------------------------------

def moons_loss(model, xs, ys):
    """micrograd's demo loss: mean max-margin plus L2; also returns the scores."""
    scores = [model(x)[0] for x in xs]
    margins = [(1.0 - y * s).relu() for y, s in zip(ys, scores)]
    loss = sum_values(margins) / len(margins) + 1e-4 * sum_values(p * p for p in model.parameters())
    return loss, scores


def moons(n=30, seed=0):
    rng = random.Random(seed)
    xs = [[rng.uniform(-1.5, 2.5), rng.uniform(-1.0, 1.5)] for _ in range(n)]
    ys = [1 if y < 0.5 - 0.5 * x else -1 for x, y in xs]
    return xs, ys


def test_compile_loss_trains_the_moons_mlp_exactly_like_the_engine():
    xs, ys = moons()
    dynamic = nn.MLP(2, [16, 16, 1], activation="relu", seed=3)
    compiled = nn.MLP(2, [16, 16, 1], activation="relu", seed=3)
    step = nn.compile_loss(compiled, moons_loss, xs, ys)
    opt_d, opt_c = nn.SGD(dynamic.parameters(), lr=0.5), nn.SGD(compiled.parameters(), lr=0.5)
    for _ in range(4):
        loss, scores = moons_loss(dynamic, xs, ys)
        opt_d.zero_grad()
        loss.backward()
        opt_c.zero_grad()
        assert same(step(), loss.data)
        assert all(same(a, s.data) for a, s in zip(step.outputs, scores))
        assert all(same(p.grad, q.grad) for p, q in zip(compiled.parameters(), dynamic.parameters()))
        opt_d.step()
        opt_c.step()
    new_xs, new_ys = moons(seed=1)
    step.update(new_xs, new_ys)
    loss, _ = moons_loss(dynamic, new_xs, new_ys)
    assert same(step(), loss.data)
    with pytest.raises(ValueError, match="list of 30"):
        step.update(new_xs[:3], new_ys)


# -- random graphs over every op ---------------------------------------------------------------------

PARAMS = [2.0, 3.0, 0.5, -1.0, 0.0, 1.5, -2.0, 1.0]
NUMBERS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 700.0, -700.0, 1e200]),
    st.floats(-4.0, 4.0, allow_nan=False),
)
LABELS = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(HOSTILE))


@st.composite
def programs(draw):
    n = draw(st.integers(1, 4))
    leaves = [Value(draw(NUMBERS), label=draw(LABELS)) for _ in range(n)]
    nodes = list(leaves)
    for _ in range(draw(st.integers(1, 10))):
        op = OPS[draw(st.sampled_from(sorted(OPS)))]
        picks = draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=5))
        operands = [nodes[i % len(nodes)] for i in picks]
        if op.arity:
            operands = (operands * 2)[:op.arity]
        elif op.name == "linear":
            operands = operands[:2 * ((len(operands) - 1) // 2) + 1]
        try:
            node = apply(op.name, tuple(operands), draw(st.sampled_from(PARAMS)) if op.param else None)
        except (ArithmeticError, ValueError):
            continue
        node.label = draw(LABELS)
        nodes.append(node)
    used = {c for v in nodes for c in v.inputs}
    sinks = [v for v in nodes if v not in used]
    try:
        root = sinks[0] if len(sinks) == 1 else sum_values(sinks)
    except (ArithmeticError, ValueError):
        assume(False)
    inputs = [v for v in leaves if draw(st.booleans())]
    new_values = [draw(NUMBERS) for _ in inputs]
    return root, inputs, new_values, draw(st.sampled_from([10, 5000]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_graphs_match_the_engine(program):
    root, inputs, new_values, chunk = program
    f = compile_graph(root, inputs, chunk=chunk)
    loss, grads = f([v.data for v in inputs])
    root.backward()
    assert same(loss, root.data)
    assert all(same(g, v.grad) for g, v in zip(grads, inputs))
    # new input values: the engine rebuilt from scratch gives the same floats or the same error
    try:
        fresh, new = rebuild(root, dict(zip(inputs, new_values)))
        fresh.backward()
    except (ArithmeticError, ValueError) as e:
        event(f"new values: {type(e).__name__} from {str(e).split(':')[0]}")
        with pytest.raises(type(e)) as info:
            f(new_values)
        assert str(info.value) == str(e)
        return
    size = len(topological_order(root))
    event(f"new values: ok, {size} nodes" if size < 8 else "new values: ok, 8 or more nodes")
    loss, grads = f(new_values)
    assert same(loss, fresh.data)
    assert all(same(g, new[v].grad if v in new else 0.0) for g, v in zip(grads, inputs))
    loss2, grads2 = run_source(f, new_values)
    assert same(loss2, loss) and all(same(a, b) for a, b in zip(grads2, grads))


def test_when_several_ops_would_fail_the_error_names_the_one_made_first():
    """The engine, building the graph again, stops at the first op it makes that fails: log here, although
    y = second + first reaches sqrt first (the order of a walk from the root)."""
    x, z = Value(2.0, label="x"), Value(3.0, label="z")
    first = x.log()
    second = z.sqrt()
    y = second + first
    f = compile_graph(y, [x, z])
    with pytest.raises(ValueError, match=r"^log: input must be > 0, got -1.0 \(label 'x'\)$"):
        f([-1.0, -1.0])
    g = compile_graph(first + second, [x, z])  # the same two ops, the same order of making
    with pytest.raises(ValueError, match=r"^log: "):
        g([-1.0, -1.0])


def test_linear_adds_from_zero_like_the_table():
    w, x, b = Value(-0.0, label="w"), Value(1.0, label="x"), Value(-0.0, label="b")
    net = linear([w], [x], b)  # the table's _linear: 0.0 + (-0.0) + (-0.0) is +0.0, not -0.0
    f = compile_graph(net, [w, x, b])
    assert "net = 0.0 + w * x + b" in f.source.replace("linear_1", "net")
    loss, _ = f([-0.0, 1.0, -0.0])
    assert same(loss, net.data) and same(loss, 0.0)


# -- large graphs -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_100k_node_graph_is_split_into_parts_and_matches():
    rng = random.Random(7)
    xs = [Value(rng.uniform(-1.0, 1.0), label=f"x{i}") for i in range(200)]
    nodes = list(xs)
    while len(nodes) < 100_000:
        a, b = nodes[-1 - rng.randrange(min(len(nodes), 500))], nodes[rng.randrange(len(nodes))]
        r = rng.random()
        nodes.append((a * b).tanh() if r < 0.4 else a + b if r < 0.7 else (a - b).sigmoid())
    root = sum_values(nodes[-100:])
    f = compile_graph(root, xs)
    assert f.source.count("\ndef _part_") > 10
    loss, grads = f([x.data for x in xs])
    root.backward()
    assert same(loss, root.data)
    assert all(same(g, x.grad) for g, x in zip(grads, xs))


@pytest.mark.slow
def test_a_neuron_with_20000_inputs_compiles_and_matches():
    rng = random.Random(1)
    ws = [Value(rng.uniform(-1.0, 1.0)) for _ in range(20_000)]
    xs = [Value(rng.uniform(-1.0, 1.0)) for _ in range(20_000)]
    b = Value(0.1, label="b")
    out = sum_values([linear(ws, xs, b).tanh(), sum_values(ws), *(x * 1.0 for x in xs[:3])])
    f = compile_graph(out, [*ws, b])  # one long sum would overflow CPython's compiler: written over many lines
    loss, grads = f([w.data for w in [*ws, b]])
    out.backward()
    assert same(loss, out.data)
    assert all(same(g, v.grad) for g, v in zip(grads, [*ws, b]))


# -- n-ary derivatives and the order errors are reported in ----------------------------------------------

def test_an_nary_derivative_with_a_condition_is_parenthesized_before_the_product():
    """d max / d a = (1.0 if a == max else 0.0) times d_max: without parentheses it read 1.0 if ... else 0.0 * d."""
    maximum = define_op("max_of_compile_test", forward="max(xs)", local="1.0 if x == out else 0.0",
                        formula="1 if x == out else 0", arity="n")
    a, b = Value(3.0, label="a"), Value(1.0, label="b")
    loss = maximum(a, b) * 5.0
    f = compile_graph(loss, [a, b])
    assert "d_a = (1.0 if a == " in f.source
    loss.backward()
    value, (d_a, d_b) = f([3.0, 1.0])
    assert (d_a, d_b) == (a.grad, b.grad) == (5.0, 0.0)
    assert same(value, loss.data)


def test_when_two_ops_would_fail_the_error_names_the_one_the_engine_builds_first():
    def build(x, y):
        first = x.log()  # built first: the engine stops here
        second = y.log()
        return first + second

    x, y = Value(1.0, label="x"), Value(2.0, label="y")
    f = compile_graph(build(x, y), [x, y])
    kind, message = engine_error(build, [("x", -1.0), ("y", -2.0)])
    assert "(label 'x')" in message
    with pytest.raises(kind) as info:
        f([-1.0, -2.0])
    assert str(info.value) == message


def test_an_nary_forward_of_plain_arithmetic_is_written_out_and_others_are_called():
    from autograd.compile import expressions

    lines, refs = expressions.forward_lines(OPS["linear"], 5)  # traced: the table's _linear, in its order
    assert lines == ("{5} = 0.0 + {0} * {2} + {1} * {3} + {4}",) and refs == (0, 1, 2, 3, 4, expressions.OUT)
    lines, _ = expressions.forward_lines(OPS["sum"], 3)  # math.fsum cannot run on symbols: called on a tuple
    assert lines == ("{3} = math.fsum(({0}, {1}, {2}))",)
    long, _ = expressions.forward_lines(OPS["linear"], 2 * 200 + 1)
    assert len(long) == 4 and long[1].startswith("{401} = {401} + ")  # 202 terms, 64 a line


def test_a_negative_zero_parameter_is_not_confused_with_zero():
    x = Value(2.0, label="x")
    for node in (apply("scale", [x], 0.0), apply("scale", [x], -0.0)):  # 0.0 * 2.0 is 0.0, -0.0 * 2.0 is -0.0
        value, _ = compile_graph(node, [x])([2.0])
        assert same(value, node.data)
