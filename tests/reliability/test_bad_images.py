"""A catalogue of bad and odd images: each ends in a clear message, or is handled right.

Every *bad* input is tried twice:

* through the API (``engine.prepare`` / ``engine.activation``): it must raise our own
  exception type (a :class:`CnnvizError` subtype) whose message contains a phrase that
  says what went wrong or what to do;
* in a panel (``ex.add_image`` and, for encoded files, the upload button): the message
  shows inside the panel, no image is lost or added, and the next valid action redraws
  and clears the message.

Every *odd but valid* input (16-bit, palette, RGBA, CMYK, 1x1, extremely wide, gray for
an RGB model, ...) must be accepted and give the right prepared shape and values.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import ActivationEngine, explore
from cnnviz_widgets.errors import (
    CnnvizError,
    ImageDecodeError,
    ImageShapeError,
    LayerComputeError,
)
from cnnviz_widgets.testing import tiny_cnn

# -- builders ------------------------------------------------------------------------------


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _photo(size: tuple[int, int] = (16, 16)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


GOOD_PNG = _encode(_photo())


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's calling card)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _float_tiff(value: float) -> bytes:
    return _encode(Image.fromarray(np.full((8, 8), value, np.float32)), "TIFF")


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (8, 8), (40 * i, 0, 0)) for i in range(1, 4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def _fullsize_bomb() -> bytes:
    # a real, decodable 1-bit PNG of 10000 x 9000 = 90 M pixels: above Pillow's
    # MAX_IMAGE_PIXELS (89.5 M) so only its warning-level guard stands in the way
    return _encode(Image.new("1", (10_000, 9_000)), "PNG")


@dataclass(frozen=True)
class Bad:
    """One bad input: how to build it, the model it goes to, and what must be said."""

    id: str
    build: Callable[[Path], Any]
    error: type[CnnvizError]
    phrase: str
    model: str = "rgb"  # rgb: (8, 8, 3), gray: (8, 8, 1), dynamic: (None, None, 3)


BAD: list[Bad] = [
    # encoded files that are not (whole) images
    Bad("empty-bytes", lambda t: b"", ImageDecodeError, "empty"),
    Bad("empty-file", lambda t: _file(t, "empty.png", b""), ImageDecodeError, "empty.png"),
    Bad("png-signature-only", lambda t: GOOD_PNG[:8], ImageDecodeError, "PNG, JPEG"),
    Bad("png-truncated-header", lambda t: GOOD_PNG[:40], ImageDecodeError, "PNG, JPEG"),
    Bad("png-truncated-half", lambda t: GOOD_PNG[: len(GOOD_PNG) // 2], ImageDecodeError,
        "truncated"),
    Bad("jpeg-truncated", lambda t: _encode(_photo((64, 64)), "JPEG")[:200], ImageDecodeError,
        "Could not read"),
    Bad("text-bytes", lambda t: b"hello, world", ImageDecodeError, "not in an image format"),
    Bad("html-bytes", lambda t: b"<!doctype html><p>hi</p>", ImageDecodeError,
        "not in an image format"),
    Bad("zip-bytes", lambda t: b"PK\x03\x04" + b"\0" * 60, ImageDecodeError, "PNG, JPEG"),
    Bad("pdf-bytes", lambda t: _encode(_photo(), "PDF"), ImageDecodeError,
        "not in an image format"),
    Bad("svg-bytes", lambda t: b'<svg xmlns="http://www.w3.org/2000/svg"/>', ImageDecodeError,
        "not in an image format"),
    Bad("text-file-named-png", lambda t: _file(t, "notes.png", b"just text"), ImageDecodeError,
        "notes.png"),
    Bad("missing-path", lambda t: t / "missing.png", ImageDecodeError, "no image file"),
    Bad("directory-path", lambda t: t, ImageDecodeError, "no image file"),
    # decompression bombs: Pillow's guard holds and the message says what to do
    Bad("bomb-header-40000x40000", lambda t: _png_claiming(40_000, 40_000), ImageDecodeError,
        "too large to open safely"),
    Bad("bomb-file-90-megapixels", lambda t: _file(t, "bomb.png", _fullsize_bomb()),
        ImageDecodeError, "Resize it"),
    # Python objects that are not images
    Bad("none", lambda t: None, ImageDecodeError, "NoneType"),
    Bad("int", lambda t: 5, ImageDecodeError, "type int"),
    Bad("dict", lambda t: {"pixels": 1}, ImageDecodeError, "type dict"),
    Bad("ragged-list", lambda t: [[1, 2], [3]], ImageDecodeError, "type list"),
    # arrays of the wrong dtype
    Bad("string-array", lambda t: np.array([["a", "b"]]), ImageShapeError, "hold numbers"),
    Bad("complex-array", lambda t: np.zeros((8, 8), complex), ImageShapeError, "hold numbers"),
    Bad("object-array", lambda t: np.full((8, 8), None, dtype=object), ImageShapeError,
        "hold numbers"),
    Bad("negative-int8", lambda t: np.full((8, 8), -5, np.int8), ImageShapeError, "negative"),
    Bad("negative-int16-wide-range", lambda t: np.array([[-300, 700]] * 4, np.int16),
        ImageShapeError, "negative"),
    # non-finite and out-of-range float values
    Bad("nan-float32", lambda t: np.full((8, 8, 3), np.nan, np.float32), ImageShapeError,
        "nan_to_num"),
    Bad("one-nan-pixel", lambda t: np.where(np.eye(8, dtype=bool)[..., None], np.nan,
                                            np.ones((8, 8, 3))), ImageShapeError, "NaN"),
    Bad("inf-float32", lambda t: np.full((8, 8), np.inf, np.float32), ImageShapeError,
        "infinite"),
    Bad("minus-inf-float16", lambda t: np.full((8, 8), -np.inf, np.float16), ImageShapeError,
        "infinite"),
    Bad("float64-beyond-float32", lambda t: np.full((8, 8), 1e300), ImageShapeError,
        "too large for float32"),
    Bad("float-tiff-nan", lambda t: _float_tiff(np.nan), ImageShapeError, "NaN"),
    Bad("pil-mode-F-inf", lambda t: Image.new("F", (8, 8), float("inf")), ImageShapeError,
        "infinite"),
    # shapes
    Bad("0-d-array", lambda t: np.array(3.0), ImageShapeError, "got shape ()"),
    Bad("1-d-array", lambda t: np.zeros(8), ImageShapeError, "(H, W)"),
    Bad("5-d-array", lambda t: np.zeros((2, 1, 8, 8, 3)), ImageShapeError, "(H, W)"),
    Bad("batch-of-2", lambda t: np.zeros((2, 8, 8, 3)), ImageShapeError, "images[0]"),
    Bad("batch-of-0", lambda t: np.zeros((0, 8, 8, 3)), ImageShapeError, "batch of 0"),
    Bad("channels-first", lambda t: np.zeros((3, 8, 8)), ImageShapeError, "np.moveaxis"),
    Bad("empty-0x0", lambda t: np.zeros((0, 0)), ImageShapeError, "empty"),
    Bad("empty-0x5x3", lambda t: np.zeros((0, 5, 3)), ImageShapeError, "empty"),
    Bad("zero-channels", lambda t: np.zeros((8, 8, 0)), ImageShapeError, "0 channel"),
    Bad("5-channels-for-rgb", lambda t: np.zeros((8, 8, 5)), ImageShapeError, "(H, W, 3)"),
    Bad("5-channels-for-gray", lambda t: np.zeros((8, 8, 5)), ImageShapeError, "grayscale",
        model="gray"),
    Bad("1000-channels", lambda t: np.zeros((6, 6, 1000)), ImageShapeError, "1000 channel"),
    # an image too small for a model that takes any size: the layer fails, clearly
    Bad("1x1-for-flexible-model", lambda t: np.full((1, 1, 3), 128, np.uint8), LayerComputeError,
        "too small", model="dynamic"),
    Bad("2x50-for-flexible-model", lambda t: np.full((2, 50, 3), 128, np.uint8),
        LayerComputeError, "larger image", model="dynamic"),
]


def _models() -> dict[str, Any]:
    layers = keras.layers
    keras.utils.set_random_seed(0)
    dynamic = keras.Sequential([
        keras.Input((None, None, 3)),
        layers.Conv2D(4, 3, name="conv"),
        layers.MaxPooling2D(2, name="pool"),
        layers.GlobalAveragePooling2D(name="gap"),
    ], name="flexible")
    return {"rgb": tiny_cnn((8, 8, 3)), "gray": tiny_cnn((8, 8, 1)), "dynamic": dynamic}


@pytest.fixture(scope="module")
def models():
    return _models()


@pytest.fixture(scope="module")
def engines(models):
    return {k: ActivationEngine(m) for k, m in models.items()}


def _good_images(kind: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    shape = {"rgb": (3, 8, 8, 3), "gray": (3, 8, 8), "dynamic": (3, 12, 12, 3)}[kind]
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _message(ex) -> str:
    return ex.errors.message


def _api(engine: ActivationEngine, kind: str, image: Any) -> None:
    if kind == "dynamic":
        engine.activation("gap", image)
    else:
        engine.prepare(image)


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_api_raises_our_error_with_a_helpful_message(case, engines, tmp_path):
    engine = engines[case.model]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy or Pillow warning escapes either
        with pytest.raises(case.error) as info:
            _api(engine, case.model, case.build(tmp_path))
    assert isinstance(info.value, CnnvizError)
    assert case.phrase in str(info.value)
    assert "<_io.BytesIO" not in str(info.value)  # no internal reprs in messages
    # the engine still works afterwards
    good = _good_images(case.model)[0]
    _api(engine, case.model, good)


PANEL_BAD = [c for c in BAD if c.model != "dynamic"]


@pytest.mark.parametrize("case", PANEL_BAD, ids=[c.id for c in PANEL_BAD])
def test_panel_shows_the_message_and_stays_usable(case, models, tmp_path):
    ex = explore(models[case.model], _good_images(case.model), include_samples=False)
    ex.image_index = 1
    view_before = ex.current_view().copy()
    images_before = list(ex.images)
    with pytest.raises(case.error):
        ex.add_image(case.build(tmp_path))
    assert case.phrase in _message(ex)
    assert ex.images == images_before and ex.image_index == 1  # nothing lost or added
    np.testing.assert_array_equal(ex.current_view(), view_before)  # the old view stays
    # the next valid action works and clears the message
    ex.image_index = 0
    assert _message(ex) == ""
    expected = ex.engine.activation(ex.layer, ex.images[0])
    np.testing.assert_array_equal(ex.current_activation(), expected)
    assert np.isfinite(ex.current_view()).any()
    ex.close()


@pytest.mark.parametrize("case", [c for c in BAD if c.model == "dynamic"],
                         ids=[c.id for c in BAD if c.model == "dynamic"])
def test_image_too_small_for_the_model_is_explained_in_the_panel(case, models, tmp_path):
    # a valid image is accepted by add_image; the model then fails on it, and the panel
    # says why instead of showing the previous image's maps as if they were this one's
    ex = explore(models["dynamic"], _good_images("dynamic"), include_samples=False)
    index = ex.add_image(case.build(tmp_path))
    assert ex.image_index == index
    assert case.phrase in _message(ex) and "'conv'" in _message(ex)
    with pytest.raises(case.error):
        ex.current_view()
    ex.image_index = 2
    assert _message(ex) == ""
    np.testing.assert_array_equal(ex.current_activation(),
                                  ex.engine.activation(ex.layer, ex.images[2]))
    assert ex.current_view().shape[0] > 0
    ex.close()


ENCODED = [c for c in BAD if c.id.endswith("bytes") or c.id.startswith(("png", "jpeg", "bomb-h"))
           or c.id == "float-tiff-nan"]


@pytest.mark.parametrize("case", ENCODED, ids=[c.id for c in ENCODED])
def test_bad_upload_is_reported_in_the_panel(case, models, tmp_path):
    ex = explore(models["rgb"], _good_images("rgb"), include_samples=False)
    count = len(ex.images)
    data = case.build(tmp_path)
    ex.picker.upload.set_state({"value": [{"name": "upload.png", "type": "image/png",
                                     "size": len(data), "last_modified": 0,
                                     "content": memoryview(data)}]})
    message = _message(ex)
    assert "upload.png" in message and case.phrase in message
    assert len(ex.images) == count
    ex.layer = "conv_b"
    assert _message(ex) == ""
    assert ex.current_view().shape[0] > 0
    ex.close()


# -- odd inputs that must work ----------------------------------------------------------------


@dataclass(frozen=True)
class Odd:
    """An unusual but valid input and the 0-255 pixels the (8, 8, C) model must receive."""

    id: str
    build: Callable[[Path], Any]
    expected: Callable[[], np.ndarray]  # pixels, shape (8, 8, C), before preprocessing
    model: str = "rgb"
    atol: float = 0.6


def _const(value, channels: int = 3) -> Callable[[], np.ndarray]:
    return lambda: np.broadcast_to(np.asarray(value, np.float32), (8, 8, channels))


def _luma(r: float, g: float, b: float) -> float:
    return 0.299 * r + 0.587 * g + 0.114 * b


ODD: list[Odd] = [
    Odd("16-bit-png", lambda t: _encode(Image.fromarray(np.full((8, 8), 60000, np.uint16))),
        _const(60000 * 255 / 65535)),
    Odd("16-bit-array", lambda t: np.full((8, 8, 3), 65535, np.uint16), _const(255.0)),
    Odd("uint32-array-above-255", lambda t: np.array([[0, 1000]] * 8 * 4, np.uint32).reshape(
        8, 8), lambda: np.broadcast_to(np.tile([0.0, 255.0], 4)[None, :, None], (8, 8, 3))),
    Odd("palette-png", lambda t: _encode(Image.new("RGB", (8, 8), (200, 10, 10)).convert(
        "P", palette=Image.Palette.ADAPTIVE)), _const([200, 10, 10])),
    Odd("palette-with-transparency",
        lambda t: _encode(Image.new("RGBA", (8, 8), (30, 60, 90, 0)).convert(
            "P", palette=Image.Palette.ADAPTIVE), transparency=0), _const([30, 60, 90])),
    Odd("rgba-png", lambda t: _encode(Image.new("RGBA", (8, 8), (10, 20, 30, 0))),
        _const([10, 20, 30])),
    Odd("rgba-array", lambda t: np.dstack([np.full((8, 8, 3), 77, np.uint8),
                                           np.zeros((8, 8), np.uint8)]), _const(77)),
    Odd("cmyk-jpeg", lambda t: _encode(Image.new("CMYK", (8, 8), (0, 0, 0, 0)), "JPEG"),
        _const(255.0), atol=2),
    Odd("cmyk-pil-image", lambda t: Image.new("CMYK", (8, 8), (0, 255, 255, 0)),
        _const([255, 0, 0])),
    Odd("1x1-image", lambda t: np.full((1, 1, 3), 42, np.uint8), _const(42)),
    Odd("extremely-wide-1x20000", lambda t: np.full((1, 20_000, 3), 99, np.uint8), _const(99)),
    Odd("extremely-tall-file", lambda t: _file(t, "tall.png", _encode(
        Image.new("RGB", (1, 30_000), (5, 6, 7)))), _const([5, 6, 7])),
    Odd("grayscale-for-rgb-model", lambda t: np.full((8, 8), 50, np.uint8), _const(50)),
    Odd("grayscale-png-for-rgb-model", lambda t: _encode(Image.new("L", (8, 8), 70)),
        _const(70)),
    Odd("rgb-for-grayscale-model", lambda t: np.broadcast_to(
        np.array([100, 150, 200], np.uint8), (8, 8, 3)).copy(),
        _const(_luma(100, 150, 200), 1), model="gray", atol=0.01),
    Odd("rgb-png-for-grayscale-model", lambda t: _encode(Image.new("RGB", (8, 8), (0, 255, 0))),
        _const(_luma(0, 255, 0), 1), model="gray", atol=0.6),
    Odd("gray-alpha-png", lambda t: _encode(Image.new("LA", (8, 8), (33, 0))), _const(33)),
    Odd("1-bit-png", lambda t: _encode(Image.new("1", (8, 8), 1)), _const(255)),
    Odd("bool-array", lambda t: np.ones((8, 8), bool), _const(255)),
    Odd("unit-float-array", lambda t: np.full((8, 8, 3), 0.5, np.float64), _const(127.5)),
    Odd("float16-array", lambda t: np.full((8, 8, 3), 0.25, np.float16), _const(63.75)),
    Odd("batch-of-one", lambda t: np.full((1, 8, 8, 3), 9, np.uint8), _const(9)),
    Odd("animated-gif-first-frame", lambda t: _animated_gif(), _const([40, 0, 0]), atol=1),
    Odd("bytearray-and-memoryview", lambda t: memoryview(bytearray(
        _encode(Image.new("RGB", (8, 8), (1, 2, 3))))), _const([1, 2, 3])),
    Odd("webp-lossless", lambda t: _encode(Image.new("RGB", (8, 8), (9, 8, 7)), "WEBP",
                                           lossless=True), _const([9, 8, 7])),
    Odd("bmp", lambda t: _encode(Image.new("RGB", (8, 8), (9, 8, 7)), "BMP"), _const([9, 8, 7])),
    Odd("tiff", lambda t: _encode(Image.new("RGB", (8, 8), (9, 8, 7)), "TIFF"),
        _const([9, 8, 7])),
    Odd("float-tiff", lambda t: _float_tiff(0.5), _const(127.5)),
    Odd("large-but-safe-4000x4000", lambda t: _encode(Image.new("L", (4000, 4000), 200)),
        _const(200)),
]


@pytest.mark.parametrize("case", ODD, ids=[c.id for c in ODD])
def test_odd_but_valid_input_is_prepared_right(case, engines, models, tmp_path):
    engine = engines[case.model]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels = engine.pixels(case.build(tmp_path))
        batch = engine.prepare(case.build(tmp_path))
    expected = case.expected()
    assert pixels.shape == expected.shape == batch.shape[1:]
    assert pixels.dtype == np.float32 and np.isfinite(pixels).all()
    np.testing.assert_allclose(pixels, expected, atol=case.atol)
    np.testing.assert_allclose(batch[0], expected / 255.0, atol=case.atol / 255 + 1e-6)
    # and a panel takes it, shows it and keeps working
    ex = explore(models[case.model], _good_images(case.model), include_samples=False)
    index = ex.add_image(case.build(tmp_path))
    assert ex.image_index == index and _message(ex) == ""
    np.testing.assert_allclose(ex.current_activation(),
                               engine.activation(ex.layer, case.build(tmp_path)), rtol=1e-6)
    ex.close()


def test_the_catalogue_has_at_least_40_kinds_of_bad_input():
    assert len(BAD) >= 40 and len({c.id for c in BAD}) == len(BAD)
    assert len(ODD) >= 20
