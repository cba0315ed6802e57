"""Every notebook run the way a learner runs it: in JupyterLab, in a real browser.

A notebook can pass headless execution and still fail in the UI: a plot that does
not show, a kernel that is not found, a dialog that blocks the first run. So for
each notebooks/*.ipynb this opens a stripped copy in a real JupyterLab driven by
headless Chromium, waits for the kernel, clicks Run > Run All Cells, and checks
what the page shows: no error or stderr output, an execution count on every code
cell, an image for every cell that draws a plot, and every widget rendered (not left
as "Loading widget...", an error, or the plain-text fallback JupyterLab shows when its
widget extension is missing). Then it presses every widget button once, as a learner
trying a control panel would, and waits for the answer, whose plot must show too.
A screenshot of the whole notebook goes to test-output/browser/ either way.

Without Chromium the tests skip (saying how to install it); with REQUIRE_BROWSER=1,
as .ci/run sets, they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.browser_lab import INSTALL_CHROMIUM, JupyterLab, chromium_args, find_chromium
from tests.notebook_runner import draws_plot, notebook_paths
from tests.support import NOTEBOOKS

SECOND = 1000  # Playwright counts milliseconds
PAGE_TIMEOUT = 120 * SECOND
KERNEL_TIMEOUT = 180 * SECOND
RUN_TIMEOUT = 900 * SECOND
WIDGET_TIMEOUT = 60 * SECOND
BUTTON_TIMEOUT = 300 * SECOND
VIEWPORT = {"width": 1280, "height": 900}
MAX_SCREENSHOT_HEIGHT = 30_000

SHOWS_WIDGET = re.compile(r"\b(widgets\.\w+|interact|interact_manual|interactive)\(")

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# The page-side checks, one JavaScript function each: see page_function().
PAGE_JS = Path(__file__).with_suffix(".js").read_text()


def page_function(name: str) -> str:
    """A function of tests/test_browser.js for Playwright (evaluate, wait_for_function),
    with the file's other functions in scope; it takes one argument."""
    return f"(arg) => {{\n{PAGE_JS}\nreturn {name}(arg);\n}}"


def vietnamese_paths() -> list[Path]:
    return sorted((NOTEBOOKS / "vi").glob("*.ipynb"))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """One JupyterLab server for the whole session, stopped with its kernels at the end."""
    yield from _serve(JupyterLab(tmp_path_factory.mktemp("jupyterlab")))


@pytest.fixture(scope="session")
def lab_vi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """The same, with JupyterLab's menus in Vietnamese, as `make lab-vi` opens it."""
    yield from _serve(JupyterLab(tmp_path_factory.mktemp("jupyterlab-vi"), locale="vi_VN"))


def _serve(server: JupyterLab) -> Iterator[JupyterLab]:
    try:
        server.start()
    except RuntimeError as error:
        pytest.fail(f"JupyterLab did not start: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole session; skip (or fail in CI) without it."""
    executable = find_chromium()
    if executable is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but: {INSTALL_CHROMIUM}")
        pytest.skip(INSTALL_CHROMIUM)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=chromium_args()
        )
        try:
            yield chromium
        finally:
            chromium.close()


def copy_stripped(path: Path, root: Path, folder: str = "") -> str:
    """Put a copy without outputs in the server root (JupyterLab autosaves what it runs)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    (root / folder).mkdir(exist_ok=True)
    nbformat.write(nb, root / folder / path.name)
    return f"{folder}/{path.name}" if folder else path.name


def wait(page, script: str, timeout: int, what: str, arg: object = PANEL) -> None:
    """Wait for a condition in the page; on expiry say what and show the page's state."""
    try:
        page.wait_for_function(script, arg=arg, timeout=timeout, polling=100)
    except PlaywrightError as error:
        seen = "no notebook panel in the page"
        if page.query_selector(PANEL):
            state = page.evaluate(page_function("pageState"), PANEL)
            cells = state.pop("cells")
            prompts = [cell["prompt"] for cell in cells if cell["code"]]
            widgets = {i: cell["widgets_broken"] for i, cell in enumerate(cells)}
            seen = f"{state}, code cell prompts {prompts}, broken widgets by cell {widgets}"
        raise AssertionError(
            f"{what} did not happen within {timeout // SECOND} s "
            f"({error.message.splitlines()[0]}); the page shows {seen}"
        ) from None


def close_sidebar(page) -> None:
    """Give the notebook the whole width, as a learner closing the file browser would."""
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.wait_for_function(page_function("sidebarClosed"), timeout=PAGE_TIMEOUT, polling=100)


def run_all_cells(page, menu: str = "Run") -> None:
    """Run > Run All Cells, clicked in the menu bar as a learner would (in the UI's language)."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{menu}$")).click()
    page.locator('.lm-Menu [data-command="runmenu:run-all"]').click()


def press_widget_buttons(page) -> None:
    """Press each widget button once, top to bottom, and wait for the kernel's answer."""
    cells = page.locator(f"{PANEL} .jp-Notebook .jp-Cell")
    for index in range(cells.count()):
        buttons = cells.nth(index).locator(".jp-Cell-outputArea button.widget-button")
        for number in range(buttons.count()):
            button = buttons.nth(number)
            label = button.inner_text().strip()
            before = page.evaluate(page_function("outputSignature"), [PANEL, index])
            button.click()
            wait(
                page,
                page_function("buttonAnswered"),
                BUTTON_TIMEOUT,
                f"an answer to pressing {label!r} in cell {index} (kernel idle, button enabled, "
                "the outputs changed)",
                arg=[PANEL, index, number, before],
            )


def save_screenshot(page, path: Path) -> None:
    """The whole notebook in one image: grow the window until nothing needs scrolling."""
    scroller = page.locator(f"{PANEL} .jp-WindowedPanel-outer")
    hidden = scroller.evaluate(page_function("scrollToTop"))
    if hidden > 0:
        height = min(VIEWPORT["height"] + hidden, MAX_SCREENSHOT_HEIGHT)
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_function(
            page_function("windowHeightIs"), arg=height, timeout=PAGE_TIMEOUT, polling=100
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    page.locator(PANEL).screenshot(path=path, timeout=PAGE_TIMEOUT)


def problems(nb, state: dict) -> list[str]:
    """What the page shows that a learner should not see, cell by cell."""
    found = [f"a dialog is open: {text!r}" for text in state["dialogs"]]
    if not state["models"]:
        found.append("cannot read the cells' outputs: window.jupyterapp is missing")
    if len(state["cells"]) != len(nb.cells):
        return [*found, f"the page shows {len(state['cells'])} cells, the file has {len(nb.cells)}"]
    for index, (cell, shown) in enumerate(zip(nb.cells, state["cells"], strict=True)):
        if cell.cell_type != "code":
            continue
        found += [f"cell {index} shows error/stderr output:\n{text}" for text in shown["stderr"]]
        if not re.fullmatch(r"\[\d+\]:", shown["prompt"]):
            found.append(f"cell {index} got no execution count (prompt {shown['prompt']!r})")
        if not all(shown["images"]):
            found.append(f"cell {index} has an image that did not load")
        if draws_plot(cell.source) and not shown["images"]:
            found.append(f"cell {index} draws a plot but the page shows no image for it")
        found += widget_problems(index, cell.source, shown)
    return found


def widget_problems(index: int, source: str, shown: dict) -> list[str]:
    """A cell that displays widgets (its outputs hold widget views, or its source makes
    them) must show them as live views: not loading, not an error, not plain text."""
    wanted = max(shown["widgets_sent"], 1 if SHOWS_WIDGET.search(code_lines(source)) else 0)
    found = [f"cell {index} shows a broken widget: {text!r}" for text in shown["widgets_broken"]]
    if shown["widgets_live"] < wanted:
        if shown["widgets_text"]:
            why = f": shown as plain text {shown['widgets_text']}, so JupyterLab has no widget "
            why += "renderer (is jupyterlab_widgets installed where the server runs?)"
        elif not shown["widgets_sent"]:
            why = ": the kernel sent no widget view"
        else:
            why = ""
        found.append(
            f"cell {index} displays {wanted} widget(s) but the page renders "
            f"{shown['widgets_live']}{why}"
        )
    return found


def code_lines(source: str) -> str:
    """The source without imports and comments, so `import matplotlib` alone draws nothing."""
    kept = []
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped.startswith(("#", "import ", "from ")):
            kept.append(line)
    return "\n".join(kept)


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_in_jupyterlab(
    path: Path, browser: Browser, lab: JupyterLab, output_dir: Path
) -> None:
    run_in_jupyterlab(path, browser, lab, output_dir / "browser")


@pytest.mark.parametrize("path", vietnamese_paths(), ids=lambda p: f"vi-{p.stem}")
def test_vietnamese_notebook_runs_in_vietnamese_jupyterlab(
    path: Path, browser: Browser, lab_vi: JupyterLab, output_dir: Path
) -> None:
    """Run All through the Vietnamese menu bar (Chạy > Run All Cells), from a `vi/` folder."""
    run_in_jupyterlab(path, browser, lab_vi, output_dir / "browser" / "vi", menu="Chạy")


def run_in_jupyterlab(
    path: Path, browser: Browser, lab: JupyterLab, shots: Path, menu: str = "Run"
) -> None:
    """Open the notebook, Run All from the menu, press widget buttons, check every output."""
    nb = nbformat.read(path, as_version=4)
    name = copy_stripped(path, lab.root, "vi" if lab.locale else "")
    shot = shots / f"{path.stem}.png"
    shot.unlink(missing_ok=True)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT)  # clicks on a busy shared machine
    page = context.new_page()
    try:
        page.goto(lab.notebook_url(name), timeout=PAGE_TIMEOUT)
        wait(
            page,
            page_function("kernelReady"),
            KERNEL_TIMEOUT,
            "the kernel becoming ready (idle, named, no dialog)",
        )
        close_sidebar(page)
        run_all_cells(page, menu)
        wait(page, page_function("runFinished"), RUN_TIMEOUT, "Run All Cells finishing")
        wait(page, page_function("widgetsSettled"), WIDGET_TIMEOUT, "every widget loading")
        press_widget_buttons(page)
        state = page.evaluate(page_function("pageState"), PANEL)
        save_screenshot(page, shot)
    except BaseException:
        with contextlib.suppress(PlaywrightError):
            save_screenshot(page, shot)
        raise
    finally:
        context.close()
        lab.shut_down_kernels()
    found = problems(nb, state)
    assert not found, f"{path.name} in JupyterLab (screenshot: {shot}):\n" + "\n".join(found)
