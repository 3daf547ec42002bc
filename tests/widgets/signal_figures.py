"""A recorder of the signal figures the panels draw (what a PNG hides: data, window)."""

from __future__ import annotations

from typing import Any

import numpy as np


def record_signal_figures(monkeypatch: Any) -> list[tuple[np.ndarray, dict]]:
    """Record every :func:`~cnnviz_widgets.render.signal.signal_figure` drawn from now on
    (the panels import it when they draw): a list of (signal, keyword arguments)."""
    import cnnviz_widgets.render.signal as signal_module

    calls: list[tuple[np.ndarray, dict]] = []
    original = signal_module.signal_figure

    def recording(signal: Any, **kwargs: Any) -> Any:
        calls.append((np.asarray(signal), kwargs))
        return original(signal, **kwargs)

    monkeypatch.setattr(signal_module, "signal_figure", recording)
    return calls
