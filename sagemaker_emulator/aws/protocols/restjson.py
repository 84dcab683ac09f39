"""REST-JSON (SageMaker Runtime): members in the URI, query string and headers; the rest in a JSON
body, or a raw payload (``InvokeEndpoint``'s ``Body``) sent and returned as is.

Errors: ``x-amzn-ErrorType: Code`` and a JSON body with the message and modelled members
(``ModelError`` carries ``OriginalStatusCode``, ``OriginalMessage``, ``LogStreamArn``).
"""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols import json_body
from sagemaker_emulator.aws.protocols.awsjson import error_document
from sagemaker_emulator.aws.protocols.base import HttpResponse
from sagemaker_emulator.aws.protocols.common import error_headers
from sagemaker_emulator.aws.protocols.rest import RestProtocol


class RestJsonProtocol(RestProtocol):
    name = "rest-json"
    content_type = "application/json"

    def bad_request(self, message: str) -> AwsError:
        return AwsError("SerializationException", message, 400)

    def unknown_operation(self, name: str) -> AwsError:
        return AwsError(
            "UnknownOperationException",
            f"No operation of service {self.service} matches {name}.",
            404,
        )

    def read_body(self, shape, body: bytes) -> dict[str, Any]:
        document = json_body.loads(body)
        if not isinstance(document, dict):
            raise json_body.serialization_error("The request body must be a JSON object.")
        return json_body.read(shape, document)

    def read_payload(self, member, name: str, body: bytes) -> Any:
        return json_body.read(member, json_body.loads(body))

    def write_body(self, op, shape, members, response: HttpResponse) -> bytes:
        response.headers.setdefault("Content-Type", self.content_type)
        return json_body.dumps(json_body.write(shape, members))

    def write_payload(self, member, name: str, value, response: HttpResponse) -> bytes:
        response.headers.setdefault("Content-Type", self.content_type)
        return json_body.dumps(json_body.write(member, value))

    def serialize_error(self, error: AwsError, op, request_id, request) -> HttpResponse:
        document = error_document(self, error)
        headers = {
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": error.code,
            "Content-Type": self.content_type,
        }
        body = b"" if request.method == "HEAD" else json_body.dumps(document)
        return HttpResponse(error.status, error_headers(error, headers), body)
