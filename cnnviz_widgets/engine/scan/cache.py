"""The scans of one data set, kept per layer, and the crops of a channel's top images.

:class:`DatasetScans` is the state behind the explorer's dataset view, without widgets:
the set, one scan per layer, run when a layer is first needed and kept (moving the
channel never scans again), and the crops of a channel's top images, each cut to the
receptive box of its maximum (:class:`Crop`, plain data that the render side draws).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ...checks import index_in, whole_number
from ...errors import CnnvizError, InvalidSettingError, ScanError
from ...progress import ProgressLike
from ..receptive import plan_of, receptive_box, receptive_fields, volume_box
from .front import scan
from .result import ScanResult
from .sources import image_source
from .summary import ChannelStats

__all__ = ["Crop", "DatasetScans"]

#: Decoded images kept for the crops (the top images of a few channels).
_PIXEL_MEMO = 256


@dataclass(frozen=True)
class Crop:
    """One top image of a channel, cropped to the receptive box of its maximum.

    Attributes
    ----------
    pixels : numpy.ndarray
        0-255 values, (h, w) or (h, w, C): the input pixels of the box, as the model saw
        them before preprocessing.
    marker : (top, left, bottom, right) or None
        Where the position of the maximum sits inside the crop (bottom and right
        exclusive); None for a layer without spatial maps (the crop is the whole image).
    caption : str
        What the picture is (label, value, image index).
    index : int
        The image's index in the data set.
    value : float
        The channel's maximum on this image.
    signal : bool
        ``pixels`` are a stretch of a signal (T, C) rather than image pixels: it is drawn
        as lines, and the marker's rows are its time steps.
    """

    pixels: np.ndarray
    marker: tuple[int, int, int, int] | None
    caption: str
    index: int = -1
    value: float = float("nan")
    signal: bool = False


def _unreadable(description: str, skipped: Sequence[tuple[Any, str]], partial: bool) -> str:
    if partial:
        return ("The scan of the data set was stopped before any image was read; select "
                "the layer again to scan it.")
    if not skipped:
        return f"{description[:1].upper()}{description[1:]} holds no image to scan."
    first, reason = skipped[0]
    return (f"None of the {len(skipped):,} items of {description} could be read as an image, "
            f"so there is nothing to show. The first one ({first}): {reason} Give images "
            "the model can take: arrays, image files, bytes or PIL images.")

class DatasetScans:
    """The dataset view's state: a set, its scans (one per layer, cached) and crops.

    Parameters
    ----------
    engine : ActivationEngine
        The explorer's engine (its preprocessing is the scan's).
    dataset : set of images or ScanResult
        Anything :func:`~.front.scan` reads (an array, a list of images or paths, a
        folder, a ``tf.data`` set of images or (image, label) pairs), or a
        :class:`~.summary.ScanResult` computed earlier (for example
        ``ScanResult.load(path).attach(images, engine.input_shape)``): its layers are
        shown without scanning, and other layers are scanned from the images it is
        attached to.
    labels : sequence of int, optional
        One label per image of an array or list (a ``tf.data`` set and a scan carry
        their own).
    class_names : sequence of str, optional
        Names of the label classes, used when the set has none.
    top_k : int
        Top images kept per channel (a scan given as ``dataset`` keeps its own).
    batch_size : int
        Images per batch of a scan.

    Attributes
    ----------
    scan_count : int
        Scans run so far (each scans the layers it was asked for in one pass).
    source : ImageSource or None
        The images (None for a saved scan that was not given its images again).
    """

    def __init__(self, engine: Any, dataset: Any, *, labels: Any = None,
                 class_names: Sequence[str] | None = None, top_k: int = 9,
                 batch_size: int = 64) -> None:
        self.engine = engine
        self.top_k = whole_number(top_k, "The dataset view's top_k")
        self.batch_size = whole_number(batch_size, "The dataset view's batch_size")
        self.scan_count = 0
        self._stats: dict[str, ChannelStats] = {}
        self._notes: dict[str, str] = {}
        self._failed: dict[str, CnnvizError] = {}
        self._pixels: OrderedDict[int, np.ndarray] = OrderedDict()
        if isinstance(dataset, ScanResult):
            if labels is not None:
                raise InvalidSettingError(
                    "A scan result carries the labels it was scanned with; give "
                    "dataset_labels only with a set of images.")
            self.source = dataset.source
            names = dataset.class_names
            for name, stats in dataset.items():
                self.engine.layer(name)  # a scan of another model: LayerNotFoundError
                self._stats[name] = stats
                self._notes[name] = self._note(dataset)
            if dataset.layers:
                self.top_k = dataset[dataset.layers[0]].top_k
        else:
            self.source = image_source(dataset, engine.input_shape, labels, class_names)
            names = self.source.class_names
        given = names or class_names
        self.class_names = list(given) if given else None

    @property
    def description(self) -> str:
        """Words for the set ("the array of 1,000 images")."""
        return self.source.description if self.source is not None else "the saved scan"

    # -- scans -------------------------------------------------------------------------
    @staticmethod
    def _note(result: ScanResult) -> str:
        parts = []
        if result.skipped:
            parts.append(f"{len(result.skipped):,} item(s) could not be read and were skipped")
        if result.partial:
            parts.append("the scan was stopped early, so this is part of the set")
        return "; ".join(parts)

    def has(self, layer: str) -> bool:
        """True when ``layer`` was scanned (showing it needs no scan)."""
        return layer in self._stats

    def ensure(self, layers: Sequence[str], progress: ProgressLike = None) -> None:
        """Scan, in one pass, the layers of ``layers`` that were not scanned yet.

        Raises
        ------
        CnnvizError
            Why a layer cannot be shown (no readable image, a layer the scan cannot
            summarise...). A failure is remembered: asking again does not scan again.
        """
        wanted = list(dict.fromkeys(layers))
        for name in wanted:
            if name in self._failed:
                raise self._failed[name]
        missing = [name for name in wanted if name not in self._stats]
        if not missing:
            return
        if self.source is None:
            raise ScanError(
                f"The saved scan has no statistics of {', '.join(map(repr, missing))} and no "
                "images to scan them from. Give it the images with result.attach(images, "
                "engine.input_shape), or pick one of its layers: "
                + ", ".join(map(repr, self._stats)) + ".")
        try:
            result = scan(self.engine, self.source, missing, top_k=self.top_k,
                          batch_size=self.batch_size,
                          progress=progress if progress is not None else False)
        except CnnvizError as error:
            self._remember(missing, error)
            raise
        except Exception as exc:  # noqa: BLE001 - a broken set must not break the panel
            error = ScanError(f"Could not scan {self.description}: {type(exc).__name__}: "
                              f"{exc}")
            self._remember(missing, error)
            raise error from exc
        finally:
            self.scan_count += 1
        if result.count == 0:
            error = ScanError(_unreadable(self.description, result.skipped, result.partial))
            if not result.partial:
                self._remember(missing, error)
            raise error
        for name in missing:
            self._stats[name] = result[name]
            self._notes[name] = self._note(result)

    def _remember(self, layers: Sequence[str], error: CnnvizError) -> None:
        for name in layers:
            self._failed[name] = error

    def stats(self, layer: str, progress: ProgressLike = None) -> ChannelStats:
        """The statistics of ``layer`` over the set, scanning it the first time."""
        self.ensure([layer], progress)
        stats = self._stats[layer]
        if stats.class_names is None:  # names given to the view, not to a saved scan
            stats.class_names = self.class_names
        return stats

    def note(self, layer: str) -> str:
        """What the scan of ``layer`` left out ("" when it read every item)."""
        return self._notes.get(layer, "")

    def label_name(self, label: int) -> str | None:
        """The class name of a label; None when unknown."""
        return ScanResult({}, class_names=self.class_names).label_name(label)

    # -- crops -------------------------------------------------------------------------
    def _pixels_of(self, indices: Sequence[int]) -> dict[int, np.ndarray]:
        """0-255 pixels (model input size) of some images of the set, memoised."""
        missing = [i for i in indices if i not in self._pixels]
        if missing:
            items = self.source.fetch(missing)
            for index in missing:
                if index not in items:
                    raise ScanError(f"Image {index} of {self.description} is no longer there; "
                                    "was the set changed after the scan? Set the data set "
                                    "again to scan it again.")
                self._pixels[index] = self.engine.pixels(items[index])
        out = {}
        for index in indices:
            self._pixels.move_to_end(index)
            out[index] = self._pixels[index]
        while len(self._pixels) > _PIXEL_MEMO:
            self._pixels.popitem(last=False)
        return out

    def _marker(self, layer: str, row: int, col: int, box: tuple[int, int, int, int],
                image_size: tuple[int, int] | None) -> tuple[int, int, int, int]:
        """Where position (row, col) sits inside its box: one step of the layer's grid
        (``jump`` pixels) around the centre of its receptive field."""
        top, left, bottom, right = box
        try:
            field = receptive_fields(plan_of(self.engine), image_size)[layer]
            bounds = []
            for axis, position, first, extent in ((field.rows, row, top, bottom - top),
                                                  (field.cols, col, left, right - left)):
                first_px, end_px = axis.span(position)
                centre = Fraction(first_px + end_px, 2)
                half = max(Fraction(axis.jump), Fraction(1)) / 2
                lo = max(math.floor(centre - half) - first, 0)
                hi = min(math.ceil(centre + half) - first, extent)
                bounds.append((lo, max(hi, lo + 1)))
            (r0, r1), (c0, c1) = bounds
            return r0, c0, r1, c1
        except Exception:  # noqa: BLE001 - the marker is a hint; the centre of the box will do
            r, c = (bottom - top) // 2, (right - left) // 2
            return r, c, r + 1, c + 1

    def crops(self, layer: str, channel: int, stats: ChannelStats | None = None,
              value_name: str = "max") -> list[Crop]:
        """The top images of ``channel`` of ``layer``, each cropped to the receptive box of
        its maximum (whole images for a layer without spatial maps), best first. For a
        volume, the crop is the middle frame (slice) of the maximum's 3-D box
        (:func:`~cnnviz_widgets.engine.receptive.volume_box`), or the middle slice.

        ``stats`` gives other top lists of the layer over the same set (a relevance scan,
        :func:`~cnnviz_widgets.meaning.relevance_scan`) in place of the activation scan's;
        ``value_name`` is the word for their values in the captions.

        Raises
        ------
        CnnvizError
            When the layer cannot be scanned, the channel does not exist, or the images
            are not at hand (a saved scan without them).
        """
        stats = self.stats(layer) if stats is None else stats
        channel = index_in(channel, stats.channels, "channel", f"layer {layer!r}")
        if self.source is None:
            return []
        columns = [j for j in range(stats.top_k) if stats.top_indices[channel, j] >= 0]
        indices = [int(stats.top_indices[channel, j]) for j in columns]
        pixels = self._pixels_of(indices)
        spatial = self.engine.layer(layer).is_spatial
        signal = self.engine.plan.input_axes == "sequence"
        volume = self.engine.plan.input_axes == "volume"  # a crop is one frame of the box
        over_time = signal and self.engine.layer(layer).layout == "sequence"
        flexible = None in tuple(self.engine.input_shape)[:2]
        out = []
        for j, index in zip(columns, indices, strict=True):
            image = pixels[index]
            value = float(stats.top_values[channel, j])
            if over_time:  # a window of the signal: its time steps are the box's rows
                step = int(stats.top_positions[channel, j][0])
                top, _, bottom, _ = receptive_box(self.engine, layer, step, 0)
                r0, _, r1, _ = self._marker(layer, step, 0, (top, 0, bottom, 1), None)
                box, marker = (top, 0, bottom, image.shape[1]), (r0, 0, r1, image.shape[1])
            elif volume and self.engine.layer(layer).layout == "volume":
                d, row, col = (int(v) for v in stats.top_positions[channel, j])
                front, top, left, back, bottom, right = volume_box(self.engine, layer, d, row,
                                                                   col)
                image = image[(front + back - 1) // 2]  # the middle frame the position sees
                box, marker = (top, left, bottom, right), None
            elif spatial:
                row, col = (int(v) for v in stats.top_positions[channel, j])
                size = tuple(image.shape[:2]) if flexible else None
                box = receptive_box(self.engine, layer, row, col, image_size=size)
                marker = self._marker(layer, row, col, box, size)
            else:
                image = image[len(image) // 2] if volume else image  # a volume: its middle
                box, marker = (0, 0, image.shape[0], image.shape[1]), None
            top, left, bottom, right = box
            label = self.label_name(int(stats.top_labels[channel, j]))
            caption = " | ".join(part for part in (label, f"{value_name} {value:.3g}", f"#{index}")
                                 if part)
            out.append(Crop(np.asarray(image[top:bottom, left:right]), marker, caption,
                            index, value, signal))
        return out

    def top_images(self, layers: Sequence[str], progress: ProgressLike = None
                   ) -> dict[str, list[list[Crop]]]:
        """``{layer: [crops of channel 0, crops of channel 1, ...]}``, scanning what is
        missing in one pass (for the exported page)."""
        self.ensure(layers, progress)
        return {name: [self.crops(name, c) for c in range(self._stats[name].channels)]
                for name in dict.fromkeys(layers)}
