"""BackupAndRestore: resume an interrupted fit where its last backup left it.

The backup directory holds three files, each written atomically (a temporary file, then a
rename): `latest.weights.npz` (the model's weights, by `model.save_weights`), `optimizer.npz`
(the optimizer's state: step count, learning rate, slots) and `training_metadata.json` (the
epochs done, as Keras's). The metadata is written last, so the epoch it names is never ahead of
the weights beside it.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..checks import check_bool, check_unimplemented
from ..saving.files import write_atomically
from .callback import Callback

__all__ = ["BackupAndRestore"]

_WEIGHTS, _OPTIMIZER, _METADATA = "latest.weights.npz", "optimizer.npz", "training_metadata.json"


class BackupAndRestore(Callback):
    """Back up the model, its optimizer and the epoch count to `backup_dir` after every epoch
    (save_freq="epoch") or every `save_freq` batches; at the start of fit, restore them if a
    backup is there, and fit goes on from the epoch after the last one backed up. When fit
    ends normally the backup is deleted (`delete_checkpoint=True`): only this callback's files,
    and the directory if that leaves it empty. A fit that raises keeps it for the next run.
    Keras's `double_checkpoint` (a second, older backup to fall back on) is not implemented:
    only False is accepted."""

    log_keys_added = ()

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        check_unimplemented(double_checkpoint, "BackupAndRestore argument `double_checkpoint`",
                            False, "a second backup")
        if not backup_dir:
            raise ValueError(f"BackupAndRestore argument backup_dir must be a directory path; "
                             f"got {backup_dir!r}")
        if save_freq != "epoch" and (isinstance(save_freq, (bool, np.bool_))
                                     or not isinstance(save_freq, (int, np.integer))
                                     or save_freq < 1):
            raise ValueError(f"BackupAndRestore argument save_freq must be 'epoch' or an int >= "
                             f"1 (a number of batches); got {save_freq!r}")
        delete_checkpoint = check_bool(delete_checkpoint,
                                       "BackupAndRestore argument delete_checkpoint")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq if save_freq == "epoch" else int(save_freq)
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, _WEIGHTS)
        self._optimizer_path = os.path.join(self.backup_dir, _OPTIMIZER)
        self._training_metadata_path = os.path.join(self.backup_dir, _METADATA)
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    # -- restoring ---------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        if not os.path.exists(self._training_metadata_path):
            return
        with open(self._training_metadata_path, encoding="utf-8") as file:
            try:
                epoch = json.load(file)["epoch"]
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"BackupAndRestore cannot read {self._training_metadata_path}: "
                                 f"{error}") from None
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"BackupAndRestore: {self._training_metadata_path} names epoch "
                             f"{epoch!r}; expected an int >= 0")
        if not self.model.built:
            raise ValueError(f"BackupAndRestore found a backup in {self.backup_dir!r} but model "
                             f"'{self.model.name}' is not built: build it (call it on a batch, or "
                             f"give it an input shape) before fit() so the weights can be loaded")
        optimizer = getattr(self.model, "optimizer", None)
        state = None
        if optimizer is not None and os.path.exists(self._optimizer_path):
            with np.load(self._optimizer_path, allow_pickle=False) as arrays:
                state = [arrays[f"state_{i:03d}"] for i in range(len(arrays.files))]
        self.model.load_weights(self._weights_path)  # checks the file against the model first
        if state is not None:
            optimizer.build(self.model.trainable_weights)
            optimizer.set_state(state)
        self._current_epoch = epoch
        self.model._initial_epoch = epoch  # fit starts from here

    # -- saving ------------------------------------------------------------------------------

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if batch <= self._last_batch_seen:  # a new epoch
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model()

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "get_state"):
            state = {f"state_{i:03d}": a for i, a in enumerate(optimizer.get_state())}
            write_atomically(self._optimizer_path, lambda handle: np.savez(handle, **state))
        self.model.save_weights(self._weights_path)
        metadata = json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen})
        write_atomically(self._training_metadata_path,
                            lambda handle: handle.write(metadata.encode("utf-8")))

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        for path in (self._training_metadata_path, self._weights_path, self._optimizer_path):
            if os.path.exists(path):
                os.remove(path)
        try:
            os.rmdir(self.backup_dir)
        except OSError:  # absent, or holds files that are not ours
            pass
