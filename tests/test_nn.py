"""nn modules and optimizers: shapes, names, labels, one linear node per neuron, seeds, errors, updates."""

from __future__ import annotations

import math

import pytest

import nn
from autograd import Value, gradcheck


def test_layer_W_has_nout_rows_of_nin():
    layer = nn.Layer(3, 4)
    assert len(layer.W) == 4
    assert all(len(row) == 3 for row in layer.W)
    assert len(layer.b) == 4
    assert all(isinstance(w, Value) for row in layer.W for w in row)


def test_layer_named_parameters_are_rows_then_biases():
    layer = nn.Layer(2, 3, seed=0)
    names = [name for name, _ in layer.named_parameters()]
    assert names == ["W.0.0", "W.0.1", "W.1.0", "W.1.1", "W.2.0", "W.2.1", "b.0", "b.1", "b.2"]
    assert layer.parameters() == [*layer.W[0], *layer.W[1], *layer.W[2], *layer.b]


def test_mlp_named_parameters_and_labels():
    mlp = nn.MLP(3, [4, 2], seed=0)
    named = dict(mlp.named_parameters())
    assert len(named) == 3 * 4 + 4 + 4 * 2 + 2
    assert named["layers.0.W.1.0"] is mlp.layers[0].W[1][0]
    assert named["layers.1.b.1"] is mlp.layers[1].b[1]
    # labels are 1-based in the layer like the seed's W[1], 0-based in row and column
    assert mlp.layers[0].W[0][1].label == "W[1][0,1]"
    assert mlp.layers[1].W[1][3].label == "W[2][1,3]"
    assert mlp.layers[1].b[0].label == "b[2][0]"
    assert [p.label for p in mlp.parameters()].count("W[1][2,2]") == 1


def test_neuron_names_and_labels():
    n = nn.Neuron(2, seed=0)
    assert [name for name, _ in n.named_parameters()] == ["w.0", "w.1", "b"]
    assert [p.label for p in n.parameters()] == ["w[0]", "w[1]", "b"]


def test_shared_parameter_is_listed_once():
    layer = nn.Layer(2, 2, seed=0)
    layer.b = [layer.b[0], layer.b[0]]
    assert [name for name, _ in layer.named_parameters()][-1] == "b.0"
    assert len(layer.parameters()) == 5


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear"])
def test_neuron_output_is_activation_of_one_linear_node(activation):
    layer = nn.Layer(3, 2, activation=activation, seed=1)
    xs = [0.5, -1.0, 2.0]
    outs = layer(xs)
    assert len(outs) == 2
    for out, row, b in zip(outs, layer.W, layer.b):
        net = out if activation == "linear" else out.inputs[0]
        assert out.op == ("linear" if activation == "linear" else activation)
        assert net.op == "linear"
        assert net.inputs[:3] == tuple(row) and net.inputs[-1] is b
        assert [x.data for x in net.inputs[3:6]] == xs
        expected_net = sum(w.data * x for w, x in zip(row, xs)) + b.data
        assert net.data == pytest.approx(expected_net, abs=1e-15)
        act = {"tanh": math.tanh, "sigmoid": lambda z: 1 / (1 + math.exp(-z)), "relu": lambda z: max(z, 0.0),
               "linear": lambda z: z}[activation]
        assert out.data == pytest.approx(act(expected_net), abs=1e-15)


def test_float_inputs_become_one_leaf_each_shared_by_all_neurons():
    layer = nn.Layer(2, 3, seed=0)
    outs = layer([1.0, 2.0])
    x_leaves = {id(out.inputs[0].inputs[k]) for out in outs for k in (2, 3)}
    assert len(x_leaves) == 2


def test_layer_accepts_values_and_passes_gradient_to_them():
    layer = nn.Layer(2, 1, activation="linear", seed=0)
    x = [Value(1.0, label="x1"), Value(2.0, label="x2")]
    out = layer(x)[0]
    out.backward()
    assert x[0].grad == layer.W[0][0].data
    assert x[1].grad == layer.W[0][1].data
    assert layer.W[0][1].grad == 2.0
    assert layer.b[0].grad == 1.0


def test_mlp_returns_list_of_last_layer_and_uses_output_activation():
    mlp = nn.MLP(2, [3, 2], activation="relu", output_activation="sigmoid", seed=0)
    out = mlp([0.3, -0.7])
    assert isinstance(out, list) and len(out) == 2
    assert all(v.op == "sigmoid" for v in out)
    assert mlp.layers[0].activation == "relu"
    assert len(mlp.layers) == 2


def test_mlp_gradients_pass_gradcheck():
    mlp = nn.MLP(2, [3, 1], activation="tanh", output_activation="sigmoid", seed=3)

    def fn(*leaves):
        it = iter(leaves)  # named_parameters order: per layer, the rows of W, then b
        for layer in mlp.layers:
            layer.W = [[next(it) for _ in row] for row in layer.W]
            layer.b = [next(it) for _ in layer.b]
        return mlp([0.4, -0.2])[0]

    assert gradcheck(fn, [p.data for p in mlp.parameters()])


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = nn.MLP(2, [4, 1], seed=7), nn.MLP(2, [4, 1], seed=7), nn.MLP(2, [4, 1], seed=8)
    assert a.state_dict() == b.state_dict()
    assert a.state_dict() != c.state_dict()
    assert nn.Layer(3, 2, seed=1).state_dict() == nn.Layer(3, 2, seed=1).state_dict()
    assert nn.Neuron(3, seed=1).state_dict() == nn.Neuron(3, seed=1).state_dict()


def test_init_is_within_one_over_sqrt_nin():
    layer = nn.Layer(16, 8, seed=0)
    assert all(abs(p.data) <= 0.25 for p in layer.parameters())
    assert max(abs(p.data) for p in layer.parameters()) > 0.2


def test_zero_grad_clears_parameter_grads():
    mlp = nn.MLP(2, [2, 1], seed=0)
    mlp([1.0, 2.0])[0].backward()
    assert any(p.grad != 0.0 for p in mlp.parameters())
    mlp.zero_grad()
    assert all(p.grad == 0.0 for p in mlp.parameters())


@pytest.mark.parametrize("make", [
    lambda: nn.Layer(2, 2, activation="softmax"),
    lambda: nn.Neuron(2, activation="Tanh"),
    lambda: nn.MLP(2, [2, 1], activation="elu"),
    lambda: nn.MLP(2, [2, 1], output_activation="gelu"),
])
def test_unknown_activation_names_the_allowed_ones(make):
    with pytest.raises(ValueError, match=r"unknown activation .*'tanh', 'sigmoid', 'relu', 'linear'"):
        make()


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Layer(0, 2), "nin must be a positive integer"),
    (lambda: nn.Layer(2, -1), "nout must be a positive integer"),
    (lambda: nn.Layer(2.5, 1), "nin must be a positive integer"),
    (lambda: nn.MLP(2, []), "sizes must be a non-empty list"),
    (lambda: nn.MLP(2, [3, 0]), r"sizes\[1\] must be a positive integer"),
    (lambda: nn.Neuron(True), "nin must be a positive integer"),
])
def test_bad_sizes_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_number_of_inputs_raises():
    with pytest.raises(ValueError, match="Layer expects 3 inputs, got 2"):
        nn.Layer(3, 1)([1.0, 2.0])
    with pytest.raises(ValueError, match="Neuron expects 2 inputs, got 3"):
        nn.Neuron(2)([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Layer expects 2 inputs, got 1"):
        nn.MLP(2, [2, 1])([1.0])


def test_neuron_call():
    n = nn.Neuron(2, activation="tanh", seed=0)
    out = n([0.5, 0.25])
    assert out.op == "tanh" and out.inputs[0].op == "linear"
    assert out.data == pytest.approx(math.tanh(n.w[0].data * 0.5 + n.w[1].data * 0.25 + n.b.data), abs=1e-15)


# -- optimizers ----------------------------------------------------------------------------------


def test_sgd_step_is_p_minus_lr_grad_and_zero_grad_clears():
    a, b = Value(1.0), Value(-2.0)
    a.grad, b.grad = 0.5, -4.0
    opt = nn.SGD([a, b], lr=0.1)
    opt.step()
    assert a.data == 1.0 - 0.1 * 0.5
    assert b.data == -2.0 - 0.1 * -4.0
    opt.zero_grad()
    assert a.grad == 0.0 and b.grad == 0.0


def test_sgd_momentum_accumulates_velocity():
    p = Value(0.0)
    opt = nn.SGD([p], lr=0.1, momentum=0.9)
    p.grad = 1.0
    opt.step()  # v = 1
    assert p.data == pytest.approx(-0.1)
    opt.step()  # v = 0.9 * 1 + 1 = 1.9
    assert p.data == pytest.approx(-0.1 - 0.19)


def test_adam_first_step_moves_by_lr_against_the_gradient_sign():
    a, b = Value(1.0), Value(1.0)
    a.grad, b.grad = 3.0, -1e-3
    opt = nn.Adam([a, b], lr=0.01)
    opt.step()  # bias-corrected m / sqrt(v) = sign(grad) on the first step
    assert a.data == pytest.approx(0.99, abs=1e-9)
    assert b.data == pytest.approx(1.01, abs=1e-6)


def test_adam_and_sgd_minimise_a_quadratic():
    for make in (lambda ps: nn.Adam(ps, lr=0.1), lambda ps: nn.SGD(ps, lr=0.1, momentum=0.5)):
        x = Value(3.0)
        opt = make([x])
        for _ in range(300):
            loss = (x - 1.0) ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert x.data == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("make, match", [
    (lambda: nn.SGD([Value(1.0)], lr=0.0), "lr must be a positive finite number"),
    (lambda: nn.SGD([Value(1.0)], lr=float("nan")), "lr must be a positive finite number"),
    (lambda: nn.SGD([Value(1.0)], lr=0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
    (lambda: nn.Adam([Value(1.0)], lr=-1.0), "lr must be a positive finite number"),
    (lambda: nn.Adam([Value(1.0)], betas=(0.9, 1.5)), r"betas\[1\] must be in \[0, 1\)"),
    (lambda: nn.SGD([1.0], lr=0.1), "params must be Values"),
])
def test_bad_optimizer_settings_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_training_an_mlp_lowers_the_loss():
    mlp = nn.MLP(2, [4, 1], activation="tanh", seed=0)
    data = [([0.0, 0.0], 0.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], 0.0)]
    opt = nn.Adam(mlp.parameters(), lr=0.05)

    def loss_now():
        return nn.mse_loss([mlp(x)[0] for x, _ in data], [y for _, y in data])

    first = loss_now().data
    for _ in range(200):
        loss = loss_now()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_now().data < 0.1 * first


@pytest.mark.parametrize("make", [lambda: nn.Neuron(3, seed=0), lambda: nn.Layer(3, 2, seed=0),
                                  lambda: nn.MLP(3, [4, 4, 2], seed=0)])
def test_parameters_are_the_named_parameters_in_order(make):
    module = make()
    assert module.parameters() == [p for _, p in module.named_parameters()]
    assert len({id(p) for p in module.parameters()}) == len(module.parameters())


class TwoPart(nn.Module):
    """A user module: parameters are found among its public attributes."""

    def __init__(self) -> None:
        self.w = [Value(1.0), Value(2.0)]
        self.scale = 3.0
        self.head = nn.Neuron(2, seed=0)
        self.b = Value(0.5)
        self._scratch = Value(9.0)


def test_a_subclass_gets_its_parameters_from_its_attributes(tmp_path):
    m = TwoPart()
    names = [name for name, _ in m.named_parameters()]
    assert names == ["w.0", "w.1", "head.w.0", "head.w.1", "head.b", "b"]
    assert m.parameters() == [m.w[0], m.w[1], *m.head.w, m.head.b, m.b]
    m.save(str(tmp_path / "two.json"))
    other = TwoPart()
    other.b.data = -1.0
    other.load(str(tmp_path / "two.json"))
    assert other.state_dict() == m.state_dict()
