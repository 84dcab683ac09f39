"""The linear learner's losses, vectorised over samples and over the stacked models.

Scores come as ``(B, M)`` (binary classifiers and regressors: one column per model) or
``(B, M, C)`` (multiclass); labels are ``(B,)``. :meth:`Loss.total_and_gradient` gives each model's
summed loss ``(M,)`` and the gradient with respect to the scores (same shape as the scores), with
optional per-sample, per-model weights ``(B, M)``; :meth:`Loss.values` the per-sample losses.

Regression losses work on the label scale they are given; the trainer passes labels and
``loss_insensitivity`` / ``huber_delta`` already divided by the label scale when it normalises
labels, and :attr:`Loss.scale_power` says how a loss value converts back to label units
(``loss_raw = loss * label_scale ** scale_power``).

Objective names are the ones printed in metric lines (``binary_classification_cross_entropy``,
``multiclass_cross_entropy`` and ``mse`` are seen in real logs; the other names are ours).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBJECTIVE_NAMES = {
    "logistic": "binary_classification_cross_entropy",
    "hinge_loss": "binary_classification_hinge_loss",
    "softmax_loss": "multiclass_cross_entropy",
    "squared_loss": "mse",
    "absolute_loss": "absolute_loss",
    "eps_insensitive_squared_loss": "eps_insensitive_squared_loss",
    "eps_insensitive_absolute_loss": "eps_insensitive_absolute_loss",
    "quantile_loss": "quantile_loss",
    "huber_loss": "huber_loss",
}


@dataclass(frozen=True)
class Loss:
    """One loss function with its parameters (margin, quantile, insensitivity, delta)."""

    name: str
    margin: float = 1.0
    quantile: float = 0.5
    insensitivity: float = 0.01
    delta: float = 1.0

    @property
    def objective_name(self) -> str:
        return OBJECTIVE_NAMES[self.name]

    @property
    def scale_power(self) -> int:
        return 1 if self.name in ("absolute_loss", "eps_insensitive_absolute_loss", "quantile_loss") else 2

    def total(self, scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Each model's summed loss (M,) (float64)."""
        return self._compute(scores, labels, weights, gradient=False)[0]

    def total_and_gradient(self, scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
                           loss_models: int | None = None, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Summed loss and the (weighted) gradient with respect to ``scores`` (all models).

        ``loss_models`` limits the summed loss to the first models (the training loop only reports
        model 0's), which spares the logistic loss its logarithms for the others. ``overwrite``
        lets the logistic loss compute its gradient in the scores' own buffer (no temporaries).
        """
        return self._compute(scores, labels, weights, gradient=True, loss_models=loss_models,  # type: ignore
                             overwrite=overwrite)

    def values(self, scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Per-sample, per-model losses (B, M)."""
        return self._per_sample(scores, labels, gradient=False)[0]

    def _compute(self, scores, labels, weights, gradient: bool, loss_models: int | None = None,
                 overwrite: bool = False):
        if self.name == "logistic" and gradient:
            # the gradient from one exp (NumPy's float32 exp is vectorised, its tanh is not); the loss
            # only where it is wanted (before scores is overwritten)
            y = labels.astype(scores.dtype, copy=False)[:, None]
            loss = _logistic(scores[:, :loss_models], labels, gradient=False)[0]
            if overwrite:  # sigmoid(s) - y = 1 / (1 + e^-s) - y, in place (e^-s = inf gives 0)
                grad = np.negative(scores, out=scores)
                np.exp(grad, out=grad)
                grad += 1.0
                np.reciprocal(grad, out=grad)
                grad -= y
            else:
                grad = sigmoid(scores)
                grad -= y
        else:
            loss, grad = self._per_sample(scores, labels, gradient)
            loss = loss[:, :loss_models]
        if weights is not None:
            loss = loss * weights[:, :loss_models]
            if grad is not None:
                grad *= weights[:, :, None] if grad.ndim == 3 else weights
        return loss.sum(axis=0, dtype=np.float64), grad

    def _per_sample(self, scores, labels, gradient: bool):
        if self.name == "logistic":
            return _logistic(scores, labels, gradient)
        if self.name == "softmax_loss":
            return _softmax_cross_entropy(scores, labels, gradient)
        return self._elementwise(scores, labels, gradient)

    def _elementwise(self, scores, labels, gradient: bool):
        y = labels.astype(scores.dtype, copy=False)[:, None]
        if self.name == "hinge_loss":
            sign = 2.0 * y - 1.0
            slack = self.margin - sign * scores
            grad = np.where(slack > 0, -sign, 0.0).astype(scores.dtype) if gradient else None
            return np.maximum(slack, 0.0), grad
        return _regression(self, scores - y, gradient)


def _logistic(scores: np.ndarray, labels: np.ndarray, gradient: bool):
    """log(1 + e^s) - y s without overflow (and its gradient sigmoid(s) - y) from one exp."""
    y = labels.astype(scores.dtype, copy=False)[:, None]
    small = np.exp(-np.abs(scores))  # e^-|s| in (0, 1]
    denominator = small + 1.0
    loss = np.log(denominator)
    loss += np.maximum(scores, 0.0)
    loss -= y * scores
    if not gradient:
        return loss, None
    probability = np.where(scores >= 0, 1.0, small)
    probability /= denominator
    probability -= y
    return loss, probability


def sigmoid(scores: np.ndarray) -> np.ndarray:
    """The logistic function without overflow for large |s| (0.5 * (1 + tanh(s / 2)))."""
    return 0.5 * (1.0 + np.tanh(0.5 * scores))


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = scores - scores.max(axis=axis, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return shifted


def _softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray, gradient: bool):
    """scores (B, M, C), integer labels (B,): loss (B, M) and gradient softmax - onehot."""
    count = scores.shape[0]
    rows = np.arange(count)
    classes = labels.astype(np.int64, copy=False)
    peak = scores.max(axis=2, keepdims=True)
    shifted = scores - peak
    exp = np.exp(shifted)
    total = exp.sum(axis=2)
    loss = np.log(total) - shifted[rows, :, classes]
    if not gradient:
        return loss, None
    exp /= total[:, :, None]
    exp[rows, :, classes] -= 1.0
    return loss, exp


def _regression(loss: Loss, residual: np.ndarray, gradient: bool):
    """Losses of ``residual = prediction - label``."""
    name = loss.name
    if name == "squared_loss":
        return residual * residual, (2.0 * residual if gradient else None)
    if name == "absolute_loss":
        return np.abs(residual), (np.sign(residual) if gradient else None)
    if name in ("eps_insensitive_squared_loss", "eps_insensitive_absolute_loss"):
        excess = np.maximum(np.abs(residual) - loss.insensitivity, 0.0)
        if name == "eps_insensitive_absolute_loss":
            return excess, (np.sign(residual) * (excess > 0) if gradient else None)
        return excess * excess, (2.0 * excess * np.sign(residual) if gradient else None)
    if name == "quantile_loss":
        # pinball loss of the error label - prediction = -residual
        q = loss.quantile
        value = np.maximum(-q * residual, (1.0 - q) * residual)
        return value, (np.where(residual > 0, 1.0 - q, np.where(residual < 0, -q, 0.0)) if gradient else None)
    if name == "huber_loss":
        delta = loss.delta
        magnitude = np.abs(residual)
        quadratic = magnitude <= delta
        value = np.where(quadratic, 0.5 * residual * residual, delta * (magnitude - 0.5 * delta))
        return value, (np.clip(residual, -delta, delta) if gradient else None)
    raise ValueError(f"unknown loss {name!r}")
