"""A trained linear model: predictions in SageMaker's response shapes, and ``serve``.

The model holds raw-space coefficients (normalisation already folded in), so it scores records as
they arrive. Per input row:

* binary classifier: ``score`` (probability of class 1 with the logistic loss, the raw margin with
  the hinge loss) and ``predicted_label`` (0 or 1, ``score >= threshold``, an integer in JSON);
* multiclass classifier: ``score`` (the softmax probabilities of every class) and
  ``predicted_label`` (the most probable class, an integer in JSON);
* regressor: ``score`` (the prediction).

Responses: ``application/json`` (default), ``application/jsonlines`` and
``application/x-recordio-protobuf`` (float32 tensors in each record's ``label`` map). CSV responses
are not offered: SageMaker documents none for this algorithm, so ``Accept: text/csv`` gets 406.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..common import contract
from ..common.content_types import JSON, JSONLINES, RECORDIO_PROTOBUF, MediaType
from ..common.errors import ClientError, DataError
from .losses import sigmoid, softmax

logger = logging.getLogger("linear_learner")

_BLOCK_ROWS = 8192


@dataclass
class LinearModel:
    """``coef`` (K, d) and ``intercept`` (K,) in raw feature/label space; K = 1 or num_classes."""

    coef: np.ndarray
    intercept: np.ndarray
    predictor_type: str
    loss: str
    threshold: float | None = None

    response_types = (JSON, JSONLINES, RECORDIO_PROTOBUF)

    def __post_init__(self) -> None:
        self.coef = np.atleast_2d(np.asarray(self.coef, dtype=np.float64))
        self.intercept = np.asarray(self.intercept, dtype=np.float64).reshape(-1)
        if self.intercept.shape[0] != self.coef.shape[0]:
            raise DataError(f"The linear learner model has {self.coef.shape[0]} weight rows but "
                            f"{self.intercept.shape[0]} biases")
        if self.threshold is None and self.predictor_type == "binary_classifier":
            self.threshold = 0.5 if self.loss == "logistic" else 0.0

    @property
    def feature_dim(self) -> int:
        return int(self.coef.shape[1])

    @property
    def num_outputs(self) -> int:
        return int(self.coef.shape[0])

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Raw scores: (n,) for one output, (n, K) for multiclass; float64, computed in row blocks."""
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise DataError(f"records have {features.shape[-1]} features but the model expects {self.feature_dim}")
        weights = self.coef.T
        out = np.empty((features.shape[0], self.num_outputs))
        for start in range(0, features.shape[0], _BLOCK_ROWS):
            block = np.asarray(features[start:start + _BLOCK_ROWS], dtype=np.float64)
            np.matmul(block, weights, out=out[start:start + _BLOCK_ROWS])
        out += self.intercept
        return out[:, 0] if self.num_outputs == 1 else out

    def scores(self, decision: np.ndarray) -> np.ndarray:
        """The ``score`` output for raw decision values."""
        if self.predictor_type == "multiclass_classifier":
            return softmax(np.array(decision, dtype=np.float64), axis=1)
        if self.predictor_type == "binary_classifier" and self.loss == "logistic":
            return sigmoid(decision)
        return decision

    def outputs(self, decision: np.ndarray) -> dict[str, np.ndarray]:
        score = self.scores(decision)
        if self.predictor_type == "regressor":
            return {"score": score.astype(np.float32)}
        if self.predictor_type == "multiclass_classifier":
            return {"score": score.astype(np.float32), "predicted_label": np.argmax(score, axis=1).astype(np.int64)}
        return {"score": score.astype(np.float32), "predicted_label": (score >= self.threshold).astype(np.int64)}

    def predict(self, features: np.ndarray, accept: MediaType | None = None) -> dict[str, np.ndarray]:
        if not np.isfinite(features).all():
            raise DataError("records contain NaN or infinite values")
        return self.outputs(self.decision_function(features))


def load_model(paths: contract.ContainerPaths) -> LinearModel:
    from .artifact import read_model

    path = contract.find_model_file(paths.model_dir)
    if path is None:
        raise ClientError(f"No linear learner model ({contract.model_file_name('algo-1')}) was found in "
                          f"{paths.model_dir}")
    try:
        model = read_model(path.read_bytes())
    except DataError as error:
        raise ClientError(f"Unable to load the linear learner model: {error}") from error
    logger.info("Loaded linear learner model (%s, %d output(s), %d features)", model.predictor_type,
                model.num_outputs, model.feature_dim)
    return model
