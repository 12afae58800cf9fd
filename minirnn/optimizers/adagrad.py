"""Adagrad with Keras 3's update and initial accumulator."""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .arguments import checked_number
from .base import LearningRate, Optimizer, shared_arguments

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Per-element step sizes shrinking with the sum of squared gradients:
    ``acc += g**2``; ``var -= lr * g / sqrt(acc + eps)``, ``acc`` starting at
    ``initial_accumulator_value``."""

    def __init__(self, learning_rate: LearningRate = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: Literal[False] = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: None = None,
                 loss_scale_factor: None = None, gradient_accumulation_steps: None = None,
                 name: str | None = None) -> None:
        super().__init__(**shared_arguments(locals()))
        self.initial_accumulator_value = checked_number("initial_accumulator_value",
                                                 initial_accumulator_value, ">= 0")
        self.epsilon = checked_number("epsilon", epsilon, "> 0")
        self._slot_initial_values = {"accumulator": self.initial_accumulator_value}

    def _slot_groups(self):
        return (("accumulator",),)

    def update_step(self, grad: np.ndarray, var: Any, lr: np.floating) -> None:
        x, accumulator = var.data, self._slot(var, "accumulator")
        accumulator += np.square(grad)
        x -= lr * grad / np.sqrt(accumulator + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
