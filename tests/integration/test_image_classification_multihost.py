"""Image classification on two hosts: two ``train`` processes joined through torch.distributed (gloo).

No emulator: each host gets its own workspace laid out like /opt/ml (``SAGEMAKER_BASE_DIR``), a
``resourceconfig.json`` naming it among ``algo-1``, ``algo-2``, and the rendezvous address in
``MASTER_ADDR``/``MASTER_PORT``, as the emulator's process backend starts them.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("PIL")

from sagemaker_algorithms.common import contract  # noqa: E402
from sagemaker_algorithms.image_classification import artifact  # noqa: E402
from tests.unit.algorithms.helpers import make_job, run_hosts  # noqa: E402
from tests.unit.algorithms.test_image_classification_records import rec_bytes, tiny_images  # noqa: E402

HOSTS = ["algo-1", "algo-2"]
RECORDIO = {"train": "application/x-recordio", "validation": "application/x-recordio"}
HYPERPARAMETERS = {"num_classes": "2", "num_training_samples": "96", "num_layers": "20", "image_shape": "3,32,32",
                   "mini_batch_size": "16", "learning_rate": "0.05", "epochs": "2", "top_k": "2"}
ACCURACY_LINE = re.compile(r"Epoch\[\d+\] (?:Train|Validation)-\S+=\S+")
TIMEOUT = 240


def rec(count: int, seed: int) -> bytes:
    labels = [i % 2 for i in range(count)]
    return rec_bytes(labels, tiny_images(labels, size=32, seed=seed))


def run_job(tmp_path: Path, channels_per_host: dict[str, dict], distribution: str = "FullyReplicated",
            hyperparameters: dict | None = None) -> dict[str, tuple[int, str]]:
    """Both hosts' ``train`` to the end: {host: (exit code, output)}."""
    for host in HOSTS:
        make_job(tmp_path / host, hyperparameters or HYPERPARAMETERS, channels_per_host[host], RECORDIO,
                 hosts=HOSTS, current_host=host, distribution=distribution)
    return finish(run_hosts({host: tmp_path / host for host in HOSTS}, "image-classification", timeout=TIMEOUT,
                            extra_env={"SAGEMAKER_IMAGE_CLASSIFICATION_WORKERS": "0"}))


def finish(completed: dict[str, subprocess.CompletedProcess]) -> dict[str, tuple[int, str]]:
    return {host: (process.returncode, process.stdout) for host, process in completed.items()}


def model_files(tmp_path: Path, host: str) -> list[str]:
    model_dir = contract.ContainerPaths(tmp_path / host).model_dir
    return sorted(p.name for p in model_dir.iterdir()) if model_dir.is_dir() else []


def test_two_hosts_share_replicated_records(tmp_path):
    channels = {"train": {"train.rec": rec(96, seed=0)}, "validation": {"val.rec": rec(33, seed=1)}}
    results = run_job(tmp_path, {host: channels for host in HOSTS})
    for host, (code, output) in results.items():
        assert code == 0, f"{host}:\n{output}"
        assert contract.read_failure(contract.ContainerPaths(tmp_path / host)) is None
        assert f"Training on 2 hosts as {host}" in output and "dealt out among the hosts" in output
        # 96 records dealt to 2 hosts: 48 each, 3 batches of 16 per epoch
        assert "Channel 'train': 3 batches of 16 images per epoch on each of 2 hosts (this host has 3)" in output
    first, second = results["algo-1"][1], results["algo-2"][1]
    lines = ACCURACY_LINE.findall(first)
    assert len(lines) == 2 * 4  # 2 epochs x Train- and Validation- accuracy and top_k_accuracy_2
    assert lines == ACCURACY_LINE.findall(second)
    # the validation accuracy counts all 33 images: summed over the hosts' disjoint parts (17 + 16)
    for value in re.findall(r"Validation-accuracy=(\S+)", first):
        assert abs(float(value) * 33 - round(float(value) * 33)) < 1e-4
    assert "Storing the best model" in first and "Storing the best model" not in second
    files = model_files(tmp_path, "algo-1")
    assert artifact.SYMBOL_FILE in files and "model-shapes.json" in files
    assert any(name.endswith(".params") for name in files)
    assert model_files(tmp_path, "algo-2") == []


def test_sharded_hosts_run_the_same_number_of_steps(tmp_path):
    channels = {
        "algo-1": {"train": {"a.rec": rec(48, seed=0), "b.rec": rec(20, seed=2)}, "validation": {"v.rec": rec(16, 1)}},
        "algo-2": {"train": {"c.rec": rec(40, seed=3)}, "validation": {"w.rec": rec(10, seed=4)}},
    }
    hyperparameters = {**HYPERPARAMETERS, "num_training_samples": "108", "epochs": "1"}
    results = run_job(tmp_path, channels, "ShardedByS3Key", hyperparameters)
    for host, (code, output) in results.items():
        assert code == 0, f"{host}:\n{output}"
        assert "sharded by S3 key" in output
        assert "num_training_samples is" not in output  # 68 + 40 = 108 across the hosts
    first, second = results["algo-1"][1], results["algo-2"][1]
    # algo-1 has 68 images (5 batches), algo-2 40 (3 batches): both run 3 updates per epoch
    assert "Channel 'train': 3 batches of 16 images per epoch on each of 2 hosts (this host has 5)" in first
    assert "drops the last 2 of its 5 batches" in first
    assert "(this host has 3)" in second
    assert ACCURACY_LINE.findall(first) == ACCURACY_LINE.findall(second) != []
    assert model_files(tmp_path, "algo-2") == [] and model_files(tmp_path, "algo-1") != []


def test_one_hosts_client_error_fails_every_host(tmp_path):
    channels = {
        "algo-1": {"train": {"a.rec": rec(32, seed=0)}, "validation": {"v.rec": rec(16, 1)}},
        "algo-2": {"train": {"notes.idx": b"0\t0\n"}, "validation": {"w.rec": rec(16, seed=4)}},
    }
    results = run_job(tmp_path, channels, "ShardedByS3Key")
    message = "No data was found in channel 'train' (the channel directory has no .rec files)"
    assert results["algo-2"][0] == 2, results["algo-2"][1]
    assert contract.read_failure(contract.ContainerPaths(tmp_path / "algo-2")) == f"ClientError: {message} " \
        "(caused by ValueError)"
    assert results["algo-1"][0] == 2, results["algo-1"][1]
    assert contract.read_failure(contract.ContainerPaths(tmp_path / "algo-1")) == f"ClientError: Host algo-2: " \
        f"{message} (caused by ValueError)"
    assert json.loads((tmp_path / "algo-1" / "input" / "config" / "resourceconfig.json").read_text())[
        "current_host"] == "algo-1"


STEPS_SCRIPT = r"""
import json, sys
import numpy as np, torch
from sagemaker_algorithms.common.distributed import join_hosts
from sagemaker_algorithms.image_classification.hyperparameters import SCHEMA
from sagemaker_algorithms.image_classification.images import Geometry
from sagemaker_algorithms.image_classification.network import build_network
from sagemaker_algorithms.image_classification.pipeline import ImageSet, ImageSource
from sagemaker_algorithms.image_classification.records import read_record_file
from sagemaker_algorithms.image_classification.training import Trainer

host, path = sys.argv[1], sys.argv[2]
labels, images = read_record_file(path)
train = ImageSet("train", ImageSource([("t.rec", images)]), np.array([int(l[0]) for l in labels]))
hp = SCHEMA.validate({"num_classes": "2", "num_training_samples": "64", "num_layers": "20",
                      "image_shape": "3,32,32", "mini_batch_size": "8", "augmentation_type": "crop"})
group = join_hosts(["algo-1", "algo-2"], host)
torch.manual_seed(0)
trainer = Trainer(build_network(20, 2), hp, torch.device("cpu"), Geometry(3, 32, 32), workers=0, group=group,
                  split=("train",))
seen = []
for epoch in range(2):
    loader, sampler = trainer.loader(train, train=True)
    sampler.set_epoch(epoch)
    seen += [int(i) for _, _, indices in sampler for i in indices]
    for _ in trainer.steps(train, epoch):
        pass
trainer.sync_buffers()
state = [float(t.double().sum()) for t in trainer.network.state_dict().values()]
print(json.dumps({"states": group.all_gather_objects(state), "seen": group.all_gather_objects(seen),
                  "updates": trainer.updates}))
trainer.close()
del trainer, loader  # DistributedDataParallel goes before its process group (else gloo aborts at exit)
group.close()
"""


def test_data_parallel_steps_keep_the_hosts_models_identical(tmp_path):
    """Two Trainers joined through torch.distributed train on disjoint records and end up with the
    same weights and batch-norm statistics (DistributedDataParallel averages every update)."""
    path = tmp_path / "train.rec"
    path.write_bytes(rec(64, seed=0))
    results = finish(run_hosts({host: tmp_path for host in HOSTS}, "image-classification", timeout=TIMEOUT,
                               arguments=lambda host: ["-c", STEPS_SCRIPT, host, str(path)]))
    reports = []
    for host, (code, output) in results.items():
        assert code == 0, f"{host}:\n{output}"
        reports.append(json.loads(output.strip().splitlines()[-1]))
    first = reports[0]
    assert first == reports[1] and first["updates"] == 2 * 4  # 64 records / 2 hosts / batches of 8, 2 epochs
    assert first["states"][0] == first["states"][1]
    for epoch in range(2):  # each epoch the hosts' records are disjoint and together cover every record
        parts = [set(seen[epoch * 32:(epoch + 1) * 32]) for seen in first["seen"]]
        assert not parts[0] & parts[1] and parts[0] | parts[1] == set(range(64))
