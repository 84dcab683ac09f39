"""The low-level k-means notebook, end to end against the emulator, on MNIST.

Run it with the environment from `sagemaker-emulator env` (boto3 then talks to the emulator):

    eval "$(sagemaker-emulator env --endpoint-url http://127.0.0.1:4566)"
    python examples/kmeans_mnist.py

It uploads the 50,000 MNIST training digits as RecordIO-protobuf, trains SageMaker's k-means with
k=10 on two instances, deploys the model, classifies the 10,000 validation digits through the
endpoint, prints the cluster purity and saves a PNG with sample digits of every cluster.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import time
import uuid
import zlib
from pathlib import Path

import boto3
import numpy as np

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from sagemaker.amazon.common import write_numpy_to_dense_tensor  # noqa: E402  (the notebooks' own writer)

from sagemaker_emulator.datasets import load_mnist  # noqa: E402

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
KMEANS_IMAGE = f"382416733822.dkr.ecr.{REGION}.amazonaws.com/kmeans:1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def run_flow(train_x: np.ndarray, valid_x: np.ndarray, k: int = 10, instance_count: int = 2) -> dict:
    """Upload, train, deploy, predict, delete: returns the timings and the validation predictions.

    ``timings["flow"]`` is the notebook flow itself, upload to DeleteEndpoint; encoding the data and
    classifying the validation digits for the purity report are timed apart."""
    s3, sagemaker, runtime = boto3.client("s3"), boto3.client("sagemaker"), boto3.client("sagemaker-runtime")
    suffix = uuid.uuid4().hex[:8]
    bucket, job = f"kmeans-mnist-{suffix}", f"kmeans-mnist-{suffix}"
    timings: dict[str, float] = {}
    mark = time.perf_counter()
    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, train_x)  # client-side, as in the notebooks; not part of the flow
    buffer.seek(0)
    timings["encode"] = time.perf_counter() - mark

    started = time.perf_counter()
    s3.create_bucket(Bucket=bucket)
    s3.upload_fileobj(buffer, bucket, "kmeans/train/mnist.pbr")  # multipart, with CRC32 checksums
    timings["upload"] = time.perf_counter() - started

    mark = time.perf_counter()
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": KMEANS_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[{
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/kmeans/train/",
                                            "S3DataDistributionType": "FullyReplicated"}},
        }],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/kmeans/output"},
        ResourceConfig={"InstanceCount": instance_count, "InstanceType": "ml.c4.xlarge", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"k": str(k), "feature_dim": str(train_x.shape[1]), "mini_batch_size": "5000",
                         "force_dense": "True"},
    )
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=job)
    description = sagemaker.describe_training_job(TrainingJobName=job)
    if description["TrainingJobStatus"] != "Completed":
        raise SystemExit(f"training failed: {description.get('FailureReason')}")
    timings["training"] = time.perf_counter() - mark
    metrics = {metric["MetricName"]: metric["Value"] for metric in description["FinalMetricDataList"]}

    mark = time.perf_counter()
    sagemaker.create_model(
        ModelName=job, ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": KMEANS_IMAGE, "ModelDataUrl": description["ModelArtifacts"]["S3ModelArtifacts"]},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=job,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": job, "InitialInstanceCount": 1,
                             "InstanceType": "ml.m4.xlarge"}],
    )
    sagemaker.create_endpoint(EndpointName=job, EndpointConfigName=job)
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=job)
    timings["deploy"] = time.perf_counter() - mark

    mark = time.perf_counter()
    one = runtime.invoke_endpoint(EndpointName=job, ContentType="text/csv", Body=to_csv(valid_x[:1]))
    first = json.loads(one["Body"].read())["predictions"][0]
    hundred = runtime.invoke_endpoint(EndpointName=job, ContentType="text/csv", Body=to_csv(valid_x[:100]))
    assert len(json.loads(hundred["Body"].read())["predictions"]) == 100
    timings["predict"] = time.perf_counter() - mark

    mark = time.perf_counter()  # the validation digits, for the purity report (not part of the flow)
    clusters = np.concatenate([
        [prediction["closest_cluster"] for prediction in json.loads(
            runtime.invoke_endpoint(EndpointName=job, ContentType="text/csv", Body=to_csv(batch))["Body"].read()
        )["predictions"]]
        for batch in np.array_split(valid_x, max(1, len(valid_x) // 500))
    ]).astype(int)
    timings["classify"] = time.perf_counter() - mark

    mark = time.perf_counter()
    sagemaker.delete_endpoint(EndpointName=job)
    sagemaker.delete_endpoint_config(EndpointConfigName=job)
    sagemaker.delete_model(ModelName=job)
    timings["delete"] = time.perf_counter() - mark
    timings["flow"] = sum(timings[step] for step in ("upload", "training", "deploy", "predict", "delete"))
    return {"job": job, "timings": timings, "metrics": metrics, "first_prediction": first, "clusters": clusters}


def to_csv(rows: np.ndarray) -> str:
    text = io.StringIO()
    np.savetxt(text, rows, fmt="%.4g", delimiter=",")
    return text.getvalue().rstrip("\n")


def purity(clusters: np.ndarray, labels: np.ndarray) -> float:
    """The share of digits whose cluster's most common label is their own."""
    total = sum(np.bincount(labels[clusters == cluster]).max() for cluster in np.unique(clusters))
    return total / len(labels)


def save_cluster_samples(path: Path, images: np.ndarray, clusters: np.ndarray, k: int, per_cluster: int = 12) -> None:
    """A grayscale PNG: one row of sample digits per cluster (standard library only)."""
    cell, gap, scale = 28, 2, 2
    height, width = k * (cell + gap) + gap, per_cluster * (cell + gap) + gap
    canvas = np.full((height, width), 255, dtype=np.uint8)
    for cluster in range(k):
        members = np.flatnonzero(clusters == cluster)[:per_cluster]
        for column, index in enumerate(members):
            top, left = gap + cluster * (cell + gap), gap + column * (cell + gap)
            canvas[top : top + cell, left : left + cell] = 255 - (images[index].reshape(cell, cell) * 255).astype(np.uint8)
    canvas = np.kron(canvas, np.ones((scale, scale), dtype=np.uint8))
    rows = b"".join(b"\x00" + row.tobytes() for row in canvas)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", canvas.shape[1], canvas.shape[0], 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50000, help="training rows to use (default: all 50,000)")
    parser.add_argument("--png", type=Path, default=Path("out/kmeans_mnist_clusters.png"))
    args = parser.parse_args()
    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise SystemExit('AWS_ENDPOINT_URL is not set: run eval "$(sagemaker-emulator env)" first.')

    (train_x, _), (valid_x, valid_y), _ = load_mnist()
    result = run_flow(train_x[: args.rows], valid_x)
    clusters = result["clusters"]
    print(f"training job {result['job']}: train:msd = {result['metrics'].get('train:msd'):.4f}")
    print(f"one-row prediction: {result['first_prediction']}")
    print(f"cluster purity on the 10,000 validation digits: {purity(clusters, valid_y):.3f}")
    for cluster in range(10):
        members = valid_y[clusters == cluster]
        if len(members):
            print(f"  cluster {cluster}: {len(members):5d} digits, mostly {np.bincount(members).argmax()} "
                  f"({np.bincount(members).max() / len(members):.0%})")
    print("timings: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result["timings"].items()))
    save_cluster_samples(args.png, valid_x, clusters, 10)
    print(f"sample digits per cluster: {args.png}")


if __name__ == "__main__":
    main()
