"""Bad calls of a model that has already trained: each is refused with a message naming the argument,
what was expected and what came, and leaves everything as it was.

One table, ROWS: (description, setup, bad call, exception class, patterns the message must hold).
Every setup builds a compiled model that has trained three steps, so the optimizer has slots. After
each row the weights, every optimizer slot, the iteration count and the identity of the optimizer,
loss and metrics must be those before the call; for a step undone mid-fit (a non-finite update),
those before that step, as recorded by a callback at the start of every batch.
"""
import re
from types import SimpleNamespace

import numpy as np
import pytest

import minirnn
from minirnn import Input, Model, Sequential, callbacks, optimizers
from minirnn.layers import LSTM, Concatenate, Dense
from minirnn.models import NonFiniteLossError

T, D = 4, 3
MODEL = r"model 'net'"


# -- what must not change ---------------------------------------------------------------------------

def state_of(model):
    """Copies of everything a refused call must leave alone."""
    opt = model.optimizer
    return {
        "weights": [w.data.copy() for w in model.weights],
        "optimizer_arrays": [np.array(a, copy=True) for a in opt.variables],  # iterations, lr, slots
        "slot_count": sum(len(slots) for slots in opt._slots),
        "iterations": opt.iterations,
        "identities": [id(opt), id(model.loss), id(model._loss_fns),
                       *[id(m) for m in model.compiled_metrics]],
    }


def assert_same_state(got, expected):
    assert got["identities"] == expected["identities"]
    assert got["iterations"] == expected["iterations"]
    assert got["slot_count"] == expected["slot_count"]
    for key in ("weights", "optimizer_arrays"):
        assert len(got[key]) == len(expected[key]), key
        for a, b in zip(got[key], expected[key]):
            np.testing.assert_array_equal(a, b)


class StateProbe(callbacks.Callback):
    """Records whether training began, and the model's state at the start of every batch."""

    log_keys_added = ()

    def __init__(self):
        super().__init__()
        self.began, self.states = False, []

    def on_train_begin(self, logs=None):
        self.began = True

    def on_train_batch_begin(self, batch, logs=None):
        self.states.append(state_of(self.model))


# -- setups: compiled models that have trained three steps ------------------------------------------

def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, D)).astype("float32")
    return x, np.tanh(x.sum(axis=(1, 2)))[:, None].astype("float32")


def context(model, x, y, tmp_path, **extra):
    probe = StateProbe()

    def fit(**kwargs):
        kwargs = {"x": x, "y": y, "epochs": 1, "batch_size": 8, "verbose": 0, **kwargs}
        kwargs["callbacks"] = [probe] + list(kwargs.get("callbacks") or [])
        return model.fit(**kwargs)
    return SimpleNamespace(model=model, x=x, y=y, tmp=tmp_path, probe=probe, fit=fit, **extra)


def adam_trained(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((T, D)), LSTM(3), Dense(1)], name="net")
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    x, y = data()
    model.fit(x[:12], y[:12], epochs=1, batch_size=4, shuffle=False, verbose=0)
    return context(model, x, y, tmp_path)


def functional_trained(tmp_path):
    minirnn.set_random_seed(1)
    a, b = Input((T, D)), Input((2,))
    model = Model([a, b], Dense(1)(Concatenate()([LSTM(3)(a), b])), name="net")
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    x, y = data()
    xb = np.random.default_rng(2).normal(size=(16, 2)).astype("float32")
    model.fit([x[:12], xb[:12]], y[:12], epochs=1, batch_size=4, verbose=0)
    return context(model, [x, xb], y, tmp_path)


class JumpingRate:
    """A learning rate of 1e-5 that jumps to 1e37 from update number `at` on (never when None)."""

    def __init__(self):
        self.optimizer, self.at = None, None

    def __call__(self):
        return 1e37 if self.at is not None and self.optimizer.iterations >= self.at else 1e-5


def sgd_trained(tmp_path):
    """SGD with momentum (so there are slots) on targets near 1e4: gradients near 1e4, finite,
    which a learning rate of 1e37 turns into updates beyond float32's range (3.4e38)."""
    minirnn.set_random_seed(3)
    rate = JumpingRate()
    rate.optimizer = optimizers.SGD(learning_rate=rate, momentum=0.9)
    model = Sequential([Input((T, D)), LSTM(3), Dense(1)], name="net")
    model.compile(optimizer=rate.optimizer, loss="mse", metrics=["mae"])
    x, y = data()
    y = y + 1e4
    model.fit(x[:12], y[:12], epochs=1, batch_size=4, shuffle=False, verbose=0)
    return context(model, x, y, tmp_path, rate=rate)


def jump_after(ctx, good_steps):
    ctx.rate.at = ctx.model.optimizer.iterations + good_steps


# -- the table ----------------------------------------------------------------------------------------

def _bad_arrays(array):
    """Arrays NumPy would quietly turn into numbers (or NaN), with the dtype the message names."""
    with_none = array.astype(object)
    with_none.flat[0] = None
    return [("complex", (array + 1j).astype(np.complex128), "complex128"),
            ("numeric strings", array.astype(str), r"<U\d+"),
            ("object", array.astype(object), "object"),
            ("object with None", with_none, "object")]


def _dtype_rows():
    x, y = data()
    rows = []
    accepted = "bool, integer or real floating point"
    for kind, bad_x, dtype in _bad_arrays(x):
        patterns = [rf"\bx of {MODEL}", accepted, rf"dtype {dtype}"]
        rows += [
            (f"fit x {kind}", adam_trained, lambda c, b=bad_x: c.fit(x=b), TypeError, patterns),
            (f"evaluate x {kind}", adam_trained, lambda c, b=bad_x: c.model.evaluate(b, c.y, verbose=0),
             TypeError, patterns),
            (f"predict x {kind}", adam_trained, lambda c, b=bad_x: c.model.predict(b), TypeError,
             patterns),
            (f"train_on_batch x {kind}", adam_trained,
             lambda c, b=bad_x: c.model.train_on_batch(b[:4], c.y[:4]), TypeError, patterns),
            (f"validation_data x {kind}", adam_trained,
             lambda c, b=bad_x: c.fit(validation_data=(b, c.y)), TypeError,
             [rf"validation_data x of {MODEL}", accepted, rf"dtype {dtype}"]),
        ]
    for kind, bad_y, dtype in _bad_arrays(y):
        patterns = [rf"\by of {MODEL}", accepted, rf"dtype {dtype}"]
        rows += [
            (f"fit y {kind}", adam_trained, lambda c, b=bad_y: c.fit(y=b), TypeError, patterns),
            (f"evaluate y {kind}", adam_trained, lambda c, b=bad_y: c.model.evaluate(c.x, b, verbose=0),
             TypeError, patterns),
            (f"train_on_batch y {kind}", adam_trained,
             lambda c, b=bad_y: c.model.train_on_batch(c.x[:4], b[:4]), TypeError, patterns),
        ]
    return rows


def _batch_size_rows():
    bad = [(0, ValueError, [r"int >= 1", r"got 0"]),
           (-1, ValueError, [r"int >= 1", r"got -1"]),
           (2.5, TypeError, [r"must be an int", r"2\.5 of type float"]),
           (True, TypeError, [r"must be an int", r"True of type bool"]),
           ("8", TypeError, [r"must be an int", r"'8' of type str"])]
    rows = []
    for value, error, patterns in bad:
        rows += [
            (f"fit batch_size={value!r}", adam_trained, lambda c, v=value: c.fit(batch_size=v),
             error, [r"fit\(\) argument batch_size"] + patterns),
            (f"fit validation_batch_size={value!r}", adam_trained,
             lambda c, v=value: c.fit(validation_data=(c.x, c.y), validation_batch_size=v),
             error, [r"fit\(\) argument validation_batch_size"] + patterns),
            (f"evaluate batch_size={value!r}", adam_trained,
             lambda c, v=value: c.model.evaluate(c.x, c.y, batch_size=v, verbose=0),
             error, [r"evaluate\(\) argument batch_size"] + patterns),
            (f"predict batch_size={value!r}", adam_trained,
             lambda c, v=value: c.model.predict(c.x, batch_size=v),
             error, [r"predict\(\) argument batch_size"] + patterns),
        ]
    return rows


def _checkpoint(c, template, **kwargs):
    return callbacks.ModelCheckpoint(str(c.tmp / template), **kwargs)


EMPTY = np.zeros((0, T, D), "float32"), np.zeros((0, 1), "float32")
ZERO_SAMPLES = [r"got 0 samples in x", MODEL]

ROWS = _dtype_rows() + _batch_size_rows() + [
    # compile builds and checks everything before it replaces anything
    ("compile loss_weights=['x']", adam_trained,
     lambda c: c.model.compile(optimizer="sgd", loss="mae", loss_weights=["x"]),
     TypeError, [r"compile\(\) argument loss_weights\[0\]", r"real number", r"'x' of type str"]),
    ("compile two loss_weights for one output", adam_trained,
     lambda c: c.model.compile(optimizer="sgd", loss="mae", loss_weights=[1.0, 2.0]),
     ValueError, [r"loss_weights", r"one weight per output", r"\(1\)", r"got 2"]),
    ("compile loss_weights=[inf]", adam_trained,
     lambda c: c.model.compile(optimizer="sgd", loss="mae", loss_weights=[float("inf")]),
     ValueError, [r"loss_weights\[0\]", r"finite", r"inf"]),
    ("compile unknown optimizer", adam_trained,
     lambda c: c.model.compile(optimizer="nope", loss="mae"), ValueError, [r"optimizer", r"'nope'"]),
    ("compile unknown loss", adam_trained,
     lambda c: c.model.compile(optimizer="sgd", loss="nope"), ValueError, [r"'nope'"]),
    ("compile unknown metric", adam_trained,
     lambda c: c.model.compile(optimizer="sgd", loss="mae", metrics=["nope"]), ValueError, [r"'nope'"]),
    # ModelCheckpoint templates are formatted with the keys fit will log, before the first step
    ("checkpoint {nope}", adam_trained,
     lambda c: c.fit(callbacks=[_checkpoint(c, "{nope}.npz")]),
     ValueError, [r"ModelCheckpoint filepath '[^']*\{nope\}\.npz'", r"key 'nope'",
                  re.escape("available keys: ['epoch', 'loss', 'mae']")]),
    ("checkpoint {epoch:s}", adam_trained,
     lambda c: c.fit(callbacks=[_checkpoint(c, "m-{epoch:s}.npz")]),
     ValueError, [r"filepath '[^']*m-\{epoch:s\}\.npz'", r"key 'epoch'", r"given an int",
                  r"available keys: \['epoch', 'loss', 'mae'\]"]),
    ("checkpoint {val_loss} without validation data", adam_trained,
     lambda c: c.fit(callbacks=[_checkpoint(c, "m-{val_loss:.2f}.npz")]),
     ValueError, [r"\{val_loss:\.2f\}\.npz'", r"key 'val_loss'",
                  r"available keys: \['epoch', 'loss', 'mae'\]"]),
    ("checkpoint {batch} when saving every epoch", adam_trained,
     lambda c: c.fit(callbacks=[_checkpoint(c, "m-{epoch}-{batch}.npz")]),
     ValueError, [r"key 'batch'", r"available keys: \['epoch', 'loss', 'mae'\]"]),
    ("checkpoint {val_loss} when saving every 2 batches", adam_trained,
     lambda c: c.fit(validation_data=(c.x, c.y),
                     callbacks=[_checkpoint(c, "m-{batch}-{val_loss}.npz", save_freq=2)]),
     ValueError, [r"key 'val_loss'", r"available keys: \['batch', 'epoch', 'loss', 'mae'\]"]),
    ("checkpoint positional field", adam_trained,
     lambda c: c.fit(callbacks=[_checkpoint(c, "m-{}.npz")]),
     ValueError, [r"positional field", r"'epoch', 'loss', 'mae'"]),
    ("checkpoint save_best_only on a key not logged", adam_trained,
     lambda c: c.fit(callbacks=[_checkpoint(c, "m.npz", save_best_only=True)]),
     ValueError, [r"monitors 'val_loss'", r"it logs \['loss', 'mae'\]"]),
    ("early stopping on a key not logged", adam_trained,
     lambda c: c.fit(callbacks=[callbacks.EarlyStopping(monitor="val_mae")]),
     ValueError, [r"EarlyStopping monitors 'val_mae'", r"it logs \['loss', 'mae'\]"]),
    # validation_data is checked against the model before the first step
    ("validation_data wrong feature size", adam_trained,
     lambda c: c.fit(validation_data=(c.x[:, :, :2], c.y)),
     ValueError, [rf"validation_data x of {MODEL}", r"shape \(None, 4, 3\)", r"got \(16, 4, 2\)"]),
    ("validation_data wrong number of samples", adam_trained,
     lambda c: c.fit(validation_data=(c.x[:5], c.y[:4])),
     ValueError, [r"validation_data y", r"validation_data x with 5", r"validation_data y with 4"]),
    ("validation_data an array", adam_trained, lambda c: c.fit(validation_data=c.x),
     TypeError, [r"validation_data must be a tuple \(x_val, y_val\)", r"got ndarray"]),
    ("validation_data one item", adam_trained, lambda c: c.fit(validation_data=(c.x,)),
     ValueError, [r"validation_data must be a tuple \(x_val, y_val\)", r"tuple of 1 items"]),
    ("validation_data with sample weights of the wrong length", adam_trained,
     lambda c: c.fit(validation_data=(c.x, c.y, np.ones(5))),
     ValueError, [rf"validation_data sample_weight of {MODEL}", r"one weight per sample \(16\)",
                  r"shape \(5,\)"]),
    ("validation_data y None", adam_trained, lambda c: c.fit(validation_data=(c.x, None)),
     ValueError, [r"validation_data", r"y_val not None"]),
    ("validation_data 0 samples", adam_trained, lambda c: c.fit(validation_data=EMPTY),
     ValueError, [r"got 0 samples in validation_data x"]),
    # fit's other arguments
    ("epochs=-1", adam_trained, lambda c: c.fit(epochs=-1),
     ValueError, [r"fit\(\) argument epochs", r">= 0", r"got -1"]),
    ("epochs=2.5", adam_trained, lambda c: c.fit(epochs=2.5),
     TypeError, [r"fit\(\) argument epochs", r"int", r"2\.5"]),
    ("initial_epoch > epochs", adam_trained, lambda c: c.fit(epochs=2, initial_epoch=3),
     ValueError, [r"initial_epoch", r"<= epochs \(2\)", r"got 3"]),
    ("initial_epoch=-1", adam_trained, lambda c: c.fit(initial_epoch=-1),
     ValueError, [r"initial_epoch", r">= 0", r"got -1"]),
    ("validation_split=1.0", adam_trained, lambda c: c.fit(validation_split=1.0),
     ValueError, [r"validation_split", r"in \[0\.0, 1\.0\)", r"got 1\.0"]),
    ("validation_split=-0.1", adam_trained, lambda c: c.fit(validation_split=-0.1),
     ValueError, [r"validation_split", r"in \[0\.0, 1\.0\)", r"got -0\.1"]),
    ("validation_split='0.1'", adam_trained, lambda c: c.fit(validation_split="0.1"),
     TypeError, [r"validation_split", r"real number", r"'0\.1' of type str"]),
    ("validation_split leaving no training sample", adam_trained,
     lambda c: c.fit(x=c.x[:1], y=c.y[:1], validation_split=0.5),
     ValueError, [r"validation_split=0\.5", r"none of the 1 samples"]),
    ("shuffle='yes'", adam_trained, lambda c: c.fit(shuffle="yes"),
     TypeError, [r"shuffle", r"True or False", r"'yes'"]),
    ("verbose=3", adam_trained, lambda c: c.fit(verbose=3),
     ValueError, [r"verbose", r"0, 1, 2 or 'auto'", r"got 3"]),
    ("evaluate verbose='loud'", adam_trained, lambda c: c.model.evaluate(c.x, c.y, verbose="loud"),
     ValueError, [r"evaluate\(\) argument verbose", r"'loud'"]),
    ("callbacks not a list", adam_trained,
     lambda c: c.model.fit(c.x, c.y, verbose=0, callbacks=callbacks.TerminateOnNaN()),
     TypeError, [r"callbacks must be a list of Callback objects", r"got TerminateOnNaN"]),
    ("callbacks holding a function", adam_trained, lambda c: c.fit(callbacks=[print]),
     TypeError, [r"callbacks must be a list of Callback objects", r"item 1", r"builtin_function"]),
    # the arrays themselves
    ("fit x and y sample counts differ", adam_trained, lambda c: c.fit(y=c.y[:10]),
     ValueError, [r"x with 16", r"y with 10"]),
    ("fit without y", adam_trained, lambda c: c.fit(y=None),
     ValueError, [r"fit\(\) needs inputs x and targets y", r"y=None"]),
    ("fit x wrong feature size", adam_trained, lambda c: c.fit(x=c.x[:, :, :2]),
     ValueError, [rf"x of {MODEL}", r"shape \(None, 4, 3\)", r"got \(16, 4, 2\)"]),
    ("fit x wrong rank", adam_trained, lambda c: c.fit(x=c.x[:, 0]),
     ValueError, [rf"x of {MODEL}", r"shape \(None, 4, 3\)", r"got \(16, 3\)"]),
    ("fit x a scalar", adam_trained, lambda c: c.fit(x=np.float32(1.0), y=c.y[:1]),
     ValueError, [rf"x of {MODEL}", r"batch axis", r"scalar"]),
    ("fit two targets for one output", adam_trained, lambda c: c.fit(y=[c.y, c.y]),
     ValueError, [MODEL, r"1 output\(s\)", r"y holds 2 array\(s\)"]),
    ("functional fit one array for two inputs", functional_trained, lambda c: c.fit(x=c.x[0]),
     ValueError, [MODEL, r"2 input\(s\)", r"x holds 1 array\(s\)"]),
    ("functional fit second input of another size", functional_trained,
     lambda c: c.fit(x=[c.x[0], c.x[1][:, :1]]),
     ValueError, [rf"x\[1\] of {MODEL}", r"shape \(None, 2\)", r"got \(16, 1\)"]),
    ("functional fit inputs with different sample counts", functional_trained,
     lambda c: c.fit(x=[c.x[0], c.x[1][:9]]),
     ValueError, [r"same number of samples", r"\[16, 9\]"]),
    # zero samples, an empty batch
    ("fit on 0 samples", adam_trained, lambda c: c.fit(x=EMPTY[0], y=EMPTY[1]),
     ValueError, [r"fit\(\)"] + ZERO_SAMPLES),
    ("evaluate on 0 samples", adam_trained, lambda c: c.model.evaluate(*EMPTY, verbose=0),
     ValueError, [r"evaluate\(\)"] + ZERO_SAMPLES),
    ("predict on 0 samples", adam_trained, lambda c: c.model.predict(EMPTY[0]),
     ValueError, [r"predict\(\)"] + ZERO_SAMPLES),
    ("train_on_batch on 0 samples", adam_trained, lambda c: c.model.train_on_batch(*EMPTY),
     ValueError, [r"train_on_batch\(\)"] + ZERO_SAMPLES),
    ("test_on_batch on 0 samples", adam_trained, lambda c: c.model.test_on_batch(*EMPTY),
     ValueError, [r"test_on_batch\(\)"] + ZERO_SAMPLES),
    ("predict_on_batch on 0 samples", adam_trained, lambda c: c.model.predict_on_batch(EMPTY[0]),
     ValueError, [r"predict_on_batch\(\)"] + ZERO_SAMPLES),
    ("sequential model called on an empty batch", adam_trained, lambda c: c.model(EMPTY[0]),
     ValueError, [MODEL, r"empty batch \(0 samples\)", r"\(0, 4, 3\)"]),
    ("functional model called on an empty batch", functional_trained,
     lambda c: c.model([EMPTY[0], np.zeros((0, 2), "float32")]),
     ValueError, [MODEL, r"empty batch \(0 samples\)", r"\(0, 4, 3\)"]),
    # an update that makes a weight non-finite is undone
    ("SGD 1e37: fit's first step overflows", sgd_trained,
     lambda c: (jump_after(c, 0), c.fit(epochs=2)),
     NonFiniteLossError, [r"epoch 1, batch 1", r"NaN or infinite", r"undone"]),
    ("SGD 1e37: the last step of the last epoch overflows", sgd_trained,
     lambda c: (jump_after(c, 3), c.fit(epochs=2, shuffle=False)),
     NonFiniteLossError, [r"epoch 2, batch 2", r"NaN or infinite", r"undone"]),
    ("SGD 1e37: train_on_batch overflows", sgd_trained,
     lambda c: (jump_after(c, 0), c.model.train_on_batch(c.x[:4], c.y[:4])),
     NonFiniteLossError, [r"update made the weights \[.+\] NaN or infinite"]),
]


@pytest.mark.parametrize("description, setup, call, error, patterns", ROWS,
                         ids=[row[0] for row in ROWS])
def test_bad_call_is_refused_and_changes_nothing(tmp_path, description, setup, call, error, patterns):
    ctx = setup(tmp_path)
    assert ctx.model.optimizer.iterations == 3 and ctx.model.optimizer._slots  # slots exist
    before = state_of(ctx.model)
    with pytest.raises(error) as info:
        call(ctx)
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    if error is NonFiniteLossError:
        # undone: the state at the start of the failing step, which is the last one recorded
        expected = ctx.probe.states[-1] if ctx.probe.states else before
        assert all(np.isfinite(w).all() for w in ctx.model.get_weights())
    else:
        assert not ctx.probe.began, "refused only after training began"
        expected = before
    assert_same_state(state_of(ctx.model), expected)
    assert not list(tmp_path.iterdir()), "a refused call wrote a file"


def test_rows_cover_each_batch_size_variant_and_method():
    described = {row[0] for row in ROWS}
    assert len(described) == len(ROWS), "descriptions are unique"
    for value in (0, -1, 2.5, True, "8"):
        for what in ("fit batch_size", "fit validation_batch_size", "evaluate batch_size",
                     "predict batch_size"):
            assert f"{what}={value!r}" in described


# -- legitimate calls still work --------------------------------------------------------------------

class BatchCounter(callbacks.Callback):
    log_keys_added = ()

    def __init__(self):
        super().__init__()
        self.sizes = []

    def on_train_batch_end(self, batch, logs=None):
        self.sizes.append(batch)


@pytest.mark.parametrize("batch_size, steps", [(np.int64(8), 5), (np.int32(16), 3), (None, 2), (40, 1)])
def test_batch_size_numpy_int_and_none_meaning_32(tmp_path, batch_size, steps):
    ctx = adam_trained(tmp_path)
    x, y = data(40, seed=4)
    counter = BatchCounter()
    ctx.model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[counter])
    assert len(counter.sizes) == steps  # ceil(40 / batch_size), with None meaning 32
    assert ctx.model.evaluate(x, y, batch_size=batch_size, verbose=0) is not None
    assert ctx.model.predict(x, batch_size=batch_size).shape == (40, 1)


def test_evaluate_matches_numpy_whatever_the_batch_size(tmp_path):
    ctx = adam_trained(tmp_path)
    x, y = data(13, seed=5)
    pred = ctx.model.predict(x, batch_size=None).astype(np.float64)
    expected = np.mean((pred - y) ** 2)
    for batch_size in (1, np.int64(5), None, 13):
        loss, _ = ctx.model.evaluate(x, y, batch_size=batch_size, verbose=0)
        assert loss == pytest.approx(expected, rel=1e-5)


def test_terminate_on_nan_ends_fit_quietly_with_the_overflowing_step_undone(tmp_path):
    ctx = sgd_trained(tmp_path)
    jump_after(ctx, 2)  # two steps of 8 per epoch: the first step of the second epoch overflows
    history = ctx.fit(epochs=3, shuffle=False, callbacks=[callbacks.TerminateOnNaN()])
    assert history.epoch == [0, 1] and ctx.model.stop_training
    assert len(ctx.probe.states) == 2 + 1
    assert_same_state(state_of(ctx.model), ctx.probe.states[-1])
    assert ctx.model.optimizer.iterations == 3 + 2


def test_training_goes_on_after_an_undone_step_as_if_it_never_happened(tmp_path):
    """After the refused train_on_batch, the next steps equal those of a twin that never tried it."""
    ctx, twin = sgd_trained(tmp_path), sgd_trained(tmp_path)
    jump_after(ctx, 0)
    with pytest.raises(NonFiniteLossError):
        ctx.model.train_on_batch(ctx.x[:4], ctx.y[:4])
    ctx.rate.at = None
    for model in (ctx.model, twin.model):
        model.fit(ctx.x, ctx.y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert_same_state({**state_of(ctx.model), "identities": []},
                      {**state_of(twin.model), "identities": []})


def test_nadam_u_product_is_put_back_with_a_refused_step(tmp_path):
    """Nadam keeps one value for the whole optimizer besides the slots (u_product, which every
    step multiplies); a refused step puts it back too, so training goes on as for a twin that
    never tried that step."""
    class Rate:
        """1e-3, or 1e39 (inf in float32: every update is non-finite) while `overflow` is set."""
        overflow = False

        def __call__(self):
            return 1e39 if self.overflow else 1e-3

    def nadam_trained():
        minirnn.set_random_seed(5)
        rate = Rate()
        model = Sequential([Input((T, D)), LSTM(3), Dense(1)], name="net")
        model.compile(optimizer=optimizers.Nadam(learning_rate=rate), loss="mse")
        x, y = data()
        model.fit(x[:12], y[:12], epochs=1, batch_size=4, shuffle=False, verbose=0)
        return context(model, x, y, tmp_path, rate=rate)

    ctx, twin = nadam_trained(), nadam_trained()
    before = state_of(ctx.model)
    assert len(before["optimizer_arrays"]) == 2 * len(ctx.model.trainable_weights) + 1 + 1
    ctx.rate.overflow = True
    with pytest.raises(NonFiniteLossError):
        ctx.model.train_on_batch(ctx.x[:4], ctx.y[:4])
    assert_same_state(state_of(ctx.model), before)
    ctx.rate.overflow = False
    for model in (ctx.model, twin.model):
        model.fit(ctx.x, ctx.y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert_same_state({**state_of(ctx.model), "identities": []},
                      {**state_of(twin.model), "identities": []})


def test_checkpoint_templates_that_fit_can_fill_still_save(tmp_path):
    ctx = adam_trained(tmp_path)
    every_epoch = callbacks.ModelCheckpoint(str(tmp_path / "e{epoch:02d}-{loss:.3f}-{val_mae:.3f}.npz"),
                                            save_weights_only=True)
    every_two = callbacks.ModelCheckpoint(str(tmp_path / "b{epoch}-{batch}.npz"), save_freq=2,
                                          save_weights_only=True)
    history = ctx.model.fit(ctx.x, ctx.y, epochs=2, batch_size=4, verbose=0,
                            validation_data=(ctx.x, ctx.y), callbacks=[every_epoch, every_two])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in names if n.startswith("b")] == ["b1-2.npz", "b1-4.npz", "b2-2.npz", "b2-4.npz"]
    expected = [f"e{e + 1:02d}-{history.history['loss'][e]:.3f}-{history.history['val_mae'][e]:.3f}.npz"
                for e in range(2)]
    assert [n for n in names if n.startswith("e")] == expected


def test_a_key_added_by_an_earlier_callback_may_be_used(tmp_path):
    ctx = adam_trained(tmp_path)
    put = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(score=0.25))
    check = callbacks.ModelCheckpoint(str(tmp_path / "s{score:.2f}.npz"), monitor="score",
                                      save_best_only=True, save_weights_only=True)
    ctx.model.fit(ctx.x, ctx.y, epochs=1, batch_size=8, verbose=0, callbacks=[put, check])
    assert [p.name for p in tmp_path.iterdir()] == ["s0.25.npz"]
    # the same checkpoint before the callback that adds the key is refused before training
    with pytest.raises(ValueError, match="key 'score'"):
        ctx.model.fit(ctx.x, ctx.y, epochs=1, batch_size=8, verbose=0, callbacks=[check, put])


def test_compile_after_training_with_good_arguments_replaces_everything(tmp_path):
    ctx = adam_trained(tmp_path)
    ctx.model.compile(optimizer="sgd", loss="mae", loss_weights=[np.float32(2.0)], metrics=["mse"])
    assert isinstance(ctx.model.optimizer, optimizers.SGD) and ctx.model.loss == "mae"
    x, y = data(8, seed=6)
    pred = ctx.model.predict(x).astype(np.float64)
    loss, mse = ctx.model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(2.0 * np.mean(np.abs(pred - y)), rel=1e-5)
    assert mse == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)


@pytest.mark.parametrize("make", [
    lambda: optimizers.Adam(learning_rate=0.1, amsgrad=True),
    lambda: optimizers.SGD(learning_rate=0.1, momentum=0.5),
    lambda: optimizers.RMSprop(learning_rate=0.1, centered=True, momentum=0.3),
    lambda: optimizers.Adagrad(learning_rate=0.1),
    lambda: optimizers.Nadam(learning_rate=0.1, weight_decay=0.05),
    lambda: optimizers.Adamax(learning_rate=0.1, clipnorm=0.5),
], ids=["adam-amsgrad", "sgd-momentum", "rmsprop-centered", "adagrad", "nadam", "adamax"])
def test_optimizer_state_restore_undoes_one_update(make):
    rng = np.random.default_rng(7)
    old = SimpleNamespace(data=rng.normal(size=(3, 2)), name="old")
    new = SimpleNamespace(data=rng.normal(size=(4,)), name="new")
    opt = make()
    opt.apply([rng.normal(size=(3, 2))], [old])
    slots_before = [np.array(a, copy=True) for a in opt.get_state()]
    state = opt._state()
    opt.apply([rng.normal(size=(3, 2)), rng.normal(size=(4,))], [old, new])
    assert opt.iterations == 2
    opt._restore_state(state)
    assert opt.iterations == 1
    after = opt.get_state()
    assert len(after) == len(slots_before)  # the variable first seen in the undone update is forgotten
    for a, b in zip(after, slots_before):
        np.testing.assert_array_equal(a, b)
    # a second state lends the first one's arrays: nothing new is allocated, values are refreshed
    opt.apply([rng.normal(size=(3, 2))], [old])
    again = opt._state(reuse=state)
    assert all(again[2][0][k] is state[2][0][k] for k in state[2][0])
    for name, array in opt._slots[0].items():
        np.testing.assert_array_equal(again[2][0][name], array)
    # the optimizer-wide slots (Nadam's u_product) are lent and refreshed the same way
    assert again[3].keys() == opt._shared_slots.keys()
    for name, array in opt._shared_slots.items():
        assert again[3][name] is state[3][name]
        np.testing.assert_array_equal(again[3][name], array)


def test_an_undone_step_puts_back_batch_normalization_moving_statistics():
    from minirnn.layers import BatchNormalization
    minirnn.set_random_seed(0)
    model = Sequential([Input((3,)), BatchNormalization(), Dense(1)])
    model.compile(optimizer=optimizers.SGD(learning_rate=1e37), loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32) * 5 + 2
    y = np.full((8, 1), 1e3, np.float32)
    before = model.get_weights()
    with pytest.raises(NonFiniteLossError):
        model.train_on_batch(x, y)
    for got, expected in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, expected)


def test_verbose_true_and_false_are_one_and_zero_as_in_keras(capsys):
    model = Sequential([Input((2,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    model.fit(x, y, verbose=False)
    model.evaluate(x, y, verbose=False)
    model.predict(x, verbose=False)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y, verbose=True)
    assert "loss" in capsys.readouterr().out
