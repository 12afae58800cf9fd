"""The cells' step math (minirnn/layers/cells.py): forward against Keras's formulas written out line
by line, the plain BPTT loop over it (minirnn/layers/bptt.py) against finite differences, each
segment kernel (minirnn/layers/kernels/) against that loop, dtypes, and the activation table."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from minirnn import numeric
from minirnn.gradcheck import compare_grads, numerical_grad
from minirnn.layers import bptt, cells
from minirnn.layers.fused import kernel_for
from minirnn.layers.kernels import common as kernel_common, gru as gru_kernel

CELLS = {
    "simple_tanh": lambda: cells.SimpleRNNCellMath("tanh"),
    "simple_relu": lambda: cells.SimpleRNNCellMath("relu"),
    "lstm": lambda: cells.LSTMCellMath(),
    "lstm_softsign": lambda: cells.LSTMCellMath(activation="softsign"),
    "gru": lambda: cells.GRUCellMath(reset_after=True),
    "gru_reset_before": lambda: cells.GRUCellMath(reset_after=False),
}
MASKS = [None, "shared", "per_gate"]   # no dropout, one (B, H) mask, Keras's (k, B, H) per-gate masks
# (one recurrent dropout mask for every step, as the layers draw it)
RATE = 0.3


def make_problem(cell, B, H, T, seed, mask_kind, use_bh, dtype=np.float64):
    rng = np.random.default_rng(seed)
    k = cell.gates

    def draw(*shape, scale=1.0):
        return np.ascontiguousarray((scale * rng.standard_normal(shape)).astype(dtype))

    def mask(*shape):
        return ((rng.random(shape) >= RATE) / (1 - RATE)).astype(dtype)

    p = dict(Zx=draw(T, B, k * H), states0=tuple(draw(B, H, scale=0.5) for _ in range(cell.n_states)),
             W_h=draw(H, k * H, scale=0.6), b_h=draw(k * H, scale=0.5) if use_bh else None,
             rec_mask=None, R1=draw(T, B, H), R2=tuple(draw(B, H) for _ in range(cell.n_states)))
    if mask_kind == "shared":
        p["rec_mask"] = mask(B, H)
    elif mask_kind == "per_gate":
        p["rec_mask"] = mask(k, B, H)
    return p


def loss(cell, p):
    H_seq, final, _ = bptt.run_sequence_forward(cell, p["Zx"], p["states0"], p["W_h"], p["b_h"],
                                                p["rec_mask"])
    return float(np.sum(H_seq * p["R1"]) + sum(np.sum(s * r) for s, r in zip(final, p["R2"])))


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# ------------------------------------------------------------------------------------------------
# Independent references: Keras 3's cell code written out, per gate (implementation=1, which is the
# path Keras takes with recurrent_dropout > 0). masks: a list of k (B, H) arrays (or all ones).
# ------------------------------------------------------------------------------------------------

def gate_masks(mask, k, H):
    if mask is None:
        return [1.0] * k
    return [mask] * k if mask.ndim == 2 else list(mask)


def ref_simple(act, zx, states, U, b_h, mask):
    (h,), (m,) = states, gate_masks(mask, 1, U.shape[0])
    out = zx + (h * m) @ U
    if b_h is not None:
        out = out + b_h
    return (cells.get_activation(act)[0](out),)


def ref_lstm(act, zx, states, U, b_h, mask):
    h_tm1, c_tm1 = states
    H = h_tm1.shape[1]
    m = gate_masks(mask, 4, H)
    act = cells.get_activation(act)[0]
    if b_h is not None:
        zx = zx + b_h
    x_i, x_f, x_c, x_o = zx[:, :H], zx[:, H:2 * H], zx[:, 2 * H:3 * H], zx[:, 3 * H:]
    i = sig(x_i + (h_tm1 * m[0]) @ U[:, :H])
    f = sig(x_f + (h_tm1 * m[1]) @ U[:, H:2 * H])
    c = f * c_tm1 + i * act(x_c + (h_tm1 * m[2]) @ U[:, 2 * H:3 * H])
    o = sig(x_o + (h_tm1 * m[3]) @ U[:, 3 * H:])
    h = o * act(c)
    return h, c


def ref_gru(reset_after, zx, states, U, b_h, mask):
    h_tm1, = states
    H = h_tm1.shape[1]
    m = gate_masks(mask, 3, H)
    x_z, x_r, x_h = zx[:, :H], zx[:, H:2 * H], zx[:, 2 * H:]
    h_tm1_z, h_tm1_r, h_tm1_h = h_tm1 * m[0], h_tm1 * m[1], h_tm1 * m[2]
    recurrent_z = h_tm1_z @ U[:, :H]
    recurrent_r = h_tm1_r @ U[:, H:2 * H]
    if b_h is not None:
        recurrent_z = recurrent_z + b_h[:H]
        recurrent_r = recurrent_r + b_h[H:2 * H]
    z = sig(x_z + recurrent_z)
    r = sig(x_r + recurrent_r)
    if reset_after:
        recurrent_h = h_tm1_h @ U[:, 2 * H:]
        if b_h is not None:
            recurrent_h = recurrent_h + b_h[2 * H:]
        recurrent_h = r * recurrent_h
    else:
        recurrent_h = (r * h_tm1_h) @ U[:, 2 * H:]
        if b_h is not None:
            recurrent_h = recurrent_h + b_h[2 * H:]
    hh = np.tanh(x_h + recurrent_h)
    h = z * h_tm1 + (1 - z) * hh
    return (h,)


REFERENCES = {
    "simple_tanh": lambda *a: ref_simple("tanh", *a),
    "simple_relu": lambda *a: ref_simple("relu", *a),
    "lstm": lambda *a: ref_lstm("tanh", *a),
    "lstm_softsign": lambda *a: ref_lstm("softsign", *a),
    "gru": lambda *a: ref_gru(True, *a),
    "gru_reset_before": lambda *a: ref_gru(False, *a),
}

shapes = dict(B=st.integers(1, 3), H=st.integers(1, 4), T=st.integers(1, 4),
              seed=st.integers(0, 2**32 - 1), use_bh=st.booleans())


# ------------------------------------------------------------------------------------------------
# Forward step == Keras's formula
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("name", CELLS)
@given(**shapes)
def test_step_forward_matches_keras_formula(name, mask_kind, B, H, T, seed, use_bh):
    cell = CELLS[name]()
    p = make_problem(cell, B, H, T, seed, mask_kind, use_bh)
    states, ref_states, mask = p["states0"], p["states0"], p["rec_mask"]
    for t in range(T):
        states, cache = cell.step_forward(p["Zx"][t], states, p["W_h"], p["b_h"], mask)
        ref_states = REFERENCES[name](p["Zx"][t], ref_states, p["W_h"], p["b_h"], mask)
        assert len(states) == len(ref_states) == cell.n_states
        for s, r in zip(states, ref_states):
            np.testing.assert_allclose(s, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", sorted(cells.ACTIVATIONS))
def test_simple_rnn_forward_every_activation(act):
    p = make_problem(cells.SimpleRNNCellMath(act), 3, 4, 1, 0, "shared", True)
    (h,), _ = cells.SimpleRNNCellMath(act).step_forward(p["Zx"][0], p["states0"], p["W_h"], p["b_h"],
                                                        p["rec_mask"])
    np.testing.assert_allclose(h, ref_simple(act, p["Zx"][0], p["states0"], p["W_h"], p["b_h"],
                                             p["rec_mask"])[0], rtol=1e-12, atol=1e-15)


def test_recurrent_bias_is_a_shift_of_zx():
    """b_h on a cell other than GRU(reset_after=True) just adds to the pre-activation."""
    for name in ("simple_tanh", "lstm", "gru_reset_before"):
        cell = CELLS[name]()
        p = make_problem(cell, 2, 3, 1, 1, None, True)
        with_bh, _ = cell.step_forward(p["Zx"][0], p["states0"], p["W_h"], p["b_h"])
        shifted, _ = cell.step_forward(p["Zx"][0] + p["b_h"], p["states0"], p["W_h"])
        for a, b in zip(with_bh, shifted):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


# ------------------------------------------------------------------------------------------------
# BPTT == finite differences
# ------------------------------------------------------------------------------------------------

def relu_kink_margin(p):
    """Smallest |pre-activation| of a relu SimpleRNN run: the five-point stencil (points up to
    2 * eps apart) is wrong across a kink."""
    h, margin = p["states0"][0], np.inf
    for t in range(len(p["Zx"])):
        m = 1.0 if p["rec_mask"] is None else p["rec_mask"].reshape(h.shape)  # k = 1
        z = p["Zx"][t] + (h * m) @ p["W_h"]
        if p["b_h"] is not None:
            z = z + p["b_h"]
        margin, h = min(margin, np.abs(z).min()), np.maximum(z, 0)
    return margin


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("name", CELLS)
@given(**shapes)
def test_bptt_matches_finite_differences(name, mask_kind, B, H, T, seed, use_bh):
    cell = CELLS[name]()
    p = make_problem(cell, B, H, T, seed, mask_kind, use_bh)
    if name == "simple_relu":
        assume(relu_kink_margin(p) > 2e-3)
    _, _, caches = bptt.run_sequence_forward(cell, p["Zx"], p["states0"], p["W_h"], p["b_h"],
                                             p["rec_mask"])
    if name == "lstm_softsign":   # softsign'' jumps at 0: keep its inputs (g's and c's) off zero
        assume(min(min(np.abs(c.gates[:, 2 * H:3 * H]).min(), np.abs(c.c).min())
                   for c in caches) > 2e-3)
    dZx, dZh, dstates0, _ = bptt.run_sequence_backward(cell, p["R1"], p["R2"], caches, p["W_h"])
    dW_h = cell.kernel_grad(caches, dZh)
    inputs = [p["Zx"], *p["states0"], p["W_h"]] + ([p["b_h"]] if use_bh else [])
    n = cell.n_states

    def loss_of(Zx, *rest):
        return loss(cell, dict(p, Zx=Zx, states0=rest[:n], W_h=rest[n],
                               b_h=rest[n + 1] if use_bh else p["b_h"]))

    numeric = numerical_grad(loss_of, inputs, eps=1e-4)
    analytic = [dZx, *dstates0, dW_h] + ([dZh.sum(axis=(0, 1))] if use_bh else [])
    names = ["dZx"] + [f"dstates0[{i}]" for i in range(cell.n_states)] + ["dW_h", "db_h"]
    for n, a, g in zip(names, analytic, numeric):
        compare_grads(n, a, g)          # check_grads' rule: rtol 1e-6, atol 1e-8


def test_backward_accepts_missing_gradients():
    cell = cells.LSTMCellMath()
    p = make_problem(cell, 2, 3, 3, 5, "per_gate", False)
    _, _, caches = bptt.run_sequence_forward(cell, p["Zx"], p["states0"], p["W_h"], None,
                                             p["rec_mask"])
    zeros = tuple(np.zeros_like(s) for s in p["states0"])
    got = bptt.run_sequence_backward(cell, p["R1"], None, caches, p["W_h"])
    want = bptt.run_sequence_backward(cell, p["R1"], zeros, caches, p["W_h"])
    for a, b in zip(got[:2] + got[2] + got[3:], want[:2] + want[2] + want[3:]):
        np.testing.assert_array_equal(a, b)
    got = bptt.run_sequence_backward(cell, None, (p["R2"][0], None), caches, p["W_h"])
    want = bptt.run_sequence_backward(cell, np.zeros_like(p["R1"]), (p["R2"][0], zeros[1]), caches,
                                      p["W_h"])
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("name", CELLS)
def test_steps_leave_inputs_and_caches_untouched(name, mask_kind):
    """The layer may run backward twice (retain_graph): nothing may be modified in place."""
    cell = CELLS[name]()
    p = make_problem(cell, 2, 3, 3, 11, mask_kind, True)
    before = [p["Zx"].copy(), [s.copy() for s in p["states0"]], p["W_h"].copy()]
    _, _, caches = bptt.run_sequence_forward(cell, p["Zx"], p["states0"], p["W_h"], p["b_h"],
                                             p["rec_mask"])
    cache_copies = [[np.copy(a) for a in c] for c in caches]
    first = bptt.run_sequence_backward(cell, p["R1"], p["R2"], caches, p["W_h"])
    second = bptt.run_sequence_backward(cell, p["R1"], p["R2"], caches, p["W_h"])
    for a, b in zip(first[:2] + first[2] + first[3:], second[:2] + second[2] + second[3:]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p["Zx"], before[0])
    np.testing.assert_array_equal(p["W_h"], before[2])
    for s, b in zip(p["states0"], before[1]):
        np.testing.assert_array_equal(s, b)
    for c, copies in zip(caches, cache_copies):
        for a, b in zip(c, copies):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------------
# Each segment kernel (forward_segment, backward_segment: what the fused op runs on the fast path)
# == the plain loop over the cell's steps (layers/bptt.py, what bptt="reference" runs)
# ------------------------------------------------------------------------------------------------

segment_problem = make_problem     # one recurrent dropout mask for all steps, as the layer draws


def time_mask(p, seed=1):
    """keep (T, B, 1): sequence 0 runs every step, the others skip about 40% of them."""
    keep = np.random.default_rng(seed).random((len(p["Zx"]), p["Zx"].shape[1], 1)) < 0.6
    keep[:, 0] = True
    return keep


def run_segment(cell, p, with_dys, cuts, cache=None, keep=None):
    """The cell's kernel: forward_segment (or the given cache), backward_segment, kernel_grad."""
    kernel = kernel_for(cell)
    out = np.empty(p["R1"].shape, p["Zx"].dtype)
    final = None
    if cache is None:
        final, cache = kernel.forward_segment(p["Zx"].copy(), p["states0"], p["W_h"], p["b_h"],
                                              p["rec_mask"], out, keep)  # zx may be overwritten
    seen = np.empty(p["R1"].shape, p["Zx"].dtype)
    dzx, dzh, dstates0 = kernel.backward_segment(list(p["R2"]), p["R1"] if with_dys else None,
                                                 cache, p["W_h"], seen, cuts, keep)
    return dict(H=out, final=final, dzx=dzx, dzh=dzh, dstates0=dstates0, seen=seen,
                dW_h=kernel.kernel_grad(cache, dzh)), cache


def run_plain_loop(cell, p, with_dys, cuts, keep=None):
    """The same from the plain loop over step_forward and step_backward (layers/bptt.py)."""
    H_seq, final, caches = bptt.run_sequence_forward(cell, p["Zx"], p["states0"], p["W_h"],
                                                     p["b_h"], p["rec_mask"], keep)
    dzx, dzh, dstates0, seen = bptt.run_sequence_backward(
        cell, p["R1"] if with_dys else None, p["R2"], caches, p["W_h"], keep, cuts)
    return dict(H=H_seq, final=final, dzx=dzx, dzh=dzh, dstates0=dstates0, seen=seen,
                dW_h=cell.kernel_grad(caches, dzh))


def assert_results_close(got, want, **tol):
    for key in want:
        pairs = zip(got[key], want[key]) if key in ("final", "dstates0") else [(got[key], want[key])]
        for g, w in pairs:
            np.testing.assert_allclose(g, w, err_msg=key, **tol)


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("name", CELLS)
@given(**shapes, with_dys=st.booleans(), cuts=st.sets(st.integers(0, 3)), masked=st.booleans())
def test_segment_matches_the_steps(name, mask_kind, B, H, T, seed, use_bh, with_dys, cuts, masked):
    """Recurrent dropout masks (mask_kind) and, with `masked`, a time mask that skips steps."""
    cell = CELLS[name]()
    p = segment_problem(cell, B, H, T, seed, mask_kind, use_bh)
    keep = time_mask(p, seed % 7) if masked else None
    got, _ = run_segment(cell, p, with_dys, cuts, keep=keep)
    # to rounding: sigmoid may be 0.5 tanh(x / 2) + 0.5, and products are grouped differently
    assert_results_close(got, run_plain_loop(cell, p, with_dys, cuts, keep), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("steps_per_chunk", [1, 3])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("name", CELLS)
def test_segment_in_chunks_matches_the_steps(name, mask_kind, steps_per_chunk, monkeypatch):
    """On large steps the backward factors are formed a few steps at a time: chunks of 1 and of 3
    steps over 7 (the first chunk short) give the step-by-step numbers."""
    cell = CELLS[name]()
    p = segment_problem(cell, 2, 3, 7, 11, mask_kind, True)
    step_size = 2 * 3 * cell.gates
    monkeypatch.setattr(kernel_common, "_CHUNK_ELEMENTS", steps_per_chunk * step_size)
    assert kernel_common._chunks(7, step_size)[:2] == [
        (7 - steps_per_chunk, 7), (7 - 2 * steps_per_chunk, 7 - steps_per_chunk)]
    keep = time_mask(p)
    for k in (None, keep):
        got, _ = run_segment(cell, p, True, {2, 3}, keep=k)
        assert_results_close(got, run_plain_loop(cell, p, True, {2, 3}, k), rtol=1e-9, atol=1e-12)


# the factors a cell's kernel multiplies zx by (sigmoid as 0.5 tanh(x / 2) + 0.5), by hand
INPUT_SCALES = {"lstm": [0.5, 0.5, 1.0, 0.5], "gru": [0.5, 0.5, 1.0]}


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("name", CELLS)
def test_segment_takes_zx_scaled_by_input_scale(name, mask_kind):
    """The fused op folds a cell's input_scale into the input weights and passes zx_scaled: zx
    times the scale, with zx_scaled=True, gives the numbers of zx as it is (to rounding: the
    factors are powers of two). Cells with other activations have no scale."""
    cell = CELLS[name]()
    H = 3
    kernel = kernel_for(cell)
    scale = kernel.input_scale(H, np.float64)
    if name in INPUT_SCALES:
        np.testing.assert_array_equal(scale, np.repeat(INPUT_SCALES[name], H))
    else:
        assert scale is None
        return
    p = segment_problem(cell, 2, H, 4, 9, mask_kind, True)
    want, _ = run_segment(cell, p, True, {2})
    out = np.empty_like(p["R1"])
    _, cache = kernel.forward_segment(p["Zx"] * scale, p["states0"], p["W_h"], p["b_h"],
                                      p["rec_mask"], out, zx_scaled=True)
    got, _ = run_segment(cell, p, True, {2}, cache=cache)
    got["H"] = out
    assert_results_close(got, {k: v for k, v in want.items() if k != "final"},
                         rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", CELLS)
def test_segment_with_the_transposed_product_matches_the_steps(name, monkeypatch):
    """In float32 a large W_h takes the recurrent product as (W_h^T @ h^T)^T, at batch 2-64. With
    every W_h counted large, a float32 segment gives what the direct product gives, and the
    step-by-step numbers of float64; batch 1 and float64 keep the direct product."""
    monkeypatch.setattr(kernel_common, "_TRANSPOSED_MIN_BYTES", 0)
    cell = CELLS[name]()
    for B, dtype, transposed in ((3, np.float32, True), (1, np.float32, False),
                                 (3, np.float64, False)):
        product, _ = kernel_common._step_rec_matmul(np.ones((4, 4 * cell.gates), dtype), None,
                                                    dtype, B)
        assert (product is not numeric.dot) == transposed, (B, dtype)
    p32 = segment_problem(cell, 3, 4, 5, 3, None, True, dtype=np.float32)
    got, _ = run_segment(cell, p32, True, {2})
    masked = run_masked_segment(cell, p32)
    monkeypatch.setattr(kernel_common, "_TRANSPOSED_MIN_BYTES", 1 << 60)
    direct, _ = run_segment(cell, p32, True, {2})
    assert_results_close(got, direct, rtol=1e-5, atol=1e-6)
    for a, b in zip(masked, run_masked_segment(cell, p32)):    # masked steps carry states over
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    want = run_plain_loop(cell, segment_problem(cell, 3, 4, 5, 3, None, True), True, {2})
    assert_results_close(got, want, rtol=1e-5, atol=1e-6)


def run_masked_segment(cell, p, with_dys=True):
    """forward_segment and backward_segment under a mask that skips some steps of sequences 1
    and 2: the outputs, dzx, dzh, the initial states' gradients and dL/dh_t, flat."""
    got, _ = run_segment(cell, p, with_dys, {3}, keep=time_mask(p))
    return [got["H"], got["dzx"], got["dzh"], *got["dstates0"], got["seen"]]


@pytest.mark.parametrize("with_dys", [False, True])
@pytest.mark.parametrize("fold_max", [0, 10**9])
def test_gru_segment_direct_path_folded_or_not(fold_max, with_dys, monkeypatch):
    """GRU's backward puts dh_prev's direct path (dh z) into the recurrent product on small steps
    and adds it apart on large ones: both branches give the step-by-step numbers; with a mask
    (masked steps pass dh on with z = 1) the two branches agree."""
    monkeypatch.setattr(gru_kernel, "_FOLD_DIRECT_MAX", fold_max)
    cell = cells.GRUCellMath()
    p = segment_problem(cell, 3, 4, 6, 5, None, True)
    got, _ = run_segment(cell, p, with_dys, {3})
    assert_results_close(got, run_plain_loop(cell, p, with_dys, {3}), rtol=1e-9, atol=1e-12)

    results = []
    for fold in (0, 10**9):
        monkeypatch.setattr(gru_kernel, "_FOLD_DIRECT_MAX", fold)
        results.append(run_masked_segment(cell, p, with_dys))
    folded, apart = results
    for a, b in zip(folded, apart):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    seen = folded[-1]
    assert np.abs(seen[:, 1:]).max() > 0 and (seen == 0).any()   # the mask had effect


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("name", CELLS)
def test_segment_float32_and_backward_twice(name, mask_kind):
    """float32 stays float32 and agrees with float64; a second backward_segment over the same cache
    (a second backward pass through the layer) gives the same numbers; inputs are untouched."""
    cell = CELLS[name]()
    p32 = segment_problem(cell, 3, 4, 5, 7, mask_kind, True, dtype=np.float32)
    before = {k: [np.copy(a) for a in (v if isinstance(v, (list, tuple)) else [v])]
              for k, v in p32.items() if v is not None}
    got, cache = run_segment(cell, p32, True, {2})
    arrays = [got["H"], *got["final"], got["dzx"], got["dzh"], *got["dstates0"], got["seen"],
              got["dW_h"]]
    assert all(a.dtype == np.float32 for a in arrays), [a.dtype for a in arrays]
    again, _ = run_segment(cell, p32, True, {2}, cache=cache)
    for key in ("dzx", "dzh", "seen", "dW_h"):
        np.testing.assert_array_equal(again[key], got[key], err_msg=key)
    for k, arrays_before in before.items():
        now = p32[k] if isinstance(p32[k], (list, tuple)) else [p32[k]]
        for a, b in zip(now, arrays_before):
            np.testing.assert_array_equal(a, b, err_msg=k)
    want = run_plain_loop(cell, segment_problem(cell, 3, 4, 5, 7, mask_kind, True), True, {2})
    assert_results_close(got, want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# float32 stays float32
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("name", CELLS)
def test_float32_end_to_end(name, mask_kind):
    cell = CELLS[name]()
    p32 = make_problem(cell, 3, 4, 3, 7, mask_kind, True, dtype=np.float32)
    H_seq, final, caches = bptt.run_sequence_forward(cell, p32["Zx"], p32["states0"], p32["W_h"],
                                                     p32["b_h"], p32["rec_mask"])
    grads = bptt.run_sequence_backward(cell, p32["R1"], p32["R2"], caches, p32["W_h"])
    dW_h = cell.kernel_grad(caches, grads[1])
    arrays = [H_seq, *final, grads[0], grads[1], *grads[2], grads[3], dW_h]
    arrays += [a for c in caches for a in c if isinstance(a, np.ndarray)]
    assert all(a.dtype == np.float32 for a in arrays), [a.dtype for a in arrays]
    # and float32 agrees with float64 to float32 accuracy
    p64 = make_problem(cell, 3, 4, 3, 7, mask_kind, True, dtype=np.float64)
    H64, _, caches64 = bptt.run_sequence_forward(cell, p64["Zx"], p64["states0"], p64["W_h"],
                                                 p64["b_h"], p64["rec_mask"])
    grads64 = bptt.run_sequence_backward(cell, p64["R1"], p64["R2"], caches64, p64["W_h"])
    np.testing.assert_allclose(H_seq, H64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dW_h, cell.kernel_grad(caches64, grads64[1]), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# Activations
# ------------------------------------------------------------------------------------------------

KINKS = {"relu": [0.0], "hard_sigmoid": [-3.0, 3.0], "elu": [0.0]}


@pytest.mark.parametrize("name", sorted(cells.ACTIVATIONS))
def test_activation_derivative_from_output(name):
    forward, derivative = cells.get_activation(name)
    rng = np.random.default_rng(0)
    x = 3.0 * rng.standard_normal(60)
    for kink in KINKS.get(name, []):
        x = x[np.abs(x - kink) > 1e-2]
    r = rng.standard_normal(x.shape)
    numeric, = numerical_grad(lambda x: float(np.sum(forward(x) * r)), [x])
    compare_grads(name, derivative(forward(x)) * r, numeric)


@pytest.mark.parametrize("name", sorted(cells.ACTIVATIONS))
def test_activation_dtypes_and_out(name):
    forward, derivative = cells.get_activation(name)
    x = np.linspace(-5, 5, 24, dtype=np.float32).reshape(4, 6)
    y = forward(x)
    assert y.dtype == np.float32 and derivative(y).dtype == np.float32
    out = np.empty_like(x)
    assert forward(x, out=out) is out
    np.testing.assert_array_equal(out, y)
    x_copy = x.copy()
    forward(x_copy, out=x_copy)                        # in place is safe
    np.testing.assert_array_equal(x_copy, y)
    out = np.zeros((4, 12), np.float32)                # into a strided view
    forward(x, out=out[:, 3:9])
    np.testing.assert_array_equal(out[:, 3:9], y)


def test_sigmoid_is_stable_and_exact():
    sigmoid = cells.get_activation("sigmoid")[0]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        for dtype in (np.float32, np.float64):
            y = sigmoid(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype))
            assert y.dtype == dtype and np.isfinite(y).all()
            assert y[0] == 0.0 and y[2] == 0.5 and y[3] == 1.0 and y[4] == 1.0
        # float64: relative accuracy down to the smallest normals
        x = np.linspace(-700.0, 40.0, 5001)
        ref = np.array([math.exp(v) / (1.0 + math.exp(v)) if v < 0 else 1.0 / (1.0 + math.exp(-v))
                        for v in x])
        assert np.max(np.abs(sigmoid(x) - ref) / ref) < 4e-16
        # float32: within 2 ulp of the float64 value rounded, subnormals included
        x32 = np.linspace(-104.0, 20.0, 5001).astype(np.float32)
        ref32 = sigmoid(x32.astype(np.float64)).astype(np.float32)
        assert np.all(np.abs(sigmoid(x32) - ref32) <= 2 * np.spacing(ref32))


def test_get_activation():
    assert cells.get_activation(None) is cells.get_activation("linear")
    with pytest.raises(ValueError) as err:
        cells.get_activation("swishy")
    assert "swishy" in str(err.value)
    for name in ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid", "softsign", "elu"):
        assert name in str(err.value)
    with pytest.raises(ValueError):
        cells.SimpleRNNCellMath("nope")


# ------------------------------------------------------------------------------------------------
# Keras itself, recurrent dropout included (its cached masks are set by hand)
# ------------------------------------------------------------------------------------------------

@pytest.mark.tf
@pytest.mark.parametrize("name", ["simple_tanh", "lstm", "gru", "gru_reset_before"])
def test_step_matches_keras_cell_with_recurrent_dropout(name):
    from tf_helpers import import_tf
    import_tf()  # skips without TensorFlow, fails under CI
    import keras
    B, D, H = 3, 5, 4
    make = {"simple_tanh": lambda: keras.layers.SimpleRNNCell(H, recurrent_dropout=0.4),
            "lstm": lambda: keras.layers.LSTMCell(H, recurrent_dropout=0.4),
            "gru": lambda: keras.layers.GRUCell(H, recurrent_dropout=0.4),
            "gru_reset_before": lambda: keras.layers.GRUCell(H, recurrent_dropout=0.4,
                                                             reset_after=False)}
    cell, keras_cell = CELLS[name](), make[name]()
    keras_cell.build((B, D))
    rng = np.random.default_rng(3)
    weights = [(0.5 * rng.standard_normal(w.shape)).astype(np.float32) for w in keras_cell.get_weights()]
    keras_cell.set_weights(weights)
    x = rng.standard_normal((B, D)).astype(np.float32)
    states = tuple(rng.standard_normal((B, H)).astype(np.float32) for _ in range(cell.n_states))
    masks = ((rng.random((cell.gates, B, H)) >= 0.4) / 0.6).astype(np.float32)
    # Keras keeps one (B, H) mask, or a list of one per gate (LSTM, GRU: implementation=1)
    keras_cell._recurrent_dropout_mask = masks[0] if cell.gates == 1 else list(masks)
    W, U, b = weights
    zx, b_h = (x @ W + b[0], b[1]) if name == "gru" else (x @ W + b, None)
    for training, mask in ((True, masks), (False, None)):
        _, want = keras_cell(x, list(states), training=training)
        got, _ = cell.step_forward(zx, states, U, b_h, mask)
        for g, w in zip(got, want):
            assert g.dtype == np.float32
            np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=1e-6)
