"""k-NN hyperparameters (SageMaker developer guide "k-NN Hyperparameters", the container's
``default-conf.json`` as printed in real training logs, and the SDK's ``KNN`` estimator).

Required names come first, in the order they are named when missing (``'k', 'sample_size',
'predictor_type', 'feature_dim'``; the real order is not documented). Defaults follow the container
file, which also lists ``feature_dim: 'auto'`` although ``feature_dim`` must be provided (the
required check looks at the provided names only, as for the other built-ins).

Rules that span several hyperparameters, checked after every value parsed on its own:

* ``dimension_reduction_type`` set without ``dimension_reduction_target`` fails with
  ``'dimension_reduction_target' is a dependency of 'dimension_reduction_type'`` (the JSON-schema
  ``dependencies`` message, which is how the other texts are produced; the real wording is not
  published). A target without a type is ignored, with a warning.
* ``dimension_reduction_target`` must be less than ``feature_dim``.
* ``faiss.IVFPQ`` accepts only the ``L2`` metric.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from ..common.errors import HyperparameterError
from ..common.hyperparameters import Categorical, HyperparameterSchema, Integer

logger = logging.getLogger("knn")

PREDICTOR_TYPES = ("classifier", "regressor")
REDUCTION_TYPES = ("sign", "fjlt")
INDEX_TYPES = ("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")
INDEX_METRICS = ("L2", "INNER_PRODUCT", "COSINE")
PQ_M_VALUES = ("1", "2", "3", "4", "8", "12", "16", "20", "24", "28", "32", "40", "48", "56", "64", "96")


class KnnSchema(HyperparameterSchema):
    """The declarative schema plus k-NN's cross-hyperparameter rules."""

    def validate(self, provided: Mapping[str, Any]) -> dict[str, Any]:
        typed = super().validate(provided)
        reduction, target = typed["dimension_reduction_type"], typed["dimension_reduction_target"]
        if reduction is not None and target is None:
            raise HyperparameterError("'dimension_reduction_target' is a dependency of 'dimension_reduction_type'")
        if reduction is None and target is not None:
            logger.warning("'dimension_reduction_target' is ignored because 'dimension_reduction_type' is not set")
            typed["dimension_reduction_target"] = None
        elif target is not None and target >= typed["feature_dim"]:
            raise HyperparameterError(
                f"The value '{provided['dimension_reduction_target']}' is not valid for the "
                f"'dimension_reduction_target' hyperparameter which expects an integer greater than 0 and less "
                f"than feature_dim ({typed['feature_dim']})")
        if typed["index_type"] == "faiss.IVFPQ" and typed["index_metric"] != "L2":
            raise HyperparameterError(
                f"The value '{typed['index_metric']}' is not valid for the 'index_metric' hyperparameter which "
                f"accepts only 'L2' when 'index_type' is 'faiss.IVFPQ'")
        return typed


SCHEMA = KnnSchema(
    [
        Integer("k", required=True, minimum=1),
        Integer("sample_size", required=True, minimum=1),
        Categorical("predictor_type", required=True, choices=PREDICTOR_TYPES),
        Integer("feature_dim", required=True, default="auto", minimum=1),
        Categorical("dimension_reduction_type", choices=REDUCTION_TYPES),
        Integer("dimension_reduction_target", minimum=1),
        Categorical("index_type", default="faiss.Flat", choices=INDEX_TYPES),
        Categorical("index_metric", default="L2", choices=INDEX_METRICS),
        Integer("faiss_index_ivf_nlists", default="auto", minimum=1, allow_auto=True),
        Categorical("faiss_index_pq_m", choices=PQ_M_VALUES),
        Integer("mini_batch_size", default="5000", minimum=1),
        Integer("epochs", default="1", minimum=1),
    ],
    hidden_defaults={
        "_enable_profiler": "false",
        "_faiss_index_nprobe": "5",
        "_kvstore": "dist_async",
        "_log_level": "info",
        "_num_gpus": "auto",
        "_num_kv_servers": "auto",
        "_tuning_objective_metric": "",
    },
    default_order=["feature_dim", "index_type", "index_metric", "faiss_index_ivf_nlists", "mini_batch_size",
                   "epochs", "k", "sample_size", "predictor_type", "dimension_reduction_type",
                   "dimension_reduction_target", "faiss_index_pq_m"],
)
