"""Batch grading for instructors: a folder of submitted notebooks in, a gradebook and feedback out.

    python -m helpers.grading generate                      # student copies -> assignments/release/
    python -m helpers.grading grade SUBMISSIONS --out DIR   # DIR/gradebook.csv, DIR/feedback/

Exit status: 0 when every submission was graded; 1 when one could not be (it has a
row of zeros and a note) or the run could not start (the message says why); 2 for a
wrong command line.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from helpers import assignments
from helpers.checks import catalog
from helpers.grading.batch import grade_all
from helpers.grading.execution import CELL_TIMEOUT, NOTEBOOK_TIMEOUT, Limits
from helpers.grading.gradebook import Report


def _line(report: Report) -> str:
    score_text = f"{report.points:5g} / {report.total:<5g}"
    flag = f"  NOT GRADED: {report.failed}" if report.failed else ""
    if report.flagged:
        flag += f"  FLAGGED, tried: {'; '.join(report.flagged)}"
    name = report.student.encode("unicode_escape").decode()
    return f"{name:20} {report.assignment or '?':18} {score_text} ({report.seconds:.1f} s){flag}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.grading", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("generate", help="write student copies of the source notebooks")
    make.add_argument("--source", type=Path, default=assignments.SOURCE_DIR)
    make.add_argument("--release", type=Path, default=assignments.RELEASE_DIR)
    grade = commands.add_parser("grade", help="grade a folder of submitted notebooks")
    grade.add_argument(
        "submissions", type=Path, help="SUBMISSIONS/STUDENT/NAME.ipynb or SUBMISSIONS/STUDENT.ipynb"
    )
    grade.add_argument(
        "--out", type=Path, required=True, help="a new folder for gradebook.csv and feedback/"
    )
    grade.add_argument("--assignment", help="grade every notebook as this assignment")
    grade.add_argument("--source", type=Path, default=assignments.SOURCE_DIR)
    grade.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="submissions at once"
    )
    grade.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    grade.add_argument(
        "--notebook-timeout", type=int, default=NOTEBOOK_TIMEOUT, help="seconds per notebook"
    )
    strict = "refuse to grade when kernels cannot run in the bubblewrap sandbox"
    grade.add_argument("--require-sandbox", action="store_true", help=strict)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 if every submission was graded, 1 if one could not be."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "generate":
        for path in assignments.generate(args.source, args.release):
            print(f"wrote {path}")
        if args.source.resolve() == assignments.SOURCE_DIR.resolve():
            # The kernel's copy of the titles and points (helpers/checks/catalog.py).
            print(f"wrote {catalog.write(args.source)}")
        return 0
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder of submissions")
    # Stopped with kill: clean up as for Ctrl-C (kernels and servers of the run reaped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"{parser.prog}: stopped"))
    started = time.monotonic()
    reports = grade_all(
        args.submissions,
        args.out,
        assignment=args.assignment,
        jobs=args.jobs,
        limits=Limits(cell=args.cell_timeout, notebook=args.notebook_timeout),
        source_dir=args.source,
        require_sandbox=args.require_sandbox,
        progress=lambda report: print(_line(report), flush=True),
    )
    elapsed = time.monotonic() - started
    print(f"graded {len(reports)} notebooks in {elapsed:.1f} s with {args.jobs} at a time")
    print(f"gradebook: {args.out / 'gradebook.csv'}; feedback: {args.out / 'feedback'}/")
    return 1 if any(report.failed for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
