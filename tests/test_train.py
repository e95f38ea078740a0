"""The training engine: optimisation pieces by hand, and whole runs on a tiny synthetic set (2 classes x 4
training videos of 8 frames at 32x32): the run directory, gradient accumulation, what bf16, mixup, label
smoothing and clipping do inside the loop, that a run learns, exact resume after a SIGKILL at a chosen step or
in the middle of a checkpoint write, errors, and two processes under torchrun."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

import vidact.engine.tasks.classification as classification
from vidact.cli import main
from vidact.data.datasets import collate_clips
from vidact.data.synth import synthesize
from vidact.engine.checkpoint import load_checkpoint
from vidact.engine.config import load_config, save_config
from vidact.engine.load import load_model
from vidact.engine.optim import LRSchedule, build_optimizer, mixup, soft_cross_entropy, soft_targets
from vidact.engine.precision import bf16_training
from vidact.engine.train import HISTORY_COLUMNS, RunResult, ShardedBatchSampler, state_checksum, train
from vidact.errors import CheckpointError, ConfigError, DatasetError
from vidact.models import build_model, register_model


# -- a model without batch norm or dropout, which can record what the training loop feeds it ---------------------
class Probe(nn.Module):
    """Clips [B, 3, T, H, W] -> mean-pooled to [B, 3, 2, 4, 4] -> linear -> [B, K].

    While a test sets ``Probe.forwards`` to a list, every forward pass appends ``(training, the dtype the linear
    layer computed the logits in, a copy of the input clips)``: bfloat16 under bf16 autocast, else float32.
    ``accumulated[i]`` is parameter ``i``'s gradient as the backward passes left it (summed over micro-batches,
    before any clipping); ``Probe.latest`` is the last model built.
    """

    forwards: list[tuple[bool, torch.dtype, torch.Tensor]] | None = None
    latest: Probe | None = None

    def __init__(self, num_classes: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d((2, 4, 4))
        self.fc = nn.Linear(3 * 2 * 4 * 4, num_classes)
        self.accumulated: list[torch.Tensor | None] = [None] * len(list(self.parameters()))
        for i, parameter in enumerate(self.parameters()):
            parameter.register_post_accumulate_grad_hook(self._keeper(i))
        Probe.latest = self

    def _keeper(self, i: int) -> Callable[[nn.Parameter], None]:
        def keep(parameter: nn.Parameter) -> None:
            self.accumulated[i] = parameter.grad.detach().clone()

        return keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.fc(self.pool(x).flatten(1))
        if Probe.forwards is not None:
            Probe.forwards.append((self.training, logits.dtype, x.detach().clone()))
        return logits


@register_model
def probe_for_tests(*, num_classes: int = 2) -> Probe:
    return Probe(num_classes)


# -- data and recipes ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    synthesize(
        root,
        "temporal",
        videos_per_class={"train": 4, "val": 2},
        size=32,
        frames=8,
        pairs=["slide"],
        workers=0,
        progress=False,
        overwrite=True,
    )
    return root


def tiny(root: Path, *overrides: str) -> list[str]:
    """Overrides for a run that takes about a second: Simple3D with 4 and 8 channels, 2 epochs of 4 steps."""
    return [
        f"data.root={root}",
        "data.clip_len=8",
        "data.stride=1",
        "data.short_side=32",
        "data.crop_size=32",
        "data.batch_size=2",
        "data.num_workers=0",
        "model.kwargs={widths: [4, 8], dropout: 0.5}",
        "train.epochs=2",
        "train.num_threads=1",
        "train.deterministic=true",
        *overrides,
    ]


def weights_of(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def without_time(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("time", "data_wait")} for row in history]


# -- optimisation pieces -------------------------------------------------------------------------------------------
def test_cosine_schedule_with_warmup_by_hand() -> None:
    schedule = LRSchedule(1.0, total_steps=10, warmup_steps=2, kind="cosine", min_lr=0.1)
    assert schedule(0) == pytest.approx(0.5)  # warm-up: (s + 1) / warmup_steps
    assert schedule(1) == pytest.approx(1.0)
    assert schedule(2) == pytest.approx(1.0)  # cosine starts at the peak
    assert schedule(6) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway: (1 + cos(pi / 2)) / 2
    assert schedule(8) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.75)))
    assert schedule(10) == pytest.approx(0.1)
    assert schedule(50) == pytest.approx(0.1)


def test_step_and_constant_schedules_by_hand() -> None:
    step = LRSchedule(0.4, total_steps=10, warmup_steps=1, kind="step", milestones=(3, 6), gamma=0.5)
    assert [step(s) for s in range(8)] == pytest.approx([0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1, 0.1])
    constant = LRSchedule(0.3, total_steps=10, warmup_steps=4, kind="constant")
    assert [constant(s) for s in (0, 3, 4, 9)] == pytest.approx([0.075, 0.3, 0.3, 0.3])


def test_soft_targets_are_label_smoothing() -> None:
    labels = torch.tensor([0, 2, 1])
    targets = soft_targets(labels, 4, smoothing=0.2)
    assert targets.sum(1).tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert targets[1].tolist() == pytest.approx([0.05, 0.05, 0.85, 0.05])
    logits = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    expected = F.cross_entropy(logits, labels, label_smoothing=0.2)
    assert soft_cross_entropy(logits, targets) == pytest.approx(float(expected), rel=1e-6)


def test_mixup_mixes_clips_and_labels_alike() -> None:
    clips = torch.randn(6, 3, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    targets = soft_targets(torch.tensor([0, 1, 2, 0, 1, 2]), 3, smoothing=0.1)
    mixed, mixed_targets = mixup(clips, targets, alpha=0.4, rng=np.random.default_rng(7))
    rng = np.random.default_rng(7)  # the same draws, by hand
    lam, perm = rng.beta(0.4, 0.4), torch.from_numpy(rng.permutation(6))
    torch.testing.assert_close(mixed, lam * clips + (1 - lam) * clips[perm])
    torch.testing.assert_close(mixed_targets, lam * targets + (1 - lam) * targets[perm])
    assert mixed_targets.sum(1).tolist() == pytest.approx([1.0] * 6)
    assert not torch.equal(mixed, clips)
    with pytest.raises(ValueError, match="alpha"):
        mixup(clips, targets, alpha=0.0, rng=rng)


def test_weight_decay_skips_biases_norms_and_frozen_parameters() -> None:
    model = nn.Sequential(
        nn.Conv3d(3, 4, 3), nn.BatchNorm3d(4), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 2)
    )
    conv, norm, linear = model[0], model[1], model[4]
    conv.weight.requires_grad_(False)
    optimizer = build_optimizer(model, "adamw", lr=0.1, weight_decay=0.05)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(linear.weight)}
    assert {id(p) for p in plain["params"]} == {
        id(p) for p in (conv.bias, norm.weight, norm.bias, linear.bias)
    }
    assert isinstance(build_optimizer(model, "sgd", lr=0.1, momentum=0.8), torch.optim.SGD)


def test_sharded_batches_are_a_function_of_seed_and_epoch() -> None:
    def shards(epoch: int, start: int = 0) -> list[list[list[int]]]:
        out = []
        for rank in range(3):
            sampler = ShardedBatchSampler(11, 2, rank=rank, world_size=3, seed=5)
            sampler.set_epoch(epoch, start)
            out.append(list(sampler))
        return out

    epoch0 = shards(0)
    assert epoch0 == shards(0)  # deterministic
    assert shards(1) != epoch0  # reshuffled every epoch
    flat = [i for rank in epoch0 for batch in rank for i in batch]
    assert all(len(rank) == 1 for rank in epoch0)  # 11 // 3 = 3 samples each: one full batch of 2
    assert len(set(flat)) == len(flat) == 6  # disjoint shards
    resumed = ShardedBatchSampler(40, 4, rank=1, world_size=2, seed=5)
    resumed.set_epoch(3, start=2)
    full = ShardedBatchSampler(40, 4, rank=1, world_size=2, seed=5)
    full.set_epoch(3)
    assert list(resumed) == list(full)[2:] and len(resumed) == 3 and resumed.batches_per_epoch == 5

    val = [ShardedBatchSampler(11, 2, rank=r, world_size=3, shuffle=False, drop_last=False) for r in range(3)]
    assert sorted(i for s in val for batch in s for i in batch) == list(range(11))  # nothing dropped
    assert list(val[1]) == [[1, 4], [7, 10]]


# -- whole runs ----------------------------------------------------------------------------------------------------
def test_run_directory(videos: Path, tmp_path: Path) -> None:
    cfg = load_config(None, tiny(videos, "train.warmup_epochs=0.5", "train.lr=0.1"))
    result = train(cfg, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert result.run_dir == run and result.classes == ["moving_left_to_right", "moving_right_to_left"]
    assert load_config(run / "config.yaml") == cfg

    # 8 videos, batches of 2: 4 steps per epoch, 8 in all; warm-up of half an epoch = 2 steps.
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2] and [int(r["step"]) for r in rows] == [4, 8]
    assert tuple(rows[0]) == HISTORY_COLUMNS
    expected_lr = 0.1 * 0.5 * (1 + math.cos(math.pi * (3 - 2) / (8 - 2)))  # cosine at step 3 of 8
    assert float(rows[0]["lr"]) == pytest.approx(expected_lr)
    for row, history in zip(rows, result.history, strict=True):
        assert float(row["val_top1"]) == pytest.approx(history["val_top1"])
        assert 0 <= history["train_acc"] <= 1 and math.isfinite(history["train_loss"])

    best = result.best
    assert best is not None and best["top1"] == max(r["val_top1"] for r in result.history)
    assert best["num_samples"] == 4 and sum(map(sum, best["confusion_matrix"])) == 4
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["best"]["top1"] == best["top1"] and summary["final"]["epoch"] == 2
    assert summary["per_class_accuracy"] == dict(zip(result.classes, best["per_class_acc"], strict=True))
    assert summary["bad_videos"] == {"train": [], "val": []} and summary["decode_failures"] == []
    # The engine's default precision: bfloat16 autocast and channels-last where the CPU trains in bf16 (AMX).
    native = bf16_training(torch.device("cpu"))
    assert (summary["precision"], summary["memory_format"]) == (
        ("bf16", "channels_last_3d") if native else ("32", "contiguous")
    )
    with open(run / "per_class_accuracy.csv", newline="") as f:
        per_class = list(csv.DictReader(f))
    assert [int(r["samples"]) for r in per_class] == [2, 2]
    assert [int(r["correct"]) for r in per_class] == [best["confusion_matrix"][k][k] for k in range(2)]
    with Image.open(run / "confusion_matrix.png") as png:
        assert png.format == "PNG" and png.width >= 400 and png.height >= 400
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))

    info = load_model(run)  # best.ckpt, as `vidact eval` and `vidact predict` read it
    assert info.source == str(result.best_checkpoint) and info.metrics["top1"] == best["top1"]
    assert info.classes == result.classes and info.config["data"]["clip_len"] == 8
    last, _ = load_checkpoint(run, "last")
    assert last["train_state"]["epoch"] == 2 and last["train_state"]["batch"] == 0
    final = load_model(run, which="last").module
    assert state_checksum(final) == summary["replica_checksums"][0]


def test_grad_accumulation_equals_the_larger_batch(videos: Path, tmp_path: Path) -> None:
    # In float32: the identity is exact arithmetic, which bfloat16 rounding of each micro-batch's gradient
    # (the default on CPUs with native bf16) does not keep beyond ~3 digits.
    common = (
        "model.name=probe_for_tests",
        "model.kwargs={}",
        "train.optimizer=sgd",
        "train.lr=0.5",
        "train.precision=32",
    )
    one = train(
        load_config(None, tiny(videos, *common, "data.batch_size=8")), tmp_path / "one", progress=False
    )
    two = train(
        load_config(None, tiny(videos, *common, "data.batch_size=4", "train.grad_accum=2")),
        tmp_path / "two",
        progress=False,
    )
    a, b = weights_of(one.last_checkpoint), weights_of(two.last_checkpoint)
    initial = probe_for_tests(num_classes=2)
    assert not torch.allclose(a["fc.weight"], initial.fc.weight)  # it trained
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-7)
    assert [r["step"] for r in one.history] == [r["step"] for r in two.history] == [1, 2]
    assert [r["train_loss"] for r in one.history] == pytest.approx([r["train_loss"] for r in two.history])


def test_bf16_mixup_smoothing_and_clipping(
    videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the loop does with each option, seen at its boundaries: the batches the loader collates, the clips
    the model sees (and under which autocast), the targets the loss sees, the gradients the optimizer applies."""
    seed, alpha, smoothing, max_norm = 0, 0.4, 0.1, 0.5
    batches: list[dict] = []  # every collated batch, training and validation, in the loaders' order

    def collate(items: list) -> dict:
        batches.append(collate_clips(items))
        return batches[-1]

    losses: list[tuple[torch.Tensor, torch.Tensor]] = []  # (logits, targets) of every training loss

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        losses.append((logits.detach(), targets.detach().clone()))
        return soft_cross_entropy(logits, targets)

    steps: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = []  # (accumulated, applied) gradients

    def before_step(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        model = Probe.latest
        steps.append((list(model.accumulated), [p.grad.detach().clone() for p in model.parameters()]))

    monkeypatch.setattr(classification, "collate_clips", collate)
    monkeypatch.setattr(classification, "soft_cross_entropy", loss)
    monkeypatch.setattr(Probe, "forwards", [])
    cfg = load_config(
        None,
        tiny(
            videos,
            "model.name=probe_for_tests",
            "model.kwargs={}",
            "train.precision=bf16",
            f"train.mixup_alpha={alpha}",
            f"train.label_smoothing={smoothing}",
            f"train.clip_grad_norm={max_norm}",
            "train.grad_accum=3",  # 4 batches: a group of 3, then one of 1
            "train.schedule=step",
            "train.milestones=[1]",
            f"train.seed={seed}",
        ),
    )
    hook = register_optimizer_step_pre_hook(before_step)
    try:
        result = train(cfg, tmp_path / "run", progress=False)
    finally:
        hook.remove()
    assert [r["step"] for r in result.history] == [2, 4]
    assert [r["lr"] for r in result.history] == pytest.approx([0.01, 0.001])  # x gamma after epoch 1
    assert all(math.isfinite(r["train_loss"]) for r in result.history)

    # bf16: every forward pass, training and validation, computed its logits in bfloat16 (autocast; the weights
    # stay float32, and the loss gets the logits back in float32).
    forwards = Probe.forwards
    assert len(forwards) == len(batches) == 2 * (4 + 2)  # per epoch: 4 training batches, 2 validation ones
    assert {dtype for _, dtype, _ in forwards} == {torch.bfloat16}
    assert all(v.dtype == torch.float32 for v in weights_of(result.last_checkpoint).values())

    # Mixup and label smoothing: with num_workers=0 each batch is collated right before its forward pass, so
    # forward i saw batch i. Training batch `index` of `epoch` must be mixed with lam ~ Beta(alpha, alpha) and a
    # pairing drawn from default_rng([seed, epoch, index, rank]) (what makes resumed runs mix alike), and its
    # targets must be the same blend of the smoothed one-hot labels: (1 - s) * one_hot + s / K.
    training = [
        (batch, seen) for batch, (is_training, _, seen) in zip(batches, forwards, strict=True) if is_training
    ]
    assert len(training) == len(losses) == 8
    mixed_clips = mixed_labels = 0
    for n, ((batch, seen), (_, targets)) in enumerate(zip(training, losses, strict=True)):
        epoch, index = divmod(n, 4)
        rng = np.random.default_rng([seed, epoch, index, 0])
        lam, perm = float(rng.beta(alpha, alpha)), torch.from_numpy(rng.permutation(2))
        clips, labels = batch["video"], batch["label"]
        smoothed = F.one_hot(labels, 2).float() * (1 - smoothing) + smoothing / 2
        # Fabric hands the model its input in bfloat16: compare at that precision (about 3 significant digits).
        expected = (lam * clips + (1 - lam) * clips[perm]).to(seen.dtype)
        torch.testing.assert_close(seen, expected, msg=f"mixed clips, batch {n}")
        torch.testing.assert_close(
            targets, lam * smoothed + (1 - lam) * smoothed[perm], msg=f"mixed soft targets, batch {n}"
        )
        mixed_clips += not torch.allclose(seen.float(), clips, atol=0.05)
        mixed_labels += bool((labels != labels[perm]).any()) and 0.01 < lam < 0.99
    # Not vacuous: the draws above did blend clips, and clips of both classes.
    assert mixed_clips >= 2 and mixed_labels >= 1

    # Clipping: each step's gradient had a global norm above max_norm as the backward passes left it, and the
    # optimizer applied that gradient scaled down to norm max_norm (same direction).
    assert len(steps) == 4
    for accumulated, applied in steps:
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in accumulated]))
        assert norm > 2 * max_norm  # clipping has work to do
        for before, after in zip(accumulated, applied, strict=True):
            torch.testing.assert_close(
                after, before * (max_norm / norm), rtol=1e-4, atol=1e-8, msg="applied gradient != clipped"
            )


def test_training_learns_a_separable_task(tmp_path: Path) -> None:
    """A run learns: 8 scene classes (chance 1/8) whose colours the probe's pooled pixels separate, 64 training
    and 32 validation videos, 5 epochs of 16 steps (a few seconds). A loop that skips the optimizer step, zeroes
    or loses the gradient, or pairs clips with the wrong labels ends near chance and fails here."""
    root = tmp_path / "scenes"
    synthesize(
        root,
        "scene",
        videos_per_class={"train": 8, "val": 4},
        size=32,
        frames=8,
        workers=0,
        progress=False,
    )
    cfg = load_config(
        None,
        tiny(
            root,
            "model.name=probe_for_tests",
            "model.kwargs={}",
            "data.batch_size=4",
            "train.epochs=5",
            "train.optimizer=adamw",
            "train.lr=0.01",
            "train.weight_decay=0",
        ),
    )
    result = train(cfg, tmp_path / "run", progress=False)
    first, last = result.history[0], result.history[-1]
    assert len(result.classes) == 8 and last["step"] == 5 * 16
    # The training loss falls to a fraction of the first epoch's (and far below ln 8 = 2.08, a uniform guess),
    # and the training accuracy (against the labels the loss saw) and the validation accuracy end far above
    # chance (0.125). Over seeds of the data and the run: final loss 0.09-0.13, accuracies 0.97-1.
    assert last["train_loss"] < 0.3 and last["train_loss"] < 0.25 * first["train_loss"]
    assert last["train_acc"] >= 0.9
    assert last["val_top1"] >= 0.9 and last["val_mean_class_acc"] >= 0.9


# -- exact resume after SIGKILL ----------------------------------------------------------------------------------
#: `python driver.py MODE N ARGS...` runs `vidact train ARGS...` and SIGKILLs itself at a chosen point, so the
#: kill lands at the same place however busy the machine is:
#: - `after-step N`: right after the N-th optimizer step (torch's global optimizer step hook);
#: - `mid-write N`: during the N-th write of `last.ckpt`, once half of the serialized checkpoint is on disk
#:   (fsynced), before the write can finish. Only the serializer is replaced (`torch.save`, which vidact's
#:   atomic writer hands the open file to): which file the bytes go to and when it is renamed stay vidact's.
KILL_DRIVER = """
import io, os, signal, sys
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

mode, n, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
count = 0

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def after_step(optimizer, args, kwargs):
    global count
    count += 1
    if count == n:
        die()

save = torch.save

def half_save(obj, f, *rest, **options):
    global count
    if "last.ckpt" in os.path.basename(getattr(f, "name", "")):
        count += 1
        if count == n:
            buffer = io.BytesIO()
            save(obj, buffer, *rest, **options)
            data = buffer.getvalue()
            f.write(data[: len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
            die()
    return save(obj, f, *rest, **options)

if mode == "after-step":
    register_optimizer_step_post_hook(after_step)
elif mode == "mid-write":
    torch.save = half_save
else:
    raise SystemExit(f"unknown mode {mode}")

from vidact.cli import main

main(["train", *args])
"""


def resume_overrides(videos: Path) -> list[str]:
    """2 epochs of 8 steps, `last.ckpt` every 2 steps, and random draws of every kind: dropout, mixup, clips and
    crops."""
    return tiny(
        videos,
        "data.batch_size=1",
        "train.checkpoint_every_steps=2",
        "train.warmup_epochs=0.5",
        "train.mixup_alpha=0.4",
        "train.label_smoothing=0.1",
    )


@pytest.fixture(scope="module")
def uninterrupted(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The run the killed-and-resumed ones must reproduce bit for bit."""
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = train(load_config(None, resume_overrides(videos)), out, progress=False)
    assert result.precision == (
        "bf16" if bf16_training(torch.device("cpu")) else "32"
    )  # the engine's default
    return result


def train_until_killed(videos: Path, tmp_path: Path, mode: str, n: int) -> Path:
    """Run the training of `resume_overrides` in a process that SIGKILLs itself (`KILL_DRIVER`); its run dir."""
    driver, run = tmp_path / "kill_driver.py", tmp_path / "killed"
    driver.write_text(KILL_DRIVER)
    args = [os.devnull, *resume_overrides(videos), "--out", str(run), "--no-progress"]
    done = subprocess.run(
        [sys.executable, str(driver), mode, str(n), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    return run


def assert_resumes_to(run: Path, videos: Path, reference: RunResult) -> None:
    """Resuming `run` ends with the reference's weights (bit for bit), history and best epoch."""
    resumed = train(load_config(None, resume_overrides(videos)), run, resume=True, progress=False)
    expected, got = weights_of(reference.last_checkpoint), weights_of(resumed.last_checkpoint)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected), "resumed weights differ"
    assert without_time(resumed.history) == without_time(reference.history)
    assert resumed.best == reference.best


def test_resume_after_sigkill_mid_epoch_is_exact(
    videos: Path, tmp_path: Path, uninterrupted: RunResult
) -> None:
    # Killed right after step 11 of 16, in epoch 2: the last checkpoint is step 10's, 2 batches into epoch 2 (with
    # epoch 1's history and best epoch); steps 11-16 are taken again after the resume.
    run = train_until_killed(videos, tmp_path, "after-step", 11)
    state = load_checkpoint(run / "checkpoints" / "last.ckpt")[0]["train_state"]
    assert (state["epoch"], state["batch"], state["step"]) == (1, 2, 10)
    assert len(state["history"]) == 1 and state["best"]["epoch"] == 1
    assert_resumes_to(run, videos, uninterrupted)


def test_sigkill_during_a_checkpoint_write_keeps_the_previous_one(
    videos: Path, tmp_path: Path, uninterrupted: RunResult
) -> None:
    # last.ckpt is written at steps 2, 4 and 6, then at the end of epoch 1 (step 8): killed half-way through that
    # 4th write, the run must leave step 6's checkpoint whole under the name last.ckpt, and the half-written bytes
    # only in a temporary file that nothing reads as a checkpoint.
    run = train_until_killed(videos, tmp_path, "mid-write", 4)
    folder = run / "checkpoints"
    state = load_checkpoint(folder / "last.ckpt")[0]["train_state"]
    assert (state["epoch"], state["batch"], state["step"]) == (0, 6, 6)
    (partial,) = folder.glob(".last.ckpt.*.tmp")
    assert partial.stat().st_size > 0
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):  # truncated: really half a file
        load_checkpoint(partial)
    # The resumed run redoes steps 7 and 8 and epoch 1's validation and checkpoints, then epoch 2.
    assert_resumes_to(run, videos, uninterrupted)
    assert load_checkpoint(folder / "last.ckpt")[0]["train_state"]["step"] == 16


def test_errors(videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "tiny.yaml"
    save_config(load_config(None, tiny(videos, "train.epochs=1")), recipe)

    def cli_error(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(["train", str(recipe), *args])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err
        return err

    err = cli_error("train.lrr=0.1", "--out", str(tmp_path / "a"))
    assert "override 'train.lrr=0.1': unknown key 'train.lrr' (did you mean 'train.lr'?)" in err
    err = cli_error(f"data.root={tmp_path / 'missing'}", "--out", str(tmp_path / "b"))
    assert f"{tmp_path / 'missing' / 'train'}: no such dataset folder" in err
    err = cli_error("--out", str(tmp_path / "c"), "--resume")
    assert "no checkpoint to resume from" in err

    with pytest.raises(ConfigError, match="more than the 8 training videos"):
        train(load_config(recipe, ["data.batch_size=9"]), tmp_path / "d", progress=False)

    first = train(load_config(recipe), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(load_config(recipe), first.run_dir, progress=False)
    with pytest.raises(CheckpointError, match="made for model simple3d"):
        train(
            load_config(recipe, ["model.name=per_frame_resnet18", "model.kwargs={}"]),
            first.run_dir,
            resume=True,
        )
    with pytest.raises(CheckpointError, match="made for model simple3d"):
        train(load_config(recipe, ["model.kwargs={widths: [4, 16]}"]), first.run_dir, resume=True)
    with pytest.raises(DatasetError):
        train(load_config(recipe, [f"data.root={tmp_path / 'nothing'}"]), tmp_path / "e", progress=False)
    with pytest.raises(ConfigError, match="model.kwargs: got an unexpected keyword argument 'widthz'"):
        train(load_config(recipe, ["model.kwargs.widthz=[4]"]), tmp_path / "g", progress=False)
    with pytest.raises(ConfigError, match="no converter for torchvision weights of simple3d models"):
        layout = ["model.pretrained=weights.pth", "model.pretrained_layout=torchvision"]
        train(load_config(recipe, layout), tmp_path / "f", progress=False)
    # The finished run resumes to the same state: no epoch left, the same reports.
    again = train(load_config(recipe), first.run_dir, resume=True, progress=False)
    assert without_time(again.history) == without_time(first.history)


def test_pretrained_weights_initialise_the_model(videos: Path, tmp_path: Path) -> None:
    source = train(load_config(None, tiny(videos, "train.epochs=1")), tmp_path / "source", progress=False)
    # The same network trained on 5 classes: fine-tuning on this data set's 2 must leave its classifier out.
    five = build_model("simple3d", num_classes=5, widths=[4, 8], dropout=0.5)
    before = weights_of(source.best_checkpoint)
    five.load_state_dict({k: v for k, v in before.items() if not k.startswith("fc.")}, strict=False)
    torch.save(five.state_dict(), tmp_path / "five.pt")
    still = ("train.lr=1e-12", "train.optimizer=sgd", "train.momentum=0", "train.weight_decay=0")
    cfg = load_config(
        None, tiny(videos, "train.epochs=1", f"model.pretrained={tmp_path / 'five.pt'}", *still)
    )
    with pytest.warns(
        UserWarning, match=r"five.pt: 5 classes in the weights and 2 in the model: classifier 'fc'"
    ):
        tuned = train(cfg, tmp_path / "tuned", progress=False)
    after = weights_of(tuned.last_checkpoint)
    learned = [k for k in before if not k.startswith("fc.") and "running_" not in k and "batches" not in k]
    assert len(learned) > 10
    for key in learned:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-9)
    assert after["fc.weight"].shape == (2, 8)
    # The same class count loads everything, classifier included, without a notice.
    same = load_config(
        None, tiny(videos, "train.epochs=1", f"model.pretrained={source.best_checkpoint}", *still)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = train(same, tmp_path / "again", progress=False)
    torch.testing.assert_close(
        weights_of(again.last_checkpoint)["fc.weight"], before["fc.weight"], rtol=0, atol=1e-9
    )


def test_unreadable_videos_are_left_out_and_reported(videos: Path, tmp_path: Path) -> None:
    root = tmp_path / "videos"
    shutil.copytree(videos, root)
    broken = root / "train" / "moving_left_to_right" / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.warns(UserWarning, match="1 of 9 videos are unreadable"):
        result = train(load_config(None, tiny(root, "train.epochs=1")), tmp_path / "run", progress=False)
    assert result.history[0]["step"] == 4  # the 8 good videos
    (bad,) = json.loads((result.run_dir / "metrics.json").read_text())["bad_videos"]["train"]
    assert bad["path"] == str(broken) and bad["reason"]


def test_two_processes_under_torchrun_agree(videos: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        "-m",
        "vidact",
        "train",
        os.devnull,
        *tiny(videos, "train.checkpoint_every_steps=1"),
        "--out",
        str(run),
        "--no-progress",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["world_size"] == 2
    # 8 videos shared by 2 processes, batches of 2: 2 steps per epoch.
    assert summary["steps"] == 4 and summary["final"]["step"] == 4
    rank0, rank1 = summary["replica_checksums"]
    assert rank0 == rank1  # identical weights and batch-norm statistics in both processes
    model = load_model(run, which="last").module
    assert state_checksum(model) == rank0  # and they are what rank 0 saved
    assert summary["best"]["num_samples"] == 4  # the validation shards were gathered, nothing twice


# -- validation reads the validation set ------------------------------------------------------------------------
from vidact.engine.tasks import TaskData, register_task  # noqa: E402 (this section's, kept with it)


class CodeReader(nn.Module):
    """Clips [B, 3, T, H, W] whose pixels all hold one value c -> logits [B, K] peaked at class round(c):
    the logit of class k is ``-|scale| * (mean - k)^2``, so whatever the training does to the learnt
    ``scale``, the prediction is the clip's code."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.register_buffer("classes", torch.arange(num_classes, dtype=torch.float32))
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.float().mean(dim=(1, 2, 3, 4))
        return -self.scale.abs() * (mean[:, None] - self.classes) ** 2


#: Training: 8 clips, each coded with its own label (all predicted right). Validation: 8 clips whose codes
#: match their labels for exactly 5 (top-1 0.625; the training clips would give 1.0).
TRAIN_CODES = TRAIN_LABELS = [0, 1, 2, 0, 1, 2, 0, 1]
VAL_CODES = [0, 1, 2, 0, 1, 2, 0, 1]
VAL_LABELS = [0, 1, 2, 1, 2, 0, 0, 1]


@register_task
class CodedSets(classification.Classification):
    """Classification on in-memory coded clips (see :data:`VAL_LABELS`), read by :class:`CodeReader`."""

    name = "coded_sets_for_tests"

    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        def items(codes: list[int], labels: list[int]) -> list[dict]:
            clip = torch.ones(3, 2, 4, 4)
            pairs = zip(codes, labels, strict=True)
            return [{"video": code * clip, "label": label, "meta": {}} for code, label in pairs]

        self.classes = ["a", "b", "c"]
        val = items(VAL_CODES, VAL_LABELS) if validate else None
        self.data = TaskData(items(TRAIN_CODES, TRAIN_LABELS), val, collate=collate_clips)
        return self.data

    def build_model(self) -> nn.Module:
        return CodeReader(len(self.classes))


def test_validation_scores_the_validation_set(tmp_path: Path) -> None:
    """Both sets have 8 samples and batches of 4 divide both, so validating on the training loader would not
    fail on a shape: it would say top-1 1.0, where the validation set gives exactly 0.625."""
    overrides = [
        "task=coded_sets_for_tests",
        "data.batch_size=4",
        "data.num_workers=0",
        "train.epochs=2",
        "train.num_threads=1",
        "train.precision=32",
    ]
    result = train(load_config(None, overrides), tmp_path / "run", progress=False)
    assert [row["train_acc"] for row in result.history] == [1.0, 1.0]
    assert [row["val_top1"] for row in result.history] == [0.625, 0.625]
    assert result.best["num_samples"] == 8
    assert result.best["confusion_matrix"] == [[2, 0, 1], [1, 2, 0], [0, 1, 1]]  # rows: true class
