"""Hosting: the serving instances behind each endpoint, and the routing InvokeEndpoint uses.

CreateEndpoint starts every instance of every production variant (``serve`` in a workspace whose
``model/`` holds the extracted ModelDataUrl), waits for ``GET /ping`` to answer 200, then marks the
endpoint InService. UpdateEndpoint brings the new configuration up beside the old one and switches
over when it is healthy; the old instances stop once the requests already forwarded to them have
answered (InvokeEndpoint routes through :meth:`HostingService.route` / :meth:`HostingService.release`,
which count them). The configuration an endpoint runs is kept in its record, so deleting the
endpoint configuration (as the SDK does first) or restarting the emulator loses nothing.

A supervisor thread replaces an instance whose process or container died, as SageMaker replaces an
unhealthy instance, and logs it to the instance's log stream. After a restart, a backend that can
(docker) hands back the containers still serving the configuration on record, which are adopted
as they are; every other endpoint is deployed again.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import random
import secrets
import shutil
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp

from sagemaker_algorithms.common import contract
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.execution.backends import BackendError, OutputCallback, ServingInstance, ServingLaunch
from sagemaker_emulator.execution.process_backend import kill_stray_process
from sagemaker_emulator.services.logs import now_ms
from sagemaker_emulator.services.sagemaker import channels
from sagemaker_emulator.services.sagemaker.builtin_algorithms import algorithm_for_image
from sagemaker_emulator.services.sagemaker.models import primary_container
from sagemaker_emulator.services.sagemaker.store import utcnow

log = logging.getLogger(__name__)

KIND = "Endpoint"
LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
PING_TIMEOUT_SECONDS = 120.0
DRAIN_TIMEOUT_SECONDS = 65.0  # longest an old instance waits for its in-flight requests (forwarding times out at 60 s)
SUPERVISE_SECONDS = 0.5  # how often the supervisor looks for dead instances


class DeploymentFailed(Exception):
    """The configuration could not be brought up; the message is the endpoint's FailureReason."""


@dataclass
class LiveVariant:
    name: str
    weight: float
    instances: list[ServingInstance]
    _turn: itertools.count = field(default_factory=itertools.count)

    def next_instance(self) -> ServingInstance:
        instances = self.instances
        for _ in range(len(instances)):  # skip an instance that died until it is replaced
            instance = instances[next(self._turn) % len(instances)]
            if instance.alive():
                return instance
        return instance


@dataclass
class LiveEndpoint:
    name: str
    variants: list[LiveVariant]

    def choose(self, target_variant: str | None) -> tuple[LiveVariant, ServingInstance]:
        if target_variant:
            for variant in self.variants:
                if variant.name == target_variant:
                    return variant, variant.next_instance()
            raise AwsError(
                "ValidationError",
                f"Variant {target_variant} not found for endpoint {self.name}.",
                400,
            )
        if len(self.variants) == 1:
            variant = self.variants[0]
        else:
            weights = [max(variant.weight, 0.0) for variant in self.variants]
            variant = random.choices(self.variants, weights=weights)[0] if sum(weights) > 0 else self.variants[0]
        return variant, variant.next_instance()

    def instances(self) -> list[ServingInstance]:
        return [instance for variant in self.variants for instance in variant.instances]


class HostingService:
    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.store = emulator.resources
        self.objects = emulator.objects
        self.logs = emulator.logs
        self.backend = emulator.backend
        self.root = Path(emulator.settings.data_dir) / "endpoints"
        self._live: dict[str, LiveEndpoint] = {}
        self._lock = threading.Lock()
        self._client: aiohttp.ClientSession | None = None
        self._in_flight: dict[ServingInstance, int] = {}  # requests forwarded and not yet answered
        self._launches: dict[ServingInstance, tuple[ServingLaunch, OutputCallback]] = {}  # to replace it
        self._replacing: set[ServingInstance] = set()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    # -- InvokeEndpoint's path ---------------------------------------------------------------
    def live_endpoint(self, name: str) -> LiveEndpoint | None:
        return self._live.get(name.lower())

    def route(self, name: str, target_variant: str | None) -> tuple[LiveVariant, ServingInstance] | None:
        """The variant and instance for one request (None if the endpoint is not serving), counted in
        flight until :meth:`release`. Atomic with a switch-over, so a draining instance is never chosen."""
        with self._lock:
            live = self._live.get(name.lower())
            if live is None:
                return None
            variant, instance = live.choose(target_variant)
            self._in_flight[instance] = self._in_flight.get(instance, 0) + 1
        return variant, instance

    def release(self, instance: ServingInstance) -> None:
        with self._lock:
            remaining = self._in_flight.get(instance, 1) - 1
            if remaining > 0:
                self._in_flight[instance] = remaining
            else:
                self._in_flight.pop(instance, None)

    def http_client(self) -> aiohttp.ClientSession:
        """The keep-alive connection pool to the instances (created on the event loop, on first use)."""
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=60.0, connect=5.0),
                connector=aiohttp.TCPConnector(limit=256, limit_per_host=64),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Content-Type"),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    # -- lifecycle ---------------------------------------------------------------------------
    def deploy(self, name: str, config: dict[str, Any], updating: bool = False) -> None:
        self._start_supervisor()
        thread = threading.Thread(
            target=self._deploy, args=(name, config, updating), name=f"endpoint-{name}", daemon=True
        )
        thread.start()

    def undeploy(self, name: str) -> None:
        with self._lock:
            live = self._live.pop(name.lower(), None)
        if live is not None:
            threading.Thread(target=self._stop_instances, args=(live.instances(), 0.0, name), daemon=True).start()
        else:
            shutil.rmtree(self.root / name, ignore_errors=True)

    def recover(self) -> None:
        """Endpoints that were serving, or on their way to it, serve again after a restart: adopted
        where the backend still runs their instances (docker), deployed again otherwise. Then the
        backend removes every other container of this data directory (a job's or an endpoint's that
        ended while the emulator was down): the training jobs have been recovered before this."""
        adopt = getattr(self.backend, "adopt_serving", None)
        kept: set[str] = set()
        redeploy: list[tuple[str, dict[str, Any], bool]] = []
        for document in self.store.scan(KIND):
            for pid in document.get("_ProcessIds", []):
                kill_stray_process(pid, str(self.root / document["EndpointName"]))
            status = document["EndpointStatus"]
            config = document.get("_Config")
            if status in ("InService", "Creating", "Updating", "SystemUpdating") and config:
                if adopt is not None and status == "InService" and self._adopt(document, adopt, kept):
                    continue
                redeploy.append((document["EndpointName"], config, status != "Creating"))
            elif status == "Deleting":
                self.store.delete(KIND, document["EndpointName"])
        remove_strays = getattr(self.backend, "remove_strays", None)
        if remove_strays is not None:
            remove_strays(kept)
        for name, config, updating in redeploy:
            self.deploy(name, config, updating=updating)

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:
            endpoints = list(self._live.values())
            self._live.clear()
        for live in endpoints:
            for instance in live.instances():
                instance.stop(2.0)

    # -- bringing a configuration up ---------------------------------------------------------
    def _deploy(self, name: str, config: dict[str, Any], updating: bool) -> None:
        generation = secrets.token_hex(4)
        started: list[ServingInstance] = []
        try:
            variants, images = self._start_variants(name, config, generation, started)
        except DeploymentFailed as failure:
            self._stop_instances(started, 0.0, None)
            self._record_failure(name, str(failure), updating)
            return
        except Exception as error:  # a bug here must still end the deployment
            log.exception("endpoint %s: internal error while deploying", name)
            self._stop_instances(started, 0.0, None)
            self._record_failure(name, f"InternalServerError: {type(error).__name__}: {error}", updating)
            return

        live = LiveEndpoint(name, variants)
        if self.store.get(KIND, name) is None:  # deleted while it was being created
            self._stop_instances(started, 0.0, None)
            return
        with self._lock:
            previous = self._live.get(name.lower())
            self._live[name.lower()] = live
        if previous is not None:
            threading.Thread(
                target=self._stop_instances, args=(previous.instances(), DRAIN_TIMEOUT_SECONDS, None), daemon=True
            ).start()

        def in_service(document: dict[str, Any]) -> None:
            now = utcnow()
            document["EndpointStatus"] = "InService"
            document["EndpointConfigName"] = config["EndpointConfigName"]
            document["_Config"] = config
            document["_ProcessIds"] = [pid for instance in started for pid in instance.process_ids()]
            document["_Generation"] = generation
            document["ProductionVariants"] = [
                {
                    "VariantName": variant["VariantName"],
                    "DeployedImages": [
                        {"SpecifiedImage": images[variant["VariantName"]], "ResolvedImage": images[variant["VariantName"]],
                         "ResolutionTime": now}
                    ],
                    "CurrentWeight": float(variant.get("InitialVariantWeight", 1.0)),
                    "DesiredWeight": float(variant.get("InitialVariantWeight", 1.0)),
                    "CurrentInstanceCount": variant.get("InitialInstanceCount", 1),
                    "DesiredInstanceCount": variant.get("InitialInstanceCount", 1),
                }
                for variant in config["ProductionVariants"]
            ]
            document.pop("FailureReason", None)
            document["LastModifiedTime"] = now

        self.store.update(KIND, name, in_service, status_key="EndpointStatus")
        log.info("endpoint %s: InService (%d instance(s))", name, len(started))

    def _start_variants(
        self, name: str, config: dict[str, Any], generation: str, started: list[ServingInstance]
    ) -> tuple[list[LiveVariant], dict[str, str]]:
        variants: list[LiveVariant] = []
        images: dict[str, str] = {}
        for variant in config["ProductionVariants"]:
            variant_name = variant["VariantName"]
            model = self.store.get("Model", variant["ModelName"])
            if model is None:
                raise DeploymentFailed(f"Could not find model \"{variant['ModelName']}\".")
            container = primary_container(model)
            image = container.get("Image", "")
            images[variant_name] = image
            count = variant.get("InitialInstanceCount") or 1
            instances: list[ServingInstance] = []
            for _ in range(count):
                instance_id = "i-" + secrets.token_hex(9)[:17]
                launch, on_output = self._launch(name, variant, container, generation, instance_id)
                paths = contract.ContainerPaths(launch.workspace)
                paths.model_dir.mkdir(parents=True, exist_ok=True)
                if container.get("ModelDataUrl"):
                    self._extract_model(container["ModelDataUrl"], paths.model_dir)
                try:
                    instance = self.backend.start_serving(launch, on_output)
                except BackendError as error:
                    raise DeploymentFailed(f"ClientError: {error}") from error
                started.append(instance)
                instances.append(instance)
                self._launches[instance] = (launch, on_output)
                self._wait_healthy(instance, variant_name)
            variants.append(LiveVariant(variant_name, float(variant.get("InitialVariantWeight", 1.0)), instances))
        return variants, images

    def _launch(self, name: str, variant: dict[str, Any], container: dict[str, Any], generation: str,
                instance_id: str) -> tuple[ServingLaunch, OutputCallback]:
        """How one instance of a variant is started, and the sink for its log stream."""
        variant_name = variant["VariantName"]
        image = container.get("Image", "")
        algorithm = algorithm_for_image(image)
        group = LOG_GROUP_PREFIX + name
        stream = f"{variant_name}/{instance_id}"
        self.logs.ensure_stream(group, stream)

        def on_output(_: str, line: str) -> None:
            self.logs.append(group, stream, [(now_ms(), line)])

        launch = ServingLaunch(
            f"{name}/{stream}", image, algorithm.name if algorithm else None,
            self.root / name / f"{variant_name}-{generation}" / instance_id,
            dict(container.get("Environment") or {}),
            instance_type=variant.get("InstanceType"),
            labels={"endpoint": name, "variant": variant_name, "instance": instance_id, "generation": generation},
        )
        return launch, on_output

    def _extract_model(self, model_data_url: str, destination: Path) -> None:
        failure = DeploymentFailed(
            f'Failed to download model data for container "container_1" from URL: "{model_data_url}". '
            "Please ensure that there is an object located at the URL and that the role passed to "
            "CreateModel has permissions to download the object."
        )
        try:
            bucket, key = channels.parse_s3_uri(model_data_url)
            source = self.objects.object_path(bucket, key)
        except (ValueError, AwsError):
            raise failure from None
        try:
            with tarfile.open(source, "r:*") as archive:
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(destination, filter="data")
                else:  # Python < 3.10.12: refuse members that would land outside the model directory
                    for member in archive.getmembers():
                        if not (destination / member.name).resolve().is_relative_to(destination.resolve()):
                            raise tarfile.TarError(f"unsafe member {member.name}")
                    archive.extractall(destination)
        except (tarfile.TarError, OSError) as error:
            raise DeploymentFailed(
                f"ClientError: The model data at {model_data_url} is not a valid tar.gz archive: {error}"
            ) from error

    def _wait_healthy(self, instance: ServingInstance, variant_name: str) -> None:
        deadline = time.monotonic() + PING_TIMEOUT_SECONDS
        while time.monotonic() < deadline and instance.alive():
            if _answers_ping(instance):
                return
            time.sleep(0.05)
        raise DeploymentFailed(
            f"The primary container for production variant {variant_name} did not pass the ping health check. "
            "Please check CloudWatch logs for this endpoint."
        )

    def _record_failure(self, name: str, reason: str, updating: bool) -> None:
        def failed(document: dict[str, Any]) -> None:
            # A failed update leaves the endpoint serving its previous configuration, as SageMaker does.
            document["EndpointStatus"] = "InService" if updating and self.live_endpoint(name) else "Failed"
            document["FailureReason"] = reason
            document["LastModifiedTime"] = utcnow()

        self.store.update(KIND, name, failed, status_key="EndpointStatus")
        log.info("endpoint %s: deployment failed: %s", name, reason)

    def _stop_instances(self, instances: list[ServingInstance], drain_seconds: float, remove: str | None) -> None:
        """Stop ``instances`` once no request forwarded to them is still waiting for its answer (at most
        ``drain_seconds``); they no longer receive new ones."""
        deadline = time.monotonic() + drain_seconds
        while time.monotonic() < deadline and any(instance in self._in_flight for instance in instances):
            time.sleep(0.01)
        for instance in instances:
            self._launches.pop(instance, None)
            try:
                instance.stop(5.0)
            except Exception:
                log.exception("could not stop a serving instance")
        if remove:
            shutil.rmtree(self.root / remove, ignore_errors=True)

    # -- replacing instances that died -------------------------------------------------------
    def _start_supervisor(self) -> None:
        with self._lock:
            if self._supervisor is None and not self._stopping.is_set():
                self._supervisor = threading.Thread(target=self._supervise, name="endpoint-supervisor", daemon=True)
                self._supervisor.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_SECONDS):
            with self._lock:
                endpoints = list(self._live.values())
            for live in endpoints:
                for variant in live.variants:
                    for instance in variant.instances:
                        if instance.alive() or instance in self._replacing or instance not in self._launches:
                            continue
                        self._replacing.add(instance)
                        threading.Thread(target=self._replace, args=(live, variant, instance),
                                         name=f"replace-{live.name}", daemon=True).start()

    def _replace(self, live: LiveEndpoint, variant: LiveVariant, dead: ServingInstance) -> None:
        launch, on_output = self._launches[dead]
        message = (f"The instance {launch.labels.get('instance', launch.name)} of variant {variant.name} stopped "
                   "unexpectedly; starting a replacement.")
        log.warning("endpoint %s: %s", live.name, message)
        on_output(launch.name, message)
        dead.stop(0.0)  # collect what is left of it (a container is removed)
        replacement = None
        try:
            replacement = self.backend.start_serving(launch, on_output)
            self._wait_healthy(replacement, variant.name)
        except (BackendError, DeploymentFailed) as error:
            log.error("endpoint %s: could not replace an instance: %s", live.name, error)
            if replacement is not None:
                replacement.stop(0.0)
            time.sleep(5.0)  # the supervisor tries again after this
            self._replacing.discard(dead)
            return
        with self._lock:
            current = self._live.get(live.name.lower()) is live and not self._stopping.is_set()
            if current:
                variant.instances = [replacement if i is dead else i for i in variant.instances]
                self._launches[replacement] = self._launches.pop(dead)
        self._replacing.discard(dead)
        if not current:  # updated, deleted or shut down meanwhile
            replacement.stop(0.0)
            return
        on_output(launch.name, "The replacement instance passed the ping health check and serves requests.")
        log.info("endpoint %s: replaced an instance of variant %s", live.name, variant.name)
        pids = [pid for instance in live.instances() for pid in instance.process_ids()]
        self.store.update(KIND, live.name, lambda document: document.update(_ProcessIds=pids))

    # -- adopting running instances after a restart ------------------------------------------
    def _adopt(self, document: dict[str, Any], adopt: Callable[..., list[Any]], kept: set[str]) -> bool:
        """Serve ``document``'s endpoint with the instances the backend still runs, if they are exactly
        its configuration's and answer /ping; otherwise stop them (False: deploy it again)."""
        name, config = document["EndpointName"], document["_Config"]
        generation = document.get("_Generation")
        launches: dict[str, tuple[ServingLaunch, OutputCallback]] = {}

        def output_for(labels: dict[str, str]) -> tuple[str, OutputCallback]:
            variant = next((v for v in config["ProductionVariants"] if v["VariantName"] == labels.get("variant")), None)
            model = self.store.get("Model", variant["ModelName"]) if variant else None
            if variant is None or model is None:
                return name, lambda _, line: None
            launch, on_output = self._launch(name, variant, primary_container(model), labels.get("generation", ""),
                                             labels.get("instance", ""))
            launches[labels.get("instance", "")] = (launch, on_output)
            return launch.name, on_output

        adopted = adopt(name, output_for)
        by_variant: dict[str, list[Any]] = {}
        for found in adopted:
            by_variant.setdefault(found.labels.get("variant", ""), []).append(found)
        complete = bool(generation) and bool(adopted) and all(
            found.labels.get("generation") == generation and found.labels.get("instance") in launches
            for found in adopted
        ) and sum(len(by_variant.get(v["VariantName"], [])) for v in config["ProductionVariants"]) == len(adopted) and all(
            len(by_variant.get(v["VariantName"], [])) == (v.get("InitialInstanceCount") or 1)
            for v in config["ProductionVariants"]
        ) and all(_answers_ping(found.instance) for found in adopted)
        if not complete:
            for found in adopted:
                found.instance.stop(0.0)
            return False
        variants = []
        for variant in config["ProductionVariants"]:
            instances = [found.instance for found in by_variant[variant["VariantName"]]]
            for found in by_variant[variant["VariantName"]]:
                self._launches[found.instance] = launches[found.labels["instance"]]
            variants.append(LiveVariant(variant["VariantName"], float(variant.get("InitialVariantWeight", 1.0)), instances))
        with self._lock:
            self._live[name.lower()] = LiveEndpoint(name, variants)
        for found in adopted:
            kept.update(getattr(found.instance, "container_ids", lambda: [])())
        self._start_supervisor()
        log.info("endpoint %s: adopted %d running instance(s)", name, len(adopted))
        return True


def _answers_ping(instance: ServingInstance, timeout: float = 2.0) -> bool:
    host, port = instance.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
