"""Backend selection and the instance-type table (no Docker engine needed)."""

from __future__ import annotations

import logging

import pytest

from sagemaker_emulator.execution.backends import create_backend
from sagemaker_emulator.execution.instance_types import instance_type


def test_auto_falls_back_to_process_without_an_engine(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with caplog.at_level(logging.INFO):
        backend = create_backend("auto", tmp_path)
    try:
        assert backend.name == "process"
    finally:
        backend.shutdown()
    assert "no Docker engine answers" in caplog.text and "using the process backend" in caplog.text


def test_docker_without_an_engine_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(RuntimeError, match="--backend docker: no Docker engine answers"):
        create_backend("docker", tmp_path)


def test_unknown_backend():
    with pytest.raises(ValueError, match="available: auto, process, docker"):
        create_backend("kubernetes")


@pytest.mark.parametrize("name, vcpus, memory_gib, gpus", [
    ("ml.m5.large", 2, 8, 0),
    ("ml.c4.xlarge", 4, 7.5, 0),
    ("ml.p3.8xlarge", 32, 244, 4),
    ("ml.g4dn.xlarge", 4, 16, 1),
    ("ml.c6i.4xlarge", 16, 32, 0),      # not in the table: estimated from its family and size
    ("ml.m7i-flex.2xlarge", 8, 32, 0),
    ("ml.g6.2xlarge", 8, 32, 1),
    (None, 2, 8, 0),
])
def test_instance_types(name, vcpus, memory_gib, gpus):
    kind = instance_type(name)
    assert (kind.vcpus, kind.memory_gib, kind.gpus) == (vcpus, memory_gib, gpus)
