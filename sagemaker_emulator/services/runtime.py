"""sagemaker-runtime InvokeEndpoint: forwards the payload to one of the endpoint's instances.

A container's 4xx/5xx answer becomes ModelError (HTTP 424) carrying the original status and
message, as SageMaker reports it; never a 5xx of our own for a bad payload.
"""

from __future__ import annotations

from typing import Any

import aiohttp

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
    routed = hosting.route(name, params.get("TargetVariant"))  # counted in flight until released
    if routed is None:
        document = ctx.emulator.resources.get(KIND, name)
        if document is None:
            raise _validation_error(f"Endpoint {name} of account {ctx.account_id} not found.")
        raise _validation_error(
            f"Endpoint {name} of account {ctx.account_id} is not ready to serve requests "
            f"(status {document['EndpointStatus']})."
        )
    variant, instance = routed
    headers = {header: params[member] for member, header in FORWARDED_HEADERS if params.get(member)}
    try:
        async with hosting.http_client().post(
            instance.url + "/invocations", data=params.get("Body") or b"", headers=headers
        ) as response:
            status = response.status
            content = await response.read()
            response_headers = response.headers
    except (aiohttp.ClientError, TimeoutError) as error:
        raise AwsError(
            "ModelError",
            f"Received server error (0) from {variant.name} with message \"{error}\". "
            + _log_hint(ctx, name),
            424,
            fields={"OriginalStatusCode": 500, "OriginalMessage": str(error), "LogStreamArn": _log_arn(ctx, name)},
        ) from None
    finally:
        hosting.release(instance)
    if status >= 400:
        kind = "client" if status < 500 else "server"
        original = content.decode("utf-8", errors="replace")
        raise AwsError(
            "ModelError",
            f"Received {kind} error ({status}) from {variant.name} with message \"{original}\". "
            + _log_hint(ctx, name),
            424,
            fields={
                "OriginalStatusCode": status,
                "OriginalMessage": original,
                "LogStreamArn": _log_arn(ctx, name),
            },
        )
    result: dict[str, Any] = {
        "Body": content,
        "ContentType": response_headers.get("content-type", "application/octet-stream"),
        "InvokedProductionVariant": variant.name,
    }
    attributes = response_headers.get("x-amzn-sagemaker-custom-attributes")
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
