"""Layer-wise learning-rate decay and gradient checkpointing (:mod:`vidact.engine.optim`), on a small stand-in
for a video transformer written here: the groups the optimizer builder makes (one per layer and decay, each with
its ``lr_scale``), the schedule's rate multiplied by them in real steps, the scales surviving a checkpoint round
trip, models whose layers live in a sub-network (a pre-training wrapper's encoder), and the one-line errors."""

from __future__ import annotations

import io

import pytest
import torch
from torch import Tensor, nn

from vidact.engine.config import load_config
from vidact.engine.optim import LRSchedule, build_optimizer, enable_grad_checkpointing, param_groups, set_lr
from vidact.errors import ConfigError


class TinyViT(nn.Module):
    """Embedding (tokens [B, N, 8] -> [B, N, 16] plus a learned positional embedding), 3 blocks, norm, head.

    Layers as BEiT and VideoMAE fine-tuning number them: embeddings 0, block ``i`` ``i + 1``, the rest 4."""

    num_layers = 3

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = nn.Linear(8, 16)
        self.pos_embed = nn.Parameter(torch.randn(1, 4, 16))
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(16), nn.Linear(16, 16)) for _ in range(3))
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 5)
        self.checkpointing = False

    def forward(self, x: Tensor) -> Tensor:
        """Tokens [B, 4, 8] -> logits [B, 5]."""
        x = self.patch_embed(x) + self.pos_embed
        for block in self.blocks:
            x = x + block(x)
        return self.head(self.norm(x).mean(1))

    def layer_id(self, name: str) -> int:
        if name.startswith(("patch_embed.", "pos_embed")):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.num_layers + 1

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed"}

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.checkpointing = enable


class Pretraining(nn.Module):
    """A pre-training wrapper: the encoder and a decoder beside it (as the masked task's model)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = TinyViT()
        self.decoder = nn.Linear(16, 8)


def _names(model: nn.Module, params: list[Tensor]) -> list[str]:
    by_id = {id(p): n for n, p in model.named_parameters()}
    return [by_id[id(p)] for p in params]


def _table(model: nn.Module, groups: list[dict]) -> list[tuple[int, float, float, list[str]]]:
    return [(g["layer"], g["weight_decay"], g["lr_scale"], _names(model, g["params"])) for g in groups]


def test_one_group_per_layer_and_decay_with_its_scale() -> None:
    """layer_decay 0.5 over 3 blocks: scale 0.5 ** (4 - layer); the positional embedding (listed by
    no_weight_decay) and the biases and norms without weight decay; the head at the full rate."""
    model = TinyViT()
    model.blocks[2][1].bias.requires_grad_(False)  # frozen: left out
    assert _table(model, param_groups(model, weight_decay=0.05, layer_decay=0.5)) == [
        (0, 0.05, 0.0625, ["patch_embed.weight"]),
        (0, 0.0, 0.0625, ["pos_embed", "patch_embed.bias"]),
        (1, 0.05, 0.125, ["blocks.0.1.weight"]),
        (1, 0.0, 0.125, ["blocks.0.0.weight", "blocks.0.0.bias", "blocks.0.1.bias"]),
        (2, 0.05, 0.25, ["blocks.1.1.weight"]),
        (2, 0.0, 0.25, ["blocks.1.0.weight", "blocks.1.0.bias", "blocks.1.1.bias"]),
        (3, 0.05, 0.5, ["blocks.2.1.weight"]),
        (3, 0.0, 0.5, ["blocks.2.0.weight", "blocks.2.0.bias"]),
        (4, 0.05, 1.0, ["head.weight"]),
        (4, 0.0, 1.0, ["norm.weight", "norm.bias", "head.bias"]),
    ]
    # Off (1.0): the two groups of before, whatever the model, each at scale 1.
    plain = _table(model, param_groups(model, weight_decay=0.05))
    assert [(d, s) for _, d, s, _ in plain] == [(0.05, 1.0), (0.0, 1.0)]
    assert plain[0][3] == [
        "patch_embed.weight",
        "blocks.0.1.weight",
        "blocks.1.1.weight",
        "blocks.2.1.weight",
        "head.weight",
    ]
    assert "pos_embed" in plain[1][3]


def test_a_wrappers_encoder_names_the_layers_and_the_rest_is_head() -> None:
    model = Pretraining()
    table = _table(model, param_groups(model, weight_decay=0.05, layer_decay=0.5))
    assert table[0] == (0, 0.05, 0.0625, ["encoder.patch_embed.weight"])
    assert table[1] == (
        0,
        0.0,
        0.0625,
        ["encoder.pos_embed", "encoder.patch_embed.bias"],
    )  # its no_weight_decay
    assert table[-2] == (4, 0.05, 1.0, ["encoder.head.weight", "decoder.weight"])
    assert table[-1] == (
        4,
        0.0,
        1.0,
        ["encoder.norm.weight", "encoder.norm.bias", "encoder.head.bias", "decoder.bias"],
    )


def test_the_schedule_rate_is_multiplied_by_each_groups_scale() -> None:
    """Plain SGD steps move each parameter by schedule(step) x lr_scale x its gradient."""
    torch.manual_seed(0)
    model = TinyViT()
    optimizer = build_optimizer(model, "sgd", lr=0.3, momentum=0.0, weight_decay=0.0, layer_decay=0.5)
    assert [g["lr"] for g in optimizer.param_groups][::2] == [0.3 * 0.5**k for k in (4, 3, 2, 1, 0)]
    schedule = LRSchedule(0.3, total_steps=4, warmup_steps=2)
    x = torch.randn(2, 4, 8)
    for step in range(3):
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        optimizer.zero_grad()
        model(x).square().sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        set_lr(optimizer, schedule(step))
        optimizer.step()
        for name, parameter in model.named_parameters():
            scale = 0.5 ** (4 - model.layer_id(name))
            expected = before[name] - schedule(step) * scale * grads[name]
            torch.testing.assert_close(parameter.detach(), expected, msg=name)
    assert {g["lr"] for g in optimizer.param_groups} == {schedule(2) * 0.5**k for k in range(5)}


def test_resuming_keeps_the_scales() -> None:
    """The scales are part of the optimizer's state: a checkpoint (weights_only) restores them into a fresh
    optimizer, and the resumed steps equal the uninterrupted ones."""
    torch.manual_seed(0)
    x = torch.randn(2, 4, 8)

    def step(model: TinyViT, optimizer: torch.optim.Optimizer, lr: float) -> None:
        optimizer.zero_grad()
        model(x).square().sum().backward()
        set_lr(optimizer, lr)
        optimizer.step()

    model = TinyViT()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = build_optimizer(model, "adamw", lr=0.01, weight_decay=0.05, layer_decay=0.6)
    step(model, optimizer, 0.01)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    step(model, optimizer, 0.005)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    assert [g["lr_scale"] for g in saved["optimizer"]["param_groups"]][::2] == [
        0.6**k for k in (4, 3, 2, 1, 0)
    ]
    resumed = TinyViT()
    resumed.load_state_dict(saved["model"])
    fresh = build_optimizer(resumed, "adamw", lr=0.01, weight_decay=0.05, layer_decay=0.6)
    for group in fresh.param_groups:  # whatever the fresh optimizer starts with, the checkpoint's scales win
        group["lr_scale"] = 1.0
    fresh.load_state_dict(saved["optimizer"])
    assert [g["lr_scale"] for g in fresh.param_groups] == [g["lr_scale"] for g in optimizer.param_groups]
    step(resumed, fresh, 0.005)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0, msg=key)
    assert any(not torch.equal(initial[k], v) for k, v in model.state_dict().items())


def test_layer_decay_errors_are_one_line() -> None:
    plain = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    with pytest.raises(ConfigError, match=r"^train.layer_decay: simple3d names no layers \(no layer_id\)"):
        build_optimizer(plain, "adamw", lr=0.1, layer_decay=0.75, model_name="simple3d")
    build_optimizer(plain, "adamw", lr=0.1, layer_decay=1.0, model_name="simple3d")  # off: any model
    two = nn.ModuleDict({"a": TinyViT(), "b": TinyViT()})
    with pytest.raises(ConfigError, match="has several sub-networks that name layers"):
        param_groups(two, weight_decay=0.0, layer_decay=0.75)
    with pytest.raises(ValueError, match=r"layer_decay must be in \(0, 1\], got 0"):
        param_groups(TinyViT(), weight_decay=0.0, layer_decay=0.0)

    class Wrong(TinyViT):
        def layer_id(self, name: str) -> int:
            return 7

    with pytest.raises(ValueError, match=r"^Wrong: layer_id\('pos_embed'\) is 7, not in \[0, 4\]"):
        param_groups(Wrong(), weight_decay=0.0, layer_decay=0.75)
    assert load_config(None, ["train.layer_decay=0.65"]).train.layer_decay == 0.65
    assert load_config(None).train.layer_decay == 1.0
    for bad in ("0", "1.5", "-0.1"):
        with pytest.raises(ConfigError, match=r"train.layer_decay must be in \(0, 1\]"):
            load_config(None, [f"train.layer_decay={bad}"])


def test_gradient_checkpointing_reaches_the_model_or_its_encoder() -> None:
    model, wrapper = TinyViT(), Pretraining()
    enable_grad_checkpointing(model)
    enable_grad_checkpointing(wrapper)
    assert model.checkpointing and wrapper.encoder.checkpointing
    with pytest.raises(
        ConfigError,
        match=r"^train.grad_checkpointing: simple3d has no gradient checkpointing \(no set_grad_checkpointing\)",
    ):
        enable_grad_checkpointing(nn.Sequential(nn.Linear(4, 4)), "simple3d")
    assert load_config(None, ["train.grad_checkpointing=true"]).train.grad_checkpointing is True
    assert load_config(None).train.grad_checkpointing is False
