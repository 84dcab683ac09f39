"""Linear learner metrics against scikit-learn, and the threshold search against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from sagemaker_algorithms.linear_learner.metrics import (best_thresholds, binary_metrics, multiclass_metrics,
                                                         regression_metrics, roc_auc)


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(3)
    labels = (rng.random(600) < 0.3).astype(np.float32)
    scores = rng.normal(size=(600, 5)) + 1.5 * labels[:, None] * np.arange(1, 6)
    scores[:40, 2] = np.round(scores[:40, 2])  # ties
    return labels, scores


def brute_force(labels, column, criterion, beta=1.0, target_precision=0.8, target_recall=0.8):
    best = -np.inf
    for threshold in np.r_[np.unique(column), np.inf]:
        predicted = column >= threshold
        tp = np.sum(predicted & (labels > 0.5))
        fp = np.sum(predicted & (labels < 0.5))
        fn = np.sum(~predicted & (labels > 0.5))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn)
        if criterion == "accuracy":
            value = np.mean(predicted == (labels > 0.5))
        elif criterion == "f_beta":
            value = (1 + beta**2) * tp / ((1 + beta**2) * tp + beta**2 * fn + fp) if tp else 0.0
        elif criterion == "precision_at_target_recall":
            value = precision if recall >= target_recall else -1
        else:
            value = recall if precision >= target_precision else -1
        best = max(best, value)
    return best


@pytest.mark.parametrize("criterion, options", [
    ("accuracy", {}), ("f_beta", {"beta": 1.0}), ("f_beta", {"beta": 0.5}),
    ("precision_at_target_recall", {"target_recall": 0.9}), ("recall_at_target_precision", {"target_precision": 0.95}),
])
def test_threshold_search_matches_brute_force(scored, criterion, options):
    labels, scores = scored
    choice = best_thresholds(labels, scores, criterion, **options)
    for column in range(scores.shape[1]):
        expected = brute_force(labels, scores[:, column], criterion, **options)
        assert choice.values[column] == pytest.approx(max(expected, 0.0), abs=1e-9)
        # the threshold really achieves the value on the data
        predicted = scores[:, column] >= choice.thresholds[column]
        if criterion == "accuracy":
            assert np.mean(predicted == (labels > 0.5)) == pytest.approx(choice.values[column])
        elif criterion == "f_beta":
            assert sk.fbeta_score(labels, predicted, beta=options["beta"]) == pytest.approx(choice.values[column])


def test_f1_is_f_beta_one(scored):
    labels, scores = scored
    f1, f_beta = best_thresholds(labels, scores, "f1"), best_thresholds(labels, scores, "f_beta")
    assert np.array_equal(f1.values, f_beta.values)


def test_thresholds_sit_between_scores():
    labels = np.array([0, 0, 1, 1], np.float32)
    choice = best_thresholds(labels, np.array([[-2.0], [-1.0], [1.0], [3.0]]), "accuracy")
    assert choice.values[0] == 1.0 and choice.thresholds[0] == pytest.approx(0.0, abs=1e-6)
    everything = best_thresholds(np.ones(3), np.array([[0.1], [0.2], [0.3]]), "accuracy")
    assert everything.values[0] == 1.0 and everything.thresholds[0] <= 0.1 + 1e-6


def test_unreachable_precision_predicts_nothing():
    labels = np.array([0, 1, 0, 1], np.float32)
    choice = best_thresholds(labels, np.array([[4.0], [3.0], [2.0], [1.0]]), "recall_at_target_precision",
                             target_precision=0.99)
    assert choice.values[0] == 0.0 and choice.thresholds[0] > 4.0


def test_binary_metrics_match_scikit_learn(scored):
    labels, scores = scored
    column = scores[:, 1]
    values = binary_metrics(labels, column, 1.0, beta=2.0)
    predicted = column >= 1.0
    assert values["binary_classification_accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted))
    assert values["binary_f_2.000"] == pytest.approx(sk.fbeta_score(labels, predicted, beta=2.0))
    assert values["precision"] == pytest.approx(sk.precision_score(labels, predicted))
    assert values["recall"] == pytest.approx(sk.recall_score(labels, predicted))
    assert values["roc_auc_score"] == pytest.approx(sk.roc_auc_score(labels, column))
    assert roc_auc(labels, scores[:, 2]) == pytest.approx(sk.roc_auc_score(labels, scores[:, 2]))  # with ties
    assert np.isnan(roc_auc(np.ones(3), np.arange(3)))


def test_multiclass_metrics_match_scikit_learn():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, 500)
    logits = rng.normal(size=(500, 4)) + 2.0 * np.eye(4)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    values = multiclass_metrics(labels, probabilities, top_k=2, beta=1.0)
    assert values["multiclass_accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted))
    assert values["multiclass_top_k_accuracy_2"] == pytest.approx(sk.top_k_accuracy_score(labels, probabilities, k=2))
    assert values["macro_recall"] == pytest.approx(sk.recall_score(labels, predicted, average="macro"))
    assert values["macro_precision"] == pytest.approx(sk.precision_score(labels, predicted, average="macro"))
    assert values["macro_f_1.000"] == pytest.approx(sk.f1_score(labels, predicted, average="macro"))
    assert values["multiclass_balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(labels, predicted))
    assert values["multiclass_log_loss"] == pytest.approx(sk.log_loss(labels, probabilities))
    rank = (probabilities > probabilities[np.arange(500), labels][:, None]).sum(axis=1)
    assert values["dcg"] == pytest.approx(np.mean(1 / np.log2(rank + 2)))
    assert list(values) == ["multiclass_accuracy", "multiclass_top_k_accuracy_2", "dcg", "macro_recall",
                            "macro_precision", "macro_f_1.000", "multiclass_balanced_accuracy", "multiclass_log_loss"]


def test_regression_metrics():
    values = regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0]))
    assert values == {"mse": pytest.approx(5 / 3), "rmse": pytest.approx(np.sqrt(5 / 3)),
                      "absolute_loss": pytest.approx(1.0)}
