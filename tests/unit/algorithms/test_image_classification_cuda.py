"""Image classification on a GPU: the CUDA code paths, run wherever CUDA is present (skipped elsewhere;
the CPU tests cover everything else). Mixed precision for float16, the model served on the GPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

from sagemaker_algorithms.common import contract  # noqa: E402
from sagemaker_algorithms.common.training import run_training  # noqa: E402
from sagemaker_algorithms.image_classification.images import encode_image  # noqa: E402
from sagemaker_algorithms.image_classification.model import load_classifier  # noqa: E402
from sagemaker_algorithms.image_classification.training import ALGORITHM, select_device  # noqa: E402

from .helpers import make_job  # noqa: E402
from .test_image_classification_records import tiny_images, two_class_rec  # noqa: E402
from .test_image_classification_train import RECORDIO, SMALL, VALIDATION_ACCURACY  # noqa: E402


def test_the_best_device_is_the_gpu():
    assert select_device().type == "cuda"


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_trains_and_serves_on_the_gpu(tmp_path, capsys, precision):
    paths = make_job(tmp_path, {**SMALL, "epochs": "3", "precision_dtype": precision},
                     {"train": {"train.rec": two_class_rec(64)}, "validation": {"val.rec": two_class_rec(32, seed=1)}},
                     RECORDIO)
    assert run_training(ALGORITHM, paths) == 0, contract.read_failure(paths)
    out = capsys.readouterr().out
    assert "Training on GPU " in out
    assert max(float(value) for _, value in VALIDATION_ACCURACY.findall(out)) >= 0.9, out

    classifier = load_classifier(paths.model_dir)
    assert classifier.device.type == "cuda"
    bright = tiny_images([1], size=16, seed=5)[0]
    status, _, body = classifier.handle_invocation(encode_image(bright, "JPEG"), "image/jpeg", "application/json")
    probabilities = json.loads(body)
    assert status == 200
    assert len(probabilities) == 2 and np.isclose(sum(probabilities), 1.0, atol=1e-4)
