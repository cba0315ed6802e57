"""The learner's side: `check("q…")` gives the right verdict with useful feedback, against a
real Redis, however the cells were run; and every assignment notebook runs in a real kernel.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import assignments, background, checks
from tests.test_notebooks import probe, problems

NAMES = [path.stem for path in assignments.source_paths()]


@pytest.fixture
def kernel_redis(private_redis, monkeypatch):
    """This process plays the kernel: its Redis is a private server, learner mode."""
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    monkeypatch.delenv(checks.GRADING_ENV, raising=False)
    monkeypatch.delenv("COURSE_NAMESPACE", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    yield private_redis
    background.stop_all()


def notebook(name: str, folder: Path = assignments.SOURCE_DIR):
    return nbformat.read(folder / f"{name}.ipynb", as_version=4)


def run_cells(nb, skip_last: bool = True) -> dict:
    """Execute the code cells in this process, as a kernel would, into one namespace.

    The last cell (clean-up) is left out so the namespace stays usable.
    """
    namespace: dict = {"__name__": "__main__"}
    cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in cells[:-1] if skip_last else cells:
        exec(compile(cell.source, assignments.grade_id(cell) or "cell", "exec"), namespace)
    return namespace


def results(name: str, namespace: dict) -> dict[str, checks.Result]:
    return {qid: checks.run_check(name, qid, namespace) for qid in checks.ASSIGNMENTS[name]}


@pytest.mark.parametrize("name", NAMES)
def test_every_assignment_has_checks_for_exactly_its_test_cells(name: str) -> None:
    questions = assignments.validate(notebook(name), name)
    assert [q.grade_id for q in questions] == list(checks.ASSIGNMENTS[name])
    points = {q.grade_id: q.points for q in questions}
    assert points == {qid: q.points for qid, q in checks.ASSIGNMENTS[name].items()}


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_every_check_and_hidden_test(kernel_redis, name: str) -> None:
    namespace = run_cells(notebook(name))  # the test cells' hidden asserts run here too
    failed = [str(r) for r in results(name, namespace).values() if not r.passed]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("name", NAMES)
def test_student_copy_fails_every_check_with_feedback_not_a_traceback(
    kernel_redis, name: str
) -> None:
    namespace = run_cells(notebook(name, assignments.RELEASE_DIR))
    for qid, result in results(name, namespace).items():
        if name == "a3_measure_loss" and qid == "q1":
            assert result.passed, "the given parameters are a valid start"
            continue
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
    monkeypatch.setattr(checks, "CALL_TIMEOUT", 0.5)
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


def test_under_the_grader_a_failed_check_raises(kernel_redis, monkeypatch) -> None:
    namespace = run_cells(notebook("a1_chat_room", assignments.RELEASE_DIR))
    check, _ = checks.assignment("a1_chat_room")
    monkeypatch.setenv(checks.GRADING_ENV, "1")
    namespace["check"] = check
    with pytest.raises(checks.CheckFailed, match="NotImplementedError"):
        exec('check("q1")', namespace)
    monkeypatch.delenv(checks.GRADING_ENV)
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


def test_kv_checks_catch_a_wrong_error_code(kernel_redis) -> None:
    namespace = run_cells(notebook("a2_kv_service"))
    from jsonrpcserver import Error, Success

    def get_with_generic_error(key):
        value = namespace["r"].get(namespace["key_for"](key))
        return Success(value) if value is not None else Error(-32000, "nope")

    namespace["methods"] = {**namespace["methods"], "get": get_with_generic_error}
    result = checks.run_check("a2_kv_service", "q1", namespace)
    assert not result.passed
    assert "an error with code -32001" in result.expected
    assert "-32000" in result.got


# --- in a real kernel, as a learner runs them --------------------------------------------


def execute(path: Path, runs: int):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", checks.GRADING_ENV)}
    with client.setup_kernel(env=env):
        before = probe(client, nb)
        for run in range(runs):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
            found = problems(nb.cells)
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
    text = summary.outputs[-1]["data"]["text/plain"]
    assert "not yet" not in text and text.count("✅") == len(checks.ASSIGNMENTS[name])


@pytest.mark.parametrize("name", NAMES)
def test_student_copy_runs_in_a_kernel_up_to_the_unanswered_checks(name: str) -> None:
    nb = execute(assignments.RELEASE_DIR / f"{name}.ipynb", runs=1)
    shown = [
        c.outputs[-1]["data"]["text/plain"]
        for c in nb.cells
        if assignments.is_test(c) and c.outputs and "data" in c.outputs[-1]
    ]
    assert len(shown) == len(checks.ASSIGNMENTS[name])
    assert sum("not yet" in text for text in shown) >= len(shown) - 1
