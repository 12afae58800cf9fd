"""Keras 3's weights layout (model.weights.h5, and .weights.h5 files) for minirnn models.

Keras saves each layer of `model.layers` under `layers/<snake_case(class)>[_k]`, k counting the
layers of that class before it in `model.layers` order, its own variables as `vars/0, 1, ...`
and each sublayer under the attribute that holds it (`cell`, `forward_layer`, `layer`, ...).
A functional model's `layers` come in the order of Keras's map_graph, InputLayers included: the
order of minirnn's `model.layers` (models/graph.py), since two same-class layers numbered the
other way round would load each other's weights without a word.

The optimizer sits at `optimizer/vars/0` (iterations, int64), `1` (the learning rate, float32,
absent for a schedule), then its slots, per slot group, variable by variable in the order of
the model's trainable variables.

h5py is imported only when a file is read or written: it is an optional extra.
"""
import collections
import io

import numpy as np

from ..layers import InputLayer, Layer  # the package: InputLayer's module may move
from ..naming import to_snake_case
from . import keras_table as table

__all__ = ["require_h5py", "layer_groups", "layer_paths", "top_level_paths", "optimizer_arrays",
           "write_h5", "read_h5", "HDF5_SIGNATURE"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def require_h5py(filepath):
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{str(filepath)!r}: Keras's .keras and .h5 files need h5py, an optional "
                          f"extra of minirnn: pip install \"minirnn[h5]\" (or save to .npz, "
                          f"which needs NumPy alone)") from None
    return h5py


# -- which arrays go where ---------------------------------------------------------------------------

def _snake_name(item):
    if _is_model(item):  # Keras's functional model class is Functional
        return "sequential" if hasattr(item, "_chain") else "functional"
    return to_snake_case(type(item).__name__)


def _numbered_names(bases):
    counts = collections.Counter()
    for base in bases:
        k = counts[base]
        counts[base] += 1
        yield base if k == 0 else f"{base}_{k}"


def _numbered(items):
    """(group name, item) with Keras's snake_case class names, numbered per class."""
    return zip(_numbered_names([_snake_name(item) for item in items]), items)


def top_level_paths(class_names):
    """The group path of each of a model's layers, given their class names in the order of the
    model's `layers` ("InputLayer" for an input of a functional model)."""
    return [f"layers/{name}" for name in _numbered_names([to_snake_case(c) for c in class_names])]


def _is_model(layer):
    return hasattr(layer, "_records") and hasattr(layer, "compile")


def _own_weights(layer):
    """A layer's own variables, as Keras's save_own_variables lists them: those created
    trainable, then the others, each in creation order (its sublayers' are saved apart)."""
    own = layer._own_weights
    return [w for w, t in own if t] + [w for w, t in own if not t]


def _is_builtin(layer):
    return type(layer).__module__.startswith("minirnn.")


def _sublayer_attributes(layer):
    """(attribute, sublayer or list of sublayers) of a user's layer, in the order Keras's saving
    walks attributes: by name, private ones last."""
    found = []
    for attribute in sorted(vars(layer), key=lambda a: f"~{a}" if a.startswith("_") else a):
        value = vars(layer)[attribute]
        if attribute == "_layers" or attribute.startswith("__"):
            continue
        if isinstance(value, Layer) or (isinstance(value, (list, tuple)) and value
                                         and all(isinstance(v, Layer) for v in value)):
            found.append((attribute, value))
    return found


def _layer_entries(layer, path, out, name=None, seen=None):
    """{group path: (name attribute, [weight tensors])} of one layer and its sublayers, each
    sublayer under the attribute that holds it (a list's items numbered by class), as Keras's
    saving walks them; a layer reached twice is saved once, where it was first reached.
    `seen`: {id(layer): (path, layer)} of the layers placed so far."""
    seen = {} if seen is None else seen
    if id(layer) in seen:
        return
    seen[id(layer)] = (path, layer)
    name = layer.name if name is None else name
    class_name = type(layer).__name__
    if _is_model(layer):  # a model used as a layer
        out[f"{path}/vars"] = (name, [])
        for group, item in _numbered(layer.layers):
            _layer_entries(item, f"{path}/layers/{group}", out, seen=seen)
        return
    if isinstance(layer, InputLayer):
        out[f"{path}/vars"] = (name, [])
        return
    if not _is_builtin(layer):  # a user's layer: its own variables, then its sublayers'
        out[f"{path}/vars"] = (name, _own_weights(layer))
        for attribute, value in _sublayer_attributes(layer):
            if isinstance(value, Layer):
                _layer_entries(value, f"{path}/{attribute}", out, seen=seen)
            else:
                for group, item in _numbered(value):
                    _layer_entries(item, f"{path}/{attribute}/{group}", out, seen=seen)
        return
    sublayers = table.SUBLAYER_ATTRIBUTES.get(class_name)
    if sublayers is None:
        out[f"{path}/vars"] = (name, list(layer.weights))
        return
    out[f"{path}/vars"] = (name, _own_weights(layer))
    for attribute in sublayers:
        value = getattr(layer, attribute)
        inner_name = table.CELL_NAMES.get(class_name) if attribute == "cell" else None
        if isinstance(value, (list, tuple)):
            for group, item in _numbered(value):
                _layer_entries(item, f"{path}/{attribute}/{group}", out, seen=seen)
        else:
            _layer_entries(value, f"{path}/{attribute}", out, name=inner_name, seen=seen)
    for attribute, inner_name in table.STATE_ONLY_SUBLAYERS.get(class_name, {}).items():
        out[f"{path}/{attribute}/vars"] = (inner_name, [])


def _walk_model(model, ordered):
    out, seen = {"vars": (model.name, [])}, {}
    for name, item in _numbered(list(model.layers) if ordered is None else ordered):
        _layer_entries(item, f"layers/{name}", out, seen=seen)
    return out, seen


def layer_paths(model, ordered=None):
    """{group path ("layers/lstm", "layers/rnn/cell", ...): layer} of every layer and sublayer of
    `model`, where Keras saves its state (and its assets, below assets/)."""
    _, seen = _walk_model(model, ordered)
    return {path: layer for path, layer in seen.values()}


def layer_groups(model, ordered=None):
    """{group path: (name, [weight tensors])} of every layer of `model`, as Keras saves them;
    `ordered`: the model's layers in Keras's order (model.layers unless given)."""
    out, _ = _walk_model(model, ordered)
    covered = {id(w) for _, weights in out.values() for w in weights}
    missing = [w.name for w in model.weights if id(w) not in covered]
    if missing:
        raise ValueError(f"model '{model.name}' has weights {missing} outside its layers; Keras's "
                         f"weights layout has no place for them")
    return out


def trainable_in_keras_order(model, groups):
    """The model's trainable weights in Keras's order of model.trainable_variables: layer by
    layer as the weights file lists them."""
    trainable = {id(w) for w in model.trainable_weights}
    seen, out = set(), []
    for _, weights in groups.values():
        for w in weights:
            if id(w) in trainable and id(w) not in seen:
                seen.add(id(w))
                out.append(w)
    return out


def optimizer_arrays(optimizer, trainable):
    """optimizer/vars as Keras lists them, for a minirnn optimizer and the model's trainable
    weights in Keras's order (slots of weights it has not seen yet are zeros, as it would
    make them)."""
    head = [np.array(optimizer.iterations, dtype=np.int64)]
    if not callable(optimizer._learning_rate):
        head.append(np.array(optimizer._learning_rate, dtype=np.float32))
    if not optimizer._variables:
        return head
    slots = []
    for group in optimizer._slot_groups():
        for var in trainable:
            position = optimizer._index.get(id(var))
            for name in group:
                if position is None:
                    slots.append(np.full_like(var.data, optimizer._slot_initial_values.get(name, 0.0)))
                else:
                    slots.append(optimizer._slots[position][name])
    return head + slots + list(optimizer._shared_slots.values())


def set_optimizer_arrays(optimizer, trainable, arrays, error):
    """Put Keras's optimizer/vars into a minirnn optimizer; raises error(...) before changing
    anything when the arrays do not fit."""
    lr_is_variable = not callable(optimizer._learning_rate)
    n_head = 2 if lr_is_variable else 1
    if len(arrays) < n_head:
        raise error(f"holds {len(arrays)} optimizer variables; expected at least {n_head}")
    iterations = arrays[0]
    if iterations.shape != () or iterations.dtype.kind not in "iu" or int(iterations) < 0:
        raise error(f"optimizer variable 0 (iterations) must be a whole number >= 0; got "
                    f"{iterations!r}")
    if len(arrays) == n_head:  # the optimizer had not run: no slots yet
        optimizer._iterations = int(iterations)
        if lr_is_variable:
            optimizer.learning_rate = float(arrays[1])
        return
    groups = optimizer._slot_groups()
    expected = [var.data.shape for group in groups for var in trainable for _ in group]
    shared = list(optimizer._shared_slot_initial_values)
    got = [a.shape for a in arrays[n_head:]]
    if got != expected + [()] * len(shared):
        raise error(f"holds optimizer slots of shapes {got}; optimizer '{optimizer.name}' of this "
                    f"model expects {expected + [()] * len(shared)}")
    optimizer.build(trainable)
    values = iter(arrays[n_head:])
    for group in groups:
        for var in trainable:
            for name in group:
                optimizer._slot(var, name)[...] = next(values)
    for name in shared:
        optimizer._shared_slots[name][...] = next(values)
    optimizer._iterations = int(iterations)
    if lr_is_variable:
        optimizer.learning_rate = float(arrays[1])


# -- the file itself -----------------------------------------------------------------------------

def write_h5(h5py, groups, optimizer=None, named=None):
    """The bytes of an h5 file holding `groups` ({path: (name, [arrays or tensors])}), the
    optimizer's arrays (a list, or None) and `named` arrays ({group path: {key: array}}: the
    variables Keras saves by name, such as a TextVectorization's idf_weights)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.create_group("layers")
        for path, (name, weights) in sorted(groups.items()):
            group = file.require_group(path)
            group.attrs["name"] = name
            for i, w in enumerate(weights):
                group.create_dataset(str(i), data=np.asarray(getattr(w, "data", w)))
        for path, arrays in sorted((named or {}).items()):
            group = file.require_group(path)
            for key, array in arrays.items():
                group.create_dataset(key, data=np.asarray(array))
        if optimizer is not None:
            group = file.require_group("optimizer/vars")
            group.attrs["name"] = optimizer[0]
            for i, array in enumerate(optimizer[1]):
                group.create_dataset(str(i), data=array)
    return buffer.getvalue()


def read_h5(h5py, source, name):
    """({group path: [arrays]} of every `.../vars` group of an h5 file (`source`: a path or a
    binary file object), the optimizer's arrays (or None), {group path: {key: array}} of the
    datasets saved by name rather than number). ValueError naming the file if it is not a
    readable HDF5 file."""
    def error(message):
        return ValueError(f"{name}: {message}")
    try:
        file = h5py.File(source, "r")
    except (OSError, ValueError) as failure:
        raise error(f"is not a readable HDF5 weights file: truncated, corrupt or not written by "
                    f"Keras or minirnn ({failure})") from None
    out, named = {}, {}

    def array(group, path, key):
        dataset = group[key]
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "biuf":
            raise error(f"{path}/{key} is not an array of numbers")
        return np.array(dataset[()])
    try:
        with file:
            found = []
            file.visit(lambda path: found.append(path) if path.endswith("vars") and
                       isinstance(file[path], h5py.Group) else None)
            for path in found:
                group = file[path]
                numbered = sorted((k for k in group.keys() if k.isdigit()), key=int)
                if [int(k) for k in numbered] != list(range(len(numbered))):
                    raise error(f"group {path!r} holds datasets {numbered}; expected 0, 1, ...")
                out[path] = [array(group, path, k) for k in numbered]
                by_name = {k: array(group, path, k) for k in group.keys() if not k.isdigit()}
                if by_name:
                    named[path] = by_name
    except (OSError, RuntimeError, KeyError) as failure:
        raise error(f"could not be read (truncated or corrupt file?): {failure}") from None
    optimizer = out.pop("optimizer/vars", None)
    return out, optimizer, named
