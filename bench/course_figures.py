"""Course figures: what a learner waits for. Each notebook runs top to bottom in a fresh
kernel, as it does when opened and run; the whole course is all of them one after
another; the kernel's memory high-water mark is read from /proc when each ends.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from report import Row, median, verdict

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
COURSE_TARGET = 60.0


@dataclass
class NotebookRun:
    """One notebook executed in a fresh kernel: wall time including the kernel's start."""

    name: str
    seconds: float
    peak_kib: int | None
    error: str = ""


def peak_rss_kib(pid: int) -> int | None:
    """The process's resident-memory high-water mark (VmHWM), or None off Linux."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def run_notebook(path: Path, timeout: int = 300) -> NotebookRun:
    """Execute every code cell of `path` in a new kernel, timing from kernel start to last cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    # What a learner gets by default: the kernel's own private Redis, whatever REDIS_URL says.
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    began = time.perf_counter()
    error, peak = "", None
    # The kernel's own start-up chatter (a TCP warning) would interleave with the table.
    with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
        except (CellExecutionError, CellTimeoutError) as failure:
            error = str(failure).strip().splitlines()[-1][:200]
        seconds = time.perf_counter() - began
        peak = peak_rss_kib(client.km.provisioner.pid)
    return NotebookRun(path.stem, seconds, peak, error)


def course(paths: list[Path], repeats: int, budget_s: float) -> list[list[NotebookRun]]:
    """Run the course `repeats` times, or fewer if another repeat would overrun `budget_s`."""
    rounds: list[list[NotebookRun]] = []
    began = time.monotonic()
    for _ in range(repeats):
        round_began = time.monotonic()
        rounds.append([run_notebook(path) for path in paths])
        spent = time.monotonic() - began
        if spent + (time.monotonic() - round_began) > budget_s:
            break
    return rounds


def _peak(runs: list[NotebookRun]) -> str:
    peaks = [run.peak_kib for run in runs if run.peak_kib]
    return f" (kernel peak {median(peaks) / 1024:.0f} MiB)" if peaks else ""


def _notebooks(count: int) -> str:
    return f"{count} notebook" + ("" if count == 1 else "s")


def rows(rounds: list[list[NotebookRun]], all_notebooks: int) -> list[Row]:
    """One row per notebook, the whole course, and the kernel's peak memory."""
    repeats = len(rounds)
    found: list[Row] = []
    for column, first in enumerate(rounds[0]):
        runs = [one_round[column] for one_round in rounds]
        errors = [run.error for run in runs if run.error]
        row = Row(
            figure=f"Notebook `{first.name}` in a fresh kernel (median of {repeats})",
            pack=f"{median([run.seconds for run in runs]):.1f} s" + _peak(runs),
            data={"seconds": [run.seconds for run in runs], "peak_kib": [r.peak_kib for r in runs]},
        )
        if errors:
            row.verdict = f"**FAILED**: {errors[0]}"
        found.append(row)
    totals = [sum(run.seconds for run in one_round) for one_round in rounds]
    subset = len(rounds[0]) < all_notebooks
    shown = f"{median(totals):.1f} s"
    course = _notebooks(len(rounds[0]))
    whole = Row(
        figure=f"Whole course, {course} one after another (median of {repeats})",
        pack=shown,
        target=f"< {COURSE_TARGET:.0f} s",
        verdict=verdict(median(totals) < COURSE_TARGET, shown, f"< {COURSE_TARGET:.0f} s"),
        data={"seconds": totals},
    )
    if subset:
        whole.verdict = f"only {len(rounds[0])} of {all_notebooks} notebooks were run: no verdict"
    if any(run.error for one_round in rounds for run in one_round):
        whole.verdict = "**a notebook failed**: see its row"
    found.append(whole)
    peaks = [max((run.peak_kib or 0) for run in one_round) for one_round in rounds]
    heaviest = max(rounds[0], key=lambda run: run.peak_kib or 0).name
    found.append(
        Row(
            figure=f"Peak kernel memory during the course (median of {repeats})",
            pack=f"{median(peaks) / 1024:.0f} MiB (in `{heaviest}`)" if any(peaks) else "n/a",
            verdict="no target; the kernel's own RSS high-water mark, its Redis not counted",
            data={"peak_kib": peaks},
        )
    )
    return found
