"""Squared Euclidean distances with the BLAS identity ``|x|^2 - 2 x.c + |c|^2``, in row blocks.

Shared by k-means (assignment, metrics, serving) and later k-NN. Blocks keep the ``(rows, centers)``
scratch matrix under ``max_block_elements`` so memory stays bounded for any input size. Results are
clipped at 0 (the identity can go slightly negative in floating point).
"""

from __future__ import annotations

import numpy as np

DEFAULT_BLOCK_ELEMENTS = 1 << 22  # 16 MiB of float32 scratch per block


def squared_norms(X: np.ndarray) -> np.ndarray:
    """``|x_i|^2`` for each row, in the array's own dtype."""
    return np.einsum("ij,ij->i", X, X)


def nearest_centers(X: np.ndarray, centers: np.ndarray, *, x_sq_norms: np.ndarray | None = None,
                    center_sq_norms: np.ndarray | None = None,
                    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest center of each row and the squared distance to it.

    Works in the common dtype of ``X`` and ``centers`` (pass float64 arrays for exact metrics).
    """
    count = X.shape[0]
    labels = np.empty(count, dtype=np.int64)
    distances = np.empty(count, dtype=np.result_type(X.dtype, centers.dtype))
    if count == 0:
        return labels, distances
    if center_sq_norms is None:
        center_sq_norms = squared_norms(centers)
    block = max(1, max_block_elements // max(1, centers.shape[0]))
    centers_t = centers.T
    for start in range(0, count, block):
        rows = X[start:start + block]
        scores = rows @ centers_t
        scores *= -2.0
        scores += center_sq_norms
        best = scores.argmin(axis=1)
        labels[start:start + rows.shape[0]] = best
        chosen = scores[np.arange(rows.shape[0]), best]
        chosen += squared_norms(rows) if x_sq_norms is None else x_sq_norms[start:start + rows.shape[0]]
        distances[start:start + rows.shape[0]] = chosen
    np.maximum(distances, 0, out=distances)
    return labels, distances


def squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """The full ``(n, k)`` matrix of squared distances (for small inputs)."""
    scores = X @ centers.T
    scores *= -2.0
    scores += squared_norms(centers)
    scores += squared_norms(X)[:, None]
    np.maximum(scores, 0, out=scores)
    return scores
