"""Assignment notebooks: instructor sources with solutions and hidden tests, and student copies.

The cell conventions are nbgrader's, so an instructor who knows nbgrader can read and
write the sources without learning a new format:

* `metadata.nbgrader` on a cell: `grade_id` (unique name), `solution` (the learner
  writes here), `grade` + `points` (a test cell worth that many points), `locked`
  (restored from the source at grading time, whatever the learner did to it).
* `### BEGIN SOLUTION` / `### END SOLUTION` around the instructor's answer: the student
  copy gets `# YOUR CODE HERE` instead. Inside a function (an indented region) a
  `raise NotImplementedError()` follows, so the function still parses; at top level
  the comment stands alone, so "Run All" on a half-finished copy does not stop there.
* `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` in a test cell: removed from the
  student copy and put back only inside the grader's kernel.

`python -m helpers.grading generate` writes the student copies; this module does the work.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "assignments" / "source"
RELEASE_DIR = ROOT / "assignments" / "release"

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
PROMPT = "# YOUR CODE HERE"


class AssignmentError(ValueError):
    """A source notebook breaks the conventions above; the message names the cell and the fix."""


@dataclass(frozen=True)
class Question:
    """A test cell of a source notebook: what the gradebook has one row for."""

    grade_id: str
    points: float
    title: str


def grading(cell) -> dict:
    """The cell's nbgrader metadata, or {} for an ordinary cell."""
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def grade_id(cell) -> str | None:
    return grading(cell).get("grade_id")


def is_test(cell) -> bool:
    return bool(grading(cell).get("grade"))


def is_solution(cell) -> bool:
    return bool(grading(cell).get("solution"))


def _regions(source: str, markers: tuple[str, str], where: str) -> list[tuple[int, int]]:
    """(begin, end) line numbers of each marked region; unbalanced markers are an error."""
    begin, end = markers
    found, start = [], None
    for number, line in enumerate(source.splitlines()):
        text = line.strip()
        if text == begin:
            if start is not None:
                raise AssignmentError(f"{where}: '{begin}' twice without '{end}' between")
            start = number
        elif text == end:
            if start is None:
                raise AssignmentError(f"{where}: '{end}' without a '{begin}' before it")
            found.append((start, number))
            start = None
    if start is not None:
        raise AssignmentError(f"{where}: '{begin}' is never closed with '{end}'")
    return found


def region_lines(source: str, markers: tuple[str, str]) -> list[str]:
    """The lines inside the marked regions (the markers excluded)."""
    lines = source.splitlines()
    inside = []
    for begin, end in _regions(source, markers, "cell"):
        inside += lines[begin + 1 : end]
    return inside


def replace_regions(source: str, markers: tuple[str, str], prompt: bool, where: str) -> str:
    """`source` with each marked region replaced by the student prompt, or removed."""
    lines = source.splitlines()
    kept, last = [], 0
    for begin, end in _regions(source, markers, where):
        kept += lines[last:begin]
        if prompt:
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            kept.append(indent + PROMPT)
            if indent:
                kept.append(indent + "raise NotImplementedError()")
        last = end + 1
    kept += lines[last:]
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


def validate(nb, name: str) -> list[Question]:
    """Check a source notebook's conventions and return its questions in order."""
    seen: set[str] = set()
    questions = []
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        _regions(cell.source, SOLUTION, where)
        _regions(cell.source, HIDDEN, where)
        meta = grading(cell)
        if not meta:
            if cell.cell_type == "code":
                raise AssignmentError(
                    f"{where}: a code cell without nbgrader metadata; give it a grade_id "
                    "and locked: true (or solution: true if the learner edits it)"
                )
            continue
        gid = meta.get("grade_id")
        if not gid:
            raise AssignmentError(f"{where}: nbgrader metadata without a grade_id")
        if gid in seen:
            raise AssignmentError(f"{where}: grade_id {gid!r} is used twice")
        seen.add(gid)
        if meta.get("grade"):
            if not meta.get("points") or meta["points"] <= 0:
                raise AssignmentError(f"{where}: test cell {gid!r} needs points > 0")
            if meta.get("solution"):
                raise AssignmentError(f"{where}: {gid!r} cannot be both a test and a solution")
            questions.append(Question(gid, float(meta["points"]), meta.get("title", gid)))
        if meta.get("solution") and meta.get("locked"):
            raise AssignmentError(f"{where}: solution cell {gid!r} cannot be locked")
        if region_lines(cell.source, HIDDEN) and not meta.get("grade"):
            raise AssignmentError(f"{where}: hidden tests belong in a test cell (grade: true)")
    if not questions:
        raise AssignmentError(f"{name}: no test cells (nbgrader grade: true) found")
    return questions


def student_copy(nb, name: str):
    """The notebook a learner gets: no solutions, no hidden tests, no outputs."""
    validate(nb, name)
    out = copy.deepcopy(nb)
    for index, cell in enumerate(out.cells):
        where = f"{name}, cell {index}"
        cell.source = replace_regions(cell.source, SOLUTION, prompt=True, where=where)
        cell.source = replace_regions(cell.source, HIDDEN, prompt=False, where=where)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    out.metadata["course_assignment"] = name
    return out


def source_paths(source_dir: Path = SOURCE_DIR) -> list[Path]:
    return sorted(source_dir.glob("*.ipynb"))


def load_sources(source_dir: Path = SOURCE_DIR) -> dict[str, nbformat.NotebookNode]:
    """Every source notebook by assignment name (its file stem), validated."""
    sources = {}
    for path in source_paths(source_dir):
        nb = nbformat.read(path, as_version=4)
        validate(nb, path.stem)
        sources[path.stem] = nb
    if not sources:
        raise AssignmentError(f"no source notebooks in {source_dir}")
    return sources


def generate(source_dir: Path = SOURCE_DIR, release_dir: Path = RELEASE_DIR) -> list[Path]:
    """Write the student copy of every source notebook; return the paths written."""
    release_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, nb in load_sources(source_dir).items():
        path = release_dir / f"{name}.ipynb"
        nbformat.write(student_copy(nb, name), path)
        written.append(path)
    return written


def secret_lines(nb, markers: tuple[str, str]) -> list[str]:
    """Lines inside `markers` regions worth looking for in a student copy or in feedback.

    Blank lines, comments and short lines (`return x`) are left out: they would match
    innocent text.
    """
    found = []
    for cell in nb.cells:
        for line in region_lines(cell.source, markers):
            text = line.strip()
            if len(text) >= 12 and not text.startswith("#"):
                found.append(text)
    return found
