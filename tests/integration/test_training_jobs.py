"""Training jobs through boto3: failures, stopping, the runtime limit, channel kinds, listing, tags."""

from __future__ import annotations

import gzip
import json
import time

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import recordio_protobuf
from tests.integration.flows import (
    channel,
    create_kmeans_job,
    make_bucket,
    unique,
    upload_recordio,
    wait_for_job,
    wait_until_failed,
)

LONG_RUNNING = {"k": "5", "feature_dim": "784", "mini_batch_size": "50", "epochs": "1000000"}


def test_missing_required_hyperparameters_fail_the_job(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", mnist_subset[0][:200])
    job = unique("no-k")
    create_kmeans_job(sagemaker, job, bucket, [channel(uri)], {"mini_batch_size": "100"})
    description = wait_until_failed(sagemaker, job)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        "ClientError: No value(s) were specified for 'k', 'feature_dim' which are required hyperparameter(s) "
        "(caused by ValidationError)"
    )
    assert description["SecondaryStatusTransitions"][-1]["Status"] == "Failed"


def test_unknown_hyperparameter_and_bad_value_fail_the_job(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", mnist_subset[0][:200])
    unknown, bad = unique("unknown-hp"), unique("bad-hp")
    create_kmeans_job(sagemaker, unknown, bucket, [channel(uri)], {"k": "3", "feature_dim": "784", "colour": "red"})
    create_kmeans_job(sagemaker, bad, bucket, [channel(uri)], {"k": "three", "feature_dim": "784"})
    reason = wait_until_failed(sagemaker, unknown)["FailureReason"]
    assert reason.startswith("ClientError: Additional hyperparameters are not allowed ('colour' was unexpected)")
    reason = wait_until_failed(sagemaker, bad)["FailureReason"]
    assert reason.startswith("ClientError: ") and "'k'" in reason and "three" in reason


def test_wrong_feature_dim_fails_with_a_data_error(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", mnist_subset[0][:200])
    job = unique("bad-dim")
    create_kmeans_job(sagemaker, job, bucket, [channel(uri)], {"k": "3", "feature_dim": "100"})
    description = wait_until_failed(sagemaker, job)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("ClientError")


def test_missing_input_data_fails_the_job(emulator):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    job = unique("no-data")
    create_kmeans_job(sagemaker, job, bucket, [channel(f"s3://{bucket}/nothing-here/")], {"k": "3", "feature_dim": "4"})
    description = wait_until_failed(sagemaker, job)
    assert description["FailureReason"].startswith('ClientError: No S3 objects found under S3 URL "s3://')


def test_stop_training_job_stops_the_work(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", mnist_subset[0][:500])
    job = unique("stopped")
    create_kmeans_job(sagemaker, job, bucket, [channel(uri)], LONG_RUNNING)
    _wait_for_secondary_status(sagemaker, job, "Training")
    sagemaker.stop_training_job(TrainingJobName=job)
    assert sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] in ("Stopping", "Stopped")
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "Stopped"
    with pytest.raises(ClientError) as error:
        sagemaker.stop_training_job(TrainingJobName=job)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "Stopped" in error.value.response["Error"]["Message"]


def test_max_runtime_is_enforced(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", mnist_subset[0][:500])
    job = unique("too-long")
    started = time.monotonic()
    create_kmeans_job(sagemaker, job, bucket, [channel(uri)], LONG_RUNNING, max_runtime=3)
    description = wait_for_job(sagemaker, job)
    assert time.monotonic() - started < 60
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_manifest_sharded_gzip_and_csv_channels(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    features = mnist_subset[0][:400]
    bucket = make_bucket(s3)
    # A ManifestFile channel as the SDK's record_set() writes it, sharded by key over two instances.
    for index, rows in enumerate((features[:200], features[200:])):
        s3.put_object(Bucket=bucket, Key=f"records/matrix_{index}.pbr", Body=recordio_protobuf(rows))
    manifest = [{"prefix": f"s3://{bucket}/records/"}, "matrix_0.pbr", "matrix_1.pbr"]
    s3.put_object(Bucket=bucket, Key="records/.amazon.manifest", Body=json.dumps(manifest).encode())
    manifest_job = unique("manifest")
    create_kmeans_job(
        sagemaker, manifest_job, bucket,
        [channel(f"s3://{bucket}/records/.amazon.manifest", S3DataType="ManifestFile",
                 S3DataDistributionType="ShardedByS3Key")],
        {"k": "4", "feature_dim": "784"}, instance_count=2,
    )
    # Gzip-compressed CSV without labels.
    csv_text = "\n".join(",".join(f"{value:g}" for value in row) for row in features)
    s3.put_object(Bucket=bucket, Key="csv/train.csv.gz", Body=gzip.compress(csv_text.encode()))
    csv_job = unique("csv-gzip")
    create_kmeans_job(
        sagemaker, csv_job, bucket,
        [channel(f"s3://{bucket}/csv/", ContentType="text/csv;label_size=0", CompressionType="Gzip")],
        {"k": "4", "feature_dim": "784"},
    )
    for job in (manifest_job, csv_job):
        description = wait_for_job(sagemaker, job)
        assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    channel_description = sagemaker.describe_training_job(TrainingJobName=csv_job)["InputDataConfig"][0]
    assert channel_description["CompressionType"] == "Gzip"
    assert channel_description["ContentType"] == "text/csv;label_size=0"


def test_test_channel_reports_test_metrics(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    features = mnist_subset[0]
    bucket = make_bucket(s3)
    train = upload_recordio(s3, bucket, "train/data.pbr", features[:800])
    test = upload_recordio(s3, bucket, "test/data.pbr", features[800:1000])
    job = unique("with-test")
    create_kmeans_job(
        sagemaker, job, bucket, [channel(train), channel(test, name="test")],
        {"k": "10", "feature_dim": "784", "eval_metrics": '["msd", "ssd"]'},
    )
    description = wait_for_job(sagemaker, job)
    metrics = {metric["MetricName"]: metric["Value"] for metric in description["FinalMetricDataList"]}
    assert {"train:msd", "test:msd", "test:ssd"} <= set(metrics)
    assert metrics["test:ssd"] == pytest.approx(metrics["test:msd"] * 200, rel=1e-3)


def test_list_training_jobs_filters_sorts_and_pages(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", mnist_subset[0][:100])
    marker = unique("listing")
    names = [f"{marker}-{index}" for index in range(3)]
    for name in names:
        create_kmeans_job(sagemaker, name, bucket, [channel(uri)], {"k": "2", "feature_dim": "784"})
    for name in names:
        wait_for_job(sagemaker, name)

    listed = sagemaker.list_training_jobs(NameContains=marker, SortBy="Name", SortOrder="Ascending")
    assert [summary["TrainingJobName"] for summary in listed["TrainingJobSummaries"]] == names
    assert all(summary["TrainingJobStatus"] == "Completed" for summary in listed["TrainingJobSummaries"])

    paged = [
        summary["TrainingJobName"]
        for page in sagemaker.get_paginator("list_training_jobs").paginate(
            NameContains=marker, SortBy="CreationTime", SortOrder="Descending", PaginationConfig={"PageSize": 2}
        )
        for summary in page["TrainingJobSummaries"]
    ]
    assert paged == list(reversed(names))
    assert sagemaker.list_training_jobs(NameContains=marker, StatusEquals="Failed")["TrainingJobSummaries"] == []
    first = sagemaker.list_training_jobs(NameContains=marker, MaxResults=1)
    assert len(first["TrainingJobSummaries"]) == 1 and "NextToken" in first


def test_tags_add_list_delete(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", mnist_subset[0][:100])
    job = unique("tagged")
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": "kmeans:latest", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        InputDataConfig=[channel(uri)],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={"k": "2", "feature_dim": "784"},
        Tags=[{"Key": "project", "Value": "digits"}],
    )
    job_arn = sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobArn"]
    assert sagemaker.list_tags(ResourceArn=job_arn)["Tags"] == [{"Key": "project", "Value": "digits"}]
    sagemaker.add_tags(ResourceArn=job_arn, Tags=[{"Key": "owner", "Value": "me"}, {"Key": "project", "Value": "mnist"}])
    assert sagemaker.list_tags(ResourceArn=job_arn)["Tags"] == [
        {"Key": "project", "Value": "mnist"}, {"Key": "owner", "Value": "me"}
    ]
    sagemaker.delete_tags(ResourceArn=job_arn, TagKeys=["project"])
    assert sagemaker.list_tags(ResourceArn=job_arn)["Tags"] == [{"Key": "owner", "Value": "me"}]
    with pytest.raises(ClientError) as error:
        sagemaker.list_tags(ResourceArn=job_arn + "-missing")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    wait_for_job(sagemaker, job)


def _wait_for_secondary_status(sagemaker, job: str, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sagemaker.describe_training_job(TrainingJobName=job)["SecondaryStatus"] == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{job} never reached {status}")
