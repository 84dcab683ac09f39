"""Quality metrics the linear learner logs, and the decision-threshold search of binary classifiers.

Everything is vectorised NumPy. :func:`best_thresholds` sorts each model's scores once and reads
every metric at every possible cut from cumulative true/false positive counts, so choosing a
threshold for 32 models on 50,000 rows costs a few sorts.

Names follow the real container's log lines: ``binary_classification_accuracy``,
``binary_f_1.000`` (β printed with three decimals), ``precision``, ``recall``, ``roc_auc_score``;
``multiclass_accuracy``, ``multiclass_top_k_accuracy_3``, ``dcg``, ``macro_recall``,
``macro_precision``, ``macro_f_1.000``, ``multiclass_balanced_accuracy``, ``multiclass_log_loss``;
``mse``, ``rmse``, ``absolute_loss`` for regressors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACCURACY = "accuracy"
F_BETA = "f_beta"
PRECISION_AT_RECALL = "precision_at_target_recall"
RECALL_AT_PRECISION = "recall_at_target_precision"
LOSS_CRITERIA = ("loss_function", "cross_entropy_loss")


@dataclass(frozen=True)
class ThresholdChoice:
    thresholds: np.ndarray  # (M,) score threshold per model: predict 1 when score >= threshold
    values: np.ndarray  # (M,) the criterion at that threshold (higher is better)


def _f_beta(tp, fp, fn, beta: float):
    beta2 = beta * beta
    denominator = (1 + beta2) * tp + beta2 * fn + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (1 + beta2) * tp / np.where(denominator > 0, denominator, 1), 0.0)


def best_thresholds(labels: np.ndarray, scores: np.ndarray, criterion: str, *, beta: float = 1.0,
                    target_precision: float = 0.8, target_recall: float = 0.8) -> ThresholdChoice:
    """The threshold of each column of ``scores`` (n, M) that maximises ``criterion``.

    Criteria: ``accuracy``; ``f_beta`` (``f1`` is β = 1); ``precision_at_target_recall`` (highest
    precision among thresholds whose recall reaches the target); ``recall_at_target_precision``
    (highest recall whose precision reaches the target; predicting no positives counts as precision 1,
    so the fallback is a threshold above every score with value 0). Thresholds sit halfway between
    consecutive distinct scores; use unbounded scores (logits, not probabilities that round to 1).

    Each column is sorted once. To sort values rather than indices (several times faster), the
    scores are rounded to float32 and each row's label is stored in the lowest mantissa bit, so the
    sorted keys carry their labels; this moves a score by at most one float32 ulp.
    """
    scores = np.asarray(scores)
    if scores.ndim == 1:
        scores = scores[:, None]
    positives = (np.asarray(labels) > 0.5).astype(np.int32)
    count, models = scores.shape
    keys = np.ascontiguousarray(np.nan_to_num(scores.T, nan=0.0, posinf=3e38, neginf=-3e38), dtype=np.float32)
    bits = keys.view(np.int32)
    bits &= ~np.int32(1)
    bits |= positives[None, :]
    keys.sort(axis=1)  # ascending; a cut at k predicts rows k.. positive
    # counts as float32 are exact below 2**24 rows (num_calibration_samples is capped by the caller)
    total_positive = float(positives.sum())
    tp = np.zeros((models, count + 1), np.float32)
    np.cumsum(keys.view(np.int32) & 1, axis=1, dtype=np.float32, out=tp[:, 1:])  # positives among the k lowest
    np.subtract(np.float32(total_positive), tp, out=tp)  # true positives when rows k.. are predicted positive
    predicted = (count - np.arange(count + 1)).astype(np.float32)
    criterion = "f_beta" if criterion == "f1" else criterion
    if criterion not in (ACCURACY, F_BETA, PRECISION_AT_RECALL, RECALL_AT_PRECISION):
        raise ValueError(f"unknown threshold criterion {criterion!r}")
    options = (total_positive, count, 1.0 if beta is None else beta, target_precision, target_recall)
    value = _criterion(criterion, tp, predicted, *options)
    value[:, 1:count][keys[:, :-1] == keys[:, 1:]] = -np.inf  # no cut between equal scores
    # the last maximum: among equal values, the highest threshold (fewest positives)
    cut = count - np.argmax(value[:, ::-1], axis=1)
    columns = np.arange(models)
    best = _criterion(criterion, tp[columns, cut].astype(np.float64), predicted[cut].astype(np.float64), *options)
    lower = np.where(cut > 0, keys[columns, np.maximum(cut - 1, 0)].astype(np.float64), -np.inf)
    upper = np.where(cut < count, keys[columns, np.minimum(cut, count - 1)].astype(np.float64), np.inf)
    thresholds = np.where(np.isinf(upper), np.nextafter(lower, np.inf),
                          np.where(np.isinf(lower), upper, 0.5 * (upper + lower)))
    return ThresholdChoice(thresholds, np.maximum(best, 0.0))


def _criterion(criterion: str, tp: np.ndarray, predicted: np.ndarray, total_positive: float, count: int, beta: float,
               target_precision: float, target_recall: float) -> np.ndarray:
    """The criterion from true positives and predicted positives (arrays of one float dtype)."""
    dtype = tp.dtype.type
    with np.errstate(invalid="ignore", divide="ignore"):
        if criterion == ACCURACY:  # (tp + tn) / n with tn = negatives - (predicted - tp)
            value = 2.0 * tp - predicted
            value += dtype(count - total_positive)
            value /= dtype(count)
            return value
        if criterion == F_BETA:
            beta2 = dtype(beta * beta)
            value = (1 + beta2) * tp
            value /= (1 + beta2) * tp + beta2 * (total_positive - tp) + (predicted - tp)
            return np.where(np.isfinite(value), value, dtype(0.0))
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), dtype(1.0))
        recall = tp / dtype(total_positive) if total_positive else np.ones_like(tp)
        if criterion == PRECISION_AT_RECALL:
            return np.where(recall >= target_recall, precision, dtype(-1.0))
        return np.where(precision >= target_precision, recall, dtype(-1.0))


# --------------------------------------------------------------------------------------------
# binary classification


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied scores sharing their mean rank)."""
    positives = np.asarray(labels) > 0.5
    n_pos = int(positives.sum())
    n_neg = positives.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    ends = np.r_[starts[1:], ranked.size]
    mean_rank = (starts + ends + 1) / 2.0  # 1-based average rank of each tie group
    ranks = np.empty(ranked.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float, beta: float = 1.0) -> dict[str, float]:
    positives = np.asarray(labels) > 0.5
    predicted = np.asarray(scores) >= threshold
    tp = float(np.sum(predicted & positives))
    fp = float(np.sum(predicted & ~positives))
    fn = float(np.sum(~predicted & positives))
    count = positives.size
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "binary_classification_accuracy": float(np.mean(predicted == positives)) if count else float("nan"),
        f"binary_f_{beta:.3f}": float(_f_beta(tp, fp, fn, beta)),
        "precision": precision,
        "recall": recall,
        "roc_auc_score": roc_auc(labels, scores),
    }


# --------------------------------------------------------------------------------------------
# multiclass classification


def multiclass_metrics(labels: np.ndarray, probabilities: np.ndarray, top_k: int = 3,
                       beta: float = 1.0) -> dict[str, float]:
    """Metrics of class probabilities (n, C) against integer labels (n,)."""
    labels = np.asarray(labels).astype(np.int64)
    count, classes = probabilities.shape
    rows = np.arange(count)
    true_score = probabilities[rows, labels]
    # 0-based rank of the true class (ties count against it), for top-k accuracy and DCG
    rank = np.sum(probabilities > true_score[:, None], axis=1)
    predicted = np.argmax(probabilities, axis=1)
    confusion = np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    tp = np.diag(confusion).astype(np.float64)
    actual = confusion.sum(axis=1).astype(np.float64)
    guessed = confusion.sum(axis=0).astype(np.float64)
    precision = np.divide(tp, guessed, out=np.zeros(classes), where=guessed > 0)
    recall = np.divide(tp, actual, out=np.zeros(classes), where=actual > 0)
    f_scores = _f_beta(tp, guessed - tp, actual - tp, beta)
    present = actual > 0
    log_loss = -np.mean(np.log(np.clip(true_score.astype(np.float64), 1e-15, 1.0)))
    return {
        "multiclass_accuracy": float(np.mean(predicted == labels)),
        f"multiclass_top_k_accuracy_{top_k}": float(np.mean(rank < top_k)),
        "dcg": float(np.mean(1.0 / np.log2(rank + 2.0))),
        "macro_recall": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_precision": float(precision[present].mean()) if present.any() else float("nan"),
        f"macro_f_{beta:.3f}": float(np.asarray(f_scores)[present].mean()) if present.any() else float("nan"),
        "multiclass_balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "multiclass_log_loss": float(log_loss),
    }


# --------------------------------------------------------------------------------------------
# regression


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    error = np.asarray(predictions, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    mse = float(np.mean(error * error))
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "absolute_loss": float(np.mean(np.abs(error)))}
