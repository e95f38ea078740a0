"""Datasets: the sample lists of every layout, clips that match their frame indices, reproducible sampling in
DataLoader workers, the metadata cache, and bad videos that never stop an epoch.

The generated videos are flat grey frames whose level encodes the frame number (frame i is ``8 * i``), so a
decoded clip says which frames it holds.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from vidact.data.datasets import (
    ClipSampler,
    VideoClipDataset,
    build_dataset,
    class_folders,
    collate_clips,
    default_cache_file,
    hmdb51_split,
    kinetics_csv,
    list_file,
    read_class_names,
    something_something_v2,
    ucf101_split,
)
from vidact.data.sampling import multi_clip_indices, random_clip_indices, segment_indices, slowfast_indices
from vidact.data.transforms import train_transform
from vidact.errors import ConfigError, DatasetError, VideoError
from vidact.io import VideoReader, _frames, _pyav
from vidact.io.writer import write_video

# The real data: ../shared/data from the project root, found from this file so the tests run from any directory.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LABEL_MAPS = DATA / "label_maps"
ASL = DATA / "videos" / "asl"
H, W, FPS, STEP = 24, 32, 24.0, 8
# class -> frame counts of its videos
LAYOUT = {"jump": (24, 30), "run": (20, 26), "walk": (28, 22)}


def _write(path: Path, num_frames: int) -> Path:
    levels = (np.arange(num_frames) * STEP).astype(np.uint8)
    frames = np.broadcast_to(levels[:, None, None, None], (num_frames, H, W, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, frames, FPS)
    return path


def _levels(clip: torch.Tensor) -> np.ndarray:
    """The frame numbers a clip [..., T, H, W, 3] of generated frames holds."""
    return np.rint(clip.float().mean(dim=(-3, -2, -1)).numpy() / STEP).astype(np.int64)


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """``root/<class>/<class>_<k>.mp4`` as in :data:`LAYOUT`."""
    root = tmp_path_factory.mktemp("videos")
    for name, counts in LAYOUT.items():
        for k, n in enumerate(counts):
            _write(root / name / f"{name}_{k}.mp4", n)
    return root


@pytest.fixture
def own_videos(videos, tmp_path) -> Path:
    """A private copy of :func:`videos`, for tests that damage files or write the default cache."""
    return Path(shutil.copytree(videos, tmp_path / "videos"))


def _dataset(root: Path, tmp_path: Path, **kwargs) -> VideoClipDataset:
    found = class_folders(root)
    kwargs.setdefault("sampler", ClipSampler.random(4, stride=2))
    kwargs.setdefault("cache_file", tmp_path / "index.json")
    return VideoClipDataset(found.samples, classes=found.classes, **kwargs)


# -- label maps and layouts ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, count, first, last",
    [
        ("kinetics400.txt", 400, "abseiling", "zumba"),
        ("ucf101.txt", 101, "ApplyEyeMakeup", "YoYo"),
        ("hmdb51.txt", 51, "brush_hair", "wave"),
        (
            "something_something_v2.txt",
            174,
            "Approaching something with your camera",
            "Wiping something off of something",
        ),
    ],
)
def test_real_label_maps(name, count, first, last):
    names = read_class_names(LABEL_MAPS / name)
    assert (len(names), names[0], names[-1]) == (count, first, last)
    assert len(set(names)) == count


def test_label_map_json_object_is_ordered_by_index(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"b thing": "1", "a thing": "0", "c thing": "2"}))
    assert read_class_names(tmp_path / "labels.json") == ["a thing", "b thing", "c thing"]
    (tmp_path / "gap.json").write_text(json.dumps({"a": "0", "b": "2"}))
    with pytest.raises(DatasetError, match="gap.json: class indices must be 0 .. 1"):
        read_class_names(tmp_path / "gap.json")


def test_class_folders_sorted_videos_and_frame_folders(tmp_path):
    for rel in ["b/x.mp4", "b/y.AVI", "b/notes.txt", "a/z.webm", "a/.hidden.mp4", "c/clip/img_00001.jpg"]:
        _touch(tmp_path / rel)
    found = class_folders(tmp_path)
    assert found.classes == ["a", "b", "c"]
    assert [(os.path.relpath(p, tmp_path), label) for p, label in found.samples] == [
        ("a/z.webm", 0),
        ("b/x.mp4", 1),
        ("b/y.AVI", 1),
        ("c/clip", 2),
    ]
    # A label map fixes the order; the official UCF-101 order ignores case, unlike a plain sort.
    ucf = read_class_names(LABEL_MAPS / "ucf101.txt")
    assert ucf == sorted(ucf, key=str.lower) and ucf != sorted(ucf)
    ordered = class_folders(tmp_path, classes=["c", "b", "a", "d"])  # "d" has no videos here
    assert [(Path(p).name, label) for p, label in ordered.samples] == [
        ("clip", 0),
        ("x.mp4", 1),
        ("y.AVI", 1),
        ("z.webm", 2),
    ]
    with pytest.raises(DatasetError, match="class folder 'c' is not in the label map"):
        class_folders(tmp_path, classes=["a", "b"])


def test_class_folders_of_real_clips():
    found = class_folders(DATA / "videos")
    assert found.classes == ["asl", "kinetics", "misc", "ntu", "ucf101"]
    names = {os.path.basename(p) for p, _ in found.samples}
    assert (
        len(found.samples) == 33
        and {"again.mkv", "v_CricketShot_g04_c01_rgb.gif", "pedestrians.avi"} <= names
    )


def test_ucf101_split_files(tmp_path):
    classes = read_class_names(LABEL_MAPS / "ucf101.txt")
    splits = tmp_path / "ucfTrainTestlist"
    splits.mkdir()
    # The official files: 1-based indices, CRLF line ends; HandstandPushups videos are spelt HandStandPushups.
    (splits / "classInd.txt").write_bytes("".join(f"{i} {c}\r\n" for i, c in enumerate(classes, 1)).encode())
    train = [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1",
        "HandstandPushups/v_HandStandPushups_g08_c01.avi 37",
        "YoYo/v_YoYo_g25_c05.avi 101",
        "Archery/v_Archery_g08_c01.avi 3",  # not on disk
    ]
    test = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "HandstandPushups/v_HandStandPushups_g01_c01.avi"]
    (splits / "trainlist01.txt").write_bytes("".join(f"{x}\r\n" for x in train).encode())
    (splits / "testlist01.txt").write_bytes("".join(f"{x}\r\n" for x in test).encode())
    root = tmp_path / "UCF-101"
    for line in train[:3] + test:
        _touch(root / line.split()[0])
    (root / "HandstandPushups/v_HandStandPushups_g01_c01.avi").unlink()
    (root / "HandstandPushups/v_HandStandPushups_g01_c01").mkdir()  # extracted frames instead of the video

    with pytest.warns(UserWarning, match=r"1 of 4 annotated videos are missing .*v_Archery_g08_c01\.avi"):
        found = ucf101_split(root, splits, "train")
    assert found.classes == classes
    assert [(Path(p).name, label) for p, label in found.samples] == [
        ("v_ApplyEyeMakeup_g08_c01.avi", 0),
        ("v_HandStandPushups_g08_c01.avi", 36),
        ("v_YoYo_g25_c05.avi", 100),
    ]
    assert found.missing == ["Archery/v_Archery_g08_c01.avi"]
    found = ucf101_split(root, splits, "test")
    assert [(Path(p).name, label) for p, label in found.samples] == [
        ("v_ApplyEyeMakeup_g01_c01.avi", 0),
        ("v_HandStandPushups_g01_c01", classes.index("HandstandPushups")),
    ]
    with pytest.raises(DatasetError, match="trainlist02.txt: cannot read"):
        ucf101_split(root, splits, "train", fold=2)


def test_hmdb51_split_files(tmp_path):
    splits = tmp_path / "splits"
    splits.mkdir()
    lines = {
        "brush_hair": [
            "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 ",
            "Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0.avi 2 ",
        ],
        "cartwheel": [
            "(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 0 ",
            "Acrobacias_cartwheel_f_cm_np1_ba_med_0.avi 1 ",
        ],
    }
    for name, rows in lines.items():
        (splits / f"{name}_test_split1.txt").write_text("\n".join(rows) + "\n")
        for row in rows:
            _touch(tmp_path / "hmdb51" / name / row.split()[0])
    (splits / "cartwheel_test_split2.txt").write_text("x.avi 2\n")
    _touch(tmp_path / "hmdb51" / "cartwheel" / "x.avi")

    train = hmdb51_split(tmp_path / "hmdb51", splits, "train")
    assert train.classes == ["brush_hair", "cartwheel"]
    assert [(Path(p).name, label) for p, label in train.samples] == [
        ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 0),
        ("Acrobacias_cartwheel_f_cm_np1_ba_med_0.avi", 1),
    ]
    test = hmdb51_split(tmp_path / "hmdb51", splits, "test")
    assert [label for _, label in test.samples] == [0]
    fold2 = hmdb51_split(tmp_path / "hmdb51", splits, "test", fold=2)
    assert fold2.classes == ["cartwheel"] and [Path(p).name for p, _ in fold2.samples] == ["x.avi"]


def test_kinetics_csv_layouts(tmp_path):
    rows = [
        ("air drumming", "--nQbRBEz2s", 104, 114, "val"),
        ("abseiling", "0wR5jVB-WPk", 417, 427, "val"),
        ("zumba", "zzz_zzzzzzz", 0, 10, "val"),  # not downloaded
        ("abseiling", "3caPS4FHFF8", 36, 46, "train"),
    ]
    csv_file = tmp_path / "val.csv"
    with open(csv_file, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
        writer.writerows([(*row, 0) for row in rows])
    root = tmp_path / "k400"
    _touch(root / "val" / "air drumming" / "--nQbRBEz2s_000104_000114.mp4")  # root/<split>/<label>/
    _touch(root / "0wR5jVB-WPk_000417_000427.mp4")  # flat
    _touch(root / "3caPS4FHFF8.mkv")  # by YouTube id alone

    with pytest.warns(UserWarning, match=r"1 of 3 annotated videos are missing .*zzz_zzzzzzz_000000_000010"):
        val = kinetics_csv(root, csv_file, split="val", classes=LABEL_MAPS / "kinetics400.txt")
    k400 = read_class_names(LABEL_MAPS / "kinetics400.txt")
    assert val.classes == k400
    assert [(os.path.relpath(p, root), label) for p, label in val.samples] == [
        ("val/air drumming/--nQbRBEz2s_000104_000114.mp4", k400.index("air drumming")),
        ("0wR5jVB-WPk_000417_000427.mp4", 0),
    ]
    assert val.missing == ["zzz_zzzzzzz_000000_000010"]
    train = kinetics_csv(root, csv_file, split="train")
    assert train.classes == ["abseiling", "air drumming", "zumba"]  # every row's label, sorted
    assert train.samples == [(str(root / "3caPS4FHFF8.mkv"), 0)]
    with pytest.raises(DatasetError, match="no row of split 'test' .*train, val"):
        kinetics_csv(root, csv_file, split="test")
    with pytest.raises(DatasetError, match="label 'air drumming' is not in the label map"):
        kinetics_csv(root, csv_file, split="val", classes=["abseiling", "zumba"])


def test_kinetics_real_validation_list(tmp_path):
    real = LABEL_MAPS / "kinetics400_val_list.csv"
    _touch(tmp_path / "abseiling" / "0wR5jVB-WPk_000417_000427.mp4")
    _touch(tmp_path / "zumba" / "zumba_placeholder.mp4")
    with open(real, newline="") as f:
        last = list(csv.DictReader(f))[-1]
    name = f"{last['youtube_id']}_{int(last['time_start']):06d}_{int(last['time_end']):06d}.mp4"
    _touch(tmp_path / "zumba" / name)
    with pytest.warns(UserWarning, match=r"19904 of 19906 annotated videos are missing"):
        found = kinetics_csv(tmp_path, real, split="val")
    assert found.classes == read_class_names(LABEL_MAPS / "kinetics400.txt")
    assert [(Path(p).name, label) for p, label in found.samples] == [
        ("0wR5jVB-WPk_000417_000427.mp4", 0),
        (name, 399),
    ]


def test_something_something_v2_json(tmp_path):
    real = read_class_names(LABEL_MAPS / "something_something_v2.txt")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({name: str(i) for i, name in enumerate(real)}))  # the official labels.json
    entries = [
        {
            "id": "78687",
            "label": "holding potato next to vicks vaporub bottle",
            "template": "Holding [something] next to [something]",
            "placeholders": ["potato", "vicks vaporub bottle"],
        },
        {
            "id": "42326",
            "label": "spreading margarine onto bread",
            "template": "Spreading [something] onto [something]",
            "placeholders": ["margarine", "bread"],
        },
        {
            "id": "100904",
            "label": "putting 2 pens onto a table",
            "template": "Putting [number of] [something] onto [something]",
            "placeholders": ["2", "pens", "a table"],
        },
        {"id": "1", "label": "gone", "template": "Holding [something]", "placeholders": ["x"]},
    ]
    annotations = tmp_path / "validation.json"
    annotations.write_text(json.dumps(entries))
    root = tmp_path / "20bn-something-something-v2"
    for vid in ("78687.webm", "42326.webm"):
        _touch(root / vid)
    (root / "100904").mkdir()  # frame folder

    with pytest.warns(UserWarning, match=r"1 of 4 annotated videos are missing .*1\.webm"):
        found = something_something_v2(root, annotations, classes=labels)
    assert found.classes == real
    assert [(Path(p).name, label) for p, label in found.samples] == [
        ("78687.webm", real.index("Holding something next to something")),
        ("42326.webm", real.index("Spreading something onto something")),
        ("100904", real.index("Putting number of something onto something")),
    ]
    with pytest.warns(
        UserWarning, match="1 of 4"
    ):  # the text label map holds the same classes in the same order
        from_text = something_something_v2(
            root, annotations, classes=LABEL_MAPS / "something_something_v2.txt"
        )
    assert from_text.samples == found.samples
    (tmp_path / "test.json").write_text(json.dumps([{"id": "5"}]))
    with pytest.raises(DatasetError, match="video 5 has no 'template'"):
        something_something_v2(root, tmp_path / "test.json")


def test_list_files(tmp_path):
    for rel in ("a/v1.mp4", "b c/v2.mp4", "frames/v3/img_00001.jpg"):
        _touch(tmp_path / rel)
    (tmp_path / "plain.txt").write_text("# path label\na/v1.mp4 2\n\nb c/v2.mp4 0\nmissing.mp4 1\n")
    with pytest.warns(UserWarning, match="1 of 3 annotated videos are missing"):
        plain = list_file(tmp_path / "plain.txt")
    assert plain.classes == ["0", "1", "2"]
    assert plain.samples == [(str(tmp_path / "a/v1.mp4"), 2), (str(tmp_path / "b c/v2.mp4"), 0)]
    (tmp_path / "raw.txt").write_text("frames/v3 64 1\na/v1.mp4 300 0\n")  # mmaction rawframes
    raw = list_file(tmp_path / "raw.txt", classes=["run", "walk"])
    assert raw.samples == [(str(tmp_path / "frames/v3"), 1), (str(tmp_path / "a/v1.mp4"), 0)]
    (tmp_path / "names.txt").write_text("a/v1.mp4 walk\nb c/v2.mp4 jump\n")
    named = list_file(tmp_path / "names.txt")
    assert named.classes == ["jump", "walk"] and [label for _, label in named.samples] == [1, 0]
    with pytest.raises(DatasetError, match=r"plain.txt:2: label '2' is not one of the 2 classes"):
        list_file(tmp_path / "plain.txt", classes=["x", "y"])


# -- samplers --------------------------------------------------------------------------------------------------
def test_clip_samplers_wrap_the_sampling_functions():
    def rng():
        return np.random.default_rng(7)

    np.testing.assert_array_equal(
        ClipSampler.random(8, 2)(100, rng()), random_clip_indices(100, 8, 2, rng=rng())
    )
    np.testing.assert_array_equal(ClipSampler.center(8, 2)(100, rng()), multi_clip_indices(100, 8, 2, 1)[0])
    np.testing.assert_array_equal(ClipSampler.segments(3)(30, rng()), segment_indices(30, 3, rng=rng()))
    np.testing.assert_array_equal(ClipSampler.segments(3, random=False)(30, rng()), [5, 15, 25])
    np.testing.assert_array_equal(ClipSampler.multi_clip(4, 2, 3)(40, rng()), multi_clip_indices(40, 4, 2, 3))
    fast = ClipSampler.slowfast(4, 8, 4, random=False)(100, rng())
    slow, expected_fast = slowfast_indices(100, 4, 8, 4)
    np.testing.assert_array_equal(fast, expected_fast)
    np.testing.assert_array_equal(fast[::4], slow)
    sampler = ClipSampler.random(8, 2, short_policy="repeat_last")
    assert pickle.loads(pickle.dumps(sampler)) == sampler


def test_items_hold_the_sampled_frames(videos, tmp_path):
    ds = _dataset(videos, tmp_path, sampler=ClipSampler.random(5, stride=3), short_side=12)
    assert len(ds) == 6 and ds.classes == ["jump", "run", "walk"] and ds.bad_videos == []
    for i in range(len(ds)):
        item = ds[i]
        meta = item["meta"]
        assert item["video"].shape == (5, 12, 16, 3) and item["video"].dtype == torch.uint8
        assert item["label"] == i // 2 and meta["index"] == i and meta["path"] == ds.samples[i][0]
        assert meta["fps"] == FPS and meta["skipped"] == []
        np.testing.assert_array_equal(np.diff(meta["indices"]), 3)
        np.testing.assert_array_equal(_levels(item["video"]), meta["indices"])
    np.testing.assert_array_equal(ds[2]["meta"]["indices"], ds[2]["meta"]["indices"])  # same epoch, same clip


def test_multi_clip_views_and_time_sampling(videos, tmp_path):
    ds = _dataset(videos, tmp_path, sampler=ClipSampler.multi_clip(4, stride=2, num_clips=3))
    item = ds[1]  # jump_1: 30 frames
    np.testing.assert_array_equal(item["meta"]["indices"], multi_clip_indices(30, 4, 2, 3))
    assert item["video"].shape == (3, 4, H, W, 3)
    np.testing.assert_array_equal(_levels(item["video"]), item["meta"]["indices"])
    ds.transform = lambda clip: clip.permute(3, 0, 1, 2).float()  # [T, H, W, 3] -> [3, T, H, W], per view
    assert ds[1]["video"].shape == (3, 3, 4, H, W)

    ds = _dataset(videos, tmp_path, sampler=ClipSampler.by_time(4, fps=12.0, random=False))
    # 24 frames at 24 fps show for 1 s; four instants 1/12 s apart span 1/3 s, centred: from 1/3 s = frame 8.
    indices = ds[0]["meta"]["indices"]
    np.testing.assert_array_equal(indices, [8, 10, 12, 14])
    np.testing.assert_array_equal(_levels(ds[0]["video"]), indices)


def test_sampling_is_reproducible_and_follows_the_epoch(videos, tmp_path):
    ds = _dataset(videos, tmp_path, seed=5)
    again = _dataset(videos, tmp_path, seed=5)
    other_seed = _dataset(videos, tmp_path, seed=6)

    def clips(dataset):
        return [dataset[i]["meta"]["indices"].tolist() for i in range(len(dataset))]

    assert clips(ds) == clips(again)
    assert clips(ds) != clips(other_seed)
    ds.set_epoch(1)
    assert ds.epoch == 1 and clips(ds) != clips(again)
    restored = pickle.loads(pickle.dumps(ds))
    assert restored.epoch == 1 and clips(restored) == clips(ds)


def test_dataloader_workers_give_the_same_batches(videos, tmp_path):
    transform = train_transform(size=16, short_side=20, normalize=None)  # random crops and flips
    ds = _dataset(videos, tmp_path, transform=transform, seed=3)
    single = DataLoader(ds, batch_size=4, num_workers=0, collate_fn=collate_clips)
    workers = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate_clips, persistent_workers=True)
    per_epoch = []
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        expected, got = list(single), list(workers)
        assert [b["video"].shape for b in got] == [(4, 3, 4, 16, 16), (2, 3, 4, 16, 16)]
        assert torch.cat([b["label"] for b in got]).tolist() == [0, 0, 1, 1, 2, 2]
        for a, b in zip(expected, got, strict=True):
            assert torch.equal(a["video"], b["video"]) and torch.equal(a["label"], b["label"])
            assert [m["indices"].tolist() for m in a["meta"]] == [m["indices"].tolist() for m in b["meta"]]
        per_epoch.append(torch.cat([b["video"] for b in got]))
    assert not torch.equal(per_epoch[0], per_epoch[1])  # set_epoch reached the persistent workers


# -- the metadata cache ----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def vidact_home(tmp_path, monkeypatch) -> Path:
    """Every test's own $VIDACT_HOME, so no test writes a metadata cache into the user's ~/.cache."""
    home = tmp_path / "vidact_home"
    monkeypatch.setenv("VIDACT_HOME", str(home))
    return home


def test_metadata_cache_is_written_once_and_reused(own_videos, vidact_home, monkeypatch):
    found = class_folders(own_videos)
    before = sorted(os.listdir(own_videos))
    first = VideoClipDataset(found.samples, sampler=ClipSampler.center(4))
    index = first.cache_file
    assert (
        index.parent == vidact_home / "cache" / "index" and len(json.loads(index.read_text())["videos"]) == 6
    )
    assert sorted(os.listdir(own_videos)) == before  # nothing written beside the videos

    probed = []
    real_probe = _pyav.probe

    def counting_probe(path):
        probed.append(os.path.basename(path))
        return real_probe(path)

    def no_probe(*args, **kwargs):
        raise AssertionError("probed a cached video")

    monkeypatch.setattr(_pyav, "probe", no_probe)
    monkeypatch.setattr(_frames, "probe_frames", no_probe)
    second = VideoClipDataset(found.samples, sampler=ClipSampler.center(4))
    assert torch.equal(second[3]["video"], first[3]["video"])

    _write(own_videos / "run" / "run_1.mp4", 12)  # changed: only this one is probed again
    monkeypatch.setattr(_pyav, "probe", counting_probe)
    third = VideoClipDataset(found.samples, sampler=ClipSampler.center(4))
    assert probed == ["run_1.mp4"] and third.metadata(3).num_frames == 12


def test_the_cache_of_read_only_and_writable_roots_is_under_vidact_home(own_videos, vidact_home, monkeypatch):
    """A writable dataset folder and a read-only one (chmod 555: read-only for root too, who could write there
    anyway) both keep their metadata cache under $VIDACT_HOME/cache/index/, one file per root, reused by the next
    dataset over the same root; neither folder is written to. The test makes its own read-only folder instead of
    relying on ../shared's permissions."""
    read_only = Path(shutil.copytree(own_videos, own_videos.parent / "read_only"))
    roots = {"writable": own_videos, "read-only": read_only}
    paths = {name: default_cache_file(root) for name, root in roots.items()}
    assert paths["writable"] != paths["read-only"]
    assert all(path.parent == vidact_home / "cache" / "index" for path in paths.values())
    assert default_cache_file(own_videos) == paths["writable"]  # stable: the same root, the same file
    before = {name: sorted(os.listdir(root)) for name, root in roots.items()}
    modes = {folder: folder.stat().st_mode for folder in read_only.rglob("*") if folder.is_dir()}
    modes[read_only] = read_only.stat().st_mode
    try:
        for folder in modes:
            folder.chmod(0o555)
        for name, root in roots.items():
            dataset = VideoClipDataset(class_folders(root).samples, sampler=ClipSampler.center(4))
            assert dataset.cache_file == paths[name]
            assert len(json.loads(paths[name].read_text())["videos"]) == 6
            assert sorted(os.listdir(root)) == before[name]  # nothing written into the dataset's folder

        def no_probe(*args, **kwargs):
            raise AssertionError("probed a cached video")

        monkeypatch.setattr(_pyav, "probe", no_probe)
        for name, root in roots.items():  # the next datasets read the cache back
            dataset = VideoClipDataset(class_folders(root).samples, sampler=ClipSampler.center(4))
            assert dataset.cache_file == paths[name] and dataset.metadata(0).num_frames > 0
    finally:
        for folder, mode in modes.items():
            folder.chmod(mode)


def test_the_cache_file_can_be_put_elsewhere(own_videos, vidact_home, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "index.json"
    dataset = VideoClipDataset(
        class_folders(own_videos).samples, sampler=ClipSampler.center(4), cache_file=elsewhere
    )
    assert dataset.cache_file == elsewhere and len(json.loads(elsewhere.read_text())["videos"]) == 6
    assert not (vidact_home / "cache").exists()


# -- bad videos ------------------------------------------------------------------------------------------------
@pytest.fixture
def broken_videos(own_videos) -> Path:
    (own_videos / "jump" / "empty.mp4").write_bytes(b"")
    (own_videos / "run" / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    whole = (own_videos / "walk" / "walk_0.mp4").read_bytes()
    (own_videos / "walk" / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    return own_videos


def test_unreadable_videos_are_dropped_with_one_warning(broken_videos, tmp_path):
    with pytest.warns(UserWarning, match=r"3 of 9 videos are unreadable and left out") as record:
        ds = _dataset(broken_videos, tmp_path)
    assert len([w for w in record if "unreadable" in str(w.message)]) == 1
    bad = {os.path.relpath(p, broken_videos): reason for p, reason in ds.bad_videos}
    assert set(bad) == {"jump/empty.mp4", "run/noise.mp4", "walk/truncated.mp4"}
    assert "empty file" in bad["jump/empty.mp4"]
    assert [(Path(p).name, label) for p, label in ds.samples] == [
        ("jump_0.mp4", 0),
        ("jump_1.mp4", 0),
        ("run_0.mp4", 1),
        ("run_1.mp4", 1),
        ("walk_0.mp4", 2),
        ("walk_1.mp4", 2),
    ]
    with pytest.raises(VideoError, match="empty.mp4: empty file"):
        _dataset(broken_videos, tmp_path, on_error="raise")


def test_videos_failing_mid_epoch_are_replaced_and_reported(own_videos, tmp_path):
    ds = _dataset(own_videos, tmp_path, seed=1)
    broken = ds.samples[2][0]
    Path(broken).write_bytes(np.random.default_rng(1).bytes(3000))  # damaged after probing

    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_clips)
    batches = list(loader)
    metas = [m for b in batches for m in b["meta"]]
    assert [m["index"] for m in metas] == [0, 1, 3, 3, 4, 5]  # item 2 is sample 3 instead
    assert torch.cat([b["label"] for b in batches]).tolist() == [0, 0, 1, 1, 2, 2]
    (failure,) = metas[2]["skipped"]
    assert (failure.epoch, failure.requested, failure.index, failure.path) == (0, 2, 2, broken)
    assert torch.equal(batches[1]["video"][0], batches[1]["video"][1])  # same sample, same epoch, same clip

    assert ds.report() == []  # the failure happened in a worker
    for batch in batches:
        ds.collect(batch["meta"])
    ((path, reason, count),) = ds.report()
    with pytest.raises(VideoError) as error:
        VideoReader(broken, metadata=ds.metadata(2))
    assert (path, reason, count) == (broken, error.value.reason, 1)
    _ = ds[2]  # without workers the dataset records it itself; the same failure is not counted twice
    ds.collect(ds[2]["meta"])
    assert ds.report()[0].count == 1
    ds.set_epoch(1)
    assert ds.report() == [] and ds.report(epoch=0)[0].count == 1
    _ = ds[2]
    assert ds.report() == [(broken, reason, 1)]

    ds.on_error = "raise"
    with pytest.raises(VideoError, match=os.path.basename(broken)):
        _ = ds[2]


def test_too_many_failures_in_a_row_stop(own_videos, tmp_path):
    ds = _dataset(own_videos, tmp_path)
    for path, _ in ds.samples:
        Path(path).write_bytes(b"not a video")
    with pytest.raises(DatasetError, match="6 videos in a row failed to decode from sample 4"):
        _ = ds[4]


def test_all_unreadable_is_an_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.mp4").write_bytes(b"")
    with pytest.raises(DatasetError, match="none of the 1 videos is readable"):
        _dataset(tmp_path, tmp_path)


# -- frame folders, real clips, build_dataset --------------------------------------------------------------------
def test_frame_folder_samples(tmp_path):
    folder = tmp_path / "root" / "wave" / "clip"
    folder.mkdir(parents=True)
    for i in range(12):
        Image.fromarray(np.full((H, W, 3), i * STEP, np.uint8)).save(folder / f"img_{i + 1:05d}.png")
    ds = _dataset(tmp_path / "root", tmp_path, sampler=ClipSampler.center(4, stride=2), frame_fps=12.0)
    item = ds[0]
    np.testing.assert_array_equal(item["meta"]["indices"], [2, 4, 6, 8])
    np.testing.assert_array_equal(_levels(item["video"]), [2, 4, 6, 8])
    assert item["meta"]["fps"] == 12.0 and item["label"] == 0


def test_real_clips_from_a_list_file(tmp_path):
    names = ["again", "bird", "milk", "yes"]
    (tmp_path / "asl.txt").write_text("".join(f"{n}.mkv {n}\n" for n in names))
    ds = build_dataset(
        "list",
        ASL,
        annotations=tmp_path / "asl.txt",
        sampler=ClipSampler.segments(8, random=False),
        short_side=48,
        cache_file=tmp_path / "index.json",
    )
    assert ds.classes == names and ds.cache_file == tmp_path / "index.json"
    batch = collate_clips([ds[i] for i in range(len(ds))])
    assert batch["video"].shape == (4, 8, 48, 64, 3) and batch["label"].tolist() == [0, 1, 2, 3]
    assert all(m["fps"] == 30.0 and m["indices"].max() < 110 for m in batch["meta"])
    assert batch["video"].float().std() > 10  # real pictures, not blank frames


def test_build_dataset(videos, tmp_path):
    split_root = tmp_path / "data"
    shutil.copytree(videos, split_root / "train")
    ds = build_dataset(
        "folder", split_root, "train", sampler=ClipSampler.center(4), cache_file=tmp_path / "i.json"
    )
    assert ds.classes == ["jump", "run", "walk"] and len(ds) == 6
    assert ds[5]["video"].shape == (4, H, W, 3)
    with pytest.raises(ConfigError, match="unknown dataset kind 'imagenet'"):
        build_dataset("imagenet", split_root, sampler=ClipSampler.center(4))
    with pytest.raises(ConfigError, match="'kinetics' needs annotations="):
        build_dataset("kinetics", split_root, "val", sampler=ClipSampler.center(4))
    with pytest.raises(ConfigError, match="'ssv2' does not use split="):
        build_dataset("ssv2", split_root, "train", annotations="x.json", sampler=ClipSampler.center(4))
