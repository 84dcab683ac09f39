"""The k-NN model artifact and the ``serve`` side.

Artifact: ``model.tar.gz`` holds one file, ``model_algo-1`` (SageMaker does not document the real
content, a FAISS index; ours is our own). It is a ZIP archive (stored, not compressed) of two members:

* ``knn-params.json``: ``{"format": "sagemaker-emulator-knn", "version": 1, "predictor_type", "k",
  "feature_dim", "index_type", "index_metric", "dimension_reduction_type",
  "dimension_reduction_target", "fjlt_padded_dim", "sample_size", "sampled_records",
  "records_seen"}``;
* ``knn-index.params``: an MXNet NDArray-list file (:mod:`..common.ndarray`, loadable with
  ``mx.nd.load`` as a dict) with named arrays ``samples`` (float32 ``(n, d')``, already reduced),
  ``labels`` (float32 ``(n,)``) and, with a reduction, ``projection`` (float32 ``(d, t)``, sign) or
  ``fjlt_signs`` (float32 ``(d,)``) and ``fjlt_rows`` (int64 ``(t,)``).

Serving (:class:`KNNModel`): each input row gets ``predicted_label`` (a float); with the Accept
parameter ``verbose=true`` (``application/json; verbose=true``, also for JSON Lines and
RecordIO-protobuf) it also gets ``labels`` and ``distances`` of the k neighbours, best first:
Euclidean distances ascending for ``L2``; for ``INNER_PRODUCT`` and ``COSINE`` the similarity
(inner product, cosine) descending. Responses: JSON (default), JSON Lines, RecordIO-protobuf (float32
tensors in the ``label`` map); k-NN documents no CSV response.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np

from ..common import contract, ndarray
from ..common.content_types import JSON, JSONLINES, RECORDIO_PROTOBUF, MediaType, is_true
from ..common.errors import ClientError, DataError
from .estimator import KNearestNeighbors
from .reduction import REDUCERS
from .search import ExactIndex

logger = logging.getLogger("knn")

FORMAT = "sagemaker-emulator-knn"
FORMAT_VERSION = 1
PARAMS_MEMBER = "knn-params.json"
ARRAYS_MEMBER = "knn-index.params"
MODEL_PREFIX = "model_algo-"
PRIMARY_MODEL = contract.model_file_name("algo-1")


# ============================================================================================
# the artifact


def dumps_model(estimator: KNearestNeighbors, *, sample_size: int | None = None) -> bytes:
    reducer = estimator.reducer_
    params = {
        "format": FORMAT, "version": FORMAT_VERSION,
        "predictor_type": estimator.predictor_type, "k": int(estimator.k),
        "feature_dim": int(estimator.feature_dim_),
        "index_type": estimator.index_type, "index_metric": estimator.index_metric,
        "dimension_reduction_type": reducer.kind if reducer is not None else None,
        "dimension_reduction_target": int(reducer.output_dim) if reducer is not None else None,
        "fjlt_padded_dim": int(reducer.padded_dim) if reducer is not None and reducer.kind == "fjlt" else None,
        "sample_size": int(sample_size if sample_size is not None else estimator.sample_size),
        "sampled_records": int(estimator.samples_.shape[0]),
        "records_seen": int(estimator.rows_seen_),
    }
    arrays = {"samples": estimator.samples_, "labels": estimator.labels_}
    if reducer is not None:
        arrays.update(reducer.arrays())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        # a fixed member time: the same model is the same bytes (writestr would stamp the current time)
        archive.writestr(_member(PARAMS_MEMBER), json.dumps(params, indent=1, sort_keys=True))
        archive.writestr(_member(ARRAYS_MEMBER), ndarray.dumps(arrays))
    return buffer.getvalue()


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    return info


def save_model(path: Path, estimator: KNearestNeighbors, **kwargs) -> None:
    data = dumps_model(estimator, **kwargs)
    temporary = Path(f"{path}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def loads_model(data: bytes) -> KNearestNeighbors:
    """Rebuild a fitted estimator from ``model_algo-1`` bytes; :class:`DataError` when unreadable."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            params = json.loads(archive.read(PARAMS_MEMBER))
            arrays_blob = archive.read(ARRAYS_MEMBER)
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise DataError(f"not a k-NN model file ({error})") from None
    if params.get("format") != FORMAT or int(params.get("version", 0)) > FORMAT_VERSION:
        raise DataError(f"unsupported k-NN model format {params.get('format')!r} version {params.get('version')!r}")
    values, names = ndarray.loads(arrays_blob)
    arrays = dict(zip(names, values))
    if "samples" not in arrays or "labels" not in arrays:
        raise DataError("the k-NN model holds no samples or labels")
    estimator = KNearestNeighbors(
        int(params["k"]), sample_size=int(params["sample_size"]), predictor_type=params["predictor_type"],
        dimension_reduction_type=params.get("dimension_reduction_type"),
        dimension_reduction_target=params.get("dimension_reduction_target"),
        index_metric=params["index_metric"], index_type=params["index_type"])
    estimator.feature_dim_ = int(params["feature_dim"])
    kind = params.get("dimension_reduction_type")
    estimator.reducer_ = REDUCERS[kind].from_arrays(arrays, params) if kind else None
    estimator.samples_ = np.ascontiguousarray(arrays["samples"], dtype=np.float32)
    estimator.labels_ = np.ascontiguousarray(arrays["labels"], dtype=np.float32).reshape(-1)
    estimator.rows_seen_ = int(params.get("records_seen", estimator.samples_.shape[0]))
    if estimator.samples_.shape[0] != estimator.labels_.shape[0] or estimator.samples_.shape[0] < estimator.k:
        raise DataError("the k-NN model's samples, labels and k do not fit together")
    estimator.index_ = ExactIndex(estimator.samples_, estimator.index_metric)
    return estimator



# ============================================================================================
# serving


class KNNModel:
    response_types = (JSON, JSONLINES, RECORDIO_PROTOBUF)

    def __init__(self, estimator: KNearestNeighbors) -> None:
        self.estimator = estimator
        self.feature_dim = int(estimator.feature_dim_)

    def predict(self, features: np.ndarray, accept: MediaType | None = None) -> dict[str, np.ndarray]:
        X = np.asarray(features, dtype=np.float32)
        if not np.isfinite(X).all():
            raise DataError("records contain NaN or infinite values")
        if accept is not None and is_true(accept.param("verbose")):
            predicted, labels, distances = self.estimator.predict_verbose(X)
            return {"predicted_label": predicted, "distances": distances.astype(np.float32),
                    "labels": labels.astype(np.float32)}
        return {"predicted_label": self.estimator.predict(X)}


def load_model(paths: contract.ContainerPaths) -> KNNModel:
    path = contract.find_model_file(paths.model_dir)
    if path is None:
        raise ClientError(f"No k-NN model ({PRIMARY_MODEL}) was found in {paths.model_dir}")
    try:
        estimator = loads_model(path.read_bytes())
    except DataError as error:
        raise ClientError(f"Unable to load the k-NN model: {error}") from error
    logger.info("Loaded k-NN %s model: k=%d, %d samples of %d features (indexed as %d), metric %s",
                estimator.predictor_type, estimator.k, estimator.samples_.shape[0], estimator.feature_dim_,
                estimator.samples_.shape[1], estimator.index_metric)
    return KNNModel(estimator)
