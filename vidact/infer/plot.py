"""Charts of a :class:`~vidact.infer.predict.Prediction` over time (``vidact predict --plot``).

    >>> plot_timeline(prediction, "timeline.png", top=5)

For a per-frame model the chart is the "flicker" chart: the probabilities of the video's top classes frame by
frame, which shows how much a model that looks at one frame at a time changes its mind. For a clip model it is
the probabilities of those classes window by window, each point at its window's centre. Figures are drawn with
matplotlib's Agg renderer (no display, no pyplot state) and written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .._atomic import atomic_write
from .predict import Prediction

__all__ = ["plot_timeline", "plot_pose_overlay"]


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
