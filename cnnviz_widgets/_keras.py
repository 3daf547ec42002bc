"""Import Keras (and TensorFlow) once, keeping native start-up log lines out of notebooks.

TensorFlow's C++ runtime writes lines such as "Could not find cuda drivers" straight
to file descriptor 2 while it loads; in a notebook they show up as red error output
that means nothing to a student. They are silenced while Keras is first imported
and its devices are set up; Python warnings and errors are not affected.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


if "keras" in sys.modules:
    import keras
else:
    with _native_stderr_silenced():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()

__all__ = ["keras"]
