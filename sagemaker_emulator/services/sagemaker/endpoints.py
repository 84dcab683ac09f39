"""Endpoint operations: CreateEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpoint, DeleteEndpoint."""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import validation_exception
from sagemaker_emulator.services.sagemaker.common import already_exists, arn, could_not_find, list_page, list_result, pick
from sagemaker_emulator.services.sagemaker.endpoint_configs import get_endpoint_config
from sagemaker_emulator.services.sagemaker.holding import describe_when_settled
from sagemaker_emulator.services.sagemaker.hosting import KIND
from sagemaker_emulator.services.sagemaker.store import public, utcnow

LABEL = "endpoint"
TRANSIENT_STATUSES = ("Creating", "Updating", "SystemUpdating", "Deleting", "RollingBack")


def _config_snapshot(ctx: RequestContext, config_name: str) -> dict[str, Any]:
    config = get_endpoint_config(ctx, config_name)
    return pick(config, "EndpointConfigName", "EndpointConfigArn", "ProductionVariants")


@operation("sagemaker", "CreateEndpoint")
def create_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.emulator.resources
    name = params["EndpointName"]
    endpoint_arn = arn(ctx, "endpoint", name)
    config = _config_snapshot(ctx, params["EndpointConfigName"])
    now = utcnow()
    document = {
        "EndpointName": name,
        "EndpointArn": endpoint_arn,
        "EndpointConfigName": params["EndpointConfigName"],
        "EndpointStatus": "Creating",
        "CreationTime": now,
        "LastModifiedTime": now,
        "_Config": config,
    }
    if params.get("DeploymentConfig"):
        document["LastDeploymentConfig"] = params["DeploymentConfig"]
    if not store.insert(KIND, name, endpoint_arn, document, status="Creating"):
        raise already_exists(LABEL, endpoint_arn)
    if params.get("Tags"):
        store.add_tags(endpoint_arn, params["Tags"])
    ctx.emulator.hosting.deploy(name, config)
    return {"EndpointArn": endpoint_arn}


@operation("sagemaker", "DescribeEndpoint")
async def describe_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.emulator.resources
    name = params["EndpointName"]
    document = await describe_when_settled(
        ctx, lambda: store.get(KIND, name), lambda doc: doc["EndpointStatus"] in TRANSIENT_STATUSES
    )
    if document is None:
        raise could_not_find(LABEL, arn(ctx, "endpoint", name))
    return public(document)


@operation("sagemaker", "ListEndpoints")
def list_endpoints(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    summaries, next_token = list_page(
        ctx.emulator.resources.documents(KIND),
        params,
        name_key="EndpointName",
        status_key="EndpointStatus",
        sort_keys={"Name": "EndpointName", "CreationTime": "CreationTime", "Status": "EndpointStatus"},
        summarize=lambda doc: pick(
            doc, "EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus"
        ),
    )
    return list_result("Endpoints", summaries, next_token)


@operation("sagemaker", "UpdateEndpoint")
def update_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.emulator.resources
    name = params["EndpointName"]
    endpoint_arn = arn(ctx, "endpoint", name)
    config = _config_snapshot(ctx, params["EndpointConfigName"])
    rejected: list[str] = []

    def change(document: dict[str, Any]) -> None:
        if document["EndpointStatus"] != "InService":
            rejected.append(document["EndpointStatus"])
            return
        document["EndpointStatus"] = "Updating"
        document["LastModifiedTime"] = utcnow()

    if store.update(KIND, name, change, status_key="EndpointStatus") is None:
        raise could_not_find(LABEL, endpoint_arn)
    if rejected:
        raise validation_exception(f'Cannot update in-progress endpoint "{endpoint_arn}".')
    ctx.emulator.hosting.deploy(name, config, updating=True)
    return {"EndpointArn": endpoint_arn}


@operation("sagemaker", "DeleteEndpoint")
def delete_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["EndpointName"]
    if ctx.emulator.resources.delete(KIND, name) is None:
        raise could_not_find(LABEL, arn(ctx, "endpoint", name))
    ctx.emulator.hosting.undeploy(name)
    return {}
