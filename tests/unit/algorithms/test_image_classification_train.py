"""Image classification ``train``: tiny CPU jobs on workspaces laid out like /opt/ml."""

from __future__ import annotations

import io
import json
import re
import tarfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sagemaker_algorithms.common import contract  # noqa: E402
from sagemaker_algorithms.common.training import run_training  # noqa: E402
from sagemaker_algorithms.image_classification import artifact  # noqa: E402
from sagemaker_algorithms.image_classification.hyperparameters import SCHEMA  # noqa: E402
from sagemaker_algorithms.image_classification.images import encode_image  # noqa: E402
from sagemaker_algorithms.image_classification.records import format_lst, write_record_file  # noqa: E402
from sagemaker_algorithms.image_classification.training import ALGORITHM, Accuracy, learning_rate_at  # noqa: E402

from .helpers import make_job, run_entrypoint  # noqa: E402
from .test_image_classification_records import rec_bytes, tiny_images, two_class_rec  # noqa: E402

RECORDIO = {"train": "application/x-recordio", "validation": "application/x-recordio"}
SMALL = {"num_classes": "2", "num_training_samples": "64", "num_layers": "20", "image_shape": "3,16,16",
         "mini_batch_size": "16", "learning_rate": "0.05", "epochs": "2"}
TRAIN_ACCURACY = re.compile(r"Epoch\[(\d+)\] Train-accuracy=(\S+)")
VALIDATION_ACCURACY = re.compile(r"Epoch\[(\d+)\] Validation-accuracy=(\S+)")


def train_in_process(tmp_path, hyperparameters, channels, content_types=RECORDIO, capsys=None):
    paths = make_job(tmp_path, hyperparameters, channels, content_types)
    code = run_training(ALGORITHM, paths)
    output = capsys.readouterr().out if capsys is not None else ""
    return code, paths, output


def validation_accuracies(output: str) -> list[float]:
    return [float(value) for _, value in VALIDATION_ACCURACY.findall(output)]


def test_learns_two_separable_classes(tmp_path, capsys):
    code, paths, out = train_in_process(
        tmp_path, {**SMALL, "epochs": "3", "augmentation_type": "crop", "top_k": "2"},
        {"train": {"train.rec": two_class_rec(64)}, "validation": {"val.rec": two_class_rec(32, seed=1)}},
        capsys=capsys)
    assert code == 0, out
    assert contract.read_failure(paths) is None
    accuracies = validation_accuracies(out)
    assert len(accuracies) == 3 and max(accuracies) >= 0.9, out
    assert len(TRAIN_ACCURACY.findall(out)) == 3
    assert re.search(r"Epoch\[0\] Train-top_k_accuracy_2=1\.000000", out)
    assert re.search(r"Epoch\[2\] Time cost=\d+\.\d{3}\n", out)
    assert re.search(r"Epoch\[0\] Validation-accuracy=\d\.\d{6}\n", out)
    assert "---- Parameters ----" in out and "num_layers: 20" in out and "kv_store: device" in out
    assert "checkpoint_frequency not set, will store the best model" in out
    best = int(np.argmax(accuracies)) + 1
    assert f"Storing the best model with validation accuracy: {max(accuracies):f}" in out
    files = sorted(p.name for p in paths.model_dir.iterdir())
    assert files == sorted([artifact.SYMBOL_FILE, artifact.params_file_name(best), "model-shapes.json"])
    assert f'Saved checkpoint to "{paths.model_dir / artifact.params_file_name(best)}"' in out
    info = artifact.read_info(paths.model_dir)
    assert (info.num_layers, info.num_classes, info.image_shape, info.best_epoch) == (20, 2, (3, 16, 16), best)
    assert json.loads((paths.model_dir / "model-shapes.json").read_text()) == [
        {"name": "data", "shape": [16, 3, 16, 16]}]


def test_checkpoint_frequency_keeps_every_period_and_the_best(tmp_path, capsys):
    code, paths, out = train_in_process(
        tmp_path, {**SMALL, "epochs": "4", "checkpoint_frequency": "2", "learning_rate": "0.2"},
        {"train": {"train.rec": two_class_rec(48)}, "validation": {"val.rec": two_class_rec(16, seed=2)}},
        capsys=capsys)
    assert code == 0, out
    accuracies = validation_accuracies(out)
    best = int(np.argmax(accuracies)) + 1  # ties keep the earlier epoch
    expected = {artifact.params_file_name(e) for e in (2, 4, best)}
    assert {p.name for p in paths.model_dir.glob("*.params")} == expected
    assert artifact.read_info(paths.model_dir).best_epoch == best
    assert "checkpoint_frequency: 2" in out


def test_early_stopping(tmp_path, capsys):
    code, paths, out = train_in_process(
        tmp_path, {**SMALL, "epochs": "8", "early_stopping": "True", "early_stopping_min_epochs": "2",
                   "early_stopping_patience": "1"},
        {"train": {"train.rec": two_class_rec(64)}, "validation": {"val.rec": two_class_rec(32, seed=1)}},
        capsys=capsys)
    assert code == 0, out
    epochs_run = len(validation_accuracies(out))
    assert epochs_run < 8 and "Early stopping" in out


def test_image_lists_with_resize_and_multi_label_class_ids(tmp_path, capsys):
    labels = [i % 3 for i in range(36)]
    images = tiny_images(labels, size=24)
    files = {f"img/{i:03d}.{'png' if i % 2 else 'jpg'}": encode_image(img, "PNG" if i % 2 else "JPEG")
             for i, img in enumerate(images)}
    # multi-label as class ids: class c plus, for odd images, class 2
    entries = [(i, [labels[i], 2] if i % 2 and labels[i] != 2 else [labels[i]], name)
               for i, name in enumerate(files)]
    channels = {"train": files, "validation": files,
                "train_lst": {"train.lst": format_lst(entries[:24]).encode()},
                "validation_lst": {"val.lst": format_lst(entries[24:]).encode()}}
    types = {name: "application/x-image" for name in channels}
    code, paths, out = train_in_process(
        tmp_path, {**SMALL, "num_classes": "3", "multi_label": "1", "use_weighted_loss": "1", "resize": "20",
                   "num_training_samples": "24", "augmentation_type": "crop_color_transform", "top_k": "2"},
        channels, types, capsys=capsys)
    assert code == 0, out
    assert "Found 24 images in channel 'train' and 12 in channel 'validation'" in out
    assert artifact.read_info(paths.model_dir).multi_label is True
    symbol = json.loads((paths.model_dir / artifact.SYMBOL_FILE).read_text())
    assert symbol["nodes"][symbol["heads"][0][0]]["op"] == "LogisticRegressionOutput"


def test_multi_label_multi_hot_records(tmp_path, capsys):
    labels = [[1, 0, 1] if i % 2 else [0, 1, 0] for i in range(32)]
    images = tiny_images([i % 2 for i in range(32)], size=16)
    data = rec_bytes(labels, images)
    code, paths, out = train_in_process(
        tmp_path, {**SMALL, "num_classes": "3", "multi_label": "1", "num_training_samples": "32"},
        {"train": {"t.rec": data}, "validation": {"v.rec": data}}, capsys=capsys)
    assert code == 0, out
    assert max(validation_accuracies(out)) > 0.6


def test_incremental_training_from_model_tar_gz(tmp_path, capsys):
    first = tmp_path / "first"
    code, paths, out = train_in_process(
        first, {**SMALL, "epochs": "1"},
        {"train": {"t.rec": two_class_rec(32)}, "validation": {"v.rec": two_class_rec(16)}}, capsys=capsys)
    assert code == 0, out
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in sorted(paths.model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    channels = {"train": {"t.rec": two_class_rec(32)}, "validation": {"v.rec": two_class_rec(16)},
                "model": {"model.tar.gz": archive.getvalue()}}
    types = {**RECORDIO, "model": "application/x-sagemaker-model"}
    code, _, out = train_in_process(tmp_path / "second", {**SMALL, "epochs": "1"}, channels, types, capsys=capsys)
    assert code == 0, out
    assert "Loaded image-classification-0001.params from channel 'model' for incremental training" in out
    code, later, out = train_in_process(tmp_path / "third", {**SMALL, "epochs": "1", "num_layers": "32"},
                                        channels, types, capsys=capsys)
    assert code == 2
    assert contract.read_failure(later) == (
        "ClientError: Incremental training needs the same num_layers, image_shape and num_classes as the model in "
        "channel 'model' (num_layers=20, image_shape=3,16,16, num_classes=2), but this job has num_layers=32, "
        "image_shape=3,16,16, num_classes=2 (caused by ValueError)")


# --------------------------------------------------------------------------------------------
# Failures


def failure_of(tmp_path, hyperparameters, channels, content_types=RECORDIO, capsys=None) -> str:
    code, paths, out = train_in_process(tmp_path, hyperparameters, channels, content_types, capsys=capsys)
    assert code != 0, out
    assert not list(paths.model_dir.glob("*.params"))
    return contract.read_failure(paths)


def test_missing_num_classes(tmp_path, capsys):
    channels = {"train": {"t.rec": two_class_rec(4)}, "validation": {"v.rec": two_class_rec(4)}}
    assert failure_of(tmp_path, {"num_training_samples": "4"}, channels, capsys=capsys) == (
        "ClientError: No value(s) were specified for 'num_classes' which are required hyperparameter(s) "
        "(caused by ValidationError)")


def test_image_shape_larger_than_images(tmp_path, capsys):
    channels = {"train": {"t.rec": two_class_rec(8, size=20)}, "validation": {"v.rec": two_class_rec(4, size=20)}}
    reason = failure_of(tmp_path, {**SMALL, "image_shape": "3,32,32"}, channels, capsys=capsys)
    assert reason.startswith("ClientError: Unable to read data channel 'train': record ")
    assert "of 't.rec': input image size smaller than input shape: the image is 20x20 (width x height) but " \
           "image_shape is 3,32,32" in reason
    assert reason.endswith("(caused by ValueError)")


def test_corrupt_rec(tmp_path, capsys):
    channels = {"train": {"t.rec": b"\x00garbage" * 20}, "validation": {"v.rec": two_class_rec(4)}}
    assert failure_of(tmp_path, SMALL, channels, capsys=capsys).startswith(
        "ClientError: Unable to read data channel 'train' (file 't.rec', content type 'application/x-recordio'): "
        "Not RecordIO data: expected magic 0xced7230a at offset 0")


def test_undecodable_image_inside_a_valid_rec(tmp_path, capsys):
    buffer = io.BytesIO()
    write_record_file(buffer, [(0, encode_image(tiny_images([0], 16)[0])), (1, b"not an image")])
    channels = {"train": {"t.rec": buffer.getvalue()}, "validation": {"v.rec": two_class_rec(4)}}
    reason = failure_of(tmp_path, SMALL, channels, capsys=capsys)
    assert reason.startswith("ClientError: Unable to read data channel 'train': record 1 of 't.rec': the data is "
                             "not an image that can be decoded")


def test_label_out_of_range_and_missing_validation(tmp_path, capsys):
    bad = rec_bytes([0, 5], tiny_images([0, 1], 16))
    reason = failure_of(tmp_path / "a", SMALL, {"train": {"t.rec": bad}, "validation": {"v.rec": bad}}, capsys=capsys)
    assert reason == ("ClientError: Label [5.0] of record 1 of 't.rec' in channel 'train' is not a class index in "
                      "0..1 (num_classes=2) (caused by ValueError)")
    reason = failure_of(tmp_path / "b", SMALL, {"train": {"t.rec": two_class_rec(4)}}, capsys=capsys)
    assert reason.startswith("ClientError: Channel 'validation' is required but was not provided")


def test_image_content_type_needs_a_list(tmp_path, capsys):
    files = {"a.jpg": encode_image(tiny_images([0], 16)[0])}
    reason = failure_of(tmp_path, SMALL, {"train": files, "validation": files},
                        {"train": "application/x-image", "validation": "application/x-image"}, capsys=capsys)
    assert reason.startswith("ClientError: Channel 'train_lst' is required with image content types")
    reason = failure_of(tmp_path / "csv", SMALL, {"train": files, "validation": files},
                        {"train": "text/csv", "validation": "text/csv"}, capsys=capsys)
    assert reason.startswith("ClientError: Content type 'text/csv' of channel 'train' is not supported")


def test_pretrained_weights_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SAGEMAKER_IMAGE_CLASSIFICATION_WEIGHTS_URL", "http://127.0.0.1:9/")
    channels = {"train": {"t.rec": two_class_rec(4, size=32)}, "validation": {"v.rec": two_class_rec(4, size=32)}}
    reason = failure_of(tmp_path, {**SMALL, "num_layers": "18", "use_pretrained_model": "1", "image_shape": "3,32,32"},
                        channels, capsys=capsys)
    assert reason.startswith(
        "ClientError: use_pretrained_model=1 needs the ImageNet weights for ResNet-18 (resnet18-f37072fd.pth), which "
        f"are not in the torch weights cache ({tmp_path / 'torch' / 'hub' / 'checkpoints'}) and could not be "
        "downloaded from http://127.0.0.1:9/resnet18-f37072fd.pth")
    assert reason.endswith("(caused by FileNotFoundError)")


def test_entry_point_in_a_subprocess(tmp_path):
    """``python -m sagemaker_algorithms train`` with SAGEMAKER_ALGORITHM=image-classification."""
    paths = make_job(tmp_path, {**SMALL, "epochs": "1", "num_layers": "18", "image_shape": "3,20,20"},
                     {"train": {"t.rec": two_class_rec(32)}, "validation": {"v.rec": two_class_rec(16)}}, RECORDIO)
    result = run_entrypoint("train", tmp_path, algorithm="image-classification", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (paths.model_dir / "image-classification-0001.params").is_file()
    assert re.search(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d INFO \d+\] Epoch\[0\] Train-accuracy=\d\.\d{6}$",
                     result.stdout, re.M)


# --------------------------------------------------------------------------------------------
# Pieces


def test_learning_rate_schedule_counts_updates():
    hp = SCHEMA.validate({"num_classes": "2", "num_training_samples": "100", "mini_batch_size": "10",
                          "learning_rate": "0.1", "lr_scheduler_step": "2,4", "lr_scheduler_factor": "0.5"})
    rates = [learning_rate_at(update, hp) for update in (0, 20, 21, 40, 41, 1000)]
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert learning_rate_at(500, {**hp, "lr_scheduler_step": None}) == 0.1


def test_accuracy_metrics():
    metric = Accuracy(False, 2, torch.device("cpu"))
    logits = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [0.0, 5.0, 1.0]])
    metric.update(logits, torch.tensor([0, 1, 0]))
    assert metric.values() == pytest.approx({"accuracy": 1 / 3, "top_k_accuracy_2": 2 / 3})
    multi = Accuracy(True, None, torch.device("cpu"))
    multi.update(torch.tensor([[1.0, -1.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert multi.values() == pytest.approx({"accuracy": 0.75})
