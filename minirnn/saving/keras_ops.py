"""A functional model's op nodes (OpLayer: a minirnn.ops call on symbolic tensors) as Keras 3
writes its operations in config.json, and back.

Keras keeps an operation's static arguments in its config (OneHot's num_classes, Concatenate's
axis) and passes the rest when the node is called (the tensors, and constants such as the 2 of
`x * 2` or the key of `x[:, -1]`). Only the operations in keras_table.KERAS_OPERATIONS travel;
any other op node makes the save fail with a ValueError naming it.
"""
import builtins
import inspect

import numpy as np

from ..layers.operation import TensorSlot, encode_arguments
from ..tensor import floatx
from . import keras_table as table
from .serialization import config_error

__all__ = ["operation_to_keras", "is_keras_operation", "operations_to_run",
           "operation_from_keras"]

_OP_CLASSES = {name: keras_class for keras_class, (_, name, _) in table.KERAS_OPERATIONS.items()}
_OP_CLASSES.update(table.OPERATION_ALIASES)


def _keras_constant(value, where):
    """A constant call argument as Keras serializes it (tuples as lists, as its GetItem reads)."""
    if isinstance(value, builtins.slice):
        return {"class_name": "__slice__", "config": {
            key: _keras_constant(getattr(value, key), where) for key in ("start", "stop", "step")}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, (list, tuple)):
        return [_keras_constant(v, where) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"class_name": "__numpy__", "config": {"value": value.tolist(),
                                                      "dtype": str(value.dtype)}}
    raise ValueError(f"{where}: an argument of type {type(value).__name__} cannot be written to a "
                     f".keras file (save the model with model.save('....npz') instead)")


def operation_to_keras(layer, tensors, tensor_entry):
    """Keras's config.json entry for the OpLayer `layer`, called on the symbolic `tensors`;
    tensor_entry(symbolic tensor) gives Keras's reference to a tensor."""
    keras_class = _OP_CLASSES.get(layer.op_name)
    where = f"operation '{layer.name}' (minirnn.ops.{layer.op_name})"
    if keras_class is None:
        raise ValueError(f"{where} cannot be written to a .keras file: minirnn writes Keras's "
                         f"operations {sorted(table.KERAS_OPERATIONS)} only; save the model with "
                         f"model.save('....npz') instead")
    module, _, config_arguments = table.KERAS_OPERATIONS[keras_class]
    signature = inspect.signature(layer.function)
    bound = signature.bind(*layer.call_args, **layer.call_kwargs)
    given = dict(bound.arguments)
    config = {"name": layer.name}
    for keras_name, name in config_arguments.items():
        parameter = signature.parameters[name]
        value = given.pop(name, parameter.default)
        if keras_name == "dtype" and value is None:
            value = floatx()  # what minirnn's None means, written out as Keras writes it
        config[keras_name] = _keras_constant(value, where)
    args = []
    for name, parameter in signature.parameters.items():
        if name not in given:
            continue
        value = given.pop(name)
        if parameter.default is not parameter.empty and value != parameter.default:
            raise ValueError(f"{where}: argument {name}={value!r} has no counterpart in Keras's "
                             f"{keras_class}; save the model with model.save('....npz') instead")
        if parameter.default is parameter.empty:
            args.append(_slotted(value, tensors, tensor_entry, where))
    return {"module": module, "class_name": keras_class, "config": config,
            "registered_name": keras_class, "name": layer.name,
            "inbound_nodes": [{"args": args, "kwargs": {}}]}


def _slotted(value, tensors, tensor_entry, where):
    if isinstance(value, TensorSlot):
        return tensor_entry(tensors[value.index])
    if isinstance(value, (list, tuple)):
        return [_slotted(v, tensors, tensor_entry, where) for v in value]
    return _keras_constant(value, where)


def is_keras_operation(entry):
    """Whether a config.json entry is a Keras operation that minirnn reads as an OpLayer."""
    return isinstance(entry, dict) and entry.get("class_name") in table.KERAS_OPERATIONS \
        and entry.get("module") == table.KERAS_OPERATIONS[entry["class_name"]][0]


def operations_to_run(entries):
    """The names of the operation entries of a functional config.json that minirnn runs as
    OpLayers: Keras's operations of the table that read no tensor a mask operation made. Keras
    computes masks with operations too (NotEqual after an Embedding, then ExpandDims, Concatenate,
    ... of that mask in a merge); minirnn computes masks inside its layers and skips those."""
    candidates = {e.get("name"): e for e in entries if is_keras_operation(e)}
    masks = {e.get("name") for e in entries
             if isinstance(e, dict) and e.get("name") not in candidates
             and str(e.get("module", "")).startswith(table.KERAS_OPS_MODULE_PREFIX)}
    grown = True
    while grown:
        grown = False
        for name, entry in candidates.items():
            if name not in masks and any(ref in masks for ref in _producers(entry)):
                masks.add(name)
                grown = True
    return set(candidates) - masks


def _producers(value):
    """The names of the layers and operations whose tensors an entry's calls read."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = (value.get("config") or {}).get("keras_history")
            return [history[0]] if isinstance(history, list) and history else []
        if "inbound_nodes" in value:
            return _producers(value["inbound_nodes"])
        return [name for v in value.values() for name in _producers(v)]
    if isinstance(value, list):
        return [name for v in value for name in _producers(v)]
    return []


def operation_from_keras(entry):
    """(minirnn layer spec of an OpLayer, the inbound node rewritten as minirnn calls it: one
    argument, the list of Keras tensor references) from a Keras operation entry."""
    keras_class = entry["class_name"]
    _, op_name, config_arguments = table.KERAS_OPERATIONS[keras_class]
    config = dict(entry.get("config") or {})
    name = entry.get("name") or config.get("name")
    where = f"operation '{name}' ({keras_class})"
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) != 1 or not isinstance(nodes[0], dict):
        raise config_error(f"{where}: expected one inbound node; got {str(nodes)[:120]}")
    unknown = set(config) - set(config_arguments) - {"name"}
    if unknown:
        raise config_error(f"{where}: unknown arguments {sorted(unknown)}")
    kwargs = {config_arguments[k]: _from_keras_constant(v, where) for k, v in config.items()
              if k != "name"}
    if kwargs.get("sparse"):
        raise config_error(f"{where}: sparse=True is not supported; minirnn's tensors are dense")
    kwargs.pop("sparse", None)
    if isinstance(kwargs.get("dtype"), dict):
        kwargs["dtype"] = (kwargs["dtype"].get("config") or {}).get("name")
    references = []
    args = [_slots(v, references, where) for v in nodes[0].get("args") or []]
    if keras_class == "GetItem" and len(args) == 2 and isinstance(args[1], list):
        args[1] = tuple(args[1])  # Keras writes a tuple key as a list, and reads it as a tuple
    for key, value in (nodes[0].get("kwargs") or {}).items():
        kwargs[key] = _slots(value, references, where)
    spec = {"class_name": "OpLayer", "config": {
        "name": name, "op": op_name, "args": encode_arguments(args, where),
        "kwargs": encode_arguments(kwargs, where)}}
    return spec, {"args": [references], "kwargs": {}}


def _slots(value, references, where):
    """A Keras call argument with each tensor reference moved to `references` (a slot left)."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        references.append(value)
        return TensorSlot(len(references) - 1)
    if isinstance(value, list):
        return [_slots(v, references, where) for v in value]
    return _from_keras_constant(value, where)


def _from_keras_constant(value, where):
    if isinstance(value, dict):
        kind, config = value.get("class_name"), value.get("config") or {}
        if kind == "__slice__":
            return builtins.slice(*(_from_keras_constant(config.get(k), where)
                                    for k in ("start", "stop", "step")))
        if kind == "__ellipsis__":
            return Ellipsis
        if kind == "__numpy__":
            dtype = np.dtype(config.get("dtype"))
            if dtype.kind not in "biuf":
                raise config_error(f"{where}: a constant array of dtype {dtype} is not supported")
            return np.asarray(config.get("value"), dtype=dtype)
        if kind == "__tuple__":
            return tuple(_from_keras_constant(v, where) for v in config.get("value", []))
        if isinstance(kind, str) and kind.startswith("__"):
            raise config_error(f"{where}: an argument of kind {kind} cannot be read by minirnn")
        return {k: _from_keras_constant(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_keras_constant(v, where) for v in value]
    return value
