"""SageMaker's k-NN as a small scikit-learn-style estimator.

``fit`` streams (features, labels) batches through a :class:`~.sampling.Reservoir` of
``sample_size`` rows, optionally reduces the dimension (:mod:`.reduction`) and builds an
:class:`~.search.ExactIndex` over the sample. Predictions use the ``k`` nearest sampled rows:

* ``classifier``: the most frequent label among the k neighbours. A tie between labels goes to the
  **smallest** label, as in scikit-learn's ``KNeighborsClassifier`` (and ``argmax`` over label
  counts); ``tie_break="nearest"`` instead picks, among the tied labels, the one of the nearest
  neighbour. SageMaker does not document its rule.
* ``regressor``: the mean of the k neighbours' labels.

Fitted attributes: ``samples_`` (float32, reduced when a reduction is set), ``labels_`` (float32),
``reducer_`` (or None), ``index_``, ``rows_seen_``, ``feature_dim_``.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .reduction import create_reducer
from .sampling import Reservoir
from .search import ExactIndex

PREDICTOR_TYPES = ("classifier", "regressor")
TIE_BREAKS = ("lowest", "nearest")


class KNearestNeighbors:
    def __init__(self, k: int, *, sample_size: int, predictor_type: str = "classifier",
                 dimension_reduction_type: str | None = None, dimension_reduction_target: int | None = None,
                 index_metric: str = "L2", index_type: str = "faiss.Flat", tie_break: str = "lowest",
                 random_state: int | None = None) -> None:
        self.k = k
        self.sample_size = sample_size
        self.predictor_type = predictor_type
        self.dimension_reduction_type = dimension_reduction_type
        self.dimension_reduction_target = dimension_reduction_target
        self.index_metric = index_metric
        self.index_type = index_type
        self.tie_break = tie_break
        self.random_state = random_state

    # ---------------------------------------------------------------------------------------
    # fitting

    def fit(self, X: np.ndarray, y: np.ndarray) -> "KNearestNeighbors":
        return self.fit_batches([(X, y)])

    def fit_batches(self, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> "KNearestNeighbors":
        rng = np.random.default_rng(self.random_state)
        reservoir = self.new_reservoir(rng)
        for features, labels in batches:
            reservoir.add(features, labels)
        return self.fit_reservoir(reservoir, rng)

    def new_reservoir(self, rng: np.random.Generator) -> Reservoir:
        return Reservoir(self.sample_size, rng)

    def fit_reservoir(self, reservoir: Reservoir, rng: np.random.Generator) -> "KNearestNeighbors":
        """Build the model from a (possibly merged) reservoir."""
        features, labels = reservoir.sample()
        return self.fit_sample(features, labels, rng, rows_seen=reservoir.rows_seen)

    def fit_sample(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator | None = None, *,
                   rows_seen: int | None = None) -> "KNearestNeighbors":
        """Reduce and index an already drawn sample."""
        self._check_params()
        features = np.asarray(features, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.float32).reshape(-1)
        if features.ndim != 2 or features.shape[0] != labels.shape[0]:
            raise ValueError("expected (n, d) features and n labels")
        if features.shape[0] < self.k:
            raise ValueError(f"k ({self.k}) is larger than the number of sampled records ({features.shape[0]})")
        rng = rng if rng is not None else np.random.default_rng(self.random_state)
        self.feature_dim_ = int(features.shape[1])
        self.reducer_ = None
        if self.dimension_reduction_type:
            self.reducer_ = create_reducer(self.dimension_reduction_type, self.feature_dim_,
                                           int(self.dimension_reduction_target), rng)
            features = self.reducer_.transform(features)
        self.samples_ = np.ascontiguousarray(features, dtype=np.float32)
        self.labels_ = labels
        self.index_ = ExactIndex(self.samples_, self.index_metric)
        self.rows_seen_ = int(features.shape[0] if rows_seen is None else rows_seen)
        return self

    def _check_params(self) -> None:
        if self.predictor_type not in PREDICTOR_TYPES:
            raise ValueError(f"predictor_type must be one of {PREDICTOR_TYPES}")
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}")
        if self.k < 1:
            raise ValueError("k must be positive")

    # ---------------------------------------------------------------------------------------
    # inference

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Query rows in the indexed space (reduced when a reduction is set)."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.feature_dim_:
            raise ValueError(f"expected rows of {self.feature_dim_} features, got shape {X.shape}")
        return X if self.reducer_ is None else self.reducer_.transform(X)

    def kneighbors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distances as reported, sample indices) of the k nearest samples, best first."""
        indices, scores = self.index_.search(self.transform(X), self.k)
        return self.index_.public_distances(scores), indices

    def predict(self, X: np.ndarray) -> np.ndarray:
        indices, _ = self.index_.search(self.transform(X), self.k, return_scores=False)
        return self.predict_from_neighbors(self.labels_[indices])

    def predict_verbose(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(predicted labels, neighbour labels, neighbour distances), neighbours best first."""
        distances, indices = self.kneighbors(X)
        labels = self.labels_[indices]
        return self.predict_from_neighbors(labels), labels, distances

    def predict_from_neighbors(self, neighbor_labels: np.ndarray) -> np.ndarray:
        if self.predictor_type == "regressor":
            return neighbor_labels.astype(np.float64).mean(axis=1).astype(np.float32)
        return majority_vote(neighbor_labels, self.tie_break)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """SageMaker's test metric: accuracy (classifier) or mean squared error (regressor)."""
        return evaluate(self.predictor_type, self.predict(X), y)


def evaluate(predictor_type: str, predicted: np.ndarray, truth: np.ndarray) -> float:
    truth = np.asarray(truth, dtype=np.float32).reshape(-1)
    predicted = np.asarray(predicted, dtype=np.float32).reshape(-1)
    if predictor_type == "regressor":
        return float(np.mean((predicted.astype(np.float64) - truth.astype(np.float64)) ** 2))
    return float(np.mean(predicted == truth))


def majority_vote(labels: np.ndarray, tie_break: str = "lowest") -> np.ndarray:
    """The most frequent value of each row of ``labels`` (``(n, k)``, neighbours nearest first).

    Vectorised: each row is sorted, equal runs are counted with one ``bincount``, and the winner
    is the first run with the top count (``lowest``) or the first neighbour whose label has the top
    count (``nearest``).
    """
    labels = np.asarray(labels)
    rows, k = labels.shape
    if rows == 0:
        return np.empty(0, np.float32)
    order = np.argsort(labels, axis=1, kind="stable")
    ordered = np.take_along_axis(labels, order, 1)
    starts = np.ones((rows, k), bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run = np.cumsum(starts, axis=1) - 1
    run_counts = np.bincount((run + (np.arange(rows) * k)[:, None]).ravel(), minlength=rows * k).reshape(rows, k)
    top = run_counts.max(axis=1)
    count_sorted = np.take_along_axis(run_counts, run, 1)
    if tie_break == "nearest":
        count_original = np.empty_like(count_sorted)
        np.put_along_axis(count_original, order, count_sorted, 1)
        position = np.argmax(count_original == top[:, None], axis=1)
        return labels[np.arange(rows), position].astype(np.float32)
    position = np.argmax(count_sorted == top[:, None], axis=1)
    return ordered[np.arange(rows), position].astype(np.float32)
