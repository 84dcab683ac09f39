"""The S3 handlers called as the gateway calls them; every result is checked against botocore's
output shape for the operation (see conftest.check_shape)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import zlib

import pytest

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.payload import FileBody
from sagemaker_emulator.services.s3.listing import prefix_successor, url_encode

from .conftest import ACCOUNT, Caller, read_body

MiB = 1 << 20


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def error_of(call: Caller, operation: str, **params) -> AwsError:
    with pytest.raises(AwsError) as caught:
        call(operation, **params)
    return caught.value


@pytest.fixture
def bucket(call: Caller) -> str:
    call("CreateBucket", Bucket="bkt")
    return "bkt"


# -- buckets -------------------------------------------------------------------------------------


def test_create_bucket_us_east_1_is_idempotent(call: Caller) -> None:
    assert call("CreateBucket", Bucket="b-one") == {"Location": "/b-one"}
    assert call("CreateBucket", Bucket="b-one") == {"Location": "/b-one"}
    error = error_of(call, "CreateBucket", Bucket="Bad_Name")
    assert (error.code, error.status, error.fields) == ("InvalidBucketName", 400, {"BucketName": "Bad_Name"})
    error = error_of(call, "CreateBucket", Bucket="b-two", CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert error.code == "InvalidLocationConstraint"


def test_create_bucket_in_other_regions(store) -> None:
    west = Caller(store, region="eu-west-1")
    error = error_of(west, "CreateBucket", Bucket="b-eu")
    assert error.code == "IllegalLocationConstraintException" and "unspecified" in error.message
    west("CreateBucket", Bucket="b-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    error = error_of(west, "CreateBucket", Bucket="b-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert (error.code, error.status) == ("BucketAlreadyOwnedByYou", 409)
    assert west("GetBucketLocation", Bucket="b-eu") == {"LocationConstraint": "eu-west-1"}
    assert west("HeadBucket", Bucket="b-eu")["BucketRegion"] == "eu-west-1"
    # The global endpoint may create buckets anywhere.
    Caller(store)("CreateBucket", Bucket="b-ap", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})


def test_head_list_delete_bucket(call: Caller, bucket: str) -> None:
    assert call("HeadBucket", Bucket=bucket, ExpectedBucketOwner=ACCOUNT)["BucketRegion"] == "us-east-1"
    error = error_of(call, "HeadBucket", Bucket=bucket, ExpectedBucketOwner="999999999999")
    assert (error.code, error.status) == ("AccessDenied", 403)
    error = error_of(call, "HeadBucket", Bucket="missing-bucket", ExpectedBucketOwner=ACCOUNT)
    assert (error.code, error.status) == ("NoSuchBucket", 404)
    listed = call("ListBuckets")
    assert [b["Name"] for b in listed["Buckets"]] == [bucket]
    assert listed["Buckets"][0]["CreationDate"].tzinfo is not None
    assert len(listed["Owner"]["ID"]) == 64
    assert call("GetBucketLocation", Bucket=bucket) == {}
    call("PutObject", Bucket=bucket, Key="k", Body=b"x")
    assert error_of(call, "DeleteBucket", Bucket=bucket).code == "BucketNotEmpty"
    call("DeleteObject", Bucket=bucket, Key="k")
    assert call("DeleteBucket", Bucket=bucket) == {}
    assert call("ListBuckets")["Buckets"] == []


def test_list_buckets_pagination(call: Caller) -> None:
    for name in ("aaa", "bbb", "ccc"):
        call("CreateBucket", Bucket=name)
    page = call("ListBuckets", MaxBuckets=2)
    assert [b["Name"] for b in page["Buckets"]] == ["aaa", "bbb"]
    rest = call("ListBuckets", MaxBuckets=2, ContinuationToken=page["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == ["ccc"] and "ContinuationToken" not in rest
    assert [b["Name"] for b in call("ListBuckets", Prefix="b")["Buckets"]] == ["bbb"]


# -- put / get / head ----------------------------------------------------------------------------


def test_put_and_get(call: Caller, bucket: str) -> None:
    data = b"hello world"
    put = call("PutObject", Bucket=bucket, Key="greeting.txt", Body=data, ContentType="text/plain",
               Metadata={"Purpose": "test"}, ChecksumCRC32=crc32(data), ChecksumAlgorithm="CRC32",
               ContentMD5=md5_b64(data), CacheControl="no-cache", ExpectedBucketOwner=ACCOUNT)
    assert put["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    assert put["ChecksumCRC32"] == crc32(data) and put["ChecksumType"] == "FULL_OBJECT"
    got = call("GetObject", Bucket=bucket, Key="greeting.txt", ChecksumMode="ENABLED")
    assert isinstance(got["Body"], FileBody) and read_body(got["Body"]) == data
    assert got["ContentLength"] == len(data) and got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"purpose": "test"} and got["CacheControl"] == "no-cache"
    assert got["ChecksumCRC32"] == crc32(data) and "ResponseMetadata" not in got and "ContentRange" not in got
    assert got["LastModified"].tzinfo is not None
    head = call("HeadObject", Bucket=bucket, Key="greeting.txt")
    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"] and "ChecksumCRC32" not in head
    overridden = call("GetObject", Bucket=bucket, Key="greeting.txt", ResponseContentType="application/x-test")
    assert overridden["ContentType"] == "application/x-test"


def test_put_object_digest_errors(call: Caller, bucket: str) -> None:
    error = error_of(call, "PutObject", Bucket=bucket, Key="k", Body=b"abc", ChecksumCRC32=crc32(b"abd"))
    assert (error.code, error.status) == ("BadDigest", 400)
    assert error.message == "The crc32 you specified did not match the calculated checksum."
    error = error_of(call, "PutObject", Bucket=bucket, Key="k", Body=b"abc", ContentMD5=md5_b64(b"abd"))
    assert error.code == "BadDigest" and error.fields["CalculatedDigest"] == md5_b64(b"abc")
    assert error_of(call, "PutObject", Bucket=bucket, Key="k", Body=b"abc", ContentMD5="nope").code == "InvalidDigest"
    error = error_of(call, "PutObject", Bucket=bucket, Key="k", Body=b"abc", ChecksumCRC32="!!")
    assert error.code == "InvalidRequest"
    error = error_of(call, "PutObject", Bucket=bucket, Key="k", Body=b"abc", ChecksumCRC32=crc32(b"abc"),
                     ChecksumSHA1=base64.b64encode(hashlib.sha1(b"abc").digest()).decode())
    assert error.code == "InvalidRequest"
    sha256 = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    assert call("PutObject", Bucket=bucket, Key="k", Body=b"abc", ChecksumSHA256=sha256)["ChecksumSHA256"] == sha256
    error = error_of(call, "PutObject", Bucket=bucket, Key="k" * 1025, Body=b"")
    assert error.code == "KeyTooLongError"
    error = error_of(call, "PutObject", Bucket="missing-bucket", Key="k", Body=b"")
    assert (error.code, error.fields) == ("NoSuchBucket", {"BucketName": "missing-bucket"})
    error = error_of(call, "PutObject", Bucket=bucket, Key="k", Body=b"", ExpectedBucketOwner="111111111111")
    assert (error.code, error.status, error.message) == ("AccessDenied", 403, "Access Denied")


def test_get_missing(call: Caller, bucket: str) -> None:
    error = error_of(call, "GetObject", Bucket=bucket, Key="nope")
    assert (error.code, error.status, error.message, error.fields) == (
        "NoSuchKey", 404, "The specified key does not exist.", {"Key": "nope"})
    assert error_of(call, "HeadObject", Bucket=bucket, Key="nope").status == 404


def test_ranged_get(call: Caller, bucket: str) -> None:
    data = bytes(range(256)) * 40
    etag = call("PutObject", Bucket=bucket, Key="r", Body=data, ChecksumCRC32=crc32(data))["ETag"]
    for header, start, end in [("bytes=0-99", 0, 99), ("bytes=100-", 100, len(data) - 1),
                               ("bytes=-10", len(data) - 10, len(data) - 1), ("bytes=10000-999999", 10000, 10239)]:
        got = call("GetObject", Bucket=bucket, Key="r", Range=header, IfMatch=etag, ChecksumMode="ENABLED")
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == f"bytes {start}-{end}/{len(data)}"
        assert got["ContentLength"] == end - start + 1
        assert read_body(got["Body"]) == data[start:end + 1]
        assert "ChecksumCRC32" not in got  # a range cannot be checked against the whole-object checksum
    whole = call("GetObject", Bucket=bucket, Key="r", Range="bytes=5-2")  # invalid: ignored, as by S3
    assert "ResponseMetadata" not in whole and whole["ContentLength"] == len(data)
    error = error_of(call, "GetObject", Bucket=bucket, Key="r", Range=f"bytes={len(data)}-")
    assert (error.code, error.status) == ("InvalidRange", 416)
    assert error.fields == {"RangeRequested": f"bytes={len(data)}-", "ActualObjectSize": str(len(data))}
    head = call("HeadObject", Bucket=bucket, Key="r", Range="bytes=0-9")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206 and head["ContentLength"] == 10


def test_conditional_get(call: Caller, bucket: str) -> None:
    etag = call("PutObject", Bucket=bucket, Key="c", Body=b"cond")["ETag"]
    modified = call("HeadObject", Bucket=bucket, Key="c")["LastModified"]
    assert read_body(call("GetObject", Bucket=bucket, Key="c", IfMatch=etag)["Body"]) == b"cond"
    assert call("GetObject", Bucket=bucket, Key="c", IfMatch=etag.strip('"'))["ETag"] == etag
    error = error_of(call, "GetObject", Bucket=bucket, Key="c", IfMatch='"0123"')
    assert (error.code, error.status, error.fields) == ("PreconditionFailed", 412, {"Condition": "If-Match"})
    error = error_of(call, "GetObject", Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert error.status == 304 and error.headers["ETag"] == etag
    error = error_of(call, "HeadObject", Bucket=bucket, Key="c", IfModifiedSince=modified)
    assert error.status == 304
    later = modified + dt.timedelta(seconds=-5)
    assert call("GetObject", Bucket=bucket, Key="c", IfModifiedSince=later)["ETag"] == etag
    error = error_of(call, "GetObject", Bucket=bucket, Key="c", IfUnmodifiedSince=later)
    assert error.status == 412
    # A true If-Match wins over a false If-Unmodified-Since, as on S3.
    assert call("GetObject", Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=later)["ETag"] == etag


def test_conditional_put(call: Caller, bucket: str) -> None:
    call("PutObject", Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*")
    error = error_of(call, "PutObject", Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*")
    assert (error.code, error.status) == ("PreconditionFailed", 412)


# -- copy / delete -------------------------------------------------------------------------------


def test_copy_object(call: Caller, bucket: str) -> None:
    call("CreateBucket", Bucket="dest")
    put = call("PutObject", Bucket=bucket, Key="dir/source file+1.txt", Body=b"copy me", ContentType="text/plain",
               Metadata={"a": "1"})
    copied = call("CopyObject", Bucket="dest", Key="copy", CopySource=f"{bucket}/dir/source%20file%2B1.txt")
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    head = call("HeadObject", Bucket="dest", Key="copy")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"a": "1"}
    call("CopyObject", Bucket="dest", Key="replaced", CopySource=f"/{bucket}/dir/source%20file%2B1.txt?versionId=null",
         MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="application/json")
    head = call("HeadObject", Bucket="dest", Key="replaced")
    assert head["ContentType"] == "application/json" and head["Metadata"] == {"b": "2"}
    error = error_of(call, "CopyObject", Bucket="dest", Key="copy", CopySource="dest/copy")
    assert error.code == "InvalidRequest" and "copy an object to itself" in error.message
    call("CopyObject", Bucket="dest", Key="copy", CopySource="dest/copy", MetadataDirective="REPLACE")
    error = error_of(call, "CopyObject", Bucket="dest", Key="x", CopySource=f"{bucket}/missing")
    assert error.code == "NoSuchKey"
    error = error_of(call, "CopyObject", Bucket="dest", Key="x", CopySource=f"{bucket}/dir/source%20file%2B1.txt",
                     CopySourceIfMatch='"nope"')
    assert error.status == 412
    error = error_of(call, "CopyObject", Bucket="dest", Key="x", CopySource=f"{bucket}/dir/source%20file%2B1.txt",
                     ExpectedSourceBucketOwner="000000000000")
    assert error.code == "AccessDenied"


def test_delete_objects(call: Caller, bucket: str) -> None:
    for key in ("a", "b", "c"):
        call("PutObject", Bucket=bucket, Key=key, Body=key.encode())
    result = call("DeleteObjects", Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "missing"}]})
    assert result == {"Deleted": [{"Key": "a"}, {"Key": "missing"}]}
    assert call("DeleteObjects", Bucket=bucket, Delete={"Objects": [{"Key": "b"}], "Quiet": True}) == {}
    assert [c["Key"] for c in call("ListObjectsV2", Bucket=bucket)["Contents"]] == ["c"]
    assert error_of(call, "DeleteObjects", Bucket=bucket, Delete={"Objects": []}).code == "MalformedXML"
    assert call("DeleteObject", Bucket=bucket, Key="never-existed") == {}


# -- listing -------------------------------------------------------------------------------------

KEYS = ["a.txt", "dir/1", "dir/2", "dir/sub/3", "dir2/x", "other/y", "z", "sp ace+plus"]


@pytest.fixture
def listing_bucket(call: Caller, bucket: str) -> str:
    for key in KEYS:
        call("PutObject", Bucket=bucket, Key=key, Body=b"x", ChecksumCRC32=crc32(b"x"))
    return bucket


def test_list_v2_delimiter(call: Caller, listing_bucket: str) -> None:
    result = call("ListObjectsV2", Bucket=listing_bucket, Delimiter="/")
    assert [c["Key"] for c in result["Contents"]] == ["a.txt", "sp ace+plus", "z"]
    assert [p["Prefix"] for p in result["CommonPrefixes"]] == ["dir/", "dir2/", "other/"]
    assert result["KeyCount"] == 6 and result["IsTruncated"] is False and result["Prefix"] == ""
    assert result["Contents"][0]["ChecksumAlgorithm"] == ["CRC32"] and result["Contents"][0]["Size"] == 1
    assert "Owner" not in result["Contents"][0]
    nested = call("ListObjectsV2", Bucket=listing_bucket, Prefix="dir/", Delimiter="/", FetchOwner=True)
    assert [c["Key"] for c in nested["Contents"]] == ["dir/1", "dir/2"]
    assert nested["CommonPrefixes"] == [{"Prefix": "dir/sub/"}] and "Owner" in nested["Contents"][0]


def test_list_v2_pagination(call: Caller, listing_bucket: str) -> None:
    seen, token, pages = [], None, 0
    while True:
        params = {"ContinuationToken": token} if token else {}
        page = call("ListObjectsV2", Bucket=listing_bucket, Delimiter="/", MaxKeys=2, **params)
        pages += 1
        seen += [c["Key"] for c in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
    assert pages == 3
    assert sorted(seen) == sorted(["a.txt", "dir/", "dir2/", "other/", "sp ace+plus", "z"])
    after = call("ListObjectsV2", Bucket=listing_bucket, StartAfter="dir/2")
    assert [c["Key"] for c in after["Contents"]] == ["dir/sub/3", "dir2/x", "other/y", "sp ace+plus", "z"]
    assert after["StartAfter"] == "dir/2"
    assert error_of(call, "ListObjectsV2", Bucket=listing_bucket, ContinuationToken="garbage!").code == "InvalidArgument"
    empty = call("ListObjectsV2", Bucket=listing_bucket, MaxKeys=0)
    assert empty["KeyCount"] == 0 and empty["IsTruncated"] is False and "Contents" not in empty


def test_list_url_encoding(call: Caller, listing_bucket: str) -> None:
    result = call("ListObjectsV2", Bucket=listing_bucket, Prefix="sp ", EncodingType="url")
    assert [c["Key"] for c in result["Contents"]] == ["sp%20ace%2Bplus"]
    assert result["Prefix"] == "sp%20" and result["EncodingType"] == "url"
    assert url_encode("a/b c+d~é") == "a/b%20c%2Bd~%C3%A9"


def test_list_v1_markers(call: Caller, listing_bucket: str) -> None:
    first = call("ListObjects", Bucket=listing_bucket, MaxKeys=3)
    assert [c["Key"] for c in first["Contents"]] == ["a.txt", "dir/1", "dir/2"]
    assert first["IsTruncated"] is True and "NextMarker" not in first and "Owner" in first["Contents"][0]
    second = call("ListObjects", Bucket=listing_bucket, Marker="dir/2", MaxKeys=100)
    assert [c["Key"] for c in second["Contents"]] == ["dir/sub/3", "dir2/x", "other/y", "sp ace+plus", "z"]
    grouped = call("ListObjects", Bucket=listing_bucket, Delimiter="/", MaxKeys=2)
    assert grouped["NextMarker"] == "dir/" and grouped["CommonPrefixes"] == [{"Prefix": "dir/"}]
    rest = call("ListObjects", Bucket=listing_bucket, Delimiter="/", Marker=grouped["NextMarker"])
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["dir2/", "other/"]
    assert [c["Key"] for c in rest["Contents"]] == ["sp ace+plus", "z"]


def test_prefix_successor() -> None:
    assert prefix_successor("dir/") == "dir0"
    assert prefix_successor("a\U0010ffff") == "b"
    assert prefix_successor("\U0010ffff") is None
    assert prefix_successor("\ud7ff") == "\ue000"


def test_list_skips_large_common_prefix_quickly(call: Caller, store, bucket: str) -> None:
    for index in range(300):
        store.put_object_bytes(bucket, f"logs/{index:04d}", b"")
    store.put_object_bytes(bucket, "z", b"")
    calls = []
    original = store.iter_objects

    def counting(*args, **kwargs):
        calls.append(kwargs)
        assert kwargs["first_batch"] == 16
        return original(*args, **{**kwargs, "batch": 10})

    store.iter_objects = counting
    result = call("ListObjectsV2", Bucket=bucket, Delimiter="/")
    assert result["CommonPrefixes"] == [{"Prefix": "logs/"}] and [c["Key"] for c in result["Contents"]] == ["z"]
    assert len(calls) == 2  # one scan up to logs/0000, then a jump past "logs/"


# -- multipart through the handlers --------------------------------------------------------------


def test_multipart_like_s3transfer(call: Caller, bucket: str) -> None:
    created = call("CreateMultipartUpload", Bucket=bucket, Key="big.bin", ChecksumAlgorithm="CRC32",
                   ContentType="application/octet-stream", ExpectedBucketOwner=ACCOUNT)
    assert created["ChecksumAlgorithm"] == "CRC32" and created["ChecksumType"] == "COMPOSITE"
    upload_id = created["UploadId"]
    bodies = [os.urandom(8 * MiB), os.urandom(8 * MiB), os.urandom(MiB)]
    parts = []
    for number in (3, 1, 2):
        body = bodies[number - 1]
        result = call("UploadPart", Bucket=bucket, Key="big.bin", UploadId=upload_id, PartNumber=number, Body=body,
                      ChecksumAlgorithm="CRC32", ChecksumCRC32=crc32(body))
        assert result["ChecksumCRC32"] == crc32(body)
        parts.append({"ETag": result["ETag"], "PartNumber": number, "ChecksumCRC32": result["ChecksumCRC32"]})
    listed = call("ListParts", Bucket=bucket, Key="big.bin", UploadId=upload_id)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    uploads = call("ListMultipartUploads", Bucket=bucket)
    assert [u["UploadId"] for u in uploads["Uploads"]] == [upload_id]
    parts.sort(key=lambda p: p["PartNumber"])
    done = call("CompleteMultipartUpload", Bucket=bucket, Key="big.bin", UploadId=upload_id,
                MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-3"') and done["ChecksumCRC32"].endswith("-3")
    assert done["ChecksumType"] == "COMPOSITE" and done["Location"].endswith(f"/{bucket}/big.bin")
    whole = b"".join(bodies)
    got = call("GetObject", Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert read_body(got["Body"]) == whole and got["ChecksumCRC32"] == done["ChecksumCRC32"]
    part2 = call("GetObject", Bucket=bucket, Key="big.bin", PartNumber=2)
    assert part2["ResponseMetadata"]["HTTPStatusCode"] == 206 and part2["PartsCount"] == 3
    assert part2["ContentRange"] == f"bytes {8 * MiB}-{16 * MiB - 1}/{len(whole)}"
    assert error_of(call, "GetObject", Bucket=bucket, Key="big.bin", PartNumber=4).code == "InvalidPartNumber"
    error = error_of(call, "UploadPart", Bucket=bucket, Key="big.bin", UploadId=upload_id, PartNumber=1, Body=b"")
    assert (error.code, error.status) == ("NoSuchUpload", 404)


def test_upload_part_copy_and_abort(call: Caller, bucket: str) -> None:
    source = os.urandom(6 * MiB)
    call("PutObject", Bucket=bucket, Key="src", Body=source)
    upload_id = call("CreateMultipartUpload", Bucket=bucket, Key="dst")["UploadId"]
    first = call("UploadPartCopy", Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
                 CopySource=f"{bucket}/src", CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    second = call("UploadPartCopy", Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=2,
                  CopySource=f"{bucket}/src", CopySourceRange=f"bytes={5 * MiB}-{6 * MiB - 1}")
    error = error_of(call, "UploadPartCopy", Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=3,
                     CopySource=f"{bucket}/src", CopySourceRange=f"bytes=0-{6 * MiB}")
    assert error.code == "InvalidArgument"
    parts = [{"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]
    call("CompleteMultipartUpload", Bucket=bucket, Key="dst", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert read_body(call("GetObject", Bucket=bucket, Key="dst")["Body"]) == source
    other = call("CreateMultipartUpload", Bucket=bucket, Key="gone")["UploadId"]
    assert call("AbortMultipartUpload", Bucket=bucket, Key="gone", UploadId=other) == {}
    assert error_of(call, "AbortMultipartUpload", Bucket=bucket, Key="gone", UploadId=other).code == "NoSuchUpload"


def test_complete_rejects_bad_parts(call: Caller, bucket: str) -> None:
    upload_id = call("CreateMultipartUpload", Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    body = os.urandom(5 * MiB)
    part = call("UploadPart", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=body,
                ChecksumCRC32=crc32(body))
    error = error_of(call, "CompleteMultipartUpload", Bucket=bucket, Key="k", UploadId=upload_id,
                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": crc32(b"")}]})
    assert error.code == "InvalidPart"
    error = error_of(call, "UploadPart", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"x",
                     ChecksumSHA256=base64.b64encode(hashlib.sha256(b"x").digest()).decode())
    assert error.code == "InvalidRequest" and "mismatch" in error.message
    error = error_of(call, "UploadPart", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"x",
                     ChecksumCRC32=crc32(b"y"))
    assert error.code == "BadDigest"


def test_full_object_multipart_checksum(call: Caller, bucket: str) -> None:
    created = call("CreateMultipartUpload", Bucket=bucket, Key="f", ChecksumAlgorithm="CRC32",
                   ChecksumType="FULL_OBJECT")
    assert created["ChecksumType"] == "FULL_OBJECT"
    bodies = [os.urandom(5 * MiB), b"end"]
    parts = [{"PartNumber": n, "ETag": call("UploadPart", Bucket=bucket, Key="f", UploadId=created["UploadId"],
                                            PartNumber=n, Body=b, ChecksumCRC32=crc32(b))["ETag"]}
             for n, b in enumerate(bodies, 1)]
    whole = b"".join(bodies)
    error = error_of(call, "CompleteMultipartUpload", Bucket=bucket, Key="f", UploadId=created["UploadId"],
                     MultipartUpload={"Parts": parts}, ChecksumCRC32=crc32(b"wrong"), ChecksumType="FULL_OBJECT")
    assert error.code == "BadDigest"
    done = call("CompleteMultipartUpload", Bucket=bucket, Key="f", UploadId=created["UploadId"],
                MultipartUpload={"Parts": parts}, ChecksumCRC32=crc32(whole), ChecksumType="FULL_OBJECT")
    assert done["ChecksumCRC32"] == crc32(whole) and done["ChecksumType"] == "FULL_OBJECT"
    assert done["ETag"].endswith('-2"')
    error = error_of(call, "CreateMultipartUpload", Bucket=bucket, Key="g", ChecksumAlgorithm="SHA256",
                     ChecksumType="FULL_OBJECT")
    assert error.code == "InvalidRequest"


def test_complete_tolerates_composite_checksum_header(call: Caller, bucket: str) -> None:
    upload_id = call("CreateMultipartUpload", Bucket=bucket, Key="c", ChecksumAlgorithm="CRC32")["UploadId"]
    etag = call("UploadPart", Bucket=bucket, Key="c", UploadId=upload_id, PartNumber=1, Body=b"x")["ETag"]
    done = call("CompleteMultipartUpload", Bucket=bucket, Key="c", UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, ChecksumCRC32="AAAAAA==-1")
    assert done["ChecksumType"] == "COMPOSITE" and done["ChecksumCRC32"].endswith("-1")
