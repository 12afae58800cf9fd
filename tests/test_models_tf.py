"""Models against Keras 3: the same initial weights, the same data, the same History.

Each model is built twice, once with keras and once with minirnn, from one builder that takes the
library as an argument, with the same layer names; Keras's initial weights are copied into minirnn
(`set_weights(keras_model.get_weights())`), and then both are trained, summarised and asked to
predict. The expected numbers always come from Keras.
"""
import ast
import os
import re

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minirnn  # noqa: E402
from tf_helpers import import_tf  # noqa: E402

tf = import_tf()
import keras  # noqa: E402  (TensorFlow brings Keras 3 with it)

pytestmark = pytest.mark.tf

T, D, K = 6, 3, 4
N, N_VAL, BATCH = 45, 13, 8  # 45 = 5 * 8 + 5: every epoch ends with a partial batch


# -- builders: lib is the keras or the minirnn module ---------------------------------------------

def sequential_rnn(rnn, units=5):
    def build(lib):
        return lib.Sequential([lib.Input((T, D)), getattr(lib.layers, rnn)(units, name="rnn"),
                               lib.layers.Dense(1, name="head")])
    return build


def two_inputs_with_state_list(lib):
    """Two inputs; an LSTM's [output, h, c] list, of which output and c feed a Concatenate."""
    ly = lib.layers
    seq, side = lib.Input((T, D), name="seq"), lib.Input((2,), name="side")
    out, h, c = ly.LSTM(5, return_state=True, name="rnn")(seq)
    z = ly.Concatenate(name="concat")([out, c, side])
    z = ly.Dense(6, activation="tanh", name="hidden")(z)
    return lib.Model([seq, side], ly.Dense(K, activation="softmax", name="head")(z))


def shared_rnn(lib):
    """One GRU read at two places: its weights exist (and are counted) once."""
    ly = lib.layers
    a, b = lib.Input((T, D), name="left"), lib.Input((T, D), name="right")
    rnn = ly.GRU(4, name="shared_rnn")
    z = ly.Concatenate(name="concat")([rnn(a), rnn(b)])
    return lib.Model([a, b], ly.Dense(1, name="head")(z))


def gru_classifier(lib):
    ly = lib.layers
    return lib.Sequential([lib.Input((T, D)), ly.GRU(6, return_sequences=True, name="rnn1"),
                           ly.SimpleRNN(4, name="rnn2"),
                           ly.Dense(K, activation="softmax", name="head")])


def bidirectional(lib):
    ly = lib.layers
    inp = lib.Input((T, D))
    z = ly.Bidirectional(ly.LSTM(4, return_sequences=True), name="bi_concat")(inp)
    z = ly.Bidirectional(ly.GRU(3), merge_mode="sum", name="bi_sum")(z)
    return lib.Model(inp, ly.Dense(1, name="head")(z))


def embedding_lstm(lib):
    ly = lib.layers
    return lib.Sequential([lib.Input((T,), dtype="int32"),
                           ly.Embedding(20, 5, mask_zero=True, name="embed"),
                           ly.LSTM(4, name="rnn"), ly.Dense(2, name="head")])


def embedding_bidirectional(lib):
    ly = lib.layers
    ids = lib.Input((T,), dtype="int32")
    z = ly.Embedding(20, 4, mask_zero=True, name="embed")(ids)
    z = ly.Bidirectional(ly.GRU(3, return_sequences=True), name="bi")(z)
    z = ly.LSTM(3, name="rnn")(z)
    return lib.Model(ids, ly.Dense(1, name="head")(z))


# -- data ------------------------------------------------------------------------------------------

def regression_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N + N_VAL, T, D)).astype("float32")
    y = np.sin(x.sum(axis=(1, 2)) / 2)[:, None].astype("float32")
    return (x[:N], y[:N]), (x[N:], y[N:])


def paired_data(seed):
    (x, y), (xv, yv) = regression_data(seed)
    (x2, _), (xv2, _) = regression_data(seed + 100)
    return ([x, x2], y - np.sin(x2.sum(axis=(1, 2)))[:, None]), \
        ([xv, xv2], yv - np.sin(xv2.sum(axis=(1, 2)))[:, None])


def classification_data(seed, side=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N + N_VAL, T, D)).astype("float32")
    y = (np.digitize(x[:, :, 0].sum(axis=1), [-1.5, 0.0, 1.5])).astype("int64")  # 4 classes
    if side:
        s = rng.normal(size=(N + N_VAL, 2)).astype("float32")
        return ([x[:N], s[:N]], y[:N]), ([x[N:], s[N:]], y[N:])
    return (x[:N], y[:N]), (x[N:], y[N:])


def token_ids(n, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 20, size=(n, T))
    lengths = rng.integers(1, T + 1, size=n)
    ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return ids.astype("int32")


def masked_tagger(lib):
    """Per-timestep classes over padded id sequences: the mask reaches the loss and the metric."""
    ly = lib.layers
    return lib.Sequential([lib.Input((T,), dtype="int32"), ly.Embedding(20, 4, mask_zero=True, name="embed"),
                           ly.LSTM(5, return_sequences=True, name="rnn"),
                           ly.Dense(K, activation="softmax", name="head")])


def tagging_data(seed):
    ids = token_ids(N + N_VAL, seed)
    tags = (ids % K).astype("int64")
    return (ids[:N], tags[:N]), (ids[N:], tags[N:])


def pair(build, seed=0):
    """(keras model, minirnn model) with minirnn holding Keras's initial weights."""
    keras.utils.set_random_seed(seed)
    keras_model = build(keras)
    model = build(minirnn)
    model.set_weights(keras_model.get_weights())
    return keras_model, model


# -- fit: History against Keras ---------------------------------------------------------------------

FIT_CASES = [
    # id, builder, data, optimizer (class name, kwargs), loss, metrics
    ("simplernn-adam", sequential_rnn("SimpleRNN"), regression_data,
     ("Adam", {"learning_rate": 0.01}), "mse", ["mae"]),
    ("lstm-sgd-momentum", sequential_rnn("LSTM"), regression_data,
     ("SGD", {"learning_rate": 0.05, "momentum": 0.9}), "mse", []),
    ("gru-rmsprop", sequential_rnn("GRU"), regression_data,
     ("RMSprop", {"learning_rate": 0.005}), "mean_absolute_error", ["mse"]),
    ("functional-two-inputs-classifier-adam", two_inputs_with_state_list,
     lambda seed: classification_data(seed, side=True),
     ("Adam", {"learning_rate": 0.02}), "sparse_categorical_crossentropy", ["accuracy"]),
    ("shared-gru-adam", shared_rnn, paired_data, ("Adam", {"learning_rate": 0.01}), "mse", ["mae"]),
    ("gru-classifier-sgd-momentum", gru_classifier, classification_data,
     ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "nesterov": True}),
     "sparse_categorical_crossentropy", ["accuracy"]),
    # SGD here: Keras on TensorFlow squares an Embedding's sparse gradient per occurrence in
    # Adam/RMSprop (sum of squares for a repeated id); minirnn's gradients are dense, as on Keras's
    # JAX and PyTorch backends
    ("masked-tagger-sgd", masked_tagger, tagging_data, ("SGD", {"learning_rate": 0.5, "momentum": 0.9}),
     "sparse_categorical_crossentropy", ["accuracy"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("build, make_data, optimizer, loss, metrics",
                         [case[1:] for case in FIT_CASES], ids=[case[0] for case in FIT_CASES])
def test_fit_history_matches_keras(build, make_data, optimizer, loss, metrics):
    (x, y), (xv, yv) = make_data(1)
    keras_model, model = pair(build, seed=2)
    name, kwargs = optimizer
    keras_model.compile(optimizer=getattr(keras.optimizers, name)(**kwargs), loss=loss,
                        metrics=list(metrics))
    model.compile(optimizer=getattr(minirnn.optimizers, name)(**kwargs), loss=loss,
                  metrics=list(metrics))
    fit = dict(epochs=5, batch_size=BATCH, shuffle=False, verbose=0, validation_data=(xv, yv))
    expected = keras_model.fit(x, y, **fit).history
    got = model.fit(x, y, **fit).history
    assert set(got) == set(expected)
    for key in expected:
        assert len(got[key]) == 5, key
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-4, atol=1e-7, err_msg=key)
    # the losses moved: the comparison is not between two untrained models
    assert expected["loss"][-1] < expected["loss"][0]
    np.testing.assert_allclose(model.predict(xv), keras_model.predict(xv, verbose=0),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(xv, yv, batch_size=BATCH, verbose=0),
                               keras_model.evaluate(xv, yv, batch_size=BATCH, verbose=0),
                               rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_fit_with_validation_split_matches_keras():
    (x, y), _ = regression_data(3)
    keras_model, model = pair(sequential_rnn("LSTM", units=4), seed=4)
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse",
                        metrics=["mae"])
    model.compile(optimizer=minirnn.optimizers.Adam(learning_rate=0.01), loss="mse",
                  metrics=["mae"])
    fit = dict(epochs=3, batch_size=7, shuffle=False, verbose=0, validation_split=0.3)
    expected = keras_model.fit(x, y, **fit).history
    got = model.fit(x, y, **fit).history
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-4, atol=1e-7, err_msg=key)


# -- summary: parameter counts ----------------------------------------------------------------------

SUMMARY_CASES = [
    ("simplernn", sequential_rnn("SimpleRNN")),
    ("lstm", sequential_rnn("LSTM")),
    ("gru", sequential_rnn("GRU")),
    ("functional-two-inputs", two_inputs_with_state_list),
    ("shared-gru", shared_rnn),
    ("gru-classifier", gru_classifier),
    ("bidirectional", bidirectional),
    ("embedding-lstm", embedding_lstm),
    ("embedding-bidirectional", embedding_bidirectional),
]

_ROW = re.compile(r"^ (\S+) \((\w+)\)\s+(\(.*?\)|\[.*?\])\s+(\d+)$")


def parse_summary(lines):
    """{layer name: (class name, output shape, params)} and the three totals."""
    rows, totals = {}, {}
    for line in lines:
        match = _ROW.match(line)
        if match:
            name, cls, shape, params = match.groups()
            assert name not in rows, f"layer {name} listed twice (Keras lists each layer once)"
            rows[name] = (cls, ast.literal_eval(shape), int(params))
        match = re.match(r"^(Total|Trainable|Non-trainable) params: (\d+)", line)
        if match:
            totals[match.group(1)] = int(match.group(2))
    return rows, totals


@pytest.mark.parametrize("build", [c[1] for c in SUMMARY_CASES], ids=[c[0] for c in SUMMARY_CASES])
def test_summary_counts_match_keras(build):
    keras_model, model = pair(build)
    lines = []
    model.summary(print_fn=lines.append)
    rows, totals = parse_summary(lines)
    # one row per entry of Keras's model.layers, in its order: a functional model's InputLayers
    # too (named by each library's own counter, so only their class, shape and count compare)
    assert [cls for cls, _, _ in rows.values()] == [type(l).__name__ for l in keras_model.layers]
    for (name, (cls, shape, params)), layer in zip(rows.items(), keras_model.layers):
        if cls != "InputLayer":
            assert name == layer.name
        assert params == layer.count_params(), name
        keras_shape = [tuple(o.shape) for o in layer._inbound_nodes[-1].outputs]
        assert (list(shape) if isinstance(shape, list) else [shape]) == keras_shape, name
    assert totals["Total"] == keras_model.count_params()
    assert totals["Trainable"] == sum(int(np.prod(w.shape)) for w in keras_model.trainable_weights)
    assert totals["Non-trainable"] == sum(int(np.prod(w.shape))
                                          for w in keras_model.non_trainable_weights)
    assert model.count_params() == keras_model.count_params()
    # Keras's own summary agrees too (its totals line, captured the same way)
    keras_lines = []
    keras_model.summary(print_fn=lambda line, **kwargs: keras_lines.append(line))
    keras_total = re.search(r"Total params: ([\d,]+)", "\n".join(keras_lines)).group(1)
    assert int(keras_total.replace(",", "")) == totals["Total"]


# -- predict --------------------------------------------------------------------------------------

PREDICT_CASES = SUMMARY_CASES


def inputs_for(build, n, seed):
    rng = np.random.default_rng(seed)
    if build in (embedding_lstm, embedding_bidirectional):
        return token_ids(n, seed)
    x = rng.normal(size=(n, T, D)).astype("float32")
    if build is two_inputs_with_state_list:
        return [x, rng.normal(size=(n, 2)).astype("float32")]
    if build is shared_rnn:
        return [x, rng.normal(size=(n, T, D)).astype("float32")]
    return x


@pytest.mark.parametrize("build", [c[1] for c in PREDICT_CASES], ids=[c[0] for c in PREDICT_CASES])
def test_predict_matches_keras(build):
    keras_model, model = pair(build, seed=5)
    # weights further from the initialisers' (a zero bias hides bias mistakes)
    rng = np.random.default_rng(6)
    weights = [w + rng.normal(scale=0.3, size=w.shape).astype(w.dtype)
               for w in keras_model.get_weights()]
    keras_model.set_weights(weights)
    model.set_weights(weights)
    x = inputs_for(build, 11, seed=7)
    expected = keras_model.predict(x, batch_size=4, verbose=0)
    got = model.predict(x, batch_size=4)
    assert got.shape == expected.shape and got.dtype == np.float32
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * scale)


# -- EarlyStopping's decisions, driven by hand on both sides -----------------------------------------

class _FakeModel:
    """What EarlyStopping touches: stop_training and the weights (here: the epoch that set them)."""

    def __init__(self):
        self.stop_training, self.epoch = False, -1

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.epoch = int(weights[0])


EARLY_STOPPING_CASES = [
    ([5.0, 3.0, 4.0, 2.0, 2.5, 2.6, 2.7, 1.0], dict(patience=3, mode="min")),
    ([1.0, 0.95, 0.92, 0.91, 0.5, 0.4], dict(patience=2, min_delta=0.1, mode="min")),
    ([0.1, 0.3, 0.2, 0.9, 0.8, 0.85, 0.95], dict(patience=1, mode="max")),
    ([0.1, 0.3, 0.35, 0.2, 0.1], dict(patience=2, mode="max", min_delta=0.1)),
    ([1.0, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3], dict(patience=2, mode="min", baseline=0.5)),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dict(patience=1, mode="min", start_from_epoch=2)),
    ([3.0, 2.0, 2.0, 1.0], dict(patience=0, mode="min")),
    ([3.0, 3.0, 3.0, 3.0], dict(patience=2, mode="min")),
]


@pytest.mark.parametrize("restore", [False, True], ids=["keep-last", "restore-best"])
@pytest.mark.parametrize("values, kwargs", EARLY_STOPPING_CASES,
                         ids=[str(i) for i in range(len(EARLY_STOPPING_CASES))])
def test_early_stopping_decides_as_keras(values, kwargs, restore):
    outcomes = []
    for lib in (keras, minirnn):
        model = _FakeModel()
        stop = lib.callbacks.EarlyStopping(monitor="score", restore_best_weights=restore, **kwargs)
        stop.set_model(model)
        stop.on_train_begin()
        for epoch, value in enumerate(values):
            model.epoch = epoch
            stop.on_epoch_end(epoch, {"score": value})
            if model.stop_training:
                break
        stop.on_train_end()
        outcomes.append({"epochs run": epoch + 1, "stopped_epoch": stop.stopped_epoch,
                         "best_epoch": stop.best_epoch, "weights of epoch": model.epoch,
                         "best": float(stop.best)})
    assert outcomes[1] == outcomes[0]
