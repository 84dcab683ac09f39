"""Helpers for the built-in algorithm tests: container workspaces and entry-point processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from sagemaker_algorithms.common import contract

REPO_ROOT = Path(__file__).resolve().parents[3]


def make_job(base: Path, hyperparameters: dict, channels: dict[str, dict[str, bytes]],
             content_types: dict[str, str] | None = None, hosts: list[str] | None = None) -> contract.ContainerPaths:
    """Lay out a training workspace: ``channels`` maps channel -> {relative file name: bytes}."""
    paths = contract.ContainerPaths(base)
    data_config = {}
    for name in channels:
        entry = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
        if content_types and name in content_types:
            entry["ContentType"] = content_types[name]
        data_config[name] = entry
    hosts = hosts or ["algo-1"]
    contract.write_training_config(paths, hyperparameters, data_config, contract.resource_config(hosts[0], hosts))
    for name, files in channels.items():
        directory = paths.channel_dir(name)
        directory.mkdir(parents=True, exist_ok=True)
        for relative, data in files.items():
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return paths


def run_entrypoint(command: str, base: Path, algorithm: str = "kmeans", timeout: float = 120,
                   extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), SAGEMAKER_ALGORITHM=algorithm,
               PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "sagemaker_algorithms", command], env=env, cwd=str(REPO_ROOT),
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
