"""Endpoints on the docker backend survive what SageMaker's survive: a dead instance is replaced,
UpdateEndpoint drops no request, and an emulator restart adopts the containers still serving or
training and leaves no stray behind."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest

from tests.e2e.conftest import owned_containers
from tests.e2e.byoc import create_job, deploy_user_model, job_log
from tests.integration.flows import unique, wait_for_job

pytestmark = pytest.mark.docker


def wait_in_service(sagemaker, endpoint: str) -> None:
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 90})


def trained_artifact(server, image: str, scale: str = "10") -> str:
    sagemaker, s3 = server.client("sagemaker"), server.client("s3")
    job, _ = create_job(sagemaker, s3, image, {"epochs": "1", "scale": scale})
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return description["ModelArtifacts"]["S3ModelArtifacts"]


def predict(runtime, endpoint: str) -> dict:
    return json.loads(runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body="1")["Body"].read())


def crash_while_training(server, docker_client, data_dir, user_image: str, hyperparameters: dict[str, str]) -> str:
    """Start a job of the user image, and SIGKILL the emulator once its container runs; the job's name."""
    job, _ = create_job(server.client("sagemaker"), server.client("s3"), user_image, hyperparameters)
    deadline = time.monotonic() + 60
    while not [c for c in owned_containers(docker_client, data_dir, role="training") if c.status == "running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    server.stop(signal.SIGKILL)  # containers outlive a crashed emulator
    return job


def restarted(fresh_docker_emulator, server, data_dir):
    """A new emulator on the crashed one's data directory and port."""
    return fresh_docker_emulator(data_dir=data_dir, port=int(server.url.rsplit(":", 1)[1]))


def test_a_killed_endpoint_container_is_replaced(docker_emulator, docker_client, user_image):
    sagemaker, runtime = docker_emulator.client("sagemaker"), docker_emulator.client("sagemaker-runtime")
    endpoint = deploy_user_model(sagemaker, user_image, trained_artifact(docker_emulator, user_image), {})
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    wait_in_service(sagemaker, endpoint)
    assert predict(runtime, endpoint)["predictions"] == [13.0]
    (victim,) = owned_containers(docker_client, docker_emulator.data_dir, role="serving", endpoint=endpoint)
    victim.kill()

    deadline = time.monotonic() + 60
    while True:
        running = [c for c in owned_containers(docker_client, docker_emulator.data_dir, role="serving", endpoint=endpoint)
                   if c.status == "running"]
        if running and running[0].id != victim.id:
            try:
                assert predict(runtime, endpoint)["predictions"] == [13.0]
                break
            except Exception:  # noqa: BLE001 - not healthy yet
                pass
        assert time.monotonic() < deadline, "the dead instance was not replaced"
        time.sleep(0.2)
    assert running[0].labels["org.sagemaker-emulator.instance"] == victim.labels["org.sagemaker-emulator.instance"]
    assert [c.id for c in owned_containers(docker_client, docker_emulator.data_dir, endpoint=endpoint)] == [running[0].id]
    logs = docker_emulator.client("logs")
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    messages = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                                          startFromHead=True)["events"]]
    assert any("stopped unexpectedly; starting a replacement" in m for m in messages)
    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_update_endpoint_drops_no_request(docker_emulator, user_image):
    """Requests take 5 s on the old model; the ones in flight at the switch still answer (a fixed
    2-second drain would cut most of them off)."""
    sagemaker = docker_emulator.client("sagemaker")
    slow = deploy_user_model(sagemaker, user_image, trained_artifact(docker_emulator, user_image, "10"),
                             {"DELAY_SECONDS": "5"})
    sagemaker.create_endpoint(EndpointName=slow, EndpointConfigName=slow)
    wait_in_service(sagemaker, slow)
    fast = deploy_user_model(sagemaker, user_image, trained_artifact(docker_emulator, user_image, "100"), {})

    answers: list[float] = []
    errors: list[str] = []
    stop = threading.Event()

    def client_loop() -> None:
        client = docker_emulator.client("sagemaker-runtime")
        while not stop.is_set():
            try:
                answers.append(predict(client, slow)["predictions"][0])
            except Exception as error:  # noqa: BLE001
                errors.append(str(error))

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every client has a request in flight on the old instance
    sagemaker.update_endpoint(EndpointName=slow, EndpointConfigName=fast)
    wait_in_service(sagemaker, slow)
    deadline = time.monotonic() + 30
    while 103.0 not in answers and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert answers.count(13.0) >= 4 and 103.0 in answers  # every client's request to the old model, then the new
    sagemaker.delete_endpoint(EndpointName=slow)


def test_restart_adopts_serving_containers_and_removes_the_rest(fresh_docker_emulator, docker_client, tmp_path,
                                                                 user_image):
    data_dir = tmp_path / "state"
    server = fresh_docker_emulator(data_dir=data_dir)
    sagemaker = server.client("sagemaker")
    endpoint = deploy_user_model(sagemaker, user_image, trained_artifact(server, user_image), {})
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    wait_in_service(sagemaker, endpoint)
    (serving,) = owned_containers(docker_client, data_dir, role="serving")
    job = crash_while_training(server, docker_client, data_dir, user_image, {"epochs": "1", "sleep_seconds": "20"})
    assert {c.labels["org.sagemaker-emulator.role"] for c in owned_containers(docker_client, data_dir)} == {
        "training", "serving"}

    server = restarted(fresh_docker_emulator, server, data_dir)
    sagemaker, runtime = server.client("sagemaker"), server.client("sagemaker-runtime")
    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    assert predict(runtime, endpoint)["predictions"] == [13.0]  # served by the adopted container
    assert "adopted 1 running instance" in server.log_text()
    # the training container was adopted too: the job goes on, its output still reaches its log stream
    assert sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "InProgress"
    assert f"training job {job}: adopted its 1 running host(s)" in server.log_text()
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert description["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{job}/output/model.tar.gz")
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert metrics["train:loss"] == 1.0  # recorded before the restart, kept
    messages = job_log(server, job).splitlines()
    assert messages.count("epoch=1 train_loss=1.0000") == 1 and messages.count("training done") == 1, messages
    deadline = time.monotonic() + 30
    while [c.id for c in owned_containers(docker_client, data_dir)] != [serving.id]:
        assert time.monotonic() < deadline, "the adopted training container was not removed"
        time.sleep(0.2)

    # the adopted instance is supervised like any other
    docker_client.containers.get(serving.id).kill()
    deadline = time.monotonic() + 60
    while True:
        try:
            assert predict(runtime, endpoint)["predictions"] == [13.0]
            if [c.id for c in owned_containers(docker_client, data_dir)] != [serving.id]:
                break
        except Exception:  # noqa: BLE001
            pass
        assert time.monotonic() < deadline, "the adopted instance was not replaced"
        time.sleep(0.2)
    assert server.stop() == 0  # and the fixture checks that nothing is left


def test_restart_replaces_endpoint_containers_that_are_gone(fresh_docker_emulator, docker_client, tmp_path,
                                                            user_image):
    data_dir = tmp_path / "state"
    server = fresh_docker_emulator(data_dir=data_dir)
    sagemaker = server.client("sagemaker")
    endpoint = deploy_user_model(sagemaker, user_image, trained_artifact(server, user_image), {}, unique("gone"))
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    wait_in_service(sagemaker, endpoint)
    server.stop(signal.SIGKILL)
    for container in owned_containers(docker_client, data_dir):
        container.remove(force=True)

    server = restarted(fresh_docker_emulator, server, data_dir)
    sagemaker, runtime = server.client("sagemaker"), server.client("sagemaker-runtime")
    wait_in_service(sagemaker, endpoint)
    deadline = time.monotonic() + 60
    while True:
        try:
            assert predict(runtime, endpoint)["predictions"] == [13.0]
            break
        except Exception:  # noqa: BLE001
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert len(owned_containers(docker_client, data_dir, role="serving")) == 1


def test_restart_finishes_a_job_whose_container_exited_meanwhile(fresh_docker_emulator, docker_client, tmp_path,
                                                                 user_image):
    data_dir = tmp_path / "state"
    server = fresh_docker_emulator(data_dir=data_dir)
    job = crash_while_training(server, docker_client, data_dir, user_image, {"epochs": "2", "sleep_seconds": "2"})
    (container,) = owned_containers(docker_client, data_dir, role="training")
    assert container.wait(timeout=60)["StatusCode"] == 0  # it finishes while no emulator watches it

    server = restarted(fresh_docker_emulator, server, data_dir)
    sagemaker = server.client("sagemaker")
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    messages = job_log(server, job).splitlines()
    assert messages.count("training done") == 1 and messages.count("epoch=2 train_loss=0.5000") == 1, messages
    deadline = time.monotonic() + 30
    while owned_containers(docker_client, data_dir):
        assert time.monotonic() < deadline, "the finished container was not removed"
        time.sleep(0.2)
    assert server.stop() == 0


def test_restart_fails_a_job_whose_container_never_started(fresh_docker_emulator, docker_client, tmp_path,
                                                           user_image):
    """The emulator died between creating a host's container and starting it: nothing ran, so the
    job cannot be adopted; it fails and the container goes."""
    data_dir = tmp_path / "state"
    server = fresh_docker_emulator(data_dir=data_dir)
    job = crash_while_training(server, docker_client, data_dir, user_image, {"epochs": "1", "sleep_seconds": "60"})
    (running,) = owned_containers(docker_client, data_dir, role="training")
    labels = dict(running.labels)
    running.remove(force=True)
    created = docker_client.containers.create(user_image, ["train"], labels=labels)  # as the crash left it
    assert created.status == "created"

    server = restarted(fresh_docker_emulator, server, data_dir)
    description = server.client("sagemaker").describe_training_job(TrainingJobName=job)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("InternalServerError")
    assert owned_containers(docker_client, data_dir) == []
    assert server.stop() == 0
