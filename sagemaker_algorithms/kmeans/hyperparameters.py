"""k-means hyperparameters (SageMaker developer guide "K-Means Hyperparameters" and the container's
``default-input.json`` as printed in real training logs).

Required names are listed first, in the order SageMaker names them when missing ('k', 'feature_dim');
defaults are listed in the container file's order so the "Final configuration" line looks the same.
"""

from __future__ import annotations

from ..common.hyperparameters import (Boolean, Categorical, Float, HyperparameterSchema, Integer,
                                      JsonList)

EVAL_METRICS = ("msd", "ssd")
INIT_METHODS = ("random", "kmeans++")

SCHEMA = HyperparameterSchema(
    [
        Integer("k", required=True, minimum=1),
        Integer("feature_dim", required=True, minimum=1),
        Categorical("init_method", default="random", choices=INIT_METHODS),
        Integer("mini_batch_size", default="5000", minimum=1),
        Integer("epochs", default="1", minimum=1),
        Integer("extra_center_factor", default="auto", minimum=1, allow_auto=True),
        Integer("local_lloyd_max_iter", default="300", minimum=1),
        Float("local_lloyd_tol", default="0.0001", minimum=0, maximum=1),
        Categorical("local_lloyd_init_method", default="kmeans++", choices=INIT_METHODS),
        Integer("local_lloyd_num_trials", default="auto", minimum=1, allow_auto=True),
        Integer("half_life_time_size", default="0", minimum=0),
        JsonList("eval_metrics", default='["msd"]', choices=EVAL_METRICS),
        Boolean("force_dense", default="true"),
    ],
    hidden_defaults={
        "_disable_wait_to_read": "false",
        "_enable_profiler": "false",
        "_kvstore": "auto",
        "_log_level": "info",
        "_num_gpus": "auto",
        "_num_kv_servers": "1",
        "_num_slices": "1",
        "_tuning_objective_metric": "",
    },
)
