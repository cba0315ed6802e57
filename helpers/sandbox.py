"""Where a submission runs while it is graded: a box of its own, an OS sandbox around its kernel.

A submission is code from someone who may want marks without the work, run on the
instructor's machine. Each one gets a Box: a private folder for its kernel's connection
(IPC sockets, no TCP), a private redis-server reached over a Unix socket, and, where
bubblewrap (`bwrap`) works, a sandbox around the kernel in which it sees:

* the Python installation and the pack's `helpers/`, read-only;
* an empty private HOME and TMPDIR (size-limited tmpfs), its own /proc;
* its own connection folder, and its Redis socket (read-only, so it cannot be replaced);
* no network (a network namespace with only its own loopback), no other process;
* nothing else: no instructor source, no submissions, no output folder, no repository.

Limits: address space, file size and open files (prlimit); no new processes (a seccomp
filter allows threads only); the whole sandbox dies with the kernel's manager.
Where bwrap is missing or cannot create namespaces (macOS, locked-down hosts) the
kernel runs unsandboxed, with only the private folders; the grader says so.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import redis

import helpers
from helpers import redis_server, server_process
from helpers.grading import contract

HOME = "/home/learner"  # the kernel's HOME inside the sandbox
MEMORY = 2 * 2**30  # bytes of address space for the kernel
FILE_SIZE = 64 * 2**20  # bytes per file the kernel may write
SCRATCH = 128 * 2**20  # bytes of HOME and of /tmp inside the sandbox
OPEN_FILES = 256
REDIS_MEMORY = "256mb"
# Commands a submission has no use for, and that would let it stop or reconfigure the
# Redis the grader checks effects on.
REDIS_DENIED = ["-shutdown", "-config", "-debug", "-module", "-replicaof", "-slaveof", "-acl"]
REDIS_DENIED += ["-monitor", "-save", "-bgsave", "-bgrewriteaof", "-failover", "-sync", "-psync"]
SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
SYSTEM_FILES = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/fonts",
    "/etc/mime.types",
]
KEPT_ENV = ["PATH", "LANG", "LC_ALL", "PYTHONPATH"]


def bwrap_command() -> list[str] | None:
    """prlimit + bwrap, when both are installed."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    return [prlimit, bwrap] if bwrap and prlimit else None


@functools.cache
def problem() -> str | None:
    """None when kernels can be sandboxed here; otherwise why not, in one sentence."""
    tools = bwrap_command()
    if tools is None:
        return "bubblewrap (bwrap) or prlimit is not installed"
    if _no_new_processes() is None:
        return f"no process filter is known for this CPU ({platform.machine()})"
    box = Box(Path(tempfile.mkdtemp(prefix="probe-", dir=short_tmp())), sandboxed=True)
    try:
        env = box.env()  # what a kernel gets, PYTHONPATH included
        with box.filter_fd() as fd:
            command = box.wrap([sys.executable, "-c", f"import {contract.CHECKS_MODULE}"])
            result = subprocess.run(
                command, env=env, capture_output=True, timeout=60, pass_fds=(fd,), text=True
            )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start ({error})"
    finally:
        box.close()
    if result.returncode != 0:
        return f"bwrap could not create a sandbox here ({result.stderr.strip()[-300:]})"
    return None


def short_tmp() -> str:
    """A temporary folder with short paths: Unix socket paths are limited to ~100 bytes."""
    return "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()


class Box:
    """One submission's private folders and Redis, and the command that sandboxes its kernel."""

    def __init__(self, root: Path, *, sandboxed: bool) -> None:
        self.root, self.sandboxed = root, sandboxed
        self.run = root / "run"  # connection file, kernel IPC sockets, the relay socket
        self.sockets = root / "redis"  # the Redis socket, read-only inside the sandbox
        self.data = root / "redis-data"
        self.home = root / "home"  # unsandboxed only: inside, HOME is a tmpfs
        for folder in (self.run, self.sockets, self.data, self.home, self.home / "tmp"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.redis: subprocess.Popen | None = None
        self._filter: int | None = None  # the descriptor bwrap reads the seccomp filter from

    @property
    def redis_socket(self) -> Path:
        return self.sockets / "redis.sock"

    @property
    def redis_url(self) -> str:
        return f"unix://{self.redis_socket}"

    def start_redis(self) -> str:
        """A redis-server for this submission only, on a Unix socket; its URL."""
        binary, _origin = redis_server.find_binary()
        command = [
            binary,
            "--port", "0",
            "--unixsocket", str(self.redis_socket),
            "--unixsocketperm", "777",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.data),
            "--logfile", str(self.data / "redis.log"),
            "--maxmemory", REDIS_MEMORY,
            "--maxmemory-policy", "noeviction",
            "--user", "default", "on", "nopass", "~*", "&*", "+@all", *REDIS_DENIED,
        ]  # fmt: skip
        self.redis = server_process.spawn(command)
        socket_path = str(self.redis_socket)
        if server_process.wait_until(
            self.redis, lambda: server_process.answers(self.redis.pid, unix_socket_path=socket_path)
        ):
            return self.redis_url
        tail = (self.data / "redis.log").read_text(errors="replace")[-300:]
        raise RuntimeError(f"the grader's redis-server ({binary}) did not start: {tail}")

    def fresh_redis(self) -> None:
        """An empty Redis for the next kernel: flushed, or started again if it stopped."""
        if self.redis is None or self.redis.poll() is not None:
            self.redis_socket.unlink(missing_ok=True)
            self.start_redis()
            return
        with self.client() as client:
            client.flushall()

    def client(self, **options) -> redis.Redis:
        """The grader's own connection to this submission's Redis."""
        options.setdefault("decode_responses", True)
        options.setdefault("socket_timeout", 5)
        return redis.Redis(unix_socket_path=str(self.redis_socket), **options)

    def env(self) -> dict[str, str]:
        """The kernel's environment: what it needs and nothing of the instructor's.

        The grading contract's variables included (helpers.grading.contract.KERNEL_ENV).
        """
        home = HOME if self.sandboxed else str(self.home)
        tmp = "/tmp" if self.sandboxed else str(self.home / "tmp")
        env = {key: os.environ[key] for key in KEPT_ENV if key in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(
            HOME=home,
            TMPDIR=tmp,
            IPYTHONDIR=f"{home}/.ipython",
            JUPYTER_CONFIG_DIR=f"{home}/.jupyter",
            JUPYTER_DATA_DIR=f"{home}/.local/share/jupyter",
            JUPYTER_RUNTIME_DIR=f"{home}/.local/share/jupyter/runtime",
            MPLCONFIGDIR=f"{home}/.matplotlib",
            MALLOC_ARENA_MAX="2",
            REDIS_URL=self.redis_url,
        )
        env.update(contract.KERNEL_ENV)
        return env

    def wrap(self, command: list[str]) -> list[str]:
        """`command` inside the sandbox with its limits; unchanged when unsandboxed."""
        tools = bwrap_command()
        if not self.sandboxed or tools is None:
            return command
        if self._filter is None:
            raise RuntimeError("wrap() is called inside `with box.filter_fd():`")
        prlimit, bwrap = tools
        limits = [
            prlimit,
            f"--as={MEMORY}",
            f"--fsize={FILE_SIZE}",
            f"--nofile={OPEN_FILES}",
            "--core=0",
            "--",
        ]
        args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
        args += ["--uid", "65534", "--gid", "65534", "--die-with-parent"]
        for folder in SYSTEM_DIRS:
            if os.path.islink(folder):
                args += ["--symlink", os.readlink(folder), folder]
            elif os.path.isdir(folder):
                args += ["--ro-bind", folder, folder]
        for path in SYSTEM_FILES:
            args += ["--ro-bind-try", path, path]
        # The scratch file systems first: a bind below /tmp (a pack, a box) goes on top.
        args += ["--size", str(SCRATCH), "--tmpfs", "/tmp"]
        args += ["--size", str(SCRATCH), "--tmpfs", HOME]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for path in self._python_paths():
            args += ["--ro-bind", path, path]
        args += ["--bind", str(self.run), str(self.run)]
        args += ["--ro-bind", str(self.sockets), str(self.sockets)]
        args += ["--chdir", HOME, "--clearenv"]
        for key, value in self.env().items():
            args += ["--setenv", key, value]
        args += ["--setenv", "PYTHONNOUSERSITE", "1"]
        args += ["--seccomp", str(self._filter), "--"]
        return limits + args + command

    @staticmethod
    def _python_paths() -> list[str]:
        """The interpreter, its environment and the pack's helpers: all the kernel may read."""
        pack = Path(helpers.__file__).resolve().parent
        paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
        paths.add(str(pack))
        kept = sorted(p for p in paths if p and not any(p.startswith(s + "/") for s in SYSTEM_DIRS))
        # Drop paths inside another kept path: bwrap mounts each once.
        return [p for p in kept if not any(p != q and p.startswith(q + "/") for q in kept)]

    @contextlib.contextmanager
    def filter_fd(self):
        """The seccomp filter on a descriptor of its own while a sandboxed kernel starts.

        Pass the descriptor to the kernel's process (pass_fds); wrap() names it to bwrap.
        """
        if not self.sandboxed:
            yield None
            return
        read, write = os.pipe()
        os.write(write, _no_new_processes() or b"")
        os.close(write)
        self._filter = read
        try:
            yield read
        finally:
            self._filter = None
            os.close(read)

    def close(self) -> None:
        """Stop the Redis and remove the folders; safe to call twice."""
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _no_new_processes() -> bytes | None:
    """A seccomp filter (classic BPF) that lets a process make threads but no processes.

    fork, vfork and clone without CLONE_THREAD fail with EPERM; clone3 says ENOSYS, so
    the C library falls back to clone for threads. None for a CPU we have no numbers for.
    """
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        arch, calls = 0xC000003E, {"clone": 56, "fork": 57, "vfork": 58}
    elif machine in ("aarch64", "arm64"):
        arch, calls = 0xC00000B7, {"clone": 220}
    else:
        return None
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    eperm, enosys = 0x00050000 | 1, 0x00050000 | 38
    program = [(load, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, kill), (load, 0, 0, 0)]
    if arch == 0xC000003E:  # the x32 ABI numbers its calls from 0x40000000
        program += [(jge, 0, 1, 0x40000000), (ret, 0, 0, eperm)]
    program += [(jeq, 0, 1, 435), (ret, 0, 0, enosys)]  # clone3
    for name in ("fork", "vfork"):
        if name in calls:
            program += [(jeq, 0, 1, calls[name]), (ret, 0, 0, eperm)]
    program += [(jeq, 1, 0, calls["clone"]), (ret, 0, 0, allow)]
    program += [(load, 0, 0, 16), (jset, 1, 0, 0x00010000), (ret, 0, 0, eperm), (ret, 0, 0, allow)]
    return b"".join(struct.pack("=HBBI", *step) for step in program)


# --- finding and stopping what a run started ---------------------------------------------------


def processes_under(folder: Path) -> list[int]:
    """Pids whose command line names a path inside `folder`: what a grading run started.

    Anything else is not ours and is left alone, whatever it is called.
    """
    marker = os.fsencode(str(folder)) + b"/"
    found = []
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        return found
    listing = subprocess.run(["ps", "-axo", "pid=,command="], capture_output=True, check=False)
    for line in listing.stdout.splitlines():
        pid, _, command = line.strip().partition(b" ")
        if pid.isdigit() and marker in command and int(pid) != os.getpid():
            found.append(int(pid))
    return found


def reap(folder: Path) -> list[int]:
    """SIGKILL every process started for a run whose folder is `folder`; their pids."""
    killed = []
    for pid in processes_under(folder):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed
