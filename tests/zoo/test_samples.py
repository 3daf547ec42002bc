"""Sample photos load from installed packages, with the network blocked."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cnnviz_widgets.zoo import SAMPLE_NAMES, Sample, samples

SKIMAGE_NAMES = ["astronaut", "chelsea", "coffee", "rocket"]


def _check(sample: Sample) -> None:
    assert isinstance(sample, Sample)
    assert sample.image.dtype == np.uint8
    assert sample.image.ndim == 3 and sample.image.shape[2] == 3
    assert sample.image.shape[0] >= 200 and sample.image.shape[1] >= 200
    assert sample.image.std() > 20  # a photo, not a blank
    assert sample.licence and sample.source


def test_grace_hopper_always_there(no_network):
    [hopper] = samples(["grace_hopper"])
    _check(hopper)
    assert hopper.name == "grace_hopper"
    assert "public domain" in hopper.licence.lower()
    assert hopper.shape == (600, 512, 3)


def test_all_samples_offline(no_network, require):
    require("skimage", "samples")
    loaded = samples()
    assert [s.name for s in loaded] == list(SAMPLE_NAMES)
    assert SAMPLE_NAMES == ("grace_hopper", *SKIMAGE_NAMES)
    for sample in loaded:
        _check(sample)
    licences = {s.name: s.licence for s in loaded}
    assert licences["chelsea"].startswith("CC0")
    assert "public domain" in licences["astronaut"].lower()


def test_resize(no_network):
    [hopper] = samples(["grace_hopper"], size=224)
    assert hopper.image.shape == (224, 224, 3) and hopper.image.dtype == np.uint8
    [hopper] = samples(["grace_hopper"], size=(100, 80))
    assert hopper.image.shape == (100, 80, 3)
    with pytest.raises(ValueError):
        samples(["grace_hopper"], size=0)


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown sample"):
        samples(["lena"])


def test_missing_scikit_image_is_skipped(monkeypatch, no_network):
    monkeypatch.setitem(sys.modules, "skimage", None)  # import skimage now fails
    assert [s.name for s in samples()] == ["grace_hopper"]
    with pytest.warns(UserWarning, match="chelsea"):
        assert samples(["chelsea"]) == []
