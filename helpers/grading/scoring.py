"""Scoring a graded run: points per question, and what went wrong, in words for the learner.

Full points for a question whose check cell the judge passed, none otherwise; the
reason is what the judge said, or what happened to the cell, never hidden test code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import assignments
from helpers.grading.execution import CellRun
from helpers.grading.gradebook import Score
from helpers.grading.rebuild import cell_role
from helpers.grading.submissions import source
from helpers.language import _


def _explain(run: CellRun) -> str:
    """Why a check cell did not pass, in words for the learner (no hidden test code)."""
    if run.status == "failed":
        return run.detail
    if run.status in ("hung", "died"):
        return _("The check {detail}.").format(detail=run.detail)
    if run.detail:
        return _("The check cell {detail}.").format(detail=run.detail)
    return _("The check cell was not run.")


def score(source_nb: Any, nb: Any, runs: list[CellRun]) -> list[Score]:
    """Points per question: full if the judge passed its check cell."""
    where = {
        assignments.grade_id(cell): i
        for i, cell in enumerate(nb.cells)
        if assignments.is_test(cell)
    }
    scores = []
    for graded in assignments.validate(source_nb, "source"):
        run = runs[where[graded.grade_id]]
        passed = run.status == "ok"
        scores.append(
            Score(
                question=graded.grade_id,
                title=graded.title,
                points=graded.points if passed else 0.0,
                total=graded.points,
                message="" if passed else _explain(run),
            )
        )
    return scores


def blank_scores(source_dir: Path, assignment: str | None, why: str) -> list[Score]:
    """Zero for every question of `assignment`, with `why`: a submission that was not graded."""
    if assignment is None:
        return []
    return [
        Score(question=q.grade_id, title=q.title, points=0.0, total=q.points, message=why)
        for q in assignments.validate(source(source_dir, assignment), assignment)
    ]


def cell_notes(nb: Any, runs: list[CellRun]) -> list[str]:
    """What went wrong outside the check cells: errors in answers, hangs, kernel deaths."""
    notes = []
    for index, (cell, run) in enumerate(zip(nb.cells, runs, strict=True)):
        if cell.cell_type != "code" or assignments.is_test(cell) or run.status in ("ok", "not run"):
            continue
        what = (
            cell_role(cell)
            if assignments.grade_id(cell)
            else _("a cell you added (cell {index})").format(index=index)
        )
        if run.status == "error":
            note = _("{cell} raised {detail}").format(cell=what, detail=run.detail)
        else:
            note = f"{what}: {run.detail}."
        notes.append(note[0].upper() + note[1:])
    return notes
