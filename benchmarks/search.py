"""Search latency over 10,000 completed training jobs, through boto3 against a real server.

    .venv/bin/python -m benchmarks.search [--jobs 10000] [--searches 300]

Populating: running 10,000 real jobs would take hours, so the jobs are written straight into a fresh
data directory, through the same ``ResourceStore`` the server uses, *before* the server starts on
that directory: each document is what CreateTrainingJob builds (``training_jobs._new_document``)
taken through the status transitions of a completed run, with hyperparameters, a model artifact,
a ``FinalMetricDataList`` and three tags. The server then finds them as it would after a restart.

Measured (after 3 warm-up calls, the first of which builds the in-memory copy), each search a
boto3 ``search`` call timed on the client, MaxResults 10 and 100:

* ``tag 10%``: ``Tags.team Equals team-3`` (1 job in 10) and ``Metrics.test:msd LessThan`` the median,
  sorted by ``Metrics.test:msd``;
* ``tag 100%``: ``Tags.project Equals bench`` (every job) and the same metric filter and sort — the
  worst case: 5,000 matches to sort;
* ``lineage``: ``ModelArtifacts.S3ModelArtifacts Equals`` one artifact (one match);
* ``ListTrainingJobs``: one page of 100, for comparison.

Besides latencies (through boto3, and as a plain HTTP POST without boto3's signing and parsing),
it reports the mean CPU time per call of the client and of the server, which other work on the
machine does not inflate: on an idle machine the latency is about their sum.

Target: p50 under 100 ms for the tag + metric + metric-sort searches.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable

from benchmarks.support import KMEANS_IMAGE, ROLE, median, percentile
from tests.support.server import start_emulator

ACCOUNT, REGION = "123456789012", "us-east-1"


def populate(data_dir: Path, jobs: int, seed: int = 0) -> float:
    """Write ``jobs`` completed k-means training jobs into ``data_dir``; returns the median test:msd."""
    from sagemaker_emulator.services.sagemaker.store import ResourceStore, utcnow
    from sagemaker_emulator.services.sagemaker.training import KIND, record_transition
    from sagemaker_emulator.services.sagemaker.training_jobs import _new_document
    from sagemaker_emulator.state.database import Database

    rng = random.Random(seed)
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / "metadata.sqlite3")
    store = ResourceStore(db)
    start = utcnow() - timedelta(days=1)
    msds = []
    with db.transaction():  # one transaction for all: the store's writes join it
        for index in range(jobs):
            name = f"bench-{index:05d}"
            job_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name}"
            batch = rng.choice([100, 200, 500, 1000, 5000])
            params = {
                "TrainingJobName": name,
                "AlgorithmSpecification": {"TrainingImage": KMEANS_IMAGE, "TrainingInputMode": "File"},
                "RoleArn": ROLE,
                "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": f"s3://bench/data/{index % 50}/train/"}}}],
                "OutputDataConfig": {"S3OutputPath": "s3://bench/output"},
                "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                "HyperParameters": {"k": str(rng.randint(2, 20)), "feature_dim": "784",
                                    "mini_batch_size": str(batch), "epochs": str(rng.randint(1, 10))},
            }
            document = _new_document(None, params, job_arn)
            created = start + timedelta(seconds=index * 5)
            document["CreationTime"] = created
            for status, message in (("Downloading", "Downloading input data"),
                                    ("Training", "Training image download completed. Training in progress."),
                                    ("Uploading", "Uploading generated training model")):
                record_transition(document, status, message)
            record_transition(document, "Completed", "Training job completed", terminal=True)
            msd = rng.uniform(10.0, 60.0)
            msds.append(msd)
            finished = created + timedelta(seconds=30)
            document.update(
                TrainingJobStatus="Completed", TrainingStartTime=created + timedelta(seconds=2),
                TrainingEndTime=finished, LastModifiedTime=finished, TrainingTimeInSeconds=28,
                BillableTimeInSeconds=28,
                ModelArtifacts={"S3ModelArtifacts": f"s3://bench/output/{name}/output/model.tar.gz"},
                FinalMetricDataList=[
                    {"MetricName": "train:msd", "Value": msd * rng.uniform(0.9, 1.0), "Timestamp": finished},
                    {"MetricName": "test:msd", "Value": msd, "Timestamp": finished},
                    {"MetricName": "test:ssd", "Value": msd * 200, "Timestamp": finished},
                ],
            )
            store.insert(KIND, name, job_arn, document, status="Completed")
            store.add_tags(job_arn, [{"Key": "project", "Value": "bench"},
                                     {"Key": "team", "Value": f"team-{index % 10}"},
                                     {"Key": "batch", "Value": str(batch)}])
    db.close()
    return median(msds)


def raw_search(url: str, body: dict) -> Callable[[], dict]:
    """The same Search as one plain HTTP POST on a keep-alive connection: what the server takes,
    without boto3's signing and response parsing."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.Search",
               "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sagemaker/aws4_request, "
                                "SignedHeaders=host, Signature=0"}

    def call() -> dict:
        connection.request("POST", "/", body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        assert response.status == 200, data[:300]
        return {}

    return call


def timed(call, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_call(call, count: int, server_pid: int) -> tuple[float, float]:
    """Mean CPU milliseconds per call spent by this client and by the server: unlike latency, not
    inflated by other work on the machine."""
    client, server = time.process_time(), cpu_seconds(server_pid)
    for _ in range(count):
        call()
    return ((time.process_time() - client) * 1000 / count, (cpu_seconds(server_pid) - server) * 1000 / count)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench-search-")) / "data"
    started = time.perf_counter()
    median_msd = populate(data_dir, args.jobs)
    print(f"populated {args.jobs} training jobs in {time.perf_counter() - started:.1f} s ({data_dir})")
    server = start_emulator(data_dir)
    try:
        sagemaker = server.client("sagemaker")
        metric = {"Name": "Metrics.test:msd", "Operator": "LessThan", "Value": f"{median_msd:.6f}"}

        def tag_query(tag: dict[str, str], limit: int) -> dict:
            return dict(
                Resource="TrainingJob",
                SearchExpression={"Filters": [{"Name": f"Tags.{tag['Key']}", "Operator": "Equals",
                                               "Value": tag["Value"]}, metric]},
                SortBy="Metrics.test:msd", SortOrder="Ascending", MaxResults=limit,
            )

        def tag_search(tag: dict[str, str], limit: int):
            return lambda: sagemaker.search(**tag_query(tag, limit))

        started = time.perf_counter()
        first = tag_search({"Key": "project", "Value": "bench"}, 10)()
        print(f"first search (builds the in-memory copy): {(time.perf_counter() - started) * 1000:.0f} ms, "
              f"TotalHits {first['TotalHits']['Value']}")
        artifact = f"s3://bench/output/bench-{args.jobs // 2:05d}/output/model.tar.gz"
        lineage = lambda: sagemaker.search(  # noqa: E731
            Resource="TrainingJob",
            SearchExpression={"Filters": [{"Name": "ModelArtifacts.S3ModelArtifacts", "Operator": "Equals",
                                           "Value": artifact}]},
        )
        assert len(lineage()["Results"]) == 1
        team, everyone = {"Key": "team", "Value": "team-3"}, {"Key": "project", "Value": "bench"}
        scenarios = [
            ("tag 10% + metric + metric sort", 10, tag_search(team, 10), tag_query(team, 10)),
            ("tag 10% + metric + metric sort", 100, tag_search(team, 100), tag_query(team, 100)),
            ("tag 100% + metric + metric sort", 10, tag_search(everyone, 10), tag_query(everyone, 10)),
            ("tag 100% + metric + metric sort", 100, tag_search(everyone, 100), tag_query(everyone, 100)),
            ("lineage: S3ModelArtifacts Equals", 10, lineage, None),
            ("ListTrainingJobs (reference)", 100, lambda: sagemaker.list_training_jobs(MaxResults=100), None),
        ]
        print(f"\n{args.searches} calls each, latency in ms: through boto3 (signing, HTTP, parsing the response),"
              "\nand the same request as a plain HTTP POST (the server's part)\n")
        print("| search | MaxResults | matches | boto3 p50 | boto3 p99 | HTTP p50 | HTTP p99 "
              "| client CPU/call | server CPU/call |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, limit, call, query in scenarios:
            result = call()
            matches = result.get("TotalHits", {}).get("Value", "")
            for _ in range(2):
                call()
            latencies = timed(call, args.searches)
            raw = ["", ""]
            if query is not None:
                plain = raw_search(server.url, query)
                plain()
                raw_latencies = timed(plain, args.searches)
                raw = [f"{median(raw_latencies):.1f}", f"{percentile(raw_latencies, 99):.1f}"]
            client_cpu, server_cpu = cpu_per_call(call, min(args.searches, 100), server.process.pid)
            print(f"| {label} | {limit} | {matches} | {median(latencies):.1f} | {percentile(latencies, 99):.1f} "
                  f"| {raw[0]} | {raw[1]} | {client_cpu:.1f} | {server_cpu:.1f} |")
    finally:
        server.stop()
        shutil.rmtree(data_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
