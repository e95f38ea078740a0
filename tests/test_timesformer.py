"""vidact.models.timesformer against Hugging Face's TimesformerForVideoClassification (random weights from small,
odd configs; no download): equal logits for each attention type through the "hf" converter and through
``build_model(name, weights=DIR)`` on a ``save_pretrained`` folder, the token order mapped from (h, w, t) to
(t, h, w), TimeSformer-B's parameter count, positional resampling, and the config reader's refusals."""

from __future__ import annotations

import pytest
import torch
from transformers import TimesformerConfig, TimesformerForVideoClassification, TimesformerModel

from vidact.errors import ConfigError
from vidact.models import build_model, model_card
from vidact.models.converters import get_converter
from vidact.models.profile import count_params
from vidact.models.timesformer import ATTENTION_TYPES, TimeSformer, config_from_hf, convert_hf_state_dict

FRAMES, SIZE, PATCH, CLASSES = 5, 40, 8, 7
# One config per attention type; each varies something else the reader must carry (activation, epsilon).
CONFIGS = {
    "divided_space_time": {"hidden_act": "gelu", "layer_norm_eps": 1e-6},
    "joint_space_time": {"hidden_act": "gelu_new", "layer_norm_eps": 1e-5},
    "space_only": {"hidden_act": "gelu", "layer_norm_eps": 1e-6, "qkv_bias": False},
}


def _hf_config(attention_type: str) -> TimesformerConfig:
    return TimesformerConfig(
        image_size=SIZE,
        patch_size=PATCH,
        num_frames=FRAMES,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=3,
        intermediate_size=96,
        num_labels=CLASSES,
        id2label={i: f"action {i}" for i in range(CLASSES)},
        attention_type=attention_type,
        **CONFIGS[attention_type],
    )


def _perturbed(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter moved off its initial value (LayerNorms off 1/0, biases off 0), in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.05)
    return model.eval()


def _hf_model(attention_type: str) -> TimesformerForVideoClassification:
    torch.manual_seed(0)
    return _perturbed(TimesformerForVideoClassification(_hf_config(attention_type)))


def _hf_logits(hf: TimesformerForVideoClassification, x: torch.Tensor) -> torch.Tensor:
    """Hugging Face's logits of clips [B, 3, T, H, W] (it takes [B, T, 3, H, W]); its space-only model gives one
    row per frame ([B T, K]), whose mean is the clip's."""
    with torch.no_grad():
        logits = hf(pixel_values=x.transpose(1, 2)).logits
    return logits.view(x.shape[0], -1, logits.shape[-1]).mean(dim=1)


def _clips(batch: int = 2, frames: int = FRAMES, size: int = SIZE) -> torch.Tensor:
    return torch.randn(batch, 3, frames, size, size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("attention_type", ATTENTION_TYPES)
def test_converted_weights_give_hugging_faces_logits(attention_type: str) -> None:
    hf = _hf_model(attention_type)
    model = TimeSformer(**config_from_hf(hf.config.to_dict())).eval()
    model.load_state_dict(convert_hf_state_dict(hf.state_dict()), strict=True)
    x = _clips()
    with torch.no_grad():
        logits = model(x)
    reference = _hf_logits(hf, x)
    assert logits.shape == (2, CLASSES)
    assert (logits - reference).abs().max() <= 1e-4, (logits - reference).abs().max()


@pytest.mark.parametrize("attention_type", ATTENTION_TYPES)
def test_build_model_from_a_save_pretrained_folder(attention_type: str, tmp_path) -> None:
    """``build_model(name, weights=DIR)``: the architecture from config.json, the weights from
    model.safetensors, loaded strictly; ``id2label`` become the class names."""
    from vidact.models import hub

    hf = _hf_model(attention_type)
    hf.save_pretrained(tmp_path)
    name = {"divided_space_time": "timesformer_b", "joint_space_time": "timesformer_b_joint"}.get(
        attention_type, "timesformer_b_space"
    )
    model = build_model(name, weights=tmp_path)
    assert isinstance(model, TimeSformer) and model.attention_type == attention_type
    assert model.num_classes == CLASSES and model.num_features == 48
    x = _clips()
    with torch.no_grad():
        assert (model(x) - _hf_logits(hf, x)).abs().max() <= 1e-4
    loaded = hub.load_file(name, tmp_path)
    assert loaded.classes == [f"action {i}" for i in range(CLASSES)]


@pytest.mark.parametrize("attention_type", ["divided_space_time", "joint_space_time"])
def test_tokens_are_hugging_faces_in_t_h_w_order(attention_type: str) -> None:
    """forward_features = Hugging Face's last hidden state with its grid tokens reordered from (h, w, t) to
    (t, h, w): CLS first, then frame by frame."""
    hf = _hf_model(attention_type)
    backbone: TimesformerModel = hf.timesformer
    model = TimeSformer(**config_from_hf(hf.config.to_dict())).eval()
    model.load_state_dict(convert_hf_state_dict(hf.state_dict()))
    x = _clips(batch=1)
    with torch.no_grad():
        ours = model.forward_features(x)
        theirs = backbone(pixel_values=x.transpose(1, 2)).last_hidden_state
    grid = model.token_grid(FRAMES, SIZE, SIZE)
    assert grid == (FRAMES, SIZE // PATCH, SIZE // PATCH) and ours.shape == (1, 1 + FRAMES * 25, 48)
    t, h, w = grid
    reordered = theirs[:, 1:].reshape(1, h, w, t, 48).permute(0, 3, 1, 2, 4).reshape(1, t * h * w, 48)
    torch.testing.assert_close(ours, torch.cat([theirs[:, :1], reordered], dim=1), atol=1e-5, rtol=1e-5)


def test_the_converter_is_registered_for_the_hf_layout() -> None:
    assert get_converter("timesformer", "hf") is convert_hf_state_dict


def test_timesformer_b_has_the_published_121_m_parameters() -> None:
    with torch.device("meta"):
        ours = build_model("timesformer_b", num_classes=400)
        theirs = TimesformerForVideoClassification(TimesformerConfig(num_labels=400))
    assert count_params(ours) == count_params(theirs) == model_card("timesformer_b").params == 121_566_352
    assert 121e6 <= count_params(ours) <= 122e6
    assert ours.grid == (8, 14, 14) and model_card("timesformer_b").input_size == (3, 8, 224, 224)


@pytest.mark.parametrize("attention_type", ATTENTION_TYPES)
def test_positions_are_resampled_for_other_clip_sizes(attention_type: str) -> None:
    """A model learned for 4 x 32 x 32 runs on 8 x 48 x 48 (its tables resampled); at its own size the
    resampling is the identity (the tokens are the patch embeddings plus the tables as they are)."""
    torch.manual_seed(0)
    model = TimeSformer(
        num_classes=3,
        img_size=32,
        patch_size=8,
        num_frames=4,
        embed_dim=32,
        depth=1,
        num_heads=2,
        attention_type=attention_type,
    ).eval()
    _perturbed(model)
    with torch.no_grad():
        assert model.forward_features(_clips(1, 8, 48)).shape == (1, 1 + 8 * 36, 32)
        x = _clips(1, 4, 32)
        cls, tokens, grid = model._embed(x)
        expected = model.patch_embed(x).view(1, 4, 16, 32) + model.pos_embed[:, None, 1:]
        if model.time_embed is not None:
            expected = expected + model.time_embed[:, :, None]
    assert grid == (4, 4, 4)
    torch.testing.assert_close(tokens, expected.flatten(1, 2))
    torch.testing.assert_close(cls, model.cls_token + model.pos_embed[:, :1])
    assert (model.time_embed is None) == (attention_type == "space_only")


def test_the_config_reader_refuses_what_it_cannot_build() -> None:
    config = _hf_config("divided_space_time").to_dict()
    assert config_from_hf(config)["num_classes"] == CLASSES
    with pytest.raises(ConfigError, match="not a TimeSformer"):
        config_from_hf({**config, "model_type": "videomae"})
    with pytest.raises(ConfigError, match="attention_type"):
        config_from_hf({**config, "attention_type": "axial"})
    with pytest.raises(ConfigError, match="square"):
        config_from_hf({**config, "image_size": [32, 48]})
    with pytest.raises(ConfigError, match="attention_type"):
        TimeSformer(attention_type="divided")


@pytest.mark.parametrize("name", ["timesformer_b", "timesformer_b_joint", "timesformer_b_space"])
def test_card_gmacs_count_attention(name: str) -> None:
    """The card's GMACs are the built model's at its input, attention included (the math SDPA kernel; the CPU
    kernels count nothing): TimeSformer-B's 196 is the paper's 0.59 TFLOPs over 3 views."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from vidact.models.profile import count_macs

    card = model_card(name)
    with torch.device("meta"):
        model = build_model(name)
        x = torch.empty(1, *card.input_size)
    with sdpa_kernel(SDPBackend.MATH):
        assert round(count_macs(model, x) / 1e9, 3) == pytest.approx(card.gmacs, abs=1e-3)
    assert card.gmacs == pytest.approx(
        {"timesformer_b": 196, "timesformer_b_joint": 180, "timesformer_b_space": 140}[name], rel=0.01
    )
