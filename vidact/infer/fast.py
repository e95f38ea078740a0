"""The CPU inference fast path: channels-last memory, bfloat16 compute, folded BatchNorms.

    >>> fast = optimize_for_inference(build_model("r2plus1d_18"))
    >>> logits = fast(clips)          # clips [B, 3, T, H, W] float32 -> logits [B, K] float32

:func:`optimize_for_inference` returns a :class:`FastPath`, an inference-only copy of the model that takes and
returns what the model does, and inside:

1. folds every eval-mode BatchNorm that directly follows a convolution into that convolution
   (:func:`fold_batch_norms`), which removes a pass over every activation map;
2. stores 5-D weights as ``channels_last_3d`` and 4-D ones as ``channels_last``, and converts the input to
   match, so that oneDNN runs its channels-last convolution kernels without reordering the activations;
3. stores convolution and linear weights in bfloat16 and runs the model under CPU autocast to bfloat16:
   convolutions and matrix products run in bfloat16 on CPUs with AVX-512 BF16 or AMX (about 2x the float32
   throughput), accumulate in float32, and the logits come back as float32;
4. runs under ``torch.inference_mode`` (no autograd bookkeeping; the logits are inference tensors);
5. optionally (``compile=True``) compiles the model with TorchInductor, freezing on (weights become constants
   that it prepacks for oneDNN, with pointwise operations fused). Compiling takes tens of seconds per input
   shape on a small CPU and gained little over the eager fast path here, so it is opt-in.

Accuracy. Folding and the channels-last layout are exact up to float32 rounding (``bf16=False`` keeps float32
results). bfloat16 keeps 8 bits of mantissa: on the model families here (random weights, real and synthetic
clips) the logits move by at most about 1% of the largest logit's magnitude (0.1% on average), and on
EfficientNet-Lite0's depthwise convolutions by up to 6%. That flips the top-1 class only where the float32
top-2 nearly tie, so how often depends on how close a clip set's decisions are: on 0-1% of the clips for the
3D families' raw logits, on up to 10% once their logits are centred so that every decision is a close one,
and on 5% of real video frames for EfficientNet-Lite0's ImageNet classifier, none of them a frame that float32
classifies with a probability of 0.5 or more (``benchmarks/models.py`` measures all three per model;
``tests/test_fast.py`` holds the bounds).

Speed: ``benchmarks/models.py`` measures every family against eager float32 and against the CPU's bfloat16
matmul throughput. The convolutions are what bfloat16 speeds up; BatchNorm folding and storing the weights in
bfloat16 (rather than letting autocast cast them on every call) trim the passes around them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.fx
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..errors import ConfigError

__all__ = ["FastPath", "optimize_for_inference", "fold_batch_norms"]

_CONV_BN_PAIRS: tuple[tuple[type[_ConvNd], type[_BatchNorm]], ...] = (
    (nn.Conv1d, nn.BatchNorm1d),
    (nn.Conv2d, nn.BatchNorm2d),
    (nn.Conv3d, nn.BatchNorm3d),
)


class _ConvLeafTracer(torch.fx.Tracer):
    """An fx tracer that keeps every convolution whole, subclasses (e.g. TensorFlow "SAME" padding) included."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, _ConvNd) or super().is_leaf_module(module, qualified_name)


def _folds_exactly(conv: _ConvNd, bn: _BatchNorm, folded: _ConvNd) -> bool:
    """Whether ``folded(x) == bn(conv(x))`` on a random probe, for a convolution subclass of unknown forward.

    True for every subclass that applies ``weight`` and ``bias`` as a convolution does (padding variants);
    false for one that transforms its weight first (e.g. weight standardisation), which must not be folded.
    """
    # The smallest input that every kernel, stride and padding combination turns into at least one output.
    size = [(k - 1) * d + 1 + s for k, d, s in zip(conv.kernel_size, conv.dilation, conv.stride, strict=True)]
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn(2, conv.in_channels, *size, generator=generator, dtype=conv.weight.dtype)
    with torch.no_grad():
        expected = bn(conv(probe))
        return torch.allclose(folded(probe), expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def _fold_in_graph(module: nn.Module) -> int | None:
    """Fold the conv -> BN pairs that ``module``'s traced graph proves safe; None if it cannot be traced.

    A pair is folded when the BatchNorm's only input is the convolution's output, that output has no other
    user, and each of the two modules is called once in the graph. The BatchNorm becomes an ``nn.Identity``.
    """
    try:
        graph = _ConvLeafTracer().trace(module)
    except Exception:  # noqa: BLE001  (tracing fails in many ways on shape-dependent Python control flow)
        return None
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    folded = 0
    for node in graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        source = node.args[0]
        if not isinstance(source, torch.fx.Node) or source.op != "call_module" or len(source.users) != 1:
            continue
        if calls[node.target] != 1 or calls[source.target] != 1:
            continue
        bn, conv = module.get_submodule(node.target), module.get_submodule(source.target)
        pair = next(((c, b) for c, b in _CONV_BN_PAIRS if type(bn) is b and isinstance(conv, c)), None)
        if pair is None or bn.training or conv.training or not bn.track_running_stats:
            continue
        fused = fuse_conv_bn_eval(conv, bn)
        if type(conv) is not pair[0] and not _folds_exactly(conv, bn, fused):
            continue
        _replace_submodule(module, source.target, fused)
        _replace_submodule(module, node.target, nn.Identity())
        folded += 1
    return folded


def _replace_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def fold_batch_norms(model: nn.Module) -> int:
    """Fold, in place, every eval-mode BatchNorm that directly follows a convolution into the convolution.

    The convolution's weight becomes ``weight * gamma / sqrt(var + eps)`` (per output channel) and its bias
    ``(bias - mean) * gamma / sqrt(var + eps) + beta``; the BatchNorm becomes an ``nn.Identity``. The data flow
    is read from ``torch.fx`` graphs: the model is traced whole if it can be, else each child is tried in turn
    (SlowFast's input switch or I3D's size-dependent padding only stop tracing at their own level). Only
    ``nn.BatchNorm{1,2,3}d`` themselves are folded (subclasses such as timm's ``BatchNormAct2d`` also apply
    an activation), and into a convolution subclass only when a probe shows the fold exact.

    Args:
        model: a module in eval mode (training-mode BatchNorms use batch statistics and are left alone).

    Returns:
        The number of BatchNorms folded.
    """
    folded = _fold_in_graph(model)
    if folded is not None:
        return folded
    return sum(fold_batch_norms(child) for child in model.children())


def _to_inference_layout(model: nn.Module, *, channels_last: bool, bf16: bool) -> None:
    """In place: channels-last weights (5-D and 4-D) and, with ``bf16``, bfloat16 conv and linear parameters.

    Parameters shared between modules stay shared. Norm layers and everything else keep float32; autocast
    feeds them the bfloat16 activations.
    """
    converted: dict[int, nn.Parameter] = {}
    for module in model.modules():
        low_precision = bf16 and isinstance(module, (_ConvNd, nn.Linear))
        for name, param in list(module.named_parameters(recurse=False)):
            if id(param) not in converted:
                tensor = param.detach()
                if low_precision:
                    tensor = tensor.to(torch.bfloat16)
                if channels_last and tensor.dim() in (4, 5):
                    tensor = tensor.contiguous(memory_format=_channels_last_format(tensor))
                converted[id(param)] = nn.Parameter(tensor, requires_grad=False)
            setattr(module, name, converted[id(param)])


def _channels_last_format(tensor: Tensor) -> torch.memory_format:
    return torch.channels_last_3d if tensor.dim() == 5 else torch.channels_last


class FastPath(nn.Module):
    """An inference-only model for CPUs: same inputs and outputs as ``model``, computed faster.

    Build it with :func:`optimize_for_inference`, which prepares ``model`` (folds, lays out and casts its
    weights); the forward pass converts the input and runs under inference mode and autocast.

    Args:
        model: the prepared model; it takes a clip batch [B, C, T, H, W] (or a list of them, as SlowFast's
            ``[slow, fast]``) and returns logits [B, K].
        channels_last: convert 5-D inputs to ``channels_last_3d`` (4-D: ``channels_last``).
        bf16: run under CPU autocast to bfloat16 and return float32 logits.
    """

    def __init__(self, model: nn.Module, *, channels_last: bool = True, bf16: bool = True) -> None:
        super().__init__()
        self.model = model
        self.channels_last = channels_last
        self.bf16 = bf16

    def _prepare(self, x: Tensor) -> Tensor:
        if self.channels_last and x.dim() in (4, 5):
            return x.contiguous(memory_format=_channels_last_format(x))
        return x

    def forward(self, x: Tensor | Sequence[Tensor]) -> Tensor:
        """Float32 logits [B, K] of a float32 clip batch [B, C, T, H, W] or of a list of them."""
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            inputs = self._prepare(x) if isinstance(x, Tensor) else [self._prepare(clip) for clip in x]
            return self.model(inputs).float()


def optimize_for_inference(
    model: nn.Module,
    *,
    channels_last: bool = True,
    bf16: bool = True,
    fold_bn: bool = True,
    compile: bool = False,
) -> FastPath:
    """A fast CPU inference copy of ``model`` (which is left unchanged): see the module docstring.

    Args:
        model: maps a float32 clip batch [B, C, T, H, W] (or a list of them) to logits [B, K].
        channels_last: channels-last weights and inputs.
        bf16: bfloat16 convolution and linear weights, autocast to bfloat16, float32 logits.
        fold_bn: fold BatchNorms into the convolutions before them (:func:`fold_batch_norms`).
        compile: compile with ``torch.compile`` (TorchInductor, freezing on, static shapes): every new input
            shape compiles again, which takes seconds to minutes on a small CPU; needs a C++ compiler.

    Returns:
        A :class:`FastPath` in eval mode: [B, C, T, H, W] float32 -> [B, K] float32 inference tensors.

    Raises:
        ConfigError: ``model`` has parameters on a device other than the CPU.
    """
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise ConfigError(
            f"optimize_for_inference: the fast path runs on CPU; the model has {devices} parameters"
        )
    prepared = copy.deepcopy(model).eval()
    if fold_bn:
        fold_batch_norms(prepared)
    _to_inference_layout(prepared, channels_last=channels_last, bf16=bf16)
    if compile:
        prepared = torch.compile(prepared, dynamic=False, options={"freezing": True})
    return FastPath(prepared, channels_last=channels_last, bf16=bf16).eval()
