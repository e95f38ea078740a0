"""The training engine: optimisation pieces by hand, and whole runs on a tiny synthetic set (2 classes x 4
training videos of 8 frames at 32x32): the run directory, gradient accumulation, bf16, exact resume after
SIGKILL, errors, and two processes under torchrun."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from vidact.cli import main
from vidact.data.synth import synthesize
from vidact.engine.checkpoint import load_checkpoint, load_model
from vidact.engine.config import load_config, save_config
from vidact.engine.optim import LRSchedule, build_optimizer, mixup, soft_cross_entropy, soft_targets
from vidact.engine.train import HISTORY_COLUMNS, ShardedBatchSampler, _state_checksum, train
from vidact.errors import CheckpointError, ConfigError, DatasetError
from vidact.models import register_model


# -- a model without batch norm or dropout, which records whether it ran under CPU autocast ------------------------
class AutocastProbe(nn.Module):
    """Clips [B, 3, T, H, W] -> mean-pooled to [B, 3, 2, 4, 4] -> linear -> [B, K]."""

    autocast: list[torch.dtype | None] = []

    def __init__(self, num_classes: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d((2, 4, 4))
        self.fc = nn.Linear(3 * 2 * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enabled = torch.is_autocast_enabled("cpu")
        AutocastProbe.autocast.append(torch.get_autocast_dtype("cpu") if enabled else None)
        return self.fc(self.pool(x).flatten(1))


@register_model
def autocast_probe_for_tests(*, num_classes: int = 2) -> AutocastProbe:
    return AutocastProbe(num_classes)


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
    return [{k: v for k, v in row.items() if k != "time"} for row in history]


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
    with open(run / "per_class_accuracy.csv", newline="") as f:
        per_class = list(csv.DictReader(f))
    assert [int(r["samples"]) for r in per_class] == [2, 2]
    assert [int(r["correct"]) for r in per_class] == [best["confusion_matrix"][k][k] for k in range(2)]
    with Image.open(run / "confusion_matrix.png") as png:
        assert png.format == "PNG" and png.width >= 400 and png.height >= 400
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))

    model, info = load_model(run)  # best.ckpt, as `vidact eval` and `vidact predict` read it
    assert info.path == result.best_checkpoint and info.metrics["top1"] == best["top1"]
    assert info.classes == result.classes and info.config["data"]["clip_len"] == 8
    last, _ = load_checkpoint(run, "last")
    assert last["train_state"]["epoch"] == 2 and last["train_state"]["batch"] == 0
    final, _ = load_model(run, "last")
    assert _state_checksum(final) == summary["replica_checksums"][0]


def test_grad_accumulation_equals_the_larger_batch(videos: Path, tmp_path: Path) -> None:
    common = ("model.name=autocast_probe_for_tests", "model.kwargs={}", "train.optimizer=sgd", "train.lr=0.5")
    one = train(
        load_config(None, tiny(videos, *common, "data.batch_size=8")), tmp_path / "one", progress=False
    )
    two = train(
        load_config(None, tiny(videos, *common, "data.batch_size=4", "train.grad_accum=2")),
        tmp_path / "two",
        progress=False,
    )
    a, b = weights_of(one.last_checkpoint), weights_of(two.last_checkpoint)
    initial = autocast_probe_for_tests(num_classes=2)
    assert not torch.allclose(a["fc.weight"], initial.fc.weight)  # it trained
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-7)
    assert [r["step"] for r in one.history] == [r["step"] for r in two.history] == [1, 2]
    assert [r["train_loss"] for r in one.history] == pytest.approx([r["train_loss"] for r in two.history])


def test_bf16_mixup_smoothing_and_clipping(videos: Path, tmp_path: Path) -> None:
    AutocastProbe.autocast.clear()
    cfg = load_config(
        None,
        tiny(
            videos,
            "model.name=autocast_probe_for_tests",
            "model.kwargs={}",
            "train.precision=bf16",
            "train.mixup_alpha=0.4",
            "train.label_smoothing=0.1",
            "train.clip_grad_norm=0.5",
            "train.grad_accum=3",  # 4 batches: a group of 3, then one of 1
            "train.schedule=step",
            "train.milestones=[1]",
        ),
    )
    result = train(cfg, tmp_path / "run", progress=False)
    assert AutocastProbe.autocast and set(AutocastProbe.autocast) == {
        torch.bfloat16
    }  # training and validation
    assert [r["step"] for r in result.history] == [2, 4]
    assert [r["lr"] for r in result.history] == pytest.approx([0.01, 0.001])  # x gamma after epoch 1
    assert all(math.isfinite(r["train_loss"]) for r in result.history)
    assert all(torch.isfinite(v).all() for v in weights_of(result.last_checkpoint).values())


def test_resume_after_sigkill_is_exact(videos: Path, tmp_path: Path) -> None:
    overrides = tiny(
        videos,
        "data.batch_size=1",  # 8 steps per epoch
        "train.checkpoint_every_steps=2",
        "train.warmup_epochs=0.5",
        "train.mixup_alpha=0.4",  # random draws of every kind: dropout, mixup, clips and crops
        "train.label_smoothing=0.1",
    )
    reference = train(load_config(None, overrides), tmp_path / "reference", progress=False)

    run = tmp_path / "killed"
    last = run / "checkpoints" / "last.ckpt"
    command = [
        sys.executable,
        "-m",
        "vidact.engine.train",
        os.devnull,
        *overrides,
        "--out",
        str(run),
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not last.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, stderr.decode()
    killed_at = load_checkpoint(last)[0]["train_state"]
    assert 0 < killed_at["batch"] < 8, "the run was not stopped mid-epoch"

    resumed = train(load_config(None, overrides), run, resume=True, progress=False)
    expected, got = weights_of(reference.last_checkpoint), weights_of(resumed.last_checkpoint)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert without_time(resumed.history) == without_time(reference.history)
    assert resumed.best == reference.best


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
    still = ("train.lr=1e-12", "train.optimizer=sgd", "train.momentum=0", "train.weight_decay=0")
    cfg = load_config(
        None,
        tiny(
            videos,
            "train.epochs=1",
            f"model.pretrained={source.best_checkpoint}",
            "model.pretrained_ignore=[fc.]",  # a new classifier, as when fine-tuning on other classes
            *still,
        ),
    )
    tuned = train(cfg, tmp_path / "tuned", progress=False)
    before, after = weights_of(source.best_checkpoint), weights_of(tuned.last_checkpoint)
    learned = [k for k in before if not k.startswith("fc.") and "running_" not in k and "batches" not in k]
    assert len(learned) > 10
    for key in learned:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-9)
    assert not torch.allclose(after["fc.weight"], before["fc.weight"])


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
        "vidact.engine.train",
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
    model, _ = load_model(run, "last")
    assert _state_checksum(model) == rank0  # and they are what rank 0 saved
    assert summary["best"]["num_samples"] == 4  # the validation shards were gathered, nothing twice
