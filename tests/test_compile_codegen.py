"""compile_graph's generated code: gradients written as sums in the engine's order, tracebacks through it."""

from __future__ import annotations

import ast
import gc
import inspect
import linecache
import math
import random
import traceback

import pytest

import nn
from autograd import Value, apply, compile_graph, linear, sum_values, topological_order
from demos import moons


def same(a: float, b: float) -> bool:
    """Bit-for-bit equal floats (0.0 and -0.0 differ)."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def assert_matches_backward(root: Value, inputs: list[Value], **kwargs) -> None:
    f = compile_graph(root, inputs, **kwargs)
    loss, grads = f([v.data for v in inputs])
    for v in inputs:
        v.grad = 0.0
    root.backward()
    assert same(loss, root.data)
    assert all(same(g, v.grad) for g, v in zip(grads, inputs))


# -- tracebacks and inspect show the generated lines ---------------------------------------------------

def generated_frames(tb, filename):
    return [frame for frame in traceback.extract_tb(tb) if frame.filename == filename]


@pytest.mark.parametrize("chunk", [5000, 10])
def test_a_traceback_through_compiled_code_shows_its_lines(chunk):
    x = Value(2.0, label="x")
    y = x
    for _ in range(10):
        y = (y * 0.5 + 1.0).tanh()
    y = (y * x).log()  # x < 0 makes the product negative
    f = compile_graph(y, [x], chunk=chunk)
    with pytest.raises(ValueError) as info:
        f([-1.0])
    lines = f.source.splitlines()
    error, original = info.value, info.value.__context__  # the engine's error, and what the fast path hit
    frames = generated_frames(error.__traceback__, f.filename) + generated_frames(original.__traceback__, f.filename)
    assert {frame.name for frame in frames} >= {"forward_backward", "_check_forward"}
    for frame in frames:  # each piece is compiled on its own: every line number still points into f.source
        assert frame.line and frame.line == lines[frame.lineno - 1].strip()
    assert any(frame.line.startswith("if not (") and "raise ValueError('input must be > 0')" in frame.line
               for frame in frames)
    assert "_check_forward(inputs, constants)" in "".join(traceback.format_exception(error))


def test_inspect_shows_the_generated_functions_and_the_lines_go_with_the_code():
    x = Value(0.5, label="x")
    y = x
    for _ in range(10):
        y = (y * x).sin()
    f = compile_graph(y, [x], chunk=10)
    source = inspect.getsource(f.forward_backward)
    assert source.startswith("def forward_backward(inputs, constants):") and source in f.source
    part = f.forward_backward.__globals__["_part_1"]
    assert inspect.getsource(part) in f.source
    filename = f.filename
    assert linecache.getlines(filename) == f.source.splitlines(True)
    other = compile_graph(y, [x])
    assert other.filename != filename
    del f, part
    gc.collect()
    assert filename not in linecache.cache  # dropped with the code; the other graph keeps its own
    assert other.filename in linecache.cache


# -- gradients as sums ---------------------------------------------------------------------------------

def test_a_gradient_is_one_sum_of_its_terms_in_the_engines_order():
    a, b, two = Value(0.3, label="a"), Value(-0.7, label="b"), Value(2.0, label="two")
    t = a + b
    t.label = "t"
    s = a * b + a * two
    s.label = "s"
    out = s - t.tanh()
    out.label = "out"
    f = compile_graph(out, [a, b])
    # d s / d (a * b) is 1.0 and s has one user: d (a * b) is d s, which is d out; then d t, as backward() adds
    assert "d_a = b * d_out + two * d_out + d_t" in f.source
    assert_matches_backward(out, [a, b])


def test_terms_of_constant_locals_are_added_and_subtracted():
    x = Value(1.5, label="x")
    y = Value(0.25, label="y")
    out = (x - y) * (y - x) + x
    f = compile_graph(out, [x, y])
    assert "- d_" in f.source  # d (x - y) / d y is -1.0: subtracted, as x + (-1.0 * g) is x - g
    assert_matches_backward(out, [x, y])


def test_a_gradient_with_more_terms_than_a_line_holds_continues_left_to_right():
    rng = random.Random(3)
    x = Value(0.9, label="x")
    terms = [x * Value(rng.uniform(-2.0, 2.0)) for _ in range(300)]
    out = sum_values([t.tanh() for t in terms])
    f = compile_graph(out, [x])
    assert "d_x = d_x + " in f.source
    assert_matches_backward(out, [x])


@pytest.mark.parametrize("chunk", [5000, 40])
def test_wide_linear_nodes_give_the_engines_floats(chunk):
    rng = random.Random(5)
    ws = [[Value(rng.uniform(-1.0, 1.0)) for _ in range(40)] for _ in range(6)]
    bs = [Value(rng.uniform(-1.0, 1.0)) for _ in range(6)]
    points = [[Value(rng.uniform(-1.0, 1.0)) for _ in range(40)] for _ in range(5)]
    outs = []
    for xs in points:
        hidden = [linear(w, xs, b).relu() for w, b in zip(ws, bs)]
        outs.append(linear(ws[0][:6], hidden, bs[0]).tanh())
    out = sum_values(outs)
    params = [p for row in ws for p in row] + bs
    assert_matches_backward(out, params, chunk=chunk)
    assert_matches_backward(out, params + points[0], chunk=chunk)  # operands on both sides need gradients


def test_negative_zero_gradients_come_back_as_zero_like_the_engine():
    w, x = Value(0.0, label="w"), Value(-0.0, label="x")
    out = w * x - w * x
    assert_matches_backward(out, [w, x])


@pytest.mark.parametrize("chunk", [5000, 300])
def test_the_moons_graph_compiles_to_the_engines_floats(chunk):
    xs, ys = moons.make_moons(20, 0.1, seed=2)
    model = moons.build_model(seed=4)
    loss, scores = moons.scored_loss(model, xs, ys)
    params = model.parameters()
    f = compile_graph(loss, params, aux=scores, chunk=chunk)
    value, grads, aux = f([p.data for p in params])
    nn.SGD(params, lr=0.1).zero_grad()
    loss.backward()
    assert same(value, loss.data)
    assert all(same(g, p.grad) for g, p in zip(grads, params))
    assert all(same(a, s.data) for a, s in zip(aux, scores))


# -- repeated blocks written once, as a loop -----------------------------------------------------------

OPS_IN_BLOCKS = ["tanh", "sigmoid", "relu", "sin", "softplus", "abs", "neg", "exp", "log", "sqrt",
                 "add", "sub", "mul", "div", "linear", "sum", "logsumexp"]


def block_recipe(rng: random.Random, steps: int) -> list[tuple[str, list[int]]]:
    recipe = []
    for _ in range(steps):
        op = rng.choice(OPS_IN_BLOCKS)
        arity = {"add": 2, "sub": 2, "mul": 2, "div": 2, "linear": 5, "sum": 3, "logsumexp": 4}.get(op, 1)
        recipe.append((op, [rng.randrange(10**6) for _ in range(arity)]))
    return recipe


def blocks_graph(recipe, shared, rows, weights):
    """Each row of data leaves through the same ops (over the shared leaves too), summed at the end of the block
    (every op counts); a weighted sum of the blocks plus the shared leaves' squares. Returns the root and each
    block's middle node."""
    outs, middles = [], []
    for data in rows:
        pool = [*shared, *data]
        made = []
        for op, picks in recipe:
            avail = pool + made
            made.append(apply(op, tuple(avail[p % len(avail)] for p in picks)))
        used = {c for v in made for c in v.inputs}
        outs.append(sum_values([v for v in made if v not in used]))
        middles.append(made[len(made) // 2])
    terms = [out * c for out, c in zip(outs, weights)]  # c: a leaf of its own in each block
    return sum_values([*terms, sum_values([w * w for w in shared])]), middles


def random_blocks(seed: int):
    rng = random.Random(seed)
    while True:
        recipe = block_recipe(rng, rng.randrange(20, 40))
        shared = [Value(rng.uniform(0.2, 1.0), label=f"w{i}") for i in range(6)]
        rows = [[Value(rng.uniform(0.2, 1.0)) for _ in range(3)] for _ in range(60)]
        weights = [rng.uniform(-2.0, 2.0) for _ in rows]
        try:
            root, middles = blocks_graph(recipe, shared, rows, weights)
        except (ArithmeticError, ValueError):
            continue
        if len(topological_order(root)) > 1500:
            return recipe, shared, rows, weights, root, middles


def rebuild(root: Value, values: dict[Value, float]) -> tuple[Value, dict[Value, Value]]:
    """The engine's graph of ``root``'s ops on new leaf values, built in the order the nodes were made: the
    order the compiled code replays to find the first error."""
    new: dict[Value, Value] = {}
    for v in sorted(topological_order(root), key=lambda v: v._seq):
        new[v] = apply(v.op, tuple(new[c] for c in v.inputs), v.param) if v.inputs else Value(values.get(v, v.data))
        new[v].label = v.label
    return new[root], new


@pytest.mark.parametrize("seed", range(12))
def test_repeated_blocks_become_a_loop_with_the_engines_floats_and_errors(seed):
    recipe, shared, rows, weights, root, middles = random_blocks(seed)
    f = compile_graph(root, shared, aux=middles)
    assert "def _run_1(" in f.source and "_T1 = _run_1(" in f.source
    value, grads, aux = f([w.data for w in shared])
    root.backward()
    assert same(value, root.data)
    assert all(same(g, w.grad) for g, w in zip(grads, shared))
    assert all(same(a, m.data) for a, m in zip(aux, middles))
    namespace: dict = {}
    exec(f.source, namespace)  # the module runs on its own, loops and all
    assert namespace["forward_backward"]([w.data for w in shared], list(f.constants)) == (value, grads, aux)
    rng = random.Random(seed + 100)
    for _ in range(3):  # other shared values: the engine's floats, or its error for the same op
        new = [rng.uniform(-1.5, 1.5) for _ in shared]
        try:
            again, made = rebuild(root, dict(zip(shared, new)))
        except (ArithmeticError, ValueError) as e:
            with pytest.raises(type(e)) as info:
                f(new)
            assert str(info.value) == str(e)
            continue
        again.backward()
        value, grads, _ = f(new)
        assert same(value, again.data)
        assert all(same(g, made[w].grad) for g, w in zip(grads, shared))


def test_each_block_gets_its_own_output_gradient_and_the_shared_gradients_add_in_order():
    rng = random.Random(11)
    w = [Value(rng.uniform(-1.0, 1.0), label=f"w{i}") for i in range(8)]
    total = sum_values([v * v for v in w]) * 0.01  # the shared leaves' terms before the run's ...
    for _ in range(150):
        x = [Value(rng.uniform(-1.0, 1.0)) for _k in range(4)]
        h = [linear(w[:4], x, w[4]).tanh(), linear(w[4:], x, w[0]).sigmoid()]
        block = (h[0] * h[1] + x[0] * w[1]).sin()
        total = total * 0.9 + block  # each block's output has a gradient of its own: 0.9 ** (blocks after it)
    out = total * w[2]  # ... and one after
    f = compile_graph(out, w)
    assert "def _run_1(" in f.source
    assert_matches_backward(out, w)


def test_blocks_whose_varying_leaf_needs_a_gradient_are_written_out():
    rng = random.Random(2)
    w = [Value(rng.uniform(-1.0, 1.0), label=f"w{i}") for i in range(4)]
    xs = [Value(rng.uniform(-1.0, 1.0)) for _ in range(100)]
    out = sum_values([(linear(w[:2], [x, x * x], w[2]).tanh() * w[3]).sin() for x in xs])
    f = compile_graph(out, w + xs)
    assert "def _run_1(" not in f.source
    assert_matches_backward(out, w + xs)


def test_a_domain_error_in_one_block_is_the_engines_error():
    xs, ys = moons.make_moons(20, 0.1, seed=2)
    model = moons.build_model(seed=4)
    params = model.parameters()
    loss, scores = moons.scored_loss(model, xs, ys)
    logs = sum_values([(s * s + 1.0).log() for s in scores])  # fine for every input: a log in every block
    f = compile_graph(loss + logs, params)
    assert "def _run_1(" in f.source
    bad = [p.data for p in params]
    bad[0] = 1e200  # overflows in the first layer of every block: the engine stops at the first point built
    with pytest.raises(OverflowError) as info:
        f(bad)
    params[0].data = 1e200
    with pytest.raises(OverflowError) as engine:
        moons.scored_loss(model, xs, ys)
    assert str(info.value) == str(engine.value)


def test_blocks_that_read_only_shared_leaves_and_blocks_with_no_gradient_are_loops_too():
    a, b, c = Value(0.3, label="a"), Value(-0.6, label="b"), Value(0.9, label="c")

    def block(x: Value, y: Value) -> Value:
        h = [linear([x, y, x], [y, x, y], x).tanh() for _ in range(3)]
        return (h[0] * h[1] - h[2] * y).sigmoid()

    same_leaves = sum_values([block(a, b) for _ in range(120)])  # every block reads a and b: no varying leaf
    constant_only = sum_values([block(c, Value(0.1 * k)) for k in range(120)])  # no block needs a gradient
    out = same_leaves * constant_only + a
    f = compile_graph(out, [a, b])
    assert f.source.count("def _run_") == 3  # _run_1 and _run_1_grad for a and b, _run_2 alone for c
    assert_matches_backward(out, [a, b])


def test_labels_cannot_collide_with_the_loops_own_names():
    labels = ["_X", "_T", "_T1", "_shared", "_G", "_d", "_t", "_", "_run_1", "inputs", "constants", "S", "d_x",
              "'); import os #", "x" * 300, "λ→∞", "def"]
    w = [Value(0.1 * (k + 1), label=label) for k, label in enumerate(labels[:6])]
    blocks = []
    for k in range(150):
        x = [Value(0.01 * k + 0.1 * j, label=labels[(k + j) % len(labels)]) for j in range(3)]
        h = linear(w[:3], x, w[3]).tanh() * linear(w[3:], x, w[0]).sigmoid()
        h.label = labels[k % len(labels)]
        blocks.append((h + x[0] * w[1]).sin() * x[1])
    out = sum_values(blocks)
    f = compile_graph(out, w)
    assert "def _run_1(" in f.source
    assert_matches_backward(out, w)
    names = {n.id for n in ast.walk(ast.parse(f.source)) if isinstance(n, ast.Name)}
    assert "os" not in names and "import_os" in names  # code in a label is a name in the code, never code
