"""Page 8, "Skeleton player": joints, bones and temporal edges of a real skeleton sequence, animated, with what
the pretrained skeleton models say of it.

* The NTU RGB+D sample (``skeleton/ntu60_sample_C3_T300_V25_M2.npy`` of the real-data folder), read by
  :func:`vidact.data.skeleton.formats.record_from_ctvm` (Kinect 3D joints, metres), its bones from
  :func:`vidact.data.skeleton.layouts.get_layout`; scored by EfficientGCN-B0 trained on NTU-60
  (``efficientgcn_b0.ntu60``, its weights registered from the real-data folder by
  :func:`vidact.demo.showcase.ensure_shared_weights`), the model's input made by its preset
  (:func:`vidact.data.skeleton.transforms.skeleton_input`).
* A pose extracted from a real clip (the clips of :func:`vidact.demo.showcase.find_real_clips`, each with its model:
  bodies through EfficientGCN, signing hands through ST-GCN++ on HaGRID) by MediaPipe and scored by
  :func:`vidact.infer.skeleton.predict_skeleton`, as a background job; without MediaPipe the page says why in one
  line.

Endpoints (under ``/api/skeleton``):

    GET  /ntu                          the NTU sample's joints, bones and the model's top classes
    GET  /clips                        the real clips a pose can be extracted from, and whether MediaPipe is here
    POST /pose  {"clip": name}         start the pose job -> {"job": id}; its result: joints, bones, top classes
    GET  /frame/{i}?clip=              frame i of a clip, short side 256 (PNG), drawn behind its pose
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from ....errors import ConfigError
from ..context import ExploreContext, get_context
from ..jobs import Job
from . import Page, register_page
from ._common import PNG, data_file, heavy, png_bytes, real_data

__all__ = ["NTU_SAMPLE", "ntu_sample", "pose_result", "router"]

router = APIRouter(
    dependencies=[
        Depends(
            heavy(
                "torch",
                "numpy",
                "PIL.Image",
                "vidact.data.skeleton",
                "vidact.demo.showcase",
                "vidact.infer.predict",
                "vidact.infer.skeleton",
                "vidact.io",
            )
        )
    ]
)

#: The NTU RGB+D sample in the real-data folder, and the model that scores it.
NTU_SAMPLE = ("skeleton", "ntu60_sample_C3_T300_V25_M2.npy")
NTU_MODEL = "efficientgcn_b0.ntu60"
#: Classes listed.
TOP = 5
#: The short side of the frames drawn behind an extracted pose.
FRAME_SIDE = 256


def _predictor(ctx: ExploreContext, name: str) -> Any:
    """A pretrained skeleton model (its weights registered from the real-data folder first), loaded once."""

    def load() -> Any:
        from ....demo.showcase import ensure_shared_weights
        from ....infer.predict import load_predictor

        ensure_shared_weights(real_data())
        return load_predictor(name, progress=False)

    return ctx.model(f"skeleton.predictor.{name}", load)


def _bones(layout_name: str) -> dict[str, Any]:
    from ....data.skeleton.layouts import get_layout

    layout = get_layout(layout_name)
    return {
        "layout": layout.name,
        "joints": list(layout.joints),
        "parents": list(layout.parents),
        "edges": [list(e) for e in layout.edges],
        "center": layout.center,
    }


def _top(classes: list[str], scores: Any) -> list[dict[str, Any]]:
    import numpy as np

    order = np.argsort(-np.asarray(scores), kind="stable")[:TOP]
    return [{"index": int(k), "name": classes[int(k)], "score": float(scores[k])} for k in order]


def ntu_sample(ctx: ExploreContext) -> dict[str, Any]:
    """The NTU sample, its bones and EfficientGCN-B0's answer.

    Returns:
        ``{"source", "layout", "joints", "parents", "edges", "center", "frames", "persons", "keypoint": [M][T][V][3]
        (metres, the persons with any joint), "model", "input_shape": [views, M, T, V, C], "top": [{"index",
        "name", "score"}]}``.

    Raises:
        DatasetError: the sample is not in the real-data folder.
        CheckpointError: the model's weights cannot be had.
    """
    import numpy as np
    import torch

    from ....data.skeleton.formats import record_from_ctvm
    from ....data.skeleton.transforms import skeleton_input

    path = data_file(*NTU_SAMPLE)
    record = record_from_ctvm(np.load(path, allow_pickle=False), layout="ntu25", frame_dir=path.stem)
    predictor = _predictor(ctx, NTU_MODEL)
    x = torch.from_numpy(
        skeleton_input(record, predictor.spec)
    )  # [views, M, T, V, C], as the preset makes it
    with torch.inference_mode():
        scores = predictor.model(x.to(predictor.device)).float().softmax(dim=-1).mean(dim=0).cpu().numpy()
    keypoint = np.asarray(record["keypoint"])  # [M, T, V, 3]
    present = [m for m in range(keypoint.shape[0]) if np.abs(keypoint[m]).max() > 0]
    return {
        "source": "/".join(NTU_SAMPLE),
        **_bones("ntu25"),
        "frames": int(keypoint.shape[1]),
        "persons": len(present),
        "keypoint": np.round(keypoint[present], 4).tolist(),
        "model": NTU_MODEL,
        "input_shape": list(x.shape),
        "top": _top(predictor.classes, scores),
    }


@router.get("/ntu")
def ntu(ctx: Annotated[ExploreContext, Depends(get_context)]) -> dict[str, Any]:
    """The NTU sample and its prediction (:func:`ntu_sample`), computed once."""
    return ctx.model("skeleton.ntu", lambda: ntu_sample(ctx))


# -- a pose from a real clip ---------------------------------------------------------------------------------------
def _clips() -> dict[str, Any]:
    """The real clips with people in them, by name ``<folder>/<file stem>``."""
    from ....demo.showcase import find_real_clips

    return {f"{c.dataset}/{c.path.stem}": c for c in find_real_clips(real_data())}


def _clip(name: str) -> Any:
    clips = _clips()
    if name not in clips:
        raise ConfigError(f"unknown clip {name[:80]!r}: GET /api/skeleton/clips lists them")
    return clips[name]


def mediapipe_missing() -> str | None:
    """Why a pose cannot be extracted here (one line), or ``None`` when MediaPipe is importable."""
    from ....pose import import_mediapipe

    try:
        import_mediapipe()
    except ConfigError as error:
        return str(error).splitlines()[0]
    return None


@router.get("/clips")
def clips() -> dict[str, Any]:
    """``{"clips": [{"name", "dataset", "truth", "model"}], "pose": {"available", "reason"}}``."""
    reason = mediapipe_missing()
    return {
        "clips": [
            {"name": name, "dataset": c.dataset, "truth": c.truth, "model": c.model}
            for name, c in _clips().items()
        ],
        "pose": {"available": reason is None, "reason": reason},
    }


def pose_result(prediction: Any, clip: Any, name: str) -> dict[str, Any]:
    """What the page draws of a :class:`~vidact.infer.skeleton.SkeletonPrediction`: ``{"clip", "truth", "model",
    "layout", "joints", "parents", "edges", "img_shape": [H, W], "frames", "timestamps", "frame_index",
    "keypoint": [M][T][V][2] (pixels), "found": [M][T], "found_fraction", "top", "timeline", "note"}``."""
    import numpy as np

    pose = prediction.pose
    summary = prediction.to_json(TOP)
    keypoint = np.asarray(pose["keypoint"], dtype=np.float64)  # [M, T, V, 2]
    found = np.asarray(pose["found"], dtype=bool)  # [M, T]
    frames = keypoint.shape[1]
    return {
        "clip": name,
        "truth": clip.truth,
        "model": clip.model,
        **_bones(str(pose["layout"])),
        "img_shape": [int(v) for v in pose["img_shape"]],
        "frames": int(frames),
        "timestamps": np.round(np.asarray(pose.get("timestamps", np.arange(frames) / 30.0)), 4).tolist(),
        "frame_index": np.asarray(pose.get("frame_index", np.arange(frames))).astype(int).tolist(),
        "keypoint": np.round(keypoint, 2).tolist(),
        "found": found.tolist(),
        "found_fraction": float(prediction.found_fraction),
        "top": summary["top"],
        "timeline": summary["timeline"],
        "note": prediction.note,
    }


class PoseRequest(BaseModel):
    """``POST /api/skeleton/pose``'s body."""

    clip: str


@router.post("/pose")
def pose(body: PoseRequest, ctx: Annotated[ExploreContext, Depends(get_context)]) -> dict[str, Any]:
    """Start extracting the pose of a real clip and scoring it with its skeleton model: ``{"job": id}``; the job's
    result is :func:`pose_result`'s, kept for the next request of the same clip.

    Raises:
        ConfigError: an unknown clip, or MediaPipe is not installed (its one-line install hint).
    """
    clip = _clip(body.clip)
    reason = mediapipe_missing()
    if reason is not None:
        raise ConfigError(reason)

    def extract() -> dict[str, Any]:
        from ....infer.skeleton import predict_skeleton

        return pose_result(predict_skeleton(_predictor(ctx, clip.model), clip.path), clip, body.clip)

    def work(job: Job) -> dict[str, Any]:
        job.progress(0.05, f"MediaPipe pose of {clip.path.name}, then {clip.model}")
        result = ctx.model(f"skeleton.pose.{body.clip}", extract)  # once per clip and server
        job.check()
        return result

    return {"job": ctx.jobs.submit("pose", work).id}


@router.get("/frame/{i}")
def frame(
    i: int, clip: Annotated[str, Query(max_length=200)], ctx: Annotated[ExploreContext, Depends(get_context)]
) -> Response:
    """Frame ``i`` (display order) of a real clip at short side 256 (PNG)."""
    from ....io import VideoReader, probe

    path = _clip(clip).path
    meta = ctx.model(f"skeleton.probe.{clip}", lambda: probe(path))  # demuxed once per clip
    with VideoReader(path, short_side=FRAME_SIDE, metadata=meta) as reader:
        if not 0 <= i < len(reader):
            raise ConfigError(f"frame {i} is not one of the clip's {len(reader)} (0 to {len(reader) - 1})")
        image = reader.get_frames([i]).numpy()[0]
    return Response(png_bytes(image), media_type=PNG)


register_page(
    Page(
        slug="skeleton",
        title="Skeleton player",
        summary="Joints, bones and temporal edges of a real NTU RGB+D skeleton and of a pose extracted from a real "
        "clip, animated, with the skeleton models' answers.",
        order=8,
        router=router,
    )
)
