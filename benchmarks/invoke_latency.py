"""InvokeEndpoint latency for a one-row CSV over keep-alive HTTP, against a bare FastAPI/uvicorn route
measured the same way (same client, same request size, same machine, same run).

    .venv/bin/python -m benchmarks.invoke_latency [--requests 2000] [--rounds 3]

Targets: p50 within 4x of the bare route, p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import http.client
import subprocess
import sys
import textwrap
import time

import boto3

from benchmarks.support import KMEANS_IMAGE, ROLE, emulator, median, percentile, recordio_protobuf
from tests.support.server import free_port

BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI, Request, Response
    app = FastAPI()
    ANSWER = b'{"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 2.0}]}'

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        await request.body()
        return Response(ANSWER, media_type="application/json")
    """
)


def measure(host: str, port: int, path: str, body: bytes, count: int) -> list[float]:
    """Latencies in milliseconds of ``count`` POSTs on one keep-alive connection."""
    connection = http.client.HTTPConnection(host, port)
    headers = {"Content-Type": "text/csv", "Accept": "application/json"}
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append((time.perf_counter() - start) * 1000)
        assert response.status == 200, response.status
    connection.close()
    return latencies


def deploy_kmeans(server) -> str:
    from sagemaker_emulator.datasets import load_mnist

    (train_x, _), _, _ = load_mnist()
    s3, sagemaker = server.client("s3"), server.client("sagemaker")
    s3.create_bucket(Bucket="latency")
    s3.put_object(Bucket="latency", Key="train/data.pbr", Body=recordio_protobuf(train_x[:2000]))
    sagemaker.create_training_job(
        TrainingJobName="latency", AlgorithmSpecification={"TrainingImage": KMEANS_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://latency/train/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://latency/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={"k": "10", "feature_dim": "784"},
    )
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="latency")
    artifact = sagemaker.describe_training_job(TrainingJobName="latency")["ModelArtifacts"]["S3ModelArtifacts"]
    sagemaker.create_model(ModelName="latency", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": KMEANS_IMAGE, "ModelDataUrl": artifact})
    sagemaker.create_endpoint_config(EndpointConfigName="latency", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "latency", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName="latency", EndpointConfigName="latency")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="latency")
    return ",".join(f"{value:.4g}" for value in train_x[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    server = emulator()
    bare_port = free_port()
    bare = subprocess.Popen(
        [sys.executable, "-c", BARE_APP + f"\nimport uvicorn\nuvicorn.run(app, host='127.0.0.1', port={bare_port}, "
         "log_level='warning')"],
    )
    try:
        row = deploy_kmeans(server).encode()
        emulator_port = int(server.url.rsplit(":", 1)[1])
        time.sleep(1.0)
        results: dict[str, list[tuple[float, float]]] = {"emulator": [], "bare": [], "boto3": []}
        runtime = boto3.client(
            "sagemaker-runtime", endpoint_url=server.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        )
        for _ in range(args.rounds):
            for name, port, path in (("emulator", emulator_port, "/endpoints/latency/invocations"),
                                     ("bare", bare_port, "/invocations")):
                measure("127.0.0.1", port, path, row, 200)  # warm-up
                latencies = measure("127.0.0.1", port, path, row, args.requests)
                results[name].append((percentile(latencies, 50), percentile(latencies, 99)))
            latencies = []
            for _ in range(min(args.requests, 500)):
                start = time.perf_counter()
                runtime.invoke_endpoint(EndpointName="latency", ContentType="text/csv", Body=row)["Body"].read()
                latencies.append((time.perf_counter() - start) * 1000)
            results["boto3"].append((percentile(latencies, 50), percentile(latencies, 99)))
    finally:
        bare.terminate()
        server.stop()

    print(f"{'client -> server':<34} {'p50 ms':>8} {'p99 ms':>8}   (median of {args.rounds} rounds of {args.requests})")
    labels = {"emulator": "http.client -> InvokeEndpoint", "bare": "http.client -> bare FastAPI route",
              "boto3": "boto3 invoke_endpoint -> emulator"}
    medians = {}
    for name, rounds in results.items():
        medians[name] = (median([p50 for p50, _ in rounds]), median([p99 for _, p99 in rounds]))
        print(f"{labels[name]:<34} {medians[name][0]:8.2f} {medians[name][1]:8.2f}")
    print(f"p50 ratio emulator / bare FastAPI: {medians['emulator'][0] / medians['bare'][0]:.2f}x (target <= 4x)")
    print(f"p99 of InvokeEndpoint: {medians['emulator'][1]:.2f} ms (target <= 20 ms)")


if __name__ == "__main__":
    main()
