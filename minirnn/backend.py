"""keras.backend: the few functions of Keras 3's backend module a script still calls.

clear_session() resets what Keras's resets: the counters behind automatic layer names (so the
next Dense is "dense" again) and keras.config.enable_unsafe_deserialization().
"""
import gc

from .config import backend, epsilon, floatx, image_data_format, set_floatx
from .layers import base
from .saving import registry

__all__ = ["backend", "clear_session", "epsilon", "floatx", "image_data_format", "set_floatx"]


def clear_session(free_memory=True):
    """Forget the global state: layer names start afresh and loading is safe again. With
    free_memory, run Python's garbage collector too, as Keras does."""
    with base._NAME_LOCK:
        base._NAME_COUNTS.clear()
    registry.reset_unsafe_deserialization()
    if free_memory:
        gc.collect()
