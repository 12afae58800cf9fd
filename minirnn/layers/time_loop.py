"""RNN's Python loop over timesteps (``unroll=True``, or a cell with only a ``call``): each step
calls the cell, the engine records every op and derives BPTT from them. The only path that takes
inputs, states and outputs given as structures; each step's new states and output are checked
against what the cell's state_size and first step promised."""
import numpy as np

from .. import ops
from ..tensor import Tensor
from .base import Layer, flatten, map_structure
from .nesting import _is_nested, _pack, _pack_as, _structure_of
from .rnn_cells import StackedRNNCells, _BuiltinCell


def _time_mask(mask_t, ndim):
    """A step's mask (batch,) shaped to broadcast against a (batch, ...) array of rank ndim."""
    return mask_t.reshape(mask_t.shape + (1,) * (ndim - 1))


class TimeLoop:
    """RNN's methods for the loop over timesteps (RNN inherits them): the layer's cell, states,
    masks and options are RNN's."""

    def _steps(self, inputs, training):
        """step(t, states) -> (output, new states) for the Python loop: a lone built-in cell's
        op-level step over inputs projected once for all timesteps, else the cell's call (on
        the step's slice of every input, in the inputs' structure)."""
        cell = self.cell
        if isinstance(cell, _BuiltinCell):
            input_mask, rec_mask = cell.dropout_masks(inputs.shape[0], inputs.shape[-1], training)
            x = inputs if input_mask is None else inputs * input_mask[:, None, :]
            bias = cell.bias_value()
            b_x, b_h = (bias[0], bias[1]) if cell.reset_after else (bias, None)
            zx = cell.per_step(x @ cell.kernel + b_x)                 # T steps' inputs

            def step(t, states):
                new = cell.op_step(zx[t], states, b_h, rec_mask)
                return new[0], list(new)
            return step
        kwargs = {"training": training} if "training" in getattr(cell, "_call_takes", ()) else {}
        call = cell if isinstance(cell, Layer) else cell.call
        if _is_nested(inputs):
            per_input = [ops.unstack(x, axis=1) for x in flatten(inputs)]

            def step(t, states):
                return call(_pack_as(inputs, [xs[t] for xs in per_input]), states, **kwargs)
            return step
        xs = ops.unstack(inputs, axis=1)

        def step(t, states):
            return call(xs[t], states, **kwargs)
        return step

    def _checked_new_states(self, new, structure, expected):
        """A cell's new states as a list in the states' structure, or a ValueError naming the cell,
        what was expected and what came. The states may come nested otherwise than the
        structure (Keras packs them by their flat order); their count and shapes must match
        `expected` (every state's shape with the batch axis, made once for the loop)."""
        if not isinstance(new, (list, tuple, dict)):
            new = [new]
        flat = flatten(new)
        got = [tuple(getattr(s, "shape", ())) for s in flat]
        if not (got == expected and all(isinstance(s, Tensor) for s in flat)):
            types = "" if all(isinstance(s, Tensor) for s in flat) else \
                f" (of types {[type(s).__name__ for s in flat]})"
            raise ValueError(f"{self._cell_description()} returned {len(flat)} new state(s) of "
                             f"shapes {got}{types}; its state_size {self.cell.state_size!r} "
                             f"expects {len(expected)} of shapes "
                             f"{[('batch',) + shape for shape in self._flat_state_shapes()]}")
        return _pack(structure, flat), flat

    def _checked_output(self, output, batch, first):
        """A step's output as a flat list of Tensors. The first step's output (first is None)
        fixes the output's structure, kept in _output_structure (None for one Tensor); every
        later step's must have it, with the first step's shapes (first: its flat outputs)."""
        flat = flatten(output)

        def shapes():
            return map_structure(lambda o: tuple(o.shape) if isinstance(o, Tensor)
                                 else type(o).__name__, output)
        if not flat or not all(isinstance(o, Tensor) and o.ndim >= 1 and o.shape[0] == batch
                               for o in flat):
            raise ValueError(f"{self._cell_description()} returned an output {shapes()}; "
                             f"expected a Tensor (batch, ...) with batch {batch}, or a structure "
                             f"(tuple, list, dict) of them")
        if first is None:
            self._output_structure = map_structure(lambda _: 0, output) \
                if _is_nested(output) else None
            return flat
        structure = map_structure(lambda _: 0, output) if _is_nested(output) else None
        if _structure_of(structure) != _structure_of(self._output_structure) or \
                [o.shape for o in flat] != [o.shape for o in first]:
            was = _pack_as(self._output_structure, [o.shape for o in first]) \
                if self._output_structure is not None else first[0].shape
            raise ValueError(f"{self._cell_description()} returned an output {shapes()} after "
                             f"{was} at the first step: a cell's output keeps its structure and "
                             f"shapes from step to step")
        return flat

    def _run_loop(self, inputs, structure_states, mask, training):
        """A Python loop over the timesteps; the engine records every op. Returns (output, flat
        final states): output (B, T, ...) with return_sequences, else the last output (B, ...);
        for a cell whose output is a structure, that structure of them."""
        step = self._steps(inputs, training)
        first_input = flatten(inputs)[0]
        B, T = first_input.shape[0], first_input.shape[1]
        order = range(T - 1, -1, -1) if self.go_backwards else range(T)
        states = structure_states
        flat = flatten(states)
        out_prev, outputs, raw_hs, out_first, zeros = None, [], [], None, None
        expected = [(B,) + shape for shape in self._flat_state_shapes()]
        first = 0
        if isinstance(self.cell, StackedRNNCells):     # bptt_gradients: the last cell's h
            first = len(flat) - len(flatten(states[-1] if len(self.state_size) > 1 else states))
        for i, t in enumerate(order):
            if self.truncate_bptt and i and i % self.truncate_bptt == 0:  # a chunk boundary
                states = _pack(states, [s.detach() for s in flatten(states)])
                out_prev = None if out_prev is None else [o.detach() for o in out_prev]
            output, new = step(t, states)
            out_flat = self._checked_output(output, B, out_first)
            out_first = out_first or out_flat
            new, new_flat = self._checked_new_states(new, states, expected)
            h = new_flat[first]                        # the output cell's first state
            if h.requires_grad:
                h.retain_grad()
            raw_hs.append(h)
            if mask is not None:
                m = mask[:, t]
                new_flat = [ops.where(_time_mask(m, n.ndim), n, s)
                            for n, s in zip(new_flat, flatten(states))]
                new = _pack(states, new_flat)
                if zeros is None:                      # the outputs' shapes hold from step to step
                    zeros = [np.zeros(o.shape, self.dtype) for o in out_flat]
                if out_prev is None or self.zero_output_for_mask:
                    out_prev = zeros
                out_prev = [ops.where(_time_mask(m, o.ndim), o, p)
                            for o, p in zip(out_flat, out_prev)]
                outputs.append(out_prev)
            else:
                outputs.append(out_flat)
            states, flat = new, new_flat
        self._unrolled_states = raw_hs
        if not self.return_sequences:  # the last output alone: no (batch, T, units) node to undo
            out_flat = outputs[-1]
        else:
            out_flat = [ops.stack([step_out[k] for step_out in outputs], axis=1)
                        for k in range(len(outputs[0]))]
        if self._output_structure is None:
            return out_flat[0], flat
        return _pack_as(output, out_flat), flat
