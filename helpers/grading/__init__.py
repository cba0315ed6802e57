"""Batch grading for instructors: a folder of submitted notebooks in, a gradebook and feedback out.

    python -m helpers.grading generate                      # student copies -> assignments/release/
    python -m helpers.grading grade SUBMISSIONS --out DIR   # DIR/gradebook.csv, DIR/feedback/

Each submission is rebuilt nbgrader-style from the instructor's source: the learner's
answer cells are kept, locked cells (set-up, checks) come from the source. It runs in a
fresh kernel of its own, inside an OS sandbox where bubblewrap works (helpers.sandbox),
against a private redis-server, with a time limit per cell and per notebook. A cell that
never ends is interrupted; one that ignores the interrupt, or that kills the kernel, is
skipped and the notebook replayed in a new kernel, so it costs that question, not the run.

Scores are decided outside the kernel (helpers.judge): at each check cell the grader
calls the learner's code over a JSON-only bridge with inputs drawn for this run,
compares what comes back with exact types, checks effects on Redis with its own
connection, and runs the hidden tests in its own process. Nothing the kernel prints
can pass a question. Feedback says what each failed check expected and what happened,
and never shows hidden test code.

The package, one module per job:

    contract     names the grader and the learner's kernel agree on (imports nothing)
    guard        the audit hook installed in each graded kernel
    submissions  finding and reading the submitted files; which assignment each is
    rebuild      the notebook to run: the learner's answers in the source's frame
    kernel       the kernel in its box and the client that talks to it, bounded
    execution    running a notebook cell by cell, judging check cells, replays
    scoring      points per question and notes for the learner
    job          one submission, start to end
    pool         worker processes for many submissions
    batch        grade_all: a folder in, the outputs written
    gradebook    gradebook.csv and the feedback files
    __main__     the command line

No module is named like a function it holds: importing a module sets the package's
attribute of that name, which would hide the function.

A learner's kernel imports `contract` and `guard`, which import this file: it stays
light, and loads the module behind a name below only when that name is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name, and the module it lives in.
_HOMES = {
    "submissions": (
        "MAX_NOTEBOOK Found find_submissions read_file read_submission which_assignment"
    ),
    "rebuild": "assemble cell_role feedback_only",
    "kernel": "KERNEL_ARGV OUTPUT_LIMIT BRIDGE_LIMIT MAX_MESSAGE SEND_TIMEOUT PROBE_TIMEOUT",
    "execution": "CELL_TIMEOUT NOTEBOOK_TIMEOUT KERNEL_STARTS Limits CellRun GraderError execute",
    "scoring": "score cell_notes blank_scores",
    "job": "Job grade_one",
    "pool": "PARENT_MARGIN Workers",
    "batch": "grade_all sandbox_choice",
    "gradebook": "MESSAGE_LIMIT Score Report Outputs OutputError",
    "__main__": "main",
}
_HOME = {name: module for module, names in _HOMES.items() for name in names.split()}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    """`grading.grade_all` and the like: the name from its module, imported on first use.

    Not cached here, so a test that patches `helpers.grading.pool.PARENT_MARGIN` reads
    the patched value through `grading.PARENT_MARGIN` too.
    """
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
