"""The Adam family with Keras 3's update rules: Adam (and AMSGrad), AdamW, Nadam, Adamax."""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..checks import check_bool
from .arguments import checked_number
from .base import LearningRate, Optimizer, shared_arguments

__all__ = ["Adam", "AdamW", "Nadam", "Adamax"]


class _Moments(Optimizer):
    """What Adam, Nadam and Adamax share: the decay rates of the two moments and epsilon."""

    def _set_moments(self, beta_1, beta_2, epsilon):
        self.beta_1 = checked_number("beta_1", beta_1, "in [0, 1)")
        self.beta_2 = checked_number("beta_2", beta_2, "in [0, 1)")
        self.epsilon = checked_number("epsilon", epsilon, "> 0")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adam(_Moments):
    """Adam with the bias correction folded into the step size, as Keras 3 computes it:
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, ``var -= alpha * m / (sqrt(v) + eps)``.
    ``amsgrad=True`` divides by the running maximum of ``v`` instead."""

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: Literal[False] = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: None = None,
                 loss_scale_factor: None = None, gradient_accumulation_steps: None = None,
                 name: str | None = None) -> None:
        super().__init__(**shared_arguments(locals()))
        self._set_moments(beta_1, beta_2, epsilon)
        self.amsgrad = check_bool(amsgrad, "`amsgrad`")

    def _slot_groups(self):
        # Keras creates the AMSGrad maxima after all the moments, so they come last.
        return (("momentum", "velocity"),) + ((("velocity_hat",),) if self.amsgrad else ())

    def update_step(self, grad: np.ndarray, var: Any, lr: np.floating) -> None:
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

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (``var -= var * weight_decay * lr`` before each step),
    on by default."""

    def __init__(self, learning_rate: LearningRate = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: Literal[False] = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: None = None,
                 loss_scale_factor: None = None, gradient_accumulation_steps: None = None,
                 name: str | None = None) -> None:
        if weight_decay is None:
            raise ValueError("AdamW needs `weight_decay` to be a number; got None")
        super().__init__(**shared_arguments(locals()), beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad)


class Nadam(_Moments):
    """Adam with Nesterov momentum (Dozat, 2015), with Keras 3's momentum schedule
    ``u_t = beta_1 * (1 - 0.5 * 0.96**t)``. The product of the ``u_t`` so far, ``u_product``,
    is one value for the whole optimizer, updated once per step before the variables:
    ``m_hat = u_{t+1} * m / (1 - u_product * u_{t+1}) + (1 - u_t) * g / (1 - u_product)``,
    ``var -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + eps)``."""

    _shared_slot_initial_values = {"u_product": 1.0}

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: Literal[False] = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: None = None,
                 loss_scale_factor: None = None, gradient_accumulation_steps: None = None,
                 name: str | None = None) -> None:
        super().__init__(**shared_arguments(locals()))
        self._set_moments(beta_1, beta_2, epsilon)

    def _slot_groups(self):
        return (("momentum", "velocity"),)

    def _momentum_cache(self, dtype, step):
        # 0.96 and the step are cast to the dtype first, as Keras casts them.
        return dtype(self.beta_1) * (1 - dtype(0.5) * dtype(0.96) ** dtype(step))

    def _prepare_step(self):
        u_product = self._shared_slots["u_product"]
        dtype = u_product.dtype.type
        decay = dtype(0.96) ** dtype(self._iterations + 1)
        u_product[...] = u_product * dtype(self.beta_1) * (1 - dtype(0.5) * decay)

    def update_step(self, grad: np.ndarray, var: Any, lr: np.floating) -> None:
        x, m, v = var.data, self._slot(var, "momentum"), self._slot(var, "velocity")
        dtype = x.dtype.type
        step = self._iterations + 1
        beta_1, beta_2 = dtype(self.beta_1), dtype(self.beta_2)
        u_t = self._momentum_cache(dtype, step)
        u_t_1 = self._momentum_cache(dtype, step + 1)
        u_product_t = dtype(self._shared_slots["u_product"])
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = beta_2 ** dtype(step)
        m += (grad - m) * (1 - beta_1)
        v += (np.square(grad) - v) * (1 - beta_2)
        m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * grad) / (1 - u_product_t)
        v_hat = v / (1 - beta_2_power)
        x -= (m_hat * lr) / (np.sqrt(v_hat) + dtype(self.epsilon))


class Adamax(_Moments):
    """Adam with the infinity norm in place of the root mean square (Kingma and Ba, 2014,
    section 7.1): ``u = max(beta_2 * u, |g|)``,
    ``var -= lr * m / ((1 - beta_1**t) * (u + eps))``."""

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: Literal[False] = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: None = None,
                 loss_scale_factor: None = None, gradient_accumulation_steps: None = None,
                 name: str | None = None) -> None:
        super().__init__(**shared_arguments(locals()))
        self._set_moments(beta_1, beta_2, epsilon)

    def _slot_groups(self):
        return (("momentum", "norm"),)

    def update_step(self, grad: np.ndarray, var: Any, lr: np.floating) -> None:
        x, m, u = var.data, self._slot(var, "momentum"), self._slot(var, "norm")
        dtype = x.dtype.type
        beta_1_power = dtype(self.beta_1) ** dtype(self._iterations + 1)
        m += (grad - m) * (1 - self.beta_1)
        np.maximum(u * self.beta_2, np.abs(grad), out=u)
        x -= (lr * m) / ((1 - beta_1_power) * (u + self.epsilon))
