"""S3 through stock boto3 against a real server on a loopback port."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.server import EmulatorProcess

ACCOUNT = "123456789012"
MiB = 1 << 20


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3(emulator: EmulatorProcess):
    return emulator.client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = unique("bkt")
    s3.create_bucket(Bucket=name)
    return name


def error_of(call, **params) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response


class Recorder:
    """Records what a client sends and receives, through botocore's own event hooks."""

    def __init__(self, client) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.responses: list[tuple[str, int, dict]] = []
        client.meta.events.register("before-send.s3.*", self._before_send)
        client.meta.events.register("after-call.s3.*", self._after_call)

    def _before_send(self, request, **kwargs) -> None:
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        self.requests.append((request.method, request.url, headers))

    def _after_call(self, http_response, model, **kwargs) -> None:
        self.responses.append((model.name, http_response.status_code, dict(http_response.headers)))


# -- buckets -------------------------------------------------------------------------------------


def test_bucket_lifecycle(s3) -> None:
    name = unique("life")
    error = error_of(s3.head_bucket, Bucket=name)
    assert error["Error"] == {"Code": "404", "Message": "Not Found"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    s3.create_bucket(Bucket=name)  # us-east-1: re-creating your own bucket answers 200
    s3.head_bucket(Bucket=name, ExpectedBucketOwner=ACCOUNT)
    listed = s3.list_buckets()
    entry = next(b for b in listed["Buckets"] if b["Name"] == name)
    assert entry["CreationDate"].tzinfo is not None and listed["Owner"]["ID"]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert error_of(s3.delete_bucket, Bucket=name)["Error"]["Code"] == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    assert error_of(s3.head_bucket, Bucket=name)["Error"]["Code"] == "404"
    error = error_of(s3.list_objects_v2, Bucket=name)
    assert error["Error"]["Code"] == "NoSuchBucket" and error["Error"]["BucketName"] == name
    assert error_of(s3.create_bucket, Bucket="Invalid_Name")["Error"]["Code"] == "InvalidBucketName"


def test_sdk_default_bucket_sequence(s3) -> None:
    """What sagemaker.Session.default_bucket() does: ListBuckets, HeadBucket(404) with the expected
    owner, then CreateBucket; the next session sees it listed and heads it twice."""
    name = f"sagemaker-us-east-1-{ACCOUNT}-{uuid.uuid4().hex[:6]}"
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    error = error_of(s3.head_bucket, Bucket=name, ExpectedBucketOwner=ACCOUNT)
    assert (error["Error"]["Code"], error["Error"]["Message"]) == ("404", "Not Found")
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name, ExpectedBucketOwner=ACCOUNT)


def test_expected_bucket_owner_mismatch(s3, bucket: str) -> None:
    error = error_of(s3.head_bucket, Bucket=bucket, ExpectedBucketOwner="999999999999")
    assert error["Error"]["Code"] == "403" and error["ResponseMetadata"]["HTTPStatusCode"] == 403
    error = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner="999999999999")
    assert (error["Error"]["Code"], error["Error"]["Message"]) == ("AccessDenied", "Access Denied")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner=ACCOUNT)


# -- objects -------------------------------------------------------------------------------------


def test_put_get_head(s3, bucket: str) -> None:
    body = b"a,b\n1,2\n"
    put = s3.put_object(Bucket=bucket, Key="data/train.csv", Body=body, ContentType="text/csv",
                        Metadata={"Origin": "test"})
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert put["ChecksumCRC32"]  # botocore sent one by default; S3 echoes it
    got = s3.get_object(Bucket=bucket, Key="data/train.csv")  # ChecksumMode=ENABLED: botocore validates
    assert got["Body"].read() == body
    assert (got["ContentType"], got["ContentLength"], got["Metadata"]) == ("text/csv", len(body), {"origin": "test"})
    head = s3.head_object(Bucket=bucket, Key="data/train.csv")
    assert head["ETag"] == put["ETag"] and head["LastModified"] == got["LastModified"]
    error = error_of(s3.get_object, Bucket=bucket, Key="missing")
    assert error["Error"]["Code"] == "NoSuchKey" and error["Error"]["Key"] == "missing"
    assert error_of(s3.head_object, Bucket=bucket, Key="missing")["Error"]["Code"] == "404"
    error = error_of(s3.get_object, Bucket=bucket, Key="data/train.csv", IfMatch='"nope"')
    assert error["Error"]["Code"] == "PreconditionFailed"
    error = error_of(s3.get_object, Bucket=bucket, Key="data/train.csv", IfNoneMatch=put["ETag"])
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 304
    error = error_of(s3.get_object, Bucket=bucket, Key="data/train.csv", Range="bytes=100-")
    assert error["Error"]["Code"] == "InvalidRange"


def test_awkward_keys(s3, bucket: str) -> None:
    keys = ["../../etc/passwd", "a/../../b", "with space/and+plus", "ümlaut/ключ/键", "trailing/", "q?x=1&y#z"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())
    listed_v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert listed_v1 == listed


def test_checksum_mismatch_is_bad_digest(s3, bucket: str) -> None:
    error = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"abc", ChecksumCRC32="AAAAAA==")
    assert error["Error"]["Code"] == "BadDigest"
    sha = s3.put_object(Bucket=bucket, Key="k", Body=b"abc", ChecksumAlgorithm="SHA256")["ChecksumSHA256"]
    assert sha == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha and head["ChecksumType"] == "FULL_OBJECT"


def test_large_upload_and_download(s3, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(20 * MiB + 12345)
    recorder = Recorder(s3)
    s3.upload_fileobj(io.BytesIO(data), bucket, "big/data.bin")
    uploads = [r for r in recorder.responses if r[0] == "UploadPart"]
    assert len(uploads) == 3 and all("x-amz-checksum-crc32" in headers for _, _, headers in uploads)
    head = s3.head_object(Bucket=bucket, Key="big/data.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    assert head["ChecksumCRC32"].endswith("-3") and head["ChecksumType"] == "COMPOSITE"

    recorder.requests.clear()
    recorder.responses.clear()
    target = tmp_path / "download.bin"
    s3.download_file(bucket, "big/data.bin", str(target))
    assert target.read_bytes() == data
    gets = [(status, headers) for name, status, headers in recorder.responses if name == "GetObject"]
    assert len(gets) == 3 and all(status == 206 for status, _ in gets)
    ranges = sorted(headers["content-range"] for _, headers in gets)
    assert f"bytes 0-{8 * MiB - 1}/{len(data)}" in ranges
    sent = [headers for method, _, headers in recorder.requests if method == "GET"]
    assert all(h.get("If-Match") == head["ETag"] and h.get("Range", "").startswith("bytes=") for h in sent)

    # A managed copy of a large object goes through UploadPartCopy.
    recorder.responses.clear()
    s3.copy({"Bucket": bucket, "Key": "big/data.bin"}, bucket, "big/copy.bin")
    assert any(name == "UploadPartCopy" for name, _, _ in recorder.responses)
    assert s3.get_object(Bucket=bucket, Key="big/copy.bin")["Body"].read() == data


def test_multipart_errors(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"small")
    part2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2, Body=b"tail")
    parts = [{"ETag": part["ETag"], "PartNumber": 1}, {"ETag": part2["ETag"], "PartNumber": 2}]
    error = error_of(s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=upload_id,
                     MultipartUpload={"Parts": parts})
    assert error["Error"]["Code"] == "EntityTooSmall"
    error = error_of(s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=upload_id,
                     MultipartUpload={"Parts": list(reversed(parts))})
    assert error["Error"]["Code"] == "InvalidPartOrder"
    error = error_of(s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=upload_id,
                     MultipartUpload={"Parts": [{"ETag": '"0"', "PartNumber": 1}]})
    assert error["Error"]["Code"] == "InvalidPart"
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]] == [1, 2]
    assert upload_id in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)
    error = error_of(s3.upload_part, Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=3, Body=b"")
    assert error["Error"]["Code"] == "NoSuchUpload"


def test_full_object_checksum_multipart(s3, bucket: str) -> None:
    import zlib
    from base64 import b64encode

    bodies = [os.urandom(5 * MiB), os.urandom(1000)]
    whole = b"".join(bodies)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="full", ChecksumAlgorithm="CRC32",
                                           ChecksumType="FULL_OBJECT")["UploadId"]
    parts = [{"ETag": s3.upload_part(Bucket=bucket, Key="full", UploadId=upload_id, PartNumber=n, Body=b,
                                     ChecksumAlgorithm="CRC32")["ETag"], "PartNumber": n}
             for n, b in enumerate(bodies, 1)]
    expected = b64encode(zlib.crc32(whole).to_bytes(4, "big")).decode()
    done = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=upload_id, ChecksumCRC32=expected,
                                        ChecksumType="FULL_OBJECT", MultipartUpload={"Parts": parts})
    assert done["ChecksumCRC32"] == expected and done["ChecksumType"] == "FULL_OBJECT"
    recorder = Recorder(s3)
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["Body"].read() == whole  # botocore checks the CRC32 while reading
    assert recorder.responses[-1][2]["x-amz-checksum-crc32"] == expected


def test_copy_and_delete_objects(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src/a b.txt", Body=b"copy me", ContentType="text/plain", Metadata={"x": "1"})
    result = s3.copy_object(Bucket=bucket, Key="dst/copy.txt", CopySource={"Bucket": bucket, "Key": "src/a b.txt"})
    assert result["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"copy me").hexdigest()
    head = s3.head_object(Bucket=bucket, Key="dst/copy.txt")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"x": "1"}
    s3.copy_object(Bucket=bucket, Key="dst/replaced.txt", CopySource=f"{bucket}/src/a b.txt",
                   MetadataDirective="REPLACE", Metadata={"y": "2"}, ContentType="application/json")
    head = s3.head_object(Bucket=bucket, Key="dst/replaced.txt")
    assert head["ContentType"] == "application/json" and head["Metadata"] == {"y": "2"}
    error = error_of(s3.copy_object, Bucket=bucket, Key="src/a b.txt", CopySource=f"{bucket}/src/a b.txt")
    assert error["Error"]["Code"] == "InvalidRequest"

    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "src/a b.txt"}, {"Key": "dst/copy.txt"},
                                                                  {"Key": "never"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["dst/copy.txt", "never", "src/a b.txt"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "dst/replaced.txt"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# -- listing -------------------------------------------------------------------------------------


def test_listing_with_paginators(s3, bucket: str) -> None:
    keys = [f"train/part-{i:02d}.csv" for i in range(7)] + ["test/a.csv", "test/b.csv", "readme", "model/x/y"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}))
    assert len(pages) == 4
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys)
    pages = list(paginator.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}))
    assert [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])] == ["model/", "test/", "train/"]
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == ["readme"]
    under = list(paginator.paginate(Bucket=bucket, Prefix="train/", PaginationConfig={"PageSize": 5}))
    assert [o["Key"] for p in under for o in p["Contents"]] == sorted(k for k in keys if k.startswith("train/"))

    v1 = s3.get_paginator("list_objects")
    assert [o["Key"] for p in v1.paginate(Bucket=bucket, PaginationConfig={"PageSize": 4}) for o in p["Contents"]] \
        == sorted(keys)
    grouped = list(v1.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}))
    assert [c["Prefix"] for p in grouped for c in p.get("CommonPrefixes", [])] == ["model/", "test/", "train/"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="test/b.csv", MaxKeys=2)
    assert [o["Key"] for o in after["Contents"]] == ["train/part-00.csv", "train/part-01.csv"]
    assert after["IsTruncated"] is True

    resource_keys = [o.key for o in boto3.resource(
        "s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    ).Bucket(bucket).objects.filter(Prefix="test/")]
    assert resource_keys == ["test/a.csv", "test/b.csv"]


# -- addressing and durability -------------------------------------------------------------------


@pytest.fixture
def localhost_subdomains(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve ``*.localhost`` to loopback (RFC 6761; what systemd-resolved does) in this process."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_virtual_host_addressing(emulator: EmulatorProcess, localhost_subdomains: None) -> None:
    port = emulator.url.rsplit(":", 1)[1]
    client = boto3.client(
        "s3",
        endpoint_url=f"http://localhost:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1, "mode": "standard"}),
    )
    recorder = Recorder(client)
    name = unique("vhost")
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="dir/file.txt", Body=b"virtual")
    assert client.get_object(Bucket=name, Key="dir/file.txt")["Body"].read() == b"virtual"
    assert [o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"]] == ["dir/file.txt"]
    client.head_bucket(Bucket=name)
    assert all(url.startswith(f"http://{name}.localhost:{port}/") for _, url, _ in recorder.requests)
    # The same objects are there path-style.
    assert emulator.client("s3").get_object(Bucket=name, Key="dir/file.txt")["Body"].read() == b"virtual"


def test_objects_survive_restart(fresh_emulator, tmp_path: Path) -> None:
    data_dir = tmp_path / "durable"
    first = fresh_emulator(data_dir=data_dir)
    s3 = first.client("s3")
    s3.create_bucket(Bucket="durable")
    big = os.urandom(9 * MiB)
    s3.upload_fileobj(io.BytesIO(big), "durable", "big.bin")
    s3.put_object(Bucket="durable", Key="small.txt", Body=b"still here", Metadata={"k": "v"})
    s3.put_object(Bucket="durable", Key="small.txt", Body=b"still here, v2", Metadata={"k": "v2"})
    pending = s3.create_multipart_upload(Bucket="durable", Key="pending")["UploadId"]
    s3.upload_part(Bucket="durable", Key="pending", UploadId=pending, PartNumber=1, Body=b"p" * (5 * MiB))
    etag = s3.head_object(Bucket="durable", Key="big.bin")["ETag"]
    first.stop()

    second = fresh_emulator(data_dir=data_dir)
    s3 = second.client("s3")
    assert "durable" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    small = s3.get_object(Bucket="durable", Key="small.txt")
    assert small["Body"].read() == b"still here, v2" and small["Metadata"] == {"k": "v2"}
    assert s3.head_object(Bucket="durable", Key="big.bin")["ETag"] == etag
    assert s3.get_object(Bucket="durable", Key="big.bin")["Body"].read() == big
    tail = s3.upload_part(Bucket="durable", Key="pending", UploadId=pending, PartNumber=2, Body=b"end")
    parts = s3.list_parts(Bucket="durable", Key="pending", UploadId=pending)["Parts"]
    s3.complete_multipart_upload(
        Bucket="durable", Key="pending", UploadId=pending,
        MultipartUpload={"Parts": [{"ETag": p["ETag"], "PartNumber": p["PartNumber"]} for p in parts[:1]]
                         + [{"ETag": tail["ETag"], "PartNumber": 2}]},
    )
    assert s3.get_object(Bucket="durable", Key="pending")["Body"].read() == b"p" * (5 * MiB) + b"end"
