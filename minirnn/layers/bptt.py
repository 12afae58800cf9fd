"""Backpropagation through time, written plainly: a recurrent layer's forward pass is a loop over the
cell's step_forward, its backward pass a loop t = T-1 ... 0 over the cell's step_backward
(layers/cells.py), then one matmul each for dW_x and dW_h over all timesteps.

This is the code that bptt="reference" runs (`reference_rnn`, called by the fused op's graph node),
every layer option included; the fast path (bptt="fast", the kernels of layers/kernels/) must give
the same numbers. `run_sequence_forward` and `run_sequence_backward` are the loops themselves;
GRU with reset_after=False, which has no kernel of its own, runs them on the fast path too.

Shapes: T timesteps (in processing order: the input read back to front with go_backwards), B batch,
D features, H units, k gate blocks (kH columns of zx). keep (T, B, 1) bool or None: where
keep[t, b] is False, sequence b skips step t (a masked step): its states carry over unchanged.
"""
import numpy as np

__all__ = ["run_sequence_forward", "run_sequence_backward", "reference_rnn"]


def run_sequence_forward(cell, zx, states0, W_h, b_h=None, rec_mask=None, keep=None):
    """The forward time loop. zx (T, B, kH), T >= 1, every step's input projection x_t W_x + b_x
    (left untouched); states0 tuple of n_states (B, H); rec_mask the recurrent dropout mask of
    every step: None, (B, H) or (k, B, H). Returns hs (T, B, H) every step's h, the final states
    and caches (the list of T step caches)."""
    states, caches = tuple(states0), []
    hs = np.empty((len(zx),) + states[0].shape, dtype=zx.dtype)
    for t in range(len(zx)):
        new, cache = cell.step_forward(zx[t], states, W_h, b_h, rec_mask)
        if keep is not None:                           # a masked step: the states carry over
            new = tuple(np.where(keep[t], n, s) for n, s in zip(new, states))
        states = new
        hs[t] = states[0]
        caches.append(cache)
    return hs, states, caches


def run_sequence_backward(cell, dys, dfinal_states, caches, W_h, keep=None, cuts=(),
                          weight_grads=None):
    """The BPTT loop, t = T-1 ... 0. dys (T, B, H) or None: the gradient reaching each step's h from
    outside (the outputs'); dfinal_states: the final states' gradients, n_states (B, H) (None, or
    None entries: zeros); keep as run_sequence_forward took it; cuts: the steps t after whose
    backward step the gradient is cut (truncated BPTT: it does not reach step t - 1).
    Inputs and caches are left untouched, so it may run twice.
    Returns dzx (T, B, kH), dzh (T, B, kH) (the recurrent pre-activation's, which differs from dzx
    only for GRU with reset_after), dstates0 (tuple, the initial states' gradients) and seen
    (T, B, H): dL/dh_t as step t's cell saw it (0 where masked).
    weight_grads: a list, for a cell whose step_backward also returns the gradients of further
    weights of its own (a fourth item): each step's are added into it, in place."""
    T = len(caches)
    if dfinal_states is None or any(d is None for d in dfinal_states):
        B, H = caches[0].rec_in.shape[-2:]
        dtype = caches[0].rec_in.dtype
        dstates = tuple(np.zeros((B, H), dtype) if d is None else d
                        for d in (dfinal_states or (None,) * cell.n_states))
    else:                                              # given: their shapes are the states'
        dstates = tuple(dfinal_states)
    dzx = dzh = None                                   # (T, B, kH) each, once kH is seen
    seen = np.empty((T,) + dstates[0].shape, dstates[0].dtype)
    for t in reversed(range(T)):
        if dys is not None:
            dstates = (dstates[0] + dys[t],) + tuple(dstates[1:])   # the output's gradient at t
        passed = None
        if keep is not None:        # a masked step: its cell gets no gradient, the states' passes by
            passed = tuple(np.where(keep[t], 0, d) for d in dstates)
            dstates = tuple(np.where(keep[t], d, 0) for d in dstates)
        seen[t] = dstates[0]
        dzx_t, dzh_t, dstates, *dweights = cell.step_backward(dstates, caches[t], W_h)
        if dzx is None:
            dzx, dzh = np.empty((T,) + dzx_t.shape, seen.dtype), np.empty((T,) + dzh_t.shape, seen.dtype)
        dzx[t], dzh[t] = dzx_t, dzh_t
        if dweights and weight_grads is not None:      # a cell's further weights, summed over steps
            for total, d in zip(weight_grads, dweights[0]):
                total += d
        if passed is not None:
            dstates = tuple(d + p for d, p in zip(dstates, passed))
        if t in cuts:
            dstates = tuple(np.zeros_like(d) for d in dstates)
    return dzx, dzh, dstates, seen


def _outputs(hs, keep, zero_output):
    """The layer's outputs y (T, B, H) from the states hs: y_t = h_t where the sequence ran step t;
    where it skipped it, 0 with zero_output_for_mask, else y_(t-1) (0 before any step ran)."""
    if keep is None:
        return hs
    ys, y_prev = np.empty_like(hs), np.zeros_like(hs[0])
    for t in range(len(hs)):
        ys[t] = y_prev = np.where(keep[t], hs[t], 0.0 if zero_output else y_prev)
    return ys


def _outputs_backward(dys_out, keep, zero_output, truncate):
    """The backward of _outputs: the outputs' gradients dys_out (T, B, H) as gradients of hs. An
    output that repeats y_(t-1) passes its gradient on to it, except across a truncation boundary
    (t a multiple of `truncate`: the output there does not reach back either)."""
    if keep is None:
        return dys_out
    dhs, carried = np.empty_like(dys_out), np.zeros_like(dys_out[0])
    for t in reversed(range(len(dys_out))):
        dy = dys_out[t] + carried                      # y_t's own gradient and its repeats'
        dhs[t] = np.where(keep[t], dy, 0.0)
        cut = zero_output or (truncate and t % truncate == 0)
        carried = np.zeros_like(dy) if cut else np.where(keep[t], 0.0, dy)
    return dhs


def reference_rnn(x, w_x, w_h, bias, states0, cell, time_mask=None, input_mask=None,
                  rec_mask=None, go_backwards=False, zero_output_for_mask=False, truncate=None,
                  checkpoint=None, last_only=False, on_bptt=None, input_grad=True, n_extra=0):
    """The whole recurrent layer in plain steps: fused_rnn's arguments and results (layers/fused.py),
    returned as (outputs, vjp) for its graph node. Initial states (given, or a stateful layer's
    carried ones) come in as states0; the final states go out beside the outputs.

    checkpoint s (recompute): the forward pass keeps the states every s steps only, and the
    backward pass reruns each segment's forward from its first state before going back through it.
    (Here the recomputed caches are then kept for the dW_h matmul over all timesteps: this path is
    for reading and checking; the fast path's recompute is the one that saves memory.)

    n_extra: the last n_extra of states0 are not states but further weights of a cell of one's
    own, which its steps read themselves; their gradients come back after the states'.
    """
    states0, extras = tuple(states0[:len(states0) - n_extra]), states0[len(states0) - n_extra:]
    xs = np.swapaxes(x, 0, 1)                          # (T, B, D): time first
    keep = None if time_mask is None else np.swapaxes(time_mask, 0, 1)[:, :, None]   # (T, B, 1)
    if go_backwards:                                   # the sequence is processed back to front
        xs = xs[::-1]
        keep = None if keep is None else keep[::-1]
    if input_mask is not None:
        xs = xs * input_mask                           # input dropout: one (B, D) mask, every step
    T, B, D = xs.shape
    b_x, b_h = (bias[0], bias[1]) if bias.ndim == 2 else (bias, None)
    zx = xs @ w_x + b_x                                # (T, B, kH): one matmul for all steps

    segment = checkpoint or T
    starts = list(range(0, T, segment))
    checkpoints, caches, hs = [], None, []
    states = tuple(states0)
    for start in starts:
        checkpoints.append(states)
        stop = min(start + segment, T)
        hs_segment, states, caches = run_sequence_forward(
            cell, zx[start:stop], states, w_h, b_h, rec_mask,
            None if keep is None else keep[start:stop])
        hs.append(hs_segment)
    hs = np.concatenate(hs)                            # (T, B, H)
    if checkpoint is not None:
        caches = None                                  # recomputed in backward
    H = hs.shape[-1]
    ys = _outputs(hs, keep, zero_output_for_mask)
    y = ys[-1].copy() if last_only else np.swapaxes(ys, 0, 1)

    def vjp(grads):
        d_outputs = np.zeros((T, B, H), hs.dtype)
        if last_only:
            d_outputs[-1] = grads[0]
        else:
            d_outputs[...] = np.swapaxes(grads[0], 0, 1)
        dys = _outputs_backward(d_outputs, keep, zero_output_for_mask, truncate)
        dstates = tuple(np.array(g) for g in grads[1:1 + len(states0)])
        dweights = [np.zeros(np.shape(e), hs.dtype) for e in extras]
        dzx, dzh = np.empty(zx.shape, zx.dtype), np.empty(zx.shape, zx.dtype)
        seen, all_caches = np.empty_like(hs), [None] * T
        for s in reversed(range(len(starts))):
            start = starts[s]
            stop = min(start + segment, T)
            seg_keep = None if keep is None else keep[start:stop]
            seg_caches = caches
            if seg_caches is None:                     # recompute: the segment's forward again
                _, _, seg_caches = run_sequence_forward(cell, zx[start:stop], checkpoints[s], w_h,
                                                        b_h, rec_mask, seg_keep)
            cuts = {t - start for t in range(max(start, 1), stop) if truncate and t % truncate == 0}
            dzx[start:stop], dzh[start:stop], dstates, seen[start:stop] = run_sequence_backward(
                cell, dys[start:stop], dstates, seg_caches, w_h, seg_keep, cuts, dweights)
            all_caches[start:stop] = seg_caches
        if on_bptt is not None:
            on_bptt(seen)
        kH = zx.shape[-1]
        dw_x = xs.reshape(-1, D).T @ dzx.reshape(-1, kH)      # one matmul over all timesteps
        dw_h = cell.kernel_grad(all_caches, dzh)               # one matmul over all timesteps
        if bias.ndim == 2:                                     # GRU reset_after: b_x, b_h
            db = np.stack([dzx.sum(axis=(0, 1)), dzh.sum(axis=(0, 1))])
        else:
            db = dzx.sum(axis=(0, 1))
        dx = None
        if input_grad:
            dxs = dzx @ w_x.T                                  # (T, B, D)
            if input_mask is not None:
                dxs *= input_mask
            if go_backwards:
                dxs = dxs[::-1]
            dx = np.swapaxes(dxs, 0, 1)
        return (dx, dw_x, dw_h, db) + tuple(dstates) + tuple(dweights)

    return (y,) + tuple(states), vjp
