"""RNN(cell) over cells of one's own (Keras's protocol), StackedRNNCells, and cells with a
hand-written backward step checked by check_cell; without TensorFlow.

References: the constant cases of Keras's rnn_test.py (numbers worked by hand), finite
differences in float64, the engine's autodiff of a cell's call, and the built-in layers.
"""
import re

import numpy as np
import pytest

import minirnn
import minirnn as keras            # Keras-style user code runs with this import alone
from minirnn import Tensor, check_cell, layers, ops
from minirnn.numeric import sigmoid


@pytest.fixture
def float64():
    previous = minirnn.floatx()
    minirnn.set_floatx("float64")
    yield
    minirnn.set_floatx(previous)


# -- cells written as in Keras's rnn_test.py and guides ------------------------------------------

class OneStateRNNCell(keras.layers.Layer):
    def __init__(self, units, state_size=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = state_size if state_size else units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="ones", name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        h = keras.ops.matmul(inputs, self.kernel)
        output = h + keras.ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]


class TwoStatesRNNCell(keras.layers.Layer):
    def __init__(self, units, state_size=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = state_size if state_size else [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones",
                                      name="kernel")
        self.recurrent_kernel_1 = self.add_weight(shape=(self.units, self.units),
                                                  initializer="ones", name="recurrent_kernel_1")
        self.recurrent_kernel_2 = self.add_weight(shape=(self.units, self.units),
                                                  initializer="ones", name="recurrent_kernel_2")

    def call(self, inputs, states):
        prev_1 = states[0]
        prev_2 = states[0]
        h = keras.ops.matmul(inputs, self.kernel)
        output_1 = h + keras.ops.matmul(prev_1, self.recurrent_kernel_1)
        output_2 = h + keras.ops.matmul(prev_2, self.recurrent_kernel_2)
        output = output_1 + output_2
        return output, [output_1, output_2]


class LayerNorm(keras.layers.Layer):
    """Layer normalisation over the last axis, from ops (gamma, beta), as Keras's defaults."""

    def __init__(self, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight((input_shape[-1],), "ones", name="gamma")
        self.beta = self.add_weight((input_shape[-1],), "zeros", name="beta")

    def call(self, x):
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        return centred / ops.sqrt(variance + self.epsilon) * self.gamma + self.beta


class LNSimpleRNNCell(keras.layers.Layer):
    """Hands-On Machine Learning (3rd ed.), chapter 15, unchanged but for LayerNorm above."""

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.state_size = units
        self.output_size = units
        self.simple_rnn_cell = keras.layers.SimpleRNNCell(units, activation=None)
        self.layer_norm = LayerNorm()
        self.activation = keras.activations.get(activation)

    def call(self, inputs, states):
        outputs, new_states = self.simple_rnn_cell(inputs, states)
        norm_outputs = self.activation(self.layer_norm(outputs))
        return norm_outputs, [norm_outputs]


class MinimalRNNCell(keras.layers.Layer):
    """keras.layers.RNN's docstring example."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="uniform", name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        h = keras.ops.matmul(inputs, self.kernel)
        output = h + keras.ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]


# -- a cell with its own backward step: h = alpha * tanh(x W_x + b + h_prev W_h) -------------------

class ScaledRNNCell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), "glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, self.units), "orthogonal",
                                                name="recurrent_kernel")
        self.bias = self.add_weight((self.units,), "uniform", name="bias")
        self.alpha = self.add_weight((self.units,), "ones", name="alpha")
        self.step_weights = [self.alpha]

    def call(self, inputs, states):
        z = inputs @ self.kernel + self.bias + states[0] @ self.recurrent_kernel
        h = self.alpha * ops.tanh(z)
        return h, [h]

    def step_forward(self, zx, states, W_h, b_h=None, rec_mask=None):
        rec_in = states[0] if rec_mask is None else states[0] * rec_mask
        t = np.tanh(zx + rec_in @ W_h)
        return (self.alpha.data * t,), {"t": t, "rec_in": rec_in, "mask": rec_mask}

    def step_backward(self, dstates, cache, W_h):
        dh, = dstates
        t = cache["t"]
        dz = dh * self.alpha.data * (1.0 - t * t)
        dh_prev = dz @ W_h.T
        if cache["mask"] is not None:
            dh_prev *= cache["mask"]
        return dz, dz, (dh_prev,), ((dh * t).sum(axis=0),)


class WrongAlphaGradient(ScaledRNNCell):
    def step_backward(self, dstates, cache, W_h):
        dz, dzh, dprev, (dalpha,) = super().step_backward(dstates, cache, W_h)
        return dz, dzh, dprev, (2.0 * dalpha,)


class PeepholeLSTMCell(keras.layers.Layer):
    """A peephole LSTM written twice: in ops (call) and by hand (step_forward / step_backward)."""

    def __init__(self, units, wrong_block=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.wrong_block = units, wrong_block
        self.state_size = [units, units]

    def build(self, input_shape):
        H = self.units
        self.kernel = self.add_weight((input_shape[-1], 4 * H), "glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight((H, 4 * H), "orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight((4 * H,), "uniform", name="bias")
        self.peephole = self.add_weight((3, H), "glorot_uniform", name="peephole")
        self.step_weights = [self.peephole]

    def call(self, inputs, states):
        h_prev, c_prev = states
        z_i, z_f, z_g, z_o = ops.split(inputs @ self.kernel + self.bias +
                                       h_prev @ self.recurrent_kernel, 4, axis=1)
        p = self.peephole
        i, f = ops.sigmoid(z_i + p[0] * c_prev), ops.sigmoid(z_f + p[1] * c_prev)
        c = f * c_prev + i * ops.tanh(z_g)
        o = ops.sigmoid(z_o + p[2] * c)
        h = o * ops.tanh(c)
        return h, [h, c]

    def step_forward(self, zx, states, W_h, b_h=None, rec_mask=None):
        h_prev, c_prev = states
        H, p = self.units, self.peephole.data
        z = zx + h_prev @ W_h
        i = sigmoid(z[:, :H] + p[0] * c_prev)
        f = sigmoid(z[:, H:2 * H] + p[1] * c_prev)
        g = np.tanh(z[:, 2 * H:3 * H])
        c = f * c_prev + i * g
        o = sigmoid(z[:, 3 * H:] + p[2] * c)
        return (o * np.tanh(c), c), {"gates": (i, f, g, o), "c_prev": c_prev, "c": c,
                                     "rec_in": h_prev}

    def step_backward(self, dstates, cache, W_h):
        dh, dc = dstates
        (i, f, g, o), c_prev, c = cache["gates"], cache["c_prev"], cache["c"]
        p, tc = self.peephole.data, np.tanh(cache["c"])
        dz_o = dh * tc * o * (1 - o)
        dc = dc + dh * o * (1 - tc ** 2) + dz_o * p[2]
        dz_i = dc * g * i * (1 - i)
        dz_f = dc * c_prev * f * (1 - f)
        dz_g = dc * i * (1 - g ** 2)
        blocks = [dz_i, dz_f, dz_g, dz_o]
        if self.wrong_block is not None:      # a sign slip in one gate's derivative
            blocks[self.wrong_block] = -blocks[self.wrong_block]
        dz = np.concatenate(blocks, axis=1)
        dpeep = np.stack([(dz_i * c_prev).sum(0), (dz_f * c_prev).sum(0), (dz_o * c).sum(0)])
        return dz, dz, (dz @ W_h.T, dc * f + dz_i * p[0] + dz_f * p[1]), (dpeep,)


# -- Keras's rnn_test.py constant cases -----------------------------------------------------------

@pytest.mark.parametrize("unroll", [False, True])
def test_keras_forward_pass_single_and_two_states(unroll):
    seq = np.ones((1, 2, 3))
    np.testing.assert_allclose(keras.layers.RNN(OneStateRNNCell(2), unroll=unroll)(seq).data,
                               [[9.0, 9.0]])
    out, state = keras.layers.RNN(OneStateRNNCell(2), return_sequences=True, return_state=True,
                                  unroll=unroll)(seq)
    np.testing.assert_allclose(out.data, [[[3.0, 3.0], [9.0, 9.0]]])
    np.testing.assert_allclose(state.data, [[9.0, 9.0]])
    out, s1, s2 = keras.layers.RNN(TwoStatesRNNCell(2), return_sequences=True, return_state=True,
                                   unroll=unroll)(seq)
    np.testing.assert_allclose(out.data, [[[6.0, 6.0], [18.0, 18.0]]])
    np.testing.assert_allclose(s1.data, [[9.0, 9.0]])
    np.testing.assert_allclose(s2.data, [[9.0, 9.0]])


def test_keras_initial_state_statefulness_and_go_backwards():
    seq, state = np.ones((2, 3, 2)), np.ones((2, 2))
    out = keras.layers.RNN(OneStateRNNCell(2))(seq, initial_state=state)
    np.testing.assert_allclose(out.data, [[22.0, 22.0], [22.0, 22.0]])
    out, s1, s2 = keras.layers.RNN(TwoStatesRNNCell(2), return_state=True)(
        seq, initial_state=[state, state])
    np.testing.assert_allclose(out.data, [[44.0, 44.0]] * 2)
    np.testing.assert_allclose(s1.data, [[22.0, 22.0]] * 2)
    layer = keras.layers.RNN(TwoStatesRNNCell(2), stateful=True, return_state=True)
    layer(np.ones((1, 2, 3)))
    out, s1, s2 = layer(np.ones((1, 2, 3)))
    np.testing.assert_allclose(out.data, [[90.0, 90.0]])
    np.testing.assert_allclose(s2.data, [[45.0, 45.0]])
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    np.testing.assert_allclose(keras.layers.RNN(OneStateRNNCell(2), go_backwards=True)(
        sequence).data, [[202.0, 202.0], [538.0, 538.0]])
    layer = keras.layers.RNN(OneStateRNNCell(2), stateful=True, return_state=True)
    layer(sequence)
    out, state = layer(sequence)
    np.testing.assert_allclose(out.data, [[954.0, 954.0], [3978.0, 3978.0]])


@pytest.mark.parametrize("unroll", [False, True])
def test_keras_masking(unroll):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    out = keras.layers.RNN(OneStateRNNCell(2), unroll=unroll)(sequence, mask=mask)
    np.testing.assert_allclose(out.data, [[57.0, 57.0], [126.0, 126.0]])
    out = keras.layers.RNN(OneStateRNNCell(2), return_sequences=True, unroll=unroll)(
        sequence, mask=mask)
    np.testing.assert_allclose(out.data, [[[3, 3], [18, 18], [57, 57], [57, 57]],
                                          [[39, 39], [126, 126], [126, 126], [126, 126]]])


def test_stateful_batch_size_mismatch_raises():
    layer = keras.layers.RNN(TwoStatesRNNCell(2), stateful=True)
    layer(np.ones((4, 5, 3)))
    with pytest.raises(ValueError, match="batch of 1"):
        layer(np.ones((1, 5, 3)))


# -- cells of one's own against finite differences ----------------------------------------------

def _loss_of(layer, x, upstream):
    def loss(x_tensor):
        outputs = layer(x_tensor)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        total = None
        for o, u in zip(minirnn.layers.base.flatten(outputs), upstream):
            term = (o * u).sum()
            total = term if total is None else total + term
        return total
    return loss


@pytest.mark.parametrize("make", [lambda: MinimalRNNCell(3), lambda: LNSimpleRNNCell(3),
                                  lambda: TwoStatesRNNCell(3)], ids=["minimal", "ln", "two"])
@pytest.mark.parametrize("opts", [{}, {"return_sequences": True, "go_backwards": True},
                                  {"return_state": True, "return_sequences": True}])
def test_cell_written_with_ops_equals_finite_differences(float64, make, opts):
    rng = np.random.default_rng(3)
    layer = keras.layers.RNN(make(), **opts)
    x = rng.standard_normal((2, 4, 2))
    outputs = layer(x)
    outputs = minirnn.layers.base.flatten(outputs if isinstance(outputs, list) else [outputs])
    upstream = [rng.standard_normal(o.shape) for o in outputs]
    minirnn.check_grads(_loss_of(layer, x, upstream), x, params=layer.weights)


def test_ln_simple_rnn_cell_trains_in_a_keras_script():
    minirnn.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 6, 2)).astype("float32")
    y = (x.sum(axis=(1, 2))[:, None] / 4.0).astype("float32")
    model = keras.models.Sequential([keras.Input((None, 2)),
                                     keras.layers.RNN(LNSimpleRNNCell(8), return_sequences=False),
                                     keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert len(model.layers[0].weights) == 5          # kernel, recurrent_kernel, bias, gamma, beta


# -- a hand-written backward step ---------------------------------------------------------------

def test_check_cell_accepts_correct_backward_steps():
    for cell in (ScaledRNNCell(4), PeepholeLSTMCell(3)):
        errors = check_cell(cell, input_shape=(3, 2))
        assert errors["step autodiff of call"] < 1e-10 and errors["sequence"] < 1e-10


@pytest.mark.parametrize("block", [0, 2, 3])
def test_check_cell_names_the_gate_block_and_weight_that_disagree(block):
    with pytest.raises(minirnn.CellCheckError) as error:
        check_cell(PeepholeLSTMCell(3, wrong_block=block), input_shape=(2, 2))
    text = str(error.value)
    assert re.search(rf"kernel columns {3 * block}:{3 * block + 3} \(gate block {block} of 4\)", text)
    assert "finite differences" in text and "autodiff of call" in text
    other = {0, 1, 2, 3} - {block}
    assert not any(f"(gate block {b} of 4)" in text for b in other)


def test_check_cell_names_a_wrong_step_weight_gradient():
    with pytest.raises(minirnn.CellCheckError) as error:
        check_cell(WrongAlphaGradient(3), input_shape=(2, 2))
    text = str(error.value)
    assert "step_weights[0]" in text and "alpha" in text
    assert "kernel" not in text.replace("recurrent_kernel", "")  # only alpha is wrong


def test_check_cell_leaves_weights_and_dtype_as_they_were():
    cell = ScaledRNNCell(3)
    cell.build((2, 2))
    before = [w.data for w in cell.weights]
    check_cell(cell, input_shape=(2, 2))
    assert all(w.data is b for w, b in zip(cell.weights, before))
    assert cell.dtype == "float32" and all(w.dtype == np.float32 for w in cell.weights)


OPTIONS = {
    "last": {},
    "sequences_state": {"return_sequences": True, "return_state": True},
    "backwards_mask": {"return_sequences": True, "go_backwards": True, "mask": True},
    "zero_output_mask": {"return_sequences": True, "zero_output_for_mask": True, "mask": True},
    "truncate": {"return_sequences": True, "truncate_bptt": 2},
    "recompute": {"return_sequences": True, "recompute": 2},
}


def _run(layer, x, mask, upstream_seed):
    xt = Tensor(x.copy(), requires_grad=True)
    for w in layer.weights:
        w.grad = None
    outputs = layer(xt, mask=mask)
    flat = minirnn.layers.base.flatten(outputs if isinstance(outputs, list) else [outputs])
    rng = np.random.default_rng(upstream_seed)
    total = None
    for o in flat:
        term = (o * rng.standard_normal(o.shape)).sum()
        total = term if total is None else total + term
    total.backward()
    return [o.data for o in flat], [xt.grad] + [w.grad for w in layer.weights], layer.bptt_gradients


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("make", [lambda: ScaledRNNCell(3), lambda: PeepholeLSTMCell(3)],
                         ids=["scaled", "peephole"])
def test_hand_written_bptt_equals_the_engines_over_every_option(float64, make, option):
    opts = dict(OPTIONS[option])
    use_mask = opts.pop("mask", False)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 2))
    mask = np.array([[0, 1, 1, 1, 1, 1], [1, 1, 0, 1, 1, 1], [1] * 6], bool) if use_mask else None
    cell = make()
    hand = _run(layers.RNN(cell, **opts), x, mask, 9)
    engine = _run(layers.RNN(cell, unroll=True, **opts), x, mask, 9)
    for a, b in zip(hand[0] + hand[1] + [hand[2]], engine[0] + engine[1] + [engine[2]]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_hand_written_bptt_records_no_graph_per_op(float64):
    layer = layers.RNN(ScaledRNNCell(3), return_sequences=True)
    y = layer(Tensor(np.ones((2, 5, 2)), requires_grad=True))
    assert layer._unrolled_states is None       # the fused node ran, not the per-step loop
    y.sum().backward()
    assert layer.bptt_gradients.shape == (5, 2, 3)


def test_custom_cell_bptt_gradients_are_dl_dh(float64):
    """dL/dh_t of a custom cell (the loop retains each step's first state's gradient), against
    the hand-written path's."""
    x = np.random.default_rng(2).standard_normal((2, 5, 2))
    cell = ScaledRNNCell(3)
    hand = layers.RNN(cell)
    hand(Tensor(x)).sum().backward()
    loop = layers.RNN(cell, unroll=True)
    loop(Tensor(x)).sum().backward()
    np.testing.assert_allclose(loop.bptt_gradients, hand.bptt_gradients, rtol=1e-12)
    np.testing.assert_allclose(loop.bptt_gradients[-1], np.ones((2, 3)))


def test_custom_cell_stateful_and_bidirectional(float64):
    x = np.random.default_rng(4).standard_normal((2, 4, 2))
    cell = ScaledRNNCell(3)
    stateful = layers.RNN(cell, stateful=True)
    stateful(x[:, :2])
    second = stateful(x[:, 2:]).data
    whole = layers.RNN(cell)(x).data
    np.testing.assert_allclose(second, whole, rtol=1e-12)
    bi = layers.Bidirectional(layers.RNN(ScaledRNNCell(3), return_sequences=True))
    y = bi(x)
    assert y.shape == (2, 4, 6) and len(bi.weights) == 8
    fw, bw = bi.forward_layer, bi.backward_layer
    assert bw.cell is not fw.cell and bw.go_backwards
    np.testing.assert_allclose(y.data[..., :3], fw(x).data, rtol=1e-12)


# -- built-in cells, stacks, and Keras's surprises ----------------------------------------------

def test_cell_protocol_surprises():
    lstm, gru, simple = layers.LSTMCell(3), layers.GRUCell(2), layers.SimpleRNNCell(2)
    assert lstm.state_size == [3, 3] and gru.state_size == 2 and simple.state_size == 2
    x, h = np.ones((4, 5)), np.zeros((4, 2))
    out, new = simple(x, [h])
    assert isinstance(new, list) and len(new) == 1 and new[0] is out
    out, new = gru(x, h)
    assert isinstance(new, Tensor) and new is out
    out, new = lstm(x, [np.zeros((4, 3))] * 2)
    assert isinstance(new, list) and len(new) == 2
    states = lstm.get_initial_state(4)
    assert isinstance(states, list) and [s.shape for s in states] == [(4, 3), (4, 3)]
    assert isinstance(gru.get_initial_state(4), list)


@pytest.mark.parametrize("unroll", [False, True])
def test_stacked_cells_return_one_state_entry_per_cell(unroll):
    rnn = layers.RNN(layers.StackedRNNCells([layers.LSTMCell(4), layers.GRUCell(3)]),
                     return_state=True, unroll=unroll)
    out, s1, s2 = rnn(np.ones((2, 5, 3)))
    assert out.shape == (2, 3)
    assert isinstance(s1, list) and [s.shape for s in s1] == [(2, 4), (2, 4)]
    assert isinstance(s2, list) and [s.shape for s in s2] == [(2, 3)]
    np.testing.assert_array_equal(s2[0].data, out.data)


@pytest.mark.parametrize("opts", [{}, {"go_backwards": True, "mask": True},
                                  {"return_sequences": True, "mask": True},
                                  {"return_sequences": True, "zero_output_for_mask": True,
                                   "mask": True, "go_backwards": True}])
def test_stacked_fused_equals_stacked_loop(float64, opts):
    opts = dict(opts, return_state=True)
    use_mask = opts.pop("mask", False)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5, 2))
    mask = np.array([[0, 1, 1, 1, 1], [1, 1, 0, 1, 0], [1] * 5], bool) if use_mask else None
    cells_ = [layers.LSTMCell(3), layers.GRUCell(2, reset_after=False), layers.SimpleRNNCell(2)]
    fused = layers.RNN(cells_, **opts)
    fused_result = _run(fused, x, mask, 1)
    assert fused._unrolled_states is None
    loop_result = _run(layers.RNN(fused.cell, unroll=True, **opts), x, mask, 1)
    for a, b in zip(fused_result[0] + fused_result[1] + [fused_result[2]],
                    loop_result[0] + loop_result[1] + [loop_result[2]]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bptt", ["fast", "reference"])
def test_rnn_over_lstm_cell_is_lstm(float64, bptt):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 7, 2))
    lstm = layers.LSTM(4, return_sequences=True, bptt=bptt)
    rnn = layers.RNN(layers.LSTMCell(4), return_sequences=True, bptt=bptt)
    lstm.build((None, 7, 2))
    rnn.build((None, 7, 2))
    rnn.set_weights(lstm.get_weights())
    a, b = _run(lstm, x, None, 2), _run(rnn, x, None, 2)
    assert rnn._unrolled_states is None and lstm._unrolled_states is None   # the fused op ran
    for u, v in zip(a[0] + a[1] + [a[2]], b[0] + b[1] + [b[2]]):
        np.testing.assert_array_equal(u, v)
    assert [w.name.split("/")[-1] for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert isinstance(lstm.cell, layers.LSTMCell) and lstm.cell.kernel is lstm.weights[0]


def test_layer_config_flattens_the_cells_arguments_and_rnn_config_holds_the_cell():
    lstm = layers.LSTM(5, recurrent_activation="hard_sigmoid", dropout=0.25, seed=3,
                       return_sequences=True)
    config = lstm.get_config()
    assert "cell" not in config and config["units"] == 5 and config["seed"] == 3
    assert config["recurrent_activation"] == "hard_sigmoid" and config["dropout"] == 0.25
    clone = layers.LSTM.from_config(config)
    assert clone.get_config() == config and clone.cell.units == 5
    rnn = layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], return_state=True, name="stack")
    config = rnn.get_config()
    assert config["cell"]["class_name"] == "StackedRNNCells"
    clone = layers.RNN.from_config(config)
    assert [type(c).__name__ for c in clone.cell.cells] == ["LSTMCell", "GRUCell"]
    assert clone.get_config() == config


def test_model_with_rnn_over_cells_saves_and_loads(tmp_path):
    model = minirnn.Sequential([minirnn.Input((4, 2)),
                                layers.RNN([layers.GRUCell(3), layers.LSTMCell(2)]),
                                layers.Dense(1)])
    x = np.random.default_rng(0).standard_normal((2, 4, 2)).astype("float32")
    model.save(tmp_path / "m.npz")
    loaded = minirnn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# -- bad cells and bad states --------------------------------------------------------------------

class NoStateSize(keras.layers.Layer):
    def call(self, inputs, states):
        return inputs, states


class WrongStates(OneStateRNNCell):
    def __init__(self, units, how, **kwargs):
        super().__init__(units, **kwargs)
        self.how = how

    def call(self, inputs, states):
        output, new = super().call(inputs, states)
        if self.how == "count":
            return output, [output, output]
        return output, [ops.concat([output, output], axis=1)]


class WrongStepStates(ScaledRNNCell):
    def step_forward(self, zx, states, W_h, b_h=None, rec_mask=None):
        new, cache = super().step_forward(zx, states, W_h, b_h, rec_mask)
        return new + new, cache


def test_cell_without_state_size_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"state_size.*NoStateSize 'probe_cell'"):
        layers.RNN(NoStateSize(name="probe_cell"))
    with pytest.raises(ValueError, match=r"`cell`.*call"):
        layers.RNN(object())
    with pytest.raises(ValueError, match=r"state_size.*'2'"):
        layers.RNN(OneStateRNNCell(2, state_size="2"))


@pytest.mark.parametrize("how,got", [("count", r"2 new state\(s\) of shapes \[\(2, 3\), \(2, 3\)\]"),
                                     ("shape", r"1 new state\(s\) of shapes \[\(2, 6\)\]")])
def test_cell_returning_wrong_states_is_named(how, got):
    layer = layers.RNN(WrongStates(3, how, name="bad_cell"), name="probe")
    with pytest.raises(ValueError) as error:
        layer(np.ones((2, 4, 2)))
    text = str(error.value)
    assert "RNN 'probe'" in text and "WrongStates 'bad_cell'" in text
    assert re.search(got, text) and "expects 1 of shapes [('batch', 3)]" in text


def test_step_forward_returning_wrong_states_is_named():
    layer = layers.RNN(WrongStepStates(3, name="bad_step"), name="probe")
    with pytest.raises(ValueError, match=r"RNN 'probe'.*WrongStepStates 'bad_step'.*step_forward "
                                         r"returned 2 state\(s\).*expected 1 of shapes \[\(2, 3\)\]"):
        layer(np.ones((2, 4, 2)))


def test_wrong_initial_state_for_a_stack_is_refused():
    layer = layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], name="probe")
    with pytest.raises(ValueError, match=re.escape("[(2, 3), (2, 3), (2, 2)]")):
        layer(np.ones((2, 4, 2)), initial_state=[np.zeros((2, 3))] * 2)
