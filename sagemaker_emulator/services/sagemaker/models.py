"""Model operations: CreateModel, DescribeModel, ListModels, DeleteModel."""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import validation_exception
from sagemaker_emulator.services.sagemaker.common import already_exists, arn, could_not_find, list_page, list_result, pick
from sagemaker_emulator.services.sagemaker.store import public, utcnow

KIND = "Model"
LABEL = "model"


def primary_container(model: dict[str, Any]) -> dict[str, Any]:
    """The container that serves: PrimaryContainer, or the first of Containers."""
    if model.get("PrimaryContainer"):
        return model["PrimaryContainer"]
    return (model.get("Containers") or [{}])[0]


def get_model(ctx: RequestContext, name: str) -> dict[str, Any]:
    document = ctx.emulator.resources.get(KIND, name)
    if document is None:
        raise could_not_find(LABEL, arn(ctx, "model", name))
    return document


@operation("sagemaker", "CreateModel")
def create_model(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.emulator.resources
    name = params["ModelName"]
    model_arn = arn(ctx, "model", name)
    if not params.get("PrimaryContainer") and not params.get("Containers"):
        raise validation_exception("Either PrimaryContainer or Containers must be specified.")
    containers = [params["PrimaryContainer"]] if params.get("PrimaryContainer") else params["Containers"]
    for container in containers:
        if not container.get("Image") and not container.get("ModelPackageName"):
            raise validation_exception("Each container must specify an Image.")
    document = {
        "ModelName": name,
        "ModelArn": model_arn,
        "CreationTime": utcnow(),
        "EnableNetworkIsolation": bool(params.get("EnableNetworkIsolation", False)),
        **pick(params, "PrimaryContainer", "Containers", "InferenceExecutionConfig", "ExecutionRoleArn", "VpcConfig"),
    }
    if not store.insert(KIND, name, model_arn, document):
        raise already_exists(LABEL, model_arn)
    if params.get("Tags"):
        store.add_tags(model_arn, params["Tags"])
    return {"ModelArn": model_arn}


@operation("sagemaker", "DescribeModel")
def describe_model(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return public(get_model(ctx, params["ModelName"]))


@operation("sagemaker", "ListModels")
def list_models(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    summaries, next_token = list_page(
        ctx.emulator.resources.documents(KIND),
        params,
        name_key="ModelName",
        status_key=None,
        sort_keys={"Name": "ModelName", "CreationTime": "CreationTime"},
        summarize=lambda doc: pick(doc, "ModelName", "ModelArn", "CreationTime"),
    )
    return list_result("Models", summaries, next_token)


@operation("sagemaker", "DeleteModel")
def delete_model(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelName"]
    if ctx.emulator.resources.delete(KIND, name) is None:
        raise could_not_find(LABEL, arn(ctx, "model", name))
    return {}
