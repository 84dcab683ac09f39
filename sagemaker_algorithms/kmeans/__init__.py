"""SageMaker's built-in k-means (``kmeans`` image): web-scale mini-batch k-means.

Entry points: :func:`train` and :func:`serve` (each returns a process exit code). The estimator
itself is :class:`sagemaker_algorithms.kmeans.estimator.WebScaleKMeans`.
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
