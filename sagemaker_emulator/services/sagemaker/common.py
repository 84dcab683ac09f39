"""Helpers shared by the SageMaker operations: ARNs, AWS's error wording, List* filtering and paging."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Callable, Iterable

from sagemaker_emulator.aws.dispatch import RequestContext
from sagemaker_emulator.aws.errors import AwsError, validation_exception


def arn(ctx: RequestContext, resource_type: str, name: str) -> str:
    return f"arn:aws:sagemaker:{ctx.region}:{ctx.account_id}:{resource_type}/{name.lower()}"


def could_not_find(label: str, resource_arn: str) -> AwsError:
    """AWS's wording for a missing model, endpoint configuration or endpoint."""
    return validation_exception(f'Could not find {label} "{resource_arn}".')


def already_exists(label: str, resource_arn: str) -> AwsError:
    """AWS's wording for a duplicate model, endpoint configuration or endpoint name (a ValidationException)."""
    return validation_exception(f'Cannot create already existing {label} "{resource_arn}".')


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise validation_exception("Invalid pagination token given.")


def list_page(
    documents: Iterable[dict[str, Any]],
    params: dict[str, Any],
    *,
    name_key: str,
    status_key: str | None,
    sort_keys: dict[str, str],
    summarize: Callable[[dict[str, Any]], dict[str, Any]],
    default_sort: str = "CreationTime",
    default_order: str = "Descending",
    extra_filter: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Filter, sort and page documents the way SageMaker's List* operations do.

    Understands NameContains, StatusEquals, CreationTimeAfter/Before, LastModifiedTimeAfter/Before,
    SortBy (mapped to a document key through ``sort_keys``), SortOrder, MaxResults and NextToken.
    """
    name_contains = (params.get("NameContains") or "").lower()
    status_equals = params.get("StatusEquals")

    def keep(document: dict[str, Any]) -> bool:
        if name_contains and name_contains not in document[name_key].lower():
            return False
        if status_equals and status_key and document.get(status_key) != status_equals:
            return False
        if not _in_range(document.get("CreationTime"), params.get("CreationTimeAfter"), params.get("CreationTimeBefore")):
            return False
        if not _in_range(
            document.get("LastModifiedTime"), params.get("LastModifiedTimeAfter"), params.get("LastModifiedTimeBefore")
        ):
            return False
        return extra_filter(document) if extra_filter else True

    selected = [document for document in documents if keep(document)]
    sort_by = params.get("SortBy") or default_sort
    sort_key = sort_keys.get(sort_by, sort_keys[default_sort])
    descending = (params.get("SortOrder") or default_order) == "Descending"
    selected.sort(key=lambda document: _sortable(document.get(sort_key)), reverse=descending)

    offset = decode_token(params.get("NextToken"))
    limit = params.get("MaxResults") or 10
    page = selected[offset : offset + limit]
    next_token = encode_token(offset + limit) if offset + limit < len(selected) else None
    return [summarize(document) for document in page], next_token


def _in_range(value: datetime | None, after: datetime | None, before: datetime | None) -> bool:
    if value is None:
        return after is None and before is None
    if after is not None and not value > after:
        return False
    if before is not None and not value < before:
        return False
    return True


def _sortable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        return value.lower()
    return value if value is not None else ""


def pick(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: document[key] for key in keys if key in document and document[key] is not None}
