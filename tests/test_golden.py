"""The readers' texts for five graphs are as recorded in tests/golden/ (explain, Markdown, LaTeX, steps, DOT).

The files were written by ``python tests/golden/make.py`` before the one-graph-view refactor (issue 18),
which had to leave every output unchanged. A deliberate change of the texts (issue 13's wording, for one)
regenerates them with make.py: whoever lands second after such a change reruns it and reviews the diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import make  # noqa: E402


@pytest.mark.parametrize("case", list(make.CASES))
def test_reader_outputs_match_the_golden_file(case):
    expected = make.path(case).read_text(encoding="utf-8")
    got = make.render(make.outputs(case))
    if got != expected:  # name the first section that differs
        want = dict(s.split(" ===\n", 1) for s in expected.split("=== ")[1:])
        have = dict(s.split(" ===\n", 1) for s in got.split("=== ")[1:])
        differ = [t for t in {**want, **have} if want.get(t) != have.get(t)]
        pytest.fail(f"{case}: sections differ from tests/golden/{case}.txt: {differ}")
