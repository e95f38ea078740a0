"""Inflating a 2D image network into a 3D video network (Carreira & Zisserman, "Quo Vadis, Action Recognition?
A New Model and the Kinetics Dataset", CVPR 2017, section 2.4).

    >>> resnet = torchvision.models.resnet50()          # with ImageNet weights loaded into it
    >>> video_resnet = inflate(resnet, time_kernel=3)   # [B, 3, T, H, W] -> [B, 1000]

Every ``nn.Conv2d`` with a [Cout, Cin, k, k] kernel becomes a 3D convolution with a [Cout, Cin, kt, k, k]
kernel. In ``"mean"`` mode (the paper's *bootstrapping*) each of the kt temporal slices is W / kt; in
``"center"`` mode the middle slice is W and the others are 0. Normalisation and pooling layers become their 3D
versions with the same statistics; linear heads are kept.

The identity that makes the weights right. Feed a *boring video*, one image repeated over time. A "mean"
kernel then sums kt equal slices W / kt of equal frames, i.e. it applies W to the image; BN, ReLU and pooling
act frame by frame; the global pool averages T equal maps. So the inflated network's output on the boring
video equals the 2D network's output on the image, which is how the paper initialises I3D from ImageNet. A
"center" kernel reads only the current frame, so it is frame-wise on any video, boring or not.

Temporal padding. A convolution with kt > 1 pads kt // 2 frames at each end of the clip so that T is kept.
With zero padding (TensorFlow's and PyTorch's convention), a "mean" kernel at the first and last frames sums
fewer than kt real frames, and the identity above fails there; the error then spreads inward by kt // 2
frames per layer, which in a deep network reaches every frame of a short clip. The paper's identity is about
a video that is boring for ever, and replicating the edge frames (``time_padding_mode="replicate"``, the
default) is exactly that: the boring clip extended without end. It keeps the identity exact on every frame of
any length. ``"zeros"`` is available for networks that will be trained on (or converted from) zero padding;
"center" kernels never read the padding, so the identity holds for them in either mode.

How the forward code of the 2D network keeps working. :func:`inflate` deep-copies the network and swaps its
layers in place: the class, and so the ``forward`` written for images, stay. That code only chains layers
and rank-agnostic ops (``x + shortcut``, ``torch.cat(dim=1)``, activations). Where the 2D network pools space
adaptively (torchvision's ``avgpool``, timm's ``global_pool``), the 3D pool also averages time down to 1:
``AdaptiveAvgPool2d(s)`` becomes ``AdaptiveAvgPool3d((1, *s))``. A ``torch.flatten(x, 1)`` or ``x.view(B, -1)``
that follows then sees the same number of features as in 2D, and the linear classifier the mean of the
per-frame features (for a linear head, the mean of the per-frame logits as I3D averages its logits over
time). This covers torchvision's ResNets, VGG, MobileNetV3, EfficientNets and RegNets (squeeze-excitation
then pools over the clip, as in 3D SE networks) and timm's EfficientNets (``forward_features`` ->
``global_pool`` -> ``classifier``). Forward code with 4D-only functional ops (``F.adaptive_avg_pool2d`` in
torchvision's MobileNetV2, ``x.mean((2, 3))``, ``F.interpolate(mode="bilinear")``, ``x.view(B, C, H, W)``)
cannot be inflated by swapping layers; such a network fails on its first 5D forward pass.

Module rules: ``nn.Conv2d`` (groups, dilation, bias and spatial padding kept, depthwise included) and timm's
``Conv2dSame`` (TensorFlow "SAME" padding, kept in H and W), ``BatchNorm2d`` and timm's ``BatchNormAct2d``,
``MaxPool2d``/``AvgPool2d`` (temporal kernel and stride from ``pool_time``, temporal padding (kt - 1) // 2),
``AdaptiveAvgPool2d``/``AdaptiveMaxPool2d`` (time pooled to 1), ``Dropout2d`` (``Dropout3d``: a channel is
dropped in all frames). Every other layer is kept as it is: activations, dropout, ``Linear``, ``Flatten``,
``GroupNorm`` and the containers and blocks that chain them work on any rank. A layer that only works on 4D
tensors and has no rule here (``ConvTranspose2d``, ``InstanceNorm2d``, ``Upsample``, a ``Conv2d`` subclass with
a forward of its own, ...) raises :class:`~vidact.errors.ConfigError` naming it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair
from torch.nn.utils import skip_init

from ..errors import ConfigError

__all__ = ["inflate", "InflatedConv3d", "BatchNormAct3d", "tf_same_padding"]

# For every convolution: one value, or a function of the layer's path in the model and the 2D layer.
PerConv = int | Callable[[str, nn.Conv2d], int]
# For every max/average pool: (temporal kernel, temporal stride), or a function of its path and the 2D pool.
PoolTime = tuple[int, int] | Callable[[str, nn.Module], tuple[int, int]]

# 4D-only layers whose class name does not end in "2d" (those that do are caught by their name).
_FOUR_D_ONLY = (nn.Upsample, nn.PixelShuffle, nn.PixelUnshuffle, nn.Fold, nn.Unfold)
# Layers converted when their type is exactly this; a subclass may have changed what forward does.
_CONVERTED = (
    nn.Conv2d,
    nn.BatchNorm2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Dropout2d,
)


def tf_same_padding(
    size: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """TensorFlow's "SAME" padding of an input with trailing dims ``size`` ([H, W] or [T, H, W]), in ``F.pad``
    order (last dim first, before/after).

    Along an axis of size n with effective kernel k = (kernel - 1) * dilation + 1 and stride s the output has
    ceil(n / s) positions; the ``max((ceil(n / s) - 1) * s + k - n, 0)`` padded cells are split with the extra
    one after. PyTorch's symmetric ``padding`` differs when that total is odd (stride 2 on an even size).
    """
    dilation = dilation if dilation is not None else (1,) * len(size)
    pad: list[int] = []
    for n, kernel, s, d in zip(
        reversed(size), reversed(kernel_size), reversed(stride), reversed(dilation), strict=True
    ):
        total = max((-(-n // s) - 1) * s + (kernel - 1) * d + 1 - n, 0)
        pad += [total // 2, total - total // 2]
    return tuple(pad)


class InflatedConv3d(nn.Conv3d):
    """A ``Conv3d`` that pads the time axis itself, by replicating the edge frames or with zeros.

    Space is padded as the 2D convolution did: by its ``padding`` and ``padding_mode`` (``padding[0]`` is 0), or,
    for a TensorFlow-style convolution (timm's ``Conv2dSame``), by "SAME" padding computed from the input size.
    The state_dict is a plain ``Conv3d``'s.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device,
            dtype: ``nn.Conv3d``'s; ``padding`` covers space only, its time entry must be 0.
        time_padding: frames added at each end of the clip (kt // 2 keeps T at temporal stride 1).
        time_padding_mode: ``"replicate"`` (copies of the first and last frame) or ``"zeros"``.
        same_padding: pad H and W with zeros as TensorFlow's "SAME" does (``padding`` must then be 0).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        padding: tuple[int, int, int] = (0, 0, 0),
        dilation: tuple[int, int, int] = (1, 1, 1),
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        time_padding: int = 0,
        time_padding_mode: Literal["replicate", "zeros"] = "replicate",
        same_padding: bool = False,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )
        if self.padding[0] != 0 or (same_padding and any(self.padding)):
            raise ValueError(f"InflatedConv3d: padding {self.padding} overlaps the padding it does itself")
        self.time_padding = time_padding
        self.time_padding_mode = time_padding_mode
        self.same_padding = same_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, Cin, T, H, W] -> [B, Cout, T', H', W'] (T' = T at temporal stride 1)."""
        if self.time_padding:
            pad = (0, 0, 0, 0, self.time_padding, self.time_padding)
            x = F.pad(x, pad, mode="replicate") if self.time_padding_mode == "replicate" else F.pad(x, pad)
        if self.same_padding:
            x = F.pad(
                x, tf_same_padding(x.shape[-2:], self.kernel_size[1:], self.stride[1:], self.dilation[1:])
            )
        return super().forward(x)

    def extra_repr(self) -> str:
        time = f"time_padding={self.time_padding}, time_padding_mode={self.time_padding_mode}"
        return f"{super().extra_repr()}, {time}" + (", same_padding=True" if self.same_padding else "")


class BatchNormAct3d(nn.BatchNorm3d):
    """``BatchNorm3d`` followed by dropout and an activation: the 3D form of timm's ``BatchNormAct2d``.

    Like timm's layer it inherits from the BN class, so that its state_dict keys are a plain BN's.

    Args:
        num_features, eps, momentum, affine, track_running_stats: ``nn.BatchNorm3d``'s.
        drop: applied after normalisation (``nn.Identity`` for none).
        act: applied last (``nn.Identity`` for none).
    """

    def __init__(
        self,
        num_features: int,
        *,
        eps: float,
        momentum: float | None,
        affine: bool,
        track_running_stats: bool,
        drop: nn.Module,
        act: nn.Module,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.drop = drop
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T, H, W] -> [B, C, T, H, W]."""
        return self.act(self.drop(super().forward(x)))


def inflate(
    model2d: nn.Module,
    *,
    time_kernel: PerConv = 3,
    time_stride: PerConv = 1,
    pool_time: PoolTime = (1, 1),
    mode: Literal["mean", "center"] = "mean",
    time_padding_mode: Literal["replicate", "zeros"] = "replicate",
) -> nn.Module:
    """A 3D copy of ``model2d`` that maps clips [B, C, T, H, W] to what ``model2d`` maps images [B, C, H, W] to.

    ``model2d`` is not modified. The copy keeps its class, dtype, device, train/eval mode and
    ``requires_grad`` flags; see the module docstring for the rules and the boring-video identity.

    Args:
        model2d: the image network.
        time_kernel: kt of every convolution (odd), or ``f(name, conv2d) -> kt`` with ``name`` the
            convolution's path in the model (``"layer1.0.conv2"``); e.g. ``lambda name, conv:
            conv.kernel_size[0]`` inflates k x k to k x k x k as I3D does.
        time_stride: temporal stride of every convolution, or ``f(name, conv2d) -> stride``.
        pool_time: (temporal kernel, temporal stride) of every max/average pool, or ``f(name, pool2d) ->
            (kernel, stride)``; the default (1, 1) keeps T through the pools.
        mode: ``"mean"`` (each temporal slice W / kt) or ``"center"`` (W in the middle slice, 0 elsewhere).
        time_padding_mode: how convolutions pad the kt // 2 frames at each end of the clip.

    Returns:
        The 3D network; every inflated convolution is an :class:`InflatedConv3d`.

    Raises:
        ConfigError: an invalid option (even or non-positive time kernel, unknown mode), or a layer that
            cannot be inflated (the message names its path and class).
    """
    if mode not in ("mean", "center"):
        raise ConfigError(f"inflate: mode must be 'mean' or 'center', got {mode!r}")
    if time_padding_mode not in ("replicate", "zeros"):
        raise ConfigError(
            f"inflate: time_padding_mode must be 'replicate' or 'zeros', got {time_padding_mode!r}"
        )
    inflater = _Inflater(time_kernel, time_stride, pool_time, mode, time_padding_mode)
    return inflater(copy.deepcopy(model2d), "")


class _Inflater:
    """Walks a (copied) model and swaps its 2D layers for 3D ones; modules shared in 2D stay shared."""

    def __init__(
        self,
        time_kernel: PerConv,
        time_stride: PerConv,
        pool_time: PoolTime,
        mode: str,
        time_padding_mode: str,
    ) -> None:
        self.time_kernel = time_kernel
        self.time_stride = time_stride
        self.pool_time = pool_time
        self.mode = mode
        self.time_padding_mode = time_padding_mode
        self.done: dict[int, nn.Module] = {}

    def __call__(self, module: nn.Module, name: str) -> nn.Module:
        if id(module) in self.done:
            return self.done[id(module)]
        new = self._convert(module, name)
        if new is None:
            _check_rank_agnostic(module, name)
            for child_name, child in module.named_children():
                setattr(module, child_name, self(child, f"{name}.{child_name}" if name else child_name))
            new = module
        else:
            new.train(module.training)
        self.done[id(module)] = new
        return new

    def _convert(self, module: nn.Module, name: str) -> nn.Module | None:
        kind = type(module)
        if kind is nn.Conv2d or _is_timm_layer(module, "Conv2dSame"):
            return self._conv(module, name)
        if kind is nn.BatchNorm2d or _is_timm_layer(module, "BatchNormAct2d"):
            return self._batch_norm(module, name)
        if kind is nn.MaxPool2d:
            kt, st = self._pool_time(module, name)
            return nn.MaxPool3d(
                (kt, *_pair(module.kernel_size)),
                stride=(st, *_pair(module.stride)),
                padding=((kt - 1) // 2, *_pair(module.padding)),
                dilation=(1, *_pair(module.dilation)),
                return_indices=module.return_indices,
                ceil_mode=module.ceil_mode,
            )
        if kind is nn.AvgPool2d:
            kt, st = self._pool_time(module, name)
            divisor = module.divisor_override
            return nn.AvgPool3d(
                (kt, *_pair(module.kernel_size)),
                stride=(st, *_pair(module.stride)),
                padding=((kt - 1) // 2, *_pair(module.padding)),
                ceil_mode=module.ceil_mode,
                count_include_pad=module.count_include_pad,
                divisor_override=divisor * kt if divisor else None,
            )
        if kind is nn.AdaptiveAvgPool2d:
            return nn.AdaptiveAvgPool3d((1, *_pair(module.output_size)))
        if kind is nn.AdaptiveMaxPool2d:
            return nn.AdaptiveMaxPool3d((1, *_pair(module.output_size)), return_indices=module.return_indices)
        if kind is nn.Dropout2d:
            return nn.Dropout3d(module.p, inplace=module.inplace)
        return None

    def _conv(self, conv: nn.Conv2d, name: str) -> InflatedConv3d:
        kt = _resolve(self.time_kernel, name, conv)
        stride = _resolve(self.time_stride, name, conv)
        if kt < 1 or kt % 2 == 0:
            raise ConfigError(
                f"inflate: {name or 'the model'}: the time kernel must be odd and positive "
                f"(it is padded by kt // 2 at each end), got {kt}"
            )
        if stride < 1:
            raise ConfigError(
                f"inflate: {name or 'the model'}: the time stride must be positive, got {stride}"
            )
        weight = conv.weight
        conv3d = skip_init(  # the weights are set below; skip the random initialisation
            InflatedConv3d,
            conv.in_channels,
            conv.out_channels,
            (kt, *conv.kernel_size),
            stride=(stride, *conv.stride),
            padding=(0, *_spatial_padding(conv, name)),
            dilation=(1, *conv.dilation),
            groups=conv.groups,
            bias=conv.bias is not None,
            padding_mode=conv.padding_mode,
            time_padding=kt // 2,
            time_padding_mode=self.time_padding_mode,
            same_padding=type(conv) is not nn.Conv2d,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            if self.mode == "mean":
                conv3d.weight.copy_(weight.unsqueeze(2).expand(-1, -1, kt, -1, -1) / kt)
            else:
                conv3d.weight.zero_()
                conv3d.weight[:, :, kt // 2].copy_(weight)
            if conv.bias is not None:
                conv3d.bias.copy_(conv.bias)
                conv3d.bias.requires_grad_(conv.bias.requires_grad)
        conv3d.weight.requires_grad_(weight.requires_grad)
        return conv3d

    def _batch_norm(self, bn: nn.BatchNorm2d, name: str) -> nn.BatchNorm3d:
        like = next((t for t in bn.state_dict().values() if t.is_floating_point()), None)
        options = dict(
            eps=bn.eps,
            momentum=bn.momentum,
            affine=bn.affine,
            track_running_stats=bn.track_running_stats,
            device=None if like is None else like.device,
            dtype=None if like is None else like.dtype,
        )
        if type(bn) is nn.BatchNorm2d:
            bn3d = nn.BatchNorm3d(bn.num_features, **options)
        else:
            bn3d = BatchNormAct3d(
                bn.num_features,
                drop=self(bn.drop, f"{name}.drop"),
                act=self(bn.act, f"{name}.act"),
                **options,
            )
        bn3d.load_state_dict(bn.state_dict())
        for new, old in zip(bn3d.parameters(recurse=False), bn.parameters(recurse=False), strict=True):
            new.requires_grad_(old.requires_grad)
        return bn3d

    def _pool_time(self, pool: nn.Module, name: str) -> tuple[int, int]:
        spec = self.pool_time(name, pool) if callable(self.pool_time) else self.pool_time
        kernel, stride = spec
        if kernel < 1 or stride < 1:
            raise ConfigError(
                f"inflate: {name or 'the model'}: pool_time must be a positive (kernel, stride), got {spec}"
            )
        return kernel, stride


def _resolve(option: PerConv, name: str, conv: nn.Conv2d) -> int:
    return option(name, conv) if callable(option) else option


def _spatial_padding(conv: nn.Conv2d, name: str) -> tuple[int, int]:
    """The 2D convolution's padding as two ints (``"valid"``/``"same"`` strings resolved)."""
    if conv.padding == "valid":
        return 0, 0
    if conv.padding == "same":
        totals = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size, strict=True)]
        if any(t % 2 for t in totals):
            raise ConfigError(
                f"inflate: {name or 'the model'}: padding='same' is asymmetric for kernel {conv.kernel_size}"
            )
        return totals[0] // 2, totals[1] // 2
    return conv.padding


def _is_timm_layer(module: nn.Module, class_name: str) -> bool:
    kind = type(module)
    return kind.__name__ == class_name and kind.__module__.startswith("timm.")


def _check_rank_agnostic(module: nn.Module, name: str) -> None:
    """Raise for a layer that only works on 4D tensors and has no 3D rule (the model's other layers are kept)."""
    kind = type(module)
    has_children = next(module.children(), None) is not None
    four_d = isinstance(module, _FOUR_D_ONLY) or (not has_children and kind.__name__.lower().endswith("2d"))
    base = next((b for b in _CONVERTED if isinstance(module, b)), None)
    if base is not None:
        reason = f"a subclass of {base.__name__} with its own forward, which inflate does not know"
    elif four_d:
        reason = "a 4D-only layer with no 3D rule"
    else:
        return
    raise ConfigError(
        f"inflate: cannot inflate {name or 'the model'} ({kind.__module__}.{kind.__qualname__}): {reason}"
    )
