"""S3's errors, worded as S3 words them.

Each is an :class:`~sagemaker_emulator.aws.errors.AwsError`, so the protocol layer serializes it
(``fields`` become extra elements of S3's ``<Error>`` document, next to ``Code`` and ``Message``).
The ones other services are likely to catch (:class:`NoSuchBucket`, :class:`NoSuchKey`) are
classes; all carry ``code`` as well.
"""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.errors import AwsError


class S3Error(AwsError):
    pass


class NoSuchBucket(S3Error):
    def __init__(self, bucket: str) -> None:
        super().__init__("NoSuchBucket", "The specified bucket does not exist", 404, fields={"BucketName": bucket})


class NoSuchKey(S3Error):
    def __init__(self, key: str) -> None:
        super().__init__("NoSuchKey", "The specified key does not exist.", 404, fields={"Key": key})


class NoSuchUpload(S3Error):
    def __init__(self, upload_id: str) -> None:
        super().__init__(
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
            "aborted or completed.",
            404,
            fields={"UploadId": upload_id},
        )


class BucketNotEmpty(S3Error):
    def __init__(self, bucket: str) -> None:
        super().__init__(
            "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, fields={"BucketName": bucket}
        )


class BucketAlreadyOwnedByYou(S3Error):
    def __init__(self, bucket: str) -> None:
        super().__init__(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
            409,
            fields={"BucketName": bucket},
        )


class BucketAlreadyExists(S3Error):
    def __init__(self, bucket: str) -> None:
        super().__init__(
            "BucketAlreadyExists",
            "The requested bucket name is not available. The bucket namespace is shared by all users of "
            "the system. Please select a different name and try again.",
            409,
            fields={"BucketName": bucket},
        )


class PreconditionFailed(S3Error):
    def __init__(self, condition: str) -> None:
        super().__init__(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            412,
            fields={"Condition": condition},
        )


def invalid_bucket_name(bucket: str) -> S3Error:
    return S3Error("InvalidBucketName", "The specified bucket is not valid.", 400, fields={"BucketName": bucket})


def access_denied() -> S3Error:
    return S3Error("AccessDenied", "Access Denied", 403)


def not_modified(headers: dict[str, str]) -> S3Error:
    """304: S3 sends no body; botocore then reports ``Code == "304"``."""
    return S3Error("NotModified", "Not Modified", 304, headers=headers)


def invalid_range(requested: str, size: int) -> S3Error:
    return S3Error(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        fields={"RangeRequested": requested, "ActualObjectSize": str(size)},
        headers={"Content-Range": f"bytes */{size}"},
    )


def invalid_part_number(requested: int, count: int) -> S3Error:
    return S3Error(
        "InvalidPartNumber",
        "The requested partnumber is not satisfiable",
        416,
        fields={"PartNumberRequested": str(requested), "ActualPartCount": str(count)},
    )


def bad_digest(expected: str, calculated: str) -> S3Error:
    return S3Error(
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
        400,
        fields={"ExpectedDigest": expected, "CalculatedDigest": calculated},
    )


def bad_checksum(algorithm: str) -> S3Error:
    return S3Error("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.", 400)


def invalid_digest(content_md5: str) -> S3Error:
    return S3Error(
        "InvalidDigest", "The Content-MD5 you specified was invalid.", 400, fields={"Content-MD5": content_md5}
    )


def invalid_request(message: str) -> S3Error:
    return S3Error("InvalidRequest", message, 400)


def invalid_argument(message: str, name: str | None = None, value: Any = None) -> S3Error:
    fields: dict[str, Any] = {}
    if name is not None:
        fields["ArgumentName"] = name
        fields["ArgumentValue"] = "" if value is None else str(value)
    return S3Error("InvalidArgument", message, 400, fields=fields)


def invalid_part(upload_id: str, part_number: int, etag: str) -> S3Error:
    return S3Error(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the "
        "specified entity tag may not match the part's entity tag.",
        400,
        fields={"UploadId": upload_id, "PartNumber": str(part_number), "ETag": etag},
    )


def invalid_part_order(upload_id: str) -> S3Error:
    return S3Error(
        "InvalidPartOrder",
        "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
        400,
        fields={"UploadId": upload_id},
    )


def entity_too_small(size: int, minimum: int, part_number: int, etag: str) -> S3Error:
    return S3Error(
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed object size.",
        400,
        fields={
            "ProposedSize": str(size),
            "MinSizeAllowed": str(minimum),
            "PartNumber": str(part_number),
            "ETag": etag,
        },
    )


def malformed_xml() -> S3Error:
    return S3Error(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def key_too_long(size: int, maximum: int) -> S3Error:
    return S3Error(
        "KeyTooLongError",
        "Your key is too long",
        400,
        fields={"Size": str(size), "MaxSizeAllowed": str(maximum)},
    )


def invalid_location_constraint(constraint: str) -> S3Error:
    return S3Error(
        "InvalidLocationConstraint",
        "The specified location-constraint is not valid",
        400,
        fields={"LocationConstraint": constraint},
    )


def illegal_location_constraint(constraint: str | None) -> S3Error:
    which = "unspecified" if not constraint else constraint
    return S3Error(
        "IllegalLocationConstraintException",
        f"The {which} location constraint is incompatible for the region specific endpoint this request was "
        "sent to.",
        400,
    )
