"""vidact.models.c3d against the published C3D shapes (Tran et al. 2015) and hand-computed counts."""

from __future__ import annotations

import pytest
import torch

from vidact.models import build_model, model_card
from vidact.models.c3d import C3D
from vidact.models.profile import count_macs, count_params

# (in, out) channels of conv1a, conv2a, conv3a, conv3b, conv4a, conv4b, conv5a, conv5b, and the [T, H, W]
# each one sees on a 16x112x112 clip (every conv keeps its input size; the pools in between shrink it).
CONVS = [
    (3, 64, (16, 112, 112)),
    (64, 128, (16, 56, 56)),
    (128, 256, (8, 28, 28)),
    (256, 256, (8, 28, 28)),
    (256, 512, (4, 14, 14)),
    (512, 512, (4, 14, 14)),
    (512, 512, (2, 7, 7)),
    (512, 512, (2, 7, 7)),
]
FCS = [(8192, 4096), (4096, 4096)]  # fc6, fc7; fc8 is 4096 -> num_classes


def _hand_params(num_classes: int) -> int:
    convs = sum(27 * c_in * c_out + c_out for c_in, c_out, _ in CONVS)
    return convs + sum(i * o + o for i, o in [*FCS, (4096, num_classes)])


def _hand_macs(num_classes: int) -> int:
    convs = sum(27 * c_in * c_out * t * h * w for c_in, c_out, (t, h, w) in CONVS)
    return convs + sum(i * o for i, o in [*FCS, (4096, num_classes)])


def test_params_match_the_published_78_4m_for_101_classes() -> None:
    with torch.device("meta"):
        model = C3D(num_classes=101)
    assert count_params(model) == _hand_params(101) == 78_409_573
    assert count_params(model) == pytest.approx(78.4e6, rel=0.01)


def test_published_clip_reaches_fc6_as_512x1x4x4() -> None:
    with torch.device("meta"):
        model = C3D().eval()
    shapes = {}
    for name in ("pool1", "pool2", "pool3", "pool4", "pool5"):
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.update({name: out.shape})
        )
    x = torch.empty(1, 3, 16, 112, 112, device="meta")
    features = model.forward_features(x)
    assert features.shape == (1, 512, 1, 4, 4)
    assert model.resize(features).flatten(1).shape == (1, 8192) == (1, model.fc6.in_features)
    assert shapes == {
        "pool1": (1, 64, 16, 56, 56),
        "pool2": (1, 128, 8, 28, 28),
        "pool3": (1, 256, 4, 14, 14),
        "pool4": (1, 512, 2, 7, 7),
        "pool5": (1, 512, 1, 4, 4),
    }


def test_pool5_windows_round_up_as_caffe_does() -> None:
    # Decreasing values: each window's max is its first column. Rounding up gives the windows {0, 1}, {2, 3},
    # {4, 5}, {6}; padding by one on each side instead would give {0}, {1, 2}, {3, 4}, {5, 6}.
    x = -torch.arange(7.0).repeat(7, 1).reshape(1, 1, 1, 7, 7).expand(1, 1, 2, 7, 7)
    pooled = C3D().pool5(x)
    assert pooled.shape == (1, 1, 1, 4, 4)
    assert pooled[0, 0, 0, 0].tolist() == [0.0, -2.0, -4.0, -6.0]


def test_macs_match_a_hand_count() -> None:
    with torch.device("meta"):
        model = C3D(num_classes=101)
    macs = count_macs(model, torch.empty(1, 3, 16, 112, 112, device="meta"))
    assert macs == _hand_macs(101)
    assert macs / 1e9 == pytest.approx(38.55, abs=0.01)


def test_model_card() -> None:
    card = model_card("c3d")
    with torch.device("meta"):
        model = build_model("c3d")
    assert card.default_num_classes == 487 and card.input_size == (3, 16, 112, 112)
    assert count_params(model) == card.params == _hand_params(487)
    assert count_macs(model, torch.empty(1, *card.input_size, device="meta")) / 1e9 == pytest.approx(
        card.gmacs, 1e-3
    )
    assert card.weights == () and "Caffe" in card.notes  # the Sports-1M weights exist only for Caffe


def test_features_are_pool5_and_fc6_fc7_are_the_head() -> None:
    """num_features is pool5's 512 channels; fc6 and fc7 are the head's hidden layers, whose 4096 outputs
    (``head_hidden_size``) are the pre-logits and what a model without classes returns."""
    torch.manual_seed(0)
    model = build_model("c3d", num_classes=5).eval()
    x = torch.randn(2, 3, 16, 32, 32)
    with torch.no_grad():
        features = model.forward_features(x)
        hidden = model.forward_head(features, pre_logits=True)
        fc7 = model.relu(model.fc7(model.relu(model.fc6(model.resize(features).flatten(1)))))
        torch.testing.assert_close(hidden, fc7, rtol=0, atol=0)
        torch.testing.assert_close(model(x), model.fc8(fc7))
        temporal = model.forward_temporal(x)
    assert (model.num_features, model.head_hidden_size) == (512, 4096) == (features.shape[1], hidden.shape[1])
    assert temporal.shape == (2, 1, 512)
    model.reset_classifier(7)
    assert (model.fc8.in_features, model.fc8.out_features) == (4096, 7)
    model.reset_classifier(0)
    with torch.no_grad():
        torch.testing.assert_close(model(x), fc7, rtol=0, atol=0)


def test_batch_norm_variant_normalises_every_convolution() -> None:
    plain, normed = build_model("c3d", num_classes=5), build_model("c3d", num_classes=5, batch_norm=True)
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in plain.modules())
    convs = [m for m in normed.modules() if isinstance(m, torch.nn.Conv3d)]
    norms = [m for m in normed.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert len(convs) == len(norms) == 8 and all(c.bias is None for c in convs)
    x = torch.randn(2, 3, 8, 32, 32)
    normed.train()(x).square().sum().backward()  # no in-place ReLU twice on one tensor
    assert all(p.grad is not None for p in normed.parameters())
    with torch.no_grad():  # in training mode every channel after conv1a is normalised over the batch
        out = normed.conv1a.bn(normed.conv1a.conv(x))
    torch.testing.assert_close(out.mean(dim=(0, 2, 3, 4)), torch.zeros(64), atol=1e-5, rtol=0)
