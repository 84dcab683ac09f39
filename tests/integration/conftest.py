from __future__ import annotations

import io
import os

import numpy as np
import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

KMEANS_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def recordio_protobuf(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """RecordIO-protobuf written by the SageMaker SDK's own writer, as notebooks produce it."""
    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, features, labels)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """2,000 MNIST training digits (pixels in [0, 1]) and their labels: quick, but real."""
    from sagemaker_emulator.datasets import load_mnist

    (train_x, train_y), _, _ = load_mnist()
    return train_x[:2000], train_y[:2000]
