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

BUILTIN_ALGORITHMS: dict[str, BuiltinAlgorithm] = {"kmeans": _KMEANS}


def algorithm_for_image(image_uri: str) -> BuiltinAlgorithm | None:
    """The built-in algorithm an image URI names, or None for any other image."""
    match = _IMAGE_URI.match(image_uri.strip())
    if not match:
        return None
    return BUILTIN_ALGORITHMS.get(match.group("repository"))
