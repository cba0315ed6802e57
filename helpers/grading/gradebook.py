"""What grading writes: gradebook.csv and feedback files, safe whatever the submissions contain.

The output folder is created fresh, and every file in it is created, never opened
through a symbolic link. Rows are written as each submission is graded, so a crash
keeps what was done; at the end the gradebook is rewritten in order, atomically.
Student names come from folder and file names the instructor did not choose: a name
that a spreadsheet would run as a formula is escaped, and a name with a line break or
that is `.`/`..` is refused. Learner text in feedback is quoted in code blocks whose
fence it cannot close.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from helpers.language import N_, translate

MESSAGE_LIMIT = 600  # characters of one message shown in feedback
HEADER = ["student", "assignment", "question", "points", "total"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Score:
    question: str
    title: str
    points: float
    total: float
    message: str = ""


@dataclass
class Report:
    """One submission's result: what the gradebook and its feedback file say."""

    student: str
    assignment: str | None
    path: Path
    folder: str = ""  # its feedback folder's name: the student name made safe for a path
    scores: list[Score] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    failed: str = ""  # why the grader could not grade it; empty when it could
    flagged: list[str] = field(default_factory=list)  # what the audit hook blocked
    language: str = "en"  # the submission's: "vi" for a copy of the Vietnamese edition

    @property
    def points(self) -> float:
        """Points earned (a Score's `points`; helpers.checks calls this `earned`)."""
        return sum(score.points for score in self.scores)

    @property
    def total(self) -> float:
        """Points possible (a Score's `total`; helpers.checks calls this `points`)."""
        return sum(score.total for score in self.scores)


# --- names -------------------------------------------------------------------------------------


def student_name(raw: str) -> tuple[str, str]:
    """(the name as shown, why it is refused or ""), from a folder or file name.

    A name that is not UTF-8 keeps its bytes as \\xNN; control characters are shown as
    escapes. A line break, or the names `.` and `..`, are refused: they would forge
    rows or escape the feedback folder.
    """
    shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    problem = ""
    if "\n" in shown or "\r" in shown.lstrip("\r"):
        problem = "its name contains a line break"
    elif shown.strip() in (".", "..") or "/" in shown:
        problem = f"its name is {shown!r}"
    shown = "".join(ch if ch.isprintable() or ch in "\t\r" else f"\\x{ord(ch):02x}" for ch in shown)
    if problem:
        shown = shown.replace("\r", "\\r").replace("\t", "\\t")
    return shown, problem


def spreadsheet_safe(text: str) -> str:
    """`text` as a spreadsheet shows it, never runs it: a leading = + - @ tab or CR is escaped."""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def folder_name(student: str) -> str:
    """A file-system-safe folder name for a student's feedback."""
    safe = re.sub(r"[^\w.@+=,() -]", "_", student).strip(" .") or "_"
    return safe[:100]


# --- the output folder ----------------------------------------------------------------------------


class OutputError(RuntimeError):
    """The output folder cannot be used; the message says what to do."""


def _create(name: str, dir_fd: int) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    return os.open(name, flags, 0o644, dir_fd=dir_fd)


class Outputs:
    """OUT/gradebook.csv and OUT/feedback/STUDENT/ASSIGNMENT.md, in a folder made for this run."""

    def __init__(self, out: Path) -> None:
        if out.is_symlink():
            raise OutputError(f"{out} is a symbolic link: give a new folder for --out")
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise OutputError(
                f"{out} already exists and is not an empty folder: give a new folder for --out "
                "(grading never overwrites an earlier gradebook)"
            )
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.dir = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        os.mkdir("feedback", 0o755, dir_fd=self.dir)
        self.feedback = os.open(
            "feedback", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.dir
        )
        self.book = os.fdopen(_create("gradebook.csv", self.dir), "w", newline="", encoding="utf-8")
        csv.writer(self.book).writerow(HEADER)
        self.reports: list[Report] = []

    def add(self, report: Report, hidden: list[str]) -> None:
        """Write one report's rows and feedback now, so a crash later keeps them."""
        self.reports.append(report)
        self.book.write(_rows([report]))
        self.book.flush()
        os.fsync(self.book.fileno())
        self._write_feedback(report, feedback(report, hidden))

    def close(self) -> None:
        """Rewrite the gradebook in student order, atomically, and close everything."""
        self.book.close()
        ordered = sorted(self.reports, key=lambda r: (r.student, r.assignment or "", str(r.path)))
        with os.fdopen(_create(".gradebook.csv.new", self.dir), "w", newline="") as handle:
            handle.write(",".join(HEADER) + "\r\n" + _rows(ordered))
        os.replace(".gradebook.csv.new", "gradebook.csv", src_dir_fd=self.dir, dst_dir_fd=self.dir)
        os.close(self.feedback)
        os.close(self.dir)

    def _write_feedback(self, report: Report, text: str) -> None:
        with contextlib.suppress(FileExistsError):
            os.mkdir(report.folder, 0o755, dir_fd=self.feedback)
        folder = os.open(
            report.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.feedback
        )
        try:
            stem = report.assignment or folder_name(report.path.stem)
            for suffix in ["", *(f"-{n}" for n in range(2, 100))]:
                try:
                    handle = _create(f"{stem}{suffix}.md", folder)
                    break
                except FileExistsError:
                    continue
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
        finally:
            os.close(folder)


def _rows(reports: list[Report]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for report in reports:
        name, assignment = spreadsheet_safe(report.student), report.assignment or ""
        for item in report.scores:
            writer.writerow(
                [name, assignment, item.question, f"{item.points:g}", f"{item.total:g}"]
            )
        writer.writerow([name, assignment, "TOTAL", f"{report.points:g}", f"{report.total:g}"])
    return buffer.getvalue()


# --- feedback -----------------------------------------------------------------------------------


def redact(text: str, hidden: list[str]) -> str:
    """`text` with any line of a hidden test blanked out, and cut to MESSAGE_LIMIT."""
    for line in hidden:
        text = text.replace(line, "[hidden test]")
    return text[:MESSAGE_LIMIT] + ("..." if len(text) > MESSAGE_LIMIT else "")


def fenced(text: str) -> list[str]:
    """A code block `text` cannot close: its fence is longer than any run of backticks in it."""
    text = re.sub(r"\r\n?", "\n", text)
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def inline(text: str) -> str:
    """One line of learner text in Markdown: no HTML, no formatting, no line breaks."""
    text = html.escape(" ".join(text.split()), quote=False)
    return re.sub(r"([\\`*_\[\]{}#|!~])", r"\\\1", text)


def feedback(report: Report, hidden: list[str]) -> str:
    """The learner's feedback as Markdown, in the submission's language: score, each
    question, what the grader noticed."""

    def say(text: str) -> str:
        return translate(text, report.language)

    assignment = report.assignment or say(N_("unknown assignment"))
    lines = [
        say(N_("# Feedback: {assignment}, {student}")).format(
            assignment=assignment, student=inline(report.student)
        ),
        "",
        say(N_("**Score: {points} / {total}**")).format(
            points=f"{report.points:g}", total=f"{report.total:g}"
        ),
        "",
    ]
    if report.scores:
        lines += [say(N_("| question | points | result |")), "|---|---|---|"]
        for item in report.scores:
            result = say(N_("passed")) if item.points == item.total else say(N_("not passed"))
            title = inline(item.title)
            lines.append(
                f"| {item.question} · {title} | {item.points:g} / {item.total:g} | {result} |"
            )
        lines.append("")
    for item in report.scores:
        if item.message:
            lines += [f"## {item.question} · {inline(item.title)}", ""]
            lines += [*fenced(redact(item.message, hidden)), ""]
    if report.notes:
        lines += [say(N_("## What the grader noticed")), ""]
        lines += fenced("\n".join(f"- {redact(note, hidden)}" for note in report.notes))
        lines.append("")
    return "\n".join(lines)
