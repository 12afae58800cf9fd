"""RMSprop with Keras 3's update: epsilon inside the square root, optional centering
and momentum."""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..checks import check_bool
from .arguments import checked_number
from .base import LearningRate, Optimizer, shared_arguments

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divides the gradient by a running root mean square of past gradients, with epsilon
    inside the square root as in Keras 3: ``var -= lr * g / sqrt(v + eps)``. ``centered=True``
    subtracts the squared running mean gradient from ``v``; ``momentum`` accumulates steps."""

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: Literal[False] = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: None = None,
                 loss_scale_factor: None = None, gradient_accumulation_steps: None = None,
                 name: str | None = None) -> None:
        super().__init__(**shared_arguments(locals()))
        self.rho = checked_number("rho", rho, "in [0, 1]")
        self.momentum = checked_number("momentum", momentum, "in [0, 1]")
        self.epsilon = checked_number("epsilon", epsilon, "> 0")
        self.centered = check_bool(centered, "`centered`")

    def _slot_groups(self):
        return ((("velocity",),) + ((("momentum",),) if self.momentum > 0 else ())
                + ((("average_gradient",),) if self.centered else ()))

    def update_step(self, grad: np.ndarray, var: Any, lr: np.floating) -> None:
        x, v, rho = var.data, self._slot(var, "velocity"), self.rho
        v[...] = rho * v + (1 - rho) * np.square(grad)
        if self.centered:
            g_mean = self._slot(var, "average_gradient")
            g_mean[...] = rho * g_mean + (1 - rho) * grad
            denominator = v - np.square(g_mean) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = lr * grad / np.sqrt(denominator)
        if self.momentum > 0:
            m = self._slot(var, "momentum")
            m[...] = self.momentum * m + increment
            x -= m
        else:
            x -= increment

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
