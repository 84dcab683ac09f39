"""Which module implements each built-in algorithm.

Names are the ECR repository names the emulator maps images to (``kmeans``, ``knn``,
``linear-learner``, ``image-classification``); underscores and case are tolerated. Each module
exposes ``train(paths) -> int`` and ``serve(paths) -> int``. Add a line here when an algorithm lands.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ALGORITHMS: dict[str, str] = {
    "kmeans": "sagemaker_algorithms.kmeans",
    "knn": "sagemaker_algorithms.knn",
    "linear-learner": "sagemaker_algorithms.linear_learner",
    "image-classification": "sagemaker_algorithms.image_classification",
}


def canonical_name(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def available() -> list[str]:
    return sorted(ALGORITHMS)


def load(name: str) -> ModuleType:
    """The algorithm's module; ``KeyError`` with the known names when there is none."""
    key = canonical_name(name)
    if key not in ALGORITHMS:
        raise KeyError(f"Unknown algorithm {name!r}; known algorithms: {', '.join(available())}")
    return importlib.import_module(ALGORITHMS[key])
