"""AddTags, ListTags and DeleteTags on any SageMaker resource ARN."""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import validation_exception

MAX_TAGS = 50


def _require_resource(ctx: RequestContext, resource_arn: str) -> None:
    if ctx.emulator.resources.get_by_arn(resource_arn) is None:
        raise validation_exception(f"Resource {resource_arn} does not exist or is not taggable.")


@operation("sagemaker", "AddTags")
def add_tags(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = ctx.emulator.resources
    resource_arn = params["ResourceArn"]
    _require_resource(ctx, resource_arn)
    existing = {tag["Key"] for tag in store.list_tags(resource_arn)}
    if len(existing | {tag["Key"] for tag in params["Tags"]}) > MAX_TAGS:
        raise validation_exception(f"A resource can have at most {MAX_TAGS} tags.")
    store.add_tags(resource_arn, params["Tags"])
    return {"Tags": params["Tags"]}


@operation("sagemaker", "ListTags")
def list_tags(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    resource_arn = params["ResourceArn"]
    _require_resource(ctx, resource_arn)
    tags = ctx.emulator.resources.list_tags(resource_arn)
    offset = int(params["NextToken"]) if (params.get("NextToken") or "").isdigit() else 0
    limit = params.get("MaxResults") or MAX_TAGS
    result: dict[str, Any] = {"Tags": tags[offset : offset + limit]}
    if offset + limit < len(tags):
        result["NextToken"] = str(offset + limit)
    return result


@operation("sagemaker", "DeleteTags")
def delete_tags(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    resource_arn = params["ResourceArn"]
    _require_resource(ctx, resource_arn)
    ctx.emulator.resources.delete_tags(resource_arn, params["TagKeys"])
    return {}
