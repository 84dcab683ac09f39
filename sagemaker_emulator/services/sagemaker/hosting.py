"""Hosting: the serving instances behind each endpoint, and the routing InvokeEndpoint uses.

CreateEndpoint starts every instance of every production variant (``serve`` in a workspace whose
``model/`` holds the extracted ModelDataUrl), waits for ``GET /ping`` to answer 200, then marks the
endpoint InService. UpdateEndpoint brings the new configuration up beside the old one and switches
over when it is healthy. The configuration an endpoint runs is kept in its record, so deleting the
endpoint configuration (as the SDK does first) or restarting the emulator loses nothing.
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
from typing import Any

import aiohttp

from sagemaker_algorithms.common import contract
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.execution.backends import BackendError, ServingInstance, ServingLaunch
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
DRAIN_SECONDS = 2.0  # old instances keep answering requests already forwarded to them after a switch


class DeploymentFailed(Exception):
    """The configuration could not be brought up; the message is the endpoint's FailureReason."""


@dataclass
class LiveVariant:
    name: str
    weight: float
    instances: list[ServingInstance]
    _turn: itertools.count = field(default_factory=itertools.count)

    def next_instance(self) -> ServingInstance:
        return self.instances[next(self._turn) % len(self.instances)]


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

    # -- InvokeEndpoint's path ---------------------------------------------------------------
    def live_endpoint(self, name: str) -> LiveEndpoint | None:
        return self._live.get(name.lower())

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
        """Endpoints that were serving, or on their way to it, serve again after a restart."""
        for document in self.store.scan(KIND):
            for pid in document.get("_ProcessIds", []):
                kill_stray_process(pid, str(self.root / document["EndpointName"]))
            status = document["EndpointStatus"]
            config = document.get("_Config")
            if status in ("InService", "Creating", "Updating", "SystemUpdating") and config:
                self.deploy(document["EndpointName"], config, updating=status != "Creating")
            elif status == "Deleting":
                self.store.delete(KIND, document["EndpointName"])

    def shutdown(self) -> None:
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
                target=self._stop_instances, args=(previous.instances(), DRAIN_SECONDS, None), daemon=True
            ).start()

        def in_service(document: dict[str, Any]) -> None:
            now = utcnow()
            document["EndpointStatus"] = "InService"
            document["EndpointConfigName"] = config["EndpointConfigName"]
            document["_Config"] = config
            document["_ProcessIds"] = [pid for instance in started for pid in instance.process_ids()]
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
        group = LOG_GROUP_PREFIX + name
        for variant in config["ProductionVariants"]:
            variant_name = variant["VariantName"]
            model = self.store.get("Model", variant["ModelName"])
            if model is None:
                raise DeploymentFailed(f"Could not find model \"{variant['ModelName']}\".")
            container = primary_container(model)
            image = container.get("Image", "")
            images[variant_name] = image
            algorithm = algorithm_for_image(image)
            count = variant.get("InitialInstanceCount") or 1
            instances: list[ServingInstance] = []
            for _ in range(count):
                instance_id = "i-" + secrets.token_hex(9)[:17]
                workspace = self.root / name / f"{variant_name}-{generation}" / instance_id
                paths = contract.ContainerPaths(workspace)
                paths.model_dir.mkdir(parents=True, exist_ok=True)
                if container.get("ModelDataUrl"):
                    self._extract_model(container["ModelDataUrl"], paths.model_dir)
                stream = f"{variant_name}/{instance_id}"
                self.logs.ensure_stream(group, stream)

                def on_output(_: str, line: str, stream: str = stream) -> None:
                    self.logs.append(group, stream, [(now_ms(), line)])

                try:
                    instance = self.backend.start_serving(
                        ServingLaunch(
                            f"{name}/{stream}", image, algorithm.name if algorithm else None, workspace,
                            dict(container.get("Environment") or {}),
                        ),
                        on_output,
                    )
                except BackendError as error:
                    raise DeploymentFailed(f"ClientError: {error}") from error
                started.append(instance)
                instances.append(instance)
                self._wait_healthy(instance, variant_name)
            variants.append(LiveVariant(variant_name, float(variant.get("InitialVariantWeight", 1.0)), instances))
        return variants, images

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
        host, port = instance.url.removeprefix("http://").rsplit(":", 1)
        while time.monotonic() < deadline and instance.alive():
            connection = http.client.HTTPConnection(host, int(port), timeout=2.0)
            try:
                connection.request("GET", "/ping")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                connection.close()
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

    def _stop_instances(self, instances: list[ServingInstance], delay: float, remove: str | None) -> None:
        if delay:
            time.sleep(delay)
        for instance in instances:
            try:
                instance.stop(5.0)
            except Exception:
                log.exception("could not stop a serving instance")
        if remove:
            shutil.rmtree(self.root / remove, ignore_errors=True)
