"""A check's feedback is in the learner's language, chosen when the check runs: English
stays exactly as it was, the Vietnamese edition reads Vietnamese (from helpers.po)."""

from __future__ import annotations

import pytest

from helpers import checks, language

# RATE too low: the first rule of a3's q1 fails before any Redis or kernel is needed.
TOO_SLOW = {"RATE": 50, "COUNT": 1000, "AWAY_SECONDS": 1}


@pytest.fixture
def learner(monkeypatch, tmp_path):
    """No language set anywhere: the test chooses it, as a kernel's setting or folder would."""
    for name in ("COURSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(checks.GRADING_ENV, raising=False)
    monkeypatch.delenv(checks.NBGRADER_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    language._catalog.cache_clear()
    return monkeypatch


def test_a_failing_check_in_english_reads_as_before(learner) -> None:
    result = checks.run_check("a3_measure_loss", "q1", dict(TOO_SLOW))
    assert not result.passed
    assert result.expected == "RATE between 100 and 5000 messages per second"
    assert result.got == "RATE = 50"
    assert result.hint == (
        "Pick a rate this machine can pace: a few hundred to a few thousand per second."
    )
    lines = str(result).splitlines()
    assert lines[0].endswith(": not yet (0/1 points)")
    assert lines[1:] == [
        "   expected:  RATE between 100 and 5000 messages per second",
        "   your code: RATE = 50",
        "   hint:      Pick a rate this machine can pace: a few hundred to a few thousand "
        "per second.",
    ]
    missing = checks.run_check("a1_chat_room", "q2", {})
    assert missing.got == "`ChatClient` is not defined in this kernel"
    assert missing.hint.startswith("Run the cell of question 2 first.")


def test_a_failing_check_in_the_vietnamese_edition_reads_vietnamese(learner, tmp_path) -> None:
    learner.setenv("COURSE_LANG", "vi")
    result = checks.run_check("a3_measure_loss", "q1", dict(TOO_SLOW))
    assert not result.passed
    assert result.expected == "RATE trong khoảng 100 đến 5000 thông điệp mỗi giây"
    assert "tốc độ gửi" in result.hint and "Pick a rate" not in result.hint
    shown = str(result)
    assert "chưa đạt (0/1 điểm)" in shown and "   gợi ý:        Hãy chọn" in shown
    assert "expected" not in shown and "not yet" not in shown
    # The notebook's folder decides too: a kernel of the Vietnamese edition starts in vi/.
    learner.delenv("COURSE_LANG")
    (tmp_path / "vi").mkdir()
    learner.chdir(tmp_path / "vi")
    missing = checks.run_check("a1_chat_room", "q2", {})
    assert missing.got == "`ChatClient` chưa được định nghĩa trong kernel này"
    assert missing.hint.startswith("Hãy chạy ô của câu 2 trước.")
    # Chosen when the check runs, not when the module was imported: switch back.
    learner.setenv("COURSE_LANG", "en")
    assert checks.run_check("a1_chat_room", "q2", {}).got == (
        "`ChatClient` is not defined in this kernel"
    )
