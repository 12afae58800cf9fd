"""minirnn.ops functions and Python operators on symbolic tensors (an Input, a layer's output)
against Keras 3, which records such calls as operations of the functional graph.

Every graph is built twice from one builder taking the library (keras or minirnn) as argument;
weights are copied from Keras layer by layer, and the expected numbers are Keras's own (its
predictions, its GradientTape gradients, its symbolic shapes), or finite differences.
"""
import json
import os
import re

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, strategies as st  # noqa: E402

import minirnn  # noqa: E402
from minirnn.gradcheck import check_grads  # noqa: E402
from minirnn.layers import OpLayer  # noqa: E402
from minirnn.saving.serialization import deserialize_layer  # noqa: E402
from minirnn.tensor import register_deferred_handler, unregister_deferred_handler  # noqa: E402
from tf_helpers import assert_close, import_tf  # noqa: E402

tf = import_tf()
import keras  # noqa: E402

pytestmark = pytest.mark.tf

T, D, V = 5, 3, 11


@pytest.fixture
def both_float64():
    # Keras fixes its global dtype policy when first used: set_floatx alone would not reach it
    previous = keras.config.floatx(), keras.config.dtype_policy(), minirnn.floatx()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    minirnn.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(previous[0])
        keras.config.set_dtype_policy(previous[1])
        minirnn.set_floatx(previous[2])


# -- graphs, built by either library --------------------------------------------------------------

def one_hot_bidirectional(lib):
    """Deep Learning with Python ch. 11: one-hot tokens into a bidirectional LSTM."""
    tokens = lib.Input(shape=(None,), dtype="int64", name="tokens")
    embedded = lib.ops.one_hot(tokens, V)
    h = lib.layers.Bidirectional(lib.layers.LSTM(3, name="rnn"), name="birnn")(embedded)
    return lib.Model(tokens, lib.layers.Dense(1, name="head")(h))


def concatenate_and_arithmetic(lib):
    """concatenate, then every arithmetic operator, constants on either side."""
    a, b = lib.Input((4,), name="a"), lib.Input((3,), name="b")
    c = lib.ops.concatenate([a, b], axis=-1)
    d = (c * 2.0 - 1.0) / 3.0 + c ** 2 - 0.5 * c
    e = -d + 1.0 / (1.0 + c * c) - (2.0 - a[:, :1]) ** 3
    f = lib.layers.Dense(2, activation="tanh", name="hidden")(e)
    return lib.Model([a, b], lib.layers.Dense(1, name="head")(f * b[:, 1:] + f / 4.0 + abs(f)))


def indexing_and_expand_dims(lib):
    """Slices of an LSTM's sequence, expand_dims, a matmul with a constant, a concatenate."""
    x = lib.Input((T, D), name="x")
    h = lib.layers.LSTM(4, return_sequences=True, name="rnn")(x)
    last, first, middle = h[:, -1], h[:, 0, :2], h[..., 1:3][:, 2]
    column = lib.ops.expand_dims(last, -1)                       # (None, 4, 1)
    projected = x[:, 1:4] @ np.linspace(-1.0, 1.0, 2 * D).reshape(D, 2)
    joined = lib.ops.concatenate([last, first, middle, column[:, :, 0] * last,
                                  projected[:, -1]], axis=-1)
    return lib.Model(x, lib.layers.Dense(2, name="head")(joined))


def inputs_of(builder, rng):
    if builder is one_hot_bidirectional:
        return rng.integers(0, V, size=(3, T))
    if builder is concatenate_and_arithmetic:
        return [rng.normal(size=(3, 4)), rng.normal(size=(3, 3))]
    return rng.normal(size=(3, T, D))


BUILDERS = [one_hot_bidirectional, concatenate_and_arithmetic, indexing_and_expand_dims]


def both(builder):
    """(keras model, minirnn model with Keras's weights)."""
    kmodel, mmodel = builder(keras), builder(minirnn)
    ours = {l.name: l for l in mmodel.layers}
    for layer in kmodel.layers:
        ours[layer.name].set_weights(layer.get_weights())
    return kmodel, mmodel


def _base(name):
    return re.sub(r"_\d+$", "", name)


def _keras_operation_class(op):
    return type(op).__name__


# -- predictions and gradients ---------------------------------------------------------------------

@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_predictions_equal_keras(builder, both_float64):
    kmodel, mmodel = both(builder)
    x = inputs_of(builder, np.random.default_rng(1))
    expected = kmodel.predict(x, verbose=0)
    assert_close(mmodel.predict(x, verbose=0), expected, "float64")
    assert_close(mmodel(x).data, expected, "float64")


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_gradients_equal_keras(builder, both_float64):
    """The gradients of a projection of the output, for every weight and every float input: the
    ones for the inputs pass through nothing but the op nodes on the way in."""
    kmodel, mmodel = both(builder)
    rng = np.random.default_rng(2)
    x = inputs_of(builder, rng)
    xs = x if isinstance(x, list) else [x]
    floats = [i for i, v in enumerate(xs) if v.dtype.kind == "f"]
    upstream = rng.normal(size=kmodel.output.shape[1:])

    kx = [tf.constant(v) for v in xs]
    with tf.GradientTape(persistent=True) as tape:
        for i in floats:
            tape.watch(kx[i])
        kloss = tf.reduce_sum(kmodel(kx if isinstance(x, list) else kx[0]) * upstream)

    mx = [minirnn.tensor(v, requires_grad=v.dtype.kind == "f") for v in xs]
    mloss = (mmodel(mx if isinstance(x, list) else mx[0]) * upstream).sum()
    mloss.backward()
    assert_close(mloss.data, kloss.numpy(), "float64")
    ours = {l.name: l for l in mmodel.layers}
    for layer in kmodel.layers:
        if not layer.trainable_weights:
            continue
        expected = tape.gradient(kloss, layer.trainable_weights)
        for w, g in zip(ours[layer.name].trainable_weights, expected):
            assert_close(w.grad, g.numpy(), "float64", f"{layer.name} {w.name}")
    for i in floats:
        assert_close(mx[i].grad, tape.gradient(kloss, kx[i]).numpy(), "float64", f"input {i}")


@pytest.mark.parametrize("builder", [concatenate_and_arithmetic, indexing_and_expand_dims],
                         ids=lambda b: b.__name__)
def test_gradients_through_the_model_pass_finite_differences(builder, float64):
    model = builder(minirnn)
    x = inputs_of(builder, np.random.default_rng(3))
    xs = x if isinstance(x, list) else [x]
    check_grads(lambda *ts: model(list(ts) if isinstance(x, list) else ts[0]), *xs,
                params=model.trainable_weights)


def test_a_model_with_op_nodes_trains(float64):
    minirnn.utils.set_random_seed(4)  # the initial weights and the shuffling
    model = concatenate_and_arithmetic(minirnn)
    rng = np.random.default_rng(4)
    x = [rng.normal(size=(64, 4)), rng.normal(size=(64, 3))]
    y = np.tanh(x[0][:, :1] - x[1][:, 1:2])
    model.compile(optimizer=minirnn.optimizers.Adam(0.02), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before


# -- the graph as Keras lists it -------------------------------------------------------------------

@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_layers_exclude_op_nodes_and_operations_list_them_as_keras(builder):
    kmodel, mmodel = builder(keras), builder(minirnn)
    assert [l.name for l in mmodel.layers] == [l.name for l in kmodel.layers]
    assert not any(isinstance(l, OpLayer) for l in mmodel.layers)
    ours = [(_base(op.name), getattr(op, "keras_class_name", type(op).__name__))
            for op in mmodel.operations]
    theirs = [(_base(op.name), _keras_operation_class(op)) for op in kmodel.operations]
    assert ours == theirs


def test_summary_rows_list_op_nodes_as_keras():
    kmodel, mmodel = concatenate_and_arithmetic(keras), concatenate_and_arithmetic(minirnn)
    lines = []
    mmodel.summary(print_fn=lines.append)
    got = [(_base(line[1:34].split(" (")[0]), line[1:34].split(" (")[1].rstrip(") "),
            line[34:60].rstrip(), line[60:].strip())
           for line in lines if line.startswith(" ") and not line.startswith(" Layer (type)")]
    expected = [(_base(op.name), type(op).__name__,
                 str(tuple(op._inbound_nodes[-1].outputs[0].shape)),
                 str(op.count_params() if hasattr(op, "count_params") else 0))
                for op in kmodel.operations]
    assert got == expected


@st.composite
def index_keys(draw):
    """A key for a (batch, 4, 5) tensor: ints, slices (steps of either sign), Ellipsis, None."""
    parts = [builtins_slice(None)]
    for size in (4, 5):
        kind = draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            parts.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            parts.append(builtins_slice(draw(st.none() | st.integers(-size, size)),
                                        draw(st.none() | st.integers(-size, size)),
                                        draw(st.sampled_from([None, 1, 2, -1]))))
        else:
            parts.append(builtins_slice(None))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(1, len(parts))), None)
    return tuple(parts)


builtins_slice = slice


@given(key=index_keys())
def test_indexing_a_symbolic_tensor_gives_keras_shape(key):
    expected = keras.Input((4, 5))[key].shape
    inputs = minirnn.Input((4, 5))
    got = inputs[key]
    assert got.shape == tuple(expected)
    x = np.random.default_rng(5).normal(size=(2, 4, 5))
    np.testing.assert_array_equal(minirnn.Model(inputs, got)(x).data, x[key].astype(np.float32))


# -- saving --------------------------------------------------------------------------------------

@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_npz_round_trip(builder, tmp_path):
    model = builder(minirnn)
    x = inputs_of(builder, np.random.default_rng(6))
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = minirnn.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [op.name for op in loaded.operations] == [op.name for op in model.operations]
    ops_in_config = [l["config"]["op"] for l in model.get_config()["layers"]
                     if l["class_name"] == "OpLayer"]
    assert all(callable(getattr(minirnn.ops, name)) for name in ops_in_config) and ops_in_config


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_keras_file_from_keras_loads_and_predicts_as_keras(builder, tmp_path, both_float64):
    kmodel = builder(keras)
    path = tmp_path / "keras_made.keras"
    kmodel.save(path)
    model = minirnn.models.load_model(path)
    x = inputs_of(builder, np.random.default_rng(7))
    assert_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), "float64")


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_keras_file_from_minirnn_loads_in_keras(builder, tmp_path, both_float64):
    model = builder(minirnn)
    path = tmp_path / "minirnn_made.keras"
    model.save(path)
    kmodel = keras.models.load_model(path)
    x = inputs_of(builder, np.random.default_rng(8))
    assert_close(kmodel.predict(x, verbose=0), model.predict(x, verbose=0), "float64")
    assert [_base(op.name) for op in kmodel.operations] == \
        [_base(op.name) for op in model.operations]


def masked_merge_then_ops(lib):
    """Keras computes the merged mask with operations of its own (NotEqual, ExpandDims,
    Concatenate, ...): those are skipped, the ops on the data are run."""
    a, b = lib.Input((T,), dtype="int32", name="a"), lib.Input((T,), dtype="int32", name="b")
    ea = lib.layers.Embedding(V, 3, mask_zero=True, name="emb_a")(a)
    eb = lib.layers.Embedding(V, 3, mask_zero=True, name="emb_b")(b)
    merged = lib.layers.Concatenate(name="cat")([ea, eb])
    h = lib.layers.LSTM(4, name="rnn")(merged)
    return lib.Model([a, b], lib.layers.Dense(1, name="head")(
        lib.ops.concatenate([h * 2.0, h[:, :1]], axis=-1)))


def test_keras_mask_operations_are_skipped_and_data_operations_run(tmp_path, both_float64):
    kmodel = masked_merge_then_ops(keras)
    kinds = [type(op).__name__ for op in kmodel.operations]
    assert "NotEqual" in kinds and kinds.count("Concatenate") >= 2  # the mask's and the data's
    kmodel.save(tmp_path / "masked.keras")
    model = minirnn.models.load_model(tmp_path / "masked.keras")
    rng = np.random.default_rng(10)
    x = [rng.integers(0, V, size=(4, T)), rng.integers(0, V, size=(4, T))]
    x[0][:, -2:] = 0
    assert [op.name for op in model.layers] == [op.name for op in kmodel.layers]
    assert_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), "float64")


def test_an_op_keras_files_do_not_carry_is_refused_by_name(tmp_path):
    x = minirnn.Input((T, D))
    model = minirnn.Model(x, minirnn.layers.Dense(1)(minirnn.ops.cumsum(x, axis=1)))
    with pytest.raises(ValueError, match="cumsum.*npz"):
        model.save(tmp_path / "model.keras")
    assert not (tmp_path / "model.keras").exists()
    model.save(tmp_path / "model.npz")  # minirnn's own file takes any public op
    loaded = minirnn.models.load_model(tmp_path / "model.npz")
    data = np.random.default_rng(9).normal(size=(2, T, D))
    np.testing.assert_array_equal(loaded(data).data, model(data).data)


@pytest.mark.parametrize("op", ["os:system", "_concat", "Tensor", "no_such_op", "eval"])
def test_a_config_naming_anything_but_a_public_op_is_refused(op):
    spec = {"class_name": "OpLayer", "config": {"name": "node", "op": op,
                                                 "args": [{"__tensor__": 0}], "kwargs": {}}}
    with pytest.raises(ValueError, match=re.escape(op.split(":")[0])):
        deserialize_layer(spec)


def test_a_tampered_npz_config_op_is_refused(tmp_path):
    model = concatenate_and_arithmetic(minirnn)
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "OpLayer" and layer["config"]["op"] == "multiply":
            layer["config"]["op"] = "builtins:exec"
    with pytest.raises(ValueError, match="builtins"):
        minirnn.Model.from_config(json.loads(json.dumps(config)))


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make, words", [
    (lambda: minirnn.Input((5,)) + minirnn.Input((3,)), ["add", "(None, 5)", "(None, 3)"]),
    (lambda: minirnn.ops.concatenate([minirnn.Input((5, 2)), minirnn.Input((4, 3))], axis=-1),
     ["concatenate", "(None, 5, 2)", "(None, 4, 3)"]),
    (lambda: minirnn.Input((5,)) @ np.ones((4, 2)), ["matmul", "(None, 5)"]),
    (lambda: minirnn.ops.one_hot(minirnn.Input((5,)), 3), ["one_hot", "integer"]),
    (lambda: minirnn.ops.expand_dims(minirnn.Input((5,)), 4), ["expand_dims", "(None, 5)"]),
    (lambda: minirnn.Input((5,))[:, 7], ["getitem", "(None, 5)"]),
], ids=["add", "concatenate", "matmul", "one_hot", "expand_dims", "getitem"])
def test_a_wrong_partner_fails_when_the_graph_is_built(make, words):
    with pytest.raises((ValueError, TypeError)) as caught:
        make()
    for word in words:
        assert word in str(caught.value)


def test_a_weight_as_constant_of_an_op_is_refused():
    weight = minirnn.tensor(np.ones(4), requires_grad=True)
    with pytest.raises(TypeError, match="requires grad"):
        minirnn.Input((4,)) * weight


def test_a_symbolic_tensor_has_no_truth_value_and_no_values():
    x = minirnn.Input((4,))
    with pytest.raises(TypeError, match="boolean"):
        bool(x)
    with pytest.raises(TypeError, match="NumPy array"):
        np.asarray(x)
    assert x == x and not (x == minirnn.Input((4,)))  # == stays identity, as in Keras
    assert (x != 1).dtype == np.dtype(bool) and (x > 0).shape == (None, 4)


# -- the engine's hook ---------------------------------------------------------------------------

def test_deferred_handlers_see_only_calls_with_foreign_arguments():
    seen = []

    def spy(op, args, kwargs):
        seen.append(op.__name__)
        return NotImplemented

    class Foreign:
        def __array__(self, dtype=None, copy=None):
            return np.ones(3)
    register_deferred_handler(spy)
    try:
        t = minirnn.tensor(np.arange(3.0))
        t + t, t * 2, minirnn.ops.add(t, np.ones(3)), t[1:], minirnn.ops.concatenate([t, t])
        minirnn.ops.expand_dims(t, 0), minirnn.ops.one_hot(np.arange(3), 4)
        assert seen == []
        result = minirnn.ops.add(t, Foreign())  # offered to the handlers, then run as usual
        np.testing.assert_array_equal(result.data, np.arange(3.0) + 1)
        minirnn.ops.concatenate([t, Foreign()])
        assert seen[:2] == ["add", "concatenate"]  # (and the ops concatenate calls in turn)
    finally:
        unregister_deferred_handler(spy)
