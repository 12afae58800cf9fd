"""The Adam family with Keras 3's update rules: Adam (and AMSGrad) and AdamW."""
import numpy as np

from ..checks import check_bool
from .arguments import checked_number
from .base import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with the bias correction folded into the step size, as Keras 3 computes it:
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, ``var -= alpha * m / (sqrt(v) + eps)``.
    ``amsgrad=True`` divides by the running maximum of ``v`` instead."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.beta_1 = checked_number("beta_1", beta_1, "in [0, 1)")
        self.beta_2 = checked_number("beta_2", beta_2, "in [0, 1)")
        self.epsilon = checked_number("epsilon", epsilon, "> 0")
        self.amsgrad = check_bool(amsgrad, "`amsgrad`")

    def _slot_groups(self):
        # Keras creates the AMSGrad maxima after all the moments, so they come last.
        return (("momentum", "velocity"),) + ((("velocity_hat",),) if self.amsgrad else ())

    def update_step(self, grad, var, lr):
        x, m, v = var.data, self._slot(var, "momentum"), self._slot(var, "velocity")
        dtype = x.dtype.type
        t = dtype(self._iterations + 1)
        # Scalars stay in the variable's dtype, so float32 rounds where Keras's float32 does.
        alpha = lr * np.sqrt(1 - dtype(self.beta_2) ** t) / (1 - dtype(self.beta_1) ** t)
        m += (grad - m) * (1 - self.beta_1)
        v += (np.square(grad) - v) * (1 - self.beta_2)
        if self.amsgrad:
            v_hat = self._slot(var, "velocity_hat")
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        x -= (m * alpha) / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (``var -= var * weight_decay * lr`` before each step),
    on by default."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None):
        if weight_decay is None:
            raise ValueError("AdamW needs `weight_decay` to be a number; got None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm,
                         clipvalue, global_clipnorm, name)

