"""Image bytes: budgets, formats, data URLs and thumbnails, decoded again with Pillow."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.render.encode import data_url, encode, encode_png, thumbnail


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def decode_url(url: str) -> tuple[str, np.ndarray]:
    head, b64 = url.split(",", 1)
    img = decode(base64.b64decode(b64))
    return head, np.asarray(img)


def test_encode_png_round_trip():
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    img = decode(encode_png(rgb))
    assert img.format == "PNG" and img.size == (5, 4)
    np.testing.assert_array_equal(np.asarray(img), rgb)
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    np.testing.assert_array_equal(np.asarray(decode(encode_png(gray, optimize=True))), gray)


def test_encode_small_image_is_png():
    data, fmt = encode(np.zeros((10, 10, 3), np.uint8))
    assert fmt == "png" and decode(data).format == "PNG"


def test_encode_noise_falls_back_to_jpeg_within_budget():
    rgb = np.random.default_rng(0).integers(0, 256, (600, 600, 3), dtype=np.uint8)
    data, fmt = encode(rgb, max_bytes=200_000)
    assert fmt == "jpeg" and len(data) <= 200_000
    img = decode(data)
    assert img.format == "JPEG" and img.size == (600, 600)


def test_encode_rejects_bad_input():
    with pytest.raises(ValueError):
        encode(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        encode_png(np.zeros((4, 4, 3), np.float32))


def test_data_url_round_trips():
    rgb = np.random.default_rng(1).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    head, back = decode_url(data_url(rgb))
    assert head == "data:image/png;base64"
    np.testing.assert_array_equal(back, rgb)
    head, back = decode_url(data_url(rgb, "jpeg"))
    assert head == "data:image/jpeg;base64" and back.shape == rgb.shape
    with pytest.raises(InvalidSettingError, match="format"):
        data_url(rgb, "gif")


def test_data_url_auto_picks_the_smaller():
    flat = np.zeros((64, 64, 3), np.uint8)  # PNG wins on flat colour
    assert data_url(flat, "auto").startswith("data:image/png")
    y, x = np.mgrid[0:256, 0:256]
    noise = np.random.default_rng(2).normal(0, 12, (256, 256, 3))
    photo = np.clip(np.stack([x, y, (x + y) / 2], -1) + noise, 0, 255).astype(np.uint8)
    url = data_url(photo, "auto")
    png, jpeg = len(encode_png(photo, 6)), len(base64.b64decode(url.split(",", 1)[1]))
    assert url.startswith("data:image/jpeg") and jpeg < 0.8 * png


def test_thumbnail_of_a_small_digit_is_crisp():
    digit = np.random.default_rng(3).integers(0, 256, (28, 28, 1)).astype(np.float32)
    thumb = thumbnail(digit, side=48)
    assert thumb.dtype == np.uint8 and thumb.shape == (28, 28, 3)  # 48 // 28 == 1
    np.testing.assert_array_equal(thumb[..., 1], digit[..., 0].astype(np.uint8))
    big = thumbnail(digit, side=160)
    assert big.shape == (140, 140, 3)  # factor 5
    np.testing.assert_array_equal(big[::5, ::5, 0], digit[..., 0].astype(np.uint8))
    np.testing.assert_array_equal(big[4, 9], big[0, 5])


def test_thumbnail_of_a_large_image_fits_the_side():
    rgba = np.random.default_rng(4).integers(0, 256, (300, 150, 4)).astype(np.uint8)
    thumb = thumbnail(rgba, side=48)
    assert thumb.shape == (48, 24, 3)
    pil = np.asarray(Image.fromarray(rgba[..., :3]).resize((24, 48),
                                                           Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(thumb, pil)
    clipped = thumbnail(np.array([[-5.0, 300.0]]), side=2)
    assert clipped[0, :, 0].tolist() == [0, 255]


def test_encode_png_of_repeated_rows_round_trips():
    """Rows equal to the one above are stored as "Up" rows: Pillow still reads every pixel
    back, in colour and in gray, for an upscaled picture and for a single row."""
    rng = np.random.default_rng(5)
    small = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    upscaled = np.repeat(np.repeat(small, 4, axis=0), 4, axis=1)
    for image in (upscaled, upscaled[..., 0], small[:1], np.zeros((3, 1), np.uint8)):
        back = np.asarray(Image.open(io.BytesIO(encode_png(image))))
        np.testing.assert_array_equal(back, image)
