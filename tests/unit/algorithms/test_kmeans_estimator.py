"""Numerics of the web-scale k-means estimator and its kernels."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from sagemaker_algorithms.common.distances import nearest_centers, squared_distances
from sagemaker_algorithms.kmeans.estimator import (MicroClusters, WebScaleKMeans, kmeans_plusplus,
                                                   sum_squared_distances, weighted_lloyd)


def test_nearest_centers_matches_brute_force_in_blocks():
    rng = np.random.default_rng(0)
    X, C = rng.normal(size=(1000, 7)), rng.normal(size=(13, 7))
    brute = ((X[:, None, :] - C[None]) ** 2).sum(-1)
    labels, distances = nearest_centers(X, C, max_block_elements=50)  # forces many small blocks
    assert np.array_equal(labels, brute.argmin(1))
    assert np.allclose(distances, brute.min(1))
    assert np.allclose(squared_distances(X, C), brute)


def test_recovers_well_separated_blobs(blobs):
    X, labels, centers = blobs
    model = WebScaleKMeans(5, mini_batch_size=500, random_state=0).fit(X)
    found = model.cluster_centers_
    assert found.shape == (5, 6) and found.dtype == np.float32
    gaps = np.sqrt(squared_distances(centers, found.astype(np.float64))).min(axis=1)
    assert gaps.max() < 0.2
    assert sorted(np.bincount(model.predict(X), minlength=5)) == sorted(np.bincount(labels))


def test_train_msd_is_the_training_mse_when_assignments_are_stable(blobs):
    X, _, _ = blobs
    model = WebScaleKMeans(5, mini_batch_size=1000, random_state=1).fit(X)
    true_msd = sum_squared_distances(X, model.cluster_centers_) / len(X)
    assert model.train_msd_ == pytest.approx(true_msd, rel=1e-4)
    assert model.train_msd_ == min(model.trial_msds_)
    assert model.micro_clusters_.weights.sum() == len(X)


def test_same_seed_same_model_and_different_seed_runs(digits):
    X, _ = digits
    first = WebScaleKMeans(8, mini_batch_size=400, random_state=3).fit(X).cluster_centers_
    again = WebScaleKMeans(8, mini_batch_size=400, random_state=3).fit(X).cluster_centers_
    other = WebScaleKMeans(8, mini_batch_size=400, random_state=4).fit(X).cluster_centers_
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_quality_close_to_scikit_learn_on_digits(digits):
    from sklearn.cluster import KMeans

    X, _ = digits
    ours = WebScaleKMeans(10, mini_batch_size=500, random_state=0).fit(X)
    reference = KMeans(n_clusters=10, n_init=1, random_state=0).fit(X)
    ours_msd = sum_squared_distances(X, ours.cluster_centers_) / len(X)
    assert ours_msd < 1.05 * reference.inertia_ / len(X)
    assert ours.score(X) == pytest.approx(-ours_msd * len(X))


@pytest.mark.parametrize("init_method", ["random", "kmeans++"])
def test_init_methods_and_epochs(digits, init_method):
    X, _ = digits
    epochs_seen = []
    model = WebScaleKMeans(6, init_method=init_method, epochs=3, mini_batch_size=300, random_state=0)
    model.fit(X, on_epoch_end=epochs_seen.append)
    assert epochs_seen == [0, 1, 2]
    assert model.n_centers_ == 60 and model.micro_clusters_.records_seen == 3 * len(X)


def test_mini_batch_update_moves_center_by_share_of_new_points():
    model = WebScaleKMeans(1, half_life_time_size=0)
    state = MicroClusters.empty_like(np.zeros((1, 1)))
    model.update(state, np.full((4, 1), 2.0, np.float32))  # first batch: p = 4 / (0 + 4) = 1
    assert state.centers[0, 0] == pytest.approx(2.0)
    model.update(state, np.full((4, 1), 8.0, np.float32))  # p = 4 / (4 + 4)
    assert state.centers[0, 0] == pytest.approx(5.0) and state.weights[0] == 8


def test_half_life_decays_old_weight():
    model = WebScaleKMeans(1, half_life_time_size=4)
    state = MicroClusters.empty_like(np.zeros((1, 1)))
    model.update(state, np.zeros((4, 1), np.float32))
    model.update(state, np.full((4, 1), 10.0, np.float32))  # old weight 4 -> 2, p = 4 / 6
    assert state.centers[0, 0] == pytest.approx(20.0 / 3.0)
    assert state.weights[0] == pytest.approx(6.0)


def test_within_scatter_bookkeeping_is_exact():
    rng = np.random.default_rng(2)
    points = rng.normal(size=(50, 3)).astype(np.float32)
    model = WebScaleKMeans(1)
    state = MicroClusters.empty_like(points[:1].astype(np.float64))
    for start in range(0, 50, 10):
        model.update(state, points[start:start + 10])
    assert np.allclose(state.centers[0], points.mean(0), atol=1e-5)
    assert state.within_scatter[0] == pytest.approx(((points - points.mean(0)) ** 2).sum(), rel=1e-4)


def test_weighted_lloyd_respects_weights():
    rng = np.random.default_rng(0)
    points = np.array([[0.0], [10.0], [11.0]])
    centers, sse, _ = weighted_lloyd(points, np.array([100.0, 1.0, 1.0]), 1, rng)
    assert centers[0, 0] == pytest.approx(21.0 / 102.0)
    centers, sse, _ = weighted_lloyd(points, np.array([100.0, 1.0, 1.0]), 2, rng)
    assert sorted(centers[:, 0]) == pytest.approx([0.0, 10.5]) and sse == pytest.approx(0.5)


def test_shrink_uses_micro_cluster_weights(caplog):
    # two heavy micro-centers at 0 and 100 and many light ones in between: the heavy ones win
    state = MicroClusters(np.array([[0.0], [100.0], [40.0], [60.0]]), np.array([1000.0, 1000.0, 1.0, 1.0]),
                          np.zeros(4))
    state.sq_norm_sums = state.weights * (state.centers[:, 0] ** 2)  # no within scatter
    model = WebScaleKMeans(2, local_lloyd_num_trials=3)
    with caplog.at_level(logging.INFO):
        centers = model.shrink(state, np.random.default_rng(0))
    assert sorted(centers[:, 0]) == pytest.approx([40.0 / 1001, 100 - 40.0 / 1001], rel=1e-5)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "shrinking 4 centers into 2"
    assert sum(m.startswith("local kmeans attempt #") for m in messages) == 3


def test_kmeans_plusplus_picks_distinct_spread_points():
    X = np.array([[0.0, 0.0], [0.0, 0.1], [10.0, 10.0], [10.0, 10.1], [-10.0, 5.0]])
    chosen = kmeans_plusplus(X, 3, np.random.default_rng(0))
    assert len({tuple(row) for row in chosen.tolist()}) == 3
    duplicates = np.zeros((4, 2))
    assert kmeans_plusplus(duplicates, 3, np.random.default_rng(0)).shape == (3, 2)


def test_small_data_warnings_and_errors(caplog):
    X = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        model = WebScaleKMeans(5, mini_batch_size=100, random_state=0).fit(X)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "Batch size 100 is bigger than the first batch data. Effective batch size used to initialize is 30" in text
    assert "Only 30 records for 50 centers" in text
    assert model.n_centers_ == 30 and model.cluster_centers_.shape == (5, 2)
    with pytest.raises(ValueError, match="larger than the number of records"):
        WebScaleKMeans(31).fit(X)
