"""Optical flow as data: frame folders read by prefix (one channel for flow images), flow folders checked for
gaps, TSN snippet sampling over the flow fields, and RGB frames in lock-step with the flow (the same segments, the
same crop, the same flip, which negates flow x).

Every folder here is written by the test with PNG images whose values encode what they are (the frame or field
index, the pixel's row and column), so that what comes out of a dataset can be traced back to where it came from
without any of vidact's own helpers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vidact.data.datasets.flow import SnippetViews, build_flow_dataset, collate_flow, snippet_starts
from vidact.data.flow import FlowPreset, RgbFlowPreset
from vidact.data.presets import Preset
from vidact.data.sampling import ClipSampler
from vidact.errors import DatasetError, VideoError
from vidact.io import MetadataCache, VideoReader, probe

H, W = 20, 32  # frames of the folders below (rows, columns)


def _png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(np.ascontiguousarray(array)).save(path)


def _rawframes(folder: Path, frames: int, *, digits: int = 5, rgb: bool = True) -> Path:
    """A rawframes folder of ``frames`` RGB frames and ``frames - 1`` flow fields, every value an oracle:

    - ``img_<i>``: R = 8 * frame index, G = 4 * column, B = 4 * row;
    - ``flow_x_<i>``: 64 + 4 * column (so a flip, which maps q to 255 - q, is told apart from no flip);
    - ``flow_y_<i>``: 20 * field index + row (field index and row both recoverable, for up to 12 fields).
    """
    folder.mkdir(parents=True)
    rows, cols = np.mgrid[0:H, 0:W]
    for i in range(frames):
        if rgb:
            image = np.stack([np.full((H, W), 8 * i), 4 * cols, 4 * rows], axis=-1).astype(np.uint8)
            _png(folder / f"img_{i + 1:0{digits}d}.png", image)
        if i < frames - 1:
            _png(folder / f"flow_x_{i + 1:0{digits}d}.png", (64 + 4 * cols).astype(np.uint8))
            _png(folder / f"flow_y_{i + 1:0{digits}d}.png", (20 * i + rows).astype(np.uint8))
    return folder


@pytest.fixture
def flow_root(tmp_path: Path) -> Path:
    """Class folders of rawframes folders: 2 classes x 2 videos of 9 frames (8 flow fields)."""
    root = tmp_path / "flow"
    for label in ("left", "right"):
        for k in range(2):
            _rawframes(root / "train" / label / f"{label}_{k}", 9)
    return root


# -- io: prefixes and one channel ----------------------------------------------------------------------------------
def test_a_prefix_reads_one_sequence_of_a_folder_and_flow_images_read_as_one_channel(tmp_path: Path) -> None:
    folder = _rawframes(tmp_path / "v", 12, digits=1)  # img_1 ... img_12: lexical order would put 10 after 1
    rgb = VideoReader(folder, prefix="img_")
    assert len(rgb) == 12 and rgb.metadata.pixel_format == "rgb24"
    frames = rgb.get_frames([0, 9, 11]).numpy()  # [3, H, W, 3]
    assert frames.shape == (3, H, W, 3)
    assert frames[:, 0, 0, 0].tolist() == [0, 72, 88]  # R = 8 * frame index: natural order
    x = VideoReader(folder, prefix="flow_x_", gray=True, layout="TCHW")
    y = VideoReader(folder, prefix="flow_y_", gray=True)
    assert len(x) == len(y) == 11 and x.metadata.pixel_format == "gray"
    assert x.get_frames([3]).shape == (1, 1, H, W)
    rows, cols = np.mgrid[0:H, 0:W]
    np.testing.assert_array_equal(x.get_frames([3]).numpy()[0, 0], 64 + 4 * cols)
    np.testing.assert_array_equal(y.get_frames([10, 2]).numpy()[..., 0], [20 * 10 + rows, 20 * 2 + rows])
    # without a prefix the folder is every image (the behaviour before prefixes): 12 + 11 + 11
    assert len(VideoReader(folder)) == 34
    with pytest.raises(ValueError, match="frame folders"):
        VideoReader(__file__, gray=True)  # a file, not a folder: refused before it is opened


def test_the_metadata_cache_keeps_one_entry_per_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _rawframes(tmp_path / "v", 5)
    cache = MetadataCache(tmp_path / "index.json")
    frames = probe(folder, cache=cache, prefix="img_")
    fields = probe(folder, cache=cache, prefix="flow_x_")
    assert (frames.num_frames, fields.num_frames) == (5, 4)
    cache.save()
    reloaded = MetadataCache(tmp_path / "index.json")

    def no_probe(*args, **kwargs):
        raise AssertionError("probed a cached folder")

    monkeypatch.setattr("vidact.io._frames.probe_frames", no_probe)
    assert probe(folder, cache=reloaded, prefix="img_").num_frames == 5
    assert probe(folder, cache=reloaded, prefix="flow_x_").num_frames == 4
    assert reloaded.get(folder) is None and reloaded.get(folder, prefix="flow_y_") is None


# -- bad folders ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("remove", "message"),
    [
        (["flow_y_00004.png"], "flow_y_00004 is missing"),  # a gap
        (["flow_x_00007.png", "flow_x_00008.png"], "flow_x_00007 is missing"),  # x and y counts differ
        (["flow_y_00001.png"], "flow_y_00001 is missing"),  # a gap at the start
        (["img_00009.png", "img_00008.png"], "img_00008 is missing"),  # too few RGB frames for the fields
    ],
)
def test_a_flow_folder_with_missing_images_is_left_out_with_one_line(
    flow_root: Path, remove: list[str], message: str
) -> None:
    bad = flow_root / "train" / "left" / "left_1"
    for name in remove:
        os.remove(bad / name)
    with pytest.warns(UserWarning, match="1 of 4"):
        ds = build_flow_dataset("folder", flow_root, "train", sampler=ClipSampler.segments(2, 2), rgb=True)
    assert len(ds) == 3
    [(path, reason)] = ds.bad_videos
    assert path == str(bad) and reason.startswith(message) and "\n" not in reason
    with pytest.raises(VideoError) as raised:
        build_flow_dataset(
            "folder", flow_root, "train", sampler=ClipSampler.segments(2, 2), rgb=True, on_error="raise"
        )
    assert str(raised.value).startswith(f"{bad}: {message}") and "\n" not in str(raised.value)


def test_a_folder_without_flow_is_no_flow_folder(tmp_path: Path) -> None:
    root = tmp_path / "flow"
    (root / "train" / "a" / "empty").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"none of the 1 videos is readable .*empty: .*flow_x_00001"):
        build_flow_dataset("folder", root, "train", sampler=ClipSampler.segments(2, 2))


# -- sampling over the flow fields -------------------------------------------------------------------------------
def _fields(item_flow: torch.Tensor) -> list[int]:
    """The field indices of a uint8 flow clip [T, H, W, 2] read back from its y code (20 * field + row)."""
    return (item_flow[:, 0, 0, 1].long() // 20).tolist()


def test_segments_of_consecutive_fields_random_for_training_centred_for_validation(flow_root: Path) -> None:
    # 8 fields, S = 3 segments [0, 2), [2, 5), [5, 8), L = 2: rooms 0, 1, 1
    train = build_flow_dataset("folder", flow_root, "train", sampler=ClipSampler.segments(3, 2))
    seen = set()
    for epoch in range(6):
        train.set_epoch(epoch)
        for i in range(len(train)):
            item = train[i]
            assert item["flow"].shape == (6, H, W, 2) and item["flow"].dtype == torch.uint8
            fields = _fields(item["flow"])
            assert fields == item["meta"]["indices"].tolist()
            starts = fields[0::2]
            assert all(b == a + 1 for a, b in zip(fields[0::2], fields[1::2], strict=True))  # consecutive
            assert starts[0] == 0 and starts[1] in (2, 3) and starts[2] in (5, 6)  # inside its segment
            seen.add(tuple(starts))
            # x is the column code, untouched
            np.testing.assert_array_equal(item["flow"][0, 5, :, 0].numpy(), 64 + 4 * np.arange(W))
    assert len(seen) == 4  # every combination of the two random offsets was drawn
    val = build_flow_dataset("folder", flow_root, "train", sampler=ClipSampler.segments(3, 2, random=False))
    assert {tuple(_fields(val[i]["flow"])) for i in range(len(val))} == {
        (0, 1, 3, 4, 6, 7)
    }  # (room + 1) // 2


def test_snippet_views_sweep_each_segment_and_one_view_is_the_centre() -> None:
    # 11 fields, S = 3: parts [0, 3), [3, 7), [7, 11); L = 2 leaves rooms 1, 2, 2
    views = SnippetViews(3, 2, num_views=3)(11, np.random.default_rng(0))
    # view v at floor((v + 0.5) / 3 * (room + 1)): room 1 -> 0, 1, 1; room 2 -> 0, 1, 2
    assert views.tolist() == [[0, 1, 3, 4, 7, 8], [1, 2, 4, 5, 8, 9], [1, 2, 5, 6, 9, 10]]
    one = SnippetViews(3, 2)(11, np.random.default_rng(0))
    assert one.tolist() == [ClipSampler.segments(3, 2, random=False)(11, np.random.default_rng(0)).tolist()]
    # a video with fewer fields than S * L: snippets overlap, never past the last field
    assert SnippetViews(3, 4, 2)(5, np.random.default_rng(0)).max() == 4
    assert snippet_starts(views, 2).tolist() == [[0, 3, 7], [1, 4, 8], [1, 5, 9]]


def test_views_and_collation(flow_root: Path) -> None:
    spec = FlowPreset(segments=2, length=3, crop_size=16, short_side=24, num_crops=3)
    ds = build_flow_dataset(
        "folder", flow_root, "train", sampler=SnippetViews(2, 3, 2), transform=spec.eval_transform("three")
    )
    batch = collate_flow([ds[0], ds[3]])
    assert batch["flow"].shape == (2, 2, 3, 2, 6, 16, 16)  # [B, views, crops, 2, S*L, h, w]
    assert "video" not in batch and batch["label"].tolist() == [0, 1] and len(batch["meta"]) == 2


# -- RGB and flow in lock-step ---------------------------------------------------------------------------------------
def test_rgb_and_flow_in_lock_step_same_segments_same_crop_same_flip(flow_root: Path) -> None:
    """The RGB frame of each segment is the first frame of its flow snippet, and both are cut from the same box
    and flipped together: at every output pixel the RGB frame's (row, column) code equals the flow's, and a flip
    reverses the columns of both and negates flow x (q -> 255 - q)."""
    length, crop = 2, 16
    spec = RgbFlowPreset(
        rgb=Preset(frames=3, sampler="segments", short_side=H, crop_size=crop),  # values: pixels / 255
        flow=FlowPreset(segments=3, length=length, short_side=H, crop_size=crop),
    )
    ds = build_flow_dataset(
        "folder",
        flow_root,
        "train",
        sampler=ClipSampler.segments(3, length),
        rgb=True,
        length=length,
        transform=spec.train_transform(flip_p=0.5),
    )
    flips, boxes = set(), set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            rgb = (item["video"] * 255).round().long()  # [3, S, h, w]
            q = ((item["flow"] + 1) * 127.5).round().long()  # [2, S*L, h, w]
            assert rgb.shape == (3, 3, crop, crop) and q.shape == (2, 3 * length, crop, crop)
            frame_of_segment = rgb[0, :, 0, 0] // 8  # R = 8 * frame index
            field = q[1] // 20  # [S*L, h, w]: every pixel of a field carries its index
            assert (field == field[:, :1, :1]).all()
            assert frame_of_segment.tolist() == field[0::length, 0, 0].tolist()  # first frame of each snippet
            assert frame_of_segment.tolist() == snippet_starts(item["meta"]["indices"], length).tolist()
            row, col = rgb[2] // 4, rgb[1] // 4  # [S, h, w] where each output pixel came from
            flipped = bool(col[0, 0, 0] > col[0, 0, -1])
            x = 255 - q[0] if flipped else q[0]  # undo the negation a flip makes
            for t in range(3 * length):
                assert torch.equal((x[t] - 64) // 4, col[t // length]), "flow and RGB columns differ"
                assert torch.equal(q[1, t] % 20, row[t // length]), "flow and RGB rows differ"
            flips.add(flipped)
            boxes.add((int(row[0, 0, 0]), int(col[0, 0, 0 if not flipped else -1])))
    assert flips == {False, True} and len(boxes) > 4  # both cases and several crop boxes were exercised


def test_an_mmaction2_rawframes_list_file_names_the_folders(flow_root: Path, tmp_path: Path) -> None:
    """``<folder> <frames> <label>`` lines (mmaction2's rawframes lists) over the same folders."""
    listing = tmp_path / "train_list.txt"
    listing.write_text("train/right/right_1 9 1\ntrain/left/left_0 9 0\ntrain/left/missing 9 0\n")
    with pytest.warns(UserWarning, match="1 of 3 annotated videos are missing"):
        ds = build_flow_dataset(
            "list", flow_root, annotations=listing, sampler=ClipSampler.segments(2, 3, random=False)
        )
    assert [Path(p).name for p, _ in ds.samples] == ["right_1", "left_0"] and ds.classes == ["0", "1"]
    # 8 fields in 2 segments [0, 4), [4, 8); snippets of 3 leave room 1: centred at lo + (1 + 1) // 2
    assert ds[0]["label"] == 1 and _fields(ds[0]["flow"]) == [1, 2, 3, 5, 6, 7]
