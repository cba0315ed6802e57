"""Real nbgrader accepts the assignments, and scores submissions as the pack's grader does.

One temporary nbgrader course (nbgrader_config.py, source/NAME/NAME.ipynb) gets every
source. `nbgrader generate_assignment` makes the student copies, which must equal the
ones `make assignments` writes; `nbgrader validate` passes the sources and fails the
blank copies. A full, a blank and a partial submission of each assignment (made from
nbgrader's own copies) are graded by `nbgrader autograde`, in one call, while
`python -m helpers.grading grade` grades the same files; every question must get the
same points from both, and the points the submission deserves.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from helpers import assignments, checks
from helpers.grading import contract

NAMES = [path.stem for path in assignments.source_paths()]
# Each partial submission gets some questions right, fails one only on a hidden test,
# and leaves one blank.
EXPECTED_PARTIAL = {
    "a1_chat_room": {"q1": 0, "q2": 3, "q3": 0, "q4": 0},
    "a2_kv_service": {"q1": 0, "q2": 0, "q3": 2, "q4": 0},
    "a3_measure_loss": {"q1": 1, "q2": 2, "q3": 0, "q4": 2, "q5": 0},
}
VALIDATE = (
    "import json, sys\n"
    "from nbgrader.validator import Validator\n"
    "print(json.dumps({p: sorted(Validator().validate(p)) for p in sys.argv[1:]}))\n"
)


def environment() -> dict[str, str]:
    """Kernels with a private Redis each; nbgrader finds `alembic` (its database tool) on PATH."""
    hidden = ("REDIS_URL", contract.GRADING_ENV, *contract.NAMESPACE_ENVS)
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=cwd, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{' '.join(process.args)} failed:\n{out}\n{err[-3000:]}"
    return out


def nbgrader(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbgrader", *args, "--log-level=ERROR"]


def cell(nb, gid: str):
    return next(c for c in nb.cells if assignments.grade_id(c) == gid)


def unmarked(source: str) -> str:
    """A solution cell as a learner who solved it hands it in: the markers' lines gone."""
    lines = source.split("\n")
    return "\n".join(line for line in lines if not any(m in line for m in assignments.SOLUTION))


def full(name: str, release, source):
    nb = copy.deepcopy(release)
    for item in nb.cells:
        if assignments.is_solution(item):
            item.source = unmarked(cell(source, assignments.grade_id(item)).source)
    return nb


def replace(nb, gid: str, old: str, new: str) -> None:
    answer = cell(nb, gid)
    assert answer.source.count(old) == 1, f"{gid} no longer contains {old!r}"
    answer.source = answer.source.replace(old, new)


def partial(name: str, release, source):
    """Right, wrong only where a hidden test looks, wrong, and blank: see EXPECTED_PARTIAL."""
    nb = full(name, release, source)
    if name == "a1_chat_room":
        replace(nb, "q1_answer", 'message["text"]', 'message["text"].strip()')  # hidden test
        replace(nb, "q2_answer", "self.pubsub.psubscribe(", "self.pubsub.subscribe(")
        blank = "q4_answer"
    elif name == "a2_kv_service":
        store = "    r.set(key_for(key), value)"
        empty = "    if not value:\n        return InvalidParams('a value')\n"
        replace(nb, "methods", store, empty + store)  # the empty string: a hidden test
        replace(nb, "methods", "except redis.ResponseError:", "except ValueError:")
        blank = "q4_answer"
    else:
        answer = "def gaps(lost):\n    return [(seq, seq) for seq in sorted(set(lost))]\n"
        cell(nb, "q3_answer").source = answer
        blank = "q5_answer"
    cell(nb, blank).source = cell(release, blank).source
    return nb


SUBMISSIONS = {"full": full, "blank": lambda name, release, source: release, "partial": partial}


def expected(name: str, student: str, source) -> dict[str, float]:
    points = {q.grade_id: q.points for q in assignments.validate(source, name)}
    if student == "partial":
        return {qid: float(value) for qid, value in EXPECTED_PARTIAL[name].items()}
    return {qid: value if student == "full" else 0.0 for qid, value in points.items()}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict:
    """A course graded by nbgrader and by the pack; every grade and the time each took."""
    root = tmp_path_factory.mktemp("nbgrader")
    home = root / "course"
    (home / "source").mkdir(parents=True)
    (home / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(home)!r}\n"
    )
    sources = {}
    for name in NAMES:
        (home / "source" / name).mkdir()
        shutil.copy(assignments.SOURCE_DIR / f"{name}.ipynb", home / "source" / name)
        sources[name] = nbformat.read(assignments.SOURCE_DIR / f"{name}.ipynb", as_version=4)
    seconds = {}
    started = time.monotonic()
    validate_paths = [str(assignments.SOURCE_DIR / f"{n}.ipynb") for n in NAMES]
    validate_paths += [str(assignments.RELEASE_DIR / f"{n}.ipynb") for n in NAMES]
    validating = start([sys.executable, "-c", VALIDATE, *validate_paths], home)
    finish(start(nbgrader("generate_assignment", "*", "--force"), home))
    seconds["generate_assignment"] = time.monotonic() - started
    releases = {
        name: nbformat.read(home / "release" / name / f"{name}.ipynb", as_version=4)
        for name in NAMES
    }
    pack_in = root / "submissions"
    for student, make in SUBMISSIONS.items():
        for name in NAMES:
            nb = make(name, releases[name], sources[name])
            for path in (
                home / "submitted" / student / name / f"{name}.ipynb",
                pack_in / student / f"{name}.ipynb",
            ):
                path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, path)
    graded_at = time.monotonic()
    autograding = start(nbgrader("autograde", "*", "--force"), home)
    pack = [sys.executable, "-m", "helpers.grading", "grade", str(pack_in), "--out"]
    finish(start([*pack, str(root / "graded"), "--jobs", "1"], assignments.ROOT))
    seconds["pack grade (9 notebooks, 1 at a time)"] = time.monotonic() - graded_at
    finish(autograding)
    seconds["nbgrader autograde (9 notebooks, at the same time)"] = time.monotonic() - graded_at
    validated = json.loads(finish(validating).strip().splitlines()[-1])
    seconds["total"] = time.monotonic() - started
    return {
        "home": home,
        "sources": sources,
        "releases": releases,
        "nbgrader": nbgrader_scores(home),
        "pack": pack_scores(root / "graded" / "gradebook.csv"),
        "validated": validated,
        "seconds": seconds,
    }


def nbgrader_scores(home: Path) -> dict[tuple[str, str], dict[str, float]]:
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{home / 'gradebook.db'}") as gradebook:
        for name in NAMES:
            for student in SUBMISSIONS:
                notebook = gradebook.find_submission_notebook(name, name, student)
                scores[student, name] = {grade.name: grade.score for grade in notebook.grades}
    return scores


def pack_scores(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    scores: dict[tuple[str, str], dict[str, float]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["question"] != "TOTAL":
                points = scores.setdefault((row["student"], row["assignment"]), {})
                points[row["question"]] = float(row["points"])
    return scores


def check_outputs(home: Path, student: str, name: str) -> str:
    """What nbgrader's run printed in each check cell, to explain a disagreement."""
    path = home / "autograded" / student / name / f"{name}.ipynb"
    if not path.exists():
        return f"(no {path})"
    lines = []
    for item in nbformat.read(path, as_version=4).cells:
        if assignments.is_test(item):
            for output in item.outputs:
                text = output.get("text") or output.get("evalue") or output.get("data")
                lines.append(f"{assignments.grade_id(item)}: {str(text)[:400]}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("student", list(SUBMISSIONS))
def test_nbgrader_and_the_pack_give_the_same_deserved_points(
    course: dict, student: str, name: str
) -> None:
    got = course["nbgrader"][student, name]
    want = expected(name, student, course["sources"][name])
    assert course["pack"][student, name] == want, f"the pack's grader, {student} {name}"
    assert got == want, f"nbgrader, {student} {name}:\n" + check_outputs(
        course["home"], student, name
    )


@pytest.mark.parametrize("name", NAMES)
def test_make_assignments_copy_equals_nbgraders_cell_for_cell(course: dict, name: str) -> None:
    ours = nbformat.read(assignments.RELEASE_DIR / f"{name}.ipynb", as_version=4)
    theirs = course["releases"][name]
    assert ours.metadata == theirs.metadata
    assert len(ours.cells) == len(theirs.cells)
    for mine, nbgraders in zip(ours.cells, theirs.cells, strict=True):
        nbgraders = copy.deepcopy(nbgraders)
        checksum = nbgraders.metadata.nbgrader.pop("checksum", None)
        assert checksum or not assignments.grading(mine), assignments.grade_id(mine)
        assert mine == nbgraders, f"{name}, cell {assignments.grade_id(mine)}"


def test_nbgrader_validate_passes_sources_and_fails_blank_copies(course: dict) -> None:
    for path, problems in course["validated"].items():
        if Path(path).parent == assignments.SOURCE_DIR:
            assert problems == [], f"nbgrader validate {path}: {problems}"
        else:
            assert problems == ["failed"], f"nbgrader validate {path}: {problems}"


def test_metadata_nbgrader_keeps_to_nbgraders_schema() -> None:
    nb = nbformat.read(assignments.SOURCE_DIR / f"{NAMES[0]}.ipynb", as_version=4)
    cell(nb, "q1").metadata.nbgrader["title"] = "a title"
    with pytest.raises(assignments.AssignmentError, match=r"'title'.*helpers.checks"):
        assignments.validate(nb, NAMES[0])


@pytest.mark.parametrize("name", NAMES)
def test_question_titles_are_given_once_with_the_checks(name: str) -> None:
    nb = nbformat.read(assignments.SOURCE_DIR / f"{name}.ipynb", as_version=4)
    titles = {q.grade_id: q.title for q in assignments.validate(nb, "any file name")}
    assert titles == {qid: q.title for qid, q in checks.ASSIGNMENTS[name].items()}


def test_scores_and_grading_time_are_reported(course: dict) -> None:
    print("\n| assignment | submission | nbgrader | pack | per question (nbgrader / pack) |")
    print("|---|---|---|---|---|")
    for name in NAMES:
        for student in SUBMISSIONS:
            ours, theirs = course["pack"][student, name], course["nbgrader"][student, name]
            each = " ".join(f"{q} {theirs.get(q, 0):g}/{ours[q]:g}" for q in ours)
            total = sum(ours.values())
            print(f"| {name} | {student} | {sum(theirs.values()):g} | {total:g} | {each} |")
    for what, seconds in course["seconds"].items():
        print(f"{what}: {seconds:.1f} s")
    assert set(course["pack"]) == set(course["nbgrader"])
