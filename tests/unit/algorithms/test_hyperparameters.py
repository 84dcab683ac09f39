"""Hyperparameter validation: SageMaker's failure texts, defaults, booleans, lists, hidden keys."""

from __future__ import annotations

import logging

import pytest

from sagemaker_algorithms.common.errors import ClientError, HyperparameterError
from sagemaker_algorithms.kmeans.hyperparameters import SCHEMA

BASE = {"k": "10", "feature_dim": "784"}


def failure(provided) -> str:
    with pytest.raises(ClientError) as caught:
        SCHEMA.validate(provided)
    return caught.value.failure_text


def test_defaults_and_types():
    values = SCHEMA.validate(BASE)
    assert values["k"] == 10 and values["feature_dim"] == 784
    assert values["mini_batch_size"] == 5000 and values["epochs"] == 1
    assert values["init_method"] == "random" and values["local_lloyd_init_method"] == "kmeans++"
    assert values["extra_center_factor"] == "auto" and values["local_lloyd_num_trials"] == "auto"
    assert values["local_lloyd_tol"] == 0.0001 and values["local_lloyd_max_iter"] == 300
    assert values["half_life_time_size"] == 0 and values["eval_metrics"] == ["msd"]
    assert values["force_dense"] is True


def test_missing_required_in_schema_order():
    assert failure({}) == ("ClientError: No value(s) were specified for 'k', 'feature_dim' which are required "
                           "hyperparameter(s) (caused by ValidationError)")
    assert failure({"k": "3"}) == ("ClientError: No value(s) were specified for 'feature_dim' which are required "
                                   "hyperparameter(s) (caused by ValidationError)")


def test_unknown_keys():
    assert failure({**BASE, "foo": "1"}) == (
        "ClientError: Additional hyperparameters are not allowed ('foo' was unexpected) (caused by ValidationError)")
    assert failure({**BASE, "zeta": "1", "alpha": "2"}) == (
        "ClientError: Additional hyperparameters are not allowed ('alpha', 'zeta' were unexpected) "
        "(caused by ValidationError)")


def test_hidden_keys_are_accepted():
    values = SCHEMA.validate({**BASE, "_tuning_objective_metric": "test:msd", "_anything": "x"})
    assert values["k"] == 10


def test_enum_text():
    assert failure({**BASE, "init_method": "farthest"}) == (
        "ClientError: The value 'farthest' is not valid for the 'init_method' hyperparameter which accepts one of "
        "the following: 'random', 'kmeans++' (caused by ValidationError)")


@pytest.mark.parametrize("name, value", [("k", "abc"), ("k", "0"), ("k", "-2"), ("k", "1.5"), ("k", "010")])
def test_positive_integer_text(name, value):
    assert failure({**BASE, name: value}) == (
        f"ClientError: The value '{value}' is not valid for the '{name}' hyperparameter which expects one of the "
        "following: a string which matches the pattern '^([1-9][0-9]*)$'; or an integer greater than 1 "
        "(caused by ValidationError)")


def test_integer_or_auto_and_non_negative_texts():
    assert "matches the pattern '^(auto|[1-9][0-9]*)$'; or an integer greater than 1" in failure(
        {**BASE, "extra_center_factor": "many"})
    assert "matches the pattern '^([0-9]+)$'; or an integer greater than 0" in failure(
        {**BASE, "half_life_time_size": "-1"})
    values = SCHEMA.validate({**BASE, "extra_center_factor": "4", "local_lloyd_num_trials": "2"})
    assert values["extra_center_factor"] == 4 and values["local_lloyd_num_trials"] == 2


def test_float_range_text():
    text = failure({**BASE, "local_lloyd_tol": "1.5"})
    assert text.startswith("ClientError: The value '1.5' is not valid for the 'local_lloyd_tol' hyperparameter which "
                           "expects one of the following: a string which matches the pattern '")
    assert text.endswith("; or a number between 0 and 1 (caused by ValidationError)")
    assert SCHEMA.validate({**BASE, "local_lloyd_tol": "1e-3"})["local_lloyd_tol"] == 0.001


@pytest.mark.parametrize("value, expected", [("True", True), ("true", True), ("FALSE", False), ("false", False)])
def test_booleans(value, expected):
    assert SCHEMA.validate({**BASE, "force_dense": value})["force_dense"] is expected


def test_bad_boolean():
    assert failure({**BASE, "force_dense": "yes"}) == (
        "ClientError: The value 'yes' is not valid for the 'force_dense' hyperparameter which accepts one of the "
        "following: 'true', 'false' (caused by ValidationError)")


def test_json_lists_with_any_whitespace():
    assert SCHEMA.validate({**BASE, "eval_metrics": '["ssd", "msd"]'})["eval_metrics"] == ["ssd", "msd"]
    assert SCHEMA.validate({**BASE, "eval_metrics": '[ "msd" ,"ssd" ]'})["eval_metrics"] == ["msd", "ssd"]


def test_json_list_errors():
    assert failure({**BASE, "eval_metrics": "['msd']"}) == (
        "ClientError: Hyperparameter must be valid json, but found eval_metrics: (caused by ValueError)")
    assert failure({**BASE, "eval_metrics": '["mse"]'}) == (
        "ClientError: The value 'mse' is not valid for the 'eval_metrics' hyperparameter which accepts one of the "
        "following: 'msd', 'ssd' (caused by ValidationError)")


def test_json_typed_values_are_accepted():
    values = SCHEMA.validate({"k": 3, "feature_dim": 4, "force_dense": False, "eval_metrics": ["ssd"]})
    assert values["k"] == 3 and values["force_dense"] is False and values["eval_metrics"] == ["ssd"]


def test_error_precedence_missing_then_unknown_then_values():
    assert "No value(s)" in failure({"feature_dim": "x", "foo": "1"})
    assert "Additional hyperparameters" in failure({**BASE, "foo": "1", "epochs": "0"})


def test_load_logs_three_lines(caplog):
    with caplog.at_level(logging.INFO):
        final, typed = SCHEMA.load(BASE, defaults_source="defaults.json", provided_source="hp.json")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("Reading default configuration from defaults.json: {'init_method': 'random', "
                                  "'mini_batch_size': '5000'")
    assert messages[1] == "Merging with provided configuration from hp.json: {'k': '10', 'feature_dim': '784'}"
    assert messages[2].startswith("Final configuration: {'init_method': 'random'")
    assert final["k"] == "10" and final["_kvstore"] == "auto" and typed["k"] == 10
    assert list(final)[-2:] == ["k", "feature_dim"]


def test_hyperparameter_error_is_a_validation_client_error():
    error = HyperparameterError("x")
    assert error.failure_text == "ClientError: x (caused by ValidationError)"
