"""The SageMaker container contract, shared by the emulator (which writes the workspace) and the
algorithms (which read it). Standard library only; the base directory is always passed in.

Layout under the base directory (``/opt/ml`` inside a container)::

    input/config/hyperparameters.json    {"name": "string value", ...}
    input/config/inputdataconfig.json    {"<channel>": {"ContentType": ..., "TrainingInputMode": ...,
                                                        "S3DistributionType": ..., "RecordWrapperType": ...}}
    input/config/resourceconfig.json     {"current_host": "algo-1", "hosts": ["algo-1", ...],
                                          "network_interface_name": "eth0"}
    input/data/<channel>/...             the channel's files
    model/                               training writes the model here; serving reads it
    output/failure                       why training failed (first 1024 characters become FailureReason)
    output/data/                         other outputs, packed to output.tar.gz
    checkpoints/                         (optional) checkpoint directory

Processes are started as ``train`` or ``serve``. Serving listens on ``SAGEMAKER_BIND_TO_PORT``
(8080 by default) and answers ``GET /ping`` and ``POST /invocations``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

DEFAULT_BASE_DIR = "/opt/ml"
BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"  # where the layout lives (the process backend points it at a workspace)
ALGORITHM_ENV = "SAGEMAKER_ALGORITHM"  # which built-in algorithm an image or process runs (kmeans, knn, ...)
BIND_PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
# The thread counts of the numeric libraries (OpenMP, OpenBLAS, MKL); they only work when set before
# those libraries load (the process backend sets them for hosts that share a machine).
THREAD_COUNT_ENVS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_SERVING_PORT = 8080
FAILURE_REASON_LIMIT = 1024  # SageMaker keeps this many characters of the failure file


@dataclass(frozen=True)
class ContainerPaths:
    """Every path of the contract, relative to one base directory."""

    base: Path

    @property
    def config_dir(self) -> Path:
        return self.base / "input" / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        return self.config_dir / "inputdataconfig.json"

    @property
    def resource_config_file(self) -> Path:
        return self.config_dir / "resourceconfig.json"

    @property
    def data_dir(self) -> Path:
        return self.base / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def checkpoint_dir(self) -> Path:
        return self.base / "checkpoints"

    def create(self) -> None:
        for directory in (self.config_dir, self.data_dir, self.model_dir, self.output_data_dir):
            directory.mkdir(parents=True, exist_ok=True)


def paths_from_environment(environ: Mapping[str, str] | None = None) -> ContainerPaths:
    environ = os.environ if environ is None else environ
    return ContainerPaths(Path(environ.get(BASE_DIR_ENV, DEFAULT_BASE_DIR)))


def serving_port(environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    return int(environ.get(BIND_PORT_ENV, DEFAULT_SERVING_PORT))


def host_names(instance_count: int) -> list[str]:
    return [f"algo-{i}" for i in range(1, instance_count + 1)]


def resource_config(current_host: str, hosts: list[str]) -> dict[str, Any]:
    return {"current_host": current_host, "hosts": list(hosts), "network_interface_name": "eth0"}


def write_training_config(
    paths: ContainerPaths,
    hyperparameters: Mapping[str, str],
    input_data_config: Mapping[str, Mapping[str, Any]],
    resources: Mapping[str, Any],
) -> None:
    paths.create()
    _write_json(paths.hyperparameters_file, dict(hyperparameters))
    _write_json(paths.input_data_config_file, dict(input_data_config))
    _write_json(paths.resource_config_file, dict(resources))


def read_hyperparameters(paths: ContainerPaths) -> dict[str, str]:
    return _read_json(paths.hyperparameters_file, {})


def read_input_data_config(paths: ContainerPaths) -> dict[str, dict[str, Any]]:
    return _read_json(paths.input_data_config_file, {})


def read_resource_config(paths: ContainerPaths) -> dict[str, Any]:
    return _read_json(paths.resource_config_file, resource_config("algo-1", ["algo-1"]))


MODEL_FILE_PREFIX = "model_"  # built-ins write model/model_<host>, e.g. model_algo-1


def model_file_name(host: str) -> str:
    return f"{MODEL_FILE_PREFIX}{host}"


def find_model_file(model_dir: Path, primary_host: str = "algo-1") -> Path | None:
    """The model file a built-in algorithm serves: ``model_<primary_host>``, else the first ``model_algo-*``."""
    primary = model_dir / model_file_name(primary_host)
    if primary.is_file():
        return primary
    candidates = sorted(p for p in model_dir.glob(f"{MODEL_FILE_PREFIX}algo-*") if p.is_file())
    return candidates[0] if candidates else None


def write_failure(paths: ContainerPaths, reason: str) -> None:
    """Record why training failed; the first failure written wins, as in SageMaker's toolkits."""
    paths.output_dir.mkdir(parents=True, exist_ok=True)
    if not paths.failure_file.exists():
        paths.failure_file.write_text(reason, encoding="utf-8")


def read_failure(paths: ContainerPaths) -> str | None:
    try:
        text = paths.failure_file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    return text[:FAILURE_REASON_LIMIT].strip() or None


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
