"""LSTM's segment kernel: LSTMCellMath.step_forward / step_backward over S steps.

Per step only what needs the step before it is computed: forward the recurrent matmul, the gates
and c, h; backward dc, dz, dh_prev. Every factor that depends on forward values alone (act(c), the
gates' derivatives) is formed for a chunk of steps at once, before their loop. In the time loops
every NumPy call writes into a buffer given as its positional `out` (cheaper than the keyword
form on a step's small arrays: benchmarks/README.md, "Kernel choices").
"""
from collections import namedtuple

import numpy as np

from .common import (Kernel, _chunks, _keep_factors, _prevs, _reversed, _skips,
                     _step_rec_matmul, _step_rec_matmul_back)

__all__ = ["LSTMKernel", "LSTMSegment"]

LSTMSegment = namedtuple("LSTMSegment", "gates c h0 h rec_mask")
# a segment of S steps: gates (S, B, 4H) gate outputs; c (S + 1, B, H), c[0] the initial c;
# h0 (B, H) the initial h; h (S, B, H) every step's h; rec_mask as step_forward takes it


class LSTMKernel(Kernel):
    """[i f g o] = [ra ra act ra](zx + h_prev U); c = f c_prev + i g; h = o act(c), on (S, B, ...)
    buffers."""

    def input_scale(self, H, dtype):
        """(4H,) with tanh and sigmoid (the defaults): 0.5 for the sigmoid blocks i f o, 1 for g
        (see forward_segment); None otherwise."""
        if not (self.cell.activation == "tanh" and self.cell.recurrent_activation == "sigmoid"):
            return None
        scale = np.full(4 * H, 0.5, dtype)
        scale[2 * H:3 * H] = 1.0
        return scale

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        """As step_forward, S times. zx (S, B, 4H) is overwritten with the gate outputs; out
        (S, B, H) receives h; keep and zx_scaled as Kernel.forward_segment takes them.
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
            # broadcasts an operand takes NumPy's general loop, slower than equal shapes
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
        act, ra, tanh, add, multiply = self.cell.act, self.cell.ra, np.tanh, np.add, np.multiply
        rec_matmul, W_rec = _step_rec_matmul(W_h, rec_mask, gates.dtype, B)
        steps = zip(gates, i, f, g, o, c, c[1:], out, _skips(keep, S))
        for z, i_t, f_t, g_t, o_t, c_prev, c_t, h_t, skip in steps:
            add(z, rec_matmul(h, W_rec, zh), z)        # (B, 4H) z: = LSTMCellMath.step_forward
            if fast:                                   # gates = ra(z), g = act(z): = step_forward
                tanh(z, z)
                multiply(z, scale, z)
                add(z, shift, z)
            else:
                cand = act(g_t)
                ra(z, z)
                g_t[...] = cand
            multiply(f_t, c_prev, c_t)                 # c = f c_prev + i g: = step_forward
            add(c_t, multiply(i_t, g_t, tmp), c_t)
            multiply(o_t, act(c_t, tmp), h_t)          # h = o act(c): = step_forward
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
        act_c = self.cell.act(c[1:])
        dc_dh = self.cell.dact(act_c)                  # dc += dh o act'(c): = step_backward
        dc_dh *= o
        if self.cell.recurrent_activation == "sigmoid":     # ra' = y (1 - y), all blocks, in place
            np.subtract(1.0, gates, out=dz)
            dz *= gates
        else:
            dz[...] = self.cell.dra(gates)
        dz_i, dz_f, dz_g, dz_o = (dz[..., j * H:(j + 1) * H] for j in range(4))
        dz_g[...] = self.cell.dact(g)                  # (the g block has act instead)
        dz_i *= g                                      # di = dc g
        dz_f *= c[:-1]                                 # df = dc c_prev
        dz_g *= i                                      # dg = dc i
        dz_o *= act_c                                  # do = dh act(c): = step_backward's dz
        return dc_dh

    def backward_segment(self, dstates, dys, cache, W_h, seen, cuts=(), keep=None):
        """As step_backward, S times (see Kernel.backward_segment for the arguments)."""
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
                rec_matmul_back(dz_t, W_back, d_prev)  # dh_prev = dz U^T: = step_backward
                if passed_t is not None:               # dh passes a masked step unchanged
                    add(d_prev, multiply(dh, passed_t, tmp2), d_prev)
                multiply(dc, f_t, dc)                  # dc_prev = dc f: = step_backward
                if t in cuts:
                    d_prev[...] = 0.0
                    dc[...] = 0.0
            if run is not None:
                seen[lo:hi] *= run[lo:hi]
        return dz, dz, (dh_prev, dc)
