"""AWS JSON 1.1 (SageMaker, CloudWatch Logs): ``POST /`` with ``X-Amz-Target: Prefix.Operation``
and a JSON body in both directions.

Errors: ``{"__type": code, "message": ...}`` plus modelled members, with ``x-amzn-ErrorType``.
"""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols import json_body
from sagemaker_emulator.aws.protocols.base import HttpRequest, HttpResponse
from sagemaker_emulator.aws.protocols.common import Protocol, apply_response_metadata, error_headers


class JsonProtocol(Protocol):
    name = "json"

    def __init__(self, service: str, model) -> None:
        super().__init__(service, model)
        version = model.metadata.get("jsonVersion", "1.1")
        self.content_type = f"application/x-amz-json-{version}"

    def parse(self, op, request: HttpRequest, labels: dict[str, str]) -> dict[str, Any]:
        shape = op.input_shape
        document = json_body.loads(request.body)
        if shape is None:
            return {}
        if not isinstance(document, dict):
            raise json_body.serialization_error("The request body must be a JSON object.")
        return json_body.read(shape, document)

    def serialize(self, op, result, request_id, request) -> HttpResponse:
        shape = op.output_shape
        document = json_body.write(shape, result) if shape is not None and result else {}
        response = HttpResponse(
            200,
            {"x-amzn-RequestId": request_id, "Content-Type": self.content_type},
            json_body.dumps(document),
        )
        if result:
            apply_response_metadata(result, response)
        return response

    def serialize_error(self, error: AwsError, op, request_id, request) -> HttpResponse:
        document = error_document(self, error)
        document["__type"] = error.code
        headers = {
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": error.code,
            "Content-Type": self.content_type,
        }
        return HttpResponse(error.status, error_headers(error, headers), json_body.dumps(document))


def error_document(protocol: Protocol, error: AwsError) -> dict[str, Any]:
    """The JSON body of an error: the message under the name the error shape uses for it
    (``message`` unless the shape says ``Message``), and ``fields`` as modelled members."""
    shape = protocol.error_shape(error.code)
    message_key = "message"
    document: dict[str, Any] = {}
    if shape is not None:
        members = shape.members
        if "Message" in members and "message" not in members:
            message_key = members["Message"].serialization.get("name", "Message")
        fields = {k: v for k, v in error.fields.items() if v is not None}
        known = {k: v for k, v in fields.items() if k in members}
        if known:
            document.update(json_body.write(shape, known))
        for key, value in fields.items():
            if key not in members:
                document[key] = _plain(value)
    else:
        for key, value in error.fields.items():
            if value is not None:
                document[key] = _plain(value)
    document[message_key] = error.message
    return document


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
