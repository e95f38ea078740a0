"""Tasks in the generic loop: the registry and the recipe's ``task`` key, masked reconstruction (its tubelet
arithmetic against a hand-written oracle, that the encoder never sees what it must reconstruct, and a run that
learns), a task defined here with two named losses that the loop trains without an edit, and the precision and
memory-layout defaults."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import vidact.engine.precision as precision
from vidact.data.synth import synthesize
from vidact.engine.checkpoint import load_checkpoint
from vidact.engine.config import load_config
from vidact.engine.load import load_model
from vidact.engine.tasks import StepOutput, build_network, build_task, list_tasks, register_task
from vidact.engine.tasks.classification import Classification
from vidact.engine.tasks.masked import MaskedVideoModel, expand_mask
from vidact.engine.train import train
from vidact.errors import CheckpointError, ConfigError


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 scene classes x (4 train, 2 val) videos of 8 frames at 32x32."""
    root = tmp_path_factory.mktemp("scenes")
    synthesize(
        root, "scene", videos_per_class={"train": 4, "val": 2}, size=32, frames=8, workers=0, progress=False
    )
    return root


def small(root: Path, *overrides: str) -> list[str]:
    return [
        f"data.root={root}",
        "data.clip_len=8",
        "data.stride=1",
        "data.short_side=32",
        "data.crop_size=32",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.flip_p=0",
        "model.kwargs={widths: [16, 32]}",
        "train.num_threads=1",
        "train.deterministic=true",
        "train.optimizer=adamw",
        "train.weight_decay=0",
        *overrides,
    ]


# -- the registry and the recipe's key -----------------------------------------------------------------------------
def test_the_recipe_picks_the_task(tmp_path: Path) -> None:
    assert {"classification", "masked_reconstruction"} <= set(list_tasks())
    assert load_config(None).task.name == "classification"  # the default
    recipe = tmp_path / "r.yaml"
    recipe.write_text("task: masked_reconstruction\n")  # the shorthand
    assert load_config(recipe).task.name == "masked_reconstruction"
    cfg = load_config(None, ["task=masked_reconstruction", "task.kwargs.mask_ratio=0.5"])
    assert (cfg.task.name, cfg.task.kwargs) == ("masked_reconstruction", {"mask_ratio": 0.5})
    assert build_task(cfg).mask_ratio == 0.5
    assert type(build_task(load_config(None))) is Classification
    with pytest.raises(
        ConfigError, match="unknown task 'clasification' \\(did you mean 'classification'\\?\\)"
    ):
        build_task(load_config(None, ["task=clasification"]))
    with pytest.raises(ConfigError, match="task.kwargs: .*unexpected keyword argument 'ratio'"):
        build_task(load_config(None, ["task=masked_reconstruction", "task.kwargs.ratio=0.5"]))
    with pytest.raises(ConfigError, match="mask_ratio must be in \\(0, 1\\), got 1.5"):
        build_task(load_config(None, ["task=masked_reconstruction", "task.kwargs.mask_ratio=1.5"]))


# -- masked reconstruction -----------------------------------------------------------------------------------------
class SpaceToDepth(nn.Module):
    """An "encoder" whose features are the pixels of each tubelet, gathered cell by cell with plain loops:
    [B, 3, T, H, W] -> [B, 3 * t * h * w, T/t, H/h, W/w], channel order (colour, dt, dy, dx)."""

    feature_layout = "BCTHW"  # one [B, D, T', H', W'] map (vidact.models.contract.FeatureLayout)

    def __init__(self, tubelet: tuple[int, int, int]):
        super().__init__()
        self.tubelet = tubelet

    def forward_features(self, x: Tensor) -> Tensor:
        t, h, w = self.tubelet
        b, c, frames, height, width = x.shape
        out = x.new_zeros(b, c * t * h * w, frames // t, height // h, width // w)
        for ct in range(frames // t):
            for cy in range(height // h):
                for cx in range(width // w):
                    cell = x[:, :, ct * t : (ct + 1) * t, cy * h : (cy + 1) * h, cx * w : (cx + 1) * w]
                    out[:, :, ct, cy, cx] = cell.reshape(b, -1)
        return out


def test_tubelets_go_back_where_they_came_from() -> None:
    """With space-to-depth features and an identity decoder, the reconstruction is the masked clip itself:
    the cell -> pixel arithmetic inverts the oracle's gathering, and the masked tubelets are zero."""
    tubelet = (2, 4, 2)
    model = MaskedVideoModel(SpaceToDepth(tubelet), num_features=48, tubelet=tubelet)
    model.decoder = nn.Identity()
    clips = torch.randn(2, 3, 4, 8, 6, generator=torch.Generator().manual_seed(0))
    mask = torch.rand(2, 2, 2, 3, generator=torch.Generator().manual_seed(1)) < 0.5
    hidden = torch.zeros_like(clips, dtype=torch.bool)
    for b, ct, cy, cx in mask.nonzero().tolist():
        hidden[b, :, 2 * ct : 2 * ct + 2, 4 * cy : 4 * cy + 4, 2 * cx : 2 * cx + 2] = True
    assert torch.equal(expand_mask(mask, tubelet).expand_as(clips), hidden)
    assert 0 < hidden.sum() < hidden.numel()
    torch.testing.assert_close(model(clips, mask), clips.masked_fill(hidden, 0.0), rtol=0, atol=0)


def test_the_encoder_never_sees_the_hidden_pixels() -> None:
    task = build_task(load_config(None, small(Path("."), "task=masked_reconstruction")))
    task.classes = []
    model = task.build_model().eval()
    mask = torch.zeros(2, *task.cells, dtype=torch.bool)
    mask[:, :, ::2] = True
    clips = torch.randn(2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    changed = clips + 5.0 * expand_mask(mask, task.tubelet)  # only the hidden pixels differ
    with torch.no_grad():
        torch.testing.assert_close(model(changed, mask), model(clips, mask), rtol=0, atol=0)
        nothing_hidden = torch.zeros_like(mask)  # then the same change does show
        assert not torch.allclose(model(changed, nothing_hidden), model(clips, nothing_hidden))


def test_masked_reconstruction_learns(scenes: Path, tmp_path: Path) -> None:
    """No labels: 12 epochs of 8 steps (a few seconds) take the validation error on the hidden pixels from
    above the baseline of filling them with the clip's mean visible colour to well below it. Over seeds: final
    `explained` 0.30-0.40, first epoch below 0. A loop that does not step, or a task that scores the wrong
    pixels, stays above the baseline."""
    cfg = load_config(
        None,
        small(
            scenes,
            "task=masked_reconstruction",
            "task.kwargs.mask_ratio=0.5",
            "train.epochs=12",
            "train.lr=0.01",
        ),
    )
    result = train(cfg, tmp_path / "run", progress=False)
    first, last = result.history[0], result.history[-1]
    assert tuple(first) == (
        "epoch",
        "step",
        "lr",
        "train_loss",
        "val_mse",
        "val_baseline_mse",
        "val_explained",
        "time",
        "data_wait",
    )
    assert last["step"] == 12 * 8 and result.classes == []
    assert first["val_explained"] < 0.1
    assert last["val_explained"] >= 0.25 and last["val_mse"] < 0.75 * last["val_baseline_mse"]
    assert last["train_loss"] < 0.7 * first["train_loss"]
    # The best epoch has the lowest error (lower is better), and the baseline is the same every epoch: validation
    # hides the same cells of each sample whatever the epoch.
    assert result.best["mse"] == min(r["val_mse"] for r in result.history)
    assert len({round(r["val_baseline_mse"], 9) for r in result.history}) == 1
    summary = json.loads((result.run_dir / "metrics.json").read_text())
    assert summary["task"] == "masked_reconstruction" and summary["best"]["mse"] == result.best["mse"]
    ckpt, _ = load_checkpoint(result.run_dir)
    assert ckpt["task"] == "masked_reconstruction" and any(
        k.startswith("decoder.") for k in ckpt["state_dict"]
    )
    with pytest.raises(CheckpointError, match="made by the masked_reconstruction task, not a classifier"):
        load_model(result.run_dir)
    with pytest.raises(CheckpointError, match="made by task masked_reconstruction, but the recipe's task is"):
        train(load_config(None, small(scenes, "train.epochs=12")), result.run_dir, resume=True)


# -- pre-training feeds fine-tuning --------------------------------------------------------------------------------
def test_a_masked_pretraining_run_seeds_a_classifier(scenes: Path, tmp_path: Path) -> None:
    """`model.pretrained: RUN` of a masked_reconstruction run: the classifier starts from the run's encoder
    (every backbone tensor equal to the checkpoint's `encoder.` one), the decoder is left out with a one-line
    notice, the new classifier starts fresh, and fine-tuning trains and evaluates like any classification run."""
    pre = train(
        load_config(None, small(scenes, "task=masked_reconstruction", "train.epochs=2", "train.lr=0.01")),
        tmp_path / "pre",
        progress=False,
    )
    ckpt, _ = load_checkpoint(pre.run_dir)
    assert ckpt["classifier"] is False and ckpt["backbone"] == "encoder."
    encoder = {k[len("encoder.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("encoder.")}

    cfg = load_config(
        None, small(scenes, f"model.pretrained={pre.run_dir}", "train.epochs=1", "train.lr=0.001")
    )
    with pytest.warns(UserWarning, match=r"loading its encoder only \(decoder left out\)"):
        network = build_network(cfg.model, 8)
    state = network.state_dict()
    assert encoder and set(encoder) == {k for k in state if not k.startswith("fc.")}
    for key, value in encoder.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)
    random = build_network(load_config(None, small(scenes)).model, 8).state_dict()
    assert any(not torch.equal(random[k], v) for k, v in encoder.items())  # not what a fresh model has anyway

    # the fine-tuning run trains from there and gives a classifier that evaluation and prediction load
    with pytest.warns(UserWarning, match="decoder left out"):
        tuned = train(cfg, tmp_path / "tuned", progress=False)
    loaded = load_model(tuned.run_dir)
    assert loaded.task == "classification" and loaded.spec.modality == "video" and len(loaded.classes) == 8
    assert 0.0 <= tuned.best["top1"] <= 1.0


def test_checkpoints_store_their_input_and_older_ones_still_load(scenes: Path, tmp_path: Path) -> None:
    """Every checkpoint stores its input spec; one written before specs were stored (no `input`, `classifier`,
    `backbone`) loads with the spec its task derives from its recipe — the same one."""
    from vidact.data.presets import Preset
    from vidact.engine.checkpoint import atomic_save

    run = train(load_config(None, small(scenes, "train.epochs=1")), tmp_path / "run", progress=False)
    ckpt, _ = load_checkpoint(run.run_dir)
    assert ckpt["input"]["modality"] == "video" and ckpt["classifier"] is True and ckpt["backbone"] == ""
    stored = load_model(run.run_dir)
    assert stored.spec == Preset.from_dict(ckpt["input"]) and stored.spec.frames == 8
    assert stored.spec.crop_size == 32 and stored.spec.test_views() == {"clips": 10, "crops": 3}
    old = {k: v for k, v in ckpt.items() if k not in ("input", "classifier", "backbone")}
    atomic_save(old, tmp_path / "old.ckpt")
    derived = load_model(tmp_path / "old.ckpt")
    assert (
        derived.spec == stored.spec and derived.classes == stored.classes and derived.task == "classification"
    )


# -- a task with two losses, defined here: the loop trains it as it is ------------------------------------------------
@register_task
class TwoLosses(Classification):
    """Classification plus a penalty on the logits' size: two named losses, the loop backpropagates their sum."""

    name = "two_losses_for_tests"
    loss_names = ("cross_entropy", "logit_penalty")
    seen: list[tuple[float, float]] = []

    def training_step(self, model: nn.Module, batch: dict, rng: np.random.Generator) -> StepOutput:
        logits = model(batch["video"])
        cross_entropy = nn.functional.cross_entropy(logits, batch["label"])
        penalty = 0.5 * logits.square().mean()
        TwoLosses.seen.append((float(cross_entropy.detach()), float(penalty.detach())))
        correct = int((logits.argmax(1) == batch["label"]).sum())
        return StepOutput(
            {"cross_entropy": cross_entropy, "logit_penalty": penalty}, len(logits), {"acc": correct}
        )


def test_a_new_task_with_two_losses_needs_no_loop_edit(scenes: Path, tmp_path: Path) -> None:
    TwoLosses.seen.clear()
    cfg = load_config(None, small(scenes, "task=two_losses_for_tests", "train.epochs=1", "train.lr=0.001"))
    result = train(cfg, tmp_path / "run", progress=False)
    (row,) = result.history
    assert "train_cross_entropy" in row and "train_logit_penalty" in row and "train_acc" in row
    assert len(TwoLosses.seen) == 8  # 32 videos, batches of 4
    # Every batch has 4 samples: the epoch's means are the means of the steps' values.
    cross_entropy, penalty = (sum(v) / len(v) for v in zip(*TwoLosses.seen, strict=True))
    assert row["train_cross_entropy"] == pytest.approx(cross_entropy, rel=1e-6)
    assert row["train_logit_penalty"] == pytest.approx(penalty, rel=1e-6)
    assert row["train_loss"] == pytest.approx(cross_entropy + penalty, rel=1e-6)
    assert math.isfinite(row["val_top1"])


# -- precision and layout ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_follows_the_hardware(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(precision, "bf16_training", lambda device: native)
    cpu = torch.device("cpu")
    auto = precision.resolve_settings("auto", "auto", device=cpu)
    assert auto == (
        precision.NumericSettings("bf16", "channels_last_3d")
        if native
        else precision.NumericSettings("32", "contiguous")
    )
    assert auto.fabric_precision == ("bf16-mixed" if native else "32-true")
    # What a recipe asks for wins.
    assert precision.resolve_settings("32", "auto", device=cpu) == precision.NumericSettings(
        "32", "contiguous"
    )
    assert precision.resolve_settings("bf16", "contiguous", device=cpu).memory_format == "contiguous"


def test_the_cpu_probe_and_cpuinfo_agree() -> None:
    flags = precision._cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo here")
    cpu = torch.device("cpu")
    assert precision.native_bf16(cpu) == bool(flags & {"avx512_bf16", "amx_bf16"})
    # training in bf16 needs AMX: AVX512-BF16 alone gives non-finite convolution gradients now and then
    assert precision.bf16_training(cpu) == ("amx_bf16" in flags)
    inference = precision.resolve_settings("auto", "auto", device=cpu, training=False).precision
    assert inference == ("bf16" if flags & {"avx512_bf16", "amx_bf16"} else "32")


def test_channels_last_keeps_the_values() -> None:
    model = nn.Sequential(nn.Conv3d(3, 4, 3), nn.Conv2d(4, 4, 1), nn.Linear(4, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    precision.to_memory_format(model, "channels_last_3d")
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert not model[0].weight.is_contiguous()
    assert model[1].weight.is_contiguous(memory_format=torch.channels_last)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    clips = precision.batch_to_memory_format(torch.randn(2, 3, 4, 5, 6), "channels_last_3d")
    assert clips.is_contiguous(memory_format=torch.channels_last_3d)
