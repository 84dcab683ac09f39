"""Shared fixtures for the built-in algorithm tests: small real data and container workspaces."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")



@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (1797 x 64), features scaled to [0, 1] as float32."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


@pytest.fixture(scope="session")
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Five well-separated Gaussian blobs in 6 dimensions: (X, labels, true centers)."""
    rng = np.random.default_rng(7)
    centers = rng.uniform(-50, 50, size=(5, 6))
    labels = rng.integers(0, 5, size=3000)
    X = centers[labels] + rng.normal(scale=1.0, size=(3000, 6))
    return X.astype(np.float32), labels, centers
