"""The backend seam: how a training host or a serving instance is started, watched and stopped.

The emulator lays out a workspace per host exactly like ``/opt/ml`` (see
``sagemaker_algorithms.common.contract``) and asks a backend to run ``train`` or ``serve`` there.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

log = logging.getLogger(__name__)

OutputCallback = Callable[[str, str], None]  # (host or instance name, one line of output)


class BackendError(Exception):
    """The backend cannot run what was asked (for example an image it cannot start)."""


@dataclass
class TrainingLaunch:
    job_name: str
    image: str
    algorithm: str | None  # built-in algorithm id, or None for a user's own image
    workspaces: dict[str, Path]  # host name (algo-1, ...) -> its /opt/ml workspace
    environment: dict[str, str] = field(default_factory=dict)
    instance_type: str | None = None  # ResourceConfig.InstanceType (the docker backend's limits)
    network_isolation: bool = False  # EnableNetworkIsolation: the containers get no network


@dataclass
class ServingLaunch:
    name: str  # unique per instance, used in logs and process titles
    image: str
    algorithm: str | None
    workspace: Path  # the instance's /opt/ml, with the model extracted into model/
    environment: dict[str, str] = field(default_factory=dict)
    instance_type: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # endpoint, variant, instance, generation


class TrainingExecution(Protocol):
    def wait(self, timeout: float | None = None) -> int | None:
        """The job's exit status (non-zero if any host failed), or None while still running."""

    def stop(self, grace_seconds: float) -> None:
        """SIGTERM every host, then SIGKILL after the grace period."""

    def process_ids(self) -> list[int]: ...


class ServingInstance(Protocol):
    url: str  # base URL answering /ping and /invocations

    def alive(self) -> bool: ...

    def stop(self, grace_seconds: float = 5.0) -> None: ...

    def process_ids(self) -> list[int]: ...


class Backend(Protocol):
    name: str

    def start_training(self, launch: TrainingLaunch, on_output: OutputCallback) -> TrainingExecution: ...

    def start_serving(self, launch: ServingLaunch, on_output: OutputCallback) -> ServingInstance: ...

    def shutdown(self) -> None: ...


class HostRun(Protocol):
    """One host of a training job, as :func:`wait_for_hosts` watches it."""

    def poll(self) -> int | None:
        """The host's exit status (every output line forwarded), or None while it runs."""

    def wait(self, timeout: float | None) -> int | None:
        """:meth:`poll` once the host has exited, or None after ``timeout``."""

    def stop(self, grace_seconds: float) -> None: ...


HOST_POLL_SECONDS = 0.05
FAILED_PEERS_GRACE_SECONDS = 5.0


def wait_for_hosts(hosts: Sequence[HostRun], timeout: float | None) -> int | None:
    """The job's exit status once it is settled, or None if it is still running after ``timeout``.

    Settled means every host exited (0 when all succeeded), or one host failed: as on SageMaker, the
    first failure ends the job, so the other hosts, which would wait for it in a collective
    operation, are stopped and the failed host's status is returned. A single host is waited on
    directly, so its exit is seen at once rather than at the next poll.
    """
    if len(hosts) == 1:
        return hosts[0].wait(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        codes = [host.poll() for host in hosts]
        failed = next((code for code in codes if code not in (None, 0)), None)
        if failed is not None:
            for host, code in zip(hosts, codes):
                if code is None:
                    host.stop(FAILED_PEERS_GRACE_SECONDS)
            return failed
        if all(code == 0 for code in codes):
            return 0
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(HOST_POLL_SECONDS if deadline is None else
                   max(0.0, min(HOST_POLL_SECONDS, deadline - time.monotonic())))


BACKENDS = ("auto", "process", "docker")


def create_backend(name: str, data_dir: Path | None = None) -> Backend:
    """``process``, ``docker``, or ``auto``: docker when an engine answers and has the built-in
    algorithms' image, else process (the reason is logged)."""
    if name == "auto":
        from sagemaker_emulator.execution.docker_backend import docker_usable

        usable, reason = docker_usable()
        log.info("backend auto: %s", reason)
        name = "docker" if usable else "process"
    if name == "process":
        from sagemaker_emulator.execution.process_backend import ProcessBackend

        return ProcessBackend()
    if name == "docker":
        from sagemaker_emulator.execution.docker_backend import DockerBackend

        return DockerBackend(data_dir or Path.cwd())
    raise ValueError(f"unknown backend {name!r} (available: {', '.join(BACKENDS)})")
