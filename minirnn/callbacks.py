"""Callbacks for fit/evaluate/predict, with Keras's names: History, ProgbarLogger, EarlyStopping,
ModelCheckpoint, TerminateOnNaN, LambdaCallback."""
import inspect
import math
import string
import sys
import time

import numpy as np

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "TerminateOnNaN", "LambdaCallback", "Progbar"]


class Callback:
    """Hooks called during training; `self.model` and `self.params` are set by fit.

    `log_keys_added` names the keys a callback writes into the logs it is handed, for the
    callbacks after it to read; None (the default, as for LambdaCallback) means it may add any.
    """

    log_keys_added = None

    def __init__(self):
        self.model, self.params = None, {}

    def _validate(self, model, params, log_keys, more_keys_possible):
        """Raise, before the first training step, what on_*() would only find out later.

        `log_keys` are the keys fit's epoch logs will hold (params["metrics"]);
        `more_keys_possible` is True when a callback before this one may add others."""

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

    def _validate(self, model, params, log_keys=None, more_keys_possible=False):
        """Each callback's own checks, told which log keys it can count on: the model's, and
        those the callbacks before it declare (see `Callback.log_keys_added`)."""
        keys = list(params.get("metrics", []) if log_keys is None else log_keys)
        for cb in self.callbacks:
            cb._validate(model, params, tuple(keys), more_keys_possible)
            if cb.log_keys_added is None:
                more_keys_possible = True
            else:
                keys += [k for k in cb.log_keys_added if k not in keys]


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

    log_keys_added = ()

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

    log_keys_added = ()

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

    log_keys_added = ()

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.better = _improvement(mode, monitor)
        self.min_delta = abs(min_delta) if self.better is np.greater else -abs(min_delta)

    def _validate(self, model, params, log_keys, more_keys_possible):
        if self.monitor not in log_keys and not more_keys_possible:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which fit will not log; "
                             f"it logs {sorted(log_keys)}")

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
    """Save the model (or its weights) after every epoch (or every `save_freq` batches), or only
    when `monitor` improves. `filepath` may hold format fields such as `{epoch:02d}`,
    `{val_loss:.2f}` and, with an int `save_freq`, `{batch}`; fit checks them before training."""

    log_keys_added = ()

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch"):
        super().__init__()
        if save_freq != "epoch" and (isinstance(save_freq, (bool, np.bool_))
                                     or not isinstance(save_freq, (int, np.integer))
                                     or save_freq < 1):
            raise ValueError(f"ModelCheckpoint's save_freq must be 'epoch' or an int >= 1 (a "
                             f"number of batches); got {save_freq!r}")
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        _check_checkpoint_path(self.filepath, save_weights_only)
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.save_freq = save_freq if save_freq == "epoch" else int(save_freq)
        self.better = _improvement(mode, monitor)
        self.best = -math.inf if self.better is np.greater else math.inf
        self._batches_since_save, self._epoch = 0, 0

    def _validate(self, model, params, log_keys, more_keys_possible):
        if self.save_freq != "epoch":  # batch logs: no validation values
            log_keys = tuple(k for k in log_keys if not k.startswith("val_"))
        self._check_filepath(log_keys, more_keys_possible)
        if self.save_best_only and self.monitor not in log_keys and not more_keys_possible:
            raise ValueError(f"ModelCheckpoint({self.filepath!r}) monitors {self.monitor!r}, "
                             f"which fit will not log; it logs {sorted(log_keys)}")

    def _check_filepath(self, log_keys, more_keys_possible=False):
        """Format `filepath` with the values it will be given (epoch, batch for an int
        save_freq, and `log_keys`), so a bad field fails now rather than after an epoch."""
        values = {key: 0.5 for key in log_keys}
        values["epoch"] = 1
        if self.save_freq != "epoch":
            values["batch"] = 1
        available = sorted(values)
        for _, field, spec, conversion in string.Formatter().parse(self.filepath):
            if field is None:
                continue
            key = field.split(".")[0].split("[")[0]
            if key == "" or key.isdigit():
                raise ValueError(f"ModelCheckpoint filepath {self.filepath!r} has a positional "
                                 f"field {{{field}}}; use the names of {available}")
            if key not in values:
                if more_keys_possible:  # a callback before this one may put it in the logs
                    continue
                raise ValueError(f"ModelCheckpoint filepath {self.filepath!r} uses the key "
                                 f"{key!r}, which fit will not log; available keys: {available}")
            template = "{" + field + ("!" + conversion if conversion else "") + \
                       (":" + spec if spec else "") + "}"
            try:
                template.format(**values)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
                kind = "an int" if isinstance(values[key], int) else "a float"
                raise ValueError(f"ModelCheckpoint filepath {self.filepath!r} cannot format "
                                 f"the key {key!r} (given {kind}) with {template!r}: {error}; "
                                 f"available keys: {available}") from None

    def _file_path(self, epoch, batch, logs):
        if batch is None or "batch" in logs:
            return self.filepath.format(epoch=epoch + 1, **logs)
        return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _save(self, epoch, batch, logs):
        path = self._file_path(epoch, batch, logs)
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


def _check_checkpoint_path(filepath, save_weights_only):
    """As Keras 3: weights go to '.weights.h5' (or minirnn's '.npz'), a whole model to '.keras'
    (or '.npz'); checked when the callback is made, not after the first epoch."""
    path = filepath.lower()
    if save_weights_only and not path.endswith((".weights.h5", ".npz")):
        raise ValueError(f"ModelCheckpoint with save_weights_only=True needs a filepath ending in "
                         f"'.weights.h5' (Keras's) or '.npz' (minirnn's); got {filepath!r}")
    if not save_weights_only and not path.endswith((".keras", ".npz")):
        raise ValueError(f"ModelCheckpoint saving the whole model needs a filepath ending in "
                         f"'.keras' (Keras's) or '.npz' (minirnn's); got {filepath!r}")


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (fit keeps the last finite weights)."""

    log_keys_added = ()

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
