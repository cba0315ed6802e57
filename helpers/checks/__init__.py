"""Instant feedback in the assignment notebooks: `check("q1")` after each question, `check_all()`.

Each check reads the learner's definitions from the notebook (the calling cell's
globals), runs them against the kernel's Redis with fresh channel names of its own,
and says what was expected, what the code did and a hint. Checks create and close
everything they use, so re-running cells, or running them out of order, does not
change what a check sees. A call into the learner's code that does not return within
CALL_TIMEOUT seconds is reported, not waited for.

Under a grader a failed check raises CheckFailed, so its test cell errors and scores
zero: under the pack's (COURSE_GRADING=1 in the kernel's environment) and under
nbgrader's autograde and validate (which set NBGRADER_EXECUTION). A check shows its
result as printed text, not as the cell's value, which nbgrader would read as a score.

The package:

* core: the framework (Answers, Mismatch, Result, run_check, assignment, ...);
* tools: plain data and exact comparisons, inputs drawn per run, timed calls;
* catalog: each question's title and points, copied from the source notebooks;
* a1_chat_room, a2_kv_service, a3_measure_loss: the rules of each assignment's
  questions, shared by check() here and the grader's judge (helpers.judge).
"""

from helpers.checks import a1_chat_room, a2_kv_service, a3_measure_loss  # noqa: F401 - register
from helpers.checks.core import (
    ASSIGNMENTS,
    GRADING_ENV,
    NBGRADER_ENV,
    Answers,
    CheckFailed,
    Mismatch,
    QuestionCheck,
    Result,
    Summary,
    assignment,
    close_all,
    expect,
    fresh_name,
    grading,
    question,
    run_check,
)
from helpers.checks.tools import CALL_TIMEOUT

__all__ = [
    "ASSIGNMENTS",
    "CALL_TIMEOUT",
    "GRADING_ENV",
    "NBGRADER_ENV",
    "Answers",
    "CheckFailed",
    "Mismatch",
    "QuestionCheck",
    "Result",
    "Summary",
    "assignment",
    "close_all",
    "expect",
    "fresh_name",
    "grading",
    "question",
    "run_check",
]
