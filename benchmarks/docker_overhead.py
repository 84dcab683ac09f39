"""What running in containers costs: the docker backend against the process backend, same jobs.

    .venv/bin/python -m benchmarks.docker_overhead [--repeats 5] [--rows 10000]

Two emulators run side by side, one per backend (the docker one needs an engine and the images of
``bash scripts/build-images.sh``). Each round, on each backend in turn: a k-means training job on the
same MNIST rows (k=10, ml.m5.large), timed from CreateTrainingJob to the first DescribeTrainingJob
that reads Completed; then an endpoint for its model, timed from CreateEndpoint to the first
DescribeEndpoint that reads InService; then InvokeEndpoint with one CSV row, 300 times on one
keep-alive connection after 50 warm-up calls (as benchmarks.invoke_latency), and DeleteEndpoint.
Describe calls are polled every 50 ms (plain calls: the describe hold does not apply). Medians over
the rounds; target: docker adds under 3 s to each of the first two.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.invoke_latency import measure
from benchmarks.support import KMEANS_IMAGE, ROLE, emulator, median, recordio_protobuf, wait_for_training_job
from sagemaker_emulator.datasets import load_mnist

BUCKET = "bench-docker"


def train(sagemaker, name: str) -> tuple[float, str]:
    started = time.perf_counter()
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": KMEANS_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"k": "10", "feature_dim": "784"},
    )
    description = wait_for_training_job(sagemaker, name)
    elapsed = time.perf_counter() - started
    return elapsed, description["ModelArtifacts"]["S3ModelArtifacts"]


def host(sagemaker, port: int, name: str, artifact: str) -> tuple[float, float]:
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": KMEANS_IMAGE, "ModelDataUrl": artifact})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    started = time.perf_counter()
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while (description := sagemaker.describe_endpoint(EndpointName=name))["EndpointStatus"] == "Creating":
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    body, path = ",".join(["0.5"] * 784).encode(), f"/endpoints/{name}/invocations"
    measure("127.0.0.1", port, path, body, 50)
    latency = median(measure("127.0.0.1", port, path, body, 300))
    sagemaker.delete_endpoint(EndpointName=name)
    sagemaker.delete_endpoint_config(EndpointConfigName=name)
    sagemaker.delete_model(ModelName=name)
    return elapsed, latency


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10000, help="MNIST training rows in the channel")
    args = parser.parse_args()
    (train_x, _), _, _ = load_mnist()
    payload = recordio_protobuf(train_x[: args.rows])

    servers = {backend: emulator("--backend", backend) for backend in ("process", "docker")}
    results: dict[str, dict[str, list[float]]] = {b: {"train": [], "deploy": [], "invoke": []} for b in servers}
    try:
        clients = {}
        for backend, server in servers.items():
            s3 = server.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            s3.put_object(Bucket=BUCKET, Key="train/data.pbr", Body=payload)
            clients[backend] = (server.client("sagemaker"), int(server.url.rsplit(":", 1)[1]))
        print(f"{args.rows} rows ({len(payload) / 1e6:.1f} MB), k=10, ml.m5.large; {args.repeats} rounds\n")
        print("| round | backend | CreateTrainingJob → Completed s | CreateEndpoint → InService s | invoke p50 ms |")
        print("| --- | --- | --- | --- | --- |")
        for round_number in range(args.repeats + 1):  # round 0 warms caches and is not counted
            for backend, (sagemaker, port) in clients.items():
                name = f"bench-{backend}-{round_number}"
                training, artifact = train(sagemaker, name)
                deploying, latency = host(sagemaker, port, name, artifact)
                if round_number:
                    results[backend]["train"].append(training)
                    results[backend]["deploy"].append(deploying)
                    results[backend]["invoke"].append(latency)
                    print(f"| {round_number} | {backend} | {training:.2f} | {deploying:.2f} | {latency:.2f} |",
                          flush=True)
    finally:
        for server in servers.values():
            server.stop()

    print("\n| median | process | docker | docker adds | target |")
    print("| --- | --- | --- | --- | --- |")
    for key, label, unit, target in (("train", "CreateTrainingJob → Completed", "s", "< 3 s"),
                                     ("deploy", "CreateEndpoint → InService", "s", "< 3 s"),
                                     ("invoke", "InvokeEndpoint p50", "ms", "")):
        process, docker = median(results["process"][key]), median(results["docker"][key])
        print(f"| {label} | {process:.2f} {unit} | {docker:.2f} {unit} | **{docker - process:+.2f} {unit}** | {target} |")


if __name__ == "__main__":
    main()
