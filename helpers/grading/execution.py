"""Running one rebuilt notebook: every code cell in order, the check cells judged from outside.

A cell that never ends is interrupted; one that ignores the interrupt, or that kills
the kernel, is skipped and the notebook replayed in a new kernel (at most
KERNEL_STARTS), so it costs that question, not the run. The audit hook
(helpers.grading.guard) is installed in each kernel before any of the learner's code.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import zmq
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from helpers import assignments, judge, remote, sandbox
from helpers.grading import kernel
from helpers.grading.contract import GUARD_MODULE
from helpers.grading.rebuild import feedback_only

CELL_TIMEOUT = 30
NOTEBOOK_TIMEOUT = 300
KERNEL_STARTS = 4

GUARD = f"import {GUARD_MODULE} as _guard\n_guard.install({{roots!r}})\ndel _guard"
REPORT = (
    f"import json as _json\nimport {GUARD_MODULE} as _guard\n"
    "print({token!r} + _json.dumps(_guard.attempts[:20]))\ndel _json, _guard"
)


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Seconds a cell, and a whole notebook, may run."""

    cell: int = CELL_TIMEOUT
    notebook: int = NOTEBOOK_TIMEOUT


@dataclass
class CellRun:
    """What happened to one cell of the graded notebook."""

    status: str = "not run"  # ok, failed, error, timeout, hung, died, skipped, not run
    detail: str = ""
    stdout: str = ""


class GraderError(RuntimeError):
    """The grader itself could not run a notebook (not the learner's fault)."""


def summarise(cell: Any) -> CellRun:
    """A run cell's outcome: ok, or the error it raised (the last one)."""
    error = None
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            error = f"{output.ename}: {output.evalue}"
    stdout = kernel.printed(cell)
    return CellRun("error", error, stdout) if error else CellRun("ok", "", stdout)


def execute(
    nb: Any,
    box: sandbox.Box,
    *,
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

    def _start_kernel(self, stack: contextlib.ExitStack) -> kernel.Client:
        """A fresh kernel with the guard installed; one retry, for a busy machine."""
        log_path = self.box.root / "kernel-stderr.log"
        log = stack.enter_context(log_path.open("a"))
        problem: Exception | None = None
        for _attempt in range(2):
            client = kernel.new_client(self.nb, self.box, self.limits.cell)
            try:
                with self.box.filter_fd() as fd:
                    passed = (fd,) if fd is not None else ()
                    env = self.box.env()
                    stack.enter_context(
                        client.setup_kernel(env=env, stdout=log, stderr=log, pass_fds=passed)
                    )
            except RuntimeError as error:  # died or never answered kernel_info
                problem = error
                if client.km is not None and client.km.has_kernel:
                    with contextlib.suppress(Exception):
                        run_sync(client.km.shutdown_kernel)(now=True)
                continue
            kernel.silent(client, self.guard, kernel.PROBE_TIMEOUT * 4)
            return client
        log.flush()
        tail = log_path.read_text(errors="replace")[-500:]
        raise GraderError(f"the Python kernel did not start ({problem}). {tail}")

    def _cells(self, client: kernel.Client, runs: list[CellRun]) -> tuple[int, CellRun] | None:
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
            if feedback_only(cell):
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
                if kernel.recovers(client):
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
            runs[index] = summarise(cell)
        self._collect_attempts(client)
        return None

    def _judge(self, client, cell, index, runs, limit) -> tuple[int, CellRun] | None:  # noqa: ANN001
        """Decide a check cell from outside the kernel (helpers.judge, helpers.remote)."""
        line = remote.Kernel(functools.partial(kernel.ask, client), time.monotonic() + limit)
        answers = remote.RemoteAnswers(line, self.box)
        where = f"{self.assignment}, cell {index}"
        try:
            message = judge.judge_cell(self.assignment, cell.source, where, answers, self.trusted)
        except remote.KernelLost as lost:
            return index, CellRun(lost.args[0], lost.args[1])
        runs[index] = CellRun("failed", message) if message else CellRun("ok")
        return None

    def _collect_attempts(self, client: kernel.Client) -> None:
        """What the audit hook blocked (a second layer: the sandbox is the defence)."""
        token = secrets.token_hex(16)
        with contextlib.suppress(Exception):
            printed = kernel.silent(client, REPORT.format(token=token), kernel.PROBE_TIMEOUT)
            for line in printed.splitlines():
                if line.startswith(token):
                    found = json.loads(line[len(token) :])
                    self.attempts += [str(item)[:200] for item in found if isinstance(item, str)]
