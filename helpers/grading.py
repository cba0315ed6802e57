"""Batch grading for instructors: a folder of submitted notebooks in, a gradebook and feedback out.

    python -m helpers.grading generate                      # student copies -> assignments/release/
    python -m helpers.grading grade SUBMISSIONS --out DIR   # DIR/gradebook.csv, DIR/feedback/

Each submission is rebuilt nbgrader-style from the instructor's source: the learner's
answer cells are kept, locked cells (set-up, checks) come from the source. It runs in a
fresh kernel of its own, inside an OS sandbox where bubblewrap works (helpers.sandbox),
against a private redis-server, with a time limit per cell and per notebook. A cell that
never ends is interrupted; one that ignores the interrupt, or that kills the kernel, is
skipped and the notebook replayed in a new kernel, so it costs that question, not the run.

Scores are decided outside the kernel (helpers.remote): at each check cell the grader
calls the learner's code over a JSON-only bridge with inputs drawn for this run,
compares what comes back with exact types, checks effects on Redis with its own
connection, and runs the hidden tests in its own process. Nothing the kernel prints
can pass a question. Feedback says what each failed check expected and what happened,
and never shows hidden test code.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import copy
import functools
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import nbformat
import zmq
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_event_loop, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from helpers import assignments, remote, sandbox
from helpers.gradebook import (
    MESSAGE_LIMIT,
    OutputError,
    Outputs,
    Report,
    Score,
    folder_name,
    student_name,
)

CELL_TIMEOUT = 30
NOTEBOOK_TIMEOUT = 300
PROBE_TIMEOUT = 5
KERNEL_STARTS = 4
OUTPUT_LIMIT = 100_000  # characters of output kept per cell; the rest is dropped
BRIDGE_LIMIT = 8 * 2**20  # characters a judge's request may print (a long list of numbers)
MAX_MESSAGE = 16 * 2**20  # bytes of one message from a kernel; a larger one loses the kernel
SEND_TIMEOUT = 5000  # milliseconds a request to a kernel may wait to be sent
IOPUB_TIMEOUT = 10  # seconds between a cell's reply and its last output, at most
MAX_NOTEBOOK = 20 * 2**20  # bytes of a submitted file
PARENT_MARGIN = 120  # seconds a worker gets beyond the notebook limit before it is stopped
KERNEL_ARGV = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
HUB = ("COURSE_NAMESPACE", "JUPYTERHUB_USER")


@dataclass(frozen=True)
class Limits:
    cell: int = CELL_TIMEOUT
    notebook: int = NOTEBOOK_TIMEOUT


@dataclass(frozen=True)
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


@dataclass
class CellRun:
    """What happened to one cell of the graded notebook."""

    status: str = "not run"  # ok, failed, error, timeout, hung, died, skipped, not run
    detail: str = ""
    stdout: str = ""


class GraderError(RuntimeError):
    """The grader itself could not run a notebook (not the learner's fault)."""


# --- finding and reading submissions ------------------------------------------------


@dataclass(frozen=True)
class Found:
    student: str
    path: Path
    refused: str = ""


def find_submissions(folder: Path) -> list[Found]:
    """Every notebook: FOLDER/STUDENT/*.ipynb or FOLDER/STUDENT.ipynb; links are refused."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        here = Path(top)
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        for name in sorted(dirs):
            if (here / name).is_symlink():
                found.append(_found(folder, here / name, "it is a symbolic link"))
        for name in sorted(files):
            path = here / name
            if name.endswith(".ipynb"):
                refused = "it is a symbolic link" if path.is_symlink() else ""
                found.append(_found(folder, path, refused))
    return sorted(found, key=lambda item: (item.student, str(item.path)))


def _found(folder: Path, path: Path, refused: str) -> Found:
    relative = path.relative_to(folder)
    raw = relative.parts[0] if len(relative.parts) > 1 else relative.name.removesuffix(".ipynb")
    student, problem = student_name(raw)
    return Found(student, path, refused or problem)


def read_file(path: Path) -> tuple[str | None, str | None]:
    """The file's text, never through a symbolic link; or None and why not."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        return None, f"The file could not be read ({error.strerror})."
    try:
        if os.fstat(handle).st_size > MAX_NOTEBOOK:
            return None, f"The file is larger than {MAX_NOTEBOOK // 2**20} MB: it was not graded."
        data = b""
        while chunk := os.read(handle, 2**20):
            data += chunk
    finally:
        os.close(handle)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "The file is not UTF-8 text: it is not a notebook."


def read_submission(text: str | None) -> tuple[Any, str | None]:
    """The notebook, or None and a sentence saying why it could not be read."""
    if text is None:
        return None, None
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
    return _cleaned(nb), None


def _cleaned(nb: Any) -> Any:
    """The notebook with cell metadata the grader cannot use dropped (the cell itself is kept)."""
    cells = []
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        if not isinstance(cell.get("source"), str):
            continue
        meta = cell.get("metadata")
        if not isinstance(meta, dict):
            cell["metadata"] = meta = nbformat.NotebookNode()
        info = meta.get("nbgrader")
        if info is not None and not (
            isinstance(info, dict) and isinstance(info.get("grade_id"), str)
        ):
            meta.pop("nbgrader")
        cells.append(cell)
    nb.cells = cells
    return nb


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
        for index, cell in enumerate(nb.cells):
            if assignments.is_test(cell):
                remote.checked_questions(cell.source, f"{name}, cell {index}")
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


def _feedback_only(cell: Any) -> bool:
    """A given cell that only calls check() or check_all(): the learner's view, not run here."""
    if assignments.is_solution(cell) or assignments.is_test(cell) or cell.cell_type != "code":
        return False
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return False
    return bool(body) and all(
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id in ("check", "check_all")
        for node in body
    )


# --- running it -----------------------------------------------------------------------


class _Client(NotebookClient):
    """nbclient with a cap on how much output a cell may keep (print in a loop, huge errors)."""

    limit = OUTPUT_LIMIT

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201 - nbclient's
        kept = self._kept.setdefault(cell_index, 0)
        content = msg.get("content", {})
        if msg["msg_type"] == "error":
            msg = copy.deepcopy(msg)
            msg["content"]["ename"] = str(content.get("ename", ""))[:100]
            msg["content"]["evalue"] = str(content.get("evalue", ""))[:MESSAGE_LIMIT]
            msg["content"]["traceback"] = []
        else:
            size = len(str(content.get("text", content.get("data", ""))))
            if kept + size > self.limit:
                return None
            self._kept[cell_index] = kept + size
        return super().output(outs, msg, display_id, cell_index)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: dict[int, int] = {}

    def forget_timed_out_cell(self) -> None:
        """Stop nbclient's IOPub reader of a cell that timed out.

        nbclient leaves it running on its event loop, where it would take (and drop)
        the outputs of the cells after it, a probe's or a judge's request included.
        """
        for task in asyncio.all_tasks(ensure_event_loop()):
            if task.get_coro().__qualname__.endswith("._async_poll_output_msg"):
                task.cancel()


class _KernelManager(AsyncKernelManager):
    """A kernel in a submission's box: IPC sockets in its folder, the sandbox around it."""

    def __init__(self, box: sandbox.Box, **kwargs: Any) -> None:
        super().__init__(
            transport="ipc",
            ip=str(box.run / "k"),
            connection_file=str(box.run / "kernel.json"),
            **kwargs,
        )
        self.box = box
        self._spec = KernelSpec(
            argv=KERNEL_ARGV, language="python", display_name="Python 3", interrupt_mode="message"
        )

    @property
    def kernel_spec(self) -> KernelSpec:
        return self._spec

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self.box.wrap(super().format_kernel_cmd(extra_arguments))

    def client(self, **kwargs: Any) -> Any:
        """The grader's client: a kernel message larger than MAX_MESSAGE is never read.

        ZeroMQ then drops that connection for good, so the kernel is lost: its reply never
        comes (the cell times out), a send to it fails after SEND_TIMEOUT instead of
        waiting forever, and the notebook is replayed without the cell, in a new kernel.
        """
        made = super().client(**kwargs)
        made.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        made.context.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT)
        made.context.setsockopt(zmq.LINGER, 0)
        return made


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
    "print({token!r} + _json.dumps(_guard.attempts[:20]))\ndel _json, _guard"
)


def execute(
    nb: Any,
    box: sandbox.Box,
    forbidden: tuple[str, ...],
    limits: Limits,
    assignment: str,
    trusted: dict,
) -> tuple[list[CellRun], list[str]]:
    """Run every code cell, judging the check cells; a stuck cell is skipped on a replay.

    Returns what happened to each cell and the audit hook's record of blocked attempts.
    """
    return _Execution(nb, box, forbidden, limits, assignment, trusted).run()


class _Execution:
    """One submission's run: kernels started, cells run or judged, replays after a stuck cell."""

    def __init__(self, nb, box, forbidden, limits, assignment, trusted) -> None:  # noqa: ANN001
        self.nb, self.box, self.limits = nb, box, limits
        self.assignment, self.trusted = assignment, trusted
        self.guard = GUARD.format(roots=list(forbidden))
        self.deadline = time.monotonic() + limits.notebook
        self.skipped: dict[int, CellRun] = {}
        self.attempts: list[str] = []

    def run(self) -> tuple[list[CellRun], list[str]]:
        for _start in range(KERNEL_STARTS):
            self.box.fresh_redis()
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
        log_path = self.box.root / "kernel-stderr.log"
        log = stack.enter_context(log_path.open("a"))
        problem: Exception | None = None
        extra = {"COURSE_GRADING": "1", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
        for _attempt in range(2):
            client = _Client(
                self.nb,
                km=_KernelManager(self.box),
                timeout=self.limits.cell,
                allow_errors=True,
                interrupt_on_timeout=False,
                raise_on_iopub_timeout=True,
                iopub_timeout=IOPUB_TIMEOUT,
                shutdown_kernel="immediate",
                startup_timeout=60,
                resources={"metadata": {"path": str(self.box.home)}},
            )
            try:
                with self.box.filter_fd() as fd:
                    passed = (fd,) if fd is not None else ()
                    env = self.box.env(extra)
                    stack.enter_context(
                        client.setup_kernel(env=env, stdout=log, stderr=log, pass_fds=passed)
                    )
            except RuntimeError as error:  # died or never answered kernel_info
                problem = error
                if client.km is not None and client.km.has_kernel:
                    with contextlib.suppress(Exception):
                        run_sync(client.km.shutdown_kernel)(now=True)
                continue
            _silent(client, self.guard, PROBE_TIMEOUT * 4)
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
            limit = int(min(self.limits.cell, left))
            if _feedback_only(cell):
                runs[index] = CellRun("ok")
                continue
            if assignments.is_test(cell):
                stuck = self._judge(client, cell, index, runs, limit)
                if stuck:
                    return stuck
                continue
            client.timeout = limit
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                client.forget_timed_out_cell()
                if _recovers(client):
                    why = f"it did not finish within {limit} s and was interrupted"
                    runs[index] = CellRun("timeout", why)
                    continue
                why = (
                    f"it did not finish within {limit} s and ignored the interrupt, "
                    "so it was skipped and the notebook re-run without it"
                )
                return index, CellRun("hung", why)
            except (DeadKernelError, zmq.ZMQError):
                why = "it stopped the Python kernel, so it was skipped and the notebook re-run"
                return index, CellRun("died", why + " without it")
            runs[index] = _summarise(cell)
        self._collect_attempts(client)
        return None

    def _judge(self, client, cell, index, runs, limit) -> tuple[int, CellRun] | None:  # noqa: ANN001
        """Decide a check cell from outside the kernel (helpers.remote)."""
        kernel = remote.Kernel(functools.partial(_ask, client), time.monotonic() + limit)
        answers = remote.RemoteAnswers(kernel, self.box)
        where = f"{self.assignment}, cell {index}"
        try:
            message = remote.judge_cell(self.assignment, cell.source, where, answers, self.trusted)
        except remote.KernelLost as lost:
            return index, CellRun(lost.args[0], lost.args[1])
        runs[index] = CellRun("failed", message) if message else CellRun("ok")
        return None

    def _collect_attempts(self, client: _Client) -> None:
        """What the audit hook blocked (a second layer: the sandbox is the defence)."""
        token = secrets.token_hex(16)
        with contextlib.suppress(Exception):
            printed = _silent(client, REPORT.format(token=token), PROBE_TIMEOUT)
            for line in printed.splitlines():
                if line.startswith(token):
                    found = json.loads(line[len(token) :])
                    self.attempts += [str(item)[:200] for item in found if isinstance(item, str)]


def _silent(client: _Client, source: str, timeout: float) -> str:
    """Run grader code that is not part of the notebook, out of the kernel's history.

    Returns what it printed; raises CellTimeoutError or DeadKernelError as nbclient does.
    """
    cell = nbformat.v4.new_code_cell(source)
    client.timeout = max(1, int(timeout))
    client.nb.cells.append(cell)  # nbclient stores the executed cell back at its index
    client.limit = BRIDGE_LIMIT
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
    finally:
        client.limit = OUTPUT_LIMIT
        client._kept.pop(len(client.nb.cells) - 1, None)
        client.nb.cells.pop()
    return _summarise(cell).stdout


def _ask(client: _Client, code: str, timeout: float) -> str:
    """The judge's request to the kernel; KernelLost when it stops answering."""
    try:
        return _silent(client, code, timeout)
    except CellTimeoutError:
        client.forget_timed_out_cell()
        if _recovers(client):
            raise TimeoutError(
                f"your code did not answer the check within {timeout:.0f} s"
            ) from None
        raise remote.KernelLost(
            "hung",
            "the check's call into your code never returned and the kernel ignored the "
            "interrupt, so the question was skipped and the notebook re-run without it",
        ) from None
    except (DeadKernelError, zmq.ZMQError):
        raise remote.KernelLost(
            "died",
            "your code stopped the Python kernel during the check, so the notebook "
            "was re-run without this check",
        ) from None


def _recovers(client: NotebookClient) -> bool:
    """Interrupt the kernel; True if it then answers a trivial request."""
    try:
        run_sync(client.km.interrupt_kernel)()
        _silent(client, "pass", PROBE_TIMEOUT)
    except (CellTimeoutError, DeadKernelError, RuntimeError, zmq.ZMQError):
        client.forget_timed_out_cell()
        return False
    return True


# --- scoring and feedback -------------------------------------------------------------


def _explain(run: CellRun) -> str:
    """Why a check cell did not pass, in words for the learner (no hidden test code)."""
    if run.status == "failed":
        return run.detail
    if run.status in ("hung", "died"):
        return f"The check {run.detail}."
    return f"The check cell {run.detail}." if run.detail else "The check cell was not run."


def score(source: Any, nb: Any, runs: list[CellRun]) -> list[Score]:
    """Points per question: full if the judge passed its check cell."""
    where = {
        assignments.grade_id(cell): i
        for i, cell in enumerate(nb.cells)
        if assignments.is_test(cell)
    }
    scores = []
    for question in assignments.validate(source, "source"):
        run = runs[where[question.grade_id]]
        passed = run.status == "ok"
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


# --- one submission ---------------------------------------------------------------------


def _blank_scores(source_dir: Path, assignment: str | None, why: str) -> list[Score]:
    if assignment is None:
        return []
    return [
        Score(q.grade_id, q.title, 0.0, q.points, why)
        for q in assignments.validate(_source(source_dir, assignment), assignment)
    ]


def grade_one(job: Job) -> Report:
    """Grade one submission in a box of its own; any failure is this submission's failure."""
    started = time.monotonic()
    report = Report(job.student, job.assignment, job.path, job.folder)
    try:
        _grade(job, report)
    except Exception as error:  # noqa: BLE001 - one submission must not stop the run
        report.failed = f"{type(error).__name__}: {error}"[:MESSAGE_LIMIT]
        report.notes.append(f"The grader could not grade this notebook: {report.failed}")
        report.scores = _blank_scores(job.source_dir, job.assignment, "Not graded: see below.")
    report.seconds = time.monotonic() - started
    return report


def _grade(job: Job, report: Report) -> None:
    if job.refused:
        report.failed = f"refused: {job.refused}"
        report.notes.append(f"This submission was not graded: {job.refused}.")
        report.scores = _blank_scores(job.source_dir, job.assignment, "Not graded: see below.")
        return
    nb, problem = read_submission(job.text)
    if problem or job.problem:
        report.notes.append(problem or job.problem)
    if nb is not None and nb.get("metadata", {}).get("language") == "vi":
        report.language = "vi"  # a copy of the Vietnamese edition gets its feedback in it
    if job.assignment is None:
        report.notes.append(
            "Which assignment this is could not be told from the file: "
            "name it after the assignment (for example a1_chat_room.ipynb)."
        )
        return
    source = _source(job.source_dir, job.assignment)
    graded, repairs = assemble(source, job.assignment, nb)
    report.notes += repairs
    box = sandbox.Box(job.box, job.sandboxed)
    try:
        box.start_redis()
        trusted = remote.trusted_imports(source)
        runs, attempts = execute(graded, box, job.forbidden, job.limits, job.assignment, trusted)
    except GraderError as error:
        report.failed = str(error)
        report.notes.append(f"The grader could not run this notebook (not your fault): {error}")
        report.scores = _blank_scores(job.source_dir, job.assignment, "Not graded: see below.")
        return
    finally:
        box.close()
    report.scores = score(source, graded, runs)
    report.notes += cell_notes(graded, runs)
    report.flagged = sorted(set(attempts))
    if attempts:
        report.notes.append(
            "Your notebook tried to reach files or programs the grader keeps private "
            f"({'; '.join(sorted(set(attempts)))}). This was blocked and is reported to "
            "your instructor."
        )


# --- many submissions -------------------------------------------------------------------


def _work(connection: Any) -> None:
    """A worker process: grade the jobs the parent sends until it sends None."""
    for name in HUB:  # kernels get no channel namespace; the judge must compute the same names
        os.environ.pop(name, None)
    with contextlib.suppress(EOFError, KeyboardInterrupt):  # the parent is gone, or says stop
        while (job := connection.recv()) is not None:
            connection.send(grade_one(job))


@dataclass
class _Worker:
    process: Any
    connection: Any
    job: Job | None = None
    started: float = 0.0


class _Workers:
    """Worker processes that grade one submission each at a time.

    The parent watches them: a worker that dies or overruns its submission's time is
    killed with everything it started, that submission is recorded as failed, and a
    new worker takes over. Nothing a submission does can stop the other submissions.
    """

    def __init__(self, count: int) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.count = count

    def _start(self) -> _Worker:
        mine, theirs = self.context.Pipe()
        process = self.context.Process(target=_work, args=(theirs,), daemon=True)
        process.start()
        theirs.close()
        return _Worker(process, mine)

    def run(self, jobs: list[Job], deliver: Any) -> None:
        queue = deque(jobs)
        idle = [self._start() for _ in range(min(self.count, len(jobs)))]
        busy: dict[Any, _Worker] = {}
        try:
            while queue or busy:
                while idle and queue:
                    worker = idle.pop()
                    worker.job, worker.started = queue.popleft(), time.monotonic()
                    worker.connection.send(worker.job)
                    busy[worker.connection] = worker
                for connection in wait(list(busy), timeout=1.0):
                    worker = busy.pop(connection)
                    try:
                        deliver(connection.recv())
                        idle.append(worker)
                    except (EOFError, OSError):
                        deliver(_stopped(worker.job, "the grader's worker for it stopped"))
                        self._kill(worker)
                        idle.append(self._start())
                for worker in list(busy.values()):
                    allowed = worker.job.limits.notebook + PARENT_MARGIN
                    if time.monotonic() - worker.started > allowed:
                        busy.pop(worker.connection)
                        self._kill(worker)
                        deliver(_stopped(worker.job, f"it was still running after {allowed} s"))
                        idle.append(self._start())
        finally:
            for worker in idle + list(busy.values()):
                with contextlib.suppress(OSError):
                    worker.connection.send(None)
            for worker in idle + list(busy.values()):
                worker.process.join(timeout=10)
                self._kill(worker)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        if worker.job is not None:
            sandbox.reap(worker.job.box)
            shutil.rmtree(worker.job.box, ignore_errors=True)


def _stopped(job: Job, why: str) -> Report:
    report = Report(job.student, job.assignment, job.path, job.folder)
    report.failed = f"the grader stopped grading it: {why}"
    report.notes.append(f"The grader could not finish grading this notebook: {why}.")
    report.scores = _blank_scores(job.source_dir, job.assignment, "Not graded: see below.")
    return report


def sandbox_choice(require: bool) -> bool:
    """True if kernels will be sandboxed; says plainly when they will not be."""
    problem = sandbox.problem()
    if problem is None:
        return True
    message = (
        f"submissions will run UNSANDBOXED: {problem}. A submission can then read and change "
        "anything your user can (the sources with their solutions, other submissions, the "
        "gradebook). Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on Linux."
    )
    if require:
        raise SystemExit(f"--require-sandbox: {message}")
    print(f"WARNING: {message}", file=sys.stderr)
    return False


def grade_all(
    folder: Path,
    out: Path,
    assignment: str | None = None,
    jobs: int = 2,
    limits: Limits = Limits(),
    source_dir: Path = assignments.SOURCE_DIR,
    *,
    require_sandbox: bool = False,
    progress: Any = None,
) -> list[Report]:
    """Grade every notebook under `folder`; write the gradebook and feedback into `out`."""
    folder, out, source_dir = folder.resolve(), out.absolute(), source_dir.resolve()
    names = [path.stem for path in assignments.source_paths(source_dir)]
    if assignment is not None and assignment not in names:
        raise SystemExit(
            f"no assignment {assignment!r} in {source_dir}; there are: {', '.join(names)}"
        )
    try:
        for name in names:
            _source(source_dir, name)
    except assignments.AssignmentError as error:
        raise SystemExit(f"the assignment sources cannot be graded: {error}") from None
    submissions = find_submissions(folder)
    if not submissions:
        raise SystemExit(f"no .ipynb files under {folder}: expected {folder}/STUDENT/NAME.ipynb")
    sandboxed = sandbox_choice(require_sandbox)
    try:
        outputs = Outputs(out)
    except (OutputError, OSError) as error:
        raise SystemExit(str(error)) from None
    forbidden = (str(source_dir), str(folder), str(out), str(assignments.ROOT / ".git"))
    run = Path(tempfile.mkdtemp(prefix="grading-", dir=sandbox.short_tmp()))
    work = []
    for index, found in enumerate(submissions):
        text, problem = (None, None) if found.refused else read_file(found.path)
        nb, _ = read_submission(text)
        name = assignment or which_assignment(nb, found.path, names)
        folder_of = folder_name(found.student)
        work.append(
            Job(found.student, folder_of, found.path, text, problem, name, source_dir,
                forbidden, limits, sandboxed, run / f"{index:04d}", found.refused)
        )  # fmt: skip
    hidden = {
        n: assignments.secret_lines(_source(source_dir, n), assignments.HIDDEN) for n in names
    }

    def deliver(report: Report) -> None:
        outputs.add(report, hidden.get(report.assignment or "", []))
        if progress is not None:
            progress(report)

    try:
        _Workers(max(1, jobs)).run(work, deliver)
    finally:
        outputs.close()
        sandbox.reap(run)
        shutil.rmtree(run, ignore_errors=True)
    return outputs.reports


# --- command line ---------------------------------------------------------------------


def _line(report: Report) -> str:
    score_text = f"{report.points:5g} / {report.total:<5g}"
    flag = f"  NOT GRADED: {report.failed}" if report.failed else ""
    if report.flagged:
        flag += f"  FLAGGED, tried: {'; '.join(report.flagged)}"
    name = report.student.encode("unicode_escape").decode()
    return f"{name:20} {report.assignment or '?':18} {score_text} ({report.seconds:.1f} s){flag}"


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
        "--out", type=Path, required=True, help="a new folder for gradebook.csv and feedback/"
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
    grade.add_argument(
        "--require-sandbox",
        action="store_true",
        help="refuse to grade when kernels cannot run in the bubblewrap sandbox",
    )
    args = parser.parse_args(argv)
    if args.command == "generate":
        for path in assignments.generate(args.source, args.release):
            print(f"wrote {path}")
        return 0
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder of submissions")
    # Stopped with kill: clean up as for Ctrl-C (kernels and servers of the run reaped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"{parser.prog}: stopped"))
    started = time.monotonic()
    limits = Limits(args.cell_timeout, args.notebook_timeout)
    reports = grade_all(
        args.submissions,
        args.out,
        args.assignment,
        args.jobs,
        limits,
        args.source,
        require_sandbox=args.require_sandbox,
        progress=lambda report: print(_line(report), flush=True),
    )
    elapsed = time.monotonic() - started
    print(f"graded {len(reports)} notebooks in {elapsed:.1f} s with {args.jobs} at a time")
    print(f"gradebook: {args.out / 'gradebook.csv'}; feedback: {args.out / 'feedback'}/")
    return 1 if any(report.failed for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
