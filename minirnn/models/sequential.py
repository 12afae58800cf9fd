"""Sequential: a linear stack of layers, each fed the one output of the layer before."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..layers.base import Layer, LayerNotCalledError, SymbolicTensor, flatten
from ..layers.input_layer import Input, InputLayer
from ..saving.serialization import deserialize_layer, serialize_layer
from ..tensor import Tensor
from .functional import Model, _refuse_empty_batch, adjust_input_rank

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers: `Sequential([LSTM(32), Dense(1)])` or `.add()` one at a time.

    `layers` holds the layers added, never an InputLayer (as in Keras 3): an `Input(...)` (or an
    InputLayer) given first only declares the input shape."""

    def __init__(self, layers: Sequence[Any] | None = None, trainable: bool = True,
                 name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._input = None
        self.layers = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        if isinstance(layer, InputLayer):
            layer = layer.output
        if isinstance(layer, SymbolicTensor):
            if self.layers:
                raise ValueError("an Input must come before every layer of a Sequential model")
            self._input = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer; got {type(layer).__name__}")
        self.layers.append(layer)
        self._layers.append(layer)
        first = self.layers[0]
        if self._input is None and first._input_shape_arg is not None:
            self._input = Input(shape=first._input_shape_arg,
                                dtype="string" if first.accepts_strings else
                                "int64" if not first.autocast else None)
        if self._input is not None:
            self._build_graph()

    def pop(self):
        if not self.layers:
            raise ValueError("pop() on an empty Sequential model")
        layer = self.layers.pop()
        self._layers.remove(layer)
        self._forget_graph()
        if self.layers and self._input is not None:
            self._build_graph()
        return layer

    def _forget_graph(self):
        """Drop the graph: its calls leave the layers' call lists, so that `layer.output` names
        the graph built next, not one the model no longer runs."""
        for record in self._records or []:
            calls = record.layer._inbound_records
            if any(r is record for r in calls):
                calls.remove(record)
        self._records = None
        self._inputs_struct = self._outputs_struct = None

    def _build_graph(self):
        calls_before = [len(layer._inbound_records) for layer in self.layers]
        try:
            x = self._input
            for layer in self.layers:
                x = layer(x)
            if isinstance(x, (list, tuple)):
                raise ValueError("every layer of a Sequential model must return one tensor; "
                                 f"{self.layers[-1].name} returns {len(x)}")
        except Exception:  # the calls of a graph that failed to build leave no trace
            for layer, count in zip(self.layers, calls_before):
                del layer._inbound_records[count:]
            raise
        self._forget_graph()
        self.inputs, self.outputs = [self._input], [x]
        self._inputs_struct, self._outputs_struct = self._input, x
        self._single_input = self._single_output = True
        self._records = [s.producer for s in self._chain()]
        self.built = True

    def _chain(self):
        out, chain = self.outputs[0], []
        while out.producer is not None:
            chain.append(out)
            out = out.producer.inputs[0]
        return chain[::-1]

    def build(self, input_shape=None):
        if input_shape is not None and self._input is None:
            self._input = Input(batch_shape=tuple(input_shape))
            self._build_graph()

    def call(self, inputs, training=None):
        if not self.layers:
            raise ValueError(f"Sequential model '{self.name}' has no layers")
        for value in flatten(inputs):
            if isinstance(value, Tensor):
                _refuse_empty_batch(self, value.shape)
        x = inputs
        if self._input is not None and isinstance(x, Tensor):
            x = adjust_input_rank(self._input.shape, x)
        for layer in self.layers:
            x = layer(x)
        return x

    def __call__(self, inputs, *args, **kwargs):
        if self._records is None and not isinstance(inputs, SymbolicTensor) and self.layers:
            shape = np.shape(inputs.data if isinstance(inputs, Tensor) else inputs)
            dtype = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs).dtype
            text = dtype.kind in "USO" and self.layers[0].accepts_strings
            self._input = Input(batch_shape=(None,) + tuple(shape[1:]),
                                dtype="string" if text else dtype if dtype.kind in "iu" else None)
            self._build_graph()
        return super().__call__(inputs, *args, **kwargs)

    @property
    def input(self):
        if self.__dict__.get("_inputs_struct") is None:
            raise LayerNotCalledError(f"Sequential model '{self.name}' has no defined input yet: "
                                      f"give it an Input first, or call or build it")
        return self._inputs_struct

    @property
    def output(self):
        if self.__dict__.get("_outputs_struct") is None:
            raise LayerNotCalledError(f"Sequential model '{self.name}' has no defined output "
                                      f"yet: give it an Input first, or call or build it")
        return self._outputs_struct

    def get_config(self):
        config = {"name": self.name,
                  "layers": [serialize_layer(l) for l in self.layers]}
        if self._input is not None:
            config["input"] = {"shape": list(self._input.shape), "dtype": str(self._input.dtype)}
        return config

    @classmethod
    def _from_config(cls, config):
        model = cls(name=config.get("name"))
        if config.get("input"):
            model.add(Input(batch_shape=tuple(config["input"]["shape"]), dtype=config["input"]["dtype"]))
        for spec in config["layers"]:
            model.add(deserialize_layer(spec))
        return model
