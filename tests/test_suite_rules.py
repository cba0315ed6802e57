"""The test suite's own rules: how a test decides that a cell draws a plot, and that test
modules share code through support modules, never by importing each other or conftest.py."""

from __future__ import annotations

import ast

import nbformat
import pytest

from tests.notebook_runner import draws_plot, figure_functions, missing_figures
from tests.support import ROOT

TESTS = ROOT / "tests"


def test_no_test_module_imports_another_or_conftest() -> None:
    found = []
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                last = [part for part in name.split(".") if part != "tests"][:1]
                if name.startswith("tests.") and last[0].startswith(("test_", "conftest")):
                    found.append(f"{path.name}:{node.lineno} imports {name}")
    assert not found, "move what they share to tests/support.py or a fixture:\n" + "\n".join(found)


def test_the_plot_functions_of_helpers_are_known() -> None:
    assert {"latency", "compare", "sweep", "timeline", "timelines"} <= figure_functions()
    assert "ProgressBar" not in figure_functions()


@pytest.mark.parametrize(
    "source",
    [
        "plots.latency(result)",
        "fig = helpers.plots.compare([a, b])\nfig",
        "%matplotlib inline\nplt.hist(values)",
        "axes[0].bar(x, y)",
        "frame.plot()",
        "with panel:\n    plots.timeline(result)  # drawn when a button is pressed",
    ],
)
def test_a_cell_that_calls_a_drawing_function_draws_a_plot(source: str) -> None:
    assert draws_plot(source)


@pytest.mark.parametrize(
    "source",
    [
        "import matplotlib.pyplot as plt\nplt.close('all')",
        "plt.rcParams['figure.dpi'] = 100\nplt.style.use('ggplot')",
        "# plots.latency(result)\nprint('plots.latency(result)')",
        "bar = plots.ProgressBar('publishing')",
    ],
)
def test_a_cell_that_only_sets_up_or_mentions_plotting_draws_nothing(source: str) -> None:
    assert not draws_plot(source)


@pytest.mark.parametrize(
    "source",
    [
        "def explore(rate):\n    return plots.timeline(run(rate))\n\nRunPanel(explore)",
        "if private is None:\n    print('skipped')\nelse:\n    display(plots.timeline(slow))",
        "button.on_click(lambda _: plots.latency(result))",
    ],
)
def test_a_plot_drawn_only_by_a_press_or_a_branch_is_not_drawn_on_every_run(source: str) -> None:
    assert draws_plot(source)
    assert not draws_plot(source, unconditionally=True)


def test_a_plot_at_the_top_of_a_cell_is_drawn_on_every_run() -> None:
    assert draws_plot("slow = run()\nplots.timeline(slow)", unconditionally=True)


def test_a_headless_run_reports_a_cell_that_drew_no_figure() -> None:
    drawn = nbformat.v4.new_code_cell("plots.latency(result)")
    drawn.outputs = [nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo="})]
    blank = nbformat.v4.new_code_cell("plots.latency(result)")
    blank.outputs = [nbformat.v4.new_output("display_data", {"text/plain": "<Figure>"})]
    panel = nbformat.v4.new_code_cell("def run(rate):\n    return plots.latency(rate)\n")
    found = missing_figures([(1, drawn), (2, blank), (3, panel)])
    assert found == ["cell 2 draws a plot but showed no figure"]
