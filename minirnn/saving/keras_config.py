"""Model configs between minirnn and Keras 3's config.json, as plain dicts.

Reading a Keras config gives minirnn's own model config (the one Model._from_config and
Sequential._from_config build from), so a Keras file is built by the one deserializer, under
the same safe_mode and custom_objects as a minirnn file: a Keras entry's `module` is never
imported, only its class name is looked up among minirnn's layers and the caller's objects.

A functional Keras config lists, besides layers, the operations Keras recorded to compute masks
(NotEqual after Embedding(mask_zero=True), NotEqual and Any after Masking, ...): minirnn
computes masks inside its layers, so these are skipped, with the `mask` arguments that name them.
`training` arguments recorded at build time are dropped too.
"""
import copy
import warnings

from ..layers import InputLayer  # the package: InputLayer's module may move
from ..layers.base import SymbolicTensor, flatten, is_string_dtype
from ..layers.operation import OpLayer
from . import keras_ops, keras_table as table
from .serialization import config_error, serialize_layer

__all__ = ["layer_to_keras", "layer_from_keras", "model_to_keras", "model_from_keras",
           "compile_to_keras", "compile_from_keras"]


# -- small pieces ----------------------------------------------------------------------------------

def _dtype_policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(dtype)},
            "registered_name": None}


def _dtype_name(value, where):
    if isinstance(value, dict):
        name = (value.get("config") or {}).get("name")
        if value.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy") or not isinstance(name, str):
            raise config_error(f"{where}: dtype policy {value.get('class_name')!r} is not supported "
                               f"(minirnn runs one float dtype: float32 or float64)")
        return name
    return value


def _tensor_dtype(dtype):
    """A symbolic tensor's dtype as Keras names it (text is "string", an object array here)."""
    return "string" if is_string_dtype(dtype) else str(dtype)


def _initializer_to_keras(value):
    if isinstance(value, dict) and "class_name" in value:
        return {"module": table.INITIALIZERS_MODULE, "class_name": value["class_name"],
                "config": dict(value.get("config") or {}), "registered_name": None}
    return value


def _initializer_from_keras(value, where):
    if not (isinstance(value, dict) and "class_name" in value):
        return value
    config = dict(value.get("config") or {})
    for key, default in table.INITIALIZER_KERAS_ONLY.items():
        if key in config:
            if config[key] != default:
                raise config_error(f"{where}: initializer argument {key}={config[key]!r} is not "
                                   f"supported by minirnn")
            del config[key]
    return {"class_name": value["class_name"], "config": config}


def _strip_shared_ids(value):
    """Keras marks objects it saw twice with shared_object_id; minirnn builds each anew."""
    if isinstance(value, dict):
        return {k: _strip_shared_ids(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_strip_shared_ids(v) for v in value]
    return value


# -- layers ----------------------------------------------------------------------------------------

def layer_to_keras(spec, dropped=None):
    """A minirnn layer spec ({"class_name", "config"[, "registered_name"]}) as Keras writes it.

    `dropped` (a list) collects "Class 'name': argument=value" for each minirnn-only argument
    that does not hold its default (it cannot be written)."""
    class_name, config = spec["class_name"], dict(spec["config"])
    registered = spec.get("registered_name")
    if registered is None and class_name not in table.SHARED_LAYER_CLASSES:
        raise ValueError(f"layer '{config.get('name')}' of class {class_name} has no Keras "
                         f"counterpart: a .keras file holding it could not be loaded by Keras "
                         f"(save it with model.save('....npz') instead)")
    extras = {**table.MINIRNN_ONLY_ARGUMENTS["*"], **table.MINIRNN_ONLY_ARGUMENTS.get(class_name, {})}
    for key, default in extras.items():
        if key in config:
            value = config.pop(key)
            if value != default and key != "input_shape" and dropped is not None:
                dropped.append(f"{class_name} '{config.get('name')}': {key}={value!r}")
    if "dtype" in config:
        config["dtype"] = _dtype_policy(config["dtype"])
    for key, value in list(config.items()):
        if key.endswith("_initializer"):
            config[key] = _initializer_to_keras(value)
    if class_name == "Bidirectional":
        forward = layer_to_keras(config["layer"], dropped)
        config["layer"] = forward
        backward = copy.deepcopy(forward)
        backward["config"]["name"] = "backward_" + forward["config"]["name"]
        backward["config"]["go_backwards"] = not forward["config"].get("go_backwards", False)
        config["backward_layer"] = backward
    elif class_name == "TimeDistributed":
        config["layer"] = layer_to_keras(config["layer"], dropped)
    elif class_name == "RNN":
        config["cell"] = layer_to_keras(config["cell"], dropped)
    elif class_name == "StackedRNNCells":
        config["cells"] = [layer_to_keras(cell, dropped) for cell in config["cells"]]
    elif class_name == "TextVectorization" and not config.get("has_input_vocabulary"):
        config["vocabulary"] = config["idf_weights"] = None  # assets, as Keras (keras_assets)
    # a registered class is found by its registered name; no module is named, as Keras writes
    # for a class it cannot import by path
    return {"module": table.KERAS_LAYERS_MODULE if registered is None else None,
            "class_name": class_name, "config": config, "registered_name": registered}


def layer_from_keras(spec):
    """A Keras layer entry as a minirnn layer spec (its class looked up later, by name only)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config"), dict):
        raise config_error(f"a Keras layer entry must hold 'class_name' and 'config'; got "
                           f"{str(spec)[:120]}")
    class_name, registered = spec["class_name"], spec.get("registered_name")
    config = _strip_shared_ids(dict(spec["config"]))
    where = f"{class_name} '{config.get('name')}'"
    if class_name not in table.SHARED_LAYER_CLASSES and not isinstance(registered, str):
        from .registry import get_registered_object  # the caller's objects may name it
        if get_registered_object(class_name) is None:
            raise config_error(f"the Keras file holds a layer of class {class_name!r} "
                               f"('{config.get('name')}'), which minirnn does not have; minirnn "
                               f"reads {sorted(table.SHARED_LAYER_CLASSES)} and the classes "
                               f"passed in custom_objects or registered")
    if class_name in table.SHARED_LAYER_CLASSES:
        keras_only = {**table.KERAS_ONLY_DEFAULTS["*"], **table.KERAS_ONLY_DEFAULTS.get(class_name, {})}
        for key in list(config):
            if key in keras_only or key.endswith(table.KERAS_ONLY_SUFFIXES):
                default = keras_only.get(key)
                if config[key] != default:
                    raise config_error(f"{where}: Keras argument {key}={config[key]!r} is not "
                                       f"supported by minirnn (only {default!r})")
                del config[key]
    if "dtype" in config:
        config["dtype"] = _dtype_name(config["dtype"], where)
    for key, value in list(config.items()):
        if key.endswith("_initializer"):
            config[key] = _initializer_from_keras(value, where)
    if class_name in ("Bidirectional", "TimeDistributed"):
        config["layer"] = layer_from_keras(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = layer_from_keras(config["backward_layer"])
    elif class_name == "RNN":
        config["cell"] = layer_from_keras(config.get("cell"))
    elif class_name == "StackedRNNCells":
        cells = config.get("cells")
        if not isinstance(cells, list):
            raise config_error(f"{where}: 'cells' must be a list of cell entries; got {cells!r}")
        config["cells"] = [layer_from_keras(cell) for cell in cells]
    out = {"class_name": class_name, "config": config}
    if isinstance(registered, str) and class_name not in table.SHARED_LAYER_CLASSES:
        out["registered_name"] = registered
    return out


# -- models: minirnn -> Keras ------------------------------------------------------------------------

def _input_layer(shape, dtype, name):
    return {"module": table.KERAS_LAYERS_MODULE, "class_name": "InputLayer",
            "config": {"batch_shape": list(shape), "dtype": str(dtype), "sparse": False,
                       "ragged": False, "name": name, "optional": False},
            "registered_name": None}


def model_to_keras(model):
    """config.json's dict (without compile_config) of a Sequential or functional minirnn model."""
    dropped = []
    if type(model).__name__ == "Sequential" or hasattr(model, "_chain"):
        layers = []
        if model._input is not None:
            layers.append(_input_layer(model._input.shape, model._input.dtype,
                                       model._input.name or "input_layer"))
        layers += [layer_to_keras(serialize_layer(l), dropped) for l in model.layers]
        config = {"name": model.name, "trainable": model.trainable, "dtype": _dtype_policy(model.dtype),
                  "layers": layers}
        build = None
        if model._input is not None:
            config["build_input_shape"] = list(model._input.shape)
            build = {"input_shape": list(model._input.shape)}
        entry = {**table.MODEL_ENTRIES["Sequential"], "config": config, "build_config": build}
    else:
        entry = {**table.MODEL_ENTRIES["Functional"],
                 "config": _functional_to_keras(model, dropped),
                 "build_config": {"input_shape": None}}
    if dropped:
        warnings.warn("Keras has no counterpart of these minirnn options, which are left out of "
                      "the .keras file (Keras will use its defaults): " + "; ".join(dropped),
                      stacklevel=4)
    return entry


def _functional_to_keras(model, dropped):
    if model._records is None:
        model.get_config()  # raises the subclassed model's error
    names = [layer.name for layer in model.operations]  # InputLayers and op nodes included
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"model '{model.name}' has several layers or inputs named {duplicated}; "
                         f"Keras needs unique names to save it")
    calls, history = {}, {}
    for record in model._records:
        node_index = calls.get(id(record.layer), 0)
        calls[id(record.layer)] = node_index + 1
        for k, sym in enumerate(flatten(record.outputs)):
            history[id(sym)] = [record.layer.name, node_index, k]
    for sym in model.inputs:
        history[id(sym)] = [sym.name, 0, 0]

    def tensor(x):
        if isinstance(x, SymbolicTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(x.shape), "dtype": _tensor_dtype(x.dtype),
                               "keras_history": history[id(x)]}}
        if isinstance(x, (list, tuple)):
            return [tensor(v) for v in x]
        if isinstance(x, dict):
            return {k: tensor(v) for k, v in x.items()}
        if hasattr(x, "shape") and not isinstance(x, (int, float, str, bool)):
            raise ValueError(f"model '{model.name}' passes an array to a layer call; Keras's "
                             f"config can only name tensors of the graph")
        return x
    nodes = {}
    for record in model._records:
        kwargs = {k: v for k, v in record.kwargs.items() if k != "training"}
        nodes.setdefault(id(record.layer), []).append(
            {"args": tensor(list(record.args)), "kwargs": tensor(kwargs)})
    layers = []
    for item in model.operations:  # in Keras's order (model.layers, with the op nodes)
        if isinstance(item, InputLayer):
            entry = _input_layer(item.batch_shape, item.dtype, item.name)
            entry.update(name=item.name, inbound_nodes=[])
        elif isinstance(item, OpLayer):  # an op node: one call, on the list of its tensors
            record = next(r for r in model._records if r.layer is item)
            entry = keras_ops.operation_to_keras(item, flatten(record.args), tensor)
        else:
            entry = layer_to_keras(serialize_layer(item), dropped)
            entry.update(name=item.name, inbound_nodes=nodes[id(item)])
        layers.append(entry)

    def refs(symbols, single):
        listed = [history[id(s)] for s in symbols]
        return listed[0] if single else listed
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": refs(model.inputs, model._single_input),
            "output_layers": refs(model.outputs, model._single_output)}


# -- models: Keras -> minirnn ------------------------------------------------------------------------

def _is_operation(entry):
    module = entry.get("module")
    return isinstance(module, str) and module.startswith(table.KERAS_OPS_MODULE_PREFIX)


def model_from_keras(payload):
    """(class name "Sequential" or "Functional", minirnn config, names of the layers in Keras's
    order, InputLayers included for a functional model) from config.json's dict."""
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
        raise config_error("config.json must hold an object with a 'config' object")
    class_name = payload.get("class_name")
    config = payload["config"]
    if class_name == "Sequential":
        return ("Sequential",) + _sequential_from_keras(config)
    if class_name in ("Functional", "Model") and "layers" in config:
        return ("Functional",) + _functional_from_keras(config)
    raise config_error(f"config.json holds a model of class {class_name!r}; minirnn reads Keras's "
                       f"'Sequential' and 'Functional' models (a subclassed model's file needs its "
                       f"class: load its weights with model.load_weights instead)")


def _layer_entries(config):
    layers = config.get("layers")
    if not isinstance(layers, list) or not all(isinstance(l, dict) for l in layers):
        raise config_error("the model config's 'layers' must be a list of layer entries")
    return layers


def _sequential_from_keras(config):
    layers = _layer_entries(config)
    out = {"name": config.get("name"), "layers": []}
    for entry in layers:
        if entry.get("class_name") == "InputLayer":
            c = entry.get("config") or {}
            shape = c.get("batch_shape") or ([None] + list(c.get("batch_input_shape", [None])[1:]))
            out["input"] = {"shape": list(shape), "dtype": c.get("dtype") or "float32"}
        else:
            out["layers"].append(layer_from_keras(entry))
    if "input" not in out and config.get("build_input_shape"):
        first = out["layers"][0]["class_name"] if out["layers"] else None
        out["input"] = {"shape": list(config["build_input_shape"]),
                        "dtype": "int64" if first == "Embedding" else "float32"}
    return out, [l["config"]["name"] for l in out["layers"]]


def _history(value):
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
        if not (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)):
            raise config_error(f"a tensor reference needs keras_history [layer, node, tensor]; "
                               f"got {history!r}")
        return history
    return None


def _functional_from_keras(config):
    entries = _layer_entries(config)
    # Keras's operations minirnn runs (as OpLayers); the others only make masks, which it skips
    runs = keras_ops.operations_to_run(entries)
    operations = {e.get("name") for e in entries if _is_operation(e) and e.get("name") not in runs}
    inputs_by_name, layer_entries, specs = {}, [], []
    for entry in entries:
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        if entry.get("class_name") == "InputLayer":
            c = entry.get("config") or {}
            inputs_by_name[name] = {"shape": list(c.get("batch_shape") or c.get("batch_input_shape")),
                                    "dtype": c.get("dtype") or "float32", "name": name}
        elif name in runs:
            spec, node = keras_ops.operation_from_keras(entry)
            layer_entries.append((name, {"inbound_nodes": [node]}))
            specs.append(spec)
        elif _is_operation(entry):
            continue
        else:
            layer_entries.append((name, entry))
            specs.append(layer_from_keras(entry))
    index = {name: i for i, (name, _) in enumerate(layer_entries)}
    input_refs = config.get("input_layers")
    single_input = bool(input_refs) and isinstance(input_refs[0], str)
    input_list = [input_refs] if single_input else list(input_refs or [])
    for ref in input_list:
        if not (isinstance(ref, list) and ref and ref[0] in inputs_by_name):
            raise config_error(f"input_layers names {ref!r}, which is not an InputLayer of the model")
    input_position = {ref[0]: i for i, ref in enumerate(input_list)}

    produced = {}  # (layer name, node index) -> position among minirnn's nodes
    nodes, pending = [], [(name, k, node) for name, entry in layer_entries
                          for k, node in enumerate(entry.get("inbound_nodes") or [])]

    def convert(value, skip_masks):
        history = _history(value)
        if history is not None:
            layer, node, k = history
            if layer in input_position:
                return {"__tensor__": ["input", input_position[layer]]}
            if layer in operations:
                raise config_error(f"operation '{layer}' feeds a layer outside a 'mask' "
                                   f"argument; minirnn runs only layers")
            if (layer, node) not in produced:
                raise LookupError
            return {"__tensor__": ["node", produced[(layer, node)], k]}
        if isinstance(value, dict) and value.get("class_name") == "__tuple__":
            return [convert(v, skip_masks) for v in (value.get("config") or {}).get("value", [])]
        if isinstance(value, dict) and isinstance(value.get("class_name"), str) \
                and value["class_name"].startswith("__"):
            raise config_error(f"a layer call takes a {value['class_name']} argument, which "
                               f"minirnn cannot read")
        if isinstance(value, list):
            return [convert(v, skip_masks) for v in value]
        if isinstance(value, dict):
            return {k: convert(v, skip_masks) for k, v in value.items()}
        return value

    while pending:
        progressed, waiting = False, []
        for name, k, node in pending:
            if any(n == name and j < k for n, j, _ in waiting):
                waiting.append((name, k, node))
                continue
            try:
                if not isinstance(node, dict):
                    raise config_error(f"layer '{name}' has an inbound node in an old format "
                                       f"({str(node)[:80]}); minirnn reads Keras 3's .keras files")
                kwargs = {key: v for key, v in (node.get("kwargs") or {}).items()
                          if key != "training" and not (key == "mask" and _names_only(v, operations))}
                record = {"layer": index[name], "args": convert(node.get("args") or [], True),
                          "kwargs": convert(kwargs, True)}
            except LookupError:
                waiting.append((name, k, node))
                continue
            produced[(name, k)] = len(nodes)
            nodes.append(record)
            progressed = True
        if not progressed:
            raise config_error(f"the model graph cannot be built: layer calls "
                               f"{[(n, k) for n, k, _ in waiting]} wait on tensors no call makes")
        pending = waiting

    def output_ref(ref):
        converted = convert({"class_name": "__keras_tensor__", "config": {"keras_history": ref}}, False)
        return converted["__tensor__"]
    output_refs = config.get("output_layers")
    single_output = bool(output_refs) and isinstance(output_refs[0], str)
    try:
        outputs = [output_ref(r) for r in ([output_refs] if single_output else output_refs)]
    except LookupError:
        raise config_error(f"output_layers {output_refs!r} name tensors no layer call makes") from None
    order = [e.get("name") for e in entries if not _is_operation(e)]
    out = {"name": config.get("name"), "inputs": [inputs_by_name[r[0]] for r in input_list],
           "layers": specs, "nodes": nodes, "outputs": outputs,
           "single_input": single_input, "single_output": single_output}
    return out, order


def _names_only(value, operations):
    """Whether every tensor in a `mask` argument comes from a Keras mask operation (or none)."""
    tensors = [h for h in map(_history, _leaves(value)) if h is not None]
    return all(h[0] in operations for h in tensors)


def _leaves(value):
    if isinstance(value, dict) and value.get("class_name") != "__keras_tensor__":
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


# -- compile settings ------------------------------------------------------------------------------

def compile_to_keras(model):
    """compile_config of a compiled model (None when not compiled)."""
    if getattr(model, "optimizer", None) is None:
        return None
    from .. import losses, optimizers  # late: both sit beside saving, above nothing it needs
    spec = optimizers.serialize(model.optimizer)
    config = dict(spec["config"])
    lr = config.get("learning_rate")
    if isinstance(lr, dict) and "module" not in lr:
        config["learning_rate"] = {"module": "keras.optimizers.schedules", **lr,
                                   "registered_name": None}
    optimizer = {"module": table.OPTIMIZERS_MODULE, "class_name": spec["class_name"],
                 "config": config, "registered_name": None}
    loss = model.loss
    if loss is not None and not isinstance(loss, str):
        serialized = []
        for item in (loss if isinstance(loss, (list, tuple)) else [loss]):
            s = losses.serialize(item)
            serialized.append({"module": table.LOSSES_MODULE, **s, "registered_name": None}
                              if isinstance(s, dict) else s)
        loss = serialized if isinstance(loss, (list, tuple)) else serialized[0]
    metrics = (getattr(model, "_compile_config", None) or {}).get("metrics") or None
    return {"optimizer": optimizer, "loss": loss,
            "loss_weights": getattr(model, "_loss_weights", None), "metrics": metrics,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def compile_from_keras(spec):
    """compile()'s keyword arguments from a Keras compile_config (None if nothing to compile)."""
    if not isinstance(spec, dict) or spec.get("optimizer") is None:
        return None
    from .. import optimizers  # late: optimizers sit beside saving

    optimizer = spec["optimizer"]
    if isinstance(optimizer, dict):
        optimizer = optimizers.deserialize({"class_name": optimizer.get("class_name"),
                                            "config": _strip_modules(optimizer.get("config") or {})})
    loss = spec.get("loss")
    loss = _strip_modules(loss) if isinstance(loss, (dict, list)) else loss
    kwargs = {"optimizer": optimizer, "loss": loss}
    if spec.get("metrics"):
        kwargs["metrics"] = spec["metrics"]
    if spec.get("loss_weights") is not None:
        kwargs["loss_weights"] = spec["loss_weights"]
    return kwargs


def _strip_modules(value):
    if isinstance(value, dict):
        return {k: _strip_modules(v) for k, v in value.items()
                if k not in ("module", "registered_name", "shared_object_id")}
    if isinstance(value, list):
        return [_strip_modules(v) for v in value]
    return value
