"""Helpers for the built-in algorithm tests: container workspaces and entry-point processes."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sagemaker_algorithms.common import contract
from sagemaker_algorithms.common.distributed import SINGLE_WORKER_ENV

REPO_ROOT = Path(__file__).resolve().parents[3]


def make_job(base: Path, hyperparameters: dict, channels: dict[str, dict[str, bytes]],
             content_types: dict[str, str] | None = None, hosts: list[str] | None = None,
             current_host: str | None = None, distribution: str = "FullyReplicated") -> contract.ContainerPaths:
    """Lay out a training workspace: ``channels`` maps channel -> {relative file name: bytes}."""
    paths = contract.ContainerPaths(base)
    data_config = {}
    for name in channels:
        entry = {"TrainingInputMode": "File", "S3DistributionType": distribution, "RecordWrapperType": "None"}
        if content_types and name in content_types:
            entry["ContentType"] = content_types[name]
        data_config[name] = entry
    hosts = hosts or ["algo-1"]
    contract.write_training_config(paths, hyperparameters, data_config,
                                   contract.resource_config(current_host or hosts[0], hosts))
    for name, files in channels.items():
        directory = paths.channel_dir(name)
        directory.mkdir(parents=True, exist_ok=True)
        for relative, data in files.items():
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return paths


def algorithm_env(base: Path, algorithm: str) -> dict[str, str]:
    """This process's environment for ``python -m sagemaker_algorithms`` on the workspace ``base``."""
    return dict(os.environ, SAGEMAKER_BASE_DIR=str(base), SAGEMAKER_ALGORITHM=algorithm,
                PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def run_entrypoint(command: str, base: Path, algorithm: str = "kmeans", timeout: float = 120,
                   extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**algorithm_env(base, algorithm), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "sagemaker_algorithms", command], env=env, cwd=str(REPO_ROOT),
                          capture_output=True, text=True, timeout=timeout)


def run_hosts(workspaces: dict[str, Path], algorithm: str, timeout: float = 180, extra_env: dict | None = None,
              arguments: Callable[[str], list[str]] | None = None) -> dict[str, subprocess.CompletedProcess]:
    """Run ``train`` for every host of a multi-host job at once (one process per host, joined through
    torch.distributed on the loopback interface, as the process backend runs them). ``arguments(host)``
    replaces ``-m sagemaker_algorithms train`` after the interpreter."""
    port = free_port()
    processes = {}
    for host, base in workspaces.items():
        env = {**algorithm_env(base, algorithm), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "OMP_NUM_THREADS": "1"}
        env.pop(SINGLE_WORKER_ENV, None)
        env.update(extra_env or {})
        argv = arguments(host) if arguments is not None else ["-m", "sagemaker_algorithms", "train"]
        processes[host] = subprocess.Popen([sys.executable, *argv], env=env, cwd=str(REPO_ROOT),
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    results = {}
    try:
        for host, process in processes.items():
            output, _ = process.communicate(timeout=max(deadline - time.monotonic(), 1))
            results[host] = subprocess.CompletedProcess(process.args, process.returncode, output, "")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def sdk_record_round_trip(model, rows) -> list:
    """``rows`` through the SageMaker SDK's RecordSerializer, the model's ``invoke`` and the SDK's
    RecordDeserializer, as a predictor with those (de)serializers sends and reads them."""
    import io

    from sagemaker.deserializers import RecordDeserializer
    from sagemaker.serializers import RecordSerializer

    from sagemaker_algorithms.common.inference import invoke

    request = RecordSerializer().serialize(rows).read()
    _, kind, body = invoke(model, request, "application/x-recordio-protobuf", "application/x-recordio-protobuf")
    return RecordDeserializer().deserialize(io.BytesIO(body), kind)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServedModel:
    """A running ``serve`` entry point: ``connection`` is a keep-alive connection that got a 200 from
    ``/ping``; ``output`` and ``returncode`` are set once the server has been stopped with SIGTERM."""

    def __init__(self, process: subprocess.Popen, connection: http.client.HTTPConnection) -> None:
        self.process = process
        self.connection = connection
        self.output = ""
        self.returncode: int | None = None


@contextmanager
def serving(base: Path, algorithm: str, start_timeout: float = 30, stop_timeout: float = 10) -> Iterator[ServedModel]:
    """Run ``python -m sagemaker_algorithms serve`` on the workspace ``base`` until the block ends."""
    port = free_port()
    env = {**algorithm_env(base, algorithm), "SAGEMAKER_BIND_TO_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "sagemaker_algorithms", "serve"], env=env, cwd=str(REPO_ROOT),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = None
    try:
        deadline = time.monotonic() + start_timeout
        while served is None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/ping")
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    served = ServedModel(process, connection)
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                output = process.stdout.read() if process.poll() is not None else ""
                raise AssertionError(f"server did not start: {output}")
            time.sleep(0.05)
        yield served
        served.connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=stop_timeout)
        if served is not None:
            served.output, served.returncode = output, process.returncode
