"""keras.config: the process-wide settings a Keras script reads or sets.

floatx is minirnn's dtype policy (tensor.py); epsilon is the fuzz factor the losses use; the
backend is NumPy and images are channels-last, as Keras's defaults.
"""
from .losses import EPSILON
from .saving.registry import enable_unsafe_deserialization
from .tensor import floatx, set_floatx

__all__ = ["backend", "floatx", "set_floatx", "epsilon", "image_data_format",
           "enable_unsafe_deserialization"]


def backend():
    """The name of the backend: minirnn computes with NumPy."""
    return "numpy"


def epsilon():
    """The fuzz factor added in numeric expressions (the losses' clipping), 1e-7 as in Keras."""
    return EPSILON


def image_data_format():
    """'channels_last': minirnn's Conv1D and pooling layers take (batch, steps, channels)."""
    return "channels_last"
