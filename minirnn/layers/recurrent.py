"""RNN(cell): a cell run over a sequence. SimpleRNN, LSTM and GRU are RNN over their cells
(rnn_layers.py); Bidirectional runs two of them (bidirectional.py).

Which path runs depends on the cell:

* a built-in cell (SimpleRNNCell, LSTMCell, GRUCell, or a StackedRNNCells of them) with
  ``unroll=False``: the fused op (layers/fused.py), the whole sequence as one graph node per cell.
  Its forward hoists the input projection ``X @ W_x + b`` out of the loop and runs the cell's step
  per timestep; its VJP is the BPTT loop ``t = T-1 ... 0`` over the cell's hand-derived backward
  step, and forms ``dW_x`` and ``dW_h`` each with one matmul over all timesteps. ``bptt="fast"``
  (the default) runs the cell's segment kernel (layers/kernels/), ``bptt="reference"`` the plain
  loop over the cell's step_forward / step_backward (layers/bptt.py).
* a cell of your own with hand-written ``step_forward`` / ``step_backward`` (see RNN's docstring):
  the same fused op over them, in the plain loop of layers/bptt.py; no per-op graph.
* otherwise (``unroll=True``, or a cell with only a ``call``): a Python loop over timesteps
  (time_loop.py) calling the cell (a built-in cell's step from primitive ops over inputs
  projected once); the engine derives BPTT from the recorded ops. Only this path takes inputs
  given as a structure (a tuple, list or dict of sequences, as the Keras guide's NestedCell),
  and states and outputs of several axes.

After a backward pass, `bptt_gradients` holds dL/dh_t (the first state's gradient) for every
processed timestep, shape (timesteps, batch, *state shape), whichever path ran.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..checks import check_bool, check_choice, positive_int
from ..tensor import Tensor
from .base import InputSpec, Layer, _Shaped, flatten, is_tracing, map_structure
from .fused import BPTT_MODES, fused_rnn
from .nesting import _is_nested, _is_shape, _map_shapes, _pack, _pack_as, _shape_leaves, \
    _structure_of
# the cells' op-level steps stay readable from here, where the unrolled path's tests look
from .rnn_cells import (StackedRNNCells, _BuiltinCell, _groups_states, _gru_step,  # noqa: F401
                        _lstm_step, _simple_rnn_step, cell_state_shapes, check_cell_protocol,
                        flatten_shapes)
from .step_code import _StepCode, _has_step_code
from .time_loop import TimeLoop

__all__ = ["RNN"]


def _check_not_empty(layer, batch, timesteps, shape, call="",
                     expected="(batch, timesteps, features)"):
    """Refuse a batch of no samples or a sequence of no timesteps, before anything is built:
    the time loop has nothing to run and no last output to return (the fused path would fail
    reshaping, the unrolled one indexing)."""
    what = f"{type(layer).__name__} '{layer.name}'{call}"
    if batch == 0:
        raise ValueError(f"{what} got an empty batch (0 samples): expects input of shape "
                         f"{expected} with at least 1 sample; got shape {tuple(shape)}")
    if timesteps == 0:
        raise ValueError(f"{what} got 0 timesteps: expects input of shape {expected} with at "
                         f"least 1 timestep; got shape {tuple(shape)}")


def _check_sequence(layer, inputs):
    shape = tuple(flatten(inputs)[0].shape)
    if len(shape) >= 3:  # other ranks are the input spec's to refuse
        _check_not_empty(layer, shape[0], shape[1], shape)


def _takes_one_tensor(cell):
    """Whether the cell reads one (batch, features) tensor per step: the built-in cells (and a
    stack starting with one), and a cell with hand-written step code, whose kernel is (D, k)."""
    if isinstance(cell, StackedRNNCells):
        return _takes_one_tensor(cell.cells[0])
    return isinstance(cell, _BuiltinCell) or _has_step_code(cell)


def _reset_dropout(cell):
    if isinstance(cell, _BuiltinCell):
        cell.reset_dropout_masks()
    for inner in getattr(cell, "cells", ()) if isinstance(cell, StackedRNNCells) else ():
        _reset_dropout(inner)


def _copy_cell(cell):
    """A new cell like `cell` with weights of its own (Bidirectional's backward direction)."""
    if isinstance(cell, StackedRNNCells):
        return StackedRNNCells([_copy_cell(c) for c in cell.cells])
    config = cell.get_config() if isinstance(cell, Layer) else {}
    config.pop("name", None)
    try:
        return type(cell).from_config(config)
    except TypeError:
        if isinstance(cell, Layer) and cell.built:
            raise TypeError(f"cannot make a second {type(cell).__name__} for the backward "
                            f"direction: its get_config() does not hold its constructor's "
                            f"arguments; give the cell a get_config, or pass backward_layer")
        return copy.deepcopy(cell)


class RNN(TimeLoop, Layer):
    """Runs a cell over the timesteps of a sequence (Keras's RNN).

    cell: a SimpleRNNCell, LSTMCell or GRUCell, a StackedRNNCells (or a list of cells, stacked),
        or a cell of your own following Keras's protocol: a Layer with `state_size` (an int, or a
        list of ints, one per state), optionally `output_size`, `call(inputs, states,
        training=None) -> (output, new_states)` (inputs (batch, features), states a list of
        (batch, size) Tensors, new_states a list or a bare Tensor), and optionally
        `get_initial_state(batch_size)` returning a list. Built in `build((batch, features))`.
    return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask: as Keras.
        With return_state the output is followed by one entry per entry of the cell's state_size
        (for a StackedRNNCells: per cell, a list for a cell whose state is a list).

    Nested inputs, states and outputs (a cell of your own with a `call`, as the Keras guide's
    NestedCell). The layer may be called on a tuple, list or dict of sequences, each (batch,
    timesteps, ...) with time on axis 1; the cell then gets each step's slices in that structure,
    and is built with the structure of step shapes, e.g. ((batch, i1), (batch, i2, i3)). A
    single sequence may have more axes too, (batch, timesteps, d1, d2, ...). A state may have
    several axes: an item of `state_size` is an int n (a state (batch, n)), or a state's shape,
    anything with `as_list()` (a TensorShape) or another iterable of ints, so `[TensorShape([u1]),
    TensorShape([u2, u3])]` and `[[u1], [u2, u3]]` both mean states (batch, u1) and (batch, u2,
    u3); zeros of those shapes start a sequence unless the cell has get_initial_state. The cell
    may return a structure of outputs (tuple, list, dict); masking, go_backwards and
    return_sequences act on each, and the layer returns them in that structure, followed by the
    states with return_state. The layer is held to the structure and step shapes it was built
    for; the built-in cells and cells with step code take one sequence.

    A cell's own backward. A cell may also define its step's hand-derived BPTT, the protocol of the
    built-in cells' step code (layers/cells.py), and RNN then runs it in the plain BPTT loop of
    layers/bptt.py (unroll=False): no graph is recorded per op. The cell then has weights
    `kernel` (D, k) and `recurrent_kernel` (H, k), optionally `bias` (k,) (None without), and:

    - `step_forward(zx, states, W_h, b_h=None, rec_mask=None) -> (new_states, cache)`: one step
      in NumPy. zx (B, k) = x_t @ kernel + bias, computed for every step at once by RNN; states a
      tuple of (B, size) arrays; W_h the recurrent kernel's array; b_h is None; rec_mask the
      recurrent dropout mask (B, H) or None. new_states a tuple like states, whose first item is
      the step's output; cache anything the backward step needs.
    - `step_backward(dstates, cache, W_h) -> (dzx, dzh, dstates_prev[, dweights])`: dstates the
      gradients reaching this step's new states (the output's included in the first), a tuple of
      (B, size). dzx (B, k) the gradient of zx; dzh (B, k) that of the recurrent pre-activation
      (the product rec_in @ W_h, where rec_in = h_prev, times rec_mask if any); for the usual cell
      where both are added, dzh is dzx. dstates_prev the gradients of the step's input states.
      dweights, optional: a tuple of gradients of the cell's `step_weights` (a list of any further
      weight Tensors the step reads, e.g. peepholes, by their `.data`), summed over steps by RNN.
    - `kernel_grad(caches, dzh_seq)` (optional): dW_h from all steps' caches and dzh (T, B, k).
      Without it, RNN forms sum_t rec_in_t^T @ dzh_t, reading `cache.rec_in` (B, H).
    - `dropout_masks(batch, features, training)` (optional): (input mask (B, D), recurrent mask
      (B, H)), each None or an array.

    RNN forms dW_x, d bias and dx from dzx, dW_h from kernel_grad, exactly as for the built-in
    cells. `minirnn.check_cell` holds such a backward to the engine's autodiff of the cell's `call`
    and to finite differences, naming the state, gate block and weight that disagree.

    Besides Keras's arguments:
    recompute: False, True or a segment length s. When on, the fused path keeps only the states
        every s steps (s = ceil(sqrt(T)) for True) and recomputes each segment's caches during
        backward: activation memory ~ sqrt(T) steps instead of T, for about one more forward pass.
        Gradients are those of the plain path.
    truncate_bptt: None or k. Truncated BPTT: the gradient does not cross from processing step t to
        step t-1 where t is a multiple of k, so it travels at most k steps back within each chunk.
    bptt: "fast" (the default) or "reference": which code the fused path (unroll=False) runs, the
        cell's segment kernel or the plain loop over its step_forward / step_backward
        (layers/bptt.py), written to be read. Both give the same numbers; "reference" is slower.
    """
    supports_masking = True

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, recompute: bool | int = False,
                 truncate_bptt: int | None = None, bptt: str = "fast", **kwargs: Any) -> None:
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        check_cell_protocol(cell, f"{type(self).__name__} argument `cell`")
        check_choice(bptt, "bptt", BPTT_MODES)
        arg = f"{type(self).__name__} argument `{{}}`".format
        flags = {"return_sequences": return_sequences, "return_state": return_state,
                 "go_backwards": go_backwards, "stateful": stateful, "unroll": unroll,
                 "zero_output_for_mask": zero_output_for_mask}
        flags = {name: check_bool(value, arg(name)) for name, value in flags.items()}
        if not isinstance(recompute, (bool, np.bool_)):
            recompute = positive_int(recompute, arg("recompute") + " (a bool, or a segment length)")
        if truncate_bptt is not None:
            truncate_bptt = positive_int(truncate_bptt, arg("truncate_bptt"))
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences, self.return_state = flags["return_sequences"], flags["return_state"]
        self.go_backwards, self.stateful = flags["go_backwards"], flags["stateful"]
        self.unroll = flags["unroll"]
        self.zero_output_for_mask = flags["zero_output_for_mask"]
        self.recompute = bool(recompute) if isinstance(recompute, (bool, np.bool_)) else recompute
        self.truncate_bptt = truncate_bptt
        self.bptt = bptt
        state_size = cell.state_size
        self.single_state = not _groups_states(state_size)
        self.state_size = [state_size] if self.single_state else list(state_size)
        self.states = None
        self._bptt = None
        self._bptt_call = None
        self._unrolled_states = None
        # the step shapes (no batch, no time axis) of inputs given as a structure, once built
        self._input_structure = None
        # the structure of the cell's output in the latest call (None: one tensor)
        self._output_structure = None
        self.input_spec = InputSpec(ndim=3, description="(batch, timesteps, features)") \
            if _takes_one_tensor(cell) else \
            InputSpec(min_ndim=3, description="(batch, timesteps, features, ...)")

    # -- shapes and states ---------------------------------------------------------------------
    @property
    def n_states(self):
        """How many state arrays the layer carries (every cell's, for a stack)."""
        return len(self._flat_state_shapes())

    def _flat_state_shapes(self):
        """Every state's shape without the batch axis, in the flat order of the states."""
        return flatten_shapes(cell_state_shapes(self.cell))

    def _check_inputs(self, inputs):
        if _is_nested(inputs):
            self._check_nested_inputs(inputs)
            return
        if self._input_structure is not None:
            raise ValueError(f"{self._cell_description()} was built for inputs structured as "
                             f"{self._describe_structure(self._input_structure)}; got one "
                             f"sequence of shape {tuple(inputs.shape)}")
        super()._check_inputs(inputs)
        _check_sequence(self, inputs)

    def build(self, input_shape):
        nested = not _is_shape(input_shape)
        step_shape = _map_shapes(lambda s: (s[0],) + s[2:], input_shape)
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True
        if nested:  # checked by _check_nested_inputs against these
            self._input_structure = _map_shapes(lambda s: s[1:], step_shape)
            self.input_spec = None
            return
        dims = tuple(input_shape[2:])
        self.input_spec = InputSpec(ndim=len(input_shape),
                                    axes={i - len(dims): d for i, d in enumerate(dims)},
                                    description=f"(batch, timesteps, {', '.join(map(str, dims))})")

    @staticmethod
    def _describe_structure(step_shapes):
        """Step shapes (no batch, no time) written as the sequences' shapes they stand for."""
        return _map_shapes(lambda s: ("batch", "timesteps") + s, step_shapes)

    def _check_nested_inputs(self, inputs):
        """Inputs given as a structure: a cell that reads them, sequences of one batch and one
        length (the time axis is axis 1 of each), and the structure and step shapes it was built
        for."""
        if _takes_one_tensor(self.cell):
            raise ValueError(f"{self._cell_description()} takes one input sequence (batch, "
                             f"timesteps, features); got a {type(inputs).__name__} of "
                             f"{len(flatten(inputs))} sequences. Only a cell of one's own with a "
                             f"`call` reads inputs given as a structure")
        leaves = flatten(inputs)
        shapes = [tuple(x.shape) for x in leaves]
        got = _pack_as(inputs, shapes)
        if not leaves or any(len(s) < 3 for s in shapes):
            raise ValueError(f"{type(self).__name__} '{self.name}' expects every input of a "
                             f"structure to be a sequence (batch, timesteps, ...); got shapes "
                             f"{got}")
        for axis, what in ((0, "batch size"), (1, "number of timesteps")):
            sizes = {s[axis] for s in shapes if s[axis] is not None}
            if len(sizes) > 1:
                raise ValueError(f"{type(self).__name__} '{self.name}' expects the inputs of a "
                                 f"structure to share one {what} (axis {axis}); got shapes {got}")
        if self._input_structure is not None:
            expected = self._input_structure
            nesting = _structure_of(_map_shapes(lambda _: 0, expected))
            same = _structure_of(inputs) == nesting and all(
                s[2:] == e for s, e in zip(shapes, _shape_leaves(expected)))
            if not same:
                raise ValueError(f"{self._cell_description()} was built for inputs structured as "
                                 f"{self._describe_structure(expected)}; got {got}")
        _check_not_empty(self, shapes[0][0], shapes[0][1], shapes[0],
                         expected="(batch, timesteps, ...) for each input")

    def reset_states(self, states=None):
        """Zero the carried states of a stateful layer (or set them to `states`)."""
        if states is None:
            self.states = None
            return
        states = flatten(states) if isinstance(states, (list, tuple)) else [states]
        self.states = [np.array(s.data if isinstance(s, Tensor) else s, dtype=self.dtype)
                       for s in states]

    reset_state = reset_states

    def get_initial_state(self, batch_size):
        """The states a sequence starts from, in the cell's structure (a list): the cell's own
        get_initial_state, else zeros of each state's shape (batch, *state shape)."""
        make = getattr(self.cell, "get_initial_state", None)
        if make is None:
            zeros = [Tensor(np.zeros((batch_size,) + shape, dtype=self.dtype))
                     for shape in self._flat_state_shapes()]
            return _pack(self._state_structure(), zeros)
        states = make(batch_size=batch_size)
        return list(states) if isinstance(states, (list, tuple)) else [states]

    def _initial_states(self, inputs, initial_state):
        """(the states' structure, their flat list of Tensors) for a call on `inputs` (the first
        input sequence, or anything with its shape)."""
        B = inputs.shape[0]
        expected = [(B,) + shape for shape in self._flat_state_shapes()]
        if initial_state is not None:
            given = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            flat = flatten(list(given))
            shapes = [tuple(np.shape(s.data if isinstance(s, Tensor) else s)) for s in flat]
            if shapes != expected:
                raise ValueError(f"{type(self).__name__} '{self.name}' expects initial_state as "
                                 f"{len(expected)} array(s) of shape (batch, *state shape) = "
                                 f"{expected} (its cell's state_size is "
                                 f"{self.cell.state_size!r}); got shapes {shapes}")
            flat = [self._convert(s) for s in flat]
        elif self.stateful and self.states is not None:
            shapes = [s.shape for s in self.states]
            if shapes != expected:
                raise ValueError(f"stateful {type(self).__name__} '{self.name}' carries states of "
                                 f"shapes {shapes}; got a batch of {B} (expected shapes {expected}). "
                                 f"Call reset_states() to start over with another batch size")
            flat = [Tensor(s) for s in self.states]
        else:
            made = self.get_initial_state(B)
            flat = [self._convert(s) for s in flatten(made)]
            shapes = [tuple(s.shape) for s in flat]
            if shapes != expected:
                raise ValueError(f"{self._cell_description()}.get_initial_state({B}) returned "
                                 f"states of shapes {shapes}; its state_size "
                                 f"{self.cell.state_size!r} expects {expected}")
        structure = self._state_structure()
        return _pack(structure, flat), flat

    def _state_structure(self):
        """The nesting of the states: one entry per state_size entry; a stacked cell's entry is a
        list when the cell's initial state is (Keras's StackedRNNCells, whose cells' initial
        states are lists)."""
        if isinstance(self.cell, StackedRNNCells):
            return [[0] * len(s) if _groups_states(s) else
                    ([0] if getattr(c, "get_initial_state", None) is not None else 0)
                    for c, s in zip(self.cell.cells, self.state_size)]
        return [0] * len(self.state_size)

    def _cell_description(self):
        cell = self.cell
        return f"{type(self).__name__} '{self.name}': cell {type(cell).__name__} " \
               f"'{getattr(cell, 'name', cell)}'"

    # -- the call ------------------------------------------------------------------------------
    def _fused_cells(self):
        """The built-in cells to run on the fused op, in order, or None when it cannot run."""
        if self.unroll:
            return None
        cells_ = self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]
        if all(isinstance(c, _BuiltinCell) and c.fused_available() for c in cells_):
            return cells_
        return None

    def call(self, inputs, initial_state=None, mask=None, training=None):
        first = flatten(inputs)[0]  # the time axis is axis 1 of every input
        B, T = first.shape[0], first.shape[1]
        structure, flat0 = self._initial_states(first, initial_state)
        if isinstance(mask, (list, tuple, dict)):  # one time mask for all inputs, as Keras
            mask = next((m for m in flatten(mask) if m is not None), None)
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            if mask.shape != (B, T):
                raise ValueError(f"{type(self).__name__} '{self.name}' expects a mask of shape "
                                 f"(batch, timesteps) = {(B, T)}; got {mask.shape}")
            mask = mask.astype(bool)
        self._bptt, self._unrolled_states, self._bptt_call = None, None, None
        self._output_structure = None
        fused = None if _is_nested(inputs) else self._fused_cells()
        try:
            if fused is not None:
                output, flat = self._run_fused(inputs, fused, flat0, mask, training)
            elif _has_step_code(self.cell) and not self.unroll:
                output, flat = self._run_step_code(inputs, flat0, mask, training)
            else:
                output, flat = self._run_loop(inputs, structure, mask, training)
        finally:
            _reset_dropout(self.cell)
        if self.stateful and not is_tracing():
            self.states = [s.data.copy() for s in flat]
        if not self.return_state:
            return output
        return [output] + _pack(structure, flat)

    def _checkpoint(self, timesteps):
        """Segment length between stored states when recomputing: about sqrt(T), or as given."""
        if self.recompute is False:
            return None
        if self.recompute is True:
            return max(1, int(np.ceil(np.sqrt(timesteps))))
        return int(self.recompute)

    def _run_fused(self, inputs, cells_, flat0, mask, training):
        """Each built-in cell over the whole sequence as one fused node, the cells of a stack one
        after the other (the same numbers as a step of the stack at a time: a cell at step t needs
        only the cell below at step t). Returns (output, flat final states)."""
        x, flat, at = inputs, [], 0
        T = inputs.shape[1]
        for i, cell in enumerate(cells_):
            last = i == len(cells_) - 1
            states0 = flat0[at:at + cell.n_states]
            at += cell.n_states
            input_mask, rec_mask = cell.dropout_masks(inputs.shape[0], x.shape[-1], training)
            # the first cell reads the input back to front with go_backwards; the cells above it
            # read its outputs, already in processing order (and so the mask, reversed)
            backwards = self.go_backwards and i == 0
            time_mask = mask if i == 0 or mask is None or not self.go_backwards else mask[:, ::-1]
            outs = fused_rnn(x, cell.kernel, cell.recurrent_kernel, cell.bias_value(), *states0,
                             cell=cell.step_math(), time_mask=time_mask, input_mask=input_mask,
                             rec_mask=rec_mask, go_backwards=backwards,
                             zero_output_for_mask=self.zero_output_for_mask and last,
                             truncate=self.truncate_bptt, checkpoint=self._checkpoint(T),
                             last_only=last and not self.return_sequences,
                             on_bptt=self._bptt_recorder() if last else None,
                             input_grad=isinstance(x, Tensor) and x.requires_grad,
                             bptt=self.bptt)
            x = outs[0]
            flat += list(outs[1:])
        return x, flat

    def _run_step_code(self, inputs, flat0, mask, training):
        """A cell of one's own with step_forward / step_backward: the fused op over its steps, in
        the plain loop of layers/bptt.py."""
        cell = self.cell
        for name in ("kernel", "recurrent_kernel"):
            if not isinstance(getattr(cell, name, None), Tensor):
                raise ValueError(f"{self._cell_description()} defines step_forward/step_backward "
                                 f"and so needs a weight `{name}` (a Tensor made by add_weight); "
                                 f"got {getattr(cell, name, None)!r}")
        bias = getattr(cell, "bias", None)
        if bias is None:
            bias = np.zeros(cell.kernel.shape[-1], self.dtype)
        extras = list(getattr(cell, "step_weights", ()))
        masks = getattr(cell, "dropout_masks", None)
        input_mask, rec_mask = masks(inputs.shape[0], inputs.shape[-1], training) \
            if callable(masks) else (None, None)
        outs = fused_rnn(inputs, cell.kernel, cell.recurrent_kernel, bias, *flat0, *extras,
                         cell=_StepCode(cell, self._cell_description(), len(flat0)),
                         n_extra=len(extras), time_mask=mask, input_mask=input_mask,
                         rec_mask=rec_mask, go_backwards=self.go_backwards,
                         zero_output_for_mask=self.zero_output_for_mask,
                         truncate=self.truncate_bptt, checkpoint=self._checkpoint(inputs.shape[1]),
                         last_only=not self.return_sequences, on_bptt=self._bptt_recorder(),
                         input_grad=isinstance(inputs, Tensor) and inputs.requires_grad,
                         bptt="reference")
        return outs[0], list(outs[1:])

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple, dict)):
            mask = next((m for m in flatten(mask) if m is not None), None)
        out_mask = mask if self.return_sequences else None
        if self._output_structure is not None:  # the time mask for each output of the structure
            out_mask = map_structure(lambda _: out_mask, self._output_structure)
        return [out_mask] + [None] * len(self.state_size) if self.return_state else out_mask

    def step(self, inputs, states):
        """Advance one timestep with explicit states, for decoding a token at a time.

        inputs: (batch, features) this step's input (for a cell of one's own, (batch, ...) or the
        structure of such inputs it was built for); states: the layer's states (a list of
        (batch, ...) arrays or Tensors). Returns (output, new_states): the output and the flat
        list of new states, the same numbers the whole-sequence call computes at that step
        (inference: no dropout, no mask). Differentiable, like any composition of ops.
        """
        inputs = map_structure(self._convert, inputs)
        leaves = flatten(inputs)
        one_tensor = _takes_one_tensor(self.cell) and not _is_nested(inputs)
        if any(x.ndim != 2 if one_tensor else x.ndim < 2 for x in leaves):
            expected = "(batch, features)" if one_tensor else "(batch, ...)"
            raise ValueError(f"{type(self).__name__} '{self.name}'.step expects input of shape "
                             f"{expected}; got {map_structure(lambda x: x.shape, inputs)}")
        _check_not_empty(self, leaves[0].shape[0], None, leaves[0].shape, call=".step",
                         expected="(batch, features)")
        as_sequence = map_structure(lambda x: _Shaped((x.shape[0], 1) + x.shape[1:]), inputs)
        self._maybe_build(as_sequence)
        self._check_inputs(as_sequence)
        structure, _ = self._initial_states(_Shaped(leaves[0].shape), list(states))
        cell = self.cell
        if isinstance(cell, _BuiltinCell):
            output, new = cell(inputs, list(structure), training=False)
        else:
            kwargs = {"training": False} if "training" in getattr(cell, "_call_takes", ()) else {}
            output, new = (cell if isinstance(cell, Layer) else cell.call)(inputs, structure,
                                                                           **kwargs)
        expected = [(leaves[0].shape[0],) + shape for shape in self._flat_state_shapes()]
        _, flat = self._checked_new_states(new, structure, expected)
        return output, flat

    def _bptt_recorder(self):
        """The fused node's BPTT callback for this call. Several backward passes through one call
        add up (as .grad does); a layer called again records only its latest call."""
        self._bptt_call = call = object()

        def record(seen):
            if self._bptt_call is call:
                self._bptt = seen if self._bptt is None else self._bptt + seen
        return record

    @property
    def bptt_gradients(self):
        """dL/dh_t reaching each processed timestep's first state (the output cell's h),
        (timesteps, batch, size), after a backward pass through the last call (None before)."""
        if self._unrolled_states is not None:  # read afresh: later backward passes accumulate
            hs = self._unrolled_states
            if any(h.grad is not None for h in hs):
                return np.stack([np.zeros(h.shape, h.dtype) if h.grad is None else h.grad
                                 for h in hs])
        return self._bptt

    @property
    def bptt_gradient_norms(self):
        """L2 norm of dL/dh_t per timestep, (timesteps,), averaged over the batch (the norm of
        all a sample's entries, for a state of several axes)."""
        grads = self.bptt_gradients
        if grads is None:
            return None
        per_sample = grads.reshape(grads.shape[0], grads.shape[1], -1)
        return np.sqrt((per_sample ** 2).sum(axis=-1)).mean(axis=-1)

    # -- configuration -------------------------------------------------------------------------
    def _rnn_config(self):
        return {"return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "recompute": self.recompute, "truncate_bptt": self.truncate_bptt,
                "bptt": self.bptt}

    def get_config(self):
        from ..saving import serialization  # late: saving sits above layers
        return {**super().get_config(), **self._rnn_config(),
                "cell": serialization.serialize_layer(self.cell)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import registry, serialization  # late: saving sits above layers
        config = dict(config)
        with registry.loading_scope(custom_objects):
            cell = serialization.deserialize_layer(config.pop("cell"))
        return cls(cell, **config)

    def _backward_copy(self, name):
        """This layer for Bidirectional's backward direction: the other go_backwards, a cell with
        weights of its own."""
        config = Layer.get_config(self)
        config.update(self._rnn_config(), name=name, go_backwards=not self.go_backwards)
        return RNN(_copy_cell(self.cell), **config)
