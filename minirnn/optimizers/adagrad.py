"""Adagrad with Keras 3's update and initial accumulator."""
import numpy as np

from .arguments import checked_number
from .base import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Per-element step sizes shrinking with the sum of squared gradients:
    ``acc += g**2``; ``var -= lr * g / sqrt(acc + eps)``, ``acc`` starting at
    ``initial_accumulator_value``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.initial_accumulator_value = checked_number("initial_accumulator_value",
                                                 initial_accumulator_value, ">= 0")
        self.epsilon = checked_number("epsilon", epsilon, "> 0")
        self._slot_initial_values = {"accumulator": self.initial_accumulator_value}

    def _slot_groups(self):
        return (("accumulator",),)

    def update_step(self, grad, var, lr):
        x, accumulator = var.data, self._slot(var, "accumulator")
        accumulator += np.square(grad)
        x -= lr * grad / np.sqrt(accumulator + self.epsilon)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
