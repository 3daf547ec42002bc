"""The mask view: a segmentation model's predicted class of every pixel, over the input.

When the model's output is per pixel, ``(batch, H, W, classes)``, :class:`MaskView` shows
the input with each pixel tinted by its predicted class
(:func:`~cnnviz_widgets.colour.predicted_labels`, coloured by
:func:`~cnnviz_widgets.colour.colour_labels`; the background class 0 left as it is) and a
legend of the classes present. The output comes from the engine's cache of the image's
forward pass and is kept per image: moving the layer or the channel only looks it up.

Features that explain *one score of a classifier* (the "class" and "relevance" channel
orders, the relevance ranking of a data set) call :func:`needs_classifier`, which says so
in words instead of explaining one pixel's score by mistake.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np

from ...attribution._common import output_kind
from ...colour.labels import colour_labels, label_colours, predicted_labels
from ...engine.activations import ActivationEngine
from ...errors import CnnvizError, UnsupportedModelError
from ...render.encode import as_rgb8, encode_png
from ...render.upscale import upscale_nearest

__all__ = ["MASK_ALPHA", "MaskView", "mask_picture", "needs_classifier"]

#: Weight of a class's colour over the input pixel it tints.
MASK_ALPHA = 0.65


def needs_classifier(engine: ActivationEngine, what: str) -> None:
    """Raise a clear :class:`~cnnviz_widgets.errors.UnsupportedModelError` when ``what``
    (e.g. "The 'class' channel order") would explain one score of a classifier but the
    model gives a class per pixel."""
    if output_kind(engine) == "pixels":
        shape = ", ".join(str(n) for n in engine.layer(engine.output).output_shape)
        raise UnsupportedModelError(
            f"{what} needs a classifier, whose output is one score per class; this model's "
            f"output (batch, {shape}) gives a class for every pixel (a segmentation). Its "
            "predicted mask is shown under the maps. To explain one class over a region, use an "
            "attribution method (e.g. GradCAM) with a target that sums the class over the "
            "region: target=SegmentationTarget(c, mask) (cnnviz_widgets.attribution).")


def _fit_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a label map to (height, width)."""
    rows = np.arange(height) * labels.shape[0] // height
    cols = np.arange(width) * labels.shape[1] // width
    return labels[rows][:, cols]


def mask_picture(pixels: np.ndarray, labels: np.ndarray, classes: int,
                 alpha: float = MASK_ALPHA) -> np.ndarray:
    """The input with every pixel of class > 0 tinted by its class's colour.

    Parameters
    ----------
    pixels : numpy.ndarray
        The input as the model sees it before preprocessing, (H, W[, C]), 0-255.
    labels : numpy.ndarray
        Integer class per pixel, (h, w); resized (nearest) to the input when smaller.
    classes : int
        Number of classes of the output (fixes each class's colour).
    alpha : float
        Weight of the class colour.

    Returns
    -------
    numpy.ndarray
        uint8 RGB array (H, W, 3).
    """
    rgb = as_rgb8(pixels).astype(np.float32)  # gray, RGB or more bands: the first three
    labels = _fit_labels(np.asarray(labels), rgb.shape[0], rgb.shape[1])
    colours = colour_labels(labels, classes).astype(np.float32)
    tinted = np.where((labels > 0)[..., None], (1 - alpha) * rgb + alpha * colours, rgb)
    return np.clip(np.rint(tinted), 0, 255).astype(np.uint8)


def _legend(labels: np.ndarray, classes: int, names: Sequence[str] | None) -> str:
    table = label_colours(classes)
    counts = np.bincount(labels.ravel(), minlength=classes)
    items = []
    for k in np.flatnonzero(counts):
        name = names[k] if names is not None and k < len(names) else f"class {k}"
        r, g, b = (int(v) for v in table[k])
        share = 100.0 * counts[k] / labels.size
        items.append(
            f'<span class="cnnviz-mask-class" style="margin-right:10px;white-space:nowrap">'
            f'<span style="display:inline-block;width:11px;height:11px;border:1px solid #888;'
            f'background:rgb({r},{g},{b});vertical-align:middle"></span> '
            f"{html.escape(str(name))} ({share:.1f}%)</span>")
    return "".join(items)


class MaskView(w.VBox):
    """The predicted mask of the current image, with a legend; hidden for classifiers.

    Attributes
    ----------
    caption : ipywidgets.HTML
        What is shown, in words.
    picture : ipywidgets.Image
        The input tinted by the predicted class of each pixel (PNG).
    legend : ipywidgets.HTML
        The classes present, their colours and their share of the pixels.
    labels : numpy.ndarray or None
        The predicted class of each pixel of the image on screen (output resolution).
    compute_count : int
        How many times a mask was computed from the output (once per image: the masks are
        kept; for tests).
    """

    def __init__(self, engine: ActivationEngine, class_names: Sequence[str] | None = None,
                 min_side: int = 192) -> None:
        self.engine = engine
        self.active = output_kind(engine) == "pixels"
        self.class_names = list(class_names) if class_names is not None else None
        self.min_side = int(min_side)
        self.caption = w.HTML()
        self.picture = w.Image(format="png")
        self.legend = w.HTML()
        self.labels: np.ndarray | None = None
        self.compute_count = 0
        self._shown: int | None = None
        self._memo: dict[int, tuple[np.ndarray, int]] = {}  # image -> (labels, classes)
        super().__init__([self.caption, self.picture, self.legend],
                         layout=w.Layout(display=None if self.active else "none"))
        self.add_class("cnnviz-mask")

    def show(self, index: int, image: Any) -> None:
        """Show the mask of ``image`` (number ``index`` of the panel's images), unless it is
        already on screen. When the output cannot be computed, the caption says why (the
        maps above report the same problem)."""
        if not self.active or self._shown == index:
            return
        self._shown = None
        try:
            if index not in self._memo:
                output = np.asarray(self.engine.activation(self.engine.output, image))
                self._memo[index] = (predicted_labels(output).astype(np.int32),
                                     output.shape[-1])
                self.compute_count += 1
            labels, classes = self._memo[index]
            picture = mask_picture(self.engine.pixels(image), labels, max(classes, 2))
        except CnnvizError as error:
            self.labels, self.picture.value, self.legend.value = None, b"", ""
            self.caption.value = html.escape(f"No predicted mask for this image: {error}")
            return
        self.labels = labels
        self.picture.value = encode_png(upscale_nearest(picture, min_side=self.min_side))
        self.legend.value = _legend(self.labels, max(classes, 2), self.class_names)
        self.caption.value = html.escape(
            f"Predicted mask of this image ({self.engine.output!r}: the class of largest "
            "score at each pixel, tinted over the input):")
        self._shown = index

    def forget(self) -> None:
        """Compute the masks again at the next :meth:`show` (the images or weights changed)."""
        self._shown = None
        self._memo = {}
