"""RNN over SimpleRNNCell, LSTMCell, GRUCell and StackedRNNCells against Keras's (TensorFlow backend).

Each case builds keras.layers.RNN(cell) and minirnn's RNN(cell) with the same arguments, copies the
weights across with get_weights/set_weights (Keras's layout, no conversion), and compares outputs,
final states and the gradients of every input, initial state and weight: tf.GradientTape on the
Keras side, backward with the same upstream gradients on ours. float64 to rel 1e-9, float32 to
rel 1e-5, on every path (fused fast, fused reference, unrolled loop).
"""
import numpy as np
import pytest

from tf_helpers import import_tf

tf = import_tf()
import keras  # noqa: E402  (after import_tf, which sets TensorFlow's environment)

from minirnn import Tensor  # noqa: E402
from minirnn import layers as mlayers  # noqa: E402
from minirnn.layers.base import flatten  # noqa: E402

B, T, D = 3, 5, 4
# name -> function (library) -> the cell (or list of cells) with the same arguments
CELLS = {
    "simple": lambda L, dt: L.SimpleRNNCell(3, dtype=dt),
    "simple_relu_nobias": lambda L, dt: L.SimpleRNNCell(3, activation="relu", use_bias=False,
                                                        dtype=dt),
    "lstm": lambda L, dt: L.LSTMCell(3, dtype=dt),
    "lstm_hard": lambda L, dt: L.LSTMCell(2, activation="softsign",
                                          recurrent_activation="hard_sigmoid",
                                          unit_forget_bias=False, dtype=dt),
    "gru": lambda L, dt: L.GRUCell(3, dtype=dt),
    "gru_reset_before": lambda L, dt: L.GRUCell(3, reset_after=False, dtype=dt),
    "stack_lstm_gru": lambda L, dt: [L.LSTMCell(3, dtype=dt), L.GRUCell(2, dtype=dt)],
    "stack_simple_lstm_gru": lambda L, dt: L.StackedRNNCells(
        [L.SimpleRNNCell(2, dtype=dt), L.LSTMCell(3, dtype=dt),
         L.GRUCell(2, reset_after=False, dtype=dt)], dtype=dt),
}
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
    "mask_zero_output": ({**SEQ_STATE, "zero_output_for_mask": True}, {"mask": True}),
    "mask_zero_output_backwards": ({**SEQ_STATE, "zero_output_for_mask": True,
                                    "go_backwards": True}, {"mask": True}),
}
PATHS = {"fast": {}, "reference": {"bptt": "reference"}, "unroll": {"unroll": True}}
TOLERANCES = {"float32": 1e-5, "float64": 1e-9}


def make_mask():
    mask = np.ones((B, T), dtype=bool)
    mask[0, :2] = False          # left padding
    mask[1, 2] = False           # a hole
    mask[2, 3:] = False          # right padding
    return mask


def state_shapes(sizes):
    """The initial states' nested structure for a cell's state_size (Keras's)."""
    return [[(B, s) for s in size] if isinstance(size, (list, tuple)) else (B, size)
            for size in (sizes if isinstance(sizes, (list, tuple)) else [sizes])]


def stacked_structure(cells_, sizes):
    """StackedRNNCells passes each cell's initial state as a list (its get_initial_state's)."""
    return [[(B, s) for s in size] if isinstance(size, (list, tuple)) else [(B, size)]
            for size in sizes]


def draw_states(rng, dtype, structure):
    def draw(s):
        if isinstance(s, list):
            return [draw(x) for x in s]
        return (0.5 * rng.standard_normal(s)).astype(dtype)
    return [draw(s) for s in structure]


def keras_run(layer, x, states, mask, upstream_seed):
    xt = tf.constant(x)
    st = tf.nest.map_structure(tf.constant, states)
    kwargs = {"initial_state": st} if states else {}
    if mask is not None:
        kwargs["mask"] = tf.constant(mask)
    with tf.GradientTape() as tape:
        tape.watch([xt] + tf.nest.flatten(st))
        outputs = tf.nest.flatten(layer(xt, **kwargs))
        rng = np.random.default_rng(upstream_seed)
        upstream = [rng.standard_normal(tuple(o.shape)).astype(x.dtype) for o in outputs]
        loss = tf.add_n([tf.reduce_sum(o * u) for o, u in zip(outputs, upstream)])
    grads = tape.gradient(loss, [xt] + tf.nest.flatten(st) + list(layer.trainable_weights))
    return [o.numpy() for o in outputs], [g.numpy() for g in grads], upstream


def minirnn_run(layer, x, states, mask, upstream):
    xt = Tensor(x, requires_grad=True)
    st = [Tensor(s, requires_grad=True) for s in flatten(states)]
    for w in layer.weights:
        w.grad = None
    kwargs = {"initial_state": st} if st else {}
    if mask is not None:
        kwargs["mask"] = mask
    result = layer(xt, **kwargs)
    outputs = flatten(result if isinstance(result, list) else [result])
    assert len(outputs) == len(upstream)
    total = None
    for o, u in zip(outputs, upstream):
        term = (o * u).sum()
        total = term if total is None else total + term
    total.backward()
    grads = [np.zeros_like(t.data) if t.grad is None else t.grad for t in [xt] + st + layer.weights]
    return [o.data for o in outputs], grads, result


def assert_close(actual, expected, dtype, what):
    assert len(actual) == len(expected), f"{what}: {len(actual)} arrays, Keras has {len(expected)}"
    rel = TOLERANCES[dtype]
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, f"{what} [{i}]: shape {a.shape}, Keras {e.shape}"
        assert a.dtype == np.dtype(dtype), f"{what} [{i}]: dtype {a.dtype}"
        scale = max(1.0, float(np.abs(e).max(initial=0.0)))
        np.testing.assert_allclose(a, e, rtol=rel, atol=rel * scale, err_msg=f"{what} [{i}]")


def build_pair(cell_name, opts, dtype, path, seed):
    keras_cell = CELLS[cell_name](keras.layers, dtype)
    ours_cell = CELLS[cell_name](mlayers, dtype)
    if isinstance(keras_cell, list):
        keras_cell = keras.layers.StackedRNNCells(keras_cell, dtype=dtype)
        ours_cell = mlayers.StackedRNNCells(ours_cell, dtype=dtype)
    theirs = keras.layers.RNN(keras_cell, dtype=dtype, **opts)
    ours = mlayers.RNN(ours_cell, dtype=dtype, **opts, **PATHS[path])
    theirs.build((B, T, D))
    ours.build((B, T, D))
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.7, 0.7, w.shape).astype(dtype) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours, keras_cell


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell_name", CELLS)
def test_rnn_over_cells_matches_keras(cell_name, option, path, dtype):
    opts, call = OPTIONS[option]
    seed = abs(hash((cell_name, option))) % 2 ** 31
    theirs, ours, keras_cell = build_pair(cell_name, opts, dtype, path, seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    states = []
    if call.get("initial_state"):
        sizes = keras_cell.state_size
        structure = stacked_structure(keras_cell.cells, sizes) \
            if isinstance(keras_cell, keras.layers.StackedRNNCells) else state_shapes(sizes)
        states = draw_states(rng, dtype, structure)
    mask = make_mask() if call.get("mask") else None
    k_out, k_grads, upstream = keras_run(theirs, x, states, mask, seed + 2)
    m_out, m_grads, _ = minirnn_run(ours, x, states, mask, upstream)
    assert_close(m_out, k_out, dtype, "outputs")
    assert_close(m_grads, k_grads, dtype, "gradients [x, states..., weights...]")


def test_stacked_return_state_structure_matches_keras():
    theirs, ours, _ = build_pair("stack_lstm_gru", {"return_state": True}, "float64", "fast", 0)
    x = np.random.default_rng(0).standard_normal((B, T, D))
    k = theirs(tf.constant(x))
    m = ours(x)
    assert len(k) == len(m) == 3
    assert [len(s) for s in k[1:]] == [len(s) for s in m[1:]] == [2, 1]
    for a, b in zip(flatten(m), tf.nest.flatten(k)):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-9)


@pytest.mark.parametrize("cell_name,as_list", [
    ("simple", True), ("simple", False), ("lstm", True), ("gru", True), ("gru", False),
    ("gru_reset_before", True)])
def test_cell_call_matches_keras(cell_name, as_list):
    keras_cell, ours = CELLS[cell_name](keras.layers, "float64"), CELLS[cell_name](mlayers, "float64")
    keras_cell.build((B, D))
    ours.build((B, D))
    rng = np.random.default_rng(3)
    weights = [rng.uniform(-0.7, 0.7, w.shape) for w in keras_cell.get_weights()]
    keras_cell.set_weights(weights)
    ours.set_weights(weights)
    x = rng.standard_normal((B, D))
    n = 2 if cell_name == "lstm" else 1
    hs = [0.5 * rng.standard_normal((B, 3)) for _ in range(n)]
    xt, st = tf.constant(x), [tf.constant(h) for h in hs]
    with tf.GradientTape() as tape:
        tape.watch([xt] + st)
        k_out, k_new = keras_cell(xt, st if as_list else st[0])
        loss = tf.reduce_sum(k_out * k_out) + tf.add_n(
            [tf.reduce_sum(s * 0.5) for s in tf.nest.flatten(k_new)])
    k_grads = tape.gradient(loss, [xt] + st + list(keras_cell.trainable_weights))
    mx, ms = Tensor(x, requires_grad=True), [Tensor(h, requires_grad=True) for h in hs]
    m_out, m_new = ours(mx, ms if as_list else ms[0])
    assert isinstance(m_new, list) == isinstance(k_new, (list, tuple))
    total = (m_out * m_out).sum()
    for s in flatten(m_new if isinstance(m_new, list) else [m_new]):
        total = total + (s * 0.5).sum()
    total.backward()
    np.testing.assert_allclose(m_out.data, k_out.numpy(), rtol=1e-9)
    for a, b in zip([mx.grad] + [s.grad for s in ms] + [w.grad for w in ours.weights], k_grads):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell_name", ["lstm", "gru_reset_before"])
def test_bidirectional_rnn_over_cells_matches_keras(cell_name):
    keras_cell = CELLS[cell_name](keras.layers, "float64")
    ours_cell = CELLS[cell_name](mlayers, "float64")
    theirs = keras.layers.Bidirectional(keras.layers.RNN(keras_cell, return_sequences=True,
                                                         dtype="float64"), dtype="float64")
    ours = mlayers.Bidirectional(mlayers.RNN(ours_cell, return_sequences=True, dtype="float64"),
                                 dtype="float64")
    theirs.build((B, T, D))
    ours.build((B, T, D))
    rng = np.random.default_rng(11)
    weights = [rng.uniform(-0.7, 0.7, w.shape) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x, mask = rng.standard_normal((B, T, D)), make_mask()
    k_out, k_grads, upstream = keras_run(theirs, x, [], mask, 12)
    m_out, m_grads, _ = minirnn_run(ours, x, [], mask, upstream)
    assert_close(m_out, k_out, "float64", "outputs")
    assert_close(m_grads, k_grads, "float64", "gradients")


@pytest.mark.parametrize("cell_name", ["lstm", "stack_lstm_gru", "gru"])
def test_stateful_rnn_over_cells_matches_keras(cell_name):
    theirs, ours, _ = build_pair(cell_name, {"stateful": True, "return_sequences": True},
                                 "float64", "fast", 5)
    rng = np.random.default_rng(5)
    for chunk in range(3):
        x = rng.standard_normal((B, T, D))
        np.testing.assert_allclose(ours(x).data, theirs(tf.constant(x)).numpy(), rtol=1e-9,
                                   err_msg=f"chunk {chunk}")
    if cell_name.startswith("stack"):
        return          # Keras's reset_states fails on a stack's nested states (a ListWrapper)
    ours.reset_states()
    theirs.reset_states()
    x = rng.standard_normal((B, T, D))
    np.testing.assert_allclose(ours(x).data, theirs(tf.constant(x)).numpy(), rtol=1e-9)


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_layer_config_keys_and_weights_match_keras(cls):
    theirs = getattr(keras.layers, cls)(4, dropout=0.25, seed=2)
    ours = getattr(mlayers, cls)(4, dropout=0.25, seed=2)
    theirs.build((None, T, D))
    ours.build((None, T, D))
    extras = {"recompute", "truncate_bptt", "bptt"}          # minirnn's own options
    if cls == "SimpleRNN":
        extras.add("seed")      # Keras's SimpleRNN leaves its cell's seed out of its config
    keras_keys = set(theirs.get_config()) - {"kernel_regularizer", "recurrent_regularizer",
                                             "bias_regularizer", "activity_regularizer",
                                             "kernel_constraint", "recurrent_constraint",
                                             "bias_constraint", "use_cudnn", "implementation"}
    assert set(ours.get_config()) - extras == keras_keys
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert [w.name.split("/")[-1] for w in ours.weights] == [w.name for w in theirs.weights]
    assert type(ours.cell).__name__ == type(theirs.cell).__name__
