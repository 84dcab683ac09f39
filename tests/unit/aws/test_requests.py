"""Request contract: botocore serializes a request, our router and parser read it back, and the
params equal what the caller passed (plus what botocore itself adds, such as S3 checksums)."""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from datetime import datetime, timezone

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from tests.unit.aws.harness import capture, make_client, route_and_parse

T0 = datetime(2024, 5, 1, 12, 30, 15, tzinfo=timezone.utc)
T1 = datetime(2024, 5, 2, 8, 0, 0, 250000, tzinfo=timezone.utc)
BINARY = bytes(range(256)) * 3


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


CREATE_TRAINING_JOB = {
    "TrainingJobName": "kmeans-2024-05-01",
    "HyperParameters": {"k": "10", "feature_dim": "784", "mini_batch_size": "500"},
    "AlgorithmSpecification": {
        "TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9.]+)"}],
        "EnableSageMakerMetricsTimeSeries": True,
    },
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "ManifestFile",
                    "S3Uri": "s3://bucket/train.manifest",
                    "S3DataDistributionType": "ShardedByS3Key",
                    "AttributeNames": ["source-ref", "label"],
                }
            },
            "ContentType": "application/x-recordio-protobuf",
            "CompressionType": "None",
            "RecordWrapperType": "RecordIO",
        },
        {
            "ChannelName": "test",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/test/"}},
        },
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/output", "KmsKeyId": ""},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
    "VpcConfig": {"SecurityGroupIds": ["sg-0123"], "Subnets": ["subnet-1", "subnet-2"]},
    "StoppingCondition": {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 90000},
    "Tags": [{"Key": "project", "Value": "mnist"}, {"Key": "owner", "Value": "ml team"}],
    "EnableNetworkIsolation": False,
    "EnableManagedSpotTraining": True,
    "CheckpointConfig": {"S3Uri": "s3://bucket/ckpt", "LocalPath": "/opt/ml/checkpoints"},
    "Environment": {"OMP_NUM_THREADS": "2", "EMPTY": ""},
    "RetryStrategy": {"MaximumRetryAttempts": 3},
}

SEARCH = {
    "Resource": "TrainingJob",
    "SearchExpression": {
        "Filters": [
            {"Name": "Tags.project", "Operator": "Equals", "Value": "mnist"},
            {"Name": "CreationTime", "Operator": "GreaterThan", "Value": "2024-01-01"},
        ],
        "NestedFilters": [
            {
                "NestedPropertyName": "InputDataConfig",
                "Filters": [{"Name": "InputDataConfig.ChannelName", "Operator": "Equals", "Value": "train"}],
            }
        ],
        "SubExpressions": [{"Filters": [{"Name": "TrainingJobStatus", "Value": "Completed"}], "Operator": "Or"}],
        "Operator": "And",
    },
    "SortBy": "Metrics.train:loss",
    "SortOrder": "Ascending",
    "MaxResults": 50,
    "NextToken": "token-1",
}


# (id, service, client method, params, operation, params botocore adds)
CASES = [
    ("sagemaker-create-training-job", "sagemaker", "create_training_job", CREATE_TRAINING_JOB,
     "CreateTrainingJob", {}),
    ("sagemaker-list-training-jobs", "sagemaker", "list_training_jobs",
     {"CreationTimeAfter": T0, "CreationTimeBefore": T1, "MaxResults": 10, "StatusEquals": "InProgress",
      "NameContains": "kmeans", "SortBy": "CreationTime", "SortOrder": "Descending"},
     "ListTrainingJobs", {}),
    ("sagemaker-search", "sagemaker", "search", SEARCH, "Search", {}),
    ("sagemaker-describe-endpoint", "sagemaker", "describe_endpoint", {"EndpointName": "ep-1"},
     "DescribeEndpoint", {}),
    ("logs-get-log-events", "logs", "get_log_events",
     {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": "job/algo-1-1714566615",
      "startTime": 1714566615000, "endTime": 1714570000000, "nextToken": "f/123", "limit": 100,
      "startFromHead": True},
     "GetLogEvents", {}),
    ("logs-describe-log-streams", "logs", "describe_log_streams",
     {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamNamePrefix": "job/", "descending": False},
     "DescribeLogStreams", {}),
    ("runtime-invoke-endpoint", "sagemaker-runtime", "invoke_endpoint",
     {"EndpointName": "kmeans-ep", "Body": BINARY, "ContentType": "application/x-recordio-protobuf",
      "Accept": "application/json", "CustomAttributes": "trace=1,model=a", "TargetVariant": "AllTraffic",
      "InferenceId": "inf-42"},
     "InvokeEndpoint", {}),
    ("runtime-invoke-endpoint-async", "sagemaker-runtime", "invoke_endpoint_async",
     {"EndpointName": "ep", "InputLocation": "s3://b/in.csv", "RequestTTLSeconds": 600},
     "InvokeEndpointAsync", {}),
    ("s3-put-object", "s3", "put_object",
     {"Bucket": "sagemaker-us-east-1-123456789012", "Key": "data/train/shard 0+1.rec", "Body": BINARY,
      "Metadata": {"origin": "record_set", "count": "3"}, "ContentType": "application/octet-stream",
      "ExpectedBucketOwner": "123456789012", "ChecksumAlgorithm": "SHA256", "CacheControl": "no-cache"},
     "PutObject", {"ContentLength": len(BINARY), "ChecksumSHA256": sha256_b64(BINARY)}),
    ("s3-put-object-default-checksum", "s3", "put_object",
     {"Bucket": "b", "Key": "k", "Body": b"hello"},
     "PutObject", {"ContentLength": 5, "ChecksumAlgorithm": "CRC32", "ChecksumCRC32": crc32_b64(b"hello")}),
    ("s3-get-object-range", "s3", "get_object",
     {"Bucket": "b", "Key": "model/model.tar.gz", "Range": "bytes=8388608-16777215",
      "IfMatch": '"9b2cf535f27731c974343645a3985328"', "IfModifiedSince": datetime(2024, 1, 1, tzinfo=timezone.utc),
      "ChecksumMode": "ENABLED", "PartNumber": 2},
     "GetObject", {}),
    ("s3-head-object", "s3", "head_object", {"Bucket": "b", "Key": "a/b/c"}, "HeadObject", {}),
    ("s3-list-objects-v2", "s3", "list_objects_v2",
     {"Bucket": "b", "Prefix": "data/", "Delimiter": "/", "MaxKeys": 100, "ContinuationToken": "ct==",
      "StartAfter": "data/a", "FetchOwner": True},
     "ListObjectsV2", {"EncodingType": "url"}),
    ("s3-list-objects", "s3", "list_objects", {"Bucket": "b", "Marker": "m"}, "ListObjects",
     {"EncodingType": "url"}),
    ("s3-list-buckets", "s3", "list_buckets", {}, "ListBuckets", {}),
    ("s3-create-multipart-upload", "s3", "create_multipart_upload",
     {"Bucket": "b", "Key": "big.bin", "ContentType": "binary/octet-stream", "Metadata": {"a": "1"},
      "ChecksumAlgorithm": "CRC32"},
     "CreateMultipartUpload", {}),
    ("s3-upload-part", "s3", "upload_part",
     {"Bucket": "b", "Key": "big.bin", "PartNumber": 3, "UploadId": "upl-1", "Body": BINARY},
     "UploadPart", {"ContentLength": len(BINARY), "ChecksumAlgorithm": "CRC32", "ChecksumCRC32": crc32_b64(BINARY)}),
    ("s3-upload-part-copy", "s3", "upload_part_copy",
     {"Bucket": "b", "Key": "big.bin", "PartNumber": 1, "UploadId": "upl-1", "CopySource": "src/key",
      "CopySourceRange": "bytes=0-99"},
     "UploadPartCopy", {}),
    ("s3-complete-multipart-upload", "s3", "complete_multipart_upload",
     {"Bucket": "b", "Key": "big.bin", "UploadId": "upl-1",
      "MultipartUpload": {"Parts": [
          {"ETag": '"etag-1"', "PartNumber": 1, "ChecksumCRC32": "AAAAAA=="},
          {"ETag": '"etag-2"', "PartNumber": 2, "ChecksumCRC32": "AAAAAQ=="},
      ]}},
     "CompleteMultipartUpload", {}),
    ("s3-abort-multipart-upload", "s3", "abort_multipart_upload",
     {"Bucket": "b", "Key": "big.bin", "UploadId": "upl-1"}, "AbortMultipartUpload", {}),
    ("s3-list-parts", "s3", "list_parts", {"Bucket": "b", "Key": "k", "UploadId": "u", "MaxParts": 5},
     "ListParts", {}),
    ("s3-delete-objects", "s3", "delete_objects",
     {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b/c", "VersionId": "v1"}], "Quiet": True}},
     "DeleteObjects", {"ChecksumAlgorithm": "CRC32"}),
    ("s3-delete-object", "s3", "delete_object", {"Bucket": "b", "Key": "a"}, "DeleteObject", {}),
    ("s3-copy-object", "s3", "copy_object",
     {"Bucket": "dst", "Key": "copy.txt", "CopySource": "src/orig.txt", "MetadataDirective": "REPLACE",
      "Metadata": {"k": "v"}, "CopySourceIfMatch": '"e"'},
     "CopyObject", {}),
    ("s3-head-bucket", "s3", "head_bucket", {"Bucket": "sagemaker-us-east-1-123456789012",
                                            "ExpectedBucketOwner": "123456789012"}, "HeadBucket", {}),
    ("s3-create-bucket", "s3", "create_bucket",
     {"Bucket": "my-bucket", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}},
     "CreateBucket", {}),
    ("s3-delete-bucket", "s3", "delete_bucket", {"Bucket": "my-bucket"}, "DeleteBucket", {}),
    ("s3-get-bucket-location", "s3", "get_bucket_location", {"Bucket": "my-bucket"}, "GetBucketLocation", {}),
    ("s3-put-bucket-tagging", "s3", "put_bucket_tagging",
     {"Bucket": "b", "Tagging": {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "<&>"}]}},
     "PutBucketTagging", {"ChecksumAlgorithm": "CRC32"}),
    ("sts-get-caller-identity", "sts", "get_caller_identity", {}, "GetCallerIdentity", {}),
    ("sts-assume-role", "sts", "assume_role",
     {"RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole", "RoleSessionName": "nb-session",
      "DurationSeconds": 3600, "Tags": [{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}],
      "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}], "ExternalId": "ext"},
     "AssumeRole", {}),
    ("iam-get-role", "iam", "get_role", {"RoleName": "SageMakerRole"}, "GetRole", {}),
    ("iam-create-role", "iam", "create_role",
     {"RoleName": "SageMakerRole", "Path": "/service-role/",
      "AssumeRolePolicyDocument": '{"Version":"2012-10-17","Statement":[]}', "Description": "for SageMaker",
      "MaxSessionDuration": 7200,
      "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": ""}]},
     "CreateRole", {}),
    ("iam-attach-role-policy", "iam", "attach_role_policy",
     {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"},
     "AttachRolePolicy", {}),
    ("iam-list-roles-empty-list", "iam", "create_role",
     {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Tags": []}, "CreateRole", {}),
]


@pytest.mark.parametrize("case_id,service,method,params,operation,added", CASES, ids=[c[0] for c in CASES])
def test_botocore_request_parses_back_to_its_params(case_id, service, method, params, operation, added):
    request = capture(make_client(service), method, **params)
    route, parsed = route_and_parse(request)
    assert route.service == service
    assert route.operation.name == operation
    assert parsed == dict(params, **added)


def test_timestamps_are_aware_datetimes_and_blobs_bytes():
    request = capture(make_client("sagemaker"), "list_training_jobs", CreationTimeAfter=T1)
    _, parsed = route_and_parse(request)
    assert parsed["CreationTimeAfter"] == T1
    assert parsed["CreationTimeAfter"].tzinfo is not None
    request = capture(make_client("sagemaker-runtime"), "invoke_endpoint", EndpointName="e", Body=b"\x00\xff")
    _, parsed = route_and_parse(request)
    assert type(parsed["Body"]) is bytes and parsed["Body"] == b"\x00\xff"


def test_s3_virtual_host_request():
    client = make_client("s3", s3={"addressing_style": "virtual"})
    request = capture(client, "put_object", Bucket="my-bucket", Key="dir/file.csv", Body=b"1,2\n")
    assert request.headers["host"].startswith("my-bucket.localhost")
    assert request.path == "/dir/file.csv"
    route, parsed = route_and_parse(request)
    assert route.operation.name == "PutObject"
    assert parsed["Bucket"] == "my-bucket" and parsed["Key"] == "dir/file.csv"
    assert parsed["Body"] == b"1,2\n"

    request = capture(client, "list_objects_v2", Bucket="my-bucket", Prefix="dir/")
    route, parsed = route_and_parse(request)
    assert route.operation.name == "ListObjectsV2"
    assert parsed["Bucket"] == "my-bucket" and parsed["Prefix"] == "dir/"

    request = capture(client, "head_bucket", Bucket="my-bucket")
    route, parsed = route_and_parse(request)
    assert (route.operation.name, parsed) == ("HeadBucket", {"Bucket": "my-bucket"})


@pytest.mark.parametrize(
    "host",
    ["b1.s3.us-east-1.amazonaws.com", "b1.s3.amazonaws.com", "b1.emu.internal:5066", "b1.localhost:4566"],
)
def test_s3_virtual_host_names(host):
    from sagemaker_emulator.aws.protocols.base import HttpRequest

    request = HttpRequest("GET", "/some/key", "", {"host": host})
    from tests.unit.aws.harness import fake_emulator

    route, parsed = route_and_parse(request, fake_emulator(hostnames=["localhost", "emu.internal"]))
    assert (route.operation.name, parsed) == ("GetObject", {"Bucket": "b1", "Key": "some/key"})


def test_s3_keys_keep_their_characters():
    key = "a b/c+d/%41/ü/~x/?q=1&r#"
    request = capture(make_client("s3"), "get_object", Bucket="b", Key=key)
    _, parsed = route_and_parse(request)
    assert parsed["Key"] == key


def test_aws_chunked_body_with_trailing_checksum():
    data = b"x" * 70000
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data), checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32", chunk_size=65536,
    )
    body = wrapper.read()
    from sagemaker_emulator.aws.protocols.base import HttpRequest

    request = HttpRequest(
        "PUT",
        "/b/k",
        "",
        {
            "host": "localhost:4566",
            "authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=0",
            "content-encoding": "aws-chunked",
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": str(len(data)),
            "x-amz-sdk-checksum-algorithm": "CRC32",
            "content-length": str(len(body)),
        },
        body,
    )
    route, parsed = route_and_parse(request)
    assert route.operation.name == "PutObject"
    assert parsed["Body"] == data
    assert parsed["ContentLength"] == len(data)
    assert parsed["ChecksumCRC32"] == crc32_b64(data)
    assert "ContentEncoding" not in parsed


def test_signed_aws_chunked_body():
    from sagemaker_emulator.aws import chunked

    body = (
        b"5;chunk-signature=aaaa\r\nhello\r\n"
        b"6;chunk-signature=bbbb\r\n world\r\n"
        b"0;chunk-signature=cccc\r\n\r\n"
    )
    headers, payload = chunked.decode_request(
        {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
         "content-encoding": "aws-chunked,gzip", "x-amz-decoded-content-length": "11"},
        body,
    )
    assert payload == b"hello world"
    assert headers["content-length"] == "11"
    assert headers["content-encoding"] == "gzip"


def test_query_protocol_get_with_query_string():
    from sagemaker_emulator.aws.protocols.base import HttpRequest

    request = HttpRequest(
        "GET", "/", "Action=GetRole&Version=2010-05-08&RoleName=R1", {"host": "localhost"}
    )
    route, parsed = route_and_parse(request)
    assert (route.service, route.operation.name, parsed) == ("iam", "GetRole", {"RoleName": "R1"})
