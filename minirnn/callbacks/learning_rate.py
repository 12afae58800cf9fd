"""Reading and setting an optimizer's learning rate as Keras's callbacks see it.

Keras keeps the rate in a float32 variable: what a callback reads back (and logs) is the rate
rounded to float32, and what it sets is stored rounded. minirnn's optimizers keep a Python
float, so the rounding is done here, on both sides, for the logs to hold Keras's numbers.
"""
import numbers

import numpy as np

_NOT_SETTABLE = ("This optimizer was created with a `LearningRateSchedule` object as its "
                 "`learning_rate` constructor argument, hence its learning rate is not settable. "
                 "If you need the learning rate to be settable, you should instantiate the "
                 "optimizer with a float `learning_rate` argument.")

__all__ = ["optimizer_of", "read_rate", "set_rate"]


def optimizer_of(model, who):
    """The model's optimizer, refused with a message naming `who` if it has no learning rate."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        name = getattr(model, "name", type(model).__name__)
        raise ValueError(f'{who} needs a compiled model whose optimizer has a "learning_rate" '
                         f"attribute; model '{name}' has optimizer {optimizer!r}")
    return optimizer


def read_rate(optimizer):
    """The rate of the next update, as Keras reads it back: float32-rounded, as a float."""
    return float(np.float32(optimizer.learning_rate))


def set_rate(optimizer, value, who):
    """Store `value` (rounded to float32) as the optimizer's rate. A rate that comes from a
    schedule or a callable cannot be replaced by a number: TypeError, as Keras raises."""
    configured = optimizer.get_config().get("learning_rate") if hasattr(optimizer, "get_config") \
        else None
    if configured is not None and not isinstance(configured, numbers.Real):
        kind = "a schedule" if isinstance(configured, dict) else "a callable"
        raise TypeError(f"{who} cannot set the learning rate of optimizer "
                        f"'{getattr(optimizer, 'name', type(optimizer).__name__)}', whose rate "
                        f"is {kind}. {_NOT_SETTABLE}")
    optimizer.learning_rate = float(np.float32(value))
