"""The recurrent cells as Keras layers: SimpleRNNCell, LSTMCell, GRUCell and StackedRNNCells.

A cell holds the weights (Keras's `kernel`, `recurrent_kernel`, `bias`, in Keras's layout) and
computes one timestep: `cell(x_t, states) -> (output, new_states)`. `RNN(cell)` (recurrent.py) runs
it over a sequence. For these cells RNN does not call `call` per step: it runs the fused op over
the cell's hand-derived step math (`step_math()`, layers/cells.py), or with `unroll=True` the
op-level step below over inputs projected once for all timesteps.

Dropout as Keras 3's DropoutRNNCell: one input mask (B, D) and one recurrent mask (B, units) per
sequence, shared by the gates; RNN draws them before its time loop and clears them after, so every
step of a sequence uses the same masks.

The cells list Keras 3's arguments. Regularizers and constraints (annotated `None`) are not
implemented: only that default is accepted, another value raises UnsupportedArgumentError.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import activations, initializers, ops
from ..checks import check_bool, check_fraction, check_unimplemented, non_negative_int, \
    positive_int
from ..hints import ActivationLike, InitializerLike, Seed
from ..random import generator
from ..tensor import Tensor
from . import cells
from .base import Layer

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "cell_output_size",
           "state_shapes", "cell_state_shapes", "flatten_shapes"]


# -- the op-level steps: what a cell computes, from primitive ops (the engine derives BPTT) --------

def _simple_rnn_step(zx, states, w_h, b_h, rec_mask, act, ract, reset_after):
    h_prev = states[0] if rec_mask is None else states[0] * rec_mask
    return (act(ops.addmm(zx, h_prev, w_h)),)


def _lstm_step(zx, states, w_h, b_h, rec_mask, act, ract, reset_after):
    h_prev, c_prev = states
    if rec_mask is not None:
        h_prev = h_prev * rec_mask
    z = ops.addmm(zx, h_prev, w_h)
    if ract in activations.BLOCKWISE:              # one call for the gates i, f, o
        i, f, _, o = ops.split(ract(z), 4, axis=1)  # (and the unused c block)
        H = c_prev.shape[-1]
        g = act(z[:, 2 * H:3 * H])
    else:
        i, f, g, o = ops.split(z, 4, axis=1)
        i, f, g, o = ract(i), ract(f), act(g), ract(o)
    c = f * c_prev + i * g
    return (o * act(c), c)


def _gru_step(zx, states, w_h, b_h, rec_mask, act, ract, reset_after):
    h_prev = states[0]
    h_rec = h_prev if rec_mask is None else h_prev * rec_mask
    H = h_prev.shape[-1]
    x_zr, x_h = zx                                 # GRUCell.per_step's pair
    if reset_after:
        h_zr, h_h = ops.split(ops.addmm(b_h, h_rec, w_h), [2 * H], axis=1)
        zr = x_zr + h_zr
    else:
        zr = ops.addmm(x_zr, h_rec, w_h[:, :2 * H])
    if ract in activations.BLOCKWISE:              # one call for both gates
        z, r = ops.split(ract(zr), 2, axis=1)
    else:
        z, r = ops.split(zr, 2, axis=1)
        z, r = ract(z), ract(r)
    hh = act(x_h + r * h_h) if reset_after else act(x_h + (r * h_rec) @ w_h[:, 2 * H:])
    return (hh + z * (h_prev - hh),)               # = z h_prev + (1 - z) hh, as the fused cell


def refuse_regularizers(layer, **arguments):
    """Keras's regularizer and constraint arguments of a recurrent cell or layer: each must be
    None, checked before the layer changes anything."""
    for name, value in arguments.items():
        feature = "regularizers" if name.endswith("regularizer") else "constraints"
        check_unimplemented(value, f"{type(layer).__name__} argument `{name}`", None, feature)


def cell_output_size(cell):
    """A cell's output size, as Keras reads it: output_size, else the first state's size."""
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    state_size = cell.state_size
    return state_size[0] if isinstance(state_size, (list, tuple)) else state_size


class _BuiltinCell(Layer):
    """What SimpleRNNCell, LSTMCell and GRUCell share: weights, dropout masks, the step in ops."""
    gates = 1
    n_states = 1
    _op_step = staticmethod(_simple_rnn_step)
    reset_after = False

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        arg = f"{type(self).__name__} argument `{{}}`".format
        self.units = positive_int(units, arg("units"))  # Keras: units > 0
        self.use_bias = check_bool(use_bias, arg("use_bias"))
        # Keras clips dropout into [0, 1] silently; a rate outside [0, 1) is refused here (a
        # rate of 1 would drop everything and scale by 1 / 0)
        self.dropout = check_fraction(dropout, arg("dropout"))
        self.recurrent_dropout = check_fraction(recurrent_dropout, arg("recurrent_dropout"))
        self.seed = None if seed is None else non_negative_int(seed, arg("seed"))
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._activation_names = (activation, recurrent_activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        # one generator per seeded cell: reproducible, yet new masks on every sequence (as Keras's
        # SeedGenerator); unseeded cells draw from the shared generator
        self._rng = generator(self.seed) if self.seed is not None else None
        self._dropout_mask = self._recurrent_dropout_mask = None

    # -- Keras's cell protocol ------------------------------------------------------------------
    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        return [Tensor(np.zeros((batch_size, self.units), dtype=self.dtype))
                for _ in range(self.n_states)]

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        features = input_shape[-1]
        kH = self.gates * self.units
        self.kernel = self.add_weight((features, kH), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, kH), self.recurrent_initializer,
                                                name="recurrent_kernel")
        self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(), name="bias") \
            if self.use_bias else None

    def call(self, inputs, states, training=None):
        """One step: inputs (batch, features); states a list of n_states (batch, units) (a bare
        array for a one-state cell). Returns (output, new_states), new_states a list when states
        came as one, else the bare new state, as Keras's cells do."""
        as_list = isinstance(states, (list, tuple))
        states = [self._convert(s) for s in (states if as_list else [states])]
        if len(states) != self.n_states:
            raise ValueError(f"{self._describe()} expects {self.n_states} state(s) of shape "
                             f"(batch, {self.units}); got {len(states)}")
        if not as_list and self.n_states > 1:
            raise ValueError(f"{self._describe()} expects its states as a list of "
                             f"{self.n_states} arrays; got a single array")
        B = inputs.shape[0]
        for i, s in enumerate(states):
            if tuple(s.shape) != (B, self.units):
                raise ValueError(f"{self._describe()} expects state {i} of shape (batch, units) = "
                                 f"{(B, self.units)}; got {tuple(s.shape)}")
        input_mask, rec_mask = self.dropout_masks(B, inputs.shape[-1], training)
        x = inputs if input_mask is None else inputs * input_mask
        bias = self.bias_value()
        b_x, b_h = (bias[0], bias[1]) if self.reset_after else (bias, None)
        zx = self.per_step(ops.expand_dims(x @ self.kernel + b_x, 1))[0]
        new = self._op_step(zx, states, self.recurrent_kernel, b_h, rec_mask,
                            self.activation, self.recurrent_activation, self.reset_after)
        return new[0], (list(new) if as_list else new[0])

    # -- what RNN uses ---------------------------------------------------------------------------
    def fused_available(self):
        """Whether the fused op can run this cell: its activations are named ones."""
        return all(isinstance(n, str) or n is None for n in self._activation_names)

    def step_math(self):
        """The cell's hand-derived step code (layers/cells.py), what the fused op runs."""
        raise NotImplementedError

    def bias_value(self):
        return self.bias if self.bias is not None else np.zeros(self._bias_shape(), self.dtype)

    def per_step(self, zx):
        """What the op-level step takes for each step of the input projections zx (B, T, kH):
        T tensors (B, kH), one node."""
        return ops.unstack(zx, axis=1)

    def op_step(self, zx_t, states, b_h, rec_mask):
        """The op-level step over one step's input projection (per_step's item); b_h the
        recurrent bias (GRU with reset_after) or None, taken once for all steps by the caller."""
        return self._op_step(zx_t, states, self.recurrent_kernel, b_h, rec_mask,
                             self.activation, self.recurrent_activation, self.reset_after)

    def dropout_masks(self, batch, features, training):
        """(input mask (B, D), recurrent mask (B, units)), each None when not dropping. Masks set
        by RNN for the sequence in progress are reused; otherwise drawn here and kept until
        reset_dropout_masks(), as Keras's DropoutRNNCell does."""
        if not training:
            return None, None
        rng = self._rng or generator()

        def draw(rate, shape):
            keep = rng.random(shape) >= rate
            return (keep / (1.0 - rate)).astype(self.dtype)
        if self.dropout and (self._dropout_mask is None or
                             self._dropout_mask.shape != (batch, features)):
            self._dropout_mask = draw(self.dropout, (batch, features))
        if self.recurrent_dropout and (self._recurrent_dropout_mask is None or
                                       self._recurrent_dropout_mask.shape != (batch, self.units)):
            self._recurrent_dropout_mask = draw(self.recurrent_dropout, (batch, self.units))
        return (self._dropout_mask if self.dropout else None,
                self._recurrent_dropout_mask if self.recurrent_dropout else None)

    def reset_dropout_masks(self):
        self._dropout_mask = self._recurrent_dropout_mask = None

    def get_config(self):
        config = super().get_config()
        act, ract = self._activation_names
        config.update({
            "units": self.units, "activation": act, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
        })
        if self.gates > 1:
            config["recurrent_activation"] = ract
        return config


class SimpleRNNCell(_BuiltinCell):
    """h_t = activation(x_t W_x + b + h_{t-1} W_h). Weights: kernel (D, units), recurrent_kernel
    (units, units), bias (units,)."""

    def __init__(self, units: int, activation: ActivationLike = "tanh", use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 recurrent_initializer: InitializerLike = "orthogonal",
                 bias_initializer: InitializerLike = "zeros", kernel_regularizer: None = None,
                 recurrent_regularizer: None = None, bias_regularizer: None = None,
                 kernel_constraint: None = None, recurrent_constraint: None = None,
                 bias_constraint: None = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: Seed = None, **kwargs: Any) -> None:
        if "recurrent_activation" in kwargs:
            raise TypeError(f"{type(self).__name__} has no recurrent_activation argument")
        refuse_regularizers(self, kernel_regularizer=kernel_regularizer,
                            recurrent_regularizer=recurrent_regularizer,
                            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                            recurrent_constraint=recurrent_constraint,
                            bias_constraint=bias_constraint)
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)

    def step_math(self):
        return cells.SimpleRNNCellMath(self._activation_names[0])


class LSTMCell(_BuiltinCell):
    """Long short-term memory; gates i, f, c, o as in Keras. state_size [units, units] (h, c)."""
    gates, n_states = 4, 2
    _op_step = staticmethod(_lstm_step)

    def __init__(self, units: int, activation: ActivationLike = "tanh",
                 recurrent_activation: ActivationLike = "sigmoid", use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 recurrent_initializer: InitializerLike = "orthogonal",
                 bias_initializer: InitializerLike = "zeros", unit_forget_bias: bool = True,
                 kernel_regularizer: None = None, recurrent_regularizer: None = None,
                 bias_regularizer: None = None, kernel_constraint: None = None,
                 recurrent_constraint: None = None, bias_constraint: None = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: Seed = None,
                 **kwargs: Any) -> None:
        refuse_regularizers(self, kernel_regularizer=kernel_regularizer,
                            recurrent_regularizer=recurrent_regularizer,
                            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                            recurrent_constraint=recurrent_constraint,
                            bias_constraint=bias_constraint)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.unit_forget_bias = check_bool(unit_forget_bias,
                                           f"{type(self).__name__} argument `unit_forget_bias`")

    @property
    def state_size(self):
        return [self.units, self.units]

    def step_math(self):
        return cells.LSTMCellMath(*self._activation_names)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        H, init = self.units, self.bias_initializer

        def forget_ones(shape, dtype=None):
            return np.concatenate([init((H,), dtype), np.ones(H, dtype), init((2 * H,), dtype)])
        return forget_ones

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_BuiltinCell):
    """Gated recurrent unit; gates z, r, h as in Keras (reset_after=True: bias (2, 3*units))."""
    gates = 3
    _op_step = staticmethod(_gru_step)

    def __init__(self, units: int, activation: ActivationLike = "tanh",
                 recurrent_activation: ActivationLike = "sigmoid", use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 recurrent_initializer: InitializerLike = "orthogonal",
                 bias_initializer: InitializerLike = "zeros", kernel_regularizer: None = None,
                 recurrent_regularizer: None = None, bias_regularizer: None = None,
                 kernel_constraint: None = None, recurrent_constraint: None = None,
                 bias_constraint: None = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, reset_after: bool = True, seed: Seed = None,
                 **kwargs: Any) -> None:
        refuse_regularizers(self, kernel_regularizer=kernel_regularizer,
                            recurrent_regularizer=recurrent_regularizer,
                            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                            recurrent_constraint=recurrent_constraint,
                            bias_constraint=bias_constraint)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.reset_after = check_bool(reset_after, f"{type(self).__name__} argument `reset_after`")

    def step_math(self):
        return cells.GRUCellMath(*self._activation_names, reset_after=self.reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def per_step(self, zx):
        """T pairs (x_zr (B, 2H), x_h (B, H)): the candidate's part split off once for all steps,
        not once a step."""
        parts = ops.split(zx, [2 * self.units], axis=2)
        return list(zip(*(ops.unstack(part, axis=1) for part in parts)))

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


# -- a stack of cells as one cell ------------------------------------------------------------------

def _groups_states(size):
    """Whether a state_size lists several states (a list or tuple, a namedtuple included) rather
    than giving one state's size (an int, a TensorShape, or another iterable of ints)."""
    return type(size) in (list, tuple) or (isinstance(size, tuple) and hasattr(size, "_fields"))


def _one_state_shape(size):
    """One state's shape without the batch axis, or None when `size` gives none: an int n gives
    (n,); an object with as_list() (a TensorShape, read by duck typing) or an iterable of ints
    (a list or tuple included: an item of a state_size list) gives its dimensions."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        dims = [size]
    else:
        try:
            as_list = getattr(size, "as_list", None)
            dims = list(as_list()) if callable(as_list) else list(size)
        except (TypeError, ValueError):  # not iterable; a TensorShape of unknown rank
            return None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
               for d in dims):
        return None
    return tuple(int(d) for d in dims)


def state_shapes(state_size):
    """A cell's state_size as the list of its states' shapes without the batch axis, or None if
    it is not one: 3 -> [(3,)]; [3, 3] -> [(3,), (3,)]; [TensorShape([3]), [4, 5]] ->
    [(3,), (4, 5)]. A list or tuple lists the states; each of its items is one state's size."""
    items = list(state_size) if _groups_states(state_size) else [state_size]
    shapes = [_one_state_shape(size) for size in items]
    return shapes if shapes and all(s is not None for s in shapes) else None


def cell_state_shapes(cell):
    """state_shapes of a cell; for a StackedRNNCells, one such list per cell (whose state_size
    lists its cells' state sizes), or None where one is not a state_size."""
    if isinstance(cell, StackedRNNCells):
        per_cell = [cell_state_shapes(c) for c in cell.cells]
        return per_cell if all(s is not None for s in per_cell) else None
    return state_shapes(cell.state_size)


def flatten_shapes(shapes):
    """The state shapes of cell_state_shapes()'s nested lists, in order."""
    if isinstance(shapes, list):
        return [shape for s in shapes for shape in flatten_shapes(s)]
    return [shapes]


def check_cell_protocol(cell, what):
    """Refuse an object that cannot be an RNN cell (Keras's test: a `call` and a `state_size`)."""
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{what} must be an RNN cell with a `call(inputs, states)` method; "
                         f"got {cell!r} of type {type(cell).__name__}")
    try:
        state_size = cell.state_size
    except AttributeError:
        state_size = None
    if state_size is None:
        raise ValueError(f"{what} must be an RNN cell with a `state_size` attribute (an int, or a "
                         f"list of ints, one per state); {type(cell).__name__} "
                         f"'{getattr(cell, 'name', cell)}' has none")
    if cell_state_shapes(cell) is None:
        raise ValueError(f"{what}: the `state_size` of {type(cell).__name__} "
                         f"'{getattr(cell, 'name', cell)}' must be a positive int, or a state's "
                         f"shape (a TensorShape, or an iterable of positive ints), or a list of "
                         f"them, one per state; got {state_size!r}")


class StackedRNNCells(Layer):
    """Several cells run as one, each feeding its output to the next (Keras's StackedRNNCells).

    state_size is the list of the cells' state sizes; states travel as one entry per cell (a
    list for a cell whose initial state is a list)."""

    def __init__(self, cells: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(f"StackedRNNCells argument `cells` must be a non-empty list of RNN "
                             f"cells; got {cells!r}")
        for i, cell in enumerate(cells):
            check_cell_protocol(cell, f"StackedRNNCells argument `cells` item {i}")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return cell_output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            make = getattr(cell, "get_initial_state", None)
            if make is not None:
                states.append(make(batch_size=batch_size))
            else:
                zeros = [Tensor(np.zeros((batch_size,) + shape, self.dtype))
                         for shape in flatten_shapes(cell_state_shapes(cell))]
                states.append(zeros if _groups_states(cell.state_size) else zeros[0])
        return states

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(input_shape)
                cell.built = True
            input_shape = (input_shape[0], cell_output_size(cell))

    def call(self, inputs, states, training=None):
        new_states = []
        for cell, state in zip(self.cells, states):
            was_list = isinstance(state, (list, tuple))
            state = list(state) if was_list else [state]
            kwargs = {"training": training} if "training" in getattr(cell, "_call_takes", ()) \
                else {}
            inputs, state = cell(inputs, state, **kwargs)
            if not isinstance(state, (list, tuple)):
                state = [state]
            new_states.append(state[0] if len(state) == 1 and not was_list else list(state))
        if len(new_states) == 1:
            new_states = new_states[0]
        return inputs, new_states

    def get_config(self):
        from ..saving import serialization  # late: saving sits above layers
        return {**super().get_config(),
                "cells": [serialization.serialize_layer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import registry, serialization  # late: saving sits above layers
        config = dict(config)
        with registry.loading_scope(custom_objects):
            cells_ = [serialization.deserialize_layer(c) for c in config.pop("cells")]
        return cls(cells_, **config)
