"""nn <-> torch.nn: the same model, the same forward outputs, gradients and SGD steps (to 1e-12), and back."""

from __future__ import annotations

import contextlib
import io
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nn
from autograd import OPS, Value

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # demos is not an installed package; import it from the checkout
    sys.path.insert(0, str(REPO))

from demos import mazur  # noqa: E402

TOL = 1e-12
ARCHITECTURES = [
    (3, [4, 2], "tanh", "linear"),
    (2, [5, 5, 1], "relu", "sigmoid"),
    (4, [3], "sigmoid", "tanh"),
    (2, [3, 3], "linear", "relu"),
]


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def torch_rows(linear) -> tuple[list[list[float]], list[float]]:
    return linear.weight.detach().tolist(), linear.bias.detach().tolist()


def linears(seq) -> list:
    return [m for m in seq if type(m).__name__ == "Linear"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("nin, sizes, activation, output_activation", ARCHITECTURES)
def test_forward_outputs_and_every_parameter_gradient_agree(torch, nin, sizes, activation, output_activation, seed):
    model = nn.MLP(nin, sizes, activation=activation, output_activation=output_activation, seed=seed)
    seq = model.to_torch()
    rng = random.Random(seed)
    xs = [rng.uniform(-2, 2) for _ in range(nin)]
    coefficients = [rng.uniform(-1, 1) for _ in range(sizes[-1])]

    outs = model(xs)
    loss = sum((c * o for c, o in zip(coefficients, outs)), Value(0.0))
    loss.backward()
    t_outs = seq(torch.tensor(xs, dtype=torch.float64))
    (t_outs * torch.tensor(coefficients, dtype=torch.float64)).sum().backward()

    assert t_outs.dtype == torch.float64
    assert all(close(o.data, t) for o, t in zip(outs, t_outs.tolist()))
    for layer, linear in zip(model.layers, linears(seq), strict=True):
        dW, db = linear.weight.grad.tolist(), linear.bias.grad.tolist()
        for i in range(layer.nout):
            assert close(layer.b[i].grad, db[i])
            for j in range(layer.nin):
                assert close(layer.W[i][j].grad, dW[i][j]), (i, j)


@pytest.mark.parametrize("nin, sizes, activation, output_activation", ARCHITECTURES)
def test_to_torch_copies_rows_and_biases_exactly(torch, nin, sizes, activation, output_activation):
    model = nn.MLP(nin, sizes, activation=activation, output_activation=output_activation, seed=7)
    seq = model.to_torch()
    kinds = [type(m).__name__ for m in seq]
    expected = []
    for layer in model.layers:
        expected.append("Linear")
        expected += [] if layer.activation == "linear" else [{"tanh": "Tanh", "sigmoid": "Sigmoid",
                                                                "relu": "ReLU"}[layer.activation]]
    assert kinds == expected
    for layer, linear in zip(model.layers, linears(seq), strict=True):
        weight, bias = torch_rows(linear)
        assert weight == [[w.data for w in row] for row in layer.W]  # W's rows are torch's weight rows
        assert bias == [b.data for b in layer.b]
        assert linear.weight.dtype == torch.float64 and linear.weight.requires_grad


def test_sgd_steps_give_the_same_weights(torch):
    model = nn.MLP(3, [4, 4, 2], activation="tanh", output_activation="linear", seed=3)
    seq = model.to_torch()
    rng = random.Random(3)
    xs = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(5)]
    ys = [[rng.uniform(-1, 1) for _ in range(2)] for _ in range(5)]
    opt = nn.SGD(model.parameters(), lr=0.1)
    t_opt = torch.optim.SGD(seq.parameters(), lr=0.1)
    for _ in range(5):
        outs = [o for x in xs for o in model(x)]
        loss = nn.mse_loss(outs, [t for y in ys for t in y])
        opt.zero_grad()
        loss.backward()
        opt.step()
        t_loss = torch.nn.functional.mse_loss(seq(torch.tensor(xs, dtype=torch.float64)),
                                              torch.tensor(ys, dtype=torch.float64))
        t_opt.zero_grad()
        t_loss.backward()
        t_opt.step()
        assert close(loss.data, t_loss.item())
    for layer, linear in zip(model.layers, linears(seq), strict=True):
        weight, bias = torch_rows(linear)
        assert all(close(w.data, t) for row, t_row in zip(layer.W, weight) for w, t in zip(row, t_row))
        assert all(close(b.data, t) for b, t in zip(layer.b, bias))


def test_the_2_2_2_network_one_step_in_torch_gives_the_published_weights(torch):
    model, params = mazur.make_model()
    seq = model.to_torch()
    out = seq(torch.tensor(mazur.INPUTS, dtype=torch.float64))
    E_total = 0.5 * ((torch.tensor(mazur.TARGETS, dtype=torch.float64) - out) ** 2).sum()
    weights = [lin.weight for lin in linears(seq)]
    torch.optim.SGD(weights, lr=mazur.LR).zero_grad()
    E_total.backward()
    assert E_total.item() == pytest.approx(mazur.PUBLISHED_FORWARD["E_total"], abs=mazur.TOL)
    dE_dw5 = weights[1].grad[0, 0].item()
    dE_dw1 = weights[0].grad[0, 0].item()
    assert dE_dw5 == pytest.approx(mazur.PUBLISHED_GRADIENTS["dE_dw5"], abs=mazur.TOL)
    assert dE_dw1 == pytest.approx(mazur.PUBLISHED_GRADIENTS["dE_dw1"], abs=mazur.TOL)
    torch.optim.SGD(weights, lr=mazur.LR).step()
    after = [w for W in weights for w in W.flatten().tolist()]
    for k, w in enumerate(after, start=1):
        assert w == pytest.approx(mazur.PUBLISHED_UPDATED[f"w{k}_after"], abs=mazur.TOL)


def test_from_torch_round_trip_keeps_every_parameter(torch):
    model = nn.MLP(2, [5, 3, 1], activation="relu", output_activation="sigmoid", seed=11)
    back = nn.MLP.from_torch(model.to_torch())
    assert back.architecture() == model.architecture()
    assert back.state_dict() == model.state_dict()
    assert [p.label for p in back.parameters()] == [p.label for p in model.parameters()]


def test_from_torch_reads_a_torch_initialized_model(torch):
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4), torch.nn.Tanh(),
                              torch.nn.Linear(4, 2), torch.nn.Identity())
    model = nn.MLP.from_torch(seq)  # float32 weights: float64 holds each exactly
    assert model.architecture() == nn.MLP(3, [4, 4, 2], activation="tanh", output_activation="linear").architecture()
    again = model.to_torch()
    for a, b in zip(linears(seq), linears(again), strict=True):
        assert torch.equal(a.weight.double(), b.weight) and torch.equal(a.bias.double(), b.bias)
    xs = [0.3, -1.2, 0.7]
    expected = seq.double()(torch.tensor(xs, dtype=torch.float64)).tolist()
    assert all(close(o.data, t) for o, t in zip(model(xs), expected))


def test_layer_to_torch_and_back(torch):
    layer = nn.Layer(3, 2, activation="sigmoid", seed=5)
    seq = layer.to_torch()
    assert [type(m).__name__ for m in seq] == ["Linear", "Sigmoid"]
    xs = [0.1, 0.2, -0.3]
    assert all(close(o.data, t) for o, t in zip(layer(xs), seq(torch.tensor(xs, dtype=torch.float64)).tolist()))
    back = nn.Layer.from_torch(seq)
    assert back.architecture() == layer.architecture() and back.state_dict() == layer.state_dict()
    bare = nn.Layer.from_torch(torch.nn.Linear(3, 2, dtype=torch.float64))
    assert bare.activation == "linear"
    assert [type(m).__name__ for m in nn.Layer(2, 2, activation="linear").to_torch()] == ["Linear"]


@pytest.mark.parametrize("build, pattern", [
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.Dropout(0.5)), r"layer '1' \(Dropout.*can represent only"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.LeakyReLU()), r"layer '1' \(LeakyReLU"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3, bias=False)), r"layer '0' .*no bias"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.Linear(4, 1)), r"layer '1' .*takes 4 inputs.*gives 3"),
    (lambda t: t.nn.Sequential(t.nn.Tanh(), t.nn.Linear(2, 3)), r"layer '0' \(Tanh\(\)\) comes before"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.Tanh(), t.nn.ReLU()), r"layer '2' .*follows another"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.Tanh(), t.nn.Linear(3, 3), t.nn.ReLU(), t.nn.Linear(3, 1)),
     r"layer '2' has activation 'relu' but the first has 'tanh'"),
    (lambda t: t.nn.Sequential(), r"no Linear layer"),
    (lambda t: t.nn.Linear(2, 3), r"expected a torch.nn.Sequential.*got Linear"),
])
def test_from_torch_rejects_what_an_mlp_cannot_hold_naming_the_layer(torch, build, pattern):
    with pytest.raises(ValueError, match=pattern):
        nn.MLP.from_torch(build(torch))


def test_from_torch_names_a_layer_of_a_named_sequential(torch):
    from collections import OrderedDict

    seq = torch.nn.Sequential(OrderedDict(fc1=torch.nn.Linear(2, 2), act=torch.nn.Softmax(dim=0)))
    with pytest.raises(ValueError, match=r"layer 'act' \(Softmax"):
        nn.MLP.from_torch(seq)


def test_from_torch_rejects_non_finite_weights(torch):
    seq = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with torch.no_grad():
        seq[0].weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match="layer '0'.*not finite"):
        nn.MLP.from_torch(seq)


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_importing_autograd_and_nn_never_imports_torch():
    code = ("import sys, autograd, nn\n"
            "m = nn.MLP(2, [2, 1], seed=0); m([0.1, 0.2])[0].backward()\n"
            "assert 'torch' not in sys.modules, sorted(k for k in sys.modules if 'torch' in k)\n"
            "print('no torch')")
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no torch"


def test_without_torch_each_entry_point_says_which_extra_to_install():
    code = ("import sys\nsys.modules['torch'] = None  # as if torch were not installed\n"
            "import autograd, nn\n"
            "calls = [lambda: nn.MLP(2, [1]).to_torch(), lambda: nn.Layer(2, 1).to_torch(),\n"
            "         lambda: nn.MLP.from_torch(None), lambda: nn.Layer.from_torch(None),\n"
            "         lambda: autograd.compare_with_torch(lambda a: a.exp(), [0.5])]\n"
            "for call in calls:\n"
            "    try:\n"
            "        call()\n"
            "    except ImportError as e:\n"
            "        print(e)\n")
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    for line, who in zip(lines, ["MLP.to_torch", "Layer.to_torch", "MLP.from_torch", "Layer.from_torch",
                                 "compare_with_torch"]):
        assert line.startswith(f"{who} needs PyTorch"), line
        assert "pip install 'chainrule[torch]'" in line and "pip install -e '.[torch]'" in line


def readme_section_blocks() -> list[tuple[str, str]]:
    """(language, text) of each fenced block in the README's "Moving to PyTorch" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Moving to PyTorch", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S)


def test_the_readme_snippets_run_and_print_what_the_readme_shows(torch):
    blocks = readme_section_blocks()
    pairs = [(code, shown) for (lang, code), (_, shown) in zip(blocks, blocks[1:]) if lang == "python"]
    assert len(pairs) == 3
    ops_before = dict(OPS)
    try:
        for code, shown in pairs:
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
            assert printed.getvalue() == shown
    finally:  # the README's define_op example leaves no row behind for the tests after this one
        for name in set(OPS) - set(ops_before):
            method = OPS.pop(name).method
            if method and hasattr(Value, method):
                delattr(Value, method)
