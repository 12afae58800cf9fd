"""The fused recurrent op: a whole SimpleRNN, LSTM or GRU layer as one graph node.

Its forward hoists the input projection X @ W_x + b out of the time loop and runs the cell's
segment kernel over the timesteps; its VJP is the BPTT loop t = T-1 ... 0 of the kernel, and forms
dW_x and dW_h each with one matmul per segment of timesteps. With bptt="reference" the node runs
the plain loop of layers/bptt.py over the cell's step_forward / step_backward instead.
"""
import numpy as np

from ..tensor import primitive
from . import cells
from .bptt import reference_rnn
from .kernels.common import StepLoopKernel
from .kernels.gru import GRUKernel
from .kernels.lstm import LSTMKernel
from .kernels.simple_rnn import SimpleRNNKernel

__all__ = ["fused_rnn", "kernel_for", "BPTT_MODES"]

BPTT_MODES = ("fast", "reference")


def kernel_for(cell):
    """The segment kernel that runs `cell` on the fast path."""
    if isinstance(cell, cells.SimpleRNNCellMath):
        return SimpleRNNKernel(cell)
    if isinstance(cell, cells.LSTMCellMath):
        return LSTMKernel(cell)
    if isinstance(cell, cells.GRUCellMath) and cell.reset_after:
        return GRUKernel(cell)
    return StepLoopKernel(cell)        # GRU(reset_after=False): the plain loop over its steps


_SEGMENT = 256  # timesteps whose input projection is computed (and weight gradients formed) at once


@primitive
def fused_rnn(x, w_x, w_h, bias, *states0, cell, n_extra=0, time_mask=None, input_mask=None, rec_mask=None,
              go_backwards=False, zero_output_for_mask=False, truncate=None, checkpoint=None,
              last_only=False, on_bptt=None, input_grad=True, bptt="fast"):
    """The whole recurrent layer as one primitive.

    cell: the cell's step math (layers/cells.py). bptt: "fast" runs the cell's segment kernel
    (layers/kernels/), "reference" the plain loop over the cell's own steps (bptt.reference_rnn);
    both give the same numbers. A cell of one's own runs with bptt="reference"; its further
    weights (read by its steps, graded by its step_backward) are the last n_extra of states0.

    x: (B, T, D); w_x: (D, kH); w_h: (H, kH); bias: (kH,), or (2, kH) for GRU reset_after
    (input bias, recurrent bias); states0: n_states arrays (B, H).
    time_mask: (B, T) bool or None: masked steps carry the states over and repeat the previous
    output (or give zeros, with zero_output_for_mask). input_mask (B, D) / rec_mask (B, H):
    dropout masks or None.
    truncate: k or None: the gradient crosses no boundary between processing steps t-1 and t
    where t is a multiple of k (BPTT truncated to chunks of k steps).
    checkpoint: s or None: keep only the states every s steps and recompute each segment's
    caches during backward (memory ~ T/s + s steps of caches instead of T).
    Returns (Y, *final_states): Y (B, T, H) in processing order (reversed if go_backwards), or
    with last_only the last output (B, H), so that without a mask no (B, T, H) output or
    gradient is ever stored.
    input_grad=False: x is data needing no gradient; its (T, B, kH) @ (kH, D) product is skipped.
    """
    if bptt == "reference":
        return reference_rnn(x, w_x, w_h, bias, states0, cell, time_mask, input_mask, rec_mask,
                             go_backwards, zero_output_for_mask, truncate, checkpoint, last_only,
                             on_bptt, input_grad, n_extra)
    kernel = kernel_for(cell)
    xs = np.swapaxes(x, 0, 1)                                    # (T, B, D)
    if go_backwards:
        xs = xs[::-1]
    if input_mask is not None:
        xs = xs * input_mask
    T, B, D = xs.shape
    H = w_h.shape[0]
    b_x, b_h = (bias[0], bias[1]) if bias.ndim == 2 else (bias, None)
    masks = None
    if time_mask is not None:
        m = np.swapaxes(time_mask, 0, 1)
        masks = (m[::-1] if go_backwards else m)[:, :, None]    # (T, B, 1)
    dtype = np.result_type(xs.dtype, w_x.dtype)
    # hs: every step's h, the states the cell caches. Without a mask they are the outputs (unless
    # only the last is returned: then each segment has a buffer of its own); with one the outputs
    # are gathered from them afterwards (a masked step repeats an earlier output, or gives 0)
    hs = None if last_only and masks is None else np.empty((T, B, H), dtype=dtype)
    # the sequence is processed in segments: the input projection is hoisted out of the time loop
    # one segment at a time, so its (S, B, kH) buffer never grows with T
    segment = checkpoint or _SEGMENT
    starts = list(range(0, T, segment))

    # the input projection's weights with b_x as one more row, times the factors the cell would
    # multiply the projection by (input_scale): one GEMM gives the cell's zx, with no pass over
    # (S, B, kH) for the bias or the scale
    w_xb = np.concatenate([w_x, b_x[None]])
    in_scale = kernel.input_scale(H, w_xb.dtype)
    if in_scale is not None:
        w_xb *= in_scale

    def run(start, states, keep_cache):
        """Forward over one segment from `states`; fills hs. Returns its cache (if keep_cache) and
        the final states."""
        stop = min(start + segment, T)
        xa = np.empty((stop - start, B, D + 1), dtype)          # x and a column of ones
        xa[..., :D] = xs[start:stop]
        xa[..., D] = 1.0
        zx = (xa.reshape(-1, D + 1) @ w_xb).reshape(stop - start, B, -1)   # (S, B, kH), hoisted
        out = hs[start:stop] if hs is not None else np.empty((stop - start, B, H), dtype)
        states, cache = kernel.forward_segment(zx, states, w_h, b_h, rec_mask, out,
                                               None if masks is None else masks[start:stop],
                                               zx_scaled=in_scale is not None)
        if hs is None:  # copies, so the segment's buffer is not kept alive by a view
            states = tuple(np.array(s) for s in states)
        return cache if keep_cache else None, states

    saved, checkpoints = {}, []
    states = tuple(states0)
    for start in starts:
        checkpoints.append(states)
        cache, states = run(start, states, keep_cache=checkpoint is None)
        if checkpoint is None:
            saved[start] = cache
    shown = None if masks is None else _last_run(masks[:, :, 0])  # (T, B): the step shown at t

    def vjp(grads):
        if masks is None:
            dys = None if last_only else np.swapaxes(grads[0], 0, 1)  # (T, B, H)
        else:                   # each output's gradient goes to the step whose h it shows
            dys = _route_to_shown(grads[0], shown, last_only, zero_output_for_mask, truncate)
        dstates = [np.array(g) for g in grads[1:]]
        seen = np.empty((T, B, H), dtype=dtype)
        dxs = np.empty((T, B, D), dtype=dtype) if input_grad else None
        dw_x, dw_h = np.zeros_like(w_x), np.zeros_like(w_h)
        db = np.zeros((2,) + bias.shape[-1:] if bias.ndim == 2 else bias.shape, dtype=dtype)
        for s in reversed(range(len(starts))):
            start = starts[s]
            stop = min(start + segment, T)
            if checkpoint is None:
                cache = saved[start]                             # kept: a second backward may come
            else:                                                # recompute this segment
                cache, _ = run(start, checkpoints[s], keep_cache=True)
            if last_only and masks is None and stop == T:
                dstates[0] = dstates[0] + grads[0]               # the last output's gradient
            cuts = {t - start for t in range(max(start, 1), stop) if truncate and t % truncate == 0}
            dz, dzh, dstates = kernel.backward_segment(
                dstates, None if dys is None else dys[start:stop], cache, w_h, seen[start:stop],
                cuts, None if masks is None else masks[start:stop])
            dstates = list(dstates)
            dw_x += xs[start:stop].reshape(-1, D).T @ dz.reshape(-1, dz.shape[-1])  # one matmul
            dw_h += kernel.kernel_grad(cache, dzh)                                 # per segment
            if bias.ndim == 2:
                db[0] += dz.sum(axis=(0, 1))
                db[1] += dzh.sum(axis=(0, 1))
            else:
                db += dz.sum(axis=(0, 1))
            if input_grad:
                dxs[start:stop] = dz @ w_x.T
        if on_bptt is not None:
            on_bptt(seen)
        if not input_grad:
            return (None, dw_x, dw_h, db) + tuple(dstates)
        if input_mask is not None:
            dxs *= input_mask
        if go_backwards:
            dxs = dxs[::-1]
        return (np.swapaxes(dxs, 0, 1), dw_x, dw_h, db) + tuple(dstates)

    if masks is None:
        y = states[0].copy() if last_only else np.swapaxes(hs, 0, 1)
    else:
        y = _shown_outputs(hs, shown[-1:] if last_only else shown, zero_output_for_mask)
        y = y[0] if last_only else np.swapaxes(y, 0, 1)
    return (y,) + tuple(states), vjp


def _last_run(mask):
    """mask (T, B) bool -> (T, B) int: for each step and sequence the last step at or before it
    that the sequence ran (its output shows that step's h), -1 where there is none yet."""
    steps = np.where(mask, np.arange(len(mask))[:, None], -1)
    return np.maximum.accumulate(steps, axis=0)


def _shown_outputs(hs, shown, zero_output):
    """Outputs (n, B, H) of a masked sequence at its last n steps, shown (n, B) for them (see
    _last_run): the h of the step shown, 0 where none is; with zero_output a masked step's is 0."""
    t = np.arange(len(hs))[-len(shown):, None]
    if zero_output:
        shown = np.where(shown == t, shown, -1)                # only a step's own h is shown
    y = hs[np.maximum(shown, 0), np.arange(hs.shape[1])]
    y[shown < 0] = 0.0
    return y


def _route_to_shown(g, shown, last_only, zero_output, truncate):
    """The outputs' gradients as gradients of the states hs (T, B, H): each output's gradient
    goes to the step whose h it shows, unless a truncation boundary lies between them."""
    T, B = shown.shape
    g = np.asarray(g)
    routed = np.zeros((T, B) + g.shape[-1:], dtype=g.dtype)
    if last_only:
        t, g = np.array([T - 1]), g[None]                     # (1, B, H): the last step only
    else:
        t, g = np.arange(T), np.swapaxes(g, 0, 1)            # (T, B, H)
    src = shown[t]                                            # (n, B)
    ok = src >= 0
    if zero_output:
        ok &= src == t[:, None]
    if truncate:
        ok &= src // truncate == t[:, None] // truncate
    n_idx, b_idx = np.nonzero(ok)
    np.add.at(routed, (src[n_idx, b_idx], b_idx), g[n_idx, b_idx])
    return routed
