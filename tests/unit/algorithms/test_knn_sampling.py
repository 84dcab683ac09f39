"""Reservoir sampling: size, order, determinism, batching independence, uniformity, multi-host merge."""

from __future__ import annotations

import numpy as np
import pytest

from sagemaker_algorithms.knn.sampling import Reservoir


def stream(count: int, dim: int = 3) -> tuple[np.ndarray, np.ndarray]:
    ids = np.arange(count, dtype=np.float32)
    return np.repeat(ids[:, None], dim, axis=1), ids


def draw(count: int, size: int, seed: int, batch: int) -> np.ndarray:
    reservoir = Reservoir(size, np.random.default_rng(seed))
    features, labels = stream(count)
    for start in range(0, count, batch):
        reservoir.add(features[start:start + batch], labels[start:start + batch])
    sampled_features, sampled_labels = reservoir.sample()
    assert np.array_equal(sampled_features[:, 0], sampled_labels)  # rows stay intact
    assert reservoir.rows_seen == count
    return sampled_labels


def test_size_and_arrival_order():
    ids = draw(10_000, 300, seed=1, batch=777)
    assert ids.shape == (300,) and np.unique(ids).size == 300
    assert np.all(np.diff(ids) > 0)  # the sample keeps the stream's order


def test_everything_when_the_stream_is_smaller():
    ids = draw(150, 1000, seed=1, batch=40)
    assert np.array_equal(ids, np.arange(150))


def test_sample_of_the_whole_set_is_the_set_in_order():
    assert np.array_equal(draw(2000, 2000, seed=5, batch=300), np.arange(2000))


def test_deterministic_and_independent_of_batching():
    first = draw(5000, 200, seed=3, batch=5000)
    assert np.array_equal(first, draw(5000, 200, seed=3, batch=1))
    assert np.array_equal(first, draw(5000, 200, seed=3, batch=123))
    assert not np.array_equal(first, draw(5000, 200, seed=4, batch=123))


def test_uniformity():
    # each of 100 rows should be picked with probability 10/100; 2,000 draws -> about 200 each
    hits = np.zeros(100)
    for seed in range(2000):
        hits[draw(100, 10, seed=seed, batch=7).astype(int)] += 1
    assert hits.sum() == 20_000
    expected = 200.0
    chi_square = float(((hits - expected) ** 2 / expected).sum())
    assert chi_square < 160  # 99 degrees of freedom: p < 1e-4 beyond this
    # positions early and late in the stream are equally likely
    assert abs(hits[:50].sum() - hits[50:].sum()) < 600


def test_merge_is_a_sample_of_the_union():
    features, labels = stream(3000)
    parts = []
    for host, (start, stop) in enumerate([(0, 1000), (1000, 3000)]):
        part = Reservoir(400, np.random.default_rng(100 + host))
        part.add(features[start:stop], labels[start:stop])
        parts.append(part)
    merged = Reservoir.merge(parts)
    _, ids = merged.sample()
    assert ids.size == 400 and merged.rows_seen == 3000
    assert np.all(np.diff(ids) > 0)
    # the merged sample is exactly the rows with the smallest keys over both hosts
    keys = np.concatenate([p.keys for p in parts])
    assert np.isclose(np.sort(keys)[399], merged.keys.max())
    # one host saw a third of the rows: about a third of the sample comes from it
    assert 90 < int((ids < 1000).sum()) < 180


def test_merge_of_small_parts_keeps_everything():
    features, labels = stream(30)
    a, b = Reservoir(50, np.random.default_rng(1)), Reservoir(50, np.random.default_rng(2))
    a.add(features[:10], labels[:10])
    b.add(features[10:], labels[10:])
    assert np.array_equal(Reservoir.merge([a, b]).sample()[1], np.arange(30))


def test_rejects_mismatched_rows():
    reservoir = Reservoir(10, np.random.default_rng(0))
    with pytest.raises(ValueError):
        reservoir.add(np.zeros((3, 2)), np.zeros(2))
    reservoir.add(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError):
        reservoir.add(np.zeros((3, 4)), np.zeros(3))
    with pytest.raises(ValueError):
        Reservoir(0, np.random.default_rng(0))
