"""I3D (Inception-v1 inflated): TensorFlow "SAME" semantics, the kinetics-i3d checkpoint converter, ImageNet
bootstrapping from a 2D Inception-v1, and end-to-end runs on the kinetics-i3d sample clip.

No published weights are available offline, so the networks here have random weights: the sample-clip tests
check shapes and finiteness, not predictions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from vidact.errors import CheckpointError, ConfigError
from vidact.io import VideoReader
from vidact.models import build_model, model_card
from vidact.models.i3d import I3D, Conv3dSame, MaxPool3dSame, convert_kinetics_i3d_tf_variables
from vidact.models.inflate import inflate
from vidact.models.profile import count_macs, count_params
from vidact.models.weights import load_weights

# ../shared/data from the project root, found from this file so the tests see it from any working directory.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE = str(DATA / "videos" / "ucf101" / "v_CricketShot_g04_c01")
MIXED_BLOCKS = ("3b", "3c", "4b", "4c", "4d", "4e", "4f", "5b", "5c")


def _randomize_batch_norm(model: nn.Module, seed: int, *, scale: bool = True) -> None:
    """Random BN statistics and shifts (and scales unless ``scale=False``), so that no BN is the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                c = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                if scale:
                    m.weight.copy_(0.5 + torch.rand(c, generator=g))


@pytest.fixture(scope="module")
def rgb_model() -> I3D:
    """A randomly initialised RGB I3D with random BN statistics; BN weights stay 1, as in the release."""
    torch.manual_seed(0)
    model = I3D(in_channels=3)
    _randomize_batch_norm(model, seed=1, scale=False)
    return model.eval()


@pytest.fixture(scope="module")
def flow_model() -> I3D:
    torch.manual_seed(2)
    model = I3D(in_channels=2)
    _randomize_batch_norm(model, seed=3, scale=False)
    return model.eval()


# --- architecture -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_channels", "clip", "features"),
    [
        (2, (2, 2, 8, 64, 64), (2, 1024, 1, 2, 2)),
        (3, (1, 3, 9, 65, 65), (1, 1024, 2, 3, 3)),  # "SAME" rounds up: ceil(9 / 8), ceil(65 / 32)
    ],
)
def test_forward_shapes(in_channels, clip, features):
    torch.manual_seed(0)
    model = I3D(in_channels=in_channels, num_classes=10).eval()
    x = torch.randn(clip)
    with torch.no_grad():
        assert model.forward_features(x).shape == features
        logits = model(x)
    assert logits.shape == (clip[0], 10) and torch.isfinite(logits).all()


def test_same_padding_puts_the_extra_cell_after():
    # n = 8, kernel 3, stride 2: 4 outputs need (4 - 1) * 2 + 3 - 8 = 1 padded cell, after the input.
    torch.manual_seed(0)
    conv = Conv3dSame(1, 1, (1, 1, 3), stride=(1, 1, 2), bias=False)
    x = torch.randn(1, 1, 1, 1, 8)
    expected = F.conv3d(F.pad(x, (0, 1)), conv.weight, stride=(1, 1, 2))
    torch.testing.assert_close(conv(x), expected, rtol=0, atol=0)
    assert not torch.allclose(conv(x), F.conv3d(x, conv.weight, stride=(1, 1, 2), padding=(0, 0, 1)))

    pool = MaxPool3dSame((1, 1, 3), (1, 1, 2))
    negative = torch.tensor([-4.0, -3.0, -2.0, -1.0]).view(1, 1, 1, 1, 4)
    # windows [-4, -3, -2] and [-2, -1, pad]: a padded cell never wins the max
    assert pool(negative).flatten().tolist() == [-2.0, -1.0]


def test_registered_models_and_their_cards(rgb_model, flow_model):
    rgb, flow = build_model("i3d_inception_v1"), build_model("i3d_inception_v1_flow", num_classes=101)
    assert type(rgb) is type(flow) is I3D
    assert rgb.conv_1a.conv.in_channels == 3 and flow.conv_1a.conv.in_channels == 2
    assert rgb.logits.out_channels == 400 and flow.logits.out_channels == 101
    assert model_card("i3d_inception_v1").params == count_params(rgb_model)
    assert model_card("i3d_inception_v1_flow").params == count_params(flow_model)
    # The release's BN has no scale: minus vidact's BN weights, the counts are the checkpoints' (the values
    # in rgb_imagenet/ and flow_imagenet/model.ckpt, moving statistics excluded).
    for model, release in ((rgb_model, 12_689_984), (flow_model, 12_668_032)):
        bn_weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.BatchNorm3d))
        assert count_params(model) - bn_weights == release
    with pytest.raises(ConfigError, match="dropout"):
        I3D(dropout=1.0)


# --- the kinetics-i3d TensorFlow checkpoints -----------------------------------------------------------------


def _release_units() -> dict[str, str]:
    """TF unit scope -> I3D module, from deepmind/kinetics-i3d's i3d.py (Mixed_5b's Conv3d_0a_3x3 included)."""
    units = {"Conv3d_1a_7x7": "conv_1a", "Conv3d_2b_1x1": "conv_2b", "Conv3d_2c_3x3": "conv_2c"}
    for block in MIXED_BLOCKS:
        second_3x3 = "Conv3d_0a_3x3" if block == "5b" else "Conv3d_0b_3x3"
        units |= {
            f"Mixed_{block}/Branch_0/Conv3d_0a_1x1": f"mixed_{block}.branch0",
            f"Mixed_{block}/Branch_1/Conv3d_0a_1x1": f"mixed_{block}.branch1.0",
            f"Mixed_{block}/Branch_1/Conv3d_0b_3x3": f"mixed_{block}.branch1.1",
            f"Mixed_{block}/Branch_2/Conv3d_0a_1x1": f"mixed_{block}.branch2.0",
            f"Mixed_{block}/Branch_2/{second_3x3}": f"mixed_{block}.branch2.1",
            f"Mixed_{block}/Branch_3/Conv3d_0b_1x1": f"mixed_{block}.branch3.1",
        }
    return units


def _tf_variables(model: I3D, prefix: str, bn_shape: str) -> dict[str, np.ndarray]:
    """The variables a kinetics-i3d checkpoint of ``model`` holds: TF layouts, optimizer state included.

    ``bn_shape``: "flat" ([C], the Kinetics-400 checkpoints) or "5d" ([1, 1, 1, 1, C], the Kinetics-600 one).
    """
    modules = dict(model.named_modules())
    variables: dict[str, np.ndarray] = {f"{prefix}global_step": np.array(115_000)}

    def bn_vector(t: torch.Tensor) -> np.ndarray:
        return t.detach().numpy().reshape((1, 1, 1, 1, -1) if bn_shape == "5d" else (-1,))

    for scope, path in _release_units().items():
        unit = modules[path]
        w = unit.conv.weight.detach().permute(2, 3, 4, 1, 0).numpy()  # [kt, kh, kw, Cin, Cout]
        variables[f"{prefix}{scope}/conv_3d/w"] = w
        variables[f"{prefix}{scope}/conv_3d/w/Momentum"] = np.zeros_like(w)
        variables[f"{prefix}{scope}/batch_norm/beta"] = bn_vector(unit.bn.bias)
        variables[f"{prefix}{scope}/batch_norm/moving_mean"] = bn_vector(unit.bn.running_mean)
        variables[f"{prefix}{scope}/batch_norm/moving_variance"] = bn_vector(unit.bn.running_var)
    variables[f"{prefix}Logits/Conv3d_0c_1x1/conv_3d/w"] = (
        model.logits.weight.detach().permute(2, 3, 4, 1, 0).numpy()
    )
    variables[f"{prefix}Logits/Conv3d_0c_1x1/conv_3d/b"] = model.logits.bias.detach().numpy()
    return variables


@pytest.mark.parametrize(
    ("stream", "prefix", "bn_shape"),
    [("rgb", "RGB/inception_i3d/", "flat"), ("flow", "Flow/inception_i3d/", "flat"), ("rgb", "", "5d")],
)
def test_converted_tf_variables_give_identical_outputs(request, stream, prefix, bn_shape):
    source = request.getfixturevalue(f"{stream}_model")
    in_channels = source.conv_1a.conv.in_channels
    variables = _tf_variables(source, prefix, bn_shape)
    model_vars = [n for n in variables if not n.endswith(("/Momentum", "global_step"))]
    assert len(model_vars) == 230  # as in the released rgb_imagenet and flow_imagenet checkpoints
    assert f"{prefix}Mixed_5b/Branch_2/Conv3d_0a_3x3/batch_norm/moving_variance" in variables

    torch.manual_seed(4)
    target = load_weights(I3D(in_channels=in_channels), convert_kinetics_i3d_tf_variables(variables)).eval()
    clip = torch.randn(1, in_channels, 8, 64, 64)
    with torch.no_grad():
        assert torch.equal(target(clip), source(clip))


def test_converter_rejects_what_is_not_one_i3d_stream(rgb_model, flow_model):
    rgb = _tf_variables(rgb_model, "RGB/inception_i3d/", "flat")
    incomplete = {k: v for k, v in rgb.items() if "Mixed_4d/Branch_1" not in k}
    with pytest.raises(
        CheckpointError, match="8 I3D variables missing .*Mixed_4d/Branch_1/Conv3d_0a_1x1/conv_3d/w"
    ):
        convert_kinetics_i3d_tf_variables(incomplete)
    both_streams = rgb | _tf_variables(flow_model, "Flow/inception_i3d/", "flat")
    with pytest.raises(CheckpointError, match="appears twice"):
        convert_kinetics_i3d_tf_variables(both_streams)
    flat_kernel = rgb | {"RGB/inception_i3d/Conv3d_2b_1x1/conv_3d/w": np.zeros((64, 64))}
    with pytest.raises(CheckpointError, match="Conv3d_2b_1x1/conv_3d/w has shape"):
        convert_kinetics_i3d_tf_variables(flat_kernel)


def test_unknown_variables_are_reported_when_loading(rgb_model):
    variables = _tf_variables(rgb_model, "RGB/inception_i3d/", "flat")
    variables["RGB/inception_i3d/Mixed_6a/Branch_0/Conv3d_0a_1x1/conv_3d/w"] = np.zeros((1, 1, 1, 4, 4))
    with pytest.raises(CheckpointError, match="1 unexpected keys .*Mixed_6a"):
        load_weights(I3D(), convert_kinetics_i3d_tf_variables(variables))


# --- bootstrapping from a 2D Inception-v1 ---------------------------------------------------------------------


def test_i3d_is_the_inflated_inception_v1_and_bootstraps_from_it():
    """Inflating torchvision's GoogLeNet (Inception-v1 with BN) k x k -> k x k x k gives I3D's convolutions.

    With those weights I3D sees a boring video as GoogLeNet sees the image. I3D pads time with zeros (the
    release's "SAME"), so this holds where the receptive field stays inside the clip: at 128 frames, Mixed_5c's
    time positions 6..9 of 16 (the field spans 99 frames). At 15 x 15 the spatial "SAME" padding of every
    strided layer coincides with GoogLeNet's symmetric padding and ceil-mode pools (15 is odd at the 7x7/2
    convolution, and the max-pools/2 then see 8, 4, 2, 1), so those positions must match to rounding.
    """
    torch.manual_seed(0)
    googlenet = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True)
    _randomize_batch_norm(googlenet, seed=1)
    googlenet = googlenet.double().eval()
    inflated = inflate(googlenet, time_kernel=lambda name, conv: conv.kernel_size[0])
    i3d = I3D(num_classes=1000).double().eval()

    i3d_convs = [m for m in i3d.modules() if isinstance(m, nn.Conv3d)][:-1]  # all but the logits
    inflated_convs = [m for m in inflated.modules() if isinstance(m, nn.Conv3d)]
    assert [c.weight.shape for c in i3d_convs] == [c.weight.shape for c in inflated_convs]
    assert len(i3d_convs) == 57
    for ours, theirs in zip(i3d_convs, inflated_convs, strict=True):
        ours.weight.data.copy_(theirs.weight)
    i3d_bns = [m for m in i3d.modules() if isinstance(m, nn.BatchNorm3d)]
    inflated_bns = [m for m in inflated.modules() if isinstance(m, nn.BatchNorm3d)]
    for ours, theirs in zip(i3d_bns, inflated_bns, strict=True):
        ours.load_state_dict(theirs.state_dict())

    features = {}
    googlenet.inception5b.register_forward_hook(lambda module, args, out: features.update(image=out))
    image = torch.randn(1, 3, 15, 15, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    boring = image.unsqueeze(2).expand(-1, -1, 128, -1, -1).contiguous()
    with torch.no_grad():
        logits = googlenet(image)
        # the inflation identity itself (replicate temporal padding: every frame, any length)
        torch.testing.assert_close(inflated(boring[:, :, :4]), logits, rtol=0, atol=1e-5)
        video = i3d.forward_features(boring)
    assert video.shape == (1, 1024, 16, 1, 1)
    error = (video - features["image"].unsqueeze(2)).abs().amax(dim=(0, 1, 3, 4))
    assert error[6:10].max() < 1e-10
    assert error[0] > 1e-3 and error[-1] > 1e-3  # the zero-padded ends do differ


# --- the kinetics-i3d sample clip ---------------------------------------------------------------------------


def _read_rgb(frames: int | None, crop: int) -> torch.Tensor:
    """The sample's RGB GIF as I3D input [1, 3, T, crop, crop] in [-1, 1] (the GIF stores (rgb + 1) / 2)."""
    with VideoReader(f"{SAMPLE}_rgb.gif", layout="TCHW") as reader:
        clip = reader.get_frames(range(frames or len(reader)))
    clip = _center_crop(clip, crop).float() / 255 * 2 - 1
    return clip.transpose(0, 1).unsqueeze(0)


def _read_flow(frames: int | None, crop: int) -> torch.Tensor:
    """The sample's flow GIF as I3D input [1, 2, T, crop, crop].

    kinetics-i3d made the GIF from the [-1, 1] flow (+-20 px) by adding a zero third channel and 0.5 to every
    value, then quantising to 8 bits (and to the GIF palette). So blue is 127 everywhere, and the flow is
    (pixel + 0.5) / 255 - 0.5 (the centre of each 8-bit bin; 127 -> 0). The GIF keeps [-0.5, 0.5] of the
    range, i.e. +-10 px; larger motions were clipped.
    """
    with VideoReader(f"{SAMPLE}_flow.gif", layout="TCHW") as reader:
        clip = reader.get_frames(range(frames or len(reader)))
    assert (clip[:, 2] == 127).all()
    flow = (_center_crop(clip[:, :2], crop).float() + 0.5) / 255 - 0.5
    return flow.transpose(0, 1).unsqueeze(0)


def _center_crop(clip: torch.Tensor, size: int) -> torch.Tensor:
    """[T, C, H, W] -> [T, C, size, size]; cropping (not resizing) keeps flow in pixel units."""
    top, left = (clip.shape[-2] - size) // 2, (clip.shape[-1] - size) // 2
    return clip[..., top : top + size, left : left + size]


def test_sample_clip_runs_through_both_streams(rgb_model, flow_model):
    rgb, flow = _read_rgb(frames=16, crop=112), _read_flow(frames=16, crop=112)
    assert rgb.shape == (1, 3, 16, 112, 112) and flow.shape == (1, 2, 16, 112, 112)
    assert -1 <= rgb.min() < 0 < rgb.max() <= 1
    assert -0.5 < flow.min() < 0 < flow.max() < 0.5
    with torch.no_grad():
        assert rgb_model.forward_features(rgb).shape == (1, 1024, 2, 4, 4)
        rgb_logits, flow_logits = rgb_model(rgb), flow_model(flow)
    assert rgb_logits.shape == flow_logits.shape == (1, 400)
    assert torch.isfinite(rgb_logits + flow_logits).all()


@pytest.mark.slow
def test_full_sample_clip_and_card_cost():
    """All 79 frames at 224x224 through both streams (two-stream I3D sums the logits); MACs at 64x224x224."""
    torch.manual_seed(0)
    rgb_model, flow_model = (
        build_model("i3d_inception_v1").eval(),
        build_model("i3d_inception_v1_flow").eval(),
    )
    rgb, flow = _read_rgb(frames=None, crop=224), _read_flow(frames=None, crop=224)
    assert rgb.shape == (1, 3, 79, 224, 224) and flow.shape == (1, 2, 79, 224, 224)
    with torch.no_grad():
        assert rgb_model.forward_features(rgb).shape == (1, 1024, 10, 7, 7)
        logits = rgb_model(rgb) + flow_model(flow)
    assert logits.shape == (1, 400) and torch.isfinite(logits).all()
    for name, model in (("i3d_inception_v1", rgb_model), ("i3d_inception_v1_flow", flow_model)):
        card = model_card(name)
        macs = count_macs(model, torch.zeros(1, *card.input_size))
        assert macs / 1e9 == pytest.approx(card.gmacs, abs=0.005)
