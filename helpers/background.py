"""Background servers and workers that a notebook cell starts, re-runs and stops.

Learners re-run cells. Starting a service twice must replace the first one, and kernel
exit must leave nothing running. So everything that runs in the background registers
here under a name: `replace(name, start)` stops what the name ran before and then
starts the new one, and `stop_all()` runs at interpreter exit.

`Worker` is the one shape of a background thread in the pack: start, stop (which
interrupts, joins with a timeout, then closes), `running`, and a repr that says which.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Protocol, Self, TypeVar


class Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=Stoppable)

_registry: dict[str, Stoppable] = {}
_lock = threading.Lock()


def register(name: str, worker: S) -> S:
    """Keep `worker` under `name`, stopping whatever held that name before."""
    stop(name)
    with _lock:
        _registry[name] = worker
    return worker


def replace(name: str, start: Callable[[], S]) -> S:
    """Stop what `name` ran before, then call `start()` and keep its result under `name`.

    The old one stops before the new one starts, so a port, a consumer name or a
    subscription the new one asks for again is free by then: this is what a re-run
    cell needs.
    """
    stop(name)
    return register(name, start())


def stop(name: str) -> bool:
    """Stop the worker registered as `name`; False if there was none."""
    with _lock:
        worker = _registry.pop(name, None)
    if worker is None:
        return False
    worker.stop()
    return True


def stop_all() -> list[str]:
    """Stop every registered worker (newest first) and return their names."""
    with _lock:
        names = list(_registry)[::-1]
    for name in names:
        stop(name)
    return names


def running() -> list[str]:
    """Names of the workers still registered."""
    with _lock:
        return list(_registry)


class _Steps:
    """Plain calls registered as one worker: stop() makes them in order."""

    def __init__(self, steps: tuple[Callable[[], object], ...]) -> None:
        self.steps = steps

    def stop(self) -> None:
        for step in self.steps:
            step()


def on_stop(name: str, *steps: Callable[[], object]) -> None:
    """Register `steps` under `name`: stop(name), stop_all() and kernel exit call them in order.

    For the servers, threads and subscriptions a notebook cell builds with its own code
    (`server.shutdown, server.server_close, thread.join`): the cell calls stop(name) at
    its top, so a re-run stops what its last run started, and the clean-up finds it too.
    """
    register(name, _Steps(steps))


class Worker:
    """A named daemon thread that a cell starts and a re-run or kernel exit stops.

    A subclass writes `run()`, a loop that ends once `self.stopping` is set (waiting
    with `self.stopping.wait(t)`, not `time.sleep`, so a stop is not held up). One that
    waits on something else overrides `interrupt()` to wake it (an HTTP server's
    `shutdown`), and `close()` to free what it holds once the thread has ended.
    `describe()` adds to the repr, which always says running or stopped.
    """

    join_timeout = 5.0  # s stop() waits for the thread before closing what it holds

    def __init__(self, name: str) -> None:
        self.name = name
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def start(self) -> Self:
        """Start the thread; returns the worker, so `Worker(...).start()` reads as one step."""
        self.thread.start()
        return self

    def run(self) -> None:
        raise NotImplementedError("a Worker subclass says what its thread does in run()")

    def interrupt(self) -> None:
        """Ask the thread to end; run() sees `self.stopping` set."""
        self.stopping.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` s (join_timeout if None) for the thread; True if it ended.

        Called from the worker's own thread (a run() that stops itself) it does not wait.
        """
        if self.thread.ident is not None and self.thread is not threading.current_thread():
            self.thread.join(self.join_timeout if timeout is None else timeout)
        return not self.thread.is_alive()

    def close(self) -> None:
        """Free connections, sockets or files the worker holds; runs after the thread ends."""

    def stop(self, timeout: float | None = None) -> None:
        """Interrupt, wait up to `timeout` s for the thread, then close. Safe to call twice."""
        self.interrupt()
        self.join(timeout)
        self.close()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def describe(self) -> str:
        """What the repr adds after running/stopped: counts, a URL, a queue."""
        return ""

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        extra = self.describe()
        return f"<{type(self).__name__} {self.name!r} {state}{', ' + extra if extra else ''}>"


atexit.register(stop_all)
