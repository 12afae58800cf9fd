"""Conv1D and the 1-D pooling layers against Keras 3: outputs and tf.GradientTape gradients with
copied weights (float64 to rel 1e-9, float32 to rel 1e-5) over a table of options, masks from
Masking and Embedding(mask_zero=True), a few fixed numbers from Keras's docs and tests, configs,
bad input, and a CNN-LSTM trained a few steps beside Keras.
"""
import numpy as np
import pytest

import minirnn
from keras_layer_parity import (base_name, compare_with_keras, embedding, keras, masking,
                                with_padding)
from strategies import make_array
from tf_helpers import assert_close, seed_of

pytestmark = [pytest.mark.tf,
              # Keras warns that a layer without mask support drops the mask it was given
              pytest.mark.filterwarnings("ignore:Layer '.*' .* was passed an input with a mask")]

DTYPES = ["float64", "float32"]


def layer(cls, *args, **kwargs):
    """A maker of cls(*args, **kwargs) in either library. With data_format="channels_first",
    Keras's twin is channels_last on swapped axes (see compare_with_keras)."""
    first = kwargs.get("data_format") == "channels_first"

    def make(lib, dtype):
        options = dict(kwargs)
        if first and lib is keras:
            options["data_format"] = "channels_last"
        return getattr(lib.layers, cls)(*args, dtype=dtype, **options)
    make.__name__ = f"{cls}{args}{kwargs}"
    make.keras_transposed = first
    return make


def conv(**kwargs):
    return layer("Conv1D", **kwargs)


CONV_CASES = [
    # (maker, input shape (B, steps, channels))
    (conv(filters=4, kernel_size=3), (2, 9, 3)),
    (conv(filters=4, kernel_size=3, padding="same"), (2, 9, 3)),
    (conv(filters=4, kernel_size=4, padding="same"), (2, 9, 3)),       # even kernel: pad 1 | 2
    (conv(filters=4, kernel_size=3, padding="causal"), (2, 9, 3)),
    (conv(filters=2, kernel_size=3, strides=2), (2, 9, 3)),
    (conv(filters=2, kernel_size=3, strides=3, padding="same"), (2, 10, 3)),
    (conv(filters=2, kernel_size=2, strides=2, padding="causal"), (2, 7, 2)),
    (conv(filters=3, kernel_size=3, dilation_rate=2), (2, 9, 2)),
    (conv(filters=3, kernel_size=3, dilation_rate=3, padding="same"), (2, 8, 2)),
    (conv(filters=3, kernel_size=2, dilation_rate=2, padding="causal"), (2, 8, 2)),
    (conv(filters=5, kernel_size=1), (3, 4, 3)),
    (conv(filters=3, kernel_size=5, padding="same"), (1, 2, 2)),        # kernel longer than input
    (conv(filters=3, kernel_size=(3,), strides=(1,), activation="relu", use_bias=False), (2, 7, 3)),
    (conv(filters=3, kernel_size=3, activation="tanh", bias_initializer="ones"), (2, 6, 2)),
    (conv(filters=3, kernel_size=2, strides=2, data_format="channels_first"), (2, 3, 7)),
    (conv(filters=3, kernel_size=3, padding="causal", data_format="channels_first"), (2, 2, 5)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make, shape", CONV_CASES, ids=[c[0].__name__ for c in CONV_CASES])
def test_conv1d_matches_keras(make, shape, dtype):
    seed = seed_of(make.__name__)
    compare_with_keras(make, make_array(shape, seed), dtype, seed)


POOL_CASES = [
    (layer("MaxPooling1D"), (2, 9, 3), "normal"),
    (layer("MaxPooling1D", 3, 1), (2, 9, 3), "normal"),
    (layer("MaxPooling1D", 3, 2, "same"), (2, 9, 3), "normal"),
    (layer("MaxPooling1D", 4, 3, "same"), (2, 10, 2), "normal"),
    (layer("MaxPooling1D", 2, 1, "same"), (2, 5, 2), "ties"),      # ties: the gradient's owner
    (layer("MaxPooling1D", 3, 1, "valid"), (2, 8, 3), "ties"),
    (layer("MaxPooling1D", 5, padding="same"), (1, 3, 2), "normal"),  # window longer than input
    (layer("MaxPooling1D", 2, data_format="channels_first"), (2, 3, 7), "normal"),
    (layer("AveragePooling1D", 2), (2, 9, 3), "normal"),
    (layer("AveragePooling1D", 3, 1), (2, 9, 3), "normal"),
    (layer("AveragePooling1D", 3, 2, "same"), (2, 9, 3), "normal"),  # padding left out of count
    (layer("AveragePooling1D", 4, 1, "same"), (2, 6, 2), "normal"),
    (layer("AveragePooling1D", 5, padding="same"), (1, 3, 2), "normal"),
    (layer("AveragePooling1D", 2, 1, "same", data_format="channels_first"), (2, 3, 5), "normal"),
    (layer("GlobalAveragePooling1D"), (2, 7, 3), "normal"),
    (layer("GlobalAveragePooling1D", keepdims=True), (2, 7, 3), "normal"),
    (layer("GlobalAveragePooling1D", data_format="channels_first"), (2, 3, 7), "normal"),
    (layer("GlobalMaxPooling1D"), (2, 7, 3), "normal"),
    (layer("GlobalMaxPooling1D", keepdims=True), (2, 7, 3), "ties"),   # reduce_max shares ties
    (layer("GlobalMaxPooling1D", data_format="channels_first"), (2, 3, 7), "normal"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make, shape, kind", POOL_CASES, ids=[c[0].__name__ for c in POOL_CASES])
def test_pooling_matches_keras(make, shape, kind, dtype):
    seed = seed_of(make.__name__ + kind)
    compare_with_keras(make, make_array(shape, seed, kind=kind), dtype, seed)


MASKED_CASES = [
    # masks reach pooling/conv layers through Masking; all but GlobalAveragePooling1D ignore them
    layer("GlobalAveragePooling1D"),
    layer("GlobalAveragePooling1D", keepdims=True),
    layer("GlobalMaxPooling1D"),          # takes no mask: the zeroed steps enter the max
    layer("MaxPooling1D", 2),
    layer("AveragePooling1D", 3, 1, "same"),
    conv(filters=3, kernel_size=2, padding="causal"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", MASKED_CASES, ids=[m.__name__ for m in MASKED_CASES])
def test_masked_input_matches_keras(make, dtype):
    seed = seed_of("masked " + make.__name__)
    x = with_padding(make_array((3, 6, 2), seed) - 2.0, lengths=[6, 4, 1])  # values mostly < 0
    compare_with_keras(make, x, dtype, seed, before=masking)


@pytest.mark.parametrize("make", [layer("GlobalAveragePooling1D"), layer("GlobalMaxPooling1D"),
                                  layer("MaxPooling1D", 2, 1, "same")],
                         ids=["GlobalAveragePooling1D", "GlobalMaxPooling1D", "MaxPooling1D"])
def test_after_embedding_with_mask_zero_matches_keras(make):
    ids = np.array([[3, 1, 4, 1, 5, 0, 0], [2, 6, 0, 0, 0, 0, 0], [5, 3, 5, 8, 9, 7, 9]])
    compare_with_keras(make, ids, "float64", seed_of(make.__name__), before=embedding(10, 4))


def test_mask_leaves_pooling_as_in_keras():
    x = minirnn.layers.Masking()(with_padding(np.ones((2, 4, 3)), [4, 2]))
    assert x._keras_mask is not None
    assert minirnn.layers.GlobalAveragePooling1D()(x)._keras_mask is None
    assert minirnn.layers.MaxPooling1D()(x)._keras_mask is None
    assert minirnn.layers.Conv1D(2, 2)(x)._keras_mask is None


# -- fixed numbers ---------------------------------------------------------------------------------

def test_pooling_docstring_examples_of_keras():
    x = np.arange(1.0, 6.0).reshape(1, 5, 1)
    layers = minirnn.layers

    def pooled(cls, **kwargs):
        return cls(**kwargs)(x).data.ravel().tolist()
    assert pooled(layers.MaxPooling1D, pool_size=2, strides=1) == [2, 3, 4, 5]
    assert pooled(layers.MaxPooling1D, pool_size=2, strides=2) == [2, 4]
    assert pooled(layers.MaxPooling1D, pool_size=2, strides=1, padding="same") == [2, 3, 4, 5, 5]
    assert pooled(layers.AveragePooling1D, pool_size=2, strides=1) == [1.5, 2.5, 3.5, 4.5]
    assert pooled(layers.AveragePooling1D, pool_size=2, strides=2) == [1.5, 3.5]
    # 'same': the last window holds step 5 and one padded step, which is not counted
    assert pooled(layers.AveragePooling1D, pool_size=2, strides=1,
                  padding="same") == [1.5, 2.5, 3.5, 4.5, 5.0]


def test_global_average_pooling_mask_as_keras_test():
    # keras/src/layers/pooling/global_average_pooling_test.py: sum over unmasked steps / count
    x = np.arange(24.0).reshape(2, 3, 4)
    mask = np.array([[1, 1, 0], [0, 1, 0]], dtype=bool)
    t = minirnn.Tensor(x)
    t._keras_mask = mask
    got = minirnn.layers.GlobalAveragePooling1D()(t).data
    np.testing.assert_array_equal(got, [(x[0, 0] + x[0, 1]) / 2, x[1, 1]])


def test_conv1d_output_shape_of_keras_docstring():
    y = minirnn.layers.Conv1D(32, 3, activation="relu")(np.random.rand(4, 10, 128))
    assert y.shape == (4, 8, 32)


# -- configuration, names, weights ---------------------------------------------------------------

SHARED_KEYS = {
    "Conv1D": ["filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
               "groups", "activation", "use_bias", "name", "trainable"],
    "MaxPooling1D": ["pool_size", "strides", "padding", "data_format", "name", "trainable"],
    "AveragePooling1D": ["pool_size", "strides", "padding", "data_format", "name", "trainable"],
    "GlobalAveragePooling1D": ["data_format", "keepdims", "name", "trainable"],
    "GlobalMaxPooling1D": ["data_format", "keepdims", "name", "trainable"],
}
CONFIG_CASES = [
    ("Conv1D", dict(filters=4, kernel_size=3, strides=2, padding="SAME", activation="relu",
                    use_bias=False, name="c")),
    ("Conv1D", dict(filters=2, kernel_size=[2], dilation_rate=2, padding="causal",
                    data_format="channels_first", name="c2")),
    ("MaxPooling1D", dict(name="p")),
    ("MaxPooling1D", dict(pool_size=3, strides=1, padding="same", name="p2")),
    ("AveragePooling1D", dict(pool_size=2, data_format="channels_first", name="a")),
    ("GlobalAveragePooling1D", dict(keepdims=True, name="g")),
    ("GlobalMaxPooling1D", dict(data_format="channels_first", name="m")),
]


@pytest.mark.parametrize("cls, kwargs", CONFIG_CASES)
def test_config_matches_keras_and_round_trips(cls, kwargs):
    ours, theirs = getattr(minirnn.layers, cls)(**kwargs), getattr(keras.layers, cls)(**kwargs)
    config = ours.get_config()
    for key in SHARED_KEYS[cls]:
        assert config[key] == theirs.get_config()[key], key
    again = type(ours).from_config(config)
    assert again.get_config() == config
    # through a Sequential's config as well (the layer class table)
    model = minirnn.Sequential([minirnn.Input((6, 3)) if kwargs.get("data_format") is None
                                else minirnn.Input((3, 6)), ours])
    rebuilt = minirnn.Sequential.from_config(model.get_config())
    assert type(rebuilt.layers[-1]) is type(ours)
    assert rebuilt.layers[-1].get_config() == config


@pytest.mark.parametrize("cls, args", [("Conv1D", (2, 3)), ("MaxPooling1D", ()),
                                       ("AveragePooling1D", (2,)), ("GlobalAveragePooling1D", ()),
                                       ("GlobalMaxPooling1D", ())])
def test_default_names_and_weights_are_those_of_keras(cls, args):
    ours, theirs = getattr(minirnn.layers, cls)(*args), getattr(keras.layers, cls)(*args)
    assert base_name(ours.name) == base_name(theirs.name)
    ours.build((2, 6, 3))
    theirs.build((2, 6, 3))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]


def test_keras_aliases_name_the_same_classes():
    ly = minirnn.layers
    assert ly.MaxPool1D is ly.MaxPooling1D and ly.AvgPool1D is ly.AveragePooling1D
    assert ly.GlobalAvgPool1D is ly.GlobalAveragePooling1D and ly.Convolution1D is ly.Conv1D


# -- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, message", [
    (lambda: minirnn.layers.Conv1D(0, 3), ValueError, r"Conv1D argument `filters` must be an int >= 1; got 0"),
    (lambda: minirnn.layers.Conv1D(2.5, 3), TypeError, r"Conv1D argument `filters` must be an int; got 2.5"),
    (lambda: minirnn.layers.Conv1D(2, 0), ValueError, r"`kernel_size` must be an int >= 1; got 0"),
    (lambda: minirnn.layers.Conv1D(2, (2, 2)), ValueError, r"`kernel_size` must be an int or a tuple of 1 int; got \(2, 2\)"),
    (lambda: minirnn.layers.Conv1D(2, 3, strides=0), ValueError, r"Conv1D argument `strides` must be an int >= 1; got 0"),
    (lambda: minirnn.layers.Conv1D(2, 3, padding="bogus"), ValueError, r"Conv1D argument `padding` must be one of \['valid', 'same', 'causal'\]; got 'bogus'"),
    (lambda: minirnn.layers.Conv1D(2, 3, groups=2), ValueError, r"only groups=1 .* got groups=2"),
    (lambda: minirnn.layers.Conv1D(2, 3, strides=2, dilation_rate=2), ValueError, r"strides > 1 together with dilation_rate > 1"),
    (lambda: minirnn.layers.Conv1D(2, 3, data_format="NWC"), ValueError, r"`data_format` must be one of"),
    (lambda: minirnn.layers.Conv1D(2, 3, bogus=1), TypeError, r"unexpected keyword arguments \['bogus'\]"),
    (lambda: minirnn.layers.MaxPooling1D(0), ValueError, r"MaxPooling1D argument `pool_size` must be an int >= 1; got 0"),
    (lambda: minirnn.layers.MaxPooling1D(2, strides=0), ValueError, r"MaxPooling1D argument `strides` must be an int >= 1; got 0"),
    (lambda: minirnn.layers.AveragePooling1D(2, padding="causal"), ValueError, r"AveragePooling1D argument `padding` must be one of \['valid', 'same'\]; got 'causal'"),
    (lambda: minirnn.layers.GlobalMaxPooling1D(keepdims="yes"), TypeError, r"GlobalMaxPooling1D argument `keepdims` must be True or False"),
])
def test_bad_constructor_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_kernel_longer_than_a_valid_input_is_refused_naming_the_layer():
    layer = minirnn.layers.Conv1D(2, 4, name="short")
    with pytest.raises(ValueError, match=r"Conv1D 'short' with padding='valid' expects inputs of "
                                         r"at least 4 steps .*got input shape \(1, 3, 2\) with 3 steps"):
        layer(np.zeros((1, 3, 2)))
    assert not layer.built and layer.weights == []
    dilated = minirnn.layers.Conv1D(2, 3, dilation_rate=2, name="dilated")
    dilated(np.zeros((1, 5, 2)))  # a span of exactly 5 fits
    with pytest.raises(ValueError, match=r"'dilated' .*at least 5 steps .*with 4 steps"):
        dilated(np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match=r"MaxPooling1D 'pool' .*at least pool_size=3 steps"):
        minirnn.layers.MaxPooling1D(3, name="pool")(np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match=r"Conv1D 'sym' .*at least 4 steps"):
        minirnn.layers.Conv1D(2, 4, name="sym")(minirnn.Input((3, 2)))


@pytest.mark.parametrize("make", [lambda: minirnn.layers.Conv1D(2, 2, name="x"),
                                  lambda: minirnn.layers.MaxPooling1D(name="x"),
                                  lambda: minirnn.layers.AveragePooling1D(2, name="x"),
                                  lambda: minirnn.layers.GlobalAveragePooling1D(name="x"),
                                  lambda: minirnn.layers.GlobalMaxPooling1D(name="x")])
@pytest.mark.parametrize("shape", [(4, 3), (2, 4, 3, 1)])
def test_wrong_rank_is_refused_naming_the_layer(make, shape):
    with pytest.raises(ValueError, match=r"'x' expects input of shape \(batch, .*\); got shape"):
        make()(np.zeros(shape))


def test_wrong_channels_after_build_are_refused():
    layer = minirnn.layers.Conv1D(2, 2, name="c")
    layer(np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match=r"Conv1D 'c' .*size 3 on axis -1.*got shape \(1, 4, 5\)"):
        layer(np.zeros((1, 4, 5)))


# -- a CNN-LSTM trained beside Keras ------------------------------------------------------------------

def cnn_lstm(lib):
    ly = lib.layers
    return lib.Sequential([lib.Input((12, 3)),
                           ly.Conv1D(6, 3, padding="causal", activation="relu", name="conv"),
                           ly.MaxPooling1D(2, name="pool"),
                           ly.Conv1D(4, 2, strides=2, activation="tanh", name="conv2"),
                           ly.LSTM(5, name="rnn"), ly.Dense(1, name="head")])


@pytest.fixture
def keras_float64():
    # the global dtype policy is fixed at its first use, so it is set along with floatx
    previous, policy = keras.backend.floatx(), keras.config.dtype_policy()
    keras.backend.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.backend.set_floatx(previous)
        keras.config.set_dtype_policy(policy)


def test_cnn_lstm_trains_like_keras_with_sgd(float64, keras_float64):
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((16, 12, 3)), rng.standard_normal((16, 1))
    theirs, ours = cnn_lstm(keras), cnn_lstm(minirnn)
    ours.set_weights(theirs.get_weights())
    # Keras keeps the learning rate in a float32 variable: 0.125 is the same number in float64
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.125), loss="mse")
    ours.compile(optimizer=minirnn.optimizers.SGD(learning_rate=0.125), loss="mse")
    fit = dict(epochs=4, batch_size=8, shuffle=False, verbose=0)
    expected = theirs.fit(x, y, **fit).history["loss"]
    got = ours.fit(x, y, **fit).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert expected[-1] < expected[0]  # it trained: the comparison is not of untouched models
    for g, e in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(g, e, "float64")
    assert_close(ours.predict(x), theirs.predict(x, verbose=0), "float64")


def test_variable_length_cnn_lstm_builds_and_predicts_like_keras():
    # a functional graph is traced with 2 or 3 dummy steps, which a 5-step kernel does not fit
    def build(lib):
        ly = lib.layers
        inputs = lib.Input((None, 3))
        z = ly.Conv1D(4, 5, activation="relu", name="conv")(inputs)
        z = ly.MaxPooling1D(3, strides=2, name="pool")(z)
        z = ly.Conv1D(2, 3, strides=3, name="conv2")(z)
        return lib.Model(inputs, ly.Dense(1, name="head")(ly.LSTM(3, name="rnn")(z)))
    theirs, ours = build(keras), build(minirnn)
    unknown = minirnn.layers.Conv1D(4, 5, strides=3)(minirnn.Input((None, 3)))
    assert unknown.shape == (None, None, 4)
    assert minirnn.layers.MaxPooling1D(4)(unknown).shape == (None, None, 4)
    assert minirnn.layers.Conv1D(4, 5, strides=2)(minirnn.Input((7, 3))).shape == (None, 2, 4)
    ours.set_weights(theirs.get_weights())
    for steps in (20, 13):
        x = make_array((2, steps, 3), steps).astype("float32")
        assert_close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), "float32")
