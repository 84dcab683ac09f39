"""k-NN ``train``: stream ``train`` into a reservoir sample, reduce, index, save, score ``test``.

Channels: ``train`` (required) and ``test`` (optional), RecordIO-protobuf (the default when no
ContentType is set; the label under the label map's ``values`` key) or ``text/csv`` whose first
``label_size`` columns are the label (default 1; k-NN needs exactly one label column). Other
channels are ignored with a warning.

Steps and log lines (after the real container's, LOG-KNN):

1. ``Using per-worker sample size = N (...)``; every file of ``train`` streams through a
   :class:`~.sampling.Reservoir` (one pass: ``epochs`` > 1 changes nothing, as a reservoir holds no
   state to refine), then ``#progress_metric`` and ``#throughput_metric``;
2. ``Got reservoir sample from algo-1: data=(n, d), labels=(n,), NaNs=0`` (any NaN or infinite value
   in the sample fails the job with a ClientError);
3. optional dimension reduction, ``Training index...`` and ``Adding data to index...`` (IVF and PQ
   index types are served by the exact search; a line says so);
4. ``model/model_algo-1`` (see :mod:`.model`);
5. with ``test``: ``Searching index...`` per ``mini_batch_size`` rows, then
   ``#test_score (algo-1) : ('accuracy', V)`` and ``#quality_metric: host=algo-1, test accuracy
   <score>=V`` for a classifier, ``('mse', V)`` and ``test mse <loss>=V`` for a regressor; without
   it, ``Test data is not provided.``

Randomness (sampling keys, projections) comes from one generator seeded per host, so a job is
reproducible.

Several hosts (``InstanceCount`` > 1) join through ``torch.distributed``
(:mod:`..common.distributed`): each draws a reservoir of up to ``sample_size`` rows from its own
records, the primary host merges them (:meth:`~.sampling.Reservoir.merge` keeps the smallest keys
of all, which is a uniform sample of the union), builds the index and writes the model; the model
goes back to every host, which scores its part of ``test``, and the counts are added up across
hosts, so every host logs the job's figures.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from ..common import contract
from ..common.distributed import HostGroup, join_hosts
from ..common.errors import ClientError
from ..common.logs import progress_metric_line, quality_metric_line, score_line, throughput_metric_line
from ..common.training import Channel, TrainingAlgorithm, TrainingEnvironment, iter_channel_batches
from .estimator import KNearestNeighbors, evaluate
from .hyperparameters import SCHEMA
from .model import save_model
from .sampling import Reservoir

logger = logging.getLogger("knn")

NAME = "knn"
SEED = 0
CHANNELS = ("train", "test")
CSV_DEFAULT_LABEL_SIZE = 1


def labelled_batches(channel: Channel, feature_dim: int):
    """(features, labels) per file; a ClientError when a file has no single label per record."""
    for batch in iter_channel_batches(channel, feature_dim, with_labels=True, csv_label_size=CSV_DEFAULT_LABEL_SIZE):
        labels = batch.labels
        if labels is None:
            raise ClientError(f"The records of channel '{channel.name}' have no label; k-NN needs one label per "
                              "record (RecordIO-protobuf: label 'values'; CSV: the first column with label_size=1)")
        if labels.ndim > 1:
            if labels.shape[1] != 1:
                raise ClientError(f"The records of channel '{channel.name}' have {labels.shape[1]} label values; "
                                  "k-NN needs exactly one label per record")
            labels = labels[:, 0]
        yield batch.features, labels


def train(env: TrainingEnvironment) -> None:
    hp = env.hyperparameters
    for name in env.channels:
        if name not in CHANNELS:
            logger.warning("Ignoring channel '%s': k-NN reads only 'train' and 'test'", name)
    train_channel = env.require_channel("train")
    _log_index_settings(hp)
    with join_hosts(env.hosts, env.current_host) as group:
        estimator = _train(env, group, train_channel)
        if env.channel("test") is None:
            logger.info("Test data is not provided.")
            return
        estimator = group.broadcast_object(estimator)
        _evaluate_test(env, group, estimator, hp["mini_batch_size"])


def _train(env: TrainingEnvironment, group: HostGroup, train_channel: Channel) -> KNearestNeighbors | None:
    """Sample, merge the hosts' samples, index and save; the estimator on the primary host, else None."""
    hp = env.hyperparameters
    host = env.current_host
    feature_dim, sample_size = hp["feature_dim"], hp["sample_size"]
    estimator = KNearestNeighbors(
        hp["k"], sample_size=sample_size, predictor_type=hp["predictor_type"],
        dimension_reduction_type=hp["dimension_reduction_type"],
        dimension_reduction_target=hp["dimension_reduction_target"],
        index_metric=hp["index_metric"], index_type=hp["index_type"], random_state=SEED + group.rank)
    logger.info("Using per-worker sample size = %d (sample_size %d, %d host(s))", sample_size, sample_size,
                len(env.hosts))
    if hp["epochs"] > 1:
        logger.info("epochs = %d: the reservoir is drawn in a single pass over the data", hp["epochs"])

    rng = np.random.default_rng(estimator.random_state)
    reservoir = estimator.new_reservoir(rng)
    started = time.perf_counter()
    if train_channel.files or group.size == 1:  # a host may get no object of a ShardedByS3Key channel
        for features, labels in labelled_batches(train_channel, feature_dim):
            reservoir.add(features, labels)
    elapsed = max(time.perf_counter() - started, 1e-9)
    logger.info("processed a total of %d examples", reservoir.rows_seen)
    logger.info(progress_metric_line(host, 100.0))
    logger.info(throughput_metric_line(host, reservoir.rows_seen / elapsed))

    if group.size > 1:
        parts = group.gather_objects(reservoir)
        if parts is None:
            logger.info("Sent a reservoir sample of %d records to %s", min(reservoir.rows_seen, sample_size),
                        group.primary_host)
            return None
        reservoir = Reservoir.merge(parts, size=sample_size)
        logger.info("Merged the reservoir samples of %d hosts (%d records seen)", group.size, reservoir.rows_seen)
        if reservoir.rows_seen == 0:
            raise ClientError(f"No records were found in channel '{train_channel.name}' on any host")
    data, labels = reservoir.sample()
    nans = int(np.count_nonzero(~np.isfinite(data)) + np.count_nonzero(~np.isfinite(labels)))
    logger.info("Got reservoir sample from %s: data=%s, labels=%s, NaNs=%d", host, data.shape, labels.shape, nans)
    if nans:
        raise ClientError(f"The training data contains {nans} NaN or infinite value(s) in the sampled records")
    if data.shape[0] < hp["k"]:
        raise ClientError(f"k ({hp['k']}) is larger than the number of sampled training records ({data.shape[0]})")
    if data.shape[0] < sample_size:
        logger.info("The training data has %d records, fewer than sample_size %d; all of them are used",
                    data.shape[0], sample_size)
    if hp["dimension_reduction_type"]:
        logger.info("Reducing the dimension from %d to %d with '%s'", feature_dim, hp["dimension_reduction_target"],
                    hp["dimension_reduction_type"])
    logger.info("Training index...")
    logger.info("Adding data to index...")
    estimator.fit_sample(data, labels, rng, rows_seen=reservoir.rows_seen)
    del data
    logger.info("Index of %d records with %d dimensions ready (%s, metric %s)", estimator.samples_.shape[0],
                estimator.samples_.shape[1], hp["index_type"], hp["index_metric"])

    env.model_dir.mkdir(parents=True, exist_ok=True)
    path = env.model_dir / contract.model_file_name(host)
    save_model(path, estimator, sample_size=sample_size)
    logger.info("Saved the model to %s", path)
    return estimator


def _log_index_settings(hp: dict) -> None:
    index_type = hp["index_type"]
    if index_type == "faiss.Flat":
        return
    if index_type in ("faiss.IVFFlat", "faiss.IVFPQ"):
        nlists = hp["faiss_index_ivf_nlists"]
        if nlists == "auto":
            nlists = max(1, int(math.sqrt(hp["sample_size"])))
            logger.info("'faiss_index_ivf_nlists' was set to 'auto', evaluated to %d.", nlists)
    if index_type == "faiss.IVFPQ" and hp["faiss_index_pq_m"] is not None:
        dim = hp["dimension_reduction_target"] or hp["feature_dim"]
        if dim % int(hp["faiss_index_pq_m"]):
            logger.info("faiss_index_pq_m = %s does not divide the data dimension %d", hp["faiss_index_pq_m"], dim)
    logger.info("index_type '%s' is served by an exact search: neighbours are exact, without IVF/PQ "
                "approximation", index_type)


def _evaluate_test(env: TrainingEnvironment, group: HostGroup, estimator: KNearestNeighbors,
                   batch_size: int) -> None:
    channel = env.require_channel("test")
    predicted, truth = [], []
    if channel.files or group.size == 1:  # a host may get no object of a ShardedByS3Key channel
        share = group.share(channel.config)
        for features, labels in labelled_batches(channel, estimator.feature_dim_):
            features, labels = features[share], labels[share]
            if not (np.isfinite(features).all() and np.isfinite(labels).all()):
                raise ClientError("The test data contains NaN or infinite values")
            for start in range(0, features.shape[0], batch_size):
                logger.info("Searching index...")
                predicted.append(estimator.predict(features[start:start + batch_size]))
                truth.append(labels[start:start + batch_size])
    rows = sum(len(part) for part in truth)
    mean = evaluate(estimator.predictor_type, np.concatenate(predicted), np.concatenate(truth)) if rows else 0.0
    total, rows = group.all_reduce_sum(np.array([mean * rows, rows], np.float64))
    value = float(total / max(rows, 1))
    host = env.current_host
    if estimator.predictor_type == "classifier":
        name, kind = "accuracy", "score"
    else:
        name, kind = "mse", "loss"
    logger.info(score_line("test", host, name, value))
    logger.info(quality_metric_line(host, "test", name, value, kind=kind))


ALGORITHM = TrainingAlgorithm(NAME, SCHEMA, f"{__package__}.hyperparameters (default-conf)", train)
