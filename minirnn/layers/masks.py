"""The masks that layers pass along with their outputs, kept by the layers, not by the engine.

Keras attaches a boolean (batch, timesteps) mask to a tensor as `_keras_mask`; minirnn offers the
same attribute on Tensor, stored here, so the autodiff engine holds no layer state. An entry lives
as long as its tensor: a weak reference drops it when the tensor is freed.
"""
import weakref

import numpy as np

from ..tensor import Tensor

__all__ = ["get_mask", "set_mask"]

_MASKS = {}  # id(tensor) -> (weak reference to the tensor, boolean mask)


def get_mask(tensor):
    """The mask carried by `tensor`, or None (for anything that is not a masked Tensor)."""
    entry = _MASKS.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


def set_mask(tensor, mask):
    """Attach `mask` (array-like of bools, or None to remove it) to `tensor`."""
    key = id(tensor)
    if mask is None:
        _MASKS.pop(key, None)
        return
    forget = lambda _, key=key: _MASKS.pop(key, None)
    _MASKS[key] = (weakref.ref(tensor, forget), np.asarray(mask, dtype=bool))


Tensor._keras_mask = property(get_mask, set_mask, doc="The mask layers propagate, as in Keras.")
