"""The contract every protocol codec fulfils, and what they share (request ids, modelled errors).

A codec is built once per service. ``parse`` turns a routed HTTP request into the operation's
params; ``serialize`` turns a handler's result into an HTTP response; ``serialize_error`` does the
same for an :class:`~sagemaker_emulator.aws.errors.AwsError`.

A handler's result may carry ``ResponseMetadata`` the way botocore hands it back to a client:
``{"HTTPStatusCode": 206, "HTTPHeaders": {...}}`` overrides the status and adds headers (S3's
ranged GET answers 206 this way). It is never serialized as a member.
"""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols.base import HttpRequest, HttpResponse, header_text


class Protocol:
    name = ""
    #: the code of the error for a bug in the emulator
    internal_error_code = "InternalFailure"

    def __init__(self, service: str, model) -> None:
        self.service = service
        self.model = model

    # -- requests -------------------------------------------------------------------------------

    def parse(self, op, request: HttpRequest, labels: dict[str, str]) -> dict[str, Any]:
        raise NotImplementedError

    def bad_request(self, message: str) -> AwsError:
        """The error for a request the codec cannot read."""
        return AwsError("SerializationException", message, 400)

    def unknown_operation(self, name: str) -> AwsError:
        return AwsError(
            "UnknownOperationException",
            f"Operation {name} is not an operation of service {self.service}.",
            400,
        )

    # -- responses ------------------------------------------------------------------------------

    def serialize(self, op, result: dict[str, Any], request_id: str, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def serialize_error(self, error: AwsError, op, request_id: str, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def request_id_headers(self, request_id: str) -> dict[str, str]:
        return {"x-amzn-RequestId": request_id}

    def internal_error(self, request_id: str) -> AwsError:
        return AwsError(
            self.internal_error_code,
            "The request processing has failed because of an unknown error "
            f"(request id {request_id}).",
            500,
            sender_fault=False,
        )

    def error_shape(self, code: str):
        try:
            return self.model.shape_for_error_code(code)
        except Exception:  # pragma: no cover - botocore without the index
            return None


def apply_response_metadata(result: dict[str, Any], response: HttpResponse) -> None:
    meta = result.get("ResponseMetadata")
    if not meta:
        return
    status = meta.get("HTTPStatusCode")
    if status:
        response.status = int(status)
    for name, value in (meta.get("HTTPHeaders") or {}).items():
        response.headers[name] = header_text(str(value))


def error_headers(error: AwsError, headers: dict[str, str]) -> dict[str, str]:
    for name, value in error.headers.items():
        headers[name] = header_text(str(value))
    return headers
