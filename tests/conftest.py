from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import EmulatorProcess, start_emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> EmulatorProcess:
    """One real server on a loopback port, shared by the tests of a session."""
    server = start_emulator(tmp_path_factory.mktemp("emulator") / "data")
    yield server
    server.stop()


@pytest.fixture
def fresh_emulator(tmp_path: Path):
    """A server of the test's own, for tests that restart or kill it."""
    servers: list[EmulatorProcess] = []

    def start(*args: str, data_dir: Path | None = None, **kwargs) -> EmulatorProcess:
        server = start_emulator(data_dir or tmp_path / "data", *args, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
