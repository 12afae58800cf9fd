"""SimpleRNN, LSTM, GRU and Bidirectional against Keras (TensorFlow backend), on both minirnn paths.

Each case builds the same layer in keras.layers and in minirnn, copies the weights across with
get_weights/set_weights (both directions: no conversion, Keras's shapes and gate order), and
compares outputs, states, and gradients w.r.t. inputs, initial states and every weight:
tf.GradientTape on the Keras side, `.backward(grad=...)` with the same upstream gradients on every
output on the minirnn side.
"""
import numpy as np
import pytest

from tf_helpers import import_tf

tf = import_tf()
import keras  # noqa: E402  (after import_tf, which sets TensorFlow's environment)

from minirnn import Tensor  # noqa: E402
from minirnn import layers as mlayers  # noqa: E402

# name -> (minirnn class, keras class, arguments of both)
CELLS = {
    "simple_rnn": (mlayers.SimpleRNN, keras.layers.SimpleRNN, {}),
    "lstm": (mlayers.LSTM, keras.layers.LSTM, {}),
    "gru": (mlayers.GRU, keras.layers.GRU, {"reset_after": True}),
    "gru_reset_before": (mlayers.GRU, keras.layers.GRU, {"reset_after": False}),
}
KERAS_ONLY = {keras.layers.LSTM: {"use_cudnn": False}, keras.layers.GRU: {"use_cudnn": False}}

SEQ_STATE = {"return_sequences": True, "return_state": True}
# name -> (layer arguments, call arguments: initial_state (bool), mask (bool))
OPTIONS = {
    "last_output": ({}, {}),
    "return_sequences": ({"return_sequences": True}, {}),
    "return_state": ({"return_state": True}, {}),
    "sequences_and_state": (SEQ_STATE, {}),
    "go_backwards": ({**SEQ_STATE, "go_backwards": True}, {"initial_state": True}),
    "initial_state": (SEQ_STATE, {"initial_state": True}),
    "mask": (SEQ_STATE, {"mask": True, "initial_state": True}),
    "mask_last_output": ({"return_state": True}, {"mask": True}),
    "mask_go_backwards": ({**SEQ_STATE, "go_backwards": True}, {"mask": True}),
    "no_bias": ({**SEQ_STATE, "use_bias": False}, {"initial_state": True}),
    "relu": ({**SEQ_STATE, "activation": "relu"}, {"initial_state": True}),
}
# atol is relative to the array's largest element: a float32 sum of terms of size ~1 that cancels
# to ~0.005 keeps an absolute, not a relative, rounding error of a few 1e-7
TOLERANCES = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-9, atol=1e-12)}
B, T, D, H = 3, 5, 4, 3


# -- helpers -------------------------------------------------------------------------------------

def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def make_mask(batch, timesteps):
    """Left padding and holes: row 0 masks its first two steps, row 1 step 2, row 2 none."""
    mask = np.ones((batch, timesteps), dtype=bool)
    mask[0, :2] = False
    mask[1 % batch, 2 % timesteps] = False
    return mask


def make_inputs(rng, dtype, n_states, call):
    x = rng.standard_normal((B, T, D)).astype(dtype)
    states = [(0.5 * rng.standard_normal((B, H))).astype(dtype) for _ in range(n_states)] \
        if call.get("initial_state") else []
    mask = make_mask(B, T) if call.get("mask") else None
    return x, states, mask


def keras_run(layer, x, states, mask, upstream_seed):
    """Keras outputs and tape gradients [x, states..., trainable weights...], and the upstream
    gradients used (one random array per output)."""
    xt = tf.constant(x)
    st = [tf.constant(s) for s in states]
    kwargs = {}
    if st:
        kwargs["initial_state"] = st
    if mask is not None:
        kwargs["mask"] = tf.constant(mask)
    with tf.GradientTape() as tape:
        tape.watch([xt] + st)
        outputs = as_list(layer(xt, **kwargs))
        rng = np.random.default_rng(upstream_seed)
        upstream = [rng.standard_normal(tuple(o.shape)).astype(x.dtype) for o in outputs]
        loss = tf.add_n([tf.reduce_sum(o * u) for o, u in zip(outputs, upstream)])
    grads = tape.gradient(loss, [xt] + st + list(layer.trainable_weights))
    return [o.numpy() for o in outputs], [g.numpy() for g in grads], upstream


def minirnn_run(layer, x, states, mask, upstream):
    """minirnn outputs and gradients [x, states..., weights...]: `.backward(grad=...)` on every
    output in turn, each with its upstream gradient (the gradients add up)."""
    xt = Tensor(x, requires_grad=True)
    st = [Tensor(s, requires_grad=True) for s in states]
    for w in layer.weights:
        w.grad = None
    kwargs = {}
    if st:
        kwargs["initial_state"] = st
    if mask is not None:
        kwargs["mask"] = mask
    outputs = as_list(layer(xt, **kwargs))
    assert len(outputs) == len(upstream)
    for i, (o, u) in enumerate(zip(outputs, upstream)):
        o.backward(grad=u, retain_graph=i < len(outputs) - 1)
    grads = [np.zeros_like(t.data) if t.grad is None else t.grad for t in [xt] + st + layer.weights]
    return [o.data for o in outputs], grads


def assert_close(actual, expected, dtype, what):
    assert len(actual) == len(expected), f"{what}: {len(actual)} arrays, Keras has {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, f"{what} [{i}]: shape {a.shape}, Keras {e.shape}"
        assert a.dtype == np.dtype(dtype), f"{what} [{i}]: dtype {a.dtype}, expected {dtype}"
        tol = TOLERANCES[dtype]
        atol = tol["atol"] * max(1.0, float(np.abs(e).max(initial=0.0)))
        np.testing.assert_allclose(a, e, rtol=tol["rtol"], atol=atol, err_msg=f"{what} [{i}]")


def random_weights(shapes, rng, dtype):
    return [(0.5 * rng.standard_normal(s)).astype(dtype) for s in shapes]


def copy_weights(direction, keras_layer, minirnn_layers, rng, dtype):
    """Give both sides the same random weights, drawn in the shapes of the source side."""
    if direction == "keras_to_minirnn":
        keras_layer.set_weights(random_weights([w.shape for w in keras_layer.get_weights()], rng,
                                               dtype))
        for layer in minirnn_layers:
            layer.set_weights(keras_layer.get_weights())
    else:
        source = minirnn_layers[0]
        source.set_weights(random_weights([w.shape for w in source.get_weights()], rng, dtype))
        keras_layer.set_weights(source.get_weights())
        for layer in minirnn_layers[1:]:
            layer.set_weights(source.get_weights())


def both_layers(cell, layer_kwargs, dtype):
    """The Keras layer and the minirnn layers (fused, unrolled) for a cell, built."""
    mcls, kcls, base = CELLS[cell]
    kwargs = {**base, **layer_kwargs}
    keras_layer = kcls(H, dtype=dtype, **kwargs, **KERAS_ONLY.get(kcls, {}))
    keras_layer.build((None, T, D))
    ours = [mcls(H, dtype=dtype, unroll=unroll, **kwargs) for unroll in (False, True)]
    for layer in ours:
        layer(np.zeros((1, T, D), dtype=dtype))
    return keras_layer, ours


# -- single layers -------------------------------------------------------------------------------

@pytest.mark.parametrize("direction", ["keras_to_minirnn", "minirnn_to_keras"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_layer_matches_keras(cell, option, dtype, direction):
    layer_kwargs, call = OPTIONS[option]
    rng = np.random.default_rng(sorted(OPTIONS).index(option) + 100 * sorted(CELLS).index(cell))
    keras_layer, ours = both_layers(cell, layer_kwargs, dtype)
    copy_weights(direction, keras_layer, ours, rng, dtype)
    n_states = 2 if CELLS[cell][0] is mlayers.LSTM else 1
    x, states, mask = make_inputs(rng, dtype, n_states, call)

    expected_out, expected_grads, upstream = keras_run(keras_layer, x, states, mask, upstream_seed=7)
    for layer in ours:
        path = "unrolled" if layer.unroll else "fused"
        out, grads = minirnn_run(layer, x, states, mask, upstream)
        assert_close(out, expected_out, dtype, f"{path}: outputs and states")
        assert_close(grads, expected_grads, dtype, f"{path}: gradients w.r.t. x, states, weights")


# -- Bidirectional -------------------------------------------------------------------------------

MERGE_MODES = ["concat", "sum", "mul", "ave", None]


def both_bidirectional(cell, merge_mode, layer_kwargs, dtype):
    mcls, kcls, base = CELLS[cell]
    kwargs = {**base, **layer_kwargs}
    keras_layer = keras.layers.Bidirectional(
        kcls(H, dtype=dtype, **kwargs, **KERAS_ONLY.get(kcls, {})), merge_mode=merge_mode,
        dtype=dtype)
    keras_layer.build((None, T, D))
    ours = [mlayers.Bidirectional(mcls(H, dtype=dtype, unroll=unroll, **kwargs),
                                  merge_mode=merge_mode, dtype=dtype) for unroll in (False, True)]
    for layer in ours:
        layer(np.zeros((1, T, D), dtype=dtype))
    return keras_layer, ours


@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("merge_mode", MERGE_MODES, ids=[str(m) for m in MERGE_MODES])
@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_matches_keras(cell, merge_mode, return_sequences, masked):
    dtype = "float64"
    rng = np.random.default_rng(MERGE_MODES.index(merge_mode) + 10 * sorted(CELLS).index(cell))
    keras_layer, ours = both_bidirectional(cell, merge_mode,
                                           {"return_sequences": return_sequences}, dtype)
    direction = "keras_to_minirnn" if masked else "minirnn_to_keras"
    copy_weights(direction, keras_layer, ours, rng, dtype)
    x, _, mask = make_inputs(rng, dtype, 0, {"mask": masked})

    expected_out, expected_grads, upstream = keras_run(keras_layer, x, [], mask, upstream_seed=8)
    for layer in ours:
        path = "unrolled" if layer.forward_layer.unroll else "fused"
        out, grads = minirnn_run(layer, x, [], mask, upstream)
        assert_close(out, expected_out, dtype, f"{path}: outputs")
        assert_close(grads, expected_grads, dtype, f"{path}: gradients w.r.t. x and weights")


@pytest.mark.parametrize("merge_mode", ["concat", None], ids=["concat", "None"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bidirectional_states_and_float32_match_keras(cell, merge_mode):
    dtype = "float32"
    rng = np.random.default_rng(3)
    keras_layer, ours = both_bidirectional(cell, merge_mode, SEQ_STATE, dtype)
    copy_weights("keras_to_minirnn", keras_layer, ours, rng, dtype)
    n_states = 2 * (2 if cell == "lstm" else 1)
    x, states, mask = make_inputs(rng, dtype, n_states, {"mask": True, "initial_state": True})
    expected_out, expected_grads, upstream = keras_run(keras_layer, x, states, mask, upstream_seed=9)
    for layer in ours:
        out, grads = minirnn_run(layer, x, states, mask, upstream)
        assert_close(out, expected_out, dtype, "outputs and states")
        assert_close(grads, expected_grads, dtype, "gradients w.r.t. x, states and weights")


# -- weights round trip ----------------------------------------------------------------------------

ROUND_TRIP = {
    **{cell: (lambda cell=cell: both_layers(cell, {"return_sequences": True}, "float32"))
       for cell in CELLS},
    "bidirectional_lstm": lambda: both_bidirectional("lstm", "concat", {}, "float32"),
    "bidirectional_gru": lambda: both_bidirectional("gru", "sum", {"return_sequences": True},
                                                    "float32"),
}


@pytest.mark.parametrize("case", ROUND_TRIP)
def test_weights_round_trip(case):
    keras_layer, (ours, _) = ROUND_TRIP[case]()
    keras_twin, _ = ROUND_TRIP[case]()
    rng = np.random.default_rng(4)
    keras_layer.set_weights(random_weights([w.shape for w in keras_layer.get_weights()], rng,
                                           "float32"))
    original = keras_layer.get_weights()
    ours.set_weights(original)
    back = ours.get_weights()
    assert [w.shape for w in back] == [w.shape for w in original]
    for a, b in zip(back, original):
        np.testing.assert_array_equal(a, b)
    keras_twin.set_weights(back)

    x = rng.standard_normal((B, T, D)).astype("float32")
    expected = keras_layer(tf.constant(x)).numpy()
    np.testing.assert_array_equal(keras_twin(tf.constant(x)).numpy(), expected)
    np.testing.assert_allclose(ours(x).data, expected, **TOLERANCES["float32"])
