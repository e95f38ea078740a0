"""Page 3, "Two-stream fusion": an RGB and an optical-flow network's real Kinetics-400 scores fused with a weight
w, and the optical flow of a real clip beside its frames.

Scores: ``fusion/rgb.pkl`` and ``fusion/flow.pkl`` of the real-data folder (100 Kinetics-400 validation videos,
labels in ``data_list.txt``), read and swept by :func:`vidact.infer.fusion.fuse_files` (``vidact fuse --sweep``);
the accuracy at any w is :func:`~vidact.infer.fusion.accuracy` of :func:`~vidact.infer.fusion.fuse_scores`.
Flow: :func:`vidact.flow.stream.video_flow` with the default method on the first frames of a shipped clip,
coloured by :func:`vidact.flow.visualize.flow_to_color`; computed once per clip and kept in the context.

Endpoints (under ``/api/fusion``):

    GET /scores                    the streams' and the sweep's accuracies, the best w, the videos
    GET /at?w=&video=              the accuracy at w and one video's fused top classes
    GET /flow?clip=                the clip's flow: sizes, the colour scale, each pair's mean motion
    GET /flow/frame/{i}?clip=      frame i (PNG)
    GET /flow/field/{i}?clip=      the flow from frame i to i + 1 in the colour code (PNG)
    GET /flow/wheel                the colour code's key (PNG)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from ....errors import ConfigError
from ..context import ExploreContext, get_context
from . import Page, register_page
from ._common import PNG, data_file, heavy, png_bytes

__all__ = ["CLIPS", "FLOW_FRAMES", "FLOW_SHORT_SIDE", "router"]

router = APIRouter(
    dependencies=[
        Depends(
            heavy(
                "numpy",
                "PIL.Image",
                "vidact.infer.fusion",
                "vidact.models.labels",
                "vidact.flow.methods",
                "vidact.flow.stream",
                "vidact.flow.visualize",
            )
        )
    ]
)

#: The shipped clips whose flow the page shows: name -> (path in the real-data folder, what it shows).
CLIPS: dict[str, tuple[tuple[str, ...], str]] = {
    "cricket": (("videos", "ucf101", "v_CricketShot_g04_c01_rgb.gif"), "CricketShot (UCF-101)"),
    "tai_chi": (("videos", "kinetics", "tai_chi.mp4"), "tai chi (Kinetics-400)"),
    "arm_wrestling": (("videos", "kinetics", "arm_wrestling.mp4"), "arm wrestling (Kinetics-400)"),
}
#: Frames of each clip whose flow is computed (the first ones), and the short side they are decoded at.
FLOW_FRAMES = 32
FLOW_SHORT_SIDE = 160
#: Classes listed for one video.
TOP = 5


# -- scores ------------------------------------------------------------------------------------------------------
def _scores() -> dict[str, Any]:
    """Both streams' scores [N, K] as the files hold them, the labels [N] (``data_list.txt``), the sweep
    (:func:`~vidact.infer.fusion.fuse_files`), the class names and the video ids (read once per server)."""
    import numpy as np

    from ....infer.fusion import fuse_files, read_scores
    from ....models.labels import label_names

    rgb, flow, gt = (data_file("fusion", name) for name in ("rgb.pkl", "flow.pkl", "data_list.txt"))
    fused = fuse_files([rgb, flow], gt=gt, sweep=True)  # labels from gt: never None
    arrays = [read_scores(path)[0] for path in (rgb, flow)]
    classes = label_names("kinetics400", fused.fused.shape[1])
    ids = [line.split()[0] for line in gt.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {
        "result": fused,
        "arrays": arrays,  # [N, K] each, as the files hold them (fuse_scores puts them on one scale)
        "labels": np.asarray(fused.labels),
        "classes": classes,
        "ids": ids,
    }


def scores_summary(data: dict[str, Any]) -> dict[str, Any]:
    """The page's first data: ``{"streams": {"rgb": {"top1", "top5"}, "flow": ...}, "sweep": [{"w", "top1",
    "top5"}], "best", "normalize", "num_samples", "num_classes", "videos": [{"index", "id", "label",
    "name"}]}``, accuracies as fractions."""
    result = data["result"]
    summary = result.to_json()
    streams = {name: {"top1": s["top1"], "top5": s["top5"]} for name, s in summary["streams"].items()}
    return {
        "streams": streams,
        "sweep": summary["sweep"],
        "best": summary["best"],
        "normalize": summary["normalize"],
        "num_samples": summary["num_samples"],
        "num_classes": summary["num_classes"],
        "videos": [
            {
                "index": i,
                "id": data["ids"][i] if i < len(data["ids"]) else str(i),
                "label": int(label),
                "name": data["classes"][int(label)],
            }
            for i, label in enumerate(data["labels"])
        ],
    }


def fused_at(data: dict[str, Any], w: float, video: int) -> dict[str, Any]:
    """The fusion ``w * RGB + (1 - w) * flow`` (each on the sweep's scale): its accuracy, and one video's top
    classes with both streams' scores of them.

    Args:
        data: :func:`_scores`' cache.
        w: the RGB weight in [0, 1].
        video: the video's row, in [0, N).

    Returns:
        ``{"w", "top1", "top5", "video": {"index", "id", "label", "name", "predicted", "correct", "top":
        [{"index", "name", "fused", "rgb", "flow"}]}}``.

    Raises:
        ConfigError: ``w`` outside [0, 1] or a video row outside the scores.
    """
    import numpy as np

    from ....infer.fusion import accuracy, fuse_scores

    result = data["result"]
    labels: np.ndarray = data["labels"]
    if not 0.0 <= w <= 1.0:
        raise ConfigError(f"the RGB weight w must be in [0, 1], got {w}")
    if not 0 <= video < len(labels):
        raise ConfigError(
            f"video {video} is not one of the {len(labels)} scored videos (0 to {len(labels) - 1})"
        )
    rgb, flow = data["arrays"]
    fused = fuse_scores([rgb, flow], [w, 1.0 - w], normalize=result.normalize)
    scaled = [fuse_scores([a], [1.0], normalize=result.normalize) for a in (rgb, flow)]
    measured = accuracy(fused, labels)
    row = fused[video]
    order = np.argsort(-row, kind="stable")[:TOP]
    label = int(labels[video])
    predicted = int(np.argmax(row))
    return {
        "w": w,
        "top1": measured.top1,
        "top5": measured.top5,
        "video": {
            "index": video,
            "id": data["ids"][video] if video < len(data["ids"]) else str(video),
            "label": label,
            "name": data["classes"][label],
            "predicted": predicted,
            "predicted_name": data["classes"][predicted],
            "correct": predicted == label,
            "top": [
                {
                    "index": int(k),
                    "name": data["classes"][int(k)],
                    "fused": float(row[k]),
                    "rgb": float(scaled[0][video, k]),
                    "flow": float(scaled[1][video, k]),
                }
                for k in order
            ],
        },
    }


def _cached_scores(ctx: ExploreContext) -> dict[str, Any]:
    return ctx.model("fusion.scores", _scores)


@router.get("/scores")
def scores(ctx: Annotated[ExploreContext, Depends(get_context)]) -> dict[str, Any]:
    """The streams, the sweep and the videos (:func:`scores_summary`)."""
    return scores_summary(_cached_scores(ctx))


@router.get("/at")
def at(
    ctx: Annotated[ExploreContext, Depends(get_context)],
    w: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
    video: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The fusion at ``w`` and video ``video``'s top classes (:func:`fused_at`)."""
    return fused_at(_cached_scores(ctx), w, video)


# -- flow --------------------------------------------------------------------------------------------------------
def _check_clip(clip: str) -> tuple[tuple[str, ...], str]:
    if clip not in CLIPS:
        raise ConfigError(f"unknown clip {clip!r}; choose from {', '.join(CLIPS)}")
    return CLIPS[clip]


def compute_flow(clip: str) -> dict[str, Any]:
    """The flow of the first :data:`FLOW_FRAMES` frames of a shipped clip at short side :data:`FLOW_SHORT_SIDE`.

    Returns:
        ``{"frames": uint8 [T, H, W, 3], "flows": float32 [T - 1, H, W, 2], "method": str, "scale": float}``
        (``scale``: :func:`flow_scale`).

    Raises:
        ConfigError: an unknown clip name.
        DatasetError: the clip is not in the real-data folder.
        VideoError: it cannot be read.
    """
    import numpy as np

    from ....flow.methods import DEFAULT_METHOD, get_flow_method
    from ....flow.stream import video_flow

    parts, _ = _check_clip(clip)
    path = data_file(*parts)
    frames, flows = [], []
    for prev, following, field in video_flow(
        path, get_flow_method(DEFAULT_METHOD), short_side=FLOW_SHORT_SIDE, max_frames=FLOW_FRAMES
    ):
        if not frames:
            frames.append(prev)
        frames.append(following)
        flows.append(field)
    stacked = np.stack(flows)
    return {
        "frames": np.stack(frames),
        "flows": stacked,
        "method": DEFAULT_METHOD,
        "scale": flow_scale(stacked),
    }


def _flow(ctx: ExploreContext, clip: str) -> dict[str, Any]:
    _check_clip(clip)
    return ctx.model(f"fusion.flow.{clip}", lambda: compute_flow(clip))


def flow_scale(flows: Any) -> float:
    """The motion drawn fully saturated: the 99th percentile of the clip's flow magnitudes (pixels), so that a
    few fast pixels do not wash out the rest.

    Args:
        flows: float32 [P, H, W, 2].
    """
    import numpy as np

    return float(np.percentile(np.hypot(flows[..., 0], flows[..., 1]), 99))


def flow_summary(clip: str, data: dict[str, Any]) -> dict[str, Any]:
    """``{"clip", "title", "clips": {name: title}, "frames", "pairs", "height", "width", "method",
    "max_magnitude", "scale" (:func:`flow_scale`), "mean_magnitude": [per pair], "max_per_pair": [per pair]}``
    (magnitudes in pixels)."""
    import numpy as np

    flows = data["flows"]
    magnitude = np.hypot(flows[..., 0], flows[..., 1])  # [P, H, W]
    return {
        "clip": clip,
        "title": CLIPS[clip][1],
        "clips": {name: title for name, (_, title) in CLIPS.items()},
        "frames": int(data["frames"].shape[0]),
        "pairs": int(flows.shape[0]),
        "height": int(flows.shape[1]),
        "width": int(flows.shape[2]),
        "method": data["method"],
        "max_magnitude": float(magnitude.max()),
        "scale": data["scale"],
        "mean_magnitude": [round(float(m), 4) for m in magnitude.mean(axis=(1, 2))],
        "max_per_pair": [round(float(m), 4) for m in magnitude.max(axis=(1, 2))],
    }


@router.get("/flow")
def flow(ctx: Annotated[ExploreContext, Depends(get_context)], clip: str = "cricket") -> dict[str, Any]:
    """The clip's flow, summarised (:func:`flow_summary`); the images come from the two endpoints below."""
    return flow_summary(clip, _flow(ctx, clip))


def _index(i: int, count: int, what: str) -> int:
    if not 0 <= i < count:
        raise ConfigError(f"{what} {i} is not one of the {count} (0 to {count - 1})")
    return i


@router.get("/flow/frame/{i}")
def flow_frame(
    ctx: Annotated[ExploreContext, Depends(get_context)], i: int, clip: str = "cricket"
) -> Response:
    """Frame ``i`` of the clip, as decoded for the flow (PNG)."""
    frames = _flow(ctx, clip)["frames"]
    return Response(png_bytes(frames[_index(i, len(frames), "frame")]), media_type=PNG)


@router.get("/flow/field/{i}")
def flow_field(
    ctx: Annotated[ExploreContext, Depends(get_context)], i: int, clip: str = "cricket"
) -> Response:
    """The flow from frame ``i`` to ``i + 1`` in the Middlebury colour code, fully saturated at the clip's
    :func:`flow_scale` (PNG)."""
    from ....flow.visualize import flow_to_color

    data = _flow(ctx, clip)
    flows, scale = data["flows"], data["scale"]
    field = flows[_index(i, len(flows), "frame pair")]
    image = flow_to_color(field, max_magnitude=scale if scale > 0 else None)
    return Response(png_bytes(image), media_type=PNG)


@router.get("/flow/wheel")
def flow_wheel(size: Annotated[int, Query(ge=8, le=256)] = 96) -> Response:
    """The colour code's key: each pixel coloured as the motion from the centre to it (PNG)."""
    from ....flow.visualize import color_wheel

    return Response(png_bytes(color_wheel(size)), media_type=PNG)


register_page(
    Page(
        slug="fusion",
        title="Two-stream fusion",
        summary="Fuse real Kinetics RGB and optical-flow scores with a weight w; see a clip's optical flow.",
        order=3,
        router=router,
    )
)
