"""The questions of a quiz on a layer's channels: which of two images drives a channel more?

People understand a unit best when they can predict which image drives it: shown a unit's
strongest natural images, they pick the one of two query images that drives it more 92%
of the time (Borowski et al., "Exemplary natural images explain CNN activations better
than state-of-the-art feature visualization", ICLR 2021). :func:`make_questions` builds
such questions from a scan: for each channel its top images as references, and two query
images that are not among them, one from just below the references in the channel's top
list and one from random images of the set (the one with the lowest maximum of a few).
The right answer is the query with the higher maximum of the channel, computed again
for both. Everything is drawn from one seed, so the same seed gives the same questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import indices_in, whole_number
from ..engine.scan.sources import ImageSource
from ..engine.scan.summary import ChannelStats
from ..errors import InvalidSettingError

__all__ = ["Question", "channel_maxima", "make_questions"]

#: Random images of the set looked at for the weak query (the lowest is kept).
WEAK_CANDIDATES = 16


@dataclass(frozen=True)
class Question:
    """One question: which of two images drives ``channel`` more?

    Attributes
    ----------
    channel : int
        The channel asked about.
    references : tuple of int
        Indices of the images shown as what drives the channel (its top images).
    queries : tuple of (int, int)
        Indices of the two query images, shown as A and B.
    values : tuple of (float, float)
        The channel's maximum on each query image.
    """

    channel: int
    references: tuple[int, ...]
    queries: tuple[int, int]
    values: tuple[float, float]

    @property
    def answer(self) -> int:
        """The right choice: 0 (A) or 1 (B), the query with the higher maximum."""
        return int(self.values[1] > self.values[0])


def channel_maxima(engine: Any, source: ImageSource, layer: str, indices: Sequence[int],
                   channel: int) -> np.ndarray:
    """The maximum of ``channel`` of ``layer`` on each of the images ``indices`` of the set."""
    items = source.fetch(list(indices))
    pixels = np.stack([engine.pixels(items[i]) for i in indices])
    x = np.asarray(engine.preprocess(pixels.astype(np.float32)), dtype=np.float32)
    value = np.asarray(engine.batch_activations(x, [layer])[layer])
    return value[..., channel].reshape(len(indices), -1).max(axis=1).astype(np.float64)


def make_questions(engine: Any, source: ImageSource, stats: ChannelStats,
                   channels: Sequence[int] | None = None, questions: int = 10, seed: int = 0,
                   references: int = 6) -> list[Question]:
    """Build ``questions`` questions on the channels of a scanned layer.

    Parameters
    ----------
    engine : ActivationEngine
        The engine the scan ran on.
    source : ImageSource
        The scanned set.
    stats : ChannelStats
        The layer's scan, with at least ``references + 1`` top images per channel.
    channels : sequence of int, optional
        The channels asked about, in turn (default: channels drawn at random among those
        that fire on enough images).
    questions : int
        Number of questions.
    seed : int
        Seed of every random choice.
    references : int
        Top images shown per question.

    Raises
    ------
    InvalidSettingError
        When no channel has enough top images, or a channel number is out of range.
    """
    rng = np.random.default_rng(seed)
    questions = whole_number(questions, "questions")
    references = whole_number(references, "references")
    filled = (stats.top_indices >= 0).sum(axis=1)
    usable = np.flatnonzero((filled > references) & (stats.max > 0))
    if channels is None:
        if len(usable) == 0:
            raise InvalidSettingError(
                f"No channel of {stats.layer!r} fires on more than {references} images of the "
                "set; give more images or another layer.")
        channels = rng.permutation(usable)[:questions].tolist()
    else:
        channels = indices_in(channels, stats.channels, "channel", f"layer {stats.layer!r}")
        bad = [c for c in channels if c not in set(usable.tolist())]
        if bad:
            raise InvalidSettingError(
                f"Channel(s) {bad} of {stats.layer!r} fire on too few images of the set for a "
                f"question (at least {references + 1} are needed).")
    total = source.total or stats.count
    out = []
    for q in range(questions):
        channel = int(channels[q % len(channels)])
        top = stats.top_indices[channel, :filled[channel]]
        refs = tuple(int(i) for i in top[:references])
        strong = int(rng.choice(top[references:]))
        pool = np.setdiff1d(np.arange(total) + source.offset, top)
        candidates = rng.choice(pool, min(WEAK_CANDIDATES, len(pool)), replace=False)
        values = channel_maxima(engine, source, stats.layer, [strong, *candidates.tolist()],
                                channel)
        weak = int(candidates[int(np.argmin(values[1:]))])
        pair = [(strong, float(values[0])), (weak, float(values[1:].min()))]
        if rng.random() < 0.5:
            pair.reverse()
        out.append(Question(channel, refs, (pair[0][0], pair[1][0]),
                            (pair[0][1], pair[1][1])))
    return out
