"""A throwaway JupyterLab server for the browser tests, and the Chromium to drive it.

The server runs on a free loopback port with a token, and reads nothing of the
user's own Jupyter set-up: settings, workspaces, runtime, config and data live in
a directory of the test's own. It stops, with every kernel it started (and each
kernel's embedded redis), when the tests are done, whether they passed or not.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from helpers.redis_server import free_port
from helpers.waiting import wait_until
from tests.support import alive

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
INSTALL_CHROMIUM = (
    "Chromium is not installed, so the browser tests cannot run. "
    "Install it with: sudo apt-get install chromium "
    "(or set CHROMIUM=/path/to/chromium)."
)
CHROMIUM_FLAGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# What a learner would otherwise have to click away or wait for.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {
        "windowingMode": "none",  # every cell in the page, not only the visible ones
        "autoStartDefaultKernel": True,  # no "Select Kernel" dialog
        "scrollPastEnd": False,  # no blank screen below the last cell in the screenshot
    },
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def find_chromium() -> str | None:
    """The real Chromium binary: $CHROMIUM, Debian's, or one on PATH; None if there is none.

    Debian's /usr/bin/chromium is a shell wrapper; Playwright needs the binary behind it.
    """
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        return wanted if shutil.which(wanted) else None
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def chromium_args() -> list[str]:
    """Flags for a quiet headless Chromium; root cannot use its sandbox."""
    return CHROMIUM_FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc; empty elsewhere)."""
    found = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    found.append(int(child))
                    todo.append(int(child))
    return found


class JupyterLab:
    """A JupyterLab server serving `base/root`, all its state under `base`."""

    def __init__(self, base: Path, locale: str | None = None) -> None:
        self.base = base
        self.locale = locale  # e.g. "vi_VN": JupyterLab's menus in that language
        self.root = base / "root"
        self.token = secrets.token_hex(16)
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = base / "jupyterlab.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        """Open `name` in a fresh workspace, logged in by the token."""
        return f"{self.base_url}/lab/tree/{name}?reset&token={self.token}"

    def start(self, timeout: float = 120) -> JupyterLab:
        """Start the server and wait until its API answers."""
        dirs = {
            name: self.base / name
            for name in ("root", "settings", "workspaces", "runtime", "config", "data", "ipython")
        }
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        settings = dict(LAB_SETTINGS)
        if self.locale:
            settings["@jupyterlab/translation-extension/plugin"] = {"locale": self.locale}
        for plugin, values in settings.items():
            file = dirs["settings"] / f"{plugin}.jupyterlab-settings"
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps(values))
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "IPYTHONDIR": str(dirs["ipython"]),
        }
        env.pop("MPLBACKEND", None)  # the kernel's inline backend is what draws in the page
        self.port = free_port()
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={dirs['root']}",
            f"--IdentityProvider.token={self.token}",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # window.jupyterapp: the tests read each cell's outputs (mime types) from its model.
            "--LabApp.expose_app_in_browser=True",
        ]  # fmt: skip
        if os.geteuid() == 0:
            command.append("--allow-root")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        try:
            wait_until(self._answers, f"JupyterLab answering on port {self.port}", timeout)
        except (TimeoutError, RuntimeError) as error:
            self.stop()
            raise RuntimeError(f"{error}\n--- {self.log_path} ---\n{self.log_tail()}") from None
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}")
        try:
            self.api("GET", "/api/status")
        except (OSError, urllib.error.URLError):
            return False
        return True

    def api(self, method: str, path: str) -> Any:
        """Call the server's REST API with the token; the decoded JSON answer, or None."""
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def kernel_processes(self) -> list[int]:
        """The server's child processes: kernels, and whatever the kernels started."""
        return descendants(self.process.pid) if self.process else []

    def shut_down_kernels(self, timeout: float = 60) -> None:
        """Shut every kernel down, as File > Shut Down would, and wait until their processes
        (each kernel's embedded redis included) have exited."""
        pids = self.kernel_processes()
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")
        wait_until(
            lambda: not [pid for pid in pids if alive(pid)],
            f"kernel processes {pids} exiting after shutdown",
            timeout,
        )

    def stop(self, timeout: float = 30) -> None:
        """Stop the server and anything it left behind; safe to call twice."""
        if self.process is None:
            return
        leftovers = self.kernel_processes()
        if self.process.poll() is None:
            self.process.terminate()  # the server shuts its kernels down, then exits
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not any(map(alive, leftovers)), "kernels exiting", 10)
        for pid in filter(alive, leftovers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process = None
