"""The Huber loss against Keras 3: per-sample values, reduced values and tf.GradientTape gradients
for several deltas, reductions and sample weights; finite differences; lookup and config."""
import numpy as np
import pytest

import minirnn
from minirnn import losses
from minirnn.tensor import Tensor
from tf_helpers import assert_close, import_tf

tf = import_tf()
import keras  # noqa: E402  (after import_tf, which configures TensorFlow's environment)

pytestmark = pytest.mark.tf


def huber_data(shape, delta, seed):
    """Errors on both sides of delta (and one exactly at it: the quadratic branch, as in Keras)."""
    rng = np.random.default_rng(seed)
    y_true = rng.standard_normal(shape)
    error = rng.uniform(0.05, 3.0 * delta, shape) * rng.choice([-1.0, 1.0], shape)
    error.flat[0] = delta
    return y_true, y_true + error


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("delta", [1.0, 0.5, 2.5])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None,
                                       "mean_with_sample_weight"])
@pytest.mark.parametrize("weighted", [False, True])
def test_huber_matches_keras(delta, reduction, weighted, dtype):
    y_true, y_pred = huber_data((4, 3), delta, seed=int(delta * 10))
    y_true, y_pred = y_true.astype(dtype), y_pred.astype(dtype)
    weights = np.array([0.5, 2.0, 0.0, 1.0], dtype) if weighted else None
    theirs = keras.losses.Huber(delta=delta, reduction=reduction, dtype=dtype)
    ours = losses.Huber(delta=delta, reduction=reduction, dtype=dtype)
    pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        expected = theirs(y_true, pred, sample_weight=weights)
        upstream = np.random.default_rng(1).standard_normal(expected.shape).astype(dtype)
        total = tf.reduce_sum(expected * upstream)
    expected_grad = tape.gradient(total, pred).numpy()
    mine = Tensor(y_pred, requires_grad=True)
    got = ours(y_true, mine, sample_weight=weights)
    (got * upstream).sum().backward()
    assert_close(got.data, expected.numpy(), dtype, "value")
    assert_close(mine.grad, expected_grad, dtype, "gradient")


@pytest.mark.parametrize("y_true_shape, y_pred_shape", [((5,), (5, 1)), ((5, 1), (5,)),
                                                        ((2, 3, 4), (2, 3, 4))])
def test_huber_function_per_sample_matches_keras(y_true_shape, y_pred_shape):
    y_true, y_pred = huber_data(y_pred_shape, 1.0, seed=3)
    y_true = y_true.reshape(y_true_shape)
    got = losses.huber(y_true, Tensor(y_pred), delta=1.0).data
    expected = keras.losses.huber(y_true, y_pred, delta=1.0).numpy()
    assert got.shape == expected.shape
    assert_close(got, expected, "float64")


def test_huber_gradient_matches_finite_differences(float64):
    y_true, y_pred = huber_data((3, 4), 0.7, seed=5)
    y_pred.flat[0] += 0.01  # keep the finite-difference steps off the kink at |error| = delta
    minirnn.check_grads(lambda p: losses.Huber(delta=0.7)(y_true, p), y_pred)


def test_huber_is_found_by_name_as_in_keras():
    assert losses.get("huber") is losses.huber
    assert keras.losses.get("huber").__name__ == "huber"
    made = losses.get("Huber")
    assert isinstance(made, losses.Huber) and made.name == "huber_loss" and made.delta == 1.0
    assert losses.serialize(losses.huber) == "huber"
    model = minirnn.Sequential([minirnn.Input((2,)), minirnn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="huber")
    model.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0)


def test_huber_config_holds_delta_and_round_trips():
    loss = losses.Huber(delta=2.0, reduction="sum", name="h")
    config = loss.get_config()
    their = keras.losses.Huber(delta=2.0, reduction="sum", name="h").get_config()
    assert {k: config[k] for k in their} == their   # Keras's keys, with Keras's values
    assert config["delta"] == 2.0                   # and delta, which Keras leaves out
    again = losses.deserialize(losses.serialize(loss))
    assert isinstance(again, losses.Huber) and again.get_config() == config


def test_huber_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"huber: y_true and y_pred must have shapes that "
                                         r"broadcast; got y_true.shape=\(3, 2\) and y_pred.shape=\(3, 4\)"):
        losses.huber(np.zeros((3, 2)), Tensor(np.zeros((3, 4))))
    with pytest.raises(ValueError, match=r"Huber argument `delta` must be a number in \(0.0, inf\); got -1.0"):
        losses.Huber(delta=-1.0)
    with pytest.raises(TypeError, match=r"Huber argument `delta` must be a real number; got '1'"):
        losses.Huber(delta="1")
    with pytest.raises(ValueError, match=r"Invalid reduction 'avg'"):
        losses.Huber(reduction="avg")
