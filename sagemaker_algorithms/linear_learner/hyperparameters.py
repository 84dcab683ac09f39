"""Linear learner hyperparameters (SageMaker developer guide "Linear Learner Hyperparameters", the
container's ``default-input.json`` as printed in real training logs, and the SDK's validation).

The schema validates each value on its own (SageMaker's failure texts come from the shared
:class:`~sagemaker_algorithms.common.hyperparameters.HyperparameterSchema`); :func:`check_combination`
then checks what depends on ``predictor_type`` (``num_classes`` for multiclass, which ``loss`` fits
which predictor). Defaults are the container file's values: ``num_classes`` defaults to ``'1'``
there, so a multiclass job without it fails the combination check rather than the "required" one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..common.errors import HyperparameterError
from ..common.hyperparameters import (AUTO, Boolean, Categorical, Float, Hyperparameter, HyperparameterSchema,
                                      Integer)

PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")
REGRESSION_LOSSES = ("squared_loss", "absolute_loss", "eps_insensitive_squared_loss",
                     "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss")
BINARY_LOSSES = ("logistic", "hinge_loss")
MULTICLASS_LOSSES = ("softmax_loss",)
LOSSES = (AUTO, "logistic", "softmax_loss", *REGRESSION_LOSSES, "hinge_loss")
LOSSES_BY_PREDICTOR = {
    "binary_classifier": BINARY_LOSSES,
    "multiclass_classifier": MULTICLASS_LOSSES,
    "regressor": REGRESSION_LOSSES,
}
AUTO_LOSS = {"binary_classifier": "logistic", "multiclass_classifier": "softmax_loss", "regressor": "squared_loss"}
OPTIMIZERS = (AUTO, "sgd", "adam", "rmsprop")
# The documented criteria, then the two spellings the SageMaker Python SDK also accepts.
MODEL_SELECTION_CRITERIA = ("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision",
                            "loss_function", "f1", "cross_entropy_loss")
TRI_STATE = ("auto", "true", "false")
MAX_CLASSES = 1_000_000


@dataclass(frozen=True)
class FloatOrKeyword(Hyperparameter):
    """A positive number or one of ``keywords`` (``positive_example_weight_mult``: auto, balanced)."""

    keywords: tuple[str, ...] = ()

    def parse(self, raw: Any) -> float | str:
        if isinstance(raw, str) and raw.strip() in self.keywords:
            return raw.strip()
        try:
            return Float(self.name, minimum=0, exclusive_minimum=True).parse(raw)
        except HyperparameterError:
            words = ", ".join(f"'{k}'" for k in self.keywords)
            raise self._fail(raw, f"expects one of the following: {words}; or a number greater than 0") from None


def _tri_state(name: str, default: str) -> Categorical:
    return Categorical(name, default=default, choices=TRI_STATE, case_sensitive=False)


SCHEMA = HyperparameterSchema(
    [
        Categorical("predictor_type", required=True, choices=PREDICTOR_TYPES),
        Integer("feature_dim", default="auto", minimum=1, allow_auto=True),
        Integer("num_classes", default="1", minimum=1, maximum=MAX_CLASSES),
        Integer("epochs", default="15", minimum=1),
        Integer("mini_batch_size", default="1000", minimum=1),
        Categorical("loss", default="auto", choices=LOSSES),
        Categorical("optimizer", default="auto", choices=OPTIMIZERS),
        Float("learning_rate", default="auto", minimum=0, exclusive_minimum=True, allow_auto=True),
        Boolean("use_lr_scheduler", default="true"),
        Integer("lr_scheduler_step", default="auto", minimum=1, allow_auto=True),
        Float("lr_scheduler_factor", default="auto", minimum=0, maximum=1, exclusive_minimum=True,
              exclusive_maximum=True, allow_auto=True),
        Float("lr_scheduler_minimum_lr", default="auto", minimum=0, exclusive_minimum=True, allow_auto=True),
        Float("l1", default="auto", minimum=0, allow_auto=True),
        Float("wd", default="auto", minimum=0, allow_auto=True),
        Float("momentum", default="auto", minimum=0, maximum=1, exclusive_maximum=True, allow_auto=True),
        Float("beta_1", default="auto", minimum=0, maximum=1, exclusive_maximum=True, allow_auto=True),
        Float("beta_2", default="auto", minimum=0, maximum=1, exclusive_maximum=True, allow_auto=True),
        Float("bias_lr_mult", default="auto", minimum=0, exclusive_minimum=True, allow_auto=True),
        Float("bias_wd_mult", default="auto", minimum=0, allow_auto=True),
        Categorical("init_method", default="uniform", choices=("uniform", "normal")),
        Float("init_scale", default="0.07", minimum=0, exclusive_minimum=True),
        Float("init_sigma", default="0.01", minimum=0, exclusive_minimum=True),
        Float("init_bias", default="0.0"),
        _tri_state("normalize_data", "true"),
        _tri_state("normalize_label", "auto"),
        Integer("num_point_for_scaler", default="10000", minimum=1),
        _tri_state("unbias_data", "auto"),
        _tri_state("unbias_label", "auto"),
        Boolean("use_bias", default="true"),
        Integer("num_models", default="auto", minimum=1, allow_auto=True),
        Integer("num_calibration_samples", default="10000000", minimum=1, allow_auto=True),
        Categorical("binary_classifier_model_selection_criteria", default="accuracy",
                    choices=MODEL_SELECTION_CRITERIA),
        Float("f_beta", default="1.0", minimum=0, exclusive_minimum=True),
        Float("target_precision", default="0.8", minimum=0, maximum=1, exclusive_minimum=True,
              exclusive_maximum=True),
        Float("target_recall", default="0.8", minimum=0, maximum=1, exclusive_minimum=True, exclusive_maximum=True),
        FloatOrKeyword("positive_example_weight_mult", default="1.0", keywords=("auto", "balanced")),
        Boolean("balance_multiclass_weights", default="false"),
        Integer("early_stopping_patience", default="3", minimum=1),
        Float("early_stopping_tolerance", default="0.001", minimum=0, exclusive_minimum=True),
        Float("margin", default="1.0", minimum=0),
        Float("quantile", default="0.5", minimum=0, maximum=1, exclusive_minimum=True, exclusive_maximum=True),
        Float("loss_insensitivity", default="0.01", minimum=0, exclusive_minimum=True),
        Float("huber_delta", default="1.0", minimum=0),
        Integer("accuracy_top_k", default="3", minimum=1, maximum=MAX_CLASSES),
    ],
    hidden_defaults={
        "_enable_profiler": "false",
        "_kvstore": "auto",
        "_log_level": "info",
        "_num_gpus": "auto",
        "_num_kv_servers": "auto",
        "_tuning_objective_metric": "",
    },
)


def resolved_loss(hyperparameters: Mapping[str, Any]) -> str:
    loss = hyperparameters["loss"]
    return AUTO_LOSS[hyperparameters["predictor_type"]] if loss == AUTO else loss


def check_combination(hyperparameters: Mapping[str, Any]) -> None:
    """Checks that involve several hyperparameters; raises :class:`HyperparameterError`."""
    predictor = hyperparameters["predictor_type"]
    if predictor == "multiclass_classifier":
        classes = hyperparameters["num_classes"]
        if classes is None or classes < 3:
            raise HyperparameterError(
                f"The value '{classes}' is not valid for the 'num_classes' hyperparameter which expects an integer "
                f"between 3 and {MAX_CLASSES} when 'predictor_type' is 'multiclass_classifier'")
    loss = hyperparameters["loss"]
    allowed = LOSSES_BY_PREDICTOR[predictor]
    if loss != AUTO and loss not in allowed:
        choices = ", ".join(f"'{name}'" for name in (AUTO, *allowed))
        raise HyperparameterError(
            f"The value '{loss}' is not valid for the 'loss' hyperparameter when 'predictor_type' is "
            f"'{predictor}', which accepts one of the following: {choices}")
