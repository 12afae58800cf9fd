"""Optimizers with Keras 3's update rules, names, defaults and configs, applied in place to
NumPy arrays (see ``base`` for the update loop every optimizer shares), and the lookup
``get`` / ``serialize`` / ``deserialize`` that ``Model.compile`` and Keras configs go through.

Learning-rate schedules live in ``minirnn.optimizers.schedules`` and are also exported here, as
``keras.optimizers`` exports them.
"""
from __future__ import annotations

from typing import Any

from . import schedules
from .adagrad import Adagrad
from .adam import Adam, Adamax, AdamW, Nadam
from .base import Optimizer
from .rmsprop import RMSprop
from .schedules import (CosineDecay, ExponentialDecay, InverseTimeDecay, LearningRateSchedule,
                        PiecewiseConstantDecay, PolynomialDecay)
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "Nadam", "Adamax", "RMSprop", "Adagrad",
    "LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "InverseTimeDecay",
    "PolynomialDecay", "CosineDecay", "schedules", "get", "serialize", "deserialize",
]

# Keras's string names: the class name in lower case ("adam", "rmsprop", "adamax").
_OPTIMIZERS = {cls.__name__.lower(): cls
               for cls in (SGD, Adam, AdamW, Nadam, Adamax, RMSprop, Adagrad)}


def _optimizer_class(name):
    cls = _OPTIMIZERS.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"Unknown optimizer {name!r}; known optimizers: "
                         f"{', '.join(sorted(_OPTIMIZERS))}")
    return cls


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for ``get`` / ``deserialize``."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """An optimizer from ``serialize()``'s dict, or Keras's ``keras.optimizers.serialize()``."""
    if "class_name" not in config:
        raise ValueError(f"An optimizer config needs a 'class_name' key; got keys "
                         f"{sorted(config)}")
    return _optimizer_class(config["class_name"]).from_config(config.get("config", {}))


def get(identifier: Optimizer | str | dict[str, Any] | None) -> Optimizer | None:
    """An optimizer from an instance (returned as is), a name such as ``"adam"`` (any case,
    Keras's defaults), or a config dict ``{"class_name": ..., "config": {...}}``. ``None``
    gives ``None``, as in Keras."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _optimizer_class(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier {identifier!r}: expected an "
                     "Optimizer, a name or a config dict")
