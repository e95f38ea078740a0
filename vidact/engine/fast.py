"""The inference fast path: channels-last memory, bfloat16 compute, folded BatchNorms.

    >>> precision = resolve_inference_precision("auto", device)    # "bf16" where it is native, else "32"
    >>> model = prepare_for_inference(build_model("r2plus1d_18"), precision, device)
    >>> logits = model(clips)         # clips [B, 3, T, H, W] float32 -> logits [B, K] float32

:func:`resolve_inference_precision` and :func:`prepare_for_inference` are what the commands (``vidact predict``,
``eval``, ``extract features``) call: ``--precision auto`` (the default) means bf16 where the hardware computes
it natively (:func:`vidact.engine.precision.native_bf16`: CPUs with AVX512-BF16 or AMX, GPUs with bfloat16) —
inference needs only sound forward passes, so it takes bf16 also on CPUs where training does not
(:func:`~vidact.engine.precision.bf16_training`) — and ``--precision 32`` keeps the eager float32 model.

:func:`optimize_for_inference` returns a :class:`FastPath`, an inference-only copy of the model that takes and
returns what the model does, and inside:

1. folds every eval-mode BatchNorm that directly follows a convolution into that convolution, in float32
   (:func:`fold_batch_norms`; timm's ``BatchNormAct2d`` too, its activation kept), which removes a pass
   over every activation map;
2. stores 5-D weights as ``channels_last_3d`` and 4-D ones as ``channels_last``, and converts the input to
   match, so that oneDNN runs its channels-last convolution kernels without reordering the activations;
3. stores convolution and linear weights in bfloat16 and runs the model under CPU autocast to bfloat16:
   convolutions and matrix products run in bfloat16 on CPUs with AVX-512 BF16 or AMX (about 2x the float32
   throughput), accumulate in float32, and the logits come back as float32. Layers that a model declares
   too sensitive for bfloat16 (``float32_modules``, see :func:`declared_float32_modules`) run in float32,
   each inside a :class:`Float32Island`;
4. runs under ``torch.inference_mode`` (no autograd bookkeeping; the logits are inference tensors);
5. optionally (``compile=True``) compiles the model with TorchInductor, freezing on (weights become constants
   that it prepacks for oneDNN, with pointwise operations fused). Compiling takes tens of seconds per input
   shape on a small CPU and gained little over the eager fast path here, so it is opt-in.

Accuracy. Folding and the channels-last layout are exact up to float32 rounding (``bf16=False`` keeps float32
results). bfloat16 keeps 8 bits of mantissa: on the model families here (random weights, real and synthetic
clips) the logits move by at most about 1% of the largest logit's magnitude (0.1% on average). Trained weights
can be more sensitive: bfloat16 throughout moves the ImageNet EfficientNet-Lite0's logits of real video frames
by up to 6.3%, almost all of it from rounding the weights of its early, high-resolution layers and of its
depthwise convolutions, so that network declares those (45% of its multiply-adds) float32, which brings it to
1.2%. bfloat16 flips the top-1 class only where the float32 top-2 nearly tie, so how often depends on how
close a clip set's decisions are: on 0-1% of the clips for the 3D families' raw logits, on up to 10% once
their logits are centred so that every decision is a close one, and on about 1% of real video frames for
EfficientNet-Lite0's ImageNet classifier (``benchmarks/models.py`` measures all three per model;
``tests/test_fast.py`` holds the bounds).

Speed: ``benchmarks/models.py`` measures every family against eager float32 and against the CPU's bfloat16
matmul throughput. The convolutions are what bfloat16 speeds up; BatchNorm folding and storing the weights in
bfloat16 (rather than letting autocast cast them on every call) trim the passes around them.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import torch
import torch.fx
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..errors import ConfigError
from .precision import resolve_settings

__all__ = [
    "FastPath",
    "Float32Island",
    "InferencePrecision",
    "resolve_inference_precision",
    "prepare_for_inference",
    "optimize_for_inference",
    "fold_batch_norms",
    "declared_float32_modules",
]

InferencePrecision = Literal["bf16", "32"]
_PRECISIONS = ("auto", "32", "bf16")
#: Devices the fast path runs on: CPU autocast and CUDA autocast both compute bfloat16 and accumulate in float32.
_DEVICE_TYPES = ("cpu", "cuda")

_CONV_BN_PAIRS: tuple[tuple[type[_ConvNd], type[_BatchNorm]], ...] = (
    (nn.Conv1d, nn.BatchNorm1d),
    (nn.Conv2d, nn.BatchNorm2d),
    (nn.Conv3d, nn.BatchNorm3d),
)


class _ConvLeafTracer(torch.fx.Tracer):
    """An fx tracer that keeps every convolution and every BatchNorm whole, subclasses included.

    Convolution subclasses (e.g. TensorFlow "SAME" padding) often compute their padding from the input's size,
    which does not trace; BatchNorm subclasses (e.g. timm's ``BatchNormAct2d``) would otherwise be traced
    through, leaving no module call to fold.
    """

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, (_ConvNd, _BatchNorm)) or super().is_leaf_module(module, qualified_name)


def _after_normalisation(bn: _BatchNorm) -> nn.Module | None:
    """What of ``bn``'s forward is left once its normalisation is folded away; None if that is not known.

    ``nn.BatchNorm{1,2,3}d`` leave nothing (``nn.Identity``). A subclass that follows timm's norm-act
    convention (``BatchNormAct2d``: batch norm, then its ``drop`` module, then its ``act`` module) leaves
    ``drop`` then ``act``, without the parts that are identities. Any other subclass is left alone.
    """
    if type(bn) in {b for _, b in _CONV_BN_PAIRS}:
        return nn.Identity()
    parts = [getattr(bn, name, None) for name in ("drop", "act")]
    if not isinstance(parts[1], nn.Module) or not (parts[0] is None or isinstance(parts[0], nn.Module)):
        return None
    kept = [part for part in parts if part is not None and not isinstance(part, nn.Identity)]
    return nn.Sequential(*kept) if kept else nn.Identity()


def _folds_exactly(conv: _ConvNd, bn: _BatchNorm, folded: _ConvNd, rest: nn.Module) -> bool:
    """Whether ``rest(folded(x)) == bn(conv(x))`` on a random probe, for modules of unknown forward.

    True for a convolution subclass that applies ``weight`` and ``bias`` as a convolution does (padding
    variants) and for a BatchNorm subclass that normalises and then applies ``rest``; false for a convolution
    that transforms its weight first (e.g. weight standardisation) or a BatchNorm subclass that does anything
    else, neither of which may be folded.
    """
    # The smallest input that every kernel, stride and padding combination turns into at least one output.
    size = [(k - 1) * d + 1 + s for k, d, s in zip(conv.kernel_size, conv.dilation, conv.stride, strict=True)]
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn(2, conv.in_channels, *size, generator=generator, dtype=conv.weight.dtype)
    with torch.no_grad():
        expected = bn(conv(probe))
        got = rest(folded(probe))
        return torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def _fold_in_graph(module: nn.Module) -> int | None:
    """Fold the conv -> BN pairs that ``module``'s traced graph proves safe; None if it cannot be traced.

    A pair is folded when the BatchNorm's only input is the convolution's output, that output has no other
    user, and each of the two modules is called once in the graph. The BatchNorm is replaced by what its
    forward does after normalising (:func:`_after_normalisation`: ``nn.Identity`` for a plain BatchNorm).
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
        pair = next(((c, b) for c, b in _CONV_BN_PAIRS if isinstance(bn, b) and isinstance(conv, c)), None)
        if pair is None or bn.training or conv.training or not bn.track_running_stats:
            continue
        rest = _after_normalisation(bn)
        if rest is None:
            continue
        fused = fuse_conv_bn_eval(conv, bn)
        if (type(conv), type(bn)) != pair and not _folds_exactly(conv, bn, fused, rest):
            continue
        _replace_submodule(module, source.target, fused)
        _replace_submodule(module, node.target, rest)
        folded += 1
    return folded


def _replace_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def fold_batch_norms(model: nn.Module) -> int:
    """Fold, in place, every eval-mode BatchNorm that directly follows a convolution into the convolution.

    The convolution's weight becomes ``weight * gamma / sqrt(var + eps)`` (per output channel) and its bias
    ``(bias - mean) * gamma / sqrt(var + eps) + beta``, computed in the weights' precision (float32 for a
    float32 model; :func:`optimize_for_inference` casts to bfloat16 only afterwards). A plain
    ``nn.BatchNorm{1,2,3}d`` becomes an ``nn.Identity``; a norm-act subclass that follows timm's convention
    (``BatchNormAct2d``: normalise, then its ``drop``, then its ``act`` module) becomes what it applies after
    normalising (e.g. the ReLU6 of EfficientNet-Lite), once a probe shows the fold exact. The data flow is
    read from ``torch.fx`` graphs: the model is traced whole if it can be, else each child is tried in turn
    (SlowFast's input switch or I3D's size-dependent padding only stop tracing at their own level). A
    convolution subclass is folded into only when a probe shows the fold exact.

    Args:
        model: a module in eval mode (training-mode BatchNorms use batch statistics and are left alone).

    Returns:
        The number of BatchNorms folded.
    """
    folded = _fold_in_graph(model)
    if folded is not None:
        return folded
    return sum(fold_batch_norms(child) for child in model.children())


def declared_float32_modules(model: nn.Module) -> tuple[str, ...]:
    """The submodules of ``model`` that declare themselves too sensitive for bfloat16, by qualified name.

    Any submodule (``model`` itself included) may hold a ``float32_modules`` attribute: a sequence of names of
    its own submodules that the fast path must run in float32 (as Hugging Face models list theirs in
    ``_keep_in_fp32_modules``). The ImageNet EfficientNet-Lite0 declares its stem and first four stages
    (:func:`vidact.models.per_frame.efficientnet_lite0_imagenet`).
    """
    names = []
    for prefix, module in model.named_modules():
        for name in getattr(module, "float32_modules", ()):
            names.append(f"{prefix}.{name}" if prefix else name)
    return tuple(names)


class Float32Island(nn.Module):
    """Runs ``module`` in float32 inside the fast path's bfloat16 autocast region.

    Floating-point tensor inputs (bfloat16 activations from the layers before) are cast to float32, and
    autocast is off inside, so that ``module``'s convolutions and matrix products run in float32 with its
    float32 weights. Its outputs stay float32; the bfloat16 layers after it cast them back under autocast.

    Args:
        module: any module; it takes and returns what it did before.
        device_type: the autocast device type to turn off inside (``"cpu"`` or ``"cuda"``).
    """

    def __init__(self, module: nn.Module, device_type: str = "cpu") -> None:
        super().__init__()
        self.module = module
        self.device_type = device_type

    def forward(self, *args: object, **kwargs: object) -> object:
        """``module(*args, **kwargs)`` in float32 (each tensor argument keeps its shape and memory format)."""
        with torch.autocast(self.device_type, enabled=False):
            return self.module(*_to_float32(args), **_to_float32(kwargs))


def _to_float32(value: object, *, contiguous: bool = False) -> object:
    """``value`` with every floating-point tensor in it (in lists, tuples and dicts too) cast to float32 and,
    with ``contiguous``, every tensor in the default (row-major) memory format."""
    if isinstance(value, Tensor):
        dtype = torch.float32 if value.is_floating_point() else value.dtype
        if contiguous:
            return value.to(dtype, memory_format=torch.contiguous_format)
        return value.to(dtype)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float32(v, contiguous=contiguous) for v in value)
    if isinstance(value, dict):
        return {k: _to_float32(v, contiguous=contiguous) for k, v in value.items()}
    return value


def _outermost(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` without repeats and without those inside another one (already float32 inside it)."""
    unique = list(dict.fromkeys(names))
    return tuple(n for n in unique if not any(n.startswith(f"{other}.") for other in unique))


def _to_inference_layout(
    model: nn.Module, *, channels_last: bool, bf16: bool, float32_modules: Sequence[str] = ()
) -> None:
    """In place: channels-last weights (5-D and 4-D) and, with ``bf16``, bfloat16 conv and linear parameters.

    Parameters shared between modules stay shared. Norm layers, everything else, and every parameter of the
    ``float32_modules`` subtrees (even one they share with a module outside) keep float32; autocast feeds the
    norm layers the bfloat16 activations.
    """
    float32_params = {
        id(param) for name in float32_modules for param in model.get_submodule(name).parameters()
    }
    converted: dict[int, nn.Parameter] = {}
    for module in model.modules():
        low_precision = bf16 and isinstance(module, (_ConvNd, nn.Linear))
        for name, param in list(module.named_parameters(recurse=False)):
            if id(param) not in converted:
                tensor = param.detach()
                if low_precision and id(param) not in float32_params:
                    tensor = tensor.to(torch.bfloat16)
                if channels_last and tensor.dim() in (4, 5):
                    tensor = tensor.contiguous(memory_format=_channels_last_format(tensor))
                converted[id(param)] = nn.Parameter(tensor, requires_grad=False)
            setattr(module, name, converted[id(param)])


def _channels_last_format(tensor: Tensor) -> torch.memory_format:
    return torch.channels_last_3d if tensor.dim() == 5 else torch.channels_last


class FastPath(nn.Module):
    """An inference-only model: same inputs and outputs as ``model``, computed faster.

    Build it with :func:`optimize_for_inference` (or :func:`prepare_for_inference`), which prepares ``model``
    (folds, lays out and casts its weights); every computing method converts its inputs and runs under inference
    mode and autocast. The model contract holds through it: ``forward``, ``forward_features``, ``forward_head``
    and any other ``forward_*`` method of the model (``forward_frames`` of per-frame models, ...) take what the
    model's own do and return float32 tensors of the same shapes, in the default memory format (inference
    tensors: no autograd); every other attribute (``num_classes``, ``num_features``, ``consensus``,
    ``get_classifier()``, ...) is the model's.

    Args:
        model: the prepared model; it takes a clip batch [B, C, T, H, W] (or a list of them, as SlowFast's
            ``[slow, fast]``, or an image batch [B, C, H, W]) and returns logits [B, K].
        channels_last: convert 5-D inputs to ``channels_last_3d`` (4-D: ``channels_last``).
        bf16: run under autocast to bfloat16 and return float32 outputs.
        folded_batch_norms: how many BatchNorms were folded into convolutions (reported, not used).
        float32_modules: the qualified names of the submodules that run in float32 (reported, not used).
        device_type: where ``model`` runs, ``"cpu"`` or ``"cuda"`` (the autocast device type).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        channels_last: bool = True,
        bf16: bool = True,
        folded_batch_norms: int = 0,
        float32_modules: Sequence[str] = (),
        device_type: str = "cpu",
    ) -> None:
        super().__init__()
        self.model = model
        self.channels_last = channels_last
        self.bf16 = bf16
        self.folded_batch_norms = folded_batch_norms
        self.float32_modules = tuple(float32_modules)
        self.device_type = device_type

    def _prepare(self, x: object) -> object:
        """A tensor argument in the weights' memory format (lists of clips, as SlowFast's pair, each; dicts of
        inputs, as a two-stream pair's ``{"video", "flow"}``, each value)."""
        if isinstance(x, Tensor):
            if self.channels_last and x.dim() in (4, 5):
                return x.contiguous(memory_format=_channels_last_format(x))
            return x
        if isinstance(x, (list, tuple)) and x and all(isinstance(v, Tensor) for v in x):
            return type(x)(self._prepare(v) for v in x)
        if isinstance(x, Mapping):
            return {key: self._prepare(value) for key, value in x.items()}
        return x

    def _run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``method(*args, **kwargs)`` of the prepared model under inference mode and autocast; float32 out."""
        with (
            torch.inference_mode(),
            torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16),
        ):
            out = method(*(self._prepare(arg) for arg in args), **kwargs)
        return _to_float32(out, contiguous=True)

    def forward(self, x: Tensor | Sequence[Tensor]) -> Tensor:
        """Float32 logits [B, K] of a float32 clip batch [B, C, T, H, W] or of a list of them."""
        return self._run(self.model, x)

    def forward_features(self, x: Tensor | Sequence[Tensor]) -> Any:
        """The model's unpooled features of ``x`` (a clip batch [B, C, T, H, W] or a list of them), float32:
        [B, D, T', H', W'] for 3D CNNs, [B, T, D] per frame, ``[slow, fast]`` maps for SlowFast."""
        return self._run(self.model.forward_features, x)

    def forward_head(self, features: Any, pre_logits: bool = False) -> Tensor:
        """The model's head on ``forward_features``' output: float32 logits [B, K], or pooled features
        [B, num_features] with ``pre_logits``."""
        return self._run(self.model.forward_head, features, pre_logits=pre_logits)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)  # parameters, buffers and submodules of the wrapper itself
        except AttributeError:
            pass
        attr = getattr(super().__getattr__("model"), name)
        if name.startswith("forward_") and callable(attr):
            return functools.partial(self._run, attr)
        return attr


def optimize_for_inference(
    model: nn.Module,
    *,
    channels_last: bool = True,
    bf16: bool = True,
    fold_bn: bool = True,
    float32_modules: Sequence[str] | None = None,
    compile: bool = False,
    device: torch.device | str = "cpu",
) -> FastPath:
    """A fast inference copy of ``model`` (which is left unchanged): see the module docstring.

    Args:
        model: maps a float32 clip batch [B, C, T, H, W] (or a list of them) to logits [B, K].
        channels_last: channels-last weights and inputs.
        bf16: bfloat16 convolution and linear weights, autocast to bfloat16, float32 logits.
        fold_bn: fold BatchNorms into the convolutions before them (:func:`fold_batch_norms`).
        float32_modules: qualified names of submodules to run in float32 under ``bf16`` (each wrapped in a
            :class:`Float32Island`, its weights kept float32). None: the ones ``model`` declares
            (:func:`declared_float32_modules`); ``()``: none, bfloat16 throughout.
        compile: compile with ``torch.compile`` (TorchInductor, freezing on, static shapes): every new input
            shape compiles again, which takes seconds to minutes on a small CPU; needs a C++ compiler.
        device: where the copy runs, a CPU or a CUDA device (it is prepared on the CPU, then moved there).

    Returns:
        A :class:`FastPath` in eval mode: [B, C, T, H, W] float32 -> [B, K] float32 inference tensors.

    Raises:
        ConfigError: ``device`` is neither a CPU nor a CUDA device, ``model`` has parameters on another kind
            of device, or a ``float32_modules`` name is not one of its submodules.
    """
    device = torch.device(device)
    devices = {p.device.type for p in model.parameters()} | {device.type}
    if devices - set(_DEVICE_TYPES):
        raise ConfigError(
            f"optimize_for_inference: the fast path runs on CPU or CUDA; the model has {sorted(devices)} "
            "parameters or device"
        )
    if float32_modules is None:
        float32_modules = declared_float32_modules(model)
    float32_modules = _outermost(float32_modules) if bf16 else ()
    submodules = {name for name, _ in model.named_modules() if name}
    unknown = [name for name in float32_modules if name not in submodules]
    if unknown:
        raise ConfigError(
            f"optimize_for_inference: float32_modules {unknown} are not submodules of the model"
        )
    prepared = copy.deepcopy(model).cpu().eval()
    folded = fold_batch_norms(prepared) if fold_bn else 0
    _to_inference_layout(prepared, channels_last=channels_last, bf16=bf16, float32_modules=float32_modules)
    for name in float32_modules:
        _replace_submodule(prepared, name, Float32Island(prepared.get_submodule(name), device.type))
    prepared = prepared.to(device)
    if compile:
        prepared = torch.compile(prepared, dynamic=False, options={"freezing": True})
    return FastPath(
        prepared,
        channels_last=channels_last,
        bf16=bf16,
        folded_batch_norms=folded,
        float32_modules=float32_modules,
        device_type=device.type,
    ).eval()


def resolve_inference_precision(precision: str, device: torch.device | str) -> InferencePrecision:
    """What ``--precision`` means on ``device``: ``"auto"`` is ``"bf16"`` where ``device`` computes bfloat16
    natively (CPUs with AVX512-BF16 or AMX, CUDA GPUs with bfloat16) and ``"32"`` elsewhere, resolved by the
    training precision's rule (:func:`vidact.engine.precision.resolve_settings` with ``training=False``);
    ``"32"`` and ``"bf16"`` are themselves.

    Raises:
        ConfigError: a precision other than ``auto``, ``32`` and ``bf16``.
    """
    if precision not in _PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose from {', '.join(_PRECISIONS)}")
    settings = resolve_settings(precision, "auto", device=torch.device(device), training=False)  # type: ignore[arg-type]
    return settings.precision


def prepare_for_inference(model: nn.Module, precision: str, device: torch.device | str) -> nn.Module:
    """``model`` ready for inference on ``device`` at ``precision``, for the commands to call.

    ``"32"`` is the eager float32 model itself, in eval mode on ``device`` (what every command ran before the
    fast path). ``"bf16"`` is :func:`optimize_for_inference`'s :class:`FastPath` on ``device``: BatchNorms
    folded, channels-last bfloat16 weights, the layers the model declares sensitive kept in float32. ``"auto"``
    is resolved first (:func:`resolve_inference_precision`). Either way the result keeps the model contract:
    ``model(x)``, ``forward_features(x)``, ``forward_head(f, pre_logits=...)`` (and any other ``forward_*``
    method) take the shapes the eager model takes and return float32 tensors of the shapes it returns, e.g.
    clips [B, C, T, H, W] float32 -> logits [B, K] float32; ``num_classes``, ``num_features`` and the other
    attributes are the model's. The caller's ``model`` is left unchanged by ``"bf16"``.

    Raises:
        ConfigError: an unknown precision, or ``"bf16"`` on a device that is neither a CPU nor a CUDA GPU.
    """
    device = torch.device(device)
    if resolve_inference_precision(precision, device) == "32":
        return model.to(device).eval()
    return optimize_for_inference(model, device=device)
