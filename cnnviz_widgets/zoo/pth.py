"""Read a legacy-format PyTorch ``state_dict`` without PyTorch and without running its code.

``torch.save`` wrote this format before PyTorch 1.6 (and still does with
``_use_new_zipfile_serialization=False``). A file is, one after the other:

1. a pickled magic number (``0x1950a86a20f9469cfc6c``);
2. a pickled protocol version (``1001``);
3. pickled system information (``{"protocol_version": 1001, "little_endian": True,
   "type_sizes": {...}}``);
4. the pickled ``OrderedDict`` of tensors. Each tensor is a call to
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` whose storage is a
   *persistent id* ``("storage", torch.FloatStorage, key, location, numel, view)``;
5. a pickled list of the storage keys, in the order their bytes follow;
6. for each key, an 8-byte little-endian element count and then the raw elements.

Unpickling runs whatever callables a file names, so a ``.pth`` file from an unknown source
can run any code. :func:`read_state_dict` unpickles with :class:`StateDictUnpickler`, which
resolves only the few names a state_dict of tensors needs (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and ``_rebuild_tensor``, the ``torch.*Storage`` types),
each to a harmless stand-in of ours, and refuses every other name before anything runs.
PyTorch is never imported.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from cnnviz_widgets.errors import ModelFileError, UnsafeModelFileError

__all__ = ["MAGIC_NUMBER", "PROTOCOL_VERSION", "StateDictUnpickler", "read_state_dict"]

#: The magic number that starts every legacy ``torch.save`` file.
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
#: The legacy format's protocol version.
PROTOCOL_VERSION = 1001

#: ``torch.<name>`` storage types and the numpy type of their elements (without byte order).
STORAGE_DTYPES: dict[str, str] = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "b1",
}


class _StandIn:
    """What the unpickler hands out: a pickle may not change it (no ``BUILD`` on it)."""

    def __setstate__(self, state: Any) -> None:
        raise ModelFileError(
            f"The file tries to set the state of {type(self).__name__.strip('_')}; a "
            "state_dict of tensors never does."
        )


@dataclass(frozen=True)
class _StorageType(_StandIn):
    name: str
    dtype: str


@dataclass
class _Storage(_StandIn):
    key: str  # the root storage, whose bytes follow the pickle
    type: _StorageType
    numel: int
    view: tuple[str, int, int] | None  # (view key, offset, numel) of a view into the root


@dataclass
class _Tensor(_StandIn):
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _checked_ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise ModelFileError(f"A tensor's {what} is {value!r}, not a tuple of integers >= 0.")
    return value


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> _Tensor:
    """Stand-in of ``torch._utils._rebuild_tensor(_v2)``: records where the tensor lies."""
    if not isinstance(storage, _Storage):
        raise ModelFileError(f"A tensor is built on {type(storage).__name__}, not on a storage.")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ModelFileError(f"A tensor's storage offset is {offset!r}, not an integer >= 0.")
    size, stride = _checked_ints(size, "size"), _checked_ints(stride, "stride")
    if len(size) != len(stride):
        raise ModelFileError(f"A tensor has size {size} but stride {stride}.")
    return _Tensor(storage, offset, size, stride)


def _ordered_dict(*args: Any) -> collections.OrderedDict:
    """``collections.OrderedDict``, called with no arguments as a pickle does."""
    if args:
        raise ModelFileError("The file calls OrderedDict with arguments; a state_dict does not.")
    return collections.OrderedDict()


class _Function(_StandIn):
    """A function the pickle may call (and not change)."""

    def __init__(self, function: Any):
        self._function = function

    def __call__(self, *args: Any) -> Any:
        return self._function(*args)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _Function(_ordered_dict),
    ("torch._utils", "_rebuild_tensor_v2"): _Function(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor"): _Function(_rebuild_tensor),
    **{("torch", name): _StorageType(name, dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class StateDictUnpickler(pickle.Unpickler):
    """An unpickler that builds a state_dict of tensors and refuses anything else.

    Every global the pickle names goes through :meth:`find_class`, which knows only the
    names listed in the module docstring and maps each to a stand-in that merely records
    data; any other name (``os.system``, ``builtins.eval``, a class of the author's, even
    ``torch.nn.Module``) raises :class:`~cnnviz_widgets.errors.UnsafeModelFileError`
    before it is called. Storages come through :meth:`persistent_load` as records of their
    key, type and size; their bytes are read after the pickle by :func:`read_state_dict`.
    """

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise UnsafeModelFileError(
                f"The file refers to {module}.{name}, which a state_dict of tensors does not "
                "need; it was refused and nothing was run. Only collections.OrderedDict, "
                "torch._utils._rebuild_tensor_v2 and the torch.*Storage types are read. Load "
                "files only from sources you trust."
            )
        return found

    def __init__(self, file: IO[bytes]):
        super().__init__(file)
        self.storage_types: dict[str, _StorageType] = {}

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise ModelFileError(f"The file has a persistent id {pid!r} that is not a storage.")
        _, storage_type, key, _location, numel, view = pid
        if not isinstance(storage_type, _StorageType):
            raise ModelFileError(f"A storage has the type {storage_type!r}, not a torch storage.")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise ModelFileError(f"A storage has the key {key!r} and size {numel!r}.")
        if view is not None and not (
            isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
            and all(isinstance(v, int) and v >= 0 for v in view[1:])
        ):
            raise ModelFileError(f"A storage view is described as {view!r}.")
        if self.storage_types.setdefault(key, storage_type) != storage_type:
            raise ModelFileError(f"Storage {key} is given two element types.")
        return _Storage(key, storage_type, numel, view)


def _load(unpickler: StateDictUnpickler, what: str) -> Any:
    try:
        return unpickler.load()
    except (UnsafeModelFileError, ModelFileError):
        raise
    except EOFError as exc:
        raise ModelFileError(
            f"The file ends in the middle of {what}: it is truncated (an interrupted download "
            "or copy?). Reinstall or download it again."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any other unpickling failure means a bad file
        raise ModelFileError(f"Could not read {what}: {type(exc).__name__}: {exc}.") from exc


def _read_exact(file: IO[bytes], count: int, what: str) -> bytes:
    data = file.read(count)
    if len(data) != count:
        raise ModelFileError(
            f"The file ends in the middle of {what} ({len(data)} of {count} bytes): it is "
            "truncated (an interrupted download or copy?). Reinstall or download it again."
        )
    return data


def _tensor_array(tensor: _Tensor, roots: dict[str, np.ndarray], name: str) -> np.ndarray:
    storage = tensor.storage
    flat = roots[storage.key]
    if storage.view is not None:
        _, start, numel = storage.view
        flat = flat[start:start + numel]
    if tensor.size and min(tensor.size) == 0:
        return np.zeros(tensor.size, dtype=flat.dtype)
    last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride, strict=True))
    if last >= flat.size:
        raise ModelFileError(
            f"Tensor {name!r} (offset {tensor.offset}, size {tensor.size}, stride "
            f"{tensor.stride}) reaches past the end of its storage of {flat.size} elements."
        )
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[tensor.offset:], shape=tensor.size, strides=tuple(s * item for s in tensor.stride),
        writeable=False,
    )
    return np.array(view, dtype=flat.dtype.newbyteorder("="))


def read_state_dict(source: str | os.PathLike[str] | IO[bytes]) -> dict[str, np.ndarray]:
    """Read a legacy-format PyTorch ``state_dict`` into numpy arrays, without PyTorch.

    Parameters
    ----------
    source : str, os.PathLike or binary file
        A ``.pth`` / ``.pt`` file written by ``torch.save(model.state_dict(), ...)`` in
        the legacy (non-zip) format.

    Returns
    -------
    dict of str to numpy.ndarray
        The tensors by name, in the file's order, each a new array with the tensor's
        shape (storage offset and strides honoured) and dtype (``FloatStorage`` gives
        float32, ``LongStorage`` int64, ...).

    Raises
    ------
    UnsafeModelFileError
        If the pickle refers to anything a state_dict of tensors does not need (the
        message names it); nothing named in the file is ever called.
    ModelFileError
        If the file is missing, truncated, in the newer zip format, or not a state_dict.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ModelFileError(f"There is no PyTorch weights file at {str(path)!r}.")
        with path.open("rb") as file:
            return read_state_dict(io.BytesIO(file.read()))
    file = source
    head = file.read(4)
    if head.startswith(b"PK"):
        raise ModelFileError(
            "The file is in PyTorch's zip format (torch >= 1.6); only the legacy format "
            "is read here."
        )
    file.seek(-len(head), io.SEEK_CUR)
    magic = _load(StateDictUnpickler(file), "the magic number")
    if magic != MAGIC_NUMBER:
        raise ModelFileError("The file is not a legacy PyTorch file (wrong magic number).")
    protocol = _load(StateDictUnpickler(file), "the protocol version")
    if protocol != PROTOCOL_VERSION:
        raise ModelFileError(f"Unknown legacy PyTorch protocol version {protocol!r}.")
    info = _load(StateDictUnpickler(file), "the system information")
    little = not isinstance(info, dict) or info.get("little_endian", True)
    unpickler = StateDictUnpickler(file)
    state = _load(unpickler, "the state_dict")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, _Tensor) for k, v in state.items()
    ):
        raise ModelFileError("The file does not hold a state_dict (a dict of named tensors).")
    keys = _load(StateDictUnpickler(file), "the list of storages")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ModelFileError("The file's list of storages is not a list of keys.")
    types = unpickler.storage_types
    unknown = [key for key in keys if key not in types]
    if unknown:
        raise ModelFileError(f"The file lists storage {unknown[0]} that no tensor uses.")
    roots: dict[str, np.ndarray] = {}
    order = "<" if little else ">"
    for key in keys:
        count = int.from_bytes(_read_exact(file, 8, f"the size of storage {key}"), "little")
        dtype = np.dtype("?") if types[key].dtype == "b1" else np.dtype(order + types[key].dtype)
        data = _read_exact(file, count * dtype.itemsize, f"storage {key}")
        roots[key] = np.frombuffer(data, dtype=dtype)
    missing = sorted({t.storage.key for t in state.values()} - set(roots))
    if missing:
        raise ModelFileError(
            f"The file lacks the data of {len(missing)} storage(s) ({', '.join(missing[:3])}"
            f"{' ...' if len(missing) > 3 else ''}): it is truncated or damaged."
        )
    return {name: _tensor_array(tensor, roots, name) for name, tensor in state.items()}
