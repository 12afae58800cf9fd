"""Where fit, evaluate and predict get their batches, as Keras's data adapters and EpochIterator.

One small adapter per kind of data: arrays (sliced here, already checked whole), a PyDataset
(batches by index, their order shuffled each epoch), a one-shot iterator such as a generator
(used up as it is read), and any other re-iterable source of batches (a tf.data.Dataset, a
minirnn utils dataset, ...). An adapter says how many batches a pass holds (`num_batches`, None
when it cannot know) and starts a pass (`new_pass()`); the EpochIterator draws each epoch's
batches from it, passing every batch that was not sliced from checked arrays through the
trainer's `check`, so a bad batch is refused before its step.
"""
import itertools
import math
import numbers
import warnings

import numpy as np

from ..random import generator
from ..tensor import Tensor

__all__ = ["ArrayAdapter", "PyDatasetAdapter", "IteratorAdapter", "IterableAdapter",
           "EpochIterator", "is_array_like", "is_tf_dataset", "is_py_dataset", "adapter_for"]

RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset or "
           "generator can generate at least `steps_per_epoch * epochs` batches. You may need to "
           "use the `.repeat()` function when building your dataset.")


def is_tf_dataset(x):
    """A tf.data.Dataset, recognised by its class's module (TensorFlow is never imported here)."""
    return any(cls.__name__ in ("DatasetV2", "DatasetV1") and "tensorflow" in str(cls.__module__)
               for cls in type(x).__mro__)


def is_py_dataset(x):
    """Keras's PyDataset (or Sequence) protocol: batches by index, a length, on_epoch_end."""
    return (hasattr(x, "__getitem__") and hasattr(x, "on_epoch_end")
            and (hasattr(x, "__len__") or hasattr(type(x), "num_batches")))


def is_array_like(x):
    """Data given whole, to be sliced into batches: arrays, Tensors, and lists, tuples or dicts
    of them (one per input or output)."""
    return (isinstance(x, (np.ndarray, Tensor, list, tuple, dict, numbers.Number, str, bytes))
            or hasattr(x, "__array__"))


def _take(arrays, index):
    return [a[index] for a in arrays]


class _Adapter:
    """The epoch hooks an adapter's source may have; most have none."""

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


class ArrayAdapter(_Adapter):
    """Batches sliced from arrays checked whole beforehand: each pass a new permutation when
    shuffling (drawn from minirnn's seeded generator), else slices in order."""

    one_shot, endless, checked = False, False, True

    def __init__(self, xs, ys, sample_weights, n, batch_size, shuffle, pack_x, pack_y):
        self.xs, self.ys, self.sample_weights, self.n = xs, ys, sample_weights, n
        self.batch_size, self.shuffle = batch_size, shuffle
        self.pack_x, self.pack_y = pack_x, pack_y
        self.num_batches = math.ceil(n / batch_size)

    def new_pass(self):
        order = generator().permutation(self.n) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order):
        xs, ys, sws, n, size = self.xs, self.ys, self.sample_weights, self.n, self.batch_size
        for start in range(0, n, size):
            index = slice(start, start + size) if order is None else order[start:start + size]
            yield (self.pack_x(_take(xs, index)),
                   None if ys is None else self.pack_y(_take(ys, index)),
                   None if sws is None else _take(sws, index),
                   min(size, n - start))


class PyDatasetAdapter(_Adapter):
    """A PyDataset: batch i is `dataset[i]`. Its batch order is shuffled each pass unless
    shuffle=False (as Keras does); `num_batches` None is an endless dataset, read 0, 1, 2, ...
    Its on_epoch_begin / on_epoch_end are called around every epoch."""

    one_shot, checked = False, False

    def __init__(self, dataset, shuffle):
        self.dataset, self.shuffle = dataset, shuffle
        count = dataset.num_batches if hasattr(type(dataset), "num_batches") else len(dataset)
        if count is not None and (isinstance(count, bool) or not isinstance(count, numbers.Integral)
                                  or count < 0):
            raise ValueError(f"{type(dataset).__name__} gives a number of batches that is not an "
                             f"int >= 0: {count!r}")
        self.num_batches = None if count is None else int(count)
        self.endless = count is None

    def new_pass(self):
        if self.endless:
            indices = itertools.count()
        elif self.shuffle:
            indices = generator().permutation(self.num_batches).tolist()
        else:
            indices = range(self.num_batches)
        dataset = self.dataset
        return (dataset[i] for i in indices)

    def on_epoch_begin(self):
        hook = getattr(self.dataset, "on_epoch_begin", None)
        if hook is not None:
            hook()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


class IteratorAdapter(_Adapter):
    """A one-shot iterator (a generator, `iter(...)`): every pass continues where the last one
    stopped; once it is used up there is no more data."""

    one_shot, endless, checked = True, False, False
    num_batches = None

    def __init__(self, iterator):
        self.iterator = iterator

    def new_pass(self):
        return self.iterator


class IterableAdapter(_Adapter):
    """A source read afresh each pass by iter(): a tf.data.Dataset (its cardinality gives the
    batch count; an infinite one is endless), or any iterable of batches (its len() if it has one)."""

    one_shot, checked = False, False

    def __init__(self, iterable):
        self.iterable = iterable
        self.endless = False
        if is_tf_dataset(iterable):
            cardinality = int(iterable.cardinality())
            self.endless = cardinality == -1   # tf.data.INFINITE_CARDINALITY
            self.num_batches = cardinality if cardinality >= 0 else None
        else:
            try:
                self.num_batches = int(len(iterable))
            except TypeError:
                self.num_batches = None

    def new_pass(self):
        return iter(self.iterable)


def adapter_for(x, shuffle, what):
    """The adapter for data that is not arrays; TypeError naming `what` for anything else."""
    if is_tf_dataset(x):
        return IterableAdapter(x)
    if is_py_dataset(x):
        return PyDatasetAdapter(x, shuffle)
    if hasattr(x, "__next__") and hasattr(x, "__iter__") and iter(x) is x:
        return IteratorAdapter(x)
    if hasattr(x, "__iter__"):
        return IterableAdapter(x)
    raise TypeError(f"{what} must be arrays (a NumPy array, or a list or dict of them), a "
                    f"PyDataset, a generator or iterable of batches, or a tf.data.Dataset; got "
                    f"{type(x).__name__}")


class EpochIterator:
    """Draws each epoch's batches from an adapter, as Keras's EpochIterator.

    Without `steps` an epoch is a whole pass: a fresh one each epoch for data that can be read
    again, the rest of the iterator for a one-shot source. With `steps`, an epoch takes that many
    batches and the next epoch goes on with the same pass; a pass of known length that is spent
    before `steps` ends the epoch early with Keras's warning, and the next epoch starts a new
    pass. A one-shot source that has run out ends training: `prepare()` warns and returns False.

    `check(raw, step, epoch)` turns what the source yields into (x, y, sample_weights, size),
    raising for a bad batch; batches sliced from checked arrays skip it.
    """

    def __init__(self, adapter, steps, check, what):
        if adapter.endless and steps is None:
            raise ValueError(f"{what} is endless (it has no number of batches); give "
                             f"{'steps_per_epoch' if what.startswith('fit') else 'steps'} to say "
                             f"how many batches make an epoch")
        self.adapter, self.steps, self.what = adapter, steps, what
        self.check = None if adapter.checked else check
        self._pass, self._seen = None, 0   # the current pass and the batches read from it
        self._pending = None               # the epoch's first batch, read ahead by prepare()
        self._prepared = self._dry = False
        self._epoch = 0                    # epochs begun, for messages

    @property
    def num_batches(self):
        """Batches per epoch, None when unknown (a generator without steps)."""
        return self.steps if self.steps is not None else self.adapter.num_batches

    def prepare(self):
        """Ready the coming epoch by reading (and checking) its first batch now. Returns False,
        after warning, when a one-shot source has no data left; a source whose first pass is
        empty is refused."""
        if self._prepared:
            return True
        if self._dry:
            return False
        self.adapter.on_epoch_begin()
        fresh = self._pass is None or (self.steps is None and not self.adapter.one_shot)
        if fresh:
            self._pass, self._seen = iter(self.adapter.new_pass()), 0
        self._pending = self._read(0)
        if self._pending is None:
            if self._epoch == 0 and (fresh or self.adapter.one_shot):
                raise ValueError(f"{self.what} yielded no batches; it needs at least one")
            warnings.warn(RAN_OUT if self.what.startswith("fit") else
                          f"{self.what} ran out of data: it has no batches left", stacklevel=3)
            self._dry = True
            return False
        self._prepared = True
        return True

    def batches(self):
        """(step, batch) for one epoch; call finish_epoch() after it, also after a break."""
        if not self.prepare():
            return
        self._prepared = False
        batch, self._pending = self._pending, None
        limit, known = self.num_batches, self.adapter.num_batches
        step = 0
        while True:
            yield step, batch
            step += 1
            if limit is not None and step >= limit:
                return
            if known is not None and self._seen >= known:  # the pass is spent before `steps`
                warnings.warn(RAN_OUT, stacklevel=2)
                return
            batch = self._read(step)
            if batch is None:
                if self.steps is not None:
                    warnings.warn(RAN_OUT, stacklevel=2)
                    self._dry = self.adapter.one_shot
                self._pass = None if not self.adapter.one_shot else self._pass
                return

    def finish_epoch(self):
        known = self.adapter.num_batches
        if known is not None and self._seen >= known:
            self._pass = None  # the next epoch starts a new pass
        self._prepared, self._pending = False, None
        self._epoch += 1
        self.adapter.on_epoch_end()

    def _read(self, step):
        try:
            raw = next(self._pass)
        except StopIteration:
            return None
        self._seen += 1
        return raw if self.check is None else self.check(raw, step, self._epoch)
