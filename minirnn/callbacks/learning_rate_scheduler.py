"""LearningRateScheduler: set the learning rate at the start of each epoch from a function."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import checks
from .callback import Callback
from .learning_rate import optimizer_of, read_rate, set_rate

__all__ = ["LearningRateScheduler"]


class LearningRateScheduler(Callback):
    """Before each epoch, the rate becomes `schedule(epoch, lr)` (epoch from 0, lr the current
    rate), or `schedule(epoch)` for a one-argument function: as in Keras, a TypeError from the
    two-argument call means "try one". The function must return a float. Each epoch's logs get
    `learning_rate` (float32-rounded, as Keras stores it)."""

    log_keys_added = ("learning_rate",)

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler argument schedule must be a function of "
                            f"(epoch, lr) or (epoch); got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = checks.check_int(verbose, "LearningRateScheduler argument verbose")

    def _validate(self, model, params, log_keys, more_keys_possible):
        optimizer_of(model, "LearningRateScheduler")

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = optimizer_of(self.model, "LearningRateScheduler")
        try:
            learning_rate = self.schedule(epoch, read_rate(optimizer))
        except TypeError:  # a schedule of the epoch alone
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. "
                             f"Got: {learning_rate}")
        set_rate(optimizer, learning_rate, "LearningRateScheduler")
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = read_rate(optimizer_of(self.model, "LearningRateScheduler"))
