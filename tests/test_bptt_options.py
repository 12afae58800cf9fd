"""Recomputation (checkpointed BPTT) and truncated BPTT give the gradients of their references.
The option table and the runner live in bptt_cases (test_reference_bptt runs the same table)."""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minirnn
from minirnn import ops
from minirnn.layers import GRU, LSTM, SimpleRNN

from bptt_cases import CELLS, OPTIONS, assert_all_close, inputs, run


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
@given(seed=st.integers(0, 2 ** 16), timesteps=st.integers(1, 9), segment=st.integers(1, 4))
def test_recompute_gives_the_plain_gradients(float64, cell, option, seed, timesteps, segment):
    cls, kwargs = CELLS[cell]
    opts = dict(OPTIONS[option])
    x, h0, mask = inputs(seed, timesteps=timesteps)
    use_mask = mask if opts.pop("mask", False) else None
    training = bool(opts.get("dropout"))
    plain = run(cls, {**kwargs, **opts}, x, h0, seed, use_mask, training)
    for recompute in (True, segment):
        again = run(cls, {**kwargs, **opts}, x, h0, seed, use_mask, training, recompute=recompute)
        assert_all_close(again, plain, rtol=1e-10)


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_truncated_fused_equals_unrolled_graph_with_stopped_gradients(float64, cell, option, k):
    cls, kwargs = CELLS[cell]
    opts = dict(OPTIONS[option])
    x, h0, mask = inputs(7, timesteps=8)
    use_mask = mask if opts.pop("mask", False) else None
    training = bool(opts.get("dropout"))
    fused = run(cls, {**kwargs, **opts}, x, h0, 7, use_mask, training, truncate_bptt=k)
    unrolled = run(cls, {**kwargs, **opts, "unroll": True}, x, h0, 7, use_mask, training,
                   truncate_bptt=k)
    both = run(cls, {**kwargs, **opts}, x, h0, 7, use_mask, training, truncate_bptt=k,
               recompute=3)
    assert_all_close(fused[:-1], unrolled[:-1], rtol=1e-10)
    assert_all_close(both, fused, rtol=1e-10)
    if k >= 8:  # no boundary inside the sequence: plain BPTT
        assert_all_close(fused, run(cls, {**kwargs, **opts}, x, h0, 7, use_mask, training), 1e-10)


def test_truncation_matches_a_hand_built_graph_with_detach(float64):
    """SimpleRNN truncated to chunks of 3, against a loop of ops with detach() at the boundaries."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 2))
    layer = SimpleRNN(3, return_sequences=True, truncate_bptt=3)
    xt = minirnn.tensor(x, requires_grad=True)
    upstream = rng.standard_normal((2, 7, 3))
    (layer(xt) * upstream).sum().backward()

    w_x, w_h, b = (minirnn.tensor(w.data, requires_grad=True) for w in layer.weights)
    xr = minirnn.tensor(x, requires_grad=True)
    h, outputs = minirnn.tensor(np.zeros((2, 3))), []
    for t in range(7):
        if t and t % 3 == 0:
            h = h.detach()
        h = ops.tanh(xr[:, t] @ w_x + h @ w_h + b)
        outputs.append(h)
    (ops.stack(outputs, axis=1) * upstream).sum().backward()
    np.testing.assert_allclose(xt.grad, xr.grad, rtol=1e-12)
    for ours, ref in zip(layer.weights, (w_x, w_h, b)):
        np.testing.assert_allclose(ours.grad, ref.grad, rtol=1e-12)
    # and it differs from full BPTT: the cut is real
    full = SimpleRNN(3, return_sequences=True)
    full.build(x.shape)
    full.set_weights(layer.get_weights())
    xf = minirnn.tensor(x, requires_grad=True)
    (full(xf) * upstream).sum().backward()
    assert np.abs(xf.grad - xt.grad).max() > 1e-3


def test_long_sequence_with_recompute_runs_and_keeps_float32():
    layer = LSTM(8, recompute=True)
    x = minirnn.tensor(np.random.default_rng(0).standard_normal((1, 400, 3)).astype("float32"),
                       requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.dtype == np.float32 and layer.kernel.grad.dtype == np.float32
    assert layer.bptt_gradients.shape == (400, 1, 8)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"recompute": 0}, ValueError,
     r"`recompute` \(a bool, or a segment length\) must be an int >= 1; got 0"),
    ({"recompute": "yes"}, TypeError,
     r"`recompute` \(a bool, or a segment length\) must be an int; got 'yes'"),
    ({"truncate_bptt": 0}, ValueError, "`truncate_bptt` must be an int >= 1; got 0"),
    ({"truncate_bptt": 2.5}, TypeError, "`truncate_bptt` must be an int; got 2.5"),
    ({"bptt": "slow"}, ValueError, re.escape("bptt must be one of ['fast', 'reference']; got 'slow'")),
    ({"bptt": None}, ValueError, re.escape("bptt must be one of ['fast', 'reference']; got None")),
])
def test_bad_options_name_expected_and_got(kwargs, error, message):
    for cls in (SimpleRNN, LSTM, GRU):
        with pytest.raises(error, match=message):
            cls(3, **kwargs)


def test_options_survive_get_config():
    layer = GRU(4, recompute=5, truncate_bptt=3, bptt="reference")
    clone = GRU.from_config(layer.get_config())
    assert (clone.recompute, clone.truncate_bptt, clone.bptt) == (5, 3, "reference")
    assert LSTM(2).get_config()["bptt"] == "fast"
    both = minirnn.layers.Bidirectional(SimpleRNN(2, bptt="reference"))
    assert both.backward_layer.bptt == "reference"
    assert minirnn.layers.Bidirectional.from_config(both.get_config()).backward_layer.bptt == \
        "reference"
