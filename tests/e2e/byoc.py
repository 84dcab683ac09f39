"""The user's own image of the end-to-end tests (user_image/) and the calls that use it."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import ROLE
from tests.integration.flows import make_bucket, unique

USER_IMAGE_DIR = Path(__file__).parent / "user_image"
METRICS = [
    {"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
    {"Name": "validation:accuracy", "Regex": r"validation accuracy: ([0-9.]+)"},
]


def create_job(sagemaker, s3, image: str, hyperparameters: dict[str, str] | None = None, instance_count: int = 1,
               **extra) -> tuple[str, str]:
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="train/numbers.txt", Body=b"1\n2\n3\n6\n")
    job = unique("byoc")
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File", "MetricDefinitions": METRICS},
        RoleArn=ROLE,
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/", "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": instance_count, "InstanceType": "ml.c5.xlarge", "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters=hyperparameters or {"epochs": "4", "scale": "10"},
        **extra,
    )
    return job, bucket


def job_log(emulator, job: str) -> str:
    logs = emulator.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job)["logStreams"]
    return "\n".join(
        event["message"]
        for stream in streams
        for event in logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                         logStreamName=stream["logStreamName"], startFromHead=True)["events"]
    )


def deploy_user_model(sagemaker, image: str, artifact: str | None, environment: dict[str, str],
                      name: str | None = None) -> str:
    name = name or unique("byoc-endpoint")
    container = {"Image": image, "Environment": environment, **({"ModelDataUrl": artifact} if artifact else {})}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.t2.medium"}])
    return name
