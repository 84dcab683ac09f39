"""Image classification hyperparameters: defaults, SageMaker's failure texts, cross-field rules."""

from __future__ import annotations

import pytest

from sagemaker_algorithms.common.errors import ClientError
from sagemaker_algorithms.image_classification.hyperparameters import NUM_LAYERS, SCHEMA, check_consistency

BASE = {"num_classes": "10", "num_training_samples": "600"}


def failure(provided) -> str:
    with pytest.raises(ClientError) as caught:
        check_consistency(SCHEMA.validate(provided))
    return caught.value.failure_text


def test_defaults():
    values = SCHEMA.validate(BASE)
    assert values["num_classes"] == 10 and values["num_training_samples"] == 600
    assert values["num_layers"] == 152 and values["image_shape"] == (3, 224, 224)
    assert values["epochs"] == 30 and values["mini_batch_size"] == 32
    assert values["learning_rate"] == 0.1 and values["lr_scheduler_factor"] == 0.1
    assert values["lr_scheduler_step"] is None
    assert values["optimizer"] == "sgd" and values["momentum"] == 0.9 and values["weight_decay"] == 0.0001
    assert (values["beta_1"], values["beta_2"], values["eps"], values["gamma"]) == (0.9, 0.999, 1e-8, 0.9)
    assert values["augmentation_type"] is None and values["resize"] is None and values["top_k"] is None
    assert values["precision_dtype"] == "float32" and values["kv_store"] is None
    assert values["multi_label"] is False and values["use_weighted_loss"] is False
    assert values["use_pretrained_model"] is False and values["checkpoint_frequency"] is None
    assert values["early_stopping"] is False and values["early_stopping_min_epochs"] == 10
    assert values["early_stopping_patience"] == 5 and values["early_stopping_tolerance"] == 0.0


def test_real_submitted_configuration():
    """The hyperparameters of a real SDK job (algorithms.md §5.1), as the SDK serialises them."""
    values = SCHEMA.validate({"learning_rate": "0.01", "top_k": "2", "use_pretrained_model": "1", "epochs": "10",
                              "num_training_samples": "606", "num_layers": "18", "num_classes": "10",
                              "mini_batch_size": "128", "precision_dtype": "float32", "resize": "224",
                              "image_shape": "3,224,224", "_tuning_objective_metric": "validation:accuracy"})
    check_consistency(values)
    assert values["use_pretrained_model"] is True and values["num_layers"] == 18 and values["top_k"] == 2


def test_missing_required_names_in_order():
    assert failure({}) == ("ClientError: No value(s) were specified for 'num_classes', 'num_training_samples' which "
                           "are required hyperparameter(s) (caused by ValidationError)")
    assert failure({"num_training_samples": "5"}) == (
        "ClientError: No value(s) were specified for 'num_classes' which are required hyperparameter(s) "
        "(caused by ValidationError)")


def test_unknown_hyperparameter():
    assert failure({**BASE, "augmentation type": "crop"}) == (
        "ClientError: Additional hyperparameters are not allowed ('augmentation type' was unexpected) "
        "(caused by ValidationError)")


@pytest.mark.parametrize("name, value, choices", [
    ("optimizer", "adagrad", "'sgd', 'adam', 'rmsprop', 'nag'"),
    ("augmentation_type", "flip", "'crop', 'crop_color', 'crop_color_transform'"),
    ("precision_dtype", "bfloat16", "'float32', 'float16'"),
    ("kv_store", "local", "'dist_sync', 'dist_async'"),
    ("num_layers", "19", "'18', '34', '50', '101', '152', '200', '20', '32', '44', '56', '110'"),
    ("multi_label", "2", "'0', '1'"),
    ("use_pretrained_model", "yes", "'0', '1'"),
])
def test_enumerations(name, value, choices):
    assert failure({**BASE, name: value}) == (
        f"ClientError: The value '{value}' is not valid for the '{name}' hyperparameter which accepts one of the "
        f"following: {choices} (caused by ValidationError)")


def test_every_depth_is_accepted():
    for depth in NUM_LAYERS:
        assert SCHEMA.validate({**BASE, "num_layers": str(depth)})["num_layers"] == depth


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_num_classes_positive_integer(value):
    assert failure({"num_classes": value, "num_training_samples": "5"}) == (
        f"ClientError: The value '{value}' is not valid for the 'num_classes' hyperparameter which expects one of the "
        "following: a string which matches the pattern '^([1-9][0-9]*)$'; or an integer greater than 1 "
        "(caused by ValidationError)")


def test_float_ranges():
    assert failure({**BASE, "learning_rate": "1.5"}) == (
        "ClientError: The value '1.5' is not valid for the 'learning_rate' hyperparameter which expects one of the "
        "following: a string which matches the pattern '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$'; or "
        "a number between 0 and 1 (caused by ValidationError)")
    assert "'momentum' hyperparameter" in failure({**BASE, "momentum": "-0.1"})


def test_top_k_must_exceed_one():
    assert "an integer greater than 2" in failure({**BASE, "top_k": "1"})
    assert failure({**BASE, "top_k": "11"}) == (
        "ClientError: The value '11' is not valid for the 'top_k' hyperparameter which must not be larger than "
        "num_classes (10) (caused by ValidationError)")


@pytest.mark.parametrize("value", ["224,224", "3,0,224", "3x224x224", "2,32,32", ""])
def test_image_shape_format(value):
    assert failure({**BASE, "image_shape": value}).startswith(
        f"ClientError: The value '{value}' is not valid for the 'image_shape' hyperparameter which expects a string "
        "which matches the pattern")


def test_image_shape_and_steps_parse():
    values = SCHEMA.validate({**BASE, "image_shape": "1, 28,28", "lr_scheduler_step": "20, 10,30"})
    assert values["image_shape"] == (1, 28, 28)
    assert values["lr_scheduler_step"] == [10, 20, 30]
    assert "'lr_scheduler_step' hyperparameter" in failure({**BASE, "lr_scheduler_step": "10;20"})


def test_flags_accept_sdk_booleans():
    values = SCHEMA.validate({**BASE, "multi_label": "True", "use_weighted_loss": "1", "early_stopping": "True"})
    assert values["multi_label"] is True and values["use_weighted_loss"] is True and values["early_stopping"] is True


def test_cross_field_rules():
    assert failure({**BASE, "epochs": "5", "checkpoint_frequency": "6"}) == (
        "ClientError: The value '6' is not valid for the 'checkpoint_frequency' hyperparameter which must not be "
        "larger than epochs (5) (caused by ValidationError)")
    assert failure({**BASE, "image_shape": "3,224,224", "resize": "200"}).startswith(
        "ClientError: The value '200' is not valid for the 'resize' hyperparameter which must be at least the height "
        "and width of image_shape (224x224)")
    assert failure({**BASE, "num_layers": "20", "use_pretrained_model": "1"}) == (
        "ClientError: use_pretrained_model=1 is only available for num_layers 18, 34, 50, 101, 152, 200; there are "
        "no ImageNet weights for num_layers=20 (caused by ValidationError)")
    assert "three-channel" in failure({**BASE, "num_layers": "18", "use_pretrained_model": "1",
                                       "image_shape": "1,224,224"})
