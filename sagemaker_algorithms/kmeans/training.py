"""k-means ``train``: channels → :class:`WebScaleKMeans` → ``model/model_algo-1`` and metric lines.

Channels: ``train`` (required) and ``test`` (optional); others are ignored with a warning. Both
accept RecordIO-protobuf (dense or sparse, the default when no ContentType is set) and ``text/csv``.
For CSV the first ``label_size`` columns are a label that k-means ignores; like SageMaker, a CSV
channel without ``label_size`` is taken to have **one** label column, so label-less CSV must be sent
as ``text/csv;label_size=0`` (the error message says so when the column count is off by one).

Log lines follow the real container's: ``'extra_center_factor' was set to 'auto', evaluated to 10.``,
``processed a total of N examples``, ``#progress_metric``, ``#throughput_metric``,
``shrinking K centers into k``, ``local kmeans attempt #i ...``, ``#quality_metric: host=algo-1,
train msd <loss>=V``, then per ``eval_metrics`` on ``test`` ``#test_score (algo-1) : ('msd', V)`` and
``#quality_metric: host=algo-1, test msd <loss>=V`` (``ssd`` likewise), or ``Test data is not
provided.``. Randomness uses a fixed seed, so a job is reproducible.

Several hosts (``InstanceCount`` > 1) join through ``torch.distributed``
(:mod:`..common.distributed`): each streams its own records (seeded by its rank) into its ``K``
micro-clusters, the primary host gathers every host's, shrinks their union to the ``k`` final
centers and writes the model; the centers go back to every host, which scores its part of ``test``,
and the test sums are added up across hosts, so every host logs the job's figures.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..common import contract, ndarray
from ..common.distributed import HostGroup, join_hosts
from ..common.errors import ClientError
from ..common.logs import progress_metric_line, quality_metric_line, score_line, throughput_metric_line
from ..common.training import TrainingAlgorithm, TrainingEnvironment, load_channel
from .estimator import AUTO_EXTRA_CENTER_FACTOR, MicroClusters, WebScaleKMeans, sum_squared_distances
from .hyperparameters import SCHEMA

logger = logging.getLogger("kmeans")

NAME = "kmeans"
SEED = 0
CHANNELS = ("train", "test")
CSV_DEFAULT_LABEL_SIZE = 1


def train(env: TrainingEnvironment) -> None:
    hp = env.hyperparameters
    if hp["extra_center_factor"] == "auto":
        logger.info("'extra_center_factor' was set to 'auto', evaluated to %d.", AUTO_EXTRA_CENTER_FACTOR)
    for name in env.channels:
        if name not in CHANNELS:
            logger.warning("Ignoring channel '%s': k-means reads only 'train' and 'test'", name)
    train_channel = env.require_channel("train")
    with join_hosts(env.hosts, env.current_host) as group:
        _train(env, group, train_channel)


def _train(env: TrainingEnvironment, group: HostGroup, train_channel) -> None:
    hp = env.hyperparameters
    host = env.current_host
    k, feature_dim = hp["k"], hp["feature_dim"]
    records = load_channel(train_channel, feature_dim, csv_label_size=CSV_DEFAULT_LABEL_SIZE).features
    logger.info("Loaded %d records with %d features from channel 'train'", records.shape[0], records.shape[1])
    if records.shape[0] < k:
        raise ClientError(f"k ({k}) is larger than the number of training records ({records.shape[0]})"
                          + (f" of host {host}" if group.size > 1 else ""))

    estimator = WebScaleKMeans(
        k, extra_center_factor=hp["extra_center_factor"], mini_batch_size=hp["mini_batch_size"],
        epochs=hp["epochs"], init_method=hp["init_method"], half_life_time_size=hp["half_life_time_size"],
        local_lloyd_max_iter=hp["local_lloyd_max_iter"], local_lloyd_tol=hp["local_lloyd_tol"],
        local_lloyd_init_method=hp["local_lloyd_init_method"],
        local_lloyd_num_trials=hp["local_lloyd_num_trials"], random_state=SEED + group.rank)
    count = records.shape[0]
    started = time.perf_counter()

    def on_epoch_end(epoch: int) -> None:
        logger.info("processed a total of %d examples", count)
        logger.info(progress_metric_line(host, 100.0 * (epoch + 1) / estimator.epochs))
        if epoch + 1 == estimator.epochs:
            elapsed = max(time.perf_counter() - started, 1e-9)
            logger.info(throughput_metric_line(host, count * estimator.epochs / elapsed))

    rng = np.random.default_rng(estimator.random_state)
    state = estimator.stream(records, rng, on_epoch_end=on_epoch_end)
    del records
    centers = None
    if group.size > 1:
        parts = group.gather_objects(state)
        if parts is not None:
            state = MicroClusters.combine(parts)
            logger.info("Combined the micro-clusters of %d hosts (%d records)", group.size, state.records_seen)
        else:
            logger.info("Sent %d micro-clusters to %s", state.centers.shape[0], group.primary_host)
    if group.is_primary:
        centers = estimator.shrink(state, rng)
        logger.info(quality_metric_line(host, "train", "msd", estimator.train_msd_))
        env.model_dir.mkdir(parents=True, exist_ok=True)
        path = env.model_dir / contract.model_file_name(host)
        ndarray.save(path, [centers])
        logger.info("Saved the model (%d x %d centers) to %s", k, feature_dim, path)
    centers = group.broadcast_object(centers)
    _evaluate_test(env, group, centers, hp["eval_metrics"])


def _evaluate_test(env: TrainingEnvironment, group: HostGroup, centers: np.ndarray, metrics: list[str]) -> None:
    channel = env.channel("test")
    if channel is None:
        logger.info("Test data is not provided.")
        return
    ssd, rows = 0.0, 0
    if channel.files or group.size == 1:  # a host may get no object of a ShardedByS3Key channel
        test = load_channel(channel, centers.shape[1], csv_label_size=CSV_DEFAULT_LABEL_SIZE).features
        test = test[group.share(channel.config)]
        ssd, rows = sum_squared_distances(test, centers), test.shape[0]
    ssd, rows = group.all_reduce_sum(np.array([ssd, rows], np.float64))
    values = {"msd": ssd / max(rows, 1), "ssd": ssd}
    for metric in metrics:
        logger.info(score_line("test", env.current_host, metric, values[metric]))
        logger.info(quality_metric_line(env.current_host, "test", metric, values[metric]))


ALGORITHM = TrainingAlgorithm(NAME, SCHEMA, f"{__package__}.hyperparameters (default-input)", train)
