"""Image sets for a scan: arrays, lists, folders and ``tf.data`` pipelines, read in batches.

A scan never holds a whole data set in memory. :func:`image_source` turns what a user
passes into an :class:`ImageSource`, which yields the set's items in order, a batch at a
time, each with its index in the set (0, 1, 2, ... in the order the set gives them) and
its label when there is one. Items are decoded later, one by one, by the engine, so one
unreadable item is reported and skipped instead of stopping the scan.

Kinds of set:

- a numpy array (N, H, W) or (N, H, W, C): N images (one (H, W[, C]) image is a set of one);
  for a model whose input is a signal, (N, T, C): N signals (one (T, C) signal is a set of one);
- a list or tuple of paths, encoded bytes, PIL images or arrays;
- a folder: every regular file in it whose name does not start with a dot, sorted by name
  (files that are not images are skipped and reported by the scan);
- a ``tf.data.Dataset`` of images or of (image, label) pairs, batched or not (for example
  from ``keras.utils.image_dataset_from_directory``, whose ``class_names`` are kept).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ScanError
from ..coerce import _is_one_array_image, unwrap_sample

__all__ = ["Batch", "ImageSource", "image_source"]


@dataclass
class Batch:
    """Consecutive items of a set: ``items[i]`` has index ``indices[i]`` in the set.

    ``items`` is a list, or for an array set the stacked rows. ``labels`` holds one
    integer class per item (-1 when unknown) or is None.
    """

    indices: np.ndarray
    items: Any
    labels: np.ndarray | None = None


def _as_label(label: Any) -> int:
    """One integer class from a label: an integer, or the argmax of a one-hot vector."""
    arr = np.asarray(label)
    if arr.ndim == 0:
        return int(arr) if arr.dtype.kind in "biu" or float(arr).is_integer() else -1
    return int(np.argmax(arr)) if arr.size else -1


class ImageSource(ABC):
    """An image set read in batches; see the module docstring for the kinds.

    Attributes
    ----------
    total : int or None
        Number of items, when the set knows it (a ``tf.data`` pipeline may not).
    class_names : list of str or None
        Names of the label classes, when the set carries them.
    description : str
        Words for messages ("an array of 5,000 images", "the folder 'x' (12 files)").
    """

    total: int | None = None
    class_names: list[str] | None = None
    description: str = "the images"
    #: Index of the first item (a part of a larger set starts where the part starts).
    offset: int = 0

    @abstractmethod
    def batches(self, size: int, start: int = 0, stop: int | None = None) -> Iterator[Batch]:
        """Yield the items with indices in [start, stop) in batches of at most ``size``."""

    def name_of(self, index: int) -> int | str:
        """How a skipped item is listed: its path for files, else its index."""
        return index

    def fetch(self, indices: Sequence[int]) -> dict[int, Any]:
        """Return ``{index: item}`` for some indices (to show a scan's top images)."""
        wanted = {int(i) for i in indices}
        found: dict[int, Any] = {}
        if not wanted:
            return found
        last = max(wanted)
        for batch in self.batches(256, 0, last + 1):
            for index, item in zip(batch.indices.tolist(), batch.items, strict=True):
                if index in wanted:
                    found[index] = item
        return found

    def label_of(self, index: int) -> int:
        """The label of one item, -1 when unknown."""
        return -1

    def split(self, start: int, stop: int) -> ImageSource:
        """The items [start, stop) as a source that can be sent to another process."""
        raise ScanError(f"{self.description} cannot be split; scan it in one process.")


class SequenceSource(ImageSource):
    """A list of items (paths, bytes, PIL images, arrays) or an (N, ...) array."""

    def __init__(self, items: Sequence[Any], labels: Any = None, offset: int = 0,
                 class_names: Sequence[str] | None = None, description: str | None = None):
        self.items = items
        self.offset = int(offset)
        self.total = len(items)
        self.labels = None if labels is None else np.asarray(
            [_as_label(v) for v in labels], dtype=np.int64)
        if self.labels is not None and len(self.labels) != self.total:
            raise ScanError(
                f"There are {len(self.labels)} labels for {self.total} images; give one label "
                "per image, or none."
            )
        self.class_names = list(class_names) if class_names is not None else None
        kind = "array" if isinstance(items, np.ndarray) else "list"
        self.description = description or f"the {kind} of {self.total:,} images"

    def batches(self, size: int, start: int = 0, stop: int | None = None) -> Iterator[Batch]:
        first = max(start - self.offset, 0)
        end = self.total if stop is None else min(stop - self.offset, self.total)
        for lo in range(first, end, size):
            hi = min(lo + size, end)
            chunk = self.items[lo:hi]
            # an array keeps its rows stacked (prepared at once when they fit the model)
            items = chunk if isinstance(chunk, np.ndarray) else [unwrap_sample(item)
                                                                 for item in chunk]
            labels = None if self.labels is None else self.labels[lo:hi]
            yield Batch(np.arange(lo, hi, dtype=np.int64) + self.offset, items, labels)

    def name_of(self, index: int) -> int | str:
        item = self.items[index - self.offset]
        return os.fspath(item) if isinstance(item, (str, os.PathLike)) else index

    def fetch(self, indices: Sequence[int]) -> dict[int, Any]:
        return {int(i): unwrap_sample(self.items[int(i) - self.offset]) for i in indices
                if 0 <= int(i) - self.offset < self.total}

    def label_of(self, index: int) -> int:
        return -1 if self.labels is None else int(self.labels[index - self.offset])

    def split(self, start: int, stop: int) -> ImageSource:
        lo, hi = start - self.offset, stop - self.offset
        labels = None if self.labels is None else self.labels[lo:hi]
        return SequenceSource(self.items[lo:hi], labels, offset=start,
                              class_names=self.class_names, description=self.description)


class DatasetSource(ImageSource):
    """A ``tf.data.Dataset`` of images or (image, label) pairs, batched or not."""

    def __init__(self, dataset: Any, input_rank: int, offset: int = 0):
        self.dataset = dataset
        self.offset = int(offset)
        self.class_names = list(getattr(dataset, "class_names", None) or []) or None
        spec = dataset.element_spec
        self.has_labels = isinstance(spec, tuple) and len(spec) >= 2
        image_spec = spec[0] if isinstance(spec, tuple) else spec
        shape = list(getattr(image_spec, "shape", []) or [])
        rank = len(shape)
        if rank == input_rank + 1 or (rank > 0 and shape[0] is None):
            self.batched = True  # .batch() leaves the batch axis unsized
        elif rank == input_rank or rank == 2:
            self.batched = False
        else:
            raise ScanError(
                f"The dataset's images have shape {tuple(shape)}, which is neither one image "
                "nor a batch of images for this model. Yield (H, W[, C]) images or batches "
                "of them, optionally with labels."
            )
        cardinality = int(dataset.cardinality())
        if cardinality >= 0 and not self.batched:
            self.total = cardinality
        elif cardinality == 0:
            self.total = 0
        self.description = "the tf.data dataset"

    def _elements(self) -> Iterator[tuple[Any, int]]:
        for element in self.dataset.as_numpy_iterator():
            if self.has_labels:
                images, labels = element[0], element[1]
            else:
                images, labels = element, None
            if self.batched:
                for j in range(len(images)):
                    yield images[j], -1 if labels is None else _as_label(labels[j])
            else:
                yield images, -1 if labels is None else _as_label(labels)

    def batches(self, size: int, start: int = 0, stop: int | None = None) -> Iterator[Batch]:
        items: list[Any] = []
        labels: list[int] = []
        indices: list[int] = []
        for index, (image, label) in enumerate(self._elements(), start=self.offset):
            if stop is not None and index >= stop:
                break
            if index < start:
                continue
            items.append(image)
            labels.append(label)
            indices.append(index)
            if len(items) == size:
                yield self._batch(indices, items, labels)
                items, labels, indices = [], [], []
        if items:
            yield self._batch(indices, items, labels)

    def _batch(self, indices: list[int], items: list[Any], labels: list[int]) -> Batch:
        return Batch(np.asarray(indices, dtype=np.int64), items,
                     np.asarray(labels, dtype=np.int64) if self.has_labels else None)


def _folder_files(folder: Path) -> list[str]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [os.fspath(p) for p in files]


def _is_dataset(obj: Any) -> bool:
    return type(obj).__module__.startswith("tensorflow") and hasattr(obj, "element_spec")


def image_source(images: Any, input_shape: tuple[int | None, ...],
                 labels: Any = None, class_names: Sequence[str] | None = None,
                 first_index: int = 0) -> ImageSource:
    """Turn what a user passes as a data set into an :class:`ImageSource`.

    Parameters
    ----------
    images : array, sequence, folder path, tf.data.Dataset or ImageSource
        The set; see the module docstring.
    input_shape : tuple
        The model's input shape without the batch axis (``engine.input_shape``).
    labels : sequence of int, optional
        One label per image, for arrays and lists (a ``tf.data`` set carries its own).
    class_names : sequence of str, optional
        Names of the label classes.
    first_index : int
        Index of the first image, when the set is a part of a larger one that is scanned
        in parts and merged.

    Returns
    -------
    ImageSource

    Raises
    ------
    ScanError
        If the set is empty, the folder does not exist, or the object is not a set of
        images.
    """
    if isinstance(images, ImageSource):
        source = images
    elif _is_dataset(images):
        source = DatasetSource(images, input_rank=len(input_shape), offset=first_index)
        if labels is not None:
            raise ScanError("A tf.data dataset carries its own labels: yield (image, label) "
                            "pairs instead of passing labels=.")
    elif isinstance(images, (str, os.PathLike)) and Path(images).is_dir():
        folder = Path(images)
        files = _folder_files(folder)
        source = SequenceSource(files, labels, class_names=class_names, offset=first_index,
                                description=f"the folder {os.fspath(folder)!r}")
    elif isinstance(images, (str, os.PathLike)):
        raise ScanError(
            f"There is no folder at {os.fspath(images)!r}. Pass a folder of image files, a "
            "list of image paths, an array of images or a tf.data dataset."
        )
    elif isinstance(images, np.ndarray):
        if images.ndim < 2:
            raise ScanError(f"An array of shape {images.shape} is not a set of images; pass an "
                            "array of shape (N, H, W) or (N, H, W, C).")
        stack = images[None] if _is_one_array_image(images, input_shape) else images
        source = SequenceSource(stack, labels, class_names=class_names, offset=first_index)
    elif isinstance(images, (list, tuple)):
        source = SequenceSource(list(images), labels, class_names=class_names,
                                offset=first_index)
    elif images is None:
        raise ScanError("No images were given to scan. Pass an array, a list of images, a "
                        "folder or a tf.data dataset.")
    else:
        raise ScanError(
            f"Cannot scan an object of type {type(images).__name__}. Pass an array of shape "
            "(N, H, W[, C]), a list of images, a folder or a tf.data dataset."
        )
    if class_names is not None and source.class_names is None:
        source.class_names = list(class_names)
    if source.total == 0:
        raise ScanError(f"There are no images to scan in {source.description}. Pass a "
                        "non-empty set.")
    return source
