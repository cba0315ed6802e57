"""Rebuilding the notebook to run, nbgrader-style: the learner's answers in the source's frame.

The learner's answer cells are kept; locked cells (set-up, checks with their hidden
tests) come from the instructor's source, whatever the learner did to them. Each repair
becomes a note in the feedback.
"""

from __future__ import annotations

import ast
import copy
from typing import Any

from helpers import assignments
from helpers.language import _


def cell_role(cell: Any) -> str:
    """What a cell of an assignment is, in words for the feedback (in its middle: lower case).

    The notes put it into whole sentences with a {cell} placeholder, so that a
    translation can place it where its language wants it.
    """
    gid = assignments.grade_id(cell)
    if assignments.is_test(cell):
        return _("the check cell of {gid}").format(gid=gid)
    if assignments.is_solution(cell):
        return _("your answer cell {gid}").format(gid=gid)
    return _("the given cell {gid}").format(gid=gid)


def assemble(source: Any, name: str, submission: Any) -> tuple[Any, list[str]]:
    """The notebook to run: the learner's answers in the source's frame, plus notes on repairs."""
    release = assignments.student_copy(source, name)
    given = {assignments.grade_id(cell): cell for cell in source.cells}
    handed_out = {assignments.grade_id(cell): cell for cell in release.cells}
    cells, notes, seen = [], [], set()
    submitted = list(submission.cells) if submission is not None else []
    if submission is not None and not submitted:
        notes.append(_("Your notebook has no cells: it was graded as the blank assignment."))
    for index, cell in enumerate(submitted):
        gid = assignments.grade_id(cell)
        if gid not in given:
            extra = copy.deepcopy(cell)
            extra.get("metadata", {}).pop("nbgrader", None)
            cells.append(extra)
            continue
        original = given[gid]
        if gid in seen:
            if assignments.is_solution(original):
                notes.append(
                    _("{cell} appears twice: both copies ran, in order.").format(
                        cell=cell_role(original)
                    )
                )
                cells.append(_as_answer(cell, original))
            elif original.cell_type == "code":
                notes.append(
                    _("A duplicate of {cell} (cell {index}) was left out.").format(
                        cell=cell_role(original), index=index
                    )
                )
            continue
        seen.add(gid)
        if assignments.is_solution(original):
            cells.append(_as_answer(cell, original))
            continue
        if original.cell_type == "code" and cell.get("source") != handed_out[gid].source:
            notes.append(
                _("You changed {cell}; the original was used.").format(cell=cell_role(original))
            )
        cells.append(copy.deepcopy(original))
    _restore_missing(source, handed_out, cells, notes, explain=bool(submitted))
    nb = copy.deepcopy(source)
    nb.cells = cells
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, notes


def _as_answer(cell: Any, original: Any) -> Any:
    answer = copy.deepcopy(original)
    answer.source = cell.get("source", "")
    return answer


def _restore_missing(
    source: Any, handed_out: dict, cells: list, notes: list[str], *, explain: bool
) -> None:
    """Put back source cells the learner deleted, each after the cell that preceded it."""
    position = {assignments.grade_id(cell): i for i, cell in enumerate(cells)}
    anchor = -1
    for original in source.cells:
        gid = assignments.grade_id(original)
        if gid in position and assignments.grade_id(cells[position[gid]]) == gid:
            anchor = position[gid]
            continue
        restored = copy.deepcopy(handed_out[gid] if assignments.is_solution(original) else original)
        anchor += 1
        cells.insert(anchor, restored)
        position = {assignments.grade_id(cell): i for i, cell in enumerate(cells)}
        if explain and original.cell_type == "code":
            if assignments.is_solution(original):
                note = _("{cell} was missing; the blank prompt was used.")
            else:
                note = _("{cell} was missing; the original was put back and run.")
            notes.append(note.format(cell=cell_role(original)))


def feedback_only(cell: Any) -> bool:
    """A given cell that only calls check() or check_all(): the learner's view, not run here."""
    if assignments.is_solution(cell) or assignments.is_test(cell) or cell.cell_type != "code":
        return False
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return False
    return bool(body) and all(
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id in ("check", "check_all")
        for node in body
    )
