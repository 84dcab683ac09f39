"""S3 multipart upload operations (what s3transfer uses for uploads and copies of 8 MiB or more)."""

from __future__ import annotations

import re
from typing import Any, BinaryIO, Iterator
from urllib.parse import quote

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.services.s3 import errors
from sagemaker_emulator.services.s3.checksums import (
    ALGORITHMS,
    COMPOSITE_CAPABLE,
    FULL_OBJECT_CAPABLE,
    ChecksumRequest,
    param_name,
    parse_content_md5,
)
from sagemaker_emulator.services.s3.common import (
    SSE,
    bucket_of,
    check_copy_source_conditions,
    check_owner,
    checksum_members,
    owner,
    parse_copy_source,
    store_of,
    stored_headers,
)
from sagemaker_emulator.services.s3.listing import url_encode
from sagemaker_emulator.services.s3.models import STANDARD, PartInfo, UploadInfo
from sagemaker_emulator.services.s3.multipart import check_part_number

MAX_LISTED = 1000
_COPY_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


@operation("s3", "CreateMultipartUpload")
def create_multipart_upload(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params, write=True)
    algorithm = (params.get("ChecksumAlgorithm") or "").upper() or None
    checksum_type = (params.get("ChecksumType") or "").upper() or None
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise errors.invalid_request("Checksum algorithm provided is unsupported.")
    if checksum_type is not None:
        if algorithm is None:
            raise errors.invalid_request(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            )
        if checksum_type not in ("COMPOSITE", "FULL_OBJECT") or (
            checksum_type == "COMPOSITE" and algorithm not in COMPOSITE_CAPABLE
        ) or (checksum_type == "FULL_OBJECT" and algorithm not in FULL_OBJECT_CAPABLE):
            raise errors.invalid_request(
                f"The {checksum_type} checksum type cannot be used with the {algorithm.lower()} checksum algorithm."
            )
    elif algorithm is not None:
        checksum_type = "COMPOSITE" if algorithm in COMPOSITE_CAPABLE else "FULL_OBJECT"
    upload = store_of(ctx).uploads.create(
        params["Bucket"],
        params["Key"],
        content_type=params.get("ContentType"),
        metadata=params.get("Metadata"),
        headers=stored_headers(params),
        checksum_algorithm=algorithm,
        checksum_type=checksum_type,
    )
    result: dict[str, Any] = {
        "Bucket": upload.bucket,
        "Key": upload.key,
        "UploadId": upload.upload_id,
        "ServerSideEncryption": SSE,
    }
    if algorithm:
        result["ChecksumAlgorithm"] = algorithm
        result["ChecksumType"] = checksum_type
    return result


def _part_result(upload: UploadInfo, part: PartInfo) -> dict[str, Any]:
    result: dict[str, Any] = {"ETag": part.etag}
    if upload.checksum_algorithm and part.checksum:
        result[param_name(upload.checksum_algorithm)] = part.checksum
    return result


@operation("s3", "UploadPart")
def upload_part(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params, write=True)
    uploads = store_of(ctx).uploads
    declared = ChecksumRequest.from_params(params)
    upload = uploads.get(params["Bucket"], params["Key"], params["UploadId"])
    part = uploads.upload_part(
        params["Bucket"],
        params["Key"],
        params["UploadId"],
        check_part_number(params.get("PartNumber")),
        params.get("Body"),
        checksum=declared,
        content_md5=parse_content_md5(params.get("ContentMD5")),
    )
    result = _part_result(upload, part)
    if not upload.checksum_algorithm and declared.algorithm and declared.value:
        # A part of an upload without a declared algorithm still echoes the checksum it was sent.
        result[param_name(declared.algorithm)] = declared.value
    return {**result, "ServerSideEncryption": SSE}


def _range_chunks(handle: BinaryIO, start: int, length: int, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        left = length
        while left > 0:
            chunk = handle.read(min(chunk_size, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


@operation("s3", "UploadPartCopy")
def upload_part_copy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(ctx)
    bucket_of(ctx, params, write=True)
    number = check_part_number(params.get("PartNumber"))
    uploads = store.uploads
    upload = uploads.get(params["Bucket"], params["Key"], params["UploadId"])
    source_bucket, source_key, _ = parse_copy_source(params["CopySource"])
    check_owner(store.get_bucket(source_bucket), params.get("ExpectedSourceBucketOwner"))
    source = store.head_object(source_bucket, source_key)
    check_copy_source_conditions(source, params)
    start, length = 0, source.size
    copy_range = params.get("CopySourceRange")
    if copy_range:
        match = _COPY_RANGE.match(copy_range.strip())
        if not match:
            raise errors.invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last "
                                          "where first and last are the zero-based offsets of the first and last "
                                          "bytes to copy", "x-amz-copy-source-range", copy_range)
        first, last = int(match.group(1)), int(match.group(2))
        if last < first or last >= source.size:
            raise errors.invalid_argument(
                f"Range specified is not valid for source object of size: {source.size}",
                "x-amz-copy-source-range", copy_range,
            )
        start, length = first, last - first + 1
    body = _range_chunks(store.blobs.open(source.blob_id), start, length)
    part = uploads.upload_part(params["Bucket"], params["Key"], upload.upload_id, number, body)
    copy_result = {"LastModified": part.last_modified, **_part_result(upload, part)}
    return {"CopyPartResult": copy_result, "ServerSideEncryption": SSE}


@operation("s3", "CompleteMultipartUpload")
def complete_multipart_upload(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params, write=True)
    parts = (params.get("MultipartUpload") or {}).get("Parts") or []
    info = store_of(ctx).uploads.complete(
        params["Bucket"],
        params["Key"],
        params["UploadId"],
        list(parts),
        checksum=ChecksumRequest.from_params(params, lenient=True),
        if_match=params.get("IfMatch"),
        if_none_match=params.get("IfNoneMatch"),
        expected_size=params.get("MpuObjectSize"),
    )
    host = ctx.headers.get("host") or "localhost"
    return {
        "Location": f"http://{host}/{quote(info.bucket)}/{quote(info.key, safe='/~')}",
        "Bucket": info.bucket,
        "Key": info.key,
        "ETag": info.etag,
        **checksum_members(info),
        "ServerSideEncryption": SSE,
    }


@operation("s3", "AbortMultipartUpload")
def abort_multipart_upload(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params, write=True)
    store_of(ctx).uploads.abort(params["Bucket"], params["Key"], params["UploadId"])
    return {}


@operation("s3", "ListParts")
def list_parts(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params)
    store = store_of(ctx)
    upload = store.uploads.get(params["Bucket"], params["Key"], params["UploadId"])
    marker = int(params.get("PartNumberMarker") or 0)
    max_parts = int(params.get("MaxParts") if params.get("MaxParts") is not None else MAX_LISTED)
    max_parts = max(0, min(max_parts, MAX_LISTED))
    parts = store.uploads.list_parts(upload.upload_id, after=marker)
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    result: dict[str, Any] = {
        "Bucket": upload.bucket,
        "Key": upload.key,
        "UploadId": upload.upload_id,
        "PartNumberMarker": marker,
        "MaxParts": max_parts,
        "IsTruncated": truncated,
        "Initiator": {"ID": store.owner_id, "DisplayName": owner(store)["DisplayName"]},
        "Owner": owner(store),
        "StorageClass": upload.headers.get("StorageClass") or STANDARD,
    }
    if parts:
        result["NextPartNumberMarker"] = parts[-1].part_number
        result["Parts"] = [
            {"PartNumber": p.part_number, "LastModified": p.last_modified, "ETag": p.etag, "Size": p.size,
             **({param_name(upload.checksum_algorithm): p.checksum}
                if upload.checksum_algorithm and p.checksum else {})}
            for p in parts
        ]
    if upload.checksum_algorithm:
        result["ChecksumAlgorithm"] = upload.checksum_algorithm
        result["ChecksumType"] = upload.checksum_type
    return result


@operation("s3", "ListMultipartUploads")
def list_multipart_uploads(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket_of(ctx, params)
    store = store_of(ctx)
    encoding = params.get("EncodingType")
    encode = url_encode if encoding == "url" else (lambda value: value)
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or None
    key_marker = params.get("KeyMarker") or None
    upload_id_marker = params.get("UploadIdMarker") or None
    max_uploads = int(params.get("MaxUploads") if params.get("MaxUploads") is not None else MAX_LISTED)
    max_uploads = max(0, min(max_uploads, MAX_LISTED))
    entries: list[Any] = []
    truncated = False
    for upload in store.uploads.list_uploads(params["Bucket"], prefix, key_marker, upload_id_marker):
        if delimiter:
            index = upload.key.find(delimiter, len(prefix))
            if index >= 0:
                common = upload.key[: index + len(delimiter)]
                if (key_marker is None or common > key_marker) and common not in entries:
                    if len(entries) >= max_uploads:
                        truncated = True
                        break
                    entries.append(common)
                continue
        if len(entries) >= max_uploads:
            truncated = True
            break
        entries.append(upload)
    uploads = [e for e in entries if isinstance(e, UploadInfo)]
    result: dict[str, Any] = {
        "Bucket": params["Bucket"],
        "KeyMarker": encode(key_marker or ""),
        "UploadIdMarker": upload_id_marker or "",
        "MaxUploads": max_uploads,
        "IsTruncated": truncated,
        "Prefix": encode(prefix),
    }
    if delimiter:
        result["Delimiter"] = encode(delimiter)
    if encoding:
        result["EncodingType"] = encoding
    if truncated and entries:
        last = entries[-1]
        if isinstance(last, UploadInfo):
            result["NextKeyMarker"] = encode(last.key)
            result["NextUploadIdMarker"] = last.upload_id
        else:
            result["NextKeyMarker"] = encode(last)
    if uploads:
        result["Uploads"] = [
            {
                "UploadId": u.upload_id,
                "Key": encode(u.key),
                "Initiated": u.initiated,
                "StorageClass": u.headers.get("StorageClass") or STANDARD,
                "Owner": owner(store),
                "Initiator": {"ID": store.owner_id, "DisplayName": owner(store)["DisplayName"]},
                **({"ChecksumAlgorithm": u.checksum_algorithm, "ChecksumType": u.checksum_type}
                   if u.checksum_algorithm else {}),
            }
            for u in uploads
        ]
    common_prefixes = [e for e in entries if isinstance(e, str)]
    if common_prefixes:
        result["CommonPrefixes"] = [{"Prefix": encode(p)} for p in common_prefixes]
    return result

