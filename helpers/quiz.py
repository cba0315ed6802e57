"""Quick self-check questions inside the lesson notebooks, with instant feedback.

The learner types an answer in a cell and runs `quiz.check(key, answer)`: a wrong
choice gets the reason it is wrong, a right one the reason it is right. Nothing is
recorded or graded; the assignments have their own checks. The questions are data,
in quiz.toml beside this file, so adding one needs no code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from helpers.language import _

QUESTIONS_FILE = Path(__file__).with_name("quiz.toml")


@dataclass(frozen=True)
class Question:
    """A multiple-choice question with a reason for every choice."""

    text: str
    choices: dict[str, str]  # letter -> choice
    answer: str
    reasons: dict[str, str]  # letter -> why that choice is right or wrong


def load(path: Path = QUESTIONS_FILE) -> dict[str, Question]:
    """The questions of `path` by key: a table per question, a sub-table per choice letter."""
    questions = {}
    for key, entry in tomllib.loads(path.read_text()).items():
        letters = {k: v for k, v in entry.items() if k not in ("text", "answer")}
        questions[key] = Question(
            text=entry["text"],
            choices={letter: item["choice"] for letter, item in letters.items()},
            answer=entry["answer"],
            reasons={letter: item["reason"] for letter, item in letters.items()},
        )
    return questions


QUESTIONS = load()


def check(key: str, answer: str | None) -> None:
    """Print whether `answer` is right for question `key`, and why, in the learner's language.

    Prints rather than returns, so the cell shows only the feedback.
    """
    question = QUESTIONS.get(key)
    if question is None:
        raise KeyError(f"no question {key!r}; the questions are {sorted(QUESTIONS)}")
    if answer is None:  # the markdown above the cell shows the question and its choices
        print(_('Put your letter in place of None, e.g. answer = "a", and run the cell again.'))
        return
    letter = str(answer).strip().lower().rstrip(")")
    if letter not in question.choices:
        choices = ", ".join(question.choices)
        print(
            _("{answer!r} is not one of the choices {choices}: try again.").format(
                answer=answer, choices=choices
            )
        )
        return
    reason = _(question.reasons[letter])
    if letter == question.answer:
        print(_("Right. {reason}").format(reason=reason))
    else:
        print(_("Not quite. {reason} Have another go.").format(reason=reason))


def texts() -> list[str]:
    """Every question, choice and reason: what the translators' catalog must cover."""
    found = []
    for question in QUESTIONS.values():
        found += [question.text, *question.choices.values(), *question.reasons.values()]
    return found
