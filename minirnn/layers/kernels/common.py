"""What the cells' step code and the segment kernels share: the recurrent matmul with its dropout
mask, the per-segment choice of BLAS call, chunking of backward factors, and the kernel interface.

Choices made for speed are argued with measurements in benchmarks/README.md ("Kernel choices").
"""
import itertools

import numpy as np

from ...numeric import dot as _dot   # np.dot without __array_function__ dispatch
from .. import bptt

__all__ = ["Kernel", "StepLoopKernel"]


# -- the recurrent matmul, with an optional dropout mask shared by all gates or one per gate -------

def _rec_input(h, mask):
    """The recurrent matmul's input: h (B, H), or h * mask, which is (k, B, H) for per-gate masks."""
    return h if mask is None else h * mask


def _rec_matmul(x, W):
    """x @ W -> (B, g*n). x (B, H) feeds every column block of W (H, g*n); x (g, B, H) feeds block j
    from x[j] (one batched matmul)."""
    if x.ndim == 2:
        return x @ W
    g, B, H = x.shape
    blocks = x @ W.reshape(H, g, -1).transpose(1, 0, 2)           # (g, B, n)
    return blocks.transpose(1, 0, 2).reshape(B, -1)


def _rec_matmul_back(dz, W, mask):
    """Gradient w.r.t. h of _rec_matmul(_rec_input(h, mask), W), given dz (B, g*n). Returns (B, H)."""
    if mask is None:
        return dz @ W.T
    if mask.ndim == 2:
        dh = dz @ W.T
        dh *= mask
        return dh
    g, B, H = mask.shape
    dx = dz.reshape(B, g, -1).transpose(1, 0, 2) @ W.reshape(H, g, -1).transpose(1, 2, 0)  # (g, B, H)
    dx *= mask
    return dx.sum(axis=0)


def _rec_kernel_grad(x_seq, dz_seq):
    """sum_t x_t^T @ dz_t in one matmul over all steps. x_seq (T, B, H) or (T, g, B, H) per-gate;
    dz_seq (T, B, g*n). Returns (H, g*n)."""
    H, n_cols = x_seq.shape[-1], dz_seq.shape[-1]
    if x_seq.ndim == 3:
        return x_seq.reshape(-1, H).T @ dz_seq.reshape(-1, n_cols)
    T, g, B, H = x_seq.shape
    x = x_seq.transpose(1, 3, 0, 2).reshape(g, H, T * B)
    dz = dz_seq.reshape(T * B, g, -1).transpose(1, 0, 2)          # (g, T*B, n)
    return (x @ dz).transpose(1, 0, 2).reshape(H, n_cols)


def _segment_rec_in(h0, hs, mask):
    """Every step's recurrent matmul input over a segment: h_prev (S, B, H) from the initial h0
    (B, H) and the steps' hs (S, B, H), times the mask: (S, B, H), or (S, k, B, H) per gate."""
    h_prev = np.concatenate([h0[None], hs[:-1]])
    if mask is None:
        return h_prev
    if mask.ndim == 2:
        h_prev *= mask
        return h_prev
    return h_prev[:, None] * mask


# -- the recurrent matmul of a kernel's time loop, chosen once per segment ------------------------

# in float32 a W_h too large for the L2 cache is multiplied as (W_h^T @ h_prev^T)^T at batch 2-64,
# where that ran faster; below that size, at batch 1, from batch 128 and in float64 the direct
# product was as fast or faster (figures: benchmarks/README.md, "Kernel choices")
_TRANSPOSED_MIN_BYTES = 1 << 20
_TRANSPOSED_BATCHES = range(2, 65)


def _step_rec_matmul(W_h, mask, dtype, batch):
    """(product, W) such that product(h_prev, W, out) returns _rec_matmul(_rec_input(h_prev, mask),
    W_h) (B, kH), written into out, or for a large W_h a transposed view of its own buffer. Without
    a mask the product is np.dot itself (no dispatch), called straight from the time loop with no
    Python frame between, unless W_h is large (see above)."""
    if mask is None and W_h.dtype == dtype:
        if (dtype == np.float32 and batch in _TRANSPOSED_BATCHES
                and W_h.nbytes >= _TRANSPOSED_MIN_BYTES):
            h_T = np.empty((W_h.shape[0], batch), dtype)
            z_T = np.empty((W_h.shape[1], batch), dtype)

            def transposed(h_prev, W_hT, out):
                np.copyto(h_T, h_prev.T)
                return _dot(W_hT, h_T, z_T).T
            return transposed, np.ascontiguousarray(W_h.T)
        return _dot, W_h

    def rec_matmul(h_prev, W, out):
        out[...] = _rec_matmul(_rec_input(h_prev, mask), W)
        return out
    return rec_matmul, W_h


def _step_rec_matmul_back(W_h, mask, dtype):
    """The backward of _step_rec_matmul: (product, W_hT) such that product(dz, W_hT, out) writes
    dL/dh_prev (B, H) of one step from dz (B, kH) into out and returns it. W_hT is a contiguous
    copy of W_h^T, made once (a matmul with the transposed view is slower)."""
    if mask is not None and mask.ndim == 3:
        def rec_matmul_back(dz, W, out):
            out[...] = _rec_matmul_back(dz, W, mask)
            return out
        return rec_matmul_back, W_h
    W_hT = np.ascontiguousarray(W_h.T, dtype=dtype)
    if mask is None:
        return _dot, W_hT

    def rec_matmul_back(dz, W, out):
        _dot(dz, W, out)
        out *= mask
        return out
    return rec_matmul_back, W_hT


# -- chunks of steps and per-step iterators of the kernels' backward loops --------------------------

# backward factors (what the steps multiply by, from forward values alone) are formed for a chunk
# of steps at a time: on small steps the whole segment (fewer NumPy calls), on large ones a few
# steps, whose arrays (about 1 MB in float32) are still in cache when the time loop reads them
_CHUNK_ELEMENTS = 1 << 18


def _chunks(S, step_size):
    """(lo, hi) ranges of steps covering 0 ... S-1 in chunks of about _CHUNK_ELEMENTS values,
    step_size values a step; the last chunk first, as BPTT goes."""
    chunk = max(1, _CHUNK_ELEMENTS // max(step_size, 1))
    return [(max(0, hi - chunk), hi) for hi in range(S, 0, -chunk)]


def _prevs(seen, lo, hi, dh_prev):
    """Where backward steps t = hi-1 ... lo write dL/dh_(t-1): seen[t - 1], and for t = 0 dh_prev
    (the gradient of the segment's initial state). seen (S, B, H) is dL/dh_t, filled in place."""
    if lo:
        return seen[lo - 1:hi - 1][::-1]
    return itertools.chain(seen[:hi - 1][::-1], (dh_prev,))


def _skips(keep, S):
    """Per step of a segment: where sequences skip it ((B, 1) bool, for np.copyto's where), or
    None for every step when nothing is masked."""
    return itertools.repeat(None, S) if keep is None else ~keep


def _keep_factors(keep, dtype):
    """(run, passed), each (S, B, 1) in dtype: 1 where a sequence runs the step and 0 where it is
    masked, and the other way round; (None, None) without a mask."""
    if keep is None:
        return None, None
    run = keep.astype(dtype)
    return run, 1 - run


def _reversed(factors, S):
    """factors[S-1], ..., factors[0], or S times None."""
    return itertools.repeat(None, S) if factors is None else factors[::-1]


# -- the kernel interface ----------------------------------------------------------------------------

class Kernel:
    """One cell's segment kernel: what the fused op calls. Subclasses implement forward_segment
    and backward_segment with the numbers of the cell's step_forward and step_backward."""

    def __init__(self, cell):
        self.cell = cell

    def input_scale(self, H, dtype):
        """(kH,) factors forward_segment multiplies zx by before its time loop, or None. A caller
        may fold them into the input weights (exact: they are powers of two) and pass
        zx_scaled=True, which saves that pass over (S, B, kH)."""
        return None

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        """zx (S, B, kH) the segment's input projections (the kernel may overwrite it), times
        input_scale() if zx_scaled; states tuple of (B, H); out (S, B, H) receives every step's h.
        keep (S, B, 1) bool or None: where keep[t, b] is False (a masked step) sequence b's
        states carry over step t unchanged. Returns (final states, cache): the final h is a view
        of out[-1], the cache is what backward_segment and kernel_grad take."""
        raise NotImplementedError

    def backward_segment(self, dstates, dys, cache, W_h, seen, cuts=(), keep=None):
        """BPTT over one segment, t = S-1 ... 0. dstates: n_states (B, H) gradients at the segment's
        final states; dys (S, B, H) the gradients reaching each step's h from outside (the
        outputs'), or None; seen (S, B, H) receives dL/dh_t as the cell's step saw it (0 where
        masked); cuts: the steps after whose backward step the gradient is cut (truncated BPTT);
        keep as forward_segment took it: a masked step passes the gradient by.
        Returns dzx (S, B, kH), dzh (S, B, kH) (dzx itself where they agree) and dstates_0."""
        raise NotImplementedError

    def kernel_grad(self, cache, dzh):
        """dW_h (H, kH) over the segment, one matmul (the cell's kernel_grad for a segment's cache:
        h0, h and rec_mask its fields)."""
        return _rec_kernel_grad(_segment_rec_in(cache.h0, cache.h, cache.rec_mask), dzh)


class StepLoopKernel(Kernel):
    """The plain loop (layers/bptt.py) over the cell's own steps, for a cell without a kernel of its
    own (GRU with reset_after=False): the same interface, the reference's code."""

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        hs, final, caches = bptt.run_sequence_forward(self.cell, zx, states, W_h, b_h, rec_mask, keep)
        out[...] = hs
        return (out[-1],) + tuple(final[1:]), caches

    def backward_segment(self, dstates, dys, cache, W_h, seen, cuts=(), keep=None):
        dzx, dzh, dstates0, seen[...] = bptt.run_sequence_backward(self.cell, dys, dstates, cache,
                                                                    W_h, keep, cuts)
        return dzx, dzh, dstates0

    def kernel_grad(self, cache, dzh):
        return self.cell.kernel_grad(cache, dzh)
