"""One clip in memory: :func:`render_clip` draws a class's action over its background; :func:`clip_rng` is the
generator of each video of a dataset."""

from __future__ import annotations

import hashlib
import numbers
from typing import Literal

import numpy as np

from ...errors import ConfigError
from .actions import _ACTORS, _PAIR_OF_CLASS, TEMPORAL_CLASSES, TEMPORAL_PAIRS, _draw_distractors
from .scenes import _SCENES, SCENE_CLASSES, _plain_background, _scene_background

__all__ = ["Kind", "render_clip", "clip_rng"]

Kind = Literal["temporal", "scene"]


# -- clips -----------------------------------------------------------------------------------------------------


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, numbers.Integral) else size
    if height < 16 or width < 16 or height % 2 or width % 2:
        raise ConfigError(f"size must be even and at least 16 pixels (H.264 needs even sides), got {size}")
    return int(height), int(width)


def render_clip(
    kind: Kind,
    class_name: str,
    rng: np.random.Generator,
    *,
    size: int | tuple[int, int] = 112,
    frames: int = 16,
    noise: float = 0.02,
    distractors: int = 2,
) -> np.ndarray:
    """Draw one clip of ``class_name`` in memory.

    A temporal clip of the second class of a pair is the clip the first class would get from the same ``rng``
    state, reversed in time (noise included): ``render_clip(k, "shooing", rng_a)`` equals
    ``render_clip(k, "beckoning", rng_b)[::-1]`` when ``rng_a`` and ``rng_b`` start in the same state.

    Args:
        kind: ``"temporal"`` (a class of :data:`TEMPORAL_CLASSES`) or ``"scene"`` (one of :data:`SCENE_CLASSES`).
        class_name: the class to draw.
        rng: the source of all randomness in the clip (see :func:`clip_rng`).
        size: frame side in pixels, or ``(height, width)``; even, at least 16.
        frames: number of frames ``T``.
        noise: standard deviation of the Gaussian pixel noise, as a fraction of the 0-255 range.
        distractors: number of small shapes bouncing around behind the action.

    Returns:
        [T, H, W, 3] uint8 RGB frames.

    Raises:
        ConfigError: unknown kind or class, or a size, frame count, noise or distractor count out of range.
    """
    height, width = _check_size(size)
    if frames < 2:
        raise ConfigError(f"frames must be at least 2, got {frames}")
    if noise < 0 or distractors < 0:
        raise ConfigError(f"noise and distractors must be non-negative, got {noise} and {distractors}")
    if kind == "temporal":
        if class_name not in _PAIR_OF_CLASS:
            raise ConfigError(
                f"unknown temporal class {class_name!r}; choose from {', '.join(TEMPORAL_CLASSES)}"
            )
        pair, reverse = _PAIR_OF_CLASS[class_name]
        background = _plain_background(rng, height, width)
    elif kind == "scene":
        if class_name not in _SCENES:
            raise ConfigError(f"unknown scene class {class_name!r}; choose from {', '.join(SCENE_CLASSES)}")
        background = _scene_background(rng, class_name, height, width)
        pair = list(TEMPORAL_PAIRS)[rng.integers(len(TEMPORAL_PAIRS))]
        reverse = bool(rng.integers(2))
    else:
        raise ConfigError(f"unknown synthetic dataset kind {kind!r}; choose 'temporal' or 'scene'")
    video = np.repeat(background[None], frames, axis=0)
    _draw_distractors(rng, video, distractors)
    _ACTORS[pair](rng, video, background.reshape(-1, 3).mean(axis=0))
    if noise > 0:
        noisy = video + rng.standard_normal(video.shape, dtype=np.float32) * np.float32(255 * noise)
        video = np.clip(noisy.round(), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(video[::-1]) if reverse else video


def clip_rng(seed: int, split: str, class_name: str, index: int) -> np.random.Generator:
    """The generator of video ``index`` of ``class_name`` in ``split``: a function of these four values only."""
    if seed < 0 or index < 0:
        raise ConfigError(f"seed and index must be non-negative, got {seed} and {index}")
    key = hashlib.blake2b(f"{split}/{class_name}".encode(), digest_size=8).digest()
    return np.random.default_rng(np.random.SeedSequence([seed, int.from_bytes(key, "little"), index]))
