"""Page 6, "Attention patterns": joint (full), divided and factorised space-time attention on a token grid: what
each costs as the grid grows, which tokens one query attends to, and VideoMAE's 90 % tube mask.

* Cost: :func:`vidact.models.vit.cost.attention_costs` and :func:`~vidact.models.vit.cost.growth`, the functions
  behind ``vidact attention-cost`` (tokens, query-key pairs per layer, FLOPs, attention-map memory).
* Which tokens a query attends to: measured on vidact's own attention modules (:mod:`vidact.models.vit.layers`)
  as each pattern's block holds them (``Block(pattern=...)``, TimeSformer's ``DividedBlock``: time then space,
  ViViT model 3's ``FactorisedSelfAttentionBlock``: space then time): one sublayer at a time, a small random
  module runs on random tokens and the gradient of the query's output tells which input tokens reach it (a
  token that is not attended has an exactly zero gradient).
* Masking: :func:`vidact.models.videomae.tube_mask` on the token grid of a real clip (16 frames at 224x224,
  2x16x16 tubelets). With a VideoMAE pre-training run in the runs folder (``vidact pretrain
  configs/synthetic_videomae_pretrain.yaml``), its :meth:`~vidact.models.videomae.VideoMAEPretrainer.reconstruct`
  fills the hidden tubes of a clip of its own kind (the synthetic set it trains on); without one the page shows
  the masked input and the visible tokens, and says how to make one.

Endpoints (under ``/api/attention``):

    GET /cost?frames=&size=&tubelet=&patch=&dim=&layers=&heads=      every pattern's cost, and its growth
    GET /attends?frames=&height=&width=&t=&h=&w=                     the tokens query (t, h, w) attends to
    GET /mask?ratio=&seed=                                           a tube mask on a real clip (+ run)
    GET /mask/frame/{i}?kind=clip|masked|reconstruction&ratio=&seed= the clip's frame i (PNG)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from ....errors import CheckpointError, ConfigError
from ..context import ExploreContext, get_context
from . import Page, register_page
from ._common import PNG, data_file, heavy, import_heavy, png_bytes

__all__ = ["costs", "attended_tokens", "find_pretrain_run", "router"]

router = APIRouter(
    dependencies=[
        Depends(
            heavy(
                "torch",
                "PIL.Image",
                "vidact.models.vit.cost",
                "vidact.models.vit.layers",
                "vidact.models.videomae",
                "vidact.io",
                "vidact.data.transforms",
            )
        )
    ]
)

#: The clip of the masking panel (a path in the real-data folder), its frames and frame size, and the tubelet.
MASK_CLIP = ("videos", "kinetics", "skateboarding.mp4")
MASK_FRAMES, MASK_STRIDE, MASK_SIZE, MASK_TUBELET, MASK_PATCH = 16, 4, 224, 2, 16
#: The pre-training task whose runs reconstruct.
PRETRAIN_TASK = "videomae_pretraining"
HOW_TO_PRETRAIN = (
    "vidact pretrain configs/synthetic_videomae_pretrain.yaml --out runs/synthetic_videomae_pretrain "
    "(after the recipe's vidact synth line), then vidact explore --runs runs"
)


# -- cost ----------------------------------------------------------------------------------------------------------
def costs(sizes: dict[str, int]) -> dict[str, Any]:
    """Every pattern's cost on the clip ``sizes`` describes, and how pairs and FLOPs grow with frames and size.

    Args:
        sizes: :func:`~vidact.models.vit.cost.attention_cost`'s keyword arguments (``frames``, ``size``,
            ``tubelet``, ``patch``, ``dim``, ``layers``, ``heads``).

    Returns:
        ``{"sizes", "patterns": [AttentionCost.to_dict()], "descriptions": {pattern: str}, "growth": {"frames" |
        "size": {"values": [int], "pairs": {pattern: [int]}, "flops": {pattern: [int]}}}}``.

    Raises:
        ConfigError: sizes that make no token (a clip smaller than one tubelet).
    """
    from ....models.vit.cost import PATTERNS, attention_costs, growth

    frames, size, tubelet, patch = sizes["frames"], sizes["size"], sizes["tubelet"], sizes["patch"]
    axes = {
        "frames": sorted(
            {max(tubelet, frames // 4), max(tubelet, frames // 2), frames, 2 * frames, 4 * frames}
        ),
        "size": sorted({max(patch, size // 2), max(patch, 3 * size // 4), size, 2 * size}),
    }
    curves = {}
    for axis, values in axes.items():
        fixed = {k: v for k, v in sizes.items() if k != axis}
        grown = growth(axis, values, **fixed)
        curves[axis] = {
            "values": values,
            "pairs": {p: [c.pairs_per_layer for c in cs] for p, cs in grown.items()},
            "flops": {p: [c.flops for c in cs] for p, cs in grown.items()},
        }
    return {
        "sizes": sizes,
        "patterns": [c.to_dict() for c in attention_costs(**sizes)],
        "descriptions": dict(PATTERNS),
        "growth": curves,
    }


@router.get("/cost")
def cost(
    frames: Annotated[int, Query(ge=1, le=256)] = 16,
    size: Annotated[int, Query(ge=8, le=1024)] = 224,
    tubelet: Annotated[int, Query(ge=1, le=16)] = 2,
    patch: Annotated[int, Query(ge=1, le=64)] = 16,
    dim: Annotated[int, Query(ge=1, le=4096)] = 768,
    layers: Annotated[int, Query(ge=1, le=64)] = 12,
    heads: Annotated[int, Query(ge=1, le=64)] = 12,
) -> dict[str, Any]:
    """Every pattern's cost and growth (:func:`costs`)."""
    return costs(
        dict(frames=frames, size=size, tubelet=tubelet, patch=patch, dim=dim, layers=layers, heads=heads)
    )


# -- which tokens a query attends to ------------------------------------------------------------------------------
#: Width and heads of the modules the attended tokens are measured on (any would do: which tokens attend to which
#: is the pattern's, not the width's).
_DIM, _HEADS = 8, 2


def _sublayers() -> list[tuple[str, str, list[tuple[str, Any]]]]:
    """Per pattern (its cost name, a title, and its attention sublayers in order, each (what, module)), built
    from vidact's blocks."""
    from ....models.vit.layers import Block, DividedBlock, FactorisedSelfAttentionBlock

    divided = DividedBlock(_DIM, _HEADS)
    model3 = FactorisedSelfAttentionBlock(_DIM, _HEADS)
    return [
        ("joint", "joint (full)", [("every token", Block(_DIM, _HEADS, pattern="joint").attn)]),
        ("divided", "divided (TimeSformer)", [("time", divided.attn_time), ("space", divided.attn)]),
        (
            "factorised_encoder",
            "factorised encoder (ViViT 2)",
            [("space (spatial encoder)", Block(_DIM, _HEADS, pattern="space").attn)],
        ),
        (
            "factorised_self_attention",
            "factorised self-attention (ViViT 3)",
            [("space", model3.attn), ("time", model3.attn_time)],
        ),
        (
            "factorised_dot_product",
            "factorised dot-product (ViViT 4)",
            [("space heads + time heads", Block(_DIM, _HEADS, pattern="factorised_dot_product").attn)],
        ),
        ("space_only", "space only", [("space", Block(_DIM, _HEADS, pattern="space").attn)]),
    ]


def attended_tokens(module: Any, grid: tuple[int, int, int], query: int, seed: int = 0) -> list[int]:
    """The grid tokens whose values reach token ``query``'s output through one attention sublayer.

    Args:
        module: an attention module of :mod:`vidact.models.vit.layers` (tokens [B, N, D], ``grid``).
        grid: (T', H', W').
        query: the query's index in (t, h, w) order.
        seed: the random tokens' seed.

    Returns:
        The sorted indices (in (t, h, w) order) of the tokens with a non-zero gradient of the query's output.
    """
    import math

    import torch

    n = math.prod(grid)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n, module.dim, generator=generator, requires_grad=True)
    with torch.enable_grad():
        out = module(x, grid, 0)
        # the gradient of the tokens only: the shared module's parameters are left untouched (no .grad)
        (grad,) = torch.autograd.grad(out[0, query].sum(), x)
    return torch.nonzero(grad[0].abs().amax(dim=1) > 0).flatten().tolist()


@router.get("/attends")
def attends(
    ctx: Annotated[ExploreContext, Depends(get_context)],
    frames: Annotated[int, Query(ge=1, le=8)] = 4,
    height: Annotated[int, Query(ge=1, le=8)] = 4,
    width: Annotated[int, Query(ge=1, le=8)] = 4,
    t: Annotated[int, Query(ge=0)] = 1,
    h: Annotated[int, Query(ge=0)] = 1,
    w: Annotated[int, Query(ge=0)] = 2,
) -> dict[str, Any]:
    """For each pattern, the tokens query (t, h, w) attends to in each of its sublayers:
    ``{"grid": [T', H', W'], "query": [t, h, w], "query_index", "patterns": [{"name", "title", "sublayers":
    [{"what", "module", "tokens": [int]}], "reach": [int]}]}``; ``reach`` is every token of its sublayers."""
    grid = (frames, height, width)
    if not (t < frames and h < height and w < width):
        raise ConfigError(f"query ({t}, {h}, {w}) is outside the {frames}x{height}x{width} token grid")
    query = (t * height + h) * width + w
    patterns = []
    for name, title, sublayers in ctx.model("attention.modules", _sublayers):
        measured = [
            {"what": what, "module": type(module).__name__, "tokens": attended_tokens(module, grid, query)}
            for what, module in sublayers
        ]
        reach = sorted({i for s in measured for i in s["tokens"]})
        patterns.append({"name": name, "title": title, "sublayers": measured, "reach": reach})
    return {"grid": list(grid), "query": [t, h, w], "query_index": query, "patterns": patterns}


# -- tube masking --------------------------------------------------------------------------------------------------
def find_pretrain_run(runs: Path | None) -> Path | None:
    """The newest VideoMAE pre-training run in ``runs`` (the folder itself or a folder in it: one whose
    ``metrics.json`` names the task ``videomae_pretraining``), or ``None``."""
    if runs is None or not runs.is_dir():
        return None
    found = []
    for folder in [runs, *sorted(p for p in runs.iterdir() if p.is_dir())]:
        summary = folder / "metrics.json"
        try:
            task = json.loads(summary.read_text(encoding="utf-8")).get("task")
        except (OSError, ValueError, AttributeError):
            continue
        if task == PRETRAIN_TASK:
            found.append((summary.stat().st_mtime, folder))
    return max(found)[1] if found else None


def _load_pretrainer(run: Path) -> dict[str, Any]:
    """A pre-training run's :class:`~vidact.models.videomae.VideoMAEPretrainer` (eval mode) and its input spec."""
    import_heavy(
        "vidact.data.inputs", "vidact.engine.checkpoint", "vidact.engine.tasks", "vidact.models.weights"
    )
    from ....data.inputs import input_from_dict
    from ....engine.checkpoint import load_checkpoint
    from ....engine.tasks import build_task
    from ....engine.tasks.base import recipe_of
    from ....models.weights import load_weights

    ckpt, path = load_checkpoint(run)
    if ckpt.get("task") != PRETRAIN_TASK:
        raise CheckpointError(f"{path}: made by the {ckpt.get('task')} task, not {PRETRAIN_TASK}")
    task = build_task(recipe_of(ckpt["config"], source=str(path)))
    model = task.build_model()
    load_weights(model, ckpt["state_dict"], source=str(path))
    spec = input_from_dict(ckpt["input"]) if "input" in ckpt else task.input_spec(task.config)
    return {"model": model.eval(), "spec": spec, "run": str(run), "metrics": dict(ckpt.get("metrics") or {})}


def _real_clip() -> Any:
    """The masking panel's real clip: uint8 [T, S, S, 3] (the centre square, resized)."""
    import torch

    from ....data.transforms import CenterCrop, Compose, ShortSideResize
    from ....io import VideoReader

    with VideoReader(data_file(*MASK_CLIP)) as reader:
        start = max(0, (len(reader) - MASK_FRAMES * MASK_STRIDE) // 2)
        frames = reader.get_frames(list(range(start, start + MASK_FRAMES * MASK_STRIDE, MASK_STRIDE)))
    clip = Compose([ShortSideResize(MASK_SIZE), CenterCrop(MASK_SIZE)])(frames)
    return clip.to(torch.uint8)


def _synthetic_clip(spec: Any) -> Any:
    """A clip of the kind the synthetic pre-training recipe learns from, at its input size: uint8 [T, S, S, 3]
    (a temporal-pair action drawn by :func:`vidact.data.synth.render_clip`, every ``frame_stride``-th frame)."""
    import_heavy("vidact.data.synth")
    import torch

    from ....data.synth import TEMPORAL_CLASSES, clip_rng, render_clip

    name = TEMPORAL_CLASSES[0]
    stride = max(1, int(getattr(spec, "frame_stride", 1) or 1))
    size = int(spec.crop_size)
    frames = render_clip(
        "temporal", name, clip_rng(0, "val", name, 0), size=size, frames=spec.frames * stride
    )
    return torch.from_numpy(frames[::stride].copy())


def masking(ctx: ExploreContext, ratio: float, seed: int) -> dict[str, Any]:
    """The tube mask on the panel's clip, and the reconstruction where a pre-training run is present.

    Returns:
        ``{"ratio", "seed", "grid": [T', H', W'], "tubelet": [t, p, p], "frames", "size", "tokens", "hidden",
        "visible", "visible_cells": [int], "mask": [T'][H' W'] bool (True = hidden), "run": str | None,
        "reconstruction": bool, "note": str, "source": str, "mse"?}``; the images come from ``/mask/frame``.
    """
    return _mask_data(ctx, ratio, seed)["summary"]


def _mask_data(ctx: ExploreContext, ratio: float, seed: int) -> dict[str, Any]:
    import torch

    from ....models.videomae import tube_mask

    run = find_pretrain_run(ctx.runs)
    generator = torch.Generator().manual_seed(seed)
    if run is None:
        clip = ctx.model("attention.mask_clip", _real_clip)  # uint8 [T, S, S, 3]
        tubelet = (MASK_TUBELET, MASK_PATCH, MASK_PATCH)
        grid = (MASK_FRAMES // MASK_TUBELET, MASK_SIZE // MASK_PATCH, MASK_SIZE // MASK_PATCH)
        mask = tube_mask(1, grid, ratio, generator)  # [1, N]
        reconstruction = None
        note = (
            "No VideoMAE pre-training run in the runs folder: the masked input and the visible tokens only. "
            f"To see a reconstruction: {HOW_TO_PRETRAIN}."
        )
        source = "skateboarding (Kinetics-400), 16 frames every 4th, 224x224"
        extra: dict[str, Any] = {}
    else:
        loaded = ctx.model(f"attention.pretrainer.{run}", lambda: _load_pretrainer(run))
        model, spec = loaded["model"], loaded["spec"]
        clip = ctx.model(f"attention.synthetic_clip.{run}", lambda: _synthetic_clip(spec))
        x = spec.eval_transform()(clip)[None]  # [1, 3, T, S, S]
        grid = model.token_grid(*x.shape[2:])
        tubelet = tuple(model.tubelet)
        mask = tube_mask(1, grid, ratio, generator)
        with torch.inference_mode():
            rebuilt = model.reconstruct(x, mask)  # [1, 3, T, S, S] in [0, 1]
            error = float(model.loss(x, mask))
        reconstruction = (rebuilt[0].permute(1, 2, 3, 0) * 255).round().to(torch.uint8)  # [T, S, S, 3]
        clip = (model.pixels(x)[0].clamp(0, 1).permute(1, 2, 3, 0) * 255).round().to(torch.uint8)
        note = f"Reconstructed by the pre-training run {run.name} (its best checkpoint)."
        source = f"a synthetic clip of the kind the run learned from, {x.shape[2]} frames at {x.shape[3]}x{x.shape[4]}"
        extra = {"mse": error, "run_metrics": loaded["metrics"]}
    t, hh, ww = grid
    hidden = mask[0].reshape(t, hh * ww)
    summary = {
        "ratio": ratio,
        "seed": seed,
        "grid": list(grid),
        "tubelet": list(tubelet),
        "frames": int(clip.shape[0]),
        "size": [int(clip.shape[1]), int(clip.shape[2])],
        "tokens": int(mask.shape[1]),
        "hidden": int(mask.sum()),
        "visible": int((~mask).sum()),
        "visible_cells": torch.nonzero(~hidden[0]).flatten().tolist(),
        "mask": hidden.tolist(),
        "run": None if run is None else str(run),
        "reconstruction": reconstruction is not None,
        "note": note,
        "source": source,
        **extra,
    }
    return {
        "summary": summary,
        "clip": clip,
        "hidden": hidden,
        "tubelet": tubelet,
        "reconstruction": reconstruction,
    }


Ratio = Annotated[float, Query(gt=0.0, lt=1.0)]
Seed = Annotated[int, Query(ge=0, le=2**31 - 1)]


@router.get("/mask")
def mask(
    ctx: Annotated[ExploreContext, Depends(get_context)], ratio: Ratio = 0.9, seed: Seed = 0
) -> dict[str, Any]:
    """The tube mask and what it leaves visible (:func:`masking`)."""
    return masking(ctx, ratio, seed)


@router.get("/mask/frame/{i}")
def mask_frame(
    ctx: Annotated[ExploreContext, Depends(get_context)],
    i: int,
    kind: Literal["clip", "masked", "reconstruction"] = "clip",
    ratio: Ratio = 0.9,
    seed: Seed = 0,
) -> Response:
    """Frame ``i`` of the panel's clip as it is, with the hidden tubes greyed out, or reconstructed (PNG)."""
    data = _mask_data(ctx, ratio, seed)
    clip = data["clip"]
    if not 0 <= i < clip.shape[0]:
        raise ConfigError(f"frame {i} is not one of the clip's {clip.shape[0]} (0 to {clip.shape[0] - 1})")
    if kind == "reconstruction":
        if data["reconstruction"] is None:
            raise ConfigError(
                f"no reconstruction: no VideoMAE pre-training run in the runs folder ({HOW_TO_PRETRAIN})"
            )
        return Response(png_bytes(data["reconstruction"][i].numpy()), media_type=PNG)
    image = clip[i].numpy().copy()
    if kind == "masked":
        t, p, q = data["tubelet"]
        hidden = data["hidden"][i // t].numpy()  # [H' W'] of this frame's time step
        columns = image.shape[1] // q
        for cell in hidden.nonzero()[0]:
            row, column = divmod(int(cell), columns)
            image[row * p : (row + 1) * p, column * q : (column + 1) * q] = 128
    return Response(png_bytes(image), media_type=PNG)


register_page(
    Page(
        slug="attention",
        title="Attention patterns",
        summary="Joint, divided and factorised attention: their cost as the grid grows, which tokens a query "
        "attends to, and VideoMAE's 90 % tube mask.",
        order=6,
        router=router,
    )
)
