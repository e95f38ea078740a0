"""Decoding speed: vidact's VideoReader against naive PyAV, TorchCodec and decord/decord2.

    python benchmarks/decode.py                 # full run (about 27 minutes on 2 cores), writes JSON
    python benchmarks/decode.py --quick         # a smoke run (fewer clips and repeats)

Test videos: 10-second H.264 clips (300 frames at 30 fps, a keyframe every 30 frames, x264 defaults otherwise:
B-frames, CRF 23) at 456x256 and 1280x720, made from a real Kinetics clip in ../shared/data/videos (scaled), cached
in benchmarks/.cache/.

Scenarios (clips/s; every clip opens the file, reads its frames and closes it, as a data loader does):
  dense     16 frames at stride 2 from a random start (one or two GOPs need decoding)
  spread    16 frames over the whole video, one per segment at a random offset (TSN style)
  *_r256    the same with resize-on-decode to short side 256
  sequential  decode every frame in order (frames/s)
The same clip index lists (seeded) go to every library. Each library runs in its own subprocess (decord and
decord2 both install as ``decord``), one after the other, each scenario repeated and the median kept.

Libraries:
  naive_pyav   decode every frame with PyAV (``to_ndarray`` RGB), then index (what torchvision.io.read_video does)
  vidact       VideoReader with the frame index probed once per video and cached (what vidact's datasets do)
  vidact_cold  VideoReader probing the file on every open (no cache)
  torchcodec   VideoDecoder, exact seek mode; FFmpeg threads 1 and 0 (auto) and approximate mode, best kept
  decord, decord2  VideoReader(num_threads=0) with get_batch
TorchCodec needs FFmpeg's shared libraries (Debian: libavcodec59 ...); decord and decord2 are found through
--decord-path / --decord2-path (pip install --target DIR decord==0.6.0 / decord2), see benchmarks/README.md.

Also: a DataLoader epoch over a folder of clips with 2 workers (vidact dataset), and where a clip's time goes
(demux+decode, YUV->RGB conversion, resize), measured by switching each step off in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
SOURCE = ROOT.parent / "shared" / "data" / "videos" / "kinetics" / "skateboarding.mp4"
RESOLUTIONS = {"256p": (456, 256), "720p": (1280, 720)}
NUM_FRAMES, FPS, GOP = 300, 30, 30
CLIP_LEN, STRIDE = 16, 2


# -- test data ------------------------------------------------------------------------------------------------
def make_videos() -> dict[str, str]:
    """Write the benchmark videos once (cached)."""
    import cv2

    from vidact.io import VideoReader
    from vidact.io.writer import write_video

    CACHE.mkdir(exist_ok=True)
    out = {}
    frames = None
    for name, (w, h) in RESOLUTIONS.items():
        path = CACHE / f"h264_{name}_gop{GOP}.mp4"
        if not path.exists():
            if frames is None:
                with VideoReader(SOURCE) as r:
                    frames = r.get_frames(np.arange(NUM_FRAMES) % len(r)).numpy()
            scaled = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in frames])
            write_video(path, scaled, fps=FPS, gop=GOP, crf=23)
        out[name] = str(path)
    return out


def clip_lists(n_clips: int, seed: int = 0) -> dict[str, list[list[int]]]:
    rng = np.random.default_rng(seed)
    span = (CLIP_LEN - 1) * STRIDE + 1
    dense = [list(range(s, s + span, STRIDE)) for s in rng.integers(0, NUM_FRAMES - span + 1, n_clips)]
    seg = NUM_FRAMES / CLIP_LEN
    spread = [[int(seg * k + rng.random() * seg) for k in range(CLIP_LEN)] for _ in range(n_clips)]
    return {"dense": dense, "spread": spread}


# -- one library, in its own process ----------------------------------------------------------------------------
def _short_side_size(w: int, h: int, s: int) -> tuple[int, int]:
    return (s, int(s * h / w)) if w <= h else (int(s * w / h), s)


def _readers(lib: str, path: str, short_side: int | None):
    """Callables ``read(indices) -> array`` for each variant of ``lib`` (the best variant is reported)."""
    import av

    with av.open(path) as c:
        s = c.streams.video[0]
        w, h = s.codec_context.width, s.codec_context.height
    tw, th = _short_side_size(w, h, short_side) if short_side else (w, h)
    variants = {}
    if lib == "naive_pyav":
        import torch
        import torch.nn.functional as F

        def naive(idx):
            with av.open(path) as c:
                frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
            clip = np.stack([frames[i] for i in idx])
            if short_side:
                t = torch.from_numpy(clip).permute(0, 3, 1, 2).float()
                t = F.interpolate(t, size=(th, tw), mode="bilinear", antialias=True)
                clip = t.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
            return clip

        variants["default"] = naive
    elif lib in ("vidact", "vidact_cold"):
        from vidact.io import VideoReader, probe

        meta = probe(path) if lib == "vidact" else None

        def make(threads):
            return lambda idx: VideoReader(
                path, metadata=meta, short_side=short_side, threads=threads
            ).get_frames(idx)

        variants["threads=auto"] = make(0)
        variants["threads=1"] = make(1)
    elif lib == "torchcodec":
        from torchcodec.decoders import VideoDecoder

        transforms = None
        if short_side:
            from torchcodec.transforms import Resize

            transforms = [Resize(size=(th, tw))]

        def make(threads, mode):
            return lambda idx: (
                VideoDecoder(
                    path,
                    seek_mode=mode,
                    num_ffmpeg_threads=threads,
                    dimension_order="NHWC",
                    transforms=transforms,
                )
                .get_frames_at(list(idx))
                .data
            )

        variants["exact,threads=1"] = make(1, "exact")
        variants["exact,threads=auto"] = make(0, "exact")
        variants["approximate,threads=auto"] = make(0, "approximate")
    elif lib in ("decord", "decord2"):
        import decord

        kw = {"width": tw, "height": th} if short_side else {}

        def make(threads):
            return lambda idx: (
                decord.VideoReader(path, num_threads=threads, **kw).get_batch(list(idx)).asnumpy()
            )

        variants["threads=auto"] = make(0)
        variants["threads=1"] = make(1)
    else:
        raise ValueError(lib)
    return variants, (tw, th)


def _sequential(lib: str, path: str):
    import av

    if lib == "naive_pyav":

        def run():
            with av.open(path) as c:
                s = c.streams.video[0]
                s.thread_type = "AUTO"
                return sum(1 for f in c.decode(s) if f.to_ndarray(format="rgb24") is not None)

    elif lib in ("vidact", "vidact_cold"):
        from vidact.io import VideoReader

        def run():
            with VideoReader(path) as r:
                return sum(1 for _ in r.iter_frames())

    elif lib == "torchcodec":
        from torchcodec.decoders import VideoDecoder

        def run():
            d = VideoDecoder(path, seek_mode="approximate", num_ffmpeg_threads=0, dimension_order="NHWC")
            return sum(
                b.data.shape[0]
                for b in (d.get_frames_in_range(a, min(a + 30, NUM_FRAMES)) for a in range(0, NUM_FRAMES, 30))
            )

    elif lib in ("decord", "decord2"):
        import decord

        def run():
            vr = decord.VideoReader(path, num_threads=0)
            return sum(vr.next().shape[0] > 0 for _ in range(len(vr)))

    else:
        raise ValueError(lib)
    return run


def worker(lib: str, videos: dict[str, str], n_clips: int, repeats: int) -> dict:
    clips = clip_lists(n_clips)
    out: dict = {"library": lib, "results": {}}
    if lib == "torchcodec":
        import torchcodec

        out["version"] = torchcodec.__version__
    elif lib.startswith("decord"):
        import decord

        out["version"] = decord.__version__
    else:
        import av

        ffmpeg = getattr(av, "ffmpeg_version_info", "?")  # a string ("8.0.1") in PyAV 14+, a tuple before
        ffmpeg = ffmpeg if isinstance(ffmpeg, str) else ".".join(map(str, ffmpeg))
        out["version"] = f"PyAV {av.__version__} (FFmpeg {ffmpeg})"
    for res, path in videos.items():
        for scenario in ("dense", "spread"):
            for short_side in (None, 256):
                if short_side and res == "256p":
                    continue  # already short side 256
                name = f"{scenario}{'_r256' if short_side else ''}"
                variants, size = _readers(lib, path, short_side)
                best = None
                per_variant = {}
                for vname, read in variants.items():
                    read(clips[scenario][0])  # warm-up (imports, first open)
                    rates = []
                    for _ in range(repeats):
                        t = time.perf_counter()
                        for idx in clips[scenario]:
                            clip = read(idx)
                        rates.append(len(clips[scenario]) / (time.perf_counter() - t))
                    assert tuple(np.asarray(clip).shape[-3:-1]) == (size[1], size[0]), (lib, name, clip.shape)
                    per_variant[vname] = statistics.median(rates)
                    if best is None or per_variant[vname] > per_variant[best]:
                        best = vname
                out["results"][f"{res}/{name}"] = {
                    "clips_per_s": per_variant[best],
                    "best_variant": best,
                    "variants": per_variant,
                }
        run = _sequential(lib, path)
        run()
        rates = []
        for _ in range(max(1, repeats - 1)):
            t = time.perf_counter()
            n = run()
            rates.append(n / (time.perf_counter() - t))
        out["results"][f"{res}/sequential"] = {"frames_per_s": statistics.median(rates)}
    return out


# -- where the time goes, and a DataLoader epoch ---------------------------------------------------------------
def breakdown(path: str, n_clips: int) -> dict:
    """Per dense clip at 720p: demux+decode only, + RGB conversion, + resize to short side 256."""
    from vidact.io import VideoReader, probe

    meta = probe(path)
    clips = clip_lists(n_clips)["dense"]

    def decode_only(idx):
        r = VideoReader(path, metadata=meta)
        r._pyav.decode(np.unique(idx), lambda pos, frame: None)

    def rgb(idx):
        VideoReader(path, metadata=meta).get_frames(idx)

    def rgb_resized(idx):
        VideoReader(path, metadata=meta, short_side=256).get_frames(idx)

    out = {}
    for name, fn in (("decode", decode_only), ("decode+rgb", rgb), ("decode+rgb+resize", rgb_resized)):
        fn(clips[0])
        t = time.perf_counter()
        for idx in clips:
            fn(idx)
        out[name] = (time.perf_counter() - t) / len(clips) * 1000
    return {
        "ms_per_clip": out,
        "decode_ms": out["decode"],
        "rgb_conversion_ms": out["decode+rgb"] - out["decode"],
        "resize_ms": out["decode+rgb+resize"] - out["decode+rgb"],
    }


def dataloader_epoch(n_videos: int, workers: int) -> dict:
    """One epoch over a class-folder set of 256p clips with ``workers`` DataLoader workers."""
    import shutil
    import tempfile

    import torch

    from vidact.data.datasets import VideoClipDataset, class_folders, collate_clips
    from vidact.data.sampling import ClipSampler
    from vidact.data.transforms import train_transform

    videos = make_videos()
    tmp = Path(tempfile.mkdtemp(prefix="vidact-bench-"))
    try:
        for i in range(n_videos):
            d = tmp / f"class{i % 4}"
            d.mkdir(exist_ok=True)
            os.symlink(videos["256p"], d / f"v{i:03d}.mp4")
        samples = class_folders(tmp)
        ds = VideoClipDataset(
            samples.samples,
            classes=samples.classes,
            sampler=ClipSampler.random(CLIP_LEN, STRIDE),
            transform=train_transform(size=224, short_side=256),
            cache_file=tmp / "index.json",
        )
        loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=workers, collate_fn=collate_clips)
        t = time.perf_counter()
        n = sum(batch["video"].shape[0] for batch in loader)
        dt = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp)
    return {"videos": n, "workers": workers, "seconds": dt, "clips_per_s": n / dt}


# -- driver ----------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer clips and repeats (smoke test)")
    ap.add_argument(
        "--libs",
        nargs="*",
        default=["naive_pyav", "vidact", "vidact_cold", "torchcodec", "decord", "decord2"],
    )
    ap.add_argument(
        "--decord-path", default=str(HERE / ".libs" / "decord"), help="pip --target dir of decord 0.6"
    )
    ap.add_argument(
        "--decord2-path", default=str(HERE / ".libs" / "decord2"), help="pip --target dir of decord2"
    )
    ap.add_argument("--out", default=str(HERE / "results" / "decode.json"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    n_clips, repeats = (6, 2) if args.quick else (20, 3)

    if args.worker:
        print(json.dumps(worker(args.worker, make_videos(), n_clips, repeats)))
        return

    videos = make_videos()
    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "setup": {
            "frames": NUM_FRAMES,
            "fps": FPS,
            "gop": GOP,
            "clip_len": CLIP_LEN,
            "stride": STRIDE,
            "clips_per_repeat": n_clips,
            "repeats": repeats,
            "videos": {k: os.path.basename(v) for k, v in videos.items()},
        },
        "libraries": {},
        "skipped": {},
    }
    for lib in args.libs:
        env = dict(os.environ)
        if lib in ("decord", "decord2"):
            extra = args.decord_path if lib == "decord" else args.decord2_path
            if not Path(extra).is_dir():
                report["skipped"][lib] = f"not installed (pip install --target {extra} ...)"
                continue
            env["PYTHONPATH"] = extra + os.pathsep + env.get("PYTHONPATH", "")
        print(f"[{lib}] running ...", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", lib] + (["--quick"] if args.quick else []),
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            report["skipped"][lib] = f"failed: {last}"
            print(f"[{lib}] skipped: {last}", file=sys.stderr)
            continue
        report["libraries"][lib] = json.loads(proc.stdout.strip().splitlines()[-1])
    report["breakdown_720p_dense"] = breakdown(videos["720p"], n_clips)
    report["dataloader_epoch"] = dataloader_epoch(16 if args.quick else 48, workers=2)

    # ratios the issue asks for
    libs = report["libraries"]
    ratios = {}
    if "vidact" in libs:
        for key, val in libs["vidact"]["results"].items():
            if "clips_per_s" not in val:
                continue
            v = val["clips_per_s"]
            r = {}
            if "naive_pyav" in libs:
                r["vs_naive"] = v / libs["naive_pyav"]["results"][key]["clips_per_s"]
            others = [
                (n, libs[n]["results"][key]["clips_per_s"])
                for n in ("torchcodec", "decord", "decord2")
                if n in libs
            ]
            if others:
                name, best = max(others, key=lambda x: x[1])
                r["fastest_other"] = name
                r["vs_fastest_other"] = v / best
            ratios[key] = r
    report["ratios"] = ratios
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(markdown_table(report))
    print(f"\nwrote {args.out}", file=sys.stderr)


def markdown_table(report: dict) -> str:
    libs = report["libraries"]
    order = [
        n for n in ("vidact", "vidact_cold", "naive_pyav", "torchcodec", "decord", "decord2") if n in libs
    ]
    keys = [k for k in next(iter(libs.values()))["results"] if not k.endswith("sequential")]
    lines = [
        "| scenario | " + " | ".join(order) + " | vidact / naive | vidact / fastest other |",
        "|---|" + "---|" * (len(order) + 2),
    ]
    for k in keys:
        cells = [f"{libs[n]['results'][k]['clips_per_s']:.2f}" for n in order]
        r = report["ratios"].get(k, {})
        vs_n = f"{r['vs_naive']:.1f}x" if "vs_naive" in r else "-"
        vs_o = f"{r['vs_fastest_other']:.2f}x ({r['fastest_other']})" if "vs_fastest_other" in r else "-"
        lines.append(f"| {k} (clips/s) | " + " | ".join(cells) + f" | {vs_n} | {vs_o} |")
    for res in RESOLUTIONS:
        k = f"{res}/sequential"
        cells = [f"{libs[n]['results'][k]['frames_per_s']:.0f}" for n in order]
        lines.append(f"| {k} (frames/s) | " + " | ".join(cells) + " | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
