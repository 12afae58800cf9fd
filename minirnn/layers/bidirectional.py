"""Bidirectional: a recurrent layer run forwards and a copy of it backwards in time, the two
outputs merged."""
from __future__ import annotations

from typing import Any

from .. import ops
from ..checks import check_choice, check_unimplemented
from .base import Layer, _Shaped, flatten
from .nesting import _is_nested
from .recurrent import RNN, _check_sequence

__all__ = ["Bidirectional"]


class Bidirectional(Layer):
    """Runs `layer` forwards and a copy of it backwards in time, and merges the two outputs.

    merge_mode: "concat", "sum", "mul", "ave", or None (returns [forward, backward]).
    backward_layer: the layer for the backward direction (with go_backwards=True); None makes
        one like `layer`, with weights of its own.
    weights: Keras's initial weights for both directions, which Keras 3 stores and never uses;
        only None is accepted (UnsupportedArgumentError otherwise): call set_weights instead.
    Weights: the forward layer's, then the backward layer's, as in Keras.
    """
    supports_masking = True
    _MERGES = {"concat": lambda a, b: ops.concat([a, b], axis=-1), "sum": ops.add,
               "mul": ops.mul, "ave": lambda a, b: (a + b) * 0.5, None: None}

    def __init__(self, layer: RNN, merge_mode: str | None = "concat", weights: None = None,
                 backward_layer: RNN | None = None, **kwargs: Any) -> None:
        check_unimplemented(weights, "Bidirectional argument `weights`",
                            feature="initial weights; use set_weights")
        if not isinstance(layer, RNN):
            raise TypeError(f"Bidirectional argument `layer` must be a recurrent layer (RNN, SimpleRNN, "
                            f"LSTM, GRU); got {layer!r} of type {type(layer).__name__}")
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise TypeError(f"Bidirectional argument `backward_layer` must be None or a recurrent "
                            f"layer (SimpleRNN, LSTM, GRU); got {backward_layer!r} of type "
                            f"{type(backward_layer).__name__}")
        if merge_mode is not None:  # Keras's choices: "sum", "mul", "ave", "concat" or None
            check_choice(merge_mode, "Bidirectional argument `merge_mode` (or None)",
                         [m for m in self._MERGES if m is not None])
        super().__init__(**kwargs)
        if backward_layer is None:
            backward_layer = layer._backward_copy("backward_" + layer.name)
        # Keras zeroes the outputs of masked steps in both directions when returning sequences
        layer.zero_output_for_mask = backward_layer.zero_output_for_mask = layer.return_sequences
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.input_spec = layer.input_spec

    def _check_inputs(self, inputs):
        if _is_nested(inputs):  # the directions' outputs are merged (or reversed) as one each
            raise ValueError(f"Bidirectional '{self.name}' takes one input sequence (batch, "
                             f"timesteps, ...); got a {type(inputs).__name__} of "
                             f"{len(flatten(inputs))}")
        super()._check_inputs(inputs)
        _check_sequence(self, inputs)

    def build(self, input_shape):
        self.forward_layer._maybe_build(_Shaped(input_shape))
        self.backward_layer._maybe_build(_Shaped(input_shape))

    def call(self, inputs, initial_state=None, mask=None, training=None):
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        fw = self.forward_layer(inputs, initial_state=fw_state, mask=mask, training=training)
        bw = self.backward_layer(inputs, initial_state=bw_state, mask=mask, training=training)
        fw_states = bw_states = []
        if self.return_state:
            fw, fw_states = fw[0], fw[1:]
            bw, bw_states = bw[0], bw[1:]
        if self.return_sequences:
            bw = bw[:, ::-1]  # back into input order
        merge = self._MERGES[self.merge_mode]
        output = [fw, bw] if merge is None else merge(fw, bw)
        if self.return_state:
            return (output if merge is None else [output]) + list(fw_states) + list(bw_states)
        return output

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        outputs = [out_mask, out_mask] if self.merge_mode is None else [out_mask]
        if self.return_state:
            return outputs + [None] * (2 * len(self.forward_layer.state_size))
        return outputs if self.merge_mode is None else out_mask

    def reset_states(self):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def get_config(self):
        from ..saving import serialization  # late: saving sits above layers
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialization.serialize_layer(self.forward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import registry, serialization  # late: saving sits above layers
        config = dict(config)
        with registry.loading_scope(custom_objects):
            if config.get("backward_layer") is not None:  # Keras's configs name it
                config["backward_layer"] = serialization.deserialize_layer(config["backward_layer"])
            return cls(serialization.deserialize_layer(config.pop("layer")), **config)
