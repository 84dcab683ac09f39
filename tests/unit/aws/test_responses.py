"""Response contract: a handler's result, serialized by our codecs, is what botocore's parser (and
the whole boto3 client, customisations included) hands back to the caller; errors keep their code,
message, status and extra members."""

from __future__ import annotations

import base64
import zlib
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
from botocore import xform_name
from botocore.awsrequest import HTTPHeaders
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

from sagemaker_emulator.aws import dispatch, specs
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.payload import FileBody
from sagemaker_emulator.aws.protocols import codec
from sagemaker_emulator.aws.protocols.base import HttpRequest
from tests.unit.aws.harness import make_client, serve_in_process, without_metadata

T0 = datetime(2024, 5, 1, 12, 30, 15, tzinfo=timezone.utc)
T1 = datetime(2024, 5, 1, 12, 32, 45, 123000, tzinfo=timezone.utc)
T2 = datetime(2024, 5, 1, 13, 0, 0, tzinfo=timezone.utc)
BINARY = bytes(range(256)) * 2


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def returning(service: str, operation: str, result):
    @dispatch.operation(service, operation)
    def handler(ctx, params):
        return result

    return handler


def raising(service: str, operation: str, error: Exception):
    @dispatch.operation(service, operation)
    def handler(ctx, params):
        raise error

    return handler


def call(service: str, method: str, params: dict, log: list | None = None, **config):
    client = serve_in_process(make_client(service, **config), log=log)
    return getattr(client, method)(**params)


DESCRIBE_TRAINING_JOB = {
    "TrainingJobName": "kmeans-1",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/kmeans-1",
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/out/kmeans-1/output/model.tar.gz"},
    "TrainingJobStatus": "Completed",
    "SecondaryStatus": "Completed",
    "HyperParameters": {"k": "10", "feature_dim": "784"},
    "AlgorithmSpecification": {
        "TrainingImage": "img:1",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "train:loss", "Regex": "loss=(\\S+)"}],
        "EnableSageMakerMetricsTimeSeries": False,
    },
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "InputDataConfig": [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://b/train/", "S3DataDistributionType": "FullyReplicated"}},
         "ContentType": "text/csv", "CompressionType": "None", "RecordWrapperType": "None"},
    ],
    "OutputDataConfig": {"KmsKeyId": "", "S3OutputPath": "s3://b/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "CreationTime": T0,
    "TrainingStartTime": T1,
    "TrainingEndTime": T2,
    "LastModifiedTime": T2,
    "SecondaryStatusTransitions": [
        {"Status": "Starting", "StartTime": T0, "EndTime": T1, "StatusMessage": "Preparing the instances"},
        {"Status": "Completed", "StartTime": T2, "StatusMessage": "Training job completed"},
    ],
    "FinalMetricDataList": [{"MetricName": "train:loss", "Value": 0.125, "Timestamp": T2}],
    "EnableNetworkIsolation": False,
    "EnableInterContainerTrafficEncryption": False,
    "EnableManagedSpotTraining": False,
    "TrainingTimeInSeconds": 1785,
    "BillableTimeInSeconds": 1785,
    "Environment": {},
}

S3_OWNER = {"DisplayName": "emulator", "ID": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"}

# (id, service, method, request params, handler result, expected parse (None: the result))
CASES = [
    ("sagemaker-describe-training-job", "sagemaker", "describe_training_job", {"TrainingJobName": "kmeans-1"},
     DESCRIBE_TRAINING_JOB, None),
    ("sagemaker-create-training-job", "sagemaker", "create_training_job",
     {"TrainingJobName": "j", "RoleArn": "arn:aws:iam::123456789012:role/R",
      "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "i"},
      "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
      "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
      "StoppingCondition": {"MaxRuntimeInSeconds": 60}},
     {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j"}, None),
    ("sagemaker-list-training-jobs", "sagemaker", "list_training_jobs", {"CreationTimeAfter": T0},
     {"TrainingJobSummaries": [
         {"TrainingJobName": "a", "TrainingJobArn": "arn:a", "CreationTime": T0, "TrainingEndTime": T2,
          "LastModifiedTime": T1, "TrainingJobStatus": "Completed"},
         {"TrainingJobName": "b", "TrainingJobArn": "arn:b", "CreationTime": T1, "TrainingJobStatus": "InProgress",
          "SecondaryStatus": "Training"},
     ], "NextToken": "n-2"}, None),
    ("sagemaker-search", "sagemaker", "search", {"Resource": "TrainingJob"},
     {"Results": [{"TrainingJob": {
         "TrainingJobName": "a", "TrainingJobArn": "arn:a", "CreationTime": T0,
         "HyperParameters": {"k": "3"}, "Tags": [{"Key": "project", "Value": "x"}],
         "FinalMetricDataList": [{"MetricName": "m", "Value": 1.5, "Timestamp": T1}]}}],
      "NextToken": "t"}, None),
    ("sagemaker-list-tags-empty", "sagemaker", "list_tags", {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/y"},
     {"Tags": []}, None),
    ("logs-get-log-events", "logs", "get_log_events", {"logGroupName": "g", "logStreamName": "s"},
     {"events": [{"timestamp": 1714566615000, "message": "epoch 1 loss=0.5", "ingestionTime": 1714566615123},
                 {"timestamp": 1714566616000, "message": "ünïcode ✓"}],
      "nextForwardToken": "f/00000000000000000000000000000000000000000000000000000002",
      "nextBackwardToken": "b/1"}, None),
    ("runtime-invoke-endpoint", "sagemaker-runtime", "invoke_endpoint", {"EndpointName": "ep", "Body": b"1,2"},
     {"Body": BINARY, "ContentType": "application/x-recordio-protobuf", "InvokedProductionVariant": "AllTraffic",
      "CustomAttributes": "a=1"}, None),
    ("runtime-invoke-endpoint-async", "sagemaker-runtime", "invoke_endpoint_async",
     {"EndpointName": "ep", "InputLocation": "s3://b/in"},
     {"InferenceId": "id-1", "OutputLocation": "s3://b/out/id-1.out", "FailureLocation": "s3://b/f"}, None),
    ("s3-get-object", "s3", "get_object", {"Bucket": "b", "Key": "k", "ChecksumMode": "ENABLED"},
     {"Body": BINARY, "ContentLength": len(BINARY), "ETag": '"d41d8cd98f00b204e9800998ecf8427e"',
      "LastModified": T0, "ContentType": "text/csv", "Metadata": {"origin": "unit", "n": "2"},
      "ChecksumCRC32": crc32_b64(BINARY), "AcceptRanges": "bytes", "CacheControl": "no-cache",
      "ContentEncoding": "identity", "ContentDisposition": 'attachment; filename="x.csv"'}, None),
    ("s3-head-object", "s3", "head_object", {"Bucket": "b", "Key": "k"},
     {"ContentLength": 8388608 * 3, "ETag": '"abc-3"', "LastModified": T0, "ContentType": "binary/octet-stream",
      "Metadata": {"a": "b"}, "AcceptRanges": "bytes"}, None),
    ("s3-list-objects-v2", "s3", "list_objects_v2", {"Bucket": "b", "Prefix": "data/", "Delimiter": "/"},
     {"IsTruncated": True, "Name": "b", "Prefix": "data/", "Delimiter": "/", "MaxKeys": 1000, "KeyCount": 3,
      "Contents": [
          {"Key": "data/a & b <c>.csv", "LastModified": T1, "ETag": '"e1"', "Size": 10, "StorageClass": "STANDARD",
           "Owner": S3_OWNER},
          {"Key": "data/z.csv", "LastModified": T0, "ETag": '"e2"', "Size": 0, "StorageClass": "STANDARD"},
      ],
      "CommonPrefixes": [{"Prefix": "data/sub/"}],
      "NextContinuationToken": "next==", "ContinuationToken": "cur=="}, None),
    ("s3-list-objects", "s3", "list_objects", {"Bucket": "b"},
     {"IsTruncated": False, "Name": "b", "Prefix": "", "Marker": "", "MaxKeys": 1000,
      "Contents": [{"Key": "k", "LastModified": T1, "ETag": '"e"', "Size": 1, "StorageClass": "STANDARD"}]}, None),
    ("s3-list-buckets", "s3", "list_buckets", {},
     {"Buckets": [{"Name": "a", "CreationDate": T0}, {"Name": "sagemaker-us-east-1-123456789012", "CreationDate": T1}],
      "Owner": S3_OWNER}, None),
    ("s3-create-bucket", "s3", "create_bucket", {"Bucket": "nb"}, {"Location": "/nb"}, None),
    ("s3-create-multipart-upload", "s3", "create_multipart_upload", {"Bucket": "b", "Key": "k"},
     {"Bucket": "b", "Key": "k", "UploadId": "VXBsb2FkSWQ", "ChecksumAlgorithm": "CRC32"}, None),
    ("s3-upload-part", "s3", "upload_part", {"Bucket": "b", "Key": "k", "PartNumber": 1, "UploadId": "u", "Body": b"x"},
     {"ETag": '"part-etag"', "ChecksumCRC32": "AAAAAA=="}, None),
    ("s3-complete-multipart-upload", "s3", "complete_multipart_upload",
     {"Bucket": "b", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": [{"ETag": '"e"', "PartNumber": 1}]}},
     {"Location": "http://localhost:4566/b/k", "Bucket": "b", "Key": "k", "ETag": '"abc-1"',
      "ChecksumCRC32": "AAAAAA==-1"}, None),
    ("s3-delete-objects", "s3", "delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}]}},
     {"Deleted": [{"Key": "a"}, {"Key": "b", "VersionId": "null"}],
      "Errors": [{"Key": "c", "Code": "AccessDenied", "Message": "Access Denied"}]}, None),
    ("s3-copy-object", "s3", "copy_object", {"Bucket": "b", "Key": "k", "CopySource": "s/k"},
     {"CopyObjectResult": {"ETag": '"copied"', "LastModified": T1}, "CopySourceVersionId": "v1"}, None),
    ("s3-get-bucket-location", "s3", "get_bucket_location", {"Bucket": "b"}, {"LocationConstraint": "eu-west-1"}, None),
    ("s3-get-object-tagging", "s3", "get_object_tagging", {"Bucket": "b", "Key": "k"},
     {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}], "VersionId": "v"}, None),
    ("s3-list-parts", "s3", "list_parts", {"Bucket": "b", "Key": "k", "UploadId": "u"},
     {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumberMarker": 0, "NextPartNumberMarker": 2, "MaxParts": 1000,
      "IsTruncated": False, "Parts": [{"PartNumber": 1, "LastModified": T0, "ETag": '"p1"', "Size": 5}],
      "StorageClass": "STANDARD"}, None),
    ("sts-get-caller-identity", "sts", "get_caller_identity", {},
     {"UserId": "AROA123456789012EXAMPLE:sess", "Account": "123456789012",
      "Arn": "arn:aws:sts::123456789012:assumed-role/SageMakerRole/sess"}, None),
    ("sts-assume-role", "sts", "assume_role", {"RoleArn": "arn:aws:iam::123456789012:role/R", "RoleSessionName": "ss"},
     {"Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret", "SessionToken": "token",
                      "Expiration": T2},
      "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:s", "Arn": "arn:aws:sts::123456789012:assumed-role/R/s"},
      "PackedPolicySize": 6}, None),
    ("iam-get-role", "iam", "get_role", {"RoleName": "SageMakerRole"},
     {"Role": {"Path": "/", "RoleName": "SageMakerRole", "RoleId": "AROAEXAMPLE",
               "Arn": "arn:aws:iam::123456789012:role/SageMakerRole", "CreateDate": T0,
               "AssumeRolePolicyDocument": quote('{"Version": "2012-10-17", "Statement": []}'),
               "Description": "d", "MaxSessionDuration": 3600,
               "Tags": [{"Key": "a", "Value": "1"}], "RoleLastUsed": {"LastUsedDate": T1, "Region": "us-east-1"}}},
     {"Role": {"Path": "/", "RoleName": "SageMakerRole", "RoleId": "AROAEXAMPLE",
               "Arn": "arn:aws:iam::123456789012:role/SageMakerRole", "CreateDate": T0,
               "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
               "Description": "d", "MaxSessionDuration": 3600,
               "Tags": [{"Key": "a", "Value": "1"}], "RoleLastUsed": {"LastUsedDate": T1, "Region": "us-east-1"}}}),
    ("iam-attach-role-policy", "iam", "attach_role_policy", {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/x"},
     {}, None),
]


@pytest.mark.parametrize("case_id,service,method,params,result,expected", CASES, ids=[c[0] for c in CASES])
def test_serialized_result_parses_back_in_botocore(registry, case_id, service, method, params, result, expected):
    operation = specs.service_model(service).operation_model(
        next(n for n in specs.operations(service) if xform_name(n) == method)
    )
    returning(service, operation.name, result)
    parsed = without_metadata(call(service, method, params))
    if "Body" in parsed and hasattr(parsed["Body"], "read"):
        parsed["Body"] = parsed["Body"].read()
    assert parsed == (result if expected is None else expected)


def test_ranged_get_answers_206_with_content_range(registry):
    data = bytes(range(100))
    returning("s3", "GetObject", {
        "Body": data[10:20], "ContentLength": 10, "ContentRange": "bytes 10-19/100", "ETag": '"e"',
        "ResponseMetadata": {"HTTPStatusCode": 206},
    })
    log: list = []
    parsed = call("s3", "get_object", {"Bucket": "b", "Key": "k", "Range": "bytes=10-19", "IfMatch": '"e"'}, log)
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert parsed["ContentRange"] == "bytes 10-19/100"
    assert parsed["Body"].read() == data[10:20]


def test_file_body_is_streamed_from_disk(registry, tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"0123456789" * 1000)
    returning("s3", "GetObject", {"Body": FileBody(path, 5, 20), "ContentLength": 20})
    parsed = call("s3", "get_object", {"Bucket": "b", "Key": "k"})
    assert parsed["Body"].read() == (b"0123456789" * 1000)[5:25]
    assert parsed["ContentLength"] == 20


def test_direct_botocore_parsers_read_our_bytes():
    """Without the client: botocore.parsers on the json and query serializers' bytes."""
    for service, operation, result in [
        ("sagemaker", "DescribeTrainingJob", DESCRIBE_TRAINING_JOB),
        ("iam", "CreateRole", {"Role": {"Path": "/", "RoleName": "r", "RoleId": "AROA1", "Arn": "arn:r",
                                        "CreateDate": T1}}),
    ]:
        op = specs.operation_model(service, operation)
        response = codec(service).serialize(op, result, "req-1", HttpRequest("POST", "/"))
        parser = create_parser(specs.protocol(service))
        parsed = parser.parse(
            {"status_code": response.status, "headers": HTTPHeaders.from_dict(response.headers), "body": response.body},
            op.output_shape,
        )
        assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
        assert without_metadata(parsed) == result


# --------------------------------------------------------------------------- errors

ERROR_CASES = [
    # id, service, method, params, error, expected code, status, extra expectations on e.response
    ("sagemaker-validation", "sagemaker", "describe_endpoint", {"EndpointName": "nope"},
     AwsError("ValidationException", 'Could not find endpoint "nope".'), "ValidationException", 400, {}),
    ("sagemaker-modelled", "sagemaker", "describe_endpoint", {"EndpointName": "nope"},
     AwsError("ResourceNotFound", "no such thing"), "ResourceNotFound", 400, {}),
    ("sagemaker-in-use", "sagemaker", "create_endpoint", {"EndpointName": "e", "EndpointConfigName": "c"},
     AwsError("ResourceInUse", "Cannot create already existing endpoint"), "ResourceInUse", 400, {}),
    ("logs-not-found", "logs", "describe_log_streams", {"logGroupName": "/aws/sagemaker/TrainingJobs"},
     AwsError("ResourceNotFoundException", "The specified log group does not exist."),
     "ResourceNotFoundException", 400, {}),
    ("logs-modelled-member", "logs", "put_log_events",
     {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]},
     AwsError("DataAlreadyAcceptedException", "dup", fields={"expectedSequenceToken": "42"}),
     "DataAlreadyAcceptedException", 400, {"expectedSequenceToken": "42"}),
    ("runtime-model-error", "sagemaker-runtime", "invoke_endpoint", {"EndpointName": "ep", "Body": b"x"},
     AwsError("ModelError", "Received client error (400) from primary with message \"bad input\".", 424,
              fields={"OriginalStatusCode": 400, "OriginalMessage": "bad input",
                      "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep"}),
     "ModelError", 424,
     {"OriginalStatusCode": 400, "OriginalMessage": "bad input",
      "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep"}),
    ("runtime-validation", "sagemaker-runtime", "invoke_endpoint", {"EndpointName": "ep", "Body": b"x"},
     AwsError("ValidationError", "Endpoint ep of account 123456789012 not found."), "ValidationError", 400, {}),
    ("s3-no-such-key", "s3", "get_object", {"Bucket": "b", "Key": "missing"},
     AwsError("NoSuchKey", "The specified key does not exist.", 404, fields={"Key": "missing"}),
     "NoSuchKey", 404, {"Error.Key": "missing"}),
    ("s3-no-such-bucket", "s3", "list_objects_v2", {"Bucket": "nb"},
     AwsError("NoSuchBucket", "The specified bucket does not exist", 404, fields={"BucketName": "nb"}),
     "NoSuchBucket", 404, {"Error.BucketName": "nb"}),
    ("s3-precondition", "s3", "get_object", {"Bucket": "b", "Key": "k", "IfMatch": '"x"'},
     AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
              fields={"Condition": "If-Match"}), "PreconditionFailed", 412, {"Error.Condition": "If-Match"}),
    ("s3-head-object-404", "s3", "head_object", {"Bucket": "b", "Key": "missing"},
     AwsError("NoSuchKey", "The specified key does not exist.", 404), "404", 404, {"Error.Message": "Not Found"}),
    ("iam-no-such-entity", "iam", "get_role", {"RoleName": "nobody"},
     AwsError("NoSuchEntity", "The role with name nobody cannot be found.", 404), "NoSuchEntity", 404, {}),
    ("sts-receiver", "sts", "get_caller_identity", {},
     AwsError("ServiceUnavailable", "try later", 503, sender_fault=False), "ServiceUnavailable", 503,
     {"Error.Type": "Receiver"}),
]


@pytest.mark.parametrize("case_id,service,method,params,error,code,status,extra", ERROR_CASES,
                         ids=[c[0] for c in ERROR_CASES])
def test_errors_parse_back_in_botocore(registry, case_id, service, method, params, error, code, status, extra):
    op_name = next(n for n in specs.operations(service) if xform_name(n) == method)
    raising(service, op_name, error)
    client = serve_in_process(make_client(service, retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(ClientError) as info:
        getattr(client, method)(**params)
    response = info.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    if code.isdigit():
        assert response["Error"]["Message"] == "Not Found"
    else:
        assert response["Error"]["Message"] == error.message
    assert response["ResponseMetadata"]["RequestId"]
    for key, value in extra.items():
        target = response
        for part in key.split("."):
            target = target[part]
        assert target == value, key
    modelled = specs.service_model(service).shape_for_error_code(code)
    if modelled is not None:
        assert isinstance(info.value, getattr(client.exceptions, modelled.name))


def test_head_bucket_404_is_body_less_for_the_sagemaker_sdk(registry):
    raising("s3", "HeadBucket", AwsError("NoSuchBucket", "The specified bucket does not exist", 404,
                                         fields={"BucketName": "b"}))
    log: list = []
    client = serve_in_process(make_client("s3"), log=log)
    with pytest.raises(ClientError) as info:
        client.head_bucket(Bucket="b")
    assert info.value.response["Error"] == {"Code": "404", "Message": "Not Found"}
    request, response, body = log[-1]
    assert response.status == 404 and body == b"" and response.body == b""
    assert "x-amz-request-id" in response.headers


def test_error_headers_and_query_error_type(registry):
    raising("iam", "GetRole", AwsError("NoSuchEntity", "gone", 404, headers={"x-extra": "1"}))
    log: list = []
    client = serve_in_process(make_client("iam"), log=log)
    with pytest.raises(client.exceptions.NoSuchEntityException) as info:
        client.get_role(RoleName="x")
    assert info.value.response["Error"]["Type"] == "Sender"
    assert log[-1][1].headers["x-extra"] == "1"


def test_event_stream_response(registry):
    async def events():
        yield {"PayloadPart": {"Bytes": b'{"token": "Hel'}}
        yield {"PayloadPart": {"Bytes": b'lo"}'}}
        raise AwsError("ModelStreamError", "the model stopped", 424, fields={"ErrorCode": "ModelStreamError"})

    @dispatch.operation("sagemaker-runtime", "InvokeEndpointWithResponseStream")
    async def invoke(ctx, params):
        return {"Body": events(), "ContentType": "application/jsonlines", "InvokedProductionVariant": "v1"}

    client = serve_in_process(make_client("sagemaker-runtime"))
    out = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
    assert out["ContentType"] == "application/jsonlines"
    assert out["InvokedProductionVariant"] == "v1"
    parts = []
    with pytest.raises(Exception) as info:
        for event in out["Body"]:
            parts.append(event["PayloadPart"]["Bytes"])
    assert b"".join(parts) == b'{"token": "Hello"}'
    assert "ModelStreamError" in str(info.value) and "the model stopped" in str(info.value)
