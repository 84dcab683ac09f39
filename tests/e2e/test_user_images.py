"""Users' own images (bring your own container) on the docker backend: train and serve per the
contract, MetricDefinitions, Environment, limits, the job's network or none, clear failures."""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest

from tests.e2e.byoc import METRICS, create_job, deploy_user_model, job_log
from tests.integration.flows import wait_for_job, wait_until_failed

pytestmark = pytest.mark.docker


def test_user_image_trains_with_metrics_and_serves(docker_emulator, docker_client, user_image):
    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    runtime = docker_emulator.client("sagemaker-runtime")
    job, bucket = create_job(sagemaker, s3, user_image, Environment={"GREETING": "hello from the job"})
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert description["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert metrics == {"train:loss": 0.25, "validation:accuracy": 0.54}  # the last epoch's values

    text = job_log(docker_emulator, job)
    assert "host=algo-1 current_host=algo-1 channels=['train']" in text
    assert "greeting=hello from the job" in text
    assert "interfaces=eth0,lo" in text and "resolves algo-1 -> unresolved" not in text  # the job's network
    cpus = float(min(4, docker_client.info()["NCPU"]))  # ml.c5.xlarge: 4 vCPUs (capped by the host's), 8 GiB
    assert f"limits cpus={cpus} memory_bytes=8589934592" in text

    artifact = description["ModelArtifacts"]["S3ModelArtifacts"]
    body = s3.get_object(Bucket=bucket, Key=artifact.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert json.load(archive.extractfile("model.json")) == {"mean": 3.0, "scale": 10.0}

    endpoint = deploy_user_model(sagemaker, user_image, artifact, {"GREETING": "hello from the endpoint"})
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    answer = json.loads(runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body="1,2")["Body"].read())
    assert answer["predictions"] == [13.0, 23.0]
    assert answer["greeting"] == "hello from the endpoint"
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_network_isolation_leaves_the_job_without_network(docker_emulator, user_image):
    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    job, _ = create_job(sagemaker, s3, user_image, EnableNetworkIsolation=True)
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert description["EnableNetworkIsolation"] is True
    text = job_log(docker_emulator, job)
    assert "interfaces=lo" in text


def test_isolated_hosts_reach_each_other_and_nothing_else(docker_emulator, docker_client, user_image):
    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    job, _ = create_job(sagemaker, s3, user_image, {"epochs": "1", "sleep_seconds": "3"}, instance_count=2,
                        EnableNetworkIsolation=True)  # both hosts stay up while the other looks them up
    networks: set[tuple[str, bool]] = set()
    while sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "InProgress":
        for network in docker_client.networks.list(filters={"label": f"org.sagemaker-emulator.training-job={job}"}):
            networks.add((network.name, bool(network.attrs.get("Internal"))))
        time.sleep(0.1)
    description = sagemaker.describe_training_job(TrainingJobName=job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    text = job_log(docker_emulator, job)
    assert text.count("resolves algo-1 -> 1") == 2 and text.count("resolves algo-2 -> 1") == 2, text
    assert "the hosts reach each other and nothing else" in text
    assert networks and all(internal for _, internal in networks), networks  # no route out of the job's network


def test_user_failure_file_becomes_the_failure_reason(docker_emulator, user_image):
    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    job, _ = create_job(sagemaker, s3, user_image, {"fail": "true"})
    description = wait_until_failed(sagemaker, job)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == "ClientError: the user's image failed on purpose"


def test_missing_image_fails_the_job_and_the_endpoint_clearly(docker_emulator):
    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    # A registry on a loopback port nothing listens on: the pull is tried and refused at once.
    missing = "localhost:1/sme-e2e/no-such-image:1"
    job, _ = create_job(sagemaker, s3, missing)
    description = wait_until_failed(sagemaker, job)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith(f"ClientError: The image {missing} is not on this Docker engine")

    endpoint = deploy_user_model(sagemaker, missing, None, {})
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    deadline = time.monotonic() + 60
    while (status := sagemaker.describe_endpoint(EndpointName=endpoint))["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status["EndpointStatus"] == "Failed"
    assert status["FailureReason"].startswith(f"ClientError: The image {missing} is not on this Docker engine")
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_stop_training_job_stops_the_container(docker_emulator, docker_client, user_image):
    from tests.e2e.conftest import owned_containers

    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    job, _ = create_job(sagemaker, s3, user_image, {"epochs": "1", "sleep_seconds": "300"})
    deadline = time.monotonic() + 60
    while not owned_containers(docker_client, docker_emulator.data_dir, role="training", **{"training-job": job}):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    sagemaker.stop_training_job(TrainingJobName=job)
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Stopped"
    assert owned_containers(docker_client, docker_emulator.data_dir, **{"training-job": job}) == []
