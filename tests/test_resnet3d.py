"""vidact.models.resnet3d against torchvision's video ResNets, PyTorchVideo's I3D-R50, published numbers."""

from __future__ import annotations

import pytest
import torch
from pytorchvideo.models.hub import i3d_r50 as pytorchvideo_i3d_r50
from torch import nn
from torchvision.models import video as tv_video

from vidact.errors import CheckpointError, ConfigError
from vidact.models import build_model, list_models, model_card
from vidact.models.profile import count_macs, count_params
from vidact.models.resnet3d import (
    convert_pytorchvideo_state_dict,
    convert_torchvision_state_dict,
    resnet18_3d,
)
from vidact.models.weights import load_weights

MODELS = [
    "r3d_18",
    "mc3_18",
    "r2plus1d_18",
    "resnet18_3d_spatial",
    "resnet18_3d_temporal",
    "resnet18_3d_joint",
    "resnet18_3d_2plus1d",
    "i3d_r50",
]
# Published numbers of torchvision's Kinetics-400 weights: parameters, GMACs at 3x16x112x112, top-1, top-5.
TORCHVISION_PUBLISHED = {
    "r3d_18": (33_371_472, 40.697, 63.2, 83.479),
    "mc3_18": (11_695_440, 43.343, 63.96, 84.13),
    "r2plus1d_18": (31_505_325, 40.519, 67.463, 86.175),
}
TORCHVISION_WEIGHTS = {
    "r3d_18": tv_video.R3D_18_Weights.KINETICS400_V1,
    "mc3_18": tv_video.MC3_18_Weights.KINETICS400_V1,
    "r2plus1d_18": tv_video.R2Plus1D_18_Weights.KINETICS400_V1,
}


def _randomise_batchnorm_(model: nn.Module, seed: int) -> nn.Module:
    """Give every BatchNorm distinct statistics and affine terms, so a BatchNorm loaded into the wrong slot
    changes the output (at their initial values, 0/1, every BatchNorm is the same function)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)
    return model


def _torchvision_model(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return _randomise_batchnorm_(getattr(tv_video, name)(), seed).eval()


def test_every_model_of_this_file_is_registered() -> None:
    assert set(MODELS) <= set(list_models())


@pytest.mark.parametrize("name", list(TORCHVISION_PUBLISHED))
def test_torchvision_state_dict_gives_identical_logits(name: str) -> None:
    reference = _torchvision_model(name)
    model = load_weights(build_model(name), reference.state_dict(), converter=convert_torchvision_state_dict)
    x = torch.randn(2, 3, 8, 48, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = reference(x), model.eval()(x)
    assert expected.shape == (2, 400)
    assert expected.abs().max() > 1e-2  # the comparison below is not between two near-zero outputs
    assert (actual - expected).abs().max() <= 1e-5


def test_torchvision_checkpoint_file_at_full_size(tmp_path) -> None:
    reference = _torchvision_model("r2plus1d_18", seed=3)
    path = tmp_path / "r2plus1d_18.pth"
    torch.save(reference.state_dict(), path)
    model = load_weights(build_model("r2plus1d_18"), path, converter=convert_torchvision_state_dict).eval()
    x = torch.randn(1, 3, 16, 112, 112, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max() <= 1e-5


def test_torchvision_converter_passes_vidact_keys_through() -> None:
    state = build_model("r2plus1d_18").state_dict()
    assert list(convert_torchvision_state_dict(state)) == list(state)


def test_torchvision_weights_of_another_architecture_are_rejected() -> None:
    state = tv_video.r3d_18().state_dict()
    with pytest.raises(CheckpointError, match="does not fit ResNet3d: .* missing keys"):
        load_weights(build_model("r2plus1d_18"), state, converter=convert_torchvision_state_dict)


@pytest.mark.parametrize("name", list(TORCHVISION_PUBLISHED))
def test_params_and_macs_match_torchvision_metadata(name: str) -> None:
    params, gmacs, _, _ = TORCHVISION_PUBLISHED[name]
    meta = TORCHVISION_WEIGHTS[name].meta
    assert (meta["num_params"], meta["_ops"]) == (params, gmacs)
    with torch.device("meta"):
        model = build_model(name)
    assert count_params(model) == params
    macs = count_macs(model, torch.empty(1, 3, 16, 112, 112, device="meta"))
    assert macs / 1e9 == pytest.approx(gmacs, rel=5e-3)


@pytest.mark.parametrize("name", list(TORCHVISION_PUBLISHED))
def test_model_card_lists_torchvision_weights(name: str) -> None:
    _, _, top1, top5 = TORCHVISION_PUBLISHED[name]
    published = TORCHVISION_WEIGHTS[name]
    (weights,) = model_card(name).weights
    assert weights.url == published.url and weights.tag == "kinetics400"
    assert (weights.layout, weights.source, weights.dataset, weights.num_classes) == (
        "torchvision",
        "torchvision",
        "Kinetics-400",
        400,
    )
    assert (weights.top1, weights.top5) == (top1, top5)
    assert published.meta["_metrics"]["Kinetics-400"] == {"acc@1": top1, "acc@5": top5}


@pytest.mark.parametrize("name", MODELS)
def test_model_card_matches_the_model(name: str) -> None:
    card = model_card(name)
    with torch.device("meta"):
        model = build_model(name, num_classes=card.default_num_classes)
    assert card.name == name and card.family == "resnet3d"
    assert card.frames == card.input_size[1]
    assert count_params(model) == card.params
    macs = count_macs(model, torch.empty(1, *card.input_size, device="meta"))
    assert macs / 1e9 == pytest.approx(card.gmacs, rel=1e-3)


@pytest.mark.parametrize(
    ("name", "order_invariant"),
    [
        ("resnet18_3d_spatial", True),
        ("resnet18_3d_temporal", False),
        ("resnet18_3d_joint", False),
        ("resnet18_3d_2plus1d", False),
    ],
)
def test_only_the_spatial_variant_ignores_frame_order(name: str, order_invariant: bool) -> None:
    torch.manual_seed(0)
    model = _randomise_batchnorm_(build_model(name), seed=0).eval()
    x = torch.randn(1, 3, 8, 32, 32, generator=torch.Generator().manual_seed(5))
    shuffled = x[:, :, [3, 7, 0, 5, 1, 6, 2, 4]]
    with torch.no_grad():
        logits, shuffled_logits = model(x), model(shuffled)
    change = (logits - shuffled_logits).abs().max() / logits.abs().max()
    if order_invariant:
        assert change < 1e-5
    else:
        assert change > 1e-3


@pytest.mark.parametrize("kernel", ["spatial", "temporal", "joint", "2plus1d"])
def test_ablation_varies_only_the_residual_kernel(kernel: str) -> None:
    with torch.device("meta"):
        model = resnet18_3d(kernel)
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv3d)}
    assert convs["stem.conv"].kernel_size == (1, 7, 7)
    assert all(conv.stride[0] == 1 for conv in convs.values())  # T is never downsampled
    residual = [
        conv.kernel_size for name, conv in convs.items() if name.startswith("layer") and ".conv" in name
    ]
    expected = {
        "spatial": {(1, 3, 3)},
        "temporal": {(3, 1, 1)},
        "joint": {(3, 3, 3)},
        "2plus1d": {(1, 3, 3), (3, 1, 1)},
    }[kernel]
    assert set(residual) == expected
    assert len(residual) == (32 if kernel == "2plus1d" else 16)


def test_ablation_2plus1d_has_about_the_parameters_of_joint() -> None:
    with torch.device("meta"):
        joint, factorised = resnet18_3d("joint"), resnet18_3d("2plus1d")
    assert count_params(factorised) / count_params(joint) == pytest.approx(1.0, abs=0.07)


def test_ablation_base_width_scales_every_stage() -> None:
    with torch.device("meta"):
        narrow = resnet18_3d("joint", num_classes=10, base_width=16)
        full = resnet18_3d("joint", num_classes=10)
    widths = [
        layer[0].bn2.num_features for layer in (narrow.layer1, narrow.layer2, narrow.layer3, narrow.layer4)
    ]
    assert widths == [16, 32, 64, 128] and narrow.fc.in_features == 128
    # 3D convolutions dominate: a quarter of the width is about a sixteenth of the parameters
    assert count_params(full) / count_params(narrow) == pytest.approx(16, rel=0.05)
    logits = narrow.to_empty(device="cpu")(torch.randn(2, 3, 4, 32, 32))
    assert logits.shape == (2, 10)


def test_unknown_ablation_kernel_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown kernel 'diagonal'"):
        resnet18_3d("diagonal")  # type: ignore[arg-type]


def test_i3d_r50_params_match_the_published_count() -> None:
    with torch.device("meta"):
        model = build_model("i3d_r50")
    assert count_params(model) == pytest.approx(28.04e6, rel=0.01)
    temporal_kernels = [
        [block.conv1.kernel_size[0] for block in layer]
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4)
    ]
    assert temporal_kernels == [[3, 3, 3], [3, 1, 3, 1], [3, 1, 3, 1, 3, 1], [1, 3, 1]]


def test_i3d_r50_matches_pytorchvideo() -> None:
    torch.manual_seed(0)
    # PyTorchVideo's head averages with a fixed window (4x7x7 for 8x224x224); size it to this input's 4x2x2.
    reference = _randomise_batchnorm_(pytorchvideo_i3d_r50(head_pool_kernel_size=(4, 2, 2)), seed=0).eval()
    model = load_weights(
        build_model("i3d_r50"), reference.state_dict(), converter=convert_pytorchvideo_state_dict
    )
    x = torch.randn(2, 3, 8, 64, 64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected, actual = reference(x), model.eval()(x)
    assert expected.abs().max() > 1e-2
    assert (actual - expected).abs().max() <= 1e-6 * expected.abs().max()  # float32 rounding only
