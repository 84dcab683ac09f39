"""Fixtures for the SageMaker unit tests: a real ResourceStore on a temporary SQLite database, and
documents shaped like the operations' own."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sagemaker_emulator.services.sagemaker.store import ResourceStore
from sagemaker_emulator.state.database import Database

ACCOUNT, REGION = "123456789012", "us-east-1"
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "metadata.sqlite3")
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> ResourceStore:
    return ResourceStore(db)


def training_job(
    name: str, index: int, *, status: str = "Completed", hyperparameters: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None, channels: list[tuple[str, str]] | None = None, **extra: Any,
) -> dict[str, Any]:
    created = T0 + timedelta(minutes=index)
    document: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": arn("training-job", name),
        "TrainingJobStatus": status,
        "SecondaryStatus": status,
        "AlgorithmSpecification": {"TrainingImage": "kmeans:1", "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters or {},
        "InputDataConfig": [
            {"ChannelName": channel, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}
            for channel, uri in (channels or [("train", f"s3://data/{name}/train/")])
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://out/", "KmsKeyId": ""},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": created,
        "LastModifiedTime": created + timedelta(seconds=30),
        "EnableNetworkIsolation": False,
        "_Workspace": f"/tmp/{name}",
    }
    if status == "Completed":
        document["TrainingEndTime"] = created + timedelta(seconds=30)
        document["ModelArtifacts"] = {"S3ModelArtifacts": f"s3://out/{name}/output/model.tar.gz"}
    if metrics:
        document["FinalMetricDataList"] = [
            {"MetricName": metric, "Value": value, "Timestamp": created} for metric, value in metrics.items()
        ]
    document.update(extra)
    return document


def add_job(store: ResourceStore, document: dict[str, Any], tags: dict[str, str] | None = None) -> None:
    name = document["TrainingJobName"]
    assert store.insert("TrainingJob", name, document["TrainingJobArn"], document, status=document["TrainingJobStatus"])
    if tags:
        store.add_tags(document["TrainingJobArn"], [{"Key": key, "Value": value} for key, value in tags.items()])
