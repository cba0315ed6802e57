"""Batch grading for instructors: a folder of submitted notebooks in, a gradebook and feedback out.

    python -m helpers.grading generate                      # student copies -> assignments/release/
    python -m helpers.grading grade SUBMISSIONS --out DIR   # DIR/gradebook.csv, DIR/feedback/

Each submission is rebuilt nbgrader-style from the instructor's source: the learner's
answer cells are kept, locked cells (set-up, checks) come from the source, and the
hidden tests go back into the check cells. It then runs in a fresh kernel of its own
against a private redis-server, with a time limit per cell and per notebook. A cell
that never ends is interrupted; one that ignores the interrupt, or that kills the
kernel, is skipped and the notebook replayed in a new kernel, so it costs that
question, not the run. A question scores its points only if its check cell ran to
its end (the grader's own pass marker printed) without an error. Feedback says what
each failed check expected and what happened, and never shows hidden test code.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import json
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import redis
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from helpers import assignments
from helpers.redis_server import EmbeddedRedis

CELL_TIMEOUT = 30
NOTEBOOK_TIMEOUT = 300
PROBE_TIMEOUT = 5
KERNEL_STARTS = 4
OUTPUT_LIMIT = 100_000  # characters of output kept per cell; the rest is dropped
MESSAGE_LIMIT = 600  # characters of one error message shown in feedback


@dataclass(frozen=True)
class Limits:
    cell: int = CELL_TIMEOUT
    notebook: int = NOTEBOOK_TIMEOUT


@dataclass(frozen=True)
class Job:
    """One submission to grade; everything a worker process needs."""

    student: str
    path: Path
    assignment: str | None
    source_dir: Path
    forbidden: tuple[str, ...]
    limits: Limits


@dataclass
class CellRun:
    """What happened to one cell of the graded notebook."""

    status: str = "not run"  # ok, error, timeout, hung, died, skipped, not run
    detail: str = ""
    stdout: str = ""


@dataclass(frozen=True)
class Score:
    question: str
    title: str
    points: float
    total: float
    message: str = ""


@dataclass
class Report:
    student: str
    assignment: str | None
    path: Path
    scores: list[Score] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    failed: str = ""  # why the grader could not grade it; empty when it could
    flagged: list[str] = field(default_factory=list)  # what the guard blocked

    @property
    def points(self) -> float:
        return sum(score.points for score in self.scores)

    @property
    def total(self) -> float:
        return sum(score.total for score in self.scores)


# --- finding and reading submissions ------------------------------------------------


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student, path) for every notebook: FOLDER/STUDENT/*.ipynb or FOLDER/STUDENT.ipynb."""
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        relative = path.relative_to(folder)
        if ".ipynb_checkpoints" in relative.parts:
            continue
        student = relative.parts[0] if len(relative.parts) > 1 else path.stem
        found.append((student, path))
    return found


def read_submission(path: Path) -> tuple[Any, str | None]:
    """The notebook, or None and a sentence saying why it could not be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, f"The file could not be read ({error})."
    if not text.strip():
        return None, "The file is empty: there was no notebook to grade."
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds on bad input
        return None, f"The file is not a Jupyter notebook ({type(error).__name__}: {error})."[
            :MESSAGE_LIMIT
        ]
    if not isinstance(nb.get("cells"), list):
        return None, "The file is JSON but not a notebook (it has no cells)."
    return nb, None


def which_assignment(nb: Any, path: Path, names: list[str]) -> str | None:
    """The assignment a submission belongs to: its metadata, else its file name, else its cells."""
    if nb is not None:
        named = nb.get("metadata", {}).get("course_assignment")
        if named in names:
            return named
    for name in names:
        if name in path.name:
            return name
    if nb is not None:
        ids = {assignments.grade_id(cell) for cell in nb.cells}
        overlap = {name: len(ids & set(_ids(name))) for name in names}
        best = max(overlap, key=overlap.get, default=None)
        if best and overlap[best]:
            return best
    return names[0] if len(names) == 1 else None


_source_cache: dict[tuple[Path, str], Any] = {}


def _source(source_dir: Path, name: str) -> Any:
    key = (source_dir, name)
    if key not in _source_cache:
        nb = nbformat.read(source_dir / f"{name}.ipynb", as_version=4)
        assignments.validate(nb, name)
        _source_cache[key] = nb
    return _source_cache[key]


def _ids(name: str, source_dir: Path = assignments.SOURCE_DIR) -> list[str]:
    return [assignments.grade_id(cell) for cell in _source(source_dir, name).cells]


# --- rebuilding the notebook to run ---------------------------------------------------


def _what(cell: Any) -> str:
    gid = assignments.grade_id(cell)
    if assignments.is_test(cell):
        return f"the check cell of {gid}"
    if assignments.is_solution(cell):
        return f"your answer cell {gid}"
    return f"the given cell {gid}"


def assemble(source: Any, name: str, submission: Any) -> tuple[Any, list[str]]:
    """The notebook to run: the learner's answers in the source's frame, plus notes on repairs."""
    release = assignments.student_copy(source, name)
    given = {assignments.grade_id(cell): cell for cell in source.cells}
    handed_out = {assignments.grade_id(cell): cell for cell in release.cells}
    cells, notes, seen = [], [], set()
    submitted = list(submission.cells) if submission is not None else []
    if submission is not None and not submitted:
        notes.append("Your notebook has no cells: it was graded as the blank assignment.")
    for index, cell in enumerate(submitted):
        gid = assignments.grade_id(cell)
        if gid not in given:
            extra = copy.deepcopy(cell)
            extra.get("metadata", {}).pop("nbgrader", None)
            cells.append(extra)
            continue
        original = given[gid]
        if gid in seen:
            if assignments.is_solution(original):
                notes.append(f"{_what(original)} appears twice: both copies ran, in order.")
                cells.append(_as_answer(cell, original))
            elif original.cell_type == "code":
                notes.append(f"A duplicate of {_what(original)} (cell {index}) was left out.")
            continue
        seen.add(gid)
        if assignments.is_solution(original):
            cells.append(_as_answer(cell, original))
            continue
        if original.cell_type == "code" and cell.get("source") != handed_out[gid].source:
            notes.append(f"You changed {_what(original)}; the original was used.")
        cells.append(copy.deepcopy(original))
    _restore_missing(source, handed_out, cells, notes, bool(submitted))
    nb = copy.deepcopy(source)
    nb.cells = cells
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, notes


def _as_answer(cell: Any, original: Any) -> Any:
    answer = copy.deepcopy(original)
    answer.source = cell.get("source", "")
    return answer


def _restore_missing(source, handed_out, cells, notes, explain: bool) -> None:
    """Put back source cells the learner deleted, each after the cell that preceded it."""
    position = {assignments.grade_id(cell): i for i, cell in enumerate(cells)}
    anchor = -1
    for original in source.cells:
        gid = assignments.grade_id(original)
        if gid in position and assignments.grade_id(cells[position[gid]]) == gid:
            anchor = position[gid]
            continue
        restored = copy.deepcopy(handed_out[gid] if assignments.is_solution(original) else original)
        anchor += 1
        cells.insert(anchor, restored)
        position = {assignments.grade_id(cell): i for i, cell in enumerate(cells)}
        if explain and original.cell_type == "code":
            if assignments.is_solution(original):
                notes.append(f"{_what(original)} was missing; the blank prompt was used.")
            else:
                notes.append(f"{_what(original)} was missing; the original was put back and run.")


# --- running it -----------------------------------------------------------------------


class _Client(NotebookClient):
    """nbclient with a cap on how much output a cell may produce (print in a loop)."""

    marker = ""

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201 - nbclient's
        kept = self._kept.setdefault(cell_index, 0)
        content = msg.get("content", {})
        size = len(str(content.get("text", content.get("data", ""))))
        if msg["msg_type"] != "error" and kept + size > OUTPUT_LIMIT:
            text = str(content.get("text", ""))
            lines = [line for line in text.splitlines() if self.marker and self.marker in line]
            if not lines:
                return None
            msg = copy.deepcopy(msg)
            msg["content"]["text"] = "\n".join(lines) + "\n"
        self._kept[cell_index] = kept + size
        return super().output(outs, msg, display_id, cell_index)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: dict[int, int] = {}


def _summarise(cell: Any) -> CellRun:
    stdout, error = "", None
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            stdout += output.text
        elif output.output_type == "error":
            error = f"{output.ename}: {output.evalue}"
    return CellRun("error", error, stdout) if error else CellRun("ok", "", stdout)


GUARD = "from helpers import grading_guard\ngrading_guard.install({roots!r})\ndel grading_guard"
REPORT = (
    "import json as _json\nfrom helpers import grading_guard as _guard\n"
    "print({marker!r} + _json.dumps(_guard.attempts))"
)


class GraderError(RuntimeError):
    """The grader itself could not run a notebook (not the learner's fault)."""


def execute(
    nb: Any, redis_url: str, forbidden: tuple[str, ...], limits: Limits, marker: str
) -> tuple[list[CellRun], list[str]]:
    """Run every code cell; a cell that hangs or kills the kernel is skipped on a replay.

    Returns what happened to each cell and the guard's record of blocked attempts.
    """
    workdir = Path(tempfile.mkdtemp(prefix="grading-"))
    try:
        return _Execution(nb, redis_url, forbidden, limits, marker, workdir).run()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _Execution:
    """One submission's run: kernels started, cells executed, replays after a stuck cell."""

    def __init__(self, nb, redis_url, forbidden, limits, marker, workdir) -> None:  # noqa: ANN001
        self.nb, self.redis_url, self.limits, self.marker = nb, redis_url, limits, marker
        self.guard = GUARD.format(roots=list(forbidden))
        self.workdir = workdir
        self.deadline = time.monotonic() + limits.notebook
        self.skipped: dict[int, CellRun] = {}
        self.attempts: list[str] = []
        hub = ("COURSE_NAMESPACE", "JUPYTERHUB_USER")
        self.env = {k: v for k, v in os.environ.items() if k not in hub}
        self.env.update(
            REDIS_URL=redis_url, COURSE_GRADING="1", MPLBACKEND="Agg", PYTHONWARNINGS="ignore"
        )

    def run(self) -> tuple[list[CellRun], list[str]]:
        for _start in range(KERNEL_STARTS):
            with redis.Redis.from_url(self.redis_url) as client:
                client.flushall()
            runs = [self.skipped.get(i, CellRun()) for i in range(len(self.nb.cells))]
            with contextlib.ExitStack() as stack:
                stuck = self._cells(self._start_kernel(stack), runs)
            if stuck is None:
                return runs, self.attempts
            self.skipped[stuck[0]] = stuck[1]
        for index, run in enumerate(runs):
            if run.status == "not run" and self.nb.cells[index].cell_type == "code":
                run.detail = f"not run: the kernel had to be restarted {KERNEL_STARTS} times"
        return runs, self.attempts

    def _start_kernel(self, stack: contextlib.ExitStack) -> _Client:
        """A fresh kernel with the guard installed; one retry, for a busy machine."""
        log_path = self.workdir / "kernel-stderr.log"
        log = stack.enter_context(log_path.open("a"))
        problem: Exception | None = None
        for _attempt in range(2):
            client = _Client(
                self.nb,
                timeout=self.limits.cell,
                kernel_name="python3",
                allow_errors=True,
                interrupt_on_timeout=False,
                shutdown_kernel="immediate",
                startup_timeout=60,
                resources={"metadata": {"path": str(self.workdir)}},
            )
            client.marker = self.marker
            try:
                stack.enter_context(client.setup_kernel(env=self.env, stderr=log))
            except RuntimeError as error:  # died or never answered kernel_info
                problem = error
                if client.km is not None and client.km.has_kernel:
                    with contextlib.suppress(Exception):
                        run_sync(client.km.shutdown_kernel)(now=True)
                continue
            _execute_given(client, self.guard, PROBE_TIMEOUT * 4)
            return client
        log.flush()
        tail = log_path.read_text(errors="replace")[-500:]
        raise GraderError(f"the Python kernel did not start ({problem}). {tail}")

    def _cells(self, client: _Client, runs: list[CellRun]) -> tuple[int, CellRun] | None:
        """Run the cells in order; (index, what happened) for a cell that got stuck."""
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code" or index in self.skipped:
                continue
            left = self.deadline - time.monotonic()
            if left < 1:
                limit = f"not run: the notebook time limit ({self.limits.notebook} s) was reached"
                for later in range(index, len(self.nb.cells)):
                    if later not in self.skipped:
                        runs[later].detail = limit
                return None
            limit = client.timeout = int(min(self.limits.cell, left))
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                if _recovers(client):
                    why = f"it did not finish within {limit} s and was interrupted"
                    runs[index] = CellRun("timeout", why)
                    continue
                why = (
                    f"it did not finish within {limit} s and ignored the interrupt, "
                    "so it was skipped and the notebook re-run without it"
                )
                return index, CellRun("hung", why)
            except DeadKernelError:
                why = "it stopped the Python kernel, so it was skipped and the notebook re-run"
                return index, CellRun("died", why + " without it")
            runs[index] = _summarise(cell)
        with contextlib.suppress(Exception):
            printed = _execute_given(client, REPORT.format(marker=self.marker), PROBE_TIMEOUT)
            for line in printed.splitlines():
                if line.startswith(self.marker):
                    self.attempts.extend(json.loads(line[len(self.marker) :]))
        return None


def _execute_given(client: NotebookClient, source: str, timeout: int) -> str:
    """Run grader code that is not part of the notebook; return what it printed."""
    cell = nbformat.v4.new_code_cell(source)
    client.timeout = timeout
    client.nb.cells.append(cell)  # nbclient stores the executed cell back at its index
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1)
    finally:
        client.nb.cells.pop()
    run = _summarise(cell)
    if run.status != "ok":
        raise RuntimeError(f"grader code failed in the kernel: {run.detail}")
    return run.stdout


def _recovers(client: NotebookClient) -> bool:
    """Interrupt the kernel; True if it then answers a trivial request."""
    try:
        run_sync(client.km.interrupt_kernel)()
        _execute_given(client, "pass", PROBE_TIMEOUT)
    except (CellTimeoutError, DeadKernelError, RuntimeError):
        return False
    return True


# --- scoring and feedback -------------------------------------------------------------


def _explain(run: CellRun) -> str:
    """Why a check cell did not pass, in words for the learner (no hidden test code)."""
    if run.status == "error":
        name, _, message = run.detail.partition(": ")
        if name == "CheckFailed":
            return message
        if name == "AssertionError":
            return f"A hidden test failed: {message or 'your code did not do what it should'}."
        return f"A hidden test ran your code and it raised {name}: {message}"
    if run.status == "ok":
        return "The check did not run to its end: something in your notebook stopped it."
    return f"The check cell {run.detail}." if run.detail else "The check cell was not run."


def score(source: Any, nb: Any, runs: list[CellRun], marker: str) -> list[Score]:
    """Points per question: full if its check cell printed the pass marker without error."""
    where = {
        assignments.grade_id(cell): i
        for i, cell in enumerate(nb.cells)
        if assignments.is_test(cell)
    }
    scores = []
    for question in assignments.validate(source, "source"):
        run = runs[where[question.grade_id]]
        passed = run.status == "ok" and f"{marker}:passed:{question.grade_id}" in run.stdout
        earned = question.points if passed else 0.0
        message = "" if passed else _explain(run)
        scores.append(Score(question.grade_id, question.title, earned, question.points, message))
    return scores


def cell_notes(nb: Any, runs: list[CellRun]) -> list[str]:
    """What went wrong outside the check cells: errors in answers, hangs, kernel deaths."""
    notes = []
    for index, (cell, run) in enumerate(zip(nb.cells, runs, strict=True)):
        if cell.cell_type != "code" or assignments.is_test(cell) or run.status in ("ok", "not run"):
            continue
        what = _what(cell) if assignments.grade_id(cell) else f"a cell you added (cell {index})"
        if run.status == "error":
            notes.append(f"{what[0].upper()}{what[1:]} raised {run.detail}")
        else:
            notes.append(f"{what[0].upper()}{what[1:]}: {run.detail}.")
    return notes


def _redact(text: str, secrets_: list[str]) -> str:
    for line in secrets_:
        text = text.replace(line, "[hidden test]")
    return text[:MESSAGE_LIMIT] + ("..." if len(text) > MESSAGE_LIMIT else "")


def feedback(report: Report, hidden: list[str]) -> str:
    """The learner's feedback as Markdown: score, each question, what the grader noticed."""
    lines = [
        f"# Feedback: {report.assignment or 'unknown assignment'}, {report.student}",
        "",
        f"**Score: {report.points:g} / {report.total:g}**",
        "",
    ]
    if report.scores:
        lines += ["| question | points | result |", "|---|---|---|"]
        for item in report.scores:
            result = "passed" if item.points == item.total else "not passed"
            lines.append(
                f"| {item.question} · {item.title} | {item.points:g} / {item.total:g} | {result} |"
            )
        lines.append("")
    for item in report.scores:
        if item.message:
            lines += [
                f"## {item.question} · {item.title}",
                "",
                "```",
                _redact(item.message, hidden),
                "```",
                "",
            ]
    if report.notes:
        lines += ["## What the grader noticed", ""]
        lines += [f"- {_redact(note, hidden)}" for note in report.notes]
        lines.append("")
    return "\n".join(lines)


# --- one submission, many submissions -------------------------------------------------


def _arm_checks(nb: Any, name: str, marker: str) -> None:
    """Make each check cell use the real check() and print the pass marker if it ends well.

    Rebinding `check` undoes a notebook that redefined it; the marker, random per
    submission, is the positive evidence a pass needs (a swallowed error prints none).
    """
    rebind = f"from helpers.checks import assignment as _a\ncheck, check_all = _a({name!r})"
    for cell in nb.cells:
        if cell.cell_type == "code" and assignments.is_test(cell):
            passed = f"{marker}:passed:{assignments.grade_id(cell)}"
            cell.source = f"{rebind}\n{cell.source}\nprint({passed!r})"


def grade_one(job: Job) -> Report:
    """Grade one submission in a kernel and a redis-server of its own."""
    started = time.monotonic()
    report = Report(job.student, job.assignment, job.path)
    nb, problem = read_submission(job.path)
    if problem:
        report.notes.append(problem)
    if job.assignment is None:
        report.notes.append(
            "Which assignment this is could not be told from the file: "
            "name it after the assignment (for example a1_chat_room.ipynb)."
        )
        return report
    source = _source(job.source_dir, job.assignment)
    graded, repairs = assemble(source, job.assignment, nb)
    report.notes += repairs
    marker = secrets.token_hex(16)
    _arm_checks(graded, job.assignment, marker)
    server = EmbeddedRedis().start()
    try:
        runs, attempts = execute(graded, server.url, job.forbidden, job.limits, marker)
    except GraderError as error:
        report.failed = str(error)
        report.notes.append(f"The grader could not run this notebook (not your fault): {error}")
        report.scores = [
            Score(q.grade_id, q.title, 0.0, q.points, "Not graded: see below.")
            for q in assignments.validate(source, job.assignment)
        ]
        return report
    finally:
        server.stop()
    report.scores = score(source, graded, runs, marker)
    report.notes += cell_notes(graded, runs)
    report.flagged = sorted(set(attempts))
    if attempts:
        report.notes.append(
            "Your notebook tried to reach files or programs the grader keeps private "
            f"({'; '.join(sorted(set(attempts)))}). This was blocked and is reported to "
            "your instructor."
        )
    report.seconds = time.monotonic() - started
    return report


def grade_all(
    folder: Path,
    out: Path,
    assignment: str | None = None,
    jobs: int = 2,
    limits: Limits = Limits(),
    source_dir: Path = assignments.SOURCE_DIR,
) -> list[Report]:
    """Grade every notebook under `folder`; write the gradebook and feedback into `out`."""
    names = [path.stem for path in assignments.source_paths(source_dir)]
    if assignment is not None and assignment not in names:
        raise SystemExit(
            f"no assignment {assignment!r} in {source_dir}; there are: {', '.join(names)}"
        )
    submissions = find_submissions(folder)
    if not submissions:
        raise SystemExit(f"no .ipynb files under {folder}: expected {folder}/STUDENT/NAME.ipynb")
    forbidden = (str(source_dir), str(folder), str(out), str(assignments.ROOT / ".git"))
    work = []
    for student, path in submissions:
        nb, _ = read_submission(path)
        name = assignment or which_assignment(nb, path, names)
        work.append(Job(student, path, name, source_dir, forbidden, limits))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
        reports = list(pool.map(grade_one, work))
    write_outputs(reports, out, source_dir)
    return reports


def write_outputs(reports: list[Report], out: Path, source_dir: Path) -> None:
    """gradebook.csv (student, assignment, question, points, total) and feedback/STUDENT/NAME.md."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "gradebook.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "question", "points", "total"])
        for report in reports:
            for item in report.scores:
                writer.writerow(
                    [
                        report.student,
                        report.assignment,
                        item.question,
                        f"{item.points:g}",
                        f"{item.total:g}",
                    ]
                )
            writer.writerow(
                [
                    report.student,
                    report.assignment or "",
                    "TOTAL",
                    f"{report.points:g}",
                    f"{report.total:g}",
                ]
            )
    for report in reports:
        hidden = []
        if report.assignment:
            hidden = assignments.secret_lines(
                _source(source_dir, report.assignment), assignments.HIDDEN
            )
        folder = out / "feedback" / report.student
        folder.mkdir(parents=True, exist_ok=True)
        name = report.assignment or report.path.stem
        (folder / f"{name}.md").write_text(feedback(report, hidden), encoding="utf-8")


# --- command line ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.grading", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("generate", help="write student copies of the source notebooks")
    make.add_argument("--source", type=Path, default=assignments.SOURCE_DIR)
    make.add_argument("--release", type=Path, default=assignments.RELEASE_DIR)
    grade = commands.add_parser("grade", help="grade a folder of submitted notebooks")
    grade.add_argument(
        "submissions", type=Path, help="SUBMISSIONS/STUDENT/NAME.ipynb or SUBMISSIONS/STUDENT.ipynb"
    )
    grade.add_argument(
        "--out", type=Path, required=True, help="where gradebook.csv and feedback/ go"
    )
    grade.add_argument("--assignment", help="grade every notebook as this assignment")
    grade.add_argument("--source", type=Path, default=assignments.SOURCE_DIR)
    grade.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="submissions at once"
    )
    grade.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    grade.add_argument(
        "--notebook-timeout", type=int, default=NOTEBOOK_TIMEOUT, help="seconds per notebook"
    )
    args = parser.parse_args(argv)
    if args.command == "generate":
        for path in assignments.generate(args.source, args.release):
            print(f"wrote {path}")
        return 0
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder of submissions")
    started = time.monotonic()
    limits = Limits(args.cell_timeout, args.notebook_timeout)
    reports = grade_all(args.submissions, args.out, args.assignment, args.jobs, limits, args.source)
    for report in reports:
        score = f"{report.points:5g} / {report.total:<5g}"
        flag = f"  NOT GRADED: {report.failed}" if report.failed else ""
        if report.flagged:
            flag += f"  FLAGGED, tried: {'; '.join(report.flagged)}"
        line = f"{report.student:20} {report.assignment or '?':18} {score} ({report.seconds:.1f} s)"
        print(line + flag)
    elapsed = time.monotonic() - started
    print(f"graded {len(reports)} notebooks in {elapsed:.1f} s with {args.jobs} at a time")
    print(f"gradebook: {args.out / 'gradebook.csv'}; feedback: {args.out / 'feedback'}/")
    return 1 if any(report.failed for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
