"""The notebooks' control panel: Run passes the sliders' values and reports the outcome."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from helpers.controls import ProgressBar, RunPanel


def test_run_gets_the_slider_values_and_a_progress_callable() -> None:
    calls = []

    def run(rate, away_for, progress):
        progress(0.5)
        progress(7)  # out of range: clamped
        calls.append((rate, away_for))

    rate = widgets.IntSlider(1000, min=100, max=5000)
    panel = RunPanel(run, rate=rate, away_for=widgets.FloatSlider(0.4))
    rate.value = 2500
    panel.button.click()
    assert calls == [(2500, 0.4)]
    assert panel.bar.value == 1.0
    assert panel.status.value.startswith("done in ")
    assert not panel.button.disabled


def test_an_error_leaves_the_panel_ready_for_another_try() -> None:
    def run(n, progress):
        raise ValueError("bad n")

    panel = RunPanel(run, n=widgets.IntSlider(5))
    panel.button.click()  # in a kernel the traceback shows in the panel's output
    assert panel.status.value == "stopped by an error"
    assert panel.bar.bar_style == "danger"
    assert not panel.button.disabled


def test_a_panel_needs_a_control() -> None:
    with pytest.raises(ValueError, match="at least one control"):
        RunPanel(lambda progress: None)


def test_a_progress_bar_moves_a_widget_and_draws_nothing_outside_a_notebook() -> None:
    bar = widgets.FloatProgress(value=0, min=0, max=1)
    progress = ProgressBar("run", bar=bar)
    progress(0.25)
    assert bar.value == 0.25
    progress(3)  # the end always shows, clamped
    assert bar.value == 1.0
    assert progress.took().startswith("done in ")
    alone = ProgressBar("alone")  # no IPython here: no display, no error
    alone(0.5)
    assert alone.handle is None
