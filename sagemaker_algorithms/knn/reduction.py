"""Dimension reduction before indexing (``dimension_reduction_type``), applied to samples and queries.

Both maps are linear, random, fixed at training time (stored in the model) and preserve squared
Euclidean distances in expectation (Johnson-Lindenstrauss), so a ``target`` of a few hundred keeps
neighbourhoods roughly intact.

* ``sign`` (random sign projection): ``x -> x R`` with ``R`` a ``(d, t)`` matrix of independent
  ``+-1/sqrt(t)`` entries.
* ``fjlt`` (fast Johnson-Lindenstrauss transform, in its subsampled randomised Hadamard form):
  flip the sign of each coordinate at random (``D``), zero-pad to the next power of two ``p``,
  apply the Walsh-Hadamard transform ``H`` (``p log p`` additions, no matrix), keep ``t`` of the
  ``p`` coordinates chosen uniformly without replacement, and scale by ``1/sqrt(t)``:
  ``x -> (1/sqrt(t)) S H D x``. ``H`` is unnormalised, so this equals ``sqrt(p/t) S (H/sqrt(p)) D x``
  with the orthonormal Hadamard matrix. (Ailon and Chazelle's original follows ``H D`` with a sparse
  Gaussian matrix; subsampling is the common, simpler variant.)

Transforms run in float64 on row blocks (bounded scratch) and return float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK_ELEMENTS = 1 << 22  # float64 scratch per block (32 MiB)


@dataclass
class SignProjection:
    matrix: np.ndarray  # (d, t) float32, entries +-1/sqrt(t)

    kind = "sign"

    @classmethod
    def create(cls, dim: int, target: int, rng: np.random.Generator) -> "SignProjection":
        signs = rng.integers(0, 2, size=(dim, target), dtype=np.int8) * 2 - 1
        return cls((signs / np.sqrt(target)).astype(np.float32))

    @property
    def input_dim(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def output_dim(self) -> int:
        return int(self.matrix.shape[1])

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = _check(X, self.input_dim)
        out = np.empty((X.shape[0], self.output_dim), np.float32)
        matrix = self.matrix.astype(np.float64)
        step = _rows_per_block(max(self.input_dim, self.output_dim))
        for start in range(0, X.shape[0], step):
            out[start:start + step] = X[start:start + step].astype(np.float64) @ matrix
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {"projection": self.matrix}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], params: dict) -> "SignProjection":
        return cls(np.ascontiguousarray(arrays["projection"], dtype=np.float32))


@dataclass
class FastJLTransform:
    signs: np.ndarray  # (d,) float32 of +-1
    rows: np.ndarray  # (t,) int64, sorted indices into the padded Hadamard output
    padded_dim: int

    kind = "fjlt"

    @classmethod
    def create(cls, dim: int, target: int, rng: np.random.Generator) -> "FastJLTransform":
        padded = 1 << max(0, int(dim - 1).bit_length())
        signs = (rng.integers(0, 2, size=dim, dtype=np.int8) * 2 - 1).astype(np.float32)
        rows = np.sort(rng.choice(padded, size=target, replace=False)).astype(np.int64)
        return cls(signs, rows, padded)

    @property
    def input_dim(self) -> int:
        return int(self.signs.shape[0])

    @property
    def output_dim(self) -> int:
        return int(self.rows.shape[0])

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = _check(X, self.input_dim)
        out = np.empty((X.shape[0], self.output_dim), np.float32)
        scale = 1.0 / np.sqrt(self.output_dim)
        signs = self.signs.astype(np.float64)
        step = _rows_per_block(self.padded_dim)
        for start in range(0, X.shape[0], step):
            chunk = X[start:start + step]
            padded = np.zeros((chunk.shape[0], self.padded_dim), np.float64)
            padded[:, :self.input_dim] = chunk * signs
            transformed = walsh_hadamard(padded)
            out[start:start + step] = transformed[:, self.rows] * scale
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {"fjlt_signs": self.signs, "fjlt_rows": self.rows}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], params: dict) -> "FastJLTransform":
        return cls(np.asarray(arrays["fjlt_signs"], dtype=np.float32), np.asarray(arrays["fjlt_rows"], dtype=np.int64),
                   int(params["fjlt_padded_dim"]))


REDUCERS = {"sign": SignProjection, "fjlt": FastJLTransform}


def create_reducer(kind: str, dim: int, target: int, rng: np.random.Generator):
    if kind not in REDUCERS:
        raise ValueError(f"unknown dimension reduction {kind!r}")
    if not 0 < target < dim:
        raise ValueError(f"the target dimension must be in 1..{dim - 1}, got {target}")
    return REDUCERS[kind].create(dim, target, rng)


def walsh_hadamard(X: np.ndarray) -> np.ndarray:
    """The unnormalised fast Walsh-Hadamard transform of each row (row length a power of two).

    ``log2(p)`` butterfly passes, each a vectorised ``(a + b, a - b)`` over pairs ``h`` apart; the
    result equals ``X @ H`` with ``H`` the Sylvester-ordered Hadamard matrix.
    """
    rows, size = X.shape
    if size & (size - 1):
        raise ValueError("the row length must be a power of two")
    data = np.array(X, dtype=np.float64, copy=True)
    half = 1
    while half < size:
        view = data.reshape(rows, size // (2 * half), 2, half)
        first = view[:, :, 0, :].copy()
        second = view[:, :, 1, :]
        view[:, :, 0, :] += second
        second -= first
        np.negative(second, out=second)
        half *= 2
    return data


def _check(X: np.ndarray, dim: int) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != dim:
        raise ValueError(f"expected rows of {dim} features, got shape {X.shape}")
    return X


def _rows_per_block(width: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, width))
