"""Losses: values and gradients equal Keras 3's (through tf.GradientTape), gradients equal finite
differences, extreme logits stay finite, lookup and errors.

Every expected number comes from Keras/TensorFlow or from finite differences, never from minirnn.
"""
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tf_helpers import import_tf, seed_of

tf = import_tf()
import keras  # noqa: E402  (after import_tf, which configures TensorFlow's environment)

import minirnn  # noqa: E402
from minirnn import losses  # noqa: E402
from minirnn.tensor import Tensor  # noqa: E402
from strategies import seeds  # noqa: E402

RTOL = {"float64": 1e-10, "float32": 1e-5}
REDUCTIONS = ["sum_over_batch_size", "sum", None, "none", "mean_with_sample_weight"]


# -- data ----------------------------------------------------------------------------------------

def _one_hot(labels, classes):
    return np.eye(classes)[labels]


def make_data(kind, shape, rng, extreme=False):
    """(y_true, y_pred) in float64 for a loss kind; shape is y_pred's (last axis: classes/features).

    Probabilities include exact 0 and 1 (where Keras's clipping bites, gradient 0 there);
    categorical probabilities are not normalised (Keras divides by their sum).
    """
    classes = shape[-1]
    if kind in ("mse", "mae"):
        y_true = rng.standard_normal(shape)
        offset = rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)  # no |x| kink
        return y_true, y_true + offset
    if kind == "bce":
        y_true = rng.integers(0, 2, shape).astype(np.float64)
        y_pred = rng.uniform(0.02, 0.98, shape)
        y_pred.flat[0], y_pred.flat[-1] = 0.0, 1.0
        return y_true, y_pred
    if kind == "bce_logits":
        return rng.integers(0, 2, shape).astype(np.float64), _logits(shape, rng, extreme)
    labels = rng.integers(0, classes, shape[:-1])
    if kind == "cce":
        y_pred = rng.uniform(0.05, 2.0, shape)
        return _one_hot(labels, classes), y_pred
    if kind == "cce_logits":
        return _one_hot(labels, classes), _logits(shape, rng, extreme)
    if kind == "scce":
        y_pred = rng.uniform(0.05, 1.0, shape)
        y_pred = y_pred / y_pred.sum(-1, keepdims=True)
        y_pred.flat[0] = 0.0  # clipped to epsilon before the log
        return labels, y_pred
    if kind == "scce_logits":
        return labels, _logits(shape, rng, extreme)
    raise ValueError(kind)


def _logits(shape, rng, extreme):
    z = 3.0 * rng.standard_normal(shape)
    if extreme:
        z[rng.random(shape) < 0.5] = 1000.0
        z.flat[0], z.flat[-1] = -1000.0, 1000.0
    return z


# (kind, minirnn class, keras class, constructor kwargs)
LOSSES = [
    ("mse", losses.MeanSquaredError, keras.losses.MeanSquaredError, {}),
    ("mae", losses.MeanAbsoluteError, keras.losses.MeanAbsoluteError, {}),
    ("bce", losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy, {}),
    ("bce", losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy, {"label_smoothing": 0.1}),
    ("bce_logits", losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy, {"from_logits": True}),
    ("bce_logits", losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy,
     {"from_logits": True, "label_smoothing": 0.2}),
    ("cce", losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy, {}),
    ("cce", losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy,
     {"label_smoothing": 0.1}),
    ("cce_logits", losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy,
     {"from_logits": True}),
    ("cce_logits", losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy,
     {"from_logits": True, "label_smoothing": 0.3}),
    ("scce", losses.SparseCategoricalCrossentropy, keras.losses.SparseCategoricalCrossentropy, {}),
    ("scce_logits", losses.SparseCategoricalCrossentropy,
     keras.losses.SparseCategoricalCrossentropy, {"from_logits": True}),
]
LOSS_IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in kw.items()) or 'default'}" for k, _, _, kw in LOSSES]

# y_pred shapes: (batch, classes) and a sequence (batch, timesteps, classes)
SHAPES = [(5, 3), (4, 3, 4)]
# sample weights: none, one per sample, one per timestep
SHAPE_WEIGHTS = [((5, 3), None), ((5, 3), "batch"), ((4, 3, 4), None), ((4, 3, 4), "batch"),
                 ((4, 3, 4), "step")]
SHAPE_WEIGHT_IDS = ["2d", "2d-weighted", "seq", "seq-batch-weights", "seq-step-weights"]


def _sample_weight(kind, shape, rng):
    if kind is None:
        return None
    if kind == "batch":
        return rng.uniform(0.0, 2.0, shape[:1])
    return rng.uniform(0.0, 2.0, shape[:-1])  # per-timestep weights for sequences


# -- running both sides --------------------------------------------------------------------------

def ours(loss, y_true, y_pred, dtype, sample_weight=None, cotangent_seed=7):
    """Loss value and d(sum(loss * r))/d(y_pred) from minirnn."""
    pred = Tensor(np.asarray(y_pred, dtype=dtype), requires_grad=True)
    value = loss(y_true, pred, sample_weight=sample_weight) if sample_weight is not None \
        else loss(y_true, pred)
    r = np.random.default_rng(cotangent_seed).standard_normal(value.shape).astype(dtype)
    (value * r).sum().backward()
    return value.data, pred.grad


def keras_side(loss, y_true, y_pred, dtype, sample_weight=None, cotangent_seed=7):
    """The same from Keras 3 under tf.GradientTape."""
    pred = tf.constant(np.asarray(y_pred, dtype=dtype))
    with tf.GradientTape() as tape:
        tape.watch(pred)
        value = loss(y_true, pred, sample_weight=sample_weight) if sample_weight is not None \
            else loss(y_true, pred)
        r = np.random.default_rng(cotangent_seed).standard_normal(tuple(value.shape)).astype(dtype)
        scalar = tf.reduce_sum(value * r)
    return value.numpy(), tape.gradient(scalar, pred).numpy()


def assert_close(actual, expected, rtol, what=""):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != Keras's {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: not finite: {actual}"
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    # elements far below the array's largest come from cancellation (softmax - onehot near 1),
    # where float32 rounding in a different order than TensorFlow's is ~eps * scale: those are
    # held to rtol * scale in float32, to 1% of that in float64
    slack = 1.0 if actual.dtype == np.float32 else 1e-2
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale * slack, err_msg=what)


# -- parity with Keras: every loss x options x reduction x sample_weight x dtype -------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,weights", SHAPE_WEIGHTS, ids=SHAPE_WEIGHT_IDS)
@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
def test_loss_class_matches_keras(case, shape, weights, reduction, dtype):
    kind, ours_cls, keras_cls, kwargs = case
    rng = np.random.default_rng(seed_of(f"{kind}-{shape}-{reduction}-{weights}"))
    y_true, y_pred = make_data(kind, shape, rng)
    sw = _sample_weight(weights, shape, rng)
    if weights == "batch" and len(shape) == 3:
        # Keras rejects (batch,) weights against (batch, timesteps) losses; so do we
        with pytest.raises(Exception):
            keras_side(keras_cls(reduction=reduction, dtype=dtype, **kwargs), y_true, y_pred, dtype, sw)
        with pytest.raises(ValueError, match=r"sample_weight of shape \(4,\).*\(4, 3\)"):
            ours(ours_cls(reduction=reduction, dtype=dtype, **kwargs), y_true, y_pred, dtype, sw)
        return
    value, grad = ours(ours_cls(reduction=reduction, **kwargs), y_true, y_pred, dtype, sw)
    k_value, k_grad = keras_side(keras_cls(reduction=reduction, dtype=dtype, **kwargs),
                                 y_true, y_pred, dtype, sw)
    assert value.dtype == np.dtype(dtype)
    assert_close(value, k_value, RTOL[dtype], "loss value")
    assert_close(grad, k_grad, RTOL[dtype], "gradient w.r.t. y_pred")


FUNCTIONS = [
    ("mse", losses.mean_squared_error, keras.losses.mean_squared_error, {}),
    ("mae", losses.mean_absolute_error, keras.losses.mean_absolute_error, {}),
    ("bce", losses.binary_crossentropy, keras.losses.binary_crossentropy, {"label_smoothing": 0.1}),
    ("bce_logits", losses.binary_crossentropy, keras.losses.binary_crossentropy, {"from_logits": True}),
    ("cce", losses.categorical_crossentropy, keras.losses.categorical_crossentropy, {}),
    ("cce_logits", losses.categorical_crossentropy, keras.losses.categorical_crossentropy,
     {"from_logits": True, "label_smoothing": 0.1}),
    ("scce", losses.sparse_categorical_crossentropy, keras.losses.sparse_categorical_crossentropy, {}),
    ("scce_logits", losses.sparse_categorical_crossentropy,
     keras.losses.sparse_categorical_crossentropy, {"from_logits": True}),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "seq"])
@pytest.mark.parametrize("case", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_loss_function_per_sample_matches_keras(case, shape, dtype):
    kind, fn, keras_fn, kwargs = case
    rng = np.random.default_rng(11)
    y_true, y_pred = make_data(kind, shape, rng)
    value, grad = ours(lambda t, p: fn(t, p, **kwargs), y_true, y_pred, dtype)
    k_value, k_grad = keras_side(lambda t, p: keras_fn(t, p, **kwargs), y_true, y_pred, dtype)
    assert value.shape == shape[:-1]
    assert_close(value, k_value, RTOL[dtype], "per-sample loss")
    assert_close(grad, k_grad, RTOL[dtype], "gradient")


def test_categorical_crossentropy_axis_matches_keras():
    rng = np.random.default_rng(3)
    y_true = _one_hot(rng.integers(0, 4, (3, 5)), 4).transpose(0, 2, 1)  # classes on axis 1
    for from_logits in (False, True):
        y_pred = rng.standard_normal((3, 4, 5)) if from_logits else rng.uniform(0.1, 1, (3, 4, 5))
        fn = lambda t, p: losses.categorical_crossentropy(t, p, from_logits=from_logits, axis=1)
        kfn = lambda t, p: keras.losses.categorical_crossentropy(t, p, from_logits=from_logits, axis=1)
        value, grad = ours(fn, y_true, y_pred, "float64")
        k_value, k_grad = keras_side(kfn, y_true, y_pred, "float64")
        assert_close(value, k_value, 1e-10)
        assert_close(grad, k_grad, 1e-10)


@pytest.mark.parametrize("y_true_shape,y_pred_shape", [
    ((6,), (6, 1)), ((6, 1), (6,)), ((6, 1), (6, 1)), ((2, 3), (2, 3, 1)), ((6, 1), (6, 4)),
])
@pytest.mark.parametrize("loss_name", ["MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy"])
def test_rank_adjustment_and_broadcast_like_keras(loss_name, y_true_shape, y_pred_shape):
    """Keras squeezes/expands a trailing 1 so (batch,) meets (batch, 1); MSE/MAE also broadcast."""
    rng = np.random.default_rng(5)
    y_true = rng.integers(0, 2, y_true_shape).astype(np.float64)
    y_pred = rng.uniform(0.1, 0.9, y_pred_shape)
    ours_loss, keras_loss = getattr(losses, loss_name)(), getattr(keras.losses, loss_name)(dtype="float64")
    try:
        k_value, k_grad = keras_side(keras_loss, y_true, y_pred, "float64")
    except Exception:  # noqa: BLE001 - Keras refuses these shapes: so must we, with a clear error
        with pytest.raises(ValueError, match=rf"{y_pred_shape[0]}"):
            ours(ours_loss, y_true, y_pred, "float64")
        return
    value, grad = ours(ours_loss, y_true, y_pred, "float64")
    assert_close(value, k_value, 1e-10)
    assert_close(grad, k_grad, 1e-10)


@pytest.mark.parametrize("labels_shape", [(6,), (6, 1)])
@pytest.mark.parametrize("label_dtype", [np.int8, np.int32, np.int64, np.uint8, np.float32, np.float64])
def test_sparse_labels_dtypes_and_shapes_match_keras(labels_shape, label_dtype):
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 4, labels_shape).astype(label_dtype)
    y_pred = rng.uniform(0.05, 1, (6, 4))
    value, grad = ours(losses.SparseCategoricalCrossentropy(), labels, y_pred, "float64")
    k_value, k_grad = keras_side(keras.losses.SparseCategoricalCrossentropy(dtype="float64"),
                                 labels, y_pred, "float64")
    assert_close(value, k_value, 1e-10)
    assert_close(grad, k_grad, 1e-10)


def test_sparse_ignore_class_matches_keras():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 4, (3, 5))
    labels[0, :2] = -1
    labels[2, 4] = -1
    y_pred = rng.standard_normal((3, 5, 4))
    for reduction in ("sum_over_batch_size", "sum", None):
        mine = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=reduction)
        theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1,
                                                            reduction=reduction, dtype="float64")
        value, grad = ours(mine, labels, y_pred, "float64")
        k_value, k_grad = keras_side(theirs, labels, y_pred, "float64")
        assert_close(value, k_value, 1e-10, str(reduction))
        assert_close(grad, k_grad, 1e-10, str(reduction))


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
def test_mask_on_y_pred_weights_like_keras(reduction):
    """A (batch, timesteps) mask carried by y_pred (Keras's _keras_mask, minirnn's _mask)."""
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 3, (2, 4))
    y_pred = rng.standard_normal((2, 4, 3))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    sw = rng.uniform(0.5, 1.5, (2, 4))

    pred = Tensor(y_pred, requires_grad=True)
    pred._keras_mask = mask
    value = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)(
        labels, pred, sample_weight=sw)
    value.backward()

    k_pred = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(k_pred)
        masked = tf.identity(k_pred)
        masked._keras_mask = tf.constant(mask)
        k_value = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=reduction, dtype="float64")(labels, masked, sample_weight=sw)
    assert_close(value.data, k_value.numpy(), 1e-10)
    assert_close(pred.grad, tape.gradient(k_value, k_pred).numpy(), 1e-10)


# -- extreme logits ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind,ours_cls,keras_cls", [
    ("bce_logits", losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy),
    ("cce_logits", losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy),
    ("scce_logits", losses.SparseCategoricalCrossentropy, keras.losses.SparseCategoricalCrossentropy),
])
def test_extreme_logits_are_finite_and_match_keras(kind, ours_cls, keras_cls, dtype):
    rng = np.random.default_rng(2024)
    y_true, y_pred = make_data(kind, (6, 4), rng, extreme=True)
    assert np.abs(y_pred).max() == 1000.0
    value, grad = ours(ours_cls(from_logits=True), y_true, y_pred, dtype)
    k_value, k_grad = keras_side(keras_cls(from_logits=True, dtype=dtype), y_true, y_pred, dtype)
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    assert value > 10.0  # confidently wrong somewhere: a large, finite loss
    assert_close(value, k_value, RTOL[dtype])
    assert_close(grad, k_grad, RTOL[dtype])


def test_extreme_logits_gradient_is_the_exact_one():
    """At +-1000 the gradient is sigmoid(x) - z / softmax(x) - onehot to the last bit."""
    z = Tensor(np.array([[1000.0, -1000.0, 1000.0, -1000.0]]), requires_grad=True)
    losses.binary_crossentropy(np.array([[1.0, 0.0, 0.0, 1.0]]), z, from_logits=True).sum().backward()
    np.testing.assert_array_equal(z.grad, np.array([[0.0, 0.0, 1.0, -1.0]]) / 4)
    z = Tensor(np.array([[1000.0, -1000.0, 0.0]]), requires_grad=True)
    loss = losses.sparse_categorical_crossentropy(np.array([1]), z, from_logits=True)
    loss.sum().backward()
    assert loss.data[0] == 2000.0
    np.testing.assert_array_equal(z.grad, np.array([[1.0, -1.0, 0.0]]))


# -- finite differences --------------------------------------------------------------------------

@st.composite
def loss_problems(draw):
    batch = draw(st.integers(1, 3))
    steps = draw(st.sampled_from([None, 1, 2]))
    classes = draw(st.integers(2, 3))
    shape = (batch, classes) if steps is None else (batch, steps, classes)
    return shape, draw(seeds())


def _fd_data(kind, shape, seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = make_data(kind, shape, rng)
    if kind in ("bce", "scce"):  # stay off the clipping kinks for finite differences
        y_pred = rng.uniform(0.05, 0.95, shape)
    if kind == "cce_logits":  # any non-negative targets: the gradient is p * sum(z) - z
        y_true = rng.uniform(0.0, 1.0, shape)
    return y_true, y_pred


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", None])
@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
@given(problem=loss_problems())
def test_loss_gradients_match_finite_differences(float64, case, reduction, problem):
    kind, ours_cls, _, kwargs = case
    shape, seed = problem
    y_true, y_pred = _fd_data(kind, shape, seed)
    sw = np.random.default_rng(seed + 1).uniform(0.5, 2.0, shape[:1])
    loss = ours_cls(reduction=reduction, **kwargs)
    weight = sw if len(shape) == 2 else None
    minirnn.check_grads(lambda p: loss(y_true, p, sample_weight=weight), y_pred, rtol=1e-6)


# -- lookup, config, errors ----------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "mse", "MSE", "mae", "MAE", "bce", "mean_squared_error", "mean_absolute_error",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
])
def test_get_resolves_names_as_keras_does(name):
    mine, theirs = losses.get(name), keras.losses.get(name)
    if isinstance(theirs, keras.losses.Loss):
        assert type(mine).__name__ == type(theirs).__name__
        assert mine.get_config() == theirs.get_config()
    else:
        assert mine.__name__ == theirs.__name__
    y_true, y_pred = make_data("bce", (4, 3), np.random.default_rng(0))
    labels = np.array([0, 2, 1, 1])
    target = labels if "sparse" in name.lower() else y_true
    y_pred = y_pred.astype(np.float32)  # a Keras Loss made by get() computes in float32
    value = mine(target, Tensor(y_pred)).data
    expected = theirs(target, tf.constant(y_pred)).numpy()
    assert_close(value, expected, RTOL["float32"])


def test_get_callable_config_and_errors():
    custom = lambda t, p: (p - t).sum()  # noqa: E731
    assert losses.get(custom) is custom
    instance = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(instance) is instance
    assert losses.get(None) is None
    config = keras.losses.serialize(keras.losses.CategoricalCrossentropy(from_logits=True,
                                                                         label_smoothing=0.2))
    built = losses.get({"class_name": config["class_name"], "config": config["config"]})
    assert isinstance(built, losses.CategoricalCrossentropy)
    assert built.from_logits is True and built.label_smoothing == 0.2
    assert built.get_config() == keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=0.2).get_config()
    with pytest.raises(ValueError, match=r"Unknown loss 'hinge_loss'.*mean_squared_error"):
        losses.get("hinge_loss")
    with pytest.raises(ValueError, match="Unknown loss class 'Nope'"):
        losses.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="Could not interpret loss identifier 3"):
        losses.get(3)


@pytest.mark.parametrize("cls,kwargs", [
    ("MeanSquaredError", {}), ("MeanAbsoluteError", {"reduction": "sum"}),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1, "axis": -1}),
    ("CategoricalCrossentropy", {"reduction": None, "name": "cce"}),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 0}),
])
def test_get_config_matches_keras(cls, kwargs):
    assert getattr(losses, cls)(**kwargs).get_config() == getattr(keras.losses, cls)(**kwargs).get_config()


def test_bad_reduction_is_refused():
    with pytest.raises(ValueError, match=r"Invalid reduction 'avg'.*sum_over_batch_size"):
        losses.MeanSquaredError(reduction="avg")


@pytest.mark.parametrize("fn,y_true_shape,y_pred_shape", [
    (losses.mean_squared_error, (4, 3), (4, 2)),
    (losses.mean_absolute_error, (5,), (4, 3)),
    (losses.binary_crossentropy, (4, 3), (4, 2)),
    (losses.binary_crossentropy, (4, 1), (4, 3)),
    (losses.categorical_crossentropy, (4, 3), (4, 4)),
    (losses.sparse_categorical_crossentropy, (5,), (4, 3)),
    (losses.sparse_categorical_crossentropy, (4, 2), (4, 3)),
])
def test_incompatible_shapes_name_both(fn, y_true_shape, y_pred_shape):
    y_true = np.zeros(y_true_shape, dtype=np.int64 if "sparse" in fn.__name__ else np.float64)
    y_pred = Tensor(np.full(y_pred_shape, 0.5))
    with pytest.raises(ValueError, match=rf"y_true.shape={re.escape(str(y_true_shape))}.*"
                                         rf"y_pred.shape={re.escape(str(y_pred_shape))}"):
        fn(y_true, y_pred)


@pytest.mark.parametrize("bad", [3, -1, 7])
def test_sparse_labels_out_of_range_name_range_and_value(bad):
    labels = np.array([0, 1, bad, 2])
    with pytest.raises(ValueError, match=rf"\[0, 3\).*label {bad}"):
        losses.sparse_categorical_crossentropy(labels, Tensor(np.full((4, 3), 1 / 3)))
    with pytest.raises(ValueError, match=rf"\[0, 3\).*label {bad}"):
        losses.SparseCategoricalCrossentropy(from_logits=True)(labels, Tensor(np.zeros((4, 3))))


def test_sparse_labels_must_be_whole_numbers():
    with pytest.raises(ValueError, match="non-integer value 1.5"):
        losses.sparse_categorical_crossentropy(np.array([0.0, 1.5]), Tensor(np.full((2, 3), 1 / 3)))


def test_categorical_crossentropy_with_one_class_warns_as_keras_does():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses.categorical_crossentropy(np.ones((2, 1)), Tensor(np.full((2, 1), 0.5)))
    assert any(issubclass(w.category, SyntaxWarning) and "binary_crossentropy" in str(w.message)
               for w in caught)

