"""The gateway behind a real server on a loopback port, hit with real boto3 clients."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from sagemaker_emulator.aws import dispatch, gateway
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.payload import FileBody
from tests.unit.aws.harness import fake_emulator, make_client

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
STORE: dict[str, bytes] = {}
METADATA: dict[str, dict] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _handlers(tmp_path) -> dict:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 4096)  # 1 MiB

    def get_caller_identity(ctx, params):
        return {"Account": ctx.account_id, "UserId": "AROAEXAMPLE:s",
                "Arn": f"arn:aws:sts::{ctx.account_id}:assumed-role/SageMakerRole/s"}

    def describe_endpoint(ctx, params):
        raise AwsError("ValidationException", f'Could not find endpoint "{params["EndpointName"]}".')

    def describe_training_job(ctx, params):
        raise RuntimeError("boom: a bug with a secret")

    def head_bucket(ctx, params):
        if params["Bucket"] not in ("exists",):
            raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404,
                           fields={"BucketName": params["Bucket"]})
        return {"BucketRegion": "us-east-1"}

    def put_object(ctx, params):
        STORE[params["Key"]] = params.get("Body", b"")
        METADATA[params["Key"]] = params.get("Metadata", {})
        return {"ETag": '"%s"' % hashlib.md5(STORE[params["Key"]]).hexdigest()}

    def get_object(ctx, params):
        if params["Key"] == "from-disk":
            return {"Body": FileBody(blob, 256, 1024 * 1024 - 256), "ContentLength": 1024 * 1024 - 256}
        data = STORE[params["Key"]]
        return {"Body": data, "ContentLength": len(data)}

    def head_object(ctx, params):
        return {"ContentLength": 123456789, "ETag": '"e"', "Metadata": {"note": "grüße"}}

    async def invoke_endpoint(ctx, params):
        return {"Body": params["Body"] + b"!", "ContentType": params.get("Accept", "application/octet-stream"),
                "InvokedProductionVariant": "AllTraffic"}

    async def invoke_stream(ctx, params):
        async def tokens():
            for word in params["Body"].split():
                yield {"PayloadPart": {"Bytes": word + b" "}}

        return {"Body": tokens(), "ContentType": "text/plain"}

    return {
        ("sagemaker-runtime", "InvokeEndpointWithResponseStream"): invoke_stream,
        ("sts", "GetCallerIdentity"): get_caller_identity,
        ("sagemaker", "DescribeEndpoint"): describe_endpoint,
        ("sagemaker", "DescribeTrainingJob"): describe_training_job,
        ("s3", "HeadBucket"): head_bucket,
        ("s3", "PutObject"): put_object,
        ("s3", "GetObject"): get_object,
        ("s3", "HeadObject"): head_object,
        ("sagemaker-runtime", "InvokeEndpoint"): invoke_endpoint,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("gateway-server")
    emulator = fake_emulator(account_id="210987654321")

    async def aws(request: Request):
        return await gateway.handle(request, emulator)

    app = Starlette(routes=[Route("/{path:path}", aws, methods=METHODS)])
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dispatch, "_HANDLERS", _handlers(tmp_path))
        mp.setattr(dispatch, "_loaded", True)
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not uv.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
        uv.should_exit = True
        thread.join(10)


def client(server, service, **config):
    return make_client(service, endpoint_url=server, region="us-east-1", **config)


def test_success(server):
    out = client(server, "sts").get_caller_identity()
    assert out["Account"] == "210987654321"
    assert out["Arn"].endswith(":assumed-role/SageMakerRole/s")


def test_modelled_error(server):
    with pytest.raises(ClientError) as info:
        client(server, "sagemaker").describe_endpoint(EndpointName="missing")
    assert info.value.response["Error"] == {"Code": "ValidationException",
                                            "Message": 'Could not find endpoint "missing".'}
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_internal_failure_without_traceback(server):
    with pytest.raises(ClientError) as info:
        client(server, "sagemaker").describe_training_job(TrainingJobName="j")
    assert info.value.response["Error"]["Code"] == "InternalFailure"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    raw = httpx.post(server + "/", headers={"X-Amz-Target": "SageMaker.DescribeTrainingJob",
                                            "Content-Type": "application/x-amz-json-1.1"},
                     content=b'{"TrainingJobName":"j"}')
    assert raw.status_code == 500
    assert b"boom" not in raw.content and b"Traceback" not in raw.content
    assert raw.json()["__type"] == "InternalFailure"
    assert raw.headers["x-amzn-requestid"] in raw.json()["message"]


def test_not_implemented(server):
    with pytest.raises(ClientError) as info:
        client(server, "sagemaker").list_training_jobs()
    assert info.value.response["Error"]["Code"] == "NotImplemented"
    assert "ListTrainingJobs" in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_head_bucket_404_is_body_less(server):
    s3 = client(server, "s3")
    with pytest.raises(ClientError) as info:
        s3.head_bucket(Bucket="sagemaker-us-east-1-210987654321", ExpectedBucketOwner="210987654321")
    assert info.value.response["Error"]["Code"] == "404"
    assert info.value.response["Error"]["Message"] == "Not Found"
    raw = httpx.head(server + "/nope")
    assert raw.status_code == 404 and raw.content == b""
    assert s3.head_bucket(Bucket="exists")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_s3_round_trip_with_expect_continue_and_file_body(server):
    s3 = client(server, "s3")
    data = bytes(range(256)) * 8192  # 2 MiB: botocore sends Expect: 100-continue
    s3.put_object(Bucket="b", Key="big", Body=data)
    assert STORE["big"] == data
    assert s3.get_object(Bucket="b", Key="big")["Body"].read() == data
    out = s3.get_object(Bucket="b", Key="from-disk")
    assert out["ContentLength"] == 1024 * 1024 - 256
    assert out["Body"].read() == (bytes(range(256)) * 4096)[256:]


def test_invoke_endpoint_binary(server):
    runtime = client(server, "sagemaker-runtime")
    body = bytes(range(256))
    out = runtime.invoke_endpoint(EndpointName="ep", Body=body, ContentType="application/x-recordio-protobuf",
                                  Accept="application/json")
    assert out["Body"].read() == body + b"!"
    assert out["ContentType"] == "application/json"
    assert out["InvokedProductionVariant"] == "AllTraffic"


def test_head_object_reports_length_without_body(server):
    out = client(server, "s3").head_object(Bucket="b", Key="k")
    assert out["ContentLength"] == 123456789
    assert out["ETag"] == '"e"'
    raw = httpx.head(server + "/b/k")
    assert raw.headers["content-length"] == "123456789" and raw.content == b""


def test_utf8_metadata_reaches_the_handler(server):
    s3 = client(server, "s3")
    s3.put_object(Bucket="b", Key="meta", Body=b"x", Metadata={"plain": "ascii"})
    raw = httpx.put(server + "/b/utf8", content=b"y", headers={"x-amz-meta-word": "grüße".encode("utf-8")})
    assert raw.status_code == 200
    assert STORE["utf8"] == b"y"
    assert METADATA["utf8"] == {"word": "grüße"}
    assert METADATA["meta"] == {"plain": "ascii"}


def test_invoke_endpoint_with_response_stream(server):
    out = client(server, "sagemaker-runtime").invoke_endpoint_with_response_stream(
        EndpointName="ep", Body=b"one two three")
    assert [e["PayloadPart"]["Bytes"] for e in out["Body"]] == [b"one ", b"two ", b"three "]
