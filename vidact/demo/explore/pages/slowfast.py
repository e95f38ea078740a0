"""Page 5, "SlowFast scrubber": which frames each pathway of SlowFast reads, and the shapes its stages and lateral
connections give, traced from the real network.

* Frames: :func:`vidact.data.sampling.slowfast_indices` over a timeline: the Slow pathway every tau-th frame,
  the Fast pathway every (tau / alpha)-th, the window centred (test) or at a seeded random start (training).
* Shapes: the registered SlowFast-R50 models (``slowfast_r50``: 8x8, alpha 4; ``slowfast_r50_4x16``: alpha 8)
  built on the meta device (no memory, no weights) at ``lateral_ratio`` 1 and 2, and run once on a batch of one
  clip; forward hooks on the stems, every :class:`~vidact.models.slowfast.LateralConnection` (and its
  convolution) and every stage record the shapes. With alpha 8 at ratio 1 the first lateral maps the Fast
  [8, 32, 56, 56] to [8, 4, 56, 56], concatenated with the Slow [64, 4, 56, 56] into [72, 4, 56, 56]; the
  published ratio 2 gives 16 and 80 channels.

Endpoints (under ``/api/slowfast``):

    GET /indices?model=&num_frames=&seed=      the Slow and Fast frame indices on the timeline
    GET /trace?model=&size=                    the shapes of every stage at lateral ratio 1 and 2
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from ....errors import ConfigError
from ..context import ExploreContext, get_context
from . import Page, register_page
from ._common import heavy

__all__ = ["MODELS", "slowfast_frames", "trace_shapes", "router"]

router = APIRouter(dependencies=[Depends(heavy("torch", "numpy", "vidact.models", "vidact.data.sampling"))])

#: The registered SlowFast models the page traces, with a word on each.
MODELS: dict[str, str] = {
    "slowfast_r50_4x16": "SlowFast-R50 4x16: T = 4 Slow frames every tau = 16, alpha = 8",
    "slowfast_r50": "SlowFast-R50 8x8: T = 8 Slow frames every tau = 8, alpha = 4",
}
#: The lateral ratios traced: 1 keeps the Fast width, 2 is the paper's 2 beta C (every published checkpoint).
RATIOS = (1, 2)


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ConfigError(f"unknown SlowFast model {model!r}; choose from {', '.join(MODELS)}")
    return model


def _build(model: str, lateral_ratio: int) -> Any:
    """The registered model on the meta device (shapes only), eval mode."""
    import torch

    from ....models import build_model

    with torch.device("meta"):
        return build_model(model, lateral_ratio=lateral_ratio).eval()


def _rates(model: str) -> dict[str, int]:
    """The model's alpha, T (Slow frames) and tau, read from a meta-device build."""
    net = _build(model, 2)
    slow_frames = net.num_frames // net.alpha
    return {"alpha": net.alpha, "slow_frames": slow_frames, "tau": net.frame_stride * net.alpha}


def slowfast_frames(rates: dict[str, int], num_frames: int, seed: int | None) -> dict[str, Any]:
    """The frames each pathway reads of a video of ``num_frames`` frames.

    Args:
        rates: ``{"alpha", "slow_frames", "tau"}`` of the model.
        num_frames: the timeline's length.
        seed: a random window start drawn from ``numpy.random.default_rng(seed)`` (training); ``None``: centred.

    Returns:
        ``{"num_frames", "alpha", "slow_frames", "tau", "fast_stride", "window", "seed", "slow": [int], "fast":
        [int]}``, as :func:`vidact.data.sampling.slowfast_indices` gives them.
    """
    import numpy as np

    from ....data.sampling import clip_span, slowfast_indices

    alpha, slow_frames, tau = rates["alpha"], rates["slow_frames"], rates["tau"]
    rng = None if seed is None else np.random.default_rng(seed)
    slow, fast = slowfast_indices(num_frames, slow_frames, tau, alpha, rng=rng)
    return {
        "num_frames": num_frames,
        **rates,
        "fast_stride": tau // alpha,
        "window": clip_span(alpha * slow_frames, tau // alpha),
        "seed": seed,
        "slow": slow.tolist(),
        "fast": fast.tolist(),
    }


def trace_shapes(model: str, lateral_ratio: int, size: int) -> dict[str, Any]:
    """Run the model (meta device) on one fast-rate clip [1, 3, alpha T, size, size] and record the shapes.

    Returns:
        ``{"lateral_ratio", "input": [3, alpha T, size, size], "stages": [{"name", "slow", "fast"}],
        "laterals": [{"index", "before", "fast_in", "lateral_out", "slow_in", "concat"}], "head": [num_features],
        "logits": [K]}``: shapes [C, T, H, W] without the batch axis.
    """
    import torch

    net = _build(model, lateral_ratio)
    stages: list[dict[str, Any]] = []
    laterals: list[dict[str, Any]] = []
    lateral_conv: dict[int, list[int]] = {}
    hooks = []

    def shape(t: torch.Tensor) -> list[int]:
        return list(t.shape[1:])

    def record_stage(name: str, pathway: str):  # noqa: ANN202 (a hook factory)
        def hook(module: Any, args: Any, out: torch.Tensor) -> None:
            entry = next((s for s in stages if s["name"] == name), None)
            if entry is None:
                entry = {"name": name, "slow": None, "fast": None}
                stages.append(entry)
            entry[pathway] = shape(out)

        return hook

    def record_lateral(index: int):  # noqa: ANN202
        def hook(module: Any, args: tuple[torch.Tensor, torch.Tensor], out: torch.Tensor) -> None:
            slow, fast = args
            laterals.append(
                {
                    "index": index,
                    "before": f"res{index + 2}",
                    "fast_in": shape(fast),
                    "lateral_out": lateral_conv[index],
                    "slow_in": shape(slow),
                    "concat": shape(out),
                }
            )

        return hook

    def record_conv(index: int):  # noqa: ANN202
        def hook(module: Any, args: Any, out: torch.Tensor) -> None:
            lateral_conv[index] = shape(out)

        return hook

    hooks.append(net.slow_stem.register_forward_hook(record_stage("stem", "slow")))
    hooks.append(net.fast_stem.register_forward_hook(record_stage("stem", "fast")))
    for i, (lateral, slow_layer, fast_layer) in enumerate(
        zip(net.laterals, net.slow_layers, net.fast_layers, strict=True)
    ):
        hooks.append(lateral.conv.register_forward_hook(record_conv(i)))
        hooks.append(lateral.register_forward_hook(record_lateral(i)))
        hooks.append(slow_layer.register_forward_hook(record_stage(f"res{i + 2}", "slow")))
        hooks.append(fast_layer.register_forward_hook(record_stage(f"res{i + 2}", "fast")))
    clip = torch.empty(1, 3, net.num_frames, size, size, device="meta")
    try:
        with torch.inference_mode():
            features = net.forward_features(clip)
            pooled = net.forward_head(features, pre_logits=True)
            logits = net.forward_head(features)
    except RuntimeError as error:
        raise ConfigError(f"{model} on {size}x{size} frames: {' '.join(str(error).split())}") from None
    finally:
        for hook in hooks:
            hook.remove()
    return {
        "lateral_ratio": lateral_ratio,
        "input": {
            "slow": [3, net.num_frames // net.alpha, size, size],
            "fast": [3, net.num_frames, size, size],
        },
        "stages": stages,
        "laterals": laterals,
        "head": shape(pooled),
        "logits": shape(logits),
    }


@router.get("/indices")
def indices(
    ctx: Annotated[ExploreContext, Depends(get_context)],
    model: str = "slowfast_r50_4x16",
    num_frames: Annotated[int, Query(ge=1, le=512)] = 64,
    seed: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    """The Slow and Fast pathways' frames (:func:`slowfast_frames`) of ``model``."""
    rates = ctx.model(f"slowfast.rates.{_check_model(model)}", lambda: _rates(model))
    return {"model": model, "about": MODELS[model], **slowfast_frames(rates, num_frames, seed)}


@router.get("/trace")
def trace(
    ctx: Annotated[ExploreContext, Depends(get_context)],
    model: str = "slowfast_r50_4x16",
    size: Annotated[int, Query(ge=32, le=448)] = 224,
) -> dict[str, Any]:
    """The shapes at every stage at lateral ratios 1 and 2 (:func:`trace_shapes`), traced once per size."""
    _check_model(model)
    traces = [
        ctx.model(f"slowfast.trace.{model}.{ratio}.{size}", lambda r=ratio: trace_shapes(model, r, size))
        for ratio in RATIOS
    ]
    return {"model": model, "about": MODELS[model], "models": MODELS, "size": size, "traces": traces}


register_page(
    Page(
        slug="slowfast",
        title="SlowFast scrubber",
        summary="The Slow and Fast pathways' frames on a timeline, and the shapes at every stage and lateral "
        "connection, traced from the real network.",
        order=5,
        router=router,
    )
)
