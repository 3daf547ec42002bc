"""Run every benchmark and print one table: ``python -m benchmarks``."""

from __future__ import annotations

import importlib
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SUITES = ["bench_engine", "bench_explorer", "bench_attribution"]


def main(argv: list[str]) -> int:
    from ._table import print_table

    selected = argv or SUITES
    rows = []
    for name in selected:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(module.run())
    print(f"\ncnnviz_widgets benchmarks on {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
