"""Submissions that try to get marks without the work, or to break the run, graded in one run.

Every attack of tests/attacks.py (one or more per class of the review's table) is
graded together with honest students, two at a time, in the sandbox. None may score
above what it earns honestly; every student gets a row and feedback; nothing is left
running; the gradebook, the feedback and the pack are as the grader wrote them.
"""

from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path

import pytest

from helpers import assignments, grading, sandbox
from helpers.grading import gradebook
from tests import attacks

ROOT = Path(__file__).resolve().parent.parent
LIMITS = grading.Limits(cell=20, notebook=150)
NOT_SANDBOXED = sandbox.problem()

if NOT_SANDBOXED and os.environ.get("REQUIRE_SANDBOX") == "1":
    raise RuntimeError(f"REQUIRE_SANDBOX=1 but kernels cannot be sandboxed: {NOT_SANDBOXED}")
pytestmark = pytest.mark.skipif(
    NOT_SANDBOXED is not None,
    reason=f"the attack suite needs the bubblewrap sandbox ({NOT_SANDBOXED}); "
    "install bubblewrap (apt-get install bubblewrap)",
)

HONEST = [
    attacks.Submission("honest-full-a1", attacks.CHAT, attacks.solved(attacks.CHAT), 8, True),
    attacks.Submission("honest-blank-a1", attacks.CHAT, attacks.release(attacks.CHAT), 0, True),
    attacks.Submission("honest-full-a2", attacks.KV, attacks.solved(attacks.KV), 8, True),
    attacks.Submission("honest-full-a3", attacks.LOSS, attacks.solved(attacks.LOSS), 9, True),
]
# Kept to two of the five 100 MB errors: each one costs its cell's whole time limit.
SHORTER = {"G7": 2}


def _joined(notebooks: list) -> object:
    """A blank a1 with every notebook's own cells (those without nbgrader metadata) after set-up."""
    joined = attacks.release(attacks.CHAT)
    added = [c for nb in notebooks for c in nb.cells if not assignments.grade_id(c)]
    for extra in reversed(added):
        attacks.scratch(joined, extra.source)
    return joined


def _pack_files() -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in (ROOT / "helpers").rglob("*.py")}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """Grade every attack and the honest students in one run; what came out of it."""
    base = tmp_path_factory.mktemp("attacks")
    listener = attacks.Listener()
    ctx = attacks.Context(ROOT, base / "submitted", base / "graded", listener_port=listener.port)
    submissions = list(HONEST)
    shared: dict[str, list] = {}
    for attack in attacks.ATTACKS:
        built = attack.build(ctx)
        if attack.key in SHORTER:
            nb = built[0].notebook
            raising = [c for c in nb.cells if "100_000_000" in c.source]
            for extra in raising[SHORTER[attack.key] :]:
                nb.cells.remove(extra)
        if attack.group:
            shared.setdefault(attack.group, []).append(built[0].notebook)
        else:
            submissions += built
    for group, notebooks in shared.items():  # one notebook per group: fewer kernels to start
        submissions.append(attacks.Submission(f"grouped-{group}", attacks.CHAT, _joined(notebooks)))
    for submission in submissions:
        attacks.write(submission, ctx.submissions)
    before = _pack_files()
    started = time.monotonic()
    try:
        reports = grading.grade_all(ctx.submissions, ctx.out, jobs=2, limits=LIMITS)
    finally:
        seconds = time.monotonic() - started
        listener.close()
        stolen = ROOT / "helpers" / ".stolen.ipynb"
        changed = {p for p, text in before.items() if not p.exists() or p.read_bytes() != text}
        for path in changed:
            path.write_bytes(before[path])
        stolen.unlink(missing_ok=True)
    book = ctx.out / "gradebook.csv"
    first = book.read_bytes()
    time.sleep(3)  # anything left behind has had time to act
    return {
        "ctx": ctx,
        "reports": reports,
        "submissions": submissions,
        "book": first,
        "later": book.read_bytes(),
        "leftovers": attacks.leftovers(ctx.mark),
        "heard": listener.heard,
        "pack_changed": changed,
        "seconds": seconds,
    }


def _totals(run: dict) -> dict[str, float]:
    rows = csv.DictReader(run["book"].decode().splitlines(keepends=True))
    return {row["student"]: float(row["points"]) for row in rows if row["question"] == "TOTAL"}


def _shown(student: str) -> str:
    """The student's name as the gradebook writes it."""
    return gradebook.spreadsheet_safe(gradebook.student_name(student)[0])


def test_every_submission_has_a_row_and_scores_at_most_its_honest_score(run: dict) -> None:
    totals = _totals(run)
    over = []
    for submission in run["submissions"]:
        shown = _shown(submission.student)
        assert shown in totals, f"no TOTAL row for {submission.student!r}"
        if totals[shown] > submission.honest:
            over.append(f"{submission.student!r}: {totals[shown]} > {submission.honest}")
    assert not over, "scored above their honest score: " + "; ".join(over)


def test_honest_students_and_victims_keep_their_scores(run: dict) -> None:
    totals = _totals(run)
    kept = {s.student: s.honest for s in run["submissions"] if s.kept}
    wrong = {
        name: (totals.get(_shown(name)), want)
        for name, want in kept.items()
        if totals.get(_shown(name)) != want
    }
    assert not wrong, f"(got, honest) for students whose score changed: {wrong}"


def test_nothing_changes_after_the_run_and_nothing_is_left_running(run: dict) -> None:
    assert run["later"] == run["book"], "gradebook.csv changed after the grader finished"
    assert run["leftovers"] == [], "processes started by submissions are still running"
    assert not run["pack_changed"], f"a submission changed the pack: {run['pack_changed']}"
    assert not (ROOT / "helpers" / ".stolen.ipynb").exists()


def test_no_submission_reaches_the_host_network(run: dict) -> None:
    assert run["heard"] == [], "a submission connected to a service on the host"


def test_no_hidden_test_reaches_the_feedback(run: dict) -> None:
    hidden = assignments.secret_lines(attacks.source(attacks.CHAT), assignments.HIDDEN)
    for path in (run["ctx"].out / "feedback").rglob("*.md"):
        text = path.read_text()
        assert not attacks.leaked_hidden_lines(text, hidden), path
        assert not [line for line in hidden if line in text], path


def test_output_folder_holds_only_what_the_grader_wrote(run: dict) -> None:
    out = run["ctx"].out
    assert sorted(p.name for p in out.iterdir()) == ["feedback", "gradebook.csv"]
    for path in out.rglob("*"):
        assert not path.is_symlink(), path
        assert path.resolve().is_relative_to(out.resolve()), path


def test_student_names_cannot_run_as_formulas_or_forge_rows(run: dict) -> None:
    lines = run["book"].decode().splitlines()
    rows = list(csv.reader(lines))
    assert all(len(row) == 5 for row in rows), "a name broke a row"
    for row in rows[1:]:
        assert not row[0].startswith(gradebook.FORMULA_START), row
    refused = {r.student: r.failed for r in run["reports"] if r.failed.startswith("refused")}
    assert any("line break" in why for why in refused.values()), refused
    assert any("'..'" in why for why in refused.values()), refused
    assert sum("symbolic link" in why for why in refused.values()) == 2, refused


FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _outside_fences(text: str) -> list[str]:
    """The lines of a Markdown text that are not inside a fenced code block (CommonMark)."""
    outside, fence = [], None
    for line in text.splitlines():
        found = FENCE.match(line)
        if fence is None and found:
            fence = found.group(1)
        elif fence is not None:
            closing = found and line.strip() == found.group(1)
            if closing and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence):
                fence = None
        else:
            outside.append(line)
    return outside


def test_learner_text_in_feedback_cannot_close_a_fence_or_inject_html(run: dict) -> None:
    folder = run["ctx"].out / "feedback" / "h2-fence"
    text = (folder / f"{attacks.CHAT}.md").read_text()
    assert "INJECTED-HEADING" in text, "the test needs the learner's text in the feedback"
    for path in (run["ctx"].out / "feedback").rglob("*.md"):
        for line in _outside_fences(path.read_text()):
            assert "<script" not in line and "<img" not in line, (path, line)
            assert not line.startswith("# INJECTED"), (path, line)


def test_the_suite_reports_its_time(run: dict) -> None:
    slowest = sorted(run["reports"], key=lambda r: -r.seconds)[:5]
    print(f"graded {len(run['submissions'])} submissions in {run['seconds']:.0f} s, two at a time")
    print("slowest: " + ", ".join(f"{r.student} {r.seconds:.0f} s" for r in slowest))


# --- the output folder --------------------------------------------------------------------------


def test_an_existing_output_folder_or_a_linked_gradebook_is_refused(tmp_path: Path) -> None:
    submitted = tmp_path / "submitted" / "ann"
    submitted.mkdir(parents=True)
    (submitted / f"{attacks.CHAT}.ipynb").write_text("")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    out = tmp_path / "graded"
    out.mkdir()
    (out / "gradebook.csv").symlink_to(precious)
    with pytest.raises(SystemExit, match="not an empty folder"):
        grading.grade_all(tmp_path / "submitted", out)
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SystemExit, match="symbolic link"):
        grading.grade_all(tmp_path / "submitted", linked)
    assert precious.read_text() == "keep me"
    assert not (tmp_path / "elsewhere").exists()


# --- the sandbox itself, without a kernel ---------------------------------------------------------

PROBE = r"""
import os, socket, subprocess
found = {}
try:
    subprocess.run(["true"]); found["process"] = "started"
except OSError as error:
    found["process"] = error.errno
try:
    bytearray(3 * 2**30); found["memory"] = "allocated"
except MemoryError:
    found["memory"] = "refused"
try:
    with open(os.path.expanduser("~/big"), "wb") as handle:
        handle.write(b"x" * (100 * 2**20))
    found["file"] = "written"
except OSError as error:
    found["file"] = error.errno
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2); found["host"] = "reached"
except OSError:
    found["host"] = "unreachable"
found["sees"] = sorted(p for p in SECRETS if os.path.exists(p))
try:
    os.unlink(os.environ["REDIS_URL"].removeprefix("unix://")); found["socket"] = "removed"
except OSError:
    found["socket"] = "kept"
print(found)
"""


def test_the_sandbox_stops_processes_memory_files_network_and_sight(tmp_path: Path) -> None:
    import ast
    import subprocess
    import sys

    listener = attacks.Listener()
    box = sandbox.Box(tmp_path / "box", sandboxed=True)
    secrets = [str(ROOT / "assignments" / "source"), str(ROOT / ".git"), str(tmp_path)]
    code = PROBE.replace("PORT", str(listener.port)).replace("SECRETS", repr(secrets))
    try:
        with box.filter_fd() as fd:
            command = box.wrap([sys.executable, "-c", code])
            done = subprocess.run(command, pass_fds=(fd,), capture_output=True, text=True)
    finally:
        listener.close()
        box.close()
    assert done.returncode == 0, done.stderr[-2000:]
    found = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert found["process"] == 1  # EPERM: the seccomp filter
    assert found["memory"] == "refused"
    assert found["file"] == 27  # EFBIG: the file size limit
    assert found["host"] == "unreachable"
    assert found["socket"] == "kept"
    assert found["sees"] == [str(tmp_path)], "only the box's own folders are visible"
    assert listener.heard == []


def test_orphan_reaping_skips_what_is_not_ours(tmp_path: Path, monkeypatch) -> None:
    from helpers import embedded_redis

    monkeypatch.setattr(embedded_redis, "state_dir", lambda: tmp_path)
    (tmp_path / "planted").symlink_to(tmp_path / "nowhere")
    (tmp_path / "a-file").write_text("not a server folder")
    assert embedded_redis.reap_orphans() == []
    assert (tmp_path / "planted").is_symlink() and (tmp_path / "a-file").exists()
