"""ViViT models 1-4 (``vidact.models.vivit``): token grids and shapes, positional embeddings on other clip sizes,
which tokens each model lets interact (model 2's spatial encoder sees one frame, model 4's block one frame and one
spatial cell), gradient checkpointing, and equal logits with Hugging Face's ``VivitForVideoClassification`` (model
1) loaded from its ``save_pretrained`` folder with ``build_model("vivit_b", weights=DIR)``."""

from __future__ import annotations

import json

import pytest
import torch

from vidact.errors import CheckpointError, ConfigError
from vidact.models import FeatureLayout, build_model
from vidact.models.contract import TokenModel, feature_map
from vidact.models.vivit import ViViT

SMALL = {"img_size": 32, "num_frames": 8, "tubelet": (2, 8, 8), "dim": 32, "depth": 2, "num_heads": 4}


def _model(variant: int, **kwargs) -> ViViT:
    torch.manual_seed(variant)
    return ViViT(5, variant=variant, **{**SMALL, "temporal_depth": 1, **kwargs}).eval()


def _clip(frames: int = 8, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, 3, frames, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("variant", [1, 2, 3, 4])
def test_tokens_grid_and_pooling(variant: int) -> None:
    model = _model(variant)
    assert isinstance(model, TokenModel) and model.feature_layout == FeatureLayout.TOKENS
    x = _clip()
    with torch.no_grad():
        tokens = model.forward_features(x)
        logits = model(x)
    grid = model.token_grid(8, 32, 32)
    assert grid == ((4, 1, 1) if variant == 2 else (4, 4, 4))
    prefix = 1 if variant in (1, 2) else 0
    assert model.num_prefix_tokens == prefix
    assert tokens.shape == (2, prefix + grid[0] * grid[1] * grid[2], 32) and logits.shape == (2, 5)
    pooled = model.forward_head(tokens, pre_logits=True)
    torch.testing.assert_close(pooled, tokens[:, 0] if prefix else tokens.mean(dim=1))
    if variant != 2:  # a dense map of the grid tokens (what masked reconstruction reads)
        assert feature_map(model, x).shape == (2, 32, 4, 4, 4)


@pytest.mark.parametrize("variant", [1, 2, 3, 4])
def test_other_clip_sizes_resample_the_positional_embeddings(variant: int) -> None:
    model = _model(variant)
    with torch.no_grad():
        for frames, size in [(4, 32), (16, 48), (6, 40)]:
            tokens = model.forward_features(_clip(frames, size))
            t, h, w = model.token_grid(frames, size, size)
            assert tokens.shape == (2, model.num_prefix_tokens + t * h * w, 32)
            assert torch.isfinite(tokens).all()
    with pytest.raises(ConfigError, match="smaller than one tubelet"):
        model(_clip(1, 32))


def test_model_2_spatial_encoder_sees_one_frame_at_a_time() -> None:
    model = _model(2)
    seen = []
    model.norm_spatial.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    x = _clip()
    y = x.clone()
    y[:, :, 2:4] += 1.0  # the tubelets of time step 1 only
    with torch.no_grad():
        model(x), model(y)
    a, b = (s.reshape(2, 4, 32) for s in seen)  # per-frame CLS tokens [B, T', D]
    changed = (a - b).abs().amax(dim=(0, 2)) > 1e-6
    assert changed.tolist() == [False, True, False, False]


def _changed_tokens(model: ViViT, t: int, h: int, w: int) -> torch.Tensor:
    """Which output tokens [T', H', W'] change when only input tubelet (t, h, w) changes."""
    x = _clip(seed=3)
    y = x.clone()
    y[:, :, 2 * t : 2 * t + 2, 8 * h : 8 * h + 8, 8 * w : 8 * w + 8] += 1.0
    with torch.no_grad():
        diff = (model.forward_features(x) - model.forward_features(y))[:, model.num_prefix_tokens :]
    return (diff.abs().amax(dim=(0, 2)) > 1e-6).reshape(4, 4, 4)


def test_model_4_block_mixes_a_token_with_its_frame_and_its_spatial_cell_only() -> None:
    changed = _changed_tokens(_model(4, depth=1), 1, 2, 3)
    expected = torch.zeros(4, 4, 4, dtype=torch.bool)
    expected[1] = True  # the same frame (space heads)
    expected[:, 2, 3] = True  # the same spatial cell (time heads)
    assert torch.equal(changed, expected)
    # Models 1 and 3 reach every token in one block (joint; space then time).
    assert _changed_tokens(_model(1, depth=1), 1, 2, 3).all()
    assert _changed_tokens(_model(3, depth=1), 1, 2, 3).all()


def test_gradient_checkpointing_gives_the_same_outputs_and_gradients() -> None:
    x = _clip()
    results = []
    for enable in (False, True):
        model = _model(3).train()
        model.set_grad_checkpointing(enable)
        out = model(x)
        out.square().sum().backward()
        results.append((out.detach(), model.blocks[0].attn_time.qkv.weight.grad.clone()))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


def test_builders_refuse_another_variant_and_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="vivit_m2_t is ViViT model 2.*build vivit_b"):
        build_model("vivit_m2_t", variant=1)
    with pytest.raises(ConfigError, match="splits the heads in two"):
        ViViT(3, variant=4, **{**SMALL, "dim": 30, "num_heads": 3})
    with pytest.raises(ConfigError, match="variant must be one of"):
        ViViT(3, variant=5, **SMALL)


# --- Hugging Face parity ---------------------------------------------------------------------------------

transformers = pytest.importorskip("transformers")


def _hf_folder(tmp_path, **overrides):
    """A random-weights ``VivitForVideoClassification`` of odd sizes, saved with ``save_pretrained``."""
    config = transformers.VivitConfig(
        image_size=40,
        num_frames=5,
        tubelet_size=[2, 8, 8],
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=3,
        intermediate_size=88,
        id2label={0: "walk", 1: "run", 2: "jump", 3: "sit"},
        **overrides,
    )
    torch.manual_seed(0)
    hf = transformers.VivitForVideoClassification(config).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # every parameter random, LayerNorms included (at 1/0 they would hide a swap)
        for p in hf.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.2 + (1.0 if p.ndim == 1 else 0.0) * 0.5)
    hf.save_pretrained(tmp_path)
    return hf


@pytest.mark.parametrize(
    "overrides",
    [{}, {"hidden_act": "gelu", "layer_norm_eps": 1e-5, "qkv_bias": False}],
    ids=["defaults", "gelu-eps-no-qkv-bias"],
)
def test_equal_to_hugging_face_vivit(tmp_path, overrides) -> None:
    hf = _hf_folder(tmp_path, **overrides)
    model = build_model("vivit_b", weights=tmp_path)
    assert not model.training and model.num_classes == 4
    assert isinstance(model.blocks[0].mlp.act, torch.nn.GELU)
    assert model.blocks[0].mlp.act.approximate == ("none" if overrides else "tanh")
    assert model.norm.eps == hf.config.layer_norm_eps
    assert (model.blocks[0].attn.qkv.bias is not None) == hf.config.qkv_bias
    x = torch.randn(2, 3, 5, 40, 40, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = model(x)
        theirs = hf(pixel_values=x.transpose(1, 2)).logits  # Hugging Face takes [B, T, C, H, W]
        hidden = hf.vivit(pixel_values=x.transpose(1, 2)).last_hidden_state
        tokens = model.forward_features(x)
    assert (ours - theirs).abs().max() <= 1e-4
    assert (tokens - hidden).abs().max() <= 1e-4
    assert (ours - theirs).abs().max() < 1e-2 * theirs.abs().max()  # not equal by being all zero


def test_folder_gives_classes_and_spec(tmp_path) -> None:
    _hf_folder(tmp_path)
    from vidact.models.hub import load_file

    loaded = load_file("vivit_b", tmp_path)
    assert loaded.classes == ["walk", "run", "jump", "sit"]
    assert loaded.spec.frames == 5 and loaded.spec.crop_size == 40
    assert loaded.module.patch_embed.tubelet == (2, 8, 8) and len(loaded.module.blocks) == 2


def test_bad_folders_are_one_line_errors(tmp_path) -> None:
    _hf_folder(tmp_path)
    with pytest.raises(ConfigError, match="vivit_m3_b is ViViT model 3"):
        build_model("vivit_m3_b", weights=tmp_path)
    with pytest.raises(ConfigError, match="no config reader for hf checkpoint folders of simple3d"):
        build_model("simple3d", weights=tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "videomae"}))
    with pytest.raises(CheckpointError, match="not a Hugging Face ViViT config"):
        build_model("vivit_b", weights=tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(CheckpointError, match="blocks.2"):
        build_model("vivit_b", weights=tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(CheckpointError, match="no config.json"):
        build_model("vivit_b", weights=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        build_model("vivit_b", weights=empty)
