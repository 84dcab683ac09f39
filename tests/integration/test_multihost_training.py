"""InstanceCount 2 through boto3: two cooperating hosts (one process each on the process backend,
joined through torch.distributed), each with its own shard, one model, both hosts in the logs."""

from __future__ import annotations

import io
import re
import tarfile

import numpy as np
import pytest

from sagemaker_algorithms.common import ndarray
from sagemaker_algorithms.kmeans.estimator import sum_squared_distances
from tests.integration.flows import (
    channel,
    create_kmeans_job,
    make_bucket,
    unique,
    upload_recordio,
    wait_for_job,
    wait_until_failed,
)

pytest.importorskip("torch")

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def stream_texts(logs, job: str) -> dict[str, str]:
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=job + "/")["logStreams"]
    texts = {}
    for stream in streams:
        events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]
        host = stream["logStreamName"].split("/")[1].rsplit("-", 1)[0]
        texts[host] = "\n".join(event["message"] for event in events)
    return texts


def model_centers(s3, artifact: str) -> np.ndarray:
    bucket, key = artifact[len("s3://"):].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert archive.getnames() == ["model_algo-1"]
        data = archive.extractfile("model_algo-1").read()
    return ndarray.loads(data)[0][0]


def test_kmeans_on_two_hosts_matches_one_host(emulator, mnist_subset):
    sagemaker, s3, logs = emulator.client("sagemaker"), emulator.client("s3"), emulator.client("logs")
    features = mnist_subset[0][:1600]
    bucket = make_bucket(s3)
    for index in range(4):
        upload_recordio(s3, bucket, f"train/part-{index}.pbr", features[index::4])
    hyperparameters = {"k": "10", "feature_dim": "784", "mini_batch_size": "200"}
    jobs = {}
    for count, distribution in ((2, "ShardedByS3Key"), (1, "FullyReplicated")):
        jobs[count] = unique(f"kmeans-{count}-hosts")
        create_kmeans_job(sagemaker, jobs[count], bucket,
                          [channel(f"s3://{bucket}/train/", S3DataDistributionType=distribution)],
                          hyperparameters, instance_count=count)
    descriptions = {count: wait_for_job(sagemaker, job) for count, job in jobs.items()}
    for description in descriptions.values():
        assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")

    texts = stream_texts(logs, jobs[2])
    assert sorted(texts) == ["algo-1", "algo-2"]
    for host, text in texts.items():  # each host streamed its own half of the records
        assert "processed a total of 800 examples" in text, text
        assert f"as rank {int(host[-1]) - 1} ({host}) through torch.distributed gloo" in text
    assert "Combined the micro-clusters of 2 hosts (1600 records)" in texts["algo-1"]
    assert "Sent 100 micro-clusters to algo-1" in texts["algo-2"]

    msd = {count: sum_squared_distances(features, model_centers(s3, description["ModelArtifacts"]["S3ModelArtifacts"]))
           / len(features) for count, description in descriptions.items()}
    assert msd[2] == pytest.approx(msd[1], rel=0.03)
    metrics = {m["MetricName"]: m["Value"] for m in descriptions[2]["FinalMetricDataList"]}
    assert metrics["train:msd"] == pytest.approx(msd[2], rel=0.1)


def test_a_failing_host_fails_the_job_with_its_reason(emulator, mnist_subset):
    sagemaker, s3, logs = emulator.client("sagemaker"), emulator.client("s3"), emulator.client("logs")
    bucket = make_bucket(s3)
    upload_recordio(s3, bucket, "train/part-0.pbr", mnist_subset[0][:300])
    s3.put_object(Bucket=bucket, Key="train/part-1.pbr", Body=b"this is not RecordIO")
    job = unique("kmeans-bad-shard")
    create_kmeans_job(sagemaker, job, bucket,
                      [channel(f"s3://{bucket}/train/", S3DataDistributionType="ShardedByS3Key")],
                      {"k": "5", "feature_dim": "784"}, instance_count=2)
    description = wait_until_failed(sagemaker, job)
    assert description["TrainingJobStatus"] == "Failed"
    assert re.match(r"ClientError: Unable to read data channel 'train' \(file 'part-1\.pbr'",
                    description["FailureReason"]), description["FailureReason"]
    assert "Unable to read data channel" in stream_texts(logs, job)["algo-2"]


def test_linear_learner_on_two_hosts_logs_the_same_metrics_on_both(emulator, mnist_subset):
    from tests.integration.test_linear_learner import create_linear_learner_job

    sagemaker, s3, logs = emulator.client("sagemaker"), emulator.client("s3"), emulator.client("logs")
    features, digits = mnist_subset
    labels = (digits == 0).astype(np.float32)
    bucket = make_bucket(s3)
    for index in range(2):
        upload_recordio(s3, bucket, f"train/part-{index}.pbr", features[index:1600:2], labels[index:1600:2])
    upload_recordio(s3, bucket, "test/test.pbr", features[1600:], labels[1600:])
    job = create_linear_learner_job(
        sagemaker, bucket,
        [channel(f"s3://{bucket}/train/", S3DataDistributionType="ShardedByS3Key"),
         channel(f"s3://{bucket}/test/", name="test")],
        {"predictor_type": "binary_classifier", "feature_dim": "784", "mini_batch_size": "50", "num_models": "4"},
        instance_count=2)
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    texts = stream_texts(logs, job)
    finals = {host: [line.split("] ", 1)[-1].replace(host, "HOST") for line in text.splitlines()
                     if "#quality_metric" in line and "epoch=" not in line] for host, text in texts.items()}
    assert finals["algo-1"] == finals["algo-2"] and len(finals["algo-1"]) >= 10
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert metrics["test:binary_classification_accuracy"] > 0.95
