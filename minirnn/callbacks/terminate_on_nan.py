"""TerminateOnNaN: stop at the first batch whose loss is not finite."""
import numpy as np

from .callback import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (fit keeps the last finite weights)."""

    log_keys_added = ()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
