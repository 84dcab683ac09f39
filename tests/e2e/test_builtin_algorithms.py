"""The built-in algorithms' flows, unchanged from the integration tests, on the docker backend."""

from __future__ import annotations

import importlib
import json
import threading
import time

import pytest

from sagemaker_emulator.execution import images
from tests.e2e.conftest import owned_containers, unavailable
from tests.integration.conftest import ROLE
from tests.integration.flows import channel, deploy, make_bucket, train_kmeans, unique, wait_for_job

pytestmark = pytest.mark.docker


def _integration_test(module: str, name: str):
    """An integration test's function, when its algorithm exists in this checkout."""
    try:
        return getattr(importlib.import_module(f"tests.integration.{module}"), name)
    except (ImportError, AttributeError) as error:
        pytest.skip(f"{module}.{name} is not available: {error}")


def test_kmeans_notebook_flow_in_containers(docker_emulator, mnist_subset):
    _integration_test("test_kmeans_flow", "test_kmeans_notebook_flow")(docker_emulator, mnist_subset)


def test_knn_flow_in_containers(docker_emulator, mnist_subset):
    _integration_test("test_knn", "test_knn_mnist_train_test_deploy_predict")(docker_emulator, mnist_subset)


def test_linear_learner_flow_in_containers(docker_emulator, mnist_subset):
    _integration_test("test_linear_learner", "test_binary_classifier_train_deploy_predict")(docker_emulator, mnist_subset)


def test_kmeans_on_two_hosts_in_containers(docker_emulator, docker_client, torch_image, mnist_subset):
    """Two containers on the job's network, joined through torch.distributed at algo-1:7777, in the
    torch image (which carries every built-in); the same checks as on the process backend."""
    seen: set[tuple[str, str]] = set()
    stop = threading.Event()

    def watch() -> None:  # the job's containers, while it runs
        while not stop.is_set():
            try:
                found = owned_containers(docker_client, docker_emulator.data_dir, role="training")
            except Exception:  # noqa: BLE001 - a container removed between listing and inspecting
                continue
            seen.update((c.labels["org.sagemaker-emulator.host"], c.image.tags[0]) for c in found)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        _integration_test("test_multihost_training", "test_kmeans_on_two_hosts_matches_one_host")(
            docker_emulator, mnist_subset)
    finally:
        stop.set()
        watcher.join(5)
    assert ("algo-2", torch_image) in seen, seen


def test_linear_learner_on_two_hosts_in_containers(docker_emulator, torch_image, mnist_subset):
    _integration_test("test_multihost_training", "test_linear_learner_on_two_hosts_logs_the_same_metrics_on_both")(
        docker_emulator, mnist_subset)


def test_endpoint_container_is_labelled_limited_and_published_on_loopback(docker_emulator, docker_client, mnist_subset):
    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    runtime = docker_emulator.client("sagemaker-runtime")
    _, description = train_kmeans(sagemaker, s3, mnist_subset[0][:300], k=3)
    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"])  # ml.m5.large: 2 vCPUs, 8 GiB
    (container,) = owned_containers(docker_client, docker_emulator.data_dir, role="serving", endpoint=endpoint)
    assert container.image.tags == [images.NUMPY_IMAGE]
    assert container.labels["org.sagemaker-emulator.variant"] == "AllTraffic"
    host = container.attrs["HostConfig"]
    assert host["NanoCpus"] == int(min(2, docker_client.info()["NCPU"]) * 1e9)
    assert host["Memory"] == 8 * 1024**3
    assert host["Init"] is True
    assert [binding["HostIp"] for binding in container.ports["8080/tcp"]] == ["127.0.0.1"]
    assert "SAGEMAKER_ALGORITHM=kmeans" in container.attrs["Config"]["Env"]
    assert container.attrs["Mounts"][0]["Destination"] == "/opt/ml"

    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=",".join(["0"] * 784))
    assert json.loads(answer["Body"].read())["predictions"][0]["closest_cluster"] in (0, 1, 2)
    sagemaker.delete_endpoint(EndpointName=endpoint)
    container_id = container.id
    import time

    deadline = time.monotonic() + 20
    while any(c.id == container_id for c in owned_containers(docker_client, docker_emulator.data_dir)):
        assert time.monotonic() < deadline, "the endpoint's container outlived DeleteEndpoint"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def torch_image(docker_client) -> str:
    try:
        docker_client.images.get(images.TORCH_IMAGE)
    except Exception:  # noqa: BLE001
        unavailable(f"{images.TORCH_IMAGE} is not built ({images.build_hint(images.TORCH_IMAGE)})")
    output = docker_client.containers.run(
        images.TORCH_IMAGE, ["python", "-c", "import torch, PIL; print(torch.__version__, torch.cuda.is_available())"],
        remove=True, network_mode="none",
    ).decode()
    assert output.split() == ["2.13.0+cpu", "False"]
    return images.TORCH_IMAGE


IMAGE_CLASSIFICATION_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"


def start_image_classification_job(sagemaker, s3, records, instance_count: int, instance_type: str,
                                   mini_batch_size: int) -> str:
    """A tiny two-class job: 16x16 images, ResNet-20, 2 epochs, train and validation .rec channels."""
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="train/train.rec", Body=records.two_class_rec(64))
    s3.put_object(Bucket=bucket, Key="validation/val.rec", Body=records.two_class_rec(32, seed=1))
    job = unique("image-classification")
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": IMAGE_CLASSIFICATION_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[channel(f"s3://{bucket}/{name}/", name, ContentType="application/x-recordio")
                         for name in ("train", "validation")],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": instance_count, "InstanceType": instance_type, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
        HyperParameters={"num_classes": "2", "num_training_samples": "64", "num_layers": "20",
                         "image_shape": "3,16,16", "mini_batch_size": str(mini_batch_size), "learning_rate": "0.05",
                         "epochs": "2"},
    )
    return job


def test_image_classification_trains_and_serves_in_the_torch_image(docker_emulator, docker_client, torch_image):
    """A tiny two-class job (16x16 images, ResNet-20, 2 epochs), then an endpoint that classifies a JPEG."""
    records = pytest.importorskip("tests.unit.algorithms.test_image_classification_records")
    from sagemaker_algorithms.image_classification.images import encode_image

    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    runtime = docker_emulator.client("sagemaker-runtime")
    job = start_image_classification_job(sagemaker, s3, records, 1, "ml.p3.2xlarge", mini_batch_size=16)
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    metrics = {m["MetricName"] for m in description["FinalMetricDataList"]}
    assert {"train:accuracy", "validation:accuracy"} <= metrics

    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"], image=IMAGE_CLASSIFICATION_IMAGE)
    (container,) = owned_containers(docker_client, docker_emulator.data_dir, role="serving", endpoint=endpoint)
    assert container.image.tags == [torch_image]  # a GPU type on a host without GPUs: the CPU image
    bright = records.tiny_images([1], size=16, seed=5)[0]
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/x-image",
                                     Body=encode_image(bright, "JPEG"))
    probabilities = json.loads(answer["Body"].read())
    assert len(probabilities) == 2 and abs(sum(probabilities) - 1) < 1e-4
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_a_missing_algorithm_image_is_named_with_the_command_that_builds_it(docker_client, tmp_path, monkeypatch):
    from sagemaker_emulator.execution.backends import BackendError, TrainingLaunch
    from sagemaker_emulator.execution.docker_backend import DockerBackend

    missing = "sagemaker-emulator/algorithms-numpy:0.0.0-missing"
    monkeypatch.setitem(images.ALGORITHM_IMAGES, "kmeans", ("numpy", missing))
    backend = DockerBackend(tmp_path)
    try:
        with pytest.raises(BackendError) as raised:
            backend.start_training(TrainingLaunch("job", "kmeans:1", "kmeans", {"algo-1": tmp_path / "algo-1"}),
                                   lambda host, line: None)
    finally:
        backend.shutdown()
    assert str(raised.value) == (
        f"The docker backend runs the built-in algorithm kmeans (kmeans:1) in the image {missing}, and this "
        "Docker engine does not have it: build it with `bash scripts/build-images.sh` "
        "(or `.venv/bin/python containers/build.py numpy`).")


def test_image_classification_on_two_hosts_in_containers(docker_emulator, torch_image):
    """DistributedDataParallel across two containers (gloo over the job's network)."""
    records = pytest.importorskip("tests.unit.algorithms.test_image_classification_records")
    sagemaker, s3 = docker_emulator.client("sagemaker"), docker_emulator.client("s3")
    job = start_image_classification_job(sagemaker, s3, records, 2, "ml.c5.xlarge", mini_batch_size=8)
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    stream_texts = _integration_test("test_multihost_training", "stream_texts")
    accuracy_lines = [[line.split("] ", 1)[-1] for line in text.splitlines() if "-accuracy=" in line]
                      for text in stream_texts(docker_emulator.client("logs"), job).values()]
    assert len(accuracy_lines) == 2 and accuracy_lines[0] == accuracy_lines[1] and len(accuracy_lines[0]) == 4
