"""Grading one submission, start to end, in a box of its own.

Whatever goes wrong is this submission's failure: it gets a report (zero points and a
sentence saying why) and the run goes on with the next one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import judge, sandbox
from helpers.grading.execution import GraderError, Limits, execute
from helpers.grading.gradebook import MESSAGE_LIMIT, Report
from helpers.grading.rebuild import assemble
from helpers.grading.scoring import blank_scores, cell_notes, score
from helpers.grading.submissions import read_submission, source
from helpers.language import N_, _, translate

NOT_GRADED = N_("Not graded: see below.")  # shown in the submission's language, if known


@dataclass(frozen=True, kw_only=True)
class Job:
    """One submission to grade; everything a worker process needs."""

    student: str
    folder: str  # the feedback folder's name
    path: Path
    text: str | None  # the submitted file, read once by the parent
    problem: str | None  # why the file could not be read, if it could not
    assignment: str | None
    source_dir: Path
    forbidden: tuple[str, ...]
    limits: Limits
    sandboxed: bool
    box: Path  # this submission's private folder; its name marks the processes it starts
    refused: str = ""  # why it is not graded at all (a symbolic link, an unusable name)

    def report(self) -> Report:
        """An empty report for this submission."""
        return Report(self.student, self.assignment, self.path, self.folder)


def grade_one(job: Job) -> Report:
    """Grade one submission in a box of its own; any failure is this submission's failure."""
    started = time.monotonic()
    report = job.report()
    try:
        _grade(job, report)
    except Exception as error:  # noqa: BLE001 - one submission must not stop the run
        report.failed = f"{type(error).__name__}: {error}"[:MESSAGE_LIMIT]
        # The submission's language if _grade got as far as telling it, else English.
        note = translate(N_("The grader could not grade this notebook: {error}"), report.language)
        report.notes.append(note.format(error=report.failed))
        report.scores = blank_scores(
            job.source_dir, job.assignment, translate(NOT_GRADED, report.language)
        )
    report.seconds = time.monotonic() - started
    return report


def stopped(job: Job, why: str) -> Report:
    """The report of a submission whose worker was stopped (it died, or overran)."""
    report = job.report()
    report.failed = f"the grader stopped grading it: {why}"
    report.notes.append(f"The grader could not finish grading this notebook: {why}.")
    report.scores = blank_scores(
        job.source_dir, job.assignment, translate(NOT_GRADED, report.language)
    )
    return report


def _grade(job: Job, report: Report) -> None:
    if job.refused:
        report.failed = f"refused: {job.refused}"
        report.notes.append(f"This submission was not graded: {job.refused}.")
        report.scores = blank_scores(
            job.source_dir, job.assignment, translate(NOT_GRADED, report.language)
        )
        return
    nb, problem = read_submission(job.text)
    if problem or job.problem:
        report.notes.append(problem or job.problem)
    if nb is not None and nb.get("metadata", {}).get("language") == "vi":
        report.language = "vi"  # a copy of the Vietnamese edition gets its feedback in it
    # The judge builds its texts in this worker process (one per job): in the submission's language.
    os.environ["COURSE_LANG"] = report.language
    if job.assignment is None:
        report.notes.append(
            _(
                "Which assignment this is could not be told from the file: "
                "name it after the assignment (for example a1_chat_room.ipynb)."
            )
        )
        return
    original = source(job.source_dir, job.assignment)
    graded, repairs = assemble(original, job.assignment, nb)
    report.notes += repairs
    box = sandbox.Box(job.box, sandboxed=job.sandboxed)
    try:
        box.start_redis()
        runs, attempts = execute(
            graded,
            box,
            forbidden=job.forbidden,
            limits=job.limits,
            assignment=job.assignment,
            trusted=judge.trusted_imports(original),
        )
    except GraderError as error:
        report.failed = str(error)
        report.notes.append(
            _("The grader could not run this notebook (not your fault): {error}").format(
                error=error
            )
        )
        report.scores = blank_scores(
            job.source_dir, job.assignment, translate(NOT_GRADED, report.language)
        )
        return
    finally:
        box.close()
    report.scores = score(original, graded, runs)
    report.notes += cell_notes(graded, runs)
    report.flagged = sorted(set(attempts))
    if attempts:
        report.notes.append(
            _(
                "Your notebook tried to reach files or programs the grader keeps private "
                "({attempts}). This was blocked and is reported to your instructor."
            ).format(attempts="; ".join(sorted(set(attempts))))
        )
