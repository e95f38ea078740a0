"""Charts of a :class:`~vidact.infer.predict.Prediction` over time (``vidact predict --plot``).

    >>> plot_timeline(prediction, "timeline.png", top=5)

For a per-frame model the chart is the "flicker" chart: the probabilities of the video's top classes frame by
frame, which shows how much a model that looks at one frame at a time changes its mind. For a clip model it is
the probabilities of those classes window by window, each point at its window's centre. Figures are drawn with
matplotlib's Agg renderer (no display, no pyplot state) and written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._atomic import atomic_write
from .predict import Prediction

__all__ = ["plot_timeline", "plot_pose_overlay", "plot_detections"]


def plot_timeline(prediction: Prediction, path: str | os.PathLike, top: int = 5) -> None:
    """Draw the top ``top`` classes' probabilities over time and save the chart as a PNG at ``path``.

    Per-frame probabilities (``prediction.frame_scores``) when the prediction has them, else per-window ones.
    """
    classes = prediction.top(top)
    indices = [prediction.classes.index(label) for label, _ in classes]
    if prediction.frame_scores is not None and prediction.frame_times is not None:
        times, scores = prediction.frame_times, prediction.frame_scores
        title, marker = "per-frame class probabilities", None
    else:
        times, scores = prediction.windows.mean(axis=1), prediction.window_scores
        title, marker = "per-window class probabilities (at window centres)", "o"
    figure = Figure(figsize=(10, 4), layout="constrained")
    axes = figure.add_subplot()
    for (label, score), k in zip(classes, indices, strict=True):
        axes.plot(
            times, scores[:, k], marker=marker, markersize=3, linewidth=1.2, label=f"{label} ({score:.2f})"
        )
    axes.set(
        xlabel="time (s)", ylabel="probability", ylim=(0.0, 1.0), xlim=(0.0, float(prediction.windows[-1, 1]))
    )
    axes.set_title(f"{Path(prediction.video).name}: {title}", loc="left")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="video top classes", fontsize="small")
    _save_png(figure, Path(path))


def _save_png(figure: Figure, path: Path) -> None:
    """``figure.savefig`` to a temporary file beside ``path``, then a rename over it."""
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=100)


def plot_pose_overlay(
    frames: np.ndarray,
    joints: np.ndarray,
    found: np.ndarray,
    layout: str,
    path: str | os.PathLike,
    *,
    titles: list[str] | None = None,
    scores: np.ndarray | None = None,
    min_score: float = 0.3,
) -> None:
    """Frames side by side with the skeletons found in them drawn on top, saved as a PNG at ``path``.

    Args:
        frames: [F, H, W, 3] uint8 RGB frames.
        joints: [F, M, V, 2] pixel coordinates of each frame's persons (hands) in ``layout``.
        found: [F, M] bool: which persons were found (the others are not drawn).
        layout: the skeleton layout (:func:`~vidact.data.skeleton.get_layout`), whose bones are drawn.
        titles: one caption per frame.
        scores: [F, M, V] joint scores; joints below ``min_score`` (and their bones) are not drawn.
    """
    from ..data.skeleton import get_layout

    skeleton = get_layout(layout)
    count = len(frames)
    height, width = frames.shape[1:3]
    figure = Figure(figsize=(3.2 * count, 3.2 * height / width + 0.4), layout="constrained")
    colours = ("#ff3b30", "#30d158", "#0a84ff", "#ffd60a")
    for f in range(count):
        axes = figure.add_subplot(1, count, f + 1)
        axes.imshow(frames[f])
        axes.set_axis_off()
        if titles is not None:
            axes.set_title(titles[f], fontsize="small")
        for m in range(joints.shape[1]):
            if not found[f, m]:
                continue
            xy = joints[f, m]
            visible = np.ones(len(xy), dtype=bool) if scores is None else scores[f, m] >= min_score
            colour = colours[m % len(colours)]
            for child, parent in skeleton.edges:
                if visible[child] and visible[parent]:
                    axes.plot(xy[[child, parent], 0], xy[[child, parent], 1], color=colour, linewidth=1.5)
            axes.scatter(
                xy[visible, 0], xy[visible, 1], s=6, color="white", edgecolors=colour, linewidths=0.6
            )
        axes.set(xlim=(0, width), ylim=(height, 0))
    _save_png(figure, Path(path))


def plot_detections(
    found: Any,
    path: str | os.PathLike,
    *,
    ground_truth: Sequence[tuple[float, float, str]] | None = None,
    thumbnails: int = 8,
    min_score: float = 0.0,
) -> None:
    """A timeline of detected actions under a strip of the video's frames, saved as a PNG at ``path``
    (``vidact detect --plot``).

    Args:
        found: a :class:`~vidact.infer.detect.VideoDetections` (its ``video``, ``duration`` and ``detections``).
        ground_truth: ``(start, end, label)`` of the true actions, drawn on a row of their own.
        thumbnails: frames in the strip, evenly spaced in time (each under its time).
        min_score: detections below it are not drawn.
    """
    from ..io import VideoReader

    duration = max(float(found.duration), 1e-6)
    times = (np.arange(thumbnails) + 0.5) * duration / thumbnails
    frames = VideoReader(found.video, short_side=96).get_frames_at(times).numpy()  # [N, H, W, 3] uint8
    shown = [d for d in found.detections if d.score >= min_score]
    labels = sorted({d.label for d in shown} | {label for _, _, label in ground_truth or ()})
    colours = {label: _PALETTE[i % len(_PALETTE)] for i, label in enumerate(labels)}
    rows = max(len(shown), 1)
    figure = Figure(figsize=(12, 2.2 + 0.22 * rows + (0.5 if ground_truth else 0.0)), layout="constrained")
    strip_axes, axes = figure.subplots(
        2, 1, height_ratios=[1.6, 0.25 * rows + (0.6 if ground_truth else 0.2)], sharex=True
    )
    height, width = frames.shape[1:3]
    span = duration / thumbnails
    for t, frame in zip(times, frames, strict=True):
        strip_axes.imshow(frame, extent=(t - span / 2, t + span / 2, 0, span * height / width), aspect="auto")
    strip_axes.set(ylim=(0, span * height / width), yticks=[])
    strip_axes.set_title(f"{Path(found.video).name}: {len(shown)} detected actions", loc="left")
    # the detections, best first from the top; the ground truth on the bottom row
    order = sorted(shown, key=lambda d: -d.score)
    for row, d in enumerate(order):
        y = rows - row
        axes.barh(
            y, d.end - d.start, left=d.start, height=0.8, color=colours[d.label], alpha=0.35 + 0.65 * d.score
        )
        axes.text(d.start, y, f" {d.label} {d.score:.2f}", va="center", fontsize="x-small")
    ticks, names = [], []
    if ground_truth:
        for start, end, label in ground_truth:
            axes.barh(
                0, end - start, left=start, height=0.8, color=colours[label], hatch="//", edgecolor="black"
            )
            axes.text(start, 0, f" {label}", va="center", fontsize="x-small")
        ticks, names = [0], ["ground truth"]
    axes.set(xlim=(0, duration), xlabel="time (s)", ylim=(-0.6 if ground_truth else 0.4, rows + 0.6))
    axes.set_yticks(ticks, names)
    axes.grid(axis="x", alpha=0.3)
    _save_png(figure, Path(path))


_PALETTE = ("#0a84ff", "#ff9f0a", "#30d158", "#ff375f", "#bf5af2", "#64d2ff", "#ffd60a", "#ac8e68")
