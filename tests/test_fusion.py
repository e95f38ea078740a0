"""Late fusion of skeleton streams on real score files (../shared/data/fusion: joint and bone streams on 60 NTU-120
samples), MultiStream over vidact's own stream models, and the safe reading of score pickles."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from vidact._unpickle import safe_unpickle
from vidact.cli import main
from vidact.errors import ConfigError, UnsafePickleError
from vidact.infer.fusion import MultiStream, are_probabilities, fuse_scores, read_scores
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
