"""The pipeline in-process: dispatch, the request context, and every way a request can go wrong."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator.aws import dispatch, gateway
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols.base import HttpRequest
from tests.unit.aws.harness import fake_emulator, make_client, serve_in_process

JSON_HEADERS = {"content-type": "application/x-amz-json-1.1", "host": "localhost:4566"}


def run(request: HttpRequest, emulator=None):
    return asyncio.run(gateway.process(request, emulator or fake_emulator()))


def sagemaker_request(target: str, body: bytes = b"{}") -> HttpRequest:
    return HttpRequest("POST", "/", "", dict(JSON_HEADERS, **{"x-amz-target": target}), body)


def test_handler_gets_params_and_context(registry):
    seen = {}

    @dispatch.operation("sagemaker", "DescribeEndpoint")
    def describe_endpoint(ctx, params):
        seen["ctx"], seen["params"] = ctx, params
        return {"EndpointName": params["EndpointName"], "EndpointArn": "arn:e", "EndpointConfigName": "c",
                "EndpointStatus": "InService", "CreationTime": 0, "LastModifiedTime": 1.5}

    emulator = fake_emulator(account_id="111122223333", region="eu-north-1")
    client = serve_in_process(make_client("sagemaker", region="ap-southeast-2"), emulator)
    out = client.describe_endpoint(EndpointName="ep")
    ctx = seen["ctx"]
    assert seen["params"] == {"EndpointName": "ep"}
    assert (ctx.service, ctx.operation, ctx.region, ctx.account_id) == (
        "sagemaker", "DescribeEndpoint", "ap-southeast-2", "111122223333")
    assert ctx.emulator is emulator
    assert ctx.headers["x-amz-target"] == "SageMaker.DescribeEndpoint"
    assert ctx.request_id == out["ResponseMetadata"]["RequestId"]
    assert out["EndpointStatus"] == "InService"
    assert out["LastModifiedTime"].timestamp() == 1.5


def test_async_handlers_are_awaited(registry):
    @dispatch.operation("sagemaker-runtime", "InvokeEndpoint")
    async def invoke(ctx, params):
        await asyncio.sleep(0)
        return {"Body": params["Body"][::-1], "ContentType": "text/plain"}

    client = serve_in_process(make_client("sagemaker-runtime"))
    out = client.invoke_endpoint(EndpointName="ep", Body=b"abc")
    assert out["Body"].read() == b"cba"


def test_unknown_target_names_the_operation(registry):
    response = run(sagemaker_request("SageMaker.CreateTrainingJobs"))
    body = json.loads(response.body)
    assert response.status == 400
    assert body["__type"] == "UnknownOperationException"
    assert "CreateTrainingJobs" in body["message"]
    assert response.headers["x-amzn-RequestId"]


@pytest.mark.parametrize("service,method,params", [
    ("sagemaker", "describe_training_job", {"TrainingJobName": "j"}),
    ("logs", "get_log_events", {"logGroupName": "g", "logStreamName": "s"}),
    ("sagemaker-runtime", "invoke_endpoint", {"EndpointName": "e", "Body": b"1"}),
    ("s3", "get_bucket_acl", {"Bucket": "b"}),
    ("sts", "get_session_token", {}),
    ("iam", "list_roles", {}),
])
def test_known_operation_without_handler_is_501(registry, service, method, params):
    client = serve_in_process(make_client(service))
    with pytest.raises(ClientError) as info:
        getattr(client, method)(**params)
    error = info.value.response["Error"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Code"] == "NotImplemented"
    assert info.value.operation_name in error["Message"] and service in error["Message"]


@pytest.mark.parametrize("service,method,params,code", [
    ("sagemaker", "describe_training_job", {"TrainingJobName": "j"}, "InternalFailure"),
    ("sagemaker-runtime", "invoke_endpoint", {"EndpointName": "e", "Body": b"1"}, "InternalFailure"),
    ("s3", "get_object", {"Bucket": "b", "Key": "k"}, "InternalError"),
    ("iam", "get_role", {"RoleName": "r"}, "InternalFailure"),
])
def test_a_bug_is_an_internal_failure_without_traceback(registry, caplog, service, method, params, code):
    client = make_client(service)
    op = client.meta.method_to_api_mapping[method]

    @dispatch.operation(service, op)
    def broken(ctx, params):
        raise ZeroDivisionError("secret detail")

    log: list = []
    serve_in_process(client, log=log)
    with caplog.at_level(logging.ERROR, logger="sagemaker_emulator.aws"):
        with pytest.raises(ClientError) as info:
            getattr(client, method)(**params)
    response = info.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    request_id = response["ResponseMetadata"]["RequestId"]
    body = log[-1][2]
    assert b"secret detail" not in body and b"Traceback" not in body and b"ZeroDivision" not in body
    assert any(request_id in record.getMessage() and record.exc_info for record in caplog.records)


def test_unserializable_result_is_an_internal_failure(registry):
    @dispatch.operation("sagemaker", "DescribeEndpoint")
    def bad(ctx, params):
        return {"CreationTime": object()}

    response = run(sagemaker_request("SageMaker.DescribeEndpoint", b'{"EndpointName":"e"}'))
    assert response.status == 500 and json.loads(response.body)["__type"] == "InternalFailure"


def test_handler_lookup_failure_is_an_internal_failure(monkeypatch):
    def boom(service, name):
        raise ImportError("a handler module is broken")

    monkeypatch.setattr(dispatch, "lookup", boom)
    response = run(sagemaker_request("SageMaker.DescribeEndpoint", b'{"EndpointName":"e"}'))
    assert response.status == 500 and json.loads(response.body)["__type"] == "InternalFailure"


def test_malformed_bodies(registry):
    response = run(sagemaker_request("SageMaker.DescribeEndpoint", b"{not json"))
    assert response.status == 400 and json.loads(response.body)["__type"] == "SerializationException"
    response = run(sagemaker_request("SageMaker.DescribeEndpoint", b'{"EndpointName": 5}'))
    assert response.status == 400 and json.loads(response.body)["__type"] == "SerializationException"
    request = HttpRequest("POST", "/b/k", "uploadId=u", {"host": "localhost"}, b"<CompleteMultipartUpload><Part>")
    response = run(request)
    assert response.status == 400 and b"<Code>MalformedXML</Code>" in response.body
    request = HttpRequest("GET", "/b/k", "partNumber=abc", {"host": "localhost"})
    response = run(request)
    assert response.status == 400 and b"<Code>InvalidArgument</Code>" in response.body


def test_every_response_has_a_request_id(registry):
    for request in [
        sagemaker_request("SageMaker.Nope"),
        HttpRequest("GET", "/b/k", "", {"host": "localhost"}),
        HttpRequest("HEAD", "/b", "", {"host": "localhost"}),
        HttpRequest("POST", "/", "", {"content-type": "application/x-www-form-urlencoded"},
                    b"Action=GetCallerIdentity&Version=2011-06-15"),
        HttpRequest("POST", "/endpoints/e/invocations", "", {}, b"x"),
    ]:
        response = run(request)
        headers = {k.lower() for k in response.headers}
        assert "x-amzn-requestid" in headers or {"x-amz-request-id", "x-amz-id-2"} <= headers


def test_query_error_body_shape(registry):
    @dispatch.operation("sts", "GetCallerIdentity")
    def gci(ctx, params):
        raise AwsError("AccessDenied", "no <way>", 403, fields={"Detail": "x&y"})

    request = HttpRequest("POST", "/", "", {"content-type": "application/x-www-form-urlencoded"},
                          b"Action=GetCallerIdentity&Version=2011-06-15")
    response = run(request)
    assert response.status == 403
    assert response.body.decode().startswith(
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        "<Code>AccessDenied</Code><Message>no &lt;way&gt;</Message><Detail>x&amp;y</Detail></Error><RequestId>")


def test_missing_file_body_is_an_internal_error(registry, tmp_path):
    from sagemaker_emulator.aws.payload import FileBody

    @dispatch.operation("s3", "GetObject")
    def get_object(ctx, params):
        return {"Body": FileBody(tmp_path / "gone", 0, 10)}

    response = run(HttpRequest("GET", "/b/k", "", {"host": "localhost"}))
    assert response.status == 500 and b"<Code>InternalError</Code>" in response.body


def test_streamed_iterable_body(registry):
    @dispatch.operation("sagemaker-runtime", "InvokeEndpoint")
    async def invoke(ctx, params):
        return {"Body": iter([b"a", b"b", b"c"]), "ContentType": "text/plain"}

    client = serve_in_process(make_client("sagemaker-runtime"))
    assert client.invoke_endpoint(EndpointName="e", Body=b"x")["Body"].read() == b"abc"
