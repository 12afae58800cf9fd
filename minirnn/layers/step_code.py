"""A cell of one's own with a hand-written backward step (RNN's docstring gives the protocol):
how RNN recognises one, and the wrapper through which the plain BPTT loop of layers/bptt.py
calls its step_forward / step_backward, checking what they return."""
import numpy as np

from .kernels.common import _rec_kernel_grad
from .rnn_cells import StackedRNNCells, _BuiltinCell


def _has_step_code(cell):
    """A cell of one's own with a hand-written backward (RNN's docstring gives the protocol)."""
    return not isinstance(cell, (_BuiltinCell, StackedRNNCells)) and all(
        callable(getattr(cell, name, None)) for name in ("step_forward", "step_backward"))


class _StepCode:
    """A cell's own step_forward / step_backward as the reference loop calls them, with their
    results checked: a wrong count or shape of states is named with the cell and layer."""

    def __init__(self, cell, description, n_states):
        self.cell, self.description, self.n_states = cell, description, n_states
        if callable(getattr(cell, "kernel_grad", None)):
            self.kernel_grad = cell.kernel_grad

    # The first step of each kind is checked; once both passed, the cell's own methods take over
    # (an instance attribute), so a long sequence pays for no checks per step.
    def step_forward(self, zx, states, W_h, b_h=None, rec_mask=None):
        result = self.cell.step_forward(zx, states, W_h, b_h, rec_mask)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ValueError(f"{self.description}: step_forward must return (new_states, cache); "
                             f"got {type(result).__name__}")
        new, cache = result
        new = tuple(new) if isinstance(new, (list, tuple)) else (new,)
        got = [np.shape(s) for s in new]
        want = [np.shape(s) for s in states]
        if got != want:
            raise ValueError(f"{self.description}: step_forward returned {len(new)} state(s) of "
                             f"shapes {got}; expected {len(want)} of shapes {want}")
        self.step_forward = self.cell.step_forward
        return new, cache

    def step_backward(self, dstates, cache, W_h):
        result = self.cell.step_backward(dstates, cache, W_h)
        if not (isinstance(result, tuple) and len(result) in (3, 4)):
            raise ValueError(f"{self.description}: step_backward must return (dzx, dzh, "
                             f"dstates_prev) or (dzx, dzh, dstates_prev, dweights); got "
                             f"{type(result).__name__} of length {len(result) if isinstance(result, tuple) else '-'}")
        dprev = tuple(result[2]) if isinstance(result[2], (list, tuple)) else (result[2],)
        got, want = [np.shape(d) for d in dprev], [np.shape(d) for d in dstates]
        if got != want:
            raise ValueError(f"{self.description}: step_backward returned {len(dprev)} state "
                             f"gradient(s) of shapes {got}; expected {len(want)} of shapes {want}")
        if isinstance(result[2], tuple):
            self.step_backward = self.cell.step_backward
        return (result[0], result[1], dprev) + tuple(result[3:])

    def kernel_grad(self, caches, dzh_seq):
        """sum_t rec_in_t^T @ dzh_t, one matmul over all steps."""
        return _rec_kernel_grad(
            np.stack([c["rec_in"] if isinstance(c, dict) else c.rec_in for c in caches]), dzh_seq)

