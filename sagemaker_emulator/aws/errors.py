"""The AWS error model: operations raise these; only the protocol layer turns them into bytes."""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An error as AWS reports it: a code, a message, an HTTP status and who is at fault.

    ``fields`` holds extra modelled members the protocol serializes next to the code and message
    (for example S3's ``BucketName`` or the runtime's ``OriginalStatusCode``); ``headers`` are
    extra response headers.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        sender_fault: bool = True,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def validation_exception(message: str) -> AwsError:
    """SageMaker's and CloudWatch's generic bad-request error."""
    return AwsError("ValidationException", message, 400)


def resource_in_use(message: str) -> AwsError:
    return AwsError("ResourceInUse", message, 400)


def resource_not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message, 400)


def internal_failure(request_id: str) -> AwsError:
    return AwsError(
        "InternalFailure",
        f"The request processing has failed because of an unknown error (request id {request_id}).",
        500,
        sender_fault=False,
    )


def not_implemented(service: str, operation: str) -> AwsError:
    return AwsError(
        "NotImplemented",
        f"The operation {operation} of service {service} is not implemented by sagemaker-emulator.",
        501,
        sender_fault=False,
    )
