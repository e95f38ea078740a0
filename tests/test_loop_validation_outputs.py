"""Validation outputs of any shape: a task's ``validation_step`` may return, per key, a list of per-sample objects
(tensors of different shapes, dicts), and ``validation_metrics`` receives them gathered in dataset order, in one
process and in two under torchrun (the shards are uneven: 5 samples for 2 processes, batches of 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate

from vidact.engine.config import load_config
from vidact.engine.tasks import StepOutput, Task, TaskData, register_task
from vidact.engine.train import train

NUM_VAL = 5


class _Indexed(Dataset):
    """``count`` items ``{"x": [4] float32, "index": []}``."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"x": torch.full((4,), float(index)), "index": torch.tensor(index)}


def segments(index: int) -> Tensor:
    """What the task's "detector" finds in sample ``index``: ``index % 3`` segments [S, 2], row s = (index, s)."""
    return torch.tensor([[float(index), float(s)] for s in range(index % 3)]).reshape(-1, 2)


@register_task
class _Segments(Task):
    """Per sample: a tensor output (the index), a variable-length one (:func:`segments`) and a dict. The metrics
    report what arrived, in the order it arrived."""

    name = "segments_for_loop_tests"
    loss_names = ("mse",)
    val_metrics = ("score",)
    monitor = "score"
    clip_keys = ()

    def build_data(self, *, seed: int, validate: bool, progress: bool) -> TaskData:
        self.data = TaskData(_Indexed(8), _Indexed(NUM_VAL) if validate else None, default_collate)
        return self.data

    @property
    def outputs(self) -> list[str]:
        return ["y"]

    def build_model(self) -> nn.Module:
        return nn.Linear(4, 1)

    def training_step(self, model: nn.Module, batch: dict[str, Any], rng: np.random.Generator) -> StepOutput:
        return StepOutput({"mse": model(batch["x"]).square().mean()}, len(batch["x"]))

    def validation_step(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, Tensor | list[Any]]:
        indices = batch["index"].tolist()
        return {
            "index": batch["index"],
            "segments": [segments(i) + 0 * model(batch["x"][:1]).sum() for i in indices],  # a graph to detach
            "meta": [{"index": i, "name": f"video{i}"} for i in indices],
        }

    def validation_metrics(self, outputs: dict[str, Tensor | list[Any]]) -> dict[str, Any]:
        found = outputs["segments"]
        assert isinstance(found, list) and isinstance(outputs["index"], Tensor)
        assert all(not s.requires_grad and s.device.type == "cpu" for s in found)
        return {
            "score": 1.0,
            "index": outputs["index"].tolist(),
            "segments": [s.tolist() for s in found],
            "meta": outputs["meta"],
        }


def config(*extra: str) -> Any:
    return load_config(
        None,
        [
            "task=segments_for_loop_tests",
            "data.batch_size=2",
            "data.num_workers=0",
            "train.epochs=1",
            "train.precision=32",
            "train.accelerator=cpu",
            "train.num_threads=1",
            *extra,
        ],
    )


def _check(best: dict[str, Any]) -> None:
    expected = list(range(NUM_VAL))
    assert best["index"] == expected
    assert best["segments"] == [segments(i).tolist() for i in expected]  # shapes [0, 2], [1, 2], [2, 2], ...
    assert best["meta"] == [{"index": i, "name": f"video{i}"} for i in expected]


def test_list_outputs_are_gathered_in_dataset_order(tmp_path: Path) -> None:
    result = train(config(), tmp_path / "run", progress=False)
    _check(result.best)


@pytest.mark.slow  # about 30 s on 2 cores: two processes start torch and a gloo group
def test_list_outputs_are_gathered_across_two_processes(tmp_path: Path) -> None:
    """Rank 0 validates samples 0, 2, 4 (batches of 2 and 1), rank 1 samples 1, 3: gathered back as 0..4."""
    run_dir = tmp_path / "ddp"
    driver = tmp_path / "driver.py"
    driver.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_loop_validation_outputs import config\n"
        "from vidact.engine.train import train\n"
        f"train(config(), {str(run_dir)!r}, progress=False)\n"
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        str(driver),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["world_size"] == 2
    _check(summary["best"])
