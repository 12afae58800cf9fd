"""Datasets read the way tf.data's are read by Keras programs: map, prefetch, cache, .numpy().

Each minirnn dataset is held to the tf.data dataset Keras's utility builds from the same data.
"""
import numpy as np
import pytest

from minirnn.utils import EagerArray, timeseries_dataset_from_array
from tf_helpers import import_tf

import_tf()
import keras  # noqa: E402  (after import_tf: quiet, deterministic TensorFlow)

SERIES = np.arange(40, dtype=np.float32).reshape(20, 2)


def split_window(window):
    """Inputs: all but the last 2 steps; targets: feature 1 over the last 2 steps."""
    return window[:, :-2], window[:, -2:, 1]


def both(**kwargs):
    return (timeseries_dataset_from_array(SERIES, None, sequence_length=5, **kwargs),
            keras.utils.timeseries_dataset_from_array(SERIES, None, sequence_length=5, **kwargs))


def as_lists(dataset):
    return [tuple(np.asarray(part) for part in item) if isinstance(item, tuple) else np.asarray(item)
            for item in dataset]


def assert_same_items(ours, theirs):
    ours, theirs = as_lists(ours), as_lists(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for part_a, part_b in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(part_a, part_b)


def test_map_on_batches_matches_tf_data():
    ours, theirs = both(batch_size=4)
    assert_same_items(ours.map(split_window), theirs.map(split_window))


def test_map_on_single_elements_then_batch_matches_tf_data():
    ours, theirs = both(batch_size=None)
    def first_and_last(window):
        return window[0], window[-1, 1]
    assert_same_items(ours.map(first_and_last).batch(3), theirs.map(first_and_last).batch(3))


def test_map_spreads_a_tuple_item_over_the_arguments_as_tf_data():
    ours = timeseries_dataset_from_array(SERIES, SERIES[5:, 0], sequence_length=5, batch_size=4)
    theirs = keras.utils.timeseries_dataset_from_array(SERIES, SERIES[5:, 0], sequence_length=5,
                                                       batch_size=4)
    assert_same_items(ours.map(lambda x, y: (x[:, ::2], y * 2)),
                      theirs.map(lambda x, y: (x[:, ::2], y * 2)))
    assert_same_items(ours.map(lambda x, y: x), theirs.map(lambda x, y: x))


def test_map_takes_minirnn_ops_results_and_tf_data_arguments():
    import minirnn
    ours, theirs = both(batch_size=4)
    mapped = ours.map(lambda w: minirnn.ops.stack([w[:, :, 0], w[:, :, 1]], axis=-1),
                      num_parallel_calls=4, deterministic=True)
    assert_same_items(mapped, theirs)
    assert all(type(item) is EagerArray for item in mapped)


def test_prefetch_and_cache_keep_the_items():
    ours, theirs = both(batch_size=6)
    assert_same_items(ours.prefetch(2).cache(), theirs.prefetch(2).cache())


def test_items_answer_numpy_as_eager_tensors_do():
    ours, theirs = both(batch_size=4)
    for mine, tfs in zip(ours.map(split_window), theirs.map(split_window)):
        for part, tf_part in zip(mine, tfs):
            plain = part.numpy()
            assert type(plain) is np.ndarray
            np.testing.assert_array_equal(plain, tf_part.numpy())
            np.testing.assert_array_equal(part[0][..., :1].numpy(), tf_part[0][..., :1].numpy())
    assert all(type(item) is np.ndarray for item in ours.as_numpy_iterator())


def test_map_refuses_what_is_not_callable():
    ours, _ = both(batch_size=4)
    with pytest.raises(TypeError, match="map_func must be callable; got int"):
        ours.map(3)


def test_fit_takes_inputs_one_unit_axis_short_as_keras_does():
    """Keras reconciles (batch, steps) data with an Input of shape (steps, 1) (and the reverse)
    before training; minirnn's fit must not refuse what the model call reconciles."""
    import minirnn
    x = np.random.default_rng(0).normal(size=(8, 6)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    for framework in (minirnn, keras):
        framework.utils.set_random_seed(1)
        model = framework.Sequential([framework.Input(shape=(None, 1)), framework.layers.SimpleRNN(2),
                                      framework.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        history = model.fit(x, y, epochs=1, batch_size=4, verbose=0, validation_data=(x, y))
        assert np.isfinite(history.history["val_loss"][0])
        assert model.predict(x, verbose=0).shape == (8, 1)
    with pytest.raises(ValueError, match=r"must have shape \(None, None, 1\).*got \(8, 6, 2\)"):
        model_m = minirnn.Sequential([minirnn.Input(shape=(None, 1)), minirnn.layers.SimpleRNN(2)])
        model_m.compile(optimizer="sgd", loss="mse")
        model_m.fit(np.zeros((8, 6, 2)), np.zeros((8, 2)), verbose=0)
