"""The docker backend: every training host and every endpoint instance is a container.

It follows SageMaker's container contract: the host's workspace is mounted at ``/opt/ml`` and the
image runs ``train`` or ``serve`` (as ``docker run <image> train``). The built-in algorithms run in
the emulator's own images (:mod:`.images`, built by ``containers/build.py``) with
``SAGEMAKER_ALGORITHM`` set; any other image URI is a user's own image, taken from the local engine
(pulled only when a registry answers).

Training: one container per host, named after the host (``algo-1`` .. ``algo-N``, resolvable on a
bridge network of the job's own), with the CPU and memory of its instance type (capped by the
host's) and its GPUs when the host has some. The built-ins' hosts join through ``torch.distributed``
at ``algo-1:7777``, so a multi-host job of a NumPy algorithm runs in the torch image, which carries
the same algorithms. EnableNetworkIsolation: ``--network none`` for one host; for several, an
``internal`` network, which lets the hosts reach each other and nothing else.

Serving: one container per instance, port 8080 published on 127.0.0.1 at a port the engine picks.

Every container and network carries labels naming the emulator's data directory, its role and its
job or endpoint, and is removed by its id when its job or endpoint ends or the emulator stops.
After a crash, the next emulator on the same data directory adopts the endpoint containers that
still serve the configuration on record (:meth:`DockerBackend.adopt_serving`) and removes every
other container it finds (:meth:`DockerBackend.remove_strays`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sagemaker_algorithms.common import contract
from sagemaker_emulator.execution import images
from sagemaker_emulator.execution.backends import (
    BackendError,
    OutputCallback,
    ServingLaunch,
    TrainingLaunch,
    wait_for_hosts,
)
from sagemaker_emulator.execution.instance_types import InstanceType, instance_type

log = logging.getLogger(__name__)

LABEL = "org.sagemaker-emulator."
DATA_DIR_LABEL = LABEL + "data-dir"
ROLE_LABEL = LABEL + "role"  # training | serving | network
JOB_LABEL = LABEL + "training-job"
HOST_LABEL = LABEL + "host"
CONTAINER_PORT = f"{contract.DEFAULT_SERVING_PORT}/tcp"
ENGINE_TIMEOUT_SECONDS = 60
PULL_TIMEOUT_SECONDS = 120


def docker_client(timeout: int = ENGINE_TIMEOUT_SECONDS):
    """A client for the engine named by ``DOCKER_HOST`` (the local socket by default)."""
    import docker

    return docker.from_env(timeout=timeout, max_pool_size=128)


def docker_usable() -> tuple[bool, str]:
    """Whether ``--backend auto`` picks docker, and why (logged at start)."""
    try:
        import docker  # noqa: F401
    except ImportError:
        return False, "the docker Python package is not installed: using the process backend"
    try:
        client = docker_client(timeout=3)
        version = client.version().get("Version", "?")
    except Exception as error:  # noqa: BLE001 - any failure means "no engine"
        return False, f"no Docker engine answers ({_first_line(error)}): using the process backend"
    try:
        client.images.get(images.NUMPY_IMAGE)
    except Exception:  # noqa: BLE001
        return False, (
            f"Docker engine {version} answers, but the built-in algorithms' image {images.NUMPY_IMAGE} is not "
            f"built ({images.build_hint(images.NUMPY_IMAGE)}): using the process backend "
            "(--backend docker runs users' own images anyway)"
        )
    finally:
        client.close()
    return True, f"Docker engine {version} answers and {images.NUMPY_IMAGE} is built: using the docker backend"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


def _name_part(value: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", value)[:63] or "x"


class ContainerHandle:
    """One container: a thread forwards its output line by line, another waits for its exit and
    then removes it (after the last line is forwarded)."""

    def __init__(self, container: Any, label: str, on_output: OutputCallback, since: float | None = None,
                 on_removed: Callable[["ContainerHandle"], None] | None = None,
                 closed: threading.Event | None = None) -> None:
        self.container = container
        self._closed = closed or threading.Event()  # the backend shut down: stop asking the engine
        self.id: str = container.id
        self.label = label
        self.exit_code: int | None = None
        self._on_output = on_output
        self._on_removed = on_removed
        self._exited = threading.Event()
        self.removed = threading.Event()
        self._removing = threading.Lock()
        self._logs = threading.Thread(target=self._forward, args=(since,), name=f"logs-{label}", daemon=True)
        self._watcher = threading.Thread(target=self._watch, name=f"wait-{label}", daemon=True)
        self._logs.start()
        self._watcher.start()

    def _emit(self, raw: bytes) -> None:
        try:
            self._on_output(self.label, raw.decode("utf-8", errors="replace").rstrip("\r"))
        except Exception:  # noqa: BLE001 - a failing sink must not stop the stream
            pass

    def _forward(self, since: float | None) -> None:
        pending = b""
        try:
            for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True, since=since):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._emit(line)
        except Exception:  # noqa: BLE001 - the container went away
            pass
        if pending:
            self._emit(pending)

    def _watch(self) -> None:
        code = 137
        while True:
            try:
                code = int(self.container.wait()["StatusCode"])
                break
            except Exception as error:  # noqa: BLE001
                if "404" in str(error) or "No such container" in str(error) or self._closed.is_set():
                    break
                time.sleep(0.5)  # the engine restarted or timed out: ask again
        self._logs.join(10)  # every line is forwarded before the exit status is reported
        self.exit_code = code
        self._exited.set()
        self.remove()

    def exited(self) -> bool:
        return self._exited.is_set()

    def poll(self) -> int | None:
        return self.exit_code if self._exited.is_set() else None

    def wait(self, timeout: float | None) -> int | None:
        return self.exit_code if self._exited.wait(timeout) else None

    def stop(self, grace_seconds: float) -> None:
        if not self._exited.is_set():
            try:
                self.container.stop(timeout=max(0, math.ceil(grace_seconds)))
            except Exception:  # noqa: BLE001 - already gone
                pass
            if not self._exited.wait(grace_seconds + 15):
                log.warning("container %s (%s) did not stop; removing it", self.label, self.id[:12])
        self.remove()

    def remove(self) -> None:
        # One removal at a time: the exit watcher and stop() both remove, and the engine answers the
        # second with "removal already in progress" while the container still exists.
        with self._removing:
            if not self.removed.is_set():
                try:
                    self.container.remove(force=True)
                except Exception:  # noqa: BLE001 - removed already
                    pass
                self.removed.set()
        if self._on_removed is not None:
            callback, self._on_removed = self._on_removed, None
            callback(self)


class DockerTraining:
    def __init__(self, containers: list[ContainerHandle], cleanup: Callable[[], None]) -> None:
        self.containers = containers
        self._cleanup = cleanup
        self._cleaned = False

    def wait(self, timeout: float | None = None) -> int | None:
        code = wait_for_hosts(self.containers, timeout)
        if code is not None and not self._cleaned:  # off the job's path: the network goes once its containers have
            self._cleaned = True
            threading.Thread(target=self._cleanup_when_removed, name="job-network-cleanup", daemon=True).start()
        return code

    def _cleanup_when_removed(self) -> None:
        for container in self.containers:
            container.removed.wait(30)
        self._cleanup()

    def stop(self, grace_seconds: float) -> None:
        threads = [threading.Thread(target=c.stop, args=(grace_seconds,), daemon=True) for c in self.containers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def process_ids(self) -> list[int]:
        return []  # containers are found again by their labels, not by process ids

    def container_ids(self) -> list[str]:
        return [container.id for container in self.containers]


class DockerServing:
    def __init__(self, handle: ContainerHandle, url: str) -> None:
        self.handle = handle
        self.url = url

    def alive(self) -> bool:
        return not self.handle.exited()

    def stop(self, grace_seconds: float = 5.0) -> None:
        self.handle.stop(grace_seconds)

    def process_ids(self) -> list[int]:
        return []

    def container_ids(self) -> list[str]:
        return [self.handle.id]


@dataclass
class AdoptedServing:
    labels: dict[str, str]  # the ServingLaunch labels it was started with (endpoint, variant, ...)
    instance: DockerServing


class DockerBackend:
    name = "docker"
    runs_every_host = True

    def __init__(self, data_dir: Path, client: Any = None) -> None:
        self.data_dir = str(Path(data_dir).resolve())
        try:
            self.client = client or docker_client()
            info = self.client.info()
        except Exception as error:  # noqa: BLE001
            raise RuntimeError(f"--backend docker: no Docker engine answers ({_first_line(error)})") from error
        self.host_cpus = int(info.get("NCPU") or os.cpu_count() or 1)
        self.host_memory = int(info.get("MemTotal") or 0)
        self.host_gpus = _host_gpus(info)
        self._check_data_dir_is_shared()
        self.prefix = "sme-" + hashlib.sha256(self.data_dir.encode()).hexdigest()[:8]
        self._source_digest = images.algorithms_source_digest()
        self._warned_images: set[str] = set()
        self._handles: dict[str, ContainerHandle] = {}
        self._networks: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._uid = os.getuid() if hasattr(os, "getuid") else 0
        log.info(
            "docker backend: engine %s, %d CPUs, %.1f GiB, %d GPU(s); containers labelled %s=%s",
            info.get("ServerVersion", "?"), self.host_cpus, self.host_memory / 1024**3, self.host_gpus,
            DATA_DIR_LABEL, self.data_dir,
        )
        for image in (images.NUMPY_IMAGE, images.TORCH_IMAGE):
            found = self._image(image)
            if found is None:
                log.warning("docker backend: image %s is missing: %s", image, images.build_hint(image))
            else:
                self._warn_if_stale(image, found)

    def _check_data_dir_is_shared(self) -> None:
        """When the emulator itself runs in a container, the engine mounts workspaces from *host*
        paths: the data directory must be mounted from the same absolute path on the host."""
        own = _own_container_id()
        if own is None:
            return
        try:
            mounts = self.client.api.inspect_container(own).get("Mounts") or []
        except Exception:  # noqa: BLE001 - not a container of this engine
            return
        data_dir = Path(self.data_dir)
        for mount in sorted(mounts, key=lambda m: len(m.get("Destination", "")), reverse=True):  # deepest first
            destination = Path(mount.get("Destination", "/nonexistent"))
            if data_dir == destination or destination in data_dir.parents:
                if mount.get("Type") == "bind" and Path(mount.get("Source", "")) == destination:
                    return
                raise RuntimeError(
                    f"--backend docker: the emulator runs in a container and its data directory {data_dir} is "
                    f"mounted from {mount.get('Source') or mount.get('Name')} on the host; the engine would mount "
                    "job and endpoint workspaces from the wrong place. Bind-mount it at the same absolute path "
                    "(-v /srv/sme:/srv/sme, as docker-compose.yml does)."
                )
        raise RuntimeError(
            f"--backend docker: the emulator runs in a container and its data directory {data_dir} is not "
            "mounted from the host; bind-mount it at the same absolute path (as docker-compose.yml does)."
        )

    # -- training ----------------------------------------------------------------------------
    def start_training(self, launch: TrainingLaunch, on_output: OutputCallback) -> DockerTraining:
        hosts = sorted(launch.workspaces)
        kind = instance_type(launch.instance_type)
        first = hosts[0]
        image, own, user = self._resolve(launch.image, launch.algorithm, kind, on_output, first,
                                         multi_host=len(hosts) > 1)
        environment = {**launch.environment, "TRAINING_JOB_NAME": launch.job_name, **own}
        labels = {ROLE_LABEL: "training", JOB_LABEL: launch.job_name}
        token = secrets.token_hex(3)
        network = None
        isolated = launch.network_isolation
        if isolated and len(hosts) == 1:
            on_output(first, f"{first}: EnableNetworkIsolation: the container runs with no network.")
        else:
            if isolated:
                on_output(first, f"{first}: EnableNetworkIsolation: the hosts reach each other and nothing else.")
            try:
                network = self._create_network(f"{self.prefix}-{_name_part(launch.job_name)}-{token}", labels,
                                               internal=isolated)
            except BackendError as error:  # e.g. the engine's address pools are used up
                if isolated:
                    raise
                log.warning("training job %s: %s; using the default bridge network", launch.job_name, error)
                network = "bridge"
        handles: list[ContainerHandle] = []

        def cleanup() -> None:
            if network not in (None, "bridge"):
                self._remove_network(network)

        try:
            for host in hosts:
                container = self._run(
                    image, ["train"], launch.workspaces[host], environment, kind, user,
                    name=f"{self.prefix}-{_name_part(launch.job_name)}-{host}-{token}",
                    labels={**labels, HOST_LABEL: host}, hostname=host, network=network,
                    aliases=[host], on_output=on_output, output_label=host,
                )
                handles.append(container)
        except BaseException:
            for handle in handles:
                handle.stop(0)
            cleanup()
            raise
        return DockerTraining(handles, cleanup)

    # -- serving -----------------------------------------------------------------------------
    def start_serving(self, launch: ServingLaunch, on_output: OutputCallback) -> DockerServing:
        kind = instance_type(launch.instance_type)
        image, own, user = self._resolve(launch.image, launch.algorithm, kind, on_output, launch.name)
        environment = {**launch.environment, **own}
        labels = {ROLE_LABEL: "serving", **{LABEL + key: value for key, value in launch.labels.items()}}
        parts = [launch.labels.get(key, "") for key in ("endpoint", "variant", "instance")]
        name = "-".join([self.prefix, *(_name_part(part) for part in parts if part), secrets.token_hex(3)])
        handle = self._run(
            image, ["serve"], launch.workspace, environment, kind, user, name=name, labels=labels,
            ports={CONTAINER_PORT: ("127.0.0.1", None)}, on_output=on_output, output_label=launch.name,
        )
        try:
            url = self._published_url(handle.container)
        except BackendError:
            handle.stop(0)
            raise
        return DockerServing(handle, url)

    def _published_url(self, container: Any) -> str:
        deadline = time.monotonic() + 10
        while True:
            container.reload()
            bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(CONTAINER_PORT)
            if bindings:
                return f"http://127.0.0.1:{bindings[0]['HostPort']}"
            if container.status not in ("created", "running") or time.monotonic() > deadline:
                raise BackendError(
                    f"The serving container {container.name} exited before its port {CONTAINER_PORT} was published."
                )
            time.sleep(0.05)

    # -- after a restart ---------------------------------------------------------------------
    def adopt_serving(self, endpoint: str, output_for: Callable[[dict[str, str]], tuple[str, OutputCallback]]
                      ) -> list[AdoptedServing]:
        """The running serving containers this data directory started for ``endpoint``, with their
        output streamed again from now on (``output_for(labels)`` gives the label and the sink)."""
        adopted = []
        for container in self._owned_containers({ROLE_LABEL: "serving", LABEL + "endpoint": endpoint}):
            if container.status != "running":
                continue
            labels = {key[len(LABEL):]: value for key, value in container.labels.items() if key.startswith(LABEL)}
            try:
                url = self._published_url(container)
            except BackendError:
                continue
            label, on_output = output_for(labels)
            handle = self._track(ContainerHandle(container, label, on_output, since=int(time.time()),
                                                 on_removed=self._untrack, closed=self._closed))
            adopted.append(AdoptedServing(labels, DockerServing(handle, url)))
        return adopted

    def adopt_training(self, job_name: str, hosts: list[str], on_output: OutputCallback,
                       since_ms: dict[str, int | None]) -> DockerTraining | None:
        """The containers of a training job that an earlier emulator started, when every host's is
        still there (running, or exited and not yet removed), with their output forwarded again from
        just after the last line on record (``since_ms``); None when any is missing or never started."""
        found = {container.labels.get(HOST_LABEL): container
                 for container in self._owned_containers({ROLE_LABEL: "training", JOB_LABEL: job_name})}
        if sorted(host for host in found if host) != sorted(hosts):
            return None
        # A container the last emulator created but did not get to start ("created") never ran the job.
        if any(container.status not in ("running", "exited") for container in found.values()):
            return None
        handles = []
        for host in sorted(hosts):
            last = since_ms.get(host)
            since = (last + 1) / 1000 if last else None
            handles.append(self._track(ContainerHandle(found[host], host, on_output, since=since,
                                                       on_removed=self._untrack, closed=self._closed)))
        networks = self._owned_networks({JOB_LABEL: job_name})
        for network in networks:
            with self._lock:
                self._networks[network.name] = network

        def cleanup() -> None:
            for network in networks:
                self._remove_network(network)

        return DockerTraining(handles, cleanup)

    def remove_strays(self, keep: set[str]) -> list[str]:
        """Remove every container and network of this data directory but ``keep`` (container ids)
        and the containers this backend watches (adopted training hosts)."""
        removed = []
        with self._lock:
            keep = keep | set(self._handles)
        for container in self._owned_containers({}):
            if container.id in keep:
                continue
            try:
                container.remove(force=True)
                removed.append(container.id)
                log.info("docker backend: removed stray container %s (%s)", container.name,
                         container.labels.get(ROLE_LABEL, "?"))
            except Exception as error:  # noqa: BLE001
                log.warning("docker backend: could not remove container %s: %s", container.name, error)
        for network in self._owned_networks():
            if network.name not in self._networks:
                self._remove_network(network)
        return removed

    def shutdown(self) -> None:
        """Remove every container and network this emulator (its data directory) has on the engine."""
        self._closed.set()
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            handle.remove()
        try:
            self.remove_strays(keep=set())
            for network in list(self._networks.values()):
                self._remove_network(network)
        except Exception as error:  # noqa: BLE001 - the engine went away
            log.warning("docker backend: could not clean up: %s", error)
        self.client.close()

    # -- helpers -----------------------------------------------------------------------------
    def _resolve(self, image_uri: str, algorithm: str | None, kind: InstanceType, on_output: OutputCallback,
                 label: str, multi_host: bool = False) -> tuple[str, dict[str, str], str | None]:
        """The image to run, its environment and the user to run it as."""
        gpus = self._gpus_for(kind)
        if kind.gpus and not gpus:
            on_output(label, f"{kind.name} has {kind.gpus} GPU(s) but this host has none: running on the CPU.")
        if algorithm is None:
            self._require_user_image(image_uri)
            return image_uri, {}, None
        image = images.image_for_algorithm(algorithm, gpu=bool(gpus), multi_host=multi_host)
        found = self._image(image)
        if found is None and image == images.TORCH_CUDA_IMAGE:
            on_output(label, f"{image} is not built ({images.build_hint(image)}): running the CPU image.")
            image = images.image_for_algorithm(algorithm, multi_host=multi_host)
            found = self._image(image)
        if found is None:
            raise BackendError(
                f"The docker backend runs the built-in algorithm {algorithm} ({image_uri}) in the image {image}, "
                f"and this Docker engine does not have it: {images.build_hint(image)}."
            )
        self._warn_if_stale(image, found)
        # The emulator's own images run as the emulator's user, so that it owns what they write.
        user = f"{os.getuid()}:{os.getgid()}" if self._uid else None
        environment = {contract.ALGORITHM_ENV: algorithm}
        if self._uid:
            environment["HOME"] = "/tmp"
        return image, environment, user

    def _warn_if_stale(self, image: str, found: Any) -> None:
        digest = (found.labels or {}).get(images.SOURCE_LABEL)
        if digest != self._source_digest and image not in self._warned_images:
            self._warned_images.add(image)
            log.warning("docker backend: %s was built from other sagemaker_algorithms sources than this emulator's "
                        "(%s, expected %s): %s", image, digest, self._source_digest,
                        images.build_hint(image))

    def _require_user_image(self, image: str) -> None:
        if self._image(image) is not None:
            return
        try:
            import docker

            puller = docker.from_env(timeout=PULL_TIMEOUT_SECONDS)
            try:
                puller.images.pull(image)
            finally:
                puller.close()
            log.info("docker backend: pulled %s", image)
            return
        except Exception as error:  # noqa: BLE001
            reason = _first_line(error)
        raise BackendError(
            f"The image {image} is not on this Docker engine and could not be pulled ({reason}). The docker "
            f"backend runs users' own images from the local engine: build or tag it there under this exact "
            f"name (docker build -t {image} . / docker tag <local image> {image})."
        )

    def _image(self, name: str) -> Any:
        try:
            return self.client.images.get(name)
        except Exception:  # noqa: BLE001 - NotFound, or an unparsable reference
            return None

    def _gpus_for(self, kind: InstanceType) -> int:
        return min(kind.gpus, self.host_gpus)

    def _run(self, image: str, command: list[str], workspace: Path, environment: dict[str, str],
             kind: InstanceType, user: str | None, *, name: str, labels: dict[str, str],
             on_output: OutputCallback, output_label: str, hostname: str | None = None,
             network: Any = None, aliases: list[str] | None = None,
             ports: dict[str, Any] | None = None) -> ContainerHandle:
        cpus = min(float(kind.vcpus), float(self.host_cpus))
        memory = min(kind.memory_bytes, self.host_memory) if self.host_memory else kind.memory_bytes
        options: dict[str, Any] = {
            "command": command,
            "name": name,
            "detach": True,
            "init": True,
            "environment": environment,
            "labels": {DATA_DIR_LABEL: self.data_dir, **labels},
            "volumes": {str(Path(workspace).resolve()): {"bind": contract.DEFAULT_BASE_DIR, "mode": "rw"}},
            "nano_cpus": int(cpus * 1e9),
            "mem_limit": memory,
            "shm_size": max(64 * 1024**2, memory // 4),
            "stdin_open": False,
        }
        if hostname:
            options["hostname"] = hostname
        if user:
            options["user"] = user
        if ports is not None:
            options["ports"] = ports
        if network is None and ports is None:
            options["network_mode"] = "none"
        elif network == "bridge":
            options["network_mode"] = "bridge"
        elif network is not None:
            options["network"] = network.name
            options["networking_config"] = {network.name: self.client.api.create_endpoint_config(aliases=aliases)}
        gpus = self._gpus_for(kind)
        if gpus:
            import docker

            options["device_requests"] = [docker.types.DeviceRequest(count=gpus, capabilities=[["gpu"]])]
        try:
            container = self.client.containers.run(image, **options)
        except Exception as error:  # noqa: BLE001
            raise BackendError(f"Docker could not start {image} ({' '.join(command)}): {_first_line(error)}") from error
        return self._track(ContainerHandle(container, output_label, on_output, on_removed=self._untrack,
                                           closed=self._closed))

    def _track(self, handle: ContainerHandle) -> ContainerHandle:
        with self._lock:
            self._handles[handle.id] = handle
        return handle

    def _untrack(self, handle: ContainerHandle) -> None:
        with self._lock:
            self._handles.pop(handle.id, None)

    def _create_network(self, name: str, labels: dict[str, str], internal: bool = False) -> Any:
        try:
            network = self.client.networks.create(
                name, driver="bridge", internal=internal,
                labels={DATA_DIR_LABEL: self.data_dir, **labels, ROLE_LABEL: "network"},
            )
        except Exception as error:  # noqa: BLE001
            raise BackendError(f"Docker could not create the job's network {name}: {_first_line(error)}") from error
        with self._lock:
            self._networks[network.name] = network
        return network

    def _remove_network(self, network: Any) -> None:
        with self._lock:
            self._networks.pop(network.name, None)
        try:
            network.remove()
        except Exception:  # noqa: BLE001 - removed already
            pass

    def _label_filters(self, labels: dict[str, str] | None) -> dict[str, list[str]]:
        """This data directory's label, and ``labels``, as an engine list filter."""
        return {"label": [f"{DATA_DIR_LABEL}={self.data_dir}",
                          *(f"{key}={value}" for key, value in (labels or {}).items())]}

    def _owned_containers(self, labels: dict[str, str]) -> list[Any]:
        return self.client.containers.list(all=True, filters=self._label_filters(labels))

    def _owned_networks(self, labels: dict[str, str] | None = None) -> list[Any]:
        return self.client.networks.list(filters=self._label_filters(labels))

    def owned_container_ids(self) -> list[str]:
        return [container.id for container in self._owned_containers({})]


def _own_container_id() -> str | None:
    """This process's container id when it runs in a Docker container (from its mount table)."""
    if not Path("/.dockerenv").exists():
        return None
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    match = re.search(r"/containers/([0-9a-f]{64})/", mountinfo)
    return match.group(1) if match else None


def _host_gpus(info: dict[str, Any]) -> int:
    """GPUs a container can be given: the host's NVIDIA devices, when the engine can pass them
    through (the NVIDIA runtime is registered, or the NVIDIA container toolkit is installed)."""
    import shutil

    devices = [p for p in Path("/dev").glob("nvidia[0-9]*") if p.name[6:].isdigit()]
    toolkit = "nvidia" in (info.get("Runtimes") or {}) or shutil.which("nvidia-container-cli") is not None
    return len(devices) if toolkit else 0
