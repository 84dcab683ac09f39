"""What the S3 handlers share: reaching the store, bucket-owner checks, conditional requests,
ranges, and turning an :class:`ObjectInfo` into GetObject/HeadObject-shaped output members."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote

from sagemaker_emulator.aws.dispatch import RequestContext
from sagemaker_emulator.services.s3 import errors
from sagemaker_emulator.services.s3.checksums import param_name
from sagemaker_emulator.services.s3.models import STANDARD, BucketInfo, ObjectInfo
from sagemaker_emulator.services.s3.store import ObjectStore, etag_matches

# S3 encrypts every object at rest (SSE-S3) and says so on writes and reads.
SSE = "AES256"


def with_status(result: dict[str, Any], status: int) -> dict[str, Any]:
    """Ask the protocol layer for a status the model does not carry (206 Partial Content): the
    same ``ResponseMetadata.HTTPStatusCode`` botocore shows the client."""
    result["ResponseMetadata"] = {"HTTPStatusCode": status}
    return result
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def store_of(ctx: RequestContext) -> ObjectStore:
    return ctx.emulator.objects


def check_owner(bucket: BucketInfo, expected: str | None) -> None:
    """``x-amz-expected-bucket-owner``: a bucket of another account gets 403 AccessDenied, as on AWS."""
    if expected is not None and str(expected) != bucket.owner:
        raise errors.access_denied()


def bucket_of(
    ctx: RequestContext, params: dict[str, Any], owner_member: str = "ExpectedBucketOwner", *, write: bool = False
) -> BucketInfo:
    """The request's bucket (NoSuchBucket), after the expected-owner check (AccessDenied).

    ``write``: the request changes the bucket, which only its owner may do; the public sample-data
    buckets (owned by AWS) are read-only.
    """
    store = store_of(ctx)
    bucket = store.get_bucket(params["Bucket"])
    check_owner(bucket, params.get(owner_member))
    if write and bucket.owner != store.account_id:
        raise errors.access_denied()
    return bucket


def request_region(ctx: RequestContext) -> str:
    return ctx.region or store_of(ctx).region


def owner(store: ObjectStore) -> dict[str, str]:
    return {"DisplayName": "sagemaker-emulator", "ID": store.owner_id}


def stored_headers(params: dict[str, Any]) -> dict[str, Any]:
    """The request members S3 keeps with an object and returns on GET/HEAD."""
    headers: dict[str, Any] = {}
    for name in ("CacheControl", "ContentDisposition", "ContentLanguage", "Expires", "WebsiteRedirectLocation"):
        if params.get(name) is not None:
            headers[name] = params[name]
    encoding = params.get("ContentEncoding")
    if encoding:  # aws-chunked is a transfer detail, not part of the object
        kept = [e.strip() for e in str(encoding).split(",") if e.strip() and e.strip().lower() != "aws-chunked"]
        if kept:
            headers["ContentEncoding"] = ", ".join(kept)
    storage_class = params.get("StorageClass")
    if storage_class and storage_class != STANDARD:
        headers["StorageClass"] = storage_class
    return headers


def checksum_members(info: ObjectInfo) -> dict[str, Any]:
    if info.checksum is None:
        return {}
    return {param_name(info.checksum.algorithm): info.checksum.value, "ChecksumType": info.checksum.type}


def object_members(info: ObjectInfo, params: dict[str, Any], *, with_checksum: bool) -> dict[str, Any]:
    """GetObject/HeadObject output members (everything but Body, ContentLength, ContentRange)."""
    result: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "LastModified": info.last_modified,
        "ETag": info.etag,
        "ContentType": info.content_type,
        "ServerSideEncryption": SSE,
    }
    for name in ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires",
                 "WebsiteRedirectLocation"):
        if info.headers.get(name) is not None:
            result[name] = info.headers[name]
    if info.storage_class != STANDARD:
        result["StorageClass"] = info.storage_class
    if info.metadata:
        result["Metadata"] = dict(info.metadata)
    if with_checksum:
        result.update(checksum_members(info))
    for member, target in (
        ("ResponseCacheControl", "CacheControl"),
        ("ResponseContentDisposition", "ContentDisposition"),
        ("ResponseContentEncoding", "ContentEncoding"),
        ("ResponseContentLanguage", "ContentLanguage"),
        ("ResponseContentType", "ContentType"),
        ("ResponseExpires", "Expires"),
    ):
        if params.get(member) is not None:
            result[target] = params[member]
    return result


def _utc(value: Any) -> datetime | None:
    if value is None or not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def check_read_conditions(info: ObjectInfo, params: dict[str, Any]) -> None:
    """If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304), as S3
    combines them: a true If-Match overrides a false If-Unmodified-Since, and a false If-None-Match
    overrides a true If-Modified-Since."""
    if_match = params.get("IfMatch")
    unmodified_since = _utc(params.get("IfUnmodifiedSince"))
    if if_match is not None:
        if not etag_matches(if_match, info.etag):
            raise errors.PreconditionFailed("If-Match")
    elif unmodified_since is not None and info.last_modified > unmodified_since:
        raise errors.PreconditionFailed("If-Unmodified-Since")
    if_none_match = params.get("IfNoneMatch")
    modified_since = _utc(params.get("IfModifiedSince"))
    not_modified = False
    if if_none_match is not None:
        not_modified = etag_matches(if_none_match, info.etag)
    elif modified_since is not None:
        not_modified = info.last_modified <= modified_since
    if not_modified:
        raise errors.not_modified({"ETag": info.etag, "Last-Modified": format_datetime(info.last_modified, usegmt=True)})


def check_copy_source_conditions(info: ObjectInfo, params: dict[str, Any]) -> None:
    """The ``x-amz-copy-source-if-*`` conditions; every failure is a 412."""
    if_match = params.get("CopySourceIfMatch")
    unmodified_since = _utc(params.get("CopySourceIfUnmodifiedSince"))
    if if_match is not None:
        if not etag_matches(if_match, info.etag):
            raise errors.PreconditionFailed("x-amz-copy-source-If-Match")
    elif unmodified_since is not None and info.last_modified > unmodified_since:
        raise errors.PreconditionFailed("x-amz-copy-source-If-Unmodified-Since")
    if_none_match = params.get("CopySourceIfNoneMatch")
    modified_since = _utc(params.get("CopySourceIfModifiedSince"))
    if if_none_match is not None:
        if etag_matches(if_none_match, info.etag):
            raise errors.PreconditionFailed("x-amz-copy-source-If-None-Match")
    elif modified_since is not None and info.last_modified <= modified_since:
        raise errors.PreconditionFailed("x-amz-copy-source-If-Modified-Since")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a ``Range`` header asks for, or None for the whole object.

    A header S3 cannot parse (or several ranges) is ignored, as S3 does; a range that starts past
    the end is 416 InvalidRange.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if not match or (match.group(1) == "" and match.group(2) == ""):
        return None
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0 or size == 0:
            raise errors.invalid_range(header, size)
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise errors.invalid_range(header, size)
    return start, min(end, size - 1)


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """``bucket/key`` (percent-encoded, optional leading ``/`` and ``?versionId=``)."""
    source = str(value)
    version = None
    if "?" in source:
        source, _, query = source.partition("?")
        for item in query.split("&"):
            name, _, item_value = item.partition("=")
            if name == "versionId":
                version = unquote(item_value)
    source = unquote(source.lstrip("/"))
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise errors.invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    return bucket, key, version
