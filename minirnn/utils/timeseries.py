"""timeseries_dataset_from_array: sliding windows over a timeseries, in batches
(keras.utils.timeseries_dataset_from_array).

Window i starts at data[start_index + p_i] with p_i = i * sequence_stride and takes
sequence_length timesteps spaced sampling_rate apart; its target is targets[start_index + p_i].
With shuffle=True the window starts are first permuted with np.random.RandomState(seed), exactly
as Keras does, then shuffled again within a buffer of 8 * batch_size windows at each pass (Keras's
tf.data shuffle; see ArrayDataset for what can and cannot match TensorFlow's order).
"""
import numpy as np

from ..checks import check_bool, check_int, positive_int
from .dataset import ArrayDataset, as_tf_array

__all__ = ["timeseries_dataset_from_array"]

_WHAT = "timeseries_dataset_from_array"
_MAX_SEED = 2 ** 32 - 1  # np.random.RandomState's range


def _series(value, name):
    array = as_tf_array(value, f"{_WHAT}: {name}")
    if array.ndim == 0:
        raise ValueError(f"{_WHAT}: {name} must have a time axis (axis 0); got a scalar {value!r}")
    return array


def _check_bounds(start_index, end_index, length):
    """Keras's rules: 0 <= start_index < len(data), 0 < end_index < len(data), start < end."""
    if start_index is not None:
        start_index = check_int(start_index, f"{_WHAT}: start_index", minimum=0)
        if start_index >= length:
            raise ValueError(f"{_WHAT}: start_index must be lower than the length of data "
                             f"({length}); got {start_index}")
    if end_index is not None:
        end_index = check_int(end_index, f"{_WHAT}: end_index", minimum=1)
        if end_index >= length:
            raise ValueError(f"{_WHAT}: end_index must be lower than the length of data ({length}); "
                             f"got {end_index}")
        if start_index and end_index <= start_index:
            raise ValueError(f"{_WHAT}: end_index must be higher than start_index ({start_index}); "
                             f"got {end_index}")
    return start_index or 0, length if end_index is None else end_index


def _check_period(value, name, length):
    value = positive_int(value, f"{_WHAT}: {name}")
    if value >= length:
        raise ValueError(f"{_WHAT}: {name} must be lower than the length of data ({length}); "
                         f"got {value}")
    return value


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None,
                                  end_index=None):
    """An ArrayDataset of windows over `data`: batches of shape (batch, sequence_length, ...),
    paired with their targets as `(x, y)` unless `targets` is None.

    data: array (or list) whose axis 0 is time. targets: array with targets[i] the target of the
    window starting at data[i], or None. batch_size=None yields single windows. start_index and
    end_index (exclusive) restrict the timesteps windows may use.
    """
    data = _series(data, "data")
    if targets is not None:
        targets = _series(targets, "targets")
    length = len(data)
    start, end = _check_bounds(start_index, end_index, length)
    sequence_length = positive_int(sequence_length, f"{_WHAT}: sequence_length")
    sampling_rate = _check_period(sampling_rate, "sampling_rate", length)
    sequence_stride = _check_period(sequence_stride, "sequence_stride", length)
    if batch_size is not None:
        batch_size = positive_int(batch_size, f"{_WHAT}: batch_size")
    shuffle = check_bool(shuffle, f"{_WHAT}: shuffle")
    if seed is not None:
        seed = check_int(seed, f"{_WHAT}: seed", minimum=0)
        if seed > _MAX_SEED:
            raise ValueError(f"{_WHAT}: seed must be an int in [0, 2**32); got {seed}")

    span = (sequence_length - 1) * sampling_rate + 1
    num_windows = end - start - span + 1
    if num_windows <= 0:
        raise ValueError(f"{_WHAT}: no window fits: sequence_length={sequence_length} with "
                         f"sampling_rate={sampling_rate} spans {span} timesteps, but data from "
                         f"index {start} to {end} holds {end - start}")
    if targets is not None:
        if len(targets) == 0:
            raise ValueError(f"{_WHAT}: targets is empty; pass targets=None for windows alone")
        num_windows = min(num_windows, len(targets))
    starts = np.arange(0, num_windows, sequence_stride)
    if targets is not None and start + starts[-1] >= len(targets):
        raise ValueError(f"{_WHAT}: targets has {len(targets)} entries but the last window starts "
                         f"at index {start + starts[-1]}, which needs a target")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)  # as Keras: drawn from NumPy's global generator
        np.random.RandomState(seed).shuffle(starts)

    steps = np.arange(sequence_length) * sampling_rate
    window_data = data[start:end]
    window_targets = None if targets is None else targets[start:end]

    def gather(indices):
        window_starts = starts[indices]
        windows = window_data[window_starts[:, None] + steps]
        if window_targets is None:
            return windows
        return windows, window_targets[window_starts]

    buffer_size = None
    if shuffle:
        buffer_size = 1024 if batch_size is None else 8 * batch_size
    return ArrayDataset(gather, len(starts), batch_size=batch_size, shuffle_buffer_size=buffer_size,
                        seed=seed)
