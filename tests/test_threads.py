"""Grad mode and the layers' training and tracing flags belong to each thread, as in PyTorch and
Keras: what one thread does (predict, no_grad, fit, building a functional model) never changes
what another thread computes.

The overlaps are forced, not hoped for: a `Gate` layer stops a chosen thread inside its model
call until the test lets it go, so every try meets the interleaving it is about. Each race is
tried TRIES times. Expected values are hand formulas in float64 (one SGD step on a Dense layer
under mean squared error; x @ W + b for a Dense output without dropout).
"""
import asyncio
import gc
import threading
import time

import numpy as np
import pytest

import minirnn
from minirnn import Input, Model, Sequential, ops, optimizers
from minirnn.layers import Dense, Dropout, Layer
from minirnn.layers import base as layers_base
from minirnn.layers.base import is_tracing, is_training
from minirnn.layers.collector import gc_paused

TRIES = 20
WAIT_S = 10  # a held thread gives up after this long, so a broken test fails instead of hanging
N, D, UNITS, LR = 8, 3, 2, 0.1


class Hold:
    """Stops one thread at a Gate: `reached` is set when it arrives, it waits for `release`."""

    def __init__(self):
        self.reached, self.release = threading.Event(), threading.Event()
        self.flags = None  # (is_grad_enabled, is_training, is_tracing) seen by the held thread


class Gate(Layer):
    """The identity, except for the threads it holds."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.holds = {}

    def call(self, inputs):
        hold = self.holds.get(threading.current_thread())
        if hold is not None:
            hold.flags = (minirnn.is_grad_enabled(), is_training(), is_tracing())
            hold.reached.set()
            if not hold.release.wait(WAIT_S):
                raise RuntimeError("the test never released this thread")
        return inputs


def flags():
    return minirnn.is_grad_enabled(), is_training(), is_tracing()


def start_held(gate, fn):
    """Run fn in a new thread and wait until that thread is held at gate.
    Returns (thread, hold, errors): errors collects what the thread raised."""
    errors = []

    def run():
        try:
            fn()
        except BaseException as error:  # reported by finish()
            errors.append(error)
    thread = threading.Thread(target=run, daemon=True)
    hold = gate.holds[thread] = Hold()
    thread.start()
    if not hold.reached.wait(WAIT_S):
        raise RuntimeError(f"the thread never reached the gate: {errors}")
    return thread, hold, errors


def finish(thread, hold, errors):
    hold.release.set()
    thread.join(WAIT_S)
    assert not thread.is_alive(), "a released thread did not finish"
    if errors:
        raise errors[0]


def run_tries(one_try):
    """Run one_try TRIES times; report how many failed and the first failure."""
    problems = []
    for i in range(TRIES):
        try:
            one_try()
        except Exception as error:  # collected, then reported all together below
            problems.append(f"try {i}: {type(error).__name__}: {error}")
    assert not problems, f"{len(problems)} of {TRIES} tries failed; first: {problems[0]}"


def problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype("float32")
    y = rng.normal(size=(N, UNITS)).astype("float32")
    return x, y


def gated_model(dropout=None):
    """Input -> Gate -> Dense(UNITS) [-> Dropout], compiled with SGD and MSE."""
    minirnn.set_random_seed(0)
    gate = Gate()
    stack = [Input((D,)), gate, Dense(UNITS)] + ([Dropout(dropout)] if dropout else [])
    model = Sequential(stack)
    model.compile(optimizers.SGD(learning_rate=LR), "mse")
    return model, gate


def sgd_step_by_hand(w, b, x, y):
    """One SGD step on y ~ x @ w + b under Keras's mean squared error (mean over all entries)."""
    x, y, w, b = (np.asarray(a, np.float64) for a in (x, y, w, b))
    residual = x @ w + b - y
    scale = 2.0 / residual.size
    return w - LR * scale * x.T @ residual, b - LR * scale * residual.sum(axis=0)


def dense_by_hand(model, x):
    w, b = model.get_weights()
    return np.asarray(x, np.float64) @ w + b


def assert_fit_step_by_hand(model, x, y):
    """fit one full batch and compare the new weights with the hand-computed SGD step."""
    w, b = model.get_weights()
    expected_w, expected_b = sgd_step_by_hand(w, b, x, y)
    model.fit(x, y, batch_size=N, epochs=1, shuffle=False, verbose=0)
    new_w, new_b = model.get_weights()
    np.testing.assert_allclose(new_w, expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_b, expected_b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(new_w, w), "fit did not change the weights"


# -- grad mode ---------------------------------------------------------------------------------

def test_fit_trains_while_another_thread_predicts():
    model, gate = gated_model()
    x, y = problem()

    def one_try():
        held = start_held(gate, lambda: model.predict(x, batch_size=N))
        try:
            assert_fit_step_by_hand(model, x, y)
            assert flags() == (True, False, False)
        finally:
            finish(*held)
        assert held[1].flags == (False, False, False)  # predict's own no_grad, inference mode
    run_tries(one_try)


def test_gradients_flow_while_another_thread_holds_no_grad():
    def one_try():
        entered, release, seen = threading.Event(), threading.Event(), []

        def hold_no_grad():
            with minirnn.no_grad():
                entered.set()
                release.wait(WAIT_S)
                seen.append(minirnn.is_grad_enabled())
        thread = threading.Thread(target=hold_no_grad, daemon=True)
        thread.start()
        assert entered.wait(WAIT_S)
        try:
            x = minirnn.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
            loss = (ops.tanh(x) * x).sum()
            loss.backward()
            value = x.data
            expected = np.tanh(value) + value * (1.0 - np.tanh(value) ** 2)  # d/dx x tanh(x)
            np.testing.assert_allclose(x.grad, expected, rtol=1e-12)
        finally:
            release.set()
            thread.join(WAIT_S)
        assert seen == [False], "the other thread's no_grad was switched off from outside"
        assert minirnn.is_grad_enabled()
    run_tries(one_try)


def test_concurrent_predicts_leave_grad_mode_on_and_fit_works():
    model, gate = gated_model()
    x, y = problem()

    def one_try():
        # four predicts inside the model at once, let go in the order they came in: with one
        # process-wide flag the last to leave restores "off", the value it found on entering
        helds = [start_held(gate, lambda: model.predict(x, batch_size=N)) for _ in range(4)]
        for held in helds:
            finish(*held)
        assert [h[1].flags for h in helds] == [(False, False, False)] * 4
        assert_fit_step_by_hand(model, x, y)
        assert flags() == (True, False, False)
    run_tries(one_try)


def test_asyncio_tasks_keep_their_own_grad_mode():
    async def holds_no_grad(entered, release):
        with minirnn.no_grad():
            entered.set()
            await release.wait()
            return minirnn.is_grad_enabled()

    async def computes_gradients(entered, release):
        await entered.wait()
        try:
            x = minirnn.tensor(np.array([1.0, -2.0]), requires_grad=True)
            (x * x).sum().backward()
            return x.grad
        finally:
            release.set()

    async def main():
        entered, release = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(holds_no_grad(entered, release),
                                    computes_gradients(entered, release))
    for _ in range(TRIES):
        inside, grad = asyncio.run(main())
        assert inside is False
        np.testing.assert_array_equal(grad, [2.0, -4.0])


# -- the training and tracing flags ------------------------------------------------------------

def test_model_call_applies_no_dropout_during_and_after_training_in_other_threads():
    model, gate = gated_model(dropout=0.5)
    x, y = problem()

    def one_try():
        trainer = start_held(gate, lambda: model.fit(x, y, batch_size=N, epochs=1,
                                                     shuffle=False, verbose=0))
        try:
            np.testing.assert_allclose(model(x).data, dense_by_hand(model, x), rtol=1e-5, atol=1e-6)
            assert flags() == (True, False, False)
            # a predict enters while the fit is inside; they leave in the order they came in
            predictor = start_held(gate, lambda: model.predict(x, batch_size=N))
        finally:
            finish(*trainer)
        finish(*predictor)
        assert trainer[1].flags == (True, True, False)
        assert predictor[1].flags == (False, False, False)
        np.testing.assert_allclose(model(x).data, dense_by_hand(model, x), rtol=1e-5, atol=1e-6)
        assert flags() == (True, False, False)
    run_tries(one_try)


def test_building_a_functional_model_in_another_thread_is_no_tracing_here():
    def one_try():
        gate = Gate()
        inputs = Input((D,))
        held = start_held(gate, lambda: Model(inputs, Dense(UNITS)(gate(inputs))))
        try:
            assert flags() == (True, False, False)
        finally:
            finish(*held)
        assert held[1].flags == (False, False, True)  # shapes inferred under no_grad, tracing
    run_tries(one_try)


class ThreadSpawner(Layer):
    """Records the flags a thread started from inside its call sees."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, inputs, training=None):
        child = []
        thread = threading.Thread(target=lambda: child.append(flags()))
        thread.start()
        thread.join(WAIT_S)
        self.seen.append((flags(), child[0]))
        return inputs


def test_a_new_thread_starts_with_grad_on_and_no_layer_flags():
    spawner = ThreadSpawner()
    x = np.ones((2, D), "float32")
    with minirnn.no_grad():
        spawner(x, training=True)
    inputs = Input((D,))
    Model(inputs, spawner(inputs))  # the spawning thread traces, under no_grad
    assert spawner.seen == [((False, True, False), (True, False, False)),
                            ((False, False, True), (True, False, False))]


# -- process-wide state shared safely ----------------------------------------------------------

class ThreadProbe(Layer):
    pass


class SlowCounts(dict):
    """A name-count table whose read stops for a moment, so that other threads run between
    reading a name's count and storing the next one, where they would meet the same count."""

    def get(self, *args):
        value = super().get(*args)
        time.sleep(1e-4)  # gives up the GIL
        return value


def test_layers_made_in_many_threads_get_distinct_names(monkeypatch):
    threads, per_thread = 8, 20

    def one_try():
        monkeypatch.setattr(layers_base, "_NAME_COUNTS", SlowCounts())
        start = threading.Barrier(threads)
        names = [[] for _ in range(threads)]

        def make(out):
            start.wait(WAIT_S)
            out.extend(ThreadProbe().name for _ in range(per_thread))
        workers = [threading.Thread(target=make, args=(out,)) for out in names]
        for w in workers:
            w.start()
        for w in workers:
            w.join(WAIT_S)
        every = [n for out in names for n in out]
        assert len(every) == threads * per_thread
        assert len(set(every)) == len(every), f"{len(every) - len(set(every))} names given twice"
    run_tries(one_try)


def test_gc_stays_paused_while_any_thread_records():
    assert gc.isenabled()

    def one_try():
        entered, release = threading.Event(), threading.Event()

        def record():
            with gc_paused():
                entered.set()
                release.wait(WAIT_S)
        thread = threading.Thread(target=record, daemon=True)
        try:
            with gc_paused():
                thread.start()
                assert entered.wait(WAIT_S)
            assert not gc.isenabled(), "the other thread's pause was ended from here"
        finally:
            release.set()
            thread.join(WAIT_S)
        assert gc.isenabled()
    try:
        run_tries(one_try)
    finally:
        gc.enable()


def test_floatx_and_the_seed_are_process_wide():
    seen = []

    def read():
        seen.append((minirnn.floatx(), minirnn.random.generator().random()))
    minirnn.set_floatx("float64")
    minirnn.set_random_seed(7)
    thread = threading.Thread(target=read)
    thread.start()
    thread.join(WAIT_S)
    assert seen == [("float64", np.random.default_rng(7).random())]
