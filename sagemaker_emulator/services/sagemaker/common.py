"""Helpers shared by the SageMaker operations: ARNs, AWS's error wording, List* filtering and paging."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ListSemantics:
    """Where the List* operations differ, as their API reference documents them."""

    creation_time_after_inclusive: bool  # CreationTimeAfter: "created after" or "greater than or equal to"
    status_filters_the_page: bool = False  # StatusEquals applies after MaxResults has cut the page


# Keyed by the summaries' name member. ListTrainingJobs: "created after"; and "When StatusEquals and
# MaxResults are set at the same time, the MaxResults number of training jobs are first retrieved
# ignoring the StatusEquals parameter and then they are filtered by the StatusEquals parameter".
# ListModels, ListEndpointConfigs, ListEndpoints: "a creation time greater than or equal to".
LIST_SEMANTICS = {
    "TrainingJobName": ListSemantics(creation_time_after_inclusive=False, status_filters_the_page=True),
    "ModelName": ListSemantics(creation_time_after_inclusive=True),
    "EndpointConfigName": ListSemantics(creation_time_after_inclusive=True),
    "EndpointName": ListSemantics(creation_time_after_inclusive=True),
}
DEFAULT_LIST_SEMANTICS = ListSemantics(creation_time_after_inclusive=False)
DEFAULT_MAX_RESULTS = 10  # ListEndpoints documents 10; the others document none


def list_result(member: str, summaries: list[dict[str, Any]], next_token: str | None) -> dict[str, Any]:
    """A List* answer: the summaries under ``member``, and NextToken when there is more."""
    result: dict[str, Any] = {member: summaries}
    if next_token:
        result["NextToken"] = next_token
    return result


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

    Understands NameContains (case-insensitive, as names are), StatusEquals, CreationTimeAfter/Before,
    LastModifiedTimeAfter/Before (strict bounds, except CreationTimeAfter where the operation
    documents "greater than or equal to"), SortBy (mapped to a document key through ``sort_keys``),
    SortOrder (``default_order`` when absent: each operation documents its own), MaxResults
    (default 10) and NextToken. Documents without a value to sort on come last in either order;
    ties go by name, in the same direction. ``documents`` are only read, never changed.
    """
    semantics = LIST_SEMANTICS.get(name_key, DEFAULT_LIST_SEMANTICS)
    name_contains = (params.get("NameContains") or "").lower()
    status_equals = params.get("StatusEquals") if status_key else None
    limit = params.get("MaxResults") or DEFAULT_MAX_RESULTS
    status_after_page = bool(status_equals and semantics.status_filters_the_page and params.get("MaxResults"))
    created_after, created_before = params.get("CreationTimeAfter"), params.get("CreationTimeBefore")
    modified_after, modified_before = params.get("LastModifiedTimeAfter"), params.get("LastModifiedTimeBefore")

    def keep(document: dict[str, Any]) -> bool:
        if name_contains and name_contains not in document[name_key].lower():
            return False
        if status_equals and not status_after_page and document.get(status_key) != status_equals:
            return False
        if not _in_range(document.get("CreationTime"), created_after, created_before,
                         after_inclusive=semantics.creation_time_after_inclusive):
            return False
        if not _in_range(document.get("LastModifiedTime"), modified_after, modified_before):
            return False
        return extra_filter(document) if extra_filter else True

    selected = [document for document in documents if keep(document)]
    sort_key = sort_keys.get(params.get("SortBy") or default_sort, sort_keys[default_sort])

    def value_of(document: dict[str, Any]) -> Any:
        return document.get(sort_key)

    descending = (params.get("SortOrder") or default_order) == "Descending"
    present = [document for document in selected if value_of(document) is not None]
    missing = [document for document in selected if value_of(document) is None]
    present.sort(key=lambda document: (_sortable(value_of(document)), document[name_key]), reverse=descending)
    missing.sort(key=lambda document: document[name_key])
    ordered = present + missing

    offset = decode_token(params.get("NextToken"))
    page = ordered[offset : offset + limit]
    next_token = encode_token(offset + limit) if offset + limit < len(ordered) else None
    if status_after_page:
        page = [document for document in page if document.get(status_key) == status_equals]
    return [summarize(document) for document in page], next_token


def _in_range(
    value: datetime | None, after: datetime | None, before: datetime | None, after_inclusive: bool = False
) -> bool:
    if value is None:
        return after is None and before is None
    if after is not None and not (value >= after if after_inclusive else value > after):
        return False
    if before is not None and not value < before:
        return False
    return True


def _sortable(value: Any) -> Any:
    if isinstance(value, datetime):
        return (0, value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, str):
        return (1, value.lower())
    return (2, str(value))


def pick(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: document[key] for key in keys if key in document and document[key] is not None}
