"""Peak memory of ``vidact extract features`` and ``vidact extract pose`` against the video's length: a synthesized
10-minute 720p video against a 1-minute one. Extraction streams (frames from one forward decode, features and
pose written as they come), so the peak should not grow with the length.

    python benchmarks/memory.py                  # writes benchmarks/results/memory.json (about 10 minutes on 2 cores)
    python benchmarks/memory.py --seconds 4 8 --size 320x180 --out /tmp/memory.json    # a smoke run

Videos: a moving pattern (a colour gradient scrolling sideways under a bouncing square), 1280x720 at 10 fps
(a low frame rate keeps the 10-minute pose run affordable: 6,000 frames), H.264, synthesized once into
benchmarks/.cache/memory/ by vidact's writer, which streams frames to the encoder.

Each command runs as a child process on a fresh output folder, as a user would type it::

    python -m vidact extract features VIDEO --out OUT --model per_frame_efficientnet_lite0.imagenet \\
        --window 2 --stride 5 --no-progress
    python -m vidact extract pose VIDEO --out OUT --fps 2 --no-progress

and its peak resident set size is the ``ru_maxrss`` that ``wait4`` reports for that child alone (the whole
process: Python, torch, the model, MediaPipe's graphs, the decoder's buffers). Reported per command and length:
``peak_rss_mib``, ``seconds``, the frames in the video, and ``growth`` = peak(10 min) / peak(1 min).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache" / "memory"
RESULTS = HERE / "results" / "memory.json"
FPS = 10
MODEL = "per_frame_efficientnet_lite0.imagenet"
#: Windows every 5 s (of 2 s) and pose at 2 frames per second keep the 10-minute runs at a few minutes each on 2
#: shared cores; every frame is still decoded at 720p, and every batch of windows is full (8 windows).
COMMANDS = {
    "features": ["features", "--model", MODEL, "--window", "2", "--stride", "5"],
    "pose": ["pose", "--fps", "2"],
}


def frames(seconds: float, width: int, height: int) -> Iterator[np.ndarray]:
    """``seconds`` of a moving pattern at :data:`FPS`, one [H, W, 3] uint8 frame at a time."""
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    base = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1)
    base = (base * 255).astype(np.uint8)  # [H, W, 3]
    side = height // 6
    for t in range(int(round(seconds * FPS))):
        frame = np.roll(base, 4 * t, axis=1)  # the gradient scrolls sideways
        cx = int((width - side) * (0.5 + 0.5 * np.sin(t / 17)))  # the square bounces
        cy = int((height - side) * (0.5 + 0.5 * np.cos(t / 23)))
        frame[cy : cy + side, cx : cx + side] = (255, 255 - (t % 256), t % 256)
        yield frame


def video(seconds: float, width: int, height: int) -> Path:
    """The synthesized video of that length and size (made once, then reused)."""
    from vidact.io.writer import write_video

    path = CACHE / f"pattern_{width}x{height}_{FPS}fps_{seconds:g}s.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        write_video(path, frames(seconds, width, height), fps=FPS, options={"preset": "veryfast"})
        print(f"synthesized {path.name} in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def peak_rss(args: list[str]) -> tuple[float, float, str]:
    """Run ``args``; its peak RSS (MiB, from ``wait4``), its wall time (s) and its stderr's last line."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    assert child.stderr is not None
    err = child.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {child.returncode}:\n{err}")
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return usage.ru_maxrss / 1024, seconds, last  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, nargs=2, default=(60.0, 600.0), help="the two lengths")
    parser.add_argument("--size", default="1280x720", help="WxH of the videos")
    parser.add_argument("--kinds", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    options = parser.parse_args()
    width, height = (int(n) for n in options.size.split("x"))
    results: dict[str, dict] = {}
    for kind in options.kinds:
        results[kind] = {}
        for seconds in options.seconds:
            path = video(seconds, width, height)
            out = CACHE / "out" / kind / path.stem
            shutil.rmtree(out, ignore_errors=True)
            command, *options_ = COMMANDS[kind]
            args = [
                sys.executable,
                "-m",
                "vidact",
                "extract",
                command,
                str(path),
                "--out",
                str(out),
                *options_,
            ]
            rss, wall, _ = peak_rss([*args, "--no-progress"])
            record = json.loads((out / f"{path.stem}.{kind}.json").read_text())
            entry = {
                "video_seconds": seconds,
                "frames": int(round(seconds * FPS)),
                "peak_rss_mib": round(rss, 1),
                "seconds": round(wall, 1),
                "arrays": {k: v["shape"] for k, v in record["arrays"].items()},
            }
            results[kind][f"{seconds:g}s"] = entry
            print(f"{kind:9s} {seconds:6g} s of video: peak RSS {rss:7.1f} MiB in {wall:6.1f} s", flush=True)
        short, long = (results[kind][f"{s:g}s"]["peak_rss_mib"] for s in options.seconds)
        results[kind]["growth"] = round(long / short, 3)
    payload = {
        "what": "peak RSS of `vidact extract KIND` on a synthesized video, short against long",
        "video": {
            "size": [width, height],
            "fps": FPS,
            "pattern": "gradient scrolling, square bouncing; H.264",
        },
        "commands": {
            kind: ["vidact", "extract", COMMANDS[kind][0], "VIDEO", *COMMANDS[kind][1:]] for kind in COMMANDS
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    sys.path.insert(0, str(ROOT))
    from vidact._atomic import write_json

    write_json(payload, options.out)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
