"""SageMaker's linear learner as a small scikit-learn-style estimator.

How it trains (SageMaker developer guide, "How Linear Learner Works", and what real logs show):

1. **Scale.** On the first ``num_point_for_scaler`` rows (the real container reads its first
   mini-batches for this), compute each feature's mean and standard deviation (and the label's, for
   regressors). ``unbias_*`` subtracts the mean, ``normalize_*`` divides by the deviation (zero
   deviations count as 1). Training runs on the scaled data; the saved model has the scaling
   folded into its weights, so it scores raw records.
2. **Train several models at once.** ``num_models`` linear models with different learning rates
   and regularisation (for every hyperparameter left ``auto``) are stacked as the columns of one
   weight matrix ``W`` (d, M*K) (K = number of classes, or 1), so each mini-batch costs two
   matrix products for all of them. Mini-batches of ``mini_batch_size`` rows are read in order
   (SageMaker does not shuffle; shuffle your data); the optimizer is SGD, Adam or RMSProp with an
   optional step-wise learning-rate schedule.
3. **Early stopping.** After every epoch the stopping criterion is checked: with a validation set,
   each model's validation loss (each model keeps its best-epoch weights, and the criterion is the
   best model's); without one, the training objective of the epoch (model 0's, the one logged), as
   SageMaker's ``early_stopping_patience`` documentation says. Training stops when the criterion
   has not improved by a relative ``early_stopping_tolerance`` for ``early_stopping_patience``
   epochs (a patience above ``epochs`` turns it off).
4. **Select.** The best model on the validation set (or the training set without one) wins:
   binary classifiers by ``binary_classifier_model_selection_criteria`` after choosing each model's
   decision threshold for that criterion, multiclass classifiers by accuracy (ties by loss),
   regressors by loss.

How ``auto`` resolves is not published; ours (constants below) were chosen to agree with what real
logs show and to train well: 32 models (a real binary log shows 32), and for multiclass as many
as fit in 128 weight columns (12 for 10 classes); Adam (documented); learning rates spread 1.5
decades around 0.01; weight decay 1e-4..1e-2 (real logs' best models: 1e-4 and 2e-3); L1 0 for
half the models and 1e-7..1e-4 for the rest; ``bias_lr_mult`` 10, ``bias_wd_mult`` 0; the
learning rate falls by a factor 0.75 fifteen times over the run (``lr_scheduler_step`` = updates /
15), never below 1e-5. A learning rate, ``wd`` or ``l1`` given explicitly is used by every model.
The settings are spread by additive low-discrepancy sequences, so no two models share them.
Model 0 always uses the central values, so it is a sensible single model; the per-epoch objective
lines of the real container report model 0's loss, as ours do.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..common.distributed import HostGroup
from ..common.errors import DataError
from .losses import Loss, sigmoid
from .metrics import LOSS_CRITERIA, ThresholdChoice, best_thresholds
from .model import LinearModel
from .optimizers import make_optimizer


AUTO = "auto"

# How 'auto' resolves (SageMaker does not publish these; see the module docstring).
AUTO_NUM_MODELS = 32
AUTO_MULTICLASS_COLUMNS = 128  # auto num_models for multiclass: at most this many weight columns in all
AUTO_OPTIMIZER = "adam"
AUTO_LEARNING_RATE = {"adam": 0.01, "rmsprop": 0.01, "sgd": 0.1}  # model 0's rate
LEARNING_RATE_DECADES = 1.5  # the other models' rates spread this many decades around model 0's
WD_RANGE = (1e-4, 1e-2)  # model 0 gets the (log) centre, 1e-3; real logs' best models show 1e-4 and 2e-3
L1_RANGE = (1e-7, 1e-4)
AUTO_MOMENTUM = 0.9
AUTO_BETA_1 = 0.9
AUTO_BETA_2 = 0.999
AUTO_BIAS_LR_MULT = 10.0
AUTO_BIAS_WD_MULT = 0.0
AUTO_LR_SCHEDULER_DECAYS = 15  # auto lr_scheduler_step: the rate falls this many times over the whole run
AUTO_LR_SCHEDULER_FACTOR = 0.75
AUTO_LR_SCHEDULER_MINIMUM_LR = 1e-5
AUTO_NUM_CALIBRATION_SAMPLES = 10_000_000
_EVAL_BLOCK = 8192
_MIN_CHUNK_ROWS = 256  # smaller row chunks are not worth a thread
_LR_STEP, _WD_STEP, _L1_STEP = 0.6180339887498949, 0.4142135623730951, 0.7320508075688772


def _tri_state(value, auto: bool) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    return auto if text == AUTO else text == "true"


def _auto(value, default):
    return default if value == AUTO or value is None else value


@dataclass
class ModelGrid:
    """Per-model settings: one entry per stacked model."""

    learning_rate: np.ndarray
    wd: np.ndarray
    l1: np.ndarray
    positive_weight: np.ndarray

    @property
    def count(self) -> int:
        return int(self.learning_rate.shape[0])

    def describe(self, index: int, optimizer: str, schedule: tuple[int, float, float]) -> dict:
        step, factor, minimum = schedule
        return {"optimizer": optimizer, "learning_rate": float(self.learning_rate[index]),
                "wd": float(self.wd[index]), "l1": float(self.l1[index]), "lr_scheduler_step": step,
                "lr_scheduler_factor": factor, "lr_scheduler_minimum_lr": minimum}


def _lattice(count: int, step: float) -> np.ndarray:
    """``count`` points of [0, 1) spread evenly by an additive recurrence; point 0 is the centre 0.5.

    Different irrational ``step`` values give sequences that do not move together, so learning
    rates, weight decays and L1 strengths are combined in many different ways across the models.
    """
    return (0.5 + step * np.arange(count)) % 1.0


def _log_spread(count: int, low: float, high: float, step: float) -> np.ndarray:
    return np.exp(np.log(low) + (np.log(high) - np.log(low)) * _lattice(count, step))


@dataclass
class EpochReport:
    epoch: int
    train_loss: float  # model 0's mean training objective over the epoch (label units)
    validation_loss: np.ndarray | None  # (M,) after the epoch, or None without validation data
    criterion: float  # what early stopping watches: the best validation loss, else train_loss
    improved: bool  # did the criterion improve by more than the tolerance
    epochs_without_improvement: int
    records: int
    seconds: float


def check_labels(labels: np.ndarray | None, predictor_type: str, num_classes: int | None, channel: str) -> None:
    """Raise :class:`DataError` for labels the predictor cannot learn from."""
    if labels is None:
        raise DataError(f"The records of channel '{channel}' have no labels; the linear learner needs a label "
                        "per record (the label map of RecordIO-protobuf records, or the first CSV column)")
    if labels.ndim != 1:
        raise DataError(f"The records of channel '{channel}' have {labels.shape[1]} labels each; the linear "
                        "learner expects exactly one")
    if not np.isfinite(labels).all():
        raise DataError(f"Channel '{channel}' has labels that are NaN or infinite")
    if predictor_type == "binary_classifier":
        bad = (labels != 0) & (labels != 1)
        if bad.any():
            raise DataError(f"Channel '{channel}' has label {labels[bad][0]:g}; a binary classifier needs labels "
                            "0 or 1")
    elif predictor_type == "multiclass_classifier":
        bad = (labels != np.floor(labels)) | (labels < 0) | (labels >= num_classes)
        if bad.any():
            raise DataError(f"Channel '{channel}' has label {labels[bad][0]:g}; with num_classes={num_classes} the "
                            f"labels must be integers from 0 to {num_classes - 1}")


def check_features(features: np.ndarray, channel: str) -> None:
    if not np.isfinite(features).all():
        raise DataError(f"Channel '{channel}' has features that are NaN or infinite")


@dataclass(eq=False)
class LinearLearner:
    """Hyperparameters as SageMaker names them (``'auto'`` where SageMaker allows it).

    Fitted attributes: ``model_`` (:class:`LinearModel` in raw space), ``selected_model_``,
    ``threshold_``, ``selection_values_`` (M,), ``grid_`` (:class:`ModelGrid`), ``loss_``,
    ``n_models_``, ``feature_mean_``/``feature_scale_``, ``label_mean_``/``label_scale_``,
    ``epochs_run_``, ``stopped_early_``, ``history_`` (list of :class:`EpochReport`),
    ``train_decision_`` / ``validation_decision_`` (raw decision values of the selected model),
    ``stacked_weights_`` (d, M*K) / ``stacked_biases_`` (M*K,) (every model, in the scaled space;
    :meth:`model_at` turns one into a raw-space :class:`LinearModel`).
    """

    predictor_type: str = "binary_classifier"
    num_classes: int | None = None
    epochs: int = 15
    mini_batch_size: int = 1000
    loss: str = AUTO
    optimizer: str = AUTO
    learning_rate: float | str = AUTO
    use_lr_scheduler: bool = True
    lr_scheduler_step: int | str = AUTO
    lr_scheduler_factor: float | str = AUTO
    lr_scheduler_minimum_lr: float | str = AUTO
    l1: float | str = AUTO
    wd: float | str = AUTO
    momentum: float | str = AUTO
    beta_1: float | str = AUTO
    beta_2: float | str = AUTO
    bias_lr_mult: float | str = AUTO
    bias_wd_mult: float | str = AUTO
    init_method: str = "uniform"
    init_scale: float = 0.07
    init_sigma: float = 0.01
    init_bias: float = 0.0
    normalize_data: bool | str = True
    normalize_label: bool | str = AUTO
    num_point_for_scaler: int = 10000
    unbias_data: bool | str = AUTO
    unbias_label: bool | str = AUTO
    use_bias: bool = True
    num_models: int | str = AUTO
    num_calibration_samples: int | str = AUTO_NUM_CALIBRATION_SAMPLES
    binary_classifier_model_selection_criteria: str = "accuracy"
    f_beta: float = 1.0
    target_precision: float = 0.8
    target_recall: float = 0.8
    positive_example_weight_mult: float | str = 1.0
    balance_multiclass_weights: bool = False
    early_stopping_patience: int = 3
    early_stopping_tolerance: float = 0.001
    margin: float = 1.0
    quantile: float = 0.5
    loss_insensitivity: float = 0.01
    huber_delta: float = 1.0
    accuracy_top_k: int = 3
    random_state: int | None = 0
    threads: int = 1  # worker threads of the training loop; more than 1 only with a single-threaded BLAS

    @classmethod
    def from_hyperparameters(cls, hyperparameters: dict, **overrides) -> "LinearLearner":
        names = set(cls.__dataclass_fields__)
        values = {name: value for name, value in hyperparameters.items() if name in names}
        values.update(overrides)
        return cls(**values)

    # ---------------------------------------------------------------------------------------
    # resolved settings

    @property
    def resolved_loss(self) -> str:
        if self.loss != AUTO:
            return self.loss
        return {"binary_classifier": "logistic", "multiclass_classifier": "softmax_loss"}.get(
            self.predictor_type, "squared_loss")

    @property
    def resolved_optimizer(self) -> str:
        return _auto(self.optimizer, AUTO_OPTIMIZER)

    @property
    def n_outputs(self) -> int:
        return int(self.num_classes) if self.predictor_type == "multiclass_classifier" else 1

    @property
    def resolved_num_models(self) -> int:
        if self.num_models != AUTO:
            return int(self.num_models)
        if self.predictor_type == "multiclass_classifier":
            return int(max(1, min(AUTO_NUM_MODELS, AUTO_MULTICLASS_COLUMNS // self.n_outputs)))
        return AUTO_NUM_MODELS

    def lr_schedule(self, records: int) -> tuple[int, float, float]:
        """(step, factor, minimum) of the learning-rate schedule for ``records`` training rows."""
        updates = self.epochs * -(-records // self.mini_batch_size)
        step = max(1, updates // AUTO_LR_SCHEDULER_DECAYS)
        return (int(_auto(self.lr_scheduler_step, step)),
                float(_auto(self.lr_scheduler_factor, AUTO_LR_SCHEDULER_FACTOR)),
                float(_auto(self.lr_scheduler_minimum_lr, AUTO_LR_SCHEDULER_MINIMUM_LR)))

    def _grid(self, count: int, labels: np.ndarray) -> ModelGrid:
        optimizer = self.resolved_optimizer
        if self.learning_rate == AUTO:
            base = AUTO_LEARNING_RATE[optimizer]
            spread = LEARNING_RATE_DECADES / 2.0
            rates = _log_spread(count, base * 10 ** -spread, base * 10 ** spread, _LR_STEP)
        else:
            rates = np.full(count, float(self.learning_rate))
        wd = _log_spread(count, *WD_RANGE, _WD_STEP) if self.wd == AUTO else np.full(count, float(self.wd))
        if self.l1 == AUTO:
            l1 = np.where(np.arange(count) % 2 == 1, _log_spread(count, *L1_RANGE, _L1_STEP), 0.0)
        else:
            l1 = np.full(count, float(self.l1))
        weights = np.ones(count)
        if self.predictor_type == "binary_classifier":
            positives = float(np.sum(labels > 0.5))
            balanced = (labels.size - positives) / positives if positives else 1.0
            mult = self.positive_example_weight_mult
            if mult == "balanced":
                weights[:] = balanced
            elif mult == AUTO:  # half the models weigh classes as given, half balance them
                weights = np.where(np.arange(count) % 4 >= 2, balanced, 1.0)
            else:
                weights[:] = float(mult)
        return ModelGrid(rates, wd, l1, weights)

    # ---------------------------------------------------------------------------------------
    # fitting

    group_ = HostGroup([], "algo-1")  # the hosts that train together (fit's ``group``); not a field

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
            *, copy: bool = True, on_epoch_end: Callable[[EpochReport], None] | None = None,
            group: HostGroup | None = None) -> "LinearLearner":
        """Train on ``X`` (n, d) and ``y`` (n,); ``copy=False`` lets the scaling overwrite X and X_val.

        With a ``group`` of several hosts, each trains on its own rows and the hosts agree on
        everything else: the scaler's moments, the model grid and schedule come from every host's
        rows, the models are averaged after every epoch, and the losses, early stopping, model
        selection and threshold use every host's rows (so every host ends with the same model).
        """
        self.group_ = group or HostGroup([], "algo-1")
        if self.predictor_type not in ("binary_classifier", "multiclass_classifier", "regressor"):
            raise ValueError(f"Unknown predictor_type {self.predictor_type!r}")
        if self.predictor_type == "multiclass_classifier" and not (self.num_classes and self.num_classes >= 2):
            raise ValueError("A multiclass classifier needs num_classes (2 or more)")
        X = _float32_matrix(X, copy)
        y = np.asarray(y, dtype=np.float32).reshape(-1)
        if X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise DataError(f"Got {X.shape[0]} records but {y.shape[0]} labels")
        check_labels(y, self.predictor_type, self.num_classes, "train")
        has_validation = X_val is not None and y_val is not None and len(y_val) > 0
        if has_validation:
            X_val = _float32_matrix(X_val, copy)
            y_val = np.asarray(y_val, dtype=np.float32).reshape(-1)
            check_labels(y_val, self.predictor_type, self.num_classes, "validation")
        rng = np.random.default_rng(self.random_state)

        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="linear-learner") if self.threads > 1 else None
        try:
            if not has_validation:
                X_val = y_val = None
            return self._fit(X, y, X_val, y_val, rng, pool, on_epoch_end)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _fit(self, X, y, X_val, y_val, rng, pool, on_epoch_end) -> "LinearLearner":
        has_validation = X_val is not None
        self._fit_scaler(X, y, pool)
        _scale_in_place(X, self.feature_mean_, self.feature_scale_, "train", pool)
        y_train = self._scaled_labels(y)
        y_valid = None
        if has_validation:
            _scale_in_place(X_val, self.feature_mean_, self.feature_scale_, "validation", pool)
            y_valid = self._scaled_labels(y_val)

        count = self.resolved_num_models
        self.n_models_ = count
        self.grid_ = self._grid(count, y)
        self.loss_ = self._training_loss()
        self.schedule_ = self.lr_schedule(X.shape[0])
        if self.group_.size > 1:  # the first host's (its class balance and record count)
            self.grid_, self.schedule_ = self.group_.broadcast_object((self.grid_, self.schedule_))
        columns, dim = count * self.n_outputs, X.shape[1]
        if self.init_method == "normal":
            W = rng.normal(0.0, self.init_sigma, size=(dim, columns)).astype(np.float32)
        else:
            W = rng.uniform(-self.init_scale, self.init_scale, size=(dim, columns)).astype(np.float32)
        b = np.full(columns, self.init_bias if self.use_bias else 0.0, np.float32)
        sample_weights = self._sample_weights(y)

        trainer = _Trainer(self, W, b, pool)
        best_W, best_b = self._epochs(trainer, X, y_train, sample_weights, X_val, y_valid, on_epoch_end)
        self.stacked_weights_, self.stacked_biases_ = best_W, best_b
        decisions = self._select(X_val if has_validation else X, y_valid if has_validation else y_train, best_W,
                                 best_b, rng, pool)
        if decisions is not None and not has_validation:  # the selected model's column, already computed
            self.train_decision_ = decisions[:, self.selected_model_].astype(np.float64)
        else:
            self.train_decision_ = self._decision(X, best_W, best_b, self.selected_model_)
        self.validation_decision_ = (self._decision(X_val, best_W, best_b, self.selected_model_)
                                     if has_validation else None)
        return self

    def _epochs(self, trainer: "_Trainer", X, y, sample_weights, X_val, y_val, on_epoch_end
                ) -> tuple[np.ndarray, np.ndarray]:
        """Run the epochs with early stopping (on the validation loss, else on the training
        objective); the weights to select from (each model's best epoch on the validation data, or
        the last epoch's without validation data)."""
        W, b = trainer.W, trainer.b
        has_validation = X_val is not None
        best_W, best_b = W.copy(), b.copy()
        best_losses = np.full(self.n_models_, np.inf)
        best_overall = np.inf
        stale = 0
        self.history_ = []
        self.stopped_early_ = False
        for epoch in range(self.epochs):
            started = time.perf_counter()
            train_loss = trainer.run_epoch(X, y, sample_weights) * self._loss_unit
            if self.group_.size > 1:
                self._average_models(W, b)
                train_loss = float(self._pooled_mean(np.array([train_loss]), X.shape[0])[0])
            validation_loss = None
            criterion = train_loss
            if has_validation:
                validation_loss = self._pooled_mean(self._evaluate(X_val, y_val, W, b, pool=trainer.pool)[0],
                                                    X_val.shape[0])
                better = validation_loss < best_losses
                if better.any():
                    cols = np.repeat(better, self.n_outputs)
                    best_W[:, cols] = W[:, cols]
                    best_b[cols] = b[cols]
                    best_losses = np.where(better, validation_loss, best_losses)
                criterion = float(np.min(validation_loss))
            improved = bool(np.isfinite(criterion) and (
                not np.isfinite(best_overall)
                or (best_overall - criterion) > self.early_stopping_tolerance * abs(best_overall)))
            if improved:
                best_overall, stale = criterion, 0
            else:
                best_overall, stale = min(best_overall, criterion), stale + 1
            report = EpochReport(epoch, train_loss, validation_loss, criterion, improved, stale, X.shape[0],
                                 time.perf_counter() - started)
            self.history_.append(report)
            if on_epoch_end is not None:
                on_epoch_end(report)
            if stale >= self.early_stopping_patience and epoch + 1 < self.epochs:
                self.stopped_early_ = True
                break
        self.epochs_run_ = len(self.history_)
        return (best_W, best_b) if has_validation else (W, b)

    # ---------------------------------------------------------------------------------------
    # pieces of fit

    def _fit_scaler(self, X: np.ndarray, y: np.ndarray, pool: ThreadPoolExecutor | None = None) -> None:
        # the first num_point_for_scaler rows, as the real container reads its first mini-batches for it
        rows = slice(0, self.num_point_for_scaler)
        sample = X[rows]
        unbias = _tri_state(self.unbias_data, self.use_bias)
        normalize = _tri_state(self.normalize_data, True)
        mean, scale = _column_moments(sample, normalize, pool)
        if self.group_.size > 1:
            mean, scale = _pooled_moments(self.group_, sample.shape[0], mean, scale)
        self.feature_mean_ = mean if unbias else np.zeros(X.shape[1])
        if not normalize:
            scale = np.ones(X.shape[1])
        scale[~(scale > 1e-12)] = 1.0
        self.feature_scale_ = scale
        regressor = self.predictor_type == "regressor"
        labels = y[rows]
        label_mean, label_std = float(labels.mean(dtype=np.float64)), float(labels.std(dtype=np.float64))
        if self.group_.size > 1:
            pooled_mean, pooled_std = _pooled_moments(self.group_, labels.shape[0], np.array([label_mean]),
                                                      np.array([label_std]))
            label_mean, label_std = float(pooled_mean[0]), float(pooled_std[0])
        self.label_mean_ = label_mean if (regressor and _tri_state(self.unbias_label, self.use_bias)) else 0.0
        label_scale = label_std if (regressor and _tri_state(self.normalize_label, True)) else 1.0
        self.label_scale_ = label_scale if label_scale > 1e-12 else 1.0

    def _scaled_labels(self, y: np.ndarray) -> np.ndarray:
        if self.predictor_type != "regressor":
            return y
        return ((y - self.label_mean_) / self.label_scale_).astype(np.float32)

    @property
    def _loss_unit(self) -> float:
        """Multiplier from the training label scale to label units."""
        return self.label_scale_ ** self.loss_.scale_power if self.predictor_type == "regressor" else 1.0

    def _training_loss(self) -> Loss:
        scale = self.label_scale_ if self.predictor_type == "regressor" else 1.0
        return Loss(self.resolved_loss, margin=self.margin, quantile=self.quantile,
                    insensitivity=self.loss_insensitivity / scale, delta=self.huber_delta / scale)

    def _sample_weights(self, y: np.ndarray) -> np.ndarray | None:
        """(n, M) per-sample, per-model loss weights, or None when every weight is 1."""
        if self.predictor_type == "binary_classifier":
            weights = self.grid_.positive_weight
            if np.all(weights == 1.0):
                return None
            positive = (y > 0.5)[:, None]
            return np.where(positive, weights[None, :], 1.0).astype(np.float32)
        if self.predictor_type == "multiclass_classifier" and self.balance_multiclass_weights:
            counts = np.bincount(y.astype(np.int64), minlength=self.n_outputs).astype(np.float64)
            class_weight = np.where(counts > 0, y.size / (self.n_outputs * np.maximum(counts, 1)), 1.0)
            return np.repeat(class_weight[y.astype(np.int64)].astype(np.float32)[:, None], self.n_models_, axis=1)
        return None

    def _scores(self, X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        scores = X @ W
        scores += b
        return scores.reshape(X.shape[0], self.n_models_, self.n_outputs) if self.n_outputs > 1 else scores

    def _evaluate(self, X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, *, accuracy: bool = False,
                  keep_scores: bool = False, pool: ThreadPoolExecutor | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """One pass over scaled rows in blocks (on the pool's threads when given): each model's mean
        loss (label units, NaN as inf), optionally each multiclass model's accuracy and the stacked
        scores (n, M) of binary models."""
        count = X.shape[0]
        kept = np.empty((count, self.n_models_), np.float32) if keep_scores else None

        def block(start: int) -> tuple[np.ndarray, np.ndarray | None]:
            rows = slice(start, start + _EVAL_BLOCK)
            with np.errstate(all="ignore"):
                scores = self._scores(X[rows], W, b)
                correct = (np.sum(np.argmax(scores, axis=2) == y[rows, None].astype(np.int64), axis=0)
                           if accuracy else None)
                if kept is not None:
                    kept[rows] = scores
                return self.loss_.total(scores, y[rows]), correct

        starts = range(0, count, _EVAL_BLOCK)
        parts = list(pool.map(block, starts) if pool is not None else map(block, starts))
        with np.errstate(all="ignore"):
            mean = np.sum([part[0] for part in parts], axis=0) / count * self._loss_unit
        mean = np.where(np.isfinite(mean), mean, np.inf)
        correct = np.sum([part[1] for part in parts], axis=0) / count if accuracy else None
        return mean, correct, kept

    def _select(self, X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                pool: ThreadPoolExecutor | None = None) -> np.ndarray | None:
        """Choose the model (and binary threshold) on the given rows; returns the stacked binary
        decision values when they were computed for every row, else None."""
        limit = int(_auto(self.num_calibration_samples, AUTO_NUM_CALIBRATION_SAMPLES))
        sampled = X.shape[0] > limit
        if sampled:
            rows = np.sort(rng.choice(X.shape[0], limit, replace=False))
            X, y = X[rows], y[rows]
        criterion = self.binary_classifier_model_selection_criteria
        thresholds_wanted = self.predictor_type == "binary_classifier" and criterion not in LOSS_CRITERIA
        multiclass = self.predictor_type == "multiclass_classifier"
        losses, accuracies, decisions = self._evaluate(X, y, W, b, accuracy=multiclass, keep_scores=thresholds_wanted,
                                                       pool=pool)
        own_decisions = decisions
        if self.group_.size > 1:
            losses = self._pooled_mean(losses, X.shape[0])
            if multiclass:
                accuracies = self._pooled_mean(accuracies, X.shape[0])
            if thresholds_wanted:  # the threshold is chosen on every host's rows
                y, decisions = self.group_.gather_rows(y, decisions)
        if not np.isfinite(losses).any():
            raise FloatingPointError("Every model diverged (the loss is NaN or infinite); lower the learning rate "
                                     "or normalize the data")
        threshold = None
        if thresholds_wanted:
            choice = _thresholds(y, decisions, criterion, pool, self.threads, beta=self.f_beta,
                                 target_precision=self.target_precision, target_recall=self.target_recall)
            values = np.where(np.isfinite(losses), choice.values, -np.inf)
            selected = _best(values, losses)
            threshold = float(choice.thresholds[selected])
            if self.resolved_loss == "logistic":  # the score is a probability
                threshold = float(sigmoid(np.float64(threshold)))
        elif multiclass:
            values = np.where(np.isfinite(losses), accuracies, -np.inf)
            selected = _best(values, losses)
        else:
            values = -losses
            selected = int(np.argmin(losses))
        self.selection_values_ = values
        self.selection_losses_ = losses
        self.selected_model_ = selected
        coef, intercept = self._raw_parameters(W, b, selected)
        self.model_ = LinearModel(coef, intercept, self.predictor_type, self.resolved_loss, threshold)
        self.threshold_ = self.model_.threshold
        return None if sampled else own_decisions

    def _average_models(self, W: np.ndarray, b: np.ndarray) -> None:
        """Every host's models replaced by their mean across hosts (in place)."""
        size = self.group_.size
        flat = self.group_.all_reduce_sum(np.concatenate([W.ravel(), b]).astype(np.float64)) / size
        W[...] = flat[:W.size].reshape(W.shape)
        b[...] = flat[W.size:]

    def _pooled_mean(self, means: np.ndarray, count: int) -> np.ndarray:
        """Per-host means over ``count`` rows made into the mean over every host's rows."""
        values = np.asarray(means, dtype=np.float64)
        finite = np.where(np.isfinite(values), values, 0.0)
        sums = self.group_.all_reduce_sum(np.concatenate([finite * count, ~np.isfinite(values), [count]]))
        total = max(sums[-1], 1.0)
        pooled = sums[:values.size] / total
        return np.where(sums[values.size:-1] > 0, np.inf, pooled)

    def _raw_parameters(self, W: np.ndarray, b: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Fold the feature and label scaling into one model's weights: (K, d) and (K,) in raw space."""
        cols = slice(index * self.n_outputs, (index + 1) * self.n_outputs)
        weights = W[:, cols].astype(np.float64) / self.feature_scale_[:, None]
        bias = b[cols].astype(np.float64) - self.feature_mean_ @ weights
        weights *= self.label_scale_
        bias = bias * self.label_scale_ + self.label_mean_
        return weights.T, bias

    def _decision(self, X_scaled: np.ndarray, W: np.ndarray, b: np.ndarray, index: int) -> np.ndarray:
        """Raw decision values of one model for scaled rows (label units)."""
        cols = slice(index * self.n_outputs, (index + 1) * self.n_outputs)
        decision = (X_scaled @ W[:, cols]).astype(np.float64) + b[cols]
        decision = decision * self.label_scale_ + self.label_mean_
        return decision[:, 0] if self.n_outputs == 1 else decision

    # ---------------------------------------------------------------------------------------
    # after fitting

    def model_at(self, index: int, threshold: float | None = None) -> LinearModel:
        coef, intercept = self._raw_parameters(self.stacked_weights_, self.stacked_biases_, index)
        return LinearModel(coef, intercept, self.predictor_type, self.resolved_loss, threshold)

    def evaluation_loss(self) -> Loss:
        """The loss in label units (its parameters as given), for scoring raw decision values."""
        return Loss(self.resolved_loss, margin=self.margin, quantile=self.quantile,
                    insensitivity=self.loss_insensitivity, delta=self.huber_delta)

    def objective(self, decision: np.ndarray, labels: np.ndarray) -> float:
        """Mean loss of raw decision values (n,) or (n, K) against raw labels."""
        decision = np.asarray(decision, dtype=np.float64)
        scores = decision[:, None, :] if decision.ndim == 2 else decision[:, None]
        with np.errstate(all="ignore"):
            return float(self.evaluation_loss().total(scores, np.asarray(labels))[0] / max(len(labels), 1))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.model_.decision_function(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        outputs = self.model_.outputs(self.model_.decision_function(X))
        return outputs.get("predicted_label", outputs["score"])


def _best(values: np.ndarray, losses: np.ndarray) -> int:
    """Index of the highest value; among (near) equal values the lowest loss."""
    top = np.max(values)
    candidates = np.flatnonzero(values >= top - 1e-12)
    return int(candidates[np.argmin(losses[candidates])])


def _pooled_moments(group: HostGroup, count: int, mean: np.ndarray, deviation: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """Every host's (count, column means, column standard deviations) pooled into the moments of
    all their rows."""
    mean = np.asarray(mean, dtype=np.float64)
    second = mean ** 2 + (np.asarray(deviation, dtype=np.float64) ** 2 if deviation is not None else 0.0)
    sums = group.all_reduce_sum(np.concatenate([[count], count * mean, count * second]))
    total = max(sums[0], 1.0)
    width = mean.size
    pooled_mean = sums[1:1 + width] / total
    if deviation is None:
        return pooled_mean, None
    variance = np.maximum(sums[1 + width:] / total - pooled_mean ** 2, 0.0)
    return pooled_mean, np.sqrt(variance)


def _column_moments(sample: np.ndarray, deviation: bool, pool: ThreadPoolExecutor | None = None,
                    block: int = 512) -> tuple[np.ndarray, np.ndarray | None]:
    """Each column's mean and (when ``deviation``) standard deviation (float64, two passes over
    cache-sized row blocks, on the pool's threads when given; the deviations around the mean)."""
    count = sample.shape[0]
    starts = range(0, count, block)
    run = pool.map if pool is not None else map
    mean = np.sum(list(run(lambda start: sample[start:start + block].sum(axis=0, dtype=np.float64), starts)),
                  axis=0) / max(count, 1)
    if not deviation:
        return mean, None
    shift = mean.astype(np.float32)

    def squares(start: int) -> np.ndarray:
        part = sample[start:start + block] - shift
        np.square(part, out=part)
        return part.sum(axis=0, dtype=np.float64)

    return mean, np.sqrt(np.sum(list(run(squares, starts)), axis=0) / max(count, 1))


def _thresholds(labels: np.ndarray, decisions: np.ndarray, criterion: str, pool: ThreadPoolExecutor | None,
                threads: int, **options) -> ThresholdChoice:
    """:func:`best_thresholds` of every model, the models split between the pool's threads."""
    models = decisions.shape[1]
    parts = min(models, threads) if pool is not None else 1
    if parts <= 1:
        return best_thresholds(labels, decisions, criterion, **options)
    bounds = [models * i // parts for i in range(parts + 1)]
    choices = list(pool.map(lambda i: best_thresholds(labels, decisions[:, bounds[i]:bounds[i + 1]], criterion,
                                                      **options), range(parts)))
    return ThresholdChoice(np.concatenate([c.thresholds for c in choices]),
                           np.concatenate([c.values for c in choices]))


def _float32_matrix(X, copy: bool) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise DataError("expected a 2-D array of records")
    if copy or X.dtype != np.float32 or not X.flags.c_contiguous or not X.flags.writeable:
        return np.array(X, dtype=np.float32, order="C", copy=True)
    return X


def _scale_in_place(X: np.ndarray, mean: np.ndarray, scale: np.ndarray, channel: str,
                    pool: ThreadPoolExecutor | None = None, block: int = 256) -> None:
    """``X = (X - mean) / scale`` in place, in cache-sized row blocks (on the pool's threads when
    given), checking on the way that every value is finite (:class:`DataError` otherwise)."""
    shift = mean.astype(np.float32)
    inverse = (1.0 / scale).astype(np.float32)
    centre = bool(np.any(shift))
    rescale = bool(np.any(inverse != 1.0))

    def rows(start: int) -> bool:
        finite = True
        for first in range(start, min(start + 64 * block, X.shape[0]), block):
            part = X[first:first + block]
            if centre:
                part -= shift
            if rescale:
                part *= inverse
            finite = finite and bool(np.isfinite(part).all())
        return finite

    starts = range(0, X.shape[0], 64 * block)
    if not all(pool.map(rows, starts) if pool is not None else map(rows, starts)):
        raise DataError(f"Channel '{channel}' has features that are NaN or infinite")


class _Trainer:
    """The mini-batch loop: forward, loss gradient, backward and optimizer step for all models.

    With ``threads > 1`` each mini-batch is split into row chunks whose scores and gradients are
    computed on worker threads (NumPy releases the GIL inside BLAS and ufunc loops) and summed, so
    several cores work without a multithreaded BLAS, whose spinning threads stall whenever another
    process takes a core. Use it only with a single-threaded BLAS (see
    ``sagemaker_algorithms.linear_learner._training_threads``).
    """

    def __init__(self, learner: LinearLearner, W: np.ndarray, b: np.ndarray,
                 pool: ThreadPoolExecutor | None = None) -> None:
        self.learner = learner
        self.W, self.b = W, b
        grid = learner.grid_
        outputs = learner.n_outputs
        self.base_rates = np.repeat(grid.learning_rate, outputs).astype(np.float64)
        self.wd = np.repeat(grid.wd, outputs).astype(np.float32)
        self.l1 = np.repeat(grid.l1, outputs).astype(np.float32)
        self.use_l1 = bool(np.any(self.l1))
        self.bias_lr_mult = float(_auto(learner.bias_lr_mult, AUTO_BIAS_LR_MULT))
        self.bias_wd = (self.wd * float(_auto(learner.bias_wd_mult, AUTO_BIAS_WD_MULT))).astype(np.float32)
        self.use_bias_wd = bool(np.any(self.bias_wd))
        self.optimizer = make_optimizer(
            learner.resolved_optimizer, [W.shape, b.shape],
            momentum=float(_auto(learner.momentum, AUTO_MOMENTUM)),
            beta_1=float(_auto(learner.beta_1, AUTO_BETA_1)), beta_2=float(_auto(learner.beta_2, AUTO_BETA_2)))
        self.schedule = learner.schedule_ if learner.use_lr_scheduler else None
        self._rates_at = -1
        self.pool = pool
        self.threads = max(1, int(learner.threads)) if pool is not None else 1

    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-column learning rates of the weights and of the biases for the next update."""
        decays = self.optimizer.updates // self.schedule[0] if self.schedule is not None else 0
        if decays != self._rates_at:
            rates = self.base_rates
            if self.schedule is not None:
                _, factor, minimum = self.schedule
                rates = np.maximum(rates * factor ** decays, np.minimum(minimum, rates))
            weight_rates = rates.astype(np.float32)
            self._rates = weight_rates, (weight_rates * self.bias_lr_mult).astype(np.float32)
            self._rates_at = decays
        return self._rates

    def run_epoch(self, X: np.ndarray, y: np.ndarray, sample_weights: np.ndarray | None) -> float:
        """One pass over the data; returns model 0's mean training loss (each batch's before its update)."""
        learner = self.learner
        W, b = self.W, self.b
        batch = learner.mini_batch_size
        count = X.shape[0]
        total = np.zeros(1)
        scratch = np.empty_like(W)
        with np.errstate(all="ignore"):
            for start in range(0, count, batch):
                stop = min(start + batch, count)
                values, grad_W, grad_b = self._batch_gradient(X, y, sample_weights, start, stop)
                total += values
                grad_W += np.multiply(self.wd, W, out=scratch)
                if self.use_l1:
                    np.sign(W, out=scratch)
                    scratch *= self.l1
                    grad_W += scratch
                if self.use_bias_wd:
                    grad_b += self.bias_wd * b
                weight_rates, bias_rates = self.rates()
                if learner.use_bias:
                    self.optimizer.step([W, b], [grad_W, grad_b], [weight_rates, bias_rates])
                else:  # the biases stay at zero
                    self.optimizer.step([W], [grad_W], [weight_rates])
        return float(total[0] / count)

    def _batch_gradient(self, X, y, sample_weights, start: int, stop: int):
        """Model 0's summed loss and the mean gradients of rows start:stop, split across the worker threads."""
        scale = np.float32(1.0 / (stop - start))
        chunks = min(self.threads, (stop - start) // _MIN_CHUNK_ROWS) if self.pool is not None else 1
        if chunks <= 1:
            return self._part(X, y, sample_weights, start, stop, scale)
        bounds = [start + (stop - start) * i // chunks for i in range(chunks + 1)]
        futures = [self.pool.submit(self._part, X, y, sample_weights, bounds[i], bounds[i + 1], scale)
                   for i in range(1, chunks)]
        values, grad_W, grad_b = self._part(X, y, sample_weights, bounds[0], bounds[1], scale)
        for future in futures:
            more_values, more_W, more_b = future.result()
            values += more_values
            grad_W += more_W
            grad_b += more_b
        return values, grad_W, grad_b

    def _part(self, X, y, sample_weights, start: int, stop: int, scale: np.float32):
        learner = self.learner
        xb = X[start:stop]
        weights = None if sample_weights is None else sample_weights[start:stop]
        with np.errstate(all="ignore"):
            values, gradient = learner.loss_.total_and_gradient(learner._scores(xb, self.W, self.b), y[start:stop],
                                                                weights, loss_models=1, overwrite=True)
            gradient = np.asarray(gradient, dtype=np.float32).reshape(stop - start, -1)
            gradient *= scale
            return values, xb.T @ gradient, gradient.sum(axis=0)
