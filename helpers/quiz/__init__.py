"""Quick self-check questions inside the lesson notebooks, with instant feedback.

The learner types an answer in a cell and runs `quiz.check(key, answer)`: a wrong
choice gets the reason it is wrong, a right one the reason it is right. Nothing is
recorded or graded; the assignments have their own checks. The questions themselves
are data, in helpers.quiz.questions.
"""

from __future__ import annotations

from helpers.language import _
from helpers.quiz.questions import QUESTIONS, Question

__all__ = ["QUESTIONS", "Question", "check", "texts"]


def check(key: str, answer: str | None) -> None:
    """Print whether `answer` is right for question `key`, and why, in the learner's language.

    Prints rather than returns, so the cell shows only the feedback.
    """
    question = QUESTIONS.get(key)
    if question is None:
        raise KeyError(f"no question {key!r}; the questions are {sorted(QUESTIONS)}")
    if answer is None:
        print(_(question.text))
        for letter, choice in question.choices.items():
            print(f"  {letter}) {_(choice)}")
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
