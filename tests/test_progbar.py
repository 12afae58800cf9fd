"""The progress bar: what a person sees on a terminal after each update, and byte-for-byte what
Keras 3's Progbar and ProgbarLogger write for the same steps at the same (scripted) times."""
import contextlib
import io
import os
import re

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minirnn  # noqa: E402
from minirnn import callbacks  # noqa: E402
from minirnn.callbacks import progbar as our_progbar_module  # noqa: E402

BAR = "\u2501"


class Terminal:
    """A screen that obeys what a progress bar writes: printable characters overwrite the cell
    under the cursor, "\\r" goes to column 0, "\\b" one column left (not past 0), "\\n" to the next
    line, ESC[K clears to the end of the line, ESC[2K the whole line; colours (ESC[...m) show
    nothing. Other escapes are refused, so a test cannot pass by an unknown code."""

    def __init__(self):
        self.rows, self.row, self.col = [[]], 0, 0

    def write(self, text):
        i = 0
        while i < len(text):
            char = text[i]
            if char == "\x1b":
                match = re.match(r"\x1b\[([0-9;]*)([A-Za-z])", text[i:])
                assert match, f"unknown escape sequence at {text[i:i + 8]!r}"
                args, code = match.groups()
                line = self.rows[self.row]
                if code == "K" and args in ("", "0"):
                    del line[self.col:]
                elif code == "K" and args == "2":
                    line.clear()
                else:
                    assert code == "m", f"unexpected escape {match.group(0)!r}"
                i += match.end()
                continue
            if char == "\r":
                self.col = 0
            elif char == "\b":
                self.col = max(self.col - 1, 0)
            elif char == "\n":
                self.row, self.col = self.row + 1, 0
                if self.row == len(self.rows):
                    self.rows.append([])
            else:
                line = self.rows[self.row]
                line.extend(" " * (self.col - len(line)))
                if self.col < len(line):
                    line[self.col] = char
                else:
                    line.append(char)
                self.col += 1
            i += 1

    def flush(self):
        pass

    def isatty(self):
        return True

    def lines(self):
        """What is on screen, line by line (trailing blanks are invisible)."""
        return ["".join(row).rstrip() for row in self.rows]

    def current_line(self):
        return "".join(self.rows[self.row]).rstrip()


def test_the_terminal_shows_stale_characters_that_a_plain_carriage_return_leaves():
    screen = Terminal()
    screen.write("loss: 1.234567")
    screen.write("\rloss: 1.2345")
    assert screen.current_line() == "loss: 1.234567"  # what the old bar left on screen
    screen.write("\r\x1b[Kloss: 1.2")
    assert screen.current_line() == "loss: 1.2"
    screen.write("\b\b\b\bxx\n")
    assert screen.lines() == ["loss:xx.2", ""]


class Clock:
    """time.time() that returns the scripted times, one per call, then stays at the last."""

    def __init__(self, times):
        self.times = list(times)

    def time(self):
        return self.times.pop(0) if len(self.times) > 1 else self.times[0]


def keras_progbar_module():
    from tf_helpers import import_tf
    import_tf()
    from keras.src.utils import progbar
    return progbar


def test_each_redraw_shows_exactly_the_latest_line(monkeypatch):
    # one time.time() at creation, then one per update
    monkeypatch.setattr(our_progbar_module, "time", Clock([1000.0, 1000.5, 1000.7, 1002.7]))
    screen = Terminal()
    bar = callbacks.Progbar(3, stateless_metrics=(), stream=screen)
    bar._dynamic_display = True
    bar.update(1, [("loss", 12345.678)])
    assert screen.lines() == [f"1/3 {BAR * 20} 1s 500ms/step - loss: 12345.6780"]
    bar.update(2, [("loss", 1.5)])
    assert screen.lines() == [f"2/3 {BAR * 20} 0s 200ms/step - loss: 1.5000"]
    bar.update(3, [("loss", 1e-4)])
    assert screen.lines() == [f"3/3 {BAR * 20} 3s 1s/step - loss: 1.0000e-04", ""]


def test_the_bar_is_green_where_done_and_grey_where_not(monkeypatch):
    monkeypatch.setattr(our_progbar_module, "time", Clock([100.0, 100.016]))
    stream = io.StringIO()
    callbacks.Progbar(3, stream=stream).update(1)
    assert (f"\x1b[1m1/3\x1b[0m \x1b[32m{BAR * 6}\x1b[0m\x1b[37m{BAR * 14}\x1b[0m "
            f"\x1b[1m0s\x1b[0m 16ms/step") in stream.getvalue()


def test_a_value_that_averages_over_steps_is_weighted_by_steps(monkeypatch):
    monkeypatch.setattr(our_progbar_module, "time", Clock([100.0, 101.0, 102.0, 103.0]))
    screen = Terminal()
    bar = callbacks.Progbar(10, stateful_metrics=["acc"], stream=screen)
    bar.update(1, [("loss", 4.0), ("acc", 0.5)])
    bar.update(4, [("loss", 1.0), ("acc", 0.25)])  # loss over steps: (4 + 3 * 1) / 4
    assert screen.current_line().endswith(" - loss: 1.7500 - acc: 0.2500")


def test_verbose_2_writes_one_line_at_the_end_and_verbose_0_nothing(monkeypatch):
    monkeypatch.setattr(our_progbar_module, "time", Clock([100.0, 101.0, 102.0, 103.0]))
    stream = io.StringIO()
    bar = callbacks.Progbar(3, verbose=2, stream=stream)
    bar.update(1, [("loss", 2.0)])
    bar.update(2, [("loss", 1.0)])
    assert stream.getvalue() == ""
    bar.update(3, [("loss", 0.0)])
    assert stream.getvalue() == "3/3 - 3s - 1s/step - loss: 0.0000e+00\n"
    quiet = io.StringIO()
    for step in (1, 2, 3):
        callbacks.Progbar(3, verbose=0, stream=quiet).update(step, [("loss", 1.0)])
    assert quiet.getvalue() == ""


def test_progbar_refuses_bad_arguments():
    for kwargs, error, word in [({"target": -1}, ValueError, "target"),
                                ({"target": 3, "width": 0}, ValueError, "width"),
                                ({"target": 3, "verbose": 3}, ValueError, "verbose"),
                                ({"target": 3, "unit_name": 1}, TypeError, "unit_name"),
                                ({"target": 3, "stateful_metrics": ["a"],
                                  "stateless_metrics": ["b"]}, ValueError, "stateless_metrics")]:
        with pytest.raises(error, match=word):
            callbacks.Progbar(**kwargs)


# -- byte for byte against Keras -------------------------------------------------------------------

SCRIPTS = {
    # (target, kwargs, [(time, current, values, finalize)]) after a creation at time 100.0
    "shrinking values": (8, {"stateless_metrics": ()}, [
        (100.016, 1, [("loss", 12345.678), ("mae", 0.5)], None),
        (100.032, 2, [("loss", 1.5), ("mae", 0.25)], None),
        (100.040, 3, [("loss", 1.5), ("mae", 0.25)], None),  # within interval: not drawn
        (100.300, 5, [("loss", -2e-5), ("mae", 1e-3)], None),
        (100.500, 8, [("loss", 0.25), ("mae", 0.125)], None)]),
    "averaged, long steps": (1000, {}, [
        (102.0, 1, [("loss", 3.0)], None),
        (5000.0, 300, [("loss", 1.0)], None),
        (9000.0, 999, [("loss", 0.5)], None),
        (9001.0, 1000, [("loss", 0.25)], True)]),
    "unknown target": (None, {}, [
        (100.5, 1, [("loss", 3.0)], None),
        (101.0, 2, [("loss", 1.0)], None),
        (101.5, 3, [("loss", 0.5)], True)]),
    "microseconds, add": (4, {"unit_name": "sample", "width": 7}, [
        (100.00001, 1, [("x", 1.0)], None),
        (100.00003, 3, None, "add"),  # add(2): from step 1 to 3
        (100.00004, 4, [("x", 2.0)], None)]),
    "verbose 2": (5, {"verbose": 2}, [
        (101.0, 1, [("loss", 3.0)], None),
        (104.0, 5, [("loss", -1.0)], None)]),
}


def play(progbar_class, module, monkeypatch, target, kwargs, steps, dynamic, stream=None):
    monkeypatch.setattr(module, "time", Clock([100.0] + [t for t, *_ in steps]))
    bar = progbar_class(target, **kwargs) if stream is None else \
        progbar_class(target, stream=stream, **kwargs)
    bar._dynamic_display = dynamic
    for _, current, values, finalize in steps:
        if finalize == "add":
            bar.add(2)
        else:
            bar.update(current, values, finalize=finalize)


@pytest.mark.tf
@pytest.mark.parametrize("dynamic", [True, False], ids=["redrawn", "new lines"])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_progbar_writes_what_keras_writes(name, dynamic, monkeypatch):
    keras_module = keras_progbar_module()
    target, kwargs, steps = SCRIPTS[name]
    expected = io.StringIO()
    with contextlib.redirect_stdout(expected):
        play(keras_module.Progbar, keras_module, monkeypatch, target, kwargs, steps, dynamic)
    ours = io.StringIO()
    play(callbacks.Progbar, our_progbar_module, monkeypatch, target, kwargs, steps, dynamic, ours)
    assert ours.getvalue() == expected.getvalue()
    if dynamic and kwargs.get("verbose", 1) == 1:
        screen = Terminal()
        screen.write(ours.getvalue())
        visible = [line for line in screen.lines() if line]
        assert len(visible) == 1  # every redraw landed on the one line


@pytest.mark.tf
def test_an_output_that_cannot_encode_the_bar_gets_keras_fallback(monkeypatch):
    keras_module = keras_progbar_module()
    target, kwargs, steps = SCRIPTS["shrinking values"]

    def ascii_stream():
        return io.TextIOWrapper(io.BytesIO(), encoding="ascii", write_through=True)

    expected = ascii_stream()
    with contextlib.redirect_stdout(expected):
        play(keras_module.Progbar, keras_module, monkeypatch, target, kwargs, steps, True)
    ours = ascii_stream()
    play(callbacks.Progbar, our_progbar_module, monkeypatch, target, kwargs, steps, True, ours)
    assert ours.buffer.getvalue() == expected.buffer.getvalue()
    assert b"8/8 \x1b[1m" not in ours.buffer.getvalue() and b"====" in ours.buffer.getvalue()


def drive_logger(logger, hooks):
    for hook, args in hooks:
        getattr(logger, hook)(*args)


FIT_HOOKS = [("on_train_begin", ())] + [
    hook for epoch in range(2) for hook in
    [("on_epoch_begin", (epoch,))]
    + [("on_train_batch_begin", (b,)) for b in range(1)]
    + [("on_train_batch_end", (b, {"loss": 1.0 / (b + 1 + epoch), "mae": 0.5}))
       for b in range(3)]
    + [("on_epoch_end", (epoch, {"loss": 0.5 - epoch * 0.25, "mae": 0.25, "val_loss": 0.75}))]]
EVALUATE_HOOKS = [("on_test_begin", ())] + [
    ("on_test_batch_end", (b, {"loss": 2.0 / (b + 1)})) for b in range(3)] + [
    ("on_test_end", ({"loss": 0.625},))]
PREDICT_HOOKS = [("on_predict_begin", ())] + [
    ("on_predict_batch_end", (b, {"outputs": np.zeros(2)})) for b in range(3)] + [
    ("on_predict_end", ())]


@pytest.mark.tf
@pytest.mark.parametrize("verbose", [1, 2, "auto"])
@pytest.mark.parametrize("hooks, epochs", [(FIT_HOOKS, 2), (FIT_HOOKS[:7], 1),
                                           (EVALUATE_HOOKS, 1), (PREDICT_HOOKS, 1)],
                         ids=["fit", "fit one epoch", "evaluate", "predict"])
def test_progbar_logger_writes_what_keras_writes(hooks, epochs, verbose, monkeypatch):
    keras_module = keras_progbar_module()
    from keras.src.callbacks.progbar_logger import ProgbarLogger as KerasProgbarLogger
    params = {"verbose": verbose, "epochs": epochs, "steps": 3}
    times = [100.0 + 0.125 * i for i in range(200)]
    outputs = []
    for logger, module in ((KerasProgbarLogger(), keras_module),
                           (callbacks.ProgbarLogger(), our_progbar_module)):
        monkeypatch.setattr(module, "time", Clock(times))
        logger.set_params(params)
        written = io.StringIO()
        with contextlib.redirect_stdout(written):
            drive_logger(logger, hooks)
        outputs.append(written.getvalue())
    assert outputs[1] == outputs[0]
    assert outputs[0]  # something was printed


# -- in fit, evaluate and predict ------------------------------------------------------------------

def tiny_model():
    minirnn.set_random_seed(0)
    model = minirnn.Sequential([minirnn.Input((4, 2)), minirnn.layers.LSTM(3),
                                minirnn.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((20, 4, 2)).astype(np.float32), rng.standard_normal((20, 1))


STEP = r"\d+s \d+(?:us|ms|s)/step"


def test_fit_verbose_1_leaves_one_clean_line_per_epoch(capsys):
    model, x, y = tiny_model()
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=1)
    screen = Terminal()
    screen.write(capsys.readouterr().out)
    lines = screen.lines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and lines[4:] == [""]
    for line, epoch in ((lines[1], 0), (lines[3], 1)):
        match = re.fullmatch(rf"3/3 {BAR * 20} {STEP} - loss: (\S+) - mae: (\S+)", line)
        assert match, line
        assert float(match.group(1)) == pytest.approx(history.history["loss"][epoch], abs=1e-4)


def test_fit_of_one_epoch_prints_no_epoch_line_as_keras(capsys):
    model, x, y = tiny_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose="auto")
    screen = Terminal()
    screen.write(capsys.readouterr().out)
    assert re.fullmatch(rf"3/3 {BAR * 20} {STEP} - loss: \S+ - mae: \S+", screen.lines()[0])
    assert screen.lines()[1:] == [""]


def test_evaluate_and_predict_show_a_bar(capsys):
    model, x, y = tiny_model()
    loss, mae = model.evaluate(x, y, batch_size=8, verbose=1)
    screen = Terminal()
    screen.write(capsys.readouterr().out)
    match = re.fullmatch(rf"3/3 {BAR * 20} {STEP} - loss: (\S+) - mae: (\S+)", screen.lines()[0])
    assert match, screen.lines()
    assert float(match.group(1)) == pytest.approx(loss, abs=1e-4)
    assert screen.lines()[1:] == [""]
    model.predict(x, batch_size=16, verbose=1)
    screen = Terminal()
    screen.write(capsys.readouterr().out)
    assert re.fullmatch(rf"2/2 {BAR * 20} {STEP}", screen.lines()[0]), screen.lines()
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_callbacks_without_a_model_drive_a_bar(capsys, monkeypatch):
    # created at 100, steps at 100.5 and 101, the end at 101.25: the first step is left out of
    # the time per step, (101.25 - 100.5) / 1
    monkeypatch.setattr(our_progbar_module, "time", Clock([100.0, 100.5, 101.0, 101.25]))
    progress = callbacks.progress_callbacks(1, steps=2)
    progress.on_test_begin()
    progress.on_test_batch_end(0, {"loss": 1.0})
    progress.on_test_batch_end(1, {"loss": 0.5})
    progress.on_test_end({"loss": 0.5})
    screen = Terminal()
    screen.write(capsys.readouterr().out)
    assert screen.lines() == [f"2/2 {BAR * 20} 1s 750ms/step - loss: 0.5000", ""]
    silent = callbacks.progress_callbacks(0, steps=2)
    silent.on_predict_begin()
    silent.on_predict_batch_end(0, {})
    silent.on_predict_end()
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose"):
        callbacks.progress_callbacks(3, steps=2)
