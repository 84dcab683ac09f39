"""The ``model_algo-1`` file of a linear learner job: a zip holding an MXNet Module checkpoint.

Members (the four names and the zip container are what real artifacts hold, algorithms.md §4.4)::

    mx-mod-symbol.json      the network: data -> FullyConnected "fc0" (num_hidden = K)
    mx-mod-0000.params      MXNet NDArray file: "arg:fc0_weight" (K, d) float32, "arg:fc0_bias" (K,) float32
    additional-params.json  what serving needs beyond the network (predictor type, loss, threshold, ...)
    manifest.json           the member list and the checkpoint's prefix, epoch and input shape

What is faithful: the zip, the member names, the NDArray params format with ``arg:`` prefixes and
the ``fc0_weight``/``fc0_bias`` names (public scripts read ``params['fc0_weight']`` from a real
model), and that the network maps raw records to raw outputs (a regressor trained on unscaled data
predicts in label units straight from ``mx-mod``), so ``mx.module.Module.load('mx-mod', 0)`` or a
Gluon ``SymbolBlock`` with input ``data`` computes the decision values. What is inferred: the
symbol is the minimal one-layer graph (feature/label normalisation is folded into the weights, and
the output link, sigmoid or softmax, is applied by serving from ``additional-params.json``, whose
keys, like the manifest's, are our own).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from ..common import ndarray
from ..common.errors import DataError
from .hyperparameters import PREDICTOR_TYPES
from .model import LinearModel

SYMBOL_FILE = "mx-mod-symbol.json"
PARAMS_FILE = "mx-mod-0000.params"
ADDITIONAL_PARAMS_FILE = "additional-params.json"
MANIFEST_FILE = "manifest.json"
WEIGHT = "fc0_weight"
BIAS = "fc0_bias"
MXNET_VERSION = 10600  # the symbol JSON's "mxnet_version" attribute (MXNet 1.6)


def symbol_json(num_outputs: int) -> dict[str, Any]:
    """An MXNet symbol graph: FullyConnected over the ``data`` input with ``fc0`` parameters."""
    return {
        "nodes": [
            {"op": "null", "name": "data", "inputs": []},
            {"op": "null", "name": WEIGHT, "attrs": {"num_hidden": str(num_outputs)}, "inputs": []},
            {"op": "null", "name": BIAS, "attrs": {"num_hidden": str(num_outputs)}, "inputs": []},
            {"op": "FullyConnected", "name": "fc0",
             "attrs": {"flatten": "True", "no_bias": "False", "num_hidden": str(num_outputs)},
             "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
        ],
        "arg_nodes": [0, 1, 2],
        "node_row_ptr": [0, 1, 2, 3, 4],
        "heads": [[3, 0, 0]],
        "attrs": {"mxnet_version": ["int", MXNET_VERSION]},
    }


def write_model(model: LinearModel, extra: dict[str, Any] | None = None) -> bytes:
    """The bytes of ``model_algo-1`` for ``model`` (``extra`` adds keys to additional-params.json)."""
    params = ndarray.dumps({f"arg:{WEIGHT}": model.coef.astype(np.float32),
                            f"arg:{BIAS}": model.intercept.astype(np.float32)})
    additional = {
        "predictor_type": model.predictor_type,
        "loss": model.loss,
        "num_classes": model.num_outputs if model.predictor_type == "multiclass_classifier" else 1,
        "feature_dim": model.feature_dim,
        "threshold": model.threshold,
        "output": {"binary_classifier": "sigmoid" if model.loss == "logistic" else "identity",
                   "multiclass_classifier": "softmax", "regressor": "identity"}[model.predictor_type],
        **(extra or {}),
    }
    manifest = {
        "format": "mxnet-module-checkpoint",
        "prefix": "mx-mod",
        "epoch": 0,
        "data_names": ["data"],
        "data_shapes": [["data", [1, model.feature_dim]]],
        "files": [SYMBOL_FILE, PARAMS_FILE, ADDITIONAL_PARAMS_FILE],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(ADDITIONAL_PARAMS_FILE, json.dumps(additional, indent=2))
        archive.writestr(MANIFEST_FILE, json.dumps(manifest, indent=2))
        archive.writestr(SYMBOL_FILE, json.dumps(symbol_json(model.num_outputs), indent=2))
        archive.writestr(PARAMS_FILE, params)
    return buffer.getvalue()


def read_model(data: bytes) -> LinearModel:
    """Parse ``model_algo-1`` bytes; :class:`DataError` when they are not a linear learner model."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            missing = [name for name in (PARAMS_FILE, ADDITIONAL_PARAMS_FILE) if name not in names]
            if missing:
                raise DataError(f"the model archive lacks {', '.join(missing)}")
            params = archive.read(PARAMS_FILE)
            additional = json.loads(archive.read(ADDITIONAL_PARAMS_FILE))
    except zipfile.BadZipFile:
        raise DataError("the model file is not a zip archive") from None
    except ValueError as error:
        raise DataError(f"{ADDITIONAL_PARAMS_FILE} is not valid JSON: {error}") from None
    arrays, array_names = ndarray.loads(params)
    named = {name.split(":", 1)[-1]: array for name, array in zip(array_names, arrays)}
    if WEIGHT not in named or BIAS not in named:
        raise DataError(f"{PARAMS_FILE} must hold '{WEIGHT}' and '{BIAS}' (found {sorted(named)})")
    if not isinstance(additional, dict) or additional.get("predictor_type") not in PREDICTOR_TYPES:
        raise DataError(f"{ADDITIONAL_PARAMS_FILE} does not name a predictor_type ({', '.join(PREDICTOR_TYPES)})")
    weight = np.atleast_2d(named[WEIGHT])
    return LinearModel(weight, named[BIAS].reshape(-1), additional["predictor_type"],
                       additional.get("loss", "logistic"), additional.get("threshold"))
