"""Which format a path means, by its extension, as Keras 3 decides it: `.keras` (Keras's zip),
`.weights.h5` (Keras's weights layout, h5py needed), `.npz` (minirnn's own, NumPy alone)."""
import os

from . import keras_format, npz

__all__ = ["model_format", "save_weights", "load_weights"]

_H5_SUFFIXES = (".h5", ".hdf5")


def _suffix(filepath):
    return str(os.fspath(filepath)).lower()


def is_h5(filepath):
    return _suffix(filepath).endswith(_H5_SUFFIXES)


def model_format(filepath, action="save"):
    """"keras" or "npz" for a whole-model file; ValueError for any other extension."""
    path = _suffix(filepath)
    if path.endswith(".keras"):
        return "keras"
    if path.endswith(".npz"):
        return "npz"
    if path.endswith(_H5_SUFFIXES):
        raise ValueError(f"{os.fspath(filepath)!r}: a whole model is saved as '.keras' (Keras 3's "
                         f"format) or '.npz' (minirnn's); Keras 2's legacy .h5 model files are not "
                         f"supported (weights alone go to '.weights.h5' with save_weights)")
    raise ValueError(f"Invalid filepath extension for {action}ing a model: {os.fspath(filepath)!r}. "
                     f"Use '.keras' (Keras 3's format, needs h5py: pip install \"minirnn[h5]\") or "
                     f"'.npz' (minirnn's own, NumPy alone)")


def save_weights(model, filepath):
    """Weights to `.weights.h5` (Keras's layout) or, for any other name, minirnn's .npz."""
    if _suffix(filepath).endswith(".keras"):
        raise ValueError(f"{os.fspath(filepath)!r}: save_weights writes weights only; give a "
                         f"'.weights.h5' or '.npz' path (model.save writes '.keras' files)")
    if is_h5(filepath):
        keras_format.save_weights(model, filepath)
    else:
        npz.save_weights(model, filepath)


def load_weights(model, filepath):
    """Weights from a Keras `.weights.h5` / `.keras` file, or from minirnn's .npz."""
    if is_h5(filepath) or keras_format.is_keras_file(filepath):
        keras_format.load_weights(model, filepath)
    else:
        npz.load_weights(model, filepath)
