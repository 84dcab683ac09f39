"""Linear learner hyperparameters: defaults of the container file, SageMaker's failure texts, and the
checks that depend on ``predictor_type``."""

from __future__ import annotations

import pytest

from sagemaker_algorithms.common.errors import ClientError
from sagemaker_algorithms.linear_learner.hyperparameters import SCHEMA, check_combination, resolved_loss

BINARY = {"predictor_type": "binary_classifier"}


def typed(provided):
    values = SCHEMA.validate(provided)
    check_combination(values)
    return values


def failure(provided) -> str:
    with pytest.raises(ClientError) as caught:
        typed(provided)
    return caught.value.failure_text


def test_defaults_match_the_container_file():
    values = typed(BINARY)
    expected = {
        "feature_dim": "auto", "num_classes": 1, "epochs": 15, "mini_batch_size": 1000, "loss": "auto",
        "optimizer": "auto", "learning_rate": "auto", "use_lr_scheduler": True, "lr_scheduler_step": "auto",
        "lr_scheduler_factor": "auto", "lr_scheduler_minimum_lr": "auto", "l1": "auto", "wd": "auto",
        "momentum": "auto", "beta_1": "auto", "beta_2": "auto", "bias_lr_mult": "auto", "bias_wd_mult": "auto",
        "init_method": "uniform", "init_scale": 0.07, "init_sigma": 0.01, "init_bias": 0.0,
        "normalize_data": "true", "normalize_label": "auto", "num_point_for_scaler": 10000,
        "unbias_data": "auto", "unbias_label": "auto", "use_bias": True, "num_models": "auto",
        "num_calibration_samples": 10000000, "binary_classifier_model_selection_criteria": "accuracy",
        "f_beta": 1.0, "target_precision": 0.8, "target_recall": 0.8, "positive_example_weight_mult": 1.0,
        "balance_multiclass_weights": False, "early_stopping_patience": 3, "early_stopping_tolerance": 0.001,
        "margin": 1.0, "quantile": 0.5, "loss_insensitivity": 0.01, "huber_delta": 1.0, "accuracy_top_k": 3,
    }
    assert {name: values[name] for name in expected} == expected
    defaults = SCHEMA.defaults
    assert defaults["epochs"] == "15" and defaults["num_classes"] == "1" and defaults["_kvstore"] == "auto"
    assert "predictor_type" not in defaults


def test_what_the_sdk_sends_is_accepted():
    # LinearLearner(...).hyperparameters() after fit(): str() of Python values, booleans capitalised
    values = typed({"feature_dim": "784", "mini_batch_size": "200", "predictor_type": "binary_classifier",
                    "normalize_data": "True", "use_bias": "False", "unbias_data": "False", "epochs": "3",
                    "positive_example_weight_mult": "balanced", "learning_rate": "0.01", "num_models": "4",
                    "binary_classifier_model_selection_criteria": "f1", "_tuning_objective_metric": "test:recall"})
    assert values["feature_dim"] == 784 and values["use_bias"] is False and values["normalize_data"] == "true"
    assert values["unbias_data"] == "false" and values["positive_example_weight_mult"] == "balanced"
    assert values["learning_rate"] == 0.01 and values["num_models"] == 4
    assert typed({**BINARY, "positive_example_weight_mult": "2.5"})["positive_example_weight_mult"] == 2.5


def test_missing_predictor_type():
    assert failure({"feature_dim": "10"}) == (
        "ClientError: No value(s) were specified for 'predictor_type' which are required hyperparameter(s) "
        "(caused by ValidationError)")


def test_unknown_hyperparameter():
    assert failure({**BINARY, "mini_batch_siz": "10"}) == (
        "ClientError: Additional hyperparameters are not allowed ('mini_batch_siz' was unexpected) "
        "(caused by ValidationError)")


@pytest.mark.parametrize("provided, expected", [
    ({"predictor_type": "classifier"},
     "The value 'classifier' is not valid for the 'predictor_type' hyperparameter which accepts one of the "
     "following: 'binary_classifier', 'multiclass_classifier', 'regressor'"),
    ({**BINARY, "optimizer": "adagrad"},
     "The value 'adagrad' is not valid for the 'optimizer' hyperparameter which accepts one of the following: "
     "'auto', 'sgd', 'adam', 'rmsprop'"),
    ({**BINARY, "learning_rate": "0"},
     "The value '0' is not valid for the 'learning_rate' hyperparameter which expects one of the following: a "
     "string which matches the pattern '^(auto|[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?)$'; or a number "
     "greater than 0"),
    ({**BINARY, "mini_batch_size": "1.5"},
     "The value '1.5' is not valid for the 'mini_batch_size' hyperparameter which expects one of the following: a "
     "string which matches the pattern '^([1-9][0-9]*)$'; or an integer greater than 1"),
    ({**BINARY, "lr_scheduler_factor": "1"},
     "The value '1' is not valid for the 'lr_scheduler_factor' hyperparameter which expects one of the following: "
     "a string which matches the pattern '^(auto|[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?)$'; or a number "
     "between 0 and 1"),
    ({**BINARY, "positive_example_weight_mult": "heavy"},
     "The value 'heavy' is not valid for the 'positive_example_weight_mult' hyperparameter which expects one of the "
     "following: 'auto', 'balanced'; or a number greater than 0"),
    ({**BINARY, "normalize_data": "yes"},
     "The value 'yes' is not valid for the 'normalize_data' hyperparameter which accepts one of the following: "
     "'auto', 'true', 'false'"),
    ({**BINARY, "binary_classifier_model_selection_criteria": "auc"},
     "The value 'auc' is not valid for the 'binary_classifier_model_selection_criteria' hyperparameter which "
     "accepts one of the following: 'accuracy', 'f_beta', 'precision_at_target_recall', "
     "'recall_at_target_precision', 'loss_function', 'f1', 'cross_entropy_loss'"),
])
def test_value_texts(provided, expected):
    assert failure(provided) == f"ClientError: {expected} (caused by ValidationError)"


@pytest.mark.parametrize("name, value", [
    ("quantile", "0"), ("quantile", "1"), ("target_recall", "1.5"), ("momentum", "1"), ("beta_1", "-0.1"),
    ("epochs", "0"), ("num_models", "0"), ("early_stopping_tolerance", "0"), ("early_stopping_patience", "0"),
    ("init_scale", "0"),
    ("l1", "-1"), ("wd", "x"), ("huber_delta", "-1"), ("accuracy_top_k", "0"), ("num_classes", "1000001"),
    ("use_bias", "maybe"), ("feature_dim", "0"),
])
def test_out_of_range_values_are_rejected(name, value):
    assert failure({**BINARY, name: value}).startswith(f"ClientError: The value '{value}' is not valid for the "
                                                       f"'{name}' hyperparameter")


def test_multiclass_needs_num_classes():
    expected = ("ClientError: The value '{}' is not valid for the 'num_classes' hyperparameter which expects an "
                "integer between 3 and 1000000 when 'predictor_type' is 'multiclass_classifier' "
                "(caused by ValidationError)")
    assert failure({"predictor_type": "multiclass_classifier"}) == expected.format(1)
    assert failure({"predictor_type": "multiclass_classifier", "num_classes": "2"}) == expected.format(2)
    assert typed({"predictor_type": "multiclass_classifier", "num_classes": "3"})["num_classes"] == 3
    # ignored by the other predictors
    assert typed({**BINARY, "num_classes": "2"})["num_classes"] == 2


@pytest.mark.parametrize("predictor, loss, allowed", [
    ("binary_classifier", "squared_loss", "'auto', 'logistic', 'hinge_loss'"),
    ("multiclass_classifier", "logistic", "'auto', 'softmax_loss'"),
    ("regressor", "hinge_loss", "'auto', 'squared_loss', 'absolute_loss', 'eps_insensitive_squared_loss', "
                                "'eps_insensitive_absolute_loss', 'quantile_loss', 'huber_loss'"),
])
def test_loss_must_fit_the_predictor(predictor, loss, allowed):
    provided = {"predictor_type": predictor, "num_classes": "3", "loss": loss}
    assert failure(provided) == (
        f"ClientError: The value '{loss}' is not valid for the 'loss' hyperparameter when 'predictor_type' is "
        f"'{predictor}', which accepts one of the following: {allowed} (caused by ValidationError)")


@pytest.mark.parametrize("predictor, expected", [
    ("binary_classifier", "logistic"), ("multiclass_classifier", "softmax_loss"), ("regressor", "squared_loss")])
def test_auto_loss(predictor, expected):
    assert resolved_loss(typed({"predictor_type": predictor, "num_classes": "5"})) == expected
    assert resolved_loss(typed({"predictor_type": "regressor", "loss": "huber_loss"})) == "huber_loss"
