"""The routing table: every operation of the six services, as botocore sends it, resolves to itself."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore import xform_name

from sagemaker_emulator.aws import specs
from sagemaker_emulator.aws.protocols.base import HttpRequest
from sagemaker_emulator.aws.routing import Router, credential_scope, virtual_host_bucket
from tests.unit.aws.harness import capture, make_client

# Operations S3 models twice with one wire shape; the request resolves to the current name.
TWINS = {
    ("s3", "GetBucketLifecycle"): "GetBucketLifecycleConfiguration",
    ("s3", "PutBucketLifecycle"): "PutBucketLifecycleConfiguration",
    ("s3", "GetBucketNotification"): "GetBucketNotificationConfiguration",
    ("s3", "PutBucketNotification"): "PutBucketNotificationConfiguration",
    ("s3", "ListDirectoryBuckets"): "ListBuckets",
}


def dummy(shape, depth: int = 0):
    """A minimal value of ``shape`` that passes botocore's client-side validation."""
    t = shape.type_name
    meta = shape.metadata
    if t == "structure":
        if getattr(shape, "is_document_type", False):
            return {}
        names = list(shape.required_members)
        if meta.get("union") or (not names and shape.serialization.get("union")):
            names = names or list(shape.members)[:1]
        return {n: dummy(shape.members[n], depth + 1) for n in names}
    if t == "string":
        if meta.get("enum"):
            return meta["enum"][0]
        return "x" * max(int(meta.get("min", 1)), 1)
    if t in ("integer", "long"):
        return max(int(meta.get("min", 1)), 1)
    if t in ("float", "double"):
        return float(max(meta.get("min", 1), 1))
    if t == "boolean":
        return True
    if t == "timestamp":
        return datetime(2024, 5, 1, tzinfo=timezone.utc)
    if t == "blob":
        return b"x" * max(int(meta.get("min", 1)), 1)
    if t == "list":
        return [dummy(shape.member, depth + 1) for _ in range(max(int(meta.get("min", 1)), 1))]
    if t == "map":
        return {"k": dummy(shape.value, depth + 1)}
    raise AssertionError(t)


def _cases():
    for service in specs.SERVICES:
        for name in specs.operations(service):
            yield service, name


_clients: dict[str, object] = {}


def _client(service):
    if service not in _clients:
        _clients[service] = make_client(service)
    return _clients[service]


@pytest.mark.parametrize("service", specs.SERVICES)
def test_every_operation_routes_to_itself(service):
    router = Router(["localhost"], "us-east-1")
    client = _client(service)
    wrong = []
    for name, operation in specs.operations(service).items():
        params = dummy(operation.input_shape) if operation.input_shape is not None else {}
        request = capture(client, xform_name(name), **params)
        route = router.route(request)
        got = route.operation.name if route.operation is not None else repr(route.error)
        if route.service != service or got != TWINS.get((service, name), name):
            wrong.append((name, route.service, got, request.method, request.path, request.query_string))
    assert not wrong


def test_routing_signals():
    router = Router(["localhost"], "us-east-1")
    # runtime and control plane share the signing name sagemaker
    auth = "AWS4-HMAC-SHA256 Credential=AKID/20240501/ap-south-1/sagemaker/aws4_request, SignedHeaders=host"
    route = router.route(HttpRequest("POST", "/endpoints/ep/invocations", "", {"authorization": auth}))
    assert (route.service, route.operation.name, route.region) == ("sagemaker-runtime", "InvokeEndpoint", "ap-south-1")
    # unsigned runtime request
    route = router.route(HttpRequest("POST", "/endpoints/ep/invocations", "", {}))
    assert (route.service, route.operation.name, route.region) == ("sagemaker-runtime", "InvokeEndpoint", "us-east-1")
    # unsigned query requests by Version
    form = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    route = router.route(HttpRequest("POST", "/", "", form, b"Action=GetCallerIdentity&Version=2011-06-15"))
    assert (route.service, route.operation.name) == ("sts", "GetCallerIdentity")
    route = router.route(HttpRequest("POST", "/", "", form, b"Action=GetRole&Version=2010-05-08&RoleName=x"))
    assert (route.service, route.operation.name) == ("iam", "GetRole")
    # presigned S3 URL: region from X-Amz-Credential
    route = router.route(HttpRequest(
        "GET", "/b/k", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240501%2Feu-central-1%2Fs3%2Faws4_request", {}))
    assert (route.service, route.operation.name, route.region) == ("s3", "GetObject", "eu-central-1")
    # everything else is S3; ListBuckets is GET /
    route = router.route(HttpRequest("GET", "/", "", {"host": "127.0.0.1:5066"}))
    assert (route.service, route.operation.name) == ("s3", "ListBuckets")
    route = router.route(HttpRequest("HEAD", "/bucket/", "", {}))
    assert route.operation.name == "HeadBucket"


def test_routing_errors_name_the_operation():
    router = Router([], "us-east-1")
    route = router.route(HttpRequest("POST", "/", "", {"x-amz-target": "SageMaker.CreateTrainingJobz"}))
    assert route.service == "sagemaker" and route.error.code == "UnknownOperationException"
    assert "CreateTrainingJobz" in route.error.message
    route = router.route(HttpRequest("POST", "/", "", {"x-amz-target": "AmazonSQS.SendMessage"}))
    assert route.error.code == "UnknownOperationException" and "AmazonSQS.SendMessage" in route.error.message
    form = {"content-type": "application/x-www-form-urlencoded"}
    route = router.route(HttpRequest("POST", "/", "", form, b"Action=Frobnicate&Version=2010-05-08"))
    assert route.error.code == "InvalidAction" and "Frobnicate" in route.error.message
    auth = {"authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/lambda/aws4_request"}
    route = router.route(HttpRequest("GET", "/2015-03-31/functions/", "", auth))
    assert route.error.code == "NotImplemented" and route.error.status == 501 and "lambda" in route.error.message
    route = router.route(HttpRequest("PATCH", "/bucket/key", "", {}))
    assert route.service == "s3" and route.error.code == "MethodNotAllowed"


def test_credential_scope_and_virtual_hosts():
    assert credential_scope(HttpRequest("GET", "/", "", {
        "authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-west-2/s3/aws4_request,SignedHeaders=host"
    })) == ("us-west-2", "s3")
    assert credential_scope(HttpRequest("GET", "/", "", {})) is None
    assert virtual_host_bucket("127.0.0.1:5066", ["localhost", "127.0.0.1"]) is None
    assert virtual_host_bucket("localhost:5066", ["localhost"]) is None
    assert virtual_host_bucket("my.dotted.bucket.localhost:5066", []) == "my.dotted.bucket"
    assert virtual_host_bucket("s3.localhost", []) is None
    assert virtual_host_bucket("bkt.s3.localhost", []) == "bkt"
    assert virtual_host_bucket("sm-pysdk-t-us-east-1.s3.us-east-1.amazonaws.com", []) == "sm-pysdk-t-us-east-1"
    assert virtual_host_bucket("[::1]:5066", ["localhost"]) is None
