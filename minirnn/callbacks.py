"""Callbacks for fit/evaluate/predict, with Keras's names: History, ProgbarLogger, EarlyStopping,
ModelCheckpoint, TerminateOnNaN, LambdaCallback."""
import inspect
import math
import sys
import time

import numpy as np

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "TerminateOnNaN", "LambdaCallback", "Progbar"]


class Callback:
    """Hooks called during training; `self.model` and `self.params` are set by fit."""

    def __init__(self):
        self.model, self.params = None, {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class CallbackList(Callback):
    """Forwards every hook to each callback in order."""

    def __init__(self, callbacks, model=None, params=None):
        super().__init__()
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; got {type(cb).__name__}")
            cb.set_model(model)
            cb.set_params(params or {})



def _forward(hook):
    # As Keras's CallbackList: every hook gets its logs, a dict ({} when there are none), so that
    # LambdaCallback(on_epoch_begin=lambda epoch, logs: ...) and the like are called as written.
    arity = len(inspect.signature(getattr(Callback, hook)).parameters) - 1  # without self

    def call_each(self, *args, logs=None):
        args = list(args)
        if len(args) == arity:
            args, logs = args[:-1], args[-1] if logs is None else logs
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)
    return call_each


for _hook in [name for name in vars(Callback) if name.startswith("on_")]:
    setattr(CallbackList, _hook, _forward(_hook))


class History(Callback):
    """Records the logs of every epoch: `history[name]` is a list over epochs."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _format_logs(logs):
    return "".join(f" - {k}: {v:.4f}" if abs(v) >= 1e-3 or v == 0 else f" - {k}: {v:.4e}"
                   for k, v in logs.items())


def _format_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


class Progbar:
    """A live progress bar: `12/32 [=====>........] - ETA: 3s - loss: 0.1234`."""

    def __init__(self, target, width=30, stream=None, interval=0.05):
        self.target, self.width, self.interval = target, width, interval
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, current, logs=None, finalize=False):
        now = time.perf_counter()
        if not finalize and now - self._last_draw < self.interval and current < self.target:
            return
        self._last_draw = now
        elapsed = now - self.start
        filled = int(self.width * current / max(self.target, 1))
        bar = "=" * max(filled - 1, 0) + (">" if current < self.target else "=") * (filled > 0)
        line = f"{current}/{self.target} [{bar}{'.' * (self.width - len(bar))}]"
        if finalize:
            per_step = elapsed / max(current, 1)
            line += f" - {_format_time(elapsed)} {per_step * 1e3:.0f}ms/step"
        else:
            eta = elapsed / max(current, 1) * (self.target - current)
            line += f" - ETA: {_format_time(eta)}"
        self.stream.write("\r" + line + _format_logs(logs or {}) + ("\n" if finalize else ""))
        self.stream.flush()


class ProgbarLogger(Callback):
    """Prints training progress: verbose=1 a live bar per batch, verbose=2 one line per epoch."""

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose, self.stream = verbose, stream or sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self.stream.write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")
        self.steps = self.params.get("steps", 0)
        self.bar = Progbar(self.steps, stream=self.stream) if self.verbose == 1 else None
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.update(self.steps, logs, finalize=True)
        else:
            elapsed = time.perf_counter() - self.started
            self.stream.write(f"{self.steps}/{self.steps} - {_format_time(elapsed)} - "
                              f"{elapsed / max(self.steps, 1) * 1e3:.0f}ms/step{_format_logs(logs or {})}\n")
        self.stream.flush()


def _improvement(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor or monitor.endswith("auc") else "min"
    return np.less if mode == "min" else np.greater


class EarlyStopping(Callback):
    """Stop when `monitor` stops improving for `patience` epochs; optionally restore the best weights."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.better = _improvement(mode, monitor)
        self.min_delta = abs(min_delta) if self.better is np.greater else -abs(min_delta)

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = -math.inf if self.better is np.greater else math.inf
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which is not among the "
                             f"logged values {sorted(logs or {})}")
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self.better(current - self.min_delta, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self.better(current - self.min_delta, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after every epoch, or only when `monitor` improves.
    `filepath` may hold format fields such as `{epoch:02d}` and `{val_loss:.2f}`."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto"):
        super().__init__()
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.better = _improvement(mode, monitor)
        self.best = -math.inf if self.better is np.greater else math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                raise ValueError(f"ModelCheckpoint monitors {self.monitor!r}, which is not among "
                                 f"the logged values {sorted(logs)}")
            if not self.better(current, self.best):
                return
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (fit keeps the last finite weights)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: on_epoch_end=lambda epoch, logs: ..., and so on."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback got an unknown hook {name!r}")
            if fn is not None:
                setattr(self, name, fn)
