"""Dimension reduction: shapes, the Walsh-Hadamard transform, rough distance preservation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import hadamard

from sagemaker_algorithms.knn.reduction import FastJLTransform, SignProjection, create_reducer, walsh_hadamard


def pairwise_sq(X: np.ndarray) -> np.ndarray:
    X = X.astype(np.float64)
    norms = (X * X).sum(1)
    return np.maximum(norms[:, None] - 2 * X @ X.T + norms[None, :], 0)


@pytest.mark.parametrize("size", [1, 2, 8, 64])
def test_walsh_hadamard_matches_the_matrix(size):
    X = np.random.default_rng(0).normal(size=(5, size))
    assert np.allclose(walsh_hadamard(X), X @ hadamard(size))


def test_walsh_hadamard_needs_a_power_of_two():
    with pytest.raises(ValueError):
        walsh_hadamard(np.zeros((2, 6)))


@pytest.mark.parametrize("kind", ["sign", "fjlt"])
def test_shapes_dtype_and_determinism(kind):
    X = np.random.default_rng(1).normal(size=(40, 100)).astype(np.float32)
    reducer = create_reducer(kind, 100, 16, np.random.default_rng(7))
    out = reducer.transform(X)
    assert out.shape == (40, 16) and out.dtype == np.float32
    again = create_reducer(kind, 100, 16, np.random.default_rng(7)).transform(X)
    assert np.array_equal(out, again)
    assert reducer.input_dim == 100 and reducer.output_dim == 16


def test_fjlt_pads_to_a_power_of_two():
    reducer = FastJLTransform.create(100, 20, np.random.default_rng(0))
    assert reducer.padded_dim == 128 and reducer.rows.size == 20 and np.unique(reducer.rows).size == 20
    assert set(np.unique(reducer.signs)) == {-1.0, 1.0}


def test_sign_projection_entries():
    reducer = SignProjection.create(30, 9, np.random.default_rng(0))
    assert np.allclose(np.abs(reducer.matrix), 1 / 3)


@pytest.mark.parametrize("kind", ["sign", "fjlt"])
def test_distances_are_roughly_preserved(kind):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 500)).astype(np.float32)
    reducer = create_reducer(kind, 500, 256, rng)
    before, after = pairwise_sq(X), pairwise_sq(reducer.transform(X))
    off_diagonal = ~np.eye(60, dtype=bool)
    ratio = after[off_diagonal] / before[off_diagonal]
    assert abs(float(np.median(ratio)) - 1) < 0.05
    assert ratio.min() > 0.6 and ratio.max() < 1.4


@pytest.mark.parametrize("kind", ["sign", "fjlt"])
def test_linear(kind):
    rng = np.random.default_rng(3)
    reducer = create_reducer(kind, 20, 5, rng)
    a, b = rng.normal(size=(1, 20)), rng.normal(size=(1, 20))
    assert np.allclose(reducer.transform(a + 2 * b), reducer.transform(a) + 2 * reducer.transform(b), atol=1e-5)


def test_invalid_targets():
    with pytest.raises(ValueError):
        create_reducer("sign", 10, 10, np.random.default_rng(0))
    with pytest.raises(ValueError):
        create_reducer("pca", 10, 3, np.random.default_rng(0))
