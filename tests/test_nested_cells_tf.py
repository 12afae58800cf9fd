"""RNN(cell) over a cell of one's own that takes a structure of inputs and keeps states and outputs
of several axes: the Keras guide "Working with RNNs" (its NestedCell and model), against Keras.

Keras 3's own layers.RNN fails on the guide's cell (it builds the cell from the first input's shape
alone, and the guide's build raises IndexError), so the reference is what that layer runs once
built: RNN.inner_loop's step over the cell, in the TensorFlow backend's time loop
(keras.src.backend.tensorflow.rnn.rnn), with the layer's (output, *states) around it. The Keras
cell is the guide's, word for word, on TensorFlow ops; ours is the guide's with the minimal
changes its TensorFlow ops need. Weights are copied across; outputs, final states and the
gradients of every input, initial state and weight are compared in float64 to rel 1e-9.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tf_helpers import assert_close, import_tf

tf = import_tf()
import keras as real_keras  # noqa: E402  (after import_tf, which sets TensorFlow's environment)
from keras.src import tree as keras_tree  # noqa: E402
from keras.src.backend.tensorflow.rnn import rnn as keras_time_loop  # noqa: E402

import minirnn as keras  # noqa: E402  (the guide's code runs on this import)
from minirnn import Tensor, layers  # noqa: E402
from minirnn.layers.masks import get_mask  # noqa: E402


# -- the guide's cell, on minirnn: tf.nest.flatten -> list, tf.matmul / tf.einsum -> keras.ops ----

@keras.saving.register_keras_serializable()
class NestedCell(keras.layers.Layer):
    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        self.unit_1 = unit_1
        self.unit_2 = unit_2
        self.unit_3 = unit_3
        self.state_size = [tf.TensorShape([unit_1]), tf.TensorShape([unit_2, unit_3])]
        self.output_size = [tf.TensorShape([unit_1]), tf.TensorShape([unit_2, unit_3])]
        super().__init__(**kwargs)

    def build(self, input_shapes):
        # expect input_shape to contain 2 items, [(batch, i1), (batch, i2, i3)]
        i1 = input_shapes[0][1]
        i2 = input_shapes[1][1]
        i3 = input_shapes[1][2]

        self.kernel_1 = self.add_weight(
            shape=(i1, self.unit_1), initializer="uniform", name="kernel_1"
        )
        self.kernel_2_3 = self.add_weight(
            shape=(i2, i3, self.unit_2, self.unit_3),
            initializer="uniform",
            name="kernel_2_3",
        )

    def call(self, inputs, states):
        # inputs should be in [(batch, input_1), (batch, input_2, input_3)]
        # state should be in shape [(batch, unit_1), (batch, unit_2, unit_3)]
        input_1, input_2 = list(inputs)
        s1, s2 = states

        output_1 = keras.ops.matmul(input_1, self.kernel_1)
        output_2_3 = keras.ops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        state_1 = s1 + output_1
        state_2_3 = s2 + output_2_3

        output = (output_1, output_2_3)
        new_states = (state_1, state_2_3)

        return output, new_states

    def get_config(self):
        return {"unit_1": self.unit_1, "unit_2": unit_2, "unit_3": self.unit_3}


class NestedListCell(NestedCell):
    """The guide's cell with its sizes as plain lists instead of TensorShapes."""

    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        super().__init__(unit_1, unit_2, unit_3, **kwargs)
        self.state_size = [[unit_1], [unit_2, unit_3]]
        self.output_size = [[unit_1], [unit_2, unit_3]]


# -- the same cell, as the guide writes it, on Keras and TensorFlow ------------------------------

class KerasNestedCell(real_keras.layers.Layer):
    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        self.unit_1 = unit_1
        self.unit_2 = unit_2
        self.unit_3 = unit_3
        self.state_size = [tf.TensorShape([unit_1]), tf.TensorShape([unit_2, unit_3])]
        self.output_size = [tf.TensorShape([unit_1]), tf.TensorShape([unit_2, unit_3])]
        super().__init__(**kwargs)

    def build(self, input_shapes):
        i1 = input_shapes[0][1]
        i2 = input_shapes[1][1]
        i3 = input_shapes[1][2]
        self.kernel_1 = self.add_weight(
            shape=(i1, self.unit_1), initializer="uniform", name="kernel_1")
        self.kernel_2_3 = self.add_weight(
            shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform", name="kernel_2_3")

    def call(self, inputs, states):
        input_1, input_2 = tf.nest.flatten(inputs)
        s1, s2 = states
        output_1 = tf.matmul(input_1, self.kernel_1)
        output_2_3 = tf.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        state_1 = s1 + output_1
        state_2_3 = s2 + output_2_3
        output = (output_1, output_2_3)
        new_states = (state_1, state_2_3)
        return output, new_states


# -- a cell over the guide's handwriting data: a dict of inputs, a dict output, a nonlinearity ---

class PenCell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, (2, units)]

    def build(self, input_shapes):
        self.w_location = self.add_weight((input_shapes["location"][-1], self.units), "uniform",
                                          name="w_location")
        self.w_pressure = self.add_weight((input_shapes["pressure"][-1], self.units), "uniform",
                                          name="w_pressure")
        self.w_h = self.add_weight((self.units, self.units), "orthogonal", name="w_h")

    def call(self, inputs, states):
        h, trace = states
        h = keras.ops.tanh(keras.ops.matmul(inputs["location"], self.w_location)
                           + keras.ops.matmul(inputs["pressure"], self.w_pressure)
                           + keras.ops.matmul(h, self.w_h))
        trace = keras.ops.stack([h, trace[:, 0] * h], axis=1)
        return {"h": h, "ink": h * inputs["pressure"]}, [h, trace]


class KerasPenCell(real_keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, tf.TensorShape([2, units])]

    def build(self, input_shapes):
        self.w_location = self.add_weight((input_shapes["location"][-1], self.units), "uniform",
                                          name="w_location")
        self.w_pressure = self.add_weight((input_shapes["pressure"][-1], self.units), "uniform",
                                          name="w_pressure")
        self.w_h = self.add_weight((self.units, self.units), "orthogonal", name="w_h")

    def call(self, inputs, states):
        h, trace = states
        h = tf.tanh(tf.matmul(inputs["location"], self.w_location)
                    + tf.matmul(inputs["pressure"], self.w_pressure) + tf.matmul(h, self.w_h))
        trace = tf.stack([h, trace[:, 0] * h], axis=1)
        return {"h": h, "ink": h * inputs["pressure"]}, [h, trace]


# -- the reference: Keras's RNN.call, once built, over a cell -----------------------------------

def keras_rnn(cell, inputs, initial_state, mask=None, go_backwards=False,
              return_sequences=False, zero_output_for_mask=False):
    """What keras.layers.RNN.call computes after its build: inner_loop's step over the cell in
    the backend's time loop, then `output` or `(output, *states)`; returned here as (output,
    states)."""
    def step(step_inputs, states):
        output, new_states = cell(step_inputs, states)
        if not keras_tree.is_nested(new_states):
            new_states = [new_states]
        return output, new_states

    first = keras_tree.flatten(inputs)[0]
    last_output, outputs, states = keras_time_loop(
        step, inputs, list(initial_state), go_backwards=go_backwards,
        mask=None if mask is None else tf.constant(mask), unroll=False,
        input_length=first.shape[1], zero_output_for_mask=zero_output_for_mask,
        return_all_outputs=return_sequences)
    return (outputs if return_sequences else last_output), list(states)


def leaves(tree):
    """The leaves of nested lists/tuples/dicts, a dict's by sorted key (the same order for
    Keras's structures and ours)."""
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in leaves(t)]
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in leaves(tree[k])]
    return [tree]


def kinds(tree):
    """The containers of a structure (tuple, list, dict with its keys), leaves left out."""
    if isinstance(tree, (list, tuple)):
        return (type(tree).__name__, [kinds(t) for t in tree])
    if isinstance(tree, dict):
        return ("dict", {k: kinds(v) for k, v in tree.items()})
    return None


def structure_of(arrays, make):
    """`make` over every array of a structure (tuple, list, dict), the structure kept."""
    if isinstance(arrays, (list, tuple)):
        return type(arrays)(structure_of(a, make) for a in arrays)
    if isinstance(arrays, dict):
        return {k: structure_of(v, make) for k, v in arrays.items()}
    return make(arrays)


def step_shapes(inputs):
    return structure_of(inputs, lambda a: (a.shape[0],) + a.shape[2:])


def compare_with_keras(our_cell, keras_cell, inputs, opts, mask=None, initial_state=None,
                       seed=0):
    """Run RNN(our_cell, **opts) and Keras's loop over keras_cell (given our weights) on the same
    inputs; compare outputs, states, and the gradients of every input, initial state and weight
    of sum(output * upstream) over every output and returned state."""
    rng = np.random.default_rng(seed)
    ours = layers.RNN(our_cell, **opts)
    m_inputs = structure_of(inputs, lambda a: Tensor(a, requires_grad=True))
    m_states = None if initial_state is None else [Tensor(s, requires_grad=True)
                                                   for s in initial_state]
    result = ours(m_inputs, initial_state=m_states, mask=mask)
    m_output, m_final = (result[0], result[1:]) if opts.get("return_state") else (result, [])
    returned = leaves(m_output) + leaves(m_final)
    upstream = [rng.standard_normal(r.shape) for r in returned]
    loss = None
    for r, u in zip(returned, upstream):
        term = (r * Tensor(u)).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    weights = our_cell.weights
    m_grads = [x.grad for x in leaves(m_inputs)] + [s.grad for s in m_states or []] + \
        [w.grad for w in weights]

    keras_cell.build(step_shapes(inputs))
    keras_cell.set_weights([w.data for w in weights])
    t_inputs = structure_of(inputs, tf.constant)
    zeros = [np.zeros(s.shape) for s in our_cell_zero_states(ours, leaves(inputs)[0].shape[0])]
    t_states = [tf.constant(s) for s in (initial_state if initial_state is not None else zeros)]
    with tf.GradientTape() as tape:
        tape.watch(leaves(t_inputs) + t_states)
        k_output, k_final = keras_rnn(
            keras_cell, t_inputs, t_states, mask=mask, go_backwards=opts.get("go_backwards", False),
            return_sequences=opts.get("return_sequences", False),
            zero_output_for_mask=opts.get("zero_output_for_mask", False))
        k_returned = leaves(k_output) + (leaves(k_final) if opts.get("return_state") else [])
        k_loss = tf.add_n([tf.reduce_sum(r * u) for r, u in zip(k_returned, upstream)])
    sources = leaves(t_inputs) + (t_states if initial_state is not None else []) + \
        list(keras_cell.trainable_weights)
    k_grads = tape.gradient(k_loss, sources)

    assert kinds(m_output) == kinds(k_output)  # a tuple stays a tuple, a dict a dict
    assert len(returned) == len(k_returned)
    for i, (m, k) in enumerate(zip(returned, k_returned)):
        assert m.shape == tuple(k.shape), f"returned value {i}"
        assert_close(m.data, k.numpy(), "float64", f"returned value {i}")
    for i, (m, k) in enumerate(zip(m_grads, k_grads)):
        assert_close(m, k.numpy(), "float64", f"gradient {i}")
    return ours


def our_cell_zero_states(layer, batch):
    """The zero states the Keras side starts from when no initial_state is given: zeros of each
    state's full shape (batch, *state shape), drawn from the sizes alone."""
    shapes = []
    for size in layer.state_size:
        dims = size.as_list() if hasattr(size, "as_list") else \
            [size] if isinstance(size, int) else list(size)
        shapes.append(np.zeros([batch] + dims))
    return shapes


B, T = 3, 4
# the guide's names, small sizes
unit_1, unit_2, unit_3 = 2, 3, 2
i1, i2, i3 = 3, 2, 3


def guide_inputs(rng, batch=B, timesteps=T):
    return (rng.standard_normal((batch, timesteps, i1)),
            rng.standard_normal((batch, timesteps, i2, i3)))


def guide_mask():
    mask = np.ones((B, T), bool)
    mask[0, :2] = False     # left padding
    mask[1, 2] = False      # a hole
    mask[2, 3:] = False     # right padding
    return mask


def initial_states(rng, batch=B):
    return [0.5 * rng.standard_normal((batch, unit_1)),
            0.5 * rng.standard_normal((batch, unit_2, unit_3))]


# -- the guide, run as written -------------------------------------------------------------------

@pytest.mark.parametrize("cell_class", [NestedCell, NestedListCell])
def test_guide_model_builds_fits_and_equals_keras(float64, cell_class):
    batch_size = 4
    num_batches = 2
    timestep = 5

    cell = cell_class(unit_1, unit_2, unit_3)
    rnn = keras.layers.RNN(cell)

    input_1 = keras.Input((None, i1))
    input_2 = keras.Input((None, i2, i3))

    outputs = rnn((input_1, input_2))

    model = keras.models.Model([input_1, input_2], outputs)

    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])

    np.random.seed(0)
    input_1_data = np.random.random((batch_size * num_batches, timestep, i1))
    input_2_data = np.random.random((batch_size * num_batches, timestep, i2, i3))
    target_1_data = np.random.random((batch_size * num_batches, unit_1))
    target_2_data = np.random.random((batch_size * num_batches, unit_2, unit_3))
    input_data = [input_1_data, input_2_data]
    target_data = [target_1_data, target_2_data]

    assert isinstance(outputs, tuple)
    assert [o.shape for o in outputs] == [(None, unit_1), (None, unit_2, unit_3)]
    before = model.get_weights()
    history = model.fit(input_data, target_data, batch_size=batch_size)
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 1
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    # the trained model against the guide's cell on Keras, with the trained weights
    keras_cell = KerasNestedCell(unit_1, unit_2, unit_3, dtype="float64")
    keras_cell.build(step_shapes(input_data))
    keras_cell.set_weights(model.get_weights())
    for w in model.weights:  # fit leaves its last batch's gradients behind
        w.grad = None
    xs = [Tensor(a, requires_grad=True) for a in input_data]
    o1, o2 = model(xs)
    loss = ((o1 - Tensor(target_1_data)) ** 2).mean() + ((o2 - Tensor(target_2_data)) ** 2).mean()
    loss.backward()
    t_inputs = tuple(tf.constant(a) for a in input_data)
    zeros = [tf.zeros((len(input_1_data), unit_1), tf.float64),
             tf.zeros((len(input_1_data), unit_2, unit_3), tf.float64)]
    with tf.GradientTape() as tape:
        tape.watch(t_inputs)
        (k1, k2), _ = keras_rnn(keras_cell, t_inputs, zeros)
        k_loss = tf.reduce_mean((k1 - target_1_data) ** 2) + \
            tf.reduce_mean((k2 - target_2_data) ** 2)
    k_grads = tape.gradient(k_loss, list(t_inputs) + list(keras_cell.trainable_weights))
    assert_close(o1.data, k1.numpy(), "float64", "output 1")
    assert_close(o2.data, k2.numpy(), "float64", "output 2")
    ours = [x.grad for x in xs] + [w.grad for w in rnn.cell.weights]
    for i, (m, k) in enumerate(zip(ours, k_grads)):
        assert_close(m, k.numpy(), "float64", f"gradient {i}")
    # the compiled loss is the sum of the outputs' mean squared errors, as Keras's
    evaluated = model.evaluate(input_data, target_data, batch_size=8, verbose=0)
    np.testing.assert_allclose(evaluated[0], k_loss.numpy(), rtol=1e-9)


# -- options against Keras -----------------------------------------------------------------------

SEQ_STATE = {"return_sequences": True, "return_state": True}
# name -> (layer arguments, call: initial_state, mask)
OPTIONS = {
    "last_output": ({}, {}),
    "sequences": ({"return_sequences": True}, {}),
    "state": ({"return_state": True}, {"initial_state": True}),
    "sequences_state": (SEQ_STATE, {"initial_state": True}),
    "go_backwards": ({**SEQ_STATE, "go_backwards": True}, {"initial_state": True}),
    "mask": (SEQ_STATE, {"mask": True, "initial_state": True}),
    "mask_last": ({"return_state": True}, {"mask": True}),
    "mask_go_backwards": ({**SEQ_STATE, "go_backwards": True}, {"mask": True}),
    "mask_zero_output_backwards": ({**SEQ_STATE, "zero_output_for_mask": True,
                                    "go_backwards": True}, {"mask": True}),
}


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell_class", [NestedCell, NestedListCell])
def test_nested_cell_matches_keras(float64, cell_class, option):
    opts, call = OPTIONS[option]
    rng = np.random.default_rng(sorted(OPTIONS).index(option))
    inputs = guide_inputs(rng)
    compare_with_keras(cell_class(unit_1, unit_2, unit_3),
                       KerasNestedCell(unit_1, unit_2, unit_3, dtype="float64"), inputs, opts,
                       mask=guide_mask() if call.get("mask") else None,
                       initial_state=initial_states(rng) if call.get("initial_state") else None,
                       seed=len(option))


@pytest.mark.parametrize("option", ["sequences_state", "mask_go_backwards", "mask_last"])
def test_dict_inputs_and_dict_outputs_match_keras(float64, option):
    opts, call = OPTIONS[option]
    rng = np.random.default_rng(11)
    # insertion order unlike the sorted order Keras flattens a dict in
    inputs = {"pressure": rng.random((B, T, 1)), "location": rng.standard_normal((B, T, 2))}
    state = [0.5 * rng.standard_normal((B, 3)), 0.5 * rng.standard_normal((B, 2, 3))]
    compare_with_keras(PenCell(3), KerasPenCell(3, dtype="float64"), inputs, opts,
                       mask=guide_mask() if call.get("mask") else None,
                       initial_state=state if call.get("initial_state") else None, seed=5)


@settings(max_examples=6)
@given(batch=st.integers(1, 3), timesteps=st.integers(1, 4), units=st.tuples(
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 2)), go_backwards=st.booleans(),
    masked=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_nested_cell_matches_keras_for_any_sizes(float64, batch, timesteps, units, go_backwards,
                                                 masked, seed):
    rng = np.random.default_rng(seed)
    inputs = guide_inputs(rng, batch, timesteps)
    mask = rng.random((batch, timesteps)) < 0.7 if masked else None
    compare_with_keras(NestedCell(*units), KerasNestedCell(*units, dtype="float64"), inputs,
                       {**SEQ_STATE, "go_backwards": go_backwards}, mask=mask, seed=seed)


def test_stateful_nested_cell_carries_states_as_keras_over_the_whole_sequence(float64):
    rng = np.random.default_rng(3)
    x1, x2 = guide_inputs(rng, timesteps=6)
    layer = layers.RNN(NestedCell(unit_1, unit_2, unit_3), stateful=True, return_state=True)
    layer((x1[:, :2], x2[:, :2]))
    _, *halves = layer((x1[:, 2:], x2[:, 2:]))
    keras_cell = KerasNestedCell(unit_1, unit_2, unit_3, dtype="float64")
    keras_cell.build(step_shapes((x1, x2)))
    keras_cell.set_weights(layer.get_weights())
    zeros = [tf.zeros((B, unit_1), tf.float64), tf.zeros((B, unit_2, unit_3), tf.float64)]
    _, whole = keras_rnn(keras_cell, (tf.constant(x1), tf.constant(x2)), zeros)
    for m, k in zip(halves, whole):
        assert_close(m.data, k.numpy(), "float64", "state after both halves")
    layer.reset_states()
    _, *fresh = layer((x1[:, 2:], x2[:, 2:]))
    _, second = keras_rnn(keras_cell, (tf.constant(x1[:, 2:]), tf.constant(x2[:, 2:])), zeros)
    for m, k in zip(fresh, second):
        assert_close(m.data, k.numpy(), "float64", "state after reset")


# -- states, masks and symbolic calls ------------------------------------------------------------

def test_initial_state_is_zeros_of_each_states_full_shape():
    layer = layers.RNN(NestedCell(unit_1, unit_2, unit_3))
    states = layer.get_initial_state(4)
    assert isinstance(states, list) and [s.shape for s in states] == [(4, unit_1),
                                                                      (4, unit_2, unit_3)]
    assert all(not s.data.any() for s in states)
    assert layers.RNN(NestedListCell(unit_1, unit_2, unit_3)).n_states == 2
    assert layers.RNN(PenCell(3)).get_initial_state(2)[1].shape == (2, 2, 3)


def test_functional_model_traces_nested_outputs_and_states(float64):
    input_1 = keras.Input((None, i1))
    input_2 = keras.Input((None, i2, i3))
    rnn = layers.RNN(NestedCell(unit_1, unit_2, unit_3), return_sequences=True, return_state=True)
    (seq_1, seq_2), state_1, state_2 = rnn((input_1, input_2))
    assert [t.shape for t in (seq_1, seq_2, state_1, state_2)] == [
        (None, None, unit_1), (None, None, unit_2, unit_3), (None, unit_1), (None, unit_2, unit_3)]
    model = keras.Model([input_1, input_2], [seq_2, state_1])
    rng = np.random.default_rng(2)
    x = guide_inputs(rng)
    got_seq_2, got_state_1 = model.predict(list(x), verbose=0)
    keras_cell = KerasNestedCell(unit_1, unit_2, unit_3, dtype="float64")
    keras_cell.build(step_shapes(x))
    keras_cell.set_weights(model.get_weights())
    zeros = [tf.zeros((B, unit_1), tf.float64), tf.zeros((B, unit_2, unit_3), tf.float64)]
    (_, k_seq_2), (k_state_1, _) = keras_rnn(keras_cell, tuple(map(tf.constant, x)), zeros,
                                            return_sequences=True)
    assert_close(got_seq_2, k_seq_2.numpy(), "float64", "sequence of output 2")
    assert_close(got_state_1, k_state_1.numpy(), "float64", "state 1")


def test_every_output_of_the_structure_carries_the_time_mask():
    rng = np.random.default_rng(4)
    mask = guide_mask()
    rnn = layers.RNN(NestedCell(unit_1, unit_2, unit_3), return_sequences=True, return_state=True)
    (seq_1, seq_2), state_1, state_2 = rnn(guide_inputs(rng), mask=mask)
    assert get_mask(seq_1) is not None and get_mask(seq_2) is not None
    np.testing.assert_array_equal(get_mask(seq_2), mask)
    assert get_mask(state_1) is None and get_mask(state_2) is None


def test_bptt_gradients_hold_the_first_states_gradient_of_several_axes(float64):
    rng = np.random.default_rng(6)
    layer = layers.RNN(PenCell(3), return_state=True)
    inputs = {"location": rng.standard_normal((B, T, 2)), "pressure": rng.random((B, T, 1))}
    _, _, trace = layer(inputs)
    trace.sum().backward()
    assert layer.bptt_gradients.shape == (T, B, 3) and layer.bptt_gradient_norms.shape == (T,)
    # the last h reaches sum(trace) = sum(h_T) + sum(h_{T-1} * h_T) alone: dL/dh_T = 1 + h_{T-1},
    # h_{T-1} worked in NumPy from the weights
    w_location, w_pressure, w_h = (w.data for w in layer.cell.weights)
    h = np.zeros((B, 3))
    for t in range(T - 1):
        h = np.tanh(inputs["location"][:, t] @ w_location + inputs["pressure"][:, t] @ w_pressure
                    + h @ w_h)
    np.testing.assert_allclose(layer.bptt_gradients[-1], 1.0 + h, rtol=1e-12)


def test_step_decodes_a_nested_cell_as_the_whole_sequence_does(float64):
    rng = np.random.default_rng(7)
    x1, x2 = guide_inputs(rng)
    start = initial_states(rng)
    layer = layers.RNN(NestedCell(unit_1, unit_2, unit_3), return_sequences=True,
                       return_state=True)
    keras_cell = KerasNestedCell(unit_1, unit_2, unit_3, dtype="float64")
    layer((x1, x2))
    keras_cell.build(step_shapes((x1, x2)))
    keras_cell.set_weights(layer.get_weights())
    (k_seq_1, k_seq_2), k_final = keras_rnn(keras_cell, (tf.constant(x1), tf.constant(x2)),
                                            [tf.constant(s) for s in start],
                                            return_sequences=True)
    states = start
    for t in range(T):
        (out_1, out_2), states = layer.step((x1[:, t], x2[:, t]), states)
        assert_close(out_1.data, k_seq_1.numpy()[:, t], "float64", f"output 1 at step {t}")
        assert_close(out_2.data, k_seq_2.numpy()[:, t], "float64", f"output 2 at step {t}")
    for m, k in zip(states, k_final):
        assert_close(m.data, k.numpy(), "float64", "final state")


# -- bad input -----------------------------------------------------------------------------------

class ChangingOutputCell(NestedCell):
    """Returns a tuple at the first step, one tensor after."""

    def call(self, inputs, states):
        output, new_states = super().call(inputs, states)
        self.calls = getattr(self, "calls", 0) + 1
        return (output if self.calls == 1 else output[0]), new_states


class FlatStateCell(NestedCell):
    """Returns its second state flattened to (batch, unit_2 * unit_3)."""

    def call(self, inputs, states):
        output, (s1, s2) = super().call(inputs, states)
        return output, (s1, s2.reshape((s2.shape[0], -1)))


def test_nested_inputs_to_a_built_in_cell_are_refused_naming_it():
    x = guide_inputs(np.random.default_rng(0))
    layer = layers.LSTM(3, name="probe")
    with pytest.raises(ValueError, match=r"LSTM 'probe': cell LSTMCell 'probe_cell' takes one "
                                         r"input sequence \(batch, timesteps, features\); got a "
                                         r"tuple of 2 sequences"):
        layer(x)
    assert not layer.built


def test_a_structure_unlike_the_one_built_for_is_refused():
    rng = np.random.default_rng(0)
    x1, x2 = guide_inputs(rng)
    layer = layers.RNN(NestedCell(unit_1, unit_2, unit_3, name="nested"), name="probe")
    layer((x1, x2))
    built_for = re.escape("(('batch', 'timesteps', 3), ('batch', 'timesteps', 2, 3))")
    cases = [((x2, x1), re.escape("((3, 4, 2, 3), (3, 4, 3))")),
             ((x1,), re.escape("((3, 4, 3),)")),
             ((x1, x2, x1), re.escape("((3, 4, 3), (3, 4, 2, 3), (3, 4, 3))")),
             ({"a": x1, "b": x2}, re.escape("{'a': (3, 4, 3), 'b': (3, 4, 2, 3)}")),
             ((x1, np.ones((B, T, 2, 4))), re.escape("((3, 4, 3), (3, 4, 2, 4))"))]
    for inputs, got in cases:
        with pytest.raises(ValueError, match=r"RNN 'probe': cell NestedCell 'nested' was built "
                                             rf"for inputs structured as {built_for}; got {got}"):
            layer(inputs)
    with pytest.raises(ValueError, match=rf"built for inputs structured as {built_for}; got one "
                                         r"sequence of shape \(3, 4, 3\)"):
        layer(x1)


def test_inputs_of_different_batch_or_length_are_refused_before_building():
    rng = np.random.default_rng(0)
    x1, x2 = guide_inputs(rng)
    cell = NestedCell(unit_1, unit_2, unit_3)
    layer = layers.RNN(cell, name="probe")
    with pytest.raises(ValueError, match=r"RNN 'probe' expects the inputs of a structure to share "
                                         r"one batch size \(axis 0\); got shapes "
                                         r"\(\(3, 4, 3\), \(2, 4, 2, 3\)\)"):
        layer((x1, x2[:2]))
    with pytest.raises(ValueError, match=r"share one number of timesteps \(axis 1\)"):
        layer((x1, x2[:, :3]))
    with pytest.raises(ValueError, match=r"every input of a structure to be a sequence "
                                         r"\(batch, timesteps, \.\.\.\); got shapes "
                                         r"\(\(3, 4, 3\), \(3, 4\)\)"):
        layer((x1, x2[:, :, 0, 0]))
    with pytest.raises(ValueError, match=r"at least 1 timestep"):
        layer((x1[:, :0], x2[:, :0]))
    assert not layer.built and not cell.built


def test_states_of_the_wrong_shape_are_refused_naming_the_cell():
    rng = np.random.default_rng(0)
    x = guide_inputs(rng)
    expected = re.escape("[('batch', 2), ('batch', 3, 2)]")
    layer = layers.RNN(FlatStateCell(unit_1, unit_2, unit_3, name="flat"), name="probe")
    with pytest.raises(ValueError, match=r"RNN 'probe': cell FlatStateCell 'flat' returned 2 new "
                                         r"state\(s\) of shapes \[\(3, 2\), \(3, 6\)\]; its "
                                         rf"state_size .* expects 2 of shapes {expected}"):
        layer(x)
    layer = layers.RNN(NestedCell(unit_1, unit_2, unit_3), stateful=True, name="probe")
    with pytest.raises(ValueError, match=r"expects initial_state as 2 array\(s\) of shape "
                                         r"\(batch, \*state shape\) = "
                                         + re.escape("[(3, 2), (3, 3, 2)]") +
                                         r".*got shapes " + re.escape("[(3, 2), (3, 6)]")):
        layer(x, initial_state=[np.zeros((B, unit_1)), np.zeros((B, unit_2 * unit_3))])
    assert layer.states is None


def test_an_output_that_changes_structure_is_refused():
    layer = layers.RNN(ChangingOutputCell(unit_1, unit_2, unit_3, name="changing"), name="probe")
    with pytest.raises(ValueError, match=r"cell ChangingOutputCell 'changing' returned an output "
                                         r"\(3, 2\) after \(\(3, 2\), \(3, 3, 2\)\) at the first "
                                         r"step"):
        layer(guide_inputs(np.random.default_rng(0)))


def test_bidirectional_refuses_a_structure_of_inputs():
    layer = layers.Bidirectional(layers.RNN(NestedCell(unit_1, unit_2, unit_3)), name="probe")
    with pytest.raises(ValueError, match=r"Bidirectional 'probe' takes one input sequence "
                                         r"\(batch, timesteps, \.\.\.\); got a tuple of 2"):
        layer(guide_inputs(np.random.default_rng(0)))


class UnknownStateCell(NestedCell):
    def __init__(self, **kwargs):
        super().__init__(1, 1, 1, **kwargs)
        self.state_size = [tf.TensorShape([None]), tf.TensorShape([2, 3])]


def test_a_state_size_of_unknown_dimensions_is_refused():
    with pytest.raises(ValueError, match=r"state_size` of UnknownStateCell 'unknown' must be a "
                                         r"positive int, or a state's shape.*"
                                         r"TensorShape\(\[None\]\)"):
        layers.RNN(UnknownStateCell(name="unknown"))
