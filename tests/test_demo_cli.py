"""The demos at the command line: closed pipes, end of input, options refused before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nn.examples

REPO = Path(__file__).resolve().parent.parent


def run_demo(*args: str, stdin: str | None = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, input=stdin,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_a_closed_pipe_ends_the_demo_without_a_traceback():
    proc = subprocess.run(f"{sys.executable} -m demos.moons --epochs 30 | head -2", shell=True, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert len(proc.stdout.splitlines()) == 2
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr


def test_end_of_input_in_step_ends_quietly():
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "demos.mazur", "--step"], cwd=REPO, stdin=child, stdout=child,
                            stderr=subprocess.PIPE, text=True)
    os.close(child)
    os.write(main, b"\x04")  # Ctrl-D at the first prompt
    out = b""
    try:
        while True:
            chunk = os.read(main, 4096)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in proc.stderr.read() and b"Step 1/15" in out


def test_compiled_without_steps_is_refused_and_with_steps_says_it_ran():
    proc = run_demo("demos.mazur", "--compiled")
    assert proc.returncode == 2 and "--compiled trains with generated code" in proc.stderr
    proc = run_demo("demos.mazur", "--steps", "3", "--compiled")
    assert proc.returncode == 0 and "compiled: the loss traced once" in proc.stdout
    proc = run_demo("demos.moons", "--epochs", "2", "--compiled", "--quiet")
    assert proc.returncode == 0 and "trained with compiled code" in proc.stdout


def test_render_with_an_unknown_suffix_is_refused_before_the_demo_runs(tmp_path):
    proc = run_demo("demos.mazur", "--render", str(tmp_path / "x.jpg"))
    assert proc.returncode == 2 and ".svg, .png, .pdf, .dot, .gv" in proc.stderr and proc.stdout == ""


def test_frames_without_dot_leave_no_folder(tmp_path):
    frames = tmp_path / "frames"
    proc = run_demo("demos.mazur", "--frames", str(frames), env={"PATH": str(tmp_path)})
    assert proc.returncode == 2 and "dot" in proc.stderr and not frames.exists()


def test_ten_thousand_rounds_print_the_published_error_beside_ours():
    proc = run_demo("demos.mazur", "--steps", "10000", "--compiled")
    assert proc.returncode == 0, proc.stderr
    assert "after 10,000 rounds the error is 0.0000351085" in proc.stdout
    assert "computed: 0.0000351085 in round 10,000's forward pass (after 9,999 updates)  ✓" in proc.stdout
    assert "Mazur" in proc.stdout and "shared/" not in (REPO / "demos" / "mazur.py").read_text()


def test_the_example_network_is_importable_from_the_package():
    q = nn.examples.mazur()
    assert abs(q["E_total"].data - 0.298371109) <= 5e-10
    q["E_total"].backward()
    assert abs(q["w5"].grad - 0.082167041) <= 5e-10 and abs(q["w1"].grad - 0.000438568) <= 5e-10
