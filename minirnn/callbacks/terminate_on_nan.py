"""TerminateOnNaN: stop at the first batch whose loss is not finite."""
from __future__ import annotations

import numpy as np

from ..checks import check_bool
from .callback import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (fit keeps the last finite weights).

    raise_error: False (Keras's default) stops fit as any callback does (on_train_end runs);
    True raises RuntimeError at once, as Keras does, so that no later callback cleans up."""

    log_keys_added = ()

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = check_bool(raise_error, "TerminateOnNaN argument raise_error")

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
