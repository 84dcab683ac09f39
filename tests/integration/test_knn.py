"""k-NN through real boto3 against a real server: train on MNIST digits, test metric, deploy, predict, errors."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import ROLE
from tests.integration.flows import channel, deploy, make_bucket, unique, wait_for_job, wait_until_failed

KNN_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/knn:1"
K = 10


def csv_rows(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """Rows as the SDK's CSVSerializer writes float32 arrays (shortest float32 text, exact)."""
    table = features if labels is None else np.column_stack([labels.astype(np.float32), features])
    return "\n".join(",".join(str(value) for value in row) for row in table.astype(np.float32)).encode()


def create_knn_job(sagemaker, job: str, bucket: str, channels: list[dict[str, Any]],
                   hyperparameters: dict[str, str]) -> None:
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": KNN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters=hyperparameters,
    )


def upload_csv_channels(s3, bucket: str, train, test) -> list[dict[str, Any]]:
    s3.put_object(Bucket=bucket, Key="train/digits.csv", Body=csv_rows(*train))
    s3.put_object(Bucket=bucket, Key="test/digits.csv", Body=csv_rows(*test))
    return [channel(f"s3://{bucket}/train/", "train", ContentType="text/csv;label_size=1"),
            channel(f"s3://{bucket}/test/", "test", ContentType="text/csv;label_size=1")]


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return {**raised.value.response["Error"], "Status": raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
            "Response": raised.value.response}


def test_knn_mnist_train_test_deploy_predict(emulator, mnist_subset):
    from sklearn.neighbors import KNeighborsClassifier

    s3, sagemaker, runtime = emulator.client("s3"), emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    features, labels = mnist_subset
    train, test = (features[:1500], labels[:1500]), (features[1500:], labels[1500:])
    bucket = make_bucket(s3)
    job = unique("knn")
    create_knn_job(sagemaker, job, bucket, upload_csv_channels(s3, bucket, train, test),
                   {"k": str(K), "sample_size": "1500", "predictor_type": "classifier", "feature_dim": "784"})
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    metrics = {metric["MetricName"]: metric["Value"] for metric in description["FinalMetricDataList"]}
    assert "test:mse" not in metrics and metrics["train:progress"] == 100.0

    # sample_size = the training rows, so the model is scikit-learn's brute force on the same rows
    reference = KNeighborsClassifier(n_neighbors=K, algorithm="brute").fit(*train)
    expected = reference.predict(test[0])
    assert metrics["test:accuracy"] == pytest.approx(float(np.mean(expected == test[1])), abs=1e-6)
    assert metrics["test:accuracy"] > 0.85

    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"], image=KNN_IMAGE)
    rows = test[0][:60]
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=csv_rows(rows))
    assert answer["ContentType"] == "application/json"
    predictions = json.loads(answer["Body"].read())["predictions"]
    assert [p["predicted_label"] for p in predictions] == expected[:60].astype(float).tolist()
    assert all(isinstance(p["predicted_label"], float) and set(p) == {"predicted_label"} for p in predictions)

    # JSON request, verbose JSON response: k neighbour labels and ascending distances
    body = json.dumps({"instances": [{"features": row.tolist()} for row in rows[:5]]})
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                     Accept="application/json; verbose=true", Body=body)
    verbose = json.loads(answer["Body"].read())["predictions"]
    distances, indices = reference.kneighbors(rows[:5])
    for prediction, ref_distances, ref_indices in zip(verbose, distances, indices):
        assert list(prediction) == ["predicted_label", "distances", "labels"]
        assert len(prediction["distances"]) == len(prediction["labels"]) == K
        assert prediction["distances"] == sorted(prediction["distances"])
        assert np.allclose(prediction["distances"], ref_distances, atol=1e-4)
        assert prediction["labels"] == train[1][ref_indices].astype(float).tolist()

    # JSON Lines and RecordIO-protobuf (the SDK's KNNPredictor wire format)
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/jsonlines",
                                     Accept="application/jsonlines",
                                     Body="\n".join(json.dumps({"features": row.tolist()}) for row in rows[:3]))
    lines = [json.loads(line) for line in answer["Body"].read().decode().splitlines()]
    assert [line["predicted_label"] for line in lines] == expected[:3].astype(float).tolist()
    from sagemaker.deserializers import RecordDeserializer
    from sagemaker.serializers import RecordSerializer

    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/x-recordio-protobuf",
                                     Accept="application/x-recordio-protobuf",
                                     Body=RecordSerializer().serialize(rows[:4]).read())
    records = RecordDeserializer().deserialize(io.BytesIO(answer["Body"].read()), answer["ContentType"])
    assert [r.label["predicted_label"].float32_tensor.values[0] for r in records] == expected[:4].tolist()

    # a malformed request is the model's 400, surfaced as ModelError 424
    for bad_body, content_type in ((b"1,2,3", "text/csv"), (b'{"instances": [{"feature": [1]}]}', "application/json")):
        error = error_of(runtime.invoke_endpoint, EndpointName=endpoint, ContentType=content_type, Body=bad_body)
        assert (error["Code"], error["Status"]) == ("ModelError", 424), error
        assert error["Response"]["OriginalStatusCode"] == 400
        assert error["Message"].startswith("Received client error (400) from AllTraffic with message")
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_knn_job_failures(emulator, mnist_subset):
    s3, sagemaker = emulator.client("s3"), emulator.client("sagemaker")
    features, labels = mnist_subset
    bucket = make_bucket(s3)
    channels = upload_csv_channels(s3, bucket, (features[:300], labels[:300]), (features[300:400], labels[300:400]))

    missing = unique("knn-missing")
    create_knn_job(sagemaker, missing, bucket, channels[:1], {"feature_dim": "784"})
    description = wait_until_failed(sagemaker, missing)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        "ClientError: No value(s) were specified for 'k', 'sample_size', 'predictor_type' which are required "
        "hyperparameter(s) (caused by ValidationError)")

    # a test channel whose rows have fewer features than feature_dim
    s3.put_object(Bucket=bucket, Key="narrow/digits.csv", Body=csv_rows(features[300:400, :700], labels[300:400]))
    narrow = unique("knn-narrow")
    create_knn_job(sagemaker, narrow, bucket,
                   [channels[0], channel(f"s3://{bucket}/narrow/", "test", ContentType="text/csv;label_size=1")],
                   {"k": "5", "sample_size": "300", "predictor_type": "classifier", "feature_dim": "784"})
    description = wait_until_failed(sagemaker, narrow)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith(
        "ClientError: Unable to read data channel 'test' (file 'digits.csv', content type 'text/csv'): Rows 1-100 "
        "have different fields than the expected size 785")
