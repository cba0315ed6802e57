"""Installed by the grader in each submission's kernel before any of the learner's code runs.

A submission runs on the instructor's machine as the instructor's user, next to the
source notebooks (solutions, hidden tests), the other students' submissions and the
gradebook. This guard, a Python audit hook, refuses to open or list those paths and
refuses to start processes (a shell could read them), and records each attempt so the
grader can report it. An audit hook cannot be removed once added.

It stops the easy ways, not a determined attacker (ctypes can get around any audit
hook): the feedback tells the instructor which notebooks tried.
"""

from __future__ import annotations

import os
import sys
import threading

BLOCKED = "blocked by the grader"
SPAWN_EVENTS = {
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
}
PATH_EVENTS = {"open", "os.listdir", "os.scandir", "os.chdir", "shutil.copyfile", "os.rename"}

attempts: list[str] = []
_installed = threading.Event()


def _under(path: object, roots: tuple[str, ...]) -> bool:
    if isinstance(path, int) or path is None:
        return False
    try:
        resolved = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return any(resolved == root or resolved.startswith(root + os.sep) for root in roots)


def install(forbidden: list[str]) -> None:
    """Refuse access to `forbidden` paths and process creation from now on, in this process.

    The roots live in the hook's closure, not in a module global a notebook could reset.
    """
    if _installed.is_set():
        raise RuntimeError("the grading guard is already installed")
    roots = tuple(os.path.realpath(path) for path in forbidden)
    inside = threading.local()

    def hook(event: str, args: tuple) -> None:
        if event not in PATH_EVENTS and event not in SPAWN_EVENTS:
            return
        if getattr(inside, "active", False):
            return
        inside.active = True
        try:
            if event in SPAWN_EVENTS:
                what = f"starting a process ({event})"
            elif args and _under(args[0], roots):
                what = f"{event} {os.fsdecode(args[0])}"
            else:
                return
            attempts.append(what)
            raise PermissionError(f"{what}: {BLOCKED} while grading")
        finally:
            inside.active = False

    sys.addaudithook(hook)
    _installed.set()
