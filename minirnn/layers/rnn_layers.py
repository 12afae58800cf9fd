"""SimpleRNN, LSTM and GRU: RNN over their built-in cells, the cell's arguments flattened into
the layer's, as Keras's layers of those names."""
from ..naming import to_snake_case
from .base import Layer, _unique_name
from .recurrent import RNN
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell

__all__ = ["SimpleRNN", "LSTM", "GRU"]


class _CellLayer(RNN):
    """A recurrent layer made of one built-in cell, which it builds from its own arguments and
    exposes by them (units, activation, ...), as Keras's SimpleRNN, LSTM and GRU do."""
    cell_class = SimpleRNNCell
    _RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                 "zero_output_for_mask", "recompute", "truncate_bptt", "bptt")
    _LAYER_ARGS = ("trainable", "name", "dtype", "input_shape", "input_dim", "batch_input_shape")

    def __init__(self, units, *args, **kwargs):
        rnn_kwargs = {k: kwargs.pop(k) for k in self._RNN_ARGS + self._LAYER_ARGS if k in kwargs}
        if rnn_kwargs.get("name") is None:
            rnn_kwargs["name"] = _unique_name(to_snake_case(type(self).__name__))
        if not isinstance(rnn_kwargs["name"], str):
            raise TypeError(f"{type(self).__name__} `name` must be a string or None; got "
                            f"{rnn_kwargs['name']!r} of type {type(rnn_kwargs['name']).__name__}")
        try:
            cell = self.cell_class(units, *args, name=rnn_kwargs["name"] + "_cell",
                                   dtype=rnn_kwargs.get("dtype"),
                                   trainable=rnn_kwargs.get("trainable", True), **kwargs)
        except TypeError as error:
            message = str(error).replace(self.cell_class.__name__, type(self).__name__)
            raise TypeError(message) from None
        except ValueError as error:
            message = str(error).replace(self.cell_class.__name__, type(self).__name__)
            raise ValueError(message) from None
        super().__init__(cell, **rnn_kwargs)

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


class LSTM(_CellLayer):
    """Long short-term memory; gates i, f, c, o as in Keras; RNN(LSTMCell)."""
    cell_class = LSTMCell


class GRU(_CellLayer):
    """Gated recurrent unit; gates z, r, h as in Keras (reset_after=True by default); RNN(GRUCell)."""
    cell_class = GRUCell
