"""Network workloads: micrograd's demo step (the moons MLP of demos.moons) and the 2-2-2 network of demos.mazur."""

from __future__ import annotations

import math
import time

import nn
from autograd import compile_graph
from demos import mazur, moons

from . import engines
from .engines import mg_sigmoid, tensor, torch
from .engines import micrograd_engine as mg
from .engines import micrograd_nn as mgnn
from .harness import Case, Outcome, Workload, without_gc

MOONS_LR = 0.05  # a fixed learning rate: every timed step starts from the same weights


# -- micrograd's demo step: MLP(2, [16, 16, 1]) ReLU, SVM loss + L2, fwd + bwd + update --------------------
def _moons_setup(points: int):
    xs, ys = moons.make_moons(points, 0.1, seed=0)
    model = moons.build_model(seed=0)
    # Canonical parameter order (micrograd's): per layer, per neuron: its weights, then its bias.
    canon = [p for layer in model.layers for row, b in zip(layer.W, layer.b) for p in (*row, b)]
    return xs, ys, model, canon, [p.data for p in canon]


def _dense_step(layers, xs, ys, alpha: float, lr: float) -> tuple[float, list[float]]:
    """Hand-written forward and backward on lists of floats; ``layers`` is [(W, b)] and is updated in place."""
    n = len(xs)
    gws = [[[0.0] * len(row) for row in w] for w, _ in layers]
    gbs = [[0.0] * len(b) for _, b in layers]
    last = len(layers) - 1
    data_loss = 0.0
    for x, y in zip(xs, ys):
        acts, pres = [x], []
        a = x
        for k, (w, b) in enumerate(layers):
            z = []
            for row, bias in zip(w, b):
                s = 0.0
                for wij, aj in zip(row, a):
                    s += wij * aj
                z.append(s + bias)
            pres.append(z)
            a = z if k == last else [zi if zi > 0.0 else 0.0 for zi in z]
            acts.append(a)
        margin = 1.0 - y * a[0]
        if margin <= 0.0:
            continue
        data_loss += margin
        delta = [-y / n]
        for k in range(last, -1, -1):
            w, a_prev, gw, gb = layers[k][0], acts[k], gws[k], gbs[k]
            for i, d in enumerate(delta):
                gb[i] += d
                gwi = gw[i]
                for j, aj in enumerate(a_prev):
                    gwi[j] += d * aj
            if k:
                z_prev = pres[k - 1]
                delta = [sum(delta[i] * w[i][j] for i in range(len(delta))) if z_prev[j] > 0.0 else 0.0
                         for j in range(len(a_prev))]
    reg = 0.0
    grads = []
    for (w, b), gw, gb in zip(layers, gws, gbs):
        for row, bias, grow, i in zip(w, b, gw, range(len(b))):
            for j, p in enumerate(row):
                reg += p * p
                grow[j] += 2.0 * alpha * p
            reg += bias * bias
            gb[i] += 2.0 * alpha * bias
            grads += [*grow, gb[i]]
    for (w, b), gw, gb in zip(layers, gws, gbs):
        for row, grow in zip(w, gw):
            for j in range(len(row)):
                row[j] -= lr * grow[j]
        for i in range(len(b)):
            b[i] -= lr * gb[i]
    return data_loss / n + alpha * reg, grads


def demo_step(points: int = 100) -> Workload:
    xs, ys, model, canon, init = _moons_setup(points)
    alpha, lr = moons.ALPHA, MOONS_LR
    sizes = [2, *moons.SIZES]

    def reset():
        for p, x in zip(canon, init):
            p.data, p.grad = x, 0.0

    def floats():
        it = iter(init)  # canonical order: each neuron's weights, then its bias
        layers = []
        for nin, nout in zip(sizes, sizes[1:]):
            w, b = [], []
            for _ in range(nout):
                w.append([next(it) for _ in range(nin)])
                b.append(next(it))
            layers.append((w, b))

        def run():
            loss, grads = _dense_step(layers, xs, ys, alpha, lr)
            return loss, grads, None

        return run

    def ours():
        reset()
        opt = nn.SGD(canon, lr=lr)

        def run():
            loss, _accuracy = moons.loss_and_accuracy(model, xs, ys, alpha)
            opt.zero_grad()
            loss.backward()
            grads = [p.grad for p in canon]
            opt.step()
            return loss.data, grads, loss

        return run

    reset()
    start = time.perf_counter()
    loss, _ = moons.loss_and_accuracy(model, xs, ys, alpha)
    f = compile_graph(loss, inputs=canon)
    compile_seconds = time.perf_counter() - start
    del loss

    def compiled():
        values = list(init)

        def run():
            loss, grads = f(values)
            values[:] = [v - lr * g for v, g in zip(values, grads)]
            return loss, list(grads), None

        return run

    def micrograd():
        mlp = mgnn.MLP(2, moons.SIZES)
        for p, x in zip(mlp.parameters(), init):
            p.data, p.grad = x, 0

        def run():  # micrograd's demo, verbatim apart from the fixed learning rate
            inputs = [list(map(mg.Value, xrow)) for xrow in xs]
            scores = list(map(mlp, inputs))
            losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(ys, scores)]
            data_loss = sum(losses) * (1.0 / len(losses))
            reg_loss = alpha * sum(p * p for p in mlp.parameters())
            total_loss = data_loss + reg_loss
            _accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(ys, scores)]
            mlp.zero_grad()
            with engines.deep_recursion(10_000):
                total_loss.backward()
            grads = [p.grad for p in mlp.parameters()]
            for p in mlp.parameters():
                p.data -= lr * p.grad
            return total_loss.data, grads, total_loss

        return run

    def pytorch():
        it = iter(init)
        layers = [[([tensor(next(it)) for _ in range(nin)], tensor(next(it))) for _ in range(nout)]
                  for nin, nout in zip(sizes, sizes[1:])]
        params = [p for layer in layers for ws, b in layer for p in (*ws, b)]

        def run():
            scores = []
            for x in xs:
                a = x
                for k, layer in enumerate(layers):
                    z = [sum((w * ai for w, ai in zip(ws, a)), b) for ws, b in layer]
                    a = z if k == len(layers) - 1 else [torch.relu(zi) for zi in z]
                scores.append(a[0])
            losses = [torch.relu(1 + -yi * si) for yi, si in zip(ys, scores)]
            total = sum(losses) * (1.0 / len(losses)) + alpha * sum(p * p for p in params)
            total.backward()
            grads = [p.grad.item() for p in params]
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
            return total.item(), grads, total

        return run

    cases = [Case("floats", floats), Case("chainrule", ours),
             Case("chainrule compiled", compiled, setup_seconds=compile_seconds)]
    if mg:
        cases += [Case("micrograd", micrograd), Case("micrograd, GC off", without_gc(micrograd))]
    if torch:
        cases.append(Case("torch", pytorch))
    return Workload(
        "demo_step", f"micrograd's demo step: MLP(2,[16,16,1]) ReLU, {points} points, SVM + L2, fwd+bwd+update",
        "ms/step", 1e3, cases,
        ["chainrule runs demos.moons.loss_and_accuracy (nn.MLP: one linear node per neuron)"],
    )


# -- the 2-2-2 network of the reference, trained with lr 0.5 -------------------------------------------------
W_INIT = [w for row in (*mazur.HIDDEN_W, *mazur.OUTPUT_W) for w in row]  # w1..w8


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0.0 else math.exp(x) / (1.0 + math.exp(x))


def _mazur_floats(iterations: int) -> Outcome:
    """The hand derivation of the reference page, on floats."""
    w1, w2, w3, w4, w5, w6, w7, w8 = W_INIT
    (i1, i2), (t1, t2), b1, b2, lr = mazur.INPUTS, mazur.TARGETS, mazur.B1, mazur.B2, mazur.LR
    first = None
    for it in range(iterations):
        h1 = _sigmoid(w1 * i1 + w2 * i2 + b1)
        h2 = _sigmoid(w3 * i1 + w4 * i2 + b1)
        o1 = _sigmoid(w5 * h1 + w6 * h2 + b2)
        o2 = _sigmoid(w7 * h1 + w8 * h2 + b2)
        loss = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
        d1 = (o1 - t1) * o1 * (1.0 - o1)  # dE/dnet_o1
        d2 = (o2 - t2) * o2 * (1.0 - o2)
        e1 = (d1 * w5 + d2 * w7) * h1 * (1.0 - h1)  # dE/dnet_h1
        e2 = (d1 * w6 + d2 * w8) * h2 * (1.0 - h2)
        grads = [e1 * i1, e1 * i2, e2 * i1, e2 * i2, d1 * h1, d1 * h2, d2 * h1, d2 * h2]
        if it == 0:
            first = (loss, grads)
        w1, w2, w3, w4, w5, w6, w7, w8 = (w - lr * g for w, g in zip((w1, w2, w3, w4, w5, w6, w7, w8), grads))
    return first[0], [*first[1], loss], None


def network_222(iterations: int) -> Workload:
    (i1, i2), (t1, t2), lr = mazur.INPUTS, mazur.TARGETS, mazur.LR

    def floats():
        return lambda: _mazur_floats(iterations)

    def ours():
        model, weights, _quantities = mazur.build()
        xs, targets = list(mazur.INPUTS), list(mazur.TARGETS)

        def run():  # demos.mazur.train's loop; the loss is mazur.e_total with its data lists made once
            opt = nn.SGD(weights, lr=lr)
            first = None
            for it in range(iterations):
                loss = nn.mse_loss(model(xs), targets, reduction="half_sum")
                opt.zero_grad()
                loss.backward()
                if it == 0:
                    first = (loss.data, [w.grad for w in weights])
                opt.step()
            return first[0], [*first[1], loss.data], loss

        return run

    start = time.perf_counter()
    model, weights, _quantities = mazur.build()
    f = compile_graph(mazur.e_total(model), inputs=weights)
    compile_seconds = time.perf_counter() - start

    def compiled():
        def run():
            values = list(W_INIT)
            first = None
            for it in range(iterations):
                loss, grads = f(values)
                if it == 0:
                    first = (loss, list(grads))
                values = [v - lr * g for v, g in zip(values, grads)]
            return first[0], [*first[1], loss], None

        return run

    def micrograd():
        # Through micrograd.nn, as chainrule goes through nn: Layers of Neurons whose activation is a fused sigmoid.
        layers = [mgnn.Layer(2, 2, nonlin=False), mgnn.Layer(2, 2, nonlin=False)]
        for layer, weights, bias in zip(layers, (mazur.HIDDEN_W, mazur.OUTPUT_W), (mazur.B1, mazur.B2)):
            shared = mg.Value(bias)  # one bias per layer, not trained
            for neuron, row in zip(layer.neurons, weights):
                neuron.w = [mg.Value(w) for w in row]
                neuron.b = shared
        ws = [w for layer in layers for neuron in layer.neurons for w in neuron.w]
        xs, targets = list(mazur.INPUTS), list(mazur.TARGETS)

        def run():
            first = None
            for it in range(iterations):
                out = xs
                for layer in layers:
                    out = [mg_sigmoid(neuron(out)) for neuron in layer.neurons]
                loss = sum((t - o) ** 2 * 0.5 for o, t in zip(out, targets))
                for w in ws:
                    w.grad = 0
                loss.backward()
                if it == 0:
                    first = (loss.data, [w.grad for w in ws])
                for w in ws:
                    w.data -= lr * w.grad
            return first[0], [*first[1], loss.data], loss

        return run

    def pytorch():
        ws = [tensor(w) for w in W_INIT]
        b1, b2 = tensor(mazur.B1, grad=False), tensor(mazur.B2, grad=False)

        def run():
            w1, w2, w3, w4, w5, w6, w7, w8 = ws
            first = None
            for it in range(iterations):
                h1 = torch.sigmoid(w1 * i1 + w2 * i2 + b1)
                h2 = torch.sigmoid(w3 * i1 + w4 * i2 + b1)
                o1 = torch.sigmoid(w5 * h1 + w6 * h2 + b2)
                o2 = torch.sigmoid(w7 * h1 + w8 * h2 + b2)
                loss = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
                loss.backward()
                if it == 0:
                    first = (loss.item(), [w.grad.item() for w in ws])
                with torch.no_grad():
                    for w in ws:
                        w -= lr * w.grad
                        w.grad = None
            return first[0], [*first[1], loss.item()], loss

        return run

    cases = [Case("floats", floats), Case("chainrule", ours),
             Case("chainrule compiled", compiled, setup_seconds=compile_seconds)]
    if mg:  # micrograd's closures make reference cycles: its time depends on the collector, shown both ways
        cases += [Case("micrograd", micrograd), Case("micrograd, GC off", without_gc(micrograd))]
    if torch:
        cases.append(Case("torch", pytorch))
    return Workload(
        "network_222", f"the 2-2-2 network, {iterations:,} training iterations (fwd+bwd+update)", "ms", 1e3, cases,
        ["chainrule trains through nn (demos.mazur.build); micrograd through micrograd.nn Layers, with a fused "
         "sigmoid node in micrograd's closure style"],
    )
