"""Late fusion on real score files (../shared/data/fusion: joint and bone streams on 60 NTU-120 samples; RGB and
flow streams on 100 Kinetics-400 validation videos), checked against numpy written here; ``vidact fuse``'s labels,
sweep, plot, JSON and one-line errors; ``vidact eval --scores`` read back by ``vidact fuse``; MultiStream over
vidact's own stream models, and the safe reading of score pickles."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vidact._unpickle import safe_unpickle
from vidact.cli import main
from vidact.engine.checkpoint import atomic_save, make_checkpoint
from vidact.engine.config import Config
from vidact.errors import ConfigError, UnsafePickleError
from vidact.infer.fusion import (
    MultiStream,
    SweepPoint,
    are_probabilities,
    best_weight,
    fuse_scores,
    read_labels,
    read_scores,
    stream_names,
    sweep_weights,
)
from vidact.io.writer import write_video
from vidact.models import build_model

FUSION = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "fusion"


def test_real_joint_and_bone_scores_fuse() -> None:
    joint, labels = read_scores(FUSION / "joint.pkl")
    bone, bone_labels = read_scores(FUSION / "bone.pkl")
    assert joint.shape == bone.shape == (60, 120) and np.array_equal(labels, bone_labels)
    assert are_probabilities(joint) and are_probabilities(bone)  # mmaction2's test output: softmax scores
    right = {
        name: joint_or_bone.argmax(1) == labels for name, joint_or_bone in (("joint", joint), ("bone", bone))
    }
    fused = fuse_scores([joint, bone], normalize="none")
    right["fused"] = fused.argmax(1) == labels
    # measured on these files: joint 55/60, bone 56/60, the sum 56/60
    assert {k: int(v.sum()) for k, v in right.items()} == {"joint": 55, "bone": 56, "fused": 56}
    # the sum fixes samples the joint stream gets wrong, and keeps what both get right
    assert (right["fused"] & ~right["joint"]).any()
    assert (right["fused"] | ~(right["joint"] & right["bone"])).all()
    # weights matter: twice the joint stream follows the joint stream's mistakes
    assert int((fuse_scores([joint, bone], [2, 1], normalize="none").argmax(1) == labels).sum()) == 54


def test_fuse_scores_arithmetic_and_errors() -> None:
    a = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    b = np.array([[0.0, 3.0, 0.0], [0.0, 0.0, 5.0]])
    soft = lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(fuse_scores([a, b], [1, 2]), soft(a) + 2 * soft(b))
    np.testing.assert_allclose(fuse_scores([a, b], normalize="none"), a + b)
    with pytest.raises(ConfigError, match="one shape"):
        fuse_scores([a, b[:, :2]])
    with pytest.raises(ConfigError, match="1 fusion weights for 2"):
        fuse_scores([a, b], [1])


def test_multistream_sums_its_streams_probabilities() -> None:
    torch.manual_seed(0)
    models = {s: build_model("stgcnpp_hand", num_classes=4, stream=s).eval() for s in ("joint", "bone")}
    fused = MultiStream(models, {"joint": 2.0}).eval()
    x = torch.rand(2, 1, 10, 21, 2)
    with torch.no_grad():
        streams = fused.forward_streams(x)
        expected = 2.0 * streams["joint"].softmax(-1) + streams["bone"].softmax(-1)
        torch.testing.assert_close(fused(x), expected)
        # the bone model computes bones inside: joints moved as one (a translation) leave its logits alone
        shifted = fused.forward_streams(x + 0.25)
    torch.testing.assert_close(shifted["bone"], streams["bone"], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(shifted["joint"], streams["joint"], atol=1e-3)
    with pytest.raises(ConfigError, match="streams without a model: motion"):
        MultiStream(models, {"motion": 1.0})


def test_score_pickles_with_tensors_load_and_code_does_not_run(tmp_path) -> None:
    path = tmp_path / "scores.pkl"
    rows = [
        {"gt_label": torch.tensor([k % 3]), "pred_score": torch.softmax(torch.randn(3), 0)} for k in range(5)
    ]
    with open(path, "wb") as f:
        pickle.dump(rows, f)
    scores, labels = read_scores(path)
    assert scores.shape == (5, 3) and labels.tolist() == [0, 1, 2, 0, 1]

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pkl"
    with open(evil, "wb") as f:
        pickle.dump([{"gt_label": torch.tensor([0]), "pred_score": Payload()}], f)
    with pytest.raises(
        UnsafePickleError, match=r"evil\.pkl: not a safe pickle \(it needs (posix|os)\.system"
    ):
        safe_unpickle(evil, tensors=True)
    with pytest.raises(UnsafePickleError, match="not a safe pickle"):
        read_scores(evil)
    assert not marker.exists()


def test_vidact_fuse_cli(tmp_path, capsys) -> None:
    out = tmp_path / "fused.npy"
    with pytest.raises(SystemExit) as exit_info:
        main(["fuse", str(FUSION / "joint.pkl"), str(FUSION / "bone.pkl"), "--out", str(out)])
    assert exit_info.value.code in (0, None)
    text = capsys.readouterr().out
    assert "0.9167" in text and "0.9333" in text and np.load(out).shape == (60, 120)
    np.save(tmp_path / "small.npy", np.zeros((4, 3)))
    with pytest.raises(SystemExit) as exit_info:
        main(["fuse", str(FUSION / "joint.pkl"), str(tmp_path / "small.npy")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "one shape" in err and err.strip().count("\n") == 0


# -- vidact fuse: RGB + flow on real scores ---------------------------------------------------------------------
def _vidact(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``vidact ARGS...`` in this process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code or 0, captured.out, captured.err


def _hand_scores(name: str) -> np.ndarray:
    """[100, 400] scores of a shared score file, read with plain pickle (a list of 400-vectors; trusted data)."""
    with open(FUSION / name, "rb") as f:
        return np.stack([np.asarray(row, dtype=np.float64) for row in pickle.load(f)])


def _hand_labels() -> np.ndarray:
    """[100] labels: the last column of data_list.txt (``youtube_id frames label_index``)."""
    lines = (FUSION / "data_list.txt").read_text().splitlines()
    return np.array([int(line.split()[2]) for line in lines])


def _hand_accuracy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Top-1 and top-5 by sorting each row (these files have no tied scores)."""
    ranked = np.argsort(-scores, axis=1)[:, :5]
    return float(np.mean(ranked[:, 0] == labels)), float(np.mean((ranked == labels[:, None]).any(axis=1)))


def test_real_rgb_and_flow_fuse_as_computed_by_hand(tmp_path, capsys) -> None:
    rgb, flow, labels = _hand_scores("rgb.pkl"), _hand_scores("flow.pkl"), _hand_labels()
    assert rgb.shape == flow.shape == (100, 400) and labels.shape == (100,)
    # the hand computation quoted by the README: RGB 0.71, flow 0.68, their sum 0.79 (top-5: 0.91, 0.90, 0.94)
    hand = {"rgb": _hand_accuracy(rgb, labels), "flow": _hand_accuracy(flow, labels)}
    hand["fused"] = _hand_accuracy(rgb + flow, labels)
    assert hand == {"rgb": (0.71, 0.91), "flow": (0.68, 0.90), "fused": (0.79, 0.94)}

    out, plot, fused = tmp_path / "out.json", tmp_path / "sweep.png", tmp_path / "fused.npy"
    args = ["fuse", FUSION / "rgb.pkl", FUSION / "flow.pkl", "--gt", FUSION / "data_list.txt"]
    code, stdout, _ = _vidact(
        capsys, *args, "--coefficients", "1,1", "--sweep", "--json", out, "--plot", plot, "--out", fused
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert list(report["streams"]) == ["rgb", "flow"]  # command-line order, named by file stem
    for name in ("rgb", "flow"):
        assert (report["streams"][name]["top1"], report["streams"][name]["top5"]) == pytest.approx(hand[name])
    assert (report["fused"]["top1"], report["fused"]["top5"]) == pytest.approx(hand["fused"])
    assert report["normalize"] == "none" and report["coefficients"] == [
        1.0,
        1.0,
    ]  # probabilities: summed as is
    np.testing.assert_allclose(np.load(fused), rgb + flow, rtol=1e-6)
    for line in ("0.7100", "0.6800", "0.7900", "0.9400"):
        assert line in stdout

    # the sweep, point by point by hand; its ends are the single streams
    sweep = report["sweep"]
    assert [p["w"] for p in sweep] == pytest.approx(np.linspace(0, 1, 21))
    for point in sweep:
        w = point["w"]
        assert (point["top1"], point["top5"]) == pytest.approx(
            _hand_accuracy(w * rgb + (1 - w) * flow, labels)
        )
    assert (sweep[0]["top1"], sweep[0]["top5"]) == pytest.approx(hand["flow"])  # w = 0: flow alone
    assert (sweep[-1]["top1"], sweep[-1]["top5"]) == pytest.approx(hand["rgb"])  # w = 1: RGB alone
    best = max(p["top1"] for p in sweep)
    assert report["best"]["top1"] == best == 0.79 and report["best"]["w"] == 0.5
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.width > 600 and image.height > 300

    # --weights, the old name of --coefficients, still works and is hidden
    _, old_name, _ = _vidact(capsys, *args, "--weights", "2,1")
    _, new_name, _ = _vidact(capsys, *args, "--coefficients", "2,1")
    assert old_name == new_name and "coefficients 2, 1" in new_name
    _, help_text, _ = _vidact(capsys, "fuse", "--help")
    assert "--coefficients" in help_text and "--weights" not in help_text


def test_gt_is_the_last_column_of_a_list_or_one_int_a_line_or_npy(tmp_path, capsys) -> None:
    labels = _hand_labels()
    ids = [f"missing_{i}" for i in range(len(labels))]  # the ids need not exist
    files = {
        "two.txt": "".join(f"{v} {y}\n" for v, y in zip(ids, labels, strict=True)),
        "three.list": "".join(f"{v} 300 {y}\n" for v, y in zip(ids, labels, strict=True)) + "\n",
        "ints.txt": "".join(f"{y}\n" for y in labels),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        np.testing.assert_array_equal(read_labels(tmp_path / name), labels)
    np.save(tmp_path / "labels.npy", labels.astype(np.int32))
    np.testing.assert_array_equal(read_labels(tmp_path / "labels.npy"), labels)
    out = tmp_path / "out.json"
    code, _, _ = _vidact(
        capsys,
        "fuse",
        FUSION / "rgb.pkl",
        FUSION / "flow.pkl",
        "--gt",
        tmp_path / "labels.npy",
        "--json",
        out,
    )
    assert code == 0 and json.loads(out.read_text())["fused"] == {"top1": 0.79, "top5": 0.94}


def test_streams_named_by_stem_made_unique_and_unlabelled_files(tmp_path, capsys) -> None:
    assert stream_names(["a/rgb.pkl", "b/rgb.npz", "rgb-2.npy", "flow.pkl"]) == [
        "rgb",
        "rgb-2",
        "rgb-2-2",
        "flow",
    ]
    out = tmp_path / "out.json"
    code, stdout, _ = _vidact(
        capsys, "fuse", FUSION / "flow.pkl", FUSION / "rgb.pkl", FUSION / "rgb.pkl", "--json", out
    )
    report = json.loads(out.read_text())
    assert code == 0 and list(report["streams"]) == ["flow", "rgb", "rgb-2"] and "no labels" in stdout
    assert (
        report["fused"] == {"top1": None, "top5": None} and report["sweep"] == [] and report["labels"] is None
    )


def test_sweep_arithmetic_and_best_weight() -> None:
    a = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    b = np.array([[0.3, 0.7], [0.1, 0.9], [0.45, 0.55]])
    labels = np.array([0, 0, 1])
    points = sweep_weights(a, b, labels, points=5)
    # w * a + (1 - w) * b: sample 0 (class 0) is right from w > 1/3, sample 1 (class 0) from w > 0.8, sample 2
    # (class 1: 0.55 + 0.25 w against 0.45 - 0.25 w) always
    assert [p.w for p in points] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [p.top1 for p in points] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3, 1.0])
    assert all(p.top5 == 1.0 for p in points)  # 2 classes: the true one is always in the top 5
    plateau = [SweepPoint(0.2, 0.9, 1.0), SweepPoint(0.4, 0.9, 1.0), SweepPoint(0.7, 0.9, 1.0)]
    assert best_weight(plateau).w == 0.4  # a plateau: the w nearest 0.5
    assert best_weight([*plateau, SweepPoint(0.9, 0.9, 1.01)]).w == 0.9  # then the better top-5 first


def _bad_input(case: str, tmp: Path) -> tuple[list[Path], Path | None, Path, str]:
    """A fusion that must fail: (score files, --gt, the file the error must name, a phrase of the message)."""
    rgb, labels, gt = _hand_scores("rgb.pkl"), _hand_labels(), FUSION / "data_list.txt"
    bad = tmp / f"{case}.npy"
    if case == "rows":
        np.save(bad, rgb[:99])
        return [FUSION / "rgb.pkl", bad], gt, bad, "99 samples x 400 classes, but"
    if case == "classes":
        np.save(bad, rgb[:, :300])
        return [FUSION / "rgb.pkl", bad], gt, bad, "100 samples x 300 classes, but"
    if case == "gt_length":
        bad = bad.with_suffix(".txt")
        bad.write_text("".join(f"v 300 {y}\n" for y in labels[:-1]))
        return [FUSION / "rgb.pkl", FUSION / "flow.pkl"], bad, bad, "99 labels for the 100 samples"
    if case == "gt_not_an_int":
        bad = bad.with_suffix(".txt")
        bad.write_text("v 3\nv three\n")
        return (
            [FUSION / "rgb.pkl", FUSION / "flow.pkl"],
            bad,
            bad,
            ":2: the last column 'three' is not a class",
        )
    if case == "gt_label_too_large":
        np.save(bad, np.full(100, 400))
        return [FUSION / "rgb.pkl", FUSION / "flow.pkl"], bad, bad, "label 400 is not one of the scores' 400"
    first, second = tmp / "first.npz", tmp / "second.npz"
    classes = np.array([f"class {k}" for k in range(400)])
    np.savez(first, scores=rgb, labels=labels, classes=classes)
    if case == "labels_differ":
        np.savez(second, scores=rgb, labels=np.roll(labels, 1), classes=classes)
        return [first, second], None, second, "labels differ from"
    assert case == "classes_differ"
    np.savez(second, scores=rgb, labels=labels, classes=np.roll(classes, 1))
    return [first, second], None, second, "class 0 is 'class 399', but"


@pytest.mark.parametrize(
    "case",
    [
        "rows",
        "classes",
        "gt_length",
        "gt_not_an_int",
        "gt_label_too_large",
        "labels_differ",
        "classes_differ",
    ],
)
def test_bad_fuse_input_is_one_line_naming_the_file(case, tmp_path, capsys) -> None:
    files, gt, named, phrase = _bad_input(case, tmp_path)
    out = tmp_path / "never.json"
    code, stdout, err = _vidact(capsys, "fuse", *files, *(["--gt", gt] if gt else []), "--json", out)
    lines = err.strip().splitlines()
    assert code == 2 and stdout == "" and len(lines) == 1, err
    assert lines[0].startswith(f"error: {named}") and phrase in lines[0], err
    assert not out.exists()


def test_bad_fuse_options_are_one_line(capsys, tmp_path) -> None:
    two = [FUSION / "rgb.pkl", FUSION / "flow.pkl"]
    cases = {
        "takes exactly two score files, got 3": [*two, FUSION / "rgb.pkl", "--sweep"],
        "--coefficients: 3 values for 2 score files": [*two, "--coefficients", "1,1,1"],
        "--weights: not comma-separated numbers": [*two, "--weights", "1;1"],
        "not both": [*two, "--weights", "1,1", "--coefficients", "1,1"],
        "a weight sweep needs labels": [*two, "--sweep"],
        "normalize must be 'softmax' or 'none'": [*two, "--normalize", "log"],
    }
    for phrase, args in cases.items():
        code, stdout, err = _vidact(capsys, "fuse", *args, "--plot", tmp_path / "never.png")
        assert code == 2 and stdout == "" and err.count("\n") == 1 and phrase in err, (phrase, err)
    assert not (tmp_path / "never.png").exists()


# -- vidact eval --scores, read by vidact fuse ------------------------------------------------------------------
def test_eval_scores_npz_is_what_fuse_reads(tmp_path, capsys) -> None:
    classes = ["alpha", "beta"]
    t = np.arange(10)[:, None, None, None]
    for c, name in enumerate(classes):
        for i in range(2):
            level = (40 + 60 * c + 25 * i + 12 * t + np.zeros((10, 16, 16, 3))).clip(0, 255).astype(np.uint8)
            path = tmp_path / "data" / "test" / name / f"{name}_{i}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, level, 10.0)
    torch.manual_seed(0)
    cfg = Config()
    cfg.data.clip_len, cfg.data.stride, cfg.data.short_side, cfg.data.crop_size = 4, 2, 16, 16
    cfg.eval.num_clips, cfg.eval.num_crops = 2, 1
    kwargs = {"widths": [4, 4, 8, 8]}
    model = build_model("simple3d", num_classes=len(classes), **kwargs)
    run = tmp_path / "model.ckpt"
    atomic_save(
        make_checkpoint(
            model, model_name="simple3d", model_kwargs=kwargs, classes=classes, config=cfg.to_dict()
        ),
        run,
    )
    scores, report = (
        tmp_path / "eval.scores",
        tmp_path / "eval.json",
    )  # any name: files are told by their bytes
    code, _, err = _vidact(
        capsys,
        "eval",
        run,
        tmp_path / "data",
        "--scores",
        scores,
        "--json",
        report,
        "--per-video",
        "--precision",
        "32",
    )
    assert code == 0, err
    evaluated = json.loads(report.read_text())
    with np.load(scores, allow_pickle=False) as saved:
        assert set(saved) == {"scores", "labels", "paths", "classes", "average"}
        probs, labels, paths = saved["scores"], saved["labels"], saved["paths"]
        assert probs.shape == (4, 2) and labels.dtype == np.int64 and paths.dtype.kind == "U"
        assert saved["classes"].tolist() == classes and str(saved["average"]) == "softmax"
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # probabilities: views' softmax averaged
    videos = evaluated["videos"]
    assert paths.tolist() == [v["path"] for v in videos]
    assert (
        [classes[y] for y in labels] == [v["label"] for v in videos] == [Path(p).parent.name for p in paths]
    )
    assert probs.max(axis=1) == pytest.approx([v["top"][0]["score"] for v in videos], rel=1e-6)
    read, read_labels_ = read_scores(scores)
    np.testing.assert_allclose(read, probs)
    np.testing.assert_array_equal(read_labels_, labels)

    out = tmp_path / "fused.json"
    code, _, err = _vidact(capsys, "fuse", scores, scores, "--json", out, "--sweep")
    assert code == 0, err
    fused = json.loads(out.read_text())
    metrics = evaluated["metrics"]
    assert list(fused["streams"]) == ["eval", "eval-2"] and fused["normalize"] == "none"
    assert fused["labels"] == str(scores)  # the labels the file carries
    for result in (*fused["streams"].values(), fused["fused"], *fused["sweep"]):
        assert (result["top1"], result["top5"]) == pytest.approx((metrics["top1"], metrics["top5"]))
