"""Keras 3's .keras and .weights.h5 files, against Keras itself.

Each model is built by one builder that takes the library (keras or minirnn) as an argument. A
file written by one library is read by the other; the expected numbers always come from the
library that wrote it (its predictions, its weights). That the optimizer's slots landed on the
right weights is checked independently of our own bookkeeping: after loading, both libraries
take the same Adam step on the same batch, and their weights must still agree.
"""
import json
import os
import sys
import zipfile

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minirnn  # noqa: E402
from tf_helpers import assert_close, import_tf  # noqa: E402

tf = import_tf()
import h5py  # noqa: E402  (TensorFlow brings h5py and Keras 3 with it)
import keras  # noqa: E402

pytestmark = pytest.mark.tf

T, D, V, B = 5, 3, 9, 6


# -- builders: lib is the keras or the minirnn module ---------------------------------------------

def seq_stack(lib):  # two Dense layers of one class and one shape: numbering must keep them apart
    L = lib.layers
    return lib.Sequential([lib.Input((T, D)), L.LSTM(4, return_sequences=True, name="l1"),
                           L.SimpleRNN(3, go_backwards=True, name="s1"), L.Dense(3, name="d1"),
                           L.Dense(3, name="d2"), L.Dropout(0.0, name="drop"),
                           L.RepeatVector(2, name="rep"), L.GRU(2, reset_after=False, name="g1")])


def seq_masked(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((T,), dtype="int32"), L.Embedding(V, 4, mask_zero=True, name="emb"),
                           L.GRU(3, return_sequences=True, name="g1"),
                           L.Bidirectional(L.LSTM(2, return_sequences=True), name="bi"),
                           L.TimeDistributed(L.Dense(2), name="td"),
                           L.GRU(2, go_backwards=True, name="g2")])


def seq_conv(lib):  # c1's activation keeps its bias meaningful: a batch norm right after cancels it
    L = lib.layers
    return lib.Sequential([lib.Input((T + 3, D)), L.Masking(name="mask"),
                           L.Conv1D(4, 2, activation="tanh", name="c1"),
                           L.BatchNormalization(name="bn"), L.LayerNormalization(name="ln"),
                           L.MaxPooling1D(2, name="mp"), L.Conv1D(4, 2, padding="same", name="c2"),
                           L.AveragePooling1D(1, name="ap"), L.GlobalAveragePooling1D(name="gap"),
                           L.Dense(2, name="out")])


def fn_two_inputs(lib):  # shared layer, merges, attention, two outputs, two same-shape Dense
    L = lib.layers
    a = lib.Input((T, D), name="in_a")
    b = lib.Input((T, D), name="in_b")
    shared = L.LSTM(4, return_sequences=True, name="shared")
    sa, sb = shared(a), shared(b)
    att = L.Attention(name="att")([sa, sb])
    add_att = L.AdditiveAttention(name="add_att")([sb, sa])
    merged = L.Concatenate(name="cat")([att, add_att])
    summed = L.Add(name="add")([sa, sb])
    prod = L.Multiply(name="mul")([sa, sb])
    avg = L.Average(name="avg")([summed, prod])
    left = L.Dense(4, name="left")(L.GlobalMaxPooling1D(name="gmp")(merged))
    right = L.Dense(4, name="right")(L.GlobalAveragePooling1D(name="gap")(avg))
    return lib.Model([a, b], [left, right], name="two_inputs")


def fn_encoder_decoder(lib):  # return_state wiring into initial_state, masks from Embedding
    L = lib.layers
    src = lib.Input((T,), dtype="int32", name="src")
    tgt = lib.Input((T,), dtype="int32", name="tgt")
    enc_out, h, c = L.LSTM(4, return_sequences=True, return_state=True, name="enc")(
        L.Embedding(V, 3, mask_zero=True, name="src_emb")(src))
    dec = L.LSTM(4, return_sequences=True, name="dec")(
        L.Embedding(V, 3, mask_zero=True, name="tgt_emb")(tgt), initial_state=[h, c])
    context = L.Attention(name="att")([dec, enc_out])
    both = L.Concatenate(name="cat")([dec, context])
    return lib.Model([src, tgt], L.TimeDistributed(L.Dense(V), name="proj")(both), name="seq2seq")


def fn_branches(lib):  # same-class same-shape layers at different depths of two branches
    L = lib.layers
    x = lib.Input((T, D), name="x")
    deep = L.Dense(3, name="deep_b")(L.Dense(3, name="deep_a")(L.GRU(3, return_sequences=True, name="g")(x)))
    shallow = L.Dense(3, name="shallow")(L.Dense(3, name="pre")(x))
    return lib.Model(x, L.Add(name="join")([deep, shallow]), name="branches")


def _minimal_cell(lib):
    """The Keras guide's MinimalRNNCell (with a tanh), one class per library, both registered
    under one name: each library finds its own class by the name the other wrote."""
    @lib.saving.register_keras_serializable(package="tests_keras_format", name="MinimalCell")
    class MinimalCell(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="glorot_uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    initializer="orthogonal", name="recurrent")

        def call(self, inputs, states):
            h = lib.ops.tanh(lib.ops.matmul(inputs, self.kernel)
                             + lib.ops.matmul(states[0], self.recurrent_kernel))
            return h, [h]

        def get_config(self):
            return {**super().get_config(), "units": self.units}
    return MinimalCell


MINIMAL_CELL = {lib.__name__: _minimal_cell(lib) for lib in (keras, minirnn)}


def seq_rnn_cells(lib):  # RNN over a built-in cell, a stack of cells and a registered cell
    L = lib.layers
    stack = L.StackedRNNCells([L.GRUCell(3, name="c0"), L.SimpleRNNCell(3, name="c1"),
                               L.GRUCell(2, reset_after=False, name="c2"),
                               L.LSTMCell(2, name="c3")], name="cells")
    return lib.Sequential([lib.Input((T, D)),
                           L.RNN(L.LSTMCell(4, name="lc"), return_sequences=True, name="r_lstm"),
                           L.RNN(stack, return_sequences=True, name="r_stack"),
                           L.RNN(MINIMAL_CELL[lib.__name__](3, name="own"), go_backwards=True,
                                 name="r_own"),
                           L.Dense(2, name="d")])


def fn_rnn_cells_masked(lib):  # masks through RNN(cell), Bidirectional over one, a stack last
    L = lib.layers
    ids = lib.Input((T,), dtype="int32", name="ids")
    seq = L.Bidirectional(L.RNN(L.GRUCell(3, name="gc"), return_sequences=True, name="r_gru"),
                          name="bi")(L.Embedding(V, 4, mask_zero=True, name="emb")(ids))
    stack = L.StackedRNNCells([L.LSTMCell(3, name="c0"), L.LSTMCell(2, name="c1")], name="cells")
    last = L.RNN(stack, name="r_stack")(seq)
    return lib.Model(ids, L.Dense(2, name="d")(last), name="rnn_cells_masked")


def fn_masking_branch(lib):
    """Keras's mask operations (NotEqual, Any after the Masking) put pa one level deeper than
    pb1: counted without them, the four same-shape Dense layers would be numbered otherwise."""
    L = lib.layers
    x = lib.Input((T, D), name="x")
    plain = L.Dense(3, name="rb")(L.Dense(3, name="pb2")(L.Dense(3, name="pb1")(x)))
    masked = L.LSTM(3, return_sequences=True, name="ra")(
        L.Masking(name="mask")(L.Dense(3, name="pa")(x)))
    return lib.Model(x, L.Add(name="add")([plain, masked]), name="masking_branch")


CASES = {"seq_stack": seq_stack, "seq_masked": seq_masked, "seq_conv": seq_conv,
         "fn_two_inputs": fn_two_inputs, "fn_encoder_decoder": fn_encoder_decoder,
         "fn_branches": fn_branches, "seq_rnn_cells": seq_rnn_cells,
         "fn_rnn_cells_masked": fn_rnn_cells_masked, "fn_masking_branch": fn_masking_branch}


def data(name, model_inputs, outputs, seed=0):
    rng = np.random.default_rng(seed)
    xs = []
    for shape, dtype in model_inputs:
        if "int" in str(dtype):
            x = rng.integers(1, V, size=(B,) + tuple(shape[1:]))
            x[:, -2:] = 0  # padding, for the masks
            x[0] = 0  # ... and one sample masked but for its first step
            x[0, 0] = 3
            xs.append(x.astype("int32"))
        else:
            x = rng.normal(size=(B,) + tuple(shape[1:]))
            x[1, -3:] = 0  # steps a Masking layer masks
            xs.append(x.astype("float32"))
    ys = [rng.normal(size=(B,) + tuple(s[1:])).astype("float32") for s in outputs]
    return (xs[0] if len(xs) == 1 else xs), (ys[0] if len(ys) == 1 else ys)


def keras_model(name, seed):
    keras.utils.set_random_seed(seed)
    return CASES[name](keras)


def minirnn_model(name, seed):
    minirnn.random.set_random_seed(seed)
    return CASES[name](minirnn)


def arrays_of(model):
    """Inputs and output shapes of a Keras model, for data()."""
    inputs = [(tuple(t.shape), t.dtype) for t in model.inputs]
    return inputs, [tuple(t.shape) for t in model.outputs]


def predictions(model, x):
    out = model.predict(x, verbose=0)
    return out if isinstance(out, list) else [out]


def weights_by_layer(model):
    out = {}

    def walk(layer):
        for sub in layer.layers:
            if sub.weights:
                out[sub.name] = [np.asarray(w) for w in sub.get_weights()]
    walk(model)
    return out


def assert_same_weights(actual, expected):
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert len(actual[name]) == len(expected[name]), name
        for a, e in zip(actual[name], expected[name]):
            assert_close(a, e, "float32", f"layer {name}")


def assert_same_adam_slots(kmodel, mmodel):
    """Each weight's Adam moments, paired through Keras's own variable index (not through the
    order minirnn writes them in)."""
    kopt, mopt = kmodel.optimizer, mmodel.optimizer
    compared = 0
    for klayer in kmodel.layers:
        if not klayer.trainable_weights:
            continue
        mlayer = next(l for l in mmodel.layers if l.name == klayer.name)
        assert len(mlayer.trainable_weights) == len(klayer.trainable_weights), klayer.name
        for kvar, mvar in zip(klayer.trainable_weights, mlayer.trainable_weights):
            index = kopt._get_variable_index(kvar)
            for name, kslots in (("momentum", kopt._momentums), ("velocity", kopt._velocities)):
                assert_close(mopt._slot(mvar, name), kslots[index].numpy(), "float32",
                             f"{name} of {kvar.path}")
                compared += 1
    assert compared == 2 * len(kmodel.trainable_variables)


def keras_dense_step(kmodel, x, y):
    """Keras's train_on_batch with each gradient made dense before Adam sees it. Keras on
    TensorFlow hands Adam an Embedding's gradient as IndexedSlices and squares each lookup's slice
    apart (a token met k times in the batch adds the sum of k squares to its second moment, not the
    square of the sum); minirnn, as Keras on JAX or PyTorch, squares the summed gradient."""
    with tf.GradientTape() as tape:
        loss = kmodel.compute_loss(x=x, y=y, y_pred=kmodel(x, training=True), training=True)
    variables = kmodel.trainable_variables
    grads = tape.gradient(loss, variables)
    dense = [tf.convert_to_tensor(g) for g in grads]
    kmodel.optimizer.apply_gradients(zip(dense, variables))


def step_both(kmodel, mmodel, x, y):
    """One more training step in each library on the same batch."""
    keras_dense_step(kmodel, x, y)
    mmodel.train_on_batch(x, y)


# -- Keras writes, minirnn reads -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_file_loads_in_minirnn(name, tmp_path):
    kmodel = keras_model(name, seed=1)
    kmodel.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    x, y = data(name, *arrays_of(kmodel))
    kmodel.train_on_batch(x, y)  # the optimizer's slots exist and are not zero
    path = tmp_path / "k.keras"
    kmodel.save(path)
    loaded = minirnn.load_model(path)
    for got, want in zip(predictions(loaded, x), predictions(kmodel, x)):
        assert_close(got, want, "float32", name)
    assert_same_weights(weights_by_layer(loaded), weights_by_layer(kmodel))
    assert type(loaded.optimizer).__name__ == "Adam"
    assert loaded.optimizer.learning_rate == pytest.approx(0.02, rel=1e-6)
    assert loaded.optimizer.iterations == 1 and loaded.loss == "mse"
    assert_same_adam_slots(kmodel, loaded)
    step_both(kmodel, loaded, x, y)  # misplaced slots would now show in the weights
    assert_same_weights(weights_by_layer(loaded), weights_by_layer(kmodel))


@pytest.mark.parametrize("name", sorted(CASES))
def test_minirnn_file_loads_in_keras(name, tmp_path):
    kshape = keras_model(name, seed=2)  # only for the data's shapes
    x, y = data(name, *arrays_of(kshape), seed=3)
    mmodel = minirnn_model(name, seed=2)
    mmodel.compile(optimizer=minirnn.optimizers.Adam(0.02), loss="mse")
    mmodel.train_on_batch(x, y)
    path = tmp_path / "m.keras"
    mmodel.save(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        metadata = json.loads(archive.read("metadata.json"))
    assert sorted(metadata) == ["date_saved", "keras_version"]
    loaded = keras.saving.load_model(path)
    for got, want in zip(predictions(loaded, x), predictions(mmodel, x)):
        assert_close(got, want, "float32", name)
    assert_same_weights(weights_by_layer(mmodel), weights_by_layer(loaded))
    assert type(loaded.optimizer).__name__ == "Adam"
    assert float(loaded.optimizer.learning_rate.numpy()) == pytest.approx(0.02, rel=1e-6)
    assert int(loaded.optimizer.iterations.numpy()) == 1
    assert_same_adam_slots(loaded, mmodel)
    step_both(loaded, mmodel, x, y)
    assert_same_weights(weights_by_layer(mmodel), weights_by_layer(loaded))


@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_h5_both_ways(name, tmp_path):
    kmodel = keras_model(name, seed=4)
    x, _ = data(name, *arrays_of(kmodel), seed=5)
    kmodel.save_weights(tmp_path / "k.weights.h5")
    mmodel = minirnn_model(name, seed=6)
    mmodel.load_weights(tmp_path / "k.weights.h5")
    for got, want in zip(predictions(mmodel, x), predictions(kmodel, x)):
        assert_close(got, want, "float32", name)
    other = minirnn_model(name, seed=7)
    other.save_weights(tmp_path / "m.weights.h5")
    kmodel.load_weights(tmp_path / "m.weights.h5")
    for got, want in zip(predictions(kmodel, x), predictions(other, x)):
        assert_close(got, want, "float32", name)


@pytest.mark.parametrize("optimizer", ["RMSprop", "Nadam", "Adamax", "SGD"])
def test_optimizer_slots_of_other_optimizers(optimizer, tmp_path):
    kmodel = keras_model("fn_branches", seed=8)
    options = {"momentum": 0.5} if optimizer in ("SGD", "RMSprop") else {}
    kmodel.compile(optimizer=getattr(keras.optimizers, optimizer)(0.01, **options), loss="mse")
    x, y = data("fn_branches", *arrays_of(kmodel), seed=9)
    kmodel.train_on_batch(x, y)
    kmodel.save(tmp_path / "k.keras")
    loaded = minirnn.load_model(tmp_path / "k.keras")
    assert type(loaded.optimizer).__name__ == optimizer
    step_both(kmodel, loaded, x, y)
    assert_same_weights(weights_by_layer(loaded), weights_by_layer(kmodel))
    loaded.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    step_both(again, loaded, x, y)
    assert_same_weights(weights_by_layer(loaded), weights_by_layer(again))


@pytest.mark.parametrize("name", sorted(CASES))
def test_numbering_follows_keras_layer_order(name, tmp_path):
    """The weights file's groups name each layer as Keras numbers it (read back with h5py)."""
    mmodel = minirnn_model(name, seed=10)
    mmodel.save_weights(tmp_path / "m.weights.h5")
    kmodel = keras_model(name, seed=10)
    kmodel.save_weights(tmp_path / "k.weights.h5")

    def groups(path):
        found = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda p, o: found.setdefault(p, (o.attrs.get("name"), sorted(o)))
                         if p.endswith("vars") else None)
        return found
    ours, theirs = groups(tmp_path / "m.weights.h5"), groups(tmp_path / "k.weights.h5")
    assert sorted(ours) == sorted(theirs)
    for path in theirs:
        # Keras's backward copy keeps the forward cell's name, minirnn's gets one of its own;
        # a name attribute is never read back, only the path and the datasets count
        if "backward_layer/cell" not in path:
            assert ours[path] == theirs[path], path
        assert ours[path][1] == theirs[path][1], path


def test_compile_without_fit_and_uncompiled(tmp_path):
    mmodel = minirnn_model("seq_stack", seed=11)
    mmodel.save(tmp_path / "plain.keras")
    assert getattr(keras.saving.load_model(tmp_path / "plain.keras"), "optimizer", None) is None
    mmodel.compile(optimizer="rmsprop", loss="mae")
    mmodel.save(tmp_path / "compiled.keras")
    loaded = keras.saving.load_model(tmp_path / "compiled.keras")
    assert type(loaded.optimizer).__name__ == "RMSprop" and loaded.loss == "mae"


# -- ModelCheckpoint -------------------------------------------------------------------------------

def test_model_checkpoint_writes_keras_files(tmp_path):
    mmodel = minirnn_model("seq_stack", seed=12)
    mmodel.compile(optimizer="adam", loss="mse")
    kshape = keras_model("seq_stack", seed=12)
    x, y = data("seq_stack", *arrays_of(kshape), seed=13)
    whole = minirnn.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"))
    weights = minirnn.callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch}.weights.h5"),
                                                save_weights_only=True)
    mmodel.fit(x, y, epochs=2, verbose=0, callbacks=[whole, weights])
    loaded = keras.saving.load_model(tmp_path / "m-2.keras")
    assert_close(predictions(loaded, x)[0], mmodel.predict(x), "float32")
    kshape.load_weights(tmp_path / "w-2.weights.h5")
    assert_close(predictions(kshape, x)[0], mmodel.predict(x), "float32")


@pytest.mark.parametrize("path, weights_only", [("m.weights.h5", False), ("m.h5", False),
                                                ("w.keras", True), ("w.txt", True)])
def test_model_checkpoint_refuses_wrong_extension(path, weights_only, tmp_path):
    with pytest.raises(ValueError, match="ModelCheckpoint"):
        minirnn.callbacks.ModelCheckpoint(str(tmp_path / path), save_weights_only=weights_only)


# -- bad input -------------------------------------------------------------------------------------

def small_model():
    L = minirnn.layers
    return minirnn.Sequential([minirnn.Input((T, D)), L.LSTM(3, name="l"), L.Dense(2, name="d")])


def test_unknown_extension_in_save_is_refused(tmp_path):
    model = small_model()
    for name in ("model.txt", "model", "model.h5"):
        with pytest.raises(ValueError, match="'.keras'"):
            model.save(tmp_path / name)
        assert not (tmp_path / name).exists()
    model.save(tmp_path / "model.npz")  # minirnn's own format still works
    assert (tmp_path / "model.npz").exists()


@pytest.mark.parametrize("action", ["save", "load_model", "save_weights", "load_weights"])
def test_missing_h5py_says_how_to_install(action, tmp_path, monkeypatch):
    model = small_model()
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    calls = {"save": lambda: model.save(tmp_path / "new.keras"),
             "load_model": lambda: minirnn.load_model(tmp_path / "m.keras"),
             "save_weights": lambda: model.save_weights(tmp_path / "new.weights.h5"),
             "load_weights": lambda: model.load_weights(tmp_path / "m.weights.h5")}
    with pytest.raises(ImportError, match=r'pip install "minirnn\[h5\]"'):
        calls[action]()
    model.save(tmp_path / "still.npz")  # .npz needs NumPy alone


def _rewrite_config(path, change):
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for n, content in members.items():
            archive.writestr(n, content)


def test_unknown_keras_layer_class_is_named(tmp_path):
    keras.utils.set_random_seed(14)
    kmodel = keras.Sequential([keras.Input((T, D)), keras.layers.LSTM(3),
                               keras.layers.UnitNormalization(), keras.layers.Dense(2)])
    kmodel.save(tmp_path / "k.keras")
    with pytest.raises(ValueError, match="UnitNormalization"):
        minirnn.load_model(tmp_path / "k.keras")


def test_keras_module_is_never_imported(tmp_path):
    small_model().save(tmp_path / "m.keras")
    marker = tmp_path / "imported.txt"
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")

    def plant(config):
        layer = config["config"]["layers"][1]
        layer.update(module="evil_module", class_name="Evil", registered_name="evil_module>Evil")
    _rewrite_config(tmp_path / "m.keras", plant)
    sys.path.insert(0, str(tmp_path))
    try:
        for safe_mode in (True, False):
            with pytest.raises(ValueError, match="Evil"):
                minirnn.load_model(tmp_path / "m.keras", safe_mode=safe_mode)
    finally:
        sys.path.remove(str(tmp_path))
    assert not marker.exists()


def test_registered_class_and_custom_objects_serve_keras_files(tmp_path):
    @minirnn.saving.register_keras_serializable(package="tests_keras_format")
    class Doubler(minirnn.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0
    model = minirnn.Sequential([minirnn.Input((D,)), Doubler(name="twice"),
                                minirnn.layers.Dense(2, name="d")])
    model.save(tmp_path / "m.keras")
    x = np.ones((2, D), "float32")
    np.testing.assert_array_equal(minirnn.load_model(tmp_path / "m.keras").predict(x), model.predict(x))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no_weights", "bad_json"])
def test_truncated_or_corrupt_keras_file_is_named(damage, tmp_path):
    path = tmp_path / "m.keras"
    small_model().save(path)
    content = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(content[: len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip at all" * 10)
    elif damage == "no_weights":
        with zipfile.ZipFile(path) as archive:
            config = archive.read("config.json")
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", config)
    else:
        with zipfile.ZipFile(path) as archive:
            weights = archive.read("model.weights.h5")
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{not json")
            archive.writestr("model.weights.h5", weights)
    with pytest.raises(ValueError, match="m.keras"):
        minirnn.load_model(path)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_truncated_or_corrupt_weights_file_is_named(damage, tmp_path):
    path = tmp_path / "w.weights.h5"
    model = small_model()
    model.save_weights(path)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2] if damage == "truncate" else b"\0" * 4000)
    before = model.get_weights()
    with pytest.raises(ValueError, match="w.weights.h5"):
        model.load_weights(path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_load_weights_mismatch_leaves_weights_unchanged(tmp_path):
    L = minirnn.layers
    bigger = minirnn.Sequential([minirnn.Input((T, D)), L.LSTM(4, name="l"), L.Dense(2, name="d")])
    bigger.save_weights(tmp_path / "big.weights.h5")
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"big.weights.h5.*shapes"):
        model.load_weights(tmp_path / "big.weights.h5")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    extra = minirnn.Sequential([minirnn.Input((T, D)), L.LSTM(3, name="l"), L.Dense(2, name="d"),
                                L.Dense(2, name="e")])
    extra.save_weights(tmp_path / "extra.weights.h5")
    with pytest.raises(ValueError, match="does not match"):
        model.load_weights(tmp_path / "extra.weights.h5")


def test_atomic_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    model = small_model()
    model.save(path)
    original = path.read_bytes()
    from minirnn.saving import keras_format

    def failing_writestr(self, *args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="disk full"):
        small_model().save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]
    assert keras_format.is_keras_file(path)


def test_minirnn_only_options_warn_and_are_left_out(tmp_path):
    L = minirnn.layers
    model = minirnn.Sequential([minirnn.Input((T, D)), L.LSTM(3, recompute=True, truncate_bptt=2,
                                                              name="l")])
    with pytest.warns(UserWarning, match=r"recompute=True.*truncate_bptt=2|truncate_bptt=2.*recompute"):
        model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        config = json.loads(archive.read("config.json"))
    lstm = config["config"]["layers"][1]["config"]
    assert not {"recompute", "truncate_bptt", "bptt"} & set(lstm)
    x = np.random.default_rng(0).normal(size=(2, T, D)).astype("float32")
    assert_close(predictions(keras.saving.load_model(tmp_path / "m.keras"), x)[0],
                 model.predict(x), "float32")


def test_minirnn_layer_without_keras_counterpart_is_refused(tmp_path):
    model = minirnn.Sequential([minirnn.Input((T, D)),
                                minirnn.layers.Lambda(np.tanh if False else minirnn.ops.tanh)])
    with pytest.raises(ValueError, match="Lambda"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


# -- TextVectorization: the vocabulary travels as Keras's assets -----------------------------------

TEXTS = ["The cat sat on the mat.", "the DOG ran far; the cat ran!", "a cat and a dog",
         "It's the END", "école ÉCOLE Ünïcode", "zeta zeta alpha"]
QUERIES = np.array([["the cat and the dog"], ["unknown words, NOT seen"], [""], ["école"],
                    ["zeta alpha alpha mat"]], dtype=object)
TEXT_MODES = {"int": {"output_sequence_length": 6}, "multi_hot": {}, "tf_idf": {},
              "given": {"vocabulary": ["cat", "dog", "the", "école"]}}


def text_model(lib, mode, texts=TEXTS):
    """Text in, a TextVectorization (adapted to `texts`, or with a vocabulary given), then an
    Embedding and an LSTM over the ids (modes "int", "given") or a Dense over the vector."""
    L = lib.layers
    options = dict(TEXT_MODES[mode])
    output_mode = "int" if mode == "given" else mode
    vectorizer = L.TextVectorization(max_tokens=24, output_mode=output_mode, name="tv", **options)
    if "vocabulary" not in options:
        vectorizer.adapt(texts)
    text = lib.Input((1,), dtype="string", name="text")
    x = vectorizer(text)
    if output_mode == "int":
        x = L.LSTM(3, name="rnn")(L.Embedding(24, 4, mask_zero=True, name="emb")(x))
    return lib.Model(text, L.Dense(2, name="d")(x), name="text_model")


def vectorizer_of(model):
    return next(l for l in model.layers if type(l).__name__ == "TextVectorization")


def assert_same_text_models(ours, theirs):
    assert vectorizer_of(ours).get_vocabulary() == \
        [str(t) for t in vectorizer_of(theirs).get_vocabulary()]
    expected = np.asarray(theirs(tf.constant(QUERIES.astype(str))))  # Keras's predict takes no str
    assert_close(ours.predict(QUERIES, verbose=0), expected, "float32")


def assets_of(path):
    with zipfile.ZipFile(path) as archive:
        return sorted(n for n in archive.namelist() if n.startswith("assets/"))


def expected_assets(mode):
    """Where Keras keeps a learned vocabulary: for the layer and for its inner StringLookup."""
    return [] if mode == "given" else \
        ["assets/layers/text_vectorization/_lookup_layer/vocabulary.txt",
         "assets/layers/text_vectorization/vocabulary.txt"]


@pytest.mark.parametrize("mode", sorted(TEXT_MODES))
def test_keras_text_model_loads_in_minirnn(mode, tmp_path):
    keras.utils.set_random_seed(20)
    kmodel = text_model(keras, mode)
    kmodel.save(tmp_path / "k.keras")
    assert assets_of(tmp_path / "k.keras") == expected_assets(mode)  # Keras's own layout
    loaded = minirnn.load_model(tmp_path / "k.keras")
    assert_same_text_models(loaded, kmodel)
    if mode == "int":  # a learned vocabulary may be learned again, as in Keras
        vectorizer_of(loaded).adapt(["new words only"])
        assert vectorizer_of(loaded).get_vocabulary()[-3:] == ["words", "only", "new"]


@pytest.mark.parametrize("mode", sorted(TEXT_MODES))
def test_minirnn_text_model_loads_in_keras(mode, tmp_path):
    minirnn.random.set_random_seed(21)
    mmodel = text_model(minirnn, mode)
    mmodel.save(tmp_path / "m.keras")
    assert assets_of(tmp_path / "m.keras") == expected_assets(mode)
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert_same_text_models(mmodel, loaded)
    again = minirnn.load_model(tmp_path / "m.keras")  # and back
    assert_same_text_models(again, loaded)


@pytest.mark.parametrize("mode", sorted(TEXT_MODES))
def test_text_model_weights_h5_both_ways(mode, tmp_path):
    """A weights file holds no vocabulary: both models learn theirs from the same texts."""
    keras.utils.set_random_seed(22)
    kmodel = text_model(keras, mode)
    kmodel.save_weights(tmp_path / "k.weights.h5")
    mmodel = text_model(minirnn, mode)
    mmodel.load_weights(tmp_path / "k.weights.h5")
    assert_same_text_models(mmodel, kmodel)
    minirnn.random.set_random_seed(23)
    other = text_model(minirnn, mode)
    other.save_weights(tmp_path / "m.weights.h5")
    kmodel.load_weights(tmp_path / "m.weights.h5")
    assert_same_text_models(other, kmodel)


def test_text_model_file_without_its_vocabulary_is_named(tmp_path):
    text_model(minirnn, "int").save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        members = {n: archive.read(n) for n in archive.namelist() if "vocabulary" not in n}
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as archive:
        for n, content in members.items():
            archive.writestr(n, content)
    with pytest.raises(ValueError, match=r"m\.keras.*vocabulary\.txt.*'tv'"):
        minirnn.load_model(tmp_path / "m.keras")
