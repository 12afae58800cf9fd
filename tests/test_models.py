"""Models without TensorFlow: saving, errors that lose nothing, callbacks, the functional API and a
user-written layer.

Every expected value comes from somewhere other than the code under test's own printout: NumPy
formulas over `predict`'s outputs, hand-derived gradients, finite differences, or a second,
independently stepped run (train_on_batch one batch at a time) of the same model.
"""
import os
import re

import numpy as np
import pytest

import minirnn
from minirnn import Input, Model, Sequential, callbacks, load_model, ops
from minirnn import optimizers
from minirnn.layers import (LSTM, GRU, Add, Bidirectional, Concatenate, Dense, Embedding, Layer,
                            SimpleRNN)
from minirnn.models import NonFiniteLossError

T, D = 5, 3


def data(n=20, seed=0, t=T, d=D, outputs=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, d)).astype("float32")
    y = np.tanh(x.sum(axis=(1, 2)) / 3)[:, None].repeat(outputs, axis=1).astype("float32")
    return x, y


def lstm_model(units=4, seed=0, rnn=LSTM):
    minirnn.set_random_seed(seed)
    return Sequential([Input((T, D)), rnn(units), Dense(1)])


def functional_model(seed=0):
    """Two inputs; the LSTM's [output, h, c] list feeds a Concatenate."""
    minirnn.set_random_seed(seed)
    a, b = Input((T, D)), Input((2,))
    out, h, c = LSTM(4, return_state=True)(a)
    z = Concatenate()([out, c, b])
    return Model([a, b], Dense(1)(z))


def embedding_model(seed=0):
    minirnn.set_random_seed(seed)
    return Sequential([Input((7,), dtype="int32"), Embedding(12, 4, mask_zero=True), LSTM(5),
                       Dense(2)])


def bidirectional_model(seed=0):
    minirnn.set_random_seed(seed)
    inp = Input((T, D))
    z = Bidirectional(GRU(3, return_sequences=True))(inp)
    z = Bidirectional(SimpleRNN(2), merge_mode="sum")(z)
    return Model(inp, Dense(1)(z))


def padded_ids(n=10, seed=1):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 12, size=(n, 7))
    lengths = rng.integers(1, 8, size=n)
    ids[np.arange(7)[None, :] >= lengths[:, None]] = 0  # zero padding at the end of each row
    return ids


def mse(pred, y):
    return float(np.mean((np.asarray(pred, np.float64) - y) ** 2))


def mae(pred, y):
    return float(np.mean(np.abs(np.asarray(pred, np.float64) - y)))


def assert_weights_equal(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)


def manual_steps(model, x, y, batch_size, steps):
    """Train `model` on the first `steps` batches (in order), one train_on_batch call each;
    returns the losses. Stops early (returning what it has) at the first non-finite batch."""
    losses, n = [], len(x)
    per_epoch = -(-n // batch_size)
    for step in range(steps):
        start = (step % per_epoch) * batch_size
        try:
            losses.append(model.train_on_batch(x[start:start + batch_size], y[start:start + batch_size]))
        except NonFiniteLossError:
            return losses, step
    return losses, None


# -- save / load -----------------------------------------------------------------------------------

@pytest.mark.parametrize("build, inputs", [
    (lstm_model, lambda: data(9)[0]),
    (functional_model, lambda: [data(9)[0], np.random.default_rng(3).normal(size=(9, 2))]),
    (embedding_model, lambda: padded_ids()),
    (bidirectional_model, lambda: data(9)[0]),
], ids=["sequential", "functional-two-inputs-state-list", "embedding-mask-lstm", "bidirectional"])
def test_save_and_load_model_round_trip_predictions_exactly(tmp_path, build, inputs):
    model = build()
    x = inputs()
    model.compile(optimizer="adam", loss="mse")
    # train a little so the weights are not the initial ones another seed could reproduce
    n = len(x[0]) if isinstance(x, list) else len(x)
    y = np.random.default_rng(4).normal(size=(n,) + model.outputs[0].shape[1:]).astype("float32")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    expected = model.predict(x)
    path = tmp_path / "model.npz"
    model.save(path)
    minirnn.set_random_seed(123)  # the loaded model must not depend on fresh initialisation
    loaded = load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(x), expected)
    assert_weights_equal(loaded.get_weights(), model.get_weights())
    assert [w.shape for w in loaded.weights] == [w.shape for w in model.weights]


def test_embedding_mask_survives_saving(tmp_path):
    """Padding after the real tokens changes nothing, before and after a round trip (the mask is
    rebuilt by the loaded model, not baked into numbers)."""
    model = embedding_model()
    ids = padded_ids()
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    for m in (model, loaded):
        batch = m.predict(ids)
        # a model that ignored the mask would read the zeros as tokens: the output of each row
        # must equal that of a model given the row's real tokens alone, with no padding at all
        for row in range(len(ids)):
            real = ids[row][ids[row] != 0]
            alone = Sequential([Input((len(real),), dtype="int32"), *m.layers]).predict(real[None])
            np.testing.assert_allclose(batch[row], alone[0], rtol=1e-5, atol=1e-6)


def test_save_weights_load_weights_round_trip_and_keep_training(tmp_path):
    x, y = data(20)
    model = lstm_model(seed=1)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    other = lstm_model(seed=2)
    assert not all(np.array_equal(a, b) for a, b in zip(other.get_weights(), model.get_weights()))
    other.load_weights(path)
    assert_weights_equal(other.get_weights(), model.get_weights())
    np.testing.assert_array_equal(other.predict(x), model.predict(x))

    # both keep training from here, in step: same optimizer rule, same data, same weights
    other.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="mse")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="mse")
    h1 = other.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    h2 = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert h1 == h2
    assert h1[-1] < h1[0]


def test_loaded_model_keeps_training_like_the_original(tmp_path):
    """load_model restores the compile settings; training it equals training a fresh compile of
    the original (the optimizer starts anew, as the file holds no optimizer state)."""
    x, y = data(20)
    model = lstm_model(seed=3)
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.optimizer is not None and isinstance(loaded.optimizer, optimizers.RMSprop)
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    h_loaded = loaded.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    h_orig = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    assert h_loaded == h_orig
    assert h_loaded["loss"][-1] < h_loaded["loss"][0]
    assert_weights_equal(loaded.get_weights(), model.get_weights())


def test_subclassed_model_saves_weights_but_not_a_config(tmp_path):
    model = TwoLayer()
    x, _ = data(6)
    model.predict(x)
    model.save_weights(tmp_path / "w.npz")
    other = TwoLayer(seed=9)
    other.predict(x)
    other.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.save(tmp_path / "m.npz")


# -- bad input: a clear error, nothing lost ----------------------------------------------------------

def test_fit_with_x_and_y_of_different_lengths_names_both_counts():
    model = lstm_model()
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()
    x, y = data(10)
    with pytest.raises(ValueError) as info:
        model.fit(x, y[:7], epochs=1, verbose=0)
    message = str(info.value)
    assert "10" in message and "7" in message
    assert_weights_equal(model.get_weights(), before)
    with pytest.raises(ValueError, match="10.*7|7.*10"):
        model.fit(x, y, validation_data=(x, y[:7]), epochs=1, verbose=0)
    assert_weights_equal(model.get_weights(), before)


@pytest.mark.parametrize("kwargs, known", [
    ({"optimizer": "adamm"}, ["adam", "sgd", "rmsprop"]),
    ({"loss": "mean_sqared_error"}, ["mean_squared_error", "mse", "binary_crossentropy"]),
    ({"metrics": ["mae", "accuarcy"]}, ["accuracy", "mae"]),
], ids=["optimizer", "loss", "metric"])
def test_unknown_names_in_compile_list_known_ones_and_keep_previous_compile(kwargs, known):
    x, y = data(16)
    model = lstm_model(seed=4)
    twin = lstm_model(seed=4)
    for m in (model, twin):
        m.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    optimizer, loss, metrics_before = model.optimizer, model.loss, list(model.compiled_metrics)
    bad_name = next(v if isinstance(v, str) else v[-1] for v in kwargs.values())
    with pytest.raises(ValueError) as info:
        model.compile(**{"optimizer": "sgd", "loss": "mse", "metrics": ["mae"], **kwargs})
    message = str(info.value)
    assert repr(bad_name) in message or bad_name in message
    for name in known:
        assert name in message, f"{name!r} not listed in: {message}"
    assert model.optimizer is optimizer and model.loss == loss
    assert model.compiled_metrics == metrics_before
    # the previous compile still trains, exactly as an untouched twin does
    assert model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history == \
        twin.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history


def test_nan_target_stops_fit_at_its_batch_with_last_finite_weights():
    x, y = data(30, seed=5)
    y[2 * 8 + 3, 0] = np.nan  # in the third batch of size 8
    model, twin = lstm_model(seed=6), lstm_model(seed=6)
    for m in (model, twin):
        m.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    with pytest.raises(NonFiniteLossError) as info:
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert re.search(r"epoch\D*1\b", message) and re.search(r"batch\D*3\b", message), message
    # a run stopped by hand before that batch
    losses, stopped = manual_steps(twin, x, y, 8, 2)
    assert stopped is None and all(np.isfinite(losses))
    assert_weights_equal(model.get_weights(), twin.get_weights())
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_diverging_loss_stops_fit_with_epoch_and_batch_and_last_finite_weights():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(20, 4)).astype("float32") * 3
    y = x.sum(axis=1, keepdims=True)

    def build():
        minirnn.set_random_seed(7)
        m = Sequential([Input((4,)), Dense(1)])
        m.compile(optimizer=optimizers.SGD(learning_rate=30.0), loss="mse")
        return m
    model, twin = build(), build()
    losses, stopped = manual_steps(twin, x, y, 6, 100)
    assert stopped is not None and stopped >= 4, "the reference run should diverge after epoch 1"
    epoch, batch = divmod(stopped, 4)
    with pytest.raises(NonFiniteLossError) as info:
        model.fit(x, y, epochs=100, batch_size=6, shuffle=False, verbose=0)
    message = str(info.value)
    assert re.search(rf"epoch\D*{epoch + 1}\b", message), message
    assert re.search(rf"batch\D*{batch + 1}\b", message), message
    assert_weights_equal(model.get_weights(), twin.get_weights())
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_terminate_on_nan_stops_without_raising(capsys):
    x, y = data(30, seed=5)
    y[2 * 8 + 3, 0] = np.nan
    model, twin = lstm_model(seed=6), lstm_model(seed=6)
    for m in (model, twin):
        m.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    seen = []
    history = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
                        callbacks=[callbacks.TerminateOnNaN(),
                                   callbacks.LambdaCallback(on_epoch_begin=lambda e, l: seen.append(e))])
    assert seen == [0]  # stopped in the first epoch
    assert history.epoch == [0]
    manual_steps(twin, x, y, 8, 2)
    assert_weights_equal(model.get_weights(), twin.get_weights())
    assert model.stop_training


def test_load_weights_from_another_architecture_changes_nothing(tmp_path):
    small, big = lstm_model(units=4, seed=1), lstm_model(units=5, seed=2)
    big.save_weights(tmp_path / "big.npz")
    before = small.get_weights()
    with pytest.raises(ValueError, match="does not match"):
        small.load_weights(tmp_path / "big.npz")
    assert_weights_equal(small.get_weights(), before)
    gru = lstm_model(units=4, seed=3, rnn=GRU)
    gru.save_weights(tmp_path / "gru.npz")
    with pytest.raises(ValueError):
        small.load_weights(tmp_path / "gru.npz")
    assert_weights_equal(small.get_weights(), before)


def test_load_weights_of_a_truncated_file_changes_nothing(tmp_path):
    source, target = lstm_model(seed=1), lstm_model(seed=2)
    path = tmp_path / "w.npz"
    source.save_weights(path)
    raw = path.read_bytes()
    before = target.get_weights()
    for cut in (len(raw) // 2, len(raw) - 30, 10):
        path.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="truncated|could not read"):
            target.load_weights(path)
        assert_weights_equal(target.get_weights(), before)
    with pytest.raises(ValueError):
        load_model(path)


def test_interrupted_save_weights_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    model = lstm_model(seed=1)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    old_bytes, old_weights = path.read_bytes(), model.get_weights()
    model.set_weights([w + 1 for w in old_weights])

    def broken_savez(file, *args, **kwargs):
        handle = file if hasattr(file, "write") else open(file, "wb")
        handle.write(b"PK\x03\x04 half a zip file")
        raise OSError("No space left on device")
    monkeypatch.setattr(np, "savez", broken_savez)
    for save in (model.save_weights, model.save):
        with pytest.raises(OSError, match="No space"):
            save(path)
        assert path.read_bytes() == old_bytes
        assert sorted(os.listdir(tmp_path)) == ["w.npz"]
    monkeypatch.undo()
    fresh = lstm_model(seed=5)
    fresh.load_weights(path)
    assert_weights_equal(fresh.get_weights(), old_weights)


# -- callbacks --------------------------------------------------------------------------------------

def scripted(values, key="score"):
    """A callback that puts values[epoch] into the epoch's logs (read by callbacks after it)."""
    def put(epoch, logs):
        logs[key] = values[epoch]
    return callbacks.LambdaCallback(on_epoch_end=put)


class WeightsAtEpochEnd(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_patience_and_restore_best_weights(restore):
    x, y = data(16)
    model = lstm_model(seed=8)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="mse")
    score = [5.0, 3.0, 4.0, 2.0, 2.5, 2.6, 2.7, 1.0, 0.5, 0.1]
    # by hand: best 2.0 at epoch index 3; with patience 3, epochs 4, 5, 6 do not improve -> stop
    # after epoch index 6 (seven epochs run)
    weights = WeightsAtEpochEnd()
    stop = callbacks.EarlyStopping(monitor="score", patience=3, mode="min",
                                   restore_best_weights=restore)
    history = model.fit(x, y, epochs=10, batch_size=8, verbose=0,
                        callbacks=[scripted(score), weights, stop])
    assert history.epoch == list(range(7))
    assert history.history["score"] == score[:7]
    assert stop.stopped_epoch == 6 and stop.best_epoch == 3
    expected = weights.weights[3] if restore else weights.weights[6]
    assert_weights_equal(model.get_weights(), expected)
    assert not all(np.array_equal(a, b) for a, b in zip(weights.weights[3], weights.weights[6]))


def test_early_stopping_on_val_loss_min_delta_and_max_mode():
    x, y = data(16)
    model = lstm_model(seed=8)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="mse")
    # an improvement smaller than min_delta does not count: 1.0 -> 0.95 -> 0.92 -> 0.91
    stop = callbacks.EarlyStopping(monitor="score", patience=2, min_delta=0.1)
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0,
                        callbacks=[scripted([1.0, 0.95, 0.92, 0.91, 0.5, 0.4, 0.3, 0.2]), stop])
    assert history.epoch == [0, 1, 2]
    stop = callbacks.EarlyStopping(monitor="val_acc_like", patience=1, mode="max")
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0,
                        callbacks=[scripted([0.1, 0.3, 0.2, 0.9], key="val_acc_like"), stop])
    assert history.epoch == [0, 1, 2]


def test_model_checkpoint_save_best_only_and_epoch_formatting(tmp_path):
    x, y = data(16)
    model = lstm_model(seed=9)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="mse")
    weights = WeightsAtEpochEnd()
    check = callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch:02d}.npz"), monitor="score",
                                      save_best_only=True, save_weights_only=True)
    every = callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{score:.1f}.npz"),
                                      monitor="score")
    model.fit(x, y, epochs=5, batch_size=8, verbose=0,
              callbacks=[scripted([3.0, 1.0, 2.0, 0.5, 0.7]), weights, check, every])
    files = sorted(os.listdir(tmp_path))
    assert [f for f in files if f.startswith("w-")] == ["w-01.npz", "w-02.npz", "w-04.npz"]
    assert [f for f in files if f.startswith("m-")] == [
        "m-01-3.0.npz", "m-02-1.0.npz", "m-03-2.0.npz", "m-04-0.5.npz", "m-05-0.7.npz"]
    for epoch in (1, 2, 4):
        probe = lstm_model(seed=0)
        probe.load_weights(tmp_path / f"w-{epoch:02d}.npz")
        assert_weights_equal(probe.get_weights(), weights.weights[epoch - 1])
    restored = load_model(tmp_path / "m-03-2.0.npz")
    assert_weights_equal(restored.get_weights(), weights.weights[2])


def test_lambda_callback_hooks_are_called_in_order():
    x, y = data(20)
    model = lstm_model()
    model.compile(optimizer="sgd", loss="mse")
    calls = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append("train_end"))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[cb], validation_data=(x, y))
    expected = ["train_begin"]
    for epoch in range(2):
        expected.append(("epoch_begin", epoch))
        expected += [("batch", b, ["loss"]) for b in range(3)]
        expected.append(("epoch_end", epoch, ["loss", "val_loss"]))
    expected.append("train_end")
    assert calls == expected
    with pytest.raises(TypeError):
        callbacks.LambdaCallback(on_epoch_ending=print)


def test_history_holds_sample_weighted_epoch_means_against_numpy():
    """With a learning rate of zero the weights never move, so every epoch's loss and metric are
    the means over all samples of predict's outputs: 20 samples in batches of 8, 8, 4 (an
    unweighted mean of batch means would differ)."""
    x, y = data(20, seed=11)
    xv, yv = data(7, seed=12)
    model = lstm_model(seed=10)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_data=(xv, yv))
    assert history is model.history
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    pred, pred_v = model.predict(x), model.predict(xv)
    for key, value in [("loss", mse(pred, y)), ("mae", mae(pred, y)),
                       ("val_loss", mse(pred_v, yv)), ("val_mae", mae(pred_v, yv))]:
        assert len(history.history[key]) == 3
        np.testing.assert_allclose(history.history[key], [value] * 3, rtol=2e-6)
    batch_means = [mse(pred[i:i + 8], y[i:i + 8]) for i in (0, 8, 16)]
    assert abs(np.mean(batch_means) - mse(pred, y)) > 1e-4 * mse(pred, y)


def test_history_loss_equals_an_independent_step_by_step_run():
    x, y = data(20, seed=13)
    model, twin = lstm_model(seed=14), lstm_model(seed=14)
    for m in (model, twin):
        m.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="mse")
    history = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    losses, _ = manual_steps(twin, x, y, 8, 9)
    sizes = [8, 8, 4]
    expected = [np.dot(losses[3 * e:3 * e + 3], sizes) / 20 for e in range(3)]
    np.testing.assert_allclose(history["loss"], expected, rtol=1e-6)
    assert_weights_equal(model.get_weights(), twin.get_weights())


def test_verbose_1_prints_a_live_bar_with_loss_and_metrics(capsys):
    x, y = data(20)
    model = lstm_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1
    assert "\r" in out  # redrawn in place
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)  # Keras's colours
    step_time = r"\d+(?:us|ms|s)/step"
    assert re.search(rf"1/3 \u2501{{20}} \d+s {step_time} - loss: [\d.e+-]+ - mae: [\d.e+-]+",
                     out), out
    assert re.search(rf"3/3 \u2501{{20}} \d+s {step_time} - loss: ", out), out
    final = [line for line in out.split("\n") if "3/3" in line][-1].split("\r")[-1]
    loss = float(re.search(r"loss: ([\d.e+-]+)", final).group(1))
    assert loss == pytest.approx(history.history["loss"][-1], rel=1e-3)


def test_verbose_2_prints_one_line_per_epoch_and_verbose_0_nothing(capsys):
    x, y = data(20)
    model = lstm_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=3, batch_size=8, verbose=2, validation_data=(x, y))
    out = capsys.readouterr().out
    assert "\r" not in out and "ETA" not in out
    lines = [line for line in out.splitlines() if line]
    assert [line for line in lines if line.startswith("Epoch")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    progress = [line for line in lines if not line.startswith("Epoch")]
    assert len(progress) == 3
    for line in progress:
        assert re.fullmatch(r"3/3 - \d+s - \d+(?:us|ms|s)/step - loss: \S+ - mae: \S+ - val_loss: \S+ - "
                            r"val_mae: \S+", line), line
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_data=(x, y))
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


# -- the functional API ----------------------------------------------------------------------------

def test_several_inputs_and_outputs_with_loss_weights_against_numpy():
    rng = np.random.default_rng(15)
    xa, xb = rng.normal(size=(12, T, D)).astype("float32"), rng.normal(size=(12, 2)).astype("float32")
    ya, yb = rng.normal(size=(12, 1)).astype("float32"), rng.normal(size=(12, 3)).astype("float32")
    minirnn.set_random_seed(15)
    a, b = Input((T, D)), Input((2,))
    h = GRU(4)(a)
    out1 = Dense(1)(Concatenate()([h, b]))
    out2 = Dense(3)(h)
    model = Model([a, b], [out1, out2])
    model.compile(optimizer="adam", loss=["mse", "mae"], loss_weights=[1.0, 0.5])
    p1, p2 = model.predict([xa, xb], batch_size=5)
    assert p1.shape == (12, 1) and p2.shape == (12, 3)
    expected = mse(p1, ya) + 0.5 * mae(p2, yb)
    got = model.evaluate([xa, xb], [ya, yb], batch_size=5, verbose=0)
    assert got == pytest.approx(expected, rel=1e-5)
    history = model.fit([xa, xb], [ya, yb], epochs=8, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_shared_layer_counts_weights_once_and_accumulates_gradients():
    rng = np.random.default_rng(16)
    x1, x2 = rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")
    y = rng.normal(size=(6, 2)).astype("float32")
    minirnn.set_random_seed(16)
    a, b = Input((3,)), Input((3,))
    shared = Dense(2)
    model = Model([a, b], Add()([shared(a), shared(b)]))
    assert len(model.weights) == 2 and model.count_params() == 3 * 2 + 2
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 8 " in "\n".join(lines)
    rows = [line for line in lines if line.startswith(f" {shared.name} (Dense)")]
    assert len(rows) == 1 and rows[0].split()[-1] == "8"  # listed once, as Keras does
    W, bias = (w.astype(np.float64) for w in model.get_weights())
    lr = 0.1
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="mse")
    model.train_on_batch([x1, x2], y)
    # by hand: out = x1 W + b + x2 W + b;  L = mean((out - y)^2) over 6 x 2 values
    residual = x1 @ W + x2 @ W + 2 * bias - y
    d_out = 2 * residual / residual.size
    grad_W = x1.T @ d_out + x2.T @ d_out  # one term per use of the layer
    grad_b = 2 * d_out.sum(axis=0)
    new_W, new_b = model.get_weights()
    np.testing.assert_allclose(new_W, W - lr * grad_W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_b, bias - lr * grad_b, rtol=1e-5, atol=1e-6)


class TwoLayer(Model):
    """A subclassed model: layers in __init__, the computation in call."""

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        minirnn.set_random_seed(seed)
        self.rnn = LSTM(4, return_sequences=True)
        self.rnn2 = SimpleRNN(3)
        self.head = Dense(1)

    def call(self, inputs, training=None):
        return self.head(self.rnn2(self.rnn(inputs)))


def test_subclassed_model_trains_and_equals_the_same_stack_as_sequential():
    x, y = data(16, seed=17)
    model = TwoLayer(seed=17)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="mse")
    history = model.fit(x, y, epochs=6, batch_size=8, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(model.weights) == 3 + 3 + 2
    stack = Sequential([Input((T, D)), LSTM(4, return_sequences=True), SimpleRNN(3), Dense(1)])
    stack.set_weights(model.get_weights())
    np.testing.assert_allclose(stack.predict(x), model.predict(x), rtol=1e-6, atol=1e-7)


def test_sequential_add_and_pop():
    x, _ = data(4)
    model = Sequential()
    model.add(Input((T, D)))
    model.add(LSTM(4, return_sequences=True))
    model.add(Dense(2))
    assert model.outputs[0].shape == (None, T, 2)
    assert model.predict(x).shape == (4, T, 2)
    popped = model.pop()
    assert isinstance(popped, Dense) and len(model.layers) == 1
    assert model.predict(x).shape == (4, T, 4)
    assert len(model.weights) == 3
    model.add(SimpleRNN(2))
    model.add(Dense(1))
    assert model.predict(x).shape == (4, 1)
    assert model.count_params() == (3 + 4 + 1) * 16 + (4 + 2 + 1) * 2 + 3
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.zeros((4, 1), "float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError):
        Sequential().pop()


def test_reset_states_of_a_stateful_rnn_model():
    rng = np.random.default_rng(18)
    full = rng.normal(size=(4, 6, D)).astype("float32")
    minirnn.set_random_seed(18)
    stateful = Sequential([Input(batch_shape=(4, 3, D)),
                           LSTM(5, stateful=True, return_sequences=True), Dense(1)])
    plain = Sequential([Input((6, D)), LSTM(5, return_sequences=True), Dense(1)])
    plain.set_weights(stateful.get_weights())
    reference = plain.predict(full)
    first = stateful.predict(full[:, :3], batch_size=4)
    second = stateful.predict(full[:, 3:], batch_size=4)  # carries on from the first chunk
    np.testing.assert_allclose(first, reference[:, :3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, reference[:, 3:], rtol=1e-5, atol=1e-6)
    stateful.reset_states()
    # after the reset the second chunk is read from zero states, as a fresh sequence
    np.testing.assert_allclose(stateful.predict(full[:, 3:], batch_size=4),
                               plain.predict(np.concatenate([full[:, 3:], full[:, :3]], 1))[:, :3],
                               rtol=1e-5, atol=1e-6)


def test_train_on_batch_returns_the_loss_before_the_step():
    x, y = data(8, seed=19)
    model = lstm_model(seed=19)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    pred = model.predict(x)
    loss, metric = model.train_on_batch(x, y)
    assert loss == pytest.approx(mse(pred, y), rel=1e-6)
    assert metric == pytest.approx(mae(pred, y), rel=1e-6)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "mae"}
    assert logs["loss"] < loss  # the first step moved downhill
    assert not np.array_equal(model.predict(x), pred)


def test_evaluate_return_values_against_numpy():
    x, y = data(20, seed=20)
    model = lstm_model(seed=20)
    model.compile(optimizer="adam", loss="mse")
    pred = model.predict(x)
    # batches of 7, 7, 6: weighted by size, the mean over all samples
    loss = model.evaluate(x, y, batch_size=7, verbose=0)
    assert isinstance(loss, float) and loss == pytest.approx(mse(pred, y), rel=1e-6)
    model.compile(optimizer="adam", loss="mse", metrics=["mae", "mse"])
    values = model.evaluate(x, y, batch_size=7, verbose=0)
    assert isinstance(values, list) and len(values) == 3
    np.testing.assert_allclose(values, [mse(pred, y), mae(pred, y), mse(pred, y)], rtol=1e-6)
    logs = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mae", "mse"]
    np.testing.assert_allclose(list(logs.values()), values, rtol=1e-7)


def test_validation_split_uses_the_last_fraction():
    x, y = data(20, seed=21)
    model = lstm_model(seed=21)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0), loss="mse")
    history = model.fit(x, y, epochs=1, batch_size=4, validation_split=0.25, verbose=0).history
    pred = model.predict(x)
    split = 15  # floor(20 * 0.75), as Keras
    assert history["loss"][0] == pytest.approx(mse(pred[:split], y[:split]), rel=1e-6)
    assert history["val_loss"][0] == pytest.approx(mse(pred[split:], y[split:]), rel=1e-6)
    assert history["val_loss"][0] != pytest.approx(mse(pred[:5], y[:5]), rel=1e-3)


# -- a user-written layer ----------------------------------------------------------------------------

class LoopRNN(Layer):
    """A plain RNN written as a user would: a Python loop over timesteps in call."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.W_x = self.add_weight(shape=(input_shape[-1], self.units),
                                   initializer="glorot_uniform", name="W_x")
        self.W_h = self.add_weight(shape=(self.units, self.units), initializer="orthogonal",
                                   name="W_h")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x):
        h = minirnn.Tensor(np.zeros((x.shape[0], self.units), dtype=x.dtype))
        outputs = []
        for t in range(x.shape[1]):
            h = ops.tanh(x[:, t, :] @ self.W_x + h @ self.W_h + self.b)
            outputs.append(h)
        return ops.stack(outputs, axis=1)


@pytest.mark.slow
def test_user_layer_with_a_python_time_loop_trains_under_fit():
    rng = np.random.default_rng(22)
    x = rng.normal(size=(64, 6, 2)).astype("float32")
    y = np.cumsum(x[..., :1], axis=1) / 3  # the running sum of the first feature
    minirnn.set_random_seed(22)
    model = Sequential([Input((6, 2)), LoopRNN(8), Dense(1)])
    assert len(model.trainable_weights) == 5
    model.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0) < 0.3 * before


def test_user_layer_passes_check_grads_in_float64(float64):
    rng = np.random.default_rng(23)
    minirnn.set_random_seed(23)
    layer = LoopRNN(3)
    x = rng.normal(size=(2, 4, 2))
    layer(x)
    assert all(w.data.dtype == np.float64 for w in layer.weights)
    minirnn.check_grads(lambda inp: layer(inp), x, params=layer.trainable_weights)
    # and through a model with a loss: check_grads of the mean squared error
    model = Sequential([Input((4, 2)), layer, Dense(1)])
    target = rng.normal(size=(2, 4, 1))
    minirnn.check_grads(lambda inp: ((model(inp) - target) ** 2).mean(), x,
                        params=model.trainable_weights)
