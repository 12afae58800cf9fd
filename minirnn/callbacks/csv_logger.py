"""CSVLogger: one row of logs per epoch in a CSV file, as Keras writes it."""
from __future__ import annotations

import collections.abc
import csv
import os

import numpy as np

from .. import checks
from .callback import Callback

__all__ = ["CSVLogger"]


def _cell(value):
    # Keras's rule: text as it is, a sequence as "[a, b]" (quotes included), a number as it is
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (isinstance(value, np.ndarray)
                                                            and value.ndim == 0):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Write `epoch` (from 0) and the epoch's logs to `filename`, a row per epoch.

    The columns are fixed by the first epoch's logs, sorted by name; when none of them is a
    validation value, a `val_` column is added for each (filled with `NA` while there is no
    validation), as Keras does. `append=True` adds to an existing file and writes the header
    only when the file is empty or absent. Rows end in "\\r\\n" (the csv module's default)."""

    log_keys_added = ()

    def __init__(self, filename: str | os.PathLike, separator: str = ",",
                 append: bool = False) -> None:
        super().__init__()
        try:
            self.filename = os.fspath(filename)
        except TypeError:
            raise TypeError(f"CSVLogger argument filename must be a path; got "
                            f"{type(filename).__name__}") from None
        if not isinstance(self.filename, str):
            self.filename = os.fsdecode(self.filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger argument separator must be one character; got "
                             f"{separator!r}")
        self.sep = separator
        self.append = checks.check_bool(append, "CSVLogger argument append")
        self.writer, self.keys, self.csv_file = None, None, None
        self.append_header = True

    def on_train_begin(self, logs=None):
        if self.append and os.path.exists(self.filename):
            with open(self.filename, "r", encoding="utf-8", newline="") as existing:
                self.append_header = not existing.readline()
        self._close()
        self.csv_file = open(self.filename, "a" if self.append else "w", encoding="utf-8",
                             newline="")
        self.writer, self.keys = None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self.writer is None:
            dialect = type("CSVLoggerDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()
        self.writer = None

    def _close(self):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
