"""The per-frame (TSN-style) baseline: ImageNet EfficientNet-Lite0 on real photos, the key converter,
per-frame shapes, consensus maths, blindness to frame order, backbones by name, and the model cards."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn

from vidact.errors import CheckpointError, ConfigError
from vidact.models import build_model, model_card
from vidact.models.per_frame import (
    EFFICIENTNET_LITE0_IMAGENET,
    EFFICIENTNET_LITE0_MEAN,
    EFFICIENTNET_LITE0_STD,
    PerFrameClassifier,
    convert_efficientnet_pytorch_to_timm,
    efficientnet_lite0_imagenet,
    efficientnet_lite0_weights_path,
    frame_consensus,
    per_frame,
    per_frame_efficientnet_lite0,
)
from vidact.models.profile import count_macs, count_params
from vidact.models.weights import load_weights, read_checkpoint, sha256_of

# ../shared/data from the project root, found from this file so the tests see it from any working directory.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Photos whose ImageNet class is unambiguous. ImageNet's only apple class is "Granny Smith".
PHOTO_CLASSES = {"squirrel_cls.jpg": 335, "orange.jpg": 950, "apple.jpg": 948, "baboon.jpg": 372}
# butterfly.jpg shows a lime swallowtail, which is not an ImageNet class; its top-1 must still be a butterfly.
# admiral, ringlet, monarch, cabbage butterfly, sulphur butterfly, lycaenid
BUTTERFLY_CLASSES = range(321, 327)


@pytest.fixture(scope="module")
def imagenet_labels() -> list[str]:
    return (DATA / "label_maps/imagenet1k.txt").read_text().splitlines()


@pytest.fixture(scope="module")
def lite0() -> nn.Module:
    return efficientnet_lite0_imagenet().eval()


def load_photo(name: str) -> torch.Tensor:
    """The evaluation preprocessing: short side to 256, centre crop 224, pixels in [0, 1] -> [3, 224, 224]."""
    image = Image.open(DATA / "images" / name).convert("RGB")
    return TF.to_tensor(TF.center_crop(TF.resize(image, 256), 224))


def photo_batch(names, mean, std) -> torch.Tensor:
    """[N, 3, 224, 224], normalised with ``mean`` / ``std``."""
    return torch.stack([TF.normalize(load_photo(n), mean, std) for n in names])


def margins(logits: torch.Tensor, targets: list[int]) -> torch.Tensor:
    """Correct logit minus the best other logit, per row of [N, K] logits."""
    rows = torch.arange(len(targets))
    correct = logits[rows, targets]
    others = logits.clone()
    others[rows, targets] = -math.inf
    return correct - others.max(dim=1).values


# --- ImageNet EfficientNet-Lite0 ----------------------------------------------------------------------------


def test_lite0_classifies_real_photos(lite0, imagenet_labels):
    names = [*PHOTO_CLASSES, "butterfly.jpg"]
    with torch.no_grad():
        top1 = (
            lite0(photo_batch(names, EFFICIENTNET_LITE0_MEAN, EFFICIENTNET_LITE0_STD)).argmax(dim=1).tolist()
        )
    predicted = dict(zip(names, top1, strict=True))
    for name, expected in PHOTO_CLASSES.items():
        assert predicted[name] == expected, f"{name}: {imagenet_labels[predicted[name]]!r}"
    assert predicted["butterfly.jpg"] in BUTTERFLY_CLASSES, imagenet_labels[predicted["butterfly.jpg"]]
    assert imagenet_labels[335].startswith("fox squirrel") and imagenet_labels[950] == "orange"


def test_lite0_prefers_inputs_in_minus_one_to_one(lite0):
    """The TF-trained weights expect (x - 0.5) / 0.5; the usual ImageNet mean/std gives smaller margins."""
    names, targets = list(PHOTO_CLASSES), list(PHOTO_CLASSES.values())
    with torch.no_grad():
        minus_one_to_one = margins(
            lite0(photo_batch(names, EFFICIENTNET_LITE0_MEAN, EFFICIENTNET_LITE0_STD)), targets
        )
        imagenet_stats = margins(lite0(photo_batch(names, IMAGENET_MEAN, IMAGENET_STD)), targets)
    assert (minus_one_to_one > 0).all() and (imagenet_stats > 0).all()
    assert minus_one_to_one.mean() > imagenet_stats.mean() + 0.5


def test_tf_variant_fits_the_weights_better_than_symmetric_padding(lite0):
    """timm's efficientnet_lite0 takes the same keys, but not the padding and BN eps these weights saw."""
    symmetric = timm.create_model("efficientnet_lite0", pretrained=False)
    load_weights(symmetric, efficientnet_lite0_weights_path(), converter=convert_efficientnet_pytorch_to_timm)
    names, targets = list(PHOTO_CLASSES), list(PHOTO_CLASSES.values())
    x = photo_batch(names, EFFICIENTNET_LITE0_MEAN, EFFICIENTNET_LITE0_STD)
    with torch.no_grad():
        p_tf = lite0(x).softmax(dim=1)[range(len(targets)), targets]
        p_symmetric = symmetric.eval()(x).softmax(dim=1)[range(len(targets)), targets]
    assert p_tf.mean() > p_symmetric.mean() + 0.05


def test_converter_maps_every_key_onto_timm():
    source = read_checkpoint(efficientnet_lite0_weights_path())
    converted = convert_efficientnet_pytorch_to_timm(source)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    assert len(converted) == len(source) == len(target)
    assert set(converted) == set(target)
    assert all(converted[k].shape == target[k].shape for k in target)
    # hand-checked renames: flat block 14 is block 3 of stage 5 (stage depths 1, 2, 2, 3, 3, 4, 1)
    assert converted["blocks.5.3.conv_pwl.weight"] is source["_blocks.14._project_conv.weight"]
    assert converted["blocks.0.0.conv_pw.weight"] is source["_blocks.0._project_conv.weight"]
    assert converted["blocks.1.0.bn1.running_var"] is source["_blocks.1._bn0.running_var"]
    assert converted["bn2.weight"] is source["_bn1.weight"]
    assert converted["classifier.bias"] is source["_fc.bias"]


def test_converter_rejects_keys_it_has_no_rule_for():
    source = read_checkpoint(efficientnet_lite0_weights_path())
    with pytest.raises(CheckpointError, match="_se_reduce"):
        convert_efficientnet_pytorch_to_timm(
            {**source, "_blocks.3._se_reduce.weight": torch.zeros(6, 144, 1, 1)}
        )
    with pytest.raises(CheckpointError, match="_blocks.16"):
        convert_efficientnet_pytorch_to_timm({**source, "_blocks.16._bn0.weight": torch.zeros(8)})


def test_lite0_backbone_of_the_video_model_is_the_imagenet_one(lite0):
    model = per_frame_efficientnet_lite0(num_classes=7)
    assert model.num_features == 1280 and model.fc.out_features == 7
    for key, value in model.backbone.state_dict().items():
        torch.testing.assert_close(value, lite0.state_dict()[key], rtol=0, atol=0)
    scratch = per_frame_efficientnet_lite0(num_classes=7, pretrained=False)
    assert not torch.equal(scratch.backbone.conv_stem.weight, lite0.conv_stem.weight)


# --- the per-frame wrapper ----------------------------------------------------------------------------------


class RecordingBackbone(nn.Module):
    """A tiny 2D feature extractor that remembers the shape of every batch it sees: [N, 3, H, W] -> [N, 4]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        return self.conv(x).mean(dim=(2, 3))


def test_per_frame_shapes_and_one_batched_call():
    torch.manual_seed(0)
    backbone = RecordingBackbone()
    model = PerFrameClassifier(backbone, 4, num_classes=5).eval()
    clips = torch.randn(2, 3, 6, 16, 16)
    with torch.no_grad():
        frame_logits = model.forward_frames(clips)
        clip_logits = model(clips)
    assert model.forward_features(clips).shape == (2, 6, 4)
    assert frame_logits.shape == (2, 6, 5) and clip_logits.shape == (2, 5)
    assert backbone.calls[0] == (12, 3, 16, 16)
    # row (b, t) of the per-frame logits is the network applied to frame t of clip b alone
    with torch.no_grad():
        alone = model.fc(backbone(clips[1, :, 4][None]))[0]
    torch.testing.assert_close(frame_logits[1, 4], alone)


def test_consensus_against_hand_computation():
    # one clip, two frames, two classes: frame probabilities (1/2, 1/2) and (3/4, 1/4)
    frame_logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0]]])
    torch.testing.assert_close(
        frame_consensus(frame_logits, "mean_logits"), torch.tensor([[math.log(3.0) / 2, 0.0]])
    )
    mean_softmax = frame_consensus(frame_logits, "mean_softmax")
    torch.testing.assert_close(mean_softmax, torch.tensor([[math.log(0.625), math.log(0.375)]]))
    # log-probabilities: cross-entropy on them is the negative log of the averaged probability
    torch.testing.assert_close(
        F.cross_entropy(mean_softmax, torch.tensor([1])), torch.tensor(-math.log(0.375))
    )


def test_consensus_modes_in_the_model():
    torch.manual_seed(0)
    clips = torch.randn(3, 3, 5, 8, 8)
    model = PerFrameClassifier(RecordingBackbone(), 4, num_classes=6, consensus="mean_softmax").eval()
    with torch.no_grad():
        frame_probs = model.forward_frames(clips).softmax(dim=-1)
        torch.testing.assert_close(model(clips).exp(), frame_probs.mean(dim=1))
    with pytest.raises(ConfigError, match="median"):
        PerFrameClassifier(RecordingBackbone(), 4, num_classes=6, consensus="median")


def test_clip_logits_ignore_frame_order():
    """The defining weakness: shuffling (or reversing) the frames leaves the clip prediction unchanged."""
    torch.manual_seed(0)
    model = build_model("per_frame_resnet18", num_classes=10).eval()
    clips = torch.randn(2, 3, 6, 64, 64)
    permutation = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        logits = model(clips)
        torch.testing.assert_close(model(clips[:, :, permutation]), logits, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model(clips.flip(2)), logits, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(
            model.forward_frames(clips[:, :, permutation]), model.forward_frames(clips)[:, permutation]
        )
    assert not torch.allclose(logits[0], logits[1])  # it does depend on what the frames show


# --- backbones by name --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backbone", "feature_dim"),
    [("timm:resnet18", 512), ("tv:resnet18", 512), ("tv:mobilenet_v3_small", 1024)],
)
def test_backbones_by_name(backbone, feature_dim):
    model = per_frame(backbone=backbone, num_classes=3).eval()
    assert model.num_features == feature_dim
    with torch.no_grad():
        assert model.forward_frames(torch.randn(2, 3, 4, 64, 64)).shape == (2, 4, 3)


@pytest.mark.parametrize(
    "backbone", ["resnet18", "keras:resnet18", "timm:no_such_net", "tv:no_such_net", "tv:"]
)
def test_bad_backbone_names(backbone):
    with pytest.raises(ConfigError):
        per_frame(backbone=backbone)


def test_backbone_weights_from_a_file(tmp_path):
    torch.manual_seed(0)
    published = torchvision.models.resnet18()
    torch.save(published.state_dict(), tmp_path / "resnet18.pth")
    model = per_frame(backbone="tv:resnet18", backbone_weights=tmp_path / "resnet18.pth", num_classes=4)
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, published.layer4[1].conv2.weight)
    assert isinstance(model.backbone.fc, nn.Identity)
    torch.save(torchvision.models.resnet34().state_dict(), tmp_path / "resnet34.pth")
    with pytest.raises(CheckpointError, match="resnet34.pth"):
        per_frame(backbone="tv:resnet18", backbone_weights=tmp_path / "resnet34.pth")


def test_freeze_backbone_trains_the_head_only():
    torch.manual_seed(0)
    model = per_frame(backbone="tv:resnet18", num_classes=3, freeze_backbone=True, dropout=0.5).train()
    assert not model.backbone.training and model.dropout.training
    running_mean = model.backbone.bn1.running_mean.clone()
    F.cross_entropy(model(torch.randn(2, 3, 2, 32, 32)), torch.tensor([0, 2])).backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.fc.weight.grad is not None
    torch.testing.assert_close(model.backbone.bn1.running_mean, running_mean, rtol=0, atol=0)
    assert count_params(model, trainable_only=True) == 512 * 3 + 3


# --- model cards --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["per_frame_efficientnet_lite0", "per_frame_resnet18", "per_frame"])
def test_model_card_numbers(name):
    card = model_card(name)
    model = build_model(name, num_classes=card.default_num_classes)
    assert count_params(model) == card.params
    macs = count_macs(model, torch.zeros(1, *card.input_size))
    assert macs / 1e9 == pytest.approx(card.gmacs, rel=1e-3)


def test_lite0_weights_card():
    weights = model_card("per_frame_efficientnet_lite0").weights
    assert weights == (EFFICIENTNET_LITE0_IMAGENET,)
    assert weights[0].license.startswith("Apache-2.0") and weights[0].top1 == 75.1
    assert weights[0].num_classes == 1000 and weights[0].labels == "imagenet1k"
    assert sha256_of(efficientnet_lite0_weights_path()) == weights[0].files[0].sha256
    # The catalogue's per-frame video model is the ImageNet network on every frame, its classifier included.
    from vidact.models import build_model

    video_model = build_model("per_frame_efficientnet_lite0.imagenet", weights=True)
    image_model = efficientnet_lite0_imagenet()
    frames = torch.rand(2, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        per_frame = video_model.forward_frames(frames.transpose(0, 1)[None])[0]
        torch.testing.assert_close(per_frame, image_model.eval()(frames))
