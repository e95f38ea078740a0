"""``vidact info`` (what a video is) and ``vidact synth`` (write a synthetic dataset)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._output import console, fmt_int


def info(
    videos: Annotated[list[Path], typer.Argument(help="Video files, GIFs or folders of frames.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    fps: Annotated[
        float, typer.Option(help="Frame rate of a frame folder (folders do not store one).")
    ] = 30.0,
) -> None:
    """Show what a video is.

    Container, codec, size, fps, frame count (exact and estimated), duration, rotation, keyframe interval and
    audio streams.
    """
    from ..io import probe

    out = []
    for video in videos:
        meta = probe(video, fps=fps)
        out.append(meta)
    if as_json:
        payload = [m.to_json(with_index=False) for m in out]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    for m in out:
        t = Table(title=str(m.path), show_header=False, title_justify="left")
        t.add_column("field", style="bold")
        t.add_column("value")
        audio = ", ".join(f"{a.codec} {a.sample_rate} Hz {a.channels} ch" for a in m.audio_streams) or "none"
        rows = [
            ("container", m.container),
            ("codec", f"{m.codec} ({m.pixel_format})" if m.pixel_format else m.codec),
            ("resolution", f"{m.width}x{m.height}"),
            ("fps", f"{m.fps:.3f}"),
            ("frames (exact)", fmt_int(m.num_frames)),
            ("frames (estimated)", fmt_int(m.num_frames_estimated)),
            ("duration", f"{m.duration:.3f} s"),
            ("rotation", f"{m.rotation} deg"),
            (
                "keyframe interval",
                f"{m.keyframe_interval:.1f} frames ({m.num_keyframes} keyframes)"
                if m.keyframe_interval
                else "-",
            ),
            ("bit rate", f"{m.bit_rate / 1000:.0f} kb/s" if m.bit_rate else "-"),
            ("audio", audio),
        ]
        for k, v in rows:
            t.add_row(k, v)
        console.print(t)


def synth(
    root: Annotated[Path, typer.Argument(help="Output folder (created; must be empty unless --overwrite).")],
    kind: Annotated[
        str,
        typer.Option(
            help="'temporal' (time-reversed pairs) or 'scene' (scene-biased) videos; 'skeleton': joint "
            "trajectories (root/annotations.pkl, PYSKL's layout); 'untrimmed': long videos with several actions "
            "among background (root/videos, root/annotations.json in ActivityNet's layout)."
        ),
    ] = "temporal",
    train: Annotated[
        int, typer.Option(help="Videos per class in the train split (untrimmed: videos in all).")
    ] = 50,
    val: Annotated[
        int, typer.Option(help="Videos per class in the val split (untrimmed: videos in all).")
    ] = 10,
    test: Annotated[
        int, typer.Option(help="Videos per class in the test split (untrimmed: videos in all).")
    ] = 20,
    size: Annotated[int, typer.Option(help="Frame height and width in pixels.")] = 112,
    frames: Annotated[int, typer.Option(help="Frames per video.")] = 16,
    fps: Annotated[float, typer.Option(help="Frame rate written in the files.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same videos.")] = 0,
    noise: Annotated[float, typer.Option(help="Pixel noise standard deviation (fraction of 255).")] = 0.02,
    distractors: Annotated[int, typer.Option(help="Moving distractor objects per video.")] = 2,
    pairs: Annotated[
        list[str] | None, typer.Option("--pair", help="Temporal pairs to include (repeatable).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: one per core).")] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a folder written by an earlier `vidact synth`.")
    ] = False,
    dims: Annotated[
        int, typer.Option(help="Skeleton: 3 (camera-space metres) or 2 (pixels of a 1920x1080 image).")
    ] = 3,
    layout: Annotated[str, typer.Option(help="Skeleton: joint layout, ntu25 or coco17.")] = "ntu25",
    lengths: Annotated[
        tuple[int, int], typer.Option(help="Skeleton: shortest and longest sequence, frames at 30 fps.")
    ] = (48, 96),
    joint_noise: Annotated[
        float, typer.Option(help="Skeleton: joint jitter standard deviation, metres.")
    ] = 0.01,
    missing: Annotated[
        float, typer.Option(help="Skeleton: probability of a joint to be missing in a frame.")
    ] = 0.02,
    max_yaw: Annotated[
        float, typer.Option(help="Skeleton: largest turn of the body away from the camera, degrees.")
    ] = 60.0,
    duration: Annotated[
        tuple[float, float], typer.Option(help="Untrimmed: shortest and longest video, seconds.")
    ] = (30.0, 60.0),
    action_duration: Annotated[
        tuple[float, float], typer.Option(help="Untrimmed: shortest and longest action, seconds.")
    ] = (1.0, 8.0),
) -> None:
    """Write a synthetic action dataset.

    kind=temporal: videos (root/<split>/<class>/*.mp4) that per-frame models cannot solve; kind=scene: videos
    that one frame solves; kind=skeleton: skeleton sequences of actions that differ only in motion, two pairs of
    them time-reversed; kind=untrimmed: long videos with action instances among background, for temporal
    detection (ground truth in ActivityNet's JSON).
    """
    if kind == "untrimmed":
        from ..data.synth.untrimmed import synthesize_untrimmed

        made = synthesize_untrimmed(
            root,
            videos={"train": train, "val": val, "test": test},
            duration=duration,
            action_duration=action_duration,
            fps=fps,
            size=size,
            seed=seed,
            noise=noise,
            distractors=distractors,
            pairs=pairs,
            workers=workers,
            overwrite=overwrite,
        )
        console.print(
            f"wrote {made.num_videos} untrimmed videos with {sum(made.instances.values())} actions of "
            f"{len(made.classes)} classes to {made.root} (ground truth: {made.annotations})",
            soft_wrap=True,
        )
        return
    if kind == "skeleton":
        from ..data.synth.skeleton import synthesize_skeletons

        if pairs:
            raise ConfigError("--pair chooses pairs of videos; it does not apply to --kind skeleton")
        made = synthesize_skeletons(
            root,
            samples_per_class={"train": train, "val": val, "test": test},
            layout=layout,
            dims=dims,  # type: ignore[arg-type]
            frames=lengths,
            noise=joint_noise,
            missing=missing,
            max_yaw=max_yaw,
            seed=seed,
            overwrite=overwrite,
        )
        console.print(
            f"wrote {made.num_samples} skeleton sequences of {len(made.classes)} classes to {made.annotations}",
            soft_wrap=True,
        )
        return
    from ..data.synth import synthesize

    written = synthesize(
        root,
        kind,  # type: ignore[arg-type]
        videos_per_class={"train": train, "val": val, "test": test},
        size=size,
        frames=frames,
        fps=fps,
        seed=seed,
        noise=noise,
        distractors=distractors,
        pairs=pairs,
        workers=workers,
        overwrite=overwrite,
    )
    # soft_wrap: a long path stays on one line in a pipe or a log (rich would break it at 80 columns)
    console.print(
        f"wrote {written.num_videos} videos of {len(written.classes)} classes to {written.root}",
        soft_wrap=True,
    )
