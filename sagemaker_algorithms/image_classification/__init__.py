"""SageMaker's built-in image classification (``image-classification`` image), on torch.

ResNets (:mod:`.network`) trained from MXNet image RecordIO or image lists (:mod:`.records`,
:mod:`.pipeline`), with SageMaker's hyperparameters and failure texts (:mod:`.hyperparameters`),
log lines and artifact layout (:mod:`.training`, :mod:`.artifact`), and an endpoint that
classifies JPEG/PNG images (:mod:`.model`).

Entry points: :func:`train` and :func:`serve` (each returns a process exit code). torch and Pillow
are needed (``pip install 'sagemaker-emulator[torch]'``) and are imported only when these run;
:mod:`.records`, :mod:`.hyperparameters` and :mod:`.images` need neither torch nor MXNet.
"""

from __future__ import annotations

import os

from ..common import contract

# OpenMP threads that sleep instead of spinning while they wait: on a machine with few cores shared
# with data workers (or anything else), spinning threads stall every parallel region they join.
# Set before torch loads OpenMP; a value the user set wins.
OPENMP_WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")


MISSING_DEPENDENCIES = "image classification needs torch and Pillow (pip install 'sagemaker-emulator[torch]')"


def train(paths: contract.ContainerPaths | None = None) -> int:
    from ..common.training import run_training

    os.environ.setdefault(*OPENMP_WAIT_POLICY)
    try:
        from .training import ALGORITHM
    except ImportError as error:
        return _missing_dependencies(error, paths, training=True)
    return run_training(ALGORITHM, paths)


def serve(paths: contract.ContainerPaths | None = None) -> int:
    from ..common.serving import run_serving

    os.environ.setdefault(*OPENMP_WAIT_POLICY)
    try:
        from .model import load_model
    except ImportError as error:
        return _missing_dependencies(error, paths, training=False)
    return run_serving(load_model, paths)


def _missing_dependencies(error: ImportError, paths: contract.ContainerPaths | None, training: bool) -> int:
    from ..common.logs import configure_logging

    configure_logging().error("%s: %s", MISSING_DEPENDENCIES, error)
    if training:
        contract.write_failure(paths or contract.paths_from_environment(),
                               f"AlgorithmError: {MISSING_DEPENDENCIES}: {error} (caused by {type(error).__name__})")
    return 1
