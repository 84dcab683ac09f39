"""The low-level notebook flow of issue 'Foundation', unchanged, through stock boto3 and its waiters."""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import numpy as np
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.integration.conftest import KMEANS_IMAGE, ROLE, recordio_protobuf


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_kmeans_notebook_flow(emulator, mnist_subset):
    s3 = emulator.client("s3")
    sagemaker = emulator.client("sagemaker")
    runtime = emulator.client("sagemaker-runtime")
    logs = emulator.client("logs")
    features, _ = mnist_subset
    bucket = unique("flow-bucket")
    job = unique("kmeans-job")

    s3.create_bucket(Bucket=bucket)
    payload = recordio_protobuf(features)
    # A multipart upload with CRC32 checksums, as upload_fileobj does for large files.
    five_mib = 5 * 1024 * 1024
    s3.upload_fileobj(
        io.BytesIO(payload), bucket, "train/data.pbr",
        Config=TransferConfig(multipart_threshold=five_mib, multipart_chunksize=five_mib),
    )
    head = s3.head_object(Bucket=bucket, Key="train/data.pbr")
    assert head["ContentLength"] == len(payload)
    assert head["ETag"].endswith('-2"')

    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": KMEANS_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[{
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/",
                "S3DataDistributionType": "FullyReplicated"}},
        }],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 2, "InstanceType": "ml.c4.xlarge", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"k": "10", "feature_dim": "784", "mini_batch_size": "500", "force_dense": "True"},
    )
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    description = sagemaker.describe_training_job(TrainingJobName=job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    statuses = [entry["Status"] for entry in description["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert description["TrainingTimeInSeconds"] >= 1
    assert description["BillableTimeInSeconds"] == description["TrainingTimeInSeconds"]
    assert description["OutputDataConfig"]["KmsKeyId"] == ""
    assert description["ResourceConfig"]["InstanceCount"] == 2
    metrics = {metric["MetricName"]: metric["Value"] for metric in description["FinalMetricDataList"]}
    assert 0 < metrics["train:msd"] < 100

    artifact = description["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{bucket}/output/{job}/output/model.tar.gz"
    body = s3.get_object(Bucket=bucket, Key=f"output/{job}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert archive.getnames() == ["model_algo-1"]

    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job + "/", orderBy="LogStreamName", limit=2
    )
    names = [stream["logStreamName"] for stream in streams["logStreams"]]
    assert [name.rsplit("-", 1)[0] for name in names] == [f"{job}/algo-1", f"{job}/algo-2"]
    assert "nextToken" not in streams

    model = unique("kmeans-model")
    sagemaker.create_model(
        ModelName=model, ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": KMEANS_IMAGE, "ModelDataUrl": artifact},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=model,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model,
                             "InitialInstanceCount": 1, "InstanceType": "ml.m4.xlarge"}],
    )
    endpoint = unique("kmeans-endpoint")
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=model)
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )

    one_row = ",".join(f"{value:g}" for value in features[0])
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=one_row)
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    predictions = json.loads(answer["Body"].read())["predictions"]
    assert len(predictions) == 1
    assert set(predictions[0]) == {"closest_cluster", "distance_to_cluster"}

    hundred_rows = "\n".join(",".join(f"{value:g}" for value in row) for row in features[:100])
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="application/json", Body=hundred_rows
    )
    predictions = json.loads(answer["Body"].read())["predictions"]
    assert len(predictions) == 100
    clusters = np.array([prediction["closest_cluster"] for prediction in predictions])
    assert clusters.min() >= 0 and clusters.max() <= 9
    assert len(set(clusters.tolist())) > 3

    sagemaker.delete_endpoint(EndpointName=endpoint)
    with pytest.raises(ClientError) as error:
        sagemaker.describe_endpoint(EndpointName=endpoint)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"].startswith("Could not find endpoint")
    sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=endpoint, WaiterConfig={"Delay": 1})
