"""Run every benchmark and print one table: ``python -m benchmarks``."""

from __future__ import annotations

import importlib
import os
import platform
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SUITES = ["bench_engine", "bench_deep", "bench_explorer", "bench_attribution", "bench_cam",
          "bench_compare", "bench_scan", "bench_concepts", "bench_featurevis", "bench_relevance",
          "bench_relmax", "bench_trust", "bench_browser"]


def main(argv: list[str]) -> int:
    from ._table import Row, print_table

    selected = argv or SUITES
    rows = []
    for name in selected:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            rows.extend(module.run())
        except Exception as error:  # noqa: BLE001 - report it in the table, run the rest
            traceback.print_exc()
            rows.append(Row(name.removeprefix("bench_"), "", "whole section", None,
                            extra=f"FAILED: {type(error).__name__}: {error}"[:200]))
    print(f"\ncnnviz_widgets benchmarks on {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print_table(rows)
    return 1 if any(row.ours_s is None and not row.skipped for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
