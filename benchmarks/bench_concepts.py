"""Concepts over a data set: ``find_concepts`` against a scan of the same layer.

``find_concepts`` of conv3 of the Fashion CNN (8 concepts) over 10,000 Fashion-MNIST
images (one pass through the model, a factorisation fitted on a sample of positions, every
position projected on the concepts, the top images) against ``scan`` of conv3 over the same
images. Goal: at most 3x the scan's time. The two alternate within each round; the ratio
is the median of the per-round ratios.
"""

from __future__ import annotations

import numpy as np

from ._table import Row, paired_seconds

IMAGES = 10_000
GOAL = 3.0


def run(rounds: int = 3) -> list[Row]:
    """Time find_concepts against a scan of the same layer."""
    from cnnviz_widgets import ActivationEngine, find_concepts, scan, zoo

    x, y = zoo.fashion_mnist("test")
    x, y = x[:IMAGES], y[:IMAGES]
    engine = ActivationEngine(zoo.fashion_cnn())

    def concepts():
        find_concepts(engine, x, "conv3", n=8, labels=y)

    def scanned():
        scan(engine, x, ["conv3"], labels=y, progress=False)

    concepts()
    scanned()
    ours, theirs = paired_seconds(concepts, scanned, rounds)
    cost = float(np.median(np.divide(ours, theirs)))
    return [Row("concepts", f"Fashion CNN, {IMAGES:,} Fashion-MNIST images",
                "find_concepts conv3, n=8", float(np.median(ours)), float(np.median(theirs)),
                "scan of conv3", f"<= {GOAL:.0f}x the scan's time",
                f"median of {rounds} paired ratios {cost:.2f}x the time "
                f"({'met' if cost <= GOAL else 'MISSED'})")]
