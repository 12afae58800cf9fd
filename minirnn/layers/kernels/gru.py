"""GRU's segment kernel (reset_after=True): GRUCellMath.step_forward / step_backward over S steps."""
from collections import namedtuple

import numpy as np

from .common import Kernel, _chunks, _keep_factors, _prevs, _skips, _step_rec_matmul, \
    _step_rec_matmul_back

__all__ = ["GRUKernel", "GRUSegment"]

GRUSegment = namedtuple("GRUSegment", "gates hh h0 h rec_mask")
# a segment of S steps: gates (S, B, 3H) z, r and hz_h = h_prev U_h + b_h; hh (S, B, H) the
# candidate; h0 (B, H) the initial h; h (S, B, H) every step's h

# the backward folds dh_prev's direct path (dh z) into the recurrent product, as an identity
# block, when that costs at most this many multiply-adds a step (B H^2): on small steps one call
# less than a multiply and an add; on large ones the extra product costs more than they do
_FOLD_DIRECT_MAX = 8192


class GRUKernel(Kernel):
    """z, r = ra(zx + h_prev U + b_h); hh = act(xz_h + r hz_h); h = z h_prev + (1 - z) hh, on
    (S, B, ...) buffers."""

    def input_scale(self, H, dtype):
        """(3H,) with a sigmoid recurrent activation: 0.5 for z and r, 1 for the
        candidate's block (see forward_segment); None otherwise."""
        if self.cell.recurrent_activation != "sigmoid":
            return None
        scale = np.ones(3 * H, dtype)
        scale[:2 * H] = 0.5
        return scale

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        """As step_forward, S times. zx (S, B, 3H) is overwritten with z, r and hz_h; out (S, B, H)
        receives h; keep and zx_scaled as Kernel.forward_segment takes them. Returns ((h,),
        GRUSegment). reset_after=True only (GRU with reset_after=False
        runs the step-by-step kernel).
        The candidate's input projection moves out of zx, and hz_h's bias b_h takes its place, so
        that one add per step, zx_t + h_prev U, gives the z, r pre-activations and hz_h together.
        A sigmoid recurrent activation is one tanh, 0.5 tanh(x / 2) + 0.5, the halving
        (input_scale) folded into the z, r columns of zx, W_h and b_h (exact, a power of two)."""
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
            # ufunc loop, slower than equal shapes
            half = np.full((B, 2 * H), 0.5, gates.dtype)
        if b_h is None:
            hz_h[...] = 0.0
        else:                                          # the recurrent bias joins zx, all blocks
            zr += b_h[:2 * H]
            hz_h[...] = b_h[2 * H:]
        zh, tmp = np.empty((B, 3 * H), gates.dtype), np.empty((B, H), gates.dtype)
        act, ra, tanh = self.cell.act, self.cell.ra, np.tanh
        add, subtract, multiply = np.add, np.subtract, np.multiply
        rec_matmul, W_rec = _step_rec_matmul(W_h, rec_mask, gates.dtype, B)
        steps = zip(gates, zr, gates[..., :H], gates[..., H:2 * H], hz_h, hh, out, _skips(keep, S))
        for pre, z_r, z_t, r_t, hz_h_t, cand, h_t, skip in steps:
            add(pre, rec_matmul(h, W_rec, zh), pre)    # z, r pre-activations, hz_h: = step_forward
            if fast:                                   # update and reset gates, in place
                tanh(z_r, z_r)
                multiply(z_r, half, z_r)
                add(z_r, half, z_r)
            else:
                ra(z_r, z_r)
            add(cand, multiply(r_t, hz_h_t, tmp), cand)   # + r hz_h: = GRUCellMath.step_forward
            act(cand, cand)                            # candidate state
            subtract(h, cand, h_t)                     # h = hh + z (h_prev - hh): = step_forward
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
        np.subtract(1.0, z, out=dz_h)                  # dcand = dh (1 - z) act'(hh): = step_backward
        dz_h *= self.cell.dact(hh)
        np.multiply(dz_h, hz_h, out=dz_r)              # dr = dcand hz_h ra'(r)
        dz_r *= self.cell.dra(r)
        h_prev -= hh                                   # dz = dh (h_prev - hh) ra'(z)
        np.multiply(h_prev, self.cell.dra(z), out=dz_z)
        if run is not None:
            dzx *= run
        dzh[...] = dzx                                 # the recurrent side: hz_h's block times r
        dzh[..., 2 * H:] *= r

    def backward_segment(self, dstates, dys, cache, W_h, seen, cuts=(), keep=None):
        """As step_backward, S times (see Kernel.backward_segment for the arguments)."""
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
                multiply(blocks_t, dh_b, blocks_t)     # every block's dz: factor times dh (= dzh)
                if fold:                               # dh_prev, direct path included
                    rec_matmul_back(dzh_t, W_back, d_prev)
                else:
                    rec_matmul_back(dzh_t, W_back, tmp)
                    multiply(dh, z_t, d_prev)          # dh_prev = dh z + dzh U^T: = step_backward
                    add(d_prev, tmp, d_prev)           # and the recurrent matmul
                if t in cuts:
                    d_prev[...] = 0.0
            # the loop needs dzh only; dzx is the same factors times dL/dh_t, complete by now
            dzx[lo:hi].reshape(hi - lo, B, 3, H)[...] *= seen[lo:hi, :, None, :]
            if run is not None:
                seen[lo:hi] *= run[lo:hi]
        return dzx, dzh, (dh_prev,)
