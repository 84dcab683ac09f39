"""The embedded default backend: each host or serving instance is a child process of the emulator
running ``python -m sagemaker_algorithms train|serve`` in its own workspace.

Children die with the emulator: they get PR_SET_PDEATHSIG on Linux, and are spawned from one
long-lived thread (the signal follows the thread that forked). Each child leads its own process
group so that stopping it stops whatever it started.

A training job with ``InstanceCount`` N runs N children, one per host, which join through
``torch.distributed`` on the loopback interface (``MASTER_ADDR=127.0.0.1`` and a free
``MASTER_PORT``); the CPU threads of BLAS/OpenMP are split between them. Without torch installed,
one child (``algo-1``) trains alone on every shard (``runs_every_host`` is False) and the other hosts
say so in their log streams.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from sagemaker_algorithms.common import contract, distributed
from sagemaker_emulator.execution.backends import (
    BackendError,
    OutputCallback,
    ServingLaunch,
    TrainingLaunch,
    wait_for_hosts,
)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChildProcess:
    """One child with a thread that forwards its output line by line."""

    def __init__(self, process: subprocess.Popen, label: str, on_output: OutputCallback) -> None:
        self.process = process
        self.label = label
        self._reader = threading.Thread(
            target=self._forward, args=(process.stdout, on_output), name=f"output-{label}", daemon=True
        )
        self._reader.start()

    def _forward(self, stream: IO[bytes], on_output: OutputCallback) -> None:
        for raw in iter(stream.readline, b""):
            try:
                on_output(self.label, raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            except Exception:  # a failing sink must not stop draining the pipe
                pass
        stream.close()

    def wait(self, timeout: float | None) -> int | None:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(5)  # every line is forwarded before the exit status is reported
        return code

    def poll(self) -> int | None:
        if self.process.poll() is None:
            return None
        return self.wait(None)

    def stop(self, grace_seconds: float) -> None:
        if self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()
        self._reader.join(5)

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


class ProcessTraining:
    def __init__(self, children: list[ChildProcess]) -> None:
        self.children = children

    def wait(self, timeout: float | None = None) -> int | None:
        return wait_for_hosts(self.children, timeout)

    def stop(self, grace_seconds: float) -> None:
        for child in self.children:
            child.stop(grace_seconds)

    def process_ids(self) -> list[int]:
        return [child.process.pid for child in self.children]


class ProcessServing:
    def __init__(self, child: ChildProcess, url: str) -> None:
        self.child = child
        self.url = url

    def alive(self) -> bool:
        return self.child.process.poll() is None

    def stop(self, grace_seconds: float = 5.0) -> None:
        self.child.stop(grace_seconds)

    def process_ids(self) -> list[int]:
        return [self.child.process.pid]


class ProcessBackend:
    name = "process"

    def __init__(self, cpus: int | None = None) -> None:
        # Children are forked from this one thread, which lives as long as the backend.
        self._spawner = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")
        self.cpus = cpus or os.cpu_count() or 1
        # The built-ins' hosts cooperate through torch.distributed, an optional dependency.
        self.runs_every_host = importlib.util.find_spec("torch") is not None

    def start_training(self, launch: TrainingLaunch, on_output: OutputCallback) -> ProcessTraining:
        algorithm = self._require_builtin(launch.image, launch.algorithm)
        hosts = sorted(launch.workspaces)
        first = hosts[0]
        extra = dict(launch.environment)
        if len(hosts) > 1 and not self.runs_every_host:
            extra[distributed.SINGLE_WORKER_ENV] = "1"
            for idle in hosts[1:]:
                on_output(idle, f"{idle}: torch is not installed, so the process backend runs a single worker "
                                f"({first}) that reads every shard; this host takes no part in the job "
                                "(pip install 'sagemaker-emulator[torch]' for cooperating hosts).")
            hosts = [first]
        elif len(hosts) > 1:
            extra.setdefault(distributed.MASTER_ADDR_ENV, "127.0.0.1")
            extra.setdefault(distributed.MASTER_PORT_ENV, str(free_port()))
            threads = str(max(1, self.cpus // len(hosts)))  # each host gets its share of the CPUs
            for variable in contract.THREAD_COUNT_ENVS:
                extra.setdefault(variable, threads)
        children = []
        try:
            for host in hosts:
                environment = self._environment(launch.workspaces[host], algorithm, extra)
                children.append(self._spawn(["train"], environment, launch.workspaces[host], host, on_output))
        except BaseException:
            for child in children:
                child.stop(0)
            raise
        return ProcessTraining(children)

    def start_serving(self, launch: ServingLaunch, on_output: OutputCallback) -> ProcessServing:
        algorithm = self._require_builtin(launch.image, launch.algorithm)
        port = free_port()
        environment = self._environment(launch.workspace, algorithm, launch.environment)
        environment[contract.BIND_PORT_ENV] = str(port)
        child = self._spawn(["serve"], environment, launch.workspace, launch.name, on_output)
        return ProcessServing(child, f"http://127.0.0.1:{port}")

    def shutdown(self) -> None:
        self._spawner.shutdown(wait=False)

    @staticmethod
    def _require_builtin(image: str, algorithm: str | None) -> str:
        if algorithm is None:
            raise BackendError(
                f"The image {image} is not one of SageMaker's built-in algorithms; the process backend "
                f"runs only the built-in algorithms (kmeans). Users' own images need the docker backend."
            )
        return algorithm

    @staticmethod
    def _environment(workspace: Path, algorithm: str, extra: dict[str, str]) -> dict[str, str]:
        environment = dict(os.environ)
        environment.update(extra)
        environment.update(
            {
                contract.BASE_DIR_ENV: str(workspace),
                contract.ALGORITHM_ENV: algorithm,
                "PYTHONUNBUFFERED": "1",
            }
        )
        return environment

    def _spawn(
        self, arguments: list[str], environment: dict[str, str], cwd: Path, label: str, on_output: OutputCallback
    ) -> ChildProcess:
        command = [sys.executable, "-m", "sagemaker_algorithms", *arguments]

        def spawn() -> subprocess.Popen:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )

        process = self._spawner.submit(spawn).result()
        return ChildProcess(process, label, on_output)


def kill_stray_process(pid: int, marker: str) -> bool:
    """Kill a child left by an earlier emulator run, if ``pid`` still is that child (its environment
    names ``marker``, its workspace). Returns True when something was killed."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    if marker.encode() not in environ:
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, signal.SIGKILL)
    return True
