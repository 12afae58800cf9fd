"""Stepping a recurrent layer one timestep at a time (for greedy decoding) equals the
whole-sequence call."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minirnn
from minirnn.layers import GRU, LSTM, SimpleRNN

CELLS = [(SimpleRNN, {}), (SimpleRNN, {"activation": "relu"}), (LSTM, {}), (GRU, {}),
         (GRU, {"reset_after": False}), (LSTM, {"use_bias": False})]


@pytest.mark.parametrize("cls,kwargs", CELLS)
@given(batch=st.integers(1, 3), timesteps=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_step_by_step_equals_whole_sequence(float64, cls, kwargs, batch, timesteps, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, timesteps, 3))
    layer = cls(4, return_sequences=True, return_state=True,
                bias_initializer=minirnn.initializers.RandomNormal(seed=seed), **kwargs)
    h0 = [rng.standard_normal((batch, 4)) for _ in range(layer.n_states)]
    whole = layer(x, initial_state=h0)
    states, outputs = h0, []
    for t in range(timesteps):
        out, states = layer.step(x[:, t], states)
        outputs.append(out.data)
    np.testing.assert_allclose(np.stack(outputs, axis=1), whole[0].data, rtol=1e-12, atol=1e-14)
    for got, want in zip(states, whole[1:]):
        np.testing.assert_allclose(got.data, want.data, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,kwargs", CELLS)
def test_step_in_float32_keeps_float32_and_matches(cls, kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3)).astype("float32")
    layer = cls(5, return_state=True, **kwargs)
    last, *final = layer(x)
    states = [np.zeros((2, 5), "float32")] * layer.n_states
    for t in range(4):
        out, states = layer.step(x[:, t], states)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, last.data, rtol=1e-6, atol=1e-7)


def test_step_builds_an_unbuilt_layer_and_is_differentiable(float64):
    layer = LSTM(3)
    x = minirnn.tensor(np.ones((2, 4)), requires_grad=True)
    out, (h, c) = layer.step(x, [np.zeros((2, 3)), np.zeros((2, 3))])
    assert layer.built and out.shape == (2, 3)
    minirnn.check_grads(lambda x: layer.step(x, [np.zeros((2, 3))] * 2)[1], x.data,
                        params=layer.weights)


def test_step_bad_input_names_expected_and_got():
    layer = GRU(3)
    layer.build((None, 5, 2))
    with pytest.raises(ValueError, match=r"\(batch, features\); got \(2, 5, 2\)"):
        layer.step(np.zeros((2, 5, 2)), [np.zeros((2, 3))])
    with pytest.raises(ValueError, match="size 2 on axis -1"):
        layer.step(np.zeros((2, 4)), [np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"initial_state as 1 array\(s\) of shape .*got shapes \[\(2, 4\)\]"):
        layer.step(np.zeros((2, 2)), [np.zeros((2, 4))])
