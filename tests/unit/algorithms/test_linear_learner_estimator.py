"""The linear learner estimator: each predictor type learns, model selection, thresholds, early
stopping, normalisation folded into the saved weights, and the losses' gradients."""

from __future__ import annotations

import numpy as np
import pytest

from sagemaker_algorithms.common.errors import DataError
from sagemaker_algorithms.linear_learner.estimator import LinearLearner, _Trainer, check_labels
from sagemaker_algorithms.linear_learner.losses import Loss
from sagemaker_algorithms.linear_learner.metrics import best_thresholds

FAST = {"mini_batch_size": 100, "epochs": 8, "num_models": 8}


@pytest.fixture(scope="module")
def zeros(digits):
    """Digit 0 against the rest: (train X, train y, test X, test y)."""
    X, y = digits
    labels = (y == 0).astype(np.float32)
    return X[:1300], labels[:1300], X[1300:], labels[1300:]


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(1500, 6)).astype(np.float32) * [1, 10, 100, 0.1, 5, 1] + [0, 50, -300, 1, 0, 7]
    weights = np.array([2.0, -0.3, 0.01, 15.0, 0.5, -1.0])
    y = (X @ weights + 40.0 + rng.normal(scale=0.5, size=1500)).astype(np.float32)
    return X, y, weights


def accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def test_binary_classifier_learns_digit_zero(zeros):
    X, y, X_test, y_test = zeros
    learner = LinearLearner("binary_classifier", **FAST).fit(X, y)
    assert accuracy(learner, X_test, y_test) > 0.98
    outputs = learner.model_.predict(X_test)
    assert set(np.unique(outputs["predicted_label"])) <= {0, 1}
    assert np.all((outputs["score"] >= 0) & (outputs["score"] <= 1))
    assert learner.epochs_run_ == 8 and not learner.stopped_early_ and len(learner.history_) == 8
    # the saved (raw-space) model reproduces the decision values computed on the scaled data
    np.testing.assert_allclose(learner.model_.decision_function(X), learner.train_decision_, rtol=1e-4, atol=1e-4)


def test_multiclass_classifier_learns_digits(digits):
    X, y = digits
    learner = LinearLearner("multiclass_classifier", num_classes=10, **FAST).fit(X[:1300], y[:1300])
    assert accuracy(learner, X[1300:], y[1300:]) > 0.9
    scores = learner.model_.predict(X[1300:])["score"]
    assert scores.shape == (len(X) - 1300, 10)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    assert learner.model_.coef.shape == (10, 64)


def test_regressor_learns_a_linear_function(regression):
    X, y, weights = regression
    learner = LinearLearner("regressor", **FAST).fit(X, y)
    np.testing.assert_allclose(learner.model_.coef[0], weights, rtol=0.05, atol=0.02)
    assert learner.model_.intercept[0] == pytest.approx(40.0, abs=1.0)
    assert np.sqrt(np.mean((learner.predict(X) - y) ** 2)) < 1.0
    assert learner.label_scale_ == pytest.approx(float(np.std(y[:10000])), rel=0.05)


@pytest.mark.parametrize("loss", ["absolute_loss", "eps_insensitive_squared_loss", "eps_insensitive_absolute_loss",
                                  "huber_loss", "quantile_loss"])
def test_every_regression_loss_learns(regression, loss):
    X, y, _ = regression
    learner = LinearLearner("regressor", loss=loss, **FAST).fit(X, y)
    assert np.sqrt(np.mean((learner.predict(X) - y) ** 2)) < 2.0


def test_quantile_loss_fits_the_quantile(regression):
    X, y, _ = regression
    learner = LinearLearner("regressor", loss="quantile_loss", quantile=0.9, mini_batch_size=100, epochs=15,
                            num_models=4).fit(X, y)
    assert np.mean(y <= learner.predict(X)) == pytest.approx(0.9, abs=0.05)


def test_hinge_loss_scores_are_margins(zeros):
    X, y, X_test, y_test = zeros
    learner = LinearLearner("binary_classifier", loss="hinge_loss", **FAST).fit(X, y)
    assert accuracy(learner, X_test, y_test) > 0.97
    scores = learner.model_.predict(X_test)["score"]
    assert scores.min() < -1.0 and scores.max() > 1.0  # not probabilities
    default = LinearLearner("binary_classifier", loss="hinge_loss",
                            binary_classifier_model_selection_criteria="loss_function", **FAST).fit(X, y)
    assert default.threshold_ == 0.0


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_every_optimizer_learns(zeros, optimizer):
    X, y, X_test, y_test = zeros
    assert accuracy(LinearLearner("binary_classifier", optimizer=optimizer, **FAST).fit(X, y), X_test, y_test) > 0.97


def test_fixed_settings_and_sgd_momentum(zeros):
    X, y, X_test, y_test = zeros
    learner = LinearLearner("binary_classifier", optimizer="sgd", learning_rate=0.05, momentum=0.5, wd=0.0, l1=0.0,
                            use_lr_scheduler=False, init_method="normal", **FAST).fit(X, y)
    assert accuracy(learner, X_test, y_test) > 0.97
    grid = learner.grid_
    assert np.all(grid.learning_rate == 0.05) and np.all(grid.wd == 0) and np.all(grid.l1 == 0)


def test_models_get_different_settings_and_model_zero_is_central(zeros):
    X, y, _, _ = zeros
    learner = LinearLearner("binary_classifier", mini_batch_size=200, epochs=2, num_models=6).fit(X, y)
    grid = learner.grid_
    assert grid.count == learner.n_models_ == 6
    assert grid.learning_rate[0] == pytest.approx(0.01) and grid.wd[0] == pytest.approx(1e-3) and grid.l1[0] == 0
    assert len(set(np.round(grid.learning_rate, 8))) == 6 and len(set(np.round(grid.wd, 8))) == 6
    assert learner.stacked_weights_.shape == (64, 6)
    assert LinearLearner("multiclass_classifier", num_classes=10).resolved_num_models == 12
    assert LinearLearner("binary_classifier").resolved_num_models == 32


def test_selection_picks_the_best_model_on_validation(zeros):
    X, y, X_val, y_val = zeros
    learner = LinearLearner("binary_classifier", **FAST).fit(X, y, X_val, y_val)
    accuracies = []
    for index in range(learner.n_models_):
        decision = learner.model_at(index).decision_function(X_val)
        accuracies.append(best_thresholds(y_val, decision[:, None], "accuracy").values[0])
    assert learner.selection_values_ == pytest.approx(np.array(accuracies))
    assert accuracies[learner.selected_model_] == max(accuracies)
    selected = learner.model_at(learner.selected_model_)
    np.testing.assert_allclose(selected.coef, learner.model_.coef)
    predicted = learner.model_.predict(X_val)["predicted_label"]
    assert np.mean(predicted == y_val) == pytest.approx(max(accuracies))


@pytest.mark.parametrize("criterion, check", [
    ("precision_at_target_recall", lambda tp, fp, fn: tp / (tp + fn) >= 0.9),
    ("recall_at_target_precision", lambda tp, fp, fn: tp / (tp + fp) >= 0.95),
])
def test_threshold_follows_the_criterion(zeros, criterion, check):
    X, y, X_val, y_val = zeros
    learner = LinearLearner("binary_classifier", binary_classifier_model_selection_criteria=criterion,
                            target_recall=0.9, target_precision=0.95, **FAST).fit(X, y, X_val, y_val)
    predicted = learner.model_.predict(X_val)["predicted_label"] == 1
    truth = y_val == 1
    tp, fp, fn = np.sum(predicted & truth), np.sum(predicted & ~truth), np.sum(~predicted & truth)
    assert check(tp, fp, fn)


def test_f_beta_and_loss_criteria(zeros):
    X, y, X_val, y_val = zeros
    f_beta = LinearLearner("binary_classifier", binary_classifier_model_selection_criteria="f_beta", f_beta=2.0,
                           **FAST).fit(X, y, X_val, y_val)
    predicted = f_beta.model_.predict(X_val)["predicted_label"]
    tp = np.sum((predicted == 1) & (y_val == 1))
    fp, fn = np.sum((predicted == 1) & (y_val == 0)), np.sum((predicted == 0) & (y_val == 1))
    assert f_beta.selection_values_[f_beta.selected_model_] == pytest.approx(5 * tp / (5 * tp + 4 * fn + fp))
    by_loss = LinearLearner("binary_classifier", binary_classifier_model_selection_criteria="cross_entropy_loss",
                            **FAST).fit(X, y, X_val, y_val)
    assert by_loss.threshold_ == 0.5
    assert by_loss.selected_model_ == int(np.argmin(by_loss.selection_losses_))


def test_early_stopping_on_validation_loss(zeros):
    X, y, X_val, y_val = zeros
    learner = LinearLearner("binary_classifier", mini_batch_size=100, epochs=10, num_models=4,
                            early_stopping_patience=1, early_stopping_tolerance=0.9).fit(X, y, X_val, y_val)
    assert learner.stopped_early_ and learner.epochs_run_ == 2
    assert [report.improved for report in learner.history_] == [True, False]
    # each model keeps the weights of its best validation epoch
    best = np.min([report.validation_loss for report in learner.history_], axis=0)
    np.testing.assert_allclose(learner.selection_losses_, best, rtol=1e-5)
    assert [report.criterion for report in learner.history_] == [float(np.min(report.validation_loss))
                                                                  for report in learner.history_]


def noise_regression(seed: int = 5, rows: int = 2000):
    """Labels that the features do not explain: the training objective flattens after an epoch or two."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 5)).astype(np.float32), rng.normal(size=rows).astype(np.float32)


def test_early_stopping_on_the_training_objective_without_validation():
    X, y = noise_regression()
    learner = LinearLearner("regressor", mini_batch_size=100, epochs=30, num_models=4).fit(X, y)
    assert learner.stopped_early_ and 4 <= learner.epochs_run_ < 30
    history = learner.history_
    assert all(report.validation_loss is None and report.criterion == report.train_loss for report in history)
    assert [report.improved for report in history[-3:]] == [False, False, False]  # patience 3
    best = min(report.train_loss for report in history[:-3])
    assert all(report.train_loss > best * (1 - learner.early_stopping_tolerance) for report in history[-3:])
    # a patience above the number of epochs turns early stopping off
    patient = LinearLearner("regressor", mini_batch_size=100, epochs=30, num_models=4,
                            early_stopping_patience=31).fit(X, y)
    assert patient.epochs_run_ == 30 and not patient.stopped_early_


def test_normalisation_makes_the_model_scale_invariant(zeros):
    X, y, X_test, _ = zeros
    plain = LinearLearner("binary_classifier", **FAST).fit(X, y)
    moved = LinearLearner("binary_classifier", **FAST).fit(X * 1000.0 + 50.0, y)
    np.testing.assert_allclose(moved.model_.decision_function(X_test * 1000.0 + 50.0),
                               plain.model_.decision_function(X_test), rtol=1e-3, atol=1e-3)
    assert moved.feature_scale_[5] == pytest.approx(1000.0 * plain.feature_scale_[5], rel=1e-4)
    raw = LinearLearner("binary_classifier", normalize_data="false", unbias_data="false", **FAST).fit(X, y)
    assert np.all(raw.feature_mean_ == 0) and np.all(raw.feature_scale_ == 1)


def test_scaler_uses_num_point_for_scaler_rows(regression):
    X, y, _ = regression
    learner = LinearLearner("regressor", num_point_for_scaler=100, **FAST).fit(X, y)
    assert learner.feature_scale_[2] == pytest.approx(100.0, rel=0.25)
    assert learner.feature_scale_[2] != pytest.approx(float(X[:, 2].std()), rel=1e-6)
    unscaled = LinearLearner("regressor", normalize_label=False, unbias_label=False, learning_rate=0.1,
                             mini_batch_size=100, epochs=20, num_models=4).fit(X, y)
    assert unscaled.label_scale_ == 1.0 and unscaled.label_mean_ == 0.0
    assert np.sqrt(np.mean((unscaled.predict(X) - y) ** 2)) < 2.0


def test_without_bias(zeros):
    X, y, X_test, y_test = zeros
    learner = LinearLearner("binary_classifier", use_bias=False, **FAST).fit(X, y)
    assert np.all(learner.feature_mean_ == 0) and learner.model_.intercept[0] == 0.0
    assert accuracy(learner, X_test, y_test) > 0.9


def test_positive_example_weights(zeros):
    X, y, _, _ = zeros
    positives = float(y.sum())
    balanced = (len(y) - positives) / positives
    assert np.allclose(LinearLearner("binary_classifier", positive_example_weight_mult="balanced", **FAST)
                       .fit(X, y).grid_.positive_weight, balanced)
    mixed = LinearLearner("binary_classifier", positive_example_weight_mult="auto", **FAST).fit(X, y)
    assert sorted(set(np.round(mixed.grid_.positive_weight, 6))) == [1.0, round(balanced, 6)]
    heavy = LinearLearner("binary_classifier", positive_example_weight_mult=50.0, num_models=1, mini_batch_size=100,
                          epochs=3, binary_classifier_model_selection_criteria="loss_function").fit(X, y)
    light = LinearLearner("binary_classifier", num_models=1, mini_batch_size=100, epochs=3,
                          binary_classifier_model_selection_criteria="loss_function").fit(X, y)
    assert heavy.model_.predict(X)["score"].mean() > light.model_.predict(X)["score"].mean()


def test_balanced_multiclass_weights(digits):
    X, y = digits
    keep = (y != 3) | (np.arange(len(y)) % 10 == 0)  # make class 3 rare
    learner = LinearLearner("multiclass_classifier", num_classes=10, balance_multiclass_weights=True, **FAST)
    learner.fit(X[keep], y[keep])
    weights = learner._sample_weights(y[keep].astype(np.float32))
    assert weights.shape == (keep.sum(), 8)
    assert weights[y[keep] == 3, 0][0] > 5 * weights[y[keep] == 1, 0][0]


def test_bad_estimator_settings(zeros):
    X, y, _, _ = zeros
    with pytest.raises(ValueError, match="needs num_classes"):
        LinearLearner("multiclass_classifier").fit(X, y)
    with pytest.raises(ValueError, match="Unknown predictor_type"):
        LinearLearner("ranker").fit(X, y)
    with pytest.raises(DataError, match="features that are NaN"):
        LinearLearner("binary_classifier", **FAST).fit(np.where(X > 0.9, np.nan, X), y)
    with pytest.raises(DataError, match="1300 records but 5 labels"):
        LinearLearner("binary_classifier").fit(X, y[:5])


def test_same_seed_same_model(zeros):
    X, y, _, _ = zeros
    first = LinearLearner("binary_classifier", **FAST).fit(X, y)
    second = LinearLearner("binary_classifier", **FAST).fit(X, y)
    np.testing.assert_array_equal(first.model_.coef, second.model_.coef)
    assert first.threshold_ == second.threshold_


def test_fit_leaves_the_input_alone_unless_asked(zeros):
    X, y, _, _ = zeros
    original = X.copy()
    LinearLearner("binary_classifier", **FAST).fit(X, y)
    np.testing.assert_array_equal(X, original)
    work = X.copy()
    LinearLearner("binary_classifier", **FAST).fit(work, y, copy=False)
    assert not np.array_equal(work, original)  # scaled in place


@pytest.mark.parametrize("predictor, labels, message", [
    ("binary_classifier", np.array([0, 1, 2.0]), "has label 2; a binary classifier needs labels 0 or 1"),
    ("multiclass_classifier", np.array([0, 1.5, 2]), "has label 1.5; with num_classes=3 the labels must be integers"),
    ("multiclass_classifier", np.array([0, 3, 2.0]), "has label 3;"),
    ("regressor", np.array([0, np.nan, 2]), "labels that are NaN or infinite"),
])
def test_bad_labels(predictor, labels, message):
    with pytest.raises(DataError, match=message):
        check_labels(labels.astype(np.float32), predictor, 3, "train")
    with pytest.raises(DataError, match="have no labels"):
        check_labels(None, predictor, 3, "train")


@pytest.mark.parametrize("loss, shape", [
    (Loss("logistic"), (7, 3)), (Loss("hinge_loss", margin=0.5), (7, 3)), (Loss("softmax_loss"), (7, 3, 4)),
    (Loss("squared_loss"), (7, 3)), (Loss("absolute_loss"), (7, 3)),
    (Loss("eps_insensitive_squared_loss", insensitivity=0.3), (7, 3)),
    (Loss("eps_insensitive_absolute_loss", insensitivity=0.3), (7, 3)),
    (Loss("quantile_loss", quantile=0.3), (7, 3)), (Loss("huber_loss", delta=0.5), (7, 3)),
])
def test_loss_gradients_match_finite_differences(loss, shape):
    rng = np.random.default_rng(2)
    scores = rng.normal(size=shape) * 2
    if loss.name in ("logistic", "hinge_loss"):
        labels = (rng.random(shape[0]) < 0.5).astype(np.float64)
    elif loss.name == "softmax_loss":
        labels = rng.integers(0, shape[2], shape[0]).astype(np.float64)
    else:
        labels = rng.normal(size=shape[0])
    weights = rng.random(shape[:2])
    total, gradient = loss.total_and_gradient(scores, labels, weights)
    assert total.shape == (shape[1],) and gradient.shape == shape
    np.testing.assert_allclose(total, (loss.values(scores, labels) * weights).sum(axis=0))
    head, same_gradient = loss.total_and_gradient(scores, labels, weights, loss_models=1)
    np.testing.assert_allclose(head, total[:1])
    np.testing.assert_allclose(same_gradient, gradient, atol=1e-12)
    # the training loop lets the loss compute its gradient in the scores' buffer: same values
    buffer = scores.copy()
    head_again, in_place = loss.total_and_gradient(buffer, labels, weights, loss_models=1, overwrite=True)
    np.testing.assert_allclose(head_again, total[:1])
    np.testing.assert_allclose(in_place, gradient, atol=1e-12)
    step = 1e-6
    numeric = np.zeros(shape)
    for index in np.ndindex(shape):
        bumped = scores.copy()
        bumped[index] += step
        numeric[index] = (loss.total(bumped, labels, weights) - total)[index[1]] / step
    np.testing.assert_allclose(gradient, numeric, atol=1e-4)


def test_logistic_loss_does_not_overflow():
    loss = Loss("logistic")
    total, gradient = loss.total_and_gradient(np.array([[1000.0, -1000.0]]), np.array([0.0]))
    assert total.tolist() == [1000.0, 0.0] and gradient.tolist() == [[1.0, 0.0]]


def test_threaded_helpers_match_the_single_threaded_ones():
    from concurrent.futures import ThreadPoolExecutor

    from sagemaker_algorithms.linear_learner.estimator import _column_moments, _thresholds

    rng = np.random.default_rng(5)
    sample = (rng.normal(size=(1500, 7)) * [1, 10, 0.1, 3, 1, 1, 0] + [0, 990, 5, -2, 0, 1, 4]).astype(np.float32)
    labels = (rng.random(1500) < 0.3).astype(np.float32)
    scores = rng.normal(size=(1500, 5)) + labels[:, None]
    with ThreadPoolExecutor(2) as pool:
        mean, deviation = _column_moments(sample, True, pool, block=256)
        choice = _thresholds(labels, scores, "accuracy", pool, 2)
    np.testing.assert_allclose(mean, sample.mean(axis=0, dtype=np.float64), rtol=1e-12)
    expected = np.sqrt(np.mean(np.square(sample - mean.astype(np.float32)), axis=0, dtype=np.float64))
    np.testing.assert_allclose(deviation, expected, rtol=1e-10)
    assert _column_moments(sample, False)[1] is None
    single = best_thresholds(labels, scores, "accuracy")
    np.testing.assert_array_equal(choice.thresholds, single.thresholds)
    np.testing.assert_array_equal(choice.values, single.values)


def test_worker_threads_compute_the_same_model(zeros):
    X, y, X_val, y_val = zeros
    settings = {"mini_batch_size": 600, "epochs": 4, "num_models": 4}
    single = LinearLearner("binary_classifier", **settings).fit(X, y, X_val, y_val)
    threaded = LinearLearner("binary_classifier", threads=2, **settings).fit(X, y, X_val, y_val)
    np.testing.assert_allclose(threaded.stacked_weights_, single.stacked_weights_, rtol=1e-3, atol=1e-4)
    assert threaded.selected_model_ == single.selected_model_


def test_learning_rate_schedule(zeros):
    X, y, _, _ = zeros
    auto = LinearLearner("binary_classifier", mini_batch_size=100, epochs=3, num_models=2).fit(X, y)
    assert auto.schedule_ == (39 // 15, 0.75, 1e-5)  # 13 batches x 3 epochs, decayed 15 times over the run
    explicit = LinearLearner("binary_classifier", mini_batch_size=100, epochs=1, num_models=2, learning_rate=0.01,
                             lr_scheduler_step=5, lr_scheduler_factor=0.5, lr_scheduler_minimum_lr=0.002).fit(X, y)
    assert explicit.schedule_ == (5, 0.5, 0.002)
    trainer = _Trainer(explicit, explicit.stacked_weights_.copy(), explicit.stacked_biases_.copy())
    assert trainer.rates()[0].tolist() == pytest.approx([0.01, 0.01])
    trainer.optimizer.updates = 10  # two decays
    weights, biases = trainer.rates()
    assert weights.tolist() == pytest.approx([0.0025, 0.0025]) and biases.tolist() == pytest.approx([0.025, 0.025])
    trainer.optimizer.updates = 100  # floored at lr_scheduler_minimum_lr
    assert trainer.rates()[0].tolist() == pytest.approx([0.002, 0.002])
    flat = LinearLearner("binary_classifier", mini_batch_size=100, epochs=1, num_models=2, learning_rate=0.01,
                         use_lr_scheduler=False).fit(X, y)
    trainer = _Trainer(flat, flat.stacked_weights_.copy(), flat.stacked_biases_.copy())
    trainer.optimizer.updates = 1000
    assert trainer.rates()[0].tolist() == pytest.approx([0.01, 0.01])


def test_optimizers_follow_their_update_rules():
    from sagemaker_algorithms.linear_learner.optimizers import make_optimizer

    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(2)]
    rate = np.array([0.1, 0.01], np.float32)
    for name in ("adam", "sgd", "rmsprop"):
        param = np.ones((3, 2), np.float32)
        optimizer = make_optimizer(name, [param.shape], momentum=0.5, beta_1=0.9, beta_2=0.99)
        expected = np.ones((3, 2))
        first = second = velocity = np.zeros((3, 2))
        for t, grad in enumerate(grads, start=1):
            optimizer.step([param], [grad.copy()], [rate])
            if name == "adam":
                first = 0.9 * first + 0.1 * grad
                second = 0.99 * second + 0.01 * grad**2
                expected -= rate * np.sqrt(1 - 0.99**t) / (1 - 0.9**t) * first / (np.sqrt(second) + 1e-8)
            elif name == "sgd":
                velocity = 0.5 * velocity - rate * grad
                expected += velocity
            else:
                second = 0.9 * second + 0.1 * grad**2
                expected -= rate * grad / np.sqrt(second + 1e-8)
        np.testing.assert_allclose(param, expected, rtol=1e-5, err_msg=name)
