"""Timing helpers and the table that ``make bench`` prints."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


def median_seconds(fn: Callable[[], object], repeat: int = 5,
                   setup: Callable[[], object] | None = None) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs; ``setup()`` runs untimed before each."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_seconds(first: Callable[[], object], second: Callable[[], object], rounds: int,
                   first_setup: Callable[[], object] | None = None
                   ) -> tuple[list[float], list[float]]:
    """Wall times of ``first()`` and ``second()``, alternated for ``rounds`` rounds, so that a
    drift of the machine's load hits both; ``first_setup()`` runs untimed before each
    ``first()``. Returns the two lists of seconds, round by round (for paired ratios)."""
    firsts, seconds = [], []
    for _ in range(rounds):
        firsts.append(median_seconds(first, 1, setup=first_setup))
        seconds.append(median_seconds(second, 1))
    return firsts, seconds


@dataclass
class Row:
    """One line of the table: what was measured, on which model, ours, the baseline, a goal.

    ``no_ratio`` prints "-" as the speed-up: for rows whose baseline does different work
    (a cache hit against a model call), a ratio would mean nothing. ``ours_s=None`` marks
    a measurement that failed; ``extra`` then says why. ``skipped`` marks a section that
    cannot run on this machine (a browser missing): it prints "skipped" and is no failure.
    """

    section: str
    model: str
    what: str
    ours_s: float | None
    baseline_s: float | None = None
    baseline_name: str = ""
    goal: str = ""
    extra: str = ""
    no_ratio: bool = False
    skipped: bool = False

    @property
    def ratio(self) -> str:
        if self.no_ratio:
            return "-"
        if self.baseline_s is None or self.ours_s is None or self.ours_s <= 0:
            return ""
        return f"{self.baseline_s / self.ours_s:,.1f}x"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:,.3f}" if seconds < 0.001 else f"{seconds * 1000:,.1f}"


def print_table(rows: list[Row]) -> None:
    """Print ``rows`` as a fixed-width table with the speed-up ratio against each baseline.

    The speed-up is baseline time / our time: above 1x we are faster.
    """
    header = ("section", "model", "measurement", "ours ms", "baseline ms", "speed-up",
              "baseline", "goal", "notes")
    cells = [header] + [
        (r.section, r.model, r.what,
         ("skipped" if r.skipped else "failed") if r.ours_s is None else _ms(r.ours_s),
         _ms(r.baseline_s), r.ratio, r.baseline_name, r.goal, r.extra)
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(header))]
    for n, line in enumerate(cells):
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
