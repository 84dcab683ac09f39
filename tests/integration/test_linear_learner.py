"""The linear learner through real boto3 against a real server: train with train/validation/test channels,
read the metrics from DescribeTrainingJob, deploy, predict, and a multiclass job."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import ROLE
from tests.integration.flows import (channel, deploy, make_bucket, unique, upload_recordio, wait_for_job,
                                     wait_until_failed)

LINEAR_LEARNER_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"


def create_linear_learner_job(sagemaker, bucket: str, channels: list[dict[str, Any]],
                              hyperparameters: dict[str, str], instance_count: int = 1) -> str:
    job = unique("linear-learner")
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": LINEAR_LEARNER_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": instance_count, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters=hyperparameters,
    )
    return job


def model_file(s3, bucket: str, artifact: str) -> bytes:
    key = artifact.split("/", 3)[3]
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        assert archive.getnames() == ["model_algo-1"]
        return archive.extractfile("model_algo-1").read()


def csv_body(rows: np.ndarray) -> str:
    return "\n".join(",".join(f"{value:g}" for value in row) for row in rows)


def test_binary_classifier_train_deploy_predict(emulator, mnist_subset):
    from sagemaker_algorithms.linear_learner.artifact import read_model

    s3, sagemaker, runtime = emulator.client("s3"), emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    features, digits = mnist_subset
    labels = (digits == 0).astype(np.float32)
    bucket = make_bucket(s3)
    channels = [
        channel(upload_recordio(s3, bucket, "train/data.pbr", features[:1400], labels[:1400]), "train"),
        channel(upload_recordio(s3, bucket, "validation/data.pbr", features[1400:1700], labels[1400:1700]),
                "validation"),
        channel(upload_recordio(s3, bucket, "test/data.pbr", features[1700:], labels[1700:]), "test"),
    ]
    job = create_linear_learner_job(sagemaker, bucket, channels, {
        "predictor_type": "binary_classifier", "feature_dim": "784", "mini_batch_size": "200"})
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")

    metrics = {metric["MetricName"]: metric["Value"] for metric in description["FinalMetricDataList"]}
    for channel_name in ("train", "validation", "test"):
        for name in ("binary_classification_accuracy", "binary_f_beta", "precision", "recall", "roc_auc_score"):
            assert f"{channel_name}:{name}" in metrics, (channel_name, name, sorted(metrics))
    for name in ("train:objective_loss", "train:objective_loss:final", "validation:objective_loss",
                 "validation:objective_loss:final", "test:objective_loss", "train:progress", "train:throughput"):
        assert name in metrics
    assert metrics["test:binary_classification_accuracy"] > 0.97
    assert metrics["test:roc_auc_score"] > 0.98
    assert metrics["train:progress"] == 100.0
    definitions = {d["Name"] for d in description["AlgorithmSpecification"]["MetricDefinitions"]}
    assert set(metrics) <= definitions

    artifact = description["ModelArtifacts"]["S3ModelArtifacts"]
    model = read_model(model_file(s3, bucket, artifact))
    assert model.predictor_type == "binary_classifier" and model.feature_dim == 784

    endpoint = deploy(sagemaker, artifact, image=LINEAR_LEARNER_IMAGE)
    rows = features[1700:1800]
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=csv_body(rows))
    assert answer["ContentType"] == "application/json"
    predictions = json.loads(answer["Body"].read())["predictions"]
    assert len(predictions) == 100
    assert all(set(p) == {"score", "predicted_label"} and p["predicted_label"] in (0, 1)
               and isinstance(p["predicted_label"], int) and 0.0 <= p["score"] <= 1.0 for p in predictions)
    predicted = np.array([p["predicted_label"] for p in predictions])
    assert np.mean(predicted == labels[1700:1800]) > 0.95
    local = model.predict(np.array([[float(f"{v:g}") for v in row] for row in rows]))
    assert predicted.tolist() == local["predicted_label"].tolist()
    np.testing.assert_allclose([p["score"] for p in predictions], local["score"], rtol=1e-5, atol=1e-6)

    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                     Accept="application/jsonlines",
                                     Body=json.dumps({"instances": [{"features": rows[0].tolist()}]}))
    assert answer["ContentType"] == "application/jsonlines"
    assert set(json.loads(answer["Body"].read())) == {"score", "predicted_label"}

    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body="1,2,3")
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ModelError", 424)
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_multiclass_classifier_and_sdk_predictor(emulator, mnist_subset):
    from sagemaker.deserializers import RecordDeserializer
    from sagemaker.serializers import RecordSerializer

    s3, sagemaker, runtime = emulator.client("s3"), emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    features, digits = mnist_subset
    bucket = make_bucket(s3)
    # the SDK's record_set writes numpy's float64 features as Float64Tensor and int labels as Int32Tensor
    channels = [
        channel(upload_recordio(s3, bucket, "train/data.pbr", features[:1600].astype(np.float64), digits[:1600]),
                "train"),
        channel(upload_recordio(s3, bucket, "test/data.pbr", features[1600:], digits[1600:].astype(np.float32)),
                "test"),
    ]
    job = create_linear_learner_job(sagemaker, bucket, channels, {
        "predictor_type": "multiclass_classifier", "num_classes": "10", "feature_dim": "784",
        "mini_batch_size": "200", "epochs": "10"})
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    metrics = {metric["MetricName"]: metric["Value"] for metric in description["FinalMetricDataList"]}
    for name in ("multiclass_accuracy", "multiclass_top_k_accuracy", "dcg", "macro_recall", "macro_precision",
                 "macro_f_beta", "objective_loss"):
        assert f"test:{name}" in metrics
    assert metrics["test:multiclass_accuracy"] > 0.8
    assert "validation:objective_loss" not in metrics

    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"], image=LINEAR_LEARNER_IMAGE)
    rows = features[1600:1650].astype(np.float64)
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/x-recordio-protobuf",
                                     Accept="application/x-recordio-protobuf",
                                     Body=RecordSerializer().serialize(rows).read())
    records = RecordDeserializer().deserialize(io.BytesIO(answer["Body"].read()), answer["ContentType"])
    assert len(records) == 50
    scores = np.array([list(r.label["score"].float32_tensor.values) for r in records])
    predicted = np.array([r.label["predicted_label"].float32_tensor.values[0] for r in records])
    assert scores.shape == (50, 10)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(predicted, scores.argmax(axis=1))
    assert np.mean(predicted == digits[1600:1650]) > 0.75
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_bad_hyperparameters_fail_the_job(emulator, mnist_subset):
    s3, sagemaker = emulator.client("s3"), emulator.client("sagemaker")
    features, digits = mnist_subset
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", features[:100], digits[:100].astype(np.float32))
    job = create_linear_learner_job(sagemaker, bucket, [channel(uri)], {"predictor_type": "multiclass_classifier"})
    description = wait_until_failed(sagemaker, job)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        "ClientError: The value '1' is not valid for the 'num_classes' hyperparameter which expects an integer "
        "between 3 and 1000000 when 'predictor_type' is 'multiclass_classifier' (caused by ValidationError)")
