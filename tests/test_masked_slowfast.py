"""Masked pre-training of a two-pathway model: ``vidact train`` with ``task: masked_reconstruction`` and SlowFast,
whose features are a ``[slow, fast]`` pair (layout ``pathways``) and which is built without a classifier
(``num_classes=0``). The decoder reads both pathways, fused onto the Slow time axis. And the task's masks: tubes
(``masking: tube``, one spatial mask for every time step) and cells (the default, unchanged)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vidact.cli import main
from vidact.data.synth import synthesize
from vidact.engine.config import load_config
from vidact.engine.tasks import build_task
from vidact.engine.tasks.masked import MaskedReconstruction
from vidact.errors import ConfigError
from vidact.models import build_model
from vidact.models.contract import FeatureLayout, feature_map


def test_feature_map_fuses_the_pathways_onto_the_slow_time_axis() -> None:
    model = build_model("slowfast_r50", num_classes=0, width=8).eval()  # alpha 4; 256 + 32 channels
    assert model.feature_layout == FeatureLayout.PATHWAYS
    x = torch.randn(1, 3, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        slow, fast = model.forward_features(x)
        fused = feature_map(model, x)
    assert fused.shape == (1, model.num_features, 2, 1, 1) == (1, 256 + 32, 2, 1, 1)
    torch.testing.assert_close(fused[:, :256], slow)
    torch.testing.assert_close(fused[:, 256:, 1], fast[:, :, 4:].mean(dim=2))  # Fast frames 4..7 -> step 1


def test_vidact_train_masked_reconstruction_on_slowfast(tmp_path: Path) -> None:
    root = tmp_path / "scenes"
    synthesize(
        root, "scene", videos_per_class={"train": 1, "val": 1}, size=32, frames=8, workers=0, progress=False
    )
    recipe = tmp_path / "masked_slowfast.yaml"
    recipe.write_text(
        "task: masked_reconstruction\n"
        "model: {name: slowfast_r50, kwargs: {width: 8, dropout: 0.0}}\n"  # alpha 4: 2 Slow, 8 Fast frames
        f"data: {{root: {root}, clip_len: 8, stride: 1, short_side: 32, crop_size: 32, batch_size: 8, "
        "num_workers: 0, flip_p: 0}\n"
        "train: {epochs: 1, optimizer: adamw, lr: 0.001, weight_decay: 0, num_threads: 1}\n"
    )
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as done:  # typer's standalone mode exits, with 0 on success
        main(["train", str(recipe), "task.kwargs.mask_ratio=0.5", "--out", str(run), "--no-progress"])
    assert done.value.code == 0

    summary = json.loads((run / "metrics.json").read_text())
    assert summary["task"] == "masked_reconstruction" and math.isfinite(summary["best"]["mse"])
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert any(k.startswith("encoder.slow_layers.") for k in state)
    assert any(k.startswith("encoder.fast_layers.") for k in state)
    assert not any(k.startswith("encoder.fc.") for k in state)  # built without a classifier
    # The decoder reads both pathways (256 Slow + 32 Fast channels) per cell of 2 x 1 x 1, and writes each
    # cell's 4 x 32 x 32 tubelet of pixels.
    assert state["decoder.0.weight"].shape[:2] == (288, 288)
    assert state["decoder.2.weight"].shape[0] == 3 * 4 * 32 * 32


# -- tube masking ----------------------------------------------------------------------------------------------------
class _Recorder(nn.Module):
    """Stands in for the masked model: records each mask it is given and returns the clips unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.masks: list[torch.Tensor] = []

    def forward(self, clips: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.masks.append(mask)
        return clips


def _masked_task(masking: str | None, ratio: float = 0.75) -> MaskedReconstruction:
    """The task on 16 x 32 x 32 clips with a tiny simple3d encoder: 4 x 8 x 8 cells of 4 x 4 x 4 pixels."""
    overrides = [
        "task=masked_reconstruction",
        f"task.kwargs.mask_ratio={ratio}",
        "data.clip_len=16",
        "data.short_side=32",
        "data.crop_size=32",
        "model.kwargs={widths: [8, 16]}",
    ]
    if masking is not None:
        overrides.append(f"task.kwargs.masking={masking}")
    task = build_task(load_config(None, overrides))
    task.build_model()
    assert task.cells == (4, 8, 8) and task.tubelet == (4, 4, 4)
    return task


def _batch(size: int) -> dict:
    return {"video": torch.zeros(size, 3, 16, 32, 32), "meta": [{"index": i} for i in range(size)]}


@pytest.mark.parametrize("ratio", [0.75, 0.9])
def test_tube_masking_hides_the_same_positions_at_every_time_step(ratio: float) -> None:
    """`masking: tube`: one H' x W' mask per clip, repeated along T' (VideoMAE), hiding round(ratio * H'W') cells
    per step; clips draw different tubes; validation draws the same tubes every time."""
    task = _masked_task("tube", ratio)
    recorder = _Recorder()
    task.training_step(recorder, _batch(6), np.random.default_rng(0))
    task.validation_step(recorder, _batch(6))
    task.validation_step(recorder, _batch(6))
    train_mask, val_mask, val_again = recorder.masks
    for mask in (train_mask, val_mask):
        assert mask.shape == (6, 4, 8, 8) and mask.dtype == torch.bool
        assert torch.equal(mask, mask[:, :1].expand_as(mask))  # constant along time
        assert mask.sum((2, 3)).eq(round(ratio * 64)).all()  # per clip and step
        assert len({tuple(m[0].flatten().tolist()) for m in mask}) == 6  # each clip its own tubes
    assert torch.equal(val_mask, val_again)


def test_cell_masking_is_the_default_and_unchanged() -> None:
    """`masking: cell` (the default): each clip hides the first round(ratio * T'H'W') cells of one permutation
    of all cells drawn from the step's generator, as before tubes existed; the hidden cells differ from step to
    step of time."""
    for masking in (None, "cell"):
        task = _masked_task(masking)
        recorder = _Recorder()
        task.training_step(recorder, _batch(3), np.random.default_rng(7))
        rng = np.random.default_rng(7)
        expected = torch.zeros(3, 4 * 8 * 8, dtype=torch.bool)
        for row in expected:
            row[torch.from_numpy(rng.permutation(4 * 8 * 8))[:192]] = True
        assert torch.equal(recorder.masks[0], expected.reshape(3, 4, 8, 8))
        assert not torch.equal(recorder.masks[0], recorder.masks[0][:, :1].expand(-1, 4, -1, -1))


def test_masking_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="task.kwargs.masking must be 'cell' or 'tube', got 'tubes'"):
        _masked_task("tubes")
    # 0.995 of the 64 positions of a step leaves none visible (of the 256 cells, 1 would stay visible)
    with pytest.raises(ConfigError, match="hides 64 of 64 positions of a time step"):
        _masked_task("tube", 0.995)
    _masked_task("cell", 0.995)
