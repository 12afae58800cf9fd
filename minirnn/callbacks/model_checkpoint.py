"""ModelCheckpoint: save the model or its weights as training goes."""
from __future__ import annotations

import math
import os
import string

import numpy as np

from ..checks import check_float
from .callback import Callback
from .monitor import improvement_op

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after every epoch (or every `save_freq` batches), or only
    when `monitor` improves. `filepath` may hold format fields such as `{epoch:02d}`,
    `{val_loss:.2f}` and, with an int `save_freq`, `{batch}`; fit checks them before training.
    `initial_value_threshold` (with save_best_only): the value `monitor` must beat before the
    first save, as in Keras; None starts from the worst value."""

    log_keys_added = ()

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__()
        if initial_value_threshold is not None:
            initial_value_threshold = check_float(
                initial_value_threshold, "ModelCheckpoint argument initial_value_threshold")
        if save_freq != "epoch" and (isinstance(save_freq, (bool, np.bool_))
                                     or not isinstance(save_freq, (int, np.integer))
                                     or save_freq < 1):
            raise ValueError(f"ModelCheckpoint's save_freq must be 'epoch' or an int >= 1 (a "
                             f"number of batches); got {save_freq!r}")
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        _check_checkpoint_path(self.filepath, save_weights_only)
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.save_freq = save_freq if save_freq == "epoch" else int(save_freq)
        self.better = improvement_op(mode, monitor, "ModelCheckpoint")
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold if initial_value_threshold is not None else \
            -math.inf if self.better is np.greater else math.inf
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
