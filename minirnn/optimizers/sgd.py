"""Stochastic gradient descent, with Keras 3's momentum and Nesterov update."""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..checks import check_bool
from .arguments import checked_number
from .base import LearningRate, Optimizer, shared_arguments

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum, as Keras 3 writes it:
    ``m = momentum * m - lr * g``; ``var += m``, or with Nesterov ``var += momentum * m - lr * g``.
    """

    def __init__(self, learning_rate: LearningRate = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: Literal[False] = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: None = None,
                 loss_scale_factor: None = None, gradient_accumulation_steps: None = None,
                 name: str | None = None) -> None:
        super().__init__(**shared_arguments(locals()))
        self.momentum = checked_number("momentum", momentum, "in [0, 1]")
        self.nesterov = check_bool(nesterov, "`nesterov`")

    def _slot_groups(self):
        return (("momentum",),) if self.momentum != 0 else ()

    def update_step(self, grad: np.ndarray, var: Any, lr: np.floating) -> None:
        x = var.data
        if self.momentum == 0:
            x -= grad * lr
            return
        m = self._slot(var, "momentum")
        m[...] = m * self.momentum - grad * lr
        if self.nesterov:
            x += m * self.momentum - grad * lr
        else:
            x += m

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
