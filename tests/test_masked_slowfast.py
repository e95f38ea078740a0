"""Masked pre-training of a two-pathway model: ``vidact train`` with ``task: masked_reconstruction`` and SlowFast,
whose features are a ``[slow, fast]`` pair (layout ``pathways``) and which is built without a classifier
(``num_classes=0``). The decoder reads both pathways, fused onto the Slow time axis."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from vidact.cli import main
from vidact.data.synth import synthesize
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
