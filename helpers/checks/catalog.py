"""Each question's title and points, as the source notebooks' metadata gives them.

They are typed once, in the metadata of the question's test cell in
`assignments/source/` (nbgrader's `points`, the pack's `course_title`), where the grader
reads them (helpers.assignments.validate). The learner's kernel cannot read the sources:
they hold the solutions, and neither the lab image nor the grader's sandbox gives them
to a kernel. So `make assignments` (or `python -m helpers.checks`) copies titles and
points into questions.json beside this file, and a test fails when that copy is stale.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import NamedTuple

QUESTIONS_FILE = Path(__file__).with_name("questions.json")
STALE = "run `python -m helpers.checks` (or `make assignments`) after editing a source notebook"


class Heading(NamedTuple):
    """What a check shows for its question: the title and the points it is worth."""

    title: str
    points: float


def collect(source_dir: Path | None = None) -> dict[str, dict[str, dict]]:
    """{assignment: {grade_id: {"title", "points"}}}, read from the source notebooks."""
    from helpers import assignments  # the grader's side: nbformat, and the sources' rules

    sources = assignments.load_sources(source_dir or assignments.SOURCE_DIR)
    return {
        name: {
            q.grade_id: {"title": q.title, "points": q.points}
            for q in assignments.validate(nb, name)
        }
        for name, nb in sources.items()
    }


def write(source_dir: Path | None = None, path: Path = QUESTIONS_FILE) -> Path:
    """Write what collect() finds to `path`, in a stable order (it is committed)."""
    path.write_text(json.dumps(collect(source_dir), indent=1, ensure_ascii=False) + "\n")
    return path


@functools.cache
def _load(path: Path) -> dict[str, dict[str, dict]]:
    return json.loads(path.read_text())


def heading(assignment: str, qid: str) -> Heading:
    """The title and points of question `qid`, from the copy in QUESTIONS_FILE."""
    entry = _load(QUESTIONS_FILE).get(assignment, {}).get(qid)
    if entry is None:
        raise KeyError(f"{assignment} {qid} is not in {QUESTIONS_FILE.name}: {STALE}")
    return Heading(entry["title"], float(entry["points"]))
