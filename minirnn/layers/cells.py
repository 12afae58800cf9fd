"""The recurrent cells' step math: one step forward beside its hand-derived step backward.

Pure NumPy, no autodiff. Each cell class holds configuration only; the weights come in as arguments.
Shapes: B batch, H units, k gate blocks (SimpleRNN 1, LSTM 4: i f c o, GRU 3: z r h), all in
Keras's order, so Keras's weights drop in unchanged.

Every cell computes, per step,
    zh = rec_in @ W_h (+ b_h)        the recurrent pre-activation, rec_in = h_prev * rec_mask
and the layer supplies zx = x_t @ W_x + b_x for all steps at once (one matmul, hoisted out of the
time loop). The backward step returns dzx and dzh; the layer forms dW_x, db_x from dzx, and the cell's
`kernel_grad` forms dW_h from all steps' rec_in and dzh in one matmul.

These steps are what bptt="reference" runs, in the plain loop of layers/bptt.py. The fast path
runs kernels (layers/kernels/) that must give the same numbers, step for step.

Recurrent dropout, as Keras 3 does it: the mask multiplies h_prev where it enters the recurrent
matmul, and nowhere else (LSTM's c_prev and GRU's z * h_prev see the undropped h_prev). `rec_mask`
is either (B, H), one mask for every gate block, or (k, B, H), mask j for gate block j; the latter
is what Keras's LSTM and GRU draw (with recurrent_dropout > 0 they switch to `implementation=1`,
which drops h_prev separately for each gate).

Caches keep activation outputs, not pre-activations: every derivative below is formed from outputs.
Nothing is upcast: float32 in, float32 everywhere (Python scalars do not promote NumPy arrays).
"""
from collections import namedtuple

import numpy as np

from ..numeric import sigmoid
from .kernels.common import _rec_input, _rec_kernel_grad, _rec_matmul, _rec_matmul_back

__all__ = ["ACTIVATIONS", "get_activation", "SimpleRNNCellMath", "LSTMCellMath", "GRUCellMath"]


# --------------------------------------------------------------------------------------------
# Activations: name -> (forward(x, out=None), derivative_from_output(y))
# --------------------------------------------------------------------------------------------

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
    "sigmoid": (sigmoid, lambda y: y * (1.0 - y)),     # numeric.sigmoid: stable for every x
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
        """dW_h (H, kH) = sum_t rec_in_t^T @ dzh_t, one matmul over all T steps. caches: the list of
        T step caches; dzh_seq (T, B, kH)."""
        return _rec_kernel_grad(np.stack([c.rec_in for c in caches]), dzh_seq)

    def __repr__(self):
        config = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not callable(v))
        return f"{type(self).__name__}({config})"


# --------------------------------------------------------------------------------------------
# SimpleRNN:  h = act(zx + h_prev U)
# --------------------------------------------------------------------------------------------

SimpleRNNCache = namedtuple("SimpleRNNCache", "h rec_in mask")


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


# --------------------------------------------------------------------------------------------
# LSTM:  [i f g o] = [ra ra act ra](zx + h_prev U);  c = f c_prev + i g;  h = o act(c)
# --------------------------------------------------------------------------------------------

LSTMCache = namedtuple("LSTMCache", "gates c_prev c rec_in mask")


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


# --------------------------------------------------------------------------------------------
# GRU:  z, r = ra(xz + hz);  hh = act(xz_h + r * hz_h)  [reset_after]
#                            hh = act(xz_h + (r * h_prev) U_h)  [reset before];
#       h = z h_prev + (1 - z) hh
# --------------------------------------------------------------------------------------------

GRUCache = namedtuple("GRUCache", "zr hh rec_h h_prev rec_in mask")
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

    def kernel_grad(self, caches, dzh_seq):
        """dW_h (H, 3H). reset_after: one matmul. Otherwise the z, r blocks come from rec_in and the
        h block from r * rec_in_h: one matmul each."""
        if self.reset_after:
            return super().kernel_grad(caches, dzh_seq)
        H = dzh_seq.shape[-1] // 3
        dW = np.empty((H, 3 * H), dtype=dzh_seq.dtype)
        rec_in = np.stack([c.rec_in for c in caches])  # (T, B, H), or (T, 3, B, H) per-gate masks
        if rec_in.ndim == 4:
            rec_in = rec_in[:, :2]
        dW[:, :2 * H] = _rec_kernel_grad(rec_in, dzh_seq[..., :2 * H])
        dW[:, 2 * H:] = _rec_kernel_grad(np.stack([c.rec_h for c in caches]), dzh_seq[..., 2 * H:])
        return dW
