"""History: the per-epoch logs fit returns."""
from __future__ import annotations

from .callback import Callback

__all__ = ["History"]


class History(Callback):
    """Records the logs of every epoch: `history[name]` is a list over epochs."""

    log_keys_added = ()

    def __init__(self) -> None:
        super().__init__()
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
