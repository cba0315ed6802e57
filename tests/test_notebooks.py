"""Every notebook, run as a learner runs it: top to bottom in a fresh kernel, then every
cell again in the same kernel, on the embedded server this machine offers. Both runs
must end without error output, and the kernel must be left with nothing running.
The other routes (REDIS_URL, the other binary) and the Vietnamese edition are in
test_routes.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notebook_runner import assert_left_nothing, notebook_paths, run_notebook


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_twice_and_leaves_nothing(path: Path) -> None:
    assert_left_nothing(path, run_notebook(path, runs=2))
