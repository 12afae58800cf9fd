"""Core layers (Dense, Embedding, Dropout, TimeDistributed, reshaping, Masking, Lambda, merges).

References, never numbers our own code produced: Keras 3 layers on TensorFlow (outputs, masks,
tf.GradientTape gradients w.r.t. inputs and every weight, with weights copied both ways), finite
differences (check_grads in float64), and hand formulas (parameter counts, shared-weight sums,
dropout statistics).
"""
import re
from typing import Callable, NamedTuple

import numpy as np
import pytest

import minirnn
from minirnn import layers, ops
from minirnn.gradcheck import check_grads
from minirnn.layers import core
from tf_helpers import assert_close, import_tf, seed_of



def normal(*shape):
    return lambda rng, dtype: rng.standard_normal(shape).astype(dtype)


def with_padding(*shape, value=0.0):
    """(B, T, F) normal values with a few whole timesteps set to `value` (masked by Masking)."""
    def make(rng, dtype):
        x = rng.standard_normal(shape).astype(dtype)
        x[0, 1] = x[1, -1] = x[1, 0] = value
        return x
    return make


def ids(*shape, input_dim):
    """Integer ids with a repeat (gradients must accumulate) and a 0 (mask_zero pads)."""
    def make(rng, dtype):
        x = rng.integers(1, input_dim, shape).astype("int32")
        x.flat[1] = x.flat[0]
        x.flat[-1] = 0
        return x
    return make


class Case(NamedTuple):
    name: str
    ours: Callable      # ours(dtype) -> minirnn layer
    theirs: Callable    # theirs(keras, dtype) -> keras layer, the same configuration
    inputs: list        # makers (rng, dtype) -> array; several inputs go to the layer as a list

    @property
    def multi(self):
        return len(self.inputs) > 1

    def pack(self, xs):
        return list(xs) if self.multi else xs[0]

    def make_inputs(self, dtype):
        rng = np.random.default_rng(seed_of(self.name))
        return [make(rng, dtype) for make in self.inputs]


def same(cls_name, *args, **kwargs):
    """The same constructor call for both libraries."""
    return (lambda dtype: getattr(layers, cls_name)(*args, dtype=dtype, **kwargs),
            lambda keras, dtype: getattr(keras.layers, cls_name)(*args, dtype=dtype, **kwargs))


CASES = [
    Case("dense_rank2_tanh", *same("Dense", 4, activation="tanh"), [normal(3, 5)]),
    Case("dense_rank2_linear", *same("Dense", 3), [normal(4, 5)]),
    Case("dense_rank3_softmax", *same("Dense", 4, activation="softmax"), [normal(2, 3, 5)]),
    Case("dense_rank3_relu_nobias", *same("Dense", 3, activation="relu", use_bias=False),
         [normal(2, 4, 5)]),
    Case("dense_rank4_sigmoid", *same("Dense", 2, activation="sigmoid"), [normal(2, 2, 3, 4)]),
    Case("embedding", *same("Embedding", 7, 3), [ids(3, 4, input_dim=7)]),
    Case("time_distributed_dense",
         lambda dtype: layers.TimeDistributed(layers.Dense(3, activation="tanh", dtype=dtype),
                                              dtype=dtype),
         lambda keras, dtype: keras.layers.TimeDistributed(
             keras.layers.Dense(3, activation="tanh", dtype=dtype), dtype=dtype),
         [normal(2, 4, 5)]),
    Case("activation_softplus", *same("Activation", "softplus"), [normal(3, 4)]),
    Case("flatten_rank3", *same("Flatten"), [normal(2, 3, 4)]),
    Case("flatten_rank4", *same("Flatten"), [normal(2, 2, 3, 2)]),
    Case("reshape_inferred", *same("Reshape", (-1, 2)), [normal(2, 3, 4)]),
    Case("reshape_fixed", *same("Reshape", (4, 3)), [normal(2, 3, 4)]),
    Case("repeat_vector", *same("RepeatVector", 3), [normal(2, 5)]),
    Case("masking", *same("Masking", mask_value=0.0), [with_padding(2, 4, 3)]),
    Case("masking_value", *same("Masking", mask_value=0.5), [with_padding(2, 4, 3, value=0.5)]),
    Case("concatenate_last", *same("Concatenate"), [normal(2, 3, 4), normal(2, 3, 2)]),
    Case("concatenate_time", *same("Concatenate", axis=1), [normal(2, 3, 4), normal(2, 1, 4)]),
    Case("add", *same("Add"), [normal(2, 3, 4)] * 3),
    Case("multiply", *same("Multiply"), [normal(2, 3, 4)] * 3),
    Case("average", *same("Average"), [normal(2, 3, 4)] * 3),
    Case("flatten_channels_first", *same("Flatten", data_format="channels_first"),
         [normal(2, 3, 2, 2)]),
]
WEIGHTED = {"dense_rank2_tanh", "dense_rank2_linear", "dense_rank3_softmax",
            "dense_rank3_relu_nobias", "dense_rank4_sigmoid", "embedding", "time_distributed_dense"}


@pytest.fixture(scope="module")
def keras():
    import_tf()
    import keras
    return keras


def keras_forward_and_grads(tf, layer, xs, upstream, multi):
    """Keras output, mask and d(sum(output * upstream)) / d(float inputs, layer.weights)."""
    tf_xs = [tf.constant(x) for x in xs]
    float_xs = [t for t in tf_xs if t.dtype.is_floating]
    with tf.GradientTape() as tape:
        tape.watch(float_xs)
        y = layer(list(tf_xs) if multi else tf_xs[0])
        loss = tf.reduce_sum(y * tf.constant(upstream))
    grads = tape.gradient(loss, float_xs + list(layer.weights))
    grads = [None if g is None else tf.convert_to_tensor(g).numpy() for g in grads]  # IndexedSlices
    return y.numpy(), grads


PARITY = [pytest.param(case, dtype, direction, id=f"{case.name}-{dtype}-{direction}")
          for case in CASES for dtype in ("float32", "float64")
          for direction in (("keras_to_minirnn", "minirnn_to_keras") if case.name in WEIGHTED
                            else ("keras_to_minirnn",))]


@pytest.mark.tf
@pytest.mark.parametrize("case, dtype, direction", PARITY)
def test_matches_keras(case, dtype, direction, keras):
    tf = import_tf()
    xs = case.make_inputs(dtype)
    ours, theirs = case.ours(dtype), case.theirs(keras, dtype)
    theirs(case.pack([tf.constant(x) for x in xs]))  # builds the weights
    ours(case.pack(xs))
    rng = np.random.default_rng(seed_of(case.name) + 1)
    fresh = [rng.uniform(-1, 1, w.shape).astype(dtype) for w in ours.get_weights()]
    if direction == "keras_to_minirnn":
        theirs.set_weights(fresh)
        ours.set_weights(theirs.get_weights())
    else:
        ours.set_weights(fresh)
        theirs.set_weights(ours.get_weights())
    for mine, given in zip(ours.get_weights() + theirs.get_weights(), fresh + fresh):
        np.testing.assert_array_equal(mine, given)

    tensors = [minirnn.tensor(x, requires_grad=x.dtype.kind == "f") for x in xs]
    y = ours(case.pack(tensors))
    upstream = rng.standard_normal(y.shape).astype(dtype)
    y.backward(grad=upstream)
    y_ref, grads_ref = keras_forward_and_grads(tf, theirs, xs, upstream, case.multi)

    assert y.dtype == np.dtype(dtype) and y.shape == y_ref.shape
    assert_close(y.data, y_ref, dtype, "output")
    ours_grads = [t.grad for t in tensors if t.requires_grad] + [w.grad for w in ours.weights]
    assert len(ours_grads) == len(grads_ref)
    for i, (g, g_ref) in enumerate(zip(ours_grads, grads_ref)):
        assert_close(g, g_ref, dtype, f"gradient {i}")


# -- masks against Keras -------------------------------------------------------------------------

def masked_pair(keras, make_layer, xs_masked, xs_plain, mask_value=0.0):
    """Run `make_layer` in both libraries on inputs that pass through Masking (xs_masked) or not
    (xs_plain); returns ((out, mask, input grads) ours, (...) keras)."""
    tf = import_tf()
    xs = xs_masked + xs_plain
    upstream_rng = np.random.default_rng(7)

    ts = [minirnn.tensor(x, requires_grad=True) for x in xs]
    masking = layers.Masking(mask_value)
    y = make_layer(layers)([masking(t) for t in ts[:len(xs_masked)]] + ts[len(xs_masked):])
    upstream = upstream_rng.standard_normal(y.shape)
    y.backward(grad=upstream)
    ours = (y.data, y._keras_mask, [t.grad for t in ts])

    tf_xs = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        tape.watch(tf_xs)
        k_masking = keras.layers.Masking(mask_value)
        ky = make_layer(keras.layers)([k_masking(t) for t in tf_xs[:len(xs_masked)]]
                                      + tf_xs[len(xs_masked):])
        loss = tf.reduce_sum(ky * upstream)
    kmask = getattr(ky, "_keras_mask", None)
    theirs = (ky.numpy(), None if kmask is None else kmask.numpy(),
              [g.numpy() for g in tape.gradient(loss, tf_xs)])
    return ours, theirs


MERGE_MASK_CASES = [
    ("add_both_masked", lambda L: L.Add(), 2, 0),
    ("add_one_masked", lambda L: L.Add(), 1, 1),
    ("average_both_masked", lambda L: L.Average(), 2, 0),
    ("multiply_both_masked", lambda L: L.Multiply(), 2, 0),
    ("multiply_one_masked", lambda L: L.Multiply(), 1, 1),
    ("concatenate_last_one_masked", lambda L: L.Concatenate(), 1, 1),
    ("concatenate_last_both_masked", lambda L: L.Concatenate(), 2, 0),
    ("concatenate_time_both_masked", lambda L: L.Concatenate(axis=1), 2, 0),
]


@pytest.mark.tf
@pytest.mark.parametrize("name, make_layer, n_masked, n_plain", MERGE_MASK_CASES,
                         ids=[c[0] for c in MERGE_MASK_CASES])
def test_merge_masks_match_keras(name, make_layer, n_masked, n_plain, keras):
    rng = np.random.default_rng(seed_of(name))
    xs = [rng.standard_normal((2, 4, 3)) for _ in range(n_masked + n_plain)]
    # padded steps differ between inputs, so or/and/first-only would all give different masks
    xs[0][0, 1] = xs[0][1, 3] = 0.0
    if n_masked == 2:
        xs[1][0, 1] = xs[1][1, 0] = 0.0
    ours, theirs = masked_pair(keras, make_layer, xs[:n_masked], xs[n_masked:])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    if theirs[1] is None:
        assert ours[1] is None
    else:
        np.testing.assert_array_equal(ours[1], theirs[1])
    for g, g_ref in zip(ours[2], theirs[2]):
        np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.tf
@pytest.mark.parametrize("make_layer", [
    lambda L: L.Dense(3, dtype="float64"),
    lambda L: L.TimeDistributed(L.Dense(3, dtype="float64"), dtype="float64"),
    lambda L: L.Activation("tanh", dtype="float64"),
    lambda L: L.Dropout(0.5, dtype="float64"),
], ids=["dense", "time_distributed", "activation", "dropout"])
def test_mask_passes_through_like_keras(make_layer, keras):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5))
    x[0, 2] = x[1, 0] = 0.0
    ours_layer, keras_layer = make_layer(layers), make_layer(keras.layers)
    ours_layer(x)
    keras_layer(x)
    keras_layer.set_weights(ours_layer.get_weights())
    ours, theirs = masked_pair(keras, lambda L: (lambda xs: (ours_layer if L is layers
                                                             else keras_layer)(xs[0])), [x], [])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ours[1], theirs[1])
    np.testing.assert_allclose(ours[2][0], theirs[2][0], rtol=1e-12, atol=1e-12)


@pytest.mark.tf
def test_embedding_mask_zero_matches_keras(keras):
    x = np.array([[3, 0, 5, 0], [0, 1, 1, 2]], dtype="int32")
    ours = layers.Embedding(6, 2, mask_zero=True)
    theirs = keras.layers.Embedding(6, 2, mask_zero=True)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    y = ours(x)
    ky = theirs(x)
    np.testing.assert_allclose(y.data, ky.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(y._keras_mask, ky._keras_mask.numpy())
    np.testing.assert_array_equal(ours.compute_mask(x), theirs.compute_mask(x).numpy())
    assert layers.Embedding(6, 2)(x)._keras_mask is None


# -- configs against Keras -----------------------------------------------------------------------

def assert_same_setting(ours, theirs, key):
    """Initializers: Keras adds module/registered_name keys (and GlorotUniform some of its own);
    the class and every setting we have must agree."""
    if isinstance(ours, dict) and "class_name" in ours:
        assert ours["class_name"] == theirs["class_name"], key
        assert ours["config"] == {k: theirs["config"][k] for k in ours["config"]}, key
    else:
        assert (list(ours) if isinstance(ours, tuple) else ours) == \
            (list(theirs) if isinstance(theirs, tuple) else theirs), key


@pytest.mark.tf
@pytest.mark.parametrize("case", [c for c in CASES if c.name != "time_distributed_dense"],
                         ids=lambda c: c.name)
def test_config_matches_keras(case, keras):
    ours = case.ours("float32").get_config()
    theirs = case.theirs(keras, "float32").get_config()
    for key in set(ours) - {"name", "dtype"}:
        assert key in theirs, f"{key!r} is not a Keras argument of this layer"
        assert_same_setting(ours[key], theirs[key], key)


CONFIG_LAYERS = [
    lambda: layers.Dense(3, activation="relu", use_bias=False, kernel_initializer="orthogonal",
                         bias_initializer="ones", name="d"),
    lambda: layers.Embedding(5, 2, embeddings_initializer="glorot_normal", mask_zero=True),
    lambda: layers.Dropout(0.25, noise_shape=(None, 1, 4), seed=3),
    lambda: layers.TimeDistributed(layers.Dense(2, activation="tanh")),
    lambda: layers.Activation("softsign"),
    lambda: layers.Flatten(),
    lambda: layers.Reshape((2, -1)),
    lambda: layers.RepeatVector(4),
    lambda: layers.Masking(mask_value=-1.0),
    lambda: layers.Lambda(ops.tanh, output_shape=(3, 4)),
    lambda: layers.Concatenate(axis=1),
    lambda: layers.Add(), lambda: layers.Multiply(), lambda: layers.Average(),
]


@pytest.mark.parametrize("make", CONFIG_LAYERS, ids=lambda m: "")
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert type(clone) is type(layer)
    assert clone.get_config() == config


def test_round_trip_keeps_function():
    minirnn.random.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype("float32")
    td = layers.TimeDistributed(layers.Dense(2, activation="tanh"))
    clone = layers.TimeDistributed.from_config(td.get_config())
    td(x), clone(x)
    clone.set_weights(td.get_weights())
    np.testing.assert_array_equal(clone(x).data, td(x).data)
    lam = layers.Lambda.from_config(layers.Lambda(ops.tanh).get_config())
    np.testing.assert_allclose(lam(x).data, np.tanh(x), rtol=1e-6)


def test_lambda_cannot_save_a_lambda():
    layer = layers.Lambda(lambda x: x * 2.0)
    with pytest.raises(ValueError, match="module-level"):
        layer.get_config()


def test_lambda_mask_arguments_and_training():
    def fn(x, scale, training=None):
        return x * (scale if training else -scale)
    x = np.ones((2, 3, 1), dtype="float32")
    layer = layers.Lambda(fn, arguments={"scale": 2.0}, mask=lambda x, m: x.data[..., 0] > 0)
    np.testing.assert_array_equal(layer(x, training=True).data, 2 * x)
    y = layer(x)
    np.testing.assert_array_equal(y.data, -2 * x)
    assert y._keras_mask.all() and y._keras_mask.shape == (2, 3)
    assert layers.Lambda(ops.tanh)(layers.Masking()(x))._keras_mask is None  # as Keras: no mask= drops it


# -- finite differences --------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gradients_match_finite_differences(case, float64):
    xs = case.make_inputs("float64")
    layer = case.ours("float64")
    if case.name == "embedding":
        layer(xs[0])
        fn, float_xs = (lambda: layer(xs[0])), []
    elif case.name.startswith("masking"):
        # perturbing a padded step would unmask it (a jump); keep padded steps fixed at the value
        padded = np.all(xs[0] == layer.mask_value, axis=-1, keepdims=True)
        fn, float_xs = (lambda x: layer(x * ~padded + padded * layer.mask_value)), xs
    else:
        fn, float_xs = (lambda *ts: layer(case.pack(ts))), xs
    fn(*float_xs)  # builds
    check_grads(fn, *float_xs, params=layer.weights)


def test_dropout_gradients_match_finite_differences(float64):
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    check_grads(lambda t: layers.Dropout(0.4, seed=11)(t, training=True), x)
    check_grads(lambda t: layers.Dropout(0.4, (None, 1, 5), seed=11)(t, training=True), x)


def test_lambda_and_time_distributed_dropout_gradients(float64):
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    check_grads(lambda t: layers.Lambda(ops.sigmoid)(t), x)
    dense = layers.TimeDistributed(layers.Dense(2, activation="softplus"))
    dense(x)
    check_grads(lambda t: dense(t), x, params=dense.weights)


# -- Dropout -------------------------------------------------------------------------------------

def test_dropout_is_identity_unless_training():
    x = np.random.default_rng(0).standard_normal((5, 7)).astype("float32")
    layer = layers.Dropout(0.5, seed=0)
    np.testing.assert_array_equal(layer(x).data, x)                  # None outside fit
    np.testing.assert_array_equal(layer(x, training=False).data, x)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_drops_the_right_fraction_and_blocks_gradients(rate):
    shape = (200, 500)
    x = minirnn.tensor(np.ones(shape, dtype="float32"), requires_grad=True)
    y = layers.Dropout(rate, seed=42)(x, training=True)
    dropped = y.data == 0
    n = dropped.size
    assert abs(dropped.mean() - rate) < 6 * np.sqrt(rate * (1 - rate) / n)  # ~6 sigma, seeded
    np.testing.assert_allclose(y.data[~dropped], 1 / (1 - rate), rtol=1e-6)
    g = np.random.default_rng(1).standard_normal(shape).astype("float32")
    y.backward(grad=g)
    assert np.all(x.grad[dropped] == 0)
    np.testing.assert_allclose(x.grad[~dropped], g[~dropped] / (1 - rate), rtol=1e-6)


def test_dropout_noise_shape_and_seeds():
    x = np.ones((3, 6, 50), dtype="float32")
    y = layers.Dropout(0.5, noise_shape=(None, 1, 50), seed=5)(x, training=True).data
    assert (y == y[:, :1]).all()  # one mask for every timestep
    a, b = layers.Dropout(0.5, seed=9), layers.Dropout(0.5, seed=9)
    first = a(x, training=True).data
    np.testing.assert_array_equal(first, b(x, training=True).data)       # reproducible
    assert not np.array_equal(first, a(x, training=True).data)           # fresh mask per call
    td = layers.TimeDistributed(layers.Dropout(0.5, seed=1))
    np.testing.assert_array_equal(td(x).data, x)
    assert (td(x, training=True).data == 0).any()


# -- hand formulas -------------------------------------------------------------------------------

@pytest.mark.parametrize("make, x_shape, expected", [
    (lambda: layers.Dense(2), (3, 5), 5 * 2 + 2),
    (lambda: layers.Dense(3, use_bias=False), (3, 4, 5), 5 * 3),
    (lambda: layers.Embedding(10, 4), (2, 3), 10 * 4),
    (lambda: layers.TimeDistributed(layers.Dense(3)), (2, 6, 4), 4 * 3 + 3),
    (lambda: layers.Concatenate(), None, 0),
])
def test_parameter_counts(make, x_shape, expected):
    layer = make()
    x = np.ones(x_shape, dtype="int32") if x_shape else [np.ones((2, 3)), np.ones((2, 1))]
    layer(x)
    assert layer.count_params() == expected


def test_time_distributed_weights_are_the_inner_layers():
    inner = layers.Dense(3)
    td = layers.TimeDistributed(inner)
    td(np.ones((2, 4, 5)))
    assert [id(w) for w in td.weights] == [id(inner.kernel), id(inner.bias)]


def test_shared_dense_accumulates_both_gradients():
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    g1, g2 = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    dense = layers.Dense(3, activation="tanh", dtype="float64")
    loss = (dense(x1) * g1).sum() + (dense(x2) * g2).sum()
    loss.backward()
    w, b = dense.kernel.data, dense.bias.data
    d1, d2 = g1 * (1 - np.tanh(x1 @ w + b) ** 2), g2 * (1 - np.tanh(x2 @ w + b) ** 2)
    np.testing.assert_allclose(dense.kernel.grad, x1.T @ d1 + x2.T @ d2, rtol=1e-12)
    np.testing.assert_allclose(dense.bias.grad, d1.sum(0) + d2.sum(0), rtol=1e-12)


def test_embedding_repeated_ids_accumulate():
    emb = layers.Embedding(4, 2, dtype="float64")
    x = np.array([[1, 1, 3], [1, 0, 3]])
    g = np.random.default_rng(0).standard_normal((2, 3, 2))
    emb(x).backward(grad=g)
    expected = np.zeros((4, 2))
    for (i, j), row in np.ndenumerate(x):
        expected[row] += g[i, j]
    np.testing.assert_allclose(emb.embeddings.grad, expected, rtol=1e-12)


def test_embedding_takes_integral_floats_and_keeps_its_dtype():
    emb = layers.Embedding(5, 3, dtype="float64")
    ids_ = np.array([[0, 4, 2]])
    np.testing.assert_array_equal(emb(ids_.astype("float32")).data, emb(ids_).data)
    np.testing.assert_array_equal(emb(ids_).data, emb.embeddings.data[ids_])
    assert emb(ids_).dtype == np.float64


@pytest.mark.parametrize("make, x", [
    (lambda: layers.Dense(2, dtype="float64"), np.ones((2, 3), "float32")),
    (lambda: layers.Add(dtype="float64"), [np.ones((2, 3), "float32"), np.ones((2, 3), "int32")]),
    (lambda: layers.Flatten(dtype="float64"), np.ones((2, 3, 1), "float32")),
    (lambda: layers.Embedding(3, 2, dtype="float64"), np.ones((2, 3), "int64")),
    (lambda: layers.Dense(2), np.ones((2, 3), "float64")),
])
def test_output_dtype_is_the_layer_dtype(make, x):
    layer = make()
    assert layer(x).dtype == np.dtype(layer.dtype)


def test_repeat_vector_and_reshape_values():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(layers.RepeatVector(2)(x).data, np.stack([x, x], axis=1))
    np.testing.assert_array_equal(layers.Reshape((-1, 1))(x).data, x[:, :, None])
    np.testing.assert_array_equal(layers.Flatten()(x[:, 0]).data, x[:, :1])


def test_symbolic_calls_infer_shapes():
    seq = layers.Input(shape=(None, 5))
    assert layers.TimeDistributed(layers.Dense(3))(seq).shape == (None, None, 3)
    assert layers.Embedding(10, 4, mask_zero=True)(layers.Input((6,), dtype="int32")).has_mask
    a, b = layers.Input((4,)), layers.Input((2,))
    assert layers.Concatenate()([a, b]).shape == (None, 6)
    assert layers.Flatten()(layers.Input((3, 4))).shape == (None, 12)


# -- bad input: clear errors, raised before any state change -------------------------------------

def test_dense_rejects_a_different_feature_size():
    dense = layers.Dense(2)
    dense(np.ones((3, 5)))
    before = dense.get_weights()
    with pytest.raises(ValueError, match=r"size 5 on axis -1.*got shape \(3, 4\)"):
        dense(np.ones((3, 4)))
    for w, w0 in zip(dense.get_weights(), before):
        np.testing.assert_array_equal(w, w0)


def test_dense_rejects_rank_one_before_building():
    dense = layers.Dense(2)
    with pytest.raises(ValueError, match=r"rank >= 2.*got shape \(5,\)"):
        dense(np.ones(5))
    assert not dense.built and dense.weights == []


@pytest.mark.parametrize("bad", ["count", "shape"])
def test_set_weights_checks_everything_first(bad):
    dense = layers.Dense(3)
    dense(np.ones((2, 4)))
    before = dense.get_weights()
    new = [np.full((4, 3), 7.0), np.full((3,), 7.0)]
    new = new[:1] if bad == "count" else [new[0], np.zeros((4,))]
    with pytest.raises(ValueError, match=r"\(4, 3\), \(3,\)"):
        dense.set_weights(new)
    for w, w0 in zip(dense.get_weights(), before):
        np.testing.assert_array_equal(w, w0)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match=r"'tanhh'.*'tanh'"):
        layers.Dense(2, activation="tanhh")
    with pytest.raises(ValueError, match=r"'glorot'.*'glorot_uniform'"):
        layers.Dense(2, kernel_initializer="glorot")
    with pytest.raises(ValueError, match=r"'Densee'.*'Dense'"):
        layers.TimeDistributed.from_config({"layer": {"class_name": "Densee", "config": {}}})


@pytest.mark.parametrize("layer, shapes", [
    (layers.Add(), [(2, 3), (2, 4)]),
    (layers.Multiply(), [(2, 3, 4), (2, 3, 4), (2, 2, 4)]),
    (layers.Average(), [(2, 3), (3, 3)]),
    (layers.Concatenate(), [(2, 3, 4), (2, 2, 4)]),
    (layers.Concatenate(axis=1), [(2, 3, 4), (2, 3)]),
])
def test_merge_rejects_mismatched_shapes(layer, shapes):
    with pytest.raises(ValueError, match="got shapes " + re.escape(str(shapes))):
        layer([np.ones(s) for s in shapes])


def test_merge_broadcasts_size_one_like_keras():
    a, b = np.ones((2, 3, 4)), np.arange(4.0).reshape(1, 1, 4).repeat(2, 0)
    np.testing.assert_array_equal(layers.Add()([a, b]).data, a + b)
    np.testing.assert_array_equal(layers.Multiply()([a, b[:, 0]]).data, a * b)  # rank 2 -> axis 1
    with pytest.raises(ValueError, match="list"):
        layers.Add()(a)


@pytest.mark.parametrize("bad_id", [7, -1])
def test_embedding_rejects_out_of_range_ids(bad_id):
    emb = layers.Embedding(7, 2)
    emb(np.array([[0, 6]]))
    before = emb.get_weights()[0]
    with pytest.raises(ValueError, match=rf"\[0, 6\].*got {bad_id}"):
        emb(np.array([[1, bad_id, 2]]))
    np.testing.assert_array_equal(emb.get_weights()[0], before)


@pytest.mark.parametrize("make, x, match", [
    (lambda: layers.TimeDistributed(layers.Dense(2)), np.ones((2, 3)),
     r"\(batch, timesteps, \.\.\.\).*\(2, 3\)"),
    (lambda: layers.RepeatVector(2), np.ones((2, 3, 4)), r"\(batch, features\).*\(2, 3, 4\)"),
    (lambda: layers.Reshape((5, -1)), np.ones((2, 3, 4)), r"\(2, 3, 4\).*\(5, -1\)"),
    (lambda: layers.Dropout(0.5, noise_shape=(2, 1)), np.ones((2, 3, 4)), r"rank 3"),
])
def test_bad_shapes_are_named(make, x, match):
    with pytest.raises(ValueError, match=match):
        make()(x, training=True) if isinstance(make(), layers.Dropout) else make()(x)


@pytest.mark.parametrize("make", [
    lambda: layers.Dense(0), lambda: layers.Embedding(0, 3), lambda: layers.Dropout(1.5),
    lambda: layers.RepeatVector(-1), lambda: layers.Reshape((-1, -1)),
    lambda: layers.TimeDistributed("dense"),
])
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make()


def test_a_mask_is_forgotten_with_its_tensor():
    import gc
    from minirnn.layers import masks
    y = layers.Masking()(np.zeros((2, 3, 1), dtype=np.float32))
    assert y._keras_mask is not None and not y._keras_mask.any()
    key = id(y)
    del y
    gc.collect()
    assert key not in masks._MASKS
