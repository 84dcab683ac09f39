"""Models, endpoint configurations and endpoints through boto3: listing, updating, content types."""

from __future__ import annotations

import io
import json

import numpy as np

from tests.integration.conftest import KMEANS_IMAGE, ROLE, recordio_protobuf
from tests.integration.flows import deploy, train_kmeans, unique


def test_update_endpoint_switches_configuration_and_keeps_serving(emulator, mnist_subset):
    sagemaker, s3, runtime = emulator.client("sagemaker"), emulator.client("s3"), emulator.client("sagemaker-runtime")
    features = mnist_subset[0]
    _, first = train_kmeans(sagemaker, s3, features[:300], k=3)
    _, second = train_kmeans(sagemaker, s3, features[300:600], k=5)
    endpoint = deploy(sagemaker, first["ModelArtifacts"]["S3ModelArtifacts"])

    model = unique("second-model")
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": KMEANS_IMAGE, "ModelDataUrl": second["ModelArtifacts"]["S3ModelArtifacts"]})
    sagemaker.create_endpoint_config(
        EndpointConfigName=model,
        ProductionVariants=[{"VariantName": "Blue", "ModelName": model, "InitialInstanceCount": 2,
                             "InstanceType": "ml.m5.large"}],
    )
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=model)
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    description = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert description["EndpointConfigName"] == model
    assert description["ProductionVariants"][0]["VariantName"] == "Blue"
    assert description["ProductionVariants"][0]["CurrentInstanceCount"] == 2

    clusters = set()
    for row in features[:40]:
        answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv",
                                         Body=",".join(f"{v:g}" for v in row))
        assert answer["InvokedProductionVariant"] == "Blue"
        clusters.add(json.loads(answer["Body"].read())["predictions"][0]["closest_cluster"])
    assert max(clusters) <= 4 and len(clusters) > 3  # the k=5 model answers now
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_sdk_order_of_deletion_and_listing(emulator, mnist_subset):
    sagemaker, s3, runtime = emulator.client("sagemaker"), emulator.client("s3"), emulator.client("sagemaker-runtime")
    _, description = train_kmeans(sagemaker, s3, mnist_subset[0][:300], k=3)
    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"])
    names = lambda items, key: [item[key] for item in items]  # noqa: E731
    assert endpoint in names(sagemaker.list_models(NameContains=endpoint)["Models"], "ModelName")
    assert endpoint in names(sagemaker.list_endpoint_configs(NameContains=endpoint)["EndpointConfigs"], "EndpointConfigName")
    listed = sagemaker.list_endpoints(NameContains=endpoint, StatusEquals="InService")["Endpoints"]
    assert names(listed, "EndpointName") == [endpoint]

    # The SageMaker SDK deletes the configuration first; the endpoint keeps serving what it deployed.
    sagemaker.delete_endpoint_config(EndpointConfigName=endpoint)
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=",".join(["0"] * 784))
    assert json.loads(answer["Body"].read())["predictions"]
    sagemaker.delete_endpoint(EndpointName=endpoint)
    sagemaker.delete_model(ModelName=endpoint)
    assert sagemaker.list_endpoints(NameContains=endpoint)["Endpoints"] == []
    assert sagemaker.list_models(NameContains=endpoint)["Models"] == []


def test_inference_content_types(emulator, mnist_subset):
    from sagemaker.amazon.common import read_records

    sagemaker, s3, runtime = emulator.client("sagemaker"), emulator.client("s3"), emulator.client("sagemaker-runtime")
    features = mnist_subset[0]
    _, description = train_kmeans(sagemaker, s3, features[:300], k=4)
    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"])
    rows = features[:5]

    as_json = json.loads(runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json",
        Body=json.dumps({"instances": [{"features": row.tolist()} for row in rows]}))["Body"].read())["predictions"]
    lines = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/jsonlines", Accept="application/jsonlines",
        Body="\n".join(json.dumps({"features": row.tolist()}) for row in rows))["Body"].read().decode().splitlines()
    assert [json.loads(line) for line in lines] == as_json

    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/x-recordio-protobuf",
        Accept="application/x-recordio-protobuf", Body=recordio_protobuf(rows.astype(np.float32)))
    assert answer["ContentType"] == "application/x-recordio-protobuf"
    records = read_records(io.BytesIO(answer["Body"].read()))
    assert len(records) == 5
    for record, expected in zip(records, as_json):
        assert record.label["closest_cluster"].float32_tensor.values[0] == expected["closest_cluster"]
        assert abs(record.label["distance_to_cluster"].float32_tensor.values[0] - expected["distance_to_cluster"]) < 1e-4
    sagemaker.delete_endpoint(EndpointName=endpoint)
