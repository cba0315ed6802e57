"""Many submissions at once: worker processes, each grading one submission at a time.

The parent watches them: a worker that dies or overruns its submission's time is
killed with everything it started, that submission is recorded as failed, and a new
worker takes over. Nothing a submission does can stop the other submissions.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from helpers import sandbox
from helpers.grading.contract import NAMESPACE_ENVS
from helpers.grading.gradebook import Report
from helpers.grading.job import Job, grade_one, stopped

PARENT_MARGIN = 120  # seconds a worker gets beyond the notebook limit before it is stopped


def _work(connection: Any) -> None:
    """A worker process: grade the jobs the parent sends until it sends None."""
    for name in NAMESPACE_ENVS:  # kernels get no channel namespace; the judge must agree
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


class Workers:
    """`count` worker processes (spawned: nothing of the parent's state but the job)."""

    def __init__(self, count: int) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.count = count

    def _start(self) -> _Worker:
        mine, theirs = self.context.Pipe()
        process = self.context.Process(target=_work, args=(theirs,), daemon=True)
        process.start()
        theirs.close()
        return _Worker(process, mine)

    def run(self, jobs: list[Job], deliver: Callable[[Report], None]) -> None:
        """Grade every job; `deliver` gets each report as it comes, in the parent."""
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
                        deliver(stopped(worker.job, "the grader's worker for it stopped"))
                        self._kill(worker)
                        idle.append(self._start())
                for worker in list(busy.values()):
                    allowed = worker.job.limits.notebook + PARENT_MARGIN
                    if time.monotonic() - worker.started > allowed:
                        busy.pop(worker.connection)
                        self._kill(worker)
                        deliver(stopped(worker.job, f"it was still running after {allowed} s"))
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
