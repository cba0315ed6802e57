"""Running a notebook as a learner does, for the notebook tests of every route.

A notebook runs top to bottom in a fresh kernel (and again in the same kernel when
asked); every run must end without error output, and the kernel must be left with
nothing running: no registered background workers, no new threads, no child
processes but its Redis, and no Redis once it has shut down.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from tests.support import NOTEBOOKS, alive, gone

PROBE = """
import json as _json, os as _os, threading as _threading
from pathlib import Path as _Path
from helpers import background as _background, redis_server as _redis_server
_children = []
for _task in _Path(f"/proc/{_os.getpid()}/task").glob("*"):
    _children += (_task / "children").read_text().split()
_Path(ANSWER_FILE).write_text(_json.dumps({
    # pyzmq starts its GarbageCollectorThread the first time the kernel sends an output
    # over 64 KiB (a figure): kernel machinery, not something the notebook left running.
    "threads": {str(t.ident): t.name for t in _threading.enumerate()
                if not type(t).__module__.startswith("zmq.")},
    "background": _background.running(),
    "children": [int(c) for c in _children],
    "redis_pid": _redis_server._embedded.pid if _redis_server._embedded else None,
    "embedded": _redis_server._embedded.origin if _redis_server._embedded else None,
    "server": str(_redis_server._server) if _redis_server._server else None,
}))
"""


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def problems(cells: list) -> list[str]:
    """Error outputs and stderr text, with the cell they came from."""
    found = []
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                found.append(f"cell {index}: {output['ename']}: {output['evalue']}")
            elif output["output_type"] == "stream" and output["name"] == "stderr":
                found.append(f"cell {index} wrote to stderr: {output['text'][:500]}")
    return found


def missing_figures(code_cells: list) -> list[str]:
    """Cells that draw a plot every time they run but showed no image."""
    found = []
    for index, cell in code_cells:
        drawn = any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        if draws_plot(cell.source, unconditionally=True) and not drawn:
            found.append(f"cell {index} draws a plot but showed no figure")
    return found


# pyplot calls that change settings or state but draw nothing (names starting so).
PYPLOT_SETTINGS = ("close", "rc", "style", "ioff", "ion", "switch_backend", "get_backend")
AXES_DRAWING = {"plot", "hist", "bar", "barh", "scatter", "ecdf", "step", "boxplot", "imshow"}
AXES_DRAWING.add("fill_between")
# Statements whose body may not run when the cell does: a definition, a branch, a loop.
MAYBE_RUN = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.If, ast.For,
    ast.AsyncFor, ast.While, ast.Try, ast.TryStar, ast.With, ast.AsyncWith, ast.Match,
)  # fmt: skip


def draws_plot(source: str, *, unconditionally: bool = False) -> bool:
    """Whether a code cell draws a figure, judged from its source: the one rule for every
    test that asks a cell for its plot.

    A cell draws when it calls a helpers.plots function that returns a Figure, pyplot
    (not its settings), an Axes plotting method, or any `.plot(`. With `unconditionally`,
    only calls the cell makes on every run count, not those inside a function, a branch,
    a loop or a `with`: what a run without a button press (or without a private Redis
    for a skipped experiment) must still show.
    """
    tree = ast.parse(TransformerManager().transform_cell(source))  # %magics become calls
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if unconditionally and isinstance(node, MAYBE_RUN):
            continue
        if isinstance(node, ast.Call) and _draws(node.func):
            return True
        todo.extend(ast.iter_child_nodes(node))
    return False


def _draws(func: ast.expr) -> bool:
    """Whether calling `func` (an expression like plt.hist or plots.latency) draws."""
    if not isinstance(func, ast.Attribute):
        return False
    owner, name = func.value, func.attr
    if isinstance(owner, ast.Subscript):  # axes[0].plot(...)
        owner = owner.value
    owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
    if owner_name == "plots":
        return name in figure_functions()
    if owner_name == "plt":
        return not name.startswith(PYPLOT_SETTINGS)
    return name == "plot" or (owner_name.startswith("ax") and name in AXES_DRAWING)


@functools.cache
def figure_functions() -> frozenset[str]:
    """The helpers.plots functions that return a Figure: a cell calling one shows a plot.

    Imported here, not at the top: matplotlib only for the tests that judge a cell."""
    plots = importlib.import_module("helpers.plots")
    return frozenset(
        name
        for name, function in inspect.getmembers(plots, inspect.isfunction)
        if not name.startswith("_")
        and function.__module__.startswith(plots.__name__)
        and "Figure" in str(inspect.signature(function).return_annotation)
    )


def probe(client: NotebookClient, nb) -> dict:
    """What the kernel is running now. The answer comes back in a file, not as the cell's
    printed output: on a loaded machine a kernel's last output can miss the cell's end."""
    with tempfile.TemporaryDirectory() as folder:
        answer = Path(folder) / "probe.json"
        cell = nbformat.v4.new_code_cell(PROBE.replace("ANSWER_FILE", repr(str(answer))))
        nb.cells.append(cell)
        try:
            client.execute_cell(cell, len(nb.cells) - 1)
        finally:
            nb.cells.pop()
        assert answer.exists(), f"the probe cell did not answer: {cell.outputs}"
        return json.loads(answer.read_text())


@dataclass
class Run:
    """What a kernel looked like before the notebook's first cell and after its last run."""

    before: dict
    after: dict


def run_notebook(path: Path, runs: int = 2, env: dict[str, str] | None = None) -> Run:
    """Run every code cell `runs` times in one fresh kernel; fail on any error or stderr.

    `env` is added to this process's environment for the kernel (REDIS_URL, PATH).
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=180,
        iopub_timeout=30,  # outputs that arrive late on a loaded machine are waited for
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},  # vi/ for the Vietnamese
    )
    kernel_env = {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    with client.setup_kernel(env={**kernel_env, **(env or {})}):
        before = probe(client, nb)
        code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        for run in range(1, runs + 1):
            for index, cell in code_cells:
                client.execute_cell(cell, index)
            found = problems(nb.cells) + missing_figures(code_cells)
            assert not found, f"{path.name}, run {run} of {runs}:\n" + "\n".join(found)
        after = probe(client, nb)
    return Run(before, after)


def assert_left_nothing(path: Path, run: Run) -> None:
    """No workers, threads or child processes left; the kernel's Redis gone with the kernel."""
    before, after = run.before, run.after
    assert after["background"] == [], f"{path.name} left background workers running"
    new_threads = set(after["threads"]) - set(before["threads"])
    assert not new_threads, (
        f"{path.name} left threads: {[after['threads'][t] for t in new_threads]}"
    )
    others = [pid for pid in after["children"] if pid != after["redis_pid"] and alive(pid)]
    assert not others, f"{path.name} left child processes {others}"
    if after["redis_pid"]:
        assert gone(after["redis_pid"]), "the kernel's redis-server outlived the kernel"
