"""Skeleton files: the real PYSKL COCO-17 pickle and the real NTU RGB+D array read, written and read back
unchanged (compared with plain ``pickle`` / ``numpy`` reads and index-by-index oracles), annotation files with a
split, malicious pickles refused without running them, and one-line errors for missing, corrupt and misshapen
files.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from vidact.data.skeleton.formats import (
    arrays_to_record,
    load_annotations,
    load_npz,
    load_pickle,
    record_from_ctvm,
    record_to_arrays,
    record_to_ctvm,
    save_npz,
    save_pickle,
    validate_record,
)
from vidact.errors import DatasetError, UnsafePickleError

HERE = Path(__file__).resolve().parent
SKELETON = HERE.parent.parent / "shared" / "data" / "skeleton"
COCO_SAMPLE = SKELETON / "ucf101_coco17_sample.pkl"
NTU_SAMPLE = SKELETON / "ntu60_sample_C3_T300_V25_M2.npy"

needs_coco = pytest.mark.skipif(not COCO_SAMPLE.is_file(), reason=f"{COCO_SAMPLE} not present")
needs_ntu = pytest.mark.skipif(not NTU_SAMPLE.is_file(), reason=f"{NTU_SAMPLE} not present")


def _record(m: int = 2, t: int = 5, v: int = 17, c: int = 2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "frame_dir": f"clip{seed}",
        "label": 3,
        "img_shape": (240, 320),
        "original_shape": (480, 640),
        "total_frames": t,
        "keypoint": rng.normal(size=(m, t, v, c)).astype(np.float32),
        "keypoint_score": rng.uniform(size=(m, t, v)).astype(np.float32),
    }


def _assert_same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key, value in a.items():
        if isinstance(value, np.ndarray):
            assert isinstance(b[key], np.ndarray) and b[key].dtype == value.dtype, key
            np.testing.assert_array_equal(b[key], value, err_msg=key)
        else:
            assert b[key] == value and type(b[key]) is type(value), key


# -- the real PYSKL pickle ---------------------------------------------------------------------------------------
@needs_coco
def test_coco17_sample_reads_as_plain_pickle_does():
    with open(COCO_SAMPLE, "rb") as f:
        plain = pickle.load(f)  # the oracle: the file as Python reads it, no checks
    record = load_pickle(COCO_SAMPLE)
    assert record["keypoint"].shape == (2, 163, 17, 2) and record["keypoint"].dtype == np.float16
    assert record["keypoint_score"].shape == (2, 163, 17)
    assert record["img_shape"] == (256, 340) and record["total_frames"] == 163 and record["label"] == 0
    _assert_same(plain, record)


@needs_coco
@pytest.mark.parametrize("form", ["pickle", "npz"])
def test_coco17_sample_round_trips(tmp_path, form):
    record = load_pickle(COCO_SAMPLE)
    if form == "pickle":
        again = load_pickle(save_pickle(record, tmp_path / "a.pkl"))
    else:
        again = load_npz(save_npz(record, tmp_path / "a.npz"))
    _assert_same(record, again)  # float16 stays float16, shapes stay tuples, strings stay strings


@needs_coco
def test_npz_holds_no_pickle(tmp_path):
    path = save_npz(load_pickle(COCO_SAMPLE), tmp_path / "a.npz")
    with np.load(path, allow_pickle=False) as npz:  # would raise on any object array
        assert npz["frame_dir"].dtype.kind == "U" and npz["img_shape"].tolist() == [256, 340]


# -- the real NTU array ------------------------------------------------------------------------------------------
@needs_ntu
def test_ntu_sample_becomes_a_record_index_by_index():
    data = np.load(NTU_SAMPLE)  # [C, T, V, M] = [3, 300, 25, 2], zero-padded
    record = record_from_ctvm(data, label=0, frame_dir="ntu", layout="ntu25")
    used = np.flatnonzero(np.abs(data).sum(axis=(0, 2, 3)))  # the frames any person occupies
    m, t, v, c = record["keypoint"].shape
    assert (m, v, c) == (2, 25, 3) and t == used[-1] + 1 == record["total_frames"]
    rng = np.random.default_rng(0)
    for _ in range(50):
        i_m, i_t, i_v, i_c = (int(rng.integers(n)) for n in (m, t, v, c))
        assert record["keypoint"][i_m, i_t, i_v, i_c] == data[i_c, i_t, i_v, i_m]
    untrimmed = record_from_ctvm(data, trim=False)
    assert untrimmed["total_frames"] == 300
    np.testing.assert_array_equal(record_to_ctvm(record, frames=300), data)  # padded back: the same array


@needs_ntu
def test_ntu_record_round_trips_through_both_formats(tmp_path):
    record = record_from_ctvm(np.load(NTU_SAMPLE), label=0, frame_dir="ntu", layout="ntu25")
    _assert_same(record, load_pickle(save_pickle(record, tmp_path / "n.pkl")))
    _assert_same(record, load_npz(save_npz(record, tmp_path / "n.npz")))


def test_record_to_ctvm_pads_and_cuts():
    record = _record(m=1, t=4, v=3, c=3)
    out = record_to_ctvm(record, frames=6, persons=2)
    assert out.shape == (3, 6, 3, 2)
    np.testing.assert_array_equal(out[:, :4, :, 0], record["keypoint"][0].transpose(2, 0, 1))
    assert not out[:, 4:].any() and not out[..., 1].any()
    assert record_to_ctvm(record, frames=2).shape == (3, 2, 3, 1)


# -- annotation files --------------------------------------------------------------------------------------------
def test_annotation_file_with_split_round_trips(tmp_path):
    records = [_record(seed=i) for i in range(3)]
    split = {"train": ["clip0", "clip1"], "val": ["clip2"]}
    path = save_pickle({"split": split, "annotations": records}, tmp_path / "ann.pkl")
    loaded, loaded_split = load_annotations(path)
    assert loaded_split == split
    for a, b in zip(records, loaded, strict=True):
        _assert_same(a, b)
    # a bare list and a single record read as a split-less list
    assert len(load_annotations(save_pickle(records, tmp_path / "list.pkl"))[0]) == 3
    one, no_split = load_annotations(save_pickle(records[0], tmp_path / "one.pkl"))
    assert len(one) == 1 and no_split == {}


def test_split_naming_an_unknown_video_is_an_error(tmp_path):
    path = save_pickle(
        {"split": {"train": ["clip0", "nope"]}, "annotations": [_record()]}, tmp_path / "a.pkl"
    )
    with pytest.raises(
        DatasetError, match=r"split 'train' names 1 frame_dir without a record \(first: 'nope'\)"
    ):
        load_annotations(path)


def test_arrays_form_round_trips_vidact_fields():
    record = {
        **_record(m=2, t=3, v=21),
        "layout": "hand21",
        "fps": 29.97,
        "found": np.array([[True, False, True], [False, False, True]]),
        "handedness": np.array(["right", "left"]),
        "keypoint_world": np.zeros((2, 3, 21, 3), np.float32),
    }
    arrays = record_to_arrays(record)
    assert all(isinstance(a, np.ndarray) and not a.dtype.hasobject for a in arrays.values())
    _assert_same(validate_record(record), arrays_to_record(arrays))


# -- safety and errors -------------------------------------------------------------------------------------------
class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    record = _record()
    record["keypoint_score"] = _Exploit(marker)
    path.write_bytes(pickle.dumps(record))
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl: not a safe pickle \(it needs posix\.mkdir"):
        load_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"missing\.pkl: no such file"),
        (b"", r"empty\.pkl: not a readable pickle"),
        (b"\x80\x04\x95\x10\x00", r"cut\.pkl: not a (safe|readable) pickle \(pickle data was truncated\)"),
    ],
    ids=["missing", "empty", "truncated"],
)
def test_unreadable_pickles_are_one_line_errors(tmp_path, content, message):
    name = {None: "missing.pkl", b"": "empty.pkl"}.get(content, "cut.pkl")
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DatasetError, match=message) as info:
        load_pickle(tmp_path / name)
    assert "\n" not in str(info.value)


def test_unreadable_npz_is_a_one_line_error(tmp_path):
    with pytest.raises(DatasetError, match=r"a\.npz: no such file"):
        load_npz(tmp_path / "a.npz")
    (tmp_path / "a.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match=r"a\.npz: not a readable skeleton \.npz"):
        load_npz(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", keypoint=np.array([object()], dtype=object))
    with pytest.raises(DatasetError, match=r"b\.npz: not a readable skeleton \.npz"):  # pickled inside
        load_npz(tmp_path / "b.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"keypoint": np.zeros((5, 17, 2), np.float32)}, r"keypoint must be a float array \[M, T, V, C\]"),
        ({"keypoint": np.zeros((2, 5, 17, 4), np.float32)}, r"with C 2 or 3"),
        ({"keypoint_score": np.zeros((2, 5, 16), np.float32)}, r"keypoint_score has shape \(2, 5, 16\)"),
        (
            {"keypoint_world": np.zeros((2, 4, 17, 3), np.float32)},
            r"keypoint_world has shape \(2, 4, 17, 3\)",
        ),
        ({"found": np.zeros((2, 6), bool)}, r"found has shape \(2, 6\), expected \[M, T\] = \(2, 5\)"),
        ({"total_frames": 6}, r"total_frames is 6 but keypoint has 5 frames"),
        ({"img_shape": (240,)}, r"img_shape must be \(H, W\) positive ints"),
        ({"label": 1.5}, r"label must be an integer"),
    ],
)
def test_misshapen_records_are_refused_on_save(tmp_path, change, message):
    path = tmp_path / "a.pkl"
    save_pickle(_record(), path)
    before = path.read_bytes()
    with pytest.raises(DatasetError, match=message):
        save_pickle({**_record(), **change}, path)
    assert path.read_bytes() == before  # the file on disk is untouched


def test_values_a_safe_load_would_refuse_are_not_written(tmp_path):
    with pytest.raises(DatasetError, match=r"video is a PosixPath"):
        save_pickle({**_record(), "video": tmp_path}, tmp_path / "a.pkl")
    assert not (tmp_path / "a.pkl").exists()


def test_record_without_keypoint_names_its_keys():
    with pytest.raises(DatasetError, match=r"r: no 'keypoint' \(keys: frame_dir, label\)"):
        validate_record({"frame_dir": "x", "label": 1}, source="r")
