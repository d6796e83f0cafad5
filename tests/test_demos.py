"""Demos softmax, logistic, shallow and moons: each runs as ``python -m demos.NAME`` and prints the right numbers."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TOL

import nn

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # demos is not an installed package; import it from the checkout
    sys.path.insert(0, str(REPO))

# Reference, section 2: scores [2, 3, 4], the correct class is the second.
PUBLISHED_SOFTMAX = (0.090030573, 0.244728471, 0.665240956)
PUBLISHED_DL_DZ = (0.090030573, -0.755271529, 0.665240956)
NUMBER = r"(-?\d+\.\d+(?:e[-+]\d+)?)"


def run_demo(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``python -m demos.NAME ARGS`` from the repository root; assert exit 0 and return stdout."""
    proc = run_demo_raw(name, *args, env=env)
    report = f"demos.{name} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, report
    return proc.stdout


def run_demo_raw(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONIOENCODING="utf-8", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", f"demos.{name}", *args],
        cwd=REPO, capture_output=True, text=True, encoding="utf-8", env=full_env, timeout=120,
    )


def printed(out: str, name: str) -> float:
    """The number printed after ``name =`` at the start of a line (the first such line)."""
    match = re.search(rf"^\s*{re.escape(name)}\s*=\s*{NUMBER}", out, re.MULTILINE)
    assert match, f"no line '{name} = <number>' in the output:\n{out}"
    return float(match.group(1))


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# -- demos.softmax -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def softmax_out() -> str:
    return run_demo("softmax")


def test_softmax_demo_prints_the_published_probabilities(softmax_out):
    for i, published in enumerate(PUBLISHED_SOFTMAX, start=1):
        assert abs(printed(softmax_out, f"a{i}") - published) <= TOL


def test_softmax_demo_prints_the_published_gradient(softmax_out):
    dL_dz = [printed(softmax_out, f"dL/dz{i}") for i in (1, 2, 3)]
    for got, published in zip(dL_dz, PUBLISHED_DL_DZ):
        assert abs(got - published) <= TOL
    assert "[0.0900, -0.7553, 0.6652]" in softmax_out


def test_softmax_demo_loss_is_minus_log_of_the_correct_probability(softmax_out):
    assert abs(printed(softmax_out, "L = -ln(a2)") - -math.log(PUBLISHED_SOFTMAX[1])) <= 1e-8


def test_softmax_demo_shows_both_derivative_cases(softmax_out):
    a1, a2, a3 = PUBLISHED_SOFTMAX
    dL_da2 = printed(softmax_out, "dL/da2")
    assert abs(dL_da2 - -1.0 / a2) <= 1e-8
    da2_dz2 = printed(softmax_out, "da2/dz2")  # i = j: a_j (1 - a_j)
    assert abs(da2_dz2 - a2 * (1.0 - a2)) <= 1e-8
    assert abs(printed(softmax_out, "dL/da2 * da2/dz2") - (a2 - 1.0)) <= 1e-8
    for i, ai in ((1, a1), (3, a3)):  # i != j: -a_j a_i, and the product with -1/a_j is a_i
        assert abs(printed(softmax_out, f"da2/dz{i}") - -a2 * ai) <= 1e-8
        assert abs(printed(softmax_out, f"dL/da2 * da2/dz{i}") - ai) <= 1e-8


def test_softmax_demo_checks_pass_and_names_the_slip(softmax_out):
    assert softmax_out.count("✓") >= 15
    assert "MISMATCH" not in softmax_out
    assert "0.0903 is a slip" in softmax_out
    assert "all checks passed" in softmax_out


# -- demos.logistic ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logistic_out() -> str:
    return run_demo("logistic")


def test_logistic_demo_gradients_wrt_z_are_a_minus_y_and_its_squared_error_form(logistic_out):
    rows = re.findall(rf"^\s*{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s*$",
                      logistic_out, re.MULTILINE)
    assert len(rows) == 7
    for z, a, ce_grad, _, se_grad, _ in ((float(x) for x in row) for row in rows):
        a_exact = sigmoid(z)  # y = 1
        assert abs(a - a_exact) <= 1e-6
        assert abs(ce_grad - (a_exact - 1.0)) <= 1e-6
        assert math.isclose(se_grad, (a_exact - 1.0) * a_exact * (1.0 - a_exact), rel_tol=1e-3)


def test_logistic_demo_squared_error_gradient_vanishes_when_confidently_wrong(logistic_out):
    match = re.search(rf"at t = (-?\d+) \(confidently wrong\) dSE/dt = {NUMBER} but dCE/dt = {NUMBER}", logistic_out)
    assert match, logistic_out
    dSE_dt, dCE_dt = float(match.group(2)), float(match.group(3))
    assert abs(dSE_dt) < 0.01 < 1.0 < abs(dCE_dt)


def test_logistic_demo_squared_error_is_non_convex_and_cross_entropy_convex(logistic_out):
    assert "cross-entropy: d2L/dt2 > 0 at every t: yes" in logistic_out
    match = re.search(r"squared error: d2L/dt2 changes sign (between .*): non-convex", logistic_out)
    assert match and "nowhere" not in match.group(1)


def test_logistic_line_scan_second_derivatives():
    from demos import logistic

    xs, ys = logistic.make_blobs(20, seed=3)
    ts = [float(t) for t in range(-6, 7)]
    ce = logistic.line_scan(ts, (1.0, 0.0), xs, ys, "cross-entropy")
    se = logistic.line_scan(ts, (1.0, 0.0), xs, ys, "squared error")
    assert all(d2 > 0.0 for _, _, _, d2 in ce)
    assert logistic.sign_changes(se)
    # dCE/dt along w = t (1, 0), b = 0 is the mean of (a - y) x_1
    for t, _, dCE_dt, _ in ce:
        expected = sum((sigmoid(t * x[0]) - y) * x[0] for x, y in zip(xs, ys)) / len(xs)
        assert abs(dCE_dt - expected) <= 1e-12


def test_logistic_demo_cross_entropy_leaves_the_wrong_start_faster(logistic_out):
    row = re.search(r"^\s*20 \|\s*\S+\s+(\S+)%\s*\|\s*\S+\s+(\S+)%", logistic_out, re.MULTILINE)
    assert row, logistic_out
    ce_acc, se_acc = float(row.group(1)), float(row.group(2))
    assert ce_acc > 80.0 > 50.0 > se_acc
    assert "all checks passed" in logistic_out


# -- demos.shallow -------------------------------------------------------------------------


def test_shallow_demo_shapes_and_scalar_matrix_agreement():
    out = run_demo("shallow")
    m, n_x, n_h = 400, 2, 4
    shapes = {"X": (n_x, m), "Y": (1, m), "W[1]": (n_h, n_x), "b[1]": (n_h, 1), "Z[1]": (n_h, m),
              "A[1]": (n_h, m), "W[2]": (1, n_h), "b[2]": (1, 1), "Z[2]": (1, m), "A[2]": (1, m)}
    for name, shape in shapes.items():
        assert re.search(rf"^\s*{re.escape(name)}\s+{re.escape(str(shape))}\s*$", out, re.MULTILINE), name
    max_diff = float(re.search(rf"max difference over all checks: {NUMBER}", out).group(1))
    assert max_diff < 1e-12
    assert len(re.findall(r"iteration\s+\d+: .* max \|scalar - matrix\|", out)) == 3
    assert "per-sample loop with Values:" in out and "matrix form with NumPy:" in out


def test_shallow_scalar_gradients_equal_the_matrix_formulas():
    import numpy as np  # in the test extra

    from demos import shallow

    X, Y = shallow.make_planar(m=30, seed=5)
    assert X.shape == (2, 30) and Y.shape == (1, 30) and set(Y.ravel()) == {0.0, 1.0}
    model = shallow.build_model(seed=7)
    params = {k: v * 3.0 for k, v in shallow.params_of(model).items()}  # larger weights: far from linear
    shallow.set_params(model, params)
    cost_scalar, g_scalar = shallow.grads_scalar(model, X, Y)
    cost_matrix, g_matrix = shallow.grads_matrix(params, X, Y)
    assert abs(cost_scalar - cost_matrix) < 1e-12
    for k in ("W1", "b1", "W2", "b2"):
        assert g_scalar[k].shape == params[k].shape
        assert np.max(np.abs(g_scalar[k] - g_matrix[k])) < 1e-12
    assert np.max(np.abs(g_matrix["W1"])) > 1e-3  # not trivially zero


def test_shallow_demo_without_numpy_exits_2(tmp_path):
    fake = tmp_path / "numpy"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('numpy hidden by the test')\n")
    proc = run_demo_raw("shallow", env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 2
    assert "needs numpy" in proc.stderr


# -- demos.moons ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory) -> tuple[str, Path]:
    path = tmp_path_factory.mktemp("moons") / "model.json"
    return run_demo("moons", "--save", str(path)), path


def test_moons_demo_reaches_97_percent(moons_run):
    out, _ = moons_run
    lines = out.strip().splitlines()
    assert len(re.findall(r"^epoch +\d+/100 \[[#.]+\] loss \S+ +accuracy +\S+%", out, re.MULTILINE)) == 100
    final = re.fullmatch(r"final accuracy: (\d+\.\d)%", lines[-1])
    assert final, lines[-1]
    assert float(final.group(1)) >= 97.0


def test_moons_demo_saves_a_model_that_mlp_load_reads(moons_run):
    from demos import moons

    out, path = moons_run
    loaded = nn.MLP(2, [16, 16, 1], activation="relu", output_activation="linear", seed=12345)
    fresh = loaded.state_dict()
    loaded.load(str(path))
    assert loaded.state_dict() != fresh
    xs, ys = moons.make_moons(100, 0.1, seed=0)
    _, acc = moons.loss_and_accuracy(loaded, xs, ys)
    assert f"final accuracy: {100.0 * acc:.1f}%" in out


def test_make_moons_is_seeded_and_balanced():
    from demos import moons

    xs, ys = moons.make_moons(50, 0.1, seed=4)
    assert (xs, ys) == moons.make_moons(50, 0.1, seed=4)
    assert xs != moons.make_moons(50, 0.1, seed=5)[0]
    assert len(xs) == 50 and sorted(set(ys)) == [-1, 1] and ys.count(1) == 25


def test_moons_compiled_trains_exactly_like_the_dynamic_engine():
    from demos import moons

    xs, ys = moons.make_moons(30, 0.1, seed=1)
    dynamic, compiled = moons.build_model(seed=1), moons.build_model(seed=1)
    assert moons.train(dynamic, xs, ys, epochs=4, quiet=True) == moons.train(
        compiled, xs, ys, epochs=4, quiet=True, compiled=True
    )
    assert dynamic.state_dict() == compiled.state_dict()


def test_moons_demo_compiled_flag_runs():
    out = run_demo("moons", "--compiled", "--epochs", "3", "--n", "20")
    assert "compiled the loss graph once" in out and "final accuracy:" in out
