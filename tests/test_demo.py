"""`vidact demo`: the main job, on the reduced ``quick`` preset (the README quotes the full default run).

The shape of the result is what the demo exists to show: on time-reversed pairs the per-frame model stays near
pair-chance while the temporal model separates the pairs; on scene-biased data one frame is enough.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vidact.cli import main
from vidact.demo import PRESETS, flicker, run_demo
from vidact.errors import ConfigError
from vidact.infer.predict import Prediction

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.mark.slow
def test_quick_demo_shows_the_gap(tmp_path):
    out = tmp_path / "demo"
    payload = run_demo(out, "quick", seed=0, real_data=SHARED, progress=False, log=lambda *_: None)
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(payload))

    temporal, scene = on_disk["temporal"], on_disk["scene"]
    # per-frame on time-reversed pairs: finds the pair, but not the direction (pair-chance is 0.5 top-1)
    assert temporal["per_frame"]["top1"] <= 0.60
    assert temporal["per_frame"]["pair_acc"] >= 0.80
    assert 0.25 <= temporal["per_frame"]["direction_acc_within_pair"] <= 0.75
    # the temporal model sees the order
    assert temporal["temporal"]["top1"] >= 0.90
    # one frame is enough when the scene gives the class away
    assert scene["per_frame"]["top1"] >= 0.90
    assert scene["temporal"]["top1"] >= 0.80
    for dataset in ("temporal", "scene"):
        for model in ("per_frame", "temporal"):
            assert 0.0 <= on_disk[dataset][model]["mean_class_acc"] <= 1.0
    about = on_disk["_about"]
    assert about["preset"] == "quick"
    assert len(about["classes"]["temporal"]) == 2 * len(PRESETS["quick"].pairs)

    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "per-frame" in html.lower()
    for name in (
        "confusion_temporal_per_frame.png",
        "confusion_temporal_temporal.png",
        "flicker/flicker.png",
    ):
        assert (out / name).stat().st_size > 1000, name

    # real video: the quick preset's two real clips through the pretrained skeleton models
    real = {Path(row["video"]).name: row for row in on_disk["real_video"]["clips"]}
    assert set(real) == set(PRESETS["quick"].real_clips) and not on_disk["real_video"]["failures"]
    assert real["S001C001P001R001A001_drink_water.avi"]["top"][0]["label"] == "drink water"
    assert real["yes.mkv"]["top"][0]["label"] == "Fist"  # ASL "yes" is a nodding fist
    assert "Real video" in html and "drink water" in html
    for row in real.values():
        assert (out / "real" / row["overlay"]).stat().st_size > 1000

    # re-running into the same folder replaces the earlier demo's output instead of refusing
    assert (out / ".vidact-demo").exists()


def test_demo_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("not the demo's")
    with pytest.raises(ConfigError, match="not empty"):
        run_demo(tmp_path, "quick", progress=False, log=lambda *_: None)
    assert (tmp_path / "precious.txt").read_text() == "not the demo's"


def test_demo_cli_bad_preset_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(tmp_path / "d"), "--preset", "huge", "--no-progress"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.strip().count("\n") == 0 and "unknown demo preset" in err
    assert "Traceback" not in err


def _prediction(frame_scores: bool) -> Prediction:
    """A per-frame model's prediction over two windows of 4 frames at 8 fps, three classes (the third one a
    distractor the flicker does not follow)."""
    frames = np.array(
        [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1],
         [0.8, 0.1, 0.1], [0.2, 0.7, 0.1]],
        dtype=np.float32,
    )  # fmt: skip
    windows = np.stack([frames[:4].mean(0), frames[4:].mean(0)])
    return Prediction(
        video="clip.mp4",
        model="per_frame_resnet18",
        classes=["raising_hand", "lowering_hand", "other"],
        windows=np.array([[0.0, 0.5], [0.5, 1.0]]),
        window_scores=windows,
        scores=windows.mean(0),
        frame_times=np.arange(8) / 8.0 if frame_scores else None,
        frame_scores=frames if frame_scores else None,
        peak_frames=4,
    )


def test_flicker_follows_the_classes_asked_for_frame_by_frame() -> None:
    prediction = _prediction(frame_scores=True)
    numbers = flicker(prediction, ["lowering_hand", "raising_hand"])
    assert numbers.per_frame and numbers.classes == ("lowering_hand", "raising_hand")
    np.testing.assert_array_equal(numbers.frame_times, np.arange(8) / 8.0)
    np.testing.assert_array_equal(numbers.frame_probs, prediction.frame_scores[:, [1, 0]])
    np.testing.assert_allclose(numbers.clip_probs, prediction.scores[[1, 0]])
    assert numbers.top == "lowering_hand"
    as_json = numbers.to_json()
    assert as_json["frame_probs"]["raising_hand"][:3] == [0.7, 0.6, 0.3]
    assert as_json["clip_probs"] == pytest.approx({"lowering_hand": 0.475, "raising_hand": 0.425}, abs=1e-3)
    assert as_json["frame_times"] == [i / 8 for i in range(8)]

    clip_model = flicker(
        _prediction(frame_scores=False), ["raising_hand"]
    )  # a clip model: one answer, no frames
    assert (
        not clip_model.per_frame
        and clip_model.frame_probs.shape == (0, 1)
        and "frame_probs" not in clip_model.to_json()
    )
    with pytest.raises(ConfigError, match="no class 'waving'"):
        flicker(prediction, ["raising_hand", "waving"])
