"""Opening a user's model file: code hidden in a Lambda layer is refused, never executed."""

from __future__ import annotations

import html
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import cnnviz_widgets
from cnnviz_widgets import explore
from cnnviz_widgets.errors import CnnvizError, ModelFileError, UnsafeModelFileError
from cnnviz_widgets.io import load_model
from cnnviz_widgets.testing import tiny_cnn


def _lambda_model(marker: Path):
    """A model whose Lambda writes ``marker`` whenever it runs (also when Keras traces it).

    The lambda is self-contained (the path is a constant in its bytecode), so a loader
    that deserialised and ran it would leave the marker behind.
    """
    fn = eval(  # noqa: S307 - builds a self-contained lambda on purpose
        f"lambda t: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), t * 2)[1]"
    )
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inp)
    out = keras.layers.Lambda(fn, name="double")(x)
    return keras.Model(inp, out)


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "lambda_ran.txt"


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_file_with_a_lambda_is_refused_and_its_code_never_runs(tmp_path, marker, suffix):
    model = _lambda_model(marker)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    marker.unlink(missing_ok=True)  # building and saving ran it; from here on it must not
    with pytest.raises(UnsafeModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert isinstance(info.value, CnnvizError)
    for phrase in ("Lambda layer named 'double'", "Nothing was executed", "load_weights",
                   "safe_mode=False", "trust"):
        assert phrase in message
    assert not marker.exists(), "the Lambda's code ran while the file was being refused"
    # the top-level name works too, and safe_mode is the default
    with pytest.raises(UnsafeModelFileError):
        cnnviz_widgets.load_model(path)
    assert not marker.exists()


def test_keras_itself_refuses_a_lambda_even_without_our_pre_check(tmp_path, marker,
                                                                  monkeypatch):
    # defence in depth: if the config scan missed it, Keras' safe_mode still refuses
    model = _lambda_model(marker)
    path = tmp_path / "model.keras"
    model.save(path)
    marker.unlink(missing_ok=True)
    monkeypatch.setattr("cnnviz_widgets.io._find_code", lambda config: None)
    with pytest.raises(UnsafeModelFileError, match="safe_mode=False"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_trusted_file_opens_and_explores(tmp_path, suffix):
    model = tiny_cnn()
    path = tmp_path / f"tiny{suffix}"
    model.save(path)
    loaded = load_model(path)
    x = np.random.default_rng(0).random((1, 8, 8, 1), np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
    ex = explore(loaded, np.zeros((1, 8, 8), np.uint8), include_samples=False)
    assert ex.layer == "conv_a" and ex.errors.message == ""
    ex.close()


def test_safe_mode_false_opens_a_trusted_lambda_file(tmp_path, marker):
    path = tmp_path / "trusted.keras"
    _lambda_model(marker).save(path)
    marker.unlink(missing_ok=True)
    loaded = load_model(path, safe_mode=False)
    assert loaded.get_layer("double") is not None
    # the same file's code does run when the user opts in: the marker is a real witness
    loaded(np.zeros((1, 8, 8, 1), np.float32))
    assert marker.exists()


def _truncated(tmp_path, suffix):
    path = tmp_path / f"good{suffix}"
    tiny_cnn().save(path)
    data = path.read_bytes()
    bad = tmp_path / f"truncated{suffix}"
    bad.write_bytes(data[: len(data) // 3])
    return bad


def _h5_without_config(tmp_path):
    path = tmp_path / "weights_only.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"conv_a"])
    return path


FILE_CASES = [
    ("missing", lambda t: t / "nope.keras", "no model file"),
    ("directory", lambda t: t, "no model file"),
    ("unknown-suffix", lambda t: _write(t / "model.pt", b"\0" * 10), "not a Keras model file"),
    ("savedmodel-pb", lambda t: _write(t / "saved_model.pb", b"\0" * 10), "TFSMLayer"),
    ("keras-not-a-zip", lambda t: _write(t / "m.keras", b"not a zip"), "corrupted"),
    ("keras-empty", lambda t: _write(t / "m.keras", b""), "corrupted"),
    ("keras-truncated", lambda t: _truncated(t, ".keras"), "corrupted"),
    ("h5-truncated", lambda t: _truncated(t, ".h5"), "corrupted"),
    ("h5-garbage", lambda t: _write(t / "m.h5", b"garbage" * 10), "HDF5"),
    ("keras-zip-without-config", lambda t: _zip(t / "m.keras"), "config.json"),
    ("weights-only-keras3", lambda t: _weights(t), "model.load_weights"),
    ("h5-with-weights-only", _h5_without_config, "model.load_weights"),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", "{}")
    return path


def _weights(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.weights.h5"
    tiny_cnn().save_weights(path)
    return path


@pytest.mark.parametrize(("build", "phrase"), [c[1:] for c in FILE_CASES],
                         ids=[c[0] for c in FILE_CASES])
def test_bad_model_files_give_a_clear_message(tmp_path, build, phrase):
    path = build(tmp_path)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert phrase in str(info.value)
    assert isinstance(info.value, CnnvizError)


def test_messages_are_plain_text_for_the_panel(tmp_path, marker):
    path = tmp_path / "m.keras"
    _lambda_model(marker).save(path)
    with pytest.raises(UnsafeModelFileError) as info:
        load_model(path)
    assert html.escape(str(info.value)).count("&lt;") == 0  # no markup to escape
