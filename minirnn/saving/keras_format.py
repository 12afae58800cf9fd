"""Keras 3's files: the .keras zip (config.json, metadata.json, model.weights.h5) and
.weights.h5, written so that keras.saving.load_model / model.load_weights read them, and read
from Keras's own.

Written atomically (a temporary file renamed over the target), read warily: a file that is not a
zip, lacks a member, holds a config minirnn cannot build or weights that do not fit raises
ValueError naming it, before the model (or the one given to load_weights) changes.
"""
import datetime
import io
import json
import os
import zipfile

from . import h5_weights, keras_assets, keras_config
from .files import open_zip, write_atomically
from .registry import loading_scope
from .serialization import ConfigError

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "is_keras_file",
           "KERAS_FORMAT_VERSION"]

# The Keras release whose files this layout was checked against (metadata.json's keras_version).
KERAS_FORMAT_VERSION = "3.15.1"
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
_MAX_CONFIG_BYTES = 64 * 2 ** 20
# A member may expand at most this much from its compressed size past the floor: a tiny zip
# must not make the loader allocate gigabytes (Keras's own guard has the same shape).
_MAX_EXPANSION, _EXPANSION_FLOOR = 100, 2 ** 28


def _name(filepath):
    return repr(os.fspath(filepath))


def _error(filepath, message):
    return ValueError(f"{_name(filepath)}: {message}")


def is_keras_file(filepath):
    """Whether `filepath` names a Keras 3 zip: by its .keras extension."""
    return str(os.fspath(filepath)).lower().endswith(".keras")


# -- writing ---------------------------------------------------------------------------------------

def _optimizer_payload(model, groups):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    trainable = h5_weights.trainable_in_keras_order(model, groups)
    return optimizer.name, h5_weights.optimizer_arrays(optimizer, trainable)


def _weights_bytes(h5py, model):
    groups = h5_weights.layer_groups(model)
    named = keras_assets.named_arrays(h5_weights.layer_paths(model))
    return h5_weights.write_h5(h5py, groups, _optimizer_payload(model, groups), named)


def save_model(model, filepath):
    """model as a .keras zip Keras 3 loads: architecture, weights, compile settings and the
    optimizer's state."""
    h5py = h5_weights.require_h5py(filepath)
    entry = keras_config.model_to_keras(model)
    entry["compile_config"] = keras_config.compile_to_keras(model)
    config_json = json.dumps(entry)
    weights = _weights_bytes(h5py, model)
    assets = keras_assets.assets_to_write(h5_weights.layer_paths(model))
    metadata = json.dumps({"keras_version": KERAS_FORMAT_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})

    def write(handle):
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(_METADATA, metadata)
            archive.writestr(_CONFIG, config_json)
            archive.writestr(_WEIGHTS, weights)
            for member, content in assets.items():
                archive.writestr(member, content)
    write_atomically(filepath, write, suffix=".keras")


def save_weights(model, filepath):
    """model's weights (and its optimizer's state, once compiled) as a Keras .weights.h5 file."""
    h5py = h5_weights.require_h5py(filepath)
    data = _weights_bytes(h5py, model)
    write_atomically(filepath, lambda handle: handle.write(data), suffix=".h5")


# -- reading ---------------------------------------------------------------------------------------

class _KerasZip:
    """An open .keras file: its members checked, read on demand."""

    def __init__(self, filepath):
        self.filepath = filepath
        path = os.fspath(filepath)
        with open(path, "rb"):  # FileNotFoundError and PermissionError pass through as they are
            pass
        self.zip = open_zip(path, lambda error: _error(
            filepath, f"is not a readable .keras (zip) file: truncated, corrupt or not a Keras 3 "
                      f"file ({error})"))
        names = self.zip.namelist()
        missing = [m for m in (_CONFIG, _WEIGHTS) if m not in names]
        if missing:
            self.zip.close()
            raise _error(filepath, f"is not a Keras 3 model file: it lacks {missing} (it holds "
                                   f"{names[:10]})")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.zip.close()

    def read(self, member, limit=None):
        info = self.zip.getinfo(member)
        if limit is not None and info.file_size > limit:
            raise _error(self.filepath, f"member {member!r} declares {info.file_size} bytes, "
                                        f"more than the {limit} it may hold")
        if info.file_size > _EXPANSION_FLOOR and info.file_size > _MAX_EXPANSION * max(info.compress_size, 1):
            raise _error(self.filepath, f"member {member!r} would expand from "
                                        f"{info.compress_size} to {info.file_size} bytes: refused")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError,
                NotImplementedError) as error:
            raise _error(self.filepath, f"member {member!r} could not be read (truncated or "
                                        f"corrupt file?): {error}") from None

    def config(self):
        text = self.read(_CONFIG, _MAX_CONFIG_BYTES)
        try:
            payload = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise _error(self.filepath, f"holds a config.json that is not valid JSON ({error})") from None
        if not isinstance(payload, dict):
            raise _error(self.filepath, "holds a config.json that is not a JSON object")
        return payload

    def member(self, name):
        """The bytes of member `name`, or None if the zip has none of that name."""
        try:
            self.zip.getinfo(name)
        except KeyError:
            return None
        return self.read(name, _MAX_CONFIG_BYTES)

    def weights(self, h5py):
        return h5_weights.read_h5(h5py, io.BytesIO(self.read(_WEIGHTS)), _name(self.filepath))


def _read_weights_file(h5py, filepath):
    path = os.fspath(filepath)
    with open(path, "rb") as handle:  # FileNotFoundError passes through
        start = handle.read(len(h5_weights.HDF5_SIGNATURE))
    if start != h5_weights.HDF5_SIGNATURE:
        raise _error(filepath, "is not an HDF5 file (no HDF5 signature): not a .weights.h5 file "
                               "written by Keras or minirnn")
    return h5_weights.read_h5(h5py, path, _name(filepath))


def _arrays_for(model, groups, stored, filepath, owner):
    """The model's weights (in model.weights order) from the file's groups; ValueError naming
    the file, the group and the shapes where they do not fit. Changes nothing."""
    expected = {path: weights for path, (_, weights) in groups.items() if weights}
    present = {path: arrays for path, arrays in stored.items() if arrays}
    missing = sorted(set(expected) - set(present))
    extra = sorted(set(present) - set(expected))
    if missing or extra:
        raise _error(filepath, f"does not match {owner}: "
                               + (f"no weights for {missing}" if missing else "")
                               + ("; " if missing and extra else "")
                               + (f"weights for {extra}, which the model does not have" if extra else ""))
    values = {}
    for path, weights in expected.items():
        arrays = present[path]
        want, got = [tuple(w.shape) for w in weights], [a.shape for a in arrays]
        if want != got:
            raise _error(filepath, f"does not match {owner}: {path} holds arrays of shapes {got}; "
                                   f"the model's layer there has weights of shapes {want}")
        for w, a in zip(weights, arrays):
            values[id(w)] = a
    return [values[id(w)] for w in model.weights]


def _set_optimizer(model, arrays, groups, filepath, strict):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or arrays is None:
        return
    trainable = h5_weights.trainable_in_keras_order(model, groups)
    try:
        h5_weights.set_optimizer_arrays(optimizer, trainable, arrays,
                                        lambda message: _error(filepath, message))
    except ValueError:
        if strict:
            raise
        import warnings
        warnings.warn(f"{_name(filepath)}: the optimizer's saved state does not fit optimizer "
                      f"'{optimizer.name}' of model '{model.name}' and was not loaded", stacklevel=4)


def load_weights(model, filepath):
    """Set model's weights from a Keras .weights.h5 or .keras file (numbered as Keras numbers
    them); a file that does not match changes nothing."""
    h5py = h5_weights.require_h5py(filepath)
    if is_keras_file(filepath):  # its assets are not weights: Keras's load_weights skips them too
        with _KerasZip(filepath) as archive:
            stored, optimizer, _ = archive.weights(h5py)
    else:
        stored, optimizer, _ = _read_weights_file(h5py, filepath)
    groups = h5_weights.layer_groups(model)
    values = _arrays_for(model, groups, stored, filepath, f"model '{model.name}'")
    model.set_weights(values)
    _set_optimizer(model, optimizer, groups, filepath, strict=False)


def load_model(filepath, build, custom_objects=None, compile=True, safe_mode=True):
    """A model from a .keras file. `build(class_name, config)` makes it from minirnn's own
    config ("Sequential" or "Functional"): the model classes sit above this package."""
    h5py = h5_weights.require_h5py(filepath)
    with _KerasZip(filepath) as archive:
        payload = archive.config()
        stored, optimizer_arrays, named = archive.weights(h5py)
        with loading_scope(custom_objects, safe_mode, source=filepath):
            try:
                class_name, config, order = keras_config.model_from_keras(payload)
                keras_assets.fill_vocabularies(
                    _specs_by_path(class_name, config, order), archive.member, named,
                    lambda message: ConfigError(f"{_name(filepath)}: {message}"))
                model = build(class_name, config)
            except ConfigError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
                raise _error(filepath, f"holds a model config that cannot be built "
                                       f"({type(error).__name__}: {error})") from error
    ordered = _objects_in_order(model, order, filepath)
    groups = h5_weights.layer_groups(model, ordered)
    values = _arrays_for(model, groups, stored, filepath, f"model '{model.name}' built from its config")
    model.set_weights(values)
    if compile:
        try:
            kwargs = keras_config.compile_from_keras(payload.get("compile_config"))
            if kwargs is not None and kwargs.get("loss") is not None:
                model.compile(**kwargs)
        except (TypeError, ValueError, KeyError) as error:
            raise _error(filepath, f"holds compile settings minirnn cannot use "
                                   f"({type(error).__name__}: {error}); load it with "
                                   f"compile=False") from error
        _set_optimizer(model, optimizer_arrays, groups, filepath, strict=True)
    return model


def _specs_by_path(class_name, config, order):
    """{group path: layer spec} of the layers of a config read from a Keras file, numbered as
    the file numbers them (a functional model's inputs count, as InputLayers)."""
    if class_name == "Sequential":
        specs = list(config["layers"])
    else:
        by_name = {(spec.get("config") or {}).get("name"): spec for spec in config["layers"]}
        specs = [by_name.get(name, {"class_name": "InputLayer"}) for name in order]
    return dict(zip(h5_weights.top_level_paths([spec["class_name"] for spec in specs]), specs))


def _objects_in_order(model, order, filepath):
    """The model's layers (InputLayers included, for a functional model) in the file's order."""
    if hasattr(model, "_chain"):
        return list(model.layers)
    by_name = {layer.name: layer for layer in model.layers}
    missing = [name for name in order if name not in by_name]
    if missing:
        raise _error(filepath, f"lists layers {missing} that the model built from it lacks")
    return [by_name[name] for name in order]
