"""minirnn.utils against keras.utils: the same arguments give the same arrays, element for element.

Keras (its TensorFlow backend, installed for the tests) is the reference everywhere; where Keras
shuffles with TensorFlow's generator, the elements of each pass are compared as multisets, and
the order is checked against the shuffle's own rules (RandomState permutation, then a buffer).
"""
import itertools
import os
import random
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minirnn
from minirnn.utils import (ArrayDataset, PyDataset, normalize, pad_sequences, set_random_seed,
                           text_dataset_from_directory, timeseries_dataset_from_array,
                           to_categorical)
from tf_helpers import import_tf

import_tf()
import keras  # noqa: E402  (after import_tf: quiet, deterministic TensorFlow)


def assert_same_array(actual, expected, what=""):
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray), f"{what}: got {type(actual).__name__}, not an ndarray"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != Keras's {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != Keras's {expected.shape}"
    np.testing.assert_array_equal(actual, expected, err_msg=what)


def assert_raises_naming(error, call, *words):
    """`call()` raises `error` whose message holds every word (argument name, expected, got)."""
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    for word in words:
        assert word in message, f"{word!r} missing from the message: {message}"


# -- pad_sequences -----------------------------------------------------------------------------

DOC_SEQUENCES = [[1], [2, 3], [4, 5, 6]]

PAD_CASES = [
    (DOC_SEQUENCES, {}),
    (DOC_SEQUENCES, {"value": -1}),
    (DOC_SEQUENCES, {"padding": "post"}),
    (DOC_SEQUENCES, {"maxlen": 2}),
    (DOC_SEQUENCES, {"maxlen": 2, "truncating": "post"}),
    (DOC_SEQUENCES, {"maxlen": 5, "padding": "post", "truncating": "post"}),
    ([[1.7, -2.2], [3.9]], {}),                                   # int32: floats truncate
    ([[1.7, -2.2], [3.9]], {"dtype": "float32", "value": 0.5}),
    ([[1.7, -2.2], [3.9]], {"dtype": "float64", "value": np.nan}),
    ([[1, 2], [], [3]], {"maxlen": 3}),                           # empty sequences: padding only
    ([[], []], {}),                                               # all empty: shape (2, 0)
    ([], {"maxlen": 4}),
    ([[1, 2], [3]], {"maxlen": 0, "truncating": "post"}),
    (np.arange(12).reshape(3, 4), {"maxlen": 2}),                 # a 2-D array of rows
    ([np.ones((2, 3)), np.zeros((1, 3)), np.full((4, 3), 2.0)], {"dtype": "float64", "maxlen": 3}),
    ([np.ones((2, 3)), []], {"dtype": "float32", "padding": "post"}),
    ([["a", "bb"], ["ccc"]], {"dtype": object, "value": "pad"}),
    ([["a", "bb"], ["ccc"]], {"dtype": str, "value": "pad"}),      # NumPy's fixed width, as Keras
    ([[True, False], [True]], {"dtype": "bool"}),
    ([[200, 2], [1]], {"dtype": "uint8"}),
    ([(1, 2, 3), (4,)], {"dtype": "int64", "value": 9, "padding": "post"}),
]


@pytest.mark.parametrize("sequences, kwargs", PAD_CASES)
def test_pad_sequences_matches_keras(sequences, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # uint8 overflow warns in both
        expected = keras.utils.pad_sequences(sequences, **kwargs)
        actual = pad_sequences(sequences, **kwargs)
    assert_same_array(actual, expected, f"pad_sequences({kwargs})")


def test_pad_sequences_is_importable_where_keras_scripts_look():
    from minirnn.preprocessing.sequence import pad_sequences as from_preprocessing
    assert from_preprocessing is pad_sequences
    assert minirnn.utils.pad_sequences is pad_sequences


@given(lengths=st.lists(st.integers(0, 6), min_size=1, max_size=5),
       maxlen=st.one_of(st.none(), st.integers(0, 7)),
       padding=st.sampled_from(["pre", "post"]), truncating=st.sampled_from(["pre", "post"]),
       dtype=st.sampled_from(["int32", "int64", "float32", "float64"]),
       sample_shape=st.sampled_from([(), (2,)]), value=st.sampled_from([0.0, -1, 2.5]),
       seed=st.integers(0, 2**32 - 1))
def test_pad_sequences_matches_keras_over_shapes(lengths, maxlen, padding, truncating, dtype,
                                                  sample_shape, value, seed):
    # Keras slices s[-0:] (the whole sequence) for maxlen=0, truncating="pre", and then fails
    assume(not (maxlen == 0 and truncating == "pre" and any(lengths)))
    rng = np.random.default_rng(seed)
    sequences = [rng.normal(scale=5.0, size=(length,) + sample_shape) for length in lengths]
    kwargs = dict(maxlen=maxlen, padding=padding, truncating=truncating, dtype=dtype, value=value)
    assert_same_array(pad_sequences(sequences, **kwargs),
                      keras.utils.pad_sequences(sequences, **kwargs), str(kwargs))


def test_pad_sequences_maxlen_zero_truncating_pre_gives_empty_rows():
    # Keras crashes here (s[-0:] keeps everything); zero timesteps are what maxlen=0 asks for
    padded = pad_sequences([[1, 2], [3]], maxlen=0)
    assert padded.shape == (2, 0) and padded.dtype == np.int32


@pytest.mark.parametrize("call, words", [
    (lambda: pad_sequences(DOC_SEQUENCES, padding="middle"), ["padding", "pre", "post", "middle"]),
    (lambda: pad_sequences(DOC_SEQUENCES, truncating="both"), ["truncating", "both"]),
    (lambda: pad_sequences(5), ["sequences", "int"]),
    (lambda: pad_sequences([[1, 2], 3]), ["sequences", "position 1", "3"]),
    (lambda: pad_sequences(["ab", "c"]), ["sequences", "position 0", "'ab'"]),
    (lambda: pad_sequences([np.ones((2, 3)), np.ones((2, 4))], dtype="float32"),
     ["position 1", "(4,)", "(3,)"]),
    (lambda: pad_sequences([[[1, 2], [3]]]), ["position 0"]),
    (lambda: pad_sequences(DOC_SEQUENCES, value="x"), ["dtype", "'x'", "object"]),
    (lambda: pad_sequences([]), ["maxlen", "empty"]),
    (lambda: pad_sequences([["a"]]), ["position 0", "int32"]),
])
def test_pad_sequences_refuses_bad_input(call, words):
    assert_raises_naming(ValueError, call, *words)


@pytest.mark.parametrize("call, error, words", [
    (lambda: pad_sequences(DOC_SEQUENCES, maxlen=-1), ValueError, ["maxlen", ">= 0", "-1"]),
    (lambda: pad_sequences(DOC_SEQUENCES, maxlen=2.5), TypeError, ["maxlen", "2.5"]),
    (lambda: pad_sequences(DOC_SEQUENCES, dtype="not-a-dtype"), TypeError, ["dtype", "not-a-dtype"]),
])
def test_pad_sequences_refuses_bad_arguments(call, error, words):
    assert_raises_naming(error, call, *words)


# -- to_categorical and normalize --------------------------------------------------------------

CATEGORICAL_CASES = [
    ([0, 1, 2, 3], 4),
    ([0, 1, 2, 3], None),
    ([[1], [0], [2]], None),         # trailing 1 dropped: (3, 3), not (3, 1, 3)
    ([[1]], 3),
    ([1], 2),                         # (1,) keeps its axis: (1, 2)
    (2, 4),                           # a scalar: one row (4,)
    ([[[1]], [[0]]], None),          # (2, 1, 1) -> (2, 1, 2)
    ([[0, 2], [1, 1]], 5),
    ([1.9, 0.2, 2.999], None),       # floats truncate toward zero
    (np.array([3, 1], dtype=np.uint8), None),
    (np.zeros((0,), dtype=int), 3),
    ([True, False], None),
]


@pytest.mark.parametrize("x, num_classes", CATEGORICAL_CASES)
def test_to_categorical_matches_keras(x, num_classes):
    assert_same_array(to_categorical(x, num_classes), keras.utils.to_categorical(x, num_classes),
                      f"to_categorical({x!r}, {num_classes})")


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       extra_classes=st.one_of(st.none(), st.integers(0, 3)), seed=st.integers(0, 2**32 - 1))
def test_to_categorical_matches_keras_over_shapes(shape, extra_classes, seed):
    x = np.random.default_rng(seed).integers(0, 5, size=shape)
    num_classes = None if extra_classes is None else int(x.max()) + 1 + extra_classes
    assert_same_array(to_categorical(x, num_classes), keras.utils.to_categorical(x, num_classes))


@pytest.mark.parametrize("call, words", [
    (lambda: to_categorical([0, 4], num_classes=3), ["[0, 3)", "4"]),
    (lambda: to_categorical([0, -1]), ["[0,", "-1"]),
    (lambda: to_categorical([], None), ["num_classes", "empty"]),
    (lambda: to_categorical([0, 1], num_classes=0), ["num_classes", ">= 1", "0"]),
    (lambda: to_categorical(["a"], 2), ["x", "'a'"]),
])
def test_to_categorical_refuses_bad_input(call, words):
    assert_raises_naming(ValueError, call, *words)


NORMALIZE_CASES = [
    (np.arange(6.0).reshape(2, 3), -1, 2),
    (np.arange(6.0).reshape(2, 3), 1, 1),
    (np.array([[0.0, 0.0], [3.0, 4.0]]), -1, 2),       # a zero row stays zero
    (np.arange(6, dtype=np.int32), -1, 1),               # 1-D comes back as (1, n), as Keras
    (np.arange(24.0).reshape(2, 3, 4) - 7, 1, 2),
    (np.arange(24.0).reshape(2, 3, 4) - 7, -1, np.inf),
    (np.arange(9.0).reshape(3, 3).astype(np.float32), -1, 2),
]


@pytest.mark.parametrize("x, axis, order", NORMALIZE_CASES)
def test_normalize_matches_keras(x, axis, order):
    expected = keras.utils.normalize(x, axis=axis, order=order)
    np.testing.assert_allclose(normalize(x, axis=axis, order=order), expected, rtol=1e-15, atol=0)
    assert normalize(x, axis=axis, order=order).dtype == expected.dtype


def test_normalize_along_axis_zero_divides_by_column_norms():
    # Keras's NumPy path restores the reduced axis at -1 for axis=0 (wrong or failing); by hand:
    x = np.array([[3.0, 0.0, 1.0], [4.0, 0.0, 1.0]])
    expected = np.array([[0.6, 0.0, 1 / np.sqrt(2)], [0.8, 0.0, 1 / np.sqrt(2)]])
    np.testing.assert_allclose(normalize(x, axis=0), expected, rtol=1e-15)


def test_normalize_refuses_bad_input():
    assert_raises_naming(ValueError, lambda: normalize(np.ones((2, 3)), axis=2), "axis", "2")
    assert_raises_naming(TypeError, lambda: normalize(np.array(["a"])), "x", "dtype")


# -- timeseries_dataset_from_array -------------------------------------------------------------

def keras_items(dataset):
    return list(dataset.as_numpy_iterator())


def assert_same_items(actual, expected, what=""):
    assert len(actual) == len(expected), f"{what}: {len(actual)} items, Keras gives {len(expected)}"
    for k, (mine, theirs) in enumerate(zip(actual, expected)):
        if isinstance(theirs, tuple):
            assert isinstance(mine, tuple) and len(mine) == len(theirs), f"{what}: item {k}"
            for part, (a, b) in enumerate(zip(mine, theirs)):
                assert_same_array(np.asarray(a), b, f"{what}: item {k}, part {part}")
        else:
            assert_same_array(np.asarray(mine), theirs, f"{what}: item {k}")


TIMESERIES_CASES = [
    dict(sequence_length=10, sampling_rate=2, sequence_stride=3),   # Keras's docstring example 1
    dict(sequence_length=10),
    dict(sequence_length=5, batch_size=4, start_index=3, end_index=60),
    dict(sequence_length=5, batch_size=None, start_index=90),
    dict(sequence_length=20, sequence_stride=20, batch_size=3),
    dict(sequence_length=1, batch_size=1000),
]


@pytest.mark.parametrize("kwargs", TIMESERIES_CASES)
@pytest.mark.parametrize("with_targets", [True, False])
def test_timeseries_matches_keras(kwargs, with_targets):
    data = np.arange(99, dtype=np.float64)[:, None] * np.array([1.0, -0.5])
    targets = np.arange(99) * 10 if with_targets else None
    ours = timeseries_dataset_from_array(data, targets, **kwargs)
    theirs = keras_items(keras.utils.timeseries_dataset_from_array(data, targets, **kwargs))
    assert len(ours) == len(theirs)
    assert_same_items(list(ours), theirs, str(kwargs))
    assert_same_items(list(ours), theirs, f"second pass, {kwargs}")   # iterable again


@st.composite
def timeseries_arguments(draw):
    length = draw(st.integers(2, 40))
    kwargs = dict(sequence_length=draw(st.integers(1, 8)),
                  sequence_stride=draw(st.integers(1, min(5, length - 1))),
                  sampling_rate=draw(st.integers(1, min(4, length - 1))),
                  batch_size=draw(st.one_of(st.none(), st.integers(1, 7))))
    start = draw(st.one_of(st.none(), st.integers(0, length - 1)))
    end = draw(st.one_of(st.none(), st.integers((start or 0) + 1, length + 1)))
    if end is not None and end >= length:
        end = None
    kwargs.update(start_index=start, end_index=end)
    return length, kwargs


@given(arguments=timeseries_arguments(), feature_shape=st.sampled_from([(), (2,), (1, 3)]),
       targets_kind=st.sampled_from(["none", "same", "short", "long"]),
       dtype=st.sampled_from(["float32", "float64", "int64"]), seed=st.integers(0, 2**32 - 1))
def test_timeseries_matches_keras_over_arguments(arguments, feature_shape, targets_kind, dtype, seed):
    length, kwargs = arguments
    rng = np.random.default_rng(seed)
    data = (rng.normal(size=(length,) + feature_shape) * 100).astype(dtype)
    target_length = {"none": 0, "same": length, "short": max(1, length // 2), "long": length + 3}
    targets = None if targets_kind == "none" else rng.normal(size=(target_length[targets_kind], 2))
    start = kwargs["start_index"] or 0
    end = kwargs["end_index"] or length
    windows = end - start - (kwargs["sequence_length"] - 1) * kwargs["sampling_rate"]
    if targets is not None:
        windows = min(windows, len(targets))
    theirs_dataset = keras.utils.timeseries_dataset_from_array(data, targets, **kwargs)
    if windows <= 0:   # Keras yields nothing; minirnn says why
        assert keras_items(theirs_dataset) == []
        assert_raises_naming(ValueError, lambda: timeseries_dataset_from_array(data, targets, **kwargs),
                             "no window fits", "sequence_length")
        return
    last_start = start + (windows - 1) // kwargs["sequence_stride"] * kwargs["sequence_stride"]
    if targets is not None and last_start >= len(targets):   # TensorFlow fails while iterating
        assert_raises_naming(ValueError, lambda: timeseries_dataset_from_array(data, targets, **kwargs),
                             "targets", str(len(targets)))
        return
    theirs = keras_items(theirs_dataset)
    ours = timeseries_dataset_from_array(data, targets, **kwargs)
    assert len(ours) == len(theirs)
    assert_same_items(list(ours), theirs, str(kwargs))


def test_timeseries_lists_convert_as_tensorflow_converts_them():
    data, targets = [1.0, 2.0, 3.0, 4.0, 5.0], [1, 2, 3, 4, 5]
    ours = timeseries_dataset_from_array(data, targets, 2, batch_size=2)
    theirs = keras_items(keras.utils.timeseries_dataset_from_array(data, targets, 2, batch_size=2))
    assert_same_items(list(ours), theirs)   # float32 and int32, as tf.data makes them


def test_timeseries_docstring_regression_example():
    data = np.arange(30.0)
    dataset = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    inputs, targets = next(iter(dataset))
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10]


def test_timeseries_take_unbatch_and_batch_match_keras():
    data, targets = np.arange(50.0), np.arange(50) % 7
    kwargs = dict(sequence_length=4, sequence_stride=2, batch_size=5)
    ours = timeseries_dataset_from_array(data, targets, **kwargs)
    theirs = keras.utils.timeseries_dataset_from_array(data, targets, **kwargs)
    for count in (0, 1, 3, 100, -1):
        assert len(ours.take(count)) == len(keras_items(theirs.take(count)))
        assert_same_items(list(ours.take(count)), keras_items(theirs.take(count)), f"take({count})")
    assert_same_items(list(ours.unbatch()), keras_items(theirs.unbatch()), "unbatch")
    assert len(ours.unbatch()) == len(keras_items(theirs.unbatch()))
    assert_same_items(list(ours.take(2).unbatch()), keras_items(theirs.take(2).unbatch()))
    assert_same_items(list(ours.unbatch().batch(3)), keras_items(theirs.unbatch().batch(3)))
    assert_same_items(list(ours.unbatch().take(7).batch(3)),
                      keras_items(theirs.unbatch().take(7).batch(3)))
    assert_same_items(list(ours.as_numpy_iterator()), keras_items(theirs))


def window_rows(items, batched=True):
    """Each window (and its target) flattened to one tuple: the multiset of a pass, sorted."""
    rows = []
    for item in items:
        x, y = item if isinstance(item, tuple) else (item, None)
        pairs = zip(x, y if y is not None else [None] * len(x)) if batched else [(x, y)]
        for window, target in pairs:
            rows.append(tuple(np.ravel(window).tolist())
                        + (() if target is None else tuple(np.ravel(target).tolist())))
    return sorted(rows)


SHUFFLE_CASES = [
    dict(sequence_length=3, batch_size=4, seed=11),        # buffer 32 < 97 windows
    dict(sequence_length=5, sequence_stride=2, sampling_rate=3, batch_size=2, seed=5),
    dict(sequence_length=2, batch_size=None, seed=0),     # buffer 1024 holds everything
    dict(sequence_length=7, batch_size=64, seed=123, start_index=4, end_index=90),
]


@pytest.mark.parametrize("kwargs", SHUFFLE_CASES)
def test_timeseries_shuffle_gives_keras_windows_in_a_new_order_each_pass(kwargs):
    data = np.arange(100.0)[:, None] + np.array([0.0, 0.25])
    targets = np.arange(100) * 3
    ours = timeseries_dataset_from_array(data, targets, shuffle=True, **kwargs)
    theirs = keras_items(keras.utils.timeseries_dataset_from_array(data, targets, shuffle=True,
                                                                   **kwargs))
    passes = [list(ours) for _ in range(3)]
    batched = kwargs["batch_size"] is not None
    for items in passes:
        assert window_rows(items, batched) == window_rows(theirs, batched)
        if kwargs["batch_size"] is not None:
            assert [len(x) for x, _ in items] == [len(x) for x, _ in theirs]
    firsts = [tuple(np.concatenate([np.atleast_1d(y) for _, y in items])) for items in passes]
    assert len(set(firsts)) == 3, "each pass draws a new order (reshuffle_each_iteration)"


def test_timeseries_shuffle_is_a_seeded_permutation_then_a_buffer():
    """Keras permutes the window starts with np.random.RandomState(seed), then tf.data shuffles
    within 8 * batch_size: an element leaves the buffer no earlier than it enters it."""
    seed, batch_size, count = 42, 3, 200
    starts = np.arange(count)
    np.random.RandomState(seed).shuffle(starts)   # the reference permutation, computed here
    entry = {int(start): k for k, start in enumerate(starts)}
    dataset = timeseries_dataset_from_array(np.arange(count + 1.0), None, 2, batch_size=batch_size,
                                            shuffle=True, seed=seed)
    emitted = [int(x[0]) for batch in dataset for x in batch]
    assert sorted(emitted) == list(range(count))
    buffer = 8 * batch_size
    assert all(entry[start] <= k + buffer - 1 for k, start in enumerate(emitted))
    # a seeded dataset repeats its sequence of orders
    again = timeseries_dataset_from_array(np.arange(count + 1.0), None, 2, batch_size=batch_size,
                                          shuffle=True, seed=seed)
    assert [int(x[0]) for batch in again for x in batch] == emitted


def test_timeseries_shuffle_without_seed_draws_it_from_numpys_global_generator():
    np.random.seed(3)
    first = [int(x[0]) for batch in timeseries_dataset_from_array(
        np.arange(60.0), None, 2, batch_size=4, shuffle=True) for x in batch]
    np.random.seed(3)
    second = [int(x[0]) for batch in timeseries_dataset_from_array(
        np.arange(60.0), None, 2, batch_size=4, shuffle=True) for x in batch]
    assert first == second


DATA = np.arange(20.0)


@pytest.mark.parametrize("call, words", [
    (lambda: timeseries_dataset_from_array(DATA, None, 30), ["sequence_length=30", "20"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 8, sampling_rate=3),
     ["sequence_length=8", "sampling_rate=3", "22"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, batch_size=0), ["batch_size", ">= 1", "0"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, batch_size=-2), ["batch_size", "-2"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 0), ["sequence_length", "0"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, sampling_rate=20), ["sampling_rate", "20"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, sequence_stride=0), ["sequence_stride", "0"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, sequence_stride=25),
     ["sequence_stride", "25"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, start_index=20), ["start_index", "20"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, start_index=-1), ["start_index", "-1"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, end_index=20), ["end_index", "20"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, start_index=5, end_index=5),
     ["end_index", "start_index", "5"]),
    (lambda: timeseries_dataset_from_array(DATA, np.arange(3.0), 3, start_index=4), ["targets", "3"]),
    (lambda: timeseries_dataset_from_array(DATA, [], 3), ["targets", "empty"]),
    (lambda: timeseries_dataset_from_array(5.0, None, 3), ["data", "time axis"]),
    (lambda: timeseries_dataset_from_array(DATA, None, 3, shuffle=True, seed=-1), ["seed", "-1"]),
    (lambda: timeseries_dataset_from_array([[1, 2], [3]], None, 1), ["data"]),
])
def test_timeseries_refuses_bad_input(call, words):
    with pytest.raises((ValueError, TypeError)) as caught:
        call()
    for word in words:
        assert word in str(caught.value), f"{word!r} missing from: {caught.value}"


def test_timeseries_errors_match_keras_for_keras_rules():
    """Where Keras itself refuses an argument, minirnn refuses it too."""
    for kwargs in (dict(sampling_rate=20), dict(sequence_stride=25), dict(start_index=20),
                   dict(end_index=20), dict(start_index=5, end_index=5), dict(start_index=-1)):
        with pytest.raises(ValueError):
            keras.utils.timeseries_dataset_from_array(DATA, None, 3, **kwargs)
        with pytest.raises(ValueError):
            timeseries_dataset_from_array(DATA, None, 3, **kwargs)


def test_array_dataset_methods_refuse_bad_arguments():
    dataset = timeseries_dataset_from_array(DATA, None, 3, batch_size=4)
    assert_raises_naming(ValueError, lambda: dataset.take(-2), "count", "-2")
    assert_raises_naming(ValueError, lambda: dataset.batch(2), "batch", "unbatch")
    assert_raises_naming(ValueError, lambda: dataset.unbatch().unbatch(), "single elements")
    assert_raises_naming(ValueError, lambda: dataset.unbatch().batch(0), "batch_size", "0")
    assert isinstance(dataset, ArrayDataset)


# -- text_dataset_from_directory ---------------------------------------------------------------

TEXTS = {
    "neg/a.txt": "awful film",
    "neg/b.txt": "boring\r\nand long",          # CRLF kept: files are read as bytes, as tf.io
    "neg/c.TXT": "clumsy",                       # the extension matches whatever its case
    "neg/deeper/d.txt": "dull, from a sub-folder",
    "neg/skip.md": "not a .txt file",
    "pos/e.txt": "excellent ünïcödé ✓",
    "pos/f.txt": "fine",
    "pos/g.txt": "",
    "pos/h.txt": "great " * 40,
    "pos/i.txt": "inspired",
    "pos/j.txt": "joyful",
    "pos/k.txt": "keen",
    ".hidden/x.txt": "hidden folders are not classes",
    "top.txt": "a file outside any class folder",
}


def write_tree(root, texts):
    for relative, content in texts.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(content.encode("utf-8"))
    return str(root)


@pytest.fixture
def two_classes(tmp_path):
    return write_tree(tmp_path, TEXTS)


@pytest.fixture
def three_classes(tmp_path):
    texts = dict(TEXTS)
    texts.update({"mixed/m1.txt": "meh", "mixed/m2.txt": "middling", "mixed/sub/m3.txt": "so-so"})
    return write_tree(tmp_path, texts)


def text_pairs(items):
    """(text, label row) of every element, texts as str (Keras's bytes decoded)."""
    pairs = []
    for item in items:
        texts, labels = item if isinstance(item, tuple) else (item, None)
        texts = np.atleast_1d(texts)
        for k, text in enumerate(texts):
            text = text.decode("utf-8") if isinstance(text, bytes) else text
            label = None if labels is None else tuple(np.ravel(np.atleast_1d(labels)[k]).tolist())
            pairs.append((text, label))
    return pairs


def both(directory, **kwargs):
    kwargs.setdefault("verbose", False)
    return (text_dataset_from_directory(directory, **kwargs),
            keras.utils.text_dataset_from_directory(directory, **kwargs))


def assert_same_text_items(ours, theirs, what):
    theirs_items = keras_items(theirs)
    ours_items = list(ours.as_numpy_iterator())   # iteration gives EagerArrays, as tf.data's gives tensors
    assert len(ours) == len(theirs_items), what
    assert text_pairs(ours_items) == text_pairs(theirs_items), what
    for mine, their in zip(ours_items, theirs_items):   # the label arrays themselves
        if isinstance(their, tuple):
            mine_labels, mine_texts = mine[1], mine[0]
        else:
            mine_labels, mine_texts = None, mine
        if isinstance(their, tuple):   # a batch: an array; a single element: a NumPy scalar too
            assert type(mine_labels) is type(their[1]), what
            assert_same_array(np.asarray(mine_labels), np.asarray(their[1]), what)
        if isinstance(mine_texts, np.ndarray):
            assert mine_texts.dtype == object and all(isinstance(t, str) for t in mine_texts), what
        else:
            assert isinstance(mine_texts, str), what


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(label_mode="categorical"),
    dict(label_mode="binary"),
    dict(label_mode=None),
    dict(labels=None),
    dict(batch_size=3),
    dict(batch_size=None),
    dict(batch_size=None, label_mode="categorical"),
    dict(max_length=4),
    dict(max_length=0, batch_size=5),
    dict(class_names=["pos", "neg"]),
    dict(class_names=["pos"]),
])
def test_text_dataset_in_order_matches_keras(two_classes, kwargs):
    ours, theirs = both(two_classes, shuffle=False, **kwargs)
    assert_same_text_items(ours, theirs, str(kwargs))
    assert ours.class_names == theirs.class_names


@pytest.mark.parametrize("label_mode", ["int", "categorical"])
def test_text_dataset_three_classes_with_nested_folders_match_keras(three_classes, label_mode):
    ours, theirs = both(three_classes, shuffle=False, label_mode=label_mode, batch_size=4)
    assert_same_text_items(ours, theirs, label_mode)
    assert ours.class_names == theirs.class_names == ["mixed", "neg", "pos"]


def test_text_dataset_explicit_labels_match_keras(two_classes):
    # labels follow the sorted file paths of the whole tree (classes are not inferred)
    count = len([name for name in TEXTS if name.lower().endswith(".txt")
                 and not name.startswith(".hidden")]) + 1   # .hidden is walked when not inferring
    labels = [k % 3 for k in range(count)]
    for label_mode in ("int", "categorical"):
        ours, theirs = both(two_classes, labels=labels, label_mode=label_mode, shuffle=False,
                            batch_size=4)
        assert_same_text_items(ours, theirs, label_mode)
        assert ours.class_names == theirs.class_names == ["0", "1", "2"]


@pytest.mark.parametrize("kwargs", [
    dict(seed=7), dict(seed=7, batch_size=1), dict(seed=99, batch_size=None, label_mode="categorical"),
])
def test_text_dataset_shuffled_holds_keras_pairs_each_pass(two_classes, kwargs):
    ours, theirs = both(two_classes, shuffle=True, **kwargs)
    expected = sorted(text_pairs(keras_items(theirs)))
    orders = set()
    for _ in range(3):
        pairs = text_pairs(list(ours))
        assert sorted(pairs) == expected
        orders.add(tuple(pairs))
    assert len(orders) > 1, "each pass draws a new order"


@pytest.mark.parametrize("seed", [1, 2024])
def test_text_dataset_validation_split_matches_keras(three_classes, seed):
    split = dict(validation_split=0.3, seed=seed, batch_size=2)
    ours_train, ours_val = text_dataset_from_directory(three_classes, subset="both", verbose=False,
                                                       **split)
    theirs_train, theirs_val = keras.utils.text_dataset_from_directory(
        three_classes, subset="both", verbose=False, **split)
    # the validation half of "both" is not reshuffled: Keras's order, exactly
    assert_same_text_items(ours_val, theirs_val, "validation")
    assert sorted(text_pairs(list(ours_train))) == sorted(text_pairs(keras_items(theirs_train)))
    assert len(ours_train) == len(keras_items(theirs_train))
    assert ours_train.class_names == ours_val.class_names == theirs_train.class_names
    for subset in ("training", "validation"):
        ours, theirs = both(three_classes, subset=subset, **split)
        assert sorted(text_pairs(list(ours))) == sorted(text_pairs(keras_items(theirs))), subset


def test_text_dataset_validation_split_without_shuffle_matches_keras_in_order(two_classes):
    for subset in ("training", "validation"):
        ours, theirs = both(two_classes, shuffle=False, validation_split=0.25, subset=subset)
        assert_same_text_items(ours, theirs, subset)


def test_text_dataset_prints_what_keras_prints(two_classes, capsys):
    text_dataset_from_directory(two_classes, validation_split=0.25, subset="training", seed=1)
    ours = capsys.readouterr().out
    keras.utils.text_dataset_from_directory(two_classes, validation_split=0.25, subset="training",
                                            seed=1)
    assert ours == capsys.readouterr().out


def test_text_dataset_refusals_match_keras(tmp_path, three_classes):
    missing = str(tmp_path / "no-such-folder")
    cases = [
        (dict(label_mode="binary"), ["binary", "2", "3"]),
        (dict(validation_split=0.2), ["validation_split", "subset"]),
        (dict(subset="training"), ["validation_split", "subset"]),
        (dict(validation_split=0.2, subset="training"), ["seed"]),
        (dict(validation_split=0.2, subset="testing", seed=1), ["subset", "testing"]),
        (dict(validation_split=1.5, subset="training", seed=1), ["validation_split", "1.5"]),
        (dict(class_names=["pos", "nope"]), ["class_names", "nope"]),
        (dict(labels=[0, 1]), ["labels", "2"]),
        (dict(labels=None, class_names=["pos"]), ["class_names"]),
        (dict(label_mode="sparse"), ["label_mode", "sparse"]),
        (dict(validation_split=0.01, subset="training", seed=1), ["training"]),
    ]
    for kwargs, words in cases:
        with pytest.raises(ValueError):
            keras.utils.text_dataset_from_directory(three_classes, verbose=False, **kwargs)
        assert_raises_naming(ValueError, lambda: text_dataset_from_directory(
            three_classes, verbose=False, **kwargs), *words)
    assert_raises_naming(ValueError, lambda: text_dataset_from_directory(missing), "no-such-folder")
    assert_raises_naming(TypeError, lambda: text_dataset_from_directory(three_classes, labels=5),
                         "labels")
    assert_raises_naming(ValueError, lambda: text_dataset_from_directory(
        three_classes, labels="inferred_please"), "labels", "inferred_please")
    assert_raises_naming(ValueError, lambda: text_dataset_from_directory(three_classes, batch_size=0),
                         "batch_size", "0")
    assert_raises_naming(ValueError, lambda: text_dataset_from_directory(
        three_classes, max_length=-1), "max_length", "-1")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_raises_naming(ValueError, lambda: text_dataset_from_directory(str(empty), labels=None),
                         "no", ".txt", "empty")


def test_text_dataset_refuses_a_file_that_is_not_utf8(tmp_path):
    os.makedirs(tmp_path / "a")
    (tmp_path / "a" / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    dataset = text_dataset_from_directory(str(tmp_path), verbose=False)
    assert_raises_naming(ValueError, lambda: list(dataset), "bad.txt", "UTF-8")


# -- PyDataset -----------------------------------------------------------------------------------

def squares_dataset(base):
    class Squares(base):
        def __init__(self, x, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.batch_size, self.epochs_ended = x, batch_size, 0

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, index):
            batch = self.x[index * self.batch_size:(index + 1) * self.batch_size]
            return batch, batch ** 2

        def on_epoch_end(self):
            self.epochs_ended += 1

    return Squares


def test_py_dataset_subclass_behaves_as_keras():
    x = np.arange(10.0)
    ours = squares_dataset(PyDataset)(x, 4, workers=3, use_multiprocessing=False, max_queue_size=5)
    theirs = squares_dataset(keras.utils.PyDataset)(x, 4, workers=3, use_multiprocessing=False,
                                                    max_queue_size=5)
    assert len(ours) == len(theirs) == 3 and ours.num_batches == theirs.num_batches
    assert_same_items(list(ours), list(theirs))
    assert_same_items(list(ours), list(theirs))
    assert (ours.workers, ours.use_multiprocessing, ours.max_queue_size) == \
           (theirs.workers, theirs.use_multiprocessing, theirs.max_queue_size)
    ours.on_epoch_end()
    ours.on_epoch_begin()
    assert ours.epochs_ended == 1


def test_py_dataset_without_super_init_warns_and_takes_keras_defaults():
    class NoSuper(PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

        def __getitem__(self, index):
            return np.zeros(1)

    dataset = NoSuper()
    with pytest.warns(UserWarning, match="super"):
        assert dataset.workers == 1
    assert dataset.use_multiprocessing is False and dataset.max_queue_size == 10


def test_py_dataset_endless_when_num_batches_is_none():
    class Endless(PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            return np.full(2, index)

    assert [int(b[0]) for b in itertools.islice(Endless(), 7)] == list(range(7))


def test_py_dataset_base_asks_for_its_methods():
    class Empty(PyDataset):
        pass

    with pytest.raises(NotImplementedError, match="__len__"):
        len(Empty())
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Empty()[0]
    assert_raises_naming(ValueError, lambda: PyDataset(workers=-1), "workers", "-1")
    assert_raises_naming(TypeError, lambda: PyDataset(use_multiprocessing="yes"), "use_multiprocessing")
    assert_raises_naming(ValueError, lambda: PyDataset(max_queue_size=0), "max_queue_size", "0")


# -- set_random_seed and the re-exports --------------------------------------------------------

def test_set_random_seed_seeds_python_and_numpy_as_keras():
    keras.utils.set_random_seed(1234)
    expected = (random.random(), np.random.rand(3).tolist())
    set_random_seed(1234)
    assert (random.random(), np.random.rand(3).tolist()) == expected
    set_random_seed(1234)
    np.testing.assert_array_equal(minirnn.random.generator().random(4),
                                  np.random.default_rng(1234).random(4))


def test_set_random_seed_refuses_what_numpy_cannot_take():
    assert_raises_naming(TypeError, lambda: set_random_seed(1.5), "int", "float")
    assert_raises_naming(TypeError, lambda: set_random_seed(True), "int", "bool")
    assert_raises_naming(ValueError, lambda: set_random_seed(-1), "2**32", "-1")
    assert_raises_naming(ValueError, lambda: set_random_seed(2**32), "2**32", str(2**32))


def test_utils_exports_keras_names():
    assert minirnn.utils.set_random_seed is minirnn.set_random_seed
    assert minirnn.utils.Progbar is minirnn.callbacks.Progbar
    for name in ("to_categorical", "pad_sequences", "timeseries_dataset_from_array",
                 "text_dataset_from_directory", "set_random_seed", "PyDataset", "normalize"):
        assert hasattr(minirnn.utils, name) and hasattr(keras.utils, name)
    assert minirnn.preprocessing.timeseries_dataset_from_array is timeseries_dataset_from_array
