"""k-means on 2 hosts vs 1 host, same MNIST data, same run: wall time and mean squared distance.

    .venv/bin/python -m benchmarks.kmeans_multihost [--backends process docker] [--repeats 3]
                                                   [--rows 50000] [--objects 8] [--k 10]

The 50,000 MNIST training rows go to S3 as ``--objects`` RecordIO-protobuf objects. Each round runs,
on each backend in turn, a 1-host job (``FullyReplicated``) and a 2-host job (``ShardedByS3Key``:
each host gets half of the objects; the hosts join through torch.distributed, each streams its half
into its micro-clusters, ``algo-1`` combines and shrinks them). Same hyperparameters (``k``,
``mini_batch_size=5000``, SageMaker's defaults otherwise). Time: CreateTrainingJob → the first
DescribeTrainingJob that reads Completed (polled every 50 ms). Quality: the mean squared distance of
the 50,000 training rows and of the 10,000 test rows to the model's centres (float64, exact).

Both hosts of a job share this machine's cores (the process backend gives each half of the BLAS
threads; on docker each container is limited to its instance type's vCPUs, capped at the host's), so
the wall-time ratio says what coordinating costs here, not what a second machine would buy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.support import (emulator, mean_squared_distance, median, model_file, recordio_protobuf,
                                wait_for_training_job)
from sagemaker_algorithms.common import ndarray
from sagemaker_emulator.datasets import load_mnist
from tests.integration.flows import channel, create_kmeans_job

BUCKET = "bench-kmeans-multihost"


def run_job(sagemaker, s3, name: str, hosts: int, k: int) -> tuple[float, np.ndarray]:
    distribution = "ShardedByS3Key" if hosts > 1 else "FullyReplicated"
    started = time.perf_counter()
    create_kmeans_job(sagemaker, name, BUCKET,
                      [channel(f"s3://{BUCKET}/train/", S3DataDistributionType=distribution)],
                      {"k": str(k), "feature_dim": "784", "mini_batch_size": "5000"}, instance_count=hosts)
    description = wait_for_training_job(sagemaker, name)
    elapsed = time.perf_counter() - started
    return elapsed, ndarray.loads(model_file(s3, description))[0][0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=["process", "docker"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=50000)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    (train_x, _), _, (test_x, _) = load_mnist()
    train_x = train_x[:args.rows]
    servers = {backend: emulator("--backend", backend) for backend in args.backends}
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    try:
        clients = {}
        for backend, server in servers.items():
            sagemaker, s3 = server.client("sagemaker"), server.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            for index in range(args.objects):
                s3.put_object(Bucket=BUCKET, Key=f"train/part-{index:02d}.pbr",
                              Body=recordio_protobuf(train_x[index::args.objects]))
            clients[backend] = (sagemaker, s3)
        print("| round | backend | hosts | CreateTrainingJob → Completed s | train MSD | test MSD |")
        print("| --- | --- | --- | --- | --- | --- |")
        for round_number in range(args.repeats + 1):  # round 0 warms up (page cache, imports)
            for backend, (sagemaker, s3) in clients.items():
                order = (1, 2) if round_number % 2 else (2, 1)
                for hosts in order:
                    name = f"bench-{backend}-{hosts}h-{round_number}"
                    elapsed, centers = run_job(sagemaker, s3, name, hosts, args.k)
                    train_msd = mean_squared_distance(train_x, centers)
                    test_msd = mean_squared_distance(test_x, centers)
                    label = "warm-up" if round_number == 0 else str(round_number)
                    print(f"| {label} | {backend} | {hosts} | {elapsed:.2f} | {train_msd:.3f} | {test_msd:.3f} |",
                          flush=True)
                    if round_number:
                        entry = results.setdefault((backend, hosts), {"time": [], "train": [], "test": []})
                        entry["time"].append(elapsed)
                        entry["train"].append(train_msd)
                        entry["test"].append(test_msd)
    finally:
        for server in servers.values():
            server.stop()

    print()
    print("| backend | 1 host: time s / train MSD | 2 hosts: time s / train MSD | time 2/1 | train MSD 2/1 | test MSD 2/1 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for backend in servers:
        one, two = results[(backend, 1)], results[(backend, 2)]
        print(f"| {backend} | {median(one['time']):.2f} / {median(one['train']):.3f} | "
              f"{median(two['time']):.2f} / {median(two['train']):.3f} | "
              f"{median(two['time']) / median(one['time']):.2f} | "
              f"{median(two['train']) / median(one['train']):.4f} | {median(two['test']) / median(one['test']):.4f} |")


if __name__ == "__main__":
    main()
