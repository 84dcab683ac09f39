"""docker-compose.yml's emulator: the emulator in a container runs jobs and endpoints as sibling
containers through the host's socket, and removes them when it stops.

The service is started with the Docker SDK from the compose file's own settings (image, network,
environment, volumes, command), so that the test needs no compose tool.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest
import yaml

from sagemaker_emulator.execution import images
from tests.e2e.conftest import assert_no_strays, unavailable
from tests.integration.flows import deploy, train_kmeans
from tests.support.server import free_port, make_client

pytestmark = pytest.mark.docker

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def substitute(text: str, environment: dict[str, str]) -> str:
    """Compose's ``${NAME:-default}`` and ``${NAME}``."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: environment.get(m.group(1)) or m.group(2) or "", text)


def test_the_compose_service_trains_and_serves_in_sibling_containers(docker_client, tmp_path, mnist_subset):
    try:
        docker_client.images.get(images.EMULATOR_IMAGE)
    except Exception:  # noqa: BLE001
        unavailable(f"{images.EMULATOR_IMAGE} is not built (bash scripts/build-images.sh emulator)")
    data_dir, port = tmp_path / "compose-data", free_port()
    variables = {**os.environ, "SAGEMAKER_EMULATOR_DATA_DIR": str(data_dir), "SAGEMAKER_EMULATOR_PORT": str(port)}
    service = yaml.safe_load(substitute(COMPOSE_FILE.read_text(), variables))["services"]["emulator"]
    assert service["image"] == images.EMULATOR_IMAGE
    volumes = {}
    for volume in service["volumes"]:
        source, destination = volume.split(":")[:2]
        if source != "/var/run/docker.sock":
            assert source == destination, "the data directory must have the same path inside and outside"
            Path(source).mkdir(parents=True, exist_ok=True)
        volumes[source] = {"bind": destination, "mode": "rw"}
    container = docker_client.containers.run(
        service["image"], service["command"], detach=True, network_mode=service["network_mode"],
        environment={k: str(v) for k, v in service["environment"].items()}, volumes=volumes,
        name=f"sme-compose-test-{port}",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(url + "/_emulator/health", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            container.reload()
            assert container.status == "running", container.logs().decode()[-3000:]
            assert time.monotonic() < deadline, container.logs().decode()[-3000:]
            time.sleep(0.2)
        assert health.json()["backend"] == "docker"

        sagemaker, s3 = make_client("sagemaker", url), make_client("s3", url)
        _, description = train_kmeans(sagemaker, s3, mnist_subset[0][:300], k=3)
        endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"])
        answer = make_client("sagemaker-runtime", url).invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body=",".join(["0"] * 784))
        assert json.loads(answer["Body"].read())["predictions"]
        assert (data_dir / "metadata.sqlite3").exists()  # the state is on the host, at the same path
    finally:
        container.stop(timeout=30)
        logs = container.logs().decode()
        container.remove(force=True)
    assert "Traceback" not in logs, logs[-3000:]
    assert_no_strays(docker_client, data_dir)
