"""VideoMAE pre-training as an engine task (``task: videomae_pretraining``) and what fine-tuning needs of the video
transformers: tube masks in a training step, a pre-training run (metrics, reconstructions.png, its checkpoint)
whose encoder seeds a classifier exactly, the shipped recipes through ``vidact pretrain`` and ``vidact train``, and
the families' layer ids, weight-decay exemptions and gradient checkpointing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import vidact.models.timesformer as timesformer_module
import vidact.models.videomae as videomae_module
import vidact.models.vivit as vivit_module
from vidact.cli import main
from vidact.data.synth import synthesize
from vidact.engine.checkpoint import load_checkpoint
from vidact.engine.config import load_config
from vidact.engine.load import load_model
from vidact.engine.optim import build_optimizer, param_groups
from vidact.engine.tasks import build_network, build_task, get_task
from vidact.engine.train import train
from vidact.errors import CheckpointError, ConfigError
from vidact.models.timesformer import TimeSformer
from vidact.models.videomae import VideoMAE, VideoMAEPretrainer
from vidact.models.vivit import ViViT

pytestmark = pytest.mark.filterwarnings("ignore:.*classifier 'head' not loaded:UserWarning")

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
#: A small VideoMAE: 8 frames at 32x32 in 2x8x8 tubelets (4x4x4 = 64 tokens), D 32.
TINY = "{img_size: 32, patch_size: 8, num_frames: 8, tubelet_size: 2, embed_dim: 32, depth: 2, num_heads: 2}"


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tour's kind of data, tiny: one time-reversal pair, 2 train and 1 val videos per class, 16 x 32x32."""
    root = tmp_path_factory.mktemp("synthetic-temporal")
    synthesize(
        root,
        "temporal",
        videos_per_class={"train": 2, "val": 1},
        size=32,
        frames=16,
        pairs=["lid"],
        workers=0,
        progress=False,
    )
    return root


def small(root: Path, *overrides: str) -> list[str]:
    return [
        f"data.root={root}",
        "data.clip_len=8",
        "data.stride=2",
        "data.short_side=32",
        "data.crop_size=32",
        "data.batch_size=2",
        "data.num_workers=0",
        "data.flip_p=0",
        "model.name=videomae_tiny",
        f"model.kwargs={TINY}",
        "train.epochs=1",
        "train.num_threads=1",
        "train.optimizer=adamw",
        "train.lr=0.001",
        *overrides,
    ]


def pretraining(root: Path, *overrides: str) -> list[str]:
    return small(root, "task=videomae_pretraining", "task.kwargs={decoder_depth: 1}", *overrides)


# -- masks -----------------------------------------------------------------------------------------------------
class _Spy(nn.Module):
    """Stands in for the pre-training network: records the masks the task hands to ``loss``."""

    def __init__(self) -> None:
        super().__init__()
        self.masks: list[torch.Tensor] = []

    def loss(self, clips: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.masks.append(mask)
        return clips.mean()


def test_a_training_step_hides_tubes_at_the_ratio(videos: Path) -> None:
    """Each clip of a step hides round(0.75 x 16) = 12 of the 4x4 positions, the same ones at all 4 time steps;
    clips of a batch draw their own; the loop's rng decides them (the same rng, the same masks)."""
    task = build_task(load_config(None, pretraining(videos, "task.kwargs.mask_ratio=0.75")))
    task.build_model()
    spy = _Spy()
    clips = torch.zeros(8, 3, 8, 32, 32)
    out = task.training_step(spy, {"video": clips}, np.random.default_rng(5))
    assert out.size == 8 and torch.isfinite(out.losses["reconstruction"])
    mask = spy.masks[0]
    assert mask.dtype == torch.bool and mask.shape == (8, 64)
    tubes = mask.reshape(8, 4, 16)  # (t, h w): token order (t, h, w)
    assert (tubes.sum(dim=2) == 12).all()
    assert (tubes == tubes[:, :1]).all()  # one spatial mask for every time step
    assert len({tuple(row.tolist()) for row in tubes[:, 0]}) > 1  # each clip its own
    task.training_step(spy, {"video": clips}, np.random.default_rng(5))
    task.training_step(spy, {"video": clips}, np.random.default_rng(6))
    assert torch.equal(spy.masks[1], mask) and not torch.equal(spy.masks[2], mask)


def test_ratios_that_hide_everything_or_nothing_are_one_line_errors(videos: Path) -> None:
    with pytest.raises(ConfigError, match=r"mask_ratio must be in \(0, 1\)"):
        build_task(load_config(None, pretraining(videos, "task.kwargs.mask_ratio=1.0")))
    task = build_task(load_config(None, pretraining(videos, "task.kwargs.mask_ratio=0.01")))
    with pytest.raises(ConfigError, match="hides 0 of the 16 positions of a 4x4 grid"):
        task.build_model()
    task = build_task(load_config(None, pretraining(videos, "model.name=simple3d", "model.kwargs={}")))
    with pytest.raises(ConfigError, match="needs a VideoMAE model"):
        task.build_model()
    task = build_task(load_config(None, pretraining(videos, "data.crop_size=28", "data.short_side=28")))
    with pytest.raises(ConfigError, match="8x28x28 clips are not whole 2x8x8 tubelets"):
        task.build_model()


# -- a run, and fine-tuning from it ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pretrained(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pre-training run of 2 steps (4 clips, batches of 2)."""
    run = tmp_path_factory.mktemp("pretrain") / "run"
    train(load_config(None, pretraining(videos, "train.seed=1")), run, progress=False)
    return run


def test_a_pretraining_run_scores_the_hidden_pixels_and_draws_them(pretrained: Path) -> None:
    summary = json.loads((pretrained / "metrics.json").read_text())
    assert summary["task"] == "videomae_pretraining" and summary["steps"] == 2
    # the validation error is the loss on per-tubelet normalised pixels: about 1 for an untrained network
    assert 0.5 < summary["best"]["mse"] < 2.0 and summary["best"]["num_samples"] == 2
    png = (pretrained / "reconstructions.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    ckpt, _ = load_checkpoint(pretrained)
    assert ckpt["classifier"] is False and ckpt["backbone"] == "encoder."
    assert {k.split(".")[0] for k in ckpt["state_dict"]} == {
        "encoder",
        "encoder_to_decoder",
        "mask_token",
        "decoder",
    }
    with pytest.raises(CheckpointError, match="made by the videomae_pretraining task, not a classifier"):
        load_model(pretrained)


def test_validation_hides_the_same_tubes_every_time(videos: Path, pretrained: Path) -> None:
    """The validation masks are a function of (seed, sample index): the same loss twice, whatever the batch; the
    same clip under two indices (or another seed) is scored under other masks."""
    task = build_task(load_config(None, pretraining(videos, "train.seed=1")))
    model = task.build_model().eval()
    clips = torch.randn(1, 3, 8, 32, 32).expand(2, -1, -1, -1, -1)
    batch = {"video": clips, "meta": [{"index": 0}, {"index": 5}]}
    with torch.no_grad():
        first = task.validation_step(model, batch)["squared_error"]
        again = task.validation_step(model, batch)["squared_error"]
        alone = task.validation_step(model, {"video": clips[1:], "meta": [{"index": 5}]})["squared_error"]
        task.config.train.seed = 2
        reseeded = task.validation_step(model, batch)["squared_error"]
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    torch.testing.assert_close(first[1:], alone, rtol=1e-6, atol=1e-6)
    assert first.shape == (2,) and first[0] != first[1] and (reseeded != first).all()


def test_the_pretrained_encoder_seeds_a_classifier_exactly(videos: Path, pretrained: Path) -> None:
    """`model.pretrained: RUN`: every encoder tensor of the run, bit for bit, decoder left out with a notice; the
    new classifier fresh. A classifier for another clip length takes the same weights (the positional table is
    fixed and resampled); another tubelet does not fit and says so in one line."""
    ckpt, _ = load_checkpoint(pretrained)
    encoder = {
        k.removeprefix("encoder."): v for k, v in ckpt["state_dict"].items() if k.startswith("encoder.")
    }
    cfg = load_config(None, small(videos, f"model.pretrained={pretrained}"))
    with pytest.warns(UserWarning, match="loading its encoder only"):
        network = build_network(cfg.model, 2)
    state = network.state_dict()
    assert set(state) - set(encoder) == {"head.weight", "head.bias"}
    for key, value in encoder.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)
    fresh = build_network(load_config(None, small(videos)).model, 2).state_dict()
    assert any(not torch.equal(fresh[k], v) for k, v in encoder.items())

    # 4 frames: a 2x4x4 grid instead of 4x4x4; the weights fit, the table is resampled, the logits are finite
    kwargs = TINY.replace("num_frames: 8", "num_frames: 4")
    cfg = load_config(None, small(videos, f"model.pretrained={pretrained}", f"model.kwargs={kwargs}"))
    with pytest.warns(UserWarning, match="loading its encoder only"):
        shorter = build_network(cfg.model, 2)
    assert torch.equal(shorter.blocks[0].attn.qkv.weight, encoder["blocks.0.attn.qkv.weight"])
    assert torch.isfinite(shorter.eval()(torch.randn(1, 3, 4, 32, 32))).all()
    kwargs = TINY.replace("patch_size: 8", "patch_size: 4")
    cfg = load_config(None, small(videos, f"model.pretrained={pretrained}", f"model.kwargs={kwargs}"))
    with pytest.warns(UserWarning, match="loading its encoder only"), pytest.raises(CheckpointError) as error:
        build_network(cfg.model, 2)
    assert "patch_embed.proj.weight" in str(error.value) and "\n" not in str(error.value)


def test_fine_tuning_trains_with_layer_decay_from_the_pretrained_encoder(
    videos: Path, pretrained: Path
) -> None:
    """The fine-tuning run starts from the encoder (step 0 = the pre-trained weights) with one optimizer group
    per (layer, decay) at 0.75 ** (3 - layer); it trains and gives a classifier that `load_model` reads."""
    cfg = load_config(None, small(videos, f"model.pretrained={pretrained}", "train.layer_decay=0.75"))
    with pytest.warns(UserWarning, match="loading its encoder only"):
        network = build_network(cfg.model, 2)
    groups = param_groups(network, weight_decay=0.05, layer_decay=0.75)
    assert [(g["layer"], g["weight_decay"] > 0) for g in groups] == [
        (0, True),
        (0, False),
        (1, True),
        (1, False),
        (2, True),
        (2, False),
        (3, True),
        (3, False),
    ]
    assert [g["lr_scale"] for g in groups[::2]] == [0.75**3, 0.75**2, 0.75, 1.0]
    names = {id(p): n for n, p in network.named_parameters()}
    assert {names[id(p)] for p in groups[0]["params"]} == {"patch_embed.proj.weight"}
    assert {names[id(p)].split(".")[0] for g in groups[6:] for p in g["params"]} == {"fc_norm", "head"}
    with pytest.warns(UserWarning, match="loading its encoder only"):
        tuned = train(cfg, pretrained.parent / "tuned", progress=False)
    assert load_model(tuned.run_dir).task == "classification" and tuned.history[-1]["step"] == 2


# -- the shipped recipes through the CLI -----------------------------------------------------------------------
def _vidact(*args: str) -> int:
    with pytest.raises(SystemExit) as done:  # typer's standalone mode exits, with 0 on success
        main(list(args))
    return done.value.code


def test_the_recipes_run_through_vidact_pretrain_and_train(
    videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped pre-training recipe with `vidact pretrain` (and `vidact train`, which runs any task), then
    the fine-tuning recipe from its run; only the amount of work is overridden."""
    work = ["data.batch_size=2", "data.num_workers=0", "train.epochs=1", "train.warmup_epochs=0"]
    recipe = CONFIGS / "synthetic_videomae_pretrain.yaml"
    assert get_task(load_config(recipe).task.name).pretrains
    run = tmp_path / "pre"
    assert (
        _vidact("pretrain", str(recipe), f"data.root={videos}", *work, "--out", str(run), "--no-progress")
        == 0
    )
    assert (run / "reconstructions.png").exists()
    assert math.isfinite(json.loads((run / "metrics.json").read_text())["best"]["mse"])
    again = tmp_path / "again"
    assert (
        _vidact("train", str(recipe), f"data.root={videos}", *work, "--out", str(again), "--no-progress") == 0
    )
    assert (again / "checkpoints" / "last.ckpt").exists()

    tuned = tmp_path / "tuned"
    finetune = CONFIGS / "synthetic_videomae_finetune.yaml"
    assert load_config(finetune).model.pretrained == "runs/synthetic_videomae_pretrain"
    args = [str(finetune), f"data.root={videos}", f"model.pretrained={run}", *work, "--out", str(tuned)]
    capsys.readouterr()
    assert _vidact("train", *args, "--no-progress") == 0
    assert "videomae_pretraining checkpoint: loading its encoder only" in capsys.readouterr().err
    assert load_model(tuned).classes == ["closing_lid", "opening_lid"]
    assert _vidact("pretrain", *args) == 2  # classification does not pre-train


# -- what the families offer fine-tuning -----------------------------------------------------------------------
def _videomae() -> VideoMAE:
    return VideoMAE(2, img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=3, num_heads=2)


def _timesformer(attention_type: str = "divided_space_time") -> TimeSformer:
    return TimeSformer(
        2,
        img_size=32,
        patch_size=8,
        num_frames=4,
        embed_dim=32,
        depth=3,
        num_heads=2,
        attention_type=attention_type,
    )


def _vivit(variant: int) -> ViViT:
    return ViViT(
        2,
        variant=variant,
        img_size=32,
        num_frames=4,
        tubelet=(2, 8, 8),
        dim=32,
        depth=3,
        temporal_depth=2,
        num_heads=2,
    )


def _layers(model: nn.Module) -> dict[str, int]:
    return {name: model.layer_id(name) for name, _ in model.named_parameters()}


@pytest.mark.parametrize(
    ("build", "embeddings", "last"),
    [
        (_videomae, {"patch_embed.proj.weight", "patch_embed.proj.bias"}, {"fc_norm", "head"}),
        (
            _timesformer,
            {"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed", "time_embed"},
            {"norm", "head"},
        ),
        (
            lambda: _timesformer("space_only"),
            {"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed"},
            {"norm", "head"},
        ),
        (
            lambda: _vivit(1),
            {"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed"},
            {"norm", "head"},
        ),
        (
            lambda: _vivit(3),
            {"patch_embed.proj.weight", "patch_embed.proj.bias", "pos_embed"},
            {"norm", "head"},
        ),
    ],
    ids=["videomae", "timesformer", "timesformer_space", "vivit_m1", "vivit_m3"],
)
def test_layer_ids_number_embeddings_blocks_and_head(build, embeddings: set[str], last: set[str]) -> None:
    model = build()
    assert model.num_layers == 3
    layers = _layers(model)
    assert {n for n, layer in layers.items() if layer == 0} == embeddings
    for i in range(3):
        assert {n for n, layer in layers.items() if layer == i + 1} == {
            n for n in layers if n.startswith(f"blocks.{i}.")
        }
    assert {n.split(".")[0] for n, layer in layers.items() if layer == 4} == last
    exempt = model.no_weight_decay()
    assert exempt <= {n for n, p in model.named_parameters() if p.ndim > 1}
    assert exempt == {n for n in embeddings if not n.startswith("patch_embed.")}


def test_vivit_model_2_numbers_temporal_blocks_after_spatial_ones() -> None:
    model = _vivit(2)
    assert model.num_layers == 5
    layers = _layers(model)
    assert {layers[f"temporal_blocks.{j}.norm1.weight"] for j in range(2)} == {4, 5}
    assert layers["blocks.2.norm1.weight"] == 3
    assert layers["temporal_cls_token"] == layers["temporal_pos_embed"] == layers["norm_spatial.weight"] == 3
    assert layers["norm.weight"] == layers["head.weight"] == 6
    assert model.no_weight_decay() == {"cls_token", "pos_embed", "temporal_cls_token", "temporal_pos_embed"}
    optimizer = build_optimizer(model, "adamw", lr=1.0, weight_decay=0.05, layer_decay=0.5)
    scales = {g["layer"]: g["lr_scale"] for g in optimizer.param_groups}
    assert scales == {layer: 0.5 ** (6 - layer) for layer in range(7)}


def test_the_pretrainer_offers_the_encoder_layers_and_exempts_the_mask_token() -> None:
    pretrainer = VideoMAEPretrainer(
        VideoMAE(0, img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=3, num_heads=2)
    )
    groups = param_groups(pretrainer, weight_decay=0.05, layer_decay=0.5)
    names = {id(p): n for n, p in pretrainer.named_parameters()}
    head = [names[id(p)] for g in groups if g["layer"] == 4 for p in g["params"]]
    assert "mask_token" in head and "encoder_to_decoder.weight" in head
    no_decay = {names[id(p)] for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    assert "mask_token" in no_decay and "decoder.head.weight" not in no_decay


@pytest.mark.parametrize(
    ("build", "module"),
    [
        (_videomae, videomae_module),
        (_timesformer, timesformer_module),
        (lambda: _timesformer("space_only"), timesformer_module),
        (lambda: _vivit(1), vivit_module),
        (lambda: _vivit(2), vivit_module),
    ],
    ids=["videomae", "timesformer", "timesformer_space", "vivit_m1", "vivit_m2"],
)
def test_gradient_checkpointing_recomputes_blocks_with_the_same_gradients(
    build, module, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With checkpointing on, each block runs through torch.utils.checkpoint in training (counted), and the
    loss and every gradient equal those without; in evaluation nothing is checkpointed."""
    torch.manual_seed(0)
    model = build().train()
    clips = torch.randn(2, 3, 4, 32, 32)
    calls: list[int] = []
    real = module.checkpoint

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "checkpoint", counted)

    def grads() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        loss = model(clips).square().mean()
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    loss, plain = grads()
    assert not calls
    model.set_grad_checkpointing(True)
    loss_ckpt, checkpointed = grads()
    assert len(calls) == model.num_layers
    torch.testing.assert_close(loss_ckpt, loss)
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], msg=name)
    calls.clear()
    with torch.no_grad():
        model.eval()(clips)
    assert not calls
