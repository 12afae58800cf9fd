"""Stochastic gradient descent, with Keras 3's momentum and Nesterov update."""
from ..checks import check_bool
from .arguments import checked_number
from .base import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum, as Keras 3 writes it:
    ``m = momentum * m - lr * g``; ``var += m``, or with Nesterov ``var += momentum * m - lr * g``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.momentum = checked_number("momentum", momentum, "in [0, 1]")
        self.nesterov = check_bool(nesterov, "`nesterov`")

    def _slot_groups(self):
        return (("momentum",),) if self.momentum != 0 else ()

    def update_step(self, grad, var, lr):
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

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
