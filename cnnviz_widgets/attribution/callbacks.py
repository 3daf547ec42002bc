"""Progress callbacks of the iterative attribution methods (see :mod:`cnnviz_widgets.progress`).

The callbacks are shared with the data-set scan; they live in :mod:`cnnviz_widgets.progress`
and are importable from here as before.
"""

from __future__ import annotations

from ..progress import (
    Callback,
    CallbackList,
    FunctionProgress,
    ProgressLike,
    WidgetProgress,
    as_callback,
    reporting,
)

__all__ = [
    "Callback",
    "CallbackList",
    "FunctionProgress",
    "ProgressLike",
    "WidgetProgress",
    "as_callback",
    "reporting",
]
