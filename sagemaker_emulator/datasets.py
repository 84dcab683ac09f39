"""The MNIST digits shipped with the emulator (see data/mnist/README.md for their source and licence).

Used by the examples, the benchmarks and the public sample-data buckets.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

MNIST_DIR = Path(__file__).parent / "data" / "mnist"


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[0:4], "big")
    dimensions = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The classic split of the SageMaker notebooks' ``mnist.pkl.gz``: (train, valid, test), each
    (pixels float32 in [0, 1] of shape (n, 784), labels int64); 50,000 / 10,000 / 10,000 rows."""
    images = _read_idx(MNIST_DIR / "train-images.idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    labels = _read_idx(MNIST_DIR / "train-labels.idx1-ubyte.gz").astype(np.int64)
    test_images = _read_idx(MNIST_DIR / "t10k-images.idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    test_labels = _read_idx(MNIST_DIR / "t10k-labels.idx1-ubyte.gz").astype(np.int64)
    return (images[:50000], labels[:50000]), (images[50000:], labels[50000:]), (test_images, test_labels)
