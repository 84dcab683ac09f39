"""k-means training job vs scikit-learn on the 50,000-row MNIST training split, k=10, in one run.

    .venv/bin/python -m benchmarks.kmeans_training [--repeats 3]

Measures the training job's wall time from CreateTrainingJob to Completed (polling DescribeTrainingJob
every 50 ms, without the describe hold) against ``KMeans(n_clusters=10, n_init=1).fit`` on the same
rows, and the mean squared distance of the 10,000 validation rows to each model's centres.
Targets: time ratio <= 1.0, MSD within 3% of scikit-learn's.
"""

from __future__ import annotations

import argparse
import time

from sklearn.cluster import KMeans

from benchmarks.support import (KMEANS_IMAGE, ROLE, emulator, mean_squared_distance, median, model_file,
                                recordio_protobuf, wait_for_training_job)
from sagemaker_algorithms.common import ndarray
from sagemaker_emulator.datasets import load_mnist


def train_job(sagemaker, s3, name: str, instance_count: int = 1) -> tuple[float, object]:
    started = time.perf_counter()
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": KMEANS_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bench-kmeans/train/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://bench-kmeans/output"},
        ResourceConfig={"InstanceCount": instance_count, "InstanceType": "ml.c5.xlarge", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"k": "10", "feature_dim": "784"},
    )
    description = wait_for_training_job(sagemaker, name)
    elapsed = time.perf_counter() - started
    arrays, _ = ndarray.loads(model_file(s3, description))
    return elapsed, arrays[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    (train_x, _), (valid_x, _), _ = load_mnist()

    server = emulator()
    try:
        s3, sagemaker = server.client("s3"), server.client("sagemaker")
        s3.create_bucket(Bucket="bench-kmeans")
        s3.put_object(Bucket="bench-kmeans", Key="train/mnist.pbr", Body=recordio_protobuf(train_x))
        rows = []
        for repeat in range(args.repeats):
            job_seconds, centers = train_job(sagemaker, s3, f"bench-kmeans-{repeat}")
            started = time.perf_counter()
            reference = KMeans(n_clusters=10, n_init=1, random_state=repeat).fit(train_x)
            sklearn_seconds = time.perf_counter() - started
            rows.append((job_seconds, sklearn_seconds, mean_squared_distance(valid_x, centers),
                         mean_squared_distance(valid_x, reference.cluster_centers_)))
    finally:
        server.stop()

    print(f"{'run':>4} {'job s':>8} {'sklearn s':>10} {'ratio':>7} {'job MSD':>9} {'sklearn MSD':>12} {'MSD diff':>9}")
    for index, (job, sk, msd, sk_msd) in enumerate(rows, 1):
        print(f"{index:>4} {job:8.2f} {sk:10.2f} {job / sk:7.2f} {msd:9.3f} {sk_msd:12.3f} {msd / sk_msd - 1:+9.2%}")
    ratio = median([job / sk for job, sk, _, _ in rows])
    msd_diff = median([msd / sk_msd - 1 for _, _, msd, sk_msd in rows])
    print(f"median time ratio job / scikit-learn: {ratio:.2f} (target <= 1.0)")
    print(f"median validation MSD difference: {msd_diff:+.2%} (target within 3%)")


if __name__ == "__main__":
    main()
