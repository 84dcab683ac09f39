"""SGD (with momentum), Adam and RMSProp over the stacked weights of every model at once.

Parameters are a weight matrix ``W`` (d, M*K) and a bias vector ``b`` (M*K,); each column belongs
to one model, so learning rates and regularisation strengths come as per-column vectors. Weight
decay (``wd``) and ``l1`` are added to the gradient (L2 coupled, as MXNet's optimizers do; L1 as a
subgradient). Updates are in place, in float32.
"""

from __future__ import annotations

import numpy as np

RMSPROP_DECAY = 0.9  # MXNet's RMSProp gamma1
EPSILON = 1e-8


class Optimizer:
    def __init__(self, shapes: list[tuple[int, ...]]) -> None:
        self.updates = 0

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], rates: list[np.ndarray]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(self, shapes, momentum: float = 0.0) -> None:
        super().__init__(shapes)
        self.momentum = momentum
        self.velocity = [np.zeros(shape, np.float32) for shape in shapes] if momentum else None

    def step(self, params, grads, rates) -> None:
        self.updates += 1
        for index, (param, grad, rate) in enumerate(zip(params, grads, rates)):
            grad *= rate
            if self.velocity is None:
                param -= grad
            else:
                velocity = self.velocity[index]
                velocity *= self.momentum
                velocity -= grad
                param += velocity


class Adam(Optimizer):
    def __init__(self, shapes, beta_1: float = 0.9, beta_2: float = 0.999) -> None:
        super().__init__(shapes)
        self.beta_1, self.beta_2 = beta_1, beta_2
        self.first = [np.zeros(shape, np.float32) for shape in shapes]
        self.second = [np.zeros(shape, np.float32) for shape in shapes]

    def step(self, params, grads, rates) -> None:
        self.updates += 1
        t = self.updates
        correction = np.float32(np.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t))
        for param, grad, rate, first, second in zip(params, grads, rates, self.first, self.second):
            # first = b1 first + (1 - b1) g and second = b2 second + (1 - b2) g^2, written as moves
            # towards g so that no temporaries are needed; grad is overwritten
            first -= grad
            first *= self.beta_1
            first += grad
            np.square(grad, out=grad)
            second -= grad
            second *= self.beta_2
            second += grad
            np.sqrt(second, out=grad)
            grad += EPSILON
            np.divide(first, grad, out=grad)
            grad *= rate * correction
            param -= grad


class RMSProp(Optimizer):
    def __init__(self, shapes, decay: float = RMSPROP_DECAY) -> None:
        super().__init__(shapes)
        self.decay = decay
        self.mean_square = [np.zeros(shape, np.float32) for shape in shapes]

    def step(self, params, grads, rates) -> None:
        self.updates += 1
        for param, grad, rate, mean_square in zip(params, grads, rates, self.mean_square):
            mean_square *= self.decay
            mean_square += (1.0 - self.decay) * np.square(grad)
            grad /= np.sqrt(mean_square + EPSILON)
            grad *= rate
            param -= grad


def make_optimizer(name: str, shapes: list[tuple[int, ...]], *, momentum: float, beta_1: float,
                   beta_2: float) -> Optimizer:
    if name == "sgd":
        return SGD(shapes, momentum)
    if name == "adam":
        return Adam(shapes, beta_1, beta_2)
    if name == "rmsprop":
        return RMSProp(shapes)
    raise ValueError(f"unknown optimizer {name!r}")
