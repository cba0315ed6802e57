"""Every notebook, run as a learner runs it: top to bottom in a fresh kernel, then every
cell again in the same kernel, on the embedded server this machine offers. Both runs
must end without error output, and the kernel must be left with nothing running.
The other routes (REDIS_URL, the other binary) are in test_routes.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import NOTEBOOKS
from tests.notebook_runner import assert_left_nothing, notebook_paths, run_notebook


def edition_id(path: Path) -> str:
    """`05_latency...` for the English notebook, `vi-05_latency...` for the Vietnamese one."""
    return f"{path.parent.name}-{path.stem}" if path.parent != NOTEBOOKS else path.stem


@pytest.mark.parametrize(
    "path", notebook_paths() + sorted((NOTEBOOKS / "vi").glob("*.ipynb")), ids=edition_id
)
def test_notebook_runs_twice_and_leaves_nothing(path: Path) -> None:
    """The Vietnamese edition runs from its own folder, so helpers speak Vietnamese there."""
    assert_left_nothing(path, run_notebook(path, runs=2))
