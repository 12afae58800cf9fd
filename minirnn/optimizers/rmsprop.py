"""RMSprop with Keras 3's update: epsilon inside the square root, optional centering
and momentum."""
import numpy as np

from ..checks import check_bool
from .arguments import checked_number
from .base import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divides the gradient by a running root mean square of past gradients, with epsilon
    inside the square root as in Keras 3: ``var -= lr * g / sqrt(v + eps)``. ``centered=True``
    subtracts the squared running mean gradient from ``v``; ``momentum`` accumulates steps."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.rho = checked_number("rho", rho, "in [0, 1]")
        self.momentum = checked_number("momentum", momentum, "in [0, 1]")
        self.epsilon = checked_number("epsilon", epsilon, "> 0")
        self.centered = check_bool(centered, "`centered`")

    def _slot_groups(self):
        return ((("velocity",),) + ((("momentum",),) if self.momentum > 0 else ())
                + ((("average_gradient",),) if self.centered else ()))

    def update_step(self, grad, var, lr):
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

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
