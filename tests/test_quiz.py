"""The self-check questions in the lesson notebooks give the right feedback."""

from __future__ import annotations

import pytest

from helpers import quiz


@pytest.mark.parametrize("key", sorted(quiz.QUESTIONS))
def test_every_choice_has_a_reason_and_the_answer_is_a_choice(key: str) -> None:
    question = quiz.QUESTIONS[key]
    assert question.answer in question.choices
    assert set(question.reasons) == set(question.choices)


def test_feedback_for_no_answer_a_right_one_a_wrong_one_and_a_non_choice(capsys) -> None:
    quiz.check("late-subscriber", None)  # the choices are in the markdown: not shown again
    assert capsys.readouterr().out == (
        'Put your letter in place of None, e.g. answer = "a", and run the cell again.\n'
    )
    quiz.check("late-subscriber", " C) ")
    assert capsys.readouterr().out.startswith("Right. ")
    quiz.check("late-subscriber", "a")
    assert capsys.readouterr().out.startswith("Not quite. That is what a log")
    quiz.check("late-subscriber", 5)
    assert "not one of the choices a, b, c" in capsys.readouterr().out
    with pytest.raises(KeyError, match="the questions are"):
        quiz.check("no-such-question", "a")


def test_a_question_is_data_in_a_toml_file(tmp_path) -> None:
    path = tmp_path / "quiz.toml"
    path.write_text(
        '[two]\ntext = "1 + 1?"\nanswer = "b"\n'
        'a.choice = "1"\na.reason = "One short."\nb.choice = "2"\nb.reason = "Yes."\n'
    )
    question = quiz.load(path)["two"]
    assert question.choices == {"a": "1", "b": "2"} and question.answer == "b"
    assert question.reasons == {"a": "One short.", "b": "Yes."}
