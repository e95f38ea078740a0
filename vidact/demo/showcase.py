"""Real clips through the real skeleton models: what vidact says about real people in real video, with no
training and no download (``vidact demo``'s "real video" section, the README's table).

    >>> results = run_real_clips("../shared/data", "demo_out/real")
    >>> results["clips"][0]["top"][0]                                  # {"label": "drink water", "score": 0.63}

Every clip with a person in it under ``<data>/videos`` goes through MediaPipe and one model
(:func:`~vidact.infer.skeleton.predict_skeleton`): whole bodies (Kinetics, NTU RGB+D, UCF-101, the unlabelled
street scenes) through ``efficientgcn_b0.ntu60`` (NTU-60's 60 daily actions), signing hands (the ASL clips)
through ``stgcnpp_hand.hagrid`` (HaGRID's 40 hand gestures). Neither model was trained on these clips' classes
except NTU's own: the table is what the models say, not an accuracy. The one NTU clip is performer P001, a
training subject of the cross-subject split: the model saw this clip's Kinect skeleton in training, never a
MediaPipe one.

Per clip it writes a pose overlay (three frames with the skeleton drawn) and a timeline chart; for all of them
``real_clips.json`` and ``real_clips.md`` (the table).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_json, write_text
from ..errors import CheckpointError, ConfigError

__all__ = [
    "RealClip",
    "BODY_MODEL",
    "HAND_MODEL",
    "find_real_clips",
    "ensure_shared_weights",
    "run_real_clips",
    "markdown_table",
]

BODY_MODEL = "efficientgcn_b0.ntu60"
HAND_MODEL = "stgcnpp_hand.hagrid"

#: The files of ``<data>/skeleton/pretrained`` that are these weights (the catalogue checks their hashes).
SHARED_WEIGHTS = {
    BODY_MODEL: "efficientgcn_b0_ntu60_xsub.pth.tar",
    HAND_MODEL: "pyskl_stgcnpp_hagrid_hand.pth",
}

#: (folder, glob, model, how the file name gives the clip's label)
_SOURCES = (
    ("ntu", "*.avi", BODY_MODEL, "ntu"),
    ("kinetics", "*.mp4", BODY_MODEL, "name"),
    ("ucf101", "*.avi", BODY_MODEL, "ucf"),
    ("ucf101", "*_rgb.gif", BODY_MODEL, "ucf"),
    ("misc", "*", BODY_MODEL, None),
    ("asl", "*.mkv", HAND_MODEL, "name"),
)


@dataclass(frozen=True)
class RealClip:
    """One real clip and the model it goes through.

    Attributes:
        path: the video.
        dataset: the folder it comes from (``kinetics``, ``ntu``, ``asl``, ...).
        truth: its label as its data set names it (``None``: unlabelled).
        model: the published weights it goes through.
    """

    path: Path
    dataset: str
    truth: str | None
    model: str


def _truth(path: Path, how: str | None) -> str | None:
    stem = path.stem
    if how == "ntu":  # S001C001P001R001A001_drink_water
        return stem.split("_", 1)[1].replace("_", " ") if "_" in stem else None
    if how == "ucf":  # v_CricketShot_g04_c01_rgb, apply_eye_makeup
        name = re.sub(r"^v_|_g\d+_c\d+.*$", "", stem)
        return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").lower()
    if how == "name":  # tai_chi_2 -> tai chi
        return re.sub(r"_\d+$", "", stem).replace("_", " ")
    return None


def find_real_clips(data: str | os.PathLike) -> list[RealClip]:
    """The clips with people in them under ``<data>/videos``, each with its model (see the module docstring)."""
    videos = Path(data) / "videos"
    clips = []
    for folder, pattern, model, how in _SOURCES:
        for path in sorted((videos / folder).glob(pattern)):
            if path.is_file():
                clips.append(RealClip(path, folder, _truth(path, how), model))
    return clips


def ensure_shared_weights(data: str | os.PathLike) -> list[str]:
    """Register the pretrained skeleton files of ``<data>/skeleton/pretrained`` in the weights cache, as
    ``vidact weights add`` would (hash-checked, copied once). Returns the names now available."""
    from ..models import hub

    ready = []
    for name, filename in SHARED_WEIGHTS.items():
        weights = hub.get_weights(name)
        if not hub.is_cached(weights):
            source = Path(data) / "skeleton" / "pretrained" / filename
            if not source.is_file():
                continue
            hub.add(name, [source])
        ready.append(name)
    return ready


def _overlay(clip: RealClip, prediction: Any, path: Path, count: int = 3) -> None:
    """Three frames where the pose was found, with the skeleton drawn (the layout MediaPipe gave)."""
    from ..infer.plot import plot_pose_overlay
    from ..io import VideoReader

    pose = prediction.pose
    found = np.asarray(pose["found"])  # [M, T]
    frames_with = np.flatnonzero(found.any(axis=0))
    if frames_with.size == 0:
        frames_with = np.arange(found.shape[1])
    picks = frames_with[
        np.linspace(0, frames_with.size - 1, min(count, frames_with.size)).round().astype(int)
    ]
    index = np.asarray(pose.get("frame_index", np.arange(found.shape[1])))[picks]
    with VideoReader(clip.path) as reader:
        images = reader.get_frames(index.tolist()).numpy()  # [F, H, W, 3]
    joints = np.asarray(pose["keypoint"])[:, picks].transpose(1, 0, 2, 3)  # [F, M, V, 2]
    times = np.asarray(pose.get("timestamps", index / 30.0))[picks]
    plot_pose_overlay(
        images,
        joints,
        found[:, picks].T,
        pose["layout"],
        path,
        titles=[f"{t:.1f} s" for t in times],
        scores=np.asarray(pose["keypoint_score"])[:, picks].transpose(1, 0, 2),
    )


def run_real_clips(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    clips: list[RealClip] | None = None,
    top: int = 5,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every real clip through its skeleton model; writes the overlays, the timelines, ``real_clips.json`` and
    ``real_clips.md`` into ``out``.

    Args:
        data: the shared data folder (``videos/`` and ``skeleton/pretrained/`` in it).
        out: the output folder.
        clips: the clips (default :func:`find_real_clips`).
        top: labels kept per clip.

    Returns:
        ``{"clips": [{"video", "dataset", "truth", "model", "top": [{"label", "score"}], "timeline",
        "found_fraction", "seconds", "overlay", "timeline_png"}], "failures": [...], "models": [...]}``.

    Raises:
        ConfigError: MediaPipe is not installed, or neither model's weights can be had.
    """
    from ..infer.plot import plot_timeline
    from ..infer.predict import load_predictor
    from ..infer.skeleton import predict_skeleton
    from ..pose import import_mediapipe

    import_mediapipe()  # the one-line install hint, before any work
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ensure_shared_weights(data)
    clips = find_real_clips(data) if clips is None else clips
    predictors: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    rows, failures = [], []
    for i, clip in enumerate(clips, 1):
        if clip.model in unavailable:
            failures.append({"video": str(clip.path), "error": unavailable[clip.model]})
            continue
        if clip.model not in predictors:
            try:
                predictors[clip.model] = load_predictor(clip.model, progress=progress)
            except (CheckpointError, ConfigError) as error:
                unavailable[clip.model] = str(error)
                failures.append({"video": str(clip.path), "error": str(error)})
                log(f"      {clip.model}: {error}")
                continue
        predictor = predictors[clip.model]
        started = time.perf_counter()
        try:
            prediction = predict_skeleton(predictor, clip.path, progress=progress)
        except Exception as error:  # noqa: BLE001 (a batch job lists failures and goes on)
            failures.append({"video": str(clip.path), "error": str(error).splitlines()[0]})
            log(f"      {clip.path.name}: failed: {error}")
            continue
        seconds = time.perf_counter() - started
        stem = f"{clip.dataset}_{clip.path.stem}"
        overlay, timeline = out / f"{stem}_pose.png", out / f"{stem}_timeline.png"
        _overlay(clip, prediction, overlay)
        plot_timeline(prediction, timeline, top=min(top, 3))
        summary = prediction.to_json(top)
        rows.append(
            {
                "video": str(clip.path),
                "dataset": clip.dataset,
                "truth": clip.truth,
                "model": clip.model,
                "top": summary["top"],
                "timeline": summary["timeline"],
                "found_fraction": prediction.found_fraction,
                "frames": int(prediction.pose["total_frames"]),
                "seconds": round(seconds, 2),
                "overlay": overlay.name,
                "timeline_png": timeline.name,
            }
        )
        best = summary["top"][0]
        log(
            f"      [{i}/{len(clips)}] {clip.path.name}: {best['label']} ({best['score']:.2f}); person found in "
            f"{prediction.found_fraction:.0%} of {rows[-1]['frames']} frames"
        )
    result = {"models": sorted(predictors), "clips": rows, "failures": failures}
    write_json(result, out / "real_clips.json")
    write_text(out / "real_clips.md", markdown_table(rows))
    return result


def markdown_table(rows: list[dict[str, Any]], top: int = 3) -> str:
    """The README's table: clip, its label, the model, what the model says (top ``top``), frames found."""
    lines = [
        "| clip | its label | model | what the model says (top 3) | pose found |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        says = ", ".join(f"{t['label']} {t['score']:.2f}" for t in row["top"][:top])
        truth = row["truth"] if row["truth"] is not None else "(unlabelled)"
        name = f"{row['dataset']}/{Path(row['video']).name}"
        lines.append(
            f"| {name} | {truth} | {row['model']} | {says} | {row['found_fraction']:.0%} of {row['frames']} |"
        )
    return "\n".join(lines) + "\n"
