"""Grading a folder of submissions: checks before the run, the jobs, and the outputs.

Everything that would make the whole run useless (no such assignment, sources that
cannot be graded, no submissions, an output folder in use) stops it before any kernel
starts, with a message that says what to do.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from helpers import assignments, sandbox
from helpers.grading.execution import Limits
from helpers.grading.gradebook import OutputError, Outputs, Report, folder_name
from helpers.grading.job import Job
from helpers.grading.pool import Workers
from helpers.grading.submissions import (
    find_submissions,
    read_file,
    read_submission,
    source,
    which_assignment,
)

DEFAULT_LIMITS = Limits()


def sandbox_choice(*, require: bool) -> bool:
    """True if kernels will be sandboxed; says plainly when they will not be."""
    problem = sandbox.problem()
    if problem is None:
        return True
    message = (
        f"submissions will run UNSANDBOXED: {problem}. A submission can then read and change "
        "anything your user can (the sources with their solutions, other submissions, the "
        "gradebook). Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on Linux."
    )
    if require:
        raise SystemExit(f"--require-sandbox: {message}")
    print(f"WARNING: {message}", file=sys.stderr)
    return False


def grade_all(
    folder: Path,
    out: Path,
    *,
    assignment: str | None = None,
    jobs: int = 2,
    limits: Limits = DEFAULT_LIMITS,
    source_dir: Path = assignments.SOURCE_DIR,
    require_sandbox: bool = False,
    progress: Callable[[Report], object] | None = None,
) -> list[Report]:
    """Grade every notebook under `folder`; write the gradebook and feedback into `out`."""
    folder, out, source_dir = folder.resolve(), out.absolute(), source_dir.resolve()
    names = [path.stem for path in assignments.source_paths(source_dir)]
    if assignment is not None and assignment not in names:
        raise SystemExit(
            f"no assignment {assignment!r} in {source_dir}; there are: {', '.join(names)}"
        )
    try:
        for name in names:
            source(source_dir, name)
    except assignments.AssignmentError as error:
        raise SystemExit(f"the assignment sources cannot be graded: {error}") from None
    submissions = find_submissions(folder)
    if not submissions:
        raise SystemExit(f"no .ipynb files under {folder}: expected {folder}/STUDENT/NAME.ipynb")
    sandboxed = sandbox_choice(require=require_sandbox)
    try:
        outputs = Outputs(out)
    except (OutputError, OSError) as error:
        raise SystemExit(str(error)) from None
    forbidden = (str(source_dir), str(folder), str(out), str(assignments.ROOT / ".git"))
    run = Path(tempfile.mkdtemp(prefix="grading-", dir=sandbox.short_tmp()))
    work = []
    for index, found in enumerate(submissions):
        text, problem = (None, None) if found.refused else read_file(found.path)
        nb, _ = read_submission(text)
        work.append(
            Job(
                student=found.student,
                folder=folder_name(found.student),
                path=found.path,
                text=text,
                problem=problem,
                assignment=assignment or which_assignment(nb, found.path, names),
                source_dir=source_dir,
                forbidden=forbidden,
                limits=limits,
                sandboxed=sandboxed,
                box=run / f"{index:04d}",
                refused=found.refused,
            )
        )
    hidden = {n: assignments.secret_lines(source(source_dir, n), assignments.HIDDEN) for n in names}

    def deliver(report: Report) -> None:
        outputs.add(report, hidden.get(report.assignment or "", []))
        if progress is not None:
            progress(report)

    try:
        Workers(max(1, jobs)).run(work, deliver)
    finally:
        outputs.close()
        sandbox.reap(run)
        shutil.rmtree(run, ignore_errors=True)
    return outputs.reports
