"""Page 9, "Clip sampling": which frames of a video a model sees, by each of vidact's samplers.

``GET /api/sampling/indices`` runs :mod:`vidact.data.sampling`'s own functions on a video of ``num_frames``
frames and returns the indices they give, one row per clip; the page draws exactly these. The random samplers
(TSN training offsets, a random clip) draw from ``numpy.random.default_rng(seed)``: the page's Resample button
asks again with a new seed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from . import Page, register_page
from ._common import heavy

__all__ = ["sample_all", "router"]

router = APIRouter(dependencies=[Depends(heavy("numpy", "vidact.data.sampling"))])


def _rows(indices: Any) -> list[list[int]]:
    """Indices [T] or [K, T] (an int array) -> K rows of ints (one row for a single clip)."""
    import numpy as np

    array = np.asarray(indices, dtype=np.int64)
    return (array[None] if array.ndim == 1 else array).tolist()


def sample_all(
    num_frames: int, clip_len: int, stride: int, num_segments: int, num_clips: int, seed: int
) -> dict[str, Any]:
    """The frames each sampler of :mod:`vidact.data.sampling` takes from a video of ``num_frames`` frames.

    Args:
        num_frames: the video's length in frames.
        clip_len: frames per clip (random, dense and multi-clip samplers).
        stride: the step between a clip's frames.
        num_segments: TSN segments (one frame from each).
        num_clips: multi-clip test views.
        seed: seeds ``numpy.random.default_rng`` for the random samplers.

    Returns:
        ``{"num_frames", "seed", "span", "methods": [{"name", "label", "call", "random", "clips": [[int]]}]}``:
        per sampler its rows of frame indices (one per clip), as vidact returns them.
    """
    import numpy as np

    from ....data.sampling import (  # imported here: torch comes with it, and `vidact explore` starts fast
        clip_span,
        dense_indices,
        multi_clip_indices,
        random_clip_indices,
        segment_indices,
    )

    rng = np.random.default_rng(seed)
    methods = [
        {
            "name": "tsn_train",
            "label": "uniform (TSN), training: a random frame in each segment",
            "call": f"segment_indices({num_frames}, {num_segments}, rng=default_rng({seed}))",
            "random": True,
            "clips": _rows(segment_indices(num_frames, num_segments, rng=rng)),
        },
        {
            "name": "tsn_test",
            "label": "uniform (TSN), test: the centre of each segment",
            "call": f"segment_indices({num_frames}, {num_segments})",
            "random": False,
            "clips": _rows(segment_indices(num_frames, num_segments)),
        },
        {
            "name": "random",
            "label": "random clip: consecutive frames from a random start",
            "call": f"random_clip_indices({num_frames}, {clip_len}, {stride}, rng=default_rng({seed}))",
            "random": True,
            "clips": _rows(random_clip_indices(num_frames, clip_len, stride, rng=rng)),
        },
        {
            "name": "dense",
            "label": "dense: clips back to back over the whole video",
            "call": f"dense_indices({num_frames}, {clip_len}, {stride})",
            "random": False,
            "clips": _rows(dense_indices(num_frames, clip_len, stride)),
        },
        {
            "name": "multi_clip",
            "label": f"multi-clip test: {num_clips} evenly spaced clips, scores averaged",
            "call": f"multi_clip_indices({num_frames}, {clip_len}, {stride}, {num_clips})",
            "random": False,
            "clips": _rows(multi_clip_indices(num_frames, clip_len, stride, num_clips)),
        },
    ]
    return {
        "num_frames": num_frames,
        "seed": seed,
        "span": clip_span(clip_len, stride),
        "methods": methods,
    }


@router.get("/indices")
def indices(
    num_frames: Annotated[int, Query(ge=1, le=512)] = 32,
    clip_len: Annotated[int, Query(ge=1, le=128)] = 8,
    stride: Annotated[int, Query(ge=1, le=32)] = 2,
    num_segments: Annotated[int, Query(ge=1, le=64)] = 8,
    num_clips: Annotated[int, Query(ge=1, le=32)] = 4,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    """The indices of every sampler (:func:`sample_all`)."""
    return sample_all(num_frames, clip_len, stride, num_segments, num_clips, seed)


register_page(
    Page(
        slug="sampling",
        title="Clip sampling",
        summary="Uniform (TSN), random, dense and multi-clip sampling on a timeline, from vidact's samplers.",
        order=9,
        router=router,
    )
)
