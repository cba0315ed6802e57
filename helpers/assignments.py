"""Assignment notebooks: instructor sources with solutions and hidden tests, and student copies.

The sources are nbgrader sources (schema version 3), so an instructor who knows nbgrader
reads and writes them without learning a new format, and `nbgrader generate_assignment`
and `nbgrader autograde` accept them as they are:

* `metadata.nbgrader` on a cell: `grade_id` (unique name), `solution` (the learner
  writes here), `grade` + `points` (a test cell worth that many points), `locked`
  (restored from the source at grading time, whatever the learner did to it). Only
  the keys of nbgrader's schema are allowed there; a question's title is the pack's
  own key `course_title` in the test cell's metadata, beside nbgrader's.
* A line containing `BEGIN SOLUTION` ... a line containing `END SOLUTION` (written
  `### BEGIN SOLUTION`): the student copy gets nbgrader's stub instead, `# YOUR CODE
  HERE` and `raise NotImplementedError()`, indented like the marker. A solution cell
  without markers is replaced by the stub as a whole.
* `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` in a test cell: removed from the
  student copy and put back only when grading.
* Notebook metadata `course_assignment` (the pack's own key): the assignment's name,
  which says whose checks and question titles the notebook uses.

`student_copy` does what `nbgrader generate_assignment` does, in the same order (lock,
clear solutions, clear outputs, clear hidden tests), except the checksums, which only
nbgrader's own database uses. `python -m helpers.grading generate` writes the copies.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "assignments" / "source"
RELEASE_DIR = ROOT / "assignments" / "release"

# nbgrader's delimiters: a line that contains one of them is a marker.
SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
PROMPT = CODE_STUB[0]
# The cell metadata nbgrader's schema (version 3) allows; anything else makes nbgrader refuse
# the notebook.
NBGRADER_KEYS = {
    "schema_version",
    "grade",
    "locked",
    "solution",
    "task",
    "grade_id",
    "points",
    "checksum",
    "cell_type",
}
# Output metadata that clearing outputs removes, as nbconvert's ClearOutputPreprocessor does.
OUTPUT_METADATA = ("collapsed", "scrolled")
TITLE = "course_title"  # a test cell's metadata: its question's title, as checks show it


class AssignmentError(ValueError):
    """A source notebook breaks the conventions above; the message names the cell and the fix."""


@dataclass(frozen=True)
class GradedCell:
    """A test cell of a source notebook (nbgrader `grade: true`): one row of the gradebook.

    Its title comes from its check in helpers.checks, where a question is defined.
    """

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


def is_locked(cell) -> bool:
    return bool(grading(cell).get("locked"))


def _regions(source: str, markers: tuple[str, str], where: str) -> list[tuple[int, int]]:
    """(begin, end) line numbers of each marked region; unbalanced markers are an error."""
    begin, end = markers
    found, start = [], None
    for number, line in enumerate(source.split("\n")):
        if begin in line:
            if start is not None:
                raise AssignmentError(f"{where}: '{begin}' twice without '{end}' between")
            start = number
        elif end in line:
            if start is None:
                raise AssignmentError(f"{where}: '{end}' without a '{begin}' before it")
            found.append((start, number))
            start = None
    if start is not None:
        raise AssignmentError(f"{where}: '{begin}' is never closed with '{end}'")
    return found


def region_lines(source: str, markers: tuple[str, str]) -> list[str]:
    """The lines inside the marked regions (the markers excluded)."""
    lines = source.split("\n")
    inside = []
    for begin, end in _regions(source, markers, "cell"):
        inside += lines[begin + 1 : end]
    return inside


def replace_regions(source: str, markers: tuple[str, str], *, prompt: bool, where: str) -> str:
    """`source` with each marked region replaced by the stub (nbgrader's), or removed."""
    lines = source.split("\n")
    kept, last = [], 0
    for begin, end in _regions(source, markers, where):
        kept += lines[last:begin]
        if prompt:
            indent = re.match(r"\s*", lines[begin]).group(0)
            kept += [indent + line for line in CODE_STUB]
        last = end + 1
    kept += lines[last:]
    return "\n".join(kept)


def _check_metadata(meta: dict, where: str) -> None:
    """nbgrader refuses a notebook whose metadata breaks its schema: say so before it does."""
    extra = sorted(set(meta) - NBGRADER_KEYS)
    if extra:
        raise AssignmentError(
            f"{where}: metadata.nbgrader has {', '.join(map(repr, extra))}, which nbgrader's "
            "schema does not allow; keep the pack's own data elsewhere (a question's title "
            f"goes in the cell's metadata {TITLE!r}, which helpers.checks shows)"
        )
    missing = [key for key in ("schema_version", "grade", "locked", "solution") if key not in meta]
    if missing or meta["schema_version"] != 3:
        raise AssignmentError(
            f"{where}: metadata.nbgrader needs schema_version 3 and grade, locked and solution "
            f"(true or false); missing: {', '.join(missing) or 'none'}"
        )


def validate(nb, name: str) -> list[GradedCell]:
    """Check a source notebook's conventions and return its questions in order.

    `name` names the notebook in error messages.
    """
    seen: set[str] = set()
    graded = []
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        meta = grading(cell)
        if _regions(cell.source, SOLUTION, where) and not meta.get("solution"):
            raise AssignmentError(f"{where}: a solution region outside a solution cell")
        if _regions(cell.source, HIDDEN, where) and not meta.get("grade"):
            raise AssignmentError(f"{where}: hidden tests belong in a test cell (grade: true)")
        if not meta:
            if cell.cell_type == "code":
                raise AssignmentError(
                    f"{where}: a code cell without nbgrader metadata; give it a grade_id "
                    "and locked: true (or solution: true if the learner edits it)"
                )
            continue
        _check_metadata(meta, where)
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
            title = cell.get("metadata", {}).get(TITLE)
            if not isinstance(title, str) or not title.strip():
                raise AssignmentError(f"{where}: test cell {gid!r} needs a title: metadata {TITLE}")
            graded.append(GradedCell(gid, float(meta["points"]), title))
        if meta.get("solution") and meta.get("locked"):
            raise AssignmentError(f"{where}: solution cell {gid!r} cannot be locked")
    if not graded:
        raise AssignmentError(f"{name}: no test cells (nbgrader grade: true) found")
    return graded


def _lock(cell) -> None:
    """Keep learners from deleting answer cells, and from editing or deleting the given ones."""
    if is_solution(cell):
        cell.metadata["deletable"] = False
    elif is_test(cell) or is_locked(cell):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def student_copy(nb, name: str):
    """The notebook a learner gets: locked cells marked, no solutions, outputs or hidden tests."""
    validate(nb, name)
    out = copy.deepcopy(nb)
    for index, cell in enumerate(out.cells):
        where = f"{name}, cell {index}"
        _lock(cell)
        if is_solution(cell) and not _regions(cell.source, SOLUTION, where):
            cell.source = "\n".join(CODE_STUB)
        cell.source = replace_regions(cell.source, SOLUTION, prompt=True, where=where)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            for key in OUTPUT_METADATA:
                cell.metadata.pop(key, None)
        cell.source = replace_regions(cell.source, HIDDEN, prompt=False, where=where)
        if grading(cell):
            cell.metadata.nbgrader["cell_type"] = cell.cell_type
    out.metadata.pop("celltoolbar", None)
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
