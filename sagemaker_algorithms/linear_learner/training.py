"""Linear learner ``train``: channels → :class:`LinearLearner` → ``model/model_algo-1`` and metric lines.

Channels: ``train`` (required), ``validation`` and ``test`` (optional); others are ignored with a
warning. Each is RecordIO-protobuf (float32, float64 or int32 tensors, dense or sparse; the
default when no ContentType is set) or ``text/csv`` whose first column is the label. Every record
needs a label: 0/1 for binary classifiers, 0..num_classes-1 for multiclass classifiers.

Log lines follow the real container's (algorithms.md §4.3), e.g. for a binary classifier::

    #quality_metric: host=algo-1, epoch=0, train binary_classification_cross_entropy_objective <loss>=0.59
    #quality_metric: host=algo-1, epoch=0, validation binary_classification_cross_entropy_objective <loss>=0.50
    #early_stopping_criteria_metric: host=algo-1, epoch=0, criteria=binary_..._objective, value=0.17
    Epoch 0: Loss improved. Updating best model
    #progress_metric: host=algo-1, completed 6.666666666666667 % of epochs
    #throughput_metric: host=algo-1, train throughput=22356.2 records/second
    ...
    Best model found for hyperparameters: {"optimizer": "adam", "learning_rate": 0.01, ...}
    #quality_metric: host=algo-1, train binary_classification_accuracy <score>=0.99
    #validation_score (algo-1) : ('binary_classification_accuracy', 0.99)
    #quality_metric: host=algo-1, validation binary_classification_accuracy <score>=0.99
    #test_score (algo-1) : ('binary_f_1.000', 0.99)   (or "Test data is not provided.")

The per-epoch objective lines report model 0 (as the real container's do); the final lines report
the selected model at its chosen threshold. The real container's per-model ``#metrics`` JSON lines
are left out (see :class:`_EpochLogger`).

Choices where SageMaker is silent: how ``auto`` values resolve (see :mod:`.estimator`); early
stopping watches the best model's validation objective, or without a validation channel the
epoch's training objective (SageMaker documents the training loss then), when the model and its
threshold are also chosen on the training data; metrics that are undefined for a channel (ROC AUC
with one class present) are left out rather than logged as nan.

Several hosts (``InstanceCount`` > 1) join through ``torch.distributed``
(:mod:`..common.distributed`): each trains the stacked models on its own rows, the models are
averaged across hosts after every epoch (as SageMaker's parameter-server ``dist_sync`` training
averages them), and the scaler, losses, early stopping, model selection, threshold and the logged
metrics use every host's rows, so every host logs the same figures; ``algo-1`` writes the model.
"""

from __future__ import annotations

import functools
import json
import logging

import numpy as np

from ..common import contract
from ..common.distributed import HostGroup, join_hosts
from ..common.logs import progress_metric_line, quality_metric_line, score_line, throughput_metric_line
from ..common.training import TrainingAlgorithm, TrainingEnvironment, load_channel
from . import metrics
from .artifact import write_model
from .estimator import EpochReport, LinearLearner, check_features, check_labels
from .hyperparameters import SCHEMA, check_combination

logger = logging.getLogger("linear_learner")

NAME = "linear-learner"
SEED = 0
CHANNELS = ("train", "validation", "test")
CSV_LABEL_SIZE = 1
LOSS_METRICS = ("mse", "rmse", "absolute_loss")


def _load(env: TrainingEnvironment, name: str, feature_dim: int | None, predictor: str, classes: int | None):
    """A channel's features and labels (the estimator checks that train and validation are finite)."""
    batch = load_channel(env.channels[name], feature_dim, with_labels=True, csv_label_size=CSV_LABEL_SIZE)
    check_labels(batch.labels, predictor, classes, name)
    logger.info("Loaded %d records with %d features from channel '%s'", len(batch), batch.features.shape[1], name)
    return batch.features, batch.labels


def train(env: TrainingEnvironment, threads: int = 1) -> None:
    hp = env.hyperparameters
    check_combination(hp)
    for name in env.channels:
        if name not in CHANNELS:
            logger.warning("Ignoring channel '%s': the linear learner reads 'train', 'validation' and 'test'", name)
    env.require_channel("train")
    with join_hosts(env.hosts, env.current_host) as group:
        _train(env, group, threads)


def _train(env: TrainingEnvironment, group: HostGroup, threads: int) -> None:
    hp = env.hyperparameters
    host = env.current_host
    predictor = hp["predictor_type"]
    classes = hp["num_classes"] if predictor == "multiclass_classifier" else None
    feature_dim = None if hp["feature_dim"] == "auto" else hp["feature_dim"]
    X, y = _load(env, "train", feature_dim, predictor, classes)
    feature_dim = X.shape[1]
    X_val = y_val = None
    if "validation" in env.channels:
        X_val, y_val = _load(env, "validation", feature_dim, predictor, classes)

    estimator = LinearLearner.from_hyperparameters(hp, random_state=SEED, threads=threads)
    logger.info("Training %d model(s) with the %s optimizer and the %s loss on %d records of %d features "
                "(%d thread(s))", estimator.resolved_num_models, estimator.resolved_optimizer, estimator.resolved_loss,
                X.shape[0], feature_dim, threads)
    if group.size > 1:
        logger.info("The %d hosts average their models after every epoch", group.size)
    objective = f"{estimator.evaluation_loss().objective_name}_objective"
    reporter = _EpochLogger(host, objective, estimator.epochs)
    estimator.fit(X, y, X_val, y_val, copy=False, on_epoch_end=reporter, group=group)  # scales X and X_val in place
    logger.info("Scaling model computed with parameters: %s", _scaler_summary(estimator))
    if estimator.stopped_early_:
        logger.info("Early stop condition met. Stopping training after %d epoch(s).", estimator.epochs_run_)
    best = estimator.grid_.describe(estimator.selected_model_, estimator.resolved_optimizer, estimator.schedule_)
    del X, X_val

    _report(host, "train", objective,
            channel_metrics(estimator, *group.gather_rows(y, estimator.train_decision_)), echo=False)
    if y_val is not None:
        _report(host, "validation", objective,
                channel_metrics(estimator, *group.gather_rows(y_val, estimator.validation_decision_)))
    logger.info("Best model found for hyperparameters: %s", json.dumps(best))

    if group.is_primary:
        env.model_dir.mkdir(parents=True, exist_ok=True)
        target = env.model_dir / contract.model_file_name(host)
        target.write_bytes(write_model(estimator.model_, extra={"hyperparameters": best, "objective": objective}))
        logger.info("Saved checkpoint to \"%s\"", target)

    if "test" not in env.channels:
        logger.info("Test data is not provided.")
        return
    test = env.channels["test"]
    labels, decision = np.empty(0, np.float32), np.empty(0, np.float64)
    if test.files or group.size == 1:  # a host may get no object of a ShardedByS3Key channel
        X_test, y_test = _load(env, "test", feature_dim, predictor, classes)
        share = group.share(test.config)
        X_test, labels = X_test[share], y_test[share]
        check_features(X_test, "test")
        decision = estimator.model_.decision_function(X_test)
    _report(host, "test", objective, channel_metrics(estimator, *group.gather_rows(labels, decision)))


def channel_metrics(estimator: LinearLearner, labels: np.ndarray, decision: np.ndarray) -> dict[str, float]:
    """The final metrics of one channel, objective first, in the real container's order."""
    model = estimator.model_
    values = {"objective": estimator.objective(decision, labels)}
    scores = model.scores(decision)
    if estimator.predictor_type == "binary_classifier":
        values.update(metrics.binary_metrics(labels, scores, model.threshold, estimator.f_beta))
    elif estimator.predictor_type == "multiclass_classifier":
        top_k = min(estimator.accuracy_top_k, model.num_outputs)
        values.update(metrics.multiclass_metrics(labels, scores, top_k=top_k, beta=estimator.f_beta))
    else:
        values.update(metrics.regression_metrics(labels, decision))
    return values


def _report(host: str, channel: str, objective: str, values: dict[str, float], echo: bool = True) -> None:
    """Echo and metric lines; undefined values (e.g. ROC AUC of a one-class channel) are left out."""
    named = [(objective if name == "objective" else name, value) for name, value in values.items()
             if np.isfinite(value)]
    if echo:
        for name, value in named:
            logger.info(score_line(channel, host, name, value))
    for name, value in named:
        kind = "loss" if name == objective or name in LOSS_METRICS else "score"
        logger.info(quality_metric_line(host, channel, name, value, kind=kind))


class _EpochLogger:
    """Writes the per-epoch lines: objective, early stopping, progress, throughput.

    The real container also prints a ``#metrics`` JSON line per model and epoch (the model's
    objective); we leave those out: the emulator stores every output line as a log event, and
    32 models x 15 epochs x 2 channels of them cost seconds while no metric definition reads them.
    """

    def __init__(self, host: str, objective: str, epochs: int) -> None:
        self.host = host
        self.objective = objective
        self.epochs = epochs

    def __call__(self, report: EpochReport) -> None:
        host, epoch = self.host, report.epoch
        logger.info(quality_metric_line(host, "train", self.objective, report.train_loss, epoch=epoch))
        if report.validation_loss is not None:
            logger.info(quality_metric_line(host, "validation", self.objective, report.validation_loss[0],
                                            epoch=epoch))
        logger.info("#early_stopping_criteria_metric: host=%s, epoch=%d, criteria=%s, value=%r", host, epoch,
                    self.objective, report.criterion)
        if report.improved:
            logger.info("Epoch %d: Loss improved.%s", epoch,
                        " Updating best model" if report.validation_loss is not None else "")
        else:
            logger.info("Epoch %d: Loss has not improved for %d epoch(s)", epoch, report.epochs_without_improvement)
        logger.info(progress_metric_line(host, 100.0 * (epoch + 1) / self.epochs))
        logger.info(throughput_metric_line(host, report.records / max(report.seconds, 1e-9)))


def _scaler_summary(estimator: LinearLearner) -> str:
    def brief(values: np.ndarray) -> str:
        shown = ", ".join(f"{v:.6g}" for v in values[:5])
        return f"[{shown}{', ...' if values.size > 5 else ''}] ({values.size} values)"

    regressor = estimator.predictor_type == "regressor"
    return str({"stdev_weight": brief(estimator.feature_scale_), "mean_weight": brief(estimator.feature_mean_),
                "stdev_label": estimator.label_scale_ if regressor else None,
                "mean_label": estimator.label_mean_ if regressor else None})


def algorithm(threads: int = 1) -> TrainingAlgorithm:
    """The linear learner for :func:`common.training.run_training`, its loop on ``threads`` threads."""
    return TrainingAlgorithm(NAME, SCHEMA, f"{__package__}.hyperparameters (default-input)",
                             functools.partial(train, threads=threads))
