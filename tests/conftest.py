"""Shared test set-up: quiet TensorFlow, no network for models, session-wide models."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CNNVIZ_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
