"""Image parameterisations for activation maximisation: what the optimiser changes.

A parameterisation maps an array of free parameters (the optimiser's variable, a numpy
array) to a batch of images with pixels on the 0-1 scale, shape (N, H, W, C), with
backend operations (``keras.ops``) so that the gradient reaches the parameters:

* :class:`PixelImage`: the pixels themselves, kept in 0-1 by clipping after each step
  (the classic DeepVis-style ascent);
* :class:`FourierImage`: lucid's ``fft_image`` with its decorrelated colour space
  (``lucid/optvis/param/spatial.py`` and ``param/color.py``, Olah et al., "Feature
  Visualization", Distill 2017). The parameters are the real and imaginary parts of
  each channel's 2-D Fourier spectrum, scaled by ``1 / f**decay_power``, so that every
  frequency moves at the speed natural images change at; for three channels the
  result is mapped through the square root of ImageNet's colour correlation matrix;
  a sigmoid then maps it to 0-1;
* :class:`InputSpace`: the model input itself, for a preprocessing that is not affine.

:class:`PixelMap` undoes the engine's preprocessing: it maps 0-1 pixels to the model
input, so that the optimisation runs on real images; :func:`image_param` picks the
parameterisation by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidSettingError

__all__ = [
    "COLOR_CORRELATION_SVD_SQRT",
    "FourierImage",
    "ImageParam",
    "InputSpace",
    "PixelImage",
    "PixelMap",
    "decorrelation_matrix",
    "fourier_scale",
    "image_param",
]

#: Square root of the colour correlation matrix of ImageNet, from its SVD (the values of
#: lucid's ``color_correlation_svd_sqrt``); rows are RGB, columns the decorrelated axes.
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02],
     [0.27, 0.00, -0.05],
     [0.27, -0.09, 0.03]], dtype=np.float32)


def _ops() -> Any:
    from .._keras import keras

    return keras.ops


def decorrelation_matrix() -> np.ndarray:
    """The (3, 3) matrix ``M`` with ``rgb = t @ M`` for a decorrelated colour vector ``t``.

    It is ``COLOR_CORRELATION_SVD_SQRT.T`` after dividing by the largest column norm, as
    in lucid's ``_linear_decorrelate_color``.
    """
    largest = np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))
    return (COLOR_CORRELATION_SVD_SQRT / largest).T.astype(np.float32)


def fourier_scale(height: int, width: int, decay_power: float = 1.0) -> np.ndarray:
    """The factor of each frequency of an ``irfft2``-sized spectrum, shape (H, W // 2 + 1).

    ``sqrt(H W) / max(f, 1 / max(H, W)) ** decay_power`` with ``f`` the frequency in
    cycles per pixel (lucid's ``fft_image``): with ``decay_power=1`` the amplitude falls
    as ``1/f``, the spectrum of natural images; the zero frequency gets the factor of
    the lowest non-zero one.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freqs = np.sqrt(fx * fx + fy * fy)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** decay_power
    return (scale * np.sqrt(height * width)).astype(np.float32)


class ImageParam:
    """Base class of the parameterisations (N images of H x W x C)."""

    def __init__(self, n: int, height: int, width: int, channels: int):
        self.n, self.height, self.width, self.channels = int(n), int(height), int(width), \
            int(channels)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """Shape of the images: (N, H, W, C)."""
        return (self.n, self.height, self.width, self.channels)

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """Seeded starting parameters (float32)."""
        raise NotImplementedError

    def __call__(self, params: Any) -> Any:
        """The images (N, H, W, C), pixels 0-1, of ``params`` (a tensor), as a tensor."""
        raise NotImplementedError

    def constrain(self, params: Any) -> Any:
        """The parameters after an optimiser step (e.g. clipped), with backend
        operations (a compiled step applies it); unchanged here."""
        return params

    def after_step(self, params: np.ndarray) -> np.ndarray:
        """:meth:`constrain` of a numpy array, float32."""
        return np.asarray(_ops().convert_to_numpy(self.constrain(params)), dtype=np.float32)

    def from_images(self, images: np.ndarray) -> np.ndarray:
        """Parameters whose images are ``images`` (N, H, W, C), pixels in 0-1."""
        raise NotImplementedError

    @property
    def pixel_space(self) -> bool:
        """True when the parameters are the pixels (so image updates such as a blur apply)."""
        return False


class PixelImage(ImageParam):
    """The pixels themselves, started as noise around mid-grey and clipped to 0-1.

    Parameters
    ----------
    n, height, width, channels : int
        Shape of the image batch.
    noise : float, default 0.1
        Standard deviation of the starting noise around 0.5.
    """

    def __init__(self, n: int, height: int, width: int, channels: int, noise: float = 0.1):
        super().__init__(n, height, width, channels)
        self.noise = float(noise)

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        start = 0.5 + self.noise * rng.standard_normal(self.shape)
        return np.clip(start, 0.0, 1.0).astype(np.float32)

    def __call__(self, params: Any) -> Any:
        return params

    def constrain(self, params: Any) -> Any:
        return _ops().clip(params, 0.0, 1.0)

    def from_images(self, images: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(images, dtype=np.float32).reshape(self.shape), 0.0, 1.0)

    @property
    def pixel_space(self) -> bool:
        return True


class FourierImage(ImageParam):
    """Images parameterised by a 1/f-scaled Fourier spectrum in a decorrelated colour space.

    The parameters have shape (N, C, H, W // 2 + 1, 2): real and imaginary parts of
    each channel's ``rfft2`` spectrum. The image is ``irfft2(spectrum * scale) / 4``
    (:func:`fourier_scale`), then, for three channels, multiplied by
    :func:`decorrelation_matrix` at every pixel, then passed through a sigmoid.
    Grayscale or other channel counts keep the 1/f scaling without the colour step.

    Parameters
    ----------
    n, height, width, channels : int
        Shape of the image batch.
    decay_power : float, default 1.0
        Exponent of the frequency scaling (0: a plain Fourier basis).
    sd : float, default 0.01
        Standard deviation of the starting spectrum (lucid's default): a nearly uniform
        mid-grey image with faint 1/f noise.
    decorrelate : bool, optional
        Use the ImageNet colour decorrelation; by default when ``channels == 3``.

    Raises
    ------
    InvalidSettingError
        (a ``ValueError``) if ``decorrelate=True`` with a channel count other than 3.
    """

    def __init__(self, n: int, height: int, width: int, channels: int,
                 decay_power: float = 1.0, sd: float = 0.01, decorrelate: bool | None = None):
        super().__init__(n, height, width, channels)
        if decorrelate is None:
            decorrelate = self.channels == 3
        if decorrelate and self.channels != 3:
            raise InvalidSettingError(
                f"Colour decorrelation needs 3 channels, not {self.channels}; pass "
                "decorrelate=False.")
        self.decorrelate = bool(decorrelate)
        self.decay_power = float(decay_power)
        self.sd = float(sd)
        self.scale = fourier_scale(self.height, self.width, self.decay_power)

    @property
    def param_shape(self) -> tuple[int, ...]:
        """Shape of the parameters: (N, C, H, W // 2 + 1, 2)."""
        return (self.n, self.channels, *self.scale.shape, 2)

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        return (self.sd * rng.standard_normal(self.param_shape)).astype(np.float32)

    def spatial(self, params: Any) -> Any:
        """The image before the colour step and the sigmoid, (N, H, W, C), as a tensor.

        ``irfft2`` of the scaled spectrum: an inverse FFT over the rows (as the forward
        FFT of the complex conjugate, conjugated and divided by H), then ``irfft`` over
        the columns.
        """
        ops = _ops()
        params = ops.convert_to_tensor(params, dtype="float32")
        scale = ops.convert_to_tensor(self.scale)
        real, imag = params[..., 0] * scale, params[..., 1] * scale  # (N, C, H, W//2+1)
        # rows last, then ifft(z) = conj(fft(conj(z))) / H
        real, imag = ops.fft((ops.swapaxes(real, -1, -2), -ops.swapaxes(imag, -1, -2)))
        real = ops.swapaxes(real, -1, -2) / self.height
        imag = -ops.swapaxes(imag, -1, -2) / self.height
        planes = ops.irfft((real, imag), fft_length=self.width)  # (N, C, H, W)
        return ops.transpose(planes, (0, 2, 3, 1)) / 4.0

    def __call__(self, params: Any) -> Any:
        ops = _ops()
        t = self.spatial(params)
        if self.decorrelate:
            t = ops.tensordot(t, ops.convert_to_tensor(decorrelation_matrix()),
                              axes=[[3], [0]])
        return ops.sigmoid(t)

    def from_images(self, images: np.ndarray) -> np.ndarray:
        """The spectrum whose image is ``images`` (pixels strictly inside 0-1).

        Pixels are clipped to ``[1e-4, 1 - 1e-4]`` first, where the sigmoid is invertible.
        """
        x = np.clip(np.asarray(images, dtype=np.float64).reshape(self.shape), 1e-4, 1 - 1e-4)
        t = np.log(x / (1.0 - x))
        if self.decorrelate:
            t = t @ np.linalg.inv(decorrelation_matrix().astype(np.float64))
        planes = np.transpose(t * 4.0, (0, 3, 1, 2))
        spectrum = np.fft.rfft2(planes) / self.scale
        return np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)


class PixelMap:
    """Maps 0-1 pixels (1, H, W, C) to the model input, through the engine's preprocessing.

    When the preprocessing is per-pixel affine (division by 255, mean subtraction,
    RGB->BGR, ...), it is fitted as ``x @ M + b`` and applied with ``keras.ops`` so that the
    optimisation runs in pixel space and the result is a real image. Otherwise the
    optimisation runs on the model input itself (``affine`` is False).

    Parameters
    ----------
    engine : ActivationEngine
        Its ``preprocess`` is the map.
    height, width : int
        The image size.
    channels : int or None
        Colour channels; None for a model whose input has no channel axis (H, W).
    """

    def __init__(self, engine: Any, height: int, width: int, channels: int | None):
        self.engine = engine
        self.squeeze = channels is None
        self.c = 1 if channels is None else channels
        self.shape = (1, height, width, self.c)
        self.affine = self._fit()

    def _pre(self, pixels01: np.ndarray) -> np.ndarray:
        x = pixels01 * 255.0
        if self.squeeze:
            x = x[..., 0]
        out = np.asarray(self.engine.preprocess(x.astype(np.float32)), dtype=np.float64)
        return out[..., None] if self.squeeze else out

    def _fit(self) -> bool:
        try:
            base = self._pre(np.zeros(self.shape))
            rows = []
            for c in range(self.c):
                probe = np.zeros(self.shape)
                probe[..., c] = 1.0
                rows.append((self._pre(probe) - base)[0, 0, 0])
            self.matrix = np.stack(rows).astype(np.float32)  # (C, C) per 0-1 pixel
            self.bias = base[0, 0, 0].astype(np.float32)
            check = np.random.default_rng(12345).uniform(0, 1, self.shape)
            expected = check @ self.matrix + self.bias
            got = self._pre(check)
            scale = float(np.abs(self.matrix).max() + np.abs(self.bias).max() + 1e-12)
            return bool(np.allclose(got, expected, atol=1e-4 * scale, rtol=1e-4))
        except Exception:  # noqa: BLE001 - any odd preprocessing: optimise the input itself
            return False

    def span(self) -> float:
        """How far the model input moves between black and white pixels (its range)."""
        try:
            lo, hi = self._pre(np.zeros(self.shape)), self._pre(np.ones(self.shape))
            span = float(np.abs(hi - lo).max())
        except Exception:  # noqa: BLE001
            return 1.0
        return span if np.isfinite(span) and span > 0 else 1.0

    def to_model(self, u: Any) -> Any:
        """The model input of images ``u`` (N, H, W, C): the fitted map, or ``u`` itself
        (without its channel axis for a model without one) when it is not affine."""
        if not self.affine:
            return u[..., 0] if self.squeeze else u
        ops = _ops()
        x = ops.tensordot(u, ops.convert_to_tensor(self.matrix), axes=[[3], [0]]) \
            + ops.convert_to_tensor(self.bias)
        return x[..., 0] if self.squeeze else x


class InputSpace(PixelImage):
    """Parameters that are the model input itself (for preprocessing that is not affine)."""

    def __init__(self, pix: PixelMap, n: int, noise: float):
        super().__init__(n, pix.shape[1], pix.shape[2], pix.c, noise)
        self.pix = pix

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        return self.pix._pre(super().initial(rng)).astype(np.float32)

    def constrain(self, params: Any) -> Any:
        return params  # the model input is not clipped

    @property
    def pixel_space(self) -> bool:
        return False


def image_param(kind: str, n: int, pix: PixelMap, noise: float = 0.1) -> ImageParam:
    """The parameterisation ``kind`` (``"fourier"``, ``"pixels"`` or ``"input"``) of ``n``
    images of ``pix``'s size; ``noise`` is the starting noise of the last two."""
    height, width = pix.shape[1], pix.shape[2]
    if kind == "fourier":
        return FourierImage(n, height, width, pix.c)
    if kind == "pixels":
        return PixelImage(n, height, width, pix.c, noise)
    return InputSpace(pix, n, noise)
