"""bptt="reference" (the plain loop of layers/bptt.py over the cells' step_forward / step_backward)
against bptt="fast" (the segment kernels), unroll=True (the autodiff engine's own BPTT) and finite
differences, every cell under every option; and that "reference" really runs the step code."""
import numpy as np
import pytest

import minirnn
from minirnn import activations, check_grads
from minirnn.layers import Bidirectional, GRU, LSTM, SimpleRNN, cells, recurrent
from minirnn.layers.fused import kernel_for

from bptt_cases import CELLS, OPTIONS, assert_all_close, inputs, make_layer, option_kwargs, run

# options beyond the table's, each combined with every entry of OPTIONS
EXTRAS = {"none": {}, "truncate": {"truncate_bptt": 3}, "recompute": {"recompute": 2},
          "recompute_truncate": {"recompute": True, "truncate_bptt": 2},
          "last_output": {"return_sequences": False}, "zero_output": {"zero_output_for_mask": True}}


def run_all(cell, option, extra, seed=7, timesteps=7, **more):
    """run() with bptt="reference", bptt="fast" and unroll=True."""
    cls, kwargs = CELLS[cell]
    opts, use_mask, training = option_kwargs(option)
    x, h0, mask = inputs(seed, timesteps=timesteps)
    kwargs = {**kwargs, **opts, **EXTRAS[extra], **more}
    return [run(cls, kwargs, x, h0, seed, mask if use_mask else None, training, **path)
            for path in ({"bptt": "reference"}, {"bptt": "fast"}, {"unroll": True})]


@pytest.mark.parametrize("extra", EXTRAS)
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_reference_equals_fast_and_unrolled(float64, cell, option, extra):
    """Outputs, final states, gradients of inputs, initial states and weights agree to 1e-10;
    bptt_gradients (dL/dh_t) too between the two fused paths."""
    reference, fast, unrolled = run_all(cell, option, extra)
    assert_all_close(reference, fast, rtol=1e-10)
    assert_all_close(reference[:-1], unrolled[:-1], rtol=1e-10)
    assert np.abs(reference[-1]).max() > 0                         # BPTT did reach the states


FD_EXTRAS = ["none", "recompute", "last_output", "zero_output"]   # truncation is not a gradient


def reference_fd_check(cell, option, extra, timesteps=4):
    """check_grads on the reference path: inputs, initial states and every weight, in float64.
    Dropout masks come from the shared generator, reseeded before each call (the same masks in
    every one of check_grads' forward passes)."""
    cls, kwargs = CELLS[cell]
    opts, use_mask, training = option_kwargs(option)
    x, h0, mask = inputs(11, timesteps=timesteps)
    layer = make_layer(cls, 11, **kwargs, **opts, **EXTRAS[extra], seed=None, bptt="reference")
    layer.build(x.shape)

    def forward(x, *states):
        minirnn.set_random_seed(5)
        return layer(x, initial_state=list(states), mask=mask if use_mask else None,
                     training=training)
    return check_grads(forward, x, *h0[:layer.n_states], params=layer.weights)


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_reference_matches_finite_differences(float64, cell, option):
    assert reference_fd_check(cell, option, "none") < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("extra", FD_EXTRAS[1:])
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_reference_matches_finite_differences_every_option(float64, cell, option, extra):
    assert reference_fd_check(cell, option, extra) < 1e-6


def test_reference_stateful_and_bidirectional(float64):
    """Carried states (stateful: a second call starts where the first ended) and Bidirectional
    (which hands bptt to both directions) give the fast path's numbers."""
    x, _, mask = inputs(3, timesteps=6)
    for cls in (SimpleRNN, LSTM, GRU):
        results = []
        for bptt in ("reference", "fast"):
            layer = make_layer(cls, 3, stateful=True, return_state=False, bptt=bptt)
            wrapped = Bidirectional(make_layer(cls, 4, return_state=False, bptt=bptt))
            layer(x[:, :3])                                     # the states to carry
            xt = minirnn.tensor(x, requires_grad=True)
            out = layer(xt[:, 3:], mask=mask[:, 3:]) * 1.5 + wrapped(xt, mask=mask)[:, 3:, :3]
            (out * out).sum().backward()
            results.append([out.data, xt.grad, layer.states[0]] +
                           [w.grad for w in layer.weights + wrapped.weights])
        assert wrapped.backward_layer.bptt == "fast"
        assert_all_close(*results, rtol=1e-10)


def test_reference_keeps_float32():
    x, _, mask = inputs(2)
    x = x.astype(np.float32)
    for cls in (SimpleRNN, LSTM, GRU):
        grads = []
        for bptt in ("reference", "fast"):
            layer = make_layer(cls, 2, return_state=False, bptt=bptt)
            xt = minirnn.tensor(x, requires_grad=True)
            layer(xt, mask=mask).sum().backward()
            grads.append([xt.grad] + [w.grad for w in layer.weights])
        assert all(g.dtype == np.float32 for g in grads[0])
        for r, f in zip(*grads):
            np.testing.assert_allclose(r, f, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# The reference path is the step code: counted calls
# ------------------------------------------------------------------------------------------------

STEP_CLASSES = {"simple_rnn": cells.SimpleRNNCellMath, "lstm": cells.LSTMCellMath,
                "gru": cells.GRUCellMath, "gru_reset_before": cells.GRUCellMath}


def count_steps(monkeypatch, cell, **layer_kwargs):
    """Calls of the cell class's step_forward and step_backward during one forward and backward
    pass of a masked layer over T = 6 steps."""
    counts = {"step_forward": 0, "step_backward": 0}
    klass = STEP_CLASSES[cell]
    for name in counts:
        original = getattr(klass, name)

        def counting(self, *args, _original=original, _name=name):
            counts[_name] += 1
            return _original(self, *args)
        monkeypatch.setattr(klass, name, counting)
    cls, kwargs = CELLS[cell]
    x, h0, mask = inputs(1, timesteps=6)
    run(cls, kwargs, x, h0, 1, mask, **layer_kwargs)
    return counts


@pytest.mark.parametrize("cell", CELLS)
def test_reference_runs_step_backward_once_per_timestep(float64, cell, monkeypatch):
    assert count_steps(monkeypatch, cell, bptt="reference") == {"step_forward": 6,
                                                                "step_backward": 6}
    # recompute: each segment's forward runs again before BPTT goes back through it
    assert count_steps(monkeypatch, cell, bptt="reference", recompute=2) == {"step_forward": 12,
                                                                             "step_backward": 12 - 6}
    fast = count_steps(monkeypatch, cell, bptt="fast")
    if cell == "gru_reset_before":            # no kernel of its own: the fast path is the loop too
        assert fast == {"step_forward": 6, "step_backward": 6}
    else:
        assert fast == {"step_forward": 0, "step_backward": 0}


# ------------------------------------------------------------------------------------------------
# One step in three forms: the step code, the kernel (one-step segment), the unrolled op-level step
# ------------------------------------------------------------------------------------------------

STEP_CELLS = {
    "simple_tanh": (cells.SimpleRNNCellMath("tanh"), recurrent._simple_rnn_step),
    "simple_relu": (cells.SimpleRNNCellMath("relu"), recurrent._simple_rnn_step),
    "lstm": (cells.LSTMCellMath(), recurrent._lstm_step),
    "lstm_softsign_hard": (cells.LSTMCellMath("softsign", "hard_sigmoid"), recurrent._lstm_step),
    "gru": (cells.GRUCellMath(), recurrent._gru_step),
    "gru_hard": (cells.GRUCellMath("tanh", "hard_sigmoid"), recurrent._gru_step),
    "gru_reset_before": (cells.GRUCellMath(reset_after=False), recurrent._gru_step),
}


def three_forms(name, rec_mask_on, seed):
    """(h, c...) and the gradients of sum(r * states) w.r.t. zx, the previous states, W_h and b_h
    (GRU reset_after only: the other cells' recurrent bias is part of zx), from each form."""
    cell, op_step = STEP_CELLS[name]
    rng = np.random.default_rng(seed)
    B, H, k = 3, 4, cell.gates
    zx, W_h = rng.standard_normal((B, k * H)), 0.6 * rng.standard_normal((H, k * H))
    states = tuple(0.5 * rng.standard_normal((B, H)) for _ in range(cell.n_states))
    reset_after = getattr(cell, "reset_after", False)
    b_h = 0.5 * rng.standard_normal(k * H) if reset_after else None
    mask = ((rng.random((B, H)) >= 0.3) / 0.7) if rec_mask_on else None
    r = [rng.standard_normal((B, H)) for _ in states]

    new, cache = cell.step_forward(zx, states, W_h, b_h, mask)          # the step code
    dzx, dzh, dprev = cell.step_backward(tuple(r), cache, W_h)
    step = [*new, dzx, *dprev, cell.kernel_grad([cache], dzh[None])] + \
        ([dzh.sum(axis=0)] if reset_after else [])

    kernel = kernel_for(cell)                                           # the kernel, S = 1
    out, seen = np.empty((1, B, H)), np.empty((1, B, H))
    final, seg = kernel.forward_segment(zx[None].copy(), states, W_h, b_h, mask, out)
    kdzx, kdzh, kprev = kernel.backward_segment(list(r), None, seg, W_h, seen)
    kern = [*final, kdzx[0], *kprev, kernel.kernel_grad(seg, kdzh)] + \
        ([kdzh[0].sum(axis=0)] if reset_after else [])

    tensors = [minirnn.tensor(a, requires_grad=True) for a in (zx, *states, W_h)]
    zx_t, states_t, W_t = tensors[0], tensors[1:-1], tensors[-1]
    b_t = None if b_h is None else minirnn.tensor(b_h, requires_grad=True)
    zx_in = (zx_t[:, :2 * H], zx_t[:, 2 * H:]) if k == 3 else zx_t      # GRU._per_step's pair
    op_new = op_step(zx_in, list(states_t), W_t, b_t, mask, activations.get(cell.activation),
                     activations.get(getattr(cell, "recurrent_activation", "sigmoid")),
                     reset_after)
    sum((s * ri).sum() for s, ri in zip(op_new, r)).backward()
    unrolled = [s.data for s in op_new] + [t.grad for t in tensors] + \
        ([b_t.grad] if reset_after else [])
    return step, kern, unrolled


@pytest.mark.parametrize("rec_mask_on", [False, True])
@pytest.mark.parametrize("name", STEP_CELLS)
def test_step_kernel_and_unrolled_step_agree(float64, name, rec_mask_on):
    for seed in range(3):
        step, kern, unrolled = three_forms(name, rec_mask_on, seed)
        assert len(step) == len(kern) == len(unrolled)
        for i, (s, kv, u) in enumerate(zip(step, kern, unrolled)):
            np.testing.assert_allclose(kv, s, rtol=1e-12, atol=1e-14, err_msg=f"kernel {i}")
            np.testing.assert_allclose(u, s, rtol=1e-12, atol=1e-14, err_msg=f"unrolled {i}")
