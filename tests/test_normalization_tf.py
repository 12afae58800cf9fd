"""BatchNormalization and LayerNormalization against Keras 3: outputs and tf.GradientTape
gradients with copied weights (float64 to rel 1e-9, float32 to rel 1e-5), moving statistics after
several training calls, inference, masks, trainable=False, tracing, fixed numbers from Keras's
tests, configs and bad input; gradients also against finite differences.
"""
import warnings

import numpy as np
import pytest

import minirnn
from keras_layer_parity import base_name, compare_with_keras, embedding, keras, masking, with_padding
from strategies import make_array
from tf_helpers import seed_of

pytestmark = [pytest.mark.tf,
              pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")]

DTYPES = ["float64", "float32"]


def bn(**kwargs):
    def make(lib, dtype):
        return lib.layers.BatchNormalization(dtype=dtype, **kwargs)
    make.__name__ = f"BatchNormalization({kwargs})"
    return make


def ln(**kwargs):
    def make(lib, dtype):
        return lib.layers.LayerNormalization(dtype=dtype, **kwargs)
    make.__name__ = f"LayerNormalization({kwargs})"
    return make


# non-trivial gamma/beta/moving statistics, so that every weight matters
INIT = dict(gamma_initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=1),
            beta_initializer=keras.initializers.RandomNormal(seed=2))
MOVING = dict(moving_mean_initializer=keras.initializers.RandomNormal(seed=3),
              moving_variance_initializer=keras.initializers.RandomUniform(0.5, 2.0, seed=4))

BN_CASES = [
    # (maker, input shape)
    (bn(), (4, 3)),
    (bn(), (3, 5, 4)),
    (bn(momentum=0.5, epsilon=1e-5), (3, 5, 4)),
    (bn(axis=1), (3, 5, 4)),
    (bn(axis=-2), (2, 3, 4, 2)),
    (bn(center=False), (3, 5, 2)),
    (bn(scale=False), (3, 5, 2)),
    (bn(center=False, scale=False), (6, 2)),
]


def _with_init(make, **init):
    """The same maker with (deterministic, non-trivial) initializers for its weights."""
    def made(lib, dtype):
        layer = make(lib, dtype)
        for key, initializer in init.items():
            if lib is minirnn:  # the same numbers: initialized by Keras, copied by the harness
                continue
            setattr(layer, key, initializer)
        return layer
    made.__name__ = make.__name__
    return made


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("make, shape", BN_CASES, ids=[c[0].__name__ for c in BN_CASES])
def test_batch_normalization_matches_keras(make, shape, training, dtype):
    seed = seed_of(make.__name__ + str(shape))
    x = make_array(shape, seed) * 3.0 + 1.5
    # three calls: in training the moving statistics move (and are compared after), in inference
    # they stay
    compare_with_keras(_with_init(make, **INIT, **MOVING), x, dtype, seed, calls=3,
                       training=training)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("lengths", [[5, 3, 1], [5, 0, 2]], ids=["ragged", "one-empty"])
def test_batch_normalization_with_masking_matches_keras(lengths, training, dtype):
    seed = seed_of(f"bn masked {lengths}")
    x = with_padding(make_array((3, 5, 2), seed) * 2.0 + 1.0, lengths)
    compare_with_keras(_with_init(bn(momentum=0.8), **INIT, **MOVING), x, dtype, seed,
                       before=masking, calls=2, training=training)


def test_batch_normalization_fully_masked_batch_matches_keras():
    x = np.zeros((2, 4, 3))
    compare_with_keras(bn(momentum=0.5), x, "float64", 0, before=masking, calls=2, training=True)


def test_batch_normalization_after_embedding_matches_keras():
    ids = np.array([[3, 1, 4, 1, 5, 0, 0], [2, 6, 0, 0, 0, 0, 0], [5, 3, 5, 8, 9, 7, 9]])
    compare_with_keras(_with_init(bn(momentum=0.9), **INIT), ids, "float64", 5,
                       before=embedding(10, 4), calls=2, training=True)


LN_CASES = [
    (ln(), (4, 3)),
    (ln(), (3, 5, 4)),
    (ln(axis=1), (3, 5, 4)),
    (ln(axis=[1, 2]), (3, 5, 4)),
    (ln(axis=(-1, -2)), (2, 3, 4, 2)),
    (ln(axis=[1, -1]), (2, 3, 4)),        # mixed signs: Keras sorts them as given
    # (with 2 features, a normalized row is +-1 whatever the input: its gradient is all rounding)
    (ln(epsilon=1e-6, center=False), (3, 5, 4)),
    (ln(scale=False), (3, 5, 3)),
    (ln(rms_scaling=True), (3, 5, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make, shape", LN_CASES, ids=[c[0].__name__ for c in LN_CASES])
def test_layer_normalization_matches_keras(make, shape, dtype):
    seed = seed_of(make.__name__ + str(shape))
    compare_with_keras(_with_init(make, **INIT), make_array(shape, seed) * 2.0 - 0.5, dtype, seed)


def test_layer_normalization_passes_the_mask_on():
    x = minirnn.layers.Masking()(with_padding(np.ones((2, 4, 3)), [4, 2]))
    y = minirnn.layers.LayerNormalization()(x)
    np.testing.assert_array_equal(y._keras_mask, [[1, 1, 1, 1], [1, 1, 0, 0]])
    compare_with_keras(_with_init(ln(), **INIT), with_padding(make_array((2, 4, 3), 1), [4, 2]),
                       "float64", 1, before=masking)


# -- finite differences --------------------------------------------------------------------------

@pytest.mark.parametrize("make, mask", [
    (lambda: minirnn.layers.BatchNormalization(), None),
    (lambda: minirnn.layers.BatchNormalization(axis=1), None),
    (lambda: minirnn.layers.BatchNormalization(), np.array([[1, 1, 0], [1, 0, 0]], bool)),
    (lambda: minirnn.layers.LayerNormalization(axis=[1, 2]), None),
    (lambda: minirnn.layers.LayerNormalization(rms_scaling=True), None),
])
def test_normalization_gradients_match_finite_differences(float64, make, mask):
    layer = make()
    x = make_array((2, 3, 2), 11) * 2.0 + 0.5
    layer.build(x.shape)
    rng = np.random.default_rng(3)
    layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()])

    def run(inputs):
        return layer(inputs, training=True, mask=mask) if "mask" in layer._call_takes else layer(inputs)
    before = [w.copy() for w in layer.get_weights()]
    minirnn.check_grads(run, x, params=layer.trainable_weights)
    if isinstance(layer, minirnn.layers.BatchNormalization):
        layer.set_weights(before)  # the check's many training calls moved the statistics


# -- moving statistics, the training flag, tracing ------------------------------------------------

def test_moving_statistics_follow_the_keras_formula():
    layer = minirnn.layers.BatchNormalization(momentum=0.75, dtype="float64")
    x = make_array((6, 2), 0) * 2.0 + 3.0
    layer(x, training=True)
    mean, variance = x.mean(axis=0), x.var(axis=0)   # biased variance
    np.testing.assert_allclose(layer.moving_mean.data, 0.25 * mean, rtol=1e-15)
    np.testing.assert_allclose(layer.moving_variance.data, 0.75 + 0.25 * variance, rtol=1e-15)
    assert [w.name.split("/")[-1] for w in layer.weights] == \
        ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name.split("/")[-1] for w in layer.non_trainable_weights] == \
        ["moving_mean", "moving_variance"]


def test_inference_tracing_and_frozen_layers_leave_the_statistics_alone():
    layer = minirnn.layers.BatchNormalization()
    x = make_array((5, 3), 2).astype("float32") + 4.0
    layer(x)                       # training defaults to False outside fit
    layer(x, training=False)
    frozen = minirnn.layers.BatchNormalization(trainable=False)
    out = frozen(x, training=True)  # Keras: a frozen BatchNormalization runs in inference mode
    np.testing.assert_allclose(out.data, x / np.sqrt(1.0 + 1e-3), rtol=1e-6)
    # a functional model is traced with a dummy batch when it is built
    inputs = minirnn.Input((3,))
    traced = minirnn.layers.BatchNormalization()
    model = minirnn.Model(inputs, traced(inputs))
    for bn_layer in (layer, frozen, traced):
        np.testing.assert_array_equal(bn_layer.moving_mean.data, 0.0)
        np.testing.assert_array_equal(bn_layer.moving_variance.data, 1.0)
    model(x, training=True)
    assert not np.all(traced.moving_mean.data == 0.0)


def test_fit_uses_batch_statistics_and_predict_the_moving_ones():
    model = minirnn.Sequential([minirnn.Input((2,)), minirnn.layers.BatchNormalization(momentum=0.0)])
    model.compile(optimizer="sgd", loss="mse")
    x = make_array((8, 2), 4) * 3.0 + 2.0
    model.fit(x, x, epochs=1, batch_size=8, verbose=0)
    bn_layer = model.layers[-1]
    np.testing.assert_allclose(bn_layer.moving_mean.data, x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn_layer.moving_variance.data, x.var(axis=0), rtol=1e-5)


# -- fixed numbers from Keras's tests ---------------------------------------------------------------

def test_layer_normalization_outputs_of_keras_tests():
    x = np.arange(5).astype("float32")[None, :]
    layers = minirnn.layers
    out = layers.LayerNormalization(beta_initializer="ones", gamma_initializer="ones")(x)
    np.testing.assert_allclose(out.data, [[-0.41386, 0.29307, 1.0, 1.70693, 2.41386]], atol=1e-5)
    with pytest.warns(UserWarning, match="rms_scaling"):
        rms = layers.LayerNormalization(rms_scaling=True, gamma_initializer="ones")
    np.testing.assert_allclose(rms(x).data, [[0.0, 0.70693, 1.41386, 2.12079, 2.82772]], atol=1e-5)


def test_batch_normalization_masked_broadcast_of_keras_tests():
    layer = minirnn.layers.BatchNormalization(axis=-1, momentum=0.0, epsilon=1e-3)
    y = layer(np.ones((1, 2, 3, 4)), training=True, mask=np.ones((1, 2, 1)))
    np.testing.assert_allclose(y.data, 0.0, atol=1e-6)
    np.testing.assert_allclose(layer.moving_mean.data, 1.0, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.data, 0.0, atol=1e-6)


def test_batch_normalization_input_fully_masked_of_keras_tests():
    norm = minirnn.layers.BatchNormalization(scale=False, center=False)
    y = norm(np.zeros((4, 5)), mask=np.zeros((4,), dtype=np.float32), training=True)
    np.testing.assert_array_equal(y.data, 0.0)


@pytest.mark.parametrize("mask_value", [0.0, 0.1, 1])
def test_batch_normalization_ignores_masked_values_in_fit_as_keras_test(mask_value):
    padded = np.array([[[1, 5], [2, 5], [mask_value] * 2, [mask_value] * 2]] * 10, "float32")
    inputs = minirnn.Input((None, 2))
    masked = minirnn.layers.Masking(mask_value=mask_value)(inputs)
    model = minirnn.Model(inputs, minirnn.layers.BatchNormalization(momentum=0.0)(masked))
    model.compile("rmsprop", loss="mse")
    model.fit(padded, padded, batch_size=10, epochs=5, verbose=0)
    bn_layer = model.layers[-1]
    np.testing.assert_allclose(bn_layer.moving_mean.data, [1.5, 5.0], atol=1e-6)
    np.testing.assert_allclose(bn_layer.moving_variance.data, [0.25, 0.0], atol=1e-6)


# -- configuration and names ----------------------------------------------------------------------

@pytest.mark.parametrize("cls, kwargs", [
    ("BatchNormalization", {}),
    ("BatchNormalization", dict(axis=1, momentum=0.9, epsilon=1e-5, center=False, name="b")),
    ("LayerNormalization", {}),
    ("LayerNormalization", dict(axis=[1, 2], epsilon=1e-6, scale=False, name="l")),
])
def test_config_matches_keras_and_round_trips(cls, kwargs):
    ours = getattr(minirnn.layers, cls)(**kwargs)
    theirs = getattr(keras.layers, cls)(**kwargs)
    config, their_config = ours.get_config(), theirs.get_config()
    assert base_name(ours.name) == base_name(theirs.name)
    for key in ("axis", "epsilon", "center", "scale", "momentum", "rms_scaling", "trainable"):
        if key in their_config:
            assert config[key] == their_config[key], key
    again = type(ours).from_config(config)
    assert again.get_config() == config
    shape = (2, 3, 4)
    again.build(shape)
    theirs.build(shape)
    assert [w.shape for w in again.get_weights()] == [w.shape for w in theirs.get_weights()]
    model = minirnn.Sequential([minirnn.Input(shape[1:]), ours])
    rebuilt = minirnn.Sequential.from_config(model.get_config())
    assert rebuilt.layers[-1].get_config() == config


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, message", [
    (lambda: minirnn.layers.BatchNormalization(axis=1.5), TypeError, r"BatchNormalization argument `axis` must be an int; got 1.5"),
    (lambda: minirnn.layers.BatchNormalization(epsilon=0), ValueError, r"BatchNormalization argument `epsilon` must be a number in \(0"),
    (lambda: minirnn.layers.BatchNormalization(momentum="high"), TypeError, r"`momentum` must be a real number; got 'high'"),
    (lambda: minirnn.layers.BatchNormalization(center=1), TypeError, r"`center` must be True or False; got 1"),
    (lambda: minirnn.layers.LayerNormalization(axis="last"), TypeError, r"LayerNormalization argument `axis` must be an int or a list/tuple of ints; got 'last'"),
    (lambda: minirnn.layers.LayerNormalization(axis=[]), ValueError, r"`axis` must name at least one axis"),
    (lambda: minirnn.layers.LayerNormalization(epsilon=-1.0), ValueError, r"`epsilon` must be a number"),
])
def test_bad_constructor_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_inputs_are_refused_naming_the_layer():
    with pytest.raises(ValueError, match=r"BatchNormalization 'b' has axis=3, out of range for "
                                         r"inputs of rank 3"):
        minirnn.layers.BatchNormalization(axis=3, name="b")(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"LayerNormalization 'l' has axis=-4, out of range"):
        minirnn.layers.LayerNormalization(axis=-4, name="l")(np.zeros((2, 3, 4)))
    layer = minirnn.layers.BatchNormalization(name="built")
    layer(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"'built' expects input of shape rank 3; got shape \(2, 4\)"):
        layer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"'built' .*size 4 on axis -1.*got shape \(2, 3, 5\)"):
        layer(np.zeros((2, 3, 5)))
    moving = layer.moving_mean.data.copy()
    with pytest.raises(ValueError, match=r"'built' expects a mask with one dimension less than "
                                         r"the inputs; got mask.shape=\(2,\)"):
        layer(np.ones((2, 3, 4)), mask=np.ones(2, bool), training=True)
    np.testing.assert_array_equal(layer.moving_mean.data, moving)  # nothing moved


def test_no_warning_without_rms_scaling():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minirnn.layers.LayerNormalization()
