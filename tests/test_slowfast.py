"""SlowFast: the paper's structure and the seed's lateral-connection example, published params/MACs, logit
parity with PyTorchVideo's create_slowfast through the converter, PySlowFast checkpoints through
load_weights (round trip and errors), the input forms, the builders' options, channels_last_3d and bf16."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidact.errors import CheckpointError, ConfigError
from vidact.models import build_model, model_card
from vidact.models.profile import count_macs, count_params
from vidact.models.slowfast import (
    LateralConnection,
    SlowFast,
    convert_pyslowfast_state_dict,
    convert_pytorchvideo_state_dict,
)
from vidact.models.weights import load_weights

# name -> (published params, published GMACs per 32x256x256 view): PyTorchVideo's model zoo.
PUBLISHED = {
    "slowfast_r50": (34.57e6, 65.71),
    "slowfast_r50_4x16": (34.48e6, 36.69),
    "slowfast_r101": (62.83e6, 127.20),
}
# name -> (depth, alpha, lateral kernel) of the matching PyTorchVideo create_slowfast (as PySlowFast's
# PTVSlowFast builds it: fusion stride = alpha).
ORACLE = {
    "slowfast_r50": (50, 4, 7),
    "slowfast_r50_4x16": (50, 8, 5),
    "slowfast_r101": (101, 4, 5),
}


def tiny_slowfast(**kwargs) -> SlowFast:
    """One bottleneck per stage, 16-channel Slow stem, 2-channel Fast stem: cheap enough for any test."""
    return SlowFast((1, 1, 1, 1), **{"num_classes": 5, "width": 16, "beta_inv": 8, **kwargs})


def randomize_batchnorm(model: nn.Module) -> nn.Module:
    """Give every BN random affine parameters and running statistics, so that no branch is inert."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def calibrate_batchnorm(model: nn.Module, inputs: list[torch.Tensor]) -> nn.Module:
    """Set every BN's running statistics to those of one training-mode pass on ``inputs`` and switch to eval,
    so that activations keep unit scale through a deep network (random statistics make them explode)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: after one pass, exactly that batch's statistics
    model.train()
    with torch.no_grad():
        model(inputs)
    return model.eval()


# ---------------------------------------------------------------------------------------------------------
# Structure


@pytest.mark.parametrize(("ratio", "lateral_channels"), [(1, 8), (2, 16)])
def test_lateral_connection_worked_example(ratio, lateral_channels):
    """Fast [8, 32, 56, 56], alpha = 32 / 4 = 8 -> lateral [8 or 16, 4, 56, 56]; + Slow [64, 4, 56, 56]."""
    torch.manual_seed(0)
    lateral = LateralConnection(fast_channels=8, ratio=ratio, alpha=8, kernel=5).eval()
    slow, fast = torch.randn(1, 64, 4, 56, 56), torch.randn(1, 8, 32, 56, 56)
    # A kernel that copies input channel c % 8 from the centre tap only: the output at Slow frame t must
    # then be ReLU(fast frame 8t) (BN in eval with fresh statistics is the identity up to its eps).
    with torch.no_grad():
        lateral.conv.weight.zero_()
        for c in range(lateral_channels):
            lateral.conv.weight[c, c % 8, 2] = 1.0
    fused = lateral(slow, fast)
    assert fused.shape == (1, 64 + lateral_channels, 4, 56, 56)
    torch.testing.assert_close(fused[:, :64], slow)
    expected = torch.relu(fast[:, :, ::8]).repeat(1, ratio, 1, 1, 1) / (1 + lateral.bn.eps) ** 0.5
    torch.testing.assert_close(fused[:, 64:], expected)


def test_worked_example_through_the_model_stems():
    """The same example inside a model with alpha=8 and lateral_ratio=1: the Slow res2 reads 72 channels."""
    model = build_model("slowfast_r50_4x16", lateral_ratio=1).eval()
    clip = torch.randn(1, 3, 32, 224, 224)
    with torch.no_grad():
        slow, fast = model.slow_stem(clip[:, :, ::8]), model.fast_stem(clip)
        fused = model.laterals[0](slow, fast)
    assert (tuple(slow.shape), tuple(fast.shape)) == ((1, 64, 4, 56, 56), (1, 8, 32, 56, 56))
    assert fused.shape == (1, 72, 4, 56, 56)
    assert model.slow_layers[0][0].conv1.in_channels == 72
    assert build_model("slowfast_r50_4x16").slow_layers[0][0].conv1.in_channels == 80


def test_r50_structure_follows_the_paper():
    model = build_model("slowfast_r50")
    assert model.slow_stem.conv.kernel_size == (1, 7, 7) and model.slow_stem.conv.out_channels == 64
    assert model.fast_stem.conv.kernel_size == (5, 7, 7) and model.fast_stem.conv.out_channels == 8
    assert [len(layer) for layer in model.slow_layers] == [3, 4, 6, 3]
    assert [len(layer) for layer in model.fast_layers] == [3, 4, 6, 3]
    for stage, (slow_kt, fast_kt) in enumerate([(1, 3), (1, 3), (3, 3), (3, 3)]):
        assert {block.conv1.kernel_size for block in model.slow_layers[stage]} == {(slow_kt, 1, 1)}
        assert {block.conv1.kernel_size for block in model.fast_layers[stage]} == {(fast_kt, 1, 1)}
    lateral_shapes = [(m.conv.in_channels, m.conv.out_channels) for m in model.laterals]
    assert lateral_shapes == [(8, 16), (32, 64), (64, 128), (128, 256)]
    assert {(m.conv.kernel_size, m.conv.stride, m.conv.padding) for m in model.laterals} == {
        ((7, 1, 1), (4, 1, 1), (3, 0, 0))
    }
    assert [layer[0].conv1.in_channels for layer in model.slow_layers] == [80, 320, 640, 1280]
    assert model.fc.in_features == 2048 + 256


# ---------------------------------------------------------------------------------------------------------
# Cost


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_params_and_card_match_the_built_model(name):
    card, model = model_card(name), build_model(name)
    params = count_params(model)
    assert params == card.params
    assert params == pytest.approx(PUBLISHED[name][0], rel=0.01)
    depth, alpha, kernel = ORACLE[name]
    assert [len(layer) for layer in model.slow_layers] == ([3, 4, 6, 3] if depth == 50 else [3, 4, 23, 3])
    assert (model.alpha, model.laterals[0].conv.kernel_size[0]) == (alpha, kernel)
    assert (card.frames, card.frame_stride) == (model.num_frames, model.frame_stride) == (32, 2)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_macs_match_published(name):
    """Full size (one 32x256x256 view). On the meta device the flop counter needs shapes only, no arithmetic,
    so this is cheap; on real tensors it counts the same (65,708,888,064 MACs for slowfast_r50)."""
    with torch.device("meta"):
        model, clip = build_model(name), torch.empty(1, 3, 32, 256, 256)
    gmacs = count_macs(model, clip) / 1e9
    assert gmacs == pytest.approx(model_card(name).gmacs, abs=0.01)
    assert gmacs == pytest.approx(PUBLISHED[name][1], rel=0.02)


# ---------------------------------------------------------------------------------------------------------
# Parity with PyTorchVideo


@pytest.mark.parametrize(
    "name", ["slowfast_r50", "slowfast_r50_4x16", pytest.param("slowfast_r101", marks=pytest.mark.slow)]
)
def test_logits_match_pytorchvideo(name):
    """PyTorchVideo's create_slowfast (random weights and BN statistics) converted into the vidact model."""
    create_slowfast = pytest.importorskip("pytorchvideo.models.slowfast").create_slowfast
    depth, alpha, kernel = ORACLE[name]
    torch.manual_seed(0)
    oracle = create_slowfast(
        model_depth=depth,
        slowfast_fusion_conv_kernel_size=(kernel, 1, 1),
        slowfast_fusion_conv_stride=(alpha, 1, 1),
        head_pool=nn.AdaptiveAvgPool3d,
    )
    calibration = [torch.randn(2, 3, 16 // alpha, 48, 48), torch.randn(2, 3, 16, 48, 48)]
    calibrate_batchnorm(randomize_batchnorm(oracle), calibration)
    model = build_model(name)
    assert count_params(model) == count_params(oracle)
    checkpoint = {"model_state": oracle.state_dict()}  # how PyTorchVideo's model zoo files wrap it
    load_weights(model, checkpoint, converter=convert_pytorchvideo_state_dict).eval()

    slow, fast = torch.randn(1, 3, 16 // alpha, 48, 48), torch.randn(1, 3, 16, 48, 48)
    with torch.no_grad():
        expected, logits = oracle([slow, fast]), model([slow, fast])
    assert logits.shape == (1, 400)
    assert expected.abs().max() > 0.1  # not a comparison of two near-zero vectors
    assert (logits - expected).abs().max() <= 1e-4


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("blocks.0.multipathway_blocks.1.conv.weight", "fast_stem.conv.weight"),
        ("blocks.0.multipathway_fusion.norm.running_var", "laterals.0.bn.running_var"),
        ("blocks.3.multipathway_fusion.conv_fast_to_slow.weight", "laterals.3.conv.weight"),
        ("blocks.4.multipathway_blocks.0.res_blocks.2.branch2.norm_c.weight", "slow_layers.3.2.bn3.weight"),
        (
            "blocks.1.multipathway_blocks.1.res_blocks.0.branch1_conv.weight",
            "fast_layers.0.0.downsample.0.weight",
        ),
        ("model.blocks.6.proj.bias", "fc.bias"),
        (
            "blocks.3.multipathway_blocks.0.res_blocks.0.branch2.act_a.weight",
            "blocks.3.multipathway_blocks.0.res_blocks.0.branch2.act_a.weight",
        ),
    ],
)
def test_pytorchvideo_key_mapping(source, expected):
    assert list(convert_pytorchvideo_state_dict({source: torch.zeros(1)})) == [expected]


# ---------------------------------------------------------------------------------------------------------
# PySlowFast checkpoints


def pyslowfast_state_dict(model: SlowFast) -> dict[str, torch.Tensor]:
    """The model's tensors under PySlowFast's names, built from its modules (not from the converter):
    VideoModelStem ``s1.pathway{p}_stem.{conv,bn}``, FuseFastToSlow ``s{1..4}_fuse.{conv_f2s,bn}``, ResStage
    ``s{2..5}.pathway{p}_res{i}`` with ResBlock ``branch1``/``branch1_bn`` and BottleneckTransform
    ``branch2.{a,b,c}``/``branch2.{a,b,c}_bn``, and ResNetBasicHead ``head.projection``."""
    state: dict[str, torch.Tensor] = {}

    def put(prefix: str, module: nn.Module) -> None:
        state.update({f"{prefix}.{name}": tensor.clone() for name, tensor in module.state_dict().items()})

    for pathway, stem in enumerate((model.slow_stem, model.fast_stem)):
        put(f"s1.pathway{pathway}_stem.conv", stem.conv)
        put(f"s1.pathway{pathway}_stem.bn", stem.bn)
    for stage, lateral in enumerate(model.laterals, start=1):
        put(f"s{stage}_fuse.conv_f2s", lateral.conv)
        put(f"s{stage}_fuse.bn", lateral.bn)
    for pathway, layers in enumerate((model.slow_layers, model.fast_layers)):
        for stage, layer in enumerate(layers, start=2):
            for index, block in enumerate(layer):
                name = f"s{stage}.pathway{pathway}_res{index}"
                if block.downsample is not None:
                    put(f"{name}.branch1", block.downsample[0])
                    put(f"{name}.branch1_bn", block.downsample[1])
                for letter, conv, bn in (
                    ("a", block.conv1, block.bn1),
                    ("b", block.conv2, block.bn2),
                    ("c", block.conv3, block.bn3),
                ):
                    put(f"{name}.branch2.{letter}", conv)
                    put(f"{name}.branch2.{letter}_bn", bn)
    put("head.projection", model.fc)
    return state


def save_pyslowfast_checkpoint(path, state: dict[str, torch.Tensor]) -> None:
    """What PySlowFast's save_checkpoint writes: epoch, model_state, optimizer_state, the config as YAML."""
    optimizer_state = {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0, 1]}]}
    checkpoint = {
        "epoch": 196,
        "model_state": state,
        "optimizer_state": optimizer_state,
        "cfg": "MODEL:\n  ARCH: slowfast\n",
    }
    torch.save(checkpoint, path)


def test_pyslowfast_layout_has_the_published_names_and_shapes():
    state = pyslowfast_state_dict(build_model("slowfast_r50"))
    expected = {
        "s1.pathway0_stem.conv.weight": (64, 3, 1, 7, 7),
        "s1.pathway1_stem.conv.weight": (8, 3, 5, 7, 7),
        "s1_fuse.conv_f2s.weight": (16, 8, 7, 1, 1),
        "s2.pathway0_res0.branch1.weight": (256, 80, 1, 1, 1),
        "s2.pathway0_res0.branch2.a.weight": (64, 80, 1, 1, 1),
        "s4.pathway0_res0.branch2.a.weight": (256, 640, 3, 1, 1),
        "s4_fuse.bn.running_mean": (256,),
        "s5.pathway1_res2.branch2.c_bn.running_var": (256,),
        "head.projection.weight": (400, 2304),
    }
    assert {key: tuple(state[key].shape) for key in expected} == expected
    assert "s2.pathway0_res1.branch1.weight" not in state  # identity shortcut inside a stage


def test_pyslowfast_checkpoint_loads(tmp_path):
    torch.manual_seed(0)
    # The R50 layout at 1/4 of the width: the same keys in 1/16 of the bytes.
    source = randomize_batchnorm(build_model("slowfast_r50", width=16)).eval()
    path = tmp_path / "SLOWFAST_8x8_R50.pyth"
    save_pyslowfast_checkpoint(path, pyslowfast_state_dict(source))
    model = build_model("slowfast_r50", width=16)
    load_weights(model, path, converter=convert_pyslowfast_state_dict).eval()
    loaded = model.state_dict()
    for key, tensor in source.state_dict().items():
        assert torch.equal(loaded[key], tensor), key
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), source(clip), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # A 4x16 checkpoint (lateral kernel 5) offered to the 8x8 model.
        (
            lambda s: s.update({"s1_fuse.conv_f2s.weight": torch.zeros(4, 2, 5, 1, 1)}),
            "shape mismatch.*laterals.0.conv.weight",
        ),
        (lambda s: s.pop("head.projection.bias"), "missing keys.*fc.bias"),
        (
            lambda s: s.update({"s4.pathway0_nonlocal2.conv_theta.weight": torch.zeros(1)}),
            "unexpected keys.*nonlocal2",
        ),
    ],
    ids=["wrong-shape", "missing-key", "unexpected-key"],
)
def test_pyslowfast_checkpoint_mismatch_raises(tmp_path, edit, message):
    state = pyslowfast_state_dict(build_model("slowfast_r50", width=16))
    edit(state)
    path = tmp_path / "broken.pyth"
    save_pyslowfast_checkpoint(path, state)
    with pytest.raises(CheckpointError, match=message) as info:
        load_weights(build_model("slowfast_r50", width=16), path, converter=convert_pyslowfast_state_dict)
    assert str(info.value).startswith(str(path))


# ---------------------------------------------------------------------------------------------------------
# Inputs and options


def test_clip_input_equals_pair_with_every_alpha_th_frame():
    torch.manual_seed(0)
    model = randomize_batchnorm(tiny_slowfast(alpha=4)).eval()
    # 30 frames is not a multiple of alpha: the Slow pathway sees ceil(30 / 4) = 8 of them.
    clip = torch.randn(2, 3, 30, 32, 32)
    with torch.no_grad():
        logits = model(clip)
        torch.testing.assert_close(logits, model([clip[:, :, [0, 4, 8, 12, 16, 20, 24, 28]], clip]))
        assert not torch.allclose(logits, model([clip[:, :, 1::4], clip]))
    assert logits.shape == (2, 5)
    with pytest.raises(ValueError, match="needs a Slow clip of 8 frames"):
        model([clip[:, :, ::2], clip])


def test_temporal_features_put_each_fast_group_on_its_slow_step():
    """forward_temporal: [B, T, num_features], the Slow channels first, then the Fast ones averaged over the
    alpha Fast frames of each Slow step; built without classes, the model returns their mean over time."""
    torch.manual_seed(0)
    model = randomize_batchnorm(tiny_slowfast(alpha=4, num_classes=0)).eval()
    clip = torch.randn(2, 3, 32, 32, 32)
    with torch.no_grad():
        slow, fast = model.forward_features(clip)
        temporal = model.forward_temporal(clip)
        pooled = model(clip)
        uneven = model.forward_temporal(clip[:, :, :30])  # 30 Fast frames: ceil(30 / 4) = 8 Slow steps
    c = slow.shape[1]
    assert temporal.shape == (2, 8, model.num_features) == (2, 8, c + fast.shape[1])
    torch.testing.assert_close(temporal[:, 3, :c], slow[:, :, 3].mean(dim=(2, 3)))
    torch.testing.assert_close(temporal[:, 3, c:], fast[:, :, 12:16].mean(dim=(2, 3, 4)))
    torch.testing.assert_close(temporal.mean(dim=1), pooled)
    assert uneven.shape == (2, 8, model.num_features)


def test_builder_options_reach_the_model():
    model = build_model(
        "slowfast_r50",
        num_classes=10,
        alpha=8,
        beta_inv=4,
        slow_frames=4,
        tau=16,
        lateral_ratio=1,
        lateral_kernel=5,
    )
    assert model.fast_stem.conv.out_channels == 16
    assert (model.laterals[0].conv.out_channels, model.laterals[0].conv.kernel_size) == (16, (5, 1, 1))
    assert model.laterals[0].conv.stride == (8, 1, 1)
    assert model.fc.out_features == 10 and model.fc.in_features == 2048 + 512
    assert (model.num_frames, model.frame_stride) == (32, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": 6}, "tau=6 must be a multiple of alpha=4"),
        ({"lateral_kernel": 4}, "lateral_kernel must be odd"),
        ({"width": 12}, "width=12 must be a positive multiple of beta_inv=8"),
        ({"alpha": 0}, "alpha must be a positive integer"),
        ({"num_classes": -1}, "num_classes must be >= 0"),
    ],
)
def test_invalid_options_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        tiny_slowfast(**kwargs)


def test_zero_init_residual():
    assert all(block.bn3.weight.abs().sum() == 0 for layer in tiny_slowfast().slow_layers for block in layer)
    assert all(
        block.bn3.weight.abs().sum() > 0
        for layer in tiny_slowfast(zero_init_residual=False).fast_layers
        for block in layer
    )


def test_predict_with_a_pyslowfast_checkpoint(tmp_path, capsys):
    """`vidact predict VIDEO --model slowfast_r50 --weights FILE`: a PySlowFast checkpoint (full R50, 400
    classes) gives the scores of the model it was saved from, on the published test input (32 frames every 2nd,
    short side 256, 256x256 crop, mean 0.45 / std 0.225)."""
    import json

    import numpy as np

    from vidact.cli import main
    from vidact.infer.predict import load_predictor, predict_video
    from vidact.io.writer import write_video

    torch.manual_seed(0)
    source = randomize_batchnorm(build_model("slowfast_r50")).eval()
    checkpoint = tmp_path / "SLOWFAST_8x8_R50.pkl.pyth"
    save_pyslowfast_checkpoint(checkpoint, pyslowfast_state_dict(source))
    native = tmp_path / "native.pt"
    torch.save(source.state_dict(), native)
    video = tmp_path / "two_seconds.mp4"
    write_video(video, np.random.default_rng(0).integers(0, 256, (60, 144, 192, 3), dtype=np.uint8), 30.0)
    labels = tmp_path / "kinetics_400.txt"
    labels.write_text("".join(f"action {i}\n" for i in range(400)))

    out = tmp_path / "prediction.json"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "predict",
                str(video),
                "--model",
                "slowfast_r50",
                "--weights",
                str(checkpoint),
                "--weights-layout",
                "pyslowfast",
                "--labels",
                str(labels),
                "--window",
                "4",
                "--json",
                str(out),
            ]
        )
    assert exit_info.value.code == 0, capsys.readouterr().err
    got = json.loads(out.read_text())

    reference = load_predictor("slowfast_r50", weights=native, weights_layout="vidact", labels=labels)
    spec = reference.preset
    assert (spec.clip_len, spec.stride, spec.short_side, spec.crop_size) == (32, 2, 256, 256)
    assert spec.mean == pytest.approx((0.45,) * 3) and spec.std == pytest.approx((0.225,) * 3)
    expected = predict_video(reference, video, window=4.0)
    assert [t["label"] for t in got["top"]] == [label for label, _ in expected.top(len(got["top"]))]
    for entry, (_, score) in zip(got["top"], expected.top(len(got["top"])), strict=True):
        assert entry["score"] == pytest.approx(score, rel=1e-4)
