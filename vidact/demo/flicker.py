"""The "flicker" numbers: frame by frame, what a per-frame model believes, next to a clip-level answer.

A per-frame model (2D CNN per frame, scores averaged) can only judge poses: on a clip and the same clip played
backwards its belief swings from frame to frame and its average is the same for both; a temporal model sees the
order and answers once, differently for each. :func:`flicker` reads those numbers off any
:class:`~vidact.infer.predict.Prediction` (``predict_video(..., frame_scores=True)`` gives a per-frame model's
frame scores); :func:`flicker_pair` scores one test clip of a time-reversed pair and its reversal with both
models, as the demo's report shows them (a web explorer can show the same numbers for any video).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..infer.predict import Prediction, Predictor

__all__ = ["Flicker", "flicker", "FlickerClip", "flicker_pair"]


@dataclass(frozen=True)
class Flicker:
    """One model's beliefs about a video, restricted to a few classes.

    Attributes:
        model: the model's name.
        classes: the C classes followed.
        frame_times: [F] seconds of each frame the model scored on its own (a per-frame model's frames); [0]
            for a model that scores whole clips only.
        frame_probs: [F, C] float32 those frames' probabilities of ``classes``; [0, C] for a clip model.
        clip_probs: [C] float32 the whole video's probabilities of ``classes`` (the windows' mean).
        top: the whole video's best label, among all the model's classes.
    """

    model: str
    classes: tuple[str, ...]
    frame_times: np.ndarray
    frame_probs: np.ndarray
    clip_probs: np.ndarray
    top: str

    @property
    def per_frame(self) -> bool:
        """Whether the model scored frames one by one (``frame_probs`` has rows)."""
        return len(self.frame_times) > 0

    def to_json(self) -> dict[str, Any]:
        """``{"model", "top", "clip_probs": {class: p}, "frame_times": [...], "frame_probs": {class: [...]}}``,
        probabilities rounded to 3 decimals (the frame entries only for a per-frame model)."""
        out: dict[str, Any] = {
            "model": self.model,
            "top": self.top,
            "clip_probs": {c: round(float(p), 3) for c, p in zip(self.classes, self.clip_probs, strict=True)},
        }
        if self.per_frame:
            out["frame_times"] = [round(float(t), 4) for t in self.frame_times]
            out["frame_probs"] = {
                c: self.frame_probs[:, i].astype(np.float64).round(3).tolist()
                for i, c in enumerate(self.classes)
            }
        return out


def flicker(prediction: Prediction, classes: Sequence[str]) -> Flicker:
    """The numbers of the flicker chart for ``classes``, from one prediction.

    Args:
        prediction: from :func:`~vidact.infer.predict.predict_video`; with ``frame_scores=True`` and a
            per-frame model, it carries every scored frame's probabilities.
        classes: the class names to follow (each one of the prediction's classes).

    Raises:
        ConfigError: a class the model does not know.
    """
    unknown = [c for c in classes if c not in prediction.classes]
    if unknown:
        raise ConfigError(f"{prediction.model} has no class {', '.join(map(repr, unknown))}")
    columns = [prediction.classes.index(c) for c in classes]
    if prediction.frame_scores is None or prediction.frame_times is None:
        frame_times = np.zeros(0, dtype=np.float64)
        frame_probs = np.zeros((0, len(columns)), dtype=np.float32)
    else:
        frame_times = np.asarray(prediction.frame_times, dtype=np.float64)
        frame_probs = np.asarray(prediction.frame_scores, dtype=np.float32)[:, columns]
    return Flicker(
        model=prediction.model,
        classes=tuple(classes),
        frame_times=frame_times,
        frame_probs=frame_probs,
        clip_probs=np.asarray(prediction.scores, dtype=np.float32)[columns],
        top=prediction.top(1)[0][0],
    )


@dataclass(frozen=True)
class FlickerClip:
    """One clip of the flicker chart and what both models say about it.

    Attributes:
        name: the clip's class.
        video: the clip's file.
        frames: [T, H, W, 3] uint8 the clip as rendered.
        per_frame: the per-frame model's :class:`Flicker` (every frame scored).
        temporal: the temporal model's :class:`Flicker` (the clip as one window).
    """

    name: str
    video: Path
    frames: np.ndarray
    per_frame: Flicker
    temporal: Flicker


def flicker_pair(
    per_frame_run: str | os.PathLike | Predictor,
    temporal_run: str | os.PathLike | Predictor,
    pair: str,
    out: str | os.PathLike,
    *,
    size: int,
    frames: int,
    fps: float,
    seed: int,
    index: int = 0,
) -> list[FlickerClip]:
    """One test clip of each class of a time-reversed pair through a per-frame and a temporal model.

    Both clips come from the pair's forward class's generator at the same index (``clip_rng(seed, "test",
    forward, index)``), so the second is the first played backwards. Each is written to ``out/<class>.mp4`` and
    predicted from the file as ``vidact predict`` would: the per-frame model with windows as long as its clip
    (so that every frame is scored once), the temporal model with one window over the whole clip.

    Args:
        per_frame_run, temporal_run: run directories (or checkpoints) of the two models, trained on the pair's
            classes, or the predictors loaded from them (:func:`~vidact.infer.predict.load_predictor`).
        pair: a key of :data:`~vidact.data.synth.TEMPORAL_PAIRS`.
        out: folder for the two videos.
        size, frames, fps: the clips' side in pixels, length in frames and frame rate (the training data's).
        seed: the synthetic dataset's seed.
        index: which test clip of the forward class.

    Raises:
        ConfigError: an unknown pair, or models that do not know its classes.
    """
    from ..data.synth import TEMPORAL_PAIRS, clip_rng, render_clip
    from ..infer.predict import load_predictor, predict_video
    from ..io.writer import write_video

    if pair not in TEMPORAL_PAIRS:
        raise ConfigError(f"unknown temporal pair {pair!r}; choose from {', '.join(TEMPORAL_PAIRS)}")
    forward, backward = TEMPORAL_PAIRS[pair]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_frame = (
        load_predictor(per_frame_run) if isinstance(per_frame_run, (str, os.PathLike)) else per_frame_run
    )
    temporal = load_predictor(temporal_run) if isinstance(temporal_run, (str, os.PathLike)) else temporal_run
    duration = frames / fps
    frame_window = min(duration, per_frame.spec.frames / fps)  # a video spec: frames per clip
    clips = []
    for name in (forward, backward):
        rendered = render_clip(
            "temporal", name, clip_rng(seed, "test", forward, index), size=size, frames=frames
        )
        video = out / f"{name}.mp4"
        write_video(video, rendered, fps)
        pf = predict_video(per_frame, video, window=frame_window, stride=frame_window, frame_scores=True)
        tm = predict_video(temporal, video, window=duration, stride=duration)
        clips.append(
            FlickerClip(
                name, video, rendered, flicker(pf, (forward, backward)), flicker(tm, (forward, backward))
            )
        )
    return clips
