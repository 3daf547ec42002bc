"""Photos to feed the ImageNet models, all loaded from installed packages, offline.

- ``grace_hopper``: matplotlib's sample photo (always there; public domain).
- ``astronaut``, ``chelsea`` (a cat), ``coffee``, ``rocket``: scikit-image's bundled
  sample images, when scikit-image is installed (``pip install
  "cnnviz_widgets[samples]"``). Only images that ship inside the scikit-image wheel
  are listed; the ones it would download are not.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from cnnviz_widgets.errors import InvalidSettingError

__all__ = ["SAMPLE_NAMES", "Sample", "samples"]


@dataclass(frozen=True)
class Sample:
    """One sample photo.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"chelsea"``.
    image : numpy.ndarray
        ``uint8`` RGB pixels, shape ``(height, width, 3)``.
    licence : str
        Its licence or copyright status.
    source : str
        Where it comes from (package and origin).
    """

    name: str
    image: np.ndarray = field(repr=False)
    licence: str
    source: str

    @property
    def shape(self) -> tuple[int, ...]:
        """The image's shape, ``(height, width, 3)``."""
        return tuple(self.image.shape)


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as fh, Image.open(fh) as img:
        return np.asarray(img.convert("RGB"))


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()

    return load


_SK = "scikit-image (skimage.data.{0}), bundled in its wheel"
_REGISTRY: dict[str, tuple[Callable[[], np.ndarray], str, str]] = {
    "grace_hopper": (
        _grace_hopper,
        "Public domain (US Navy photograph)",
        "matplotlib sample data (matplotlib.cbook.get_sample_data('grace_hopper.jpg'))",
    ),
    "astronaut": (
        _skimage("astronaut"),
        "Public domain (NASA photograph of Eileen Collins)",
        _SK.format("astronaut"),
    ),
    "chelsea": (
        _skimage("chelsea"),
        "CC0 (photographer Stefan van der Walt)",
        _SK.format("chelsea") + "; Chelsea the cat",
    ),
    "coffee": (
        _skimage("coffee"),
        "CC0 (photographer Rachel Michetti)",
        _SK.format("coffee") + "; a coffee cup",
    ),
    "rocket": (
        _skimage("rocket"),
        "Public domain (SpaceX photograph of the DSCOVR launch)",
        _SK.format("rocket"),
    ),
}

#: All sample names, in the order :func:`samples` returns them.
SAMPLE_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


def _resize(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    from PIL import Image

    height, width = (size, size) if isinstance(size, int) else size
    if height < 1 or width < 1:
        raise InvalidSettingError(f"size must be positive, not {size!r}")
    resized = Image.fromarray(image).resize((int(width), int(height)), Image.Resampling.BICUBIC)
    return np.asarray(resized)


def samples(
    names: Iterable[str] | None = None,
    size: int | tuple[int, int] | None = None,
) -> list[Sample]:
    """Load sample photos that ship with installed packages (no network).

    Parameters
    ----------
    names : iterable of str, optional
        Which samples (see :data:`SAMPLE_NAMES`); ``None`` means all that load. A
        sample whose package is missing is skipped; when it was asked for by name a
        ``UserWarning`` says so.
    size : int or (int, int), optional
        Resize every image (bicubic, no cropping) to ``size x size`` or to
        ``(height, width)``, e.g. ``224`` for VGG. ``None`` keeps each image's own size.

    Returns
    -------
    list of Sample
        In :data:`SAMPLE_NAMES` order (or the order of ``names``); each ``image`` is
        ``uint8`` RGB of shape ``(height, width, 3)``. ``grace_hopper`` is always
        available (it ships with matplotlib).

    Raises
    ------
    InvalidSettingError
        If a name is not one of :data:`SAMPLE_NAMES`.
    """
    explicit = names is not None
    wanted = list(SAMPLE_NAMES) if names is None else [str(n) for n in names]
    unknown = [n for n in wanted if n not in _REGISTRY]
    if unknown:
        raise InvalidSettingError(f"unknown sample(s) {unknown}; known: {list(SAMPLE_NAMES)}")
    out: list[Sample] = []
    for name in wanted:
        loader, licence, source = _REGISTRY[name]
        try:
            image = _as_rgb_uint8(loader())
        except Exception as exc:  # missing package, or an image it would download
            if explicit:
                warnings.warn(
                    f"sample {name!r} is not available here ({type(exc).__name__}: {exc}); "
                    'pip install "cnnviz_widgets[samples]" for the scikit-image photos',
                    UserWarning,
                    stacklevel=2,
                )
            continue
        if size is not None:
            image = _resize(image, size)
        out.append(Sample(name=name, image=image, licence=licence, source=source))
    return out
