"""SageMaker's registry of built-in algorithms: which image URIs name them and which metrics they emit.

Any account, any region's ECR host and any tag (or none) of a built-in repository maps to the
algorithm, as users often copy URIs across regions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IMAGE_URI = re.compile(
    r"^(?:\d{12}\.dkr\.ecr\.[a-z0-9-]+\.[a-z0-9.]+/)?"
    r"(?P<repository>kmeans|knn|linear-learner|image-classification)(?::[\w.-]+|@sha256:[0-9a-f]+)?$"
)


@dataclass(frozen=True)
class BuiltinAlgorithm:
    name: str  # the algorithm id the container understands (SAGEMAKER_ALGORITHM)
    metric_definitions: tuple[tuple[str, str], ...]  # (MetricName, Regex) as AWS reports them

    def metric_definition_list(self) -> list[dict[str, str]]:
        return [{"Name": name, "Regex": regex} for name, regex in self.metric_definitions]


_KMEANS = BuiltinAlgorithm(
    "kmeans",
    (
        ("test:msd", r"#quality_metric: host=\S+, test msd <loss>=(\S+)"),
        ("test:ssd", r"#quality_metric: host=\S+, test ssd <loss>=(\S+)"),
        ("train:msd", r"#quality_metric: host=\S+, train msd <loss>=(\S+)"),
        ("train:progress", r"#progress_metric: host=\S+, completed (\S+) %"),
        ("train:throughput", r"#throughput_metric: host=\S+, train throughput=(\S+) records/second"),
    ),
)

_KNN = BuiltinAlgorithm(
    "knn",
    (
        ("test:accuracy", r"#quality_metric: host=\S+, test accuracy <score>=(\S+)"),
        ("test:mse", r"#quality_metric: host=\S+, test mse <loss>=(\S+)"),
        ("train:progress", r"#progress_metric: host=\S+, completed (\S+) %"),
        ("train:throughput", r"#throughput_metric: host=\S+, train throughput=(\S+) records/second"),
    ),
)


def _linear_learner_metrics() -> tuple[tuple[str, str], ...]:
    """The MetricDefinitions SageMaker attaches to linear-learner jobs (algorithms.md §4.3)."""
    prefix = r"#quality_metric: host=\S+, "
    metrics = [
        ("train:objective_loss", prefix + r"epoch=\S+, train \S+_objective <loss>=(\S+)"),
        ("train:objective_loss:final", prefix + r"train \S+_objective <loss>=(\S+)"),
        ("validation:objective_loss", prefix + r"epoch=\S+, validation \S+_objective <loss>=(\S+)"),
        ("validation:objective_loss:final", prefix + r"validation \S+_objective <loss>=(\S+)"),
        ("test:objective_loss", prefix + r"test \S+_objective <loss>=(\S+)"),
    ]
    for channel in ("train", "validation", "test"):
        metrics += [
            (f"{channel}:mse", prefix + rf"{channel} mse <loss>=(\S+)"),
            (f"{channel}:absolute_loss", prefix + rf"{channel} absolute_loss <loss>=(\S+)"),
            (f"{channel}:rmse", prefix + rf"{channel} rmse <loss>=(\S+)"),
            (f"{channel}:binary_classification_accuracy",
             prefix + rf"{channel} binary_classification_accuracy <score>=(\S+)"),
            (f"{channel}:binary_f_beta", prefix + rf"{channel} binary_f_\S+ <score>=(\S+)"),
            (f"{channel}:precision", prefix + rf"{channel} precision <score>=(\S+)"),
            (f"{channel}:recall", prefix + rf"{channel} recall <score>=(\S+)"),
            (f"{channel}:roc_auc_score", prefix + rf"{channel} roc_auc_score <score>=(\S+)"),
        ]
    for channel in ("validation", "test"):
        metrics += [
            (f"{channel}:macro_precision", prefix + rf"{channel} macro_precision <score>=(\S+)"),
            (f"{channel}:macro_recall", prefix + rf"{channel} macro_recall <score>=(\S+)"),
            (f"{channel}:macro_f_beta", prefix + rf"{channel} macro_f_\S+ <score>=(\S+)"),
            (f"{channel}:dcg", prefix + rf"{channel} dcg <score>=(\S+)"),
            (f"{channel}:multiclass_accuracy", prefix + rf"{channel} multiclass_accuracy <score>=(\S+)"),
            (f"{channel}:multiclass_top_k_accuracy",
             prefix + rf"{channel} multiclass_top_k_accuracy_\S+ <score>=(\S+)"),
        ]
    metrics += [
        ("train:progress", r"#progress_metric: host=\S+, completed (\S+) %"),
        ("train:throughput", r"#throughput_metric: host=\S+, train throughput=(\S+) records/second"),
    ]
    return tuple(metrics)


_LINEAR_LEARNER = BuiltinAlgorithm("linear-learner", _linear_learner_metrics())

_IMAGE_CLASSIFICATION = BuiltinAlgorithm(
    "image-classification",
    (
        ("train:accuracy", r"Epoch\[\d+\] Train-accuracy=(\S+)"),
        ("validation:accuracy", r"Epoch\[\d+\] Validation-accuracy=(\S+)"),
        ("train:accuracy:epoch", r"Epoch\[\d+\] Train-accuracy=(\S+)"),
        ("validation:accuracy:epoch", r"Epoch\[\d+\] Validation-accuracy=(\S+)"),
    ),
)

BUILTIN_ALGORITHMS: dict[str, BuiltinAlgorithm] = {
    algorithm.name: algorithm for algorithm in (_KMEANS, _KNN, _LINEAR_LEARNER, _IMAGE_CLASSIFICATION)
}


def algorithm_for_image(image_uri: str) -> BuiltinAlgorithm | None:
    """The built-in algorithm an image URI names, or None for any other image."""
    match = _IMAGE_URI.match(image_uri.strip())
    if not match:
        return None
    return BUILTIN_ALGORITHMS.get(match.group("repository"))
