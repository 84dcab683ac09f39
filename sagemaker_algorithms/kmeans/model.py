"""k-means ``serve``: load ``model_algo-1`` (ours or one trained on SageMaker) and assign clusters.

Each input row gets ``closest_cluster`` (0-based index, emitted as a float as real endpoints do) and
``distance_to_cluster`` (Euclidean, not squared). Responses: ``application/json`` (default),
``application/jsonlines``, ``application/x-recordio-protobuf`` (one Record per row, float32 tensors
in the ``label`` map) and ``text/csv`` (``closest_cluster,distance_to_cluster`` per line, as
documented for k-means).
"""

from __future__ import annotations

import io
import logging
import tarfile
from pathlib import Path

import numpy as np

from ..common import contract, ndarray
from ..common.content_types import CSV, JSON, JSONLINES, RECORDIO_PROTOBUF, MediaType
from ..common.distances import nearest_centers, squared_norms
from ..common.errors import ClientError, DataError

logger = logging.getLogger("kmeans")

MODEL_PREFIX = "model_algo-"
PRIMARY_MODEL = contract.model_file_name("algo-1")


class KMeansModel:
    response_types = (JSON, JSONLINES, RECORDIO_PROTOBUF, CSV)

    def __init__(self, centers: np.ndarray) -> None:
        centers = np.asarray(centers)
        if centers.ndim != 2 or centers.shape[0] == 0 or centers.shape[1] == 0:
            raise ClientError(f"The k-means model must hold one (k, feature_dim) array, got shape {centers.shape}")
        self.centers = np.ascontiguousarray(centers, dtype=np.float64)
        self.center_norms = squared_norms(self.centers)
        self.feature_dim = int(centers.shape[1])

    @property
    def k(self) -> int:
        return int(self.centers.shape[0])

    def predict(self, features: np.ndarray, accept: MediaType | None = None) -> dict[str, np.ndarray]:
        X = np.asarray(features, dtype=np.float64)
        if not np.isfinite(X).all():
            raise DataError("records contain NaN or infinite values")
        labels, distances = nearest_centers(X, self.centers, center_sq_norms=self.center_norms)
        return {"closest_cluster": labels.astype(np.float32),
                "distance_to_cluster": np.sqrt(distances).astype(np.float32)}



def load_centers(model_dir: Path) -> np.ndarray:
    path = contract.find_model_file(model_dir)
    if path is not None:
        arrays, _ = ndarray.load(path)
    else:
        arrays = _load_from_archive(model_dir / "model.tar.gz")
    if not arrays:
        raise ClientError("The k-means model file holds no arrays")
    return arrays[0]


def _load_from_archive(archive: Path) -> list[np.ndarray]:
    """Fallback when the platform left ``model.tar.gz`` unextracted."""
    if not archive.is_file():
        raise ClientError(f"No k-means model ({PRIMARY_MODEL}) was found in {archive.parent}")
    with tarfile.open(archive) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()
                          and Path(m.name).name.startswith(MODEL_PREFIX)), key=lambda m: m.name)
        if not members:
            raise ClientError(f"{archive.name} holds no {PRIMARY_MODEL}")
        data = tar.extractfile(members[0]).read()  # type: ignore[union-attr]
    arrays, _ = ndarray.loads(io.BytesIO(data).getvalue())
    return arrays


def load_model(paths: contract.ContainerPaths) -> KMeansModel:
    try:
        model = KMeansModel(load_centers(paths.model_dir))
    except DataError as error:
        raise ClientError(f"Unable to load the k-means model: {error}") from error
    logger.info("Loaded k-means model with k=%d centers of %d features", model.k, model.feature_dim)
    return model
