"""Weights and whole models to and from .npz files: no pickle, written atomically.

A weights file holds arrays `weight_000`, `weight_001`, ... in the model's `weights` order and
`__names__` (their names, for error messages). A model file adds `__config__`: the architecture and
compile settings as JSON text. Files are written to a temporary file beside the target, then
renamed over it, so an interrupted save leaves the previous file intact; they are read with
allow_pickle=False, and checked against the model before any weight is changed.
"""
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["save_weights", "load_weights", "save_archive", "load_archive", "read_weights"]

_FORMAT = "minirnn-1"


def _write_atomically(filepath, arrays):
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _weight_arrays(weights, names):
    arrays = {f"weight_{i:03d}": np.asarray(w) for i, w in enumerate(weights)}
    arrays["__names__"] = np.array(names if names else [""] * len(weights), dtype=str)
    arrays["__format__"] = np.array(_FORMAT)
    return arrays


def save_weights(model, filepath):
    """Write model.weights to `filepath` (.npz)."""
    _write_atomically(filepath, _weight_arrays(model.get_weights(), [w.name or "" for w in model.weights]))


def save_archive(filepath, config_json, weights):
    """Write a model: its JSON config and its weights."""
    arrays = _weight_arrays(weights, None)
    arrays["__config__"] = np.array(config_json)
    _write_atomically(filepath, arrays)


def _read(filepath):
    try:
        with np.load(os.fspath(filepath), allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"could not read {filepath!r} as a minirnn .npz file "
                         f"(truncated or not written by minirnn?): {error}") from None
    if str(contents.get("__format__", "")) != _FORMAT:
        raise ValueError(f"{filepath!r} is not a minirnn weights file (no '__format__' = {_FORMAT!r})")
    return contents


def read_weights(filepath):
    """(weights list, names list) from a weights or model file."""
    return _weights_of(_read(filepath))


def _weights_of(contents):
    count = sum(1 for key in contents if key.startswith("weight_"))
    weights = [contents[f"weight_{i:03d}"] for i in range(count)]
    return weights, [str(n) for n in contents["__names__"]]


def load_weights(model, filepath):
    """Set model's weights from a file; raise (changing nothing) if the file does not match."""
    weights, names = read_weights(filepath)
    expected = [(w.name, w.shape) for w in model.weights]
    got = [(n, w.shape) for n, w in zip(names, weights)]
    if len(weights) != len(expected) or any(e[1] != g[1] for e, g in zip(expected, got)):
        raise ValueError(f"weights file {os.fspath(filepath)!r} does not match model '{model.name}': "
                         f"expected {len(expected)} weights {[s for _, s in expected]}, "
                         f"got {len(weights)} weights {[s for _, s in got]}")
    model.set_weights(weights)


def load_archive(filepath):
    """(config JSON text, weights list) of a model file written by save_archive."""
    contents = _read(filepath)
    if "__config__" not in contents:
        raise ValueError(f"{filepath!r} holds weights only; use model.load_weights() for it")
    weights, _ = _weights_of(contents)
    return str(contents["__config__"]), weights
