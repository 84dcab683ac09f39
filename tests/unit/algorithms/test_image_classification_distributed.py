"""Image classification across hosts, the parts that need no second process: how records are dealt
out, the learning-rate schedule, summed accuracy counts and which channels are replicated.

Two real processes joined through torch.distributed: tests/integration/test_image_classification_multihost.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sagemaker_algorithms.common.content_types import MediaType  # noqa: E402
from sagemaker_algorithms.common.distributed import HostGroup, deal_gpus  # noqa: E402
from sagemaker_algorithms.common.training import Channel, TrainingEnvironment  # noqa: E402
from sagemaker_algorithms.image_classification.hyperparameters import SCHEMA  # noqa: E402
from sagemaker_algorithms.image_classification.pipeline import EpochBatches  # noqa: E402
from sagemaker_algorithms.image_classification.training import (Accuracy, learning_rate_at,  # noqa: E402
                                                                replicated_channels)


def epoch_indices(sampler: EpochBatches, epoch: int = 0) -> list[np.ndarray]:
    sampler.set_epoch(epoch)
    return [indices for _, _, indices in sampler]


def test_training_records_are_dealt_out_evenly_and_padded():
    parts = [epoch_indices(EpochBatches(37, 8, shuffle=True, fill_last=True, seed=0, rank=r, size=3), epoch=1)
             for r in range(3)]
    # 37 records on 3 hosts: 13 each (two wrapped around), 2 full batches of 8 per host
    assert [len(batches) for batches in parts] == [2, 2, 2]
    assert all(b.size == 8 for batches in parts for b in batches)
    order = np.random.default_rng([0, 1]).permutation(37)
    padded = np.resize(order, 39)
    for rank, batches in enumerate(parts):
        mine = padded[rank::3]
        assert np.array_equal(batches[0], mine[:8])
        assert np.array_equal(batches[1], np.resize(np.concatenate([mine[8:], mine]), 8))
    assert set(np.concatenate([padded[r::3] for r in range(3)])) == set(range(37))


def test_evaluation_records_are_split_exactly():
    parts = [np.concatenate(epoch_indices(EpochBatches(33, 16, shuffle=False, fill_last=False, seed=0, rank=r,
                                                       size=2))) for r in range(2)]
    assert parts[0].size == 17 and parts[1].size == 16
    assert sorted(np.concatenate(parts).tolist()) == list(range(33))


def test_single_host_order_is_unchanged_and_limit_caps_batches():
    sampler = EpochBatches(20, 8, shuffle=True, fill_last=True, seed=3)
    batches = epoch_indices(sampler, 2)
    order = np.random.default_rng([3, 2]).permutation(20)
    assert np.array_equal(np.concatenate(batches)[:20], order) and len(batches) == 3
    sampler.limit = 2
    assert len(sampler) == 2 and sampler.batches_per_epoch == 3 and len(epoch_indices(sampler)) == 2


def test_learning_rate_steps_count_updates_per_host():
    hp = SCHEMA.validate({"num_classes": "2", "num_training_samples": "100", "mini_batch_size": "10",
                          "learning_rate": "0.1", "lr_scheduler_step": "2", "lr_scheduler_factor": "0.5"})
    assert learning_rate_at(20, hp) == pytest.approx(0.1) and learning_rate_at(21, hp) == pytest.approx(0.05)
    # two hosts: an epoch is 5 updates of 2 x 10 images
    assert learning_rate_at(10, hp, 2) == pytest.approx(0.1) and learning_rate_at(11, hp, 2) == pytest.approx(0.05)


class SummingGroup(HostGroup):
    """A stand-in for two hosts where the other one counted ``other``."""

    def __init__(self, other: np.ndarray) -> None:
        super().__init__(["algo-1", "algo-2"], "algo-1")
        self.size = 2
        self.other = other

    def all_reduce_sum(self, array: np.ndarray) -> np.ndarray:
        return array + self.other


def test_accuracy_counts_are_summed_over_hosts():
    metric = Accuracy(False, 2, torch.device("cpu"))
    metric.update(torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]), torch.tensor([0, 1]))
    assert metric.values() == {"accuracy": 0.5, "top_k_accuracy_2": 1.0}
    metric.combine(SummingGroup(np.array([3.0, 4.0, 6.0])))
    assert metric.values() == {"accuracy": 4 / 8, "top_k_accuracy_2": 6 / 8}
    metric.combine(HostGroup(["algo-1"], "algo-1"))  # one host: unchanged
    assert metric.seen == 8


def test_replicated_channels_follow_the_distribution_type():
    def env(distribution: str | None) -> TrainingEnvironment:
        config = {} if distribution is None else {"S3DistributionType": distribution}
        channels = {name: Channel(name, Path("/nonexistent"), MediaType("application/x-recordio"), dict(config))
                    for name in ("train", "validation")}
        channels["validation"].config["S3DistributionType"] = "FullyReplicated"
        return TrainingEnvironment(paths=None, hyperparameters={}, raw_hyperparameters={},  # type: ignore[arg-type]
                                   channels=channels)

    assert replicated_channels(env(None)) == ("train", "validation")
    assert replicated_channels(env("FullyReplicated")) == ("train", "validation")
    assert replicated_channels(env("ShardedByS3Key")) == ("validation",)


def test_hosts_on_one_machine_take_its_gpus_in_turn():
    one_gpu = [["GPU-a"]] * 2  # the process backend on a one-GPU machine: NCCL would refuse it
    assert [deal_gpus(one_gpu, rank) for rank in range(2)] == [(0, False), (0, False)]
    two_gpus = [["GPU-a", "GPU-b"]] * 2
    assert [deal_gpus(two_gpus, rank) for rank in range(2)] == [(0, True), (1, True)]
    three_on_two = [["GPU-a", "GPU-b"]] * 3
    assert [deal_gpus(three_on_two, rank)[0] for rank in range(3)] == [0, 1, 0]
    assert not deal_gpus(three_on_two, 0)[1]
    machines = [["GPU-a"], ["GPU-b", "GPU-c"], ["GPU-b", "GPU-c"], ["GPU-d"]]  # hosts on their own machines
    assert [deal_gpus(machines, rank) for rank in range(4)] == [(0, True), (0, True), (1, True), (0, True)]
