"""SageMaker's web-scale k-means as a small scikit-learn-style estimator.

The algorithm (SageMaker developer guide, "How K-Means Clustering Works"):

1. **Initialise** ``K = k * extra_center_factor`` centers from the first mini-batch, either as a
   random sample of its rows (``init_method=random``) or by k-means++ on it.
2. **Stream** the data in mini-batches for ``epochs`` passes. Each point joins its nearest center;
   a center that receives ``n`` new points with mean ``m`` moves to ``(1 - p) c + p m`` with
   ``p = n / (w + n)``, where ``w`` is its (possibly decayed) weight so far, which then grows by
   ``n``. With ``half_life_time_size = h > 0`` all weights are multiplied by ``0.5 ** (b / h)``
   before a batch of ``b`` points, so a point's weight halves after ``h`` more points are seen.
   Each center is therefore the weighted mean of the points it absorbed.
3. **Shrink** the ``K`` weighted centers to ``k`` with Lloyd's algorithm (weighted k-means++ or
   random initialisation, ``local_lloyd_max_iter`` iterations, stopping when the objective improves
   by less than ``local_lloyd_tol`` relatively), best of ``local_lloyd_num_trials`` attempts.

Alongside each center we keep the (decayed) sum of squared norms of the points it absorbed, so the
within-center scatter is known exactly: the sum of squared distances of those points to any final
center ``z`` is ``w |c - z|^2 + (s - w |c|^2)``. The shrink objective therefore is the mean squared
distance of the training points (under their streaming assignment) to the final centers; that is
the value reported as ``train msd`` (in SageMaker's logs ``train msd`` equals the best attempt's
"mean square distance" as well).

Hot loops are vectorised private functions (blocked BLAS distances, sort-and-reduce cluster sums);
one seeded ``np.random.Generator`` drives all randomness. :class:`MicroClusters` is the seam for
multi-host training: each host streams its shard, the states are concatenated with
:meth:`MicroClusters.combine`, and one host shrinks the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..common.distances import nearest_centers, squared_norms

logger = logging.getLogger(__name__)

AUTO_EXTRA_CENTER_FACTOR = 10
AUTO_LOCAL_LLOYD_NUM_TRIALS = 10


@dataclass
class MicroClusters:
    """The streaming stage's state: ``K`` centers, their weights and absorbed squared norms."""

    centers: np.ndarray  # (K, d) float64
    weights: np.ndarray  # (K,) float64
    sq_norm_sums: np.ndarray  # (K,) float64
    records_seen: int = 0

    @classmethod
    def empty_like(cls, centers: np.ndarray) -> "MicroClusters":
        centers = np.asarray(centers, dtype=np.float64)
        return cls(centers.copy(), np.zeros(len(centers)), np.zeros(len(centers)))

    @classmethod
    def combine(cls, parts: Sequence["MicroClusters"]) -> "MicroClusters":
        """Concatenate the states of several workers (multi-host training)."""
        return cls(np.concatenate([p.centers for p in parts]), np.concatenate([p.weights for p in parts]),
                   np.concatenate([p.sq_norm_sums for p in parts]), sum(p.records_seen for p in parts))

    @property
    def within_scatter(self) -> np.ndarray:
        """Sum of squared distances of each center's absorbed points to the center itself."""
        return np.maximum(self.sq_norm_sums - self.weights * squared_norms(self.centers), 0.0)


class WebScaleKMeans:
    """k-means as SageMaker's built-in algorithm runs it (see the module docstring).

    Fitted attributes: ``cluster_centers_`` (float32 ``(k, d)``), ``micro_clusters_``,
    ``train_msd_`` (best shrink objective), ``trial_msds_``, ``n_centers_`` (``K``), ``n_iter_``.
    """

    def __init__(self, k: int, *, extra_center_factor: int | str = "auto", mini_batch_size: int = 5000,
                 epochs: int = 1, init_method: str = "random", half_life_time_size: int = 0,
                 local_lloyd_max_iter: int = 300, local_lloyd_tol: float = 1e-4,
                 local_lloyd_init_method: str = "kmeans++", local_lloyd_num_trials: int | str = "auto",
                 random_state: int | None = None) -> None:
        self.k = k
        self.extra_center_factor = extra_center_factor
        self.mini_batch_size = mini_batch_size
        self.epochs = epochs
        self.init_method = init_method
        self.half_life_time_size = half_life_time_size
        self.local_lloyd_max_iter = local_lloyd_max_iter
        self.local_lloyd_tol = local_lloyd_tol
        self.local_lloyd_init_method = local_lloyd_init_method
        self.local_lloyd_num_trials = local_lloyd_num_trials
        self.random_state = random_state

    # ---------------------------------------------------------------------------------------
    # public API

    def fit(self, X: np.ndarray, *, on_epoch_end: Callable[[int], None] | None = None) -> "WebScaleKMeans":
        X = _as_float32_matrix(X)
        if X.shape[0] < self.k:
            raise ValueError(f"k={self.k} is larger than the number of records ({X.shape[0]})")
        rng = np.random.default_rng(self.random_state)
        state = self.stream(X, rng, on_epoch_end=on_epoch_end)
        self.shrink(state, rng)
        return self

    def stream(self, X: np.ndarray, rng: np.random.Generator, *,
               on_epoch_end: Callable[[int], None] | None = None) -> MicroClusters:
        """The streaming stage over ``X`` for every epoch: one host's :class:`MicroClusters`."""
        X = _as_float32_matrix(X)
        state = self.initialize(X, rng)
        for epoch in range(self.epochs):
            for start in range(0, X.shape[0], self.mini_batch_size):
                self.update(state, X[start:start + self.mini_batch_size])
            if on_epoch_end is not None:
                on_epoch_end(epoch)
        return state

    def predict(self, X: np.ndarray) -> np.ndarray:
        labels, _ = nearest_centers(_as_float64_matrix(X), self.cluster_centers_.astype(np.float64))
        return labels

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Euclidean distance of each row to each final center."""
        from ..common.distances import squared_distances

        return np.sqrt(squared_distances(_as_float64_matrix(X), self.cluster_centers_.astype(np.float64)))

    def score(self, X: np.ndarray) -> float:
        """Negative sum of squared distances (scikit-learn's convention)."""
        return -float(sum_squared_distances(X, self.cluster_centers_))

    # ---------------------------------------------------------------------------------------
    # stages (public so that a multi-host driver can run them separately)

    @property
    def resolved_extra_center_factor(self) -> int:
        factor = self.extra_center_factor
        return AUTO_EXTRA_CENTER_FACTOR if factor == "auto" else int(factor)

    @property
    def resolved_num_trials(self) -> int:
        trials = self.local_lloyd_num_trials
        return AUTO_LOCAL_LLOYD_NUM_TRIALS if trials == "auto" else int(trials)

    def initialize(self, X: np.ndarray, rng: np.random.Generator) -> MicroClusters:
        """Pick the ``K`` initial centers from the first mini-batch."""
        wanted = self.k * self.resolved_extra_center_factor
        count = X.shape[0]
        centers_count = min(wanted, count)
        if centers_count < wanted:
            logger.warning("Only %d records for %d centers; using %d centers", count, wanted, centers_count)
        pool_size = min(self.mini_batch_size, count)
        if self.mini_batch_size > count:
            logger.warning("Batch size %d is bigger than the first batch data. Effective batch size used to "
                           "initialize is %d", self.mini_batch_size, count)
        if pool_size < centers_count:
            logger.warning("The first batch has %d records, fewer than the %d centers; initializing from the "
                           "first %d records", pool_size, centers_count, centers_count)
            pool_size = centers_count
        pool = X[:pool_size]
        if self.init_method == "kmeans++":
            initial = kmeans_plusplus(pool, centers_count, rng)
        else:
            initial = pool[np.sort(rng.choice(pool_size, centers_count, replace=False))]
        self.n_centers_ = centers_count
        return MicroClusters.empty_like(initial)

    def update(self, state: MicroClusters, batch: np.ndarray) -> None:
        """Absorb one mini-batch into the streaming centers."""
        count = batch.shape[0]
        if count == 0:
            return
        centers_count = state.centers.shape[0]
        x_norms = squared_norms(batch)
        labels, _ = nearest_centers(batch, state.centers.astype(np.float32), x_sq_norms=x_norms)
        counts, sums = _cluster_sums(batch, labels, centers_count)
        if self.half_life_time_size:
            decay = 0.5 ** (count / self.half_life_time_size)
            state.weights *= decay
            state.sq_norm_sums *= decay
        hit = counts > 0
        share = counts[hit] / (state.weights[hit] + counts[hit])
        means = sums[hit] / counts[hit, None]
        state.centers[hit] += share[:, None] * (means - state.centers[hit])
        state.weights += counts
        state.sq_norm_sums += np.bincount(labels, weights=x_norms, minlength=centers_count)
        state.records_seen += count

    def shrink(self, state: MicroClusters, rng: np.random.Generator) -> np.ndarray:
        """Reduce the streaming centers to ``k`` final centers (best of several Lloyd runs)."""
        self.micro_clusters_ = state
        logger.info("shrinking %d centers into %d", state.centers.shape[0], self.k)
        points, weights = _shrink_candidates(state, self.k)
        total_weight = float(weights.sum())
        scatter = float(state.within_scatter[state.weights > 0].sum())
        best_centers, best_msd = None, np.inf
        self.trial_msds_ = []
        iterations = []
        for attempt in range(self.resolved_num_trials):
            centers, sse, n_iter = weighted_lloyd(points, weights, self.k, rng,
                                                  init=self.local_lloyd_init_method,
                                                  max_iter=self.local_lloyd_max_iter, tol=self.local_lloyd_tol)
            msd = (sse + scatter) / total_weight if total_weight > 0 else 0.0
            logger.info("local kmeans attempt #%d. Current mean square distance %f", attempt, msd)
            self.trial_msds_.append(msd)
            iterations.append(n_iter)
            if msd < best_msd:
                best_centers, best_msd = centers, msd
        logger.info("finished shrinking process. Mean Square Distance = %s", best_msd)
        self.cluster_centers_ = np.ascontiguousarray(best_centers, dtype=np.float32)
        self.train_msd_ = float(best_msd)
        self.n_iter_ = iterations
        return self.cluster_centers_


# ============================================================================================
# kernels


def _as_float32_matrix(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError("expected a 2-D array")
    return np.ascontiguousarray(X, dtype=np.float32)


def _as_float64_matrix(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError("expected a 2-D array")
    return np.ascontiguousarray(X, dtype=np.float64)


def _cluster_sums(batch: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Points per cluster and float64 sums of their rows (sort by label, reduce runs)."""
    counts = np.bincount(labels, minlength=count).astype(np.float64)
    sums = np.zeros((count, batch.shape[1]), dtype=np.float64)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sums[sorted_labels[starts]] = np.add.reduceat(batch[order], starts, axis=0, dtype=np.float64)
    return counts, sums


def _weighted_choice(cumulative: np.ndarray, rng: np.random.Generator) -> int:
    total = cumulative[-1]
    return int(min(np.searchsorted(cumulative, rng.random() * total, side="right"), cumulative.size - 1))


def kmeans_plusplus(X: np.ndarray, count: int, rng: np.random.Generator,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """k-means++ seeding (optionally weighted): each new center is drawn with probability
    proportional to weight times squared distance to the nearest center chosen so far."""
    n = X.shape[0]
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    x_norms = squared_norms(X)
    chosen = np.empty(count, dtype=np.int64)
    chosen[0] = _weighted_choice(np.cumsum(weights), rng) if weights.sum() > 0 else rng.integers(n)
    closest = np.maximum(x_norms - 2.0 * (X @ X[chosen[0]]) + x_norms[chosen[0]], 0.0).astype(np.float64)
    for index in range(1, count):
        potential = np.cumsum(weights * closest)
        if potential[-1] > 0:
            pick = _weighted_choice(potential, rng)
        else:  # every point coincides with a center: take any point not chosen yet
            remaining = np.setdiff1d(np.arange(n), chosen[:index])
            pick = int(rng.choice(remaining)) if remaining.size else int(rng.integers(n))
        chosen[index] = pick
        distance = np.maximum(x_norms - 2.0 * (X @ X[pick]) + x_norms[pick], 0.0)
        np.minimum(closest, distance, out=closest)
    return X[chosen].copy()


def _shrink_candidates(state: MicroClusters, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The weighted points to shrink: centers with weight, topped up to ``k`` with unused ones."""
    used = state.weights > 0
    if used.sum() >= k:
        return state.centers[used], state.weights[used]
    extra = np.flatnonzero(~used)[: k - int(used.sum())]
    keep = np.concatenate([np.flatnonzero(used), extra])
    return state.centers[keep], state.weights[keep]


def _initial_local_centers(points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator,
                           init: str) -> np.ndarray:
    if init == "kmeans++":
        return kmeans_plusplus(points, k, rng, weights)
    positive = np.flatnonzero(weights > 0)
    if positive.size >= k:
        picks = rng.choice(positive, k, replace=False, p=weights[positive] / weights[positive].sum())
    else:
        rest = np.setdiff1d(np.arange(points.shape[0]), positive)
        picks = np.concatenate([positive, rng.choice(rest, k - positive.size, replace=False)])
    return points[picks].copy()


def weighted_lloyd(points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator, *,
                   init: str = "kmeans++", max_iter: int = 300, tol: float = 1e-4
                   ) -> tuple[np.ndarray, float, int]:
    """Lloyd's algorithm on weighted points: (centers, weighted SSE, iterations).

    Stops when the weighted SSE improves by no more than ``tol`` relatively, or after ``max_iter``
    updates. An emptied cluster is re-seeded with the point that contributes most to the SSE.
    """
    points = np.asarray(points, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    centers = _initial_local_centers(points, weights, k, rng, init)
    x_norms = squared_norms(points)
    previous = np.inf
    sse = np.inf
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        labels, distances = nearest_centers(points, centers, x_sq_norms=x_norms)
        sse = float(weights @ distances)
        if np.isfinite(previous) and previous - sse <= tol * previous:
            break
        previous = sse
        cluster_weight = np.bincount(labels, weights=weights, minlength=k)
        membership = np.zeros((k, points.shape[0]))
        membership[labels, np.arange(points.shape[0])] = weights
        weighted_sums = membership @ points
        filled = cluster_weight > 0
        centers[filled] = weighted_sums[filled] / cluster_weight[filled, None]
        if not filled.all():
            contribution = weights * distances
            for cluster in np.flatnonzero(~filled):
                donor = int(np.argmax(contribution))
                centers[cluster] = points[donor]
                contribution[donor] = -1.0
    else:
        labels, distances = nearest_centers(points, centers, x_sq_norms=x_norms)
        sse = float(weights @ distances)
    return centers, sse, iterations


def sum_squared_distances(X: np.ndarray, centers: np.ndarray) -> float:
    """Sum over rows of the squared distance to the nearest center (float64, blocked)."""
    _, distances = nearest_centers(_as_float64_matrix(X), np.asarray(centers, dtype=np.float64))
    return float(distances.sum())
