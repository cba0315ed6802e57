"""Control panels for the notebooks: sliders and a Run button around an experiment.

A learner sets the sliders, presses Run, and the experiment's printout and figure
appear below the panel. Nothing runs until the button is pressed, so Run All never
waits on a panel, and a slider dragged across its range does not start twenty runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import ipywidgets as widgets
from IPython.display import display

from helpers.language import N_, _


class RunPanel(widgets.VBox):
    """Value widgets (sliders) for `run`'s arguments, a Run button, a progress bar, an output.

    Pressing Run calls `run(**values, progress=bar)`, where `progress` takes the fraction
    done (0..1) like the experiments' `progress` argument, shows what `run` prints and
    displays what it returns (a figure), and says how long it took. An error shows
    its traceback in the output and leaves the panel ready for another try.
    """

    def __init__(
        self, run: Callable[..., object], label: str = N_("Run"), **controls: widgets.ValueWidget
    ) -> None:
        if not controls:
            raise ValueError(_("give at least one control, e.g. rate=widgets.IntSlider(...)"))
        self.run, self.controls = run, controls
        self.button = widgets.Button(description=_(label), button_style="primary", icon="play")
        self.bar = widgets.FloatProgress(value=0, min=0, max=1)
        self.status = widgets.Label(_("set the sliders, then press the button"))
        self.output = widgets.Output()
        for control in controls.values():
            control.style.description_width = "initial"  # labels in full, not cut at 80 px
            control.layout.width = "32em"  # a slider long enough to pick a value precisely
        self.button.on_click(self._clicked)
        row = widgets.HBox([self.button, self.bar, self.status])
        super().__init__([*controls.values(), row, self.output])

    def values(self) -> dict[str, object]:
        """What the controls are set to, by argument name."""
        return {name: control.value for name, control in self.controls.items()}

    def _progress(self, fraction: float) -> None:
        self.bar.value = min(max(fraction, 0.0), 1.0)

    def _clicked(self, _button: widgets.Button) -> None:
        self.button.disabled = True
        self.bar.value, self.bar.bar_style = 0, ""
        self.status.value = _("running…")
        self.output.clear_output()
        started = time.perf_counter()
        finished = False
        try:
            with self.output:  # in a kernel, an exception shows here as a traceback
                result = self.run(**self.values(), progress=self._progress)
                if result is not None:
                    display(result)
                finished = True
        finally:
            seconds = time.perf_counter() - started
            self.bar.bar_style = "success" if finished else "danger"
            if finished:
                self.status.value = _("done in {seconds:.1f} s").format(seconds=seconds)
            else:
                self.status.value = _("stopped by an error")
            self.button.disabled = False
