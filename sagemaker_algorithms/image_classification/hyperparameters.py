"""Image classification hyperparameters (SageMaker developer guide "Image Classification
Hyperparameters", and the container's defaults file and ``---- Parameters ----`` block as printed in
real training logs; reference: algorithms.md §5.1).

Required names come first, in the order SageMaker names them when missing ('num_classes',
'num_training_samples'). Values arrive as strings; the container's 0/1 flags (``multi_label``,
``use_pretrained_model``, ``use_weighted_loss``) also accept ``true``/``false`` in any case, as the
SDK sends Python booleans as ``True``/``False``.

Cross-field rules SageMaker states in prose are checked by :func:`check_consistency` after the
schema: ``checkpoint_frequency`` at most ``epochs``, ``resize`` at least the crop's height and width, ``top_k``
at most ``num_classes``, pretrained weights only for the ImageNet-style depths and three-channel
images. ``use_weighted_loss`` without ``multi_label`` is ignored, as documented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..common.errors import HyperparameterError
from ..common.hyperparameters import (Boolean, Categorical, Float, Hyperparameter, HyperparameterSchema,
                                      Integer)

IMAGENET_DEPTHS = (18, 34, 50, 101, 152, 200)  # large images, transfer learning
CIFAR_DEPTHS = (20, 32, 44, 56, 110)  # small images: 6n+2 networks
NUM_LAYERS = IMAGENET_DEPTHS + CIFAR_DEPTHS
OPTIMIZERS = ("sgd", "adam", "rmsprop", "nag")
AUGMENTATIONS = ("crop", "crop_color", "crop_color_transform")
PRECISIONS = ("float32", "float16")
KV_STORES = ("dist_sync", "dist_async")

_IMAGE_SHAPE = r"^[1-9][0-9]*,\s*[1-9][0-9]*,\s*[1-9][0-9]*$"
_STEPS = r"^[1-9][0-9]*(\s*,\s*[1-9][0-9]*)*$"


@dataclass(frozen=True)
class Flag(Hyperparameter):
    """A 0/1 switch; returns a bool. ``true``/``false`` (any case) are accepted as well."""

    def parse(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, float) and raw in (0.0, 1.0):
            return bool(raw)
        text = str(raw).strip().lower()
        if text in ("0", "1", "true", "false"):
            return text in ("1", "true")
        raise self._fail(raw, "accepts one of the following: '0', '1'")


@dataclass(frozen=True)
class Depth(Hyperparameter):
    """``num_layers``: one of the supported ResNet depths; returns an int."""

    def parse(self, raw: Any) -> int:
        text = str(raw).strip()
        if isinstance(raw, (int, str)) and not isinstance(raw, bool) and text.isdigit() and int(text) in NUM_LAYERS:
            return int(text)
        raise self._fail(raw, "accepts one of the following: " + ", ".join(f"'{d}'" for d in NUM_LAYERS))


@dataclass(frozen=True)
class ImageShape(Hyperparameter):
    """``"channels,height,width"`` (1 or 3 channels); returns a ``(c, h, w)`` tuple."""

    def parse(self, raw: Any) -> tuple[int, int, int]:
        text = str(raw).strip()
        if isinstance(raw, str) and re.fullmatch(_IMAGE_SHAPE, text):
            channels, height, width = (int(part) for part in text.split(","))
            if channels in (1, 3):
                return channels, height, width
        raise self._fail(raw, f"expects a string which matches the pattern '{_IMAGE_SHAPE}' "
                              "(channels,height,width with 1 or 3 channels)")


@dataclass(frozen=True)
class EpochList(Hyperparameter):
    """``lr_scheduler_step``: comma-separated epochs (``"10, 20"``); returns a sorted list of ints."""

    def parse(self, raw: Any) -> list[int]:
        text = str(raw).strip()
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
            return [raw]
        if isinstance(raw, str) and re.fullmatch(_STEPS, text):
            return sorted(int(part) for part in text.split(","))
        raise self._fail(raw, f"expects a string which matches the pattern '{_STEPS}'")


SCHEMA = HyperparameterSchema(
    [
        Integer("num_classes", required=True, minimum=1),
        Integer("num_training_samples", required=True, minimum=1),
        Categorical("augmentation_type", choices=AUGMENTATIONS),
        Float("beta_1", default="0.9", minimum=0, maximum=1),
        Float("beta_2", default="0.999", minimum=0, maximum=1),
        Integer("checkpoint_frequency", minimum=1),
        Boolean("early_stopping", default="false"),
        Integer("early_stopping_min_epochs", default="10", minimum=1),
        Integer("early_stopping_patience", default="5", minimum=1),
        Float("early_stopping_tolerance", default="0.0", minimum=0, maximum=1),
        Integer("epochs", default="30", minimum=1),
        Float("eps", default="1e-08", minimum=0, maximum=1),
        Float("gamma", default="0.9", minimum=0, maximum=1),
        ImageShape("image_shape", default="3,224,224"),
        Categorical("kv_store", choices=KV_STORES),
        Float("learning_rate", default="0.1", minimum=0, maximum=1),
        Float("lr_scheduler_factor", default="0.1", minimum=0, maximum=1),
        EpochList("lr_scheduler_step"),
        Integer("mini_batch_size", default="32", minimum=1),
        Float("momentum", default="0.9", minimum=0, maximum=1),
        Flag("multi_label", default="0"),
        Depth("num_layers", default="152"),
        Categorical("optimizer", default="sgd", choices=OPTIMIZERS),
        Categorical("precision_dtype", default="float32", choices=PRECISIONS),
        Integer("resize", minimum=1),
        Integer("top_k", minimum=2),
        Flag("use_pretrained_model", default="0"),
        Flag("use_weighted_loss", default="0"),
        Float("weight_decay", default="0.0001", minimum=0, maximum=1),
    ],
    hidden_defaults={
        "_kvstore": "device",
        "_log_level": "info",
        "_num_gpus": "auto",
        "_tuning_objective_metric": "",
    },
)


def check_consistency(hp: dict[str, Any]) -> None:
    """The rules that involve several hyperparameters (raised as ``... (caused by ValidationError)``)."""
    channels, height, width = hp["image_shape"]
    if hp["checkpoint_frequency"] is not None and hp["checkpoint_frequency"] > hp["epochs"]:
        raise HyperparameterError(
            f"The value '{hp['checkpoint_frequency']}' is not valid for the 'checkpoint_frequency' hyperparameter "
            f"which must not be larger than epochs ({hp['epochs']})")
    if hp["resize"] is not None and hp["resize"] < max(height, width):
        raise HyperparameterError(
            f"The value '{hp['resize']}' is not valid for the 'resize' hyperparameter which must be at least the "
            f"height and width of image_shape ({height}x{width}), or the resized images cannot be cropped to it")
    if hp["top_k"] is not None and hp["top_k"] > hp["num_classes"]:
        raise HyperparameterError(
            f"The value '{hp['top_k']}' is not valid for the 'top_k' hyperparameter which must not be larger than "
            f"num_classes ({hp['num_classes']})")
    if hp["use_pretrained_model"]:
        if hp["num_layers"] not in IMAGENET_DEPTHS:
            raise HyperparameterError(
                f"use_pretrained_model=1 is only available for num_layers "
                f"{', '.join(str(d) for d in IMAGENET_DEPTHS)}; there are no ImageNet weights for "
                f"num_layers={hp['num_layers']}")
        if channels != 3:
            raise HyperparameterError("use_pretrained_model=1 needs three-channel images (image_shape 3,H,W)")
