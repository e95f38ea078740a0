"""The restricted unpickler (vidact/_unpickle.py): data comes back, code never runs, refusals name the file and the
global in one line, and each reader says what its file should have been."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch

from vidact._unpickle import safe_unpickle
from vidact.errors import CheckpointError, UnsafePickleError, VidactError
from vidact.models.weights import safe_unpickle as unpickle_checkpoint


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _data():
    return {
        "keypoint": np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4),
        "frame_index": np.arange(2, dtype=np.int64),
        "handedness": np.array(["right", "left"]),
        "found": np.array([[True, False]]),
        "fps": np.float64(29.97),
        "label": np.int32(3),
        "img_shape": (480, 640),
        "name": "v1",
        "raw": b"\x00\x01",
        "nested": OrderedDict(a=[1, 2.5, None, {"b": np.float16(1.5)}]),
    }


def _same(a, b):
    if isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert type(a) is type(b) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b and type(a) is type(b)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_data_round_trips(tmp_path, protocol):
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(_data(), protocol=protocol))
    _same(safe_unpickle(path), _data())
    with open(path, "rb") as f:  # an open file as well as a path
        _same(safe_unpickle(f), _data())


def test_code_is_refused_unrun_with_one_line_naming_file_and_global(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"keypoint": np.zeros(3), "x": _RunsCode(marker)}))
    with pytest.raises(UnsafePickleError) as info:
        safe_unpickle(path)
    assert not marker.exists()
    error = info.value
    assert isinstance(error, VidactError) and error.exit_code == 2
    assert str(error) == (
        f"{path}: not a safe pickle (it needs {os.mkdir.__module__}.mkdir, which vidact will not load from a pickle)"
    )
    assert "\n" not in str(error) and error.path == str(path) and error.name == f"{os.mkdir.__module__}.mkdir"
    clone = pickle.loads(pickle.dumps(error))  # crosses process boundaries (extraction workers) intact
    assert (type(clone), str(clone), clone.name) == (UnsafePickleError, str(error), error.name)


def test_a_refused_global_is_never_imported():
    # 'this' prints the Zen of Python when imported: the refusal must come before any import
    code = (
        "import sys; from vidact._unpickle import safe_unpickle; import io\n"
        "try:\n    safe_unpickle(io.BytesIO(b'\\x80\\x02cthis\\nneg\\nq\\x00.'))\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
        "print('this' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "UnsafePickleError <pickle>: not a safe pickle (it needs this.neg, which vidact will not load from a pickle)",
        "False",
    ]


def test_tensors_only_on_request(tmp_path):
    path = tmp_path / "scores.pkl"
    with open(path, "wb") as f:
        pickle.dump([{"gt_label": torch.tensor([1]), "pred_score": torch.tensor([0.25, 0.75])}], f)
    with pytest.raises(UnsafePickleError, match=r"it needs torch\."):
        safe_unpickle(path)
    [row] = safe_unpickle(path, tensors=True)
    assert torch.equal(row["pred_score"], torch.tensor([0.25, 0.75])) and row["gt_label"].tolist() == [1]


@pytest.mark.parametrize(
    "content", [b"", b"\x80\x04\x95", b"not a pickle at all"], ids=["empty", "truncated", "text"]
)
def test_unreadable_pickles_are_one_line_unpickling_errors(tmp_path, content):
    path = tmp_path / "bad.pkl"
    path.write_bytes(content)
    with pytest.raises(pickle.UnpicklingError, match=r"^not a readable pickle \([^\n]+\)$"):
        safe_unpickle(path)


def test_checkpoints_keep_checkpoint_errors(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"blobs": {"w": _RunsCode(marker)}}))
    with pytest.raises(CheckpointError, match=r"evil\.pkl: not a safe pickle \(it needs \w+\.mkdir"):
        unpickle_checkpoint(evil)
    assert not marker.exists()
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pkl: not a readable pickle \(EOFError"):
        unpickle_checkpoint(empty)
    with pytest.raises(CheckpointError, match="no such file"):
        unpickle_checkpoint(tmp_path / "missing.pkl")
    good = tmp_path / "blobs.pkl"
    good.write_bytes(pickle.dumps({"blobs": {"w": np.ones(2, np.float32)}}, protocol=2))
    np.testing.assert_array_equal(unpickle_checkpoint(good)["blobs"]["w"], np.ones(2, np.float32))


def test_unpickle_module_sits_at_the_bottom():
    code = "import sys, vidact._unpickle; print(sorted(m for m in sys.modules if m.startswith('vidact')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(["vidact", "vidact._unpickle", "vidact.errors"])
