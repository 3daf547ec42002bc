"""Opening a user's model file without running code hidden in it.

A Keras model file can carry Python code: a ``Lambda`` layer stores its function as
marshalled bytecode, which runs as soon as the layer is rebuilt. :func:`load_model`
opens ``.keras`` and legacy ``.h5`` files with Keras' ``safe_mode=True`` and, before
Keras sees the file, reads its configuration and refuses any ``Lambda`` layer or
serialised function, so that such code is never executed.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from .errors import ModelFileError, UnsafeModelFileError

__all__ = ["load_model"]

_KERAS_SUFFIXES = (".keras",)
_H5_SUFFIXES = (".h5", ".hdf5")
_UNSAFE_FUNCTION_CLASSES = ("__lambda__",)


def _refuse(path: Path, what: str) -> UnsafeModelFileError:
    return UnsafeModelFileError(
        f"Refused to open {str(path)!r}: it contains code ({what}) that would run while the "
        "model is loaded, and a file from an unknown source could do anything on this "
        "machine. Nothing was executed. Rebuild the model in Python and load only its "
        "weights (model.load_weights(...)), or, only for a file you trust, call "
        "load_model(path, safe_mode=False)."
    )


def _find_code(config: Any) -> str | None:
    """Describe the first Lambda layer or serialised Python function in a model config."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            cls = node.get("class_name")
            if cls == "Lambda":
                name = (node.get("config") or {}).get("name", "?")
                return f"a Lambda layer named {name!r}"
            if cls in _UNSAFE_FUNCTION_CLASSES:
                return "a serialised Python function"
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return None


def _keras_config(path: Path) -> Any:
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{str(path)!r} is not a valid .keras file (a .keras file is a zip archive); it "
            "may be truncated or corrupted. Save the model again with model.save(path)."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "config.json" not in names:
                raise ModelFileError(
                    f"{str(path)!r} has no model configuration (config.json); it is not a "
                    "full Keras model. Save it with model.save('model.keras')."
                )
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFileError(
            f"Could not read {str(path)!r} ({exc}); the file may be truncated or corrupted. "
            "Save the model again with model.save(path)."
        ) from exc


def _h5_config(path: Path) -> Any:
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py comes with Keras
        raise ModelFileError(
            "Reading .h5 files needs the h5py package: pip install h5py."
        ) from exc
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            weights_only = raw is None and ("layer_names" in f.attrs or len(f.keys()) > 0)
    except OSError as exc:
        raise ModelFileError(
            f"Could not read {str(path)!r} as an HDF5 file ({exc}); it may be truncated or "
            "corrupted. Save the model again, preferably as a .keras file."
        ) from exc
    if raw is None:
        what = "only weights" if weights_only else "no model"
        raise ModelFileError(
            f"{str(path)!r} holds {what}, not a model's architecture. Build the model in "
            "Python first, then call model.load_weights(path)."
        )
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ModelFileError(
            f"The model configuration stored in {str(path)!r} is not valid JSON; the file is "
            "corrupted. Save the model again."
        ) from exc


def load_model(path: str | os.PathLike, *, safe_mode: bool = True, compile: bool = False,
               custom_objects: dict[str, Any] | None = None) -> Any:
    """Open a user's ``.keras`` or ``.h5`` model file, refusing files that carry code.

    Parameters
    ----------
    path : str or path-like
        A ``.keras`` file (Keras 3) or a legacy full-model ``.h5`` / ``.hdf5`` file.
    safe_mode : bool
        When True (the default), a file with a ``Lambda`` layer or any other serialised
        Python function is refused *before* Keras reads it, and Keras itself loads with
        ``safe_mode=True``. Pass False only for files you trust.
    compile : bool
        Restore the training configuration too (not needed to look at activations).
    custom_objects : dict, optional
        Classes of custom layers used by the model, by name.

    Returns
    -------
    keras.Model

    Raises
    ------
    UnsafeModelFileError
        If the file contains code that would run on load (with ``safe_mode=True``).
    ModelFileError
        If the file is missing, of an unknown kind, weights only, truncated or corrupted.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"There is no model file at {str(p)!r}. Check the path.")
    name = p.name.lower()
    if name.endswith((".weights.h5", ".weights.hdf5")):
        raise ModelFileError(
            f"{str(p)!r} is a weights-only file, not a model. Build the model in Python "
            "first, then call model.load_weights(path)."
        )
    if name.endswith(_KERAS_SUFFIXES):
        config = _keras_config(p)
    elif name.endswith(_H5_SUFFIXES):
        config = _h5_config(p)
    else:
        raise ModelFileError(
            f"{str(p)!r} is not a Keras model file; expected a .keras file (model.save("
            "'model.keras')) or a legacy .h5 file. A TensorFlow SavedModel folder cannot be "
            "opened here: load it with keras.layers.TFSMLayer."
        )
    if safe_mode:
        code = _find_code(config)
        if code is not None:
            raise _refuse(p, code)

    from ._keras import keras

    try:
        return keras.saving.load_model(p, custom_objects=custom_objects, compile=compile,
                                       safe_mode=safe_mode)
    except ValueError as exc:
        text = str(exc)
        if "safe_mode" in text or "unsafe" in text.lower() or "Lambda" in text:
            raise _refuse(p, "a Python function") from exc
        raise ModelFileError(
            f"Keras could not rebuild the model in {str(p)!r}: {text[:300]} If the model uses "
            "custom layers, pass them as custom_objects={'Name': Class}."
        ) from exc
    except (TypeError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(
            f"Keras could not rebuild the model in {str(p)!r} ({type(exc).__name__}: "
            f"{str(exc)[:300]}). The file may be corrupted, or the model uses custom layers: "
            "pass them as custom_objects={'Name': Class}."
        ) from exc
