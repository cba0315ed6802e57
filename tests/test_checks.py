"""The learner's side: `check("q…")` gives the right verdict with useful feedback, against a
real Redis, however the cells were run; and every assignment notebook runs in a real kernel.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import threading
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import assignments, background, checks
from helpers.checks import a2_kv_service, catalog, tools
from tests.notebook_runner import probe, problems

NAMES = [path.stem for path in assignments.source_paths()]


@pytest.fixture
def kernel_redis(private_redis, monkeypatch):
    """This process plays the kernel: its Redis is a private server, learner mode."""
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    monkeypatch.delenv(checks.GRADING_ENV, raising=False)
    monkeypatch.delenv(checks.NBGRADER_ENV, raising=False)
    monkeypatch.delenv("COURSE_NAMESPACE", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    yield private_redis
    background.stop_all()


def notebook(name: str, folder: Path = assignments.SOURCE_DIR):
    return nbformat.read(folder / f"{name}.ipynb", as_version=4)


def run_cells(nb, skip_last: bool = True, unanswered: bool = False) -> dict:
    """Execute the code cells in this process, as a kernel would, into one namespace.

    The last cell (clean-up) is left out so the namespace stays usable. With
    `unanswered`, a cell that fails (a prompt's NotImplementedError, or a given cell that
    needs an answer) is passed over, as a learner running the cells one by one would.
    """
    namespace: dict = {"__name__": "__main__"}
    cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in cells[:-1] if skip_last else cells:
        code = compile(cell.source, assignments.grade_id(cell) or "cell", "exec")
        if not unanswered:
            exec(code, namespace)
            continue
        with contextlib.suppress(NotImplementedError, ValueError):
            exec(code, namespace)
    return namespace


def results(name: str, namespace: dict) -> dict[str, checks.Result]:
    return {qid: checks.run_check(name, qid, namespace) for qid in checks.ASSIGNMENTS[name]}


@pytest.mark.parametrize("name", NAMES)
def test_every_assignment_has_checks_for_exactly_its_test_cells(name: str) -> None:
    questions = assignments.validate(notebook(name), name)
    assert [q.grade_id for q in questions] == list(checks.ASSIGNMENTS[name])
    points = {q.grade_id: q.points for q in questions}
    assert points == {qid: q.points for qid, q in checks.ASSIGNMENTS[name].items()}


def test_a_timed_call_gives_its_value_what_it_raised_or_that_it_still_runs() -> None:
    assert tools.call_in_thread(lambda x: x + 1, (1,), {}, name="t", timeout=2) == {"value": 2}
    raised = tools.call_in_thread(int, ("x",), {}, name="t", timeout=2)["raised"]
    assert raised["type"] == "ValueError" and "invalid literal" in raised["message"]
    released = threading.Event()
    try:
        outcome = tools.call_in_thread(released.wait, (10,), {}, name="t", timeout=0.2)
    finally:
        released.set()
    assert outcome == {"timeout": 0.2}


def test_the_kernels_copy_of_titles_and_points_is_what_the_sources_say() -> None:
    assert json.loads(catalog.QUESTIONS_FILE.read_text()) == catalog.collect(), catalog.STALE


def test_a_checks_title_and_points_come_from_the_notebook_metadata(tmp_path, monkeypatch) -> None:
    name = "a1_chat_room"
    nb = notebook(name)
    cell = next(c for c in nb.cells if assignments.grade_id(c) == "q1")
    cell.metadata[assignments.TITLE] = "names, renamed"
    cell.metadata.nbgrader["points"] = 7
    for path in assignments.source_paths():
        shutil.copy(path, tmp_path)
    nbformat.write(nb, tmp_path / f"{name}.ipynb")
    monkeypatch.setattr(catalog, "QUESTIONS_FILE", catalog.write(tmp_path, tmp_path / "q.json"))
    result = checks.run_check(name, "q1", {})
    assert (result.title, result.points) == ("names, renamed", 7)
    assert str(result).startswith("❌ q1 · names, renamed: not yet (0/7 points)")
    graded = {q.grade_id: (q.title, q.points) for q in assignments.validate(nb, name)}
    assert graded["q1"] == ("names, renamed", 7)


@pytest.mark.parametrize("name", NAMES)
def test_each_questions_heading_shows_the_title_and_points_of_its_metadata(name: str) -> None:
    headings = [
        c.source.split("\n")[0] for c in notebook(name).cells if c.source.startswith("## Question")
    ]
    questions = assignments.validate(notebook(name), name)
    assert len(headings) == len(questions)
    for number, (heading, q) in enumerate(zip(headings, questions, strict=True), start=1):
        unit = "point" if q.points == 1 else "points"
        want = f"## Question {number} · {q.title} ({q.points:g} {unit})"
        assert heading.casefold() == want.casefold(), f"{name} {q.grade_id}: {heading!r}"


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_every_check_and_hidden_test(kernel_redis, name: str) -> None:
    namespace = run_cells(notebook(name))  # the test cells' hidden asserts run here too
    failed = [str(r) for r in results(name, namespace).values() if not r.passed]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("name", NAMES)
def test_student_copy_fails_every_check_with_feedback_not_a_traceback(
    kernel_redis, name: str
) -> None:
    namespace = run_cells(notebook(name, assignments.RELEASE_DIR), unanswered=True)
    for qid, result in results(name, namespace).items():
        assert not result.passed, qid
        assert result.expected and result.got and result.hint, result
        assert "not yet" in str(result)


def test_a_check_before_its_cell_ran_says_which_cell_to_run(kernel_redis) -> None:
    result = checks.run_check("a1_chat_room", "q2", {})
    assert not result.passed
    assert result.got == "`ChatClient` is not defined in this kernel"
    assert "Run the cell of question 2 first" in result.hint


def test_checks_survive_reruns_and_any_order(kernel_redis) -> None:
    nb = notebook("a1_chat_room")
    namespace = run_cells(nb)
    order = ["q4", "q1", "q3", "q2", "q4", "q2"]
    assert all(checks.run_check("a1_chat_room", qid, namespace).passed for qid in order)
    answer = next(c for c in nb.cells if assignments.grade_id(c) == "q4_answer")
    exec(answer.source, namespace)  # the learner re-runs question 4's cell
    assert checks.run_check("a1_chat_room", "q4", namespace).passed


def test_wrong_behaviour_is_described_with_expected_and_got(kernel_redis) -> None:
    namespace = run_cells(notebook("a1_chat_room"))

    class Deaf(namespace["ChatClient"]):
        def _heard(self, message):
            pass

    namespace["ChatClient"] = Deaf
    result = checks.run_check("a1_chat_room", "q2", namespace)
    assert not result.passed
    assert result.expected.startswith("bob.history() == [[")
    assert result.got == "it returned []"
    assert "_heard() must append" in result.hint


def test_code_that_never_returns_is_reported_not_waited_for(kernel_redis, monkeypatch) -> None:
    monkeypatch.setattr(tools, "CALL_TIMEOUT", 0.5)
    namespace = run_cells(notebook("a1_chat_room"))
    released = threading.Event()

    class Stuck(namespace["ChatClient"]):
        def history(self):
            released.wait(10)  # stands in for a loop that never ends
            return []

    namespace["ChatClient"] = Stuck
    try:
        result = checks.run_check("a1_chat_room", "q2", namespace)
    finally:
        released.set()
    assert not result.passed
    assert result.expected == "bob.history() to return within 0.5 s"
    assert "restart the kernel" in result.hint


@pytest.mark.parametrize(
    "variable, value",
    [
        (checks.GRADING_ENV, "1"),
        (checks.NBGRADER_ENV, "autograde"),
        (checks.NBGRADER_ENV, "validate"),
    ],
)
def test_under_a_grader_a_failed_check_raises(kernel_redis, monkeypatch, variable, value) -> None:
    namespace = run_cells(notebook("a1_chat_room", assignments.RELEASE_DIR), unanswered=True)
    check, _ = checks.assignment("a1_chat_room")
    monkeypatch.setenv(variable, value)
    namespace["check"] = check
    with pytest.raises(checks.CheckFailed, match="NotImplementedError"):
        exec('check("q1")', namespace)
    monkeypatch.delenv(variable)
    exec('result = check("q1")', namespace)
    assert not namespace["result"].passed


def test_loss_checks_follow_the_learners_own_data(kernel_redis) -> None:
    nb = notebook("a3_measure_loss")
    namespace = run_cells(nb)
    assert all(r.passed for r in results("a3_measure_loss", namespace).values())
    # Other data (as if from another run): answers computed from it pass,
    # answers left from the old run do not.
    namespace["received"] = [seq for seq in namespace["received"] if seq % 7]
    stale = checks.run_check("a3_measure_loss", "q4", namespace)
    assert not stale.passed and "lost_count ==" in stale.expected
    for cell in nb.cells:
        if assignments.grade_id(cell) in ("q4_answer", "q5_answer"):
            exec(cell.source, namespace)
    assert all(r.passed for r in results("a3_measure_loss", namespace).values())
    namespace["lost_count"] += 1
    off = checks.run_check("a3_measure_loss", "q4", namespace)
    assert not off.passed and str(namespace["lost_count"]) in off.got


def away_run(rate: int, count: int, away: float, lost: int) -> dict:
    """The variables a3's experiment leaves: `lost` messages missed from message COUNT // 3."""
    leave = count // 3
    published = [1] * leave + [0] * lost + [1] * (count - leave - lost)
    received = list(range(leave)) + list(range(leave + lost, count))
    return {
        "RATE": rate,
        "COUNT": count,
        "AWAY_SECONDS": away,
        "published": published,
        "received": received,
        "why": "b",
    }


def test_loss_prediction_for_twice_as_long_allows_for_the_end_of_the_run() -> None:
    # Away 0.8 s at 1000/s from message 500 of 1500: ~800 lost. Twice as long cannot lose
    # more than the 1000 messages left after the subscriber went: about 1000, not 1600.
    namespace = away_run(1000, 1500, 0.8, lost=810)
    verdicts = {}
    for guess in (1000, 900, 1600, 600, None):
        namespace["lost_if_away_twice"] = guess
        verdicts[guess] = checks.run_check("a3_measure_loss", "q5", namespace).passed
    assert verdicts == {1000: True, 900: True, 1600: False, 600: False, None: False}
    # Away 0.2 s: nowhere near the end, so twice the time is twice the loss.
    namespace = away_run(1000, 1500, 0.2, lost=205)
    namespace["lost_if_away_twice"] = 410
    assert checks.run_check("a3_measure_loss", "q5", namespace).passed


def test_loss_q1_scores_a_prediction_that_follows_from_the_learners_parameters() -> None:
    namespace = away_run(2000, 3000, 0.5, lost=1030)
    for predicted, passed in [(1000, True), (1030, True), (400, False), ("1000", False)]:
        namespace["predicted_lost"] = predicted
        result = checks.run_check("a3_measure_loss", "q1", namespace)
        assert result.passed is passed, (predicted, str(result))
    assert "predicted_lost: about 1000" in result.expected
    namespace["predicted_lost"] = None
    assert "still None" in checks.run_check("a3_measure_loss", "q1", namespace).got


def test_kv_checks_catch_a_wrong_error_code(kernel_redis) -> None:
    namespace = run_cells(notebook("a2_kv_service"))
    from jsonrpcserver import Error, Success

    def get_with_generic_error(key):
        value = namespace["r"].get(namespace["key_for"](key))
        return Success(value) if value is not None else Error(-32000, "nope")

    namespace["methods"] = {**namespace["methods"], "get": get_with_generic_error}
    result = checks.run_check("a2_kv_service", "q1", namespace)
    assert not result.passed
    assert f"an error with code {a2_kv_service.KEY_NOT_FOUND}" in result.expected
    assert "-32000" in result.got


# --- in a real kernel, as a learner runs them --------------------------------------------


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")


def unanswered(cell, output) -> bool:
    """An error a blank copy gives: a prompt's NotImplementedError, or a given cell saying
    which question to answer first."""
    if assignments.is_solution(cell):
        return output["ename"] == "NotImplementedError"
    return output["ename"] == "ValueError" and "question" in output["evalue"]


def execute(path: Path, runs: int, blank: bool = False):
    """Run the notebook `runs` times in one real kernel; nothing may be left running.

    With `blank` (a student copy) every cell runs even after an error, and the only
    errors allowed are those of unanswered questions.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=blank)
    hidden = ("REDIS_URL", checks.GRADING_ENV, checks.NBGRADER_ENV)
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    with client.setup_kernel(env=env):
        before = probe(client, nb)
        for run in range(runs):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
            cells = copy.deepcopy(nb.cells)
            for cell in cells:
                kept = [o for o in cell.get("outputs", []) if o["output_type"] != "error"]
                errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
                cell["outputs"] = kept + [o for o in errors if not (blank and unanswered(cell, o))]
            found = problems(cells)
            assert not found, f"{path.name}, run {run + 1}:\n" + "\n".join(found)
        after = probe(client, nb)
    assert after["background"] == [], f"{path.name} left background workers running"
    new = set(after["threads"]) - set(before["threads"])
    assert not new, f"{path.name} left threads {[after['threads'][t] for t in new]}"
    return nb


@pytest.mark.parametrize("name", NAMES)
def test_source_notebook_runs_twice_in_a_kernel_and_passes_all_checks(name: str) -> None:
    nb = execute(assignments.SOURCE_DIR / f"{name}.ipynb", runs=2)
    summary = next(c for c in nb.cells if assignments.grade_id(c) == "check_all")
    text = printed(summary)
    assert "not yet" not in text and text.count("✅") == len(checks.ASSIGNMENTS[name])
    for cell in nb.cells:  # nbgrader would read a cell's value as a score: checks print
        assert all(o["output_type"] != "execute_result" for o in cell.get("outputs", []))


@pytest.mark.parametrize("name", NAMES)
def test_student_copy_runs_in_a_kernel_up_to_the_unanswered_checks(name: str) -> None:
    nb = execute(assignments.RELEASE_DIR / f"{name}.ipynb", runs=1, blank=True)
    shown = [printed(c) for c in nb.cells if assignments.is_test(c)]
    assert len(shown) == len(checks.ASSIGNMENTS[name])
    assert all("not yet" in text and "expected:" in text for text in shown), shown
