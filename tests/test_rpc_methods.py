"""One set of course RPC methods: the method cells of notebooks 03 and 04, which learners
read and edit, and helpers/rpc/methods.py, which `python -m helpers.rpc`, the bench and
the tests serve, define the same names with the same parameters."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import Any

import nbformat
import pytest

from helpers.rpc import methods as course
from tests.support import NOTEBOOKS

METHOD_CELLS = {
    "03_json_rpc.ipynb": "6be2b1af",
    "04_json_rpc_failures_and_transports.ipynb": "nb04r-04",
}


def cell_source(notebook: str, cell_id: str) -> str:
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    for cell in nb.cells:
        if cell.id == cell_id:
            return cell.source
    raise KeyError(f"{notebook} has no cell {cell_id}: update METHOD_CELLS")


def served_in_cell(source: str) -> dict[str, Callable[..., Any]]:
    """The cell's `methods = {...}` dict, each name bound to the function the cell defines.

    Only the `def` statements run (in an empty namespace): a def does not run its body,
    so neither Redis nor the cell's imports are needed to read the signatures.
    """
    tree = ast.parse(source)
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(body=defs, type_ignores=[]), "<cell>", "exec"), namespace)
    (table,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [ast.unparse(target) for target in node.targets] == ["methods"]
    ]
    assert isinstance(table, ast.Dict), "the cell's `methods` is no longer a dict literal"
    return {
        ast.literal_eval(key): namespace[ast.unparse(value)]
        for key, value in zip(table.keys, table.values, strict=True)
    }


def bare(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults of the parameters: what a JSON-RPC call binds to."""
    parameters = inspect.signature(function).parameters.values()
    return [(p.name, p.kind, p.default) for p in parameters]


@pytest.mark.parametrize("notebook", sorted(METHOD_CELLS))
def test_each_method_the_notebook_serves_is_in_methods_py_with_the_same_parameters(
    notebook: str,
) -> None:
    served = served_in_cell(cell_source(notebook, METHOD_CELLS[notebook]))
    ours = course.course_methods()
    assert served, f"no methods found in {notebook}"
    for name, function in served.items():
        assert name == function.__name__, f"{notebook} serves {function.__name__} as {name}"
        assert name in ours, f"{notebook} serves {name}, which helpers/rpc/methods.py lacks"
        assert bare(function) == bare(ours[name]), f"{name} differs from {notebook}'s"


def test_methods_py_has_no_course_method_the_notebooks_lack() -> None:
    names = set()
    for notebook, cell_id in METHOD_CELLS.items():
        names |= set(served_in_cell(cell_source(notebook, cell_id)))
    assert set(course.course_methods()) == names
