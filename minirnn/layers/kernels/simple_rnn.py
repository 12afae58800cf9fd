"""SimpleRNN's segment kernel: SimpleRNNCellMath.step_forward / step_backward over S steps."""
from collections import namedtuple

import numpy as np

from .common import (Kernel, _keep_factors, _prevs, _reversed, _skips, _step_rec_matmul,
                     _step_rec_matmul_back)

__all__ = ["SimpleRNNKernel", "SimpleRNNSegment"]

SimpleRNNSegment = namedtuple("SimpleRNNSegment", "h0 h rec_mask")
# a segment of S steps: h0 (B, H) the initial h, h (S, B, H) every step's h


class SimpleRNNKernel(Kernel):
    """h = act(zx + h_prev U (+ b_h)), the cell's (B, H) steps on (S, B, H) buffers."""

    def forward_segment(self, zx, states, W_h, b_h=None, rec_mask=None, out=None, keep=None,
                        zx_scaled=False):
        """As step_forward, S times: zx (S, B, H) is overwritten; out (S, B, H) receives h; keep
        as Kernel.forward_segment takes it. Returns ((h,), SimpleRNNSegment)."""
        h, = states
        if b_h is not None:
            zx += b_h
        h = np.asarray(h, zx.dtype)                    # one dtype end to end
        act, add = self.cell.act, np.add
        rec_matmul, W_rec = _step_rec_matmul(W_h, rec_mask, zx.dtype, len(h))
        for z, y, skip in zip(zx, out, _skips(keep, len(zx))):   # step t's (B, H) views
            add(z, rec_matmul(h, W_rec, y), z)         # = SimpleRNNCellMath.step_forward's z
            act(z, y)                                  # h = act(z); y was scratch until now
            if skip is not None:
                np.copyto(y, h, where=skip)            # masked: h carries over (= bptt loop's where)
            h = y
        return (h,), SimpleRNNSegment(states[0], out, rec_mask)

    def backward_segment(self, dstates, dys, cache, W_h, seen, cuts=(), keep=None):
        """As step_backward, S times (see Kernel.backward_segment for the arguments)."""
        dz = self.cell.dact(cache.h)                   # (S, B, H): act' for the whole segment
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
            # dz = dh act'(h), dh_prev = dz U^T: = SimpleRNNCellMath.step_backward
            rec_matmul_back(multiply(dz_t, dh, dz_t), W_back, d_prev)
            if passed_t is not None:                   # and past a masked step, unchanged
                add(d_prev, multiply(dh, passed_t, tmp), d_prev)
            if t in cuts:
                d_prev[...] = 0.0
        if run is not None:
            seen *= run
        return dz, dz, (dh_prev,)
