"""Keras 3's weights layout (model.weights.h5, and .weights.h5 files) for minirnn models.

Keras saves each layer of `model.layers` under `layers/<snake_case(class)>[_k]`, k counting the
layers of that class before it in `model.layers` order, its own variables as `vars/0, 1, ...`
and each sublayer under the attribute that holds it (`cell`, `forward_layer`, `layer`, ...).
A functional model's `layers` come in the order of Keras's map_graph, InputLayers included:
`keras_layer_order` follows that function step by step, since two same-class layers numbered the
other way round would load each other's weights without a word.

The optimizer sits at `optimizer/vars/0` (iterations, int64), `1` (the learning rate, float32,
absent for a schedule), then its slots, per slot group, variable by variable in the order of
the model's trainable variables.

h5py is imported only when a file is read or written: it is an optional extra.
"""
import collections
import io

import numpy as np

from ..layers.base import SymbolicTensor, flatten
from ..layers.operation import OpLayer
from ..naming import to_snake_case
from . import keras_table as table

__all__ = ["require_h5py", "keras_layer_order", "layer_groups", "optimizer_arrays",
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


# -- Keras's order of a functional model's layers ------------------------------------------------

class _Node:
    """One call in the graph as Keras sees it: an operation (a layer, an InputLayer, or an
    operation Keras records for a mask) and the tensors it reads, in Keras's order."""

    def __init__(self, operation, inputs):
        self.operation, self.inputs = operation, inputs


class _MaskOperation:
    def __init__(self, name):
        self.name = name


def _graph(model):
    """The nodes of `model`'s graph, and for each tensor (by id) the node that makes it."""
    maker = {}
    for sym in model.inputs:
        maker[id(sym)] = _Node(sym, [])
    masks = {}  # id(symbolic tensor) -> the (virtual) tensor Keras would hold its mask in
    for record in model._records:
        layer = record.layer
        inputs = [s for s in flatten(record.args) if isinstance(s, SymbolicTensor)]
        keyword = {k: [s for s in flatten(v) if isinstance(s, SymbolicTensor)]
                   for k, v in record.kwargs.items()}
        first = flatten(record.args[0]) if record.args else []
        carried = [masks.get(id(s)) for s in first if isinstance(s, SymbolicTensor)]
        if "mask" in getattr(layer, "_call_takes", ()) and "mask" not in record.kwargs \
                and any(m is not None for m in carried):
            keyword["mask"] = [m for m in carried if m is not None]
        # Keras flattens keyword arguments sorted by name, after the positional ones
        tensors = inputs + [t for k in sorted(keyword) for t in keyword[k]]
        node = _Node(layer, tensors)
        outputs = [s for s in flatten(record.outputs) if isinstance(s, SymbolicTensor)]
        for sym in outputs:
            maker[id(sym)] = node
        chain = table.MASK_OPERATIONS.get(type(layer).__name__)
        if chain and getattr(layer, "mask_zero", True) and inputs:
            source = inputs[0]
            for op_name in chain:
                op = _Node(_MaskOperation(op_name), [source])
                source = _VirtualTensor(op)
            for sym in outputs:
                if sym.has_mask:
                    masks[id(sym)] = source
        elif any(m is not None for m in carried):
            for sym in outputs:
                if sym.has_mask:
                    masks[id(sym)] = next(m for m in carried if m is not None)
    return maker


class _VirtualTensor:
    def __init__(self, node):
        self.node = node


def keras_layer_order(model):
    """The layers of a minirnn model in the order of Keras's `model.layers`: for a functional
    model that of keras.src.ops.function.map_graph (an Input stands for its InputLayer, as the
    SymbolicTensor itself); for a Sequential its layers."""
    if getattr(model, "_records", None) is None or hasattr(model, "_chain"):
        return list(model.layers)
    maker = _graph(model)

    def node_of(tensor):
        return tensor.node if isinstance(tensor, _VirtualTensor) else maker[id(tensor)]

    # _build_map: depth-first from the outputs, operations numbered when first reached
    finished, in_progress, ordered, op_index = set(), set(), [], {}
    for output in model.outputs:
        stack = [(node_of(output), False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                in_progress.discard(id(node))
                finished.add(id(node))
                ordered.append(node)
                continue
            if id(node) in finished or id(node) in in_progress:
                continue
            op_index.setdefault(id(node.operation), (len(op_index), node.operation))
            in_progress.add(id(node))
            stack.append((node, True))
            stack.extend((node_of(t), False) for t in reversed(node.inputs))
    # map_graph: depths from the outputs, an operation as deep as its deepest node
    node_depth, op_depth = {}, {}
    parents = {id(n): [node_of(t) for t in n.inputs] for n in ordered}
    in_graph = {id(n) for n in ordered}
    for node in reversed(ordered):
        depth = node_depth.setdefault(id(node), 0)
        depth = max(depth, op_depth.get(id(node.operation), 0))
        op_depth[id(node.operation)] = depth
        node_depth[id(node)] = depth
        for parent in parents[id(node)]:
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for sym in model.inputs:  # inputs no output depends on still count
        if id(sym) not in op_depth:
            op_depth[id(sym)] = 0
            op_index[id(sym)] = (-1, sym)
    by_depth = collections.defaultdict(list)
    for key, depth in op_depth.items():
        by_depth[depth].append(op_index[key])
    operations = [op for depth in sorted(by_depth, reverse=True)
                  for _, op in sorted(by_depth[depth], key=lambda item: item[0])]
    return [op for op in operations if not isinstance(op, _MaskOperation)]


# -- which arrays go where ---------------------------------------------------------------------------

def _numbered(items):
    """(group name, item) with Keras's snake_case class names, numbered per class."""
    counts = collections.Counter()
    for item in items:
        base = "input_layer" if isinstance(item, SymbolicTensor) else to_snake_case(type(item).__name__)
        k = counts[base]
        counts[base] += 1
        yield (base if k == 0 else f"{base}_{k}"), item


def _layer_entries(layer, path, out):
    """{group path: (name attribute, [weight tensors])} of one layer and its sublayers."""
    class_name = type(layer).__name__
    if hasattr(layer, "_records") and hasattr(layer, "layers") and layer is not None \
            and hasattr(layer, "compile"):  # a model used as a layer
        out[f"{path}/vars"] = (layer.name, [])
        inner = [i for i in keras_layer_order(layer) if not isinstance(i, OpLayer)]
        for name, item in _numbered(inner):
            if isinstance(item, SymbolicTensor):
                out[f"{path}/layers/{name}/vars"] = (item.name, [])
            else:
                _layer_entries(item, f"{path}/layers/{name}", out)
        return
    if class_name in table.CELL_GROUP:
        out[f"{path}/vars"] = (layer.name, [])
        out[f"{path}/cell/vars"] = (table.CELL_GROUP[class_name], list(layer.weights))
        return
    wrapped = table.WRAPPED_LAYER_ATTRIBUTES.get(class_name)
    if wrapped:
        out[f"{path}/vars"] = (layer.name, [])
        for attribute in wrapped:
            _layer_entries(getattr(layer, attribute), f"{path}/{attribute}", out)
        return
    out[f"{path}/vars"] = (layer.name, list(layer.weights))


def layer_groups(model, ordered=None):
    """{group path: (name, [weight tensors])} of every layer of `model`, as Keras saves them."""
    out = {"vars": (model.name, [])}
    ordered = keras_layer_order(model) if ordered is None else ordered
    for name, item in _numbered(i for i in ordered if not isinstance(i, OpLayer)):  # no layers
        if isinstance(item, SymbolicTensor):
            out[f"layers/{name}/vars"] = (item.name, [])
        else:
            _layer_entries(item, f"layers/{name}", out)
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

def write_h5(h5py, groups, optimizer=None):
    """The bytes of an h5 file holding `groups` ({path: (name, [arrays or tensors])}) and the
    optimizer's arrays (a list, or None)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.create_group("layers")
        for path, (name, weights) in sorted(groups.items()):
            group = file.require_group(path)
            group.attrs["name"] = name
            for i, w in enumerate(weights):
                group.create_dataset(str(i), data=np.asarray(getattr(w, "data", w)))
        if optimizer is not None:
            group = file.require_group("optimizer/vars")
            group.attrs["name"] = optimizer[0]
            for i, array in enumerate(optimizer[1]):
                group.create_dataset(str(i), data=array)
    return buffer.getvalue()


def read_h5(h5py, source, name):
    """{group path: [arrays]} of every `.../vars` group of an h5 file (`source`: a path or a
    binary file object), and the optimizer's arrays (or None). ValueError naming the file if it
    is not a readable HDF5 file."""
    def error(message):
        return ValueError(f"{name}: {message}")
    try:
        file = h5py.File(source, "r")
    except (OSError, ValueError) as failure:
        raise error(f"is not a readable HDF5 weights file: truncated, corrupt or not written by "
                    f"Keras or minirnn ({failure})") from None
    out = {}
    try:
        with file:
            found = []
            file.visit(lambda path: found.append(path) if path.endswith("vars") and
                       isinstance(file[path], h5py.Group) else None)
            for path in found:
                group = file[path]
                keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
                if any(not k.isdigit() for k in keys) or [int(k) for k in keys] != list(range(len(keys))):
                    raise error(f"group {path!r} holds {keys}; expected datasets 0, 1, ...")
                arrays = []
                for k in keys:
                    dataset = group[k]
                    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "biuf":
                        raise error(f"{path}/{k} is not an array of numbers")
                    arrays.append(np.array(dataset[()]))
                out[path] = arrays
    except (OSError, RuntimeError, KeyError) as failure:
        raise error(f"could not be read (truncated or corrupt file?): {failure}") from None
    optimizer = out.pop("optimizer/vars", None)
    return out, optimizer
