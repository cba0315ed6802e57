"""How long grading takes, and what the sandbox costs: 10 submissions, two at a time.

    .venv/bin/python bench/grading_time.py            # sandboxed, then unsandboxed
    .venv/bin/python bench/grading_time.py --repeat 2

Grades the same 10 submissions (full and blank copies of the three assignments) with
`--jobs 2`, once with each kernel in the bubblewrap sandbox and once without, and
times a bare kernel start both ways. Prints wall-clock times and the sandbox's cost per
submission; asserts nothing (the target, about 40 s on 2 cores, is read, not tested).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import grading, sandbox  # noqa: E402
from tests import attacks  # noqa: E402

MIX = [
    ("full", attacks.CHAT, 3),
    ("blank", attacks.CHAT, 2),
    ("full", attacks.KV, 2),
    ("blank", attacks.KV, 1),
    ("full", attacks.LOSS, 2),
]


def submissions(folder: Path) -> int:
    count = 0
    for kind, name, copies in MIX:
        for copy in range(copies):
            nb = attacks.solved(name) if kind == "full" else attacks.release(name)
            path = folder / f"{kind}-{name[:2]}-{copy}" / f"{name}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
            count += 1
    return count


def grade(sandboxed: bool) -> tuple[float, list[float]]:
    """(wall seconds, seconds per submission) for one run of the 10."""
    base = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    count = submissions(base / "in")
    real = sandbox.problem
    if not sandboxed:
        sandbox.problem = lambda: "measuring without the sandbox"
    try:
        started = time.monotonic()
        reports = grading.grade_all(base / "in", base / "out", jobs=2)
        wall = time.monotonic() - started
    finally:
        sandbox.problem = real
        shutil.rmtree(base, ignore_errors=True)
    assert len(reports) == count
    return wall, [report.seconds for report in reports]


def kernel_start(sandboxed: bool) -> float:
    """Seconds from nothing to a kernel that answers, in a box of its own."""
    box = sandbox.Box(Path(tempfile.mkdtemp(prefix="bench-box-")), sandboxed=sandboxed)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    try:
        box.start_redis()
        started = time.monotonic()
        grading.execute(
            nb, box, forbidden=(), limits=grading.Limits(), assignment="a1_chat_room", trusted={}
        )
        return time.monotonic() - started
    finally:
        box.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if sandbox.problem():
        print(f"no sandbox here: {sandbox.problem()}")
        return 1
    for sandboxed in (True, False):
        starts = [kernel_start(sandboxed) for _ in range(3)]
        label = "sandboxed  " if sandboxed else "unsandboxed"
        print(f"kernel start, {label}: median {statistics.median(starts):.2f} s of {starts}")
    for _ in range(args.repeat):
        for sandboxed in (True, False):
            wall, each = grade(sandboxed)
            label = "sandboxed  " if sandboxed else "unsandboxed"
            print(
                f"10 submissions, --jobs 2, {label}: {wall:.1f} s wall, "
                f"{statistics.mean(each):.1f} s per submission (mean)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
