"""Class statistics of a layer's channels: the mean of each channel per label class.

A scan with labels keeps, per channel and class, the sum over the images of that class of
the channel's spatial mean, and how many images each class has (:class:`ClassTotals`).
Both add up, so halves of a set scanned apart merge exactly like the other summaries.
From them come the class means and the class selectivity index of Morcos et al. (2018),
"On the importance of single directions for generalization" (ICLR):
``(mu_max - mu_rest) / (mu_max + mu_rest)``, with ``mu_max`` the largest class mean and
``mu_rest`` the mean of the other classes' means; 1 for a channel that fires for one
class only, 0 for one that fires alike for all (meant for non-negative activations,
after a ReLU).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ClassTotals", "class_label", "class_selectivity"]


def class_selectivity(means: np.ndarray) -> np.ndarray:
    """The class selectivity index of each channel, from (C, K) class means.

    Classes whose mean is NaN (no image of that class) are left out. The index is 0 where
    ``mu_max + mu_rest`` is 0 (a channel that is 0 for every class) and for fewer than two
    classes.

    Parameters
    ----------
    means : numpy.ndarray
        (C, K) the mean of each channel over the images of each class.

    Returns
    -------
    numpy.ndarray
        (C,) float64 ``(mu_max - mu_rest) / (mu_max + mu_rest)``.
    """
    means = np.asarray(means, dtype=np.float64)
    present = ~np.isnan(means).all(axis=0)
    means = means[:, present]
    if means.shape[1] < 2:
        return np.zeros(means.shape[0])
    top = means.max(axis=1)
    rest = (means.sum(axis=1) - top) / (means.shape[1] - 1)
    total = top + rest
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total != 0, (top - rest) / np.where(total != 0, total, 1.0), 0.0)


def class_label(means: np.ndarray, selectivity: float,
                class_names: Sequence[str] | None = None) -> str:
    """A short text for one channel: its preferred class and selectivity.

    >>> class_label(np.array([0.1, 0.9, 0.2]), 0.71, ["T-shirt", "Sneaker", "Bag"])
    'Sneaker, selectivity 0.71'
    """
    means = np.asarray(means, dtype=np.float64)
    if means.size == 0 or np.isnan(means).all():
        return "no labelled image"
    best = int(np.nanargmax(means))
    name = (class_names[best] if class_names is not None and best < len(class_names)
            else f"class {best}")
    return f"{name}, selectivity {selectivity:.2f}"


@dataclass
class ClassTotals:
    """Per class: the sum of each channel's per-image spatial mean, and the image count.

    Attributes
    ----------
    sums : numpy.ndarray
        (C, K) float64 sum over the images of class k of channel c's spatial mean.
    counts : numpy.ndarray
        (K,) int64 images of each class.
    """

    sums: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls, channels: int, classes: int = 0) -> ClassTotals:
        """Totals of no image, for ``classes`` classes (more are added as labels arrive)."""
        return cls(np.zeros((channels, classes)), np.zeros(classes, dtype=np.int64))

    def _grown(self, classes: int) -> None:
        more = classes - len(self.counts)
        if more > 0:
            self.sums = np.pad(self.sums, ((0, 0), (0, more)))
            self.counts = np.pad(self.counts, (0, more))

    def add(self, means: np.ndarray, labels: np.ndarray) -> None:
        """Add (B, C) per-image spatial means of images with ``labels`` (B,) (-1: none)."""
        labels = np.asarray(labels, dtype=np.int64)
        known = labels >= 0
        if not known.any():
            return
        labels = labels[known]
        self._grown(int(labels.max()) + 1)
        # np.add.at rather than a product with one-hot rows: no BLAS threads for this
        np.add.at(self.sums.T, labels, np.asarray(means, dtype=np.float64)[known])
        self.counts += np.bincount(labels, minlength=len(self.counts))

    def widened(self, classes: int) -> ClassTotals:
        """A copy with at least ``classes`` classes (the new ones without images)."""
        out = ClassTotals(self.sums.copy(), self.counts.copy())
        out._grown(classes)
        return out

    def merged(self, other: ClassTotals) -> ClassTotals:
        """The totals of both sets."""
        out = self.widened(len(other.counts))
        out.sums[:, :len(other.counts)] += other.sums
        out.counts[:len(other.counts)] += other.counts
        return out

    @property
    def means(self) -> np.ndarray:
        """(C, K) class means; NaN for a class with no image."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)
