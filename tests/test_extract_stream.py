"""Extractors that write as they go (vidact/extract/output.py) and the per-video job that commits their outputs
(vidact/extract/job.py): appendable .npy arrays equal to the concatenation of their chunks, per-item files in a
folder, nothing at a final path before the video succeeded, nothing left behind when it fails, bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vidact.extract import Video, VideoOutput, extract, process_video, record_path
from vidact.extract.job import takes_output


def _videos(root: Path, names=("a/v0", "a/v1", "b/v2")) -> Path:
    """Files the job digests; the extractors below read only their bytes."""
    for i, name in enumerate(names):
        path = root / f"{name}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([i]) * (100 + i))
    return root


def _expected(rows: int, width: int, scale: int) -> np.ndarray:
    return np.concatenate([np.full((i, width), i * scale, np.int32) for i in range(rows)])


@dataclass
class Chunks:
    """Writes ``values`` as chunks of 0, 1, 2, ... rows and ``items`` per-item text files; fails on request."""

    rows: int = 5
    width: int = 3
    items: int = 2
    fail_at: int = -1
    name = "chunks"

    def __post_init__(self) -> None:
        self.seen_at_final_path: list[str] = []

    def params(self) -> dict:
        return {"rows": self.rows, "width": self.width, "items": self.items}

    def __call__(self, video: str, out: VideoOutput) -> None:
        scale = Path(video).read_bytes()[0] + 1  # each video its own values
        with out.array("values") as values:
            for i in range(self.rows):
                values.append(np.full((i, self.width), i * scale, np.int32))
                if i == self.fail_at:
                    raise RuntimeError(f"failed at chunk {i}")
        for k in range(self.items):
            out.file(f"sub/item_{k}.txt").write_text(f"{Path(video).stem} {k}")
        self.seen_at_final_path += [p.name for p in (out.array_path("values"), out.folder) if p.exists()]


def _leftovers(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if ".tmp" in p.name)


def test_streamed_arrays_and_files_are_whole_and_recorded(tmp_path):
    videos = _videos(tmp_path / "videos")
    out = tmp_path / "out"
    extractor = Chunks()
    report = extract(extractor, videos, out, progress=False)
    assert (report.done, report.failed) == (3, [])
    assert extractor.seen_at_final_path == []  # nothing in place while the extractor ran
    for i, name in enumerate(["a/v0", "a/v1", "b/v2"]):
        values = np.load(out / f"{name}.values.npy")
        np.testing.assert_array_equal(values, _expected(5, 3, i + 1))
        assert values.dtype == np.int32 and values.shape == (10, 3)
        folder = out / f"{name}.chunks"
        assert sorted(p.name for p in (folder / "sub").iterdir()) == ["item_0.txt", "item_1.txt"]
        assert (folder / "sub" / "item_1.txt").read_text() == f"{Path(name).name} 1"
        record = json.loads(record_path(out, Video("", name), "chunks").read_text())
        assert record["arrays"] == {
            "values": {"file": f"{Path(name).name}.values.npy", "shape": [10, 3], "dtype": "int32"}
        }
        assert record["files"] == [f"{Path(name).name}.values.npy", f"{Path(name).name}.chunks"]
    assert _leftovers(out) == []
    again = extract(extractor, videos, out, progress=False)
    assert (again.done, again.skipped) == (0, 3)
    (out / "a" / "v1.chunks" / "sub" / "item_0.txt").unlink()  # a listed folder must still be there
    (out / "a" / "v0.chunks").rename(out / "a" / "v0.gone")
    third = extract(extractor, videos, out, progress=False)
    assert (third.done, third.skipped) == (1, 2)  # a folder listed in the record is checked, not its files


def test_a_failure_midway_leaves_no_output_and_no_temporary(tmp_path):
    videos = _videos(tmp_path / "videos", names=("v0",))
    out = tmp_path / "out"
    report = extract(Chunks(fail_at=3), videos, out, progress=False)
    assert [f.reason for f in report.failed] == ["RuntimeError: failed at chunk 3"]
    assert sorted(p.name for p in out.iterdir()) == ["_summary.chunks.json"]

    done = extract(Chunks(items=3), videos, out, progress=False)  # outputs of an earlier run ...
    assert done.done == 1 and len(list((out / "v0.chunks" / "sub").iterdir())) == 3
    before = (out / "v0.values.npy").read_bytes()
    # ... survive a failed redo
    failed = extract(Chunks(items=3, rows=6, fail_at=5), videos, out, progress=False)
    assert len(failed.failed) == 1 and (out / "v0.values.npy").read_bytes() == before
    assert _leftovers(out) == []
    redone = extract(Chunks(items=1, rows=6), videos, out, progress=False)  # a redo replaces the folder whole
    assert redone.done == 1 and [p.name for p in (out / "v0.chunks" / "sub").iterdir()] == ["item_0.txt"]
    np.testing.assert_array_equal(np.load(out / "v0.values.npy"), _expected(6, 3, 1))
    assert _leftovers(out) == []


def test_npy_header_is_numpys_and_holds_any_length(tmp_path):
    output = VideoOutput(tmp_path, "v", "k")
    with output.array("x", dtype=np.float64) as x:
        x.append(np.arange(6, dtype=np.float32).reshape(3, 2))  # float32 casts safely into float64
        x.append(np.zeros((0, 2)))
        with pytest.raises(ValueError, match=r"rows \[3\] after rows \[2\]"):
            x.append(np.zeros((1, 3)))
        with pytest.raises(TypeError, match="does not cast safely"):
            x.append(np.zeros((1, 2), np.complex128))
    empty = output.array("empty", dtype=np.uint8, shape=(4,))  # no chunk: a [0, 4] array
    output.write_array("scalar", np.float32(2.5))  # the returning form's 0-d arrays
    with pytest.raises(ValueError, match="use letters"):
        output.array("a/b")
    with pytest.raises(ValueError, match="written twice"):
        output.array("x")
    assert output.commit() == ["v.x.npy", "v.empty.npy", "v.scalar.npy"]
    assert empty.closed
    with open(tmp_path / "v.x.npy", "rb") as f:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = np.lib.format._read_array_header(f, version)
        assert (version, shape, fortran, dtype) == ((1, 0), (3, 2), False, np.float64)
        assert f.tell() % 64 == 0  # data aligned as numpy aligns it
    np.testing.assert_array_equal(np.load(tmp_path / "v.x.npy", mmap_mode="r"), np.arange(6.0).reshape(3, 2))
    assert np.load(tmp_path / "v.empty.npy").shape == (0, 4)
    scalar = np.load(tmp_path / "v.scalar.npy")
    assert scalar.shape == () and scalar.dtype == np.float32 and scalar == 2.5
    assert output.describe()["scalar"] == {"file": "v.scalar.npy", "shape": [], "dtype": "float32"}

    big = VideoOutput(tmp_path, "w", "k").array("y", dtype=np.int8, shape=(1,))
    big.length = 2**62  # the header reserved at the start fits any length
    big.append(np.zeros((1, 1), np.int8))
    big.close()
    with open(big.tmp, "rb") as f:
        version = np.lib.format.read_magic(f)
        assert np.lib.format._read_array_header(f, version)[0] == (2**62 + 1, 1)
    big.discard()


def test_per_item_paths_stay_inside_the_video_folder(tmp_path):
    output = VideoOutput(tmp_path, "a/v", "flow")
    for bad in ("/etc/passwd", "../x.jpg", "u/../../x.jpg", ""):
        with pytest.raises(ValueError, match="a relative path inside"):
            output.file(bad)
    output.file("u/00000.jpg").write_bytes(b"jpeg")
    with pytest.raises(ValueError, match="written twice"):
        output.file("u/00000.jpg")
    assert not (tmp_path / "a" / "v.flow").exists()
    assert output.commit() == ["v.flow"]
    assert (tmp_path / "a" / "v.flow" / "u" / "00000.jpg").read_bytes() == b"jpeg"


@dataclass
class Megabytes:
    """Writes ``count`` MB of float32 rows, one MB at a time."""

    count: int = 48
    name = "megabytes"

    def params(self) -> dict:
        return {"count": self.count}

    def __call__(self, video: str, out: VideoOutput) -> None:
        with out.array("x", dtype=np.float32, shape=(1 << 18,)) as x:
            for i in range(self.count):
                x.append(np.full((1, 1 << 18), i, np.float32))


def test_memory_stays_at_one_chunk_whatever_the_length(tmp_path):
    video = _videos(tmp_path / "videos", names=("v",)) / "v.mp4"
    tracemalloc.start()
    try:
        outcome = process_video(Megabytes(), Video(str(video), "v"), tmp_path / "out", {"count": 48})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.status == "done", outcome.reason
    assert peak < 6 * 2**20, f"peak {peak / 2**20:.1f} MB while writing 48 MB"
    written = np.load(tmp_path / "out" / "v.x.npy", mmap_mode="r")
    assert written.shape == (48, 1 << 18) and written[47, -1] == 47 and written[3, 0] == 3


def test_the_job_tells_the_two_forms_apart():
    class Returns:
        def __call__(self, video):
            return {}

    class Writes:
        def __call__(self, video, out):
            return None

    assert not takes_output(Returns()) and takes_output(Writes())
    assert not takes_output(lambda video: {}) and takes_output(lambda video, out: None)
