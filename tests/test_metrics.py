"""Metrics: running weighted means over several batches equal Keras 3's metric objects; `get`
resolves names (and "accuracy" to the variant) exactly as Keras's compile does; errors.

Expected values come from Keras's own metrics and compile, never from minirnn.
"""
import numpy as np
import pytest

from tf_helpers import import_tf

tf = import_tf()
import keras  # noqa: E402
from keras.src.trainers import compile_utils  # noqa: E402  (what Keras's compile calls per metric)

from minirnn import metrics  # noqa: E402
from minirnn.tensor import Tensor  # noqa: E402

RTOL = {"float32": 1e-6, "float64": 1e-12}


# -- data ----------------------------------------------------------------------------------------

def _regression(rng, y_shape, pred_shape=None):
    y = rng.standard_normal(y_shape)
    return y, y + rng.standard_normal(pred_shape or y_shape)


def _exact(rng, shape):
    """Integer-valued floats, predictions equal to the targets about half the time."""
    y = rng.integers(0, 3, shape).astype(np.float64)
    p = np.where(rng.random(shape) < 0.5, y, rng.integers(0, 3, shape))
    return y, p


def _binary(rng, y_shape, pred_shape):
    return rng.integers(0, 2, y_shape).astype(np.float64), rng.random(pred_shape)


def _one_hot(rng, shape):
    return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])], rng.random(shape)


def _sparse(rng, label_shape, pred_shape, label_dtype=np.int64):
    return rng.integers(0, pred_shape[-1], label_shape).astype(label_dtype), rng.random(pred_shape)


def _logits_binary(rng, shape):
    return rng.integers(0, 2, shape).astype(np.float64), 3 * rng.standard_normal(shape)


# (id, minirnn factory, keras factory, data maker(rng) -> (y_true, y_pred))
CASES = [
    ("mse", metrics.MeanSquaredError, keras.metrics.MeanSquaredError,
     lambda r: _regression(r, (6, 3))),
    ("mse-seq", metrics.MeanSquaredError, keras.metrics.MeanSquaredError,
     lambda r: _regression(r, (6, 4, 2))),
    ("mse-broadcast", metrics.MeanSquaredError, keras.metrics.MeanSquaredError,
     lambda r: _regression(r, (6, 1), (6, 3))),
    ("mae", metrics.MeanAbsoluteError, keras.metrics.MeanAbsoluteError,
     lambda r: _regression(r, (6, 3))),
    ("mae-seq", metrics.MeanAbsoluteError, keras.metrics.MeanAbsoluteError,
     lambda r: _regression(r, (6, 4, 2))),
    ("accuracy", metrics.Accuracy, keras.metrics.Accuracy, lambda r: _exact(r, (6, 1))),
    ("accuracy-seq", metrics.Accuracy, keras.metrics.Accuracy, lambda r: _exact(r, (6, 4))),
    ("binary", metrics.BinaryAccuracy, keras.metrics.BinaryAccuracy,
     lambda r: _binary(r, (6, 1), (6, 1))),
    ("binary-rank1-labels", metrics.BinaryAccuracy, keras.metrics.BinaryAccuracy,
     lambda r: _binary(r, (6,), (6, 1))),
    ("binary-int-labels", metrics.BinaryAccuracy, keras.metrics.BinaryAccuracy,
     lambda r: (r.integers(0, 2, (6, 1)), r.random((6, 1)))),
    ("binary-threshold-0.3", lambda **k: metrics.BinaryAccuracy(threshold=0.3, **k),
     lambda **k: keras.metrics.BinaryAccuracy(threshold=0.3, **k), lambda r: _binary(r, (6, 3), (6, 3))),
    ("binary-seq", metrics.BinaryAccuracy, keras.metrics.BinaryAccuracy,
     lambda r: _binary(r, (6, 4, 1), (6, 4, 1))),
    ("categorical", metrics.CategoricalAccuracy, keras.metrics.CategoricalAccuracy,
     lambda r: _one_hot(r, (6, 3))),
    ("categorical-seq", metrics.CategoricalAccuracy, keras.metrics.CategoricalAccuracy,
     lambda r: _one_hot(r, (6, 4, 3))),
    ("sparse", metrics.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy,
     lambda r: _sparse(r, (6,), (6, 3))),
    ("sparse-trailing-1", metrics.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy,
     lambda r: _sparse(r, (6, 1), (6, 3))),
    ("sparse-float-labels", metrics.SparseCategoricalAccuracy,
     keras.metrics.SparseCategoricalAccuracy, lambda r: _sparse(r, (6,), (6, 3), np.float32)),
    ("sparse-seq", metrics.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy,
     lambda r: _sparse(r, (6, 4), (6, 4, 3))),
    ("bce", metrics.BinaryCrossentropy, keras.metrics.BinaryCrossentropy,
     lambda r: _binary(r, (6, 3), (6, 3))),
    ("bce-logits", lambda **k: metrics.BinaryCrossentropy(from_logits=True, **k),
     lambda **k: keras.metrics.BinaryCrossentropy(from_logits=True, **k),
     lambda r: _logits_binary(r, (6, 3))),
    ("cce", metrics.CategoricalCrossentropy, keras.metrics.CategoricalCrossentropy,
     lambda r: _one_hot(r, (6, 4, 3))),
    ("scce", metrics.SparseCategoricalCrossentropy, keras.metrics.SparseCategoricalCrossentropy,
     lambda r: _sparse(r, (6, 4), (6, 4, 3))),
]


def _weights(rng, y_pred_shape, batch_index):
    """Batch 0: none; 1: one per sample (some zero); 2: one per timestep where there are timesteps."""
    n = y_pred_shape[0]
    if batch_index == 0:
        return None
    if batch_index == 2 and len(y_pred_shape) == 3:
        return rng.uniform(0.0, 2.0, y_pred_shape[:2])
    w = rng.uniform(0.0, 2.0, (n,))
    w[0] = 0.0
    return w


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_metric_over_batches_matches_keras(case, dtype):
    name, ours_factory, keras_factory, make = case
    rng = np.random.default_rng(sum(map(ord, name)))
    mine, theirs = ours_factory(dtype=dtype), keras_factory(dtype=dtype)
    assert mine.name == theirs.name
    for epoch in range(2):
        for batch in range(3):
            y_true, y_pred = make(rng)
            sw = _weights(rng, np.shape(y_pred), batch)
            mine.update_state(y_true, y_pred, sample_weight=sw)
            theirs.update_state(y_true, y_pred, sample_weight=sw)
            result = mine.result()
            assert isinstance(result, float)
            np.testing.assert_allclose(result, float(theirs.result()), rtol=RTOL[dtype],
                                       err_msg=f"{name}: epoch {epoch}, batch {batch}")
        mine.reset_state()
        theirs.reset_state()
        assert mine.result() == float(theirs.result()) == 0.0


def test_metric_accepts_tensors_and_their_masks_like_keras():
    rng = np.random.default_rng(12)
    mine, theirs = metrics.SparseCategoricalAccuracy(), keras.metrics.SparseCategoricalAccuracy()
    for batch in range(2):
        labels, probs = _sparse(rng, (3, 5), (3, 5, 4))
        mask = rng.random((3, 5)) < 0.7
        sw = None if batch == 0 else rng.uniform(0.5, 1.5, (3, 5))
        pred = Tensor(probs, requires_grad=True)
        pred._keras_mask = mask
        mine.update_state(Tensor(labels), pred, sample_weight=sw)
        masked = tf.constant(probs)
        masked._keras_mask = tf.constant(mask)
        theirs.update_state(labels, masked, sample_weight=sw)
        np.testing.assert_allclose(mine.result(), float(theirs.result()), rtol=1e-6)


@pytest.mark.parametrize("sample_weight", [None, [1.0, 0.0, 2.0, 0.5], 3.0, [[1.0, 2.0]] * 4])
def test_mean_matches_keras(sample_weight):
    rng = np.random.default_rng(1)
    mine, theirs = metrics.Mean(), keras.metrics.Mean()
    for _ in range(3):
        values = rng.standard_normal((4, 2))
        mine.update_state(values, sample_weight=sample_weight)
        theirs.update_state(values, sample_weight=sample_weight)
        np.testing.assert_allclose(mine.result(), float(theirs.result()), rtol=1e-6)
    assert mine.name == theirs.name == "mean"


@pytest.mark.parametrize("cls,kwargs", [
    ("Mean", {}), ("MeanSquaredError", {}), ("MeanAbsoluteError", {"name": "m"}),
    ("Accuracy", {}), ("BinaryAccuracy", {"threshold": 0.7}), ("CategoricalAccuracy", {}),
    ("SparseCategoricalAccuracy", {"dtype": "float64"}), ("BinaryCrossentropy", {"from_logits": True}),
])
def test_get_config_matches_keras(cls, kwargs):
    mine = getattr(metrics, cls)(**kwargs).get_config()
    theirs = getattr(keras.metrics, cls)(**kwargs).get_config()
    assert {k: mine[k] for k in theirs if k in mine} == {k: theirs[k] for k in theirs if k in mine}
    assert {"name", "dtype"} <= set(mine)


# -- get: names and the accuracy variant, as Keras's compile ----------------------------------------

@pytest.mark.parametrize("y_true_shape,y_pred_shape", [
    ((4, 1), (4, 1)), ((4,), (4, 1)), ((4, 3), (4, 3)), ((4,), (4, 3)), ((4, 1), (4, 3)),
    ((4, 5), (4, 5, 3)), ((4, 5, 3), (4, 5, 3)), ((4, 5, 1), (4, 5, 1)), ((4, 5, 1), (4, 5, 3)),
])
@pytest.mark.parametrize("identifier", ["accuracy", "acc", "Accuracy"])
def test_accuracy_variant_is_the_one_keras_compile_builds(identifier, y_true_shape, y_pred_shape):
    expected = compile_utils.get_metric(identifier, tf.zeros(y_true_shape), tf.zeros(y_pred_shape))
    chosen = metrics.get(identifier, y_true=np.zeros(y_true_shape), y_pred=np.zeros(y_pred_shape))
    assert type(chosen).__name__ == type(expected).__name__
    assert chosen.name == expected.name == identifier
    # without the data, the choice is made on the first batch, to the same effect
    deferred = metrics.get(identifier)
    assert deferred.name == identifier and deferred.result() == 0.0
    rng = np.random.default_rng(0)
    y_pred = rng.random(y_pred_shape)
    y_true = rng.integers(0, 2, y_true_shape).astype(np.float64)
    deferred.update_state(y_true, y_pred)
    expected.update_state(y_true, y_pred)
    assert type(deferred.variant).__name__ == type(expected).__name__
    np.testing.assert_allclose(deferred.result(), float(expected.result()), rtol=1e-6)


# (loss, output units, y) for a real Keras compile + fit: the loss does not steer the choice
COMPILE_CASES = [
    ("mse", 1, lambda r: r.random((8, 1))),
    ("mse", 3, lambda r: r.random((8, 3))),
    ("binary_crossentropy", 1, lambda r: r.integers(0, 2, (8, 1)).astype("float32")),
    ("binary_crossentropy", 3, lambda r: r.integers(0, 2, (8, 3)).astype("float32")),
    ("categorical_crossentropy", 3, lambda r: np.eye(3)[r.integers(0, 3, 8)]),
    ("sparse_categorical_crossentropy", 3, lambda r: r.integers(0, 3, (8,))),
    ("sparse_categorical_crossentropy", 3, lambda r: r.integers(0, 3, (8, 1))),
]


@pytest.mark.parametrize("loss,units,make_y", COMPILE_CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(COMPILE_CASES)])
def test_get_matches_a_real_keras_compile(loss, units, make_y):
    rng = np.random.default_rng(units)
    x, y = rng.random((8, 2)).astype("float32"), make_y(rng)
    keras.utils.set_random_seed(0)
    activation = "softmax" if "categorical" in loss else ("sigmoid" if "binary" in loss else None)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(units, activation=activation)])
    model.compile("sgd", loss=loss, metrics=["accuracy", "acc"], run_eagerly=True)
    logs = model.test_on_batch(x, y, return_dict=True)  # builds the compiled metrics, as fit does
    built = {m.name: m for ml in model.metrics if hasattr(ml, "metrics") for m in ml.metrics
             for m in (m.metrics if hasattr(m, "metrics") else [m])}
    assert {"accuracy", "acc"} <= set(built) and {"accuracy", "acc"} <= set(logs)

    mine = {name: metrics.get(name, loss=loss) for name in ("accuracy", "acc")}
    y_pred = model(x).numpy()
    for name, metric in mine.items():
        metric.update_state(y, y_pred)
        expected = built[name]
        expected.reset_state()
        expected.update_state(y, y_pred)
        concrete = getattr(metric, "variant", None) or metric
        assert type(concrete).__name__ == type(expected).__name__, (loss, name)
        assert metric.name == name
        np.testing.assert_allclose(metric.result(), float(expected.result()), rtol=1e-6)


@pytest.mark.parametrize("name", ["mse", "MSE", "mae", "MAE", "mean_squared_error",
                                  "mean_absolute_error", "MeanSquaredError", "binary_accuracy",
                                  "categorical_accuracy", "sparse_categorical_accuracy",
                                  "BinaryAccuracy", "binary_crossentropy", "bce"])
def test_get_names_like_keras(name):
    expected = compile_utils.get_metric(name, None, None)
    mine = metrics.get(name)
    assert type(mine).__name__ == type(expected).__name__
    assert mine.name == expected.name == name  # the key Keras's History uses


def test_get_passes_objects_wraps_functions_and_refuses_unknown():
    m = metrics.BinaryAccuracy(threshold=0.2)
    assert metrics.get(m) is m
    assert isinstance(metrics.get(metrics.MeanAbsoluteError), metrics.MeanAbsoluteError)
    assert metrics.get(None) is None
    built = metrics.get({"class_name": "BinaryAccuracy", "config": {"threshold": 0.9, "name": "b"}})
    assert isinstance(built, metrics.BinaryAccuracy) and built.threshold == 0.9 and built.name == "b"

    def max_error(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred)).max(axis=-1)
    wrapped = metrics.get(max_error)
    assert wrapped.name == "max_error"
    theirs = keras.metrics.MeanMetricWrapper(max_error)
    rng = np.random.default_rng(3)
    for _ in range(2):
        y, p = _regression(rng, (5, 3))
        wrapped.update_state(y, p)
        theirs.update_state(y, p)
    np.testing.assert_allclose(wrapped.result(), float(theirs.result()), rtol=1e-6)

    with pytest.raises(ValueError, match=r"Unknown metric 'f1'.*'accuracy'.*'mae'"):
        metrics.get("f1")
    with pytest.raises(ValueError, match="Unknown metric class 'Nope'"):
        metrics.get({"class_name": "Nope"})
    with pytest.raises(ValueError, match="Could not interpret metric identifier 3"):
        metrics.get(3)


@pytest.mark.parametrize("metric,y_true_shape,y_pred_shape", [
    (metrics.MeanSquaredError, (4, 3), (4, 2)),
    (metrics.Accuracy, (5,), (4,)),
    (metrics.BinaryAccuracy, (4, 2), (4, 3)),
    (metrics.CategoricalAccuracy, (5, 3), (4, 3)),
    (metrics.SparseCategoricalAccuracy, (5,), (4, 3)),
])
def test_incompatible_shapes_name_both(metric, y_true_shape, y_pred_shape):
    with pytest.raises(ValueError, match=rf"y_true.shape=\({y_true_shape[0]}.*y_pred.shape"):
        metric().update_state(np.zeros(y_true_shape), np.zeros(y_pred_shape))


def test_bad_sample_weight_names_shapes():
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\).*\(4,\)"):
        metrics.MeanAbsoluteError().update_state(np.zeros((4, 2)), np.ones((4, 2)), sample_weight=np.ones(3))
