"""ProgbarLogger: the progress bar of fit, evaluate and predict, as Keras 3 prints it.

fit: `Epoch 3/5` (when there is more than one epoch), then a live bar per epoch (verbose=1) or
one line per epoch (verbose=2). evaluate and predict: one bar. `progress_callbacks` builds what
evaluate and predict drive.
"""
from __future__ import annotations

import sys
from typing import TextIO

from ..checks import check_verbosity
from .callback import Callback, CallbackList
from .progbar import Progbar

__all__ = ["ProgbarLogger", "progress_callbacks"]


class ProgbarLogger(Callback):
    """Prints progress: the target is `params["steps"]`, the verbosity `params["verbose"]`
    unless `verbose` is given here; `stream` defaults to sys.stdout."""

    log_keys_added = ()

    def __init__(self, verbose: int | str | None = None, stream: TextIO | None = None) -> None:
        super().__init__()
        self._verbose = (None if verbose is None
                         else check_verbosity(verbose, "ProgbarLogger argument verbose"))
        self.stream = stream
        self.verbose, self.epochs, self.target = 1, 1, None
        self.seen, self.progbar = 0, None
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        params = params or {}
        if self._verbose is not None:
            self.verbose = self._verbose
        else:
            self.verbose = check_verbosity(params.get("verbose", 1),
                                           "ProgbarLogger params['verbose']")
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # validation inside fit is silent

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        if self.verbose and self.epochs > 1:
            self._print(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_begin(self, logs=None):
        self._reset_progbar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # the predictions are no metrics

    def on_predict_end(self, logs=None):
        self._finalize_progbar(None)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = Progbar(self.target, verbose=self.verbose, unit_name="step",
                               stateless_metrics=(), stream=self.stream)

    def _update_progbar(self, batch, logs):
        if self.progbar is None:
            self._reset_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs):
        if self.progbar is None:
            self._reset_progbar()
        if self.target is None:  # the step count is known now
            self.target = self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def _print(self, text):
        stream = sys.stdout if self.stream is None else self.stream
        stream.write(text)
        stream.flush()


def progress_callbacks(verbose, steps, model=None, callbacks=()):
    """The CallbackList that evaluate() and predict() drive over `steps` batches: the user's
    `callbacks`, then a ProgbarLogger when verbose is 1 or 2 ("auto" is 1, as in Keras)."""
    verbose = check_verbosity(verbose, "evaluate()/predict() argument verbose")
    loggers = [ProgbarLogger()] if verbose else []
    return CallbackList(list(callbacks) + loggers, model=model,
                        params={"verbose": verbose, "epochs": 1, "steps": steps})
