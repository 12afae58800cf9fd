"""ReduceLROnPlateau, LearningRateScheduler, CSVLogger and BackupAndRestore against Keras 3.

Keras's own callbacks are driven with the same scripted logs, epoch by epoch, on a stand-in model
that holds a real Keras optimizer; ours on a stand-in holding a minirnn optimizer. The expected
rates, logs, messages and files always come from Keras.
"""
import contextlib
import io
import json
import os
import types

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

import minirnn  # noqa: E402
from minirnn import callbacks, optimizers  # noqa: E402
from tf_helpers import import_tf  # noqa: E402

tf = import_tf()
import keras  # noqa: E402

pytestmark = [pytest.mark.tf,  # Keras reads its variables with np.array(x), which NumPy 2 warns of
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]


def stand_ins(learning_rate=0.1, keras_rate=None, our_rate=None):
    """(keras model stand-in, minirnn model stand-in), each with an SGD at `learning_rate`."""
    ours = types.SimpleNamespace(optimizer=optimizers.SGD(our_rate or learning_rate), name="m")
    theirs = types.SimpleNamespace(optimizer=keras.optimizers.SGD(keras_rate or learning_rate))
    return theirs, ours


def keras_rate(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def run_epochs(pairs, logs_per_epoch, hooks=("on_epoch_end",)):
    """Feed each epoch's logs (a fresh dict per library) to each (keras, ours) callback pair;
    returns, per epoch, (keras logs, our logs, keras rate, our rate) after the epoch."""
    (k_cb, k_model), (m_cb, m_model) = pairs
    k_cb.set_model(k_model)
    m_cb.set_model(m_model)
    k_cb.on_train_begin()
    m_cb.on_train_begin()
    seen = []
    for epoch, logs in enumerate(logs_per_epoch):
        k_logs, m_logs = dict(logs), dict(logs)
        if "on_epoch_begin" in hooks:
            k_cb.on_epoch_begin(epoch)
            m_cb.on_epoch_begin(epoch)
        k_cb.on_epoch_end(epoch, k_logs)
        m_cb.on_epoch_end(epoch, m_logs)
        # minirnn holds the rate it was built with unrounded until a callback sets it
        seen.append((k_logs, m_logs, keras_rate(k_model),
                     float(np.float32(m_model.optimizer.learning_rate))))
    return seen


def plateau_losses(seed, n):
    """A loss that improves, stalls, jitters below min_delta and ties: every branch of the rule."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-0.05, -1e-5, 0.0, 0.0, 0.02, -0.2], size=n)
    return [float(v) for v in np.round(1.0 + np.cumsum(steps), 6)]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), patience=st.integers(0, 4), cooldown=st.integers(0, 3),
       factor=st.sampled_from([0.1, 0.5, 0.3]), min_lr=st.sampled_from([0.0, 1e-3, 0.02]),
       min_delta=st.sampled_from([1e-4, 0.0, 0.03]), mode=st.sampled_from(["auto", "min", "max"]),
       start=st.sampled_from([0.1, 0.01, 0.3]))
def test_reduce_lr_on_plateau_reduces_at_the_epochs_keras_does(seed, patience, cooldown, factor,
                                                                min_lr, min_delta, mode, start):
    kwargs = dict(monitor="val_loss", factor=factor, patience=patience, cooldown=cooldown,
                  min_lr=min_lr, min_delta=min_delta, mode=mode)
    k_model, m_model = stand_ins(start)
    losses = plateau_losses(seed, 25)
    seen = run_epochs([(keras.callbacks.ReduceLROnPlateau(**kwargs), k_model),
                       (callbacks.ReduceLROnPlateau(**kwargs), m_model)],
                      [{"loss": v + 0.5, "val_loss": v} for v in losses])
    for epoch, (k_logs, m_logs, k_rate, m_rate) in enumerate(seen):
        assert m_logs == k_logs, f"epoch {epoch}"           # learning_rate logged, same value
        assert m_rate == k_rate, f"epoch {epoch}: rate {m_rate} != Keras {k_rate}"


def test_reduce_lr_on_plateau_logs_the_rate_before_its_reduction_float32_rounded():
    k_model, m_model = stand_ins(0.1)
    seen = run_epochs([(keras.callbacks.ReduceLROnPlateau(patience=1, factor=0.5), k_model),
                       (callbacks.ReduceLROnPlateau(patience=1, factor=0.5), m_model)],
                      [{"val_loss": 1.0}, {"val_loss": 1.0}, {"val_loss": 1.0}])
    rates = [m_logs["learning_rate"] for _, m_logs, _, _ in seen]
    assert rates == [k_logs["learning_rate"] for k_logs, _, _, _ in seen]
    assert rates[0] == float(np.float32(0.1)) != 0.1       # float32, as Keras's variable holds
    assert rates[1] == rates[0]                           # epoch 1 reduces at its end...
    assert rates[2] == float(np.float32(rates[0] * 0.5))  # ...so epoch 2 trains (and logs) at half


def test_reduce_lr_on_plateau_prints_keras_message(capsys):
    outputs = []
    for lib, model in zip((keras, minirnn), stand_ins(0.1)):
        cb = lib.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.3, verbose=1)
        cb.set_model(model)
        cb.on_train_begin()
        cb.on_epoch_end(0, {"loss": 1.0})
        cb.on_epoch_end(1, {"loss": 1.0})
        outputs.append(capsys.readouterr().out)
    assert "reducing learning rate to 0.0300000004470348" in outputs[0]
    assert outputs[1] == outputs[0]


def test_reduce_lr_on_plateau_on_a_schedule_raises_where_keras_does():
    k_model = types.SimpleNamespace(optimizer=keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)))
    m_model = types.SimpleNamespace(name="m", optimizer=optimizers.SGD(
        optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)))
    errors = []
    for lib, model in ((keras, k_model), (minirnn, m_model)):
        cb = lib.callbacks.ReduceLROnPlateau(patience=1)
        cb.set_model(model)
        cb.on_train_begin()
        logs = {"val_loss": 1.0}
        cb.on_epoch_end(0, logs)  # improvement: nothing to set
        assert logs["learning_rate"] == pytest.approx(0.1, rel=1e-7)
        with pytest.raises(TypeError) as info:
            cb.on_epoch_end(1, {"val_loss": 1.0})
        errors.append(str(info.value))
    assert errors[0] in errors[1]  # Keras's sentence, after one naming the callback
    assert "ReduceLROnPlateau" in errors[1]


def test_reduce_lr_on_plateau_refuses_bad_arguments_before_training():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="patience"):
        callbacks.ReduceLROnPlateau(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        callbacks.ReduceLROnPlateau(mode="up")
    x, y = np.zeros((4, 3, 2), np.float32), np.zeros((4, 1), np.float32)
    model = minirnn.Sequential([minirnn.Input((3, 2)), minirnn.layers.SimpleRNN(2),
                                minirnn.layers.Dense(1)])
    model.compile("sgd", "mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match="'val_loss'.*will not log"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ReduceLROnPlateau()])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


SCHEDULES = {
    "two arguments": lambda epoch, lr: lr if epoch < 2 else lr * 0.7,
    "one argument": lambda epoch: 0.05 / (1.0 + epoch),
    "numpy float32": lambda epoch, lr: np.float32(0.3) * np.float32(0.9) ** epoch,
    "steps": lambda epoch, lr: [0.1, 0.1, 0.01, 0.001, 0.001, 0.0001][epoch],
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_learning_rate_scheduler_sets_the_rates_keras_does(name):
    k_model, m_model = stand_ins(0.02)
    seen = run_epochs([(keras.callbacks.LearningRateScheduler(SCHEDULES[name]), k_model),
                       (callbacks.LearningRateScheduler(SCHEDULES[name]), m_model)],
                      [{"loss": 1.0 / (e + 1)} for e in range(6)], hooks=("on_epoch_begin",))
    for epoch, (k_logs, m_logs, k_rate, m_rate) in enumerate(seen):
        assert m_logs == k_logs, f"epoch {epoch}"
        assert m_rate == k_rate, f"epoch {epoch}"


def test_learning_rate_scheduler_refuses_what_keras_refuses(capsys):
    for schedule, error in ((lambda epoch, lr: 1, ValueError), (lambda epoch, lr: "0.1", ValueError)):
        messages = []
        for lib, model in zip((keras, minirnn), stand_ins(0.1)):
            cb = lib.callbacks.LearningRateScheduler(schedule)
            cb.set_model(model)
            with pytest.raises(error) as info:
                cb.on_epoch_begin(0)
            messages.append(str(info.value))
        assert messages[1] == messages[0]
    with pytest.raises(TypeError, match="schedule"):
        callbacks.LearningRateScheduler(0.1)


def test_learning_rate_scheduler_prints_keras_message(capsys):
    outputs = []
    for lib, model in zip((keras, minirnn), stand_ins(0.1)):
        cb = lib.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5, verbose=1)
        cb.set_model(model)
        cb.on_epoch_begin(0)
        cb.on_epoch_begin(1)
        outputs.append(capsys.readouterr().out)
    assert "setting learning rate to" in outputs[0]
    assert outputs[1] == outputs[0]


def test_learning_rate_scheduler_in_fit_records_learning_rate_in_history():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4, 2)).astype(np.float32), rng.standard_normal((16, 1))
    model = minirnn.Sequential([minirnn.Input((4, 2)), minirnn.layers.GRU(3),
                                minirnn.layers.Dense(1)])
    model.compile(optimizers.SGD(0.1), "mse")
    history = model.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[
        callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)])
    expected = [float(np.float32(0.1 * 0.5 ** e)) for e in range(4)]
    assert history.history["learning_rate"] == expected


# -- CSVLogger ----------------------------------------------------------------------------------

def csv_bytes(lib, path, epochs_logs, runs=1, **kwargs):
    for _ in range(runs):
        cb = lib.callbacks.CSVLogger(str(path), **kwargs)
        cb.on_train_begin()
        for epoch, logs in enumerate(epochs_logs):
            cb.on_epoch_end(epoch, dict(logs))
        cb.on_train_end()
    return path.read_bytes()


TRAIN_ONLY = [{"loss": 0.5, "mae": 0.25}, {"loss": 0.125, "mae": 0.0625}]
WITH_VALIDATION = [{"val_mae": 0.75, "loss": 0.5, "mae": 0.25, "val_loss": 1.5},
                   {"val_mae": 0.5, "loss": 0.1, "mae": 0.2, "val_loss": 1.25}]
WITH_RATE = [{"loss": 0.5, "learning_rate": 0.0010000000474974513},
             {"loss": 0.25, "learning_rate": 0.00010000000474974513}]


@pytest.mark.parametrize("logs", [TRAIN_ONLY, WITH_VALIDATION, WITH_RATE, [{}]],
                         ids=["no validation", "validation", "learning rate", "empty logs"])
@pytest.mark.parametrize("kwargs", [{}, {"separator": ";"}, {"append": True}],
                         ids=["default", "separator", "append"])
def test_csv_logger_writes_keras_file(tmp_path, logs, kwargs):
    expected = csv_bytes(keras, tmp_path / "keras.csv", logs, runs=2, **kwargs)
    ours = csv_bytes(minirnn, tmp_path / "ours.csv", logs, runs=2, **kwargs)
    assert ours == expected


def test_csv_logger_no_validation_adds_na_columns_and_append_writes_one_header(tmp_path):
    ours = csv_bytes(minirnn, tmp_path / "log.csv", TRAIN_ONLY, runs=2, append=True)
    assert ours.decode().split("\r\n") == [
        "epoch,loss,mae,val_loss,val_mae", "0,0.5,0.25,NA,NA", "1,0.125,0.0625,NA,NA",
        "0,0.5,0.25,NA,NA", "1,0.125,0.0625,NA,NA", ""]


def test_csv_logger_in_fit_matches_keras_logger_fed_the_same_history(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((20, 4, 2)).astype(np.float32), rng.standard_normal((20, 1))
    model = minirnn.Sequential([minirnn.Input((4, 2)), minirnn.layers.LSTM(3),
                                minirnn.layers.Dense(1)])
    model.compile(optimizers.Adam(0.01), "mse", metrics=["mae"])
    path = tmp_path / "fit.csv"
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_split=0.25,
                        callbacks=[callbacks.ReduceLROnPlateau(patience=0, factor=0.5),
                                   callbacks.CSVLogger(path)])
    assert "learning_rate" in history.history
    epochs_logs = [{k: v[e] for k, v in history.history.items()} for e in range(3)]
    assert path.read_bytes() == csv_bytes(keras, tmp_path / "keras.csv", epochs_logs)


def test_csv_logger_refuses_bad_arguments():
    with pytest.raises(ValueError, match="separator"):
        callbacks.CSVLogger("x.csv", separator=",,")
    with pytest.raises(TypeError, match="append"):
        callbacks.CSVLogger("x.csv", append="yes")
    with pytest.raises(TypeError, match="filename"):
        callbacks.CSVLogger(3)


# -- BackupAndRestore ---------------------------------------------------------------------------

def small_model(seed):
    minirnn.set_random_seed(seed)
    model = minirnn.Sequential([minirnn.Input((4, 2)), minirnn.layers.SimpleRNN(3),
                                minirnn.layers.Dense(1)])
    model.compile(optimizers.Adam(0.01), "mse")
    return model


def data():
    rng = np.random.default_rng(2)
    return rng.standard_normal((16, 4, 2)).astype(np.float32), rng.standard_normal((16, 1))


class Interrupt(callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


def test_backup_writes_weights_optimizer_and_epoch_and_restores_them(tmp_path):
    x, y = data()
    model = small_model(0)
    backup = callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0,
                  callbacks=[backup, Interrupt(at_epoch=2)])
    files = sorted(os.listdir(tmp_path / "backup"))
    assert files == ["latest.weights.npz", "optimizer.npz", "training_metadata.json"]
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["epoch"] == 2
    weights, state = model.get_weights(), model.optimizer.get_state()

    fresh = small_model(1)
    fresh.set_weights([w + 1 for w in fresh.get_weights()])
    restorer = callbacks.BackupAndRestore(tmp_path / "backup")
    restorer.set_model(fresh)
    restorer.on_train_begin()
    for a, b in zip(fresh.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    restored = fresh.optimizer.get_state()
    assert int(restored[0]) == 4  # two epochs of two batches
    for a, b in zip(restored, state):
        np.testing.assert_array_equal(a, b)
    assert fresh._initial_epoch == 2


def test_backup_is_deleted_after_a_fit_that_ends(tmp_path):
    x, y = data()
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "notes.txt").write_text("not ours")
    small_model(0).fit(x, y, epochs=2, batch_size=8, verbose=0,
                       callbacks=[callbacks.BackupAndRestore(tmp_path / "backup")])
    assert os.listdir(tmp_path / "backup") == ["notes.txt"]
    small_model(0).fit(x, y, epochs=1, batch_size=8, verbose=0,
                       callbacks=[callbacks.BackupAndRestore(tmp_path / "kept",
                                                             delete_checkpoint=False)])
    assert "training_metadata.json" in os.listdir(tmp_path / "kept")


def test_fit_resumes_from_the_backup_as_if_never_interrupted(tmp_path):
    x, y = data()
    straight = small_model(0)
    expected = straight.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]

    model = small_model(0)
    backup = callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                  callbacks=[backup, Interrupt(at_epoch=2)])
    resumed = small_model(0)  # a new process would start from fresh weights
    history = resumed.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                          callbacks=[callbacks.BackupAndRestore(tmp_path / "backup")])
    assert history.epoch == [2, 3]
    np.testing.assert_allclose(history.history["loss"], expected[2:], rtol=1e-6)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_backup_and_restore_refuses_bad_arguments():
    with pytest.raises(ValueError, match="backup_dir"):
        callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.BackupAndRestore("b", save_freq=0)
    with pytest.raises(TypeError, match="delete_checkpoint"):
        callbacks.BackupAndRestore("b", delete_checkpoint="no")
