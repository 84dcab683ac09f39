"""sagemaker-runtime InvokeEndpoint: forwards the payload to one of the endpoint's instances.

A container's 4xx/5xx answer becomes ModelError (HTTP 424) carrying the original status and
message, as SageMaker reports it; never a 5xx of our own for a bad payload.
"""

from __future__ import annotations

from typing import Any

import httpx

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.services.sagemaker.hosting import KIND, LOG_GROUP_PREFIX

FORWARDED_HEADERS = (
    ("ContentType", "Content-Type"),
    ("Accept", "Accept"),
    ("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    ("InferenceId", "X-Amzn-SageMaker-Inference-Id"),
    ("TargetModel", "X-Amzn-SageMaker-Target-Model"),
)


def _validation_error(message: str) -> AwsError:
    return AwsError("ValidationError", message, 400)


@operation("sagemaker-runtime", "InvokeEndpoint")
async def invoke_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    hosting = ctx.emulator.hosting
    name = params["EndpointName"]
    live = hosting.live_endpoint(name)
    if live is None:
        document = ctx.emulator.resources.get(KIND, name)
        if document is None:
            raise _validation_error(f"Endpoint {name} of account {ctx.account_id} not found.")
        raise _validation_error(
            f"Endpoint {name} of account {ctx.account_id} is not ready to serve requests "
            f"(status {document['EndpointStatus']})."
        )
    variant, instance = live.choose(params.get("TargetVariant"))
    headers = {header: params[member] for member, header in FORWARDED_HEADERS if params.get(member)}
    try:
        response = await hosting.http_client().post(
            instance.url + "/invocations", content=params.get("Body") or b"", headers=headers
        )
    except httpx.HTTPError as error:
        raise AwsError(
            "ModelError",
            f"Received server error (0) from {variant.name} with message \"{error}\". "
            + _log_hint(ctx, name),
            424,
            fields={"OriginalStatusCode": 500, "OriginalMessage": str(error), "LogStreamArn": _log_arn(ctx, name)},
        ) from None
    if response.status_code >= 400:
        kind = "client" if response.status_code < 500 else "server"
        original = response.text
        raise AwsError(
            "ModelError",
            f"Received {kind} error ({response.status_code}) from {variant.name} with message \"{original}\". "
            + _log_hint(ctx, name),
            424,
            fields={
                "OriginalStatusCode": response.status_code,
                "OriginalMessage": original,
                "LogStreamArn": _log_arn(ctx, name),
            },
        )
    result: dict[str, Any] = {
        "Body": response.content,
        "ContentType": response.headers.get("content-type", "application/octet-stream"),
        "InvokedProductionVariant": variant.name,
    }
    attributes = response.headers.get("x-amzn-sagemaker-custom-attributes")
    if attributes:
        result["CustomAttributes"] = attributes
    return result


def _log_arn(ctx: RequestContext, name: str) -> str:
    return f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{LOG_GROUP_PREFIX}{name}"


def _log_hint(ctx: RequestContext, name: str) -> str:
    return (
        f"See https://{ctx.region}.console.aws.amazon.com/cloudwatch/home?region={ctx.region}"
        f"#logEventViewer:group={LOG_GROUP_PREFIX}{name} in account {ctx.account_id} for more information."
    )
