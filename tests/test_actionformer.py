"""ActionFormer and the sliding-window baseline: the local attention against a dense band-masked reference, the
pyramid's shapes and masks, padding that never changes a real step's outputs, parity with the authors' release
(outputs recorded from their code), the baseline's windows, and a few steps of training on one sequence.

The detection contract shared with every features model (forward = head(features), the classifier, the card) is
checked in tests/test_contract.py."""

from __future__ import annotations

import math

import pytest
import torch

from vidact.detect.losses import LossNormalizer, detection_losses
from vidact.errors import ConfigError
from vidact.models import build_model, hub
from vidact.models.actionformer import ActionFormer, masked_max_pool, windowed_attention
from vidact.models.tad_baseline import SlidingWindowDetector, default_half_lengths, window_means


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: the small forward passes here run fastest so, and do not stall on busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _dense_band_attention(q, k, v, mask, window):
    """The obvious reference: [B, H, T, E] scores over all pairs, -inf outside the band |i - j| <= window // 2
    and on padded keys, softmax, weighted values."""
    t = q.shape[2]
    i = torch.arange(t)
    allowed = mask[:, None, None, :].expand(-1, 1, t, -1).clone()
    if window is not None:
        allowed &= ((i[:, None] - i[None, :]).abs() <= window // 2)[None, None]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v


@pytest.mark.parametrize("length", [1, 2, 5, 23, 40])
@pytest.mark.parametrize("window", [3, 9, 19, None])
def test_windowed_attention_equals_dense_band_masked_attention(length: int, window: int | None) -> None:
    generator = torch.Generator().manual_seed(length * 31 + (window or 0))
    q, k, v = (torch.randn(3, 2, length, 8, generator=generator) for _ in range(3))
    mask = torch.ones(3, length, dtype=torch.bool)
    mask[1, max(1, length - 7) :] = False  # padded at the end
    mask[2, : length // 3] = False  # and a hole at the start (no caller does it; the band must not care)
    mask[2, -1] = True
    out = windowed_attention(q, k, v, mask, window)
    reference = _dense_band_attention(q, k, v, mask, window)
    assert out.shape == q.shape
    torch.testing.assert_close(
        out[mask[:, None, :].expand_as(out[..., 0])], reference[mask[:, None, :].expand_as(reference[..., 0])]
    )
    assert torch.isfinite(out).all()  # padded queries attend to themselves: no NaN from empty rows


def test_windowed_attention_is_local() -> None:
    """A key outside every query's band changes nothing; inside it, it does."""
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, 30, 4, generator=generator) for _ in range(3))
    mask = torch.ones(1, 30, dtype=torch.bool)
    before = windowed_attention(q, k, v, mask, 5)
    v2 = v.clone()
    v2[0, 0, 20] += 10.0
    after = windowed_attention(q, k, v2, mask, 5)
    changed = (after - before).abs().amax(dim=-1)[0, 0] > 0
    assert changed.nonzero()[:, 0].tolist() == [18, 19, 20, 21, 22]


def test_masked_max_pool_ignores_padding() -> None:
    x = -torch.arange(1.0, 9.0).reshape(1, 1, 8)  # all negative: a padded zero would win a plain max
    mask = torch.tensor([[True] * 5 + [False] * 3])
    pooled = masked_max_pool(x * mask, mask, 2)
    # output i covers input steps 2i-1, 2i, 2i+1 (real ones only); steps 6 and 8 are padding: zero.
    assert pooled.tolist() == [[[-1.0, -2.0, -4.0, 0.0]]]


def _perturbed(model: torch.nn.Module, seed: int = 3) -> torch.nn.Module:
    """Every parameter moved off its initial value (zero biases and unit norms hide leaks of padding)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
    return model.eval()


DETECTORS = {
    "local": lambda: ActionFormer(4, 6, embed_dim=16, head_dim=16, arch=(2, 1, 3), window=5, max_seq_len=64),
    "global_last_level_abs_pe": lambda: ActionFormer(
        4,
        6,
        embed_dim=16,
        head_dim=16,
        arch=(2, 1, 3),
        window=(5, 5, 3, None),
        max_seq_len=64,
        abs_pos_embed=True,
    ),
    "baseline": lambda: SlidingWindowDetector(
        4, 6, embed_dim=16, hidden_dim=16, num_levels=4, max_seq_len=64
    ),
}


@pytest.mark.parametrize("kind", DETECTORS)
@pytest.mark.parametrize("length", [1, 13, 37, 64])
def test_pyramid_shapes_and_masks_for_any_length(kind: str, length: int) -> None:
    model = _perturbed(DETECTORS[kind]())
    x = torch.randn(2, 6, length)
    mask = torch.ones(2, length, dtype=torch.bool)
    short = max(1, length - 9)
    mask[1, short:] = False
    with torch.no_grad():
        out = model(x, mask)
    assert model.strides == (1, 2, 4, 8)
    for level, stride in enumerate(model.strides):
        steps = -(-length // stride)
        assert out["cls_logits"][level].shape == (2, steps, 4)
        assert out["offsets"][level].shape == (2, steps, 2)
        assert out["masks"][level].shape == (2, steps)
        assert out["masks"][level].dtype == torch.bool
        assert out["masks"][level][0].all()
        assert out["masks"][level][1].sum() == -(-short // stride)  # the steps i * stride < the real length
        assert (out["offsets"][level] >= 0).all()
        padded = ~out["masks"][level]
        assert (out["cls_logits"][level][padded] == 0).all() and (out["offsets"][level][padded] == 0).all()


@pytest.mark.parametrize("kind", DETECTORS)
@pytest.mark.parametrize(("real", "padded_to"), [(29, 50), (32, 64), (8, 40), (17, 17)])
def test_a_padded_sample_gives_its_outputs_alone(kind: str, real: int, padded_to: int) -> None:
    """In a batch padded to 50 (or 64) steps, a 29-step (32-step) sample's outputs on its real steps are those it
    gives alone: padding never reaches the convolutions, the attention or the pooling of real steps."""
    model = _perturbed(DETECTORS[kind]())
    generator = torch.Generator().manual_seed(real)
    x = torch.randn(2, 6, padded_to, generator=generator)
    mask = torch.ones(2, padded_to, dtype=torch.bool)
    mask[1, real:] = False
    x[1, :, real:] = torch.randn(6, padded_to - real, generator=generator)  # junk in the padding, masked
    with torch.no_grad():
        batched = model(x, mask)
        alone = model(x[1:, :, :real])
    for level in range(len(model.strides)):
        steps = alone["masks"][level].shape[1]
        for key in ("cls_logits", "offsets"):
            torch.testing.assert_close(
                batched[key][level][1, :steps], alone[key][level][0], atol=1e-5, rtol=1e-5
            )


# Outputs of the authors' release (github.com/happyharrycn/actionformer_release at 61ea7eb, libs/modeling:
# LocPointTransformer with the identity FPN) on the deterministic weights and input below, no padding: per level
# (sum of logits, sum of logits x cos(flat index), sum of offsets, sum of offsets x cos(flat index)).
RELEASE_OUTPUTS = {
    "local": [
        (-13.667052, -0.222316, 107.704070, 1.312260),
        (-6.201349, -0.051925, 54.940819, 0.549196),
        (-3.295166, -0.134316, 32.262422, 0.382674),
        (-1.708041, 0.191183, 14.235196, 0.796223),
    ],
    "global_last_abs_pe": [
        (-13.594361, -0.223284, 107.029186, 1.467485),
        (-6.305995, -0.036805, 52.784001, 0.862756),
        (-3.272303, -0.099617, 32.313276, 0.360588),
        (-1.702945, 0.194994, 14.290023, 0.829051),
    ],
}
RELEASE_CONFIGS = {
    "local": {"window": 9},
    "global_last_abs_pe": {"window": (5, 5, 5, None), "abs_pos_embed": True},
}


def _release_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights made from the parameter names (theirs and ours are the same names, in sorted order): sine waves,
    near 1 for norm weights, scales and the offset bias, fan-in scaled for other weights, small for biases."""
    out = {}
    for k, name in enumerate(sorted(state)):
        shape = state[name].shape
        numel = math.prod(shape)
        wave = torch.sin(0.37 * torch.arange(numel, dtype=torch.float64) + 1.1 * k)
        norm_weight = name.endswith(".weight") and ("norm" in name or ".ln" in name)
        if name.endswith("scale") or name.endswith("offset_head.conv.bias") or norm_weight:
            values = 1.0 + 0.2 * wave
        elif name.endswith(".weight"):
            values = math.sqrt(6.0 * shape[0] / numel) * wave
        else:
            values = 0.1 * wave
        out[name] = values.to(torch.float32).reshape(shape)
    return out


@pytest.mark.parametrize("config", RELEASE_CONFIGS)
def test_outputs_equal_the_authors_release(config: str) -> None:
    model = ActionFormer(
        3,
        16,
        embed_dim=32,
        head_dim=32,
        arch=(2, 2, 3),
        max_seq_len=64,
        drop_path=0.1,
        **RELEASE_CONFIGS[config],
    )
    model.load_state_dict(_release_weights(model.state_dict()))
    t, d = torch.arange(64, dtype=torch.float64), torch.arange(16, dtype=torch.float64)
    x = (torch.sin(0.05 * t[None] * (1 + d[:, None] % 7)) + torch.cos(0.3 * d[:, None])).to(torch.float32)[
        None
    ]
    with torch.no_grad():
        out = model.eval()(x)
    for level, expected in enumerate(RELEASE_OUTPUTS[config]):
        row = []
        for key in ("cls_logits", "offsets"):
            y = out[key][level][0].double()
            row += [float(y.sum()), float((y.flatten() * torch.cos(torch.arange(y.numel()).double())).sum())]
        assert row == pytest.approx(expected, abs=2e-4), level


def test_the_authors_checkpoints_load_by_name(tmp_path) -> None:
    """A checkpoint as their training writes it (DataParallel's ``module.`` prefix, LayerNorm weights [1, C, 1],
    the EMA copy beside it) loads into the registered model, found by trying the layouts."""
    source = _perturbed(
        build_model("actionformer_tiny", num_classes=3, in_channels=16, embed_dim=16, head_dim=16)
    )
    theirs = {
        f"module.{k}": v.reshape(1, -1, 1) if ("norm" in k or ".ln" in k) and v.ndim == 1 else v
        for k, v in source.state_dict().items()
    }
    assert theirs["module.backbone.stem.0.ln1.weight"].shape == (1, 16, 1)
    path = tmp_path / "epoch_034.pth.tar"
    torch.save({"epoch": 34, "state_dict": theirs, "state_dict_ema": theirs}, path)
    loaded = hub.load_file("actionformer_tiny", path, in_channels=16, embed_dim=16, head_dim=16).module
    assert loaded.num_classes == 3
    x = torch.randn(1, 16, 40)
    with torch.no_grad():
        for a, b in zip(loaded(x)["cls_logits"], source(x)["cls_logits"], strict=True):
            assert torch.equal(a, b)


def test_window_means_are_masked_window_averages() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 21, generator=generator)
    mask = torch.ones(2, 21, dtype=torch.bool)
    mask[1, 14:] = False
    x = x * mask[:, None]
    for stride, half in [(1, 2.0), (2, 6.0), (4, 3.5), (8, 96.0)]:
        means = window_means(x, mask, stride, half)
        assert means.shape == (2, 3, -(-21 // stride))
        for b in range(2):
            for i, centre in enumerate(range(0, 21, stride)):
                steps = [j for j in range(21) if abs(j - centre) <= half and mask[b, j]]
                expected = x[b, :, steps].mean(dim=1) if steps else torch.zeros(3)
                torch.testing.assert_close(means[b, :, i], expected, atol=1e-5, rtol=1e-5)


def test_the_baseline_proposes_its_fixed_windows() -> None:
    model = SlidingWindowDetector(3, 6, embed_dim=8, hidden_dim=8, num_levels=4, max_seq_len=64)
    assert model.half_lengths == default_half_lengths(model.regression_ranges) == (2.0, 6.0, 12.0, 24.0)
    out = model(torch.randn(1, 6, 40))
    for level, stride in enumerate(model.strides):
        assert torch.equal(
            out["offsets"][level], torch.full_like(out["offsets"][level], model.half_lengths[level] / stride)
        )
        assert not out["offsets"][level].requires_grad  # no regression: nothing to learn there
    # Each level's window fits the actions assigned to it: the distance to the farther boundary (the half
    # length at the centre) lies inside the level's regression range.
    for (low, high), half in zip(model.regression_ranges, model.half_lengths, strict=True):
        assert low <= half <= high


def test_bad_configurations_and_inputs_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="odd"):
        ActionFormer(3, 6, embed_dim=16, head_dim=16, arch=(2, 1, 3), window=8, max_seq_len=64)
    with pytest.raises(ConfigError, match="num_classes"):
        ActionFormer(0, 6, embed_dim=16, head_dim=16, arch=(2, 1, 3), max_seq_len=64)
    with pytest.raises(ConfigError, match="window: 2 values for 4"):
        ActionFormer(3, 6, embed_dim=16, head_dim=16, arch=(2, 1, 3), window=(5, 5), max_seq_len=64)
    with pytest.raises(ConfigError, match="multiple of the largest stride 8"):
        ActionFormer(3, 6, embed_dim=16, head_dim=16, arch=(2, 1, 3), max_seq_len=60)
    model = ActionFormer(3, 6, embed_dim=16, head_dim=16, arch=(2, 1, 3), window=5, max_seq_len=64)
    with pytest.raises(ConfigError, match="features have 5 channels, the detector takes 6"):
        model(torch.zeros(1, 5, 10))
    with pytest.raises(ValueError, match=r"\[B, D, T\]"):
        model(torch.zeros(6, 10))
    with pytest.raises(ValueError, match="mask"):
        model(torch.zeros(1, 6, 10), torch.ones(1, 9, dtype=torch.bool))


def _one_sequence(length: int = 64, channels: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features [1, D, T] where each action's steps carry its class in one channel, its segments and labels."""
    generator = torch.Generator().manual_seed(0)
    segments = torch.tensor([[4.0, 14.0], [24.0, 30.0], [38.0, 60.0]])
    labels = torch.tensor([0, 1, 2])
    x = 0.3 * torch.randn(1, channels, length, generator=generator)
    for (start, end), label in zip(segments.long().tolist(), labels.tolist(), strict=True):
        x[0, label, start:end] += 2.0
    return x, segments, labels


@pytest.mark.parametrize("name", ["actionformer_tiny", "tad_baseline_tiny"])
def test_a_tiny_detector_learns_one_sequence(name: str) -> None:
    torch.manual_seed(0)
    options = {"embed_dim": 32} if name == "tad_baseline_tiny" else {"embed_dim": 32, "head_dim": 32}
    model = build_model(name, num_classes=3, in_channels=8, **options)
    x, segments, labels = _one_sequence()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    normalizer = LossNormalizer(initial=10.0)
    history = []
    for _ in range(30):
        losses = detection_losses(
            model(x),
            [segments],
            [labels],
            strides=model.strides,
            regression_ranges=model.regression_ranges,
            num_classes=3,
            normalizer=normalizer,
        )
        loss = losses["cls"] + losses["reg"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((losses["cls"].item(), losses["reg"].item()))
    assert history[-1][0] < 0.5 * history[0][0]
    if name == "actionformer_tiny":
        assert history[-1][1] < 0.8 * history[0][1]  # the boundaries are learnt too
    else:
        assert not losses["reg"].requires_grad  # fixed extents: the regression loss only measures them
