"""Finding and reading submissions: what a folder of hand-ins holds, and which assignment each is.

Nothing here trusts the files: names come from folders the instructor did not choose,
links are refused rather than followed, and a file that is too large, not UTF-8 or not
a notebook becomes a sentence for the feedback, not an exception.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from helpers import assignments, judge
from helpers.grading.gradebook import MESSAGE_LIMIT, student_name

MAX_NOTEBOOK = 20 * 2**20  # bytes of a submitted file


@dataclass(frozen=True)
class Found:
    student: str
    path: Path
    refused: str = ""


def find_submissions(folder: Path) -> list[Found]:
    """Every notebook: FOLDER/STUDENT/*.ipynb or FOLDER/STUDENT.ipynb; links are refused."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        here = Path(top)
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        for name in sorted(dirs):
            if (here / name).is_symlink():
                found.append(_found(folder, here / name, "it is a symbolic link"))
        for name in sorted(files):
            path = here / name
            if name.endswith(".ipynb"):
                refused = "it is a symbolic link" if path.is_symlink() else ""
                found.append(_found(folder, path, refused))
    return sorted(found, key=lambda item: (item.student, str(item.path)))


def _found(folder: Path, path: Path, refused: str) -> Found:
    relative = path.relative_to(folder)
    raw = relative.parts[0] if len(relative.parts) > 1 else relative.name.removesuffix(".ipynb")
    student, problem = student_name(raw)
    return Found(student, path, refused or problem)


def read_file(path: Path) -> tuple[str | None, str | None]:
    """The file's text, never through a symbolic link; or None and why not."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        return None, f"The file could not be read ({error.strerror})."
    try:
        if os.fstat(handle).st_size > MAX_NOTEBOOK:
            return None, f"The file is larger than {MAX_NOTEBOOK // 2**20} MB: it was not graded."
        data = b""
        while chunk := os.read(handle, 2**20):
            data += chunk
    finally:
        os.close(handle)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "The file is not UTF-8 text: it is not a notebook."


def read_submission(text: str | None) -> tuple[Any, str | None]:
    """The notebook, or None and a sentence saying why it could not be read."""
    if text is None:
        return None, None
    if not text.strip():
        return None, "The file is empty: there was no notebook to grade."
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds on bad input
        return None, f"The file is not a Jupyter notebook ({type(error).__name__}: {error})."[
            :MESSAGE_LIMIT
        ]
    if not isinstance(nb.get("cells"), list):
        return None, "The file is JSON but not a notebook (it has no cells)."
    return _cleaned(nb), None


def _cleaned(nb: Any) -> Any:
    """The notebook with cell metadata the grader cannot use dropped (the cell itself is kept)."""
    cells = []
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        if not isinstance(cell.get("source"), str):
            continue
        meta = cell.get("metadata")
        if not isinstance(meta, dict):
            cell["metadata"] = meta = nbformat.NotebookNode()
        info = meta.get("nbgrader")
        if info is not None and not (
            isinstance(info, dict) and isinstance(info.get("grade_id"), str)
        ):
            meta.pop("nbgrader")
        cells.append(cell)
    nb.cells = cells
    return nb


def which_assignment(nb: Any, path: Path, names: list[str]) -> str | None:
    """The assignment a submission belongs to: its metadata, else its file name, else its cells."""
    if nb is not None:
        named = nb.get("metadata", {}).get("course_assignment")
        if named in names:
            return named
    for name in names:
        if name in path.name:
            return name
    if nb is not None:
        ids = {assignments.grade_id(cell) for cell in nb.cells}
        overlap = {name: len(ids & set(_ids(name))) for name in names}
        best = max(overlap, key=overlap.get, default=None)
        if best and overlap[best]:
            return best
    return names[0] if len(names) == 1 else None


_source_cache: dict[tuple[Path, str], Any] = {}


def source(source_dir: Path, name: str) -> Any:
    """The instructor's source notebook `name`, validated once per process (checks included)."""
    key = (source_dir, name)
    if key not in _source_cache:
        nb = nbformat.read(source_dir / f"{name}.ipynb", as_version=4)
        assignments.validate(nb, name)
        for index, cell in enumerate(nb.cells):
            if assignments.is_test(cell):
                judge.checked_questions(cell.source, f"{name}, cell {index}")
        _source_cache[key] = nb
    return _source_cache[key]


def _ids(name: str, source_dir: Path = assignments.SOURCE_DIR) -> list[str]:
    return [assignments.grade_id(cell) for cell in source(source_dir, name).cells]
