"""The functional model: `Model(inputs, outputs)` over `Input(...)` tensors, run by replaying the
recorded layer calls, and its JSON config; a subclassed Model overrides `call` instead. Training
comes from the Trainer mixin, the summary table and the files from their own modules."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops, saving
from ..checks import UnsupportedArgumentError, check_bool, check_unimplemented, positive_int
from ..layers.base import Layer, SymbolicTensor, flatten, is_string_dtype, map_structure
from ..layers.input_layer import Input, InputLayer
from ..layers.masks import get_mask, set_mask
from ..layers.operation import OpLayer
from ..saving.registry import loading_scope
from ..saving.serialization import deserialize_layer, serialize_layer
from ..tensor import Tensor
from .graph import map_graph
from .summary import print_summary
from .training import Trainer, _as_list, input_rank_adjustment

__all__ = ["Model", "adjust_input_rank", "input_rank_adjustment"]


class Model(Trainer, Layer):
    """A trainable stack of layers.

    Functional: `Model(inputs, outputs)` over `Input(...)` tensors (one, or a list of them).
    Subclassed: define layers in `__init__` and the computation in `call(inputs,
    training=None)`; `inputs` and `outputs` are then left out. Other keywords (trainable,
    dtype) are the Layer's.
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)  # Trainer's state, over Layer's
        self._records = None
        if inputs is not None or outputs is not None:
            self._init_graph(inputs, outputs)

    # -- the functional graph ---------------------------------------------------------------
    def _init_graph(self, inputs, outputs):
        self._single_input = not isinstance(inputs, (list, tuple))
        self._single_output = not isinstance(outputs, (list, tuple))
        self.inputs, self.outputs = _as_list(inputs), _as_list(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"Model(inputs, outputs) expects tensors from Input() and layer "
                                f"calls on them; got {type(t).__name__}")
        records, layers = map_graph(self.inputs, self.outputs)
        # as given (one tensor, or a list or tuple of them): what `input` and `output` return
        self._inputs_struct = inputs if self._single_input else type(inputs)(inputs)
        self._outputs_struct = outputs if self._single_output else type(outputs)(outputs)
        self._records = records
        # Keras's `operations`: every layer and op node; its `layers`: those that are layers (the
        # InputLayers included), in Keras's order. Set past __setattr__: op nodes are no sublayers
        object.__setattr__(self, "_operations", layers)
        self.layers = [l for l in layers if not isinstance(l, OpLayer)]
        self.built = True

    @property
    def operations(self):
        """The layers and the op nodes (minirnn.ops called on symbolic tensors), in Keras's order."""
        found = self.__dict__.get("_operations")
        return list(found) if found is not None and self._records is not None else list(self.layers)

    @property
    def input(self):
        """The model's input tensor, or the list (tuple) of them, as given to Model(inputs=...)."""
        struct = self.__dict__.get("_inputs_struct")
        return struct if struct is not None else Layer.input.fget(self)

    @property
    def output(self):
        """The model's output tensor, or the list (tuple) of them, as given to Model(outputs=...)."""
        struct = self.__dict__.get("_outputs_struct")
        return struct if struct is not None else Layer.output.fget(self)

    @property
    def accepts_strings(self):
        """Whether the model takes text: a graph model where one of its Inputs is of dtype string,
        a model without a graph (yet) where its first layer takes text."""
        if self._records is not None:
            return any(is_string_dtype(s.dtype) for s in self.inputs)
        return bool(self._layers) and self._layers[0].accepts_strings

    def call(self, inputs, training=None):
        if self._records is None:
            raise NotImplementedError(f"{type(self).__name__} has no graph: build it as "
                                      f"Model(inputs, outputs) or override call()")
        given = _inputs_by_name(self, inputs) if isinstance(inputs, dict) else _as_list(inputs)
        if len(given) != len(self.inputs):
            raise ValueError(f"model '{self.name}' expects {len(self.inputs)} input(s); got {len(given)}")
        values = {}
        for sym, value in zip(self.inputs, given):
            value = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
            value = adjust_input_rank(sym.shape, value)
            _check_shape(self, sym, value.shape)
            _refuse_empty_batch(self, value.shape, sym.name)
            if value.dtype != sym.dtype and value.dtype.kind in "iuf" and sym.dtype.kind in "iuf":
                value = Tensor(value.data.astype(sym.dtype)) if not value.requires_grad else value
            values[id(sym)] = value

        def resolve(x):
            return values[id(x)] if isinstance(x, SymbolicTensor) else x
        for record in self._records:
            args = map_structure(resolve, record.args)
            kwargs = map_structure(resolve, record.kwargs)
            result = record.layer(*args, **kwargs)
            for sym, value in zip(flatten(record.outputs), flatten(result)):
                values[id(sym)] = value
        outputs = [values[id(o)] for o in self.outputs]
        return outputs[0] if self._single_output else outputs

    def reset_states(self):
        for layer in _walk_layers(self):
            if layer is not self and hasattr(layer, "reset_states") and not isinstance(layer, Model):
                layer.reset_states()

    reset_state = reset_states

    # -- summary ----------------------------------------------------------------------------
    def summary(self, line_length: int | None = None, positions: None = None,
                print_fn: Callable[..., Any] | None = None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range: None = None) -> None:
        """Keras's table: layer (type), output shape, parameter count; then the totals.
        line_length: the table's width (None: 80); print_fn: called with each line (None:
        print). Keras's column `positions`, `expand_nested`, `show_trainable` and
        `layer_range` are not implemented: only their defaults are accepted."""
        what = "summary() argument `{}`".format
        check_unimplemented(positions, what("positions"), feature="custom column positions")
        check_unimplemented(expand_nested, what("expand_nested"), False, "nested tables")
        check_unimplemented(show_trainable, what("show_trainable"), False, "a trainable column")
        check_unimplemented(layer_range, what("layer_range"), feature="a range of layers")
        line_length = 80 if line_length is None else positive_int(line_length,
                                                                  "summary() argument line_length")
        print_summary(self, print if print_fn is None else print_fn, line_length)

    # -- saving -----------------------------------------------------------------------------
    def save_weights(self, filepath: str | os.PathLike, overwrite: bool = True,
                     max_shard_size: None = None) -> None:
        """Write every weight (atomically: an interrupted save leaves the old file): to a Keras
        `.weights.h5` file (with its optimizer state; needs h5py), or else to minirnn's .npz.
        overwrite=False refuses an existing file (FileExistsError) where Keras would ask;
        sharding (`max_shard_size`) is not implemented: only None is accepted."""
        check_unimplemented(max_shard_size, "save_weights() argument `max_shard_size`",
                            feature="sharded weight files")
        _refuse_overwrite(filepath, overwrite, "save_weights")
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
        """Read weights from `.weights.h5` / `.keras` (Keras's, or ours) or .npz; a file that does
        not match leaves the model unchanged (`skip_mismatch=True`, which would load what fits,
        is not implemented: only False is accepted)."""
        check_unimplemented(skip_mismatch, "load_weights() argument `skip_mismatch`", False,
                            "loading the weights that fit")
        saving.load_weights(self, filepath)

    def save(self, filepath: str | os.PathLike, overwrite: bool = True,
             zipped: bool | None = None) -> None:
        """Architecture, weights and compile settings in one file: `.keras` (Keras 3's zip, which
        keras.saving.load_model reads; needs h5py) or `.npz` (minirnn's, NumPy alone).
        overwrite=False refuses an existing file (FileExistsError) where Keras would ask;
        `zipped` may be None or True (both files are zip archives): Keras's unzipped folder
        (False) is not implemented."""
        if zipped is not None and not check_bool(zipped, "save() argument zipped"):
            raise UnsupportedArgumentError(
                "save() argument `zipped`: minirnn does not implement zipped (an unzipped "
                "folder); only None or True is accepted, got False")
        _refuse_overwrite(filepath, overwrite, "save")
        from .model_io import save_model  # late: model_io builds models, so it imports this module
        save_model(self, filepath)

    def get_config(self):
        if self._records is None:
            raise NotImplementedError(f"subclassed model '{self.name}' cannot be saved as a config; "
                                      f"use save_weights() instead")
        # the Input entries describe the InputLayers: the old format, which every file keeps
        layers = [l for l in self.operations if not isinstance(l, InputLayer)]
        index = {id(l): i for i, l in enumerate(layers)}
        names = {}
        for i, sym in enumerate(self.inputs):
            names[id(sym)] = ["input", i]
        for r, record in enumerate(self._records):
            for k, sym in enumerate(flatten(record.outputs)):
                names[id(sym)] = ["node", r, k]

        def ref(x):
            if isinstance(x, SymbolicTensor):
                return {"__tensor__": names[id(x)]}
            if isinstance(x, np.ndarray):
                raise ValueError("a functional model whose layer calls take arrays cannot be saved")
            return x
        return {
            "name": self.name,
            "inputs": [{"shape": list(s.shape), "dtype": str(s.dtype), "name": s.name} for s in self.inputs],
            "layers": [serialize_layer(l) for l in layers],
            "nodes": [{"layer": index[id(r.layer)], "args": map_structure(ref, list(r.args)),
                       "kwargs": map_structure(ref, r.kwargs)} for r in self._records],
            "outputs": [names[id(o)] for o in self.outputs],
            "single_input": self._single_input, "single_output": self._single_output,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        with loading_scope(custom_objects):
            return cls._from_config(config)

    @classmethod
    def _from_config(cls, config):
        layers = [deserialize_layer(spec) for spec in config["layers"]]
        inputs = [Input(batch_shape=tuple(i["shape"]), dtype=i["dtype"], name=i["name"])
                  for i in config["inputs"]]
        produced = []

        def resolve(x):  # a {"__tensor__": ...} reference is a leaf: map_structure would enter it
            if isinstance(x, dict) and "__tensor__" in x:
                where = x["__tensor__"]
                return inputs[where[1]] if where[0] == "input" else flatten(produced[where[1]])[where[2]]
            if isinstance(x, (list, tuple)):
                return type(x)(resolve(v) for v in x)
            if isinstance(x, dict):
                return {k: resolve(v) for k, v in x.items()}
            return x
        for node in config["nodes"]:
            args = resolve(node["args"])
            produced.append(layers[node["layer"]](*args, **resolve(node["kwargs"])))
        outputs = [resolve({"__tensor__": o}) for o in config["outputs"]]
        return cls(inputs[0] if config["single_input"] else inputs,
                   outputs[0] if config["single_output"] else outputs, name=config["name"])


def _refuse_overwrite(filepath, overwrite, method):
    """overwrite=False and a file already there: FileExistsError before anything is written."""
    if not check_bool(overwrite, f"{method}() argument overwrite") and os.path.exists(filepath):
        raise FileExistsError(f"{method}() with overwrite=False: {os.fspath(filepath)!r} "
                              f"already exists")


def _walk_layers(layer):
    stack, seen = [layer], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(current._layers)


def adjust_input_rank(expected_shape, value):
    """`value` (a Tensor) with its rank reconciled with `expected_shape` as Keras does; its mask,
    on the leading axes that both shapes share, carried over."""
    how = input_rank_adjustment(expected_shape, value.shape)
    if how is None:
        return value
    adjusted = ops.squeeze(value, axis=-1) if how == "squeeze" else ops.expand_dims(value, -1)
    mask = get_mask(value)
    if mask is not None and np.shape(mask) == adjusted.shape[:np.ndim(mask)]:
        set_mask(adjusted, mask)
    return adjusted


def _check_shape(model, sym, shape):
    expected = sym.shape
    if len(shape) != len(expected) or any(e is not None and e != g for e, g in zip(expected, shape)):
        raise ValueError(f"model '{model.name}' expects input '{sym.name}' of shape {expected}; "
                         f"got {tuple(shape)}")


def _refuse_empty_batch(model, shape, input_name=None):
    if len(shape) and shape[0] == 0:
        where = f" for input '{input_name}'" if input_name else ""
        raise ValueError(f"model '{model.name}' got an empty batch (0 samples){where} of shape "
                         f"{tuple(shape)}; a batch needs at least one sample")


def _inputs_by_name(model, inputs):
    """Inputs given as a dict keyed by the names of the model's Input tensors, in their order."""
    names = [sym.name for sym in model.inputs]
    if set(inputs) != set(names):
        raise ValueError(f"model '{model.name}' takes a dict of inputs keyed by its Input names "
                         f"{names}; got keys {list(inputs)}")
    return [inputs[name] for name in names]
