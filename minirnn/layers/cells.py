"""The recurrent cells' step math: one step forward beside its hand-derived step backward.

Pure NumPy, no autodiff. Each cell class holds configuration only; the weights come in as arguments.
Shapes: B batch, H units, k gate blocks (SimpleRNN 1, LSTM 4: i f c o, GRU 3: z r h), all in
Keras's order, so Keras's weights drop in unchanged.

Every cell computes, per step,
    zh = rec_in @ W_h (+ b_h)        the recurrent pre-activation, rec_in = h_prev * rec_mask
and the layer supplies zx = x_t @ W_x + b_x for all steps at once (one matmul, hoisted out of the
time loop). The backward step returns dzx and dzh; the layer forms dW_x, db_x from dzx, and the cell's
`kernel_grad` forms dW_h from all steps' rec_in and dzh in one matmul.

Recurrent dropout, as Keras 3 does it: the mask multiplies h_prev where it enters the recurrent
matmul, and nowhere else (LSTM's c_prev and GRU's z * h_prev see the undropped h_prev). `rec_mask`
is either (B, H), one mask for every gate block, or (k, B, H), mask j for gate block j; the latter
is what Keras's LSTM and GRU draw (with recurrent_dropout > 0 they switch to `implementation=1`,
which drops h_prev separately for each gate).

Caches keep activation outputs, not pre-activations: every derivative below is formed from outputs.
Nothing is upcast: float32 in, float32 everywhere (Python scalars do not promote NumPy arrays).
"""
import itertools
from collections import namedtuple

import numpy as np

from ..ops import _dot  # np.dot without its __array_function__ dispatch (see ops)

__all__ = ["ACTIVATIONS", "get_activation", "SimpleRNNCellMath", "LSTMCellMath", "GRUCellMath",
           "run_sequence_forward", "run_sequence_backward"]


# --------------------------------------------------------------------------------------------
# Activations: name -> (forward(x, out=None), derivative_from_output(y))
# --------------------------------------------------------------------------------------------

def sigmoid(x, out=None):
    """1 / (1 + exp(-x)), exact to rounding for every x: exp(-|x|) in (0, 1] cannot overflow, and for
    x < 0 the numerator is exp(x) itself, so tiny results keep their relative accuracy."""
    positive = x >= 0
    e = np.abs(x, out=out)
    np.negative(e, out=e)
    np.exp(e, out=e)                                   # e = exp(-|x|)
    numerator = np.maximum(e, positive)                # 1 where x >= 0 (e <= 1), e where x < 0
    e += 1.0
    return np.divide(numerator, e, out=e)


def hard_sigmoid(x, out=None):
    """Keras 3: relu6(x + 3) / 6."""
    y = np.add(x, 3.0, out=out)
    np.clip(y, 0.0, 6.0, out=y)
    y /= 6.0
    return y


def softsign(x, out=None):
    """x / (1 + |x|)."""
    d = np.abs(x)
    d += 1.0
    return np.divide(x, d, out=out)


def elu(x, out=None):
    """x if x > 0 else exp(x) - 1 (alpha = 1). expm1(x) >= x, so max(expm1(min(x, 0)), x) is elu."""
    y = np.minimum(x, 0.0)
    np.expm1(y, out=y)
    return np.maximum(y, x, out=out)


def _hard_sigmoid_grad(y):
    return ((y > 0) & (y < 1)) * y.dtype.type(1.0 / 6.0)   # a NumPy scalar keeps y's dtype


def _softsign_grad(y):
    d = 1.0 - np.abs(y)                                 # 1 - |y| = 1 / (1 + |x|)
    d *= d
    return d


ACTIVATIONS = {
    "tanh": (np.tanh, lambda y: 1.0 - y * y),       # a ufunc itself: no wrapper call per step
    "sigmoid": (sigmoid, lambda y: y * (1.0 - y)),
    "relu": (lambda x, out=None: np.maximum(x, 0.0, out=out), np.sign),   # y >= 0: sign is 0 or 1
    "linear": (np.positive, np.ones_like),             # a copy, never an alias
    "hard_sigmoid": (hard_sigmoid, _hard_sigmoid_grad),
    "softsign": (softsign, _softsign_grad),
    "elu": (elu, lambda y: np.minimum(y, 0.0) + 1.0),   # y + 1 = exp(x) for x <= 0, else 1
}


def get_activation(name):
    """(forward, derivative_from_output) for a Keras activation name; None means "linear"."""
    if name is None:
        name = "linear"
    if not (isinstance(name, str) and name in ACTIVATIONS):
        raise ValueError(f"Unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)} "
                         f"(or None for linear)")
    return ACTIVATIONS[name]


# --------------------------------------------------------------------------------------------
# The recurrent matmul, with an optional dropout mask shared by all gates or one per gate
# --------------------------------------------------------------------------------------------

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


# in float32, h_prev @ W_h with a W_h too large for the cache (1 MB of L2 on the machines
# measured, with OpenBLAS's SkylakeX kernels) ran up to 2x slower than (W_h^T @ h_prev^T)^T at
# batch 2-64, the copy of h_prev and the transposed add included (B=32, H=256, LSTM: 167 -> 111
# us); below that size, at batch 1 and from batch 128 the direct product was as fast or faster,
# and in float64 it was faster at every size tried (by 10-27%)
_TRANSPOSED_MIN_BYTES = 1 << 20
_TRANSPOSED_BATCHES = range(2, 65)


def _step_rec_matmul(W_h, mask, dtype, batch):
    """The recurrent matmul of one step, chosen once per segment: (product, W) such that
    product(h_prev, W, out) returns _rec_matmul(_rec_input(h_prev, mask), W_h) (B, kH), written
    into out, or for a large W_h a transposed view of its own buffer. Without a mask the product
    is np.dot itself, called straight from the time loop (on small arrays a third of the per-call
    cost of np.matmul, and no Python frame between), unless W_h is large (see above)."""
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
    copy of W_h^T, made once: a matmul with the transposed view is up to 2x slower."""
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


# backward factors (what the steps multiply by, from forward values alone) are formed for a chunk
# of steps at a time: on small steps the whole segment (fewer NumPy calls), on large ones a few
# steps, whose arrays (about 1 MB in float32) are still in cache when the time loop reads them
_CHUNK_ELEMENTS = 1 << 18

# GRU's backward folds dh_prev's direct path (dh z) into the recurrent product, as an identity
# block, when that costs at most this many multiply-adds a step (B H^2): on small steps one call
# less than a multiply and an add; on large ones the extra product costs more than they do
_FOLD_DIRECT_MAX = 8192


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


class _CellMath:
    """Configuration only: the activations by name, resolved to (forward, derivative) pairs."""
    gates = 1        # k: column blocks of zx, zh and W_h
    n_states = 1

    def __init__(self, activation="tanh", recurrent_activation="sigmoid"):
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.act, self.dact = get_activation(activation)
        self.ra, self.dra = get_activation(recurrent_activation)

    def kernel_grad(self, caches, dzh_seq):
        """dW_h (H, kH) = sum_t rec_in_t^T @ dzh_t, one matmul over all T steps (dzh_seq: (T, B, kH)).
        caches: a list of step caches, or a segment's cache (h0, h and rec_mask its fields)."""
        if isinstance(caches, list):
            return _rec_kernel_grad(np.stack([c.rec_in for c in caches]), dzh_seq)
        return _rec_kernel_grad(_segment_rec_in(caches.h0, caches.h, caches.rec_mask), dzh_seq)

    # -- a whole segment of steps: what the fused op calls ---------------------------------------
    # The plain versions below loop over the step functions; a cell may override both with a
    # version that keeps its caches in (S, B, ...) segment buffers (SimpleRNN, LSTM and GRU with
    # reset_after do; GRU without it takes these).

    def input_scale(self, H, dtype):
        """(kH,) factors forward_segment multiplies zx by before its time loop, or None. A caller
        may fold them into the input weights (exact: they are powers of two) and pass
        zx_scaled=True, which saves that pass over (S, B, kH)."""
        return None

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        """zx (S, B, kH) the segment's input projections (the cell may overwrite it), times
        input_scale() if zx_scaled; states tuple of (B, H); out (S, B, H) receives every step's h.
        keep (S, B, 1) bool or None: where keep[t, b] is False (a masked step) sequence b's
        states carry over step t unchanged. Returns (final states, cache): the final h is a view
        of out[-1], the cache is what backward_segment and kernel_grad take."""
        caches = []
        for t in range(len(zx)):
            new, cache = self.step_forward(zx[t], states, W_h, b_h, rec_mask)
            if keep is not None:                       # masked: the states carry over
                new = tuple(np.where(keep[t], n, s) for n, s in zip(new, states))
            states = new
            out[t] = states[0]
            states = (out[t],) + tuple(states[1:])   # one copy of h: a view of out
            caches.append(cache)
        return states, caches

    def backward_segment(self, dstates, dys, caches, W_h, seen, cuts=(), keep=None):
        """BPTT over one segment, t = S-1 ... 0. dstates: n_states (B, H) gradients at the segment's
        final states; dys (S, B, H) the gradients reaching each step's h from outside (the
        outputs'), or None; seen (S, B, H) receives dL/dh_t as the cell's step saw it (0 where
        masked); cuts: the steps after whose backward step the gradient is cut (truncated BPTT);
        keep as forward_segment took it: a masked step passes the gradient by.
        Returns dzx (S, B, kH), dzh (S, B, kH) (dzx itself where they agree) and dstates_0."""
        S = len(dys) if dys is not None else len(seen)
        dzx, dzh = None, None
        dstates = tuple(dstates)
        for t in reversed(range(S)):
            if dys is not None:
                dstates = (dstates[0] + dys[t],) + dstates[1:]   # the output's gradient at t
            carried = None
            if keep is not None:
                carried = [np.where(keep[t], 0, d) for d in dstates]
                dstates = tuple(np.where(keep[t], d, 0) for d in dstates)
            seen[t] = dstates[0]
            dzx_t, dzh_t, dstates = self.step_backward(dstates, caches[t], W_h)
            if carried is not None:
                dstates = tuple(d + c for d, c in zip(dstates, carried))
            if dzx is None:
                dzx = np.empty((S,) + dzx_t.shape, dzx_t.dtype)
            dzx[t] = dzx_t
            if dzh_t is not dzx_t:
                if dzh is None:
                    dzh = np.empty_like(dzx)
                dzh[t] = dzh_t
            if t in cuts:
                dstates = tuple(np.zeros_like(d) for d in dstates)
        return dzx, (dzx if dzh is None else dzh), dstates

    def __repr__(self):
        config = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not callable(v))
        return f"{type(self).__name__}({config})"


# --------------------------------------------------------------------------------------------
# SimpleRNN:  h = act(zx + h_prev U)
# --------------------------------------------------------------------------------------------

SimpleRNNCache = namedtuple("SimpleRNNCache", "h rec_in mask")
SimpleRNNSegment = namedtuple("SimpleRNNSegment", "h0 h rec_mask")
# a segment of S steps: h0 (B, H) the initial h, h (S, B, H) every step's h


class SimpleRNNCellMath(_CellMath):
    gates, n_states = 1, 1

    def __init__(self, activation="tanh"):
        self.activation = activation
        self.act, self.dact = get_activation(activation)

    def step_forward(self, zx, states, W_h, b_h=None, rec_mask=None):
        """zx (B, H); states (h_prev,); W_h (H, H); b_h (H,) or None; rec_mask (B, H), (1, B, H) or None.
        Returns ((h,), cache), h (B, H)."""
        h_prev, = states
        rec_in = _rec_input(h_prev, rec_mask)
        z = _rec_matmul(rec_in, W_h)                   # (B, H)
        z += zx
        if b_h is not None:
            z += b_h
        h = self.act(z, out=z)
        return (h,), SimpleRNNCache(h, rec_in, rec_mask)

    def step_backward(self, dstates, cache, W_h):
        """dstates (dh,) (B, H). Returns (dz, dz, (dh_prev,)): dzx and dzh are the same array."""
        dh, = dstates
        dz = dh * self.dact(cache.h)                   # (B, H) through the activation
        return dz, dz, (_rec_matmul_back(dz, W_h, cache.mask),)

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        """As step_forward, S times: zx (S, B, H) is overwritten; out (S, B, H) receives h; keep
        as _CellMath.forward_segment takes it. Returns ((h,), SimpleRNNSegment)."""
        h, = states
        if b_h is not None:
            zx += b_h
        h = np.asarray(h, zx.dtype)                    # one dtype end to end
        act, add = self.act, np.add
        rec_matmul, W_rec = _step_rec_matmul(W_h, rec_mask, zx.dtype, len(h))
        for z, y, skip in zip(zx, out, _skips(keep, len(zx))):   # step t's (B, H) views
            add(z, rec_matmul(h, W_rec, y), z)         # y is scratch until act writes h into it
            act(z, y)
            if skip is not None:
                np.copyto(y, h, where=skip)            # masked: h carries over
            h = y
        return (h,), SimpleRNNSegment(states[0], out, rec_mask)

    def backward_segment(self, dstates, dys, cache, W_h, seen, cuts=(), keep=None):
        """As step_backward, S times (see _CellMath.backward_segment for the arguments)."""
        if not isinstance(cache, SimpleRNNSegment):
            return super().backward_segment(dstates, dys, cache, W_h, seen, cuts, keep)
        dz = self.dact(cache.h)                        # (S, B, H): act' for the whole segment
        run, passed = _keep_factors(keep, dz.dtype)
        if run is not None:
            dz *= run                                  # a masked step's cell gets no gradient
        rec_matmul_back, W_back = _step_rec_matmul_back(W_h, cache.rec_mask, dz.dtype)
        S = len(dz)
        seen[S - 1] = dstates[0]                       # seen[t] is dL/dh_t, built in place
        dh_prev = np.empty_like(seen[0])               # dL/dh_0's predecessor: the initial state
        tmp, add, multiply = np.empty_like(dh_prev), np.add, np.multiply
        for t, dh, d_prev, dz_t, passed_t in zip(range(S - 1, -1, -1), seen[::-1],
                                                 _prevs(seen, 0, S, dh_prev), dz[::-1],
                                                 _reversed(passed, S)):
            if dys is not None:
                add(dh, dys[t], dh)                    # the output's gradient at t
            rec_matmul_back(multiply(dz_t, dh, dz_t), W_back, d_prev)
            if passed_t is not None:                   # and past a masked step, unchanged
                add(d_prev, multiply(dh, passed_t, tmp), d_prev)
            if t in cuts:
                d_prev[...] = 0.0
        if run is not None:
            seen *= run
        return dz, dz, (dh_prev,)


# --------------------------------------------------------------------------------------------
# LSTM:  [i f g o] = [ra ra act ra](zx + h_prev U);  c = f c_prev + i g;  h = o act(c)
# --------------------------------------------------------------------------------------------

LSTMCache = namedtuple("LSTMCache", "gates c_prev c rec_in mask")
LSTMSegment = namedtuple("LSTMSegment", "gates c h0 h rec_mask")
# a segment of S steps: gates (S, B, 4H) gate outputs; c (S + 1, B, H), c[0] the initial c;
# h0 (B, H) the initial h; h (S, B, H) every step's h; rec_mask as step_forward takes it


class LSTMCellMath(_CellMath):
    gates, n_states = 4, 2

    def step_forward(self, zx, states, W_h, b_h=None, rec_mask=None):
        """zx (B, 4H); states (h_prev, c_prev) (B, H); W_h (H, 4H); b_h (4H,) or None;
        rec_mask (B, H), (4, B, H) or None. Returns ((h, c), cache)."""
        h_prev, c_prev = states
        H = h_prev.shape[1]
        rec_in = _rec_input(h_prev, rec_mask)
        z = _rec_matmul(rec_in, W_h)                   # (B, 4H) pre-activations, blocks i f c o
        z += zx
        if b_h is not None:
            z += b_h
        g = self.act(z[:, 2 * H:3 * H])                # cell candidate, before z is overwritten
        gates = self.ra(z, out=z)                      # i, f, o: one call over all four blocks,
        gates[:, 2 * H:3 * H] = g                      # then the c block gets act instead
        i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        c = f * c_prev
        c += i * g
        h = o * self.act(c)
        # act(c) is recomputed in backward: c is kept anyway (the next step's c_prev), so the
        # cache costs no extra (B, H) array per step
        return (h, c), LSTMCache(gates, c_prev, c, rec_in, rec_mask)

    def step_backward(self, dstates, cache, W_h):
        """dstates (dh, dc) (B, H). Returns (dz, dz, (dh_prev, dc_prev)): dzx is dzh, (B, 4H)."""
        dh, dc = dstates
        gates, c_prev, act_c = cache.gates, cache.c_prev, self.act(cache.c)
        H = dh.shape[1]
        i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        dc = dc + dh * o * self.dact(act_c)            # both paths into c_t: h = o act(c), and c_t+1
        dz = np.empty_like(gates)                      # first dL/d(gate outputs), blocks i f g o:
        np.multiply(dc, g, out=dz[:, :H])              #   di = dc g
        np.multiply(dc, c_prev, out=dz[:, H:2 * H])    #   df = dc c_prev
        np.multiply(dc, i, out=dz[:, 2 * H:3 * H])     #   dg = dc i
        np.multiply(dh, act_c, out=dz[:, 3 * H:])      #   do = dh act(c)
        local = self.dra(gates)                        # then through each gate's nonlinearity
        local[:, 2 * H:3 * H] = self.dact(g)
        dz *= local
        return dz, dz, (_rec_matmul_back(dz, W_h, cache.mask), dc * f)

    # -- the same two steps over a whole segment, caches in (S, B, ...) buffers ------------------
    # Per step only what needs the step before it is computed: forward the recurrent matmul, the
    # gates and c, h; backward dc, dz, dh_prev. Every factor that depends on forward values alone
    # (act(c), the gates' derivatives) is formed for a chunk of steps at once, before their loop.
    # In the time loops every NumPy call writes into a buffer given as its positional `out`: on a
    # step's small arrays a call costs about 0.25 us, and the keyword form 20% more.

    def input_scale(self, H, dtype):
        """(4H,) with tanh and sigmoid (the defaults): 0.5 for the sigmoid blocks i f o, 1 for g
        (see forward_segment); None otherwise."""
        if not (self.activation == "tanh" and self.recurrent_activation == "sigmoid"):
            return None
        scale = np.full(4 * H, 0.5, dtype)
        scale[2 * H:3 * H] = 1.0
        return scale

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        """As step_forward, S times. zx (S, B, 4H) is overwritten with the gate outputs; out
        (S, B, H) receives h; keep and zx_scaled as _CellMath.forward_segment takes them.
        Returns ((h, c), LSTMSegment). With tanh and sigmoid (the defaults) one tanh covers all
        four gate blocks, as sigmoid(x) = 0.5 tanh(x / 2) + 0.5: the halving (input_scale) is
        folded into zx and W_h (exact, a power of two), and 0.5 y + 0.5 undoes it."""
        h, c0 = states
        S, (B, H) = len(zx), h.shape
        gates = zx                                     # (S, B, 4H), blocks i f g o
        halving = self.input_scale(H, gates.dtype)
        fast = halving is not None
        if b_h is not None:
            gates += b_h * halving if fast and zx_scaled else b_h
        if fast:
            # 0.5 for i f o, 1 for g; then + 0.5, + 0. (B, 4H), not (4H,): a ufunc that
            # broadcasts an operand takes NumPy's general loop, 2-3x the time of equal shapes
            scale = np.tile(halving, (B, 1))
            shift = scale.copy()
            shift[:, 2 * H:3 * H] = 0.0
            if not zx_scaled:
                gates *= scale
            W_h = W_h * halving
        i, f, g, o = (gates[..., j * H:(j + 1) * H] for j in range(4))   # (S, B, H) views
        c = np.empty((S + 1, B, H), gates.dtype)       # c[0] the initial c, c[t + 1] step t's
        c[0] = c0
        h = np.asarray(h, gates.dtype)                 # one dtype end to end
        zh, tmp = np.empty((B, 4 * H), gates.dtype), np.empty((B, H), gates.dtype)
        act, ra, tanh, add, multiply = self.act, self.ra, np.tanh, np.add, np.multiply
        rec_matmul, W_rec = _step_rec_matmul(W_h, rec_mask, gates.dtype, B)
        steps = zip(gates, i, f, g, o, c, c[1:], out, _skips(keep, S))
        for z, i_t, f_t, g_t, o_t, c_prev, c_t, h_t, skip in steps:
            add(z, rec_matmul(h, W_rec, zh), z)        # (B, 4H) pre-activations of step t
            if fast:
                tanh(z, z)
                multiply(z, scale, z)
                add(z, shift, z)
            else:
                cand = act(g_t)
                ra(z, z)
                g_t[...] = cand
            multiply(f_t, c_prev, c_t)                 # c = f c_prev + i g
            add(c_t, multiply(i_t, g_t, tmp), c_t)
            multiply(o_t, act(c_t, tmp), h_t)          # h = o act(c)
            if skip is not None:                       # masked: h and c carry over
                np.copyto(c_t, c_prev, where=skip)
                np.copyto(h_t, h, where=skip)
            h = h_t
        return (h, c[S].copy()), LSTMSegment(gates, c, states[0], out, rec_mask)

    def _backward_factors(self, gates, c, dz):
        """What n backward steps multiply by, from forward values alone. gates (n, B, 4H); c
        (n + 1, B, H), c[0] the first step's c_prev. Writes into dz (n, B, 4H) each gate's
        derivative times what dc (blocks i f g) or dh (block o) multiplies; returns dc_dh
        (n, B, H) = o act'(c), what dh adds to dc."""
        H = c.shape[-1]
        i, f, g, o = (gates[..., j * H:(j + 1) * H] for j in range(4))
        act_c = self.act(c[1:])
        dc_dh = self.dact(act_c)                       # dc += dh o act'(c)
        dc_dh *= o
        if self.recurrent_activation == "sigmoid":     # ra' = y (1 - y), all blocks, in place
            np.subtract(1.0, gates, out=dz)
            dz *= gates
        else:
            dz[...] = self.dra(gates)
        dz_i, dz_f, dz_g, dz_o = (dz[..., j * H:(j + 1) * H] for j in range(4))
        dz_g[...] = self.dact(g)                       # (the g block has act instead)
        dz_i *= g                                      # di = dc g
        dz_f *= c[:-1]                                 # df = dc c_prev
        dz_g *= i                                      # dg = dc i
        dz_o *= act_c                                  # do = dh act(c)
        return dc_dh

    def backward_segment(self, dstates, dys, cache, W_h, seen, cuts=(), keep=None):
        """As step_backward, S times (see _CellMath.backward_segment for the arguments)."""
        if not isinstance(cache, LSTMSegment):
            return super().backward_segment(dstates, dys, cache, W_h, seen, cuts, keep)
        gates, c, _, _, mask = cache
        S, B, H = c.shape[0] - 1, c.shape[1], c.shape[2]
        dz = np.empty_like(gates)
        rec_matmul_back, W_back = _step_rec_matmul_back(W_h, mask, gates.dtype)
        seen[S - 1] = dstates[0]                       # seen[t] is dL/dh_t, built in place
        dh_prev = np.empty((B, H), gates.dtype)        # and this the initial state's
        dc = np.array(dstates[1], dtype=gates.dtype)
        dc_b, tmp, tmp2 = dc[:, None, :], np.empty_like(dc), np.empty_like(dc)
        add, multiply = np.add, np.multiply
        run, passed = _keep_factors(keep, gates.dtype)
        for lo, hi in _chunks(S, gates[0].size):       # t = S-1 ... 0, a chunk of steps at a time
            dc_dh = self._backward_factors(gates[lo:hi], c[lo:hi + 1], dz[lo:hi])
            dz_c, f_c = dz[lo:hi], gates[lo:hi, :, H:2 * H]
            if run is not None:                        # a masked step's cell gets no gradient,
                dz_c *= run[lo:hi]                     # and dc passes it unchanged (f = 1)
                dc_dh *= run[lo:hi]
                f_c = np.where(keep[lo:hi], f_c, 1)
            steps = zip(range(hi - 1, lo - 1, -1), seen[lo:hi][::-1], _prevs(seen, lo, hi, dh_prev),
                        dc_dh[::-1], dz_c[::-1], dz_c.reshape(hi - lo, B, 4, H)[:, :, :3][::-1],
                        dz_c[..., 3 * H:][::-1], f_c[::-1],
                        _reversed(None if passed is None else passed[lo:hi], hi - lo))
            for t, dh, d_prev, dc_dh_t, dz_t, dz_ifg_t, dz_o_t, f_t, passed_t in steps:
                if dys is not None:
                    add(dh, dys[t], dh)                # the output's gradient at t
                add(dc, multiply(dh, dc_dh_t, tmp), dc)   # both paths into c_t: h = o act(c), c_t+1
                multiply(dz_ifg_t, dc_b, dz_ifg_t)     # dz of blocks i f g: factor times dc
                multiply(dz_o_t, dh, dz_o_t)           # block o: factor times dh
                rec_matmul_back(dz_t, W_back, d_prev)
                if passed_t is not None:               # dh passes a masked step unchanged
                    add(d_prev, multiply(dh, passed_t, tmp2), d_prev)
                multiply(dc, f_t, dc)                  # dc_prev
                if t in cuts:
                    d_prev[...] = 0.0
                    dc[...] = 0.0
            if run is not None:
                seen[lo:hi] *= run[lo:hi]
        return dz, dz, (dh_prev, dc)



# --------------------------------------------------------------------------------------------
# GRU:  z, r = ra(xz + hz);  hh = act(xz_h + r * hz_h)  [reset_after]
#                            hh = act(xz_h + (r * h_prev) U_h)  [reset before];
#       h = z h_prev + (1 - z) hh
# --------------------------------------------------------------------------------------------

GRUCache = namedtuple("GRUCache", "zr hh rec_h h_prev rec_in mask")
GRUSegment = namedtuple("GRUSegment", "gates hh h0 h rec_mask")
# a segment of S steps (reset_after): gates (S, B, 3H) z, r and hz_h = h_prev U_h + b_h; hh
# (S, B, H) the candidate; h0 (B, H) the initial h; h (S, B, H) every step's h
# zr: (B, 2H) gates z, r;  hh: (B, H) candidate;  rec_h: (B, H) the candidate's recurrent input,
# hz_h = h_prev U_h + b_h when reset_after, else r * h_prev (its matmul's input)


def _gru_split(a):
    """(z r part, h part) of a GRU rec_in or mask: a (B, H) is shared, a (3, B, H) is per gate."""
    if a is None or a.ndim == 2:
        return a, a
    return a[:2], a[2]


class GRUCellMath(_CellMath):
    gates, n_states = 3, 1

    def __init__(self, activation="tanh", recurrent_activation="sigmoid", reset_after=True):
        super().__init__(activation, recurrent_activation)
        self.reset_after = reset_after

    def step_forward(self, zx, states, W_h, b_h=None, rec_mask=None):
        """zx (B, 3H) (input bias included: bias[0] when reset_after); states (h_prev,); W_h (H, 3H);
        b_h (3H,) (bias[1] when reset_after) or None; rec_mask (B, H), (3, B, H) or None.
        Returns ((h,), cache)."""
        h_prev, = states
        H = h_prev.shape[1]
        rec_in = _rec_input(h_prev, rec_mask)
        if self.reset_after:
            zh = _rec_matmul(rec_in, W_h)              # (B, 3H) = h_prev U + b_h, blocks z r h
            if b_h is not None:
                zh += b_h
        else:                                          # only the z, r blocks multiply h_prev
            zh = _rec_matmul(_gru_split(rec_in)[0], W_h[:, :2 * H])
            if b_h is not None:
                zh += b_h[:2 * H]
        zh[:, :2 * H] += zx[:, :2 * H]
        zr = self.ra(zh[:, :2 * H], out=zh[:, :2 * H])   # update and reset gates, in place
        z, r = zr[:, :H], zr[:, H:]
        if self.reset_after:
            rec_h = zh[:, 2 * H:]                      # hz_h: the reset gate acts after the matmul
            cand = r * rec_h
        else:
            rec_h = r * _gru_split(rec_in)[1]          # the reset gate acts before the matmul
            cand = rec_h @ W_h[:, 2 * H:]
            if b_h is not None:
                cand += b_h[2 * H:]
        cand += zx[:, 2 * H:]
        hh = self.act(cand, out=cand)                  # candidate state
        h = h_prev - hh                                # z h_prev + (1 - z) hh = hh + z (h_prev - hh)
        h *= z
        h += hh
        return (h,), GRUCache(zr, hh, rec_h, h_prev, rec_in, rec_mask)

    def step_backward(self, dstates, cache, W_h):
        """dstates (dh,) (B, H). Returns (dzx, dzh, (dh_prev,)), (B, 3H) each; without reset_after
        dzh is dzx (every block of the pre-activation is zx plus a recurrent matmul's output)."""
        dh, = dstates
        zr, hh, rec_h, h_prev, mask = cache.zr, cache.hh, cache.rec_h, cache.h_prev, cache.mask
        H = dh.shape[1]
        z, r = zr[:, :H], zr[:, H:]
        dzx = np.empty((dh.shape[0], 3 * H), dtype=zr.dtype)
        dcand = np.multiply(dh * (1.0 - z), self.dact(hh), out=dzx[:, 2 * H:])  # hh's pre-activation
        np.multiply(dh, h_prev - hh, out=dzx[:, :H])   # dL/dz
        if self.reset_after:                           # dL/dr: cand = xz_h + r * hz_h
            np.multiply(dcand, rec_h, out=dzx[:, H:2 * H])
        else:                                          # dL/dr: cand = xz_h + (r * h_in) U_h
            drec_h = dcand @ W_h[:, 2 * H:].T
            np.multiply(drec_h, _gru_split(cache.rec_in)[1], out=dzx[:, H:2 * H])
        dzx[:, :2 * H] *= self.dra(zr)                 # through the gates' nonlinearity
        dh_prev = dh * z                               # the direct path, h = z h_prev + ...
        if self.reset_after:
            dzh = dzx.copy()
            dzh[:, 2 * H:] *= r
            dh_prev += _rec_matmul_back(dzh, W_h, mask)
        else:
            dzh = dzx
            zr_mask, h_mask = _gru_split(mask)
            dh_prev += _rec_matmul_back(dzx[:, :2 * H], W_h[:, :2 * H], zr_mask)
            drec_h *= r
            if h_mask is not None:
                drec_h *= h_mask
            dh_prev += drec_h
        return dzx, dzh, (dh_prev,)

    def input_scale(self, H, dtype):
        """(3H,) with reset_after and a sigmoid recurrent activation: 0.5 for z and r, 1 for the
        candidate's block (see forward_segment); None otherwise."""
        if not (self.reset_after and self.recurrent_activation == "sigmoid"):
            return None
        scale = np.ones(3 * H, dtype)
        scale[:2 * H] = 0.5
        return scale

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        """As step_forward, S times. zx (S, B, 3H) is overwritten with z, r and hz_h; out (S, B, H)
        receives h; keep and zx_scaled as _CellMath.forward_segment takes them. Returns ((h,),
        GRUSegment). With reset_after=False: step by step.
        The candidate's input projection moves out of zx, and hz_h's bias b_h takes its place, so
        that one add per step, zx_t + h_prev U, gives the z, r pre-activations and hz_h together.
        A sigmoid recurrent activation is one tanh, 0.5 tanh(x / 2) + 0.5, the halving
        (input_scale) folded into the z, r columns of zx, W_h and b_h (exact, a power of two)."""
        if not self.reset_after:
            return super().forward_segment(zx, states, W_h, b_h, rec_mask, out, keep)
        h, = states
        S, (B, H) = len(zx), h.shape
        h = np.asarray(h, zx.dtype)                    # one dtype end to end
        gates = zx                                     # (S, B, 3H), blocks z r hz_h
        zr, hz_h = gates[..., :2 * H], gates[..., 2 * H:]
        hh = hz_h.copy()                               # (S, B, H) the candidate, x's part first
        scale = self.input_scale(H, gates.dtype)
        fast = scale is not None
        if fast:
            if not zx_scaled:
                zr *= 0.5
            W_h = W_h * scale
            b_h = None if b_h is None else b_h * scale
            # (B, 2H): a Python float costs a conversion, and a broadcast operand NumPy's general
            # ufunc loop, 2-3x the time of equal shapes
            half = np.full((B, 2 * H), 0.5, gates.dtype)
        if b_h is None:
            hz_h[...] = 0.0
        else:                                          # the recurrent bias joins zx, all blocks
            zr += b_h[:2 * H]
            hz_h[...] = b_h[2 * H:]
        zh, tmp = np.empty((B, 3 * H), gates.dtype), np.empty((B, H), gates.dtype)
        act, ra, tanh = self.act, self.ra, np.tanh
        add, subtract, multiply = np.add, np.subtract, np.multiply
        rec_matmul, W_rec = _step_rec_matmul(W_h, rec_mask, gates.dtype, B)
        steps = zip(gates, zr, gates[..., :H], gates[..., H:2 * H], hz_h, hh, out, _skips(keep, S))
        for pre, z_r, z_t, r_t, hz_h_t, cand, h_t, skip in steps:
            add(pre, rec_matmul(h, W_rec, zh), pre)    # z, r pre-activations and hz_h
            if fast:                                   # update and reset gates, in place
                tanh(z_r, z_r)
                multiply(z_r, half, z_r)
                add(z_r, half, z_r)
            else:
                ra(z_r, z_r)
            add(cand, multiply(r_t, hz_h_t, tmp), cand)   # + r hz_h
            act(cand, cand)                            # candidate state
            subtract(h, cand, h_t)                     # h = hh + z (h_prev - hh)
            multiply(h_t, z_t, h_t)
            add(h_t, cand, h_t)
            if skip is not None:
                np.copyto(h_t, h, where=skip)          # masked: h carries over
            h = h_t
        return (h,), GRUSegment(gates, hh, states[0], out, rec_mask)

    def _backward_factors(self, gates, hh, h_prev, dzx, dzh, run=None):
        """What n backward steps multiply dh by to give each block's dz, from forward values alone.
        gates (n, B, 3H) z, r, hz_h; hh (n, B, H); h_prev (n, B, H), overwritten. Writes dzx
        (n, B, 3H), the input side, and dzh (n, B, 3H), the recurrent side; run (n, B, 1), if
        given, zeroes both where a step is masked."""
        H = hh.shape[-1]
        z, r, hz_h = (gates[..., j * H:(j + 1) * H] for j in range(3))
        dz_z, dz_r, dz_h = (dzx[..., j * H:(j + 1) * H] for j in range(3))
        np.subtract(1.0, z, out=dz_h)                  # dcand = dh (1 - z) act'(hh)
        dz_h *= self.dact(hh)
        np.multiply(dz_h, hz_h, out=dz_r)              # dr = dcand hz_h ra'(r)
        dz_r *= self.dra(r)
        h_prev -= hh                                   # dz = dh (h_prev - hh) ra'(z)
        np.multiply(h_prev, self.dra(z), out=dz_z)
        if run is not None:
            dzx *= run
        dzh[...] = dzx                                 # the recurrent side: hz_h's block times r
        dzh[..., 2 * H:] *= r

    def backward_segment(self, dstates, dys, cache, W_h, seen, cuts=(), keep=None):
        """As step_backward, S times (see _CellMath.backward_segment for the arguments)."""
        if not isinstance(cache, GRUSegment):
            return super().backward_segment(dstates, dys, cache, W_h, seen, cuts, keep)
        gates, hh, h0, hs, mask = cache
        S, B, H = hh.shape
        rec_matmul_back, W_back = _step_rec_matmul_back(W_h, mask, gates.dtype)
        # on small steps dh_prev's direct path, dh z, joins the recurrent product as a fourth block
        # of dz: [dzh, dh z] @ [W_h^T; I] is one call, not three (see _FOLD_DIRECT_MAX)
        fold = mask is None and B * H * H <= _FOLD_DIRECT_MAX
        k = 4 if fold else 3
        if fold:
            W_back = np.concatenate([W_back, np.eye(H, dtype=W_back.dtype)])
        dzx, dzh_k = np.empty_like(gates), np.empty((S, B, k * H), gates.dtype)
        dzh = dzh_k[..., :3 * H]                       # (S, B, 3H) the recurrent side's dz
        seen[S - 1] = dstates[0]                       # seen[t] is dL/dh_t, built in place
        dh_prev = np.empty((B, H), gates.dtype)        # and this the initial state's
        tmp, add, multiply = np.empty((B, H), gates.dtype), np.add, np.multiply
        run = _keep_factors(keep, gates.dtype)[0]
        for lo, hi in _chunks(S, gates[0].size):       # t = S-1 ... 0, a chunk of steps at a time
            h_prev = np.concatenate([(hs[lo - 1] if lo else h0)[None], hs[lo:hi - 1]])
            # a masked step's cell gets no gradient, and dh passes it unchanged (z = 1)
            self._backward_factors(gates[lo:hi], hh[lo:hi], h_prev, dzx[lo:hi], dzh[lo:hi],
                                   None if run is None else run[lo:hi])
            z_c = gates[lo:hi, :, :H]
            if keep is not None:
                z_c = np.where(keep[lo:hi], z_c, 1)
            if fold:
                dzh_k[lo:hi, :, 3 * H:] = z_c
            steps = zip(range(hi - 1, lo - 1, -1), seen[lo:hi][::-1], _prevs(seen, lo, hi, dh_prev),
                        dzh_k[lo:hi].reshape(hi - lo, B, k, H)[::-1], dzh_k[lo:hi][::-1],
                        z_c[::-1], seen[lo:hi, :, None][::-1])
            for t, dh, d_prev, blocks_t, dzh_t, z_t, dh_b in steps:
                if dys is not None:
                    add(dh, dys[t], dh)                # the output's gradient at t
                multiply(blocks_t, dh_b, blocks_t)     # every block's dz: its factor times dh
                if fold:                               # dh_prev, direct path included
                    rec_matmul_back(dzh_t, W_back, d_prev)
                else:
                    rec_matmul_back(dzh_t, W_back, tmp)
                    multiply(dh, z_t, d_prev)          # dh_prev: the direct path, h = z h_prev...
                    add(d_prev, tmp, d_prev)           # and the recurrent matmul
                if t in cuts:
                    d_prev[...] = 0.0
            # the loop needs dzh only; dzx is the same factors times dL/dh_t, complete by now
            dzx[lo:hi].reshape(hi - lo, B, 3, H)[...] *= seen[lo:hi, :, None, :]
            if run is not None:
                seen[lo:hi] *= run[lo:hi]
        return dzx, dzh, (dh_prev,)

    def kernel_grad(self, caches, dzh_seq):
        """dW_h (H, 3H). reset_after: one matmul. Otherwise the z, r blocks come from rec_in and the
        h block from r * rec_in_h: one matmul each."""
        if self.reset_after or not isinstance(caches, list):
            return super().kernel_grad(caches, dzh_seq)
        H = dzh_seq.shape[-1] // 3
        dW = np.empty((H, 3 * H), dtype=dzh_seq.dtype)
        rec_in = np.stack([c.rec_in for c in caches])  # (T, B, H), or (T, 3, B, H) per-gate masks
        if rec_in.ndim == 4:
            rec_in = rec_in[:, :2]
        dW[:, :2 * H] = _rec_kernel_grad(rec_in, dzh_seq[..., :2 * H])
        dW[:, 2 * H:] = _rec_kernel_grad(np.stack([c.rec_h for c in caches]), dzh_seq[..., 2 * H:])
        return dW


# --------------------------------------------------------------------------------------------
# The plain BPTT loop
# --------------------------------------------------------------------------------------------

def run_sequence_forward(cell, Zx, states0, W_h, b_h=None, rec_masks=None):
    """Zx (T, B, kH), T >= 1, all steps' input projections; states0 tuple of (B, H); rec_masks None
    or a sequence of T masks, each (B, H) or (k, B, H) in the states' dtype (Keras uses one mask
    for every step: pass [mask] * T). Returns H_seq (T, B, H), final_states, caches (list of T)."""
    states, caches = tuple(states0), []
    H_seq = np.empty((len(Zx),) + states[0].shape, dtype=Zx.dtype)
    for t in range(len(Zx)):
        mask = None if rec_masks is None else rec_masks[t]
        states, cache = cell.step_forward(Zx[t], states, W_h, b_h, mask)
        H_seq[t] = states[0]
        caches.append(cache)
    return H_seq, states, caches


def run_sequence_backward(cell, dH_seq, dfinal_states, caches, W_h):
    """dH_seq (T, B, H) gradient of the outputs (or None); dfinal_states tuple of (B, H) (None, or
    None entries: zeros). Inputs and caches are left untouched, so it may run twice.
    Returns dZx (T, B, kH), dZh (T, B, kH), dstates0 (tuple), dW_h (H, kH)."""
    T, (B, H) = len(caches), caches[0].rec_in.shape[-2:]
    dtype = caches[0].rec_in.dtype
    dstates = tuple(np.zeros((B, H), dtype) if d is None else d
                    for d in (dfinal_states or (None,) * cell.n_states))
    dZx = np.empty((T, B, cell.gates * H), dtype)
    dZh = np.empty_like(dZx)
    for t in reversed(range(T)):
        if dH_seq is not None:
            dstates = (dstates[0] + dH_seq[t],) + tuple(dstates[1:])   # the output's gradient at t
        dZx[t], dZh[t], dstates = cell.step_backward(dstates, caches[t], W_h)
    return dZx, dZh, dstates, cell.kernel_grad(caches, dZh)
