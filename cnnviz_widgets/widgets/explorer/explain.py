""""Explain channel": where a channel fires on the image, where it is relevant for the
predicted class (concept relevance), an input made to excite it, and the data set's
images that excite it most."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np

from ...attribution._common import output_kind
from ...engine.activations import ActivationEngine
from ...errors import CnnvizError, LayerNotViewableError, SelectionOutOfRangeError
from ...render.crops import Crop, crop_picture
from ...render.encode import encode_png
from ...render.upscale import upscale_nearest
from ..panel import close_widgets

__all__ = ["ChannelExplainer", "explain_for"]


def _rgb(picture: np.ndarray) -> np.ndarray:
    """An RGB uint8 picture from an (H, W), (H, W, 1) or (H, W, 3) image."""
    arr = np.asarray(picture)
    if arr.ndim == 3 and arr.shape[-1] == 3:
        return arr
    return np.repeat(arr.reshape(*arr.shape[:2], 1), 3, axis=2)


class ChannelExplainer(w.VBox):
    """The "Explain channel" button and what it shows: the channel's heatmap over the
    input (left), where the channel is relevant for the predicted class (its positive
    concept relevance, :class:`~cnnviz_widgets.attribution.ChannelRelevance`; a layer the
    output does not depend on gets a note instead), the feature visualisation that
    activation maximisation makes for it (middle) and, when the explorer has a data set,
    the data set's images that excite the channel most, cropped to what the maximum sees
    (right).

    Attributes
    ----------
    button : ipywidgets.Button
        Has the CSS class ``cnnviz-explain``; the explorer decides what it explains.
    result : tuple or None
        The last ``(overlay, MaximizationResult)``.
    crops : list of Crop
        The data set's top images shown with it (empty without a data set).
    relevance_map : numpy.ndarray or None
        The channel's concept relevance heatmap (H, W) for the predicted class, in
        [-1, 1] (None when the layer has none).
    """

    #: How many of the data set's top images are shown next to the visualisation.
    max_crops = 6

    def __init__(self) -> None:
        self.button = w.Button(description="Explain channel", icon="lightbulb-o",
                               tooltip="Heatmap of this channel over the input, and the "
                                       "input that excites it most")
        self.button.add_class("cnnviz-explain")
        self.heat = w.Image(format="png")
        self.relevance = w.Image(format="png")
        self.relevance_map: np.ndarray | None = None
        self.maximum = w.Image(format="png")
        self.caption = w.HTML()
        self.progress = w.IntProgress(min=0, max=1, layout=w.Layout(display="none"))
        self.top = w.HBox(layout=w.Layout(flex_flow="row wrap", max_width="420px"))
        self.top.add_class("cnnviz-explain-top-images")
        self.result: tuple[np.ndarray, Any] | None = None
        self.crops: list[Crop] = []
        super().__init__([self.caption, self.progress,
                          w.HBox([self.heat, self.relevance, self.maximum, self.top])],
                         layout=w.Layout(display="none"))
        self.add_class("cnnviz-insight")

    def explain(self, engine: ActivationEngine, layer: str, channel: int, image: Any,
                activation: np.ndarray, steps: int, crops: Sequence[Crop] = (), *,
                volume_slice: tuple[int, int] | None = None) -> tuple[np.ndarray, Any]:
        """Compute and show the explanation of ``channel`` of ``layer`` for ``image``.

        ``activation`` is the layer's (H, W, C) activation for ``image``, already
        computed by the engine; ``crops`` are the data set's top images of the channel
        (best first; the first :attr:`max_crops` are shown). Returns the overlay (uint8
        RGB) and the activation maximisation result; runs the model (gradient ascent).

        For a volume layer, ``volume_slice`` is ``(slice, slices)``: ``activation`` is
        that slice of the layer, shown over the input's slice at the same depth, with that
        slice of the relevance; there is no feature visualisation (it paints 2-D
        images) and the result's second item is None.
        """
        from ...attribution.overlay import activation_heatmap, overlay

        pixels = engine.pixels(image)
        at = None
        if volume_slice is not None:  # the input slice at the layer slice's depth
            at = min(len(pixels) - 1, int((volume_slice[0] + 0.5) * len(pixels)
                                          / max(volume_slice[1], 1)))
            pixels = pixels[at]
        heat = overlay(pixels, activation_heatmap(activation, channel), alpha=0.5)
        relevant = self._relevance(engine, layer, channel, image)
        if at is not None and self.relevance_map is not None:
            self.relevance_map = self.relevance_map[at]
        result = self._maximize(engine, layer, channel, steps, volume=at is not None)
        self.heat.value = encode_png(upscale_nearest(heat, min_side=160))
        self.relevance.layout.display = "none" if self.relevance_map is None else None
        if self.relevance_map is not None:
            self.relevance.value = encode_png(upscale_nearest(
                overlay(pixels, np.maximum(self.relevance_map, 0), alpha=0.5),
                min_side=160))
        self.maximum.layout.display = "none" if result is None else None
        if result is not None:
            self.maximum.value = encode_png(upscale_nearest(_rgb(result.image), min_side=160))
        made = ("no input made to excite it (feature visualisation paints 2-D images, not "
                "volumes)" if result is None else
                f"an input made to excite it ({result.initial:.3g} -> {result.final:.3g})")
        where = "" if at is None else f" (slice {volume_slice[0]}, over input slice {at})"
        self.crops = list(crops)[:self.max_crops]
        self._show_crops()
        tail = (", and the data set's images that excite it most" if self.crops else "")
        self.caption.value = html.escape(
            f"{layer} channel {channel}{where}: where it fires on this image, {relevant}, "
            f"{made}{tail}.")
        self.layout.display = None
        self.result = (heat, result)
        return self.result

    def _maximize(self, engine: ActivationEngine, layer: str, channel: int, steps: int,
                  volume: bool) -> Any:
        """The feature visualisation of the channel (None for a volume), with progress."""
        from ...attribution.maximize import ActivationMaximization

        if volume:
            return None
        self.progress.layout.display = None

        def progress(step: int, total: int) -> None:
            with self.progress.hold_sync():
                self.progress.max = max(total, 1)
                self.progress.value = step

        result = ActivationMaximization(engine)(layer, channel=channel, steps=steps,
                                                progress=progress)
        self.progress.layout.display = "none"
        return result

    def _relevance(self, engine: ActivationEngine, layer: str, channel: int,
                   image: Any) -> str:
        """Compute :attr:`relevance_map` for the predicted class; words for the caption."""
        from ...attribution.relevance import ChannelRelevance

        if output_kind(engine) == "pixels":  # no one predicted class to explain
            self.relevance_map = None
            return "no relevance map (it needs a classifier: this model gives a class per pixel)"
        try:  # target None: the top class, found inside the same pass
            self.relevance_map = ChannelRelevance(engine, layer)(image, channels=[channel])[0]
        except CnnvizError as error:
            self.relevance_map = None
            return f"no relevance map ({error})"
        except Exception as error:  # noqa: BLE001 - the rest of the explanation still shows
            self.relevance_map = None
            return f"no relevance map ({type(error).__name__}: {error})"
        return "where it is relevant for the predicted class (concept relevance)"

    def _show_crops(self) -> None:
        old = list(self.top.children)
        cells = []
        for crop in self.crops:
            picture = w.Image(format="png", value=encode_png(crop_picture(crop, 72)))
            label = w.HTML(f'<span style="font-size:10px">{html.escape(crop.caption)}</span>')
            cells.append(w.VBox([picture, label], layout=w.Layout(width="80px")))
        self.top.children = cells
        close_widgets(old)


def explain_for(explorer: Any, steps: int = 64) -> tuple[np.ndarray, Any]:
    """:meth:`FeatureMapExplorer.explain_channel` (see there): explain the explorer's
    channel with its current maps, image and (with a data set) the channel's top images,
    in its :class:`ChannelExplainer`. A grid, or a layer without spatial maps, is an
    error reported in the explorer."""
    if explorer.channel is None:
        raise explorer.report(SelectionOutOfRangeError(
            "Pick one channel first (the Channel slider); the grid shows many channels."))
    laid = explorer.current_maps() if explorer.has_channels else None
    if laid is None or laid.strip or explorer.is_signal:  # a token grid has maps: patches
        raise explorer.report(LayerNotViewableError(
            f"{explorer.layer!r} has no spatial maps to lay over the input image."))
    crops: list[Crop] = []
    if explorer.dataset_scans is not None:
        try:
            crops = explorer.dataset_scans.crops(explorer.layer, explorer.channel)
        except CnnvizError:  # the dataset view already says why in its own words
            crops = []
    maps, volume_slice = laid.maps, None
    if explorer.is_volume:  # one slice of every channel, whichever view is on screen
        volume_slice = (explorer.depth, explorer.depth_count())
        maps = explorer.engine.activation(explorer.layer, explorer.image)[explorer.depth]
    return explorer.explainer.explain(explorer.engine, explorer.layer, explorer.channel,
                                      explorer.image, maps, steps, crops,
                                      volume_slice=volume_slice)
