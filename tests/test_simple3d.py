"""Simple3D: shapes, temporal structure, sensitivity to time, and the central point in miniature: it learns to
tell a clip from the same clip reversed, which the per-frame baseline provably cannot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vidact.errors import ConfigError
from vidact.models import build_model, model_card
from vidact.models.per_frame import PerFrameClassifier
from vidact.models.profile import count_macs, count_params
from vidact.models.simple3d import Simple3D, simple3d


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny models train faster on one thread than on two contended ones (the CI box is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_shapes_and_temporal_downsampling_in_the_last_two_stages():
    model = build_model("simple3d", num_classes=7).eval()
    shapes = []
    for stage in model.stages:
        stage.register_forward_hook(lambda module, args, out: shapes.append(tuple(out.shape)))
    clips = torch.randn(2, 3, 16, 64, 64)
    with torch.no_grad():
        assert model(clips).shape == (2, 7)
    assert shapes == [(2, 16, 16, 32, 32), (2, 32, 16, 16, 16), (2, 64, 8, 8, 8), (2, 128, 4, 4, 4)]
    with torch.no_grad():
        assert model.forward_features(clips).shape == (2, model.num_features, 4, 4, 4) == (2, 128, 4, 4, 4)


@pytest.mark.parametrize(("block", "convs_per_unit"), [("3d", 1), ("2plus1d", 2)])
def test_every_stage_has_temporal_kernels(block, convs_per_unit):
    model = simple3d(num_classes=3, widths=(8, 16, 32), units_per_stage=2, block=block)
    for stage in model.stages:
        convs = [m for m in stage.modules() if isinstance(m, nn.Conv3d)]
        assert len(convs) == 2 * convs_per_unit
        assert any(conv.kernel_size[0] == 3 for conv in convs)
    assert model.num_features == 32


def test_reversing_time_changes_the_logits():
    torch.manual_seed(0)
    model = build_model("simple3d", num_classes=5).eval()
    clips = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        forward, backward = model(clips), model(clips.flip(2))
    assert (forward - backward).abs().max() > 1e-3 * forward.abs().max()


def test_bad_configuration():
    with pytest.raises(ConfigError, match="widths"):
        Simple3D(4, widths=(32,))
    with pytest.raises(ConfigError, match="units_per_stage"):
        simple3d(units_per_stage=0)
    with pytest.raises(ConfigError, match="block"):
        simple3d(block="4d")


def test_model_card_numbers():
    card = model_card("simple3d")
    model = build_model("simple3d", num_classes=card.default_num_classes)
    assert count_params(model) == card.params
    assert count_macs(model, torch.zeros(1, *card.input_size)) / 1e9 == pytest.approx(card.gmacs, rel=1e-3)


def moving_squares(
    pairs: int, *, frames: int = 8, size: int = 32, square: int = 5, step: int = 3, seed: int = 0
):
    """Clips of a bright square moving left to right (class 0) and the same clips reversed in time (class 1).

    Both classes hold exactly the same frames, only in opposite order. Returns clips [2*pairs, 3, T, H, W] and
    labels [2*pairs].
    """
    g = torch.Generator().manual_seed(seed)
    clips = 0.05 * torch.randn(pairs, 3, frames, size, size, generator=g)
    travel = step * (frames - 1)
    for i in range(pairs):
        x0 = int(torch.randint(0, size - square - travel + 1, (1,), generator=g))
        y0 = int(torch.randint(0, size - square + 1, (1,), generator=g))
        colour = 0.5 + 0.5 * torch.rand(3, 1, 1, generator=g)
        for t in range(frames):
            x = x0 + step * t
            clips[i, :, t, y0 : y0 + square, x : x + square] = colour
    labels = torch.cat([torch.zeros(pairs, dtype=torch.long), torch.ones(pairs, dtype=torch.long)])
    return torch.cat([clips, clips.flip(2)]), labels


def train_accuracy(model: nn.Module, clips: torch.Tensor, labels: torch.Tensor, *, steps: int = 40) -> float:
    """SGD with momentum on mini-batches of 16; returns the accuracy on the training clips (eval mode)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        batch = torch.randperm(len(clips), generator=g)[:16]
        loss = F.cross_entropy(model(clips[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return (model(clips).argmax(dim=1) == labels).float().mean().item()


def test_learns_the_direction_of_motion_where_per_frame_cannot(one_thread):
    clips, labels = moving_squares(32)
    torch.manual_seed(0)
    temporal = simple3d(num_classes=2, widths=(8, 16, 32, 64), units_per_stage=1, dropout=0.0)
    assert train_accuracy(temporal, clips, labels) >= 0.9

    torch.manual_seed(0)
    frame_net = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    per_frame = PerFrameClassifier(frame_net, 32, num_classes=2)
    assert train_accuracy(per_frame, clips, labels) <= 0.55
    with torch.no_grad():  # why: a clip and its reversal get the same logits, so one of each pair is wrong
        torch.testing.assert_close(per_frame(clips[:32]), per_frame(clips[32:]), rtol=1e-5, atol=1e-5)
