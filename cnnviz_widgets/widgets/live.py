"""LiveActivations: a Keras callback that redraws an explorer and the learning curves."""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import numpy as np

from cnnviz_widgets._keras import keras

from ..checks import whole_number
from ..render.mpl import curves_figure, figure_to_png

__all__ = ["LiveActivations"]


class LiveActivations(keras.callbacks.Callback):
    """Watch a network learn: after every ``every`` epochs, redraw the explorer and curves.

    Pass it to ``model.fit(..., callbacks=[live])`` and display ``live.widget`` (or
    the explorer itself). The explorer's cached activations are dropped at each
    update, because the weights changed.

    Parameters
    ----------
    explorer : FeatureMapExplorer
        An explorer built on the model being trained.
    every : int
        Update every this many epochs.

    Attributes
    ----------
    history : dict of str to list of float
        The logged metrics per epoch (loss, accuracy, val_...).
    snapshots : list of numpy.ndarray
        The explorer's view (``current_view()``) after each update.
    widget : ipywidgets.VBox
        The learning curves above the explorer.
    """

    def __init__(self, explorer: Any, every: int = 1) -> None:
        super().__init__()
        self.every = whole_number(every, "every", hint="It counts epochs between updates.")
        self.explorer = explorer
        self.history: dict[str, list[float]] = {}
        self.snapshots: list[np.ndarray] = []
        self.curves = w.Image(format="png")
        self.curves.add_class("cnnviz-curves")
        self.status = w.HTML()
        self.widget = w.VBox([self.status, self.curves, explorer])
        self.widget.add_class("cnnviz-live")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if (epoch + 1) % self.every:
            return
        self.explorer.refresh()
        self.snapshots.append(np.array(self.explorer.current_view(), copy=True))
        self.curves.value = figure_to_png(curves_figure(self.history))
        shown = ", ".join(f"{k} {v[-1]:.3f}" for k, v in self.history.items())
        self.status.value = f"<b>epoch {epoch + 1}</b>: {shown}"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
