"""What the explorer's canvas shows for its state: one value (maps, a line, bars or an
error) with its title, computed from the state and drawn by the render layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import CnnvizError, LayerNotViewableError
from ...layout.tokens import LayerMaps
from ...render.maps import RenderedView, RenderMemo, render_selection
from ...render.view import (
    NORMALIZATION_LABELS,
    CanvasValue,
    ErrorValue,
    MapValue,
    SeriesValue,
    VectorValue,
    nonfinite_note,
)
from ...zoo.labels import top_classes
from .compare import CompareView
from .volume import slices_value

__all__ = ["order_words", "picture_bundle", "title_of", "value_of"]


def picture_bundle(bundle: Any, value: CanvasValue | None) -> Any:
    """A widget's MIME bundle with the maps on screen added as ``image/png``, for viewers
    without a kernel (a notebook on GitHub)."""
    import base64

    from ...render.view import png_of

    if isinstance(bundle, dict) and isinstance(value, MapValue):
        bundle = dict(bundle)
        bundle["image/png"] = base64.b64encode(png_of(value)).decode("ascii")
    return bundle


def title_of(state: Any, channels: Sequence[int] = (), note: str = "") -> str:
    """The caption's title: layer, image, what of the layer is shown, the scale."""
    info = state.engine.layer(state.layer)
    count = state.channel_count()
    if state.channel is not None:
        what = f"channel {state.channel}"
    elif not state.has_channels:
        what = f"{count} values"
    elif len(channels) >= count:
        what = f"all {count} channels"
        if state.channel_order in ("class", "relevance"):
            what += f", ordered by {order_words(state)}"
    else:
        what = (f"{len(channels)} of {count} channels (page {state.page + 1} of "
                f"{state.page_count()}, ordered by {order_words(state)})")
    if note:
        what += f" | {note}"
    return (f"{info.label} | {state.image_names[state.image_index]} | {what} | "
            f"{NORMALIZATION_LABELS[state.normalization]}")


def order_words(state: Any) -> str:
    """How the grid is ordered, in words for the caption."""
    if state.channel_order not in ("class", "relevance"):
        return state.channel_order
    cls = state.ranked_class()
    names = state.class_names
    name = f" ({names[cls]})" if names and cls < len(names) else ""
    chosen = "" if state.target is not None else "predicted "
    if state.channel_order == "relevance":
        return f"relevance for the {chosen}class {cls}{name}: concept relevance (LRP)"
    return f"contribution to the {chosen}class {cls}{name}: mean of gradient x activation"


def value_of(state: Any, comparison: CompareView) -> CanvasValue:
    """The value on screen for ``state`` (an explorer): a layer's vector as bars, maps (the
    channel, or the page of the grid; a volume's slice, or one channel's slices), one
    channel of a sequence as a line, or in compare
    mode both views on one scale (their difference rendered into ``comparison``). Any
    failure is an :class:`ErrorValue`: the panel stays usable."""
    try:
        activation = state.current_activation()
        if activation.ndim == 1:
            values = np.asarray(activation, dtype=np.float32)
            names = state.class_names
            labels = names if names and len(names) == len(values) else None
            top = top_classes(values, labels) if labels else []
            return VectorValue(values, title_of(state) + nonfinite_note(activation),
                               labels, top)
        if activation.ndim not in (2, 3) and not state.is_volume:
            raise LayerNotViewableError(
                f"The layer {state.layer!r} gives an output of shape {activation.shape}, "
                "which cannot be drawn as images or bars. Pick another layer.")
        laid = state.current_maps()  # a volume: the slice, or the slices, on screen
        # what earlier draws of it computed (a volume's slice is its own source)
        memo = state.render_memo.bind(laid.maps if state.is_volume else activation)
        note = memo.get("note", None, lambda: nonfinite_note(activation))
        if state.is_volume and state.volume_view == "slices":
            return slices_value(state, laid, memo, note)
        if state.compare is not None:
            return _compared(state, laid, comparison)
        rendered = _render(state, laid.maps, strip=laid.strip, memo=memo)
        if laid.strip and state.channel is not None:  # one channel: a line
            steps = laid.maps.shape[1]
            along = "time steps" if laid.along == "time" else "tokens"
            title = title_of(state, rendered.layout.channels, f"a line over {steps} {along}")
            values = np.asarray(laid.maps[0, :, state.channel], dtype=np.float32)
            return SeriesValue(rendered, title, note, values=values,
                               x_label="time step" if laid.along == "time" else "token")
        return MapValue(rendered, title_of(state, rendered.layout.channels, laid.note), note)
    except CnnvizError as error:
        return ErrorValue(error)
    except Exception as error:  # noqa: BLE001 - the panel must stay usable
        return ErrorValue(LayerNotViewableError(
            f"Could not draw layer {state.layer!r} for this image: "
            f"{type(error).__name__}: {error}"))


def _shown_channels(state: Any) -> np.ndarray | None:
    """The page's channels for the grid; None when one channel is shown (not ranked)."""
    return None if state.channel is not None else state.page_channels()


def _render(state: Any, maps: np.ndarray, strip: bool = False,
            memo: RenderMemo | None = None) -> RenderedView:
    """The current channel, or the current page of the grid, of ``maps``."""
    # the static and browser canvases have the browser enlarge small maps (fewer pixels
    # to send and decode)
    return render_selection(maps, state.channel, _shown_channels(state), state.normalization,
                            state.colormap, strip=strip, memo=memo,
                            scale_in_viewer=state.backend != "bqplot",
                            encode_picture=state.backend != "browser")


def _compared(state: Any, laid: LayerMaps, comparison: CompareView) -> MapValue:
    """Both views side by side with one scale; the difference goes below them."""
    key = (state.layer, state.image_index, state.compare, state.compare_index,
           id(state.compare_engine), state.depth, state.volume_view)
    maps = comparison.compared_maps(key, laid.maps, lambda: state.maps_of(
        state.compared_activation()).maps)
    rendered = comparison.render(maps, state.channel, _shown_channels(state),
                                 state.normalization, state.colormap, strip=laid.strip)
    if state.compare == "image":
        right = f"right: {state.image_names[state.compare_index]}"
    else:
        right = "right: the compared model"
    title = (f"{title_of(state, rendered.layout.channels, laid.note)} | left: this view, "
             f"{right}, one scale for both")
    return MapValue(rendered, title, nonfinite_note(laid.maps))
