"""Display widgets for the notebooks: a progress bar, and a Run panel around an experiment.

`ProgressBar` shows how far a long experiment has got. In a `RunPanel` a learner sets
the sliders, presses Run, and the experiment's printout and figure appear below it.
Nothing runs until the button is pressed, so Run All never waits on a panel, and a
slider dragged across its range does not start twenty runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import ipywidgets as widgets
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display

from helpers.language import N_, _


class ProgressBar:
    """A progress bar; call it with the fraction done (0..1), as experiments' `progress=`.

    tqdm writes to stderr, which a notebook shows as an error box; this draws an
    HTML <progress> element in the cell's output instead and updates it in place, at
    most every 0.1 s. Given a `bar` widget (a `RunPanel`'s), it moves that one instead.
    Outside a notebook, with no widget, it draws nothing.
    """

    def __init__(self, label: str, *, bar: widgets.FloatProgress | None = None) -> None:
        self.label, self.bar = label, bar
        self.started = time.perf_counter()
        self.last = 0.0
        shown = bar is None and InteractiveShell.initialized()
        self.handle = display(self._bundle(0.0), raw=True, display_id=True) if shown else None

    def _bundle(self, fraction: float, done: str = "") -> dict[str, str]:
        percent = f"{fraction:.0%}"
        return {
            "text/plain": f"{self.label}: {done or percent}",
            "text/html": (
                f'<progress value="{fraction:.3f}" max="1" style="width: 30em"></progress> '
                f"{self.label}: {done or percent}"
            ),
        }

    def took(self) -> str:
        """'done in 1.2 s', counting from when the bar was made."""
        return _("done in {seconds:.1f} s").format(seconds=time.perf_counter() - self.started)

    def __call__(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        now = time.perf_counter()
        if now - self.last < 0.1 and fraction < 1:
            return
        self.last = now
        if self.bar is not None:
            self.bar.value = fraction
        elif self.handle is not None:
            done = self.took() if fraction >= 1 else ""
            self.handle.update(self._bundle(fraction, done), raw=True)


class RunPanel(widgets.VBox):
    """Value widgets (sliders) for `run`'s arguments, a Run button, a progress bar, an output.

    Pressing Run calls `run(**values, progress=...)`, where `progress` is a `ProgressBar`
    on the panel's bar, taking the fraction done (0..1) like the experiments' `progress`;
    it shows what `run` prints, displays what it returns (a figure), and says how long
    it took. An error shows
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

    def _clicked(self, _button: widgets.Button) -> None:
        self.button.disabled = True
        self.bar.value, self.bar.bar_style = 0, ""
        self.status.value = _("running…")
        self.output.clear_output()
        progress = ProgressBar(self.button.description, bar=self.bar)
        finished = False
        try:
            with self.output:  # in a kernel, an exception shows here as a traceback
                result = self.run(**self.values(), progress=progress)
                if result is not None:
                    display(result)
                finished = True
        finally:
            self.bar.bar_style = "success" if finished else "danger"
            self.status.value = progress.took() if finished else _("stopped by an error")
            self.button.disabled = False
