"""Saving and loading: minirnn's .npz weights and model files (`npz`, NumPy alone), Keras 3's
.keras and .weights.h5 files (`keras_format`, with h5py), the choice between them by extension
(`formats`), safe deserialization of the configs inside them (`serialization`, `registry`), and
the file handling both formats share (`files`: atomic writes, wary zip opening).

`load_model` and `save_model` live in minirnn.models (they need the model classes, which sit
above this package) and are re-exported here on first use.
"""
from . import formats, keras_format, npz, registry, serialization
from .formats import load_weights, save_weights
from .npz import WeightsFile, load_archive, read_weights, save_archive
from .registry import (CustomObjectScope, custom_object_scope, get_custom_objects,
                       get_registered_name, get_registered_object, register_keras_serializable)

__all__ = ["load_model", "save_model", "save_weights", "load_weights", "save_archive",
           "load_archive", "read_weights", "register_keras_serializable", "get_registered_object",
           "get_registered_name", "get_custom_objects", "custom_object_scope", "CustomObjectScope"]


def __getattr__(name):
    if name == "load_model":
        from ..models import load_model  # late: models import this package
        return load_model
    if name == "save_model":
        from ..models.model_io import save_model
        return save_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
