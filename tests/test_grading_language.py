"""The grader's own words to the learner (the judge's verdicts, the notes on repaired and
failed cells) are in the submission's language: English exactly as before, Vietnamese for
a copy of the Vietnamese edition. Fast: no kernel, no Redis."""

from __future__ import annotations

import nbformat
import pytest

from helpers import assignments, judge, language
from helpers.grading import job, rebuild, scoring
from helpers.grading.execution import CellRun, Limits

CHAT = "a1_chat_room"


@pytest.fixture
def lang(monkeypatch, tmp_path):
    """Set the language as the grader's worker does (COURSE_LANG), nothing else deciding."""
    for name in ("COURSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    language._catalog.cache_clear()

    def choose(code: str) -> None:
        monkeypatch.setenv("COURSE_LANG", code)

    return choose


def source():
    return nbformat.read(assignments.SOURCE_DIR / f"{CHAT}.ipynb", as_version=4)


def cell(nb, gid: str):
    return next(c for c in nb.cells if assignments.grade_id(c) == gid)


def mangled():
    """A submission that duplicated an answer and a check, changed the set-up, deleted q3's
    check cell and q4's answer cell."""
    nb = assignments.student_copy(source(), CHAT)
    answer, check = cell(nb, "q1_answer"), cell(nb, "q1")
    nb.cells.insert(nb.cells.index(check) + 1, nbformat.from_dict(dict(answer)))
    nb.cells.insert(nb.cells.index(check) + 2, nbformat.from_dict(dict(check)))
    cell(nb, "setup").source = "print('I changed the set-up')"
    nb.cells.remove(cell(nb, "q3"))
    nb.cells.remove(cell(nb, "q4_answer"))
    return nb


REPAIR_NOTES = {
    "en": [
        "You changed the given cell setup; the original was used.",
        "your answer cell q1_answer appears twice: both copies ran, in order.",
        "A duplicate of the check cell of q1 (cell {twice}) was left out.",
        "the check cell of q3 was missing; the original was put back and run.",
        "your answer cell q4_answer was missing; the blank prompt was used.",
        "Your notebook has no cells: it was graded as the blank assignment.",
    ],
    "vi": [
        "Bạn đã sửa ô cho sẵn setup; ô gốc đã được dùng thay.",
        "Có hai bản ô trả lời q1_answer của bạn: cả hai bản đều đã chạy, theo thứ tự.",
        "Một bản lặp của ô kiểm tra của q1 (ô {twice}) đã bị bỏ qua.",
        "Thiếu ô kiểm tra của q3; ô gốc đã được đặt lại và chạy.",
        "Thiếu ô trả lời q4_answer của bạn; đã dùng ô đề bài để trống thay vào.",
        "Notebook của bạn không có ô nào: bài được chấm như bài tập để trống.",
    ],
}


@pytest.mark.parametrize("code", REPAIR_NOTES)
def test_repair_notes_read_in_the_submissions_language(lang, code: str) -> None:
    """English exactly as before; Vietnamese for a copy of the Vietnamese edition."""
    lang(code)
    nb = mangled()
    twice = nb.cells.index(cell(nb, "q1")) + 2
    *repairs, blank = [note.format(twice=twice) for note in REPAIR_NOTES[code]]
    assert rebuild.assemble(source(), CHAT, nb)[1] == repairs
    assert rebuild.assemble(source(), CHAT, nbformat.v4.new_notebook())[1] == [blank]


def failed_cells():
    """The source with a cell of the learner's own first, and what running them gave."""
    nb = source()
    nb.cells.insert(0, nbformat.v4.new_code_cell("while True: pass"))
    runs = [CellRun("ok") for _ in nb.cells]
    runs[0] = CellRun("timeout", "it did not finish within 20 s and was interrupted")
    runs[nb.cells.index(cell(nb, "q2_answer"))] = CellRun(
        "error", "SyntaxError: '(' was never closed"
    )
    runs[nb.cells.index(cell(nb, "setup"))] = CellRun("error", "ValueError: no")
    runs[nb.cells.index(cell(nb, "q1"))] = CellRun("failed", "A hidden test failed: x.")
    return nb, runs


CELL_NOTES = {
    "en": [
        "A cell you added (cell 0): it did not finish within 20 s and was interrupted.",
        "The given cell setup raised ValueError: no",
        "Your answer cell q2_answer raised SyntaxError: '(' was never closed",
    ],
    "vi": [
        "Một ô bạn tự thêm (ô 0): it did not finish within 20 s and was interrupted.",
        "Ô cho sẵn setup ném ra ValueError: no",
        "Ô trả lời q2_answer của bạn ném ra SyntaxError: '(' was never closed",
    ],
}


@pytest.mark.parametrize("code", CELL_NOTES)
def test_cell_notes_read_in_the_submissions_language(lang, code: str) -> None:
    lang(code)
    assert scoring.cell_notes(*failed_cells()) == CELL_NOTES[code]


def test_check_reasons_in_english_read_as_before(lang) -> None:
    lang("en")
    assert scoring._explain(CellRun("died", "your code stopped the kernel")) == (
        "The check your code stopped the kernel."
    )
    assert scoring._explain(CellRun("not run", "not run: the time limit was reached")) == (
        "The check cell not run: the time limit was reached."
    )
    assert scoring._explain(CellRun()) == "The check cell was not run."
    assert scoring._explain(CellRun("failed", "A hidden test failed: x.")) == (
        "A hidden test failed: x."
    )


def test_check_reasons_of_the_vietnamese_edition_read_vietnamese(lang) -> None:
    lang("vi")
    assert scoring._explain(CellRun("died", "x")) == "Bài kiểm tra: x."
    assert scoring._explain(CellRun("not run", "x")) == "Ô kiểm tra: x."
    assert scoring._explain(CellRun()) == "Ô kiểm tra chưa được chạy."


class NoKernel:
    """The judge's line to a kernel, for hidden tests that never call into one."""

    def lookup(self, name: str):
        raise AssertionError(f"the hidden test asked the kernel for {name}")

    def close(self) -> None:
        pass


def verdict(hidden: str, visible: str = "") -> str:
    text = f"{visible}\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS"
    return judge.judge_cell(CHAT, text, "test", NoKernel(), {"__name__": "hidden_tests"})


VERDICTS = [
    ("assert 1 == 2, 'encode/decode must keep any sender'", ""),
    ("assert 1 == 2", ""),
    ("1 / 0", ""),
    ("raise TimeoutError('your code did not answer the check within 5 s')", ""),
    ("pass", "x = 1"),
]


def test_judge_verdicts_in_english_read_as_before(lang) -> None:
    lang("en")
    assert [verdict(*case) for case in VERDICTS] == [
        "A hidden test failed: encode/decode must keep any sender.",
        "A hidden test failed: your code did not do what it should.",
        "A hidden test ran your code and it raised ZeroDivisionError: division by zero",
        "The check did not finish in time (your code did not answer the check within 5 s).",
        "The check could not finish: AssignmentError: test: the grader's judge runs a test "
        'cell\'s check("...") calls and its hidden tests; move other code into a locked '
        "cell above it",
    ]


def test_judge_verdicts_of_the_vietnamese_edition_read_vietnamese(lang) -> None:
    lang("vi")
    got = [verdict(*case) for case in VERDICTS]
    assert got[:4] == [
        "Một bài kiểm tra ẩn không đạt: encode/decode must keep any sender.",
        "Một bài kiểm tra ẩn không đạt: code của bạn không làm đúng điều cần làm.",
        "Một bài kiểm tra ẩn đã chạy code của bạn và code ném ra ZeroDivisionError: "
        "division by zero",
        "Bài kiểm tra không chạy xong trong thời gian cho phép "
        "(your code did not answer the check within 5 s).",
    ]
    assert got[4].startswith("Bài kiểm tra không thể chạy xong: AssignmentError: ")


def test_an_unnamed_vietnamese_submission_is_told_so_in_vietnamese(lang, tmp_path) -> None:
    lang("en")  # the worker's language until it has read the submission
    nb = nbformat.v4.new_notebook(metadata={"language": "vi"})
    submission = job.Job(
        student="an",
        folder="an",
        path=tmp_path / "bai.ipynb",
        text=nbformat.writes(nb),
        problem=None,
        assignment=None,
        source_dir=assignments.SOURCE_DIR,
        forbidden=(),
        limits=Limits(),
        sandboxed=False,
        box=tmp_path / "box",
    )
    report = job.grade_one(submission)
    assert report.language == "vi"
    assert report.notes == [
        "Không xác định được từ tệp này đây là bài tập nào: hãy đặt tên tệp theo tên bài tập "
        "(ví dụ a1_chat_room.ipynb)."
    ]
