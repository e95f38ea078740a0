"""vidact.engine.fast: BatchNorm folding is exact, and the bfloat16 fast path keeps the float32 model's answers."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import vidact.engine.precision as precision
from vidact.data.synth import SCENE_CLASSES, TEMPORAL_CLASSES, clip_rng, render_clip
from vidact.engine.fast import (
    FastPath,
    Float32Island,
    fold_batch_norms,
    optimize_for_inference,
    prepare_for_inference,
    resolve_inference_precision,
)
from vidact.errors import ConfigError
from vidact.io import VideoReader
from vidact.models import build_model
from vidact.models.per_frame import (
    PerFrameClassifier,
    efficientnet_lite0_weights_path,
    per_frame_efficientnet_lite0,
)
from vidact.models.weights import read_checkpoint

# The real data is ../shared/data from the project root, found from this file whatever the working directory.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KINETICS = DATA / "videos" / "kinetics"
SIZE = 32  # clip side in pixels: small enough for the whole file to run in well under a minute
BF16_LOGIT_RTOL = 0.02
"""Largest |fast - float32| logit difference allowed, as a fraction of the largest |float32 logit|: bfloat16
moves the random 3D families' logits by at most about 1% of it (0.4-1.0% here and in benchmarks/models.py),
and the ImageNet EfficientNet-Lite0's, with its declared float32 layers, by 1.0-1.2% (5-6% without them)."""
AGREEMENT_FLOOR = 0.85
"""Fraction of clips whose top-1 the fast path must keep. The random networks' raw top-1 barely depends on the
clip (one or two classes for all of them), so their agreement is measured on centred logits (minus their mean
over the clip set: the same network with its classifier's bias shifted), whose top-1 does. bfloat16 flips
near-ties: on the 48 clips here these families keep 92-96% of the centred top-1s (94-98% on 207 clips in
benchmarks/models.py), and the ImageNet EfficientNet-Lite0 keeps 99% of its top-1s on real video frames."""


def _model(name: str) -> nn.Module:
    """A copy of ``name`` with seed-0 weights and BatchNorms given random statistics (so folding changes weights)."""
    return copy.deepcopy(_built(name))


@functools.cache
def _built(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(name).eval()
    _randomise_batch_norms(model)
    return model


def _randomise_batch_norms(model: nn.Module) -> None:
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                n = module.num_features
                module.running_mean.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))


def _clips(count: int, frames: int) -> torch.Tensor:
    """[count + 1, 3, frames, SIZE, SIZE]: synthetic scene and temporal clips, then one real Kinetics clip.

    Normalised with Kinetics' mean 0.45 and std 0.225.
    """
    videos = []
    for index in range(count):
        kind, classes = ("scene", SCENE_CLASSES) if index % 2 else ("temporal", TEMPORAL_CLASSES)
        name = classes[(index // 2) % len(classes)]
        videos.append(
            torch.from_numpy(
                render_clip(kind, name, clip_rng(0, "test", name, index), size=SIZE, frames=frames)
            )
        )
    with VideoReader(KINETICS / "tai_chi.mp4", short_side=SIZE) as reader:
        real = reader.get_frames(np.arange(frames) * 2)
    left = (real.shape[2] - SIZE) // 2
    videos.append(real[:, :, left : left + SIZE])
    clips = torch.stack(videos).permute(0, 4, 1, 2, 3).float() / 255
    return (clips - 0.45) / 0.225


def _logits(model: nn.Module, clips: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    with torch.inference_mode():
        return model(clips)


# Photos whose ImageNet class is unambiguous (as in tests/test_per_frame.py).
PHOTO_CLASSES = {"squirrel_cls.jpg": 335, "orange.jpg": 950, "apple.jpg": 948, "baboon.jpg": 372}


@functools.cache
def _lite0_imagenet() -> PerFrameClassifier:
    """per_frame_efficientnet_lite0 with its ImageNet weights and, as its head, their ImageNet classifier.

    Clips [B, 3, T, 224, 224] scaled to [-1, 1] -> ImageNet logits [B, 1000] (the mean over the T frames).
    """
    model = per_frame_efficientnet_lite0(num_classes=1000, dropout=0.0).eval()
    state = read_checkpoint(efficientnet_lite0_weights_path())
    model.fc.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    return model


def _evaluation_crop(image: torch.Tensor) -> torch.Tensor:
    """The model card's test protocol, short side 256 and centre crop 224: [3, H, W] -> [3, 224, 224]."""
    return TF.center_crop(TF.resize(image, 256, antialias=True), 224)


@functools.cache
def _real_frames() -> torch.Tensor:
    """[19, 3, 1, 224, 224] one-frame clips scaled to [-1, 1], cropped as the model card says.

    The four ``PHOTO_CLASSES`` photos in that order, a butterfly photo (a lime swallowtail, not an ImageNet class),
    then two frames, a third and two thirds of the way in, of each of the seven Kinetics videos.
    """
    images = [TF.pil_to_tensor(Image.open(DATA / "images" / name).convert("RGB")) for name in PHOTO_CLASSES]
    images.append(TF.pil_to_tensor(Image.open(DATA / "images" / "butterfly.jpg").convert("RGB")))
    for path in sorted(KINETICS.glob("*.mp4")):
        with VideoReader(path) as reader:
            frames = reader.get_frames(np.array([len(reader) // 3, 2 * len(reader) // 3]))
        images.extend(torch.as_tensor(frames).permute(0, 3, 1, 2))
    assert len(images) == 19, f"expected 5 photos and 7 Kinetics videos under {DATA}"
    frames = torch.stack([_evaluation_crop(image) for image in images]).float() / 255
    return ((frames - 0.5) / 0.5).unsqueeze(2)


# -- folding ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("r2plus1d_18", (2, 3, 4, 32, 32)),  # BatchNorms inside the (2+1)D convolutions too
        ("slowfast_r50", (1, 3, 8, 32, 32)),  # the root does not trace (clip or pair): its children do
        ("i3d_inception_v1", (1, 3, 8, 32, 32)),  # "SAME"-padding Conv3d subclass, size-dependent padding
        ("per_frame_resnet18", (1, 3, 2, 32, 32)),  # 2-D convolutions
    ],
)
def test_fold_batch_norms_is_exact(name: str, shape: tuple[int, ...]) -> None:
    model = _model(name)
    batch_norms = sum(isinstance(m, _BatchNorm) for m in model.modules())
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        assert fold_batch_norms(model) == batch_norms > 0
        got = model(x)
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5 * expected.abs().max().item())


class _StandardisedConv(nn.Conv2d):
    """Weight standardisation: the weight is normalised before the convolution, so folding would be wrong."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        w = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (w.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


class _PaddedConv(nn.Conv2d):
    """Pads one extra row and column after, then convolves: a padding variant, safe to fold into."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (0, 1, 0, 1)))


class _Pairs(nn.Module):
    """One foldable pair and four that are not, next to each other."""

    def __init__(self) -> None:
        super().__init__()
        self.padded, self.padded_bn = _PaddedConv(4, 4, 2), nn.BatchNorm2d(4)  # folds
        self.shared_output, self.shared_output_bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.standardised, self.standardised_bn = _StandardisedConv(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.twice, self.twice_bn = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)
        self.linear, self.linear_bn = nn.Linear(4, 4), nn.BatchNorm1d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 4, H, W] -> [B, 4]."""
        x = self.padded_bn(self.padded(x))
        y = self.shared_output(x)
        x = self.shared_output_bn(y) + y  # the convolution's output has a second user
        x = self.standardised_bn(self.standardised(x))
        x = self.twice_bn(self.twice(x)) + self.twice_bn(x)  # one BatchNorm called at two places
        return self.linear_bn(self.linear(x.mean(dim=(2, 3))))


def test_fold_batch_norms_folds_only_what_the_graph_and_a_probe_prove_exact() -> None:
    model = _Pairs().eval()
    _randomise_batch_norms(model)
    x = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        assert fold_batch_norms(model) == 1
        got = model(x)
    assert isinstance(model.padded_bn, nn.Identity)
    assert all(
        isinstance(model.get_submodule(n), _BatchNorm)
        for n in ("shared_output_bn", "standardised_bn", "twice_bn", "linear_bn")
    )
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_fold_batch_norms_leaves_training_mode_alone() -> None:
    model = _model("simple3d").train()
    assert fold_batch_norms(model) == 0
    assert sum(isinstance(m, nn.BatchNorm3d) for m in model.modules()) == 8


def test_fold_batch_norms_folds_every_batch_norm_act_of_efficientnet_lite0() -> None:
    """Claim: each of timm's BatchNormAct2d (BatchNorm, then ReLU6 or nothing) in the ImageNet EfficientNet-Lite0
    is folded into its convolution (a TF "SAME"-padding one for the strided layers), its activation kept."""
    model = copy.deepcopy(_lite0_imagenet())
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    activations = sum(isinstance(m, nn.ReLU6) for m in model.modules())
    assert len(norms) == 49 and all(type(m).__name__ == "BatchNormAct2d" for m in norms) and activations == 33
    x = _real_frames()[5:7]  # two video frames
    with torch.no_grad():
        expected = model(x)
        assert fold_batch_norms(model) == 49
        got = model(x)
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    assert sum(isinstance(m, nn.ReLU6) for m in model.modules()) == activations
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5 * expected.abs().max().item())


# -- the fast path ----------------------------------------------------------------------------------------------


def _centred_top1(logits: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Top-1 classes [N] of logits [N, K] minus ``centre`` [1, K]."""
    return (logits - centre).argmax(dim=1)


@pytest.mark.parametrize(
    ("name", "frames"),
    [
        ("r2plus1d_18", 8),
        ("c3d", 8),
        ("slowfast_r50", 8),
        ("per_frame_resnet18", 4),
        ("simple3d", 8),
    ],
)
def test_fast_path_agrees_with_float32(name: str, frames: int) -> None:
    """Claim: the fast path's logits are float32's up to bfloat16 rounding, and it keeps their answers."""
    model = _model(name)
    clips = _clips(47, frames)
    expected = _logits(model, clips)
    got = _logits(optimize_for_inference(model), clips)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    error = (got - expected).abs().max().item()
    assert error <= BF16_LOGIT_RTOL * expected.abs().max().item()
    # Agreement of the centred top-1s, which depend on the clip: the check is only worth something if the
    # float32 answers differ from clip to clip (random agreement would then be below 1 in 16).
    centre = expected.mean(dim=0, keepdim=True)
    reference = _centred_top1(expected, centre)
    assert len(set(reference.tolist())) >= len(clips) // 3
    agreement = (_centred_top1(got, centre) == reference).float().mean().item()
    assert agreement >= AGREEMENT_FLOOR


def test_fast_path_stays_within_bf16_rounding_of_inception_i3d() -> None:
    """Claim: the fast path (SAME-padding convolutions folded, bfloat16) computes what float32 computes.

    Only the logit error is checked: with random weights at 32x32 this network's logits vary across the clips by
    0.4% of their magnitude, less than bfloat16's rounding moves them, so no top-1 agreement is testable on it.
    """
    model = _model("i3d_inception_v1")
    clips = _clips(7, 8)
    expected = _logits(model, clips)
    got = _logits(optimize_for_inference(model), clips)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert (got - expected).abs().max().item() <= BF16_LOGIT_RTOL * expected.abs().max().item()


def test_fast_path_contract() -> None:
    model = _model("r2plus1d_18")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    fast = optimize_for_inference(model)
    assert isinstance(fast, FastPath) and not fast.training
    # the model is left as it was
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert model.stem.conv.spatial.weight.dtype == torch.float32
    # the copy: BatchNorms folded, bfloat16 channels-last convolution weights, float32 everything else
    assert not any(isinstance(m, _BatchNorm) for m in fast.modules())
    conv = fast.model.layer1[0].conv1.spatial
    assert conv.weight.dtype == torch.bfloat16 and conv.weight.is_contiguous(
        memory_format=torch.channels_last_3d
    )
    assert fast.model.fc.weight.dtype == torch.bfloat16
    assert not any(p.requires_grad for p in fast.parameters())
    x = torch.randn(3, 3, 8, 32, 32, requires_grad=True)
    logits = fast(x)
    assert logits.dtype == torch.float32 and logits.shape == (3, 400) and not logits.requires_grad
    assert x.is_contiguous()  # the caller's tensor is not converted in place


def test_fast_path_float32_keeps_float32_accuracy() -> None:
    model = _model("r2plus1d_18")
    x = torch.randn(2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    fast = optimize_for_inference(model, bf16=False)
    assert fast.model.fc.weight.dtype == torch.float32
    expected = _logits(model, x)
    torch.testing.assert_close(fast(x), expected, rtol=0, atol=1e-5 * expected.abs().max().item())


def test_fast_path_takes_slowfast_clip_and_pair() -> None:
    model = _model("slowfast_r50")
    fast = optimize_for_inference(model)
    clip = torch.randn(2, 3, 16, 32, 32, generator=torch.Generator().manual_seed(0))
    pair = [clip[:, :, ::4], clip]
    expected = _logits(model, clip)
    scale = expected.abs().max().item()
    for inputs in (clip, pair):
        logits = fast(inputs)
        assert logits.dtype == torch.float32 and logits.shape == (2, 400)
        assert (logits - expected).abs().max().item() <= BF16_LOGIT_RTOL * scale


def test_fast_path_keeps_the_imagenet_efficientnet_lite0_answers_on_real_frames() -> None:
    """Claim: on a trained network and real images, the fast path (all 49 BatchNorms folded, the layers the
    network declares sensitive in float32, the rest in bfloat16) keeps float32's logits within the bound and
    its top-1 classes, the photos' right ImageNet classes among them."""
    model = _lite0_imagenet()
    clips = _real_frames()
    fast = optimize_for_inference(model)
    assert fast.folded_batch_norms == 49
    backbone = fast.model.backbone
    assert {"backbone.conv_stem", "backbone.blocks.3", "backbone.blocks.5.0.conv_dw"} <= set(
        fast.float32_modules
    )
    assert (
        isinstance(backbone.conv_stem, Float32Island)
        and backbone.conv_stem.module.weight.dtype == torch.float32
    )
    assert backbone.blocks[5][0].conv_dw.module.weight.dtype == torch.float32
    assert backbone.blocks[5][0].conv_pw.weight.dtype == torch.bfloat16
    expected = _logits(model, clips)
    got = _logits(fast, clips)
    assert got.dtype == torch.float32 and got.shape == expected.shape == (19, 1000)
    assert (got - expected).abs().max().item() <= BF16_LOGIT_RTOL * expected.abs().max().item()
    reference = expected.argmax(dim=1)
    assert len(set(reference.tolist())) >= 15  # the answers differ from image to image
    assert (got.argmax(dim=1) == reference).float().mean().item() >= AGREEMENT_FLOOR
    assert got[: len(PHOTO_CLASSES)].argmax(dim=1).tolist() == list(PHOTO_CLASSES.values())


def test_float32_modules_run_in_float32_inside_the_bf16_fast_path() -> None:
    """Claim: a submodule's ``float32_modules`` declaration, or the argument, keeps those layers in float32."""
    model = _model("simple3d")
    model.stages[0].float32_modules = ("0",)  # a declaration names the declaring module's own submodules
    fast = optimize_for_inference(model)
    assert fast.float32_modules == ("stages.0.0",)
    assert isinstance(fast.model.stages[0][0], Float32Island)
    assert fast.model.stages[0][0].module.conv.weight.dtype == torch.float32
    assert fast.model.stages[0][1].conv.weight.dtype == torch.bfloat16
    x = torch.randn(2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    # With every layer that holds weights in float32, the bfloat16 fast path computes in float32 throughout.
    everything = optimize_for_inference(model, float32_modules=["stages", "fc", "stages.1"])
    assert everything.float32_modules == ("stages", "fc")  # nested names are inside an island already
    expected = _logits(model, x)
    torch.testing.assert_close(everything(x), expected, rtol=0, atol=1e-5 * expected.abs().max().item())
    assert optimize_for_inference(model, float32_modules=()).float32_modules == ()
    assert optimize_for_inference(model, bf16=False).float32_modules == ()
    with pytest.raises(ConfigError, match="not submodules"):
        optimize_for_inference(model, float32_modules=["stages.9"])


@pytest.mark.slow
def test_compiled_fast_path_matches_eager_fast_path() -> None:
    """TorchInductor with freezing (tens of seconds to compile on 2 cores, so marked slow)."""
    model = _model("simple3d")
    x = torch.randn(2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    eager = optimize_for_inference(model)(x)
    compiled = optimize_for_inference(model, compile=True)(x)
    assert compiled.dtype == torch.float32 and compiled.shape == eager.shape
    assert (compiled - eager).abs().max().item() <= BF16_LOGIT_RTOL * eager.abs().max().item()


def test_fast_path_refuses_a_model_off_the_cpu() -> None:
    with pytest.raises(ConfigError, match="runs on CPU or CUDA"):
        optimize_for_inference(nn.Conv3d(3, 8, 3, device="meta"))


# -- what the commands call ---------------------------------------------------------------------------------------
def test_inference_precision_resolves_as_the_training_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    assert (
        resolve_inference_precision("auto", cpu)
        == precision.resolve_settings("auto", "auto", device=cpu, training=False).precision
        == ("bf16" if precision.native_bf16(cpu) else "32")
    )
    assert (
        resolve_inference_precision("32", "cpu") == "32"
        and resolve_inference_precision("bf16", cpu) == "bf16"
    )
    for native, expected in ((True, "bf16"), (False, "32")):
        monkeypatch.setattr(precision, "native_bf16", lambda device, native=native: native)
        assert resolve_inference_precision("auto", cpu) == expected
    with pytest.raises(ConfigError, match="unknown precision 'fp16'; choose from auto, 32, bf16"):
        resolve_inference_precision("fp16", cpu)


def test_prepare_for_inference_32_is_the_eager_model() -> None:
    model = _model("simple3d").train()
    assert prepare_for_inference(model, "32", "cpu") is model and not model.training


@pytest.mark.parametrize(
    ("name", "shape"),
    [("simple3d", (2, 3, 8, 32, 32)), ("per_frame_resnet18", (2, 3, 3, 32, 32))],
)
def test_prepared_model_keeps_the_model_contract(name: str, shape: tuple[int, ...]) -> None:
    """Claim: through the bf16 fast path, forward, forward_features, forward_head (and the other forward_*
    methods) take what the eager model takes and give float32, row-major tensors of its shapes and nearly its
    values; the contract's attributes are the model's."""
    model = _model(name)
    fast = prepare_for_inference(model, "bf16", "cpu")
    assert isinstance(fast, FastPath) and fast.bf16
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        features = model.forward_features(x)
        expected = {
            "logits": model(x),
            "features": features,
            "pooled": model.forward_head(features, pre_logits=True),
            "head": model.forward_head(features),
        }
    got_features = fast.forward_features(x)
    got = {
        "logits": fast(x),
        "features": got_features,
        "pooled": fast.forward_head(got_features, pre_logits=True),
        "head": fast.forward_head(features),  # the eager features go through the fast head too
    }
    for key, value in got.items():
        want = expected[key]
        assert value.dtype == torch.float32 and value.shape == want.shape, key
        assert value.is_contiguous(), key  # callers may .view() it as they did the eager output
        assert (value - want).abs().max().item() <= 0.05 * want.abs().max().item(), key
    assert (fast.num_classes, fast.num_features) == (model.num_classes, model.num_features)
    assert fast.get_classifier() is fast.model.get_classifier()
    if isinstance(model, PerFrameClassifier):
        assert fast.consensus == model.consensus
        frames = fast.forward_frames(x)  # any forward_* method runs the fast path too
        with torch.inference_mode():
            want = model.forward_frames(x)
        assert frames.dtype == torch.float32 and frames.shape == want.shape == (2, 3, model.num_classes)
        assert (frames - want).abs().max().item() <= 0.05 * want.abs().max().item()
