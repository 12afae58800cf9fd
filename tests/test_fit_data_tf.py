"""fit / evaluate / predict on every kind of data Keras takes, held to Keras.

Each parity test builds the same model in Keras and in minirnn, copies Keras's initial weights
into minirnn, trains both with shuffle=False on the same data and compares the loss history
and the final weights (relative 1e-4, float32): sample_weight and class_weight on arrays, a
generator and a PyDataset of (x, y, sample_weight) batches, dict inputs and targets keyed by
Input and output layer names. Then what must be refused: bad batches, bad weights, with the
model left as it was.
"""
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tf_helpers import import_tf

tf = import_tf()
import keras  # noqa: E402  (TensorFlow brings Keras 3 with it)

import minirnn  # noqa: E402
from minirnn import Input, Model, Sequential, layers, optimizers  # noqa: E402

T, D, N, BATCH = 5, 3, 36, 8   # 36 samples: four batches of 8 and one of 4
REL = 1e-5  # float32 on both sides; measured agreement is about 1e-7


# -- the two sides ------------------------------------------------------------------------------

def rnn_model(lib, units=1, activation=None):
    return lib.Sequential([lib.Input((T, D)), lib.layers.LSTM(4),
                           lib.layers.Dense(units, activation=activation)])


def named_two_in_two_out(lib):
    seq, side = lib.Input((T, D), name="seq"), lib.Input((2,), name="side")
    h = lib.layers.Concatenate()([lib.layers.GRU(3)(seq), side])
    return lib.Model([seq, side], [lib.layers.Dense(1, name="price")(h),
                                   lib.layers.Dense(2, name="trend")(h)])


def pair(build, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    keras_model = build(keras, **kwargs)
    minirnn.set_random_seed(seed)
    model = build(minirnn, **kwargs)
    model.set_weights(keras_model.get_weights())
    return keras_model, model


def optimizer_pair(name):
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=0.1), optimizers.SGD(learning_rate=0.1)
    return keras.optimizers.Adam(learning_rate=0.02), optimizers.Adam(learning_rate=0.02)


def compile_both(keras_model, model, optimizer, loss, **kwargs):
    theirs, ours = optimizer_pair(optimizer)
    keras_model.compile(optimizer=theirs, loss=loss, **kwargs)
    model.compile(optimizer=ours, loss=loss, **kwargs)


def regression(seed=0, n=N):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, D)).astype("float32")
    y = (np.tanh(x.sum(axis=(1, 2)))[:, None] + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    weights = rng.uniform(0.0, 3.0, size=n).astype("float32")
    return x, y, weights


def labels(seed, classes, n=N):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, D)).astype("float32")
    return x, rng.integers(0, classes, size=n)


def assert_rel(actual, expected, what):
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-12)
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=REL,
                               atol=REL * scale, err_msg=what)


def assert_history(ours, theirs, keys=None):
    keys = keys or sorted(theirs)
    for key in keys:
        assert key in ours, f"{key} missing from {sorted(ours)}"
        assert_rel(ours[key], theirs[key], key)


def assert_same_weights(model, keras_model):
    ours, theirs = model.get_weights(), keras_model.get_weights()
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_rel(a, b, f"weight {i}")


def batches(x, y=None, weights=None, size=BATCH):
    """A one-shot generator of (x, y[, w]) tuples, as a user writes it."""
    for start in range(0, len(x), size):
        part = slice(start, start + size)
        if y is None:
            yield x[part]
        elif weights is None:
            yield x[part], y[part]
        else:
            yield x[part], y[part], weights[part]


class Batches:
    """Batch i of (x, y, w) by index, Keras's PyDataset protocol by duck typing (minirnn's side)."""

    def __init__(self, x, y, weights=None, size=BATCH):
        self.x, self.y, self.weights, self.size = x, y, weights, size
        self.requested, self.epoch_ends = [], 0

    def __len__(self):
        return math.ceil(len(self.x) / self.size)

    def __getitem__(self, index):
        self.requested.append(index)
        part = slice(index * self.size, (index + 1) * self.size)
        if self.weights is None:
            return self.x[part], self.y[part]
        return self.x[part], self.y[part], self.weights[part]

    def on_epoch_end(self):
        self.epoch_ends += 1


class KerasBatches(keras.utils.PyDataset):
    def __init__(self, x, y, weights=None, size=BATCH):
        super().__init__()
        self.inner = Batches(x, y, weights, size)

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, index):
        return self.inner[index]


def quiet_fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*args, verbose=0, **kwargs).history


# -- sample_weight and class_weight on arrays ---------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_with_sample_weight_matches_keras(optimizer):
    keras_model, model = pair(rnn_model, seed=1)
    compile_both(keras_model, model, optimizer, "mse", metrics=["mae"], weighted_metrics=["mae"])
    x, y, w = regression(1)
    xv, yv, wv = regression(2, n=12)
    fit = dict(batch_size=BATCH, epochs=3, shuffle=False, sample_weight=w,
               validation_data=(xv, yv, wv))
    expected = quiet_fit(keras_model, x, y, **fit)
    got = quiet_fit(model, x, y, **fit)
    assert set(expected) == {"loss", "mae", "weighted_mae", "val_loss", "val_mae", "val_weighted_mae"}
    assert_history(got, expected)
    assert_same_weights(model, keras_model)


def test_arrays_with_steps_per_epoch_go_on_with_the_pass_as_keras():
    """Five batches, three an epoch: Keras's epochs take batches 0-2, then 3-4 (the pass is spent:
    a warning), then 0-2 of a new pass."""
    keras_model, model = pair(rnn_model, seed=2)
    compile_both(keras_model, model, "adam", "mse")
    x, y, w = regression(2)
    fit = dict(batch_size=BATCH, epochs=3, steps_per_epoch=3, shuffle=False, sample_weight=w)
    expected = quiet_fit(keras_model, x, y, **fit)
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        got = model.fit(x, y, verbose=0, **fit).history
    assert_history(got, expected)
    assert_same_weights(model, keras_model)


def test_train_and_test_on_batch_with_sample_and_class_weights_match_keras():
    keras_model, model = pair(rnn_model, seed=3, units=3, activation="softmax")
    compile_both(keras_model, model, "adam", "sparse_categorical_crossentropy",
                 weighted_metrics=["accuracy"])
    x, k = labels(3, 3, n=BATCH)
    w = np.linspace(0.1, 2.0, BATCH).astype("float32")
    for kwargs in ({"sample_weight": w}, {"class_weight": {0: 2.0, 2: 0.5}}):
        expected = keras_model.train_on_batch(x, k, return_dict=True, **kwargs)
        got = model.train_on_batch(x, k, return_dict=True, **kwargs)
        assert_history(got, expected)
    assert_same_weights(model, keras_model)
    assert_history(model.test_on_batch(x, k, sample_weight=w, return_dict=True),
                   keras_model.test_on_batch(x, k, sample_weight=w, return_dict=True))


def test_weighted_loss_divides_by_the_batch_size_not_by_the_weights():
    """Keras's rule, by hand: a batch's loss is sum(w * loss) / batch_size."""
    _, model = pair(rnn_model, seed=3)
    model.compile(optimizer="sgd", loss="mse")
    x, y, w = regression(3)
    squared = (model.predict(x, batch_size=N) - y)[:, 0] ** 2
    expected = float(np.sum(w.astype(np.float64) * squared) / N)
    assert_rel(model.evaluate(x, y, sample_weight=w, batch_size=N, verbose=0), expected, "loss")
    assert not math.isclose(expected, float(np.sum(w * squared) / np.sum(w)), rel_tol=1e-3)


CLASS_CASES = {
    # y kind: (output units, activation, loss, class_weight, targets from integer labels)
    "sparse": (3, "softmax", "sparse_categorical_crossentropy", {0: 0.5, 1: 2.0, 2: 1.25},
               lambda k: k),
    "one-hot": (3, "softmax", "categorical_crossentropy", {0: 0.5, 2: 3.0},
                lambda k: np.eye(3, dtype="float32")[k]),
    "binary": (1, "sigmoid", "binary_crossentropy", {0: 0.3, 1: 1.7},
               lambda k: (k % 2).astype("float32")[:, None]),
}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("kind", sorted(CLASS_CASES))
def test_fit_with_class_weight_matches_keras(kind, optimizer):
    units, activation, loss, class_weight, targets = CLASS_CASES[kind]
    keras_model, model = pair(rnn_model, seed=4, units=units, activation=activation)
    compile_both(keras_model, model, optimizer, loss, weighted_metrics=["accuracy"])
    x, k = labels(4, 3)
    y = targets(k)
    fit = dict(batch_size=BATCH, epochs=3, shuffle=False, class_weight=class_weight)
    expected = quiet_fit(keras_model, x, y, **fit)
    got = quiet_fit(model, x, y, **fit)
    assert_history(got, expected)
    assert_same_weights(model, keras_model)


# -- generators, PyDatasets, tf.data ------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_on_a_generator_with_steps_per_epoch_matches_keras(optimizer):
    keras_model, model = pair(rnn_model, seed=5)
    compile_both(keras_model, model, optimizer, "mse", weighted_metrics=["mse"])
    x, y, w = regression(5, n=64)          # eight batches: two epochs of four
    xv, yv, wv = regression(6, n=16)
    fit = dict(epochs=2, steps_per_epoch=4, validation_data=(xv, yv, wv))
    expected = quiet_fit(keras_model, batches(x, y, w), **fit)
    got = quiet_fit(model, batches(x, y, w), **fit)
    assert_history(got, expected)
    assert_same_weights(model, keras_model)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_on_a_py_dataset_matches_keras_and_ends_each_epoch(optimizer):
    keras_model, model = pair(rnn_model, seed=6)
    compile_both(keras_model, model, optimizer, "mse", metrics=["mae"])
    x, y, w = regression(7)
    xv, yv, wv = regression(8, n=20)
    ours = Batches(x, y, w)
    expected = quiet_fit(keras_model, KerasBatches(x, y, w), epochs=3, shuffle=False,
                         validation_data=KerasBatches(xv, yv, wv, size=6))
    got = quiet_fit(model, ours, epochs=3, shuffle=False,
                    validation_data=Batches(xv, yv, wv, size=6))
    assert "val_mae" in expected
    assert_history(got, expected)
    assert_same_weights(model, keras_model)
    assert ours.epoch_ends == 3
    assert ours.requested == [0, 1, 2, 3, 4] * 3  # each batch read once (the first one ahead)


def test_py_dataset_batch_order_is_shuffled_each_epoch_unless_shuffle_false():
    _, model = pair(rnn_model, seed=7)
    model.compile(optimizer="sgd", loss="mse")
    x, y, _ = regression(8, n=80)
    data = Batches(x, y)
    minirnn.set_random_seed(0)
    model.fit(data, epochs=3, verbose=0)
    assert len(data.requested) == 30  # each batch once an epoch (the first read ahead)
    epochs = [data.requested[10 * e:10 * (e + 1)] for e in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(10))
    assert len({tuple(order) for order in epochs}) == 3 and epochs[0] != list(range(10))
    assert data.epoch_ends == 3


def test_fit_on_a_tf_dataset_matches_keras():
    keras_model, model = pair(rnn_model, seed=8)
    compile_both(keras_model, model, "adam", "mse", weighted_metrics=["mae"])
    x, y, w = regression(9)
    dataset = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(BATCH)
    expected = quiet_fit(keras_model, dataset, epochs=3)
    got = quiet_fit(model, dataset, epochs=3)
    assert_history(got, expected)
    assert_same_weights(model, keras_model)


def test_an_endless_tf_dataset_needs_steps_per_epoch():
    _, model = pair(rnn_model, seed=8)
    model.compile(optimizer="sgd", loss="mse")
    x, y, _ = regression(9)
    endless = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).repeat()
    with pytest.raises(ValueError, match=r"fit\(\) argument x is endless.*steps_per_epoch"):
        model.fit(endless, verbose=0)
    assert len(model.fit(endless, steps_per_epoch=3, epochs=2, verbose=0).history["loss"]) == 2


def test_evaluate_with_sample_weight_matches_keras_for_arrays_and_generators():
    keras_model, model = pair(rnn_model, seed=9, units=3, activation="softmax")
    compile_both(keras_model, model, "sgd", "sparse_categorical_crossentropy",
                 metrics=["accuracy"], weighted_metrics=["accuracy"])
    x, k = labels(10, 3)
    w = np.random.default_rng(10).uniform(0, 2, size=N).astype("float32")
    expected = keras_model.evaluate(x, k, sample_weight=w, batch_size=BATCH, verbose=0,
                                    return_dict=True)
    assert set(expected) == {"loss", "accuracy", "weighted_accuracy"}
    got = model.evaluate(x, k, sample_weight=w, batch_size=BATCH, verbose=0, return_dict=True)
    assert_history(got, expected)
    got = model.evaluate(batches(x, k, w), verbose=0, return_dict=True)
    assert_history(got, expected)


def test_predict_on_a_generator_of_arrays_or_one_tuples_matches_keras():
    keras_model, model = pair(rnn_model, seed=11, units=2)
    x, _, _ = regression(11)
    expected = keras_model.predict(x, verbose=0)
    assert_rel(model.predict(batches(x)), expected, "bare arrays")
    assert_rel(model.predict((b,) for b in batches(x)), expected, "(x,) tuples")
    assert_rel(model.predict(Batches(x, x)), expected, "(x, y) from a PyDataset")
    assert_rel(model.predict(batches(x), steps=2), expected[:2 * BATCH], "two steps")


# -- dict inputs and targets by name -------------------------------------------------------------

def two_in_two_out_data(seed, n=N):
    rng = np.random.default_rng(seed)
    seq = rng.normal(size=(n, T, D)).astype("float32")
    side = rng.normal(size=(n, 2)).astype("float32")
    price = (seq.sum(axis=(1, 2)) * 0.1 + side[:, 0])[:, None].astype("float32")
    trend = np.stack([side[:, 1], -side[:, 0]], axis=1).astype("float32")
    return {"seq": seq, "side": side}, {"price": price, "trend": trend}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_dict_inputs_and_targets_by_name_match_keras(optimizer):
    keras_model, model = pair(named_two_in_two_out, seed=12)
    compile_both(keras_model, model, optimizer, "mse")
    x, y = two_in_two_out_data(12)
    fit = dict(batch_size=BATCH, epochs=2, shuffle=False)
    expected = quiet_fit(keras_model, x, y, **fit)
    got = quiet_fit(model, x, y, **fit)
    assert_history(got, expected, keys=["loss"])
    assert_same_weights(model, keras_model)
    for ours, theirs in zip(model.predict(x), keras_model.predict(x, verbose=0)):
        assert_rel(ours, theirs, "predict")
    called = model({"side": x["side"], "seq": x["seq"]})  # the model called on a dict
    assert_rel(called[1].data, keras_model.predict(x, verbose=0)[1], "call on a dict")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_sample_weights_by_output_name_through_a_generator_match_keras(optimizer):
    """Dict batches of a generator, one weight array per output keyed by output name; Keras is
    given the same weights as a list (its dict form fails for list outputs)."""
    keras_model, model = pair(named_two_in_two_out, seed=13)
    compile_both(keras_model, model, optimizer, "mse")
    x, y = two_in_two_out_data(13)
    rng = np.random.default_rng(13)
    w = {"price": rng.uniform(0, 2, size=N).astype("float32"),
         "trend": rng.uniform(0, 2, size=N).astype("float32")}
    expected = quiet_fit(keras_model, x, [y["price"], y["trend"]],
                         sample_weight=[w["price"], w["trend"]], batch_size=BATCH, epochs=2,
                         shuffle=False)

    def dict_batches():
        for start in range(0, N, BATCH):
            part = slice(start, start + BATCH)
            yield tuple({k: v[part] for k, v in d.items()} for d in (x, y, w))
    got = {"loss": [quiet_fit(model, dict_batches())["loss"][0] for _ in range(2)]}
    assert_history(got, expected, keys=["loss"])
    assert_same_weights(model, keras_model)


def test_dict_with_an_unknown_or_missing_name_is_refused_before_training():
    _, model = pair(named_two_in_two_out, seed=14)
    model.compile(optimizer="adam", loss="mse")
    x, y = two_in_two_out_data(14)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"x of model .* keyed by input names \['seq', 'side'\].*"
                                         r"missing \['side'\], unknown \['extra'\]"):
        model.fit({"seq": x["seq"], "extra": x["side"]}, y, verbose=0)
    with pytest.raises(ValueError, match=r"y of model .* keyed by output names \['price', 'trend'\]"
                                         r".*unknown \['prize'\]"):
        model.fit(x, {"prize": y["price"], "trend": y["trend"]}, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


# -- running out of data --------------------------------------------------------------------------

def test_a_used_up_generator_warns_as_keras_and_ends_training():
    _, model = pair(rnn_model, seed=14)
    model.compile(optimizer="sgd", loss="mse")
    x, y, _ = regression(14)
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        history = model.fit(batches(x, y), epochs=3, verbose=0).history
    assert len(history["loss"]) == 1  # the first epoch was all of it
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        history = model.fit(batches(x, y), epochs=3, steps_per_epoch=3, verbose=0).history
    assert len(history["loss"]) == 2  # three batches, then the last two, then none


def test_an_endless_py_dataset_needs_steps_per_epoch():
    class Endless(Batches):
        num_batches = None

        def __getitem__(self, index):
            return super().__getitem__(index % 5)
    _, model = pair(rnn_model, seed=15)
    model.compile(optimizer="sgd", loss="mse")
    x, y, _ = regression(15)
    with pytest.raises(ValueError, match=r"fit\(\) argument x is endless.*steps_per_epoch"):
        model.fit(Endless(x, y), verbose=0)
    data = Endless(x, y)
    assert len(model.fit(data, steps_per_epoch=7, epochs=2, verbose=0).history["loss"]) == 2
    assert data.requested == [i % 5 for i in range(14)]


# -- refused: clear errors, nothing trained --------------------------------------------------------

def snapshot(model):
    return [w.copy() for w in model.get_weights()], model.optimizer.iterations


def assert_unchanged(model, before):
    weights, iterations = before
    assert model.optimizer.iterations == iterations
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def trained_model(seed=16, build=rnn_model, **kwargs):
    _, model = pair(build, seed=seed, **kwargs)
    model.compile(optimizer="adam", loss="mse")
    x, y, _ = regression(seed)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    return model, x, y


def with_bad_batch(good, bad, at):
    for i, batch in enumerate(good):
        yield bad if i == at else batch


class FreeShape(Model):
    """A subclassed model: no input spec, so batches are held to the first one."""

    def __init__(self):
        super().__init__()
        self.rnn, self.head = layers.LSTM(4), layers.Dense(1)

    def call(self, inputs, training=None):
        return self.head(self.rnn(inputs))


BAD_BATCHES = [
    # (description, bad batch from (x, y), message patterns)
    ("features 2 instead of 3", lambda x, y: (x[:BATCH, :, :2], y[:BATCH]),
     [r"batch {at} of epoch 1", r"x of model", r"shape \(None, 5, 3\)", r"got \(8, 5, 2\)"]),
    ("a bare array", lambda x, y: x[:BATCH],
     [r"batch {at} of epoch 1 is ndarray of shape \(8, 5, 3\)",
      r"expected a tuple \(inputs, targets\)"]),
    ("a 4-tuple", lambda x, y: (x[:BATCH], y[:BATCH], y[:BATCH, 0], y[:BATCH, 0]),
     [r"batch {at} of epoch 1 is a tuple of 4 items"]),
    ("targets of another width", lambda x, y: (x[:BATCH], np.ones((BATCH, 2), "float32")),
     [r"batch {at} of epoch 1 has y of rank 2 with last axis 2",
      r"expected rank 2 and last axis 1, as the first batch \(shape \(8, 1\)\)"]),
    ("x and y of different lengths", lambda x, y: (x[:BATCH], y[:BATCH - 1]),
     [r"batch {at} of epoch 1", r"same number of samples", r"\[8, 7\]"]),
    ("sample weights of the wrong length", lambda x, y: (x[:BATCH], y[:BATCH], np.ones(3)),
     [r"batch {at} of epoch 1, sample_weight of model", r"one weight per sample \(8\)",
      r"shape \(3,\)"]),
]


# a first batch of another target width is the one the others are held to: refused later only
BAD_BATCH_CASES = [(*row, at) for row in BAD_BATCHES for at in (0, 2)
                   if not (row[0] == "targets of another width" and at == 0)]


@pytest.mark.parametrize("description, make, patterns, at", BAD_BATCH_CASES,
                         ids=[f"{row[0]} at batch {row[3]}" for row in BAD_BATCH_CASES])
def test_a_bad_generator_batch_is_refused_before_its_step(description, make, patterns, at):
    """At batch 0 nothing is trained; at batch 2 the weights are those after the two good steps
    (the same as a model that trained on those two alone)."""
    model, x, y = trained_model()
    reference, _, _ = trained_model()
    before = snapshot(model)
    bad = make(x, y)
    with pytest.raises(ValueError) as info:
        model.fit(with_bad_batch(batches(x, y), bad, at), epochs=1, verbose=0)
    for pattern in patterns:
        assert re.search(pattern.format(at=at), str(info.value)), \
            f"{pattern!r} not in {info.value}"
    if at == 0:
        assert_unchanged(model, before)
    else:
        reference.fit(batches(x[:2 * BATCH], y[:2 * BATCH]), epochs=1, verbose=0)
        assert_unchanged(model, snapshot(reference))


def test_inconsistent_feature_size_without_an_input_spec_names_the_first_batch():
    minirnn.set_random_seed(17)
    model = FreeShape()
    model.compile(optimizer="adam", loss="mse")
    x, y, _ = regression(17)
    wider = np.concatenate([x, x[..., :1]], axis=-1)
    good = list(batches(x, y))
    # sequences of another length are fine: bucketed batches differ in their time axis
    quiet_fit(model, iter([(x[:8, :3], y[:8]), (x[8:16], y[8:16])]))
    with pytest.raises(ValueError, match=r"batch 1 of epoch 1 has x of rank 3 with last axis 4; "
                                         r"expected rank 3 and last axis 3, as the first batch "
                                         r"\(shape \(8, 5, 3\)\)"):
        model.fit(iter([good[0], (wider[8:16], y[8:16])]), verbose=0)


def test_class_weight_naming_a_class_that_does_not_exist_is_refused_before_training():
    model, x, _ = trained_model(seed=18, units=3, activation="softmax")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    k = np.random.default_rng(18).integers(0, 3, size=N)
    before = snapshot(model)
    message = r"class_weight names classes \[3, 7\] that do not exist: .* has 3 classes \(0 to 2\)"
    with pytest.raises(ValueError, match=message):
        model.fit(x, k, class_weight={0: 1.0, 3: 2.0, 7: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.fit(batches(x, k), class_weight={0: 1.0, 3: 2.0, 7: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"class_weight must map class indices .* key 'a'"):
        model.fit(x, k, class_weight={"a": 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"class_weight and sample_weight at the same time"):
        model.fit(x, k, class_weight={0: 2.0}, sample_weight=np.ones(N), verbose=0)
    assert_unchanged(model, before)


@pytest.mark.parametrize("weights, patterns", [
    (np.ones(N - 1), [r"sample_weight of model", r"one weight per sample \(36\)", r"\(35,\)"]),
    (np.ones((N, 2)), [r"prefix of its target's shape \(36, 1\)", r"got \(36, 2\)"]),
    (np.full(N, np.nan), [r"sample_weight of model .* must be finite"]),
    (np.array(["1"] * N), [r"sample_weight of model", r"dtype <U1"]),
])
def test_bad_sample_weight_is_refused_before_training(weights, patterns):
    model, x, y = trained_model(seed=19)
    before = snapshot(model)
    for call in (lambda: model.fit(x, y, sample_weight=weights, verbose=0),
                 lambda: model.evaluate(x, y, sample_weight=weights, verbose=0)):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        for pattern in patterns:
            assert re.search(pattern, str(info.value)), str(info.value)
    assert_unchanged(model, before)


def test_targets_or_weights_beside_a_generator_are_refused():
    model, x, y = trained_model(seed=20)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"fit\(\) got y with x given as generator"):
        model.fit(batches(x, y), y, verbose=0)
    with pytest.raises(ValueError, match=r"fit\(\) got sample_weight with x given as generator"):
        model.fit(batches(x, y), sample_weight=np.ones(N), verbose=0)
    with pytest.raises(ValueError, match=r"validation_split is only supported for arrays"):
        model.fit(batches(x, y), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match=r"fit\(\) argument x yielded no batches"):
        model.fit(iter([]), verbose=0)
    with pytest.raises(TypeError, match=r"fit\(\) argument x must be arrays .* got object"):
        model.fit(object(), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data: batch 0 is ndarray"):
        model.fit(x, y, validation_data=batches(x), verbose=0)
    assert_unchanged(model, before)


# -- the weighted loss over batches of any size, by hand -------------------------------------------

@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 30), batch_size=st.integers(1, 12), seed=st.integers(0, 2 ** 16))
def test_weighted_evaluate_is_the_sample_mean_of_weighted_losses(n, batch_size, seed):
    """Batches of any size, as arrays or as a generator: sum over samples of w * loss / n."""
    rng = np.random.default_rng(seed)
    minirnn.set_random_seed(seed)
    model = Sequential([Input((D,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(n, D)).astype("float32")
    y = rng.normal(size=(n, 2)).astype("float32")
    w = rng.uniform(0, 3, size=n).astype("float32")
    kernel, bias = (a.astype(np.float64) for a in model.get_weights())
    per_sample = ((x.astype(np.float64) @ kernel + bias - y) ** 2).mean(axis=1)
    expected = float((w * per_sample).sum() / n)
    assert_rel(model.evaluate(x, y, sample_weight=w, batch_size=batch_size, verbose=0),
               expected, "arrays")
    assert_rel(model.evaluate(batches(x, y, w, size=batch_size), verbose=0), expected, "generator")


def test_weighted_metrics_come_back_with_a_loaded_model(tmp_path):
    model = minirnn.Sequential([minirnn.Input((3,)), minirnn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], weighted_metrics=["mae"])
    model.save(tmp_path / "m.npz")
    loaded = minirnn.load_model(tmp_path / "m.npz")
    assert [m.name for m in loaded.compiled_weighted_metrics] == ["mae"]
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 1), np.float32)
    w = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
    assert loaded.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True).keys() == \
        model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True).keys()
