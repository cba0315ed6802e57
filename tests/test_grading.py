"""The instructor's side: student copies leak nothing, and the grader scores real submissions
right, in real kernels against real Redis servers, whatever the submission does.

One module-scoped grading run covers every case (two at a time, as on a 2-core
machine); each test then reads its student's rows and feedback.
"""

from __future__ import annotations

import ast
import copy
import csv
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from helpers import assignments, grading, sandbox
from helpers.grading import contract, execution, kernel, pool

CHAT = "a1_chat_room"
CELL_TIMEOUT = 20  # a call of the learner's code gets 5 s; a slow import on a busy machine 10


def source(name: str = CHAT):
    return nbformat.read(assignments.SOURCE_DIR / f"{name}.ipynb", as_version=4)


def release(name: str = CHAT):
    return nbformat.read(assignments.RELEASE_DIR / f"{name}.ipynb", as_version=4)


def cell(nb, gid: str):
    return next(c for c in nb.cells if assignments.grade_id(c) == gid)


def solved(name: str = CHAT):
    """What a learner who answered everything hands in: the source, hidden tests removed."""
    nb = source(name)
    for item in nb.cells:
        item.source = assignments.replace_regions(
            item.source, assignments.HIDDEN, prompt=False, where="test"
        )
    nb.metadata["course_assignment"] = name
    return nb


def with_answer(nb, gid: str, text: str):
    cell(nb, gid).source = text
    return nb


def scratch(nb, after: str, text: str):
    """Insert a cell of the learner's own after the cell `after`."""
    index = nb.cells.index(cell(nb, after))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(text))
    return nb


def half_right():
    """q1 right, join() never uses a pattern (q3 fails), q4 left blank: 1 + 3 + 0 + 0."""
    nb = solved()
    answer = cell(nb, "q2_answer")
    start = answer.source.index('        if "*" in room:')
    end = answer.source.index("        self._read(until_confirmed=True)")
    answer.source = (
        answer.source[:start]
        + "        self.pubsub.subscribe(channel_for(room))\n"
        + answer.source[end:]
    )
    cell(nb, "q4_answer").source = cell(release(), "q4_answer").source
    return nb


def hidden_only_failure():
    """decode() names an empty sender "anonymous": visible checks pass, a hidden q1 test not."""
    nb = solved()
    answer = cell(nb, "q1_answer")
    answer.source = answer.source.replace('return message["from"]', 'return message["from"] or "?"')
    return nb


def syntax_error():
    nb = solved()
    cell(nb, "q2_answer").source += "\n    def broken(self:\n        pass\n"
    return nb


def deleted_check():
    nb = solved()
    nb.cells.remove(cell(nb, "q2"))
    return nb


def duplicated():
    nb = solved()
    for gid in ("q1", "q2_answer"):
        index = nb.cells.index(cell(nb, gid))
        twin = copy.deepcopy(nb.cells[index])
        twin["id"] = f"{gid}-copy"
        nb.cells.insert(index + 1, twin)
    return nb


def loop_in_answer():
    return with_answer(solved(), "q4_answer", "while True:\n    pass\n")


def loop_ignoring_interrupt():
    text = "import signal\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
    return with_answer(solved(), "q4_answer", text)


def kills_kernel():
    return with_answer(solved(), "q4_answer", "import os\n\nos._exit(1)\n")


def reads_hidden_tests():
    """A blank copy that tries to load the instructor's source (solutions, hidden tests)."""
    path = assignments.SOURCE_DIR / f"{CHAT}.ipynb"
    steal = (
        "import json, os, subprocess\n"
        f"try:\n    stolen = json.load(open({str(path)!r}))\n"
        "    for c in stolen['cells']:\n"
        "        if c['metadata']['nbgrader'].get('solution'):\n"
        "            exec(''.join(c['source']))\n"
        "except PermissionError as e:\n    print(e)\n"
        f"try:\n    os.listdir({str(assignments.SOURCE_DIR)!r})\n"
        "except PermissionError as e:\n    print(e)\n"
        f"try:\n    subprocess.run(['cat', {str(path)!r}])\n"
        "except PermissionError as e:\n    print(e)\n"
    )
    return scratch(release(), "setup", steal)


def redefines_check():
    """A blank copy that replaces check() with one that always passes."""
    return scratch(release(), "setup", "check = lambda question: None\n")


def no_cells():
    nb = release()
    nb.cells = []
    return nb


def vietnamese_half_right():
    """The Vietnamese student copy with half_right()'s answers, as a learner of that edition
    hands it in: Vietnamese prose around the same code cells, `language: vi` in its metadata."""
    nb = nbformat.read(assignments.RELEASE_DIR / "vi" / f"{CHAT}.ipynb", as_version=4)
    answers = {
        assignments.grade_id(c): c.source for c in half_right().cells if assignments.is_solution(c)
    }
    for item in nb.cells:
        if assignments.grade_id(item) in answers:
            item.source = answers[assignments.grade_id(item)]
    return nb


CASES = {
    # student: (notebook or raw text, expected points per question of a1)
    "vietnamese": (vietnamese_half_right, {"q1": 1, "q2": 3, "q3": 0, "q4": 0}),
    "full": (solved, {"q1": 1, "q2": 3, "q3": 2, "q4": 2}),
    "blank": (release, {"q1": 0, "q2": 0, "q3": 0, "q4": 0}),
    "half": (half_right, {"q1": 1, "q2": 3, "q3": 0, "q4": 0}),
    "hidden": (hidden_only_failure, {"q1": 0, "q2": 3, "q3": 2, "q4": 2}),
    "syntax": (syntax_error, {"q1": 1, "q2": 0, "q3": 0, "q4": 0}),
    "deleted": (deleted_check, {"q1": 1, "q2": 3, "q3": 2, "q4": 2}),
    "duplicated": (duplicated, {"q1": 1, "q2": 3, "q3": 2, "q4": 2}),
    "loop": (loop_in_answer, {"q1": 1, "q2": 3, "q3": 2, "q4": 0}),
    "stubborn": (loop_ignoring_interrupt, {"q1": 1, "q2": 3, "q3": 2, "q4": 0}),
    "killer": (kills_kernel, {"q1": 1, "q2": 3, "q3": 2, "q4": 0}),
    "cheat": (reads_hidden_tests, {"q1": 0, "q2": 0, "q3": 0, "q4": 0}),
    "forger": (redefines_check, {"q1": 0, "q2": 0, "q3": 0, "q4": 0}),
    "nocells": (no_cells, {"q1": 0, "q2": 0, "q3": 0, "q4": 0}),
    "empty": ("", {"q1": 0, "q2": 0, "q3": 0, "q4": 0}),
    "garbage": ("{ this is not json", {"q1": 0, "q2": 0, "q3": 0, "q4": 0}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every case in one run; return rows by student, feedback and the elapsed time."""
    root = tmp_path_factory.mktemp("grading")
    submissions, out = root / "submitted", root / "graded"
    for student, (make, _) in CASES.items():
        folder = submissions / student
        folder.mkdir(parents=True)
        path = folder / f"{CHAT}.ipynb"
        if isinstance(make, str):
            path.write_text(make)
        else:
            nbformat.write(make(), path)
    for name in ("a2_kv_service", "a3_measure_loss"):
        folder = submissions / f"full-{name}"
        folder.mkdir()
        nbformat.write(solved(name), folder / f"{name}.ipynb")
    started = time.monotonic()
    reports = grading.grade_all(
        submissions, out, limits=grading.Limits(cell=CELL_TIMEOUT, notebook=180)
    )
    elapsed = time.monotonic() - started
    with (out / "gradebook.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    feedback = {p.parent.name: p.read_text() for p in (out / "feedback").glob("*/*.md")}
    return {"rows": rows, "feedback": feedback, "reports": reports, "seconds": elapsed}


def points(graded: dict, student: str) -> dict[str, float]:
    return {
        row["question"]: float(row["points"])
        for row in graded["rows"]
        if row["student"] == student and row["question"] != "TOTAL"
    }


@pytest.mark.parametrize("student", list(CASES))
def test_each_submission_scores_exactly_as_expected(graded: dict, student: str) -> None:
    assert points(graded, student) == CASES[student][1], graded["feedback"][student]


def test_other_assignments_solved_score_full_marks(graded: dict) -> None:
    for name, total in [("a2_kv_service", 8), ("a3_measure_loss", 9)]:
        got = points(graded, f"full-{name}")
        assert sum(got.values()) == total, graded["feedback"][f"full-{name}"]


def test_a_vietnamese_submission_gets_its_feedback_in_vietnamese(graded: dict) -> None:
    text = graded["feedback"]["vietnamese"]
    assert "**Điểm: 4 / 8**" in text, text  # the same score as the English copy's
    assert "**Score: 4 / 8**" in graded["feedback"]["half"]
    assert "mong đợi:" in text and "expected:" not in text, text  # the judge's texts too
    assert "expected:" in graded["feedback"]["half"]


def test_gradebook_has_a_row_per_question_and_a_total(graded: dict) -> None:
    rows = [row for row in graded["rows"] if row["student"] == "half"]
    assert [row["question"] for row in rows] == ["q1", "q2", "q3", "q4", "TOTAL"]
    assert rows[-1]["points"] == "4" and rows[-1]["total"] == "8"
    assert all(row["assignment"] == CHAT for row in rows)


def test_blank_copy_feedback_says_what_to_do(graded: dict) -> None:
    text = graded["feedback"]["blank"]
    assert "Score: 0 / 8" in text
    assert "NotImplementedError" in text and "YOUR CODE HERE" in text
    assert "`alice_heard` is still None" in text


def test_feedback_explains_each_robustness_case(graded: dict) -> None:
    feedback = graded["feedback"]
    assert "A hidden test failed: encode/decode must keep any sender and text" in feedback["hidden"]
    assert "your answer cell q2_answer raised syntaxerror" in feedback["syntax"].lower()
    assert (
        "the check cell of q2 was missing; the original was put back and run" in feedback["deleted"]
    )
    assert "appears twice: both copies ran" in feedback["duplicated"]
    assert "A duplicate of the check cell of q1" in feedback["duplicated"]
    # An interrupt the grader sends by message can take longer than its grace on a loaded
    # machine: then the loop is skipped as if it ignored it. Either way, the feedback says.
    assert f"did not finish within {CELL_TIMEOUT} s and" in feedback["loop"]
    assert "ignored the interrupt, so it was skipped" in feedback["stubborn"]
    assert "stopped the Python kernel" in feedback["killer"]
    assert "blocked and is reported to your instructor" in feedback["cheat"]
    for event in ("open ", "os.listdir", "starting a process"):
        assert event in feedback["cheat"]
    assert "no cells" in feedback["nocells"]
    assert "The file is empty" in feedback["empty"]
    assert "not a Jupyter notebook" in feedback["garbage"]


def test_feedback_never_shows_hidden_test_code(graded: dict) -> None:
    hidden = assignments.secret_lines(source(), assignments.HIDDEN)
    assert hidden, "the chat room source has hidden tests to look for"
    for student, text in graded["feedback"].items():
        for line in hidden:
            assert line not in text, f"{student}'s feedback shows hidden test code: {line}"
        assert "BEGIN HIDDEN TESTS" not in text


def test_a_stuck_or_dead_cell_costs_its_question_not_the_run(graded: dict) -> None:
    for student in ("loop", "stubborn", "killer"):
        assert sum(points(graded, student).values()) == 6


def test_grading_time_is_reported(graded: dict) -> None:
    reports = graded["reports"]
    assert len(reports) == len(CASES) + 2
    assert all(report.seconds >= 0 for report in reports)
    print(f"graded {len(reports)} submissions in {graded['seconds']:.1f} s, two at a time")


# --- without a kernel: the student copies and the rebuilt notebook ----------------------


@pytest.mark.parametrize("path", assignments.source_paths(), ids=lambda p: p.stem)
def test_student_copy_leaks_no_solution_and_no_hidden_test(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    secrets = assignments.secret_lines(nb, assignments.SOLUTION)
    hidden = assignments.secret_lines(nb, assignments.HIDDEN)
    assert hidden or path.stem == "a3_measure_loss" or secrets
    text = (assignments.RELEASE_DIR / path.name).read_text()
    for line in secrets + hidden:
        assert line not in text, f"{path.name}: the student copy contains {line!r}"
    for marker in assignments.SOLUTION + assignments.HIDDEN:
        assert marker not in text


@pytest.mark.parametrize("path", assignments.source_paths(), ids=lambda p: p.stem)
def test_committed_student_copy_is_what_generate_writes(path: Path, tmp_path: Path) -> None:
    written = assignments.generate(assignments.SOURCE_DIR, tmp_path)
    fresh = tmp_path / path.name
    assert fresh in written
    assert fresh.read_text() == (assignments.RELEASE_DIR / path.name).read_text(), (
        "assignments/release is out of date: run `make assignments`"
    )


def test_student_copy_stub_is_nbgraders_at_every_level() -> None:
    text = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    assert assignments.replace_regions(text, assignments.SOLUTION, prompt=True, where="t") == (
        "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )
    text = "x = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\nprint(x)"
    assert assignments.replace_regions(text, assignments.SOLUTION, prompt=True, where="t") == (
        "x = None\n# YOUR CODE HERE\nraise NotImplementedError()\nprint(x)"
    )


def test_unbalanced_markers_are_refused_with_the_cell_named() -> None:
    with pytest.raises(assignments.AssignmentError, match="cell 3.*never closed"):
        assignments.replace_regions(
            "### BEGIN SOLUTION\nx = 1", assignments.SOLUTION, prompt=True, where="cell 3"
        )


def test_assemble_restores_locked_cells_and_keeps_answers_in_place() -> None:
    nb = solved()
    cell(nb, "setup").source = "print('I changed the set-up')"
    nb.cells.remove(cell(nb, "q3"))
    nb.cells.insert(0, nbformat.v4.new_code_cell("my_scratch = 1"))
    built, notes = grading.assemble(source(), CHAT, nb)
    ids = [assignments.grade_id(c) for c in built.cells]
    assert ids[0] is None and built.cells[0].source == "my_scratch = 1"
    assert ids[1:] == [assignments.grade_id(c) for c in source().cells]
    assert cell(built, "setup").source == cell(source(), "setup").source
    assert "BEGIN HIDDEN TESTS" in cell(built, "q3").source
    assert cell(built, "q2_answer").source == cell(nb, "q2_answer").source
    assert any("changed the given cell setup" in note for note in notes)
    assert any("check cell of q3 was missing" in note for note in notes)


def test_submission_without_metadata_is_matched_by_file_name(tmp_path: Path) -> None:
    path = tmp_path / "bob" / f"{CHAT}.ipynb"
    assert grading.which_assignment(None, path, [CHAT, "a2_kv_service"]) == CHAT
    assert grading.which_assignment(None, tmp_path / "bob.ipynb", [CHAT, "a2_kv_service"]) is None


def run(nb, box, limits):
    """Run `nb` as the grader does, with no forbidden paths and no trusted imports."""
    return grading.execute(nb, box, forbidden=(), limits=limits, assignment=CHAT, trusted={})


# --- the contract with the learner's kernel ---------------------------------------------------


@pytest.mark.parametrize("name", contract.INJECTED_MODULES)
def test_each_module_the_grader_imports_in_a_kernel_exists(name: str) -> None:
    """The grader imports these by name inside a kernel: a rename breaks here, not a run."""
    assert importlib.import_module(name).__name__ == name


def test_the_guard_code_the_grader_injects_blocks_and_reports(tmp_path: Path) -> None:
    """GUARD and REPORT, run as the kernel runs them: the attempt is refused and reported."""
    secret, token = tmp_path / "solutions.ipynb", "token-"
    code = "\n".join(
        [
            execution.GUARD.format(roots=[str(tmp_path)]),
            f"try:\n    open({str(secret)!r})\nexcept PermissionError:\n    pass",
            execution.REPORT.format(token=token),
        ]
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    reported = [line[len(token) :] for line in out.splitlines() if line.startswith(token)]
    assert [json.loads(line) for line in reported] == [[f"open {secret}"]]


def test_a_kernel_loads_the_contract_and_the_guard_without_the_grader() -> None:
    """What a graded kernel imports stays light: no nbclient, none of the grader's modules."""
    modules = (contract.GUARD_MODULE, contract.BRIDGE_MODULE, contract.CHECKS_MODULE)
    code = (
        f"import sys, {', '.join(modules)}\n"
        "print(sorted(m for m in sys.modules if m.startswith(('nbclient', 'helpers.grading'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout.strip())
    assert loaded == ["helpers.grading", contract.__name__, contract.GUARD_MODULE]


def test_every_name_the_package_exports_resolves() -> None:
    """`from helpers import grading; grading.<name>` works for each name it lists."""
    for name in grading.__all__:
        assert getattr(grading, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        grading.nothing  # noqa: B018 - the attribute access is the test


@pytest.fixture
def box(tmp_path):
    """A submission's box with its Redis, sandboxed where bwrap works."""
    made = sandbox.Box(tmp_path / "box", sandboxed=sandbox.problem() is None)
    made.start_redis()
    yield made
    made.close()


def test_a_kernel_that_cannot_start_is_a_grader_error_not_a_crash(box, monkeypatch) -> None:
    monkeypatch.setattr(kernel, "KERNEL_ARGV", [sys.executable, "-c", "raise SystemExit(3)"])
    nb, _ = grading.assemble(source(), CHAT, solved())
    with pytest.raises(grading.GraderError, match="the Python kernel did not start"):
        run(nb, box, grading.Limits(cell=5, notebook=30))


def test_the_notebook_time_limit_stops_the_run_and_says_so(box) -> None:
    slow = scratch(solved(), "setup", "import time\n\ntime.sleep(30)\n")
    nb, _ = grading.assemble(source(), CHAT, slow)
    started = time.monotonic()
    runs, _ = run(nb, box, grading.Limits(cell=20, notebook=4))
    assert time.monotonic() - started < 20
    last_check = max(i for i, c in enumerate(nb.cells) if assignments.is_test(c))
    assert runs[last_check].status == "not run"
    assert runs[last_check].detail == "not run: the notebook time limit (4 s) was reached"
    scores = grading.score(source(), nb, runs)
    assert sum(s.points for s in scores) == 0
    assert "notebook time limit (4 s)" in scores[-1].message


# --- the run around the submissions ------------------------------------------------------------


def _submit(folder: Path, **notebooks) -> Path:
    for student, nb in notebooks.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(nb, folder / student / f"{CHAT}.ipynb")
    return folder


def test_without_bwrap_the_grader_says_so_and_no_notebook_breaks_the_run(
    tmp_path, monkeypatch, capsys
) -> None:
    """Unsandboxed, a kernel can reach the grader's worker: killing it, stopping it, or
    killing its own kernel after shutting Redis down costs that submission only. The
    parent kills a worker that overruns with everything it started, and a new worker
    takes the next submission."""
    reaped: list[Path] = []
    real = sandbox.reap
    monkeypatch.setattr(sandbox, "reap", lambda folder: reaped.append(folder) or real(folder))
    monkeypatch.setattr(sandbox, "problem", lambda: "bwrap is not installed (in this test)")
    monkeypatch.setattr(pool, "PARENT_MARGIN", 3)
    breakers = {
        "kills-worker": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "stops-worker": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)",
        "stops-redis": "try:\n    r.shutdown(nosave=True)\nexcept Exception:\n    pass\n"
        "import os\nos._exit(1)",
    }
    folder = _submit(
        tmp_path / "in",
        full=solved(),
        blank=release(),
        **{name: scratch(solved(), "setup", code) for name, code in breakers.items()},
    )
    with pytest.raises(SystemExit, match="--require-sandbox: .*UNSANDBOXED"):
        grading.grade_all(folder, tmp_path / "refused", require_sandbox=True)
    # Generous for the notebook that kills its Redis: it is replayed in a second kernel, and
    # on a loaded machine (CI runs three test workers on two cores) that takes its time.
    limits = grading.Limits(cell=CELL_TIMEOUT, notebook=60)
    reports = grading.grade_all(folder, tmp_path / "out", jobs=2, limits=limits)
    assert "run UNSANDBOXED: bwrap is not installed" in capsys.readouterr().err
    got = {r.student: (r.points, r.failed) for r in reports}
    assert got["full"] == (8, "") and got["blank"] == (0, ""), got
    assert "worker for it stopped" in got["kills-worker"][1], got
    assert f"still running after {60 + grading.PARENT_MARGIN} s" in got["stops-worker"][1], got
    assert got["stops-redis"][0] == 8, got  # its scratch cell is skipped on the replay
    rows = (tmp_path / "out" / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 1 + 5 * 5
    assert len(reaped) >= 3  # the two stopped workers' boxes, then the run's folder
    assert all(sandbox.processes_under(path) == [] for path in reaped)
