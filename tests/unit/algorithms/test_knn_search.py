"""Exact neighbour search against a float64 brute force, ties, metrics, votes and the estimator."""

from __future__ import annotations

import numpy as np
import pytest

from sagemaker_algorithms.knn import search
from sagemaker_algorithms.knn.estimator import KNearestNeighbors, evaluate, majority_vote
from sagemaker_algorithms.knn.search import ExactIndex, normalize_rows


def brute_force(samples: np.ndarray, queries: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Float64 reference: full score matrix, ordered by (score, sample index)."""
    if metric == "COSINE":
        samples, queries = normalize_rows(samples), normalize_rows(queries)
    S, Q = samples.astype(np.float64), queries.astype(np.float64)
    if metric == "L2":
        scores = ((Q[:, None, :] - S[None, :, :]) ** 2).sum(axis=2)
    else:
        scores = -(Q @ S.T)
    tiebreak = np.broadcast_to(np.arange(len(S)), scores.shape)
    order = np.lexsort((tiebreak, scores), axis=-1)[:, :k]
    return order, np.take_along_axis(scores, order, 1)


def small_blocks(samples, metric="L2", **kwargs) -> ExactIndex:
    """An index with tiny blocks so that every code path (first block, merges) runs on small data."""
    return ExactIndex(samples, metric, query_block=37, sample_block=64, first_block=16, **kwargs)


@pytest.mark.parametrize("metric", ["L2", "INNER_PRODUCT", "COSINE"])
@pytest.mark.parametrize("count, dim, k", [(500, 8, 5), (1000, 30, 12), (40, 4, 40), (300, 3, 1)])
def test_matches_float64_brute_force(metric, count, dim, k):
    rng = np.random.default_rng(count + dim + k)
    samples = rng.normal(size=(count, dim)).astype(np.float32)
    queries = rng.normal(size=(120, dim)).astype(np.float32)
    indices, scores = small_blocks(samples, metric).search(queries, k)
    expected_indices, expected_scores = brute_force(samples, queries, k, metric)
    assert np.array_equal(indices, expected_indices)
    assert np.allclose(scores, expected_scores, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("metric", ["L2", "INNER_PRODUCT", "COSINE"])
def test_exact_ties_go_to_the_smaller_index(metric):
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(400, 6)).astype(np.float32)
    samples[100:130] = samples[7]  # 31 identical rows: equal scores for every query
    samples[300:305] = samples[250]
    queries = np.concatenate([samples[[7, 250, 3]], rng.normal(size=(50, 6)).astype(np.float32)])
    for k in (1, 10, 31, 40):
        indices, _ = small_blocks(samples, metric, margin=4).search(queries, k)
        expected, _ = brute_force(samples, queries, k, metric)
        assert np.array_equal(indices, expected), k
    indices, scores = small_blocks(samples).search(samples[[7]], 31)
    assert indices[0].tolist() == [7, *range(100, 130)] and np.all(scores == 0)


def test_grid_data_full_of_ties():
    # integer points: many equal distances, including at the k-th place
    grid = np.stack(np.meshgrid(np.arange(12), np.arange(12)), -1).reshape(-1, 2).astype(np.float32)
    queries = (grid[::7] + np.float32(0.5)).astype(np.float32)
    for k in (4, 9, 16):
        indices, _ = small_blocks(grid).search(queries, k)
        assert np.array_equal(indices, brute_force(grid, queries, k, "L2")[0])


def test_near_ties_beyond_float32_are_resolved_exactly():
    # two samples whose distances to the query differ by far less than float32 resolution
    base = np.full((1, 16), 100.0, np.float32)
    samples = np.concatenate([base + np.float32(1.0), base - np.float32(1.0), base + np.float32(3.0)])
    samples[0, 0] += np.float32(2.0 ** -17)  # a hair further than sample 1
    index = ExactIndex(samples)
    indices, scores = index.search(base, 2)
    assert indices.tolist() == [[1, 0]] and scores[0, 0] < scores[0, 1]


def test_uncertified_queries_are_searched_again_then_exhaustively(monkeypatch):
    # margin 0 and many duplicates: certification fails, candidates widen 4x per round, and when they
    # would cover every sample the query is searched exhaustively in sample blocks
    rng = np.random.default_rng(4)
    samples = rng.normal(size=(200, 5)).astype(np.float32)
    samples[50:80] = samples[3]
    rounds, exhaustive = [], []
    original_candidates, original_exhaustive = ExactIndex._float32_candidates, ExactIndex._exhaustive

    def candidates_spy(self, Z, m):
        rounds.append(m)
        return original_candidates(self, Z, m)

    def exhaustive_spy(self, Q, k):
        exhaustive.append(len(Q))
        return original_exhaustive(self, Q, k)

    monkeypatch.setattr(ExactIndex, "_float32_candidates", candidates_spy)
    monkeypatch.setattr(ExactIndex, "_exhaustive", exhaustive_spy)
    indices, _ = small_blocks(samples, margin=0).search(samples[[3]], 5)
    assert indices.tolist() == [[3, 50, 51, 52, 53]]
    assert rounds == [5, 20, 80] and not exhaustive  # 31 equal rows: settled with 80 candidates
    samples[50:190] = samples[3]
    rounds.clear()
    indices, _ = small_blocks(samples, margin=0).search(samples[[3]], 5)
    assert indices.tolist() == [[3, 50, 51, 52, 53]]
    assert rounds == [5, 20, 80] and exhaustive == [1]


def test_large_blocked_search_equals_brute_force():
    rng = np.random.default_rng(9)
    samples = (rng.random((5000, 64)) < 0.3).astype(np.float32) * rng.integers(1, 4, (5000, 64)).astype(np.float32)
    queries = samples[rng.choice(5000, 200)] + (rng.random((200, 64)) < 0.05).astype(np.float32)
    index = ExactIndex(samples, sample_block=1024, first_block=256)
    indices, _ = index.search(queries, 10)
    assert np.array_equal(indices, brute_force(samples, queries, 10, "L2")[0])


def test_public_distances():
    samples = np.array([[0, 0], [3, 4], [1, 0]], np.float32)
    index = ExactIndex(samples)
    indices, scores = index.search(np.zeros((1, 2), np.float32), 3)
    assert indices.tolist() == [[0, 2, 1]]
    assert index.public_distances(scores).tolist() == [[0.0, 1.0, 5.0]]
    inner = ExactIndex(samples, "INNER_PRODUCT")
    indices, scores = inner.search(np.array([[1, 1]], np.float32), 3)
    assert indices.tolist() == [[1, 2, 0]] and inner.public_distances(scores).tolist() == [[7.0, 1.0, 0.0]]
    cosine = ExactIndex(samples, "COSINE")
    indices, scores = cosine.search(np.array([[2, 0]], np.float32), 3)
    assert indices.tolist() == [[2, 1, 0]]
    assert np.allclose(cosine.public_distances(scores), [[1.0, 0.6, 0.0]])


def test_search_argument_checks():
    index = ExactIndex(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError):
        index.search(np.zeros((1, 2), np.float32), 4)
    with pytest.raises(ValueError):
        index.search(np.zeros((1, 3), np.float32), 1)
    with pytest.raises(ValueError):
        ExactIndex(np.zeros((3, 2)), "HAMMING")
    assert index.search(np.zeros((0, 2), np.float32), 2)[0].shape == (0, 2)


def test_error_bound_is_conservative():
    rng = np.random.default_rng(11)
    samples = rng.random((3000, 300)).astype(np.float32) * 10
    queries = rng.random((64, 300)).astype(np.float32) * 10
    index = ExactIndex(samples, axes=False)
    QT = np.vstack([queries.T, np.ones((1, 64), np.float32)])
    approx = (index._gemm @ QT).T.astype(np.float64) + (queries.astype(np.float64) ** 2).sum(1)[:, None]
    exact = ((queries[:, None, :].astype(np.float64) - samples[None].astype(np.float64)) ** 2).sum(2)
    bound = index._gemm_error_bound(np.sqrt((queries.astype(np.float64) ** 2).sum(1)))
    assert np.all(np.abs(approx - exact) <= bound[:, None])
    assert search.UNIT_ROUNDOFF == 2.0 ** -24


# --------------------------------------------------------------------------------------------
# principal axes


def low_rank(count: int, dim: int, rank: int, seed: int) -> np.ndarray:
    """Rows near a ``rank``-dimensional subspace, with a small full-rank remainder."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(rank, dim))
    rows = rng.normal(size=(count, rank)) @ basis + rng.normal(scale=0.05, size=(count, dim)) + 3.0
    return rows.astype(np.float32)


def test_principal_axes_are_chosen_only_when_they_pay():
    assert ExactIndex(low_rank(2000, 128, 10, 0)).axes is not None
    isotropic = np.random.default_rng(1).normal(size=(2000, 128)).astype(np.float32)
    assert ExactIndex(isotropic).axes is None
    assert ExactIndex(isotropic, axes=True).axes is not None
    assert ExactIndex(low_rank(2000, 128, 10, 0), axes=False).axes is None
    assert ExactIndex(low_rank(2000, 32, 4, 0)).axes is None  # too few features to bother


def test_principal_axes_transform():
    samples = low_rank(1500, 96, 8, 2)
    index = ExactIndex(samples)
    axes = index.axes
    assert index.search_dim == axes.head_dim + 1 < 0.6 * 96
    vectors, norms = axes.transform(samples[:50])
    centered = samples[:50].astype(np.float64) - axes.mean
    assert np.allclose(norms, np.linalg.norm(centered, axis=1))
    assert np.allclose(np.linalg.norm(vectors.astype(np.float64), axis=1), norms, rtol=1e-6)
    assert np.allclose(axes.head.T @ axes.head, np.eye(axes.head_dim), atol=1e-10)


@pytest.mark.parametrize("metric", ["L2", "INNER_PRODUCT", "COSINE"])
def test_the_axes_gemm_is_a_lower_bound(metric):
    samples = low_rank(2000, 100, 12, 3)
    queries = low_rank(40, 100, 12, 4)
    index = ExactIndex(samples, metric, axes=True)
    Q = index.prepare_queries(queries)
    Z, row_norms = index.axes.transform(Q)
    ZT = Z.T if metric != "L2" else np.vstack([Z.T, np.ones((1, len(Z)), np.float32)])
    values = (index._gemm @ ZT).T.astype(np.float64)
    z_sq = (Z.astype(np.float64) ** 2).sum(1)
    if metric == "L2":
        values += z_sq[:, None]
    bound = index._gemm_error_bound(np.sqrt(z_sq))
    slack = index._rounding_slack(row_norms)
    everything = np.broadcast_to(np.arange(len(samples)), (len(Q), len(samples)))
    exact = index._exact_scores(Q, np.ascontiguousarray(everything))
    for column in range(0, len(samples), 97):  # the floor from any value is below that sample's score
        floor = index._excluded_floor(values[:, column], bound, slack)
        assert np.all(floor <= exact[:, column])


@pytest.mark.parametrize("metric", ["L2", "INNER_PRODUCT", "COSINE"])
@pytest.mark.parametrize("margin", [None, 0, 3])
def test_axes_search_matches_float64_brute_force(metric, margin):
    samples = low_rank(1500, 80, 6, 5)
    samples[100:140] = samples[9]  # exact ties
    queries = np.concatenate([samples[[9, 1, 2]], low_rank(100, 80, 6, 6)])
    index = ExactIndex(samples, metric, axes=True, margin=margin, query_block=41, sample_block=300, first_block=50)
    assert index.axes is not None
    for k in (1, 7, 45):
        indices, scores = index.search(queries, k)
        expected_indices, expected_scores = brute_force(samples, queries, k, metric)
        assert np.array_equal(indices, expected_indices), (metric, margin, k)
        assert np.allclose(scores, expected_scores, rtol=1e-12, atol=1e-9)


def test_axes_on_mnist_like_digits(digits):
    X, _ = digits
    X = (X + np.random.default_rng(0).uniform(0, 1e-3, X.shape)).astype(np.float32)
    index = ExactIndex(X[:1500], axes=True)
    indices, _ = index.search(X[1500:], 10, return_scores=False)
    assert np.array_equal(indices, brute_force(X[:1500], X[1500:], 10, "L2")[0])


# --------------------------------------------------------------------------------------------
# votes and the estimator


def test_majority_vote_lowest_label_on_ties():
    labels = np.array([[3, 1, 1, 3, 2], [2, 2, 0, 0, 5], [7, 7, 7, 1, 1], [4, 9, 8, 6, 5]], np.float32)
    assert majority_vote(labels).tolist() == [1.0, 0.0, 7.0, 4.0]
    assert majority_vote(labels, "nearest").tolist() == [3.0, 2.0, 7.0, 4.0]
    assert majority_vote(np.array([[-1.5, 2.0]], np.float32)).tolist() == [-1.5]
    assert majority_vote(np.empty((0, 3), np.float32)).shape == (0,)


def test_majority_vote_matches_a_loop():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, size=(500, 6)).astype(np.float32)
    for row, predicted in zip(labels, majority_vote(labels)):
        values, counts = np.unique(row, return_counts=True)
        assert predicted == values[counts == counts.max()].min()
    for row, predicted in zip(labels, majority_vote(labels, "nearest")):
        values, counts = np.unique(row, return_counts=True)
        winners = set(values[counts == counts.max()].tolist())
        assert predicted == next(value for value in row if value in winners)


def test_classifier_matches_scikit_learn(digits):
    """Same neighbours and predictions as scikit-learn's brute force.

    The digits' pixels are multiples of 1/16, so many distances tie exactly; scikit-learn orders
    such ties by the rounding of its float64 GEMM, we by sample index. A little noise removes the
    exact ties (tie handling is tested against the float64 reference above).
    """
    from sklearn.neighbors import KNeighborsClassifier

    X, y = digits
    X = (X + np.random.default_rng(0).uniform(0, 1e-3, X.shape)).astype(np.float32)
    for k in (1, 4, 10):
        ours = KNearestNeighbors(k, sample_size=1500, random_state=0).fit(X[:1500], y[:1500])
        assert np.array_equal(ours.samples_, X[:1500])  # the whole set, in order
        reference = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(X[:1500], y[:1500])
        assert np.array_equal(ours.predict(X[1500:]), reference.predict(X[1500:]).astype(np.float32))
        distances, indices = ours.kneighbors(X[1500:])
        ref_distances, ref_indices = reference.kneighbors(X[1500:])
        assert np.array_equal(indices, ref_indices)
        assert np.allclose(distances, ref_distances, atol=1e-5)


def test_regressor_is_the_mean_of_neighbour_labels(digits):
    from sklearn.neighbors import KNeighborsRegressor

    X, y = digits
    target = (y * 1.5 - 2).astype(np.float32)
    ours = KNearestNeighbors(7, sample_size=2000, predictor_type="regressor").fit(X[:1200], target[:1200])
    reference = KNeighborsRegressor(n_neighbors=7, algorithm="brute").fit(X[:1200], target[:1200])
    assert np.allclose(ours.predict(X[1200:]), reference.predict(X[1200:]), atol=1e-5)
    mse = ours.score(X[1200:], target[1200:])
    assert mse == pytest.approx(float(np.mean((reference.predict(X[1200:]) - target[1200:]) ** 2)), rel=1e-5)


def test_verbose_outputs_are_ordered(digits):
    X, y = digits
    model = KNearestNeighbors(6, sample_size=1000).fit(X[:1000], y[:1000])
    predicted, labels, distances = model.predict_verbose(X[1000:1100])
    assert labels.shape == distances.shape == (100, 6)
    assert np.all(np.diff(distances, axis=1) >= 0)
    assert np.array_equal(predicted, majority_vote(labels))
    _, indices = model.kneighbors(X[1000:1100])
    assert np.array_equal(labels, model.labels_[indices])


def test_sampling_and_reduction_in_fit(digits):
    X, y = digits
    model = KNearestNeighbors(5, sample_size=300, dimension_reduction_type="fjlt", dimension_reduction_target=32,
                              random_state=1).fit(X, y)
    assert model.samples_.shape == (300, 32) and model.rows_seen_ == len(X)
    accuracy = model.score(X[:500], y[:500])
    assert accuracy > 0.8  # 300 random digits in 32 dimensions still classify well
    with pytest.raises(ValueError):
        KNearestNeighbors(50, sample_size=20).fit(X[:20], y[:20])


def test_evaluate():
    assert evaluate("classifier", np.array([1, 2, 3]), np.array([1, 0, 3])) == pytest.approx(2 / 3)
    assert evaluate("regressor", np.array([1.0, 2.0]), np.array([0.0, 4.0])) == pytest.approx(2.5)
