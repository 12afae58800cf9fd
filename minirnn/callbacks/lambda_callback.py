"""LambdaCallback: a callback made of plain functions."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .callback import Callback

__all__ = ["LambdaCallback"]

# a hook's function: (epoch or batch, logs) or (logs), as the hook is called; None for no hook
Hook = Callable[..., Any] | None


class LambdaCallback(Callback):
    """A callback from plain functions: on_epoch_end=lambda epoch, logs: ..., and so on."""

    def __init__(self, on_epoch_begin: Hook = None, on_epoch_end: Hook = None,
                 on_train_begin: Hook = None, on_train_end: Hook = None,
                 on_train_batch_begin: Hook = None, on_train_batch_end: Hook = None,
                 **kwargs: Hook) -> None:
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
