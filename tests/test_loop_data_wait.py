"""The loop reports the share of each training pass spent waiting for data: near 1 when items are slow to load,
near 0 when the steps are the slow part. A task defined here trains a linear model on in-memory items, so that
the only slow thing is the one each test makes slow."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate

from vidact.engine.config import load_config
from vidact.engine.tasks import StepOutput, Task, TaskData, register_task
from vidact.engine.train import history_columns, train

ITEMS = 8


class _Items(Dataset):
    """``ITEMS`` items ``{"x": [4] float32, "y": [] float32}``, each taking ``seconds`` to load."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __len__(self) -> int:
        return ITEMS

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        time.sleep(self.seconds)
        x = torch.arange(4, dtype=torch.float32) + index
        return {"x": x, "y": x.sum()}


@register_task
class _Timed(Task):
    """Regression of ``y`` from ``x``; loading an item takes ``item_seconds``, a training step ``step_seconds``."""

    name = "timed_for_loop_tests"
    loss_names = ("mse",)
    val_metrics = ("mse",)
    monitor = "mse"
    higher_is_better = False
    clip_keys = ()

    def __init__(self, config: Any, item_seconds: float = 0.0, step_seconds: float = 0.0) -> None:
        super().__init__(config)
        self.item_seconds, self.step_seconds = item_seconds, step_seconds

    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        self.data = TaskData(_Items(self.item_seconds), _Items(0.0) if validate else None, default_collate)
        return self.data

    @property
    def outputs(self) -> list[str]:
        return ["y"]

    def build_model(self) -> nn.Module:
        return nn.Linear(4, 1)

    def training_step(self, model: nn.Module, batch: dict[str, Any], rng: np.random.Generator) -> StepOutput:
        time.sleep(self.step_seconds)
        loss = (model(batch["x"]).squeeze(1) - batch["y"]).square().mean()
        return StepOutput({"mse": loss}, len(batch["x"]))

    def validation_step(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, Tensor]:
        return {"error": (model(batch["x"]).squeeze(1) - batch["y"]).float()}

    def validation_metrics(self, outputs: dict[str, Tensor]) -> dict[str, Any]:
        return {"mse": float(outputs["error"].square().mean())}


def _run(tmp_path: Path, item_seconds: float, step_seconds: float) -> tuple[list[dict[str, Any]], Path]:
    overrides = [
        "task=timed_for_loop_tests",
        f"task.kwargs={{item_seconds: {item_seconds}, step_seconds: {step_seconds}}}",
        "data.batch_size=2",
        "data.num_workers=0",
        "train.epochs=2",
        "train.lr=0.001",
        "train.precision=32",
        "train.accelerator=cpu",
        "train.num_threads=1",
    ]
    run_dir = tmp_path / "run"
    result = train(load_config(None, overrides), run_dir, progress=False)
    return result.history, run_dir


def test_slow_items_make_a_large_data_wait(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 8 items x 0.03 s of loading per epoch; a step of a 4 -> 1 linear model takes about a millisecond.
    history, run_dir = _run(tmp_path, item_seconds=0.03, step_seconds=0.0)
    assert [row["data_wait"] > 0.7 for row in history] == [True, True], history
    assert all(row["data_wait"] <= 1.0 for row in history)
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == history_columns(_Timed) == (*_Timed.history_columns(), "data_wait")
    assert [float(row["data_wait"]) for row in rows] == pytest.approx([row["data_wait"] for row in history])
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert [row["data_wait"] for row in summary["history"]] == pytest.approx(
        [row["data_wait"] for row in history]
    )
    assert "waiting for data" in capsys.readouterr().out  # the epoch's console line says it too


def test_slow_steps_make_a_small_data_wait(tmp_path: Path) -> None:
    # The same items loaded instantly, and 4 steps per epoch of 0.06 s each.
    history, _ = _run(tmp_path, item_seconds=0.0, step_seconds=0.06)
    assert [0 <= row["data_wait"] < 0.2 for row in history] == [True, True], history
