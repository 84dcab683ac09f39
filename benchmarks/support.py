"""Shared by the benchmarks: a real emulator on a loopback port, MNIST, and small statistics."""

from __future__ import annotations

import compileall
import io
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from tests.support.server import EmulatorProcess, start_emulator  # noqa: E402

KMEANS_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def emulator(*args: str) -> EmulatorProcess:
    """A server for a benchmark. The packages' bytecode is compiled first, as ``pip install`` does:
    this checkout is an editable install, and where PYTHONDONTWRITEBYTECODE is set every job
    process would otherwise compile the modules changed since the last compilation again."""
    for package in ("sagemaker_algorithms", "sagemaker_emulator"):
        compileall.compile_dir(REPO_ROOT / package, quiet=1)
    return start_emulator(Path(tempfile.mkdtemp(prefix="bench-")) / "data", *args)


def point_boto3_at(server: EmulatorProcess) -> None:
    os.environ.update(
        AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
    )


def recordio_protobuf(features: np.ndarray) -> bytes:
    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, features)
    return buffer.getvalue()


def mean_squared_distance(points: np.ndarray, centers: np.ndarray) -> float:
    """Mean over points of the squared distance to the closest centre (float64, exact)."""
    points64, centers64 = points.astype(np.float64), centers.astype(np.float64)
    distances = (
        (points64**2).sum(1)[:, None] - 2 * points64 @ centers64.T + (centers64**2).sum(1)[None, :]
    )
    return float(np.maximum(distances.min(1), 0).mean())


def wait_for_training_job(sagemaker, name: str) -> dict:
    """Poll DescribeTrainingJob every 50 ms until the job ends; the description of the completed job
    (AssertionError with its FailureReason if it did not complete)."""
    while (description := sagemaker.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] not in (
            "Completed", "Failed", "Stopped"):
        time.sleep(0.05)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return description


def model_file(s3, description: dict, member: str = "model_algo-1") -> bytes:
    """One file of a completed job's model.tar.gz."""
    bucket, key = description["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        return archive.extractfile(member).read()


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))
