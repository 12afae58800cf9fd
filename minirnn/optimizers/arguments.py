"""The check every optimizer and schedule hyperparameter goes through."""
import math
import numbers

__all__ = ["checked_number"]

_INTERVALS = {
    ">= 0": lambda x: x >= 0,
    "> 0": lambda x: x > 0,
    "in [0, 1]": lambda x: 0 <= x <= 1,
    "in [0, 1)": lambda x: 0 <= x < 1,
}


def checked_number(name, value, interval):
    """``value`` as a float, or a TypeError/ValueError naming what was expected and what came.
    ``interval`` is one of ``">= 0"``, ``"> 0"``, ``"in [0, 1]"``, ``"in [0, 1)"``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number {interval}; got {value!r} "
                        f"of type {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and _INTERVALS[interval](value)):
        raise ValueError(f"`{name}` must be a finite number {interval}; got {value!r}")
    return value
