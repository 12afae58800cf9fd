"""ReduceLROnPlateau: divide the learning rate when a monitored value stops improving."""
from __future__ import annotations

import warnings

import numpy as np

from .. import checks
from .callback import Callback
from .learning_rate import optimizer_of, read_rate, set_rate
from .monitor import improvement_op

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` once `monitor` has not improved (by more than
    `min_delta`) for `patience` epochs, then wait `cooldown` epochs before counting again;
    never below `min_lr`. Each epoch's logs get `learning_rate`: the rate that epoch trained
    with, before any reduction at its end (as in Keras, float32-rounded)."""

    log_keys_added = ("learning_rate",)

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"ReduceLROnPlateau argument monitor must be a log key (a string); "
                            f"got {type(monitor).__name__}")
        factor = checks.check_float(factor, "ReduceLROnPlateau argument factor", minimum=0.0)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.monitor, self.factor = monitor, factor
        self.patience = checks.non_negative_int(patience, "ReduceLROnPlateau argument patience")
        self.verbose = checks.check_int(verbose, "ReduceLROnPlateau argument verbose")
        self.cooldown = checks.non_negative_int(cooldown, "ReduceLROnPlateau argument cooldown")
        self.min_lr = checks.check_float(min_lr, "ReduceLROnPlateau argument min_lr", minimum=0.0)
        min_delta = abs(checks.check_float(min_delta, "ReduceLROnPlateau argument min_delta"))
        self.mode = mode
        self.monitor_op = improvement_op(mode, monitor, "ReduceLROnPlateau")
        self.min_delta = -min_delta if self.monitor_op is np.less else min_delta
        self._reset()

    def _validate(self, model, params, log_keys, more_keys_possible):
        optimizer_of(model, "ReduceLROnPlateau")
        if self.monitor not in log_keys and not more_keys_possible:
            raise ValueError(f"ReduceLROnPlateau monitors {self.monitor!r}, which fit will not "
                             f"log; it logs {sorted(log_keys)}")

    def _reset(self):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_improvement(self, current):
        return self.best is None or bool(self.monitor_op(current - self.min_delta, self.best))

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        optimizer = optimizer_of(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = read_rate(optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: "
                          f"{','.join(logs)}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(optimizer, epoch):
                self.cooldown_counter, self.wait = self.cooldown, 0

    def _reduce(self, optimizer, epoch):
        old_lr = read_rate(optimizer)
        if not old_lr > np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        set_rate(optimizer, new_lr, "ReduceLROnPlateau")
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
        return True
