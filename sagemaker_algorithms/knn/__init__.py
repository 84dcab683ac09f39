"""SageMaker's built-in k-nearest-neighbours (``knn`` image): reservoir sampling + exact search.

Entry points: :func:`train` and :func:`serve` (each returns a process exit code). The estimator is
:class:`sagemaker_algorithms.knn.estimator.KNearestNeighbors`; the search is
:class:`sagemaker_algorithms.knn.search.ExactIndex`; the artifact format is in :mod:`.model`.
"""

from __future__ import annotations

from ..common import contract


def train(paths: contract.ContainerPaths | None = None) -> int:
    from ..common.training import run_training
    from .training import ALGORITHM

    return run_training(ALGORITHM, paths)


def serve(paths: contract.ContainerPaths | None = None) -> int:
    from ..common.serving import run_serving
    from .model import load_model

    return run_serving(load_model, paths)
