"""Fixtures for the S3 unit tests: a real ObjectStore on a temporary directory, and a way to call
handlers as the gateway would (params in, output-shape dict out), checked against botocore's model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import botocore.session
import pytest

import sagemaker_emulator.services.s3.operations  # noqa: F401  (registers the handlers)
from sagemaker_emulator.aws import dispatch
from sagemaker_emulator.aws.dispatch import RequestContext
from sagemaker_emulator.aws.payload import FileBody
from sagemaker_emulator.services.s3.store import ObjectStore
from sagemaker_emulator.state.database import Database

ACCOUNT = "123456789012"
_MODEL = botocore.session.get_session().get_service_model("s3")


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "metadata.sqlite3")
    yield database
    database.close()


@pytest.fixture
def store(db: Database, tmp_path: Path) -> ObjectStore:
    return ObjectStore(db, tmp_path / "s3", ACCOUNT, "us-east-1")


def check_shape(value: Any, shape: Any, path: str = "") -> None:
    """Fail unless ``value`` is what botocore's parser could return for ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected a dict, got {value!r}"
        for name, member in value.items():
            if name == "ResponseMetadata" and not path:
                assert set(member) == {"HTTPStatusCode"}
                continue
            assert name in shape.members, f"{path}.{name} is not a member of {shape.name}"
            check_shape(member, shape.members[name], f"{path}.{name}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected a list"
        for index, item in enumerate(value):
            check_shape(item, shape.member, f"{path}[{index}]")
    elif kind == "map":
        assert isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected str, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected int, got {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected bool"
    elif kind == "timestamp":
        assert isinstance(value, dt.datetime) and value.tzinfo is not None, f"{path}: expected aware datetime"
    elif kind == "blob":
        assert isinstance(value, (bytes, FileBody)), f"{path}: expected bytes or FileBody"
    else:  # pragma: no cover
        raise AssertionError(f"{path}: unexpected shape type {kind}")


class Caller:
    def __init__(self, store: ObjectStore, region: str = "us-east-1") -> None:
        self.store = store
        self.region = region

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        # Only the S3 handlers: other services' modules need not import for these tests.
        handler = dispatch._HANDLERS.get(("s3", operation))
        assert handler is not None, operation
        ctx = RequestContext(
            service="s3",
            operation=operation,
            region=self.region,
            account_id=ACCOUNT,
            request_id="test",
            emulator=SimpleNamespace(objects=self.store),
            headers={"host": "127.0.0.1:4566"},
        )
        result = handler(ctx, params)
        output = _MODEL.operation_model(operation).output_shape
        if output is not None:
            check_shape(result, output)
        else:
            assert result == {}
        return result


@pytest.fixture
def call(store: ObjectStore) -> Caller:
    return Caller(store)


def read_body(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    with open(body.path, "rb") as handle:
        handle.seek(body.start)
        return handle.read(body.length)
