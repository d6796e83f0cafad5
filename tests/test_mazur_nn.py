"""The 2-2-2 network of reference section 1 through ``nn``: every published number, training, and demos.mazur."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TOL, build_mazur

import nn
from autograd import Value, topological_order

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # demos is not an installed package; import it from the checkout
    sys.path.insert(0, str(REPO))

from demos import mazur  # noqa: E402

LR = 0.5


def build_with_layers() -> tuple[list[Value], dict[str, Value]]:
    """The network from two nn.Layers: hidden W = [[w1, w2], [w3, w4]], output W = [[w5, w6], [w7, w8]]."""
    hidden = nn.Layer(2, 2, activation="sigmoid", seed=0)
    output = nn.Layer(2, 2, activation="sigmoid", seed=0)
    setup = ((hidden, [[0.15, 0.20], [0.25, 0.30]], 0.35), (output, [[0.40, 0.45], [0.50, 0.55]], 0.60))
    for layer, rows, bias in setup:
        for row, values in zip(layer.W, rows):
            for w, x in zip(row, values):
                w.data = x
        for b in layer.b:
            b.data = bias
    out_h1, out_h2 = hidden([0.05, 0.10])
    out_o1, out_o2 = output([out_h1, out_h2])
    e_total = nn.mse_loss([out_o1, out_o2], [0.01, 0.99], reduction="half_sum")
    e_o1, e_o2 = e_total.inputs
    weights = [w for layer in (hidden, output) for row in layer.W for w in row]
    q = dict(zip([f"w{k}" for k in range(1, 9)], weights))
    q.update(net_h1=out_h1.inputs[0], net_h2=out_h2.inputs[0], out_h1=out_h1, out_h2=out_h2,
             net_o1=out_o1.inputs[0], net_o2=out_o2.inputs[0], out_o1=out_o1, out_o2=out_o2,
             E_o1=e_o1, E_o2=e_o2, E_total=e_total)
    return weights, q


@pytest.fixture
def net():
    weights, q = build_with_layers()
    q["E_total"].backward()
    return weights, q


def test_forward_pass_matches_the_reference(net):
    _, q = net
    assert q["net_h1"].data == pytest.approx(0.377500000, abs=TOL)
    assert q["out_h1"].data == pytest.approx(0.593269992, abs=TOL)
    assert q["out_h2"].data == pytest.approx(0.596884378, abs=TOL)
    assert q["net_o1"].data == pytest.approx(1.105905967, abs=TOL)
    assert q["out_o1"].data == pytest.approx(0.751365070, abs=TOL)
    assert q["out_o2"].data == pytest.approx(0.772928465, abs=TOL)
    assert q["E_o1"].data == pytest.approx(0.274811083, abs=TOL)
    assert q["E_o2"].data == pytest.approx(0.023560026, abs=TOL)
    assert q["E_total"].data == pytest.approx(0.298371109, abs=TOL)


def test_net_inputs_are_single_linear_nodes(net):
    _, q = net
    for name in ("net_h1", "net_h2", "net_o1", "net_o2"):
        assert q[name].op == "linear" and len(q[name].inputs) == 5
    assert q["net_o1"].inputs[:3] == (q["w5"], q["w6"], q["out_h1"])


def test_output_weight_w5_one_path(net):
    _, q = net
    dE_total_dout_o1 = q["out_o1"].grad
    dout_o1_dnet_o1 = q["out_o1"].local_grads[0]
    dnet_o1_dw5 = q["net_o1"].local_grads[0]
    dE_dw5 = q["w5"].grad
    assert dE_total_dout_o1 == pytest.approx(0.741365070, abs=TOL)
    assert dout_o1_dnet_o1 == pytest.approx(0.186815602, abs=TOL)
    assert dnet_o1_dw5 == pytest.approx(0.593269992, abs=TOL)
    assert dE_dw5 == pytest.approx(0.082167041, abs=TOL)


def test_hidden_weight_w1_two_paths_add(net):
    _, q = net
    delta_o1, delta_o2 = q["net_o1"].grad, q["net_o2"].grad
    dE_o1_dout_h1 = delta_o1 * q["w5"].data
    dE_o2_dout_h1 = delta_o2 * q["w7"].data
    dE_total_dout_h1 = q["out_h1"].grad
    assert delta_o1 == pytest.approx(0.138498562, abs=TOL)
    assert delta_o2 == pytest.approx(-0.038098237, abs=TOL)
    assert dE_o1_dout_h1 == pytest.approx(0.055399425, abs=TOL)
    assert dE_o2_dout_h1 == pytest.approx(-0.019049118, abs=TOL)
    assert dE_total_dout_h1 == pytest.approx(0.036350306, abs=TOL)
    assert dE_total_dout_h1 == pytest.approx(dE_o1_dout_h1 + dE_o2_dout_h1, abs=1e-15)
    dout_h1_dnet_h1 = q["out_h1"].local_grads[0]
    dnet_h1_dw1 = q["net_h1"].local_grads[0]
    dE_dw1 = q["w1"].grad
    assert dout_h1_dnet_h1 == pytest.approx(0.241300709, abs=TOL)
    assert dnet_h1_dw1 == pytest.approx(0.05, abs=TOL)
    assert dE_dw1 == pytest.approx(0.000438568, abs=TOL)


def test_all_eight_gradients_equal_the_bare_value_network(net):
    _, q = net
    bare = build_mazur()
    bare["E_total"].backward()
    for k in range(1, 9):
        assert q[f"w{k}"].grad == pytest.approx(bare[f"w{k}"].grad, abs=1e-15), f"dE_dw{k}"


def test_weights_after_one_update(net):
    weights, q = net
    nn.SGD(weights, lr=LR).step()
    w1_after, w2_after, w3_after, w4_after = (q[f"w{k}"].data for k in (1, 2, 3, 4))
    w5_after, w6_after, w7_after, w8_after = (q[f"w{k}"].data for k in (5, 6, 7, 8))
    assert w1_after == pytest.approx(0.149780716, abs=TOL)
    assert w2_after == pytest.approx(0.199561432, abs=TOL)
    assert w3_after == pytest.approx(0.249751144, abs=TOL)
    assert w4_after == pytest.approx(0.299502287, abs=TOL)
    assert w5_after == pytest.approx(0.358916480, abs=TOL)
    assert w6_after == pytest.approx(0.408666186, abs=TOL)
    assert w7_after == pytest.approx(0.511301270, abs=TOL)
    assert w8_after == pytest.approx(0.561370121, abs=TOL)


def test_training_continues_to_lower_the_error():
    model, weights, q = mazur.build()
    errors = [e for _, e in mazur.train(model, weights, 0, 300, every=1)]
    assert errors[0] == pytest.approx(0.298371109, abs=TOL)
    assert all(b < a for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 0.5 * errors[0]
    assert all(p.data in (0.35, 0.60) for p in (q["b1"], q["b2"]))  # biases are not trained


def test_compiled_training_gives_the_same_floats():
    dynamic, dynamic_weights, _ = mazur.build()
    compiled, compiled_weights, _ = mazur.build()
    errors = mazur.train(dynamic, dynamic_weights, 0, 200, every=1)
    assert mazur.train(compiled, compiled_weights, 0, 200, every=1, compiled=True) == errors
    assert [w.data for w in compiled_weights] == [w.data for w in dynamic_weights]


# -- demos.mazur ---------------------------------------------------------------------------------


def test_demo_build_labels_every_quantity_like_the_bare_value_network():
    model, weights, q = mazur.build()
    bare = build_mazur()
    assert set(bare) <= set(q)
    assert [w.label for w in weights] == [f"w{k}" for k in range(1, 9)]
    q["E_total"].backward()
    bare["E_total"].backward()
    for name, v in bare.items():
        assert q[name].label == name
        assert q[name].data == pytest.approx(v.data, abs=1e-15), name
        assert q[name].grad == pytest.approx(v.grad, abs=1e-15), f"d E_total / d {name}"
    assert q["E_o1"] in q["E_total"].inputs and q["E_o2"] in q["E_total"].inputs
    assert q["net_h1"].op == "linear" and q["b1"] in q["net_h2"].inputs  # one shared hidden bias
    assert model.layers[0].W[1][0] is q["w3"]  # hidden W = [[w1, w2], [w3, w4]]


def test_demo_tables_hold_the_published_numbers():
    assert mazur.PUBLISHED_FORWARD["E_total"] == 0.298371109
    assert mazur.PUBLISHED_FORWARD["out_o2"] == 0.772928465
    assert mazur.PUBLISHED_GRADIENTS == {"dE_dw5": 0.082167041, "dE_dw1": 0.000438568}
    assert mazur.PUBLISHED_UPDATED["w5_after"] == 0.358916480
    assert mazur.PUBLISHED_UPDATED["w3_after"] == 0.249751144
    assert mazur.PUBLISHED_FACTORS["dE_total/dout_h1"] == 0.036350306
    _, _, q = mazur.build()
    q["E_total"].backward()
    for name, got in mazur.factors(q).items():
        assert got == pytest.approx(mazur.PUBLISHED_FACTORS[name], abs=TOL), name


def test_demo_main_in_process_returns_zero(capsys):
    assert mazur.main([]) == 0
    out = capsys.readouterr().out
    assert "quantity" in out and "chainrule" in out and "published" in out and "check" in out
    assert "MISMATCH" not in out


def run_demo(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "demos.mazur", *args], cwd=REPO, capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=120)


def test_demo_runs_and_every_check_passes():
    proc = run_demo()
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.rstrip().endswith(("✓", "✓ *"))]
    assert len(rows) == 9 + 10 + 8 + 8 + 2  # forward, factors, gradients, updated weights, biases
    assert "MISMATCH" not in proc.stdout
    line = next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["dE_dw5"])
    assert "0.082167041" in line


def test_demo_steps_trains_and_the_error_falls():
    proc = run_demo("--steps", "500")
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(r"^\s+(\d+)\s+(\d\.\d+)$", proc.stdout, flags=re.MULTILINE)
    updates = [int(n) for n, _ in rows]
    errors = [float(e) for _, e in rows]
    assert updates[0] == 0 and updates[-1] == 500 and len(updates) >= 5
    assert errors[0] == pytest.approx(0.298371109, abs=1e-9)
    assert all(b < a for a, b in zip(errors, errors[1:]))


def test_demo_steps_compiled_prints_the_same_errors():
    dynamic, compiled = run_demo("--steps", "300"), run_demo("--steps", "300", "--compiled")
    assert dynamic.returncode == 0 and compiled.returncode == 0, compiled.stderr
    def numbers(text: str) -> list[str]:  # every line but the one saying how the training ran
        return [line for line in text.splitlines() if not line.startswith("training on")]

    assert numbers(compiled.stdout) == numbers(dynamic.stdout)
    assert "training on (compiled: the loss traced once" in compiled.stdout


def test_demo_explain_w5_prints_the_reference_path():
    proc = run_demo("--explain", "w5", "--explain", "w1")
    assert proc.returncode == 0, proc.stderr
    assert ("dE_total/dw5 = dE_total/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5 = "
            "0.741365070 * 0.186815602 * 0.593269992 = 0.082167041") in proc.stdout
    assert "dE_total/dout_h1 = dE_o1/dout_h1 + dE_o2/dout_h1 = 0.055399425 + -0.019049118" in proc.stdout
    assert "sum over 2 paths" in proc.stdout


def test_demo_step_without_a_tty_prints_every_step():
    proc = run_demo("--step")
    assert proc.returncode == 0, proc.stderr
    total = len([v for v in topological_order(mazur.build()[2]["E_total"]) if v.inputs])  # non-leaf nodes
    headers = re.findall(r"^Step (\d+)/(\d+) ", proc.stdout, flags=re.MULTILINE)
    assert [int(k) for k, _ in headers] == list(range(1, total + 1))
    assert "Step 1/" in proc.stdout and "E_total = E_o1 + E_o2" in proc.stdout
    assert "all values match the reference" in proc.stdout  # stepping left the gradients as backward() gives


def test_demo_render_writes_dot_source_with_the_highlight(tmp_path):
    path = tmp_path / "mazur.dot"
    proc = run_demo("--render", str(path), "--highlight", "w5")
    assert proc.returncode == 0, proc.stderr
    source = path.read_text(encoding="utf-8")
    assert source.startswith("digraph") and "w5" in source and "E_total" in source


def test_demo_render_svg_and_frames(tmp_path, dot_program):
    svg, frames = tmp_path / "mazur.svg", tmp_path / "frames"
    proc = run_demo("--render", str(svg), "--frames", str(frames))
    assert proc.returncode == 0, proc.stderr
    assert svg.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    pictures = sorted(frames.glob("step_*.svg"))
    total = len([v for v in topological_order(mazur.build()[2]["E_total"]) if v.inputs])  # a frame per step
    assert len(pictures) == total
    index = (frames / "index.html").read_text(encoding="utf-8")
    assert all(p.name in index for p in pictures)


def test_demo_rejects_an_unknown_quantity():
    proc = run_demo("--explain", "w9")
    assert proc.returncode == 2 and "unknown quantity 'w9'" in proc.stderr


def test_demo_rejects_negative_steps():
    proc = run_demo("--steps", "-3")
    assert proc.returncode == 2 and "--steps must be >= 0" in proc.stderr


def test_demo_step_on_a_terminal_waits_for_enter_and_quits_on_q():
    pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX only")
    leader, follower = pty.openpty()
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "demos.mazur", "--step"], cwd=REPO, env=env,
                            stdin=follower, stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    os.write(leader, b"\nq\n")  # step 1 shows; Enter: step 2 shows; q: stop stepping
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the demo exited and closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    os.close(leader)
    text = out.decode("utf-8", errors="replace")
    assert "Enter: next, q: quit" in text
    assert re.findall(r"^Step (\d+)/", text, flags=re.MULTILINE) == ["1", "2"]
    assert "all values match the reference" in text
