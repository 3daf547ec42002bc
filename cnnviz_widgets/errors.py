"""Exception types raised by cnnviz_widgets.

Every error the package raises on purpose derives from :class:`CnnvizError`, and
each message says what was wrong and what to do about it. The concrete types
also derive from the matching built-in type (``KeyError``, ``ValueError``,
``TypeError``) so that existing ``except`` clauses keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "CnnvizError",
    "InvalidSettingError",
    "SelectionOutOfRangeError",
    "ImageDecodeError",
    "ImageShapeError",
    "SignalShapeError",
    "LayerNotFoundError",
    "LayerNotViewableError",
    "UnsupportedModelError",
    "WeightsUnavailableError",
    "UnsafeModelFileError",
    "ModelFileError",
    "LayerComputeError",
    "ScanError",
    "DatasetUnavailableError",
    "ArgumentTypeError",
    "UnknownNameError",
]


class CnnvizError(Exception):
    """Base class of every error raised on purpose by cnnviz_widgets."""


class LayerNotFoundError(CnnvizError, KeyError):
    """A layer name that the model does not have.

    Parameters
    ----------
    name : str
        The name that was asked for.
    known : iterable of str
        The names that exist; the closest ones are suggested in the message.
    """

    def __init__(self, name: str, known: Iterable[str]):
        known = list(known)
        self.name = name
        self.suggestions = [k for k in known if k.lower() == str(name).lower()][:1]
        self.suggestions += [k for k in difflib.get_close_matches(str(name), known, n=5,
                                                                  cutoff=0.5)
                             if k not in self.suggestions][:5 - len(self.suggestions)]
        if not self.suggestions:
            tail = str(name).rsplit("/", 1)[-1]
            self.suggestions = [k for k in known if k.rsplit("/", 1)[-1] == tail][:5]
        if self.suggestions:
            hint = "Did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        else:
            shown = ", ".join(repr(k) for k in known[:8]) + (" ..." if len(known) > 8 else "")
            hint = f"Known layers: {shown}"
        super().__init__(
            f"The model has no layer called {name!r}. {hint} "
            "Use engine.layers to list every layer that can be shown."
        )

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0])


class LayerNotViewableError(CnnvizError, ValueError):
    """A layer exists but its output cannot be shown as an activation."""


class ImageDecodeError(CnnvizError, ValueError):
    """An image that could not be read or decoded."""


class ImageShapeError(CnnvizError, ValueError):
    """An image whose shape, channels or values do not fit the model."""


class SignalShapeError(ImageShapeError):
    """A signal (T, C) whose length, channels or values do not fit a model of 1-D layers."""


class UnsupportedModelError(CnnvizError, TypeError):
    """A model that cannot be explored, for example one whose input is not an image."""


class WeightsUnavailableError(CnnvizError, RuntimeError):
    """Requested pretrained weights that cannot be obtained on this machine."""


class UnsafeModelFileError(CnnvizError, ValueError):
    """A model file that would need to run arbitrary code to be loaded."""


class ModelFileError(CnnvizError, ValueError):
    """A model file that is missing, corrupted or not a full Keras model."""


class LayerComputeError(CnnvizError, RuntimeError):
    """A layer of the model failed while computing an activation (e.g. the image is too small)."""


class SelectionOutOfRangeError(CnnvizError, IndexError):
    """A channel, page or image index outside what is available."""


class InvalidSettingError(CnnvizError, ValueError):
    """A setting (normalisation, colour map, backend, ...) that is not one of the valid values."""


class ScanError(CnnvizError, ValueError):
    """A data-set scan cannot start (empty set, unknown source) or results do not merge."""


class DatasetUnavailableError(CnnvizError, FileNotFoundError):
    """A data set whose files are not on this machine (or are not what they should be)."""


class ArgumentTypeError(CnnvizError, TypeError):
    """An argument of a kind the function does not take (a string where a
    :class:`~cnnviz_widgets.attribution.Regularizer` goes, a bool as a class index...)."""


class UnknownNameError(CnnvizError, KeyError):
    """A name (of a method, of a method's parameter) that is not one of those known."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""
