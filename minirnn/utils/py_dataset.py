"""PyDataset: the base class for batches computed by Python code (keras.utils.PyDataset).

A subclass returns one whole batch from `__getitem__(index)` and the number of batches from
`__len__`; `on_epoch_begin` / `on_epoch_end` may change the data between epochs (fit calls them).
`workers`, `use_multiprocessing` and `max_queue_size` are accepted and stored, as in Keras, so
that Keras code runs unchanged, but minirnn draws the batches one after another in the calling
thread: they configure nothing.
"""
import itertools
import warnings

from ..checks import check_bool, non_negative_int, positive_int

__all__ = ["PyDataset"]


class PyDataset:
    """Subclass it: implement `__getitem__(index)` (batch `index`) and `__len__()` (batch count).

    Iterating it yields self[0], ..., self[len(self) - 1] (without end when `num_batches` is None,
    as for Keras's infinite datasets).
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = non_negative_int(workers, "PyDataset: workers")
        self._use_multiprocessing = check_bool(use_multiprocessing, "PyDataset: use_multiprocessing")
        self._max_queue_size = positive_int(max_queue_size, "PyDataset: max_queue_size")

    def _warn_if_super_not_called(self):
        missing = False
        for name, default in (("_workers", 1), ("_use_multiprocessing", False),
                              ("_max_queue_size", 10)):
            if not hasattr(self, name):
                setattr(self, name, default)
                missing = True
        if missing:
            warnings.warn(f"{type(self).__name__} should call super().__init__(**kwargs) in its "
                          f"constructor (kwargs may hold workers, use_multiprocessing, "
                          f"max_queue_size)", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = non_negative_int(value, "PyDataset: workers")

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = check_bool(value, "PyDataset: use_multiprocessing")

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = positive_int(value, "PyDataset: max_queue_size")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index), "
                                  f"returning batch `index`")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__(), returning the "
                                  f"number of batches (or num_batches, None when endless)")

    @property
    def num_batches(self):
        """The number of batches, or None for an endless dataset (Keras's property)."""
        return len(self)

    def __iter__(self):
        try:
            num_batches = self.num_batches
        except NotImplementedError:
            num_batches = None
        indices = itertools.count() if num_batches is None else range(num_batches)
        for index in indices:
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch (e.g. to reshuffle)."""
