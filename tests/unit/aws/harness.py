"""botocore as the oracle: real boto3 clients whose requests are captured before they leave, and
whose responses can be served in-process by the gateway (no sockets)."""

from __future__ import annotations

import asyncio
import io
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from sagemaker_emulator.aws import gateway
from sagemaker_emulator.aws.payload import FileBody
from sagemaker_emulator.aws.protocols.base import HttpRequest, HttpResponse
from sagemaker_emulator.aws.routing import Route, Router

ENDPOINT = "http://localhost:4566"
REGION = "eu-west-1"


def fake_emulator(**overrides: Any) -> SimpleNamespace:
    values = {"account_id": "123456789012", "region": "us-east-1", "hostnames": ["localhost"]}
    values.update(overrides)
    return SimpleNamespace(**values)


def make_client(service: str, endpoint_url: str = ENDPOINT, region: str = REGION, **config: Any):
    config.setdefault("retries", {"max_attempts": 1, "mode": "standard"})
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(**config),
    )


def to_http_request(prepared) -> HttpRequest:
    """An ``AWSPreparedRequest`` as the gateway would receive it from the network."""
    parts = urlsplit(prepared.url)
    body = prepared.body
    if body is None:
        body = b""
    elif hasattr(body, "read"):
        body = body.read()
    elif isinstance(body, str):
        body = body.encode("utf-8")
    headers = {}
    for name, value in prepared.headers.items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        headers[name.lower()] = value
    headers.setdefault("host", parts.netloc)
    if body and "content-length" not in headers:
        headers["content-length"] = str(len(body))
    return HttpRequest(prepared.method, parts.path or "/", parts.query, headers, bytes(body))


class _Captured(Exception):
    def __init__(self, request) -> None:
        self.request = request


def capture(client, method: str, **params: Any) -> HttpRequest:
    """The HTTP request botocore sends for ``client.method(**params)``."""

    def stop(request, **_: Any):
        raise _Captured(request)

    client.meta.events.register_first("before-send", stop)
    try:
        getattr(client, method)(**params)
    except _Captured as captured:
        return to_http_request(captured.request)
    finally:
        client.meta.events.unregister("before-send", stop)
    raise AssertionError("the request was not sent")


def route_and_parse(request: HttpRequest, emulator=None) -> tuple[Route, dict[str, Any]]:
    emulator = emulator or fake_emulator()
    route = Router(emulator.hostnames, emulator.region).route(request)
    assert route.error is None, route.error
    from sagemaker_emulator.aws import chunked

    if chunked.is_aws_chunked(request.headers):
        request.headers, request.body = chunked.decode_request(request.headers, request.body)
    return route, route.codec.parse(route.operation, request, route.labels)


class _Raw(io.BytesIO):
    def stream(self, **_: Any):
        data = self.getvalue()
        if data:
            yield data


def body_bytes(response: HttpResponse) -> bytes:
    body = response.body
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, FileBody):
        with open(body.path, "rb") as f:
            f.seek(body.start)
            return f.read(body.length)
    if hasattr(body, "__aiter__"):

        async def collect():
            return b"".join([chunk async for chunk in body])

        return asyncio.run(collect())
    return b"".join(body)


def serve_in_process(client, emulator=None, log: list | None = None):
    """Answer ``client``'s requests with ``gateway.process`` (no network); returns the client."""
    emulator = emulator or fake_emulator()

    def send(request, **_: Any):
        http_request = to_http_request(request)
        response = asyncio.run(gateway.process(http_request, emulator))
        body = b"" if http_request.method == "HEAD" else body_bytes(response)
        headers = dict(response.headers)
        if isinstance(response.body, FileBody):
            headers["Content-Length"] = str(response.body.length)
        if log is not None:
            log.append((http_request, response, body))
        return AWSResponse(request.url, response.status, headers, _Raw(body))

    client.meta.events.register("before-send", send)
    return client


def without_metadata(parsed: dict[str, Any]) -> dict[str, Any]:
    out = dict(parsed)
    out.pop("ResponseMetadata", None)
    return out
