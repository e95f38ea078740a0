"""Metrics against scikit-learn on random inputs, ties included, and small cases worked by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from vidact.engine.metrics import (
    classification_metrics,
    confusion_matrix,
    mean_class_accuracy,
    per_class_accuracy,
    predictions,
    topk_accuracy,
)

K = 7


def _random_case(seed: int, *, ties: bool, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Scores from {0, 1, 2} tie all the time; continuous ones never do.
    scores = (
        rng.integers(0, 3, (n, K)).astype(np.float32) if ties else rng.normal(size=(n, K)).astype(np.float32)
    )
    labels = rng.integers(0, K, n)
    return scores, labels


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_topk_matches_sklearn(seed: int, ties: bool) -> None:
    scores, labels = _random_case(seed, ties=ties)
    ks = (1, 2, 3, 5)
    ours = topk_accuracy(torch.from_numpy(scores), torch.from_numpy(labels), ks=ks)
    for k in ks:
        expected = skm.top_k_accuracy_score(labels, scores, k=k, labels=np.arange(K))
        assert ours[k] == pytest.approx(expected, abs=1e-12), (k, ties)


def test_topk_on_probabilities_equals_logits() -> None:
    scores, labels = _random_case(0, ties=False)
    logits = torch.from_numpy(scores)
    assert topk_accuracy(logits.softmax(1), labels) == topk_accuracy(logits, labels)


def test_top1_without_ties_is_argmax_accuracy() -> None:
    scores, labels = _random_case(1, ties=False)
    assert topk_accuracy(scores, labels, ks=(1,))[1] == pytest.approx(
        skm.accuracy_score(labels, scores.argmax(1))
    )


def test_ties_rank_the_higher_index_first() -> None:
    scores = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])
    assert predictions(scores).tolist() == [1, 2]
    # Sample 0's class 0 ties with class 1 and ranks second; sample 1's class 1 ties with class 2: second too.
    assert topk_accuracy(scores, torch.tensor([0, 1]), ks=(1, 2)) == {1: 0.0, 2: 1.0}
    assert topk_accuracy(scores, torch.tensor([1, 2]), ks=(1,)) == {1: 1.0}


def test_k_at_least_num_classes_counts_all_and_empty_is_nan() -> None:
    scores, labels = _random_case(2, ties=False)
    assert topk_accuracy(scores, labels, ks=(K, K + 3)) == {K: 1.0, K + 3: 1.0}
    assert all(math.isnan(v) for v in topk_accuracy(np.zeros((0, K)), np.zeros(0, dtype=int)).values())


@pytest.mark.parametrize("seed", range(3))
def test_confusion_matrix_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    preds, labels = rng.integers(0, K, 80), rng.integers(0, K - 2, 80)  # the last two classes never true
    ours = confusion_matrix(torch.from_numpy(preds), torch.from_numpy(labels), K)
    assert ours.dtype == torch.int64
    np.testing.assert_array_equal(ours.numpy(), skm.confusion_matrix(labels, preds, labels=np.arange(K)))


def test_per_class_and_mean_class_accuracy_by_hand() -> None:
    # true 0: 3 samples, 2 right; true 1: 1 sample, wrong; true 2: none.
    cm = confusion_matrix(torch.tensor([0, 0, 1, 0]), torch.tensor([0, 0, 0, 1]), 3)
    assert cm.tolist() == [[2, 1, 0], [1, 0, 0], [0, 0, 0]]
    per_class = per_class_accuracy(cm)
    assert per_class[:2].tolist() == [pytest.approx(2 / 3), 0.0]
    assert math.isnan(per_class[2])
    assert mean_class_accuracy(cm) == pytest.approx((2 / 3 + 0.0) / 2)
    assert math.isnan(mean_class_accuracy(torch.zeros(3, 3, dtype=torch.int64)))


@pytest.mark.parametrize("seed", range(3))
def test_mean_class_accuracy_matches_balanced_accuracy(seed: int) -> None:
    scores, labels = _random_case(seed, ties=False)
    labels[labels == 3] = 4  # class 3 absent from the labels: left out of the mean, as sklearn does
    preds = predictions(scores)
    cm = confusion_matrix(preds, torch.from_numpy(labels), K)
    with pytest.warns(UserWarning):  # sklearn warns that y_pred holds a class that y_true lacks
        expected = skm.balanced_accuracy_score(labels, preds.numpy())
    assert mean_class_accuracy(cm) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_classification_metrics(ties: bool) -> None:
    scores, labels = _random_case(3, ties=ties, n=50)
    labels[labels == 6] = 0  # class 6 absent
    m = classification_metrics(torch.from_numpy(scores), torch.from_numpy(labels), K)
    preds = predictions(scores).numpy()
    cm = skm.confusion_matrix(labels, preds, labels=np.arange(K))
    assert m["num_samples"] == 50
    assert m["top1"] == pytest.approx(skm.accuracy_score(labels, preds))  # top-1 is the trace of the matrix
    assert m["top1"] == pytest.approx(skm.top_k_accuracy_score(labels, scores, k=1, labels=np.arange(K)))
    assert m["top5"] == pytest.approx(skm.top_k_accuracy_score(labels, scores, k=5, labels=np.arange(K)))
    assert m["confusion_matrix"] == cm.tolist()
    recall = skm.recall_score(labels, preds, labels=np.arange(6), average=None, zero_division=0)
    assert m["per_class_acc"][:6] == pytest.approx(recall.tolist())
    assert m["per_class_acc"][6] is None
    assert m["mean_class_acc"] == pytest.approx(float(recall.mean()))
    json.dumps(m, allow_nan=False)  # valid JSON as it is


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="expected scores"):
        topk_accuracy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match="labels must be in"):
        topk_accuracy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="columns"):
        classification_metrics(torch.zeros(2, 3), torch.tensor([0, 1]), 4)
    with pytest.raises(ValueError, match="preds must be in"):
        confusion_matrix(torch.tensor([5]), torch.tensor([0]), 3)
