"""Every ```python block of README.md runs as written, in order, in one namespace, outside the repository.

The blocks run in a subprocess from a temporary directory that sees only the installed packages
(``autograd`` and ``nn``, not ``demos``). A block written as a session (``>>>`` lines) runs statement by
statement; a statement followed by ``SomeError: ...`` must raise that error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"^```python\n(.*?)^```", (REPO / "README.md").read_text(encoding="utf-8"), re.S | re.M)

RUNNER = r'''
import json, re, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
ns = {"__name__": "__readme__"}
for k, block in enumerate(blocks, 1):
    lines = block.splitlines()
    if not any(line.startswith(">>> ") for line in lines):
        steps = [(block, None)]
    else:
        steps, i = [], 0
        while i < len(lines):
            if lines[i].startswith(">>> "):
                code = [lines[i][4:]]
                i += 1
                while i < len(lines) and lines[i].startswith("... "):
                    code.append(lines[i][4:])
                    i += 1
                expected = None
                if i < len(lines) and re.match(r"^\w+(Error|Exception): ", lines[i]):
                    expected = lines[i].split(":")[0]
                steps.append(("\n".join(code), expected))
            else:
                i += 1
    for code, expected in steps:
        try:
            exec(compile(code, f"README block {k}", "exec"), ns)
        except Exception as e:
            if expected == type(e).__name__:
                continue
            missing = "torch" if isinstance(e, ModuleNotFoundError) and e.name == "torch" else (
                "dot" if type(e).__name__ == "DotNotFoundError" else None)
            if missing:  # an optional program or package this machine lacks: the test decides
                print(f"SKIPPED {k} {missing}")
                break
            print(f"README block {k} failed:\n{code}\n", file=sys.stderr)
            traceback.print_exc()
            sys.exit(1)
        else:
            if expected is not None:
                print(f"README block {k}: expected {expected} from\n{code}", file=sys.stderr)
                sys.exit(1)
print(f"ran {len(blocks)} blocks")
'''


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 5


def test_every_readme_python_block_runs_as_written(tmp_path):
    packages = tmp_path / "site"
    packages.mkdir()
    for name in ("autograd", "nn"):  # the installed packages; demos is not one of them
        (packages / name).symlink_to(REPO / name, target_is_directory=True)
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "blocks.json").write_text(json.dumps(BLOCKS), encoding="utf-8")
    (tmp_path / "runner.py").write_text(RUNNER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(packages), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-B", str(tmp_path / "runner.py"),
                           str(tmp_path / "blocks.json")], cwd=work, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"ran {len(BLOCKS)} blocks" in proc.stdout
    skipped = re.findall(r"^SKIPPED (\d+) (\w+)$", proc.stdout, re.M)
    for block, missing in skipped:  # PyTorch or Graphviz's dot missing: a skip here, a failure where CI needs them
        variable = {"torch": "CHAINRULE_REQUIRE_TORCH", "dot": "CHAINRULE_REQUIRE_DOT"}[missing]
        assert os.environ.get(variable) != "1", f"README block {block} needs {missing}, but {variable}=1"
    if skipped:
        pytest.skip("README blocks " + ", ".join(b for b, _ in skipped) + " need " +
                    " and ".join(sorted({m for _, m in skipped})) + " (pip install -e '.[torch]'; install Graphviz);"
                    " every other block ran")


def test_the_step_printed_in_the_readme_is_what_backprop_prints():
    from autograd import Backprop
    from nn.examples import mazur

    bp = Backprop(mazur()["E_total"])
    first = str(bp.step())
    assert first in (REPO / "README.md").read_text(encoding="utf-8")
    assert first.startswith(f"Step 1/{len(bp.order)} ") and len(bp.order) == 15
