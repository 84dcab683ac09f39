"""S3 operations on buckets and objects (multipart uploads: ``multipart_operations``).

Handlers take the operation's input members as botocore's client would (``Bucket``, ``Key``,
``Body`` bytes or a binary file, ``Metadata`` dict, ``Range``, ...) and return its output members
as botocore's parser would hand them back. Two conventions the protocol layer honours:

* ``"ResponseMetadata": {"HTTPStatusCode": 206}`` in a result asks for that HTTP status (S3's
  model has no status member for GetObject/HeadObject); every other success uses the model's.
* ``Body`` of GetObject is a :class:`~sagemaker_emulator.aws.payload.FileBody` over the object's
  immutable blob file, streamed by the gateway.
"""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.payload import FileBody
from sagemaker_emulator.services.s3 import errors
from sagemaker_emulator.services.s3.checksums import ChecksumRequest, parse_content_md5
from sagemaker_emulator.services.s3.common import (
    SSE,
    bucket_of,
    check_copy_source_conditions,
    check_owner,
    check_read_conditions,
    checksum_members,
    object_members,
    owner,
    parse_copy_source,
    parse_range,
    request_region,
    store_of,
    stored_headers,
    with_status,
)
from sagemaker_emulator.services.s3.listing import (
    decode_token,
    encode_token,
    list_page,
    parse_max_keys,
    url_encode,
)
from sagemaker_emulator.services.s3.models import ObjectInfo
from sagemaker_emulator.services.s3.store import DEFAULT_CONTENT_TYPE

US_EAST_1 = "us-east-1"
MAX_DELETE_OBJECTS = 1000

# -- buckets -----------------------------------------------------------------------------------


@operation("s3", "CreateBucket")
def create_bucket(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(ctx)
    name = params["Bucket"]
    constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint") or None
    region = request_region(ctx)
    if constraint == US_EAST_1:
        raise errors.invalid_location_constraint(constraint)
    if region != US_EAST_1 and constraint != region:
        # Only the us-east-1 (global) endpoint may create buckets in other regions.
        raise errors.illegal_location_constraint(constraint)
    bucket_region = constraint or US_EAST_1
    try:
        store.create_bucket(name, bucket_region)
    except errors.BucketAlreadyOwnedByYou:
        existing = store.get_bucket(name)
        if existing.owner != store.account_id:
            raise errors.BucketAlreadyExists(name) from None
        # S3 answers 200 to an owner re-creating a us-east-1 bucket through us-east-1 (legacy
        # behaviour, relied upon by scripts that "ensure" a bucket); everywhere else it is a 409.
        if not (region == US_EAST_1 and existing.region == US_EAST_1 and constraint is None):
            raise
    return {"Location": f"/{name}"}


@operation("s3", "HeadBucket")
def head_bucket(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(ctx, params)
    return {"BucketRegion": bucket.region, "AccessPointAlias": False}


@operation("s3", "ListBuckets")
def list_buckets(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(ctx)
    prefix = params.get("Prefix") or ""
    region_filter = params.get("BucketRegion")
    after = None
    token = params.get("ContinuationToken")
    if token:
        after = decode_token(token)
    limit = params.get("MaxBuckets")
    if limit is not None and not 1 <= int(limit) <= 10000:
        raise errors.invalid_argument("Argument max-buckets must be an integer between 1 and 10000",
                                      "max-buckets", limit)
    buckets = [
        b for b in store.list_buckets()
        if b.owner == store.account_id and b.name.startswith(prefix) and (not region_filter or b.region == region_filter)
        and (after is None or b.name > after)
    ]
    result: dict[str, Any] = {}
    if limit is not None and len(buckets) > int(limit):
        buckets = buckets[: int(limit)]
        result["ContinuationToken"] = encode_token(buckets[-1].name)
    result["Buckets"] = [
        {"Name": b.name, "CreationDate": b.created, "BucketRegion": b.region} for b in buckets
    ]
    result["Owner"] = owner(store)
    if params.get("Prefix") is not None:
        result["Prefix"] = prefix
    return result


@operation("s3", "DeleteBucket")
def delete_bucket(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params, write=True)
    store_of(ctx).delete_bucket(params["Bucket"])
    return {}


@operation("s3", "GetBucketLocation")
def get_bucket_location(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(ctx, params)
    # us-east-1 buckets report an empty LocationConstraint.
    return {} if bucket.region == US_EAST_1 else {"LocationConstraint": bucket.region}


# -- objects -----------------------------------------------------------------------------------


@operation("s3", "PutObject")
def put_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params, write=True)
    info = store_of(ctx).put_object(
        params["Bucket"],
        params["Key"],
        params.get("Body"),
        content_type=params.get("ContentType"),
        metadata=params.get("Metadata"),
        headers=stored_headers(params),
        checksum=ChecksumRequest.from_params(params),
        content_md5=parse_content_md5(params.get("ContentMD5")),
        if_match=params.get("IfMatch"),
        if_none_match=params.get("IfNoneMatch"),
    )
    return {"ETag": info.etag, "ServerSideEncryption": SSE, **checksum_members(info)}


def _read(ctx: RequestContext, params: dict[str, Any]) -> tuple[ObjectInfo, dict[str, Any], int, int]:
    """Shared by GetObject and HeadObject: the object, its output members and the byte span."""
    bucket_of(ctx, params)
    info = store_of(ctx).head_object(params["Bucket"], params["Key"])
    check_read_conditions(info, params)
    whole = True
    start, length = 0, info.size
    result: dict[str, Any] = {}
    part_number = params.get("PartNumber")
    if part_number is not None:
        number = int(part_number)
        sizes = info.part_sizes or (info.size,)
        if not 1 <= number <= len(sizes):
            raise errors.invalid_part_number(number, len(sizes))
        if info.part_sizes:
            start, length = sum(sizes[: number - 1]), sizes[number - 1]
            result["PartsCount"] = len(sizes)
            whole = False
    else:
        span = parse_range(params.get("Range"), info.size)
        if span is not None:
            start, length = span[0], span[1] - span[0] + 1
            whole = False
    with_checksum = params.get("ChecksumMode") == "ENABLED" and whole
    result.update(object_members(info, params, with_checksum=with_checksum))
    result["ContentLength"] = length
    if not whole:
        result["ContentRange"] = f"bytes {start}-{start + length - 1}/{info.size}" if length else f"bytes */{info.size}"
        with_status(result, 206)
    return info, result, start, length


@operation("s3", "GetObject")
def get_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    info, result, start, length = _read(ctx, params)
    result["Body"] = FileBody(store_of(ctx).blobs.path(info.blob_id), start, length)
    return result


@operation("s3", "HeadObject")
def head_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _, result, _, _ = _read(ctx, params)
    return result


@operation("s3", "CopyObject")
def copy_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(ctx)
    bucket_of(ctx, params, write=True)
    source_bucket, source_key, _ = parse_copy_source(params["CopySource"])
    check_owner(store.get_bucket(source_bucket), params.get("ExpectedSourceBucketOwner"))
    source = store.head_object(source_bucket, source_key)
    check_copy_source_conditions(source, params)
    directive = (params.get("MetadataDirective") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise errors.invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", directive)
    checksum_algorithm = (params.get("ChecksumAlgorithm") or "").upper() or None
    headers = stored_headers(params)
    same = (source_bucket, source_key) == (params["Bucket"], params["Key"])
    if same and directive == "COPY" and not headers and checksum_algorithm is None:
        raise errors.invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the "
            "object's metadata, storage class, website redirect location or encryption attributes."
        )
    if directive == "REPLACE":
        content_type = params.get("ContentType") or DEFAULT_CONTENT_TYPE
        metadata = params.get("Metadata") or {}
        new_headers = headers
    else:
        content_type, metadata = None, None
        new_headers = {**source.headers, **headers} if headers else None
    info = store.copy_object(
        source,
        params["Bucket"],
        params["Key"],
        content_type=content_type,
        metadata=metadata,
        headers=new_headers,
        checksum_algorithm=checksum_algorithm,
    )
    copy_result = {"ETag": info.etag, "LastModified": info.last_modified, **checksum_members(info)}
    return {"CopyObjectResult": copy_result, "ServerSideEncryption": SSE}


@operation("s3", "DeleteObject")
def delete_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params, write=True)
    store_of(ctx).delete_object(params["Bucket"], params["Key"])
    return {}


@operation("s3", "DeleteObjects")
def delete_objects(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params, write=True)
    request = params.get("Delete") or {}
    objects = request.get("Objects") or []
    if not objects or len(objects) > MAX_DELETE_OBJECTS:
        raise errors.malformed_xml()
    store = store_of(ctx)
    deleted: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for item in objects:
        key = item.get("Key")
        try:
            store.delete_object(params["Bucket"], key)
        except errors.S3Error as error:
            failed.append({"Key": key, "Code": error.code, "Message": error.message})
            continue
        entry = {"Key": key}
        if item.get("VersionId"):
            entry["VersionId"] = item["VersionId"]
        deleted.append(entry)
    result: dict[str, Any] = {}
    if deleted and not request.get("Quiet"):
        result["Deleted"] = deleted
    if failed:
        result["Errors"] = failed
    return result


# -- listing -----------------------------------------------------------------------------------


def _encoder(params: dict[str, Any]):
    encoding = params.get("EncodingType")
    if encoding is None:
        return lambda value: value
    if encoding != "url":
        raise errors.invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", encoding)
    return url_encode


def _contents(ctx: RequestContext, objects: list[ObjectInfo], encode: Any, with_owner: bool) -> list[dict[str, Any]]:
    store = store_of(ctx)
    contents = []
    for info in objects:
        entry: dict[str, Any] = {
            "Key": encode(info.key),
            "LastModified": info.last_modified,
            "ETag": info.etag,
            "Size": info.size,
            "StorageClass": info.storage_class,
        }
        if info.checksum is not None:
            entry["ChecksumAlgorithm"] = [info.checksum.algorithm]
            entry["ChecksumType"] = info.checksum.type
        if with_owner:
            entry["Owner"] = owner(store)
        contents.append(entry)
    return contents


@operation("s3", "ListObjectsV2")
def list_objects_v2(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params)
    encode = _encoder(params)
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or None
    max_keys = parse_max_keys(params.get("MaxKeys"))
    token = params.get("ContinuationToken")
    start_after = params.get("StartAfter")
    marker = decode_token(token) if token else (start_after or None)
    page = list_page(store_of(ctx), params["Bucket"], prefix, delimiter, marker, max_keys)
    result: dict[str, Any] = {
        "IsTruncated": page.is_truncated,
        "Name": params["Bucket"],
        "Prefix": encode(prefix),
        "MaxKeys": max_keys,
        "KeyCount": len(page.entries),
    }
    contents = _contents(ctx, page.objects, encode, bool(params.get("FetchOwner")))
    if contents:
        result["Contents"] = contents
    if delimiter:
        result["Delimiter"] = encode(delimiter)
    if page.common_prefixes:
        result["CommonPrefixes"] = [{"Prefix": encode(p)} for p in page.common_prefixes]
    if params.get("EncodingType"):
        result["EncodingType"] = params["EncodingType"]
    if token:
        result["ContinuationToken"] = token
    if start_after:
        result["StartAfter"] = encode(start_after)
    if page.is_truncated and page.last is not None:
        result["NextContinuationToken"] = encode_token(page.last)
    return result


@operation("s3", "ListObjects")
def list_objects(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params)
    encode = _encoder(params)
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or None
    max_keys = parse_max_keys(params.get("MaxKeys"))
    marker = params.get("Marker") or None
    page = list_page(store_of(ctx), params["Bucket"], prefix, delimiter, marker, max_keys)
    result: dict[str, Any] = {
        "IsTruncated": page.is_truncated,
        "Marker": encode(marker or ""),
        "Name": params["Bucket"],
        "Prefix": encode(prefix),
        "MaxKeys": max_keys,
    }
    contents = _contents(ctx, page.objects, encode, True)
    if contents:
        result["Contents"] = contents
    if delimiter:
        result["Delimiter"] = encode(delimiter)
    if page.common_prefixes:
        result["CommonPrefixes"] = [{"Prefix": encode(p)} for p in page.common_prefixes]
    if params.get("EncodingType"):
        result["EncodingType"] = params["EncodingType"]
    # Like S3: NextMarker only with a delimiter; otherwise clients continue from the last key.
    if page.is_truncated and delimiter and page.last is not None:
        result["NextMarker"] = encode(page.last)
    return result


# Importing registers the multipart handlers.
from sagemaker_emulator.services.s3 import multipart_operations  # noqa: E402,F401
