"""ArrayDataset: numbered elements served in batches, one pass per epoch (what tf.data gives Keras).

The utilities that return a `tf.data.Dataset` in Keras (timeseries_dataset_from_array,
text_dataset_from_directory) return an ArrayDataset here. Each element is numbered 0..n-1; a
`gather(indices)` function turns an array of numbers into a batch (an array, or a tuple of arrays,
whose first axis runs over `indices`), so a whole batch is one fancy-indexing step.

Shuffling follows `tf.data.Dataset.shuffle(buffer_size, seed)` with its default
reshuffle_each_iteration=True: a buffer of `buffer_size` elements is filled in order, each output
is drawn at random from the buffer and its place taken by the next element. Each pass over the
dataset (each `for` loop, each epoch) draws a new order from a generator seeded once, so a seeded
dataset repeats the same sequence of orders from run to run. The orders are not TensorFlow's (its
generator differs); the elements of every pass are the same.

Iterating gives EagerArrays: NumPy arrays that also answer `.numpy()`, as the eager tensors a
tf.data pass yields do, so `for x, y in dataset: x.numpy()` runs as written for TensorFlow.
`map(fn)` runs `fn` in Python on each element (each batch, once batched), as tf.data's map
traces it; `prefetch` and `cache` change nothing here and return the dataset.
"""
import math

import numpy as np

from ..checks import check_int, positive_int

__all__ = ["ArrayDataset", "EagerArray", "buffer_shuffle_order"]


def buffer_shuffle_order(num_elements, buffer_size, rng):
    """The order in which a shuffle buffer of `buffer_size` emits elements 0..num_elements-1."""
    order = np.empty(num_elements, dtype=np.int64)
    buffer = list(range(min(buffer_size, num_elements)))
    next_element = len(buffer)
    draws = rng.random(num_elements)
    for k in range(num_elements):
        slot = int(draws[k] * len(buffer))
        order[k] = buffer[slot]
        if next_element < num_elements:  # the next input takes the emitted element's place
            buffer[slot] = next_element
            next_element += 1
        else:
            buffer[slot] = buffer[-1]
            buffer.pop()
    return order


class EagerArray(np.ndarray):
    """A NumPy array with `.numpy()`, the method by which TensorFlow code reads an eager tensor."""

    def numpy(self):
        """This array as a plain np.ndarray (no copy)."""
        return self.view(np.ndarray)


def _as_array(value):
    """A plain ndarray for an array, a minirnn Tensor or anything np.asarray takes."""
    if isinstance(value, np.ndarray):
        return value.view(np.ndarray)
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def _map_item(item, function):
    """`function` on one item (a tuple item is spread over its arguments, as tf.data does);
    its result as arrays (a tuple of them for a tuple result)."""
    result = function(*item) if isinstance(item, tuple) else function(item)
    if isinstance(result, (tuple, list)):
        return tuple(_as_array(part) for part in result)
    return _as_array(result)


def _stack_items(items):
    """The batch (an array, or a tuple of arrays) whose rows are `items`."""
    if isinstance(items[0], tuple):
        return tuple(np.stack([item[k] for item in items]) for k in range(len(items[0])))
    return np.stack(items)


def _eager(item):
    """`item` (an array or a tuple of arrays) as EagerArrays."""
    if isinstance(item, tuple):
        return tuple(np.asarray(part).view(EagerArray) for part in item)
    return np.asarray(item).view(EagerArray)


def _first(batch):
    """The single element of a batch of one."""
    if isinstance(batch, tuple):
        return tuple(part[0] for part in batch)
    return batch[0]


class ArrayDataset:
    """An iterable over batches (or single elements, when batch_size is None), re-iterable each epoch.

    len(dataset) is the number of items one pass yields. `take(n)`, `unbatch()`, `batch(n)` and
    `as_numpy_iterator()` behave as tf.data's methods of those names; items are NumPy arrays (a
    tuple `(x, y)` when the dataset has targets or labels).
    """

    def __init__(self, gather, num_elements, batch_size=None, shuffle_buffer_size=None, seed=None,
                 max_elements=None):
        self._gather = gather
        self._num_elements = check_int(num_elements, "ArrayDataset: num_elements", minimum=0)
        self._batch_size = None if batch_size is None else positive_int(batch_size,
                                                                        "ArrayDataset: batch_size")
        self._shuffle_buffer_size = shuffle_buffer_size
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._max_elements = self._num_elements if max_elements is None else max_elements

    def _derive(self, **changes):
        arguments = dict(gather=self._gather, num_elements=self._num_elements,
                         batch_size=self._batch_size, shuffle_buffer_size=self._shuffle_buffer_size,
                         seed=self._seed, max_elements=self._max_elements)
        arguments.update(changes)
        return ArrayDataset(**arguments)

    @property
    def batch_size(self):
        """Elements per batch (the last batch may be smaller); None when elements come one by one."""
        return self._batch_size

    @property
    def num_elements(self):
        """How many elements one pass yields (over all its batches)."""
        return min(self._num_elements, self._max_elements)

    def __len__(self):
        if self._batch_size is None:
            return self.num_elements
        return math.ceil(self.num_elements / self._batch_size)

    def _epoch_order(self):
        if self._shuffle_buffer_size:
            order = buffer_shuffle_order(self._num_elements, self._shuffle_buffer_size, self._rng)
        else:
            order = np.arange(self._num_elements)
        return order[:self.num_elements]

    def _items(self):
        order = self._epoch_order()
        if self._batch_size is None:
            for element in order:
                yield _first(self._gather(np.array([element])))
            return
        for start in range(0, len(order), self._batch_size):
            yield self._gather(order[start:start + self._batch_size])

    def __iter__(self):
        return (_eager(item) for item in self._items())

    def as_numpy_iterator(self):
        """An iterator over the items as plain NumPy arrays, as tf.data's method of that name."""
        return self._items()

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """A dataset whose items are `map_func(item)` (`map_func(*item)` for a tuple item).

        On a batched dataset `map_func` sees whole batches, as in tf.data; a later unbatch/batch
        regroups its rows, which equals tf.data's result for a `map_func` that treats rows alone.
        num_parallel_calls, deterministic and name are accepted for tf.data's signature.
        """
        if not callable(map_func):
            raise TypeError(f"ArrayDataset.map: map_func must be callable; got "
                            f"{type(map_func).__name__}")
        gather = self._gather
        if self._batch_size is None:
            def mapped(indices):
                return _stack_items([_map_item(_first(gather(np.array([i]))), map_func)
                                     for i in indices])
        else:
            def mapped(indices):
                return _map_item(gather(indices), map_func)
        return self._derive(gather=mapped)

    def prefetch(self, buffer_size=None, name=None):
        """The same dataset: batches are gathered when asked for, so there is nothing to fetch ahead."""
        return self

    def cache(self, filename="", name=None):
        """The same dataset: its elements are already held in memory."""
        return self

    def take(self, count):
        """A dataset of the first `count` items of each pass (all of them for count=-1)."""
        count = check_int(count, "ArrayDataset.take: count", minimum=-1)
        if count == -1:
            return self._derive()
        per_item = 1 if self._batch_size is None else self._batch_size
        return self._derive(max_elements=min(self._max_elements, count * per_item))

    def unbatch(self):
        """The same elements, one at a time, in the same order as the batches hold them."""
        if self._batch_size is None:
            raise ValueError("ArrayDataset.unbatch: the dataset already yields single elements "
                             "(batch_size=None)")
        return self._derive(batch_size=None)

    def batch(self, batch_size):
        """The elements of a dataset of single elements, grouped in batches of `batch_size`."""
        batch_size = positive_int(batch_size, "ArrayDataset.batch: batch_size")
        if self._batch_size is not None:
            raise ValueError(f"ArrayDataset.batch: the dataset already yields batches of "
                             f"{self._batch_size}; call unbatch() first")
        return self._derive(batch_size=batch_size)

    def __repr__(self):
        shuffle = f", shuffle_buffer_size={self._shuffle_buffer_size}" if self._shuffle_buffer_size else ""
        return (f"ArrayDataset(num_elements={self.num_elements}, batch_size={self._batch_size}"
                f"{shuffle}, batches={len(self)})")



def as_tf_array(value, name):
    """`value` as an array, with the dtypes TensorFlow gives it (Keras hands arrays to tf.data).

    NumPy arrays keep their dtype. Python lists convert as TensorFlow converts them: floats to
    float32, integers to int32 (int64 when they do not fit).
    """
    if isinstance(value, np.ndarray):
        return value
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name} must be an array or a list of equal-shaped rows; got "
                         f"{type(value).__name__} that is not one ({error})") from None
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    elif array.dtype == np.int64:
        limits = np.iinfo(np.int32)
        if array.size == 0 or (limits.min <= array.min() and array.max() <= limits.max):
            array = array.astype(np.int32)
    return array
