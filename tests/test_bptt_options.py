"""Recomputation (checkpointed BPTT) and truncated BPTT give the gradients of their references."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minirnn
from minirnn import ops
from minirnn.layers import GRU, LSTM, SimpleRNN

CELLS = {"simple_rnn": (SimpleRNN, {}), "lstm": (LSTM, {}), "gru": (GRU, {}),
         "gru_reset_before": (GRU, {"reset_after": False})}
OPTIONS = {"plain": {}, "go_backwards": {"go_backwards": True}, "mask": {"mask": True},
           "dropout": {"dropout": 0.3, "recurrent_dropout": 0.3}}


def run(cls, kwargs, x, h0, seed, mask=None, training=False, **layer_kwargs):
    """Outputs and gradients (inputs, initial states, weights) of one seeded layer."""
    minirnn.set_random_seed(seed)
    layer = cls(3, return_sequences=True, return_state=True, seed=seed,
                bias_initializer=minirnn.initializers.RandomNormal(seed=seed),
                kernel_initializer=minirnn.initializers.GlorotUniform(seed=seed + 1),
                recurrent_initializer=minirnn.initializers.Orthogonal(seed=seed + 2),
                **kwargs, **layer_kwargs)
    xt = minirnn.tensor(x, requires_grad=True)
    states = [minirnn.tensor(h, requires_grad=True) for h in h0[:layer.n_states]]
    outs = layer(xt, initial_state=states, mask=mask, training=training)
    rng = np.random.default_rng(seed + 3)
    sum((o * rng.standard_normal(o.shape)).sum() for o in outs).backward()
    return [o.data for o in outs] + [xt.grad] + [s.grad for s in states] + \
        [w.grad for w in layer.weights] + [layer.bptt_gradients]


def inputs(seed, batch=2, timesteps=7):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, timesteps, 2))
    h0 = [rng.standard_normal((batch, 3)) for _ in range(2)]
    mask = rng.random((batch, timesteps)) > 0.3
    return x, h0, mask


def assert_all_close(got, want, rtol):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-13)


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
])
def test_bad_options_name_expected_and_got(kwargs, error, message):
    with pytest.raises(error, match=message):
        LSTM(3, **kwargs)


def test_options_survive_get_config():
    layer = GRU(4, recompute=5, truncate_bptt=3)
    clone = GRU.from_config(layer.get_config())
    assert (clone.recompute, clone.truncate_bptt) == (5, 3)
