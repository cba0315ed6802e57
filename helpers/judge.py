"""The judge: decides a question from the grader's own process, never from text the kernel prints.

At each check cell of a submission, the grader runs the question's rules
(helpers.checks.a1_chat_room, ...) and the instructor's hidden tests here, in the trusted
process, against the learner's kernel as helpers.remote reaches it. Hidden test code
never enters the kernel: it runs here, where each name it uses from the notebook (a
function, a class, a variable) is a Proxy that calls into the kernel, and each import of
the source's given cells is the grader's own trusted module.
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

from helpers import assignments, checks
from helpers.checks import Mismatch
from helpers.checks.tools import LearnerError
from helpers.language import _
from helpers.remote import KernelLost, RemoteAnswers


def checked_questions(source: str, where: str) -> list[str]:
    """The question ids a test cell checks: its visible part must be check("...") calls only."""
    visible = assignments.replace_regions(source, assignments.HIDDEN, prompt=False, where=where)
    found = []
    for statement in ast.parse(visible).body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "check"
            and len(call.args) == 1
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        ):
            found.append(call.args[0].value)
            continue
        raise assignments.AssignmentError(
            f"{where}: the grader's judge runs a test cell's check(\"...\") calls and its hidden "
            "tests; move other code into a locked cell above it"
        )
    return found


def trusted_imports(nb: Any) -> dict[str, Any]:
    """The names the source's locked cells import, imported here: the grader's own modules."""
    namespace: dict[str, Any] = {"__name__": "hidden_tests"}
    for cell in nb.cells:
        if cell.cell_type != "code" or assignments.is_solution(cell) or assignments.is_test(cell):
            continue
        tree = ast.parse(cell.source)
        imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
        exec(compile(ast.Module(body=imports, type_ignores=[]), "<imports>", "exec"), namespace)
    return namespace


def _free_names(tree: ast.AST) -> set[str]:
    loaded, stored = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, ast.alias):
            stored.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            stored.add(node.name)
    return loaded - stored - set(dir(builtins))


def run_hidden(code: str, answers: RemoteAnswers, trusted: dict[str, Any]) -> None:
    """Run hidden test code here, its notebook names resolved in the kernel; raises on failure."""
    tree = ast.parse(code)
    namespace = dict(trusted)
    for name in sorted(_free_names(tree) - set(trusted)):
        defined, value = answers.lookup(name)
        if defined:
            namespace[name] = value
    exec(compile(tree, "<hidden tests>", "exec"), namespace)


def judge_cell(
    assignment: str, source: str, where: str, answers: RemoteAnswers, trusted: dict[str, Any]
) -> str:
    """Decide one test cell: "" when it passes, else what the learner reads.

    Raises KernelLost when the kernel stops answering, so the grader can replay.
    """
    questions = checks.ASSIGNMENTS[assignment]
    try:
        for qid in checked_questions(source, where):
            try:
                questions[qid].run(answers)
            except Mismatch as failed:
                return _mismatch(failed)
            except LearnerError as error:
                return _("Your code raised {kind}: {message}").format(
                    kind=error.kind, message=error.message
                )
        hidden = "\n".join(assignments.region_lines(source, assignments.HIDDEN))
        if hidden.strip():
            try:
                run_hidden(hidden, answers, trusted)
            except (KernelLost, TimeoutError):
                raise
            except AssertionError as failed:
                reason = str(failed) or _("your code did not do what it should")
                return _("A hidden test failed: {reason}.").format(reason=reason)
            except Mismatch as failed:
                return _mismatch(failed)
            except LearnerError as error:
                return _raised_in_hidden_test(error.kind, error.message)
            except Exception as error:  # noqa: BLE001 - a name missing, a wrong type...
                return _raised_in_hidden_test(type(error).__name__, str(error))
    except KernelLost:
        raise
    except TimeoutError as error:
        return _("The check did not finish in time ({error}).").format(error=error)
    except Exception as error:  # noqa: BLE001 - whatever the learner's data did to a check
        return _("The check could not finish: {kind}: {message}").format(
            kind=type(error).__name__, message=error
        )
    finally:
        answers.close()
    return ""


def _raised_in_hidden_test(kind: str, message: str) -> str:
    return _("A hidden test ran your code and it raised {kind}: {message}").format(
        kind=kind, message=message
    )


def _mismatch(failed: Mismatch) -> str:
    lines = [
        _("   expected:  {expected}").format(expected=failed.expected).lstrip(),
        _("   your code: {got}").format(got=failed.got).lstrip(),
    ]
    if failed.hint:
        lines.append(_("   hint:      {hint}").format(hint=failed.hint).lstrip())
    return "\n".join(lines)
