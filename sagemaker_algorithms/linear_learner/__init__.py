"""SageMaker's built-in linear learner (``linear-learner`` image): several linear models trained at once.

Entry points: :func:`train` and :func:`serve` (each returns a process exit code). The estimator
itself is :class:`sagemaker_algorithms.linear_learner.estimator.LinearLearner`.
"""

from __future__ import annotations

import os
import sys

from ..common import contract

MAX_TRAINING_THREADS = 4


def train(paths: contract.ContainerPaths | None = None) -> int:
    threads = _training_threads()
    from ..common.training import run_training
    from .training import algorithm

    return run_training(algorithm(threads), paths)


def serve(paths: contract.ContainerPaths | None = None) -> int:
    from ..common.serving import run_serving
    from .model import load_model

    return run_serving(load_model, paths)


def _training_threads() -> int:
    """How many threads the training loop may use; asks for a single-threaded BLAS when it can.

    Training multiplies 1000-row mini-batches by a skinny weight matrix (d x 32 models) about a
    thousand times. Such products are too small for a threaded BLAS, whose threads spin and wait
    for each other at every call: on 2 cores shared with the emulator, a 50,000-row MNIST job took
    15-21 s with 2 OpenBLAS threads and 5-6 s with one. So, unless the environment already chose a
    BLAS thread count, the BLAS gets one thread and the estimator splits each mini-batch across its
    own worker threads instead (one per core, at most 4). The variables only work before NumPy is
    first imported, as in the ``train`` process (``python -m sagemaker_algorithms train``); when
    NumPy is already loaded (tests calling :func:`train` in-process) the loop stays on one thread.
    """
    if "numpy" in sys.modules or any(name in os.environ for name in contract.THREAD_COUNT_ENVS):
        return 1
    for name in contract.THREAD_COUNT_ENVS:
        os.environ[name] = "1"
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_TRAINING_THREADS))
