"""A service run as its own process from a kernel, the way it is deployed.

`launch` runs `python -m helpers.services ...` as a child, waits until it says it is
listening, and registers it so that a re-run cell or kernel exit stops it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from helpers import background

READY = re.compile(r"listening on (http://\S+)")  # what a started service prints first
# Set by ServiceProcess: the kernel's pid, so a service it started exits when the
# kernel is killed (atexit does not run then) instead of holding its port forever.
PARENT_ENV = "COURSE_SERVICE_PARENT"


class ServiceProcess:
    """A service run as its own process, as deployed; its output goes to a log file.

    Started in a session of its own so interrupting the kernel leaves it alone;
    stop() sends SIGINT (Ctrl+C) and waits for it to exit.
    """

    def __init__(self, name: str, command: list[str], *, timeout: float = 15.0) -> None:
        self.name = name
        self.command = command
        handle, path = tempfile.mkstemp(prefix="course-service-", suffix=".log")
        self.log_path = Path(path)
        self._output = ""
        with os.fdopen(handle, "w") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())},
                start_new_session=True,
            )
        try:
            self.url = self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = READY.search(self.output())
            if found:
                return found.group(1).rstrip(",")
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.02)
        raise TimeoutError(
            f"{self.name} did not say it was listening within {timeout} s:\n{self.output()}"
        )

    def output(self) -> str:
        """Everything the process printed so far (kept after stop)."""
        if self.log_path.exists():
            self._output = self.log_path.read_text()
        return self._output

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Signal the process, wait for it (kill after 5 s), and return its exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output()
        self.log_path.unlink(missing_ok=True)
        return self.process.returncode

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else f"exited ({self.process.returncode})"
        return f"<process {self.name!r} pid {self.process.pid} {state}>"


def launch(name: str, command: list[str], *, timeout: float = 15.0) -> ServiceProcess:
    """Start `command` as a process registered under `name`; waits until it is listening.

    What `name` ran before stops first, so the port a re-run asks for again is free.
    """
    return background.replace(name, lambda: ServiceProcess(name, command, timeout=timeout))
