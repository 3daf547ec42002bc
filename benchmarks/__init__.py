"""Benchmarks of cnnviz_widgets; run them with ``make bench`` (``python -m benchmarks``)."""
