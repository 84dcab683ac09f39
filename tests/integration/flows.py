"""Steps that several integration tests share, written the way a notebook would write them."""

from __future__ import annotations

import uuid
from typing import Any

from tests.integration.conftest import KMEANS_IMAGE, ROLE, recordio_protobuf


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_bucket(s3) -> str:
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    return bucket


def upload_recordio(s3, bucket: str, key: str, features, labels=None) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=recordio_protobuf(features, labels))
    return f"s3://{bucket}/{key}"


def channel(uri: str, name: str = "train", **extra: Any) -> dict[str, Any]:
    source = {"S3DataType": extra.pop("S3DataType", "S3Prefix"), "S3Uri": uri,
              "S3DataDistributionType": extra.pop("S3DataDistributionType", "FullyReplicated")}
    return {"ChannelName": name, "DataSource": {"S3DataSource": source}, **extra}


def create_kmeans_job(
    sagemaker, job: str, bucket: str, channels: list[dict[str, Any]], hyperparameters: dict[str, str],
    instance_count: int = 1, max_runtime: int = 3600,
) -> None:
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": KMEANS_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": instance_count, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": max_runtime},
        HyperParameters=hyperparameters,
    )


def wait_for_job(sagemaker, job: str) -> dict[str, Any]:
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    return sagemaker.describe_training_job(TrainingJobName=job)


def wait_until_failed(sagemaker, job: str) -> dict[str, Any]:
    from botocore.exceptions import WaiterError

    try:
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=job, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )
    except WaiterError:
        pass
    return sagemaker.describe_training_job(TrainingJobName=job)


def train_kmeans(sagemaker, s3, features, k: int = 10, bucket: str | None = None) -> tuple[str, dict[str, Any]]:
    bucket = bucket or make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", features)
    job = unique("kmeans")
    create_kmeans_job(sagemaker, job, bucket, [channel(uri)], {"k": str(k), "feature_dim": str(features.shape[1])})
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return job, description


def deploy(sagemaker, artifact: str, image: str = KMEANS_IMAGE, wait: bool = True) -> str:
    name = unique("endpoint")
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image, "ModelDataUrl": artifact})
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    if wait:
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name
