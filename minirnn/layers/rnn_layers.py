"""SimpleRNN, LSTM and GRU: RNN over their built-in cells, the cell's arguments flattened into
the layer's, as Keras's layers of those names.

Each lists Keras 3's arguments, then minirnn's own (keyword only; see RNN): zero_output_for_mask,
recompute, truncate_bptt, bptt. Regularizers and constraints (annotated `None`) are not
implemented: only that default is accepted, another value raises UnsupportedArgumentError.
`use_cudnn` (LSTM, GRU) chooses Keras's cuDNN kernel on a GPU: minirnn runs on NumPy alone, so
True, False and "auto" are all accepted and give the same numbers; another value is refused.
"""
from __future__ import annotations

from typing import Any, Literal

from ..naming import to_snake_case
from ..hints import ActivationLike, InitializerLike, Seed
from .base import Layer, _unique_name
from .recurrent import RNN
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, refuse_regularizers

__all__ = ["SimpleRNN", "LSTM", "GRU"]

# the constructors' arguments that are RNN's rather than the cell's
_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask", "recompute", "truncate_bptt", "bptt")
_REFUSED = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
            "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint")


class _CellLayer(RNN):
    """A recurrent layer made of one built-in cell, which it builds from its own arguments and
    exposes by them (units, activation, ...), as Keras's SimpleRNN, LSTM and GRU do."""
    cell_class = SimpleRNNCell

    def __init__(self, units, arguments, kwargs):
        """arguments: the subclass constructor's named arguments (its locals()): each goes to
        RNN or to the cell; kwargs: the Layer's (name, dtype, ...), which RNN takes."""
        arguments = {k: v for k, v in arguments.items()
                     if k not in ("self", "units", "kwargs", "__class__")}
        refuse_regularizers(self, **{k: arguments.pop(k) for k in _REFUSED})
        cudnn = {"use_cudnn": arguments.pop("use_cudnn")} if "use_cudnn" in arguments else {}
        use_cudnn = cudnn.get("use_cudnn", "auto")
        if not any(use_cudnn is v for v in (True, False)) and use_cudnn != "auto":
            raise ValueError(f"{type(self).__name__} argument `use_cudnn` must be True, False or "
                             f"'auto' (all run the same NumPy code); got {use_cudnn!r}")
        rnn_kwargs = {k: arguments.pop(k) for k in _RNN_ARGS}
        rnn_kwargs.update(kwargs)
        if rnn_kwargs.get("name") is None:
            rnn_kwargs["name"] = _unique_name(to_snake_case(type(self).__name__))
        if not isinstance(rnn_kwargs["name"], str):
            raise TypeError(f"{type(self).__name__} `name` must be a string or None; got "
                            f"{rnn_kwargs['name']!r} of type {type(rnn_kwargs['name']).__name__}")
        try:
            cell = self.cell_class(units, name=rnn_kwargs["name"] + "_cell",
                                   dtype=rnn_kwargs.get("dtype"),
                                   trainable=rnn_kwargs.get("trainable", True), **arguments)
        except TypeError as error:
            message = str(error).replace(self.cell_class.__name__, type(self).__name__)
            raise TypeError(message) from None
        except ValueError as error:
            message = str(error).replace(self.cell_class.__name__, type(self).__name__)
            raise ValueError(message) from None
        super().__init__(cell, **rnn_kwargs)
        self.__dict__.update(cudnn)  # kept as Keras keeps it; nothing reads it

    def __getattr__(self, name):
        # the cell's arguments and weights read through the layer (layer.units, layer.kernel)
        if name in _CELL_ATTRIBUTES and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        config = Layer.get_config(self)
        config.update(self._rnn_config())
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config.update(cell_config)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    def _backward_copy(self, name):
        config = self.get_config()
        config.update(name=name, go_backwards=not self.go_backwards)
        return type(self).from_config(config)


_CELL_ATTRIBUTES = frozenset({
    "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
    "recurrent_initializer", "bias_initializer", "unit_forget_bias", "reset_after", "dropout",
    "recurrent_dropout", "seed", "kernel", "recurrent_kernel", "bias", "gates"})


class SimpleRNN(_CellLayer):
    """Fully connected RNN: h_t = activation(x_t W_x + b + h_{t-1} W_h); RNN(SimpleRNNCell)."""
    cell_class = SimpleRNNCell

    def __init__(self, units: int, activation: ActivationLike = "tanh", use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 recurrent_initializer: InitializerLike = "orthogonal",
                 bias_initializer: InitializerLike = "zeros", kernel_regularizer: None = None,
                 recurrent_regularizer: None = None, bias_regularizer: None = None,
                 activity_regularizer: None = None, kernel_constraint: None = None,
                 recurrent_constraint: None = None, bias_constraint: None = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 seed: Seed = None, *, zero_output_for_mask: bool = False,
                 recompute: bool | int = False, truncate_bptt: int | None = None,
                 bptt: str = "fast", **kwargs: Any) -> None:
        super().__init__(units, locals(), kwargs)


class LSTM(_CellLayer):
    """Long short-term memory; gates i, f, c, o as in Keras; RNN(LSTMCell)."""
    cell_class = LSTMCell

    def __init__(self, units: int, activation: ActivationLike = "tanh",
                 recurrent_activation: ActivationLike = "sigmoid", use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 recurrent_initializer: InitializerLike = "orthogonal",
                 bias_initializer: InitializerLike = "zeros", unit_forget_bias: bool = True,
                 kernel_regularizer: None = None, recurrent_regularizer: None = None,
                 bias_regularizer: None = None, activity_regularizer: None = None,
                 kernel_constraint: None = None, recurrent_constraint: None = None,
                 bias_constraint: None = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: Seed = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 use_cudnn: bool | Literal["auto"] = "auto", *,
                 zero_output_for_mask: bool = False, recompute: bool | int = False,
                 truncate_bptt: int | None = None, bptt: str = "fast", **kwargs: Any) -> None:
        super().__init__(units, locals(), kwargs)


class GRU(_CellLayer):
    """Gated recurrent unit; gates z, r, h as in Keras (reset_after=True by default); RNN(GRUCell)."""
    cell_class = GRUCell

    def __init__(self, units: int, activation: ActivationLike = "tanh",
                 recurrent_activation: ActivationLike = "sigmoid", use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 recurrent_initializer: InitializerLike = "orthogonal",
                 bias_initializer: InitializerLike = "zeros", kernel_regularizer: None = None,
                 recurrent_regularizer: None = None, bias_regularizer: None = None,
                 activity_regularizer: None = None, kernel_constraint: None = None,
                 recurrent_constraint: None = None, bias_constraint: None = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: Seed = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 reset_after: bool = True, use_cudnn: bool | Literal["auto"] = "auto", *,
                 zero_output_for_mask: bool = False, recompute: bool | int = False,
                 truncate_bptt: int | None = None, bptt: str = "fast", **kwargs: Any) -> None:
        super().__init__(units, locals(), kwargs)
