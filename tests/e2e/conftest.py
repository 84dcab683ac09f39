"""End-to-end tests on the docker backend: real images, real containers (marker ``docker``).

They need a Docker engine and the images of ``containers/build.py`` (``bash scripts/build-images.sh``).
Locally, without them, the tests are skipped with the reason; in CI (``CI`` set) they fail loudly,
since .ci/run installs and starts an engine and builds the images first.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sagemaker_emulator.execution import images
from sagemaker_emulator.execution.docker_backend import DATA_DIR_LABEL
from tests.e2e.byoc import USER_IMAGE_DIR
from tests.integration.conftest import mnist_subset  # noqa: F401 - the fixture, shared with the integration tests
from tests.support.server import EmulatorProcess, start_emulator

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"docker tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:  # noqa: BLE001
        unavailable(f"no Docker engine answers ({str(error).splitlines()[0][:200]})")
    for image in (images.NUMPY_IMAGE, images.BASE_IMAGE):
        try:
            client.images.get(image)
        except Exception:  # noqa: BLE001
            unavailable(f"the image {image} is not built ({images.build_hint(image)})")
    yield client
    client.close()


def owned_containers(client, data_dir: Path, **labels: str) -> list:
    filters = [f"{DATA_DIR_LABEL}={Path(data_dir).resolve()}", *(f"org.sagemaker-emulator.{k}={v}" for k, v in labels.items())]
    return client.containers.list(all=True, filters={"label": filters})


def owned_networks(client, data_dir: Path) -> list:
    return client.networks.list(filters={"label": [f"{DATA_DIR_LABEL}={Path(data_dir).resolve()}"]})


def assert_no_strays(client, data_dir: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while (owned_containers(client, data_dir) or owned_networks(client, data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [c.name for c in owned_containers(client, data_dir)] == []
    assert [n.name for n in owned_networks(client, data_dir)] == []


@pytest.fixture(scope="session")
def user_image(docker_client) -> str:
    """The tiny contract-following image of user_image/, built FROM the locally built base."""
    tag = "sme-e2e/user-image:latest"
    docker_client.images.build(path=str(USER_IMAGE_DIR), tag=tag, buildargs={"BASE_IMAGE": images.BASE_IMAGE},
                               rm=True, forcerm=True)
    return tag


@pytest.fixture(scope="session")
def docker_emulator(docker_client, tmp_path_factory) -> EmulatorProcess:
    """One emulator on the docker backend for the session; it must leave no container behind."""
    server = start_emulator(tmp_path_factory.mktemp("docker-emulator") / "data", "--backend", "docker")
    yield server
    assert server.stop() == 0
    assert_no_strays(docker_client, server.data_dir)


@pytest.fixture
def fresh_docker_emulator(docker_client, tmp_path: Path):
    """Emulators of the test's own (restarts, kills); checked for strays once all have stopped."""
    servers: list[EmulatorProcess] = []

    def start(*args: str, data_dir: Path | None = None, **kwargs) -> EmulatorProcess:
        server = start_emulator(data_dir or tmp_path / "data", "--backend", "docker", *args, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    for data_dir in {server.data_dir for server in servers}:
        assert_no_strays(docker_client, data_dir)
