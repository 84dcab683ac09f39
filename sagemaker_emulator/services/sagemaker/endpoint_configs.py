"""Endpoint-configuration operations: Create, Describe, List, Delete.

As on SageMaker, a configuration may be deleted while an endpoint still uses it (the SDK's
``delete_endpoint`` deletes the configuration first); the running endpoint keeps what it deployed.
"""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import validation_exception
from sagemaker_emulator.services.sagemaker.common import already_exists, arn, could_not_find, list_page, list_result, pick
from sagemaker_emulator.services.sagemaker.models import get_model
from sagemaker_emulator.services.sagemaker.store import public, utcnow

KIND = "EndpointConfig"
LABEL = "endpoint configuration"


def get_endpoint_config(ctx: RequestContext, name: str) -> dict[str, Any]:
    document = ctx.emulator.resources.get(KIND, name)
    if document is None:
        raise could_not_find(LABEL, arn(ctx, "endpoint-config", name))
    return document


@operation("sagemaker", "CreateEndpointConfig")
def create_endpoint_config(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.emulator.resources
    name = params["EndpointConfigName"]
    config_arn = arn(ctx, "endpoint-config", name)
    variants = []
    seen: set[str] = set()
    for variant in params["ProductionVariants"]:
        if variant["VariantName"] in seen:
            raise validation_exception(f"Variant names must be unique: {variant['VariantName']} appears twice.")
        seen.add(variant["VariantName"])
        if variant.get("ServerlessConfig") is None and not variant.get("InitialInstanceCount"):
            raise validation_exception(
                f"Production variant {variant['VariantName']} needs an InitialInstanceCount (or a ServerlessConfig)."
            )
        get_model(ctx, variant["ModelName"])  # SageMaker checks the model exists now
        variants.append({"InitialVariantWeight": 1.0, **variant})
    document = {
        "EndpointConfigName": name,
        "EndpointConfigArn": config_arn,
        "ProductionVariants": variants,
        "CreationTime": utcnow(),
        **pick(
            params, "DataCaptureConfig", "KmsKeyId", "AsyncInferenceConfig", "ExplainerConfig",
            "ShadowProductionVariants", "ExecutionRoleArn", "VpcConfig", "EnableNetworkIsolation",
        ),
    }
    if not store.insert(KIND, name, config_arn, document):
        raise already_exists(LABEL, config_arn)
    if params.get("Tags"):
        store.add_tags(config_arn, params["Tags"])
    return {"EndpointConfigArn": config_arn}


@operation("sagemaker", "DescribeEndpointConfig")
def describe_endpoint_config(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return public(get_endpoint_config(ctx, params["EndpointConfigName"]))


@operation("sagemaker", "ListEndpointConfigs")
def list_endpoint_configs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    summaries, next_token = list_page(
        ctx.emulator.resources.documents(KIND),
        params,
        name_key="EndpointConfigName",
        status_key=None,
        sort_keys={"Name": "EndpointConfigName", "CreationTime": "CreationTime"},
        summarize=lambda doc: pick(doc, "EndpointConfigName", "EndpointConfigArn", "CreationTime"),
    )
    return list_result("EndpointConfigs", summaries, next_token)


@operation("sagemaker", "DeleteEndpointConfig")
def delete_endpoint_config(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["EndpointConfigName"]
    if ctx.emulator.resources.delete(KIND, name) is None:
        raise could_not_find(LABEL, arn(ctx, "endpoint-config", name))
    return {}
