"""The AWS edge: one entry point for every AWS request the server receives.

    route -> decode the body -> parse -> validate -> dispatch -> serialize

``handle(request, emulator)`` is mounted as the server's catch-all Starlette route. ``emulator``
needs ``account_id`` (default ``"123456789012"``), ``region`` (default ``"us-east-1"``) and
``hostnames`` (names under which ``<bucket>.<name>`` is an S3 virtual host); it reaches handlers as
``ctx.emulator``.

Every response carries a request id (``x-amzn-RequestId``; S3: ``x-amz-request-id`` and
``x-amz-id-2``; query: also ``<RequestId>``). An operation we know but do not implement answers
501 ``NotImplemented`` naming it; an operation the service does not have answers that protocol's
unknown-operation error. Whatever a handler does, the client gets an AWS-shaped answer: any
unexpected exception is logged with the request id and answered ``InternalFailure`` (S3:
``InternalError``), status 500, with no traceback on the wire.
"""

from __future__ import annotations

import inspect
import logging
import os
import uuid
from typing import Any, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from sagemaker_emulator.aws import chunked, dispatch, errors, specs, validation
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.payload import FileBody
from sagemaker_emulator.aws.protocols import codec_for_protocol
from sagemaker_emulator.aws.protocols.base import HttpRequest, HttpResponse
from sagemaker_emulator.aws.routing import Route, Router, rest_table

log = logging.getLogger("sagemaker_emulator.aws")

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
FILE_CHUNK = 1024 * 1024

_is_async: dict[Any, bool] = {}


def new_request_id() -> str:
    return str(uuid.uuid4())


def warm_up() -> None:
    """Load the service models and build the routing tables now (call at server start-up, so the
    first request does not pay for it). Handler modules are imported on the first dispatch."""
    specs.load_all()
    from sagemaker_emulator.aws import protocols

    for service in specs.SERVICES:
        protocols.codec(service)
        if specs.protocol(service) in ("rest-json", "rest-xml"):
            rest_table(service)


# --------------------------------------------------------------------------- Starlette edge


async def handle(request: Request, emulator: Any) -> Response:
    """Answer one AWS request received by Starlette."""
    request_id = new_request_id()
    scope = request.scope
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if not value.isascii():  # clients send UTF-8 (S3 metadata); HTTP says Latin-1
            try:
                value = raw_value.decode("utf-8")
            except UnicodeDecodeError:
                pass
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "/")
    try:
        body = await request.body()
    except ClientDisconnect:
        return Response(b"", status_code=400)
    http_request = HttpRequest(
        scope["method"], path, scope.get("query_string", b"").decode("latin-1"), headers, body
    )
    http_response = await process(http_request, emulator, request_id)
    return to_starlette(http_response, http_request.method)


def to_starlette(response: HttpResponse, method: str) -> Response:
    headers = {name.lower(): value for name, value in response.headers.items()}
    body = response.body
    status = response.status
    if method == "HEAD" or status in (204, 304) or status < 200:
        if method != "HEAD":
            headers.pop("content-length", None)
        return Response(b"", status_code=status, headers=headers)
    if isinstance(body, (bytes, bytearray, memoryview)):
        headers.pop("content-length", None)
        return Response(bytes(body), status_code=status, headers=headers)
    if isinstance(body, str):
        headers.pop("content-length", None)
        return Response(body.encode("utf-8"), status_code=status, headers=headers)
    if isinstance(body, FileBody):
        headers["content-length"] = str(body.length)
        return StreamingResponse(_file_chunks(body), status_code=status, headers=headers)
    return StreamingResponse(body, status_code=status, headers=headers)


def _file_chunks(body: FileBody) -> Iterator[bytes]:
    """The bytes of a FileBody; Starlette runs each step of this iterator in a worker thread."""
    remaining = body.length
    with open(body.path, "rb") as f:
        f.seek(body.start)
        while remaining > 0:
            data = f.read(min(FILE_CHUNK, remaining))
            if not data:
                raise OSError(f"{body.path} ended {remaining} bytes early")
            remaining -= len(data)
            yield data


# --------------------------------------------------------------------------- the pipeline


async def process(request: HttpRequest, emulator: Any = None, request_id: str | None = None) -> HttpResponse:
    """Route, parse, validate, dispatch and serialize one request; never raises."""
    request_id = request_id or new_request_id()
    route: Route | None = None
    try:
        router = Router(
            getattr(emulator, "hostnames", None) or (),
            getattr(emulator, "region", None) or DEFAULT_REGION,
        )
        route = router.route(request)
        if route.error is not None:
            raise route.error
        operation = route.operation
        if chunked.is_aws_chunked(request.headers):
            request.headers, request.body = chunked.decode_request(request.headers, request.body)
        params = route.codec.parse(operation, request, route.labels)
        validation.validate(route.service, operation, params)
        handler = dispatch.lookup(route.service, operation.name)
        if handler is None:
            raise errors.not_implemented(route.service, operation.name)
        ctx = dispatch.RequestContext(
            service=route.service,
            operation=operation.name,
            region=route.region,
            account_id=getattr(emulator, "account_id", None) or DEFAULT_ACCOUNT_ID,
            request_id=request_id,
            emulator=emulator,
            headers=request.headers,
        )
        result = await _call(handler, ctx, params)
        response = route.codec.serialize(operation, result or {}, request_id, request)
        if isinstance(response.body, FileBody):
            _check_file_body(response.body)
        return response
    except AwsError as error:
        return _error_response(route, error, request, request_id)
    except Exception:
        log.exception(
            "request %s failed: %s %s (%s.%s)",
            request_id,
            request.method,
            request.path,
            route.service if route else "?",
            route.operation_name if route else "?",
        )
        codec = route.codec if route is not None else codec_for_protocol("json")
        return _error_response(route, codec.internal_error(request_id), request, request_id)


def _check_file_body(body: FileBody) -> None:
    """Fail now (an InternalError the client can read) rather than halfway through streaming."""
    size = os.stat(body.path).st_size
    if body.start < 0 or body.length < 0 or body.start + body.length > size:
        raise ValueError(f"{body} lies outside the file ({size} bytes)")


async def _call(handler, ctx, params):
    is_async = _is_async.get(handler)
    if is_async is None:
        is_async = _is_async[handler] = inspect.iscoroutinefunction(handler)
    if is_async:
        result = await handler(ctx, params)
    else:
        result = await run_in_threadpool(handler, ctx, params)
    if inspect.isawaitable(result):
        result = await result
    return result


def _error_response(route: Route | None, error: AwsError, request: HttpRequest, request_id: str) -> HttpResponse:
    codec = route.codec if route is not None else codec_for_protocol("json")
    operation = route.operation if route is not None else None
    try:
        return codec.serialize_error(error, operation, request_id, request)
    except Exception:
        log.exception("request %s: serializing error %s failed", request_id, error.code)
        body = (
            b'{"__type":"InternalFailure","message":"The request processing has failed '
            b'because of an unknown error."}'
        )
        return HttpResponse(
            500,
            {"x-amzn-RequestId": request_id, "Content-Type": "application/x-amz-json-1.1"},
            b"" if request.method == "HEAD" else body,
        )


__all__ = ["handle", "process", "to_starlette", "warm_up", "new_request_id", "DEFAULT_ACCOUNT_ID"]
