"""Inflating 2D networks to 3D: the boring-video identity of Carreira & Zisserman (2017) on real networks.

A boring video repeats one image; the "mean"-inflated network must give on it what the 2D network gives on the
image. The identities are checked in float64 with an absolute tolerance of 1e-5 (they hold to ~1e-12 there). In
float32 a 3D convolution summing kt slices W / kt rounds differently from the 2D one applying W, by up to 1e-4
on these ResNet-50 logits (up to 95 with random weights and BN statistics) and 4e-5 on EfficientNet-Lite0's
(up to 33).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from vidact.errors import ConfigError
from vidact.models.inflate import BatchNormAct3d, InflatedConv3d, inflate, tf_same_padding
from vidact.models.per_frame import efficientnet_lite0_imagenet

# ../shared/data from the project root, found from this file so the tests see it from any working directory.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

ATOL = 1e-5


def _randomize_batch_norm(model: nn.Module, seed: int) -> None:
    """Random BN statistics and affine parameters, so that no BN layer is the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))


def _boring(images: torch.Tensor, frames: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, frames, H, W], the image repeated."""
    return images.unsqueeze(2).expand(-1, -1, frames, -1, -1)


def _images(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(scope="module")
def resnet50() -> nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    _randomize_batch_norm(model, seed=1)
    return model.double().eval()


@pytest.fixture(scope="module")
def inflated_resnet50(resnet50: nn.Module) -> nn.Module:
    return inflate(resnet50)


def test_resnet50_mean_inflation_reproduces_the_2d_logits_on_a_boring_video(resnet50, inflated_resnet50):
    images = _images(2, 3, 32, 32)
    with torch.no_grad():
        expected = resnet50(images)
        got = inflated_resnet50(_boring(images, 3))
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)
    assert not any(
        isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)) for m in inflated_resnet50.modules()
    )


def test_inflation_leaves_the_2d_network_untouched(resnet50, inflated_resnet50):
    torch.manual_seed(0)
    fresh = torchvision.models.resnet50()
    _randomize_batch_norm(fresh, seed=1)
    # The fixture's ResNet has been inflated; it still equals a ResNet built the same way, and is still 2D.
    assert all(
        torch.equal(v.double(), resnet50.state_dict()[k].double()) for k, v in fresh.state_dict().items()
    )
    assert type(resnet50.conv1) is nn.Conv2d and resnet50.conv1.weight.shape == (64, 3, 7, 7)
    assert type(inflated_resnet50) is type(resnet50)
    assert inflated_resnet50.conv1.weight.shape == (64, 3, 3, 7, 7)


def test_center_inflation_is_frame_wise_on_any_video(resnet50):
    # A centre kernel reads the current frame only, so the inflated ResNet averages the per-frame logits (the
    # global pool averages time and the head is linear), on a video that is not boring and with zero padding.
    inflated = inflate(resnet50, mode="center", time_padding_mode="zeros")
    video = _images(1, 3, 3, 32, 32, seed=2)
    with torch.no_grad():
        per_frame = resnet50(video[0].transpose(0, 1))  # the 3 frames as a batch of images: [3, 1000]
        got = inflated(video)
    torch.testing.assert_close(got, per_frame.mean(dim=0, keepdim=True), rtol=0, atol=ATOL)
    assert inflated.conv1.weight[:, :, 0].abs().max() == 0


def test_efficientnet_lite0_imagenet_inflation_reproduces_the_2d_logits():
    net = efficientnet_lite0_imagenet().double().eval()
    inflated = inflate(net)
    # timm's TF-style layers are inflated too: "SAME"-padded stride-2 convolutions and BN + activation layers.
    assert any(isinstance(m, InflatedConv3d) and m.same_padding for m in inflated.modules())
    assert any(isinstance(m, BatchNormAct3d) for m in inflated.modules())
    image = Image.open(DATA / "images" / "squirrel_cls.jpg").convert("RGB").resize((64, 64))
    images = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].double() / 127.5 - 1.0
    with torch.no_grad():
        expected = net(images)
        got = inflated(_boring(images, 3))
    assert got.shape == (1, 1000)
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)


def test_squeeze_excitation_network_inflates_exactly():
    # MobileNetV3: squeeze-excitation (an adaptive pool inside every block), hardswish, a dropout + linear head.
    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v3_small()
    _randomize_batch_norm(net, seed=1)
    net = net.double().eval()
    images = _images(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(inflate(net)(_boring(images, 3)), net(images), rtol=0, atol=ATOL)


def _small_net() -> nn.Sequential:
    torch.manual_seed(3)
    net = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 8, 3, padding=1),
            bn1=nn.BatchNorm2d(8),
            relu=nn.ReLU(),
            pool=nn.MaxPool2d(3, stride=2, padding=1),
            conv2=nn.Conv2d(8, 8, 5, padding=2, groups=8),
            drop=nn.Dropout2d(0.2),
        )
    )
    _randomize_batch_norm(net, seed=4)
    return net.double().eval()


@pytest.mark.parametrize("time_kernel", [1, 3, 5, 7])
@pytest.mark.parametrize("frames", [1, 2, 5])
def test_temporal_padding_keeps_the_number_of_frames(time_kernel, frames):
    inflated = inflate(_small_net(), time_kernel=time_kernel)
    out = inflated(_images(1, 3, frames, 12, 12))
    assert out.shape == (1, 8, frames, 6, 6)


def test_time_stride_and_pool_time_downsample_time():
    inflated = inflate(
        _small_net(), time_stride=lambda name, conv: 2 if name == "conv1" else 1, pool_time=(3, 2)
    )
    assert inflated.pool.kernel_size == (3, 3, 3) and inflated.pool.stride == (2, 2, 2)
    # 9 frames -> conv1 (kt 3, stride 2, padding 1): 5 -> pool (3, stride 2, padding 1): 3
    assert inflated(_images(1, 3, 9, 12, 12)).shape == (1, 8, 3, 6, 6)


def test_time_kernel_callable_gets_each_convolution_by_name():
    seen = []

    def kernel(name: str, conv: nn.Conv2d) -> int:
        seen.append((name, conv.kernel_size))
        return conv.kernel_size[0]

    inflated = inflate(_small_net(), time_kernel=kernel)
    assert seen == [("conv1", (3, 3)), ("conv2", (5, 5))]
    assert inflated.conv1.weight.shape == (8, 3, 3, 3, 3)
    assert inflated.conv2.weight.shape == (8, 1, 5, 5, 5)  # depthwise: groups kept
    assert isinstance(inflated.drop, nn.Dropout3d) and isinstance(inflated.bn1, nn.BatchNorm3d)


def test_zero_temporal_padding_breaks_the_identity_at_the_clip_ends_only():
    torch.manual_seed(5)
    conv = nn.Conv2d(3, 4, 3, padding=1).double()
    image = _images(1, 3, 8, 8, seed=6)
    with torch.no_grad():
        expected = conv(image)
        zeros = inflate(conv, time_kernel=3, time_padding_mode="zeros")(_boring(image, 5))
        replicate = inflate(conv, time_kernel=3)(_boring(image, 5))
    for t in range(5):
        torch.testing.assert_close(replicate[:, :, t], expected, rtol=0, atol=ATOL)
    for t in (1, 2, 3):
        torch.testing.assert_close(zeros[:, :, t], expected, rtol=0, atol=ATOL)
    # The first and last frames see one zero frame: 2/3 of the weights plus the whole bias.
    bias = conv.bias.view(1, -1, 1, 1)
    for t in (0, 4):
        torch.testing.assert_close(zeros[:, :, t], (expected - bias) * 2 / 3 + bias, rtol=0, atol=ATOL)


def test_adaptive_pool_averages_time_so_that_flatten_and_linear_still_fit():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Linear(16, 5)
    ).double()
    inflated = inflate(net)
    assert inflated[1].output_size == (1, 2, 2)
    images = _images(2, 3, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(inflated(_boring(images, 6)), net(images), rtol=0, atol=ATOL)


def test_layers_without_a_3d_rule_are_named_in_the_error():
    class MyConv(nn.Conv2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x).flip(-1)

    decoder = nn.Sequential(OrderedDict(stem=nn.Conv2d(3, 4, 3), up=nn.ConvTranspose2d(4, 4, 2)))
    with pytest.raises(ConfigError, match=r"up \(torch\.nn\.modules\.conv\.ConvTranspose2d\)"):
        inflate(nn.Sequential(OrderedDict(decoder=decoder)))
    with pytest.raises(ConfigError, match=r"cannot inflate 0 \(.*MyConv\): a subclass of Conv2d"):
        inflate(nn.Sequential(MyConv(3, 4, 3)))
    with pytest.raises(ConfigError, match="upsample"):
        inflate(nn.Sequential(OrderedDict(upsample=nn.Upsample(scale_factor=2))))


def test_invalid_options_raise_config_errors():
    with pytest.raises(ConfigError, match="odd"):
        inflate(nn.Conv2d(3, 4, 3), time_kernel=2)
    with pytest.raises(ConfigError, match="mode"):
        inflate(nn.Conv2d(3, 4, 3), mode="sum")
    with pytest.raises(ConfigError, match="pool_time"):
        inflate(nn.MaxPool2d(2), pool_time=(0, 1))


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "expected"),
    [
        ((224,), (7,), (2,), (1,), (2, 3)),  # out 112: (112 - 1) * 2 + 7 - 224 = 5, the extra cell after
        ((225,), (7,), (2,), (1,), (3, 3)),  # out 113: 112 * 2 + 7 - 225 = 6
        ((8,), (2,), (2,), (1,), (0, 0)),
        ((7,), (2,), (2,), (1,), (0, 1)),
        ((5,), (3,), (1,), (2,), (2, 2)),  # effective kernel 5
        ((16, 9), (3, 1), (1, 1), (1, 1), (0, 0, 1, 1)),  # F.pad order: last dim first
    ],
)
def test_tf_same_padding_matches_hand_computation(size, kernel, stride, dilation, expected):
    assert tf_same_padding(size, kernel, stride, dilation) == expected
