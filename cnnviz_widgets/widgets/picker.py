"""The image picker that panels share: buttons or a slider, thumbnails, an upload."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import numpy as np

from ..errors import CnnvizError, InvalidSettingError
from ..render.encode import data_url, thumbnail
from .panel import Binding, Whole, bind

__all__ = ["ImagePicker", "default_samples", "panel_images", "picker_for", "reads_signals"]

_BUTTONS_UP_TO = 20
_STRIP = 16


class ImagePicker(w.VBox):
    """Pick one of many images: numbered buttons (a slider past 20), a thumbnail strip
    around the chosen one, and an optional upload button.

    Parameters
    ----------
    names : sequence of str
        One name per image (tooltips and thumbnail titles).
    pixels : callable
        ``pixels(i)`` returns image ``i`` as 0-255 pixels (H, W[, C]) for its thumbnail;
        a :class:`~cnnviz_widgets.errors.CnnvizError` leaves the thumbnail blank.
    on_upload : callable, optional
        ``on_upload(data, name)`` gets the bytes of an uploaded file; without it there is
        no upload button.
    thumbnail : callable, optional
        ``thumbnail(i)`` returns the uint8 RGB picture of image ``i`` itself, instead of
        one made from ``pixels(i)`` (e.g. a small line plot of a signal,
        :func:`~cnnviz_widgets.render.signal.signal_thumbnail`).

    Attributes
    ----------
    index : int
        The chosen image (a trait; observe it or bind it).
    """

    index = Whole(0)

    def __init__(self, names: Sequence[str], pixels: Callable[[int], np.ndarray], *,
                 on_upload: Callable[[bytes, str], Any] | None = None,
                 thumbnail: Callable[[int], np.ndarray] | None = None) -> None:
        self._names = list(names)
        self._pixels = pixels
        self._picture = thumbnail
        self._thumbs: dict[int, str] = {}
        self._strip_key: tuple[int, int] | None = None
        self._on_upload = on_upload
        self.buttons = w.ToggleButtons(options=[], description="Image",
                                       style={"button_width": "38px"})
        self.buttons.add_class("cnnviz-image-picker")
        self.slider = w.IntSlider(min=0, max=0, description="Image #", continuous_update=False)
        self.slider.add_class("cnnviz-image-index")
        self.strip = w.HTML()
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="Upload",
                                   layout=w.Layout(display=None if on_upload else "none"))
        self.upload.add_class("cnnviz-upload")
        super().__init__([w.HBox([self.buttons, self.upload]), self.slider, self.strip])
        self._binding: Binding | None = None
        self.upload.observe(self._from_upload, names="value")
        self.observe(self._update_strip, names="index")
        self._refresh_options()
        self._update_strip()

    @property
    def names(self) -> list[str]:
        """The image names, in order."""
        return list(self._names)

    def add(self, name: str) -> int:
        """Offer one more image (its pixels come from ``pixels``); returns its index."""
        self._names.append(name)
        self._refresh_options()
        self._update_strip()
        return len(self._names) - 1

    def _from_upload(self, change: dict) -> None:
        files = change["new"]
        if not files or self._on_upload is None:
            return
        item = files[-1]
        name = item.get("name", "upload") if isinstance(item, dict) else "upload"
        content = item["content"] if isinstance(item, dict) else item.content
        self._on_upload(bytes(content), name)

    def _refresh_options(self) -> None:
        """Buttons for a few images, a slider for many; the one in use is bound to index."""
        if self._binding is not None:
            self._binding.unlink()
        many = len(self._names) > _BUTTONS_UP_TO
        with self.buttons.hold_sync(), self.slider.hold_sync():
            if many:
                self.buttons.options = []
                self.buttons.layout.display = "none"
                self.slider.max = max(0, len(self._names) - 1)
                self.slider.layout.display = None
            else:
                self.buttons.options = [(str(i), i) for i in range(len(self._names))]
                self.buttons.tooltips = list(self._names)
                self.buttons.layout.display = None
                self.slider.layout.display = "none"
        self._binding = bind(self.slider if many else self.buttons, self, "index")

    def _update_strip(self, change: dict | None = None) -> None:
        key = (self.index, len(self._names))
        if key != self._strip_key:  # only a new choice changes the strip
            self._strip_key = key
            self.strip.value = self._strip_html()

    def _thumb(self, i: int) -> str:
        if i not in self._thumbs:
            try:
                picture = (self._picture(i) if self._picture is not None
                           else thumbnail(self._pixels(i)))
                self._thumbs[i] = data_url(picture)
            except CnnvizError:
                self._thumbs[i] = ""
        return self._thumbs[i]

    def _strip_html(self) -> str:
        n, chosen = len(self._names), self.index
        start = max(0, min(chosen - _STRIP // 2, n - _STRIP))
        cells = []
        for i in range(start, min(n, start + _STRIP)):
            border = "3px solid #e4572e" if i == chosen else "1px solid #ccc"
            cells.append(
                f'<figure style="margin:2px;text-align:center" '
                f'title="{html.escape(self._names[i])}"><img src="{self._thumb(i)}" '
                f'style="border:{border};image-rendering:pixelated;width:48px;height:48px;'
                f'object-fit:contain"/><figcaption style="font-size:10px">{i}</figcaption>'
                "</figure>")
        return ('<div class="cnnviz-thumbs" style="display:flex;flex-wrap:wrap">'
                + "".join(cells) + "</div>")


def reads_signals(engine: Any) -> bool:
    """True when ``engine``'s model reads signals (T, C) rather than images."""
    return getattr(getattr(engine, "plan", None), "input_axes", "image") == "sequence"


def _reads_volumes(engine: Any) -> bool:
    return getattr(getattr(engine, "plan", None), "input_axes", "image") == "volume"


def default_samples(engine: Any) -> tuple[list[Any], list[str]]:
    """The package's sample images that suit ``engine``'s model, and their names: digits
    for grayscale, photos for RGB, none for a model of signals (or when the samples cannot
    be had: they are a convenience, a panel works without them)."""
    if reads_signals(engine) or _reads_volumes(engine):
        return [], []
    shape = engine.input_shape
    grayscale = len(shape) == 2 or shape[-1] == 1
    try:
        from .. import zoo

        if grayscale:
            images, labels = zoo.digit_samples()
            return list(images[:10]), [f"digit {int(label)}" for label in labels[:10]]
        photos = zoo.samples()
        return [s.image for s in photos], [s.name for s in photos]
    except Exception:  # noqa: BLE001 - samples are a convenience; the panel works without
        return [], []


def panel_images(engine: Any, images: Any, include_samples: bool) -> tuple[list[Any], list[str]]:
    """A panel's images and their names: ``images`` (split into single images), then the
    package's samples (:func:`default_samples`) when ``include_samples``.

    Raises
    ------
    InvalidSettingError
        When there is nothing to show, saying what to pass (signals for a model of
        signals).
    """
    from ..engine.coerce import image_list, image_names

    shape = engine.input_shape
    found, names = image_list(images, shape), image_names(images, shape)
    if include_samples:
        extra, extra_names = default_samples(engine)
        found, names = found + extra, names + extra_names
    if not found and reads_signals(engine):
        raise InvalidSettingError(
            f"There are no signals to show. This model reads signals of shape {shape} "
            "(time steps, channels): pass images=signals, one array (T, C) or a stack "
            "(N, T, C).")
    if not found:
        raise InvalidSettingError(
            "There are no images to show. Pass images=[...] (paths, arrays or PIL "
            "images) or keep include_samples=True.")
    return found, names


def picker_for(engine: Any, images: Sequence[Any], names: Sequence[str], *,
               on_upload: Callable[[bytes, str], Any] | None = None) -> ImagePicker:
    """The picker of a panel's images for ``engine``'s model.

    Thumbnails are the images' pixels, or for a model of signals (T, C) small line plots
    of the signals (:func:`~cnnviz_widgets.render.signal.signal_thumbnail`), or a
    volume's middle slice; a model of signals or volumes gets no upload button (an
    uploaded file is a picture).

    Parameters
    ----------
    engine : ActivationEngine
        Reads the images (``engine.pixels``).
    images : sequence
        The panel's images; the picker reads ``images[i]`` when it needs a thumbnail, so
        a list the panel appends to is followed.
    names : sequence of str
        One name per image.
    on_upload : callable, optional
        See :class:`ImagePicker`.
    """
    if _reads_volumes(engine):  # a volume's thumbnail is its middle slice; no upload
        return ImagePicker(names, lambda i: (lambda v: v[len(v) // 2])(
            engine.pixels(images[i])))
    if not reads_signals(engine):
        return ImagePicker(names, lambda i: engine.pixels(images[i]), on_upload=on_upload)
    from ..render.signal import signal_thumbnail

    picker = ImagePicker(names, lambda i: engine.pixels(images[i]),
                         thumbnail=lambda i: signal_thumbnail(engine.pixels(images[i])))
    picker.buttons.description = "Signal"
    picker.slider.description = "Signal #"
    return picker
