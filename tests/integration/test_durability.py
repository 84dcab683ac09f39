"""State survives restarts; a server killed with SIGKILL never leaves a job InProgress forever."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.integration.flows import channel, create_kmeans_job, deploy, make_bucket, train_kmeans, unique, upload_recordio


def test_everything_survives_a_restart_and_endpoints_serve_again(fresh_emulator, tmp_path, mnist_subset):
    data_dir = tmp_path / "state"
    server = fresh_emulator(data_dir=data_dir)
    sagemaker, s3 = server.client("sagemaker"), server.client("s3")
    job, description = train_kmeans(sagemaker, s3, mnist_subset[0][:300], k=3)
    bucket = description["OutputDataConfig"]["S3OutputPath"].split("/")[2]
    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"])
    assert server.stop() == 0

    server = fresh_emulator(data_dir=data_dir, port=int(server.url.rsplit(":", 1)[1]))
    sagemaker, s3, runtime = server.client("sagemaker"), server.client("s3"), server.client("sagemaker-runtime")
    assert sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Completed"
    assert sagemaker.describe_model(ModelName=endpoint)["PrimaryContainer"]["Image"]
    assert sagemaker.describe_endpoint_config(EndpointConfigName=endpoint)["ProductionVariants"]
    assert [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [
        f"output/{job}/output/model.tar.gz", "train/data.pbr"
    ]
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    deadline = time.monotonic() + 30
    while True:
        try:
            answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=",".join(["0"] * 784))
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert len(json.loads(answer["Body"].read())["predictions"]) == 1
    logs = server.client("logs").describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job)
    assert len(logs["logStreams"]) == 1


def test_kill_9_during_a_job_never_leaves_it_in_progress(fresh_emulator, tmp_path, mnist_subset):
    data_dir = tmp_path / "state"
    server = fresh_emulator(data_dir=data_dir)
    sagemaker, s3 = server.client("sagemaker"), server.client("s3")
    bucket = make_bucket(s3)
    uri = upload_recordio(s3, bucket, "train/data.pbr", mnist_subset[0][:500])
    job = unique("killed")
    create_kmeans_job(sagemaker, job, bucket, [channel(uri)],
                      {"k": "5", "feature_dim": "784", "mini_batch_size": "50", "epochs": "1000000"})
    deadline = time.monotonic() + 60
    while sagemaker.describe_training_job(TrainingJobName=job)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1)
    workers = _processes_mentioning(str(data_dir))
    assert workers, "the training process should be running"
    server.stop(signal.SIGKILL)

    deadline = time.monotonic() + 10
    while _processes_mentioning(str(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_mentioning(str(data_dir)), "the training process died with the server"

    server = fresh_emulator(data_dir=data_dir)
    description = server.client("sagemaker").describe_training_job(TrainingJobName=job)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("InternalServerError")


def _processes_mentioning(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes() and b"sagemaker_algorithms" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
