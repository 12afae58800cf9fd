"""The base Callback and the CallbackList fit drives."""
from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from ..checks import check_bool

__all__ = ["Callback", "CallbackList"]


class Callback:
    """Hooks called during training; `self.model` and `self.params` are set by fit.

    `log_keys_added` names the keys a callback writes into the logs it is handed, for the
    callbacks after it to read; None (the default, as for LambdaCallback) means it may add any.
    """

    log_keys_added = None

    def __init__(self) -> None:
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
    """Forwards every hook to each callback in order.

    As Keras's: `add_history` appends a History, `add_progbar` a ProgbarLogger (when none is
    in `callbacks`); the params each callback gets are `params` and any further keywords
    (epochs=..., steps=..., verbose=...)."""

    def __init__(self, callbacks: Sequence[Callback] | None = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None,
                 params: dict[str, Any] | None = None, **more_params: Any) -> None:
        from .history import History  # late: they are Callbacks, made in modules importing this
        from .progbar_logger import ProgbarLogger
        given = list(callbacks or [])
        for cb in given:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; got {type(cb).__name__}")
        add_history = check_bool(add_history, "CallbackList argument add_history")
        add_progbar = check_bool(add_progbar, "CallbackList argument add_progbar")
        super().__init__()
        self.callbacks = given
        if add_history and not any(isinstance(cb, History) for cb in given):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in given):
            self.callbacks.append(ProgbarLogger())
        params = {**(params or {}), **more_params}
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

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
