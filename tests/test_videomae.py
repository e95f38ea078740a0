"""vidact.models.videomae against Hugging Face's VideoMAEForVideoClassification and VideoMAEForPreTraining (random
weights from small, odd configs; no download): equal logits, and the same pre-training loss for the same
``bool_masked_pos``; tube masks (one spatial mask for all time steps, the exact ratio); an encoder that sees only
the visible tokens; ViT-B's parameter count; positional resampling; the pre-trainer's state_dict prefixes."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import VideoMAEConfig, VideoMAEForPreTraining, VideoMAEForVideoClassification

from vidact.errors import ConfigError
from vidact.models import build_model, model_card
from vidact.models.converters import get_converter
from vidact.models.profile import count_params
from vidact.models.videomae import (
    VideoMAE,
    VideoMAEPretrainer,
    config_from_hf,
    convert_hf_state_dict,
    pretrainer_config_from_hf,
    tube_mask,
)

# 5 frames in tubelets of 2: the last frame is dropped by both models (grid 2 x 6 x 6 = 72 tokens).
FRAMES, SIZE, PATCH, CLASSES = 5, 48, 8, 7
GRID = (2, 6, 6)


def _hf_config(**kwargs) -> VideoMAEConfig:
    base = {
        "image_size": SIZE,
        "patch_size": PATCH,
        "num_frames": FRAMES,
        "tubelet_size": 2,
        "hidden_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 3,
        "intermediate_size": 96,
        "num_labels": CLASSES,
        "decoder_hidden_size": 32,
        "decoder_num_hidden_layers": 2,
        "decoder_num_attention_heads": 2,
        "decoder_intermediate_size": 64,
    }
    return VideoMAEConfig(**{**base, **kwargs})


def _perturbed(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter moved off its initial value (LayerNorms off 1/0, biases off 0), in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.05)
    return model.eval()


def _clips(batch: int = 2, frames: int = FRAMES, size: int = SIZE, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, frames, size, size, generator=torch.Generator().manual_seed(seed))


CLASSIFIERS = {
    "mean_pooling": {"use_mean_pooling": True},
    "first_token_gelu_new": {"use_mean_pooling": False, "hidden_act": "gelu_new", "layer_norm_eps": 1e-6},
}


@pytest.mark.parametrize("variant", CLASSIFIERS)
def test_converted_weights_give_hugging_faces_logits(variant: str) -> None:
    torch.manual_seed(0)
    hf = _perturbed(VideoMAEForVideoClassification(_hf_config(**CLASSIFIERS[variant])))
    model = VideoMAE(**config_from_hf(hf.config.to_dict())).eval()
    model.load_state_dict(convert_hf_state_dict(hf.state_dict()), strict=True)
    x = _clips()
    with torch.no_grad():
        logits = model(x)
        reference = hf(pixel_values=x.transpose(1, 2)).logits
        assert model.forward_features(x).shape == (2, 72, 48)
    assert logits.shape == (2, CLASSES)
    assert (logits - reference).abs().max() <= 1e-4, (logits - reference).abs().max()


def test_build_model_from_a_save_pretrained_folder(tmp_path) -> None:
    from vidact.models import hub

    torch.manual_seed(0)
    labels = {i: f"action {i}" for i in range(CLASSES)}
    hf = _perturbed(VideoMAEForVideoClassification(_hf_config(id2label=labels)))
    hf.save_pretrained(tmp_path)
    model = build_model("videomae_b", weights=tmp_path)
    assert isinstance(model, VideoMAE) and model.num_classes == CLASSES and model.grid == GRID
    x = _clips()
    with torch.no_grad():
        assert (model(x) - hf(pixel_values=x.transpose(1, 2)).logits).abs().max() <= 1e-4
    assert hub.load_file("videomae_b", tmp_path).classes == list(labels.values())


def test_a_save_pretrained_folder_seeds_fine_tuning(tmp_path) -> None:
    """``model.pretrained: FOLDER`` (a Hugging Face ``save_pretrained`` folder) initialises a recipe's model: every
    weight but the classifier of another class count, with a notice saying it was left out."""
    from vidact.engine.config import ModelConfig
    from vidact.engine.tasks.base import build_network

    torch.manual_seed(0)
    hf = _perturbed(VideoMAEForVideoClassification(_hf_config()))
    hf.save_pretrained(tmp_path / "hf")
    args = config_from_hf(json.loads((tmp_path / "hf" / "config.json").read_text()))
    args.pop("num_classes", None)
    with pytest.warns(UserWarning, match="classifier"):
        net = build_network(ModelConfig(name="videomae_b", kwargs=args, pretrained=str(tmp_path / "hf")), 3)
    reference = convert_hf_state_dict(hf.state_dict())
    state = net.state_dict()
    assert state["head.weight"].shape[0] == 3
    same = [k for k in reference if not k.startswith("head.")]
    assert same and all(torch.equal(state[k], reference[k]) for k in same)


PRETRAINERS = {
    "norm_pix_mean_pooling": {"norm_pix_loss": True, "use_mean_pooling": True},
    "no_qv_bias": {"norm_pix_loss": True, "use_mean_pooling": True, "qv_bias": False},
    "norm_pix_final_norm": {"norm_pix_loss": True, "use_mean_pooling": False},
    "raw_pixels": {"norm_pix_loss": False, "use_mean_pooling": True},
}


@pytest.mark.parametrize("variant", PRETRAINERS)
def test_pretraining_loss_equals_hugging_faces_for_the_same_mask(variant: str, tmp_path) -> None:
    """Through the files ``save_pretrained`` writes (config.json; model.safetensors, whose biases are named
    ``q_bias``/``v_bias`` as in MCG-NJU's checkpoints, not as in memory)."""
    torch.manual_seed(0)
    # Hugging Face's loss needs whole tubelets: 4 frames (grid 2 x 6 x 6 again).
    hf = _perturbed(VideoMAEForPreTraining(_hf_config(num_frames=4, **PRETRAINERS[variant])))
    hf.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    encoder_args, pretrainer_args = pretrainer_config_from_hf(config)
    pretrainer = VideoMAEPretrainer(VideoMAE(**encoder_args), **pretrainer_args).eval()
    saved = load_file(tmp_path / "model.safetensors")
    assert any(k.endswith("q_bias") for k in saved) == PRETRAINERS[variant].get("qv_bias", True)
    pretrainer.load_state_dict(convert_hf_state_dict(saved), strict=True)
    x = _clips(frames=4)
    mask = tube_mask(2, pretrainer.token_grid(4, SIZE, SIZE), 0.75, torch.Generator().manual_seed(3))
    with torch.no_grad():
        reference = hf(pixel_values=x.transpose(1, 2), bool_masked_pos=mask)
        predictions = pretrainer(x, mask)
        loss = pretrainer.loss(x, mask)
    assert predictions.shape == reference.logits.shape == (2, 2 * 27, 2 * 8 * 8 * 3)
    assert (predictions - reference.logits).abs().max() <= 1e-4
    assert abs(loss.item() - reference.loss.item()) <= 1e-5 * max(1.0, reference.loss.item())


def test_the_converter_is_registered_for_the_hf_layout() -> None:
    assert get_converter("videomae", "hf") is convert_hf_state_dict


@pytest.mark.parametrize("ratio", [0.9, 0.75, 0.0])  # 0.75 x 49 = 36.75: 37 hidden, not 36
def test_tube_masks_hide_the_same_cells_at_every_time_step(ratio: float) -> None:
    grid = (4, 7, 7)
    mask = tube_mask(6, grid, ratio, torch.Generator().manual_seed(0))
    assert mask.dtype == torch.bool and mask.shape == (6, 4 * 49)
    per_step = mask.view(6, 4, 49)
    assert (per_step == per_step[:, :1]).all()  # one spatial mask for all time steps
    assert (per_step.sum(dim=2) == round(ratio * 49)).all()  # exactly round(ratio H'W') per time step
    if ratio:
        assert len({tuple(row.tolist()) for row in per_step[:, 0]}) > 1  # clips get their own masks
    again = tube_mask(6, grid, ratio, torch.Generator().manual_seed(0))
    assert torch.equal(mask, again)  # a function of the generator


def test_tube_mask_refuses_ratios_that_hide_everything() -> None:
    with pytest.raises(ConfigError, match="ratio"):
        tube_mask(1, (2, 2, 2), 1.0)
    with pytest.raises(ConfigError, match="hides all"):
        tube_mask(1, (2, 1, 1), 0.6)


def test_the_encoder_sees_only_the_visible_tokens() -> None:
    torch.manual_seed(0)
    model = _perturbed(
        VideoMAE(
            num_classes=0, img_size=SIZE, patch_size=PATCH, num_frames=4, embed_dim=48, depth=2, num_heads=3
        )
    )
    x = _clips(frames=4)
    mask = tube_mask(2, model.token_grid(4, SIZE, SIZE), 0.75, torch.Generator().manual_seed(0))
    changed = x.clone()
    hidden_pixels = mask.view(2, 2, 6, 6)[:, :, :, None, :, None].expand(2, 2, 6, 8, 6, 8)
    hidden_pixels = hidden_pixels.repeat_interleave(2, dim=1).reshape(2, 1, 4, SIZE, SIZE).expand_as(x)
    changed[hidden_pixels] = 100.0  # the hidden tubelets' pixels, all of them
    with torch.no_grad():
        visible = model.forward_features(x, mask)
        assert visible.shape == (2, 2 * 9, 48)
        torch.testing.assert_close(model.forward_features(changed, mask), visible)
        assert not torch.allclose(model.forward_features(changed), model.forward_features(x))
        # The visible tokens go through the blocks alone: the same as the blocks on the kept embeddings.
        tokens, _ = model.embed(x)
        kept = tokens[~mask].view(2, 18, 48)
        for blk in model.blocks:
            kept = blk(kept)
    torch.testing.assert_close(visible, kept)


def test_masks_of_unequal_counts_or_wrong_shape_are_refused() -> None:
    model = VideoMAE(
        num_classes=0, img_size=32, patch_size=16, num_frames=2, embed_dim=32, depth=1, num_heads=2
    )
    x = _clips(batch=2, frames=2, size=32)
    mask = torch.zeros(2, 4, dtype=torch.bool)
    mask[0, 0] = True
    with pytest.raises(ConfigError, match="same number"):
        model.forward_features(x, mask)
    with pytest.raises(ConfigError, match="bool"):
        model.forward_features(x, torch.zeros(2, 5, dtype=torch.bool))


def test_vit_b_has_the_published_87_m_parameters() -> None:
    with torch.device("meta"):
        ours = build_model("videomae_b", num_classes=400)
        theirs = VideoMAEForVideoClassification(VideoMAEConfig(num_labels=400))
    # Hugging Face's count plus the fused qkv's k bias (zero, D per block).
    assert count_params(ours) == count_params(theirs) + 12 * 768 == model_card("videomae_b").params
    assert 86e6 <= count_params(ours) <= 87e6
    assert ours.grid == (8, 14, 14)


@pytest.mark.parametrize(
    ("name", "dim", "depth", "heads"),
    [("videomae_s", 384, 12, 6), ("videomae_l", 1024, 24, 16), ("videomae_h", 1280, 32, 16)],
)
def test_sizes_by_name(name: str, dim: int, depth: int, heads: int) -> None:
    with torch.device("meta"):
        model = build_model(name, num_classes=400)
    assert model.num_features == dim and len(model.blocks) == depth and model.num_heads == heads
    assert model.patch_embed.tubelet == (2, 16, 16) and model.grid == (8, 14, 14)
    assert count_params(model) == model_card(name).params


def test_positions_are_resampled_for_other_clip_sizes() -> None:
    """videomae_tiny (8 x 112 x 112, grid 4 x 7 x 7) on the contract test's 16 x 32 x 32 clips (grid 8 x 2 x 2);
    at its own size the table is used as it is."""
    model = build_model("videomae_tiny", num_classes=3).eval()
    with torch.no_grad():
        assert model.forward_features(_clips(1, 16, 32)).shape == (1, 8 * 2 * 2, 192)
        assert model(_clips(1, 16, 32)).shape == (1, 3)
        x = _clips(1, 8, 112)
        tokens, grid = model.embed(x)
        assert grid == (4, 7, 7)
        torch.testing.assert_close(tokens, model.patch_embed(x) + model.pos_embed)


def test_the_pretrainers_encoder_seeds_a_classifier() -> None:
    """``encoder.`` holds exactly a VideoMAE's keys (num_classes=0): its state loads strictly into the same
    builder; the decoder's positions are not saved; the unused fc_norm is frozen."""
    encoder = build_model("videomae_tiny", num_classes=0)
    pretrainer = VideoMAEPretrainer(encoder)
    state = pretrainer.state_dict()
    backbone = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    rest = {k.split(".")[0] for k in state if not k.startswith("encoder.")}
    assert rest == {"encoder_to_decoder", "mask_token", "decoder"}
    target = build_model("videomae_tiny", num_classes=0)
    target.load_state_dict(backbone, strict=True)
    assert not any(p.requires_grad for p in pretrainer.encoder.fc_norm.parameters())
    assert pretrainer.decoder.head.out_features == 2 * 16 * 16 * 3
    assert (
        pretrainer.encoder_to_decoder.out_features == 96 and pretrainer.decoder.blocks[0].attn.num_heads == 1
    )
    with pytest.raises(ConfigError, match="without classifier"):
        VideoMAEPretrainer(build_model("videomae_tiny", num_classes=5))


def test_reconstruct_keeps_visible_tubelets_and_patchify_round_trips() -> None:
    torch.manual_seed(0)
    pretrainer = VideoMAEPretrainer(
        VideoMAE(num_classes=0, img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2)
    ).eval()
    x = _clips(2, 4, 32)
    patches = pretrainer.patchify(x)
    assert patches.shape == (2, 2 * 4 * 4, 2 * 8 * 8 * 3)
    torch.testing.assert_close(pretrainer.unpatchify(patches, (2, 4, 4)), x)
    mask = tube_mask(2, (2, 4, 4), 0.5, torch.Generator().manual_seed(0))
    video = pretrainer.reconstruct(x, mask)
    assert video.shape == x.shape
    pixels = pretrainer.patchify(pretrainer.pixels(x).clamp(0, 1))
    out = pretrainer.patchify(video)
    torch.testing.assert_close(out[~mask], pixels[~mask])  # visible tubelets as they were
    assert not torch.allclose(out[mask], pixels[mask])  # hidden ones predicted
    loss = pretrainer.loss(x, mask)
    loss.backward()
    assert torch.isfinite(loss) and pretrainer.decoder.head.weight.grad is not None


@pytest.mark.parametrize(("name", "paper"), [("videomae_s", 57), ("videomae_b", 180), ("videomae_l", 597)])
def test_card_gmacs_are_the_papers(name: str, paper: float) -> None:
    """The card's GMACs are the built model's at 16 x 224 x 224, attention included (math SDPA kernel), and the
    paper's GFLOPs per view."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from vidact.models.profile import count_macs

    card = model_card(name)
    with torch.device("meta"):
        model = build_model(name)
        x = torch.empty(1, *card.input_size)
    with sdpa_kernel(SDPBackend.MATH):
        assert round(count_macs(model, x) / 1e9, 3) == pytest.approx(card.gmacs, abs=1e-3)
    assert card.gmacs == pytest.approx(paper, rel=0.01)
