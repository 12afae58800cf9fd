"""Learning-rate schedules with Keras 3's formulas, configs and class names, as in
``keras.optimizers.schedules``: ``from minirnn.optimizers.schedules import ExponentialDecay``."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Self

from ..checks import check_bool
from .arguments import checked_number

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "InverseTimeDecay", "PolynomialDecay", "CosineDecay", "serialize", "deserialize"]


class LearningRateSchedule:
    """A learning rate that depends on the step: ``schedule(step) -> float``.

    The optimizer calls it with its ``iterations`` before incrementing them, so the first update
    uses ``schedule(0)``. Subclasses define ``__call__`` and ``get_config``.
    """

    def __call__(self, step: int | float) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, step)")

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must define get_config() "
                                  "to be serializable")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _decay_steps(value, name="decay_steps"):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number > 0; got {value!r} of type "
                        f"{type(value).__name__}")
    if not value > 0:
        raise ValueError(f"`{name}` must be a number > 0; got {value!r}")
    return value


class _RateDecay(LearningRateSchedule):
    """Shared by the decays of the form f(initial_learning_rate, decay_rate, step / decay_steps)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        self.initial_learning_rate = checked_number("initial_learning_rate",
                                                    initial_learning_rate, ">= 0")
        self.decay_steps = _decay_steps(decay_steps)
        self.decay_rate = checked_number("decay_rate", decay_rate, ">= 0")
        self.staircase = check_bool(staircase, "`staircase`")
        self.name = name or type(self).__name__

    def _progress(self, step):
        p = float(step) / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase=True``
    the exponent is floored, so the rate drops in steps every ``decay_steps``."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: int | float) -> float:
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, and ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries: Sequence[float], values: Sequence[float],
                 name: str = "PiecewiseConstant") -> None:
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"PiecewiseConstantDecay expects one boundary fewer than values; got "
                             f"{len(boundaries)} boundaries {boundaries} and {len(values)} "
                             f"values {values}")
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"`boundaries` must be strictly increasing; got {boundaries}")
        for value in values:
            checked_number("a value of PiecewiseConstantDecay", value, ">= 0")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: int | float) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; ``staircase=True``
    floors ``step / decay_steps``."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: int | float) -> float:
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps`` along
    ``(1 - step / decay_steps) ** power``; ``cycle=True`` restarts with a longer period."""

    def __init__(self, initial_learning_rate: float, decay_steps: float,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay") -> None:
        self.initial_learning_rate = checked_number("initial_learning_rate",
                                                    initial_learning_rate, ">= 0")
        self.decay_steps = _decay_steps(decay_steps)
        self.end_learning_rate = checked_number("end_learning_rate", end_learning_rate, ">= 0")
        self.power = checked_number("power", power, ">= 0")
        self.cycle = check_bool(cycle, "`cycle`")
        self.name = name

    def __call__(self, step: int | float) -> float:
        step, decay_steps = float(step), float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power
                + self.end_learning_rate)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Half a cosine from ``initial_learning_rate`` down to ``alpha * initial_learning_rate``
    over ``decay_steps``, then flat. With ``warmup_target``, first a linear ramp from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then the cosine
    from ``warmup_target``."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: float = 0) -> None:
        self.initial_learning_rate = checked_number("initial_learning_rate",
                                                    initial_learning_rate, ">= 0")
        self.decay_steps = _decay_steps(decay_steps)
        self.alpha = checked_number("alpha", alpha, ">= 0")
        self.name = name
        self.warmup_target = (None if warmup_target is None
                              else checked_number("warmup_target", warmup_target, ">= 0"))
        self.warmup_steps = checked_number("warmup_steps", warmup_steps, ">= 0")

    def _decay(self, step, from_lr):
        cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * (step / self.decay_steps)))
        return from_lr * ((1 - self.alpha) * cosine_decayed + self.alpha)

    def __call__(self, step: int | float) -> float:
        step = float(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_SCHEDULES = {cls.__name__: cls for cls in (
    ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, PolynomialDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, the form ``deserialize`` and Keras read."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """A schedule from ``{"class_name": ..., "config": {...}}`` (Keras's extra keys ignored)."""
    name = config.get("class_name")
    if name not in _SCHEDULES:
        raise ValueError(f"Unknown learning-rate schedule {name!r}; known schedules: "
                         f"{', '.join(sorted(_SCHEDULES))}")
    return _SCHEDULES[name].from_config(dict(config.get("config", {})))
